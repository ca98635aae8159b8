//! SAM-Audio text-prompted separation (arXiv 2512.18099; the algorithm of
//! mlx-audio 0.6.2 `sts/models/sam_audio/model.py`) seen from JS: a loaded
//! model ([`NativePromptSeparator`]) whose calls run on libuv worker
//! threads, one batch (`separate`), a long input at bounded memory into
//! arrays or `target.wav` / `residual.wav` (`separateLong`), and a pulled
//! stream of blended pieces ([`NativePromptStream`], one model chunk per
//! `next()`). The maths is `resonode_ml::sam_audio`'s; this file reads the
//! inputs (files decoded and resampled to the model's rate, channels
//! averaged), converts options and results, and stops jobs.
//!
//! Options are checked on the JS thread with the core's own checks
//! ([`OdeOptions::check`], [`SamAudio::check_long_options`]) before any
//! input is decoded; inputs are read, and the text encoded, on the worker.
//!
//! Audio is mono at the model's rate (48 kHz): a file is decoded with
//! rubato resampling to that rate and its channels averaged (the
//! reference averages channels too); planar input is checked
//! ([`PlanarSource::new`]: ragged, non-finite, empty), averaged and
//! resampled likewise. Outputs are mono at the model's rate (no resampling
//! back to the input's rate).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::{AudioBuffer, Error, PlanarSource, Sink, Source};
use resonode_io::{open_sink, resample_planar, OutputFormat, SourceOptions, WavEncoding};
use resonode_ml::sam_audio::{
    noise::os_seed, read_mono, Anchor, AnchorKind, LongFileJob, LongOptions, OdeMethod, OdeOptions,
    SamAudio, SeparateOptions,
};
use resonode_ml::SeparationInput;

use crate::error::guard_core;
use crate::ml::{session_options, InferenceOptions};
use crate::pipeline::{PipelineControl, SharedControl};

/// Largest seed JS numbers hold exactly (2^53 - 1); also the mask of drawn seeds.
const MAX_SEED: u64 = (1 << 53) - 1;

/// Frames per read when averaging planar input.
const DOWNMIX_FRAMES: usize = 8192;

/// What the model is.
#[napi(object)]
pub struct PromptModelInfo {
    /// The manifest's `name`.
    pub name: String,
    /// Sample rate in Hz of input and output (48000).
    pub sample_rate: u32,
    /// Audio samples per latent frame (the codec's hop, 1920 for the released model, 240 for the tiny one).
    pub hop_length: u32,
    /// Latent channels per stem (`codebookDim`); the noise has `2 * codebookDim` channels.
    pub codebook_dim: u32,
    /// Longest input in latent frames (the transformer's RoPE positions).
    pub max_frames: u32,
}

/// One input: a file (`path`: all channels averaged, resampled to the
/// model's rate) or planar `channels` at `sampleRate`; exactly one
/// (`SeparationInput::from_parts`, as the HTDemucs separator). A file is
/// read as it is: resonode picks the rate and the channel mix itself.
#[napi(object)]
pub struct PromptInputDesc {
    pub path: Option<String>,
    /// Planar audio, channels x frames.
    pub channels: Option<Vec<Float32Array>>,
    /// Sample rate in Hz of `channels`.
    pub sample_rate: Option<u32>,
}

