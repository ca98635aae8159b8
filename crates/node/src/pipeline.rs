//! The all-native file pipeline: FileSource -> Chain -> file sink, on a
//! worker thread, with progress readable from JS through `PipelineControl`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::pipeline::{self, Control, PipelineOptions, Progress, Stats};
use resonode_core::{Error, Sink, Source};
use resonode_device::{Backend, MicrophoneSource, SpeakerSink};
use resonode_io::{FileInfo, FileSource};

use crate::convert::{specs, ProcessorDesc};
use crate::error::guard_core;
use crate::file::{output_format, source_options, SinkOptionsDesc, SourceOptionsDesc};
use crate::realtime::{stream_config, StreamConfigDesc};

/// Where a native pipeline reads: a file, or a live input device.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SourceDesc {
    /// `file` or `microphone`.
    pub kind: String,
    /// File path (`file`).
    pub path: Option<String>,
    /// Decoding options (`file`).
    pub options: Option<SourceOptionsDesc>,
    /// Device configuration (`microphone`; `channelsOut` is forced to 0).
    pub device: Option<StreamConfigDesc>,
    /// Audio backend (`microphone`): `default` or `none`.
    pub backend: Option<String>,
    /// Stop after this many seconds (`microphone`; default: until stopped).
    pub duration_s: Option<f64>,
}

/// Where a native pipeline writes: a file, or a live output device.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SinkDesc {
    /// `file` or `speaker`.
    pub kind: String,
    /// File path (`file`).
    pub path: Option<String>,
    /// Encoding options (`file`).
    pub options: Option<SinkOptionsDesc>,
    /// Device configuration (`speaker`; sample rate and channels default to
    /// the stream's, `channelsIn` is forced to 0).
    pub device: Option<StreamConfigDesc>,
    /// Audio backend (`speaker`): `default` or `none`.
    pub backend: Option<String>,
}

/// A native pipeline job: source -> processors -> sink, all in Rust.
#[napi(object)]
pub struct NativePipelineSpec {
    pub source: SourceDesc,
    pub processors: Vec<ProcessorDesc>,
    pub sink: SinkDesc,
    /// Frames per chunk (default 65536; live sources read what is there).
    pub chunk_size: Option<u32>,
}

/// Opens a source as described.
pub fn open_source(d: &SourceDesc) -> resonode_core::Result<(Box<dyn Source>, Option<FileInfo>)> {
    match d.kind.as_str() {
        "file" => {
            let path = d.path.as_deref().ok_or_else(|| Error::param("source.path", "a file source needs a path"))?;
            let src = FileSource::open(Path::new(path), &source_options(&d.options.clone().unwrap_or_default())?)?;
            let info = src.info().clone();
            Ok((Box::new(src), Some(info)))
        }
        "microphone" => {
            let mut dev = d.device.clone().unwrap_or_default();
            dev.channels_out = Some(0);
            dev.channels_in = Some(dev.channels_in.unwrap_or(1));
            let config = stream_config(&dev)?;
            let limit = match d.duration_s {
                Some(s) if !(s.is_finite() && s > 0.0) => return Err(Error::param("durationS", "must be > 0 seconds")),
                Some(s) => Some((s * config.sample_rate as f64).round() as u64),
                None => None,
            };
            let backend = Backend::parse(d.backend.as_deref().unwrap_or("default"))?;
            Ok((Box::new(MicrophoneSource::open(config, backend, limit)?), None))
        }
        other => Err(Error::param("source.kind", format!("`{other}` is not file or microphone"))),
    }
}

/// Opens a sink as described, for a stream of `sample_rate` Hz and `channels`.
pub fn open_sink(d: &SinkDesc, sample_rate: u32, channels: usize, source_info: Option<&FileInfo>) -> resonode_core::Result<Box<dyn Sink>> {
    match d.kind.as_str() {
        "file" => {
            let path = d.path.as_deref().ok_or_else(|| Error::param("sink.path", "a file sink needs a path"))?;
            let fmt = output_format(Path::new(path), &d.options.clone().unwrap_or_default(), source_info)?;
            Ok(resonode_io::open_sink(Path::new(path), fmt))
        }
        "speaker" => {
            let mut dev = d.device.clone().unwrap_or_default();
            dev.channels_in = Some(0);
            dev.sample_rate = Some(dev.sample_rate.unwrap_or(sample_rate));
            dev.channels_out = Some(dev.channels_out.unwrap_or(channels as u32));
            let backend = Backend::parse(d.backend.as_deref().unwrap_or("default"))?;
            Ok(Box::new(SpeakerSink::new(stream_config(&dev)?, backend)))
        }
        other => Err(Error::param("sink.kind", format!("`{other}` is not file or speaker"))),
    }
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

/// Progress and stop state shared by a job and its `PipelineControl`.
#[derive(Default)]
pub struct SharedControl {
    pub control: Control,
    /// Overall fraction in [0, 1] as f64 bits; NaN when the length is unknown.
    pub fraction_bits: AtomicU64,
    pub frames: AtomicU64,
}

/// Stops a running native pipeline and reports its progress. JS polls it;
/// the worker thread never calls into JS.
#[napi]
pub struct PipelineControl {
    shared: Arc<SharedControl>,
}

#[napi]
impl PipelineControl {
    #[napi(constructor)]
    pub fn new() -> Self {
        let shared = SharedControl::default();
        shared.fraction_bits.store(0f64.to_bits(), Ordering::Relaxed);
        PipelineControl { shared: Arc::new(shared) }
    }
    /// Asks the run to stop after the current chunk; the output file is
    /// finalized with everything processed so far.
    #[napi]
    pub fn stop(&self) {
        self.shared.control.stop();
    }
    /// The shared state, for jobs other than pipelines (separation).
    pub(crate) fn shared(&self) -> Arc<SharedControl> {
        self.shared.clone()
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
    spec: Option<NativePipelineSpec>,
    shared: Arc<SharedControl>,
}

impl Task for RunTask {
    type Output = PipelineStats;
    type JsValue = PipelineStats;

    fn compute(&mut self) -> napi::Result<PipelineStats> {
        guard_core(|| {
            let spec = self.spec.take().ok_or_else(|| resonode_core::Error::Internal { message: "task ran twice".into() })?;
            // `enhance` runs only in live chains: refused here with a hint.
            let mut chain = resonode_dsp::registry::build_chain_with(
                &specs(&spec.processors)?,
                &resonode_ml::live::EnhanceKind::refused(),
            )?;
            let (mut source, info) = open_source(&spec.source)?;
            let mut sink = open_sink(&spec.sink, source.sample_rate(), source.channels(), info.as_ref())?;
            let options = PipelineOptions { chunk_frames: spec.chunk_size.unwrap_or(65536) as usize };
            let shared = &self.shared;
            let stats = pipeline::run(source.as_mut(), &mut chain, sink.as_mut(), &options, &shared.control, &mut |p: &Progress| {
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

/// Runs a native pipeline (file or microphone -> processors -> file or
/// speaker) on a worker thread.
///
/// @throws (rejects with) any resonode error; the output file stays valid
/// with everything processed before the failure.
#[napi(ts_return_type = "Promise<PipelineStats>")]
pub fn run_native_pipeline(spec: NativePipelineSpec, control: &PipelineControl) -> AsyncTask<RunTask> {
    AsyncTask::new(RunTask { spec: Some(spec), shared: control.shared.clone() })
}
