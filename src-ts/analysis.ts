/**
 * Music analysis: frame features, tempo and beats, key, loudness — for
 * whole files ({@link analyze}), for streams in a {@link StreamingPipeline}
 * and for live engines ({@link Analyzer}).
 *
 * Frame features follow librosa 0.11's definitions (22050 Hz mono, Hann
 * window 2048, hop 512, centred frames; see the README for each feature's
 * formula and unit) and are checked against librosa on real recordings.
 * Tempo: onset-strength autocorrelation with a log-normal tempo prior
 * (Ellis 2007); beats: dynamic programming (Ellis 2007); key: correlation
 * of mean chroma with key profiles, 24 keys; loudness: EBU R128 /
 * ITU-R BS.1770-4 (integrated LUFS, loudness range LU, true peak dBTP).
 *
 * Live analysis never runs in the audio callback: an attached engine's
 * tapped audio leaves the callback through a lock-free ring and is analysed
 * on the engine's pump thread; in a pipeline, blocks are analysed on a
 * worker thread.
 */
import { EventEmitter } from 'node:events'
import { resolve as resolvePath } from 'node:path'
import native = require('./native')
import { abortError, awaitNative, callNative, checkSignal, makeError, type ResonodeError } from './errors'
import { checkOptions, keysOf } from './options'
import { Processor, type StreamInfo } from './processors'

/** Analysis settings. Defaults: `sampleRate` 22050 Hz, `nFft` 2048, `hopLength` 512, `nMels` 128, `nMfcc` 13, `rolloffPercent` 0.85, `tuning` 0 (A4 = 440 Hz), `floorLookaheadS` 10 (files; live: 0). */
export type AnalysisOptions = native.AnalysisOptionsDesc
/** The keys of {@link AnalysisOptions}, for option checks. @internal */
export const ANALYSIS_KEYS = keysOf<AnalysisOptions>()(['sampleRate', 'nFft', 'hopLength', 'nMels', 'nMfcc', 'rolloffPercent', 'tuning', 'floorLookaheadS'])

/**
 * Frame features, features x frames: one `Float32Array` per feature with
 * one value per analysis frame (`mfcc`: nMfcc rows; `chroma`: 12 rows, C
 * first). Frame `t` (counted from `firstFrame`) is centred at
 * `(firstFrame + t) / frameRate` seconds. Units: `rms` linear amplitude,
 * `zcr` crossings per sample, `centroidHz` / `bandwidthHz` / `rolloffHz` Hz,
 * `flatness` 0..1, `flux` magnitude units, `onsetStrength` dB (mean rise of
 * the log-mel spectrum), `mfcc` dB-scaled cepstrum, `chroma` 0..1 (max-normalised).
 */
export type FeatureBatch = native.FeatureBatch

/**
 * A track's descriptors: `tempoBpm` (null with `tempoReason`), `beats` and
 * `downbeats` (s), `key` (`C`..`B`, sharps) / `mode` / `camelot` (null with
 * `keyReason`), `loudnessLufs`, `loudnessRangeLu`, `truePeakDbtp`, `energy`
 * (RMS level, linear 0..1), and `summary`, a 44-value vector for
 * similarity (MFCC 0-12 means, MFCC 0-12 standard deviations, chroma means,
 * then mean centroid kHz, bandwidth kHz, roll-off kHz, flatness, ZCR,
 * onset strength).
 */
export type TrackAnalysis = native.TrackAnalysis

/** The live state of an {@link Analyzer}: latest frame, tempo, predicted next beats (stream time, s), key, energy trend. */
export type LiveAnalysis = native.LiveAnalysis

/** Options of {@link analyze}. */
export interface AnalyzeOptions extends AnalysisOptions {
  /** Called with the fraction done (0..1; NaN when the length is unknown), at most every `progressIntervalMs`. */
  onProgress?: (fraction: number) => void
  /** Milliseconds between progress calls (default 100). */
  progressIntervalMs?: number
  /** Write every frame's features to this CSV file (streamed; the file is valid even after a failure). */
  framesCsv?: string
  /** Also return every frame's features (memory grows with the file: ~150 bytes per frame). */
  keepFrames?: boolean
  /**
   * Aborting stops the analysis within one block of audio: the CSV is
   * finalised with the frames analysed until then, and the call rejects
   * with an `AbortError` whose `stats` is the {@link AnalyzeProgress} so
   * far. A signal already aborted rejects at once (no CSV is written).
   */
  signal?: AbortSignal
}
const ANALYZE_KEYS = keysOf<AnalyzeOptions>()([...ANALYSIS_KEYS, 'onProgress', 'progressIntervalMs', 'framesCsv', 'keepFrames', 'signal'] as const)

