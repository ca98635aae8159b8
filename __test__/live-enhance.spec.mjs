// `enhance` live (issue 4, "GTCRN ... runs live"): GTCRN inside a
// RealtimeProcessor chain and `resonode live --chain "enhance() gain(3db)"`,
// on the clocked `none` backend (no audio hardware or server needed), with
// the real ONNX Runtime and the real model. Runs with the live specs, on its
// own after the suite (ava.realtime.config.mjs): its no-underrun assertion
// measures the worker thread, not other specs' inference next to it.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { lib, asset, cli, readAll, maxAbsDiff, concat } from './helpers.mjs'

const { RealtimeProcessor, StreamingPipeline, FileSource, FileSink, Enhance, Gain, SpeechEnhancer, parseChain, processorKinds } = lib
const RATE = 48000
const BUFFER = 256

/** assets/noisy_speech.wav (real speech in real noise) at 48 kHz, mono, first `seconds`. */
async function noisySpeech(seconds) {
  const parts = []
  const { CallbackSink } = lib
  await new StreamingPipeline({
    source: new FileSource(asset('noisy_speech.wav'), { sampleRate: RATE }),
    sink: new CallbackSink((ch) => parts.push(ch[0])),
  }).run()
  return concat(parts).slice(0, seconds * RATE)
}

test.serial('parseChain accepts enhance() and the Enhance class validates its options', (t) => {
  const chain = parseChain('enhance() gain(3db)')
  t.deepEqual(chain.map((p) => p.kind), ['enhance', 'gain'])
  t.is(parseChain('enhance(mix=50%, margin=30ms)')[0].kind, 'enhance')
  t.true(processorKinds().some((k) => k.name === 'enhance' && k.params.includes('mix')))
  t.is(new Enhance({ mix: 0.5, threads: 1, window: 'periodic' }).kind, 'enhance')
  t.throws(() => new Enhance({ mix: 2 }), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new Enhance({ window: 'hamming' }), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => parseChain('enhance(strength=1)'), { code: 'ERR_INVALID_CHAIN' })
})

test.serial('Enhance + Gain live on the none backend: reports P, equals offline enhancement delayed by P, no worker underruns', async (t) => {
  const x = await noisySpeech(4)
  const rt = new RealtimeProcessor({
    processors: [new Enhance(), new Gain({ db: 3 })],
    backend: 'none',
    // Duplex, like microphone -> chain -> speaker; `noneInput` is the microphone.
    config: { sampleRate: RATE, bufferSize: BUFFER, channelsIn: 1, channelsOut: 1 },
    noneInput: x,
    maxFrames: x.length,
    tapFrames: x.length + 1,
  })
  const audio = []
  const xruns = []
  rt.on('audio', (ch) => audio.push(ch[0]))
  rt.on('xrun', (e) => xruns.push(e))
  const finished = new Promise((r) => rt.once('finished', r))
  await rt.start()
  const p = rt.stats.processingLatencyFrames
  t.is(p, 3844 + 4 * BUFFER) // the enhancer's bound at 48 kHz + 4 buffers
  t.true(Math.abs(rt.stats.processingLatencyMs - p / 48) < 1e-9)
  rt.setParameter('0.mix', 1) // live-changeable, validated up front
  t.throws(() => rt.setParameter('0.mix', 1.5), { code: 'ERR_INVALID_PARAMETER' })
  await finished
  const s = await rt.stop()
  const y = concat(audio)
  t.is(y.length, x.length)
  // The duplex queue primes with 2 buffers: the chain sees 512 frames of
  // silence, then the input; the reference is the offline enhancement of that.
  const prime = 2 * BUFFER
  const seen = new Float32Array(x.length)
  seen.set(x.subarray(0, x.length - prime), prime)
  const offline = (await new SpeechEnhancer().enhance([seen], RATE))[0]
  const g = 10 ** (3 / 20)
  const want = offline.slice(0, x.length - p).map((v) => v * g)
  const err = maxAbsDiff(y.slice(p), want)
  t.log(`P = ${p} frames = ${s.processingLatencyMs.toFixed(2)} ms; max abs error ${err}; worker underruns ${s.workerUnderruns}; worker load ${s.workerLoad.toFixed(3)}; latencyMs ${s.latencyMs.toFixed(1)}; xruns ${s.xruns}`)
  t.true(y.slice(0, p).every((v) => v === 0))
  t.true(err <= 1e-5, `max abs error ${err}`)
  t.is(s.workerUnderruns, 0)
  t.is(s.xruns, 0)
  t.is(xruns.length, 0)
  // The worker asked for real-time scheduling; where this process may have it (root in CI), it got it.
  t.is(s.workerThreads, 1)
  if (spawnSync('chrt', ['-f', '1', 'true']).status === 0) t.is(s.workerRealtimeThreads, 1)
  t.log(`worker threads ${s.workerThreads}, real-time ${s.workerRealtimeThreads}; audio threads real-time ${s.realtimeThreads} (${s.realtimeMechanism})`)
  t.true(s.latencyMs >= s.processingLatencyMs)
})

