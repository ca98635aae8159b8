//! Music library bindings: `NativeLibrary` wraps a `resonode_library::Library`
//! (a SQLite file or a PostgreSQL server) behind a lock; every call runs on
//! a worker thread. A scan opens its own connection, so listing and
//! recommending go on while it writes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Either, ToNapiValue, TypeName};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::Error;
use resonode_library::camelot::parse_camelot;
use resonode_library::descriptors::{parse_mode, parse_tonic};
use resonode_library::learn::COMPONENTS;
use resonode_library::store::{Play, SessionRecord};
use resonode_library::{
    CurrentFeatures, FeedbackInput, Library, OpenOptions, RecommendFrom, RecommendOptions, Recommendation, ScanOptions, ScanProgress,
    ScanSummary, StoreSpec, TrackRecord, TrackRef,
};

use crate::analysis::{track_to_js, TrackAnalysis};
use crate::error::{guard, guard_core, to_napi};

/// The library of one `NativeLibrary`: a SQLite file opens in the
/// constructor; a PostgreSQL server is connected by the first task, on a
/// worker thread, so that connecting never blocks the JS thread (and a
/// failed connection is tried again by the next task).
enum Slot {
    Pending,
    Open(Box<Library>),
    Closed,
}

struct Handle {
    slot: Mutex<Slot>,
    /// Set by `close()`, which never waits for the lock: a task holding it
    /// may be in a network call. Whoever holds the lock next (or releases
    /// it) drops the library, off the JS thread.
    closed: AtomicBool,
    spec: StoreSpec,
    options: OpenOptions,
}

type Shared = Arc<Handle>;

impl Handle {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Once closed, takes the library out of its slot if the lock is free
    /// and returns it, for the caller to drop where blocking is fine (a
    /// PostgreSQL client says goodbye to the server on drop). A holder of
    /// the lock calls this after releasing it: the last one to release
    /// sees the flag and drops the library.
    fn take_if_closed(&self) -> Option<Slot> {
        if !self.is_closed() {
            return None;
        }
        let mut slot = match self.slot.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(std::mem::replace(&mut *slot, Slot::Closed))
    }
}

fn closed() -> Error {
    Error::InvalidState { reason: "the library is closed".into() }
}

type Job<T> = Box<dyn FnOnce(&Shared) -> resonode_core::Result<T> + Send>;

/// A job on the library, run on a worker thread, converted to JS on the JS thread.
pub struct LibraryTask<T: Send + 'static, J> {
    lib: Shared,
    job: Option<Job<T>>,
    to_js: fn(T) -> J,
}

impl<T: Send + 'static, J: ToNapiValue + TypeName + 'static> Task for LibraryTask<T, J> {
    type Output = T;
    type JsValue = J;
    fn compute(&mut self) -> napi::Result<T> {
        let job = self.job.take();
        let lib = self.lib.clone();
        guard_core(move || job.ok_or_else(|| Error::Internal { message: "library task ran twice".into() })?(&lib))
    }
    fn resolve(&mut self, _: Env, out: T) -> napi::Result<J> {
        // Runs in libuv's completion callback: a panic must not unwind there.
        guard(|| Ok((self.to_js)(out)))
    }
}

/// A job holding the library's lock while it runs (opening it first if it is pending).
fn task<T: Send + 'static, J: ToNapiValue + TypeName + 'static>(
    lib: &Shared,
    to_js: fn(T) -> J,
    job: impl FnOnce(&mut Library) -> resonode_core::Result<T> + Send + 'static,
) -> AsyncTask<LibraryTask<T, J>> {
    let job: Job<T> = Box::new(move |shared| {
        if shared.is_closed() {
            drop(shared.take_if_closed());
            return Err(closed());
        }
        let out = {
            let mut guard = shared.slot.lock().unwrap_or_else(|p| p.into_inner());
            let ready = match &*guard {
                Slot::Pending => Library::open_spec(&shared.spec, &shared.options).map(|lib| *guard = Slot::Open(Box::new(lib))),
                _ => Ok(()),
            };
            match (ready, &mut *guard) {
                (Err(e), _) => Err(e),
                (Ok(()), Slot::Open(lib)) if !shared.is_closed() => job(lib),
                _ => Err(closed()),
            }
        };
        // Closed while this job ran: the library goes here, on this worker thread.
        drop(shared.take_if_closed());
        out
    });
    AsyncTask::new(LibraryTask { lib: lib.clone(), job: Some(job), to_js })
}

