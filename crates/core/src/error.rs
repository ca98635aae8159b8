//! The one error type of resonode. Every failure anywhere in the Rust crates
//! ends up as an [`Error`]; the napi crate converts it to a JS error once,
//! carrying [`Error::code`] as the error's stable `code` property.

/// `Result` with resonode's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure resonode reports. Each variant has a stable code (see
/// [`Error::code`]) that JS code can switch on; messages are for people and
/// may change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range or of the wrong kind (`ERR_INVALID_PARAMETER`).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: String, reason: String },
    /// A chain string or processor description could not be understood (`ERR_INVALID_CHAIN`).
    #[error("invalid chain: {reason}")]
    InvalidChain { reason: String },
    /// The file does not exist (`ERR_NOT_FOUND`).
    #[error("{path}: no such file")]
    NotFound { path: String },
    /// Reading or writing a file failed at the OS level (`ERR_IO`).
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    /// The container or codec is not one resonode reads or writes (`ERR_UNSUPPORTED_FORMAT`).
    #[error("{path}: unsupported format: {reason}")]
    UnsupportedFormat { path: String, reason: String },
    /// The data is damaged, truncated or not what its header claims (`ERR_DECODE`).
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: String, reason: String },
    /// Writing encoded audio failed (`ERR_ENCODE`).
    #[error("{path}: cannot encode: {reason}")]
    Encode { path: String, reason: String },
    /// Input audio holds NaN or infinity (`ERR_NON_FINITE_SAMPLE`).
    #[error("non-finite sample {value} at frame {frame}, channel {channel}")]
    NonFiniteSample { frame: u64, channel: usize, value: f32 },
    /// The audio has zero channels or zero frames (`ERR_EMPTY_AUDIO`).
    #[error("empty audio: {reason}")]
    EmptyAudio { reason: String },
    /// Buffers of the wrong shape were passed (`ERR_SHAPE`).
    #[error("shape mismatch: {reason}")]
    Shape { reason: String },
    /// An operation was used in a state that does not allow it (`ERR_INVALID_STATE`).
    #[error("invalid state: {reason}")]
    InvalidState { reason: String },
    /// No audio backend (host) or no usable device is available, e.g. no
    /// sound card and no audio server (`ERR_BACKEND_NOT_AVAILABLE`). The
    /// message says what to do (start PulseAudio, or use backend `none`).
    #[error("audio backend not available: {reason}")]
    BackendNotAvailable { reason: String },
    /// A device named by id does not exist or does not support the requested
    /// direction (`ERR_DEVICE_NOT_FOUND`).
    #[error("audio device `{id}` not found: {reason}")]
    DeviceNotFound { id: String, reason: String },
    /// An audio stream could not be built or started, or failed while running
    /// (`ERR_STREAM`).
    #[error("audio stream error: {reason}")]
    Stream { reason: String },
    /// The output device ran out of audio to play (`ERR_BUFFER_UNDERRUN`).
    #[error("buffer underrun: {reason}")]
    BufferUnderrun { reason: String },
    /// Captured audio was lost because a buffer was full (`ERR_BUFFER_OVERRUN`).
    #[error("buffer overrun: {reason}")]
    BufferOverrun { reason: String },
    /// A bug in resonode, such as a caught panic (`ERR_INTERNAL`).
    #[error("internal error: {message}")]
    Internal { message: String },
    /// The ONNX Runtime shared library could not be found or is not usable
    /// (missing, not a library, or older than the API resonode needs)
    /// (`ERR_RUNTIME_NOT_FOUND`). `tried` lists every path that was tried,
    /// each with why it was rejected.
    #[error("ONNX Runtime not found: {reason}; tried: {}", tried.join("; "))]
    RuntimeNotFound { reason: String, tried: Vec<String> },
    /// A requested execution provider (`cuda`, `coreml`, ...) is not
    /// available in the loaded ONNX Runtime or failed to initialise, and no
    /// CPU fallback was allowed (`ERR_EXECUTION_PROVIDER_NOT_AVAILABLE`).
    #[error("execution provider `{provider}` not available: {reason}")]
    ExecutionProviderNotAvailable { provider: String, reason: String },
    /// A model file could not be loaded (not ONNX, damaged, unsupported
    /// operators) or inference with it failed (`ERR_MODEL`).
    #[error("model {path}: {reason}")]
    Model { path: String, reason: String },
    /// A model loaded but its inputs or outputs are not what the caller
    /// expects; the message names the expected and the actual names, element
    /// types and shapes (`ERR_MODEL_MISMATCH`).
    #[error("model {path} does not fit: {reason}")]
    ModelMismatch { path: String, reason: String },
    /// The music library's database failed: not a database or damaged,
    /// created by a newer resonode, or a statement failed (`ERR_DATABASE`).
    /// What was committed before stays as it was.
    #[error("database {path}: {reason}")]
    Database { path: String, reason: String },
    /// Another connection held the database's write lock for longer than
    /// the busy timeout (`ERR_DATABASE_LOCKED`); retrying later can work.
    #[error("database {path} is locked: {reason}")]
    DatabaseLocked { path: String, reason: String },
    /// The database server could not be reached: connection refused or
    /// timed out, or the connection dropped (or the server went silent
    /// for about 30 s) mid-call (`ERR_DATABASE_UNAVAILABLE`). The call
    /// committed whole or not at all; when the connection dropped during
    /// its COMMIT, which one is unknown, so retry (once the server is
    /// back) only idempotent calls: upserts such as adding or scanning a
    /// track are; starting a session, recording a play or feedback are
    /// not.
    #[error("database {location} is unavailable: {reason}")]
    DatabaseUnavailable { location: String, reason: String },
    /// No track in the library has this id or path (`ERR_TRACK_NOT_FOUND`).
    #[error("no track `{track}` in the library")]
    TrackNotFound { track: String },
}

