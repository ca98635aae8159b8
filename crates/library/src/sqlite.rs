//! [`SqliteStore`]: the library in one SQLite file, created on first use.
//!
//! - WAL journal: a scan writing on one connection never blocks readers on
//!   others (listing, recommending), in this process or another.
//! - `synchronous = NORMAL`: a committed transaction survives the process
//!   being killed (`kill -9`); only a power cut can lose the last commits,
//!   and never corrupts the file.
//! - The schema is versioned with `PRAGMA user_version` and migrated on
//!   open (`rusqlite_migration`); a file from a newer resonode is refused
//!   rather than touched.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use rusqlite_migration::{Migrations, M};
use resonode_core::{Error, Result};

use crate::descriptors::encode_f32;
use crate::learn::ModelState;
use crate::rows::{copy_of, index_row_from, model_from, track_from, Columns, INDEX_ROWS, MODEL_COLUMNS, TRACKS_JOINED, TRACK_COLUMNS, UPSERT_BEATS, UPSERT_TRACK};
use crate::store::{
    FeedbackRow, FeedbackTotals, FileMeta, FileState, IndexRow, Play, SessionId, SessionRecord, Store, TrackId, TrackRecord, TrackRef,
    TrackWrite,
};

/// Default time to wait for another connection's write lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, oldest first. Never edit one that shipped: add the next.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT,
    size_bytes INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    duration_s REAL,
    sample_rate INTEGER,
    channels INTEGER,
    frames INTEGER,
    tempo_bpm REAL,
    tempo_confidence REAL,
    tempo_reason TEXT,
    key_tonic INTEGER,
    mode TEXT,
    key_confidence REAL,
    key_reason TEXT,
    loudness_lufs REAL,
    loudness_range_lu REAL,
    true_peak_dbtp REAL,
    energy REAL,
    summary BLOB,
    analyzer_version TEXT NOT NULL,
    analyzed_at_ms INTEGER NOT NULL,
    error TEXT,
    error_code TEXT
);
CREATE INDEX tracks_content_hash ON tracks(content_hash);

-- Beat and downbeat times (f32 blobs, ~2 kB for a 3-minute track) apart
-- from the tracks' rows, which recommendations read whole: a few rows per
-- page instead of one.
CREATE TABLE track_beats (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    beats BLOB NOT NULL,
    downbeats BLOB NOT NULL
);

