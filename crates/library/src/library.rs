//! [`Library`]: a store, its recommendation index and its preference model
//! behind one handle.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use resonode_analysis::AnalyzeOptions;
use resonode_core::{Error, Result};

use crate::learn::{target, ModelState};
use crate::recommend::{Components, Index, RecommendFrom, RecommendOptions, Recommendation, Reference};
use crate::scan::{now_ms, ScanOptions, ScanProgress, ScanSummary};
use crate::spec::{OpenOptions, StoreSpec};
use crate::sqlite::{SqliteStore, DEFAULT_BUSY_TIMEOUT};
use crate::store::{FeedbackRow, IndexRow, Play, SessionId, SessionRecord, Store, TrackId, TrackRecord, TrackRef};

/// One feedback event: after `from` (a track, or what was playing live),
/// the user accepted or rejected `to`, optionally with a rating (0..1).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackInput {
    pub session: Option<SessionId>,
    pub from: RecommendFrom,
    pub to: TrackRef,
    pub accepted: bool,
    pub rating: Option<f64>,
}

/// What a feedback call stored and learned.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackOutcome {
    pub id: i64,
    /// The transition's components when the feedback was given.
    pub components: Components,
    /// The model after learning from it.
    pub model: ModelState,
}

/// The music library. Not `Sync`: share it behind a lock, or open one per
/// thread (SQLite in WAL mode lets readers and a writer work at once;
/// PostgreSQL takes handles from any number of processes and machines).
pub struct Library {
    store: Box<dyn Store>,
    index: Option<Index>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("location", &self.store.location()).finish_non_exhaustive()
    }
}

fn row_of(rec: &TrackRecord) -> Result<IndexRow> {
    let d = rec.descriptors.as_ref().ok_or_else(|| Error::InvalidState {
        reason: format!(
            "track {} ({}) has no analysis: {}",
            rec.id,
            rec.path,
            rec.error.as_deref().unwrap_or("analysis failed")
        ),
    })?;
    Ok(IndexRow {
        id: rec.id,
        path: rec.path.clone(),
        tempo_bpm: d.tempo.map(|t| t.bpm),
        key_tonic: d.key.map(|k| k.tonic),
        mode: d.key.map(|k| k.mode),
        loudness_lufs: d.loudness.integrated_lufs,
        energy: d.energy,
        summary: d.summary.clone(),
    })
}

impl Library {
    /// A library over any store.
    pub fn new(store: Box<dyn Store>) -> Library {
        Library { store, index: None }
    }

