/**
 * The music library: analysed tracks in a database, folder scans on all
 * cores, recommendations for what can follow a track or what is playing,
 * and a preference model that learns from feedback.
 *
 * Two databases, one behaviour:
 * - **SQLite** (the default): one file, created on first use, compiled into
 *   the addon. WAL mode: listing and recommending go on while a scan
 *   writes, and each scanned file is committed on its own, so an
 *   interrupted scan (Ctrl-C, `AbortSignal`, `kill -9`) keeps everything
 *   finished and the next scan resumes.
 * - **PostgreSQL** (`new Library({ url: 'postgres://...' })`): the same
 *   schema on a server, shared by processes on several machines. Every
 *   write is one transaction; a track is stored once per path however
 *   many workers scan it; feedback from several mixers at once all counts.
 *   The constructor only checks the URL: the first call connects (on a
 *   worker thread), a call after a lost connection reconnects.
 *
 * The database layer is Rust (`rusqlite`, `postgres`) behind one `Store`
 * interface.
 */
import { resolve } from 'node:path'
import native = require('./native')
import { abortError, awaitNative, callNative, checkSignal, makeError, type ResonodeError } from './errors'
import { checkOptions, keysOf } from './options'

// Apart, so that `resonode library --help` shows it without loading the addon.
import { DEFAULT_LIBRARY_PATH, isDatabaseUrl } from './library-path'
export { DEFAULT_LIBRARY_PATH, isDatabaseUrl }

/** Options of {@link Library}; each applies to one database. */
export interface LibraryOptions {
  /** SQLite only: how long a write waits for another connection's lock before `ERR_DATABASE_LOCKED` (ms, default 5000). */
  busyTimeoutMs?: number
  /**
   * PostgreSQL only: the limit of each connection attempt, the first and
   * every reconnection, before `ERR_DATABASE_UNAVAILABLE` (ms; default the
   * URL's `connect_timeout` parameter, else 10000).
   */
  connectTimeoutMs?: number
}
const LIBRARY_KEYS = keysOf<LibraryOptions>()(['busyTimeoutMs', 'connectTimeoutMs'])

/**
 * Where a {@link Library} lives, with its options: `url` (a PostgreSQL
 * server) or `path` (a SQLite file), not both.
 */
export interface LibraryLocation extends LibraryOptions {
  /**
   * A PostgreSQL connection URL, libpq's syntax:
   * `postgres[ql]://[user[:password]@]host[:port][/database][?param=value&...]`
   * (parameters such as `connect_timeout` (s), `application_name`,
   * `sslmode`, `sslrootcert`). TLS (rustls) with libpq's `sslmode`
   * meanings: `disable`; `prefer` (TLS when the server offers it);
   * `require` (encrypted, certificate not checked); `verify-ca` (signed by
   * a trusted root); `verify-full` (and issued for the host named). Trusted
   * roots: the PEM file `sslrootcert`, else Mozilla's roots (built in).
   * Without `sslmode`: no TLS to a loopback host, `prefer` otherwise.
   */
  url?: string
  /** A SQLite database file (created on first use; default `music_library.db`). */
  path?: string
}
const LOCATION_KEYS = keysOf<LibraryLocation>()(['url', 'path', 'busyTimeoutMs', 'connectTimeoutMs'])

/**
 * A track as stored, in full: the file (`path`, `contentHash`, `sizeBytes`,
 * `mtimeMs`), when and by which analyzer version it was analysed, and the
 * analyzer's descriptors (see `TrackAnalysis`: times in s, tempo in BPM,
 * loudness in LUFS / LU / dBTP). A track whose analysis failed has `error`
 * and `errorCode`, and null / empty descriptors.
 */
export interface LibraryTrack {
  id: number
  path: string
  contentHash: string | null
  sizeBytes: number
  mtimeMs: number
  durationS: number | null
  sampleRate: number | null
  channels: number | null
  tempoBpm: number | null
  tempoConfidence: number | null
  tempoReason: string | null
  key: string | null
  mode: 'major' | 'minor' | null
  camelot: string | null
  keyConfidence: number | null
  keyReason: string | null
  loudnessLufs: number | null
  loudnessRangeLu: number | null
  truePeakDbtp: number | null
  energy: number | null
  beats: number[]
  downbeats: number[]
  summary: number[]
  analyzerVersion: string
  analyzedAt: string
  error: string | null
  errorCode: string | null
}

