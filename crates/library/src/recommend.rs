//! Recommendations: which tracks can follow what is playing, each score
//! explained by its components.
//!
//! Components, each 0..1:
//! - **tempo**: how far the candidate must be time-stretched to match,
//!   trying it as is, at half and at double time: with `d = |ln(ratio)|`
//!   and `t = ln(1 + tempoTolerance)`, `max(0, 1 - (d / t)²)`, times 0.85
//!   for half / double time. 0.5 when either tempo is unknown.
//! - **harmonic**: Camelot rules ([`crate::camelot::compatibility`]) on the
//!   candidate's key as it will sound: unchanged with key lock (the
//!   transitions time-stretch without changing pitch), transposed by
//!   `12 · log2(ratio)` semitones without it. 0.5 when a key is unknown.
//! - **energy**: loudness continuity, `exp(-Δ² / (2 · 4²))` with `Δ` the
//!   difference of integrated loudness (LUFS; RMS level in dB when a
//!   loudness is missing).
//! - **timbre**: cosine similarity of the summary vectors' timbre part
//!   (MFCC 1-12 means and standard deviations, spectral centroid /
//!   bandwidth / roll-off / flatness / ZCR / onset strength), each
//!   dimension standardised over the library, mapped from -1..1 to 0..1.
//! - **learned**: what feedback said of this candidate: the mean training
//!   target of transitions into it, those from the same track counted
//!   double, smoothed towards 0.5 by two neutral pseudo-observations.
//!
//! The score is the preference model's predicted acceptance
//! ([`crate::learn::ModelState::predict`]). The whole library is scored on
//! every call from an in-memory index (struct of arrays, rebuilt when the
//! database's generation counters move): about 50 floating-point
//! operations per track.

use std::collections::HashMap;

use resonode_analysis::Mode;
use resonode_core::{Error, Result};

use crate::camelot::{compatibility, transpose};
use crate::learn::ModelState;
use crate::store::{FeedbackTotals, IndexRow, SessionId, TrackId, TrackRef};

/// Summary-vector positions of the timbre features.
const TIMBRE_DIMS: [usize; 30] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 38, 39, 40, 41, 42, 43,
];
const D: usize = TIMBRE_DIMS.len();

/// Loudness difference (dB / LU) at which the energy component is exp(-1/2).
pub const ENERGY_SCALE_DB: f64 = 4.0;
/// Weight of half / double time against the same tempo.
pub const HALF_DOUBLE_FACTOR: f64 = 0.85;
/// Neutral pseudo-observations in the learned component.
pub const LEARNED_PRIOR: f64 = 2.0;
/// Default `tempoTolerance`: 8 % of stretch either way.
pub const DEFAULT_TEMPO_TOLERANCE: f64 = 0.08;

/// What is playing, as the analyzer sees it live. Missing values make
/// their component neutral (0.5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentFeatures {
    pub tempo_bpm: Option<f64>,
    pub key_tonic: Option<u8>,
    pub mode: Option<Mode>,
    pub loudness_lufs: Option<f64>,
    /// RMS level, linear (0..1).
    pub energy: Option<f64>,
    /// A summary vector like the tracks' (44 values), e.g. of the last 30 s.
    pub summary: Option<Vec<f64>>,
}

/// What to recommend for.
#[derive(Debug, Clone, PartialEq)]
pub enum RecommendFrom {
    Track(TrackRef),
    Current(CurrentFeatures),
}

/// Options of a recommendation.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendOptions {
    /// How many to return (default 10).
    pub limit: usize,
    /// Leave out the tracks played in this mix session.
    pub session: Option<SessionId>,
    /// Largest stretch a mix may apply, as a fraction (default 0.08 = ±8 %).
    pub tempo_tolerance: f64,
    /// Transitions keep the candidate's pitch when stretching (default true).
    pub key_lock: bool,
    /// Further tracks to leave out.
    pub exclude: Vec<TrackId>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        RecommendOptions { limit: 10, session: None, tempo_tolerance: DEFAULT_TEMPO_TOLERANCE, key_lock: true, exclude: Vec::new() }
    }
}

