// a2. File jobs by format (issue 14): resonode beside ffmpeg and sox on the
// same 10-minute stereo 48 kHz input in WAV, FLAC, MP3 and Ogg Vorbis, for
// three jobs, each whole process timed from the outside:
//   decode           resonode info IN         ffmpeg -i IN -f null -         sox -D IN -n
//   decode + encode  resonode process IN OUT  ffmpeg -i IN -c:a pcm_s16le    sox -D IN -b 16 OUT
//   chain            ... --chain CHAIN        ... -af highpass,lowpass,volume sox ... highpass lowpass gain
// Output is a 16-bit WAV everywhere. Two input sets: the bench's synthetic
// tones + noise (hard to compress: its FLAC is nearly as big as the WAV) and
// real music (assets/music.wav at 48 kHz, repeated). The compressed inputs
// are made once with ffmpeg (FLAC level 5, MP3 LAME 192 kb/s CBR, Vorbis q5).
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fmt, run, summarize, table, timed } from './common.mjs'
import { readWav16 } from './signals.mjs'
import { CHAIN } from './cli.mjs'

const FORMATS = [
  { ext: 'wav', name: 'WAV 16-bit', encode: null },
  { ext: 'flac', name: 'FLAC (level 5)', encode: ['-c:a', 'flac', '-compression_level', '5'] },
  { ext: 'mp3', name: 'MP3 (LAME, 192 kb/s)', encode: ['-c:a', 'libmp3lame', '-b:a', '192k'] },
  { ext: 'ogg', name: 'Ogg Vorbis (q5)', encode: ['-c:a', 'libvorbis', '-q:a', '5'] },
]
// ffmpeg's highpass/lowpass default to 2-pole Butterworth (Q 0.707), as sox's and resonode's.
const FFMPEG_CHAIN = 'highpass=f=80,lowpass=f=8000,volume=-3dB'
const SOX_CHAIN = ['highpass', '80', 'lowpass', '8000', 'gain', '-3']
// bitexact: no LIST/encoder tag, so the three WAVs compare sample for sample.
const FFMPEG_WAV = ['-c:a', 'pcm_s16le', '-fflags', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1']
const JOBS = ['decode', 'pass', 'chain']
const JOB_NAMES = { decode: 'decode', pass: 'decode + encode', chain: 'chain' }

/** The music input: assets/music.wav at 48 kHz, repeated to `seconds`. */
function ensureMusic(root, out, seconds) {
  const path = join(out, `music_${seconds / 60}min_v1.wav`)
  const expected = 44 + seconds * 48000 * 2 * 2
  if (existsSync(path) && statSync(path).size === expected) return path
  const clip = join(out, 'music_48k_clip.wav')
  run('sox', [join(root, 'assets/music.wav'), '-b', '16', clip, 'rate', '-v', '48000'])
  const clipS = Number(run('soxi', ['-D', clip]).stdout)
  const n = Math.ceil(seconds / clipS)
  run('sox', [...Array(n).fill(clip), path, 'trim', '0', String(seconds)])
  return path
}

function ensureEncoded(wav) {
  return FORMATS.map((f) => {
    if (!f.encode) return { ...f, path: wav }
    const path = wav.replace(/\.wav$/, `.${f.ext}`)
    if (!existsSync(path)) run('ffmpeg', ['-v', 'error', '-y', '-i', wav, ...f.encode, path])
    return { ...f, path }
  })
}

/**
 * @param ctx { root, out, input (the synthetic 10-minute WAV), reps, log }
 */
export function benchFormats(ctx) {
  const { root, out, input, reps, log } = ctx
  const cli = join(root, 'bin/resonode.js')
  const t = (cmd, args) => timed(cmd, args, { tmpDir: out })
  const o = (tool) => join(out, `fmt_${tool}.wav`)
  const cmds = {
    decode: {
      resonode: (i) => [process.execPath, [cli, 'info', i, '--json']],
      ffmpeg: (i) => ['ffmpeg', ['-v', 'error', '-i', i, '-f', 'null', '-']],
      sox: (i) => ['sox', ['-D', i, '-n']],
    },
    pass: {
      resonode: (i) => [process.execPath, [cli, 'process', i, o('resonode'), '--encoding', 'int16']],
      ffmpeg: (i) => ['ffmpeg', ['-v', 'error', '-y', '-i', i, ...FFMPEG_WAV, o('ffmpeg')]],
      sox: (i) => ['sox', ['-D', i, '-b', '16', o('sox')]],
    },
    chain: {
      resonode: (i) => [process.execPath, [cli, 'process', i, o('resonode'), '--encoding', 'int16', '--chain', CHAIN]],
      ffmpeg: (i) => ['ffmpeg', ['-v', 'error', '-y', '-i', i, '-af', FFMPEG_CHAIN, ...FFMPEG_WAV, o('ffmpeg')]],
      sox: (i) => ['sox', ['-D', i, '-b', '16', o('sox'), ...SOX_CHAIN]],
    },
  }
  const sets = [
    { key: 'synthetic', name: 'synthetic tones + noise', wav: input },
    { key: 'music', name: 'music (assets/music.wav, repeated)', wav: ensureMusic(root, out, 600) },
  ]
  const results = []
  for (const set of sets) {
    const files = ensureEncoded(set.wav)
    for (const f of files) {
      const row = { set: set.key, setName: set.name, ext: f.ext, format: f.name, mb: statSync(f.path).size / 1e6, jobs: {} }
      for (const job of JOBS) {
        log(`  ${set.key} ${f.ext} ${JOB_NAMES[job]}: ${reps} x resonode, ffmpeg, sox, interleaved`)
        const runs = { resonode: [], ffmpeg: [], sox: [] }
        for (const tool of Object.keys(runs)) t(...cmds[job][tool](f.path)) // warm-up (page cache)
        for (let i = 0; i < reps; i++) for (const tool of Object.keys(runs)) runs[tool].push(t(...cmds[job][tool](f.path)))
        row.jobs[job] = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, summarize(v)]))
        if (job !== 'decode') row.jobs[job].agreement = agreement(o)
      }
      results.push(row)
    }
  }
  return { reps, formats: results }
}

