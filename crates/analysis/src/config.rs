//! [`AnalysisConfig`]: analysis rate, STFT size and hop, filterbank sizes.

use resonode_core::{Error, Result};

/// How audio is analysed. The defaults are librosa's (and the mixer's):
/// 22050 Hz mono, 2048-sample Hann window, hop 512 (23.2 ms, 43.07 frames/s),
/// centred frames, 128 Slaney mel bands, 13 MFCCs, 12 chroma bins.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Rate the (mono) analysis signal is resampled to, in Hz (default 22050).
    pub sample_rate: u32,
    /// STFT window length in samples (default 2048; even, >= 64).
    pub n_fft: usize,
    /// STFT hop in samples (default 512; 1..=n_fft).
    pub hop_length: usize,
    /// Centred frames: `n_fft / 2` zeros before the first sample and after the
    /// last, so frame `t` is centred on sample `t * hop_length` (default true).
    pub center: bool,
    /// Mel bands for MFCC and onset strength (default 128).
    pub n_mels: usize,
    /// MFCCs kept (default 13, coefficient 0 included).
    pub n_mfcc: usize,
    /// Spectral roll-off fraction (default 0.85).
    pub rolloff_percent: f64,
    /// Tuning offset for chroma in fractions of a semitone, in `[-0.5, 0.5)`
    /// (default 0: A4 = 440 Hz).
    pub tuning: f64,
    /// Seconds of audio the mel dB floor looks ahead (see
    /// [`crate::features`]); frames come out this much later. Default 10 s
    /// for files; live analysis uses 0.
    pub floor_lookahead_s: f64,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            sample_rate: 22_050,
            n_fft: 2048,
            hop_length: 512,
            center: true,
            n_mels: 128,
            n_mfcc: 13,
            rolloff_percent: 0.85,
            tuning: 0.0,
            floor_lookahead_s: 10.0,
        }
    }
}

impl AnalysisConfig {
    /// Frames per second: `sample_rate / hop_length`.
    pub fn frame_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop_length as f64
    }

    /// Number of frequency bins: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Time in seconds of the centre of frame `t` (with `center`), or of its
    /// first sample (without).
    pub fn frame_time(&self, t: u64) -> f64 {
        t as f64 * self.hop_length as f64 / f64::from(self.sample_rate)
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field (JS names: `sampleRate`,
    /// `nFft`, `hopLength`, `nMels`, `nMfcc`, `rolloffPercent`, `tuning`).
    pub fn validate(&self) -> Result<()> {
        if !(4_000..=192_000).contains(&self.sample_rate) {
            return Err(Error::param("sampleRate", format!("{} Hz is outside [4000, 192000]", self.sample_rate)));
        }
        if self.n_fft < 64 || self.n_fft > 65_536 || !self.n_fft.is_multiple_of(2) {
            return Err(Error::param("nFft", format!("{} must be an even number of samples in [64, 65536]", self.n_fft)));
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return Err(Error::param("hopLength", format!("{} must be in [1, nFft = {}]", self.hop_length, self.n_fft)));
        }
        if self.n_mels < 2 || self.n_mels > 512 {
            return Err(Error::param("nMels", format!("{} is outside [2, 512]", self.n_mels)));
        }
        if self.n_mfcc < 1 || self.n_mfcc > self.n_mels {
            return Err(Error::param("nMfcc", format!("{} is outside [1, nMels = {}]", self.n_mfcc, self.n_mels)));
        }
        if !(self.rolloff_percent > 0.0 && self.rolloff_percent < 1.0) {
            return Err(Error::param("rolloffPercent", format!("{} is outside (0, 1)", self.rolloff_percent)));
        }
        if !(self.tuning >= -0.5 && self.tuning < 0.5) {
            return Err(Error::param("tuning", format!("{} is outside [-0.5, 0.5)", self.tuning)));
        }
        if !(0.0..=600.0).contains(&self.floor_lookahead_s) {
            return Err(Error::param("floorLookaheadS", format!("{} is outside [0, 600]", self.floor_lookahead_s)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_librosas_and_valid() {
        let c = AnalysisConfig::default();
        c.validate().unwrap();
        assert!((c.frame_rate() - 43.066_406_25).abs() < 1e-9);
        assert_eq!(c.n_bins(), 1025);
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = [
            AnalysisConfig { hop_length: 0, ..Default::default() },
            AnalysisConfig { n_fft: 1001, ..Default::default() },
            AnalysisConfig { n_mfcc: 200, ..Default::default() },
            AnalysisConfig { rolloff_percent: 1.0, ..Default::default() },
            AnalysisConfig { sample_rate: 100, ..Default::default() },
        ];
        let names = ["hopLength", "nFft", "nMfcc", "rolloffPercent", "sampleRate"];
        for (c, n) in bad.iter().zip(names) {
            match c.validate() {
                Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, n),
                other => panic!("{n}: {other:?}"),
            }
        }
    }
}
