// Every file of the broken-and-odd corpus (__test__/corpus/, made by
// scripts/make-corpus.mjs) through `resonode info`, `resonode process` (the
// CLI, one child process each) and the JS API: a typed error or success as
// expect.json says, no signal, bounded time, output that sox reads.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, cli, tempDir } from './helpers.mjs'

const dir = join(root, '__test__', 'corpus')
const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8'))
const TIME_LIMIT_MS = 30000
const out = tempDir()

const runCli = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: TIME_LIMIT_MS })
const errCode = (stderr) => /resonode: (ERR_[A-Z_]+)/.exec(stderr)?.[1]
const soxFrames = (path) => {
  const r = spawnSync('sox', ['--i', '-s', path], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`sox cannot read ${path}: ${r.stderr}`)
  return Number(r.stdout.trim())
}

test('corpus: every listed file is there, and it is small', (t) => {
  let total = 0
  for (const name of Object.keys(expect)) {
    t.true(existsSync(join(dir, name)), name)
    total += readFileSync(join(dir, name)).length
  }
  t.true(Object.keys(expect).length >= 40)
  t.true(total < 400 * 1024, `${total} bytes`)
})

for (const [name, want] of Object.entries(expect)) {
  test(`corpus: ${name}`, (t) => {
    const path = join(dir, name)
    const info = runCli('info', '--json', path)
    t.is(info.signal, null, `info killed by ${info.signal}`)
    t.not(info.error?.code, 'ETIMEDOUT', 'info timed out')
    const outPath = join(out, `${name}.wav`)
    const proc = runCli('process', path, outPath)
    t.is(proc.signal, null, `process killed by ${proc.signal}`)
    // Exit 0, or 1 with a typed error (70 would be ERR_INTERNAL).
    for (const [what, r] of [['info', info], ['process', proc]]) {
      if (r.status !== 0) {
        t.is(r.status, 1, `${what}: ${r.stderr}`)
        t.truthy(errCode(r.stderr), `${what}: ${r.stderr}`)
        t.not(errCode(r.stderr), 'ERR_INTERNAL', r.stderr)
      }
    }
    if (want === 'any') {
      if (proc.status === 0) t.is(soxFrames(outPath), JSON.parse(info.stdout).frames)
      return
    }
    if (typeof want === 'string') {
      t.is(errCode(info.stderr), want, info.stderr)
      t.is(errCode(proc.stderr), want, proc.stderr)
      return
    }
    t.is(info.status, 0, info.stderr)
    t.is(proc.status, 0, proc.stderr)
    const i = JSON.parse(info.stdout)
    t.true(i.frames > 0)
    if (typeof want.frames === 'number') t.is(i.frames, want.frames)
    if (want.maxFrames) t.true(i.frames <= want.maxFrames, `${i.frames}`)
    if (want.minFrames) t.true(i.frames >= want.minFrames, `${i.frames}`)
    if (want.declared) {
      t.is(i.declaredFrames, want.declared)
      t.true(i.warnings.length > 0 && /header declares/.test(i.warnings[0]), JSON.stringify(i.warnings))
    }
    // The output holds exactly the frames info reported, and sox reads it.
    t.is(soxFrames(outPath), i.frames)
  })
}

test('corpus: the JS API gives typed errors or audio for every file', async (t) => {
  const { ResonodeError } = lib
  const rssBefore = process.memoryUsage().rss
  for (const [name, want] of Object.entries(expect)) {
    const path = join(dir, name)
    const started = Date.now()
    try {
      const i = await lib.info(path)
      if (typeof want === 'string' && want !== 'any') t.fail(`${name}: expected ${want}, got ${JSON.stringify(i)}`)
      else t.true(i.frames > 0 && Array.isArray(i.warnings), name)
      const o = join(out, `api-${name}.wav`)
      const stats = await new lib.StreamingPipeline({ source: new lib.FileSource(path), sink: new lib.FileSink(o) }).run()
      t.is(stats.framesProcessed, i.frames, name)
    } catch (e) {
      t.true(e instanceof ResonodeError, `${name}: ${e}`)
      if (typeof want === 'string' && want !== 'any') t.is(e.code, want, `${name}: ${e.message}`)
      else if (want !== 'any') t.fail(`${name}: ${e.code} ${e.message}`)
    }
    t.true(Date.now() - started < TIME_LIMIT_MS, name)
  }
  // Bounded memory: the whole corpus does not grow the process by more than 200 MB.
  t.true(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024)
})
