//! Music source separation (HTDemucs exported to ONNX) on worker threads:
//! whole signals (`separate`), long inputs at bounded memory into memory or
//! stem files (`separateLong`, `separateFile`, with progress and stop through
//! `PipelineControl`). The streaming form is in `separation_stream.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::{AudioBuffer, Error, PlanarSource, Sink, Source};
use resonode_io::{FileInfo, FileSource, OutputFormat, SourceOptions};
use resonode_ml::chunker::{concat_regions, Crossfade, LongOptions, Region};
use resonode_ml::htdemucs::{normalization_stats, HtDemucs, Normalization, SeparateOptions};

use crate::error::guard_core;
use crate::file::{output_format, source_options, SinkOptionsDesc, SourceOptionsDesc};
use crate::ml::{session_options, InferenceOptions};
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
    /// Segment length in seconds (default: the model's own; HTDemucs exports
    /// have a fixed segment, so only that value works for them).
    pub segment_s: Option<f64>,
    /// Overlap ratio between segments (default 0.25).
    pub overlap: Option<f64>,
    /// `triangular` (default, as demucs apply_model) or `cosine`.
    pub crossfade: Option<String>,
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
    /// Overlap in seconds (converted to a ratio of the model's segment);
    /// exclusive with `overlap`.
    pub overlap_s: Option<f64>,
    /// `triangular` (default, as demucs apply_model) or `cosine`.
    pub crossfade: Option<String>,
    /// Segment length in seconds; only the model's own is accepted.
    pub segment_s: Option<f64>,
    pub normalization: Option<NormalizationDesc>,
    pub inference: Option<InferenceOptions>,
}

/// Where a separation reads. Exactly one of `path` or planar channels
/// (passed beside this object) or `pushChannels` (streaming only).
#[napi(object)]
#[derive(Clone, Default)]
pub struct SeparationInputDesc {
    /// A file: WAV, FLAC, MP3 or Ogg Vorbis.
    pub path: Option<String>,
    /// How the file is decoded (resampling, channel selection).
    pub source_options: Option<SourceOptionsDesc>,
    /// Sample rate of planar channels or pushed blocks in Hz.
    pub sample_rate: Option<u32>,
    /// Streaming only: blocks of this many channels will be pushed.
    pub push_channels: Option<u32>,
}

/// Input as the worker threads take it (arrays already copied out of JS).
pub enum Input {
    File(PathBuf, SourceOptions),
    Planar(Vec<Vec<f32>>, u32),
    Push(usize, u32),
}

/// Reads the input description on the JS thread (copying arrays).
pub fn input_of(desc: &SeparationInputDesc, channels: Option<Vec<Float32Array>>) -> resonode_core::Result<Input> {
    let given = usize::from(desc.path.is_some()) + usize::from(channels.is_some()) + usize::from(desc.push_channels.is_some());
    if given != 1 {
        return Err(Error::param("input", "give exactly one of a file path, a FileSource, planar Float32Array[] or a block stream"));
    }
    let rate = |what: &str| match desc.sample_rate {
        Some(r) if r > 0 => Ok(r),
        _ => Err(Error::param("sampleRate", format!("{what} needs a sample rate in Hz > 0"))),
    };
    if let Some(path) = &desc.path {
        return Ok(Input::File(PathBuf::from(path), source_options(&desc.source_options.clone().unwrap_or_default())?));
    }
    if let Some(ch) = channels {
        return Ok(Input::Planar(ch.iter().map(|c| c.to_vec()).collect(), rate("planar input")?));
    }
    let n = desc.push_channels.unwrap_or(0) as usize;
    Ok(Input::Push(n, rate("a block stream")?))
}

/// A source with the header of its file (`None` for arrays).
pub type OpenedSource = (Box<dyn Source>, Option<FileInfo>);

impl Input {
    /// The input as a source (with the file's header, whose encoding stem
    /// files take by default), or `None` for pushed blocks.
    pub fn open(self) -> resonode_core::Result<Option<OpenedSource>> {
        Ok(match self {
            Input::File(path, opts) => {
                let src = FileSource::open(&path, &opts)?;
                let info = src.info().clone();
                Some((Box::new(src), Some(info)))
            }
            Input::Planar(x, rate) => Some((Box::new(PlanarSource::new(x, rate)?), None)),
            Input::Push(..) => None,
        })
    }
}

fn normalization(d: &Option<NormalizationDesc>) -> resonode_core::Result<Normalization> {
    let Some(d) = d else { return Ok(Normalization::Global) };
    match d.mode.as_str() {
        "global" => Ok(Normalization::Global),
        "off" => Ok(Normalization::Off),
        "fixed" => match (d.mean, d.std) {
            (Some(mean), Some(std)) if mean.is_finite() && std.is_finite() && std > 0.0 => {
                Ok(Normalization::Fixed { mean: mean as f32, std: std as f32 })
            }
            _ => Err(Error::param("normalization", "fixed normalisation needs a finite `mean` and a `std` > 0")),
        },
        o => Err(Error::param("normalization", format!("`{o}` is not global, fixed or off"))),
    }
}

