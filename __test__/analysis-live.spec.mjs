// Live analysis on the clocked `none` backend (no audio server): an Analyzer
// attached to a RealtimeProcessor is fed the engine's tapped audio on the
// pump thread. The input is a known signal played in a loop (`noneInput`),
// so the true beat grid is known exactly: stream time t (s of tapped audio)
// has a beat wherever t = FIRST + k * PERIOD.
import test from 'ava'
import { lib } from './helpers.mjs'

const { RealtimeProcessor, Analyzer, Gain } = lib

const RATE = 48000
const BPM = 120
const PERIOD = 60 / BPM
// First beat of the loop (s); the loop holds a whole number of beats, so the
// grid continues across the loop seam.
const FIRST = 0.1
const LOOP_S = 2
const SECONDS = 12

/** Seeded uniform noise in [-1, 1). */
function rng(seed) {
  let s = seed >>> 0
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1
}

/** 5 ms decaying 1 kHz bursts at FIRST + k * PERIOD, over faint noise, LOOP_S long. */
function clickLoop() {
  const x = new Float32Array(LOOP_S * RATE)
  const rand = rng(7)
  for (let i = 0; i < x.length; i++) x[i] = 0.001 * rand()
  for (let b = FIRST; b < LOOP_S; b += PERIOD) {
    const at = Math.round(b * RATE)
    for (let i = 0; i < 0.03 * RATE; i++) {
      const t = i / RATE
      x[at + i] += 0.5 * Math.exp(-t / 0.005) * Math.sin(2 * Math.PI * 1000 * t)
    }
  }
  return x
}

/** A drum-like bar at BPM: kick on beats 1 and 3, snare on 2 and 4, hi-hat on eighths; stereo (interleaved), LOOP_S long. */
function drumLoop() {
  const n = LOOP_S * RATE
  const x = new Float32Array(n)
  const rand = rng(11)
  const add = (at, len, f) => {
    for (let i = 0; i < len && at + i < n; i++) x[at + i] += f(i / RATE)
  }
  let k = 0
  for (let b = FIRST; b < LOOP_S; b += PERIOD, k++) {
    const at = Math.round(b * RATE)
    if (k % 2 === 0) {
      // Kick: a sine gliding from 120 to 50 Hz, 150 ms decay, with a click.
      let phase = 0
      let last = 0
      add(at, 0.3 * RATE, (t) => {
        const f = 50 + 70 * Math.exp(-t / 0.03)
        phase += (2 * Math.PI * f * (t - last))
        last = t
        return 0.7 * Math.exp(-t / 0.15) * Math.sin(phase) + (t < 0.002 ? 0.3 * rand() : 0)
      })
    } else {
      // Snare: noise plus 190 Hz body, 80 ms decay.
      add(at, 0.25 * RATE, (t) => Math.exp(-t / 0.08) * (0.4 * rand() + 0.3 * Math.sin(2 * Math.PI * 190 * t)))
    }
    // Hi-hats on the beat and the off-beat: crude high-passed noise, 20 ms decay.
    for (const h of [0, PERIOD / 2]) {
      let prev = 0
      add(Math.round((b + h) * RATE), 0.08 * RATE, (t) => {
        const w = rand()
        const v = w - prev
        prev = w
        return 0.08 * Math.exp(-t / 0.02) * v
      })
    }
  }
  const stereo = new Float32Array(2 * n)
  for (let i = 0; i < n; i++) {
    stereo[2 * i] = x[i]
    stereo[2 * i + 1] = 0.8 * x[i]
  }
  return stereo
}

/** Distance (s) from `t` to the nearest beat of the known grid. */
function gridError(t) {
  const k = Math.round((t - FIRST) / PERIOD)
  return Math.abs(t - FIRST - k * PERIOD)
}

/**
 * Runs a `none`-backend engine over `input` (interleaved, `channelsIn`
 * channels) for `seconds` with an attached Analyzer and an 'audio' listener;
 * resolves after 'finished' with the analyzer's final state and what was seen.
 */
async function runLive({ input, channelsIn, channelsOut, seconds, processors = [] }) {
  const analyzer = new Analyzer()
  const updates = []
  analyzer.on('update', (s) => updates.push(s))
  const errors = []
  analyzer.on('error', (e) => errors.push(e))
  const rt = new RealtimeProcessor({
    processors,
    backend: 'none',
    config: { sampleRate: RATE, bufferSize: 512, channelsIn, channelsOut },
    noneInput: input,
    maxFrames: seconds * RATE,
    // 4 s of tap: a pump thread kept off the CPU by other spec files must not
    // lose tapped audio (this spec is not about the tap's capacity).
    tapFrames: 4 * RATE,
  })
  analyzer.attach(rt)
  let tappedFrames = 0
  rt.on('audio', (ch) => (tappedFrames += ch[0].length))
  const finished = new Promise((r) => rt.once('finished', r))
  await rt.start()
  await finished
  const stats = await rt.stop()
  return {
    analyzer,
    state: analyzer.state,
    tempo: analyzer.tempo,
    beats: analyzer.beats,
    trend: analyzer.energyTrend,
    key: analyzer.key,
    features: analyzer.features,
    updates,
    errors,
    stats,
    tappedFrames,
  }
}

