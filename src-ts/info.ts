import native = require('./native')
import { awaitNative, callNative } from './errors'

/** `resonode info` data: header facts plus measured levels. */
export interface AudioInfo {
  /** Container: wav, flac, mp3, ogg. */
  format: string
  /** Codec, e.g. pcm_s16le, flac, mp3, vorbis. */
  codec: string
  /** Sample rate in Hz. */
  sampleRate: number
  channels: number
  /** Frames per channel (decoded count when the header does not say). */
  frames: number
  /** Duration in seconds. */
  durationS: number
  /** Highest absolute sample over all channels, dBFS (-Infinity for silence). */
  peakDbfs: number
  /** RMS over all channels and frames, dBFS (-Infinity for silence). */
  rmsDbfs: number
}

/**
 * Reads a file's header and measures its peak and RMS level (decoding the
 * whole file on a worker thread, at constant memory).
 *
 * @throws NotFoundError, UnsupportedFormatError, DecodeError
 */
export async function info(path: string): Promise<AudioInfo> {
  const h = callNative(() => native.probe(path))
  const levels = await awaitNative(native.measureLevels(path))
  const frames = h.frames ?? levels.frames
  return {
    format: h.format,
    codec: h.codec,
    sampleRate: h.sampleRate,
    channels: h.channels,
    frames,
    durationS: frames / h.sampleRate,
    peakDbfs: levels.peakDbfs,
    rmsDbfs: levels.rmsDbfs,
  }
}
