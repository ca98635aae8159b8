//! Streaming frame features, defined as librosa 0.11 defines them.
//!
//! Push mono samples at the analysis rate into a [`FeatureExtractor`]; every
//! complete analysis frame appends one column to a [`FeatureFrames`]. The
//! result is the same whatever the block sizes (frames are cut by
//! [`crate::spectrum::Framer`]).
//!
//! With `X[k, t]` the STFT (periodic Hann window of `n_fft`, hop
//! `hop_length`, centred frames with zero padding), `S = |X|`, `f[k]` the
//! bin frequency in Hz and `M = W_mel · S²` the Slaney mel power spectrum:
//!
//! | feature | definition | unit | librosa |
//! |---|---|---|---|
//! | `rms` | `sqrt(mean(x²))` over the (unwindowed) frame | linear amplitude (full-scale sine: 0.707) | `feature.rms` |
//! | `zcr` | sign changes between neighbouring samples of the frame / `n_fft`; `|x| <= 1e-10` counts as 0, 0 as positive; edges padded with copies of the first / last sample | fraction (0..1) | `feature.zero_crossing_rate` |
//! | `centroid_hz` | `Σ f S / Σ S` | Hz | `feature.spectral_centroid` |
//! | `bandwidth_hz` | `sqrt(Σ (S/ΣS) (f - centroid)²)` | Hz | `feature.spectral_bandwidth` (p = 2) |
//! | `rolloff_hz` | lowest `f[k]` with `Σ_{j<=k} S >= 0.85 Σ S` | Hz | `feature.spectral_rolloff` |
//! | `flatness` | geometric / arithmetic mean of `max(S², 1e-10)` | 0..1 (1: white) | `feature.spectral_flatness` |
//! | `flux` | `sqrt(Σ_k max(0, S[k,t] - S[k,t-1])²)`, 0 for the first frame | magnitude units | rectified L2 flux (Dixon 2006, "Onset detection revisited") |
//! | `mfcc` | orthonormal DCT-II of `L` over the mel bands, first `n_mfcc`; `L = 10 log10(max(M, 1e-10))` floored as below | dB-scaled cepstrum | `feature.mfcc` |
//! | `chroma` | chroma filterbank · `S²`, divided by its maximum | 0..1, C first | `feature.chroma_stft` (tuning fixed by [`AnalysisConfig::tuning`]) |
//! | `onset_strength` | `mean_b max(0, L[b,t-2] - L[b,t-3])`, 0 for `t < 3` | dB | `onset.onset_strength` |
//!
//! The mel dB spectrum `L` behind MFCC and onset strength is floored like
//! librosa's `power_to_db(top_db=80)`: no band lower than 80 dB below the
//! loudest band of the loudest frame. librosa takes that maximum over the
//! whole file, which a stream cannot know. Here it is the maximum over
//! every frame so far and the next [`AnalysisConfig::floor_lookahead_s`]
//! seconds: frames are held back that long (bounded memory: 10 s of 128
//! mel bands is 220 kB) and come out with the same values as librosa's
//! whenever the file's loudest frame is no more than that far ahead of them
//! (for a quiet intro longer than that, its near-empty bands are floored
//! lower than librosa would). Live analysis uses no lookahead.
//!
//! Sources: Davis & Mermelstein 1980 (MFCC); Slaney 1998, Auditory Toolbox
//! (mel scale and filters); Ellis 2007, `chromagram_E` (chroma filterbank);
//! Böck & Widmer 2013 / Ellis 2007 (log-mel onset strength); Peeters 2004
//! (spectral shape descriptors); librosa 0.11 (McFee et al. 2015) for the
//! exact definitions, checked against it in the crate's tests.

use crate::chroma::ChromaFilterbank;
use crate::config::AnalysisConfig;
use crate::mel::{Dct, MelFilterbank};
use std::collections::VecDeque;

use crate::spectrum::{Frame, Framer, Stft};

/// How far the mel dB floor lies below the loudest band so far (librosa's
/// `power_to_db(top_db=80)`), in dB.
pub const TOP_DB: f32 = 80.0;
const AMIN: f32 = 1e-10;
/// Onset strength of the bands below this frequency (Hz) is kept apart as
/// [`FeatureFrames::onset_strength_low`], for downbeats.
pub const LOW_BAND_HZ: f64 = 200.0;

