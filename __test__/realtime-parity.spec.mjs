// API parity of the real-time engine (issue 13), on the clocked `none`
// backend (no audio server): state and 'statechange' order, pull reads
// (`read()`) of a known signal through a known chain, time-outs, the
// streaming context, stats and refused option keys. The same reads on a
// real loopback are in realtime.spec.mjs.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { lib, root, asset, readAll, concat } from './helpers.mjs'

const native = createRequire(import.meta.url)(join(root, 'index.js'))
const { RealtimeProcessor, MicrophoneSource, Gain, StreamingContext, listDevices, testDevice, resolveStreamConfig } = lib

process.env.RESONODE_TEST_PROCESSORS = '1'

// A real recording (16 kHz mono speech), played in a loop by the `none`
// backend; read() must return it through Gain({ linear: 0.5 }) sample for
// sample (a product by 0.5 is exact in float32).
const RATE = 16000
const speech = (await readAll(asset('speech.wav'))).channels[0]
const LOOP = 12000
// A loud part, so that an offset or a gap cannot go unnoticed.
const input = speech.slice(16000, 16000 + LOOP)

/** The engine's output at frames [from, from + n): the looped input times 0.5. */
function expected(from, n) {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = input[(from + i) % LOOP] * 0.5
  return out
}

function sameSamples(t, got, want, what) {
  t.is(got.length, want.length, `${what}: length`)
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) return t.fail(`${what}: frame ${i} is ${got[i]}, expected ${want[i]}`)
  }
  t.pass()
}

/**
 * An input-only engine (its tap is the chain's output frame for frame, no
 * duplex queue in between), with a read buffer of 4 s: a loaded machine's
 * stall of the JS thread drops nothing.
 */