/// A temporal anchor: `+` (the target sounds here) or `-` (it does not), in seconds.
#[napi(object)]
#[derive(Clone)]
pub struct AnchorDesc {
    pub kind: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// The ODE solver.
#[napi(object)]
#[derive(Clone, Default)]
pub struct OdeDesc {
    /// `euler` or `midpoint` (default).
    pub method: Option<String>,
    /// In (0, 1) exclusive (default 2/32: 16 steps); `floor(1 / stepSize)` steps.
    pub step_size: Option<f64>,
}

/// Options of one `separate` batch.
#[napi(object)]
#[derive(Clone, Default)]
pub struct PromptSeparateDesc {
    /// One list per input (seconds).
    pub anchors: Option<Vec<Vec<AnchorDesc>>>,
    pub ode: Option<OdeDesc>,
    /// Decode the latents in chunks of this many frames (>= 8).
    pub decode_chunk_size: Option<u32>,
    /// A whole number in [0, 2^53); drawn from the OS when neither it nor `noise` is given.
    pub seed: Option<f64>,
}

/// Options of a long or streaming separation.
#[napi(object)]
#[derive(Clone, Default)]
pub struct PromptLongDesc {
    /// Chunk length in seconds (default 10).
    pub chunk_seconds: Option<f64>,
    /// Overlap between chunks in seconds (default 3).
    pub overlap_seconds: Option<f64>,
    pub ode: Option<OdeDesc>,
    pub decode_chunk_size: Option<u32>,
    /// Chunk i draws its noise from `seed + i` (default 42, as the reference).
    pub seed: Option<f64>,
    /// `separateLong` only: write `<outDir>/target.wav` and `<outDir>/residual.wav` (float WAV) instead of returning arrays.
    pub out_dir: Option<String>,
}

/// What a separation produced.
#[napi(object)]
pub struct PromptSeparationResult {
    /// One mono signal per input at `sampleRate` (the model's, 48 kHz; not
    /// resampled back), as long as the input at that rate (empty when
    /// written to files).
    pub targets: Vec<Float32Array>,
    /// Per input, the model's estimate of everything else, decoded from
    /// latent channels [C, 2C): mono at `sampleRate`; it does not sum with
    /// the target to the input.
    pub residuals: Vec<Float32Array>,
    /// Files written (`separateLong` with `outDir`): `[target, residual]`.
    pub paths: Option<Vec<String>>,
    pub sample_rate: u32,
    /// Frames per input at `sampleRate`.
    pub frames: Vec<f64>,
    /// The initial noise, row-major `noiseShape` = [batch, frames, 2 * codebookDim];
    /// null for `separateLong` with `outDir` (not built: chunk i's is regenerated from `seed + i`).
    pub noise: Option<Float32Array>,
    pub noise_shape: Vec<u32>,
    /// The seed the noise came from; null when noise was given.
    pub seed: Option<f64>,
    /// Peak resident set of the process since it started, in bytes (VmHWM on Linux; not per call).
    pub peak_memory_bytes: f64,
    /// Wall time in seconds (model load excluded).
    pub processing_time_s: f64,
    /// Model chunks run (long path).
    pub chunks: u32,
    /// Seconds until the first piece was final (long path).
    pub time_to_first_audio_s: Option<f64>,
    /// True when the control's stop ended the run: the arrays (or files, finalised) hold what was done.
    pub stopped: bool,
}

/// Copies a JS input (on the JS thread) into the core's input, as the
/// HTDemucs separator does ([`SeparationInput::from_parts`]).
fn input_of(d: &PromptInputDesc) -> resonode_core::Result<SeparationInput> {
    let file = d
        .path
        .as_ref()
        .map(|p| (PathBuf::from(p), SourceOptions::default()));
    let planar = d
        .channels
        .as_ref()
        .map(|ch| ch.iter().map(|c| c.to_vec()).collect());
    SeparationInput::from_parts(file, planar, None, d.sample_rate)
}

/// Averages planar channels (checked by [`PlanarSource::new`]: ragged,
/// non-finite, empty) into one, block by block, polling `cancel`.
fn downmix(
    channels: Vec<Vec<f32>>,
    sample_rate: u32,
    cancel: &dyn Fn() -> bool,
) -> resonode_core::Result<Vec<f32>> {
    let count = channels.len();
    let mut src = PlanarSource::new(channels, sample_rate)?;
    let mut mono = Vec::with_capacity(src.frames());
    let mut buf = AudioBuffer::new(count, DOWNMIX_FRAMES);
    let scale = 1.0 / count as f32;
    loop {
        if cancel() {
            return Err(stopped());
        }
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(mono);
        }
        if count == 1 {
            mono.extend_from_slice(&buf.channel(0)[..n]);
        } else {
            mono.extend((0..n).map(|i| (0..count).map(|c| buf.channel(c)[i]).sum::<f32>() * scale));
        }
    }
}

fn stopped() -> Error {
    Error::InvalidState {
        reason: "the separation was stopped".into(),
    }
}

/// The whole input, mono at `rate` (a file through the core's `read_mono`).
fn read_input(
    input: SeparationInput,
    rate: u32,
    cancel: &dyn Fn() -> bool,
) -> resonode_core::Result<Vec<f32>> {
    match input {
        SeparationInput::File { path, .. } => read_mono(&path, rate, cancel),
        SeparationInput::Planar {
            channels,
            sample_rate,
        } => {
            let mono = downmix(channels, sample_rate, cancel)?;
            if sample_rate == rate {
                return Ok(mono);
            }
            Ok(resample_planar(&[mono], sample_rate, rate)?
                .pop()
                .unwrap_or_default())
        }
        SeparationInput::Push { .. } => Err(Error::param(
            "input",
            "SAM-Audio takes a file or planar arrays, not pushed blocks",
        )),
    }
}

/// A long job over the input: a file is decoded progressively (memory
/// bounded by the chunk), an array is downmixed and resampled first.
fn long_job(
    input: SeparationInput,
    model: &Arc<SamAudio>,
    description: &str,
    options: LongOptions,
    cancel: &dyn Fn() -> bool,
) -> resonode_core::Result<LongFileJob> {
    match input {
        SeparationInput::File { path, .. } => LongFileJob::open(model, &path, description, options),
        other => {
            let mono = read_input(other, model.sample_rate(), cancel)?;
            LongFileJob::from_samples(model, mono, description, options)
        }
    }
}

