#!/usr/bin/env node
// One real-time measurement in its own process, spawned by bench/realtime.mjs
// (so a library that crashes, blocks or leaks takes only its own run down).
//
//   node bench/realtime-job.mjs '<json spec>'
//
// spec.mode:
//   'load'   resonode RealtimeProcessor running spec.chain; prints its stats.
//   'duplex' a gain-only duplex job (input -> gain -> output) with
//            spec.lib = 'resonode' | 'audify' | 'naudiodon'; prints the
//            library's own counters and, for the libraries that process in
//            JS, the timing of the JS processing callbacks. spec.lib =
//            'pipe' is the control without JS or resonode: `parec | pacat`
//            (PulseAudio's own clients, no gain) beside the same busy loop.
// While it measures, the JS main thread is kept busy (spec.busy): blocks of
// spec.busyBlockMs of CPU work plus allocation (so V8 collects garbage
// often), with one event-loop turn between blocks.
//
// Protocol on stdout: a line `READY <ms>` when the stream runs and the
// measured interval begins, `DONE <ms>` when it ends (ms since the job
// started, for the parent's recording window), and a final line
// `RESULT <json>`. Libraries print their own chatter on stdout too.
import { createRequire } from 'node:module'
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks'

const spec = JSON.parse(process.argv[2])
const require = createRequire(import.meta.url)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const yieldTurn = () => new Promise((r) => setImmediate(r))

// ---------------------------------------------------------------- busy JS
let sink = 0
const retained = new Array(64).fill(null)
/** One block of CPU work with allocation: short-lived objects and arrays
 * (scavenges) and a rotating set of retained ones (old-space growth, so
 * mark-compact collections happen too). */
function busyBlock(ms) {
  const t0 = performance.now()
  let i = 0
  while (performance.now() - t0 < ms) {
    const objs = []
    for (let k = 0; k < 200; k++) objs.push({ k, v: Math.sqrt(k * 1.000001 + i), s: `item-${k}` })
    const arr = new Float64Array(2048)
    for (let k = 0; k < arr.length; k++) arr[k] = Math.sin(k * 0.01 + i)
    sink += objs[i % 200].v + arr[i % 2048]
    if (i % 16 === 0) retained[(i >> 4) % retained.length] = new Array(4096).fill(i)
    i++
  }
  return i
}

/** Runs the measured interval for `seconds`: busy blocks, or idle sleeping. */
async function measuredInterval(seconds) {
  const end = performance.now() + seconds * 1000
  const eld = monitorEventLoopDelay({ resolution: 1 })
  const gcs = []
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(e.duration)
  })
  obs.observe({ entryTypes: ['gc'] })
  eld.enable()
  let blocks = 0
  let busyMs = 0
  while (performance.now() < end) {
    if (spec.busy) {
      const t = performance.now()
      busyBlock(spec.busyBlockMs)
      busyMs += performance.now() - t
      blocks++
      await yieldTurn()
    } else {
      await sleep(Math.min(50, Math.max(1, end - performance.now())))
    }
  }
  eld.disable()
  await yieldTurn()
  obs.disconnect()
  const ms = (ns) => ns / 1e6
  return {
    busy: !!spec.busy,
    blocks,
    busyFraction: busyMs / (seconds * 1000),
    eventLoopDelayP50Ms: ms(eld.percentile(50)),
    eventLoopDelayP99Ms: ms(eld.percentile(99)),
    eventLoopDelayMaxMs: ms(eld.max),
    gcCount: gcs.length,
    gcTotalMs: gcs.reduce((a, b) => a + b, 0),
    gcMaxMs: gcs.length ? Math.max(...gcs) : 0,
  }
}

// ---------------------------------------------------------- timing stats
function quantile(sorted, q) {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]
}

/**
 * Timing of the JS processing callbacks (ms timestamps, one per buffer):
 * the intervals between them, and each one's lateness against the ideal
 * schedule (first callback + k buffer periods, anchored at the earliest).
 */
