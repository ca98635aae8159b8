import test from 'ava'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { lib, asset, tempDir, writeWav, testSignal, readAll, maxAbsDiff, rms } from './helpers.mjs'

const { StreamingPipeline, FileSource, FileSink, CallbackSource, CallbackSink, MultiFileSink, JsProcessor, HighPass, LowPass, Gain, Reverb, Normalize, StreamProcessor } = lib

test('file pipeline processes a real recording and reports stats', async (t) => {
  const out = join(tempDir(), 'music.wav')
  const src = new FileSource(asset('music.wav'))
  const p = new StreamingPipeline({ source: src, processors: [new HighPass(80), new LowPass(8000), new Gain({ db: 3 })], sink: new FileSink(out), chunkSize: 8192 })
  const progress = []
  p.on('progress', (e) => progress.push(e.fraction))
  const s = await p.run()
  const frames = src.info().frames
  t.is(s.framesProcessed, frames)
  t.is(s.chunksProcessed, Math.ceil(frames / 8192))
  t.true(s.processingTimeS > 0)
  t.true(Math.abs(s.realtimeFactor - frames / src.info().sampleRate / s.processingTimeS) < 1e-6 * s.realtimeFactor)
  t.is(progress.at(-1), 1)
  t.deepEqual(p.stats, s)
  const info = lib.FileSource.prototype.info.call(new FileSource(out))
  t.is(info.frames, frames)
  t.is(info.codec, src.info().codec, 'output keeps the input encoding by default')
})

test.serial('processing runs off the JS thread: the event loop keeps ticking', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'long.wav'), testSignal(2, 48000 * 120, 48000), 48000)
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new LowPass(2000, { order: 8 }), new Reverb({ room: 0.7 })], sink: new FileSink(join(dir, 'o.wav')) })
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  const started = Date.now()
  await p.run()
  clearInterval(timer)
  const elapsed = Date.now() - started
  // A blocked loop would tick at most once; a free one ticks about every 5 ms.
  t.true(ticks >= Math.min(10, elapsed / 20), `ticks=${ticks} over ${elapsed} ms`)
})

// Serial: the stop must land while the job runs (~150 ms for the minute),
// which a test of this file blocking the event loop (writing its input
// WAVs) would delay past the end of the job.
test.serial('stop() mid-file leaves a valid WAV holding everything processed so far', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(2, 48000 * 60, 48000), 48000)
  const out = join(dir, 'out.wav')
  // Progress every 5 ms: the stop lands well before the end (the whole
  // minute takes ~150 ms, so a 100 ms first event could come too late).
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new Reverb()], sink: new FileSink(out), chunkSize: 4096, progressIntervalMs: 5 })
  p.start()
  t.true(p.isRunning)
  // The first event can come before the first chunk is written: stop once
  // some frames are done, so the file must hold a real, partial prefix.
  await new Promise((r) => {
    const on = (e) => {
      if (e.frames > 0) {
        p.off('progress', on)
        r()
      }
    }
    p.on('progress', on)
  })
  p.stop()
  t.true(await p.wait())
  const s = p.stats
  t.false(p.isRunning)
  t.true(s.framesProcessed > 0 && s.framesProcessed < 48000 * 60, JSON.stringify(s))
  const { channels } = await readAll(out)
  t.is(channels[0].length, s.framesProcessed)
  t.is(statSync(out).size, 44 + s.framesProcessed * 2 * 2)
})

test('reset() allows a second run with identical output', async (t) => {
  // One pipeline run twice. The JS processor halves everything after its
  // first 8000 frames and forgets how far it got only in reset(): without
  // reset() the second run would come out halved throughout.
  class HalveLater extends JsProcessor {
    seen = 0
    process(ch) {
      const out = ch.map((c) => c.map((v, i) => (this.seen + i < 8000 ? v : v / 2)))
      this.seen += ch[0].length
      return out
    }
    reset() {
      this.seen = 0
    }
  }
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(1, 20000, 16000), 16000)
  const out = join(dir, 'o.wav')
  const p = new StreamingPipeline({
    source: new FileSource(input),
    processors: [new Reverb(), new HalveLater()],
    sink: new FileSink(out, { encoding: 'float32' }),
    chunkSize: 4096,
  })
  const first = await p.run()
  const a = (await readAll(out)).channels[0]
  p.reset()
  t.is(p.stats.framesProcessed, 0)
  const second = await p.run()
  const b = (await readAll(out)).channels[0]
  t.is(second.framesProcessed, first.framesProcessed)
  t.true(rms(a) > 0.01)
  t.is(maxAbsDiff(a, b), 0)
})