/// The core's ODE options, checked by [`OdeOptions::check`] (`ode.stepSize`).
fn ode_of(d: &Option<OdeDesc>) -> resonode_core::Result<OdeOptions> {
    let mut ode = OdeOptions::default();
    if let Some(d) = d {
        if let Some(m) = &d.method {
            ode.method = m.parse::<OdeMethod>()?;
        }
        if let Some(s) = d.step_size {
            ode.step_size = s;
        }
    }
    ode.check()?;
    Ok(ode)
}

fn anchor_of(a: &AnchorDesc) -> resonode_core::Result<Anchor> {
    let kind = match a.kind.as_str() {
        "+" => AnchorKind::Positive,
        "-" => AnchorKind::Negative,
        o => {
            return Err(Error::param(
                "anchors",
                format!("an anchor's kind is '+' or '-', got '{o}'"),
            ))
        }
    };
    Ok(Anchor {
        kind,
        start_s: a.start_s,
        end_s: a.end_s,
    })
}

/// A JS seed as the core takes it: a whole number in [0, 2^53).
fn seed_of(s: Option<f64>) -> resonode_core::Result<Option<u64>> {
    match s {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SEED as f64 => {
            Ok(Some(v as u64))
        }
        Some(v) => Err(Error::param(
            "seed",
            format!("must be a whole number in [0, 2^53), got {v}"),
        )),
    }
}

/// A description must say something (the core refuses an empty one too,
/// but only once the job runs; this answers on the JS thread).
fn check_description(d: &str, name: &str) -> resonode_core::Result<()> {
    if d.trim().is_empty() {
        return Err(Error::param(
            name,
            "must describe the sound to separate, e.g. \"a man speaking\"; got an empty description",
        ));
    }
    Ok(())
}

fn decode_chunk(d: Option<u32>) -> Option<usize> {
    d.map(|v| v as usize)
}

fn noise_of(n: Option<Float32Array>) -> Option<Vec<f32>> {
    n.map(|n| n.to_vec())
}

fn empty_result(sample_rate: u32) -> PromptSeparationResult {
    PromptSeparationResult {
        targets: Vec::new(),
        residuals: Vec::new(),
        paths: None,
        sample_rate,
        frames: Vec::new(),
        noise: None,
        noise_shape: Vec::new(),
        seed: None,
        peak_memory_bytes: resonode_ml::sam_audio::peak_memory_bytes() as f64,
        processing_time_s: 0.0,
        chunks: 0,
        time_to_first_audio_s: None,
        stopped: true,
    }
}

/// A loaded SAM-Audio export (`--model-dir`), shared by every call.
#[napi]
pub struct NativePromptSeparator {
    model: Arc<SamAudio>,
}

pub struct LoadTask {
    dir: String,
    inference: InferenceOptions,
}

impl Task for LoadTask {
    type Output = NativePromptSeparator;
    type JsValue = NativePromptSeparator;

    fn compute(&mut self) -> napi::Result<NativePromptSeparator> {
        guard_core(|| {
            let session = session_options(&self.inference)?;
            let model = SamAudio::load(Path::new(&self.dir), &session)?;
            Ok(NativePromptSeparator {
                model: Arc::new(model),
            })
        })
    }

    fn resolve(
        &mut self,
        _: Env,
        out: NativePromptSeparator,
    ) -> napi::Result<NativePromptSeparator> {
        Ok(out)
    }
}

/// Loads a SAM-Audio export on a worker thread (`SamAudio::load`: the
/// manifest, the four graphs and the tokenizer, every graph's inputs and
/// outputs checked).
///
/// @throws ERR_NOT_FOUND (folder or file missing), ERR_MODEL (damaged file or manifest), ERR_MODEL_MISMATCH (graphs not of the manifest's shapes), ERR_RUNTIME_NOT_FOUND
#[napi(catch_unwind, ts_return_type = "Promise<NativePromptSeparator>")]
pub fn load_prompt_separator(
    model_dir: String,
    inference: Option<InferenceOptions>,
) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask {
        dir: model_dir,
        inference: inference.unwrap_or_default(),
    })
}

pub struct SeparateBatchTask {
    model: Arc<SamAudio>,
    inputs: Vec<Option<SeparationInput>>,
    descriptions: Vec<String>,
    /// Checked on the JS thread; `noise` and `seed` are settled by the worker.
    options: Option<SeparateOptions>,
    control: Arc<SharedControl>,
}

