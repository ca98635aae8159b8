// Songs with known tempo and key for the library / mixer specs, composed
// as MIDI by scripts/make-groundtruth.mjs's generator (chords of the key,
// bass on the roots, a melody, GM drums) and rendered with fluidsynth +
// FluidR3_GM (Debian fluidsynth, fluid-soundfont-gm; see
// scripts/system-deps.sh). 16 s each, 44.1 kHz stereo.
import { mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { composeSong, renderMidi } from '../scripts/make-groundtruth.mjs'

/** The reference and its candidates: names say tempo and key. */
export const SONGS = [
  { id: 'ref-120-C', tonic: 0, mode: 'major', bpm: 120 },
  { id: 'same-120-C', tonic: 0, mode: 'major', bpm: 120 },
  { id: 'adj-123-G', tonic: 7, mode: 'major', bpm: 123 },
  { id: 'clash-120-Fs', tonic: 6, mode: 'major', bpm: 120 },
  { id: 'far-96-C', tonic: 0, mode: 'major', bpm: 96 },
  { id: 'harm-112-G', tonic: 7, mode: 'major', bpm: 112 },
]

/** Renders `songs` (default {@link SONGS}) into `dir` as `<id>.wav`; returns the paths by id. */
export async function renderSongs(dir, { songs = SONGS, seconds = 16, seed = 'mixer' } = {}) {
  mkdirSync(dir, { recursive: true })
  const paths = {}
  await Promise.all(
    songs.map(async (s) => {
      const wav = join(dir, `${s.id}.wav`)
      paths[s.id] = wav
      if (existsSync(wav)) return
      const { smf } = composeSong({ ...s, seed, meter: 4, drums: true, seconds, offsetS: 0 })
      const mid = join(tmpdir(), `resonode-${process.pid}-${s.id}.mid`)
      writeFileSync(mid, smf)
      try {
        await renderMidi(mid, wav, { seconds })
      } finally {
        rmSync(mid, { force: true })
      }
    }),
  )
  return paths
}
