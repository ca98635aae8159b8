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

/**
 * `'default'` is the platform's audio host (on Linux PulseAudio/PipeWire when its socket is found, else ALSA);
 * `'alsa'` and `'pulseaudio'` pick one; `'none'` is a clocked backend with no hardware, for apps and tests;
 * `'auto'` is `'default'` when a device opens, else `'none'` (said by a `'fallback'` event).
 */
export type Backend = 'default' | 'alsa' | 'pulseaudio' | 'none' | 'auto'

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

/** A validated configuration with its derived values. */
export type ResolvedStreamConfig = native.ResolvedStreamConfig

/**
 * Validates `config`, fills in defaults and derives `direction` (`input`,
 * `output` or `duplex`) and `bufferMs` (one buffer: bufferSize / sampleRate * 1000;
 * the stream's latency is `stats.latencyMs`).
 *
 * @throws InvalidParameterError for invalid combinations
 */
export function resolveStreamConfig(config: StreamConfig = {}): ResolvedStreamConfig {
  return callNative(() => native.resolveStreamConfig(config))
}

/** One audio device. */
export type AudioDevice = native.AudioDevice

/**
 * Lists audio devices; `filter` keeps input, output or duplex ones.
 *
 * @throws BackendNotAvailableError when no backend answers
 */
export function listDevices(options: { backend?: Backend; filter?: 'all' | 'input' | 'output' | 'duplex' } = {}): Promise<AudioDevice[]> {
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

/**
 * Plays a test tone on and/or records from device `id` (default devices when
 * absent) for `durationS` seconds and reports levels; for a loopback pair
 * (an output whose monitor is the input) also the round-trip latency.
 */
export function testDevice(id?: string, options: { durationS?: number; backend?: Backend } = {}): Promise<DeviceTestResult> {
  return awaitNative(native.testDevice(id, options.durationS, options.backend))
}

/** Counters of a live engine. Loads are fractions of the buffer period; latencies in ms. */
export type RealtimeStats = native.RealtimeStats

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
  /** Deliver processed audio as `'audio'` events (planar `Float32Array[]`), through a ring of this many frames (default: off, or 1 s when an `'audio'` listener exists at start). */
  tapFrames?: number
  /** `'none'` backend only: stop after this many frames. */
  maxFrames?: number
  /** `'none'` backend only: input played in a loop instead of silence, interleaved with `config.channelsIn` channels (a test signal for apps and tests). */
  noneInput?: Float32Array
  /** ONNX Runtime library file or directory for {@link Enhance} elements (default: `ORT_DYLIB_PATH`, then the one inside `onnxruntime-node`). */
  runtimePath?: string
  /** Analyse the processed audio live (see `Analyzer`): fed from the lock-free tap on the engine's pump thread, never in the callback. */
  analyzer?: Analyzer
}

/**
 * Input -> native processor chain -> output, inside the audio callback.
 *
 * {@link Enhance} (GTCRN speech enhancement) runs its network on a worker
 * thread fed through lock-free rings, adding a fixed latency reported as
 * `stats.processingLatencyMs`; its model loads in `start()`.
 *
 * Events, delivered by a non-real-time pump thread:
 * - `'audio'` (planar processed audio, when tapped): dropped only when JS does not keep up, then counted in
 *   `stats.tapDropped` and reported by `'audioDropped'` (frames).
 * - control events, never dropped and in order: `'xrun'` ({@link BufferUnderrunError} /
 *   {@link BufferOverrunError}), `'error'` ({@link StreamError} for device errors and losses,
 *   `ERR_INTERNAL` for a panic caught in the callback or a worker thread; without a listener errors are only
 *   counted), `'restarted'`, `'fallback'` (`backend: 'auto'` runs on `'none'`), `'finished'` (the `none`
 *   backend reached `maxFrames`, recovery gave up, or a failure left the engine silent).
 *
 * `start()` and `stop()` run on a worker thread: opening a device (up to 10 s) and loading an `enhance`
 * model never block the event loop. Keeps the process alive while running.
 *
 * ```ts
 * await using rt = new RealtimeProcessor({ processors: [new HighPass(80), new Gain(-3)], config: { channelsIn: 1, channelsOut: 2, bufferSize: 256 } })
 * await rt.start()
 * rt.setParameter('0.cutoff', 120)
 * ```
 */
