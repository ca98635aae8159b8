/**
 * {@link StreamProcessor}: one chain of processors applied to many files or
 * streams, with `await using` support.
 */
import { EventEmitter } from 'node:events'
import type { StreamingContext } from './context'
import { AbortError, checkSignal, makeError } from './errors'
import { checkOptions } from './options'
import type { Processor } from './processors'
import { StreamingPipeline, type PipelineStats } from './pipeline'
import { FileSource, type FileSourceOptions } from './sources'
import { CallbackSink, FileSink, type FileSinkOptions } from './sinks'
import { StateMachine, type StateChange, type StreamState } from './state'

/** Options of {@link StreamProcessor}. */
export interface StreamProcessorOptions {
  processors: Processor[]
  /** Frames per chunk (default 65536). */
  chunkSize?: number
  /** Milliseconds between `onStats` calls during a call (default 1000). */
  statsIntervalMs?: number
}

/** What every call of a {@link StreamProcessor} accepts. */
export interface StreamCallOptions {
  /** How the input file is read (resampling, channels); a Normalize measures the audio as read this way. */
  source?: FileSourceOptions
  /** Called with the completed fraction in [0, 1] (over all passes). */
  onProgress?: (fraction: number) => void
  /** Called every `statsIntervalMs` with the call's current {@link PipelineStats} (process CPU time and memory included). */
  onStats?: (stats: PipelineStats) => void
  /**
   * Aborts the call within one chunk: `processFile` leaves a valid output
   * file with everything processed; the call rejects with an `AbortError`
   * whose `stats` are the partial stats. An already aborted signal rejects
   * at once without creating the output.
   */
  signal?: AbortSignal
}

/** Options of {@link StreamProcessor.processFile}. */
export interface ProcessFileOptions extends StreamCallOptions {
  sink?: FileSinkOptions
}

/** Options of {@link StreamProcessor.processChunks}. */
export type ProcessChunksOptions = StreamCallOptions

const CALL_OPTIONS = ['source', 'onProgress', 'onStats', 'signal'] as const

/** Chunks handed from a pipeline's sink to the consumer, each released when the consumer asks for the next. */
type Handoff = { queue: { chunk: Float32Array[]; release: () => void }[]; wake: (() => void) | null }

/**
 * Applies a processor chain to files chunk by chunk at constant memory.
 * Each call runs its own {@link StreamingPipeline} (processor state starts
 * fresh; JS processors get `reset()` and `prepare()` per call), so calls may
 * overlap.
 *
 * `state` ({@link StreamState}, with `'statechange'` events): `idle` until
 * the first call; `starting` -> `running` when a call starts while none is
 * active; `running` while any call is active; `stopped` when the last
 * active call ends (`error`, with the error, when it failed; an abort is a
 * stop); `stopping` -> `stopped` from `close()`. After `close()` every call
 * throws `ERR_INVALID_STATE`.
 *
 * ```ts
 * await using sp = new StreamProcessor({ processors: [new HighPass(80)], chunkSize: 65536 })
 * await sp.processFile('in.wav', 'out.wav')
 * for await (const chunk of sp.processChunks('in.wav')) { ... } // Float32Array per channel
 * ```
 *
 * @throws InvalidParameterError for an unknown option key or a bad `chunkSize`
 */
export class StreamProcessor extends EventEmitter {
  readonly processors: Processor[]
  readonly chunkSize: number
  private readonly statsIntervalMs: number
  private readonly machine = new StateMachine(this, 'the stream processor')
  private readonly active = new Set<StreamingPipeline>()
  /** For `processChunks` calls: lets a pipeline's pending write through so a stop can land. */
  private readonly releasers = new Map<StreamingPipeline, () => void>()
  private latest: StreamingPipeline | null = null
  private disposed = false
  private closing: Promise<void> | null = null

