import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root } from './helpers.mjs'

const { ProcessorChain, LowPass, HighPass, Gain } = lib

// scipy fixtures shared with crates/dsp/tests/scipy_fixtures.rs
// (scripts/make_dsp_fixtures.py): a 2 x 2000 input and scipy's outputs.
const FIXTURES = join(root, 'crates', 'dsp', 'tests', 'fixtures')
function planar(file, channels) {
  const b = readFileSync(join(FIXTURES, file))
  const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
  const frames = all.length / channels
  return Array.from({ length: channels }, (_, c) => all.slice(c * frames, (c + 1) * frames))
}
const maxAbsDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0)

test('process() in place equals scipy butter(8) + sosfilt, whole or in 37-frame pieces', (t) => {
  const expected = planar('butter_lowpass_o8_fs48000_fc1000.f32', 2)
  for (const maxBlockFrames of [undefined, 37]) {
    const x = planar('input.f32', 2)
    const chain = new ProcessorChain([new LowPass(1000, { order: 8 })], { sampleRate: 48000, channels: 2, maxBlockFrames })
    t.is(chain.process(x), x, 'in place: the same arrays come back')
    for (let c = 0; c < 2; c++) t.true(maxAbsDiff(x[c], expected[c]) < 1e-5, `maxBlockFrames ${maxBlockFrames}, channel ${c}`)
  }
})

test('blocks of any size give the same output as one call (state carries over)', (t) => {
  const make = () => new ProcessorChain([new HighPass(80), new LowPass(8000, { order: 4 }), new Gain({ db: -3 })], { sampleRate: 48000, channels: 2 })
  const n = 20000
  const signal = [0, 1].map((c) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (0.01 + c * 0.3)) * 0.5 + ((i * 7919) % 13) / 40 - 0.15))
  const whole = signal.map((ch) => ch.slice())
  make().process(whole)
  const chain = make()
  const pieces = signal.map((ch) => ch.slice())
  for (let s = 0, k = 0; s < n; k++) {
    const len = Math.min([1, 128, 4999, 2048, 333][k % 5], n - s)
    chain.process(pieces.map((ch) => ch.subarray(s, s + len)))
    s += len
  }
  t.deepEqual(pieces, whole)
})

test('NaN or Inf past the first staged piece: ERR_NON_FINITE_SAMPLE naming frame and channel', (t) => {
  const chain = new ProcessorChain([new Gain({ db: 0 })], { sampleRate: 48000, channels: 2, maxBlockFrames: 65536 })
  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = [new Float32Array(5000).fill(0.5), new Float32Array(5000).fill(0.5)]
    x[1][3000] = bad
    const e = t.throws(() => chain.process(x), { code: 'ERR_NON_FINITE_SAMPLE' })
    t.regex(e.message, /frame 3000, channel 1/)
  }
  // Large finite values and subnormals are not mistaken for NaN/Inf.
  const ok = [Float32Array.of(3.4e38, -3.4e38, 1e-45, 0), Float32Array.of(0, -0, 1, -1)]
  t.notThrows(() => chain.process(ok))
})

test('wrong shapes are ERR_SHAPE', (t) => {
  const chain = new ProcessorChain([new Gain({ db: 0 })], { sampleRate: 48000, channels: 2 })
  t.throws(() => chain.process([new Float32Array(8)]), { code: 'ERR_SHAPE' })
  t.throws(() => chain.process([new Float32Array(8), new Float32Array(7)]), { code: 'ERR_SHAPE' })
  const shared = new Float32Array(8)
  t.throws(() => chain.process([shared, shared]), { code: 'ERR_SHAPE' })
})

// Issue 12: process() is all or nothing. A block spanning several staged
// pieces (2048 frames each) with a NaN in a late piece must not find the
// earlier pieces already filtered: the caller's arrays and the chain's
// state (filter memories) stay as they were.
test('a NaN anywhere in the block rejects it before any sample or any filter state changes', async (t) => {
  const make = () => new ProcessorChain([new LowPass(1000, { order: 4 }), new Gain({ db: -6 })], { sampleRate: 48000, channels: 2, maxBlockFrames: 8192 })
  const block = (n, phase) => [0, 1].map((c) => Float32Array.from({ length: n }, (_, i) => Math.sin((i + phase) * (0.05 + 0.1 * c))))
  for (const [frames, badFrame] of [[5000, 4500], [100, 60]]) {
    for (const viaAsync of [false, true]) {
      const chain = make()
      const reference = make()
      // Both chains get the same history first, so both hold the same state.
      const warm = block(3000, 0)
      chain.process(warm.map((c) => c.slice()))
      reference.process(warm.map((c) => c.slice()))

      const bad = block(frames, 7)
      bad[1][badFrame] = NaN
      const before = bad.map((c) => c.slice())
      const err = viaAsync
        ? await t.throwsAsync(chain.processAsync(bad), { code: 'ERR_NON_FINITE_SAMPLE' })
        : t.throws(() => chain.process(bad), { code: 'ERR_NON_FINITE_SAMPLE' })
      t.regex(err.message, new RegExp(`frame ${badFrame}, channel 1`))
      t.deepEqual(bad, before, `${frames} frames, async ${viaAsync}: the caller's arrays are untouched`)

      // The failed call left no trace in the chain: the next clean block
      // comes out exactly as from the chain that never saw the bad one.
      const next = block(4096, 11)
      const a = chain.process(next.map((c) => c.slice()))
      const b = reference.process(next.map((c) => c.slice()))
      t.deepEqual(a, b, `${frames} frames, async ${viaAsync}: the filter state is untouched`)
    }
  }
})
