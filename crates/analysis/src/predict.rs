//! Live beat prediction: rolling tempo and beat phase from the recent onset
//! envelope, and the predicted times of the next beats.
//!
//! # Method
//! [`BeatPredictor`] keeps the last [`BeatPredictor::window_s`] seconds of
//! onset envelope (older frames are dropped; `first_frame` remembers the
//! stream index of the oldest frame kept, so memory is bounded however long
//! the stream runs).
//!
//! 1. **Tempo**: [`crate::tempo::estimate_tempo_with`] on the window,
//!    re-estimated every [`RETEMPO_S`] of input. Once a tempo is held, a new
//!    estimate at a related metrical level (double, half, triple, a third,
//!    3/2, 2/3) is not followed while the held tempo is still a clear
//!    periodicity of the window ([`crate::tempo::estimate_tempo_near`]), so
//!    the estimate does not flip between levels from one window to the next.
//! 2. **Phase**: a comb of pulses one period apart is slid over the
//!    Gaussian-smoothed envelope (σ = 1 frame), ending in the last period of
//!    the window; pulse `k` beats back is weighted `0.85^k`, favouring recent
//!    beats (a comb-filter phase match as in Scheirer 1998, "Tempo and beat
//!    analysis of acoustic musical signals", JASA 103(1), and the pulse
//!    cross-correlation of Percival & Tzanetakis 2014).
//! 3. **Refinement**: near each comb pulse the envelope peak is located to a
//!    fraction of a frame (centroid of the three frames around the local
//!    maximum); a weighted least-squares line through (beat index, peak
//!    position) gives the period and the phase of the beat grid. A period
//!    more than 3 % from the tempo estimate is rejected.
//! 4. **Lag compensation**: grid frames are turned into seconds as
//!    `frame / frame_rate − `[`ONSET_LAG_S`].
//!
//! # Why a lag compensation
//! librosa's onset envelope (and [`crate::features`]'s, which matches it)
//! at frame `t` holds the dB rise from centred frame `t − 3` to `t − 2`:
//! frame `t − 2` is the first whose 2048-sample window ends at sample
//! `t · 512`, so an onset at sample `s` first raises the envelope at frame
//! `⌊s / 512⌋ + 1`, and over a background it keeps rising for one more frame
//! while the Hann window slides onto it; instruments with a slower attack
//! than a click peak later still. Measured with librosa 0.11:
//! - click tracks at 97–150 BPM with random phase: the centroid of the
//!   envelope peak lags the click by 22.6 ms (no background) to 27–30 ms
//!   (white noise 34 to 20 dB below the clicks), spread 1.5–2.3 ms;
//! - the whole predictor with a 25 ms compensation, on the files of
//!   `bench/analysis` whose tempo it got right: median error +17.9 ms on the
//!   48 General MIDI renderings (beats = MIDI note times), +10.5 ms on the
//!   Sonic Pi drum loops, +17.7 ms on the Frets on Fire songs.
//!
//! [`ONSET_LAG_S`] = 35 ms is subtracted from every time the predictor
//! reports: a click track then comes out 5–12 ms early, synthesised music
//! about 8 ms late. Set [`BeatPredictor::lag_s`] for an envelope with a
//! different lag.

// `!(x > 0.0)` is the NaN-rejecting form of the input checks here.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::tempo::{estimate_tempo, estimate_tempo_near, gaussian_smooth, sanitize, TempoEstimate};

/// Systematic delay of an onset-envelope peak after the onset that caused
/// it, seconds (see the module docs for the measurement).
pub const ONSET_LAG_S: f64 = 0.035;

/// Seconds of new input after which the tempo is estimated again.
pub const RETEMPO_S: f64 = 0.5;

/// What the predictor says at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatPrediction {
    /// Current tempo estimate in BPM.
    pub bpm: f64,
    pub confidence: f64,
    /// Time of the most recent beat, in seconds of stream time.
    pub last_beat_s: f64,
    /// Predicted times of the next beats (after `now_s`), seconds of stream time.
    pub next_beats_s: Vec<f64>,
    /// Stream time the prediction was made at.
    pub now_s: f64,
}

/// Keeps the recent onset envelope and predicts beats.
#[derive(Debug, Clone)]
pub struct BeatPredictor {
    frame_rate: f64,
    onset: Vec<f32>,
    first_frame: u64,
    /// Seconds of onset envelope judged (default 8; at least 3 are needed
    /// for a tempo).
    pub window_s: f64,
    /// Lag compensation, seconds (default [`ONSET_LAG_S`]; 0 for an onset
    /// envelope without lag).
    pub lag_s: f64,
    tempo: Option<TempoEstimate>,
    frames_since_tempo: usize,
}

