#!/usr/bin/env node
// Section h of bench/RESULTS.md: what a user installs and how long the
// first `require('resonode')` takes, beside other native packages in one
// run on one machine.
//
//   node bench/install.mjs [--runs 15] [--no-write]
//
// Sizes: the main package (`npm pack`) and this machine's platform package
// (scripts/pack-platform.mjs), packed and unpacked. Cold require: a fresh
// `node` process per run timing the require itself (the process start-up
// is the same in every row and is left out), median and range of --runs;
// the file cache is warm (each file was read by an unmeasured first run),
// so this is the dynamic linking and initialisation cost, not the disk's.
// Anchors: onnxruntime-node (a dev dependency here: the same ONNX Runtime
// resonode ships, through its own addon) and a pure-JS package (commander).
//
// Start-up (issue 14 target: within 1.2x of bare `node`): whole-process
// wall time of `node -e ''`, `resonode --help`, `resonode process --help`
// and `node -e "require('resonode')"`, a fresh process per run, the four
// interleaved in each of --runs rounds so that a busy moment hits them
// alike, median (min-max). Children run without NODE_EXTRA_CA_CERTS: when
// set, every `node` parses that CA bundle before running any code (35 ms
// here, more than bare node's own start-up), which would shrink the ratios
// for reasons that are not ours; bare node with it is printed for scale.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, statSync, rmSync, mkdirSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { npmPack, packPlatform } from '../scripts/pack-platform.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, 'no-write': { type: 'boolean' } } })
const RUNS = Number(values.runs)

const { NODE_EXTRA_CA_CERTS, ...ENV } = process.env

function stats(v) {
  v.sort((a, b) => a - b)
  return { median: v[v.length >> 1], min: v[0], max: v.at(-1) }
}

function coldRequireMs(spec, extra = '') {
  const code = `const t = process.hrtime.bigint(); const m = require(${JSON.stringify(spec)}); ${extra}; process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6))`
  execFileSync(process.execPath, ['-e', code], { cwd: ROOT, env: ENV }) // warm the file cache
  const v = []
  for (let i = 0; i < RUNS; i++) v.push(Number(execFileSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8', env: ENV })))
  return stats(v)
}

/** Whole-process wall ms of each `node` argument list: one warm-up each, then RUNS interleaved rounds. */
function startupMs(cases, env) {
  const once = (args) => {
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, args, { cwd: ROOT, env, stdio: 'ignore' })
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}`)
    return Number(process.hrtime.bigint() - t) / 1e6
  }
  for (const args of cases) once(args)
  const v = cases.map(() => [])
  for (let i = 0; i < RUNS; i++) cases.forEach((args, j) => v[j].push(once(args)))
  return v.map(stats)
}

const work = mkdtempSync(join(tmpdir(), 'resonode-bench-install-'))
const main = npmPack(ROOT, work)
const platform = packPlatform({ out: work })
const sizes = [
  { pkg: main.name, packed: statSync(main.tarball).size, unpacked: main.unpackedSize, files: main.entryCount },
  { pkg: `resonode-${platform.platform}`, packed: platform.packedBytes, unpacked: platform.unpackedBytes, files: platform.files.length },
]
rmSync(work, { recursive: true, force: true })

const bin = join(ROOT, 'bin', 'resonode.js')
const load = [loadavg()[0]]
const startupCases = [
  ['bare `node -e \'\'` (the anchor)', ['-e', '']],
  ['`resonode --help` (commander, no API, no addon)', [bin, '--help']],
  ['`resonode process --help` (also the processors module and the addon: the help lists the processor kinds)', [bin, 'process', '--help']],
  ['`node -e "require(\'resonode\')"` (the index and the errors: modules and addon load at first use)', ['-e', `require(${JSON.stringify(ROOT)})`]],
]
const startup = startupMs(startupCases.map(([, a]) => a), ENV)
const caBare = NODE_EXTRA_CA_CERTS ? startupMs([['-e', '']], process.env)[0] : null
load.push(loadavg()[0])

const rows = [
  ['`require(\'resonode\')` (the index and the errors; each module loads at the first read of an export)', coldRequireMs(ROOT)],
  ['`require(\'resonode\').processorKinds()` (first native-backed call: the processors module, the loader and the addon)', coldRequireMs(ROOT, 'm.processorKinds()')],
  ['the generated loader and addon alone (`index.js`)', coldRequireMs(join(ROOT, 'index.js'))],
  ['`require(\'onnxruntime-node\')` (anchor: its addon links ONNX Runtime at load)', coldRequireMs('onnxruntime-node')],
  ['`require(\'commander\')` (anchor: pure JS)', coldRequireMs('commander')],
]

