//! SAM-Audio bad input: every refused model folder, option and input gives
//! its typed error (variant and a message naming the problem), never a panic.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use resonode_core::Error;
use resonode_ml::runtime::SessionOptions;
use resonode_ml::sam_audio::{
    Anchor, AnchorKind, LongFileJob, LongOptions, OdeMethod, OdeOptions, SamAudio, SeparateOptions,
};

fn model_dir() -> PathBuf {
    common::root().join("models/sam-audio-tiny")
}

fn model() -> Arc<SamAudio> {
    static MODEL: OnceLock<Arc<SamAudio>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(SamAudio::load(&model_dir(), &SessionOptions::default()).unwrap()))
        .clone()
}

/// 0.5 s of a deterministic signal at 48 kHz.
fn signal() -> Vec<f32> {
    common::white_noise(24000, 11)
        .iter()
        .map(|v| v * 0.3)
        .collect()
}

fn fast() -> OdeOptions {
    OdeOptions {
        method: OdeMethod::Euler,
        step_size: 0.5,
    }
}

/// A copy of the tiny model in a fresh temp folder.
fn copy_model(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("resonode-sam-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(model_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    dir
}

fn load_err(dir: &Path) -> Error {
    SamAudio::load(dir, &SessionOptions::default()).expect_err("the folder must be refused")
}

fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let p = dir.join("manifest.json");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "manifest has {from}");
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

fn param(e: Error, name: &str, words: &[&str]) {
    match &e {
        Error::InvalidParameter { name: n, reason } => {
            assert_eq!(n, name, "{e}");
            for w in words {
                assert!(reason.contains(w), "`{reason}` should mention `{w}`");
            }
        }
        other => panic!("expected InvalidParameter({name}), got {other:?}"),
    }
}

fn separate(
    x: &[f32],
    d: &str,
    opts: &SeparateOptions,
) -> resonode_core::Result<resonode_ml::PromptSeparation> {
    model().separate(&[x], &[d], opts, &|| false)
}

fn opts() -> SeparateOptions {
    SeparateOptions {
        ode: fast(),
        seed: Some(1),
        ..SeparateOptions::default()
    }
}

#[test]
fn missing_folder_is_not_found() {
    let e = load_err(Path::new("/nonexistent/sam-audio-nothing"));
    assert!(
        matches!(e, Error::NotFound { ref path } if path.contains("sam-audio-nothing")),
        "{e:?}"
    );
}

#[test]
fn bad_manifests_are_model_errors() {
    let dir = copy_model("manifest");
    edit_manifest(&dir, "\"resonode-sam-audio\"", "\"something-else\"");
    let e = load_err(&dir);
    assert!(
        matches!(e, Error::Model { ref reason, .. } if reason.contains("format")),
        "{e:?}"
    );

    let dir = copy_model("version");
    edit_manifest(&dir, "\"version\": 1", "\"version\": 2");
    let e = load_err(&dir);
    assert!(
        matches!(e, Error::Model { ref reason, .. } if reason.contains("version")),
        "{e:?}"
    );

    let dir2 = copy_model("nomanifest");
    std::fs::remove_file(dir2.join("manifest.json")).unwrap();
    let e = load_err(&dir2);
    assert!(
        matches!(e, Error::Model { ref path, .. } if path.contains("manifest.json")),
        "{e:?}"
    );

    std::fs::write(dir2.join("manifest.json"), "{ not json").unwrap();
    let e = load_err(&dir2);
    assert!(
        matches!(e, Error::Model { ref reason, .. } if reason.contains("JSON")),
        "{e:?}"
    );
    for d in [dir, dir2] {
        std::fs::remove_dir_all(d).ok();
    }
}

