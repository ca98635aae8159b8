//! Loading ONNX Runtime and building inference sessions.
//!
//! resonode uses the [`ort`] crate with its `load-dynamic` feature: the ONNX
//! Runtime shared library is opened at run time, never linked or downloaded
//! at build time. Installed from npm, the library sits beside the addon in
//! resonode's platform package (`libonnxruntime.so.1`, `libonnxruntime.1.dylib`
//! on macOS, `onnxruntime.dll` on Windows; the TypeScript layer passes its
//! path as the explicit path below). In the repository it comes from the
//! dev dependency `onnxruntime-node`, which ships it as
//! `bin/napi-v6/<platform>/<arch>/<library>`.
//!
//! # Which library is loaded
//! The first of these that is *specified* is the only source tried (a later
//! one is not used as a silent substitute for a broken earlier one):
//! 1. an explicit path ([`SessionOptions::library_path`] or the argument of
//!    [`init_runtime`]): either the library file itself, or a directory that
//!    holds it directly, or the `onnxruntime-node` package root, or a
//!    directory with `node_modules/onnxruntime-node` in it;
//! 2. the environment variable `ORT_DYLIB_PATH` (same forms as 1);
//! 3. a search for `node_modules/onnxruntime-node/bin/napi-v*/<platform>/<arch>/<library>`
//!    in the directory of the running executable and each of its ancestors,
//!    then in the current directory and each of its ancestors.
//!
//! A missing library, a file that is not a shared library, a library without
//! the ONNX Runtime C API or one older than ONNX Runtime 1.[`ORT_API_VERSION`]
//! gives [`Error::RuntimeNotFound`] (`ERR_RUNTIME_NOT_FOUND`) listing every
//! path tried and why each was rejected.
//!
//! # Once per process
//! A process can hold only one ONNX Runtime. The first successful
//! [`init_runtime`] loads it and creates `ort`'s global environment; every
//! later call returns the same [`RuntimeInfo`] when it names no library or
//! the *same* file (compared after resolving symlinks), and fails with
//! [`Error::InvalidState`] (`ERR_INVALID_STATE`) when it explicitly names a
//! different one. Calls are serialised by a mutex, so concurrent first calls
//! are safe.
//!
//! # API version
//! `ort` 2.0.0-rc.13 is built here with its minimum API level (ONNX Runtime
//! C API version [`ORT_API_VERSION`] = 17): any ONNX Runtime from 1.17 up
//! works, because the C API only ever appends functions. resonode is tested
//! with the 1.30.0 library of `onnxruntime-node` 1.30.0.
//!
//! # Real-time safety
//! Nothing here may run on an audio thread: loading a library and building
//! sessions allocate, lock and do I/O.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::ep::ExecutionProvider as _;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use resonode_core::{Error, Result};

/// The ONNX Runtime C API version `ort` requests. Libraries whose version is
/// `1.x` with `x` below this are refused.
pub const ORT_API_VERSION: u32 = ort::MINOR_VERSION;

/// The npm package that ships the ONNX Runtime library.
pub const NPM_PACKAGE: &str = "onnxruntime-node";

/// Log target of runtime resolution, model loads and inference jobs
/// (`resonode_core::log_filter`).
pub(crate) const LOG: &str = "resonode::ml";

/// The ONNX Runtime that this process loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Absolute path of the loaded library (symlinks resolved).
    pub library_path: PathBuf,
    /// Its version string, e.g. `"1.30.0"`.
    pub version: String,
}

struct Loaded {
    info: RuntimeInfo,
    // Kept open for the life of the process (ort holds its own handle too).
    _lib: libloading::Library,
}

static RUNTIME: Mutex<Option<Loaded>> = Mutex::new(None);

/// File name of the ONNX Runtime library on this platform as shipped by
/// `onnxruntime-node`: `libonnxruntime.so.1` (Linux),
/// `libonnxruntime.1.dylib` (macOS), `onnxruntime.dll` (Windows).
pub fn library_file_name() -> &'static str {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime.1.dylib"
    } else {
        "libonnxruntime.so.1"
    }
}

/// `(platform, arch)` as `onnxruntime-node` names its binary folders
/// (`linux`/`darwin`/`win32`, `x64`/`arm64`), or `None` on a platform it
/// does not ship.
pub fn npm_platform_dir() -> Option<(&'static str, &'static str)> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        _ => return None,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some((os, arch))
}