/// Frame features, features x frames: each field holds one value per
/// analysis frame (`mfcc` and `chroma` hold one row per coefficient / pitch
/// class, each row one value per frame). See the [module docs](self) for
/// definitions and units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureFrames {
    /// Index of the first frame held (frames are numbered from the start of
    /// the stream; frame `t` is at `t * hop_length / sample_rate` s).
    pub first_frame: u64,
    pub rms: Vec<f32>,
    pub zcr: Vec<f32>,
    pub centroid_hz: Vec<f32>,
    pub bandwidth_hz: Vec<f32>,
    pub rolloff_hz: Vec<f32>,
    pub flatness: Vec<f32>,
    pub flux: Vec<f32>,
    /// `n_mfcc` rows.
    pub mfcc: Vec<Vec<f32>>,
    /// 12 rows, C first.
    pub chroma: Vec<Vec<f32>>,
    pub onset_strength: Vec<f32>,
    /// Onset strength of the mel bands centred below [`LOW_BAND_HZ`] (kick
    /// and bass), same definition.
    pub onset_strength_low: Vec<f32>,
}

impl FeatureFrames {
    /// Empty, shaped for `n_mfcc` coefficients.
    pub fn new(n_mfcc: usize) -> Self {
        FeatureFrames { mfcc: vec![Vec::new(); n_mfcc], chroma: vec![Vec::new(); 12], ..Default::default() }
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.rms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rms.is_empty()
    }

    /// Drops every frame, keeping the shape; the next frame pushed is
    /// `first_frame`.
    pub fn clear(&mut self, first_frame: u64) {
        self.first_frame = first_frame;
        for v in self.rows_mut() {
            v.clear();
        }
    }

    /// Appends `other`'s frames (which must follow this block's last frame).
    pub fn append(&mut self, other: &FeatureFrames) {
        if self.is_empty() {
            self.first_frame = other.first_frame;
        }
        for (a, b) in self.rows_mut().into_iter().zip(other.rows()) {
            a.extend_from_slice(b);
        }
    }

    /// Frame `t` of this block alone (one value per row).
    pub fn frame(&self, t: usize) -> FeatureFrames {
        let mut one = FeatureFrames::new(self.mfcc.len());
        one.first_frame = self.first_frame + t as u64;
        for (dst, src) in one.rows_mut().into_iter().zip(self.rows()) {
            dst.push(src[t]);
        }
        one
    }

    fn scalar_rows(&self) -> [&Vec<f32>; 9] {
        [
            &self.rms,
            &self.zcr,
            &self.centroid_hz,
            &self.bandwidth_hz,
            &self.rolloff_hz,
            &self.flatness,
            &self.flux,
            &self.onset_strength,
            &self.onset_strength_low,
        ]
    }

    fn rows(&self) -> Vec<&Vec<f32>> {
        let mut r: Vec<&Vec<f32>> = self.scalar_rows().to_vec();
        r.extend(self.mfcc.iter());
        r.extend(self.chroma.iter());
        r
    }

    fn rows_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let mut r = vec![
            &mut self.rms,
            &mut self.zcr,
            &mut self.centroid_hz,
            &mut self.bandwidth_hz,
            &mut self.rolloff_hz,
            &mut self.flatness,
            &mut self.flux,
            &mut self.onset_strength,
            &mut self.onset_strength_low,
        ];
        r.extend(self.mfcc.iter_mut());
        r.extend(self.chroma.iter_mut());
        r
    }
}

/// Computes [`FeatureFrames`] from a stream of mono samples at
/// [`AnalysisConfig::sample_rate`].
///
/// Frames come out [`AnalysisConfig::floor_lookahead_s`] after they are
/// complete (see the module docs); [`finish`](FeatureExtractor::finish)
/// flushes them.
///
/// # Real-time safety
/// Not for an audio callback: allocates as frames are appended and takes
/// tens of microseconds per frame.
pub struct FeatureExtractor {
    cfg: AnalysisConfig,
    framer: Framer,
    state: FrameState,
}

/// A frame whose spectrum is done but whose MFCC and onset strength wait
/// for the dB floor.
struct Pending {
    index: u64,
    scalars: [f32; 7],
    chroma: [f32; 12],
}