/** A track in {@link Library.list} (and `resonode library list --json`). */
export interface TrackListEntry {
  id: number
  path: string
  durationS: number | null
  tempoBpm: number | null
  key: string | null
  mode: 'major' | 'minor' | null
  camelot: string | null
  loudnessLufs: number | null
  analyzedAt: string
  /** Why analysis failed; null for analysed tracks. */
  error: string | null
}

/** Scan progress, after each file. */
export type ScanProgress = native.ScanProgressJs
/** What a scan did: counts, `aborted` (true only in the `stats` of an aborted scan's `AbortError`), the files that failed, and the tracks whose files are gone (`missing`; removed when `pruned`). */
export type ScanSummary = native.ScanSummaryJs

/** Options of {@link Library.scan}. */
export interface ScanOptions {
  /** Called after each file (polled every `progressIntervalMs`, and once at the end). */
  onProgress?: (p: ScanProgress) => void
  /**
   * Aborting stops the scan after the files in flight (what finished is
   * kept; the next scan resumes) and rejects with an `AbortError` whose
   * `stats` is the {@link ScanSummary} so far (`aborted: true`). A signal
   * already aborted rejects at once.
   */
  signal?: AbortSignal
  /** Files analysed at once (default: one per core). */
  concurrency?: number
  /** Remove the tracks under `dir` whose files are gone (default false: they are listed in `missing`). */
  prune?: boolean
  /** Milliseconds between progress polls (default 100). */
  progressIntervalMs?: number
}
const SCAN_KEYS = keysOf<ScanOptions>()(['onProgress', 'signal', 'concurrency', 'prune', 'progressIntervalMs'])

/** Options of {@link Library.add}. */
export interface AddOptions {
  /** Aborting stops the analysis within one block of audio; nothing is stored and the call rejects with an `AbortError`. */
  signal?: AbortSignal
}
const ADD_KEYS = keysOf<AddOptions>()(['signal'])

/**
 * What is playing, for recommendations: any subset (missing values make
 * their component neutral). An `Analyzer`'s `state` ({@link LiveAnalysis})
 * fits as it is.
 */
export interface CurrentFeatures {
  tempoBpm?: number | null
  /** Tonic (`C`, `F#`, `Bb`) with `mode`, or `camelot`. */
  key?: string | null
  mode?: string | null
  camelot?: string | null
  loudnessLufs?: number | null
  /** RMS level, linear 0..1. */
  energy?: number | null
  /** A 44-value summary vector (as tracks and live analysis give). */
  summary?: number[] | null
}

/** A track id, or its path. */
export type TrackRef = number | string

/** Options of {@link Library.recommend}. */
export interface RecommendOptions {
  /** A track (id or path) or what is playing now. */
  from: TrackRef | CurrentFeatures
  /** How many (default 10). */
  limit?: number
  /** Leave out what this mix session played (a session id, or a `MixerSession`). */
  session?: number | { id: number | null }
  /** Largest tempo stretch, a fraction (default 0.08 = ±8 %). */
  tempoTolerance?: number
  /** Mixes keep the pitch when stretching (default true); false scores the key as stretched. */
  keyLock?: boolean
  /** Track ids to leave out. */
  exclude?: number[]
}
const RECOMMEND_KEYS = keysOf<RecommendOptions>()(['from', 'limit', 'session', 'tempoTolerance', 'keyLock', 'exclude'])

/** Score components, each 0..1: see {@link Library.recommend}. */
export interface ScoreComponents {
  tempo: number
  harmonic: number
  energy: number
  timbre: number
  learned: number
}

/** One recommended track (`resonode library recommend --json` prints an array of these). */
export interface Recommendation {
  trackId: number
  path: string
  /** Predicted acceptance 0..1 (the preference model over the components). */
  score: number
  components: ScoreComponents
  tempoBpm: number | null
  camelot: string | null
  /** Playback-rate factor bringing the track to the current tempo (null without tempos). */
  stretchRatio: number | null
  /** 1, or 2 / 0.5 when it mixes at double / half time. */
  tempoMultiple: number
}