/** How far an aborted {@link analyze} got (the `stats` of its `AbortError`). */
export interface AnalyzeProgress {
  /** Fraction of the file analysed (0..1; NaN when the length is unknown). */
  fraction: number
  /** Analysis frames completed: the data rows of `framesCsv`. */
  frames: number
  /** Always true: the analysis ended early. */
  stopped: true
}

/** {@link TrackAnalysis}, with `features` when `keepFrames` was set. */
export interface AnalyzeResult extends TrackAnalysis {
  /** The analysed file (absolute path): `plot(result)` decodes it again for the panels. */
  path: string
  features?: FeatureBatch
}

const TRACK_NULLABLE = ['tempoBpm', 'tempoReason', 'key', 'mode', 'camelot', 'keyReason', 'loudnessLufs', 'loudnessRangeLu', 'truePeakDbtp']
const LIVE_NULLABLE = ['features', 'tempoBpm', 'lastBeatS', 'key', 'mode', 'camelot', 'energyTrend', 'energyChangeDb', 'levelDbfs', 'loudnessLufs', 'summary']

/** Absent optional fields (napi leaves them undefined) become `null`, as documented. */
function nullable<T extends object>(o: T, keys: string[]): T {
  const out: Record<string, unknown> = { ...(o as Record<string, unknown>) }
  for (const k of keys) out[k] ??= null
  return out as T
}

function nativeOptions(o: AnalysisOptions): AnalysisOptions {
  const { sampleRate, nFft, hopLength, nMels, nMfcc, rolloffPercent, tuning, floorLookaheadS } = o
  return { sampleRate, nFft, hopLength, nMels, nMfcc, rolloffPercent, tuning, floorLookaheadS }
}

/**
 * Analyses a whole file (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC; any rate and channel
 * count) off the JS thread, decoding and analysing on two threads in
 * bounded memory.
 *
 * @throws NotFoundError, UnsupportedFormatError, DecodeError, EmptyAudioError
 *   (no frames), NonFiniteSampleError, InvalidParameterError, IoError (CSV),
 *   AbortError (`ERR_ABORTED`, `stats`: {@link AnalyzeProgress})
 */
export async function analyze(path: string, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  checkOptions(options, ANALYZE_KEYS, 'analyze()')
  options ??= {}
  const r = await runControlled(
    options,
    'analyze()',
    (c) => ({ fraction: c.fraction, frames: c.frames, stopped: true }) satisfies AnalyzeProgress,
    (c) => native.analyzeFileNative(path, nativeOptions(options), c, options.framesCsv, options.keepFrames ?? false),
  )
  const track = analyzeResultOf(r.track, path)
  if (r.features) track.features = r.features
  return track
}

/**
 * The {@link AnalyzeResult} of a file's native analysis: absent fields
 * `null` as documented, `path` absolute.
 * @internal
 */
export function analyzeResultOf(track: native.TrackAnalysis, path: string): AnalyzeResult {
  const result = nullable(track, TRACK_NULLABLE) as AnalyzeResult
  result.path = resolvePath(path)
  return result
}

/**
 * Runs the native file task `task(control)` (an analysis or a plot) off the
 * JS thread under the caller's `signal` and `onProgress`: aborting calls
 * `control.stop()` and the call rejects with an `AbortError` (`stats`:
 * `stopped(control)`; a signal already aborted rejects at once, without
 * running the task); `onProgress` gets `control.fraction` every
 * `progressIntervalMs` (default 100) and 1 on success.
 * @internal
 */
