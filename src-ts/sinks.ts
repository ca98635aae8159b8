/**
 * Sinks: where a pipeline's processed audio goes.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
import { checkOptions, keysOf } from './options'
import type { StreamInfo } from './processors'

/** Sample encoding of written files. */
export type Encoding = 'int16' | 'int24' | 'float32'

/** Options of {@link FileSink}. */
export interface FileSinkOptions {
  /**
   * Sample encoding. Default: the input file's encoding where possible
   * (16/24-bit PCM stay so), otherwise float32 for WAV and int24 for FLAC.
   */
  encoding?: Encoding
  /**
   * Write only stem `stemIndex` of a stem-interleaved stream (channels
   * `stemIndex * stemChannels ... + stemChannels - 1`). Used with separation.
   */
  stemIndex?: number
  /** Channels per stem when `stemIndex` is set (default 2). */
  stemChannels?: number
  /**
   * Write the file at this rate in Hz (1000 to 768000): the stream is
   * resampled with rubato (the converter of `FileSource`'s `sampleRate`),
   * time-aligned, and the resampler's tail is flushed when the sink closes,
   * so a stream of `n` frames at `r` Hz gives exactly
   * `round(n * sampleRate / r)` frames (halves rounding up), also after a
   * stop or a failure. Default: the stream's rate.
   */
  sampleRate?: number
}

const FILE_SINK_KEYS = keysOf<FileSinkOptions>()(['encoding', 'stemIndex', 'stemChannels', 'sampleRate'])

/** Refuses a value that is not an integer in [min, max] (before it is truncated by the binding). */
function checkInteger(where: string, name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: ${where} needs an integer in [${min}, ${max}], got ${String(value)}`)
  }
}

/** Checks the stem and rate options shared by FileSink and SpeakerSink. */
function checkStemAndRate(where: string, o: { stemIndex?: number; stemChannels?: number; sampleRate?: number }): void {
  checkInteger(where, 'stemIndex', o.stemIndex, 0, 2 ** 31)
  checkInteger(where, 'stemChannels', o.stemChannels, 1, 65535)
  checkInteger(where, 'sampleRate', o.sampleRate, 1000, 768000)
}

/** Internal uniform writing interface. @internal */
export interface ChunkWriter {
  write(channels: Float32Array[]): Promise<void>
  close(): Promise<void>
}

function openFile(path: string, info: StreamInfo, options: native.SinkOptionsDesc, sourcePath?: string): ChunkWriter {
  const w = callNative(() => native.NativeWriter.create(path, info.sampleRate, info.channels, options, sourcePath))
  return {
    write: (ch) => awaitNative(w.write(ch)),
    close: async () => callNative(() => w.finalize()),
  }
}

/**
 * Writes a WAV (hound) or FLAC file, chosen by extension, optionally one
 * stem of the stream (`stemIndex`) and at another rate (`sampleRate`). The
 * file on disk is kept valid while it is written: a stop or a failure
 * leaves a playable file with everything processed so far.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for an unknown
 *   option key, a non-integer or out-of-range `stemIndex`, `stemChannels`
 *   or `sampleRate`; when the pipeline opens it, for a stem that the stream
 *   does not have or a bad encoding
 */
export class FileSink {
  readonly kind = 'file'
  constructor(
    readonly path: string,
    readonly options: FileSinkOptions = {},
  ) {
    checkOptions(options, FILE_SINK_KEYS, 'FileSink')
    checkStemAndRate('FileSink', options)
  }

  /** The native description (used by the all-native pipeline). @internal */
  desc(): native.SinkDesc {
    const { encoding, sampleRate, stemIndex, stemChannels } = this.options
    return { kind: 'file', path: this.path, options: { encoding, sampleRate, stemIndex, stemChannels } }
  }

  /** @internal */
  open(info: StreamInfo, sourcePath?: string): ChunkWriter {
    return openFile(this.path, info, this.desc().options!, sourcePath)
  }
}

/** Options of {@link MultiFileSink}. */
export interface MultiFileSinkOptions {
  /** Directory for the files (created if missing). */
  outputDir: string
  /** One name per stem; files are `<outputDir>/<name>.<format>`. */
  stemNames: string[]
  /** Channels per stem (default: channels / stemNames.length). */
  stemChannels?: number
  /** `wav` (default) or `flac`. */
  format?: 'wav' | 'flac'
  encoding?: Encoding
}

const MULTI_FILE_SINK_KEYS = keysOf<MultiFileSinkOptions>()(['outputDir', 'stemNames', 'stemChannels', 'format', 'encoding'])

/**
 * Writes one file per stem: the stream's channels are split into
 * consecutive groups of `stemChannels`, group i going to `stemNames[i]`.
 * With separation, stems arrive this way; without it, this splits channels.
 */
export class MultiFileSink {
  readonly kind = 'multifile'
  /** @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for an unknown option key */
  constructor(readonly options: MultiFileSinkOptions) {
    checkOptions(options, MULTI_FILE_SINK_KEYS, 'MultiFileSink')
  }

  /** Paths that will be written. */
  get paths(): string[] {
    return this.options.stemNames.map((n) => join(this.options.outputDir, `${n}.${this.options.format ?? 'wav'}`))
  }

  /** @internal */
  open(info: StreamInfo, sourcePath?: string): ChunkWriter {
    const { stemNames } = this.options
    const per = this.options.stemChannels ?? info.channels / stemNames.length
    if (!stemNames.length || !Number.isInteger(per) || per < 1 || per * stemNames.length !== info.channels) {
      throw makeError('ERR_SHAPE', `shape mismatch: ${info.channels} channels cannot be split into ${stemNames.length} stems of ${per} channels`)
    }
    mkdirSync(this.options.outputDir, { recursive: true })
    const writers = this.paths.map((p) => openFile(p, { ...info, channels: per }, { encoding: this.options.encoding }, sourcePath))
    return {
      write: async (ch) => {
        await Promise.all(writers.map((w, i) => w.write(ch.slice(i * per, (i + 1) * per))))
      },
      close: async () => {
        for (const w of writers) await w.close()
      },
    }
  }
}

/**
 * Any object a pipeline can write to, beyond the built-in sinks (e.g. the
 * Node-stream sinks): `open()` is called once per run when the stream's
 * format is known, with the input file's path when the source is a
 * {@link FileSource} (to lend its encoding), and returns a writer that
 * receives planar chunks (channels x frames) and is closed once at the end
 * (also after errors, stops and aborts).
 */
export interface CustomSink {
  open(info: StreamInfo, sourcePath?: string): ChunkWriter
}

/** Called with every processed block; may return a promise to apply backpressure. */
export type SinkCallback = (channels: Float32Array[], info: StreamInfo & { firstFrame: number }) => void | Promise<void>

/** Options of {@link CallbackSink}: none yet (any key is refused). */
export type CallbackSinkOptions = Record<never, never>

const CALLBACK_SINK_KEYS = keysOf<CallbackSinkOptions>()([])

/** Hands every processed block (planar, channels x frames) to a JS function. */
export class CallbackSink {
  readonly kind = 'callback'
  /**
   * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) when `callback`
   *   is not a function or for any option key
   */
  constructor(
    readonly callback: SinkCallback,
    options: CallbackSinkOptions = {},
  ) {
    if (typeof callback !== 'function') {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`callback\`: CallbackSink needs a function, got ${typeof callback}`)
    }
    checkOptions(options, CALLBACK_SINK_KEYS, 'CallbackSink')
  }

  /** @internal */
  open(info: StreamInfo): ChunkWriter {
    let firstFrame = 0
    return {
      write: async (ch) => {
        await this.callback(ch, { ...info, firstFrame })
        firstFrame += ch[0]?.length ?? 0
      },
      close: async () => {},
    }
  }
}

