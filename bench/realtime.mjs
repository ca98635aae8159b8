// d. Real time, on the PulseAudio server the tests use (a null sink
// `resonull` whose monitor is a real loopback, and `resonull_aux` for
// duplex output; see scripts/start-pulseaudio.sh):
//   1. callback load of an 8-processor chain at 64/128/256-frame buffers,
//      duplex on PulseAudio (resonull.monitor -> resonull_aux) and on the
//      clocked `none` backend, through RealtimeProcessor (its stats), with
//      the JS thread busy; the Rust example `callback_load` as a cross-check;
//   2. round-trip latency through the null-sink loopback at 64..512 frames
//      (the Rust example `loopback`; clock marks of the callbacks), and
//      `testDevice()` through the JS API;
//   3. the same gain-only duplex job with resonode, audify and naudiodon
//      (both run JS in the audio path), JS idle and busy: glitches measured
//      outside every library (a sine played into resonull by `pacat`, the
//      job's output recorded from resonull_aux.monitor by `parec`), each
//      library's own counters, and the timing of the JS callbacks.
// Every measurement runs in its own process (bench/realtime-job.mjs).
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fmt, median, table } from './common.mjs'

const SR = 48000
export const CHAIN8 =
  'highpass(40) lowpass(9khz, order=8) biquad(peaking, 1khz, 1, 3db) gain(-3db) delay(30ms, 0.4, 0.3) reverb(room=0.6) limiter(-1db) gain(linear=0.9)'
const LOAD_BUFFERS = [64, 128, 256]
const LOOPBACK_BUFFERS = [64, 128, 256, 512]
const DUPLEX_BUFFER = 256
// RESONODE_RT_QUICK=1: short runs, to check the harness (numbers not for RESULTS.md).
const QUICK = process.env.RESONODE_RT_QUICK === '1'
const LOAD_SECONDS = QUICK ? 2 : 6
const DUPLEX_SECONDS = QUICK ? 4 : 10
const DUPLEX_WARMUP_S = 2
const BUSY_BLOCK_MS = 20
const GAIN_DB = -6
const PRIME_BUFFERS = 2 // what resonode's duplex queue primes with at latency 'balanced'
const PIPE_LATENCY_MS = 20
// The duplex jobs, each with the JS thread idle and then busy: resonode at
// 256 and 128 frames on every path this machine has (`backend` of
// RealtimeProcessor), the JS-in-the-audio-path libraries at the same sizes,
// and the control. RESONODE_RT_D3=<regex> keeps the variants whose key
// (e.g. `resonode/pulseaudio/128`, `audify/256`) matches.
const D3_BUFFERS = [256, 128]
const RESONODE_PATHS = ['pulseaudio', 'alsa', 'jack']
const VARIANTS = [
  ...D3_BUFFERS.flatMap((bufferSize) => [
    ...RESONODE_PATHS.map((backend) => ({ lib: 'resonode', backend, bufferSize, latency: 'balanced' })),
    { lib: 'audify', bufferSize },
  ]),
  { lib: 'resonode', backend: 'pulseaudio', bufferSize: 1024, latency: 'high' },
  { lib: 'naudiodon', bufferSize: DUPLEX_BUFFER },
  { lib: 'pipe', bufferSize: DUPLEX_BUFFER },
].filter((v) => !process.env.RESONODE_RT_D3 || new RegExp(process.env.RESONODE_RT_D3).test(variantKey(v)))
function variantKey(v) {
  return [v.lib, v.backend, v.lib === 'pipe' ? '' : v.bufferSize].filter(Boolean).join('/')
}
const INPUT = 'resonull.monitor'
const OUTPUT = 'resonull_aux'
// The probe signal: left a 997 Hz sine (glitch detection), right silence
// with short tone bursts at irregular times (latency through the job).
const TONE_HZ = 997
const TONE_AMP = 0.25
const MARK_AMP = 0.5
const SOURCE_SECONDS = 40

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ------------------------------------------------------------ helpers

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  return { ok: r.status === 0 && !r.error, out: (r.stdout || '').trim(), err: (r.stderr || String(r.error || '')).trim() }
}

/** Starts (idempotently) the PulseAudio daemon and exports PULSE_SERVER to this process and its children. */
function ensurePulse(root) {
  const r = sh('bash', [join(root, 'scripts/start-pulseaudio.sh'), '--env'])
  if (!r.ok) return { ok: false, error: r.err || r.out }
  const m = r.out.match(/PULSE_SERVER=(\S+)/)
  if (m) process.env.PULSE_SERVER = m[1]
  const info = sh('pactl', ['info']).out
  return { ok: true, server: process.env.PULSE_SERVER, version: info.match(/Server Version: (.*)/)?.[1] ?? '?' }
}

/** Clients of the server that are not ours (another test run playing into the sinks would spoil the measurements). */
function foreignClients() {
  const n = (what) => sh('pactl', ['list', 'short', what]).out.split('\n').filter((l) => l.trim()).length
  return n('sink-inputs') + n('source-outputs')
}

// Compilers, linkers and cargo-built test binaries: on a 2-core machine any
// of them running turns real-time measurements into noise.
const HEAVY = new Set(['rustc', 'cc1', 'cc1plus', 'ld', 'ld.lld', 'ld.gold', 'clang'])
function heavyRunning() {
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) > 57) continue
    try {
      const c = readFileSync(`/proc/${d}/comm`, 'utf8').trim()
      if (HEAVY.has(c)) return c
      if (/\/target\/.*\/deps\//.test(readlinkSync(`/proc/${d}/exe`))) return `${c} (a cargo test binary)`
    } catch {}
  }
  return null
}

/** Waits until no compiler runs and no other client uses the PulseAudio server (30 min at most). */
async function waitQuiet(ctx, pulse = true) {
  if (ctx.noWait) return
  let quiet = 0
  for (let waited = 0; quiet < 2; waited += 2) {
    const heavy = heavyRunning()
    const clients = pulse ? foreignClients() : 0
    quiet = heavy || clients ? 0 : quiet + 1
    if (quiet >= 2) break
    if (waited >= 1800) throw new Error(`${heavy ?? 'other PulseAudio clients'} kept running for 30 minutes; not measuring beside them`)
    if (waited % 120 === 0 && (heavy || clients)) ctx.log(`  waiting: ${heavy ? `${heavy} is running` : 'other PulseAudio clients are playing or recording'}`)
    await sleep(2000)
  }
}

/** Jiffies of all CPUs: [busy, total], from /proc/stat. */
function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  return [total - f[3] - (f[4] || 0), total]
}

