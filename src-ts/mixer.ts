/**
 * The mixer's streaming integration: {@link MixerSession} analyses what is
 * playing (a file stream, or a live engine's audio) and keeps the
 * recommendations for what can follow up to date, stores the session and
 * its plays, and takes the user's feedback.
 */
import { EventEmitter } from 'node:events'
import { Analyzer, ANALYSIS_KEYS, type AnalysisOptions, type LiveAnalysis } from './analysis'
import { makeError, type ResonodeError } from './errors'
import { checkOptions, keysOf } from './options'
import type { Library, Recommendation, CurrentFeatures, FeedbackResult, Play, TrackRef } from './library'
import { StreamingPipeline } from './pipeline'
import { CallbackSink } from './sinks'
import { FileSource, type Source } from './sources'
import type { RealtimeProcessor } from './realtime'

/** Options of {@link MixerSession}. */
export interface MixerSessionOptions {
  library: Library
  /** What plays: a file path or a pipeline source (analysed as fast as it decodes; events follow stream time). */
  source?: string | Source
  /** Or a live engine: its processed audio is analysed on its pump thread (attach before its `start()`). */
  realtime?: RealtimeProcessor
  /** Seconds of audio between refreshes of the three events (default 5; the analyzer updates every 1 s). */
  refreshS?: number
  /** Recommendations per refresh (default 10). */
  limit?: number
  /** See `Library.recommend` (default 0.08). */
  tempoTolerance?: number
  /** The library track that is playing, if it is one: it is recorded as the session's first play and left out of recommendations. */
  playing?: TrackRef
  /** Analysis settings (see `Analyzer`). */
  analysis?: AnalysisOptions
}
const SESSION_KEYS = keysOf<MixerSessionOptions>()(['library', 'source', 'realtime', 'refreshS', 'limit', 'tempoTolerance', 'playing', 'analysis'])

/** What is playing now (the `'features'` event): current features for `recommend()`, plus the stream time. */
export interface SessionFeatures extends CurrentFeatures {
  /** Stream time (s) of the analysed audio. */
  timeS: number
  tempoConfidence: number
  keyConfidence: number
  /** Level of the last 4 s (dBFS). */
  levelDbfs: number | null
}

/** Beat and energy predictions (the `'predictions'` event), in stream time (s). */
export interface SessionPredictions {
  timeS: number
  bpm: number | null
  lastBeatS: number | null
  /** The next beats, predicted from the beat phase. */
  nextBeatsS: number[]
  energyTrend: 'rising' | 'steady' | 'dropping' | null
  /** Level change between the last two 4 s windows (dB). */
  energyChangeDb: number | null
}

function features(s: LiveAnalysis): SessionFeatures {
  return {
    timeS: s.timeS,
    tempoBpm: s.tempoBpm ?? null,
    tempoConfidence: s.tempoConfidence,
    key: s.key ?? null,
    mode: s.mode ?? null,
    camelot: s.camelot ?? null,
    keyConfidence: s.keyConfidence,
    loudnessLufs: s.loudnessLufs ?? null,
    levelDbfs: s.levelDbfs ?? null,
    summary: s.summary ?? null,
  }
}

function predictions(s: LiveAnalysis): SessionPredictions {
  return {
    timeS: s.timeS,
    bpm: s.tempoBpm ?? null,
    lastBeatS: s.lastBeatS ?? null,
    nextBeatsS: s.nextBeats,
    energyTrend: (s.energyTrend as SessionPredictions['energyTrend']) ?? null,
    energyChangeDb: s.energyChangeDb ?? null,
  }
}

/**
 * A mix session: analysis of what plays, refreshed recommendations,
 * stored plays and feedback.
 *
 * Events, every `refreshS` seconds of audio (and once at the end of a file
 * source): `'features'` ({@link SessionFeatures}), `'predictions'`
 * ({@link SessionPredictions}), `'recommendations'` (`Recommendation[]`,
 * from the live features, leaving out the session's plays); `'error'`;
 * `'end'` when a file source is done. Getters hold the latest of each.
 *
 * ```ts
 * const session = new MixerSession({ library, realtime: rt, refreshS: 4 })
 * session.on('recommendations', (recs) => show(recs))
 * await session.start(); await rt.start()
 * // ... the user picks recs[0]:
 * await session.addFeedback(null, recs[0].trackId, true, 0.9)
 * await session.play(recs[0].trackId)
 * ```
 *
 * The analyzer never runs in an audio callback: live audio leaves the
 * callback through the engine's lock-free tap.
 */
export class MixerSession extends EventEmitter {
  readonly library: Library
  readonly refreshS: number
  private readonly options: MixerSessionOptions
  private readonly analyzer: Analyzer
  private pipeline: StreamingPipeline | null = null
  private sessionId: number | null = null
  private lastRefreshS = -Infinity
  private inFlight: Promise<void> | null = null
  private latestFeatures: SessionFeatures | null = null
  private latestPredictions: SessionPredictions | null = null
  private latestRecommendations: Recommendation[] | null = null
  private current: TrackRef | null
  private running = false
  private ended: Promise<void> = Promise.resolve()

