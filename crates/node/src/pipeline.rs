//! The all-native file pipeline: FileSource -> Chain -> file sink, on a
//! worker thread, with progress readable from JS through `PipelineControl`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::chain_spec::ProcessorSpec;
use resonode_core::pipeline::{self, Control, PipelineOptions, Progress, Stats};
use resonode_core::{Chain, Error, StreamSpec};

use crate::convert::{specs, ProcessorDesc};
use crate::error::guard_core;
use crate::endpoints::{open_sink, open_source, source_format, SinkDesc, SourceDesc};

/// A native pipeline job: source -> processors -> sink, all in Rust.
#[napi(object)]
pub struct NativePipelineSpec {
    pub source: SourceDesc,
    pub processors: Vec<ProcessorDesc>,
    pub sink: SinkDesc,
    /// Frames per chunk (default 65536; live sources read what is there).
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
    /// What the source read past, e.g. "the header declares N frames but
    /// only M could be decoded" (every frame that decoded was processed).
    pub warnings: Vec<String>,
    /// Frames the sink delivered at its own rate (a resampling or
    /// stem-selecting file or speaker sink), when it counts them.
    pub frames_delivered: Option<f64>,
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
        warnings: s.warnings.clone(),
        frames_delivered: s.frames_delivered.map(|f| f as f64),
    }
}

/// Progress and stop state shared by a job and its `PipelineControl`.
#[derive(Default)]
pub struct SharedControl {
    pub control: Control,
    /// Overall fraction in [0, 1] as f64 bits; NaN when the length is unknown.
    pub fraction_bits: AtomicU64,
    pub frames: AtomicU64,
    /// The stream's format, once the job knows it (0 before).
    pub sample_rate: AtomicU32,
    pub channels: AtomicU32,
}

/// Stops a running native pipeline and reports its progress. JS polls it;
/// the worker thread never calls into JS.
#[napi]
pub struct PipelineControl {
    shared: Arc<SharedControl>,
}

#[napi]
impl PipelineControl {
    #[napi(catch_unwind, constructor)]
    pub fn new() -> Self {
        let shared = SharedControl::default();
        shared.fraction_bits.store(0f64.to_bits(), Ordering::Relaxed);
        PipelineControl { shared: Arc::new(shared) }
    }
    /// Asks the run to stop after the current chunk; the output file is
    /// finalized with everything processed so far.
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.shared.control.stop();
    }
    /// The shared state, for jobs other than pipelines (separation).
    pub(crate) fn shared(&self) -> Arc<SharedControl> {
        self.shared.clone()
    }
    /// Queues `"<index>.<name>" = value`, applied before the next chunk.
    /// Once `runNativePipeline` started a job with this control, the value
    /// is checked at the call against a prepared copy of the job's chain.
    ///
    /// @throws ERR_INVALID_PARAMETER naming the path (a wrong index or name,
    /// or a value out of range for the stream, e.g. a cutoff above Nyquist);
    /// nothing is queued then
    #[napi(catch_unwind)]
    pub fn set_parameter(&self, path: String, value: f64) -> napi::Result<()> {
        guard_core(|| self.shared.control.set_parameter(path, value))
    }
    /// Completion over all passes in [0, 1], or NaN when the length is unknown.
    #[napi(catch_unwind, getter)]
    pub fn fraction(&self) -> f64 {
        f64::from_bits(self.shared.fraction_bits.load(Ordering::Relaxed))
    }
    /// Frames done in the current pass.
    #[napi(catch_unwind, getter)]
    pub fn frames(&self) -> f64 {
        self.shared.frames.load(Ordering::Relaxed) as f64
    }
    /// Frames written to the sink so far (analysis passes not counted).
    #[napi(catch_unwind, getter)]
    pub fn frames_written(&self) -> f64 {
        self.shared.control.frames() as f64
    }
    /// Chunks written to the sink so far.
    #[napi(catch_unwind, getter)]
    pub fn chunks_written(&self) -> f64 {
        self.shared.control.chunks() as f64
    }
    /// Sample rate in Hz of the stream the job processes; 0 until
    /// `runNativePipeline` read the source's format.
    #[napi(catch_unwind, getter)]
    pub fn sample_rate(&self) -> u32 {
        self.shared.sample_rate.load(Ordering::Relaxed)
    }
    /// Channels of the stream the job processes; 0 until known.
    #[napi(catch_unwind, getter)]
    pub fn channels(&self) -> u32 {
        self.shared.channels.load(Ordering::Relaxed)
    }
}

