//! Butterworth lowpass and highpass filters of any order from 1 to
//! [`MAX_ORDER`], designed as cascaded second-order sections.
//!
//! Design (S. Butterworth, "On the Theory of Filter Amplifiers", 1930; the
//! bilinear transform with frequency prewarping as in Oppenheim & Schafer,
//! *Discrete-Time Signal Processing*, sec. 7.1): the analog prototype of
//! order `N` has its poles evenly spaced on the left half of the unit circle,
//! `p_k = exp(j pi (2k + N + 1) / (2N))`, `k = 0..N-1`. Each conjugate pair
//! becomes one section `1 / (s^2 + 2 zeta s + 1)` with
//! `zeta = -cos(angle)`; an odd order adds the real pole `1 / (s + 1)`. The
//! cutoff is prewarped, `Omega = tan(pi fc / fs)`, and `s` is replaced by
//! `(1 / Omega) (1 - z^-1) / (1 + z^-1)`, so the digital filter is exactly
//! -3.01 dB at `fc`. Highpass uses `s -> 1/s` on the prototype. The result
//! equals `scipy.signal.butter(N, fc, btype, fs=fs, output='sos')` up to the
//! order of the sections and how the overall gain is spread over them (here
//! each section has unity gain in the passband).

use resonode_core::{AudioBlockMut, Error, ParamError, Processor, Result, StreamSpec};

use crate::sos::{Section, SosCascade, MAX_SECTIONS};
use crate::validate::{below_nyquist, check_hz, positive_hz};

/// Highest supported order (8 second-order sections).
pub const MAX_ORDER: usize = 2 * MAX_SECTIONS;

/// Default order of [`LowPass`] and [`HighPass`]: 2, the same response as
/// sox's default 2-pole `lowpass`/`highpass` (a biquad with Q = 0.7071).
pub const DEFAULT_ORDER: usize = 2;

/// Which side of the cutoff a Butterworth filter passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButterworthKind {
    /// Passes below the cutoff.
    LowPass,
    /// Passes above the cutoff.
    HighPass,
}

/// Designs a Butterworth filter into `out` and returns the number of
/// sections written (`ceil(order / 2)`): lowest-Q section first, the
/// first-order section (odd orders) before all others.
///
/// The caller keeps `1 <= order <= MAX_ORDER` and
/// `0 < cutoff_hz < sample_rate_hz / 2`; [`butterworth_sos`] checks this.
///
/// # Panics
/// If `out` is shorter than `ceil(order / 2)`.
///
/// # Real-time safety
/// Never allocates.
pub fn design_butterworth_into(
    order: usize,
    cutoff_hz: f64,
    sample_rate_hz: f64,
    kind: ButterworthKind,
    out: &mut [Section],
) -> usize {
    use std::f64::consts::PI;
    let n = order;
    let sections = n.div_ceil(2);
    assert!(
        out.len() >= sections,
        "need {sections} sections, got room for {}",
        out.len()
    );
    // c = 1 / Omega with the prewarped analog cutoff Omega = tan(pi fc / fs).
    let c = 1.0 / (PI * cutoff_hz / sample_rate_hz).tan();
    let c2 = c * c;
    let mut i = 0;
    if n % 2 == 1 {
        // Real pole: 1 / (u + 1) or u / (u + 1) with u = c (1 - z^-1) / (1 + z^-1).
        let a0 = c + 1.0;
        let a1 = (1.0 - c) / a0;
        out[i] = match kind {
            ButterworthKind::LowPass => [1.0 / a0, 1.0 / a0, 0.0, a1, 0.0],
            ButterworthKind::HighPass => [c / a0, -c / a0, 0.0, a1, 0.0],
        };
        i += 1;
    }
    // Conjugate pairs from the one nearest the real axis (lowest Q) to the
    // one nearest the imaginary axis (highest Q).
    for k in (0..n / 2).rev() {
        let angle = PI * (2 * k + n + 1) as f64 / (2 * n) as f64;
        let zeta = -angle.cos();
        let a0 = c2 + 2.0 * zeta * c + 1.0;
        let a1 = 2.0 * (1.0 - c2) / a0;
        let a2 = (c2 - 2.0 * zeta * c + 1.0) / a0;
        out[i] = match kind {
            ButterworthKind::LowPass => [1.0 / a0, 2.0 / a0, 1.0 / a0, a1, a2],
            ButterworthKind::HighPass => [c2 / a0, -2.0 * c2 / a0, c2 / a0, a1, a2],
        };
        i += 1;
    }
    sections
}

