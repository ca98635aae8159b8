// bandSpectrum(): the log-band spectrum of the last nFft frames of a block.
// Checked against theory (a sine of amplitude A reads 20 log10(A) dB in its
// band; white noise of variance s^2 reads 10 log10(4 s^2 * bandwidth / fs))
// and against a direct DFT of the documented formula written out in JS.
import test from 'ava'
import { lib } from './helpers.mjs'

const { bandSpectrum } = lib

const RATE = 48000
const dbfs = (a) => 20 * Math.log10(a)

function tone(f, a, frames, phase = 0.3) {
  const x = new Float32Array(frames)
  for (let i = 0; i < frames; i++) x[i] = a * Math.sin((2 * Math.PI * f * i) / RATE + phase)
  return x
}

function add(...xs) {
  const out = new Float32Array(xs[0].length)
  for (const x of xs) for (let i = 0; i < x.length; i++) out[i] += x[i]
  return out
}

/** Seeded Gaussian noise (xorshift32 + Box-Muller), variance sigma^2. */
function noise(frames, sigma, seed) {
  let s = seed >>> 0 || 1
  const u = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return (s + 1) / 2 ** 32
  }
  const x = new Float32Array(frames)
  for (let i = 0; i < frames; i++) x[i] = sigma * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())
  return x
}

/** Band edges as documented: fMin * (fMax / fMin)^(i / bands). */
function edges(bands, fMin, fMax) {
  return Array.from({ length: bands + 1 }, (_, i) => fMin * (fMax / fMin) ** (i / bands))
}

function loudest(db) {
  let best = 0
  for (let i = 1; i < db.length; i++) if (db[i] > db[best]) best = i
  return best
}

test('a 1 kHz sine of amplitude 0.5 reads -6.02 dB in the band that contains 1 kHz', (t) => {
  const { bandsDb, centerHz } = bandSpectrum([tone(1000, 0.5, 4096)], RATE)
  t.true(bandsDb instanceof Float32Array && centerHz instanceof Float32Array)
  t.is(bandsDb.length, 64)
  t.is(centerHz.length, 64)
  const e = edges(64, 30, 16000)
  const b = loudest(bandsDb)
  t.true(e[b] <= 1000 && 1000 < e[b + 1], `loudest band ${b}: ${e[b]}..${e[b + 1]} Hz`)
  t.true(Math.abs(centerHz[b] - Math.sqrt(e[b] * e[b + 1])) < 0.01 * centerHz[b], `centre ${centerHz[b]}`)
  t.true(Math.abs(bandsDb[b] - dbfs(0.5)) <= 0.5, `${bandsDb[b]} dB`)
  // Hann's leakage stays far below beyond a few bands.
  for (let i = 0; i < 64; i++) if (Math.abs(i - b) > 3) t.true(bandsDb[i] < -60, `band ${i}: ${bandsDb[i]} dB`)
})

test('two tones read their own amplitudes in their own bands', (t) => {
  const x = add(tone(440, 0.5, 8192), tone(5000, 0.1, 8192, 1.1))
  const { bandsDb, centerHz } = bandSpectrum([x], RATE, { nFft: 8192 })
  const e = edges(64, 30, 16000)
  const bandOf = (f) => e.findIndex((lo, i) => lo <= f && f < e[i + 1])
  const [b1, b2] = [bandOf(440), bandOf(5000)]
  t.true(Math.abs(bandsDb[b1] - dbfs(0.5)) <= 0.5, `440 Hz: ${bandsDb[b1]} dB`)
  t.true(Math.abs(bandsDb[b2] - dbfs(0.1)) <= 0.5, `5 kHz: ${bandsDb[b2]} dB`)
  // Each is a local maximum, and between them the spectrum falls far below.
  for (const b of [b1, b2]) t.true(bandsDb[b] > bandsDb[b - 1] && bandsDb[b] > bandsDb[b + 1])
  const mid = bandOf(1500)
  t.true(bandsDb[mid] < -60, `${centerHz[mid]} Hz between the tones: ${bandsDb[mid]} dB`)
})

