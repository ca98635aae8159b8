//! Second-order filters from Robert Bristow-Johnson's *Cookbook formulae
//! for audio EQ biquad filter coefficients* ("Audio EQ Cookbook",
//! <https://www.w3.org/TR/audio-eq-cookbook/>): [`rbj_coefficients`] designs
//! them, [`Biquad`] runs one as a [`Processor`].

use std::fmt;
use std::str::FromStr;

use resonode_core::{AudioBlockMut, Error, ParamError, Processor, Result, StreamSpec};

use crate::sos::{Section, SosCascade};
use crate::validate::{below_nyquist, check_hz, in_range, positive_hz};

pub use crate::sos::magnitude_db;

/// Q of a maximally flat (Butterworth) second-order filter, `1/sqrt(2)`; the
/// default Q of [`Biquad`].
pub const DEFAULT_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Smallest and largest accepted Q.
pub const Q_RANGE: (f64, f64) = (0.01, 100.0);
/// Smallest and largest accepted gain in dB (peaking and shelves).
pub const GAIN_DB_RANGE: (f64, f64) = (-60.0, 60.0);

/// The eight filter shapes of the Audio EQ Cookbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BiquadType {
    /// Second-order lowpass, `H(s) = 1 / (s^2 + s/Q + 1)`.
    LowPass,
    /// Second-order highpass, `H(s) = s^2 / (s^2 + s/Q + 1)`.
    HighPass,
    /// Bandpass with a constant 0 dB peak gain, `H(s) = (s/Q) / (s^2 + s/Q + 1)`.
    BandPass,
    /// Notch (band-stop), `H(s) = (s^2 + 1) / (s^2 + s/Q + 1)`.
    Notch,
    /// Peaking EQ: `gain` dB at the centre frequency, 0 dB far from it.
    Peaking,
    /// Low shelf: `gain` dB below the corner, 0 dB above (Q form of the slope).
    LowShelf,
    /// High shelf: `gain` dB above the corner, 0 dB below (Q form of the slope).
    HighShelf,
    /// Allpass: unit magnitude, phase turning through -180 degrees at the centre.
    AllPass,
}

impl BiquadType {
    /// Every type, in documentation order.
    pub const ALL: [BiquadType; 8] = [
        BiquadType::LowPass,
        BiquadType::HighPass,
        BiquadType::BandPass,
        BiquadType::Notch,
        BiquadType::Peaking,
        BiquadType::LowShelf,
        BiquadType::HighShelf,
        BiquadType::AllPass,
    ];

    /// The name used in chain strings and by [`FromStr`]: `"lowpass"`,
    /// `"highpass"`, `"bandpass"`, `"notch"`, `"peaking"`, `"lowshelf"`,
    /// `"highshelf"`, `"allpass"`.
    pub fn name(self) -> &'static str {
        match self {
            BiquadType::LowPass => "lowpass",
            BiquadType::HighPass => "highpass",
            BiquadType::BandPass => "bandpass",
            BiquadType::Notch => "notch",
            BiquadType::Peaking => "peaking",
            BiquadType::LowShelf => "lowshelf",
            BiquadType::HighShelf => "highshelf",
            BiquadType::AllPass => "allpass",
        }
    }

    /// Whether the `gain` parameter changes this shape (peaking and shelves).
    pub fn uses_gain(self) -> bool {
        matches!(
            self,
            BiquadType::Peaking | BiquadType::LowShelf | BiquadType::HighShelf
        )
    }
}

impl fmt::Display for BiquadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BiquadType {
    type Err = Error;

    /// Parses a [`BiquadType::name`], case-insensitively.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `type`, listing the valid names.
    fn from_str(s: &str) -> Result<Self> {
        BiquadType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let valid: Vec<_> = BiquadType::ALL.iter().map(|t| t.name()).collect();
                Error::param(
                    "type",
                    format!("unknown biquad type `{s}` (valid: {})", valid.join(", ")),
                )
            })
    }
}