impl BeatPredictor {
    /// A predictor for onset frames at `frame_rate` frames/s. Frame `t` of the
    /// envelope is at `t / frame_rate` seconds of stream time.
    pub fn new(frame_rate: f64) -> Self {
        BeatPredictor {
            frame_rate,
            onset: Vec::new(),
            first_frame: 0,
            window_s: 8.0,
            lag_s: ONSET_LAG_S,
            tempo: None,
            frames_since_tempo: 0,
        }
    }

    /// Appends onset-strength frames (non-finite values count as 0).
    pub fn push(&mut self, onset: &[f32]) {
        if !(self.frame_rate.is_finite() && self.frame_rate > 0.0) {
            return;
        }
        self.onset.extend(onset.iter().map(|&v| if v.is_finite() { v } else { 0.0 }));
        let keep = self.window_frames();
        // Drop old frames in batches (amortised O(1) per frame, at most
        // twice the window in memory).
        if self.onset.len() > 2 * keep.max(1) {
            let drop = self.onset.len() - keep;
            self.onset.drain(..drop);
            self.first_frame += drop as u64;
        }
        self.frames_since_tempo += onset.len();
        if self.frames_since_tempo as f64 >= RETEMPO_S * self.frame_rate || self.tempo.is_none() {
            self.frames_since_tempo = 0;
            self.update_tempo();
        }
    }

    /// Total frames pushed so far (stream index of the next frame).
    pub fn frames_seen(&self) -> u64 {
        self.first_frame + self.onset.len() as u64
    }

    /// Stream index of the oldest frame kept.
    pub fn first_frame(&self) -> u64 {
        self.first_frame
    }

    /// Forgets everything (a new stream).
    pub fn reset(&mut self) {
        self.onset.clear();
        self.first_frame = 0;
        self.tempo = None;
        self.frames_since_tempo = 0;
    }

    fn window_frames(&self) -> usize {
        let w = if self.window_s.is_finite() && self.window_s > 0.0 { self.window_s } else { 8.0 };
        (w * self.frame_rate).round().max(1.0) as usize
    }

    fn window(&self) -> &[f32] {
        let n = self.window_frames().min(self.onset.len());
        &self.onset[self.onset.len() - n..]
    }

    fn update_tempo(&mut self) {
        let win = self.window();
        let est = estimate_tempo(win, self.frame_rate);
        self.tempo = match (self.tempo, est) {
            (Some(prev), Some(est)) => {
                // A jump to a related metrical level (x2, x1/2, x3, x1/3,
                // x3/2, x2/3) is not followed while the held level is still
                // a clear periodicity (60 % of the new one's confidence).
                let ratio = est.bpm / prev.bpm;
                let related = [2.0, 0.5, 3.0, 1.0 / 3.0, 1.5, 2.0 / 3.0].iter().any(|f| (ratio / f - 1.0).abs() < 0.04);
                let held = if related { estimate_tempo_near(win, self.frame_rate, prev.bpm, 0.04) } else { None };
                match held {
                    Some(h) if h.confidence >= 0.6 * est.confidence => Some(h),
                    _ => Some(est),
                }
            }
            (_, est) => est,
        };
    }

    /// The current prediction of the next `count` beats, or `None` without a
    /// tempo (too little input, no periodicity).
    pub fn predict(&self, count: usize) -> Option<BeatPrediction> {
        let tempo = self.tempo?;
        let fr = self.frame_rate;
        let win = sanitize(self.window());
        let n = win.len();
        let period0 = 60.0 * fr / tempo.bpm;
        if n < 2 || !(period0 >= 2.0) || (n as f64) < 2.0 * period0 {
            return None;
        }
        let (anchor, period) = beat_grid(&win, period0)?;
        // Window position -> stream frame -> seconds.
        let offset = (self.first_frame + self.onset.len() as u64 - n as u64) as f64;
        let now_s = (self.frames_seen() - 1) as f64 / fr;
        let period_s = period / fr;
        let anchor_s = (offset + anchor) / fr - self.lag_s;
        let j = ((now_s - anchor_s) / period_s).floor();
        let last_beat_s = anchor_s + j * period_s;
        let next_beats_s = (1..=count).map(|i| last_beat_s + i as f64 * period_s).collect();
        Some(BeatPrediction { bpm: 60.0 / period_s, confidence: tempo.confidence, last_beat_s, next_beats_s, now_s })
    }
}

