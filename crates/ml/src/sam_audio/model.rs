//! The four ONNX graphs of an exported SAM-Audio folder and one call of each:
//! codec encode/decode (with the reference's chunked decode), the T5 text
//! encoder and one DiT velocity evaluation.

use std::path::Path;
use std::sync::Mutex;

use ort::value::TensorRef;
use resonode_core::{Error, Result};

use super::anchors::AnchorBatch;
use super::manifest::SamAudioManifest;
use super::tokenizer::TokenBatch;
use crate::model::{Model, TensorSpec};
use crate::runtime::SessionOptions;

/// Frames of overlap between decode chunks (`DACVAE._decode_chunked`'s `overlap=4`).
pub(crate) const DECODE_OVERLAP: usize = 4;

/// Encoded descriptions: `features` `[batch, tokens, textDim]`, `mask` `[batch, tokens]` (true = attend).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextFeatures {
    pub features: Vec<f32>,
    pub mask: Vec<bool>,
    pub batch: usize,
    pub tokens: usize,
}

/// The sessions. Each sits behind its own mutex (running a session needs
/// `&mut`), so a [`super::SamAudio`] is `Send + Sync` and concurrent jobs
/// take turns per graph.
pub(crate) struct Graphs {
    pub codec_encoder: Mutex<Model>,
    pub codec_decoder: Mutex<Model>,
    pub text_encoder: Mutex<Model>,
    pub dit: Mutex<Model>,
}

fn spec<'a>(name: &'a str, element_type: &'a str, shape: &'a [i64]) -> TensorSpec<'a> {
    TensorSpec {
        name,
        element_type,
        shape,
    }
}