impl Default for PipelineControl {
    fn default() -> Self {
        Self::new()
    }
}

/// A chain built from `specs` as a file pipeline builds it: `enhance` runs
/// only in live chains and is refused here with a hint.
fn file_chain(specs: &[ProcessorSpec]) -> resonode_core::Result<Chain> {
    resonode_dsp::registry::build_chain_with(specs, &resonode_ml::live::EnhanceKind::refused())
}

/// A chain like the job's, prepared for a stream at `sample_rate`, that
/// validates `setParameter` values at the call. Parameter ranges depend on
/// the rate (Nyquist), not on the channel count or block size, so it is
/// prepared for one channel and one-frame blocks: it never processes audio.
fn shadow_chain(specs: &[ProcessorSpec], sample_rate: u32) -> resonode_core::Result<Chain> {
    let mut shadow = file_chain(specs)?;
    shadow.prepare(&StreamSpec { sample_rate, channels: 1, max_block_frames: 1 })?;
    Ok(shadow)
}

pub struct RunTask {
    job: Option<(NativePipelineSpec, Vec<ProcessorSpec>, Chain, u32)>,
    shared: Arc<SharedControl>,
}

impl Task for RunTask {
    type Output = PipelineStats;
    type JsValue = PipelineStats;

    fn compute(&mut self) -> napi::Result<PipelineStats> {
        guard_core(|| {
            let (spec, specs, mut chain, shadow_rate) =
                self.job.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            let (mut source, info) = open_source(&spec.source)?;
            if source.sample_rate() != shadow_rate {
                // The header told another rate than the decoder delivers:
                // check values (and those queued) against the real one.
                self.shared.control.set_shadow(shadow_chain(&specs, source.sample_rate())?)?;
            }
            self.shared.sample_rate.store(source.sample_rate(), Ordering::Relaxed);
            self.shared.channels.store(source.channels() as u32, Ordering::Relaxed);
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
/// Before it returns, on the calling thread, it builds the chain, reads the
/// source's sample rate (a file's header, or the device configuration) and
/// gives `control` a prepared copy of the chain: from then on
/// `control.setParameter` checks values at the call, and values queued on
/// `control` before are checked here.
///
/// @throws ERR_INVALID_CHAIN, ERR_INVALID_PARAMETER (a processor, or a value
/// queued on `control`, invalid for the stream), ERR_NOT_FOUND,
/// ERR_UNSUPPORTED_FORMAT, ERR_DECODE (the source's header)
/// @returns a promise that rejects with any resonode error; the output file
/// stays valid with everything processed before the failure.
#[napi(catch_unwind, ts_return_type = "Promise<PipelineStats>")]
pub fn run_native_pipeline(spec: NativePipelineSpec, control: &PipelineControl) -> napi::Result<AsyncTask<RunTask>> {
    guard_core(|| {
        let specs = specs(&spec.processors)?;
        let chain = file_chain(&specs)?;
        let (rate, channels) = source_format(&spec.source)?;
        control.shared.control.set_shadow(shadow_chain(&specs, rate)?)?;
        control.shared.sample_rate.store(rate, Ordering::Relaxed);
        control.shared.channels.store(channels, Ordering::Relaxed);
        Ok(AsyncTask::new(RunTask { job: Some((spec, specs, chain, rate)), shared: control.shared.clone() }))
    })
}