test('JS-driven pipeline: CallbackSource -> native + JS processors -> CallbackSink equals the native path', async (t) => {
  const sig = testSignal(2, 30000, 44100)
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), sig, 44100, { float: true })
  const nativeOut = join(dir, 'native.wav')
  await new StreamingPipeline({ source: new FileSource(input), processors: [new HighPass(200, { order: 4 }), new Gain({ db: -6 })], sink: new FileSink(nativeOut) }).run()
  const expected = (await readAll(nativeOut)).channels

  async function* chunks() {
    for (let off = 0; off < 30000; off += 777) yield sig.map((c) => c.slice(off, off + 777))
  }
  const got = [[], []]
  let seenRate = 0
  const p = new StreamingPipeline({
    source: new CallbackSource(chunks(), { sampleRate: 44100 }),
    processors: [new HighPass(200, { order: 4 }), new JsProcessor((ch) => ch.map((c) => c.map((v) => v * 0.5))), new Gain({ db: 0 })],
    sink: new CallbackSink((ch, info) => {
      seenRate = info.sampleRate
      ch.forEach((c, i) => got[i].push(...c))
    }),
  })
  const s = await p.run()
  t.is(seenRate, 44100)
  t.is(s.framesProcessed, 30000)
  t.is(s.chunksProcessed, Math.ceil(30000 / 777))
  // -6 dB is 0.50119; the JS processor applied exactly 0.5.
  const ratio = 0.5 / 10 ** (-6 / 20)
  t.true(maxAbsDiff(Float32Array.from(got[0]), expected[0].map((v) => v * ratio)) < 1e-5)
})

test('CallbackSource accepts interleaved chunks from a sync iterable', async (t) => {
  const inter = new Float32Array(200)
  for (let i = 0; i < 100; i++) {
    inter[2 * i] = i / 100
    inter[2 * i + 1] = -i / 100
  }
  const got = []
  await new StreamingPipeline({ source: new CallbackSource([inter], { sampleRate: 8000, channels: 2 }), sink: new CallbackSink((ch) => got.push(ch)) }).run()
  t.is(got[0][0][50], Math.fround(0.5))
  t.is(got[0][1][50], Math.fround(-0.5))
})

test('setParameter changes a running chain between chunks without resetting it', async (t) => {
  const sig = [new Float32Array(48000).fill(0.5)]
  const chunks = []
  for (let i = 0; i < 48000; i += 4800) chunks.push([sig[0].slice(i, i + 4800)])
  const out = []
  const p = new StreamingPipeline({
    source: new CallbackSource(chunks, { sampleRate: 48000 }),
    processors: [new Gain({ db: 0 })],
    sink: new CallbackSink((ch) => {
      out.push(ch[0])
      if (out.length === 5) p.setParameter('0.db', -6)
    }),
  })
  await p.run()
  t.true(Math.abs(out[0][100] - 0.5) < 1e-6)
  t.true(Math.abs(out[9][4000] - 0.5 * 10 ** (-6 / 20)) < 1e-4)
  t.throws(() => p.setParameter('0.cutoff', 100), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => p.setParameter('7.db', 1), { code: 'ERR_INVALID_PARAMETER' })
})

test('two-pass Normalize brings a file to the target peak', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(2, 100000, 48000), 48000, { float: true })
  const out = join(dir, 'out.wav')
  await new StreamingPipeline({ source: new FileSource(input), processors: [new Normalize({ db: -3 })], sink: new FileSink(out), chunkSize: 1000 }).run()
  const { channels } = await readAll(out)
  const peak = Math.max(...channels.map((c) => c.reduce((m, v) => Math.max(m, Math.abs(v)), 0)))
  t.true(Math.abs(20 * Math.log10(peak) + 3) < 0.01, `peak ${20 * Math.log10(peak)} dBFS`)
})

test('FileSource resamples on request and selects channels', async (t) => {
  const src = new FileSource(asset('music.wav'), { sampleRate: 48000, mono: true })
  const got = []
  await new StreamingPipeline({ source: src, sink: new CallbackSink((ch, info) => got.push([ch.length, info.sampleRate, ch[0].length])) }).run()
  const frames = got.reduce((n, g) => n + g[2], 0)
  t.deepEqual([got[0][0], got[0][1]], [1, 48000])
  t.is(frames, Math.round((src.info().frames * 48000) / 44100))
})

test('MultiFileSink writes one file per stem', async (t) => {
  const dir = tempDir()
  const sink = new MultiFileSink({ outputDir: join(dir, 'stems'), stemNames: ['left', 'right'] })
  await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [new JsProcessor(() => {})], sink }).run()
  const [l, r] = await Promise.all(sink.paths.map(readAll))
  const orig = (await readAll(asset('music.wav'))).channels
  t.is(l.channels.length, 1)
  t.is(maxAbsDiff(l.channels[0], orig[0]), 0)
  t.is(maxAbsDiff(r.channels[0], orig[1]), 0)
})