/** The preference model: a weight per component, a bias, and how many feedback events it learned from. */
export interface PreferenceModel {
  weights: ScoreComponents
  bias: number
  updates: number
}

/** What {@link Library.addFeedback} stored and learned. */
export interface FeedbackResult {
  id: number
  /** The transition's components when the feedback was given. */
  components: ScoreComponents
  model: PreferenceModel
}

/** A play in a mix session. */
export interface Play {
  session: number
  seq: number
  trackId: number | null
  label: string | null
  startedAt: string
}

/** A mix session with its plays in order. */
export interface MixSessionRecord {
  id: number
  source: string | null
  startedAt: string
  endedAt: string | null
  plays: Play[]
}

const iso = (ms: number) => new Date(ms).toISOString()

function track(t: native.LibraryTrackJs): LibraryTrack {
  const a = t.analysis
  return {
    id: t.id,
    path: t.path,
    contentHash: t.contentHash ?? null,
    sizeBytes: t.sizeBytes,
    mtimeMs: t.mtimeMs,
    durationS: a?.durationS ?? null,
    sampleRate: a?.sampleRate ?? null,
    channels: a?.channels ?? null,
    tempoBpm: a?.tempoBpm ?? null,
    tempoConfidence: a?.tempoConfidence ?? null,
    tempoReason: a?.tempoReason ?? null,
    key: a?.key ?? null,
    mode: (a?.mode as 'major' | 'minor' | undefined) ?? null,
    camelot: a?.camelot ?? null,
    keyConfidence: a?.keyConfidence ?? null,
    keyReason: a?.keyReason ?? null,
    loudnessLufs: a?.loudnessLufs ?? null,
    loudnessRangeLu: a?.loudnessRangeLu ?? null,
    truePeakDbtp: a?.truePeakDbtp ?? null,
    energy: a?.energy ?? null,
    beats: a?.beats ?? [],
    downbeats: a?.downbeats ?? [],
    summary: a?.summary ?? [],
    analyzerVersion: t.analyzerVersion,
    analyzedAt: iso(t.analyzedAtMs),
    error: t.error ?? null,
    errorCode: t.errorCode ?? null,
  }
}

function entry(t: native.LibraryTrackJs): TrackListEntry {
  const { id, path, durationS, tempoBpm, key, mode, camelot, loudnessLufs, analyzedAt, error } = track(t)
  return { id, path, durationS, tempoBpm, key, mode, camelot, loudnessLufs, analyzedAt, error }
}

function recommendation(r: native.RecommendationJs): Recommendation {
  return {
    trackId: r.trackId,
    path: r.path,
    score: r.score,
    components: r.components,
    tempoBpm: r.tempoBpm ?? null,
    camelot: r.camelot ?? null,
    stretchRatio: r.stretchRatio ?? null,
    tempoMultiple: r.tempoMultiple,
  }
}

function session(s: native.SessionJs): MixSessionRecord {
  return {
    id: s.id,
    source: s.source ?? null,
    startedAt: iso(s.startedAtMs),
    endedAt: s.endedAtMs == null ? null : iso(s.endedAtMs),
    plays: s.plays.map(play),
  }
}

function play(p: native.PlayJs): Play {
  return { session: p.session, seq: p.seq, trackId: p.trackId ?? null, label: p.label ?? null, startedAt: iso(p.startedAtMs) }
}

