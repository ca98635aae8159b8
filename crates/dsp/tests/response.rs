//! Magnitude responses compared with theory: analytically from the designed
//! sections, and measured by filtering sines and taking the RMS after the
//! filter has settled.

mod common;

use common::*;
use resonode_core::Processor;
use resonode_dsp::biquad::DEFAULT_Q;
use resonode_dsp::butterworth::{butterworth_sos, ButterworthKind, MAX_ORDER};
use resonode_dsp::{magnitude_db, rbj_coefficients, BiquadType, HighPass, LowPass};

const FS: u32 = 48_000;
/// -3.0103 dB: half power.
const HALF_POWER_DB: f64 = -3.010_299_956_639_812;

/// Gain in dB of `p` for a sine at `freq`, from the RMS of the last half of
/// 1.5 s of output (block size 97 to cross block boundaries).
fn measured_gain_db(p: &mut dyn Processor, freq: f64) -> f64 {
    let frames = 72_000;
    let mut buf = sine(freq, 0.5, FS, 1, frames);
    let input_rms = rms(&buf.channel(0)[frames / 2..]);
    p.prepare(&spec(FS, 1, 97)).unwrap();
    run_blocks(p, &mut buf, 97);
    20.0 * (rms(&buf.channel(0)[frames / 2..]) / input_rms).log10()
}

/// The ideal prewarped Butterworth magnitude: `1 / (1 + W^(2N))` in power
/// with `W = tan(pi f / fs) / tan(pi fc / fs)` (inverted for highpass).
fn butterworth_theory_db(kind: ButterworthKind, order: usize, fc: f64, f: f64, fs: f64) -> f64 {
    use std::f64::consts::PI;
    let mut w = (PI * f / fs).tan() / (PI * fc / fs).tan();
    if kind == ButterworthKind::HighPass {
        w = 1.0 / w;
    }
    -10.0 * (1.0 + w.powi(2 * order as i32)).log10()
}

#[test]
fn butterworth_sections_are_3db_down_at_the_cutoff_for_every_order() {
    for kind in [ButterworthKind::LowPass, ButterworthKind::HighPass] {
        for order in 1..=MAX_ORDER {
            for fc in [30.0, 1000.0, 15_000.0] {
                let sos = butterworth_sos(order, fc, FS as f64, kind).unwrap();
                let db = magnitude_db(&sos, fc, FS as f64);
                assert!(
                    (db - HALF_POWER_DB).abs() < 1e-6,
                    "{kind:?} N={order} fc={fc}: {db} dB"
                );
            }
        }
    }
}

