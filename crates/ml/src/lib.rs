//! # resonode-ml
//!
//! Neural inference for resonode, in pure Rust around ONNX Runtime:
//!
//! - [`runtime`]: loading the ONNX Runtime shared library at run time
//!   (`ort` with `load-dynamic`; the library comes from the npm package
//!   `onnxruntime-node`, never from a download), once per process;
//!   execution providers (`cpu`, `cuda`, `coreml`, with optional CPU
//!   fallback) and thread counts; building sessions.
//! - [`model`]: [`Model`], a loaded ONNX model with the names, element
//!   types and shapes of its inputs and outputs, and checks that name
//!   expected vs actual shapes when a model does not fit.
//! - [`gtcrn`]: [`SpeechEnhancer`] and [`StreamingEnhancer`], speech
//!   enhancement with the built-in GTCRN model (Rong et al., ICASSP 2024),
//!   offline (time-aligned, same length) and streaming (fixed, reported
//!   latency), at any sample rate.
//! - [`live`]: [`LiveEnhancer`], GTCRN as a processor of a real-time chain
//!   (`enhance()`): the audio callback only moves frames through two
//!   wait-free rings to and from a worker thread that runs the model, with
//!   a fixed, reported latency; [`EnhanceKind`] adds `enhance` to chain
//!   strings through the registry's extension point.
//! - [`metrics`]: [`si_sdr`](metrics::si_sdr), [`sdr`](metrics::sdr),
//!   [`snr`](metrics::snr), [`correlation`](metrics::correlation) and
//!   [`SeparationMetrics`], with their formulas and sources.
//! - [`stft`]: the one STFT/iSTFT, matching `torch.stft`/`torch.istft`,
//!   whole-signal or one frame at a time (GTCRN's streaming), and HTDemucs'
//!   `_spec`/`_ispec` ([`stft::HtdemucsSpec`]).
//! - [`chunker`]: the model-agnostic chunked separation engine of demucs'
//!   `apply_model` (segments, overlap, crossfade), whole-signal
//!   ([`chunker::separate`]), long-file ([`chunker::separate_long`]) and
//!   streaming ([`chunker::StreamingSeparator`]).
//! - [`htdemucs`]: [`HtDemucs`], music separation into drums, bass, other,
//!   vocals with an exported HTDemucs (`scripts/export_htdemucs.py`,
//!   `docs/htdemucs.md`), matching PyTorch.
//! - [`separation_worker`]: [`SeparationWorker`], an HTDemucs separation on
//!   a thread that owns the model, handing out final regions one at a time
//!   with back-pressure and early stop (what streaming APIs build on).
//! - [`separation`]: the separation jobs of the JS `Separator` (input
//!   handling, model options, stem selection and files, stop, timing):
//!   [`separation::separate`], [`separation::separate_long`],
//!   [`separation::spawn_worker`].
//! - [`sam_audio`]: [`SamAudio`], text-prompted separation with SAM-Audio
//!   (arXiv 2512.18099) from an exported model folder
//!   (`scripts/export_sam_audio.py`): descriptions, temporal anchors, the
//!   Euler/midpoint ODE, batches, and the chunked long and streaming paths
//!   ([`LongSeparator`], [`sam_audio::LongFileJob`]), matching mlx-audio 0.6.2.
//!
//! ## Real-time guarantees
//! None of this runs on the audio thread. Model inference allocates inside
//! ONNX Runtime and may take locks, so a live chain runs inference on a
//! worker thread and exchanges audio with the audio callback through the
//! lock-free ring buffers of `resonode-core`; the callback stays
//! allocation-free ([`LiveEnhancer`], tested under an allocation-aborting
//! guard). Each streaming type reports the latency this adds.
//!
//! ## Errors
//! Every failure is a [`resonode_core::Error`] with a stable code:
//!
//! | situation | error (code) |
//! |---|---|
//! | ONNX Runtime library missing, not a library, too old | `RuntimeNotFound` (`ERR_RUNTIME_NOT_FOUND`), listing every path tried |
//! | a second, different library requested after one was loaded | `InvalidState` (`ERR_INVALID_STATE`) |
//! | execution provider unavailable and no fallback | `ExecutionProviderNotAvailable` (`ERR_EXECUTION_PROVIDER_NOT_AVAILABLE`) |
//! | model file missing | `NotFound` (`ERR_NOT_FOUND`) |
//! | model path is a directory or unreadable | `Io` (`ERR_IO`) |
//! | model file empty, not ONNX, damaged; inference failure | `Model` (`ERR_MODEL`) |
//! | model inputs/outputs not what the caller needs | `ModelMismatch` (`ERR_MODEL_MISMATCH`), naming expected vs actual |
//! | bad option (provider name, window, rate, channels) | `InvalidParameter` (`ERR_INVALID_PARAMETER`) |
//! | NaN/inf input | `NonFiniteSample` (`ERR_NON_FINITE_SAMPLE`) |
//! | ragged or wrongly shaped buffers | `Shape` (`ERR_SHAPE`) |
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod chunker;
pub mod gtcrn;
mod heap;
pub mod htdemucs;
pub mod live;
pub mod metrics;
pub mod model;
pub mod runtime;
pub mod sam_audio;
pub mod separation;
pub mod separation_worker;
pub mod stft;

pub use gtcrn::{EnhanceStats, EnhancerOptions, GtcrnSession, SpeechEnhancer, StreamingEnhancer, WindowKind, Windows};
pub use htdemucs::{HtDemucs, SeparateOptions};
pub use live::{EnhanceKind, LiveEnhancer, LiveOptions};
pub use metrics::SeparationMetrics;
pub use model::{Model, TensorInfo, TensorSpec};
pub use sam_audio::{
    Anchor, AnchorKind, LongFileJob, LongOptions, LongSeparator, OdeMethod, OdeOptions, PromptChunk, PromptSeparation,
    SamAudio, SamAudioManifest, SeparateOptions as PromptSeparateOptions,
};
pub use runtime::{init_runtime, runtime_info, ActivationMemory, ExecutionProvider, RuntimeInfo, SessionOptions};
pub use separation::{Separated, SeparationConfig, SeparationInput, StemFiles, StemFormat};
pub use separation_worker::{SeparationWorker, WorkerEvent, WorkerInput, WorkerOptions, WorkerStats};
