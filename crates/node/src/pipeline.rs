//! The all-native file pipeline: FileSource -> Chain -> file sink, on a
//! worker thread, with progress readable from JS through `PipelineControl`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::pipeline::{self, Control, PipelineOptions, Progress, Stats};
use resonode_io::FileSource;

use crate::convert::{specs, ProcessorDesc};
use crate::error::guard_core;
use crate::file::{output_format, source_options, SinkOptionsDesc, SourceOptionsDesc};

/// A native file-to-file job.
#[napi(object)]
pub struct FilePipelineSpec {
    pub input: String,
    pub source_options: Option<SourceOptionsDesc>,
    pub processors: Vec<ProcessorDesc>,
    pub output: String,
    pub sink_options: Option<SinkOptionsDesc>,
    /// Frames per chunk (default 65536).
    pub chunk_size: Option<u32>,
}

/// What a run did. `realtimeFactor` = audio seconds / processing seconds.
#[napi(object)]
pub struct PipelineStats {
    pub chunks_processed: f64,
    pub frames_processed: f64,
    pub processing_time_s: f64,
    pub realtime_factor: f64,
    pub sample_rate: u32,
    pub channels: u32,
    /// True when `stop()` ended the run early.
    pub stopped: bool,
}

pub fn stats_to_js(s: &Stats) -> PipelineStats {
    PipelineStats {
        chunks_processed: s.chunks_processed as f64,
        frames_processed: s.frames_processed as f64,
        processing_time_s: s.processing_time_s,
        realtime_factor: s.realtime_factor(),
        sample_rate: s.sample_rate,
        channels: s.channels as u32,
        stopped: s.stopped,
    }
}

#[derive(Default)]
struct Shared {
    control: Control,
    /// Overall fraction in [0, 1] as f64 bits; NaN when the length is unknown.
    fraction_bits: AtomicU64,
    frames: AtomicU64,
}

/// Stops a running native pipeline and reports its progress. JS polls it;
/// the worker thread never calls into JS.
#[napi]
pub struct PipelineControl {
    shared: Arc<Shared>,
}

#[napi]
impl PipelineControl {
    #[napi(constructor)]
    pub fn new() -> Self {
        let shared = Shared::default();
        shared.fraction_bits.store(0f64.to_bits(), Ordering::Relaxed);
        PipelineControl { shared: Arc::new(shared) }
    }
    /// Asks the run to stop after the current chunk; the output file is
    /// finalized with everything processed so far.
    #[napi]
    pub fn stop(&self) {
        self.shared.control.stop();
    }
    /// Queues `"<index>.<name>" = value`, applied before the next chunk.
    #[napi]
    pub fn set_parameter(&self, path: String, value: f64) {
        self.shared.control.set_parameter(path, value);
    }
    /// Completion over all passes in [0, 1], or NaN when the length is unknown.
    #[napi(getter)]
    pub fn fraction(&self) -> f64 {
        f64::from_bits(self.shared.fraction_bits.load(Ordering::Relaxed))
    }
    /// Frames done in the current pass.
    #[napi(getter)]
    pub fn frames(&self) -> f64 {
        self.shared.frames.load(Ordering::Relaxed) as f64
    }
}

impl Default for PipelineControl {
    fn default() -> Self {
        Self::new()
    }
}

pub struct RunTask {
    spec: Option<FilePipelineSpec>,
    shared: Arc<Shared>,
}

impl Task for RunTask {
    type Output = PipelineStats;
    type JsValue = PipelineStats;

    fn compute(&mut self) -> napi::Result<PipelineStats> {
        guard_core(|| {
            let spec = self.spec.take().ok_or_else(|| resonode_core::Error::Internal { message: "task ran twice".into() })?;
            let mut chain = resonode_dsp::registry::build_chain(&specs(&spec.processors)?)?;
            let mut source = FileSource::open(Path::new(&spec.input), &source_options(&spec.source_options.unwrap_or_default())?)?;
            let format = output_format(Path::new(&spec.output), &spec.sink_options.unwrap_or_default(), Some(source.info()))?;
            let mut sink = resonode_io::open_sink(Path::new(&spec.output), format);
            let options = PipelineOptions { chunk_frames: spec.chunk_size.unwrap_or(65536) as usize };
            let shared = &self.shared;
            let stats = pipeline::run(&mut source, &mut chain, sink.as_mut(), &options, &shared.control, &mut |p: &Progress| {
                shared.frames.store(p.frames, Ordering::Relaxed);
                shared.fraction_bits.store(p.fraction.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
            })?;
            Ok(stats_to_js(&stats))
        })
    }

    fn resolve(&mut self, _: Env, out: PipelineStats) -> napi::Result<PipelineStats> {
        Ok(out)
    }
}

/// Runs a file-to-file pipeline on a worker thread.
///
/// @throws (rejects with) any resonode error; the output file stays valid
/// with everything processed before the failure.
#[napi(ts_return_type = "Promise<PipelineStats>")]
pub fn run_file_pipeline(spec: FilePipelineSpec, control: &PipelineControl) -> AsyncTask<RunTask> {
    AsyncTask::new(RunTask { spec: Some(spec), shared: control.shared.clone() })
}
