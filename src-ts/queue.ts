/**
 * Batch jobs across machines on BullMQ (Redis): a producer enqueues one
 * job per audio file and job type ({@link enqueueScan}); workers on any
 * number of machines run them ({@link startWorker}) into a shared library
 * (PostgreSQL) and a shared output folder; {@link jobStatus} reports the
 * whole. See docs/scale-out.md for the topology and the guarantees.
 *
 * - Job ids derive from the content (see `jobId` in queue-jobs.ts):
 *   `analyze-<content hash>-<path key>` (one library row per path; the
 *   same bytes under a second path are a second job, which finds the
 *   analysis by its hash and copies it) and `<type>-<content hash>-<output
 *   name key>` for `separate` / `enhance` (the same bytes under the same
 *   file name in two folders are one job: they would write one output).
 *   Enqueueing the same file twice adds nothing.
 * - A job's data never holds a password: the producer's `db` is stored
 *   without it (see {@link EnqueueScanOptions.db}).
 * - Completed jobs are kept for {@link COMPLETED_JOB_AGE_S} (so a
 *   re-enqueue within that time is a no-op), failed jobs until removed.
 * - Delivery is at least once: after a worker dies its job runs again on
 *   another one. Writes are idempotent (one library row per path, outputs
 *   renamed into place), so a job that ran twice leaves one result.
 * - Permanent failures (`ERR_DECODE`, `ERR_UNSUPPORTED_FORMAT`,
 *   `ERR_EMPTY_AUDIO`, `ERR_NOT_FOUND`, `ERR_INVALID_PARAMETER`,
 *   `ERR_MODEL`, ...) fail at once; others (`ERR_DATABASE_UNAVAILABLE`,
 *   `ERR_DATABASE_LOCKED`, `ERR_IO`, `ERR_INTERNAL`) are retried with
 *   exponential back-off, then kept as failed with `<CODE>: <message>`.
 *
 * bullmq and ioredis load with this module only (it loads on first use of
 * its exports).
 */
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ConnectionOptions, Job, Queue as BullQueue, Worker as BullWorker } from 'bullmq'
import native = require('./native')
import { abortError, awaitNative, checkSignal, makeError, ResonodeError } from './errors'
import { checkOptions, keysOf } from './options'
import { JOB_TYPES, jobId, parseFailedReason, PROCESSOR_SETTINGS_ENV, type JobType, type ProcessorSettings, type QueueJobData } from './queue-jobs'
import { isDatabaseUrl } from './library-path'

export type { JobType, QueueJobData } from './queue-jobs'

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE_NAME = 'resonode'
/** How long completed jobs are kept (s): 30 days. Within it, enqueueing the same file again is a no-op; after it, the job runs again (an `analyze` then finds the file unchanged). */
export const COMPLETED_JOB_AGE_S = 30 * 24 * 3600
/** How long connecting to Redis may take before `ERR_QUEUE_UNAVAILABLE` (ms). */
const CONNECT_TIMEOUT_MS = 5000
/** Files hashed at once by {@link enqueueScan} (libuv's pool has 4 threads). */
const HASH_CONCURRENCY = 4
/** Files hashed, then looked up in `db` with one connection, then enqueued, at a time by {@link enqueueScan}. */
const BATCH = 64
/** Failed jobs listed by {@link jobStatus}. */
const FAILURES_LISTED = 100

/**
 * The job queue's packages, optional peer dependencies: resonode does not
 * install them (bullmq brings an optional native accelerator with an
 * install script; `npm install resonode` runs none), the queue API loads
 * them on first use.
 * @throws QueueUnavailableError when they are not installed
 */
function peer<T>(name: 'bullmq' | 'ioredis'): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${name}'`)) {
      throw makeError('ERR_QUEUE_UNAVAILABLE', `the job queue needs the packages bullmq and ioredis, which resonode does not install itself: npm install bullmq@^6.7.6 ioredis@^6.1.0`, e)
    }
    throw e
  }
}
const bullmq = () => peer<typeof import('bullmq')>('bullmq')

