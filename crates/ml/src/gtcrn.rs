//! GTCRN speech enhancement: resonode's built-in noise suppressor.
//!
//! GTCRN (Xiaobin Rong et al., "GTCRN: A Speech Enhancement Model
//! Requiring Ultralow Computational Resources", ICASSP 2024,
//! <https://ieeexplore.ieee.org/document/10448310>) is a 48.2 K
//! parameter, 33 MMAC/s network that predicts a complex ratio mask for a
//! 16 kHz STFT. resonode ships the streaming export `gtcrn_simple.onnx` of
//! the official repository (Xiaobin-Rong/gtcrn, commit 3862c44, MIT
//! licence; see `models/gtcrn/README.md`) inside the library
//! ([`BUILTIN_MODEL`]), so enhancement works without a download.
//!
//! # Signal path
//! - Input is taken as it is, in [-1, 1] full scale (a 16-bit sample `v` is
//!   `v / 32768`), without level normalisation: the model is not level
//!   invariant and was trained on such signals.
//! - Any sample rate: audio is converted to 16 kHz and back with rubato
//!   ([`resonode_io::PlanarResampler`], time-aligned, no added delay).
//! - STFT as `torch.stft(x, 512, 256, 512, window, center=True,
//!   pad_mode="reflect")`: [`N_FFT`] = 512, [`HOP`] = 256, a square-root Hann
//!   window ([`WindowKind`]; periodic by default, as the reference offline
//!   output `enh.wav`), 256 samples of reflection padding at both ends. The
//!   reference streaming output `enh_stream.wav` used the periodic window
//!   for analysis and the symmetric one (`np.hanning(512) ** 0.5`) for
//!   synthesis ([`EnhancerOptions::synthesis_window`]). The transform is
//!   the crate's one torch-compatible STFT, [`crate::stft::Stft`], one frame
//!   at a time ([`Stft::forward_frame`], [`Stft::inverse_frame_add`]); the
//!   streaming padding and overlap-add buffers are this module's.
//! - The model runs once per STFT frame with its recurrent caches (inputs
//!   `mix` [1, 257, 1, 2] = real and imaginary part of the 257 bins,
//!   `conv_cache` [2, 1, 16, 16, 33], `tra_cache` [2, 3, 1, 1, 16],
//!   `inter_cache` [2, 1, 33, 16]; outputs `enh` [1, 257, 1, 2] and the
//!   updated caches `conv_cache_out`, `tra_cache_out`, `inter_cache_out`),
//!   see [`GtcrnSession`].
//! - Inverse STFT as `torch.istft` (overlap-add of windowed inverse FFTs
//!   divided by the summed squared window), then the centre padding is
//!   removed. The reference stops after `256 * (frames - 1)` samples;
//!   resonode computes one more frame (its end padding continues with
//!   zeros) when needed so that the output has exactly the input's length
//!   and is time-aligned with it (no added delay). The model is causal, so
//!   the samples the reference has are identical.
//!
//! # Streaming and latency
//! [`StreamingEnhancer`] takes samples in pieces of any size and gives out
//! enhanced samples as soon as they are final. At 16 kHz, enhanced sample
//! `k` is final once input sample `k + 511` has been pushed (one STFT frame
//! of look-ahead inside the overlap-add: [`LATENCY_16K`] = 511 samples,
//! 31.9 ms). At other rates the two resamplers add their chunking and
//! filter delays; [`StreamingEnhancer::latency_frames`] is the bound.
//! Streaming output is identical (bit for bit) to offline output of the
//! same signal: both run the same code.
//!
//! # Real-time safety
//! Inference never runs on the audio thread: nothing in this module may be
//! called from an audio callback (ONNX Runtime allocates and may lock). A
//! live processor runs a [`StreamingEnhancer`] on a worker thread and moves
//! audio through ring buffers. The per-frame path reuses preallocated
//! tensors for every model input and output, double-buffering the caches:
//! once warmed up, [`GtcrnSession::run_frame`] and a 16 kHz
//! [`StreamingEnhancer::push`]/[`pull`](StreamingEnhancer::pull) of one hop
//! make no Rust heap allocation (`tests/gtcrn_no_alloc.rs`); ONNX Runtime
//! serves its intermediates from its own arena.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, SessionInputValue};
use ort::value::Tensor;
use realfft::num_complex::Complex32;
use resonode_core::pipeline::Source;
use resonode_core::{AudioBuffer, Control, Error, Progress, Result};
use resonode_io::{open_sink, FileSource, OutputFormat, PlanarResampler, SourceOptions, WavEncoding};

use crate::model::{Model, TensorSpec};
use crate::runtime::SessionOptions;
use crate::stft::{sqrt_hann_window, PadMode, Stft, StftConfig};

/// The model's sample rate in Hz.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size and window length in samples (32 ms).
pub const N_FFT: usize = 512;
/// STFT hop in samples (16 ms); one model call per hop.
pub const HOP: usize = 256;
/// Frequency bins per frame (`N_FFT / 2 + 1`).
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Values in one model frame (`mix` or `enh`): real and imaginary part of
/// each bin, interleaved (`[re0, im0, re1, im1, ...]`), 514 values.
pub const FRAME_VALUES: usize = 2 * N_BINS;
/// Streaming latency at 16 kHz in samples: enhanced sample `k` is final
/// once input sample `k + LATENCY_16K` has been pushed.
pub const LATENCY_16K: usize = N_FFT - 1;

