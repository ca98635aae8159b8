/**
 * Live audio: devices, stream configuration and {@link RealtimeProcessor},
 * which runs a chain of native processors inside the Rust audio callback.
 *
 * Real-time safety: the callback never allocates, locks, blocks, does I/O or
 * calls into JS. Parameters reach it through a lock-free queue; events and
 * tapped audio leave it through lock-free rings drained by a non-real-time
 * thread, which hands them to JS.
 */
import { EventEmitter } from 'node:events'
import native = require('./native')
import { awaitNative, callNative, makeError, type ErrorCode, type ResonodeError } from './errors'
import { NativeProcessor, type Processor } from './processors'
import { defaultRuntimePath } from './inference'
import type { Analyzer } from './analysis'
import { checkOptions } from './options'
import { StateMachine, type StreamState } from './state'
import { StreamingContext } from './context'
import { usage, usageOrigin, type ProcessUsage, type UsageOrigin } from './monitor'

/**
 * `'default'` is the best audio host running (on Linux: JACK when a jackd server is running (PipeWire's JACK API is not found), else
 * PulseAudio/PipeWire when its socket is found, else ALSA; a device named in the config that is not a JACK port
 * is opened on the next host); `'alsa'`, `'pulseaudio'` and `'jack'` pick one (`'jack'` runs at the server's
 * buffer size and rate: `config.bufferSize` is then only the engine's chunking, see `stats.bufferSize`);
 * `'none'` is a clocked backend with no hardware, for apps and tests;
 * `'auto'` is `'default'` when a device opens, else `'none'` (said by a `'fallback'` event).
 */
export type Backend = 'default' | 'alsa' | 'pulseaudio' | 'jack' | 'none' | 'auto'

/** Stream configuration. Absent fields take the defaults. */
export interface StreamConfig {
  /** Sample rate in Hz (default 48000). */
  sampleRate?: number
  /** Frames per callback (default 512). */
  bufferSize?: number
  /** Input channels (default 0: no input). */
  channelsIn?: number
  /** Output channels (default 2; 0: no output). */
  channelsOut?: number
  /** Latency/safety trade-off (default `'balanced'`). */
  latency?: 'low' | 'balanced' | 'high'
  /** Input device id from {@link listDevices} (default: the default input). */
  inputDevice?: string
  /** Output device id from {@link listDevices} (default: the default output). */
  outputDevice?: string
}

const CONFIG_KEYS = ['sampleRate', 'bufferSize', 'channelsIn', 'channelsOut', 'latency', 'inputDevice', 'outputDevice'] as const satisfies readonly (keyof StreamConfig)[]

/** @internal Refuses unknown keys of a {@link StreamConfig}. @throws InvalidParameterError */
export function checkStreamConfig(config: unknown, where: string): void {
  checkOptions(config, CONFIG_KEYS, where)
}

/** A validated configuration with its derived values. */
export type ResolvedStreamConfig = native.ResolvedStreamConfig

/**
 * Validates `config`, fills in defaults and derives `direction` (`input`,
 * `output` or `duplex`) and `bufferMs` (one buffer: bufferSize / sampleRate * 1000;
 * the stream's latency is `stats.latencyMs`).
 *
 * @throws InvalidParameterError for invalid combinations and unknown keys
 */
export function resolveStreamConfig(config: StreamConfig = {}): ResolvedStreamConfig {
  checkStreamConfig(config, 'resolveStreamConfig()')
  return callNative(() => native.resolveStreamConfig(config))
}

/** One audio device. */
export type AudioDevice = native.AudioDevice

/** Options of {@link listDevices}. */
export interface ListDevicesOptions {
  backend?: Backend
  /** Keep only input, output or duplex devices (default `'all'`). */
  filter?: 'all' | 'input' | 'output' | 'duplex'
}

/**
 * Lists audio devices; `filter` keeps input, output or duplex ones.
 *
 * @throws BackendNotAvailableError when no backend answers; InvalidParameterError for an unknown option
 */
export async function listDevices(options: ListDevicesOptions = {}): Promise<AudioDevice[]> {
  checkOptions(options, ['backend', 'filter'] satisfies (keyof ListDevicesOptions)[], 'listDevices()')
  return awaitNative(native.listDevices(options.backend, options.filter))
}