  constructor(options: StreamProcessorOptions) {
    super()
    checkOptions(options, ['processors', 'chunkSize', 'statsIntervalMs'], 'StreamProcessor')
    if (!Array.isArray(options?.processors)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `processors`: StreamProcessor needs an array of processors')
    this.processors = options.processors
    this.chunkSize = options.chunkSize ?? 65536
    this.statsIntervalMs = options.statsIntervalMs ?? 1000
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`chunkSize\`: must be a whole number of frames >= 1, got ${options.chunkSize}`)
    }
    if (!(this.statsIntervalMs > 0 && Number.isFinite(this.statsIntervalMs))) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`statsIntervalMs\`: must be > 0 ms, got ${options.statsIntervalMs}`)
    }
  }

  /** Where the processor is in its life cycle (see the class docs). */
  get state(): StreamState {
    return this.machine.state
  }

  /** True while any call is active. */
  get isRunning(): boolean {
    return this.active.size > 0
  }

  /** The stream format and chunk size of the latest call once its source's format is known; null before. */
  get context(): StreamingContext | null {
    return this.latest?.context ?? null
  }

  private pipeline(source: FileSource, sink: FileSink | CallbackSink, options: StreamCallOptions): StreamingPipeline {
    if (this.disposed) throw makeError('ERR_INVALID_STATE', 'invalid state: the StreamProcessor was closed')
    const p = new StreamingPipeline({ source, processors: this.processors, sink, chunkSize: this.chunkSize, statsIntervalMs: options.onStats ? this.statsIntervalMs : 0 })
    const { onProgress, onStats } = options
    if (onProgress) p.on('progress', (e: { fraction: number }) => onProgress(e.fraction))
    if (onStats) p.on('stats', (s: PipelineStats) => onStats(s))
    return p
  }

  /** A call begins: the first of a busy period starts the processor. */
  private begin(p: StreamingPipeline): void {
    if (this.active.size === 0) this.machine.beginStart()
    this.active.add(p)
    this.latest = p
    p.on('statechange', (c: StateChange) => {
      if (c.state === 'running' && this.machine.state === 'starting') this.machine.set('running')
    })
  }

  /** A call ended (`error`: it failed, not aborted): the last one of a busy period stops the processor. */
  private end(p: StreamingPipeline, error: unknown): void {
    this.active.delete(p)
    if (this.active.size > 0 || this.closing) return
    if (error !== undefined && !(error instanceof AbortError)) this.machine.set('error', error instanceof Error ? error : new Error(String(error)))
    else this.machine.set('stopped')
  }

  /**
   * Processes `input` into `output` (WAV or FLAC by extension). Resolves
   * with the call's final stats.
   *
   * @throws InvalidStateError after `close()`; InvalidParameterError for an
   *   unknown option key; rejects with the run's error, or an `AbortError`
   */
  async processFile(input: string, output: string, options: ProcessFileOptions = {}): Promise<PipelineStats> {
    checkOptions(options, [...CALL_OPTIONS, 'sink'], 'StreamProcessor.processFile()')
    const o = options ?? {}
    const signal = checkSignal(o.signal)
    const p = this.pipeline(new FileSource(input, o.source), new FileSink(output, o.sink), o)
    this.begin(p)
    let error: unknown
    try {
      return await p.run({ signal })
    } catch (e) {
      error = e
      throw e
    } finally {
      this.end(p, error)
    }
  }

  /**
   * Yields processed chunks (planar `Float32Array[]`, channels x frames) of
   * `input`; returns the call's final stats. Decoding and native processing
   * run off the JS thread; the next chunk is not produced until the
   * consumer asks for it. The output equals what {@link processFile} writes
   * as float32, with `Normalize` too (the file is measured first, with the
   * same `source` options).
   *
   * @throws InvalidStateError after `close()`; InvalidParameterError for an
   *   unknown option key (both at the call); the iteration rejects with the
   *   run's error, or an `AbortError`
   */
  processChunks(input: string | FileSource, options: ProcessChunksOptions = {}): AsyncGenerator<Float32Array[], PipelineStats, void> {
    checkOptions(options, CALL_OPTIONS, 'StreamProcessor.processChunks()')
    const o = options ?? {}
    const signal = checkSignal(o.signal)
    if (typeof input !== 'string' && o.source !== undefined) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `source`: give the options to the FileSource itself, or pass a path')
    }
    const handoff: Handoff = { queue: [], wake: null }
    // A callback sink that waits for the consumer gives natural backpressure.
    const sink = new CallbackSink(
      (chunk) =>
        new Promise<void>((release) => {
          handoff.queue.push({ chunk, release })
          handoff.wake?.()
        }),
    )
    const p = this.pipeline(typeof input === 'string' ? new FileSource(input, o.source) : input, sink, o)
    return this.iterate(p, handoff, signal)
  }

  private async *iterate(p: StreamingPipeline, handoff: Handoff, signal: AbortSignal | undefined): AsyncGenerator<Float32Array[], PipelineStats, void> {
    this.begin(p)
    let finished = false
    let error: unknown
    // The chunk the consumer holds: its write is released when the consumer asks for the next one.
    let held: (() => void) | null = null
    const releaseAll = () => {
      held?.()
      for (const q of handoff.queue.splice(0)) q.release()
      handoff.wake?.()
    }
    // An abort or close() must not wait for the consumer: the pipeline's pending write is released at once.
    signal?.addEventListener('abort', releaseAll)
    this.releasers.set(p, releaseAll)
    p.start({ signal })
    const done = p.wait().finally(() => {
      finished = true
      handoff.wake?.()
    })
    done.catch(() => {})
    try {
      for (;;) {
        if (signal?.aborted) releaseAll()
        const next = handoff.queue.shift()
        if (next) {
          held = next.release
          yield next.chunk
          held = null
          next.release()
          continue
        }
        if (finished) break
        await new Promise<void>((r) => {
          handoff.wake = r
          if (handoff.queue.length || finished) r()
        })
        handoff.wake = null
      }
      await done
      return p.stats
    } catch (e) {
      error = e
      throw e
    } finally {
      signal?.removeEventListener('abort', releaseAll)
      this.releasers.delete(p)
      if (!finished) {
        // The consumer left early: stop the run and let its pending write through.
        p.stop()
        releaseAll()
        await done.catch(() => {})
      }
      this.end(p, error)
    }
  }

  /** Stops every active call (each ends as by `stop()`) and waits for them to end; later calls throw `ERR_INVALID_STATE`. */
  close(): Promise<void> {
    this.disposed = true
    this.closing ??= (async () => {
      const busy = this.machine.state === 'starting' || this.machine.state === 'running'
      if (busy) this.machine.set('stopping')
      const runs = [...this.active]
      for (const p of runs) {
        if (p.isRunning) p.stop()
        this.releasers.get(p)?.()
      }
      await Promise.allSettled(runs.map((p) => p.wait()))
      if (busy) this.machine.set('stopped')
    })()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
