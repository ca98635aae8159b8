//! Music source separation (HTDemucs exported to ONNX) on worker threads:
//! whole signals (`separate`), long inputs at bounded memory into memory or
//! stem files (`separateLong`, `separateFile`, with progress and stop through
//! `PipelineControl`). The jobs are `resonode_ml::separation`'s; this file
//! only converts JS descriptions and results and moves the work off the JS
//! thread. The streaming form is in `separation_stream.rs`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::{Error, Progress};
use resonode_ml::chunker::Crossfade;
use resonode_ml::htdemucs::{normalization_stats, Normalization};
use resonode_ml::ActivationMemory;
use resonode_ml::separation::{self, Separated, SeparationConfig, SeparationInput, StemFiles, StemFormat};

use crate::error::guard_core;
use crate::file::{source_options, SourceOptionsDesc};
use crate::ml::{session_options, wav_encoding, InferenceOptions};
use crate::pipeline::{PipelineControl, SharedControl};

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
    /// Segment length in seconds, in (0, the model's segment] (default: the
    /// model's own, e.g. 7.8 s; demucs' `--segment`). Longer is refused with
    /// ERR_INVALID_PARAMETER naming the model's segment.
    pub segment_s: Option<f64>,
    /// Overlap ratio between segments (default 0.25).
    pub overlap: Option<f64>,
    /// `triangular` (default, as demucs apply_model) or `cosine`.
    pub crossfade: Option<String>,
    /// Give each model call's intermediate tensors (about 1.2 GB for a 7.8 s
    /// segment) back to the system after the call instead of keeping them for
    /// the next (default false): the process holds about the weights between
    /// calls, at the cost of fresh page faults in every call (about +40 % CPU
    /// time for the full-size model here, bench/RESULTS.md e.2). The peak during a call drops less
    /// (about 15 %). Stems are identical either way.
    pub low_memory: Option<bool>,
    pub inference: Option<InferenceOptions>,
}

/// What a separation into files did.
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
    /// True when `stop()` ended the run early; the files hold the
    /// `framesProcessed` frames separated until then.
    pub stopped: bool,
}

/// demucs' `Separator` input normalisation.
#[napi(object)]
#[derive(Clone, Default)]
pub struct NormalizationDesc {
    /// `global` (default: statistics of the whole input, as demucs),
    /// `fixed` (`mean`, `std` given) or `off`.
    pub mode: String,
    pub mean: Option<f64>,
    pub std: Option<f64>,
}

/// How a separation runs.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SeparationOptionsDesc {
    /// An HTDemucs ONNX export; `name.0.onnx`, `name.1.onnx`, ... load as a bag.
    pub model: String,
    /// Overlap ratio between segments in [0, 1) (default 0.25).
    pub overlap: Option<f64>,
    /// Overlap in seconds (converted to a ratio of the segment); exclusive
    /// with `overlap`.
    pub overlap_s: Option<f64>,
    /// `triangular` (default, as demucs apply_model) or `cosine`.
    pub crossfade: Option<String>,
    /// Segment length in seconds, in (0, the model's segment] (default: the
    /// model's own); a shorter one is zero-padded to the export's fixed
    /// length for each model call and the output cut back, as HTDemucs does.
    pub segment_s: Option<f64>,
    pub normalization: Option<NormalizationDesc>,
    /// As [`SeparateSpec::low_memory`].
    pub low_memory: Option<bool>,
    pub inference: Option<InferenceOptions>,
}

/// Where a separation reads. Exactly one of `path` or planar channels
/// (passed beside this object) or `pushChannels` (streaming only).
#[napi(object)]
#[derive(Clone, Default)]
pub struct SeparationInputDesc {
    /// A file: WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC.
    pub path: Option<String>,
    /// How the file is decoded (resampling, channel selection).
    pub source_options: Option<SourceOptionsDesc>,
    /// Sample rate of planar channels or pushed blocks in Hz.
    pub sample_rate: Option<u32>,
    /// Streaming only: blocks of this many channels will be pushed.
    pub push_channels: Option<u32>,
}

