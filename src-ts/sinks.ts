/**
 * Sinks: where a pipeline's processed audio goes.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import native = require('./native')
import { awaitNative, callNative, makeError } from './errors'
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
}

/** Internal uniform writing interface. @internal */
export interface ChunkWriter {
  write(channels: Float32Array[]): Promise<void>
  close(): Promise<void>
}

function openFile(path: string, info: StreamInfo, encoding: Encoding | undefined, sourcePath?: string): ChunkWriter {
  const w = callNative(() => native.NativeWriter.create(path, info.sampleRate, info.channels, { encoding }, sourcePath))
  return {
    write: (ch) => awaitNative(w.write(ch)),
    close: async () => callNative(() => w.finalize()),
  }
}

/**
 * Writes a WAV (hound) or FLAC file, chosen by extension. The file on disk
 * is kept valid while it is written: a stop or a failure leaves a playable
 * file with everything processed so far.
 */
export class FileSink {
  readonly kind = 'file'
  constructor(readonly path: string, readonly options: FileSinkOptions = {}) {}

  /** @internal */
  open(info: StreamInfo, sourcePath?: string): ChunkWriter {
    const { stemIndex, stemChannels = 2, encoding } = this.options
    if (stemIndex === undefined) return openFile(this.path, info, encoding, sourcePath)
    const first = stemIndex * stemChannels
    if (!Number.isInteger(stemIndex) || stemIndex < 0 || first + stemChannels > info.channels) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`stemIndex\`: stem ${stemIndex} of ${stemChannels} channels does not exist in a ${info.channels}-channel stream`)
    }
    const inner = openFile(this.path, { ...info, channels: stemChannels }, encoding, sourcePath)
    return { write: (ch) => inner.write(ch.slice(first, first + stemChannels)), close: () => inner.close() }
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

/**
 * Writes one file per stem: the stream's channels are split into
 * consecutive groups of `stemChannels`, group i going to `stemNames[i]`.
 * With separation, stems arrive this way; without it, this splits channels.
 */
export class MultiFileSink {
  readonly kind = 'multifile'
  constructor(readonly options: MultiFileSinkOptions) {}

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
    const writers = this.paths.map((p) => openFile(p, { ...info, channels: per }, this.options.encoding, sourcePath))
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

/** Called with every processed block; may return a promise to apply backpressure. */
export type SinkCallback = (channels: Float32Array[], info: StreamInfo & { frameOffset: number }) => void | Promise<void>

/** Hands every processed block (planar, channels x frames) to a JS function. */
export class CallbackSink {
  readonly kind = 'callback'
  constructor(readonly callback: SinkCallback) {}

  /** @internal */
  open(info: StreamInfo): ChunkWriter {
    let frameOffset = 0
    return {
      write: async (ch) => {
        await this.callback(ch, { ...info, frameOffset })
        frameOffset += ch[0]?.length ?? 0
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
  /** Output channels (default: the stream's; mono feeds all channels). */
  channels?: number
  /** `'default'` (the platform host) or `'none'` (clocked, no hardware). */
  backend?: 'default' | 'alsa' | 'none'
}

/**
 * Plays the stream on an audio device at the stream's sample rate (resample
 * the source if the device needs another). Writes wait while the device's
 * queue is full; closing waits until everything queued has played.
 */
export class SpeakerSink {
  readonly kind = 'speaker'
  constructor(readonly options: SpeakerSinkOptions = {}) {}

  /** @internal */
  desc(): native.SinkDesc {
    const o = this.options
    return { kind: 'speaker', device: { bufferSize: o.bufferSize, latency: o.latency, outputDevice: o.device, channelsOut: o.channels, channelsIn: 0 }, backend: o.backend }
  }

  /** @internal */
  open(info: StreamInfo): ChunkWriter {
    const w = callNative(() => native.NativeWriter.open(this.desc(), info.sampleRate, info.channels))
    return { write: (ch) => awaitNative(w.write(ch)), close: async () => callNative(() => w.finalize()) }
  }
}

export type Sink = FileSink | MultiFileSink | CallbackSink | SpeakerSink