/**
 * Runs one measurement on a quiet machine; when a compiler starts while it
 * runs, measures again (3 attempts; the last is kept and flagged). Records
 * how busy the whole machine was meanwhile (all cores; 0.5 = one of two).
 */
async function measured(ctx, label, fn, pulse = true) {
  for (let attempt = 1; ; attempt++) {
    await waitQuiet(ctx, pulse)
    const c0 = cpuTimes()
    let seen = null
    const t = setInterval(() => {
      seen ??= heavyRunning()
    }, 500)
    let r
    try {
      r = await fn()
    } finally {
      clearInterval(t)
    }
    seen ??= heavyRunning()
    const c1 = cpuTimes()
    const machineCpu = (c1[0] - c0[0]) / Math.max(1, c1[1] - c0[1])
    if (!seen) return { ...r, attempts: attempt, machineCpu }
    if (attempt >= 3 || ctx.noWait) return { ...r, attempts: attempt, disturbedBy: seen, machineCpu }
    ctx.log(`  (${seen} ran during ${label}: measuring again)`)
  }
}

/** A command run asynchronously (so the compiler watch keeps running). */
function shAsync(cmd, args, opts = {}, timeoutS = 180) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (b) => (out += b))
    p.stderr.on('data', (b) => (err += b))
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000)
    p.on('error', (e) => (err += String(e)))
    p.on('close', (code) => {
      clearTimeout(timer)
      resolve({ ok: code === 0, out: out.trim(), err: err.trim() })
    })
  })
}

/** Marker start times (s) in the probe signal: irregular gaps of 0.40..0.90 s. */
function markerTimes(seconds) {
  const ts = []
  let t = 0.3
  for (let k = 0; t < seconds - 0.5; k++) {
    ts.push(t)
    t += 0.4 + 0.05 * ((k * 7) % 11)
  }
  return ts
}

/** Writes the probe signal (raw interleaved stereo float32) once. */
function ensureProbe(out) {
  const path = join(out, `rt_probe_${SOURCE_SECONDS}s_v1.f32`)
  if (existsSync(path)) return path
  const n = SOURCE_SECONDS * SR
  const x = new Float32Array(n * 2)
  const w = (2 * Math.PI * TONE_HZ) / SR
  for (let i = 0; i < n; i++) x[2 * i] = TONE_AMP * Math.sin(w * i)
  const len = 96
  for (const t of markerTimes(SOURCE_SECONDS)) {
    const s0 = Math.round(t * SR)
    for (let j = 0; j < len; j++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * j) / (len - 1))
      x[2 * (s0 + j) + 1] = MARK_AMP * hann * Math.sin((2 * Math.PI * 3000 * j) / SR)
    }
  }
  writeFileSync(path, Buffer.from(x.buffer))
  return path
}

/** `pacat` playing the probe into `resonull`. */
function startPlayer(probe) {
  const fd = openSync(probe, 'r')
  const p = spawn('pacat', ['--playback', '--raw', '--format=float32le', `--rate=${SR}`, '--channels=2', '--device=resonull', '--latency-msec=50', '--client-name=resonode-bench-probe'], {
    stdio: [fd, 'ignore', 'pipe'],
  })
  closeSync(fd)
  let err = ''
  p.stderr.on('data', (b) => (err += b))
  return {
    async stop() {
      if (p.exitCode === null) {
        p.kill('SIGTERM')
        await new Promise((r) => p.once('exit', r))
      }
      return err
    },
  }
}

/**
 * `parec` recording `device`; every chunk is stamped on arrival, so sample
 * n of the recording maps to wall time (performance.now() ms) as
 * t0 + n / SR (t0 from the earliest-arriving chunk: the lower envelope).
 */
function startRecorder(device) {
  return stampedRecorder('parec', ['--raw', '--format=float32le', `--rate=${SR}`, '--channels=2', `--device=${device}`, `--latency-msec=${process.env.RT_REC_LAT || 10}`, '--client-name=resonode-bench-rec'])
}

/** A recorder command writing raw stereo float32 at SR to stdout, stamped as `startRecorder` describes. */
function stampedRecorder(cmd, args) {
  const p = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const chunks = []
  let bytes = 0
  let t0 = Infinity
  p.stdout.on('data', (b) => {
    const now = performance.now()
    chunks.push(b)
    bytes += b.length
    t0 = Math.min(t0, now - (bytes / 8 / SR) * 1000)
  })
  let err = ''
  p.stderr.on('data', (b) => (err += b))
  return {
    pid: p.pid,
    async stop() {
      p.kill('SIGTERM')
      await new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r()))
      const buf = Buffer.concat(chunks)
      const frames = Math.floor(buf.length / 8)
      const all = new Float32Array(frames * 2)
      new Uint8Array(all.buffer).set(buf.subarray(0, frames * 8))
      const left = new Float32Array(frames)
      const right = new Float32Array(frames)
      for (let i = 0; i < frames; i++) {
        left[i] = all[2 * i]
        right[i] = all[2 * i + 1]
      }
      return { left, right, frames, t0, err }
    },
  }
}

// ------------------------------------------------------------- JACK
// A JACK dummy server has no device that PulseAudio's recorders could tap,
// so on JACK the measurement stays inside the JACK graph, with ALSA's
// `jack` PCM (alsa-plugins) as an independent client: `aplay -D jack`
// plays the probe and is connected to the job's input ports; one
// `arecord -D jack` records the job's output ports, another the player's
// ports (the control). Connections are made with jack_connect.

const JACK_PORTS_WAIT_MS = 5000

function jackPorts() {
  const r = sh('jack_lsp', ['-p'])
  const ports = []
  const lines = r.out.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i + 1]?.match(/properties: (.*)/)
    if (!lines[i].startsWith('\t') && m) ports.push({ name: lines[i].trim(), output: /\boutput\b/.test(m[1]) })
  }
  return ports
}

async function waitJackPorts(re, n) {
  for (let t = 0; t < JACK_PORTS_WAIT_MS; t += 50) {
    const found = jackPorts().filter((p) => re.test(p.name))
    if (found.length >= n) return found
    await sleep(50)
  }
  throw new Error(`no JACK ports matching ${re} after ${JACK_PORTS_WAIT_MS} ms (have: ${jackPorts().map((p) => p.name).join(', ')})`)
}

function jackConnect(from, to) {
  const r = sh('jack_connect', [from, to])
  if (!r.ok) throw new Error(`jack_connect ${from} ${to}: ${r.err}`)
}

function startJack(root, period) {
  const r = sh('bash', [join(root, 'scripts/start-jack.sh'), '--period', String(period)])
  return r.ok ? { ok: true, note: r.err } : { ok: false, error: r.err || r.out }
}

