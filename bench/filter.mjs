// b. An 8th-order Butterworth lowpass (1000 Hz) over 2 channels x 60 s at
// 48 kHz, float32, in memory: resonode from Rust and through the JS API,
// scipy.signal.sosfilt, the pure-JS `fili` package, and a hand-written
// plain-JS cascade.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fmt, median, runJson, table } from './common.mjs'
import { readPlanar, SAMPLE_RATE } from './signals.mjs'

const require = createRequire(import.meta.url)
export const CUTOFF = 1000
export const ORDER = 8
export const BLOCK = 65536

const copy = (chs) => chs.map((c) => c.slice())
const hr = () => process.hrtime.bigint()
const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

function maxAbsDiff(ys, ref) {
  let m = 0
  for (let c = 0; c < ys.length; c++) {
    const y = ys[c]
    const r = ref[c]
    for (let i = 0; i < y.length; i++) {
      const d = Math.abs(y[i] - r[i])
      if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Infinity : d
    }
  }
  return m
}

/** Plain JS: the same recurrence as sosfilt (transposed direct form II, f64 state). */
function jsSosfilt(sos, x) {
  const n = sos.length
  const c = new Float64Array(n * 5)
  for (let k = 0; k < n; k++) {
    const [b0, b1, b2, a0, a1, a2] = sos[k]
    c.set([b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0], k * 5)
  }
  const s = new Float64Array(n * 2)
  for (let i = 0; i < x.length; i++) {
    let v = x[i]
    for (let k = 0, o = 0; k < n; k++, o += 5) {
      const y = c[o] * v + s[2 * k]
      s[2 * k] = c[o + 1] * v - c[o + 3] * y + s[2 * k + 1]
      s[2 * k + 1] = c[o + 2] * v - c[o + 4] * y
      v = y
    }
    x[i] = v
  }
}

/**
 * @param ctx { root, out, lpInput, channels, reps, rustBench, api (the resonode module), log }
 */
export async function benchFilter(ctx) {
  const { out, lpInput, reps, api, log } = ctx
  const channels = 2
  const input = readPlanar(lpInput, channels)
  const frames = input[0].length
  const samples = frames * channels
  const ns = (s) => (s * 1e9) / samples

  log(`  resonode from Rust: ${reps} reps, blocks of ${BLOCK} frames`)
  const rust = runJson(ctx.rustBench, ['lowpass', lpInput, join(out, 'lp_rust.f32'), String(channels), String(reps), String(BLOCK), String(CUTOFF), String(ORDER)])
  const rustOut = readPlanar(join(out, 'lp_rust.f32'), channels)

  log(`  scipy.signal.sosfilt: ${reps} reps x 3 variants`)
  const py = runJson('python3', [join(ctx.root, 'bench/scipy_lowpass.py'), lpInput, out, String(channels), String(reps), String(CUTOFF), String(ORDER)])
  const ref = readPlanar(join(out, 'lp_scipy_f64.f64'), channels, Float64Array)

  const { ProcessorChain, LowPass } = api
  const makeChain = (maxBlockFrames) => new ProcessorChain([new LowPass(CUTOFF, { order: ORDER })], { sampleRate: SAMPLE_RATE, channels, maxBlockFrames })

  // Warm up the JS paths (JIT, first native call) on a short piece.
  {
    const w = input.map((c) => c.slice(0, 8192))
    makeChain(BLOCK).process(w)
  }

  const jsVariants = {}
  const timeJs = async (name, r, fn) => {
    const times = []
    let y
    for (let i = 0; i < r; i++) {
      const x = copy(input)
      const res = await fn(x) // returns { t, y }
      times.push(res.t)
      y = res.y
    }
    const med = median(times)
    jsVariants[name] = { times, median_s: med, ns_per_sample: ns(med), maxAbsDiff: maxAbsDiff(y, ref) }
    return y
  }

  log(`  JS API ProcessorChain.process(): blocks of ${BLOCK}, whole signal, processAsync`)
  const blocksOut = await timeJs('jsBlocks', reps, (x) => {
    const chain = makeChain(BLOCK)
    const t0 = hr()
    for (let s = 0; s < frames; s += BLOCK) {
      const e = Math.min(frames, s + BLOCK)
      chain.process([x[0].subarray(s, e), x[1].subarray(s, e)])
    }
    return { t: secs(t0), y: x }
  })
  const wholeOut = await timeJs('jsWhole', reps, (x) => {
    const chain = makeChain(BLOCK)
    const t0 = hr()
    chain.process(x)
    return { t: secs(t0), y: x }
  })
  await timeJs('jsWholeDefault', reps, (x) => {
    const chain = makeChain(undefined) // default maxBlockFrames (8192)
    const t0 = hr()
    chain.process(x)
    return { t: secs(t0), y: x }
  })
  await timeJs('jsAsync', reps, async (x) => {
    const chain = makeChain(BLOCK)
    const t0 = hr()
    const y = await chain.processAsync(x)
    return { t: secs(t0), y }
  })
  const blocksEqualWhole = maxAbsDiff(blocksOut, wholeOut) === 0
  const jsEqualsRust = maxAbsDiff(blocksOut, rustOut) === 0

  const Fili = require('fili')
  const filiReps = Math.min(reps, 3)
  log(`  fili IirFilter.multiStep: ${filiReps} reps`)
  const filiCoeffs = () => new Fili.CalcCascades().lowpass({ order: ORDER / 2, characteristic: 'butterworth', Fs: SAMPLE_RATE, Fc: CUTOFF })
  await timeJs('fili', filiReps, (x) => {
    const filters = x.map(() => new Fili.IirFilter(filiCoeffs()))
    const t0 = hr()
    for (let c = 0; c < channels; c++) filters[c].multiStep(x[c], true)
    return { t: secs(t0), y: x }
  })

  log(`  hand-written plain JS cascade: ${reps} reps`)
  await timeJs('jsPlain', reps, (x) => {
    const t0 = hr()
    for (let c = 0; c < channels; c++) jsSosfilt(py.sos, x[c])
    return { t: secs(t0), y: x }
  })

  return {
    frames,
    channels,
    samples,
    rust: { ...rust, maxAbsDiff: maxAbsDiff(rustOut, ref) },
    scipy: py,
    js: jsVariants,
    blocksEqualWhole,
    jsEqualsRust,
  }
}

