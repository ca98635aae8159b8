// Section g of bench/RESULTS.md: the music library (resonode-library,
// `Library`, `resonode library`):
//   1. scan throughput, `Library.scan()` beside the analyzer alone
//      (`analyze()`) on the same files, and librosa (bench/mixer/scan.mjs),
//   2. recommendation latency on synthetic libraries of 1k / 10k / 100k
//      tracks, from Rust and from Node (bench/mixer/recommend.mjs and
//      crates/library/examples/synth_library.rs),
//   3. database size per track, and the time to write the synthetic tracks.
// Rewrites the block between <!-- mixer:begin --> and <!-- mixer:end -->
// in bench/RESULTS.md (bench/run.mjs keeps it on a full run).
//
//   node bench/mixer/run.mjs                  # everything (about 2 min), rewrites the block
//   node bench/mixer/run.mjs --reps 3 --sizes 1000,10000 --no-write   # quicker, RESULTS.md untouched
//
// Options: --reps N (scan repetitions, default 5), --calls N (warm
// recommend calls, default 300), --sizes (default 1000,10000,100000),
// --songs DIR (default: render 24 x 30 s songs into /tmp/benchsongs),
// --no-librosa, --no-write, --no-wait (fail instead of waiting while
// rustc / cargo run), --bin PATH (a built synth_library example; otherwise
// built here with cargo --release).
// Environment: RESONODE_PKG (built package to import: dist/index.js and the
// .node beside it; default the repository root), RESONODE_SRC (workspace
// to build the example from; default the repository root),
// CARGO_TARGET_DIR (default bench/out/mixer-target), RESONODE_COMMIT (the
// commit the package and workspace were built from, for the record;
// default the repository's HEAD).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { table } from '../common.mjs'
import { MAX_OTHER_CORES, waitQuiet } from './quiet.mjs'
import { DEFAULT_SONGS, ROOT, SONG_COUNT, SONG_SECONDS, benchScan, ensureSongs, loadApi } from './scan.mjs'
import { SIZES, benchRecommend, pageUse } from './recommend.mjs'