/// The ONNX Runtime loaded in this process, if any.
pub fn runtime_info() -> Option<RuntimeInfo> {
    lock().as_ref().map(|l| l.info.clone())
}

fn lock() -> std::sync::MutexGuard<'static, Option<Loaded>> {
    RUNTIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Candidate library files inside the `onnxruntime-node` package at `pkg`
/// (`pkg/bin/napi-v*/<platform>/<arch>/<library>`), newest N-API folder first.
fn package_candidates(pkg: &Path) -> Vec<PathBuf> {
    let Some((os, arch)) = npm_platform_dir() else { return Vec::new() };
    let bin = pkg.join("bin");
    let mut napi: Vec<String> = std::fs::read_dir(&bin)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("napi-v"))
                .collect()
        })
        .unwrap_or_default();
    napi.sort_by_key(|n| std::cmp::Reverse(n[6..].parse::<u32>().unwrap_or(0)));
    if napi.is_empty() {
        napi.push("napi-v6".to_string());
    }
    napi.iter().map(|n| bin.join(n).join(os).join(arch).join(library_file_name())).collect()
}

/// What to try for an explicit location (a file, or a directory of one of
/// the forms listed in the module docs).
fn explicit_candidates(p: &Path) -> Vec<PathBuf> {
    if !p.is_dir() {
        return vec![p.to_path_buf()];
    }
    let mut v = vec![p.join(library_file_name())];
    v.extend(package_candidates(p));
    v.extend(package_candidates(&p.join("node_modules").join(NPM_PACKAGE)));
    v
}

/// The `node_modules/onnxruntime-node` search (step 3 in the module docs).
fn search_candidates() -> Vec<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            starts.push(dir.to_path_buf());
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for start in starts {
        for dir in start.ancestors() {
            for c in package_candidates(&dir.join("node_modules").join(NPM_PACKAGE)) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The library paths [`init_runtime`] would try for `explicit`, in order
/// (see the module docs for the rule).
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return explicit_candidates(p);
    }
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(v) if !v.is_empty() => explicit_candidates(Path::new(&v)),
        _ => search_candidates(),
    }
}

/// Opens `path` and checks that it is an ONNX Runtime of a usable version.
fn probe_library(path: &Path) -> std::result::Result<(libloading::Library, String), String> {
    // SAFETY: loading a shared library runs its initialisers; this is the
    // documented way to use ONNX Runtime dynamically, and the path was chosen
    // by the rules in the module docs (or by the caller).
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| format!("cannot be loaded: {e}"))?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime
    // release (onnxruntime_c_api.h); a library without it is refused.
    let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase\0") }
            .map_err(|_| "is not ONNX Runtime (no `OrtGetApiBase` symbol)".to_string())?;
    // SAFETY: see above; the returned pointer is to a static table.
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err("is not usable (`OrtGetApiBase` returned null)".to_string());
    }
    // SAFETY: `base` is non-null and points to ONNX Runtime's static
    // `OrtApiBase`; `GetVersionString` returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(((*base).GetVersionString)()) }.to_string_lossy().into_owned();
    let minor = version.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    if minor < ORT_API_VERSION {
        return Err(format!("is ONNX Runtime {version}; resonode needs 1.{ORT_API_VERSION} or newer"));
    }
    // SAFETY: as above; `GetApi` returns null for an API version the library
    // does not provide.
    let api = unsafe { ((*base).GetApi)(ORT_API_VERSION) };
    if api.is_null() {
        return Err(format!("is ONNX Runtime {version} but does not provide C API version {ORT_API_VERSION}"));
    }
    Ok((lib, version))
}

