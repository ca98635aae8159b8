//! Tempo estimation from the onset-strength envelope.
//!
//! # Input
//! An onset-strength envelope: one non-negative value per analysis frame,
//! `frame_rate` frames per second. The reference definition is librosa
//! 0.11's `onset.onset_strength(y, sr=22050, hop_length=512)` (mean over 128
//! mel bands of the half-wave-rectified first difference of the dB mel
//! spectrogram; 43.07 frames/s), which is what [`crate::features`] computes.
//! Any envelope whose peaks mark note onsets works.
//!
//! # Method
//! Autocorrelation of the onset envelope weighted by a log-normal tempo
//! prior, after Ellis (2007), "Beat tracking by dynamic programming",
//! J. New Music Research 36(1), section 3.1, and the same idea in
//! `librosa.feature.tempo` (a mean local autocorrelation "tempogram" times
//! a log-normal prior around 120 BPM), with the enhanced autocorrelation and
//! pulse-train refinement of Percival & Tzanetakis (2014), "Streamlined
//! tempo estimation based on autocorrelation and cross-correlation with
//! pulses", IEEE/ACM TASLP 22(12):
//!
//! 1. **Local autocorrelation.** The envelope is smoothed (Gaussian,
//!    σ = 1 frame, so that a period that is not a whole number of frames
//!    keeps one peak) and cut into windows of [`TempoOptions::acf_window_s`]
//!    (12 s, half overlapping; the whole input when shorter). Each window
//!    has its mean removed and its autocorrelation normalised by lag 0, so a
//!    window's curve is a correlation coefficient in -1..1 per lag. Windows
//!    are averaged weighted by their RMS (silent windows do not count).
//!    The result `R(τ)` is the "global tempogram".
//! 2. **Enhancement.** `E(τ) = R⁺(τ) + ½ R⁺(2τ) + R⁺(4τ)` (R⁺ = R clipped at
//!    0; weights [`TempoOptions::enhance`], [`TempoOptions::enhance_bar`])
//!    rewards a beat period whose double and quadruple (half bar, bar) are
//!    periodic too, Percival & Tzanetakis's enhanced autocorrelation. The
//!    bar term is what keeps repetitive music (loops, riffs) from being read
//!    at the bar rate or at a 3:4 cross-rhythm.
//! 3. **Prior.** `ln E(τ)` plus a log-normal prior over BPM, centre
//!    [`TempoOptions::prior_bpm`] (120), standard deviation
//!    [`TempoOptions::prior_octaves`] (1 octave), both as in librosa; the
//!    best lag on a grid of quarter frames between 40 and 240 BPM wins.
//! 4. **Refinement.** The period is refined within ±2 % by a pulse-train
//!    (comb) match: the period whose best-phase comb collects the most
//!    (smoothed, mean-removed) envelope over the whole input, as in Percival
//!    & Tzanetakis's cross-correlation with pulses (0.05 % steps).
//!
//! # Confidence
//! [`TempoEstimate::confidence`] is `E(τ) / 2.5` at the chosen lag, clipped
//! to 0..1: the weighted mean correlation between the envelope and itself
//! shifted by one beat, two beats and four beats. A click track scores about
//! 0.9, the General MIDI renderings of `bench/analysis` 0.3–0.85, drum loops
//! 0.3–0.8. White-noise envelopes (29 seeds) give at most 0.11 over 8 s
//! (median 0.07) and 0.07 over 30 s; silence and constant input give no
//! estimate at all. [`estimate_tempo`] returns `None` below
//! [`MIN_CONFIDENCE`] = 0.15.
//!
//! # Accuracy
//! On the 81 tempo-labelled files of `bench/analysis`, end to end
//! (`bench/analysis/eval.py`; tables in `bench/RESULTS.md`): Accuracy1
//! (±4 %) 90.1 %, Accuracy2 (×2, ×½, ×3, ×⅓ allowed) 96.3 %; librosa 0.11
//! `beat_track` 67.9 / 81.5 %, essentia 2.1 `RhythmExtractor2013`
//! (multifeature) 84.0 / 93.8 %.

