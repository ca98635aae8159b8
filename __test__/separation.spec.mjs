// Issue 4, "Chunked separation engine": Separator.separate / separateLong /
// separateStreaming and SeparationProcessor on the small fixture HTDemucs
// model (crates/ml/tests/fixtures/htdemucs) and real music (assets/music.wav).
// The reference stems are PyTorch's apply_model output for the parity clip.
import test from 'ava'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, tempDir, readAll, maxAbsDiff, concat, wavDataBytes, abortAtFirstProgress, htdemucsFixture } from './helpers.mjs'

const { Separator, SeparationProcessor, StreamingPipeline, FileSource, CallbackSource, MultiFileSink, FileSink, siSdr } = lib
const fixtures = join(root, 'crates/ml/tests/fixtures/htdemucs')
const model = join(fixtures, 'htdemucs_tiny.onnx')
// One inference thread: the specs share two cores.
const separator = new Separator({ model, threads: 1 })

const meta = Object.fromEntries(
  readFileSync(join(fixtures, 'meta.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(' = '))
    .map((l) => l.split(' = ').map((s) => s.trim())),
)

/** The parity clip: 348401 frames of assets/music.wav from frame 88200 (two segments, the second partial). */
async function clip() {
  const start = Number(meta['clip.start_frame_in_music_wav'])
  const frames = Number(meta['clip.frames'])
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  return { channels: channels.map((c) => c.slice(start, start + frames)), sampleRate }
}

/** Concatenates streamed chunks into stem x channel arrays, checking they are contiguous. */
function concatRegions(t, chunks) {
  let next = 0
  chunks.forEach((c, i) => {
    t.is(c.chunkIdx, i)
    t.is(c.startFrame, next)
    t.is(c.isLast, i === chunks.length - 1)
    next += c.frames
  })
  return chunks[0].stems.map((stem, s) =>
    stem.map((_, ch) => {
      const out = new Float32Array(next)
      let off = 0
      for (const c of chunks) {
        out.set(c.stems[s][ch], off)
        off += c.frames
      }
      return out
    }),
  )
}

/** Bit-for-bit equality of stem x channel arrays. */
function assertIdentical(t, a, b, label) {
  t.is(a.length, b.length, `${label}: stems`)
  a.forEach((stem, s) =>
    stem.forEach((ch, c) => {
      t.is(ch.length, b[s][c].length, `${label}: stem ${s} channel ${c} length`)
      t.true(Buffer.from(ch.buffer, ch.byteOffset, ch.byteLength).equals(Buffer.from(b[s][c].buffer, b[s][c].byteOffset, b[s][c].byteLength)), `${label}: stem ${s} channel ${c} differs (max ${maxAbsDiff(ch, b[s][c])})`)
    }),
  )
}

/** Random block sizes from a seeded generator. */
function* randomBlocks(channels, seed, maxBlock) {
  let s = seed >>> 0
  let pos = 0
  const n = channels[0].length
  while (pos < n) {
    s = (s * 1664525 + 1013904223) >>> 0
    const len = Math.min(n - pos, s % maxBlock)
    yield channels.map((c) => c.subarray(pos, pos + len))
    pos += len
  }
}

test.serial('separate() on the parity clip matches PyTorch apply_model (SI-SDR >= 70 dB, error <= 1e-3 of the peak)', async (t) => {
  const { channels, sampleRate } = await clip()
  const r = await separator.separate(channels, { sampleRate })
  t.deepEqual(r.stemNames, meta.sources.split(','))
  t.is(r.sampleRate, 44100)
  t.is(r.frames, 348401)
  for (const [s, name] of r.stemNames.entries()) {
    t.is(r.stems[s].length, 2)
    const ref = concat((await readAll(join(fixtures, `ref_${name}.wav`))).channels)
    const est = concat(r.stems[s])
    t.is(est.length, ref.length)
    const peak = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
    const score = siSdr(est, ref)
    const rel = maxAbsDiff(est, ref) / peak
    t.log(`${name}: SI-SDR ${score.toFixed(1)} dB, max abs error ${rel.toExponential(2)} of the peak`)
    t.true(score >= 70, `${name}: ${score} dB`)
    t.true(rel <= 1e-3, `${name}: ${rel}`)
  }
})

// Issue 13, "HTDemucs as the reference tool has it": a segment shorter than
// the export's, as demucs' --segment (apply_model(..., segment=s): chunks of
// s seconds, each zero-padded to the model's training length and cut back).
// References from scripts/make_htdemucs_fixtures.py --only segment.
test.serial('a segment shorter than the model\'s (6.0 s, 4.0 s) matches PyTorch apply_model(segment=...) on every path', async (t) => {
  const segDir = join(root, 'crates/ml/tests/fixtures/htdemucs_segment')
  const { clip, assertParity } = htdemucsFixture(segDir)
  const channels = await clip()
  const compare = (stems, prefix, label) => assertParity(t, stems, prefix, label)
  for (const [secs, tag] of [[6, 'seg6'], [4, 'seg4']]) {
    const long = await separator.separateLong(channels, { sampleRate: 44100, chunkSeconds: secs })
    // Two chunks of `secs` (one 7.8 s chunk would cover the 4.6 s clip).
    t.is(long.chunks, 2)
    await compare(long.stems, `ref_${tag}_`, `separateLong chunkSeconds ${secs}`)
  }
  // The Separator's segmentS: separate() and the streaming worker (what
  // SeparationProcessor runs) chunk by it too.
  const sep4 = new Separator({ model, threads: 1, segmentS: 4 })
  const whole = await sep4.separate(channels, { sampleRate: 44100 })
  await compare(whole.stems, 'ref_seg4_', 'separate segmentS 4')
  const chunks = []
  const normalization = Separator.normalizationStats(channels)
  for await (const c of sep4.separateStreaming(randomBlocks(channels, 3, 50000), { sampleRate: 44100, normalization })) chunks.push(c)
  t.deepEqual(chunks.map((c) => c.startFrame), [0, 132300])
  assertIdentical(t, concatRegions(t, chunks), whole.stems, 'streaming segmentS 4')
  // Longer than the export: refused, naming the model's segment.
  const ok = [new Float32Array(1000), new Float32Array(1000)]
  await t.throwsAsync(new Separator({ model, segmentS: 7.9 }).separate(ok, { sampleRate: 44100 }), { code: 'ERR_INVALID_PARAMETER', message: /segment.*7\.80 s/ })
  await t.throwsAsync(separator.separateLong(ok, { sampleRate: 44100, chunkSeconds: 0 }), { code: 'ERR_INVALID_PARAMETER', message: /7\.80 s/ })
})

test.serial('streaming a file equals separateLong bit for bit; callback form, FileSource input, time to first audio', async (t) => {
  const long = await separator.separateLong(asset('music.wav'), { onProgress: () => {} })
  t.is(long.frames, 529200)
  t.is(long.chunks, 3)
  const stream = separator.separateStreaming(asset('music.wav'))
  const chunks = []
  for await (const c of stream) chunks.push(c)
  t.is(chunks.length, 3)
  assertIdentical(t, concatRegions(t, chunks), long.stems, 'path')
  const stats = stream.stats
  t.deepEqual(stats.stemNames, long.stemNames)
  t.is(stats.framesOut, 529200)
  t.false(stats.stopped)
  t.true(stream.workerExited)
  t.true(stats.timeToFirstAudioS > stats.modelLoadS && stats.timeToFirstAudioS < stats.processingTimeS)
  t.is(stream.timeToFirstAudioS, stats.timeToFirstAudioS)
  t.log(`time to first audio ${stats.timeToFirstAudioS.toFixed(2)} s (model load ${stats.modelLoadS.toFixed(2)} s), total ${stats.processingTimeS.toFixed(2)} s for 12.0 s of audio`)

  const viaCallback = []
  const cbStats = await separator.separateStreaming(new FileSource(asset('music.wav')), { onChunk: async (c) => void viaCallback.push(c) })
  assertIdentical(t, concatRegions(t, viaCallback), long.stems, 'FileSource, onChunk')
  t.is(cbStats.regions, 3)
  t.true(cbStats.timeToFirstAudioS > 0)
})

test.serial('streaming blocks of random sizes equals separateLong bit for bit (model rate and 32 kHz)', async (t) => {
  const { channels } = await clip()
  // With the clip's own statistics a block stream reproduces the global normalisation.
  const stats = Separator.normalizationStats(channels)
  t.true(Math.abs(stats.mean - Number(meta['separator.mean'])) < 1e-7)
  const long = await separator.separateLong(channels, { sampleRate: 44100 })
  const chunks = []
  for await (const c of separator.separateStreaming(randomBlocks(channels, 7, 60000), { sampleRate: 44100, normalization: stats })) chunks.push(c)
  assertIdentical(t, concatRegions(t, chunks), long.stems, '44.1 kHz')

  // Another rate: resampled to the model's rate and back, in blocks.
  const fixed = { mean: 0.01, std: 0.2 }
  const long32 = await separator.separateLong(channels, { sampleRate: 32000, normalization: fixed })
  t.is(long32.stems[0][0].length, channels[0].length)
  const chunks32 = []
  const blocks = (async function* () {
    yield* randomBlocks(channels, 99, 20000)
  })()
  for await (const c of separator.separateStreaming(blocks, { sampleRate: 32000, normalization: fixed })) chunks32.push(c)
  assertIdentical(t, concatRegions(t, chunks32), long32.stems, '32 kHz')
})

test.serial('breaking out of for await stops the worker and frees the model', async (t) => {
  const { channels } = await clip()
  // Six copies: nine model calls; the break leaves most of them undone.
  const long = channels.map((c) => {
    const out = new Float32Array(c.length * 6)
    for (let i = 0; i < 6; i++) out.set(c, i * c.length)
    return out
  })
  const stream = separator.separateStreaming(long, { sampleRate: 44100 })
  for await (const c of stream) {
    t.is(c.chunkIdx, 0)
    break
  }
  t.true(stream.workerExited, 'the worker thread has exited once the loop is left')
  const stats = stream.stats
  t.true(stats.stopped)
  t.true(stats.regions <= 3, `${stats.regions} regions`)
  t.is((await stream.next()).done, true)
})

test.serial('aborting separateLong / separateFile rejects with AbortError carrying the partial result (stopped: true) and finalised files', async (t) => {
  const { channels } = await clip()
  // Six copies: nine model calls, so a stop after the first progress lands early.
  const long = channels.map((c) => {
    const out = new Float32Array(c.length * 6)
    for (let i = 0; i < 6; i++) out.set(c, i * c.length)
    return out
  })
  const full = await separator.separateLong(long, { sampleRate: 44100 })
  t.false(full.stopped)
  t.is(full.frames, long[0].length)

  // Aborted at the first progress above 0: the run ends within one model call.
  const dir = tempDir()
  const { stats: r, fractions } = await abortAtFirstProgress(t, (opts) =>
    separator.separateLong(long, { sampleRate: 44100, outDir: dir, encoding: 'float32', ...opts }),
  )
  t.log(`stopped after ${r.frames} of ${long[0].length} frames (${r.chunks} chunks), progress ${fractions.map((f) => f.toFixed(2)).join(' ')}`)
  t.true(r.stopped)
  t.true(r.frames > 0 && r.frames < long[0].length, `${r.frames}`)
  t.not(fractions.at(-1), 1, 'no completion reported for a stopped run')
  t.deepEqual(readdirSync(dir).sort(), r.stemNames.map((n) => `${n}.wav`).sort())
  for (const [s, path] of r.paths.entries()) {
    t.is(wavDataBytes(t, path), r.frames * 2 * 4, `${path}: the frames reported`)
    const file = await readAll(path)
    t.is(file.channels[0].length, r.frames)
    assertIdentical(t, [file.channels], [full.stems[s].map((c) => c.subarray(0, r.frames))], `${r.stemNames[s]}: a prefix of the full run`)
  }

  // A signal aborted before the start rejects at once: nothing loaded or written.
  const mem = await t.throwsAsync(separator.separateLong(channels, { sampleRate: 44100, signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' })
  t.is(mem.stats, undefined)
  const dir2 = join(tempDir(), 'never')
  await t.throwsAsync(separator.separateFile(asset('music.wav'), { outDir: dir2, stems: ['vocals'], signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' })
  t.false(existsSync(dir2))
})

test('errors are typed: shape, NaN, sample rate, segment, missing or broken model, block streams', async (t) => {
  const ok = [new Float32Array(1000), new Float32Array(1000)]
  await t.throwsAsync(separator.separate([new Float32Array(1000), new Float32Array(999)], { sampleRate: 44100 }), { code: 'ERR_SHAPE' })
  await t.throwsAsync(separator.separate(ok), { code: 'ERR_INVALID_PARAMETER' })
  const nan = [new Float32Array(1000), new Float32Array(1000)]
  nan[1][500] = NaN
  await t.throwsAsync(separator.separate(nan, { sampleRate: 44100 }), { code: 'ERR_NON_FINITE_SAMPLE' })
  await t.throwsAsync(separator.separateLong(nan, { sampleRate: 44100 }), { code: 'ERR_NON_FINITE_SAMPLE' })
  await t.throwsAsync(separator.separate([], { sampleRate: 44100 }), { code: 'ERR_EMPTY_AUDIO' })
  await t.throwsAsync(separator.separateLong(ok, { sampleRate: 44100, chunkSeconds: 9 }), { code: 'ERR_INVALID_PARAMETER', message: /7\.80 s/ })
  await t.throwsAsync(separator.separate(asset('no-such.wav')), { code: 'ERR_NOT_FOUND' })
  await t.throwsAsync(new Separator({ model: '/nonexistent/htdemucs.onnx' }).separate(ok, { sampleRate: 44100 }), { code: 'ERR_NOT_FOUND' })
  await t.throwsAsync(new Separator({ model: asset('music.wav') }).separateLong(ok, { sampleRate: 44100 }), { code: 'ERR_MODEL' })
  const drain = async (it) => {
    for await (const _ of it);
  }
  await t.throwsAsync(drain(new Separator({ model: '/nonexistent/htdemucs.onnx' }).separateStreaming(ok, { sampleRate: 44100 })), { code: 'ERR_NOT_FOUND' })
  // Block streams: global statistics are not available, NaN and ragged blocks end the run.
  await t.throwsAsync(drain(separator.separateStreaming([ok], { sampleRate: 44100 })), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(drain(separator.separateStreaming([ok, nan], { sampleRate: 44100, normalization: 'off' })), { code: 'ERR_NON_FINITE_SAMPLE' })
  await t.throwsAsync(drain(separator.separateStreaming([ok, [new Float32Array(3), new Float32Array(2)]], { sampleRate: 44100, normalization: 'off' })), { code: 'ERR_SHAPE' })
  await t.throwsAsync(drain(separator.separateStreaming([ok], { normalization: 'off' })), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => separator.separateStreaming(ok, { sampleRate: 44100, normalization: 'loud' }), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: [new SeparationProcessor(separator), new SeparationProcessor(separator)], sink: new FileSink(join(tempDir(), 'x.wav')) }), { code: 'ERR_INVALID_CHAIN' })
})

test.serial('SeparationProcessor in a pipeline: MultiFileSink and FileSink({ stemIndex }) files decode to what separate() returns', async (t) => {
  const direct = await separator.separate(asset('music.wav'))
  const dir = tempDir()
  const p = new StreamingPipeline({
    source: new FileSource(asset('music.wav')),
    processors: [new SeparationProcessor(separator)],
    sink: new MultiFileSink({ outputDir: dir, stemNames: direct.stemNames, encoding: 'float32' }),
  })
  const progress = []
  p.on('progress', (e) => progress.push(e.fraction))
  const stats = await p.run()
  t.is(stats.framesProcessed, 529200)
  t.is(stats.chunksProcessed, 3)
  t.true(stats.timeToFirstAudioS > 0)
  t.is(progress.at(-1), 1)
  for (const [s, name] of direct.stemNames.entries()) {
    const file = await readAll(join(dir, `${name}.wav`))
    t.is(file.sampleRate, 44100)
    assertIdentical(t, [file.channels], [direct.stems[s]], name)
  }

  // One stem, from a block stream (fixed statistics = the input's, as separate() takes them).
  const { channels } = await readAll(asset('music.wav'))
  const vocals = join(dir, 'only-vocals.wav')
  const q = new StreamingPipeline({
    source: new CallbackSource(randomBlocks(channels, 3, 90000), { sampleRate: 44100 }),
    processors: [new SeparationProcessor(separator, { normalization: Separator.normalizationStats(channels) })],
    sink: new FileSink(vocals, { stemIndex: 3, encoding: 'float32' }),
  })
  await q.run()
  const file = await readAll(vocals)
  assertIdentical(t, [file.channels], [direct.stems[3]], 'vocals via FileSink')
})
