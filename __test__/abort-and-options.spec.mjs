// Issue 13 (API parity), "AbortSignal everywhere and unknown option keys"
// for ML, analysis, library and mixer: every long call aborted mid-run
// rejects with an AbortError carrying its partial result, with its outputs
// finalised and holding exactly what that result says; an already-aborted
// signal rejects at once; every options object refuses unknown keys.
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, cli, tempDir as newTempDir, readAll, writeWav, wavDataBytes, maxAbsDiff } from './helpers.mjs'

const { Separator, SeparationProcessor, SpeechEnhancer, Library, MixerSession, Analyzer, analyze, mixTransition, AbortError, ResonodeError } = lib
const model = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
// One inference thread: the specs share two cores.
const separator = new Separator({ model, threads: 1 })

// The long inputs written here take hundreds of MB: removed at the end.
const dirs = []
const tempDir = () => {
  const d = newTempDir()
  dirs.push(d)
  return d
}
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** The AbortError contract: name, code, class, and the signal's reason as cause. */
function assertAbort(t, err, reason, label) {
  t.true(err instanceof AbortError, `${label}: ${err?.stack ?? err}`)
  t.true(err instanceof ResonodeError, label)
  t.is(err.name, 'AbortError', label)
  t.is(err.code, 'ERR_ABORTED', label)
  t.is(err.cause, reason, `${label}: the signal's reason is the cause`)
}

/** A controller aborted with a distinct reason, to check it arrives as `cause`. */
function controller(label) {
  const ac = new AbortController()
  const reason = new Error(`stop ${label}`)
  return { ac, reason, abort: () => ac.abort(reason) }
}

/** A long file: `copies` copies of assets/music.wav (12 s, 44.1 kHz stereo, 16-bit), as float WAV. */
async function longMusic(dir, copies) {
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  const long = channels.map((c) => {
    const out = new Float32Array(c.length * copies)
    for (let i = 0; i < copies; i++) out.set(c, i * c.length)
    return out
  })
  return { path: writeWav(join(dir, `music-x${copies}.wav`), long, sampleRate, { float: true }), channels: long, sampleRate }
}

test.serial('separateFile aborted mid-run: AbortError with the SeparateResult so far; the stem files hold exactly those frames', async (t) => {
  const dir = tempDir()
  const { path, channels } = await longMusic(dir, 4)
  const total = channels[0].length
  const { ac, reason, abort } = controller('separateFile')
  const out = join(dir, 'stems')
  const err = await t.throwsAsync(separator.separateFile(path, { outDir: out, stems: ['vocals', 'drums'], signal: ac.signal, onProgress: (f) => f > 0 && abort() }))
  assertAbort(t, err, reason, 'separateFile')
  const s = err.stats
  t.log(`separateFile stopped after ${s.framesProcessed} of ${total} frames, ${s.chunks} chunks`)
  t.true(s.stopped)
  t.deepEqual(s.stemNames, ['vocals', 'drums'])
  t.true(s.framesProcessed > 0 && s.framesProcessed < total, `${s.framesProcessed}`)
  t.deepEqual(readdirSync(out).sort(), ['drums.wav', 'vocals.wav'])
  for (const p of s.stems) {
    // Float input: float stems, 2 channels x 4 bytes per frame.
    t.is(wavDataBytes(t, p), s.framesProcessed * 2 * 4, p)
    t.is((await readAll(p)).channels[0].length, s.framesProcessed)
  }

  // Already aborted: rejects at once, nothing created.
  const none = join(dir, 'none')
  const pre = AbortSignal.abort('early')
  const e0 = await t.throwsAsync(separator.separateFile(path, { outDir: none, signal: pre }))
  assertAbort(t, e0, 'early', 'separateFile, already aborted')
  t.is(e0.stats, undefined)
  t.false(existsSync(none))
})

