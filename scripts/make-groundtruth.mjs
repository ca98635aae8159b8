#!/usr/bin/env node
// Ground truth for the music analyzer (resonode analyze): audio files with
// known tempo, beat times, key and mode, plus manifest.json describing them.
//
//   node scripts/make-groundtruth.mjs                       # 48 synthesised songs x 30 s + the real material
//   node scripts/make-groundtruth.mjs --subset synth --count 48 --seconds 30
//   node scripts/make-groundtruth.mjs --subset test --out /tmp/gt   # 6 songs x 12 s, for the test suite
//   node scripts/make-groundtruth.mjs --subset loops,blupi,fof,unlabeled
//
// Subsets (manifest `source`):
//   synth      'midi-synth'     songs composed here (seeded PRNG) as Standard
//                               MIDI Files and rendered with fluidsynth +
//                               FluidR3_GM: chord progressions of the key,
//                               bass on the roots, a melody from the scale, a
//                               GM drum kit on most songs; tempo, time and key
//                               signatures written as MIDI meta events.
//   test       'midi-synth'     the same generator, 6 songs x 12 s (--seconds
//                               to change), files test-*.wav.
//   loops      'sonic-pi-loop'  the CC0 loops of sonic-pi-samples, each repeated
//                               to ~30 s; tempo only (see LOOPS below for how
//                               each BPM was determined).
//   blupi      'planetblupi'    the first 60 s of the Planet Blupi MIDI files
//                               (planetblupi-music-midi) rendered with fluidsynth;
//                               tempo and beats from the MIDI tempo map; key see
//                               blupiEntry().
//   fof        'fof-chart'      Frets on Fire songs (fretsonfire-songs-muldjord,
//                               fretsonfire-songs-sectoid; CC BY-SA 3.0 metal
//                               recordings): song.ogg + guitar.ogg mixed; tempo
//                               and beats from the tempo map of the chart
//                               (notes.mid) made to play along with the record.
//   unlabeled  'unlabeled'      real mixed recordings with no ground truth
//                               (singularity-music), to show what the tools say.
//
// Options: --out DIR (default bench/analysis/data), --count N (synth, default
// 48), --seconds S (synth, default 30; test default 12), --jobs J (parallel
// renders, default 2), --seed STR, --keep-midi (default on; MIDI files are
// written beside the WAVs), --force (re-render files that exist).
// Needs fluidsynth, fluid-soundfont-gm and sox (Debian packages); the real
// material needs sonic-pi-samples, planetblupi-music-midi,
// fretsonfire-songs-muldjord, fretsonfire-songs-sectoid, singularity-music.
// Subsets whose packages are missing are skipped with a message.
//
// Output is deterministic: the same options give the same MIDI bytes, the
// same annotations and (with the same fluidsynth, sound font and sox) the same
// audio; sox runs with -D (no dither).
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, statSync, rmSync } from 'node:fs'
import { dirname, join, resolve, basename, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Track, writeSmf, parseSmf, summarizeSmf, truncateSmf, tickToSeconds } from './smf.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SF2 = '/usr/share/sounds/sf2/FluidR3_GM.sf2'
const SR = 44100
const PPQ = 480

export const KEY_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']

// ---------- PRNG ----------

function hashString(s) {
  let h = 2166136261 >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 16777619) >>> 0
  }
  return h
}

/** mulberry32, seeded from a string. */
export function rng(seed) {
  let a = hashString(String(seed))
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)]
  next.chance = (p) => next() < p
  next.weighted = (items) => {
    const total = items.reduce((s, [, w]) => s + w, 0)
    let r = next() * total
    for (const [v, w] of items) if ((r -= w) < 0) return v
    return items[items.length - 1][0]
  }
  next.shuffle = (arr) => {
    const a = [...arr]
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      ;[a[i], a[j]] = [a[j], a[i]]
    }
    return a
  }
  return next
}

// ---------- music theory ----------

const MAJOR = [0, 2, 4, 5, 7, 9, 11]
const NAT_MINOR = [0, 2, 3, 5, 7, 8, 10]
const HARM_MINOR = [0, 2, 3, 5, 7, 8, 11]

/** Key signature (sharps > 0, flats < 0) of a key, spelled the usual way (Db, Eb, Ab, Bb major with flats, F# major with 6 sharps). */
export function keySignature(tonic, mode) {
  const major = mode === 'major' ? tonic : (tonic + 3) % 12
  // C G D A E B F# | Db Ab Eb Bb F
  const SF = { 0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: -5, 8: -4, 3: -3, 10: -2, 5: -1 }
  return SF[major]
}

/** Scale (pitch classes relative to the tonic) for a chord degree: harmonic minor for V and vii in minor. */
function scaleFor(mode, degree) {
  if (mode === 'major') return MAJOR
  return degree === 4 ? HARM_MINOR : NAT_MINOR
}

/** Chord on a scale degree (0-based): pitch classes (absolute) of root, third, fifth (, seventh). */
function chordPcs(tonic, mode, degree, seventh = false) {
  const sc = scaleFor(mode, degree)
  const pcs = [0, 2, 4].concat(seventh ? [6] : []).map((k) => (tonic + sc[(degree + k) % 7]) % 12)
  return pcs
}

const PROGRESSIONS = {
  major: [
    { name: 'I-V-vi-IV', degrees: [0, 4, 5, 3], w: 3 },
    { name: 'I-IV-V-I', degrees: [0, 3, 4, 0], w: 3 },
    { name: 'ii-V-I-I', degrees: [1, 4, 0, 0], w: 2, sevenths: true },
    { name: 'I-vi-IV-V', degrees: [0, 5, 3, 4], w: 2 },
    { name: 'I-IV-I-V', degrees: [0, 3, 0, 4], w: 2 },
    { name: 'I-iii-IV-V', degrees: [0, 2, 3, 4], w: 1 },
    { name: 'vi-IV-I-V', degrees: [5, 3, 0, 4], w: 1 },
    { name: 'IV-V-I-I', degrees: [3, 4, 0, 0], w: 1 },
  ],
  minor: [
    { name: 'i-iv-V-i', degrees: [0, 3, 4, 0], w: 3 },
    { name: 'i-VI-III-VII', degrees: [0, 5, 2, 6], w: 3 },
    { name: 'i-VII-VI-V', degrees: [0, 6, 5, 4], w: 2 },
    { name: 'i-iv-VII-III', degrees: [0, 3, 6, 2], w: 2 },
    { name: 'i-VI-iv-V', degrees: [0, 5, 3, 4], w: 2 },
    { name: 'i-iv-i-V', degrees: [0, 3, 0, 4], w: 2 },
    { name: 'iiø-V-i-i', degrees: [1, 4, 0, 0], w: 1, sevenths: true },
  ],
}

