//! HTDemucs (Hybrid Transformer Demucs, Rouard et al. 2023; the `demucs`
//! PyPI package, v4) music source separation: drums, bass, other, vocals
//! (and guitar, piano for `htdemucs_6s`).
//!
//! # The model file
//! An ONNX export made by `scripts/export_htdemucs.py` (see
//! `docs/htdemucs.md`): the network of `HTDemucs.forward` without its
//! STFT/iSTFT, which resonode computes in Rust ([`HtdemucsSpec`]). One call
//! takes one segment of `L` frames (343980 = 7.8 s at 44.1 kHz for the
//! released models):
//!
//! | tensor | shape | meaning |
//! |---|---|---|
//! | input `mix` | `[1, C, L]` | the waveform segment |
//! | input `mag` | `[1, 2C, nfft/2, ceil(L/hop)]` | `HTDemucs._spec(mix)` as complex-as-channels: channel `2c` = Re, `2c+1` = Im of audio channel `c` |
//! | output `time` | `[1, S, C, L]` | time-branch waveform per source |
//! | output `freq` | `[1, S, 2C, nfft/2, ceil(L/hop)]` | frequency-branch spectrogram per source, same layout as `mag` |
//!
//! Source `s`, channel `c` of the segment is
//! `time[s, c] + _ispec(freq[s, 2c] + i freq[s, 2c+1], L)`. Inputs and
//! outputs are found by these names, or else by rank (3 and 4 for the
//! inputs, 4 and 5 for the outputs), so other exports of the same cut (as
//! in the reference C++ ports) load too. Metadata written by the export
//! script (`resonode.sources`, `resonode.samplerate`, ...) names the
//! sources; without it 4 sources are `drums, bass, other, vocals`, 6 add
//! `guitar, piano`, and the rate is 44100 Hz. Bags of models
//! (`htdemucs_ft`: one specialised model per source) are exported as one
//! file per model, `name.0.onnx`, `name.1.onnx`, ... with their per-source
//! weights in the metadata; [`HtDemucs::load`] picks up the whole bag.
//! resonode weights the members' outputs per segment, where demucs'
//! `apply_model` runs each member over the whole input and weights after:
//! the crossfade is linear, so both agree to rounding.
//!
//! # What a separation does (demucs' `Separator.separate_tensor` with `shifts=0`)
//! 1. Channels are matched to the model's (mono is duplicated, extra
//!    channels dropped, as demucs' `convert_audio_channels`) and the audio
//!    is resampled to the model rate with `resonode-io`'s resampler.
//! 2. Input normalisation ([`Normalization::Global`], the default): with
//!    `ref` the mean over channels, `mean = mean(ref)`, `std = std(ref) + 1e-8`
//!    (unbiased), the model sees `(x - mean) / std` and the stems are
//!    multiplied back by `std` and shifted by `mean`.
//! 3. The chunking of `demucs.apply.apply_model` ([`crate::chunker`]):
//!    segment `L`, overlap 0.25, triangular crossfade with transition power 1,
//!    the last partial chunk padded with real neighbouring audio. A shorter
//!    segment `S <= L` ([`SeparateOptions::segment`], `apply_model(...,
//!    segment=s)`) chunks by `S` and each chunk of `S` frames is zero-padded
//!    on the right to the export's fixed `L` and its output cut back, as
//!    `HTDemucs.forward` does for a model run below its training length.
//! 4. The stems are resampled back to the input rate (exact input length).
//!
//! Tested against PyTorch on a real music clip with a small randomly
//! initialised HTDemucs (`tests/htdemucs_parity.rs`): every stem matches
//! `apply_model`'s output with SI-SDR above 70 dB and a maximum error below
//! 1e-3 of its peak; so do segments of 6.0 and 4.0 s
//! (`tests/htdemucs_segment.rs`) and a bag shaped like `htdemucs_ft`
//! (`tests/htdemucs_bag.rs`).
//!
//! # Real-time safety
//! Not real-time safe: runs ONNX Runtime and allocates. Use it off the
//! audio thread.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ort::value::TensorRef;
use realfft::num_complex::Complex32;
use resonode_core::{AudioBuffer, Error, Progress, Result, Source};
use resonode_io::{resample_planar, resampled_len, PlanarResampler};

use crate::chunker::{ChunkerConfig, Crossfade, LongOptions, Region, SeparationStats, Stems, StreamingSeparator};
use crate::model::{Model, TensorInfo, TensorSpec};
use crate::runtime::{ActivationMemory, SessionOptions};
use crate::stft::{HtdemucsSpec, Spectrogram};

/// The sources of `htdemucs` and `htdemucs_ft`.
pub const SOURCES_4: [&str; 4] = ["drums", "bass", "other", "vocals"];
/// The sources of `htdemucs_6s`.
pub const SOURCES_6: [&str; 6] = ["drums", "bass", "other", "vocals", "guitar", "piano"];
/// The segment of the released models: 7.8 s at 44.1 kHz.
pub const DEFAULT_SEGMENT: usize = 343_980;
/// The sample rate of the released models.
pub const DEFAULT_SAMPLE_RATE: u32 = 44_100;

