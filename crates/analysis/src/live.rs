//! [`LiveAnalyzer`]: analysis of live input, fed block by block on a
//! non-real-time thread (for the engine, the thread that drains its
//! lock-free tap), never in the audio callback.
//!
//! It keeps the latest frame's features, and updates every
//! [`UPDATE_INTERVAL_S`] of stream time: the tempo and the predicted next
//! beats ([`crate::predict::BeatPredictor`] over the last 8 s of onset
//! strength), the key (from chroma averaged with an exponential window of
//! [`KEY_WINDOW_S`]) and the energy trend (the level, mean power in dBFS, of the last
//! [`TREND_WINDOW_S`] against the one before). Memory is bounded.
//!
//! Times are *stream time*: seconds of input pushed since the start (input
//! frame `n` is at `n / sample_rate`), the clock the tapped audio carries.

use std::collections::VecDeque;

use resonode_core::Result;

use crate::config::AnalysisConfig;
use crate::features::FeatureFrames;
use crate::input::{FrameStream, LIVE_RESAMPLER_CHUNK};
use crate::key::{estimate_key, KeyEstimate};
use crate::loudness::{LoudnessMeter, Measures};
use crate::summary::SummaryStats;
use crate::predict::{BeatPrediction, BeatPredictor};

/// Window of EBU R128 short-term loudness (s).
const SHORT_TERM_S: f64 = 3.0;

/// Stream time between two updates of tempo, beats, key and trend (s).
pub const UPDATE_INTERVAL_S: f64 = 1.0;
/// Time constant of the chroma average behind the live key (s).
pub const KEY_WINDOW_S: f64 = 30.0;
/// Length of each of the two windows the energy trend compares (s).
pub const TREND_WINDOW_S: f64 = 4.0;
/// Level change between the two windows that counts as rising / dropping (dB).
pub const TREND_THRESHOLD_DB: f64 = 1.5;
/// Beats predicted ahead.
pub const PREDICTED_BEATS: usize = 8;

/// Whether the level is going up, staying or going down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyTrend {
    Rising,
    Steady,
    Dropping,
}

impl EnergyTrend {
    /// `"rising"`, `"steady"` or `"dropping"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EnergyTrend::Rising => "rising",
            EnergyTrend::Steady => "steady",
            EnergyTrend::Dropping => "dropping",
        }
    }
}

/// The energy trend with what it was judged on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyTrendEstimate {
    pub trend: EnergyTrend,
    /// Level (mean power, dBFS) of the last window minus that of the window before.
    pub change_db: f64,
    /// Length of each window (s).
    pub window_s: f64,
}

/// What the live analyzer knows at a moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveSnapshot {
    /// Stream time of the input pushed so far (s).
    pub time_s: f64,
    /// The most recent analysis frame (one frame: each row holds one value).
    pub frame: Option<FeatureFrames>,
    /// Stream time of that frame's centre (s).
    pub frame_time_s: f64,
    /// Tempo, phase and predicted next beats, once the input has a pulse.
    pub beats: Option<BeatPrediction>,
    pub key: Option<KeyEstimate>,
    pub energy_trend: Option<EnergyTrendEstimate>,
    /// Level (mean power) of the last trend window, dBFS.
    pub level_dbfs: Option<f64>,
    /// Loudness of the last [`KEY_WINDOW_S`] seconds (LUFS): the power mean
    /// of the short-term loudness (EBU R128, 3 s windows) taken at each
    /// update, those below -70 LUFS left out (BS.1770's absolute gate).
    pub loudness_lufs: Option<f64>,
    /// Summary vector of the last [`KEY_WINDOW_S`] seconds (exponential
    /// window), laid out as a track's ([`crate::summary::SUMMARY_LEN`] values).
    pub summary: Option<Vec<f64>>,
    /// Updates so far (each [`UPDATE_INTERVAL_S`]).
    pub updates: u64,
}

/// Streaming analysis of live input. See the [module docs](self).
///
/// # Real-time safety
/// Not for an audio callback: allocates and takes milliseconds per block.
pub struct LiveAnalyzer {
    stream: FrameStream,
    predictor: BeatPredictor,
    stats: SummaryStats,
    meter: LoudnessMeter,
    short_term: VecDeque<f64>,
    levels: VecDeque<f32>,
    next_update_frame: u64,
    snapshot: LiveSnapshot,
}

impl std::fmt::Debug for LiveAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAnalyzer").field("stream", &self.stream).finish_non_exhaustive()
    }
}

