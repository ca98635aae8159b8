//! Long and streaming separation ([`LongSeparator`]): mlx-audio 0.6.2
//! `SAMAudio.separate_long` and `_separate_streaming_generator`, push-fed and
//! pull-driven, with memory bounded by the chunk.
//!
//! With `chunk = int(chunk_seconds * sr)`, `overlap = int(overlap_seconds * sr)`,
//! `hop = chunk - overlap` and `N` input samples:
//! - `N <= chunk`: one pass over the whole input with noise
//!   `[1, ceil(N / hop_len), 2C]` from `seed`, no anchor term
//!   (`anchor_scale` 0), one piece with `is_last`.
//! - otherwise chunk `i` is samples `[i hop, min(i hop + chunk, N))` for
//!   `i < ceil((N - overlap) / hop)`, separated with the description's text
//!   features computed once and noise from `seed + i`. Each chunk's output is
//!   `ceil(len / hop_len) * hop_len` samples (the reference keeps the codec's
//!   padding). Pieces, as the reference's generator yields them: the first
//!   chunk's output without its last `overlap` samples; then per chunk the
//!   previous output's last `overlap` samples x `fade_out` + this output's
//!   first `overlap` x `fade_in` (`t = linspace(0, 1, overlap)`,
//!   `fade_in = 0.5 (1 - cos(pi t))`, `fade_out = 1 - fade_in`), then the
//!   output between (`[overlap, len - overlap)`, or `[overlap, len)` for the
//!   last chunk). The tails are taken from the hop-padded outputs, exactly as
//!   the reference does, so a chunk length that is not a multiple of the hop
//!   shifts later chunks by the padding.
//!
//! resonode then cuts the output to `N` samples: no piece reaches past the
//! input received so far (a rare excess waits for more input), and the last
//! piece ends at sample `N`, so the pieces concatenated are the reference's
//! `separate_long` output cut to the input's length. `chunk_idx` counts the
//! pieces as the reference does (including its quirk: without overlap every
//! piece has `chunk_idx` 0).
//!
//! Differences from the reference, both where it has no defined result:
//! `overlap_seconds` may be at most half of `chunk_seconds` (beyond that
//! `separate_long` fails on mismatched crossfade shapes); an input no longer
//! than the overlap gives one piece (the reference's generator yields none).

use std::collections::VecDeque;
use std::sync::Arc;

use resonode_core::{Error, Result};

use super::anchors;
use super::model::TextFeatures;
use super::{
    check_decode_chunk, check_description, check_finite, noise, peak_memory_bytes, stopped_if,
    OdeOptions, SamAudio,
};

/// Options of the long/streaming path.
#[derive(Debug, Clone, PartialEq)]
pub struct LongOptions {
    /// Chunk length in seconds (> 0; default 10). `ceil(chunk / hop)` must
    /// not exceed the model's `maxFrames`.
    pub chunk_seconds: f64,
    /// Overlap in seconds, `0 <= overlap <= chunk / 2` (default 3).
    pub overlap_seconds: f64,
    /// ODE solver and step.
    pub ode: OdeOptions,
    /// Decode each chunk in pieces of this many frames (`>= 8`).
    pub decode_chunk_size: Option<usize>,
    /// Seed: chunk `i` draws its noise from `seed + i` (wrapping); default 42.
    pub seed: u64,
    /// The per-chunk noises concatenated along frames (`[1, sum T_i, 2C]`),
    /// instead of drawing them (parity tests).
    pub noise: Option<Vec<f32>>,
}

impl Default for LongOptions {
    fn default() -> Self {
        LongOptions {
            chunk_seconds: 10.0,
            overlap_seconds: 3.0,
            ode: OdeOptions::default(),
            decode_chunk_size: None,
            seed: 42,
            noise: None,
        }
    }
}

/// One piece of a long separation's output, mono at the model rate.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptChunk {
    /// The target samples of this piece.
    pub target: Vec<f32>,
    /// The residual samples (same length).
    pub residual: Vec<f32>,
    /// The piece's index as the reference numbers it.
    pub chunk_idx: usize,
    /// Whether this is the final piece.
    pub is_last: bool,
    /// Where the piece starts in the output, in samples.
    pub start_frame: u64,
}

