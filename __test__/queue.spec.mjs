// Issue 15, batch jobs on BullMQ workers, against a real Redis and a real
// PostgreSQL started here (ports 56380 / 55420): a folder enqueued by the
// CLI and by enqueueScan, two `resonode worker` processes writing into
// PostgreSQL exactly what a local SQLite scan writes, a re-enqueue that
// adds nothing, `jobs status`, separate / enhance jobs writing the same
// files as `resonode separate` / `resonode enhance` (one job per output),
// no password in a job's data, refused options and an unreachable Redis.
import test from 'ava'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { asset, cli, root, tempDir, readAll, maxAbsDiff } from './helpers.mjs'
import { RedisServer, PostgresServer } from './services.mjs'
import { WorkerProcess, waitUntil, songFolder, descriptors, Library, enqueueScan, startWorker, jobStatus } from './queue-helpers.mjs'

const run = promisify(execFile)
// Data directories named by the process id, started empty: nothing of an earlier run is seen.
const redis = new RedisServer(`resonode-queue-spec-redis-${process.pid}`, 56380)
const postgres = new PostgresServer(`resonode-queue-spec-pg-${process.pid}`, 55420)
const model = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
let songsCache

test.before(async () => {
  await Promise.all([redis.startFresh(), postgres.startFresh()])
  songsCache = join(tempDir(), 'songs')
})

test.after.always(async () => {
  await Promise.all([redis.remove(), postgres.remove()])
})

