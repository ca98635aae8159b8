// Section j of bench/RESULTS.md: scale-out throughput. The same folder of
// songs analysed into a library
//   - locally, in process: `Library.scan(dir, { concurrency })` into SQLite
//     and into PostgreSQL (the anchors),
//   - through the queue: `enqueueScan()` into Redis, then `resonode worker`
//     processes (1 process x 1 job, 1 x 2, 2 x 1) writing to PostgreSQL,
//   - and the queue's own cost: the same jobs when the library already
//     holds every file unchanged (a job then hashes nothing new, analyses
//     nothing and writes nothing; what is left is Redis, the sandboxed
//     processor and one database lookup).
// Real servers, started here on 127.0.0.1 (scripts/postgres-server.sh,
// scripts/redis-server.sh) and removed afterwards. Rewrites the block
// between <!-- queue:begin --> and <!-- queue:end --> in bench/RESULTS.md
// (bench/run.mjs keeps it on a full run).
//
//   node bench/queue/run.mjs                       # about 3 min; rewrites the block
//   node bench/queue/run.mjs --reps 1 --no-write   # quicker, RESULTS.md untouched
//
// Options: --reps N (default 5), --songs DIR (default: 48 x 30 s songs
// rendered into /tmp/benchsongs-queue), --no-write, --no-wait.
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createRequire } from 'node:module'
import { median, table } from '../common.mjs'
import { waitQuiet } from '../mixer/quiet.mjs'
import { ROOT, ensureSongs, loadApi } from '../mixer/scan.mjs'

const ioredis = createRequire(import.meta.url)(join(ROOT, 'node_modules/ioredis'))
const Redis = ioredis.default ?? ioredis.Redis ?? ioredis

const { values: o } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    songs: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'no-wait': { type: 'boolean', default: false },
  },
})
const reps = Math.max(1, Number(o.reps))
const SONGS_OUT = '/tmp/benchsongs-queue'
const SONG_COUNT = 48
const SONG_SECONDS = 30
const PG_DIR = `/tmp/resonode-bench-pg-${process.pid}`
const REDIS_DIR = `/tmp/resonode-bench-redis-${process.pid}`
const PG_PORT = 55490
const REDIS_PORT = 56390
const CLI = join(ROOT, 'bin/resonode.js')
const t00 = Date.now()
const log = (...a) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(4)} s]`, ...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function script(name, ...args) {
  return execFileSync('bash', [join(ROOT, 'scripts', name), ...args], { encoding: 'utf8' }).trim()
}

function psql(url, sql) {
  return execFileSync('psql', [url, '-XAtqc', sql], { encoding: 'utf8' }).trim()
}

const pgBase = () => `postgres://resonode@127.0.0.1:${PG_PORT}`
let dbSerial = 0
/** A fresh, empty database on the bench's server; returns its URL. */
function freshDb() {
  const name = `bench_${process.pid}_${++dbSerial}`
  psql(`${pgBase()}/postgres`, `CREATE DATABASE ${name}`)
  return `${pgBase()}/${name}`
}

function redisFlush() {
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(REDIS_PORT), 'FLUSHALL'], { encoding: 'utf8' })
}