impl SeparateBatchTask {
    fn run(&mut self) -> resonode_core::Result<PromptSeparationResult> {
        let model = self.model.clone();
        let rate = model.sample_rate();
        let stop = || self.control.control.stop_requested();
        let mut options = self.options.take().ok_or_else(|| Error::Internal {
            message: "task ran twice".into(),
        })?;
        let mut audio = Vec::with_capacity(self.inputs.len());
        for input in &mut self.inputs {
            let input = input.take().ok_or_else(|| Error::Internal {
                message: "task ran twice".into(),
            })?;
            match read_input(input, rate, &stop) {
                Ok(a) => audio.push(a),
                Err(_) if stop() => return Ok(empty_result(rate)),
                Err(e) => return Err(e),
            }
        }
        if options.seed.is_none() && options.noise.is_none() {
            // The core's OS seed, masked so that JS holds it exactly (and it reproduces the run).
            options.seed = Some(os_seed()? & MAX_SEED);
        }
        let refs: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
        let descriptions: Vec<&str> = self.descriptions.iter().map(String::as_str).collect();
        let started = Instant::now();
        let r = match model.separate(&refs, &descriptions, &options, &stop) {
            Ok(r) => r,
            Err(_) if stop() => return Ok(empty_result(rate)),
            Err(e) => return Err(e),
        };
        Ok(PromptSeparationResult {
            frames: r.target.iter().map(|t| t.len() as f64).collect(),
            targets: r.target.into_iter().map(Float32Array::new).collect(),
            residuals: r.residual.into_iter().map(Float32Array::new).collect(),
            paths: None,
            sample_rate: rate,
            noise: Some(Float32Array::new(r.noise)),
            noise_shape: r.noise_shape.iter().map(|&d| d as u32).collect(),
            seed: r.seed.map(|s| s as f64),
            peak_memory_bytes: r.peak_memory_bytes as f64,
            processing_time_s: started.elapsed().as_secs_f64(),
            chunks: 1,
            time_to_first_audio_s: None,
            stopped: false,
        })
    }
}

impl Task for SeparateBatchTask {
    type Output = PromptSeparationResult;
    type JsValue = PromptSeparationResult;

    fn compute(&mut self) -> napi::Result<PromptSeparationResult> {
        guard_core(|| self.run())
    }

    fn resolve(
        &mut self,
        _: Env,
        out: PromptSeparationResult,
    ) -> napi::Result<PromptSeparationResult> {
        Ok(out)
    }
}

/// Options of a long separation as the core takes them, checked by the
/// core ([`SamAudio::check_long_options`]) without encoding anything.
fn long_options(
    model: &SamAudio,
    o: &PromptLongDesc,
    noise: Option<Vec<f32>>,
) -> resonode_core::Result<LongOptions> {
    let d = LongOptions::default();
    let long = LongOptions {
        chunk_seconds: o.chunk_seconds.unwrap_or(d.chunk_seconds),
        overlap_seconds: o.overlap_seconds.unwrap_or(d.overlap_seconds),
        ode: ode_of(&o.ode)?,
        decode_chunk_size: decode_chunk(o.decode_chunk_size),
        seed: seed_of(o.seed)?.unwrap_or(d.seed),
        noise,
    };
    model.check_long_options(&long)?;
    Ok(long)
}

pub struct SeparateLongTask {
    model: Arc<SamAudio>,
    input: Option<SeparationInput>,
    description: String,
    options: Option<LongOptions>,
    out_dir: Option<String>,
    control: Arc<SharedControl>,
}

