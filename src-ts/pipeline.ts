/**
 * {@link StreamingPipeline}: Source -> processors -> Sink.
 *
 * When the source is a {@link FileSource}, every processor is native and the
 * sink is a plain {@link FileSink}, the whole job runs in Rust on a worker
 * thread (decode, chain, encode) and JS only polls progress. Otherwise JS
 * drives the loop chunk by chunk, with native processors still running in
 * Rust (on a worker thread for large chunks). A {@link SeparationProcessor}
 * (the only processor then) runs on its own worker thread and turns the
 * stream into stems for a `MultiFileSink` or a `FileSink` with `stemIndex`.
 */
import { EventEmitter } from 'node:events'
import { existsSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
import { JsProcessor, NativeProcessor, Processor, type StreamInfo } from './processors'
import { CallbackSource, FileSource, MicrophoneSource, type ChunkReader, type Source } from './sources'
import { FileSink, MultiFileSink, SpeakerSink, type ChunkWriter, type Sink } from './sinks'
import { SeparationProcessor, type SeparationStream } from './separation'
import { Analyzer } from './analysis'

const canonical = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p))

/** What a run did. `realtimeFactor` = audio seconds / processing seconds (> 1: faster than real time). */
export interface PipelineStats {
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
  source: Source
  processors?: Processor[]
  sink: Sink
  /** Frames per chunk (default 65536; 1024 for a microphone source). */
  chunkSize?: number
  /** Milliseconds between `'progress'` events of native jobs (default 100). */
  progressIntervalMs?: number
}

const emptyStats = (): PipelineStats => ({ chunksProcessed: 0, framesProcessed: 0, processingTimeS: 0, realtimeFactor: 0 })

/** A run of native processors; `shadow` is a second chain of the same processors that only validates `setParameter` values at the call. */
type NativeSegment = { native: native.NativeChain; shadow: native.NativeChain; first: number; count: number }
type Segment = NativeSegment | { js: JsProcessor; index: number } | { analyzer: Analyzer }

/**
 * Runs a source through a chain of processors into a sink, off the JS
 * thread where possible. Emits `'progress'` ({@link ProgressEvent}) and
 * `'end'` ({@link PipelineStats}).
 *
 * Errors reject {@link StreamingPipeline.wait} / {@link StreamingPipeline.run}
 * with a typed {@link ResonodeError}; file sinks keep everything processed
 * before the failure.
 */
export class StreamingPipeline extends EventEmitter {
  readonly source: Source
  readonly processors: Processor[]
  readonly sink: Sink
  readonly chunkSize: number
  private readonly progressIntervalMs: number
  private running: Promise<PipelineStats> | null = null
  private stopRequested = false
  private control: native.PipelineControl | null = null
  private segments: Segment[] = []
  private pendingParams: [string, number][] = []
  private lastStats: PipelineStats = emptyStats()
  private separation: SeparationStream | null = null

