// c. The cost of crossing the JS <-> Rust boundary: a 3-effect
// ProcessorChain on small stereo blocks, per process() call, beside plain-JS
// baselines on the same blocks.
import { Bench } from 'tinybench'
import { fmt, median, table } from './common.mjs'
import { makePlanar, SAMPLE_RATE } from './signals.mjs'

const CALLS = 20000 // timed calls per variant (hand timing)
const BATCH = 100 // calls per timed batch
const WARMUP = 2000
const GAIN_DB = -3

/** A plain-JS order-2 Butterworth section (the same design resonode uses for order 2). */
function butter2(kind, fc, fs) {
  const c = 1 / Math.tan((Math.PI * fc) / fs)
  const c2 = c * c
  const zeta = Math.SQRT1_2
  const a0 = c2 + 2 * zeta * c + 1
  const a1 = (2 * (1 - c2)) / a0
  const a2 = (c2 - 2 * zeta * c + 1) / a0
  return kind === 'lowpass' ? [1 / a0, 2 / a0, 1 / a0, a1, a2] : [c2 / a0, (-2 * c2) / a0, c2 / a0, a1, a2]
}

/** Plain JS: highpass(80) -> lowpass(8000) -> gain, in place, TDF-II with f64 state per channel. */
function plainJsChain(channels) {
  const hp = butter2('highpass', 80, SAMPLE_RATE)
  const lp = butter2('lowpass', 8000, SAMPLE_RATE)
  const g = 10 ** (GAIN_DB / 20)
  const state = channels.map(() => new Float64Array(4))
  return (block) => {
    for (let c = 0; c < block.length; c++) {
      const x = block[c]
      const s = state[c]
      let s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3]
      for (let i = 0; i < x.length; i++) {
        const v = x[i]
        const y = hp[0] * v + s0
        s0 = hp[1] * v - hp[3] * y + s1
        s1 = hp[2] * v - hp[4] * y
        const z = lp[0] * y + s2
        s2 = lp[1] * y - lp[3] * z + s3
        s3 = lp[2] * y - lp[4] * z
        x[i] = z * g
      }
      s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3
    }
  }
}

/**
 * Hand timing: the median over batches of BATCH calls of the mean time per
 * call, in microseconds. `step(i)` does one call on block i.
 */
function handTime(step) {
  for (let i = 0; i < WARMUP; i++) step(i)
  const per = []
  for (let b = 0; b < CALLS / BATCH; b++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < BATCH; i++) step(i)
    per.push(Number(process.hrtime.bigint() - t0) / 1e3 / BATCH)
  }
  return median(per)
}

/**
 * @param ctx { api, log }
 */
export async function benchBoundary(ctx) {
  const { ProcessorChain, HighPass, LowPass, Gain } = ctx.api
  const results = []
  // A long source the blocks are refilled from before every call, so the
  // signal does not decay towards subnormals as the -3 dB gain is applied
  // again and again. The refill is timed on its own (first row).
  const source = makePlanar(2, 1 << 16, 3)
  for (const frames of [128, 1024]) {
    ctx.log(`  ${frames}-frame blocks: ${CALLS} calls per variant (+ tinybench)`)
    const slots = Math.floor(source[0].length / frames)
    const block = [new Float32Array(frames), new Float32Array(frames)]
    const refill = (i) => {
      const o = (i % slots) * frames
      block[0].set(source[0].subarray(o, o + frames))
      block[1].set(source[1].subarray(o, o + frames))
    }
    const chain = new ProcessorChain([new HighPass(80), new LowPass(8000), new Gain({ db: GAIN_DB })], { sampleRate: SAMPLE_RATE, channels: 2, maxBlockFrames: 1024 })
    const emptyChain = new ProcessorChain([], { sampleRate: SAMPLE_RATE, channels: 2, maxBlockFrames: 1024 })
    const gainChain = new ProcessorChain([new Gain({ db: GAIN_DB })], { sampleRate: SAMPLE_RATE, channels: 2, maxBlockFrames: 1024 })
    const g = 10 ** (GAIN_DB / 20)
    const jsGain = (blk) => {
      for (let c = 0; c < blk.length; c++) {
        const x = blk[c]
        for (let i = 0; i < x.length; i++) x[i] *= g
      }
    }
    const jsChain = plainJsChain(block)
    const variants = [
      ['refill only (copy a new block in; included in every row below)', (i) => refill(i)],
      ['resonode `ProcessorChain.process()`: highpass(80) lowpass(8000) gain(-3db)', (i) => (refill(i), chain.process(block))],
      ['resonode `ProcessorChain.process()`: gain(-3db) only', (i) => (refill(i), gainChain.process(block))],
      ['resonode `ProcessorChain.process()`: empty chain (fixed cost of a call)', (i) => (refill(i), emptyChain.process(block))],
      ['plain JS gain loop (baseline)', (i) => (refill(i), jsGain(block))],
      ['plain JS highpass + lowpass + gain (same chain, hand-written)', (i) => (refill(i), jsChain(block))],
    ]
    const bench = new Bench({ time: 0, iterations: CALLS, warmup: true, warmupIterations: WARMUP, warmupTime: 0, timestampProvider: 'hrtimeNow' })
    for (const [name, fn] of variants) {
      const us = handTime(fn)
      let i = 0
      bench.add(name, () => fn(i++))
      results.push({ frames, name, us })
    }
    bench.runSync()
    for (const task of bench.tasks) {
      const r = results.find((x) => x.frames === frames && x.name === task.name)
      r.tinybenchP50us = task.result?.latency?.p50 * 1000
    }
    // processAsync: a worker-thread round trip per block, awaited one at a
    // time; median over batches like handTime, with fewer calls.
    for (let i = 0; i < 200; i++) {
      refill(i)
      await chain.processAsync(block)
    }
    const perAsync = []
    for (let b = 0; b < 100; b++) {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < 20; i++) {
        refill(i)
        await chain.processAsync(block)
      }
      perAsync.push(Number(process.hrtime.bigint() - t0) / 1e3 / 20)
    }
    results.push({ frames, name: 'resonode `processAsync()` (worker thread, awaited one by one), same chain', us: median(perAsync), async: true })
  }
  return { calls: CALLS, batch: BATCH, results }
}