// `!(x > 0.0)` is the NaN-rejecting form of the input checks here.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// A tempo estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoEstimate {
    /// Beats per minute.
    pub bpm: f64,
    /// 0..1: how clearly the envelope is periodic at this tempo.
    pub confidence: f64,
}

impl TempoEstimate {
    /// Beat period in seconds (`60 / bpm`).
    pub fn period_s(&self) -> f64 {
        60.0 / self.bpm
    }
}

/// Confidence below which [`estimate_tempo`] reports no tempo.
///
/// Chosen from measurements (module docs): white noise gives at most 0.11,
/// the music of `bench/analysis` whose tempo is right at least 0.28 (the
/// rhythmically weakest loops 0.06–0.18).
pub const MIN_CONFIDENCE: f64 = 0.15;

/// Tuning of [`estimate_tempo_with`]. The defaults are those of
/// [`estimate_tempo`].
#[derive(Debug, Clone, PartialEq)]
pub struct TempoOptions {
    /// Slowest tempo considered, BPM (default 40).
    pub min_bpm: f64,
    /// Fastest tempo considered, BPM (default 240).
    pub max_bpm: f64,
    /// Centre of the log-normal tempo prior, BPM (default 120).
    pub prior_bpm: f64,
    /// Standard deviation of the prior in octaves (default 1.0; `f64::INFINITY`
    /// for a flat prior).
    pub prior_octaves: f64,
    /// Length of the local autocorrelation windows, seconds (default 12).
    pub acf_window_s: f64,
    /// Estimates below this confidence are reported as `None`
    /// (default [`MIN_CONFIDENCE`]).
    pub min_confidence: f64,
    /// Refine the BPM with a pulse-train match (default true).
    pub refine: bool,
    /// Weight of `R(2τ)` in the enhanced autocorrelation (default 0.5).
    pub enhance: f64,
    /// Weight of `R(4τ)` in the enhanced autocorrelation (default 1).
    pub enhance_bar: f64,
}

impl Default for TempoOptions {
    fn default() -> Self {
        TempoOptions {
            min_bpm: 40.0,
            max_bpm: 240.0,
            prior_bpm: 120.0,
            prior_octaves: 1.0,
            acf_window_s: 12.0,
            min_confidence: MIN_CONFIDENCE,
            refine: true,
            enhance: 0.5,
            enhance_bar: 1.0,
        }
    }
}

/// Estimates the tempo of `onset` (onset strength, one value per analysis
/// frame, `frame_rate` frames per second). `None` when the envelope shows no
/// periodicity (silence, noise, too short).
///
/// Needs at least 3 s of envelope and twice the slowest period considered
/// (3 s at 40 BPM). Non-finite values count as 0. See the module docs for
/// the method and the confidence.
pub fn estimate_tempo(onset: &[f32], frame_rate: f64) -> Option<TempoEstimate> {
    estimate_tempo_with(onset, frame_rate, &TempoOptions::default())
}

/// [`estimate_tempo`] on the last `window_s` seconds of `onset` only: the
/// rolling tempo of live input (use 8–12 s).
pub fn estimate_tempo_window(onset: &[f32], frame_rate: f64, window_s: f64) -> Option<TempoEstimate> {
    if !(frame_rate > 0.0 && window_s > 0.0) {
        return None;
    }
    let n = ((window_s * frame_rate).round() as usize).min(onset.len());
    estimate_tempo(&onset[onset.len() - n..], frame_rate)
}

/// [`estimate_tempo`] with explicit options.
pub fn estimate_tempo_with(onset: &[f32], frame_rate: f64, opts: &TempoOptions) -> Option<TempoEstimate> {
    let analysis = TempoAnalysis::new(onset, frame_rate, opts)?;
    let est = analysis.best()?;
    (est.confidence >= opts.min_confidence).then_some(est)
}

