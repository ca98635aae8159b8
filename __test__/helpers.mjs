// Shared helpers of the ava specs. WAV files for inputs are written here by
// hand (not through resonode) so the specs do not check resonode against itself.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const lib = createRequire(import.meta.url)(join(root, 'dist', 'index.js'))
export const asset = (name) => join(root, 'assets', name)
export const cli = join(root, 'bin', 'resonode.js')

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'resonode-test-'))
}

/** Bytes of a WAV file: 16-bit int or 32-bit float PCM, planar input (channels x frames). */
export function wavBytes(channels, sampleRate, { float = false } = {}) {
  const ch = channels.length
  const frames = channels[0].length
  const bps = float ? 4 : 2
  const data = Buffer.alloc(frames * ch * bps)
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) {
      const off = (i * ch + c) * bps
      const v = channels[c][i]
      if (float) data.writeFloatLE(v, off)
      else data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), off)
    }
  }
  const h = Buffer.alloc(44)
  h.write('RIFF', 0)
  h.writeUInt32LE(36 + data.length, 4)
  h.write('WAVEfmt ', 8)
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(float ? 3 : 1, 20)
  h.writeUInt16LE(ch, 22)
  h.writeUInt32LE(sampleRate, 24)
  h.writeUInt32LE(sampleRate * ch * bps, 28)
  h.writeUInt16LE(ch * bps, 32)
  h.writeUInt16LE(bps * 8, 34)
  h.write('data', 36)
  h.writeUInt32LE(data.length, 40)
  return Buffer.concat([h, data])
}

export function writeWav(path, channels, sampleRate, opts) {
  writeFileSync(path, wavBytes(channels, sampleRate, opts))
  return path
}

/** Deterministic test signal: sines plus seeded noise, channels x frames. */
export function testSignal(channels, frames, sampleRate, seed = 1) {
  let s = seed >>> 0
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1
  return Array.from({ length: channels }, (_, c) => {
    const a = new Float32Array(frames)
    for (let i = 0; i < frames; i++) {
      a[i] = 0.3 * Math.sin((2 * Math.PI * (220 * (c + 1)) * i) / sampleRate) + 0.1 * Math.sin((2 * Math.PI * 5000 * i) / sampleRate) + 0.05 * rand()
    }
    return a
  })
}

/** Decodes a whole file with resonode (planar channels). */
export async function readAll(path) {
  const { StreamingPipeline, FileSource, CallbackSink } = lib
  const parts = []
  let rate = 0
  const p = new StreamingPipeline({
    source: new FileSource(path),
    sink: new CallbackSink((ch, info) => {
      parts.push(ch)
      rate = info.sampleRate
    }),
  })
  await p.run()
  const channels = parts[0].length
  const frames = parts.reduce((n, p) => n + p[0].length, 0)
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  let off = 0
  for (const p of parts) {
    for (let c = 0; c < channels; c++) out[c].set(p[c], off)
    off += p[0].length
  }
  return { sampleRate: rate, channels: out }
}

/** Joins Float32Array blocks into one. */
export function concat(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

export function maxAbsDiff(a, b) {
  let m = 0
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

export function rms(a) {
  let s = 0
  for (const v of a) s += v * v
  return Math.sqrt(s / a.length)
}

/**
 * Starts (or finds) the test PulseAudio server with its null sink
 * `resonull` (scripts/start-pulseaudio.sh) and points this process at it.
 */
export function usePulseAudio() {
  const env = execFileSync('bash', [join(root, 'scripts/start-pulseaudio.sh'), '--env'], { encoding: 'utf8' })
  const server = /export PULSE_SERVER=(\S+)/.exec(env)
  if (server) process.env.PULSE_SERVER = server[1]
}
