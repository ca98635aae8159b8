//! Neural inference bindings: GTCRN speech enhancement, separation metrics,
//! ONNX Runtime information. Inference runs on worker threads.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_io::WavEncoding;
use resonode_ml::gtcrn::{EnhancerOptions, SpeechEnhancer, WindowKind};
use resonode_ml::runtime::{ExecutionProvider, SessionOptions};
use resonode_ml::SeparationMetrics;

use crate::error::guard_core;
use crate::pipeline::{PipelineControl, SharedControl};

/// How models run.
#[napi(object)]
#[derive(Clone, Default)]
pub struct InferenceOptions {
    /// ONNX Runtime library file or directory (default: `ORT_DYLIB_PATH`,
    /// then the library inside the npm package `onnxruntime-node`).
    pub runtime_path: Option<String>,
    /// `cpu` (default), `cuda` or `coreml`.
    pub execution_provider: Option<String>,
    /// Fall back to the CPU (with a warning) when the provider is unavailable.
    pub fallback: Option<bool>,
    /// Intra-op threads (default: ONNX Runtime's choice; 1 = calling thread only).
    pub threads: Option<u32>,
}

pub fn session_options(o: &InferenceOptions) -> resonode_core::Result<SessionOptions> {
    Ok(SessionOptions {
        library_path: o.runtime_path.as_ref().map(PathBuf::from),
        execution_provider: match &o.execution_provider {
            Some(p) => ExecutionProvider::parse(p)?,
            None => ExecutionProvider::default(),
        },
        fallback: o.fallback.unwrap_or(false),
        intra_threads: o.threads.unwrap_or(0) as usize,
        ..SessionOptions::default()
    })
}

/// A sample encoding named as JS names it (`int16`, `int24`, `float32`).
pub fn wav_encoding(name: Option<&str>) -> resonode_core::Result<Option<WavEncoding>> {
    name.map(WavEncoding::parse).transpose()
}

/// Options of GTCRN speech enhancement.
#[napi(object)]
#[derive(Clone, Default)]
pub struct EnhanceOptionsDesc {
    /// A GTCRN streaming `.onnx` model (default: the built-in one).
    pub model_path: Option<String>,
    /// `periodic` (default; reproduces the reference `enh.wav`) or `symmetric`.
    pub window: Option<String>,
    /// A different synthesis window (`symmetric` reproduces `enh_stream.wav`).
    pub synthesis_window: Option<String>,
    /// Output encoding for files: `int16`, `int24`, `float32` (default: like the input).
    pub encoding: Option<String>,
    pub inference: Option<InferenceOptions>,
}

fn enhancer_options(o: &EnhanceOptionsDesc) -> resonode_core::Result<EnhancerOptions> {
    Ok(EnhancerOptions {
        model_path: o.model_path.as_ref().map(PathBuf::from),
        session: session_options(&o.inference.clone().unwrap_or_default())?,
        window: match &o.window {
            Some(w) => WindowKind::parse(w)?,
            None => WindowKind::default(),
        },
        synthesis_window: o.synthesis_window.as_deref().map(WindowKind::parse).transpose()?,
    })
}

/// What an enhancement run did.
#[napi(object)]
pub struct EnhanceResult {
    pub frames_processed: f64,
    pub sample_rate: u32,
    pub channels: u32,
    pub processing_time_s: f64,
    pub realtime_factor: f64,
    /// True when `stop()` ended the run early: the output file (finalised)
    /// holds the enhancement of the `framesProcessed` frames read until then.
    pub stopped: bool,
}

pub struct EnhanceFileTask {
    input: String,
    output: String,
    options: EnhanceOptionsDesc,
    control: Arc<SharedControl>,
}

