// The music library on a real PostgreSQL server (scripts/postgres-server.sh,
// one database per test): `new Library({ url })` gives the same tracks,
// recommendations, feedback and sessions as the same operations on SQLite,
// field by field; the CLI takes `--db postgres://...`; a server that is
// down rejects the first call with ERR_DATABASE_UNAVAILABLE and a later
// call connects; bad URLs throw ERR_INVALID_PARAMETER at once; the password
// never shows. Ports 55413-55414 (55418 stays closed).
import test from 'ava'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, runCli, tempDir } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'
import { PostgresServer } from './services.mjs'

const { Library } = lib
const name = (p) => p.split('/').pop().replace(/\.wav$/, '')
const CLOSED_PORT = 55418

const server = new PostgresServer(`resonode-pg-libspec-${process.pid}`, 55413)
const later = new PostgresServer(`resonode-pg-libspec-later-${process.pid}`, 55414)

let songs
let musicDir
test.before(async () => {
  await server.start()
  songs = await renderSongs(join(tempDir(), 'songs'))
  musicDir = join(tempDir(), 'music')
  mkdirSync(join(musicDir, 'sub'), { recursive: true })
  for (const p of Object.values(songs)) copyFileSync(p, join(musicDir, p.split('/').pop()))
  copyFileSync(songs['ref-120-C'], join(musicDir, 'sub', 'ref-copy.wav'))
  writeFileSync(join(musicDir, 'not-audio.wav'), 'this is a text file with a .wav name\n'.repeat(20))
})

test.after.always(async () => {
  await server.remove()
  await later.remove()
})

/** `url` with a password that trust authentication ignores, to check it never shows. */
const withPassword = (url, pw = 'hunter2-secret') => url.replace('postgres://resonode@', `postgres://resonode:${pw}@`)

const close = (t, a, b, what) => t.true(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${what}: ${a} vs ${b}`)

/** Numbers within 1e-9 (the two databases sum in another row order), the rest equal. */
function same(t, a, b, what) {
  if (typeof a === 'number' && typeof b === 'number') return close(t, a, b, what)
  if (Array.isArray(a) && Array.isArray(b)) {
    t.is(a.length, b.length, `${what}: length`)
    a.forEach((v, i) => same(t, v, b[i], `${what}[${i}]`))
    return
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    t.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: keys`)
    for (const k of Object.keys(a)) same(t, a[k], b[k], `${what}.${k}`)
    return
  }
  t.is(a, b, what)
}

/** A track without what differs between two libraries of the same files (ids, analysis time). */
const comparable = ({ id, analyzedAt, ...rest }) => rest