  constructor(options: MixerSessionOptions) {
    super()
    checkOptions(options, SESSION_KEYS, 'MixerSession')
    checkOptions(options?.analysis, ANALYSIS_KEYS, 'MixerSession `analysis`')
    if (!options || !options.library) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `library`: a Library')
    if ((options.source === undefined) === (options.realtime === undefined)) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `source`: give either `source` (a file or pipeline source) or `realtime` (an engine)')
    }
    const refreshS = options.refreshS ?? 5
    if (!(typeof refreshS === 'number' && refreshS >= 1)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`refreshS\`: at least 1 s, got ${options.refreshS}`)
    this.options = options
    this.library = options.library
    this.refreshS = refreshS
    this.current = options.playing ?? null
    this.analyzer = new Analyzer({ ...(options.analysis ?? {}), track: false })
    this.analyzer.on('update', (s: LiveAnalysis) => this.onUpdate(s))
    this.analyzer.on('error', (e: ResonodeError) => this.fail(e))
    if (options.realtime) this.analyzer.attach(options.realtime)
  }

  /** The stored session's id (null before `start()`). */
  get id(): number | null {
    return this.sessionId
  }

  /** Latest `'features'`, or null. */
  get features(): SessionFeatures | null {
    return this.latestFeatures
  }

  /** Latest `'predictions'`, or null. */
  get predictions(): SessionPredictions | null {
    return this.latestPredictions
  }

  /** Latest `'recommendations'`, or null. */
  get recommendations(): Recommendation[] | null {
    return this.latestRecommendations
  }

  /**
   * Stores the session and starts analysing: a file source runs now (see
   * {@link MixerSession.done}); a live engine's audio is analysed once the
   * engine starts.
   */
  async start(): Promise<void> {
    if (this.running) throw makeError('ERR_INVALID_STATE', 'invalid state: the mixer session is already running')
    const src = this.options.source
    const label = typeof src === 'string' ? src : src instanceof FileSource ? src.path : this.options.realtime ? 'live' : 'stream'
    // A `playing` track that is not in the library fails here, before anything is stored.
    if (this.current != null) this.current = (await this.library.get(this.current)).id
    this.sessionId = await this.library.beginSession(label)
    this.running = true
    if (this.current != null) await this.library.addPlay(this.sessionId, this.current)
    else if (typeof src === 'string') await this.library.addPlay(this.sessionId, null, src)
    if (src !== undefined) {
      const source = typeof src === 'string' ? new FileSource(src) : src
      this.pipeline = new StreamingPipeline({ source, processors: [this.analyzer], sink: new CallbackSink(() => {}), chunkSize: 8192 })
      this.ended = this.pipeline.run().then(
        async () => {
          const s = this.analyzer.state
          if (s) await this.refresh(s, true)
          this.emit('end')
        },
        (e) => this.fail(e),
      )
    }
  }

  /** Resolves when a file source has been analysed to its end (at once for live engines). */
  done(): Promise<void> {
    return this.ended
  }

  /** Stops analysing (a live engine keeps running) and marks the session ended. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.pipeline?.stop()
    await this.ended
    await this.inFlight
    if (this.sessionId != null) await this.library.endSession(this.sessionId)
  }

  /** Records that `track` starts playing now; it is left out of later recommendations. */
  async play(track: TrackRef): Promise<Play> {
    if (this.sessionId == null) throw makeError('ERR_INVALID_STATE', 'invalid state: start() the session first')
    this.current = track
    return this.library.addPlay(this.sessionId, track)
  }

  /**
   * Feedback on a transition: after `fromTrack` (null: what is playing,
   * from the live features), `toTrack` was accepted or rejected, with an
   * optional rating 0..1. Stored with the session; trains the model.
   *
   * @throws InvalidParameterError (rating outside 0..1), TrackNotFoundError
   */
  async addFeedback(fromTrack: TrackRef | null, toTrack: TrackRef, accepted: boolean, rating?: number | null): Promise<FeedbackResult> {
    const from = fromTrack ?? this.current ?? this.latestFeatures ?? {}
    return this.library.addFeedback(from, toTrack, accepted, rating, this.sessionId)
  }

  private onUpdate(s: LiveAnalysis): void {
    if (!this.running || s.timeS - this.lastRefreshS < this.refreshS - 1e-6) return
    this.lastRefreshS = s.timeS
    void this.refresh(s, false)
  }

  private async refresh(s: LiveAnalysis, final: boolean): Promise<void> {
    this.latestFeatures = features(s)
    this.latestPredictions = predictions(s)
    this.emit('features', this.latestFeatures)
    this.emit('predictions', this.latestPredictions)
    // One query at a time; a refresh that finds one running skips its own.
    if (this.inFlight && !final) return
    await this.inFlight
    const from = this.latestFeatures
    const job = (async () => {
      try {
        this.latestRecommendations = await this.library.recommend({
          from,
          limit: this.options.limit ?? 10,
          session: this.sessionId ?? undefined,
          tempoTolerance: this.options.tempoTolerance,
        })
        this.emit('recommendations', this.latestRecommendations)
      } catch (e) {
        this.fail(e as ResonodeError)
      }
    })()
    this.inFlight = job
    await job
    if (this.inFlight === job) this.inFlight = null
  }

  private fail(e: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', e)
  }
}