/// The bytes of the built-in model, `gtcrn_simple.onnx` (MIT, Copyright (c)
/// 2024 Rong Xiaobin; licence text in `models/gtcrn/LICENSE` and
/// `assets/LICENSE-gtcrn`).
pub static BUILTIN_MODEL: &[u8] = include_bytes!("../../../models/gtcrn/gtcrn_simple.onnx");
/// The name the built-in model has in messages.
pub const BUILTIN_MODEL_NAME: &str = "gtcrn_simple.onnx (built in)";

const CONV_CACHE: [i64; 5] = [2, 1, 16, 16, 33];
const TRA_CACHE: [i64; 5] = [2, 3, 1, 1, 16];
const INTER_CACHE: [i64; 4] = [2, 1, 33, 16];
const FRAME_SHAPE: [i64; 4] = [1, N_BINS as i64, 1, 2];
const INPUT_NAMES: [&str; 4] = ["mix", "conv_cache", "tra_cache", "inter_cache"];
const OUTPUT_NAMES: [&str; 4] = ["enh", "conv_cache_out", "tra_cache_out", "inter_cache_out"];

/// Which square-root Hann window the STFT uses (analysis and synthesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum WindowKind {
    /// `sqrt(hann(512, periodic))`, `w[n] = sin(pi n / 512)`: what
    /// `torch.hann_window(512).pow(0.5)` gives and what the official offline
    /// inference (reference `enh.wav`) uses. The default. Its squares sum to
    /// exactly 1 at hop 256.
    #[default]
    Periodic,
    /// `sqrt(hann(512, symmetric))`, `w[n] = sin(pi n / 511)`: NumPy's
    /// `np.hanning(512) ** 0.5`, used by the official ONNX streaming demo
    /// (reference `enh_stream.wav`).
    Symmetric,
}

impl WindowKind {
    /// `"periodic"` or `"symmetric"`.
    pub fn name(&self) -> &'static str {
        match self {
            WindowKind::Periodic => "periodic",
            WindowKind::Symmetric => "symmetric",
        }
    }

    /// Parses `"periodic"` or `"symmetric"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "periodic" => Ok(WindowKind::Periodic),
            "symmetric" => Ok(WindowKind::Symmetric),
            _ => Err(Error::param("window", format!("`{s}` is not one of periodic, symmetric"))),
        }
    }

    /// The [`N_FFT`] window coefficients ([`sqrt_hann_window`]).
    pub fn coefficients(&self) -> Vec<f32> {
        sqrt_hann_window(N_FFT, *self == WindowKind::Periodic)
    }
}

/// The analysis and synthesis windows of the STFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Windows {
    /// Window of the forward STFT.
    pub analysis: WindowKind,
    /// Window of the inverse STFT (overlap-add, divided by the summed
    /// squared synthesis window).
    pub synthesis: WindowKind,
}

impl Windows {
    /// The same window for analysis and synthesis.
    pub fn both(kind: WindowKind) -> Windows {
        Windows { analysis: kind, synthesis: kind }
    }
}

/// Options of [`SpeechEnhancer`] and [`StreamingEnhancer`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnhancerOptions {
    /// A GTCRN streaming `.onnx` file with the inputs and outputs listed in
    /// the module docs; `None` (the default) uses [`BUILTIN_MODEL`].
    pub model_path: Option<PathBuf>,
    /// Runtime library, execution provider and thread count. For GTCRN an
    /// `intra_threads` of 0 (the default) means 1: the network is too small
    /// to gain from more.
    pub session: SessionOptions,
    /// STFT window for analysis and synthesis (default
    /// [`WindowKind::Periodic`], which reproduces the reference `enh.wav`).
    pub window: WindowKind,
    /// A different synthesis window, or `None` (the default) for `window`.
    /// `window: Periodic` with `synthesis_window: Some(Symmetric)` is what
    /// the official ONNX streaming demo did (`torch.stft` with
    /// `torch.hann_window(512) ** 0.5`, then `librosa.istft` with
    /// `np.hanning(512) ** 0.5`) and reproduces the reference
    /// `enh_stream.wav` to 1 LSB.
    pub synthesis_window: Option<WindowKind>,
}

impl EnhancerOptions {
    /// The analysis and synthesis windows these options select.
    pub fn windows(&self) -> Windows {
        Windows { analysis: self.window, synthesis: self.synthesis_window.unwrap_or(self.window) }
    }
}

/// One independent set of recurrent caches, double-buffered: run `k` reads
/// set `cur` and writes the other, preallocated in `opts[cur]`.
struct CacheState {
    sets: [[Tensor<f32>; 3]; 2],
    opts: [RunOptions<HasSelectedOutputs>; 2],
    cur: usize,
}

fn zeros(shape: &[i64]) -> Result<Tensor<f32>> {
    let n = shape.iter().product::<i64>() as usize;
    Tensor::from_array((shape.to_vec(), vec![0.0f32; n]))
        .map_err(|e| Error::Internal { message: format!("cannot create a tensor of shape {shape:?}: {e}") })
}

fn shallow(t: &Tensor<f32>) -> Result<Tensor<f32>> {
    t.view().try_upgrade().map_err(|_| Error::Internal { message: "cannot share a preallocated tensor".into() })
}

fn zero_tensor(t: &mut Tensor<f32>) {
    t.extract_tensor_mut().1.fill(0.0);
}

/// The GTCRN network on one ONNX Runtime session, run frame by frame.
///
/// Holds the session, preallocated `mix` and `enh` tensors, and one or more
/// independent *streams* of recurrent caches (one per audio channel), each
/// double-buffered so that a frame's output caches become the next frame's
/// inputs without copying.
pub struct GtcrnSession {
    model: Model,
    mix: Tensor<f32>,
    enh: Tensor<f32>,
    /// For each session input position, which of `INPUT_NAMES` it is.
    order: [usize; 4],
    states: Vec<CacheState>,
}