export const GM_NAMES = {
  0: 'Acoustic Grand Piano', 1: 'Bright Acoustic Piano', 2: 'Electric Grand Piano', 4: 'Electric Piano 1', 5: 'Electric Piano 2',
  6: 'Harpsichord', 8: 'Celesta', 11: 'Vibraphone', 12: 'Marimba', 16: 'Drawbar Organ', 17: 'Percussive Organ', 18: 'Rock Organ',
  19: 'Church Organ', 21: 'Accordion', 22: 'Harmonica', 24: 'Acoustic Guitar (nylon)', 25: 'Acoustic Guitar (steel)',
  26: 'Electric Guitar (jazz)', 27: 'Electric Guitar (clean)', 29: 'Overdriven Guitar', 30: 'Distortion Guitar',
  32: 'Acoustic Bass', 33: 'Electric Bass (finger)', 34: 'Electric Bass (pick)', 35: 'Fretless Bass', 36: 'Slap Bass 1',
  38: 'Synth Bass 1', 39: 'Synth Bass 2', 40: 'Violin', 42: 'Cello', 43: 'Contrabass', 46: 'Orchestral Harp',
  48: 'String Ensemble 1', 49: 'String Ensemble 2', 50: 'Synth Strings 1', 52: 'Choir Aahs', 56: 'Trumpet', 57: 'Trombone',
  61: 'Brass Section', 62: 'Synth Brass 1', 65: 'Alto Sax', 66: 'Tenor Sax', 68: 'Oboe', 71: 'Clarinet', 73: 'Flute',
  75: 'Pan Flute', 80: 'Lead 1 (square)', 81: 'Lead 2 (sawtooth)', 82: 'Lead 3 (calliope)', 87: 'Lead 8 (bass + lead)',
  88: 'Pad 1 (new age)', 89: 'Pad 2 (warm)', 90: 'Pad 3 (polysynth)', 91: 'Pad 4 (choir)', 94: 'Pad 7 (halo)',
}

const COMP_PROGRAMS = {
  block: [48, 49, 50, 19, 16, 88, 89, 91, 52, 94],
  halves: [0, 1, 4, 5, 16, 2, 48, 90, 61],
  pulse: [0, 1, 4, 5, 17, 18, 2, 6, 62],
  arp: [0, 46, 24, 25, 11, 12, 81, 80, 6, 8],
  strum: [24, 25, 27, 26, 29, 30],
  offbeat: [4, 16, 27, 17, 21],
}
const MELODY_PROGRAMS = [73, 56, 65, 66, 40, 68, 71, 80, 81, 11, 0, 22, 75, 82, 57, 42]
const BASS_PROGRAMS = [32, 33, 34, 35, 36, 38, 39, 43, 87]
const PAD_PROGRAMS = [48, 49, 50, 89, 88, 52, 19]

// GM percussion keys
const KICK = 36, SNARE = 38, CLAP = 39, HH = 42, PEDAL_HH = 44, OPEN_HH = 46, CRASH = 49, RIDE = 51
const TOMS = [50, 48, 47, 45, 43, 41]

/** Drum patterns on a 16th grid: step lists per bar (4/4: 16 steps, 3/4: 12 steps). */
const DRUM_STYLES = {
  rock: { meter: 4, kick: [0, 8, 10], snare: [4, 12], hat: [0, 2, 4, 6, 8, 10, 12, 14] },
  dance: { meter: 4, kick: [0, 4, 8, 12], snare: [4, 12], clap: true, hat: [2, 6, 10, 14], open: true },
  hiphop: { meter: 4, kick: [0, 7, 10], snare: [4, 12], hat: [...Array(16).keys()] },
  fast: { meter: 4, kick: [0, 8], snare: [4, 12], hat: [0, 4, 8, 12], ride: true },
  pop: { meter: 4, kick: [0, 6, 8], snare: [4, 12], hat: [0, 2, 4, 6, 8, 10, 12, 14] },
  waltz: { meter: 3, kick: [0], snare: [4, 8], hat: [0, 2, 4, 6, 8, 10] },
}

// ---------- song composition ----------

function nearestPitch(pc, target) {
  // the MIDI note with pitch class pc closest to target
  let n = target - ((((target - pc) % 12) + 12) % 12)
  if (target - n > 6) n += 12
  return n
}

function voiceChord(pcs, center) {
  // close voicing: the chord tones each placed near the center, with spread limited to an octave+
  const notes = pcs.map((pc) => nearestPitch(pc, center))
  notes.sort((a, b) => a - b)
  return [...new Set(notes)]
}

/**
 * Compose a song. spec: { id, seed, tonic, mode, bpm, meter, drums, seconds, offsetS }.
 * Returns { smf: Buffer, meta } where meta has the annotations.
 */
