/**
 * Sources: where a pipeline's audio comes from. All yield planar blocks
 * (`Float32Array[]`, channels x frames).
 */
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
import { checkOptions } from './options'

/** How a file is read. */
export interface FileSourceOptions {
  /** Resample to this rate in Hz (rubato, sinc interpolation). Default: the file's rate. */
  sampleRate?: number
  /** Downmix to one channel (average of all channels). */
  mono?: boolean
  /** Keep only these channels (0-based), in this order. */
  channels?: number[]
}

/** What a file holds, as stored. */
export type FileInfo = native.AudioFileInfo

/**
 * An opened source, read chunk by chunk: what every source's `open()` /
 * `openAsync()` returns, and what a {@link CustomSource} implements.
 */
export interface ChunkReader {
  /** Sample rate of the delivered audio in Hz. */
  sampleRate: number
  /** Channels of every chunk. */
  channels: number
  /** Frames the source will deliver, when known (for progress); else null. */
  totalFrames: number | null
  /**
   * The next chunk, planar (`channels` arrays of equal length, at most
   * `maxFrames` frames; 0 frames is skipped), or `null` at the end.
   */
  read(maxFrames: number): Promise<Float32Array[] | null>
  /** Releases the source; called once when the run ends (also after errors and stops). */
  close(): void
}

/**
 * Any object a pipeline can read from, beyond the built-in sources (e.g.
 * the Node-stream sources): it opens into a {@link ChunkReader}, with
 * `openAsync()` (preferred when present) or `open()`. Opened once per run.
 */
export type CustomSource = { openAsync(): Promise<ChunkReader> } | { open(): ChunkReader }

/**
 * Audio decoded from a file (WAV and RF64 PCM/float/µ-law/A-law incl.
 * WAVE_FORMAT_EXTENSIBLE, AIFF/AIFC, CAF, FLAC, MP3, Ogg Vorbis, Ogg Opus,
 * M4A AAC/ALAC; symphonia, and opus-pure for Opus) chunk by chunk at
 * constant memory. Decoding runs on a worker thread. A file whose header
 * declares more frames than it holds is read to its last decodable frame
 * (the run's `stats.warnings` says so).
 */
export class FileSource {
  readonly kind = 'file'
  readonly options: FileSourceOptions
  /** @throws InvalidParameterError for an unknown option key */
  constructor(
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    checkOptions(options, ['sampleRate', 'mono', 'channels'], 'FileSource')
    this.options = options ?? {}
  }

  /** The file's header information. @throws NotFoundError, UnsupportedFormatError, DecodeError */
  info(): FileInfo {
    return callNative(() => native.probe(this.path))
  }

  /** @internal */
  open(): ChunkReader {
    const r = callNative(() => native.NativeReader.openFile(this.path, this.options))
    return {
      sampleRate: r.sampleRate,
      channels: r.channels,
      totalFrames: r.totalFrames ?? null,
      read: (n) => awaitNative(r.read(n)),
      close: () => {},
    }
  }
}

/** One chunk given to a {@link CallbackSource}: planar channels, or interleaved samples. */
export type SourceChunk = Float32Array[] | Float32Array

/** Options of {@link CallbackSource}. */
export interface CallbackSourceOptions {
  /** Sample rate of the chunks in Hz. */
  sampleRate: number
  /** Channel count; required for interleaved chunks, else taken from the first chunk. */
  channels?: number
}

function deinterleave(samples: Float32Array, channels: number): Float32Array[] {
  if (samples.length % channels !== 0) {
    throw makeError('ERR_SHAPE', `${samples.length} interleaved samples do not divide into ${channels} channels`)
  }
  const frames = samples.length / channels
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) out[c][i] = samples[i * channels + c]
  return out
}

/** What a {@link CallbackSource} reads: chunks, or a function producing them (called once per run). */
export type SourceChunks =
  | Iterable<SourceChunk>
  | AsyncIterable<SourceChunk>
  | (() => Iterable<SourceChunk> | AsyncIterable<SourceChunk>)