impl std::fmt::Debug for GtcrnSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GtcrnSession").field("model", &self.model).field("streams", &self.states.len()).finish()
    }
}

impl GtcrnSession {
    /// Loads the model named by `opts.model_path` (or the built-in one) with
    /// one stream of caches, on one intra-op thread unless
    /// `opts.session.intra_threads` asks for more.
    ///
    /// # Errors
    /// Everything [`Model::load`] reports, and [`Error::ModelMismatch`]
    /// (`ERR_MODEL_MISMATCH`) when the model's inputs or outputs are not the
    /// GTCRN ones (the message names expected vs actual shapes).
    pub fn load(opts: &EnhancerOptions) -> Result<Self> {
        let mut session = opts.session.clone();
        if session.intra_threads == 0 {
            // The network is too small to gain from splitting operators:
            // one thread is the fastest (see examples/gtcrn_speed.rs).
            session.intra_threads = 1;
        }
        log::debug!(
            target: crate::runtime::LOG,
            "GTCRN: loading {}",
            opts.model_path.as_ref().map_or_else(|| BUILTIN_MODEL_NAME.to_string(), |p| p.display().to_string())
        );
        let model = match &opts.model_path {
            Some(p) => Model::load(p, &session)?,
            None => Model::from_bytes(BUILTIN_MODEL, BUILTIN_MODEL_NAME, &session)?,
        };
        Self::from_model(model)
    }

    /// Wraps an already loaded model, checking its inputs and outputs.
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] as in [`GtcrnSession::load`].
    pub fn from_model(model: Model) -> Result<Self> {
        let specs = |names: [&'static str; 4]| {
            [
                TensorSpec { name: names[0], element_type: "float32", shape: &FRAME_SHAPE },
                TensorSpec { name: names[1], element_type: "float32", shape: &CONV_CACHE },
                TensorSpec { name: names[2], element_type: "float32", shape: &TRA_CACHE },
                TensorSpec { name: names[3], element_type: "float32", shape: &INTER_CACHE },
            ]
        };
        model.check_inputs(&specs(INPUT_NAMES))?;
        model.check_outputs(&specs(OUTPUT_NAMES))?;
        let mut order = [0usize; 4];
        for (pos, info) in model.inputs().iter().enumerate() {
            order[pos] = INPUT_NAMES.iter().position(|n| *n == info.name).unwrap_or(0);
        }
        let mut s =
            GtcrnSession { model, mix: zeros(&FRAME_SHAPE)?, enh: zeros(&FRAME_SHAPE)?, order, states: Vec::new() };
        s.set_streams(1)?;
        Ok(s)
    }

    /// The underlying model (names, shapes, execution provider, warnings).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Number of independent cache streams.
    pub fn streams(&self) -> usize {
        self.states.len()
    }

    /// Sets the number of independent cache streams (e.g. one per channel)
    /// and clears all of them.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 streams.
    pub fn set_streams(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::param("channels", "at least one stream is needed"));
        }
        while self.states.len() > n {
            self.states.pop();
        }
        while self.states.len() < n {
            let set =
                || -> Result<[Tensor<f32>; 3]> { Ok([zeros(&CONV_CACHE)?, zeros(&TRA_CACHE)?, zeros(&INTER_CACHE)?]) };
            let sets = [set()?, set()?];
            let opts_for = |out: usize| -> Result<RunOptions<HasSelectedOutputs>> {
                let mut sel = OutputSelector::default().preallocate(OUTPUT_NAMES[0], shallow(&self.enh)?);
                for k in 0..3 {
                    sel = sel.preallocate(OUTPUT_NAMES[k + 1], shallow(&sets[out][k])?);
                }
                Ok(RunOptions::new()
                    .map_err(|e| Error::Internal { message: format!("cannot create run options: {e}") })?
                    .with_outputs(sel))
            };
            let opts = [opts_for(1)?, opts_for(0)?];
            self.states.push(CacheState { sets, opts, cur: 0 });
        }
        self.reset();
        Ok(())
    }

    /// Clears the caches of every stream (the state at the start of a signal).
    pub fn reset(&mut self) {
        for i in 0..self.states.len() {
            self.reset_stream(i);
        }
    }

    /// Clears the caches of stream `i`.
    ///
    /// # Panics
    /// If `i >= streams()`.
    pub fn reset_stream(&mut self, i: usize) {
        let st = &mut self.states[i];
        st.cur = 0;
        for t in st.sets[0].iter_mut() {
            zero_tensor(t);
        }
    }

    /// Runs the network on one STFT frame of stream `stream`.
    ///
    /// `mix` and `enh` hold [`FRAME_VALUES`] values: the real and imaginary
    /// part of bins 0..=256, interleaved. The stream's caches advance by one
    /// frame.
    ///
    /// # Errors
    /// [`Error::Shape`] for slices of the wrong length or a stream out of
    /// range; [`Error::Model`] if ONNX Runtime fails.
    ///
    /// # Real-time safety
    /// Not real-time safe (runs ONNX Runtime); no tensors are allocated.
    pub fn run_frame(&mut self, stream: usize, mix: &[f32], enh: &mut [f32]) -> Result<()> {
        if mix.len() != FRAME_VALUES || enh.len() != FRAME_VALUES || stream >= self.states.len() {
            return Err(Error::shape(format!(
                "run_frame needs {FRAME_VALUES} input and output values and a stream below {}; got {}, {} and stream {stream}",
                self.states.len(),
                mix.len(),
                enh.len()
            )));
        }
        self.mix.extract_tensor_mut().1.copy_from_slice(mix);
        let st = &mut self.states[stream];
        let cur = st.cur;
        let failed = {
            let set = &st.sets[cur];
            let value = |k: usize| -> SessionInputValue<'_> {
                match k {
                    0 => (&self.mix).into(),
                    k => (&set[k - 1]).into(),
                }
            };
            let o = self.order;
            let inputs = [value(o[0]), value(o[1]), value(o[2]), value(o[3])];
            match self.model.session_mut().run_with_options(inputs, &st.opts[cur]) {
                Ok(outputs) => {
                    drop(outputs);
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        };
        if let Some(e) = failed {
            // The input caches are intact: a retry starts from the same state.
            return Err(Error::Model { path: self.model.path().to_string(), reason: format!("inference failed: {e}") });
        }
        st.cur = 1 - cur;
        enh.copy_from_slice(self.enh.extract_tensor().1);
        Ok(())
    }
}