const invalid = (name: string, what: string) => makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: ${what}`)

/** Redis connection options from `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS). */
function connection(url: unknown): ConnectionOptions & { host: string; port: number } {
  if (typeof url !== 'string' || url.length === 0) throw invalid('queue', `a Redis URL (redis://host:port), got ${JSON.stringify(url)}`)
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw invalid('queue', `a Redis URL (redis://host:port), got ${JSON.stringify(url)}`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalid('queue', `a redis:// or rediss:// URL, got ${JSON.stringify(url)}`)
  const dbText = u.pathname.replace(/^\//, '')
  const db = dbText === '' ? 0 : Number(dbText)
  if (!Number.isInteger(db) || db < 0) throw invalid('queue', `the database number in ${JSON.stringify(url)} must be a whole number >= 0`)
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // BullMQ's requirement for workers: commands wait for a reconnect instead of failing.
    maxRetriesPerRequest: null,
  }
}

/**
 * A PostgreSQL URL without its password (in the user part, or a
 * `password=` parameter), as a job may carry it: job data sits in Redis in
 * plain text, readable by every client of the queue. A SQLite path is
 * returned as it is.
 */
function withoutPassword(db: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(.*)$/s.exec(db)
  if (!m || !isDatabaseUrl(db)) return db
  const [, scheme, authority, path, query = '', rest] = m
  // As libpq: the last '@' ends the user part; its first ':' starts the password.
  const at = authority.lastIndexOf('@')
  const user = at < 0 ? '' : authority.slice(0, at)
  const host = authority.slice(at + 1)
  const colon = user.indexOf(':')
  const keptUser = colon < 0 ? user : user.slice(0, colon)
  const params = query.slice(1).split('&').filter((kv) => kv !== '' && kv.split('=')[0].toLowerCase() !== 'password')
  return `${scheme}${at < 0 ? '' : `${keptUser}@`}${host}${path}${params.length ? `?${params.join('&')}` : ''}${rest}`
}

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}

/**
 * Connects once, without retries, so that an unreachable Redis fails within
 * the connect timeout instead of BullMQ retrying forever.
 * @throws QueueUnavailableError
 */
async function checkReachable(url: string, conn: ReturnType<typeof connection>): Promise<void> {
  const { Redis } = peer<typeof import('ioredis')>('ioredis')
  const { maxRetriesPerRequest: _, ...opts } = conn as Record<string, unknown>
  const client = new Redis({ ...opts, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS + 1000).unref())
  try {
    await Promise.race([client.connect().then(() => client.ping()), timeout])
  } catch (e) {
    throw makeError('ERR_QUEUE_UNAVAILABLE', `cannot reach the job queue's Redis at ${shown(url)}: ${(e as Error).message || String(e)}`, e)
  } finally {
    client.disconnect()
  }
}

function queueName(name: unknown): string {
  if (name === undefined) return DEFAULT_QUEUE_NAME
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) throw invalid('queueName', `letters, digits, '_', '.', '-' (no ':'), got ${JSON.stringify(name)}`)
  return name
}

/** Where a queue is: its Redis URL, connection options and queue name. */
interface QueueTarget {
  url: string
  conn: ReturnType<typeof connection>
  name: string
}

/**
 * Checks the option keys of `options` and its `queue` (a Redis URL) and
 * `queueName`: the checks every queue function starts with.
 * @throws InvalidParameterError
 */
function queueTarget(options: { queue: string; queueName?: string } | null | undefined, accepted: readonly string[], where: string): QueueTarget {
  checkOptions(options, accepted, where)
  if (options == null) throw invalid('queue', `${where} needs { queue: "redis://host:port" }`)
  return { url: options.queue, conn: connection(options.queue), name: queueName(options.queueName) }
}

/**
 * The queue at `target`, once Redis answers; the caller closes it.
 * @throws QueueUnavailableError
 */
async function openQueue(target: QueueTarget): Promise<BullQueue> {
  await checkReachable(target.url, target.conn)
  const queue = new (bullmq().Queue)(target.name, { connection: target.conn })
  // Connection errors surface in the calls; unheard 'error' events would crash the process.
  queue.on('error', () => {})
  return queue
}

