// Sink options of issue 13: FileSink({ sampleRate }) resampling against sox
// on a real recording, stems, stop/failure, SpeakerSink({ sampleRate,
// stemIndex }) on the `none` backend (no audio server), unknown keys.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { lib, asset, root, tempDir, writeWav, readAll, tone } from './helpers.mjs'

const { StreamingPipeline, FileSource, FileSink, MultiFileSink, CallbackSink, CallbackSource, SpeakerSink, JsProcessor } = lib
const probe = (path) => new FileSource(path).info()
const binding = createRequire(import.meta.url)(join(root, 'index.js'))

/** The sinks' frame-count rule: round(n * out / in), halves up. */
const resampledLen = (n, from, to) => Math.floor((2 * n * to + from) / (2 * from))

/** Our resampling against sox's (`sox in -r <rate>`, its default high-quality `rate`). */
function sox(input, out, rate) {
  execFileSync('sox', ['-V1', input, '-e', 'floating-point', '-b', '32', out, 'rate', String(rate)])
  return out
}

/** Band-limits a file to `cutoffHz` with sox's windowed-sinc lowpass (both sides alike). */
async function lowpassed(path, cutoffHz) {
  const out = path.replace(/\.wav$/, `-lp.wav`)
  execFileSync('sox', ['-V1', path, '-e', 'floating-point', '-b', '32', out, 'sinc', `-${cutoffHz}`])
  return (await readAll(out)).channels
}

function snrDb(ours, ref, from = 0, to = Math.min(ours.length, ref.length)) {
  let s = 0
  let e = 0
  for (let i = from; i < to; i++) {
    s += ref[i] * ref[i]
    e += (ours[i] - ref[i]) ** 2
  }
  return 10 * Math.log10(s / e)
}

// Measured here (music.wav and slices of it, 44.1 -> 48 kHz and 48 -> 16
// kHz): rubato's FFT resampler (BlackmanHarris2) and sox's default `rate`
// agree to 90-123 dB SNR once both are band-limited to 0.4 x the lower rate
// (slices that start mid-signal sit at the low end: the resamplers treat
// the abrupt edge differently); a one-frame shift gives 5-10 dB. Over the
// last 2000 frames, where a lost resampler tail would be silence, they
// agree to 53-90 dB. The bounds keep a wide margin and still fail for a
// shift, a wrong rate or a missing tail.
const BAND_SNR_DB = 60
const TAIL_SNR_DB = 35

async function compareWithSox(t, ours, ref, rate, frames) {
  const a = await readAll(ours)
  const b = await readAll(ref)
  t.is(a.sampleRate, rate, 'header rate')
  t.is(a.channels[0].length, frames, 'frame count: round(n * out / in)')
  const cutoff = Math.round(0.4 * Math.min(rate, 44100))
  const al = await lowpassed(ours, cutoff)
  const bl = await lowpassed(ref, cutoff)
  for (let c = 0; c < al.length; c++) {
    const band = snrDb(al[c], bl[c])
    t.true(band > BAND_SNR_DB, `channel ${c}: band-limited SNR ${band.toFixed(1)} dB`)
    const n = Math.min(al[c].length, bl[c].length)
    const tail = snrDb(al[c], bl[c], n - 2000, n)
    t.log(`channel ${c}: band-limited SNR ${band.toFixed(1)} dB, last 2000 frames ${tail.toFixed(1)} dB`)
    t.true(tail > TAIL_SNR_DB, `channel ${c}: tail SNR ${tail.toFixed(1)} dB`)
    // The same comparison shifted by one frame fails: the bound detects it.
    t.true(snrDb(al[c].subarray(1), bl[c]) < BAND_SNR_DB / 2)
  }
}

test('FileSink({ sampleRate: 48000 }) resamples a 44.1 kHz recording like sox (JS-driven pipeline)', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'ours.wav')
  const passthrough = new JsProcessor(() => {})
  await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [passthrough], sink: new FileSink(out, { sampleRate: 48000, encoding: 'float32' }), chunkSize: 5000 }).run()
  await compareWithSox(t, out, sox(asset('music.wav'), join(dir, 'sox.wav'), 48000), 48000, resampledLen(529200, 44100, 48000))
})