test.serial('a missing model file fails at start with ERR_NOT_FOUND', async (t) => {
  const rt = new RealtimeProcessor({ processors: [new Enhance({ modelPath: '/nonexistent/gtcrn.onnx' })], backend: 'none', config: { channelsIn: 1, channelsOut: 0 } })
  await t.throwsAsync(() => rt.start(), { code: 'ERR_NOT_FOUND', message: /nonexistent\/gtcrn\.onnx/ })
  t.false(rt.isRunning)
})

test.serial('file pipelines refuse enhance with ERR_INVALID_CHAIN pointing to resonode enhance', async (t) => {
  const p = new StreamingPipeline({ source: new FileSource(asset('noisy_speech.wav')), processors: [new Enhance()], sink: new FileSink('/tmp/resonode-never-written.wav') })
  await t.throwsAsync(() => p.run(), { code: 'ERR_INVALID_CHAIN', message: /resonode enhance/ })
  const r = spawnSync(process.execPath, [cli, 'process', asset('noisy_speech.wav'), '/tmp/resonode-never-written.wav', '--chain', 'enhance()'], { encoding: 'utf8' })
  t.is(r.status, 1)
  t.regex(r.stderr, /^resonode: ERR_INVALID_CHAIN: .*resonode enhance/)
})

test.serial('resonode live --chain "enhance() gain(3db)" runs on the none backend', (t) => {
  const r = spawnSync(process.execPath, [cli, 'live', '--backend', 'none', '--chain', 'enhance() gain(3db)', '--buffer-size', String(BUFFER), '--duration', '1.5', '--json'], { encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const s = JSON.parse(r.stdout)
  t.true(s.framesProcessed > RATE)
  t.true(Math.abs(s.processingLatencyMs - (3844 + 4 * BUFFER) / 48) < 1e-9, `${s.processingLatencyMs}`)
  t.is(s.workerUnderruns, 0)
  t.true(s.latencyMs > s.processingLatencyMs)
})

test.serial('start() and stop() with enhance() in the chain keep the event loop free (delay under 20 ms)', async (t) => {
  const rt = new RealtimeProcessor({ processors: [new Enhance(), new Gain({ db: 0 })], backend: 'none', config: { bufferSize: BUFFER, channelsIn: 1, channelsOut: 1 } })
  const h = monitorEventLoopDelay({ resolution: 1 })
  // A timer that must keep firing while the model loads and the engine starts.
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  h.enable()
  const t0 = performance.now()
  await rt.start()
  const startMs = performance.now() - t0
  h.disable()
  const startMax = h.max / 1e6
  h.reset()
  h.enable()
  const t1 = performance.now()
  await rt.stop()
  const stopMs = performance.now() - t1
  h.disable()
  clearInterval(timer)
  const stopMax = h.max / 1e6
  t.log(`start ${startMs.toFixed(1)} ms (loop delay max ${startMax.toFixed(1)} ms), stop ${stopMs.toFixed(1)} ms (max ${stopMax.toFixed(1)} ms), ticks ${ticks}`)
  t.true(startMax < 20, `event-loop delay ${startMax} ms during start()`)
  t.true(stopMax < 20, `event-loop delay ${stopMax} ms during stop()`)
  // The loop really ran meanwhile (start loads the model: tens of ms at least).
  t.true(ticks >= Math.floor(startMs / 5 / 2), `${ticks} ticks in ${startMs} ms`)
})