/** A job kept as failed, as {@link jobStatus} and {@link waitForJobs} report it. */
function jobFailure(job: Job<QueueJobData>): JobFailure {
  const { code, message } = parseFailedReason(job.failedReason)
  return { jobId: String(job.id), path: job.data?.path, type: job.data?.type, code, message, attemptsMade: job.attemptsMade }
}

function wholeNumber(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(name, `a whole number >= ${min}, got ${JSON.stringify(v)}`)
  return v
}

/** Options of {@link enqueueScan}. */
export interface EnqueueScanOptions {
  /** The Redis server, `redis://host:port[/db]` (required). */
  queue: string
  /** BullMQ queue name (default `resonode`); workers must use the same. */
  queueName?: string
  /** Job types per file (default `['analyze']`). */
  types?: JobType[]
  /** Output folder of `separate` and `enhance` (required for them): the same path on every worker machine (shared storage). */
  out?: string
  /**
   * A library (`postgres://...` URL or SQLite file): `analyze` jobs of
   * files it holds unchanged (same content by the current analyzer,
   * analysed or failed: what a local scan skips) are not enqueued. The
   * jobs also carry it, for workers started without `db` (a worker's own
   * `db` takes precedence), but never its password: a URL's password (user
   * part or `password=` parameter) is removed from what the jobs carry,
   * so a server that needs one is named by each worker's own `db`.
   */
  db?: string
  /** `separate`: the HTDemucs ONNX model (required for it; the same path on every worker). */
  model?: string
  /** `separate`: stems to write (default: all of the model's). */
  stems?: string[]
  /** Tries per job before it is kept as failed (default 5); permanent failures are not retried. */
  attempts?: number
  /** Exponential back-off base between tries, ms (default 1000: 1, 2, 4, 8 s ...). */
  backoffMs?: number
  /** Aborting stops after the files in flight; rejects with an `AbortError` whose `stats` is the {@link EnqueueSummary} so far (what was enqueued stays enqueued). */
  signal?: AbortSignal
}
const ENQUEUE_KEYS = keysOf<EnqueueScanOptions>()(['queue', 'queueName', 'types', 'out', 'db', 'model', 'stems', 'attempts', 'backoffMs', 'signal'])

/** A file that could not be enqueued (unreadable), or a folder entry that could not be listed. */
export interface EnqueueFailure {
  path: string
  code: string
  message: string
}

/** What {@link enqueueScan} did. Job counts are per file and type. */
export interface EnqueueSummary {
  /** Audio files found (as a local scan finds them). */
  files: number
  /** Jobs added. */
  enqueued: number
  /** Jobs already in the queue with the same id (waiting, running, completed or failed), or enqueued for an earlier file of this scan with the same id: nothing added. */
  alreadyQueued: number
  /** `analyze` jobs not enqueued because `db` holds the file unchanged. */
  unchanged: number
  /** Other files left alone. */
  ignored: number
  failures: EnqueueFailure[]
  /** The ids of the jobs enqueued or already queued, in file order, each once. */
  jobIds: string[]
}

/** Runs `fn` over `items` with at most `n` in flight, in order of start. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>, stop: () => boolean): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length && !stop()) await fn(items[next++])
  })
  await Promise.all(lanes)
}

/**
 * Enqueues one job per audio file under `dir` and per type: the files a
 * local `Library.scan(dir)` would analyse (same extensions, symlinks
 * followed, sorted), each hashed (BLAKE3, on libuv's pool), in batches of
 * 64 (with `db`, one look-up per batch). Job data:
 * `{ type, path, contentHash, db?, out?, model?, stems? }`.
 *
 * @throws InvalidParameterError (bad options: unknown key, unknown type,
 *   no `out` for separate / enhance, no `model` for separate),
 *   NotFoundError (no such folder or model), QueueUnavailableError (Redis
 *   not reachable within 5 s), AbortError, and the library's errors when
 *   `db` is given (`ERR_DATABASE_UNAVAILABLE`, ...)
 */