/** The default input device. @throws BackendNotAvailableError */
export async function defaultInputDevice(backend?: Backend): Promise<AudioDevice> {
  const d = (await listDevices({ backend, filter: 'input' })).find((d) => d.isDefaultInput)
  if (!d) throw makeError('ERR_DEVICE_NOT_FOUND', 'no default input device')
  return d
}

/** The default output device. @throws BackendNotAvailableError */
export async function defaultOutputDevice(backend?: Backend): Promise<AudioDevice> {
  const d = (await listDevices({ backend, filter: 'output' })).find((d) => d.isDefaultOutput)
  if (!d) throw makeError('ERR_DEVICE_NOT_FOUND', 'no default output device')
  return d
}

/** What {@link testDevice} found. */
export type DeviceTestResult = native.DeviceTestResult

/** Options of {@link testDevice}. */
export interface TestDeviceOptions {
  /** Seconds to play / record (default 1). */
  durationS?: number
  backend?: Backend
}

/**
 * Plays a test tone on and/or records from device `id` (default devices when
 * absent) for `durationS` seconds and reports levels; for a loopback pair
 * (an output whose monitor is the input) also the round-trip latency.
 *
 * @throws BackendNotAvailableError, DeviceNotFoundError, StreamError; InvalidParameterError for an unknown option
 */
export async function testDevice(id?: string, options: TestDeviceOptions = {}): Promise<DeviceTestResult> {
  checkOptions(options, ['durationS', 'backend'] satisfies (keyof TestDeviceOptions)[], 'testDevice()')
  return awaitNative(native.testDevice(id, options.durationS, options.backend))
}

/**
 * Counters of a live engine. Loads are fractions of the buffer period; latencies in ms. With the process's
 * resource use ({@link ProcessUsage}): `cpuTimeS` (CPU time of the whole process since `start()`, every
 * thread, s), `rssBytes` and `peakRssBytes` (resident memory now / at its peak, bytes). In the final stats
 * (`stop()`, after `'finished'`) they are measured when the engine ended.
 */
export type RealtimeStats = native.RealtimeStats & ProcessUsage

/**
 * Peak and RMS level per channel of one side of a live engine, in dBFS (0 dBFS = full scale, 1.0), one value
 * per channel. Silence, and a window without frames, read the floor -120 dBFS (finite, so levels are JSON-safe).
 */
export interface ChannelLevels {
  /** Highest `|x|` per channel over the window: `20 log10(max |x|)`, dBFS. */
  peakDbfs: number[]
  /** RMS per channel over the window: `10 log10(sum x^2 / frames)`, dBFS (a full-scale sine reads -3.01). */
  rmsDbfs: number[]
}

/** What {@link RealtimeProcessor.levels} returns. */
export interface RealtimeLevels {
  /** The input device's samples, before the chain; `null` without input channels (`config.channelsIn` 0). */
  input: ChannelLevels | null
  /** What goes to the output device, after the chain; `null` without output channels (`config.channelsOut` 0). */
  output: ChannelLevels | null
  /** Frames the window covered: the output stream's, or the input stream's when input-only. */
  frames: number
}

/** Options of {@link RealtimeProcessor.read}. */
export interface RealtimeReadOptions {
  /**
   * Longest wait for the frames, ms (finite, >= 0; 0: only what is buffered now). Default: no limit, until
   * the frames are there or the engine ends.
   */
  timeoutMs?: number
}

