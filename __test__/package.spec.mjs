// The package as npm ships it: what the main and platform packages hold,
// the exports map (ESM import and CJS require of the same module), and the
// error a platform without an addon gets. The full install from tarballs
// is scripts/install-test.mjs (npm test runs it last).
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { root, tempDir } from './helpers.mjs'

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

test('the main package ships the API, types, CLI and loader: no addon, tests, benches, sources or fixtures', (t) => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/^[^[]*/, ''))
  const files = packed.files.map((f) => f.path)
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'bin/resonode.js', 'index.js', 'index.d.ts', 'package.json']) t.true(files.includes(f), f)
  const stray = files.filter((f) => /^(__test__|bench|crates|scripts|src-ts|npm|assets\/(?!LICENSE-))/.test(f) || /\.(node|wav|onnx|rs)$/.test(f))
  t.deepEqual(stray, [])
  // No runtime dependency runs an install script or fetches anything (ws and uplot: the dashboard's server and chart).
  t.deepEqual(Object.keys(pkg.dependencies).sort(), ['cli-progress', 'commander', 'uplot', 'ws'])
  // The job queue's packages are optional peers: bullmq's tree has an install script (msgpackr-extract).
  t.deepEqual(Object.keys(pkg.peerDependencies).sort(), ['bullmq', 'ioredis'])
  t.deepEqual(Object.values(pkg.peerDependenciesMeta).map((m) => m.optional), [true, true])
  t.is(pkg.devDependencies['onnxruntime-node'] !== undefined, true)
})

test('every platform package carries its addon and, where Microsoft builds one, ONNX Runtime with its licence', (t) => {
  const ort = { linux: 'libonnxruntime.so.1', darwin: 'libonnxruntime.1.dylib', win32: 'onnxruntime.dll' }
  const dirs = readdirSync(join(root, 'npm'))
  t.is(dirs.length, pkg.napi.targets.length)
  for (const d of dirs) {
    const p = JSON.parse(readFileSync(join(root, 'npm', d, 'package.json'), 'utf8'))
    t.is(p.name, `resonode-${d}`)
    t.is(p.version, pkg.version)
    t.is(p.main, `resonode.${d}.node`)
    const expected = d === 'darwin-x64' ? [p.main] : [p.main, ort[p.os[0]], 'LICENSE-onnxruntime']
    t.deepEqual(p.files, expected, d)
    t.false('scripts' in p, `${d} has scripts`)
  }
})

test('import and require give the same module, through the exports map', async (t) => {
  const esm = await import('resonode')
  const cjs = createRequire(import.meta.url)('resonode')
  t.is(esm.StreamingPipeline, cjs.StreamingPipeline)
  t.is(esm.Library, cjs.Library)
  t.is(typeof esm.default.analyze, 'function')
  t.deepEqual(Object.keys(pkg.exports['.']), ['types', 'default'])
})

test('without an addon for the platform, the first native-backed call names the package to install (ERR_BINDING_NOT_FOUND)', (t) => {
  // A copy of the package whose generated loader finds nothing, as on a platform without a package.
  const dir = join(tempDir(), 'pkg')
  mkdirSync(dir)
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  writeFileSync(join(dir, 'index.js'), "throw new Error('Cannot find native binding.')\n")
  const out = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(join(dir, 'dist', 'index.js'))}); try { m.processorKinds() } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: e.cause?.message })) }`], { encoding: 'utf8' })
  const e = JSON.parse(out)
  t.is(e.code, 'ERR_BINDING_NOT_FOUND')
  const id = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : ''}`
  t.true(e.message.includes(`resonode-${id}`), e.message)
  t.is(e.cause, 'Cannot find native binding.')
})