impl RecommendOptions {
    /// # Errors
    /// `Error::InvalidParameter` for `limit` 0 or `tempo_tolerance` outside (0, 1].
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 {
            return Err(Error::param("limit", "must be at least 1"));
        }
        if !(self.tempo_tolerance > 0.0 && self.tempo_tolerance <= 1.0) {
            return Err(Error::param("tempoTolerance", format!("must be within (0, 1] (a fraction: 0.08 = ±8 %), got {}", self.tempo_tolerance)));
        }
        Ok(())
    }
}

/// The components of a score, each 0..1 (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Components {
    pub tempo: f64,
    pub harmonic: f64,
    pub energy: f64,
    pub timbre: f64,
    pub learned: f64,
}

impl Components {
    /// In the model's order (tempo, harmonic, energy, timbre, learned).
    pub fn as_array(&self) -> [f64; 5] {
        [self.tempo, self.harmonic, self.energy, self.timbre, self.learned]
    }
}

/// One recommended track.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub track_id: TrackId,
    pub path: String,
    /// Predicted acceptance, 0..1.
    pub score: f64,
    pub components: Components,
    pub tempo_bpm: Option<f64>,
    pub camelot: Option<String>,
    /// Playback-rate factor that brings the candidate to the current tempo
    /// (current BPM / (candidate BPM x tempo multiple)); `None` without tempos.
    pub stretch_ratio: Option<f64>,
    /// 1, 2 (played at double time) or 0.5 (half time).
    pub tempo_multiple: f64,
}

/// What recommendations compare against, resolved to index form.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub track: Option<TrackId>,
    pub ln_bpm: Option<f64>,
    pub key: Option<(u8, Mode)>,
    pub loudness: Option<f64>,
    pub energy_db: Option<f64>,
    pub timbre: Option<[f32; D]>,
}

fn energy_db(rms: f64) -> f64 {
    20.0 * rms.max(1e-6).log10()
}

/// The library in memory, struct of arrays.
#[derive(Debug, Default)]
pub struct Index {
    pub(crate) generation: i64,
    pub(crate) feedback_generation: i64,
    ids: Vec<TrackId>,
    paths: Vec<String>,
    ln_bpm: Vec<f64>,
    /// tonic + 12 for minor; 255 unknown.
    key: Vec<u8>,
    loudness: Vec<f64>,
    energy_db: Vec<f64>,
    /// `len x D`, standardised and unit length (zeros without a summary).
    timbre: Vec<f32>,
    mean: [f64; D],
    std: [f64; D],
    pos: HashMap<TrackId, usize>,
    /// Mean feedback target into each track (sum, count), aligned with `ids`.
    to_sum: Vec<f64>,
    to_count: Vec<f64>,
}

fn key_code(tonic: Option<u8>, mode: Option<Mode>) -> u8 {
    match (tonic, mode) {
        (Some(t), Some(Mode::Major)) => t % 12,
        (Some(t), Some(Mode::Minor)) => t % 12 + 12,
        _ => 255,
    }
}

fn key_of(code: u8) -> Option<(u8, Mode)> {
    match code {
        0..=11 => Some((code, Mode::Major)),
        12..=23 => Some((code - 12, Mode::Minor)),
        _ => None,
    }
}

impl Index {
    /// Builds the index from a store's rows.
    pub fn build(rows: Vec<IndexRow>, generation: i64) -> Index {
        let n = rows.len();
        let mut ix = Index { generation, feedback_generation: -1, ..Default::default() };
        // Library-wide mean and standard deviation of each timbre dimension.
        let mut sum = [0.0f64; D];
        let mut sq = [0.0f64; D];
        let mut counted = 0.0;
        for r in &rows {
            if r.summary.len() > TIMBRE_DIMS[D - 1] {
                counted += 1.0;
                for (k, &dim) in TIMBRE_DIMS.iter().enumerate() {
                    sum[k] += r.summary[dim];
                    sq[k] += r.summary[dim] * r.summary[dim];
                }
            }
        }
        for k in 0..D {
            let m = if counted > 0.0 { sum[k] / counted } else { 0.0 };
            ix.mean[k] = m;
            ix.std[k] = if counted > 1.0 { (sq[k] / counted - m * m).max(0.0).sqrt().max(1e-9) } else { 1.0 };
        }
        ix.timbre.reserve(n * D);
        for (i, r) in rows.into_iter().enumerate() {
            ix.pos.insert(r.id, i);
            ix.ids.push(r.id);
            ix.ln_bpm.push(r.tempo_bpm.filter(|b| *b > 0.0).map_or(f64::NAN, f64::ln));
            ix.key.push(key_code(r.key_tonic, r.mode));
            ix.loudness.push(r.loudness_lufs.unwrap_or(f64::NAN));
            ix.energy_db.push(energy_db(r.energy));
            let v = ix.timbre_vector(&r.summary);
            ix.timbre.extend_from_slice(&v.unwrap_or([0.0; D]));
            ix.paths.push(r.path);
        }
        ix.to_sum = vec![0.0; n];
        ix.to_count = vec![0.0; n];
        ix
    }