test.serial('separateLong aborted mid-run, in memory: AbortError whose stats hold the stems separated so far', async (t) => {
  const { channels } = await longMusic(tempDir(), 4)
  const { ac, reason, abort } = controller('separateLong')
  const err = await t.throwsAsync(separator.separateLong(channels, { sampleRate: 44100, signal: ac.signal, onProgress: (f) => f > 0 && abort() }))
  assertAbort(t, err, reason, 'separateLong')
  const s = err.stats
  t.true(s.stopped)
  t.true(s.frames > 0 && s.frames < channels[0].length, `${s.frames}`)
  t.is(s.stems.length, 4)
  for (const stem of s.stems) for (const ch of stem) t.is(ch.length, s.frames)
  const pre = await t.throwsAsync(separator.separateLong(channels, { sampleRate: 44100, signal: AbortSignal.abort() }))
  t.is(pre.code, 'ERR_ABORTED')
  t.is(pre.stats, undefined)
})

test.serial('separateStreaming: an abort ends the iteration by throwing AbortError with the StreamingStats so far', async (t) => {
  const { channels } = await longMusic(tempDir(), 2)
  const total = channels[0].length
  const { ac, reason, abort } = controller('separateStreaming')
  const stream = separator.separateStreaming(channels, { sampleRate: 44100, signal: ac.signal })
  const got = []
  const err = await t.throwsAsync(async () => {
    for await (const c of stream) {
      got.push(c)
      abort()
    }
  })
  assertAbort(t, err, reason, 'separateStreaming')
  t.is(got.length, 1, 'no region after the abort')
  const s = err.stats
  t.log(`stream stopped: ${s.regions} regions, ${s.framesOut} of ${total} frames out, ${s.chunks} model calls`)
  t.true(s.stopped)
  t.is(s.framesOut, got[0].frames, 'the stats count the regions delivered')
  t.true(s.framesOut > 0 && s.framesOut < total)
  t.deepEqual(s.stemNames, ['drums', 'bass', 'other', 'vocals'])
  t.true(stream.workerExited, 'the worker has exited and freed the model')
  t.true((await stream.next()).done)

  // With onChunk: the promise rejects the same way.
  const cb = controller('onChunk')
  const e2 = await t.throwsAsync(separator.separateStreaming(channels, { sampleRate: 44100, signal: cb.ac.signal, onChunk: () => cb.abort() }))
  assertAbort(t, e2, cb.reason, 'separateStreaming onChunk')
  t.true(e2.stats.framesOut > 0 && e2.stats.framesOut < total)

  // Already aborted: the first next() throws, before any model load.
  const pre = separator.separateStreaming(channels, { sampleRate: 44100, signal: AbortSignal.abort('early') })
  assertAbort(t, await t.throwsAsync(pre.next()), 'early', 'separateStreaming, already aborted')
  t.is(pre.stats, null, 'no worker was started')
  t.true((await pre.next()).done)
})

test.serial('enhanceFile aborted mid-run: AbortError with the EnhanceResult so far; the file is the enhancement of that prefix', async (t) => {
  const dir = tempDir()
  const speech = (await readAll(asset('speech.wav'))).channels[0]
  const x = new Float32Array(90 * 16000)
  for (let i = 0; i < x.length; i++) x[i] = speech[i % speech.length]
  const input = writeWav(join(dir, 'long.wav'), [x], 16000, { float: true })
  const enhancer = new SpeechEnhancer({ threads: 1 })
  const { ac, reason, abort } = controller('enhanceFile')
  const out = join(dir, 'out.wav')
  const err = await t.throwsAsync(enhancer.enhanceFile(input, out, { signal: ac.signal, onProgress: (f) => f > 0 && abort() }))
  assertAbort(t, err, reason, 'enhanceFile')
  const s = err.stats
  t.log(`enhanceFile stopped after ${s.framesProcessed} of ${x.length} frames`)
  t.true(s.stopped)
  t.true(s.framesProcessed > 0 && s.framesProcessed < x.length, `${s.framesProcessed}`)
  t.is(wavDataBytes(t, out), s.framesProcessed * 4)
  const [prefix] = await enhancer.enhance([x.subarray(0, s.framesProcessed)], 16000)
  t.is(maxAbsDiff((await readAll(out)).channels[0], prefix), 0)

  const none = join(dir, 'none.wav')
  assertAbort(t, await t.throwsAsync(enhancer.enhanceFile(input, none, { signal: AbortSignal.abort('early') })), 'early', 'enhanceFile, already aborted')
  t.false(existsSync(none))
})

