import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { lib, root, asset, tempDir, cli, readAll, maxAbsDiff } from './helpers.mjs'

const run = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
const fixture = (name) => join(root, 'crates/io/tests/fixtures', name)

test('process --json prints the documented fields', (t) => {
  const out = join(tempDir(), 'o.wav')
  const r = run('process', asset('music.wav'), out, '--chain', 'highpass(80) lowpass(8000, order=4) gain(-3db) reverb(room=0.3) normalize(-1db)', '--json')
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.deepEqual(Object.keys(j).sort(), ['channels', 'chunksProcessed', 'framesProcessed', 'output', 'processingTimeS', 'realtimeFactor', 'sampleRate', 'warnings'])
  t.deepEqual(j.warnings, [])
  t.is(j.sampleRate, 44100)
  t.is(j.channels, 2)
  t.is(j.output, resolve(out))
  t.is(j.framesProcessed, new lib.FileSource(asset('music.wav')).info().frames)
  t.true(j.realtimeFactor > 1)
})

test('process --sample-rate and --chunk-size', (t) => {
  const out = join(tempDir(), 'o.wav')
  const r = run('process', asset('speech.wav'), out, '--sample-rate', '48000', '--chunk-size', '1000', '--json')
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  const inFrames = new lib.FileSource(asset('speech.wav')).info().frames
  t.is(j.sampleRate, 48000)
  t.is(j.framesProcessed, Math.round((inFrames * 48000) / 16000))
  t.is(j.chunksProcessed, Math.ceil(j.framesProcessed / 1000))
})

for (const f of ['ref_s16.wav', 'flac16.flac', 'mp3_128k.mp3', 'vorbis_q5.ogg']) {
  test(`process reads ${f}`, async (t) => {
    const out = join(tempDir(), 'o.wav')
    const r = run('process', fixture(f), out, '--chain', 'lowpass(5000)', '--json')
    t.is(r.status, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    t.true(j.framesProcessed > 10000)
    const { channels } = await readAll(out)
    t.is(channels[0].length, j.framesProcessed)
  })
}

test('process writes FLAC that decodes back to the same samples', async (t) => {
  const dir = tempDir()
  const wav = join(dir, 'o.wav')
  const flac = join(dir, 'o.flac')
  t.is(run('process', fixture('ref_s16.wav'), wav, '--encoding', 'int16').status, 0)
  const r = run('process', fixture('ref_s16.wav'), flac, '--encoding', 'int16', '--json')
  t.is(r.status, 0, r.stderr)
  const [a, b] = [await readAll(wav), await readAll(flac)]
  t.is(maxAbsDiff(a.channels[0], b.channels[0]), 0)
})

test('info --json prints the documented fields', (t) => {
  const r = run('info', asset('music.wav'), '--json')
  t.is(r.status, 0, r.stderr)
  const j = JSON.parse(r.stdout)
  t.deepEqual(Object.keys(j).sort(), ['channels', 'codec', 'declaredFrames', 'durationS', 'format', 'frames', 'peakDbfs', 'rmsDbfs', 'sampleRate', 'warnings'])
  t.deepEqual(j.warnings, [])
  t.is(j.declaredFrames, j.frames)
  t.is(j.format, 'wav')
  t.is(j.codec, 'pcm_s16le')
  t.is(j.sampleRate, 44100)
  t.true(j.peakDbfs <= 0 && j.rmsDbfs < j.peakDbfs)
  t.true(Math.abs(j.durationS - j.frames / 44100) < 1e-5)
})