/// A job on its own connection: the library's lock stays free for readers.
fn detached<T: Send + 'static, J: ToNapiValue + TypeName + 'static>(
    lib: &Shared,
    to_js: fn(T) -> J,
    job: impl FnOnce(&StoreSpec, &OpenOptions) -> resonode_core::Result<T> + Send + 'static,
) -> AsyncTask<LibraryTask<T, J>> {
    let job: Job<T> = Box::new(move |shared| {
        if shared.is_closed() {
            return Err(closed());
        }
        job(&shared.spec, &shared.options)
    });
    AsyncTask::new(LibraryTask { lib: lib.clone(), job: Some(job), to_js })
}

/// A track as stored: the file, and its analysis or why it failed.
#[napi(object)]
pub struct LibraryTrackJs {
    pub id: i64,
    pub path: String,
    /// BLAKE3 of the file's bytes (hex).
    pub content_hash: Option<String>,
    pub size_bytes: f64,
    /// File modification time, ms since the Unix epoch.
    pub mtime_ms: f64,
    /// The descriptors (`analyzerVersion` in them is the current one; the stored one is below).
    pub analysis: Option<TrackAnalysis>,
    /// The analyzer version that analysed (or failed on) the file.
    pub analyzer_version: String,
    /// ms since the Unix epoch.
    pub analyzed_at_ms: f64,
    /// Why analysis failed, and its code.
    pub error: Option<String>,
    pub error_code: Option<String>,
}

fn track_js(r: TrackRecord) -> LibraryTrackJs {
    LibraryTrackJs {
        id: r.id,
        content_hash: r.content_hash,
        size_bytes: r.file.size_bytes as f64,
        mtime_ms: r.file.mtime_ms as f64,
        analysis: r.descriptors.as_ref().map(track_to_js),
        analyzer_version: r.analyzer_version,
        analyzed_at_ms: r.analyzed_at_ms as f64,
        error: r.error,
        error_code: r.error_code,
        path: r.path,
    }
}

fn tracks_js(v: Vec<TrackRecord>) -> Vec<LibraryTrackJs> {
    v.into_iter().map(track_js).collect()
}

/// Progress of a scan.
#[napi(object)]
#[derive(Default)]
pub struct ScanProgressJs {
    pub total: u32,
    pub done: u32,
    pub added: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub failed: u32,
    /// The file just done.
    pub path: String,
}

/// A file a scan could not analyse.
#[napi(object)]
pub struct ScanFailureJs {
    pub path: String,
    pub code: String,
    pub message: String,
}

/// What a scan did.
#[napi(object)]
pub struct ScanSummaryJs {
    pub files: u32,
    pub added: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub failed: u32,
    pub ignored: u32,
    /// Tracks under the folder whose files are gone.
    pub missing: Vec<String>,
    /// Whether they were removed (`prune`).
    pub pruned: bool,
    pub aborted: bool,
    pub duration_s: f64,
    pub failures: Vec<ScanFailureJs>,
}

fn summary_js(s: ScanSummary) -> ScanSummaryJs {
    ScanSummaryJs {
        files: s.files as u32,
        added: s.added as u32,
        updated: s.updated as u32,
        unchanged: s.unchanged as u32,
        failed: s.failed as u32,
        ignored: s.ignored as u32,
        missing: s.missing,
        pruned: s.pruned,
        aborted: s.aborted,
        duration_s: s.duration_s,
        failures: s.failures.into_iter().map(|f| ScanFailureJs { path: f.path, code: f.code, message: f.message }).collect(),
    }
}

/// Stops a scan and reports its progress (polled from JS).
#[napi]
pub struct ScanControl {
    stop: Arc<AtomicBool>,
    progress: Arc<Mutex<ScanProgress>>,
}

#[napi]
impl ScanControl {
    #[napi(catch_unwind, constructor)]
    pub fn new() -> Self {
        ScanControl { stop: Arc::new(AtomicBool::new(false)), progress: Arc::default() }
    }

