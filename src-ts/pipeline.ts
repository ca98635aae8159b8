/**
 * {@link StreamingPipeline}: Source -> processors -> Sink.
 *
 * When the source is a {@link FileSource} (or a microphone), every processor
 * is native and the sink a {@link FileSink} or speaker (their resampling and
 * stem selection included), the whole job runs in Rust on a worker thread (decode, chain, encode) and JS
 * only polls progress. Otherwise JS drives the loop chunk by chunk, with
 * native processors still running in Rust (on a worker thread for large
 * chunks), from any source with `openAsync()` / `open()` into any sink with
 * `open()`; a `Normalize` then measures a {@link FileSource} in a pre-pass,
 * as the native job does. A {@link SeparationProcessor}
 * (the only processor then) runs on its own worker thread and turns the
 * stream into stems for a `MultiFileSink` or a `FileSink` with `stemIndex`.
 */
import { EventEmitter } from 'node:events'
import { existsSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import native = require('./native')
import { StreamingContext } from './context'
import { abortError, awaitNative, callNative, checkSignal, makeError } from './errors'
import { usage, usageOrigin, type ProcessUsage, type UsageOrigin } from './monitor'
import { checkOptions } from './options'
import { JsProcessor, NativeProcessor, Processor, type JsProcessContext, type StreamInfo } from './processors'
import { CallbackSource, FileSource, MicrophoneSource, type ChunkReader, type Source } from './sources'
import { FileSink, MultiFileSink, SpeakerSink, type ChunkWriter, type Sink } from './sinks'
import { StateMachine, type StreamState } from './state'
import { SeparationProcessor, type SeparationStream } from './separation'
import { Analyzer } from './analysis'

// Re-exported for the package index: the types a custom source or sink implements, and the processors' option types.
export type { ChunkReader, CustomSource, SourceChunks } from './sources'
export type { ChunkWriter, CustomSink } from './sinks'

const canonical = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p))

/**
 * What a run did (so far, during a run). `realtimeFactor` = audio seconds /
 * processing seconds (> 1: faster than real time). The process usage fields
 * (`cpuTimeS` since the run started, `rssBytes`, `peakRssBytes`) are the
 * whole process's, read on the JS thread; they freeze when the run ends.
 */
export interface PipelineStats extends ProcessUsage {
  chunksProcessed: number
  framesProcessed: number
  processingTimeS: number
  realtimeFactor: number
  /** Separation pipelines: seconds from the start (model load included) until the first stems were final. */
  timeToFirstAudioS?: number | null
  /**
   * Native file jobs: what the source read past, e.g. "the header declares N frames but only M could be
   * decoded" (every frame that decoded was processed).
   */
  warnings?: string[]
}

/** A `'progress'` event: `fraction` in [0, 1] (NaN when the length is unknown) and frames done. */
export interface ProgressEvent {
  fraction: number
  frames: number
}

/** Options of {@link StreamingPipeline}. */
export interface PipelineOptions {
  /** A built-in source or any {@link CustomSource}. */
  source: Source
  processors?: Processor[]
  /** A built-in sink or any {@link CustomSink}. */
  sink: Sink
  /** Frames per chunk (default 65536; 1024 for a microphone source). */
  chunkSize?: number
  /** Milliseconds between `'progress'` events of native jobs (default 100). */
  progressIntervalMs?: number
  /** Milliseconds between `'stats'` events during a run (default 1000; 0: none). */
  statsIntervalMs?: number
}

/** Options of {@link StreamingPipeline.start} and {@link StreamingPipeline.run}. */
export interface RunOptions {
  /**
   * Aborts the run: it stops within one chunk, outputs are finalised
   * (a file sink holds a valid file with every frame processed), and the run
   * rejects with an `AbortError` (`ERR_ABORTED`) whose `stats` are the
   * partial {@link PipelineStats}. An already aborted signal rejects at once
   * and opens nothing: no output file is created.
   */
  signal?: AbortSignal
}

const PIPELINE_OPTIONS = ['source', 'processors', 'sink', 'chunkSize', 'progressIntervalMs', 'statsIntervalMs'] as const

