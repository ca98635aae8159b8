//! EBU R128 loudness of the original signal (every channel, its own rate):
//! integrated loudness (LUFS), loudness range (LU) and true peak (dBTP),
//! per ITU-R BS.1770-4 and EBU Tech 3341/3342, computed by the `ebur128`
//! crate (a port of libebur128).

use ebur128::{EbuR128, Mode};
use resonode_core::{Error, Result};

/// Loudness results. `None` where the measure is undefined (silence: every
/// block below the -70 LUFS absolute gate).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoudnessSummary {
    /// Integrated (gated) loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub range_lu: Option<f64>,
    /// Highest true peak over all channels (4x oversampled), dBTP.
    pub true_peak_dbtp: Option<f64>,
}

impl LoudnessSummary {
    /// The measures of `self`, with those it lacks taken from `other`
    /// (for meters that each measured a part, on separate threads).
    pub fn or(self, other: LoudnessSummary) -> LoudnessSummary {
        LoudnessSummary {
            integrated_lufs: self.integrated_lufs.or(other.integrated_lufs),
            range_lu: self.range_lu.or(other.range_lu),
            true_peak_dbtp: self.true_peak_dbtp.or(other.true_peak_dbtp),
        }
    }
}

/// Which measures a [`LoudnessMeter`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measures {
    /// Integrated loudness, loudness range and true peak.
    All,
    /// Integrated loudness and loudness range (the gated measures).
    Gated,
    /// True peak only (the costliest: 4x oversampling of every channel).
    TruePeak,
    /// Short-term loudness (the last 3 s) only, for live metering.
    ShortTerm,
}

/// Streaming loudness meter over planar blocks.
pub struct LoudnessMeter {
    meter: EbuR128,
    channels: usize,
    measures: Measures,
}

impl std::fmt::Debug for LoudnessMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoudnessMeter").field("channels", &self.channels).finish_non_exhaustive()
    }
}

fn ebu_err(e: ebur128::Error) -> Error {
    Error::Internal { message: format!("loudness meter: {e}") }
}

impl LoudnessMeter {
    /// A meter for `channels` channels at `sample_rate` Hz. Channels 0 and 1
    /// are left/right, 2 centre, 3 LFE (excluded), 4 and 5 surrounds
    /// (+1.5 dB), as in BS.1770's default layout; further channels count as
    /// front channels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 channels or a rate the meter refuses.
    pub fn new(sample_rate: u32, channels: usize) -> Result<Self> {
        Self::with_measures(sample_rate, channels, Measures::All)
    }

    /// A meter taking only `measures`.
    ///
    /// # Errors
    /// As [`new`](LoudnessMeter::new).
    pub fn with_measures(sample_rate: u32, channels: usize, measures: Measures) -> Result<Self> {
        if channels == 0 {
            return Err(Error::param("channels", "0 channels"));
        }
        let ch = u32::try_from(channels).map_err(|_| Error::param("channels", format!("{channels} is too many")))?;
        let mode = match measures {
            Measures::All => Mode::I | Mode::LRA | Mode::TRUE_PEAK,
            Measures::Gated => Mode::I | Mode::LRA,
            Measures::TruePeak => Mode::TRUE_PEAK,
            Measures::ShortTerm => Mode::S,
        };
        let meter = EbuR128::new(ch, sample_rate, mode).map_err(|e| Error::param("sampleRate", format!("{sample_rate} Hz: {e}")))?;
        Ok(LoudnessMeter { meter, channels, measures })
    }

    /// Adds a planar block (`channels` slices of equal length).
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count.
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S]) -> Result<()> {
        if planar.len() != self.channels {
            return Err(Error::shape(format!("{} channels given, the meter has {}", planar.len(), self.channels)));
        }
        let frames = planar.first().map_or(0, |c| c.as_ref().len());
        if frames == 0 {
            return Ok(());
        }
        let refs: Vec<&[f32]> = planar.iter().map(|c| &c.as_ref()[..frames]).collect();
        self.meter.add_frames_planar_f32(&refs).map_err(ebu_err)?;
        Ok(())
    }

    /// Short-term loudness (LUFS) of the last 3 s, with
    /// [`Measures::ShortTerm`]; `None` otherwise or in digital silence.
    pub fn short_term_lufs(&self) -> Option<f64> {
        if self.measures != Measures::ShortTerm {
            return None;
        }
        self.meter.loudness_shortterm().ok().filter(|v| v.is_finite())
    }

    /// The measures so far.
    pub fn summary(&self) -> LoudnessSummary {
        let finite = |v: f64| v.is_finite().then_some(v);
        let gated = matches!(self.measures, Measures::All | Measures::Gated);
        let integrated = if gated { self.meter.loudness_global().ok().and_then(finite) } else { None };
        let range = if integrated.is_some() { self.meter.loudness_range().ok().and_then(finite) } else { None };
        let peak = if matches!(self.measures, Measures::All | Measures::TruePeak) {
            (0..self.channels as u32).filter_map(|c| self.meter.true_peak(c).ok()).fold(0f64, f64::max)
        } else {
            0.0
        };
        LoudnessSummary {
            integrated_lufs: integrated,
            range_lu: range,
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, seconds: f64, amp: f64) -> Vec<f32> {
        (0..(seconds * f64::from(rate)) as usize).map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()) as f32).collect()
    }

    #[test]
    fn ebu_tech_3341_case_1_sine_at_minus_23() {
        // EBU Tech 3341 test 1: stereo 1 kHz sine at -23 dBFS (each channel) reads -23.0 LUFS.
        let amp = 10f64.powf(-23.0 / 20.0);
        let s = sine(1000.0, 48_000, 20.0, amp);
        let mut m = LoudnessMeter::new(48_000, 2).unwrap();
        for block in s.chunks(4800) {
            m.push(&[block, block]).unwrap();
        }
        let r = m.summary();
        assert!((r.integrated_lufs.unwrap() + 23.0).abs() < 0.1, "{r:?}");
        assert!(r.range_lu.unwrap() < 0.5);
        assert!((r.true_peak_dbtp.unwrap() + 23.0).abs() < 0.2);
    }

    #[test]
    fn split_meters_agree_with_one() {
        let s = sine(997.0, 44_100, 5.0, 0.3);
        let t = sine(50.0, 44_100, 5.0, 0.1);
        let mut all = LoudnessMeter::new(44_100, 2).unwrap();
        let mut gated = LoudnessMeter::with_measures(44_100, 2, Measures::Gated).unwrap();
        let mut peak = LoudnessMeter::with_measures(44_100, 2, Measures::TruePeak).unwrap();
        for m in [&mut all, &mut gated, &mut peak] {
            m.push(&[&s, &t]).unwrap();
        }
        let (g, p) = (gated.summary(), peak.summary());
        assert_eq!(g.true_peak_dbtp, None);
        assert_eq!(p.integrated_lufs, None);
        assert_eq!(g.or(p), all.summary());
    }

    #[test]
    fn silence_has_no_loudness() {
        let mut m = LoudnessMeter::new(44_100, 1).unwrap();
        m.push(&[vec![0f32; 44_100 * 3]]).unwrap();
        let r = m.summary();
        assert_eq!(r.integrated_lufs, None);
        assert_eq!(r.true_peak_dbtp, None);
    }
}
