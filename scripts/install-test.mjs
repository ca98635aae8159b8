#!/usr/bin/env node
// Installs resonode as a user would and uses it: packs the main package and
// this machine's platform package (scripts/pack-platform.mjs), installs both
// tarballs into a fresh temporary project with no Rust toolchain on PATH and
// no .npmrc, and runs the README's uses from there: a file pipeline on a real
// recording, SpeechEnhancer on noisy speech (ONNX Runtime from the platform
// package), Separator with the test HTDemucs model, listDevices, the
// analyzer and the library, ESM `import` and CJS `require`, and the CLI
// through `npx resonode`.
//
// Fails when the install ran any install script (no installed package may
// have one, nor a binding.gyp), reached anything but the npm registry, or
// loaded ONNX Runtime from anywhere but the platform package.
//
//   node scripts/install-test.mjs [--keep]     # --keep leaves the project in place
// Needs the built addon and dist/ (npm run build). Prints what it checked.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve, delimiter } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostPlatform, npmPack, packPlatform } from './pack-platform.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const keep = process.argv.includes('--keep')
// npm and npx are .cmd scripts on Windows: they need a shell there.
const shell = process.platform === 'win32'
const work = mkdtempSync(join(tmpdir(), 'resonode-install-'))
const say = (m) => console.log(`install-test: ${m}`)
const fail = (m) => {
  console.error(`install-test: FAILED: ${m}\n  (project kept in ${work})`)
  process.exit(1)
}

// 1. The two tarballs.
const packs = join(work, 'packs')
const main = npmPack(root, packs)
const mainTgz = main.tarball
const shipped = main.files.map((f) => f.path)
for (const f of shipped) {
  if (/^(__test__|bench|crates|scripts|src-ts|npm)\//.test(f) || /\.node$/.test(f)) fail(`the main package ships ${f}`)
}
say(`main package ${main.filename}: ${(statSync(mainTgz).size / 1e6).toFixed(2)} MB packed, ${shipped.length} files`)
const platform = packPlatform({ out: packs })
say(`platform package ${platform.platform}: ${(platform.packedBytes / 1e6).toFixed(1)} MB packed (${(platform.unpackedBytes / 1e6).toFixed(1)} MB unpacked): ${platform.files.join(', ')}`)

// 2. A fresh project, no Rust on PATH, no project .npmrc.
const app = join(work, 'app')
mkdirSync(app, { recursive: true })
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'resonode-install-test', version: '1.0.0', private: true }, null, 2))
const path = (process.env.PATH ?? '').split(delimiter).filter((d) => !existsSync(join(d, 'cargo')) && !existsSync(join(d, 'rustc'))).join(delimiter)
const env = { ...process.env, PATH: path }
for (const k of Object.keys(env)) if (/^(npm_|CARGO|RUSTUP|ORT_DYLIB_PATH)/i.test(k)) delete env[k]
const logsDir = join(work, 'npm-logs')
const registry = new URL(execFileSync('npm', ['config', 'get', 'registry'], { cwd: app, env, encoding: 'utf8', shell }).trim())
let log
try {
  log = execFileSync('npm', ['install', mainTgz, platform.tarball, '--no-audit', '--no-fund', '--loglevel=http', '--foreground-scripts', '--logs-dir', logsDir], {
    cwd: app,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell,
  })
} catch (e) {
  fail(`npm install failed: ${e.stderr ?? e}`)
}
// Every request npm made, from the install's own debug log.
const debug = readdirSync(logsDir).map((f) => readFileSync(join(logsDir, f), 'utf8')).join('\n')
const urls = [...debug.matchAll(/\bhttp fetch \w+ \d+ (\S+)/g)].map((m) => m[1])
const foreign = urls.filter((u) => new URL(u).host !== registry.host)
if (foreign.length) fail(`the install reached ${foreign.join(', ')} (only ${registry.host} is allowed)`)
if (/> [^\n]*(preinstall|install|postinstall)\b/.test(log)) fail(`the install ran a script:\n${log}`)
// No installed package may have an install script or a node-gyp build.
const offenders = []
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue
    const d = join(dir, e.name)
    if (e.name.startsWith('@')) {
      walk(d)
      continue
    }
    const pj = join(d, 'package.json')
    if (existsSync(pj)) {
      const s = JSON.parse(readFileSync(pj, 'utf8')).scripts ?? {}
      for (const k of ['preinstall', 'install', 'postinstall']) if (s[k]) offenders.push(`${e.name} (${k}: ${s[k]})`)
      if (existsSync(join(d, 'binding.gyp'))) offenders.push(`${e.name} (binding.gyp)`)
    }
    if (existsSync(join(d, 'node_modules'))) walk(join(d, 'node_modules'))
  }
}
walk(join(app, 'node_modules'))
if (offenders.length) fail(`installed packages with install scripts: ${offenders.join(', ')}`)
if (existsSync(join(app, 'node_modules', 'onnxruntime-node'))) fail('onnxruntime-node was installed')
say(`installed with no install script; ${urls.length} registry requests, all to ${registry.host}; Rust not on PATH`)

