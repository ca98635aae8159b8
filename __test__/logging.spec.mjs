// Issue 13, "debug logging": RESONODE_LOG / setLogLevel / setLogger. The
// records come from the real jobs (a file pipeline, the clocked `none`
// engine, a GTCRN model load on the real ONNX Runtime), in child processes
// for the environment variable (it is read when the addon loads) and
// in-process for the hook.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, tempDir, writeWav, testSignal } from './helpers.mjs'

const { StreamingPipeline, FileSource, FileSink, Gain, RealtimeProcessor, setLogLevel, setLogger } = lib

const RATE = 48000
const FRAMES = 24000
const dir = tempDir()
const input = writeWav(join(dir, 'in.wav'), testSignal(2, FRAMES, RATE), RATE)
const gtcrn = join(root, 'models', 'gtcrn', 'gtcrn_simple.onnx')
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

// The child: a file pipeline job, a `none`-backend engine start/stop and a
// GTCRN load (by enhancing 0.1 s of silence), then exit.
const CHILD = `
const { StreamingPipeline, FileSource, FileSink, Gain, RealtimeProcessor, SpeechEnhancer } = require(${JSON.stringify(join(root, 'dist', 'index.js'))})
;(async () => {
  await new StreamingPipeline({ source: new FileSource(${JSON.stringify(input)}), processors: [new Gain({ db: -3 })], sink: new FileSink(${JSON.stringify(join(dir, 'child-out.wav'))}), chunkSize: 4096 }).run()
  const rt = new RealtimeProcessor({ processors: [new Gain({ db: -3 })], backend: 'none', config: { sampleRate: ${RATE}, bufferSize: 256, channelsIn: 0, channelsOut: 2 } })
  await rt.start()
  await new Promise((r) => setTimeout(r, 100))
  await rt.stop()
  await new SpeechEnhancer({ modelPath: ${JSON.stringify(gtcrn)}, threads: 1 }).enhance([new Float32Array(1600)], 16000)
})().catch((e) => { console.error('CHILD FAILED', e); process.exit(1) })
`

function child(env) {
  const base = { ...process.env }
  delete base.RESONODE_LOG
  const r = spawnSync(process.execPath, ['-e', CHILD], { encoding: 'utf8', env: { ...base, ...env }, timeout: 120_000 })
  return { status: r.status, stderr: r.stderr, lines: r.stderr.split('\n').filter((l) => l.startsWith('resonode ')) }
}

test('RESONODE_LOG=debug logs the job, the stream open and the model load on stderr', (t) => {
  const { status, stderr, lines } = child({ RESONODE_LOG: 'debug' })
  t.is(status, 0, stderr)
  const has = (re, what) => t.true(lines.some((l) => re.test(l)), `${what} missing in:\n${lines.join('\n')}`)
  has(new RegExp(`^resonode DEBUG resonode::pipeline: job start: .*in\\.wav \\(${RATE} Hz, 2 ch, ${FRAMES} frames\\), chain \\[gain\\], chunks of 4096 frames`), 'job start')
  has(new RegExp(`^resonode DEBUG resonode::pipeline: job end: ${FRAMES} frames in 6 chunks \\(0\\.500 s of audio\\)`), 'job end')
  has(/^resonode DEBUG resonode::device: clocked `none` backend: 48000 Hz, 0 in \/ 2 out ch, 256 frames per period/, 'the none stream open')
  has(/^resonode DEBUG resonode::device: engine started: backend none \(requested none\), Output, 48000 Hz, 0 in \/ 2 out ch, buffer 256 frames \(requested 256\), chain \[gain\]/, 'engine start')
  has(/^resonode DEBUG resonode::device: engine stopped \(streams closed\)/, 'engine stop')
  has(/^resonode DEBUG resonode::ml: ONNX Runtime \S+ loaded from /, 'runtime resolution')
  has(new RegExp(`^resonode DEBUG resonode::ml: loaded model ${gtcrn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} on cpu \\(1 intra-op thread`), 'model load with its path')
  // Debug level: no trace records; only resonode's own targets.
  t.false(lines.some((l) => / TRACE /.test(l)), lines.join('\n'))
  t.true(lines.every((l) => /^resonode (ERROR|WARN|INFO|DEBUG) resonode::/.test(l)), lines.join('\n'))
})

test('without RESONODE_LOG nothing is logged; an invalid value warns once and keeps warn', (t) => {
  const quiet = child({})
  t.is(quiet.status, 0, quiet.stderr)
  t.deepEqual(quiet.lines, [], quiet.stderr)
  t.false(quiet.stderr.includes('resonode::'), quiet.stderr)

  const bad = child({ RESONODE_LOG: 'chatty' })
  t.is(bad.status, 0, bad.stderr)
  const warnings = bad.stderr.split('\n').filter((l) => l.includes('RESONODE_LOG'))
  t.deepEqual(warnings, ['resonode: invalid RESONODE_LOG="chatty": `chatty` is not a level (off, error, warn, info, debug, trace); using `warn`'])
  t.false(bad.stderr.includes('resonode::'), bad.stderr)
})