test('new Library({ url }) stores and answers like SQLite: scan, list, get, recommend, feedback, sessions', async (t) => {
  const url = await server.createDatabase('parity')
  const pg = new Library({ url: withPassword(url) })
  const sqlite = new Library(join(tempDir(), 'parity.db'))
  t.is(pg.backend, 'postgres')
  t.is(pg.path, null)
  t.is(pg.location, url, 'the URL without its password')
  t.is(sqlite.backend, 'sqlite')
  t.is(sqlite.location, sqlite.path)

  const scans = await Promise.all([pg, sqlite].map((l) => l.scan(musicDir, { concurrency: 2 })))
  const { durationS: _a, ...pgScan } = scans[0]
  const { durationS: _b, ...sqliteScan } = scans[1]
  t.deepEqual(pgScan, sqliteScan)
  t.is(pgScan.added, 7)
  t.is(pgScan.failed, 1)

  const [pgTracks, sqliteTracks] = await Promise.all([pg.tracks(), sqlite.tracks()])
  t.is(pgTracks.length, 8)
  t.deepEqual(pgTracks.map(comparable), sqliteTracks.map(comparable))
  const [pgList, sqliteList] = await Promise.all([pg.list(), sqlite.list()])
  t.deepEqual(pgList.map(comparable), sqliteList.map(comparable))
  t.deepEqual(comparable(await pg.get(join(musicDir, 'adj-123-G.wav'))), comparable(await sqlite.get(join(musicDir, 'adj-123-G.wav'))))
  const copy = await pg.get(join(musicDir, 'sub', 'ref-copy.wav'))
  t.is(copy.contentHash, (await pg.get(join(musicDir, 'ref-120-C.wav'))).contentHash)
  t.deepEqual(copy.beats, (await pg.get(join(musicDir, 'ref-120-C.wav'))).beats)

  const ref = join(musicDir, 'ref-120-C.wav')
  const recommend = async (l) => (await l.recommend({ from: ref, limit: 10 })).map(({ trackId, ...r }) => r)
  const [pgRecs, sqliteRecs] = await Promise.all([recommend(pg), recommend(sqlite)])
  t.deepEqual(pgRecs.map((r) => name(r.path)).slice(0, 3), ['ref-copy', 'same-120-C', 'adj-123-G'])
  same(t, pgRecs, sqliteRecs, 'recommend')

  const feedback = async (l) => {
    const out = []
    for (let i = 0; i < 3; i++) {
      out.push(await l.addFeedback(ref, join(musicDir, 'harm-112-G.wav'), true, 0.9))
      out.push(await l.addFeedback(ref, join(musicDir, 'clash-120-Fs.wav'), false))
    }
    return out.map(({ id, ...f }) => f)
  }
  same(t, await feedback(pg), await feedback(sqlite), 'feedback')
  same(t, await pg.model(), await sqlite.model(), 'model')
  same(t, await recommend(pg), await recommend(sqlite), 'recommend after feedback')

  const session = async (l) => {
    const id = await l.beginSession('deck A')
    await l.addPlay(id, ref)
    await l.addPlay(id, null, 'line in')
    await l.endSession(id)
    const s = await l.session(id)
    // Ids differ between the two databases: plays are compared by path.
    const plays = await Promise.all(s.plays.map(async (p) => [p.seq, p.trackId === null ? null : (await l.get(p.trackId)).path, p.label]))
    return { source: s.source, ended: s.endedAt !== null, plays }
  }
  t.deepEqual(await session(pg), await session(sqlite))
  await t.throwsAsync(pg.session(999), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(pg.get(12345), { code: 'ERR_TRACK_NOT_FOUND' })

  await pg.resetLearning()
  t.is((await pg.model()).updates, 0)
  const removed = await pg.remove(ref)
  t.is(removed.path, ref)
  t.is((await pg.list()).length, 7)
  pg.close()
  sqlite.close()
  await t.throwsAsync(pg.list(), { code: 'ERR_INVALID_STATE' })
})

test('resonode library scan / list / show take --db postgres://...', async (t) => {
  const url = withPassword(await server.createDatabase('cli'))
  const run = (...args) => runCli(['library', ...args, '--db', url])
  const scan = await run('scan', musicDir, '--jobs', '2', '--json')
  t.is(scan.status, 0, scan.stderr)
  const summary = JSON.parse(scan.stdout)
  t.is(summary.added, 7)
  t.is(summary.failed, 1)
  const list = JSON.parse((await run('list', '--json')).stdout)
  t.is(list.length, 8)
  const library = new Library(url)
  t.deepEqual(list, await library.list())
  const ref = list.find((e) => e.path.endsWith('/ref-120-C.wav'))
  const show = JSON.parse((await run('show', String(ref.id), '--json')).stdout)
  t.is(show.path, ref.path)
  const again = JSON.parse((await run('scan', musicDir, '--json')).stdout)
  t.is(again.unchanged, 8)
  library.close()
  // A server that is not there: the CLI reports the code, without the password.
  const down = await runCli(['library', 'list', '--db', `postgres://resonode:hunter2-secret@127.0.0.1:${CLOSED_PORT}/x?connect_timeout=5`])
  t.is(down.status, 1)
  t.regex(down.stderr, /ERR_DATABASE_UNAVAILABLE/)
  t.false(down.stderr.includes('hunter2'), down.stderr)
})

test('an unreachable server rejects the first call with ERR_DATABASE_UNAVAILABLE; a later call connects', async (t) => {
  // Nothing listens yet: the constructor does not connect, the call rejects.
  const url = withPassword(`postgres://resonode@127.0.0.1:${later.port}/postgres`)
  const library = new Library({ url, connectTimeoutMs: 5000 })
  const e = await t.throwsAsync(library.list(), { code: 'ERR_DATABASE_UNAVAILABLE' })
  t.is(e.name, 'DatabaseUnavailableError')
  t.true(e.message.includes(`postgres://resonode@127.0.0.1:${later.port}/postgres`), e.message)
  t.false(e.message.includes('hunter2'), e.message)
  // The server comes up: the same handle works, and keeps working across a restart.
  await later.start()
  t.deepEqual(await library.list(), [])
  await later.stop()
  await t.throwsAsync(library.beginSession('x'), { code: 'ERR_DATABASE_UNAVAILABLE' })
  await later.start()
  t.is(typeof (await library.beginSession('x')), 'number')
  library.close()
  // A closed port, through a URL string.
  const closed = new Library(`postgresql://resonode:hunter2-secret@127.0.0.1:${CLOSED_PORT}/x`, { connectTimeoutMs: 5000 })
  const e2 = await t.throwsAsync(closed.scan(musicDir), { code: 'ERR_DATABASE_UNAVAILABLE' })
  t.false(e2.message.includes('hunter2'), e2.message)
})

test('bad URLs and options of the other database throw ERR_INVALID_PARAMETER at once, without the password', (t) => {
  const bad = [
    () => new Library({ url: 'postgres://resonode:hunter2-secret@127.0.0.1:notaport/x' }),
    () => new Library('postgres://resonode:hunter2-secret@127.0.0.1/x?sslmode=sometimes'),
    () => new Library({ url: 'postgres://resonode:hunter2-secret@127.0.0.1/x?unknown_parameter=1' }),
    () => new Library({ url: 'music.db' }),
    () => new Library({ url: 'postgres://h/x', path: 'a.db' }),
    () => new Library({ path: 'postgres://h/x' }),
    () => new Library({ url: 'postgres://h/x', busyTimeoutMs: 100 }),
    () => new Library({ path: join(tempDir(), 'a.db'), connectTimeoutMs: 100 }),
    () => new Library({ url: 'postgres://h/x', connectTimeoutMs: 0 }),
    () => new Library({ url: 'postgres://h/x' }, { connectTimeoutMs: 100 }),
    () => new Library({ url: 'postgres://h/x', timeout: 100 }),
  ]
  for (const make of bad) {
    const e = t.throws(make, undefined, make.toString())
    t.is(e.code, 'ERR_INVALID_PARAMETER', `${make}: ${e.message}`)
    t.false(e.message.includes('hunter2'), e.message)
  }
  t.regex(t.throws(bad[1]).message, /sslmode=sometimes: not one of disable, allow, prefer, require, verify-ca, verify-full/)
  // A raw `?` in the password would cut it there (the parser quoting the
  // rest): refused with the hint, no part of the password shown.
  const raw = t.throws(() => new Library('postgres://resonode:hunter2?secret@127.0.0.1/x'), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(raw.message, /percent-encode the password/)
  t.false(raw.message.includes('hunter2') || raw.message.includes('secret'), raw.message)
  // Valid shapes construct without touching the network.
  const l = new Library('POSTGRES://resonode:pw@db.invalid:6543/music?application_name=x&connect_timeout=2')
  t.is(l.location, 'postgres://resonode@db.invalid:6543/music')
  t.is(l.backend, 'postgres')
  l.close()
})