export function reportFilter(r) {
  const sp = r.scipy
  const scipyBest = Math.min(sp.f32in.ns_per_sample, sp.f64in.ns_per_sample, sp.f32sos.ns_per_sample)
  const rustNs = r.rust.ns_per_sample
  const js = r.js
  const row = (name, nsps, n, diff) => [name, fmt.n(nsps, 2), fmt.s((nsps * r.samples) / 1e9 * 1000, 1), fmt.x(scipyBest / nsps), fmt.x(js.fili.ns_per_sample / nsps), String(n), fmt.e(diff)]
  const rows = [
    row('resonode, Rust (`LowPass::process`, 65536-frame blocks)', rustNs, r.rust.times_s.length, r.rust.maxAbsDiff),
    row('resonode, JS API `process()`, 65536-frame blocks', js.jsBlocks.ns_per_sample, js.jsBlocks.times.length, js.jsBlocks.maxAbsDiff),
    row('resonode, JS API `process()`, whole signal, maxBlockFrames 65536', js.jsWhole.ns_per_sample, js.jsWhole.times.length, js.jsWhole.maxAbsDiff),
    row('resonode, JS API `process()`, whole signal, default maxBlockFrames (8192)', js.jsWholeDefault.ns_per_sample, js.jsWholeDefault.times.length, js.jsWholeDefault.maxAbsDiff),
    row('resonode, JS API `processAsync()`, whole signal (worker thread, copies)', js.jsAsync.ns_per_sample, js.jsAsync.times.length, js.jsAsync.maxAbsDiff),
    row('scipy `sosfilt`, float64 input', sp.f64in.ns_per_sample, sp.f64in.times_s.length, sp.f64in.max_abs_diff_vs_f64),
    row('scipy `sosfilt`, float32 input (upcast to float64 inside)', sp.f32in.ns_per_sample, sp.f32in.times_s.length, sp.f32in.max_abs_diff_vs_f64),
    row('scipy `sosfilt`, float32 input and float32 sos', sp.f32sos.ns_per_sample, sp.f32sos.times_s.length, sp.f32sos.max_abs_diff_vs_f64),
    row('fili `IirFilter.multiStep` (pure JS, npm)', js.fili.ns_per_sample, js.fili.times.length, js.fili.maxAbsDiff),
    row('hand-written plain JS (Float64Array TDF-II)', js.jsPlain.ns_per_sample, js.jsPlain.times.length, js.jsPlain.maxAbsDiff),
  ]
  const vsScipy = scipyBest / rustNs
  const vsScipyJs = scipyBest / js.jsBlocks.ns_per_sample
  const vsFili = js.fili.ns_per_sample / rustNs
  const vsFiliJs = js.fili.ns_per_sample / js.jsBlocks.ns_per_sample
  const vsPlain = js.jsPlain.ns_per_sample / js.jsBlocks.ns_per_sample
  return {
    vsScipy,
    vsScipyJs,
    vsFili,
    vsFiliJs,
    vsPlain,
    md: `Signal: 2 channels x ${r.frames / SAMPLE_RATE} s at 48 kHz (${r.samples} samples), float32,
tones + noise. Filter: 8th-order Butterworth lowpass at ${CUTOFF} Hz (4 second-order
sections). Every repetition starts from a fresh copy of the input and a new
filter; only filtering is timed. Medians of n repetitions. "vs scipy" is
relative to the fastest scipy variant; "vs fili" relative to fili; > 1x means
that row is faster. "max abs diff" is against scipy on float64 input.

${table(['implementation', 'ns/sample', 'ms total', 'vs scipy (best)', 'vs fili', 'n', 'max abs diff'], rows)}

- resonode (Rust) vs scipy (best variant): **${fmt.x(vsScipy)}**; resonode (JS API, 65536-frame blocks) vs scipy: **${fmt.x(vsScipyJs)}**.
- resonode vs fili: **${fmt.x(vsFili)}** (Rust), **${fmt.x(vsFiliJs)}** (JS API); JS API vs the hand-written plain-JS cascade: **${fmt.x(vsPlain)}**.
- The JS API costs ${fmt.n(js.jsBlocks.ns_per_sample - rustNs, 2)} ns/sample more than the same filter called from Rust: \`NativeChain.process\` copies every block into a native staging buffer, scans it for NaN/Inf, filters, and copies it back.
- The JS API output equals the Rust output bit for bit: ${r.jsEqualsRust ? 'yes' : 'NO'}; whole-signal and block-wise calls agree bit for bit: ${r.blocksEqualWhole ? 'yes' : 'NO'}.
- scipy ${sp.scipy}, numpy ${sp.numpy}. \`sosfilt\` computes in the result type of \`sos\` and \`x\`: float32 samples with the float64 \`sos\` from \`butter\` are upcast (a copy), so only the "float32 sos" row runs in single precision.
- fili is given an 8th-order filter as \`lowpass({ order: 4, characteristic: 'butterworth' })\` (its \`order\` counts biquads) and filters each channel in place (\`multiStep(x, true)\`, no output allocation).
`,
  }
}