test('white noise: power per band proportional to its bandwidth, 10 log10(4 s^2 bw / fs)', (t) => {
  // One block's bin powers scatter (chi-square, 2 degrees of freedom): average 32 independent blocks.
  const [bands, fMin, fMax, nFft, sigma, runs] = [24, 100, 20000, 8192, 0.1, 32]
  const sum = new Float64Array(bands)
  for (let r = 0; r < runs; r++) {
    const { bandsDb } = bandSpectrum([noise(nFft, sigma, 1234 + r * 7919)], RATE, { bands, fMinHz: fMin, fMaxHz: fMax, nFft })
    for (let i = 0; i < bands; i++) sum[i] += 10 ** (bandsDb[i] / 10) / runs
  }
  const e = edges(bands, fMin, fMax)
  for (let i = 0; i < bands; i++) {
    const want = 10 * Math.log10((4 * sigma ** 2 * (e[i + 1] - e[i])) / RATE)
    const got = 10 * Math.log10(sum[i])
    // 4 standard deviations of the average: a band of B bins holds about B / 1.5 independent values (Hann's
    // equivalent noise bandwidth is 1.5 bins), each exponentially distributed.
    const bins = ((e[i + 1] - e[i]) * nFft) / RATE
    const tol = Math.max(0.25, 4 * 4.343 / Math.sqrt((runs * bins) / 1.5))
    t.true(Math.abs(got - want) < tol, `band ${i} (${e[i].toFixed(0)}..${e[i + 1].toFixed(0)} Hz): ${got.toFixed(2)} dB, theory ${want.toFixed(2)} ±${tol.toFixed(2)}`)
  }
  // Log-spaced bands double in width every octave: +3 dB per octave.
  const slope = (10 * Math.log10(sum[bands - 1] / sum[0])) / Math.log2(e[bands - 1] / e[0])
  t.true(Math.abs(slope - 3.01) < 0.3, `slope ${slope} dB/octave`)
})

test('matches a direct DFT of the documented formula', (t) => {
  // Reference: periodic Hann, O(N^2) DFT, each bin k covering [(k - 1/2) df, (k + 1/2) df] and counted by the
  // fraction of it inside the band, scaled by 4 / (N sum w^2).
  const [n, bands, fMin, fMax] = [1024, 8, 200, 20000]
  const x = add(noise(n, 0.2, 99), tone(3000, 0.3, n), tone(11000, 0.05, n))
  const w = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n))
  const sumW2 = w.reduce((a, v) => a + v * v, 0)
  const power = new Float64Array(n / 2 + 1)
  for (let k = 0; k <= n / 2; k++) {
    let re = 0
    let im = 0
    for (let i = 0; i < n; i++) {
      const v = x[i] * w[i]
      re += v * Math.cos((2 * Math.PI * k * i) / n)
      im -= v * Math.sin((2 * Math.PI * k * i) / n)
    }
    power[k] = re * re + im * im
  }
  const df = RATE / n
  const e = edges(bands, fMin, fMax)
  const { bandsDb } = bandSpectrum([x], RATE, { bands, fMinHz: fMin, fMaxHz: fMax, nFft: n })
  for (let b = 0; b < bands; b++) {
    let p = 0
    for (let k = 0; k <= n / 2; k++) {
      const overlap = Math.min(e[b + 1], (k + 0.5) * df) - Math.max(e[b], (k - 0.5) * df)
      if (overlap > 0) p += (power[k] * overlap) / df
    }
    const want = 10 * Math.log10((4 / (n * sumW2)) * p)
    t.true(Math.abs(bandsDb[b] - want) < 0.01, `band ${b}: ${bandsDb[b]} vs ${want}`)
  }
})

