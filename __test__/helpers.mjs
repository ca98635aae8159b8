// Shared helpers of the ava specs. WAV files for inputs are written here by
// hand (not through resonode) so the specs do not check resonode against itself.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const lib = createRequire(import.meta.url)(join(root, 'dist', 'index.js'))
export const asset = (name) => join(root, 'assets', name)
export const cli = join(root, 'bin', 'resonode.js')

/**
 * Runs the CLI (`node bin/resonode.js ...args`) and resolves with its exit
 * `status` (0 on success), `stdout` and `stderr`. Asynchronous: a blocked
 * event loop would starve the other specs' timers.
 */
export function runCli(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ status: err ? err.code : 0, stdout, stderr })
    })
  })
}

// Every spec file runs in a child process of its own (workerThreads: false):
// its temporary directories go when it exits, whatever the outcome.
const tempDirs = []
process.once('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'resonode-test-'))
  tempDirs.push(dir)
  return dir
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
/**
 * Reads an audio file as planar float32, independently of resonode: WAV is
 * parsed here (PCM 8/16/24/32-bit, float 32/64, WAVE_FORMAT_EXTENSIBLE);
 * anything else is converted to float WAV by sox first. Integer PCM maps
 * to [-1, 1) by dividing by 2^(bits-1), as resonode and sox do.
 */
export async function readAll(path) {
  let bytes = readFileSync(path)
  if (bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') {
    const tmp = join(tempDir(), 'decoded.wav')
    execFileSync('sox', [path, '-t', 'wav', '-e', 'floating-point', '-b', '32', tmp])
    bytes = readFileSync(tmp)
  }
  return parseWav(bytes)
}

/** Planar float32 samples of a WAV file's bytes (see {@link readAll}). */
export function parseWav(bytes) {
  let fmt = null
  let data = null
  for (let off = 12; off + 8 <= bytes.length; ) {
    const id = bytes.toString('latin1', off, off + 4)
    const size = bytes.readUInt32LE(off + 4)
    const body = bytes.subarray(off + 8, Math.min(bytes.length, off + 8 + size))
    if (id === 'fmt ') fmt = body
    if (id === 'data') data = body
    off += 8 + size + (size & 1)
  }
  if (!fmt || !data) throw new Error('not a WAV file with fmt and data chunks')
  let tag = fmt.readUInt16LE(0)
  const channels = fmt.readUInt16LE(2)
  const sampleRate = fmt.readUInt32LE(4)
  const bits = fmt.readUInt16LE(14)
  if (tag === 0xfffe) tag = fmt.readUInt16LE(24)
  const width = bits / 8
  const frames = Math.floor(data.length / (width * channels))
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  const read =
    tag === 3
      ? bits === 64
        ? (o) => data.readDoubleLE(o)
        : (o) => data.readFloatLE(o)
      : bits === 8
        ? (o) => (data[o] - 128) / 128
        : bits === 16
          ? (o) => data.readInt16LE(o) / 32768
          : bits === 24
            ? (o) => data.readIntLE(o, 3) / 8388608
            : (o) => data.readInt32LE(o) / 2147483648
  if (tag !== 1 && tag !== 3) throw new Error(`WAV format tag ${tag} is not PCM or float`)
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) out[c][i] = read((i * channels + c) * width)
  }
  return { sampleRate, channels: out }
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

/** Blocks of planar channels (one array per channel each, as a CallbackSink or a StreamProcessor delivers them) joined per channel. */
export function joinBlocks(blocks) {
  const n = blocks[0]?.length ?? 0
  return Array.from({ length: n }, (_, c) => concat(blocks.map((b) => b[c])))
}

/** A sine of `freq` Hz at amplitude `amp`, `frames` long at `rate`. */
export function tone(freq, frames, rate, amp = 0.3) {
  const a = new Float32Array(frames)
  for (let i = 0; i < frames; i++) a[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate)
  return a
}

/** Amplitude of `freq` Hz in `x` sampled at `rate` (Goertzel). */
export function goertzel(x, freq, rate) {
  const w = (2 * Math.PI * freq) / rate
  const k = 2 * Math.cos(w)
  let s1 = 0
  let s2 = 0
  for (const v of x) {
    const s = v + k * s1 - s2
    s2 = s1
    s1 = s
  }
  return (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - k * s1 * s2))) / x.length
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

/**
 * Runs `start({ signal, onProgress })` and aborts it at the first progress
 * above 0; checks that it rejects with an AbortError (ERR_ABORTED) and
 * returns the error's `stats` and the progress fractions reported.
 */
export async function abortAtFirstProgress(t, start) {
  const ac = new AbortController()
  const fractions = []
  const err = await t.throwsAsync(
    start({
      signal: ac.signal,
      onProgress: (f) => {
        fractions.push(f)
        if (f > 0) ac.abort()
      },
    }),
    { name: 'AbortError', code: 'ERR_ABORTED' },
  )
  return { stats: err.stats, fractions }
}