/// What a loaded HTDemucs model is.
#[derive(Debug, Clone, PartialEq)]
pub struct HtDemucsInfo {
    /// Source (stem) names, in output order.
    pub sources: Vec<String>,
    /// The model's sample rate in Hz.
    pub sample_rate: u32,
    /// Frames per model call (`L`).
    pub segment: usize,
    /// Audio channels the model takes and gives.
    pub channels: usize,
    /// FFT size of the spectrogram branch (hop = nfft / 4).
    pub nfft: usize,
    /// Models in the bag (1 unless e.g. `htdemucs_ft`).
    pub bag_size: usize,
    /// The model files.
    pub paths: Vec<String>,
}

/// The input normalisation of demucs' `Separator`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Normalization {
    /// `mean` and `std + 1e-8` of the channel-mean of the whole input
    /// (demucs' behaviour). Needs the whole input before the first chunk:
    /// [`HtDemucs::separate`] has it, [`HtDemucs::separate_long`] makes a
    /// first pass over a rewindable source, a push stream cannot.
    #[default]
    Global,
    /// Given statistics (e.g. from [`normalization_stats`]); what a live
    /// stream can use.
    Fixed {
        /// Subtracted from the input, added back to the stems.
        mean: f32,
        /// Divides the input, multiplies the stems (> 0).
        std: f32,
    },
    /// No normalisation (`mean = 0`, `std = 1`).
    Off,
}

impl Normalization {
    /// Checks given statistics: a finite `mean` and a finite `std > 0`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`normalization`) otherwise.
    pub fn check(&self) -> Result<()> {
        match *self {
            Normalization::Fixed { mean, std } if !(mean.is_finite() && std.is_finite() && std > 0.0) => {
                Err(Error::param("normalization", format!("needs a finite mean and std > 0, got {mean}, {std}")))
            }
            _ => Ok(()),
        }
    }
}

/// Options of a separation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparateOptions {
    /// Overlap ratio between segments, in `[0, 1)` (default 0.25).
    pub overlap: f64,
    /// Crossfade window (default: triangular, transition power 1).
    pub crossfade: Crossfade,
    /// Input normalisation (default [`Normalization::Global`]).
    pub normalization: Normalization,
    /// Chunk length in frames at the model rate, in `1..=L` (demucs'
    /// `apply_model(..., segment=s)` with `s * rate` frames; checked by
    /// [`HtDemucs::check_segment`]). `None`: the export's `L`.
    pub segment: Option<usize>,
}

impl Default for SeparateOptions {
    fn default() -> Self {
        SeparateOptions {
            overlap: 0.25,
            crossfade: Crossfade::default(),
            normalization: Normalization::Global,
            segment: None,
        }
    }
}

/// Running mean / unbiased standard deviation of the channel-mean signal
/// (Welford, in `f64`): demucs' `ref = wav.mean(0); ref.mean(), ref.std()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NormStats {
    n: u64,
    mean: f64,
    m2: f64,
}

impl NormStats {
    /// Adds planar frames (all channels of equal length).
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) {
        let Some(first) = block.first() else { return };
        let ch = block.len() as f32;
        for i in 0..first.as_ref().len() {
            let sum: f32 = block.iter().map(|c| c.as_ref()[i]).sum();
            let v = f64::from(sum / ch);
            self.n += 1;
            let d = v - self.mean;
            self.mean += d / self.n as f64;
            self.m2 += d * (v - self.mean);
        }
    }

    /// `(mean, std + 1e-8)` as demucs uses them (`std` unbiased; 0 for a
    /// single frame).
    pub fn mean_std(&self) -> (f32, f32) {
        let var = if self.n > 1 { self.m2 / (self.n - 1) as f64 } else { 0.0 };
        (self.mean as f32, var.sqrt() as f32 + 1e-8)
    }
}

/// demucs' `Separator` normalisation statistics of a whole signal:
/// `(mean, std + 1e-8)` of the mean over channels.
pub fn normalization_stats<S: AsRef<[f32]>>(input: &[S]) -> (f32, f32) {
    let mut s = NormStats::default();
    s.push(input);
    s.mean_std()
}

/// Matches `input` to `channels` channels like demucs'
/// `convert_audio_channels`: equal counts are kept, a mono model gets the
/// mean, mono input is duplicated, extra channels are dropped.
pub fn convert_channels<S: AsRef<[f32]>>(input: &[S], channels: usize) -> Vec<Vec<f32>> {
    let src = input.len();
    if src == channels {
        input.iter().map(|c| c.as_ref().to_vec()).collect()
    } else if channels == 1 {
        let n = input[0].as_ref().len();
        vec![(0..n).map(|i| input.iter().map(|c| c.as_ref()[i]).sum::<f32>() / src as f32).collect()]
    } else if src == 1 {
        vec![input[0].as_ref().to_vec(); channels]
    } else {
        input[..channels.min(src)].iter().map(|c| c.as_ref().to_vec()).collect()
    }
}