function checkRef(which: unknown, name: string): TrackRef {
  if (typeof which === 'number' && Number.isInteger(which)) return which
  // Paths are stored absolute.
  if (typeof which === 'string' && which.length > 0) return resolve(which)
  throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: a track id (integer) or path, got ${JSON.stringify(which)}`)
}

function nativeFrom(from: unknown): number | string | native.CurrentFeaturesDesc {
  if (typeof from === 'number' || typeof from === 'string') return checkRef(from, 'from')
  if (from && typeof from === 'object') {
    const c = from as CurrentFeatures
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
    return {
      tempoBpm: num(c.tempoBpm),
      key: str(c.key),
      mode: str(c.mode),
      camelot: str(c.camelot),
      loudnessLufs: num(c.loudnessLufs),
      energy: num(c.energy),
      summary: Array.isArray(c.summary) ? c.summary : undefined,
    }
  }
  throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `from`: a track id, a path, or current features ({ tempoBpm, key, mode, ... })')
}

function sessionId(s: RecommendOptions['session']): number | undefined {
  if (s == null) return undefined
  if (typeof s === 'number') return s
  return s.id ?? undefined
}

/**
 * A music library in a SQLite file or on a PostgreSQL server.
 *
 * ```ts
 * const library = new Library('music_library.db')         // or new Library({ url: 'postgres://dj@db.lan/music' })
 * await library.scan('~/Music', { onProgress: (p) => console.log(p.done, '/', p.total) })
 * const next = await library.recommend({ from: '/music/a.flac', limit: 5 })
 * ```
 *
 * Recommendation components (each 0..1): **tempo** (stretch needed, trying
 * half / double time; 0 beyond `tempoTolerance`), **harmonic** (Camelot
 * wheel: same key 1, ±1 or relative major/minor 0.9/0.85, diagonal 0.6,
 * ±2 0.5, a semitone 0.45, clashes 0.1), **energy** (loudness continuity,
 * exp(-ΔLUFS² / 32)), **timbre** (cosine similarity of standardised
 * MFCC / spectral summaries) and **learned** (what feedback said of the
 * track). The score is the preference model's predicted acceptance,
 * σ(b + w · components), trained online by {@link Library.addFeedback}.
 *
 * @throws (constructor) InvalidParameterError (a malformed URL or an
 *   unknown parameter or `sslmode` in it, an option of the other
 *   database, `url` and `path` both given), and for SQLite: NotFoundError (the folder does
 *   not exist), DatabaseError (not a library, damaged, made by a newer
 *   resonode; the file is left untouched), DatabaseLockedError. A
 *   PostgreSQL server is only reached by the first call, which rejects
 *   with DatabaseUnavailableError (`ERR_DATABASE_UNAVAILABLE`: cannot
 *   connect within `connectTimeoutMs`) or DatabaseError (no such
 *   database, refused credentials, a TLS certificate refused, made by a
 *   newer resonode); the next call tries again. Messages and {@link Library.location} never show the
 *   URL's password.
 */
export class Library {
  /** Absolute path of the SQLite database file; `null` for a PostgreSQL library (see {@link Library.location}). */
  readonly path: string | null
  /** Where the library lives: the absolute file path, or the server URL without its password (`postgres://user@host:port/database`). */
  readonly location: string
  /** Which database: `'sqlite'` or `'postgres'`. */
  readonly backend: 'sqlite' | 'postgres'
  private readonly native: native.NativeLibrary

  /**
   * `new Library()` (the file `music_library.db`), `new Library(path, options?)`,
   * `new Library(url, options?)` (a `postgres://` / `postgresql://` URL),
   * `new Library({ url, ...options })`, `new Library({ path, ...options })`.
   */
  constructor(location: string | LibraryLocation = DEFAULT_LIBRARY_PATH, options: LibraryOptions = {}) {
    let url: string | undefined
    let path: string | undefined
    if (typeof location === 'object' && location !== null && !Array.isArray(location)) {
      checkOptions(location, LOCATION_KEYS, 'Library')
      if (Object.keys(options ?? {}).length > 0) {
        throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `options`: with new Library({ url | path, ... }) the options go in that object')
      }
      const { url: u, path: p, ...rest } = location
      if (u !== undefined && p !== undefined) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `url`: give `url` (PostgreSQL) or `path` (SQLite), not both')
      if (u !== undefined) {
        if (typeof u !== 'string' || !isDatabaseUrl(u)) {
          throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `url`: a PostgreSQL URL (postgres://user@host:port/database); a SQLite file goes in `path`')
        }
        url = u
      } else {
        if (p !== undefined && (typeof p !== 'string' || p.length === 0)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `path`: a database file path')
        if (p !== undefined && isDatabaseUrl(p)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `path`: a file path; a server URL goes in `url`')
        path = p ?? DEFAULT_LIBRARY_PATH
      }
      options = rest
    } else {
      if (typeof location !== 'string' || location.length === 0) {
        throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `path`: a database file path or a postgres:// URL')
      }
      checkOptions(options, LIBRARY_KEYS, 'Library')
      // An explicit `null` passes checkOptions (no options).
      options ??= {}
      if (isDatabaseUrl(location)) url = location
      else path = location
    }
    const t = options.busyTimeoutMs
    if (t !== undefined && !(Number.isInteger(t) && t >= 0)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`busyTimeoutMs\`: a whole number of ms >= 0, got ${t}`)
    const c = options.connectTimeoutMs
    if (c !== undefined && !(Number.isInteger(c) && c >= 1)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`connectTimeoutMs\`: a whole number of ms >= 1, got ${c}`)
    this.backend = url === undefined ? 'sqlite' : 'postgres'
    this.path = url === undefined ? resolve(path as string) : null
    const opened = url ?? this.path as string
    this.native = callNative(() => new native.NativeLibrary(opened, t, c))
    this.location = this.native.location
  }

  /**
   * Analyses every audio file (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC) under `dir` on
   * all cores: unchanged files are skipped, changed ones re-analysed,
   * failures recorded per file (`summary.failures`, and as tracks with
   * `error`). Aborting keeps everything finished.
   *
   * @throws NotFoundError (no such folder), InvalidParameterError (not a
   *   folder), DatabaseError, DatabaseLockedError, DatabaseUnavailableError
   *   (PostgreSQL), AbortError (`ERR_ABORTED`,
   *   `stats`: the {@link ScanSummary} so far)
   */
  async scan(dir: string, options: ScanOptions = {}): Promise<ScanSummary> {
    checkOptions(options, SCAN_KEYS, 'Library.scan()')
    options ??= {} // an explicit `null` passes checkOptions
    const c = options.concurrency
    if (c !== undefined && !(Number.isInteger(c) && c >= 1)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`concurrency\`: a whole number >= 1, got ${c}`)
    const signal = checkSignal(options.signal)
    if (signal?.aborted) throw abortError(signal, undefined, 'Library.scan()')
    const control = new native.ScanControl()
    const abort = () => control.stop()
    signal?.addEventListener('abort', abort, { once: true })
    let lastDone = -1
    const report = () => {
      const p = control.progress()
      if (p.done !== lastDone && p.total > 0) {
        lastDone = p.done
        options.onProgress?.(p)
      }
    }
    const timer = options.onProgress ? setInterval(report, options.progressIntervalMs ?? 100) : null
    try {
      const summary = await awaitNative(this.native.scan(resolve(dir), c, options.prune, control))
      if (options.onProgress) report()
      // `aborted` only when files were left: a scan that finished before the stop resolves.
      if (summary.aborted) throw abortError(signal, summary, 'Library.scan()')
      return summary
    } finally {
      if (timer) clearInterval(timer)
      signal?.removeEventListener('abort', abort)
    }
  }

  /**
   * Adds (or re-analyses) one file. A failed analysis is recorded as a
   * track with `error` and rejects with its error.
   *
   * @throws NotFoundError, DecodeError, UnsupportedFormatError, EmptyAudioError, DatabaseError, AbortError (`ERR_ABORTED`; nothing stored)
   */
  async add(file: string, options: AddOptions = {}): Promise<LibraryTrack> {
    checkOptions(options, ADD_KEYS, 'Library.add()')
    const signal = checkSignal(options?.signal)
    if (signal?.aborted) throw abortError(signal, undefined, 'Library.add()')
    const control = new native.ScanControl()
    const abort = () => control.stop()
    signal?.addEventListener('abort', abort, { once: true })
    try {
      return track(await awaitNative(this.native.add(resolve(file), control)))
    } catch (e) {
      // The native side ends a stopped analysis with ERR_INVALID_STATE; only the signal stops it.
      if (signal?.aborted && (e as ResonodeError).code === 'ERR_INVALID_STATE') throw abortError(signal, undefined, 'Library.add()')
      throw e
    } finally {
      signal?.removeEventListener('abort', abort)
    }
  }

  /** Every track, by path (summary fields; {@link Library.get} has everything). */
  async list(): Promise<TrackListEntry[]> {
    return (await awaitNative(this.native.list())).map(entry)
  }

  /** Every track in full. */
  async tracks(): Promise<LibraryTrack[]> {
    return (await awaitNative(this.native.list())).map(track)
  }

  /** One track by id or path. @throws TrackNotFoundError */
  async get(which: TrackRef): Promise<LibraryTrack> {
    return track(await awaitNative(this.native.get(checkRef(which, 'track'))))
  }

  /** Removes a track (and the feedback about transitions into it); resolves with what was removed. @throws TrackNotFoundError */
  async remove(which: TrackRef): Promise<LibraryTrack> {
    return track(await awaitNative(this.native.remove(checkRef(which, 'track'))))
  }

  /**
   * Ranks the tracks that can follow `from` (a track, or live features),
   * best first, leaving out `from`, the session's plays and `exclude`.
   * See the class docs for the components.
   *
   * @throws TrackNotFoundError, InvalidStateError (the track's analysis failed), InvalidParameterError
   */
  async recommend(options: RecommendOptions): Promise<Recommendation[]> {
    checkOptions(options, RECOMMEND_KEYS, 'Library.recommend()')
    if (!options || options.from === undefined) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `from`: recommend({ from: trackId | path | currentFeatures })')
    const { limit, tempoTolerance, keyLock, exclude } = options
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`limit\`: a whole number >= 1, got ${limit}`)
    const out = await awaitNative(
      this.native.recommend(nativeFrom(options.from), { limit, tempoTolerance, keyLock, exclude, session: sessionId(options.session) }),
    )
    return out.map(recommendation)
  }

  /**
   * Stores that after `from`, `to` was accepted or rejected (optionally
   * rated 0..1), and trains the preference model on it; both are saved in
   * one transaction and used by the next {@link Library.recommend}.
   *
   * @throws InvalidParameterError (rating outside 0..1; nothing is stored), TrackNotFoundError
   */
  async addFeedback(from: TrackRef | CurrentFeatures, to: TrackRef, accepted: boolean, rating?: number | null, session?: number | null): Promise<FeedbackResult> {
    if (typeof accepted !== 'boolean') throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `accepted`: true or false')
    if (rating != null && !(typeof rating === 'number' && rating >= 0 && rating <= 1)) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`rating\`: must be within 0..1, got ${rating}`)
    }
    return awaitNative(this.native.addFeedback(nativeFrom(from), checkRef(to, 'to'), accepted, rating ?? undefined, session ?? undefined))
  }

  /** The preference model now (the defaults until feedback arrives). */
  async model(): Promise<PreferenceModel> {
    return awaitNative(this.native.model())
  }

  /** Back to the default model; earlier feedback stops counting (its rows are kept). */
  async resetLearning(): Promise<void> {
    await awaitNative(this.native.resetLearning())
  }

  /** Loads the recommendation index now (otherwise the first recommend() after a change does); resolves with its size. */
  async warm(): Promise<number> {
    return awaitNative(this.native.warm())
  }

  /** Starts a mix session; resolves with its id. */
  async beginSession(source?: string): Promise<number> {
    return awaitNative(this.native.beginSession(source))
  }

  async endSession(id: number): Promise<void> {
    await awaitNative(this.native.endSession(id))
  }

  /** Records that a track (or something outside the library, `label`) started playing in a session. */
  async addPlay(sessionId: number, which: TrackRef | null, label?: string): Promise<Play> {
    return play(await awaitNative(this.native.addPlay(sessionId, which == null ? undefined : checkRef(which, 'track'), label)))
  }

  /** A mix session with its plays. @throws InvalidParameterError (no such session) */
  async session(id: number): Promise<MixSessionRecord> {
    return session(await awaitNative(this.native.session(id)))
  }

  /**
   * Closes the database; later calls reject with `ERR_INVALID_STATE`. Never
   * blocks: a call already running finishes (its promise settles as usual)
   * and a server connection is closed when it does, off the JS thread.
   */
  close(): void {
    this.native.close()
  }
}
