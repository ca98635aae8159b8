#!/usr/bin/env node
// resonode side of bench/ml.mjs, run in a child process of its own (so that
// its peak RSS is its own and ONNX Runtime starts fresh):
//
//   node bench/ml_resonode.mjs gtcrn IN.wav OUT_DIR REPS
//     SpeechEnhancer({ threads: 1 }): one warm-up, then REPS timed
//     `enhance()` calls on the decoded file and REPS `enhanceFile()` calls.
//   node bench/ml_resonode.mjs separate MODEL IN.wav OUT_DIR [THREADS] [low-memory]
//     Separator.separateFile (ONNX Runtime's default thread count unless
//     THREADS is given, `-` for the default; `low-memory` sets
//     `lowMemory: true`).
// Prints one JSON line.
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readWav16 } from './signals.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(ROOT, 'package.json'))
const { SpeechEnhancer, Separator } = require(join(ROOT, 'dist/index.js'))
const [mode, ...args] = process.argv.slice(2)
const sec = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

if (mode === 'gtcrn') {
  const [input, outDir, repsArg] = args
  const reps = Number(repsArg ?? 5)
  const wav = readWav16(input)
  const x = Float32Array.from(wav.samples, (v) => v / 32768)
  const enhancer = new SpeechEnhancer({ threads: 1 })
  let t = process.hrtime.bigint()
  await enhancer.enhance([x], wav.sampleRate) // warm-up: loads ONNX Runtime once per process
  const firstS = sec(t)
  const enhance = []
  let y
  for (let r = 0; r < reps; r++) {
    t = process.hrtime.bigint()
    ;[y] = await enhancer.enhance([x], wav.sampleRate)
    enhance.push(sec(t))
  }
  writeFileSync(join(outDir, 'gtcrn_resonode.f32'), Buffer.from(y.buffer, y.byteOffset, y.byteLength))
  // The cost of a call apart from the frames: a 1-hop input (session set-up,
  // worker hand-off, resampler-free 16 kHz path).
  const tiny = []
  for (let r = 0; r < reps; r++) {
    t = process.hrtime.bigint()
    await enhancer.enhance([x.subarray(0, 256)], wav.sampleRate)
    tiny.push(sec(t))
  }
  const file = []
  let fileResult
  for (let r = 0; r < reps; r++) {
    t = process.hrtime.bigint()
    fileResult = await enhancer.enhanceFile(input, join(outDir, 'gtcrn_resonode.wav'), { encoding: 'float32' })
    file.push(sec(t))
  }
  console.log(JSON.stringify({ audioS: x.length / wav.sampleRate, samples: x.length, firstS, enhance, tiny, file, fileResult }))
} else if (mode === 'separate') {
  const [model, input, outDir, threads, mem] = args
  const sep = new Separator({ model, ...(threads && threads !== '-' ? { threads: Number(threads) } : {}), ...(mem === 'low-memory' ? { lowMemory: true } : {}) })
  const t = process.hrtime.bigint()
  const result = await sep.separateFile(input, { outDir })
  const wallS = sec(t)
  console.log(JSON.stringify({ wallS, result, maxRssMb: process.resourceUsage().maxRSS / 1024 }))
} else {
  throw new Error(`unknown mode ${mode}`)
}