test('a per-target filter logs that target only', (t) => {
  const { status, stderr, lines } = child({ RESONODE_LOG: 'resonode::device=debug,warn' })
  t.is(status, 0, stderr)
  t.true(lines.some((l) => l.startsWith('resonode DEBUG resonode::device: engine started')), stderr)
  t.true(lines.every((l) => l.startsWith('resonode DEBUG resonode::device: ')), lines.join('\n'))
})

/** Waits until `done()` or `ms` have passed, letting queued records arrive. */
async function until(done, ms = 10_000) {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
}

async function pipelineJob(name) {
  const out = join(dir, name)
  await new StreamingPipeline({ source: new FileSource(input), processors: [new Gain({ db: -6 })], sink: new FileSink(out), chunkSize: 8192 }).run()
  return out
}

test.serial('setLogger receives the records on the JS thread; setLogLevel off silences them', async (t) => {
  const records = []
  setLogger((r) => records.push(r))
  t.teardown(() => {
    setLogger(null)
    setLogLevel('warn')
  })
  setLogLevel('debug')
  const before = Date.now()
  await pipelineJob('hooked.wav')
  const after = Date.now()
  const ofJob = () => records.filter((r) => r.target === 'resonode::pipeline' && r.message.includes('in.wav'))
  await until(() => records.some((r) => r.message.startsWith('job end')))
  const start = ofJob().find((r) => r.message.startsWith('job start'))
  t.truthy(start, JSON.stringify(records))
  t.deepEqual(Object.keys(start).sort(), ['level', 'message', 'target', 'timestampMs'])
  t.is(start.level, 'debug')
  t.true(start.timestampMs >= before - 1 && start.timestampMs <= after + 1, `${before} <= ${start.timestampMs} <= ${after}`)
  const end = records.find((r) => r.target === 'resonode::pipeline' && r.message.startsWith('job end'))
  t.regex(end.message, new RegExp(`^job end: ${FRAMES} frames in 3 chunks`))
  t.true(end.timestampMs >= start.timestampMs)

  setLogLevel('off')
  const n = records.length
  await pipelineJob('silenced.wav')
  await new Promise((r) => setTimeout(r, 200))
  t.is(records.length, n, JSON.stringify(records.slice(n)))

  // null restores stderr: the hook gets nothing more.
  setLogLevel('debug')
  setLogger(null)
  await pipelineJob('unhooked.wav')
  await new Promise((r) => setTimeout(r, 200))
  t.is(records.length, n)
})

test.serial('nothing logs while the clocked engine runs, even at trace', async (t) => {
  const records = []
  setLogger((r) => records.push(r))
  t.teardown(() => {
    setLogger(null)
    setLogLevel('warn')
  })
  setLogLevel('trace')
  const rt = new RealtimeProcessor({ processors: [new Gain({ db: -3 })], backend: 'none', config: { sampleRate: RATE, bufferSize: 128, channelsIn: 1, channelsOut: 1 } })
  await rt.start()
  const running = Date.now()
  // ~190 periods of 128 frames: one record per callback would be hundreds.
  await new Promise((r) => setTimeout(r, 500))
  const stopping = Date.now()
  const stats = await rt.stop()
  t.true(stats.framesProcessed >= 0.25 * RATE, JSON.stringify(stats))
  await until(() => records.some((r) => r.message.startsWith('engine stopped')))
  const device = records.filter((r) => r.target === 'resonode::device')
  t.true(device.some((r) => r.message.startsWith('engine started: backend none')), JSON.stringify(records))
  t.true(device.some((r) => r.message.startsWith('engine stopped')), JSON.stringify(records))
  // 2 ms of slack for the two clocks' rounding (Date.now() truncates).
  const during = records.filter((r) => r.timestampMs > running + 2 && r.timestampMs < stopping - 2)
  t.deepEqual(during, [])
})

test('invalid levels and loggers are refused with ERR_INVALID_PARAMETER', (t) => {
  for (const level of ['verbose', 'DEBUG ', '', 3, undefined, null, 'debug,resonode::ml=trace']) {
    t.throws(() => setLogLevel(level), { code: 'ERR_INVALID_PARAMETER' }, String(level))
  }
  for (const fn of [42, 'fn', {}, undefined]) {
    t.throws(() => setLogger(fn), { code: 'ERR_INVALID_PARAMETER' }, String(fn))
  }
})
