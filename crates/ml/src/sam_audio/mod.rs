//! SAM-Audio (Segment Anything Model for Audio, Meta 2025, arXiv 2512.18099):
//! text-prompted source separation. A description ("a man speaking", "the
//! siren") and optional temporal anchors select a `target`; the rest is the
//! `residual`.
//!
//! # The model folder
//! An export made by `scripts/export_sam_audio.py` (the checkpoint is gated;
//! users download it themselves): `manifest.json` ([`SamAudioManifest`]),
//! four ONNX graphs and the T5 `tokenizer.json`:
//!
//! | graph | inputs | outputs |
//! |---|---|---|
//! | `codec_encoder.onnx` | `audio` f32 `[B, 1, samples]` (a multiple of `hopLength`) | `features` f32 `[B, C, frames]` |
//! | `codec_decoder.onnx` | `features` f32 `[B, C, frames]` | `audio` f32 `[B, 1, frames * hopLength]` |
//! | `text_encoder.onnx` | `input_ids`, `attention_mask` i64 `[B, tokens]` | `text_features` f32 `[B, tokens, textDim]` |
//! | `dit.onnx` | `noisy`, `audio_features` f32 `[B, T, 2C]`, `text_features`, `text_mask` bool `[B, tokens]`, `time` f32 `[B]`, `anchor_ids` i64 `[B, A]`, `anchor_alignment` i64 `[B, T]`, `anchor_scale` f32 `[B]` | `velocity` f32 `[B, T, 2C]` |
//!
//! A graph over 1.5 GB of weights keeps them in one `<file>.data` beside
//! it, listed in the manifest's `data` ([`SamAudioManifest::data`]).
//!
//! [`SamAudio::load`] checks every name, element type, rank and fixed
//! dimension against the manifest (`ERR_MODEL_MISMATCH` naming expected vs
//! actual).
//!
//! # What a separation does (mlx-audio 0.6.2 `sam_audio/model.py`)
//! 1. Inputs (mono, 48 kHz) are zero-padded to the longest and to a multiple
//!    of the hop (`batch_audio`, `DACVAE._pad`) and encoded to `[B, C, T]`,
//!    `T = ceil(max_len / hop)`; the DiT sees them as `[B, T, 2C]` (the
//!    features twice, `_get_audio_features`).
//! 2. Descriptions are tokenized (truncated to `textMaxLength`, padded to
//!    the longest) and encoded once by T5.
//! 3. Anchors become `anchor_ids`/`anchor_alignment` as
//!    `SAMAudioProcessor.process_anchors` does (see [`anchors`]).
//! 4. The ODE ([`ode`]) runs from noise `[B, T, 2C]` (given, or N(0, 1) from
//!    a seed with resonode's own generator, [`noise`]) to t = 1.
//! 5. Channels `[0, C)` are the target, `[C, 2C)` the residual; each is
//!    decoded (whole or in chunks of `decode_chunk_size` frames,
//!    `DACVAE._decode_chunked`) and item `b` is cut to its input length.
//!    (The reference keeps `ceil(len / hop) * hop` samples, i.e. up to
//!    `hop - 1` samples of decoded padding; resonode drops them.)
//!
//! Long inputs ([`LongSeparator`], [`LongFileJob`]) are cut into chunks of
//! `chunk_seconds` overlapping by `overlap_seconds`, each separated with the
//! text features computed once and noise from `seed + i`, and blended with
//! a raised-cosine crossfade, exactly as `separate_long` and
//! `_separate_streaming_generator` do (see [`long`]).
//!
//! # Errors
//! `ERR_NOT_FOUND` (no model folder), `ERR_MODEL` (bad manifest, a listed
//! file missing, a graph ONNX Runtime cannot load, inference failure),
//! `ERR_MODEL_MISMATCH` (graph I/O not as the manifest says),
//! `ERR_INVALID_PARAMETER` (description, anchors, `ode.stepSize`,
//! `ode.method`, `decodeChunkSize`, `chunkSeconds`, `overlapSeconds`, input
//! longer than the model's `maxFrames`), `ERR_EMPTY_AUDIO`,
//! `ERR_NON_FINITE_SAMPLE`, `ERR_SHAPE` (noise of the wrong length),
//! `ERR_INVALID_STATE` ("the separation was stopped" after a cancel, the
//! error every stopped job of this crate returns).
//!
//! # Real-time safety
//! None: runs ONNX Runtime and allocates. Use it off the audio thread.

