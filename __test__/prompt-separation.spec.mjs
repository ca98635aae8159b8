// Issue 17, "Text-prompted separation": PromptSeparator (SAM-Audio) from
// Node on the committed tiny random-weight export (models/sam-audio-tiny):
// parity with the mlx-audio 0.6.2 reference fixtures
// (crates/ml/tests/fixtures/sam_audio, made by
// scripts/make_sam_audio_fixtures.py) through the JS API, the three entry
// points on real audio (resampled to 48 kHz by the API), seeds and noise,
// streaming vs long, files, abort, and bad input with its codes.
import test from 'ava'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, tempDir, readAll, maxAbsDiff, writeWav } from './helpers.mjs'

const { PromptSeparator, FileSource } = lib
const modelDir = join(root, 'models/sam-audio-tiny')
const fixtures = join(root, 'crates/ml/tests/fixtures/sam_audio')
const cases = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8'))
// One inference thread: the specs share two cores.
const separator = new PromptSeparator({ modelDir, threads: 1 })

/** A raw little-endian float32 fixture file. */
function f32(name) {
  const b = readFileSync(join(fixtures, name))
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

/** SI-SDR in dB (Le Roux et al. 2019): 10 log10(|a r|^2 / |a r - e|^2), a = <e, r> / <r, r>, in float64. */
function siSdrDb(estimate, reference) {
  let er = 0
  let rr = 0
  for (let i = 0; i < reference.length; i++) {
    er += estimate[i] * reference[i]
    rr += reference[i] * reference[i]
  }
  const a = er / rr
  let s = 0
  let n = 0
  for (let i = 0; i < reference.length; i++) {
    const t = a * reference[i]
    s += t * t
    n += (t - estimate[i]) ** 2
  }
  return n === 0 ? Infinity : 10 * Math.log10(s / n)
}

function caseNamed(name) {
  const c = cases.cases.find((x) => x.name === name)
  if (!c) throw new Error(`no fixture case ${name}`)
  return c
}

/** The case's inputs as planar mono arrays at 48 kHz. */
function caseInputs(c) {
  return c.inputs.map((i) => [f32(i.file).slice(i.offset, i.offset + i.frames)])
}

const bytesEqual = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

/** Asserts parity (SI-SDR >= 60 dB) of target and residual with the reference. */
function assertParity(t, label, got, expected) {
  t.is(got.target.length, expected.target.length, `${label}: target length`)
  t.is(got.residual.length, expected.residual.length, `${label}: residual length`)
  const st = siSdrDb(got.target, expected.target)
  const sr = siSdrDb(got.residual, expected.residual)
  t.log(`${label}: SI-SDR target ${st.toFixed(1)} dB, residual ${sr.toFixed(1)} dB`)
  t.true(st >= 60, `${label}: target SI-SDR ${st} dB`)
  t.true(sr >= 60, `${label}: residual SI-SDR ${sr} dB`)
}

const expectedOf = (c, i = 0) => ({ target: f32(c.expected[i].target), residual: f32(c.expected[i].residual) })

test('modelInfo after load(): the manifest of the tiny export; sampleRate 48000', async (t) => {
  const s = new PromptSeparator({ modelDir, threads: 1 })
  t.is(s.modelInfo, null)
  t.is(s.sampleRate, 48000)
  const info = await s.load()
  t.deepEqual(info, { name: 'sam-audio-tiny', sampleRate: 48000, hopLength: 240, codebookDim: 8, maxFrames: 10000 })
  t.deepEqual(s.modelInfo, info)
})

for (const name of ['short_midpoint', 'short_euler', 'short_anchors', 'decode_chunked']) {
  test(`parity: separate() on fixture case ${name} matches mlx-audio (SI-SDR >= 60 dB)`, async (t) => {
    const c = caseNamed(name)
    const [input] = caseInputs(c)
    const r = await separator.separate(input, {
      sampleRate: 48000,
      description: c.descriptions[0],
      anchors: c.anchors?.[0],
      ode: c.ode,
      decodeChunkSize: c.decodeChunkSize ?? undefined,
      noise: f32(c.noise.file),
    })
    assertParity(t, name, r, expectedOf(c))
    t.deepEqual(r.noiseShape, c.noise.shape)
    t.is(r.seed, null)
    t.is(r.sampleRate, 48000)
  })
}

for (const name of ['batch', 'batch_anchors']) {
  test(`parity: separateBatch() on fixture case ${name} matches mlx-audio per item`, async (t) => {
    const c = caseNamed(name)
    const r = await separator.separateBatch(caseInputs(c), {
      sampleRate: 48000,
      descriptions: c.descriptions,
      anchors: c.anchors ?? undefined,
      ode: c.ode,
      noise: f32(c.noise.file),
    })
    t.is(r.items.length, c.inputs.length)
    r.items.forEach((item, i) => {
      t.is(item.target.length, c.inputs[i].frames)
      assertParity(t, `${name}[${i}]`, item, expectedOf(c, i))
    })
    t.deepEqual(r.noiseShape, c.noise.shape)
  })
}

for (const name of ['long', 'long_single']) {
  test(`parity: separateLong() on fixture case ${name} matches mlx-audio (chunks, crossfade)`, async (t) => {
    const c = caseNamed(name)
    const [input] = caseInputs(c)
    const opts = { sampleRate: 48000, description: c.descriptions[0], ode: c.ode, chunkSeconds: c.chunkSeconds, overlapSeconds: c.overlapSeconds, seed: c.seed }
    const r = await separator.separateLong(input, { ...opts, noise: f32(c.noise.file) })
    assertParity(t, name, r, expectedOf(c))
    t.is(r.target.length, c.inputs[0].frames)
    t.deepEqual(r.noiseShape, c.noise.shape)
  })
}

test('parity: separateStreaming() pieces on the streaming case: indices, isLast, lengths, and their concatenation matches mlx-audio', async (t) => {
  const c = caseNamed('streaming')
  const [input] = caseInputs(c)
  const pieces = []
  for await (const p of separator.separateStreaming(input, {
    sampleRate: 48000,
    description: c.descriptions[0],
    ode: c.ode,
    chunkSeconds: c.chunkSeconds,
    overlapSeconds: c.overlapSeconds,
    seed: c.seed,
    noise: f32(c.noise.file),
  })) {
    pieces.push(p)
  }
  t.deepEqual(
    pieces.map((p) => [p.chunkIdx, p.isLast]),
    c.pieces.map((p) => [p.chunkIdx, p.isLast]),
  )
  // The reference's pieces, resonode's last one trimmed to the input's length.
  const lengths = c.pieces.map((p) => p.frames)
  lengths[lengths.length - 1] -= c.referenceFrames - c.inputs[0].frames
  t.deepEqual(
    pieces.map((p) => p.target.length),
    lengths,
  )
  let next = 0
  for (const p of pieces) {
    t.is(p.startFrame, next)
    t.is(p.residual.length, p.target.length)
    next += p.target.length
  }
  const cat = (k) => {
    const out = new Float32Array(next)
    let o = 0
    for (const p of pieces) {
      out.set(p[k], o)
      o += p[k].length
    }
    return out
  }
  assertParity(t, 'streaming', { target: cat('target'), residual: cat('residual') }, expectedOf(c))
})

// Real audio through the three entry points (speech 16 kHz mono, music 44.1 kHz stereo: resampled and downmixed).
const speechFrames48k = async () => Math.round(((await readAll(asset('speech.wav'))).channels[0].length * 48000) / 16000)
const musicFrames48k = async () => Math.round(((await readAll(asset('music.wav'))).channels[0].length * 48000) / 44100)

test('separate() on assets/speech.wav (a path): mono 48 kHz target and residual as long as the input at 48 kHz; noise [1, T, 16]', async (t) => {
  const r = await separator.separate(asset('speech.wav'), { description: 'a man speaking', ode: { method: 'euler', stepSize: 0.25 }, seed: 1 })
  const frames = await speechFrames48k()
  t.is(r.target.length, frames)
  t.is(r.residual.length, frames)
  t.is(r.sampleRate, 48000)
  t.deepEqual(r.noiseShape, [1, Math.ceil(frames / 240), 16])
  t.is(r.noise.length, r.noiseShape[0] * r.noiseShape[1] * r.noiseShape[2])
  t.is(r.seed, 1)
  t.true(r.peakMemoryBytes > 1e6)
  t.true(r.processingTimeS > 0 && r.realtimeFactor > 0)
  t.true(r.target.every(Number.isFinite) && r.residual.every(Number.isFinite))
  // A random model, but not a silent one.
  t.true(r.target.some((v) => v !== 0))
})

test('separate() of planar stereo at 44.1 kHz equals separate() of the same file (resampled and downmixed alike)', async (t) => {
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  const opts = { description: 'drums', ode: { method: 'euler', stepSize: 0.5 }, seed: 3 }
  const a = await separator.separate(channels.map((c) => c.slice(0, 44100 * 2)), { ...opts, sampleRate })
  t.is(a.target.length, 96000)
  const dir = tempDir()
  const f = join(dir, 'two.wav')
  writeWav(f, channels.map((c) => c.slice(0, 44100 * 2)), sampleRate, { float: true })
  const b = await separator.separate(new FileSource(f), opts)
  t.is(b.target.length, 96000)
  // Same signal, two resampling routes (whole array vs streamed file): far below audibility.
  t.true(siSdrDb(b.target, a.target) > 40, `SI-SDR ${siSdrDb(b.target, a.target)}`)
})

test('seed reproduces bit-exactly; different seeds differ; result.noise passed back reproduces the output', async (t) => {
  const opts = { description: 'speech', ode: { method: 'euler', stepSize: 0.25 } }
  const a = await separator.separate(asset('speech.wav'), { ...opts, seed: 11 })
  const b = await separator.separate(asset('speech.wav'), { ...opts, seed: 11 })
  const c = await separator.separate(asset('speech.wav'), { ...opts, seed: 12 })
  t.true(bytesEqual(a.target, b.target) && bytesEqual(a.residual, b.residual) && bytesEqual(a.noise, b.noise))
  t.false(bytesEqual(a.target, c.target))
  t.false(bytesEqual(a.noise, c.noise))
  // Without a seed one is drawn and returned: it reproduces the run.
  const d = await separator.separate(asset('speech.wav'), opts)
  t.true(Number.isSafeInteger(d.seed) && d.seed >= 0)
  const e = await separator.separate(asset('speech.wav'), { ...opts, seed: d.seed })
  t.true(bytesEqual(d.target, e.target))
  // The noise round trip.
  const n = await separator.separate(asset('speech.wav'), { ...opts, noise: a.noise })
  t.is(n.seed, null)
  t.true(bytesEqual(n.target, a.target) && bytesEqual(n.residual, a.residual))
})

test('separateBatch() on speech and music: one description each, each item as long as its input at 48 kHz', async (t) => {
  const r = await separator.separateBatch([asset('speech.wav'), asset('music.wav')], { descriptions: ['a man speaking', 'drums'], ode: { method: 'euler', stepSize: 0.5 }, seed: 2 })
  t.is(r.items.length, 2)
  t.is(r.items[0].target.length, await speechFrames48k())
  t.is(r.items[1].target.length, await musicFrames48k())
  t.is(r.items[1].residual.length, r.items[1].target.length)
  t.deepEqual(r.noiseShape, [2, Math.ceil((await musicFrames48k()) / 240), 16])
})

const longOpts = { description: 'drums', chunkSeconds: 4, overlapSeconds: 1, ode: { method: 'euler', stepSize: 0.5 }, seed: 9 }

test('separateLong() on assets/music.wav; separateStreaming() pieces concatenate to it bit-exactly; callback mode; seed and noise reproduce', async (t) => {
  const frames = await musicFrames48k()
  const long = await separator.separateLong(asset('music.wav'), longOpts)
  t.is(long.target.length, frames)
  t.is(long.residual.length, frames)
  t.is(long.seed, 9)
  t.is(long.chunks, Math.ceil((12 - 1) / 3))
  t.is(long.noiseShape[0], 1)
  t.is(long.noiseShape[2], 16)
  t.is(long.noise.length, long.noiseShape[1] * 16)

  const pieces = []
  const stream = separator.separateStreaming(asset('music.wav'), longOpts)
  for await (const p of stream) pieces.push(p)
  let next = 0
  pieces.forEach((p, i) => {
    t.is(p.startFrame, next)
    t.is(p.isLast, i === pieces.length - 1)
    // Pieces are numbered as the reference's generator numbers them.
    t.is(p.chunkIdx, i)
    next += p.target.length
  })
  t.is(next, frames)
  // The first chunk, then an overlap and a middle per further chunk.
  t.is(pieces.length, 2 * long.chunks - 1)
  const cat = (k) => {
    const out = new Float32Array(next)
    let o = 0
    for (const p of pieces) {
      out.set(p[k], o)
      o += p[k].length
    }
    return out
  }
  t.true(bytesEqual(cat('target'), long.target), `streaming vs long: max diff ${maxAbsDiff(cat('target'), long.target)}`)
  t.true(bytesEqual(cat('residual'), long.residual))

  // Callback mode.
  const seen = []
  const stats = await separator.separateStreaming(asset('music.wav'), { ...longOpts, onChunk: (p) => void seen.push(p.chunkIdx) })
  t.is(seen.length, pieces.length)
  t.is(stats.totalFrames, frames)
  t.is(stats.chunks, long.chunks)
  t.true(bytesEqual(stats.noise, long.noise))
  t.deepEqual(stats.noiseShape, long.noiseShape)
  t.true(stats.peakMemoryBytes > 0)
  t.false(stats.stopped)
  t.false(long.stopped)

  // The same seed reproduces; another differs; the noise round trip reproduces.
  const again = await separator.separateLong(asset('music.wav'), longOpts)
  t.true(bytesEqual(again.target, long.target))
  const other = await separator.separateLong(asset('music.wav'), { ...longOpts, seed: 10 })
  t.false(bytesEqual(other.target, long.target))
  const fromNoise = await separator.separateLong(asset('music.wav'), { ...longOpts, seed: 10, noise: long.noise })
  t.true(bytesEqual(fromNoise.target, long.target))
})

test('separateLong() with outDir writes target.wav and residual.wav (48 kHz mono float) equal to the arrays, builds no noise; onProgress rises through (0, 1) to 1', async (t) => {
  const dir = join(tempDir(), 'out')
  const progress = []
  // Slow chunks (1.5 s, 20 Euler steps each) so the 200 ms progress timer sees several of them.
  const slow = { ...longOpts, chunkSeconds: 1.5, overlapSeconds: 0.5, ode: { method: 'euler', stepSize: 0.05 } }
  const files = await separator.separateLong(asset('music.wav'), { ...slow, outDir: dir, onProgress: (f) => progress.push(f) })
  t.is(files.target, join(dir, 'target.wav'))
  t.is(files.residual, join(dir, 'residual.wav'))
  t.is(files.frames, await musicFrames48k())
  t.false(files.stopped)
  // Memory bounded by the chunk: the noise (as large as the input's latents) is not built; its shape still is.
  t.is(files.noise, null)
  t.is(files.noiseShape[0], 1)
  t.true(files.noiseShape[1] > 0)
  t.is(progress.at(-1), 1)
  const inner = [...new Set(progress.filter((f) => f > 0 && f < 1))]
  t.true(inner.length >= 2, `progress ${progress.join(' ')}`)
  t.true(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1])), `progress ${progress.join(' ')}`)
  const arrays = await separator.separateLong(asset('music.wav'), slow)
  for (const k of ['target', 'residual']) {
    const w = await readAll(files[k])
    t.is(w.sampleRate, 48000)
    t.is(w.channels.length, 1)
    t.is(w.channels[0].length, files.frames)
    t.true(bytesEqual(w.channels[0], arrays[k]), k)
  }
})