/// STFT resources shared by all channels: the transform (plans, windows,
/// scratch) and the model's frame buffers.
struct Dsp {
    /// `torch.stft`/`torch.istft` with [`N_FFT`], [`HOP`] and the chosen
    /// windows, one frame at a time.
    stft: Stft,
    /// Summed squared synthesis window at each position within a hop.
    envelope: Vec<f32>,
    spec: Vec<Complex32>,
    mix: Vec<f32>,
    enh: Vec<f32>,
}

impl Dsp {
    fn new(windows: Windows) -> Result<Dsp> {
        let stft = Stft::new(StftConfig {
            n_fft: N_FFT,
            hop: HOP,
            window: windows.analysis.coefficients(),
            synthesis_window: (windows.synthesis != windows.analysis).then(|| windows.synthesis.coefficients()),
            normalized: false,
            center: true,
            pad_mode: PadMode::Reflect,
        })?;
        Ok(Dsp {
            envelope: stft.steady_envelope(),
            stft,
            spec: vec![Complex32::new(0.0, 0.0); N_BINS],
            mix: vec![0.0; FRAME_VALUES],
            enh: vec![0.0; FRAME_VALUES],
        })
    }
}

/// Per-channel STFT state at 16 kHz.
struct Channel {
    /// Raw samples before the start padding can be built (fewer than 257).
    head: Vec<f32>,
    started: bool,
    /// Padded signal; `pad[pad_pos]` is padded index `256 * next_frame`.
    pad: Vec<f32>,
    /// Start of the next frame in `pad` (consumed samples are dropped in
    /// batches, so a long push costs linear time).
    pad_pos: usize,
    /// The most recent raw samples (at least the last 512, or all of them;
    /// at most 1024), for the end padding.
    recent: Vec<f32>,
    raw_len: u64,
    next_frame: u64,
    ola: Vec<f32>,
    out: VecDeque<f32>,
    emitted: u64,
    finished: bool,
}

/// Index into a signal of length `len` for position `i` with reflection
/// (`numpy.pad(mode="reflect")`, repeated for short signals).
fn reflect_index(i: i64, len: u64) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as i64 - 1);
    let m = i.rem_euclid(period);
    (if m >= len as i64 { period - m } else { m }) as usize
}

impl Channel {
    fn new() -> Channel {
        Channel {
            head: Vec::with_capacity(HOP + 1),
            started: false,
            pad: Vec::with_capacity(4 * N_FFT),
            pad_pos: 0,
            recent: Vec::with_capacity(2 * N_FFT),
            raw_len: 0,
            next_frame: 0,
            ola: vec![0.0; N_FFT],
            out: VecDeque::with_capacity(4 * N_FFT),
            emitted: 0,
            finished: false,
        }
    }

    fn push(&mut self, x: &[f32], ch: usize, dsp: &mut Dsp, session: &mut GtcrnSession) -> Result<()> {
        self.raw_len += x.len() as u64;
        if x.len() >= N_FFT {
            self.recent.clear();
            self.recent.extend_from_slice(&x[x.len() - N_FFT..]);
        } else {
            self.recent.extend_from_slice(x);
            if self.recent.len() > 2 * N_FFT {
                let drop = self.recent.len() - N_FFT;
                self.recent.drain(..drop);
            }
        }
        if self.started {
            self.pad.extend_from_slice(x);
        } else {
            self.head.extend_from_slice(x);
            if self.head.len() > HOP {
                // Reflection padding of the start: padded[i] = x[256 - i].
                self.pad.extend((0..HOP).map(|i| self.head[HOP - i]));
                self.pad.append(&mut self.head);
                self.started = true;
            }
        }
        self.run_frames(u64::MAX, ch, dsp, session, None)
    }

    /// Runs every frame whose padded samples are all present (at most up to
    /// frame `last_frame`), emitting final output (at most `limit` in total).
    fn run_frames(
        &mut self,
        last_frame: u64,
        ch: usize,
        dsp: &mut Dsp,
        session: &mut GtcrnSession,
        limit: Option<u64>,
    ) -> Result<()> {
        while self.started && self.pad.len() - self.pad_pos >= N_FFT && self.next_frame < last_frame {
            let frame = &self.pad[self.pad_pos..self.pad_pos + N_FFT];
            dsp.stft.forward_frame(frame, &mut dsp.spec)?;
            for (k, c) in dsp.spec.iter().enumerate() {
                dsp.mix[2 * k] = c.re;
                dsp.mix[2 * k + 1] = c.im;
            }
            session.run_frame(ch, &dsp.mix, &mut dsp.enh)?;
            for (k, c) in dsp.spec.iter_mut().enumerate() {
                *c = Complex32::new(dsp.enh[2 * k], dsp.enh[2 * k + 1]);
            }
            // As torch.istft: the imaginary parts of DC and Nyquist are ignored.
            dsp.stft.inverse_frame_add(&dsp.spec, &mut self.ola)?;
            if self.next_frame >= 1 {
                // Padded samples 256 t .. 256 t + 256 are complete; they are
                // output samples 256 (t - 1) .. 256 t.
                let room = limit.map_or(HOP as u64, |l| l.saturating_sub(self.emitted).min(HOP as u64)) as usize;
                for k in 0..room {
                    self.out.push_back(self.ola[k] / dsp.envelope[k]);
                }
                self.emitted += room as u64;
            }
            self.ola.copy_within(HOP.., 0);
            self.ola[N_FFT - HOP..].fill(0.0);
            self.pad_pos += HOP;
            self.next_frame += 1;
        }
        if self.pad_pos >= 4 * N_FFT || (self.pad_pos > 0 && self.pad_pos * 2 >= self.pad.len()) {
            self.pad.drain(..self.pad_pos);
            self.pad_pos = 0;
        }
        Ok(())
    }