/** Options of {@link SpeakerSink}. */
export interface SpeakerSinkOptions {
  /** Output device id from `listDevices()` (default: the default output). */
  device?: string
  /** Frames per device callback (default 512). */
  bufferSize?: number
  latency?: 'low' | 'balanced' | 'high'
  /** Output channels (default: the stem's or the stream's; mono feeds all channels). */
  channels?: number
  /** `'default'` (the platform host) or `'none'` (clocked, no hardware). */
  backend?: 'default' | 'alsa' | 'none'
  /**
   * Open the device at this rate in Hz (1000 to 768000) and resample the
   * stream to it with rubato when its rate differs. The conversion runs on
   * the writing thread; the device callback only reads a lock-free queue.
   * Default: the stream's rate.
   */
  sampleRate?: number
  /**
   * Play only stem `stemIndex` of a stem-interleaved stream (channels
   * `stemIndex * stemChannels ... + stemChannels - 1`), e.g. one source of
   * a separation.
   */
  stemIndex?: number
  /** Channels per stem when `stemIndex` is set (default 2). */
  stemChannels?: number
}

const SPEAKER_SINK_KEYS = keysOf<SpeakerSinkOptions>()(['device', 'bufferSize', 'latency', 'channels', 'backend', 'sampleRate', 'stemIndex', 'stemChannels'])

/**
 * Plays the stream on an audio device, at the stream's rate or at
 * `sampleRate` (resampled), optionally one stem of it (`stemIndex`). Writes
 * wait while the device's queue is full; closing waits until everything
 * queued has played.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for an unknown
 *   option key, a non-integer or out-of-range `stemIndex`, `stemChannels`
 *   or `sampleRate`; when the pipeline opens it, for a stem that the stream
 *   does not have
 */
export class SpeakerSink {
  readonly kind = 'speaker'
  private played: number | null = null

  constructor(readonly options: SpeakerSinkOptions = {}) {
    checkOptions(options, SPEAKER_SINK_KEYS, 'SpeakerSink')
    checkStemAndRate('SpeakerSink', options)
  }

  /**
   * Frames the device played in the last run this sink completed without
   * error, at the device's rate and after stem selection (for a resampled
   * stream of `n` frames, `round(n * sampleRate / streamRate)`); `null`
   * before.
   */
  get framesPlayed(): number | null {
    return this.played
  }

  /** @internal What an all-native run delivered to the device. */
  recordPlayed(frames: number | null | undefined): void {
    if (frames !== undefined && frames !== null) this.played = frames
  }

  /** @internal */
  desc(): native.SinkDesc {
    const o = this.options
    return {
      kind: 'speaker',
      device: { bufferSize: o.bufferSize, latency: o.latency, outputDevice: o.device, channelsOut: o.channels, channelsIn: 0 },
      backend: o.backend,
      options: { sampleRate: o.sampleRate, stemIndex: o.stemIndex, stemChannels: o.stemChannels },
    }
  }

  /** @internal */
  open(info: StreamInfo): ChunkWriter {
    const w = callNative(() => native.NativeWriter.open(this.desc(), info.sampleRate, info.channels))
    return {
      write: (ch) => awaitNative(w.write(ch)),
      close: async () => {
        callNative(() => w.finalize())
        this.played = w.framesWritten
      },
    }
  }
}

/** Every sink a {@link StreamingPipeline} writes to: the built-in ones and any {@link CustomSink}. */
export type Sink = FileSink | MultiFileSink | CallbackSink | SpeakerSink | CustomSink
