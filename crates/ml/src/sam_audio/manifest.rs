//! The exported model folder's `manifest.json` ([`SamAudioManifest`]).

use std::path::Path;

use resonode_core::{Error, Result};
use serde_json::Value;

/// The `format` value of a resonode SAM-Audio manifest.
pub const MANIFEST_FORMAT: &str = "resonode-sam-audio";
/// The manifest `version` this build reads.
pub const MANIFEST_VERSION: u64 = 1;

/// Ids of the anchor tokens (`anchorTokens`; SAM-Audio's
/// `SAMAudioProcessor.ANCHOR_DICT`: `<null>` 0, `+` 1, `-` 2, `<pad>` 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorTokens {
    /// `<null>`: column 0 of every row of `anchor_ids`.
    pub null: i64,
    /// `+`: the target sounds in this span.
    pub positive: i64,
    /// `-`: the target does not sound in this span.
    pub negative: i64,
    /// `<pad>`: column 1, padding of the rows, and the alignment of padded frames.
    pub pad: i64,
}

/// The files of the folder (`files`), relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFiles {
    /// `codecEncoder`: DAC-VAE encoder (`audio` [B, 1, samples] -> `features` [B, C, frames]).
    pub codec_encoder: String,
    /// `codecDecoder`: DAC-VAE decoder (`features` [B, C, frames] -> `audio` [B, 1, frames*hop]).
    pub codec_decoder: String,
    /// `textEncoder`: T5 encoder (`input_ids`, `attention_mask` -> `text_features`).
    pub text_encoder: String,
    /// `dit`: one velocity evaluation of the flow-matching transformer.
    pub dit: String,
    /// `tokenizer`: a Hugging Face `tokenizer.json`.
    pub tokenizer: String,
}

/// What an exported SAM-Audio model folder declares (`manifest.json`,
/// written by `scripts/export_sam_audio.py`; see `docs` of the module).
#[derive(Debug, Clone, PartialEq)]
pub struct SamAudioManifest {
    /// `name`, e.g. `"sam-audio-tiny"`.
    pub name: String,
    /// `sampleRate` in Hz (48000 for the released models).
    pub sample_rate: u32,
    /// `hopLength`: samples per codec frame (product of the encoder rates; 1920 released, 240 tiny).
    pub hop_length: usize,
    /// `codebookDim` (`C`): channels of the codec features; the DiT works on `2C`.
    pub codebook_dim: usize,
    /// `textDim`: width of the T5 features.
    pub text_dim: usize,
    /// `textMaxLength`: tokens per description after truncation (special tokens included).
    pub text_max_length: usize,
    /// `maxFrames`: the most codec frames one model pass takes (the DiT's RoPE `max_positions`).
    pub max_frames: usize,
    /// `anchorTokens`.
    pub anchor_tokens: AnchorTokens,
    /// `files`.
    pub files: ManifestFiles,
    /// `data` (optional): the external-data files of graphs too large for
    /// one protobuf (> 2 GB; the exporter moves the weights of any graph over
    /// 1.5 GB out), as `("data.<graph key>", file)`, e.g.
    /// `("data.dit", "dit.onnx.data")`. ONNX Runtime reads them from beside
    /// the graph; [`super::SamAudio::load`] checks they exist.
    pub data: Vec<(String, String)>,
    /// `source`: provenance (checkpoint, T5, exporter, mlx-audio version), as written.
    pub source: Value,
}