/** Largest difference in LSB between resonode's 16-bit output and ffmpeg's / sox's, and the lengths. */
function agreement(o) {
  const a = readWav16(o('resonode')).samples
  const cmp = (b) => {
    const n = Math.min(a.length, b.length)
    let max = 0
    for (let i = 0; i < n; i++) {
      const d = Math.abs(a[i] - b[i])
      if (d > max) max = d
    }
    return { maxLsb: max, lengthDiff: a.length - b.length }
  }
  return { ffmpeg: cmp(readWav16(o('ffmpeg')).samples), sox: cmp(readWav16(o('sox')).samples) }
}

/** resonode's wall time / the anchor's: < 1 means resonode is faster. */
const rel = (r, job, anchor) => r.jobs[job].resonode.wall / r.jobs[job][anchor].wall

export function reportFormats(r) {
  const rows = []
  for (const f of r.formats) {
    for (const job of JOBS) {
      const j = f.jobs[job]
      const ag = j.agreement
      const agree = ag ? `${ag.ffmpeg.maxLsb}${ag.ffmpeg.lengthDiff ? ` (${ag.ffmpeg.lengthDiff > 0 ? '+' : ''}${ag.ffmpeg.lengthDiff} samples)` : ''} / ${ag.sox.maxLsb}${ag.sox.lengthDiff ? ` (${ag.sox.lengthDiff > 0 ? '+' : ''}${ag.sox.lengthDiff} samples)` : ''}` : ''
      rows.push([
        f.set === 'synthetic' ? 'synthetic' : 'music',
        `${f.format}, ${fmt.n(f.mb, 1)} MB`,
        JOB_NAMES[job],
        fmt.s(j.resonode.wall),
        fmt.s(j.ffmpeg.wall),
        fmt.s(j.sox.wall),
        fmt.x(j.ffmpeg.wall / j.resonode.wall),
        fmt.x(j.sox.wall / j.resonode.wall),
        `${fmt.s(j.resonode.cpu, 2)} / ${fmt.s(j.ffmpeg.cpu, 2)} / ${fmt.s(j.sox.cpu, 2)}`,
        `${fmt.n(j.resonode.maxRssMb, 0)} / ${fmt.n(j.ffmpeg.maxRssMb, 0)} / ${fmt.n(j.sox.maxRssMb, 0)}`,
        agree,
      ])
    }
  }
  // Targets: every input set must meet them; the measured column shows each set.
  const by = (ext) => r.formats.filter((f) => f.ext === ext)
  const show = (vals) => vals.map((v) => `${v.toFixed(2)}x`).join(' / ')
  const targets = []
  for (const ext of ['wav', 'flac', 'mp3', 'ogg']) {
    const v = by(ext).map((f) => rel(f, 'decode', 'ffmpeg'))
    targets.push([`Decode (\`info\`), ${ext.toUpperCase()}: resonode time / ffmpeg time <= 1.2 (synthetic / music)`, show(v), status(v.every((x) => x <= 1.2), v, 1.2)])
  }
  for (const ext of ['wav', 'flac', 'mp3', 'ogg']) {
    const v = by(ext).map((f) => rel(f, 'pass', 'ffmpeg'))
    targets.push([`Decode + encode, ${ext.toUpperCase()}: resonode time / ffmpeg time <= 1 (synthetic / music)`, show(v), status(v.every((x) => x <= 1), v, 1)])
  }
  for (const ext of ['wav', 'flac', 'mp3']) {
    const v = by(ext).map((f) => Math.min(f.jobs.chain.ffmpeg.wall, f.jobs.chain.sox.wall) / f.jobs.chain.resonode.wall)
    targets.push([`Chain job, ${ext.toUpperCase()}: >= 2x faster than the faster of sox and ffmpeg (synthetic / music)`, show(v), status(v.every((x) => x >= 2), v, 2)])
  }
  return {
    targets,
    md: `Each job is a whole process timed from the outside (start-up included), medians of ${r.reps} runs, the three tools
interleaved on the same file after one warm-up each. 10 minutes of stereo 48 kHz audio (28,800,000 frames);
every output is a 16-bit WAV. Jobs: **decode**: \`resonode info IN\` (decode + peak/RMS) / \`ffmpeg -i IN -f null -\` /
\`sox -D IN -n\`; **decode + encode**: \`resonode process IN OUT --encoding int16\` / \`ffmpeg -i IN -c:a pcm_s16le OUT\` /
\`sox -D IN -b 16 OUT\`; **chain**: the same with \`--chain "${CHAIN}"\` / \`-af ${FFMPEG_CHAIN}\` /
\`${SOX_CHAIN.join(' ')}\`. "x faster" > 1 means resonode took less wall time. Output agreement: the largest
difference from ffmpeg's / sox's output in 16-bit steps (LSB), and the length difference when there is one
(decoders of lossy formats differ in their rounding and in how they trim the encoder delay).

${table(['input', 'format, size', 'job', 'resonode s', 'ffmpeg s', 'sox s', 'x faster than ffmpeg', 'x faster than sox', 'CPU s (resonode / ffmpeg / sox)', 'peak RSS MB (resonode / ffmpeg / sox)', 'max diff LSB vs ffmpeg / sox'], rows)}
`,
  }
}

function status(ok, vals, limit) {
  const near = vals.some((v) => Math.abs(v / limit - 1) < 0.1)
  return (ok ? 'met' : '**missed**') + (near ? ' (borderline: within 10 %, may flip between runs)' : '')
}

