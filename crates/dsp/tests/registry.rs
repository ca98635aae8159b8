//! Building processors from chain strings: every kind, units, defaults and
//! the error codes and messages for bad input.

mod common;

use common::spec;
use resonode_core::chain_spec::{Arg, ProcessorSpec, Value};
use resonode_core::Error;
use resonode_dsp::registry::{create, kinds, parse_chain};

fn chain_err(text: &str) -> Error {
    match parse_chain(text) {
        Ok(c) => panic!("`{text}` should fail, built {:?}", c.kinds()),
        Err(e) => e,
    }
}

fn assert_code(text: &str, code: &str, needles: &[&str]) {
    let e = chain_err(text);
    assert_eq!(e.code(), code, "`{text}`: {e}");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "`{text}`: message `{msg}` lacks `{n}`");
    }
}

#[test]
fn every_kind_parses_with_units_and_positional_arguments() {
    let mut chain = parse_chain(
        "gain(-3db) highpass(80hz) lowpass(8khz, order=4) biquad(peaking, 1khz, 2, 6db) \
         normalize(-1db) limiter(-0.5db, 0.1s) reverb(30%, 0.4, 0.2, 90%, 1) delay(0.25s, 40%, 0.3)",
    )
    .unwrap();
    assert_eq!(
        chain.kinds(),
        [
            "gain",
            "highpass",
            "lowpass",
            "biquad",
            "normalize",
            "limiter",
            "reverb",
            "delay"
        ]
    );
    let expect = [
        ("0.db", -3.0),
        ("1.cutoff", 80.0),
        ("1.order", 2.0),
        ("2.cutoff", 8000.0),
        ("2.order", 4.0),
        ("3.frequency", 1000.0),
        ("3.q", 2.0),
        ("3.gain", 6.0),
        ("4.peak", -1.0),
        ("5.ceiling", -0.5),
        ("5.release", 100.0),
        ("6.room", 0.3),
        ("6.damping", 0.4),
        ("6.wet", 0.2),
        ("6.dry", 0.9),
        ("6.width", 1.0),
        ("7.time", 250.0),
        ("7.feedback", 0.4),
        ("7.mix", 0.3),
    ];
    for (path, want) in expect {
        let got = chain.parameter(path).unwrap();
        assert!((got - want).abs() < 1e-12, "{path}: {got} vs {want}");
    }
    chain.prepare(&spec(48_000, 2, 256)).unwrap();
}

