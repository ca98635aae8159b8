// Issue 13, "HTDemucs as the reference tool has it": an htdemucs_ft-like bag
// (four tiny random HTDemucs with htdemucs_ft's one-hot per-source weights,
// exported by scripts/export_htdemucs.py --tiny-bag exactly as --name
// htdemucs_ft is) through the JS Separator, against PyTorch's
// apply_model(BagOfModels, mix, shifts=0, split=True, overlap=0.25) with
// demucs' Separator normalisation on 4.6 s of real music
// (crates/ml/tests/fixtures/htdemucs_ft_tiny, see its README.md).
import test from 'ava'
import { join } from 'node:path'
import { lib, root, htdemucsFixture } from './helpers.mjs'

const { Separator } = lib
const fixtures = join(root, 'crates/ml/tests/fixtures/htdemucs_ft_tiny')
const { meta, sources, clip, assertParity: parity } = htdemucsFixture(fixtures)
/** Every stem vs the PyTorch reference `ref_<name>.wav`. */
const assertParity = (t, stems, label) => parity(t, stems, 'ref_', label)

test.serial('the htdemucs_ft-like bag matches PyTorch apply_model on the bag (separate and separateLong)', async (t) => {
  const channels = await clip()
  // `name.onnx` does not exist: name.0.onnx ... name.3.onnx load as one bag.
  const separator = new Separator({ model: join(fixtures, 'htdemucs_ft_tiny.onnx'), threads: 1 })
  const r = await separator.separate(channels, { sampleRate: 44100 })
  t.deepEqual(r.stemNames, sources)
  t.is(r.frames, Number(meta['clip.frames']))
  await assertParity(t, r.stems, 'separate')
  const long = await separator.separateLong(channels, { sampleRate: 44100 })
  t.is(long.chunks, 1)
  await assertParity(t, long.stems, 'separateLong')
})

test.serial('naming any member file loads the whole bag', async (t) => {
  const channels = await clip()
  // Member 2 named directly: its metadata names the bag, so all four load.
  const viaMember = await new Separator({ model: join(fixtures, 'htdemucs_ft_tiny.2.onnx'), threads: 1 }).separate(channels, { sampleRate: 44100 })
  await assertParity(t, viaMember.stems, 'via .2.onnx')
})
