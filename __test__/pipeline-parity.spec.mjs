// Issue 13 (API parity), pipeline core: what users coming from torchfx,
// mlx-audio and a mixer's stream manager expect of StreamingPipeline,
// StreamProcessor, sources and processors. Real audio from assets/.
import test from 'ava'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { lib, asset, tempDir, writeWav, testSignal, readAll, maxAbsDiff, rms, joinBlocks } from './helpers.mjs'

const { StreamingPipeline, StreamProcessor, StreamingContext, FileSource, FileSink, CallbackSource, CallbackSink, JsProcessor, Gain, Normalize, HighPass, LowPass, Biquad, Reverb, Delay, Limiter, Enhance, ProcessorChain, AbortError } = lib

const peakOf = (channels) => channels.reduce((m, c) => c.reduce((n, v) => Math.max(n, Math.abs(v)), m), 0)
async function collect(iterable) {
  const chunks = []
  for await (const c of iterable) chunks.push(c)
  return chunks
}
/** A minute of stereo test signal at 48 kHz: long enough that a run is caught mid-way. */
function longInput(dir, seconds = 60) {
  return writeWav(join(dir, 'long.wav'), testSignal(2, 48000 * seconds, 48000), 48000)
}
const framesDone = (p) =>
  new Promise((r) => {
    const on = (e) => {
      if (e.frames > 0) {
        p.off('progress', on)
        r()
      }
    }
    p.on('progress', on)
  })

// 1. Units -----------------------------------------------------------------

test('a bare Gain(0.5) halves the amplitude of a real recording; dB only through { db }', async (t) => {
  const dir = tempDir()
  const input = (await readAll(asset('music.wav'))).channels
  const run = async (gain, name) => {
    const out = join(dir, name)
    await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [gain], sink: new FileSink(out, { encoding: 'float32' }) }).run()
    return (await readAll(out)).channels
  }
  const half = await run(new Gain(0.5), 'half.wav')
  for (let c = 0; c < 2; c++) t.is(maxAbsDiff(half[c], input[c].map((v) => v * 0.5)), 0, `channel ${c}: exactly x0.5`)
  t.true(rms(input[0]) > 0.01)
  const db = await run(new Gain({ db: -6 }), 'db.wav')
  t.true(maxAbsDiff(db[0], input[0].map((v) => v * 10 ** (-6 / 20))) < 1e-6)
  const linear = await run(new Gain({ linear: 2 }), 'linear.wav')
  t.is(maxAbsDiff(linear[1], input[1].map((v) => v * 2)), 0)
  const muted = await run(new Gain(0), 'muted.wav')
  t.is(peakOf(muted), 0, 'Gain(0) is silence')
})

test('Gain refuses a negative, NaN or too large factor, and db with linear', (t) => {
  const neg = t.throws(() => new Gain(-6), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(neg.message, /linear/)
  t.regex(neg.message, /\{ db: -6 \}/, 'the message points to dB')
  t.throws(() => new Gain(NaN), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new Gain(5000), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new Gain({ db: -3, linear: 0.5 }), { code: 'ERR_INVALID_PARAMETER' })
})

test('Normalize(0.95) brings the peak of a real recording to 0.95; { db } is dBFS', async (t) => {
  const dir = tempDir()
  const run = async (n, name) => {
    const out = join(dir, name)
    await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [n], sink: new FileSink(out, { encoding: 'float32' }), chunkSize: 10000 }).run()
    return peakOf((await readAll(out)).channels)
  }
  const before = peakOf((await readAll(asset('music.wav'))).channels)
  t.true(Math.abs(before - 0.95) > 0.01, `the input peak ${before} is not already the target`)
  const p = await run(new Normalize(0.95), 'lin.wav')
  t.true(Math.abs(p - 0.95) <= 1e-6, `peak ${p}`)
  const q = await run(new Normalize({ db: -3 }), 'db.wav')
  t.true(Math.abs(20 * Math.log10(q) + 3) < 1e-5, `peak ${20 * Math.log10(q)} dBFS`)
  const r = await run(new Normalize({ linear: 0.5 }), 'half.wav')
  t.true(Math.abs(r - 0.5) <= 1e-6, `peak ${r}`)
})

