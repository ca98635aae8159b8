//! The model-agnostic chunked separation engine: runs a source-separation
//! model segment by segment over audio of any length and crossfades the
//! overlapping outputs, exactly like `demucs.apply.apply_model(model, mix,
//! shifts=0, split=True, overlap, transition_power)`.
//!
//! # The algorithm (that of `apply_model`)
//! With a segment of `L` frames and an overlap ratio `r`, the stride is
//! `floor((1 - r) * L)` and chunk `k` starts at `o_k = k * stride`, for every
//! `o_k` below the signal length `N`. Each chunk covers `n_k = min(L, N - o_k)`
//! frames; the model always sees `L` frames:
//! - a full chunk (`n_k = L`) is the signal `[o_k, o_k + L)` itself;
//! - a partial chunk (only ever at the end, or a signal shorter than `L`)
//!   is padded to `L` around its centre, like demucs' `TensorChunk.padded`:
//!   the model sees `[o_k - d / 2, o_k - d / 2 + L)` with `d = L - n_k`
//!   (integer division), taken from the real neighbouring audio where it
//!   exists and zeros only before frame 0 or after frame `N - 1`; its output
//!   is cut back to frames `d / 2 .. d / 2 + n_k` (`center_trim`).
//!
//! Outputs are summed with weights `w[0..n_k]` and divided by the summed
//! weights, so any positive window gives an exact reconstruction where a
//! single chunk covers the signal. The windows ([`Crossfade`]):
//! - triangular, `apply_model`'s: `[1, 2, ..., L/2, L - L/2, ..., 2, 1]`
//!   divided by its maximum and raised to `transition_power` (>= 1; 1 gives
//!   linear crossfades for overlaps up to 50 %);
//! - raised cosine: `w[i] = sin^2(pi (i + 0.5) / L)`, positive everywhere.
//!
//! The arithmetic is that of `apply_model` in `f32`, in the same order, so
//! results agree with PyTorch to rounding.
//!
//! # Entry points
//! - [`separate`]: a whole signal in memory, all stems out.
//! - [`separate_long`]: a [`Source`] read block by block at bounded memory
//!   (about `2.5 * L` frames of input and output, independent of the length),
//!   each final [`Region`] handed to a callback, with progress.
//! - [`StreamingSeparator`]: push audio blocks of any size as they arrive,
//!   get [`Region`]s `{ stems, start, chunk_idx, is_last }` as soon as they
//!   are final; [`RegionStream`] is the same as a pull iterator over a
//!   [`Source`]. Concatenated regions equal [`separate`]'s output exactly,
//!   whatever the block sizes.
//!
//! A region is final once no later chunk can touch it: chunk `k`'s region
//! `[o_k, o_{k+1})` is emitted when chunk `k` has run and a frame past
//! `o_{k+1}` has arrived (so chunk `k + 1` exists), or at the end of the
//! input (the last region ends at `N` and has `is_last`). The first region,
//! `[0, stride)`, therefore comes out as soon as `L` input frames (`L + 1`
//! without overlap) have arrived and one model call has run: the time to
//! first audio is the time to receive one segment plus one model call.
//!
//! # Real-time safety
//! Not real-time safe: everything here allocates and runs the model.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use resonode_core::{AudioBuffer, Error, Progress, Result, Source};

/// Planar audio: channels x frames.
pub type Planar = Vec<Vec<f32>>;

/// Separated audio: stems x channels x frames.
pub type Stems = Vec<Planar>;

/// The crossfade window between overlapping chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossfade {
    /// `apply_model`'s triangle, normalised to a peak of 1 and raised to
    /// `transition_power` (>= 1; larger values give sharper transitions).
    Triangular {
        /// The exponent (demucs' `transition_power`, default 1).
        transition_power: f64,
    },
    /// `sin^2(pi (i + 0.5) / L)`: a Hann window without zero end points.
    RaisedCosine,
}

impl Default for Crossfade {
    fn default() -> Self {
        Crossfade::Triangular { transition_power: 1.0 }
    }
}

impl Crossfade {
    /// Parses `"triangular"` (transition power 1, `apply_model`'s) or
    /// `"cosine"` ([`Crossfade::RaisedCosine`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`crossfade`) for anything else.
    pub fn parse(s: &str) -> Result<Crossfade> {
        match s {
            "triangular" => Ok(Crossfade::default()),
            "cosine" => Ok(Crossfade::RaisedCosine),
            o => Err(Error::param("crossfade", format!("`{o}` is not triangular or cosine"))),
        }
    }
}

