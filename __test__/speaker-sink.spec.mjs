// SpeakerSink({ stemIndex, stemChannels, sampleRate }) on the PulseAudio
// test server: what it plays into the null sink `resonull` is recorded
// back from the sink's monitor by an input-only RealtimeProcessor (its
// 'audio' tap), a real loopback. Fails, rather than skips, without a server.
import test from 'ava'
import { lib, concat, goertzel, tone, usePulseAudio } from './helpers.mjs'

const { RealtimeProcessor, StreamingPipeline, CallbackSource, SpeakerSink, Gain } = lib

usePulseAudio()

const RATE = 48000
// At 1024 frames the server's loopback is bit-exact on this VM (see realtime.spec.mjs).
const BUFFER = 1024

/** Amplitude of `freq` in `x`, sampled at RATE. */
const amplitude = (x, freq) => goertzel(x, freq, RATE)

/**
 * Plays a 2-stem stream (stem 0: 440 Hz, stem 1: 1000 Hz, mono stems) at
 * `streamRate` through `sink` while recording resonull's monitor; returns
 * the recording's loudest stretch (the playback) and the pipeline stats.
 */
async function playAndRecord(sink, streamRate) {
  const frames = 2 * streamRate
  const stems = [tone(440, frames, streamRate), tone(1000, frames, streamRate)]
  const chunks = []
  for (let i = 0; i < frames; i += 4096) chunks.push(stems.map((c) => c.slice(i, i + 4096)))
  const rec = new RealtimeProcessor({
    processors: [new Gain({ db: 0 })],
    config: { channelsIn: 1, channelsOut: 0, bufferSize: BUFFER, sampleRate: RATE, inputDevice: 'resonull.monitor' },
    tapFrames: 4 * RATE,
  })
  const blocks = []
  rec.on('audio', (ch) => blocks.push(ch[0]))
  await rec.start()
  await new Promise((r) => setTimeout(r, 300))
  const stats = await new StreamingPipeline({ source: new CallbackSource(chunks, { sampleRate: streamRate }), sink }).run()
  await new Promise((r) => setTimeout(r, 300))
  await rec.stop()
  await new Promise((r) => setTimeout(r, 100))
  const x = concat(blocks)
  // The middle second of the playback: from the first loud sample on.
  const start = x.findIndex((v) => Math.abs(v) > 0.05)
  return { played: start < 0 ? new Float32Array(0) : x.subarray(start + RATE / 2, start + RATE / 2 + RATE), stats, frames }
}

test.serial('SpeakerSink({ stemIndex: 1, stemChannels: 1 }) plays stem 1 (1000 Hz), not stem 0 (440 Hz)', async (t) => {
  const sink = new SpeakerSink({ device: 'resonull', bufferSize: BUFFER, stemIndex: 1, stemChannels: 1 })
  const { played, stats, frames } = await playAndRecord(sink, RATE)
  t.is(stats.framesProcessed, frames)
  t.is(sink.framesPlayed, frames)
  t.is(played.length, RATE, 'a second of playback was recorded')
  const a1000 = amplitude(played, 1000)
  const a440 = amplitude(played, 440)
  t.log(`1000 Hz: ${a1000.toFixed(4)}, 440 Hz: ${a440.toFixed(5)}`)
  t.true(Math.abs(a1000 - 0.3) < 0.05, `1000 Hz at amplitude ${a1000}, played at 0.3`)
  t.true(a440 < 0.003, `440 Hz at amplitude ${a440}: stem 0 leaked`)
})

test.serial('SpeakerSink({ sampleRate: 48000, stemIndex: 1 }) plays a 44.1 kHz stream at the right pitch', async (t) => {
  const sink = new SpeakerSink({ device: 'resonull', bufferSize: BUFFER, sampleRate: RATE, stemIndex: 1, stemChannels: 1 })
  const { played, frames } = await playAndRecord(sink, 44100)
  t.is(sink.framesPlayed, Math.round((frames * RATE) / 44100))
  t.is(played.length, RATE)
  // Unresampled 44.1 kHz samples on a 48 kHz device would sound at 1088 Hz.
  let peak = { freq: 0, amp: 0 }
  for (let f = 950; f <= 1150; f += 1) {
    const amp = amplitude(played, f)
    if (amp > peak.amp) peak = { freq: f, amp }
  }
  t.log(`peak ${peak.freq} Hz at ${peak.amp.toFixed(4)}; 440 Hz: ${amplitude(played, 440).toFixed(5)}`)
  t.true(Math.abs(peak.freq - 1000) <= 2, `peak at ${peak.freq} Hz`)
  t.true(Math.abs(peak.amp - 0.3) < 0.05, `amplitude ${peak.amp}`)
  t.true(amplitude(played, 440) < 0.003)
})