/// Checks a file name of the manifest: a plain name inside the folder (not
/// absolute, no `..`, no path separator).
fn check_file_name(path: &Path, key: &str, name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !Path::new(name).is_absolute()
        && !name.contains(':');
    if plain {
        Ok(())
    } else {
        Err(bad(
            path,
            format!("`{key}` is `{name}`: it must be a plain file name inside the model folder (no path, no `..`)"),
        ))
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl SamAudioManifest {
    /// Reads and checks `dir/manifest.json`.
    ///
    /// # Errors
    /// [`Error::Model`] naming the problem: unreadable or not JSON, a
    /// `format` other than `"resonode-sam-audio"`, a `version` other than 1,
    /// a missing or non-positive number, missing `anchorTokens` or `files`,
    /// a `files.*` or `data.*` value that is not a plain file name
    /// (absolute, `..`, a path separator), naming the key.
    pub fn read(dir: &Path) -> Result<SamAudioManifest> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| bad(&path, format!("cannot read the manifest: {e}")))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| bad(&path, format!("the manifest is not valid JSON: {e}")))?;
        Self::from_json(&v, &path)
    }

    /// Parses a manifest already read as JSON; `path` is used in messages.
    ///
    /// # Errors
    /// As [`SamAudioManifest::read`].
    pub fn from_json(v: &Value, path: &Path) -> Result<SamAudioManifest> {
        let format = v.get("format").and_then(Value::as_str).unwrap_or("");
        if format != MANIFEST_FORMAT {
            return Err(bad(
                path,
                format!("`format` is `{format}`, expected `{MANIFEST_FORMAT}`"),
            ));
        }
        match v.get("version").and_then(Value::as_u64) {
            Some(MANIFEST_VERSION) => {}
            other => {
                return Err(bad(
                    path,
                    format!(
                        "`version` is {}, this resonode reads version {MANIFEST_VERSION}",
                        other.map_or_else(|| "missing".to_string(), |n| n.to_string())
                    ),
                ))
            }
        }
        let num = |key: &str| -> Result<usize> {
            match v.get(key).and_then(Value::as_u64) {
                Some(n) if n > 0 && n <= u32::MAX as u64 => Ok(n as usize),
                _ => Err(bad(
                    path,
                    format!(
                        "`{key}` must be a whole number > 0, got {}",
                        v.get(key).unwrap_or(&Value::Null)
                    ),
                )),
            }
        };
        let tokens = v
            .get("anchorTokens")
            .ok_or_else(|| bad(path, "`anchorTokens` is missing"))?;
        let token = |key: &str| -> Result<i64> {
            tokens
                .get(key)
                .and_then(Value::as_i64)
                .filter(|&n| n >= 0)
                .ok_or_else(|| bad(path, format!("`anchorTokens` has no id >= 0 for `{key}`")))
        };
        let files = v
            .get("files")
            .ok_or_else(|| bad(path, "`files` is missing"))?;
        let file = |key: &str| -> Result<String> {
            let name = files
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(path, format!("`files.{key}` is missing")))?;
            check_file_name(path, &format!("files.{key}"), name)?;
            Ok(name.to_string())
        };
        let mut data = Vec::new();
        match v.get("data") {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                for (key, f) in o {
                    let k = format!("data.{key}");
                    let name = f
                        .as_str()
                        .ok_or_else(|| bad(path, format!("`{k}` must be a file name, got {f}")))?;
                    check_file_name(path, &k, name)?;
                    data.push((k, name.to_string()));
                }
            }
            Some(o) => {
                return Err(bad(
                    path,
                    format!("`data` must be an object of file names, got {o}"),
                ))
            }
        }
        Ok(SamAudioManifest {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            sample_rate: num("sampleRate")? as u32,
            hop_length: num("hopLength")?,
            codebook_dim: num("codebookDim")?,
            text_dim: num("textDim")?,
            text_max_length: num("textMaxLength")?,
            max_frames: num("maxFrames")?,
            anchor_tokens: AnchorTokens {
                null: token("<null>")?,
                positive: token("+")?,
                negative: token("-")?,
                pad: token("<pad>")?,
            },
            files: ManifestFiles {
                codec_encoder: file("codecEncoder")?,
                codec_decoder: file("codecDecoder")?,
                text_encoder: file("textEncoder")?,
                dit: file("dit")?,
                tokenizer: file("tokenizer")?,
            },
            data,
            source: v.get("source").cloned().unwrap_or(Value::Null),
        })
    }
}
