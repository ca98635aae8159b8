/**
 * {@link StreamProcessor}: one chain of processors applied to many files or
 * streams, with `await using` support.
 */
import { makeError } from './errors'
import type { Processor } from './processors'
import { StreamingPipeline, type PipelineStats } from './pipeline'
import { FileSource, type FileSourceOptions } from './sources'
import { CallbackSink, FileSink, type FileSinkOptions } from './sinks'

/** Options of {@link StreamProcessor}. */
export interface StreamProcessorOptions {
  processors: Processor[]
  /** Frames per chunk (default 65536). */
  chunkSize?: number
}

/**
 * Applies a processor chain to files chunk by chunk at constant memory.
 * Each call runs its own pipeline (processor state starts fresh).
 *
 * ```ts
 * await using sp = new StreamProcessor({ processors: [new HighPass(80)], chunkSize: 65536 })
 * await sp.processFile('in.wav', 'out.wav')
 * for await (const chunk of sp.processChunks('in.wav')) { ... } // Float32Array per channel
 * ```
 */
export class StreamProcessor {
  readonly processors: Processor[]
  readonly chunkSize: number
  private readonly active = new Set<StreamingPipeline>()
  private disposed = false

  constructor(options: StreamProcessorOptions) {
    this.processors = options.processors
    this.chunkSize = options.chunkSize ?? 65536
  }

  private track(p: StreamingPipeline): StreamingPipeline {
    if (this.disposed) throw makeError('ERR_INVALID_STATE', 'invalid state: the StreamProcessor was disposed')
    this.active.add(p)
    return p
  }

  /** Processes `input` into `output` (WAV or FLAC by extension). Resolves with the run's stats. */
  async processFile(
    input: string,
    output: string,
    options: { source?: FileSourceOptions; sink?: FileSinkOptions; onProgress?: (fraction: number) => void } = {},
  ): Promise<PipelineStats> {
    const p = this.track(
      new StreamingPipeline({
        source: new FileSource(input, options.source),
        processors: this.processors,
        sink: new FileSink(output, options.sink),
        chunkSize: this.chunkSize,
      }),
    )
    if (options.onProgress) p.on('progress', (e) => options.onProgress!(e.fraction))
    try {
      return await p.run()
    } finally {
      this.active.delete(p)
    }
  }

  /**
   * Yields processed chunks (planar `Float32Array[]`, channels x frames) of
   * `input`. Decoding and native processing run off the JS thread; the
   * next chunk is not produced until the consumer asks for it.
   */
  async *processChunks(input: string | FileSource): AsyncGenerator<Float32Array[], PipelineStats, void> {
    const queue: Float32Array[][] = []
    let wake: (() => void) | null = null
    let release: (() => void) | null = null
    const p = this.track(
      new StreamingPipeline({
        source: typeof input === 'string' ? new FileSource(input) : input,
        processors: this.processors,
        // A callback sink that waits for the consumer gives natural backpressure.
        sink: new CallbackSink(
          (ch) =>
            new Promise<void>((resolve) => {
              queue.push(ch)
              release = resolve
              wake?.()
            }),
        ),
        chunkSize: this.chunkSize,
      }),
    )
    p.start()
    const done = p.wait().finally(() => wake?.())
    try {
      for (;;) {
        if (queue.length) {
          yield queue.shift()!
          const r = release as (() => void) | null
          release = null
          r?.()
          continue
        }
        if (!p.isRunning) break
        await new Promise<void>((r) => {
          wake = r
          if (queue.length || !p.isRunning) r()
        })
        wake = null
      }
      return await done
    } finally {
      if (p.isRunning) {
        p.stop()
        const r = release as (() => void) | null
        r?.()
        await done.catch(() => {})
      }
      this.active.delete(p)
    }
  }

  /** Stops every run of this processor and waits for them to end. */
  async close(): Promise<void> {
    this.disposed = true
    const runs = [...this.active]
    for (const p of runs) p.stop()
    await Promise.allSettled(runs.map((p) => p.wait()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