/// The tensor names of one model.
#[derive(Debug, Clone)]
struct Names {
    mix: String,
    mag: String,
    time: String,
    freq: String,
}

struct Member {
    model: Model,
    names: Names,
    weights: Vec<f32>,
}

/// An HTDemucs separator: one model or a bag of models, plus the
/// spectrogram code. See the module docs.
pub struct HtDemucs {
    members: Vec<Member>,
    info: HtDemucsInfo,
    spec: HtdemucsSpec,
    /// [`ActivationMemory::Released`]: trim the heap after every model call.
    release_heap: bool,
}

impl std::fmt::Debug for HtDemucs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HtDemucs").field("info", &self.info).finish_non_exhaustive()
    }
}

fn meta(model: &mut Model, key: &str) -> Option<String> {
    model.session_mut().metadata().ok().and_then(|m| m.custom(key))
}

fn meta_num<T: std::str::FromStr>(model: &mut Model, key: &str) -> Option<T> {
    meta(model, key).and_then(|v| v.trim().parse().ok())
}

/// The tensor called `name`, or else the only one of rank `rank`.
fn pick<'a>(list: &'a [TensorInfo], name: &str, rank: usize) -> Option<&'a TensorInfo> {
    list.iter().find(|t| t.name == name).or_else(|| {
        let mut it = list.iter().filter(|t| t.shape.len() == rank && !list.iter().any(|u| u.name == name));
        let first = it.next();
        if it.next().is_some() {
            None
        } else {
            first
        }
    })
}

fn dim(t: &TensorInfo, i: usize) -> Option<usize> {
    t.shape.get(i).and_then(|&d| usize::try_from(d).ok())
}

fn model_err(path: &str, reason: impl std::fmt::Display) -> Error {
    crate::model::inference_error(path, "HTDemucs", reason)
}

impl HtDemucs {
    /// Loads an exported HTDemucs model. When its metadata says it is
    /// model `i` of a bag of `n` (`name.i.onnx`), the other members
    /// `name.0.onnx ... name.{n-1}.onnx` are loaded too; when `path` does
    /// not exist but `name.0.onnx` does (`path` = `name.onnx`), that bag is
    /// loaded. [`ActivationMemory::Planned`] in `opts` (the default) loads
    /// with [`ActivationMemory::Arena`]: about 1.2 GB of activations per
    /// 7.8 s segment, where ONNX Runtime's memory pattern would double the
    /// peak. With [`ActivationMemory::Released`] free heap pages also go
    /// back to the system after every model call (see `heap.rs`).
    ///
    /// # Errors
    /// The errors of [`Model::load`] ([`Error::NotFound`], [`Error::Model`],
    /// [`Error::RuntimeNotFound`], ...) and [`Error::ModelMismatch`] when the
    /// model's inputs and outputs are not those of an HTDemucs export.
    pub fn load(path: &Path, opts: &SessionOptions) -> Result<HtDemucs> {
        let activations = match opts.activations {
            ActivationMemory::Planned => ActivationMemory::Arena,
            other => other,
        };
        let mut sep = Self::load_members(path, &SessionOptions { activations, ..opts.clone() })?;
        sep.release_heap = activations == ActivationMemory::Released;
        Ok(sep)
    }

    fn load_members(path: &Path, opts: &SessionOptions) -> Result<HtDemucs> {
        if !path.exists() {
            let first = path.with_extension("0.onnx");
            if path.extension().is_some_and(|e| e == "onnx") && first.exists() {
                return Self::load_members(&first, opts);
            }
        }
        let mut first = Model::load(path, opts)?;
        let size: usize = meta_num(&mut first, "resonode.bag_size").unwrap_or(1);
        let index: usize = meta_num(&mut first, "resonode.bag_index").unwrap_or(0);
        let suffix = format!(".{index}.onnx");
        let name = path.to_string_lossy();
        if size > 1 && name.ends_with(&suffix) {
            let stem = &name[..name.len() - suffix.len()];
            let mut models = Vec::with_capacity(size);
            let mut first = Some(first);
            for i in 0..size {
                if i == index {
                    models.push(first.take().expect("taken once"));
                } else {
                    models.push(Model::load(&PathBuf::from(format!("{stem}.{i}.onnx")), opts)?);
                }
            }
            return Self::from_models(models);
        }
        Self::from_models(vec![first])
    }

