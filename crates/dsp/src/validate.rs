//! Small shared helpers: parameter validation that builds descriptive
//! errors (for constructors and `prepare`, which may allocate) and dB
//! conversions.

use resonode_core::{Error, ParamError, Result};

/// `min <= value <= max` and finite, or an [`Error::InvalidParameter`]
/// naming `name`, e.g. `order: must be between 1 and 16, got 0`.
pub(crate) fn in_range(name: &str, value: f64, min: f64, max: f64) -> Result<f64> {
    if value.is_nan() {
        return Err(Error::param(name, "must be a number, got NaN"));
    }
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(Error::param(
            name,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

/// A frequency that must be strictly positive and finite (the Nyquist bound
/// is checked in `prepare`, when the sample rate is known).
pub(crate) fn positive_hz(name: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::param(
            name,
            format!("must be a frequency above 0 Hz, got {value}"),
        ))
    }
}

/// Checks `0 < hz < nyquist` for `prepare`.
pub(crate) fn below_nyquist(name: &str, hz: f64, sample_rate: u32) -> Result<f64> {
    let nyquist = sample_rate as f64 / 2.0;
    if hz.is_finite() && hz > 0.0 && hz < nyquist {
        Ok(hz)
    } else {
        Err(Error::param(
            name,
            format!(
                "must be above 0 Hz and below the Nyquist frequency ({nyquist} Hz at {sample_rate} Hz), got {hz} Hz"
            ),
        ))
    }
}

/// The real-time-safe counterpart of [`below_nyquist`] for `set_parameter`:
/// `0 < hz < nyquist` (or just `hz > 0` before `prepare`, `nyquist == None`).
#[inline]
pub(crate) fn check_hz(hz: f64, nyquist: Option<f64>) -> Result<f64, ParamError> {
    let max = nyquist.unwrap_or(f64::MAX);
    if hz.is_finite() && hz > 0.0 && hz < max {
        Ok(hz)
    } else {
        Err(ParamError::OutOfRange { min: 0.0, max })
    }
}

/// dB to linear amplitude: `10^(db / 20)`.
#[inline]
pub(crate) fn db_to_linear(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude to dB: `20 log10(linear)` (`-inf` for 0).
#[inline]
pub(crate) fn linear_to_db(linear: f64) -> f64 {
    20.0 * linear.log10()
}
