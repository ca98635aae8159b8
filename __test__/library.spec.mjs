// The music library on real files: scans (broken files, resume after
// SIGKILL, changed and moved files), recommendations on songs of known
// tempo and key, feedback that changes the ranking and survives a
// restart, the CLI, and typed errors for bad input.
import test from 'ava'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, statSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, cli, runCli, tempDir, writeWav, readAll } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'

const { Library } = lib
const name = (p) => p.split('/').pop().replace(/\.wav$/, '')

let songsDir
let songs
let manyDir
test.before(async () => {
  songsDir = join(tempDir(), 'songs')
  songs = await renderSongs(songsDir)
  // Enough distinct files that a kill or an abort lands mid-scan: 40 copies
  // of a song, each at another gain (other bytes: no analysis is reused).
  manyDir = join(tempDir(), 'many')
  mkdirSync(manyDir)
  const { channels, sampleRate } = await readAll(songs['ref-120-C'])
  for (let i = 0; i < 40; i++) {
    const g = 0.3 + i * 0.01
    writeWav(join(manyDir, `track-${String(i).padStart(2, '0')}.wav`), channels.map((c) => c.map((v) => v * g)), sampleRate)
  }
})

/** A folder of the songs, a copy in a subfolder, broken files and a text file. */
function musicFolder() {
  const dir = join(tempDir(), 'music')
  mkdirSync(join(dir, 'sub'), { recursive: true })
  for (const p of Object.values(songs)) copyFileSync(p, join(dir, p.split('/').pop()))
  copyFileSync(songs['ref-120-C'], join(dir, 'sub', 'ref-copy.wav'))
  writeFileSync(join(dir, 'not-audio.wav'), 'this is a text file with a .wav name\n'.repeat(20))
  const good = readFileSync(songs['adj-123-G'])
  writeFileSync(join(dir, 'sub', 'truncated.flac'), good.subarray(0, 3000))
  writeFileSync(join(dir, 'notes.txt'), 'not music')
  return dir
}

test('a scan analyses real files on all cores, records broken ones, and skips what did not change', async (t) => {
  const dir = musicFolder()
  const library = new Library(join(tempDir(), 'music_library.db'))
  const progress = []
  const s = await library.scan(dir, { onProgress: (p) => progress.push(p) })
  t.is(s.files, 9)
  t.is(s.ignored, 1, 'notes.txt is not audio')
  t.is(s.failed, 2)
  t.is(s.added, 7, 'six songs and the copy')
  t.false(s.aborted)
  const failures = Object.fromEntries(s.failures.map((f) => [f.path.split('/').pop(), f.code]))
  t.truthy(failures['not-audio.wav'] && failures['truncated.flac'], JSON.stringify(s.failures))
  for (const code of Object.values(failures)) t.regex(code, /^ERR_(UNSUPPORTED_FORMAT|DECODE|EMPTY_AUDIO)$/)
  t.is(progress.at(-1).done, 9)

  const list = await library.list()
  t.is(list.length, 9)
  for (const e of list) t.deepEqual(Object.keys(e).sort(), ['analyzedAt', 'camelot', 'durationS', 'error', 'id', 'key', 'loudnessLufs', 'mode', 'path', 'tempoBpm'].sort())
  const broken = list.filter((e) => e.error !== null)
  t.deepEqual(broken.map((e) => e.path.split('/').pop()).sort(), ['not-audio.wav', 'truncated.flac'])
  for (const e of broken) t.is(e.tempoBpm, null)
  // Known tempos and keys, as the analyzer reads them.
  const byName = Object.fromEntries(list.filter((e) => !e.error).map((e) => [name(e.path), e]))
  for (const [id, bpm, camelot] of [['ref-120-C', 120, '8B'], ['adj-123-G', 123, '9B'], ['clash-120-Fs', 120, '2B'], ['far-96-C', 96, '8B'], ['harm-112-G', 112, '9B']]) {
    t.true(Math.abs(byName[id].tempoBpm - bpm) < 1.5, `${id}: ${byName[id].tempoBpm} BPM`)
    t.is(byName[id].camelot, camelot, id)
    t.true(byName[id].loudnessLufs < -5 && byName[id].loudnessLufs > -30)
    t.true(Math.abs(byName[id].durationS - 16) < 0.1)
    t.false(Number.isNaN(Date.parse(byName[id].analyzedAt)))
  }
  // The moved copy took the original's analysis (same content hash).
  const full = await library.get(join(dir, 'sub', 'ref-copy.wav'))
  const orig = await library.get(join(dir, 'ref-120-C.wav'))
  t.is(full.contentHash, orig.contentHash)
  t.deepEqual(full.beats, orig.beats)
  t.is(full.summary.length, 44)

  // Nothing changed: nothing analysed; broken files stay recorded.
  const again = await library.scan(dir)
  t.is(again.unchanged, 9)
  t.is(again.added + again.updated, 0)
  t.is((await library.list()).length, 9)

  // A changed file is analysed again; a touched but identical file is not.
  copyFileSync(songs['far-96-C'], join(dir, 'same-120-C.wav'))
  const t0 = statSync(join(dir, 'adj-123-G.wav'))
  appendFileSync(join(dir, 'adj-123-G.wav'), Buffer.alloc(0))
  writeFileSync(join(dir, 'adj-123-G.wav'), readFileSync(join(dir, 'adj-123-G.wav')))
  t.true(statSync(join(dir, 'adj-123-G.wav')).mtimeMs >= t0.mtimeMs)
  const third = await library.scan(dir)
  t.is(third.updated, 1, JSON.stringify(third))
  t.is(third.unchanged, 8)
  const changed = await library.get(join(dir, 'same-120-C.wav'))
  t.true(Math.abs(changed.tempoBpm - 96) < 1.5, `re-analysed: ${changed.tempoBpm}`)
  library.close()
})