/// The periodicity of `onset` nearest `bpm`: the strongest autocorrelation
/// peak within `±tolerance` (relative, e.g. 0.04) of `bpm`'s period, with
/// no prior. `None` when there is none or its confidence is below
/// [`MIN_CONFIDENCE`]. Live tracking uses it to stay on the metrical level it
/// holds when the best estimate jumps to double or half of it.
pub fn estimate_tempo_near(onset: &[f32], frame_rate: f64, bpm: f64, tolerance: f64) -> Option<TempoEstimate> {
    if !(bpm.is_finite() && bpm > 0.0 && tolerance.is_finite() && tolerance >= 0.0) {
        return None;
    }
    let opts = TempoOptions {
        min_bpm: (bpm / (1.0 + tolerance) * 0.9).min(TempoOptions::default().min_bpm),
        max_bpm: (bpm * (1.0 + tolerance) * 1.1).max(TempoOptions::default().max_bpm),
        ..TempoOptions::default()
    };
    let analysis = TempoAnalysis::new(onset, frame_rate, &opts)?;
    let centre = 60.0 * frame_rate / bpm;
    let lo = (centre / (1.0 + tolerance)).max(analysis.min_lag as f64);
    let hi = (centre * (1.0 + tolerance)).min(analysis.max_lag as f64);
    let est = analysis.best_in(lo, hi, false)?;
    (est.confidence >= opts.min_confidence).then_some(est)
}

/// Non-finite and negative values to 0, as f64.
pub(crate) fn sanitize(onset: &[f32]) -> Vec<f64> {
    onset.iter().map(|&v| if v.is_finite() && v > 0.0 { f64::from(v) } else { 0.0 }).collect()
}

/// The global tempogram of an envelope and what is derived from it.
struct TempoAnalysis<'a> {
    env: Vec<f64>,
    frame_rate: f64,
    opts: &'a TempoOptions,
    /// Mean normalised autocorrelation, lags 0..=max_lag (`acf[0] == 1`).
    acf: Vec<f64>,
    min_lag: usize,
    max_lag: usize,
}

impl<'a> TempoAnalysis<'a> {
    fn new(onset: &[f32], frame_rate: f64, opts: &'a TempoOptions) -> Option<Self> {
        if !(frame_rate.is_finite() && frame_rate > 0.0) {
            return None;
        }
        if !(opts.min_bpm > 0.0 && opts.max_bpm > opts.min_bpm && opts.max_bpm.is_finite()) {
            return None;
        }
        let env = sanitize(onset);
        let n = env.len();
        // Smoothing (Gaussian, σ = 1 frame) keeps a period that is not a
        // whole number of frames from splitting its autocorrelation peak
        // between two lags (clicks every 18.46 frames would otherwise
        // correlate better at two beats than at one).
        let smooth = gaussian_smooth(&env, 1.0);
        // Lags: max_lag covers the slowest tempo, min_lag the fastest (at
        // least 2 frames).
        let max_lag = (60.0 * frame_rate / opts.min_bpm).ceil() as usize + 1;
        let min_lag = ((60.0 * frame_rate / opts.max_bpm).floor() as usize).max(2);
        if max_lag <= min_lag + 2 {
            return None;
        }
        if (n as f64) < (3.0 * frame_rate).max(2.0 * max_lag as f64) {
            return None;
        }
        let win = ((opts.acf_window_s * frame_rate).round() as usize).max(2 * max_lag).min(n);
        // The enhancement reads R up to 4 * max_lag (bounded by the window).
        let acf_lags = (4 * max_lag + 2).min(win - 1);
        let hop = (win / 2).max(1);
        let mut acc = vec![0.0; acf_lags + 1];
        let mut total_w = 0.0;
        let mut start = 0;
        let mut buf = vec![0.0; win];
        loop {
            let end = (start + win).min(n);
            let seg = &smooth[end - win..end];
            let mean = seg.iter().sum::<f64>() / win as f64;
            for (b, &v) in buf.iter_mut().zip(seg) {
                *b = v - mean;
            }
            let r0: f64 = buf.iter().map(|v| v * v).sum();
            // All-equal or silent windows carry no rhythm.
            let level = seg.iter().map(|v| v.abs()).fold(0.0, f64::max);
            if r0 > 1e-18 * win as f64 * level.max(1e-30) && r0 > 0.0 {
                let w = r0.sqrt();
                for (lag, a) in acc.iter_mut().enumerate() {
                    let r: f64 = buf[lag..].iter().zip(&buf).map(|(x, y)| x * y).sum();
                    *a += w * r / r0;
                }
                total_w += w;
            }
            if end >= n {
                break;
            }
            start += hop;
        }
        if !(total_w > 0.0) {
            return None;
        }
        for a in &mut acc {
            *a /= total_w;
        }
        Some(TempoAnalysis { env, frame_rate, opts, acf: acc, min_lag, max_lag })
    }

