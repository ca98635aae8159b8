// RealtimeProcessor.levels(): peak and RMS per channel measured inside the
// audio callback, on the clocked `none` backend with a known input
// (`noneInput`, played in a loop). Theory: a sine of amplitude A peaks at
// 20 log10(A) dBFS and has an RMS of 20 log10(A / sqrt 2) dBFS; a gain of
// g dB moves both by g dB; silence reads the -120 dBFS floor.
import test from 'ava'
import { lib } from './helpers.mjs'

const { RealtimeProcessor, Gain } = lib

const RATE = 48000
const FLOOR = -120
const dbfs = (a) => 20 * Math.log10(a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Interleaved 1 kHz sines (48-frame periods, whole periods in the loop), one amplitude per channel. */
function sines(amplitudes, frames = 4800) {
  const ch = amplitudes.length
  const out = new Float32Array(frames * ch)
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) out[i * ch + c] = amplitudes[c] * Math.sin((2 * Math.PI * 1000 * i) / RATE)
  }
  return out
}

async function running(options) {
  const rt = new RealtimeProcessor({ backend: 'none', readBufferFrames: 0, statsIntervalMs: 0, ...options })
  await rt.start()
  return rt
}

function near(t, got, want, tol, what) {
  t.true(Math.abs(got - want) <= tol, `${what}: ${got} vs ${want} ±${tol}`)
}

test('a 0.5 sine reads -6.02 dBFS peak and -9.03 dBFS RMS at the input; a -6 dB gain puts the output 6 dB lower', async (t) => {
  const rt = await running({ processors: [new Gain({ db: -6 })], config: { bufferSize: 256, channelsIn: 1, channelsOut: 2 }, noneInput: sines([0.5]) })
  try {
    // Past the duplex queue's priming silence and the gain's initial ramp.
    await sleep(200)
    rt.levels()
    await sleep(300)
    const l = rt.levels()
    t.is(l.input.peakDbfs.length, 1)
    t.is(l.output.peakDbfs.length, 2)
    t.true(l.frames > 0.1 * RATE, `frames ${l.frames}`)
    near(t, l.input.peakDbfs[0], -6.02, 0.1, 'input peak')
    near(t, l.input.rmsDbfs[0], -9.03, 0.1, 'input rms')
    // The mono input feeds both output channels.
    for (const c of [0, 1]) {
      near(t, l.output.peakDbfs[c], -6.02 - 6, 0.1, `output peak ${c}`)
      near(t, l.output.rmsDbfs[c], -9.03 - 6, 0.1, `output rms ${c}`)
    }
    // JSON-safe: no -Infinity anywhere.
    t.deepEqual(JSON.parse(JSON.stringify(l)), l)
  } finally {
    await rt.stop()
  }
})

test('channels are measured separately', async (t) => {
  const amps = [0.5, 0.1, 0.9]
  const rt = await running({ config: { bufferSize: 128, channelsIn: 3, channelsOut: 3 }, noneInput: sines(amps) })
  try {
    await sleep(200)
    rt.levels()
    await sleep(300)
    const l = rt.levels()
    for (const side of [l.input, l.output]) {
      for (const [c, a] of amps.entries()) {
        near(t, side.peakDbfs[c], dbfs(a), 0.1, `peak ${c}`)
        near(t, side.rmsDbfs[c], dbfs(a / Math.SQRT2), 0.1, `rms ${c}`)
      }
    }
  } finally {
    await rt.stop()
  }
})

test('silence reads the -120 dBFS floor; an output-only engine has no input levels, an input-only one no output levels', async (t) => {
  // Input channels without noneInput: the none backend's input is silence.
  const duplex = await running({ config: { bufferSize: 256, channelsIn: 2, channelsOut: 2 } })
  await sleep(100)
  const quiet = duplex.levels()
  await duplex.stop()
  t.true(quiet.frames > 0)
  t.deepEqual(quiet.input, { peakDbfs: [FLOOR, FLOOR], rmsDbfs: [FLOOR, FLOOR] })
  t.deepEqual(quiet.output, { peakDbfs: [FLOOR, FLOOR], rmsDbfs: [FLOOR, FLOOR] })

  const out = await running({ config: { bufferSize: 256, channelsIn: 0, channelsOut: 2 } })
  await sleep(100)
  const o = out.levels()
  await out.stop()
  t.is(o.input, null)
  t.deepEqual(o.output.rmsDbfs, [FLOOR, FLOOR])

  const inp = await running({ config: { bufferSize: 256, channelsIn: 1, channelsOut: 0 }, noneInput: sines([0.25]) })
  await sleep(100)
  const i = inp.levels()
  await inp.stop()
  t.is(i.output, null)
  near(t, i.input.peakDbfs[0], dbfs(0.25), 0.1, 'input-only peak')
})

test('each call covers only the frames since the previous one', async (t) => {
  // One second of a 0.5 sine, then one second of silence, looped: windows
  // inside the loud half read -6.02, a window spanning both halves reads
  // between, and consecutive windows add up to every frame rendered.
  const loud = sines([0.5], RATE)
  const input = new Float32Array(2 * RATE)
  input.set(loud)
  const rt = await running({ config: { bufferSize: 256, channelsIn: 1, channelsOut: 1 }, noneInput: input })
  let total = 0
  try {
    const first = rt.levels()
    total += first.frames
    // Immediately after: only the frames rendered in between (a few buffers).
    const next = rt.levels()
    total += next.frames
    t.true(next.frames < 0.05 * RATE, `right after: ${next.frames} frames`)
    await sleep(3000)
    const long = rt.levels()
    total += long.frames
    // 3 s of the loop: 1.5 loud seconds, or more; never the floor, never the full loud RMS.
    t.true(long.input.rmsDbfs[0] < -9.03 - 1.5 && long.input.rmsDbfs[0] > -9.03 - 5.2, `mixed window rms ${long.input.rmsDbfs[0]}`)
    near(t, long.input.peakDbfs[0], -6.02, 0.1, 'mixed window peak')
    const frames = rt.stats.framesProcessed
    total += rt.levels().frames
    // The meters saw exactly the frames the engine rendered up to the last call.
    t.true(total >= frames && total - frames < 0.05 * RATE, `levels frames ${total}, stats frames ${frames}`)
  } finally {
    await rt.stop()
  }
})

test('levels() throws ERR_INVALID_STATE when not running', async (t) => {
  const rt = new RealtimeProcessor({ backend: 'none', readBufferFrames: 0, config: { bufferSize: 256, channelsOut: 2 } })
  t.is(t.throws(() => rt.levels()).code, 'ERR_INVALID_STATE')
  await rt.start()
  t.truthy(rt.levels())
  await rt.stop()
  const e = t.throws(() => rt.levels())
  t.is(e.code, 'ERR_INVALID_STATE')
  t.regex(e.message, /levels\(\)/)
  // An engine that finished by itself (maxFrames) is not running either.
  const done = new RealtimeProcessor({ backend: 'none', readBufferFrames: 0, maxFrames: 512, config: { bufferSize: 256, channelsOut: 2 } })
  const finished = new Promise((r) => done.once('finished', r))
  await done.start()
  await finished
  t.is(t.throws(() => done.levels()).code, 'ERR_INVALID_STATE')
  await done.stop()
})