/** Options of {@link RealtimeProcessor}. */
export interface RealtimeProcessorOptions {
  /** Native processors run inside the audio callback (not `normalize`, which needs two passes; not JS processors). */
  processors?: Processor[]
  backend?: Backend
  config?: StreamConfig
  /**
   * Recover automatically (default true): rebuild the streams when the device or the audio server is lost
   * (retried every 250 ms for up to `restartTimeoutMs`; `'restarted'` on success, `'restartFailed'` and
   * `'finished'` when it gives up), and reset the chain after a panic in it (up to 3 times).
   * False: a loss or a panic ends the engine (`'finished'`).
   */
  autoRestart?: boolean
  /** How long lost streams are retried before giving up, ms (default 30000). */
  restartTimeoutMs?: number
  /**
   * Frames of the engine's lock-free tap, the ring that carries a copy of the processed audio out of the
   * callback to the pump thread (default 1 s when the tap is used: by `'audio'` listeners present at start,
   * an analyzer, or {@link RealtimeProcessor.read}'s buffer). Setting it also delivers `'audio'` events
   * (planar `Float32Array[]`).
   */
  tapFrames?: number
  /**
   * Frames per channel kept for {@link RealtimeProcessor.read}: the latest ones, filled from the tap from the
   * first frame on (default: `sampleRate`, 1 s; 0 turns `read()` off and, without `'audio'` listeners,
   * `tapFrames` and an analyzer, the tap too). Older frames nobody read are discarded and counted in
   * `stats.readDropped`. An integer in 0..2^24.
   */
  readBufferFrames?: number
  /** Period of the `'stats'` event while running, ms (default 1000; 0: no `'stats'` events). */
  statsIntervalMs?: number
  /** `'none'` backend only: stop after this many frames. */
  maxFrames?: number
  /** `'none'` backend only: input played in a loop instead of silence, interleaved with `config.channelsIn` channels (a test signal for apps and tests). */
  noneInput?: Float32Array
  /** ONNX Runtime library file or directory for {@link Enhance} elements (default: `ORT_DYLIB_PATH`, then the one inside `onnxruntime-node`). */
  runtimePath?: string
  /** Analyse the processed audio live (see `Analyzer`): fed from the lock-free tap on the engine's pump thread, never in the callback. */
  analyzer?: Analyzer
}

const OPTION_KEYS = [
  'processors',
  'backend',
  'config',
  'autoRestart',
  'restartTimeoutMs',
  'tapFrames',
  'readBufferFrames',
  'statsIntervalMs',
  'maxFrames',
  'noneInput',
  'runtimePath',
  'analyzer',
] as const satisfies readonly (keyof RealtimeProcessorOptions)[]

/** Largest `readBufferFrames` (the native bound). */
const MAX_READ_BUFFER_FRAMES = 2 ** 24

const noop = (): void => {}

/**
 * Input -> native processor chain -> output, inside the audio callback.
 *
 * {@link Enhance} (GTCRN speech enhancement) runs its network on a worker
 * thread fed through lock-free rings, adding a fixed latency reported as
 * `stats.processingLatencyMs`; its model loads in `start()`.
 *
 * **State** (`state`, `'statechange'` with `{ state, previous, error? }`, see `StreamState`):
 * `idle` -> `starting` -> `running` -> `stopping` -> `stopped`. `'statechange'` to `running` fires before
 * `start()` resolves, to `stopped` before `stop()` resolves. A failed `start()` moves to `error` (with the
 * error). The engine finishing by itself (`'finished'`) moves to `stopped`, or to `error` when it finished
 * because it failed (`stats.failed`: a panic it did not restart from, lost streams it gave up on; `error` is
 * the last `'error'` it reported); `'statechange'` fires before `'finished'`. `stopped` and `error` may
 * `start()` again. Starting while starting or running, and `stop()` before any `start()`, throw
 * `ERR_INVALID_STATE`; `stop()` after a stop (or after `'finished'`) resolves with the final stats again.
 *
 * **Pull reads**: {@link read} takes the processed audio (the tap: output's channels, or the input's when
 * input-only) in blocks of exactly the frames asked for, from its own cursor: `'audio'` events and `read()`
 * both see every frame, independently.
 *
 * **Meters**: {@link levels} gives peak and RMS per channel (dBFS) of the input before the chain and of the output
 * after it, measured in the audio callback over every frame since the previous call.
 *
 * Events, delivered by a non-real-time pump thread:
 * - `'audio'` (planar processed audio, when tapped): dropped only when JS does not keep up, then counted in
 *   `stats.tapDropped` and reported by `'audioDropped'` (frames).
 * - control events, never dropped and in order: `'xrun'` ({@link BufferUnderrunError} /
 *   {@link BufferOverrunError}), `'error'` ({@link StreamError} for device errors and losses,
 *   `ERR_INTERNAL` for a panic caught in the callback or a worker thread; without a listener errors are only
 *   counted), `'restarted'`, `'fallback'` (`backend: 'auto'` runs on `'none'`), `'finished'` (the `none`
 *   backend reached `maxFrames`, recovery gave up, or a failure left the engine silent; with the stats).
 * - `'stats'` ({@link RealtimeStats}) every `statsIntervalMs` while running (from a JS timer).
 *
 * `start()` and `stop()` run on a worker thread: opening a device (up to 10 s) and loading an `enhance`
 * model never block the event loop. Keeps the process alive while running.
 *
 * ```ts
 * await using rt = new RealtimeProcessor({ processors: [new HighPass(80), new Gain({ db: -3 })], config: { channelsIn: 1, channelsOut: 2, bufferSize: 256 } })
 * await rt.start()
 * rt.setParameter('0.cutoff', 120)
 * const block = await rt.read(4800, { timeoutMs: 500 }) // Float32Array[] (2 x 4800) or null
 * ```
 */
