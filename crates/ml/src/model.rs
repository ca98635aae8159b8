//! [`Model`]: an ONNX model loaded into an ONNX Runtime session, with its
//! input and output names, element types and shapes, and checks against
//! what a caller expects.
//!
//! # Real-time safety
//! Loading and running models allocate and may block: never call anything
//! here from an audio callback. Live uses run inference on a worker thread
//! and exchange audio with the callback through ring buffers.

use std::fmt;
use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use resonode_core::{Error, Result};

use crate::runtime::{build_session, ExecutionProvider, ModelSource, SessionOptions, SessionReport};

/// One input or output of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name the graph gives it (e.g. `"mix"`).
    pub name: String,
    /// Element type in ONNX/NumPy spelling: `"float32"`, `"float16"`,
    /// `"float64"`, `"int64"`, `"int32"`, `"int8"`, `"uint8"`, `"bool"`,
    /// `"string"`, ...; `"sequence"`, `"map"` or `"optional"` for non-tensor
    /// values.
    pub element_type: String,
    /// Dimensions; `-1` for a dimension the model leaves open (dynamic).
    /// Empty for non-tensor values.
    pub shape: Vec<i64>,
    /// Symbolic names of the dimensions (e.g. `"batch"`), `""` where none.
    pub dimension_names: Vec<String>,
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {} {}", self.name, self.element_type, format_shape(&self.shape, &self.dimension_names))
    }
}

/// What a caller expects of one input or output (see [`Model::check_inputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec<'a> {
    /// Name in the graph.
    pub name: &'a str,
    /// Element type, spelled as in [`TensorInfo::element_type`].
    pub element_type: &'a str,
    /// Dimensions; `-1` accepts any size. A model dimension that is dynamic
    /// (`-1`) accepts any expected size.
    pub shape: &'a [i64],
}

impl fmt::Display for TensorSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {} {}", self.name, self.element_type, format_shape(self.shape, &[]))
    }
}

fn format_shape(shape: &[i64], names: &[String]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if d >= 0 {
                d.to_string()
            } else {
                match names.get(i) {
                    Some(n) if !n.is_empty() => n.clone(),
                    _ => "?".to_string(),
                }
            }
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn element_name(t: TensorElementType) -> &'static str {
    match t {
        TensorElementType::Float32 => "float32",
        TensorElementType::Float16 => "float16",
        TensorElementType::Float64 => "float64",
        TensorElementType::Bfloat16 => "bfloat16",
        TensorElementType::Int8 => "int8",
        TensorElementType::Int16 => "int16",
        TensorElementType::Int32 => "int32",
        TensorElementType::Int64 => "int64",
        TensorElementType::Uint8 => "uint8",
        TensorElementType::Uint16 => "uint16",
        TensorElementType::Uint32 => "uint32",
        TensorElementType::Uint64 => "uint64",
        TensorElementType::Bool => "bool",
        TensorElementType::String => "string",
        TensorElementType::Complex64 => "complex64",
        TensorElementType::Complex128 => "complex128",
        _ => "other",
    }
}

fn info_of(name: &str, ty: &ValueType) -> TensorInfo {
    match ty {
        ValueType::Tensor { ty, shape, dimension_symbols } => TensorInfo {
            name: name.to_string(),
            element_type: element_name(*ty).to_string(),
            shape: shape.iter().copied().collect(),
            dimension_names: dimension_symbols.iter().map(|s| s.to_string()).collect(),
        },
        ValueType::Sequence(_) => non_tensor(name, "sequence"),
        ValueType::Map { .. } => non_tensor(name, "map"),
        ValueType::Optional(_) => non_tensor(name, "optional"),
    }
}

fn non_tensor(name: &str, kind: &str) -> TensorInfo {
    TensorInfo {
        name: name.to_string(),
        element_type: kind.to_string(),
        shape: Vec::new(),
        dimension_names: Vec::new(),
    }
}

