#!/usr/bin/env node
// resonode benchmarks, each beside a baseline, in one run on one machine:
//   a. the CLI against sox on a 10-minute WAV, and (a2) every file job
//      (decode, decode + encode, chain) beside ffmpeg and sox in WAV, FLAC,
//      MP3 and Ogg Vorbis,
//   b. an 8th-order Butterworth lowpass: resonode (Rust and JS API) against
//      scipy.signal.sosfilt and pure JS (fili, and a hand-written loop),
//   c. the cost of a ProcessorChain.process() call across the JS boundary,
//   d. real time on PulseAudio: callback load of an 8-processor chain,
//      round-trip latency through the null-sink loopback, and a gain-only
//      duplex job beside audify and naudiodon with the JS thread busy,
//   e. neural inference (bench/ml.mjs): GTCRN speech enhancement against the
//      same model driven frame by frame from JS (onnxruntime-node) and from
//      Python onnxruntime, and full-size HTDemucs against PyTorch.
// Prints the tables and rewrites bench/RESULTS.md. Benchmarks report; the
// tests (npm test) assert.
//
//   npm run bench                  # everything, rewrites bench/RESULTS.md
//   node bench/run.mjs --only filter,boundary   # some sections; RESULTS.md untouched
//   node bench/run.mjs --reps 3    # fewer repetitions (default 5)
//
// Needs the built addon (npm run build), sox, python3 with scipy and numpy,
// and cargo (for the Rust-side timing in bench/rust/). Section d needs
// PulseAudio (pulseaudio pulseaudio-utils, started by
// scripts/start-pulseaudio.sh) and looks for audify and naudiodon in
// $RESONODE_RT_LIBS/node_modules (default /tmp/rtbench); see RESULTS.md.
// Section e needs onnxruntime-node (a dependency), a python with numpy,
// onnxruntime, torch, demucs and soundfile, and a full-size HTDemucs export
// (see the top of bench/ml.mjs).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compilerRunning, run } from './common.mjs'
import { ensureWav, makePlanar, writePlanarF32, SAMPLE_RATE } from './signals.mjs'
import { benchCli, reportCli, CHAIN, SOX_EFFECTS } from './cli.mjs'
import { benchFormats, reportFormats } from './formats.mjs'
import { benchFilter, reportFilter } from './filter.mjs'
import { benchBoundary, reportBoundary } from './boundary.mjs'
import { benchRealtime, reportRealtime } from './realtime.mjs'
import { benchMl, reportMl } from './ml.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'bench/out')
const RUST_TARGET = join(OUT, 'rust-target')
const RUST_BENCH = join(RUST_TARGET, 'release/resonode-bench')
const WAV_SECONDS = 600
const LP_SECONDS = 60
const SECTIONS = ['cli', 'formats', 'filter', 'boundary', 'realtime', 'ml']

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    reps: { type: 'string', default: '5' },
    'no-wait': { type: 'boolean', default: false },
  },
})
const only = opts.only ? opts.only.split(',').map((s) => s.trim()) : SECTIONS
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (know ${SECTIONS.join(', ')})`)
const reps = Math.max(3, Number(opts.reps))
const t00 = Date.now()
const log = (...a) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(4)} s]`, ...a)

function version(cmd, args, re = /(.*)/) {
  try {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    const text = `${r.stdout}\n${r.stderr}`.trim()
    const m = text.match(re)
    return m ? m[1].trim() : text.split('\n')[0]
  } catch {
    return 'not found'
  }
}

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown'
  const mhz = cpuinfo.match(/^cpu MHz\s*:\s*(.*)$/m)?.[1]
  const memKb = Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s*(\d+)/)?.[1])
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    if (dirty) commit += ' (with uncommitted changes)'
  } catch {}
  return {
    cpu: model + (mhz ? ` (${Number(mhz).toFixed(0)} MHz reported)` : ''),
    cores: cpus().length,
    memGb: memKb ? (memKb / 1048576).toFixed(0) : '?',
    os: version('uname', ['-srm']),
    node: process.version,
    sox: version('sox', ['--version'], /SoX v?(\S+)/),
    ffmpeg: version('ffmpeg', ['-version'], /ffmpeg version (\S+)/),
    python: version('python3', ['--version'], /Python (\S+)/),
    scipy: version('python3', ['-c', 'import scipy, numpy; print(scipy.__version__, "/ numpy", numpy.__version__)']),
    rustc: version('rustc', ['--version'], /rustc (\S+)/),
    fili: JSON.parse(readFileSync(join(ROOT, 'node_modules/fili/package.json'), 'utf8')).version,
    tinybench: JSON.parse(readFileSync(join(ROOT, 'node_modules/tinybench/package.json'), 'utf8')).version,
    resonode: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    commit,
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  }
}

