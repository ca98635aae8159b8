/**
 * Node streams and web streams: {@link StreamSource} (encoded audio or raw
 * PCM from a `Readable`, a web `ReadableStream` or any async iterable of
 * bytes), {@link StreamSink} (WAV / FLAC / raw PCM to a `Writable` or a web
 * `WritableStream`) and {@link transform} (a `Transform` applying a
 * processor chain to raw PCM, for `stream.pipeline(req, transform(...), res)`).
 *
 * Raw PCM is interleaved little-endian: `s16le` (signed 16-bit; a value `v`
 * reads as `v / 32768`, a sample `x` is written as
 * `clamp(round(x * 32768), -32768, 32767)`, ties away from zero, NaN as 0:
 * exactly what FileSink writes to 16-bit files) or `f32le` (IEEE float,
 * unchanged).
 */
import type { Readable, Writable } from 'node:stream'
import { Transform } from 'node:stream'
import native = require('./native')
import { awaitNative, callNative, makeError, ResonodeError } from './errors'
import { checkOptions } from './options'
import { parseChain, type Processor, type StreamInfo } from './processors'
import { ProcessorChain } from './processor-chain'
import type { ChunkReader } from './sources'
import type { ChunkWriter, Encoding } from './sinks'

/** Raw PCM sample formats: interleaved little-endian signed 16-bit or 32-bit float. */
export type RawFormat = 's16le' | 'f32le'

/** Bytes a {@link StreamSource} reads: a Node `Readable`, a web `ReadableStream` or any (async) iterable of byte chunks. */
export type ByteInput = Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>

/** Options of {@link StreamSource}. */
export interface StreamSourceOptions {
  /**
   * `'auto'` (default): encoded audio recognised from its first bytes and
   * decoded in Rust as it arrives (WAV/RF64, FLAC, MP3, Ogg Vorbis/Opus/FLAC,
   * AIFF, CAF, and MP4/M4A when fast-start). Or raw PCM: `'s16le'` /
   * `'f32le'`, which need `sampleRate` and `channels`.
   */
  format?: 'auto' | RawFormat
  /** Raw PCM only: sample rate in Hz. */
  sampleRate?: number
  /** Raw PCM only: channels (interleaved). */
  channels?: number
}

/** Options of {@link StreamSink}. */
export interface StreamSinkOptions {
  /**
   * `'wav'` (RIFF and data sizes 0xFFFFFFFF: "read to the end", as ffmpeg
   * writes to pipes), `'flac'` (STREAMINFO length 0: unknown), or raw
   * `'s16le'` / `'f32le'` (no header).
   */
  format: 'wav' | 'flac' | RawFormat
  /** WAV / FLAC sample encoding: WAV default `float32`, FLAC default `int24` (FLAC has no float32). */
  encoding?: Encoding
  /** End the writable when the pipeline ends (default true; `false` keeps it open, like `stream.pipe`). */
  end?: boolean
}

/** Options of {@link transform}. */
export interface TransformOptions {
  /** Raw PCM format of both the input and the output. */
  format: RawFormat
  /** Sample rate in Hz. */
  sampleRate: number
  /** Channels (interleaved). */
  channels: number
}

const RAW_FORMATS: readonly string[] = ['s16le', 'f32le']

function checkRaw(where: string, format: unknown, sampleRate: unknown, channels: unknown): { format: RawFormat; sampleRate: number; channels: number } {
  if (!RAW_FORMATS.includes(format as string)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`format\`: ${where} takes 's16le' or 'f32le', got ${String(format)}`)
  }
  if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`sampleRate\`: ${where} needs the raw stream's rate in Hz (a whole number >= 1), got ${String(sampleRate)}`)
  }
  if (typeof channels !== 'number' || !Number.isInteger(channels) || channels < 1 || channels > 256) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`channels\`: ${where} needs the raw stream's channel count (1 to 256), got ${String(channels)}`)
  }
  return { format: format as RawFormat, sampleRate, channels }
}

const bytesPerSample = (format: RawFormat) => (format === 's16le' ? 2 : 4)