/// Designs a Butterworth lowpass or highpass of `order` at `cutoff_hz` for
/// `sample_rate_hz`, as `ceil(order / 2)` normalised sections (see
/// [`design_butterworth_into`] and the [module docs](self) for the method).
///
/// # Errors
/// [`Error::InvalidParameter`] when `order` is outside `1..=MAX_ORDER` or
/// `cutoff_hz` is not strictly between 0 and `sample_rate_hz / 2`.
pub fn butterworth_sos(
    order: usize,
    cutoff_hz: f64,
    sample_rate_hz: f64,
    kind: ButterworthKind,
) -> Result<Vec<Section>> {
    check_order_usize(order)?;
    let nyquist = sample_rate_hz / 2.0;
    if !(cutoff_hz.is_finite() && cutoff_hz > 0.0 && cutoff_hz < nyquist) {
        return Err(Error::param(
            "cutoff",
            format!("must be above 0 Hz and below the Nyquist frequency ({nyquist} Hz), got {cutoff_hz} Hz"),
        ));
    }
    let mut out = vec![[0.0; 5]; order.div_ceil(2)];
    design_butterworth_into(order, cutoff_hz, sample_rate_hz, kind, &mut out);
    Ok(out)
}

fn check_order_usize(order: usize) -> Result<usize> {
    if (1..=MAX_ORDER).contains(&order) {
        Ok(order)
    } else {
        Err(Error::param(
            "order",
            format!("must be between 1 and {MAX_ORDER}, got {order}"),
        ))
    }
}

/// `order` as a real-time-safe parameter: an integer in `1..=MAX_ORDER`.
fn check_order_param(value: f64) -> Result<usize, ParamError> {
    if value.is_finite() && value.fract() == 0.0 && (1.0..=MAX_ORDER as f64).contains(&value) {
        Ok(value as usize)
    } else {
        Err(ParamError::OutOfRange {
            min: 1.0,
            max: MAX_ORDER as f64,
        })
    }
}

/// The shared implementation of [`LowPass`] and [`HighPass`].
#[derive(Debug, Clone)]
struct Butterworth {
    kind: ButterworthKind,
    cutoff: f64,
    order: usize,
    sample_rate: Option<u32>,
    cascade: SosCascade,
}

impl Butterworth {
    const PARAMETERS: &'static [&'static str] = &["cutoff", "order"];

    fn new(kind: ButterworthKind, cutoff_hz: f64, order: usize) -> Result<Self> {
        Ok(Butterworth {
            kind,
            cutoff: positive_hz("cutoff", cutoff_hz)?,
            order: check_order_usize(order)?,
            sample_rate: None,
            cascade: SosCascade::new(),
        })
    }

    fn update(&mut self) {
        if let Some(fs) = self.sample_rate {
            let mut sos = [[0.0; 5]; MAX_SECTIONS];
            let n =
                design_butterworth_into(self.order, self.cutoff, fs as f64, self.kind, &mut sos);
            self.cascade.set_sections(&sos[..n]);
        }
    }

    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        below_nyquist("cutoff", self.cutoff, spec.sample_rate)?;
        self.sample_rate = Some(spec.sample_rate);
        self.cascade.set_channels(spec.channels);
        // Fresh state for the new stream, then coefficients.
        self.cascade.set_sections(&[]);
        self.update();
        Ok(())
    }

    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        match name {
            "cutoff" => self.cutoff = check_hz(value, self.sample_rate.map(|fs| fs as f64 / 2.0))?,
            "order" => self.order = check_order_param(value)?,
            _ => return Err(ParamError::Unknown),
        }
        self.update();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "cutoff" => Some(self.cutoff),
            "order" => Some(self.order as f64),
            _ => None,
        }
    }
}

macro_rules! butterworth_processor {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $kind_str:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(Butterworth);

        impl $name {
            /// Parameter names accepted by [`Processor::set_parameter`].
            pub const PARAMETERS: &'static [&'static str] = Butterworth::PARAMETERS;

            /// A filter at `cutoff_hz` of `order` (use [`DEFAULT_ORDER`] for
            /// the usual 12 dB/octave).
            ///
            /// # Errors
            /// [`Error::InvalidParameter`] when `cutoff_hz <= 0` or not
            /// finite, or `order` is outside `1..=MAX_ORDER`. The Nyquist
            /// bound of the cutoff is checked by `prepare`.
            pub fn new(cutoff_hz: f64, order: usize) -> Result<Self> {
                Butterworth::new($kind, cutoff_hz, order).map($name)
            }

            /// The sections in use, once prepared.
            pub fn sections(&self) -> &[Section] {
                self.0.cascade.sections()
            }
        }

        impl Processor for $name {
            fn kind(&self) -> &'static str {
                $kind_str
            }

            /// Allocates per-channel state for every section up to
            /// [`MAX_ORDER`], so later `order` changes never allocate.
            ///
            /// # Errors
            /// [`Error::InvalidParameter`] for `cutoff` at or above Nyquist.
            fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
                self.0.prepare(spec)
            }

            fn process(&mut self, block: &mut AudioBlockMut<'_>) {
                self.0.cascade.process_block(block);
            }

            fn reset(&mut self) {
                self.0.cascade.reset();
            }

            fn parameter_names(&self) -> &'static [&'static str] {
                Self::PARAMETERS
            }

            /// `"cutoff"` (Hz, `0 < cutoff < Nyquist`; before `prepare` only
            /// `> 0`) or `"order"` (an integer `1..=16`). Coefficients are
            /// recomputed and the filter state kept; after an order change,
            /// sections that did not run before start from silence.
            fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
                self.0.set_parameter(name, value)
            }

            fn parameter(&self, name: &str) -> Option<f64> {
                self.0.parameter(name)
            }
        }
    };
}

