/**
 * How models run: the ONNX Runtime library, execution provider and threads,
 * shared by every neural API.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { keysOf } from './options'
import native = require('./native')

/** How models run. */
export interface InferenceOptions {
  /** ONNX Runtime library file or directory (default: `ORT_DYLIB_PATH`, then the one beside the addon in resonode's platform package, then the one inside `onnxruntime-node` if installed). */
  runtimePath?: string
  /** `cpu` (default), `cuda` or `coreml`. */
  executionProvider?: 'cpu' | 'cuda' | 'coreml'
  /** Fall back to the CPU (with a warning) when the provider is unavailable, instead of failing. */
  fallback?: boolean
  /** Intra-op threads (default: ONNX Runtime's choice; 1 = the calling worker only). */
  threads?: number
}
/** The keys of {@link InferenceOptions}, for option checks. @internal */
export const INFERENCE_KEYS = keysOf<InferenceOptions>()(['runtimePath', 'executionProvider', 'fallback', 'threads'])

/** ONNX Runtime's library file name on this platform (as Microsoft's builds name it). */
const ORT_FILE: Record<string, string> = { linux: 'libonnxruntime.so.1', darwin: 'libonnxruntime.1.dylib', win32: 'onnxruntime.dll' }

/** The ONNX Runtime library beside the loaded addon (resonode's platform package ships it there). */
function besideAddon(): string | undefined {
  const file = ORT_FILE[process.platform]
  const addon = Object.keys(require.cache).find((k) => /[\\/]resonode\.[\w-]+\.node$/.test(k))
  if (!file || !addon) return undefined
  const lib = join(dirname(addon), file)
  return existsSync(lib) ? lib : undefined
}

/**
 * The ONNX Runtime to load when none is given: `ORT_DYLIB_PATH` (left to
 * the native side), else the library beside the addon, else the
 * `onnxruntime-node` package directory when it is installed. @internal
 */
export function defaultRuntimePath(): string | undefined {
  if (process.env.ORT_DYLIB_PATH) return undefined
  const beside = besideAddon()
  if (beside) return beside
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
