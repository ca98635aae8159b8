// Music analysis from JS and the CLI: descriptors on real and generated
// music with known tempo and key, EBU R128 loudness against theory, every
// container at odd rates and channel counts, the analyzer as a pipeline
// processor, the frame CSV, and bad input.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, tempDir, cli, writeWav, readAll } from './helpers.mjs'

const run = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
const fixture = (name) => join(root, 'crates/io/tests/fixtures', name)
// assets/music.wav loops Sonic Pi's `loop_amen`: 4 beats in 1.7533 s (136.88 BPM).
const MUSIC_BPM = 136.88
const within = (v, ref, rel) => Math.abs(v - ref) <= rel * ref

const JSON_FIELDS = ['durationS', 'sampleRate', 'tempoBpm', 'tempoConfidence', 'beats', 'key', 'mode', 'camelot', 'keyConfidence', 'loudnessLufs', 'loudnessRangeLu', 'truePeakDbtp', 'energy']

test('analyze(): the drum loop in the bundled music gives its tempo and beats on its grid', async (t) => {
  const a = await lib.analyze(asset('music.wav'))
  t.log(`tempo ${a.tempoBpm.toFixed(2)} BPM (conf ${a.tempoConfidence.toFixed(2)}), key ${a.key} ${a.mode} ${a.camelot}, ${a.loudnessLufs.toFixed(2)} LUFS, LRA ${a.loudnessRangeLu.toFixed(2)} LU, TP ${a.truePeakDbtp.toFixed(2)} dBTP, energy ${a.energy.toFixed(3)}`)
  t.true(within(a.tempoBpm, MUSIC_BPM, 0.04), `${a.tempoBpm}`)
  t.is(a.durationS, 12)
  t.is(a.sampleRate, 44100)
  t.is(a.channels, 2)
  // Beats on the loop's grid: within 35 ms of the
  // least-squares line through them (1.5 frames), whose slope is the loop's beat period.
  const n = a.beats.length
  t.true(n >= 20, `${n} beats`)
  const k = a.beats.map((_, i) => i)
  const km = (n - 1) / 2
  const bm = a.beats.reduce((s, b) => s + b, 0) / n
  const slope = k.reduce((s, i) => s + (i - km) * (a.beats[i] - bm), 0) / k.reduce((s, i) => s + (i - km) ** 2, 0)
  t.true(Math.abs(slope - 60 / MUSIC_BPM) < 0.002, `period ${slope}`)
  const residuals = a.beats.map((b, i) => b - (bm + slope * (i - km)))
  t.true(residuals.every((r) => Math.abs(r) < 0.035), JSON.stringify(residuals))
  // The file was normalised to -1 dBFS sample peak: its true peak is at or a little above that.
  t.true(a.truePeakDbtp >= -1.01 && a.truePeakDbtp < 0, `${a.truePeakDbtp}`)
  t.is(a.summary.length, 44)
  t.true(a.summary.every(Number.isFinite))
  t.regex(a.analyzerVersion, /^resonode-analysis\//)
})

test('loudness: EBU Tech 3341 case 1 (stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS) and a quieter copy reads 10 LU lower', async (t) => {
  const dir = tempDir()
  const sr = 48000
  const make = (db, name) => {
    const amp = 10 ** (db / 20)
    const x = new Float32Array(sr * 20).map((_, i) => amp * Math.sin((2 * Math.PI * 1000 * i) / sr))
    return writeWav(join(dir, name), [x, x], sr, { float: true })
  }
  const a = await lib.analyze(make(-23, 'a.wav'))
  const b = await lib.analyze(make(-33, 'b.wav'))
  t.log(`${a.loudnessLufs} LUFS, ${b.loudnessLufs} LUFS; TP ${a.truePeakDbtp} dBTP`)
  t.true(Math.abs(a.loudnessLufs + 23) <= 0.1)
  t.true(Math.abs(b.loudnessLufs - a.loudnessLufs + 10) <= 0.05)
  t.true(a.loudnessRangeLu < 0.5)
  t.true(Math.abs(a.truePeakDbtp + 23) < 0.1)
  // A sine has no pulse and one pitch class: no tempo; energy = its RMS.
  t.is(a.tempoBpm, null)
  t.true(Math.abs(a.energy - 10 ** (-23 / 20) / Math.SQRT2) < 0.002, `${a.energy}`)
})

test('resonode analyze --json on WAV, FLAC, MP3 and Ogg at other rates and channel counts', async (t) => {
  const dir = tempDir()
  const cases = [
    ['m48.flac', ['-r', '48000', '-c', '1'], 48000, 1],
    ['m32.mp3', ['-r', '32000'], 32000, 2],
    ['m96.ogg', ['-r', '96000'], 96000, 2],
    ['m8x4.wav', ['-r', '8000', '-c', '4'], 8000, 4],
  ]
  for (const [name, args, rate, channels] of cases) {
    const path = join(dir, name)
    const s = spawnSync('sox', [asset('music.wav'), ...args, path], { encoding: 'utf8' })
    t.is(s.status, 0, `sox ${name}: ${s.stderr}`)
    const r = run('analyze', path, '--json')
    t.is(r.status, 0, `${name}: ${r.stderr}`)
    const j = JSON.parse(r.stdout)
    for (const f of JSON_FIELDS) t.true(f in j, `${name}: ${f}`)
    t.is(j.sampleRate, rate)
    t.is(j.channels, channels)
    t.true(Math.abs(j.durationS - 12) < 0.1, `${name}: ${j.durationS}`)
    t.true(within(j.tempoBpm, MUSIC_BPM, 0.04), `${name}: ${j.tempoBpm}`)
    t.true(j.loudnessLufs < -5 && j.loudnessLufs > -30, `${name}: ${j.loudnessLufs}`)
    t.log(`${name}: ${j.tempoBpm} BPM, ${j.key} ${j.mode}, ${j.loudnessLufs} LUFS`)
  }
  // The human-readable form names the same things.
  const r = run('analyze', asset('music.wav'))
  t.is(r.status, 0)
  t.regex(r.stdout, /tempo\s+13\d\.\d+ BPM/)
  t.regex(r.stdout, /loudness\s+-\d+\.\d+ LUFS/)
})

test('--frames writes one CSV line per analysis frame, the same values analyze({ keepFrames }) returns', async (t) => {
  const csv = join(tempDir(), 'f.csv')
  const r = run('analyze', asset('speech.wav'), '--json', '--frames', csv)
  t.is(r.status, 0, r.stderr)
  const lines = readFileSync(csv, 'utf8').trim().split('\n')
  const header = lines[0].split(',')
  t.deepEqual(header.slice(0, 10), ['frame', 'time_s', 'rms', 'zcr', 'centroid_hz', 'bandwidth_hz', 'rolloff_hz', 'flatness', 'flux', 'onset_strength'])
  t.is(header.length, 10 + 13 + 12)
  t.is(header.at(-1), 'chroma_B')
  const a = await lib.analyze(asset('speech.wav'), { keepFrames: true })
  // 84800 samples at 16 kHz = 116865 at 22050 Hz: 1 + floor(116865 / 512) centred frames.
  t.is(a.features.frames, 229)
  t.is(lines.length - 1, 229)
  const row = lines[100].split(',').map(Number)
  t.is(row[0], 99)
  t.true(Math.abs(row[1] - (99 * 512) / 22050) < 1e-5)
  t.true(Math.abs(row[2] - a.features.rms[99]) < 1e-6)
  t.true(Math.abs(row[10 + 5] - a.features.mfcc[5][99]) < 1e-4)
  t.is(a.features.mfcc.length, 13)
  t.is(a.features.chroma.length, 12)
})

test('Analyzer in a StreamingPipeline: audio passes unchanged, features as frames complete, descriptors at the end', async (t) => {
  const out = join(tempDir(), 'o.wav')
  const analyzer = new lib.Analyzer()
  let frames = 0
  let updates = 0
  let analysis = null
  analyzer.on('features', (f) => {
    t.is(f.firstFrame, frames)
    frames += f.frames
  })
  analyzer.on('update', () => updates++)
  analyzer.on('analysis', (a) => (analysis = a))
  const p = new lib.StreamingPipeline({ source: new lib.FileSource(asset('music.wav')), processors: [analyzer], sink: new lib.FileSink(out), chunkSize: 4096 })
  await p.run()
  t.is(frames, 1 + Math.floor(264600 / 512))
  t.is(updates, 13) // one per second of audio, and one at the end
  t.true(within(analysis.tempoBpm, MUSIC_BPM, 0.04))
  t.deepEqual(analyzer.analysis, analysis)
  t.true(within(analyzer.tempo.bpm, MUSIC_BPM, 0.04), `live ${analyzer.tempo?.bpm}`)
  t.truthy(analyzer.features)
  t.is(analyzer.features.frames, 1)
  t.truthy(analyzer.energyTrend)
  const [a, b] = [await readAll(asset('music.wav')), await readAll(out)]
  t.deepEqual(b.channels, a.channels)
})

test('the analyzer follows a CallbackSource stream and rejects NaN with its position', async (t) => {
  const sr = 44100
  const block = (i) => [new Float32Array(1024).map((_, k) => 0.3 * Math.sin((2 * Math.PI * 440 * (i * 1024 + k)) / sr))]
  async function* gen(n, nanAt) {
    for (let i = 0; i < n; i++) {
      const b = block(i)
      if (i === nanAt) b[0][10] = NaN
      yield b
    }
  }
  const analyzer = new lib.Analyzer()
  await new lib.StreamingPipeline({ source: new lib.CallbackSource(gen(100), { sampleRate: sr }), processors: [analyzer], sink: new lib.CallbackSink(() => {}) }).run()
  t.is(analyzer.analysis.tempoBpm, null)
  t.true(Math.abs(analyzer.analysis.durationS - (100 * 1024) / sr) < 1e-9)
  const bad = new lib.Analyzer()
  const err = await t.throwsAsync(new lib.StreamingPipeline({ source: new lib.CallbackSource(gen(50, 20), { sampleRate: sr }), processors: [bad], sink: new lib.CallbackSink(() => {}) }).run())
  t.is(err.code, 'ERR_NON_FINITE_SAMPLE')
  t.regex(err.message, /frame 20490/)
})

/** mir_eval's beat F-measure: 70 ms window, beats in the first 5 s ignored. */
function beatF(ref, est) {
  const r = ref.filter((b) => b >= 5)
  const e = est.filter((b) => b >= 5)
  if (!r.length || !e.length) return 0
  const used = new Set()
  let hits = 0
  for (const x of r) {
    let best = -1
    for (let j = 0; j < e.length; j++) if (!used.has(j) && Math.abs(e[j] - x) <= 0.07 && (best < 0 || Math.abs(e[j] - x) < Math.abs(e[best] - x))) best = j
    if (best >= 0) {
      used.add(best)
      hits++
    }
  }
  const p = hits / e.length
  const rc = hits / r.length
  return p + rc ? (2 * p * rc) / (p + rc) : 0
}

const PC = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']
/** MIREX key score: 1 same key, 0.5 fifth (same mode), 0.3 relative, 0.2 parallel, else 0. */
function keyScore(refKey, refMode, key, mode) {
  if (key == null) return 0
  const r = PC.indexOf(refKey)
  const e = PC.indexOf(key)
  if (r === e && refMode === mode) return 1
  if (refMode === mode && (e - r + 12) % 12 === 7) return 0.5
  if (refMode === 'major' && mode === 'minor' && (e - r + 12) % 12 === 9) return 0.3
  if (refMode === 'minor' && mode === 'major' && (e - r + 12) % 12 === 3) return 0.3
  if (r === e) return 0.2
  return 0
}

test('tempo, beats and key on songs rendered from MIDI with known tempo and key (fluidsynth)', async (t) => {
  const dir = tempDir()
  const g = spawnSync(process.execPath, [join(root, 'scripts/make-groundtruth.mjs'), '--subset', 'test', '--out', dir], { encoding: 'utf8' })
  t.is(g.status, 0, `make-groundtruth (needs fluidsynth, fluid-soundfont-gm, sox: scripts/system-deps.sh test): ${g.stderr}`)
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
  t.is(manifest.length, 6)
  let acc1 = 0
  let acc2 = 0
  let key = 0
  let f = 0
  for (const song of manifest) {
    const a = await lib.analyze(join(dir, song.file))
    const ratio = a.tempoBpm / song.tempoBpm
    const ok1 = Math.abs(ratio - 1) <= 0.04
    const ok2 = [1, 2, 0.5, 3, 1 / 3].some((m) => Math.abs(ratio / m - 1) <= 0.04)
    const ks = keyScore(song.key, song.mode, a.key, a.mode)
    const bf = beatF(song.beats, a.beats)
    acc1 += ok1
    acc2 += ok2
    key += ks
    f += bf
    t.log(`${song.file}: ${song.tempoBpm.toFixed(1)} BPM ${song.key} ${song.mode} -> ${a.tempoBpm?.toFixed(2)} BPM, ${a.key} ${a.mode} (key score ${ks}), beat F ${bf.toFixed(3)}`)
  }
  const n = manifest.length
  t.log(`Accuracy1 ${acc1}/${n}, Accuracy2 ${acc2}/${n}, key weighted ${(key / n).toFixed(3)}, beat F ${(f / n).toFixed(3)}`)
  t.true(acc1 >= n - 1, 'tempo Accuracy1')
  t.is(acc2, n, 'tempo Accuracy2')
  t.true(key / n >= 0.8, 'key weighted score')
  t.true(f / n >= 0.8, 'beat F-measure')
})

test('bad input: silence and noise say why there is no tempo or key; broken files and bad options are typed errors', async (t) => {
  const dir = tempDir()
  const sr = 44100
  const silence = writeWav(join(dir, 's.wav'), [new Float32Array(sr * 5), new Float32Array(sr * 5)], sr)
  const s = await lib.analyze(silence)
  t.is(s.tempoBpm, null)
  t.is(s.key, null)
  t.is(s.loudnessLufs, null)
  t.regex(s.tempoReason, /silence/)
  t.truthy(s.keyReason)
  t.deepEqual(s.beats, [])
  let x = 2463534242
  const xorshift = () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 2 ** 32 - 0.5
  }
  const noise = new Float32Array(sr * 10).map(() => xorshift() * 0.5)
  const n = await lib.analyze(writeWav(join(dir, 'n.wav'), [noise], sr))
  t.is(n.tempoBpm, null)
  t.is(n.key, null)
  t.regex(n.tempoReason, /no steady pulse/)
  t.true(n.loudnessLufs > -30)

  const nan = new Float32Array(sr).fill(0.1)
  nan[12345] = NaN
  const e1 = await t.throwsAsync(lib.analyze(writeWav(join(dir, 'nan.wav'), [nan], sr, { float: true })))
  t.is(e1.code, 'ERR_NON_FINITE_SAMPLE')
  t.regex(e1.message, /frame 12345/)
  const short = writeWav(join(dir, 'short.wav'), [new Float32Array(2000).fill(0.1)], sr)
  const e2 = await t.throwsAsync(lib.analyze(short))
  t.is(e2.code, 'ERR_EMPTY_AUDIO')
  t.regex(e2.message, /shorter than one analysis window/)
  t.is((await t.throwsAsync(lib.analyze(fixture('empty.wav')))).code, 'ERR_EMPTY_AUDIO') // 0 bytes
  const noFrames = writeWav(join(dir, 'noframes.wav'), [new Float32Array(0)], sr)
  t.is((await t.throwsAsync(lib.analyze(noFrames))).code, 'ERR_EMPTY_AUDIO')
  t.is((await t.throwsAsync(lib.analyze(fixture('random_bytes.wav')))).code.startsWith('ERR_'), true)
  t.is((await t.throwsAsync(lib.analyze(join(dir, 'missing.wav')))).code, 'ERR_NOT_FOUND')
  // A truncated file (its header declares more than it holds) is analysed
  // for every frame that decodes (15000 of them), like sox reads it.
  const csv = join(dir, 'truncated.csv')
  const tr = await lib.analyze(fixture('truncated_s16.wav'), { framesCsv: csv })
  t.true(Math.abs(tr.durationS - 15000 / 44100) < 1e-6, `${tr.durationS} s`)
  const rows = readFileSync(csv, 'utf8').trim().split('\n')
  t.true(rows.length > 1 && rows.every((r) => r.split(',').length === 35))
  t.is((await t.throwsAsync(lib.analyze(asset('music.wav'), { hopLength: 0 }))).code, 'ERR_INVALID_PARAMETER')
  t.is(t.throws(() => new lib.Analyzer({ nFft: 1001 })).code, 'ERR_INVALID_PARAMETER')
  const unknown = t.throws(() => new lib.Analyzer({ hop: 256 }))
  t.is(unknown.code, 'ERR_INVALID_PARAMETER')
  t.regex(unknown.message, /`hop`/)
  // Aborting rejects with an AbortError (mid-run aborts: abort-and-options.spec.mjs).
  const ac = new AbortController()
  ac.abort()
  const aborted = await t.throwsAsync(lib.analyze(asset('music.wav'), { signal: ac.signal }))
  t.is(aborted.code, 'ERR_ABORTED')
  t.is(aborted.name, 'AbortError')
  // The CLI: one line on stderr with the code, non-zero exit, nothing on stdout.
  const r = run('analyze', short, '--json')
  t.is(r.status, 1)
  t.is(r.stdout, '')
  t.regex(r.stderr, /^resonode: ERR_EMPTY_AUDIO: /)
  t.false(existsSync(join(dir, 'never.csv')))
  writeFileSync(join(dir, 'x.txt'), 'not audio')
  t.regex(run('analyze', join(dir, 'x.txt')).stderr, /^resonode: ERR_(DECODE|UNSUPPORTED_FORMAT): /)
})