async function waitForCompilers() {
  for (let waited = 0; ; waited += 10) {
    const busy = compilerRunning()
    if (!busy) return
    if (opts['no-wait']) throw new Error(`${busy} is running: timings would be noise (run again when it has finished)`)
    if (waited >= 600) throw new Error(`${busy} has been running for 10 minutes; not benchmarking beside it`)
    if (waited % 60 === 0) log(`waiting: ${busy} is running and would disturb the timings`)
    await new Promise((r) => setTimeout(r, 10000))
  }
}

async function main() {
  mkdirSync(OUT, { recursive: true })
  const addon = existsSync(join(ROOT, 'dist/index.js')) && spawnSync('sh', ['-c', `ls ${JSON.stringify(ROOT)}/*.node`]).status === 0
  if (!addon) throw new Error('the addon is not built: run `npm run build` first (needs dist/index.js and resonode.*.node)')
  for (const [cmd, args] of [['sox', ['--version']], ['ffmpeg', ['-version']], ['python3', ['-c', 'import scipy, numpy']]]) {
    if (spawnSync(cmd, args).status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: install sox, ffmpeg, python3, numpy and scipy`)
  }

  // bench/rust serves sections a-d; section e alone does not need it.
  if (only.some((s) => s !== 'ml')) {
    log('building bench/rust (release)')
    run('cargo', ['build', '--release', '--quiet', '--manifest-path', join(ROOT, 'bench/rust/Cargo.toml'), '--target-dir', RUST_TARGET], { stdio: ['ignore', 'inherit', 'inherit'] })
  }

  const input = join(OUT, `in_${WAV_SECONDS / 60}min_v1.wav`)
  if (only.includes('cli') || only.includes('formats')) {
    log(`generating ${input}`)
    if (!ensureWav(input, WAV_SECONDS)) log('  (already there)')
  }
  const lpInput = join(OUT, `lp_in_${LP_SECONDS}s_v1.f32`)
  writePlanarF32(lpInput, makePlanar(2, LP_SECONDS * SAMPLE_RATE, 2))

  await waitForCompilers()
  const require = createRequire(import.meta.url)
  const api = require(join(ROOT, 'dist/index.js'))
  const ctx = { root: ROOT, out: OUT, input, lpInput, reps, rustBench: RUST_BENCH, api, log, waitForCompilers }
  const results = { machine: machine(), date: new Date().toISOString(), reps }

  if (only.includes('cli')) {
    log('a. CLI vs sox')
    results.cli = benchCli(ctx)
  }
  if (only.includes('formats')) {
    await waitForCompilers()
    log('a2. file jobs by format vs ffmpeg and sox')
    results.formats = benchFormats(ctx)
  }
  if (only.includes('filter')) {
    await waitForCompilers()
    log('b. 8th-order lowpass')
    results.filter = await benchFilter(ctx)
  }
  if (only.includes('boundary')) {
    await waitForCompilers()
    log('c. JS boundary')
    results.boundary = await benchBoundary(ctx)
  }
  if (only.includes('realtime')) {
    // Waits for a quiet machine before every measurement by itself.
    log('d. real time (PulseAudio)')
    results.realtime = await benchRealtime(ctx)
  }
  if (only.includes('ml')) {
    await waitForCompilers()
    log('e. neural inference')
    results.ml = await benchMl(ctx)
  }
  results.totalS = (Date.now() - t00) / 1000
  writeFileSync(join(OUT, only.length === SECTIONS.length ? 'results.json' : 'results.partial.json'), JSON.stringify(results, null, 2))

  const resultsPath = join(ROOT, 'bench/RESULTS.md')
  const old = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : ''
  const previous = previousRun(old)
  if (only.length === SECTIONS.length) {
    // Section h (sizes and start-up) rewrites its own block; its start-up
    // ratios join the Targets table.
    await waitForCompilers()
    log('h. install: package sizes and start-up')
    run(process.execPath, [join(ROOT, 'bench/install.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] })
    results.install = JSON.parse(readFileSync(join(OUT, 'install.json'), 'utf8'))
  }
  const md = render(results, previous)
  console.log(md)
  if (only.length === SECTIONS.length) {
    // The run being replaced stays readable in bench/history/, and its
    // target values stand beside the new ones in the Targets table.
    if (previous) {
      const archived = join(ROOT, `bench/history/RESULTS-${previous.date}.md`)
      mkdirSync(dirname(archived), { recursive: true })
      if (!existsSync(archived)) writeFileSync(archived, old)
    }
    const current = readFileSync(resultsPath, 'utf8')
    // Sections f (music analysis, bench/analysis/report.py), g (music
    // library, bench/mixer/run.mjs), h (install, bench/install.mjs), j
    // (scale-out queue, bench/queue/run.mjs), k (plots, bench/plot/run.mjs), l (SAM-Audio,
    // bench/sam_audio/run.mjs) and the decoder fuzzing (scripts/fuzz-decode.sh) are written between markers;
    // a full run here keeps them.
    const kept = (name) => new RegExp(`<!-- ${name}:begin -->[\\s\\S]*<!-- ${name}:end -->\\n`).exec(current)?.[0]
    const block = ['analysis', 'mixer', 'install', 'fuzz', 'queue', 'plot', 'sam']
      .map(kept)
      .filter(Boolean)
      .join('\n')
    // The hand-written account of what moved the numbers stays right after
    // the Targets table until it is rewritten for the next change.
    const changes = kept('changes')
    const withChanges = changes ? md.replace(/\n## (a|b|c|d|e)\. /, (m) => `\n${changes}${m}`) : md
    writeFileSync(resultsPath, block ? withChanges.replace('## How to reproduce', `${block}\n## How to reproduce`) : withChanges)
    log('wrote bench/RESULTS.md')
  } else {
    log('partial run: bench/RESULTS.md left as it was (raw numbers in bench/out/results.partial.json)')
  }
}

/** The date and Targets-table values of the RESULTS.md a full run replaces. */
function previousRun(md) {
  const date = /Written by `npm run bench` \(bench\/run.mjs\) on (\d{4}-\d{2}-\d{2})/.exec(md)?.[1]
  const section = /## Targets\n([\s\S]*?)\n## /.exec(md)?.[1]
  if (!date || !section) return null
  const values = new Map()
  for (const line of section.split('\n')) {
    const cells = line.split(' | ')
    if (line.startsWith('| ') && cells.length >= 3 && !line.startsWith('| target |')) values.set(cells[0].slice(2), cells[1])
  }
  const commit = /\| resonode \| [^,]*, commit (.*) \|/.exec(md)?.[1] ?? 'unknown'
  return { date, commit, values }
}

function render(r, previous) {
  const m = r.machine
  const cli = r.cli && reportCli(r.cli)
  const formats = r.formats && reportFormats(r.formats)
  const filter = r.filter && reportFilter(r.filter)
  const boundary = r.boundary && reportBoundary(r.boundary)
  const realtime = r.realtime && reportRealtime(r.realtime)
  const ml = r.ml && reportMl(r.ml)
  // A ratio within 10 % of its threshold is flagged: run-to-run noise on a
  // shared 2-core machine is of that order.
  const target = (v, min) => (v >= min ? 'met' : '**missed**') + (Math.abs(v / min - 1) < 0.1 ? ' (borderline: within 10 %, may flip between runs)' : '')
  const yes = (ok) => (ok ? 'met' : '**missed**')
  const ratio = (v, min) => `${v.toFixed(Math.abs(v / min - 1) < 0.1 ? 3 : 2)}x`
  const targets = []
  if (cli) targets.push(['CLI chain faster than sox (wall time)', ratio(cli.speed, 1), target(cli.speed, 1)])
  if (formats) targets.push(...formats.targets)
  if (r.install) targets.push(...r.install.startupTargets)
  if (filter) {
    targets.push(['8th-order lowpass, Rust, >= 2x scipy', ratio(filter.vsScipy, 2), target(filter.vsScipy, 2)])
    targets.push(['8th-order lowpass, JS API, >= 2x scipy', ratio(filter.vsScipyJs, 2), target(filter.vsScipyJs, 2)])
    targets.push(['8th-order lowpass, Rust, >= 10x pure JS (fili)', ratio(filter.vsFili, 10), target(filter.vsFili, 10)])
    targets.push(['8th-order lowpass, JS API, >= 10x pure JS (fili)', ratio(filter.vsFiliJs, 10), target(filter.vsFiliJs, 10)])
    targets.push(['8th-order lowpass, JS API, >= 10x pure JS (extra: a hand-written Float64Array loop)', ratio(filter.vsPlain, 10), target(filter.vsPlain, 10)])
    const agree = [r.filter.rust.maxAbsDiff, ...['jsBlocks', 'jsWhole', 'jsWholeDefault', 'jsAsync'].map((k) => r.filter.js[k].maxAbsDiff)]
    targets.push(['resonode agrees with scipy float64 (max abs diff < 1e-3)', Math.max(...agree).toExponential(1), yes(Math.max(...agree) < 1e-3)])
  }
  if (realtime) {
    const s = realtime.summary
    if (Number.isFinite(s.load.pulse256Xruns)) targets.push(['Real time: 8-processor chain, 256 frames, PulseAudio duplex, JS busy: zero xruns', String(s.load.pulse256Xruns), yes(s.load.pulse256Xruns === 0)])
    if (Number.isFinite(s.load.maxPeak)) targets.push(['Real time: 8-processor chain callback load peak < 1 (whole buffer period) at 64/128/256 frames', `${(s.load.maxPeak * 100).toFixed(2)} %`, yes(s.load.maxPeak < 1)])
    const d = s.duplex?.resonodeBusy
    if (d && d.output && d.stats) {
      const xr = d.stats.xruns - d.before.xruns
      const g = d.output.silent ? 'no output' : `${d.output.glitches} glitches`
      targets.push([`Real time: gain-only duplex job, ${d.bufferSize} frames, JS busy: no glitch at the output and zero xruns (resonode)`, `${g}, ${xr} xruns`, yes(d.output.glitches === 0 && xr === 0)])
    }
    // Issue 14, per path to the server: 0 glitches at 256 frames, 0 xruns at 128, JS busy.
    for (const [path, rows] of Object.entries(s.duplex?.byPath ?? {})) {
      const g = rows.busy256
      if (g?.output) targets.push([`Real time: gain-only duplex, \`${path}\`, 256 frames, JS busy: 0 glitches at the output`, g.output.silent ? 'no output' : `${g.output.glitches} glitches`, yes(!g.output.silent && g.output.glitches === 0)])
      const x = rows.busy128
      if (x?.stats) {
        const xr = x.stats.xruns - x.before.xruns
        targets.push([`Real time: gain-only duplex, \`${path}\`, 128 frames, JS busy: 0 xruns`, `${xr} xruns`, yes(xr === 0)])
      }
    }
  }
  if (ml) targets.push(...ml.targets)
  const parts = [
    `# Benchmarks

Written by \`npm run bench\` (bench/run.mjs) on ${r.date.slice(0, 10)}; every number below
comes from that one run, all implementations on the same input on the same
machine. Do not edit by hand: rerun the benchmarks. Total run time ${(r.totalS / 60).toFixed(1)} min.

| machine | |
|---|---|
| CPU | ${m.cpu} |
| cores | ${m.cores} |
| memory | ${m.memGb} GiB |
| OS | ${m.os} |
| node | ${m.node} |
| sox | ${m.sox} |
| ffmpeg | ${m.ffmpeg} |
| python | ${m.python} |
| scipy | ${m.scipy} |
| rustc | ${m.rustc} |
| fili / tinybench | ${m.fili} / ${m.tinybench} |
| resonode | ${m.resonode}, commit ${m.commit} |
| load average when the timings began (1/5/15 min) | ${m.load} |

## Targets
${previous ? `\nThe last column is the run this one replaced (${previous.date}, commit ${previous.commit}; the whole report is kept in \`bench/history/RESULTS-${previous.date}.md\`).\n` : ''}
| target | measured | |${previous ? ` previous run (${previous.date}) |` : ''}
|---|---:|---|${previous ? '---:|' : ''}
${targets.map((t) => `| ${[...t, ...(previous ? [previous.values.get(t[0]) ?? 'new'] : [])].join(' | ')} |`).join('\n')}
`,
  ]
  if (cli) parts.push(`## a. CLI: \`resonode process\` vs sox\n\n${cli.md}`)
  if (formats) parts.push(`## a2. File jobs by format: resonode vs ffmpeg and sox\n\n${formats.md}`)
  if (filter) parts.push(`## b. 8th-order Butterworth lowpass in memory\n\n${filter.md}`)
  if (boundary) parts.push(`## c. Cost of a \`ProcessorChain.process()\` call across the JS boundary\n\n${boundary.md}`)
  if (realtime) parts.push(`## d. Real time on PulseAudio\n\n${realtime.md}`)
  if (ml) parts.push(`## e. Neural inference\n\n${ml.md}`)
  parts.push(`## How to reproduce

\`\`\`sh
npm install && npm run build     # the addon and dist/ (release build); fili and tinybench are devDependencies
apt-get install sox              # SoX ${m.sox}
pip install numpy scipy          # for the scipy baseline
npm run bench                    # about ${Math.max(1, Math.round(r.totalS / 60))} min (the first run also builds bench/rust and writes a 110 MB WAV); rewrites bench/RESULTS.md
node bench/run.mjs --only filter,boundary --reps 3   # a quick partial run
node bench/run.mjs --only realtime                   # section d alone (about 5 min)
node bench/run.mjs --only ml                         # section e alone (GTCRN and HTDemucs; see bench/ml.mjs)
node bench/queue/run.mjs                             # section j alone (PostgreSQL + Redis started by it; apt-get install postgresql redis-server)
\`\`\`

Section d also needs:

\`\`\`sh
apt-get install pulseaudio pulseaudio-utils alsa-utils libasound2-plugins   # started by scripts/start-pulseaudio.sh
apt-get install libasound2-dev libpulse-dev cmake                           # to compile audify's RtAudio with its PulseAudio API
mkdir -p /tmp/rtbench && cd /tmp/rtbench && npm init -y && npm install --no-save audify naudiodon
# elsewhere: RESONODE_RT_LIBS=/that/dir npm run bench ; the resonode-device examples are built
# into bench/out/device-target (or $RESONODE_DEVICE_TARGET_DIR)
\`\`\`

- Inputs are generated deterministically (tones + xorshift32 noise, fixed
  seeds) into \`bench/out/\` (git-ignored): the ${WAV_SECONDS / 60}-minute WAV is kept between
  runs, the 60 s float32 signal is rewritten every run.
- The Rust-side timing is \`bench/rust/\`, a standalone Cargo project (its own
  \`[workspace]\`) with path dependencies on \`crates/core\` and \`crates/dsp\`,
  built with the root's release profile (LTO, one codegen unit) into
  \`bench/out/rust-target/\`.
- Exact commands: \`node bin/resonode.js process IN OUT --chain "${CHAIN}" --json\`
  and \`sox -D IN OUT ${SOX_EFFECTS.join(' ')}\`; scipy via \`bench/scipy_lowpass.py\`.
- Do not benchmark while something else compiles or runs: run.mjs waits while
  \`rustc\` or \`cargo\` is running. With ${m.cores} cores, expect a few percent of
  run-to-run noise; raw numbers of the last run are in \`bench/out/results.json\`.
`)
  return parts.join('\n')
}

main().catch((e) => {
  console.error(e.stack || String(e))
  process.exit(1)
})