    /// Ends the scan after the files in flight; what finished is kept.
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Progress so far.
    #[napi(catch_unwind)]
    pub fn progress(&self) -> ScanProgressJs {
        let p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        ScanProgressJs {
            total: p.total as u32,
            done: p.done as u32,
            added: p.added as u32,
            updated: p.updated as u32,
            unchanged: p.unchanged as u32,
            failed: p.failed as u32,
            path: p.path.clone(),
        }
    }
}

impl Default for ScanControl {
    fn default() -> Self {
        Self::new()
    }
}

/// What is playing, as live analysis sees it (see `MixerSession`).
#[napi(object)]
#[derive(Clone, Default)]
pub struct CurrentFeaturesDesc {
    pub tempo_bpm: Option<f64>,
    /// Tonic (`C`, `F#`, `Bb`, ...) with `mode`, or a Camelot code.
    pub key: Option<String>,
    pub mode: Option<String>,
    pub camelot: Option<String>,
    pub loudness_lufs: Option<f64>,
    /// RMS level, linear 0..1.
    pub energy: Option<f64>,
    /// A 44-value summary vector like the tracks'.
    pub summary: Option<Vec<f64>>,
}

fn current(c: &CurrentFeaturesDesc) -> resonode_core::Result<CurrentFeatures> {
    let key = match (&c.key, &c.mode, &c.camelot) {
        (Some(k), Some(m), _) => Some((
            parse_tonic(k).ok_or_else(|| Error::param("key", format!("`{k}` is not a key (C, C#, Db, ... B)")))?,
            parse_mode(m).ok_or_else(|| Error::param("mode", format!("`{m}` is not major or minor")))?,
        )),
        (Some(_), None, None) => return Err(Error::param("mode", "a key needs its mode (major or minor)")),
        (_, _, Some(code)) => Some(parse_camelot(code).ok_or_else(|| Error::param("camelot", format!("`{code}` is not a Camelot code (1A..12B)")))?),
        _ => None,
    };
    Ok(CurrentFeatures {
        tempo_bpm: c.tempo_bpm,
        key_tonic: key.map(|k| k.0),
        mode: key.map(|k| k.1),
        loudness_lufs: c.loudness_lufs,
        energy: c.energy,
        summary: c.summary.clone(),
    })
}

fn track_ref(which: Either<i64, String>) -> TrackRef {
    match which {
        Either::A(id) => TrackRef::Id(id),
        Either::B(path) => TrackRef::path(&path),
    }
}

fn from_desc(from: Either<Either<i64, String>, CurrentFeaturesDesc>) -> resonode_core::Result<RecommendFrom> {
    Ok(match from {
        Either::A(which) => RecommendFrom::Track(track_ref(which)),
        Either::B(c) => RecommendFrom::Current(current(&c)?),
    })
}

/// Options of `recommend`.
#[napi(object)]
#[derive(Default)]
pub struct RecommendOptionsDesc {
    pub limit: Option<u32>,
    pub session: Option<i64>,
    pub tempo_tolerance: Option<f64>,
    pub key_lock: Option<bool>,
    pub exclude: Option<Vec<i64>>,
}

/// Score components, each 0..1.
#[napi(object)]
pub struct ComponentsJs {
    pub tempo: f64,
    pub harmonic: f64,
    pub energy: f64,
    pub timbre: f64,
    pub learned: f64,
}

fn components_js(c: resonode_library::Components) -> ComponentsJs {
    ComponentsJs { tempo: c.tempo, harmonic: c.harmonic, energy: c.energy, timbre: c.timbre, learned: c.learned }
}

/// One recommended track.
#[napi(object)]
pub struct RecommendationJs {
    pub track_id: i64,
    pub path: String,
    /// Predicted acceptance, 0..1.
    pub score: f64,
    pub components: ComponentsJs,
    pub tempo_bpm: Option<f64>,
    pub camelot: Option<String>,
    /// Playback-rate factor bringing the candidate to the current tempo.
    pub stretch_ratio: Option<f64>,
    /// 1, or 2 / 0.5 when mixed at double / half time.
    pub tempo_multiple: f64,
}

