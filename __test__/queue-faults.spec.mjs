// Issue 15, the queue's faults, each its own test against real servers
// (Redis 56381-56383, PostgreSQL 55421-55423; a test that restarts a server
// has its own): a worker killed with SIGKILL mid-job, Redis restarted
// during a run, PostgreSQL down for a moment, a corrupt file in the batch.
// After each: every file in the library exactly once, completely analysed
// (or, for the corrupt file, failed with its code), every job finished.
import test from 'ava'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { cli, tempDir } from './helpers.mjs'
import { RedisServer, PostgresServer } from './services.mjs'
import { WorkerProcess, waitUntil, songFolder, Library, enqueueScan, jobStatus } from './queue-helpers.mjs'

// Shared by the tests that restart nothing. The data directories carry the
// process id and start empty: nothing of an earlier run is seen.
const redis = new RedisServer(`resonode-faults-redis-${process.pid}`, 56381)
const postgres = new PostgresServer(`resonode-faults-pg-${process.pid}`, 55421)
// Restarted by one test each.
const redisRestarted = new RedisServer(`resonode-faults-redis-restart-${process.pid}`, 56382)
const postgresRestarted = new PostgresServer(`resonode-faults-pg-restart-${process.pid}`, 55422)
const servers = [redis, postgres, redisRestarted, postgresRestarted]
let songsCache

/** A `resonode worker` that the end of test `t`, passed or failed, kills if it still runs. */
/** Runs the CLI; resolves with { code, stdout, stderr } whatever the exit status. */
async function resonode(args) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { timeout: 120_000 })
    return { code: 0, stdout, stderr }
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function workerFor(t, args) {
  const w = new WorkerProcess(args)
  t.teardown(() => w.kill())
  return w
}

test.before(async () => {
  await Promise.all(servers.map((s) => s.startFresh()))
  songsCache = join(tempDir(), 'songs')
})

test.after.always(async () => {
  await Promise.all(servers.map((s) => s.remove()))
})

/** Resolves with the queue's status once `n` jobs have finished (completed or failed for good). */
function finished(queue, queueName, n) {
  return waitUntil(async () => {
    const s = await jobStatus({ queue, queueName })
    return s.counts.completed + s.counts.failed >= n && s
  }, `${n} finished jobs in ${queueName}`, { timeoutMs: 240_000, intervalMs: 250 })
}

/** Every file in the library exactly once and completely analysed: descriptors, beats, summary. */
async function assertAllAnalysedOnce(t, db, files) {
  const library = new Library({ url: db })
  try {
    const tracks = await library.tracks()
    t.deepEqual(tracks.map((x) => x.path).sort(), [...files].sort(), 'one row per file')
    for (const x of tracks) {
      t.is(x.error, null, x.path)
      t.true(x.tempoBpm > 0 && x.key !== null && Number.isFinite(x.loudnessLufs) && x.durationS > 15, `${x.path}: ${JSON.stringify({ tempo: x.tempoBpm, key: x.key, lufs: x.loudnessLufs })}`)
      t.true(x.beats.length > 10 && x.summary.length === 44, `${x.path}: beats and summary`)
    }
  } finally {
    library.close()
  }
}

/** Job ids completed more than once across the workers' event lines. */
function completedTwice(workers) {
  const seen = new Map()
  for (const e of workers.flatMap((w) => w.of('completed'))) seen.set(e.jobId, (seen.get(e.jobId) ?? 0) + 1)
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id)
}

test.serial('a worker killed with SIGKILL mid-job: another worker takes the job over after the stall interval; every file is analysed once', async (t) => {
  const dir = join(tempDir(), 'music')
  const files = await songFolder(dir, 8, songsCache)
  const db = await postgres.createDatabase('faults_kill')
  const q = 'kill'
  // Locks short enough that the dead worker's job is seen as stalled within
  // seconds, long enough that a late renewal (every 5 s) on a loaded
  // machine never makes a healthy job look stalled.
  const opts = ['--queue', redis.url, '--queue-name', q, '--db', db, '--lock-duration', '10000', '--stalled-interval', '1000']
  const s = await enqueueScan(dir, { queue: redis.url, queueName: q })
  t.is(s.enqueued, 8)

  const victim = workerFor(t, opts)
  const active = await victim.waitFor((e) => e.event === 'active', 'the first job active')
  await victim.kill()
  t.false(victim.of('completed').some((e) => e.jobId === active.jobId), 'killed in the middle of its job')
  const status = await jobStatus({ queue: redis.url, queueName: q })
  t.true(status.counts.active >= 1, 'the killed job is still marked active (no worker runs a stall check to move it back)')

  const survivor = workerFor(t, opts)
  try {
    await survivor.ready()
    const done = await finished(redis.url, q, 8)
    t.like(done.counts, { completed: 8, failed: 0 })
    t.true(survivor.of('completed').some((e) => e.jobId === active.jobId), 'the killed job ran to completion on the other worker')
  } finally {
    await survivor.stop()
  }
  await assertAllAnalysedOnce(t, db, files)
})

