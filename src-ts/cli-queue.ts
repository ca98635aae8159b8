/**
 * The job queue from the command line: `resonode library scan <dir>
 * --queue <url>` (in cli-library.ts) enqueues through {@link cmdEnqueue};
 * `resonode worker` runs jobs until SIGINT / SIGTERM; `resonode jobs
 * status` reports a queue. Everything goes through the lazy index: the
 * queue's modules (bullmq, ioredis) load only when one of these runs.
 */
import type { Command } from 'commander'
import { enqueueScan, startWorker, jobStatus, waitForJobs, retryFailed, makeError, type JobType, type EnqueueSummary, type JobStatus } from './index'
import { interruptible } from './cli-interrupt'
import { progressBar } from './cli-bar'
import { positiveInt } from './cli-args'

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()).filter(Boolean)

/** Options of `library scan` that matter with `--queue`. */
export interface EnqueueCliOptions {
  queue: string
  queueName?: string
  types?: string
  out?: string
  /** The library to skip unchanged files against; only when given on the command line. */
  db?: string
  model?: string
  stems?: string
  attempts?: number
  json?: boolean
  wait?: boolean
}

function printEnqueued(s: EnqueueSummary): void {
  process.stdout.write(
    `${s.files} audio files: ${s.enqueued} jobs enqueued, ${s.alreadyQueued} already queued, ${s.unchanged} unchanged` +
      `${s.ignored ? `, ${s.ignored} other files ignored` : ''}${s.failures.length ? `, ${s.failures.length} failed` : ''}\n`,
  )
  for (const f of s.failures) process.stdout.write(`  failed: ${f.path}: ${f.code}: ${f.message}\n`)
}

/** `resonode library scan <dir> --queue <url>`: enqueue (and with `--wait`, wait for the jobs; exit 1 when one failed). */
export async function cmdEnqueue(dir: string, o: EnqueueCliOptions): Promise<void> {
  const types = (list(o.types) ?? ['analyze']) as JobType[]
  const summary = await interruptible(
    (signal) => enqueueScan(dir, { queue: o.queue, queueName: o.queueName, types, out: o.out, db: o.db, model: o.model, stems: list(o.stems), attempts: o.attempts, signal }),
    ['SIGINT', 'SIGTERM'],
  )
  if (!o.wait) {
    if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
    else printEnqueued(summary)
    return
  }
  if (!o.json) printEnqueued(summary)
  const bar = progressBar(' {bar} {value}/{total} jobs | {failed} failed | {eta_formatted} left', o.json)
  bar?.start(summary.jobIds.length, 0, { failed: 0 })
  try {
    // Ctrl-C stops waiting (the jobs go on); the AbortError exits 130.
    const r = await interruptible((signal) =>
      waitForJobs({ queue: o.queue, queueName: o.queueName, jobIds: summary.jobIds, signal, onProgress: (p) => bar?.update(p.done, { failed: p.failed }) }),
    )
    bar?.stop()
    if (o.json) process.stdout.write(`${JSON.stringify({ ...summary, completed: r.completed, failed: r.failed, jobFailures: r.failures }, null, 2)}\n`)
    else {
      process.stdout.write(`${r.completed} jobs completed, ${r.failed} failed\n`)
      for (const f of r.failures) process.stdout.write(`  failed: ${f.type} ${f.path}: ${f.code}: ${f.message}\n`)
    }
    if (r.failed > 0) process.exitCode = 1
  } finally {
    bar?.stop()
  }
}

async function cmdWorker(o: {
  queue: string
  db?: string
  concurrency?: number
  queueName?: string
  out?: string
  json?: boolean
  lockDuration?: number
  stalledInterval?: number
  maxStalledCount?: number
  workerThreads?: boolean
}) {
  const worker = await startWorker({
    queue: o.queue,
    db: o.db,
    concurrency: o.concurrency,
    queueName: o.queueName,
    out: o.out,
    lockDurationMs: o.lockDuration,
    stalledIntervalMs: o.stalledInterval,
    maxStalledCount: o.maxStalledCount,
    useWorkerThreads: o.workerThreads,
  })
  const line = (event: string, e: object) => process.stdout.write(`${JSON.stringify({ event, ...e, time: new Date().toISOString() })}\n`)
  const say = (s: string) => process.stdout.write(`${new Date().toISOString()} ${s}\n`)
  if (o.json) {
    line('ready', { pid: process.pid, concurrency: o.concurrency ?? 1 })
    worker.on('active', (e) => line('active', e))
    worker.on('progress', (e) => line('progress', e))
    worker.on('completed', (e) => line('completed', e))
    worker.on('failed', (e) => line('failed', e))
    worker.on('error', (e: Error) => line('error', { message: e.message }))
  } else {
    say(`worker ${process.pid} ready (${o.concurrency ?? 1} at once); Ctrl-C stops after the jobs in flight`)
    worker.on('completed', (e) => say(`completed ${e.type} ${e.path} in ${(e.durationMs / 1000).toFixed(1)} s`))
    worker.on('failed', (e) => say(`failed ${e.type} ${e.path}: ${e.code}: ${e.message}${e.final ? '' : ` (try ${e.attemptsMade}, will retry)`}`))
    worker.on('error', (e: Error) => process.stderr.write(`resonode: worker: ${e.message}\n`))
  }
  // Runs until SIGINT / SIGTERM, then finishes the jobs in flight.
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolveStop()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  if (!o.json) say('stopping: waiting for the jobs in flight')
  await worker.close()
  if (o.json) line('closed', worker.stats)
  else say(`stopped: ${worker.stats.completed} completed, ${worker.stats.failed} failed, ${worker.stats.retried} retried`)
}

