import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
import { checkOptions } from './options'
import { NativeProcessor, type Processor } from './processors'

/** Options of {@link ProcessorChain}. */
export interface ProcessorChainOptions {
  /** Sample rate in Hz. */
  sampleRate: number
  /** Channel count. */
  channels: number
  /** Largest block processed in one native call; larger input is split (default 8192). */
  maxBlockFrames?: number
}

/**
 * Native processors prepared for one stream, driven block by block from JS:
 * for code that produces audio itself (synthesis, custom I/O). Blocks are
 * planar `Float32Array[]` (channels x frames) of any length.
 *
 * `Normalize` is refused: it needs the whole signal before the first
 * block (run it in a `StreamingPipeline` or `StreamProcessor` from a file).
 *
 * @throws InvalidParameterError / InvalidChainError when a processor is invalid for the stream;
 *   InvalidParameterError for an unknown option key
 */
export class ProcessorChain {
  private readonly inner: native.NativeChain
  constructor(processors: Processor[], options: ProcessorChainOptions) {
    checkOptions(options, ['sampleRate', 'channels', 'maxBlockFrames'], 'ProcessorChain')
    if (!options) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `options`: ProcessorChain needs { sampleRate, channels }')
    const descs = processors.map((p, i) => {
      if (!(p instanceof NativeProcessor)) throw makeError('ERR_INVALID_CHAIN', `invalid chain: processor ${i} (${p.kind}) is not native`)
      if (p.kind === 'normalize') {
        throw makeError('ERR_INVALID_CHAIN', `invalid chain: processor ${i} (normalize) needs a pass over the whole signal first; block by block it cannot work (use a StreamingPipeline or StreamProcessor reading a file)`)
      }
      return p.desc
    })
    this.inner = callNative(() => new native.NativeChain(descs, options.sampleRate, options.channels, options.maxBlockFrames))
  }
  /**
   * Processes the block in place on the calling thread (no copies beyond the
   * native staging buffer): the cheap path for small blocks.
   *
   * All or nothing: the shape and every sample are checked first, so a
   * throw leaves the arrays and the chain's state (filter memories, delay
   * lines) as they were.
   *
   * @throws ShapeError, NonFiniteSampleError (NaN or infinity, naming the frame and channel)
   */
  process(channels: Float32Array[]): Float32Array[] {
    callNative(() => this.inner.process(channels))
    return channels
  }
  /** Processes a copy on a worker thread; resolves with the processed block. Rejects like {@link process} throws, the chain untouched. */
  processAsync(channels: Float32Array[]): Promise<Float32Array[]> {
    return awaitNative(callNative(() => this.inner.processAsync(channels)))
  }
  /** Sets `"<index>.<name>"`; filters keep their state. @throws InvalidParameterError */
  setParameter(path: string, value: number): void {
    callNative(() => this.inner.setParameter(path, value))
  }
  /** Reads `"<index>.<name>"`. */
  getParameter(path: string): number {
    return callNative(() => this.inner.getParameter(path))
  }
  /** Clears all signal state (filter memories, delay lines). */
  reset(): void {
    callNative(() => this.inner.reset())
  }
}