fn lock(m: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn infer_err(path: &str, e: impl std::fmt::Display) -> Error {
    crate::model::inference_error(path, "SAM-Audio", e)
}

/// Loads one graph (its presence was checked by [`super::SamAudio::load`])
/// and checks its inputs and outputs against what the manifest says.
fn load_graph(
    dir: &Path,
    file: &str,
    opts: &SessionOptions,
    inputs: &[TensorSpec<'_>],
    outputs: &[TensorSpec<'_>],
) -> Result<Mutex<Model>> {
    let model = Model::load(&dir.join(file), opts)?;
    model.check_inputs(inputs)?;
    model.check_outputs(outputs)?;
    Ok(Mutex::new(model))
}

impl Graphs {
    /// Loads the four graphs of `dir` and checks their I/O names, element
    /// types, ranks and fixed dimensions against `m`.
    pub(crate) fn load(dir: &Path, m: &SamAudioManifest, opts: &SessionOptions) -> Result<Graphs> {
        let c = m.codebook_dim as i64;
        let d = m.text_dim as i64;
        let f = &m.files;
        let (feat, text, lat) = ([-1, c, -1], [-1, -1, d], [-1, -1, 2 * c]);
        let codec_encoder = load_graph(
            dir,
            &f.codec_encoder,
            opts,
            &[spec("audio", "float32", &[-1, 1, -1])],
            &[spec("features", "float32", &feat)],
        )?;
        let codec_decoder = load_graph(
            dir,
            &f.codec_decoder,
            opts,
            &[spec("features", "float32", &feat)],
            &[spec("audio", "float32", &[-1, 1, -1])],
        )?;
        let text_encoder = load_graph(
            dir,
            &f.text_encoder,
            opts,
            &[
                spec("input_ids", "int64", &[-1, -1]),
                spec("attention_mask", "int64", &[-1, -1]),
            ],
            &[spec("text_features", "float32", &text)],
        )?;
        let dit = load_graph(
            dir,
            &f.dit,
            opts,
            &[
                spec("noisy", "float32", &lat),
                spec("audio_features", "float32", &lat),
                spec("text_features", "float32", &text),
                spec("text_mask", "bool", &[-1, -1]),
                spec("time", "float32", &[-1]),
                spec("anchor_ids", "int64", &[-1, -1]),
                spec("anchor_alignment", "int64", &[-1, -1]),
                spec("anchor_scale", "float32", &[-1]),
            ],
            &[spec("velocity", "float32", &lat)],
        )?;
        Ok(Graphs {
            codec_encoder,
            codec_decoder,
            text_encoder,
            dit,
        })
    }

    /// `codec_encoder`: `audio` `[batch, 1, samples]` (samples a multiple of
    /// the hop) to `features` `[batch, C, samples / hop]`.
    pub(crate) fn encode_audio(
        &self,
        audio: &[f32],
        batch: usize,
        samples: usize,
        c: usize,
        hop: usize,
    ) -> Result<Vec<f32>> {
        let mut g = lock(&self.codec_encoder);
        let path = g.path().to_string();
        let frames = samples / hop;
        let x = TensorRef::from_array_view(([batch, 1, samples], audio))
            .map_err(|e| infer_err(&path, e))?;
        let out = g
            .session_mut()
            .run(ort::inputs!["audio" => x])
            .map_err(|e| infer_err(&path, e))?;
        Model::output_f32(&out, "features", batch * c * frames, &path, "SAM-Audio")
    }

    /// `text_encoder`: token ids and mask to `text_features` `[batch, tokens, textDim]`.
    pub(crate) fn encode_text(&self, tokens: &TokenBatch, dim: usize) -> Result<TextFeatures> {
        let mut g = lock(&self.text_encoder);
        let path = g.path().to_string();
        let shape = [tokens.batch, tokens.tokens];
        let ids = TensorRef::from_array_view((shape, &tokens.ids[..]))
            .map_err(|e| infer_err(&path, e))?;
        let mask = TensorRef::from_array_view((shape, &tokens.mask[..]))
            .map_err(|e| infer_err(&path, e))?;
        let out = g
            .session_mut()
            .run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
            .map_err(|e| infer_err(&path, e))?;
        let features = Model::output_f32(
            &out,
            "text_features",
            tokens.batch * tokens.tokens * dim,
            &path,
            "SAM-Audio",
        )?;
        Ok(TextFeatures {
            features,
            mask: tokens.mask.iter().map(|&m| m != 0).collect(),
            batch: tokens.batch,
            tokens: tokens.tokens,
        })
    }

    /// One DiT evaluation (`SAMAudio.__call__`): the velocity `[batch, frames, 2C]` at time `t` for `noisy`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn velocity(
        &self,
        noisy: &[f32],
        audio_features: &[f32],
        text: &TextFeatures,
        anchors: &AnchorBatch,
        t: f32,
        batch: usize,
        frames: usize,
        c2: usize,
        text_dim: usize,
    ) -> Result<Vec<f32>> {
        let mut g = lock(&self.dit);
        let path = g.path().to_string();
        let e = |err: ort::Error| infer_err(&path, err);
        let time = vec![t; batch];
        let scale = vec![anchors.scale; batch];
        let noisy_t = TensorRef::from_array_view(([batch, frames, c2], noisy)).map_err(e)?;
        let af = TensorRef::from_array_view(([batch, frames, c2], audio_features)).map_err(e)?;
        let tf =
            TensorRef::from_array_view(([text.batch, text.tokens, text_dim], &text.features[..]))
                .map_err(e)?;
        let tm =
            TensorRef::from_array_view(([text.batch, text.tokens], &text.mask[..])).map_err(e)?;
        let time_t = TensorRef::from_array_view(([batch], &time[..])).map_err(e)?;
        let ids =
            TensorRef::from_array_view(([batch, anchors.count], &anchors.ids[..])).map_err(e)?;
        let al =
            TensorRef::from_array_view(([batch, frames], &anchors.alignment[..])).map_err(e)?;
        let sc = TensorRef::from_array_view(([batch], &scale[..])).map_err(e)?;
        let out = g
            .session_mut()
            .run(ort::inputs![
                "noisy" => noisy_t,
                "audio_features" => af,
                "text_features" => tf,
                "text_mask" => tm,
                "time" => time_t,
                "anchor_ids" => ids,
                "anchor_alignment" => al,
                "anchor_scale" => sc,
            ])
            .map_err(|err| infer_err(&path, err))?;
        Model::output_f32(&out, "velocity", batch * frames * c2, &path, "SAM-Audio")
    }

    /// `codec_decoder` on `features` `[batch, C, frames]` (already contiguous):
    /// `[batch, frames * hop]`.
    fn decode_once(
        &self,
        features: &[f32],
        batch: usize,
        c: usize,
        frames: usize,
        hop: usize,
    ) -> Result<Vec<f32>> {
        let mut g = lock(&self.codec_decoder);
        let path = g.path().to_string();
        let x = TensorRef::from_array_view(([batch, c, frames], features))
            .map_err(|e| infer_err(&path, e))?;
        let out = g
            .session_mut()
            .run(ort::inputs!["features" => x])
            .map_err(|e| infer_err(&path, e))?;
        Model::output_f32(&out, "audio", batch * frames * hop, &path, "SAM-Audio")
    }

    /// `DACVAE.decode(features, chunk_size)`: `features` `[batch, C, frames]`
    /// to one signal of `frames * hop` samples per item. With `chunk` the
    /// frames are decoded `chunk` at a time, each chunk starting 4 frames
    /// before the previous one ended, and blended as `_decode_chunked` does
    /// (previous tail x `linspace(1, 0, 4 hop)` + next head x `linspace(0, 1, 4 hop)`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decode(
        &self,
        features: &[f32],
        batch: usize,
        c: usize,
        frames: usize,
        hop: usize,
        chunk: Option<usize>,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Vec<Vec<f32>>> {
        let split = |flat: Vec<f32>, n: usize| -> Vec<Vec<f32>> {
            flat.chunks(n).map(<[f32]>::to_vec).collect()
        };
        let chunk = match chunk {
            Some(cs) if cs < frames => cs,
            _ => {
                return Ok(split(
                    self.decode_once(features, batch, c, frames, hop)?,
                    frames * hop,
                ))
            }
        };
        let os = DECODE_OVERLAP * hop;
        let fade_out = linspace(1.0, 0.0, os);
        let fade_in = linspace(0.0, 1.0, os);
        let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(frames * hop); batch];
        let mut start = 0usize;
        let mut first = true;
        loop {
            super::stopped_if(cancel)?;
            let end = (start + chunk).min(frames);
            let n = end - start;
            let mut part = Vec::with_capacity(batch * c * n);
            for b in 0..batch {
                for ch in 0..c {
                    let row = (b * c + ch) * frames;
                    part.extend_from_slice(&features[row + start..row + end]);
                }
            }
            let y = self.decode_once(&part, batch, c, n, hop)?;
            let last = end >= frames;
            let len = n * hop;
            for (b, o) in out.iter_mut().enumerate() {
                let y = &y[b * len..(b + 1) * len];
                let mut head = 0;
                if !first {
                    // Add the faded-in head to the previous faded-out tail.
                    let base = o.len() - os;
                    for k in 0..os {
                        o[base + k] += y[k] * fade_in[k];
                    }
                    head = os;
                }
                if last {
                    o.extend_from_slice(&y[head..]);
                } else {
                    // A middle chunk has `chunk >= 8` frames, so `len >= 2 os`.
                    let tail = len - os;
                    o.extend_from_slice(&y[head..tail]);
                    o.extend(y[tail..].iter().zip(&fade_out).map(|(v, f)| v * f));
                }
            }
            if last {
                break;
            }
            first = false;
            start = end - DECODE_OVERLAP;
        }
        Ok(out)
    }
}

/// `mx.linspace(start, stop, n)` in `f32`: `start + i * (stop - start) / (n - 1)`.
pub(crate) fn linspace(start: f32, stop: f32, n: usize) -> Vec<f32> {
    match n {
        0 => return Vec::new(),
        1 => return vec![start],
        _ => {}
    }
    let delta = (stop - start) / (n - 1) as f32;
    (0..n).map(|i| start + i as f32 * delta).collect()
}
