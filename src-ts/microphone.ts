/**
 * {@link MicrophoneSource}: live input from an audio device.
 */
import native = require('./native')
import { awaitNative, callNative } from './errors'
import type { ChunkReader } from './sources'

/** Options of {@link MicrophoneSource}. */
export interface MicrophoneSourceOptions {
  /** Input device id from `listDevices()` (default: the default input). */
  device?: string
  /** Sample rate in Hz (default 48000). */
  sampleRate?: number
  /** Input channels (default 1). */
  channels?: number
  /** Frames per device callback (default 512). */
  bufferSize?: number
  latency?: 'low' | 'balanced' | 'high'
  /** `'default'` (the platform host) or `'none'` (clocked silence, for tests). */
  backend?: 'default' | 'alsa' | 'none'
  /** Stop after this many seconds (default: until the pipeline is stopped). */
  durationS?: number
}

/**
 * Live input from an audio device. The device callback only copies frames
 * into a lock-free ring; the pipeline reads that ring on a worker thread.
 */
export class MicrophoneSource {
  readonly kind = 'microphone'
  constructor(readonly options: MicrophoneSourceOptions = {}) {}

  /** @internal */
  desc(): native.SourceDesc {
    const o = this.options
    return {
      kind: 'microphone',
      device: { sampleRate: o.sampleRate, channelsIn: o.channels ?? 1, channelsOut: 0, bufferSize: o.bufferSize, latency: o.latency, inputDevice: o.device },
      backend: o.backend,
      durationS: o.durationS,
    }
  }

  /** @internal */
  open(): ChunkReader {
    const r = callNative(() => native.NativeReader.open(this.desc()))
    return { sampleRate: r.sampleRate, channels: r.channels, totalFrames: r.totalFrames ?? null, read: (n) => awaitNative(r.read(n)), close: () => {} }
  }
}