impl Task for EnhanceFileTask {
    type Output = EnhanceResult;
    type JsValue = EnhanceResult;
    fn compute(&mut self) -> napi::Result<EnhanceResult> {
        guard_core(|| {
            let encoding = wav_encoding(self.options.encoding.as_deref())?;
            let mut enhancer = SpeechEnhancer::new(&enhancer_options(&self.options)?)?;
            let control = &self.control;
            let s =
                enhancer.enhance_file(self.input.as_ref(), self.output.as_ref(), encoding, &control.control, |p| {
                    control.frames.store(p.frames, Ordering::Relaxed);
                    control.fraction_bits.store(p.fraction.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
                })?;
            Ok(EnhanceResult {
                frames_processed: s.frames as f64,
                sample_rate: s.sample_rate,
                channels: s.channels as u32,
                processing_time_s: s.processing_time_s,
                realtime_factor: s.realtime_factor,
                stopped: s.stopped,
            })
        })
    }
    fn resolve(&mut self, _: Env, out: EnhanceResult) -> napi::Result<EnhanceResult> {
        Ok(out)
    }
}

/// Enhances speech in `input` (any rate; resampled to 16 kHz and back) into
/// `output`, same length and time-aligned, on a worker thread. `control`
/// reports progress and stops it like a pipeline: it resolves with
/// `stopped` and a finalised file.
///
/// @throws ERR_RUNTIME_NOT_FOUND, ERR_MODEL, ERR_MODEL_MISMATCH, ERR_NOT_FOUND, ERR_DECODE, ...
#[napi(catch_unwind, ts_return_type = "Promise<EnhanceResult>")]
pub fn enhance_file(
    input: String,
    output: String,
    options: Option<EnhanceOptionsDesc>,
    control: &PipelineControl,
) -> AsyncTask<EnhanceFileTask> {
    AsyncTask::new(EnhanceFileTask { input, output, options: options.unwrap_or_default(), control: control.shared() })
}

pub struct EnhanceTask {
    channels: Vec<Vec<f32>>,
    sample_rate: u32,
    options: EnhanceOptionsDesc,
}

impl Task for EnhanceTask {
    type Output = Vec<Float32Array>;
    type JsValue = Vec<Float32Array>;
    fn compute(&mut self) -> napi::Result<Vec<Float32Array>> {
        guard_core(|| {
            let mut enhancer = SpeechEnhancer::new(&enhancer_options(&self.options)?)?;
            let out = enhancer.enhance_planar(&self.channels, self.sample_rate)?;
            Ok(out.into_iter().map(Float32Array::new).collect())
        })
    }
    fn resolve(&mut self, _: Env, out: Vec<Float32Array>) -> napi::Result<Vec<Float32Array>> {
        Ok(out)
    }
}

/// Enhances planar audio (channels x frames) at `sampleRate` Hz.
#[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
pub fn enhance(
    channels: Vec<Float32Array>,
    sample_rate: u32,
    options: Option<EnhanceOptionsDesc>,
) -> AsyncTask<EnhanceTask> {
    AsyncTask::new(EnhanceTask {
        channels: channels.iter().map(|c| c.to_vec()).collect(),
        sample_rate,
        options: options.unwrap_or_default(),
    })
}

/// Every separation metric of `estimate` against `reference` (dB, except correlation).
#[napi(object)]
pub struct Metrics {
    pub si_sdr: f64,
    pub sdr: f64,
    pub snr: f64,
    pub correlation: f64,
}

/// Computes SI-SDR, SDR, SNR (dB) and correlation of `estimate` against `reference`.
///
/// @throws ERR_SHAPE for different lengths, ERR_EMPTY_AUDIO for empty signals
#[napi(catch_unwind)]
pub fn separation_metrics(estimate: Float32Array, reference: Float32Array) -> napi::Result<Metrics> {
    guard_core(|| {
        let m = SeparationMetrics::compute(&estimate, &reference)?;
        Ok(Metrics { si_sdr: m.si_sdr, sdr: m.sdr, snr: m.snr, correlation: m.correlation })
    })
}

/// Scale-invariant SDR in dB (Le Roux et al. 2019).
#[napi(catch_unwind)]
pub fn si_sdr(estimate: Float32Array, reference: Float32Array) -> napi::Result<f64> {
    guard_core(|| resonode_ml::metrics::si_sdr(&estimate, &reference))
}

/// BSS Eval SDR in dB (Vincent et al. 2006; 512-tap distortion filter, as museval / torchmetrics).
#[napi(catch_unwind)]
pub fn sdr(estimate: Float32Array, reference: Float32Array) -> napi::Result<f64> {
    guard_core(|| resonode_ml::metrics::sdr(&estimate, &reference))
}

/// SNR in dB of `estimate` as a noisy copy of `reference`: 10 log10(|r|^2 / |e - r|^2).
#[napi(catch_unwind)]
pub fn snr(estimate: Float32Array, reference: Float32Array) -> napi::Result<f64> {
    guard_core(|| resonode_ml::metrics::snr(&estimate, &reference))
}

/// Pearson correlation in [-1, 1].
#[napi(catch_unwind)]
pub fn correlation(estimate: Float32Array, reference: Float32Array) -> napi::Result<f64> {
    guard_core(|| resonode_ml::metrics::correlation(&estimate, &reference))
}
