//! Tokenizing descriptions for the T5 text encoder ([`TextTokenizer`]).

use std::path::Path;

use resonode_core::{Error, Result};
use tokenizers::{PaddingDirection, Tokenizer, TruncationParams};

/// A description batch as the text encoder takes it: `ids` and `mask`,
/// both `[batch, tokens]` row-major int64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Token ids, padded with the pad id.
    pub ids: Vec<i64>,
    /// 1 for a token, 0 for padding.
    pub mask: Vec<i64>,
    /// Rows.
    pub batch: usize,
    /// Columns: the longest description's token count (at most `textMaxLength`).
    pub tokens: usize,
}

/// The Hugging Face tokenizer of the folder's `tokenizer.json`, encoding as
/// the reference's `tokenizer(texts, truncation=True, max_length=textMaxLength,
/// padding="longest")` (mlx-audio 0.6.2 `T5TextEncoder.__call__`): special
/// tokens added (T5 appends `</s>`; truncation keeps room for it), padded to
/// the longest with the pad id of the file (T5: `<pad>` = 0).
pub struct TextTokenizer {
    inner: Tokenizer,
    pad_id: i64,
    pad_left: bool,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("pad_id", &self.pad_id)
            .finish_non_exhaustive()
    }
}

impl TextTokenizer {
    /// Loads `path` (a `tokenizer.json`) truncating to `max_length` tokens.
    ///
    /// # Errors
    /// [`Error::Model`] when the file cannot be read or parsed.
    pub fn load(path: &Path, max_length: usize) -> Result<TextTokenizer> {
        let name = path.display().to_string();
        let mut inner = Tokenizer::from_file(path).map_err(|e| Error::Model {
            path: name.clone(),
            reason: format!("not a usable tokenizer.json: {e}"),
        })?;
        let (pad_id, pad_left) = match inner.get_padding() {
            Some(p) => (
                i64::from(p.pad_id),
                matches!(p.direction, PaddingDirection::Left),
            ),
            None => (inner.token_to_id("<pad>").map_or(0, i64::from), false),
        };
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::Model {
                path: name,
                reason: format!("cannot set truncation: {e}"),
            })?;
        Ok(TextTokenizer {
            inner,
            pad_id,
            pad_left,
        })
    }

    /// Encodes `texts` into one padded batch.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`description`) when the tokenizer
    /// rejects a text or a text gives no token.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenBatch> {
        let mut rows = Vec::with_capacity(texts.len());
        for t in texts {
            let enc = self
                .inner
                .encode(*t, true)
                .map_err(|e| Error::param("description", format!("cannot tokenize `{t}`: {e}")))?;
            let ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
            if ids.is_empty() {
                return Err(Error::param("description", format!("`{t}` gives no token")));
            }
            rows.push(ids);
        }
        let tokens = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * tokens);
        let mut mask = Vec::with_capacity(rows.len() * tokens);
        for r in &rows {
            let pad = tokens - r.len();
            if self.pad_left {
                ids.extend(std::iter::repeat_n(self.pad_id, pad));
                mask.extend(std::iter::repeat_n(0, pad));
            }
            ids.extend_from_slice(r);
            mask.extend(std::iter::repeat_n(1, r.len()));
            if !self.pad_left {
                ids.extend(std::iter::repeat_n(self.pad_id, pad));
                mask.extend(std::iter::repeat_n(0, pad));
            }
        }
        Ok(TokenBatch {
            ids,
            mask,
            batch: rows.len(),
            tokens,
        })
    }
}