/// Loads ONNX Runtime (once per process) and returns what was loaded.
///
/// `explicit` is an optional library file or directory (see the module docs
/// for the resolution order and the once-per-process rule).
///
/// # Errors
/// - [`Error::RuntimeNotFound`] (`ERR_RUNTIME_NOT_FOUND`): no candidate
///   exists or none is a usable ONNX Runtime; lists every path tried.
/// - [`Error::InvalidState`] (`ERR_INVALID_STATE`): a runtime is already
///   loaded and `explicit` names a different library.
pub fn init_runtime(explicit: Option<&Path>) -> Result<RuntimeInfo> {
    let mut guard = lock();
    if let Some(loaded) = guard.as_ref() {
        if let Some(p) = explicit {
            let same = explicit_candidates(p)
                .iter()
                .filter_map(|c| c.canonicalize().ok())
                .any(|c| c == loaded.info.library_path);
            if !same {
                return Err(Error::InvalidState {
                    reason: format!(
                        "ONNX Runtime is already loaded from {} (version {}); a process can load only one, \
                         so {} cannot be used",
                        loaded.info.library_path.display(),
                        loaded.info.version,
                        p.display()
                    ),
                });
            }
        }
        return Ok(loaded.info.clone());
    }

    let source = if explicit.is_some() {
        "the explicit library path"
    } else if std::env::var_os("ORT_DYLIB_PATH").is_some_and(|v| !v.is_empty()) {
        "ORT_DYLIB_PATH"
    } else {
        "the node_modules/onnxruntime-node search"
    };
    let candidates = library_candidates(explicit);
    let mut tried = Vec::new();
    for cand in &candidates {
        if !cand.exists() {
            tried.push(format!("{} (missing)", cand.display()));
            continue;
        }
        let abs = match cand.canonicalize() {
            Ok(a) => a,
            Err(e) => {
                tried.push(format!("{} ({e})", cand.display()));
                continue;
            }
        };
        if abs.is_dir() {
            tried.push(format!("{} (a directory)", cand.display()));
            continue;
        }
        let (lib, version) = match probe_library(&abs) {
            Ok(v) => v,
            Err(why) => {
                tried.push(format!("{} ({why})", abs.display()));
                continue;
            }
        };
        match ort::init_from(&abs) {
            Ok(builder) => {
                // `false` only when an environment was configured before,
                // which nothing else in resonode does.
                let _ = builder.with_name("resonode").with_telemetry(false).commit();
            }
            Err(e) => {
                tried.push(format!("{} ({e})", abs.display()));
                continue;
            }
        }
        let info = RuntimeInfo { library_path: abs, version };
        log::debug!(target: LOG, "ONNX Runtime {} loaded from {} (found through {source})", info.version, info.library_path.display());
        *guard = Some(Loaded { info: info.clone(), _lib: lib });
        return Ok(info);
    }
    // Platforms without an official build (macOS x64, musl, ...) can still
    // use one built elsewhere; say so rather than suggest a package that
    // has nothing for them.
    let hint = match npm_platform_dir() {
        Some((os, arch)) if !(os == "darwin" && arch == "x64") => format!(
            "reinstall resonode's platform package (it carries ONNX Runtime beside the addon), \
             or set ORT_DYLIB_PATH or the library path option to a {} file",
            library_file_name()
        ),
        _ => format!(
            "ONNX Runtime ships no official build for {}-{}: build or obtain one and set ORT_DYLIB_PATH \
             or the library path option to its {} file",
            std::env::consts::OS,
            std::env::consts::ARCH,
            library_file_name()
        ),
    };
    log::debug!(target: LOG, "no usable ONNX Runtime from {source}; tried: {}", tried.join("; "));
    Err(Error::RuntimeNotFound { reason: format!("no usable ONNX Runtime library from {source}; {hint}"), tried })
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU kernels (always available). The default.
    #[default]
    Cpu,
    /// NVIDIA CUDA. Needs an ONNX Runtime with the CUDA provider library
    /// (`onnxruntime-node` installs it only with its network postinstall,
    /// which resonode skips) and the CUDA/cuDNN libraries.
    Cuda,
    /// Apple Core ML (macOS builds of ONNX Runtime).
    CoreMl,
}

impl ExecutionProvider {
    /// The name used in options and messages: `"cpu"`, `"cuda"`, `"coreml"`.
    pub fn name(&self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::CoreMl => "coreml",
        }
    }

    /// Parses `"cpu"`, `"cuda"` or `"coreml"` (case-insensitive).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the valid values.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" => Ok(ExecutionProvider::Cuda),
            "coreml" => Ok(ExecutionProvider::CoreMl),
            _ => Err(Error::param("executionProvider", format!("`{name}` is not one of cpu, cuda, coreml"))),
        }
    }

    fn dispatch(&self) -> Option<(ort::ep::ExecutionProviderDispatch, std::result::Result<bool, String>)> {
        match self {
            ExecutionProvider::Cpu => None,
            ExecutionProvider::Cuda => {
                let ep = ort::ep::CUDA::default();
                let avail = ep.is_available().map_err(|e| e.to_string());
                Some((ep.build().error_on_failure(), avail))
            }
            ExecutionProvider::CoreMl => {
                let ep = ort::ep::CoreML::default();
                let avail = ep.is_available().map_err(|e| e.to_string());
                Some((ep.build().error_on_failure(), avail))
            }
        }
    }
}