/// A piece as the reference yields it, before the cut to the input length.
struct RawPiece {
    target: Vec<f32>,
    residual: Vec<f32>,
    chunk_idx: usize,
    is_last: bool,
}

/// A long/streaming separation of one input ([`SamAudio::long_separator`]):
/// [`push`](LongSeparator::push) input, [`finish`](LongSeparator::finish) at
/// its end, and call [`next_piece`](LongSeparator::next_piece) until it
/// returns a piece with `is_last`. Memory: the input from the current
/// chunk's start on (about one chunk plus what was pushed ahead), one
/// chunk's output and noise, and one frame count per chunk run (the noise
/// is rebuilt from the seeds on request, [`noise`](LongSeparator::noise));
/// noise given in [`LongOptions::noise`] is kept whole, as given.
/// See the [module docs](self) for the chunking.
pub struct LongSeparator {
    model: Arc<SamAudio>,
    text: TextFeatures,
    ode: OdeOptions,
    decode_chunk: Option<usize>,
    seed: u64,
    given_noise: Option<Vec<f32>>,
    /// Values of `given_noise` used by the chunks run so far.
    noise_used: usize,
    /// Frames `T_i` of every chunk run so far (its noise is `T_i x 2C` values).
    chunk_frames: Vec<usize>,
    noise_frames: usize,
    chunk: usize,
    overlap: usize,
    hop: usize,
    fade_in: Vec<f32>,
    fade_out: Vec<f32>,
    /// Input samples from `buf_start` on.
    buf: Vec<f32>,
    buf_start: u64,
    frames_in: u64,
    finished: bool,
    next_chunk: usize,
    piece_idx: usize,
    tail_t: Vec<f32>,
    tail_r: Vec<f32>,
    queue: VecDeque<RawPiece>,
    pending_t: Vec<f32>,
    pending_r: Vec<f32>,
    emitted: u64,
    done: bool,
}

impl std::fmt::Debug for LongSeparator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongSeparator")
            .field("chunk", &self.chunk)
            .field("overlap", &self.overlap)
            .field("frames_in", &self.frames_in)
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}

/// `0.5 * (1 - cos(pi * linspace(0, 1, n)))` in f32, and `1 -` it.
fn cosine_fades(n: usize) -> (Vec<f32>, Vec<f32>) {
    let t = super::model::linspace(0.0, 1.0, n);
    let fin: Vec<f32> = t
        .iter()
        .map(|&v| 0.5 * (1.0 - (std::f32::consts::PI * v).cos()))
        .collect();
    let fout = fin.iter().map(|v| 1.0 - v).collect();
    (fin, fout)
}

/// Checks chunk/overlap for `model` and converts them to samples.
pub(crate) fn chunk_samples(
    model: &SamAudio,
    chunk_s: f64,
    overlap_s: f64,
) -> Result<(usize, usize)> {
    let sr = f64::from(model.sample_rate());
    if !(chunk_s.is_finite() && chunk_s > 0.0) || (chunk_s * sr) < 1.0 {
        return Err(Error::param(
            "chunkSeconds",
            format!("must be > 0 (at least one sample); got {chunk_s}"),
        ));
    }
    let chunk = (chunk_s * sr) as usize;
    if model.frames_for(chunk) > model.manifest().max_frames {
        return Err(Error::param(
            "chunkSeconds",
            format!(
                "{chunk_s} s is {chunk} samples; one pass of this model takes at most {} samples ({:.2} s, maxFrames {} x hop {})",
                model.max_samples(),
                model.max_samples() as f64 / sr,
                model.manifest().max_frames,
                model.hop_length()
            ),
        ));
    }
    if !(overlap_s.is_finite() && overlap_s >= 0.0 && overlap_s < chunk_s) {
        return Err(Error::param(
            "overlapSeconds",
            format!("must be >= 0 and less than chunkSeconds ({chunk_s}); got {overlap_s}"),
        ));
    }
    let overlap = (overlap_s * sr) as usize;
    if 2 * overlap > chunk {
        return Err(Error::param(
            "overlapSeconds",
            format!(
                "may be at most half of chunkSeconds ({chunk_s} s): the crossfade of a chunk's head and tail \
                 must not overlap (the reference fails there too); got {overlap_s}"
            ),
        ));
    }
    Ok((chunk, overlap))
}

