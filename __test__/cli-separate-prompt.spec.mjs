// Issue 17: `resonode separate <in> --prompt <text> --model-dir <dir>`
// (SAM-Audio) beside the HTDemucs `--model` form: the files and the JSON it
// writes, the short and long paths, `--anchor` parsing and its errors, and
// the exclusivity of `--model` and `--model-dir`.
import test from 'ava'
import { join, resolve } from 'node:path'
import { lib, root, asset, tempDir, readAll, runCli, writeWav } from './helpers.mjs'

const modelDir = join(root, 'models/sam-audio-tiny')
const htdemucs = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
const frames48k = async (file, rate) => Math.round(((await readAll(asset(file))).channels[0].length * 48000) / rate)

test('separate --prompt --model-dir --json writes target.wav and residual.wav (48 kHz mono, input length) and the documented fields', async (t) => {
  const dir = join(tempDir(), 'out')
  const r = await runCli(['separate', asset('speech.wav'), '--prompt', 'speech', '--model-dir', modelDir, '--out', dir, '--steps', '4', '--seed', '5', '--threads', '1', '--json'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.deepEqual(Object.keys(j).sort(), ['durationS', 'method', 'path', 'peakMemoryBytes', 'processingTimeS', 'realtimeFactor', 'residual', 'sampleRate', 'seed', 'stepSize', 'steps', 'target'])
  t.is(j.target, resolve(dir, 'target.wav'))
  t.is(j.residual, resolve(dir, 'residual.wav'))
  t.is(j.sampleRate, 48000)
  t.is(j.method, 'midpoint')
  t.is(j.steps, 4)
  t.is(j.stepSize, 0.25)
  t.is(j.seed, 5)
  t.is(j.path, 'short')
  t.true(Math.abs(j.durationS - 5.3) < 0.01)
  t.true(j.peakMemoryBytes > 0 && j.processingTimeS > 0 && j.realtimeFactor > 0)
  const frames = await frames48k('speech.wav', 16000)
  const target = await readAll(j.target)
  const residual = await readAll(j.residual)
  for (const w of [target, residual]) {
    t.is(w.sampleRate, 48000)
    t.is(w.channels.length, 1)
    t.is(w.channels[0].length, frames)
  }
  // The same run through the API: identical samples (float WAV).
  const api = await new lib.PromptSeparator({ modelDir, threads: 1 }).separate(asset('speech.wav'), { description: 'speech', ode: { stepSize: 1 / 4 }, seed: 5 })
  t.deepEqual(target.channels[0], api.target)
})

test('separate --prompt: --anchor (repeatable, +start:end / -start:end) conditions the run; --method euler', async (t) => {
  const dir = join(tempDir(), 'anchored')
  const args = ['separate', asset('speech.wav'), '--prompt', 'speech', '--model-dir', modelDir, '--steps', '2', '--method', 'euler', '--seed', '1', '--threads', '1', '--json']
  const plain = await runCli([...args, '--out', join(dir, 'plain')])
  t.is(plain.status, 0, plain.stderr)
  const r = await runCli([...args, '--out', dir, '--anchor', '+1.5:3.0', '--anchor=-4:5'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.is(j.method, 'euler')
  t.is(j.path, 'short')
  const a = (await readAll(j.target)).channels[0]
  const b = (await readAll(JSON.parse(plain.stdout).target)).channels[0]
  t.is(a.length, b.length)
  t.notDeepEqual(a, b)
})

test('separate --prompt on input longer than 30 s takes the long path (separateLong into the files)', async (t) => {
  // 36 s: assets/music.wav three times.
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  const long = channels.map((c) => {
    const x = new Float32Array(c.length * 3)
    for (let k = 0; k < 3; k++) x.set(c, k * c.length)
    return x
  })
  const dir = tempDir()
  const input = writeWav(join(dir, 'long.wav'), long, sampleRate)
  const r = await runCli(['separate', input, '--prompt', 'drums', '--model-dir', modelDir, '--out', join(dir, 'out'), '--steps', '2', '--method', 'euler', '--chunk-seconds', '10', '--overlap-seconds', '2', '--threads', '1', '--json'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.is(j.path, 'long')
  t.is(j.seed, 42)
  const frames = Math.round((long[0].length * 48000) / sampleRate)
  t.is((await readAll(j.target)).channels[0].length, frames)
  t.is((await readAll(j.residual)).channels[0].length, frames)
})

test('--steps 93 runs exactly 93 steps (1/93 alone would give floor(1/(1/93)) = 92)', async (t) => {
  t.is(Math.floor(1 / (1 / 93)), 92) // the trap
  const dir = tempDir()
  const input = writeWav(join(dir, 'one.wav'), [Float32Array.from({ length: 48000 }, (_, i) => Math.sin(i / 30) * 0.3)], 48000, { float: true })
  const r = await runCli(['separate', input, '--prompt', 'tone', '--model-dir', modelDir, '--out', join(dir, 'out'), '--steps', '93', '--method', 'euler', '--seed', '4', '--threads', '1', '--json'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.is(j.steps, 93)
  t.is(Math.floor(1 / j.stepSize), 93)
  t.true(Math.abs(j.stepSize - 1 / 93) < 1e-15)
  // The files are the API's run with that step size (93 steps), not with 1/93 (92 steps).
  const got = (await readAll(j.target)).channels[0]
  const s = new lib.PromptSeparator({ modelDir, threads: 1 })
  const exact = await s.separate(input, { description: 'tone', ode: { method: 'euler', stepSize: j.stepSize }, seed: 4 })
  t.deepEqual(got, exact.target)
  const naive = await s.separate(input, { description: 'tone', ode: { method: 'euler', stepSize: 1 / 93 }, seed: 4 })
  t.notDeepEqual(got, naive.target)
})

test('--anchor parsing errors are usage errors naming the option', async (t) => {
  for (const bad of ['1.5:3', '+1.5', '+a:b', '+1:2:3', '*1:2', '+:2']) {
    const r = await runCli(['separate', asset('speech.wav'), '--prompt', 'x', '--model-dir', modelDir, '--out', tempDir(), `--anchor=${bad}`])
    t.is(r.status, 2, `${bad}: ${r.stderr}`)
    t.regex(r.stderr, /^resonode: ERR_USAGE: .*--anchor/m, bad)
  }
  // Well-formed, but outside the audio (5.3 s): the API's typed error.
  const r = await runCli(['separate', asset('speech.wav'), '--prompt', 'x', '--model-dir', modelDir, '--out', tempDir(), '--anchor', '+5:9'])
  t.is(r.status, 1, r.stderr)
  t.regex(r.stderr, /^resonode: ERR_INVALID_PARAMETER: /)
  // Contradictory.
  const c = await runCli(['separate', asset('speech.wav'), '--prompt', 'x', '--model-dir', modelDir, '--out', tempDir(), '--anchor', '+1:3', '--anchor=-2:4'])
  t.is(c.status, 1, c.stderr)
  t.regex(c.stderr, /^resonode: ERR_INVALID_PARAMETER: /)
})

test('--model and --model-dir are exclusive; --prompt needs --model-dir; family options are refused with the other model', async (t) => {
  const cases = [
    [['separate', asset('speech.wav')], /exactly one of --model .* or --model-dir/],
    [['separate', asset('speech.wav'), '--model', htdemucs, '--model-dir', modelDir, '--prompt', 'x'], /exactly one of --model/],
    [['separate', asset('speech.wav'), '--model', htdemucs, '--prompt', 'x'], /--prompt requires --model-dir/],
    [['separate', asset('speech.wav'), '--model-dir', modelDir], /--model-dir needs --prompt/],
    [['separate', asset('speech.wav'), '--model-dir', modelDir, '--prompt', 'x', '--stems', 'vocals'], /--stems is for --model/],
    [['separate', asset('speech.wav'), '--model', htdemucs, '--steps', '8'], /--steps is for --model-dir/],
    [['separate', asset('speech.wav'), '--model-dir', modelDir, '--prompt', 'x', '--steps', '1'], /--steps must be a whole number >= 2/],
    [['separate', asset('speech.wav'), '--model-dir', modelDir, '--prompt', 'x', '--seed', '-3'], /--seed must be a whole number >= 0/],
  ]
  for (const [args, re] of cases) {
    const r = await runCli(args)
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    t.regex(r.stderr, /^resonode: ERR_USAGE: /m)
    t.regex(r.stderr, re)
  }
  // --method is a commander choice: a usage error listing the choices.
  const method = await runCli(['separate', asset('speech.wav'), '--model-dir', modelDir, '--prompt', 'x', '--method', 'rk4', '--out', tempDir()])
  t.is(method.status, 2, method.stderr)
  t.regex(method.stderr, /^resonode: ERR_USAGE: .*--method.*rk4.*euler, midpoint/m)
  const missing = await runCli(['separate', asset('speech.wav'), '--model-dir', join(tempDir(), 'sam-audio-none'), '--prompt', 'x', '--out', tempDir()])
  t.is(missing.status, 1)
  t.regex(missing.stderr, /^resonode: ERR_NOT_FOUND: /)
})