/// An ONNX model ready to run: an ONNX Runtime session plus a description
/// of its inputs and outputs.
pub struct Model {
    session: Session,
    path: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    report: SessionReport,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Loads an `.onnx` file (loading ONNX Runtime first if needed; see
    /// [`crate::runtime`]).
    ///
    /// # Errors
    /// [`Error::NotFound`] (missing file), [`Error::Io`] (a directory or
    /// unreadable), [`Error::Model`] (empty, not ONNX, damaged),
    /// [`Error::RuntimeNotFound`], [`Error::ExecutionProviderNotAvailable`];
    /// see [`build_session`].
    pub fn load(path: &Path, opts: &SessionOptions) -> Result<Model> {
        Self::build(ModelSource::File(path), opts)
    }

    /// Loads a model from the bytes of an `.onnx` file; `name` is used in
    /// messages.
    ///
    /// # Errors
    /// As [`Model::load`], without the file errors.
    pub fn from_bytes(bytes: &[u8], name: &str, opts: &SessionOptions) -> Result<Model> {
        if bytes.is_empty() {
            return Err(Error::Model { path: name.to_string(), reason: "no bytes (an empty model)".into() });
        }
        Self::build(ModelSource::Bytes { bytes, name }, opts)
    }

    fn build(src: ModelSource<'_>, opts: &SessionOptions) -> Result<Model> {
        let started = std::time::Instant::now();
        let (session, report) = build_session(src, opts)?;
        log::debug!(
            target: crate::runtime::LOG,
            "loaded model {} on {} ({} intra-op thread(s), 0 = ONNX Runtime's choice) in {:.1} ms",
            src.display(),
            report.execution_provider.name(),
            opts.intra_threads,
            started.elapsed().as_secs_f64() * 1e3
        );
        let inputs = session.inputs().iter().map(|o| info_of(o.name(), o.dtype())).collect();
        let outputs = session.outputs().iter().map(|o| info_of(o.name(), o.dtype())).collect();
        Ok(Model { session, path: src.display(), inputs, outputs, report })
    }

    /// The path (or name) the model was loaded from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The inputs, in the order of the graph.
    pub fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    /// The outputs, in the order of the graph.
    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    /// The input called `name`.
    pub fn input(&self, name: &str) -> Option<&TensorInfo> {
        self.inputs.iter().find(|t| t.name == name)
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&TensorInfo> {
        self.outputs.iter().find(|t| t.name == name)
    }

    /// Where the session runs (the CPU after a fallback).
    pub fn execution_provider(&self) -> ExecutionProvider {
        self.report.execution_provider
    }

    /// Warnings from building the session (e.g. a fallback to the CPU).
    pub fn warnings(&self) -> &[String] {
        &self.report.warnings
    }

    /// The ONNX Runtime session, for running the model.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Checks that the model's inputs are exactly `expected` (by name; order
    /// does not matter): every expected input exists with that element type
    /// and a compatible shape, and the model has no other inputs.
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] (`ERR_MODEL_MISMATCH`) naming, for every
    /// difference, the expected and the actual name, type and shape.
    pub fn check_inputs(&self, expected: &[TensorSpec<'_>]) -> Result<()> {
        let mut problems = check(&self.inputs, expected, "input");
        for extra in self.inputs.iter().filter(|i| !expected.iter().any(|e| e.name == i.name)) {
            problems.push(format!("unexpected input {extra}"));
        }
        self.mismatch(problems)
    }

    /// Checks that the model has (at least) the outputs in `expected`, with
    /// those element types and compatible shapes. Extra outputs are fine.
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] naming expected vs actual.
    pub fn check_outputs(&self, expected: &[TensorSpec<'_>]) -> Result<()> {
        self.mismatch(check(&self.outputs, expected, "output"))
    }

    /// Copies the `float32` output `name` of a run of the model at `path`
    /// (an associated function: the outputs borrow the session), checking
    /// that it holds `want` values. `what` names the model in messages
    /// (e.g. `"HTDemucs"`, `"SAM-Audio"`).
    ///
    /// # Errors
    /// [`Error::Model`] ("`what` inference failed: ...") when there is no
    /// such output or it is not `float32`; [`Error::ModelMismatch`] when it
    /// has another number of values.
    pub fn output_f32(
        outputs: &ort::session::SessionOutputs<'_>,
        name: &str,
        want: usize,
        path: &str,
        what: &str,
    ) -> Result<Vec<f32>> {
        let v = outputs.get(name).ok_or_else(|| inference_error(path, what, format!("no output `{name}`")))?;
        let (_, data) = v.try_extract_tensor::<f32>().map_err(|e| inference_error(path, what, e))?;
        if data.len() != want {
            return Err(Error::ModelMismatch {
                path: path.to_string(),
                reason: format!(
                    "output `{name}` has {} values, expected {want} (check the model's dimensions)",
                    data.len()
                ),
            });
        }
        Ok(data.to_vec())
    }

    fn mismatch(&self, problems: Vec<String>) -> Result<()> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::ModelMismatch { path: self.path.clone(), reason: problems.join("; ") })
        }
    }
}

/// [`Error::Model`] for a failed run of the model at `path`:
/// "`what` inference failed: `reason`".
pub fn inference_error(path: &str, what: &str, reason: impl fmt::Display) -> Error {
    Error::Model { path: path.to_string(), reason: format!("{what} inference failed: {reason}") }
}

fn check(actual: &[TensorInfo], expected: &[TensorSpec<'_>], what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for e in expected {
        match actual.iter().find(|a| a.name == e.name) {
            None => {
                let names: Vec<String> = actual.iter().map(|a| format!("`{}`", a.name)).collect();
                problems.push(format!(
                    "expected {what} {e}, but the model has no {what} `{}` (it has {})",
                    e.name,
                    names.join(", ")
                ));
            }
            Some(a) => {
                let shape_ok = a.shape.len() == e.shape.len()
                    && a.shape.iter().zip(e.shape).all(|(&ad, &ed)| ed < 0 || ad < 0 || ad == ed);
                if a.element_type != e.element_type || !shape_ok {
                    problems.push(format!(
                        "{what} `{}`: expected {} {}, got {} {}",
                        e.name,
                        e.element_type,
                        format_shape(e.shape, &[]),
                        a.element_type,
                        format_shape(&a.shape, &a.dimension_names)
                    ));
                }
            }
        }
    }
    problems
}