    /// Tracks in the index.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Loads feedback totals per target track.
    pub(crate) fn set_feedback(&mut self, totals: &[FeedbackTotals], generation: i64) {
        self.to_sum.iter_mut().for_each(|v| *v = 0.0);
        self.to_count.iter_mut().for_each(|v| *v = 0.0);
        for t in totals {
            if let Some(&i) = self.pos.get(&t.to) {
                self.to_sum[i] = t.sum;
                self.to_count[i] = t.count;
            }
        }
        self.feedback_generation = generation;
    }

    fn timbre_vector(&self, summary: &[f64]) -> Option<[f32; D]> {
        if summary.len() <= TIMBRE_DIMS[D - 1] {
            return None;
        }
        let mut v = [0.0f32; D];
        let mut norm = 0.0f64;
        for (k, &dim) in TIMBRE_DIMS.iter().enumerate() {
            let z = (summary[dim] - self.mean[k]) / self.std[k];
            v[k] = z as f32;
            norm += z * z;
        }
        if norm.is_nan() || norm <= 1e-12 || norm.is_infinite() {
            return None;
        }
        let inv = (1.0 / norm.sqrt()) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
        Some(v)
    }

    /// Resolves the reference: a track of the index, or live features.
    pub(crate) fn reference(&self, track: Option<(TrackId, &IndexRow)>, current: Option<&CurrentFeatures>) -> Reference {
        if let Some((id, r)) = track {
            return Reference {
                track: Some(id),
                ln_bpm: r.tempo_bpm.filter(|b| *b > 0.0).map(f64::ln),
                key: key_of(key_code(r.key_tonic, r.mode)),
                loudness: r.loudness_lufs,
                energy_db: Some(energy_db(r.energy)),
                timbre: self.timbre_vector(&r.summary),
            };
        }
        let c = current.cloned().unwrap_or_default();
        Reference {
            track: None,
            ln_bpm: c.tempo_bpm.filter(|b| *b > 0.0 && b.is_finite()).map(f64::ln),
            key: key_of(key_code(c.key_tonic, c.mode)),
            loudness: c.loudness_lufs.filter(|v| v.is_finite()),
            energy_db: c.energy.filter(|v| v.is_finite()).map(energy_db),
            timbre: c.summary.as_deref().and_then(|s| self.timbre_vector(s)),
        }
    }

