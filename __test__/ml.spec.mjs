// Neural inference through the JS API and the CLI, on the real ONNX Runtime
// (from onnxruntime-node) and the real GTCRN model; HTDemucs on the small
// fixture model whose PyTorch parity the Rust tests check.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, tempDir, cli, readAll, maxAbsDiff, writeWav, wavDataBytes, abortAtFirstProgress } from './helpers.mjs'

const { SpeechEnhancer, Separator, siSdr, snr, correlation, SeparationMetrics } = lib
// The repo's copies of shared/models/gtcrn: mix.wav is assets/noisy_speech.wav.
const gtcrnMix = asset('noisy_speech.wav')
const gtcrnRef = join(root, 'crates/ml/tests/fixtures/gtcrn/enh.wav')
const tinyHtdemucs = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
const run = (args, env = {}) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } })

test('metrics on closed-form cases', (t) => {
  const n = 48000
  const ref = new Float32Array(n).map((_, i) => Math.sin(i * 0.01) + 0.3 * Math.sin(i * 0.173))
  t.true(siSdr(ref.map((v) => 0.5 * v), ref) > 100)
  let s = 1
  const noise = new Float32Array(n).map(() => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5))
  let pr = 0
  let pn = 0
  for (let i = 0; i < n; i++) {
    pr += ref[i] * ref[i]
    pn += noise[i] * noise[i]
  }
  const k = Math.sqrt(pr / pn / 10 ** (20 / 10)) // noise 20 dB below the reference
  const noisy = ref.map((v, i) => v + k * noise[i])
  t.true(Math.abs(snr(noisy, ref) - 20) < 0.1, `${snr(noisy, ref)}`)
  t.true(correlation(noisy, ref) > 0.99)
  const m = SeparationMetrics.compute(noisy, ref)
  t.deepEqual(Object.keys(m).sort(), ['correlation', 'sdr', 'siSdr', 'snr'])
  t.throws(() => siSdr(new Float32Array(3), new Float32Array(4)), { code: 'ERR_SHAPE' })
})