    fn bpm_of_lag(&self, lag: f64) -> f64 {
        60.0 * self.frame_rate / lag
    }

    fn log_prior(&self, lag: f64) -> f64 {
        let o = self.opts.prior_octaves;
        if !(o.is_finite() && o > 0.0 && self.opts.prior_bpm > 0.0) {
            return 0.0;
        }
        let d = (self.bpm_of_lag(lag) / self.opts.prior_bpm).log2() / o;
        -0.5 * d * d
    }

    /// `R` at a fractional lag (linear interpolation; 0 beyond the lags
    /// computed).
    fn acf_at(&self, lag: f64) -> f64 {
        interp(&self.acf, lag)
    }

    /// Enhanced autocorrelation `R⁺(τ) + e₂ R⁺(2τ) + e₄ R⁺(4τ)`
    /// (R⁺ = R clipped at 0).
    fn enhanced(&self, lag: f64) -> f64 {
        let r = |l: f64| self.acf_at(l).max(0.0);
        r(lag) + self.opts.enhance * r(2.0 * lag) + self.opts.enhance_bar * r(4.0 * lag)
    }

    fn best(&self) -> Option<TempoEstimate> {
        let fastest = (60.0 * self.frame_rate / self.opts.max_bpm).max(self.min_lag as f64);
        let slowest = (60.0 * self.frame_rate / self.opts.min_bpm).min(self.max_lag as f64);
        self.best_in(fastest, slowest, true)
    }

    /// Best lag of `lo..=hi` on a grid of quarter frames: by enhanced
    /// autocorrelation times the prior (`with_prior`), or by the
    /// autocorrelation alone at one of its local maxima.
    fn best_in(&self, lo: f64, hi: f64, with_prior: bool) -> Option<TempoEstimate> {
        let lo = lo.max(1.0);
        let hi = hi.min((self.acf.len() - 2) as f64);
        let mut best: Option<(f64, f64)> = None;
        let mut lag = lo;
        while lag <= hi {
            let score = if with_prior {
                let e = self.enhanced(lag);
                if e > 0.0 { e.ln() + self.log_prior(lag) } else { f64::NEG_INFINITY }
            } else {
                let r = self.acf_at(lag);
                let peak = r >= self.acf_at(lag - 0.25) && r >= self.acf_at(lag + 0.25);
                if peak { r } else { f64::NEG_INFINITY }
            };
            if score > f64::NEG_INFINITY && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, lag));
            }
            lag += 0.25;
        }
        let (_, mut lag) = best?;
        let confidence = if with_prior {
            self.enhanced(lag) / (1.0 + self.opts.enhance.max(0.0) + self.opts.enhance_bar.max(0.0))
        } else {
            self.acf_at(lag)
        }
        .clamp(0.0, 1.0);
        if self.opts.refine {
            lag = refine_period_comb(&self.env, lag, 0.02);
        }
        let bpm = self.bpm_of_lag(lag);
        bpm.is_finite().then_some(TempoEstimate { bpm, confidence })
    }
}

/// Linear interpolation of `x` at fractional index `pos` (0 outside).
pub(crate) fn interp(x: &[f64], pos: f64) -> f64 {
    if !(pos >= 0.0) {
        return 0.0;
    }
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    match (x.get(i), x.get(i + 1)) {
        (Some(&a), Some(&b)) => a + f * (b - a),
        (Some(&a), None) if f == 0.0 => a,
        _ => 0.0,
    }
}