/// The options that do not depend on the model (`overlapS` is resolved by
/// [`load_model`]).
pub fn separate_options(o: &SeparationOptionsDesc) -> resonode_core::Result<SeparateOptions> {
    let mut opts = SeparateOptions { normalization: normalization(&o.normalization)?, ..SeparateOptions::default() };
    if o.overlap.is_some() && o.overlap_s.is_some() {
        return Err(Error::param("overlap", "give `overlap` (a ratio) or `overlapSeconds`, not both"));
    }
    if let Some(v) = o.overlap {
        opts.overlap = v;
    }
    match o.crossfade.as_deref() {
        None | Some("triangular") => {}
        Some("cosine") => opts.crossfade = Crossfade::RaisedCosine,
        Some(c) => return Err(Error::param("crossfade", format!("`{c}` is not triangular or cosine"))),
    }
    Ok(opts)
}

/// Loads the model and checks the options that depend on it (segment,
/// overlap in seconds), completing `opts`.
pub fn load_model(o: &SeparationOptionsDesc, opts: &mut SeparateOptions) -> resonode_core::Result<HtDemucs> {
    let model = HtDemucs::load(Path::new(&o.model), &session_options(&o.inference.clone().unwrap_or_default())?)?;
    let seg_s = model.segment() as f64 / model.sample_rate() as f64;
    if let Some(s) = o.segment_s {
        let frames = (s * model.sample_rate() as f64).round() as usize;
        if frames != model.segment() {
            return Err(Error::param(
                "segment",
                format!("this model was exported for {seg_s:.2} s segments ({} frames); got {s} s", model.segment()),
            ));
        }
    }
    if let Some(s) = o.overlap_s {
        if !(s.is_finite() && s >= 0.0 && s < seg_s) {
            return Err(Error::param("overlapSeconds", format!("must be in [0, {seg_s:.2}) s (the segment), got {s}")));
        }
        opts.overlap = s / seg_s;
    }
    Ok(model)
}

/// Indices of the wanted stems (all when `names` is `None`).
fn wanted_stems(sources: &[String], names: &Option<Vec<String>>) -> resonode_core::Result<Vec<usize>> {
    match names {
        None => Ok((0..sources.len()).collect()),
        Some(names) => names
            .iter()
            .map(|n| {
                sources.iter().position(|s| s == n).ok_or_else(|| {
                    Error::param("stems", format!("`{n}` is not a source of this model ({})", sources.join(", ")))
                })
            })
            .collect(),
    }
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
}

fn rtf(frames: u64, rate: u32, secs: f64) -> f64 {
    if secs > 0.0 {
        frames as f64 / rate as f64 / secs
    } else {
        0.0
    }
}

pub struct SeparateWholeTask {
    input: Option<Input>,
    options: SeparationOptionsDesc,
}

impl Task for SeparateWholeTask {
    type Output = SeparatedAudio;
    type JsValue = SeparatedAudio;