/// How a signal is cut into chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkerConfig {
    /// Frames per model call (`L`); HTDemucs: 343980 (7.8 s at 44.1 kHz).
    pub segment: usize,
    /// Overlap ratio in `[0, 1)`; the stride is `floor((1 - overlap) * segment)`.
    /// Demucs' default is 0.25.
    pub overlap: f64,
    /// The crossfade window.
    pub crossfade: Crossfade,
}

impl ChunkerConfig {
    /// `apply_model`'s defaults for a model segment: overlap 0.25,
    /// triangular crossfade with transition power 1.
    pub fn demucs(segment: usize) -> ChunkerConfig {
        ChunkerConfig { segment, overlap: 0.25, crossfade: Crossfade::default() }
    }

    /// Frames between chunk starts: `floor((1 - overlap) * segment)`.
    pub fn stride(&self) -> usize {
        ((1.0 - self.overlap) * self.segment as f64) as usize
    }

    /// Chunks (model calls) for a signal of `frames` frames.
    pub fn chunk_count(&self, frames: u64) -> u64 {
        frames.div_ceil(self.stride().max(1) as u64)
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero segment, an overlap outside
    /// `[0, 1)` or one leaving a zero stride, or a transition power below 1
    /// (or not finite).
    pub fn validate(&self) -> Result<()> {
        if self.segment == 0 {
            return Err(Error::param("segment", "must be at least 1 frame"));
        }
        if !(self.overlap.is_finite() && (0.0..1.0).contains(&self.overlap)) {
            return Err(Error::param("overlap", format!("must be in [0, 1), got {}", self.overlap)));
        }
        if self.stride() == 0 {
            return Err(Error::param(
                "overlap",
                format!("{} leaves no stride for a segment of {} frames", self.overlap, self.segment),
            ));
        }
        if let Crossfade::Triangular { transition_power } = self.crossfade {
            if !(transition_power.is_finite() && transition_power >= 1.0) {
                return Err(Error::param(
                    "transitionPower",
                    format!("must be a finite number >= 1, got {transition_power}"),
                ));
            }
        }
        Ok(())
    }

    /// The crossfade weights for one segment (`segment` values, all > 0).
    pub fn weights(&self) -> Vec<f32> {
        let l = self.segment;
        match self.crossfade {
            Crossfade::Triangular { transition_power } => {
                let half = l / 2;
                let max = (l - half) as f32;
                (1..=half)
                    .chain((1..=l - half).rev())
                    .map(|v| {
                        let w = v as f32 / max;
                        if transition_power == 1.0 {
                            w
                        } else {
                            w.powf(transition_power as f32)
                        }
                    })
                    .collect()
            }
            Crossfade::RaisedCosine => {
                (0..l).map(|i| (std::f64::consts::PI * (i as f64 + 0.5) / l as f64).sin().powi(2) as f32).collect()
            }
        }
    }
}

/// A final stretch of separated output.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// stems x channels x frames.
    pub stems: Stems,
    /// First frame of the region in the output (= input) timeline.
    pub start: u64,
    /// The chunk whose start the region begins at (regions and chunks are
    /// numbered alike, from 0).
    pub chunk_idx: usize,
    /// Whether this is the last region (it ends at the end of the input).
    pub is_last: bool,
}

impl Region {
    /// Frames in the region.
    pub fn frames(&self) -> usize {
        self.stems.first().and_then(|s| s.first()).map_or(0, Vec::len)
    }
}

/// Push-based streaming separation: feed blocks with
/// [`push`](StreamingSeparator::push), end with
/// [`finish`](StreamingSeparator::finish); both return the regions that
/// became final. `F` is the model: it receives `channels x segment` frames
/// and returns `stems x out_channels x segment` frames (the same shape on
/// every call).
pub struct StreamingSeparator<F> {
    cfg: ChunkerConfig,
    model: F,
    channels: usize,
    seg: usize,
    stride: usize,
    weights: Vec<f32>,
    /// Input frames from `in_base` on.
    input: Vec<Vec<f32>>,
    in_base: u64,
    received: u64,
    /// Next chunk to run.
    next_chunk: usize,
    /// Next chunk whose region is to be emitted (`<= next_chunk`).
    next_region: usize,
    /// Output accumulators from frame `emitted` on: stems x channels x n.
    acc: Vec<Vec<Vec<f32>>>,
    wsum: Vec<f32>,
    emitted: u64,
    shape: Option<(usize, usize)>,
    finished: bool,
}

