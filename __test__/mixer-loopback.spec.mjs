// A MixerSession on live input over a real loopback: a song of known tempo
// and key is played into the PulseAudio null sink `resonull` while an
// input-only RealtimeProcessor records its monitor; the session analyses
// the engine's tapped audio (on the pump thread, never in the callback)
// and must emit features, predictions and recommendations that match the
// song. Runs with the live specs (ava.realtime.config.mjs).
import test from 'ava'
import { join } from 'node:path'
import { lib, tempDir, usePulseAudio } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'

const { RealtimeProcessor, StreamingPipeline, FileSource, SpeakerSink, Library, MixerSession } = lib

usePulseAudio()

const BUFFER = 1024
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const name = (p) => p.split('/').pop().replace(/\.wav$/, '')

test.serial('loopback: a mixer session on live input emits all three event kinds, matching the song played', async (t) => {
  const songsDir = join(tempDir(), 'songs')
  const songs = await renderSongs(songsDir)
  const library = new Library(join(tempDir(), 'lib.db'))
  await library.scan(songsDir)
  for (let attempt = 1; attempt <= 2; attempt++) {
    const rt = new RealtimeProcessor({ config: { sampleRate: 44100, channelsIn: 2, channelsOut: 0, bufferSize: BUFFER, inputDevice: 'resonull.monitor' } })
    const session = new MixerSession({ library, realtime: rt, refreshS: 3, limit: 3, playing: songs['ref-120-C'] })
    const seen = { features: 0, predictions: 0, recommendations: 0 }
    for (const k of Object.keys(seen)) session.on(k, () => seen[k]++)
    const errors = []
    session.on('error', (e) => errors.push(e))
    await session.start()
    await rt.start()
    await sleep(300)
    await new StreamingPipeline({ source: new FileSource(songs['ref-120-C']), sink: new SpeakerSink({ device: 'resonull', bufferSize: BUFFER }) }).run()
    await sleep(1500)
    const stats = await rt.stop()
    await session.stop()
    const f = session.features
    const recs = session.recommendations
    t.log(`attempt ${attempt}: events ${JSON.stringify(seen)}, tempo ${f?.tempoBpm}, key ${f?.camelot}, ${f?.loudnessLufs} LUFS, recs ${recs?.map((r) => name(r.path)).join(' ')}; xruns ${stats.xruns}, tap dropped ${stats.tapDropped}`)
    const ok = seen.features >= 3 && seen.recommendations >= 2 && f?.tempoBpm && Math.abs(f.tempoBpm - 120) < 2.4 && f.camelot === '8B'
    if (!ok && attempt < 2 && (stats.tapDropped > 0 || stats.xruns > 0)) {
      t.log('the server damaged the loopback; measuring again')
      continue
    }
    t.deepEqual(errors, [])
    t.true(seen.features >= 3, `${seen.features} features events for ~16 s at refreshS 3`)
    t.true(seen.predictions >= 3)
    t.true(seen.recommendations >= 2)
    t.true(Math.abs(f.tempoBpm - 120) < 2.4, `live tempo ${f.tempoBpm}`)
    t.is(f.camelot, '8B')
    t.true(session.predictions.nextBeatsS.length > 0)
    // The song being played is left out; its twin ranks first.
    t.is(name(recs[0].path), 'same-120-C')
    t.false(recs.some((r) => name(r.path) === 'ref-120-C'))
    const stored = await library.session(session.id)
    t.is(stored.source, 'live')
    t.truthy(stored.endedAt)
    library.close()
    return
  }
})
