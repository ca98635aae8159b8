/**
 * Neural inference: speech enhancement with the built-in GTCRN model and
 * separation metrics (music separation is in `separation.ts`). ONNX Runtime is loaded at run time: `runtimePath`,
 * else `ORT_DYLIB_PATH`, else the library beside the addon in resonode's platform package (see `inference.ts`);
 * inference runs on worker threads, never on the JS thread or the audio
 * callback.
 */
import native = require('./native')
import { awaitNative, callNative } from './errors'
import { inference, type InferenceOptions } from './inference'
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
  constructor(readonly options: SpeechEnhancerOptions = {}) {}

  private desc(encoding?: string): native.EnhanceOptionsDesc {
    const { modelPath, window, synthesisWindow, ...inf } = this.options
    return { modelPath, window, synthesisWindow, encoding, inference: inference(inf) }
  }

  /**
   * Enhances `input` into `output` (WAV/FLAC by extension). `onProgress`
   * receives the completed fraction about five times a second and 1 at the
   * end (unless stopped). Aborting `signal` stops it like a pipeline's
   * `stop()`: it resolves with `stopped: true` and a finalised file holding
   * the enhancement of the `framesProcessed` frames read until then (none
   * for a signal already aborted).
   */
  enhanceFile(
    input: string,
    output: string,
    options: { encoding?: 'int16' | 'int24' | 'float32'; signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
  ): Promise<EnhanceResult> {
    return withControl(options.signal, options.onProgress, (control) => native.enhanceFile(input, output, this.desc(options.encoding), control))
  }

  /** Enhances planar audio (channels x frames) at `sampleRate` Hz. */
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
