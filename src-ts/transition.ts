/**
 * Beat-matched transitions: the end of one track mixed into the start of
 * the next, as a DJ would.
 */
import { resolve } from 'node:path'
import native = require('./native')
import { abortError, awaitNative, checkSignal, makeError, type ResonodeError } from './errors'
import { checkOptions, keysOf } from './options'

/** Options of {@link mixTransition}. */
export interface TransitionOptions {
  /** Output file (`.wav` float 32, or `.flac` 24-bit). */
  out: string
  /** Length of the crossfade in beats of A (1..128, default 16). */
  crossfadeBeats?: number
  /** Beats of A alone before the crossfade (default 16; fewer when A is short). */
  leadInBeats?: number
  /** Beats of B alone after the crossfade (default 16; fewer when B is short). */
  tailBeats?: number
  /** Gain B to A's integrated loudness (default true; ±12 dB at most). */
  matchLoudness?: boolean
  /**
   * Aborting stops the render between blocks and rejects with an
   * `AbortError` (no `stats`: the output is written only once the whole
   * transition is rendered, so none exists after an abort).
   */
  signal?: AbortSignal
}
const TRANSITION_KEYS = keysOf<TransitionOptions>()(['out', 'crossfadeBeats', 'leadInBeats', 'tailBeats', 'matchLoudness', 'signal'])

/**
 * What {@link mixTransition} rendered: tempos (BPM), the multiple of B's
 * tempo matched to A's (`tempoMultiple`: 1, or 2 / 0.5 for double / half
 * time), the stretch applied to B (`stretchRatio` = tempo A / (tempo B x
 * multiple), as a playback rate, pitch kept),
 * where A starts and which downbeats were aligned (s), the crossfade in
 * output time (s), loudness of both (LUFS) and the gain on B (dB), and
 * `expectedBeats`: where the beats fall in the output.
 */
export type TransitionReport = native.TransitionReportJs

function beats(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: a whole number of beats within ${min}..${max}, got ${v}`)
  }
  return v
}

/**
 * Renders the end of track `a` into the start of track `b`: both are
 * analysed (tempo, beats, downbeats, EBU R128 loudness); B is time-stretched
 * to A's tempo (at double or half time when that stretches less) without
 * changing its pitch (Signalsmith Stretch); B's first
 * usable downbeat is placed on the last downbeat of A that leaves room for
 * the crossfade; the two are mixed with an equal-power crossfade
 * (cos / sin gains) over `crossfadeBeats` beats; B is gained to A's
 * loudness, and the mix scaled down if it would clip. Runs off the JS
 * thread; not real-time.
 *
 * @throws NotFoundError, DecodeError, UnsupportedFormatError,
 *   InvalidParameterError (beat counts; a track too short for the
 *   crossfade), InvalidStateError (a track without a steady beat),
 *   AbortError (`ERR_ABORTED`)
 */
export async function mixTransition(a: string, b: string, options: TransitionOptions): Promise<TransitionReport> {
  checkOptions(options, TRANSITION_KEYS, 'mixTransition()')
  if (!options || typeof options.out !== 'string' || options.out.length === 0) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `out`: the output file path')
  const desc = {
    crossfadeBeats: beats('crossfadeBeats', options.crossfadeBeats, 1, 128),
    leadInBeats: beats('leadInBeats', options.leadInBeats, 0, 1024),
    tailBeats: beats('tailBeats', options.tailBeats, 0, 1024),
    matchLoudness: options.matchLoudness,
  }
  const signal = checkSignal(options.signal)
  if (signal?.aborted) throw abortError(signal, undefined, 'mixTransition()')
  const control = new native.TransitionControl()
  const abort = () => control.stop()
  signal?.addEventListener('abort', abort, { once: true })
  try {
    return await awaitNative(native.mixTransitionNative(resolve(a), resolve(b), resolve(options.out), desc, control))
  } catch (e) {
    // The native side ends a stopped render with ERR_INVALID_STATE; only the signal stops it.
    if (signal?.aborted && (e as ResonodeError).code === 'ERR_INVALID_STATE') throw abortError(signal, undefined, 'mixTransition()')
    throw e
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}