const mb = (b) => (b / 1e6).toFixed(2)
const ms = (r) => `${r.median.toFixed(1)} (${r.min.toFixed(1)}-${r.max.toFixed(1)})`
const TARGET = 1.2
const bare = startup[0].median
const startupRows = startupCases.map(([w], i) => {
  const ratio = startup[i].median / bare
  return `| ${w} | ${ms(startup[i])} | ${ratio.toFixed(2)}x | ${i === 0 ? '' : ratio <= TARGET ? 'met' : `not met (+${(startup[i].median - bare).toFixed(1)} ms; ${(bare * TARGET - bare).toFixed(1)} allowed)`} |`
})
const cpu = cpus()[0]?.model ?? 'unknown CPU'
const md = `<!-- install:begin -->
## h. Install: package sizes and cold \`require\`

Written by \`node bench/install.mjs\` on ${new Date().toISOString().slice(0, 10)}; ${cpu}, ${cpus().length} cores, node ${process.version}.

| package | packed MB | unpacked MB | files |
|---|---:|---:|---:|
${sizes.map((s) => `| \`${s.pkg}\` | ${mb(s.packed)} | ${mb(s.unpacked)} | ${s.files} |`).join('\n')}

Target: each platform package under 25 MB packed. ${platform.platform}: ${mb(platform.packedBytes)} MB (the addon and ONNX Runtime ${platform.onnxRuntime?.version ?? '-'}, \`${platform.onnxRuntime?.file ?? 'none'}\`).

Start-up, whole process (issue 14 target: within ${TARGET}x of bare \`node\`): wall ms from spawn to exit, a fresh \`node\` per run, the four commands interleaved, median (min-max) of ${RUNS} rounds, stdout to /dev/null, NODE_EXTRA_CA_CERTS unset${caBare ? ` (bare \`node\` with it, as this machine sets it: ${ms(caBare)} ms)` : ''}; load average ${load.map((l) => l.toFixed(2)).join(' before, ')} after.

Before issue 14's lazy loading (same machine, NODE_EXTRA_CA_CERTS set, medians): bare \`node\` 52 ms, \`resonode --help\` 1.44x, \`require('resonode')\` 1.27x; in-process \`require('resonode')\` 11.5 ms (the whole API and the addon). Without NODE_EXTRA_CA_CERTS, interleaved with the old build: \`--help\` 2.30x, \`process --help\` 2.24x, \`require\` 1.76x of bare \`node\`.

| command | ms | x bare node | ${TARGET}x target |
|---|---:|---:|---|
${startupRows.join('\n')}

Cold \`require\`, ms: a fresh \`node\` per run, the require timed inside it, median (min-max) of ${RUNS} runs, file cache warm.

| what | ms |
|---|---:|
${rows.map(([w, r]) => `| ${w} | ${ms(r)} |`).join('\n')}

Reproduce: \`npm run build && node bench/install.mjs\`.
<!-- install:end -->
`
console.log(md)
// For the Targets table of a full `npm run bench` (bench/run.mjs runs this script).
mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true })
writeFileSync(
  join(ROOT, 'bench', 'out', 'install.json'),
  JSON.stringify({
    startupTargets: [
      ['`resonode --help`', 1],
      ["`require('resonode')`", 3],
    ].map(([what, i]) => {
      const ratio = startup[i].median / bare
      return [`Start-up: ${what} within ${TARGET}x of bare node (whole process, section h)`, `${ratio.toFixed(2)}x`, ratio <= TARGET ? 'met' : '**missed**']
    }),
  }),
)
if (!values['no-write']) {
  const p = join(ROOT, 'bench', 'RESULTS.md')
  const old = readFileSync(p, 'utf8')
  const next = /<!-- install:begin -->[\s\S]*<!-- install:end -->\n/.test(old)
    ? old.replace(/<!-- install:begin -->[\s\S]*<!-- install:end -->\n/, md)
    : old.replace('## How to reproduce', `${md}\n## How to reproduce`)
  writeFileSync(p, next)
}