test('analyze aborted mid-run: AbortError with the progress so far; the CSV holds exactly those frames', async (t) => {
  const dir = tempDir()
  const { path, channels } = await longMusic(dir, 10)
  // Centred frames at 22050 Hz, hop 512.
  const totalFrames = 1 + Math.floor(Math.round((channels[0].length * 22050) / 44100) / 512)
  const csv = join(dir, 'frames.csv')
  const { ac, reason, abort } = controller('analyze')
  // Past the first 10 s: file analysis holds frames back for its 10 s floor lookahead.
  const err = await t.throwsAsync(analyze(path, { framesCsv: csv, signal: ac.signal, progressIntervalMs: 1, onProgress: (f) => f >= 0.3 && abort() }))
  assertAbort(t, err, reason, 'analyze')
  const s = err.stats
  t.log(`analyze stopped at ${(s.fraction * 100).toFixed(1)} %, ${s.frames} of ~${totalFrames} frames`)
  t.true(s.stopped)
  t.true(s.fraction > 0 && s.fraction < 1, `${s.fraction}`)
  t.true(s.frames > 0 && s.frames < totalFrames, `${s.frames}`)
  const lines = readFileSync(csv, 'utf8').split('\n')
  t.is(lines.at(-1), '', 'the CSV ends with a complete line')
  const [header, ...rows] = lines.slice(0, -1)
  t.regex(header, /^[a-z_]/, 'a header line')
  t.is(rows.length, s.frames, 'one CSV row per frame analysed')
  t.true(rows.every((r) => r.split(',').length === header.split(',').length && r.split(',').every((v) => Number.isFinite(Number(v)))))

  const none = join(dir, 'none.csv')
  assertAbort(t, await t.throwsAsync(analyze(path, { framesCsv: none, signal: AbortSignal.abort('early') })), 'early', 'analyze, already aborted')
  t.false(existsSync(none))
})

test('Library.scan aborted mid-run: AbortError with the ScanSummary so far; what finished is stored; add aborts too', async (t) => {
  const dir = join(tempDir(), 'music')
  mkdirSync(dir)
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  const excerpt = channels.map((c) => c.subarray(0, 4 * sampleRate))
  for (let i = 0; i < 16; i++) writeWav(join(dir, `t${String(i).padStart(2, '0')}.wav`), excerpt.map((c) => c.map((v) => v * (0.3 + 0.02 * i))), sampleRate)
  const library = new Library(join(tempDir(), 'lib.db'))
  t.teardown(() => library.close())
  const { ac, reason, abort } = controller('scan')
  const err = await t.throwsAsync(library.scan(dir, { concurrency: 1, progressIntervalMs: 1, signal: ac.signal, onProgress: (p) => p.done >= 2 && abort() }))
  assertAbort(t, err, reason, 'scan')
  const s = err.stats
  t.log(`scan stopped after ${s.added} of ${s.files} files`)
  t.true(s.aborted)
  t.is(s.files, 16)
  t.true(s.added >= 2 && s.added < 16, JSON.stringify(s))
  t.is((await library.list()).length, s.added, 'what finished is stored')
  assertAbort(t, await t.throwsAsync(library.scan(dir, { signal: AbortSignal.abort('early') })), 'early', 'scan, already aborted')
  t.is((await library.list()).length, s.added)

  // add: the signal aborts the analysis of the file; nothing is stored.
  const file = join(dir, 't15.wav')
  const known = (await library.list()).some((e) => e.path === file)
  const add = controller('add')
  const adding = library.add(file, { signal: add.ac.signal })
  add.abort()
  assertAbort(t, await t.throwsAsync(adding), add.reason, 'add')
  t.is((await library.list()).some((e) => e.path === file), known, 'nothing stored by the aborted add')
  assertAbort(t, await t.throwsAsync(library.add(file, { signal: AbortSignal.abort('early') })), 'early', 'add, already aborted')
  // The rest finishes on the next scan.
  const rest = await library.scan(dir)
  t.is(rest.added + rest.unchanged, 16)
})

test('mixTransition aborted: AbortError, and no output file', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'mix.wav')
  const { ac, reason, abort } = controller('mix')
  const mixing = mixTransition(asset('music.wav'), asset('music.wav'), { out, signal: ac.signal })
  abort()
  assertAbort(t, await t.throwsAsync(mixing), reason, 'mixTransition')
  t.false(existsSync(out))
  assertAbort(t, await t.throwsAsync(mixTransition(asset('music.wav'), asset('music.wav'), { out, signal: AbortSignal.abort('early') })), 'early', 'mixTransition, already aborted')
  t.false(existsSync(out))
})

