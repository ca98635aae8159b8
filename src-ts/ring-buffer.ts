import native = require('./native')
import { callNative } from './errors'

/**
 * A lock-free single-producer single-consumer ring buffer of `channels`
 * channels holding up to `capacityFrames` frames (Rust, wait-free reads and
 * writes). In the real-time engine the same buffer carries audio out of the
 * audio callback to a non-real-time thread.
 *
 * @throws InvalidParameterError when capacity or channels is 0, or the buffer would hold more than 2^26 samples
 */
export class AudioRingBuffer {
  private readonly inner: native.AudioRingBuffer
  constructor(capacityFrames: number, channels: number) {
    this.inner = callNative(() => new native.AudioRingBuffer(capacityFrames, channels))
  }
  /** Capacity in frames. */
  get capacity(): number {
    return callNative(() => this.inner.capacity)
  }
  /** Channels per frame. */
  get channels(): number {
    return callNative(() => this.inner.channels)
  }
  /** Frames ready to read. */
  available(): number {
    return callNative(() => this.inner.available())
  }
  /** Frames that can be written. */
  free(): number {
    return callNative(() => this.inner.free())
  }
  /**
   * Writes planar channels (`Float32Array[]`) or interleaved samples
   * (`Float32Array`); returns the frames written (fewer when full).
   *
   * @throws ShapeError for a wrong channel count or ragged channels
   */
  write(data: Float32Array[] | Float32Array): number {
    return callNative(() => (data instanceof Float32Array ? this.inner.writeInterleaved(data) : this.inner.write(data)))
  }
  /** Reads up to `maxFrames` frames as planar channels. */
  read(maxFrames: number): Float32Array[] {
    return callNative(() => this.inner.read(maxFrames))
  }
  /** Reads up to `maxFrames` frames as one interleaved array. */
  readInterleaved(maxFrames: number): Float32Array {
    return callNative(() => this.inner.readInterleaved(maxFrames))
  }
}