impl SeparateLongTask {
    fn run(&mut self) -> resonode_core::Result<PromptSeparationResult> {
        let model = self.model.clone();
        let rate = model.sample_rate();
        let c2 = 2 * model.manifest().codebook_dim as u32;
        let control = self.control.clone();
        let stop = || control.control.stop_requested();
        let (input, options) = match (self.input.take(), self.options.take()) {
            (Some(i), Some(o)) => (i, o),
            _ => {
                return Err(Error::Internal {
                    message: "task ran twice".into(),
                })
            }
        };
        let seed = options.seed;
        let started = Instant::now();
        let mut job = match long_job(input, &model, &self.description, options, &stop) {
            Ok(j) => j,
            Err(_) if stop() => return Ok(empty_result(rate)),
            Err(e) => return Err(e),
        };
        let total = job.total_frames();
        let mut sinks: Vec<(Box<dyn Sink>, PathBuf)> = Vec::new();
        if let Some(dir) = &self.out_dir {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            for name in ["target.wav", "residual.wav"] {
                let p = dir.join(name);
                let mut sink = open_sink(&p, OutputFormat::Wav(WavEncoding::Float32));
                sink.open(rate, 1)?;
                sinks.push((sink, p));
            }
        }
        let (mut target, mut residual) = (Vec::new(), Vec::new());
        let (mut frames, mut first) = (0u64, None::<Duration>);
        let result = (|| -> resonode_core::Result<()> {
            while let Some(piece) = job.next_piece(&stop)? {
                if sinks.is_empty() {
                    target.extend_from_slice(&piece.target);
                    residual.extend_from_slice(&piece.residual);
                } else {
                    sinks[0]
                        .0
                        .write(&AudioBuffer::from_planar(&[&piece.target])?.as_block())?;
                    sinks[1]
                        .0
                        .write(&AudioBuffer::from_planar(&[&piece.residual])?.as_block())?;
                }
                frames += piece.target.len() as u64;
                first.get_or_insert_with(|| started.elapsed());
                if let Some(t) = total.filter(|&t| t > 0) {
                    control.fraction_bits.store(
                        (frames as f64 / t as f64).min(1.0).to_bits(),
                        Ordering::Relaxed,
                    );
                }
                control.frames.store(frames, Ordering::Relaxed);
                if piece.is_last || stop() {
                    break;
                }
            }
            Ok(())
        })();
        let mut finalized = Ok(());
        for (s, _) in sinks.iter_mut() {
            let r = s.finalize();
            if finalized.is_ok() {
                finalized = r;
            }
        }
        let stopped = stop();
        match result {
            Ok(()) => {}
            Err(_) if stopped => {}
            Err(e) => return Err(e),
        }
        finalized?;
        let files = !sinks.is_empty();
        let chunks = job.separator_mut().chunks_done() as u32;
        let noise_frames = job.noise_frames() as u32;
        // With files, memory stays bounded: the noise (about the input's
        // size) is not built; chunk i's is regenerated from `seed + i`.
        let noise = (!files).then(|| Float32Array::new(job.noise()));
        let peak = job.peak_memory_bytes() as f64;
        drop(job);
        Ok(PromptSeparationResult {
            targets: if files {
                Vec::new()
            } else {
                vec![Float32Array::new(target)]
            },
            residuals: if files {
                Vec::new()
            } else {
                vec![Float32Array::new(residual)]
            },
            paths: files.then(|| {
                sinks
                    .iter()
                    .map(|(_, p)| p.to_string_lossy().into_owned())
                    .collect()
            }),
            sample_rate: rate,
            frames: vec![frames as f64],
            noise_shape: vec![1, noise_frames, c2],
            noise,
            seed: Some(seed as f64),
            peak_memory_bytes: peak,
            processing_time_s: started.elapsed().as_secs_f64(),
            chunks,
            time_to_first_audio_s: first.map(|d| d.as_secs_f64()),
            stopped,
        })
    }
}

impl Task for SeparateLongTask {
    type Output = PromptSeparationResult;
    type JsValue = PromptSeparationResult;

    fn compute(&mut self) -> napi::Result<PromptSeparationResult> {
        guard_core(|| self.run())
    }

    fn resolve(
        &mut self,
        _: Env,
        out: PromptSeparationResult,
    ) -> napi::Result<PromptSeparationResult> {
        Ok(out)
    }
}

#[napi]
impl NativePromptSeparator {
    /// The model's manifest values.
    #[napi(catch_unwind, getter)]
    pub fn info(&self) -> PromptModelInfo {
        let m = self.model.manifest();
        PromptModelInfo {
            name: m.name.clone(),
            sample_rate: self.model.sample_rate(),
            hop_length: self.model.hop_length() as u32,
            codebook_dim: m.codebook_dim as u32,
            max_frames: m.max_frames as u32,
        }
    }

    /// Separates a batch (the reference's processor path: padded to the
    /// longest, one description per input) on a worker thread. The
    /// descriptions, anchor kinds, ODE and seed are checked here, before
    /// any input is read; `control` stops it within one model call or one
    /// block of decoding (then it resolves with `stopped`).
    ///
    /// @throws ERR_INVALID_PARAMETER (descriptions, anchors, ODE, seed, input too long), ERR_SHAPE (noise length, ragged channels), ERR_NON_FINITE_SAMPLE, ERR_EMPTY_AUDIO, ERR_NOT_FOUND / ERR_DECODE (files), ERR_MODEL
    #[napi(catch_unwind, ts_return_type = "Promise<PromptSeparationResult>")]
    pub fn separate(
        &self,
        inputs: Vec<PromptInputDesc>,
        descriptions: Vec<String>,
        options: PromptSeparateDesc,
        noise: Option<Float32Array>,
        control: &PipelineControl,
    ) -> napi::Result<AsyncTask<SeparateBatchTask>> {
        let (inputs, options) = guard_core(|| {
            for (i, d) in descriptions.iter().enumerate() {
                check_description(
                    d,
                    &if descriptions.len() == 1 {
                        "description".to_string()
                    } else {
                        format!("descriptions[{i}]")
                    },
                )?;
            }
            let anchors = match &options.anchors {
                None => None,
                Some(lists) => Some(
                    lists
                        .iter()
                        .map(|l| {
                            l.iter()
                                .map(anchor_of)
                                .collect::<resonode_core::Result<Vec<_>>>()
                        })
                        .collect::<resonode_core::Result<Vec<_>>>()?,
                ),
            };
            let options = SeparateOptions {
                anchors,
                ode: ode_of(&options.ode)?,
                decode_chunk_size: decode_chunk(options.decode_chunk_size),
                seed: seed_of(options.seed)?,
                noise: noise_of(noise),
            };
            let inputs = inputs
                .iter()
                .map(|i| input_of(i).map(Some))
                .collect::<resonode_core::Result<Vec<_>>>()?;
            Ok((inputs, options))
        })?;
        Ok(AsyncTask::new(SeparateBatchTask {
            model: self.model.clone(),
            inputs,
            descriptions,
            options: Some(options),
            control: control.shared(),
        }))
    }