CREATE TABLE mix_sessions (
    id INTEGER PRIMARY KEY,
    source TEXT,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER
);
CREATE TABLE plays (
    session_id INTEGER NOT NULL REFERENCES mix_sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    track_id INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
    label TEXT,
    started_at_ms INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES mix_sessions(id) ON DELETE SET NULL,
    from_track INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
    to_track INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    accepted INTEGER NOT NULL,
    rating REAL,
    target REAL NOT NULL,
    c_tempo REAL NOT NULL,
    c_harmonic REAL NOT NULL,
    c_energy REAL NOT NULL,
    c_timbre REAL NOT NULL,
    c_learned REAL NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX feedback_pair ON feedback(from_track, to_track);
CREATE INDEX feedback_to ON feedback(to_track);

-- One row: the preference model (NULL weights = defaults) and the first
-- feedback id that still counts after a reset.
CREATE TABLE model (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    w_tempo REAL, w_harmonic REAL, w_energy REAL, w_timbre REAL, w_learned REAL, bias REAL,
    updates INTEGER NOT NULL DEFAULT 0,
    feedback_since INTEGER NOT NULL DEFAULT 0,
    updated_at_ms INTEGER
);
INSERT INTO model (id) VALUES (1);

-- Bumped by triggers so that any process can tell its cached index is stale.
CREATE TABLE generations (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO generations VALUES ('tracks', 0), ('feedback', 0);
CREATE TRIGGER tracks_inserted AFTER INSERT ON tracks BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'tracks'; END;
CREATE TRIGGER tracks_deleted AFTER DELETE ON tracks BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'tracks'; END;
CREATE TRIGGER tracks_updated AFTER UPDATE OF path, tempo_bpm, key_tonic, mode, loudness_lufs, energy, summary, error ON tracks BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'tracks'; END;
CREATE TRIGGER feedback_inserted AFTER INSERT ON feedback BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'feedback'; END;
CREATE TRIGGER feedback_deleted AFTER DELETE ON feedback BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'feedback'; END;
CREATE TRIGGER model_updated AFTER UPDATE ON model BEGIN
    UPDATE generations SET value = value + 1 WHERE name = 'feedback'; END;
"#];

/// The library in a SQLite file. See the module docs.
pub struct SqliteStore {
    conn: Connection,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Converts a SQLite failure on the database at `path` into the library's errors.
pub fn db_error(path: &str, e: rusqlite::Error) -> Error {
    let path = path.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            Error::DatabaseLocked { path, reason: format!("another connection holds the write lock ({e})") }
        }
        Some(ErrorCode::NotADatabase) => Error::Database { path, reason: format!("not a resonode library (not a SQLite database): {e}") },
        Some(ErrorCode::DatabaseCorrupt) => Error::Database { path, reason: format!("the database file is damaged: {e}") },
        Some(ErrorCode::ReadOnly) => Error::Database { path, reason: format!("the database is read-only: {e}") },
        Some(ErrorCode::DiskFull) => Error::Database { path, reason: format!("the disk is full: {e}") },
        Some(ErrorCode::CannotOpen) => Error::Database { path, reason: format!("cannot open: {e}") },
        _ => Error::Database { path, reason: e.to_string() },
    }
}

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Schema version this build writes.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

impl SqliteStore {
    /// Opens the library at `path`, creating the file and its schema on
    /// first use and migrating an older schema.
    ///
    /// # Errors
    /// `Error::NotFound` when the folder `path` is in does not exist;
    /// `Error::Database` for a file that is not a SQLite database, is
    /// damaged, or was made by a newer resonode (the file is left as it
    /// was); `Error::DatabaseLocked` when another connection holds the
    /// lock past `busy_timeout`.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(Error::NotFound { path: format!("{} (the folder of library {shown})", dir.display()) });
            }
        }
        if path.is_dir() {
            return Err(Error::Database { path: shown, reason: "is a folder, not a database file".into() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // Processes opening a new file at once (queue workers starting
        // together) race on its set-up: switching to WAL and the first
        // migration can fail at once with "locked" (SQLite does not wait
        // on the busy timeout there) or find the tables just made by the
        // other (it read the old version first). Another try sees the
        // finished set-up and has nothing left to do; the busy timeout
        // bounds the tries.
        let deadline = std::time::Instant::now() + busy_timeout;
        let conn = loop {
            match Self::connect(path, &shown, flags, busy_timeout) {
                Ok(conn) => break conn,
                Err((e, true)) if std::time::Instant::now() < deadline => {
                    log::debug!(target: "resonode::library", "opening {shown} again: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((e, _)) => return Err(e),
            }
        };
        Ok(SqliteStore { conn, path: shown })
    }

    /// Opens `path` and brings it to the current schema. On failure, says
    /// whether another connection's set-up in progress can explain it (the
    /// write lock refused, or a migration statement failing because its
    /// work was just done), so that trying again can succeed.
    fn connect(path: &Path, shown: &str, flags: OpenFlags, busy_timeout: Duration) -> std::result::Result<Connection, (Error, bool)> {
        let fail = |e: rusqlite::Error| {
            let e = db_error(shown, e);
            let again = matches!(e, Error::DatabaseLocked { .. });
            (e, again)
        };
        let mut conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        conn.busy_timeout(busy_timeout).map_err(fail)?;
        // The first statement that reads the file: garbage fails here, before anything is written.
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)).map_err(fail)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;").map_err(fail)?;
        // The migration's transaction takes the write lock when it begins,
        // waiting up to the busy timeout, rather than on its first write.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrations().to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => {
                // Only what another connection's set-up explains: its lock,
                // its tables just made ("already exists", SQLite's generic
                // error) or its schema change under a prepared statement. A
                // read-only, full or damaged file fails at once.
                let again = matches!(
                    err.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::Unknown | ErrorCode::SchemaChanged)
                );
                (db_error(shown, err), again)
            }
            rusqlite_migration::Error::MigrationDefinition(rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead) => (
                Error::Database { path: shown.to_string(), reason: format!("made by a newer resonode (schema newer than version {})", schema_version()) },
                false,
            ),
            other => (Error::Database { path: shown.to_string(), reason: format!("cannot migrate the schema: {other}") }, false),
        })?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Deferred);
        Ok(conn)
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Runs `f` in an immediate transaction (the write lock is taken at the
    /// start, so a busy database fails before any work), committing on `Ok`.
    fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| db_error(&path, e))?;
        let out = f(&tx).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(out)
    }

    fn id_of(&self, which: &TrackRef) -> Result<TrackId> {
        let found = match which {
            TrackRef::Id(id) => self.conn.query_row("SELECT id FROM tracks WHERE id = ?1", [id], |r| r.get(0)).optional(),
            TrackRef::Path(p) => self.conn.query_row("SELECT id FROM tracks WHERE path = ?1", [p], |r| r.get(0)).optional(),
        };
        found.map_err(|e| self.err(e))?.ok_or_else(|| Error::TrackNotFound { track: which.to_string() })
    }
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn real(&self, i: usize) -> rusqlite::Result<Option<f64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn blob(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.get(i)
    }
    fn null(&self, i: usize) -> rusqlite::Error {
        rusqlite::Error::InvalidColumnType(i, self.as_ref().column_name(i).unwrap_or("?").to_string(), rusqlite::types::Type::Null)
    }
}