fn recs_js(v: Vec<Recommendation>) -> Vec<RecommendationJs> {
    v.into_iter()
        .map(|r| RecommendationJs {
            track_id: r.track_id,
            path: r.path,
            score: r.score,
            components: components_js(r.components),
            tempo_bpm: r.tempo_bpm,
            camelot: r.camelot,
            stretch_ratio: r.stretch_ratio,
            tempo_multiple: r.tempo_multiple,
        })
        .collect()
}

/// The preference model: one weight per component, a bias, and the feedback events learned from.
#[napi(object)]
pub struct ModelJs {
    pub weights: ComponentsJs,
    pub bias: f64,
    pub updates: f64,
}

fn model_js(m: resonode_library::learn::ModelState) -> ModelJs {
    let w = m.weights;
    debug_assert_eq!(COMPONENTS.len(), w.len());
    ModelJs {
        weights: ComponentsJs { tempo: w[0], harmonic: w[1], energy: w[2], timbre: w[3], learned: w[4] },
        bias: m.bias,
        updates: m.updates as f64,
    }
}

/// What a feedback call stored and learned.
#[napi(object)]
pub struct FeedbackJs {
    pub id: i64,
    pub components: ComponentsJs,
    pub model: ModelJs,
}

/// A play in a mix session.
#[napi(object)]
pub struct PlayJs {
    pub session: i64,
    pub seq: i64,
    pub track_id: Option<i64>,
    pub label: Option<String>,
    pub started_at_ms: f64,
}

fn play_js(p: Play) -> PlayJs {
    PlayJs { session: p.session, seq: p.seq, track_id: p.track, label: p.label, started_at_ms: p.started_at_ms as f64 }
}

/// A mix session and its plays.
#[napi(object)]
pub struct SessionJs {
    pub id: i64,
    pub source: Option<String>,
    pub started_at_ms: f64,
    pub ended_at_ms: Option<f64>,
    pub plays: Vec<PlayJs>,
}

fn session_js(s: SessionRecord) -> SessionJs {
    SessionJs {
        id: s.id,
        source: s.source,
        started_at_ms: s.started_at_ms as f64,
        ended_at_ms: s.ended_at_ms.map(|v| v as f64),
        plays: s.plays.into_iter().map(play_js).collect(),
    }
}

/// A music library in a SQLite file or on a PostgreSQL server (see `resonode_library`).
#[napi]
pub struct NativeLibrary {
    lib: Shared,
}

fn id(v: i64) -> i64 {
    v
}

fn millis(name: &str, ms: Option<u32>) -> napi::Result<Option<Duration>> {
    // SQLite takes the busy timeout as a C int of milliseconds (rusqlite
    // panics beyond it): refused here as a parameter error.
    match ms {
        Some(ms) if ms > i32::MAX as u32 => Err(to_napi(Error::param(name, format!("{ms} ms is more than {} ms", i32::MAX)))),
        ms => Ok(ms.map(|ms| Duration::from_millis(u64::from(ms)))),
    }
}

#[napi]
impl NativeLibrary {
    /// Opens the library `location` names: a `postgres://` /
    /// `postgresql://` URL (only checked here: the server is connected by
    /// the first call, on a worker thread), or else the path of a SQLite
    /// file (opened now, created on first use). `busyTimeoutMs` applies to
    /// SQLite, `connectTimeoutMs` to PostgreSQL (each connection attempt;
    /// default the URL's `connect_timeout`, else 10 s).
    ///
    /// @throws ERR_INVALID_PARAMETER (malformed URL, unknown parameter or
    /// sslmode, an option of the other backend), ERR_NOT_FOUND (folder missing),
    /// ERR_DATABASE (not a library, damaged, newer schema), ERR_DATABASE_LOCKED
    #[napi(catch_unwind, constructor)]
    pub fn new(location: String, busy_timeout_ms: Option<u32>, connect_timeout_ms: Option<u32>) -> napi::Result<Self> {
        let options = OpenOptions { busy_timeout: millis("busyTimeoutMs", busy_timeout_ms)?, connect_timeout: millis("connectTimeoutMs", connect_timeout_ms)? };
        let spec = guard_core(|| StoreSpec::parse(&location))?;
        let slot = match &spec {
            StoreSpec::Sqlite(_) => {
                if options.connect_timeout.is_some() {
                    return Err(to_napi(Error::param("connectTimeoutMs", "applies to a PostgreSQL URL, not to a SQLite file")));
                }
                Slot::Open(Box::new(guard_core(|| Library::open_spec(&spec, &options))?))
            }
            StoreSpec::Postgres(_) => {
                if options.busy_timeout.is_some() {
                    return Err(to_napi(Error::param("busyTimeoutMs", "applies to a SQLite file, not to a PostgreSQL URL (see connectTimeoutMs)")));
                }
                Slot::Pending
            }
        };
        Ok(NativeLibrary { lib: Arc::new(Handle { slot: Mutex::new(slot), closed: AtomicBool::new(false), spec, options }) })
    }

