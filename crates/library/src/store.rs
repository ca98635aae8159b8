//! The [`Store`] interface: what the library asks of a database. SQLite
//! ([`crate::sqlite::SqliteStore`]) and PostgreSQL
//! ([`crate::postgres::PostgresStore`]) implement it, and everything above
//! it (scanning, recommendations, learning) works unchanged on either.
//!
//! Every method that writes is one transaction: it happens whole or not at
//! all, so an interrupted process never leaves half a track or a feedback
//! row without its model update.

use resonode_core::Result;

use resonode_analysis::TrackDescriptors;
use crate::learn::ModelState;

/// A track's id in the library (stable while the track is in it).
pub type TrackId = i64;
/// A mix session's id.
pub type SessionId = i64;

/// A track named by id or by path (as stored: absolute).
#[derive(Debug, Clone, PartialEq)]
pub enum TrackRef {
    Id(TrackId),
    Path(String),
}

impl std::fmt::Display for TrackRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrackRef::Id(id) => write!(f, "{id}"),
            TrackRef::Path(p) => f.write_str(p),
        }
    }
}

/// File facts used to tell whether a file changed since it was analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub size_bytes: u64,
    /// Modification time, ms since the Unix epoch.
    pub mtime_ms: i64,
}

/// One track as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRecord {
    pub id: TrackId,
    /// Absolute path.
    pub path: String,
    /// BLAKE3 of the file's bytes (hex), when it could be read.
    pub content_hash: Option<String>,
    pub file: FileMeta,
    /// The analysis, or `None` when it failed (see `error`).
    pub descriptors: Option<TrackDescriptors>,
    /// `resonode_analysis::ANALYZER_VERSION` of the analysis (or of the failed attempt).
    pub analyzer_version: String,
    /// When it was analysed (or failed), ms since the Unix epoch.
    pub analyzed_at_ms: i64,
    /// Why analysis failed, and the error's code (`ERR_DECODE`, ...).
    pub error: Option<String>,
    pub error_code: Option<String>,
}

/// What a scan writes for one file: its analysis or its failure.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackWrite {
    pub path: String,
    pub content_hash: Option<String>,
    pub file: FileMeta,
    pub outcome: std::result::Result<TrackDescriptors, (String, String)>,
    pub analyzer_version: String,
    pub analyzed_at_ms: i64,
}

/// What a scan needs to know about a path already in the library.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    pub id: TrackId,
    pub content_hash: Option<String>,
    pub file: FileMeta,
    pub analyzer_version: String,
    pub failed: bool,
}

/// The columns recommendations read for every track, kept in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub id: TrackId,
    pub path: String,
    pub tempo_bpm: Option<f64>,
    pub key_tonic: Option<u8>,
    pub mode: Option<resonode_analysis::Mode>,
    pub loudness_lufs: Option<f64>,
    pub energy: f64,
    pub summary: Vec<f64>,
}

/// One feedback event: the user accepted or rejected `to` after `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    pub session: Option<SessionId>,
    /// `None` when what played was not a library track (live input).
    pub from: Option<TrackId>,
    pub to: TrackId,
    pub accepted: bool,
    /// 0..1, or `None`.
    pub rating: Option<f64>,
    /// The score components the model saw (tempo, harmonic, energy, timbre, learned).
    pub components: [f64; 5],
    pub created_at_ms: i64,
}

/// Feedback totals for one target track: the sum of targets `y` (see
/// [`crate::learn::target`]) and the count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackTotals {
    pub to: TrackId,
    pub sum: f64,
    pub count: f64,
}

/// A play in a mix session.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    pub session: SessionId,
    /// Order within the session, from 0.
    pub seq: i64,
    pub track: Option<TrackId>,
    /// What played when it is not a library track (a device, a URL, ...).
    pub label: Option<String>,
    pub started_at_ms: i64,
}

/// A mix session with its plays in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub source: Option<String>,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub plays: Vec<Play>,
}

/// A library database. See the module docs.
///
/// # Errors
/// Every method: `Error::Database` (damaged file, failed statement),
/// `Error::DatabaseLocked` (the write lock stayed taken past the busy
/// timeout; on a server also a deadlock or serialization failure),
/// `Error::DatabaseUnavailable` (a server that cannot be reached or that
/// dropped the connection; the call committed whole or not at all, and
/// when the connection dropped during its COMMIT which one is unknown:
/// only retry calls that are idempotent, such as the upserts and deletes,
/// not `begin_session`, `add_play` or `add_feedback`); lookups:
/// `Error::TrackNotFound`.
pub trait Store: Send {
    /// Where the data lives (a file path or a server URL without secrets), for messages.
    fn location(&self) -> &str;