/// Reads the input description on the JS thread (copying arrays).
pub fn input_of(
    desc: &SeparationInputDesc,
    channels: Option<Vec<Float32Array>>,
) -> resonode_core::Result<SeparationInput> {
    let file = match &desc.path {
        Some(path) => Some((PathBuf::from(path), source_options(&desc.source_options.clone().unwrap_or_default())?)),
        None => None,
    };
    let planar = channels.map(|ch| ch.iter().map(|c| c.to_vec()).collect());
    SeparationInput::from_parts(file, planar, desc.push_channels.map(|n| n as usize), desc.sample_rate)
}

fn normalization(d: &Option<NormalizationDesc>) -> resonode_core::Result<Normalization> {
    let Some(d) = d else { return Ok(Normalization::Global) };
    match d.mode.as_str() {
        "global" => Ok(Normalization::Global),
        "off" => Ok(Normalization::Off),
        "fixed" => match (d.mean, d.std) {
            (Some(mean), Some(std)) => Ok(Normalization::Fixed { mean: mean as f32, std: std as f32 }),
            _ => Err(Error::param("normalization", "fixed normalisation needs a `mean` and a `std`")),
        },
        o => Err(Error::param("normalization", format!("`{o}` is not global, fixed or off"))),
    }
}

/// The separation options as resonode-ml takes them.
pub fn config_of(o: &SeparationOptionsDesc) -> resonode_core::Result<SeparationConfig> {
    let mut session = session_options(&o.inference.clone().unwrap_or_default())?;
    if o.low_memory == Some(true) {
        session.activations = ActivationMemory::Released;
    }
    Ok(SeparationConfig {
        model: PathBuf::from(&o.model),
        session,
        overlap: o.overlap,
        overlap_seconds: o.overlap_s,
        crossfade: o.crossfade.as_deref().map(Crossfade::parse).transpose()?.unwrap_or_default(),
        segment_seconds: o.segment_s,
        normalization: normalization(&o.normalization)?,
    })
}

fn planar_to_js(x: Vec<Vec<f32>>) -> Vec<Float32Array> {
    x.into_iter().map(Float32Array::new).collect()
}

/// Separated audio in memory (or, with `outDir`, the files written).
#[napi(object)]
pub struct SeparatedAudio {
    /// stems x channels x frames (empty when written to files).
    pub stems: Vec<Vec<Float32Array>>,
    /// Stem names, in the order of `stems` / `paths`.
    pub stem_names: Vec<String>,
    /// Sample rate of the stems in Hz (the input's).
    pub sample_rate: u32,
    /// Frames per stem (= input frames).
    pub frames: f64,
    /// Wall time of the separation (model load excluded).
    pub processing_time_s: f64,
    /// Audio seconds per processing second.
    pub realtime_factor: f64,
    /// Seconds until the first region was final (bounded-memory runs).
    pub time_to_first_audio_s: Option<f64>,
    /// Model calls (bounded-memory runs).
    pub chunks: Option<u32>,
    /// Files written (when an output directory was given).
    pub paths: Option<Vec<String>>,
    /// True when `stop()` ended a bounded-memory run early: the stems (or
    /// files, finalised) hold the `frames` separated until then.
    pub stopped: bool,
}

fn to_js(r: Separated) -> SeparatedAudio {
    SeparatedAudio {
        realtime_factor: r.realtime_factor(),
        stems: r.stems.into_iter().map(planar_to_js).collect(),
        stem_names: r.stem_names,
        sample_rate: r.sample_rate,
        frames: r.frames as f64,
        processing_time_s: r.processing_time.as_secs_f64(),
        time_to_first_audio_s: r.time_to_first_audio.map(|d| d.as_secs_f64()),
        chunks: r.chunks.map(|c| c as u32),
        paths: r.paths.map(|p| p.iter().map(|p| p.to_string_lossy().into_owned()).collect()),
        stopped: r.stopped,
    }
}

pub struct SeparateWholeTask {
    input: Option<SeparationInput>,
    options: SeparationOptionsDesc,
}

impl Task for SeparateWholeTask {
    type Output = SeparatedAudio;
    type JsValue = SeparatedAudio;