test('channels are averaged to mono; only the last nFft frames count; a short block still reads its amplitude', (t) => {
  const s = tone(1000, 0.5, 4096)
  const silent = new Float32Array(4096)
  const at1k = (channels, options) => {
    const { bandsDb } = bandSpectrum(channels, RATE, options)
    return bandsDb[loudest(bandsDb)]
  }
  t.true(Math.abs(at1k([s, s]) - dbfs(0.5)) < 0.1)
  t.true(Math.abs(at1k([s, silent]) - dbfs(0.25)) < 0.1)
  // Opposite phases cancel in the downmix.
  t.true(bandSpectrum([s, s.map((v) => -v)], RATE).bandsDb.every((v) => v === -120))
  // A loud 200 Hz start followed by 4096 frames of the 1 kHz tone: only the tone is seen.
  const long = new Float32Array(12288)
  long.set(tone(200, 0.9, 8192))
  long.set(s, 8192)
  const { bandsDb } = bandSpectrum([long], RATE)
  const e = edges(64, 30, 16000)
  const b200 = e.findIndex((lo, i) => lo <= 200 && 200 < e[i + 1])
  t.true(bandsDb[b200] < -60, `200 Hz band: ${bandsDb[b200]} dB`)
  // 50 ms (2400 frames) in a 4096 FFT: zero-padded, normalised by the window under the signal.
  t.true(Math.abs(at1k([tone(1000, 0.5, 2400)]) - dbfs(0.5)) < 0.5)
})

test('silence reads the -120 dB floor', (t) => {
  const { bandsDb } = bandSpectrum([new Float32Array(4096), new Float32Array(4096)], RATE, { bands: 16 })
  t.is(bandsDb.length, 16)
  t.true(bandsDb.every((v) => v === -120))
})

test('bad input and options are refused with typed errors naming what was wrong', (t) => {
  const ok = [new Float32Array(1024)]
  const fails = (args, code, name) => {
    const e = t.throws(() => bandSpectrum(...args), undefined, `${name}`)
    t.is(e?.code, code, `${name}: ${e?.message}`)
    if (name) t.true(e.message.includes(name), `${e.message} names ${name}`)
  }
  fails([[], RATE], 'ERR_EMPTY_AUDIO', 'channels')
  fails([[new Float32Array(0)], RATE], 'ERR_EMPTY_AUDIO', 'channels')
  fails([[new Float32Array(8), new Float32Array(9)], RATE], 'ERR_SHAPE', 'channels[1]')
  const nan = new Float32Array(8)
  nan[5] = NaN
  fails([[new Float32Array(8), nan], RATE], 'ERR_NON_FINITE_SAMPLE', 'frame 5, channel 1')
  fails([[Float32Array.of(0, Infinity)], RATE], 'ERR_NON_FINITE_SAMPLE', 'frame 1')
  fails([[[0, 1, 2]], RATE], 'ERR_INVALID_PARAMETER', 'channels')
  fails([new Float32Array(8), RATE], 'ERR_INVALID_PARAMETER', 'channels')
  for (const sr of [0, -48000, 44100.5, NaN, '48000']) fails([ok, sr], 'ERR_INVALID_PARAMETER', 'sampleRate')
  for (const bands of [0, 513, 2.5, NaN, '64']) fails([ok, RATE, { bands }], 'ERR_INVALID_PARAMETER', 'bands')
  for (const nFft of [128, 1000, 131072, 4096.5]) fails([ok, RATE, { nFft }], 'ERR_INVALID_PARAMETER', 'nFft')
  fails([ok, RATE, { fMinHz: 0 }], 'ERR_INVALID_PARAMETER', 'fMinHz')
  fails([ok, RATE, { fMinHz: 2000, fMaxHz: 1000 }], 'ERR_INVALID_PARAMETER', 'fMaxHz')
  fails([ok, RATE, { fMaxHz: 24001 }], 'ERR_INVALID_PARAMETER', 'fMaxHz')
  // The default fMaxHz follows the rate down: min(16000, sampleRate / 2).
  t.is(bandSpectrum(ok, 8000).centerHz.length, 64)
  t.true(bandSpectrum(ok, 8000).centerHz[63] < 4000)
  fails([ok, RATE, { band: 64 }], 'ERR_INVALID_PARAMETER', 'band')
  // The limits themselves are accepted.
  t.is(bandSpectrum(ok, RATE, { bands: 1, nFft: 256 }).bandsDb.length, 1)
  t.is(bandSpectrum(ok, RATE, { bands: 512, nFft: 65536, fMaxHz: 24000 }).bandsDb.length, 512)
})
