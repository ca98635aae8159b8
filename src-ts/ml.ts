/**
 * Neural inference: speech enhancement with the built-in GTCRN model and
 * separation metrics. ONNX Runtime is loaded at run time from the npm
 * package `onnxruntime-node` (or `ORT_DYLIB_PATH`, or `runtimePath`);
 * inference runs on worker threads, never on the JS thread or the audio
 * callback.
 */
import { dirname } from 'node:path'
import native = require('./native')
import { awaitNative, callNative } from './errors'

/** How models run. */
export interface InferenceOptions {
  /** ONNX Runtime library file or directory (default: `ORT_DYLIB_PATH`, then the one inside `onnxruntime-node`). */
  runtimePath?: string
  /** `cpu` (default), `cuda` or `coreml`. */
  executionProvider?: 'cpu' | 'cuda' | 'coreml'
  /** Fall back to the CPU (with a warning) when the provider is unavailable, instead of failing. */
  fallback?: boolean
  /** Intra-op threads (default: ONNX Runtime's choice; 1 = the calling worker only). */
  threads?: number
}

/** The `onnxruntime-node` package directory, when it is installed. @internal */
export function defaultRuntimePath(): string | undefined {
  if (process.env.ORT_DYLIB_PATH) return undefined
  try {
    return dirname(require.resolve('onnxruntime-node/package.json'))
  } catch {
    return undefined
  }
}

function inference(o: InferenceOptions = {}): native.InferenceOptions {
  return { ...o, runtimePath: o.runtimePath ?? defaultRuntimePath() }
}

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

  /** Enhances `input` into `output` (WAV/FLAC by extension). */
  enhanceFile(input: string, output: string, options: { encoding?: 'int16' | 'int24' | 'float32' } = {}): Promise<EnhanceResult> {
    return awaitNative(native.enhanceFile(input, output, this.desc(options.encoding)))
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

/** Options of {@link Separator}. */
export interface SeparatorOptions extends InferenceOptions {
  /** An HTDemucs ONNX export (see docs/htdemucs.md); `name.0.onnx`, `name.1.onnx`, ... load as a bag. */
  model: string
  /** Overlap ratio between segments (default 0.25, as demucs). */
  overlap?: number
  /** Segment crossfade: `triangular` (default, as demucs `apply_model`) or `cosine`. */
  crossfade?: 'triangular' | 'cosine'
  /** Segment length in seconds; HTDemucs exports have a fixed segment, so only the model's own value is accepted. */
  segmentS?: number
}

/** What a separation did. */
export type SeparateResult = native.SeparateResult

/**
 * Music source separation with HTDemucs (Rouard et al., "Hybrid
 * Transformers for Music Source Separation", ICASSP 2023) exported to ONNX,
 * with the STFT/iSTFT and the chunking of `demucs.apply.apply_model` done in
 * Rust (segments with 25 % overlap, triangular crossfade, Separator
 * normalisation). Long files stream through at bounded memory.
 */
export class Separator {
  constructor(readonly options: SeparatorOptions) {}

  /**
   * Separates `input` into `<outDir>/<stem>.wav`, one file per stem.
   * `onProgress` receives the completed fraction.
   *
   * @throws RuntimeNotFoundError, ModelError, ModelMismatchError, file errors
   */
  async separateFile(
    input: string,
    options: { outDir: string; stems?: string[]; onProgress?: (fraction: number) => void; signal?: AbortSignal },
  ): Promise<SeparateResult> {
    const { model, overlap, crossfade, segmentS, ...inf } = this.options
    const control = new native.PipelineControl()
    const timer = options.onProgress ? setInterval(() => options.onProgress!(control.fraction), 200) : null
    options.signal?.addEventListener('abort', () => control.stop(), { once: true })
    try {
      const r = await awaitNative(
        native.separateFile({ input, model, outDir: options.outDir, stems: options.stems, overlap, crossfade, segmentS, inference: inference(inf) }, control),
      )
      options.onProgress?.(1)
      return r
    } finally {
      if (timer) clearInterval(timer)
    }
  }
}