export async function enqueueScan(dir: string, options: EnqueueScanOptions): Promise<EnqueueSummary> {
  const target = queueTarget(options, ENQUEUE_KEYS, 'enqueueScan()')
  if (typeof dir !== 'string' || dir.length === 0) throw invalid('dir', 'a folder')
  const types = options.types ?? ['analyze']
  if (!Array.isArray(types) || types.length === 0 || types.some((t) => !JOB_TYPES.includes(t)) || new Set(types).size !== types.length) {
    throw invalid('types', `distinct job types among ${JOB_TYPES.join(', ')}, got ${JSON.stringify(types)}`)
  }
  const needsOut = types.includes('separate') || types.includes('enhance')
  if (options.out !== undefined && (typeof options.out !== 'string' || options.out.length === 0)) throw invalid('out', 'a folder')
  if (needsOut && !options.out) throw invalid('out', `the output folder of ${types.filter((t) => t !== 'analyze').join(' and ')} jobs is required (shared by the workers)`)
  if (options.model !== undefined && (typeof options.model !== 'string' || options.model.length === 0)) throw invalid('model', 'an HTDemucs .onnx file')
  if (types.includes('separate') && !options.model) throw invalid('model', 'separate jobs need an HTDemucs model (see docs/htdemucs.md)')
  if (options.model && !existsSync(options.model)) throw makeError('ERR_NOT_FOUND', `model ${options.model} does not exist`)
  if (options.stems !== undefined && !(Array.isArray(options.stems) && options.stems.every((s) => typeof s === 'string' && s.length > 0))) throw invalid('stems', 'an array of stem names')
  if (options.db !== undefined && (typeof options.db !== 'string' || options.db.length === 0)) throw invalid('db', 'a postgres:// URL or a SQLite file')
  const attempts = wholeNumber('attempts', options.attempts, 1) ?? 5
  const backoffMs = wholeNumber('backoffMs', options.backoffMs, 0) ?? 1000
  const signal = checkSignal(options.signal)
  if (signal?.aborted) throw abortError(signal, undefined, 'enqueueScan()')

  const listed = await awaitNative(native.listAudioFiles(resolve(dir)))
  const summary: EnqueueSummary = { files: listed.files.length, enqueued: 0, alreadyQueued: 0, unchanged: 0, ignored: listed.ignored, failures: [...listed.failures], jobIds: [] }
  const out = options.out === undefined ? undefined : resolve(options.out)
  const model = options.model === undefined ? undefined : resolve(options.model)
  const db = options.db === undefined ? undefined : isDatabaseUrl(options.db) ? options.db : resolve(options.db)
  const jobDb = db === undefined ? undefined : withoutPassword(db)
  const skipUnchanged = db !== undefined && types.includes('analyze')
  const stopped = () => signal?.aborted === true
  const queue = await openQueue(target)
  // Ids added by this scan: two files may share one (see jobId), and the queue may not show the first yet.
  const seen = new Set<string>()
  try {
    for (let start = 0; start < listed.files.length && !stopped(); start += BATCH) {
      const files = listed.files.slice(start, start + BATCH)
      // Keys in file order, whatever order the hashes finish in.
      const keys: (native.QueueFileKey | undefined)[] = files.map(() => undefined)
      await pool(
        files.map((file, i) => ({ file, i })),
        HASH_CONCURRENCY,
        async ({ file, i }) => {
          try {
            keys[i] = await awaitNative(native.queueFileKey(file))
          } catch (e) {
            const err = e as ResonodeError
            summary.failures.push({ path: file, code: err.code ?? 'ERR_INTERNAL', message: err.message })
          }
        },
        stopped,
      )
      const hashed = keys.filter((k): k is native.QueueFileKey => k !== undefined)
      const current = skipUnchanged && db !== undefined && hashed.length > 0 ? await awaitNative(native.queueFilesCurrent(db, hashed)) : []
      for (const [k, key] of hashed.entries()) {
        for (const type of types) {
          if (type === 'analyze' && current[k]) {
            summary.unchanged++
            continue
          }
          const id = jobId(type, key.path, key.contentHash)
          if (seen.has(id)) {
            summary.alreadyQueued++
            continue
          }
          seen.add(id)
          summary.jobIds.push(id)
          if (await queue.getJob(id)) {
            summary.alreadyQueued++
            continue
          }
          const data: QueueJobData = { type, path: key.path, contentHash: key.contentHash }
          if (jobDb) data.db = jobDb
          if (type !== 'analyze') data.out = out
          if (type === 'separate') {
            data.model = model
            if (options.stems) data.stems = options.stems
          }
          await queue.add(type, data, {
            jobId: id,
            attempts,
            backoff: { type: 'exponential', delay: backoffMs },
            removeOnComplete: { age: COMPLETED_JOB_AGE_S },
            removeOnFail: false,
          })
          summary.enqueued++
        }
      }
    }
    if (stopped()) throw abortError(signal!, summary, 'enqueueScan()')
    return summary
  } finally {
    await queue.close().catch(() => {})
  }
}

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** The Redis server, `redis://host:port[/db]` (required). */
  queue: string
  /** The library `analyze` jobs write to: a `postgres://` URL (shared by all workers; with its password, if the server needs one) or a SQLite file (one machine). Default: the job's `db`, which carries no password. */
  db?: string
  /** Jobs run at once, each in its own sandbox (default 1). */
  concurrency?: number
  /** BullMQ queue name (default `resonode`). */
  queueName?: string
  /** Output folder for `separate` / `enhance` jobs that carry none. */
  out?: string
  /** How long a job's lock lasts without renewal (ms, default 30000; renewed at half). A worker that dies holds its jobs this long. */
  lockDurationMs?: number
  /** How often this worker looks for stalled jobs, those whose lock expired (ms, default 30000). */
  stalledIntervalMs?: number
  /** How often a job may stall (its worker died) and be taken over before it fails (default 1). */
  maxStalledCount?: number
  /** Run jobs in worker threads instead of child processes (default false). */
  useWorkerThreads?: boolean
}
const WORKER_KEYS = keysOf<StartWorkerOptions>()(['queue', 'db', 'concurrency', 'queueName', 'out', 'lockDurationMs', 'stalledIntervalMs', 'maxStalledCount', 'useWorkerThreads'])