  constructor(options: PipelineOptions) {
    super()
    this.source = options.source
    this.processors = options.processors ?? []
    this.sink = options.sink
    this.chunkSize = options.chunkSize ?? (options.source instanceof MicrophoneSource ? 1024 : 65536)
    this.progressIntervalMs = options.progressIntervalMs ?? 100
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`chunkSize\`: must be a whole number of frames >= 1, got ${options.chunkSize}`)
    }
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

  /** True between `start()` and the end of the run. */
  get isRunning(): boolean {
    return this.running !== null
  }

  /** Stats of the current or last run. */
  get stats(): PipelineStats {
    return { ...this.lastStats }
  }

  /** Starts the run in the background; `wait()` resolves when it ends. @throws InvalidStateError if already running */
  start(): void {
    if (this.running) throw makeError('ERR_INVALID_STATE', 'invalid state: the pipeline is already running')
    this.checkNotOverwritingInput()
    this.stopRequested = false
    this.lastStats = emptyStats()
    const sep = this.processors[0]
    const job = sep instanceof SeparationProcessor ? this.runSeparation(sep) : this.isNativeJob() ? this.runNative() : this.runJs()
    this.running = job.finally(() => {
      this.running = null
      this.control = null
    })
    // wait() reports the failure; keep an unobserved rejection from crashing the process.
    this.running.catch(() => {})
  }

  /** Resolves with the stats when the run ends (also after `stop()`). */
  async wait(): Promise<PipelineStats> {
    if (!this.running) return this.stats
    return this.running
  }

  /** `start()` then `wait()`. */
  run(): Promise<PipelineStats> {
    this.start()
    return this.wait()
  }

  /** Stops after the current chunk; sinks are closed with everything processed so far. */
  stop(): void {
    this.stopRequested = true
    this.control?.stop()
    this.separation?.stop()
  }

  /** Clears stats and processor state so the pipeline can run again. @throws InvalidStateError while running */
  reset(): void {
    if (this.running) throw makeError('ERR_INVALID_STATE', 'invalid state: cannot reset a running pipeline')
    this.lastStats = emptyStats()
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
    const seg = this.nativeSegmentOf(Number(m[1]))
    if (seg) callNative(() => seg.shadow.setParameter(`${Number(m[1]) - seg.first}.${m[2]}`, value))
    this.pendingParams.push([path, value])
  }

  private nativeSegmentOf(index: number): NativeSegment | undefined {
    return this.segments.find((s): s is NativeSegment => 'native' in s && index >= s.first && index < s.first + s.count)
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

  private isNativeJob(): boolean {
    return (
      (this.source instanceof FileSource || this.source instanceof MicrophoneSource) &&
      ((this.sink instanceof FileSink && this.sink.options.stemIndex === undefined) || this.sink instanceof SpeakerSink) &&
      this.processors.every((p) => p instanceof NativeProcessor)
    )
  }

  private nativeSource(): native.SourceDesc {
    const s = this.source
    return s instanceof FileSource ? { kind: 'file', path: s.path, options: s.options } : (s as MicrophoneSource).desc()
  }

  private nativeSink(): native.SinkDesc {
    const s = this.sink
    return s instanceof FileSink ? { kind: 'file', path: s.path, options: { encoding: s.options.encoding } } : (s as SpeakerSink).desc()
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
    const timer = setInterval(() => {
      this.emit('progress', { fraction: control.fraction, frames: control.frames } satisfies ProgressEvent)
    }, this.progressIntervalMs)
    try {
      const s = await awaitNative(job)
      this.lastStats = {
        chunksProcessed: s.chunksProcessed,
        framesProcessed: s.framesProcessed,
        processingTimeS: s.processingTimeS,
        realtimeFactor: s.realtimeFactor,
        warnings: s.warnings,
      }
      this.emit('progress', { fraction: s.stopped ? control.fraction : 1, frames: s.framesProcessed } satisfies ProgressEvent)
      this.emit('end', this.stats)
      return this.stats
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
    this.emit('end', this.stats)
    return this.stats
  }

  private buildSegments(info: StreamInfo): Segment[] {
    const segments: Segment[] = []
    let run: NativeProcessor[] = []
    let first = 0
    const flush = (end: number) => {
      if (run.length) {
        const chain = callNative(() => new native.NativeChain(run.map((p) => p.desc), info.sampleRate, info.channels, this.chunkSize))
        if (chain.kinds.includes('normalize')) {
          throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `normalize`: two-pass normalisation runs only in all-native file pipelines (FileSource -> native processors -> FileSink)')
        }
        // Ranges depend on the rate, not on channels or block size: the shadow stays small.
        const shadow = callNative(() => new native.NativeChain(run.map((p) => p.desc), info.sampleRate, 1, 1))
        segments.push({ native: chain, shadow, first, count: run.length })
      }
      run = []
      first = end + 1
    }
    this.processors.forEach((p, i) => {
      if (p instanceof NativeProcessor) run.push(p)
      else if (p instanceof Analyzer) {
        flush(i)
        p.prepare(info)
        segments.push({ analyzer: p })
      } else {
        flush(i)
        ;(p as JsProcessor).prepare(info)
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
    }
  }

  private async runJs(): Promise<PipelineStats> {
    const started = performance.now()
    let reader: ChunkReader | null = null
    let writer: ChunkWriter | null = null
    try {
      reader = this.source instanceof CallbackSource ? await this.source.openAsync() : this.source.open()
      const info: StreamInfo = { sampleRate: reader.sampleRate, channels: reader.channels }
      this.segments = this.buildSegments(info)
      writer = this.sink.open(info, this.source instanceof FileSource ? this.source.path : undefined)
      const stats = this.lastStats
      while (!this.stopRequested) {
        let chunk = await reader.read(this.chunkSize)
        if (!chunk) break
        const frames = chunk[0]?.length ?? 0
        if (frames === 0) continue
        this.applyParams()
        for (const seg of this.segments) {
          if ('native' in seg) {
            // Small blocks: a synchronous call beats a thread hop.
            if (frames >= 4096) chunk = await awaitNative(seg.native.processAsync(chunk))
            else callNative(() => seg.native.process(chunk!))
          } else if ('analyzer' in seg) {
            // Analysed on a worker thread; the audio passes unchanged.
            await seg.analyzer.push(chunk)
          } else {
            const out = seg.js.process(chunk, { ...info, frameOffset: stats.framesProcessed })
            if (out) {
              if (out.length !== info.channels || out.some((c) => !(c instanceof Float32Array) || c.length !== frames)) {
                throw makeError('ERR_SHAPE', `shape mismatch: JS processor ${seg.index} returned a block that is not ${info.channels} x ${frames}`)
              }
              chunk = out
            }
          }
        }
        await writer.write(chunk)
        stats.framesProcessed += frames
        stats.chunksProcessed += 1
        stats.processingTimeS = (performance.now() - started) / 1000
        stats.realtimeFactor = stats.framesProcessed / info.sampleRate / stats.processingTimeS
        this.emit('progress', {
          fraction: reader.totalFrames ? Math.min(1, stats.framesProcessed / reader.totalFrames) : NaN,
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
      this.lastStats.processingTimeS = (performance.now() - started) / 1000
      this.lastStats.realtimeFactor = this.lastStats.processingTimeS > 0 && reader
        ? this.lastStats.framesProcessed / reader.sampleRate / this.lastStats.processingTimeS
        : 0
    }
    this.emit('end', this.stats)
    return this.stats
  }
}