function stopJack(root) {
  sh('bash', [join(root, 'scripts/start-jack.sh'), '--stop'])
}

/** The probe played into JACK by aplay; resolves when its ports exist. */
async function startJackPlayer(probe) {
  const p = spawn('aplay', ['-q', '-D', 'jack', '-t', 'raw', '-f', 'FLOAT_LE', `-r${SR}`, '-c2', probe], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  p.stderr.on('data', (b) => (err += b))
  const ports = await waitJackPorts(new RegExp(`^aplay\\.P\\.${p.pid}\\.`), 2)
  return {
    ports: ports.map((x) => x.name).sort(),
    async stop() {
      if (p.exitCode === null) {
        p.kill('SIGTERM')
        await new Promise((r) => p.once('exit', r))
      }
      return err
    },
  }
}

/** arecord from JACK, its two inputs connected to `sources`. */
async function startJackRecorder(sources) {
  const rec = stampedRecorder('arecord', ['-q', '-D', 'jack', '-t', 'raw', '-f', 'FLOAT_LE', `-r${SR}`, '-c2'])
  const ports = (await waitJackPorts(new RegExp(`^arecord\\.C\\.${rec.pid}\\.`), 2)).map((x) => x.name).sort()
  // Its default connections (system:capture, silence) are harmless: JACK mixes.
  sources.forEach((src, i) => jackConnect(src, ports[i]))
  return rec
}

async function jackDuplexRun(ctx, common, v, busy) {
  const started = startJack(ctx.root, v.bufferSize)
  if (!started.ok) return { error: `JACK server: ${started.error}` }
  try {
    const player = await startJackPlayer(common.probe)
    const srcRec = await startJackRecorder(player.ports)
    await sleep(500)
    const spec = {
      ...common.spec,
      mode: 'duplex',
      lib: 'resonode',
      backend: 'jack',
      inputDevice: undefined,
      outputDevice: undefined,
      bufferSize: v.bufferSize,
      latency: v.latency ?? 'balanced',
      warmupS: DUPLEX_WARMUP_S,
      seconds: DUPLEX_SECONDS,
      busy,
      gainDb: GAIN_DB,
    }
    const jobPromise = runJob(ctx.root, spec)
    // The job's ports: cpal names its clients cpal_client_<pid>_{in,out}.
    const jobPorts = await waitJackPorts(/^cpal_client_\d+/, 4)
    const ins = jobPorts.filter((p) => !p.output).map((p) => p.name).sort()
    const outs = jobPorts.filter((p) => p.output).map((p) => p.name).sort()
    player.ports.forEach((src, i) => jackConnect(src, ins[i]))
    const outRec = await startJackRecorder(outs)
    const job = await jobPromise
    const out = await outRec.stop()
    const src = await srcRec.stop()
    await player.stop()
    return analyseDuplex(job, src, out, 'jack')
  } finally {
    stopJack(ctx.root)
  }
}

/** Runs bench/realtime-job.mjs; resolves with its RESULT, its READY/DONE wall times and its output. */
function runJob(root, spec, env = {}, timeoutS = 120) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'bench/realtime-job.mjs'), JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    })
    let out = ''
    let err = ''
    let buf = ''
    const marks = {}
    p.stdout.on('data', (b) => {
      const now = performance.now()
      out += b
      buf += b
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        const m = line.match(/^(READY|DONE) /)
        if (m) marks[m[1].toLowerCase()] = now
      }
    })
    p.stderr.on('data', (b) => (err += b))
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      let result
      try {
        result = line ? JSON.parse(line.slice(7)) : { error: `no result (exit ${code ?? signal}): ${err.slice(-500)}` }
      } catch (e) {
        result = { error: `bad result line: ${e}` }
      }
      resolve({ result, marks, stdout: out, stderr: err })
    })
  })
}

// ----------------------------------------------------------- analysis

/** Onset times (wall ms) of the marker bursts in a recording's right channel. */
function detectMarkers(rec, threshold) {
  const ts = []
  const gap = Math.round(0.05 * SR)
  let last = -Infinity
  for (let i = 0; i < rec.frames; i++) {
    if (Math.abs(rec.right[i]) > threshold) {
      if (i - last > gap) ts.push(rec.t0 + (i / SR) * 1000)
      last = i
    }
  }
  return ts
}

/** Latency (ms) of every output marker: matched to the source marker that keeps the latency continuous. */
function markerLatencies(src, out) {
  if (!src.length || !out.length) return []
  // Start from the most common lag (10 ms bins) over all pairs within 5 s.
  const bins = new Map()
  for (const o of out) for (const s of src) {
    const d = o - s
    if (d >= 0 && d < 5000) bins.set(Math.round(d / 10), (bins.get(Math.round(d / 10)) ?? 0) + 1)
  }
  if (!bins.size) return []
  let lag = [...bins.entries()].sort((a, b) => b[1] - a[1])[0][0] * 10
  const res = []
  for (const o of out) {
    let best = null
    for (const s of src) {
      const d = o - s
      if (d >= 0 && d < 5000 && (best === null || Math.abs(d - lag) < Math.abs(best - lag))) best = d
    }
    if (best !== null && Math.abs(best - lag) < 150) {
      res.push({ at: o, latencyMs: best })
      lag = best
    }
  }
  return res
}

/**
 * Glitches in the left channel (the sine) between wall times a and b:
 * a glitch is a sample where the sine recurrence x[n+1] - 2cos(w)x[n] +
 * x[n-1] (zero for a clean sine, ~1e-4 with 16-bit quantisation) exceeds
 * a tenth of the tone's amplitude -- a gap, a skip or a click; samples
 * within 5 ms are one glitch. Dropout: 1 ms blocks below a quarter of the
 * median block RMS.
 */