// 3. Use it from the project, as the README shows.
const assets = join(root, 'assets')
const htdemucs = join(root, 'crates', 'ml', 'tests', 'fixtures', 'htdemucs', 'htdemucs_tiny.onnx')
writeFileSync(
  join(app, 'use.mjs'),
  `import { StreamingPipeline, FileSource, FileSink, parseChain, SpeechEnhancer, Separator, listDevices, info, analyze, Library } from 'resonode'
import { createRequire } from 'node:module'
import { readdirSync } from 'node:fs'
const cjs = createRequire(import.meta.url)('resonode')
if (cjs.StreamingPipeline !== StreamingPipeline) throw new Error('require() and import give different modules')
const out = (n) => new URL(n, import.meta.url).pathname
const stats = await new StreamingPipeline({ source: new FileSource(${JSON.stringify(join(assets, 'music.wav'))}), processors: parseChain('highpass(80) gain(-3db)'), sink: new FileSink(out('music.out.wav')) }).run()
if (stats.framesProcessed !== 529200) throw new Error('pipeline: ' + JSON.stringify(stats))
const enhanced = await new SpeechEnhancer().enhanceFile(${JSON.stringify(join(assets, 'noisy_speech.wav'))}, out('speech.out.wav'))
const separator = new Separator({ model: ${JSON.stringify(htdemucs)}, threads: 1 })
const stems = await separator.separateFile(${JSON.stringify(join(assets, 'music.wav'))}, { outDir: out('stems') })
const devices = await listDevices()
const a = await analyze(${JSON.stringify(join(assets, 'music.wav'))})
const library = new Library(out('lib.db'))
const scan = await library.scan(${JSON.stringify(assets)})
library.close()
const ort = readdirSync(out('node_modules/${'resonode-' + hostPlatform()}'))
console.log(JSON.stringify({ pipelineFrames: stats.framesProcessed, enhanced: Object.keys(enhanced).length > 0, stems: Object.keys(stems), devices: devices.length, tempoBpm: a.tempoBpm, scanned: scan.added, platformFiles: ort, info: (await info(out('music.out.wav'))).frames }))
`,
)
let used
try {
  used = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: app, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop())
} catch (e) {
  fail(`using the installed package failed: ${e.stderr ?? e}`)
}
say(`API from the installed package: ${JSON.stringify(used)}`)
// ONNX Runtime came from the platform package: the process mapped that file
// (Linux: /proc/self/maps; elsewhere the check is the platform package's
// listing above and the absence of onnxruntime-node).
const maps = process.platform !== 'linux' ? 'not checked on this platform' : execFileSync(process.execPath, ['-e', `
  const { SpeechEnhancer } = require('resonode')
  new SpeechEnhancer().enhanceFile(${JSON.stringify(join(assets, 'noisy_speech.wav'))}, 'x.wav').then(() => {
    const m = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => /onnxruntime/.test(l))
    console.log(m ? m.trim().split(/\\s+/).pop() : 'none')
  })`], { cwd: app, env, encoding: 'utf8' }).trim()
if (process.platform === 'linux' && !maps.includes(join('node_modules', `resonode-${hostPlatform()}`))) fail(`ONNX Runtime loaded from ${maps}, not the platform package`)
say(`ONNX Runtime loaded from ${maps}`)
const cli = execFileSync('npx', ['--no-install', 'resonode', 'info', join(assets, 'music.wav'), '--json'], { cwd: app, env, encoding: 'utf8', shell })
if (JSON.parse(cli).frames !== 529200) fail(`npx resonode info: ${cli}`)
say('npx resonode info works')
// The job queue's packages are optional peers, not installed: the queue
// commands say what to install, with their code, instead of a stack trace.
try {
  execFileSync('npx', ['--no-install', 'resonode', 'jobs', 'status', '--queue', 'redis://127.0.0.1:9'], { cwd: app, env, encoding: 'utf8', shell, stdio: ['ignore', 'pipe', 'pipe'] })
  fail('npx resonode jobs status succeeded without bullmq installed')
} catch (e) {
  if (!/ERR_QUEUE_UNAVAILABLE: .*npm install bullmq/.test(e.stderr ?? '')) fail(`npx resonode jobs status without bullmq: ${e.stderr ?? e}`)
}
if (existsSync(join(app, 'node_modules', 'bullmq'))) fail('bullmq was installed: it must stay an optional peer dependency')
say('without bullmq, npx resonode jobs status names the packages to install (ERR_QUEUE_UNAVAILABLE)')
if (!keep) rmSync(work, { recursive: true, force: true })
say('passed')