function callbackTiming(stamps, periodMs) {
  if (stamps.length < 3) return { callbacks: stamps.length }
  const iv = []
  for (let i = 1; i < stamps.length; i++) iv.push(stamps[i] - stamps[i - 1])
  const mean = iv.reduce((a, b) => a + b, 0) / iv.length
  const sd = Math.sqrt(iv.reduce((a, b) => a + (b - mean) ** 2, 0) / iv.length)
  const sorted = [...iv].sort((a, b) => a - b)
  let anchor = Infinity
  for (let k = 0; k < stamps.length; k++) anchor = Math.min(anchor, stamps[k] - k * periodMs)
  const late = stamps.map((t, k) => t - k * periodMs - anchor).sort((a, b) => a - b)
  return {
    callbacks: stamps.length,
    intervalMeanMs: mean,
    intervalSdMs: sd,
    intervalP50Ms: quantile(sorted, 0.5),
    intervalP99Ms: quantile(sorted, 0.99),
    intervalMaxMs: sorted[sorted.length - 1],
    latenessP50Ms: quantile(late, 0.5),
    latenessP99Ms: quantile(late, 0.99),
    latenessMaxMs: late[late.length - 1],
    // Callbacks whose JS processing came more than one buffer period after
    // the previous one's: each is a buffer the device may have needed before
    // JS produced it.
    intervalsOverPeriod: iv.filter((d) => d > periodMs * 1.5).length,
  }
}

const t00 = performance.now()
const stamp = () => performance.now() - t00
const say = (line) => process.stdout.write(`${line}\n`)

// ------------------------------------------------------------------ jobs
async function resonodeJob() {
  const api = require(spec.dist)
  const processors = spec.mode === 'load' ? api.parseChain(spec.chain) : [new api.Gain({ db: spec.gainDb })]
  const config = { sampleRate: spec.sampleRate, bufferSize: spec.bufferSize, channelsIn: 2, channelsOut: 2, latency: spec.latency }
  if (spec.backend !== 'none') {
    config.inputDevice = spec.inputDevice
    config.outputDevice = spec.outputDevice
  }
  const rt = new api.RealtimeProcessor({ processors, backend: spec.backend, config })
  let xrunEvents = 0
  rt.on('xrun', () => xrunEvents++)
  rt.on('error', () => {})
  await rt.start()
  await sleep(spec.warmupS * 1000)
  const before = rt.stats
  say(`READY ${stamp()}`)
  const js = await measuredInterval(spec.seconds)
  say(`DONE ${stamp()}`)
  const after = await rt.stop()
  const resolved = rt.config
  return { lib: 'resonode', before, stats: after, xrunEvents, js, config: resolved }
}

async function audifyJob() {
  const { RtAudio, RtAudioApi } = require(spec.module)
  const rt = new RtAudio(RtAudioApi.LINUX_PULSE)
  const devices = rt.getDevices()
  const out = devices.find((d) => d.name === spec.audifyOutputName && d.outputChannels >= 2)
  const inp = devices.find((d) => d.name === spec.audifyInputName && d.inputChannels >= 2)
  if (!out || !inp) throw new Error(`audify: devices not found (have ${devices.map((d) => d.name).join(', ')})`)
  const N = spec.bufferSize
  const bytes = N * 2 * 4
  const g = 10 ** (spec.gainDb / 20)
  const stamps = []
  let measuring = false
  let inputs = 0
  let consumed = 0
  let written = 0
  const errors = []
  rt.openStream(
    { deviceId: out.id, nChannels: 2, firstChannel: 0 },
    { deviceId: inp.id, nChannels: 2, firstChannel: 0 },
    0x10, // RTAUDIO_FLOAT32
    spec.sampleRate,
    N,
    'resonode-bench-audify',
    (buf) => {
      // JS in the audio path: every input buffer comes here, is scaled and
      // queued for output.
      inputs++
      if (measuring) stamps.push(performance.now())
      const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))
      for (let i = 0; i < x.length; i++) x[i] *= g
      rt.write(Buffer.from(x.buffer))
      written++
    },
    () => {
      consumed++
    },
    0,
    (type, msg) => errors.push(`${type}: ${msg}`),
  )
  // The same queue of silence resonode's balanced duplex primes with.
  for (let i = 0; i < spec.primeBuffers; i++) {
    rt.write(Buffer.alloc(bytes))
    written++
  }
  rt.start()
  await sleep(spec.warmupS * 1000)
  const at0 = { inputs, consumed, written }
  measuring = true
  say(`READY ${stamp()}`)
  const js = await measuredInterval(spec.seconds)
  measuring = false
  say(`DONE ${stamp()}`)
  const at1 = { inputs, consumed, written }
  rt.stop()
  await sleep(200) // deliver the callbacks still queued for JS
  const latencyFrames = rt.getStreamLatency()
  rt.closeStream()
  // Every device callback posts one input buffer to JS and either plays a
  // queued buffer (posting a frame-output callback) or plays silence.
  const deviceCallbacks = at1.inputs - at0.inputs
  const played = at1.consumed - at0.consumed
  return {
    lib: 'audify',
    version: require(`${spec.module}/package.json`).version,
    deviceCallbacks,
    starvedCallbacks: Math.max(0, deviceCallbacks - played),
    queuedAtEnd: at1.written - at1.consumed,
    streamLatencyFrames: latencyFrames,
    errors: errors.slice(0, 5),
    errorCount: errors.length,
    timing: callbackTiming(stamps, (N / spec.sampleRate) * 1000),
    js,
  }
}

