//! The model wrapper and session options with the real ONNX Runtime:
//! input/output descriptions, errors for missing, damaged and mismatched
//! models, execution providers and their CPU fallback.
use std::path::PathBuf;

use resonode_ml::gtcrn::{EnhancerOptions, GtcrnSession, BUILTIN_MODEL, BUILTIN_MODEL_NAME, FRAME_VALUES};
use resonode_ml::model::{Model, TensorSpec};
use resonode_ml::runtime::{ExecutionProvider, SessionOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn model_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gtcrn/gtcrn_simple.onnx")
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("resonode-ml-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn describes_the_gtcrn_inputs_and_outputs() {
    let m = Model::load(&model_file(), &SessionOptions::default()).unwrap();
    let desc: Vec<String> = m.inputs().iter().chain(m.outputs()).map(|t| t.to_string()).collect();
    assert_eq!(
        desc,
        [
            "`mix`: float32 [1, 257, 1, 2]",
            "`conv_cache`: float32 [2, 1, 16, 16, 33]",
            "`tra_cache`: float32 [2, 3, 1, 1, 16]",
            "`inter_cache`: float32 [2, 1, 33, 16]",
            "`enh`: float32 [1, 257, 1, 2]",
            "`conv_cache_out`: float32 [2, 1, 16, 16, 33]",
            "`tra_cache_out`: float32 [2, 3, 1, 1, 16]",
            "`inter_cache_out`: float32 [2, 1, 33, 16]",
        ]
    );
    assert_eq!(m.input("tra_cache").unwrap().shape, vec![2, 3, 1, 1, 16]);
    assert_eq!(m.execution_provider(), ExecutionProvider::Cpu);
    assert!(m.warnings().is_empty());
    // The shipped file and the embedded bytes are the same model.
    assert_eq!(std::fs::read(model_file()).unwrap(), BUILTIN_MODEL);
    let b = Model::from_bytes(BUILTIN_MODEL, BUILTIN_MODEL_NAME, &SessionOptions::default()).unwrap();
    assert_eq!(b.inputs(), m.inputs());
    assert_eq!(b.path(), BUILTIN_MODEL_NAME);
    // Checks: -1 accepts any size; a wrong one names expected vs actual.
    m.check_inputs(&[
        TensorSpec { name: "mix", element_type: "float32", shape: &[1, -1, 1, 2] },
        TensorSpec { name: "conv_cache", element_type: "float32", shape: &[2, 1, 16, 16, 33] },
        TensorSpec { name: "tra_cache", element_type: "float32", shape: &[2, 3, 1, 1, 16] },
        TensorSpec { name: "inter_cache", element_type: "float32", shape: &[2, 1, 33, 16] },
    ])
    .unwrap();
    let e = m.check_outputs(&[TensorSpec { name: "enh", element_type: "float16", shape: &[1, 257, 2] }]).unwrap_err();
    assert_eq!(e.code(), "ERR_MODEL_MISMATCH");
    assert!(e.to_string().contains("output `enh`: expected float16 [1, 257, 2], got float32 [1, 257, 1, 2]"), "{e}");
}

#[test]
fn a_model_with_other_inputs_is_refused_naming_expected_and_actual_shapes() {
    // not_gtcrn.onnx: one input `mix` [1, 257, 2] (see make_not_gtcrn.py).
    let opts = EnhancerOptions { model_path: Some(fixture("not_gtcrn.onnx")), ..Default::default() };
    let e = GtcrnSession::load(&opts).unwrap_err();
    assert_eq!(e.code(), "ERR_MODEL_MISMATCH");
    let msg = e.to_string();
    println!("{msg}");
    assert!(msg.contains("not_gtcrn.onnx"), "{msg}");
    assert!(msg.contains("input `mix`: expected float32 [1, 257, 1, 2], got float32 [1, 257, 2]"), "{msg}");
    assert!(msg.contains("no input `conv_cache`"), "{msg}");
}

#[test]
fn missing_empty_damaged_and_truncated_model_files_give_clear_errors() {
    let opts = SessionOptions::default();
    let missing = PathBuf::from("/nonexistent/dir/model.onnx");
    let e = Model::load(&missing, &opts).unwrap_err();
    assert_eq!(e.code(), "ERR_NOT_FOUND");
    assert!(e.to_string().contains("/nonexistent/dir/model.onnx"));

    let dir = std::env::temp_dir();
    assert_eq!(Model::load(&dir, &opts).unwrap_err().code(), "ERR_IO");

    let empty = temp("empty.onnx", b"");
    let e = Model::load(&empty, &opts).unwrap_err();
    assert_eq!(e.code(), "ERR_MODEL");
    assert!(e.to_string().contains("empty"), "{e}");

    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let garbage = temp("garbage.onnx", &noise);
    let e = Model::load(&garbage, &opts).unwrap_err();
    assert_eq!(e.code(), "ERR_MODEL");
    println!("garbage: {e}");

    let truncated = temp("truncated.onnx", &BUILTIN_MODEL[..BUILTIN_MODEL.len() / 2]);
    let e = Model::load(&truncated, &opts).unwrap_err();
    assert_eq!(e.code(), "ERR_MODEL");
    println!("truncated: {e}");
    assert!(e.to_string().contains("truncated.onnx"));

    assert_eq!(Model::from_bytes(&noise, "bytes", &opts).unwrap_err().code(), "ERR_MODEL");
    assert_eq!(Model::from_bytes(&[], "bytes", &opts).unwrap_err().code(), "ERR_MODEL");

    let opts = EnhancerOptions { model_path: Some(missing), ..Default::default() };
    assert_eq!(GtcrnSession::load(&opts).unwrap_err().code(), "ERR_NOT_FOUND");
}

#[test]
fn execution_providers_unavailable_here_fail_or_fall_back_to_the_cpu() {
    assert_eq!(ExecutionProvider::parse("CUDA").unwrap(), ExecutionProvider::Cuda);
    assert_eq!("coreml".parse::<ExecutionProvider>().unwrap(), ExecutionProvider::CoreMl);
    assert_eq!(ExecutionProvider::parse("tpu").unwrap_err().code(), "ERR_INVALID_PARAMETER");
    // This machine has no CUDA provider library (onnxruntime-node's install
    // script, which would fetch it, is skipped) and is not a Mac.
    let mut providers = vec![ExecutionProvider::Cuda];
    if !cfg!(target_os = "macos") {
        providers.push(ExecutionProvider::CoreMl);
    }
    for ep in providers {
        let strict = SessionOptions { execution_provider: ep, ..Default::default() };
        let e = Model::load(&model_file(), &strict).unwrap_err();
        assert_eq!(e.code(), "ERR_EXECUTION_PROVIDER_NOT_AVAILABLE");
        assert!(e.to_string().contains(ep.name()), "{e}");
        assert!(e.to_string().contains("ORT_DYLIB_PATH"), "the error says how to get the provider: {e}");
        println!("{ep}: {e}");

        let lenient = SessionOptions { execution_provider: ep, fallback: true, ..Default::default() };
        let m = Model::load(&model_file(), &lenient).unwrap();
        assert_eq!(m.execution_provider(), ExecutionProvider::Cpu);
        assert_eq!(m.warnings().len(), 1);
        assert!(m.warnings()[0].contains(ep.name()) && m.warnings()[0].contains("CPU"), "{:?}", m.warnings());
        // And the fallback session works.
        let mut s = GtcrnSession::from_model(m).unwrap();
        let mut out = vec![0.0; FRAME_VALUES];
        s.run_frame(0, &vec![0.01; FRAME_VALUES], &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn thread_count_is_configurable_and_results_do_not_depend_on_it() {
    let frame: Vec<f32> = (0..FRAME_VALUES).map(|i| ((i * 37 % 101) as f32 - 50.0) / 10.0).collect();
    let mut results = Vec::new();
    for threads in [1usize, 2] {
        let opts = EnhancerOptions {
            session: SessionOptions { intra_threads: threads, ..Default::default() },
            ..Default::default()
        };
        let mut s = GtcrnSession::load(&opts).unwrap();
        let mut out = vec![0.0; FRAME_VALUES];
        for _ in 0..5 {
            s.run_frame(0, &frame, &mut out).unwrap();
        }
        results.push(out);
    }
    let diff = results[0].iter().zip(&results[1]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "1 vs 2 threads differ by {diff}");
}

#[test]
fn run_frame_checks_its_arguments_and_streams_are_independent() {
    let mut s = GtcrnSession::load(&EnhancerOptions::default()).unwrap();
    let mut out = vec![0.0; FRAME_VALUES];
    assert_eq!(s.run_frame(0, &[0.0; 10], &mut out).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(s.run_frame(1, &vec![0.0; FRAME_VALUES], &mut out).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(s.set_streams(0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    s.set_streams(2).unwrap();
    let a: Vec<f32> = (0..FRAME_VALUES).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..FRAME_VALUES).map(|i| (i as f32 * 0.11).cos()).collect();
    // Stream 0 sees a, a, a; stream 1 sees b in between: stream 0 must not notice.
    let (mut ref0, mut x) = (vec![0.0; FRAME_VALUES], vec![0.0; FRAME_VALUES]);
    for _ in 0..3 {
        s.run_frame(0, &a, &mut ref0).unwrap();
    }
    s.reset();
    for _ in 0..3 {
        s.run_frame(0, &a, &mut x).unwrap();
        s.run_frame(1, &b, &mut out).unwrap();
    }
    assert_eq!(x, ref0);
    // Caches matter: the third frame differs from a first frame of the same input.
    s.reset_stream(0);
    s.run_frame(0, &a, &mut x).unwrap();
    assert_ne!(x, ref0);
}