/// Checks everything of `options` that needs no text encoder (ODE,
/// `decodeChunkSize`, chunk and overlap against the model's `maxFrames`)
/// and returns chunk and overlap in samples.
pub(crate) fn long_params(model: &SamAudio, options: &LongOptions) -> Result<(usize, usize)> {
    options.ode.check()?;
    check_decode_chunk(options.decode_chunk_size)?;
    chunk_samples(model, options.chunk_seconds, options.overlap_seconds)
}

impl LongSeparator {
    /// Starts a long separation: checks the options and encodes the
    /// description once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`]: `description` (empty), `chunkSeconds`
    /// (not > 0, or more than the model's `maxFrames`), `overlapSeconds`
    /// (not in `[0, chunkSeconds / 2]`), `ode.stepSize`, `decodeChunkSize`;
    /// model errors from the text encoder.
    pub fn new(
        model: &Arc<SamAudio>,
        description: &str,
        options: LongOptions,
    ) -> Result<LongSeparator> {
        check_description(description)?;
        let (chunk, overlap) = long_params(model, &options)?;
        let text = model.encode_text(&[description])?;
        let (fade_in, fade_out) = cosine_fades(overlap);
        Ok(LongSeparator {
            model: model.clone(),
            text,
            ode: options.ode,
            decode_chunk: options.decode_chunk_size,
            seed: options.seed,
            given_noise: options.noise,
            noise_used: 0,
            chunk_frames: Vec::new(),
            noise_frames: 0,
            chunk,
            overlap,
            hop: chunk - overlap,
            fade_in,
            fade_out,
            buf: Vec::new(),
            buf_start: 0,
            frames_in: 0,
            finished: false,
            next_chunk: 0,
            piece_idx: 0,
            tail_t: Vec::new(),
            tail_r: Vec::new(),
            queue: VecDeque::new(),
            pending_t: Vec::new(),
            pending_r: Vec::new(),
            emitted: 0,
            done: false,
        })
    }