    /// Ends the signal: reflection padding at the end, zeros beyond, and the
    /// frames needed for exactly `raw_len` output samples.
    fn finish(&mut self, ch: usize, dsp: &mut Dsp, session: &mut GtcrnSession) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let len = self.raw_len;
        if len == 0 {
            return Ok(());
        }
        // `recent` holds the last min(len, >= 512) raw samples; raw index i
        // is at recent[i - (len - recent.len())].
        let base = len - self.recent.len() as u64;
        let raw = |i: usize| self.recent[i - base as usize];
        if !self.started {
            let head = std::mem::take(&mut self.head);
            self.pad.extend((0..HOP as i64).map(|i| head[reflect_index(i - HOP as i64, len)]));
            self.pad.extend_from_slice(&head);
            self.started = true;
        }
        let end: Vec<f32> = (0..HOP as i64).map(|j| raw(reflect_index(len as i64 + j, len))).collect();
        self.pad.extend_from_slice(&end);
        // Frames needed so that output sample len - 1 is complete.
        let frames = (len - 1) / HOP as u64 + 2;
        let needed_end = HOP as u64 * (frames - 1) + N_FFT as u64; // padded index
        let have_end = HOP as u64 * self.next_frame + (self.pad.len() - self.pad_pos) as u64;
        if needed_end > have_end {
            self.pad.resize(self.pad.len() + (needed_end - have_end) as usize, 0.0);
        }
        self.run_frames(frames, ch, dsp, session, Some(len))
    }
}

/// The streaming engine without its session (so that [`SpeechEnhancer`]
/// can lend its own).
struct Core {
    rate: u32,
    windows: Windows,
    channels: usize,
    dsp: Dsp,
    chans: Vec<Channel>,
    rs_in: Option<PlanarResampler>,
    rs_out: Option<PlanarResampler>,
    buf16: Vec<Vec<f32>>,
    out16: Vec<Vec<f32>>,
    bufr: Vec<Vec<f32>>,
    out: Vec<VecDeque<f32>>,
    in_frames: u64,
    queued_total: u64,
    finished: bool,
}

impl Core {
    fn new(rate: u32, channels: usize, windows: Windows) -> Result<Core> {
        if channels == 0 {
            return Err(Error::param("channels", "must be at least 1"));
        }
        let (rs_in, rs_out) = if rate == SAMPLE_RATE {
            (None, None)
        } else {
            // Chunks of about one hop keep the streaming lag low; the
            // 16 kHz side is fed whole hops.
            let hop_in = (HOP as u64 * u64::from(rate)).div_ceil(u64::from(SAMPLE_RATE)) as usize;
            (
                Some(PlanarResampler::with_chunk(rate, SAMPLE_RATE, channels, hop_in)?),
                Some(PlanarResampler::with_chunk(SAMPLE_RATE, rate, channels, HOP)?),
            )
        };
        Ok(Core {
            rate,
            windows,
            channels,
            dsp: Dsp::new(windows)?,
            chans: (0..channels).map(|_| Channel::new()).collect(),
            rs_in,
            rs_out,
            buf16: vec![Vec::new(); channels],
            out16: vec![Vec::new(); channels],
            bufr: vec![Vec::new(); channels],
            out: vec![VecDeque::new(); channels],
            in_frames: 0,
            queued_total: 0,
            finished: false,
        })
    }

    fn latency_frames(&self) -> usize {
        match (&self.rs_in, &self.rs_out) {
            (Some(a), Some(b)) => {
                let lag16 = a.max_lag_frames() as f64 + LATENCY_16K as f64 + 0.5;
                (lag16 * f64::from(self.rate) / f64::from(SAMPLE_RATE) + 0.5).ceil() as usize + b.max_lag_frames() + 1
            }
            _ => LATENCY_16K,
        }
    }