impl Error {
    /// The stable machine-readable code of this error, e.g. `"ERR_DECODE"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidParameter { .. } => "ERR_INVALID_PARAMETER",
            Error::InvalidChain { .. } => "ERR_INVALID_CHAIN",
            Error::NotFound { .. } => "ERR_NOT_FOUND",
            Error::Io { .. } => "ERR_IO",
            Error::UnsupportedFormat { .. } => "ERR_UNSUPPORTED_FORMAT",
            Error::Decode { .. } => "ERR_DECODE",
            Error::Encode { .. } => "ERR_ENCODE",
            Error::NonFiniteSample { .. } => "ERR_NON_FINITE_SAMPLE",
            Error::EmptyAudio { .. } => "ERR_EMPTY_AUDIO",
            Error::Shape { .. } => "ERR_SHAPE",
            Error::InvalidState { .. } => "ERR_INVALID_STATE",
            Error::BackendNotAvailable { .. } => "ERR_BACKEND_NOT_AVAILABLE",
            Error::DeviceNotFound { .. } => "ERR_DEVICE_NOT_FOUND",
            Error::Stream { .. } => "ERR_STREAM",
            Error::BufferUnderrun { .. } => "ERR_BUFFER_UNDERRUN",
            Error::BufferOverrun { .. } => "ERR_BUFFER_OVERRUN",
            Error::Internal { .. } => "ERR_INTERNAL",
            Error::RuntimeNotFound { .. } => "ERR_RUNTIME_NOT_FOUND",
            Error::ExecutionProviderNotAvailable { .. } => "ERR_EXECUTION_PROVIDER_NOT_AVAILABLE",
            Error::Model { .. } => "ERR_MODEL",
            Error::ModelMismatch { .. } => "ERR_MODEL_MISMATCH",
            Error::Database { .. } => "ERR_DATABASE",
            Error::DatabaseLocked { .. } => "ERR_DATABASE_LOCKED",
            Error::DatabaseUnavailable { .. } => "ERR_DATABASE_UNAVAILABLE",
            Error::TrackNotFound { .. } => "ERR_TRACK_NOT_FOUND",
        }
    }

    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter { name: name.into(), reason: reason.into() }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(reason: impl Into<String>) -> Self {
        Error::Shape { reason: reason.into() }
    }
}

/// Why [`crate::Processor::set_parameter`] refused a value. `Copy` and
/// allocation-free so that the refusal itself is real-time safe; [`Chain`]
/// turns it into an [`Error`] with the full parameter path.
///
/// [`Chain`]: crate::Chain
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamError {
    /// The processor has no parameter of that name.
    Unknown,
    /// The value is outside `[min, max]` (or not finite).
    OutOfRange { min: f64, max: f64 },
}

impl ParamError {
    /// Converts to an [`Error`] naming the parameter `path` (e.g. `0.cutoff`).
    pub fn into_error(self, path: &str, value: f64, valid: &[&str]) -> Error {
        match self {
            ParamError::Unknown => Error::param(
                path,
                format!("unknown parameter (valid: {})", valid.join(", ")),
            ),
            ParamError::OutOfRange { min, max } => {
                Error::param(path, format!("{value} is outside [{min}, {max}]"))
            }
        }
    }
}

/// Checks `min <= value <= max` and finiteness, for `set_parameter`
/// implementations.
///
/// # Real-time safety
/// Never allocates.
#[inline]
pub fn check_range(value: f64, min: f64, max: f64) -> Result<f64, ParamError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(ParamError::OutOfRange { min, max })
    }
}

/// The text of a caught panic (`catch_unwind`'s payload): the `&str` or
/// `String` `panic!` carries, or `"unknown panic"`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
