// Issue 14, "HTDemucs memory": `lowMemory` gives ONNX Runtime's activations
// back after every model call (arena and memory pattern off, heap trimmed).
// It must not change a single sample: the stems of separate(), separateLong()
// and separateFile() with it are bit-identical to the default's, which the
// parity specs tie to PyTorch. (What it saves is measured in bench/ml.mjs,
// never asserted here.)
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { lib, root, asset, tempDir, readAll, maxAbsDiff } from './helpers.mjs'

const { Separator } = lib
const model = join(root, 'crates/ml/tests/fixtures/htdemucs/htdemucs_tiny.onnx')
// One inference thread: the specs share two cores.
const plain = new Separator({ model, threads: 1 })
const low = new Separator({ model, threads: 1, lowMemory: true })

/** Two segments and a partial third of real music. */
async function music() {
  const { channels, sampleRate } = await readAll(asset('music.wav'))
  return { channels: channels.map((c) => c.slice(44100, 44100 + 700000)), sampleRate }
}

function assertIdentical(t, a, b, label) {
  t.is(a.length, b.length, `${label}: stems`)
  a.forEach((stem, s) =>
    stem.forEach((ch, c) => {
      t.is(ch.length, b[s][c].length, `${label}: stem ${s} channel ${c} length`)
      t.true(
        Buffer.from(ch.buffer, ch.byteOffset, ch.byteLength).equals(Buffer.from(b[s][c].buffer, b[s][c].byteOffset, b[s][c].byteLength)),
        `${label}: stem ${s} channel ${c} differs (max ${maxAbsDiff(ch, b[s][c])})`,
      )
    }),
  )
}

test('lowMemory: separate() and separateLong() stems are bit-identical to the default', async (t) => {
  const { channels, sampleRate } = await music()
  const a = await plain.separate(channels, { sampleRate })
  const b = await low.separate(channels, { sampleRate })
  t.true(a.stems[0][0].some((v) => v !== 0), 'the stems are not silent')
  assertIdentical(t, b.stems, a.stems, 'separate')
  const la = await plain.separateLong(channels, { sampleRate })
  const lb = await low.separateLong(channels, { sampleRate })
  t.is(lb.chunks, la.chunks)
  assertIdentical(t, lb.stems, la.stems, 'separateLong')
})

test('lowMemory: separateFile() writes the same bytes as the default', async (t) => {
  const [da, db] = [tempDir(), tempDir()]
  const ra = await plain.separateFile(asset('music.wav'), { outDir: da, stems: ['vocals', 'drums'] })
  const rb = await low.separateFile(asset('music.wav'), { outDir: db, stems: ['vocals', 'drums'] })
  t.deepEqual(rb.stemNames, ['vocals', 'drums'])
  t.is(rb.framesProcessed, ra.framesProcessed)
  for (const s of ['vocals', 'drums']) {
    t.true(readFileSync(join(db, `${s}.wav`)).equals(readFileSync(join(da, `${s}.wav`))), `${s}.wav differs`)
  }
})

test('lowMemory is refused when it is not a boolean, and is an accepted Separator key', async (t) => {
  const err = t.throws(() => new Separator({ model, lowmemory: true }))
  t.is(err.code, 'ERR_INVALID_PARAMETER')
  t.regex(err.message, /lowMemory/)
  await t.throwsAsync(new Separator({ model, threads: 1, lowMemory: 'yes' }).separate([new Float32Array(1000), new Float32Array(1000)], { sampleRate: 44100 }))
})
