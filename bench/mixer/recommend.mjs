// Recommendation latency on synthetic libraries of 1k / 10k / 100k tracks:
// `crates/library/examples/synth_library.rs` writes each database through
// `SqliteStore::put_track` and times `Library::recommend` in Rust; then a
// fresh node process times `Library.recommend()` on the same file (JS round
// trip included). Used by bench/mixer/run.mjs; alone:
//
//   node bench/mixer/recommend.mjs --bin PATH/synth_library [--sizes 1000,10000,100000] [--calls 300]
//   node bench/mixer/recommend.mjs --node-job DB --tracks N [--calls 300]   # the node side of one database
//
// RESONODE_PKG=/path/to/package picks the built package (default: the repository root).
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median } from '../common.mjs'
import { ROOT, dbBytes, loadApi } from './scan.mjs'
import { measureQuiet } from './quiet.mjs'

export const SIZES = [1000, 10000, 100000]

/** Nearest-rank percentile of sorted values (as the Rust example computes it). */
function pct(sorted, q) {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]
}

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Node side, in this process: a fresh `Library` on `db`, the first call, then `calls` warm calls. */
export async function nodeJob(api, db, tracks, calls) {
  const t0 = performance.now()
  const lib = new api.Library(db)
  const openMs = performance.now() - t0
  const rand = rng(7)
  const pick = () => 1 + Math.floor(rand() * tracks)
  let t = performance.now()
  const first = await lib.recommend({ from: pick(), limit: 10 })
  const firstMs = performance.now() - t
  if (first.length !== Math.min(10, tracks - 1)) throw new Error(`recommend gave ${first.length} tracks`)
  const ms = []
  for (let i = 0; i < calls; i++) {
    const from = pick()
    t = performance.now()
    await lib.recommend({ from, limit: 10 })
    ms.push(performance.now() - t)
  }
  lib.close()
  const s = [...ms].sort((a, b) => a - b)
  return { openMs, firstMs, calls, medianMs: median(s), p95Ms: pct(s, 0.95), maxMs: s[s.length - 1], minMs: s[0] }
}

/** Payload and page use of the tracks table (python3's sqlite3 with dbstat), or null. */
export function pageUse(db) {
  const code = `import sqlite3, json, sys
c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
n = c.execute('select count(*) from tracks').fetchone()[0]
p, u, s = c.execute("select sum(payload), sum(unused), sum(pgsize) from dbstat where name = 'tracks'").fetchone()
print(json.dumps({'rows': n, 'payload': p, 'unused': u, 'pages': s, 'pageSize': c.execute('pragma page_size').fetchone()[0]}))`
  const r = spawnSync('python3', ['-c', code, db], { encoding: 'utf8' })
  return r.status === 0 ? JSON.parse(r.stdout.trim()) : null
}

/**
 * @param {{ bin: string, dbDir: string, sizes?: number[], calls?: number, log?, noWait?: boolean }} ctx
 */
export async function benchRecommend({ bin, dbDir, sizes = SIZES, calls = 300, log = console.error, noWait = false }) {
  mkdirSync(dbDir, { recursive: true })
  const out = []
  for (const n of sizes) {
    const db = join(dbDir, `synth-${n}.db`)
    log(`  synthetic library of ${n} tracks: write + Rust recommend`)
    const r = await measureQuiet(async () => spawnSync(bin, ['--tracks', String(n), '--db', db, '--calls', String(calls), '--force'], { encoding: 'utf8' }), { log, noWait, tries: 3, label: `synth_library ${n}` })
    if (r.out.status !== 0) throw new Error(`${bin} failed: ${r.out.stderr}`)
    const rust = { ...JSON.parse(r.out.stdout.trim().split('\n').pop()), otherCores: r.otherCores, tries: r.tries, disturbed: r.disturbed }
    const size = dbBytes(db)
    log(`  ${n} tracks: node recommend`)
    const args = [fileURLToPath(import.meta.url), '--node-job', db, '--tracks', String(n), '--calls', String(calls)]
    const j = await measureQuiet(async () => spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env }), { log, noWait, tries: 3, label: `node recommend ${n}` })
    if (j.out.status !== 0) throw new Error(`node job failed: ${j.out.stderr}`)
    const node = { ...JSON.parse(j.out.stdout.trim().split('\n').pop()), otherCores: j.otherCores, tries: j.tries, disturbed: j.disturbed }
    out.push({ tracks: n, db, rust, node, size, pages: pageUse(db) })
    log(`    write ${rust.writeS?.toFixed(2)} s; rust first ${rust.firstMs.toFixed(1)} ms, median ${rust.medianMs.toFixed(3)} ms; node first ${node.firstMs.toFixed(1)} ms, median ${node.medianMs.toFixed(3)} ms`)
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: o } = parseArgs({
    options: {
      'node-job': { type: 'string' },
      tracks: { type: 'string' },
      calls: { type: 'string', default: '300' },
      bin: { type: 'string' },
      sizes: { type: 'string' },
    },
  })
  if (o['node-job']) {
    console.log(JSON.stringify(await nodeJob(loadApi(), o['node-job'], Number(o.tracks), Number(o.calls))))
  } else {
    if (!o.bin) throw new Error('--bin PATH (the built synth_library example) is required; bench/mixer/run.mjs builds it')
    const sizes = o.sizes ? o.sizes.split(',').map(Number) : SIZES
    console.log(JSON.stringify(await benchRecommend({ bin: o.bin, dbDir: join(ROOT, 'bench/out/mixer'), sizes, calls: Number(o.calls) })))
  }
}