const emptyStats = (): PipelineStats => ({ chunksProcessed: 0, framesProcessed: 0, processingTimeS: 0, realtimeFactor: 0, cpuTimeS: 0, rssBytes: 0, peakRssBytes: 0 })

/** A run of native processors; `shadow` is a second chain of the same processors that only validates `setParameter` values at the call. */
type NativeSegment = { native: native.NativeChain; shadow: native.NativeChain; first: number; count: number }
/**
 * A two-pass `normalize` in a JS-driven run: its gain comes from a peak
 * measured over the file first, applied here exactly as the native
 * processor applies it (`fround(sample * gain)`, the gain from
 * `normalizeGain`).
 */
type NormalizeSegment = { normalize: { index: number; shadow: native.NativeChain; targetDb: number; measured: number | null; gain: number } }
type Segment = NativeSegment | NormalizeSegment | { js: JsProcessor; index: number } | { analyzer: Analyzer }

const hasMethod = (o: unknown, name: string): boolean => o !== null && typeof o === 'object' && typeof (o as Record<string, unknown>)[name] === 'function'

/**
 * Runs a source through a chain of processors into a sink, off the JS
 * thread where possible.
 *
 * Events: `'progress'` ({@link ProgressEvent}), `'stats'` (the current
 * {@link PipelineStats}, every `statsIntervalMs`), `'statechange'`
 * ({@link StateChange}: `idle` -> `starting` -> `running` -> `stopping` ->
 * `stopped`, or `error`; an abort ends in `stopped`) and `'end'` (the final
 * {@link PipelineStats}, after a run that ended normally or by `stop()`).
 *
 * Errors reject {@link StreamingPipeline.wait} / {@link StreamingPipeline.run}
 * with a typed {@link ResonodeError}; file sinks keep everything processed
 * before the failure.
 *
 * @throws InvalidParameterError for an unknown option key (e.g. `processor`
 *   for `processors`), a bad `chunkSize` / interval, or a source or sink
 *   that cannot be opened; InvalidChainError for a processor it cannot run
 */
export class StreamingPipeline extends EventEmitter {
  readonly source: Source
  readonly processors: Processor[]
  readonly sink: Sink
  readonly chunkSize: number
  private readonly progressIntervalMs: number
  private readonly statsIntervalMs: number
  private readonly machine = new StateMachine(this, 'the pipeline')
  /** The latest run (settled or not), for wait(). */
  private current: Promise<PipelineStats> | null = null
  private stopRequested = false
  private aborted = false
  private control: native.PipelineControl | null = null
  private started = 0
  private origin: UsageOrigin | null = null
  private frozen = true
  private streamContext: StreamingContext | null = null
  private segments: Segment[] = []
  private pendingParams: [string, number][] = []
  private lastStats: PipelineStats = emptyStats()
  private separation: SeparationStream | null = null

