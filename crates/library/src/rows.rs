//! What the SQLite and PostgreSQL stores share: the SQL that reads and
//! writes tracks and the model (the two schemas have the same tables and
//! columns), and the decoding of their rows, written once over
//! [`Columns`], which each backend implements for its row type.
//!
//! Placeholders are `$1`, `$2`, ...: PostgreSQL's, and named parameters
//! for SQLite which, each appearing once and in order, bind to the same
//! positions.

use resonode_analysis::loudness::LoudnessSummary;
use resonode_analysis::{KeyEstimate, TempoEstimate, TrackDescriptors};

use crate::descriptors::{decode_f32, parse_mode};
use crate::learn::ModelState;
use crate::store::{FileMeta, IndexRow, TrackId, TrackRecord, TrackWrite};

/// A track's columns, from `tracks t LEFT JOIN track_beats b` ([`TRACKS_JOINED`]), read by [`track_from`].
pub const TRACK_COLUMNS: &str = "t.id, t.path, t.content_hash, t.size_bytes, t.mtime_ms, t.duration_s, t.sample_rate, t.channels, t.frames, \
     t.tempo_bpm, t.tempo_confidence, t.tempo_reason, t.key_tonic, t.mode, t.key_confidence, t.key_reason, t.loudness_lufs, \
     t.loudness_range_lu, t.true_peak_dbtp, t.energy, b.beats, b.downbeats, t.summary, t.analyzer_version, t.analyzed_at_ms, t.error, \
     t.error_code";
pub const TRACKS_JOINED: &str = "tracks t LEFT JOIN track_beats b ON b.track_id = t.id";

/// The index columns of the successfully analysed tracks, read by [`index_row_from`].
pub const INDEX_ROWS: &str = "SELECT id, path, tempo_bpm, key_tonic, mode, loudness_lufs, energy, summary FROM tracks WHERE error IS NULL";

/// The model row's columns, read by [`model_from`].
pub const MODEL_COLUMNS: &str = "w_tempo, w_harmonic, w_energy, w_timbre, w_learned, bias, updates";

/// Inserts or replaces the track at `$1` (one row per path), returning its
/// id; the 24 values in the order of [`crate::store::TrackWrite`]'s
/// fields as the backends bind them.
pub const UPSERT_TRACK: &str = "INSERT INTO tracks (path, content_hash, size_bytes, mtime_ms, duration_s, sample_rate, channels, frames, \
     tempo_bpm, tempo_confidence, tempo_reason, key_tonic, mode, key_confidence, key_reason, loudness_lufs, loudness_range_lu, \
     true_peak_dbtp, energy, summary, analyzer_version, analyzed_at_ms, error, error_code) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) \
     ON CONFLICT (path) DO UPDATE SET content_hash = excluded.content_hash, size_bytes = excluded.size_bytes, \
     mtime_ms = excluded.mtime_ms, duration_s = excluded.duration_s, sample_rate = excluded.sample_rate, \
     channels = excluded.channels, frames = excluded.frames, tempo_bpm = excluded.tempo_bpm, tempo_confidence = excluded.tempo_confidence, \
     tempo_reason = excluded.tempo_reason, key_tonic = excluded.key_tonic, mode = excluded.mode, \
     key_confidence = excluded.key_confidence, key_reason = excluded.key_reason, loudness_lufs = excluded.loudness_lufs, \
     loudness_range_lu = excluded.loudness_range_lu, true_peak_dbtp = excluded.true_peak_dbtp, energy = excluded.energy, \
     summary = excluded.summary, analyzer_version = excluded.analyzer_version, analyzed_at_ms = excluded.analyzed_at_ms, \
     error = excluded.error, error_code = excluded.error_code \
     RETURNING id";

/// Stores a track's beats (`$1` track id, `$2` beats, `$3` downbeats).
pub const UPSERT_BEATS: &str = "INSERT INTO track_beats (track_id, beats, downbeats) VALUES ($1, $2, $3) \
     ON CONFLICT (track_id) DO UPDATE SET beats = excluded.beats, downbeats = excluded.downbeats";

/// Reads a result row's columns by position, as the backend stores them.
pub(crate) trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn real(&self, i: usize) -> Result<Option<f64>, Self::Error>;
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// The error for a NULL in column `i`, which the schema forbids.
    fn null(&self, i: usize) -> Self::Error;
}