test('FileSink({ sampleRate: 16000 }) from 48 kHz, odd lengths in odd chunks (CallbackSource): exact frame count, sox waveform', async (t) => {
  const dir = tempDir()
  const music48 = (await readAll(sox(asset('music.wav'), join(dir, 'music48.wav'), 48000))).channels
  // 96002 frames -> 32000.67 -> 32001; 96001 -> 32000.33 -> 32000.
  for (const n of [96002, 96001]) {
    const input = music48.map((c) => c.slice(48000, 48000 + n))
    const inPath = writeWav(join(dir, `in-${n}.wav`), input, 48000, { float: true })
    const chunks = []
    for (let i = 0, k = 1; i < n; i += 777 * k, k = (k % 5) + 1) chunks.push(input.map((c) => c.slice(i, Math.min(n, i + 777 * k))))
    const out = join(dir, `ours-${n}.wav`)
    await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 48000 }), sink: new FileSink(out, { sampleRate: 16000, encoding: 'float32' }) }).run()
    await compareWithSox(t, out, sox(inPath, join(dir, `sox-${n}.wav`), 16000), 16000, resampledLen(n, 48000, 16000))
  }
  t.is(resampledLen(96002, 48000, 16000), 32001)
  t.is(resampledLen(96001, 48000, 16000), 32000)
})

test('all-native path (FileSource -> FileSink desc): the same resampling and stem, sample for sample', async (t) => {
  const dir = tempDir()
  const js = join(dir, 'js.wav')
  const nat = join(dir, 'native.wav')
  const sink = (p) => new FileSink(p, { sampleRate: 48000, encoding: 'float32' })
  await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [new JsProcessor(() => {})], sink: sink(js) }).run()
  const stats = await binding.runNativePipeline({ source: { kind: 'file', path: asset('music.wav') }, processors: [], sink: sink(nat).desc() }, new binding.PipelineControl())
  t.is(stats.framesProcessed, 529200)
  const a = await readAll(js)
  const b = await readAll(nat)
  t.is(b.sampleRate, 48000)
  t.is(b.channels[0].length, 576000)
  t.deepEqual(b.channels, a.channels)
  // With a stem: a 4-channel file holding two stereo stems.
  const music = a.channels.map((c) => c.slice(0, 100003))
  const four = writeWav(join(dir, 'four.wav'), [...music.map((c) => c.map((v) => -v)), ...music], 48000, { float: true })
  const stemSink = (p) => new FileSink(p, { stemIndex: 1, sampleRate: 16000, encoding: 'float32' })
  await new StreamingPipeline({ source: new FileSource(four), processors: [new JsProcessor(() => {})], sink: stemSink(js) }).run()
  await binding.runNativePipeline({ source: { kind: 'file', path: four }, processors: [], sink: stemSink(nat).desc() }, new binding.PipelineControl())
  const c = await readAll(js)
  const d = await readAll(nat)
  t.is(d.channels.length, 2)
  t.is(d.channels[0].length, resampledLen(100003, 48000, 16000))
  t.deepEqual(d.channels, c.channels)
})

