/**
 * Plots of audio files: {@link plot} draws, from one streaming pass over a
 * file (decoded once, bounded memory: a 1-hour file plots in O(width x
 * rows)), a waveform overview with the beat grid, a log-frequency
 * spectrogram, a chromagram with the detected key and short-term loudness,
 * titled with the tempo, key / Camelot code and integrated loudness, as a
 * PNG or SVG image. Rendered in Rust with `plotters` and a bundled subset
 * of DejaVu Sans (no system fonts needed).
 */
import native = require('./native')
import { makeError } from './errors'
import { checkOptions, keysOf } from './options'
import { analyzeResultOf, runControlled, type AnalyzeResult, type TrackAnalysis } from './analysis'

/** The panels {@link plot} can draw (default: all, in this order). */
export type PlotPanelName = 'waveform' | 'spectrogram' | 'chroma' | 'beats' | 'loudness'

/** Options of {@link plot}. */
export interface PlotOptions {
  /** Output image; `.png` or `.svg` (any case) chooses the format, anything else is ERR_INVALID_PARAMETER. */
  out: string
  /**
   * Panels to draw (default all five), drawn top to bottom in the order
   * waveform, spectrogram, chroma, loudness:
   * - `waveform`: min/max envelope of all channels per pixel column (full
   *   scale ±1), the RMS of the column darker inside;
   * - `beats`: the beat grid over the waveform panel (beats: 1 px lines of
   *   rgb(255, 140, 0), downbeats: 3 px lines of rgb(214, 0, 80) centred on
   *   their beat; alone, it draws the waveform panel);
   * - `spectrogram`: mono signal at the analysis rate (22050 Hz), STFT with
   *   a 2048-sample Hann window, hop 512, mean power per pixel column in
   *   240 log-spaced bands from 30 Hz to 11025 Hz (`LogBands`), in dB re
   *   the band power of a full-scale sine, 80 dB colour range (inferno
   *   colour map) with a colour bar in dB;
   * - `chroma`: the analyzer's chroma (librosa `chroma_stft`, max-normalised
   *   per frame, 0..1), mean per pixel column, 12 rows C (bottom) to B, the
   *   key's tonic row outlined and labelled with the mode;
   * - `loudness`: short-term loudness (ITU-R BS.1770-4 / EBU R128, 3 s
   *   window) sampled every 100 ms at the end of its window, mean per
   *   column, in LUFS; the integrated loudness as a dashed line.
   */
  show?: PlotPanelName[]
  /** Image width in px (default 1600, 400..8192); the height follows from the panels. */
  width?: number
  /** Called with the fraction decoded (0..1; NaN when the length is unknown), at most every `progressIntervalMs`. */
  onProgress?: (fraction: number) => void
  /** Milliseconds between progress calls (default 100). */
  progressIntervalMs?: number
  /** Aborting stops the plot within one block of audio: nothing is written; the call rejects with an `AbortError` (`stats`: `{ fraction, stopped: true }`). */
  signal?: AbortSignal
}
const PLOT_KEYS = keysOf<PlotOptions>()(['out', 'show', 'width', 'onProgress', 'progressIntervalMs', 'signal'] as const)

/**
 * A panel's plotting area in image pixels (without its axes) and what it
 * spans. Time `t` (s) is at column `x + floor((t - timeStartS) / (timeEndS
 * - timeStartS) * width)`. The spectrogram's frequency axis is
 * logarithmic: `f` (Hz) is at row `y + height * (1 - ln(f / fMinHz) /
 * ln(fMaxHz / fMinHz))`.
 */
export interface PlotPanel {
  /** `waveform` (carrying the beat grid when `beats` is shown), `spectrogram`, `chroma` or `loudness`. */
  name: 'waveform' | 'spectrogram' | 'chroma' | 'loudness'
  x: number
  y: number
  width: number
  height: number
  timeStartS: number
  timeEndS: number
  /** Spectrogram only. */
  fMinHz?: number
  /** Spectrogram only. */
  fMaxHz?: number
  /** Spectrogram only: true. */
  logFrequency?: boolean
}