/** Starts `resonode worker` processes and resolves once each said it is ready. */
async function startWorkers(n, concurrency, queue, db) {
  const procs = []
  for (let i = 0; i < n; i++) {
    const p = spawn(process.execPath, [CLI, 'worker', '--queue', queue, '--db', db, '--concurrency', String(concurrency), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    p.stderrText = ''
    p.stderr.on('data', (d) => (p.stderrText += d))
    p.ready = new Promise((resolve, reject) => {
      let buf = ''
      p.stdout.on('data', (d) => {
        buf += d
        if (/"event":\s*"ready"/.test(buf)) resolve()
      })
      p.on('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready: ${p.stderrText.slice(-500)}`)))
    })
    procs.push(p)
  }
  await Promise.all(procs.map((p) => p.ready))
  return procs
}

async function stopWorkers(procs) {
  await Promise.all(procs.map((p) => new Promise((resolve) => {
    if (p.exitCode !== null) return resolve()
    p.on('exit', resolve)
    p.kill('SIGTERM')
  })))
}

/**
 * Resolves when the queue has `total` finished jobs. Polls the sizes of
 * BullMQ's completed and failed sets (two ZCARDs on one open connection,
 * every 10 ms): cheap enough not to take CPU from the workers it times,
 * unlike a full jobStatus() per poll.
 */
async function waitDone(redis, total, timeoutS = 1800) {
  const t0 = Date.now()
  for (;;) {
    const [[, done], [, failed]] = await redis.multi().zcard('bull:resonode:completed').zcard('bull:resonode:failed').exec()
    if (done + failed >= total) return { completed: done, failed }
    if ((Date.now() - t0) / 1000 > timeoutS) throw new Error(`queue not done after ${timeoutS} s: ${done} completed, ${failed} failed of ${total}`)
    await sleep(10)
  }
}

function cpuOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // utime stime cutime cstime (fields 14-17)
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100
  } catch {
    return 0
  }
}

async function localScan(api, dir, db, concurrency, files) {
  const lib = new api.Library(db)
  await waitQuiet({ log, noWait: o['no-wait'] })
  const t0 = process.hrtime.bigint()
  const s = await lib.scan(dir, { concurrency })
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9
  lib.close()
  if (s.added !== files || s.failed) throw new Error(`local scan: ${JSON.stringify({ ...s, failures: s.failures.slice(0, 3) })}`)
  return { wallS }
}

/** Short WAVs of distinct content (1 s of a tone each) for warming the sandboxes up. */
function warmupFiles(n) {
  const dir = join(ROOT, `bench/out/queue/warmup-${n}`)
  if (existsSync(dir) && readdirSync(dir).length === n) return dir
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const rate = 44100
  for (let k = 0; k < n; k++) {
    const pcm = Buffer.alloc(rate * 2)
    for (let i = 0; i < rate; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * (220 + 37 * k) * i) / rate)), i * 2)
    const h = Buffer.alloc(44)
    h.write('RIFF', 0); h.writeUInt32LE(36 + pcm.length, 4); h.write('WAVEfmt ', 8); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22)
    h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(pcm.length, 40)
    writeFileSync(join(dir, `tone-${k}.wav`), Buffer.concat([h, pcm]))
  }
  return dir
}

/**
 * One queue run: workers up, their sandboxes started by a few warm-up jobs
 * (short tones: every job slot has run one, so its child process and the
 * addon are loaded), then the timed part: enqueue the folder and wait; wall
 * time from the enqueue call to the last job done.
 */
async function queueRun(api, dir, { workers, concurrency, db, files, expectWork = true }) {
  redisFlush()
  const queue = `redis://127.0.0.1:${REDIS_PORT}`
  const procs = await startWorkers(workers, concurrency, queue, db)
  const redis = new Redis(REDIS_PORT, '127.0.0.1')
  try {
    const warm = 2 * workers * concurrency
    const w = await api.enqueueScan(warmupFiles(warm), { queue })
    await waitDone(redis, w.enqueued)
    const cpu0 = procs.reduce((s, p) => s + cpuOf(p.pid), 0)
    await waitQuiet({ log, noWait: o['no-wait'] })
    const t0 = process.hrtime.bigint()
    const e = await api.enqueueScan(dir, { queue })
    const enqueueS = Number(process.hrtime.bigint() - t0) / 1e9
    if (e.enqueued !== files) throw new Error(`enqueueScan: ${JSON.stringify({ ...e, jobIds: undefined, failures: e.failures.slice(0, 3) })}`)
    const done = await waitDone(redis, files + w.enqueued)
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9
    const workerCpuS = procs.reduce((s, p) => s + cpuOf(p.pid), 0) - cpu0
    if (done.failed) throw new Error(`queue run: ${done.failed} job(s) failed: ${JSON.stringify((await api.jobStatus({ queue })).failures.slice(0, 3))}`)
    if (expectWork) {
      const rows = Number(psql(db, `SELECT count(*) FROM tracks WHERE error IS NULL AND path NOT LIKE '%/warmup-%'`))
      if (rows !== files) throw new Error(`queue run: ${rows} analysed rows in ${db}, expected ${files}`)
    }
    return { wallS, enqueueS, workerCpuS }
  } finally {
    redis.disconnect()
    await stopWorkers(procs)
  }
}

