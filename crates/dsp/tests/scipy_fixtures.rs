//! Outputs and designs compared with scipy (fixtures from
//! `scripts/make_dsp_fixtures.py`), processed in odd block sizes to show the
//! result does not depend on how the stream is cut.

mod common;

use common::*;
use resonode_core::Processor;
use resonode_dsp::butterworth::{butterworth_sos, ButterworthKind};
use resonode_dsp::sos::response;
use resonode_dsp::{rbj_coefficients, Biquad, BiquadType, HighPass, LowPass, Section};

const BLOCK_SIZES: [usize; 4] = [1, 37, 512, 2000];
const TOLERANCE: f64 = 1e-5;

fn butter_kind(r: &common::Record) -> ButterworthKind {
    match r.str("kind") {
        "lowpass" => ButterworthKind::LowPass,
        "highpass" => ButterworthKind::HighPass,
        other => panic!("unknown kind {other}"),
    }
}

/// scipy's `sos` rows `[b0, b1, b2, a0, a1, a2]` as normalised sections.
fn scipy_sections(flat: &[f64]) -> Vec<Section> {
    flat.chunks_exact(6)
        .map(|r| {
            [
                r[0] / r[3],
                r[1] / r[3],
                r[2] / r[3],
                r[4] / r[3],
                r[5] / r[3],
            ]
        })
        .collect()
}

fn check_output(
    name: &str,
    make: &dyn Fn() -> Box<dyn Processor>,
    fs: u32,
    expected: &resonode_core::AudioBuffer,
) -> f64 {
    let input = fixture_input();
    let mut worst: f64 = 0.0;
    for &bs in &BLOCK_SIZES {
        let mut p = make();
        p.prepare(&spec(fs, input.channels(), bs)).unwrap();
        let mut out = input.clone();
        run_blocks(p.as_mut(), &mut out, bs);
        for c in 0..out.channels() {
            let err = max_abs_diff(out.channel(c), expected.channel(c));
            assert!(
                err < TOLERANCE,
                "{name}, block {bs}, channel {c}: max error {err:e}"
            );
            worst = worst.max(err);
        }
    }
    worst
}

#[test]
fn butterworth_outputs_match_scipy_sosfilt_in_any_block_size() {
    let cases: Vec<_> = manifest()
        .into_iter()
        .filter(|r| r.tag == "butter")
        .collect();
    assert!(cases.len() >= 20, "fixtures missing");
    let mut worst: f64 = 0.0;
    for r in &cases {
        let (cutoff, order, fs) = (r.f64("cutoff"), r.usize("order"), r.usize("fs") as u32);
        let kind = butter_kind(r);
        let make = move || -> Box<dyn Processor> {
            match kind {
                ButterworthKind::LowPass => Box::new(LowPass::new(cutoff, order).unwrap()),
                ButterworthKind::HighPass => Box::new(HighPass::new(cutoff, order).unwrap()),
            }
        };
        let expected = r.data(2);
        worst = worst.max(check_output(r.str("name"), &make, fs, &expected));
    }
    eprintln!("butterworth: worst abs error vs scipy {worst:e}");
}

#[test]
fn butterworth_design_has_scipys_transfer_function() {
    for r in manifest().iter().filter(|r| r.tag == "butter") {
        let (cutoff, order, fs) = (r.f64("cutoff"), r.usize("order"), r.f64("fs"));
        let ours = butterworth_sos(order, cutoff, fs, butter_kind(r)).unwrap();
        let theirs = scipy_sections(&r.list("sos"));
        assert_eq!(ours.len(), theirs.len(), "{}: section count", r.str("name"));
        // Section order and gain distribution may differ; the cascade's
        // complex response must not.
        for i in 0..400 {
            let f = fs / 2.0 * (i as f64 + 0.5) / 400.0;
            let (ar, ai) = response(&ours, f, fs);
            let (br, bi) = response(&theirs, f, fs);
            let err = ((ar - br).powi(2) + (ai - bi).powi(2)).sqrt();
            let mag = (br * br + bi * bi).sqrt();
            assert!(
                err <= 1e-12 + 1e-9 * mag,
                "{} at {f} Hz: |dH| = {err:e}, |H| = {mag:e}",
                r.str("name")
            );
        }
        // The same poles: the sorted denominators agree coefficient by coefficient.
        let key = |s: &Section| (s[4] * 1e12).round() as i64;
        let (mut a, mut b) = (ours.clone(), theirs.clone());
        a.sort_by_key(key);
        b.sort_by_key(key);
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x[3] - y[3]).abs() < 1e-10 && (x[4] - y[4]).abs() < 1e-10,
                "{}: {x:?} vs {y:?}",
                r.str("name")
            );
        }
    }
}

#[test]
fn rbj_coefficients_equal_the_cookbook_formulas_in_the_script() {
    let mut n = 0;
    for r in manifest().iter().filter(|r| r.tag == "biquad") {
        let t: BiquadType = r.str("type").parse().unwrap();
        let c = rbj_coefficients(
            t,
            r.f64("frequency"),
            r.f64("q"),
            r.f64("gain"),
            r.f64("fs"),
        );
        for (a, b) in c.iter().zip(r.list("coefs")) {
            assert!(
                (a - b).abs() < 1e-12,
                "{}: {c:?} vs {:?}",
                r.str("name"),
                r.list("coefs")
            );
        }
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn biquad_outputs_match_scipy_lfilter_in_any_block_size() {
    let mut worst: f64 = 0.0;
    let mut types = std::collections::HashSet::new();
    for r in manifest().iter().filter(|r| r.tag == "biquad") {
        let t: BiquadType = r.str("type").parse().unwrap();
        types.insert(t);
        let (f, q, g) = (r.f64("frequency"), r.f64("q"), r.f64("gain"));
        let make = move || -> Box<dyn Processor> { Box::new(Biquad::new(t, f, q, g).unwrap()) };
        worst = worst.max(check_output(
            r.str("name"),
            &make,
            r.usize("fs") as u32,
            &r.data(2),
        ));
    }
    assert_eq!(types.len(), 8, "every biquad type has a fixture");
    eprintln!("biquad: worst abs error vs scipy {worst:e}");
}

#[test]
fn fixture_comparison_can_fail() {
    // Guard against a vacuous comparison: a slightly different cutoff must
    // be detected at the test's tolerance.
    let r = manifest()
        .into_iter()
        .find(|r| r.tag == "butter" && r.usize("order") == 4 && r.str("kind") == "lowpass")
        .unwrap();
    let mut p = LowPass::new(r.f64("cutoff") * 1.01, 4).unwrap();
    let mut out = fixture_input();
    p.prepare(&spec(r.usize("fs") as u32, 2, 512)).unwrap();
    run_blocks(&mut p, &mut out, 512);
    let expected = r.data(2);
    let err = max_abs_diff(out.channel(0), expected.channel(0));
    assert!(
        err > 100.0 * TOLERANCE,
        "1% cutoff error went unnoticed: {err:e}"
    );
}