    fn push<S: AsRef<[f32]>>(&mut self, input: &[S], session: &mut GtcrnSession) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidState { reason: "the enhancer stream was already finished".into() });
        }
        if input.len() != self.channels {
            return Err(Error::shape(format!("expected {} channels, got {}", self.channels, input.len())));
        }
        let frames = input[0].as_ref().len();
        for (c, ch) in input.iter().enumerate() {
            let ch = ch.as_ref();
            if ch.len() != frames {
                return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {frames}", ch.len())));
            }
            if let Some(i) = ch.iter().position(|s| !s.is_finite()) {
                return Err(Error::NonFiniteSample { frame: self.in_frames + i as u64, channel: c, value: ch[i] });
            }
        }
        self.in_frames += frames as u64;
        match self.rs_in.as_mut() {
            Some(rs) => {
                self.buf16.iter_mut().for_each(Vec::clear);
                rs.process(input, &mut self.buf16)?;
                let buf = std::mem::take(&mut self.buf16);
                let r = self.feed16(&buf, session, false);
                self.buf16 = buf;
                r
            }
            None => self.feed16(input, session, false),
        }
    }

    /// Feeds 16 kHz audio to the channels and moves final output on.
    fn feed16<S: AsRef<[f32]>>(&mut self, x: &[S], session: &mut GtcrnSession, last: bool) -> Result<()> {
        for (c, ch) in self.chans.iter_mut().enumerate() {
            if !x[c].as_ref().is_empty() {
                ch.push(x[c].as_ref(), c, &mut self.dsp, session)?;
            }
            if last {
                ch.finish(c, &mut self.dsp, session)?;
            }
        }
        let n = self.chans.iter().map(|c| c.out.len()).min().unwrap_or(0);
        for (o, ch) in self.out16.iter_mut().zip(self.chans.iter_mut()) {
            o.clear();
            o.extend(ch.out.drain(..n));
        }
        match self.rs_out.as_mut() {
            Some(rs) => {
                self.bufr.iter_mut().for_each(Vec::clear);
                rs.process(&self.out16, &mut self.bufr)?;
                if last {
                    rs.finish(&mut self.bufr)?;
                }
                let bufr = std::mem::take(&mut self.bufr);
                self.queue(&bufr, last);
                self.bufr = bufr;
            }
            None => {
                let out16 = std::mem::take(&mut self.out16);
                self.queue(&out16, last);
                self.out16 = out16;
            }
        }
        Ok(())
    }

    /// Queues output at the stream rate, never beyond the input length; at
    /// the end, pads with silence to exactly the input length (a resampling
    /// round trip can come back one frame short).
    fn queue(&mut self, y: &[Vec<f32>], last: bool) {
        let room = self.in_frames.saturating_sub(self.queued_total) as usize;
        let n = y[0].len().min(room);
        for (q, ch) in self.out.iter_mut().zip(y) {
            q.extend(&ch[..n]);
        }
        self.queued_total += n as u64;
        if last {
            let missing = self.in_frames - self.queued_total;
            for q in self.out.iter_mut() {
                q.extend(std::iter::repeat_n(0.0, missing as usize));
            }
            self.queued_total = self.in_frames;
        }
    }

    fn finish(&mut self, session: &mut GtcrnSession) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let empty: Vec<Vec<f32>> = vec![Vec::new(); self.channels];
        match self.rs_in.as_mut() {
            Some(rs) => {
                self.buf16.iter_mut().for_each(Vec::clear);
                rs.finish(&mut self.buf16)?;
                let buf = std::mem::take(&mut self.buf16);
                let r = self.feed16(&buf, session, true);
                self.buf16 = buf;
                r
            }
            None => self.feed16(&empty, session, true),
        }
    }

    fn available(&self) -> usize {
        self.out[0].len()
    }

    fn pull(&mut self, out: &mut [&mut [f32]]) -> Result<usize> {
        if out.len() != self.channels {
            return Err(Error::shape(format!("expected {} output channels, got {}", self.channels, out.len())));
        }
        let n = out.iter().map(|o| o.len()).min().unwrap_or(0).min(self.available());
        for (q, o) in self.out.iter_mut().zip(out.iter_mut()) {
            for (d, s) in o[..n].iter_mut().zip(q.drain(..n)) {
                *d = s;
            }
        }
        Ok(n)
    }

    fn pull_all(&mut self) -> Vec<Vec<f32>> {
        self.out.iter_mut().map(|q| q.drain(..).collect()).collect()
    }
}

/// Live-style enhancement: push audio in pieces of any size, pull enhanced
/// audio as soon as it is final.
///
/// Planar `f32` audio at any rate from 1 kHz to 768 kHz and any channel
/// count (each channel is enhanced independently). Pulled frame `k`
/// corresponds to pushed frame `k` (time-aligned); after
/// [`finish`](StreamingEnhancer::finish) exactly as many frames can have
/// been pulled as were pushed, and they equal [`SpeechEnhancer::enhance_planar`]'s
/// output for the whole signal.
///
/// # Real-time safety
/// Not for an audio callback: `push` runs the model and may allocate. Run
/// it on a worker thread; [`latency_frames`](StreamingEnhancer::latency_frames)
/// says how much audio to buffer for a fixed delay.
pub struct StreamingEnhancer {
    session: GtcrnSession,
    core: Core,
}

impl std::fmt::Debug for StreamingEnhancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingEnhancer")
            .field("sample_rate", &self.core.rate)
            .field("channels", &self.core.channels)
            .finish_non_exhaustive()
    }
}

impl StreamingEnhancer {
    /// Loads the model (see [`GtcrnSession::load`]) and prepares a stream of
    /// `channels` channels at `sample_rate` Hz.
    ///
    /// # Errors
    /// Model and runtime errors as in [`GtcrnSession::load`];
    /// [`Error::InvalidParameter`] for 0 channels or an unsupported rate.
    pub fn new(opts: &EnhancerOptions, sample_rate: u32, channels: usize) -> Result<Self> {
        Self::with_session(GtcrnSession::load(opts)?, opts.windows(), sample_rate, channels)
    }

    /// Uses an already loaded session (its caches are cleared).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 channels or an unsupported rate.
    pub fn with_session(
        mut session: GtcrnSession,
        windows: Windows,
        sample_rate: u32,
        channels: usize,
    ) -> Result<Self> {
        let core = Core::new(sample_rate, channels, windows)?;
        session.set_streams(channels)?;
        Ok(StreamingEnhancer { session, core })
    }

