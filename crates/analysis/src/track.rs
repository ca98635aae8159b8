//! [`TrackAnalyzer`]: whole-track descriptors from a stream of planar
//! blocks, in bounded memory.
//!
//! What a track's analysis keeps while it streams: the loudness meter's
//! state, running sums for the summary statistics, and the onset-strength
//! envelopes (2 x 4 bytes per analysis frame: 344 bytes per second, 1.2 MB
//! for an hour), which beat tracking needs whole. Frame features are handed
//! to the caller as they come and not kept.

use resonode_core::{Error, Result};

use crate::beats::{downbeat_phase, refined_beat_times_s, track_beats};
use crate::config::AnalysisConfig;
use crate::features::FeatureFrames;
use crate::input::{FrameStream, FILE_RESAMPLER_CHUNK};
use crate::key::{estimate_key, KeyEstimate};
use crate::loudness::{LoudnessMeter, LoudnessSummary};
use crate::tempo::{estimate_tempo, TempoEstimate};

/// Tracks quieter than this integrated loudness (LUFS) count as silence:
/// no tempo, no key. (BS.1770's absolute gate is -70 LUFS.)
pub const SILENCE_LUFS: f64 = -70.0;

pub use crate::summary::SUMMARY_LEN;
use crate::summary::SummaryStats;

/// What a track is, for mixing and recommendation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackDescriptors {
    /// Duration of the input in seconds.
    pub duration_s: f64,
    /// Sample rate of the input (Hz) and its channel count.
    pub sample_rate: u32,
    pub channels: usize,
    /// Analysis frames (at [`AnalysisConfig::frame_rate`]).
    pub frames: u64,
    /// Tempo (BPM) and its confidence (0..1), `None` with
    /// [`tempo_reason`](Self::tempo_reason) when there is none.
    pub tempo: Option<TempoEstimate>,
    pub tempo_reason: Option<String>,
    /// Beat times in seconds (empty without a tempo).
    pub beats_s: Vec<f64>,
    /// Downbeat times (first beat of each 4-beat bar) in seconds, when a
    /// bar phase stands out.
    pub downbeats_s: Vec<f64>,
    /// Key and mode with Camelot code and confidence, or `None` with
    /// [`key_reason`](Self::key_reason).
    pub key: Option<KeyEstimate>,
    pub key_reason: Option<String>,
    /// EBU R128 loudness of the input (its own rate and channels).
    pub loudness: LoudnessSummary,
    /// RMS level of the whole track, linear amplitude of full scale: the
    /// root of the mean of the analysis frames' squared RMS (0..1; a
    /// full-scale sine is 0.707, mastered pop music about 0.15-0.35).
    pub energy: f64,
    /// Fixed-length vector for similarity ([`SUMMARY_LEN`] values): MFCC
    /// 0-12 means, MFCC 0-12 standard deviations, chroma means (C..B), then
    /// means of spectral centroid (kHz), bandwidth (kHz), roll-off (kHz),
    /// flatness, zero-crossing rate and onset strength (dB). Frames more
    /// than 60 dB below full scale (RMS) are left out of the MFCC and chroma
    /// statistics.
    pub summary: Vec<f64>,
}

impl TrackDescriptors {
    /// MFCC means (13).
    pub fn mfcc_mean(&self) -> &[f64] {
        &self.summary[..13]
    }
    /// Chroma means (12, C first).
    pub fn chroma_mean(&self) -> &[f64] {
        &self.summary[26..38]
    }
}

/// Streaming whole-track analysis: push planar blocks of any size, then
/// [`finish`](TrackAnalyzer::finish).
///
/// # Real-time safety
/// Not for an audio callback (allocates, milliseconds per block).
pub struct TrackAnalyzer {
    stream: FrameStream,
    /// `None` when the caller measures loudness itself (on another thread).
    meter: Option<LoudnessMeter>,
    channels: usize,
    onset: Vec<f32>,
    onset_low: Vec<f32>,
    sums: SummaryStats,
}

impl std::fmt::Debug for TrackAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackAnalyzer").field("stream", &self.stream).finish_non_exhaustive()
    }
}

