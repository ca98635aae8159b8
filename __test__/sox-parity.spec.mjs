// resonode against sox on a real recording, for effects whose algorithms
// are the same: sox's 2-pole highpass/lowpass are RBJ biquads with
// Q = 1/sqrt(2), i.e. 2nd-order Butterworth filters, and `gain` is a plain
// scale. CI installs sox (.ci/run); without it these tests fail.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { lib, asset, tempDir, cli, readAll, maxAbsDiff, rms } from './helpers.mjs'

function compare(t, soxEffects, chain) {
  const dir = tempDir()
  const ours = join(dir, 'ours.wav')
  const theirs = join(dir, 'sox.wav')
  execFileSync('sox', [asset('music.wav'), '-e', 'floating-point', '-b', '32', theirs, ...soxEffects])
  execFileSync(process.execPath, [cli, 'process', asset('music.wav'), ours, '--chain', chain, '--encoding', 'float32'])
  return Promise.all([readAll(ours), readAll(theirs)]).then(([a, b]) => {
    t.is(a.channels[0].length, b.channels[0].length)
    for (let c = 0; c < 2; c++) {
      const d = maxAbsDiff(a.channels[c], b.channels[c])
      t.true(d < 1e-5, `channel ${c}: max abs diff ${d}`)
      t.true(rms(a.channels[c]) > 0.01)
    }
  })
}

test('highpass(80) lowpass(8000) gain(-3db) equals sox highpass 80 lowpass 8000 gain -3', (t) =>
  compare(t, ['highpass', '80', 'lowpass', '8000', 'gain', '-3'], 'highpass(80) lowpass(8000) gain(-3db)'))

test('lowpass(1000) equals sox lowpass 1000', (t) => compare(t, ['lowpass', '1000'], 'lowpass(1000)'))

test('highpass(500, order=2) gain(-6db) equals sox highpass 500 gain -6', (t) => compare(t, ['highpass', '500', 'gain', '-6'], 'highpass(500, order=2) gain(-6db)'))

// The processor classes' units (issue 13): a bare Gain number is a linear
// factor (sox `vol 0.5`), a bare Normalize number a linear peak target
// (sox `gain -n <dBFS>` with the same target in dB).
async function compareApi(t, soxEffects, processors) {
  const dir = tempDir()
  const ours = join(dir, 'ours.wav')
  const theirs = join(dir, 'sox.wav')
  execFileSync('sox', [asset('music.wav'), '-e', 'floating-point', '-b', '32', theirs, ...soxEffects])
  await new lib.StreamingPipeline({ source: new lib.FileSource(asset('music.wav')), processors, sink: new lib.FileSink(ours, { encoding: 'float32' }) }).run()
  const [a, b] = await Promise.all([readAll(ours), readAll(theirs)])
  t.is(a.channels[0].length, b.channels[0].length)
  for (let c = 0; c < 2; c++) {
    const d = maxAbsDiff(a.channels[c], b.channels[c])
    t.true(d < 1e-6, `channel ${c}: max abs diff ${d}`)
    t.true(rms(a.channels[c]) > 0.01)
  }
}

test('new Gain(0.5) equals sox vol 0.5 (a linear factor)', (t) => compareApi(t, ['vol', '0.5'], [new lib.Gain(0.5)]))

test('new Normalize(0.95) equals sox gain -n 20log10(0.95)', (t) =>
  compareApi(t, ['gain', '-n', String(20 * Math.log10(0.95))], [new lib.Normalize(0.95)]))