impl std::str::FromStr for ExecutionProvider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ExecutionProvider::parse(s)
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run a model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionOptions {
    /// Explicit ONNX Runtime library file or directory (see the module docs);
    /// `None` (the default) uses `ORT_DYLIB_PATH` or the `node_modules` search.
    pub library_path: Option<PathBuf>,
    /// Where to run (default [`ExecutionProvider::Cpu`]).
    pub execution_provider: ExecutionProvider,
    /// When the requested provider is unavailable: `false` (the default)
    /// fails with [`Error::ExecutionProviderNotAvailable`]; `true` runs on
    /// the CPU and reports why in [`SessionReport::warnings`].
    pub fallback: bool,
    /// Threads ONNX Runtime may use inside one operator (intra-op). `0`
    /// (the default) lets ONNX Runtime choose (one per physical core); `1`
    /// runs everything on the calling thread.
    pub intra_threads: usize,
    /// Where a run's intermediate tensors live between runs (default
    /// [`ActivationMemory::Planned`], ONNX Runtime's own default).
    pub activations: ActivationMemory,
}

/// How ONNX Runtime keeps the memory of a run's intermediate tensors
/// (activations) between runs of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationMemory {
    /// CPU memory arena and memory pattern on (ONNX Runtime's default):
    /// after the first run every later run gets one block planned from
    /// it. Best for small models run often (GTCRN: one run per 16 ms
    /// frame). With large activations the peak is about twice theirs: the
    /// pattern's block comes on top of what the arena kept from the
    /// first run, and the arena grows in powers of two.
    #[default]
    Planned,
    /// CPU memory arena on, memory pattern off: the arena keeps what the
    /// largest run needed and later runs reuse it, with no planned block
    /// on top. No allocation or page fault after the first run; the
    /// resident size stays at the largest run's. HTDemucs' default.
    Arena,
    /// Arena and memory pattern off: every tensor is allocated with
    /// `malloc` and freed after its last use (HTDemucs also returns free
    /// heap pages to the system after every model call), so between runs
    /// the process holds the weights only. Costs time: each run touches
    /// fresh pages (HTDemucs, 7.8 s segment: about 0.45 M page faults and
    /// +40 % CPU time per call here).
    Released,
}

/// What [`build_session`] ended up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// The provider the session runs on (differs from the requested one only
    /// after a fallback).
    pub execution_provider: ExecutionProvider,
    /// Human-readable warnings, e.g. a fallback to the CPU. Never printed by
    /// resonode.
    pub warnings: Vec<String>,
}

/// Where a model comes from, for [`build_session`].
#[derive(Debug, Clone, Copy)]
pub enum ModelSource<'a> {
    /// An `.onnx` file.
    File(&'a Path),
    /// The bytes of an `.onnx` file; `name` is used in messages.
    Bytes {
        /// The file's contents.
        bytes: &'a [u8],
        /// A name for messages.
        name: &'a str,
    },
}

impl ModelSource<'_> {
    /// The path or name used in messages.
    pub fn display(&self) -> String {
        match self {
            ModelSource::File(p) => p.display().to_string(),
            ModelSource::Bytes { name, .. } => (*name).to_string(),
        }
    }
}

enum BuildError {
    Provider(String),
    Model(String),
}

fn builder(opts: &SessionOptions) -> std::result::Result<SessionBuilder, String> {
    let mut b = Session::builder().map_err(|e| e.to_string())?;
    if opts.intra_threads > 0 {
        b = b.with_intra_threads(opts.intra_threads).map_err(|e| e.to_string())?;
        // Idle pool threads would otherwise spin, burning CPU between frames.
        b = b.with_intra_op_spinning(false).map_err(|e| e.to_string())?;
    }
    b = b.with_inter_threads(1).map_err(|e| e.to_string())?;
    if opts.activations != ActivationMemory::Planned {
        b = b.with_memory_pattern(false).map_err(|e| e.to_string())?;
    }
    Ok(b)
}

/// Turns the CPU arena off for [`ActivationMemory::Released`] (after any
/// other provider, since the order of registration is the order of
/// preference).
fn cpu_arena(b: SessionBuilder, opts: &SessionOptions) -> std::result::Result<SessionBuilder, String> {
    if opts.activations != ActivationMemory::Released {
        return Ok(b);
    }
    b.with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| e.to_string().trim().to_string())
}

