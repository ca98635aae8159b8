// Scan throughput: `Library.scan()` into a fresh database beside the
// analyzer alone (`analyze()`) on the same files, at concurrency 1 and 2,
// a re-scan of the unchanged folder, and librosa as an anchor
// (bench/mixer/librosa_files.py). Used by bench/mixer/run.mjs; alone:
//
//   node bench/mixer/scan.mjs [--songs DIR] [--reps 5] [--no-librosa]   # prints JSON
//
// RESONODE_PKG=/path/to/package picks the built package to import
// (default: the repository root; its dist/index.js and the .node beside it).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from '../common.mjs'
import { measureQuiet } from './quiet.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
export const ROOT = resolve(HERE, '../..')
export const DEFAULT_SONGS = '/tmp/benchsongs'
export const SONG_COUNT = 24
export const SONG_SECONDS = 30

export function loadApi(pkg = process.env.RESONODE_PKG || ROOT) {
  const require = createRequire(import.meta.url)
  return require(join(resolve(pkg), 'dist/index.js'))
}

/** Renders the input songs with the repo's generator when they are missing; returns the WAV folder. */
export function ensureSongs(out = DEFAULT_SONGS, log = console.error, count = SONG_COUNT, seconds = SONG_SECONDS) {
  const dir = join(out, 'midi-synth')
  const have = existsSync(dir) ? readdirSync(dir).filter((f) => /^song-\d+\.wav$/.test(f)).length : 0
  if (have < count) {
    log(`rendering ${count} songs x ${seconds} s into ${dir}`)
    const r = spawnSync('node', [join(ROOT, 'scripts/make-groundtruth.mjs'), '--subset', 'synth', '--count', String(count), '--seconds', String(seconds), '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) throw new Error('scripts/make-groundtruth.mjs failed (needs fluidsynth, fluid-soundfont-gm and sox)')
  }
  return dir
}

export function dbFiles(path) {
  return ['', '-wal', '-shm'].map((s) => path + s)
}

export function removeDb(path) {
  for (const f of dbFiles(path)) rmSync(f, { force: true })
}

/** Bytes of the database file and its WAL (0 when absent). */
export function dbBytes(path) {
  const [main, wal] = dbFiles(path).map((f) => (existsSync(f) ? statSync(f).size : 0))
  return { main, wal }
}

async function pool(items, n, fn) {
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

/**
 * @param {{ api, songsDir: string, workDir: string, reps: number, librosa?: boolean, log?, noWait?: boolean }} ctx
 */
export async function benchScan({ api, songsDir, workDir, reps, librosa = true, log = console.error, noWait = false }) {
  mkdirSync(workDir, { recursive: true })
  const files = readdirSync(songsDir).filter((f) => f.endsWith('.wav')).sort().map((f) => join(songsDir, f))
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0)
  // Unmeasured pass: loads the addon, puts the files in the page cache, gives the durations.
  let audioS = 0
  let beats = 0
  for (const f of files) {
    const a = await api.analyze(f)
    audioS += a.durationS
    beats += a.beats.length
  }
  const emptyDb = join(workDir, 'empty.db')
  removeDb(emptyDb)
  new api.Library(emptyDb).close()
  const emptyDbBytes = dbBytes(emptyDb).main

  const runs = { scan2: [], scan1: [], rescan2: [], analyzeSeq: [], analyzePool2: [] }
  let realDb = null
  const q = (label) => ({ log, noWait, label })
  const keep = (m) => ({ wallS: m.wallS, cpuS: m.selfCpuS, otherCores: m.otherCores, tries: m.tries, disturbed: m.disturbed, rustS: m.out?.durationS })
  const scanInto = async (rep, concurrency, label) => {
    const db = join(workDir, `scan-c${concurrency}-${rep}.db`)
    let lib = null
    const setup = async () => {
      lib?.close()
      removeDb(db)
      lib = new api.Library(db)
    }
    const m = await measureQuiet(() => lib.scan(songsDir, { concurrency }), { ...q(label), setup })
    check(m.out, files.length, 'added')
    return { db, lib, m }
  }
  const jobs = {
    scan2: async (rep) => {
      const { db, lib, m } = await scanInto(rep, 2, `scan2 rep ${rep + 1}`)
      const re = await measureQuiet(() => lib.scan(songsDir, { concurrency: 2 }), q(`rescan2 rep ${rep + 1}`))
      check(re.out, files.length, 'unchanged')
      lib.close()
      if (rep === 0) realDb = { path: db, tracks: files.length, ...dbBytes(db) }
      else removeDb(db)
      runs.rescan2.push(keep(re))
      return keep(m)
    },
    scan1: async (rep) => {
      const { db, lib, m } = await scanInto(rep, 1, `scan1 rep ${rep + 1}`)
      lib.close()
      removeDb(db)
      return keep(m)
    },
    analyzeSeq: async (rep) =>
      keep(
        await measureQuiet(async () => {
          for (const f of files) await api.analyze(f)
        }, q(`analyzeSeq rep ${rep + 1}`)),
      ),
    analyzePool2: async (rep) => keep(await measureQuiet(() => pool(files, 2, (f) => api.analyze(f)), q(`analyzePool2 rep ${rep + 1}`))),
  }
  const order = ['scan2', 'analyzePool2', 'scan1', 'analyzeSeq']
  for (let rep = 0; rep < reps; rep++) {
    // Rotate the order so no job always runs first or after the same one.
    for (let k = 0; k < order.length; k++) {
      const name = order[(k + rep) % order.length]
      const r = await jobs[name](rep)
      runs[name].push(r)
      log(`  scan rep ${rep + 1}/${reps} ${name}: ${r.wallS.toFixed(3)} s wall, ${(r.cpuS / r.wallS).toFixed(2)} cores busy, others ${r.otherCores.toFixed(2)} cores`)
    }
  }
  const med = (name) => {
    const xs = runs[name]
    return {
      wallS: median(xs.map((r) => r.wallS)),
      minS: Math.min(...xs.map((r) => r.wallS)),
      maxS: Math.max(...xs.map((r) => r.wallS)),
      cpuS: median(xs.map((r) => r.cpuS)),
      rustS: xs[0].rustS === undefined ? null : median(xs.map((r) => r.rustS)),
    }
  }
  const result = {
    songsDir,
    files: files.length,
    bytes,
    audioS,
    beatsPerTrack: beats / files.length,
    reps,
    emptyDbBytes,
    realDb,
    runs,
    median: Object.fromEntries(Object.keys(runs).map((k) => [k, med(k)])),
  }
  if (librosa) {
    // Twice: BLAS (OpenBLAS) at its default threads, and one thread per
    // process (what a pool of 2 processes needs on 2 cores).
    result.librosa = {}
    for (const [name, env] of [['default', {}], ['blas1', { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' }]]) {
      log(`  librosa over the same files (one process, then a pool of 2; BLAS threads ${name === 'default' ? 'default' : '1'})`)
      const args = [join(HERE, 'librosa_files.py'), '--reps', String(Math.min(reps, 3)), ...files]
      const m = await measureQuiet(async () => spawnSync('python3', args, { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, ...env } }), { ...q(`librosa ${name}`), tries: 3 })
      const py = m.out
      if (py.status === 0) result.librosa[name] = { ...JSON.parse(py.stdout.trim().split('\n').pop()), otherCores: m.otherCores, tries: m.tries, disturbed: m.disturbed }
      else {
        result.librosa = { error: (py.stderr || String(py.error)).trim().split('\n').slice(-3).join(' ') }
        break
      }
    }
  }
  return result
}

function check(summary, files, field) {
  if (summary.files !== files || summary[field] !== files || summary.failed !== 0) {
    throw new Error(`unexpected scan summary (expected ${files} ${field}): ${JSON.stringify({ ...summary, failures: summary.failures.slice(0, 3) })}`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: o } = parseArgs({ options: { songs: { type: 'string' }, reps: { type: 'string', default: '5' }, 'no-librosa': { type: 'boolean', default: false } } })
  const songsDir = o.songs ?? ensureSongs()
  const r = await benchScan({ api: loadApi(), songsDir, workDir: join(ROOT, 'bench/out/mixer'), reps: Number(o.reps), librosa: !o['no-librosa'] })
  console.log(JSON.stringify(r))
}