export function composeSong(spec) {
  const r = rng(`${spec.seed}/${spec.id}`)
  const { tonic, mode, meter, drums } = spec
  const usPerQuarter = Math.round(60e6 / spec.bpm)
  const spb = usPerQuarter / 1e6 // seconds per beat, exact for the MIDI file
  const beatT = PPQ
  const barT = meter * PPQ
  const barS = meter * spb
  // bars of music; the file is cut at spec.seconds (with a fade), the last bar a held tonic chord
  const nBars = Math.max(4, Math.floor((spec.seconds - spec.offsetS - 0.8) / barS))

  const progs = PROGRESSIONS[mode]
  const progA = r.weighted(progs.map((p) => [p, p.w]))
  let progB = r.weighted(progs.map((p) => [p, p.w]))
  if (progB === progA) progB = r.weighted(progs.map((p) => [p, p.w]))
  const sevenths = !!(progA.sevenths || r.chance(0.2))

  // form: A A B A ... in 4-bar blocks (8 bars when the tempo is fast)
  const harmRate = spec.bpm >= 150 && meter === 4 ? 2 : 1 // bars per chord
  const chordsPerBlock = 4
  const bars = [] // per bar: { degree, pcs }
  const blockLen = chordsPerBlock * harmRate
  const formLetters = ['A', 'A', 'B', 'A', 'B', 'B', 'A', 'A']
  for (let b = 0; b < nBars; b++) {
    const block = Math.floor(b / blockLen)
    const prog = formLetters[block % formLetters.length] === 'A' ? progA : progB
    const degree = prog.degrees[Math.floor((b % blockLen) / harmRate)]
    bars.push({ degree, pcs: chordPcs(tonic, mode, degree, sevenths && prog.sevenths !== false && r.chance(0.5)) })
  }
  // cadence: the last bars are V (when there is room) then I/i held
  if (nBars >= 6) {
    bars[nBars - 2] = { degree: 4, pcs: chordPcs(tonic, mode, 4, sevenths) }
  }
  bars[nBars - 1] = { degree: 0, pcs: chordPcs(tonic, mode, 0, false), final: true }

  // instrumentation
  const compStyle = drums
    ? r.weighted([['block', 1], ['halves', 2], ['pulse', 2], ['arp', 2], ['strum', 2], ['offbeat', meter === 4 ? 1 : 0]])
    : r.weighted([['pulse', 2], ['arp', 3], ['strum', 2], ['halves', 1]])
  const compProgram = r.pick(COMP_PROGRAMS[compStyle])
  const bassProgram = drums ? r.pick(BASS_PROGRAMS) : r.pick([32, 35, 43, 33, 42])
  const hasMelody = r.chance(0.85)
  const melodyProgram = r.pick(MELODY_PROGRAMS)
  const hasPad = compStyle !== 'block' && r.chance(0.4)
  const padProgram = r.pick(PAD_PROGRAMS)
  let drumStyle = null
  if (drums) {
    if (meter === 3) drumStyle = 'waltz'
    else if (spec.bpm >= 150) drumStyle = r.pick(['fast', 'rock'])
    else if (spec.bpm < 95) drumStyle = r.pick(['hiphop', 'pop', 'rock'])
    else drumStyle = r.pick(['rock', 'pop', 'dance', 'rock'])
  }
  const bassStyle = meter === 3 ? r.pick(['waltz', 'dotted'])
    : drumStyle === 'dance' ? r.pick(['octave', 'eighths'])
    : drumStyle === 'fast' || drumStyle === 'rock' ? r.pick(['eighths', 'quarter', 'half'])
    : r.pick(['half', 'quarter', 'walk', 'syncopated'])
  const introBars = drums && nBars > 8 ? r.pick([0, 0, 1, 2]) : 0
  const melodyStart = Math.min(nBars - 2, r.pick([0, 2, 4]))

  const conductor = new Track(`resonode ground truth ${spec.id}`)
  conductor.tempo(0, usPerQuarter)
  conductor.timeSignature(0, meter, 4)
  conductor.keySignature(0, keySignature(tonic, mode), mode === 'minor')
  conductor.text(0, `tempo ${spec.bpm} BPM, key ${KEY_NAMES[tonic]} ${mode}, progressions ${progA.name} / ${progB.name}`)

  const CH = { comp: 0, bass: 1, melody: 2, pad: 3, drums: 9 }
  const comp = new Track('comp')
  const bass = new Track('bass')
  const mel = new Track('melody')
  const pad = new Track('pad')
  const drm = new Track('drums')
  const setup = (t, ch, program, vol, pan, rev) => {
    if (program !== null) t.program(0, ch, program)
    t.control(0, ch, 7, vol)
    t.control(0, ch, 10, pan)
    t.control(0, ch, 91, rev)
    t.control(0, ch, 93, 10)
  }
  setup(comp, CH.comp, compProgram, compStyle === 'block' ? 88 : 96, r.int(40, 88), 40)
  setup(bass, CH.bass, bassProgram, 104, 64, 20)
  setup(mel, CH.melody, melodyProgram, 100, r.int(48, 80), 50)
  setup(pad, CH.pad, padProgram, 60, r.int(30, 98), 60)
  setup(drm, CH.drums, null, 100, 64, 30)
  const vel = (base, spread = 8) => base + r.int(-spread, spread)

  let center = 60 + ((tonic + 6) % 12) - 6 + 4 // chord register near E4, follows the key a little
  for (let b = 0; b < nBars; b++) {
    const t0 = b * barT
    const { pcs, degree, final } = bars[b]
    const voicing = voiceChord(pcs, center)
    center = Math.round(0.7 * center + 0.3 * (voicing.reduce((s, n) => s + n, 0) / voicing.length))
    center = Math.max(56, Math.min(68, center))
    const rootPc = pcs[0]
    const root = nearestPitch(rootPc, 38) // E2..Bb2 region
    const fifth = root + 7
    // ---- comp ----
    if (final) {
      for (const n of voicing) comp.note(t0, barT * 0.98, CH.comp, n, 84)
    } else if (compStyle === 'block') {
      for (const n of voicing) comp.note(t0, barT - 10, CH.comp, n, vel(76))
    } else if (compStyle === 'halves') {
      const hits = meter === 4 ? [0, 2] : [0]
      for (const h of hits) for (const n of voicing) comp.note(t0 + h * beatT, (meter === 4 ? 2 : 3) * beatT - 20, CH.comp, n, vel(h === 0 ? 84 : 74))
    } else if (compStyle === 'pulse') {
      for (let k = 0; k < meter; k++) for (const n of voicing) comp.note(t0 + k * beatT, beatT * 0.7, CH.comp, n, vel(k === 0 ? 88 : 72))
    } else if (compStyle === 'arp') {
      const seq = [...voicing, voicing[0] + 12]
      const order = r.pick([[0, 1, 2, 3, 2, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2, 3], [0, 2, 1, 3, 0, 2, 1, 3], [0, 1, 2, 1, 3, 1, 2, 1]])
      for (let k = 0; k < meter * 2; k++) {
        const n = seq[order[k % order.length] % seq.length]
        comp.note(t0 + k * (beatT / 2), beatT * 0.9, CH.comp, n, vel(k === 0 ? 84 : k % 2 ? 64 : 74))
      }
    } else if (compStyle === 'strum') {
      const pattern = meter === 4 ? [[0, 1], [1, 0.5], [1.5, 0.5], [2.5, 0.5], [3, 0.5], [3.5, 0.5]] : [[0, 1], [1, 0.5], [1.5, 0.5], [2, 1]]
      const strum = [...voicing, voicing[0] + 12]
      for (const [pos, dur] of pattern) {
        const down = Number.isInteger(pos)
        const order = down ? strum : [...strum].reverse()
        order.forEach((n, i) => comp.note(t0 + pos * beatT + i * 6, dur * beatT - 12, CH.comp, n, vel(down ? 82 : 64)))
      }
    } else if (compStyle === 'offbeat') {
      for (let k = 0; k < meter; k++) for (const n of voicing) comp.note(t0 + k * beatT + beatT / 2, beatT * 0.35, CH.comp, n, vel(78))
    }
    // ---- pad ----
    if (hasPad && b >= introBars) for (const n of voiceChord(pcs, center - 5)) pad.note(t0, barT - 10, CH.pad, n, vel(60, 4))
    // ---- bass ----
    if (final) {
      bass.note(t0, barT * 0.98, CH.bass, root, 96)
    } else if (b >= introBars || !drums) {
      const nextRoot = nearestPitch(bars[b + 1]?.pcs[0] ?? rootPc, root)
      const third = nearestPitch(pcs[1], root + 4)
      const q = (k, note, v = 92, dur = 0.9) => bass.note(t0 + k * beatT, dur * beatT, CH.bass, note, vel(v))
      switch (bassStyle) {
        case 'half': q(0, root, 100, 1.9); q(2, r.chance(0.3) ? fifth : root, 88, 1.9); break
        case 'quarter': for (let k = 0; k < 4; k++) q(k, k === 2 && r.chance(0.5) ? fifth : root, k === 0 ? 100 : 86); break
        case 'eighths': for (let k = 0; k < 8; k++) bass.note(t0 + k * beatT / 2, beatT * 0.45, CH.bass, root, vel(k === 0 ? 100 : k % 2 ? 78 : 88)); break
        case 'octave': for (let k = 0; k < 8; k++) bass.note(t0 + k * beatT / 2, beatT * 0.4, CH.bass, k % 2 ? root + 12 : root, vel(k % 2 ? 80 : 98)); break
        case 'walk': {
          const approach = nextRoot + (r.chance(0.5) ? -1 : 1)
          q(0, root, 100); q(1, third, 86); q(2, fifth, 90); q(3, approach, 84)
          break
        }
        case 'syncopated': q(0, root, 100, 1.4); q(1.5, root, 82, 0.4); q(2, fifth, 90, 0.9); q(3.5, root, 82, 0.4); break
        case 'waltz': q(0, root, 100, 0.9); q(1, fifth, 78, 0.8); q(2, fifth, 78, 0.8); break
        case 'dotted': q(0, root, 100, 2.8); break
      }
    }
    // ---- drums ----
    if (drums && !final) {
      const st = DRUM_STYLES[drumStyle]
      const steps = meter * 4
      const stepT = beatT / 4
      const phrasePos = b % 8
      const fill = phrasePos === 7 && b < nBars - 2
      const intro = b < introBars
      if (intro) {
        // hi-hat (pedal) count-in on the beats
        for (let k = 0; k < meter; k++) drm.note(t0 + k * beatT, stepT, CH.drums, PEDAL_HH, vel(k === 0 ? 80 : 64))
      } else {
        if (phrasePos === 0 && b > 0) drm.note(t0, beatT, CH.drums, CRASH, vel(100))
        for (let s = 0; s < steps; s++) {
          const t = t0 + s * stepT
          if (fill && s >= steps / 2) {
            if (s % 2 === 0 || drumStyle !== 'fast') drm.note(t, stepT, CH.drums, s % 4 < 2 ? SNARE : TOMS[Math.min(TOMS.length - 1, Math.floor((s - steps / 2) / 2))], vel(70 + s * 2))
            continue
          }
          if (st.kick.includes(s) && !(s === 10 && drumStyle === 'rock' && r.chance(0.5))) drm.note(t, stepT, CH.drums, KICK, vel(s === 0 ? 110 : 98))
          if (st.snare.includes(s)) drm.note(t, stepT, CH.drums, SNARE, vel(drumStyle === 'waltz' ? 70 : 104))
          if (st.clap && st.snare.includes(s)) drm.note(t, stepT, CH.drums, CLAP, vel(80))
          if (st.hat.includes(s)) {
            const key = st.ride ? RIDE : st.open ? OPEN_HH : HH
            const accent = s % 4 === 0 ? 82 : 62
            drm.note(t, stepT, CH.drums, key, vel(accent, 6))
          }
          if (st.open && s % 4 === 0) drm.note(t, stepT, CH.drums, HH, vel(60, 4))
        }
      }
    } else if (drums && final) {
      drm.note(t0, beatT, CH.drums, CRASH, 100)
      drm.note(t0, beatT, CH.drums, KICK, 110)
    }
  }

  // ---- melody ----
  if (hasMelody) {
    const lo = nearestPitch(tonic, 67) - 5
    const hi = lo + 19
    const scaleNotes = (degree) => {
      const sc = scaleFor(mode, degree)
      const out = []
      for (let n = lo; n <= hi; n++) if (sc.includes(((n - tonic) % 12 + 12) % 12)) out.push(n)
      return out
    }
    const cells4 = [
      [[0, 1], [1, 1], [2, 1], [3, 1]],
      [[0, 1.5], [1.5, 0.5], [2, 2]],
      [[0, 0.5], [0.5, 0.5], [1, 1], [2, 1], [3, 1]],
      [[0, 2], [2, 1], [3, 0.5], [3.5, 0.5]],
      [[0, 1], [1, 0.5], [1.5, 0.5], [2, 1.5], [3.5, 0.5]],
      [[0, 3], [3, 1]],
      [[0.5, 0.5], [1, 1], [2, 0.5], [2.5, 0.5], [3, 1]],
    ]
    const cells3 = [[[0, 1], [1, 1], [2, 1]], [[0, 2], [2, 1]], [[0, 1.5], [1.5, 0.5], [2, 1]], [[0, 1], [1, 0.5], [1.5, 0.5], [2, 1]]]
    const cells = meter === 4 ? cells4 : cells3
    let prev = nearestPitch(bars[0].pcs[0], (lo + hi) / 2 + 2)
    let motif = null
    for (let b = melodyStart; b < nBars; b++) {
      const { pcs, degree, final } = bars[b]
      const t0 = b * barT
      if (final) {
        mel.note(t0, barT * 0.95, CH.melody, nearestPitch(tonic, prev), 90)
        break
      }
      const phrasePos = (b - melodyStart) % 4
      if (phrasePos === 0) motif = r.pick(cells)
      const rhythm = phrasePos === 3 ? r.pick([[[0, 2]], [[0, 1], [1, 2]], [[0, meter]]]) : phrasePos === 2 && r.chance(0.5) ? r.pick(cells) : motif
      if (phrasePos === 3 && r.chance(0.2)) continue // breath
      const scale = scaleNotes(degree)
      for (const [pos, dur] of rhythm) {
        if (pos >= meter) continue
        const strong = pos === 0 || (meter === 4 && pos === 2)
        let note
        if (strong || dur >= 2) {
          const cands = scale.filter((n) => pcs.includes(n % 12) && Math.abs(n - prev) <= 7)
          note = cands.length ? r.pick(cands) : nearestPitch(pcs[0], prev)
        } else {
          const i = scale.indexOf(scale.reduce((a, n) => (Math.abs(n - prev) < Math.abs(a - prev) ? n : a), scale[0]))
          const step = r.weighted([[1, 3], [-1, 3], [2, 1], [-2, 1], [0, 0.5]])
          note = scale[Math.max(0, Math.min(scale.length - 1, i + step))]
        }
        mel.note(t0 + pos * beatT, Math.min(dur, meter - pos) * beatT * 0.92, CH.melody, note, vel(strong ? 92 : 80))
        prev = note
      }
    }
  }

  const endTick = nBars * barT + Math.ceil(2 / spb) * PPQ // ~2 s for release and reverb, cut by sox later
  for (const t of [conductor, comp, bass, mel, pad, drm]) t.end(endTick)
  const tracks = [conductor, comp, bass]
  if (hasMelody) tracks.push(mel)
  if (hasPad) tracks.push(pad)
  if (drums) tracks.push(drm)
  const smf = writeSmf(tracks, PPQ)

  const musicEnd = spec.offsetS + nBars * barS
  const beats = []
  const downbeats = []
  for (let k = 0; k < nBars * meter; k++) {
    const t = spec.offsetS + k * spb
    if (t > spec.seconds - 0.05) break
    beats.push(round6(t))
    if (k % meter === 0) downbeats.push(round6(t))
  }
  return {
    smf,
    meta: {
      tempoBpm: round4(60e6 / usPerQuarter),
      key: KEY_NAMES[tonic],
      mode,
      timeSignature: `${meter}/4`,
      beats,
      downbeats,
      drums: !!drums,
      program: compProgram,
      programs: {
        comp: `${compProgram} ${GM_NAMES[compProgram] ?? ''}`.trim(),
        bass: `${bassProgram} ${GM_NAMES[bassProgram] ?? ''}`.trim(),
        melody: hasMelody ? `${melodyProgram} ${GM_NAMES[melodyProgram] ?? ''}`.trim() : null,
        pad: hasPad ? `${padProgram} ${GM_NAMES[padProgram] ?? ''}`.trim() : null,
      },
      style: { comp: compStyle, bass: bassStyle, drums: drumStyle, progressions: [progA.name, progB.name], introBars, melodyStartBar: hasMelody ? melodyStart : null },
      offsetS: round6(spec.offsetS),
      musicEndS: round6(Math.min(musicEnd, spec.seconds)),
      durationS: spec.seconds,
    },
  }
}