/** Runs the CLI; resolves with { code, stdout, stderr } whatever the exit status. */
async function resonode(args) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { timeout: 240_000 })
    return { code: 0, stdout, stderr }
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test.serial('a folder enqueued by the CLI is analysed by two worker processes into PostgreSQL exactly as a local scan; a re-enqueue adds nothing; jobs status counts it', async (t) => {
  const dir = join(tempDir(), 'music')
  await songFolder(dir, 8, songsCache)
  // The same bytes under a second path: a second job, whose analysis is copied by hash.
  mkdirSync(join(dir, 'sub'))
  copyFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.wav'))), join(dir, 'sub', 'copy.wav'))
  writeFileSync(join(dir, 'notes.txt'), 'not music')
  const db = await postgres.createDatabase('queue_cli')
  const q = 'cli'

  const enq = await resonode(['library', 'scan', dir, '--queue', redis.url, '--queue-name', q, '--json'])
  t.is(enq.code, 0, enq.stderr)
  const summary = JSON.parse(enq.stdout)
  t.like(summary, { files: 9, enqueued: 9, alreadyQueued: 0, unchanged: 0, ignored: 1, failures: [] })
  t.is(new Set(summary.jobIds).size, 9)
  for (const id of summary.jobIds) t.regex(id, /^analyze-[0-9a-f]{64}-[0-9a-f]{16}$/)

  const workers = [new WorkerProcess(['--queue', redis.url, '--queue-name', q, '--db', db]), new WorkerProcess(['--queue', redis.url, '--queue-name', q, '--db', db])]
  t.teardown(() => Promise.all(workers.map((w) => w.kill())))
  try {
    await Promise.all(workers.map((w) => w.ready()))
    const done = await waitUntil(async () => {
      const s = await jobStatus({ queue: redis.url, queueName: q })
      return s.counts.completed + s.counts.failed === 9 && s
    }, 'the 9 jobs')
    t.like(done.counts, { completed: 9, failed: 0, waiting: 0, active: 0, delayed: 0 })
    t.deepEqual(done.progress, { done: 9, total: 9 })
    t.deepEqual(done.failures, [])
    // All completed within the last 15 minutes (the whole test is shorter).
    t.is(Math.round(done.throughput.last15m * 15), 9)
    const completions = workers.flatMap((w) => w.of('completed'))
    t.is(completions.length, 9)
    t.deepEqual(completions.map((e) => e.jobId).sort(), [...summary.jobIds].sort(), 'each job completed once')
    for (const e of completions) t.true(e.durationMs >= 0 && e.type === 'analyze')

    // The same folder scanned locally into SQLite: the same tracks, the same descriptors.
    const local = new Library(join(tempDir(), 'local.db'))
    const ls = await local.scan(dir)
    t.is(ls.added, 9)
    const remote = new Library({ url: db })
    const [a, b] = [await local.tracks(), await remote.tracks()]
    t.is(b.length, 9, 'one row per path')
    t.deepEqual(b.map((x) => x.path).sort(), a.map((x) => x.path).sort())
    const byPath = new Map(a.map((x) => [x.path, x]))
    for (const r of b) {
      t.is(r.error, null, r.path)
      t.true(r.beats.length > 0 && r.summary.length === 44 && r.tempoBpm > 0, r.path)
      t.deepEqual(descriptors(r), descriptors(byPath.get(r.path)), r.path)
    }
    local.close()

    // A re-enqueue (through the API) adds nothing, so nothing runs again.
    const again = await enqueueScan(dir, { queue: redis.url, queueName: q })
    t.like(again, { files: 9, enqueued: 0, alreadyQueued: 9, unchanged: 0 })
    t.deepEqual(again.jobIds, summary.jobIds)
    const after = await jobStatus({ queue: redis.url, queueName: q })
    t.like(after.counts, { completed: 9, waiting: 0, active: 0, delayed: 0 })
    // With the library named, a new queue gets nothing either: every file is held unchanged.
    const fresh = await enqueueScan(dir, { queue: redis.url, queueName: 'cli-db', db })
    t.like(fresh, { files: 9, enqueued: 0, alreadyQueued: 0, unchanged: 9, jobIds: [] })
    remote.close()

    const status = await resonode(['jobs', 'status', '--queue', redis.url, '--queue-name', q, '--json'])
    t.is(status.code, 0, status.stderr)
    const s = JSON.parse(status.stdout)
    t.like(s, { counts: { completed: 9, failed: 0 }, progress: { done: 9, total: 9 }, failures: [] })
    t.deepEqual(Object.keys(s.throughput).sort(), ['last15m', 'last1m', 'last5m'])
    const text = await resonode(['jobs', 'status', '--queue', redis.url, '--queue-name', q])
    t.regex(text.stdout, /^9\/9 jobs finished: 9 completed, 0 failed/)
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
  // Progress reached 100 once for every job (reported by the sandbox, relayed by the worker).
  t.deepEqual(workers.flatMap((w) => w.of('progress')).filter((e) => e.progress === 100).map((e) => e.jobId).sort(), [...summary.jobIds].sort())
  for (const w of workers) t.is(w.of('closed').length, 1, 'closed gracefully')
  t.is(workers.reduce((n, w) => n + w.of('closed')[0].completed, 0), 9)
})

test.serial("a job carries the producer's db without its password, which the producer's own look-up uses", async (t) => {
  const dir = join(tempDir(), 'secret')
  mkdirSync(dir)
  copyFileSync(asset('speech.wav'), join(dir, 'speech.wav'))
  const db = await postgres.createDatabase('queue_pw')
  // The test server trusts local connections, so it takes any password: the look-up succeeds with them.
  const withPasswords = `${db.replace('://resonode@', '://resonode:s3cret-user-part@')}?application_name=producer&password=s3cret-parameter`
  const s = await enqueueScan(dir, { queue: redis.url, queueName: 'secret', db: withPasswords })
  t.like(s, { files: 1, enqueued: 1, unchanged: 0, failures: [] })
  const queue = new Queue('secret', { connection: { host: '127.0.0.1', port: redis.port } })
  queue.on('error', () => {})
  try {
    const job = await queue.getJob(s.jobIds[0])
    t.is(job.data.db, `${db}?application_name=producer`)
    // Nowhere in what Redis holds of the job.
    const client = new Redis(redis.port, '127.0.0.1')
    const stored = JSON.stringify(await client.hgetall(queue.toKey(s.jobIds[0])).finally(() => client.disconnect()))
    t.true(stored.includes(job.data.path), 'the stored job was read')
    t.false(stored.includes('s3cret'))
  } finally {
    await queue.close()
  }
})

/** Every sample of two WAV files, equal to float precision. */
async function assertSameAudio(t, a, b, label) {
  const [x, y] = [await readAll(a), await readAll(b)]
  t.is(x.sampleRate, y.sampleRate, label)
  t.is(x.channels.length, y.channels.length, label)
  x.channels.forEach((c, i) => {
    t.is(c.length, y.channels[i].length, label)
    t.is(maxAbsDiff(c, y.channels[i]), 0, `${label} channel ${i}`)
  })
}

test.serial('separate and enhance jobs write the stems and the enhanced file that `resonode separate` and `resonode enhance` write', async (t) => {
  const dir = join(tempDir(), 'clips')
  mkdirSync(dir)
  copyFileSync(asset('music.wav'), join(dir, 'music.wav'))
  copyFileSync(asset('noisy_speech.wav'), join(dir, 'noisy_speech.wav'))
  const out = join(tempDir(), 'shared-out')
  const q = 'ml'
  const s = await enqueueScan(dir, { queue: redis.url, queueName: q, types: ['separate', 'enhance'], out, model })
  t.like(s, { files: 2, enqueued: 4 })
  for (const id of s.jobIds) t.regex(id, /^(separate|enhance)-[0-9a-f]{64}-[0-9a-f]{16}$/)
  // The same bytes under the same file name in another folder would write
  // the same outputs: the same jobs, nothing added (within one scan too).
  const elsewhere = join(tempDir(), 'elsewhere')
  mkdirSync(join(elsewhere, 'sub'), { recursive: true })
  copyFileSync(asset('music.wav'), join(elsewhere, 'music.wav'))
  copyFileSync(asset('music.wav'), join(elsewhere, 'sub', 'music.wav'))
  const again = await enqueueScan(elsewhere, { queue: redis.url, queueName: q, types: ['separate', 'enhance'], out, model })
  t.like(again, { files: 2, enqueued: 0, alreadyQueued: 4 })
  t.deepEqual(again.jobIds, s.jobIds.slice(0, 2), 'the jobs of music.wav (the first file), each once')
  // In-process worker API, jobs in worker threads this time.
  const worker = await startWorker({ queue: redis.url, queueName: q, concurrency: 2, useWorkerThreads: true })
  const completed = []
  const progress = []
  worker.on('completed', (e) => completed.push(e))
  worker.on('progress', (e) => progress.push(e))
  try {
    await waitUntil(() => completed.length === 4, 'the 4 jobs')
  } finally {
    await worker.close()
  }
  t.like(worker.stats, { completed: 4, failed: 0, active: 0 })
  t.true(progress.some((p) => p.type === 'separate' && p.progress > 0 && p.progress < 100), 'separation reports progress on the way')

  const local = join(tempDir(), 'local')
  // The content hash (BLAKE3) as the library computes it, for the output names.
  const hashes = new Library(join(tempDir(), 'hashes.db'))
  for (const f of ['music', 'noisy_speech']) {
    const hash = (await hashes.add(join(dir, `${f}.wav`))).contentHash
    const name = `${f}-${hash.slice(0, 12)}`
    const sep = await resonode(['separate', join(dir, `${f}.wav`), '--model', model, '--out', join(local, f), '--json'])
    t.is(sep.code, 0, sep.stderr)
    const stems = readdirSync(join(out, name)).sort()
    t.deepEqual(stems, ['bass.wav', 'drums.wav', 'other.wav', 'vocals.wav'])
    for (const stem of stems) await assertSameAudio(t, join(out, name, stem), join(local, f, stem), `${f} ${stem}`)
    const enh = await resonode(['enhance', join(dir, `${f}.wav`), join(local, `${f}-enhanced.wav`)])
    t.is(enh.code, 0, enh.stderr)
    t.true(readFileSync(join(out, `${name}.wav`)).equals(readFileSync(join(local, `${f}-enhanced.wav`))), `${f}: the enhanced file, byte for byte`)
  }
  hashes.close()
  // Nothing half-written is left (outputs are renamed into place).
  t.deepEqual(readdirSync(out).filter((f) => f.includes('.partial-')), [])
})

test.serial('bad options are refused with ERR_INVALID_PARAMETER before anything is enqueued', async (t) => {
  const dir = tempDir()
  const bad = [
    [{ queue: redis.url, typo: 1 }, /typo/],
    [{ queue: 'http://127.0.0.1:1' }, /queue/],
    [{ queue: redis.url, types: ['transcribe'] }, /types/],
    [{ queue: redis.url, types: [] }, /types/],
    [{ queue: redis.url, types: ['enhance'] }, /out/],
    [{ queue: redis.url, types: ['separate'], out: dir }, /model/],
    [{ queue: redis.url, attempts: 0 }, /attempts/],
    [{ queue: redis.url, queueName: 'a:b' }, /queueName/],
  ]
  for (const [options, re] of bad) {
    const e = await t.throwsAsync(enqueueScan(dir, options), undefined, JSON.stringify(options))
    t.is(e.code, 'ERR_INVALID_PARAMETER', e.message)
    t.regex(e.message, re)
  }
  for (const options of [{ queue: redis.url, concurrency: 0 }, { queue: redis.url, lockDurationMs: -1 }, { queue: redis.url, nope: true }, {}]) {
    const e = await t.throwsAsync(startWorker(options), undefined, JSON.stringify(options))
    t.is(e.code, 'ERR_INVALID_PARAMETER', e.message)
  }
  t.is((await t.throwsAsync(jobStatus({ queue: 'redis://x:notaport' }))).code, 'ERR_INVALID_PARAMETER')
  t.is((await t.throwsAsync(enqueueScan(join(dir, 'nope'), { queue: redis.url }))).code, 'ERR_NOT_FOUND')
  const s = await jobStatus({ queue: redis.url, queueName: 'default-bad' })
  t.deepEqual(s.progress, { done: 0, total: 0 }, 'nothing was enqueued')

  for (const args of [
    ['library', 'scan', dir, '--queue', redis.url, '--types', 'analyze,transcribe'],
    ['library', 'scan', dir, '--wait'],
    ['library', 'scan', dir, '--queue', redis.url, '--prune'],
  ]) {
    const r = await resonode(args)
    t.is(r.code, 1, args.join(' '))
    t.regex(r.stderr, /^resonode: ERR_INVALID_PARAMETER: /, args.join(' '))
  }
})

test.serial('an unreachable Redis fails with ERR_QUEUE_UNAVAILABLE', async (t) => {
  // Nothing listens on this port of the spec's range.
  const queue = 'redis://127.0.0.1:56388'
  const dir = join(tempDir(), 'one')
  mkdirSync(dir)
  copyFileSync(asset('speech.wav'), join(dir, 'speech.wav'))
  for (const p of [enqueueScan(dir, { queue }), startWorker({ queue }), jobStatus({ queue })]) {
    const e = await t.throwsAsync(p)
    t.is(e.code, 'ERR_QUEUE_UNAVAILABLE', e.message)
    t.regex(e.message, /127\.0\.0\.1:56388/)
  }
  for (const args of [['library', 'scan', dir, '--queue', queue], ['worker', '--queue', queue], ['jobs', 'status', '--queue', queue]]) {
    const r = await resonode(args)
    t.is(r.code, 1, args.join(' '))
    t.regex(r.stderr, /^resonode: ERR_QUEUE_UNAVAILABLE: /)
  }
})