/** `'active'`: a job started on this worker. */
export interface JobActiveEvent {
  jobId: string
  type: JobType
  path: string
}
/** `'progress'`: a job's progress, percent 0..100. */
export interface JobProgressEvent {
  jobId: string
  type: JobType
  path: string
  progress: number
}
/** `'completed'`: a job finished on this worker. */
export interface JobCompletedEvent {
  jobId: string
  type: JobType
  path: string
  /** From start on this worker to completion, ms. */
  durationMs: number
}
/** `'failed'`: a try failed; `final` when the job is kept as failed (permanent error, or the last try). */
export interface JobFailedEvent {
  jobId: string
  type: JobType
  path: string
  code: string
  message: string
  /** Tries so far, this one included. */
  attemptsMade: number
  final: boolean
}
/** {@link QueueWorker.stats}. */
export interface QueueWorkerStats {
  /** Jobs completed by this worker. */
  completed: number
  /** Jobs this worker failed for good. */
  failed: number
  /** Tries that failed and were scheduled again. */
  retried: number
  /** Jobs running now. */
  active: number
}

/**
 * A running worker (see {@link startWorker}). Events: `'active'`
 * ({@link JobActiveEvent}), `'progress'` ({@link JobProgressEvent}),
 * `'completed'` ({@link JobCompletedEvent}), `'failed'`
 * ({@link JobFailedEvent}), `'error'` (an Error: a lost Redis connection
 * and the like; the worker keeps reconnecting; emitted only when listened
 * to).
 */
export class QueueWorker extends EventEmitter {
  private readonly worker: BullWorker
  private readonly counts: QueueWorkerStats = { completed: 0, failed: 0, retried: 0, active: 0 }
  private closing: Promise<void> | undefined