impl TrackAnalyzer {
    /// An analyzer for input of `channels` channels at `sample_rate` Hz.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a bad configuration, 0 channels or a
    /// sample rate outside 1000..=768000 Hz.
    pub fn new(cfg: AnalysisConfig, sample_rate: u32, channels: usize) -> Result<Self> {
        Ok(TrackAnalyzer {
            stream: FrameStream::new(cfg, sample_rate, channels, FILE_RESAMPLER_CHUNK)?,
            meter: Some(LoudnessMeter::new(sample_rate, channels)?),
            channels,
            onset: Vec::new(),
            onset_low: Vec::new(),
            sums: SummaryStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AnalysisConfig {
        self.stream.config()
    }

    /// Input frames pushed so far.
    pub fn frames_in(&self) -> u64 {
        self.stream.frames_in()
    }

    /// Adds a planar block (`channels` x frames) and hands the frame
    /// features it completes (possibly none) to `on_frames`.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count or unequal channel
    /// lengths; [`Error::NonFiniteSample`] for NaN or infinity, naming the
    /// frame (from the start of the stream) and channel. Nothing of a
    /// refused block is used.
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S], mut on_frames: impl FnMut(&FeatureFrames)) -> Result<()> {
        self.stream.push(planar)?;
        if let Some(m) = self.meter.as_mut() {
            m.push(planar)?;
        }
        self.take_block(&mut on_frames);
        Ok(())
    }

    fn take_block(&mut self, on_frames: &mut impl FnMut(&FeatureFrames)) {
        let b = self.stream.block();
        if b.is_empty() {
            return;
        }
        self.onset.extend_from_slice(&b.onset_strength);
        self.onset_low.extend_from_slice(&b.onset_strength_low);
        for t in 0..b.len() {
            self.sums.add(b, t, 1.0);
        }
        on_frames(b);
    }

    /// Leaves loudness to the caller, who passes it to
    /// [`finish_with_loudness`](TrackAnalyzer::finish_with_loudness) (the
    /// meter is the costliest part: [`analyze_file`](crate::analyze_file)
    /// runs it on the decoding thread).
    pub fn without_loudness(mut self) -> Self {
        self.meter = None;
        self
    }

    /// Ends the input and computes the descriptors; the last frame features
    /// go to `on_frames` first.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] when no frame was pushed, or fewer than one
    /// analysis window (`n_fft` samples at the analysis rate).
    pub fn finish(self, on_frames: impl FnMut(&FeatureFrames)) -> Result<TrackDescriptors> {
        let loudness = self.meter.as_ref().map(LoudnessMeter::summary).unwrap_or_default();
        self.finish_with_loudness(loudness, on_frames)
    }

    /// [`finish`](TrackAnalyzer::finish) with loudness measured elsewhere.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] when no frame was pushed.
    pub fn finish_with_loudness(mut self, loudness: LoudnessSummary, mut on_frames: impl FnMut(&FeatureFrames)) -> Result<TrackDescriptors> {
        let (frames_in, input_rate, cfg) = (self.stream.frames_in(), self.stream.sample_rate(), self.stream.config());
        if frames_in == 0 {
            return Err(Error::EmptyAudio { reason: "no audio was given to analyse".into() });
        }
        if (frames_in as f64 * f64::from(cfg.sample_rate) / f64::from(input_rate)) < cfg.n_fft as f64 {
            let window_ms = cfg.n_fft as f64 / f64::from(cfg.sample_rate) * 1000.0;
            return Err(Error::EmptyAudio {
                reason: format!(
                    "{:.1} ms of audio is shorter than one analysis window ({} samples at {} Hz = {window_ms:.1} ms)",
                    frames_in as f64 / f64::from(input_rate) * 1000.0,
                    cfg.n_fft,
                    cfg.sample_rate
                ),
            });
        }
        self.stream.finish()?;
        self.take_block(&mut on_frames);
        Ok(self.descriptors(loudness))
    }

    fn descriptors(&self, loudness: LoudnessSummary) -> TrackDescriptors {
        let rate = self.stream.config().frame_rate();
        let silent = loudness.integrated_lufs.is_none_or(|l| l < SILENCE_LUFS);
        let (tempo, tempo_reason) = if silent {
            (None, Some(format!("silence: integrated loudness below {SILENCE_LUFS} LUFS")))
        } else {
            match estimate_tempo(&self.onset, rate) {
                Some(t) => (Some(t), None),
                None => (None, Some("no steady pulse: the onset envelope is not periodic".to_string())),
            }
        };
        // Dynamic-programming beats; their times compensate the onset
        // envelope's lag, refined between frames (see `beats::refined_beat_times_s`).
        let beats = tempo.map(|t| track_beats(&self.onset, rate, t.bpm)).unwrap_or_default();
        let beats_s = refined_beat_times_s(&beats, &self.onset, rate);
        let downbeats_s = match downbeat_phase(&beats, &self.onset_low, 4) {
            Some(phase) => beats_s.iter().skip(phase).step_by(4).copied().collect(),
            None => Vec::new(),
        };
        let s = &self.sums;
        let summary = s.vector();
        let mut chroma = [0f64; 12];
        chroma.copy_from_slice(&summary[26..38]);
        let (key, key_reason) = if silent {
            (None, Some(format!("silence: integrated loudness below {SILENCE_LUFS} LUFS")))
        } else {
            match estimate_key(&chroma) {
                Some(k) => (Some(k), None),
                None => (None, Some("no tonal centre: the chroma is too flat (noise, percussion)".to_string())),
            }
        };
        TrackDescriptors {
            duration_s: self.stream.frames_in() as f64 / f64::from(self.stream.sample_rate()),
            sample_rate: self.stream.sample_rate(),
            channels: self.channels,
            frames: s.n as u64,
            tempo,
            tempo_reason,
            beats_s,
            downbeats_s,
            key,
            key_reason,
            loudness,
            energy: (s.power / s.n.max(1.0)).sqrt(),
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(planar: &[Vec<f32>], rate: u32, block: usize) -> TrackDescriptors {
        let mut a = TrackAnalyzer::new(AnalysisConfig::default(), rate, planar.len()).unwrap();
        let frames = planar[0].len();
        let mut start = 0;
        while start < frames {
            let end = (start + block).min(frames);
            let b: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            a.push(&b, |_| {}).unwrap();
            start = end;
        }
        a.finish(|_| {}).unwrap()
    }

    #[test]
    fn silence_has_no_tempo_and_no_key_and_says_why() {
        let d = analyse(&[vec![0.0; 44_100 * 5], vec![0.0; 44_100 * 5]], 44_100, 4096);
        assert_eq!(d.tempo, None);
        assert!(d.tempo_reason.as_deref().unwrap().contains("silence"));
        assert_eq!(d.key, None);
        assert!(d.key_reason.is_some());
        assert_eq!(d.energy, 0.0);
        assert_eq!(d.summary.len(), SUMMARY_LEN);
        assert!((d.duration_s - 5.0).abs() < 1e-9);
        assert!(d.summary.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn nan_is_refused_with_its_position() {
        let mut a = TrackAnalyzer::new(AnalysisConfig::default(), 48_000, 2).unwrap();
        a.push(&[vec![0.1f32; 1000], vec![0.1; 1000]], |_| {}).unwrap();
        let mut bad = vec![0.0f32; 100];
        bad[7] = f32::NAN;
        match a.push(&[vec![0.0f32; 100], bad], |_| {}) {
            Err(Error::NonFiniteSample { frame, channel, .. }) => assert_eq!((frame, channel), (1007, 1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn input_shorter_than_a_window_is_an_error() {
        let mut a = TrackAnalyzer::new(AnalysisConfig::default(), 48_000, 1).unwrap();
        a.push(&[vec![0.1f32; 4000]], |_| {}).unwrap();
        match a.finish(|_| {}) {
            Err(Error::EmptyAudio { reason }) => assert!(reason.contains("shorter than one analysis window"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        let a = TrackAnalyzer::new(AnalysisConfig::default(), 48_000, 1).unwrap();
        assert!(matches!(a.finish(|_| {}), Err(Error::EmptyAudio { .. })));
    }

    #[test]
    fn energy_of_a_sine_is_its_rms() {
        let s: Vec<f32> = (0..48_000 * 4).map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin()).collect();
        let d = analyse(&[s], 48_000, 10_000);
        // Edge frames are half padding; the bulk is 0.354.
        assert!((d.energy - 0.5 / 2f64.sqrt()).abs() < 0.01, "{}", d.energy);
        let l = d.loudness.integrated_lufs.unwrap();
        // Mono 440 Hz at -6.02 dBFS peak: -3.01 dB RMS - 0.69 (K-weighting at 440 Hz is ~ -0.0 dB... +-0.3) -> about -9.7 LUFS.
        assert!((l + 9.7).abs() < 0.5, "{l}");
    }
}