    /// Separates one input of any length in chunks (the reference's
    /// `separate_long`, no anchors) on a worker thread, into arrays or, with
    /// `outDir`, into `target.wav` and `residual.wav` written as pieces
    /// become final (memory bounded by the chunk; `noise` is then null).
    /// Options are checked here ([`SamAudio::check_long_options`]); the
    /// input is read and the description encoded on the worker. Progress
    /// and stop through `control`; a stop resolves with `stopped` and
    /// finalised files.
    ///
    /// @throws as `separate`, plus ERR_IO / ERR_ENCODE for the files
    #[napi(catch_unwind, ts_return_type = "Promise<PromptSeparationResult>")]
    pub fn separate_long(
        &self,
        input: PromptInputDesc,
        description: String,
        options: PromptLongDesc,
        noise: Option<Float32Array>,
        control: &PipelineControl,
    ) -> napi::Result<AsyncTask<SeparateLongTask>> {
        let (input, long) = guard_core(|| {
            check_description(&description, "description")?;
            let long = long_options(&self.model, &options, noise_of(noise))?;
            Ok((input_of(&input)?, long))
        })?;
        Ok(AsyncTask::new(SeparateLongTask {
            model: self.model.clone(),
            input: Some(input),
            description,
            options: Some(long),
            out_dir: options.out_dir,
            control: control.shared(),
        }))
    }

    /// Opens a streaming separation of one input. Only the options are
    /// checked here (cheaply, [`SamAudio::check_long_options`]); the first
    /// `next()` opens the input and encodes the description on a worker
    /// thread, and each `next()` runs at most one model chunk.
    ///
    /// @throws ERR_INVALID_PARAMETER (description, options, `outDir`); input errors (ERR_NOT_FOUND, ERR_SHAPE, ERR_NON_FINITE_SAMPLE, ERR_EMPTY_AUDIO, ...) reject the first `next()`
    #[napi(catch_unwind)]
    pub fn stream(
        &self,
        input: PromptInputDesc,
        description: String,
        options: PromptLongDesc,
        noise: Option<Float32Array>,
    ) -> napi::Result<NativePromptStream> {
        guard_core(|| {
            if options.out_dir.is_some() {
                return Err(Error::param(
                    "outDir",
                    "a stream yields its pieces; use separateLong() to write files",
                ));
            }
            check_description(&description, "description")?;
            let long = long_options(&self.model, &options, noise_of(noise))?;
            let input = input_of(&input)?;
            let seed = long.seed;
            Ok(NativePromptStream {
                shared: Arc::new(StreamShared {
                    model: self.model.clone(),
                    job: Mutex::new(StreamJob::Pending {
                        input,
                        description,
                        options: long,
                    }),
                    stats: Mutex::new(StreamSnapshot {
                        seed,
                        c2: 2 * self.model.manifest().codebook_dim as u32,
                        sample_rate: self.model.sample_rate(),
                        ..StreamSnapshot::default()
                    }),
                    stop: AtomicBool::new(false),
                }),
            })
        })
    }
}

/// Where a stream's job is.
enum StreamJob {
    /// Waiting for the first `next()` to open it (on the worker).
    Pending {
        input: SeparationInput,
        description: String,
        options: LongOptions,
    },
    Open(Box<LongFileJob>),
    /// Dropped: done, failed, stopped or closed.
    Ended,
}

/// The statistics, updated after each piece under their own lock (never
/// held during a model call, so `stats()` does not wait for one).
#[derive(Default, Clone)]
struct StreamSnapshot {
    frames: u64,
    chunks: u32,
    /// Built once, when the job ends (`LongFileJob::noise`).
    noise: Option<Arc<Vec<f32>>>,
    noise_frames: usize,
    seed: u64,
    c2: u32,
    sample_rate: u32,
    /// Set once the job is open (after the input is opened and the description encoded).
    started: Option<Instant>,
    first: Option<Duration>,
    /// Processing time, fixed when the job ends.
    ended_after: Option<Duration>,
    /// The last piece was delivered.
    done: bool,
    /// Ended before its last piece (stop, abort, close).
    stopped: bool,
    /// `close()` ran: the job and its buffers are freed.
    closed: bool,
}