    fn compute(&mut self) -> napi::Result<SeparatedAudio> {
        guard_core(|| {
            let input = self.input.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            let mut opts = separate_options(&self.options)?;
            let (x, rate) = match input {
                Input::Planar(x, rate) => (x, rate),
                Input::File(path, so) => {
                    let mut src = FileSource::open(&path, &so)?;
                    let mut x = vec![Vec::new(); src.channels()];
                    let mut buf = AudioBuffer::new(src.channels(), 65536);
                    while src.read(&mut buf)? > 0 {
                        for (c, ch) in x.iter_mut().enumerate() {
                            ch.extend_from_slice(buf.channel(c));
                        }
                    }
                    (x, src.sample_rate())
                }
                Input::Push(..) => return Err(Error::param("input", "separate() needs the whole input; stream blocks with separateStreaming()")),
            };
            let mut model = load_model(&self.options, &mut opts)?;
            let t = Instant::now();
            let stems = model.separate(&x, rate, &opts)?;
            let secs = t.elapsed().as_secs_f64();
            let frames = x[0].len() as u64;
            Ok(SeparatedAudio {
                stems: stems.into_iter().map(planar_to_js).collect(),
                stem_names: model.sources().to_vec(),
                sample_rate: rate,
                frames: frames as f64,
                processing_time_s: secs,
                realtime_factor: rtf(frames, rate, secs),
                time_to_first_audio_s: None,
                chunks: None,
                paths: None,
            })
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
#[napi(ts_return_type = "Promise<SeparatedAudio>")]
pub fn separate(input: SeparationInputDesc, channels: Option<Vec<Float32Array>>, options: SeparationOptionsDesc) -> napi::Result<AsyncTask<SeparateWholeTask>> {
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

/// A bounded-memory separation of `source` into memory or files; the one
/// implementation behind `separateLong` and `separateFile`.
fn run_long(
    source: &mut dyn Source,
    source_info: Option<&FileInfo>,
    options: &SeparationOptionsDesc,
    files: Option<&StemFilesDesc>,
    control: &SharedControl,
) -> resonode_core::Result<SeparatedAudio> {
    let mut opts = separate_options(options)?;
    let mut model = load_model(options, &mut opts)?;
    let sources = model.sources().to_vec();
    let wanted = wanted_stems(&sources, &files.and_then(|f| f.stems.clone()))?;
    let rate = source.sample_rate();
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(f) = files {
        std::fs::create_dir_all(&f.out_dir).map_err(|e| Error::Io { path: f.out_dir.clone(), reason: e.to_string() })?;
        let ext = match f.format.as_deref() {
            None | Some("wav") => "wav",
            Some("flac") => "flac",
            Some(o) => return Err(Error::param("format", format!("`{o}` is not wav or flac"))),
        };
        let sink_opts = SinkOptionsDesc { encoding: f.encoding.clone() };
        for &i in &wanted {
            let p = Path::new(&f.out_dir).join(format!("{}.{ext}", sources[i]));
            let fmt: OutputFormat = output_format(&p, &sink_opts, source_info)?;
            let mut sink = resonode_io::open_sink(&p, fmt);
            sink.open(rate, model.info().channels)?;
            sinks.push(sink);
            paths.push(p);
        }
    }
    let mut regions: Vec<Region> = Vec::new();
    let result = model.separate_long(
        source,
        &opts,
        &LongOptions::default(),
        |region| {
            if control.control.stop_requested() {
                return Err(Error::InvalidState { reason: "stopped".into() });
            }
            if sinks.is_empty() {
                regions.push(region);
                return Ok(());
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
    let stems = if files.is_some() {
        Vec::new()
    } else {
        let mut all = concat_regions(regions);
        wanted.iter().map(|&i| planar_to_js(std::mem::take(&mut all[i]))).collect()
    };
    Ok(SeparatedAudio {
        stems,
        stem_names: wanted.iter().map(|&i| sources[i].clone()).collect(),
        sample_rate: rate,
        frames: stats.frames_out as f64,
        processing_time_s: secs,
        realtime_factor: rtf(stats.frames_out, rate, secs),
        time_to_first_audio_s: stats.time_to_first_audio.map(|d| d.as_secs_f64()),
        chunks: Some(stats.chunks as u32),
        paths: files.map(|_| paths.iter().map(|p| p.to_string_lossy().into_owned()).collect()),
    })
}

pub struct SeparateLongTask {
    input: Option<Input>,
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
            let (mut source, info) = input.open()?.ok_or_else(|| {
                Error::param("input", "separateLong() reads its input itself; stream blocks with separateStreaming()")
            })?;
            run_long(source.as_mut(), info.as_ref(), &self.options, self.files.as_ref(), &self.control)
        })
    }

    fn resolve(&mut self, _: Env, out: SeparatedAudio) -> napi::Result<SeparatedAudio> {
        Ok(out)
    }
}

/// Separates a file or planar input of any length at bounded working
/// memory (`apply_model`'s chunking, two passes for global normalisation),
/// returning the stems or, with `files`, writing one file per stem. Progress
/// and stop through `control`.
///
/// @throws as `separate`, plus ERR_IO / ERR_ENCODE for the files
#[napi(ts_return_type = "Promise<SeparatedAudio>")]
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
                inference: spec.inference.clone(),
                ..SeparationOptionsDesc::default()
            };
            let files = StemFilesDesc { out_dir: spec.out_dir.clone(), stems: spec.stems.clone(), ..StemFilesDesc::default() };
            let mut source = FileSource::open(Path::new(&spec.input), &source_options(&spec.source_options.clone().unwrap_or_default())?)?;
            let info = source.info().clone();
            let r = run_long(&mut source, Some(&info), &options, Some(&files), &self.control)?;
            Ok(SeparateResult {
                stems: r.paths.unwrap_or_default(),
                stem_names: r.stem_names,
                frames_processed: r.frames,
                sample_rate: r.sample_rate,
                processing_time_s: r.processing_time_s,
                realtime_factor: r.realtime_factor,
                time_to_first_audio_s: r.time_to_first_audio_s,
                chunks: r.chunks.unwrap_or(0),
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
#[napi]
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