#[test]
fn a_missing_file_is_named() {
    for file in ["dit.onnx", "tokenizer.json"] {
        let dir = copy_model("incomplete");
        std::fs::remove_file(dir.join(file)).unwrap();
        let e = load_err(&dir);
        assert!(
            matches!(e, Error::Model { ref reason, .. } if reason.contains(file) && reason.contains("missing")),
            "{e:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn manifest_file_names_stay_in_the_folder() {
    for bad in [
        "../dit.onnx",
        "/tmp/dit.onnx",
        "sub/dit.onnx",
        "sub\\\\dit.onnx",
        "..",
    ] {
        let dir = copy_model("paths");
        edit_manifest(
            &dir,
            "\"dit\": \"dit.onnx\"",
            &format!("\"dit\": \"{bad}\""),
        );
        let e = load_err(&dir);
        assert!(
            matches!(e, Error::Model { ref reason, .. } if reason.contains("files.dit") && reason.contains("plain file name")),
            "{bad}: {e:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
    // `data` entries are checked the same way, and must exist.
    let dir = copy_model("data");
    edit_manifest(
        &dir,
        "\"source\":",
        "\"data\": {\"dit\": \"../x.data\"},\n  \"source\":",
    );
    let e = load_err(&dir);
    assert!(
        matches!(e, Error::Model { ref reason, .. } if reason.contains("data.dit")),
        "{e:?}"
    );
    edit_manifest(&dir, "../x.data", "dit.onnx.data");
    let e = load_err(&dir);
    assert!(
        matches!(e, Error::Model { ref reason, .. } if reason.contains("data.dit") && reason.contains("dit.onnx.data") && reason.contains("missing")),
        "{e:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn read_mono_stops_when_cancelled() {
    let dir = std::env::temp_dir().join(format!("resonode-sam-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    // 5 s: several reads of resonode-io's 65536-frame blocks.
    for i in 0..240_000 {
        w.write_sample((i % 100) as i16).unwrap();
    }
    w.finalize().unwrap();
    let e = resonode_ml::sam_audio::read_mono(&path, 48000, &|| true).unwrap_err();
    assert!(
        matches!(e, Error::InvalidState { ref reason } if reason.contains("stopped")),
        "{e:?}"
    );
    // Stopped after a few reads: decoding ends there.
    let reads = std::sync::atomic::AtomicUsize::new(0);
    let cancel = || reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
    assert!(matches!(
        resonode_ml::sam_audio::read_mono(&path, 48000, &cancel),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(
        resonode_ml::sam_audio::read_mono(&path, 48000, &|| false)
            .unwrap()
            .len(),
        240_000
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_wrong_dimension_in_the_manifest_is_a_mismatch() {
    let dir = copy_model("dim");
    edit_manifest(&dir, "\"codebookDim\": 8", "\"codebookDim\": 9");
    let e = load_err(&dir);
    match &e {
        Error::ModelMismatch { path, reason } => {
            assert!(path.contains("codec_encoder.onnx"), "{e}");
            assert!(
                reason.contains("expected float32 [?, 9, ?]")
                    && reason.contains("got float32 [batch, 8, frames]"),
                "{e}"
            );
        }
        other => panic!("expected ModelMismatch, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_wrong_graph_is_a_mismatch() {
    let dir = copy_model("wronggraph");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/not_gtcrn.onnx"),
        dir.join("dit.onnx"),
    )
    .unwrap();
    let e = load_err(&dir);
    match &e {
        Error::ModelMismatch { path, reason } => {
            assert!(path.contains("dit.onnx"), "{e}");
            assert!(
                reason.contains("`noisy`") && reason.contains("`mix`"),
                "names expected and actual: {e}"
            );
        }
        other => panic!("expected ModelMismatch, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn descriptions_are_checked() {
    let x = signal();
    param(
        separate(&x, "", &opts()).unwrap_err(),
        "description",
        &["empty"],
    );
    param(
        separate(&x, "  \t ", &opts()).unwrap_err(),
        "description",
        &["empty"],
    );
    let e = model()
        .separate(&[&x, &x], &["speech"], &opts(), &|| false)
        .unwrap_err();
    param(e, "descriptions", &["2 inputs"]);
    param(
        model()
            .long_separator(" ", LongOptions::default())
            .unwrap_err(),
        "description",
        &["empty"],
    );
}

#[test]
fn ode_options_are_checked() {
    let x = signal();
    for s in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        let o = SeparateOptions {
            ode: OdeOptions {
                method: OdeMethod::Euler,
                step_size: s,
            },
            ..opts()
        };
        param(
            separate(&x, "speech", &o).unwrap_err(),
            "ode.stepSize",
            &["between 0 and 1"],
        );
        let lo = LongOptions {
            ode: OdeOptions {
                method: OdeMethod::Midpoint,
                step_size: s,
            },
            ..LongOptions::default()
        };
        param(
            model().long_separator("speech", lo).unwrap_err(),
            "ode.stepSize",
            &[],
        );
    }
    // At most 1000 steps.
    let steps = |s: f64| OdeOptions {
        method: OdeMethod::Midpoint,
        step_size: s,
    };
    assert!(steps(0.001).check().is_ok());
    assert_eq!(steps(0.001).steps(), 1000);
    param(
        steps(0.0009).check().unwrap_err(),
        "ode.stepSize",
        &["1111", "1000"],
    );
    param(
        separate(
            &x,
            "speech",
            &SeparateOptions {
                ode: steps(1e-9),
                ..opts()
            },
        )
        .unwrap_err(),
        "ode.stepSize",
        &["1000"],
    );
    param(
        model()
            .check_long_options(&LongOptions {
                ode: steps(1e-4),
                ..LongOptions::default()
            })
            .unwrap_err(),
        "ode.stepSize",
        &["1000"],
    );
    param(
        "rk4".parse::<OdeMethod>().unwrap_err(),
        "ode.method",
        &["rk4", "euler", "midpoint"],
    );
    assert_eq!("euler".parse::<OdeMethod>().unwrap(), OdeMethod::Euler);
    let o = SeparateOptions {
        decode_chunk_size: Some(7),
        ..opts()
    };
    param(
        separate(&x, "speech", &o).unwrap_err(),
        "decodeChunkSize",
        &["8"],
    );
}

#[test]
fn anchors_are_checked() {
    let x = signal(); // 0.5 s
    let a = |kind, start_s, end_s| Anchor {
        kind,
        start_s,
        end_s,
    };
    use AnchorKind::{Negative as N, Positive as P};
    let cases: Vec<(Vec<Anchor>, &[&str])> = vec![
        (vec![a(P, f64::NAN, 0.2)], &["finite", "anchor 0"]),
        (vec![a(P, 0.1, f64::INFINITY)], &["finite"]),
        (vec![a(P, 0.3, 0.2)], &["before end"]),
        (vec![a(P, 0.2, 0.2)], &["before end"]),
        (vec![a(N, -0.1, 0.2)], &[">= 0"]),
        (
            vec![a(P, 0.1, 0.2), a(P, 0.2, 0.6)],
            &["past the end", "anchor 1"],
        ),
        (
            vec![a(P, 0.1, 0.3), a(N, 0.25, 0.4)],
            &["contradict", "'+'", "'-'"],
        ),
    ];
    for (list, words) in cases {
        let o = SeparateOptions {
            anchors: Some(vec![list]),
            ..opts()
        };
        param(separate(&x, "speech", &o).unwrap_err(), "anchors", words);
    }
    // One list per input.
    let o = SeparateOptions {
        anchors: Some(vec![vec![], vec![]]),
        ..opts()
    };
    param(
        separate(&x, "speech", &o).unwrap_err(),
        "anchors",
        &["2 lists for 1 inputs"],
    );
    param(
        "*".parse::<AnchorKind>().unwrap_err(),
        "anchors",
        &["'+' or '-'"],
    );
    // Touching '+' and '-' spans and same-kind overlaps are fine.
    let o = SeparateOptions {
        anchors: Some(vec![vec![a(P, 0.1, 0.2), a(N, 0.2, 0.3), a(P, 0.15, 0.2)]]),
        ..opts()
    };
    assert_eq!(separate(&x, "speech", &o).unwrap().target[0].len(), x.len());
}

#[test]
fn audio_is_checked() {
    let mut x = signal();
    let e = separate(&[], "speech", &opts()).unwrap_err();
    assert!(matches!(e, Error::EmptyAudio { .. }), "{e:?}");
    let e = model().separate(&[], &[], &opts(), &|| false).unwrap_err();
    assert!(matches!(e, Error::EmptyAudio { .. }), "{e:?}");
    x[1234] = f32::NAN;
    let e = separate(&x, "speech", &opts()).unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteSample { frame: 1234, .. }),
        "{e:?}"
    );
    let y = signal();
    x[1234] = 0.0;
    x[99] = f32::INFINITY;
    let e = model()
        .separate(&[&y, &x], &["a", "b"], &opts(), &|| false)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteSample {
                frame: 99,
                channel: 1,
                ..
            }
        ),
        "{e:?}"
    );
    // Longer than maxFrames * hop (10000 x 240).
    let long = vec![0.0f32; 10000 * 240 + 1];
    param(
        separate(&long, "speech", &opts()).unwrap_err(),
        "input",
        &["2400000", "long path"],
    );
    // Streaming input.
    let mut sep = model()
        .long_separator("speech", LongOptions::default())
        .unwrap();
    sep.push(&y).unwrap();
    let e = sep.push(&x).unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteSample { frame, .. } if frame == y.len() as u64 + 99),
        "{e:?}"
    );
    sep.finish();
    assert!(matches!(
        sep.push(&y).unwrap_err(),
        Error::InvalidState { .. }
    ));
    let mut empty = model()
        .long_separator("speech", LongOptions::default())
        .unwrap();
    empty.finish();
    assert!(matches!(
        empty.next_piece(&|| false).unwrap_err(),
        Error::EmptyAudio { .. }
    ));
    let e = LongFileJob::from_samples(&model(), Vec::new(), "speech", LongOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::EmptyAudio { .. }), "{e:?}");
    let e = LongFileJob::open(
        &model(),
        Path::new("/nonexistent/x.wav"),
        "speech",
        LongOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[test]
fn noise_length_is_checked() {
    let x = signal(); // 100 frames x 16
    let o = SeparateOptions {
        noise: Some(vec![0.0; 100 * 16 - 1]),
        ..opts()
    };
    let e = separate(&x, "speech", &o).unwrap_err();
    assert!(
        matches!(e, Error::Shape { ref reason } if reason.contains("[1, 100, 16]")),
        "{e:?}"
    );
    // Long path: 0.25 s chunks, 0.05 s overlap over 0.5 s = 3 chunks of 50, 50, 20 frames.
    let lo = |noise| LongOptions {
        chunk_seconds: 0.25,
        overlap_seconds: 0.05,
        ode: fast(),
        noise: Some(noise),
        ..LongOptions::default()
    };
    for n in [120 * 16 - 1, 120 * 16 + 1, 10] {
        let mut job =
            LongFileJob::from_samples(&model(), x.clone(), "speech", lo(vec![0.1; n])).unwrap();
        let e = loop {
            match job.next_piece(&|| false) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("noise of {n} values accepted"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(e, Error::Shape { ref reason } if reason.contains("noise")),
            "{e:?}"
        );
    }
    let mut ok =
        LongFileJob::from_samples(&model(), x.clone(), "speech", lo(vec![0.1; 120 * 16])).unwrap();
    while ok.next_piece(&|| false).unwrap().is_some() {}
    assert_eq!(ok.noise_frames(), 120);
}

#[test]
fn chunk_and_overlap_are_checked() {
    let m = model();
    let lo = |c: f64, o: f64| LongOptions {
        chunk_seconds: c,
        overlap_seconds: o,
        ..LongOptions::default()
    };
    for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        param(
            m.long_separator("speech", lo(c, 0.0)).unwrap_err(),
            "chunkSeconds",
            &["> 0"],
        );
    }
    param(
        m.long_separator("speech", lo(60.0, 3.0)).unwrap_err(),
        "chunkSeconds",
        &["2400000"],
    );
    for o in [-0.1, 10.0, 12.0, f64::NAN] {
        param(
            m.long_separator("speech", lo(10.0, o)).unwrap_err(),
            "overlapSeconds",
            &["chunkSeconds"],
        );
    }
    param(
        m.long_separator("speech", lo(10.0, 6.0)).unwrap_err(),
        "overlapSeconds",
        &["half"],
    );
    let d = LongOptions {
        decode_chunk_size: Some(4),
        ..LongOptions::default()
    };
    param(
        m.long_separator("speech", d.clone()).unwrap_err(),
        "decodeChunkSize",
        &["8"],
    );
    // The cheap check before queueing work gives the same errors.
    param(
        m.check_long_options(&d).unwrap_err(),
        "decodeChunkSize",
        &["8"],
    );
    param(
        m.check_long_options(&lo(0.0, 0.0)).unwrap_err(),
        "chunkSeconds",
        &["> 0"],
    );
    param(
        m.check_long_options(&lo(60.0, 3.0)).unwrap_err(),
        "chunkSeconds",
        &["2400000"],
    );
    param(
        m.check_long_options(&lo(10.0, 12.0)).unwrap_err(),
        "overlapSeconds",
        &["chunkSeconds"],
    );
    param(
        m.check_long_options(&lo(10.0, 6.0)).unwrap_err(),
        "overlapSeconds",
        &["half"],
    );
    assert!(m.check_long_options(&lo(10.0, 5.0)).is_ok());
    assert!(m.check_long_options(&LongOptions::default()).is_ok());
    assert!(m.long_separator("speech", lo(10.0, 5.0)).is_ok());
    assert!(m.long_separator("speech", lo(10.0, 0.0)).is_ok());
}

#[test]
fn cancel_stops_with_invalid_state() {
    let x = signal();
    let e = model()
        .separate(&[&x], &["speech"], &opts(), &|| true)
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidState { ref reason } if reason.contains("stopped")),
        "{e:?}"
    );
    // Cancelled after a few model calls.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let cancel = || calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
    let e = model()
        .separate(&[&x], &["speech"], &opts(), &cancel)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e:?}");
    let lo = LongOptions {
        chunk_seconds: 0.25,
        overlap_seconds: 0.05,
        ode: fast(),
        ..LongOptions::default()
    };
    let mut job = LongFileJob::from_samples(&model(), x, "speech", lo).unwrap();
    let e = job.next_piece(&|| true).unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e:?}");
}