/** Interleaved little-endian PCM (whole frames) to planar channels. */
function pcmToPlanar(bytes: Uint8Array, format: RawFormat, channels: number): Float32Array[] {
  const bps = bytesPerSample(format)
  const frames = bytes.length / (bps * channels)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  let at = 0
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, at += bps) {
      out[c][i] = format === 's16le' ? view.getInt16(at, true) / 32768 : view.getFloat32(at, true)
    }
  }
  return out
}

/** `float_to_int(x, 16)` of resonode-io: round half away from zero, clip, NaN to 0. */
function toInt16(x: number): number {
  const v = x * 32768
  const r = v < 0 ? -Math.round(-v) : Math.round(v)
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r || 0
}

/** Planar channels to interleaved little-endian PCM. */
function planarToPcm(planar: Float32Array[], format: RawFormat): Buffer {
  const channels = planar.length
  const frames = planar[0]?.length ?? 0
  const bps = bytesPerSample(format)
  const out = Buffer.allocUnsafe(frames * channels * bps)
  let at = 0
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, at += bps) {
      if (format === 's16le') out.writeInt16LE(toInt16(planar[c][i]), at)
      else out.writeFloatLE(planar[c][i], at)
    }
  }
  return out
}

/** The input's chunks as an async iterator of `Uint8Array`. */
function byteIterator(input: ByteInput): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  const i = input as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown; getReader?: unknown }
  if (typeof i[Symbol.asyncIterator] === 'function') return (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  if (typeof i.getReader === 'function') {
    const reader = (input as ReadableStream<Uint8Array>).getReader()
    return {
      next: async () => {
        const r = await reader.read()
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value }
      },
      return: async () => {
        await reader.cancel().catch(() => {})
        return { done: true, value: undefined }
      },
    }
  }
  if (typeof i[Symbol.iterator] === 'function' && typeof input !== 'string') return (input as Iterable<Uint8Array>)[Symbol.iterator]()
  throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `input`: expected a Readable, a ReadableStream or an (async) iterable of Uint8Array chunks')
}

function checkChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') {
    throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `input`: it yields strings, not bytes (do not call setEncoding() on an audio stream)')
  }
  throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`input\`: it yields ${chunk === null ? 'null' : typeof chunk} chunks, not Uint8Array`)
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Audio from a byte stream, as a pipeline source: an encoded file arriving
 * over HTTP or a socket, decoded as it streams (no temporary file, nothing
 * sought), or raw PCM with a declared format.
 *
 * Encoded input (`format: 'auto'`) is decoded in Rust on its own thread by
 * the same decoders as {@link FileSource} (symphonia; opus-pure for Opus),
 * so the samples equal the file's. Recognised from the first bytes: WAV and
 * RF64/BW64 (sizes of 0xFFFFFFFF mean "to the end"), FLAC, MP3 (after ID3v2
 * tags), Ogg Vorbis / Opus / FLAC, AIFF/AIFF-C, CAF, and MP4/M4A only when
 * fast-start (`moov` before `mdat`). Memory is bounded: at most ~256 KiB of
 * bytes wait for the decoder, and the input is not read further until the
 * decoder catches up (a fast upload is paused, not buffered).
 *
 * One-shot: a stream is read once; opening it again throws
 * InvalidStateError. Errors (rejecting the pipeline run, after every frame
 * decoded before them was delivered): `ERR_UNSUPPORTED_FORMAT` (not audio,
 * e.g. garbage bytes, or a codec not decoded), `ERR_EMPTY_AUDIO` (no
 * bytes), `ERR_DECODE` (damaged data; a stream ending before the length its
 * header declares, or raw PCM ending inside a frame), `ERR_IO` (the input
 * stream failed, e.g. the client aborted the upload; the message says why),
 * `ERR_INVALID_PARAMETER` (options; chunks that are strings, not bytes).
 */
export class StreamSource {
  readonly kind = 'stream'
  readonly options: StreamSourceOptions
  private opened = false

