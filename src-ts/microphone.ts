/**
 * {@link MicrophoneSource}: live input from an audio device, as a pipeline
 * source or read on its own (`start()` / `read()` / `stop()`).
 */
import { EventEmitter } from 'node:events'
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
import { checkOptions } from './options'
import { RealtimeProcessor, type RealtimeReadOptions, type RealtimeStats, type StreamConfig } from './realtime'
import type { StreamingContext } from './context'
import type { StreamState } from './state'
import type { ChunkReader } from './sources'

/** Options of {@link MicrophoneSource}. */
export interface MicrophoneSourceOptions {
  /** Input device id from `listDevices()` (default: the default input). */
  device?: string
  /** Sample rate in Hz (default 48000). */
  sampleRate?: number
  /** Input channels (default 1). */
  channels?: number
  /** Frames per device callback (default 512). */
  bufferSize?: number
  latency?: 'low' | 'balanced' | 'high'
  /** `'default'` (the platform host), `'alsa'`, or `'none'` (clocked silence, for tests). */
  backend?: 'default' | 'alsa' | 'none'
  /**
   * Stop after this many seconds (default: until stopped). In a pipeline the source ends there; read on its
   * own, `read()` returns `null` once a block would cross that point, and the device is closed.
   */
  durationS?: number
  /** Read on its own: frames per channel kept for `read()`, the latest ones (default: `sampleRate`, 1 s). */
  readBufferFrames?: number
}

const OPTION_KEYS = ['device', 'sampleRate', 'channels', 'bufferSize', 'latency', 'backend', 'durationS', 'readBufferFrames'] as const satisfies readonly (keyof MicrophoneSourceOptions)[]

/**
 * Live input from an audio device (the device callback only copies frames
 * into a lock-free ring).
 *
 * - **In a pipeline** (`source` of `StreamingPipeline`, `Separator` input): the pipeline opens the device
 *   and reads that ring on a worker thread.
 * - **On its own**: `start()`, then `read(frames, { timeoutMs })` for planar blocks (`Float32Array[]`,
 *   channels x frames) or `null` on time-out, then `stop()`; `state` and `'statechange'` as
 *   {@link RealtimeProcessor}, whose `read()` it is: an input-only engine (`channelsOut: 0`) with no
 *   processors, so the samples are the device's, unchanged. It also forwards `'error'` (when listened to),
 *   `'xrun'`, `'stats'` and `'finished'`. Use one of the two ways at a time.
 *
 * ```ts
 * const mic = new MicrophoneSource({ channels: 1 })
 * await mic.start()
 * const block = await mic.read(4800, { timeoutMs: 500 }) // [Float32Array(4800)] or null
 * await mic.stop()
 * ```
 */
export class MicrophoneSource extends EventEmitter {
  readonly kind = 'microphone'
  readonly options: MicrophoneSourceOptions
  private rt: RealtimeProcessor | null = null
  /** Frames read() returned in this run (for `durationS`). */
  private delivered = 0
  private durationReached = false

  /** @throws InvalidParameterError for an unknown option */
  constructor(options: MicrophoneSourceOptions = {}) {
    super()
    checkOptions(options, OPTION_KEYS, 'MicrophoneSource')
    this.options = options
  }

  /** The input-only stream configuration of both uses (pipeline source and start()/read()). */
  private config(): StreamConfig {
    const o = this.options
    return { sampleRate: o.sampleRate, channelsIn: o.channels ?? 1, channelsOut: 0, bufferSize: o.bufferSize, latency: o.latency, inputDevice: o.device }
  }

  /** @internal */
  desc(): native.SourceDesc {
    const o = this.options
    return {
      kind: 'microphone',
      device: this.config(),
      backend: o.backend,
      durationS: o.durationS,
    }
  }

  /** @internal */
  open(): ChunkReader {
    const r = callNative(() => native.NativeReader.open(this.desc()))
    return { sampleRate: r.sampleRate, channels: r.channels, totalFrames: r.totalFrames ?? null, read: (n) => awaitNative(r.read(n)), close: () => {} }
  }

  /** The engine behind start()/read()/stop(), made once (it can start again). */
  private engine(): RealtimeProcessor {
    if (this.rt) return this.rt
    const o = this.options
    const rt = new RealtimeProcessor({
      backend: o.backend,
      config: this.config(),
      readBufferFrames: o.readBufferFrames,
    })
    rt.on('statechange', (c) => this.emit('statechange', c))
    rt.on('error', (e) => {
      if (this.listenerCount('error') > 0) this.emit('error', e)
    })
    for (const name of ['xrun', 'stats', 'finished']) rt.on(name, (v) => this.emit(name, v))
    this.rt = rt
    return rt
  }

  /** Read on its own: where the input is in its life cycle (`'idle'` until `start()`). */
  get state(): StreamState {
    return this.rt?.state ?? 'idle'
  }

  /**
   * Read on its own: the input's format (`sampleRate`, `channels`, `chunkSize` = `bufferSize`).
   *
   * @throws InvalidParameterError for an invalid configuration
   */
  get context(): StreamingContext {
    return this.engine().context
  }

  /** Read on its own: the engine's stats (see `RealtimeStats`). @throws InvalidStateError before `start()` */
  get stats(): RealtimeStats {
    if (!this.rt) throw makeError('ERR_INVALID_STATE', 'invalid state: the microphone was never started')
    return this.rt.stats
  }

  /**
   * Opens the device and starts capturing for {@link read} (resolves once audio runs).
   *
   * @throws InvalidParameterError, BackendNotAvailableError, DeviceNotFoundError, StreamError;
   *   InvalidStateError while starting or running
   */
  async start(): Promise<void> {
    const rt = this.engine()
    if (rt.state !== 'starting' && rt.state !== 'running' && rt.state !== 'stopping') {
      this.delivered = 0
      this.durationReached = false
    }
    await rt.start()
  }

  /**
   * The next `frames` captured frames, planar (channels x frames), waiting up to `timeoutMs`; `null` on
   * time-out, and once `durationS` is reached. Same rules as `RealtimeProcessor.read()`.
   *
   * @throws InvalidParameterError for `frames` / `timeoutMs`; InvalidStateError before `start()` or after
   *   `stop()` once the buffered frames are read
   */
  async read(frames: number, options: RealtimeReadOptions = {}): Promise<Float32Array[] | null> {
    if (!this.rt) throw makeError('ERR_INVALID_STATE', 'invalid state: read() before start()')
    const rt = this.rt
    const limit = this.options.durationS === undefined ? Infinity : Math.round(this.options.durationS * rt.context.sampleRate)
    if (this.durationReached) return null
    if (this.delivered + frames > limit) {
      this.durationReached = true
      if (rt.state === 'running') await rt.stop()
      return null
    }
    this.delivered += frames
    const block = await rt.read(frames, options)
    if (block === null) this.delivered -= frames
    return block
  }

  /**
   * Stops capturing; resolves with the final stats. Idempotent.
   *
   * @throws InvalidStateError before `start()`
   */
  async stop(): Promise<RealtimeStats> {
    if (!this.rt) throw makeError('ERR_INVALID_STATE', 'invalid state: the microphone was never started')
    return this.rt.stop()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.rt?.isRunning) await this.rt.stop()
  }
}