function glitches(rec, a, b) {
  const i0 = Math.max(1, Math.ceil(((a - rec.t0) / 1000) * SR))
  const i1 = Math.min(rec.frames - 1, Math.floor(((b - rec.t0) / 1000) * SR))
  if (i1 - i0 < SR) return { windowS: Math.max(0, (i1 - i0) / SR), error: 'window under 1 s' }
  const x = rec.left
  const blk = 48
  const rms = []
  for (let i = i0; i + blk <= i1; i += blk) {
    let s = 0
    for (let j = 0; j < blk; j++) s += x[i + j] * x[i + j]
    rms.push(Math.sqrt(s / blk))
  }
  const level = median(rms)
  const amp = level * Math.SQRT2
  if (!(amp > 1e-3)) return { windowS: (i1 - i0) / SR, amplitude: amp, silent: true, glitches: NaN, dropoutMs: ((i1 - i0) / SR) * 1000 }
  const c2 = 2 * Math.cos((2 * Math.PI * TONE_HZ) / SR)
  const thr = 0.1 * amp
  let count = 0
  let last = -Infinity
  let maxResidual = 0
  const at = [] // the first glitches, s from the window start (for looking into them)
  for (let i = i0; i < i1; i++) {
    const r = Math.abs(x[i + 1] - c2 * x[i] + x[i - 1])
    if (r > maxResidual) maxResidual = r
    if (r > thr) {
      if (i - last > 240) {
        count++
        if (at.length < 50) at.push(+((i - i0) / SR).toFixed(4))
      }
      last = i
    }
  }
  let dropBlocks = 0
  let run = 0
  let longest = 0
  for (const v of rms) {
    if (v < 0.25 * level) {
      dropBlocks++
      run++
      longest = Math.max(longest, run)
    } else run = 0
  }
  return {
    windowS: (i1 - i0) / SR,
    amplitude: amp,
    glitches: count,
    glitchesPerMin: count / ((i1 - i0) / SR / 60),
    dropoutMs: dropBlocks,
    longestDropoutMs: longest,
    residualToAmp: maxResidual / amp,
    at,
  }
}

// ------------------------------------------------------- measurements