test('enhance: the built-in GTCRN reproduces the reference enh.wav', async (t) => {
  const out = join(tempDir(), 'enh.wav')
  const r = run(['enhance', gtcrnMix, out, '--json'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.is(j.sampleRate, 16000)
  const [ours, ref, mix] = await Promise.all([readAll(out), readAll(gtcrnRef), readAll(gtcrnMix)])
  t.is(ours.channels[0].length, mix.channels[0].length, 'same length as the input')
  const n = Math.min(ours.channels[0].length, ref.channels[0].length)
  const a = ours.channels[0].subarray(0, n)
  const b = ref.channels[0].subarray(0, n)
  const score = siSdr(a, b)
  const err = maxAbsDiff(a, b)
  t.log(`SI-SDR vs enh.wav ${score.toFixed(1)} dB, max abs error ${err.toExponential(2)}`)
  t.true(score >= 60, `${score}`)
  t.true(err <= 1e-3 + 2 / 32768, `${err}`)
})

test('enhance from JS at another sample rate keeps length and improves a noisy mixture', async (t) => {
  const speech = (await readAll(asset('speech.wav'))).channels[0]
  let s = 9
  const noise = speech.map(() => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5))
  let ps = 0
  let pn = 0
  for (let i = 0; i < speech.length; i++) {
    ps += speech[i] * speech[i]
    pn += noise[i] * noise[i]
  }
  const mix = speech.map((v, i) => v + Math.sqrt(ps / pn) * noise[i]) // 0 dB SNR white noise
  const [enhanced] = await new SpeechEnhancer({ threads: 1 }).enhance([mix], 16000)
  t.is(enhanced.length, mix.length)
  const before = siSdr(mix, speech)
  const after = siSdr(enhanced, speech)
  t.log(`SI-SDR ${before.toFixed(2)} -> ${after.toFixed(2)} dB`)
  t.true(after - before >= 7)
})

test('separate: four stems from the fixture HTDemucs model, same length as the input', async (t) => {
  t.true(existsSync(tinyHtdemucs))
  const dir = tempDir()
  const r = run(['separate', asset('music.wav'), '--model', tinyHtdemucs, '--out', dir, '--json'])
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.deepEqual(Object.keys(j).sort(), ['processingTimeS', 'realtimeFactor', 'stems', 'stopped', 'timeToFirstAudioS'])
  t.false(j.stopped)
  t.deepEqual(j.stems.map((p) => p.split('/').pop()), ['drums.wav', 'bass.wav', 'other.wav', 'vocals.wav'])
  const input = await readAll(asset('music.wav'))
  const stems = await Promise.all(j.stems.map(readAll))
  for (const s of stems) t.is(s.channels[0].length, input.channels[0].length)
  t.true(j.timeToFirstAudioS > 0 && j.timeToFirstAudioS <= j.processingTimeS)
  const progress = []
  const api = await new Separator({ model: tinyHtdemucs }).separateFile(asset('music.wav'), { outDir: join(dir, 'api'), stems: ['vocals'], onProgress: (f) => progress.push(f) })
  t.deepEqual(api.stemNames, ['vocals'])
  t.is(progress.at(-1), 1)
  const again = await readAll(api.stems[0])
  t.is(maxAbsDiff(again.channels[0], stems[3].channels[0]), 0)
})

test('inference errors are typed: missing model, missing runtime, wrong stem', async (t) => {
  const missing = run(['enhance', asset('speech.wav'), join(tempDir(), 'o.wav'), '--model', '/nonexistent/model.onnx'])
  t.not(missing.status, 0)
  t.regex(missing.stderr, /^resonode: ERR_NOT_FOUND: .*model\.onnx/)
  const noRuntime = run(['enhance', asset('speech.wav'), join(tempDir(), 'o.wav')], { ORT_DYLIB_PATH: '/nonexistent/libonnxruntime.so.1' })
  t.not(noRuntime.status, 0)
  t.regex(noRuntime.stderr, /^resonode: ERR_RUNTIME_NOT_FOUND: .*\/nonexistent\/libonnxruntime\.so\.1/)
  await t.throwsAsync(new Separator({ model: tinyHtdemucs }).separateFile(asset('music.wav'), { outDir: tempDir(), stems: ['kazoo'] }), { code: 'ERR_INVALID_PARAMETER' })
  const notOnnx = run(['separate', asset('music.wav'), '--model', asset('music.wav'), '--out', tempDir()])
  t.not(notOnnx.status, 0)
  t.regex(notOnnx.stderr, /^resonode: ERR_MODEL/)
})

test('enhanceFile aborted through its AbortSignal rejects with AbortError carrying the result so far, and a finalised file of the frames reported', async (t) => {
  const dir = tempDir()
  // Two minutes of noisy speech (float WAV, so the output is float too).
  const speech = (await readAll(asset('speech.wav'))).channels[0]
  const x = new Float32Array(120 * 16000)
  let s = 5
  for (let i = 0; i < x.length; i++) x[i] = speech[i % speech.length] + 0.05 * ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5)
  const input = writeWav(join(dir, 'long.wav'), [x], 16000, { float: true })
  const enhancer = new SpeechEnhancer({ threads: 1 })

  // Already aborted: rejects at once; no file.
  const empty = join(dir, 'empty.wav')
  await t.throwsAsync(enhancer.enhanceFile(input, empty, { signal: AbortSignal.abort() }), { name: 'AbortError', code: 'ERR_ABORTED' })
  t.false(existsSync(empty))

  // Aborted at the first progress above 0: the enhancement of what was read, time-aligned.
  const out = join(dir, 'stopped.wav')
  const { stats: r, fractions } = await abortAtFirstProgress(t, (opts) => enhancer.enhanceFile(input, out, opts))
  t.log(`stopped after ${r.framesProcessed} of ${x.length} frames, ${r.processingTimeS.toFixed(3)} s; progress ${fractions.map((f) => f.toFixed(2)).join(' ')}`)
  t.true(r.stopped)
  t.not(fractions.at(-1), 1)
  t.true(r.framesProcessed > 0 && r.framesProcessed < x.length, `${r.framesProcessed}`)
  t.is(wavDataBytes(t, out), r.framesProcessed * 4)
  const file = (await readAll(out)).channels[0]
  t.is(file.length, r.framesProcessed)
  const [prefix] = await enhancer.enhance([x.subarray(0, r.framesProcessed)], 16000)
  t.is(maxAbsDiff(file, prefix), 0, 'the file is the enhancement of the prefix read')

  // Not aborted: the whole file, stopped false, progress ending at 1.
  const done = []
  const whole = await enhancer.enhanceFile(asset('noisy_speech.wav'), join(dir, 'whole.wav'), { signal: new AbortController().signal, onProgress: (f) => done.push(f) })
  t.false(whole.stopped)
  t.is(whole.framesProcessed, 156302)
  t.is(done.at(-1), 1)
})
