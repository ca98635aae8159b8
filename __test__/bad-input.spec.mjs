import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { lib, root, asset, tempDir, writeWav, wavBytes, testSignal, readAll, parseWav, cli } from './helpers.mjs'

const { StreamingPipeline, FileSource, FileSink, CallbackSource, CallbackSink, LowPass, HighPass, Gain, Biquad, ResonodeError, parseChain } = lib

async function runFile(input, processors = [], out = join(tempDir(), 'o.wav')) {
  return new StreamingPipeline({ source: new FileSource(input), processors, sink: new FileSink(out) }).run()
}

const dir = tempDir()
const cases = {
  'nonexistent file': [join(dir, 'nope.wav'), 'ERR_NOT_FOUND'],
  'empty file': [(() => (writeFileSync(join(dir, 'empty.wav'), ''), join(dir, 'empty.wav')))(), 'ERR_EMPTY_AUDIO'],
  'random bytes named .wav': [
    (() => {
      let s = 7
      const b = Buffer.alloc(4096).map(() => (s = (s * 1103515245 + 12345) & 0x7fffffff) & 0xff)
      writeFileSync(join(dir, 'random.wav'), b)
      return join(dir, 'random.wav')
    })(),
    'ERR_UNSUPPORTED_FORMAT',
  ],
  'unsupported codec (MS-ADPCM WAV)': [join(root, 'crates/io/tests/fixtures/ms_adpcm.wav'), 'ERR_UNSUPPORTED_FORMAT'],
}

for (const [name, [path, code]] of Object.entries(cases)) {
  test(`bad input: ${name} -> ${code}`, async (t) => {
    const e = await t.throwsAsync(runFile(path), { instanceOf: ResonodeError })
    t.is(e.code, code, e.message)
    t.true(e.message.length > 10)
  })
}

test('bad input: truncated WAV -> every intact frame, and a warning from info', async (t) => {
  const full = wavBytes(testSignal(2, 10000, 8000), 8000)
  const path = join(tempDir(), 'trunc.wav')
  writeFileSync(path, full.subarray(0, 44 + 6000 * 4 + 3))
  const out = join(tempDir(), 'o.wav')
  const stats = await runFile(path, [new Gain({ db: 0 })], out)
  t.is(stats.framesProcessed, 6000)
  t.deepEqual(stats.warnings, ['the header declares 10000 frames but only 6000 could be decoded'])
  const i = await lib.info(path)
  t.is(i.frames, 6000)
  t.is(i.declaredFrames, 10000)
  t.deepEqual(i.warnings, ['the header declares 10000 frames but only 6000 could be decoded'])
  const { channels } = await readAll(out)
  t.is(channels[0].length, 6000)
  // The intact frames, sample for sample (16-bit in, the source's encoding out).
  const src = parseWav(full).channels
  for (let c = 0; c < 2; c++) t.true(channels[c].every((v, i) => v === src[c][i]), `channel ${c}`)
})

test('bad input: NaN and Inf samples -> ERR_NON_FINITE_SAMPLE naming the frame; earlier output kept', async (t) => {
  const sig = testSignal(1, 100000, 8000)
  sig[0][70000] = NaN
  const path = writeWav(join(tempDir(), 'nan.wav'), sig, 8000, { float: true })
  const out = join(tempDir(), 'o.wav')
  const e = await t.throwsAsync(new StreamingPipeline({ source: new FileSource(path), sink: new FileSink(out), chunkSize: 10000 }).run(), { code: 'ERR_NON_FINITE_SAMPLE' })
  t.regex(e.message, /frame 70000/)
  t.is((await readAll(out)).channels[0].length, 70000)
  const inf = [new Float32Array([0, Infinity])]
  await t.throwsAsync(new StreamingPipeline({ source: new CallbackSource([inf], { sampleRate: 8000 }), processors: [new Gain({ db: 0 })], sink: new CallbackSink(() => {}) }).run(), { code: 'ERR_NON_FINITE_SAMPLE' })
})

test('bad input: zero channels or zero frames -> ERR_EMPTY_AUDIO', async (t) => {
  const path = writeWav(join(tempDir(), 'zero.wav'), [new Float32Array(0)], 8000)
  await t.throwsAsync(runFile(path), { code: 'ERR_EMPTY_AUDIO' })
  await t.throwsAsync(new StreamingPipeline({ source: new CallbackSource([], { sampleRate: 8000 }), sink: new CallbackSink(() => {}) }).run(), { code: 'ERR_EMPTY_AUDIO' })
  await t.throwsAsync(new StreamingPipeline({ source: new CallbackSource([[]], { sampleRate: 8000 }), sink: new CallbackSink(() => {}) }).run(), { code: 'ERR_EMPTY_AUDIO' })
})

test('bad parameters: cutoff <= 0, cutoff >= Nyquist, order 0 -> ERR_INVALID_PARAMETER', async (t) => {
  t.throws(() => new LowPass(0), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new HighPass(-5), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new LowPass(1000, { order: 0 }), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new Biquad('peaking', NaN), { code: 'ERR_INVALID_PARAMETER' })
  // Nyquist is only known once the stream is: 44.1 kHz / 2.
  const e = await t.throwsAsync(runFile(asset('music.wav'), [new LowPass(30000)]), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /cutoff/)
  await t.throwsAsync(runFile(asset('music.wav'), [new LowPass(22050)]), { code: 'ERR_INVALID_PARAMETER' })
})

test('bad chains: unknown element and syntax errors -> ERR_INVALID_CHAIN', (t) => {
  const e = t.throws(() => parseChain('highpass(80) flanger(3)'), { code: 'ERR_INVALID_CHAIN' })
  t.regex(e.message, /flanger/)
  t.throws(() => parseChain('gain(3'), { code: 'ERR_INVALID_CHAIN' })
  t.throws(() => parseChain('lowpass(1000, order=0)'), { code: 'ERR_INVALID_PARAMETER' })
})

test('the process survives a burst of failing jobs', async (t) => {
  for (let i = 0; i < 20; i++) await t.throwsAsync(runFile(join(dir, 'random.wav')))
  t.is((await runFile(asset('speech.wav'))).framesProcessed > 0, true)
})

test('CLI: user mistakes print one line with the code and exit non-zero, never a stack trace', (t) => {
  const run = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
  for (const [args, code] of [
    [['process', join(dir, 'nope.wav'), join(tempDir(), 'o.wav')], 'ERR_NOT_FOUND'],
    [['process', asset('speech.wav'), join(tempDir(), 'o.wav'), '--chain', 'wobble(3)'], 'ERR_INVALID_CHAIN'],
    [['process', asset('speech.wav'), join(tempDir(), 'o.wav'), '--chain', 'lowpass(9000)'], 'ERR_INVALID_PARAMETER'],
    [['info', join(dir, 'random.wav')], 'ERR_UNSUPPORTED_FORMAT'],
  ]) {
    const r = run(...args)
    t.not(r.status, 0)
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr)
    t.true(r.stderr.startsWith(`resonode: ${code}: `), r.stderr)
    t.notRegex(r.stderr, /\bat .*\.js:\d+/)
  }
  const usage = run('process', asset('speech.wav'))
  t.not(usage.status, 0)
  t.notRegex(usage.stderr, /\bat .*\.js:\d+/)
})