#[test]
fn butterworth_sections_follow_the_prewarped_analog_response_everywhere() {
    for kind in [ButterworthKind::LowPass, ButterworthKind::HighPass] {
        for order in [1, 2, 3, 5, 8, 13, 16] {
            let fc = 2000.0;
            let sos = butterworth_sos(order, fc, FS as f64, kind).unwrap();
            for i in 1..200 {
                let f = 20.0 * (1000f64).powf(i as f64 / 200.0); // 20 Hz .. 20 kHz
                let want = butterworth_theory_db(kind, order, fc, f, FS as f64);
                let got = magnitude_db(&sos, f, FS as f64);
                // Tight in the passband, relative deep in the stopband.
                let tol = 1e-6 + 1e-6 * want.abs();
                assert!(
                    (got - want).abs() < tol,
                    "{kind:?} N={order} at {f:.1} Hz: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn measured_sine_gain_is_3db_down_at_the_cutoff() {
    for order in [1, 2, 3, 4, 8] {
        let fc = 1000.0;
        let lp = measured_gain_db(&mut LowPass::new(fc, order).unwrap(), fc);
        let hp = measured_gain_db(&mut HighPass::new(fc, order).unwrap(), fc);
        assert!(
            (lp - HALF_POWER_DB).abs() < 0.02,
            "lowpass N={order}: {lp} dB"
        );
        assert!(
            (hp - HALF_POWER_DB).abs() < 0.02,
            "highpass N={order}: {hp} dB"
        );
        // Passband is flat a decade away from the cutoff.
        let lp_pass = measured_gain_db(&mut LowPass::new(fc, order).unwrap(), fc / 10.0);
        assert!(
            lp_pass.abs() < 0.05,
            "lowpass N={order} passband: {lp_pass} dB"
        );
    }
}

#[test]
fn stopband_falls_6db_per_octave_per_order() {
    // Far below Nyquist so bilinear warping barely steepens the slope:
    // one octave from 8x to 16x the cutoff.
    for order in 1..=MAX_ORDER {
        let lp = butterworth_sos(order, 100.0, FS as f64, ButterworthKind::LowPass).unwrap();
        let slope = magnitude_db(&lp, 800.0, FS as f64) - magnitude_db(&lp, 1600.0, FS as f64);
        let ideal = 20.0 * 2f64.log10() * order as f64;
        assert!(
            (slope - ideal).abs() < 0.5,
            "lowpass N={order}: {slope} dB/octave vs {ideal}"
        );
        let hp = butterworth_sos(order, 8000.0, FS as f64, ButterworthKind::HighPass).unwrap();
        let slope = magnitude_db(&hp, 1000.0, FS as f64) - magnitude_db(&hp, 500.0, FS as f64);
        assert!(
            (slope - ideal).abs() < 0.5,
            "highpass N={order}: {slope} dB/octave vs {ideal}"
        );
    }
}

#[test]
fn measured_stopband_slope_matches_theory() {
    for order in [2, 4] {
        // Near the cutoff bilinear warping shows: theory, not 6N dB.
        let a = measured_gain_db(&mut LowPass::new(500.0, order).unwrap(), 4000.0);
        let b = measured_gain_db(&mut LowPass::new(500.0, order).unwrap(), 8000.0);
        let want = butterworth_theory_db(ButterworthKind::LowPass, order, 500.0, 4000.0, FS as f64)
            - butterworth_theory_db(ButterworthKind::LowPass, order, 500.0, 8000.0, FS as f64);
        assert!(
            (a - b - want).abs() < 0.05,
            "N={order}: measured {} dB/octave, theory {want}",
            a - b
        );
        // Far below Nyquist: 6 dB per octave per order.
        let a = measured_gain_db(&mut LowPass::new(100.0, order).unwrap(), 800.0);
        let b = measured_gain_db(&mut LowPass::new(100.0, order).unwrap(), 1600.0);
        let ideal = 20.0 * 2f64.log10() * order as f64;
        assert!(
            (a - b - ideal).abs() < 0.5,
            "N={order}: {} dB/octave vs {ideal}",
            a - b
        );
    }
}

#[test]
fn default_order_is_12db_per_octave() {
    let lp = LowPass::new(1000.0, resonode_dsp::butterworth::DEFAULT_ORDER).unwrap();
    assert_eq!(lp.parameter("order"), Some(2.0));
}

fn rbj_db(t: BiquadType, f0: f64, q: f64, gain: f64, f: f64) -> f64 {
    magnitude_db(&[rbj_coefficients(t, f0, q, gain, FS as f64)], f, FS as f64)
}

#[test]
fn rbj_shapes_have_their_textbook_gains() {
    let (f0, q) = (1000.0, 2.0f64);
    // Lowpass/highpass: |H(f0)| = Q; unity in the passband.
    let q_db = 20.0 * q.log10();
    assert!((rbj_db(BiquadType::LowPass, f0, q, 0.0, f0) - q_db).abs() < 1e-9);
    assert!((rbj_db(BiquadType::HighPass, f0, q, 0.0, f0) - q_db).abs() < 1e-9);
    assert!(rbj_db(BiquadType::LowPass, f0, q, 0.0, 1.0).abs() < 1e-3);
    assert!(rbj_db(BiquadType::HighPass, f0, q, 0.0, 23_999.0).abs() < 1e-3);
    // Bandpass: 0 dB peak at f0, falling on both sides.
    assert!(rbj_db(BiquadType::BandPass, f0, q, 0.0, f0).abs() < 1e-9);
    assert!(rbj_db(BiquadType::BandPass, f0, q, 0.0, 250.0) < -10.0);
    assert!(rbj_db(BiquadType::BandPass, f0, q, 0.0, 4000.0) < -10.0);
    // Notch: a zero at f0, unity far away.
    assert!(rbj_db(BiquadType::Notch, f0, q, 0.0, f0) < -200.0);
    assert!(rbj_db(BiquadType::Notch, f0, q, 0.0, 20.0).abs() < 1e-3);
    // Allpass: unity everywhere.
    for f in [20.0, 500.0, f0, 7000.0, 23_000.0] {
        assert!(
            rbj_db(BiquadType::AllPass, f0, q, 0.0, f).abs() < 1e-9,
            "allpass at {f}"
        );
    }
    for gain in [-12.0, 6.0, 15.0] {
        // Peaking: exactly `gain` at f0, 0 dB far away.
        assert!((rbj_db(BiquadType::Peaking, f0, q, gain, f0) - gain).abs() < 1e-9);
        assert!(rbj_db(BiquadType::Peaking, f0, q, gain, 20.0).abs() < 0.05);
        // Shelves: `gain` on their side, half of it at f0, 0 dB on the other side.
        assert!((rbj_db(BiquadType::LowShelf, f0, DEFAULT_Q, gain, 1.0) - gain).abs() < 1e-4);
        assert!((rbj_db(BiquadType::LowShelf, f0, DEFAULT_Q, gain, f0) - gain / 2.0).abs() < 1e-9);
        assert!(rbj_db(BiquadType::LowShelf, f0, DEFAULT_Q, gain, 23_999.0).abs() < 0.01);
        assert!((rbj_db(BiquadType::HighShelf, f0, DEFAULT_Q, gain, 23_999.0) - gain).abs() < 0.01);
        assert!((rbj_db(BiquadType::HighShelf, f0, DEFAULT_Q, gain, f0) - gain / 2.0).abs() < 1e-9);
        assert!(rbj_db(BiquadType::HighShelf, f0, DEFAULT_Q, gain, 1.0).abs() < 1e-4);
    }
}

#[test]
fn measured_peaking_gain_matches_the_setting() {
    let mut p = resonode_dsp::Biquad::new(BiquadType::Peaking, 2000.0, 1.0, 9.0).unwrap();
    let db = measured_gain_db(&mut p, 2000.0);
    assert!((db - 9.0).abs() < 0.02, "{db}");
}
