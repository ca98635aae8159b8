//! Music source separation (HTDemucs exported to ONNX) into stem files, on a
//! worker thread, with progress and stop through `PipelineControl`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::{AudioBuffer, Error, Sink, Source};
use resonode_io::{FileSource, OutputFormat};
use resonode_ml::chunker::{Crossfade, LongOptions};
use resonode_ml::htdemucs::{HtDemucs, SeparateOptions};

use crate::error::guard_core;
use crate::file::{source_options, SourceOptionsDesc};
use crate::ml::{session_options, InferenceOptions};
use crate::pipeline::PipelineControl;

/// A separation job: `input` -> one file per stem in `outDir`.
#[napi(object)]
pub struct SeparateSpec {
    pub input: String,
    pub source_options: Option<SourceOptionsDesc>,
    /// An HTDemucs ONNX export (see docs/htdemucs.md); `name.0.onnx`,
    /// `name.1.onnx`, ... are loaded as a bag.
    pub model: String,
    pub out_dir: String,
    /// Stems to write (default: all the model's sources).
    pub stems: Option<Vec<String>>,
    /// Segment length in seconds (default: the model's own; HTDemucs exports
    /// have a fixed segment, so only that value works for them).
    pub segment_s: Option<f64>,
    /// Overlap ratio between segments (default 0.25).
    pub overlap: Option<f64>,
    /// `triangular` (default, as demucs apply_model) or `cosine`.
    pub crossfade: Option<String>,
    pub inference: Option<InferenceOptions>,
}

/// What a separation did.
#[napi(object)]
pub struct SeparateResult {
    /// Paths written, in the order of `stemNames`.
    pub stems: Vec<String>,
    pub stem_names: Vec<String>,
    pub frames_processed: f64,
    pub sample_rate: u32,
    pub processing_time_s: f64,
    pub realtime_factor: f64,
    /// Seconds from the start until the first stem audio was final.
    pub time_to_first_audio_s: Option<f64>,
    pub chunks: u32,
}

pub struct SeparateTask {
    spec: SeparateSpec,
    control: std::sync::Arc<crate::pipeline::SharedControl>,
}

impl Task for SeparateTask {
    type Output = SeparateResult;
    type JsValue = SeparateResult;

    fn compute(&mut self) -> napi::Result<SeparateResult> {
        guard_core(|| {
            let spec = &self.spec;
            let mut model = HtDemucs::load(Path::new(&spec.model), &session_options(&spec.inference.clone().unwrap_or_default())?)?;
            let sources = model.sources().to_vec();
            let wanted: Vec<usize> = match &spec.stems {
                None => (0..sources.len()).collect(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        sources.iter().position(|s| s == n).ok_or_else(|| {
                            Error::param("stems", format!("`{n}` is not a source of this model ({})", sources.join(", ")))
                        })
                    })
                    .collect::<resonode_core::Result<_>>()?,
            };
            let mut opts = SeparateOptions::default();
            if let Some(o) = spec.overlap {
                opts.overlap = o;
            }
            match spec.crossfade.as_deref() {
                None | Some("triangular") => {}
                Some("cosine") => opts.crossfade = Crossfade::RaisedCosine,
                Some(o) => return Err(Error::param("crossfade", format!("`{o}` is not triangular or cosine"))),
            }
            if let Some(s) = spec.segment_s {
                let frames = (s * model.sample_rate() as f64).round() as usize;
                if frames != model.segment() {
                    return Err(Error::param(
                        "segment",
                        format!("this model was exported for {:.2} s segments ({} frames); got {s} s", model.segment() as f64 / model.sample_rate() as f64, model.segment()),
                    ));
                }
            }
            let mut source = FileSource::open(Path::new(&spec.input), &source_options(&spec.source_options.clone().unwrap_or_default())?)?;
            let (rate, channels) = (source.sample_rate(), source.channels());
            std::fs::create_dir_all(&spec.out_dir).map_err(|e| Error::Io { path: spec.out_dir.clone(), reason: e.to_string() })?;
            let paths: Vec<PathBuf> = wanted.iter().map(|&i| Path::new(&spec.out_dir).join(format!("{}.wav", sources[i]))).collect();
            let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
            for p in &paths {
                let fmt = OutputFormat::for_path(p, None, Some(source.info()))?;
                let mut sink = resonode_io::open_sink(p, fmt);
                sink.open(rate, channels)?;
                sinks.push(sink);
            }
            let control = &self.control;
            let result = model.separate_long(
                &mut source,
                &opts,
                &LongOptions::default(),
                |region| {
                    if control.control.stop_requested() {
                        return Err(Error::InvalidState { reason: "stopped".into() });
                    }
                    for (k, &i) in wanted.iter().enumerate() {
                        let buf = AudioBuffer::from_planar(&region.stems[i])?;
                        sinks[k].write(&buf.as_block())?;
                    }
                    Ok(())
                },
                |p| {
                    control.frames.store(p.frames, Ordering::Relaxed);
                    control.fraction_bits.store(p.fraction.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
                },
            );
            for s in sinks.iter_mut() {
                let _ = s.finalize();
            }
            let stats = result?;
            let secs = stats.elapsed.as_secs_f64();
            Ok(SeparateResult {
                stems: paths.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
                stem_names: wanted.iter().map(|&i| sources[i].clone()).collect(),
                frames_processed: stats.frames_out as f64,
                sample_rate: rate,
                processing_time_s: secs,
                realtime_factor: if secs > 0.0 { stats.frames_out as f64 / rate as f64 / secs } else { 0.0 },
                time_to_first_audio_s: stats.time_to_first_audio.map(|d| d.as_secs_f64()),
                chunks: stats.chunks as u32,
            })
        })
    }

    fn resolve(&mut self, _: Env, out: SeparateResult) -> napi::Result<SeparateResult> {
        Ok(out)
    }
}

/// Separates `input` into stem files on a worker thread (bounded memory:
/// the file is streamed through the chunker), reporting progress through
/// `control`.
///
/// @throws ERR_RUNTIME_NOT_FOUND, ERR_MODEL, ERR_MODEL_MISMATCH, ERR_NOT_FOUND, ERR_DECODE, ERR_INVALID_PARAMETER
#[napi(ts_return_type = "Promise<SeparateResult>")]
pub fn separate_file(spec: SeparateSpec, control: &PipelineControl) -> AsyncTask<SeparateTask> {
    AsyncTask::new(SeparateTask { spec, control: control.shared() })
}