/// The stored model, `None` while it has the defaults.
fn read_model(conn: &Connection) -> rusqlite::Result<Option<ModelState>> {
    conn.query_row(&format!("SELECT {MODEL_COLUMNS} FROM model WHERE id = 1"), [], |r| model_from(r))
}

fn totals_from_row(r: &Row<'_>) -> rusqlite::Result<FeedbackTotals> {
    Ok(FeedbackTotals { to: r.get(0)?, sum: r.get(1)?, count: r.get(2)? })
}

impl Store for SqliteStore {
    fn location(&self) -> &str {
        &self.path
    }

    fn file_state(&mut self, path: &str) -> Result<Option<FileState>> {
        self.conn
            .query_row(
                "SELECT id, content_hash, size_bytes, mtime_ms, analyzer_version, error IS NOT NULL FROM tracks WHERE path = ?1",
                [path],
                |r| {
                    Ok(FileState {
                        id: r.get(0)?,
                        content_hash: r.get(1)?,
                        file: FileMeta { size_bytes: r.get::<_, i64>(2)? as u64, mtime_ms: r.get(3)? },
                        analyzer_version: r.get(4)?,
                        failed: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn analysed_hashes(&mut self, analyzer_version: &str) -> Result<Vec<(String, TrackId)>> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content_hash, MIN(id) FROM tracks WHERE analyzer_version = ?1 AND error IS NULL AND content_hash IS NOT NULL GROUP BY content_hash")
            .map_err(|e| db_error(&path, e))?;
        let rows = stmt.query_map([analyzer_version], |r| Ok((r.get(0)?, r.get(1)?))).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| db_error(&path, e))
    }

    fn analysed_track_with_hash(&mut self, hash: &str, analyzer_version: &str) -> Result<Option<TrackId>> {
        self.conn
            .query_row(
                "SELECT MIN(id) FROM tracks WHERE content_hash = ?1 AND analyzer_version = ?2 AND error IS NULL",
                [hash, analyzer_version],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    fn put_track(&mut self, w: &TrackWrite) -> Result<TrackId> {
        self.write(|tx| {
            let (d, err) = match &w.outcome {
                Ok(d) => (Some(d), None),
                Err((code, msg)) => (None, Some((code.as_str(), msg.as_str()))),
            };
            let id: TrackId = tx.query_row(
                UPSERT_TRACK,
                params![
                    w.path,
                    w.content_hash,
                    w.file.size_bytes as i64,
                    w.file.mtime_ms,
                    d.map(|d| d.duration_s),
                    d.map(|d| d.sample_rate),
                    d.map(|d| d.channels as i64),
                    d.map(|d| d.frames as i64),
                    d.and_then(|d| d.tempo).map(|t| t.bpm),
                    d.and_then(|d| d.tempo).map(|t| t.confidence),
                    d.and_then(|d| d.tempo_reason.clone()),
                    d.and_then(|d| d.key).map(|k| k.tonic),
                    d.and_then(|d| d.key).map(|k| k.mode.as_str()),
                    d.and_then(|d| d.key).map(|k| k.confidence),
                    d.and_then(|d| d.key_reason.clone()),
                    d.and_then(|d| d.loudness.integrated_lufs),
                    d.and_then(|d| d.loudness.range_lu),
                    d.and_then(|d| d.loudness.true_peak_dbtp),
                    d.map(|d| d.energy),
                    d.map(|d| encode_f32(&d.summary)),
                    w.analyzer_version,
                    w.analyzed_at_ms,
                    err.map(|e| e.1),
                    err.map(|e| e.0),
                ],
                |r| r.get(0),
            )?;
            match d {
                Some(d) => tx.execute(UPSERT_BEATS, params![id, encode_f32(&d.beats_s), encode_f32(&d.downbeats_s)])?,
                None => tx.execute("DELETE FROM track_beats WHERE track_id = ?1", [id])?,
            };
            Ok(id)
        })
    }

    fn copy_analysis(&mut self, from: TrackId, path: &str, hash: &str, file: FileMeta) -> Result<TrackId> {
        let rec = self.track(&TrackRef::Id(from))?;
        self.put_track(&copy_of(rec, path, hash, file)?)
    }

    fn touch_track(&mut self, id: TrackId, file: FileMeta) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE tracks SET size_bytes = ?2, mtime_ms = ?3 WHERE id = ?1", params![id, file.size_bytes as i64, file.mtime_ms])
                .map(drop)
        })
    }

    fn track(&mut self, which: &TrackRef) -> Result<TrackRecord> {
        let id = self.id_of(which)?;
        let sql = format!("SELECT {TRACK_COLUMNS} FROM {TRACKS_JOINED} WHERE t.id = ?1");
        self.conn.query_row(&sql, [id], |r| track_from(r)).map_err(|e| self.err(e))
    }

    fn tracks(&mut self) -> Result<Vec<TrackRecord>> {
        let sql = format!("SELECT {TRACK_COLUMNS} FROM {TRACKS_JOINED} ORDER BY t.path");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| db_error(&self.path, e))?;
        let rows = stmt.query_map([], |r| track_from(r)).and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| db_error(&self.path, e))
    }