export class RealtimeProcessor extends EventEmitter {
  readonly processors: Processor[]
  readonly options: RealtimeProcessorOptions
  /**
   * The stream's format, from the configuration (known from construction): `sampleRate`, `channels` (the
   * processing channels: the output's, or the input's when input-only), `chunkSize` (frames per callback,
   * `config.bufferSize`; the device may deliver other sizes, see `stats.bufferSize`) and `chunkDurationMs`.
   */
  readonly context: StreamingContext
  private readonly machine: StateMachine
  private readonly readBufferFrames: number
  private readonly statsIntervalMs: number
  private engine: native.NativeRealtime | null = null
  /** The run's engine for read(): kept after stop() so buffered frames can be drained. */
  private reader: native.NativeRealtime | null = null
  private readTail: Promise<unknown> = Promise.resolve()
  private keepAlive: NodeJS.Timeout | null = null
  private statsTimer: NodeJS.Timeout | null = null
  private finalStats: RealtimeStats | null = null
  private analyzer: Analyzer | null = null
  private starting: Promise<void> | null = null
  private stopping: Promise<RealtimeStats> | null = null
  private stopCalled = false
  private finishPending = false
  private lastError: ResonodeError | null = null
  private origin: UsageOrigin = usageOrigin()
  private endUsage: ProcessUsage | null = null