butterworth_processor!(
    /// Butterworth lowpass of order 1..=16 (kind `"lowpass"`): maximally flat
    /// passband, -3.01 dB at `"cutoff"`, falling 6 dB/octave per order.
    /// Parameters `"cutoff"` (Hz) and `"order"` (default [`DEFAULT_ORDER`]).
    /// See the [module docs](self) for the design.
    ///
    /// # Real-time safety
    /// `process`, `reset` and `set_parameter` never allocate (state for the
    /// maximum order is allocated in `prepare`).
    LowPass,
    ButterworthKind::LowPass,
    "lowpass"
);

butterworth_processor!(
    /// Butterworth highpass of order 1..=16 (kind `"highpass"`): -3.01 dB at
    /// `"cutoff"`, falling 6 dB/octave per order below it. Parameters
    /// `"cutoff"` (Hz) and `"order"` (default [`DEFAULT_ORDER`]).
    /// See the [module docs](self) for the design.
    ///
    /// # Real-time safety
    /// `process`, `reset` and `set_parameter` never allocate (state for the
    /// maximum order is allocated in `prepare`).
    HighPass,
    ButterworthKind::HighPass,
    "highpass"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::{rbj_coefficients, BiquadType, DEFAULT_Q};

    #[test]
    fn order_two_equals_the_rbj_biquad_with_q_0_7071() {
        for (kind, t) in [
            (ButterworthKind::LowPass, BiquadType::LowPass),
            (ButterworthKind::HighPass, BiquadType::HighPass),
        ] {
            let sos = butterworth_sos(2, 1234.0, 44100.0, kind).unwrap();
            let rbj = rbj_coefficients(t, 1234.0, DEFAULT_Q, 0.0, 44100.0);
            for (a, b) in sos[0].iter().zip(rbj) {
                assert!((a - b).abs() < 1e-12, "{sos:?} vs {rbj:?}");
            }
        }
    }

    #[test]
    fn bad_orders_and_cutoffs_are_refused() {
        let e = LowPass::new(1000.0, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter `order`: must be between 1 and 16, got 0"
        );
        assert!(LowPass::new(1000.0, 17).is_err());
        assert!(HighPass::new(-5.0, 2).is_err());
        assert!(butterworth_sos(4, 24000.0, 48000.0, ButterworthKind::LowPass).is_err());
        let mut lp = LowPass::new(1000.0, 2).unwrap();
        assert!(lp.set_parameter("order", 2.5).is_err());
        assert!(lp.set_parameter("order", 0.0).is_err());
        assert_eq!(lp.set_parameter("order", 16.0), Ok(()));
        assert_eq!(lp.parameter("order"), Some(16.0));
    }

    #[test]
    fn order_change_keeps_running_sections_and_zeroes_new_ones() {
        let spec = StreamSpec {
            sample_rate: 48000,
            channels: 1,
            max_block_frames: 256,
        };
        let mut lp = LowPass::new(1000.0, 2).unwrap();
        lp.prepare(&spec).unwrap();
        let mut buf = resonode_core::AudioBuffer::from_planar(&[vec![0.5f32; 256]]).unwrap();
        lp.process(&mut buf.as_block_mut());
        lp.set_parameter("order", 4.0).unwrap();
        assert_eq!(lp.sections().len(), 2);
        let mut buf = resonode_core::AudioBuffer::from_planar(&[vec![0.5f32; 256]]).unwrap();
        lp.process(&mut buf.as_block_mut());
        // The DC step has settled near 0.5; the new section starts from zero
        // state but was filled quickly: output stays finite and bounded.
        assert!(buf
            .channel(0)
            .iter()
            .all(|v| v.is_finite() && v.abs() < 1.0));
    }
}