export async function runControlled<T>(
  options: { onProgress?: (fraction: number) => void; progressIntervalMs?: number; signal?: AbortSignal },
  what: string,
  stopped: (control: native.AnalysisControl) => unknown,
  task: (control: native.AnalysisControl) => Promise<T>,
): Promise<T> {
  const signal = checkSignal(options.signal)
  if (signal?.aborted) throw abortError(signal, undefined, what)
  const control = new native.AnalysisControl()
  const abort = () => control.stop()
  signal?.addEventListener('abort', abort, { once: true })
  const { onProgress } = options
  const timer = onProgress ? setInterval(() => onProgress(control.fraction), options.progressIntervalMs ?? 100) : null
  try {
    let r: T
    try {
      r = await awaitNative(task(control))
    } catch (e) {
      // The native side ends a stopped task with ERR_INVALID_STATE; only the signal stops it.
      if (signal?.aborted && (e as ResonodeError).code === 'ERR_INVALID_STATE') throw abortError(signal, stopped(control), what)
      throw e
    }
    onProgress?.(1)
    return r
  } finally {
    if (timer) clearInterval(timer)
    signal?.removeEventListener('abort', abort)
  }
}

/** Options of {@link Analyzer}. */
export interface AnalyzerOptions extends AnalysisOptions {
  /** Compute whole-stream descriptors when a pipeline ends (`'analysis'` event, {@link Analyzer.analysis}); default true. */
  track?: boolean
}

const ANALYZER_KEYS = keysOf<AnalyzerOptions>()([...ANALYSIS_KEYS, 'track'] as const)

/** The part of a live engine an {@link Analyzer} attaches to (a `RealtimeProcessor`). */
export interface AnalyzerHost {
  /** @internal */
  attachAnalyzer(analyzer: Analyzer): void
}

/**
 * A streaming music analyzer, live or offline.
 *
 * - In a {@link StreamingPipeline} (any source: file, callback, microphone)
 *   it passes audio through unchanged and analyses each block on a worker
 *   thread, emitting `'features'` ({@link FeatureBatch}) as frames complete,
 *   `'update'` ({@link LiveAnalysis}) when the rolling tempo / key / trend
 *   change (every second of audio), and at the end `'analysis'`
 *   ({@link TrackAnalysis}) for the whole stream.
 * - Attached to a `RealtimeProcessor` (`analyzer.attach(rt)` before
 *   `rt.start()`, or the `analyzer` option), it is fed the engine's
 *   processed audio from the lock-free tap on the engine's pump thread,
 *   never in the audio callback, and emits `'update'`.
 *
 * At any time: {@link Analyzer.features} (latest frame), {@link Analyzer.tempo},
 * {@link Analyzer.key}, {@link Analyzer.beats} (predicted next beats),
 * {@link Analyzer.energyTrend}. Errors (`ERR_NON_FINITE_SAMPLE`, ...) are
 * emitted as `'error'` when the analyzer is fed by an engine.
 */
export class Analyzer extends Processor {
  readonly kind = 'analyzer'
  readonly options: AnalyzerOptions
  private readonly events = new EventEmitter()
  private nativeAnalyzer: native.NativeAnalyzer | null = null
  private last: LiveAnalysis | null = null
  private final: TrackAnalysis | null = null

  constructor(options: AnalyzerOptions = {}) {
    super()
    checkOptions(options, ANALYZER_KEYS, 'Analyzer')
    this.options = options
    // Validate the settings now rather than at the first block.
    callNative(() => new native.NativeAnalyzer(48000, 1, nativeOptions(options), false))
  }

  on(event: 'features', listener: (f: FeatureBatch) => void): this
  on(event: 'update', listener: (s: LiveAnalysis) => void): this
  on(event: 'analysis', listener: (a: TrackAnalysis) => void): this
  on(event: 'error', listener: (e: ResonodeError) => void): this
  on(event: string, listener: (...args: any[]) => void): this {
    this.events.on(event, listener)
    return this
  }

  once(event: string, listener: (...args: any[]) => void): this {
    this.events.once(event, listener)
    return this
  }

  off(event: string, listener: (...args: any[]) => void): this {
    this.events.off(event, listener)
    return this
  }

  /** Starts a new stream of `info.sampleRate` Hz and `info.channels` channels (pipelines call this). @internal */
  prepare(info: StreamInfo): void {
    const { track, ...rest } = this.options
    this.nativeAnalyzer = callNative(() => new native.NativeAnalyzer(info.sampleRate, info.channels, nativeOptions(rest), track ?? true))
    this.last = null
    this.final = null
  }