test('StreamProcessor: processChunks yields exactly what processFile writes', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'out.wav')
  const chunks = []
  // The JS equivalent of `await using sp = ...` (Node 20 cannot parse `await using`).
  const sp = new StreamProcessor({ processors: [new HighPass(100), new Reverb({ room: 0.3 })], chunkSize: 10000 })
  try {
    await sp.processFile(asset('speech.wav'), out, { sink: { encoding: 'float32' } })
    for await (const c of sp.processChunks(asset('speech.wav'))) chunks.push(c)
  } finally {
    await sp[Symbol.asyncDispose]()
  }
  await t.throwsAsync(sp.processFile(asset('speech.wav'), out), { code: 'ERR_INVALID_STATE' })
  const file = (await readAll(out)).channels[0]
  const streamed = new Float32Array(chunks.reduce((n, c) => n + c[0].length, 0))
  let off = 0
  for (const c of chunks) {
    streamed.set(c[0], off)
    off += c[0].length
  }
  t.is(streamed.length, file.length)
  t.is(maxAbsDiff(streamed, file), 0)
  t.true(rms(file) > 0.001)
})

test('setParameter before a native file run applies from the first chunk', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), [new Float32Array(20000).fill(0.25)], 8000, { float: true })
  const out = join(dir, 'out.wav')
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new Gain({ db: 0 })], sink: new FileSink(out) })
  p.setParameter('0.db', -6)
  await p.run()
  const { channels } = await readAll(out)
  t.true(Math.abs(channels[0][15000] - 0.25 * 10 ** (-6 / 20)) < 1e-6, `${channels[0][15000]}`)
})

test('writing over the input file is refused before anything is touched', (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(1, 1000, 8000), 8000)
  const p = new StreamingPipeline({ source: new FileSource(input), sink: new FileSink(join(dir, '.', 'in.wav')) })
  t.throws(() => p.start(), { code: 'ERR_INVALID_PARAMETER' })
  t.is(statSync(input).size, 44 + 2000)
})

// Issue 12: a native file job checks setParameter values at the call
// (against a prepared copy of its chain), not when the worker applies them.
test.serial('an out-of-range setParameter on a running native file job throws at the call; the job goes on', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(1, 48000 * 40, 48000), 48000)
  const out = join(dir, 'out.wav')
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new LowPass(1000)], sink: new FileSink(out), chunkSize: 4096, progressIntervalMs: 5 })
  p.start()
  await new Promise((r) => p.once('progress', r))
  t.true(p.isRunning, 'still running when the value is set')
  // 30 kHz is a valid cutoff in general, but above this stream's Nyquist (24 kHz).
  const e = t.throws(() => p.setParameter('0.cutoff', 30000), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /0\.cutoff/)
  t.notThrows(() => p.setParameter('0.cutoff', 2000))
  t.true(await p.wait())
  const s = p.stats
  t.is(s.framesProcessed, 48000 * 40, 'the job was not failed by the refused value')
})

test.serial('the check uses the stream\'s rate: the same cutoff is accepted for a 96 kHz file', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(1, 96000 * 20, 96000), 96000)
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new LowPass(1000)], sink: new FileSink(join(dir, 'o.wav')), chunkSize: 4096, progressIntervalMs: 5 })
  p.start()
  await new Promise((r) => p.once('progress', r))
  t.true(p.isRunning, 'still running when the value is set')
  t.notThrows(() => p.setParameter('0.cutoff', 30000))
  t.true(await p.wait())
  t.is(p.stats.framesProcessed, 96000 * 20)
})

test('a value set before start that the stream cannot take fails the run before any output exists', async (t) => {
  const dir = tempDir()
  const input = writeWav(join(dir, 'in.wav'), testSignal(1, 8000, 8000), 8000)
  const out = join(dir, 'out.wav')
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new LowPass(1000)], sink: new FileSink(out) })
  p.setParameter('0.cutoff', 5000) // fine in general; above Nyquist (4 kHz) at 8 kHz
  await t.throwsAsync(p.run(), { code: 'ERR_INVALID_PARAMETER' })
  t.false(existsSync(out))
})

test('a JS-driven run checks setParameter at the call too', async (t) => {
  const chunks = Array.from({ length: 10 }, () => [new Float32Array(4800).fill(0.5)])
  let thrown = null
  let calls = 0
  const p = new StreamingPipeline({
    source: new CallbackSource(chunks, { sampleRate: 48000 }),
    processors: [new LowPass(1000)],
    sink: new CallbackSink(() => {
      if (++calls === 3) {
        try {
          p.setParameter('0.cutoff', 30000)
        } catch (e) {
          thrown = e
        }
      }
    }),
  })
  const s = await p.run()
  t.is(thrown?.code, 'ERR_INVALID_PARAMETER')
  t.is(s.framesProcessed, 48000)
})