    /// Opens (creating on first use) the SQLite library at `path`.
    ///
    /// # Errors
    /// See [`SqliteStore::open`].
    pub fn open(path: &Path, busy_timeout: Option<Duration>) -> Result<Library> {
        Ok(Library::new(Box::new(SqliteStore::open(path, busy_timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT))?)))
    }

    /// Opens the library `location` names: a PostgreSQL URL
    /// (`postgres://user[:password]@host[:port]/database[?param=value...]`,
    /// connected now) or else the path of a SQLite file (created on first
    /// use). See [`StoreSpec`].
    ///
    /// # Errors
    /// `Error::InvalidParameter` (malformed URL, unknown parameter), and those
    /// of [`SqliteStore::open`] / [`crate::PostgresStore::connect`]
    /// (`Error::DatabaseUnavailable` when the server cannot be reached).
    pub fn open_url(location: &str, options: &OpenOptions) -> Result<Library> {
        Library::open_spec(&StoreSpec::parse(location)?, options)
    }

    /// Opens a parsed [`StoreSpec`].
    pub fn open_spec(spec: &StoreSpec, options: &OpenOptions) -> Result<Library> {
        Ok(Library::new(spec.open(options)?))
    }

    /// Where the library lives.
    pub fn location(&self) -> &str {
        self.store.location()
    }

    /// The store, for what this handle does not wrap.
    pub fn store(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// Scans a folder into the library: see [`crate::scan::scan`].
    pub fn scan(&mut self, dir: &Path, opts: &ScanOptions, stop: &AtomicBool, on_progress: impl FnMut(&ScanProgress)) -> Result<ScanSummary> {
        crate::scan::scan(self.store.as_mut(), dir, opts, stop, on_progress)
    }

    /// Adds or re-analyses one file: see [`crate::scan::add_file`].
    pub fn add_file(&mut self, path: &Path, opts: &AnalyzeOptions, stop: &AtomicBool) -> Result<TrackRecord> {
        crate::scan::add_file(self.store.as_mut(), path, opts, stop)
    }

    /// # Errors
    /// `Error::TrackNotFound`, store errors.
    pub fn track(&mut self, which: &TrackRef) -> Result<TrackRecord> {
        self.store.track(which)
    }

    /// Every track, by path.
    pub fn tracks(&mut self) -> Result<Vec<TrackRecord>> {
        self.store.tracks()
    }

    /// Removes a track and the feedback about transitions into it.
    pub fn remove(&mut self, which: &TrackRef) -> Result<TrackRecord> {
        self.store.remove_track(which)
    }

    /// The index, rebuilt when the tracks changed and with fresh feedback totals.
    fn index(&mut self) -> Result<&Index> {
        let (tracks, feedback) = self.store.generation()?;
        if self.index.as_ref().is_none_or(|ix| ix.generation != tracks) {
            let mut rows = Vec::new();
            self.store.index_rows(&mut |r| rows.push(r))?;
            self.index = Some(Index::build(rows, tracks));
        }
        if self.index.as_ref().is_some_and(|ix| ix.feedback_generation != feedback) {
            let totals = self.store.feedback_totals()?;
            if let Some(ix) = self.index.as_mut() {
                ix.set_feedback(&totals, feedback);
            }
        }
        self.index.as_ref().ok_or_else(|| Error::Internal { message: "library index missing".into() })
    }

    /// The preference model now (defaults until feedback arrives).
    pub fn model(&mut self) -> Result<ModelState> {
        Ok(self.store.model()?.unwrap_or_default())
    }

    /// Brings the index up to date now (recommendations otherwise do it on
    /// their first call after a change).
    pub fn warm(&mut self) -> Result<usize> {
        Ok(self.index()?.len())
    }

    fn reference(&mut self, from: &RecommendFrom) -> Result<Reference> {
        let row = match from {
            RecommendFrom::Track(which) => Some(row_of(&self.store.track(which)?)?),
            RecommendFrom::Current(_) => None,
        };
        let current = match from {
            RecommendFrom::Current(c) => Some(c),
            RecommendFrom::Track(_) => None,
        };
        let ix = self.index()?;
        Ok(ix.reference(row.as_ref().map(|r| (r.id, r)), current))
    }

    /// Ranks the tracks that can follow `from`: see [`crate::recommend`].
    /// Leaves out `from` itself, the tracks played in `opts.session` and
    /// `opts.exclude`.
    ///
    /// # Errors
    /// `Error::TrackNotFound`, `Error::InvalidState` for a track whose
    /// analysis failed, `Error::InvalidParameter` for bad options, store errors.
    pub fn recommend(&mut self, from: &RecommendFrom, opts: &RecommendOptions) -> Result<Vec<Recommendation>> {
        opts.validate()?;
        let r = self.reference(from)?;
        let mut excluded = opts.exclude.clone();
        if let Some(s) = opts.session {
            excluded.extend(self.store.session(s)?.plays.iter().filter_map(|p| p.track));
        }
        let pairs = match r.track {
            Some(id) => self.store.pair_feedback(id)?,
            None => Vec::new(),
        };
        let model = self.model()?;
        Ok(self.index()?.rank(&r, &model, opts, &excluded, &pairs))
    }

    /// Stores a feedback event and trains the preference model on it, in
    /// one transaction; the next [`recommend`](Self::recommend) uses both.
    ///
    /// # Errors
    /// `Error::InvalidParameter` for a rating outside 0..1 (nothing is
    /// stored), `Error::TrackNotFound`, `Error::InvalidState` when `to` has
    /// no analysis, store errors.
    pub fn add_feedback(&mut self, f: &FeedbackInput) -> Result<FeedbackOutcome> {
        // A bad rating is refused before anything is read or stored.
        target(f.accepted, f.rating)?;
        if let Some(s) = f.session {
            self.store.session(s)?;
        }
        let to = self.store.track(&f.to)?;
        row_of(&to)?;
        let r = self.reference(&f.from)?;
        let pair = match r.track {
            Some(id) => self.store.pair_feedback(id)?.into_iter().find(|p| p.to == to.id).map(|p| (p.sum, p.count)),
            None => None,
        };
        let components = self
            .index()?
            .components_for(to.id, &r, &RecommendOptions::default(), pair)
            .ok_or_else(|| Error::TrackNotFound { track: to.id.to_string() })?;
        let row = FeedbackRow {
            session: f.session,
            from: r.track,
            to: to.id,
            accepted: f.accepted,
            rating: f.rating,
            components: components.as_array(),
            created_at_ms: now_ms(),
        };
        // The model is read and updated inside the store's transaction: two
        // handles giving feedback at once both count.
        let (id, model) = self.store.add_feedback(&row)?;
        Ok(FeedbackOutcome { id, components, model })
    }

    /// Back to the default model; earlier feedback no longer counts
    /// (its rows are kept).
    pub fn reset_learning(&mut self) -> Result<()> {
        self.store.reset_model()
    }

    /// Starts a mix session (`source` says what plays: a file, a device).
    pub fn begin_session(&mut self, source: Option<&str>) -> Result<SessionId> {
        self.store.begin_session(source, now_ms())
    }

    pub fn end_session(&mut self, id: SessionId) -> Result<()> {
        self.store.end_session(id, now_ms())
    }

    /// Records that `track` (or something outside the library, `label`) started playing.
    pub fn add_play(&mut self, session: SessionId, track: Option<TrackId>, label: Option<&str>) -> Result<Play> {
        self.store.add_play(session, track, label, now_ms())
    }

    pub fn session(&mut self, id: SessionId) -> Result<SessionRecord> {
        self.store.session(id)
    }
}