struct FrameState {
    stft: Stft,
    mel: MelFilterbank,
    dct: Dct,
    chroma: ChromaFilterbank,
    n_low: usize,
    freqs: Vec<f32>,
    rolloff: f32,
    mag: Vec<f32>,
    prev_mag: Vec<f32>,
    power: Vec<f32>,
    mel_power: Vec<f32>,
    floored: Vec<f32>,
    mfcc_out: Vec<f32>,
    /// Frames computed but not yet emitted, oldest first.
    pending: VecDeque<Pending>,
    /// Mel dB (unfloored) from frame `hist_first` on: the pending frames
    /// and the `onset_shift` frames before the oldest of them.
    hist: VecDeque<Vec<f32>>,
    hist_first: u64,
    spare: Vec<Vec<f32>>,
    onset_shift: usize,
    lookahead: usize,
    max_db: f32,
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor").field("cfg", &self.cfg).field("frames", &self.framer.frames()).finish_non_exhaustive()
    }
}

impl FeatureExtractor {
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] from [`AnalysisConfig::validate`].
    pub fn new(cfg: AnalysisConfig) -> resonode_core::Result<Self> {
        cfg.validate()?;
        let sr = cfg.sample_rate;
        let n_bins = cfg.n_bins();
        let nyquist = f64::from(sr) / 2.0;
        let mel = MelFilterbank::new(sr, cfg.n_fft, cfg.n_mels, 0.0, nyquist);
        let top_mel = crate::mel::hz_to_mel(nyquist);
        // Bands whose centre lies below LOW_BAND_HZ.
        let n_low = (0..cfg.n_mels)
            .take_while(|&m| crate::mel::mel_to_hz(top_mel * (m + 1) as f64 / (cfg.n_mels + 1) as f64) < LOW_BAND_HZ)
            .count()
            .max(1);
        let state = FrameState {
            stft: Stft::new(cfg.n_fft),
            dct: Dct::new(cfg.n_mels, cfg.n_mfcc),
            chroma: ChromaFilterbank::new(sr, cfg.n_fft, cfg.tuning),
            n_low,
            freqs: (0..n_bins).map(|k| (k as f64 * f64::from(sr) / cfg.n_fft as f64) as f32).collect(),
            rolloff: cfg.rolloff_percent as f32,
            mag: vec![0.0; n_bins],
            prev_mag: vec![0.0; n_bins],
            power: vec![0.0; n_bins],
            mel_power: vec![0.0; cfg.n_mels],
            floored: vec![0.0; cfg.n_mels],
            mfcc_out: vec![0.0; cfg.n_mfcc],
            pending: VecDeque::new(),
            hist: VecDeque::new(),
            hist_first: 0,
            spare: Vec::new(),
            onset_shift: 1 + if cfg.center { cfg.n_fft / (2 * cfg.hop_length) } else { 0 },
            lookahead: (cfg.floor_lookahead_s * cfg.frame_rate()).round() as usize,
            max_db: f32::NEG_INFINITY,
            mel,
        };
        Ok(FeatureExtractor { framer: Framer::new(cfg.n_fft, cfg.hop_length, cfg.center), cfg, state })
    }

    /// The configuration.
    pub fn config(&self) -> &AnalysisConfig {
        &self.cfg
    }

    /// Frames cut so far (some may still be held back for the floor).
    pub fn frames(&self) -> u64 {
        self.framer.frames()
    }

    /// Samples pushed so far.
    pub fn samples_pushed(&self) -> u64 {
        self.framer.samples_pushed()
    }

    /// Appends `samples` (mono, at the analysis rate) and the features of
    /// every frame that is ready to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut FeatureFrames) {
        let state = &mut self.state;
        self.framer.push(samples, |f| state.frame(&f, out));
    }

    /// Ends the stream: the last frames (reaching into the end padding) and
    /// every frame held back.
    pub fn finish(&mut self, out: &mut FeatureFrames) {
        let state = &mut self.state;
        self.framer.finish(|f| state.frame(&f, out));
        while !state.pending.is_empty() {
            state.emit(out);
        }
    }
}