test('streaming: after the first next() exactly one model chunk has run, then two; stats() answers while a chunk runs', async (t) => {
  const stream = separator.separateStreaming(asset('music.wav'), longOpts)
  t.is(stream.stats(), null)
  const first = await stream.next()
  t.false(first.done)
  t.is(first.value.chunkIdx, 0)
  t.is(stream.stats().chunks, 1)
  t.is(stream.stats().totalFrames, first.value.target.length)
  const second = await stream.next()
  t.is(second.value.chunkIdx, 1)
  t.is(stream.stats().chunks, 2)
  // The next piece (chunk 1's middle) needs no model call.
  await stream.next()
  t.is(stream.stats().chunks, 2)
  await stream.close()

  // A slow chunk (200 Euler steps): stats() returns at once meanwhile, from the snapshot.
  const slow = separator.separateStreaming(asset('music.wav'), { ...longOpts, ode: { method: 'euler', stepSize: 0.005 } })
  await slow.next()
  const running = slow.next()
  const t0 = performance.now()
  const s = slow.stats()
  const waited = performance.now() - t0
  const t1 = performance.now()
  await running
  const chunk = performance.now() - t1
  t.is(s.chunks, 1)
  t.true(chunk > 100, `a slow chunk took ${chunk} ms`)
  t.true(waited < chunk / 4, `stats() took ${waited} ms while a ${chunk} ms chunk ran`)
  await slow.close()
})