/// Beat grid of a window: `(anchor, period)` in (fractional) window frames,
/// beats at `anchor + k · period`, `anchor` in the last period of the window.
fn beat_grid(win: &[f64], period0: f64) -> Option<(f64, f64)> {
    let n = win.len();
    let mean = win.iter().sum::<f64>() / n as f64;
    let centred: Vec<f64> = win.iter().map(|v| v - mean).collect();
    let sm = gaussian_smooth(&centred, 1.0);
    let last = (n - 1) as f64;
    let beats_back = (last / period0).floor() as usize;
    let decay: f64 = 0.85;
    // Comb phase: the last pulse at `last - shift`, shift in [0, period).
    let steps = (period0 * 10.0).ceil() as usize;
    let mut best = (f64::NEG_INFINITY, 0.0);
    for s in 0..steps {
        let shift = s as f64 * period0 / steps as f64;
        let mut score = 0.0;
        let mut w = 1.0;
        for k in 0..=beats_back {
            let p = last - shift - k as f64 * period0;
            if p < 0.0 {
                break;
            }
            score += w * crate::tempo::interp(&sm, p);
            w *= decay;
        }
        if score > best.0 {
            best = (score, shift);
        }
    }
    if !best.0.is_finite() {
        return None;
    }
    let anchor0 = last - best.1;

    // Peak positions near each pulse -> weighted least squares.
    let radius = (0.15 * period0).round().max(1.0) as isize;
    let mut pts: Vec<(f64, f64, f64)> = Vec::new(); // (k, position, weight)
    let mut w = 1.0;
    for k in 0..=beats_back {
        let c = anchor0 - k as f64 * period0;
        if c < 0.0 {
            break;
        }
        let ci = c.round() as isize;
        let lo = (ci - radius).max(1);
        let hi = (ci + radius).min(n as isize - 2);
        if lo > hi {
            w *= decay;
            continue;
        }
        let mut imax = lo;
        for i in lo..=hi {
            if win[i as usize] > win[imax as usize] {
                imax = i;
            }
        }
        let i = imax as usize;
        let (a, b, cc) = (win[i - 1], win[i], win[i + 1]);
        let base = a.min(cc).min(b);
        let (wa, wb, wc) = (a - base, b - base, cc - base);
        let height = b - mean;
        if height > 0.0 && wa + wb + wc > 0.0 {
            let pos = (wa * (i as f64 - 1.0) + wb * i as f64 + wc * (i as f64 + 1.0)) / (wa + wb + wc);
            // Peaks at the window edges are incomplete.
            if i >= 2 && i + 2 < n {
                pts.push((k as f64, pos, w * height));
            }
        }
        w *= decay;
    }
    if pts.len() >= 4 {
        // pos = a - k * p, weighted least squares in (a, p).
        let sw: f64 = pts.iter().map(|p| p.2).sum();
        let mk = pts.iter().map(|p| p.2 * p.0).sum::<f64>() / sw;
        let mp = pts.iter().map(|p| p.2 * p.1).sum::<f64>() / sw;
        let skk: f64 = pts.iter().map(|p| p.2 * (p.0 - mk).powi(2)).sum();
        let skp: f64 = pts.iter().map(|p| p.2 * (p.0 - mk) * (p.1 - mp)).sum();
        if skk > 0.0 {
            let p = -skp / skk;
            let a = mp + p * mk;
            if (p / period0 - 1.0).abs() <= 0.03 && a.is_finite() {
                // Re-anchor within the last period of the window.
                let a = a + ((last - a) / p).floor() * p;
                return Some((a, p));
            }
        }
    }
    Some((anchor0, period0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempo::test_util::*;

    /// Feeds `env` in blocks of 7 frames; returns the predictor.
    fn fed(env: &[f32]) -> BeatPredictor {
        let mut p = BeatPredictor::new(FRAME_RATE);
        for block in env.chunks(7) {
            p.push(block);
        }
        p
    }

    fn check_click_track(bpm: f64, first: f64, noise: f64) {
        let dur = 8.0;
        // The clicks go on after `dur`: those are the beats to predict.
        let times = pulse_times(bpm, first, dur + 10.0);
        let env = onset_envelope(&clicks(&times, &[], dur, noise, 17));
        let p = fed(&env);
        let pred = p.predict(4).unwrap_or_else(|| panic!("{bpm}: no prediction"));
        assert!((pred.bpm - bpm).abs() / bpm < 0.01, "{bpm}: {pred:?}");
        assert!(pred.last_beat_s <= pred.now_s);
        for &t in &pred.next_beats_s {
            assert!(t > pred.now_s);
            let err = times.iter().map(|&c| (c - t).abs()).fold(f64::INFINITY, f64::min);
            assert!(err < 0.030, "{bpm} BPM: predicted {t:.4} s is {:.1} ms from a click ({pred:?})", err * 1e3);
        }
        let err = times.iter().map(|&c| (c - pred.last_beat_s).abs()).fold(f64::INFINITY, f64::min);
        assert!(err < 0.030, "last beat {:.1} ms off", err * 1e3);
    }

    #[test]
    fn click_tracks_are_predicted_within_30_ms() {
        check_click_track(120.0, 0.31, 0.01);
        check_click_track(97.0, 0.05, 0.01);
        check_click_track(128.0, 0.44, 0.03);
        check_click_track(140.0, 0.2, 0.0);
        check_click_track(83.0, 0.6, 0.01);
    }

    #[test]
    fn drum_pattern_is_predicted_within_30_ms() {
        // Kick on beats 1 and 3, snare on 2 and 4, hi-hat eighths (quieter).
        let bpm = 124.0;
        let beat = 60.0 / bpm;
        let (times, amps) = accented_eighths(bpm, 0.13, 30.0, 0.35);
        let env = onset_envelope(&clicks(&times, &amps, 9.0, 0.02, 5));
        let p = fed(&env);
        let pred = p.predict(4).unwrap();
        assert!((pred.bpm - bpm).abs() < 1.5, "{pred:?}");
        for &t in &pred.next_beats_s {
            let k = ((t - 0.13) / beat).round();
            let err = (t - 0.13 - k * beat).abs();
            assert!(err < 0.030, "{:.1} ms ({pred:?})", err * 1e3);
        }
    }

    #[test]
    fn memory_is_bounded_and_stream_time_kept() {
        let bpm = 110.0;
        let dur = 60.0;
        let times = pulse_times(bpm, 0.25, dur + 5.0);
        let env = onset_envelope(&clicks(&times, &[], dur, 0.01, 3));
        let p = fed(&env);
        assert_eq!(p.frames_seen(), env.len() as u64);
        assert!(p.onset.len() <= 2 * p.window_frames());
        assert!(p.first_frame() > 0);
        let pred = p.predict(3).unwrap();
        assert!((pred.now_s - (env.len() - 1) as f64 / FRAME_RATE).abs() < 1e-9);
        for &t in &pred.next_beats_s {
            let err = times.iter().map(|&c| (c - t).abs()).fold(f64::INFINITY, f64::min);
            assert!(err < 0.030, "{:.1} ms", err * 1e3);
        }
    }

    #[test]
    fn tempo_change_is_followed() {
        let mut env = onset_envelope(&clicks(&pulse_times(90.0, 0.1, 15.0), &[], 15.0, 0.01, 1));
        env.extend(onset_envelope(&clicks(&pulse_times(132.0, 0.1, 12.0), &[], 12.0, 0.01, 2)));
        let p = fed(&env);
        let pred = p.predict(2).unwrap();
        assert!((pred.bpm - 132.0).abs() < 1.5, "{pred:?}");
    }

    #[test]
    fn silence_noise_and_too_little_input_give_none() {
        let mut p = BeatPredictor::new(FRAME_RATE);
        assert_eq!(p.predict(4), None);
        p.push(&[]);
        assert_eq!(p.predict(4), None);
        p.push(&vec![0.0; 1000]);
        assert_eq!(p.predict(4), None);
        p.push(&vec![f32::NAN; 1000]);
        assert_eq!(p.predict(4), None);
        // 2 s of clicks: too short.
        let mut p = BeatPredictor::new(FRAME_RATE);
        p.push(&onset_envelope(&clicks(&pulse_times(120.0, 0.1, 2.0), &[], 2.0, 0.0, 1)));
        assert_eq!(p.predict(4), None);
        // Noise.
        let mut rng = Rng(5);
        let y: Vec<f32> = (0..(12.0 * SR) as usize).map(|_| (0.1 * rng.normal()) as f32).collect();
        let p = fed(&onset_envelope(&y));
        assert_eq!(p.predict(4), None);
        // Bad frame rate.
        let mut p = BeatPredictor::new(0.0);
        p.push(&[1.0; 100]);
        assert_eq!(p.predict(4), None);
    }
}