  /**
   * @throws InvalidParameterError for an unknown option or `config` key, an invalid `config`,
   *   `readBufferFrames` or `statsIntervalMs`; InvalidChainError for a non-native processor
   */
  constructor(options: RealtimeProcessorOptions = {}) {
    super()
    checkOptions(options, OPTION_KEYS, 'RealtimeProcessor')
    checkStreamConfig(options.config, 'RealtimeProcessor `config`')
    this.options = options
    this.processors = options.processors ?? []
    this.analyzer = options.analyzer ?? null
    for (const [i, p] of this.processors.entries()) {
      if (!(p instanceof NativeProcessor)) {
        throw makeError('ERR_INVALID_CHAIN', `invalid chain: processor ${i} (${p.kind}) is not native; only native processors run in the audio callback`)
      }
    }
    const c = resolveStreamConfig(options.config)
    this.context = new StreamingContext({ sampleRate: c.sampleRate, channels: c.channelsOut > 0 ? c.channelsOut : c.channelsIn, chunkSize: c.bufferSize })
    const rb = options.readBufferFrames ?? c.sampleRate
    if (!Number.isInteger(rb) || rb < 0 || rb > MAX_READ_BUFFER_FRAMES) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`readBufferFrames\`: must be an integer in 0..${MAX_READ_BUFFER_FRAMES}, got ${rb}`)
    }
    this.readBufferFrames = rb
    const si = options.statsIntervalMs ?? 1000
    if (typeof si !== 'number' || !Number.isFinite(si) || si < 0) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`statsIntervalMs\`: must be a finite number >= 0, got ${si}`)
    }
    this.statsIntervalMs = si
    this.machine = new StateMachine(this, 'the realtime processor')
  }

  /** Where the engine is in its life cycle (see the class docs); `'statechange'` reports every change. */
  get state(): StreamState {
    return this.machine.state
  }

  /** Feeds `analyzer` with the processed audio once started (what `analyzer.attach(rt)` calls). @throws InvalidStateError when already started */
  attachAnalyzer(analyzer: Analyzer): void {
    if (this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: attach the analyzer before start()')
    this.analyzer = analyzer
  }

  /** True between `start()` and `stop()` (or the engine finishing by itself). */
  get isRunning(): boolean {
    return this.engine !== null && !this.engine.finished
  }

  /** The configuration in use, with `direction` and `bufferMs`. */
  get config(): ResolvedStreamConfig {
    if (!this.engine) return resolveStreamConfig(this.options.config)
    return callNative(() => this.engine!.config())
  }

  /**
   * Opens the devices and starts processing on a worker thread (resolves once audio runs, after
   * `'statechange'` to `running`). Frames still buffered for {@link read} from an earlier run are discarded.
   *
   * @throws InvalidParameterError, BackendNotAvailableError, DeviceNotFoundError, StreamError; for `enhance`
   *   the model and runtime errors (the state is then `error`); InvalidStateError while starting, running
   *   or stopping
   */
  async start(): Promise<void> {
    this.machine.beginStart()
    this.starting = this.startEngine()
    try {
      await this.starting
    } catch (e) {
      this.machine.set('error', e as Error)
      throw e
    } finally {
      this.starting = null
    }
  }

  private async startEngine(): Promise<void> {
    // An engine that finished by itself is collected (threads joined) first.
    if (this.engine) await this.stopEngine().catch(noop)
    const wantsAudio = this.options.tapFrames !== undefined || this.listenerCount('audio') > 0
    const rate = this.context.sampleRate
    const tapFrames = this.options.tapFrames ?? (wantsAudio || this.analyzer || this.readBufferFrames > 0 ? rate : undefined)
    this.finalStats = null
    this.stopping = null
    this.stopCalled = false
    this.finishPending = false
    this.lastError = null
    this.reader = null
    this.endUsage = null
    this.origin = usageOrigin()
    // The analyzer is handed to the engine at start, so it sees the tapped
    // audio from the first frame: made for the engine's rate and its
    // processing channels (the output's, or the input's when input-only).
    const nativeAnalyzer = this.analyzer?.bindEngine(rate, this.context.channels)
    const pending = callNative(() =>
      native.startRealtime(
        this.options.config ?? {},
        this.processors.map((p) => (p as NativeProcessor).desc),
        this.options.backend,
        {
          tapFrames,
          autoRestart: this.options.autoRestart,
          restartTimeoutMs: this.options.restartTimeoutMs,
          maxFrames: this.options.maxFrames,
          noneInput: this.options.noneInput,
          runtimePath: this.options.runtimePath ?? defaultRuntimePath(),
          emitAudio: wantsAudio,
          readBufferFrames: this.readBufferFrames,
        },
        (m) => this.onMessage(m),
        nativeAnalyzer,
      ),
    )
    this.engine = await awaitNative(pending)
    this.reader = this.engine
    // The pump's ThreadsafeFunction is weak (it never keeps Node alive by
    // itself); a running engine does, until stop() or 'finished'.
    this.keepAlive = setInterval(noop, 1 << 30)
    if (this.statsIntervalMs > 0) {
      this.statsTimer = setInterval(() => this.emitStats(), this.statsIntervalMs)
      this.statsTimer.unref()
    }
    this.machine.set('running')
    // 'finished' can reach JS before start() does (a tiny maxFrames).
    if (this.finishPending) queueMicrotask(() => this.onFinished())
  }

  private emitStats(): void {
    if (this.listenerCount('stats') === 0) return
    let s: RealtimeStats
    try {
      s = this.stats
    } catch {
      return
    }
    this.emit('stats', s)
  }

  private onMessage(m: native.RealtimeMessage): void {
    switch (m.kind) {
      case 'audio':
        this.emit('audio', m.channels)
        break
      case 'analysis':
        this.analyzer?.onEngineUpdate()
        break
      case 'analysisError':
        this.analyzer?.onEngineError(makeError((m.code ?? 'ERR_INTERNAL') as ErrorCode, m.message ?? 'analysis failed'))
        break
      case 'finished':
        if (this.machine.state === 'starting') this.finishPending = true
        else this.onFinished()
        break
      case 'audioDropped':
        this.emit('audioDropped', m.frames ?? 0)
        break
      case 'fallback':
        this.emit('fallback', { backend: 'none', reason: m.message ?? '' })
        break
      default: {
        const err = m.code ? makeError(m.code as ErrorCode, m.message ?? m.kind) : null
        if (m.kind === 'xrun') this.emit('xrun', err)
        else if (m.kind === 'error' || m.kind === 'deviceLost' || m.kind === 'restartFailed') {
          if (err) this.lastError = err
          if (this.listenerCount('error') > 0) this.emit('error', err as ResonodeError)
        } else this.emit(m.kind, m)
      }
    }
  }

  private onFinished(): void {
    this.release()
    let stats: RealtimeStats | null = null
    try {
      stats = this.stats
    } catch {}
    this.endUsage ??= usage(this.origin)
    const state = this.machine.state
    if (state === 'running' || state === 'stopping') {
      if (stats?.failed) this.machine.set('error', this.lastError ?? makeError('ERR_STREAM', 'stream error: the engine failed and stopped'))
      else this.machine.set('stopped')
    }
    this.emit('finished', stats)
  }

  private release(): void {
    if (this.keepAlive) clearInterval(this.keepAlive)
    if (this.statsTimer) clearInterval(this.statsTimer)
    this.keepAlive = null
    this.statsTimer = null
  }

  private withUsage(s: native.RealtimeStats): RealtimeStats {
    return { ...s, ...(this.endUsage ?? usage(this.origin)) }
  }

  /**
   * Changes `"<index>.<name>"` (e.g. `"0.cutoff"`) at the next buffer
   * boundary through a lock-free queue; filters keep their state, gains ramp.
   *
   * @throws InvalidParameterError naming the path, InvalidStateError when not running
   */
  setParameter(path: string, value: number): void {
    if (!this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor is not running')
    callNative(() => this.engine!.setParameter(path, value))
  }

  /** The last value set for `"<index>.<name>"`. */
  getParameter(path: string): number {
    if (!this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor is not running')
    return callNative(() => this.engine!.getParameter(path))
  }

  /**
   * Callbacks, frames, xruns, callback load (mean/peak), latency (with `processingLatencyMs`, the fixed delay
   * of `enhance`), worker underruns, `readDropped`, and the process's `cpuTimeS` / `rssBytes` /
   * `peakRssBytes`.
   *
   * @throws InvalidStateError before the first start, and while stopping (await `stop()` for the final stats)
   */
  get stats(): RealtimeStats {
    if (this.finalStats) return { ...this.finalStats }
    if (this.stopping) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor is stopping; await stop() for the final stats')
    if (!this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor never ran')
    return this.withUsage(callNative(() => this.engine!.stats()))
  }

  /**
   * The engine's stream time, s: frames processed / `context.sampleRate`. Reads only the engine's counters
   * (not the process usage `stats` adds), for pollers such as the dashboard.
   * @internal
   * @throws InvalidStateError before the first start, and while stopping
   */
  get streamTimeS(): number {
    if (this.finalStats) return this.finalStats.framesProcessed / this.context.sampleRate
    if (this.stopping) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor is stopping')
    if (!this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor never ran')
    return callNative(() => this.engine!.stats()).framesProcessed / this.context.sampleRate
  }

  /**
   * Level meters: peak and RMS per channel, in dBFS, of the input (the device's samples, before the chain) and
   * the output (after the chain: what goes to the device), over every frame since the previous `levels()` call
   * (since `start()` for the first): a meter UI calls it at its own pace (e.g. every 50 ms) and sees each frame
   * once. Measured inside the audio callback into preallocated atomics (no allocation, lock or blocking there);
   * this call reads them without waiting for the audio thread. See {@link RealtimeLevels}.
   *
   * ```ts
   * const { input, output, frames } = rt.levels() // e.g. output.peakDbfs = [-6.02, -6.02]
   * ```
   *
   * @throws InvalidStateError when not running (before `start()`, while starting or stopping, after `stop()`
   *   or `'finished'`)
   */
  levels(): RealtimeLevels {
    const engine = this.engine
    if (!engine || this.machine.state !== 'running') {
      throw makeError('ERR_INVALID_STATE', `invalid state: levels() needs a running realtime processor (state: ${this.machine.state})`)
    }
    const l = callNative(() => engine.levels())
    return { input: l.input ?? null, output: l.output ?? null, frames: l.frames }
  }

  /**
   * Takes the next `frames` frames of processed audio (the tap: planar `Float32Array[]`, channels x frames,
   * exactly `frames` long; the output's channels, or the input's when input-only), waiting up to
   * `timeoutMs`; `null` when they did not come in time (nothing is taken then). The mixer's
   * `get_audio_chunk(timeout)`.
   *
   * - A buffer of `readBufferFrames` (default 1 s) is filled from the first frame on by the pump thread
   *   (never the audio callback), apart from `'audio'` events: both see every frame. When it is full the
   *   oldest frames go (`stats.readDropped`), so a late reader gets the latest audio, with a gap. (Frames the
   *   tap itself lost, the pump thread having stalled, are missing from both paths: in `stats.tapDropped`.)
   * - Concurrent calls are served in call order, each `timeoutMs` counted from its call.
   * - Starting: waits for `start()`. When the engine finished by itself: buffered frames are returned, then
   *   `null` at once (no frame can come). After `stop()`: buffered frames can still be drained; a read they
   *   cannot serve throws InvalidStateError (reads issued before `stop()` resolve with `null`). A new
   *   `start()` discards them.
   *
   * Holds no thread while it waits (no libuv pool thread either): the pump thread settles it when its frames
   * arrive, one timer thread shared by all reads at its deadline. A waiting read keeps the process alive.
   *
   * @throws InvalidParameterError for `frames` not an integer in 1..readBufferFrames, `timeoutMs` not a
   *   finite number >= 0, an unknown option; InvalidStateError before `start()`, after `stop()` as above,
   *   or with `readBufferFrames: 0`
   */
  async read(frames: number, options: RealtimeReadOptions = {}): Promise<Float32Array[] | null> {
    checkOptions(options, ['timeoutMs'] satisfies (keyof RealtimeReadOptions)[], 'read()')
    if (!Number.isInteger(frames) || frames < 1 || frames > this.readBufferFrames) {
      if (this.readBufferFrames === 0) throw makeError('ERR_INVALID_STATE', 'invalid state: read() is off (readBufferFrames: 0)')
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`frames\`: must be an integer in 1..${this.readBufferFrames} (readBufferFrames), got ${frames}`)
    }
    const t = options.timeoutMs
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`timeoutMs\`: must be a finite number >= 0, got ${t}`)
    }
    if (this.machine.state === 'idle') throw makeError('ERR_INVALID_STATE', 'invalid state: read() before start()')
    const deadline = t === undefined ? undefined : performance.now() + t
    const afterStop = this.stopCalled
    // While starting, the new run's engine is taken once start() is done (never the last run's).
    const reader = this.machine.state === 'starting' ? null : this.reader
    const turn = this.readTail.then(() => this.readTurn(frames, deadline, afterStop, reader))
    this.readTail = turn.then(noop, noop)
    return turn
  }

  private async readTurn(frames: number, deadline: number | undefined, afterStop: boolean, reader: native.NativeRealtime | null): Promise<Float32Array[] | null> {
    if (!reader) {
      if (this.starting) await this.starting.catch(noop)
      reader = this.reader
      if (!reader) throw makeError('ERR_INVALID_STATE', 'invalid state: read(): the realtime processor did not start')
    }
    const timeout = afterStop ? 0 : deadline === undefined ? undefined : Math.max(0, deadline - performance.now())
    const chunk = await awaitNative(callNative(() => reader.read(frames, timeout)))
    if (chunk === null && afterStop) {
      throw makeError('ERR_INVALID_STATE', `invalid state: the realtime processor was stopped and fewer than ${frames} frames are left to read`)
    }
    return chunk
  }

  /**
   * Stops the streams on a worker thread; the events still in flight are delivered first. Resolves with the
   * final stats (after `'statechange'` to `stopped`). Idempotent; after `'finished'` it collects the final
   * stats without a state change.
   *
   * @throws InvalidStateError when it never ran
   */
  async stop(): Promise<RealtimeStats> {
    if (this.starting) await this.starting.catch(noop)
    return this.stopEngine()
  }

  private stopEngine(): Promise<RealtimeStats> {
    if (this.stopping) return this.stopping
    if (!this.engine) {
      if (this.finalStats) return Promise.resolve({ ...this.finalStats })
      this.machine.checkStop()
      throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor never ran')
    }
    this.release()
    this.stopCalled = true
    const engine = this.engine
    if (this.machine.state === 'running') this.machine.set('stopping')
    this.stopping = (async () => {
      let s: native.RealtimeStats
      try {
        s = await awaitNative(callNative(() => engine.stop()))
      } catch (e) {
        if (this.machine.state === 'stopping') this.machine.set('error', e as Error)
        throw e
      }
      this.endUsage ??= usage(this.origin)
      const stats = this.withUsage(s)
      this.finalStats = stats
      this.engine = null
      if (this.machine.state === 'stopping') this.machine.set('stopped')
      return { ...stats }
    })()
    return this.stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.engine) await this.stop()
  }
}