function speechEngine(extra = {}) {
  return new RealtimeProcessor({
    processors: [new Gain({ linear: 0.5 })],
    backend: 'none',
    config: { sampleRate: RATE, bufferSize: 256, channelsIn: 1, channelsOut: 0 },
    noneInput: input,
    readBufferFrames: 4 * RATE,
    ...extra,
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('state: idle -> starting -> running before start() resolves, stopping -> stopped before stop() resolves', async (t) => {
  const rt = speechEngine()
  t.is(rt.state, 'idle')
  const log = []
  rt.on('statechange', (c) => {
    t.is(rt.state, c.state, 'state already holds the new value')
    log.push(`${c.previous}>${c.state}`)
  })
  const started = rt.start()
  t.is(rt.state, 'starting')
  await t.throwsAsync(rt.start(), { code: 'ERR_INVALID_STATE' }, 'start while starting')
  await started
  log.push('start() resolved')
  t.is(rt.state, 'running')
  t.true(rt.isRunning)
  await t.throwsAsync(rt.start(), { code: 'ERR_INVALID_STATE' }, 'start while running')
  const stopped = rt.stop()
  t.is(rt.state, 'stopping')
  const s = await stopped
  log.push('stop() resolved')
  t.deepEqual(log, ['idle>starting', 'starting>running', 'start() resolved', 'running>stopping', 'stopping>stopped', 'stop() resolved'])
  t.false(rt.isRunning)
  // stop after stop: the same final stats, no state change.
  const again = await rt.stop()
  t.is(again.framesProcessed, s.framesProcessed)
  t.is(log.length, 6)
  // stopped may start again.
  await rt.start()
  t.is(rt.state, 'running')
  await rt.stop()
  t.deepEqual(log.slice(6), ['stopped>starting', 'starting>running', 'running>stopping', 'stopping>stopped'])
})

test('state: stop() before start() and read() before start() are ERR_INVALID_STATE; a failed start() is state error', async (t) => {
  const rt = speechEngine()
  await t.throwsAsync(rt.stop(), { code: 'ERR_INVALID_STATE' })
  await t.throwsAsync(rt.read(256), { code: 'ERR_INVALID_STATE' })
  t.is(rt.state, 'idle')
  const bad = new RealtimeProcessor({ processors: [new lib.Normalize()], backend: 'none' })
  const changes = []
  bad.on('statechange', (c) => changes.push(c))
  const err = await t.throwsAsync(bad.start(), { code: 'ERR_INVALID_PARAMETER' })
  t.is(bad.state, 'error')
  t.deepEqual(changes.map((c) => c.state), ['starting', 'error'])
  t.is(changes[1].error, err)
  await t.throwsAsync(bad.stop(), { code: 'ERR_INVALID_STATE' })
})

test('state: finishing by itself (maxFrames) moves to stopped before the finished event; a failure moves to error', async (t) => {
  const rt = speechEngine({ maxFrames: 2560 })
  const order = []
  rt.on('statechange', (c) => order.push(c.state))
  const finished = new Promise((r) => rt.once('finished', (s) => r({ s, state: rt.state, order: [...order] })))
  await rt.start()
  const f = await finished
  t.is(f.state, 'stopped')
  t.deepEqual(f.order, ['starting', 'running', 'stopped'])
  t.is(f.s.framesProcessed, 2560)
  t.false(rt.isRunning)
  // stop() after 'finished' collects the final stats without a state change.
  const s = await rt.stop()
  t.is(s.framesProcessed, 2560)
  t.deepEqual(order, ['starting', 'running', 'stopped'])

  // A panic in the callback without autoRestart: the engine fails and finishes -> error, with the panic's error.
  const failing = new RealtimeProcessor({ processors: [...lib.parseChain('panic()')], backend: 'none', config: { bufferSize: 256, channelsOut: 1 }, autoRestart: false })
  const changes = []
  failing.on('statechange', (c) => changes.push(c))
  failing.on('error', () => {})
  const done = new Promise((r) => failing.once('finished', r))
  await failing.start()
  failing.setParameter('0.armed', 1)
  const fs = await done
  t.true(fs.failed)
  t.is(failing.state, 'error')
  const last = changes.at(-1)
  t.is(last.state, 'error')
  t.is(last.error.code, 'ERR_INTERNAL')
  await failing.stop()
  t.is(failing.state, 'error')
})

test('read(): exactly the known signal through Gain({ linear: 0.5 }), sample for sample, across the loop boundary', async (t) => {
  const rt = speechEngine()
  await rt.start()
  const blocks = []
  for (let i = 0; i < 8; i++) {
    const b = await rt.read(4000, { timeoutMs: 5000 })
    t.truthy(b, `block ${i} came`)
    t.is(b.length, 1)
    t.true(b[0] instanceof Float32Array)
    blocks.push(b[0])
  }
  const s = await rt.stop()
  sameSamples(t, concat(blocks), expected(0, 32000), 'read blocks')
  t.is(s.readDropped, 0)
  t.is(s.tapDropped, 0)
})

test("read() and 'audio' events have separate cursors: both see every frame", async (t) => {
  const rt = speechEngine({ maxFrames: 9600 })
  const events = []
  rt.on('audio', (ch) => events.push(ch[0]))
  const finished = new Promise((r) => rt.once('finished', r))
  await rt.start()
  const read = []
  for (let i = 0; i < 4; i++) read.push((await rt.read(2400, { timeoutMs: 5000 }))[0])
  await finished
  await sleep(100)
  sameSamples(t, concat(read), expected(0, 9600), 'read()')
  sameSamples(t, concat(events), expected(0, 9600), "'audio' events")
})

test('read(): concurrent calls are served in call order', async (t) => {
  const rt = speechEngine()
  await rt.start()
  const sizes = [1000, 3000, 256, 4744, 2000]
  const blocks = await Promise.all(sizes.map((n) => rt.read(n, { timeoutMs: 10_000 })))
  await rt.stop()
  t.deepEqual(blocks.map((b) => b[0].length), sizes)
  sameSamples(t, concat(blocks.map((b) => b[0])), expected(0, 11000), 'concurrent reads')
})

test('read(): null on time-out takes nothing; null once the engine finished and too few frames are left', async (t) => {
  const rt = speechEngine({ maxFrames: 12800 })
  const finished = new Promise((r) => rt.once('finished', r))
  await rt.start()
  // More frames than the engine will ever make.
  const t0 = performance.now()
  t.is(await rt.read(2 * RATE, { timeoutMs: 50 }), null)
  t.true(performance.now() - t0 >= 45, 'it waited for the time-out')
  // The time-out took nothing: the next read starts at frame 0.
  sameSamples(t, (await rt.read(1000, { timeoutMs: 5000 }))[0], expected(0, 1000), 'after the time-out')
  await finished
  t.is(rt.state, 'stopped')
  // Finished: what is buffered is still read, then null at once (no frame can come), whatever the time-out.
  sameSamples(t, (await rt.read(11400, { timeoutMs: 0 }))[0], expected(1000, 11400), 'buffered after finished')
  const t1 = performance.now()
  t.is(await rt.read(401, { timeoutMs: 10_000 }), null)
  t.is(await rt.read(401), null)
  t.true(performance.now() - t1 < 5000)
  sameSamples(t, (await rt.read(400))[0], expected(12400, 400), 'the last frames')
})

test('read() after stop(): buffered frames are drained, then ERR_INVALID_STATE; a read pending at stop() resolves with null', async (t) => {
  const rt = speechEngine()
  await rt.start()
  while (rt.stats.framesProcessed < 3000) await sleep(10)
  const pending = rt.read(RATE) // no time-out: waits for a whole second
  await sleep(20)
  const s = await rt.stop()
  t.is(await pending, null)
  t.true(s.framesProcessed >= 3000)
  sameSamples(t, (await rt.read(2000))[0], expected(0, 2000), 'drained after stop')
  await t.throwsAsync(rt.read(Math.min(s.framesProcessed, 4 * RATE)), { code: 'ERR_INVALID_STATE' })
  // A new run starts with an empty buffer, from the signal's first frame.
  await rt.start()
  sameSamples(t, (await rt.read(512, { timeoutMs: 5000 }))[0], expected(0, 512), 'after a restart')
  await rt.stop()
})

test('read(): a full buffer drops its oldest frames and counts them in readDropped', async (t) => {
  const rt = speechEngine({ maxFrames: 8192, readBufferFrames: 2048 })
  const finished = new Promise((r) => rt.once('finished', r))
  await rt.start()
  await finished
  const s = await rt.stop()
  t.is(s.framesProcessed, 8192)
  t.is(s.readDropped, 8192 - 2048)
  // The latest 2048 frames are kept; stop() was called, so a read they cannot serve is refused.
  sameSamples(t, (await rt.read(2048))[0], expected(8192 - 2048, 2048), 'the latest frames')
  await t.throwsAsync(rt.read(1), { code: 'ERR_INVALID_STATE' })
})

test('read(): waiting reads hold no libuv pool thread: fs still answers while 8 reads wait', async (t) => {
  // 8 engines, one read each waiting for 4 s of audio (the facade serves one
  // read of an engine at a time, so concurrent native reads need separate
  // engines) with a 3 s time-out: none can be served in time. A read that
  // blocked a pool thread (UV_THREADPOOL_SIZE: 4 by default) would hold the
  // whole pool for 3 s, and readFile would wait for it.
  const engines = Array.from({ length: 8 }, () => speechEngine())
  await Promise.all(engines.map((e) => e.start()))
  const t0 = performance.now()
  const reads = engines.map((e) => e.read(4 * RATE, { timeoutMs: 3000 }))
  await sleep(100)
  const f0 = performance.now()
  const bytes = await readFile(asset('speech.wav'))
  const took = performance.now() - f0
  t.true(bytes.length > 0)
  t.true(took < 1000, `fs.promises.readFile took ${took.toFixed(0)} ms while the reads waited`)
  t.deepEqual(await Promise.all(reads), Array(8).fill(null), 'all timed out')
  t.true(performance.now() - t0 >= 2950, 'they waited for their time-out')
  // The time-out took nothing: each engine's next read starts at frame 0.
  for (const e of engines) sameSamples(t, (await e.read(1000, { timeoutMs: 5000 }))[0], expected(0, 1000), 'after the time-out')
  await Promise.all(engines.map((e) => e.stop()))
})

test('native read(): concurrent reads are served strictly in call order; a timed-out one takes nothing; stop() settles the rest', async (t) => {
  // The binding itself (no facade queue): the reads wait in the read buffer.
  const messages = []
  const rt = await native.startRealtime(
    { sampleRate: RATE, bufferSize: 256, channelsIn: 1, channelsOut: 0 },
    [new Gain({ linear: 0.5 }).desc],
    'none',
    { tapFrames: RATE, noneInput: input, emitAudio: false, readBufferFrames: 4 * RATE },
    (m) => messages.push(m),
  )
  const t0 = performance.now()
  const first = rt.read(4 * RATE, 100) // cannot come in 100 ms: null, takes nothing
  const second = rt.read(1000, 5000) // waits behind the first, then gets frame 0 on
  const third = rt.read(500) // no time-out
  const tooLate = rt.read(4 * RATE) // pending at stop(): null
  t.is(await first, null)
  t.true(performance.now() - t0 >= 95, 'the first waited for its time-out')
  sameSamples(t, (await second)[0], expected(0, 1000), 'second')
  sameSamples(t, (await third)[0], expected(1000, 500), 'third')
  // Time-outs of 0 and of more than a Duration holds.
  t.is(await rt.read(4 * RATE, 0), null)
  const afterStop = rt.read(4 * RATE, 1e300)
  await rt.stop()
  t.is(await tooLate, null)
  t.is(await afterStop, null)
  t.throws(() => rt.read(0), { message: /ERR_INVALID_PARAMETER.*frames/ })
  t.throws(() => rt.read(1, -1), { message: /ERR_INVALID_PARAMETER.*timeoutMs/ })
})

test('read(): output channels for output and duplex engines, and argument checks', async (t) => {
  const rt = new RealtimeProcessor({ processors: [new Gain({ db: -6 })], backend: 'none', config: { bufferSize: 128, channelsOut: 2 }, readBufferFrames: 4800 })
  await rt.start()
  const b = await rt.read(480, { timeoutMs: 5000 })
  t.is(b.length, 2)
  t.true(b.every((c) => c.length === 480 && c.every((v) => v === 0)), 'silence in, silence out')
  for (const frames of [0, -1, 1.5, NaN, 4801, '480']) await t.throwsAsync(rt.read(frames), { code: 'ERR_INVALID_PARAMETER' }, `frames ${frames}`)
  for (const timeoutMs of [-1, Infinity, NaN, '5']) await t.throwsAsync(rt.read(480, { timeoutMs }), { code: 'ERR_INVALID_PARAMETER' }, `timeoutMs ${timeoutMs}`)
  await t.throwsAsync(rt.read(480, { timeout: 5 }), { code: 'ERR_INVALID_PARAMETER', message: /timeout.*timeoutMs/ })
  await rt.stop()
  // Duplex: the tap is the output (2 channels), not the input (1).
  const duplex = new RealtimeProcessor({ backend: 'none', config: { bufferSize: 128, channelsIn: 1, channelsOut: 2 }, noneInput: new Float32Array(128).fill(0.25) })
  await duplex.start()
  const d = await duplex.read(2400, { timeoutMs: 5000 })
  await duplex.stop()
  t.is(d.length, 2)
  t.true(d.every((c) => c.length === 2400))
  t.true(d[0].some((v) => v === 0.25), 'the input reaches the output')
  const off = new RealtimeProcessor({ backend: 'none', config: { channelsOut: 1 }, readBufferFrames: 0 })
  await off.start()
  await t.throwsAsync(off.read(1), { code: 'ERR_INVALID_STATE' })
  await off.stop()
})

test('context: the resolved configuration, from construction', (t) => {
  const out = new RealtimeProcessor({ backend: 'none', config: { sampleRate: 44100, bufferSize: 256, channelsIn: 1, channelsOut: 2 } })
  t.true(out.context instanceof StreamingContext)
  t.deepEqual(out.context.toJSON(), { sampleRate: 44100, channels: 2, chunkSize: 256, chunkDurationMs: (256 / 44100) * 1000 })
  const inOnly = new RealtimeProcessor({ backend: 'none', config: { channelsIn: 3, channelsOut: 0 } })
  t.like(inOnly.context, { sampleRate: 48000, channels: 3, chunkSize: 512 })
  t.is(inOnly.context.chunkDurationMs, (512 / 48000) * 1000)
  t.like(new MicrophoneSource({ channels: 2, sampleRate: 16000, bufferSize: 160, backend: 'none' }).context, { sampleRate: 16000, channels: 2, chunkSize: 160, chunkDurationMs: 10 })
  t.throws(() => new RealtimeProcessor({ config: { bufferSize: 0 } }), { code: 'ERR_INVALID_PARAMETER' })
})

test("stats: readDropped and the process's CPU time and memory; 'stats' events while running", async (t) => {
  const rt = speechEngine({ statsIntervalMs: 50, readBufferFrames: 2 ** 24 })
  const seen = []
  rt.on('stats', (s) => seen.push(s))
  const seconds = (u) => (u.user + u.system) / 1e6
  const beforeStart = process.cpuUsage()
  await rt.start()
  const started = process.cpuUsage()
  // CPU work on this thread (0.2 s of CPU time, however long that takes on a loaded machine).
  let x = 0
  while (seconds(process.cpuUsage(started)) < 0.2) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i)
  await sleep(300)
  const live = rt.stats
  const beforeStop = process.cpuUsage(started)
  const s = await rt.stop()
  const sinceBeforeStart = process.cpuUsage(beforeStart)
  const n = seen.length
  await sleep(200)
  t.is(seen.length, n, "no 'stats' event after stop()")
  t.true(n >= 2, `${n} 'stats' events in > 0.3 s at 50 ms`)
  for (let i = 1; i < n; i++) t.true(seen[i].framesProcessed >= seen[i - 1].framesProcessed)
  for (const v of [live, s, ...seen]) {
    t.true(Number.isFinite(v.cpuTimeS) && v.cpuTimeS >= 0)
    t.true(v.rssBytes > 1e6)
    t.true(v.peakRssBytes >= v.rssBytes, `peak ${v.peakRssBytes} >= rss ${v.rssBytes}`)
    t.is(v.readDropped, 0)
  }
  // The process's CPU time since start(): at least what it used between start() resolving and stop(), at
  // most what it used from before start() to after stop() (getrusage has µs resolution).
  t.true(s.cpuTimeS >= seconds(beforeStop) - 1e-6, `cpuTimeS ${s.cpuTimeS} >= ${seconds(beforeStop)}`)
  t.true(s.cpuTimeS <= seconds(sinceBeforeStart) + 1e-6, `cpuTimeS ${s.cpuTimeS} <= ${seconds(sinceBeforeStart)}`)
  t.true(live.cpuTimeS <= s.cpuTimeS)
  // The final stats are frozen.
  t.deepEqual(rt.stats, s)
  const quiet = speechEngine({ statsIntervalMs: 0, maxFrames: 4096 })
  let quietEvents = 0
  quiet.on('stats', () => quietEvents++)
  const finished = new Promise((r) => quiet.once('finished', r))
  await quiet.start()
  await finished
  await quiet.stop()
  t.is(quietEvents, 0)
})

test('unknown option keys are refused, naming the key', async (t) => {
  const bad = { code: 'ERR_INVALID_PARAMETER' }
  t.throws(() => new RealtimeProcessor({ processor: [] }), { ...bad, message: /`processor`.*processors/ })
  t.throws(() => new RealtimeProcessor({ config: { sampleRates: 48000 } }), { ...bad, message: /sampleRates/ })
  t.throws(() => new RealtimeProcessor({ readBufferFrames: -1 }), bad)
  t.throws(() => new RealtimeProcessor({ readBufferFrames: 2 ** 24 + 1 }), bad)
  t.throws(() => new RealtimeProcessor({ statsIntervalMs: Infinity }), bad)
  t.throws(() => resolveStreamConfig({ channels: 2 }), { ...bad, message: /`channels`/ })
  t.throws(() => new MicrophoneSource({ chanels: 1 }), { ...bad, message: /chanels/ })
  await t.throwsAsync(listDevices({ backend: 'none', filters: 'input' }), { ...bad, message: /filters/ })
  await t.throwsAsync(testDevice(undefined, { duration: 1, backend: 'none' }), { ...bad, message: /duration/ })
})

test('MicrophoneSource on its own: start(), read() of exact blocks, durationS, stop(), state', async (t) => {
  const mic = new MicrophoneSource({ backend: 'none', channels: 2, sampleRate: RATE, bufferSize: 160, durationS: 0.5 })
  t.is(mic.state, 'idle')
  await t.throwsAsync(mic.read(160), { code: 'ERR_INVALID_STATE' })
  await t.throwsAsync(mic.stop(), { code: 'ERR_INVALID_STATE' })
  const states = []
  mic.on('statechange', (c) => states.push(c.state))
  await mic.start()
  t.is(mic.state, 'running')
  await t.throwsAsync(mic.start(), { code: 'ERR_INVALID_STATE' })
  // The `none` backend captures silence: 2 channels of zeros, exactly as long as asked.
  const blocks = []
  for (let i = 0; i < 5; i++) blocks.push(await mic.read(1600, { timeoutMs: 5000 }))
  for (const b of blocks) {
    t.is(b.length, 2)
    t.true(b.every((c) => c.length === 1600 && c.every((v) => v === 0)))
  }
  // 0.5 s = 8000 frames: the next block would cross it.
  t.is(await mic.read(1), null)
  t.is(mic.state, 'stopped')
  const s = await mic.stop()
  t.true(s.framesProcessed >= 8000)
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped'])
  // It can start again, with its duration counted anew.
  await mic.start()
  t.is((await mic.read(8000, { timeoutMs: 5000 }))[0].length, 8000)
  t.is(await mic.read(1), null)
  await mic.stop()
})
