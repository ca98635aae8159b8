// a. The CLI against sox: a 10-minute stereo 48 kHz 16-bit WAV through
// highpass(80) lowpass(8000) gain(-3 dB), 16-bit WAV out.
import { join } from 'node:path'
import { fmt, median, runJson, summarize, table, timed } from './common.mjs'
import { readWav16, SAMPLE_RATE } from './signals.mjs'

export const CHAIN = 'highpass(80) lowpass(8000) gain(-3db)'
export const SOX_EFFECTS = ['highpass', '80', 'lowpass', '8000', 'gain', '-3']
const CHUNK_SIZES = [4096, 16384, 262144, 1048576] // plus the default 65536 from the main runs

/**
 * @param ctx { root, out, input (the 10-minute WAV), seconds, reps, rustBench, lpInput, log }
 */
export function benchCli(ctx) {
  const { root, out, input, reps, log } = ctx
  const cli = join(root, 'bin/resonode.js')
  const outRes = join(out, 'cli_resonode.wav')
  const outSox = join(out, 'cli_sox.wav')
  const t = (cmd, args) => timed(cmd, args, { tmpDir: out })
  const resonode = (o, extra = []) => t(process.execPath, [cli, 'process', input, o, '--json', ...extra])
  const sox = (o, effects) => t('sox', ['-D', input, o, ...effects])
  const json = (r) => JSON.parse(r.stdout.trim().split('\n').pop())

  log('  warm-up (page cache, first load of the addon)')
  resonode(outRes, ['--chain', CHAIN])
  sox(outSox, SOX_EFFECTS)

  log(`  chain: ${reps} x resonode, ${reps} x sox, interleaved`)
  const resRuns = []
  const soxRuns = []
  for (let i = 0; i < reps; i++) {
    const r = resonode(outRes, ['--chain', CHAIN])
    r.stats = json(r)
    resRuns.push(r)
    soxRuns.push(sox(outSox, SOX_EFFECTS))
  }

  const passReps = Math.max(3, Math.min(reps, 3))
  log(`  pass-through (decode + encode only): ${passReps} x each`)
  const resPass = []
  const soxPass = []
  for (let i = 0; i < passReps; i++) {
    const r = resonode(join(out, 'cli_resonode_pass.wav'))
    r.stats = json(r)
    resPass.push(r)
    soxPass.push(sox(join(out, 'cli_sox_pass.wav'), []))
  }

  log(`  decode only: resonode info, sox -n: ${passReps} x each`)
  const resInfo = []
  const soxNull = []
  for (let i = 0; i < passReps; i++) {
    resInfo.push(t(process.execPath, [cli, 'info', input, '--json']))
    soxNull.push(t('sox', ['-D', input, '-n']))
  }

  log('  start-up: `resonode process --help`')
  const startup = []
  for (let i = 0; i < 5; i++) startup.push(t(process.execPath, [cli, 'process', '--help']))

  const chunkReps = 3
  log(`  --chunk-size ${CHUNK_SIZES.join(', ')}: ${chunkReps} x each`)
  const chunks = []
  for (const size of CHUNK_SIZES) {
    const runs = []
    for (let i = 0; i < chunkReps; i++) {
      const r = resonode(outRes, ['--chain', CHAIN, '--chunk-size', String(size)])
      r.stats = json(r)
      runs.push(r)
    }
    chunks.push({ size, ...summarize(runs), processingTimeS: median(runs.map((r) => r.stats.processingTimeS)), chunksProcessed: runs[0].stats.chunksProcessed })
  }
  // (The chunk runs overwrite cli_resonode.wav; filters keep their state
  // across chunks, so the output does not depend on the chunk size.)

  // The chain alone, in Rust, on the 60 s in-memory signal, scaled to the
  // length of the file: how much of the CLI's time is DSP.
  log('  chain alone in Rust (in memory)')
  const dsp = runJson(ctx.rustBench, ['chain', ctx.lpInput, join(out, 'chain_rust.f32'), '2', String(reps), '65536', CHAIN])

  log('  comparing outputs')
  const a = readWav16(outRes)
  const b = readWav16(outSox)
  let maxDiff = 0
  let differing = 0
  const n = Math.min(a.samples.length, b.samples.length)
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a.samples[i] - b.samples[i])
    if (d) differing++
    if (d > maxDiff) maxDiff = d
  }

  const res = summarize(resRuns)
  res.processingTimeS = median(resRuns.map((r) => r.stats.processingTimeS))
  res.realtimeFactor = median(resRuns.map((r) => r.stats.realtimeFactor))
  res.chunksProcessed = resRuns[0].stats.chunksProcessed
  const frames = resRuns[0].stats.framesProcessed
  const audioS = frames / SAMPLE_RATE
  const pass = summarize(resPass)
  pass.processingTimeS = median(resPass.map((r) => r.stats.processingTimeS))
  return {
    audioS,
    frames,
    resonode: res,
    sox: summarize(soxRuns),
    resonodePass: pass,
    soxPass: summarize(soxPass),
    resonodeInfo: summarize(resInfo),
    soxNull: summarize(soxNull),
    startup: summarize(startup),
    chunks: [{ size: 65536, ...res }, ...chunks].sort((x, y) => x.size - y.size),
    dspOnly: { nsPerSample: dsp.ns_per_sample, secondsForFile: (dsp.ns_per_sample * frames * 2) / 1e9 },
    outputs: {
      sameLength: a.samples.length === b.samples.length,
      resonodeSamples: a.samples.length,
      soxSamples: b.samples.length,
      maxDiffLsb: maxDiff,
      differingFraction: differing / n,
      format: `${a.channels} ch, ${a.sampleRate} Hz, ${a.bits}-bit / ${b.channels} ch, ${b.sampleRate} Hz, ${b.bits}-bit`,
    },
  }
}