    /// Sample rate of the stream in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.core.rate
    }

    /// Channels of the stream.
    pub fn channels(&self) -> usize {
        self.core.channels
    }

    /// Upper bound on how far output lags input, in frames at the stream
    /// rate: after pushing `n` frames, at least `n - latency_frames()` can
    /// have been pulled in total. At 16 kHz this is exactly
    /// [`LATENCY_16K`] (511; reached for frames at the start of a hop); at
    /// other rates it adds the two resamplers' chunk (about one hop each)
    /// and filter delays: at 48 kHz the bound is 3844 frames (80.1 ms; the
    /// largest lag seen in the tests is 2684 frames, 55.9 ms).
    pub fn latency_frames(&self) -> usize {
        self.core.latency_frames()
    }

    /// [`latency_frames`](StreamingEnhancer::latency_frames) in milliseconds.
    pub fn latency_ms(&self) -> f64 {
        self.latency_frames() as f64 * 1000.0 / f64::from(self.core.rate)
    }

    /// Pushes planar input: `input.len()` must be the channel count and all
    /// channels the same length (which may be 0).
    ///
    /// # Errors
    /// [`Error::Shape`] (wrong channel count, ragged channels),
    /// [`Error::NonFiniteSample`], [`Error::InvalidState`] after `finish`,
    /// [`Error::Model`] if inference fails.
    pub fn push<S: AsRef<[f32]>>(&mut self, input: &[S]) -> Result<()> {
        self.core.push(input, &mut self.session)
    }

    /// Frames ready to be pulled.
    pub fn available(&self) -> usize {
        self.core.available()
    }

    /// Moves up to `min(out[c].len())` ready frames into `out` (one slice
    /// per channel); returns how many.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of output channels.
    pub fn pull(&mut self, out: &mut [&mut [f32]]) -> Result<usize> {
        self.core.pull(out)
    }

    /// Takes every ready frame, one `Vec` per channel.
    pub fn pull_all(&mut self) -> Vec<Vec<f32>> {
        self.core.pull_all()
    }

    /// Ends the input: processes what is pending so that every frame pushed
    /// can be pulled. Further pushes fail; calling it again does nothing.
    ///
    /// # Errors
    /// As [`push`](StreamingEnhancer::push).
    pub fn finish(&mut self) -> Result<()> {
        self.core.finish(&mut self.session)
    }

    /// Starts a new signal (same rate and channels): clears every buffer and
    /// the model's caches.
    pub fn reset(&mut self) -> Result<()> {
        self.core = Core::new(self.core.rate, self.core.channels, self.core.windows)?;
        self.session.reset();
        Ok(())
    }

    /// The STFT windows in use.
    pub fn windows(&self) -> Windows {
        self.core.windows
    }

    /// The session, e.g. to start a stream with another rate.
    pub fn into_session(self) -> GtcrnSession {
        self.session
    }
}

/// What [`SpeechEnhancer::enhance_file`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnhanceStats {
    /// Frames written (equal to the input's frame count).
    pub frames: u64,
    /// Sample rate of input and output in Hz.
    pub sample_rate: u32,
    /// Channels of input and output.
    pub channels: usize,
    /// Wall-clock seconds.
    pub processing_time_s: f64,
    /// Audio seconds per processing second (> 1 is faster than real time).
    pub realtime_factor: f64,
    /// Whether [`Control::stop`] ended the run early: the output then holds
    /// the enhancement of the `frames` frames read until then.
    pub stopped: bool,
}

/// Offline speech enhancement with GTCRN (see the module docs).
///
/// Output has exactly the input's length and is time-aligned with it.
/// Every call starts from cleared caches, so results do not depend on
/// earlier calls.
///
/// # Example
/// ```no_run
/// use resonode_ml::gtcrn::{EnhancerOptions, SpeechEnhancer};
/// let mut enhancer = SpeechEnhancer::new(&EnhancerOptions::default())?; // built-in model, CPU
/// let noisy = vec![0.0f32; 48_000];
/// let clean = enhancer.enhance(&noisy, 48_000)?;
/// assert_eq!(clean.len(), noisy.len());
/// # Ok::<(), resonode_core::Error>(())
/// ```
pub struct SpeechEnhancer {
    session: GtcrnSession,
    windows: Windows,
}

impl std::fmt::Debug for SpeechEnhancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechEnhancer").field("session", &self.session).field("windows", &self.windows).finish()
    }
}

impl SpeechEnhancer {
    /// Loads the model (see [`GtcrnSession::load`]).
    ///
    /// # Errors
    /// As [`GtcrnSession::load`].
    pub fn new(opts: &EnhancerOptions) -> Result<Self> {
        Ok(SpeechEnhancer { session: GtcrnSession::load(opts)?, windows: opts.windows() })
    }

    /// Uses an already loaded session.
    pub fn with_session(session: GtcrnSession, windows: Windows) -> Self {
        SpeechEnhancer { session, windows }
    }

    /// The session (model description, execution provider, warnings).
    pub fn session(&self) -> &GtcrnSession {
        &self.session
    }

    /// The STFT windows in use.
    pub fn windows(&self) -> Windows {
        self.windows
    }

    /// Enhances one channel at `sample_rate` Hz; returns the same number of
    /// samples, time-aligned.
    ///
    /// # Errors
    /// [`Error::NonFiniteSample`], [`Error::InvalidParameter`] (rate), [`Error::Model`].
    pub fn enhance(&mut self, samples: &[f32], sample_rate: u32) -> Result<Vec<f32>> {
        Ok(self.enhance_planar(&[samples], sample_rate)?.pop().unwrap_or_default())
    }