/** A finalised WAV: RIFF size = file size - 8, and the `data` chunk's size (returned, in bytes) fits the file. */
export function wavDataBytes(t, path) {
  const b = readFileSync(path)
  t.is(b.toString('latin1', 0, 4), 'RIFF')
  t.is(b.readUInt32LE(4), b.length - 8, `${path}: RIFF size finalised`)
  const at = b.indexOf('data', 12, 'latin1')
  t.true(at > 0)
  const size = b.readUInt32LE(at + 4)
  t.is(at + 8 + size, b.length, `${path}: data size finalised`)
  return size
}

/**
 * An HTDemucs parity fixture directory (crates/ml/tests/fixtures/htdemucs*):
 * its `meta.txt` as an object, the stem names, the clip of
 * assets/music.wav it was made from, and `assertParity(t, stems, refPrefix,
 * label)`, which checks every stem against `<refPrefix><name>.wav` at the
 * single-model parity tolerance (SI-SDR >= 70 dB, max error <= 1e-3 of the peak).
 */
export function htdemucsFixture(dir) {
  const meta = Object.fromEntries(
    readFileSync(join(dir, 'meta.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(' = '))
      .map((l) => l.split(' = ').map((s) => s.trim())),
  )
  const sources = meta.sources.split(',')
  return {
    meta,
    sources,
    async clip() {
      const start = Number(meta['clip.start_frame_in_music_wav'])
      const frames = Number(meta['clip.frames'])
      return (await readAll(asset('music.wav'))).channels.map((c) => c.slice(start, start + frames))
    },
    async assertParity(t, stems, refPrefix, label) {
      t.is(stems.length, sources.length)
      for (const [s, name] of sources.entries()) {
        const ref = concat((await readAll(join(dir, `${refPrefix}${name}.wav`))).channels)
        const est = concat(stems[s])
        t.is(est.length, ref.length)
        const peak = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
        const score = lib.siSdr(est, ref)
        const rel = maxAbsDiff(est, ref) / peak
        t.log(`${label} ${name}: SI-SDR ${score.toFixed(1)} dB, max abs error ${rel.toExponential(2)} of the peak`)
        t.true(score >= 70, `${label} ${name}: ${score} dB`)
        t.true(rel <= 1e-3, `${label} ${name}: ${rel}`)
      }
    },
  }
}

/** Sum of a[ao + i] * b[bo + i] for i < n. */
export function dot(a, ao, b, bo, n) {
  let s = 0
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i]
  return s
}

/** Normalised correlation of r[ro, ro + n) with e[lag, lag + n) (-Infinity when out of range). */
export function correlationAt(r, ro, e, lag, n) {
  if (ro < 0 || lag < 0 || ro + n > r.length || lag + n > e.length) return -Infinity
  return dot(r, ro, e, lag, n) / Math.sqrt(dot(r, ro, r, ro, n) * dot(e, lag, e, lag, n) + 1e-30)
}

/** |x| summed over 32 samples, every 16th: a coarse, phase-free view of x[from, to) for finding lags. */
export function envelope(x, from = 0, to = x.length) {
  const out = new Float32Array(Math.floor((to - from) / 16))
  for (let k = 0; k < out.length; k++) {
    let s = 0
    for (let i = from + k * 16; i < Math.min(to, from + k * 16 + 32); i++) s += Math.abs(x[i])
    out[k] = s
  }
  return out
}

/**
 * Where the recording's window r[ro, ro + n) is in the expected signal e:
 * the best envelope correlation over every lag (pass `envE = envelope(e)`
 * when locating many windows), then the best exact correlation within
 * +-48 samples of it. Returns `{ lag, rho }` (lag -1 when none fits).
 */
export function locate(r, ro, e, n, envE = envelope(e)) {
  const envR = envelope(r, ro, ro + n)
  const m = envR.length
  const meanR = envR.reduce((a, v) => a + v, 0) / m
  let best = { k: 0, c: -Infinity }
  for (let k = 0; k + m <= envE.length; k++) {
    let se = 0
    for (let i = 0; i < m; i++) se += envE[k + i]
    const meanE = se / m
    let re = 0
    let ee = 0
    let rr = 0
    for (let i = 0; i < m; i++) {
      const a = envR[i] - meanR
      const b = envE[k + i] - meanE
      re += a * b
      ee += b * b
      rr += a * a
    }
    const c = re / Math.sqrt(ee * rr + 1e-30)
    if (c > best.c) best = { k, c }
  }
  let found = { lag: -1, rho: -Infinity }
  for (let l = best.k * 16 - 48; l <= best.k * 16 + 48; l++) {
    const v = correlationAt(r, ro, e, l, n)
    if (v > found.rho) found = { lag: l, rho: v }
  }
  return found
}
