//! Temporal anchors (`+`/`-` spans) and the DiT's `anchor_ids`,
//! `anchor_alignment` and `anchor_scale` inputs.
//!
//! Built exactly as mlx-audio 0.6.2 `SAMAudioProcessor.process_anchors`:
//! every row of `anchor_ids` starts `[<null>, <pad>]`, then one token per
//! anchor, padded with `<pad>` to the batch's longest row; `anchor_alignment`
//! is 0 on real frames, 1 (the `<pad>` column) on frames past an input's
//! `ceil(len / hop)`, and for anchor `k` of an input the frames
//! `[ceil(int(start * sr) / hop), min(ceil(int(end * sr) / hop), T))` are set
//! to `2 + k` (later anchors overwrite earlier ones where they overlap).

use resonode_core::{Error, Result};

use super::manifest::AnchorTokens;

/// Whether the target sounds in an anchor's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnchorKind {
    /// `'+'`: the target is here.
    Positive,
    /// `'-'`: the target is not here.
    Negative,
}

impl AnchorKind {
    /// `"+"` or `"-"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnchorKind::Positive => "+",
            AnchorKind::Negative => "-",
        }
    }
}

impl std::str::FromStr for AnchorKind {
    type Err = Error;
    /// Parses `"+"` or `"-"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`anchors`) otherwise.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "+" => Ok(AnchorKind::Positive),
            "-" => Ok(AnchorKind::Negative),
            o => Err(Error::param(
                "anchors",
                format!("an anchor kind is '+' or '-', got `{o}`"),
            )),
        }
    }
}

/// A temporal prompt: the span `[start_s, end_s)` in seconds of the input,
/// where the target sounds (`+`) or does not (`-`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// `+` or `-`.
    pub kind: AnchorKind,
    /// Start in seconds, `>= 0`.
    pub start_s: f64,
    /// End in seconds, `> start_s` and at most the input's duration.
    pub end_s: f64,
}

/// The three anchor inputs of the DiT for one batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnchorBatch {
    /// `[batch, count]` row-major.
    pub ids: Vec<i64>,
    /// Columns of `ids`.
    pub count: usize,
    /// `[batch, frames]` row-major.
    pub alignment: Vec<i64>,
    /// `anchor_scale` (one value for every row): 1 on the processor path, 0 when the reference passes no anchors.
    pub scale: f32,
}

/// Checks `anchors` (one list per input) against the inputs' durations in
/// seconds.
///
/// # Errors
/// [`Error::InvalidParameter`] (`anchors`) naming the input and anchor:
/// a list count other than the input count, a non-finite time, `start < 0`,
/// `start >= end`, `end` past the input's duration, or a `+` span that
/// overlaps a `-` span of the same input.
pub(crate) fn validate(anchors: &[Vec<Anchor>], durations_s: &[f64]) -> Result<()> {
    if anchors.len() != durations_s.len() {
        return Err(Error::param(
            "anchors",
            format!(
                "give one anchor list per input: {} lists for {} inputs",
                anchors.len(),
                durations_s.len()
            ),
        ));
    }
    for (b, (list, &dur)) in anchors.iter().zip(durations_s).enumerate() {
        for (k, a) in list.iter().enumerate() {
            let what = format!(
                "anchor {k} (['{}', {}, {}]) of input {b}",
                a.kind.as_str(),
                a.start_s,
                a.end_s
            );
            if !(a.start_s.is_finite() && a.end_s.is_finite()) {
                return Err(Error::param(
                    "anchors",
                    format!("{what}: start and end must be finite"),
                ));
            }
            if a.start_s < 0.0 {
                return Err(Error::param(
                    "anchors",
                    format!("{what}: start must be >= 0 s"),
                ));
            }
            if a.start_s >= a.end_s {
                return Err(Error::param(
                    "anchors",
                    format!("{what}: start must be before end"),
                ));
            }
            if a.end_s > dur {
                return Err(Error::param(
                    "anchors",
                    format!("{what}: end is past the end of the input ({dur:.6} s)"),
                ));
            }
        }
        for (k, a) in list.iter().enumerate() {
            for (j, o) in list.iter().enumerate().skip(k + 1) {
                if a.kind != o.kind && a.start_s < o.end_s && o.start_s < a.end_s {
                    return Err(Error::param(
                        "anchors",
                        format!(
                            "anchors {k} (['{}', {}, {}]) and {j} (['{}', {}, {}]) of input {b} contradict each other: \
                             a '+' span overlaps a '-' span",
                            a.kind.as_str(),
                            a.start_s,
                            a.end_s,
                            o.kind.as_str(),
                            o.start_s,
                            o.end_s
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `anchor_ids`/`anchor_alignment` of the processor path (`anchor_scale` 1)
/// for inputs of `sizes[b]` frames in a batch of `frames` frames; `anchors`
/// must have passed [`validate`].
pub(crate) fn build(
    anchors: Option<&[Vec<Anchor>]>,
    sizes: &[usize],
    frames: usize,
    tokens: &AnchorTokens,
    sample_rate: u32,
    hop: usize,
) -> AnchorBatch {
    let batch = sizes.len();
    let mut alignment = vec![0i64; batch * frames];
    for (b, &size) in sizes.iter().enumerate() {
        alignment[b * frames + size.min(frames)..(b + 1) * frames].fill(1);
    }
    let mut rows: Vec<Vec<i64>> = vec![vec![tokens.null, tokens.pad]; batch];
    if let Some(lists) = anchors {
        let to_frame = |s: f64| -> usize {
            // Python: math.ceil(int(s * sr) / hop).
            let samples = (s * f64::from(sample_rate)).trunc().max(0.0) as u64;
            samples.div_ceil(hop as u64) as usize
        };
        for (b, list) in lists.iter().enumerate().take(batch) {
            for a in list {
                let idx = rows[b].len() as i64;
                let start = to_frame(a.start_s);
                let end = to_frame(a.end_s).min(frames);
                if start < end {
                    alignment[b * frames + start..b * frames + end].fill(idx);
                }
                rows[b].push(match a.kind {
                    AnchorKind::Positive => tokens.positive,
                    AnchorKind::Negative => tokens.negative,
                });
            }
        }
    }
    let count = rows.iter().map(Vec::len).max().unwrap_or(2);
    let mut ids = Vec::with_capacity(batch * count);
    for r in &rows {
        ids.extend_from_slice(r);
        ids.extend(std::iter::repeat_n(tokens.pad, count - r.len()));
    }
    AnchorBatch {
        ids,
        count,
        alignment,
        scale: 1.0,
    }
}

/// The inputs for the reference's `anchor_ids=None` (chunked paths):
/// `[<null>, <pad>]`, alignment 0, `anchor_scale` 0 (the anchor term is off,
/// so ids and alignment do not matter).
pub(crate) fn absent(batch: usize, frames: usize, tokens: &AnchorTokens) -> AnchorBatch {
    let ids = (0..batch).flat_map(|_| [tokens.null, tokens.pad]).collect();
    AnchorBatch {
        ids,
        count: 2,
        alignment: vec![0; batch * frames],
        scale: 0.0,
    }
}
