/**
 * The BullMQ sandboxed processor of `startWorker` (compiled to
 * `dist/queue-processor.js`): it runs in a child process (or a worker
 * thread with `useWorkerThreads`), so a long separation never blocks the
 * worker's event loop, which keeps renewing the job's lock.
 *
 * Each sandbox keeps one `Library` per database (reconnecting is the
 * store's job), one `Separator` per model and one `SpeechEnhancer`.
 * Outputs are written under a temporary name in the output folder and
 * renamed into place, so a killed job never leaves a file that looks done;
 * a job that runs twice (after a stall) renames the same content over the
 * same name.
 *
 * A failure is thrown as `Error("<CODE>: <message>")`; codes in
 * `PERMANENT_CODES` are thrown as BullMQ's `UnrecoverableError` (by name,
 * which is what crosses the process boundary), so they are not retried.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { SandboxedJob } from 'bullmq'
import type { Library } from './library'
import type { Separator } from './separation'
import type { SpeechEnhancer } from './ml'
import { makeError, ResonodeError } from './errors'
import { enhancedFile, failedReason, PERMANENT_CODES, PROCESSOR_SETTINGS_ENV, stemsDir, type ProcessorSettings, type QueueJobData } from './queue-jobs'

const settings: ProcessorSettings = JSON.parse(process.env[PROCESSOR_SETTINGS_ENV] ?? '{}')

const libraries = new Map<string, Library>()
const separators = new Map<string, Separator>()
let enhancer: SpeechEnhancer | undefined

function library(db: string): Library {
  let l = libraries.get(db)
  if (!l) {
    // Not kept when opening fails (e.g. a SQLite file that cannot be opened):
    // the next job tries again. A server URL connects on first use.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    l = new (require('./library') as typeof import('./library')).Library(db)
    libraries.set(db, l)
  }
  return l
}

function separator(model: string): Separator {
  let s = separators.get(model)
  if (!s) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    s = new (require('./separation') as typeof import('./separation')).Separator({ model })
    separators.set(model, s)
  }
  return s
}

function speechEnhancer(): SpeechEnhancer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  enhancer ??= new (require('./ml') as typeof import('./ml')).SpeechEnhancer()
  return enhancer
}

/** The error BullMQ records: `<CODE>: <message>`, unrecoverable for permanent codes. */
function jobError(e: unknown): Error {
  const raw = (e as { code?: unknown } | null)?.code
  const code = e instanceof ResonodeError ? e.code : typeof raw === 'string' && /^ERR_[A-Z_]+$/.test(raw) ? raw : 'ERR_INTERNAL'
  const message = e instanceof Error ? e.message : String(e)
  const err = new Error(failedReason(code, message))
  // BullMQ recognises UnrecoverableError by name once the error has crossed from the sandbox.
  if (PERMANENT_CODES.has(code)) err.name = 'UnrecoverableError'
  return err
}

/** Reports `fraction` (0..1) as whole percents, only when the percent changes. */
function progressReporter(job: SandboxedJob): (fraction: number) => void {
  let last = -1
  return (fraction) => {
    if (!Number.isFinite(fraction)) return
    const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)))
    if (pct === last) return
    last = pct
    void Promise.resolve(job.updateProgress(pct)).catch(() => {})
  }
}

/** A name beside `final` in the same folder (so the rename is atomic), unique to this attempt. */
function partialName(final: string, ext = ''): string {
  return `${final}.partial-${process.pid}-${randomBytes(4).toString('hex')}${ext}`
}

function outDir(data: QueueJobData): string {
  const out = data.out ?? settings.out
  if (!out) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`out\`: a ${data.type} job needs an output folder (enqueue with \`out\`, or start the worker with \`out\`)`)
  return out
}

async function analyzeJob(job: SandboxedJob<QueueJobData>, signal?: AbortSignal) {
  const db = settings.db ?? job.data.db
  if (!db) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `db`: an analyze job needs a library (start the worker with `db`, or enqueue with `db`)')
  const report = progressReporter(job)
  report(0)
  const t = await library(db).add(job.data.path, { signal })
  report(1)
  return { trackId: t.id, path: t.path }
}

async function separateJob(job: SandboxedJob<QueueJobData>, signal?: AbortSignal) {
  const { path, contentHash, model, stems } = job.data
  if (!model) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `model`: a separate job needs an HTDemucs model')
  const final = stemsDir(outDir(job.data), path, contentHash)
  const partial = partialName(final)
  try {
    const r = await separator(model).separateFile(path, { outDir: partial, stems, onProgress: progressReporter(job), signal })
    if (r.stopped) throw makeError('ERR_ABORTED', `separating ${path} was stopped`)
    await mkdir(final, { recursive: true })
    const written: string[] = []
    for (const p of r.stems) {
      const dest = join(final, basename(p))
      await rename(p, dest)
      written.push(dest)
    }
    return { stems: written }
  } finally {
    await rm(partial, { recursive: true, force: true })
  }
}

async function enhanceJob(job: SandboxedJob<QueueJobData>, signal?: AbortSignal) {
  const { path, contentHash } = job.data
  const out = outDir(job.data)
  const final = enhancedFile(out, path, contentHash)
  const partial = partialName(final, '.wav')
  try {
    await mkdir(out, { recursive: true })
    await speechEnhancer().enhanceFile(path, partial, { onProgress: progressReporter(job), signal })
    await rename(partial, final)
    return { output: final }
  } finally {
    await rm(partial, { force: true })
  }
}

/** Runs one job; resolves with its result (stored as the job's return value). */
export default async function processJob(job: SandboxedJob<QueueJobData>, _token?: string, signal?: AbortSignal): Promise<unknown> {
  try {
    switch (job.data?.type) {
      case 'analyze':
        return await analyzeJob(job, signal)
      case 'separate':
        return await separateJob(job, signal)
      case 'enhance':
        return await enhanceJob(job, signal)
      default:
        throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`type\`: unknown job type ${JSON.stringify(job.data?.type)} (analyze, separate, enhance)`)
    }
  } catch (e) {
    throw jobError(e)
  }
}