test('streaming: break out of for await closes the stream (job freed, final stats with stopped), later next() is done', async (t) => {
  const stream = separator.separateStreaming(asset('music.wav'), longOpts)
  t.false(stream.closed)
  let n = 0
  for await (const p of stream) {
    n += p.target.length
    break
  }
  t.true(stream.closed)
  const s = stream.stats()
  t.true(s.stopped)
  t.is(s.chunks, 1)
  t.is(s.totalFrames, n)
  // The noise of the chunk run, built at the end (seed 9: chunk 0's noise).
  t.is(s.noise.length, s.noiseShape[1] * 16)
  t.true(s.noiseShape[1] > 0)
  t.deepEqual(await stream.next(), { done: true, value: undefined })
  const again = await stream.close()
  t.is(again.chunks, 1)
  t.true(again.stopped)
  // Final: time no longer runs.
  t.is(again.processingTimeS, s.processingTimeS)
})

test('streaming: next() calls made at once are served in order', async (t) => {
  const stream = separator.separateStreaming(asset('music.wav'), longOpts)
  const all = await Promise.all([stream.next(), stream.next(), stream.next(), stream.next(), stream.next(), stream.next()])
  t.deepEqual(
    all.map((r) => r.value?.chunkIdx),
    [0, 1, 2, 3, 4, 5].map((i) => (i < 2 * 4 - 1 ? i : undefined)),
  )
  let next = 0
  for (const r of all) {
    t.is(r.value.startFrame, next)
    next += r.value.target.length
  }
  await stream.close()
})