/** What {@link plot} wrote. */
export interface PlotResult {
  /** The image file written. */
  out: string
  format: 'png' | 'svg'
  /** Image size in px. */
  width: number
  height: number
  /** Duration of the audio (s). */
  durationS: number
  /** The analysis drawn: the one given to {@link plot}, or the file's own (as `analyze()` returns it, with `path`). */
  analysis: AnalyzeResult
  /** The panels, top to bottom. */
  panels: PlotPanel[]
}

function annotationsOf(a: TrackAnalysis): native.PlotAnnotationsDesc {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
  const times = (v: unknown, name: string) => {
    if (v === undefined || v === null) return undefined
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`analysis.${name}\`: must be an array of times in seconds`)
    }
    return v as number[]
  }
  return {
    tempoBpm: num(a.tempoBpm),
    beats: times(a.beats, 'beats'),
    downbeats: times(a.downbeats, 'downbeats'),
    key: str(a.key),
    mode: str(a.mode),
    camelot: str(a.camelot),
    loudnessLufs: num(a.loudnessLufs),
  }
}

/**
 * Plots an audio file (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus,
 * M4A AAC/ALAC) into `options.out`, off the JS thread. `pathOrAnalysis`
 * is the file's path, or an `analyze()` result: its beats, tempo, key and
 * loudness are then drawn as given and the audio is decoded from its
 * `path` for the panels.
 *
 * One pass: the file is decoded once (on its own thread), analysed
 * (tempo, beats, key, loudness; see `analyze()`) and accumulated into time
 * bins of the image's width (bins merged in pairs when the length is not
 * known up front), so memory does not grow with the length of the file.
 * The image is written to a temporary file next to `out` and renamed: a
 * failure never leaves a partial image.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`: extension of
 *   `out`, unknown panel (naming the accepted ones), width, unknown option,
 *   an analysis without `path`), NotFoundError, UnsupportedFormatError,
 *   DecodeError, EmptyAudioError, NonFiniteSampleError (as `analyze()`),
 *   IoError (`ERR_IO`, writing the image), AbortError (`ERR_ABORTED`)
 */
export async function plot(pathOrAnalysis: string | AnalyzeResult, options: PlotOptions): Promise<PlotResult> {
  checkOptions(options, PLOT_KEYS, 'plot()')
  if (options == null) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `options`: plot() needs `{ out }`')
  const { out, show, width } = options
  if (typeof out !== 'string' || out === '') throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `out`: a .png or .svg file path is required')
  if (show !== undefined && (!Array.isArray(show) || show.some((s) => typeof s !== 'string'))) {
    throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `show`: must be an array of panel names (waveform, spectrogram, chroma, beats, loudness)')
  }
  if (width !== undefined && !(Number.isInteger(width) && width > 0)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`width\`: must be an integer number of pixels (400..8192), got ${String(width)}`)
  }
  let path: string
  let given: AnalyzeResult | undefined
  if (typeof pathOrAnalysis === 'string') {
    path = pathOrAnalysis
  } else if (pathOrAnalysis !== null && typeof pathOrAnalysis === 'object') {
    if (typeof pathOrAnalysis.path !== 'string') {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `pathOrAnalysis`: an analysis needs its `path` (analyze() results carry it)')
    }
    given = pathOrAnalysis
    path = pathOrAnalysis.path
  } else {
    throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `pathOrAnalysis`: a file path or an analyze() result')
  }
  const annotations = given ? annotationsOf(given) : undefined
  const r = await runControlled(
    options,
    'plot()',
    (c) => ({ fraction: c.fraction, stopped: true }),
    (c) => native.plotFileNative(path, out, show, width, annotations, c),
  )
  const analysis = given ?? analyzeResultOf(r.analysis, path)
  const panels = r.panels.map((p) => {
    const panel: PlotPanel = { name: p.name as PlotPanel['name'], x: p.x, y: p.y, width: p.width, height: p.height, timeStartS: p.timeStartS, timeEndS: p.timeEndS }
    if (p.logFrequency) Object.assign(panel, { fMinHz: p.fMinHz, fMaxHz: p.fMaxHz, logFrequency: true })
    return panel
  })
  return { out: r.out, format: r.format as PlotResult['format'], width: r.width, height: r.height, durationS: r.durationS, analysis, panels }
}