export class RealtimeProcessor extends EventEmitter {
  readonly processors: Processor[]
  readonly options: RealtimeProcessorOptions
  private engine: native.NativeRealtime | null = null
  private keepAlive: NodeJS.Timeout | null = null
  private finalStats: RealtimeStats | null = null
  private analyzer: Analyzer | null = null
  private starting: Promise<void> | null = null
  private stopping: Promise<RealtimeStats> | null = null

  constructor(options: RealtimeProcessorOptions = {}) {
    super()
    this.options = options
    this.processors = options.processors ?? []
    this.analyzer = options.analyzer ?? null
    for (const [i, p] of this.processors.entries()) {
      if (!(p instanceof NativeProcessor)) {
        throw makeError('ERR_INVALID_CHAIN', `invalid chain: processor ${i} (${p.kind}) is not native; only native processors run in the audio callback`)
      }
    }
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
   * Opens the devices and starts processing on a worker thread (resolves once audio runs).
   *
   * @throws InvalidParameterError, BackendNotAvailableError, DeviceNotFoundError, StreamError; for `enhance`
   *   the model and runtime errors; InvalidStateError when already started
   */
  async start(): Promise<void> {
    if (this.engine || this.starting) throw makeError('ERR_INVALID_STATE', 'invalid state: already started')
    this.starting = this.startEngine()
    try {
      await this.starting
    } finally {
      this.starting = null
    }
  }

  private async startEngine(): Promise<void> {
    const wantsAudio = this.options.tapFrames !== undefined || this.listenerCount('audio') > 0
    const tapFrames = this.options.tapFrames ?? (wantsAudio || this.analyzer ? (this.options.config?.sampleRate ?? 48000) : undefined)
    this.finalStats = null
    this.stopping = null
    // The analyzer is handed to the engine at start, so it sees the tapped
    // audio from the first frame: made for the engine's rate and its
    // processing channels (the output's, or the input's when input-only).
    const resolved = resolveStreamConfig(this.options.config)
    const nativeAnalyzer = this.analyzer?.bindEngine(resolved.sampleRate, resolved.channelsOut > 0 ? resolved.channelsOut : resolved.channelsIn)
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
        },
        (m) => this.onMessage(m),
        nativeAnalyzer,
      ),
    )
    this.engine = await awaitNative(pending)
    // The pump's ThreadsafeFunction is weak (it never keeps Node alive by
    // itself); a running engine does, until stop() or 'finished'.
    if (!this.finalStats) this.keepAlive = setInterval(() => {}, 1 << 30)
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
      case 'finished': {
        this.release()
        let stats: RealtimeStats | null = null
        try {
          stats = this.stats
        } catch {}
        this.emit('finished', stats)
        break
      }
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
          if (this.listenerCount('error') > 0) this.emit('error', err as ResonodeError)
        } else this.emit(m.kind, m)
      }
    }
  }

  private release(): void {
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
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

  /** Callbacks, frames, xruns, callback load (mean/peak), latency (with `processingLatencyMs`, the fixed delay of `enhance`), worker underruns. */
  get stats(): RealtimeStats {
    if (this.finalStats) return { ...this.finalStats }
    if (this.stopping) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor is stopping; await stop() for the final stats')
    if (!this.engine) throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor never ran')
    return callNative(() => this.engine!.stats())
  }

  /**
   * Stops the streams on a worker thread; the events still in flight are delivered first. Resolves with the
   * final stats. Idempotent.
   *
   * @throws InvalidStateError when it never ran
   */
  async stop(): Promise<RealtimeStats> {
    if (this.starting) await this.starting.catch(() => {})
    this.release()
    if (this.stopping) return this.stopping
    if (!this.engine) {
      if (this.finalStats) return this.finalStats
      throw makeError('ERR_INVALID_STATE', 'invalid state: the realtime processor never ran')
    }
    const engine = this.engine
    this.stopping = (async () => {
      const stats = await awaitNative(callNative(() => engine.stop()))
      this.finalStats = stats
      this.engine = null
      return stats
    })()
    return this.stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.engine) await this.stop()
  }
}