/** Runs the CLI, sends SIGINT once `ready()` holds, and resolves with its exit code and output. */
async function interrupted(args, ready) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((r) => child.once('exit', (code) => r(code)))
  let done = false
  void exited.then(() => (done = true))
  const t0 = Date.now()
  while (!done && !ready() && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 20))
  child.kill('SIGINT')
  return { code: await exited, stdout, stderr }
}

const grown = (path) => existsSync(path) && statSync(path).size > 1 << 16

test.serial('resonode separate / enhance on Ctrl-C: exit 130, the partial result printed, finalised files', async (t) => {
  const dir = tempDir()
  const { path, channels } = await longMusic(dir, 20)
  const out = join(dir, 'stems')
  const sep = await interrupted(['separate', path, '--model', model, '--out', out, '--threads', '1', '--json'], () => grown(join(out, 'vocals.wav')))
  t.is(sep.code, 130, sep.stderr)
  const j = JSON.parse(sep.stdout)
  t.true(j.stopped)
  const frames = []
  for (const p of j.stems) {
    const bytes = wavDataBytes(t, p)
    frames.push((await readAll(p)).channels[0].length)
    t.is(bytes, frames.at(-1) * 2 * 4, p)
  }
  t.log(`separate interrupted after ${frames[0]} of ${channels[0].length} frames`)
  t.true(frames.every((f) => f === frames[0]) && frames[0] > 0 && frames[0] < channels[0].length, `${frames}`)

  const speech = (await readAll(asset('speech.wav'))).channels[0]
  const x = new Float32Array(600 * 16000)
  for (let i = 0; i < x.length; i++) x[i] = speech[i % speech.length]
  const input = writeWav(join(dir, 'speech-long.wav'), [x], 16000, { float: true })
  const enhanced = join(dir, 'enhanced.wav')
  const enh = await interrupted(['enhance', input, enhanced, '--threads', '1', '--json'], () => grown(enhanced))
  t.is(enh.code, 130, enh.stderr)
  const r = JSON.parse(enh.stdout)
  t.true(r.stopped)
  t.true(r.framesProcessed > 0 && r.framesProcessed < x.length, `${r.framesProcessed}`)
  t.is(wavDataBytes(t, enhanced), r.framesProcessed * 4)
})

/** An unknown key is refused with ERR_INVALID_PARAMETER naming it, the call, and the accepted keys. */
function assertUnknown(t, err, key, where, accepted) {
  t.truthy(err, `${where}: refused`)
  t.is(err.code, 'ERR_INVALID_PARAMETER', `${where}: ${err.message}`)
  t.true(err.message.includes(`\`${key}\``), `${where} names the key: ${err.message}`)
  t.true(err.message.includes(where), `${where} named: ${err.message}`)
  const list = /\(accepted: ([^)]*)\)/.exec(err.message)?.[1].split(', ') ?? []
  for (const k of accepted) t.true(list.includes(k), `${where} lists \`${k}\`: ${err.message}`)
  t.false(list.includes(key))
}

