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
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, statSync, rmSync, mkdirSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { npmPack, packPlatform } from '../scripts/pack-platform.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, 'no-write': { type: 'boolean' } } })
const RUNS = Number(values.runs)

function coldRequireMs(spec, extra = '') {
  const code = `const t = process.hrtime.bigint(); const m = require(${JSON.stringify(spec)}); ${extra}; process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6))`
  execFileSync(process.execPath, ['-e', code], { cwd: ROOT }) // warm the file cache
  const v = []
  for (let i = 0; i < RUNS; i++) v.push(Number(execFileSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8' })))
  v.sort((a, b) => a - b)
  return { median: v[v.length >> 1], min: v[0], max: v.at(-1) }
}

const work = mkdtempSync(join(tmpdir(), 'resonode-bench-install-'))
const main = npmPack(ROOT, work)
const platform = packPlatform({ out: work })
const sizes = [
  { pkg: main.name, packed: statSync(main.tarball).size, unpacked: main.unpackedSize, files: main.entryCount },
  { pkg: `resonode-${platform.platform}`, packed: platform.packedBytes, unpacked: platform.unpackedBytes, files: platform.files.length },
]
rmSync(work, { recursive: true, force: true })

const rows = [
  ['`require(\'resonode\')` (the whole API and the addon; ONNX Runtime loads at the first model)', coldRequireMs(ROOT)],
  ['the generated loader and addon alone (`index.js`)', coldRequireMs(join(ROOT, 'index.js'))],
  ['`require(\'onnxruntime-node\')` (anchor: its addon links ONNX Runtime at load)', coldRequireMs('onnxruntime-node')],
  ['`require(\'commander\')` (anchor: pure JS)', coldRequireMs('commander')],
]

const mb = (b) => (b / 1e6).toFixed(2)
const ms = (r) => `${r.median.toFixed(1)} (${r.min.toFixed(1)}-${r.max.toFixed(1)})`
const cpu = cpus()[0]?.model ?? 'unknown CPU'
const md = `<!-- install:begin -->
## h. Install: package sizes and cold \`require\`

Written by \`node bench/install.mjs\` on ${new Date().toISOString().slice(0, 10)}; ${cpu}, ${cpus().length} cores, node ${process.version}.

| package | packed MB | unpacked MB | files |
|---|---:|---:|---:|
${sizes.map((s) => `| \`${s.pkg}\` | ${mb(s.packed)} | ${mb(s.unpacked)} | ${s.files} |`).join('\n')}

Target: each platform package under 25 MB packed. ${platform.platform}: ${mb(platform.packedBytes)} MB (the addon and ONNX Runtime ${platform.onnxRuntime?.version ?? '-'}, \`${platform.onnxRuntime?.file ?? 'none'}\`).

Cold \`require\`, ms: a fresh \`node\` per run, the require timed inside it, median (min-max) of ${RUNS} runs, file cache warm.

| what | ms |
|---|---:|
${rows.map(([w, r]) => `| ${w} | ${ms(r)} |`).join('\n')}

Reproduce: \`npm run build && node bench/install.mjs\`.
<!-- install:end -->
`
console.log(md)
if (!values['no-write']) {
  const p = join(ROOT, 'bench', 'RESULTS.md')
  const old = readFileSync(p, 'utf8')
  const next = /<!-- install:begin -->[\s\S]*<!-- install:end -->\n/.test(old)
    ? old.replace(/<!-- install:begin -->[\s\S]*<!-- install:end -->\n/, md)
    : old.replace('## How to reproduce', `${md}\n## How to reproduce`)
  writeFileSync(p, next)
}