function checkBeats(t, r, label) {
  t.deepEqual(r.errors, [], `${label}: analyzer errors`)
  t.is(r.stats.tapDropped, 0, `${label}: tap dropped frames`)
  // An input-only engine's unread capture queue is emptied by the pump, not
  // counted as an overrun on every callback.
  t.is(r.stats.xruns, 0, `${label}: xruns`)
  // The analyzer saw exactly the tapped audio: its stream time is the tap's.
  t.is(r.tappedFrames, SECONDS * RATE, `${label}: tapped frames`)
  t.is(r.state.timeS, r.tappedFrames / RATE, `${label}: analyzer stream time vs tapped audio`)
  t.true(r.updates.length >= 10, `${label}: ${r.updates.length} updates`)

  t.truthy(r.tempo, `${label}: no tempo`)
  const relErr = Math.abs(r.tempo.bpm - BPM) / BPM
  t.log(`${label}: tempo ${r.tempo.bpm.toFixed(3)} BPM (confidence ${r.tempo.confidence.toFixed(3)}), ${r.updates.length} updates, trend ${JSON.stringify(r.trend)}`)
  t.true(relErr < 0.02, `${label}: tempo ${r.tempo.bpm} BPM`)

  t.truthy(r.trend, `${label}: no energy trend`)
  t.true(['rising', 'steady', 'dropping'].includes(r.trend.trend))
  t.true(Number.isFinite(r.trend.changeDb))
  // A looped signal has a constant level.
  t.is(r.trend.trend, 'steady', `${label}: ${JSON.stringify(r.trend)}`)
  t.truthy(r.features, `${label}: no latest frame`)

  const { beats } = r
  t.truthy(beats, `${label}: no beats`)
  t.true(beats.nextBeatsS.length > 0)
  const errsMs = beats.nextBeatsS.map((b) => {
    const k = Math.round((b - FIRST) / PERIOD)
    return (b - FIRST - k * PERIOD) * 1000
  })
  t.log(`${label}: lastBeatS ${beats.lastBeatS.toFixed(4)} (${(((beats.lastBeatS - FIRST) / PERIOD - Math.round((beats.lastBeatS - FIRST) / PERIOD)) * PERIOD * 1000).toFixed(1)} ms off the grid), now ${r.state.timeS} s`)
  t.log(`${label}: predicted-beat errors (ms, signed, + = late): ${errsMs.map((e) => e.toFixed(1)).join(' ')}`)
  for (const [i, b] of beats.nextBeatsS.entries()) {
    t.true(b > beats.lastBeatS, `${label}: beat ${b} not after the last beat`)
    t.true(b > r.state.timeS - PERIOD, `${label}: predicted beat ${b} lies in the past (now ${r.state.timeS})`)
    t.true(gridError(b) < 0.03, `${label}: predicted beat ${i} at ${b.toFixed(4)} s is ${(gridError(b) * 1000).toFixed(1)} ms off the click grid`)
  }
  t.true(gridError(beats.lastBeatS) < 0.03, `${label}: last beat ${beats.lastBeatS} is ${(gridError(beats.lastBeatS) * 1000).toFixed(1)} ms off the grid`)

  // Every update after the first few seconds predicts on the grid too.
  const late = r.updates.filter((u) => u.timeS >= 8 && u.tempoBpm != null)
  t.true(late.length >= 3, `${label}: ${late.length} updates with a tempo after 8 s`)
  const worst = Math.max(...late.flatMap((u) => u.nextBeats.map(gridError)))
  t.log(`${label}: worst predicted-beat error over the updates after 8 s: ${(worst * 1000).toFixed(1)} ms`)
  t.true(worst < 0.03, `${label}: an update predicted a beat ${(worst * 1000).toFixed(1)} ms off the grid`)
}

test('input-only engine on a 120 BPM click track: tempo, energy trend, updates, predicted beats on the click grid', async (t) => {
  const r = await runLive({ input: clickLoop(), channelsIn: 1, channelsOut: 0, seconds: SECONDS })
  checkBeats(t, r, 'clicks')
})

test('duplex engine (Gain) on a 120 BPM drum loop: tempo and predicted beats on the beat grid', async (t) => {
  const r = await runLive({ input: drumLoop(), channelsIn: 2, channelsOut: 2, seconds: SECONDS, processors: [new Gain({ db: -3 })] })
  checkBeats(t, r, 'drums')
})

test('silence (NaN-free zeros) gives no tempo, no beats and no key', async (t) => {
  const r = await runLive({ input: new Float32Array(RATE), channelsIn: 1, channelsOut: 0, seconds: 10 })
  t.deepEqual(r.errors, [])
  t.true(r.updates.length >= 9, `${r.updates.length} updates`)
  t.is(r.tempo, null)
  t.is(r.beats, null)
  t.is(r.key, null)
  t.is(r.state.tempoBpm ?? null, null)
  t.deepEqual(r.state.nextBeats, [])
  t.is(r.trend?.trend, 'steady')
})