    /// Where the library lives: the file path as given, or the server URL without its password.
    #[napi(getter, catch_unwind)]
    pub fn location(&self) -> String {
        self.lib.spec.location()
    }

    /// Closes the database (later calls reject with ERR_INVALID_STATE).
    /// Never blocks: a call in progress finishes, and the connection is
    /// closed when it does, on a worker thread.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.lib.closed.store(true, Ordering::SeqCst);
        if let Some(Slot::Open(lib)) = self.lib.take_if_closed() {
            match self.lib.spec {
                // A file closes at once: it can be moved or deleted when close() returns.
                StoreSpec::Sqlite(_) => drop(lib),
                // Dropping a PostgreSQL client talks to the server (Terminate):
                // not on the JS thread.
                StoreSpec::Postgres(_) => {
                    let _ = std::thread::Builder::new().name("resonode-library-close".into()).spawn(move || drop(lib));
                }
            }
        }
    }

    /// Scans `dir` on its own connection; `concurrency` files at once (0 =
    /// one per core); `prune` removes tracks whose files are gone.
    ///
    /// @throws ERR_NOT_FOUND, ERR_INVALID_PARAMETER (not a folder), ERR_DATABASE, ERR_DATABASE_LOCKED, ERR_DATABASE_UNAVAILABLE
    #[napi(catch_unwind, ts_return_type = "Promise<ScanSummaryJs>")]
    pub fn scan(
        &self,
        dir: String,
        concurrency: Option<u32>,
        prune: Option<bool>,
        control: &ScanControl,
    ) -> AsyncTask<LibraryTask<ScanSummary, ScanSummaryJs>> {
        let (stop, progress) = (control.stop.clone(), control.progress.clone());
        let opts = ScanOptions { concurrency: concurrency.unwrap_or(0) as usize, prune: prune.unwrap_or(false), ..Default::default() };
        detached(&self.lib, summary_js, move |spec, options| {
            let mut store = spec.open(options)?;
            resonode_library::scan(store.as_mut(), &PathBuf::from(dir), &opts, &stop, |p| {
                *progress.lock().unwrap_or_else(|p| p.into_inner()) = p.clone();
            })
        })
    }

    /// Adds (or re-analyses) one file; a failed analysis is recorded and rejects with its error.
    #[napi(catch_unwind, ts_return_type = "Promise<LibraryTrackJs>")]
    pub fn add(&self, path: String, control: &ScanControl) -> AsyncTask<LibraryTask<TrackRecord, LibraryTrackJs>> {
        let stop = control.stop.clone();
        task(&self.lib, track_js, move |lib| lib.add_file(&PathBuf::from(path), &Default::default(), &stop))
    }

    /// Every track, by path.
    #[napi(catch_unwind, ts_return_type = "Promise<LibraryTrackJs[]>")]
    pub fn list(&self) -> AsyncTask<LibraryTask<Vec<TrackRecord>, Vec<LibraryTrackJs>>> {
        task(&self.lib, tracks_js, |lib| lib.tracks())
    }

    /// One track by id or path. @throws ERR_TRACK_NOT_FOUND
    #[napi(catch_unwind, ts_return_type = "Promise<LibraryTrackJs>")]
    pub fn get(&self, which: Either<i64, String>) -> AsyncTask<LibraryTask<TrackRecord, LibraryTrackJs>> {
        let which = track_ref(which);
        task(&self.lib, track_js, move |lib| lib.track(&which))
    }

    /// Removes a track; resolves with what was removed. @throws ERR_TRACK_NOT_FOUND
    #[napi(catch_unwind, ts_return_type = "Promise<LibraryTrackJs>")]
    pub fn remove(&self, which: Either<i64, String>) -> AsyncTask<LibraryTask<TrackRecord, LibraryTrackJs>> {
        let which = track_ref(which);
        task(&self.lib, track_js, move |lib| lib.remove(&which))
    }

    /// Ranks the tracks that can follow a track (id or path) or live features.
    ///
    /// @throws ERR_TRACK_NOT_FOUND, ERR_INVALID_STATE (the track has no analysis), ERR_INVALID_PARAMETER
    #[napi(catch_unwind, ts_return_type = "Promise<RecommendationJs[]>")]
    pub fn recommend(
        &self,
        from: Either<Either<i64, String>, CurrentFeaturesDesc>,
        options: Option<RecommendOptionsDesc>,
    ) -> AsyncTask<LibraryTask<Vec<Recommendation>, Vec<RecommendationJs>>> {
        let o = options.unwrap_or_default();
        let from = from_desc(from);
        task(&self.lib, recs_js, move |lib| {
            let base = RecommendOptions::default();
            let opts = RecommendOptions {
                limit: o.limit.map_or(base.limit, |v| v as usize),
                session: o.session,
                tempo_tolerance: o.tempo_tolerance.unwrap_or(base.tempo_tolerance),
                key_lock: o.key_lock.unwrap_or(base.key_lock),
                exclude: o.exclude.unwrap_or_default(),
            };
            lib.recommend(&from?, &opts)
        })
    }

    /// Stores feedback (after `from`, `to` was accepted or not, rating 0..1) and learns from it.
    ///
    /// @throws ERR_INVALID_PARAMETER (rating outside 0..1, unknown session), ERR_TRACK_NOT_FOUND
    #[napi(catch_unwind, ts_return_type = "Promise<FeedbackJs>")]
    pub fn add_feedback(
        &self,
        from: Either<Either<i64, String>, CurrentFeaturesDesc>,
        to: Either<i64, String>,
        accepted: bool,
        rating: Option<f64>,
        session: Option<i64>,
    ) -> AsyncTask<LibraryTask<resonode_library::library::FeedbackOutcome, FeedbackJs>> {
        let from = from_desc(from);
        let to = track_ref(to);
        task(
            &self.lib,
            |f| FeedbackJs { id: f.id, components: components_js(f.components), model: model_js(f.model) },
            move |lib| lib.add_feedback(&FeedbackInput { session, from: from?, to, accepted, rating }),
        )
    }

    /// The preference model now.
    #[napi(catch_unwind, ts_return_type = "Promise<ModelJs>")]
    pub fn model(&self) -> AsyncTask<LibraryTask<resonode_library::learn::ModelState, ModelJs>> {
        task(&self.lib, model_js, |lib| lib.model())
    }

    /// Back to the default model; earlier feedback stops counting.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn reset_learning(&self) -> AsyncTask<LibraryTask<(), ()>> {
        task(&self.lib, |()| (), |lib| lib.reset_learning())
    }

    /// Loads the recommendation index now; resolves with the number of tracks in it.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn warm(&self) -> AsyncTask<LibraryTask<usize, u32>> {
        task(&self.lib, |n| n as u32, |lib| lib.warm())
    }

    /// Starts a mix session; resolves with its id.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn begin_session(&self, source: Option<String>) -> AsyncTask<LibraryTask<i64, i64>> {
        task(&self.lib, id, move |lib| lib.begin_session(source.as_deref()))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn end_session(&self, session: i64) -> AsyncTask<LibraryTask<(), ()>> {
        task(&self.lib, |()| (), move |lib| lib.end_session(session))
    }

    /// Records a play (a library track, or a label for anything else).
    #[napi(catch_unwind, ts_return_type = "Promise<PlayJs>")]
    pub fn add_play(&self, session: i64, track: Option<Either<i64, String>>, label: Option<String>) -> AsyncTask<LibraryTask<Play, PlayJs>> {
        let track = track.map(track_ref);
        task(&self.lib, play_js, move |lib| {
            let id = match track {
                Some(t) => Some(lib.track(&t)?.id),
                None => None,
            };
            lib.add_play(session, id, label.as_deref())
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<SessionJs>")]
    pub fn session(&self, session: i64) -> AsyncTask<LibraryTask<SessionRecord, SessionJs>> {
        task(&self.lib, session_js, move |lib| lib.session(session))
    }
}