    fn compute(&mut self) -> napi::Result<SeparatedAudio> {
        guard_core(|| {
            let input = self.input.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            separation::separate(input, &config_of(&self.options)?).map(to_js)
        })
    }

    fn resolve(&mut self, _: Env, out: SeparatedAudio) -> napi::Result<SeparatedAudio> {
        Ok(out)
    }
}

/// Separates a whole signal at once (demucs' `Separator.separate_tensor`):
/// the input is resampled to the model's rate as a whole, its statistics
/// normalise it, and the stems come back at the input's rate and length.
///
/// @throws ERR_INVALID_PARAMETER, ERR_SHAPE, ERR_NON_FINITE_SAMPLE, ERR_EMPTY_AUDIO, ERR_NOT_FOUND, ERR_DECODE, ERR_MODEL, ERR_MODEL_MISMATCH, ERR_RUNTIME_NOT_FOUND
#[napi(catch_unwind, ts_return_type = "Promise<SeparatedAudio>")]
pub fn separate(
    input: SeparationInputDesc,
    channels: Option<Vec<Float32Array>>,
    options: SeparationOptionsDesc,
) -> napi::Result<AsyncTask<SeparateWholeTask>> {
    let input = guard_core(|| input_of(&input, channels))?;
    Ok(AsyncTask::new(SeparateWholeTask { input: Some(input), options }))
}

/// Where `separateLong` writes stems instead of returning them.
#[napi(object)]
#[derive(Clone, Default)]
pub struct StemFilesDesc {
    /// Directory (created if missing); files are `<outDir>/<stem>.<format>`.
    pub out_dir: String,
    /// Stems to write (default: all the model's sources).
    pub stems: Option<Vec<String>>,
    /// `wav` (default) or `flac`.
    pub format: Option<String>,
    /// Sample encoding, as a FileSink's (default: like the input file, else float32 WAV / int24 FLAC).
    pub encoding: Option<String>,
}

fn files_of(f: &StemFilesDesc) -> resonode_core::Result<StemFiles> {
    Ok(StemFiles {
        out_dir: PathBuf::from(&f.out_dir),
        stems: f.stems.clone(),
        format: f.format.as_deref().map(StemFormat::parse).transpose()?.unwrap_or_default(),
        encoding: wav_encoding(f.encoding.as_deref())?,
    })
}

