//! Finding and loading the ONNX Runtime library: every failure names the
//! paths tried; a process loads one runtime. One test function, because
//! the loaded runtime and `ORT_DYLIB_PATH` are process-wide.
use std::path::{Path, PathBuf};

use resonode_ml::model::Model;
use resonode_ml::runtime::{init_runtime, library_candidates, library_file_name, runtime_info, SessionOptions};

fn not_found(p: Option<&Path>) -> String {
    let e = init_runtime(p).unwrap_err();
    assert_eq!(e.code(), "ERR_RUNTIME_NOT_FOUND", "{e}");
    e.to_string()
}

#[test]
fn runtime_resolution_errors_then_one_runtime_per_process() {
    let saved = std::env::var_os("ORT_DYLIB_PATH");
    std::env::remove_var("ORT_DYLIB_PATH");
    let dir = std::env::temp_dir().join(format!("resonode-ml-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // An explicit file that does not exist.
    let msg = not_found(Some(Path::new("/nonexistent/libonnxruntime.so.1")));
    assert!(msg.contains("/nonexistent/libonnxruntime.so.1 (missing)"), "{msg}");
    assert!(msg.contains("explicit"), "{msg}");

    // An explicit directory without the library: every form is listed.
    let msg = not_found(Some(&dir));
    let lib = library_file_name();
    assert!(msg.contains(&format!("{}", dir.join(lib).display())), "{msg}");
    assert!(msg.contains("node_modules/onnxruntime-node/bin/napi-v6"), "{msg}");
    println!("{msg}");

    // A file that is not a shared library.
    let fake = dir.join(lib);
    std::fs::write(&fake, b"not a library").unwrap();
    let msg = not_found(Some(&fake));
    assert!(msg.contains("cannot be loaded"), "{msg}");
    // A shared library that is not ONNX Runtime.
    if let Some(libm) = ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6", "/usr/lib/libm.so.6"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    {
        let msg = not_found(Some(&libm));
        assert!(msg.contains("OrtGetApiBase"), "{msg}");
    }

    // ORT_DYLIB_PATH is the only source when set.
    std::env::set_var("ORT_DYLIB_PATH", "/nonexistent/from-env/libonnxruntime.so.1");
    let msg = not_found(None);
    assert!(msg.contains("ORT_DYLIB_PATH") && msg.contains("/nonexistent/from-env/"), "{msg}");
    // Sessions report the same error.
    let e = Model::load(Path::new("model.onnx"), &SessionOptions::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_RUNTIME_NOT_FOUND");
    std::env::remove_var("ORT_DYLIB_PATH");
    assert!(runtime_info().is_none());

    // The node_modules search (from this crate's directory up to the
    // repository's node_modules), or the caller's ORT_DYLIB_PATH.
    if let Some(v) = &saved {
        std::env::set_var("ORT_DYLIB_PATH", v);
    } else {
        assert!(library_candidates(None).iter().any(|c| c.ends_with(
            Path::new("onnxruntime-node/bin/napi-v6")
                .join(Path::new(&std::env::consts::OS.replace("macos", "darwin").replace("windows", "win32")))
                .join(if cfg!(target_arch = "aarch64") { "arm64" } else { "x64" })
                .join(lib)
        )));
    }
    let info = init_runtime(None).expect("npm install onnxruntime-node (or set ORT_DYLIB_PATH)");
    println!("loaded ONNX Runtime {} from {}", info.version, info.library_path.display());
    let minor: u32 = info.version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(minor >= resonode_ml::runtime::ORT_API_VERSION);
    assert_eq!(runtime_info(), Some(info.clone()));

    // Again: no path, the same file, or a directory holding it -> the same runtime.
    assert_eq!(init_runtime(None).unwrap(), info);
    assert_eq!(init_runtime(Some(&info.library_path)).unwrap(), info);
    assert_eq!(init_runtime(Some(info.library_path.parent().unwrap())).unwrap(), info);
    // A different library is refused: a process holds one ONNX Runtime.
    let e = init_runtime(Some(&fake)).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_STATE");
    assert!(e.to_string().contains("already loaded"), "{e}");
    // And models load.
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gtcrn/gtcrn_simple.onnx");
    Model::load(&model, &SessionOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