test('options are checked before any input is read: a bad option wins over a missing file', async (t) => {
  const missing = '/nonexistent/in.wav'
  const e = await t.throwsAsync(separator.separate(missing, { description: 'x', ode: { stepSize: 2 } }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /ode\.stepSize/)
  await t.throwsAsync(separator.separate(missing, { description: ' ' }), { code: 'ERR_INVALID_PARAMETER', message: /description/ })
  await t.throwsAsync(separator.separate(missing, { description: 'x', anchors: [['*', 0, 1]] }), { code: 'ERR_INVALID_PARAMETER' })
  await t.throwsAsync(separator.separateLong(missing, { description: 'x', chunkSeconds: 4, overlapSeconds: 3 }), { code: 'ERR_INVALID_PARAMETER', message: /overlapSeconds/ })
  await t.throwsAsync(separator.separateStreaming(missing, { description: 'x', chunkSeconds: -1 }).next(), { code: 'ERR_INVALID_PARAMETER', message: /chunkSeconds/ })
  await t.throwsAsync(separator.separateStreaming(missing, { description: '' }).next(), { code: 'ERR_INVALID_PARAMETER', message: /description/ })
  // Valid options: the file's error, from the first next().
  const stream = separator.separateStreaming(missing, { description: 'x' })
  await t.throwsAsync(stream.next(), { code: 'ERR_NOT_FOUND' })
  t.deepEqual(await stream.next(), { done: true, value: undefined })
})

test('numeric options are checked in JS and named: sampleRate, decodeChunkSize, seed, chunkSeconds, overlapSeconds', async (t) => {
  const x = [new Float32Array(4800)]
  const o = { sampleRate: 48000, description: 'x', ode: { method: 'euler', stepSize: 0.5 } }
  const cases = [
    ['sampleRate', [0, -48000, 44100.5, '48000', NaN, 2 ** 32]],
    ['decodeChunkSize', [7, 0, 8.5, '16', Infinity]],
    ['seed', [2 ** 53, -1, 0.5, '1', NaN]],
    ['chunkSeconds', [NaN, Infinity, '4']],
    ['overlapSeconds', [NaN, -Infinity, '1']],
  ]
  for (const [name, values] of cases) {
    for (const v of values) {
      const opts = { ...o, [name]: v }
      const calls = name.endsWith('Seconds')
        ? [() => separator.separateLong(x, opts), () => separator.separateStreaming(x, opts)]
        : [() => separator.separate(x, opts), () => separator.separateLong(x, opts), () => separator.separateStreaming(x, opts)]
      for (const call of calls) {
        const e = await t.throwsAsync(async () => call(), { code: 'ERR_INVALID_PARAMETER' }, `${name} = ${String(v)}`)
        t.regex(e?.message ?? '', new RegExp(`\`${name}\``), `${name} = ${String(v)}`)
      }
    }
  }
  const e = await t.throwsAsync(separator.separate(x, { ...o, ode: { stepSize: '0.5' } }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /`ode\.stepSize`/)
})

test('a FileSource with options is refused, naming the option; without options it is read as its path', async (t) => {
  const o = { description: 'x', ode: { method: 'euler', stepSize: 0.5 }, seed: 1 }
  for (const [opts, name] of [[{ sampleRate: 48000 }, 'sampleRate'], [{ mono: true }, 'mono'], [{ channels: [0] }, 'channels']]) {
    const f = new FileSource(asset('speech.wav'), opts)
    for (const call of [() => separator.separate(f, o), () => separator.separateLong(f, o), () => separator.separateStreaming(f, o)]) {
      const e = await t.throwsAsync(async () => call(), { code: 'ERR_INVALID_PARAMETER' }, name)
      t.regex(e?.message ?? '', new RegExp(`\`${name}\``))
    }
  }
  const a = await separator.separate(new FileSource(asset('speech.wav')), o)
  const b = await separator.separate(asset('speech.wav'), o)
  t.true(bytesEqual(a.target, b.target))
})

test('abort: an aborted signal rejects at once; aborting separateLong mid-run and a stream mid-iteration ends with ERR_ABORTED', async (t) => {
  const ac = new AbortController()
  ac.abort()
  await t.throwsAsync(separator.separate(asset('speech.wav'), { description: 'x', signal: ac.signal }), { name: 'AbortError', code: 'ERR_ABORTED' })
  await t.throwsAsync(separator.separateLong(asset('speech.wav'), { description: 'x', signal: ac.signal }), { code: 'ERR_ABORTED' })
  await t.throwsAsync(separator.separateStreaming(asset('speech.wav'), { description: 'x', signal: ac.signal }).next(), { code: 'ERR_ABORTED' })

  // Mid-run: separateLong into files, aborted at the first progress report; the files are finalised.
  const dir = join(tempDir(), 'aborted')
  const long = new AbortController()
  const err = await t.throwsAsync(
    separator.separateLong(asset('music.wav'), { ...longOpts, chunkSeconds: 2, overlapSeconds: 0.5, outDir: dir, signal: long.signal, onProgress: (f) => f > 0 && long.abort() }),
    { name: 'AbortError', code: 'ERR_ABORTED' },
  )
  t.true(err.stats.frames < (await musicFrames48k()))
  t.true(err.stats.stopped)
  t.is((await readAll(join(dir, 'target.wav'))).channels[0].length, err.stats.frames)

  // Mid-iteration.
  const sc = new AbortController()
  const got = []
  await t.throwsAsync(
    (async () => {
      for await (const p of separator.separateStreaming(asset('music.wav'), { ...longOpts, signal: sc.signal })) {
        got.push(p)
        sc.abort()
      }
    })(),
    { code: 'ERR_ABORTED' },
  )
  t.is(got.length, 1)

  // separate() aborted while running.
  const sa = new AbortController()
  const p = separator.separate(asset('music.wav'), { description: 'x', ode: { method: 'midpoint', stepSize: 0.01 }, signal: sa.signal })
  setTimeout(() => sa.abort(), 50)
  await t.throwsAsync(p, { code: 'ERR_ABORTED' })
})

test('bad model folders: missing ERR_NOT_FOUND, incomplete ERR_MODEL, damaged manifest ERR_MODEL, graph swapped ERR_MODEL_MISMATCH', async (t) => {
  const load = (dir) => new PromptSeparator({ modelDir: dir, threads: 1 }).separate([new Float32Array(4800)], { sampleRate: 48000, description: 'x' })
  await t.throwsAsync(load('/nonexistent/sam-audio-x'), { code: 'ERR_NOT_FOUND' })
  const base = tempDir()
  const copy = (name, edit) => {
    const d = join(base, name)
    cpSync(modelDir, d, { recursive: true })
    edit(d)
    return d
  }
  await t.throwsAsync(load(copy('sam-audio-incomplete', (d) => rmSync(join(d, 'dit.onnx')))), { code: 'ERR_MODEL', message: /incomplete.*dit\.onnx/ })
  await t.throwsAsync(load(copy('sam-audio-manifest', (d) => writeFileSync(join(d, 'manifest.json'), '{ not json'))), { code: 'ERR_MODEL' })
  await t.throwsAsync(
    load(copy('sam-audio-swapped', (d) => cpSync(join(d, 'codec_decoder.onnx'), join(d, 'dit.onnx')))),
    { code: 'ERR_MODEL_MISMATCH' },
  )
  // A failed load is retried by the next call (and still fails the same way).
  const s = new PromptSeparator({ modelDir: '/nonexistent/sam-audio-y' })
  await t.throwsAsync(s.load(), { code: 'ERR_NOT_FOUND' })
  await t.throwsAsync(s.load(), { code: 'ERR_NOT_FOUND' })
  t.throws(() => new PromptSeparator({}), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new PromptSeparator({ modelDir, model: 'x' }), { code: 'ERR_INVALID_PARAMETER' })
})

test('bad input: each with its code, and the separator still works afterwards', async (t) => {
  const x = [new Float32Array(48000).map((_, i) => Math.sin(i / 20) * 0.3)] // 1 s at 48 kHz
  const o = { sampleRate: 48000, description: 'speech', ode: { method: 'euler', stepSize: 0.5 } }
  const bad = async (what, p, code) => {
    const e = await t.throwsAsync(p, { code }, what)
    t.log(`${what}: ${e?.code} ${e?.message}`)
  }
  await bad('empty description', separator.separate(x, { ...o, description: '' }), 'ERR_INVALID_PARAMETER')
  await bad('description not a string', separator.separate(x, { ...o, description: 3 }), 'ERR_INVALID_PARAMETER')
  await bad('anchor past the end', separator.separate(x, { ...o, anchors: [['+', 0.5, 1.5]] }), 'ERR_INVALID_PARAMETER')
  await bad('anchor before the start', separator.separate(x, { ...o, anchors: [['+', -0.5, 0.5]] }), 'ERR_INVALID_PARAMETER')
  await bad('anchor start >= end', separator.separate(x, { ...o, anchors: [['+', 0.5, 0.5]] }), 'ERR_INVALID_PARAMETER')
  await bad('contradictory anchors', separator.separate(x, { ...o, anchors: [['+', 0.1, 0.5], ['-', 0.4, 0.8]] }), 'ERR_INVALID_PARAMETER')
  await bad('anchor kind', separator.separate(x, { ...o, anchors: [['*', 0.1, 0.5]] }), 'ERR_INVALID_PARAMETER')
  for (const stepSize of [0, 1, NaN, -0.1, 2]) {
    await bad(`stepSize ${stepSize}`, separator.separate(x, { ...o, ode: { stepSize } }), 'ERR_INVALID_PARAMETER')
    await bad(`stepSize ${stepSize} (long)`, separator.separateLong(x, { ...o, ode: { stepSize } }), 'ERR_INVALID_PARAMETER')
  }
  await bad('unknown method', separator.separate(x, { ...o, ode: { method: 'rk4' } }), 'ERR_INVALID_PARAMETER')
  const nan = [x[0].slice()]
  nan[0][1234] = NaN
  await bad('NaN audio', separator.separate(nan, o), 'ERR_NON_FINITE_SAMPLE')
  await bad('NaN audio (long)', separator.separateLong(nan, o), 'ERR_NON_FINITE_SAMPLE')
  await bad('NaN audio (streaming)', separator.separateStreaming(nan, o).next(), 'ERR_NON_FINITE_SAMPLE')
  await bad('empty audio', separator.separate([new Float32Array(0)], o), 'ERR_EMPTY_AUDIO')
  await bad('no sampleRate', separator.separate(x, { description: 'x' }), 'ERR_INVALID_PARAMETER')
  await bad('anchors in separateLong', separator.separateLong(x, { ...o, anchors: [['+', 0.1, 0.2]] }), 'ERR_INVALID_PARAMETER')
  const e = t.throws(() => separator.separateStreaming(x, { ...o, anchors: [['+', 0.1, 0.2]] }), { code: 'ERR_INVALID_PARAMETER' })
  t.regex(e.message, /not supported by the chunked methods/)
  await bad('anchors in callback mode', separator.separateStreaming(x, { ...o, anchors: [], onChunk: () => {} }), 'ERR_INVALID_PARAMETER')
  await bad('wrong noise length', separator.separate(x, { ...o, noise: new Float32Array(17) }), 'ERR_SHAPE')
  await bad('wrong noise length (long)', separator.separateLong(x, { ...o, noise: new Float32Array(17) }), 'ERR_SHAPE')
  await bad('seed not whole', separator.separate(x, { ...o, seed: 1.5 }), 'ERR_INVALID_PARAMETER')
  await bad('seed negative', separator.separate(x, { ...o, seed: -1 }), 'ERR_INVALID_PARAMETER')
  await bad('unknown option', separator.separate(x, { ...o, steps: 3 }), 'ERR_INVALID_PARAMETER')
  await bad('batch descriptions count', separator.separateBatch([x, x], { sampleRate: 48000, descriptions: ['a'] }), 'ERR_INVALID_PARAMETER')
  await bad('missing file', separator.separate('/nonexistent/in.wav', { description: 'x' }), 'ERR_NOT_FOUND')
  // Still usable.
  const r = await separator.separate(x, o)
  t.is(r.target.length, 48000)
})