impl FrameState {
    fn frame(&mut self, f: &Frame<'_>, out: &mut FeatureFrames) {
        let x = f.samples;
        let n = x.len();
        // RMS over the zero-padded frame.
        let sumsq: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let rms = (sumsq / n as f64).sqrt() as f32;
        // Zero-crossing rate over an edge-padded frame: padding copies the
        // edge sample, so no crossing happens inside the padding or at its
        // border with the signal.
        let neg = |v: f32| v < -1e-10;
        let (lo, hi) = (f.signal.start, f.signal.end);
        let crossings = if hi > lo { x[lo..hi].windows(2).filter(|w| neg(w[0]) != neg(w[1])).count() } else { 0 };
        let zcr = crossings as f32 / n as f32;

        self.stft.power_and_magnitude(x, &mut self.power, &mut self.mag);
        // Spectral shape, on the magnitude spectrum: one pass for the
        // moments (centroid, and the bandwidth as sqrt(E[f²] - centroid²)),
        // one for the roll-off.
        let (mut total, mut m1, mut m2) = (0f64, 0f64, 0f64);
        for (&m, &fr) in self.mag.iter().zip(&self.freqs) {
            let (m, fr) = (f64::from(m), f64::from(fr));
            total += m;
            m1 += m * fr;
            m2 += m * fr * fr;
        }
        let (centroid, bandwidth, rolloff) = if total > f64::from(f32::MIN_POSITIVE) {
            let c = m1 / total;
            let threshold = f64::from(self.rolloff) * total;
            let mut cum = 0.0;
            let mut roll = *self.freqs.last().unwrap_or(&0.0);
            for (&m, &fr) in self.mag.iter().zip(&self.freqs) {
                cum += f64::from(m);
                if cum >= threshold {
                    roll = fr;
                    break;
                }
            }
            (c as f32, (m2 / total - c * c).max(0.0).sqrt() as f32, roll)
        } else {
            (0.0, 0.0, 0.0)
        };
        // Σ ln p as the ln of products of 16 values at a time (f64 holds a
        // product of 16 values in [1e-10, 1e12] exactly enough): 16x fewer
        // logarithms, the costliest step of a frame otherwise.
        let (mut log_sum, mut lin_sum) = (0f64, 0f64);
        for group in self.power.chunks(16) {
            let mut product = 1f64;
            for &p in group {
                let p = f64::from(p.max(AMIN));
                product *= p;
                lin_sum += p;
            }
            log_sum += product.ln();
        }
        let nb = self.power.len() as f64;
        let flatness = ((log_sum / nb).exp() / (lin_sum / nb)) as f32;
        let flux = if f.index == 0 {
            0.0
        } else {
            self.mag.iter().zip(&self.prev_mag).map(|(&a, &b)| f64::from((a - b).max(0.0)).powi(2)).sum::<f64>().sqrt() as f32
        };
        std::mem::swap(&mut self.mag, &mut self.prev_mag);

        let mut chroma = [0f32; 12];
        self.chroma.apply(&self.power, &mut chroma);

        self.mel.apply(&self.power, &mut self.mel_power);
        let mut db = self.spare.pop().unwrap_or_default();
        db.clear();
        db.extend(self.mel_power.iter().map(|&p| 10.0 * p.max(AMIN).log10()));
        self.max_db = db.iter().fold(self.max_db, |m, &d| m.max(d));
        if self.hist.is_empty() {
            self.hist_first = f.index;
        }
        self.hist.push_back(db);
        self.pending.push_back(Pending {
            index: f.index,
            scalars: [rms, zcr, centroid, bandwidth, rolloff, flatness, flux],
            chroma,
        });
        while self.pending.len() > self.lookahead {
            self.emit(out);
        }
    }

