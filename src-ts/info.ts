import native = require('./native')
import { awaitNative } from './errors'

/** `resonode info` data: header facts plus measured levels. */
export interface AudioInfo {
  /** Container: wav, rf64, aiff, caf, mp4, flac, mp3, ogg. */
  format: string
  /** Codec, e.g. pcm_s16le, flac, alac, aac, mp3, vorbis, opus. */
  codec: string
  /** Sample rate in Hz. */
  sampleRate: number
  channels: number
  /** Frames per channel: the decoded count, never a header's claim. */
  frames: number
  /** Frames the header declares, or null when it declares none. */
  declaredFrames: number | null
  /**
   * Header claims that decoding contradicts, e.g. "the header declares N
   * frames but only M could be decoded" (every frame that decodes is
   * still used). Empty for a clean file.
   */
  warnings: string[]
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
 * @throws NotFoundError, UnsupportedFormatError, DecodeError, EmptyAudioError
 */
export async function info(path: string): Promise<AudioInfo> {
  // One open: the description comes with the levels (counting the packets
  // of a second open would cost a quarter of a FLAC decode).
  const levels = await awaitNative(native.measureLevels(path))
  const h = levels.info
  // The decoded count: what the file holds, whatever its header says.
  const frames = levels.frames
  const warnings = [...h.warnings]
  const declared = h.declaredFrames ?? null
  if (declared !== null && declared !== frames && !warnings.some((w) => w.startsWith('the header declares'))) {
    warnings.push(
      declared > frames
        ? `the header declares ${declared} frames but only ${frames} could be decoded`
        : `the header declares ${declared} frames but ${frames} were decoded`,
    )
  }
  return {
    format: h.format,
    codec: h.codec,
    sampleRate: h.sampleRate,
    channels: h.channels,
    frames,
    declaredFrames: declared,
    warnings,
    durationS: frames / h.sampleRate,
    peakDbfs: levels.peakDbfs,
    rmsDbfs: levels.rmsDbfs,
  }
}