test('FileSink({ stemIndex, sampleRate }): one stem of a 2-stem stream, resampled like sox resamples that stem; FLAC too', async (t) => {
  const dir = tempDir()
  const music = (await readAll(asset('music.wav'))).channels.map((c) => c.slice(0, 100003))
  const other = music.map((c) => c.map((_, i) => 0.3 * Math.sin(i * 0.37)))
  const stems = [...other, ...music] // stem 0: a tone, stem 1: the music (stereo stems)
  const stemPath = writeWav(join(dir, 'stem1.wav'), music, 44100, { float: true })
  const out = join(dir, 'ours.wav')
  const chunks = []
  for (let i = 0; i < 100003; i += 8192) chunks.push(stems.map((c) => c.slice(i, i + 8192)))
  await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 44100 }), sink: new FileSink(out, { stemIndex: 1, stemChannels: 2, sampleRate: 48000, encoding: 'float32' }) }).run()
  await compareWithSox(t, out, sox(stemPath, join(dir, 'sox.wav'), 48000), 48000, resampledLen(100003, 44100, 48000))
  // FLAC (integer): header rate, channels and the exact length.
  const flac = join(dir, 'ours.flac')
  await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 44100 }), sink: new FileSink(flac, { stemIndex: 0, sampleRate: 22050 }) }).run()
  const info = probe(flac)
  t.like(info, { sampleRate: 22050, channels: 2, frames: resampledLen(100003, 44100, 22050), codec: 'flac' })
})

test('stop() and a failure still leave a valid resampled file of round(frames written * ratio) frames', async (t) => {
  const dir = tempDir()
  // Stop: after the pipeline has written some chunks.
  const stopped = join(dir, 'stopped.wav')
  const p = new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [new JsProcessor(() => {})], sink: new FileSink(stopped, { sampleRate: 48000, encoding: 'float32' }), chunkSize: 4410 })
  p.on('progress', (e) => {
    if (e.frames >= 44100) p.stop()
  })
  const s = await p.run()
  t.true(s.framesProcessed >= 44100 && s.framesProcessed < 529200, `${s.framesProcessed}`)
  const a = await readAll(stopped)
  t.is(a.sampleRate, 48000)
  t.is(a.channels[0].length, resampledLen(s.framesProcessed, 44100, 48000))
  // Its start matches sox's resampling of the whole file (band-limited).
  const ref = (await readAll(sox(asset('music.wav'), join(dir, 'sox.wav'), 48000))).channels[0]
  const n = a.channels[0].length - 4000 // the end differs: sox saw the music go on
  t.true(snrDb(a.channels[0], ref, 0, n) > 40)

  // Failure: a JS processor throws at the 5th chunk.
  const failed = join(dir, 'failed.wav')
  let calls = 0
  const boom = new JsProcessor(() => {
    if (++calls === 5) throw new Error('boom')
  })
  await t.throwsAsync(new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [boom], sink: new FileSink(failed, { sampleRate: 16000 }), chunkSize: 10000 }).run(), { message: /boom/ })
  t.like(probe(failed), { sampleRate: 16000, frames: resampledLen(40000, 44100, 16000) })
})

test('FileSink option errors: bad sampleRate, stemIndex, stemChannels at construction; a missing stem at open', async (t) => {
  for (const sampleRate of [0, 999, 768001, 44100.5, '48000', NaN]) {
    const e = t.throws(() => new FileSink('x.wav', { sampleRate }), { code: 'ERR_INVALID_PARAMETER' })
    t.regex(e.message, /sampleRate/)
  }
  t.throws(() => new FileSink('x.wav', { stemIndex: -1 }), { code: 'ERR_INVALID_PARAMETER', message: /stemIndex/ })
  t.throws(() => new FileSink('x.wav', { stemIndex: 1.5 }), { code: 'ERR_INVALID_PARAMETER', message: /stemIndex/ })
  t.throws(() => new FileSink('x.wav', { stemIndex: 0, stemChannels: 0 }), { code: 'ERR_INVALID_PARAMETER', message: /stemChannels/ })
  t.throws(() => new SpeakerSink({ sampleRate: 100 }), { code: 'ERR_INVALID_PARAMETER', message: /sampleRate/ })
  const out = join(tempDir(), 'o.wav')
  const chunks = [[new Float32Array(100), new Float32Array(100)]]
  const e = await t.throwsAsync(new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 44100 }), sink: new FileSink(out, { stemIndex: 1 }) }).run(), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /stemIndex.*stem 1 of 2 channels does not exist in a 2-channel stream/)
})

