//! [`SummaryStats`]: running statistics of frame features that make a
//! track's summary vector ([`crate::track::TrackDescriptors::summary`]),
//! over a whole track or, with exponential forgetting, over the last
//! seconds of live input.

use crate::features::FeatureFrames;

/// Length of a summary vector: MFCC 0-12 means, MFCC 0-12 standard
/// deviations, 12 chroma means, then means of spectral centroid (kHz),
/// bandwidth (kHz), roll-off (kHz), flatness, zero-crossing rate and onset
/// strength (dB).
pub const SUMMARY_LEN: usize = 13 * 2 + 12 + 6;

/// Frames more than this far below full scale (RMS, dB) are left out of
/// the MFCC and chroma statistics.
pub const LOUD_FRAME_DB: f64 = -60.0;

/// Weighted running sums; with `decay` < 1 every frame added first scales
/// the earlier ones, an exponential window of `1 / (1 - decay)` frames.
#[derive(Debug, Clone, Default)]
pub struct SummaryStats {
    /// Frames (weighted), and loud frames among them.
    pub n: f64,
    pub loud: f64,
    mfcc: [f64; 13],
    mfcc_sq: [f64; 13],
    chroma: [f64; 12],
    spectral: [f64; 6],
    /// Sum of squared frame RMS.
    pub power: f64,
}

impl SummaryStats {
    /// Adds frame `t` of `b`, after scaling the sums by `decay` (1 keeps everything).
    pub fn add(&mut self, b: &FeatureFrames, t: usize, decay: f64) {
        if decay != 1.0 {
            self.n *= decay;
            self.power *= decay;
            self.spectral.iter_mut().for_each(|v| *v *= decay);
        }
        self.n += 1.0;
        self.power += f64::from(b.rms[t]).powi(2);
        for (acc, v) in self.spectral.iter_mut().zip([
            f64::from(b.centroid_hz[t]) / 1000.0,
            f64::from(b.bandwidth_hz[t]) / 1000.0,
            f64::from(b.rolloff_hz[t]) / 1000.0,
            f64::from(b.flatness[t]),
            f64::from(b.zcr[t]),
            f64::from(b.onset_strength[t]),
        ]) {
            *acc += v;
        }
        if 20.0 * f64::from(b.rms[t]).max(1e-12).log10() > LOUD_FRAME_DB {
            if decay != 1.0 {
                self.loud *= decay;
                self.mfcc.iter_mut().chain(self.mfcc_sq.iter_mut()).chain(self.chroma.iter_mut()).for_each(|v| *v *= decay);
            }
            self.loud += 1.0;
            for c in 0..13.min(b.mfcc.len()) {
                let v = f64::from(b.mfcc[c][t]);
                self.mfcc[c] += v;
                self.mfcc_sq[c] += v * v;
            }
            for c in 0..12 {
                self.chroma[c] += f64::from(b.chroma[c][t]);
            }
        }
    }

    /// The summary vector ([`SUMMARY_LEN`] values).
    pub fn vector(&self) -> Vec<f64> {
        let loud = self.loud.max(1e-9);
        let mut v = Vec::with_capacity(SUMMARY_LEN);
        v.extend(self.mfcc.iter().map(|m| m / loud));
        v.extend(self.mfcc.iter().zip(&self.mfcc_sq).map(|(m, q)| (q / loud - (m / loud).powi(2)).max(0.0).sqrt()));
        v.extend(self.chroma.iter().map(|c| c / loud));
        v.extend(self.spectral.iter().map(|s| s / self.n.max(1e-9)));
        v
    }

    /// Mean chroma of the loud frames (C first).
    pub fn chroma_mean(&self) -> [f64; 12] {
        let loud = self.loud.max(1e-9);
        let mut out = [0.0; 12];
        for (o, c) in out.iter_mut().zip(&self.chroma) {
            *o = c / loud;
        }
        out
    }
}
