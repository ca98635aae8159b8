//! [`Gain`]: a volume change with click-free parameter changes.

use resonode_core::error::check_range;
use resonode_core::{AudioBlockMut, ParamError, Processor, Result, StreamSpec};

use crate::validate::{db_to_linear, in_range, linear_to_db};

/// Accepted range of the `"db"` parameter.
pub const GAIN_DB_RANGE: (f64, f64) = (-120.0, 60.0);
/// Accepted range of the `"linear"` parameter (0 mutes).
pub const GAIN_LINEAR_RANGE: (f64, f64) = (0.0, 1000.0);
/// Length of the linear ramp that smooths a gain change, in milliseconds.
pub const RAMP_MS: f64 = 5.0;

/// Multiplies every sample by a gain (kind `"gain"`).
///
/// Parameters `"db"` (dB, [`GAIN_DB_RANGE`]) and `"linear"` (amplitude
/// factor, [`GAIN_LINEAR_RANGE`]); setting one updates the other. After
/// `prepare`, a change does not jump: the applied gain ramps linearly from
/// its current value to the new one over [`RAMP_MS`] (5 ms), so there is no
/// zipper noise or click. The ramp carries across blocks of any size.
///
/// # Real-time safety
/// `process`, `reset` and `set_parameter` never allocate; the ramp is
/// computed per sample from a start value and a step.
#[derive(Debug, Clone)]
pub struct Gain {
    /// Target gain, linear.
    target: f64,
    /// Gain applied to the next sample while a ramp runs.
    current: f64,
    /// Per-frame increment of `current` during a ramp.
    step: f64,
    /// Frames left in the ramp (0 = settled at `target`).
    remaining: usize,
    /// Ramp length in frames for the prepared sample rate (0 before prepare).
    ramp_frames: usize,
}

impl Gain {
    /// Parameter names accepted by [`Processor::set_parameter`].
    pub const PARAMETERS: &'static [&'static str] = &["db", "linear"];

    /// A gain of `db` decibels.
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] outside [`GAIN_DB_RANGE`].
    pub fn from_db(db: f64) -> Result<Self> {
        let db = in_range("db", db, GAIN_DB_RANGE.0, GAIN_DB_RANGE.1)?;
        Ok(Self::settled(db_to_linear(db)))
    }

    /// A gain of `linear` times the amplitude.
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] outside [`GAIN_LINEAR_RANGE`].
    pub fn from_linear(linear: f64) -> Result<Self> {
        let linear = in_range("linear", linear, GAIN_LINEAR_RANGE.0, GAIN_LINEAR_RANGE.1)?;
        Ok(Self::settled(linear))
    }

    fn settled(linear: f64) -> Self {
        Gain {
            target: linear,
            current: linear,
            step: 0.0,
            remaining: 0,
            ramp_frames: 0,
        }
    }

    /// The target gain in dB (`-inf` when muted).
    pub fn db(&self) -> f64 {
        linear_to_db(self.target)
    }

    /// The target gain as a linear factor.
    pub fn linear(&self) -> f64 {
        self.target
    }

    fn set_target(&mut self, linear: f64) {
        self.target = linear;
        if self.ramp_frames == 0 {
            self.current = linear;
            self.remaining = 0;
        } else {
            self.remaining = self.ramp_frames;
            self.step = (linear - self.current) / self.ramp_frames as f64;
        }
    }
}

impl Processor for Gain {
    fn kind(&self) -> &'static str {
        "gain"
    }

    /// Computes the ramp length for the sample rate; never fails.
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        self.ramp_frames = ((RAMP_MS * spec.sample_rate as f64 / 1000.0).round() as usize).max(1);
        self.reset();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        let frames = block.frames();
        let ramp = self.remaining.min(frames);
        let (start, step) = (self.current, self.step);
        let target = self.target as f32;
        for ch in block.channels_mut() {
            let (head, tail) = ch.split_at_mut(ramp);
            for (i, s) in head.iter_mut().enumerate() {
                *s = (*s as f64 * (start + step * (i + 1) as f64)) as f32;
            }
            if target != 1.0 {
                for s in tail {
                    *s *= target;
                }
            }
        }
        self.remaining -= ramp;
        self.current = if self.remaining == 0 {
            self.target
        } else {
            start + step * ramp as f64
        };
    }

    /// Ends any ramp at the target gain.
    fn reset(&mut self) {
        self.current = self.target;
        self.remaining = 0;
        self.step = 0.0;
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        let linear = match name {
            "db" => db_to_linear(check_range(value, GAIN_DB_RANGE.0, GAIN_DB_RANGE.1)?),
            "linear" => check_range(value, GAIN_LINEAR_RANGE.0, GAIN_LINEAR_RANGE.1)?,
            _ => return Err(ParamError::Unknown),
        };
        self.set_target(linear);
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "db" => Some(self.db()),
            "linear" => Some(self.linear()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_and_linear_stay_in_sync() {
        let mut g = Gain::from_db(-6.0).unwrap();
        assert!((g.linear() - 0.501187).abs() < 1e-6);
        g.set_parameter("linear", 2.0).unwrap();
        assert!((g.parameter("db").unwrap() - 6.0206).abs() < 1e-4);
        assert!(Gain::from_linear(-1.0).is_err());
        assert_eq!(
            g.set_parameter("db", 61.0),
            Err(ParamError::OutOfRange {
                min: -120.0,
                max: 60.0
            })
        );
    }
}