struct StreamShared {
    model: Arc<SamAudio>,
    job: Mutex<StreamJob>,
    stats: Mutex<StreamSnapshot>,
    stop: AtomicBool,
}

fn poisoned() -> Error {
    Error::Internal {
        message: "prompt separation stream lock poisoned by an earlier panic".into(),
    }
}

impl StreamShared {
    fn stats(&self) -> resonode_core::Result<MutexGuard<'_, StreamSnapshot>> {
        self.stats.lock().map_err(|_| poisoned())
    }

    /// Ends the job (if it is still there): records its noise and counts,
    /// then drops it (file handle, buffers, text features).
    fn end(&self, job: &mut StreamJob, stopped: bool) -> resonode_core::Result<()> {
        let ended = std::mem::replace(job, StreamJob::Ended);
        let mut s = self.stats()?;
        if let StreamJob::Open(j) = &ended {
            s.noise = Some(Arc::new(j.noise()));
            s.noise_frames = j.noise_frames();
        }
        if s.ended_after.is_none() {
            s.ended_after = Some(s.started.map_or(Duration::ZERO, |t| t.elapsed()));
            s.stopped = stopped && !s.done;
        }
        drop(s);
        drop(ended);
        Ok(())
    }
}

/// One piece of a streaming separation.
#[napi(object)]
pub struct PromptPiece {
    /// Mono target samples of this piece at the model's rate (48 kHz; not resampled back).
    pub target: Float32Array,
    /// Mono residual samples, decoded from latent channels [C, 2C) (does not sum with the target to the input).
    pub residual: Float32Array,
    /// The reference's per-piece counter (`chunk_idx` of
    /// `_separate_streaming_generator`): 0, 1, 2, ... one per piece, not
    /// the model chunk (a model chunk after the first gives two pieces).
    pub chunk_idx: u32,
    /// Whether it ends the output.
    pub is_last: bool,
    /// First frame of the piece in the output (= input at the model's rate).
    pub start_frame: f64,
    /// Seconds from the start of the separation (the first `next()`, once
    /// the input was opened and the description encoded; model load
    /// excluded) until this piece was final.
    pub time_s: f64,
}

/// What a streaming separation did (a snapshot, updated after each piece).
#[napi(object)]
pub struct PromptStreamStats {
    /// Frames delivered (the input's at the model's rate once done).
    pub total_frames: f64,
    /// Model chunks run.
    pub chunks: u32,
    /// The concatenated per-chunk noise, row-major `noiseShape` = [1, frames, 2 * codebookDim];
    /// built when the stream ends (last piece, stop or close), empty before.
    pub noise: Float32Array,
    pub noise_shape: Vec<u32>,
    pub seed: f64,
    /// Peak resident set of the process since it started, in bytes (VmHWM on Linux; not per stream).
    pub peak_memory_bytes: f64,
    /// Seconds from the start of the separation (as `PromptPiece.timeS`) to its end (or to now).
    pub processing_time_s: f64,
    pub time_to_first_audio_s: Option<f64>,
    pub sample_rate: u32,
    /// Whether the last piece was delivered.
    pub done: bool,
    /// Whether the stream ended before its last piece (stop, abort, close).
    pub stopped: bool,
    /// Whether `close()` ran (the job and its buffers are freed).
    pub closed: bool,
}

fn stats_of(s: &StreamSnapshot) -> PromptStreamStats {
    PromptStreamStats {
        total_frames: s.frames as f64,
        chunks: s.chunks,
        noise_shape: vec![1, s.noise_frames as u32, s.c2],
        noise: Float32Array::new(s.noise.as_ref().map_or_else(Vec::new, |n| n.to_vec())),
        seed: s.seed as f64,
        peak_memory_bytes: resonode_ml::sam_audio::peak_memory_bytes() as f64,
        processing_time_s: s
            .ended_after
            .or_else(|| s.started.map(|t| t.elapsed()))
            .map_or(0.0, |d| d.as_secs_f64()),
        time_to_first_audio_s: s.first.map(|d| d.as_secs_f64()),
        sample_rate: s.sample_rate,
        done: s.done,
        stopped: s.stopped,
        closed: s.closed,
    }
}

/// A streaming SAM-Audio separation, pulled one piece at a time.
#[napi]
pub struct NativePromptStream {
    shared: Arc<StreamShared>,
}

pub struct NextPieceTask {
    shared: Arc<StreamShared>,
}