test('every sink refuses unknown option keys, naming the key and the accepted ones', (t) => {
  const cases = [
    [() => new FileSink('x.wav', { samplerate: 48000 }), 'samplerate', 'FileSink', ['encoding', 'stemIndex', 'stemChannels', 'sampleRate']],
    [() => new MultiFileSink({ outputDir: '.', stemNames: ['a'], stemchannels: 2 }), 'stemchannels', 'MultiFileSink', ['outputDir', 'stemNames', 'stemChannels', 'format', 'encoding']],
    [() => new CallbackSink(() => {}, { highWaterMark: 2 }), 'highWaterMark', 'CallbackSink', []],
    [() => new SpeakerSink({ stem: 1 }), 'stem', 'SpeakerSink', ['device', 'bufferSize', 'latency', 'channels', 'backend', 'sampleRate', 'stemIndex', 'stemChannels']],
  ]
  for (const [make, key, where, accepted] of cases) {
    const e = t.throws(make, { code: 'ERR_INVALID_PARAMETER' })
    t.true(e.message.includes(`\`${key}\``) && e.message.includes(where), e.message)
    t.true(e.message.includes(`(accepted: ${accepted.join(', ')})`), e.message)
  }
  t.throws(() => new CallbackSink('not a function'), { code: 'ERR_INVALID_PARAMETER', message: /callback/ })
  // Known keys pass.
  t.notThrows(() => new SpeakerSink({ backend: 'none', sampleRate: 48000, stemIndex: 1, stemChannels: 1, bufferSize: 256, channels: 2, latency: 'low' }))
  t.notThrows(() => new CallbackSink(() => {}, {}))
})

test.serial('SpeakerSink({ sampleRate: 48000 }) on the none backend plays a 44.1 kHz stream resampled: round(n * 48000 / 44100) frames', async (t) => {
  const n = 22051 // 0.5 s + 1 frame -> 24001.09 -> 24001
  const signal = tone(440, n, 44100)
  const chunks = []
  for (let i = 0; i < n; i += 4410) chunks.push([signal.slice(i, i + 4410)])
  const sink = new SpeakerSink({ backend: 'none', sampleRate: 48000, bufferSize: 256 })
  t.is(sink.framesPlayed, null)
  const s = await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 44100 }), sink }).run()
  t.is(s.framesProcessed, n)
  t.is(sink.framesPlayed, resampledLen(n, 44100, 48000))
  t.is(sink.framesPlayed, 24001)
  // Without sampleRate, the device runs at the stream's rate: n frames.
  const plain = new SpeakerSink({ backend: 'none', bufferSize: 256 })
  await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 44100 }), sink: plain }).run()
  t.is(plain.framesPlayed, n)
})

test.serial('SpeakerSink({ stemIndex }) on the none backend plays one stem; a file source, JS-driven and native, takes sampleRate', async (t) => {
  const n = 9600
  const chunks = [[tone(440, n, 48000), tone(1000, n, 48000)]]
  const sink = new SpeakerSink({ backend: 'none', stemIndex: 1, stemChannels: 1, sampleRate: 16000, bufferSize: 256 })
  await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 48000 }), sink }).run()
  t.is(sink.framesPlayed, 3200)
  const e = await t.throwsAsync(new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: 48000 }), sink: new SpeakerSink({ backend: 'none', stemIndex: 2, stemChannels: 1 }) }).run(), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /stemIndex/)
  // A 44.1 kHz file on a 48 kHz device, JS-driven and through the native job's sink description.
  const short = writeWav(join(tempDir(), 'short.wav'), [tone(440, 8820, 44100)], 44100)
  const speaker = new SpeakerSink({ backend: 'none', sampleRate: 48000, bufferSize: 256 })
  const s = await new StreamingPipeline({ source: new FileSource(short), sink: speaker }).run()
  t.is(s.framesProcessed, 8820)
  t.is(speaker.framesPlayed, 9600)
  const stats = await binding.runNativePipeline({ source: { kind: 'file', path: short }, processors: [], sink: speaker.desc() }, new binding.PipelineControl())
  t.is(stats.framesProcessed, 8820)
})
