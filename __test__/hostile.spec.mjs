// Issue 12, "guard every napi export": every exported function, class
// constructor, static factory, method and getter of the raw binding
// (`index.js`, enumerated at run time, so a new export is covered without
// editing this file) is called with hostile arguments: wrong types, NaN,
// negative and huge sizes, detached, shared and NaN-filled typed arrays,
// aliased arrays, objects whose getters throw, and a wrong `this`.
//
// Each target runs in its own child process (this file, run with
// `--child <target>`), so an abort (a Rust panic crossing FFI, an allocation
// failure) kills the child, not ava: the parent fails the test naming the
// last call the child started. Every call must return, or throw / reject
// with an Error that is one of:
// - a typed resonode error: `fromNative` (src-ts/errors.ts, as the
//   facade applies it) gives a ResonodeError with an `ERR_*` code. A Rust
//   panic caught by the binding's guard or by napi-rs' `catch_unwind`
//   arrives as ERR_INTERNAL; a second test asserts that no hostile argument
//   reaches a panic at all (hostile input is the caller's error, not a bug);
// - napi-rs' own argument-conversion error (a JS Error whose `code` is a
//   napi status other than `GenericFailure`, e.g. `InvalidArg`,
//   `NumberExpected`, `StringExpected`): the call never reached resonode,
//   and these are thrown as ordinary JS errors, which is what the project
//   accepts for wrong JS types.
// - the exception a hostile argument's own getter threw, propagated
//   (it is the caller's);
// - one of the JS engine's or napi-rs' own call checks listed in
//   ENGINE_ERRORS (a wrong `this`, `undefined` for an object argument,
//   `new` on a factory-only class), thrown as a TypeError or Error.
// Anything else (a non-Error throw, an Error without a code, a promise that
// does not settle within ASYNC_TIMEOUT_MS, a child killed by a signal or
// exiting non-zero) fails the test.
//
// Bounded time: device exports get the clocked `none` backend and short
// durations in their base arguments; model-running exports get the small
// fixture models; every promise is raced against ASYNC_TIMEOUT_MS and every
// child against CHILD_TIMEOUT_MS.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
const root = join(dirname(here), '..')
const require = createRequire(import.meta.url)
const ASYNC_TIMEOUT_MS = 20_000
const CHILD_TIMEOUT_MS = 240_000

/** napi-rs statuses that mean "the JS value had the wrong type or shape" (never GenericFailure). */
const NAPI_ARGUMENT_STATUSES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
  'DetachableArraybufferExpected',
])

/**
 * Errors without a `code` that the JS engine or napi-rs throw before any
 * resonode code runs, for a wrong receiver or a wrong kind of call:
 * - V8's receiver check of a native method or accessor called on an object
 *   that is not an instance of its class;
 * - napi-rs converting `undefined` / `null` where an object is expected;
 * - napi-rs refusing `new` on a class that has only factories.
 */
const ENGINE_ERRORS = [/^Illegal invocation$/, /^Cannot convert undefined or null to object$/, /^Class contains no `constructor`, can not new it!$/]

/** Exported targets: `fn:<name>`, `ctor:<Class>`, `static:<Class>.<name>`, `method:<Class>.<name>`, `getter:<Class>.<name>`. */
function targets(binding) {
  const out = []
  for (const [name, value] of Object.entries(binding)) {
    if (typeof value !== 'function') continue
    const proto = value.prototype
    const methods = proto ? Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor') : []
    const statics = Object.getOwnPropertyNames(value).filter((n) => !['length', 'name', 'prototype', 'arguments', 'caller'].includes(n))
    const isClass = methods.length > 0 || statics.length > 0 || /^[A-Z]/.test(name)
    if (!isClass) {
      out.push(`fn:${name}`)
      continue
    }
    out.push(`ctor:${name}`)
    for (const s of statics) out.push(`static:${name}.${s}`)
    for (const m of methods) {
      const d = Object.getOwnPropertyDescriptor(proto, m)
      out.push(d.get ? `getter:${name}.${m}` : `method:${name}.${m}`)
    }
  }
  return out
}

