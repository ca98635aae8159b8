// Deterministic test signals for the benchmarks, and minimal WAV I/O.
//
// Every signal is tones plus white noise from a fixed-seed xorshift32, so
// every run (and every machine) benchmarks the same samples.
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'

export const SAMPLE_RATE = 48000

/** A xorshift32 generator returning uniform floats in [-1, 1). */
export function noise(seed) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2147483648 - 1
  }
}

// Tones spread over the spectrum (bass under the highpass, mids, treble
// above the 8 kHz lowpass) plus -20 dBFS noise; the peak stays below 0.6 so
// no stage clips.
const TONES = [
  [55, 0.2],
  [440, 0.15],
  [3000, 0.1],
  [12000, 0.05],
]
const NOISE_AMP = 0.1

/**
 * Fills planar channels with the test signal starting at frame `first`.
 * `rng` is one generator per channel, advanced in place.
 */
function fill(channels, first, rngs) {
  const frames = channels[0].length
  for (let c = 0; c < channels.length; c++) {
    const ch = channels[c]
    const rng = rngs[c]
    for (let i = 0; i < frames; i++) ch[i] = NOISE_AMP * rng()
    // Each tone as a rotating phasor, re-anchored with Math.sin/cos at the
    // first frame of every call (drift within a call is ~1e-12).
    for (const [f, a] of TONES) {
      const w = (2 * Math.PI * f) / SAMPLE_RATE
      const p0 = w * first + c * 0.7
      let re = Math.cos(p0)
      let im = Math.sin(p0)
      const cr = Math.cos(w)
      const ci = Math.sin(w)
      for (let i = 0; i < frames; i++) {
        ch[i] += a * im
        const r = re * cr - im * ci
        im = im * cr + re * ci
        re = r
      }
    }
  }
}

/** `channels` x `frames` of the test signal as planar Float32Arrays. */
export function makePlanar(channels, frames, seed = 1) {
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  fill(out, 0, out.map((_, c) => noise(seed * 7919 + c)))
  return out
}

function wavHeader(channels, frames, bits) {
  const blockAlign = (channels * bits) / 8
  const dataBytes = frames * blockAlign
  const h = Buffer.alloc(44)
  h.write('RIFF', 0)
  h.writeUInt32LE(36 + dataBytes, 4)
  h.write('WAVE', 8)
  h.write('fmt ', 12)
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(1, 20) // PCM
  h.writeUInt16LE(channels, 22)
  h.writeUInt32LE(SAMPLE_RATE, 24)
  h.writeUInt32LE(SAMPLE_RATE * blockAlign, 28)
  h.writeUInt16LE(blockAlign, 32)
  h.writeUInt16LE(bits, 34)
  h.write('data', 36)
  h.writeUInt32LE(dataBytes, 40)
  return h
}

/**
 * Writes `seconds` of the stereo test signal as a 16-bit PCM WAV, unless a
 * file of exactly the expected size is already there (the content is
 * deterministic). Returns true when it wrote the file.
 */
export function ensureWav(path, seconds, channels = 2, seed = 1) {
  const frames = seconds * SAMPLE_RATE
  const size = 44 + frames * channels * 2
  if (existsSync(path) && statSync(path).size === size) return false
  const fd = openSync(path, 'w')
  try {
    writeSync(fd, wavHeader(channels, frames, 16))
    const rngs = Array.from({ length: channels }, (_, c) => noise(seed * 7919 + c))
    const chunk = SAMPLE_RATE
    const planar = Array.from({ length: channels }, () => new Float32Array(chunk))
    // Int16Array is host-endian; WAV is little-endian like every machine this runs on.
    const pcm = new Int16Array(chunk * channels)
    for (let first = 0; first < frames; first += chunk) {
      fill(planar, first, rngs)
      for (let c = 0; c < channels; c++) {
        const ch = planar[c]
        for (let i = 0; i < chunk; i++) pcm[i * channels + c] = Math.round(ch[i] * 32767)
      }
      writeSync(fd, pcm)
    }
  } finally {
    closeSync(fd)
  }
  return true
}

/** Reads a PCM 16-bit WAV's samples (interleaved Int16Array) and format. */
export function readWav16(path) {
  const b = readFileSync(path)
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path}: not a WAV file`)
  let off = 12
  let fmt = null
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4)
    let len = b.readUInt32LE(off + 4)
    if (id === 'fmt ') {
      fmt = { format: b.readUInt16LE(off + 8), channels: b.readUInt16LE(off + 10), sampleRate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) }
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${path}: data before fmt`)
      if (fmt.bits !== 16) throw new Error(`${path}: ${fmt.bits}-bit, expected 16-bit`)
      len = Math.min(len, b.length - off - 8)
      const samples = new Int16Array(b.buffer.slice(b.byteOffset + off + 8, b.byteOffset + off + 8 + (len & ~1)))
      return { ...fmt, samples }
    }
    off += 8 + len + (len & 1)
  }
  throw new Error(`${path}: no data chunk`)
}

/** Writes planar Float32Arrays as raw little-endian f32, channel after channel. */
export function writePlanarF32(path, channels) {
  writeFileSync(path, Buffer.concat(channels.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))))
}

/** Reads a raw planar file back: `channels` arrays of the given typed-array type. */
export function readPlanar(path, channels, Type = Float32Array) {
  const b = readFileSync(path)
  const all = new Type(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
  const n = all.length / channels
  return Array.from({ length: channels }, (_, c) => all.subarray(c * n, (c + 1) * n))
}