function round4(x) {
  return Math.round(x * 1e4) / 1e4
}

function round6(x) {
  return Math.round(x * 1e6) / 1e6
}

/** Song specs for the synth subset: all 24 keys, tempos stratified over 70-180 BPM, ~25 % without drums, ~1/8 in 3/4. */
export function synthSpecs({ count, seconds, seed }) {
  const r = rng(`${seed}/specs`)
  const keys = []
  for (let i = 0; i < count; i++) {
    const k = i % 24
    keys.push({ tonic: k % 12, mode: k < 12 ? 'major' : 'minor' })
  }
  const keyOrder = r.shuffle(keys)
  const tempos = r.shuffle([...Array(count).keys()].map((i) => Math.round(70 + (110 * (i + r())) / count)))
  const drumFlags = r.shuffle([...Array(count).keys()].map((i) => i % 4 !== 0))
  const specs = []
  for (let i = 0; i < count; i++) {
    const bpm = Math.min(180, Math.max(70, tempos[i]))
    const meter = bpm <= 150 && i % 8 === 5 ? 3 : 4
    specs.push({
      id: `song-${String(i).padStart(3, '0')}`,
      seed,
      ...keyOrder[i],
      bpm,
      meter,
      drums: drumFlags[i],
      seconds,
      offsetS: Math.round(r() * 800) / 1000,
    })
  }
  return specs
}