/// Smooths `env` with a Gaussian of standard deviation `sigma` frames.
pub(crate) fn gaussian_smooth(env: &[f64], sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 || env.is_empty() {
        return env.to_vec();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-r..=r).map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp()).collect();
    let ksum: f64 = kernel.iter().sum();
    let n = env.len() as isize;
    (0..n)
        .map(|t| {
            let mut s = 0.0;
            for (j, w) in kernel.iter().enumerate() {
                let i = t + j as isize - r;
                if (0..n).contains(&i) {
                    s += w * env[i as usize];
                }
            }
            s / ksum
        })
        .collect()
}

/// Pulse-train score of period `period` (frames) on the smoothed, mean-removed
/// envelope `sm`: the best over phases of the mean value at `phase + k·period`.
pub(crate) fn comb_score(sm: &[f64], period: f64) -> (f64, f64) {
    let n = sm.len() as f64;
    if !(period >= 1.0) || n < period {
        return (f64::NEG_INFINITY, 0.0);
    }
    let steps = (period * 4.0).ceil() as usize;
    let mut best = (f64::NEG_INFINITY, 0.0);
    for s in 0..steps {
        let phase = s as f64 * period / steps as f64;
        let mut sum = 0.0;
        let mut count = 0usize;
        let mut p = phase;
        while p <= n - 1.0 {
            sum += interp(sm, p);
            count += 1;
            p += period;
        }
        if count > 0 {
            let v = sum / count as f64;
            if v > best.0 {
                best = (v, phase);
            }
        }
    }
    best
}