  /** @throws InvalidParameterError for an unknown option key, raw PCM without `sampleRate` / `channels`, or an input that is not a byte stream */
  constructor(
    readonly input: ByteInput,
    options: StreamSourceOptions = {},
  ) {
    checkOptions(options, ['format', 'sampleRate', 'channels'], 'StreamSource')
    this.options = { ...options }
    const format = options.format ?? 'auto'
    if (format === 'auto') {
      if (options.sampleRate !== undefined || options.channels !== undefined) {
        throw makeError('ERR_INVALID_PARAMETER', "invalid parameter `sampleRate`: StreamSource takes `sampleRate` and `channels` for raw PCM only (format 's16le' or 'f32le'); encoded input declares its own")
      }
    } else {
      checkRaw('StreamSource', format, options.sampleRate, options.channels)
    }
    const i = input as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown; getReader?: unknown } | null
    if (!i || (typeof i !== 'object' && typeof i !== 'function') || !(typeof i[Symbol.asyncIterator] === 'function' || typeof i[Symbol.iterator] === 'function' || typeof i.getReader === 'function')) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `input`: expected a Readable, a ReadableStream or an (async) iterable of Uint8Array chunks')
    }
  }

  /** Starts reading the input; resolves once the format is known. @internal */
  async openAsync(): Promise<ChunkReader> {
    if (this.opened) throw makeError('ERR_INVALID_STATE', 'invalid state: a StreamSource reads its input once; make a new one for another run')
    this.opened = true
    const it = byteIterator(this.input)
    const format = this.options.format ?? 'auto'
    return format === 'auto' ? openEncoded(it) : openRaw(it, checkRaw('StreamSource', format, this.options.sampleRate, this.options.channels))
  }
}

async function openEncoded(it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>): Promise<ChunkReader> {
  const dec = callNative(() => new native.NativeStreamDecoder('<input stream>', undefined))
  let closed = false
  let badChunk: unknown = null
  // The feeder: pulls the input only while the decoder has room.
  void (async () => {
    try {
      for (;;) {
        const r = await it.next()
        if (r.done || closed) break
        let chunk: Uint8Array
        try {
          chunk = checkChunk(r.value)
        } catch (e) {
          badChunk = e
          throw e
        }
        if (!dec.push(chunk)) await dec.drain()
      }
      dec.end()
    } catch (e) {
      dec.fail(`the input stream failed: ${messageOf(e)}`)
    }
  })()
  const close = () => {
    if (closed) return
    closed = true
    dec.close()
    void Promise.resolve(it.return?.()).catch(() => {})
  }
  // A string chunk is the caller's mistake, not an I/O failure.
  const rethrow = (e: unknown): never => {
    throw badChunk ?? e
  }
  let info: native.AudioFileInfo
  try {
    info = await awaitNative(dec.info()).catch(rethrow)
  } catch (e) {
    close()
    throw e
  }
  return {
    sampleRate: info.sampleRate,
    channels: info.channels,
    totalFrames: null,
    read: (n) => awaitNative(dec.read(n)).catch(rethrow),
    close,
  }
}

function openRaw(it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>, raw: { format: RawFormat; sampleRate: number; channels: number }): ChunkReader {
  const frameBytes = bytesPerSample(raw.format) * raw.channels
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let ended = false
  let framesRead = 0
  const take = (bytes: number): Uint8Array => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
    const out = all.subarray(0, bytes)
    const rest = all.subarray(bytes)
    pending = rest.length ? [rest] : []
    pendingBytes = rest.length
    return out
  }
  return {
    sampleRate: raw.sampleRate,
    channels: raw.channels,
    totalFrames: null,
    read: async (maxFrames) => {
      const want = Math.max(1, Math.floor(maxFrames)) * frameBytes
      while (!ended && pendingBytes < want) {
        let r: IteratorResult<Uint8Array>
        try {
          r = await it.next()
        } catch (e) {
          throw makeError('ERR_IO', `I/O error: the input stream failed after ${framesRead} frames: ${messageOf(e)}`, e)
        }
        if (r.done) ended = true
        else {
          const chunk = checkChunk(r.value)
          if (chunk.length) {
            pending.push(chunk)
            pendingBytes += chunk.length
          }
        }
      }
      const whole = Math.min(want, pendingBytes - (pendingBytes % frameBytes))
      if (whole === 0) {
        if (pendingBytes > 0) {
          throw makeError('ERR_DECODE', `cannot decode: the raw ${raw.format} stream ended inside a frame (${pendingBytes} stray bytes after ${framesRead} frames of ${frameBytes} bytes)`)
        }
        return null
      }
      framesRead += whole / frameBytes
      return pcmToPlanar(take(whole), raw.format, raw.channels)
    },
    close: () => {
      void Promise.resolve(it.return?.()).catch(() => {})
    },
  }
}