const isIterable = (x: unknown): x is Iterable<SourceChunk> | AsyncIterable<SourceChunk> =>
  x !== null && (typeof x === 'object' || typeof x === 'function') && (Symbol.asyncIterator in (x as object) || Symbol.iterator in (x as object))

const describe = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? `an object (${Object.prototype.toString.call(x)})` : typeof x)

/**
 * Audio from JavaScript: an iterable or async iterable of chunks (planar
 * `Float32Array[]` or interleaved `Float32Array`), or a function returning
 * one, e.g. a (async) generator function. A function is called at the
 * start of every run, so such a source can run again; an iterable (e.g. a
 * generator object) is consumed by its first run.
 * Chunks may have any length; every chunk must have the same channel count.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for `chunks` that
 *   is neither, for `sampleRate` <= 0 and for an unknown option key; a run
 *   rejects with it when the function returns something else
 */
export class CallbackSource {
  readonly kind = 'callback'
  constructor(
    readonly chunks: SourceChunks,
    readonly options: CallbackSourceOptions,
  ) {
    if (typeof chunks !== 'function' && !isIterable(chunks)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`chunks\`: CallbackSource takes an iterable or async iterable of chunks, or a function returning one (e.g. a generator function); got ${describe(chunks)}`)
    }
    checkOptions(options, ['sampleRate', 'channels'], 'CallbackSource')
    if (!(options?.sampleRate > 0)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`sampleRate\`: must be > 0 Hz, got ${options?.sampleRate}`)
  }

  /** @internal Opens one run's reader. */
  async openAsync(): Promise<ChunkReader> {
    let chunks: unknown = this.chunks
    if (typeof chunks === 'function' && !isIterable(chunks)) {
      chunks = (chunks as () => unknown)()
      if (!isIterable(chunks)) {
        throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`chunks\`: the CallbackSource function must return an iterable or async iterable of chunks, it returned ${describe(chunks)}`)
      }
    }
    const it: AsyncIterator<SourceChunk> | Iterator<SourceChunk> =
      Symbol.asyncIterator in (chunks as object)
        ? (chunks as AsyncIterable<SourceChunk>)[Symbol.asyncIterator]()
        : (chunks as Iterable<SourceChunk>)[Symbol.iterator]()
    let channels = this.options.channels ?? 0
    const toPlanar = (chunk: SourceChunk): Float32Array[] => {
      if (chunk instanceof Float32Array) {
        if (!channels) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `channels`: required for interleaved chunks')
        return deinterleave(chunk, channels)
      }
      if (!Array.isArray(chunk) || !chunk.every((c) => c instanceof Float32Array)) {
        throw makeError('ERR_SHAPE', 'a chunk must be Float32Array[] (planar) or Float32Array (interleaved)')
      }
      if (!channels) channels = chunk.length
      if (chunk.length !== channels) throw makeError('ERR_SHAPE', `chunk has ${chunk.length} channels, expected ${channels}`)
      const frames = chunk[0]?.length ?? 0
      if (chunk.some((c) => c.length !== frames)) throw makeError('ERR_SHAPE', 'chunk channels differ in length')
      return chunk
    }
    // Look at the first chunk now so the channel count is known up front.
    let first = await it.next()
    const pending: Float32Array[] | null = first.done ? null : toPlanar(first.value)
    if (!channels) throw makeError('ERR_EMPTY_AUDIO', 'empty audio: the callback source produced no chunks')
    let held = pending
    return {
      sampleRate: this.options.sampleRate,
      channels,
      totalFrames: null,
      read: async () => {
        if (held) {
          const c = held
          held = null
          return c
        }
        if (first.done) return null
        first = await it.next()
        return first.done ? null : toPlanar(first.value)
      },
      close: () => {
        void it.return?.()
      },
    }
  }
}

export { MicrophoneSource, type MicrophoneSourceOptions } from './microphone'
import type { MicrophoneSource } from './microphone'

/** Every source a {@link StreamingPipeline} reads: the built-in ones and any {@link CustomSource}. */
export type Source = FileSource | CallbackSource | MicrophoneSource | CustomSource