    /// The stored state of `path`, or `None` when it is not in the library.
    fn file_state(&mut self, path: &str) -> Result<Option<FileState>>;
    /// Content hashes of the successfully analysed tracks of this analyzer version, with a track id for each.
    fn analysed_hashes(&mut self, analyzer_version: &str) -> Result<Vec<(String, TrackId)>>;
    /// The lowest id of a successfully analysed track of this analyzer
    /// version with this content hash, if any: the one-file form of
    /// [`analysed_hashes`](Self::analysed_hashes), an indexed look-up
    /// whatever the library's size.
    fn analysed_track_with_hash(&mut self, hash: &str, analyzer_version: &str) -> Result<Option<TrackId>>;
    /// Inserts or replaces the track at `w.path` (one row per path).
    fn put_track(&mut self, w: &TrackWrite) -> Result<TrackId>;
    /// Stores `path` (new or replaced) with the analysis of track `from`.
    fn copy_analysis(&mut self, from: TrackId, path: &str, hash: &str, file: FileMeta) -> Result<TrackId>;
    /// Updates the file facts of an unchanged file.
    fn touch_track(&mut self, id: TrackId, file: FileMeta) -> Result<()>;

    fn track(&mut self, which: &TrackRef) -> Result<TrackRecord>;
    /// All tracks, ordered by path.
    fn tracks(&mut self) -> Result<Vec<TrackRecord>>;
    /// Ids and paths of the tracks whose path starts with `prefix`.
    fn paths_under(&mut self, prefix: &str) -> Result<Vec<(TrackId, String)>>;
    /// Removes a track (its feedback goes with it; plays keep their place without it).
    fn remove_track(&mut self, which: &TrackRef) -> Result<TrackRecord>;

    /// Counters that change whenever tracks / feedback change (in any
    /// process): the recommender reloads its in-memory index when they do.
    fn generation(&mut self) -> Result<(i64, i64)>;
    /// Every successfully analysed track's index columns.
    fn index_rows(&mut self, each: &mut dyn FnMut(IndexRow)) -> Result<()>;

    /// Stores a feedback row and the model trained on it, together: in one
    /// transaction the store reads the stored model (the defaults when
    /// there is none), takes one learning step on the row (its
    /// `components` towards [`crate::learn::target`] of `accepted` and
    /// `rating`) and writes the row and the result. Reading inside the
    /// transaction, with the model row locked, is what keeps concurrent
    /// feedback from several handles or machines from losing updates.
    /// Returns the feedback id and the model written.
    fn add_feedback(&mut self, row: &FeedbackRow) -> Result<(i64, ModelState)>;
    /// Feedback totals per target track (over all source tracks).
    fn feedback_totals(&mut self) -> Result<Vec<FeedbackTotals>>;
    /// Feedback totals per target track, for transitions from `from`.
    fn pair_feedback(&mut self, from: TrackId) -> Result<Vec<FeedbackTotals>>;
    /// The stored preference model, or `None` (defaults).
    fn model(&mut self) -> Result<Option<ModelState>>;
    /// Forgets the model and all feedback-derived preferences (feedback rows are kept).
    fn reset_model(&mut self) -> Result<()>;

    fn begin_session(&mut self, source: Option<&str>, now_ms: i64) -> Result<SessionId>;
    fn end_session(&mut self, id: SessionId, now_ms: i64) -> Result<()>;
    fn add_play(&mut self, session: SessionId, track: Option<TrackId>, label: Option<&str>, now_ms: i64) -> Result<Play>;
    fn session(&mut self, id: SessionId) -> Result<SessionRecord>;
}

impl TrackRef {
    /// A path as the library stores it (absolute, resolved) when the file
    /// exists; otherwise as given (a removed file can still be looked up).
    pub fn path(p: &str) -> TrackRef {
        TrackRef::Path(std::fs::canonicalize(p).ok().and_then(|a| a.to_str().map(str::to_string)).unwrap_or_else(|| p.to_string()))
    }
}