    /// Loads the given models as one bag (their outputs are averaged per
    /// source with the weights in their metadata, 1 by default).
    ///
    /// # Errors
    /// As [`HtDemucs::load`]; [`Error::ModelMismatch`] when the members
    /// disagree on sources, rate, segment or channels.
    pub fn load_bag(paths: &[PathBuf], opts: &SessionOptions) -> Result<HtDemucs> {
        let models = paths.iter().map(|p| Model::load(p, opts)).collect::<Result<Vec<_>>>()?;
        Self::from_models(models)
    }

    /// Wraps loaded models (one, or the members of a bag).
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] naming expected vs actual inputs and outputs;
    /// [`Error::InvalidParameter`] for no models.
    pub fn from_models(models: Vec<Model>) -> Result<HtDemucs> {
        if models.is_empty() {
            return Err(Error::param("models", "at least one model is needed"));
        }
        let mut members = Vec::with_capacity(models.len());
        let mut info: Option<HtDemucsInfo> = None;
        for mut model in models {
            let (names, mi) = Self::inspect(&mut model)?;
            let s = mi.sources.len();
            let weights = meta(&mut model, "resonode.source_weights")
                .map(|w| w.split(',').filter_map(|v| v.trim().parse::<f32>().ok()).collect::<Vec<_>>())
                .filter(|w| w.len() == s)
                .unwrap_or_else(|| vec![1.0; s]);
            match &mut info {
                None => info = Some(mi),
                Some(prev) => {
                    if (&prev.sources, prev.sample_rate, prev.segment, prev.channels, prev.nfft)
                        != (&mi.sources, mi.sample_rate, mi.segment, mi.channels, mi.nfft)
                    {
                        return Err(Error::ModelMismatch {
                            path: model.path().to_string(),
                            reason: format!("bag members differ: {prev:?} vs {mi:?}"),
                        });
                    }
                    prev.paths.extend(mi.paths);
                }
            }
            members.push(Member { model, names, weights });
        }
        let mut info = info.expect("at least one model");
        info.bag_size = members.len();
        let spec = HtdemucsSpec::new(info.nfft)?;
        Ok(HtDemucs { members, info, spec, release_heap: false })
    }

    /// Finds the tensors and the geometry of one model and checks them.
    fn inspect(model: &mut Model) -> Result<(Names, HtDemucsInfo)> {
        let path = model.path().to_string();
        let mismatch = |reason: String| Error::ModelMismatch { path: path.clone(), reason };
        let describe = |l: &[TensorInfo]| l.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let (inputs, outputs) = (model.inputs().to_vec(), model.outputs().to_vec());
        let expect = "an HTDemucs export (scripts/export_htdemucs.py) has inputs `mix` [1, C, L] and \
                      `mag` [1, 2C, nfft/2, ceil(L/hop)] and outputs `time` [1, S, C, L] and \
                      `freq` [1, S, 2C, nfft/2, ceil(L/hop)]";
        let (Some(mix), Some(mag)) = (pick(&inputs, "mix", 3), pick(&inputs, "mag", 4)) else {
            return Err(mismatch(format!("{expect}; this model has inputs {}", describe(&inputs))));
        };
        let (Some(time), Some(freq)) = (pick(&outputs, "time", 4), pick(&outputs, "freq", 5)) else {
            return Err(mismatch(format!("{expect}; this model has outputs {}", describe(&outputs))));
        };
        let channels = dim(mix, 1).or_else(|| meta_num(model, "resonode.audio_channels")).unwrap_or(2);
        let segment = dim(mix, 2).or_else(|| meta_num(model, "resonode.segment_samples")).unwrap_or(DEFAULT_SEGMENT);
        let bins = dim(mag, 2).or_else(|| meta_num::<usize>(model, "resonode.nfft").map(|n| n / 2)).unwrap_or(2048);
        let nfft = bins * 2;
        if nfft < 8 || !nfft.is_multiple_of(8) {
            return Err(mismatch(format!(
                "input `{}` has {bins} frequency bins; HTDemucs needs nfft/2 with nfft a multiple of 8",
                mag.name
            )));
        }
        let frames = segment.div_ceil(nfft / 4);
        let sources: Vec<String> = match meta(model, "resonode.sources") {
            Some(s) => s.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect(),
            None => {
                let s = dim(time, 1).or_else(|| dim(freq, 1)).unwrap_or(4);
                match s {
                    4 => SOURCES_4.iter().map(|v| v.to_string()).collect(),
                    6 => SOURCES_6.iter().map(|v| v.to_string()).collect(),
                    n => (0..n).map(|i| format!("source{i}")).collect(),
                }
            }
        };
        let s = sources.len() as i64;
        let (c, l, b, t) = (channels as i64, segment as i64, bins as i64, frames as i64);
        model.check_inputs(&[
            TensorSpec { name: &mix.name, element_type: "float32", shape: &[1, c, l] },
            TensorSpec { name: &mag.name, element_type: "float32", shape: &[1, 2 * c, b, t] },
        ])?;
        model.check_outputs(&[
            TensorSpec { name: &time.name, element_type: "float32", shape: &[1, s, c, l] },
            TensorSpec { name: &freq.name, element_type: "float32", shape: &[1, s, 2 * c, b, t] },
        ])?;
        let sample_rate = meta_num(model, "resonode.samplerate").unwrap_or(DEFAULT_SAMPLE_RATE);
        let names =
            Names { mix: mix.name.clone(), mag: mag.name.clone(), time: time.name.clone(), freq: freq.name.clone() };
        let info =
            HtDemucsInfo { sources, sample_rate, segment, channels, nfft, bag_size: 1, paths: vec![path.clone()] };
        Ok((names, info))
    }

    /// What the model is.
    pub fn info(&self) -> &HtDemucsInfo {
        &self.info
    }

    /// Source names in output order.
    pub fn sources(&self) -> &[String] {
        &self.info.sources
    }

    /// The model's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.info.sample_rate
    }

    /// Frames per model call.
    pub fn segment(&self) -> usize {
        self.info.segment
    }

    /// Chunk frames for a segment of `seconds` at the model rate:
    /// `floor(seconds * rate)`, as `apply_model` computes it, which must be
    /// in `1..=L`. demucs refuses a segment longer than a Transformer model
    /// was trained for, and an export's `L` is that segment.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`segment`) naming the model's segment
    /// for a length that is not positive or longer than it.
    pub fn check_segment(&self, seconds: f64) -> Result<usize> {
        let rate = f64::from(self.info.sample_rate);
        let l = self.info.segment;
        let frames = seconds * rate;
        if !(frames.is_finite() && frames >= 1.0 && frames as usize <= l) {
            return Err(Error::param(
                "segment",
                format!(
                    "must be > 0 and at most {:.2} s, the segment this model was exported for ({l} frames at {} Hz); \
                     got {seconds} s",
                    l as f64 / rate,
                    self.info.sample_rate
                ),
            ));
        }
        Ok(frames as usize)
    }

    /// The chunking for `opts`: `opts.segment` frames, or the model's `L`.
    pub fn chunker_config(&self, opts: &SeparateOptions) -> ChunkerConfig {
        ChunkerConfig {
            segment: opts.segment.unwrap_or(self.info.segment),
            overlap: opts.overlap,
            crossfade: opts.crossfade,
        }
    }

    /// One forward pass of `HTDemucs` on a segment (`channels x n` frames,
    /// `1 <= n <= L`, already normalised): returns `sources x channels x n`.
    /// A segment shorter than the export's `L` is zero-padded on the right
    /// to `L` and the output cut back to `n`, as `HTDemucs.forward` does with
    /// `use_train_segment`. Bags average their members per source with the
    /// members' weights.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrongly shaped segment; [`Error::Model`] when
    /// ONNX Runtime fails or returns unexpected shapes.
    pub fn run_segment(&mut self, mix: &[Vec<f32>]) -> Result<Stems> {
        let (c, l) = (self.info.channels, self.info.segment);
        let n = mix.first().map_or(0, Vec::len);
        if mix.len() != c || n == 0 || n > l || mix.iter().any(|ch| ch.len() != n) {
            return Err(Error::shape(format!(
                "an HTDemucs segment is {c} channels x 1..={l} frames, got {} channels of {:?} frames",
                mix.len(),
                mix.iter().map(Vec::len).collect::<Vec<_>>()
            )));
        }
        if n < l {
            let padded: Vec<Vec<f32>> = mix
                .iter()
                .map(|ch| {
                    let mut v = Vec::with_capacity(l);
                    v.extend_from_slice(ch);
                    v.resize(l, 0.0);
                    v
                })
                .collect();
            let mut out = self.run_segment(&padded)?;
            out.iter_mut().flatten().for_each(|ch| ch.truncate(n));
            return Ok(out);
        }
        let s = self.info.sources.len();
        let bins = self.spec.bins();
        let t = self.spec.frames(l);
        // Inputs: the waveform and the complex-as-channels spectrogram.
        let mix_flat: Vec<f32> = mix.iter().flatten().copied().collect();
        let mut mag = vec![0.0f32; 2 * c * bins * t];
        for (ci, ch) in mix.iter().enumerate() {
            let z = self.spec.spec(ch)?;
            let (re, im) = mag[2 * ci * bins * t..(2 * ci + 2) * bins * t].split_at_mut(bins * t);
            for (k, v) in z.as_slice().iter().enumerate() {
                re[k] = v.re;
                im[k] = v.im;
            }
        }
        let single = self.members.len() == 1;
        let mut total: Option<Stems> = None;
        let mut wsum = vec![0.0f32; s];
        for mi in 0..self.members.len() {
            let (time, freq) = {
                let m = &mut self.members[mi];
                let path = m.model.path().to_string();
                let mix_t =
                    TensorRef::from_array_view(([1usize, c, l], &mix_flat[..])).map_err(|e| model_err(&path, e))?;
                let mag_t = TensorRef::from_array_view(([1usize, 2 * c, bins, t], &mag[..]))
                    .map_err(|e| model_err(&path, e))?;
                let names = m.names.clone();
                let outputs = m
                    .model
                    .session_mut()
                    .run(ort::inputs![names.mix.as_str() => mix_t, names.mag.as_str() => mag_t])
                    .map_err(|e| model_err(&path, e))?;
                (
                    Model::output_f32(&outputs, &names.time, s * c * l, &path, "HTDemucs")?,
                    Model::output_f32(&outputs, &names.freq, s * 2 * c * bins * t, &path, "HTDemucs")?,
                )
            };
            if self.release_heap {
                crate::heap::release_free_heap();
            }
            let mut stems: Stems = Vec::with_capacity(s);
            for si in 0..s {
                let mut chans = Vec::with_capacity(c);
                for ci in 0..c {
                    let base_re = (si * 2 * c + 2 * ci) * bins * t;
                    let base_im = base_re + bins * t;
                    let z: Vec<Complex32> =
                        (0..bins * t).map(|k| Complex32::new(freq[base_re + k], freq[base_im + k])).collect();
                    let z = Spectrogram::from_vec(bins, t, z)?;
                    let x = self.spec.ispec(&z, l)?;
                    let xt = &time[(si * c + ci) * l..(si * c + ci + 1) * l];
                    chans.push(xt.iter().zip(&x).map(|(&a, &b)| a + b).collect::<Vec<f32>>());
                }
                stems.push(chans);
            }
            if single {
                return Ok(stems);
            }
            let w = self.members[mi].weights.clone();
            match &mut total {
                None => {
                    for (stem, &wi) in stems.iter_mut().zip(&w) {
                        stem.iter_mut().flatten().for_each(|v| *v *= wi);
                    }
                    total = Some(stems);
                }
                Some(acc) => {
                    for ((a, st), &wi) in acc.iter_mut().zip(&stems).zip(&w) {
                        for (ac, sc) in a.iter_mut().zip(st) {
                            ac.iter_mut().zip(sc).for_each(|(x, &y)| *x += wi * y);
                        }
                    }
                }
            }
            wsum.iter_mut().zip(&w).for_each(|(a, &b)| *a += b);
        }
        let mut out = total.expect("at least one member");
        for (stem, &ws) in out.iter_mut().zip(&wsum) {
            if ws != 0.0 {
                stem.iter_mut().flatten().for_each(|v| *v /= ws);
            }
        }
        Ok(out)
    }

    fn resolve_norm(&self, n: Normalization) -> Result<(f32, f32)> {
        match n {
            Normalization::Off => Ok((0.0, 1.0)),
            Normalization::Fixed { mean, std } => {
                n.check()?;
                Ok((mean, std))
            }
            Normalization::Global => Err(Error::param(
                "normalization",
                "global normalisation needs the whole input before separating; use separate(), separate_long() \
                 with a rewindable source, or give fixed statistics",
            )),
        }
    }

    /// Separates a whole signal (`channels x frames` at `sample_rate` Hz)
    /// into `sources x model channels x frames` at the same rate and length.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] for no channels or frames; resampling errors
    /// ([`Error::InvalidParameter`] for unsupported rates);
    /// [`Error::NonFiniteSample`]; model errors.
    pub fn separate<S: AsRef<[f32]>>(
        &mut self,
        input: &[S],
        sample_rate: u32,
        opts: &SeparateOptions,
    ) -> Result<Stems> {
        if input.is_empty() || input[0].as_ref().is_empty() {
            return Err(Error::EmptyAudio { reason: "no audio to separate".into() });
        }
        let frames = input[0].as_ref().len();
        if input.iter().any(|c| c.as_ref().len() != frames) {
            return Err(Error::shape("input channels differ in length"));
        }
        // Before resampling, which would smear the bad value and its position.
        for (c, ch) in input.iter().enumerate() {
            let ch = ch.as_ref();
            if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteSample { frame: i as u64, channel: c, value: ch[i] });
            }
        }
        let x = convert_channels(input, self.info.channels);
        // Like demucs: resample first, then the statistics of what the model sees.
        let x = resample_planar(&x, sample_rate, self.info.sample_rate)?;
        let (mean, std) = match opts.normalization {
            Normalization::Global => normalization_stats(&x),
            n => self.resolve_norm(n)?,
        };
        let mut stream = self.stream_inner(self.info.sample_rate, sample_rate, opts, (mean, std))?;
        let mut regions = stream.push(&x)?;
        regions.extend(stream.finish()?);
        let mut out = crate::chunker::concat_regions(regions);
        for stem in &mut out {
            for ch in stem.iter_mut() {
                ch.resize(frames, 0.0);
            }
        }
        Ok(out)
    }

    /// A push stream: feed `channels`-channel blocks at `sample_rate` Hz
    /// and get final regions (at the same rate) as soon as they exist.
    /// Needs [`Normalization::Fixed`] or [`Normalization::Off`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for [`Normalization::Global`] or bad
    /// options or rates.
    pub fn stream(&mut self, channels: usize, sample_rate: u32, opts: &SeparateOptions) -> Result<HtDemucsStream<'_>> {
        let norm = self.resolve_norm(opts.normalization)?;
        let mut s = self.stream_inner(sample_rate, sample_rate, opts, norm)?;
        s.in_channels = Some(channels);
        Ok(s)
    }

    fn stream_inner(
        &mut self,
        in_rate: u32,
        out_rate: u32,
        opts: &SeparateOptions,
        (mean, std): (f32, f32),
    ) -> Result<HtDemucsStream<'_>> {
        let cfg = self.chunker_config(opts);
        let (rate, channels, sources) = (self.info.sample_rate, self.info.channels, self.info.sources.len());
        let rs_in = if in_rate != rate { Some(PlanarResampler::new(in_rate, rate, channels)?) } else { None };
        let rs_out =
            if out_rate != rate { Some(PlanarResampler::new(rate, out_rate, channels * sources)?) } else { None };
        let model: SegmentFn<'_> = Box::new(move |seg| self.run_segment(seg));
        let sep = StreamingSeparator::new(cfg, channels, model)?;
        Ok(HtDemucsStream {
            sep,
            rs_in,
            rs_out,
            in_rate,
            out_rate,
            channels,
            sources,
            in_channels: None,
            mean,
            std,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Separates a [`Source`] of any length at bounded memory, handing each
    /// final region (at the source's rate) to `on_region` and reporting
    /// progress in output frames. With [`Normalization::Global`] the source
    /// is read twice (statistics, then separation); it must be rewindable.
    /// (For a source not at the model rate the statistics are taken at the
    /// source rate, where [`separate`](HtDemucs::separate) takes them after
    /// resampling, like demucs; the difference is negligible. Open a
    /// `FileSource` at the model rate to avoid it.)
    ///
    /// Memory stays bounded: about two segments of input, output
    /// accumulators and resampler buffers, whatever the length.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for global normalisation of a source that
    /// cannot rewind; source, model and callback errors;
    /// [`Error::EmptyAudio`] for an empty source.
    pub fn separate_long<R, P>(
        &mut self,
        source: &mut dyn Source,
        opts: &SeparateOptions,
        long: &LongOptions,
        mut on_region: R,
        mut on_progress: P,
    ) -> Result<SeparationStats>
    where
        R: FnMut(Region) -> Result<()>,
        P: FnMut(Progress),
    {
        if long.read_frames == 0 {
            return Err(Error::param("readFrames", "must be at least 1"));
        }
        let started = Instant::now();
        let rate = source.sample_rate();
        let channels = source.channels();
        let mut buf = AudioBuffer::new(channels, long.read_frames);
        let norm = match opts.normalization {
            Normalization::Global => {
                if !source.can_rewind() {
                    return Err(Error::param(
                        "normalization",
                        format!(
                            "global normalisation reads {} twice, but it cannot rewind; give fixed statistics",
                            source.describe()
                        ),
                    ));
                }
                let mut st = NormStats::default();
                loop {
                    let n = source.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    let block: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
                    st.push(&convert_channels(&block, self.info.channels));
                }
                source.rewind()?;
                st.mean_std()
            }
            n => self.resolve_norm(n)?,
        };
        let total = source.total_frames();
        let mut stream = self.stream_inner(rate, rate, opts, norm)?;
        stream.in_channels = Some(channels);
        let mut stats = SeparationStats::default();
        let mut deliver = |regions: Vec<Region>, stats: &mut SeparationStats| -> Result<()> {
            for r in regions {
                if stats.time_to_first_audio.is_none() {
                    stats.time_to_first_audio = Some(started.elapsed());
                }
                stats.frames_out += r.frames() as u64;
                stats.regions += 1;
                on_region(r)?;
                let frames = stats.frames_out;
                let fraction = total.map(|t| if t == 0 { 1.0 } else { (frames as f64 / t as f64).min(1.0) });
                on_progress(Progress { frames, total_frames: total, fraction });
            }
            Ok(())
        };
        loop {
            let n = source.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let block: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
            let regions = stream.push(&block)?;
            deliver(regions, &mut stats)?;
        }
        stats.frames_in = stream.frames_in();
        stats.chunks = stream.chunks_done();
        let regions = stream.finish()?;
        stats.chunks = stream.chunks_done();
        deliver(regions, &mut stats)?;
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

/// The model call a stream owns: one HTDemucs forward pass per segment.
type SegmentFn<'a> = Box<dyn FnMut(&[Vec<f32>]) -> Result<Stems> + 'a>;

/// A push-based HTDemucs separation ([`HtDemucs::stream`]): regions come out
/// at the input rate as soon as they are final; their concatenation is the
/// output of [`HtDemucs::separate_long`] with the same options.
pub struct HtDemucsStream<'a> {
    sep: StreamingSeparator<SegmentFn<'a>>,
    rs_in: Option<PlanarResampler>,
    rs_out: Option<PlanarResampler>,
    in_rate: u32,
    out_rate: u32,
    channels: usize,
    sources: usize,
    /// Channels pushed by the caller (`None`: already the model's).
    in_channels: Option<usize>,
    mean: f32,
    std: f32,
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for HtDemucsStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HtDemucsStream")
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("frames_in", &self.frames_in)
            .field("frames_out", &self.frames_out)
            .finish_non_exhaustive()
    }
}

impl HtDemucsStream<'_> {
    /// Input frames pushed (at the input rate).
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Output frames emitted (at the output rate).
    pub fn frames_out(&self) -> u64 {
        self.frames_out
    }

    /// Model calls so far.
    pub fn chunks_done(&self) -> usize {
        self.sep.chunks_done()
    }

    /// Pushes a block and returns the regions that became final.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count or ragged channels,
    /// [`Error::NonFiniteSample`], model errors, and
    /// [`Error::InvalidState`] after [`finish`](HtDemucsStream::finish).
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) -> Result<Vec<Region>> {
        let want = self.in_channels.unwrap_or(self.channels);
        if block.len() != want {
            return Err(Error::shape(format!("expected {want} channels, got {}", block.len())));
        }
        let n = block[0].as_ref().len();
        if block.iter().any(|c| c.as_ref().len() != n) {
            return Err(Error::shape("block channels differ in length"));
        }
        let mut x = convert_channels(block, self.channels);
        if let Some((c, i)) =
            x.iter().enumerate().find_map(|(c, ch)| ch.iter().position(|v| !v.is_finite()).map(|i| (c, i)))
        {
            return Err(Error::NonFiniteSample { frame: self.frames_in + i as u64, channel: c, value: x[c][i] });
        }
        self.frames_in += n as u64;
        if let Some(rs) = &mut self.rs_in {
            let mut y = vec![Vec::new(); self.channels];
            rs.process(&x, &mut y)?;
            x = y;
        }
        self.normalize(&mut x);
        let regions = self.sep.push(&x)?;
        self.post(regions, false)
    }

    /// Ends the input and returns the remaining regions; the last has
    /// `is_last` and the total output length equals the input length.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] when nothing was pushed; model errors;
    /// [`Error::InvalidState`] when called twice.
    pub fn finish(&mut self) -> Result<Vec<Region>> {
        let mut regions = Vec::new();
        if let Some(rs) = &mut self.rs_in {
            let mut y = vec![Vec::new(); self.channels];
            rs.finish(&mut y)?;
            if !y[0].is_empty() {
                let mut y = y;
                let (mean, std) = (self.mean, self.std);
                y.iter_mut().flatten().for_each(|v| *v = (*v - mean) / std);
                regions = self.sep.push(&y)?;
            }
        }
        regions.extend(self.sep.finish()?);
        self.post(regions, true)
    }

    fn normalize(&self, x: &mut [Vec<f32>]) {
        let (mean, std) = (self.mean, self.std);
        if (mean, std) != (0.0, 1.0) {
            x.iter_mut().flatten().for_each(|v| *v = (*v - mean) / std);
        }
    }

    /// De-normalises and resamples regions to the output rate.
    fn post(&mut self, regions: Vec<Region>, finishing: bool) -> Result<Vec<Region>> {
        let (mean, std) = (self.mean, self.std);
        let mut out = Vec::with_capacity(regions.len());
        let count = regions.len();
        for (i, mut r) in regions.into_iter().enumerate() {
            if (mean, std) != (0.0, 1.0) {
                r.stems.iter_mut().flatten().flatten().for_each(|v| *v = *v * std + mean);
            }
            let last = finishing && i + 1 == count;
            if let Some(rs) = &mut self.rs_out {
                let flat: Vec<Vec<f32>> = r.stems.into_iter().flatten().collect();
                let mut y = vec![Vec::new(); self.channels * self.sources];
                rs.process(&flat, &mut y)?;
                if last {
                    rs.finish(&mut y)?;
                }
                let mut it = y.into_iter();
                r.stems = (0..self.sources).map(|_| it.by_ref().take(self.channels).collect()).collect();
            }
            if last {
                // Exactly the input length at the input rate (resampling
                // there and back can leave one frame more or less).
                let want = resampled_len(self.frames_in, self.in_rate, self.out_rate);
                let have = self.frames_out + r.frames() as u64;
                let target = (r.frames() as u64 + want).saturating_sub(have) as usize;
                r.stems.iter_mut().flatten().for_each(|ch| ch.resize(target, 0.0));
            }
            r.start = self.frames_out;
            r.is_last = last;
            self.frames_out += r.frames() as u64;
            if r.frames() > 0 || last {
                out.push(r);
            }
        }
        Ok(out)
    }
}
