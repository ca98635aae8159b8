/**
 * Neural inference: speech enhancement with the built-in GTCRN model and
 * separation metrics (music separation is in `separation.ts`). ONNX Runtime is loaded at run time: `runtimePath`,
 * else `ORT_DYLIB_PATH`, else the library beside the addon in resonode's platform package (see `inference.ts`);
 * inference runs on worker threads, never on the JS thread or the audio
 * callback.
 */
import native = require('./native')
import { awaitNative, callNative } from './errors'
import { inference, INFERENCE_KEYS, type InferenceOptions } from './inference'
import { checkOptions, keysOf } from './options'
import { withControl } from './separation'

export { type InferenceOptions } from './inference'
export { Separator } from './separation'

/** Options of {@link SpeechEnhancer}. */
export interface SpeechEnhancerOptions extends InferenceOptions {
  /** A GTCRN streaming `.onnx` model (default: the built-in one, MIT, 16 kHz). */
  modelPath?: string
  /** STFT window: `periodic` (default, as the reference offline inference) or `symmetric`. */
  window?: 'periodic' | 'symmetric'
  /** A different synthesis window (`symmetric` reproduces the reference streaming demo). */
  synthesisWindow?: 'periodic' | 'symmetric'
}
const ENHANCER_KEYS = keysOf<SpeechEnhancerOptions>()(['modelPath', 'window', 'synthesisWindow', ...INFERENCE_KEYS] as const)

/** Options of {@link SpeechEnhancer.enhanceFile}. */
export interface EnhanceFileOptions {
  /** Output sample encoding (default: like the input). */
  encoding?: 'int16' | 'int24' | 'float32'
  /**
   * Aborting stops within one chunk: the output is finalised with the
   * enhancement of the `framesProcessed` frames read until then, and the
   * call rejects with an `AbortError` whose `stats` is that
   * {@link EnhanceResult} (`stopped: true`). A signal already aborted
   * rejects at once (no file is written).
   */
  signal?: AbortSignal
  /** Receives the completed fraction about five times a second, and 1 at the end of a complete run. */
  onProgress?: (fraction: number) => void
}
const ENHANCE_FILE_KEYS = keysOf<EnhanceFileOptions>()(['encoding', 'signal', 'onProgress'])

/** What an enhancement of a file did. */
export type EnhanceResult = native.EnhanceResult

/**
 * Speech enhancement (denoising) with GTCRN (Rong et al., "GTCRN: A Speech
 * Enhancement Model Requiring Ultralow Computational Resources", ICASSP
 * 2024), frame by frame with its recurrent caches. Any sample rate (resampled
 * to 16 kHz and back); output has the input's length and is time-aligned.
 *
 * @throws RuntimeNotFound (`ERR_RUNTIME_NOT_FOUND`) naming the paths tried, `ERR_MODEL`, `ERR_MODEL_MISMATCH`, file errors
 */
export class SpeechEnhancer {
  constructor(readonly options: SpeechEnhancerOptions = {}) {
    checkOptions(options, ENHANCER_KEYS, 'SpeechEnhancer')
  }

  private desc(encoding?: string): native.EnhanceOptionsDesc {
    const { modelPath, window, synthesisWindow, ...inf } = this.options
    return { modelPath, window, synthesisWindow, encoding, inference: inference(inf) }
  }

  /**
   * Enhances `input` into `output` (WAV/FLAC by extension); see
   * {@link EnhanceFileOptions} for progress and aborting.
   *
   * @throws AbortError (`ERR_ABORTED`) when `signal` aborts, with the partial result as `stats`
   */
  async enhanceFile(input: string, output: string, options: EnhanceFileOptions = {}): Promise<EnhanceResult> {
    checkOptions(options, ENHANCE_FILE_KEYS, 'SpeechEnhancer.enhanceFile()')
    const desc = this.desc(options.encoding)
    return withControl('SpeechEnhancer.enhanceFile()', options.signal, options.onProgress, (control) => native.enhanceFile(input, output, desc, control), (r) => r)
  }

  /** Enhances planar audio (channels x frames) at `sampleRate` Hz, at once (in memory, no chunks to abort between). */
  enhance(channels: Float32Array[], sampleRate: number): Promise<Float32Array[]> {
    return awaitNative(native.enhance(channels, sampleRate, this.desc()))
  }
}

/**
 * Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., "SDR —
 * half-baked or well done?", ICASSP 2019): with `a = <e,r>/<r,r>`,
 * `SI-SDR = 10 log10(|a r|^2 / |a r - e|^2)`.
 */
export function siSdr(estimate: Float32Array, reference: Float32Array): number {
  return callNative(() => native.siSdr(estimate, reference))
}
/** BSS Eval SDR in dB (Vincent et al. 2006; 512-tap distortion filter, as museval / torchmetrics). */
export function sdr(estimate: Float32Array, reference: Float32Array): number {
  return callNative(() => native.sdr(estimate, reference))
}
/** SNR in dB of `estimate` as a noisy copy of `reference`: `10 log10(|r|^2 / |e - r|^2)`. */
export function snr(estimate: Float32Array, reference: Float32Array): number {
  return callNative(() => native.snr(estimate, reference))
}
/** Pearson correlation coefficient in [-1, 1]. */
export function correlation(estimate: Float32Array, reference: Float32Array): number {
  return callNative(() => native.correlation(estimate, reference))
}

/** All metrics of one estimate. */
export type Metrics = native.Metrics

/** Computes every metric at once. */
export const SeparationMetrics = {
  compute(estimate: Float32Array, reference: Float32Array): Metrics {
    return callNative(() => native.separationMetrics(estimate, reference))
  },
}