  constructor(options: PipelineOptions) {
    super()
    checkOptions(options, PIPELINE_OPTIONS, 'StreamingPipeline')
    if (!options) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `options`: StreamingPipeline needs { source, sink }')
    if (!hasMethod(options.source, 'openAsync') && !hasMethod(options.source, 'open') && !(options.source instanceof FileSource)) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `source`: expected a FileSource, CallbackSource, MicrophoneSource or an object with openAsync() or open() returning a ChunkReader')
    }
    if (!hasMethod(options.sink, 'open')) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `sink`: expected a FileSink, MultiFileSink, CallbackSink, SpeakerSink or an object with open(info, sourcePath?) returning a ChunkWriter')
    }
    this.source = options.source
    this.processors = options.processors ?? []
    this.sink = options.sink
    this.chunkSize = options.chunkSize ?? (options.source instanceof MicrophoneSource ? 1024 : 65536)
    this.progressIntervalMs = options.progressIntervalMs ?? 100
    this.statsIntervalMs = options.statsIntervalMs ?? 1000
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`chunkSize\`: must be a whole number of frames >= 1, got ${options.chunkSize}`)
    }
    if (!(this.progressIntervalMs > 0 && Number.isFinite(this.progressIntervalMs))) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`progressIntervalMs\`: must be > 0 ms, got ${options.progressIntervalMs}`)
    }
    if (!(this.statsIntervalMs >= 0 && Number.isFinite(this.statsIntervalMs))) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`statsIntervalMs\`: must be >= 0 ms (0: no 'stats' events), got ${options.statsIntervalMs}`)
    }
    if (!Array.isArray(this.processors)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `processors`: must be an array of processors')
    for (const [i, p] of this.processors.entries()) {
      if (p instanceof SeparationProcessor) {
        if (this.processors.length !== 1) {
          throw makeError('ERR_INVALID_CHAIN', 'invalid chain: a SeparationProcessor must be the pipeline\'s only processor')
        }
      } else if (!(p instanceof NativeProcessor) && !(p instanceof JsProcessor) && !(p instanceof Analyzer)) {
        throw makeError('ERR_INVALID_CHAIN', `invalid chain: processor ${i} is neither a native processor, a JsProcessor nor an Analyzer`)
      }
    }
  }

  /** Where the pipeline is in its life cycle (see {@link StreamState}). */
  get state(): StreamState {
    return this.machine.state
  }

  /** True while a run is starting, running or stopping. */
  get isRunning(): boolean {
    const s = this.machine.state
    return s === 'starting' || s === 'running' || s === 'stopping'
  }

  /**
   * The stream's format and chunk size: set when the run reaches `running`
   * (the source's format is known), kept after it ends; null before the
   * first run gets there (and again at every `start()`). One exception: an
   * all-native job resampling a file (`FileSource` with `sampleRate`, all
   * channels) learns the channel count when its worker opens the file,
   * moments after `running`.
   */
  get context(): StreamingContext | null {
    this.learnNativeContext()
    return this.streamContext
  }

  /** A native job resampling a file learns its channel count when its worker opens the file. */
  private learnNativeContext(): void {
    const c = this.control
    if (!this.streamContext && c && c.channels > 0 && this.machine.state !== 'starting') {
      this.streamContext = new StreamingContext({ sampleRate: c.sampleRate, channels: c.channels, chunkSize: this.chunkSize })
    }
  }

  /** Stats of the current run (live) or of the last one (final). */
  get stats(): PipelineStats {
    const c = this.control
    if (c && !this.frozen) {
      // A native job: read its progress from the control.
      const s = this.lastStats
      s.framesProcessed = c.framesWritten
      s.chunksProcessed = c.chunksWritten
      s.processingTimeS = (performance.now() - this.started) / 1000
      s.realtimeFactor = s.processingTimeS > 0 && c.sampleRate ? s.framesProcessed / c.sampleRate / s.processingTimeS : 0
    }
    if (!this.frozen && this.origin) Object.assign(this.lastStats, usage(this.origin))
    return { ...this.lastStats, ...(this.lastStats.warnings ? { warnings: [...this.lastStats.warnings] } : {}) }
  }

  /**
   * Starts a run in the background; `wait()` (or the `'end'` event) tells
   * when it ends.
   *
   * @throws InvalidStateError while starting, running or stopping;
   *   InvalidParameterError for an unknown option key, a `signal` that is
   *   not an AbortSignal, or a file sink writing over the input file
   */
  start(options?: RunOptions): void {
    checkOptions(options, ['signal'], 'StreamingPipeline.start()')
    const signal = checkSignal(options?.signal)
    if (!this.isRunning) this.checkNotOverwritingInput()
    this.machine.beginStart()
    this.stopRequested = false
    this.aborted = false
    this.streamContext = null
    this.lastStats = emptyStats()
    this.started = performance.now()
    this.origin = usageOrigin()
    this.frozen = false
    const onAbort = () => {
      this.aborted = true
      this.requestStop()
    }
    const job = async (): Promise<PipelineStats> => {
      if (signal?.aborted) {
        this.aborted = true
        return this.lastStats
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      // Processors reused across runs start each run fresh.
      for (const p of this.processors) if (p instanceof JsProcessor) p.reset()
      const sep = this.processors[0]
      return sep instanceof SeparationProcessor ? this.runSeparation(sep) : this.isNativeJob() ? this.runNative() : this.runJs()
    }
    const timer = this.statsIntervalMs > 0 ? setInterval(() => {
            // Reading stats costs three process calls: only for a listener.
            if (this.listenerCount('stats') > 0) this.emit('stats', this.stats)
          }, this.statsIntervalMs) : null
    const finish = () => {
      if (timer) clearInterval(timer)
      signal?.removeEventListener('abort', onAbort)
      if (this.origin) Object.assign(this.lastStats, usage(this.origin))
      this.lastStats.processingTimeS = this.lastStats.processingTimeS || (performance.now() - this.started) / 1000
      this.frozen = true
      this.learnNativeContext() // kept past the run
      this.control = null
    }
    const run = job().then(
      () => {
        finish()
        if (this.aborted) {
          this.machine.set('stopped')
          throw abortError(signal, this.stats, 'the pipeline run')
        }
        this.machine.set('stopped')
        const stats = this.stats
        this.emit('end', stats)
        return stats
      },
      (e: unknown) => {
        finish()
        if (this.aborted) {
          this.machine.set('stopped')
          throw abortError(signal, this.stats, 'the pipeline run')
        }
        this.machine.set('error', e instanceof Error ? e : new Error(String(e)))
        throw e
      },
    )
    this.current = run
    // wait() / run() report the failure; keep an unobserved rejection from crashing the process.
    run.catch(() => {})
  }

  /**
   * Waits for the run to end. Resolves `true` when it has ended (normally
   * or by `stop()`; at once when no run was started), `false` when
   * `timeoutS` seconds passed first (the run goes on); rejects with the
   * run's error (an `AbortError` after an abort). Without `timeoutS` it
   * waits to the end. The final stats are then in {@link stats}.
   *
   * @throws InvalidParameterError (rejection) for a negative or NaN `timeoutS`
   */
  async wait(timeoutS?: number): Promise<boolean> {
    if (timeoutS !== undefined && !(typeof timeoutS === 'number' && timeoutS >= 0)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`timeoutS\`: must be a number of seconds >= 0, got ${timeoutS}`)
    }
    const run = this.current
    if (!run) return true
    if (timeoutS === undefined || timeoutS === Infinity) {
      await run
      return true
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), timeoutS * 1000)
    })
    try {
      return await Promise.race([run.then(() => true), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * `start(options)`, then resolves with the run's final
   * {@link PipelineStats} (also after `stop()`); rejects with the run's
   * error, or an `AbortError` after an abort.
   */
  async run(options?: RunOptions): Promise<PipelineStats> {
    this.start(options)
    return this.current!
  }

  /**
   * Stops after the current chunk; sinks are closed with everything
   * processed so far and the run resolves normally. A no-op once the run
   * has ended.
   *
   * @throws InvalidStateError before the first `start()`
   */
  stop(): void {
    this.machine.checkStop()
    this.requestStop()
  }

  private requestStop(): void {
    const s = this.machine.state
    if (s === 'starting' || s === 'running') this.machine.set('stopping')
    this.stopRequested = true
    this.control?.stop()
    this.separation?.stop()
  }

  /** Clears stats and processor state (JS processors' `reset()` included) so the pipeline can run again. @throws InvalidStateError while running */
  reset(): void {
    if (this.isRunning) throw makeError('ERR_INVALID_STATE', `invalid state: cannot reset a pipeline that is ${this.state}`)
    this.lastStats = emptyStats()
    this.current = null
    for (const s of this.segments) if ('native' in s) callNative(() => s.native.reset())
    for (const p of this.processors) if (p instanceof JsProcessor) p.reset()
  }

  private resetSegments(): void {
    for (const s of this.segments) {
      if ('native' in s) callNative(() => s.native.reset())
      else if ('js' in s) s.js.reset()
    }
  }

  /**
   * Changes `"<index>.<name>"` of a native processor (e.g. `"1.cutoff"`)
   * between chunks; filters keep their state.
   *
   * @throws InvalidParameterError naming the path
   */
  setParameter(path: string, value: number): void {
    const m = /^(\d+)\.(\w+)$/.exec(path)
    const p = m ? this.processors[Number(m[1])] : undefined
    if (!m || !(p instanceof NativeProcessor)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${path}\`: expected "<index>.<name>" of a native processor (the chain has ${this.processors.length} processors)`)
    }
    const kind = native.processorKinds().find((k) => k.name === p.kind)
    if (kind && !kind.params.includes(m[2])) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${path}\`: ${p.kind} has no parameter \`${m[2]}\` (valid: ${kind.params.join(', ')})`)
    }
    if (!Number.isFinite(value)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${path}\`: ${value} is not a finite number`)
    if (this.control) {
      // Native job: checked at the call against a prepared copy of its chain.
      callNative(() => this.control!.setParameter(path, value))
      return
    }
    // JS-driven run: checked now against the segment's shadow chain, applied between chunks.
    const i = Number(m[1])
    const seg = this.nativeSegmentOf(i)
    if (seg) callNative(() => seg.shadow.setParameter(`${i - seg.first}.${m[2]}`, value))
    const norm = this.normalizeSegmentOf(i)
    if (norm) callNative(() => norm.normalize.shadow.setParameter(`0.${m[2]}`, value))
    this.pendingParams.push([path, value])
  }

  private nativeSegmentOf(index: number): NativeSegment | undefined {
    return this.segments.find((s): s is NativeSegment => 'native' in s && index >= s.first && index < s.first + s.count)
  }

  private normalizeSegmentOf(index: number): NormalizeSegment | undefined {
    return this.segments.find((s): s is NormalizeSegment => 'normalize' in s && s.normalize.index === index)
  }

  /** Writing over the file being read would truncate it mid-read. */
  private checkNotOverwritingInput(): void {
    if (!(this.source instanceof FileSource)) return
    const input = canonical(this.source.path)
    const outputs = this.sink instanceof FileSink ? [this.sink.path] : this.sink instanceof MultiFileSink ? this.sink.paths : []
    if (outputs.some((o) => canonical(o) === input)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`output\`: ${input} is also the input; write to another file`)
    }
  }

  /**
   * The all-native fast path: a file or microphone, native processors only,
   * and a file or speaker sink (the native job resamples and selects stems
   * itself, through resonode-io's SinkAdapter).
   */
  private isNativeJob(): boolean {
    return (
      (this.source instanceof FileSource || this.source instanceof MicrophoneSource) &&
      (this.sink instanceof FileSink || this.sink instanceof SpeakerSink) &&
      this.processors.every((p) => p instanceof NativeProcessor)
    )
  }

  private nativeSource(): native.SourceDesc {
    const s = this.source
    return s instanceof FileSource ? { kind: 'file', path: s.path, options: s.options } : (s as MicrophoneSource).desc()
  }

  private nativeSink(): native.SinkDesc {
    const s = this.sink
    return (s as FileSink | SpeakerSink).desc()
  }

  /** The format is known (`context` null: a native job that knows its channel count only once its worker opened the file). */
  private setRunning(context: StreamingContext | null): void {
    this.streamContext = context
    if (this.machine.state === 'starting') this.machine.set('running')
  }

  private async runNative(): Promise<PipelineStats> {
    const control = new native.PipelineControl()
    // Queued unchecked; runNativePipeline checks them against the stream
    // (throwing before anything runs) and from then on checks every call.
    for (const [path, v] of this.pendingParams.splice(0)) callNative(() => control.setParameter(path, v))
    const job = callNative(() =>
      native.runNativePipeline(
        {
          source: this.nativeSource(),
          processors: this.processors.map((p) => (p as NativeProcessor).desc),
          sink: this.nativeSink(),
          chunkSize: this.chunkSize,
        },
        control,
      ),
    )
    this.control = control
    if (this.stopRequested) control.stop()
    this.setRunning(control.channels > 0 ? new StreamingContext({ sampleRate: control.sampleRate, channels: control.channels, chunkSize: this.chunkSize }) : null)
    const timer = setInterval(() => {
      this.emit('progress', { fraction: control.fraction, frames: control.frames } satisfies ProgressEvent)
    }, this.progressIntervalMs)
    try {
      const s = await awaitNative(job)
      Object.assign(this.lastStats, {
        chunksProcessed: s.chunksProcessed,
        framesProcessed: s.framesProcessed,
        processingTimeS: s.processingTimeS,
        realtimeFactor: s.realtimeFactor,
        warnings: s.warnings,
      })
      if (this.sink instanceof SpeakerSink) this.sink.recordPlayed(s.framesDelivered)
      this.frozen = true
      this.emit('progress', { fraction: s.stopped ? control.fraction : 1, frames: s.framesProcessed } satisfies ProgressEvent)
      return this.lastStats
    } catch (e) {
      // Partial stats of a failed job, from what the control saw.
      Object.assign(this.lastStats, { framesProcessed: control.framesWritten, chunksProcessed: control.chunksWritten })
      throw e
    } finally {
      clearInterval(timer)
    }
  }

  /**
   * Source -> separation worker -> stem-interleaved chunks -> sink. The
   * sink opens at the first region, when the stems' shape is known.
   */
  private async runSeparation(sep: SeparationProcessor): Promise<PipelineStats> {
    const started = performance.now()
    const stream = sep.open(this.source as FileSource | CallbackSource | MicrophoneSource, this.chunkSize)
    this.separation = stream
    if (this.stopRequested) stream.stop()
    let writer: ChunkWriter | null = null
    const stats = this.lastStats
    try {
      let selected: number[] = []
      for await (const chunk of stream) {
        if (!writer) {
          selected = sep.select(stream.stemNames)
          const info: StreamInfo = { sampleRate: stream.sampleRate, channels: selected.length * stream.channels }
          writer = this.sink.open(info, this.source instanceof FileSource ? this.source.path : undefined)
          this.setRunning(new StreamingContext({ ...info, chunkSize: this.chunkSize }))
        }
        await writer.write(selected.flatMap((i) => chunk.stems[i]))
        stats.framesProcessed += chunk.frames
        stats.chunksProcessed += 1
        stats.timeToFirstAudioS = stream.timeToFirstAudioS
        stats.processingTimeS = (performance.now() - started) / 1000
        stats.realtimeFactor = stats.framesProcessed / stream.sampleRate / stats.processingTimeS
        this.emit('progress', {
          fraction: stream.totalFrames ? Math.min(1, stats.framesProcessed / stream.totalFrames) : NaN,
          frames: stats.framesProcessed,
        } satisfies ProgressEvent)
      }
    } finally {
      this.separation = null
      await stream.close()
      await writer?.close()
      stats.processingTimeS = (performance.now() - started) / 1000
      stats.realtimeFactor = stats.processingTimeS > 0 && stream.sampleRate ? stats.framesProcessed / stream.sampleRate / stats.processingTimeS : 0
    }
    return stats
  }

  private buildSegments(info: StreamInfo): Segment[] {
    const segments: Segment[] = []
    let run: NativeProcessor[] = []
    let first = 0
    const flush = (end: number) => {
      if (run.length) {
        const chain = callNative(() => new native.NativeChain(run.map((p) => p.desc), info.sampleRate, info.channels, this.chunkSize))
        // Ranges depend on the rate, not on channels or block size: the shadow stays small.
        const shadow = callNative(() => new native.NativeChain(run.map((p) => p.desc), info.sampleRate, 1, 1))
        segments.push({ native: chain, shadow, first, count: run.length })
      }
      run = []
      first = end + 1
    }
    this.processors.forEach((p, i) => {
      if (p instanceof NativeProcessor && p.kind === 'normalize') {
        flush(i)
        // Also checks the parameters against the stream, and later setParameter values.
        const shadow = callNative(() => new native.NativeChain([p.desc], info.sampleRate, 1, 1))
        segments.push({ normalize: { index: i, shadow, targetDb: callNative(() => shadow.getParameter('0.peak')), measured: null, gain: 1 } })
      } else if (p instanceof NativeProcessor) run.push(p)
      else if (p instanceof Analyzer) {
        flush(i)
        p.prepare(info)
        segments.push({ analyzer: p })
      } else {
        flush(i)
        segments.push({ js: p as JsProcessor, index: i })
      }
    })
    flush(this.processors.length)
    return segments
  }

  private applyParams(): void {
    for (const [path, value] of this.pendingParams.splice(0)) {
      const [index, name] = path.split('.')
      const i = Number(index)
      const seg = this.nativeSegmentOf(i)
      if (seg) {
        callNative(() => seg.shadow.setParameter(`${i - seg.first}.${name}`, value))
        callNative(() => seg.native.setParameter(`${i - seg.first}.${name}`, value))
      }
      const norm = this.normalizeSegmentOf(i)?.normalize
      if (norm) {
        callNative(() => norm.shadow.setParameter(`0.${name}`, value))
        // `peak` (dBFS) or `linear`: the shadow converts either to dBFS.
        norm.targetDb = callNative(() => norm.shadow.getParameter('0.peak'))
        if (norm.measured !== null) norm.gain = callNative(() => native.normalizeGain(norm.targetDb, norm.measured!))
      }
    }
  }

  /** Opens the source: `openAsync()` where it has one, else `open()`. */
  private async openSource(): Promise<ChunkReader> {
    const s = this.source as { openAsync?: () => Promise<ChunkReader>; open?: () => ChunkReader }
    const reader = typeof s.openAsync === 'function' ? await s.openAsync() : s.open!()
    if (!reader || !(reader.sampleRate > 0) || !Number.isInteger(reader.channels) || reader.channels < 1 || typeof reader.read !== 'function') {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `source`: its open() / openAsync() must give a ChunkReader with sampleRate > 0, channels >= 1 and read(maxFrames)')
    }
    return reader
  }

  /** Reads the next non-empty chunk, checking a custom source's shape. */
  private async readChunk(reader: ChunkReader): Promise<Float32Array[] | null> {
    for (;;) {
      const chunk = await reader.read(this.chunkSize)
      if (!chunk) return null
      const frames = chunk[0]?.length ?? 0
      if (!Array.isArray(chunk) || chunk.length !== reader.channels || chunk.some((c) => !(c instanceof Float32Array) || c.length !== frames)) {
        throw makeError('ERR_SHAPE', `shape mismatch: the source gave a chunk that is not ${reader.channels} channels of equal-length Float32Arrays`)
      }
      if (frames > 0) return chunk
    }
  }

  /** Runs `chunk` through `segments`; `analysing`: a Normalize pre-pass (analyzers are skipped). */
  private async processChunk(chunk: Float32Array[], segments: Segment[], meta: JsProcessContext, analysing: boolean): Promise<Float32Array[]> {
    const frames = chunk[0].length
    for (const seg of segments) {
      if ('native' in seg) {
        // Small blocks: a synchronous call beats a thread hop.
        if (frames >= 4096) chunk = await awaitNative(seg.native.processAsync(chunk))
        else callNative(() => seg.native.process(chunk))
      } else if ('normalize' in seg) {
        // A Float32Array store rounds the f64 product to nearest: the native `(s as f64 * g) as f32`.
        const g = seg.normalize.gain
        if (g !== 1) for (const c of chunk) for (let i = 0; i < c.length; i++) c[i] = c[i] * g
      } else if ('analyzer' in seg) {
        // Analysed on a worker thread; the audio passes unchanged.
        if (!analysing) await seg.analyzer.push(chunk)
      } else {
        const out = seg.js.process(chunk, meta)
        if (out) {
          if (!Array.isArray(out) || out.length !== meta.channels || out.some((c) => !(c instanceof Float32Array) || c.length !== frames)) {
            throw makeError('ERR_SHAPE', `shape mismatch: JS processor ${seg.index} returned a block that is not ${meta.channels} x ${frames}`)
          }
          chunk = out
        }
      }
    }
    return chunk
  }

  /**
   * The Normalize pre-passes of a JS-driven run, as the native pipeline
   * does them: each normalize measures the sample peak of what reaches it
   * (the processors before it applied, earlier normalizes included) over
   * the whole file, read again with the same options; every processor is
   * reset before each pass and before the real one.
   */
  private async analyse(context: StreamingContext, total: number | null): Promise<void> {
    const points = this.segments.flatMap((s, k) => ('normalize' in s ? [k] : []))
    if (!points.length) return
    if (!(this.source instanceof FileSource)) {
      const i = (this.segments[points[0]] as NormalizeSegment).normalize.index
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${i} (normalize)\`: needs a two-pass analysis, but the pipeline's source can be read only once; read a FileSource`)
    }
    const passes = points.length + 1
    for (const [pass, k] of points.entries()) {
      // Pass 0 starts from the reset every run begins with.
      if (pass > 0) this.resetSegments()
      const reader = await this.openSource()
      try {
        let peak = 0
        let frames = 0
        let chunkIndex = 0
        while (!this.stopRequested) {
          const chunk = await this.readChunk(reader)
          if (!chunk) break
          const out = await this.processChunk(chunk, this.segments.slice(0, k), { sampleRate: context.sampleRate, channels: context.channels, chunkIndex, firstFrame: frames, context }, true)
          for (const c of out) for (let i = 0; i < c.length; i++) peak = Math.max(peak, Math.abs(c[i]))
          frames += chunk[0].length
          chunkIndex++
          this.emit('progress', { fraction: total ? (pass + Math.min(1, frames / total)) / passes : NaN, frames } satisfies ProgressEvent)
        }
        const norm = (this.segments[k] as NormalizeSegment).normalize
        norm.measured = peak
        norm.gain = callNative(() => native.normalizeGain(norm.targetDb, peak))
      } finally {
        reader.close()
      }
    }
    this.resetSegments()
  }

  private async runJs(): Promise<PipelineStats> {
    const started = performance.now()
    let reader: ChunkReader | null = null
    let writer: ChunkWriter | null = null
    const stats = this.lastStats
    try {
      reader = await this.openSource()
      const info: StreamInfo = { sampleRate: reader.sampleRate, channels: reader.channels }
      const context = new StreamingContext({ ...info, chunkSize: this.chunkSize })
      this.segments = this.buildSegments(info)
      for (const seg of this.segments) if ('js' in seg) seg.js.prepare(context)
      const total = reader.totalFrames
      const passes = this.segments.filter((s) => 'normalize' in s).length + 1
      await this.analyse(context, total)
      writer = this.sink.open(info, this.source instanceof FileSource ? this.source.path : undefined)
      this.setRunning(context)
      while (!this.stopRequested) {
        let chunk = await this.readChunk(reader)
        if (!chunk) break
        const frames = chunk[0].length
        this.applyParams()
        chunk = await this.processChunk(chunk, this.segments, { ...info, chunkIndex: stats.chunksProcessed, firstFrame: stats.framesProcessed, context }, false)
        await writer.write(chunk)
        stats.framesProcessed += frames
        stats.chunksProcessed += 1
        stats.processingTimeS = (performance.now() - started) / 1000
        stats.realtimeFactor = stats.framesProcessed / info.sampleRate / stats.processingTimeS
        this.emit('progress', {
          fraction: total ? (passes - 1 + Math.min(1, stats.framesProcessed / total)) / passes : NaN,
          frames: stats.framesProcessed,
        } satisfies ProgressEvent)
      }
      if (stats.framesProcessed === 0 && !this.stopRequested) {
        throw makeError('ERR_EMPTY_AUDIO', 'empty audio: the source produced no frames')
      }
      for (const seg of this.segments) if ('analyzer' in seg) await seg.analyzer.end()
    } finally {
      reader?.close()
      await writer?.close()
      stats.processingTimeS = (performance.now() - started) / 1000
      stats.realtimeFactor = stats.processingTimeS > 0 && reader ? stats.framesProcessed / reader.sampleRate / stats.processingTimeS : 0
    }
    return stats
  }
}
