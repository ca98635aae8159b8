// `npm run demo`: builds if needed, then streams the bundled real recordings
// through effect chains and prints the pipeline stats, and analyses the
// music (tempo, beats, key, loudness) with its frame features as CSV and
// draws it (waveform with the beat grid, spectrogram, chroma, loudness); then
// puts the recordings in a music library, asks what can follow the music,
// and renders a beat-matched transition.
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
execFileSync(process.execPath, [join(root, 'scripts', 'ensure-built.mjs')], { stdio: 'inherit' })
const { StreamingPipeline, FileSource, FileSink, parseChain, info, analyze, plot } = createRequire(import.meta.url)(join(root, 'dist', 'index.js'))

const out = join(root, 'out')
mkdirSync(out, { recursive: true })
const jobs = [
  {
    name: 'music',
    input: 'assets/music.wav',
    chain: 'highpass(40) lowpass(14000, order=4) biquad(peaking, 2500hz, q=0.8, gain=2db) reverb(room=0.5, wet=0.18) limiter(-1db) normalize(-1db)',
  },
  { name: 'speech', input: 'assets/speech.wav', chain: 'highpass(90, order=4) biquad(highshelf, 4khz, q=0.7, gain=3db) gain(6db) limiter(-1db)' },
  { name: 'noisy speech', input: 'assets/noisy_speech.wav', chain: 'highpass(120, order=4) lowpass(5000, order=6) delay(120ms, feedback=0.2, mix=0.15) normalize(-3db)' },
]

const rows = []
for (const job of jobs) {
  const input = join(root, job.input)
  const output = join(out, job.input.replace('assets/', '').replace('.wav', '.processed.wav'))
  const p = new StreamingPipeline({ source: new FileSource(input), processors: parseChain(job.chain), sink: new FileSink(output) })
  const s = await p.run()
  const [before, after] = [await info(input), await info(output)]
  rows.push({
    job: job.name,
    frames: s.framesProcessed,
    chunks: s.chunksProcessed,
    'audio s': +(s.framesProcessed / before.sampleRate).toFixed(2),
    'time s': +s.processingTimeS.toFixed(4),
    'x realtime': Math.round(s.realtimeFactor),
    'peak in→out dBFS': `${before.peakDbfs.toFixed(1)} → ${after.peakDbfs.toFixed(1)}`,
    'rms in→out dBFS': `${before.rmsDbfs.toFixed(1)} → ${after.rmsDbfs.toFixed(1)}`,
  })
  console.log(`${job.name}: ${job.input} --[${job.chain}]--> ${output}`)
}
console.table(rows)

const started = performance.now()
const csv = join(out, 'music.frames.csv')
const a = await analyze(join(root, 'assets/music.wav'), { framesCsv: csv })
const ms = performance.now() - started
console.log(
  `analysis of assets/music.wav (${a.durationS} s) in ${ms.toFixed(0)} ms: ${a.tempoBpm?.toFixed(1)} BPM (confidence ${a.tempoConfidence.toFixed(2)}), ` +
    `${a.beats.length} beats, key ${a.key ?? '-'} ${a.mode ?? ''} (${a.camelot ?? '-'}), ${a.loudnessLufs?.toFixed(1)} LUFS, ` +
    `range ${a.loudnessRangeLu?.toFixed(1)} LU, true peak ${a.truePeakDbtp?.toFixed(1)} dBTP; frame features -> ${csv}`,
)
const drawn = await plot(a, { out: join(out, 'music.png') })
console.log(`plot of the analysis -> ${drawn.out} (${drawn.width} x ${drawn.height} px: ${drawn.panels.map((p) => p.name).join(', ')})`)

// The music library and the mixer: the recordings and their processed
// versions in a library, what can follow the music, and a beat-matched
// transition from the original into the processed version.
const { Library, mixTransition } = createRequire(import.meta.url)(join(root, 'dist', 'index.js'))
const library = new Library(join(out, 'music_library.db'))
const scanned = await library.scan(join(root, 'assets'))
const scannedOut = await library.scan(out)
console.log(`library ${library.path}: ${scanned.files + scannedOut.files} files, ${scanned.added + scannedOut.added} added, ${scanned.unchanged + scannedOut.unchanged} unchanged`)
console.table((await library.list()).map((t) => ({ path: t.path.replace(`${root}/`, ''), BPM: t.tempoBpm?.toFixed(1) ?? '-', key: t.camelot ?? '-', LUFS: t.loudnessLufs?.toFixed(1) ?? '-' })))
const recs = await library.recommend({ from: join(root, 'assets/music.wav'), limit: 3 })
console.log('after assets/music.wav:')
console.table(recs.map((r) => ({ path: r.path.replace(`${root}/`, ''), score: r.score.toFixed(3), ...Object.fromEntries(Object.entries(r.components).map(([k, v]) => [k, v.toFixed(2)])), stretch: r.stretchRatio?.toFixed(3) ?? '-' })))
library.close()
const transition = await mixTransition(join(root, 'assets/music.wav'), join(out, 'music.processed.wav'), { out: join(out, 'transition.wav'), crossfadeBeats: 4, leadInBeats: 4, tailBeats: 4 })
console.log(`transition -> ${transition.out}: ${transition.durationS.toFixed(1)} s, ${transition.tempoABpm.toFixed(1)} BPM, crossfade ${transition.crossfadeStartS.toFixed(2)}-${transition.crossfadeEndS.toFixed(2)} s, B gain ${transition.gainBDb.toFixed(1)} dB`)
