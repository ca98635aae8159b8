/**
 * {@link StreamingContext}: what every stage of a stream knows about it
 * (after mlx-audio's `StreamingContext`).
 */

/**
 * The stream's format and block size, fixed for a run: passed to custom
 * processors (`JsProcessor.prepare`) and read from `context` of
 * `StreamingPipeline`, `StreamProcessor` and `RealtimeProcessor`.
 */
export class StreamingContext {
  /** Sample rate in Hz. */
  readonly sampleRate: number
  /** Channel count. */
  readonly channels: number
  /** Frames per chunk (pipelines) or per callback (the real-time engine). */
  readonly chunkSize: number

  constructor(init: { sampleRate: number; channels: number; chunkSize: number }) {
    this.sampleRate = init.sampleRate
    this.channels = init.channels
    this.chunkSize = init.chunkSize
    Object.freeze(this)
  }

  /** One chunk's duration in ms: `chunkSize / sampleRate * 1000`. */
  get chunkDurationMs(): number {
    return (this.chunkSize / this.sampleRate) * 1000
  }

  toJSON(): { sampleRate: number; channels: number; chunkSize: number; chunkDurationMs: number } {
    return { sampleRate: this.sampleRate, channels: this.channels, chunkSize: this.chunkSize, chunkDurationMs: this.chunkDurationMs }
  }
}