test('a scan killed with SIGKILL resumes without losing or duplicating tracks; readers work while it writes', async (t) => {
  const dir = manyDir
  const db = join(tempDir(), 'music_library.db')
  const child = spawn(process.execPath, [cli, 'library', 'scan', dir, '--db', db, '--jobs', '1', '--json'], { stdio: 'ignore' })
  const exited = new Promise((r) => child.once('exit', r))
  const reader = new Library(db)
  let seen = 0
  const t0 = Date.now()
  // Concurrent reads while the child writes (WAL): list() never fails.
  while (seen < 3 && Date.now() - t0 < 60_000) {
    seen = (await reader.list()).length
    await new Promise((r) => setTimeout(r, 20))
  }
  child.kill('SIGKILL')
  await exited
  const afterKill = (await reader.list()).length
  t.true(afterKill >= 3 && afterKill < 40, `killed after ${afterKill} of 40 tracks`)
  for (const e of await reader.list()) t.is(e.error, null, `${e.path}: ${e.error}`)
  reader.close()

  const library = new Library(db)
  const s = await library.scan(dir)
  t.is(s.unchanged, afterKill, 'what was committed before the kill is kept')
  t.is(s.added, 40 - afterKill)
  const list = await library.list()
  t.is(list.length, 40)
  t.is(new Set(list.map((e) => e.path)).size, 40, 'no duplicate rows')
  library.close()
})

test('a scan aborted through its AbortSignal rejects with AbortError carrying the summary, keeps what finished and resumes', async (t) => {
  const library = new Library(join(tempDir(), 'lib.db'))
  const ac = new AbortController()
  const err = await t.throwsAsync(library.scan(manyDir, { signal: ac.signal, concurrency: 1, progressIntervalMs: 1, onProgress: (p) => p.done >= 2 && ac.abort() }), {
    name: 'AbortError',
    code: 'ERR_ABORTED',
  })
  const s = err.stats
  t.true(s.aborted, JSON.stringify(s))
  t.true(s.added >= 2 && s.added < 40, JSON.stringify(s))
  t.is((await library.list()).length, s.added)
  const rest = await library.scan(manyDir)
  t.false(rest.aborted)
  t.is(rest.unchanged, s.added)
  t.is(rest.added, 40 - s.added)
  library.close()
})

/** A library of the songs only. */
async function songLibrary(db = join(tempDir(), 'lib.db')) {
  const library = new Library(db)
  const s = await library.scan(songsDir)
  if (s.failed) throw new Error(JSON.stringify(s.failures))
  return library
}