  /** Analyses one planar block off the JS thread (pipelines call this). @internal */
  async push(channels: Float32Array[]): Promise<void> {
    if (!this.nativeAnalyzer) throw makeError('ERR_INVALID_STATE', 'invalid state: the analyzer was not prepared for a stream')
    const r = await awaitNative(this.nativeAnalyzer.pushAsync(channels))
    if (r.features) this.events.emit('features', r.features)
    if (r.updated) this.emitUpdate()
  }

  /** Ends the stream; emits `'analysis'` with the whole-stream descriptors (pipelines call this). @internal */
  async end(): Promise<TrackAnalysis | null> {
    if (!this.nativeAnalyzer) return null
    const r = await awaitNative(this.nativeAnalyzer.finishAsync())
    if (r.features) this.events.emit('features', r.features)
    this.emitUpdate()
    this.final = r.track ? nullable(r.track, TRACK_NULLABLE) : null
    if (this.final) this.events.emit('analysis', this.final)
    return this.final
  }

  /** Feeds on `engine`'s processed audio once it starts (call before `start()`). */
  attach(engine: AnalyzerHost): this {
    engine.attachAnalyzer(this)
    return this
  }

  /** @internal */
  bindEngine(sampleRate: number, channels: number): native.NativeAnalyzer {
    const { track: _track, ...rest } = this.options
    this.nativeAnalyzer = callNative(() => new native.NativeAnalyzer(sampleRate, channels, nativeOptions(rest), false))
    this.last = null
    return this.nativeAnalyzer
  }

  /** @internal: the engine's pump says the rolling estimates changed. */
  onEngineUpdate(): void {
    this.emitUpdate()
  }

  /** @internal */
  onEngineError(err: ResonodeError): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', err)
  }

  private emitUpdate(): void {
    if (!this.nativeAnalyzer) return
    this.last = nullable(callNative(() => this.nativeAnalyzer!.snapshot()), LIVE_NULLABLE)
    this.events.emit('update', this.last)
  }

  /** The live state now (latest frame, tempo, beats, key, trend); null before any audio. */
  get state(): LiveAnalysis | null {
    if (!this.nativeAnalyzer) return null
    this.last = nullable(callNative(() => this.nativeAnalyzer!.snapshot()), LIVE_NULLABLE)
    return this.last
  }

  /** The latest frame's features (one value per feature), or null. */
  get features(): FeatureBatch | null {
    return this.state?.features ?? null
  }

  /** Current tempo: `{ bpm, confidence }`, or null without a steady pulse. */
  get tempo(): { bpm: number; confidence: number } | null {
    const s = this.state
    return s?.tempoBpm != null ? { bpm: s.tempoBpm, confidence: s.tempoConfidence } : null
  }

  /** Current key: `{ key, mode, camelot, confidence }`, or null. */
  get key(): { key: string; mode: string; camelot: string; confidence: number } | null {
    const s = this.state
    return s?.key != null ? { key: s.key, mode: s.mode!, camelot: s.camelot!, confidence: s.keyConfidence } : null
  }

  /** Beat phase and prediction: `{ bpm, lastBeatS, nextBeatsS }` in stream time (s), or null. */
  get beats(): { bpm: number; lastBeatS: number; nextBeatsS: number[] } | null {
    const s = this.state
    return s?.tempoBpm != null && s.lastBeatS != null ? { bpm: s.tempoBpm, lastBeatS: s.lastBeatS, nextBeatsS: s.nextBeats } : null
  }

  /** Energy trend: `{ trend: 'rising' | 'steady' | 'dropping', changeDb, windowS }`, or null before two windows of audio. */
  get energyTrend(): { trend: 'rising' | 'steady' | 'dropping'; changeDb: number; windowS: number } | null {
    const s = this.state
    return s?.energyTrend ? { trend: s.energyTrend as 'rising' | 'steady' | 'dropping', changeDb: s.energyChangeDb!, windowS: s.energyWindowS } : null
  }

  /** Whole-stream descriptors after a pipeline ended, or null. */
  get analysis(): TrackAnalysis | null {
    return this.final
  }
}
