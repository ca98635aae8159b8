// Section k of bench/RESULTS.md: plotting long files. The same input, a
// 10-minute and a 60-minute WAV (real audio: bench/mixer's rendered songs,
// concatenated), drawn
//   - by `resonode plot` (one streaming pass: decode, analysis, the five
//     panels at 1600 px), and
//   - by the anchor, librosa + matplotlib (bench/plot/librosa_plot.py: load,
//     beat_track, STFT, chroma, RMS, waveshow/specshow), the way librosa
//     users draw the same figure.
// Whole processes, wall time and peak RSS from /usr/bin/time. Rewrites the
// block between <!-- plot:begin --> and <!-- plot:end --> in
// bench/RESULTS.md (bench/run.mjs keeps it on a full run).
//
//   node bench/plot/run.mjs                       # about 10 min; rewrites the block
//   node bench/plot/run.mjs --reps 1 --no-write   # quicker, RESULTS.md untouched
//   node bench/plot/run.mjs --no-librosa          # resonode only
//
// Needs sox (concatenation), fluidsynth (bench/mixer's songs), and for the
// anchor `pip install librosa matplotlib`.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fmt, median, run, table, timed } from '../common.mjs'
import { ROOT, ensureSongs } from '../mixer/scan.mjs'

const { values: o } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
    'no-librosa': { type: 'boolean', default: false },
  },
})
const reps = Math.max(1, Number(o.reps))
const WORK = '/tmp/resonode-bench-plot'
const SONGS_OUT = '/tmp/benchsongs-plot'
const SONG_SECONDS = 30
const CLI = join(ROOT, 'bin/resonode.js')
const PY = join(ROOT, 'bench/plot/librosa_plot.py')
const t00 = Date.now()
const log = (...a) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(4)} s]`, ...a)

/** A WAV of `minutes` of real audio: the rendered songs back to back, repeated as needed. */
function longInput(minutes, songs) {
  const out = join(WORK, `long-${minutes}min.wav`)
  if (existsSync(out)) return out
  const need = Math.ceil((minutes * 60) / SONG_SECONDS)
  const list = Array.from({ length: need }, (_, i) => songs[i % songs.length])
  run('sox', [...list, out, 'trim', '0', String(minutes * 60)])
  return out
}

function measure(label, cmd, args, n) {
  const runs = []
  for (let i = 0; i < n; i++) {
    const r = timed(cmd, args, { tmpDir: WORK })
    log(`${label}: ${r.wall.toFixed(2)} s, ${r.maxRssMb.toFixed(0)} MB`)
    runs.push(r)
  }
  return { wall: median(runs.map((r) => r.wall)), maxRssMb: median(runs.map((r) => r.maxRssMb)) }
}

function markdown(r) {
  const rows = r.inputs.map((i) => [
    `${i.minutes} min`,
    `${fmt.s(i.resonode.wall, 2)} s / ${fmt.n(i.resonode.maxRssMb, 0)} MB`,
    i.librosa ? `${fmt.s(i.librosa.wall, 2)} s / ${fmt.n(i.librosa.maxRssMb, 0)} MB` : 'not run',
    i.librosa ? fmt.x(i.librosa.wall / i.resonode.wall) : 'n/a',
    i.librosa ? fmt.x(i.librosa.maxRssMb / i.resonode.maxRssMb) : 'n/a',
    `${fmt.n((i.minutes * 60) / i.resonode.wall, 0)}x`,
  ])
  return `<!-- plot:begin -->
## k. Plots of long files: \`resonode plot\` vs librosa + matplotlib

Written by \`node bench/plot/run.mjs\` on ${r.date.slice(0, 10)} at ${r.commit}, separately from the sections above; one machine: ${r.cpu}, ${r.cores} cores.
Input: bench/mixer's rendered songs (fluidsynth, real General MIDI sound font) back to back, 44.1 kHz stereo 16-bit WAV.
Both draw waveform + beat grid, log-frequency spectrogram in dB with a colour bar, chromagram and a level curve (resonode: short-term LUFS; librosa has no LUFS meter, so RMS dBFS) at 1600 px wide, as whole processes (\`resonode plot IN --out OUT.png\`; \`python3 bench/plot/librosa_plot.py IN OUT.png\`: \`librosa.load\` at 22050 Hz, \`beat_track\`, STFT 2048/512, \`chroma_stft\`, \`waveshow\`, \`specshow\`). Medians of ${r.reps} runs (the 60-minute row: 1 run each); wall time / peak RSS.

${table(['input', 'resonode', 'librosa + matplotlib', 'time ratio (librosa / resonode)', 'peak RSS ratio', 'resonode speed (x real time)'], rows)}

resonode streams: memory stays flat with the length of the file (time bins of the plot's width, merged in pairs when the length is unknown); librosa holds the decoded signal and its STFT in memory.
<!-- plot:end -->
`
}

async function main() {
  mkdirSync(WORK, { recursive: true })
  const dir = ensureSongs(SONGS_OUT, log, 24, SONG_SECONDS)
  const songs = readdirSync(dir).filter((f) => /^song-\d+\.wav$/.test(f)).sort().map((f) => join(dir, f))
  const head = run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim()
  const dirty = run('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']).stdout.trim() !== ''
  const commit = dirty ? `${head} with uncommitted changes` : head
  const r = { date: new Date().toISOString(), commit, cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, reps, inputs: [] }
  for (const minutes of [10, 60]) {
    const input = longInput(minutes, songs)
    const n = minutes >= 60 ? 1 : reps
    const entry = { minutes }
    entry.resonode = measure(`resonode ${minutes} min`, process.execPath, [CLI, 'plot', input, '--out', join(WORK, `resonode-${minutes}.png`)], n)
    if (!o['no-librosa']) entry.librosa = measure(`librosa ${minutes} min`, 'python3', [PY, input, join(WORK, `librosa-${minutes}.png`)], n)
    r.inputs.push(entry)
  }
  const md = markdown(r)
  console.log(md)
  if (!o['no-write']) {
    const path = join(ROOT, 'bench/RESULTS.md')
    const cur = readFileSync(path, 'utf8')
    const re = /<!-- plot:begin -->[\s\S]*<!-- plot:end -->\n/
    writeFileSync(path, re.test(cur) ? cur.replace(re, md) : cur.replace('## How to reproduce', `${md}\n## How to reproduce`))
    log('wrote the plot block of bench/RESULTS.md')
  }
  rmSync(WORK, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
