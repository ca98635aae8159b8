/**
 * The log-band spectrum of the latest audio of a block, for spectrum displays (the live dashboard's
 * analyser, a UI's bar graph): {@link bandSpectrum}.
 */
import native = require('./native')
import { callNative, makeError } from './errors'
import { checkOptions, keysOf } from './options'

/** Options of {@link bandSpectrum}. */
export interface BandSpectrumOptions {
  /** Number of log-spaced bands, an integer in 1..512 (default 64). */
  bands?: number
  /** Lower edge of the first band, Hz (default 30). */
  fMinHz?: number
  /** Upper edge of the last band, Hz, above `fMinHz` and at most `sampleRate / 2` (default min(16000, sampleRate / 2)). */
  fMaxHz?: number
  /** FFT size in frames, a power of two in 256..65536 (default 4096: 85 ms at 48 kHz, 11.7 Hz bins). */
  nFft?: number
}

const OPTION_KEYS = keysOf<BandSpectrumOptions>()(['bands', 'fMinHz', 'fMaxHz', 'nFft'])

/** What {@link bandSpectrum} returns: one value per band, low to high. */
export interface BandSpectrum {
  /** Power per band, dB (a sine of amplitude A reads 20 log10(A) in its band; floor -120). */
  bandsDb: Float32Array
  /** Geometric centre of each band, Hz (`sqrt(lo * hi)` of its edges `fMinHz * (fMaxHz / fMinHz)^(i / bands)`). */
  centerHz: Float32Array
}

/**
 * The spectrum of the LAST `nFft` frames of a block in log-spaced bands, in dB.
 *
 * `channels`: planar audio (channels x frames, all the same length), downmixed to mono by averaging. A block
 * shorter than `nFft` is centred in the FFT frame with zeros around it. The frame gets a periodic Hann window
 * `w`, a real FFT (realfft) gives `X[k]`, and each band sums `|X[k]|^2` over the bins inside its edges (a bin
 * straddling an edge counts by the fraction inside; a band narrower than one bin takes the power interpolated
 * between the two nearest bins). Band edges are geometric between `fMinHz` and `fMaxHz` (equal width in
 * octaves).
 *
 * **Normalisation**: `bandsDb = 10 log10(4 / (nFft * sum(w^2)) * sum_band |X[k]|^2)`, with `sum(w^2)` over the
 * window under the signal (3 nFft / 8 for a full block). By Parseval a sine of amplitude A puts
 * `(A^2 / 4) * nFft * sum(w^2)` into the bins of its main lobe, so it reads **20 log10(A) dB in its band** (a
 * full-scale sine 0 dB, a 0.5 sine -6.02 dB) whatever the band width and where it falls between bins, as long
 * as its main lobe (±2 bins) lies inside the band; white noise of variance s^2 reads
 * `10 log10(4 s^2 * bandwidthHz / sampleRate)`. Silence reads the floor, -120 dB (finite, JSON-safe).
 *
 * Synchronous, on the calling thread: one FFT of `nFft` (about 0.1 ms at 4096); the FFT plan and band map of
 * the last layout used are kept for the next call.
 *
 * ```ts
 * const { bandsDb, centerHz } = bandSpectrum(block, 48000, { bands: 64 })
 * ```
 *
 * @throws EmptyAudioError without channels or frames; ShapeError for channels of different lengths;
 *   NonFiniteSampleError for NaN / infinite samples; InvalidParameterError naming `channels`, `sampleRate`,
 *   `bands`, `fMinHz`, `fMaxHz`, `nFft` or an unknown option
 */
export function bandSpectrum(channels: Float32Array[], sampleRate: number, options: BandSpectrumOptions = {}): BandSpectrum {
  checkOptions(options, OPTION_KEYS, 'bandSpectrum()')
  if (!Array.isArray(channels) || !channels.every((c) => c instanceof Float32Array)) {
    throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `channels`: must be an array of Float32Array (planar, channels x frames)')
  }
  if (typeof sampleRate !== 'number') {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`sampleRate\`: must be a number (Hz), got ${typeof sampleRate}`)
  }
  for (const key of OPTION_KEYS) {
    const v = options?.[key]
    if (v !== undefined && typeof v !== 'number') {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${key}\`: must be a number, got ${typeof v}`)
    }
  }
  return callNative(() => native.bandSpectrum(channels, sampleRate, options))
}