test('every constructor and method of ML, separation, analysis, library and mixer refuses unknown option keys', async (t) => {
  const ok = [new Float32Array(1000), new Float32Array(1000)]
  const enhancer = new SpeechEnhancer({ threads: 1 })
  const library = new Library(join(tempDir(), 'keys.db'))
  t.teardown(() => library.close())
  const cases = [
    [() => new SpeechEnhancer({ modelpath: 'x.onnx' }), 'modelpath', 'SpeechEnhancer', ['modelPath', 'window', 'synthesisWindow', 'runtimePath', 'executionProvider', 'fallback', 'threads']],
    [() => enhancer.enhanceFile(asset('speech.wav'), join(tempDir(), 'o.wav'), { progress: () => {} }), 'progress', 'SpeechEnhancer.enhanceFile()', ['encoding', 'signal', 'onProgress']],
    [() => new Separator({ model, overlapp: 0.5 }), 'overlapp', 'Separator', ['model', 'overlap', 'crossfade', 'segmentS', 'normalization', 'threads']],
    [() => separator.separate(ok, { sampleRate: 44100, rate: 1 }), 'rate', 'Separator.separate()', ['sampleRate', 'normalization', 'overlap', 'crossfade']],
    [() => separator.separateLong(ok, { sampleRate: 44100, outdir: 'x' }), 'outdir', 'Separator.separateLong()', ['outDir', 'stems', 'format', 'encoding', 'signal', 'onProgress', 'chunkSeconds']],
    [() => separator.separateStreaming(ok, { sampleRate: 44100, block: 1 }), 'block', 'Separator.separateStreaming()', ['blockFrames', 'signal', 'overlapSeconds']],
    [() => separator.separateStreaming(ok, { sampleRate: 44100, onChunk: () => {}, onchunk: 1 }), 'onchunk', 'Separator.separateStreaming()', ['onChunk', 'signal']],
    [() => separator.separateFile(asset('music.wav'), { outDir: tempDir(), stem: ['vocals'] }), 'stem', 'Separator.separateFile()', ['outDir', 'stems', 'onProgress', 'signal']],
    [() => new SeparationProcessor(separator, { stem: ['vocals'] }), 'stem', 'SeparationProcessor', ['stems', 'normalization', 'blockFrames']],
    [() => separator.separateLong(ok, { sampleRate: 44100, normalization: { mean: 0, std: 1, scale: 2 } }), 'scale', 'normalization', ['mean', 'std']],
    [() => analyze(asset('music.wav'), { hop: 256 }), 'hop', 'analyze()', ['hopLength', 'framesCsv', 'signal', 'onProgress', 'keepFrames']],
    [() => new Analyzer({ tracks: false }), 'tracks', 'Analyzer', ['track', 'sampleRate', 'nFft']],
    [() => new Library(join(tempDir(), 'x.db'), { busyTimeout: 5 }), 'busyTimeout', 'Library', ['busyTimeoutMs']],
    [() => library.scan(tempDir(), { jobs: 2 }), 'jobs', 'Library.scan()', ['concurrency', 'prune', 'signal', 'onProgress', 'progressIntervalMs']],
    [() => library.add(asset('music.wav'), { force: true }), 'force', 'Library.add()', ['signal']],
    [() => library.recommend({ from: 1, count: 3 }), 'count', 'Library.recommend()', ['from', 'limit', 'session', 'tempoTolerance', 'keyLock', 'exclude']],
    [() => new MixerSession({ library, source: asset('music.wav'), refresh: 2 }), 'refresh', 'MixerSession', ['library', 'source', 'realtime', 'refreshS', 'limit', 'tempoTolerance', 'playing', 'analysis']],
    [() => new MixerSession({ library, source: asset('music.wav'), analysis: { hop: 256 } }), 'hop', 'MixerSession `analysis`', ['hopLength', 'nFft']],
    [() => mixTransition(asset('music.wav'), asset('music.wav'), { out: join(tempDir(), 'm.wav'), crossfade: 8 }), 'crossfade', 'mixTransition()', ['out', 'crossfadeBeats', 'leadInBeats', 'tailBeats', 'matchLoudness', 'signal']],
  ]
  for (const [call, key, where, accepted] of cases) {
    let err
    try {
      await call()
    } catch (e) {
      err = e
    }
    assertUnknown(t, err, key, where, accepted)
  }
  // A signal that is not an AbortSignal is refused too.
  for (const call of [
    () => separator.separateLong(ok, { sampleRate: 44100, signal: {} }),
    () => enhancer.enhanceFile(asset('speech.wav'), join(tempDir(), 'o.wav'), { signal: true }),
    () => analyze(asset('music.wav'), { signal: 'stop' }),
    () => library.scan(tempDir(), { signal: {} }),
    () => mixTransition(asset('music.wav'), asset('music.wav'), { out: join(tempDir(), 'm.wav'), signal: {} }),
    () => separator.separateStreaming(ok, { sampleRate: 44100, signal: {} }),
  ]) {
    let err
    try {
      await call()
    } catch (e) {
      err = e
    }
    t.is(err?.code, 'ERR_INVALID_PARAMETER')
    t.regex(err?.message ?? '', /`signal`/)
  }
})