export function reportBoundary(r) {
  const sections = []
  const summary = {}
  for (const frames of [128, 1024]) {
    const rows = r.results.filter((x) => x.frames === frames)
    const refill = rows[0].us
    const budgetUs = (frames / SAMPLE_RATE) * 1e6
    const lines = rows.map((x, i) => {
      const net = i === 0 ? x.us : x.us - refill
      return [
        x.name,
        fmt.n(x.us, 3),
        i === 0 ? '' : fmt.n(net, 3),
        i === 0 ? '' : fmt.n((net * 1000) / (frames * 2), 2),
        Number.isFinite(x.tinybenchP50us) ? fmt.n(x.tinybenchP50us, 3) : x.async ? '(2000 calls)' : '',
        i === 0 ? '' : `${((net / budgetUs) * 100).toFixed(3)} %`,
      ]
    })
    const get = (prefix) => rows.find((x) => x.name.startsWith(prefix)).us - refill
    summary[frames] = {
      chainUs: get('resonode `ProcessorChain.process()`: highpass'),
      gainOnlyUs: get('resonode `ProcessorChain.process()`: gain'),
      emptyUs: get('resonode `ProcessorChain.process()`: empty'),
      jsGainUs: get('plain JS gain'),
      jsChainUs: get('plain JS highpass'),
    }
    sections.push(`**${frames}-frame blocks** (2 channels; ${fmt.n(budgetUs, 0)} us of audio at 48 kHz):

${table(['variant', 'us/call', 'us/call minus refill', 'ns/sample', 'tinybench p50 us', 'of real-time budget'], lines)}`)
  }
  const s128 = summary[128]
  const s1024 = summary[1024]
  return {
    summary,
    md: `A \`ProcessorChain\` of \`HighPass(80)\`, \`LowPass(8000)\`, \`Gain({ db: -3 })\` on planar
stereo Float32Array blocks, processed in place on the JS thread. Before every
call the block is refilled from a pre-generated signal (so the audio does
not decay to subnormals under the repeated -3 dB); the refill alone is the
first row and is subtracted in the "minus refill" column. "us/call" is the
median over ${r.calls / r.batch} batches of ${r.batch} calls (${r.calls} calls after warm-up) of
the mean time per call; "tinybench p50" is tinybench's median of
individually timed calls (it includes per-call timer overhead).

${sections.join('\n\n')}

- 128 frames: the 3-effect chain costs **${fmt.n(s128.chainUs, 2)} us** per call vs **${fmt.n(s128.jsGainUs, 2)} us** for a plain-JS gain loop and **${fmt.n(s128.jsChainUs, 2)} us** for the same chain in plain JS; a native gain alone costs ${fmt.n(s128.gainOnlyUs, 2)} us and an empty chain ${fmt.n(s128.emptyUs, 2)} us: the fixed cost of a call dominates small blocks.
- 1024 frames: **${fmt.n(s1024.chainUs, 2)} us** vs ${fmt.n(s1024.jsGainUs, 2)} us (JS gain) and ${fmt.n(s1024.jsChainUs, 2)} us (same chain in JS); empty chain ${fmt.n(s1024.emptyUs, 2)} us.
`,
  }
}