const { values: o } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    calls: { type: 'string', default: '300' },
    sizes: { type: 'string' },
    songs: { type: 'string' },
    bin: { type: 'string' },
    'no-librosa': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'no-wait': { type: 'boolean', default: false },
  },
})
const PKG = resolve(process.env.RESONODE_PKG || ROOT)
const SRC = resolve(process.env.RESONODE_SRC || ROOT)
const TARGET = resolve(process.env.CARGO_TARGET_DIR || join(ROOT, 'bench/out/mixer-target'))
const OUT = join(ROOT, 'bench/out/mixer')
const RESULTS = join(ROOT, 'bench/RESULTS.md')
const reps = Math.max(1, Number(o.reps))
const calls = Math.max(200, Number(o.calls))
const sizes = o.sizes ? o.sizes.split(',').map(Number) : SIZES
const t00 = Date.now()
const log = (...a) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(4)} s]`, ...a)

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

function machine() {
  const model = sh('lscpu', []).match(/^Model name:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown'
  let commit = process.env.RESONODE_COMMIT
  if (!commit) {
    commit = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown'
    // Changes under bench/ do not touch what is measured.
    if (sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench'])) commit += ' (with uncommitted changes outside bench/)'
  }
  const addon = sh('sh', ['-c', `ls ${JSON.stringify(PKG)}/*.node | head -1`])
  return {
    cpu: model,
    cores: cpus().length,
    memGb: (Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s*(\d+)/)?.[1]) / 1048576).toFixed(0),
    os: sh('uname', ['-srm']),
    node: process.version,
    rustc: sh('rustc', ['--version']).split(' ')[1] ?? '?',
    commit,
    pkg: PKG,
    addonBuilt: addon ? statSync(addon).mtime.toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '?',
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  }
}

function buildExample() {
  if (o.bin) return resolve(o.bin)
  log(`building the synth_library example (release) from ${SRC} into ${TARGET}`)
  const r = spawnSync('cargo', ['build', '--release', '--quiet', '-p', 'resonode-library', '--example', 'synth_library', '--manifest-path', join(SRC, 'Cargo.toml'), '--target-dir', TARGET], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) throw new Error('cargo build of the synth_library example failed')
  return join(TARGET, 'release/examples/synth_library')
}

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a')

function render(r) {
  const m = r.machine
  const s = r.scan
  const md = s.median
  const n = s.files
  const row = (label, wallS, extra = {}) => [
    label,
    extra.range ?? f(wallS, 3),
    int((n / wallS) * 60),
    f(s.audioS / wallS, 0),
    extra.cores ?? '',
    extra.ratio ?? '',
  ]
  const range = (k) => `${f(md[k].wallS, 3)} (${f(md[k].minS, 3)}-${f(md[k].maxS, 3)})`
  const cores = (k) => f(md[k].cpuS / md[k].wallS, 2)
  const scanRows = [
    row('`Library.scan(dir, { concurrency: 2 })`, fresh database', md.scan2.wallS, { range: range('scan2'), cores: cores('scan2'), ratio: `${f(md.analyzePool2.wallS / md.scan2.wallS)} (vs two at a time)` }),
    row('`analyze(path)`, two at a time (Promise pool of 2)', md.analyzePool2.wallS, { range: range('analyzePool2'), cores: cores('analyzePool2'), ratio: '1 (anchor)' }),
    row('`Library.scan(dir, { concurrency: 1 })`, fresh database', md.scan1.wallS, { range: range('scan1'), cores: cores('scan1'), ratio: `${f(md.analyzeSeq.wallS / md.scan1.wallS)} (vs one after another)` }),
    row('`analyze(path)`, one after another', md.analyzeSeq.wallS, { range: range('analyzeSeq'), cores: cores('analyzeSeq'), ratio: '1 (anchor)' }),
  ]
  const lr = s.librosa
  if (lr && !lr.error) {
    scanRows.push(row('librosa + pyloudnorm, one process', lr.default.seqS, { ratio: `${f(md.analyzeSeq.wallS / lr.default.seqS, 3)} (vs one after another)` }))
    scanRows.push(row('librosa + pyloudnorm, 2 processes (`multiprocessing.Pool(2)`), one BLAS thread each', lr.blas1.pool2S, { ratio: `${f(md.analyzePool2.wallS / lr.blas1.pool2S, 3)} (vs two at a time)` }))
  }
  const rescan = md.rescan2
  const rec = r.recommend
  const at = (t) => rec.find((x) => x.tracks === t)
  const big = at(Math.max(...rec.map((x) => x.tracks)))
  const realDb = s.realDb
  const sizeRows = rec.map((x) => [
    `synthetic, ${int(x.tracks)} tracks`,
    f(x.rust.writeS, 2),
    int(x.tracks / x.rust.writeS),
    f(x.rust.dbBytes / 1048576, 1),
    int(x.rust.dbBytes / x.tracks),
    int((x.rust.dbBytes - x.rust.emptyDbBytes) / x.tracks),
    x.pages ? `${int(x.pages.payload / x.pages.rows)} / ${int(x.pages.pages / x.pages.rows)}` : 'n/a',
  ])
  if (realDb) {
    sizeRows.push([
      `scanned songs above, ${realDb.tracks} tracks`,
      'n/a (in the scan)',
      'n/a',
      f(realDb.main / 1048576, 2),
      int(realDb.main / realDb.tracks),
      int((realDb.main - s.emptyDbBytes) / realDb.tracks),
      realDb.pages ? `${int(realDb.pages.payload / realDb.pages.rows)} / ${int(realDb.pages.pages / realDb.pages.rows)}` : 'n/a',
    ])
  }
  const latRows = rec.map((x) => [
    int(x.tracks),
    f(x.rust.firstMs, 1),
    f(x.rust.medianMs, 3),
    f(x.rust.p95Ms, 3),
    f(x.rust.maxMs, 3),
    f(x.node.firstMs, 1),
    f(x.node.medianMs, 3),
    f(x.node.p95Ms, 3),
    f(x.node.maxMs, 3),
  ])
  const met = (v) => (v < 20 ? 'met' : '**missed**')
  const all = [...Object.values(s.runs).flat(), ...(lr && !lr.error ? [lr.default, lr.blas1] : []), ...rec.flatMap((x) => [x.rust, x.node])]
  const q = {
    retried: all.filter((x) => (x.tries ?? 1) > 1).length,
    disturbed: all.filter((x) => x.disturbed).length,
    maxOther: Math.max(...all.map((x) => x.otherCores ?? 0)),
  }
  const wal = [...rec.map((x) => x.rust.walBytes), realDb?.wal ?? 0].some((b) => b > 0) ? ' (a WAL file was left beside a database: its bytes are not counted)' : ''
  const lines = []
  lines.push(`<!-- mixer:begin -->
## g. Music library: scan, recommendations, database size

Written by \`node bench/mixer/run.mjs\` on ${r.date.slice(0, 10)}, separately from the sections above;
one run, one machine: ${m.cpu}, ${m.cores} cores, ${m.memGb} GiB, ${m.os}, node ${m.node}, rustc ${m.rustc}.
resonode commit ${m.commit}; addon and dist/ imported from \`${m.pkg === ROOT ? '.' : m.pkg}\`${m.pkg === ROOT ? '' : " (a copy of the repository's build)"}, addon built ${m.addonBuilt}.
Load average at the start ${m.load}. Every measurement starts only when no rustc / cargo runs and the machine has been idle
for 1 s, and is taken again (up to 5 times; 3 for the librosa and synthetic-library runs) when other processes used more than
${MAX_OTHER_CORES} cores while it ran (the machine's CPU time in /proc/stat minus this process's and its children's): ${q.retried} measurement${q.retried === 1 ? ' was' : 's were'} repeated,
${q.disturbed ? `**${q.disturbed} stayed disturbed** (kept anyway)` : 'none stayed disturbed'}; the most other load in a kept measurement was ${f(q.maxOther, 2)} cores. Total run time ${f(r.totalS / 60, 1)} min.

### g1. Scan throughput

Input: ${n} songs x ${SONG_SECONDS} s (${f(s.audioS, 0)} s of audio, ${f(s.bytes / 1048576, 0)} MB of stereo 44.1 kHz 16-bit WAV) rendered by
\`node scripts/make-groundtruth.mjs --subset synth --count ${SONG_COUNT} --seconds ${SONG_SECONDS} --out ${DEFAULT_SONGS}\`,
read from the page cache (one unmeasured \`analyze()\` pass first). Wall time around the awaited call, median
of ${s.reps} repetitions (min-max in brackets), the four resonode jobs interleaved in rotating order; every scan
writes a fresh database (WAL, one commit per file). "Cores busy" is the node process's CPU time (all
threads) / wall time. The last column is throughput against the analyzer alone at the same parallelism (1 = as fast).

${table(['job', 'wall s', 'tracks/min', 'audio s per wall s', 'cores busy', 'throughput vs analyzer alone'], scanRows)}

- Scan at concurrency 2: **${int((n / md.scan2.wallS) * 60)} tracks/min** (${f(s.audioS / md.scan2.wallS, 0)} s of audio per second), ${f(md.analyzePool2.wallS / md.scan2.wallS, 3)}x the throughput of \`analyze()\` two at a time;
  concurrency 1: ${int((n / md.scan1.wallS) * 60)} tracks/min, ${f(md.analyzeSeq.wallS / md.scan1.wallS, 3)}x \`analyze()\` one after another. Concurrency 2 vs 1: ${f(md.scan1.wallS / md.scan2.wallS)}x
  (one \`analyze()\` already keeps ${cores('analyzeSeq')} cores busy: it decodes with loudness, measures true peak and computes features on three threads).
- Re-scan of the unchanged folder: **${f(rescan.wallS * 1000, 1)} ms** (median; ${f(rescan.minS * 1000, 1)}-${f(rescan.maxS * 1000, 1)} ms) for ${n} files, all \`unchanged\` (size, mtime and analyzer version match: no file's content is read).
- Rust-side \`summary.durationS\` of the scans (median): ${f(md.scan2.rustS, 3)} s at concurrency 2, ${f(md.scan1.rustS, 3)} s at 1, ${f(rescan.rustS * 1000, 1)} ms for the re-scan.`)
  if (lr && !lr.error) {
    const d = lr.default
    lines.push(`- librosa anchor: \`bench/mixer/librosa_files.py\` runs the librosa job of \`bench/analysis/speed.py\` (librosa ${d.librosa} + pyloudnorm: load at 22.05 kHz,
  one STFT for all features, MFCC, chroma, onset strength, \`beat_track\`, a key by Krumhansl-Schmuckler, integrated loudness) with its frame CSV turned off, timed after
  the imports (${f(d.importS, 2)} s) and one warm-up file per process (numba compilation, ${f(d.warmupFileS, 2)} s), median of ${d.reps}; it stores nothing.
  With OpenBLAS at its default threads the pool of 2 takes ${f(d.pool2S, 2)} s (the processes' BLAS threads compete for the 2 cores); with one BLAS
  thread one process takes ${f(lr.blas1.seqS, 2)} s. Best of each against resonode: the scan at concurrency 2 is **${f(Math.min(d.pool2S, lr.blas1.pool2S) / md.scan2.wallS, 1)}x** faster than
  librosa in 2 processes; at concurrency 1, ${f(Math.min(d.seqS, lr.blas1.seqS) / md.scan1.wallS, 1)}x faster than librosa in one process.`)
  } else if (lr?.error) {
    lines.push(`- librosa anchor not run: ${lr.error}`)
  } else {
    lines.push('- librosa anchor not run (`--no-librosa`).')
  }
  lines.push(`
### g2. Recommendation latency

Synthetic libraries written by \`crates/library/examples/synth_library.rs\` through \`SqliteStore::put_track\` (the public
store API: one transaction per track, as a scan commits): tempo uniform 70-180 BPM, key and mode uniform,
loudness N(-11, 3) LUFS, RMS energy from it, 400 beats (100 downbeats) per track, a 44-value summary drawn from
the ranges real tracks show, a 64-hex content hash and a ~60-character path. \`Library::recommend\` with
\`RecommendFrom::Track\` of a random track, limit 10, default options: the first call on a freshly opened
library loads the index (every analysed track's columns) and is shown on its own; then ${calls} warm calls from
random tracks, each timed. Node: a fresh \`node\` process on the same file, \`await library.recommend({ from: id, limit: 10 })\`
(worker thread and JS conversion included), the same counts. p95 is nearest-rank.

${table(['tracks', 'Rust first call ms', 'Rust median ms', 'Rust p95 ms', 'Rust max ms', 'Node first call ms', 'Node median ms', 'Node p95 ms', 'Node max ms'], latRows)}

- Target: under 20 ms at ${int(big.tracks)} tracks. Warm p95 **${f(big.rust.p95Ms, 2)} ms** from Rust (${met(big.rust.p95Ms)}), **${f(big.node.p95Ms, 2)} ms** from Node (${met(big.node.p95Ms)});
  the first call after opening (index load) takes ${f(big.rust.firstMs, 0)} ms (Rust) / ${f(big.node.firstMs, 0)} ms (Node) and happens again only after the tracks change
  (\`library.warm()\` does it ahead of time).
- Every call scores the whole library: Rust median ${rec.map((x) => `${x.rust.medianMs < 1 ? `${f(x.rust.medianMs * 1000, 0)} us` : `${f(x.rust.medianMs, 2)} ms`} at ${int(x.tracks)}`).join(', ')} tracks, about ${f((big.rust.medianMs * 1e6) / big.tracks, 0)} ns per track at ${int(big.tracks)}.

### g3. Database size and write rate

File size after the last connection closed (SQLite then checkpoints the WAL into the file)${wal}; "minus empty" subtracts a
library with the schema only (${int(rec[0]?.rust.emptyDbBytes ?? s.emptyDbBytes)} bytes). Write rate: the synthetic tracks through \`put_track\`, one
committed transaction each (WAL, \`synchronous = NORMAL\`). Last column from SQLite's \`dbstat\`: bytes of row data
per track in the \`tracks\` table / bytes of pages it occupies per track.

${table(['database', 'write s', 'tracks/s', 'file MB', 'bytes/track', 'bytes/track minus empty', 'tracks table: row / page bytes per track'], sizeRows)}

${big.pages ? `- A synthetic track's \`tracks\` row holds ${int(big.pages.payload / big.pages.rows)} bytes (summary 176 as float32, path, hash, scalars;
  its 400 beats and 100 downbeats, 2,000 bytes as float32, are in \`track_beats\`); with ${int(big.pages.pageSize)}-byte pages the table takes
  ${int(big.pages.pages / big.pages.rows)} bytes per track (${f((100 * big.pages.unused) / big.pages.pages, 0)} % of it unused), which is what the recommendation index reads. ` : ''}The scanned songs are ${SONG_SECONDS} s long (about ${f(s.beatsPerTrack, 0)} beats each), so their rows are
  small and the fixed schema pages dominate their per-track size.

Reproduce:

\`\`\`sh
npm run build                     # the addon and dist/
node bench/mixer/run.mjs          # renders the songs if missing, builds the example, runs g1-g3, rewrites this block
# pieces:
node scripts/make-groundtruth.mjs --subset synth --count ${SONG_COUNT} --seconds ${SONG_SECONDS} --out ${DEFAULT_SONGS}
node bench/mixer/scan.mjs --songs ${DEFAULT_SONGS}/midi-synth --reps ${s.reps}       # g1 (JSON)
cargo run --release -p resonode-library --example synth_library -- --tracks 100000 --db /tmp/synth-100k.db --calls ${calls}
node bench/mixer/recommend.mjs --node-job /tmp/synth-100k.db --tracks 100000 --calls ${calls}
\`\`\`

Environment: \`RESONODE_PKG\` (package to import, default the repository root), \`RESONODE_SRC\` (workspace to build the example
from), \`CARGO_TARGET_DIR\` (default \`bench/out/mixer-target\`), \`RESONODE_COMMIT\` (commit they were built from, for this record). Raw numbers: \`bench/out/mixer/results.json\`.
<!-- mixer:end -->
`)
  return lines.join('\n')
}

function writeResults(block) {
  let md = readFileSync(RESULTS, 'utf8')
  const re = /<!-- mixer:begin -->[\s\S]*<!-- mixer:end -->\n/
  if (re.test(md)) md = md.replace(re, block)
  else if (md.includes('<!-- analysis:end -->\n')) md = md.replace(/<!-- analysis:end -->\n\n?/, `<!-- analysis:end -->\n\n${block}\n`)
  else md = md.replace('## How to reproduce', `${block}\n## How to reproduce`)
  // One line in "How to reproduce" (bench/run.mjs writes that section; its first code block).
  const line = 'node bench/mixer/run.mjs                             # section g alone (music library; about 2 min), rewrites its block'
  const how = md.indexOf('## How to reproduce')
  if (how >= 0 && !md.slice(how).includes('node bench/mixer/run.mjs ')) {
    const end = md.indexOf('\n```\n', md.indexOf('```sh', how))
    if (end > 0) md = `${md.slice(0, end)}\n${line}${md.slice(end)}`
  }
  writeFileSync(RESULTS, md)
}

async function main() {
  mkdirSync(OUT, { recursive: true })
  if (!existsSync(join(PKG, 'dist/index.js'))) throw new Error(`no built package at ${PKG} (dist/index.js): run npm run build, or set RESONODE_PKG`)
  const api = loadApi(PKG)
  const songsDir = o.songs ? resolve(o.songs) : ensureSongs(DEFAULT_SONGS, log)
  const bin = buildExample()
  const waitedS = await waitQuiet({ log, noWait: o['no-wait'] })
  const results = { machine: machine(), date: new Date().toISOString(), waitedS }
  log('g1. scan throughput')
  results.scan = await benchScan({ api, songsDir, workDir: OUT, reps, librosa: !o['no-librosa'], log, noWait: o['no-wait'] })
  if (results.scan.realDb) results.scan.realDb.pages = pageUse(results.scan.realDb.path)
  log('g2/g3. synthetic libraries: write, recommend, size')
  results.recommend = await benchRecommend({ bin, dbDir: OUT, sizes, calls, log, noWait: o['no-wait'] })
  results.totalS = (Date.now() - t00) / 1000
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2))
  const block = render(results)
  console.log(block)
  if (o['no-write']) log('--no-write: bench/RESULTS.md left as it was')
  else {
    writeResults(block)
    log('wrote the mixer block of bench/RESULTS.md')
  }
}

main().catch((e) => {
  console.error(e.stack || String(e))
  process.exit(1)
})