function deviceExamples(ctx) {
  const target = process.env.RESONODE_DEVICE_TARGET_DIR || join(ctx.out, 'device-target')
  const r = sh('cargo', ['build', '--release', '--quiet', '-p', 'resonode-device', '--example', 'loopback', '--example', 'callback_load'], {
    cwd: ctx.root,
    env: { ...process.env, CARGO_TARGET_DIR: target },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (!r.ok) return { error: `cargo build of the resonode-device examples failed: ${r.err.split('\n').slice(-5).join(' ')}` }
  return { loopback: join(target, 'release/examples/loopback'), callbackLoad: join(target, 'release/examples/callback_load'), target }
}

async function measureLoad(ctx, common) {
  const rows = []
  for (const buffer of LOAD_BUFFERS) {
    for (const backend of ['default', 'none']) {
      const label = `callback load: ${backend === 'none' ? "'none' backend" : 'PulseAudio duplex'}, ${buffer} frames, ${LOAD_SECONDS} s, JS busy`
      ctx.log(`  ${label}`)
      const r = await measured(ctx, label, async () => {
        const player = backend === 'none' ? null : startPlayer(common.probe)
        if (player) await sleep(300)
        const job = await runJob(ctx.root, {
          ...common.spec,
          mode: 'load',
          chain: CHAIN8,
          backend,
          bufferSize: buffer,
          warmupS: 0.2,
          seconds: LOAD_SECONDS,
          busy: true,
        })
        if (player) await player.stop()
        return job.result
      })
      rows.push({ buffer, backend, ...r })
    }
  }
  return rows
}

async function crossCheckLoad(ctx, ex) {
  if (!ex.callbackLoad) return { error: ex.error }
  ctx.log('  callback load, Rust example callback_load (noise input; none and PulseAudio)')
  const r = await measured(ctx, 'callback_load', () => shAsync(ex.callbackLoad, [], { env: { ...process.env, RESONODE_INPUT: INPUT, RESONODE_OUTPUT: OUTPUT } }))
  const rows = []
  for (const line of r.out.split('\n')) {
    const m = line.match(/^(none|device)\s+buffer\s+(\d+): load mean ([\d.]+) peak ([\d.]+) \((\d+) callbacks, late (\d+)(?:, xruns (\d+)\/(\d+) device (\d+))?/)
    if (m) rows.push({ backend: m[1], buffer: +m[2], mean: +m[3], peak: +m[4], callbacks: +m[5], late: +m[6], xruns: m[7] === undefined ? null : +m[7] + +m[8] })
  }
  return { rows, raw: r.out, error: r.ok ? undefined : r.err.slice(-500), disturbedBy: r.disturbedBy }
}

async function measureLoopback(ctx, ex) {
  const res = {}
  if (ex.loopback) {
    ctx.log(`  round trip, Rust example loopback: ${LOOPBACK_BUFFERS.join(', ')} frames`)
    const r = await measured(ctx, 'loopback', () => shAsync(ex.loopback, LOOPBACK_BUFFERS.map(String)))
    res.disturbedBy = r.disturbedBy
    res.rows = []
    for (const line of r.out.split('\n')) {
      const m = line.match(/^buffer (\d+): actual out (\d+) in (\d+), correlation ([\d.]+), round trip ([\d.?]+) ms, device-reported out delay (.*?) ms, in delay (.*?) ms, xruns (\d+)/)
      if (m) {
        const num = (s) => {
          const v = s.match(/[\d.]+/)
          return v ? Number(v[0]) : null
        }
        res.rows.push({ buffer: +m[1], actualOut: +m[2], actualIn: +m[3], correlation: +m[4], roundTripMs: m[5] === '?' ? null : +m[5], outDelayMs: num(m[6]), inDelayMs: num(m[7]), xruns: +m[8] })
      }
    }
    if (!r.ok) res.error = r.err.slice(-500)
    res.raw = r.out
  } else res.error = ex.error
  ctx.log('  round trip, testDevice() through the JS API (default output resonull, default input resonull.monitor)')
  const td = await measured(ctx, 'testDevice', async () => {
    try {
      return { result: await ctx.api.testDevice(undefined, { durationS: 2 }) }
    } catch (e) {
      return { error: String(e) }
    }
  })
  res.testDevice = td.result
  res.testDeviceError = td.error
  return res
}

/** Where audify and naudiodon are installed (never in this repository: see RESULTS.md). */
function findLibs(ctx) {
  const dirs = (process.env.RESONODE_RT_LIBS || '/tmp/rtbench').split(':').filter(Boolean)
  const libs = {}
  for (const name of ['audify', 'naudiodon']) {
    const dir = dirs.map((d) => join(d, 'node_modules', name)).find((d) => existsSync(join(d, 'package.json')))
    if (!dir) {
      libs[name] = { installed: false, error: `not found in ${dirs.map((d) => join(d, 'node_modules')).join(', ')} (set RESONODE_RT_LIBS)` }
      continue
    }
    const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
    libs[name] = { installed: true, dir, version }
  }
  return libs
}

/**
 * RtAudio's PulseAudio backend (audify) names devices by description and
 * keeps one device per name, so the two null sinks (both "Null Output")
 * collapse into the first, `resonull` -- the loopback's own input. For the
 * run, `resonull_aux` gets its own description (through pacmd; restored
 * afterwards).
 */
function renameAuxSink() {
  const desc = () => {
    const text = sh('pactl', ['list', 'sinks']).out
    const part = text.split(/\n(?=Sink #)/).find((s) => new RegExp(`Name: ${OUTPUT}\\b`).test(s))
    return part?.match(/Description: (.*)/)?.[1]
  }
  const before = desc()
  if (before === OUTPUT) return { ok: true, restore: () => {} }
  let loaded = null
  const mods = sh('pactl', ['list', 'short', 'modules']).out
  if (!/module-cli-protocol-unix/.test(mods)) {
    const l = sh('pactl', ['load-module', 'module-cli-protocol-unix'])
    if (!l.ok) return { ok: false, error: `pactl load-module module-cli-protocol-unix: ${l.err}` }
    loaded = l.out
  }
  const runtime = (process.env.PULSE_SERVER || '').replace(/^unix:/, '').replace(/\/native$/, '')
  const pacmd = (args) => sh('pacmd', args, { env: { ...process.env, PULSE_RUNTIME_PATH: runtime } })
  const set = pacmd(['update-sink-proplist', OUTPUT, `device.description=${OUTPUT}`])
  const unload = () => loaded && sh('pactl', ['unload-module', loaded])
  if (!set.ok || desc() !== OUTPUT) {
    unload()
    return { ok: false, error: `pacmd update-sink-proplist failed: ${set.err || set.out}` }
  }
  return {
    ok: true,
    restore: () => {
      pacmd(['update-sink-proplist', OUTPUT, `device.description=${before ?? 'Null Output'}`])
      unload()
    },
  }
}

async function measureDuplex(ctx, common, libs) {
  const runs = []
  const plan = VARIANTS.filter((v) => !libs[v.lib] || libs[v.lib].installed)
  let rename = null
  if (libs.audify.installed) {
    rename = renameAuxSink()
    if (!rename.ok) {
      libs.audify.error = `could not give ${OUTPUT} a distinct description for RtAudio: ${rename.error}`
      plan.splice(plan.findIndex((v) => v.lib === 'audify'), 1)
    }
  }
  try {
    for (const busy of [false, true]) {
      for (const v of plan) {
        const { lib } = v
        const label = `duplex gain job: ${lib}${v.backend ? ` on ${v.backend}` : ''}${lib === 'pipe' ? ` (parec | pacat, ${PIPE_LATENCY_MS} ms)` : `, ${v.bufferSize} frames${v.latency ? `, latency '${v.latency}'` : ''}`}, JS ${busy ? 'busy' : 'idle'}, ${DUPLEX_SECONDS} s`
        ctx.log(`  ${label}`)
        const run = v.backend === 'jack' ? () => jackDuplexRun(ctx, common, v, busy) : () => duplexRun(ctx, common, libs, v, busy)
        runs.push({ ...v, busy, ...(await measured(ctx, label, run)) })
      }
    }
  } finally {
    rename?.restore?.()
  }
  return runs
}

async function duplexRun(ctx, common, libs, v, busy) {
  const { lib } = v
  const srcRec = startRecorder(INPUT)
  const outRec = startRecorder(`${OUTPUT}.monitor`)
  const player = startPlayer(common.probe)
  await sleep(500)
  const spec = {
    ...common.spec,
    mode: 'duplex',
    lib,
    backend: v.backend ?? 'default',
    // The ALSA host reaches the server through alsa-plugins' `pulse` PCM,
    // which follows PULSE_SINK / PULSE_SOURCE (set below).
    ...(v.backend === 'alsa' ? { inputDevice: 'pulse', outputDevice: 'pulse' } : {}),
    bufferSize: v.bufferSize,
    latency: v.latency ?? 'balanced',
    pipeLatencyMs: PIPE_LATENCY_MS,
    warmupS: DUPLEX_WARMUP_S,
    seconds: DUPLEX_SECONDS,
    busy,
    gainDb: GAIN_DB,
    primeBuffers: PRIME_BUFFERS,
    module: libs[lib]?.dir,
    audifyOutputName: OUTPUT,
    audifyInputName: 'Monitor of Null Output',
    naudiodonDevice: 'pulse',
  }
  // naudiodon's PortAudio has only ALSA here: its `pulse` PCM (the
  // alsa-plugins bridge) follows PULSE_SINK / PULSE_SOURCE.
  const env = lib === 'naudiodon' || v.backend === 'alsa' ? { PULSE_SINK: OUTPUT, PULSE_SOURCE: INPUT } : {}
  const job = await runJob(ctx.root, spec, env)
  await sleep(lib === 'audify' ? 2500 : 500)
  const out = await outRec.stop()
  const src = await srcRec.stop()
  await player.stop()
  return analyseDuplex(job, src, out, lib)
}

/** Glitches and latency through the job, from the recordings of its input and output. */
function analyseDuplex(job, src, out, lib) {
  const r = { ...job.result }
  if (lib === 'naudiodon') r.paStatusMessages = (job.stdout.match(/portAudio status - .*/g) || []).length
  r.alsaMessages = (job.stderr.match(/underrun|overrun|xrun/gi) || []).length
  // Latency through the job, from the marker bursts.
  const srcMarks = detectMarkers(src, MARK_AMP / 4)
  const outMarks = detectMarkers(out, (MARK_AMP * 10 ** (GAIN_DB / 20)) / 4)
  const lat = markerLatencies(srcMarks, outMarks)
  const { ready, done } = job.marks
  if (ready && done) {
    // Markers that entered the job during the measured interval.
    const inWin = lat.filter((l) => l.at - l.latencyMs >= ready && l.at - l.latencyMs <= done).map((l) => l.latencyMs)
    const L = inWin.length ? median(inWin) : lat.length ? median(lat.map((l) => l.latencyMs)) : 0
    r.throughLatency = inWin.length
      ? { markers: inWin.length, medianMs: median(inWin), minMs: Math.min(...inWin), maxMs: Math.max(...inWin), lastMs: inWin[inWin.length - 1] }
      : { markers: 0 }
    // The job's output for the measured interval: from READY shifted by its
    // latency to DONE (the job stops its stream right after DONE, cutting
    // what is still queued).
    r.output = glitches(out, ready + L, done - 50)
    r.source = glitches(src, ready, done)
  } else r.output = { error: 'the job did not report READY/DONE' }
  return r
}

/**
 * @param ctx { root, out, api, log, waitForCompilers }
 */
export async function benchRealtime(ctx) {
  const res = { chain: CHAIN8, busyBlockMs: BUSY_BLOCK_MS, duplexBuffer: DUPLEX_BUFFER, gainDb: GAIN_DB, primeBuffers: PRIME_BUFFERS }
  res.pulse = ensurePulse(ctx.root)
  const probe = ensureProbe(ctx.out)
  const common = {
    probe,
    spec: { dist: join(ctx.root, 'dist/index.js'), sampleRate: SR, latency: 'balanced', inputDevice: INPUT, outputDevice: OUTPUT, busyBlockMs: BUSY_BLOCK_MS },
  }
  res.libs = findLibs(ctx)
  if (!res.pulse.ok) {
    ctx.log(`  PulseAudio not available (${res.pulse.error}): only the 'none' backend is measured`)
  }
  ctx.log('  building the resonode-device examples (loopback, callback_load)')
  const ex = res.pulse.ok ? deviceExamples(ctx) : { error: 'no PulseAudio' }
  res.examples = { error: ex.error, target: ex.target }
  if (!res.pulse.ok) {
    res.load = []
    for (const buffer of LOAD_BUFFERS) {
      const job = await runJob(ctx.root, { ...common.spec, mode: 'load', chain: CHAIN8, backend: 'none', bufferSize: buffer, warmupS: 0.2, seconds: LOAD_SECONDS, busy: true })
      res.load.push({ buffer, backend: 'none', ...job.result })
    }
    return res
  }
  res.load = await measureLoad(ctx, common)
  res.loadRust = await crossCheckLoad(ctx, ex)
  res.loopback = await measureLoopback(ctx, ex)
  res.duplex = await measureDuplex(ctx, common, res.libs)
  return res
}

// ------------------------------------------------------------- report

const ms = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(v < 0.01 ? 3 : 2)} %` : 'n/a')

export function reportRealtime(r) {
  const parts = []
  const summary = {}
  const pulse = r.pulse.ok ? `PulseAudio ${r.pulse.version} (${r.pulse.server})` : `no PulseAudio (${r.pulse.error})`
  parts.push(`Server: ${pulse}, null sinks \`resonull\` (its monitor \`${INPUT}\` is the input) and \`${OUTPUT}\` (output), 48 kHz.
"JS busy": while measuring, the job's main thread runs blocks of ${r.busyBlockMs} ms of CPU work with
allocation (objects, typed arrays, a rotating retained set, so V8 collects garbage several
times a second), with one event-loop turn between blocks; the event-loop delay and GC
columns show what that did. Every measurement is a separate \`node\` process
(\`bench/realtime-job.mjs\`).`)

  // 1. callback load
  if (r.load) {
  const load = r.load.filter((x) => !x.error)
  const lrows = r.load.map((x) => {
    if (x.error) return [x.backend, x.buffer, `error: ${x.error.split('\n')[0]}`, '', '', '', '', '', '', '', '', '']
    const s = x.stats
    return [
      x.backend === 'none' ? "`none` (clocked)" : 'PulseAudio duplex',
      x.buffer,
      ms((x.buffer / SR) * 1000, 2),
      pct(s.callbackLoadMean),
      pct(s.callbackLoadPeak),
      ms(s.callbackLoadPeak * (x.buffer / SR) * 1000 * 1000, 0),
      `${s.callbacks} (${ms(s.framesProcessed / Math.max(1, s.callbacks), 0)})`,
      s.lateCallbacks,
      `${s.xruns} (${s.xrunsUnderrun}/${s.xrunsOverrun}, device ${s.deviceXruns})`,
      x.backend === 'none' ? '' : ms(s.latencyMsMeasured, 1),
      `${ms(x.js.eventLoopDelayP99Ms, 0)} / ${x.js.gcCount}`,
      pct(x.machineCpu),
    ]
  })
  const peak256 = load.find((x) => x.backend === 'default' && x.buffer === 256)
  const peak64 = load.filter((x) => x.buffer === 64)
  summary.load = {
    pulse256Xruns: peak256 ? peak256.stats.xruns : NaN,
    maxPeak: load.length ? Math.max(...load.map((x) => x.stats.callbackLoadPeak)) : NaN,
    peak64: peak64.length ? Math.max(...peak64.map((x) => x.stats.callbackLoadPeak)) : NaN,
  }
  let cross = ''
  if (r.loadRust?.rows?.length) {
    cross = `\nCross-check from Rust (\`cargo run --release -p resonode-device --example callback_load\`: the same chain,
noise input on \`none\`, 3 s per row, JS not involved):

${table(
  ['backend', 'buffer', 'load mean', 'load peak', 'callbacks', 'late', 'xruns'],
  r.loadRust.rows.map((x) => [x.backend === 'none' ? '`none`' : 'PulseAudio duplex', x.buffer, pct(x.mean), pct(x.peak), x.callbacks, x.late, x.xruns ?? ''])
)}
`
  } else if (r.loadRust?.error) cross = `\nRust cross-check (example callback_load) not run: ${r.loadRust.error}\n`
  parts.push(`### d1. Callback load of an 8-processor chain

Chain: \`${r.chain}\`, stereo in and out, through \`RealtimeProcessor\`
(\`config: { bufferSize, channelsIn: 2, channelsOut: 2, inputDevice: '${INPUT}', outputDevice: '${OUTPUT}' }\`;
\`backend: 'none'\` for the clocked backend, whose input is silence through the JS API), ${LOAD_SECONDS} s per row with
the JS thread busy; on PulseAudio a 997 Hz sine plays into \`resonull\` meanwhile. Load = time in the
callback / the audio duration it produced (1.0 = the whole buffer period); the numbers are
\`stats.callbackLoadMean\` / \`callbackLoadPeak\` over the run. PulseAudio chooses how many frames it asks
for per callback (the "frames/callback" column); the requested buffer sets the engine's chunking and queue.

${table(['backend', 'buffer (frames)', 'period ms', 'load mean', 'load peak', 'peak us', 'callbacks (frames/callback)', 'late callbacks', 'xruns (under/over, device)', 'latency ms (device-reported)', 'JS event-loop delay p99 ms / GCs', 'machine CPU busy'], lrows)}
${cross}`)

  }

  // 2. loopback
  const lb = r.loopback
  if (lb) {
    const rows = (lb.rows || []).map((x) => [
      x.buffer,
      `${x.actualOut} / ${x.actualIn}`,
      ms(x.roundTripMs, 1) + (x.correlation < 0.9 ? ' (burst not cleanly recorded: unreliable)' : ''),
      ms(x.outDelayMs, 1),
      ms(x.inDelayMs, 1),
      x.correlation.toFixed(3),
      x.xruns,
    ])
    summary.loopback = lb.rows
    const td = lb.testDevice
    parts.push(`### d2. Round-trip latency through the PulseAudio null-sink loopback

A noise burst played to \`resonull\` (output engine) and recorded from \`${INPUT}\` (input engine), mono,
48 kHz; the round trip runs from the output callback that rendered the burst's first frame to the input
callback that delivered it (clock marks of every callback, and the burst located in the recording by
cross-correlation). \`cargo run --release -p resonode-device --example loopback -- ${LOOPBACK_BUFFERS.join(' ')}\`.

${rows.length ? table(['buffer (frames)', 'actual buffer out / in', 'round trip ms', 'device-reported output delay ms', 'input delay ms', 'correlation', 'xruns'], rows) : `not measured: ${lb.error}`}

Through the JS API, \`testDevice(undefined, { durationS: 2 })\` (the default output \`resonull\` and input \`${INPUT}\`, 512-frame buffers):
${td ? `round trip **${ms(td.latencyMs, 1)} ms**, loopback ${td.loopback ? 'found' : 'not found'} (correlation ${ms(td.loopbackCorrelation, 3)}), output ${ms(td.outputLevelDbfs, 1)} dBFS, input ${ms(td.inputLevelDbfs, 1)} dBFS.` : `failed: ${lb.testDeviceError}`}
`)
  }

  // 3. side by side
  if (r.duplex) {
    const rows = r.duplex.map((x) => {
      const name =
        x.lib === 'resonode'
          ? `resonode on '${x.backend}', ${x.bufferSize} frames, latency '${x.latency}'`
          : x.lib === 'pipe'
            ? `control: \`parec | pacat\`, ${PIPE_LATENCY_MS} ms (no JS, no gain)`
            : `${x.lib} ${r.libs[x.lib]?.version ?? ''}, ${x.bufferSize} frames`
      if (x.error) return [name, x.busy ? 'busy' : 'idle', `error: ${String(x.error).split('\n')[0]}`, '', '', '', '', '', '', '', '']
      const o = x.output || {}
      const own =
        x.lib === 'resonode'
          ? `xruns ${x.stats.xruns - x.before.xruns} (device ${x.stats.deviceXruns - x.before.deviceXruns}), late ${x.stats.lateCallbacks - x.before.lateCallbacks}`
          : x.lib === 'pipe'
            ? ''
            : x.lib === 'audify'
            ? `starved callbacks ${x.starvedCallbacks} of ${x.deviceCallbacks}; queue ${x.queuedAtEnd} at end`
            : `"portAudio status" reports ${x.paStatusMessages}; ${x.chunks} buffers through JS`
      const t = x.timing
      const jitter =
        x.lib === 'resonode'
          ? `no JS callback (load peak ${ms(x.stats.callbackLoadPeak * (x.bufferSize / SR) * 1e6, 0)} us)`
          : x.lib === 'pipe'
            ? ''
            : t && t.callbacks > 2
            ? `${ms(t.intervalSdMs)} / ${ms(t.intervalP99Ms, 1)} / ${ms(t.intervalMaxMs, 1)}; late p99 ${ms(t.latenessP99Ms, 1)}`
            : `${t?.callbacks ?? 0} callbacks`
      return [
        name,
        x.busy ? 'busy' : 'idle',
        o.error ? o.error : o.silent ? 'no output' : `${o.glitches} (${ms(o.glitchesPerMin, 1)}/min)`,
        o.error ? '' : o.silent ? `${ms(o.dropoutMs, 0)}` : `${o.dropoutMs} / ${o.longestDropoutMs}`,
        x.throughLatency?.markers ? `${ms(x.throughLatency.medianMs, 0)} (${ms(x.throughLatency.minMs, 0)}..${ms(x.throughLatency.maxMs, 0)})` : 'n/a',
        own,
        jitter,
        ms(x.js?.eventLoopDelayP99Ms, 0),
        pct(x.machineCpu),
        x.source ? (x.source.error ? x.source.error : `${x.source.glitches}`) : '',
        (o.windowS ? ms(o.windowS, 1) : '') + (x.disturbedBy ? ` (${x.disturbedBy} ran meanwhile)` : ''),
      ]
    })
    const get = (lib, busy) => r.duplex.find((x) => x.lib === lib && x.busy === busy && x.bufferSize === DUPLEX_BUFFER && !x.error && (lib !== 'resonode' || x.backend === 'pulseaudio'))
    const busyRow = (backend, bufferSize) => r.duplex.find((x) => x.lib === 'resonode' && x.busy && x.backend === backend && x.bufferSize === bufferSize && !x.error)
    // Issue 14's targets per path: 0 glitches at 256 frames, 0 xruns at 128, JS busy.
    summary.duplex = {
      resonodeBusy: get('resonode', true),
      resonodeIdle: get('resonode', false),
      byPath: Object.fromEntries(RESONODE_PATHS.map((b) => [b, { busy256: busyRow(b, 256), busy128: busyRow(b, 128) }])),
    }
    const libNotes = Object.entries(r.libs)
      .map(([name, l]) => `- ${name}: ${l.installed ? `${l.version}, from \`${l.dir}\`` : 'not installed'}${l.error ? `; ${l.error}` : ''}`)
      .join('\n')
    // Idle -> busy, per variant, from the external measurement.
    const key = (x) => `${variantKey(x)}/${x.latency ?? ''}`
    const pairs = []
    for (const idle of r.duplex.filter((x) => !x.busy)) {
      const busy = r.duplex.find((x) => x.busy && key(x) === key(idle))
      if (!busy || idle.error || busy.error) continue
      const g = (x) => (x.output?.silent ? 'no output' : x.output?.error ? 'n/a' : `${x.output.glitches} glitches / ${x.output.dropoutMs} ms dropout`)
      pairs.push(`- ${rows[r.duplex.indexOf(idle)][0]}: idle ${g(idle)} -> busy ${g(busy)}` + (idle.source && busy.source && !idle.source.error && !busy.source.error ? ` (input control: ${idle.source.glitches} -> ${busy.source.glitches})` : ''))
    }
    const disturbed = r.duplex.filter((x) => x.disturbedBy)
    parts.push(`### d3. The same gain-only duplex job: resonode vs JS-in-the-audio-path libraries

Job: \`${INPUT}\` -> gain ${GAIN_DB} dB -> \`${OUTPUT}\`, stereo float32, 48 kHz. ${DUPLEX_WARMUP_S} s to settle, then
${DUPLEX_SECONDS} s measured, every variant first with the JS thread idle, then busy. resonode runs
\`new RealtimeProcessor({ processors: [new Gain({ db: ${GAIN_DB} })], backend, config: { bufferSize, channelsIn: 2, channelsOut: 2, latency, inputDevice, outputDevice } })\`:
the gain runs in the Rust callback and JS is not involved per buffer. resonode runs on each path to a server:
\`'pulseaudio'\` (the native protocol, cpal's host over the vendored \`pulseaudio\` crate), \`'alsa'\` (ALSA's
\`pulse\` PCM from alsa-plugins, devices \`pulse\` with \`PULSE_SINK\`/\`PULSE_SOURCE\`) and \`'jack'\` (a jackd
dummy server started for the row by \`scripts/start-jack.sh --period <buffer>\`, stopped after it: the period is
the buffer size). audify and naudiodon hand every
input buffer to a JS callback, which scales it and writes it back for output; both start with ${PRIME_BUFFERS}
buffers of silence queued, as resonode's duplex queue does at latency \`'balanced'\`. The control is
PulseAudio's own clients piped together (\`parec | pacat\`, \`--latency-msec=${PIPE_LATENCY_MS}\`, no gain) beside the
same JS process: what the server and this machine give a duplex stream without any library.

Measured outside every library: \`pacat\` plays a 997 Hz sine (and short tone bursts on the other
channel) into \`resonull\`; \`parec\` records \`${OUTPUT}.monitor\` (the job's output) and \`${INPUT}\`
(its input: the control column). A glitch is a sample where the sine's recurrence
x[n+1] - 2cos(w)x[n] + x[n-1] breaks by more than a tenth of the tone's amplitude (a gap, a skip or a
click; glitches within 5 ms count once); dropout = 1 ms blocks below a quarter of the tone's level;
latency = from a burst in the input recording to the same burst in the output recording (wall-clock
stamps of both; about +-2 ms). "JS callback timing": intervals between the JS processing callbacks
(standard deviation / p99 / max, ms; one 256-frame buffer is ${ms((DUPLEX_BUFFER / SR) * 1000)} ms) and their lateness against an
ideal one-per-buffer schedule (p99). resonode's own counters are for the measured interval only.
On JACK the PulseAudio recorders cannot hear the job, so the measurement stays inside the JACK graph:
\`aplay -D jack\` (alsa-plugins' \`jack\` PCM, an independent client) plays the same probe into the job's input
ports, one \`arecord -D jack\` records the job's output ports and another the player's (the control column),
connected with \`jack_connect\`; the same glitch detector runs on them. A JACK xrun (a late graph cycle) does
not break the recording inside the graph, so for JACK the xruns column (the library's counters, from the
server's xrun callback) is the one that says whether a device would have heard a gap.
"Machine CPU busy": all cores over the whole run (recorders, player and server included; 50 % = one
of the two cores), to show nothing else was running.

${table(['job', 'JS thread', 'glitches at the output', 'dropout ms total / longest', 'latency through the job ms, median (min..max)', "the library's own counters", 'JS callback timing: sd / p99 / max ms', 'event-loop delay p99 ms', 'machine CPU busy', 'glitches in the input (control)', 'window s'], rows)}

Idle -> busy (external measurement):
${pairs.join('\n')}
${disturbed.length ? `\n${disturbed.length} row(s) were measured three times and a compiler or test binary of another job still ran during the last attempt (marked in the last column): treat them as noise.\n` : ''}
How each library runs here:
${libNotes}
- audify (RtAudio 6.0.1, compiled from source with its PulseAudio API): it opens the output stream
  without buffer attributes (PulseAudio's defaults apply; audify has no option for them) and runs
  duplex as two simple-API streams in one thread. Its callback allocates the input copy
  (\`new int8_t[]\`), takes two mutexes, posts the buffer to JS and plays silence when JS has not
  queued the next one ("starved callbacks"). RtAudio names PulseAudio devices by description and keeps
  one per name, so both null sinks ("Null Output") would collapse into \`resonull\`: for the run,
  \`${OUTPUT}\` gets the description "${OUTPUT}" (pacmd, restored afterwards).
- node-web-audio-api 1.0.9 (\`npm install node-web-audio-api\`): its prebuilt linux-x64-gnu binary loads on
  Node ${process.versions.node} (npm warns that a dependency, node-abi, wants Node >= 22.12), but it cannot open a
  stream here: its PulseAudio client fails with \`Failed to open client because of error:
  ClientError(FAILURE | SERVER_FAILED)\` against this server, and its ALSA fallback finds no \`default\` PCM
  (\`cannot find card '0'\`; no sound card in this machine); an \`AudioContext\` then reports sampleRate 44100
  and baseLatency 0 and renders nowhere. Not in the table for that reason.
- naudiodon (bundled PortAudio V19.6.0 with only its ALSA API) through the ALSA \`pulse\` PCM, with
  \`PULSE_SINK=${OUTPUT} PULSE_SOURCE=${INPUT}\`, one buffer per JS read (\`highwaterMark\`; its
  default of 16384 bytes deadlocks a duplex stream: the read waits for 8 input buffers, the input
  queue holds 2). Its audio callback blocks on a condition variable until JS has written the next
  buffer, so a busy JS thread stalls the device.
`)
  }
  return { md: parts.join('\n'), summary }
}

/** @internal for checking the harness by hand */
export const internals = { ensurePulse, ensureProbe, startPlayer, startRecorder, runJob, detectMarkers, markerLatencies, glitches, markerTimes }

// `node bench/realtime.mjs d3` runs section d3 alone (with RESONODE_RT_D3
// to pick variants, RESONODE_RT_QUICK=1 for short runs) and prints its
// table; `--no-wait` measures even beside compilers (numbers then noise).
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const [what, ...flags] = process.argv.slice(2)
  if (what !== 'd3') {
    console.error('usage: node bench/realtime.mjs d3 [--no-wait]   (the whole section: node bench/run.mjs --only realtime)')
    process.exit(2)
  }
  const root = join(import.meta.dirname, '..')
  const out = join(root, 'bench/out')
  const t0 = Date.now()
  const ctx = { root, out, log: (...a) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s]`, ...a), noWait: flags.includes('--no-wait') }
  const res = { chain: CHAIN8, busyBlockMs: BUSY_BLOCK_MS, duplexBuffer: DUPLEX_BUFFER, gainDb: GAIN_DB, primeBuffers: PRIME_BUFFERS }
  res.pulse = ensurePulse(root)
  if (!res.pulse.ok) throw new Error(`PulseAudio: ${res.pulse.error}`)
  const common = {
    probe: ensureProbe(out),
    spec: { dist: process.env.RESONODE_RT_DIST || join(root, 'dist/index.js'), sampleRate: SR, latency: 'balanced', inputDevice: INPUT, outputDevice: OUTPUT, busyBlockMs: BUSY_BLOCK_MS },
  }
  res.libs = findLibs(ctx)
  res.duplex = await measureDuplex(ctx, common, res.libs)
  writeFileSync(join(out, 'realtime-d3.json'), JSON.stringify(res, null, 2))
  console.log(reportRealtime(res).md)
}