/** A byte destination with back-pressure: a Node `Writable` or a web `WritableStream`. */
interface ByteWriter {
  write(bytes: Uint8Array): Promise<void>
  end(): Promise<void>
  release(): void
}

const hungUp = () => makeError('ERR_IO', 'I/O error: the destination stream was closed before the audio ended (did the client hang up?); the bytes sent so far form a valid stream')

function nodeWriter(w: Writable): ByteWriter {
  let failure: ResonodeError | null = null
  // Listening also keeps a write error from crashing the process.
  w.on('error', (e) => {
    failure ??= makeError('ERR_IO', `I/O error: the destination stream failed: ${messageOf(e)}`, e)
  })
  const check = () => {
    if (failure) throw failure
    if (w.destroyed || w.writableEnded) throw hungUp()
  }
  return {
    write: async (bytes) => {
      check()
      if (!bytes.length) return
      if (w.write(bytes)) return
      await new Promise<void>((resolve, reject) => {
        const done = (e?: unknown) => {
          w.off('drain', onDrain)
          w.off('close', onClose)
          w.off('error', onError)
          if (e) reject(e)
          else resolve()
        }
        const onDrain = () => done()
        const onClose = () => done(failure ?? hungUp())
        const onError = (e: unknown) => done(makeError('ERR_IO', `I/O error: the destination stream failed: ${messageOf(e)}`, e))
        w.on('drain', onDrain)
        w.on('close', onClose)
        w.on('error', onError)
      })
    },
    end: async () => {
      check()
      await new Promise<void>((resolve, reject) => {
        const onClose = () => (w.writableFinished ? resolve() : reject(failure ?? hungUp()))
        w.once('close', onClose)
        w.end((e?: Error | null) => {
          w.off('close', onClose)
          if (failure) reject(failure)
          else if (e) reject(makeError('ERR_IO', `I/O error: the destination stream failed: ${messageOf(e)}`, e))
          else resolve()
        })
      })
    },
    release: () => {},
  }
}

function webWriter(ws: WritableStream<Uint8Array>): ByteWriter {
  const writer = ws.getWriter()
  const io = (e: unknown) => makeError('ERR_IO', `I/O error: the destination stream failed: ${messageOf(e)}`, e)
  return {
    write: async (bytes) => {
      try {
        await writer.ready
        await writer.write(bytes)
      } catch (e) {
        throw io(e)
      }
    },
    end: async () => {
      try {
        await writer.close()
      } catch (e) {
        throw io(e)
      }
    },
    release: () => writer.releaseLock(),
  }
}

/**
 * Writes the pipeline's audio to a byte stream: an HTTP response, a socket,
 * a file write stream, a web `WritableStream`. Encoding runs in Rust on a
 * worker thread; a write waits for `'drain'` when the writable is full, so
 * a slow client slows the pipeline instead of filling memory.
 *
 * `wav` has RIFF and data sizes 0xFFFFFFFF ("read to the end", what ffmpeg
 * writes to pipes; hound's header for unseekable outputs), `flac` a
 * STREAMINFO whose length and MD5 are 0 ("unknown", legal FLAC): neither is
 * rewritten, so the bytes sent up to any point form a valid stream. Integer
 * encodings round and clip as {@link FileSink}. Closing the sink ends the
 * writable unless `end: false`.
 *
 * Errors: `ERR_IO` when the writable is destroyed or fails (e.g. the client
 * hung up): the pipeline stops, and the bytes already sent stay a valid
 * stream; `ERR_INVALID_PARAMETER` for options (unknown keys, a format not
 * listed, float32 FLAC, FLAC above 8 channels).
 */
export class StreamSink {
  readonly kind = 'stream'
  readonly options: StreamSinkOptions