    /// Enhances planar audio (each channel independently) at `sample_rate`
    /// Hz; returns the same shape.
    ///
    /// # Errors
    /// [`Error::Shape`] for ragged channels, [`Error::EmptyAudio`] for no
    /// channels, and as [`enhance`](SpeechEnhancer::enhance).
    pub fn enhance_planar<S: AsRef<[f32]>>(&mut self, channels: &[S], sample_rate: u32) -> Result<Vec<Vec<f32>>> {
        if channels.is_empty() {
            return Err(Error::EmptyAudio { reason: "no channels to enhance".into() });
        }
        let mut core = Core::new(sample_rate, channels.len(), self.windows)?;
        self.session.set_streams(channels.len())?;
        core.push(channels, &mut self.session)?;
        core.finish(&mut self.session)?;
        Ok(core.pull_all())
    }

    /// Enhances an [`AudioBuffer`] at `sample_rate` Hz into a new buffer of
    /// the same shape.
    ///
    /// # Errors
    /// As [`enhance_planar`](SpeechEnhancer::enhance_planar).
    pub fn enhance_buffer(&mut self, input: &AudioBuffer, sample_rate: u32) -> Result<AudioBuffer> {
        let planes: Vec<&[f32]> = (0..input.channels()).map(|c| input.channel(c)).collect();
        AudioBuffer::from_planar(&self.enhance_planar(&planes, sample_rate)?)
    }

    /// Enhances a file into `output` (`.wav` or `.flac`), streaming at
    /// constant memory, keeping the input's rate, channels and (unless
    /// `encoding` says otherwise) sample format. The output has exactly the
    /// input's length.
    ///
    /// `on_progress` gets the input frames read and the completed fraction
    /// after every read. `control` stops it from another thread, like a
    /// pipeline: the input
    /// is read no further (checked before every read of 16384 frames), what
    /// was read is enhanced to its end, and the output is finalised, a
    /// valid file of exactly [`EnhanceStats::frames`] frames, with
    /// [`EnhanceStats::stopped`] set. A stop asked for before the start
    /// gives an empty (valid) file.
    ///
    /// # Errors
    /// Everything [`FileSource::open`] and the sinks report;
    /// [`Error::InvalidParameter`] when `output` is the input file.
    pub fn enhance_file(
        &mut self,
        input: &Path,
        output: &Path,
        encoding: Option<WavEncoding>,
        control: &Control,
        mut on_progress: impl FnMut(Progress),
    ) -> Result<EnhanceStats> {
        let started = Instant::now();
        if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
            if a == b {
                return Err(Error::param(
                    "output",
                    format!("{} is the input file; refusing to overwrite it", output.display()),
                ));
            }
        }
        let mut source = FileSource::open(input, &SourceOptions::default())?;
        let (rate, channels) = (source.sample_rate(), source.channels());
        let format = OutputFormat::for_path(output, encoding, Some(source.info()))?;
        let mut core = Core::new(rate, channels, self.windows)?;
        self.session.set_streams(channels)?;
        let mut sink = open_sink(output, format);
        sink.open(rate, channels)?;
        log::debug!(
            target: crate::runtime::LOG,
            "enhance job start: {} ({rate} Hz, {channels} ch, {} frames) -> {}",
            input.display(),
            source.total_frames().map_or_else(|| "unknown".to_string(), |t| t.to_string()),
            output.display()
        );
        let chunk = 16_384;
        let mut buf = AudioBuffer::new(channels, chunk);
        let mut outbuf = AudioBuffer::new(channels, chunk);
        let mut frames = 0u64;
        let mut stopped = false;
        let total = source.total_frames();
        let mut read = 0u64;
        let result = (|| -> Result<()> {
            loop {
                stopped = control.stop_requested();
                let n = if stopped { 0 } else { source.read(&mut buf)? };
                read += n as u64;
                if n > 0 {
                    let fraction = total.map(|t| if t == 0 { 1.0 } else { (read as f64 / t as f64).min(1.0) });
                    on_progress(Progress { frames: read, total_frames: total, fraction });
                }
                if n == 0 {
                    core.finish(&mut self.session)?;
                } else {
                    let planes: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
                    core.push(&planes, &mut self.session)?;
                }
                while core.available() > 0 {
                    outbuf.set_frames(chunk.min(core.available()));
                    let mut block = outbuf.as_block_mut();
                    let mut planes: Vec<&mut [f32]> = block.channels_mut().collect();
                    let got = core.pull(&mut planes)?;
                    frames += got as u64;
                    outbuf.set_frames(got);
                    sink.write(&outbuf.as_block())?;
                }
                if n == 0 {
                    return Ok(());
                }
            }
        })();
        let fin = sink.finalize();
        if let Some(e) = result.as_ref().err().or(fin.as_ref().err()) {
            log::debug!(target: crate::runtime::LOG, "enhance job failed after {frames} frames: {e}");
        }
        result?;
        fin?;
        let t = started.elapsed().as_secs_f64();
        let audio_s = frames as f64 / f64::from(rate);
        log::debug!(
            target: crate::runtime::LOG,
            "enhance job end: {frames} frames ({audio_s:.3} s of audio) in {t:.3} s{}",
            if stopped { ", stopped" } else { "" }
        );
        Ok(EnhanceStats {
            frames,
            sample_rate: rate,
            channels,
            processing_time_s: t,
            realtime_factor: if t > 0.0 { audio_s / t } else { 0.0 },
            stopped,
        })
    }

    /// Starts a [`StreamingEnhancer`] on this enhancer's session.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 channels or an unsupported rate.
    pub fn into_streaming(self, sample_rate: u32, channels: usize) -> Result<StreamingEnhancer> {
        StreamingEnhancer::with_session(self.session, self.windows, sample_rate, channels)
    }
}