    /// Appends input (mono, model rate).
    ///
    /// # Errors
    /// [`Error::NonFiniteSample`] (frame counted from the start of the
    /// input); [`Error::InvalidState`] after [`finish`](Self::finish).
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidState {
                reason: "push() after finish(): the input has ended".into(),
            });
        }
        check_finite(samples, self.frames_in, 0)?;
        self.buf.extend_from_slice(samples);
        self.frames_in += samples.len() as u64;
        Ok(())
    }

    /// Marks the end of the input.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the piece with `is_last` was handed out.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Input samples pushed so far.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Output samples handed out so far.
    pub fn frames_out(&self) -> u64 {
        self.emitted
    }

    /// Chunk and overlap in samples.
    pub fn chunk_and_overlap(&self) -> (usize, usize) {
        (self.chunk, self.overlap)
    }

    /// Model chunks run so far.
    pub fn chunks_done(&self) -> usize {
        self.next_chunk
    }

    /// The noise of the chunks run so far, `[1, noise_frames, 2C]` row-major
    /// (the per-chunk noises concatenated along frames, as the reference's
    /// result), built on request: the given [`LongOptions::noise`] as far as
    /// used, or else chunk `i`'s `normal(seed + i, T_i x 2C)` regenerated
    /// ([`noise::normal`]). Allocates `noise_frames x 2C` floats: `2C / hop`
    /// per input sample, 256 / 1920 = 0.13 for the released model (about
    /// 15 MB for 10 minutes at 48 kHz); call it once, at the end, if at all.
    pub fn noise(&self) -> Vec<f32> {
        let c2 = self.model.c2();
        if let Some(g) = &self.given_noise {
            return g[..self.noise_used].to_vec();
        }
        let mut out = Vec::with_capacity(self.noise_frames * c2);
        for (i, &frames) in self.chunk_frames.iter().enumerate() {
            out.extend(noise::normal(self.seed.wrapping_add(i as u64), frames * c2));
        }
        out
    }

    /// Frames of all chunks run so far (`sum ceil(len_i / hop_len)`).
    pub fn noise_frames(&self) -> usize {
        self.noise_frames
    }

    /// Peak resident memory of the process in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        peak_memory_bytes()
    }

    /// Model chunks in all, known once [`finish`](Self::finish) was called:
    /// 1 when the input fits one chunk, else `ceil((N - overlap) / hop)`.
    pub fn chunks_total(&self) -> Option<usize> {
        if !self.finished {
            return None;
        }
        let n = self.frames_in as usize;
        if n <= self.chunk {
            Some(1)
        } else {
            Some((n - self.overlap).div_ceil(self.hop))
        }
    }

    /// Input samples still needed before [`next_piece`](Self::next_piece)
    /// can run the next chunk (0 when it can, or when the input ended).
    pub fn frames_needed(&self) -> u64 {
        if self.finished || self.done || !self.queue.is_empty() {
            return 0;
        }
        // Chunk i runs once a sample past its end exists (then it is not the last).
        let need = (self.next_chunk * self.hop + self.chunk + 1) as u64;
        need.saturating_sub(self.frames_in)
    }

    /// The next piece: hands out a piece already computed, or runs at most
    /// one model chunk. `Ok(None)` when more input is needed (push more, or
    /// finish) or after the piece with `is_last`.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] when the input ended with no samples;
    /// [`Error::Shape`] when given noise is too short or too long for the
    /// input; model errors; [`Error::InvalidState`] when `cancel` says so.
    pub fn next_piece(&mut self, cancel: &dyn Fn() -> bool) -> Result<Option<PromptChunk>> {
        if self.done {
            return Ok(None);
        }
        if self.queue.is_empty() {
            if self.frames_needed() > 0 {
                return Ok(None);
            }
            if self.finished && self.frames_in == 0 {
                return Err(Error::EmptyAudio {
                    reason: "the long separation received no samples".into(),
                });
            }
            self.run_chunk(cancel)?;
        }
        let Some(raw) = self.queue.pop_front() else {
            return Ok(None);
        };
        Ok(Some(self.hand_out(raw)))
    }

    /// Applies the cut to the input length to a raw piece.
    fn hand_out(&mut self, raw: RawPiece) -> PromptChunk {
        self.pending_t.extend_from_slice(&raw.target);
        self.pending_r.extend_from_slice(&raw.residual);
        let room = self.frames_in.saturating_sub(self.emitted) as usize;
        let n = self.pending_t.len().min(room);
        let target: Vec<f32> = self.pending_t.drain(..n).collect();
        let residual: Vec<f32> = self.pending_r.drain(..n).collect();
        let start_frame = self.emitted;
        self.emitted += n as u64;
        if raw.is_last {
            self.done = true;
            self.pending_t = Vec::new();
            self.pending_r = Vec::new();
            self.buf = Vec::new();
            self.tail_t = Vec::new();
            self.tail_r = Vec::new();
        }
        PromptChunk {
            target,
            residual,
            chunk_idx: raw.chunk_idx,
            is_last: raw.is_last,
            start_frame,
        }
    }

    /// Checks that the given noise (if any) has `frames x 2C` values left
    /// for chunk `i` (and, for the last chunk, no more); returns where they
    /// start in it.
    fn check_given_noise(&self, i: usize, frames: usize, last: bool) -> Result<usize> {
        let want = frames * self.model.c2();
        if let Some(g) = &self.given_noise {
            let rest = g.len() - self.noise_used;
            if rest < want || (last && rest != want) {
                return Err(Error::shape(format!(
                    "noise has {} values; this input's chunks need {} by chunk {i} ({} x {} per frame){}",
                    g.len(),
                    self.noise_used + want,
                    self.noise_frames + frames,
                    self.model.c2(),
                    if last { " and no more" } else { "" }
                )));
            }
        }
        Ok(self.noise_used)
    }

    /// Runs chunk `next_chunk` and queues its pieces.
    fn run_chunk(&mut self, cancel: &dyn Fn() -> bool) -> Result<()> {
        stopped_if(cancel)?;
        let i = self.next_chunk;
        let start = (i * self.hop) as u64;
        let total = self.frames_in;
        // Only reached with the input finished or a sample past this chunk's end.
        let single = i == 0 && self.finished && total <= self.chunk as u64;
        let end = if single {
            total
        } else {
            (start + self.chunk as u64).min(total)
        };
        let last = single || (self.finished && total <= start + self.chunk as u64);
        let off = (start - self.buf_start) as usize;
        let len = (end - start) as usize;
        let frames = self.model.frames_for(len);
        let want = frames * self.model.c2();
        let at = self.check_given_noise(i, frames, last)?;
        let anchors = anchors::absent(1, frames, &self.model.manifest().anchor_tokens);
        let x = &self.buf[off..off + len];
        let drawn;
        let noise: &[f32] = match &self.given_noise {
            Some(g) => &g[at..at + want],
            None => {
                drawn = noise::normal(self.seed.wrapping_add(i as u64), want);
                &drawn
            }
        };
        let (mut t, mut r) = self.model.run_batch(
            &[x],
            &self.text,
            &anchors,
            noise,
            &self.ode,
            self.decode_chunk,
            cancel,
        )?;
        let (y, z) = (t.remove(0), r.remove(0));
        if self.given_noise.is_some() {
            self.noise_used += want;
        }
        self.chunk_frames.push(frames);
        self.noise_frames += frames;
        self.next_chunk += 1;
        // The next chunk starts at (i + 1) * hop: drop the input before it.
        let keep_from = ((i + 1) * self.hop) as u64;
        if keep_from > self.buf_start {
            let drop_n = ((keep_from - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop_n);
            self.buf_start += drop_n as u64;
        }
        self.queue_pieces(i, y, z, last);
        Ok(())
    }

    /// The reference generator's pieces for chunk `i`'s output.
    fn queue_pieces(&mut self, i: usize, y: Vec<f32>, z: Vec<f32>, last: bool) {
        let ov = self.overlap;
        let len = y.len();
        if i > 0 && ov > 0 {
            let bt: Vec<f32> = (0..ov)
                .map(|k| self.tail_t[k] * self.fade_out[k] + y[k] * self.fade_in[k])
                .collect();
            let br: Vec<f32> = (0..ov)
                .map(|k| self.tail_r[k] * self.fade_out[k] + z[k] * self.fade_in[k])
                .collect();
            self.push_raw(bt, br, false, true);
            if last {
                self.push_raw(y[ov..].to_vec(), z[ov..].to_vec(), true, false);
            } else {
                let mid = len.saturating_sub(ov).max(ov);
                self.push_raw(y[ov..mid].to_vec(), z[ov..mid].to_vec(), false, true);
                self.tail_t = y[len - ov..].to_vec();
                self.tail_r = z[len - ov..].to_vec();
            }
        } else if last || ov == 0 {
            // The reference does not advance chunk_idx here.
            self.push_raw(y, z, last, false);
        } else {
            self.push_raw(y[..len - ov].to_vec(), z[..len - ov].to_vec(), false, true);
            self.tail_t = y[len - ov..].to_vec();
            self.tail_r = z[len - ov..].to_vec();
        }
    }

    fn push_raw(&mut self, target: Vec<f32>, residual: Vec<f32>, is_last: bool, advance: bool) {
        self.queue.push_back(RawPiece {
            target,
            residual,
            chunk_idx: self.piece_idx,
            is_last,
        });
        if advance {
            self.piece_idx += 1;
        }
    }
}