// ---------------------------------------------------------------- parent
if (process.argv[2] !== '--child') {
  const { default: test } = await import('ava')
  const binding = require(join(root, 'index.js'))
  const all = targets(binding)

  // At most two children at once: the machine has two cores.
  let running = 0
  const waiting = []
  const slot = async () => {
    if (running >= 2) await new Promise((r) => waiting.push(r))
    running++
    return () => {
      running--
      waiting.shift()?.()
    }
  }

  function runChild(target) {
    return new Promise((resolvePromise) => {
      const child = spawn(process.execPath, [here, '--child', target], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
        resolvePromise({ code, signal, events, stderr })
      })
    })
  }

  const results = new Map()
  const resultOf = (target) => {
    if (!results.has(target)) {
      results.set(
        target,
        (async () => {
          const release = await slot()
          try {
            return await runChild(target)
          } finally {
            release()
          }
        })(),
      )
    }
    return results.get(target)
  }

  test('the binding exports what the facade is built on (enumeration sanity)', (t) => {
    // Fails if the enumeration silently finds nothing (e.g. a loader change).
    for (const expected of ['fn:parseChain', 'ctor:NativeChain', 'method:NativeChain.process', 'getter:NativeChain.kinds', 'static:NativeReader.openFile']) {
      t.true(all.includes(expected), expected)
    }
    t.true(all.length > 60, `${all.length} targets`)
  })

  for (const target of all) {
    test(`${target}: hostile arguments give typed errors, never an abort`, async (t) => {
      const { code, signal, events, stderr } = await resultOf(target)
      const started = events.filter((e) => e.start !== undefined)
      const ended = new Map(events.filter((e) => e.end !== undefined).map((e) => [e.end, e]))
      const unfinished = started.find((s) => !ended.has(s.start))
      t.true(started.length > 0, `the child made no call\n${stderr}`)
      t.is(signal, null, `child killed by ${signal} during call ${unfinished?.label ?? '(none)'}\n${stderr.slice(-3000)}`)
      t.is(code, 0, `child exited with ${code} during call ${unfinished?.label ?? '(none)'}\n${stderr.slice(-3000)}`)
      t.is(unfinished, undefined, `call ${unfinished?.label} never finished`)
      const bad = [...ended.values()].filter((e) => e.outcome === 'bad' || e.outcome === 'timeout')
      t.deepEqual(bad.map((e) => `${e.label}: ${e.outcome}: ${e.detail}`), [])
      const done = events.find((e) => e.done)
      t.truthy(done, 'the child did not report completion')
      t.is(done.calls, started.length)
    })
  }

  test('no hostile argument reaches a Rust panic (ERR_INTERNAL)', async (t) => {
    const panics = []
    for (const target of all) {
      const { events } = await resultOf(target)
      for (const e of events) if (e.end !== undefined && e.code === 'ERR_INTERNAL') panics.push(`${e.label}: ${e.detail}`)
    }
    t.deepEqual(panics, [])
  })
} else {
  await child(process.argv[3])
}