export function reportCli(r) {
  const speed = r.sox.wall / r.resonode.wall
  const rows = [
    [`resonode CLI (\`--chain "${CHAIN}"\`)`, fmt.s(r.resonode.wall), fmt.s(r.resonode.user, 2), fmt.s(r.resonode.sys, 2), fmt.n(r.resonode.maxRssMb, 0), fmt.x(r.audioS / r.resonode.wall)],
    [`sox -D (\`${SOX_EFFECTS.join(' ')}\`)`, fmt.s(r.sox.wall), fmt.s(r.sox.user, 2), fmt.s(r.sox.sys, 2), fmt.n(r.sox.maxRssMb, 0), fmt.x(r.audioS / r.sox.wall)],
    ['resonode, no chain (decode + encode only)', fmt.s(r.resonodePass.wall), fmt.s(r.resonodePass.user, 2), fmt.s(r.resonodePass.sys, 2), fmt.n(r.resonodePass.maxRssMb, 0), fmt.x(r.audioS / r.resonodePass.wall)],
    ['sox -D, no effects (decode + encode only)', fmt.s(r.soxPass.wall), fmt.s(r.soxPass.user, 2), fmt.s(r.soxPass.sys, 2), fmt.n(r.soxPass.maxRssMb, 0), fmt.x(r.audioS / r.soxPass.wall)],
    ['resonode info (decode + peak/RMS, no output)', fmt.s(r.resonodeInfo.wall), fmt.s(r.resonodeInfo.user, 2), fmt.s(r.resonodeInfo.sys, 2), fmt.n(r.resonodeInfo.maxRssMb, 0), fmt.x(r.audioS / r.resonodeInfo.wall)],
    ['sox -D IN -n (decode only, no output)', fmt.s(r.soxNull.wall), fmt.s(r.soxNull.user, 2), fmt.s(r.soxNull.sys, 2), fmt.n(r.soxNull.maxRssMb, 0), fmt.x(r.audioS / r.soxNull.wall)],
    ['resonode start-up (`process --help`)', fmt.s(r.startup.wall), fmt.s(r.startup.user, 2), fmt.s(r.startup.sys, 2), fmt.n(r.startup.maxRssMb, 0), ''],
  ]
  const chunkRows = r.chunks.map((c) => [
    String(c.size) + (c.size === 65536 ? ' (default)' : ''),
    String(c.chunksProcessed),
    fmt.s(c.wall),
    fmt.s(c.processingTimeS),
    fmt.x(r.audioS / c.processingTimeS),
    fmt.s(c.cpu, 2),
    fmt.n(c.maxRssMb, 0),
  ])
  const o = r.outputs
  return {
    speed,
    md: `Input: ${(r.audioS / 60).toFixed(0)} min stereo 48 kHz 16-bit WAV (${r.frames} frames), output 16-bit WAV.
Wall time is measured around the whole process (Node start-up, addon load,
decode, chain, encode, file close); CPU is the child's user + system time
from \`/usr/bin/time\`. Medians of ${r.resonode.reps} runs, resonode and sox interleaved.
sox runs with \`-D\` (no dither) so both do the same work: decode, three
filters, scale, round to 16 bits. sox's \`highpass\`/\`lowpass\` are 2-pole
Butterworth biquads (Q = 0.7071), the same filters as resonode's default
order 2.

${table(['command', 'wall s', 'user s', 'sys s', 'peak RSS MB', 'x real time'], rows)}

- **resonode is ${fmt.x(speed)} ${speed >= 1 ? 'faster' : 'slower'} than sox** in wall time (sox ${fmt.s(r.sox.wall)} s / resonode ${fmt.s(r.resonode.wall)} s).
- In-process realtime factor from \`--json\`: **${fmt.n(r.resonode.realtimeFactor, 0)}x** (\`processingTimeS\` ${fmt.s(r.resonode.processingTimeS)} s for ${fmt.n(r.audioS, 0)} s of audio; ${r.resonode.chunksProcessed} chunks).
- sox spends about ${fmt.s(r.sox.wall - r.soxPass.wall)} s in its three effects (chain minus pass-through); resonode about ${fmt.s(r.resonode.processingTimeS - r.resonodePass.processingTimeS)} s (in process). CPU time / wall time: resonode ${fmt.n(r.resonode.cpu / r.resonode.wall, 2)}, sox ${fmt.n(r.sox.cpu / r.sox.wall, 2)} (1.0 = one core busy).
- Where resonode's time goes: start-up ${fmt.s(r.startup.wall)} s; decode + encode alone ${fmt.s(r.resonodePass.processingTimeS)} s in process;
  the chain alone in Rust (in memory, ${fmt.n(r.dspOnly.nsPerSample, 2)} ns/sample) would take ${fmt.s(r.dspOnly.secondsForFile)} s for this file.
- Outputs: resonode and sox differ by at most **${o.maxDiffLsb} LSB** (${(o.differingFraction * 100).toFixed(2)} % of samples differ at all; ${o.sameLength ? 'same length' : `lengths differ: ${o.resonodeSamples} vs ${o.soxSamples} samples`}; ${o.format}).

\`--chunk-size\` (frames per chunk; medians of ${r.chunks.find((c) => c.size !== 65536)?.reps ?? 3} runs, default from the main runs):

${table(['chunk size', 'chunks', 'wall s', 'in-process s', 'in-process x real time', 'CPU s', 'peak RSS MB'], chunkRows)}
`,
  }
}