    /// Emits the oldest pending frame with the floor as it stands.
    fn emit(&mut self, out: &mut FeatureFrames) {
        let Some(p) = self.pending.pop_front() else { return };
        if out.is_empty() {
            out.first_frame = p.index;
        }
        let floor = self.max_db - TOP_DB;
        let [rms, zcr, centroid, bandwidth, rolloff, flatness, flux] = p.scalars;
        out.rms.push(rms);
        out.zcr.push(zcr);
        out.centroid_hz.push(centroid);
        out.bandwidth_hz.push(bandwidth);
        out.rolloff_hz.push(rolloff);
        out.flatness.push(flatness);
        out.flux.push(flux);
        for (row, &v) in out.chroma.iter_mut().zip(&p.chroma) {
            row.push(v);
        }
        let at = |t: u64| (t - self.hist_first) as usize;
        let cur = &self.hist[at(p.index)];
        for (o, &d) in self.floored.iter_mut().zip(cur) {
            *o = d.max(floor);
        }
        self.dct.apply(&self.floored, &mut self.mfcc_out);
        for (row, &v) in out.mfcc.iter_mut().zip(&self.mfcc_out) {
            row.push(v);
        }
        // o[t] = mean_b max(0, L[t-s+1] - L[t-s]) with s = 1 + n_fft / (2 hop)
        // when centred (librosa's lag 1 plus its centring shift), else 1.
        let s = self.onset_shift as u64;
        let (onset, onset_low) = if p.index >= s && p.index - s >= self.hist_first {
            let (older, newer) = (&self.hist[at(p.index - s)], &self.hist[at(p.index - s + 1)]);
            let rise = |b: usize| (newer[b].max(floor) - older[b].max(floor)).max(0.0);
            let n_mels = older.len();
            ((0..n_mels).map(rise).sum::<f32>() / n_mels as f32, (0..self.n_low).map(rise).sum::<f32>() / self.n_low as f32)
        } else {
            (0.0, 0.0)
        };
        out.onset_strength.push(onset);
        out.onset_strength_low.push(onset_low);
        // Keep the history from (next pending - s) on.
        let keep_from = self.pending.front().map_or(p.index + 1, |q| q.index).saturating_sub(s);
        while self.hist_first < keep_from && !self.hist.is_empty() {
            if let Some(v) = self.hist.pop_front() {
                self.spare.push(v);
            }
            self.hist_first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: AnalysisConfig, signal: &[f32], block: usize) -> FeatureFrames {
        let mut ex = FeatureExtractor::new(cfg).unwrap();
        let mut out = FeatureFrames::new(13);
        for b in signal.chunks(block) {
            ex.push(b, &mut out);
        }
        ex.finish(&mut out);
        out
    }

    fn noise_burst_signal() -> Vec<f32> {
        let mut x = 12345u32;
        (0..22050 * 3)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let n = (x as f32 / u32::MAX as f32) - 0.5;
                let env = if (i / 5000) % 2 == 0 { 0.05 } else { 0.5 };
                n * env + 0.3 * (i as f32 * 0.05).sin()
            })
            .collect()
    }

    #[test]
    fn block_size_does_not_change_anything() {
        let sig = noise_burst_signal();
        let a = run(AnalysisConfig::default(), &sig, 65_536);
        let b = run(AnalysisConfig::default(), &sig, 77);
        assert_eq!(a, b);
        assert_eq!(a.len(), 1 + sig.len() / 512);
        assert_eq!(a.first_frame, 0);
    }

    #[test]
    fn lookahead_only_delays_frames_and_changes_the_floor() {
        let sig = noise_burst_signal();
        let live = AnalysisConfig { floor_lookahead_s: 0.0, ..Default::default() };
        let a = run(AnalysisConfig::default(), &sig, 4096);
        let b = run(live.clone(), &sig, 4096);
        assert_eq!(a.rms, b.rms);
        assert_eq!(a.chroma, b.chroma);
        // Live output comes frame by frame.
        let mut ex = FeatureExtractor::new(live).unwrap();
        let mut out = FeatureFrames::new(13);
        ex.push(&sig[..22050], &mut out);
        assert_eq!(out.len() as u64, ex.frames());
        // With 10 s of lookahead nothing comes out of a 3 s push before finish.
        let mut ex = FeatureExtractor::new(AnalysisConfig::default()).unwrap();
        let mut out = FeatureFrames::new(13);
        ex.push(&sig, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn silence_is_finite_and_flat() {
        let out = run(AnalysisConfig::default(), &vec![0.0; 22050], 1000);
        for t in 0..out.len() {
            assert_eq!(out.rms[t], 0.0);
            assert_eq!(out.centroid_hz[t], 0.0);
            assert_eq!(out.onset_strength[t], 0.0);
            assert!((out.flatness[t] - 1.0).abs() < 1e-6);
            assert!(out.mfcc.iter().all(|r| r[t].is_finite()));
        }
    }

    #[test]
    fn sine_features_follow_theory() {
        // A 1 kHz sine at amplitude 0.5: RMS 0.354, ZCR 2 * 1000 / 22050,
        // centroid at 1 kHz, chroma peak at B (987.8 Hz) / C (1046.5 Hz) side: 1000 Hz is
        // 0.21 semitone above B5, so B dominates.
        let sig: Vec<f32> = (0..22050).map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 22050.0).sin()).collect();
        let out = run(AnalysisConfig::default(), &sig, 4096);
        let t = 20;
        assert!((out.rms[t] - 0.5 / 2f32.sqrt()).abs() < 1e-3);
        assert!((out.zcr[t] - 2000.0 / 22050.0).abs() < 2.0 / 2048.0);
        assert!((out.centroid_hz[t] - 1000.0).abs() < 15.0, "{}", out.centroid_hz[t]);
        let best = (0..12).max_by(|&a, &b| out.chroma[a][t].total_cmp(&out.chroma[b][t])).unwrap();
        assert_eq!(best, 11);
        assert!(out.flatness[t] < 1e-3);
    }
}