    fn paths_under(&mut self, prefix: &str) -> Result<Vec<(TrackId, String)>> {
        let path = self.path.clone();
        // substr() rather than LIKE: paths may hold `%` and `_`.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path FROM tracks WHERE substr(path, 1, length(?1)) = ?1 ORDER BY path")
            .map_err(|e| db_error(&path, e))?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?))).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| db_error(&path, e))
    }

    fn remove_track(&mut self, which: &TrackRef) -> Result<TrackRecord> {
        let rec = self.track(which)?;
        self.write(|tx| tx.execute("DELETE FROM tracks WHERE id = ?1", [rec.id]).map(drop))?;
        Ok(rec)
    }

    fn generation(&mut self) -> Result<(i64, i64)> {
        self.conn
            .query_row(
                "SELECT (SELECT value FROM generations WHERE name = 'tracks'), (SELECT value FROM generations WHERE name = 'feedback')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))
    }

    fn index_rows(&mut self, each: &mut dyn FnMut(IndexRow)) -> Result<()> {
        let path = self.path.clone();
        let mut stmt = self.conn.prepare_cached(INDEX_ROWS).map_err(|e| db_error(&path, e))?;
        let mut rows = stmt.query([]).map_err(|e| db_error(&path, e))?;
        while let Some(r) = rows.next().map_err(|e| db_error(&path, e))? {
            each(index_row_from(r).map_err(|e| db_error(&path, e))?);
        }
        Ok(())
    }

    fn add_feedback(&mut self, row: &FeedbackRow) -> Result<(i64, ModelState)> {
        let target = crate::learn::target(row.accepted, row.rating)?;
        let c = row.components;
        // The immediate transaction holds the write lock from the start: no
        // other connection can update the model between this read and write.
        self.write(|tx| {
            let mut model = read_model(tx)?.unwrap_or_default();
            model.update(&c, target);
            tx.execute(
                "INSERT INTO feedback (session_id, from_track, to_track, accepted, rating, target, c_tempo, c_harmonic, c_energy, c_timbre, \
                 c_learned, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![row.session, row.from, row.to, row.accepted, row.rating, target, c[0], c[1], c[2], c[3], c[4], row.created_at_ms],
            )?;
            let id = tx.last_insert_rowid();
            let w = model.weights;
            tx.execute(
                "UPDATE model SET w_tempo = ?1, w_harmonic = ?2, w_energy = ?3, w_timbre = ?4, w_learned = ?5, bias = ?6, updates = ?7, \
                 updated_at_ms = ?8 WHERE id = 1",
                params![w[0], w[1], w[2], w[3], w[4], model.bias, model.updates as i64, row.created_at_ms],
            )?;
            Ok((id, model))
        })
    }

    fn feedback_totals(&mut self) -> Result<Vec<FeedbackTotals>> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT to_track, SUM(target), COUNT(*) FROM feedback \
                 WHERE id > (SELECT feedback_since FROM model WHERE id = 1) GROUP BY to_track",
            )
            .map_err(|e| db_error(&path, e))?;
        let rows = stmt.query_map([], totals_from_row).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| db_error(&path, e))
    }

    fn pair_feedback(&mut self, from: TrackId) -> Result<Vec<FeedbackTotals>> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT to_track, SUM(target), COUNT(*) FROM feedback \
                 WHERE from_track = ?1 AND id > (SELECT feedback_since FROM model WHERE id = 1) GROUP BY to_track",
            )
            .map_err(|e| db_error(&path, e))?;
        let rows = stmt.query_map([from], totals_from_row).and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| db_error(&path, e))
    }

    fn model(&mut self) -> Result<Option<ModelState>> {
        read_model(&self.conn).map_err(|e| self.err(e))
    }

    fn reset_model(&mut self) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE model SET w_tempo = NULL, w_harmonic = NULL, w_energy = NULL, w_timbre = NULL, w_learned = NULL, bias = NULL, \
                 updates = 0, feedback_since = (SELECT COALESCE(MAX(id), 0) FROM feedback) WHERE id = 1",
                [],
            )
            .map(drop)
        })
    }

    fn begin_session(&mut self, source: Option<&str>, now_ms: i64) -> Result<SessionId> {
        self.write(|tx| {
            tx.execute("INSERT INTO mix_sessions (source, started_at_ms) VALUES (?1, ?2)", params![source, now_ms])?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn end_session(&mut self, id: SessionId, now_ms: i64) -> Result<()> {
        let n = self.write(|tx| tx.execute("UPDATE mix_sessions SET ended_at_ms = ?2 WHERE id = ?1 AND ended_at_ms IS NULL", params![id, now_ms]))?;
        if n == 0 {
            self.session(id)?; // names a missing session
        }
        Ok(())
    }

    fn add_play(&mut self, session: SessionId, track: Option<TrackId>, label: Option<&str>, now_ms: i64) -> Result<Play> {
        self.session(session)?;
        if let Some(t) = track {
            self.id_of(&TrackRef::Id(t))?;
        }
        let seq = self.write(|tx| {
            let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM plays WHERE session_id = ?1", [session], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO plays (session_id, seq, track_id, label, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![session, seq, track, label, now_ms],
            )?;
            Ok(seq)
        })?;
        Ok(Play { session, seq, track, label: label.map(str::to_string), started_at_ms: now_ms })
    }

    fn session(&mut self, id: SessionId) -> Result<SessionRecord> {
        let head = self
            .conn
            .query_row("SELECT source, started_at_ms, ended_at_ms FROM mix_sessions WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
            })
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| Error::param("session", format!("no mix session {id} in {}", self.path)))?;
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, track_id, label, started_at_ms FROM plays WHERE session_id = ?1 ORDER BY seq")
            .map_err(|e| db_error(&path, e))?;
        let plays = stmt
            .query_map([id], |r| Ok(Play { session: id, seq: r.get(0)?, track: r.get(1)?, label: r.get(2)?, started_at_ms: r.get(3)? }))
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| db_error(&path, e))?;
        Ok(SessionRecord { id, source: head.0, started_at_ms: head.1, ended_at_ms: head.2, plays })
    }
}