  /** @internal use {@link startWorker} */
  constructor(worker: BullWorker) {
    super()
    this.worker = worker
    const info = (job: Job<QueueJobData>) => ({ jobId: String(job.id), type: job.data?.type, path: job.data?.path })
    worker.on('active', (job: Job<QueueJobData>) => {
      this.counts.active++
      this.emit('active', info(job) satisfies JobActiveEvent)
    })
    worker.on('progress', (job: Job<QueueJobData>, progress: unknown) => {
      if (typeof progress === 'number') this.emit('progress', { ...info(job), progress } satisfies JobProgressEvent)
    })
    worker.on('completed', (job: Job<QueueJobData>) => {
      this.counts.active = Math.max(0, this.counts.active - 1)
      this.counts.completed++
      const end = job.finishedOn ?? Date.now()
      this.emit('completed', { ...info(job), durationMs: end - (job.processedOn ?? end) } satisfies JobCompletedEvent)
    })
    worker.on('failed', (job: Job<QueueJobData> | undefined, err: Error) => {
      if (!job) return
      this.counts.active = Math.max(0, this.counts.active - 1)
      // moveToFailed sets finishedOn only when the job is kept as failed (no retry left).
      const final = job.finishedOn != null
      if (final) this.counts.failed++
      else this.counts.retried++
      const { code, message } = parseFailedReason(job.failedReason ?? err?.message)
      this.emit('failed', { ...info(job), code, message, attemptsMade: job.attemptsMade, final } satisfies JobFailedEvent)
    })
    worker.on('error', (err: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', err)
    })
  }

  /** Counts of this worker since it started. */
  get stats(): QueueWorkerStats {
    return { ...this.counts }
  }