pub mod anchors;
pub mod file;
pub mod long;
pub mod manifest;
pub mod memory;
pub(crate) mod model;
pub mod noise;
pub mod ode;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use resonode_core::{Error, Result};

pub use anchors::{Anchor, AnchorKind};
pub use file::{read_mono, LongFileJob};
pub use long::{LongOptions, LongSeparator, PromptChunk};
pub use manifest::SamAudioManifest;
pub use memory::peak_memory_bytes;
pub use ode::{OdeMethod, OdeOptions};

use anchors::AnchorBatch;
use model::{Graphs, TextFeatures};
use tokenizer::TextTokenizer;

/// Target and residual signals, one per input.
pub(crate) type TargetResidual = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// The smallest `decode_chunk_size`: more than twice the 4-frame overlap of
/// `DACVAE._decode_chunked`.
pub const MIN_DECODE_CHUNK: usize = 8;

/// Options of [`SamAudio::separate`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeparateOptions {
    /// One anchor list per input (`None`: no temporal prompt). Checked:
    /// finite, `0 <= start < end <= duration`, no `+` span overlapping a `-`
    /// span of the same input.
    pub anchors: Option<Vec<Vec<Anchor>>>,
    /// ODE solver and step.
    pub ode: OdeOptions,
    /// Decode in chunks of this many frames (`>= 8`; `ode_decode_chunk_size`
    /// of the reference, which suggests 50): less memory, same result up to
    /// the blend of 4 overlapping frames per boundary.
    pub decode_chunk_size: Option<usize>,
    /// The initial noise, `[B, T, 2C]` row-major with `T = ceil(longest / hop)`;
    /// `None` draws it from `seed`.
    pub noise: Option<Vec<f32>>,
    /// Seed of the noise (`None`: drawn from the OS); the one used is returned.
    pub seed: Option<u64>,
}

/// What [`SamAudio::separate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSeparation {
    /// One mono signal per input at the model rate, cut to the input's length.
    pub target: Vec<Vec<f32>>,
    /// Everything else, same shapes.
    pub residual: Vec<Vec<f32>>,
    /// The initial noise, `[B, T, 2C]` row-major.
    pub noise: Vec<f32>,
    /// `[B, T, 2C]`.
    pub noise_shape: [usize; 3],
    /// The seed the noise came from; `None` when the noise was given.
    pub seed: Option<u64>,
    /// Peak resident memory of the process in bytes ([`peak_memory_bytes`]).
    pub peak_memory_bytes: u64,
}

/// A loaded SAM-Audio model folder. `Send + Sync`: share it in an [`Arc`];
/// concurrent separations take turns on each graph.
pub struct SamAudio {
    dir: PathBuf,
    manifest: SamAudioManifest,
    tokenizer: TextTokenizer,
    graphs: Graphs,
}

impl std::fmt::Debug for SamAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamAudio")
            .field("dir", &self.dir)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// `Err(stopped)` ("the separation was stopped", `ERR_INVALID_STATE`) when
/// `cancel` says so: the one cancel check of every SAM-Audio loop.
pub(crate) fn stopped_if(cancel: &dyn Fn() -> bool) -> Result<()> {
    if cancel() {
        Err(crate::separation_worker::stopped())
    } else {
        Ok(())
    }
}

/// Checks a description: not empty or only whitespace.
pub(crate) fn check_description(d: &str) -> Result<()> {
    if d.trim().is_empty() {
        return Err(Error::param("description", "must describe the sound to separate, e.g. \"a man speaking\"; got an empty description"));
    }
    Ok(())
}

/// Checks `decode_chunk_size`.
pub(crate) fn check_decode_chunk(c: Option<usize>) -> Result<()> {
    match c {
        Some(n) if n < MIN_DECODE_CHUNK => Err(Error::param(
            "decodeChunkSize",
            format!("must be at least {MIN_DECODE_CHUNK} frames (more than twice the 4-frame decode overlap); got {n}"),
        )),
        _ => Ok(()),
    }
}

/// Checks samples for NaN/inf; `channel` is the input's index in a batch.
pub(crate) fn check_finite(x: &[f32], first_frame: u64, channel: usize) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::NonFiniteSample {
            frame: first_frame + i as u64,
            channel,
            value: x[i],
        }),
        None => Ok(()),
    }
}