impl<F> std::fmt::Debug for StreamingSeparator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingSeparator")
            .field("config", &self.cfg)
            .field("channels", &self.channels)
            .field("received", &self.received)
            .field("emitted", &self.emitted)
            .field("chunks_done", &self.next_chunk)
            .finish_non_exhaustive()
    }
}

impl<F> StreamingSeparator<F>
where
    F: FnMut(&[Vec<f32>]) -> Result<Stems>,
{
    /// A separator for `channels`-channel input.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a bad config ([`ChunkerConfig::validate`])
    /// or zero channels.
    pub fn new(config: ChunkerConfig, channels: usize, model: F) -> Result<Self> {
        config.validate()?;
        if channels == 0 {
            return Err(Error::param("channels", "must be at least 1"));
        }
        Ok(StreamingSeparator {
            seg: config.segment,
            stride: config.stride(),
            weights: config.weights(),
            cfg: config,
            model,
            channels,
            input: vec![Vec::new(); channels],
            in_base: 0,
            received: 0,
            next_chunk: 0,
            next_region: 0,
            acc: Vec::new(),
            wsum: Vec::new(),
            emitted: 0,
            shape: None,
            finished: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ChunkerConfig {
        &self.cfg
    }

    /// Input frames received so far.
    pub fn frames_in(&self) -> u64 {
        self.received
    }

    /// Output frames emitted so far.
    pub fn frames_out(&self) -> u64 {
        self.emitted
    }

    /// Model calls made so far.
    pub fn chunks_done(&self) -> usize {
        self.next_chunk
    }

    /// Whether [`finish`](StreamingSeparator::finish) has run.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The model.
    pub fn model_mut(&mut self) -> &mut F {
        &mut self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> F {
        self.model
    }

    /// Appends a block (`channels` slices of equal length, any length
    /// including 0), runs the model on every chunk that is now complete and
    /// returns the regions that became final.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count or ragged channels,
    /// [`Error::NonFiniteSample`] for NaN/inf input,
    /// [`Error::InvalidState`] after [`finish`](StreamingSeparator::finish),
    /// and whatever the model returns (then the separator should be dropped).
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) -> Result<Vec<Region>> {
        if self.finished {
            return Err(Error::InvalidState { reason: "audio pushed after the separation was finished".into() });
        }
        if block.len() != self.channels {
            return Err(Error::shape(format!("expected {} channels, got {}", self.channels, block.len())));
        }
        let n = block[0].as_ref().len();
        for (c, ch) in block.iter().enumerate() {
            let ch = ch.as_ref();
            if ch.len() != n {
                return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {n}", ch.len())));
            }
            if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteSample { frame: self.received + i as u64, channel: c, value: ch[i] });
            }
        }
        for (buf, ch) in self.input.iter_mut().zip(block) {
            buf.extend_from_slice(ch.as_ref());
        }
        self.received += n as u64;
        while self.chunk_start(self.next_chunk) + self.seg as u64 <= self.received {
            self.run_chunk()?;
        }
        let mut out = Vec::new();
        while self.next_region < self.next_chunk && self.received > self.chunk_start(self.next_region + 1) {
            out.push(self.emit_region());
        }
        self.trim_input();
        Ok(out)
    }

    /// Ends the input: runs the remaining (partial) chunks and returns the
    /// remaining regions, the last with `is_last`.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] when no frame was pushed,
    /// [`Error::InvalidState`] when called twice, and model errors.
    pub fn finish(&mut self) -> Result<Vec<Region>> {
        if self.finished {
            return Err(Error::InvalidState { reason: "the separation was already finished".into() });
        }
        self.finished = true;
        if self.received == 0 {
            return Err(Error::EmptyAudio { reason: "no audio to separate".into() });
        }
        while self.chunk_start(self.next_chunk) < self.received {
            self.run_chunk()?;
        }
        let mut out = Vec::new();
        while self.next_region < self.next_chunk {
            out.push(self.emit_region());
        }
        self.input = vec![Vec::new(); self.channels];
        Ok(out)
    }

    fn chunk_start(&self, k: usize) -> u64 {
        k as u64 * self.stride as u64
    }

    /// Runs chunk `next_chunk`; it is full, or the input has ended.
    fn run_chunk(&mut self) -> Result<()> {
        let k = self.next_chunk;
        let o = self.chunk_start(k);
        let n = (self.received - o).min(self.seg as u64) as usize;
        let delta = self.seg - n;
        let start = o as i64 - (delta / 2) as i64;
        let mut segment = vec![vec![0.0f32; self.seg]; self.channels];
        // Frames of the segment that exist in the input.
        let lo = start.max(0);
        let hi = (start + self.seg as i64).min(self.received as i64);
        if hi > lo {
            debug_assert!(lo as u64 >= self.in_base, "input trimmed too early");
            let src = (lo as u64 - self.in_base) as usize;
            let dst = (lo - start) as usize;
            let len = (hi - lo) as usize;
            for (seg_ch, in_ch) in segment.iter_mut().zip(&self.input) {
                seg_ch[dst..dst + len].copy_from_slice(&in_ch[src..src + len]);
            }
        }
        let out = (self.model)(&segment)?;
        drop(segment);
        self.check_shape(&out, k)?;
        let (stems, out_ch) = self.shape.expect("set by check_shape");
        if self.acc.is_empty() {
            self.acc = vec![vec![Vec::new(); out_ch]; stems];
        }
        let base = (o - self.emitted) as usize;
        let need = base + n;
        if self.wsum.len() < need {
            self.wsum.resize(need, 0.0);
            for stem in &mut self.acc {
                for ch in stem.iter_mut() {
                    ch.resize(need, 0.0);
                }
            }
        }
        let off = delta / 2;
        let w = &self.weights[..n];
        for (acc_s, out_s) in self.acc.iter_mut().zip(&out) {
            for (acc_c, out_c) in acc_s.iter_mut().zip(out_s) {
                for ((a, &x), &wi) in acc_c[base..need].iter_mut().zip(&out_c[off..off + n]).zip(w) {
                    *a += wi * x;
                }
            }
        }
        for (s, &wi) in self.wsum[base..need].iter_mut().zip(w) {
            *s += wi;
        }
        self.next_chunk += 1;
        Ok(())
    }

    fn check_shape(&mut self, out: &Stems, k: usize) -> Result<()> {
        let stems = out.len();
        let ch = out.first().map_or(0, Vec::len);
        if stems == 0 || ch == 0 {
            return Err(Error::shape(format!("the model returned no stems or no channels for chunk {k}")));
        }
        for (s, stem) in out.iter().enumerate() {
            if stem.len() != ch {
                return Err(Error::shape(format!(
                    "model output stem {s} has {} channels, stem 0 has {ch}",
                    stem.len()
                )));
            }
            for (c, v) in stem.iter().enumerate() {
                if v.len() != self.seg {
                    return Err(Error::shape(format!(
                        "model output stem {s} channel {c} has {} frames, expected the segment length {}",
                        v.len(),
                        self.seg
                    )));
                }
            }
        }
        match self.shape {
            None => self.shape = Some((stems, ch)),
            Some(prev) if prev != (stems, ch) => {
                return Err(Error::shape(format!(
                    "the model returned {stems} stems x {ch} channels for chunk {k}, but {} x {} before",
                    prev.0, prev.1
                )))
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Emits region `next_region` (its chunk has run).
    fn emit_region(&mut self) -> Region {
        let j = self.next_region;
        let is_last = self.finished && j + 1 == self.next_chunk;
        let end = if is_last { self.received } else { self.chunk_start(j + 1) };
        let len = (end - self.emitted) as usize;
        let wsum = &self.wsum[..len];
        let stems: Stems = self
            .acc
            .iter_mut()
            .map(|stem| {
                stem.iter_mut()
                    .map(|ch| {
                        let v: Vec<f32> = ch[..len].iter().zip(wsum).map(|(&a, &s)| a / s).collect();
                        ch.drain(..len);
                        v
                    })
                    .collect()
            })
            .collect();
        self.wsum.drain(..len);
        let region = Region { stems, start: self.emitted, chunk_idx: j, is_last };
        self.emitted = end;
        self.next_region += 1;
        region
    }

    /// Drops input no chunk can read any more: the next chunk reads from at
    /// least `o - segment / 2`.
    fn trim_input(&mut self) {
        let keep_from = self.chunk_start(self.next_chunk).saturating_sub(self.seg as u64 / 2);
        let drop = keep_from.saturating_sub(self.in_base) as usize;
        // Amortised: move the buffer only when a segment's worth is stale.
        if drop >= self.seg {
            for ch in &mut self.input {
                ch.drain(..drop);
            }
            self.in_base += drop as u64;
        }
    }
}

/// Separates a whole signal in memory (`channels x frames`, at least one
/// frame) and returns `stems x out_channels x frames`.
///
/// # Errors
/// As [`StreamingSeparator::push`] and [`StreamingSeparator::finish`];
/// [`Error::EmptyAudio`] for no channels or no frames.
pub fn separate<S, F>(input: &[S], config: &ChunkerConfig, model: F) -> Result<Stems>
where
    S: AsRef<[f32]>,
    F: FnMut(&[Vec<f32>]) -> Result<Stems>,
{
    if input.is_empty() {
        return Err(Error::EmptyAudio { reason: "no channels to separate".into() });
    }
    let mut sep = StreamingSeparator::new(config.clone(), input.len(), model)?;
    let mut regions = sep.push(input)?;
    regions.extend(sep.finish()?);
    Ok(concat_regions(regions))
}

/// Concatenates regions (in order) into whole stems.
pub fn concat_regions(regions: impl IntoIterator<Item = Region>) -> Stems {
    let mut out: Stems = Vec::new();
    for r in regions {
        if out.is_empty() {
            out = r.stems;
            continue;
        }
        for (o, s) in out.iter_mut().zip(r.stems) {
            for (oc, sc) in o.iter_mut().zip(s) {
                oc.extend_from_slice(&sc);
            }
        }
    }
    out
}

/// What a [`separate_long`] run (or a [`RegionStream`]) did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeparationStats {
    /// Input frames read.
    pub frames_in: u64,
    /// Output frames delivered (equal to `frames_in` at the end).
    pub frames_out: u64,
    /// Model calls.
    pub chunks: usize,
    /// Regions delivered.
    pub regions: usize,
    /// From the start to the first region being ready.
    pub time_to_first_audio: Option<Duration>,
    /// From the start to the end.
    pub elapsed: Duration,
}

/// Options of [`separate_long`] and [`RegionStream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongOptions {
    /// Frames read from the source at a time (default 65536).
    pub read_frames: usize,
}

impl Default for LongOptions {
    fn default() -> Self {
        LongOptions { read_frames: 65536 }
    }
}

/// A pull iterator of final [`Region`]s over a [`Source`], at bounded
/// memory: the source is read only as far as the next region needs.
pub struct RegionStream<'s, F> {
    source: &'s mut dyn Source,
    sep: StreamingSeparator<F>,
    buf: AudioBuffer,
    queue: VecDeque<Region>,
    done: bool,
    failed: bool,
    started: Instant,
    stats: SeparationStats,
}

impl<'s, F> RegionStream<'s, F>
where
    F: FnMut(&[Vec<f32>]) -> Result<Stems>,
{
    /// Starts a stream over `source` (its channel count is the model input's).
    ///
    /// # Errors
    /// As [`StreamingSeparator::new`]; [`Error::InvalidParameter`] for a zero
    /// `read_frames`.
    pub fn new(source: &'s mut dyn Source, config: &ChunkerConfig, model: F, opts: &LongOptions) -> Result<Self> {
        if opts.read_frames == 0 {
            return Err(Error::param("readFrames", "must be at least 1"));
        }
        let channels = source.channels();
        let sep = StreamingSeparator::new(config.clone(), channels, model)?;
        Ok(RegionStream {
            buf: AudioBuffer::new(channels, opts.read_frames),
            source,
            sep,
            queue: VecDeque::new(),
            done: false,
            failed: false,
            started: Instant::now(),
            stats: SeparationStats::default(),
        })
    }

    /// Statistics so far.
    pub fn stats(&self) -> SeparationStats {
        let mut s = self.stats;
        s.frames_in = self.sep.frames_in();
        s.chunks = self.sep.chunks_done();
        s.elapsed = self.started.elapsed();
        s
    }

    /// Total frames of the source, when known.
    pub fn total_frames(&self) -> Option<u64> {
        self.source.total_frames()
    }

    fn fill(&mut self) -> Result<()> {
        while self.queue.is_empty() && !self.done {
            let n = self.source.read(&mut self.buf)?;
            let regions = if n == 0 {
                self.done = true;
                self.sep.finish()?
            } else {
                let block: Vec<&[f32]> = (0..self.buf.channels()).map(|c| self.buf.channel(c)).collect();
                self.sep.push(&block)?
            };
            if !regions.is_empty() && self.stats.time_to_first_audio.is_none() {
                self.stats.time_to_first_audio = Some(self.started.elapsed());
            }
            self.queue.extend(regions);
        }
        Ok(())
    }
}

impl<F> Iterator for RegionStream<'_, F>
where
    F: FnMut(&[Vec<f32>]) -> Result<Stems>,
{
    type Item = Result<Region>;

    fn next(&mut self) -> Option<Result<Region>> {
        if self.failed {
            return None;
        }
        if let Err(e) = self.fill() {
            self.failed = true;
            return Some(Err(e));
        }
        let r = self.queue.pop_front()?;
        self.stats.regions += 1;
        self.stats.frames_out += r.frames() as u64;
        Some(Ok(r))
    }
}

/// Separates a [`Source`] of any length at bounded memory: reads
/// `opts.read_frames` at a time, hands every final region to `on_region` in
/// order, and reports progress (output frames delivered) after each.
///
/// # Errors
/// Source errors, model errors, errors returned by `on_region`, and those
/// of [`StreamingSeparator`] ([`Error::EmptyAudio`] for an empty source).
pub fn separate_long<F, R, P>(
    source: &mut dyn Source,
    config: &ChunkerConfig,
    model: F,
    opts: &LongOptions,
    mut on_region: R,
    mut on_progress: P,
) -> Result<SeparationStats>
where
    F: FnMut(&[Vec<f32>]) -> Result<Stems>,
    R: FnMut(Region) -> Result<()>,
    P: FnMut(Progress),
{
    let mut stream = RegionStream::new(source, config, model, opts)?;
    let total = stream.total_frames();
    while let Some(region) = stream.next() {
        let region = region?;
        on_region(region)?;
        let frames = stream.stats.frames_out;
        let fraction = total.map(|t| if t == 0 { 1.0 } else { (frames as f64 / t as f64).min(1.0) });
        on_progress(Progress { frames, total_frames: total, fraction });
    }
    Ok(stream.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_weights_match_apply_model() {
        // torch.cat([arange(1, 3), arange(3, 0, -1)]) / 3 for L = 5
        let w = ChunkerConfig::demucs(5).weights();
        assert_eq!(w, vec![1.0 / 3.0, 2.0 / 3.0, 1.0, 2.0 / 3.0, 1.0 / 3.0]);
        let w = ChunkerConfig::demucs(4).weights();
        assert_eq!(w, vec![0.5, 1.0, 1.0, 0.5]);
        let c = ChunkerConfig { crossfade: Crossfade::RaisedCosine, ..ChunkerConfig::demucs(6) };
        assert!(c.weights().iter().all(|&w| w > 0.0 && w <= 1.0));
    }

    #[test]
    fn stride_of_the_htdemucs_segment() {
        let c = ChunkerConfig::demucs(343980);
        assert_eq!(c.stride(), 257985);
        assert_eq!(c.chunk_count(299999), 2);
    }

    #[test]
    fn config_is_validated() {
        assert!(ChunkerConfig::demucs(0).validate().is_err());
        assert!(ChunkerConfig { overlap: 1.0, ..ChunkerConfig::demucs(10) }.validate().is_err());
        assert!(ChunkerConfig { overlap: 0.95, ..ChunkerConfig::demucs(10) }.validate().is_err());
        assert!(ChunkerConfig { overlap: -0.1, ..ChunkerConfig::demucs(10) }.validate().is_err());
        let c =
            ChunkerConfig { crossfade: Crossfade::Triangular { transition_power: 0.5 }, ..ChunkerConfig::demucs(10) };
        assert_eq!(c.validate().unwrap_err().code(), "ERR_INVALID_PARAMETER");
    }
}