#[test]
fn named_arguments_and_defaults() {
    let chain = parse_chain(
        "gain lowpass(cutoff=2khz) biquad(type=notch, frequency=50) limiter reverb(room=0.9) delay(mix=1) normalize",
    )
    .unwrap();
    assert_eq!(chain.parameter("0.db").unwrap(), 0.0);
    assert_eq!(chain.parameter("1.order").unwrap(), 2.0);
    assert!((chain.parameter("2.q").unwrap() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    assert_eq!(chain.parameter("2.gain").unwrap(), 0.0);
    assert_eq!(chain.parameter("3.ceiling").unwrap(), -1.0);
    assert_eq!(chain.parameter("3.release").unwrap(), 50.0);
    assert_eq!(chain.parameter("4.room").unwrap(), 0.9);
    assert_eq!(chain.parameter("4.wet").unwrap(), 0.33);
    assert_eq!(chain.parameter("5.time").unwrap(), 250.0);
    assert_eq!(chain.parameter("6.peak").unwrap(), -1.0);
}

#[test]
fn a_bare_gain_is_a_linear_factor_and_db_needs_its_unit() {
    let c = parse_chain("gain(0.5) gain(linear=0.5) gain(db=6) gain(-6db)").unwrap();
    assert_eq!(c.parameter("0.linear").unwrap(), 0.5);
    // 20 log10(0.5) = -6.0206 dB.
    assert!((c.parameter("0.db").unwrap() + 6.020_599_913).abs() < 1e-9);
    assert_eq!(c.parameter("1.linear").unwrap(), 0.5);
    assert!((c.parameter("2.linear").unwrap() - 1.995_262_315).abs() < 1e-9);
    assert!((c.parameter("3.db").unwrap() + 6.0).abs() < 1e-12);
    // A negative factor is refused (it would be a polarity flip), naming dB.
    let e = parse_chain("gain(-3)").unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{e}");
}

#[test]
fn a_bare_normalize_is_a_linear_peak_and_dbfs_needs_its_unit() {
    let c = parse_chain("normalize(0.5) normalize(-1db) normalize(peak=-3) normalize").unwrap();
    assert!((c.parameter("0.peak").unwrap() + 6.020_599_913).abs() < 1e-9);
    assert_eq!(c.parameter("1.peak").unwrap(), -1.0);
    assert_eq!(c.parameter("2.peak").unwrap(), -3.0);
    assert_eq!(c.parameter("3.peak").unwrap(), -1.0);
    for bad in ["normalize(1.5)", "normalize(0)", "normalize(-1)"] {
        let e = parse_chain(bad).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{bad}: {e}");
        assert!(e.to_string().contains("linear"), "{bad}: {e}");
    }
    assert_eq!(parse_chain("normalize(0.9, peak=-1)").unwrap_err().code(), "ERR_INVALID_CHAIN");
}

#[test]
fn long_delays_get_a_longer_line() {
    let mut c = parse_chain("delay(3s)").unwrap();
    assert_eq!(c.parameter("0.time").unwrap(), 3000.0);
    c.prepare(&spec(8000, 1, 64)).unwrap();
    assert_code("delay(61s)", "ERR_INVALID_PARAMETER", &["time", "delay"]);
}

#[test]
fn structural_problems_are_invalid_chain_errors() {
    assert_code(
        "gain(-3db) wobble(3)",
        "ERR_INVALID_CHAIN",
        &["wobble", "element 1", "gain", "lowpass", "reverb"],
    );
    assert_code(
        "lowpass(80ms)",
        "ERR_INVALID_CHAIN",
        &["cutoff", "ms", "lowpass"],
    );
    assert_code(
        "lowpass(80, 4hz)",
        "ERR_INVALID_CHAIN",
        &["order", "no unit"],
    );
    assert_code("gain(3hz)", "ERR_INVALID_CHAIN", &["db", "hz"]);
    assert_code("reverb(room=2db)", "ERR_INVALID_CHAIN", &["room", "%"]);
    assert_code("delay(10%)", "ERR_INVALID_CHAIN", &["time"]);
    assert_code(
        "lowpass(80, cutof=3)",
        "ERR_INVALID_CHAIN",
        &["cutof", "valid: cutoff, order"],
    );
    assert_code(
        "gain(1, 2)",
        "ERR_INVALID_CHAIN",
        &["at most 1 positional", "gain"],
    );
    assert_code(
        "lowpass(order=4)",
        "ERR_INVALID_CHAIN",
        &["missing", "cutoff"],
    );
    assert_code("highpass", "ERR_INVALID_CHAIN", &["missing", "cutoff"]);
    assert_code(
        "biquad(type=peaking)",
        "ERR_INVALID_CHAIN",
        &["missing", "frequency"],
    );
    assert_code(
        "biquad(frequency=100)",
        "ERR_INVALID_CHAIN",
        &["missing", "type"],
    );
    assert_code(
        "lowpass(80, cutoff=90)",
        "ERR_INVALID_CHAIN",
        &["cutoff", "more than once"],
    );
    assert_code(
        "gain(db=1, linear=2)",
        "ERR_INVALID_CHAIN",
        &["db", "linear"],
    );
    // Syntax errors come from the parser, with a position.
    assert_code("lowpass(80", "ERR_INVALID_CHAIN", &["position"]);
}

#[test]
fn bad_values_are_invalid_parameter_errors_naming_element_and_parameter() {
    let e = chain_err("gain lowpass(1000, order=0)");
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
    assert_eq!(
        e.to_string(),
        "invalid parameter `1.order (lowpass)`: must be between 1 and 16, got 0"
    );
    assert_code(
        "lowpass(1000, 17)",
        "ERR_INVALID_PARAMETER",
        &["order", "lowpass", "17"],
    );
    assert_code(
        "lowpass(1000, 2.5)",
        "ERR_INVALID_PARAMETER",
        &["order", "whole number"],
    );
    assert_code(
        "highpass(-20)",
        "ERR_INVALID_PARAMETER",
        &["cutoff", "highpass", "-20"],
    );
    assert_code(
        "lowpass(0hz)",
        "ERR_INVALID_PARAMETER",
        &["cutoff", "lowpass"],
    );
    assert_code(
        "lowpass(nan)",
        "ERR_INVALID_PARAMETER",
        &["cutoff", "number", "nan"],
    );
    assert_code(
        "biquad(bandstop, 1khz)",
        "ERR_INVALID_PARAMETER",
        &["type", "bandstop", "notch"],
    );
    assert_code("biquad(3, 1khz)", "ERR_INVALID_PARAMETER", &["type"]);
    assert_code("biquad(peaking, 1khz, 0)", "ERR_INVALID_PARAMETER", &["q"]);
    assert_code("gain(200db)", "ERR_INVALID_PARAMETER", &["db", "gain"]);
    assert_code("gain(linear=-1)", "ERR_INVALID_PARAMETER", &["linear"]);
    assert_code(
        "normalize(30db)",
        "ERR_INVALID_PARAMETER",
        &["peak", "normalize"],
    );
    assert_code(
        "limiter(3db)",
        "ERR_INVALID_PARAMETER",
        &["ceiling", "limiter"],
    );
    assert_code(
        "reverb(150%)",
        "ERR_INVALID_PARAMETER",
        &["room", "reverb", "1.5"],
    );
    assert_code(
        "delay(100, 1.2)",
        "ERR_INVALID_PARAMETER",
        &["feedback", "delay"],
    );
    // NaN from a hand-built spec.
    let spec = ProcessorSpec {
        kind: "lowpass".into(),
        args: vec![Arg {
            key: None,
            value: Value::Number {
                value: f64::NAN,
                unit: None,
            },
        }],
    };
    let e = create(&spec).err().expect("NaN cutoff must fail");
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
    assert!(e.to_string().contains("cutoff (lowpass)"), "{e}");
}

#[test]
fn cutoffs_at_or_above_nyquist_fail_at_prepare() {
    for text in [
        "lowpass(24khz)",
        "highpass(30000)",
        "biquad(peaking, 24000, 1, 3)",
    ] {
        let mut chain = parse_chain(&format!("gain {text}")).unwrap();
        let e = chain.prepare(&spec(48_000, 2, 256)).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{text}: {e}");
        assert!(
            e.to_string().contains("Nyquist") && e.to_string().starts_with("invalid parameter `1."),
            "{e}"
        );
        // The same chain is fine at a higher rate.
        chain.prepare(&spec(96_000, 2, 256)).unwrap();
    }
    // And at run time, set_parameter refuses a cutoff at Nyquist.
    let mut chain = parse_chain("lowpass(1000)").unwrap();
    chain.prepare(&spec(44_100, 1, 64)).unwrap();
    assert_eq!(
        chain
            .set_parameter("0.cutoff", 22_050.0)
            .unwrap_err()
            .code(),
        "ERR_INVALID_PARAMETER"
    );
    chain.set_parameter("0.cutoff", 22_000.0).unwrap();
}

#[test]
fn kinds_lists_exactly_what_create_builds() {
    let names: Vec<_> = kinds().iter().map(|k| k.name).collect();
    assert_eq!(
        names,
        [
            "gain",
            "highpass",
            "lowpass",
            "biquad",
            "normalize",
            "limiter",
            "reverb",
            "delay"
        ]
    );
    for k in kinds() {
        assert!(!k.summary.is_empty());
        for p in k.positional {
            assert!(
                k.params.contains(p),
                "{}: positional {p} is not a named key",
                k.name
            );
        }
        // A minimal element of each kind builds, and its kind matches.
        let minimal = match k.name {
            "lowpass" | "highpass" => format!("{}(1000)", k.name),
            "biquad" => "biquad(lowpass, 1000)".to_string(),
            other => other.to_string(),
        };
        let chain = parse_chain(&minimal).unwrap();
        assert_eq!(chain.kinds(), [k.name]);
        // Every named key is accepted by the processor or the registry.
        let p = &parse_chain(&minimal).unwrap();
        for param in k.params {
            if *param != "type" {
                p.parameter(&format!("0.{param}")).unwrap();
            }
        }
    }
}