async function naudiodonJob() {
  const { Transform } = await import('node:stream')
  const pa = require(spec.module)
  const devices = pa.getDevices()
  const dev = devices.find((d) => d.name === spec.naudiodonDevice)
  if (!dev) throw new Error(`naudiodon: device ${spec.naudiodonDevice} not found (have ${devices.map((d) => d.name).join(', ')})`)
  const N = spec.bufferSize
  const bytes = N * 2 * 4
  const g = 10 ** (spec.gainDb / 20)
  // One buffer per JS read (stream highWaterMark). With naudiodon's default
  // (16384 bytes = 2048 frames) a duplex stream deadlocks: the read waits
  // for 8 input buffers, the input queue holds 2, and the audio callback
  // blocks until JS has written output.
  const opts = {
    channelCount: 2,
    sampleFormat: pa.SampleFormatFloat32,
    sampleRate: spec.sampleRate,
    deviceId: dev.id,
    framesPerBuffer: N,
    highwaterMark: bytes,
    closeOnError: false,
  }
  const io = pa.AudioIO({ inOptions: { ...opts }, outOptions: { ...opts } })
  const stamps = []
  let measuring = false
  let chunks = 0
  const gain = new Transform({
    highWaterMark: bytes,
    transform(chunk, _enc, cb) {
      // JS in the audio path.
      chunks++
      if (measuring) stamps.push(performance.now())
      const x = new Float32Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length))
      for (let i = 0; i < x.length; i++) x[i] *= g
      cb(null, Buffer.from(x.buffer))
    },
  })
  io.on('error', () => {})
  for (let i = 0; i < spec.primeBuffers; i++) io.write(Buffer.alloc(bytes))
  io.pipe(gain).pipe(io)
  io.start()
  await sleep(spec.warmupS * 1000)
  measuring = true
  say(`READY ${stamp()}`)
  const js = await measuredInterval(spec.seconds)
  measuring = false
  say(`DONE ${stamp()}`)
  io.unpipe(gain)
  gain.unpipe(io)
  // (naudiodon's abort() throws: its native quit wants an argument.)
  await Promise.race([io.quit(), sleep(2000)])
  return {
    lib: 'naudiodon',
    version: require(`${spec.module}/package.json`).version,
    chunks,
    timing: callbackTiming(stamps, (N / spec.sampleRate) * 1000),
    js,
  }
}

async function pipeJob() {
  const { spawn } = await import('node:child_process')
  const fmt = `--raw --format=float32le --rate=${spec.sampleRate} --channels=2 --latency-msec=${spec.pipeLatencyMs}`
  const p = spawn('sh', ['-c', `parec ${fmt} --device=${spec.inputDevice} --client-name=resonode-bench-pipe | pacat --playback ${fmt} --device=${spec.outputDevice} --client-name=resonode-bench-pipe`], {
    stdio: 'ignore',
    detached: true,
  })
  await sleep(spec.warmupS * 1000)
  say(`READY ${stamp()}`)
  const js = await measuredInterval(spec.seconds)
  say(`DONE ${stamp()}`)
  process.kill(-p.pid, 'SIGTERM')
  return { lib: 'pipe', latencyMsec: spec.pipeLatencyMs, js }
}

const jobs = { resonode: resonodeJob, audify: audifyJob, naudiodon: naudiodonJob, pipe: pipeJob }
try {
  const r = await jobs[spec.mode === 'load' ? 'resonode' : spec.lib]()
  r.sink = sink > 0 ? 1 : 0
  say(`RESULT ${JSON.stringify(r)}`)
  // naudiodon's and audify's native threads can keep a process alive.
  setTimeout(() => process.exit(0), 100)
} catch (e) {
  say(`RESULT ${JSON.stringify({ error: String(e && e.stack ? e.stack : e) })}`)
  setTimeout(() => process.exit(0), 100)
}
