// The mixer: a MixerSession on a file stream (features, predictions and
// recommendations events, the session and its plays stored, feedback), and
// a rendered beat-matched transition checked with the analyzer.
import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { lib, cli, tempDir } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'

const { Library, MixerSession, mixTransition, analyze } = lib
const name = (p) => p.split('/').pop().replace(/\.wav$/, '')

let songsDir
let songs
test.before(async () => {
  songsDir = join(tempDir(), 'songs')
  songs = await renderSongs(songsDir)
})

test('a mixer session on a file stream emits features, predictions and recommendations and stores its plays', async (t) => {
  const library = new Library(join(tempDir(), 'lib.db'))
  await library.scan(songsDir)
  const session = new MixerSession({ library, source: songs['ref-120-C'], playing: songs['ref-120-C'], refreshS: 4, limit: 3 })
  const seen = { features: [], predictions: [], recommendations: [] }
  for (const k of Object.keys(seen)) session.on(k, (v) => seen[k].push(v))
  const errors = []
  session.on('error', (e) => errors.push(e))
  await session.start()
  await session.done()
  await session.stop()
  t.deepEqual(errors, [])
  // 16 s of audio, a refresh every 4 s of it, plus one at the end.
  t.true(seen.features.length >= 3 && seen.features.length <= 5, `${seen.features.length} refreshes`)
  t.is(seen.predictions.length, seen.features.length)
  t.true(seen.recommendations.length >= 2)
  const f = session.features
  t.true(Math.abs(f.tempoBpm - 120) < 2, `live tempo ${f.tempoBpm}`)
  t.is(f.camelot, '8B')
  t.true(f.loudnessLufs < -5 && f.loudnessLufs > -30, `${f.loudnessLufs} LUFS`)
  t.is(f.summary.length, 44)
  t.true(f.timeS > 15.9)
  const p = session.predictions
  t.true(p.nextBeatsS.length > 0 && p.nextBeatsS[0] > p.lastBeatS)
  t.true(Math.abs(p.nextBeatsS[1] - p.nextBeatsS[0] - 0.5) < 0.02, 'next beats 0.5 s apart at 120 BPM')
  t.true(['rising', 'steady', 'dropping'].includes(p.energyTrend))
  // What is playing is left out; the rest ranks as the track-based ranking does.
  const recs = session.recommendations
  t.deepEqual(recs.map((r) => name(r.path)), ['same-120-C', 'adj-123-G', 'clash-120-Fs'])
  // The session and its play are stored; feedback goes with the session.
  const fb = await session.addFeedback(null, recs[1].trackId, true, 0.8)
  t.true(fb.model.updates === 1 && fb.components.harmonic === 0.9)
  await session.play(recs[1].trackId)
  const stored = await library.session(session.id)
  t.is(stored.plays.length, 2)
  t.is(stored.plays[0].trackId, (await library.get(songs['ref-120-C'])).id)
  t.is(stored.plays[1].trackId, recs[1].trackId)
  t.truthy(stored.endedAt)
  t.is(stored.source, songs['ref-120-C'])
  library.close()
})

test('bad mixer session options are refused with typed errors', (t) => {
  const library = new Library(join(tempDir(), 'lib.db'))
  t.is(t.throws(() => new MixerSession({ library })).code, 'ERR_INVALID_PARAMETER')
  t.is(t.throws(() => new MixerSession({ library, source: songs['ref-120-C'], refreshS: 0 })).code, 'ERR_INVALID_PARAMETER')
  t.is(t.throws(() => new MixerSession({ source: songs['ref-120-C'] })).code, 'ERR_INVALID_PARAMETER')
  library.close()
})

test('a mixer session playing a track outside the library fails at start, storing nothing', async (t) => {
  const library = new Library(join(tempDir(), 'lib.db'))
  const session = new MixerSession({ library, source: songs['ref-120-C'], playing: songs['ref-120-C'] })
  await t.throwsAsync(session.start(), { code: 'ERR_TRACK_NOT_FOUND' })
  t.is(session.id, null)
  library.close()
  await t.throwsAsync(library.scan(songsDir), { code: 'ERR_INVALID_STATE' })
})

test('a rendered transition keeps the beat through the crossfade (analyzer beats within 20 ms of the grid)', async (t) => {
  const out = join(tempDir(), 'transition.wav')
  const a = songs['ref-120-C']
  const b = songs['adj-123-G']
  const r = await mixTransition(a, b, { out, crossfadeBeats: 8, tailBeats: 8 })
  t.true(Math.abs(r.tempoABpm - 120) < 1 && Math.abs(r.tempoBBpm - 123) < 1.5, `${r.tempoABpm} / ${r.tempoBBpm}`)
  t.is(r.tempoMultiple, 1)
  t.true(Math.abs(r.stretchRatio - r.tempoABpm / r.tempoBBpm) < 1e-9)
  t.true(Math.abs(r.crossfadeEndS - r.crossfadeStartS - 8 * 60 / r.tempoABpm) < 0.01)
  const got = await analyze(out)
  t.true(Math.abs(got.tempoBpm - r.tempoABpm) < 1, `output tempo ${got.tempoBpm}`)
  // Every expected beat inside the crossfade has a detected beat within 20 ms.
  const inFade = r.expectedBeats.filter((x) => x >= r.crossfadeStartS && x <= r.crossfadeEndS)
  t.true(inFade.length >= 7, `${inFade.length} beats in the crossfade`)
  const errs = inFade.map((x) => Math.min(...got.beats.map((y) => Math.abs(y - x))))
  const worst = Math.max(...errs)
  t.true(worst < 0.02, `beat errors across the crossfade (ms): ${errs.map((e) => (e * 1000).toFixed(1)).join(' ')}`)
  t.log(`crossfade beat error: median ${(errs.sort((x, y) => x - y)[errs.length >> 1] * 1000).toFixed(1)} ms, max ${(worst * 1000).toFixed(1)} ms`)
  // Loudness matched: the tail (B alone) sits near A's loudness.
  t.true(Math.abs(r.gainBDb - (r.loudnessALufs - r.loudnessBLufs)) < 0.01 || Math.abs(r.gainBDb) === 12)
  // The CLI renders the same transition.
  const cliOut = join(tempDir(), 'cli.wav')
  const json = await new Promise((resolve, reject) =>
    execFile(process.execPath, [cli, 'mix', a, b, cliOut, '--crossfade-beats', '8', '--json'], { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)))),
  )
  t.is(json.stretchRatio, r.stretchRatio)
  t.is(json.out, cliOut)
})

test('transitions refuse bad input with typed errors', async (t) => {
  const out = join(tempDir(), 'x.wav')
  await t.throwsAsync(mixTransition(songs['ref-120-C'], '/no/such.wav', { out }), { code: 'ERR_NOT_FOUND' })
  await t.throwsAsync(mixTransition(songs['ref-120-C'], songs['adj-123-G'], { out, crossfadeBeats: 0 }), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(mixTransition(songs['ref-120-C'], songs['adj-123-G'], { out, crossfadeBeats: 64 }), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(mixTransition(songs['ref-120-C'], songs['adj-123-G'], {}), { code: 'ERR_INVALID_PARAMETER' })
})