fn commit(b: &mut SessionBuilder, src: ModelSource<'_>) -> std::result::Result<Session, String> {
    match src {
        ModelSource::File(p) => b.commit_from_file(p),
        ModelSource::Bytes { bytes, .. } => b.commit_from_memory(bytes),
    }
    .map_err(|e| e.to_string().trim().to_string())
}

fn try_build(
    src: ModelSource<'_>,
    opts: &SessionOptions,
    ep: ExecutionProvider,
) -> std::result::Result<Session, BuildError> {
    let mut b = builder(opts).map_err(BuildError::Model)?;
    if let Some((dispatch, avail)) = ep.dispatch() {
        match avail {
            Ok(true) => {}
            Ok(false) => {
                return Err(BuildError::Provider(format!(
                    "the loaded ONNX Runtime was not built with the {} execution provider",
                    ep.name()
                )))
            }
            Err(e) => return Err(BuildError::Provider(e)),
        }
        b = b
            .with_execution_providers([dispatch])
            .map_err(|e| BuildError::Provider(e.to_string().trim().to_string()))?;
        b = cpu_arena(b, opts).map_err(BuildError::Model)?;
        return commit(&mut b, src).map_err(|e| {
            let e = e.trim().to_string();
            // Tell "the provider failed" from "the model is bad" by trying the CPU.
            let cpu_ok = builder(opts)
                .and_then(|b| cpu_arena(b, opts))
                .ok()
                .map(|mut b| commit(&mut b, src).is_ok())
                .unwrap_or(false);
            if cpu_ok {
                BuildError::Provider(e)
            } else {
                BuildError::Model(e)
            }
        });
    }
    let mut b = cpu_arena(b, opts).map_err(BuildError::Model)?;
    commit(&mut b, src).map_err(BuildError::Model)
}

/// Loads the runtime if needed ([`init_runtime`] with
/// [`SessionOptions::library_path`]) and builds an ONNX Runtime session
/// for `src` on the requested execution provider.
///
/// # Errors
/// - [`Error::RuntimeNotFound`] / [`Error::InvalidState`] from [`init_runtime`].
/// - [`Error::NotFound`] (`ERR_NOT_FOUND`): the model file does not exist;
///   [`Error::Io`] (`ERR_IO`): it is a directory or cannot be read.
/// - [`Error::Model`] (`ERR_MODEL`): ONNX Runtime cannot load the model
///   (not ONNX, truncated, damaged, unsupported operator set).
/// - [`Error::ExecutionProviderNotAvailable`]: the provider is missing or
///   failed and `opts.fallback` is false.
pub fn build_session(src: ModelSource<'_>, opts: &SessionOptions) -> Result<(Session, SessionReport)> {
    init_runtime(opts.library_path.as_deref())?;
    let name = src.display();
    if let ModelSource::File(p) = src {
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound { path: name }),
            Err(e) => return Err(Error::Io { path: name, reason: e.to_string() }),
            Ok(m) if m.is_dir() => {
                return Err(Error::Io { path: name, reason: "is a directory, not a model file".into() })
            }
            Ok(m) if m.len() == 0 => {
                return Err(Error::Model { path: name, reason: "the file is empty (0 bytes)".into() })
            }
            Ok(_) => {}
        }
    }
    let ep = opts.execution_provider;
    let mut warnings = Vec::new();
    match try_build(src, opts, ep) {
        Ok(s) => return Ok((s, SessionReport { execution_provider: ep, warnings })),
        Err(BuildError::Model(reason)) => return Err(Error::Model { path: name, reason }),
        Err(BuildError::Provider(reason)) => {
            if !opts.fallback {
                // The ONNX Runtime resonode ships is the CPU build: a GPU
                // provider needs a GPU build of the user's choosing.
                let hint = "the ONNX Runtime shipped with resonode is the CPU build; install a build with this provider \
                            (1.17 or newer) and point ORT_DYLIB_PATH or `runtimePath` at its library, or pass `fallback: true`";
                return Err(Error::ExecutionProviderNotAvailable { provider: ep.name().to_string(), reason: format!("{reason}; {hint}") });
            }
            warnings.push(format!(
                "execution provider `{}` is not available ({reason}); running {name} on the CPU instead",
                ep.name()
            ));
            log::info!(target: LOG, "{}", warnings[0]);
        }
    }
    match try_build(src, opts, ExecutionProvider::Cpu) {
        Ok(s) => Ok((s, SessionReport { execution_provider: ExecutionProvider::Cpu, warnings })),
        Err(BuildError::Model(reason)) | Err(BuildError::Provider(reason)) => Err(Error::Model { path: name, reason }),
    }
}