function machine() {
  const sh = (c, a) => { try { return execFileSync(c, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return '' } }
  let commit = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown'
  if (sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench'])) commit += ' (with uncommitted changes outside bench/)'
  return {
    cpu: sh('lscpu', []).match(/^Model name:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    os: sh('uname', ['-srm']),
    node: process.version,
    commit,
    postgres: sh('psql', ['--version']).replace(/^psql \(PostgreSQL\) /, ''),
    redis: sh('redis-server', ['--version']).match(/v=(\S+)/)?.[1] ?? '?',
    bullmq: JSON.parse(readFileSync(join(ROOT, 'node_modules/bullmq/package.json'), 'utf8')).version,
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  }
}

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a')

function render(r) {
  const m = r.machine
  const n = r.files
  const med = (k) => median(r.runs[k].map((x) => x.wallS))
  const range = (k) => `${f(med(k), 2)} (${f(Math.min(...r.runs[k].map((x) => x.wallS)), 2)}-${f(Math.max(...r.runs[k].map((x) => x.wallS)), 2)})`
  const perMin = (k) => (n / med(k)) * 60
  // Overhead per job at a given parallelism: the extra wall time over the
  // in-process scan at the same parallelism, spread over the jobs, times
  // the jobs in flight (each slot pays it).
  const over = (k, anchor, par) => ((med(k) - med(anchor)) / n) * par * 1000
  const rows = [
    ['local `Library.scan(dir, { concurrency: 1 })`, SQLite', range('local1Sqlite'), int(perMin('local1Sqlite')), '', 'anchor'],
    ['local `Library.scan(dir, { concurrency: 1 })`, PostgreSQL', range('local1Pg'), int(perMin('local1Pg')), '', 'anchor (PostgreSQL)'],
    ['queue: 1 worker process x 1 job, PostgreSQL', range('q1x1'), int(perMin('q1x1')), f(Math.min(...r.runs.q1x1.map((x) => x.enqueueS)), 2), `${f(over('q1x1', 'local1Pg', 1), 1)} ms/job`],
    ['local `Library.scan(dir, { concurrency: 2 })`, SQLite', range('local2Sqlite'), int(perMin('local2Sqlite')), '', 'anchor'],
    ['local `Library.scan(dir, { concurrency: 2 })`, PostgreSQL', range('local2Pg'), int(perMin('local2Pg')), '', 'anchor (PostgreSQL)'],
    ['queue: 1 worker process x 2 jobs, PostgreSQL', range('q1x2'), int(perMin('q1x2')), f(Math.min(...r.runs.q1x2.map((x) => x.enqueueS)), 2), `${f(over('q1x2', 'local2Pg', 2), 1)} ms/job`],
    ['queue: 2 worker processes x 1 job, PostgreSQL', range('q2x1'), int(perMin('q2x1')), f(Math.min(...r.runs.q2x1.map((x) => x.enqueueS)), 2), `${f(over('q2x1', 'local2Pg', 2), 1)} ms/job`],
    ['queue, nothing to do (library already holds every file): 2 x 1', range('noop2x1'), int(perMin('noop2x1')), f(Math.min(...r.runs.noop2x1.map((x) => x.enqueueS)), 2), `${f((med('noop2x1') / n) * 2 * 1000, 1)} ms/job in all`],
  ]
  const machineRate = perMin('q2x1')
  const coordRate = perMin('noop2x1')
  // Analysis time grows with the audio's duration and the queue's cost per
  // job does not: project real tracks from the measured real-time factor.
  const realtime = r.audioS / med('q2x1')
  const TRACK_S = 240
  const trackRate = (realtime / TRACK_S) * 60
  const proj = [1, 2, 4, 8, 16, 32].map((k) => [String(k), int(k * machineRate), int(k * trackRate), f(100000 / (k * trackRate) / 60, 1)])
  return `<!-- queue:begin -->
## j. Scale-out: queue throughput (PostgreSQL library, BullMQ workers)

Written by \`node bench/queue/run.mjs\` on ${r.date.slice(0, 10)}, separately from the sections above; one machine: ${m.cpu}, ${m.cores} cores,
${m.os}, node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}, BullMQ ${m.bullmq}; resonode commit ${m.commit}. Load average at the start ${m.load}.
Servers started by the bench on 127.0.0.1 (\`scripts/postgres-server.sh\`, \`scripts/redis-server.sh\`: Redis with AOF \`appendfsync always\`), on the same
2 cores as the workers. Input: ${n} songs x ${SONG_SECONDS} s (${f(r.audioS, 0)} s of stereo 44.1 kHz WAV) rendered by
\`node scripts/make-groundtruth.mjs --subset synth --count ${SONG_COUNT} --seconds ${SONG_SECONDS} --out ${SONGS_OUT}\`, in the page cache.
Median of ${r.reps} runs (min-max); every run writes a fresh database (and a flushed Redis). Queue runs: the \`resonode worker\` processes are
started first and every job slot has run a warm-up job (a 1-s tone: its sandboxed child process and the addon are loaded); the wall time runs from the
\`enqueueScan()\` call (which hashes every file) to the last job completed (BullMQ's completed set polled every 10 ms).

${table(['job', 'wall s', 'tracks/min', 'enqueue s', 'queue overhead'], rows)}

- Queue overhead per job = (queue wall - in-process PostgreSQL scan wall at the same parallelism) / jobs x jobs in flight: what each
  job pays for Redis, the sandboxed processor and the per-job database round trips, beside ${f(med('local1Pg') / n * 1000, 0)} ms of analysis per 30-s song.
- The "nothing to do" row is the coordination cost alone: ${int(coordRate)} jobs/min on this machine with everything (Redis, PostgreSQL, producer, 2 workers) on 2 cores.

Projection for N machines like this one (2 cores each, two worker processes, all on one Redis and one PostgreSQL): each job reads its own
file and shares nothing but the two servers, so throughput grows with the worker machines: ${int(machineRate)} 30-s songs a minute per machine
as measured (${f(realtime, 0)} s of audio per second), or ${int(trackRate)} 4-minute tracks a minute when analysis time is scaled by duration
(the queue's cost per job is not). Per \`analyze\` job the servers see a few BullMQ Redis scripts and 4 PostgreSQL round trips (the file's
stored state, the content-hash look-up, one transaction writing the track and its beats, the track read back). The "nothing to do" run
sustained ${int(coordRate)} jobs a minute with the servers, the producer and the workers sharing the same 2 cores: a floor on what the two servers take,
${f(coordRate / machineRate, 0)}x one machine's rate of 30-s songs and ${f(coordRate / trackRate, 0)}x its rate of 4-minute tracks. Up to about that many machines the workers are
the limit; beyond it, the servers need their own machines (not measured here).

${table(['worker machines', '30-s songs/min (measured x N)', '4-min tracks/min (projected)', 'hours for 100,000 4-min tracks'], proj)}
<!-- queue:end -->
`
}

async function main() {
  const api = loadApi()
  const dir = o.songs ?? ensureSongs(SONGS_OUT, log, SONG_COUNT, SONG_SECONDS)
  const files = readdirSync(dir).filter((x) => x.endsWith('.wav')).length
  let audioS = 0
  for (const x of readdirSync(dir).filter((x) => x.endsWith('.wav'))) audioS += (await api.info(join(dir, x))).durationS
  const pgUrl = script('postgres-server.sh', 'start', PG_DIR, String(PG_PORT))
  script('redis-server.sh', 'start', REDIS_DIR, String(REDIS_PORT))
  log(`servers: ${pgUrl}, redis://127.0.0.1:${REDIS_PORT}`)
  const runs = { local1Sqlite: [], local1Pg: [], q1x1: [], local2Sqlite: [], local2Pg: [], q1x2: [], q2x1: [], noop2x1: [] }
  const work = join(ROOT, 'bench/out/queue')
  mkdirSync(work, { recursive: true })
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const c of [1, 2]) {
        const sq = join(work, `local-${c}.db`)
        for (const s of ['', '-wal', '-shm']) rmSync(sq + s, { force: true })
        runs[`local${c}Sqlite`].push(await localScan(api, dir, sq, c, files))
        runs[`local${c}Pg`].push(await localScan(api, dir, freshDb(), c, files))
      }
      for (const [k, workers, concurrency] of [['q1x1', 1, 1], ['q1x2', 1, 2], ['q2x1', 2, 1]]) {
        const db = freshDb()
        runs[k].push(await queueRun(api, dir, { workers, concurrency, db, files }))
        if (k === 'q2x1') runs.noop2x1.push(await queueRun(api, dir, { workers: 2, concurrency: 1, db, files, expectWork: false }))
      }
      log(`rep ${rep + 1}/${reps}: ${Object.entries(runs).map(([k, v]) => `${k} ${f(v[rep].wallS, 2)} s`).join(', ')}`)
    }
  } finally {
    script('redis-server.sh', 'remove', REDIS_DIR)
    script('postgres-server.sh', 'remove', PG_DIR)
  }
  const r = { date: new Date().toISOString(), machine: machine(), files, audioS, reps, runs }
  writeFileSync(join(work, 'results.json'), JSON.stringify(r, null, 2))
  const md = render(r)
  console.log(md)
  if (!o['no-write']) {
    const path = join(ROOT, 'bench/RESULTS.md')
    const cur = readFileSync(path, 'utf8')
    const re = /<!-- queue:begin -->[\s\S]*<!-- queue:end -->\n/
    writeFileSync(path, re.test(cur) ? cur.replace(re, md) : cur.replace('## How to reproduce', `${md}\n## How to reproduce`))
    log('wrote the queue block of bench/RESULTS.md')
  }
}

await main()