  /** @throws InvalidParameterError for an unknown option key or a bad format / encoding */
  constructor(
    readonly writable: Writable | WritableStream<Uint8Array>,
    options: StreamSinkOptions,
  ) {
    checkOptions(options, ['format', 'encoding', 'end'], 'StreamSink')
    if (!options || !['wav', 'flac', 's16le', 'f32le'].includes(options.format)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`format\`: StreamSink writes 'wav', 'flac', 's16le' or 'f32le', got ${String(options?.format)}`)
    }
    const w = writable as { write?: unknown; getWriter?: unknown } | null
    if (!w || (typeof w.write !== 'function' && typeof w.getWriter !== 'function')) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `writable`: expected a Node Writable or a web WritableStream')
    }
    this.options = { ...options }
    // Checks the format / encoding pair now, not at the first run.
    callNative(() => new native.NativeStreamEncoder(options.format, options.encoding, 8000, 1, undefined))
  }

  /** @internal */
  open(info: StreamInfo): ChunkWriter {
    const { format, encoding, end = true } = this.options
    const enc = callNative(() => new native.NativeStreamEncoder(format, encoding, info.sampleRate, info.channels, `<${format} output stream>`))
    const isWeb = typeof (this.writable as { getWriter?: unknown }).getWriter === 'function'
    const out = isWeb ? webWriter(this.writable as WritableStream<Uint8Array>) : nodeWriter(this.writable as Writable)
    let failed = false
    return {
      write: async (ch) => {
        try {
          await out.write(await awaitNative(enc.encode(ch)))
        } catch (e) {
          failed = true
          throw e
        }
      },
      close: async () => {
        // After a failed write the destination is gone: nothing more to send.
        if (failed) return out.release()
        try {
          await out.write(callNative(() => enc.finish()))
        } finally {
          if (end) await out.end()
          else out.release()
        }
      },
    }
  }
}

/**
 * A Node `Transform` that applies a processor chain to raw PCM: bytes in,
 * the same format out (interleaved `s16le` or `f32le`), e.g.
 * `stream.pipeline(req, resonode.transform('highpass(80) gain(-3db)', { format: 's16le', sampleRate: 48000, channels: 2 }), res)`.
 *
 * `chain` is a `Processor[]` of native processors or a chain string (as
 * {@link parseChain}). Chunks may split frames anywhere: the remainder is
 * carried to the next chunk. Blocks of 4096 frames or more are processed on
 * a worker thread (`ProcessorChain.processAsync`), smaller ones inline.
 * Back-pressure is the Transform's own: a slow reader pauses the writer,
 * and no frame is dropped. The output equals the chain applied to the whole
 * signal at once (filters keep their state across chunks).
 *
 * @throws InvalidParameterError (unknown option keys, bad format / rate /
 *   channels), InvalidChainError (a bad chain string or a non-native
 *   processor). The stream errors with `ERR_DECODE` when the input ends
 *   inside a frame, `ERR_NON_FINITE_SAMPLE` for NaN / infinite `f32le`
 *   input.
 */
export function transform(chain: Processor[] | string, options: TransformOptions): Transform {
  checkOptions(options, ['format', 'sampleRate', 'channels'], 'transform()')
  const { format, sampleRate, channels } = checkRaw('transform()', options?.format, options?.sampleRate, options?.channels)
  const processors = typeof chain === 'string' ? parseChain(chain) : chain
  if (!Array.isArray(processors)) throw makeError('ERR_INVALID_CHAIN', 'invalid chain: expected a Processor[] or a chain string')
  const pc = new ProcessorChain(processors, { sampleRate, channels })
  const frameBytes = bytesPerSample(format) * channels
  let carry: Buffer = Buffer.alloc(0)
  let frames = 0
  const run = async (chunk: Buffer): Promise<Buffer | null> => {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk
    const whole = buf.length - (buf.length % frameBytes)
    // A copy: the remainder must not pin the whole chunk.
    carry = Buffer.from(buf.subarray(whole))
    if (whole === 0) return null
    const planar = pcmToPlanar(buf.subarray(0, whole), format, channels)
    const n = whole / frameBytes
    const out = n >= 4096 ? await pc.processAsync(planar) : pc.process(planar)
    frames += n
    return planarToPcm(out, format)
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      run(chunk).then((out) => callback(null, out ?? undefined), callback)
    },
    flush(callback) {
      if (carry.length) {
        callback(makeError('ERR_DECODE', `cannot decode: the raw ${format} stream ended inside a frame (${carry.length} stray bytes after ${frames} frames of ${frameBytes} bytes)`))
      } else callback()
    },
  })
}