test('Normalize refuses a linear target outside (0, 1] and the former { peak }', (t) => {
  for (const bad of [0, -1, 1.5, NaN]) t.throws(() => new Normalize(bad), { code: 'ERR_INVALID_PARAMETER' }, `${bad}`)
  t.notThrows(() => new Normalize(1))
  const e = t.throws(() => new Normalize({ peak: -1 }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /`peak`/)
  t.regex(e.message, /\{ db \}/)
  t.throws(() => new Normalize({ db: 30 }), { code: 'ERR_INVALID_PARAMETER' })
})

// 2. Unknown option keys -----------------------------------------------------

test('unknown option keys are refused with ERR_INVALID_PARAMETER naming the key and the accepted ones', async (t) => {
  const src = () => new FileSource(asset('speech.wav'))
  const sink = () => new CallbackSink(() => {})
  const e = t.throws(() => new StreamingPipeline({ source: src(), processor: [new Gain(0.5)], sink: sink() }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /`processor`/)
  t.regex(e.message, /processors/)
  const cases = [
    () => new FileSource(asset('speech.wav'), { samplerate: 8000 }),
    () => new CallbackSource([], { sampleRate: 8000, chanels: 2 }),
    () => new Gain({ dB: -3 }),
    () => new Normalize({ dbfs: -1 }),
    () => new HighPass(80, { oder: 4 }),
    () => new LowPass(80, { slope: 4 }),
    () => new Biquad('peaking', 1000, { Q: 2 }),
    () => new Reverb({ size: 0.5 }),
    () => new Delay({ time: 100, wet: 0.5 }),
    () => new Limiter({ threshold: -1 }),
    () => new Enhance({ model: 'x.onnx' }),
    () => new ProcessorChain([new Gain(0.5)], { sampleRate: 48000, channels: 2, blockSize: 128 }),
    () => new StreamProcessor({ processors: [], chunk: 1024 }),
    () => new StreamProcessor({ processors: [] }).processChunks(asset('speech.wav'), { onprogress: () => {} }),
    () => new StreamingPipeline({ source: src(), sink: sink() }).start({ singal: new AbortController().signal }),
  ]
  const names = ['samplerate', 'chanels', 'dB', 'dbfs', 'oder', 'slope', 'Q', 'size', 'wet', 'threshold', 'model', 'blockSize', 'chunk', 'onprogress', 'singal']
  cases.forEach((make, i) => {
    const err = t.throws(make, { code: 'ERR_INVALID_PARAMETER' }, names[i])
    t.true(err.message.includes(`\`${names[i]}\``), err.message)
  })
  await t.throwsAsync(new StreamProcessor({ processors: [] }).processFile(asset('speech.wav'), join(tempDir(), 'o.wav'), { encoding: 'float32' }), { code: 'ERR_INVALID_PARAMETER', message: /`encoding`/ })
  await t.throwsAsync(new StreamingPipeline({ source: src(), sink: sink() }).run({ timeout: 1 }), { code: 'ERR_INVALID_PARAMETER', message: /`timeout`/ })
})

// 3. wait(timeoutS) --------------------------------------------------------------

test.serial('wait(0.001) resolves false on a long job, then wait() true; run() resolves the stats', async (t) => {
  const dir = tempDir()
  const input = longInput(dir)
  const p = new StreamingPipeline({ source: new FileSource(input), processors: [new LowPass(2000, { order: 8 }), new Reverb({ room: 0.7 })], sink: new FileSink(join(dir, 'o.wav')) })
  t.true(await p.wait(), 'nothing to wait for before a start')
  p.start()
  t.false(await p.wait(0.001))
  t.true(p.isRunning, 'the time-out left the run going')
  t.true(await p.wait())
  t.is(p.stats.framesProcessed, 48000 * 60)
  t.true(await p.wait(0.001), 'an ended run: true at once')
  await t.throwsAsync(p.wait(-1), { code: 'ERR_INVALID_PARAMETER' })
  const stats = await p.run()
  t.is(stats.framesProcessed, 48000 * 60)
  const failing = new StreamingPipeline({ source: new FileSource(join(dir, 'missing.wav')), sink: new FileSink(join(dir, 'x.wav')) })
  failing.start()
  await t.throwsAsync(failing.wait(10), { code: 'ERR_NOT_FOUND' })
})

// 4. CallbackSource from generator functions ------------------------------------------

test('CallbackSource takes a generator function or an async generator function (and runs again)', async (t) => {
  const sig = testSignal(2, 9000, 16000)
  function* gen() {
    for (let i = 0; i < 9000; i += 1000) yield sig.map((c) => c.slice(i, i + 1000))
  }
  async function* agen() {
    for (let i = 0; i < 9000; i += 2500) {
      await new Promise((r) => setImmediate(r))
      yield sig.map((c) => c.slice(i, i + 2500))
    }
  }
  for (const fn of [gen, agen]) {
    const got = []
    const p = new StreamingPipeline({ source: new CallbackSource(fn, { sampleRate: 16000 }), sink: new CallbackSink((ch) => got.push(ch)) })
    const s = await p.run()
    t.is(s.framesProcessed, 9000, fn.name)
    t.is(maxAbsDiff(joinBlocks(got)[1], sig[1]), 0, fn.name)
    // The function is called at every run: a second run reads it all again.
    t.is((await p.run()).framesProcessed, 9000, `${fn.name}, second run`)
  }
})

test('CallbackSource refuses what is neither chunks nor a function returning them', async (t) => {
  const e = t.throws(() => new CallbackSource(42, { sampleRate: 8000 }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /number/)
  t.throws(() => new CallbackSource({ not: 'iterable' }, { sampleRate: 8000 }), { code: 'ERR_INVALID_PARAMETER', message: /object/ })
  const p = new StreamingPipeline({ source: new CallbackSource(() => 7, { sampleRate: 8000 }), sink: new CallbackSink(() => {}) })
  await t.throwsAsync(p.run(), { code: 'ERR_INVALID_PARAMETER', message: /returned number/ })
})

// 5. processChunks with Normalize ----------------------------------------------------

test('processChunks with Normalize yields exactly what processFile writes (also resampled and downmixed)', async (t) => {
  const dir = tempDir()
  for (const source of [undefined, { sampleRate: 48000, mono: true }]) {
    const sp = new StreamProcessor({ processors: [new HighPass(100), new Normalize(0.9), new Gain({ db: -1 })], chunkSize: 8192 })
    const out = join(dir, `out-${source ? 'resampled' : 'plain'}.wav`)
    await sp.processFile(asset('music.wav'), out, { source, sink: { encoding: 'float32' } })
    const chunks = await collect(sp.processChunks(asset('music.wav'), { source }))
    await sp.close()
    const file = (await readAll(out)).channels
    t.is(file.length, source ? 1 : 2)
    t.is(chunks[0].length, file.length)
    for (let c = 0; c < file.length; c++) {
      const streamed = joinBlocks(chunks)[c]
      t.is(streamed.length, file[c].length)
      t.is(maxAbsDiff(streamed, file[c]), 0, `channel ${c}, source ${JSON.stringify(source)}`)
    }
    // HighPass then Normalize(0.9) then -1 dB: the peak is 0.9 * 10^(-1/20).
    t.true(Math.abs(peakOf(file) - 0.9 * 10 ** (-1 / 20)) < 1e-6, `peak ${peakOf(file)}`)
  }
})

test('Normalize in a JS-driven pipeline needs a source it can read twice', async (t) => {
  const p = new StreamingPipeline({ source: new CallbackSource([[new Float32Array(100).fill(0.1)]], { sampleRate: 8000 }), processors: [new Normalize()], sink: new CallbackSink(() => {}) })
  await t.throwsAsync(p.run(), { code: 'ERR_INVALID_PARAMETER', message: /normalize/ })
})

// 6. State ------------------------------------------------------------------------

test.serial('pipeline state: idle -> starting -> running -> stopped, stopping on stop(), error on failure', async (t) => {
  const dir = tempDir()
  const seen = (p) => {
    const states = []
    p.on('statechange', (c) => states.push([c.previous, c.state, c.error?.code]))
    return states
  }
  const p = new StreamingPipeline({ source: new FileSource(asset('speech.wav')), processors: [new Gain(0.5)], sink: new FileSink(join(dir, 'a.wav')) })
  const states = seen(p)
  t.is(p.state, 'idle')
  t.throws(() => p.stop(), { code: 'ERR_INVALID_STATE' }, 'stop before start')
  p.start()
  t.throws(() => p.start(), { code: 'ERR_INVALID_STATE' }, 'start twice')
  await p.wait()
  t.is(p.state, 'stopped')
  t.deepEqual(states, [['idle', 'starting', undefined], ['starting', 'running', undefined], ['running', 'stopped', undefined]])

  const long = new StreamingPipeline({ source: new FileSource(longInput(dir)), processors: [new Reverb()], sink: new FileSink(join(dir, 'b.wav')), chunkSize: 4096, progressIntervalMs: 5 })
  const longStates = seen(long)
  long.start()
  await framesDone(long)
  long.stop()
  t.is(long.state, 'stopping')
  t.true(await long.wait())
  t.deepEqual(longStates.map((s) => s[1]), ['starting', 'running', 'stopping', 'stopped'])

  const bad = new StreamingPipeline({ source: new FileSource(join(dir, 'missing.wav')), sink: new FileSink(join(dir, 'c.wav')) })
  const badStates = seen(bad)
  await t.throwsAsync(bad.run(), { code: 'ERR_NOT_FOUND' })
  t.is(bad.state, 'error')
  t.deepEqual(badStates, [['idle', 'starting', undefined], ['starting', 'error', 'ERR_NOT_FOUND']])
  // error and stopped may start again.
  const js = new StreamingPipeline({ source: new CallbackSource(function* () { yield [new Float32Array(10)] }, { sampleRate: 8000 }), sink: new CallbackSink(() => { throw new Error('sink failed') }) })
  const jsStates = seen(js)
  await t.throwsAsync(js.run(), { message: 'sink failed' })
  await t.throwsAsync(js.run(), { message: 'sink failed' })
  t.deepEqual(jsStates.map((s) => s[1]), ['starting', 'running', 'error', 'starting', 'running', 'error'])
})

test('StreamProcessor state: idle until the first call, running while calls are active, stopped by close()', async (t) => {
  const dir = tempDir()
  const sp = new StreamProcessor({ processors: [new Gain(0.5)] })
  const states = []
  sp.on('statechange', (c) => states.push(c.state))
  t.is(sp.state, 'idle')
  t.is(sp.context, null)
  await Promise.all([sp.processFile(asset('speech.wav'), join(dir, 'a.wav')), sp.processFile(asset('music.wav'), join(dir, 'b.wav'))])
  t.deepEqual(states, ['starting', 'running', 'stopped'], 'two overlapping calls: one busy period')
  await t.throwsAsync(sp.processFile(join(dir, 'missing.wav'), join(dir, 'c.wav')), { code: 'ERR_NOT_FOUND' })
  t.is(sp.state, 'error')
  const chunks = sp.processChunks(asset('speech.wav'))
  await chunks.next()
  t.is(sp.state, 'running')
  const closing = sp.close()
  t.is(sp.state, 'stopping')
  await closing
  t.is(sp.state, 'stopped')
  t.deepEqual(states, ['starting', 'running', 'stopped', 'starting', 'error', 'starting', 'running', 'stopping', 'stopped'])
  await t.throwsAsync(sp.processFile(asset('speech.wav'), join(dir, 'd.wav')), { code: 'ERR_INVALID_STATE' })
})

// 7. Context and per-chunk metadata --------------------------------------------------

/** A JsProcessor that records what it is told and inverts nothing: it scales by 0.5. */
class Recorder extends JsProcessor {
  contexts = []
  metas = []
  resets = 0
  prepare(context) {
    this.contexts.push(context)
  }
  process(channels, meta) {
    this.metas.push(meta)
    for (const c of channels) for (let i = 0; i < c.length; i++) c[i] *= 0.5
  }
  reset() {
    this.resets++
  }
}

function checkMetas(t, rec, context, frames, chunkSize, label) {
  t.true(context instanceof StreamingContext, label)
  t.deepEqual(context.toJSON(), { sampleRate: 16000, channels: 1, chunkSize, chunkDurationMs: (chunkSize / 16000) * 1000 }, label)
  t.is(rec.metas.length, Math.ceil(frames / chunkSize), label)
  rec.metas.forEach((m, i) => {
    t.is(m.chunkIndex, i, label)
    t.is(m.firstFrame, i * chunkSize, label)
    t.is(m.sampleRate, 16000, label)
    t.is(m.channels, 1, label)
    t.is(m.context, context, label)
    t.false('frameOffset' in m, label)
  })
}

test('a JsProcessor gets the StreamingContext and per-chunk metadata in a pipeline; reset() before every run and on reset()', async (t) => {
  const rec = new Recorder()
  const out = join(tempDir(), 'o.wav')
  const p = new StreamingPipeline({ source: new FileSource(asset('speech.wav')), processors: [new HighPass(80), rec], sink: new FileSink(out, { encoding: 'float32' }), chunkSize: 10000 })
  t.is(p.context, null, 'no context before the format is known')
  const running = []
  p.on('statechange', (c) => c.state === 'running' && running.push(p.context))
  await p.run()
  t.is(rec.contexts.length, 1)
  t.is(p.context, rec.contexts[0])
  t.is(running[0], rec.contexts[0], 'the context is there from running on')
  checkMetas(t, rec, p.context, 84800, 10000, 'pipeline')
  t.is(rec.resets, 1, 'reset() before the run')
  p.reset()
  t.is(rec.resets, 2, 'and by pipeline.reset()')
  rec.metas = []
  await p.run()
  t.is(rec.resets, 3, 'and before the next run')
  t.is(rec.metas[0].chunkIndex, 0)
  // The JS processor really ran: the output is half the high-passed input.
  const ref = join(tempDir(), 'ref.wav')
  await new StreamingPipeline({ source: new FileSource(asset('speech.wav')), processors: [new HighPass(80), new Gain(0.5)], sink: new FileSink(ref, { encoding: 'float32' }) }).run()
  t.is(maxAbsDiff((await readAll(out)).channels[0], (await readAll(ref)).channels[0]), 0)
})

test('a JsProcessor works in StreamProcessor.processFile and processChunks, with context and metadata', async (t) => {
  const rec = new Recorder()
  const sp = new StreamProcessor({ processors: [rec, new LowPass(3000)], chunkSize: 4096 })
  const out = join(tempDir(), 'o.wav')
  await sp.processFile(asset('speech.wav'), out, { sink: { encoding: 'float32' } })
  checkMetas(t, rec, rec.contexts[0], 84800, 4096, 'processFile')
  t.is(sp.context, rec.contexts[0])
  rec.metas = []
  const chunks = await collect(sp.processChunks(asset('speech.wav')))
  checkMetas(t, rec, rec.contexts[1], 84800, 4096, 'processChunks')
  t.is(sp.context, rec.contexts[1])
  t.is(rec.resets, 2, 'reset() before each call')
  t.is(maxAbsDiff(joinBlocks(chunks)[0], (await readAll(out)).channels[0]), 0)
  await sp.close()
})

test('a JsProcessor before Normalize sees the file twice (analysis, then reset, then the real pass)', async (t) => {
  const rec = new Recorder()
  const sp = new StreamProcessor({ processors: [rec, new Normalize(0.8)], chunkSize: 20000 })
  const chunks = await collect(sp.processChunks(asset('speech.wav')))
  await sp.close()
  t.is(rec.metas.length, 2 * Math.ceil(84800 / 20000))
  t.is(rec.resets, 2)
  t.true(Math.abs(peakOf([joinBlocks(chunks)[0]]) - 0.8) < 1e-6)
})

// 8. AbortSignal --------------------------------------------------------------------

test.serial('abort mid-file: AbortError with partial stats, and a valid file holding exactly those frames (native and JS-driven)', async (t) => {
  const dir = tempDir()
  const input = longInput(dir)
  for (const processors of [[new Reverb()], [new Reverb(), new JsProcessor(() => {})]]) {
    const out = join(dir, `out-${processors.length}.wav`)
    const ac = new AbortController()
    const p = new StreamingPipeline({ source: new FileSource(input), processors, sink: new FileSink(out), chunkSize: 4096, progressIntervalMs: 5 })
    const run = p.run({ signal: ac.signal })
    await framesDone(p)
    ac.abort(new Error('enough'))
    const e = await t.throwsAsync(run, { instanceOf: AbortError, code: 'ERR_ABORTED' })
    t.is(e.name, 'AbortError')
    t.is(e.cause?.message, 'enough')
    t.true(e.stats.framesProcessed > 0 && e.stats.framesProcessed < 48000 * 60, JSON.stringify(e.stats))
    t.is(p.state, 'stopped')
    const { channels } = await readAll(out)
    t.is(channels[0].length, e.stats.framesProcessed)
    t.is(channels.length, 2)
  }
})

test('an already aborted signal rejects at once and writes nothing', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'never.wav')
  const signal = AbortSignal.abort()
  const p = new StreamingPipeline({ source: new FileSource(asset('speech.wav')), sink: new FileSink(out) })
  const e = await t.throwsAsync(p.run({ signal }), { code: 'ERR_ABORTED' })
  t.is(e.stats.framesProcessed, 0)
  t.false(existsSync(out))
  const sp = new StreamProcessor({ processors: [] })
  await t.throwsAsync(sp.processFile(asset('speech.wav'), out, { signal }), { code: 'ERR_ABORTED' })
  t.false(existsSync(out))
  await t.throwsAsync(sp.processChunks(asset('speech.wav'), { signal }).next(), { code: 'ERR_ABORTED' })
  t.throws(() => p.start({ signal: 'now' }), { code: 'ERR_INVALID_PARAMETER' })
})

test.serial('StreamProcessor: abort of processFile and of processChunks (the consumer waiting or not)', async (t) => {
  const dir = tempDir()
  const input = longInput(dir, 30)
  // A JS processor makes the run JS-driven: a progress event per chunk, so the abort lands mid-file.
  const sp = new StreamProcessor({ processors: [new Reverb(), new JsProcessor(() => {})], chunkSize: 4096 })
  const out = join(dir, 'o.wav')
  const ac = new AbortController()
  let aborted = false
  const e = await t.throwsAsync(
    sp.processFile(input, out, {
      signal: ac.signal,
      onProgress: (f) => {
        if (f > 0 && !aborted) {
          aborted = true
          ac.abort()
        }
      },
    }),
    { code: 'ERR_ABORTED' },
  )
  t.is((await readAll(out)).channels[0].length, e.stats.framesProcessed)
  t.true(e.stats.framesProcessed < 48000 * 30)

  const ac2 = new AbortController()
  const it = sp.processChunks(input, { signal: ac2.signal })
  let n = 0
  const err = await t.throwsAsync(async () => {
    for await (const c of it) {
      t.is(c.length, 2)
      // Abort while the pipeline waits for this consumer.
      if (++n === 3) ac2.abort()
    }
  })
  t.is(err.code, 'ERR_ABORTED')
  t.true(err.stats.framesProcessed >= 3 * 4096 && err.stats.framesProcessed <= 5 * 4096, `${err.stats.framesProcessed}`)
  t.is(sp.state, 'stopped')
  await sp.close()
})

// 9. Monitoring ---------------------------------------------------------------------

test.serial("'stats' events carry process CPU time and memory, native and JS-driven; StreamProcessor forwards them to onStats", async (t) => {
  const dir = tempDir()
  const input = longInput(dir, 120)
  for (const processors of [[new LowPass(2000, { order: 8 }), new Reverb({ room: 0.7 })], [new Reverb(), new JsProcessor(() => {})]]) {
    const events = []
    const p = new StreamingPipeline({ source: new FileSource(input), processors, sink: new FileSink(join(dir, 'o.wav')), statsIntervalMs: 20 })
    p.on('stats', (s) => events.push(s))
    const final = await p.run()
    t.true(events.length >= 2, `${events.length} events`)
    for (const s of events) {
      t.true(s.cpuTimeS > 0 && s.rssBytes > 0 && s.peakRssBytes > 0, JSON.stringify(s))
      t.true(s.framesProcessed <= 48000 * 120)
    }
    t.true(events.at(-1).framesProcessed > 0, 'progress shows in the stats')
    t.true(final.cpuTimeS >= events.at(-1).cpuTimeS && final.rssBytes > 0)
    t.true(events.every((s, i) => i === 0 || s.framesProcessed >= events[i - 1].framesProcessed))
  }
  const seen = []
  const sp = new StreamProcessor({ processors: [new Reverb()], statsIntervalMs: 20 })
  await sp.processFile(input, join(dir, 'sp.wav'), { onStats: (s) => seen.push(s) })
  t.true(seen.length >= 1 && seen.every((s) => s.cpuTimeS > 0 && s.rssBytes > 0))
  const none = []
  const quiet = new StreamingPipeline({ source: new FileSource(asset('speech.wav')), sink: new FileSink(join(dir, 'q.wav')), statsIntervalMs: 0 })
  quiet.on('stats', (s) => none.push(s))
  await quiet.run()
  t.is(none.length, 0)
})

// 10. Custom sources and sinks ---------------------------------------------------------

test('any object with open()/openAsync() is a source, any with open() a sink', async (t) => {
  const sig = testSignal(2, 5000, 8000)
  let closed = 0
  const source = {
    open() {
      let pos = 0
      return {
        sampleRate: 8000,
        channels: 2,
        totalFrames: 5000,
        read: async (max) => {
          if (pos >= 5000) return null
          const n = Math.min(max, 5000 - pos)
          const chunk = sig.map((c) => c.slice(pos, pos + n))
          pos += n
          return chunk
        },
        close: () => closed++,
      }
    },
  }
  const got = []
  let info = null
  const sink = {
    open(i) {
      info = i
      return { write: async (ch) => void got.push(ch), close: async () => closed++ }
    },
  }
  const p = new StreamingPipeline({ source, processors: [new Gain(0.5)], sink, chunkSize: 1024 })
  const s = await p.run()
  t.is(s.framesProcessed, 5000)
  t.is(s.chunksProcessed, 5)
  t.deepEqual(info, { sampleRate: 8000, channels: 2 })
  t.is(closed, 2)
  t.is(maxAbsDiff(joinBlocks(got)[0], sig[0].map((v) => v * 0.5)), 0)
  const asyncSource = { openAsync: async () => source.open() }
  t.is((await new StreamingPipeline({ source: asyncSource, sink }).run()).framesProcessed, 5000)
  t.throws(() => new StreamingPipeline({ source: {}, sink }), { code: 'ERR_INVALID_PARAMETER', message: /source/ })
  t.throws(() => new StreamingPipeline({ source, sink: {} }), { code: 'ERR_INVALID_PARAMETER', message: /sink/ })
  const badShape = { open: () => ({ ...source.open(), channels: 3 }) }
  await t.throwsAsync(new StreamingPipeline({ source: badShape, sink }).run(), { code: 'ERR_SHAPE' })
})