impl NextPieceTask {
    fn run(&mut self) -> resonode_core::Result<Option<PromptPiece>> {
        let sh = &*self.shared;
        let mut job = sh.job.lock().map_err(|_| poisoned())?;
        let cancel = || sh.stop.load(Ordering::Relaxed);
        if cancel() {
            sh.end(&mut job, true)?;
            return Ok(None);
        }
        // The first next(): open the input and encode the description here, on the worker.
        match std::mem::replace(&mut *job, StreamJob::Ended) {
            StreamJob::Pending {
                input,
                description,
                options,
            } => match long_job(input, &sh.model, &description, options, &cancel) {
                Ok(j) => {
                    *job = StreamJob::Open(Box::new(j));
                    sh.stats()?.started = Some(Instant::now());
                }
                Err(_) if cancel() => {
                    sh.end(&mut job, true)?;
                    return Ok(None);
                }
                Err(e) => {
                    sh.end(&mut job, false)?;
                    return Err(e);
                }
            },
            other => *job = other,
        }
        let StreamJob::Open(j) = &mut *job else {
            return Ok(None);
        };
        let piece = match j.next_piece(&cancel) {
            Ok(p) => p,
            Err(_) if cancel() => None,
            Err(e) => {
                sh.end(&mut job, false)?;
                return Err(e);
            }
        };
        let Some(p) = piece else {
            sh.end(&mut job, cancel())?;
            return Ok(None);
        };
        let chunks = j.separator_mut().chunks_done() as u32;
        let noise_frames = j.noise_frames();
        let time = {
            let mut s = sh.stats()?;
            let time = s.started.map_or(Duration::ZERO, |t| t.elapsed());
            s.first.get_or_insert(time);
            s.frames += p.target.len() as u64;
            s.chunks = chunks;
            s.noise_frames = noise_frames;
            s.done = p.is_last;
            time
        };
        if p.is_last {
            sh.end(&mut job, false)?;
        }
        Ok(Some(PromptPiece {
            chunk_idx: p.chunk_idx as u32,
            is_last: p.is_last,
            start_frame: p.start_frame as f64,
            target: Float32Array::new(p.target),
            residual: Float32Array::new(p.residual),
            time_s: time.as_secs_f64(),
        }))
    }
}

impl Task for NextPieceTask {
    type Output = Option<PromptPiece>;
    type JsValue = Option<PromptPiece>;

    fn compute(&mut self) -> napi::Result<Option<PromptPiece>> {
        guard_core(|| self.run())
    }

    fn resolve(&mut self, _: Env, out: Option<PromptPiece>) -> napi::Result<Option<PromptPiece>> {
        Ok(out)
    }
}

pub struct CloseTask {
    shared: Arc<StreamShared>,
}

impl Task for CloseTask {
    type Output = PromptStreamStats;
    type JsValue = PromptStreamStats;

    fn compute(&mut self) -> napi::Result<PromptStreamStats> {
        guard_core(|| {
            let sh = &*self.shared;
            // Waits for a running next() (stopped within one model call).
            let mut job = sh.job.lock().map_err(|_| poisoned())?;
            sh.end(&mut job, true)?;
            drop(job);
            let mut s = sh.stats()?;
            s.closed = true;
            Ok(stats_of(&s))
        })
    }

    fn resolve(&mut self, _: Env, out: PromptStreamStats) -> napi::Result<PromptStreamStats> {
        Ok(out)
    }
}

#[napi]
impl NativePromptStream {
    /// Resolves with the next piece (running at most one model chunk on a
    /// worker thread; the first call also opens the input and encodes the
    /// description), or null after the last one, a stop or `close()`.
    ///
    /// @throws ERR_SHAPE, ERR_NON_FINITE_SAMPLE, ERR_EMPTY_AUDIO, ERR_NOT_FOUND / ERR_DECODE (input), ERR_INVALID_PARAMETER (input too long for the model), ERR_MODEL
    #[napi(catch_unwind, ts_return_type = "Promise<PromptPiece | null>")]
    pub fn next(&self) -> AsyncTask<NextPieceTask> {
        AsyncTask::new(NextPieceTask {
            shared: self.shared.clone(),
        })
    }

    /// Stops the run within one model call: the pending and later `next()` resolve with null.
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the run and, on a worker thread (after a running `next()`
    /// settled), ends it: builds the noise, fixes the statistics and drops
    /// the job (file handle, buffers, text features). Resolves with the
    /// final statistics; later `next()` calls resolve with null. Closing
    /// twice resolves with the same statistics.
    #[napi(catch_unwind, ts_return_type = "Promise<PromptStreamStats>")]
    pub fn close(&self) -> AsyncTask<CloseTask> {
        self.shared.stop.store(true, Ordering::Relaxed);
        AsyncTask::new(CloseTask {
            shared: self.shared.clone(),
        })
    }

    /// Whether `close()` has run (the job is freed).
    #[napi(catch_unwind, getter)]
    pub fn closed(&self) -> napi::Result<bool> {
        guard_core(|| Ok(self.shared.stats()?.closed))
    }

    /// Statistics so far: a snapshot updated after each piece (never waits
    /// for a running model call).
    #[napi(catch_unwind)]
    pub fn stats(&self) -> napi::Result<PromptStreamStats> {
        guard_core(|| Ok(stats_of(&*self.shared.stats()?)))
    }
}
