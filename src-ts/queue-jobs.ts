/**
 * What the producer (`queue.ts`) and the sandboxed processor
 * (`queue-processor.ts`) agree on: job types, job data, output paths, and
 * how a failure is written into a job's `failedReason` and read back.
 * No bullmq, no addon: both sides load it cheaply.
 */
import { createHash } from 'node:crypto'
import { basename, extname, join } from 'node:path'

/** The job types: `analyze` (into the library), `separate` (HTDemucs stems), `enhance` (GTCRN). */
export type JobType = 'analyze' | 'separate' | 'enhance'
export const JOB_TYPES: readonly JobType[] = ['analyze', 'separate', 'enhance']

/** The data of one job, as stored in Redis. Paths are absolute and must mean the same file on every worker machine. */
export interface QueueJobData {
  type: JobType
  /** The file, as the library stores it (absolute, symlinks resolved). */
  path: string
  /** BLAKE3 of the file's bytes when it was enqueued (hex). */
  contentHash: string
  /** The library the producer named, without a password (a worker's own `db` takes precedence). */
  db?: string
  /** Output folder of `separate` / `enhance` (shared storage; a worker's own `out` is used when the job has none). */
  out?: string
  /** `separate`: the HTDemucs ONNX model. */
  model?: string
  /** `separate`: the stems to write (default: all of the model's). */
  stems?: string[]
}

/** What the processor tells its parent (the worker) through the environment of every sandbox. */
export interface ProcessorSettings {
  db?: string
  out?: string
}
export const PROCESSOR_SETTINGS_ENV = 'RESONODE_QUEUE_WORKER'

/**
 * Failures that the same input fails with again (damaged or unsupported
 * audio, a missing file, a bad model or parameter): the job fails at once,
 * without retries. Every other code (`ERR_DATABASE_UNAVAILABLE`,
 * `ERR_DATABASE_LOCKED`, `ERR_IO`, `ERR_INTERNAL`, ...) is retried with
 * back-off.
 */
export const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'ERR_DECODE',
  'ERR_UNSUPPORTED_FORMAT',
  'ERR_EMPTY_AUDIO',
  'ERR_NOT_FOUND',
  'ERR_INVALID_PARAMETER',
  'ERR_MODEL',
  'ERR_MODEL_MISMATCH',
  'ERR_NON_FINITE_SAMPLE',
  'ERR_SHAPE',
  'ERR_RUNTIME_NOT_FOUND',
])

/** `<CODE>: <message>`, the `failedReason` of every failed job. */
export function failedReason(code: string, message: string): string {
  return `${code}: ${message}`
}

const REASON = /^(ERR_[A-Z_]+): ([\s\S]*)$/

/** `{ code, message }` of a job's `failedReason` (`ERR_INTERNAL` for a reason not written by the processor, e.g. a crashed sandbox). */
export function parseFailedReason(reason: string | undefined | null): { code: string; message: string } {
  const m = REASON.exec(reason ?? '')
  return m ? { code: m[1], message: m[2] } : { code: 'ERR_INTERNAL', message: reason || 'the job failed without a reason' }
}

/** `<basename without extension>-<first 12 hex of the content hash>`: one output name per content and file name. */
export function outputStem(path: string, contentHash: string): string {
  return `${basename(path, extname(path))}-${contentHash.slice(0, 12)}`
}

/** The first 16 hex digits of SHA-256 of `s`: a short key that never contains `:` (BullMQ refuses it in job ids). */
function hash16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16)
}

/**
 * The id of the job of `type` on the file at library path `path` with
 * content `contentHash`: the same file enqueued twice gets the same id.
 * `analyze` (one library row per path): `analyze-<content hash>-<hash16 of
 * the path>`. `separate` / `enhance`, whose output is named by
 * {@link outputStem} alone: `<type>-<content hash>-<hash16 of the output
 * name>`, so the same bytes under the same file name in two folders are
 * one job, not two runs writing one output.
 */
export function jobId(type: JobType, path: string, contentHash: string): string {
  return `${type}-${contentHash}-${hash16(type === 'analyze' ? path : outputStem(path, contentHash))}`
}

/** `separate`: the folder of the stems, `<out>/<basename>-<hash 12>/`. */
export function stemsDir(out: string, path: string, contentHash: string): string {
  return join(out, outputStem(path, contentHash))
}

/** `enhance`: the output file, `<out>/<basename>-<hash 12>.wav`. */
export function enhancedFile(out: string, path: string, contentHash: string): string {
  return join(out, `${outputStem(path, contentHash)}.wav`)
}