impl LiveAnalyzer {
    /// For input of `channels` channels at `sample_rate` Hz.
    /// `cfg.floor_lookahead_s` is ignored (live analysis cannot look ahead).
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] for a bad configuration,
    /// 0 channels or an unusable rate.
    pub fn new(cfg: AnalysisConfig, sample_rate: u32, channels: usize) -> Result<Self> {
        let cfg = AnalysisConfig { floor_lookahead_s: 0.0, ..cfg };
        Ok(LiveAnalyzer {
            predictor: BeatPredictor::new(cfg.frame_rate()),
            stream: FrameStream::new(cfg, sample_rate, channels, LIVE_RESAMPLER_CHUNK)?,
            stats: SummaryStats::default(),
            meter: LoudnessMeter::with_measures(sample_rate, channels, Measures::ShortTerm)?,
            short_term: VecDeque::new(),
            levels: VecDeque::new(),
            next_update_frame: (UPDATE_INTERVAL_S * f64::from(sample_rate)) as u64,
            snapshot: LiveSnapshot::default(),
        })
    }

    /// The configuration (lookahead 0).
    pub fn config(&self) -> &AnalysisConfig {
        self.stream.config()
    }

    /// Input sample rate (Hz).
    pub fn sample_rate(&self) -> u32 {
        self.stream.sample_rate()
    }

    /// Adds a planar block; `on_frames` gets the frame features it
    /// completes. Returns true when the tempo / beats / key / trend were
    /// updated by this block.
    ///
    /// # Errors
    /// [`resonode_core::Error::Shape`] for a wrong channel count,
    /// [`resonode_core::Error::NonFiniteSample`] for NaN or infinity (the
    /// block is then not used).
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S], on_frames: impl FnOnce(&FeatureFrames)) -> Result<bool> {
        self.stream.push(planar)?;
        self.meter.push(planar)?;
        let (frames_in, rate) = (self.stream.frames_in(), self.stream.sample_rate());
        self.snapshot.time_s = frames_in as f64 / f64::from(rate);
        self.take_block();
        if !self.stream.block().is_empty() {
            on_frames(self.stream.block());
        }
        if frames_in >= self.next_update_frame {
            self.next_update_frame += (UPDATE_INTERVAL_S * f64::from(rate)) as u64;
            self.update();
            return Ok(true);
        }
        Ok(false)
    }

    fn take_block(&mut self) {
        let b = self.stream.block();
        if b.is_empty() {
            return;
        }
        self.predictor.push(&b.onset_strength);
        let frame_rate = self.stream.config().frame_rate();
        let decay = (-1.0 / (KEY_WINDOW_S * frame_rate)).exp();
        let keep = (2.0 * TREND_WINDOW_S * frame_rate).round() as usize;
        for t in 0..b.len() {
            self.levels.push_back(b.rms[t] * b.rms[t]);
            self.stats.add(b, t, decay);
        }
        while self.levels.len() > keep {
            self.levels.pop_front();
        }
        let one = b.frame(b.len() - 1);
        self.snapshot.frame_time_s = self.stream.config().frame_time(one.first_frame);
        self.snapshot.frame = Some(one);
    }

    fn update(&mut self) {
        self.snapshot.updates += 1;
        self.snapshot.beats = self.predictor.predict(PREDICTED_BEATS);
        self.snapshot.key = if self.stats.loud > 0.0 { estimate_key(&self.stats.chroma_mean()) } else { None };
        self.snapshot.summary = (self.stats.n > 0.0).then(|| self.stats.vector());
        // Short-term loudness is over 3 s: earlier values would count silence.
        if let Some(l) = self.meter.short_term_lufs().filter(|_| self.snapshot.time_s >= SHORT_TERM_S) {
            self.short_term.push_back(l);
        }
        let keep = (KEY_WINDOW_S / UPDATE_INTERVAL_S).round() as usize;
        while self.short_term.len() > keep {
            self.short_term.pop_front();
        }
        let gated: Vec<f64> = self.short_term.iter().copied().filter(|l| *l > -70.0).collect();
        self.snapshot.loudness_lufs = (!gated.is_empty())
            .then(|| 10.0 * (gated.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / gated.len() as f64).log10());
        let w = (TREND_WINDOW_S * self.stream.config().frame_rate()).round() as usize;
        let n = self.levels.len();
        // Level of a window: its mean power (mean squared RMS) in dBFS.
        let mean = |it: &mut dyn Iterator<Item = &f32>, len: usize| {
            10.0 * (it.map(|&v| f64::from(v)).sum::<f64>() / len as f64).max(1e-12).log10()
        };
        if n >= w.max(1) {
            self.snapshot.level_dbfs = Some(mean(&mut self.levels.iter().skip(n - w), w));
        }
        self.snapshot.energy_trend = if n >= 2 * w && w > 0 {
            let recent = mean(&mut self.levels.iter().skip(n - w), w);
            let before = mean(&mut self.levels.iter().skip(n - 2 * w).take(w), w);
            let change_db = recent - before;
            let trend = if change_db > TREND_THRESHOLD_DB {
                EnergyTrend::Rising
            } else if change_db < -TREND_THRESHOLD_DB {
                EnergyTrend::Dropping
            } else {
                EnergyTrend::Steady
            };
            Some(EnergyTrendEstimate { trend, change_db, window_s: TREND_WINDOW_S })
        } else {
            None
        };
    }

    /// Ends the stream: flushes the resampler and the last frames (which
    /// reach into the end padding) to `on_frames`, and updates the
    /// estimates a last time. Later pushes are ignored by the framer.
    ///
    /// # Errors
    /// Internal resampler errors.
    pub fn finish(&mut self, on_frames: impl FnOnce(&FeatureFrames)) -> Result<()> {
        self.stream.finish()?;
        self.take_block();
        if !self.stream.block().is_empty() {
            on_frames(self.stream.block());
        }
        self.update();
        Ok(())
    }

    /// What is known now.
    pub fn snapshot(&self) -> &LiveSnapshot {
        &self.snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clicks (5 ms decaying 1 kHz bursts) at `bpm`, under a slow level ramp.
    fn clicks(bpm: f64, rate: u32, seconds: f64, gain: impl Fn(f64) -> f32) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        let period = 60.0 / bpm;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let since = t % period;
                let click = if since < 0.03 { (-(since / 0.005)).exp() * (2.0 * std::f64::consts::PI * 1000.0 * since).sin() } else { 0.0 };
                click as f32 * gain(t)
            })
            .collect()
    }

    #[test]
    fn a_click_track_gets_its_tempo_beats_and_a_rising_trend() {
        let rate = 48_000;
        let sig = clicks(120.0, rate, 20.0, |t| 0.05 * 10f64.powf(t / 20.0) as f32);
        let mut a = LiveAnalyzer::new(AnalysisConfig::default(), rate, 1).unwrap();
        let mut updates = 0;
        let mut frames = 0;
        for b in sig.chunks(480) {
            if a.push(&[b], |f| frames += f.len()).unwrap() {
                updates += 1;
            }
        }
        assert_eq!(updates, 20);
        // Frames arrive as the input does (no lookahead), minus the resampler's lag.
        assert!(frames as f64 > 19.5 * a.config().frame_rate(), "{frames}");
        let s = a.snapshot();
        let beats = s.beats.as_ref().expect("a tempo");
        assert!((beats.bpm - 120.0).abs() < 2.0, "{}", beats.bpm);
        for &b in &beats.next_beats_s {
            let off = (b % 0.5).min(0.5 - b % 0.5);
            assert!(off < 0.03, "predicted beat {b} is {off} s off the grid");
        }
        let trend = s.energy_trend.unwrap();
        assert_eq!(trend.trend, EnergyTrend::Rising, "{trend:?}");
        assert!((trend.change_db - 4.0).abs() < 1.0, "{trend:?}");
        assert!(s.frame.as_ref().unwrap().len() == 1);
    }

    #[test]
    fn silence_has_no_beats_no_key_and_a_steady_trend() {
        let mut a = LiveAnalyzer::new(AnalysisConfig::default(), 44_100, 2).unwrap();
        let z = vec![0f32; 4410];
        for _ in 0..100 {
            a.push(&[&z, &z], |_| {}).unwrap();
        }
        let s = a.snapshot();
        assert!(s.beats.is_none());
        assert!(s.key.is_none());
        assert_eq!(s.energy_trend.unwrap().trend, EnergyTrend::Steady);
        assert!((s.time_s - 10.0).abs() < 1e-9);
    }

    #[test]
    fn live_loudness_and_summary_follow_the_last_seconds() {
        // A 997 Hz sine at -20 dBFS in one channel measures -23.01 LUFS
        // (BS.1770-4: a full-scale sine in one channel is -3.01 LUFS).
        let rate = 48_000;
        let sine = |amp: f64, secs: f64| -> Vec<f32> {
            (0..(secs * f64::from(rate)) as usize).map(|i| (amp * (std::f64::consts::TAU * 997.0 * i as f64 / f64::from(rate)).sin()) as f32).collect()
        };
        let mut a = LiveAnalyzer::new(AnalysisConfig::default(), rate, 1).unwrap();
        for block in sine(0.1, 12.0).chunks(4800) {
            a.push(&[block], |_| {}).unwrap();
        }
        let l = a.snapshot().loudness_lufs.unwrap();
        assert!((l + 23.01).abs() < 0.1, "{l} LUFS");
        let summary = a.snapshot().summary.clone().unwrap();
        assert_eq!(summary.len(), crate::summary::SUMMARY_LEN);
        // Chroma of a 997 Hz tone: B (987.8 Hz) is the strongest class.
        let chroma = &summary[26..38];
        let top = chroma.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).unwrap().0;
        assert_eq!(top, 11, "{chroma:?}");
        // 40 s later at -30 dBFS the 30 s window has forgotten the louder part.
        for block in sine(0.0316, 40.0).chunks(4800) {
            a.push(&[block], |_| {}).unwrap();
        }
        let l = a.snapshot().loudness_lufs.unwrap();
        assert!((l + 33.01).abs() < 0.2, "{l} LUFS");
    }
}