/// Refines a period (frames) within `±rel` by the best pulse-train match
/// over the whole envelope (Percival & Tzanetakis 2014, section III-C).
fn refine_period_comb(env: &[f64], period: f64, rel: f64) -> f64 {
    let mean = env.iter().sum::<f64>() / env.len().max(1) as f64;
    let centred: Vec<f64> = env.iter().map(|v| v - mean).collect();
    let sm = gaussian_smooth(&centred, 1.0);
    // Steps of 0.05 % of the period: a 0.06 BPM grid at 120 BPM.
    let steps = (rel / 0.0005).round() as i64;
    let mut best = (f64::NEG_INFINITY, period);
    for s in -steps..=steps {
        let p = period * (1.0 + s as f64 * 0.0005);
        let (score, _) = comb_score(&sm, p);
        if score > best.0 {
            best = (score, p);
        }
    }
    best.1
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Synthetic signals for the tempo, beat and prediction tests.

    use realfft::RealFftPlanner;

    /// Onsets of an accented pattern: every beat at amplitude 1 from `start`
    /// s until `end` s, and an off-beat eighth at `off_amp` after each.
    pub fn accented_eighths(bpm: f64, start: f64, end: f64, off_amp: f64) -> (Vec<f64>, Vec<f64>) {
        let beat = 60.0 / bpm;
        let (mut times, mut amps) = (Vec::new(), Vec::new());
        let mut t = start;
        while t < end {
            times.extend([t, t + beat / 2.0]);
            amps.extend([1.0, off_amp]);
            t += beat;
        }
        (times, amps)
    }

    /// Analysis rate and hop of the tests (librosa's defaults).
    pub const SR: f64 = 22_050.0;
    pub const HOP: usize = 512;
    pub const FRAME_RATE: f64 = SR / HOP as f64;

    /// Small xorshift generator.
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next_f64(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Approximately standard normal (sum of 12 uniforms).
        pub fn normal(&mut self) -> f64 {
            (0..12).map(|_| self.next_f64()).sum::<f64>() - 6.0
        }
    }

    /// Mono audio at [`SR`] with a decaying 1 kHz + 3 kHz click at every time
    /// in `times` (seconds), amplitude `amps[i]` (1 if missing), plus white
    /// noise of RMS `noise`.
    pub fn clicks(times: &[f64], amps: &[f64], dur_s: f64, noise: f64, seed: u64) -> Vec<f32> {
        let n = (dur_s * SR) as usize;
        let mut y = vec![0.0f64; n];
        let len = (0.04 * SR) as usize;
        for (i, &t) in times.iter().enumerate() {
            let a = amps.get(i).copied().unwrap_or(1.0);
            let s0 = (t * SR).round() as usize;
            for k in 0..len {
                if s0 + k >= n {
                    break;
                }
                let tt = k as f64 / SR;
                let v = (2.0 * std::f64::consts::PI * 1000.0 * tt).sin() + 0.5 * (2.0 * std::f64::consts::PI * 3000.0 * tt).sin();
                y[s0 + k] += a * v * (-tt * 120.0).exp();
            }
        }
        let mut rng = Rng(seed | 1);
        y.iter().map(|&v| (v + noise * rng.normal()) as f32).collect()
    }

    /// Beat times of a steady pulse: `first + k * 60 / bpm` below `dur_s`.
    pub fn pulse_times(bpm: f64, first: f64, dur_s: f64) -> Vec<f64> {
        let mut t = first;
        let mut out = Vec::new();
        while t < dur_s - 0.05 {
            out.push(t);
            t += 60.0 / bpm;
        }
        out
    }

    /// An onset-strength envelope with librosa's timing conventions:
    /// centred 2048-sample Hann frames, hop 512, power in 64 log-spaced bands
    /// (a stand-in for the 128 mel bands), dB with an 80 dB floor below the
    /// maximum, half-wave-rectified first difference averaged over bands, and
    /// 3 leading zero frames (lag 1 + n_fft / (2 hop)), so that frame `t`
    /// holds the rise from frame `t - 3` to `t - 2`.
    pub fn onset_envelope(y: &[f32]) -> Vec<f32> {
        let n_fft = 2048;
        let pad = n_fft / 2;
        let mut padded = vec![0.0f32; y.len() + 2 * pad];
        padded[pad..pad + y.len()].copy_from_slice(y);
        let frames = 1 + y.len() / HOP;
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(n_fft);
        let mut input = fft.make_input_vec();
        let mut spec = fft.make_output_vec();
        let window: Vec<f32> =
            (0..n_fft).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()) as f32).collect();
        let n_bands = 64;
        // Band edges log-spaced from 30 Hz to 10 kHz, in bins.
        let edges: Vec<usize> = (0..=n_bands)
            .map(|b| {
                let f = 30.0 * (10_000.0f64 / 30.0).powf(b as f64 / n_bands as f64);
                ((f / SR * n_fft as f64).round() as usize).max(1)
            })
            .collect();
        let mut db = vec![vec![0.0f64; n_bands]; frames];
        let mut max_db = f64::NEG_INFINITY;
        for (t, row) in db.iter_mut().enumerate() {
            let s = t * HOP;
            for i in 0..n_fft {
                input[i] = padded[s + i] * window[i];
            }
            fft.process(&mut input, &mut spec).unwrap();
            for (b, v) in row.iter_mut().enumerate() {
                let (lo, hi) = (edges[b], edges[b + 1].max(edges[b] + 1));
                let p: f64 = spec[lo..hi].iter().map(|c| f64::from(c.norm_sqr())).sum();
                *v = 10.0 * p.max(1e-10).log10();
                max_db = max_db.max(*v);
            }
        }
        let mut env = vec![0.0f32; frames];
        for t in 1..frames {
            let mut s = 0.0;
            for (cur, prev) in db[t].iter().zip(&db[t - 1]) {
                s += (cur.max(max_db - 80.0) - prev.max(max_db - 80.0)).max(0.0);
            }
            // Difference between frames t-1 and t lands at t + 2.
            if t + 2 < frames {
                env[t + 2] = (s / n_bands as f64) as f32;
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn click_env(bpm: f64, dur: f64, noise: f64) -> Vec<f32> {
        let times = pulse_times(bpm, 0.37, dur);
        onset_envelope(&clicks(&times, &[], dur, noise, 7))
    }

    #[test]
    fn click_tracks_give_their_tempo() {
        for &bpm in &[72.0, 90.0, 100.0, 120.0, 128.0, 140.0, 174.0] {
            let env = click_env(bpm, 20.0, 0.01);
            let est = estimate_tempo(&env, FRAME_RATE).unwrap_or_else(|| panic!("{bpm}: no tempo"));
            assert!((est.bpm - bpm).abs() / bpm < 0.005, "{bpm}: got {est:?}");
            assert!(est.confidence > 0.5, "{bpm}: {est:?}");
        }
    }

    #[test]
    fn accented_pattern_with_eighth_notes() {
        // 110 BPM, kick on every beat (amplitude 1), quieter eighth-note
        // off-beats (0.4): the tempo is the beat, not the eighths.
        let bpm = 110.0;
        let (times, amps) = accented_eighths(bpm, 0.2, 19.9, 0.4);
        let env = onset_envelope(&clicks(&times, &amps, 20.0, 0.01, 3));
        let est = estimate_tempo(&env, FRAME_RATE).unwrap();
        assert!((est.bpm - bpm).abs() / bpm < 0.01, "{est:?}");
    }

    #[test]
    fn synthetic_envelope_exact_period() {
        // Impulses every 20.5 frames (126.05 BPM at 43.07 frames/s): the
        // refinement must find the fractional period.
        let mut env = vec![0.0f32; 1000];
        let mut p = 5.0;
        while (p as usize) < env.len() {
            let i = p as usize;
            let f = (p - i as f64) as f32;
            env[i] += 1.0 - f;
            if i + 1 < env.len() {
                env[i + 1] += f;
            }
            p += 20.5;
        }
        let est = estimate_tempo(&env, FRAME_RATE).unwrap();
        let want = 60.0 * FRAME_RATE / 20.5;
        assert!((est.bpm - want).abs() < 0.2, "{est:?} vs {want}");
    }

    #[test]
    fn silence_noise_and_garbage_give_none() {
        assert_eq!(estimate_tempo(&[], FRAME_RATE), None);
        assert_eq!(estimate_tempo(&vec![0.0; 2000], FRAME_RATE), None);
        assert_eq!(estimate_tempo(&vec![1.0; 2000], FRAME_RATE), None);
        assert_eq!(estimate_tempo(&vec![f32::NAN; 2000], FRAME_RATE), None);
        assert_eq!(estimate_tempo(&[1.0, 2.0, 3.0], FRAME_RATE), None);
        assert_eq!(estimate_tempo(&click_env(120.0, 10.0, 0.0), 0.0), None);
        assert_eq!(estimate_tempo(&click_env(120.0, 10.0, 0.0), f64::NAN), None);
        // White noise audio, 30 s.
        let mut rng = Rng(99);
        let y: Vec<f32> = (0..(30.0 * SR) as usize).map(|_| (0.1 * rng.normal()) as f32).collect();
        let env = onset_envelope(&y);
        let est = TempoAnalysis::new(&env, FRAME_RATE, &TempoOptions::default()).and_then(|a| a.best());
        assert!(est.is_none_or(|e| e.confidence < 0.1), "{est:?}");
        assert_eq!(estimate_tempo(&env, FRAME_RATE), None);
        // I.i.d. random envelope.
        let env: Vec<f32> = (0..3000).map(|_| rng.next_f64() as f32).collect();
        assert_eq!(estimate_tempo(&env, FRAME_RATE), None);
    }

    #[test]
    fn nan_frames_are_ignored() {
        let mut env = click_env(100.0, 20.0, 0.01);
        for i in (0..env.len()).step_by(97) {
            env[i] = f32::NAN;
        }
        let est = estimate_tempo(&env, FRAME_RATE).unwrap();
        assert!((est.bpm - 100.0).abs() < 0.5, "{est:?}");
    }

    #[test]
    fn window_uses_only_the_recent_part() {
        // 20 s at 90 BPM then 12 s at 140 BPM.
        let mut env = click_env(90.0, 20.0, 0.01);
        env.extend(click_env(140.0, 12.0, 0.01));
        let est = estimate_tempo_window(&env, FRAME_RATE, 10.0).unwrap();
        assert!((est.bpm - 140.0).abs() < 1.0, "{est:?}");
        let est = estimate_tempo_window(&env[..(18.0 * FRAME_RATE) as usize], FRAME_RATE, 10.0).unwrap();
        assert!((est.bpm - 90.0).abs() < 1.0, "{est:?}");
        assert_eq!(estimate_tempo_window(&env, FRAME_RATE, 0.0), None);
    }
}
