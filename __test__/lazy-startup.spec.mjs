// Issue 14, start-up: `require('resonode')` and `resonode --help` load
// neither the API's modules nor the native addon; each export loads its
// module at first read, the addon with the first module that needs it.
// Each case runs in a fresh `node`, which reports what it loaded.
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { root, cli, tempDir } from './helpers.mjs'

const dist = join(root, 'dist', 'index.js')
const addon = /\.node$/

// Prints, at exit, the files of this package that were loaded (relative to its root) to stderr as JSON.
const reporter = join(tempDir(), 'report-loaded.cjs')
writeFileSync(
  reporter,
  `const base = process.env.REPORT_ROOT
process.on('exit', () => {
  const files = Object.keys(require.cache).filter((f) => f.startsWith(base + '/') && !f.includes('/node_modules/')).map((f) => f.slice(base.length + 1))
  require('fs').writeSync(2, '\\nLOADED ' + JSON.stringify(files.sort()) + '\\n')
})
`,
)

function loaded(args, { cwd = root, base = root } = {}) {
  const r = spawnSync(process.execPath, ['-r', reporter, ...args], { cwd, encoding: 'utf8', env: { ...process.env, REPORT_ROOT: base } })
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '))
  return { ...r, files: JSON.parse(line.slice(7)) }
}

test("require('resonode') loads the index and the errors only", (t) => {
  const r = loaded(['-e', `require(${JSON.stringify(dist)})`])
  t.is(r.status, 0, r.stderr)
  t.deepEqual(r.files, ['dist/errors.js', 'dist/index.js', 'dist/lazy-module.js'])
})

test('an export loads its module at first read, the addon with the first module that needs it', (t) => {
  const pure = loaded(['-e', `const m = require(${JSON.stringify(dist)}); new m.StreamingContext({ sampleRate: 48000, channels: 2, chunkSize: 480 })`])
  t.is(pure.status, 0, pure.stderr)
  t.false(pure.files.some((f) => addon.test(f)), pure.files.join(' '))
  t.true(pure.files.includes('dist/context.js'))
  t.false(pure.files.includes('dist/processors.js'))

  const native = loaded(['-e', `const m = require(${JSON.stringify(dist)}); if (new m.Gain(0.5).kind !== 'gain') process.exit(3)`])
  t.is(native.status, 0, native.stderr)
  t.true(native.files.some((f) => addon.test(f)), native.files.join(' '))
  t.true(native.files.includes('dist/processors.js'))
  t.false(native.files.includes('dist/separation.js'))
})

test('ESM import sees every export of require (the getters keep the shape Node detects)', async (t) => {
  const cjs = Object.keys(createRequire(import.meta.url)(dist))
  const esm = Object.keys(await import(dist)).filter((k) => k !== 'default' && k !== '__esModule')
  t.true(cjs.length > 80)
  t.deepEqual(esm.sort(), [...cjs].sort())
})

test('every value the types declare is there at run time, and each type-only export is no value', (t) => {
  const dts = readFileSync(join(root, 'dist', 'index.d.ts'), 'utf8')
  const declared = [...dts.matchAll(/^export declare const (\w+):/gm)].map((m) => m[1])
  t.true(declared.length > 50)
  const lib = createRequire(import.meta.url)(dist)
  t.deepEqual(declared.filter((k) => lib[k] === undefined), [])
  const typeOnly = [...dts.matchAll(/^export type \{([^}]*)\}/gm)].flatMap((m) => m[1].split(',').map((n) => n.trim()))
  t.true(typeOnly.includes('PipelineStats'))
  t.deepEqual(typeOnly.filter((k) => k in lib), [])
})

for (const args of [['--help'], ['info', '--help'], ['separate', '--help'], ['library', 'scan', '--help']]) {
  test(`resonode ${args.join(' ')} loads neither the API nor the addon`, (t) => {
    const r = loaded([cli, ...args])
    t.is(r.status, 0, r.stderr)
    t.true(r.stdout.startsWith('Usage: resonode'), r.stdout)
    const api = r.files.filter((f) => f.startsWith('dist/') && !/^dist\/(cli[-.\w]*|index|lazy-module|errors|library-path)\.js$/.test(f))
    t.deepEqual(api, [])
    t.false(r.files.some((f) => addon.test(f)))
  })
}

test('resonode process --help lists the processors (from the addon: it loads the processors module only)', (t) => {
  const r = loaded([cli, 'process', '--help'])
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /^ {2}highpass\(/m)
  t.regex(r.stdout, /^ {2}normalize\(/m)
  t.false(r.files.includes('dist/pipeline.js'))
  t.false(r.files.includes('dist/separation.js'))
})

test('without an addon, --help still works and a command fails with ERR_BINDING_NOT_FOUND, exit 1', (t) => {
  // A copy of the package whose generated loader finds nothing, as on a platform without a package.
  const dir = join(tempDir(), 'pkg')
  mkdirSync(dir)
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  writeFileSync(join(dir, 'index.js'), "throw new Error('Cannot find native binding.')\n")
  const bin = join(dir, 'bin', 'resonode.js')

  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })
  t.is(help.status, 0, help.stderr)
  t.regex(help.stdout, /^ {2}analyze \[options\] <file>/m)

  const r = spawnSync(process.execPath, [bin, 'info', join(root, 'assets', 'speech.wav')], { encoding: 'utf8' })
  t.is(r.status, 1)
  t.regex(r.stderr, /^resonode: ERR_BINDING_NOT_FOUND: resonode: the native addon for [\w-]+ did not load: the package resonode-[\w-]+ is missing/)
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr)
  // Pure-JS parts still work there.
  const ok = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(join(dir, 'dist', 'index.js'))}); process.stdout.write(new m.InvalidParameterError('ERR_INVALID_PARAMETER', 'x').code)`], { encoding: 'utf8' })
  t.is(ok, 'ERR_INVALID_PARAMETER')
})