test('recommendations rank songs of known tempo and key in the expected order, explaining each score', async (t) => {
  const library = await songLibrary()
  const recs = await library.recommend({ from: songs['ref-120-C'], limit: 10 })
  const order = recs.map((r) => name(r.path))
  t.false(order.includes('ref-120-C'), 'the reference itself is left out')
  // Same key and tempo, then a neighbour on the wheel 2.5 % faster, then the
  // right tempo in a clashing key, then the right key at tempos out of reach.
  t.deepEqual(order.slice(0, 3), ['same-120-C', 'adj-123-G', 'clash-120-Fs'], JSON.stringify(recs.map((r) => [name(r.path), r.score, r.components])))
  t.deepEqual(order.slice(3).sort(), ['far-96-C', 'harm-112-G'])
  for (let i = 1; i < recs.length; i++) t.true(recs[i - 1].score >= recs[i].score)
  const adj = recs[1]
  t.deepEqual(Object.keys(adj.components).sort(), ['energy', 'harmonic', 'learned', 'tempo', 'timbre'])
  t.true(Math.abs(adj.stretchRatio - 120 / 123) < 0.01, `stretch ${adj.stretchRatio}`)
  t.is(adj.camelot, '9B')
  t.is(adj.components.harmonic, 0.9, '8B -> 9B is one step on the wheel')
  t.is(recs[2].components.harmonic, 0.1, '8B -> 2B clashes')
  t.true(recs[2].components.tempo > 0.99)
  t.is(recs.find((r) => name(r.path) === 'far-96-C').components.tempo, 0, '96 BPM is 25 % off: out of the default ±8 %')
  // A wider tolerance lets 112 BPM (7 % off) score on tempo too.
  const wide = await library.recommend({ from: songs['ref-120-C'], tempoTolerance: 0.2 })
  t.true(wide.find((r) => name(r.path) === 'harm-112-G').components.tempo > 0.8)
  // Live features instead of a track: the same ordering for the same description.
  const ref = await library.get(songs['ref-120-C'])
  const live = await library.recommend({ from: { tempoBpm: 120, key: 'C', mode: 'major', loudnessLufs: ref.loudnessLufs, summary: ref.summary }, limit: 3 })
  t.deepEqual(live.map((r) => name(r.path)), ['ref-120-C', 'same-120-C', 'adj-123-G'])
  // Played tracks of a session are left out.
  const session = await library.beginSession('test')
  await library.addPlay(session, songs['same-120-C'])
  const next = await library.recommend({ from: songs['ref-120-C'], session })
  t.false(next.map((r) => name(r.path)).includes('same-120-C'))
  library.close()
})

test('consistent feedback (harmonic matches over tempo matches) changes the ranking, survives a restart, and resets', async (t) => {
  const db = join(tempDir(), 'lib.db')
  let library = await songLibrary(db)
  const rank = async (lib) => (await lib.recommend({ from: songs['ref-120-C'] })).map((r) => name(r.path))
  const before = await rank(library)
  t.true(before.indexOf('clash-120-Fs') < before.indexOf('harm-112-G'), before.join(' '))
  const m0 = await library.model()
  for (let i = 0; i < 8; i++) {
    // The user takes the track in a related key though it needs stretching,
    // and turns down the one at the same tempo in a clashing key.
    await library.addFeedback(songs['ref-120-C'], songs['harm-112-G'], true, 0.9)
    await library.addFeedback(songs['ref-120-C'], songs['clash-120-Fs'], false)
  }
  const after = await rank(library)
  t.true(after.indexOf('harm-112-G') < after.indexOf('clash-120-Fs'), after.join(' '))
  const m1 = await library.model()
  t.is(m1.updates, 16)
  t.true(m1.weights.harmonic > m0.weights.harmonic, JSON.stringify(m1))
  t.true(m1.weights.tempo < m0.weights.tempo, JSON.stringify(m1))
  // It generalises beyond the two tracks given feedback: from another C
  // major song, the clash at the right tempo falls below the wheel
  // neighbour that needs stretching.
  const fromSame = (await library.recommend({ from: songs['same-120-C'] })).map((r) => name(r.path))
  t.true(fromSame.indexOf('harm-112-G') < fromSame.indexOf('clash-120-Fs'), fromSame.join(' '))
  library.close()

  library = new Library(db)
  t.deepEqual(await rank(library), after, 'the learned state survives a restart')
  t.deepEqual(await library.model(), m1)
  await library.resetLearning()
  t.deepEqual(await rank(library), before, 'resetLearning() goes back to the defaults')
  t.deepEqual((await library.model()).updates, 0)
  library.close()
})