// ---------------------------------------------------------------- child
async function child(target) {
  const binding = require(join(root, 'index.js'))
  const { fromNative, ResonodeError } = require(join(root, 'dist', 'errors.js'))
  const dir = join(tmpdir(), `resonode-hostile-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  // Hostile strings used as relative paths land here, not in the repository.
  process.chdir(dir)
  const report = (o) => writeSync(1, JSON.stringify(o) + '\n')

  // A valid short WAV (16-bit stereo, 44.1 kHz), written by hand.
  const wav = join(dir, 'in.wav')
  {
    const frames = 4410
    const data = Buffer.alloc(frames * 4)
    for (let i = 0; i < frames; i++) {
      const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / 44100) * 8000)
      data.writeInt16LE(v, i * 4)
      data.writeInt16LE(v, i * 4 + 2)
    }
    const h = Buffer.alloc(44)
    h.write('RIFF', 0)
    h.writeUInt32LE(36 + data.length, 4)
    h.write('WAVEfmt ', 8)
    h.writeUInt32LE(16, 16)
    h.writeUInt16LE(1, 20)
    h.writeUInt16LE(2, 22)
    h.writeUInt32LE(44100, 24)
    h.writeUInt32LE(44100 * 4, 28)
    h.writeUInt16LE(4, 32)
    h.writeUInt16LE(16, 34)
    h.write('data', 36)
    h.writeUInt32LE(data.length, 40)
    writeFileSync(wav, Buffer.concat([h, data]))
  }
  const model = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
  const samModel = join(root, 'models/sam-audio-tiny')
  const samInput = () => ({ channels: [Float32Array.from({ length: 4800 }, (_, i) => Math.sin(i / 10) * 0.5)], sampleRate: 48000 })
  const samLong = () => ({ chunkSeconds: 0.05, overlapSeconds: 0.01, ode: { method: 'euler', stepSize: 0.5 } })
  const sig = (n = 1024) => Float32Array.from({ length: n }, (_, i) => Math.sin(i / 10) * 0.5)
  const gain = { kind: 'gain', args: [{ value: -3, unit: 'db' }] }
  const B = binding
  let fileNo = 0
  const out = (ext = 'wav') => join(dir, `out${fileNo++}.${ext}`)

  // Hostile values, made fresh for every use (detaching is a one-off).
  const throwing = () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter')
        },
        has() {
          throw new Error('hostile has')
        },
      },
    )
  const detached = () => {
    const a = new Float32Array(64)
    structuredClone(a.buffer, { transfer: [a.buffer] })
    return a
  }
  const shared = () => new Float32Array(new SharedArrayBuffer(256 * 4))
  const nanArray = () => Float32Array.from({ length: 256 }, (_, i) => (i === 200 ? NaN : i === 201 ? Infinity : 0.1))
  const aliased = () => {
    const a = new Float32Array(64)
    return [a, a]
  }
  const overlapping = () => {
    const buf = new ArrayBuffer(128 * 4)
    return [new Float32Array(buf, 0, 64), new Float32Array(buf, 32 * 4, 64)]
  }
  const hostile = [
    ['undefined', () => undefined],
    ['null', () => null],
    ['NaN', () => NaN],
    ['-1', () => -1],
    ['-1e9', () => -1e9],
    ['0', () => 0],
    ['2^32-1', () => 2 ** 32 - 1],
    ['2^32', () => 2 ** 32],
    ['2^53', () => 2 ** 53],
    ['1e308', () => 1e308],
    ['Infinity', () => Infinity],
    ['-Infinity', () => -Infinity],
    ['empty string', () => ''],
    ['NUL string', () => 'a\0b'],
    ['forged code', () => 'ERR_INTERNAL: forged'],
    ['long string', () => 'x'.repeat(100_000)],
    ['{}', () => ({})],
    ['[]', () => []],
    ['true', () => true],
    ['bigint', () => 10n],
    ['function', () => () => {}],
    ['symbol', () => Symbol('hostile')],
    ['throwing proxy', throwing],
    ['detached Float32Array', detached],
    ['shared Float32Array', shared],
    ['NaN Float32Array', nanArray],
    ['Float64Array', () => new Float64Array(16)],
    ['[detached]', () => [detached()]],
    ['[shared, shared]', () => [shared(), shared()]],
    ['[NaN, NaN]', () => [nanArray(), nanArray()]],
    ['ragged', () => [new Float32Array(3), new Float32Array(5)]],
    ['same array twice', aliased],
    ['overlapping arrays', overlapping],
    ['[throwing proxy]', () => [throwing()]],
    ['sparse array', () => [, , new Float32Array(4)]], // eslint-disable-line no-sparse-arrays
    ['array of 1e5 empty arrays', () => Array.from({ length: 100_000 }, () => new Float32Array(0))],
    ['bad desc', () => ({ kind: 'lowpass', args: [{ value: NaN }, { text: 'x', value: 1 }] })],
    ['unknown source kind', () => ({ kind: 'microphone\0', path: wav })],
  ]

  // Valid arguments per target; each position is replaced by each hostile
  // value in turn. Targets without an entry get only the generic lists.
  const controls = {
    pipeline: () => new B.PipelineControl(),
    analysis: () => new B.AnalysisControl(),
    scan: () => new B.ScanControl(),
    transition: () => new B.TransitionControl(),
  }
  const base = {
    'fn:sdr': () => [sig(), sig()],
    'fn:snr': () => [sig(), sig()],
    'fn:siSdr': () => [sig(), sig()],
    'fn:correlation': () => [sig(), sig()],
    'fn:separationMetrics': () => [sig(), sig()],
    'fn:enhance': () => [[sig(1600)], 16000, { inference: { threads: 1 } }],
    'fn:enhanceFile': () => [wav, out(), { inference: { threads: 1 } }, controls.pipeline()],
    'fn:mixTransitionNative': () => [wav, wav, out(), {}, controls.transition()],
    'fn:probe': () => [wav],
    'fn:measureLevels': () => [wav],
    'fn:parseChain': () => ['gain(-3db) lowpass(1000)'],
    'fn:validateProcessor': () => [gain],
    'fn:analyzeFileNative': () => [wav, null, controls.analysis(), null, false],
    'fn:plotFileNative': () => [wav, out('png'), null, 400, null, null, new B.AnalysisControl()],
    'fn:runNativePipeline': () => [
      { source: { kind: 'file', path: wav }, processors: [gain], sink: { kind: 'file', path: out() }, chunkSize: 1024 },
      controls.pipeline(),
    ],
    'fn:testDevice': () => [null, 0.1, 'none'],
    'fn:listDevices': () => ['none', null],
    'fn:resolveStreamConfig': () => [{ sampleRate: 48000, bufferSize: 256, channelsIn: 0, channelsOut: 2 }],
    'fn:separate': () => [{ sampleRate: 44100 }, [sig(4410), sig(4410)], { model, inference: { threads: 1 } }],
    'fn:separateLong': () => [{ sampleRate: 44100 }, [sig(4410), sig(4410)], { model, inference: { threads: 1 } }, null, controls.pipeline()],
    'fn:separateFile': () => [{ input: wav, model, outDir: join(dir, `stems${fileNo++}`), inference: { threads: 1 } }, controls.pipeline()],
    'fn:separationNormalizationStats': () => [[sig(), sig()]],
    'fn:loadPromptSeparator': () => [samModel, { threads: 1 }],
    'method:NativePromptSeparator.separate': () => [[samInput()], ['speech'], { ode: { method: 'euler', stepSize: 0.5 } }, null, controls.pipeline()],
    'method:NativePromptSeparator.separateLong': () => [samInput(), 'speech', samLong(), null, controls.pipeline()],
    'method:NativePromptSeparator.stream': () => [samInput(), 'speech', samLong(), null],
    'ctor:AudioRingBuffer': () => [16, 2],
    'ctor:NativeChain': () => [[gain], 48000, 2, 256],
    'ctor:NativeAnalyzer': () => [22050, 1, null, true],
    'ctor:NativeLibrary': () => [join(dir, `lib${fileNo++}.db`), 1000],
    'static:NativeReader.openFile': () => [wav, null],
    'static:NativeReader.open': () => [{ kind: 'file', path: wav }],
    'static:NativeWriter.create': () => [out(), 44100, 2, null, null],
    'static:NativeWriter.open': () => [{ kind: 'file', path: out() }, 44100, 2],
    'static:NativeSeparationStream.open': () => [{ pushChannels: 2, sampleRate: 44100 }, null, separationOptions()],
    'static:NativeRealtime.start': () => [realtimeConfig(), [gain], 'none', { maxFrames: 2560 }, () => {}, null],
    'fn:startRealtime': () => [realtimeConfig(), [gain], 'none', { maxFrames: 2560 }, () => {}, null],
    'method:AudioRingBuffer.write': () => [[sig(8), sig(8)]],
    'method:AudioRingBuffer.writeInterleaved': () => [sig(16)],
    'method:AudioRingBuffer.read': () => [8],
    'method:AudioRingBuffer.readInterleaved': () => [8],
    'method:NativeChain.process': () => [[sig(), sig()]],
    'method:NativeChain.processAsync': () => [[sig(), sig()]],
    'method:NativeChain.setParameter': () => ['0.db', -6],
    'method:NativeChain.getParameter': () => ['0.db'],
    'method:PipelineControl.setParameter': () => ['0.db', -6],
    'method:NativeReader.read': () => [1024],
    'method:NativeWriter.write': () => [[sig(), sig()]],
    'method:NativeAnalyzer.pushAsync': () => [[sig(2048)]],
    'method:NativeRealtime.setParameter': () => ['0.db', -6],
    'method:NativeRealtime.getParameter': () => ['0.db'],
    'method:NativeSeparationStream.push': () => [[sig(), sig()]],
    'method:NativeLibrary.scan': () => [dir, 1, false, controls.scan()],
    'method:NativeLibrary.add': () => [wav, controls.scan()],
    'method:NativeLibrary.get': () => [1],
    'method:NativeLibrary.remove': () => [1],
    'method:NativeLibrary.recommend': () => [1, { limit: 5 }],
    'method:NativeLibrary.addFeedback': () => [1, 1, true, 0.5, null],
    'method:NativeLibrary.beginSession': () => [null],
    'method:NativeLibrary.endSession': () => [1],
    'method:NativeLibrary.addPlay': () => [1, 1, null],
    'method:NativeLibrary.session': () => [1],
    'ctor:NativeStreamDecoder': () => ['<hostile>', 4096],
    'ctor:NativeStreamEncoder': () => ['flac', 'int16', 44100, 2, null],
    'method:NativeStreamDecoder.push': () => [readFileSync(wav)],
    'method:NativeStreamDecoder.read': () => [1024],
    'method:NativeStreamDecoder.fail': () => ['the input failed'],
    'method:NativeStreamEncoder.encode': () => [[sig(), sig()]],
  }
  function separationOptions() {
    return { model, inference: { threads: 1 }, normalization: { mode: 'off' } }
  }
  function realtimeConfig() {
    return { sampleRate: 48000, bufferSize: 256, channelsIn: 0, channelsOut: 2 }
  }

  // How to get an instance of each class, for its methods and getters. A
  // class without a recipe fails the test: add one here.
  const instances = {
    AudioRingBuffer: () => {
      const r = new B.AudioRingBuffer(16, 2)
      r.write([sig(4), sig(4)])
      return r
    },
    NativeChain: () => new B.NativeChain([gain], 48000, 2, 256),
    PipelineControl: () => new B.PipelineControl(),
    TransitionControl: () => new B.TransitionControl(),
    AnalysisControl: () => new B.AnalysisControl(),
    ScanControl: () => new B.ScanControl(),
    NativeReader: () => B.NativeReader.openFile(wav, null),
    NativeWriter: () => B.NativeWriter.create(out(), 44100, 2, null, null),
    NativeAnalyzer: () => new B.NativeAnalyzer(22050, 1, null, true),
    NativeLibrary: () => new B.NativeLibrary(join(dir, `lib${fileNo++}.db`), 1000),
    NativeRealtime: () => (B.startRealtime ?? B.NativeRealtime.start)(realtimeConfig(), [gain], 'none', { maxFrames: 48000 * 60 }, () => {}, null),
    NativeSeparationStream: () => B.NativeSeparationStream.open({ pushChannels: 2, sampleRate: 44100 }, null, separationOptions()),
    // Fed and ended, so every read and info() settles.
    NativeStreamDecoder: () => {
      const d = new B.NativeStreamDecoder('<hostile>', null)
      d.push(readFileSync(wav))
      d.end()
      return d
    },
    NativeStreamEncoder: () => new B.NativeStreamEncoder('flac', 'int16', 44100, 2, null),
    NativePromptSeparator: () => B.loadPromptSeparator(samModel, { threads: 1 }),
    NativePromptStream: async () => (await B.loadPromptSeparator(samModel, { threads: 1 })).stream(samInput(), 'speech', samLong(), null),
  }
  // Instances for one method only. `next()` on an open push stream waits
  // for pushed audio by design; on an ended one every call settles.
  const instancesForMethod = {
    'NativeSeparationStream.next': () => {
      const s = instances.NativeSeparationStream()
      s.end()
      return s
    },
  }

  // Device-free, model-free cleanup of what a call returned.
  async function cleanup(v) {
    try {
      if (v instanceof B.NativeRealtime) v.stop()
      else if (v instanceof B.NativeSeparationStream) await v.close()
      // Frees the job (input copy, text features) at once, not at GC.
      else if (v instanceof B.NativePromptStream) await v.close()
      else if (v instanceof B.NativeLibrary) v.close()
      else if (v instanceof B.NativeWriter) v.finalize()
    } catch {
      // closing twice is allowed to fail
    }
  }

  function classify(e) {
    // The argument's own exception (a throwing getter), propagated (napi-rs
    // rethrows it with the same message).
    if (e instanceof Error && /^hostile (getter|has)$/.test(e.message)) return { outcome: 'propagated', detail: e.message }
    // Checks the engine or napi-rs make before any resonode code runs.
    if (e instanceof Error && !('code' in e) && ENGINE_ERRORS.some((re) => re.test(e.message))) {
      return { outcome: 'engine', detail: e.message.slice(0, 200) }
    }
    const typed = fromNative(e)
    if (typed instanceof ResonodeError) return { outcome: 'typed', code: typed.code, detail: typed.message.slice(0, 200) }
    if (e instanceof Error && typeof e.code === 'string' && NAPI_ARGUMENT_STATUSES.has(e.code)) {
      return { outcome: 'napi-argument', code: e.code, detail: e.message.slice(0, 200) }
    }
    const detail = e instanceof Error ? `${e.constructor.name} code=${e.code}: ${e.message}` : `non-Error thrown: ${String(e)}`
    return { outcome: 'bad', detail: detail.slice(0, 300) }
  }

  async function settle(v) {
    if (!(v instanceof Promise)) return v
    v.catch(() => {}) // a rejection after the timeout is not unhandled
    let timer
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { hostileTimeout: true })), ASYNC_TIMEOUT_MS)
    })
    try {
      return await Promise.race([v, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  // The calls of this target: [label, call()] pairs, call() making its own instance and arguments.
  const [kind, rest] = target.split(':')
  const [cls, member] = rest.split('.')
  const argLists = []
  for (const [label, make] of hostile) {
    argLists.push([`(${label})`, () => [make()]])
    argLists.push([`(${label} x6)`, () => Array.from({ length: 6 }, make)])
  }
  const baseOf = base[target]
  if (baseOf) {
    argLists.push(['(valid base)', baseOf])
    const n = baseOf().length
    for (let i = 0; i < n; i++) {
      for (const [label, make] of hostile) {
        argLists.push([`(arg ${i} = ${label})`, () => {
          const a = baseOf()
          a[i] = make()
          return a
        }])
      }
    }
  }

  const calls = []
  if (kind === 'fn') {
    for (const [label, args] of argLists) calls.push([`${cls}${label}`, () => B[cls](...args())])
  } else if (kind === 'ctor') {
    for (const [label, args] of argLists) calls.push([`new ${cls}${label}`, () => new B[cls](...args())])
    calls.push([`${cls}() without new`, () => B[cls]()])
  } else if (kind === 'static') {
    for (const [label, args] of argLists) calls.push([`${cls}.${member}${label}`, () => B[cls][member](...args())])
  } else {
    const makeInstance = instancesForMethod[`${cls}.${member}`] ?? instances[cls]
    if (!makeInstance) {
      report({ start: 0, label: `no instance recipe for ${cls}` })
      report({ end: 0, label: `no instance recipe for ${cls}`, outcome: 'bad', detail: 'add a recipe to `instances` in hostile.spec.mjs' })
      report({ done: true, calls: 1 })
      return
    }
    const proto = B[cls].prototype
    const wrongThis = [
      ['this = {}', () => ({})],
      ['this = prototype', () => proto],
      ['this = other class', () => new B.TransitionControl()],
      ['this = undefined', () => undefined],
    ]
    if (kind === 'getter') {
      const get = Object.getOwnPropertyDescriptor(proto, member).get
      calls.push([`${cls}.${member} (getter)`, async () => {
        const inst = await makeInstance()
        try {
          return get.call(inst)
        } finally {
          await cleanup(inst)
        }
      }])
      for (const [label, self] of wrongThis) calls.push([`${cls}.${member} (getter, ${label})`, () => get.call(self())])
    } else {
      const fn = proto[member]
      // One instance for all argument lists of this method (models and
      // engines are costly to start); closed at the end.
      let inst = null
      const instance = async () => (inst ??= await makeInstance())
      for (const [label, args] of argLists) calls.push([`${cls}.${member}${label}`, async () => fn.call(await instance(), ...args())])
      for (const [label, self] of wrongThis) calls.push([`${cls}.${member} (${label})`, () => fn.call(self(), ...(baseOf ? baseOf() : []))])
      calls.push([`${cls}.${member} (close instance)`, async () => inst && cleanup(inst)])
    }
  }

  let i = 0
  for (const [label, call] of calls) {
    report({ start: i, label })
    let result
    try {
      const v = await settle(call())
      await cleanup(v)
      result = { outcome: 'ok' }
    } catch (e) {
      result = e?.hostileTimeout ? { outcome: 'timeout', detail: `no result within ${ASYNC_TIMEOUT_MS} ms` } : classify(e)
    }
    report({ end: i, label, ...result })
    i++
  }
  report({ done: true, calls: calls.length })
  process.chdir(tmpdir())
  rmSync(dir, { recursive: true, force: true })
  // Workers (separation, engines) must not keep the child alive.
  process.exit(0)
}
