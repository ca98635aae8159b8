/**
 * How models run: the ONNX Runtime library, execution provider and threads,
 * shared by every neural API.
 */
import { dirname } from 'node:path'
import native = require('./native')

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

/** The native form of {@link InferenceOptions}, with the runtime resolved. @internal */
export function inference(o: InferenceOptions = {}): native.InferenceOptions {
  return { ...o, runtimePath: o.runtimePath ?? defaultRuntimePath() }
}
