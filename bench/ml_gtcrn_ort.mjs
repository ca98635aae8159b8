#!/usr/bin/env node
// Baseline for bench/ml.mjs: the GTCRN streaming model driven frame by frame
// from plain JS through onnxruntime-node (the same ONNX Runtime library that
// resonode loads), the way a JS developer would write it without resonode:
// a sqrt-Hann STFT with a hand-written radix-2 FFT, one `await session.run()`
// per 16 ms frame with the three recurrent caches fed back, and an
// overlap-add inverse STFT. Same framing as resonode (torch.stft(x, 512, 256,
// 512, sqrt(hann periodic), center=True, reflect), torch.istft).
//
//   node bench/ml_gtcrn_ort.mjs MODEL IN.wav OUT.f32 REPS
// Prints one JSON line: timings of each pass over the file and the per-frame
// model call times (in us) of the last pass.
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readWav16 } from './signals.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(ROOT, 'package.json'))
const ort = require('onnxruntime-node')
const [model, input, output, repsArg] = process.argv.slice(2)
const reps = Number(repsArg ?? 5)

const N = 512
const HOP = 256
const BINS = N / 2 + 1

// Radix-2 complex FFT, in place, on separate re/im arrays.
const LOG2N = Math.log2(N)
const rev = new Uint16Array(N)
for (let i = 0; i < N; i++) {
  let r = 0
  for (let b = 0; b < LOG2N; b++) r |= ((i >> b) & 1) << (LOG2N - 1 - b)
  rev[i] = r
}
const cosT = new Float64Array(N / 2)
const sinT = new Float64Array(N / 2)
for (let i = 0; i < N / 2; i++) {
  cosT[i] = Math.cos((2 * Math.PI * i) / N)
  sinT[i] = -Math.sin((2 * Math.PI * i) / N)
}
function fft(re, im, inverse) {
  for (let i = 0; i < N; i++) {
    const j = rev[i]
    if (j > i) {
      let t = re[i]; re[i] = re[j]; re[j] = t
      t = im[i]; im[i] = im[j]; im[j] = t
    }
  }
  const sgn = inverse ? -1 : 1
  for (let size = 2; size <= N; size <<= 1) {
    const half = size >> 1
    const step = N / size
    for (let start = 0; start < N; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cosT[k * step]
        const wi = sgn * sinT[k * step]
        const a = start + k
        const b = a + half
        const xr = re[b] * wr - im[b] * wi
        const xi = re[b] * wi + im[b] * wr
        re[b] = re[a] - xr
        im[b] = im[a] - xi
        re[a] += xr
        im[a] += xi
      }
    }
  }
}

const win = new Float64Array(N)
for (let n = 0; n < N; n++) win[n] = Math.sin((Math.PI * n) / N) // sqrt(hann periodic)

async function enhance(session, x) {
  const len = x.length
  const pad = N / 2
  const padded = new Float32Array(len + 2 * pad)
  padded.set(x, pad)
  for (let i = 1; i <= pad; i++) {
    padded[pad - i] = x[i] // reflect
    padded[pad + len - 1 + i] = x[len - 1 - i]
  }
  const frames = 1 + Math.floor(len / HOP)
  const ola = new Float64Array((frames - 1) * HOP + N)
  const wss = new Float64Array((frames - 1) * HOP + N)
  let conv = new ort.Tensor('float32', new Float32Array(2 * 1 * 16 * 16 * 33), [2, 1, 16, 16, 33])
  let tra = new ort.Tensor('float32', new Float32Array(2 * 3 * 1 * 1 * 16), [2, 3, 1, 1, 16])
  let inter = new ort.Tensor('float32', new Float32Array(2 * 1 * 33 * 16), [2, 1, 33, 16])
  const re = new Float64Array(N)
  const im = new Float64Array(N)
  const callUs = new Float64Array(frames)
  for (let f = 0; f < frames; f++) {
    const off = f * HOP
    for (let n = 0; n < N; n++) {
      re[n] = padded[off + n] * win[n]
      im[n] = 0
    }
    fft(re, im, false)
    const mix = new Float32Array(2 * BINS)
    for (let k = 0; k < BINS; k++) {
      mix[2 * k] = re[k]
      mix[2 * k + 1] = im[k]
    }
    const t0 = process.hrtime.bigint()
    const out = await session.run({ mix: new ort.Tensor('float32', mix, [1, BINS, 1, 2]), conv_cache: conv, tra_cache: tra, inter_cache: inter })
    callUs[f] = Number(process.hrtime.bigint() - t0) / 1e3
    conv = out.conv_cache_out
    tra = out.tra_cache_out
    inter = out.inter_cache_out
    const enh = out.enh.data
    for (let k = 0; k < BINS; k++) {
      re[k] = enh[2 * k]
      im[k] = enh[2 * k + 1]
    }
    im[0] = 0
    im[N / 2] = 0
    for (let k = 1; k < N / 2; k++) {
      re[N - k] = re[k]
      im[N - k] = -im[k]
    }
    fft(re, im, true)
    for (let n = 0; n < N; n++) {
      ola[off + n] += (re[n] / N) * win[n]
      wss[off + n] += win[n] * win[n]
    }
  }
  const y = new Float32Array(len)
  for (let i = 0; i < len; i++) {
    const w = wss[pad + i]
    y[i] = w > 1e-11 ? ola[pad + i] / w : 0
  }
  return { y, frames, callUs }
}

const wav = readWav16(input)
if (wav.channels !== 1 || wav.sampleRate !== 16000) throw new Error(`${input}: expected 16 kHz mono`)
const x = Float32Array.from(wav.samples, (v) => v / 32768)
const t0 = process.hrtime.bigint()
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
})
const loadS = Number(process.hrtime.bigint() - t0) / 1e9
await enhance(session, x) // warm-up
const passes = []
let last
for (let r = 0; r < reps; r++) {
  const t = process.hrtime.bigint()
  last = await enhance(session, x)
  passes.push(Number(process.hrtime.bigint() - t) / 1e9)
}
writeFileSync(output, Buffer.from(last.y.buffer))
const ortVersion = require(join(dirname(require.resolve('onnxruntime-node')), '../package.json')).version
console.log(JSON.stringify({ ort: ortVersion, audioS: x.length / 16000, frames: last.frames, loadS, passes, callUs: Array.from(last.callUs) }))