test('bad input gets typed errors and never damages what is stored', async (t) => {
  const dir = tempDir()
  // A library whose folder does not exist.
  t.is(t.throws(() => new Library(join(dir, 'missing', 'lib.db'))).code, 'ERR_NOT_FOUND')
  // A file that is not a database is refused and left as it was.
  const junk = join(dir, 'junk.db')
  writeFileSync(junk, 'definitely not sqlite '.repeat(300))
  const before = readFileSync(junk)
  t.is(t.throws(() => new Library(junk)).code, 'ERR_DATABASE')
  t.deepEqual(readFileSync(junk), before)
  const library = await songLibrary(join(dir, 'lib.db'))
  await t.throwsAsync(library.scan(join(dir, 'nope')), { code: 'ERR_NOT_FOUND' })
  await t.throwsAsync(library.scan(songs['ref-120-C']), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(library.get(99999), { code: 'ERR_TRACK_NOT_FOUND' })
  await t.throwsAsync(library.remove('/no/such/track.wav'), { code: 'ERR_TRACK_NOT_FOUND' })
  await t.throwsAsync(library.recommend({ from: 99999 }), { code: 'ERR_TRACK_NOT_FOUND' })
  await t.throwsAsync(library.recommend({ from: songs['ref-120-C'], tempoTolerance: 0 }), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(library.add(join(dir, 'nothing.wav')), { code: 'ERR_NOT_FOUND' })
  const m = await library.model()
  await t.throwsAsync(library.addFeedback(songs['ref-120-C'], songs['adj-123-G'], true, 1.5), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(library.addFeedback(songs['ref-120-C'], 99999, true), { code: 'ERR_TRACK_NOT_FOUND' })
  t.deepEqual(await library.model(), m, 'refused feedback stored nothing')
  // Adding a broken file records it and rejects with its error.
  const bad = join(dir, 'bad.wav')
  writeFileSync(bad, 'RIFF....WAVEjunk')
  const e = await t.throwsAsync(library.add(bad))
  t.regex(e.code, /^ERR_(DECODE|UNSUPPORTED_FORMAT|EMPTY_AUDIO)$/)
  t.is((await library.get(bad)).errorCode, e.code)
  t.is((await library.list()).length, 7)
  library.close()
  await t.throwsAsync(library.list(), { code: 'ERR_INVALID_STATE' })
})

test('resonode library: scan, list --json, show, recommend --json, remove, add', async (t) => {
  const db = join(tempDir(), 'cli.db')
  const run = (...args) => runCli(['library', ...args, '--db', db])
  const scan = await run('scan', songsDir, '--jobs', '2', '--json')
  t.is(scan.status, 0, scan.stderr)
  t.is(JSON.parse(scan.stdout).added, 6)
  const list = JSON.parse((await run('list', '--json')).stdout)
  t.is(list.length, 6)
  t.deepEqual(Object.keys(list[0]).sort(), ['analyzedAt', 'camelot', 'durationS', 'error', 'id', 'key', 'loudnessLufs', 'mode', 'path', 'tempoBpm'].sort())
  const ref = list.find((e) => name(e.path) === 'ref-120-C')
  const show = JSON.parse((await run('show', String(ref.id), '--json')).stdout)
  t.is(show.path, ref.path)
  t.true(show.beats.length > 20)
  const recs = JSON.parse((await run('recommend', String(ref.id), '--limit', '2', '--json')).stdout)
  t.is(recs.length, 2)
  t.deepEqual(Object.keys(recs[0]).filter((k) => k !== 'tempoMultiple').sort(), ['camelot', 'components', 'path', 'score', 'stretchRatio', 'tempoBpm', 'trackId'])
  t.is(name(recs[0].path), 'same-120-C')
  const byPath = JSON.parse((await run('recommend', ref.path, '--limit', '1', '--json')).stdout)
  t.is(byPath[0].trackId, recs[0].trackId)
  const removed = await run('remove', ref.path, '--json')
  t.is(removed.status, 0, removed.stderr)
  t.is(JSON.parse((await run('list', '--json')).stdout).length, 5)
  const add = await run('add', ref.path, '--json')
  t.is(add.status, 0, add.stderr)
  t.is(JSON.parse((await run('list', '--json')).stdout).length, 6)
  const missing = await run('show', '9999')
  t.is(missing.status, 1)
  t.regex(missing.stderr, /^resonode: ERR_TRACK_NOT_FOUND: /)
  const human = await run('list')
  t.regex(human.stdout, /ref-120-C\.wav/)
})

test('resonode library scan stops on Ctrl-C (SIGINT) with a summary, keeping what it finished', async (t) => {
  const db = join(tempDir(), 'sigint.db')
  const child = spawn(process.execPath, [cli, 'library', 'scan', manyDir, '--db', db, '--jobs', '1', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  const exited = new Promise((r) => child.once('exit', (code) => r(code)))
  const reader = new Library(db)
  const t0 = Date.now()
  while ((await reader.list()).length < 2 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20))
  child.kill('SIGINT')
  const code = await exited
  const stored = (await reader.list()).length
  reader.close()
  t.log(`interrupted after ${stored} of 40 tracks, exit ${code}`)
  if (stored === 40) {
    t.is(code, 0, 'the scan finished before the signal')
    return
  }
  t.is(code, 130, stdout)
  const summary = JSON.parse(stdout)
  t.true(summary.aborted)
  t.is(summary.added, stored)
})