/** The small set the test suite renders: 6 songs, both modes, with and without drums, one in 3/4. */
export function testSpecs({ seconds, seed }) {
  const list = [
    { tonic: 0, mode: 'major', bpm: 120, meter: 4, drums: true },
    { tonic: 9, mode: 'minor', bpm: 92, meter: 4, drums: true },
    { tonic: 6, mode: 'major', bpm: 140, meter: 4, drums: true },
    { tonic: 3, mode: 'minor', bpm: 76, meter: 4, drums: false },
    { tonic: 10, mode: 'major', bpm: 168, meter: 4, drums: true },
    { tonic: 4, mode: 'minor', bpm: 108, meter: 3, drums: false },
  ]
  return list.map((s, i) => ({ id: `test-${i}`, seed, seconds, offsetS: [0.25, 0, 0.5, 0.1, 0.35, 0.2][i], ...s }))
}

// ---------- rendering ----------

function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`))))
  })
}

async function pool(items, jobs, fn) {
  let i = 0
  const worker = async () => {
    while (i < items.length) {
      const k = i++
      await fn(items[k], k)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker))
}

/**
 * Render a MIDI file with fluidsynth (float, 44.1 kHz, reverb and chorus on),
 * then with sox: pad `padS` seconds of silence in front, cut to `seconds`,
 * fade out the last 0.6 s, peak-normalise to -1 dBFS, 16-bit, no dither.
 */
export async function renderMidi(midPath, wavPath, { seconds, padS = 0, gain = 0.5 }) {
  const raw = `${wavPath}.raw.wav`
  // -n no MIDI input, -i no shell; -F renders as fast as possible and stops when the MIDI file ends
  // (the files end ~2 s after the last note, so release and reverb tails are rendered, then cut by sox).
  await run('fluidsynth', ['-ni', '-g', String(gain), '-r', String(SR), '-O', 'float', '-T', 'wav', '-o', 'synth.cpu-cores=1', '-F', raw, SF2, midPath])
  try {
    await run('sox', ['-D', raw, '-b', '16', wavPath, 'pad', String(padS), '4', 'trim', '0', String(seconds), 'fade', 't', '0', String(seconds), '0.6', 'gain', '-n', '-1'])
  } finally {
    rmSync(raw, { force: true })
  }
}

// ---------- subsets ----------

async function makeSynth(specs, outDir, { jobs, force }) {
  const entries = []
  await pool(specs, jobs, async (spec) => {
    const { smf, meta } = composeSong(spec)
    const mid = join(outDir, 'midi', `${spec.id}.mid`)
    const wav = join(outDir, 'midi-synth', `${spec.id}.wav`)
    mkdirSync(dirname(mid), { recursive: true })
    mkdirSync(dirname(wav), { recursive: true })
    const same = existsSync(mid) && readFileSync(mid).equals(smf)
    writeFileSync(mid, smf)
    if (force || !same || !existsSync(wav)) await renderMidi(mid, wav, { seconds: spec.seconds, padS: spec.offsetS })
    entries.push({ file: relative(outDir, wav), source: 'midi-synth', ...meta, midi: relative(outDir, mid), id: spec.id })
    process.stdout.write(`  ${spec.id} ${meta.key} ${meta.mode} ${meta.tempoBpm} BPM ${meta.timeSignature} drums=${meta.drums} ${meta.style.comp}/${meta.style.bass}/${meta.style.drums}\n`)
  })
  entries.sort((a, b) => a.id.localeCompare(b.id))
  return entries
}

// Sonic Pi loops. Sonic Pi has no tempo metadata for its samples (its docs
// only give names and freesound sources), so each BPM comes from the loop
// length: a loop of N beats lasting d seconds has BPM = 60 N / d. N is the
// beat count that gives a (near-)integer BPM at a plausible tempo; for most
// loops the length is exact to the sample (e.g. loop_amen_full is 302400
// samples = 16 beats at exactly 140 BPM; loop_compus 286054 = 16 beats at
// 148.000; loop_breakbeat 84000 = 4 beats at 126; the hullum loops of 109114
// or 218227 samples are 4 or 8 beats at 97, as the name loop_drone_g_97 says).
// trust: 'exact' = length matches N beats at an integer BPM to the sample;
// 'length' = BPM from length and beat count but not an integer (hand-cut
// loop: the famous amen break); 'ambiguous' = beat count not clear from the
// length alone (listed, excluded from scores).
export const LOOPS = [
  { name: 'loop_amen', beats: 4, trust: 'length', note: '1.7533 s; the amen break, 4 beats = 136.9 BPM (the break is commonly given as ~136-138 BPM)' },
  { name: 'loop_amen_full', beats: 16, trust: 'exact', note: '302400 samples = 16 beats at 140 BPM exactly' },
  { name: 'loop_breakbeat', beats: 4, trust: 'exact', note: '84000 samples = 4 beats at 126 BPM exactly' },
  { name: 'loop_compus', beats: 16, trust: 'exact', note: '286054 samples = 16 beats at 148.000 BPM' },
  { name: 'loop_garzul', beats: 16, trust: 'exact', note: '352800 samples = 8.000 s = 16 beats at 120 BPM' },
  { name: 'loop_mika', beats: 16, trust: 'exact', note: '352800 samples = 8.000 s = 16 beats at 120 BPM' },
  { name: 'loop_safari', beats: 16, trust: 'length', note: '353024 samples = 8.005 s = 16 beats at 119.92 BPM' },
  { name: 'loop_industrial', beats: 2, trust: 'length', note: '0.8837 s = 2 beats at 135.8 BPM (1 beat would be 67.9)' },
  { name: 'loop_electric', beats: 4, trust: 'exact', note: '109114 samples = 4 beats at 97 BPM (hullum pack, 97 BPM like loop_drone_g_97)' },
  { name: 'loop_mehackit1', beats: 4, trust: 'exact', note: '109114 samples = 4 beats at 97 BPM' },
  { name: 'loop_mehackit2', beats: 4, trust: 'exact', note: '109114 samples = 4 beats at 97 BPM' },
  { name: 'loop_perc1', beats: 4, trust: 'exact', note: '109114 samples = 4 beats at 97 BPM' },
  { name: 'loop_perc2', beats: 4, trust: 'exact', note: '109114 samples = 4 beats at 97 BPM' },
  { name: 'loop_weirdo', beats: 8, trust: 'exact', note: '218227 samples = 8 beats at 97 BPM' },
  { name: 'loop_drone_g_97', beats: 8, trust: 'exact', note: '218227 samples = 8 beats at 97 BPM (97 in the name); a drone, little rhythm' },
  { name: 'loop_tabla', beats: 16, trust: 'ambiguous', note: '10.674 s (shortened in Sonic Pi 2.11 "so that it correctly loops"): 16 beats = 89.9 BPM or 24 beats = 134.9 BPM; not decidable from the length' },
  { name: 'loop_3d_printer', beats: 16, trust: 'ambiguous', note: '351000 samples: 16 beats = 120.6 BPM; 13 beats = 98.000 BPM exactly; a recorded 3D printer, no clear meter' },
]

async function makeLoops(outDir, { force, loopSeconds = 30 }) {
  const dir = '/usr/share/sonic-pi/samples'
  if (!existsSync(dir)) { console.log('  sonic-pi-samples not installed: skipping loops'); return [] }
  const entries = []
  for (const l of LOOPS) {
    const src = join(dir, `${l.name}.flac`)
    if (!existsSync(src)) { console.log(`  ${src} missing`); continue }
    const samples = Number(execFileSync('soxi', ['-s', src]).toString().trim())
    const rate = Number(execFileSync('soxi', ['-r', src]).toString().trim())
    const d = samples / rate
    const bpm = (60 * l.beats) / d
    const reps = Math.max(1, Math.ceil(loopSeconds / d))
    const out = join(outDir, 'sonic-pi-loops', `${l.name}.wav`)
    mkdirSync(dirname(out), { recursive: true })
    if (force || !existsSync(out)) await run('sox', ['-D', src, '-b', '16', '-r', String(SR), '-c', '2', out, 'repeat', String(reps - 1)])
    const beats = []
    const spb = d / l.beats
    for (let k = 0; k < reps * l.beats; k++) beats.push(round6(k * spb))
    entries.push({
      file: relative(outDir, out), source: 'sonic-pi-loop', id: l.name,
      tempoBpm: round4(bpm), key: null, mode: null,
      // loops are cut on the beat, so the beat grid starts at 0; scored only when explicitly asked (eval --loop-beats)
      beats, downbeats: null, drums: null, program: null,
      durationS: round6(d * reps), loopSeconds: round6(d), loopBeats: l.beats, tempoTrust: l.trust, tempoNote: l.note,
    })
    console.log(`  ${l.name}: ${d.toFixed(4)} s x ${reps}, ${l.beats} beats -> ${bpm.toFixed(3)} BPM (${l.trust})`)
  }
  return entries
}

// Krumhansl-Kessler key profiles (as used by the Krumhansl-Schmuckler algorithm).
const KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
const KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.6, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]

function corr(a, b) {
  const n = a.length
  const ma = a.reduce((s, x) => s + x, 0) / n
  const mb = b.reduce((s, x) => s + x, 0) / n
  let num = 0, da = 0, db = 0
  for (let i = 0; i < n; i++) { num += (a[i] - ma) * (b[i] - mb); da += (a[i] - ma) ** 2; db += (b[i] - mb) ** 2 }
  return num / Math.sqrt(da * db || 1)
}

/** Krumhansl-Schmuckler on a duration-weighted pitch-class histogram of MIDI notes (drums excluded). */
export function symbolicKey(notes, untilS = Infinity) {
  const h = new Array(12).fill(0)
  for (const n of notes) {
    if (n.channel === 9 || n.start >= untilS) continue
    h[n.key % 12] += Math.min(n.end, untilS) - n.start
  }
  const scores = []
  for (let t = 0; t < 12; t++) {
    const rot = (p) => p.map((_, i) => p[(i - t + 12) % 12])
    scores.push({ key: KEY_NAMES[t], mode: 'major', r: corr(h, rot(KK_MAJOR)) })
    scores.push({ key: KEY_NAMES[t], mode: 'minor', r: corr(h, rot(KK_MINOR)) })
  }
  scores.sort((a, b) => b.r - a.r)
  return { ...scores[0], margin: scores[0].r - scores[1].r, second: `${scores[1].key} ${scores[1].mode}`, histogram: h.map((x) => round6(x)) }
}

/** The most common offset (ticks) of note onsets from the 16th-note grid, in [-16th/2, 16th/2); 0 when unclear. */
export function gridOffsetTicks(notes, ppq) {
  const g = ppq / 4
  const counts = new Map()
  for (const n of notes) {
    let ph = n.startTick % g
    if (ph >= g / 2) ph -= g
    counts.set(ph, (counts.get(ph) ?? 0) + 1)
  }
  let best = 0
  let bestN = -1
  for (const [ph, c] of counts) if (c > bestN) { best = ph; bestN = c }
  // the notes within 2 ticks of the mode: their median
  const near = []
  for (const [ph, c] of counts) if (Math.abs(ph - best) <= 2) for (let i = 0; i < c; i++) near.push(ph)
  near.sort((a, b) => a - b)
  const med = near.length ? near[Math.floor(near.length / 2)] : 0
  return Math.abs(med) <= 1 ? 0 : med
}

async function makeBlupi(outDir, { force, seconds = 60, jobs }) {
  const dir = '/usr/share/planetblupi/music'
  if (!existsSync(dir)) { console.log('  planetblupi-music-midi not installed: skipping'); return [] }
  const files = readdirSync(dir).filter((f) => f.endsWith('.mid')).sort()
  const entries = []
  await pool(files, jobs, async (f) => {
    const smf = parseSmf(readFileSync(join(dir, f)))
    const s = summarizeSmf(smf)
    const tm = s.tempoMap
    // cut at `seconds` (the files are 10-28 min of looping game music)
    let cutTick = 0
    while (tickToSeconds(tm, smf.ppq, cutTick) < seconds) cutTick += smf.ppq
    const mid = join(outDir, 'midi', `blupi-${f}`)
    const wav = join(outDir, 'planetblupi', f.replace(/\.mid$/, '.wav'))
    mkdirSync(dirname(mid), { recursive: true })
    mkdirSync(dirname(wav), { recursive: true })
    writeFileSync(mid, truncateSmf(smf, cutTick, 4 * smf.ppq))
    if (force || !existsSync(wav)) await renderMidi(mid, wav, { seconds })
    // Several files (music004-009) are sequenced with every note ~20 ticks
    // (~60 ms) after the MIDI beat grid (a recording latency kept in the
    // file). The beats follow the notes: the grid is shifted by the most
    // common offset of the note onsets from the 16th-note grid (when within
    // half a 16th).
    const shiftTicks = gridOffsetTicks(s.notes.filter((n) => n.start < seconds), smf.ppq)
    const beats = []
    for (let tick = shiftTicks; ; tick += smf.ppq) {
      const t = tickToSeconds(tm, smf.ppq, tick)
      if (t > seconds - 0.05) break
      beats.push(round6(t))
    }
    const ts = s.timeSigs[0] ?? { num: 4, den: 4 }
    const downbeats = beats.filter((_, i) => i % ts.num === 0)
    const tempos = [...new Set(tm.filter((m) => tickToSeconds(tm, smf.ppq, m.tick) < seconds).map((m) => round4(60e6 / m.microsPerQuarter)))]
    const ks = s.keySigs[0]
    const sym = symbolicKey(s.notes, seconds)
    // Every Planet Blupi file has a single key-signature event, 0 sharps/flats
    // major at tick 0: the sequencer's default, not an annotation (the
    // music is not all in C major), so it is not used. The key scored is the
    // Krumhansl-Schmuckler estimate on the MIDI notes themselves (symbolic,
    // no audio involved); keyTrust says how clear that estimate is.
    entries.push({
      file: relative(outDir, wav), source: 'planetblupi', id: f.replace(/\.mid$/, ''),
      tempoBpm: tempos.length === 1 ? tempos[0] : null, tempos,
      key: sym.key, mode: sym.mode,
      keySource: 'symbolic Krumhansl-Schmuckler on the MIDI notes (key-signature meta event is a default 0 sharps major)',
      keyTrust: sym.margin >= 0.05 ? 'clear' : 'weak', keyMargin: round6(sym.margin), keySecond: sym.second,
      keySignatureEvent: ks ? { sf: ks.sf, minor: ks.minor } : null,
      timeSignature: `${ts.num}/${ts.den}`,
      beats, downbeats, drums: s.notes.some((n) => n.channel === 9 && n.start < seconds), program: null,
      beatShiftTicks: shiftTicks, beatShiftS: round6(tickToSeconds(tm, smf.ppq, shiftTicks)),
      durationS: seconds, midi: relative(outDir, mid),
    })
    console.log(`  ${f}: ${tempos.join('/')} BPM, ${ts.num}/${ts.den}, notes ${shiftTicks} ticks after the grid, key sig ${ks ? `${ks.sf} ${ks.minor ? 'minor' : 'major'}` : 'none'}, symbolic ${sym.key} ${sym.mode} (margin ${sym.margin.toFixed(3)}, then ${sym.second})`)
  })
  entries.sort((a, b) => a.id.localeCompare(b.id))
  return entries
}

async function makeFof(outDir, { force }) {
  const root = '/usr/share/games/fretsonfire/data/songs'
  if (!existsSync(root)) { console.log('  fretsonfire-songs-* not installed: skipping'); return [] }
  const entries = []
  for (const pack of readdirSync(root).sort()) {
    const packDir = join(root, pack)
    if (!statSync(packDir).isDirectory()) continue
    for (const song of readdirSync(packDir).sort()) {
      const d = join(packDir, song)
      if (!existsSync(join(d, 'notes.mid')) || !existsSync(join(d, 'song.ogg'))) continue
      const ini = readFileSync(join(d, 'song.ini'), 'latin1')
      const delayMs = Number(/^\s*delay\s*=\s*(-?\d+)/m.exec(ini)?.[1] ?? 0)
      const smf = parseSmf(readFileSync(join(d, 'notes.mid')))
      const s = summarizeSmf(smf)
      const id = `${pack}-${song}`.toLowerCase().replace(/[^a-z0-9]+/g, '_')
      const out = join(outDir, 'fof', `${id}.flac`)
      mkdirSync(dirname(out), { recursive: true })
      const inputs = [join(d, 'song.ogg')]
      if (existsSync(join(d, 'guitar.ogg'))) inputs.push(join(d, 'guitar.ogg'))
      if (force || !existsSync(out)) {
        const args = inputs.length > 1 ? ['-D', '-m', ...inputs, '-b', '16', out, 'gain', '-n', '-1'] : ['-D', inputs[0], '-b', '16', out]
        await run('sox', args)
      }
      const dur = Number(execFileSync('soxi', ['-D', out]).toString().trim())
      const tm = s.tempoMap
      const beats = []
      for (let tick = 0; ; tick += smf.ppq) {
        const t = tickToSeconds(tm, smf.ppq, tick) + delayMs / 1000
        if (t > dur - 0.05 || t > s.endSeconds + 1) break
        beats.push(round6(t))
      }
      const tempos = [...new Set(tm.map((m) => round4(60e6 / m.microsPerQuarter)))]
      entries.push({
        file: relative(outDir, out), source: 'fof-chart', id,
        tempoBpm: tempos.length === 1 ? tempos[0] : null, tempos, key: null, mode: null,
        beats, downbeats: null, drums: true, program: null, durationS: round6(dur),
        tempoNote: 'tempo map of the Frets on Fire chart (notes.mid), written to play along with the recording; beats = its quarter-note grid' + (delayMs ? ` + delay ${delayMs} ms` : ''),
        license: 'CC BY-SA 3.0 (Muldjord / Sectoid, via Debian fretsonfire-songs-*)',
      })
      console.log(`  ${id}: ${tempos.join('/')} BPM, ${dur.toFixed(1)} s, ${inputs.length} stems`)
    }
  }
  return entries
}

function makeUnlabeled(outDir) {
  const dir = '/usr/share/games/singularity/music'
  if (!existsSync(dir)) { console.log('  singularity-music not installed: skipping'); return [] }
  const picks = ['Awakening.ogg', 'Coherence.ogg', 'Enemy Unknown.ogg', 'Through Space.ogg']
  return picks
    .filter((f) => existsSync(join(dir, f)))
    .map((f) => ({
      file: join(dir, f), source: 'unlabeled', id: `singularity-${f.replace(/\.ogg$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '_')}`,
      tempoBpm: null, key: null, mode: null, beats: null, downbeats: null, drums: null, program: null,
      note: 'Endgame: Singularity soundtrack (Debian singularity-music), Ogg Vorbis, read in place; no ground truth',
    }))
}

// ---------- main ----------

async function main() {
  const { values: o } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'bench/analysis/data') },
      count: { type: 'string', default: '48' },
      seconds: { type: 'string' },
      subset: { type: 'string', default: 'synth,loops,blupi,fof,unlabeled' },
      jobs: { type: 'string', default: '2' },
      seed: { type: 'string', default: 'resonode-gt-1' },
      force: { type: 'boolean', default: false },
    },
  })
  const outDir = resolve(o.out)
  mkdirSync(outDir, { recursive: true })
  const subsets = o.subset.split(',').map((s) => s.trim()).filter(Boolean)
  const known = ['synth', 'test', 'loops', 'blupi', 'fof', 'unlabeled', 'all']
  for (const s of subsets) if (!known.includes(s)) throw new Error(`--subset: unknown ${s} (know ${known.join(', ')})`)
  const want = new Set(subsets.includes('all') ? ['synth', 'loops', 'blupi', 'fof', 'unlabeled'] : subsets)
  const needsFluid = want.has('synth') || want.has('test') || want.has('blupi')
  if (needsFluid) {
    for (const [bin, pkg] of [['fluidsynth', 'fluidsynth'], ['sox', 'sox']]) {
      try { execFileSync('which', [bin], { stdio: 'ignore' }) } catch { throw new Error(`${bin} not found: apt-get install ${pkg}`) }
    }
    if (!existsSync(SF2)) throw new Error(`${SF2} not found: apt-get install fluid-soundfont-gm`)
  }
  const jobs = Number(o.jobs)
  const manifestPath = join(outDir, 'manifest.json')
  let manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : []
  const replace = (pred, entries) => {
    manifest = manifest.filter((e) => !pred(e)).concat(entries)
  }
  const t0 = Date.now()
  if (want.has('test')) {
    const seconds = Number(o.seconds ?? 12)
    console.log(`test: 6 songs x ${seconds} s`)
    replace((e) => e.source === 'midi-synth' && e.id?.startsWith('test-'), await makeSynth(testSpecs({ seconds, seed: o.seed }), outDir, { jobs, force: o.force }))
  }
  if (want.has('synth')) {
    const seconds = Number(o.seconds ?? 30)
    const count = Number(o.count)
    console.log(`synth: ${count} songs x ${seconds} s`)
    replace((e) => e.source === 'midi-synth' && e.id?.startsWith('song-'), await makeSynth(synthSpecs({ count, seconds, seed: o.seed }), outDir, { jobs, force: o.force }))
  }
  if (want.has('loops')) { console.log('loops: sonic-pi'); replace((e) => e.source === 'sonic-pi-loop', await makeLoops(outDir, { force: o.force })) }
  if (want.has('blupi')) { console.log('blupi: planetblupi MIDI, first 60 s'); replace((e) => e.source === 'planetblupi', await makeBlupi(outDir, { force: o.force, jobs })) }
  if (want.has('fof')) { console.log('fof: Frets on Fire songs'); replace((e) => e.source === 'fof-chart', await makeFof(outDir, { force: o.force })) }
  if (want.has('unlabeled')) { console.log('unlabeled: singularity-music'); replace((e) => e.source === 'unlabeled', makeUnlabeled(outDir)) }
  const order = ['midi-synth', 'sonic-pi-loop', 'planetblupi', 'fof-chart', 'unlabeled']
  manifest.sort((a, b) => order.indexOf(a.source) - order.indexOf(b.source) || String(a.id).localeCompare(String(b.id)))
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 1) + '\n')
  const gi = join(outDir, '.gitignore')
  if (!existsSync(gi)) writeFileSync(gi, '# generated by scripts/make-groundtruth.mjs\n*\n!.gitignore\n')
  console.log(`wrote ${manifestPath} (${manifest.length} entries) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e.stack || String(e))
    process.exit(1)
  })
}