  /** Stops taking jobs, waits for the running ones to finish, closes the sandboxes and the connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.worker.close()
    return this.closing
  }
}

/**
 * Starts a worker: jobs of `queue` run in BullMQ sandboxed processors
 * (`dist/queue-processor.js`; child processes, or worker threads with
 * `useWorkerThreads`), `concurrency` at once. `analyze` adds the file to
 * the library (`Library.add`: unchanged content is not analysed again, a
 * failure is recorded in the library too); `separate` writes
 * `<out>/<basename>-<hash 12>/<stem>.wav`; `enhance` writes
 * `<out>/<basename>-<hash 12>.wav`, each renamed into place when complete.
 * Progress is reported per job (percent). While running, a lost Redis
 * connection is retried forever.
 *
 * @throws InvalidParameterError (bad options), QueueUnavailableError
 *   (Redis not reachable within 5 s)
 */
export async function startWorker(options: StartWorkerOptions): Promise<QueueWorker> {
  const target = queueTarget(options, WORKER_KEYS, 'startWorker()')
  const concurrency = wholeNumber('concurrency', options.concurrency, 1) ?? 1
  const lockDuration = wholeNumber('lockDurationMs', options.lockDurationMs, 100)
  const stalledInterval = wholeNumber('stalledIntervalMs', options.stalledIntervalMs, 100)
  const maxStalledCount = wholeNumber('maxStalledCount', options.maxStalledCount, 0)
  if (options.db !== undefined && (typeof options.db !== 'string' || options.db.length === 0)) throw invalid('db', 'a postgres:// URL or a SQLite file')
  if (options.out !== undefined && (typeof options.out !== 'string' || options.out.length === 0)) throw invalid('out', 'a folder')
  if (options.useWorkerThreads !== undefined && typeof options.useWorkerThreads !== 'boolean') throw invalid('useWorkerThreads', 'true or false')
  await checkReachable(target.url, target.conn)

  const settings: ProcessorSettings = {}
  if (options.db) settings.db = isDatabaseUrl(options.db) ? options.db : resolve(options.db)
  if (options.out) settings.out = resolve(options.out)
  const env = { ...process.env, [PROCESSOR_SETTINGS_ENV]: JSON.stringify(settings) }
  const worker = new (bullmq().Worker)(target.name, join(__dirname, 'queue-processor.js'), {
    connection: target.conn,
    concurrency,
    useWorkerThreads: options.useWorkerThreads ?? false,
    workerForkOptions: { env },
    workerThreadsOptions: { env },
    // Left out when not given: BullMQ takes an undefined value as given.
    ...(lockDuration === undefined ? {} : { lockDuration }),
    ...(stalledInterval === undefined ? {} : { stalledInterval }),
    ...(maxStalledCount === undefined ? {} : { maxStalledCount }),
    removeOnComplete: { age: COMPLETED_JOB_AGE_S },
    autorun: false,
  })
  const qw = new QueueWorker(worker)
  await worker.waitUntilReady()
  // Jobs start after the caller's `await` has returned, so listeners it
  // attaches right away see every job from the first.
  setImmediate(() => {
    if (worker.closing) return
    void worker.run().catch((e: Error) => {
      if (qw.listenerCount('error') > 0) qw.emit('error', e)
    })
  })
  return qw
}

/** Options of {@link jobStatus}. */
export interface JobStatusOptions {
  /** The Redis server, `redis://host:port[/db]` (required). */
  queue: string
  /** BullMQ queue name (default `resonode`). */
  queueName?: string
}
const STATUS_KEYS = keysOf<JobStatusOptions>()(['queue', 'queueName'])

/** A job kept as failed. */
export interface JobFailure {
  jobId: string
  path: string
  type: JobType
  code: string
  message: string
  attemptsMade: number
}

/** What {@link jobStatus} reports. */
export interface JobStatus {
  /** Jobs per state now (`waiting`, `active`, `delayed` (waiting for a retry), `completed` (kept ones), `failed`, `prioritized`, `waiting-children`). */
  counts: Record<string, number>
  /** Jobs completed per minute, averaged over the last 1, 5 and 15 minutes (counted from the completion times of the kept jobs). */
  throughput: { last1m: number; last5m: number; last15m: number }
  /** The most recently failed jobs (at most 100), newest first. */
  failures: JobFailure[]
  /** Jobs finished (completed or failed) of all jobs known to the queue. */
  progress: { done: number; total: number }
}

/**
 * Counts per state, throughput, recent failures and overall progress of
 * a queue.
 *
 * @throws InvalidParameterError, QueueUnavailableError
 */
export async function jobStatus(options: JobStatusOptions): Promise<JobStatus> {
  const queue = await openQueue(queueTarget(options, STATUS_KEYS, 'jobStatus()'))
  try {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const
    const raw = await queue.getJobCounts(...states)
    const counts: Record<string, number> = {}
    for (const s of states) counts[s] = raw[s] ?? 0
    // Completed jobs sit in a sorted set scored by their completion time.
    const client = (await queue.getBackend().client) as unknown as { zcount(key: string, min: number, max: string): Promise<number> }
    const now = Date.now()
    const completedSince = (minutes: number) => client.zcount(queue.keys.completed, now - minutes * 60_000, '+inf')
    const [c1, c5, c15] = await Promise.all([completedSince(1), completedSince(5), completedSince(15)])
    const failed = (await queue.getFailed(0, FAILURES_LISTED - 1)) as Job<QueueJobData>[]
    const failures = failed.filter(Boolean).map(jobFailure)
    const done = counts.completed + counts.failed
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    return { counts, throughput: { last1m: Number(c1), last5m: Number(c5) / 5, last15m: Number(c15) / 15 }, failures, progress: { done, total } }
  } finally {
    await queue.close().catch(() => {})
  }
}

/** Options of {@link retryFailed}. */
export interface RetryFailedOptions {
  /** The Redis server, `redis://host:port[/db]` (required). */
  queue: string
  /** BullMQ queue name (default `resonode`). */
  queueName?: string
  /** Retry only the jobs that failed with one of these codes (e.g. `['ERR_DATABASE_UNAVAILABLE']`); default every failed job. */
  codes?: string[]
}
const RETRY_KEYS = keysOf<RetryFailedOptions>()(['queue', 'queueName', 'codes'])
/** Failed jobs read per round trip by {@link retryFailed}. */
const RETRY_PAGE = 500

/**
 * Puts jobs kept as failed back in the queue with their tries reset (after
 * the cause was fixed: a database that was down for longer than the
 * back-off, a file that was replaced). Re-enqueueing cannot do it: a failed
 * job keeps its id. A job that fails again is kept as failed again.
 *
 * @returns the ids retried
 * @throws InvalidParameterError, QueueUnavailableError
 */
export async function retryFailed(options: RetryFailedOptions): Promise<{ retried: string[] }> {
  const target = queueTarget(options, RETRY_KEYS, 'retryFailed()')
  const codes = options.codes
  if (codes !== undefined && (!Array.isArray(codes) || codes.some((c) => typeof c !== 'string' || !/^ERR_[A-Z_]+$/.test(c)))) {
    throw invalid('codes', `an array of error codes such as "ERR_DATABASE_UNAVAILABLE", got ${JSON.stringify(codes)}`)
  }
  const queue = await openQueue(target)
  try {
    // The ids first: retrying moves a job out of the failed set, which would shift the pages.
    const chosen: Job<QueueJobData>[] = []
    for (let start = 0; ; start += RETRY_PAGE) {
      const page = ((await queue.getFailed(start, start + RETRY_PAGE - 1)) as Job<QueueJobData>[]).filter(Boolean)
      for (const job of page) if (!codes || codes.includes(jobFailure(job).code)) chosen.push(job)
      if (page.length < RETRY_PAGE) break
    }
    const retried: string[] = []
    for (const job of chosen) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
      retried.push(String(job.id))
    }
    return { retried }
  } finally {
    await queue.close().catch(() => {})
  }
}

