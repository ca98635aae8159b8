// backend 'jack' (issue 14) against a real JACK server: jackd with the dummy
// driver (scripts/start-jack.sh), a real JACK graph clocked by a timer. The
// test signal comes from an independent JACK client, `aplay -D jack`
// (alsa-plugins' `jack` PCM), connected to the engine's input ports; the
// engine's output is recorded by `arecord -D jack`. Skipped, with the reason
// printed, where jackd or the ALSA `jack` PCM is not installed
// (`scripts/system-deps.sh test` would need jackd2).
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, tempDir, goertzel, usePulseAudio } from './helpers.mjs'

const { RealtimeProcessor, Gain, listDevices } = lib

const RATE = 48000
const PERIOD = 128
const TONE_HZ = 997
const TONE_AMP = 0.25
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
const jackScript = join(root, 'scripts/start-jack.sh')

const missing = !has('sh', ['-c', 'command -v jackd && command -v jack_connect && command -v aplay && command -v arecord'])
  ? 'jackd, jack_connect, aplay or arecord is not installed (apt-get install jackd2 alsa-utils libasound2-plugins)'
  : null
const jackTest = missing ? test.serial.skip : test.serial
if (missing) console.log(`jack-backend.spec.mjs SKIPPED: ${missing}`)

let alreadyRunning = false
// The server's period: ours, or that of a server someone else started.
let period = PERIOD
test.before(() => {
  if (missing) return
  alreadyRunning = has('jack_lsp', [])
  const r = spawnSync('bash', [jackScript, '--period', String(PERIOD)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`scripts/start-jack.sh failed: ${r.stderr}`)
  const m = /buffer size = (\d+)/.exec(spawnSync('jack_bufsize', [], { encoding: 'utf8' }).stdout)
  if (m) period = Number(m[1])
})
test.after.always(() => {
  if (!missing && !alreadyRunning) spawnSync('bash', [jackScript, '--stop'])
})

/** JACK ports whose names match `re`, with their direction, waiting up to 5 s for `n` of them. */
async function jackPorts(re, n) {
  for (let t = 0; t < 5000; t += 50) {
    const lines = spawnSync('jack_lsp', ['-p'], { encoding: 'utf8' }).stdout.split('\n')
    const ports = []
    for (let i = 0; i + 1 < lines.length; i++) {
      const m = lines[i + 1].match(/properties: (.*)/)
      if (!lines[i].startsWith('\t') && m && re.test(lines[i])) ports.push({ name: lines[i].trim(), output: /\boutput\b/.test(m[1]) })
    }
    if (ports.length >= n) return ports.sort((a, b) => a.name.localeCompare(b.name))
    await sleep(50)
  }
  throw new Error(`no ${n} JACK ports matching ${re}`)
}

function connect(from, to) {
  const r = spawnSync('jack_connect', [from, to], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`jack_connect ${from} ${to}: ${r.stderr}`)
}

jackTest('listDevices: the JACK host offers one input and one output device', async (t) => {
  const devices = await listDevices({ backend: 'jack' })
  t.true(devices.some((d) => d.host === 'JACK' && d.maxInputChannels >= 2), JSON.stringify(devices))
  t.true(devices.some((d) => d.host === 'JACK' && d.maxOutputChannels >= 2), JSON.stringify(devices))
  t.true(devices.every((d) => d.defaultSampleRate === RATE), JSON.stringify(devices))
})

jackTest('duplex gain on JACK: a sine from another JACK client comes out 6 dB lower, whole, at the server period', async (t) => {
  const dir = tempDir()
  const probe = join(dir, 'sine.f32')
  const seconds = 6
  const x = new Float32Array(seconds * RATE * 2)
  for (let i = 0; i < seconds * RATE; i++) x[2 * i] = x[2 * i + 1] = TONE_AMP * Math.sin((2 * Math.PI * TONE_HZ * i) / RATE)
  writeFileSync(probe, Buffer.from(x.buffer))

  // Asks for 256 frames: JACK's period (128) is what the device runs at.
  const rt = new RealtimeProcessor({ processors: [new Gain({ db: -6 })], backend: 'jack', config: { bufferSize: 256, channelsIn: 2, channelsOut: 2 } })
  await rt.start()
  const player = spawn('aplay', ['-q', '-D', 'jack', '-t', 'raw', '-f', 'FLOAT_LE', `-r${RATE}`, '-c2', probe], { stdio: 'ignore' })
  const recorder = spawn('arecord', ['-q', '-D', 'jack', '-t', 'raw', '-f', 'FLOAT_LE', `-r${RATE}`, '-c2'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const chunks = []
  recorder.stdout.on('data', (b) => chunks.push(b))
  try {
    const ours = await jackPorts(/^cpal_client_\d+/, 4)
    const played = await jackPorts(new RegExp(`^aplay\\.P\\.${player.pid}\\.`), 2)
    const rec = await jackPorts(new RegExp(`^arecord\\.C\\.${recorder.pid}\\.`), 2)
    const ins = ours.filter((p) => !p.output)
    const outs = ours.filter((p) => p.output)
    played.forEach((p, i) => connect(p.name, ins[i].name))
    // One recorder, so both channels share one clock: left = what the player
    // sent us, right = our left output.
    connect(played[0].name, rec[0].name)
    connect(outs[0].name, rec[1].name)
    await sleep(4000)
  } finally {
    recorder.kill('SIGTERM')
    player.kill('SIGTERM')
  }
  const stats = await rt.stop()
  await new Promise((r) => (recorder.exitCode === null ? recorder.once('exit', r) : r()))
  t.is(stats.backend, 'jack')
  t.is(stats.bufferSize, period, 'the device runs at the JACK server period')
  t.true(stats.callbacks > 0)

  const buf = Buffer.concat(chunks)
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + Math.floor(buf.length / 8) * 8))
  const input = new Float32Array(all.length / 2)
  const output = new Float32Array(all.length / 2)
  for (let i = 0; i < input.length; i++) {
    input[i] = all[2 * i]
    output[i] = all[2 * i + 1]
  }
  // Two seconds of the tone, from 0.25 s after it reached our output.
  const first = output.findIndex((v) => Math.abs(v) > TONE_AMP / 4)
  t.true(first >= 0, 'the tone reached the output')
  const start = first + RATE / 4
  t.true(start + 2 * RATE <= output.length, `two seconds of tone recorded (${output.length} frames)`)
  const g = 10 ** (-6 / 20)
  // The lag through the engine: the delay at which output = g * input.
  let best = { lag: -1, err: Infinity }
  for (let lag = 0; lag <= 8 * 256 && lag <= start; lag++) {
    let e = 0
    for (let i = start; i < start + 4800; i++) e += (output[i] - g * input[i - lag]) ** 2
    if (e < best.err) best = { lag, err: e }
  }
  let worst = 0
  for (let i = start; i < start + 2 * RATE; i++) worst = Math.max(worst, Math.abs(output[i] - g * input[i - best.lag]))
  t.true(worst < 1e-4, `output = -6 dB x input delayed ${best.lag} frames, to ${worst} at worst (a gap or skip breaks it)`)
  const amp = goertzel(output.subarray(start, start + 2 * RATE), TONE_HZ, RATE)
  t.true(Math.abs(20 * Math.log10(amp / (TONE_AMP * g))) < 0.1, `tone at ${amp}`)
  t.true(best.lag % period === 0 && best.lag <= 6 * Math.max(period, 256), `latency through the engine: ${best.lag} frames, whole periods`)
  t.log(`latency through the engine on JACK: ${best.lag} frames (${((best.lag / RATE) * 1000).toFixed(2)} ms) at a ${period}-frame period`)
})

jackTest("backend 'default' runs on JACK while a JACK server runs, and opens a named PulseAudio device on PulseAudio", async (t) => {
  const rt = new RealtimeProcessor({ processors: [new Gain({ db: 0 })], config: { bufferSize: 256, channelsIn: 0, channelsOut: 2 } })
  await rt.start()
  await sleep(300)
  t.is((await rt.stop()).backend, 'jack')

  usePulseAudio()
  const named = new RealtimeProcessor({ processors: [new Gain({ db: 0 })], config: { bufferSize: 256, channelsIn: 0, channelsOut: 2, outputDevice: 'resonull_aux' } })
  await named.start()
  await sleep(300)
  t.is((await named.stop()).backend, 'pulseaudio')
})