test.serial('Redis restarted during a run: the workers reconnect and finish; nothing lost, nothing done twice', async (t) => {
  const dir = join(tempDir(), 'music')
  const files = await songFolder(dir, 24, songsCache)
  const db = await postgres.createDatabase('faults_redis')
  const q = 'restart'
  const url = redisRestarted.url
  const s = await enqueueScan(dir, { queue: url, queueName: q })
  t.is(s.enqueued, 24)
  const workers = [workerFor(t, ['--queue', url, '--queue-name', q, '--db', db]), workerFor(t, ['--queue', url, '--queue-name', q, '--db', db])]
  try {
    await waitUntil(() => workers.flatMap((w) => w.of('completed')).length >= 2, 'two jobs done')
    await redisRestarted.stop()
    const before = workers.flatMap((w) => w.of('completed')).length
    await redisRestarted.start()
    t.log(`Redis stopped after ${before} of 24 jobs`)
    t.true(before < 24, `stopped mid-run (${before} of 24 done)`)
    const done = await finished(url, q, 24)
    t.like(done.counts, { completed: 24, failed: 0, waiting: 0, active: 0 })
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
  t.deepEqual(completedTwice(workers), [], 'each job completed once')
  // A job whose completion Redis stored just as it shut down can have lost
  // the reply: its worker then reports a connection error instead of
  // 'completed' (the job is done, in Redis and in the library, and does not
  // run again). Every other job is reported completed.
  const reported = new Set(workers.flatMap((w) => w.of('completed')).map((e) => e.jobId))
  const unreported = s.jobIds.filter((id) => !reported.has(id))
  const errors = workers.flatMap((w) => w.of('error'))
  t.true(unreported.length <= errors.length, `jobs done without a 'completed' event: ${unreported.join(', ')}; worker errors: ${JSON.stringify(errors)}`)
  if (unreported.length) t.log(`${unreported.length} completion(s) reported as a lost connection: ${errors.map((e) => e.message).join(' | ')}`)
  await assertAllAnalysedOnce(t, db, files)
})

test.serial('PostgreSQL down for a moment: jobs fail with ERR_DATABASE_UNAVAILABLE, are retried, and finish; one complete row per file', async (t) => {
  const dir = join(tempDir(), 'music')
  const files = await songFolder(dir, 24, songsCache)
  const db = await postgresRestarted.createDatabase('faults_pg')
  const q = 'pg-down'
  // Back-off 500 ms doubling: ten tries span minutes, longer than the outage.
  const s = await enqueueScan(dir, { queue: redis.url, queueName: q, attempts: 10, backoffMs: 500 })
  t.is(s.enqueued, 24)
  const workers = [workerFor(t, ['--queue', redis.url, '--queue-name', q, '--db', db]), workerFor(t, ['--queue', redis.url, '--queue-name', q, '--db', db])]
  try {
    await waitUntil(() => workers.flatMap((w) => w.of('completed')).length >= 1, 'a job done')
    await postgresRestarted.stop()
    const unavailable = await waitUntil(
      () => workers.flatMap((w) => w.of('failed')).find((e) => e.code === 'ERR_DATABASE_UNAVAILABLE'),
      'a try failing with ERR_DATABASE_UNAVAILABLE',
    )
    t.log(`PostgreSQL down after ${workers.flatMap((w) => w.of('completed')).length} of 24 jobs`)
    t.false(unavailable.final, 'retried, not failed for good')
    t.regex(unavailable.message, /unavailable/)
    await postgresRestarted.start()
    const done = await finished(redis.url, q, 24)
    t.like(done.counts, { completed: 24, failed: 0 })
    t.deepEqual(done.failures, [])
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
  t.true(workers.flatMap((w) => w.of('failed')).every((e) => !e.final))
  // One complete row per file. That a write cut off half way leaves no
  // partial row is not shown here (a retry would overwrite one, and the
  // server stops between writes): crates/library/tests/postgres.rs,
  // a_write_cut_off_half_way_leaves_no_partial_rows, shows it.
  await assertAllAnalysedOnce(t, db, files)
})

test.serial('a corrupt file in the batch fails at once with its code, kept as failed in the queue and in the library; the rest completes; once replaced, `jobs retry` runs it again', async (t) => {
  const dir = join(tempDir(), 'music')
  const files = await songFolder(dir, 4, songsCache)
  // A real WAV, its format chunk garbled and its data cut short.
  const bytes = readFileSync(files[0])
  const corrupt = Buffer.from(bytes.subarray(0, 60_000))
  corrupt.fill(0xa5, 20, 36)
  const corruptPath = join(dir, 'corrupt.wav')
  writeFileSync(corruptPath, corrupt)
  const db = await postgres.createDatabase('faults_corrupt')
  const q = 'corrupt'
  const s = await enqueueScan(dir, { queue: redis.url, queueName: q, attempts: 5 })
  t.is(s.enqueued, 5)
  const worker = workerFor(t, ['--queue', redis.url, '--queue-name', q, '--db', db])
  let done
  try {
    done = await finished(redis.url, q, 5)
  } finally {
    await worker.stop()
  }
  t.like(done.counts, { completed: 4, failed: 1 })
  t.is(done.failures.length, 1)
  const f = done.failures[0]
  t.is(f.path, corruptPath)
  t.is(f.type, 'analyze')
  t.regex(f.code, /^ERR_(DECODE|UNSUPPORTED_FORMAT|EMPTY_AUDIO)$/)
  t.true(f.message.length > 0)
  t.is(f.attemptsMade, 1, 'a permanent failure is not retried')
  const failedEvents = worker.of('failed')
  t.is(failedEvents.length, 1)
  t.like(failedEvents[0], { path: corruptPath, code: f.code, final: true, attemptsMade: 1 })

  const library = new Library({ url: db })
  try {
    const row = await library.get(corruptPath)
    t.is(row.errorCode, f.code)
    t.is(row.error, f.message)
    t.is(row.tempoBpm, null)
  } finally {
    library.close()
  }
  // The good files, as in the other tests.
  const lib2 = new Library({ url: db })
  const good = (await lib2.tracks()).filter((x) => x.path !== corruptPath)
  lib2.close()
  t.deepEqual(good.map((x) => x.path).sort(), [...files].sort())
  for (const x of good) t.true(x.error === null && x.tempoBpm > 0, x.path)

  // The file replaced by a good one, its failed job retried (`resonode jobs
  // retry`): only the codes asked for, its tries reset, and this time it is analysed.
  writeFileSync(corruptPath, readFileSync(files[1]))
  const other = await resonode(['jobs', 'retry', '--queue', redis.url, '--queue-name', q, '--code', 'ERR_DATABASE_UNAVAILABLE', '--json'])
  t.is(other.code, 0, other.stderr)
  t.deepEqual(JSON.parse(other.stdout), { retried: [] }, 'a code no job failed with retries nothing')
  const again = await resonode(['jobs', 'retry', '--queue', redis.url, '--queue-name', q, '--code', f.code, '--json'])
  t.is(again.code, 0, again.stderr)
  t.deepEqual(JSON.parse(again.stdout), { retried: [f.jobId] })
  const second = workerFor(t, ['--queue', redis.url, '--queue-name', q, '--db', db])
  let after
  try {
    after = await finished(redis.url, q, 5)
  } finally {
    await second.stop()
  }
  t.like(after.counts, { completed: 5, failed: 0 })
  t.like(second.of('completed').find((e) => e.jobId === f.jobId), { path: corruptPath })
  const lib3 = new Library({ url: db })
  try {
    const row = await lib3.get(corruptPath)
    t.is(row.error, null)
    t.true(row.tempoBpm > 0)
  } finally {
    lib3.close()
  }
})