/// Normalised Audio EQ Cookbook coefficients `[b0, b1, b2, a1, a2]`
/// (divided by `a0`) for a filter of type `kind` at `frequency_hz` with
/// quality `q` and `gain_db` (only used by peaking and shelves), at
/// `sample_rate_hz`.
///
/// With `w0 = 2 pi f0 / fs`, `alpha = sin(w0) / (2 Q)` and
/// `A = 10^(gain / 40)`, these are the cookbook formulas verbatim; the
/// shelves use the Q form of `alpha` (not the shelf-slope `S` form).
///
/// The caller keeps `0 < frequency_hz < sample_rate_hz / 2` and `q > 0`;
/// [`Biquad`] validates this. Pure and allocation-free.
pub fn rbj_coefficients(
    kind: BiquadType,
    frequency_hz: f64,
    q: f64,
    gain_db: f64,
    sample_rate_hz: f64,
) -> Section {
    let w0 = 2.0 * std::f64::consts::PI * frequency_hz / sample_rate_hz;
    let (sin, cos) = w0.sin_cos();
    let alpha = sin / (2.0 * q);
    let a = 10f64.powf(gain_db / 40.0);
    // [b0, b1, b2, a0, a1, a2]
    let [b0, b1, b2, a0, a1, a2] = match kind {
        BiquadType::LowPass => [
            (1.0 - cos) / 2.0,
            1.0 - cos,
            (1.0 - cos) / 2.0,
            1.0 + alpha,
            -2.0 * cos,
            1.0 - alpha,
        ],
        BiquadType::HighPass => [
            (1.0 + cos) / 2.0,
            -(1.0 + cos),
            (1.0 + cos) / 2.0,
            1.0 + alpha,
            -2.0 * cos,
            1.0 - alpha,
        ],
        BiquadType::BandPass => [alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        BiquadType::Notch => [1.0, -2.0 * cos, 1.0, 1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        BiquadType::AllPass => [
            1.0 - alpha,
            -2.0 * cos,
            1.0 + alpha,
            1.0 + alpha,
            -2.0 * cos,
            1.0 - alpha,
        ],
        BiquadType::Peaking => [
            1.0 + alpha * a,
            -2.0 * cos,
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * cos,
            1.0 - alpha / a,
        ],
        BiquadType::LowShelf => {
            let k = 2.0 * a.sqrt() * alpha;
            [
                a * ((a + 1.0) - (a - 1.0) * cos + k),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                a * ((a + 1.0) - (a - 1.0) * cos - k),
                (a + 1.0) + (a - 1.0) * cos + k,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                (a + 1.0) + (a - 1.0) * cos - k,
            ]
        }
        BiquadType::HighShelf => {
            let k = 2.0 * a.sqrt() * alpha;
            [
                a * ((a + 1.0) + (a - 1.0) * cos + k),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                a * ((a + 1.0) + (a - 1.0) * cos - k),
                (a + 1.0) - (a - 1.0) * cos + k,
                2.0 * ((a - 1.0) - (a + 1.0) * cos),
                (a + 1.0) - (a - 1.0) * cos - k,
            ]
        }
    };
    [b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0]
}

/// One Audio EQ Cookbook biquad as a [`Processor`] (kind `"biquad"`).
///
/// The shape ([`BiquadType`]) is fixed at construction; parameters are
/// `"frequency"` (Hz, `0 < f < Nyquist`), `"q"` ([`Q_RANGE`]) and `"gain"`
/// (dB, [`GAIN_DB_RANGE`]; only audible for peaking and shelves). Runs in
/// transposed direct form II with `f64` state per channel, so its output
/// equals `scipy.signal.lfilter(b, a, x)` in `float64` to ~1e-7.
///
/// # Real-time safety
/// `process`, `reset` and `set_parameter` never allocate; a parameter change
/// recomputes coefficients and keeps the filter state (no click).
#[derive(Debug, Clone)]
pub struct Biquad {
    kind: BiquadType,
    frequency: f64,
    q: f64,
    gain_db: f64,
    sample_rate: Option<u32>,
    cascade: SosCascade,
}

impl Biquad {
    /// Parameter names accepted by [`Processor::set_parameter`].
    pub const PARAMETERS: &'static [&'static str] = &["frequency", "q", "gain"];

    /// A biquad of shape `kind` at `frequency_hz`, quality `q` and `gain_db`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `frequency_hz <= 0` or not finite,
    /// `q` outside [`Q_RANGE`] or `gain_db` outside [`GAIN_DB_RANGE`]. The
    /// upper bound of `frequency_hz` (Nyquist) is checked by `prepare`.
    pub fn new(kind: BiquadType, frequency_hz: f64, q: f64, gain_db: f64) -> Result<Self> {
        Ok(Biquad {
            kind,
            frequency: positive_hz("frequency", frequency_hz)?,
            q: in_range("q", q, Q_RANGE.0, Q_RANGE.1)?,
            gain_db: in_range("gain", gain_db, GAIN_DB_RANGE.0, GAIN_DB_RANGE.1)?,
            sample_rate: None,
            cascade: SosCascade::new(),
        })
    }

    /// The shape chosen at construction.
    pub fn biquad_type(&self) -> BiquadType {
        self.kind
    }

    /// The normalised coefficients in use, once prepared.
    pub fn coefficients(&self) -> Option<Section> {
        self.cascade.sections().first().copied()
    }

    fn update(&mut self) {
        if let Some(fs) = self.sample_rate {
            let c = rbj_coefficients(self.kind, self.frequency, self.q, self.gain_db, fs as f64);
            self.cascade.set_sections(&[c]);
        }
    }
}

impl Processor for Biquad {
    fn kind(&self) -> &'static str {
        "biquad"
    }

    /// Allocates per-channel state and computes coefficients.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `frequency` at or above Nyquist.
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        below_nyquist("frequency", self.frequency, spec.sample_rate)?;
        self.sample_rate = Some(spec.sample_rate);
        self.cascade.set_channels(spec.channels);
        self.update();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        self.cascade.process_block(block);
    }

    fn reset(&mut self) {
        self.cascade.reset();
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        match name {
            "frequency" => {
                self.frequency = check_hz(value, self.sample_rate.map(|fs| fs as f64 / 2.0))?
            }
            "q" => self.q = resonode_core::error::check_range(value, Q_RANGE.0, Q_RANGE.1)?,
            "gain" => {
                self.gain_db =
                    resonode_core::error::check_range(value, GAIN_DB_RANGE.0, GAIN_DB_RANGE.1)?
            }
            _ => return Err(ParamError::Unknown),
        }
        self.update();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "frequency" => Some(self.frequency),
            "q" => Some(self.q),
            "gain" => Some(self.gain_db),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_unknown_names_list_valid_ones() {
        for t in BiquadType::ALL {
            assert_eq!(t.name().to_uppercase().parse::<BiquadType>().unwrap(), t);
        }
        let e = "bandstop".parse::<BiquadType>().unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        assert!(e.to_string().contains("notch"), "{e}");
    }

    #[test]
    fn constructor_rejects_bad_values() {
        assert!(Biquad::new(BiquadType::Peaking, 0.0, 1.0, 0.0).is_err());
        assert!(Biquad::new(BiquadType::Peaking, 1000.0, 0.0, 0.0).is_err());
        assert!(Biquad::new(BiquadType::Peaking, 1000.0, 1.0, f64::NAN).is_err());
        assert!(Biquad::new(BiquadType::Peaking, 1000.0, 1.0, 6.0).is_ok());
    }

    #[test]
    fn frequency_above_nyquist_is_refused_after_prepare_only() {
        let mut b = Biquad::new(BiquadType::LowPass, 1000.0, DEFAULT_Q, 0.0).unwrap();
        assert_eq!(b.set_parameter("frequency", 30000.0), Ok(()));
        let spec = StreamSpec {
            sample_rate: 48000,
            channels: 1,
            max_block_frames: 64,
        };
        assert_eq!(
            b.prepare(&spec).unwrap_err().code(),
            "ERR_INVALID_PARAMETER"
        );
        b.set_parameter("frequency", 1000.0).unwrap();
        b.prepare(&spec).unwrap();
        assert!(matches!(
            b.set_parameter("frequency", 24000.0),
            Err(ParamError::OutOfRange { .. })
        ));
        assert_eq!(b.set_parameter("bogus", 1.0), Err(ParamError::Unknown));
    }
}