    /// The components of candidate `i` against `r`, with the stretch ratio and tempo multiple.
    #[inline]
    fn components(&self, i: usize, r: &Reference, opts: &RecommendOptions, pair: Option<(f64, f64)>) -> (Components, Option<f64>, f64) {
        // Tempo.
        let (tempo, ratio, multiple) = match r.ln_bpm {
            Some(lr) if !self.ln_bpm[i].is_nan() => {
                let t = (1.0 + opts.tempo_tolerance).ln();
                let mut best = (f64::NEG_INFINITY, 0.0, 1.0);
                for (m, factor) in [(1.0f64, 1.0), (2.0, HALF_DOUBLE_FACTOR), (0.5, HALF_DOUBLE_FACTOR)] {
                    let d = lr - self.ln_bpm[i] - m.ln();
                    let s = (1.0 - (d / t).powi(2)).max(0.0) * factor;
                    // Ties (all out of range) keep the same-tempo reading.
                    if s > best.0 {
                        best = (s, d, m);
                    }
                }
                (best.0, Some(best.1.exp()), best.2)
            }
            _ => (0.5, None, 1.0),
        };
        // Key as it will sound.
        let harmonic = match (r.key, key_of(self.key[i])) {
            (Some(a), Some((tonic, mode))) => {
                let shift = match (opts.key_lock, ratio) {
                    (false, Some(s)) => (12.0 * s.log2()).round() as i32,
                    _ => 0,
                };
                compatibility(a, (transpose(tonic, shift), mode))
            }
            _ => 0.5,
        };
        let delta = match (r.loudness, self.loudness[i]) {
            (Some(a), b) if !b.is_nan() => Some(b - a),
            _ => r.energy_db.map(|a| self.energy_db[i] - a),
        };
        let energy = delta.map_or(0.5, |d| (-0.5 * (d / ENERGY_SCALE_DB).powi(2)).exp());
        let timbre = match &r.timbre {
            Some(q) => {
                let row = &self.timbre[i * D..(i + 1) * D];
                let dot: f32 = row.iter().zip(q.iter()).map(|(a, b)| a * b).sum();
                if row.iter().all(|v| *v == 0.0) {
                    0.5
                } else {
                    ((dot as f64 + 1.0) / 2.0).clamp(0.0, 1.0)
                }
            }
            None => 0.5,
        };
        let (ps, pc) = pair.unwrap_or((0.0, 0.0));
        let learned = (2.0 * ps + self.to_sum[i] + 0.5 * LEARNED_PRIOR) / (2.0 * pc + self.to_count[i] + LEARNED_PRIOR);
        (Components { tempo, harmonic, energy, timbre, learned }, ratio, multiple)
    }

    /// Scores every track against `r` and returns the best `opts.limit`,
    /// best first (ties by id), leaving out `excluded`.
    pub(crate) fn rank(
        &self,
        r: &Reference,
        model: &ModelState,
        opts: &RecommendOptions,
        excluded: &[TrackId],
        pairs: &[FeedbackTotals],
    ) -> Vec<Recommendation> {
        let mut skip = vec![false; self.len()];
        for id in excluded.iter().chain(r.track.as_ref()) {
            if let Some(&i) = self.pos.get(id) {
                skip[i] = true;
            }
        }
        let mut pair = vec![None; 0];
        if !pairs.is_empty() {
            pair = vec![None; self.len()];
            for p in pairs {
                if let Some(&i) = self.pos.get(&p.to) {
                    pair[i] = Some((p.sum, p.count));
                }
            }
        }
        let mut scored: Vec<(f64, usize)> = Vec::with_capacity(self.len());
        for (i, _) in skip.iter().enumerate().filter(|(_, s)| !**s) {
            let (c, _, _) = self.components(i, r, opts, pair.get(i).copied().flatten());
            scored.push((model.predict(&c.as_array()), i));
        }
        let better = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(self.ids[a.1].cmp(&self.ids[b.1]));
        let k = opts.limit.min(scored.len());
        if k > 0 && k < scored.len() {
            scored.select_nth_unstable_by(k - 1, better);
            scored.truncate(k);
        }
        scored.sort_by(better);
        scored
            .into_iter()
            .map(|(score, i)| {
                let (components, stretch_ratio, tempo_multiple) = self.components(i, r, opts, pair.get(i).copied().flatten());
                let key = key_of(self.key[i]);
                Recommendation {
                    track_id: self.ids[i],
                    path: self.paths[i].clone(),
                    score,
                    components,
                    tempo_bpm: (!self.ln_bpm[i].is_nan()).then(|| self.ln_bpm[i].exp()),
                    camelot: key.map(|(t, m)| resonode_analysis::key::camelot(t, m)),
                    stretch_ratio,
                    tempo_multiple,
                }
            })
            .collect()
    }

    /// The components of one transition, `r` to track `to`.
    pub(crate) fn components_for(&self, to: TrackId, r: &Reference, opts: &RecommendOptions, pair: Option<(f64, f64)>) -> Option<Components> {
        let &i = self.pos.get(&to)?;
        Some(self.components(i, r, opts, pair).0)
    }
}
