// `resonode info` and `resonode process` on M4A (AAC, ALAC), AIFF/AIFF-C,
// CAF (PCM, ALAC), RF64 and Ogg Opus files made with ffmpeg from
// __test__/formats/source.wav (scripts/make-format-fixtures.sh). Lossless
// outputs must equal the source sample for sample; AAC and Opus must
// correlate with it at the codec's delay. sox converts for the comparison.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root, cli, tempDir } from './helpers.mjs'

const dir = join(root, '__test__', 'formats')
const out = tempDir()
const runCli = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60000 })

/** Planar int16 of a 16-bit WAV, read by sox (not resonode): sox -> raw s16le. */
function soxPcm(path, channels) {
  const r = spawnSync('sox', [path, '-t', 'raw', '-e', 'signed', '-b', '16', '-L', '-'], { maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`sox: ${r.stderr}`)
  const b = r.stdout
  const frames = b.length / 2 / channels
  return Array.from({ length: channels }, (_, c) => Int16Array.from({ length: frames }, (_, i) => b.readInt16LE((i * channels + c) * 2)))
}

function correlation(a, b, lag) {
  let ab = 0
  let aa = 0
  let bb = 0
  const n = Math.min(a.length, b.length - lag)
  for (let i = 0; i < n; i++) {
    ab += a[i] * b[i + lag]
    aa += a[i] * a[i]
    bb += b[i + lag] * b[i + lag]
  }
  return ab / Math.sqrt(aa * bb)
}

const source = soxPcm(join(dir, 'source.wav'), 2)

const lossless = [
  ['alac.m4a', 'mp4', 'alac'],
  ['aiff.aiff', 'aiff', 'pcm_s16be'],
  ['aifc.aifc', 'aiff', 'pcm_s16le'],
  ['pcm.caf', 'caf', 'pcm_s16le'],
  ['alac.caf', 'caf', 'alac'],
  ['rf64.wav', 'rf64', 'pcm_s16le'],
]

for (const [name, format, codec] of lossless) {
  test(`formats: ${name} decodes bit-exact to the WAV it was made from`, (t) => {
    const info = runCli('info', '--json', join(dir, name))
    t.is(info.status, 0, info.stderr)
    const i = JSON.parse(info.stdout)
    t.like(i, { format, codec, sampleRate: 16000, channels: 2, frames: 16000 })
    const o = join(out, `${name}.wav`)
    const p = runCli('process', join(dir, name), o, '--encoding', 'int16')
    t.is(p.status, 0, p.stderr)
    const got = soxPcm(o, 2)
    for (let c = 0; c < 2; c++) t.deepEqual(got[c], source[c], `channel ${c}`)
  })
}

test('formats: AAC in M4A matches the source after its 1024 frames of priming', (t) => {
  const info = runCli('info', '--json', join(dir, 'aac.m4a'))
  t.is(info.status, 0, info.stderr)
  t.like(JSON.parse(info.stdout), { format: 'mp4', codec: 'aac', sampleRate: 16000, channels: 2, frames: 17024 })
  const o = join(out, 'aac.wav')
  const p = runCli('process', join(dir, 'aac.m4a'), o, '--encoding', 'int16')
  t.is(p.status, 0, p.stderr)
  const got = soxPcm(o, 2)
  t.is(got[0].length, 17024)
  for (let c = 0; c < 2; c++) t.true(correlation(source[c], got[c], 1024) > 0.98, `channel ${c}`)
})

test('formats: Ogg Opus decodes at 48 kHz and matches the source', (t) => {
  const info = runCli('info', '--json', join(dir, 'opus.opus'))
  t.is(info.status, 0, info.stderr)
  t.like(JSON.parse(info.stdout), { format: 'ogg', codec: 'opus', sampleRate: 48000, channels: 2, frames: 48312, warnings: [] })
  // Back to 16 kHz through the pipeline's resampler, then compared.
  const o = join(out, 'opus16k.wav')
  const p = runCli('process', join(dir, 'opus.opus'), o, '--sample-rate', '16000', '--encoding', 'int16')
  t.is(p.status, 0, p.stderr)
  const got = soxPcm(o, 2)
  t.is(got[0].length, 16104)
  for (let c = 0; c < 2; c++) {
    let best = 0
    for (let lag = 0; lag < 160; lag++) best = Math.max(best, correlation(source[c], got[c], lag))
    t.true(best > 0.95, `channel ${c}: ${best}`)
  }
})

test('formats: the fixtures are small', (t) => {
  let total = 0
  for (const f of ['source.wav', 'aac.m4a', 'opus.opus', ...lossless.map((l) => l[0])]) total += readFileSync(join(dir, f)).length
  t.true(total < 500 * 1024, `${total}`)
})