fn int<C: Columns>(r: &C, i: usize) -> Result<i64, C::Error> {
    r.int(i)?.ok_or_else(|| r.null(i))
}

fn text<C: Columns>(r: &C, i: usize) -> Result<String, C::Error> {
    r.text(i)?.ok_or_else(|| r.null(i))
}

fn floats<C: Columns>(r: &C, i: usize) -> Result<Vec<f64>, C::Error> {
    Ok(r.blob(i)?.map(|b| decode_f32(&b)).unwrap_or_default())
}

/// A track from a row of [`TRACK_COLUMNS`].
pub(crate) fn track_from<C: Columns>(r: &C) -> Result<TrackRecord, C::Error> {
    let error = r.text(25)?;
    let descriptors = if error.is_some() {
        None
    } else {
        let tempo = match r.real(9)? {
            Some(bpm) => Some(TempoEstimate { bpm, confidence: r.real(10)?.unwrap_or(0.0) }),
            None => None,
        };
        let tonic = r.int(12)?.and_then(|t| u8::try_from(t).ok());
        let mode = r.text(13)?.as_deref().and_then(parse_mode);
        let key = match (tonic, mode) {
            (Some(tonic), Some(mode)) => Some(KeyEstimate { tonic, mode, confidence: r.real(14)?.unwrap_or(0.0) }),
            _ => None,
        };
        Some(TrackDescriptors {
            duration_s: r.real(5)?.unwrap_or(0.0),
            sample_rate: r.int(6)?.unwrap_or(0) as u32,
            channels: r.int(7)?.unwrap_or(0) as usize,
            frames: r.int(8)?.unwrap_or(0) as u64,
            tempo,
            tempo_reason: r.text(11)?,
            beats_s: floats(r, 20)?,
            downbeats_s: floats(r, 21)?,
            key,
            key_reason: r.text(15)?,
            loudness: LoudnessSummary { integrated_lufs: r.real(16)?, range_lu: r.real(17)?, true_peak_dbtp: r.real(18)? },
            energy: r.real(19)?.unwrap_or(0.0),
            summary: floats(r, 22)?,
        })
    };
    Ok(TrackRecord {
        id: int(r, 0)?,
        path: text(r, 1)?,
        content_hash: r.text(2)?,
        file: FileMeta { size_bytes: int(r, 3)? as u64, mtime_ms: int(r, 4)? },
        descriptors,
        analyzer_version: text(r, 23)?,
        analyzed_at_ms: int(r, 24)?,
        error,
        error_code: r.text(26)?,
    })
}

/// A row of [`INDEX_ROWS`].
pub(crate) fn index_row_from<C: Columns>(r: &C) -> Result<IndexRow, C::Error> {
    Ok(IndexRow {
        id: int(r, 0)?,
        path: text(r, 1)?,
        tempo_bpm: r.real(2)?,
        key_tonic: r.int(3)?.and_then(|t| u8::try_from(t).ok()),
        mode: r.text(4)?.as_deref().and_then(parse_mode),
        loudness_lufs: r.real(5)?,
        energy: r.real(6)?.unwrap_or(0.0),
        summary: floats(r, 7)?,
    })
}

/// The model from a row of [`MODEL_COLUMNS`], `None` while it has the defaults.
pub(crate) fn model_from<C: Columns>(r: &C) -> Result<Option<ModelState>, C::Error> {
    Ok(ModelState::from_columns([r.real(0)?, r.real(1)?, r.real(2)?, r.real(3)?, r.real(4)?, r.real(5)?], int(r, 6)?))
}

/// What `copy_analysis` writes: track `from`'s analysis (as stored, with
/// its analyzer version and time) under `path`, with its own file facts.
///
/// # Errors
/// `Error::InvalidState` when `from` has no analysis (it failed).
pub(crate) fn copy_of(mut from: TrackRecord, path: &str, hash: &str, file: FileMeta) -> resonode_core::Result<TrackWrite> {
    let id: TrackId = from.id;
    let d = from.descriptors.take().ok_or_else(|| resonode_core::Error::InvalidState { reason: format!("track {id} has no analysis to copy") })?;
    Ok(TrackWrite {
        path: path.to_string(),
        content_hash: Some(hash.to_string()),
        file,
        outcome: Ok(d),
        analyzer_version: from.analyzer_version,
        analyzed_at_ms: from.analyzed_at_ms,
    })
}