/** Options of {@link waitForJobs}. */
export interface WaitForJobsOptions {
  /** The Redis server, `redis://host:port[/db]` (required). */
  queue: string
  /** BullMQ queue name (default `resonode`). */
  queueName?: string
  /** The jobs to wait for (e.g. {@link EnqueueSummary.jobIds}). */
  jobIds: string[]
  /** Called when the number of finished jobs changes: `done` of `total`, of which `failed`. */
  onProgress?: (p: { done: number; failed: number; total: number }) => void
  /** Milliseconds between polls (default 1000). */
  pollIntervalMs?: number
  /** Aborting stops waiting (the jobs go on); rejects with an `AbortError` whose `stats` is the {@link WaitResult} so far. */
  signal?: AbortSignal
}
const WAIT_KEYS = keysOf<WaitForJobsOptions>()(['queue', 'queueName', 'jobIds', 'onProgress', 'pollIntervalMs', 'signal'])

/** What {@link waitForJobs} saw: jobs completed, and those kept as failed. */
export interface WaitResult {
  completed: number
  failed: number
  failures: JobFailure[]
}

/**
 * Waits until every job of `jobIds` has completed or failed for good
 * (`resonode library scan --queue ... --wait`). A job no longer in the
 * queue counts as completed (completed jobs are removed after
 * {@link COMPLETED_JOB_AGE_S}; failed ones are kept).
 *
 * @throws InvalidParameterError, QueueUnavailableError, AbortError
 */
export async function waitForJobs(options: WaitForJobsOptions): Promise<WaitResult> {
  const target = queueTarget(options, WAIT_KEYS, 'waitForJobs()')
  if (!Array.isArray(options.jobIds) || options.jobIds.some((id) => typeof id !== 'string')) throw invalid('jobIds', 'an array of job ids')
  const interval = wholeNumber('pollIntervalMs', options.pollIntervalMs, 10) ?? 1000
  const signal = checkSignal(options.signal)
  const queue = await openQueue(target)
  const result: WaitResult = { completed: 0, failed: 0, failures: [] }
  let pending = [...new Set(options.jobIds)]
  const total = pending.length
  let reported = -1
  try {
    for (;;) {
      if (signal?.aborted) throw abortError(signal, result, 'waitForJobs()')
      const still: string[] = []
      // In slices, so that a large scan does not send all its queries at once.
      for (let i = 0; i < pending.length; i += 500) {
        const slice = pending.slice(i, i + 500)
        const states = await Promise.all(slice.map((id) => queue.getJobState(id)))
        for (const [k, id] of slice.entries()) {
          const state = states[k]
          if (state === 'completed' || state === 'unknown') result.completed++
          else if (state === 'failed') {
            result.failed++
            const job = (await queue.getJob(id)) as Job<QueueJobData> | undefined
            if (job) result.failures.push(jobFailure(job))
          } else still.push(id)
        }
      }
      pending = still
      const done = total - pending.length
      if (done !== reported) {
        reported = done
        options.onProgress?.({ done, failed: result.failed, total })
      }
      if (pending.length === 0) return result
      await new Promise<void>((r) => {
        const timer = setTimeout(done2, interval)
        function done2() {
          clearTimeout(timer)
          signal?.removeEventListener('abort', done2)
          r()
        }
        signal?.addEventListener('abort', done2, { once: true })
      })
    }
  } finally {
    await queue.close().catch(() => {})
  }
}