function printStatus(s: JobStatus): void {
  const c = s.counts
  process.stdout.write(
    `${s.progress.done}/${s.progress.total} jobs finished: ${c.completed} completed, ${c.failed} failed; ` +
      `${c.active} active, ${c.waiting + c.prioritized} waiting, ${c.delayed} delayed (retry back-off)\n` +
      `throughput: ${s.throughput.last1m.toFixed(1)} / ${s.throughput.last5m.toFixed(1)} / ${s.throughput.last15m.toFixed(1)} jobs per minute (last 1 / 5 / 15 min)\n`,
  )
  for (const f of s.failures) process.stdout.write(`  failed: ${f.type} ${f.path}: ${f.code}: ${f.message} (${f.attemptsMade} ${f.attemptsMade === 1 ? 'try' : 'tries'})\n`)
}

async function cmdJobsStatus(o: { queue: string; queueName?: string; json?: boolean }) {
  const s = await jobStatus({ queue: o.queue, queueName: o.queueName })
  if (o.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`)
  else printStatus(s)
}

async function cmdJobsRetry(o: { queue: string; queueName?: string; code?: string; json?: boolean }) {
  const codes = o.code === undefined ? undefined : o.code.split(',').map((c) => c.trim()).filter(Boolean)
  const r = await retryFailed({ queue: o.queue, queueName: o.queueName, codes })
  if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
  else process.stdout.write(`${r.retried.length} failed job${r.retried.length === 1 ? '' : 's'} put back in the queue\n`)
}

/** `--queue` (required) and `--queue-name`, the same on `worker` and `jobs status`. */
function queueOptions(cmd: Command): Command {
  return cmd.requiredOption('--queue <url>', 'the job queue: a Redis URL, redis://host:port[/db]').option('--queue-name <name>', 'BullMQ queue name (default resonode)')
}

/** Adds `worker` and `jobs` to `program`. */
export function addQueueCommands(program: Command): void {
  queueOptions(
    program.command('worker').description('Run jobs of a queue (analyze, separate, enhance) in sandboxed processes until SIGINT / SIGTERM; the jobs in flight finish first.'),
  )
    .option('--db <path|url>', 'library of analyze jobs: a postgres:// URL shared by all workers, or a SQLite file (default: the one the job names)')
    .option('--concurrency <n>', 'jobs at once (default 1)', positiveInt('--concurrency'))
    .option('--out <dir>', 'output folder of separate / enhance jobs that name none (shared storage)')
    .option('--lock-duration <ms>', "a job's lock without renewal (default 30000): how long a dead worker holds its job", positiveInt('--lock-duration', 100))
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs (default 30000)', positiveInt('--stalled-interval', 100))
    .option('--max-stalled-count <n>', 'how often a job may stall before it fails (default 1)', positiveInt('--max-stalled-count', 0))
    .option('--worker-threads', 'run jobs in worker threads instead of child processes')
    .option('--json', 'one JSON line per event: ready, active, progress, completed, failed, error, closed')
    .action(cmdWorker)

  const jobs = program.command('jobs').description('The job queue: counts, throughput, failures; retrying failed jobs.')
  queueOptions(jobs.command('status').description('Jobs per state, throughput (jobs per minute over 1 / 5 / 15 min), failed jobs with their error codes, overall progress.'))
    .option('--json', 'print one JSON object: { counts, throughput, failures, progress }')
    .action(cmdJobsStatus)
  queueOptions(jobs.command('retry').description('Put the jobs kept as failed back in the queue, their tries reset (after fixing the cause).'))
    .option('--code <list>', 'only jobs that failed with these codes, comma-separated (e.g. ERR_DATABASE_UNAVAILABLE)')
    .option('--json', 'print one JSON object: { retried: [jobId] }')
    .action(cmdJobsRetry)
}

/** An option given where it does not apply, as the CLI reports it: `ERR_INVALID_PARAMETER` with `reason` (e.g. `only with --queue`). */
export function misplacedOption(option: string, reason: string): never {
  throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${option}\`: ${reason}`)
}