/// `separation::separate_long` with progress into `control`.
fn run_long(
    input: SeparationInput,
    options: &SeparationOptionsDesc,
    files: Option<&StemFilesDesc>,
    control: &SharedControl,
) -> resonode_core::Result<Separated> {
    let files = files.map(files_of).transpose()?;
    separation::separate_long(input, &config_of(options)?, files.as_ref(), &control.control, |p: Progress| {
        control.frames.store(p.frames, Ordering::Relaxed);
        control.fraction_bits.store(p.fraction.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
    })
}

pub struct SeparateLongTask {
    input: Option<SeparationInput>,
    options: SeparationOptionsDesc,
    files: Option<StemFilesDesc>,
    control: Arc<SharedControl>,
}

impl Task for SeparateLongTask {
    type Output = SeparatedAudio;
    type JsValue = SeparatedAudio;

    fn compute(&mut self) -> napi::Result<SeparatedAudio> {
        guard_core(|| {
            let input = self.input.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            run_long(input, &self.options, self.files.as_ref(), &self.control).map(to_js)
        })
    }

    fn resolve(&mut self, _: Env, out: SeparatedAudio) -> napi::Result<SeparatedAudio> {
        Ok(out)
    }
}

/// Separates a file or planar input of any length at bounded working
/// memory (`apply_model`'s chunking, two passes for global normalisation),
/// returning the stems or, with `files`, writing one file per stem. Progress
/// and stop through `control`: a stop resolves (with `stopped`) with what
/// was separated until then, the files finalised, like a stopped pipeline.
///
/// @throws as `separate`, plus ERR_IO / ERR_ENCODE for the files
#[napi(catch_unwind, ts_return_type = "Promise<SeparatedAudio>")]
pub fn separate_long(
    input: SeparationInputDesc,
    channels: Option<Vec<Float32Array>>,
    options: SeparationOptionsDesc,
    files: Option<StemFilesDesc>,
    control: &PipelineControl,
) -> napi::Result<AsyncTask<SeparateLongTask>> {
    let input = guard_core(|| input_of(&input, channels))?;
    Ok(AsyncTask::new(SeparateLongTask { input: Some(input), options, files, control: control.shared() }))
}

pub struct SeparateTask {
    spec: SeparateSpec,
    control: Arc<SharedControl>,
}

impl Task for SeparateTask {
    type Output = SeparateResult;
    type JsValue = SeparateResult;

    fn compute(&mut self) -> napi::Result<SeparateResult> {
        guard_core(|| {
            let spec = &self.spec;
            let options = SeparationOptionsDesc {
                model: spec.model.clone(),
                overlap: spec.overlap,
                crossfade: spec.crossfade.clone(),
                segment_s: spec.segment_s,
                low_memory: spec.low_memory,
                inference: spec.inference.clone(),
                ..SeparationOptionsDesc::default()
            };
            let files =
                StemFilesDesc { out_dir: spec.out_dir.clone(), stems: spec.stems.clone(), ..StemFilesDesc::default() };
            let input = SeparationInput::File {
                path: PathBuf::from(&spec.input),
                options: source_options(&spec.source_options.clone().unwrap_or_default())?,
            };
            let r = run_long(input, &options, Some(&files), &self.control)?;
            Ok(SeparateResult {
                realtime_factor: r.realtime_factor(),
                stems: r.paths.unwrap_or_default().iter().map(|p| p.to_string_lossy().into_owned()).collect(),
                stem_names: r.stem_names,
                frames_processed: r.frames as f64,
                sample_rate: r.sample_rate,
                processing_time_s: r.processing_time.as_secs_f64(),
                time_to_first_audio_s: r.time_to_first_audio.map(|d| d.as_secs_f64()),
                chunks: r.chunks.unwrap_or(0) as u32,
                stopped: r.stopped,
            })
        })
    }

    fn resolve(&mut self, _: Env, out: SeparateResult) -> napi::Result<SeparateResult> {
        Ok(out)
    }
}

/// Separates `input` into stem files on a worker thread (bounded memory:
/// the file is streamed through the chunker), reporting progress through
/// `control`; a stop resolves with `stopped` and finalised files.
///
/// @throws ERR_RUNTIME_NOT_FOUND, ERR_MODEL, ERR_MODEL_MISMATCH, ERR_NOT_FOUND, ERR_DECODE, ERR_INVALID_PARAMETER
#[napi(catch_unwind, ts_return_type = "Promise<SeparateResult>")]
pub fn separate_file(spec: SeparateSpec, control: &PipelineControl) -> AsyncTask<SeparateTask> {
    AsyncTask::new(SeparateTask { spec, control: control.shared() })
}

/// demucs' `Separator` statistics of a signal (channels x frames): the mean
/// and the unbiased standard deviation (+ 1e-8) of the channel mean. What
/// `normalization: { mean, std }` takes for a stream.
#[napi(object)]
pub struct NormalizationStats {
    pub mean: f64,
    pub std: f64,
}

/// Computes [`NormalizationStats`] of planar audio.
///
/// @throws ERR_EMPTY_AUDIO for no channels or frames, ERR_SHAPE for ragged channels
#[napi(catch_unwind)]
pub fn separation_normalization_stats(channels: Vec<Float32Array>) -> napi::Result<NormalizationStats> {
    guard_core(|| {
        let frames = channels.first().map_or(0, |c| c.len());
        if frames == 0 {
            return Err(Error::EmptyAudio { reason: "no channels or no frames".into() });
        }
        if channels.iter().any(|c| c.len() != frames) {
            return Err(Error::shape("channels differ in length"));
        }
        let slices: Vec<&[f32]> = channels.iter().map(|c| &c[..]).collect();
        let (mean, std) = normalization_stats(&slices);
        Ok(NormalizationStats { mean: f64::from(mean), std: f64::from(std) })
    })
}
