/**
 * Sources: where a pipeline's audio comes from. All yield planar blocks
 * (`Float32Array[]`, channels x frames).
 */
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'

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

/** Internal uniform reading interface. @internal */
export interface ChunkReader {
  sampleRate: number
  channels: number
  totalFrames: number | null
  read(maxFrames: number): Promise<Float32Array[] | null>
  close(): void
}

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
  constructor(readonly path: string, readonly options: FileSourceOptions = {}) {}

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

/**
 * Audio from JavaScript: an iterable or async iterable of chunks (planar
 * `Float32Array[]` or interleaved `Float32Array`), e.g. an async generator.
 * Chunks may have any length; every chunk must have the same channel count.
 */
export class CallbackSource {
  readonly kind = 'callback'
  constructor(
    readonly chunks: Iterable<SourceChunk> | AsyncIterable<SourceChunk>,
    readonly options: CallbackSourceOptions,
  ) {
    if (!(options.sampleRate > 0)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`sampleRate\`: must be > 0 Hz, got ${options.sampleRate}`)
  }

  /** @internal */
  async openAsync(): Promise<ChunkReader> {
    const it: AsyncIterator<SourceChunk> | Iterator<SourceChunk> =
      Symbol.asyncIterator in this.chunks
        ? (this.chunks as AsyncIterable<SourceChunk>)[Symbol.asyncIterator]()
        : (this.chunks as Iterable<SourceChunk>)[Symbol.iterator]()
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

export type Source = FileSource | CallbackSource | MicrophoneSource