impl SamAudio {
    /// Loads an exported model folder: reads and checks `manifest.json`,
    /// checks every listed file exists (`files.*` and the external-data
    /// files `data.*`), loads the four graphs (ONNX Runtime
    /// with `session`) and checks their inputs and outputs, loads the tokenizer.
    ///
    /// # Errors
    /// [`Error::NotFound`] (no such folder); [`Error::Model`] (not a folder,
    /// manifest unreadable, wrong `format`/`version`, a bad field, a listed
    /// file missing, named; a graph or tokenizer that cannot be loaded);
    /// [`Error::ModelMismatch`] (graph I/O names, element types, ranks or
    /// fixed dimensions not those the manifest implies, expected vs actual);
    /// [`Error::RuntimeNotFound`], [`Error::ExecutionProviderNotAvailable`].
    pub fn load(dir: &Path, session: &crate::runtime::SessionOptions) -> Result<SamAudio> {
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound { path: dir.display().to_string() })
            }
            Err(e) => return Err(Error::Io { path: dir.display().to_string(), reason: e.to_string() }),
            Ok(m) if !m.is_dir() => {
                return Err(Error::Model {
                    path: dir.display().to_string(),
                    reason: "a SAM-Audio model is a folder (manifest.json, four .onnx graphs, tokenizer.json), not a file"
                        .into(),
                })
            }
            Ok(_) => {}
        }
        let started = std::time::Instant::now();
        let manifest = SamAudioManifest::read(dir)?;
        let f = &manifest.files;
        // The one presence check of the folder's files: graphs, tokenizer,
        // and the external-data files of large graphs (`data.*`).
        let listed = [
            ("files.codecEncoder", &f.codec_encoder),
            ("files.codecDecoder", &f.codec_decoder),
            ("files.textEncoder", &f.text_encoder),
            ("files.dit", &f.dit),
            ("files.tokenizer", &f.tokenizer),
        ];
        let data = manifest.data.iter().map(|(k, v)| (k.as_str(), v));
        for (key, file) in listed.into_iter().chain(data) {
            if !dir.join(file).is_file() {
                return Err(Error::Model {
                    path: dir.display().to_string(),
                    reason: format!(
                        "the model folder is incomplete: `{key}` names `{file}`, which is missing"
                    ),
                });
            }
        }
        let tokenizer = TextTokenizer::load(&dir.join(&f.tokenizer), manifest.text_max_length)?;
        let graphs = Graphs::load(dir, &manifest, session)?;
        log::debug!(
            target: crate::runtime::LOG,
            "SAM-Audio {} ({}) loaded in {:.1} ms: {} Hz, hop {}, C {}, text {}x{}, max {} frames",
            dir.display(),
            manifest.name,
            started.elapsed().as_secs_f64() * 1e3,
            manifest.sample_rate,
            manifest.hop_length,
            manifest.codebook_dim,
            manifest.text_max_length,
            manifest.text_dim,
            manifest.max_frames
        );
        Ok(SamAudio {
            dir: dir.to_path_buf(),
            manifest,
            tokenizer,
            graphs,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &SamAudioManifest {
        &self.manifest
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model's sample rate in Hz (48000).
    pub fn sample_rate(&self) -> u32 {
        self.manifest.sample_rate
    }

    /// Samples per codec frame.
    pub fn hop_length(&self) -> usize {
        self.manifest.hop_length
    }

    /// The longest input of one model pass in samples: `maxFrames * hopLength`.
    pub fn max_samples(&self) -> usize {
        self.manifest.max_frames * self.manifest.hop_length
    }

    /// Codec frames for `samples` samples: `ceil(samples / hop)`.
    pub(crate) fn frames_for(&self, samples: usize) -> usize {
        samples.div_ceil(self.manifest.hop_length)
    }

    /// Width of the DiT's latent: `2 * codebookDim`.
    pub(crate) fn c2(&self) -> usize {
        2 * self.manifest.codebook_dim
    }

    /// Tokenizes and encodes descriptions (checked non-empty).
    pub(crate) fn encode_text(&self, descriptions: &[&str]) -> Result<TextFeatures> {
        for d in descriptions {
            check_description(d)?;
        }
        let tokens = self.tokenizer.encode(descriptions)?;
        self.graphs.encode_text(&tokens, self.manifest.text_dim)
    }

    /// One batch through codec, ODE and decoder: returns target and
    /// residual of `T * hop` samples per input (not cut). `noise` is
    /// `[B, T, 2C]`, already checked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_batch(
        &self,
        inputs: &[&[f32]],
        text: &TextFeatures,
        anchors: &AnchorBatch,
        noise: &[f32],
        ode: &OdeOptions,
        decode_chunk: Option<usize>,
        cancel: &dyn Fn() -> bool,
    ) -> Result<TargetResidual> {
        let m = &self.manifest;
        let (hop, c, c2) = (m.hop_length, m.codebook_dim, self.c2());
        let batch = inputs.len();
        let longest = inputs.iter().map(|x| x.len()).max().unwrap_or(0);
        let frames = self.frames_for(longest);
        let samples = frames * hop;
        stopped_if(cancel)?;
        let mut audio = vec![0.0f32; batch * samples];
        for (b, x) in inputs.iter().enumerate() {
            audio[b * samples..b * samples + x.len()].copy_from_slice(x);
        }
        let feats = self.graphs.encode_audio(&audio, batch, samples, c, hop)?;
        drop(audio);
        // [B, C, T] -> [B, T, 2C], the features twice.
        let mut af = vec![0.0f32; batch * frames * c2];
        for b in 0..batch {
            for ch in 0..c {
                let row = &feats[(b * c + ch) * frames..(b * c + ch + 1) * frames];
                for (t, &v) in row.iter().enumerate() {
                    let base = (b * frames + t) * c2;
                    af[base + ch] = v;
                    af[base + c + ch] = v;
                }
            }
        }
        drop(feats);
        let x = ode::solve(noise, ode, cancel, |t, x| {
            self.graphs
                .velocity(x, &af, text, anchors, t, batch, frames, c2, m.text_dim)
        })?;
        drop(af);
        // [B, T, 2C] -> target / residual [B, C, T].
        let mut tf = vec![0.0f32; batch * c * frames];
        let mut rf = vec![0.0f32; batch * c * frames];
        for b in 0..batch {
            for t in 0..frames {
                let base = (b * frames + t) * c2;
                for ch in 0..c {
                    tf[(b * c + ch) * frames + t] = x[base + ch];
                    rf[(b * c + ch) * frames + t] = x[base + c + ch];
                }
            }
        }
        drop(x);
        let target = self
            .graphs
            .decode(&tf, batch, c, frames, hop, decode_chunk, cancel)?;
        drop(tf);
        let residual = self
            .graphs
            .decode(&rf, batch, c, frames, hop, decode_chunk, cancel)?;
        Ok((target, residual))
    }

    /// Separates a batch of short inputs (the reference's `separate` on the
    /// processor path): `inputs[b]` is mono at [`sample_rate`](Self::sample_rate),
    /// `descriptions[b]` what to extract from it. Inputs may differ in length
    /// (zero-padded to the longest for the model; outputs are cut back).
    /// `cancel` is polled before every model call.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`]: `descriptions` count differs from the
    /// inputs', an empty description (`description`), `ode.stepSize`,
    /// `decodeChunkSize`, `anchors` (see [`SeparateOptions::anchors`]), an
    /// input longer than `maxFrames * hopLength` samples (`input`, naming
    /// the limit; use [`SamAudio::long_separator`]);
    /// [`Error::EmptyAudio`] (no inputs or an empty one);
    /// [`Error::NonFiniteSample`] (`channel` = the input's index);
    /// [`Error::Shape`] (noise not `B * T * 2C` values); model errors;
    /// [`Error::InvalidState`] when cancelled.
    pub fn separate(
        &self,
        inputs: &[&[f32]],
        descriptions: &[&str],
        options: &SeparateOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<PromptSeparation> {
        let m = &self.manifest;
        if inputs.is_empty() {
            return Err(Error::EmptyAudio {
                reason: "no input to separate".into(),
            });
        }
        if descriptions.len() != inputs.len() {
            return Err(Error::param(
                "descriptions",
                format!(
                    "give one description per input: {} descriptions for {} inputs",
                    descriptions.len(),
                    inputs.len()
                ),
            ));
        }
        for d in descriptions {
            check_description(d)?;
        }
        options.ode.check()?;
        check_decode_chunk(options.decode_chunk_size)?;
        let rate = f64::from(m.sample_rate);
        for (b, x) in inputs.iter().enumerate() {
            if x.is_empty() {
                return Err(Error::EmptyAudio {
                    reason: format!("input {b} has no samples"),
                });
            }
            check_finite(x, 0, b)?;
            if self.frames_for(x.len()) > m.max_frames {
                return Err(Error::param(
                    "input",
                    format!(
                        "input {b} is {} samples ({:.2} s); one pass of this model takes at most {} samples \
                         ({:.2} s = maxFrames {} x hop {}); use the long path (separateLong / separateStreaming)",
                        x.len(),
                        x.len() as f64 / rate,
                        self.max_samples(),
                        self.max_samples() as f64 / rate,
                        m.max_frames,
                        m.hop_length
                    ),
                ));
            }
        }
        if let Some(a) = &options.anchors {
            let durations: Vec<f64> = inputs.iter().map(|x| x.len() as f64 / rate).collect();
            anchors::validate(a, &durations)?;
        }
        let batch = inputs.len();
        let longest = inputs.iter().map(|x| x.len()).max().unwrap_or(0);
        let frames = self.frames_for(longest);
        let shape = [batch, frames, self.c2()];
        let want = batch * frames * self.c2();
        // Drawn noise is moved into the result; given noise is copied into
        // it (the ODE copies either once into its state).
        let (drawn, seed) = match &options.noise {
            Some(n) if n.len() != want => {
                return Err(Error::shape(format!(
                    "noise has {} values; this batch needs [{batch}, {frames}, {}] = {want}",
                    n.len(),
                    self.c2()
                )))
            }
            Some(_) => (None, None),
            None => {
                let seed = match options.seed {
                    Some(s) => s,
                    None => noise::os_seed()?,
                };
                (Some(noise::normal(seed, want)), Some(seed))
            }
        };
        let noise: &[f32] = match (&drawn, &options.noise) {
            (Some(d), _) => d,
            (None, Some(n)) => n,
            (None, None) => &[],
        };
        let started = std::time::Instant::now();
        let text = self.encode_text(descriptions)?;
        let sizes: Vec<usize> = inputs.iter().map(|x| self.frames_for(x.len())).collect();
        let anchor_batch = anchors::build(
            options.anchors.as_deref(),
            &sizes,
            frames,
            &m.anchor_tokens,
            m.sample_rate,
            m.hop_length,
        );
        let (mut target, mut residual) = self.run_batch(
            inputs,
            &text,
            &anchor_batch,
            noise,
            &options.ode,
            options.decode_chunk_size,
            cancel,
        )?;
        for ((t, r), x) in target.iter_mut().zip(residual.iter_mut()).zip(inputs) {
            t.truncate(x.len());
            r.truncate(x.len());
        }
        log::debug!(
            target: crate::runtime::LOG,
            "SAM-Audio separate: {batch} input(s), {frames} frames, {} {} steps in {:.3} s",
            options.ode.steps(),
            options.ode.method.as_str(),
            started.elapsed().as_secs_f64()
        );
        let noise = match drawn {
            Some(d) => d,
            None => noise.to_vec(),
        };
        Ok(PromptSeparation {
            target,
            residual,
            noise,
            noise_shape: shape,
            seed,
            peak_memory_bytes: peak_memory_bytes(),
        })
    }

    /// Checks long/streaming options without running anything (no text
    /// encoding): `ode.stepSize` (see [`OdeOptions::check`]),
    /// `decodeChunkSize`, `chunkSeconds` (> 0, at most `maxFrames` frames)
    /// and `overlapSeconds` (`[0, chunkSeconds / 2]`). What
    /// [`long_separator`](Self::long_separator) checks, except the
    /// description; cheap enough to call before queueing work.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the option.
    pub fn check_long_options(&self, options: &LongOptions) -> Result<()> {
        long::long_params(self, options).map(|_| ())
    }

    /// A long/streaming separation of one input with `description`: push
    /// input, pull blended pieces ([`LongSeparator`]); memory bounded by the
    /// chunk. Keeps an [`Arc`] of the model.
    ///
    /// # Errors
    /// See [`LongSeparator::new`].
    pub fn long_separator(
        self: &Arc<Self>,
        description: &str,
        options: LongOptions,
    ) -> Result<LongSeparator> {
        LongSeparator::new(self, description, options)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sam_audio_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        fn send<T: Send>() {}
        check::<super::SamAudio>();
        check::<super::LongSeparator>();
        // Moves to a worker thread; one thread steps it at a time.
        send::<super::LongFileJob>();
    }
}
