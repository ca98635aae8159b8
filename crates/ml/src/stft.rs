//! Short-time Fourier transform and its inverse, matching PyTorch's
//! `torch.stft` / `torch.istft` (one-sided, real input) and HTDemucs'
//! `_spec` / `_ispec` exactly.
//!
//! # Conventions (those of PyTorch)
//! - A frame `t` covers samples `[t * hop, t * hop + n_fft)` of the (padded)
//!   signal; it is multiplied by the window (a window shorter than `n_fft`
//!   is zero-padded on both sides, centred) and transformed with a real FFT
//!   into `n_fft / 2 + 1` bins, `X[k] = sum_n x[n] w[n] e^{-2 pi i k n / n_fft}`.
//! - `center`: the signal is first padded by `n_fft / 2` on both sides
//!   ([`PadMode::Reflect`]: mirrored without repeating the edge sample, as
//!   `torch.nn.functional.pad(mode="reflect")`; [`PadMode::Constant`]:
//!   zeros), so frame `t` is centred on sample `t * hop`. There are
//!   `1 + len / hop` frames (integer division), `1 + (len - n_fft) / hop`
//!   without centring.
//! - `normalized`: the forward transform is multiplied by `1 / sqrt(n_fft)`,
//!   the inverse by `sqrt(n_fft)`.
//! - The inverse is the least-squares overlap-add of `torch.istft`: every
//!   frame is inverse-transformed (the imaginary parts of the DC and Nyquist
//!   bins are ignored), multiplied by the window and overlap-added; the sum
//!   is divided by the overlap-added squared window. With `center` the first
//!   and last `n_fft / 2` samples are dropped; `length` crops or zero-extends
//!   the result. A zero in the squared-window envelope inside the output is
//!   an error, as in PyTorch.
//!
//! - A different synthesis window ([`StftConfig::synthesis_window`], as
//!   `librosa.istft(window=...)` allows) multiplies the inverse-transformed
//!   frames and makes the envelope instead of the analysis window.
//!
//! Spectrograms are stored bin-major ([`Spectrogram`]: `data[bin * frames +
//! frame]`), the memory layout of a PyTorch `[freq, time]` tensor.
//!
//! # One frame at a time
//! [`Stft::forward_frame`] and [`Stft::inverse_frame_add`] are the two
//! halves of [`Stft::forward`] / [`Stft::inverse`] for one frame, for
//! streaming users that pad and overlap-add themselves (GTCRN,
//! [`crate::gtcrn`]): the first is one column of `forward`, the second adds
//! one frame's windowed inverse into an overlap-add buffer exactly as
//! `inverse` does, and [`Stft::steady_envelope`] is the squared-window sum
//! `inverse` divides by, away from the signal's ends. They give the same
//! values, bit for bit, as the whole-signal functions.
//!
//! # HTDemucs
//! [`HtdemucsSpec`] is `HTDemucs._spec` / `_ispec` (demucs 4.x): n_fft 4096,
//! hop 1024, periodic Hann, normalized, centred with reflect padding, plus
//! HTDemucs' own padding and cropping so that a signal of `L` samples gives
//! exactly `ceil(L / hop)` frames of `n_fft / 2` bins (the Nyquist bin is
//! dropped), and back.
//!
//! # Real-time safety
//! [`Stft::new`] and the whole-signal functions allocate (plans, outputs).
//! [`Stft::forward_frame`] and [`Stft::inverse_frame_add`] do not: they use
//! the buffers planned once.

use std::fmt;
use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use resonode_core::{Error, Result};

/// How `center` pads the signal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PadMode {
    /// Mirror the signal without repeating the edge sample
    /// (`[a, b, c, d]` padded by 2 → `[c, b, a, b, c, d, c, b]`). Needs a
    /// pad shorter than the signal.
    #[default]
    Reflect,
    /// Zeros.
    Constant,
}

/// A Hann window of `len` samples: periodic (`0.5 - 0.5 cos(2 pi n / len)`,
/// PyTorch's default `torch.hann_window(len)`) or symmetric
/// (`... / (len - 1)`).
pub fn hann_window(len: usize, periodic: bool) -> Vec<f32> {
    if len == 1 {
        return vec![1.0];
    }
    let denom = if periodic { len } else { len - 1 } as f64;
    (0..len).map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / denom).cos()) as f32).collect()
}

/// The square root of [`hann_window`] (the analysis and synthesis window of
/// many speech models, e.g. GTCRN): `torch.hann_window(len).pow(0.5)`
/// (periodic) or `np.hanning(len) ** 0.5` (symmetric). Computed as
/// `sin(pi n / d)` in `f64` (`d = len` periodic, `len - 1` symmetric), which
/// equals `sqrt(0.5 - 0.5 cos(2 pi n / d))` for `0 <= n <= d` without the
/// rounding of the square root near the ends.
pub fn sqrt_hann_window(len: usize, periodic: bool) -> Vec<f32> {
    if len == 1 {
        return vec![1.0];
    }
    let denom = if periodic { len } else { len - 1 } as f64;
    (0..len).map(|n| (std::f64::consts::PI * n as f64 / denom).sin() as f32).collect()
}

/// Parameters of an [`Stft`].
#[derive(Debug, Clone, PartialEq)]
pub struct StftConfig {
    /// FFT size in samples (even, >= 2).
    pub n_fft: usize,
    /// Hop between frames in samples (>= 1).
    pub hop: usize,
    /// The window, at most `n_fft` long (zero-padded, centred, when shorter).
    pub window: Vec<f32>,
    /// The window of the inverse (same rules), or `None` (PyTorch's only
    /// choice) for `window`. The inverse multiplies each frame by it and
    /// divides by its overlap-added square.
    pub synthesis_window: Option<Vec<f32>>,
    /// Scale the forward transform by `1/sqrt(n_fft)` and the inverse by
    /// `sqrt(n_fft)` (PyTorch's `normalized=True`).
    pub normalized: bool,
    /// Pad by `n_fft / 2` on both sides so frames are centred on `t * hop`.
    pub center: bool,
    /// The padding used by `center`.
    pub pad_mode: PadMode,
}

impl StftConfig {
    /// `torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft))` defaults:
    /// periodic Hann, not normalized, centred with reflect padding.
    pub fn hann(n_fft: usize, hop: usize) -> StftConfig {
        StftConfig {
            n_fft,
            hop,
            window: hann_window(n_fft, true),
            synthesis_window: None,
            normalized: false,
            center: true,
            pad_mode: PadMode::Reflect,
        }
    }
}

/// A one-sided complex spectrogram, `bins x frames`, stored bin-major
/// (`data[bin * frames + frame]`).
#[derive(Clone, PartialEq)]
pub struct Spectrogram {
    bins: usize,
    frames: usize,
    data: Vec<Complex32>,
}

impl fmt::Debug for Spectrogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Spectrogram({} bins x {} frames)", self.bins, self.frames)
    }
}

impl Spectrogram {
    /// A zero spectrogram.
    pub fn zeros(bins: usize, frames: usize) -> Spectrogram {
        Spectrogram { bins, frames, data: vec![Complex32::new(0.0, 0.0); bins * frames] }
    }

    /// Wraps bin-major data.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data.len() != bins * frames`.
    pub fn from_vec(bins: usize, frames: usize, data: Vec<Complex32>) -> Result<Spectrogram> {
        if data.len() != bins * frames {
            return Err(Error::shape(format!(
                "spectrogram data has {} values, {bins} bins x {frames} frames need {}",
                data.len(),
                bins * frames
            )));
        }
        Ok(Spectrogram { bins, frames, data })
    }

    /// Number of frequency bins.
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The value at `(bin, frame)`.
    pub fn get(&self, bin: usize, frame: usize) -> Complex32 {
        self.data[bin * self.frames + frame]
    }

    /// Sets the value at `(bin, frame)`.
    pub fn set(&mut self, bin: usize, frame: usize, v: Complex32) {
        self.data[bin * self.frames + frame] = v;
    }

    /// All values, bin-major.
    pub fn as_slice(&self) -> &[Complex32] {
        &self.data
    }

    /// All values, bin-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [Complex32] {
        &mut self.data
    }

    /// The frames of one bin.
    pub fn bin(&self, bin: usize) -> &[Complex32] {
        &self.data[bin * self.frames..(bin + 1) * self.frames]
    }

    /// The frames of one bin, mutable.
    pub fn bin_mut(&mut self, bin: usize) -> &mut [Complex32] {
        &mut self.data[bin * self.frames..(bin + 1) * self.frames]
    }
}

/// `torch.nn.functional.pad(x, (left, right), mode)` for a 1-D signal.
///
/// # Errors
/// [`Error::InvalidParameter`] when a reflect pad is not shorter than the
/// signal (PyTorch refuses it too).
pub fn pad(x: &[f32], left: usize, right: usize, mode: PadMode) -> Result<Vec<f32>> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + left + right);
    match mode {
        PadMode::Constant => {
            out.resize(left, 0.0);
            out.extend_from_slice(x);
            out.resize(n + left + right, 0.0);
        }
        PadMode::Reflect => {
            if left >= n.max(1) || right >= n.max(1) {
                return Err(Error::param(
                    "pad",
                    format!("reflect padding of ({left}, {right}) needs a signal longer than the pad, got {n} samples"),
                ));
            }
            out.extend((1..=left).rev().map(|i| x[i]));
            out.extend_from_slice(x);
            out.extend((0..right).map(|j| x[n - 2 - j]));
        }
    }
    Ok(out)
}

/// Demucs' `pad1d(x, (left, right), mode="reflect")`: reflect padding that
/// also works on signals shorter than the pad, by first extending the
/// signal with zeros (on the right first) until it is one sample longer
/// than the larger pad.
pub fn pad1d_reflect(x: &[f32], left: usize, right: usize) -> Vec<f32> {
    let n = x.len();
    let max_pad = left.max(right);
    if n <= max_pad {
        let extra = max_pad - n + 1;
        let extra_right = right.min(extra);
        let extra_left = extra - extra_right;
        let mut y = vec![0.0; extra_left];
        y.extend_from_slice(x);
        y.resize(extra_left + n + extra_right, 0.0);
        // The padded signal is now longer than both remaining pads.
        pad(&y, left - extra_left, right - extra_right, PadMode::Reflect).expect("pads are shorter than the signal")
    } else {
        pad(x, left, right, PadMode::Reflect).expect("pads are shorter than the signal")
    }
}

/// An STFT/iSTFT engine for one [`StftConfig`] (FFT plans and buffers are
/// made once).
pub struct Stft {
    config: StftConfig,
    /// The window zero-padded to `n_fft`.
    window: Vec<f32>,
    /// The synthesis window zero-padded to `n_fft` (a copy of `window`
    /// when the config has none).
    synth: Vec<f32>,
    r2c: Arc<dyn RealToComplex<f32>>,
    c2r: Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    freq: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl fmt::Debug for Stft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.config.n_fft)
            .field("hop", &self.config.hop)
            .field("normalized", &self.config.normalized)
            .field("center", &self.config.center)
            .field("pad_mode", &self.config.pad_mode)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// Plans the FFTs for `config`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an odd or zero `n_fft`, a zero hop,
    /// or a (synthesis) window that is empty or longer than `n_fft`.
    pub fn new(config: StftConfig) -> Result<Stft> {
        let n = config.n_fft;
        if n < 2 || !n.is_multiple_of(2) {
            return Err(Error::param("n_fft", format!("must be even and at least 2, got {n}")));
        }
        if config.hop == 0 {
            return Err(Error::param("hop", "must be at least 1"));
        }
        let padded = |w: &[f32], name: &str| -> Result<Vec<f32>> {
            if w.is_empty() || w.len() > n {
                return Err(Error::param(name, format!("length must be in [1, n_fft = {n}], got {}", w.len())));
            }
            let mut out = vec![0.0; n];
            let off = (n - w.len()) / 2;
            out[off..off + w.len()].copy_from_slice(w);
            Ok(out)
        };
        let window = padded(&config.window, "window")?;
        let synth = match &config.synthesis_window {
            Some(w) => padded(w, "synthesis_window")?,
            None => window.clone(),
        };
        let mut planner = RealFftPlanner::<f32>::new();
        let r2c = planner.plan_fft_forward(n);
        let c2r = planner.plan_fft_inverse(n);
        let scratch_len = r2c.get_scratch_len().max(c2r.get_scratch_len());
        Ok(Stft {
            time: r2c.make_input_vec(),
            freq: r2c.make_output_vec(),
            scratch: vec![Complex32::new(0.0, 0.0); scratch_len],
            config,
            window,
            synth,
            r2c,
            c2r,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StftConfig {
        &self.config
    }

    /// Bins per frame: `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.config.n_fft / 2 + 1
    }

    /// Frames [`forward`](Stft::forward) makes of `len` samples (0 when the
    /// signal is too short without `center`).
    pub fn frame_count(&self, len: usize) -> usize {
        let StftConfig { n_fft, hop, center, .. } = self.config;
        let padded = if center { len + 2 * (n_fft / 2) } else { len };
        if padded < n_fft {
            0
        } else {
            1 + (padded - n_fft) / hop
        }
    }

    fn forward_scale(&self) -> f32 {
        if self.config.normalized {
            1.0 / (self.config.n_fft as f32).sqrt()
        } else {
            1.0
        }
    }

    /// irfft is unnormalised here; torch's is scaled by 1/n.
    fn inverse_scale(&self) -> f32 {
        let n = self.config.n_fft as f32;
        (if self.config.normalized { n.sqrt() } else { 1.0 }) / n
    }

    /// Windows `frame` (`n_fft` samples) and transforms it into `self.freq`
    /// (unscaled).
    fn transform(&mut self, frame: &[f32]) -> Result<()> {
        for ((t, &s), &w) in self.time.iter_mut().zip(frame).zip(&self.window) {
            *t = s * w;
        }
        self.r2c
            .process_with_scratch(&mut self.time, &mut self.freq, &mut self.scratch)
            .map_err(|e| Error::Internal { message: format!("FFT failed: {e}") })
    }

    /// Inverse-transforms `self.freq` into `self.time` (unscaled), ignoring
    /// the imaginary parts of the DC and Nyquist bins.
    fn untransform(&mut self) -> Result<()> {
        let last = self.freq.len() - 1;
        self.freq[0].im = 0.0;
        self.freq[last].im = 0.0;
        self.c2r
            .process_with_scratch(&mut self.freq, &mut self.time, &mut self.scratch)
            .map_err(|e| Error::Internal { message: format!("inverse FFT failed: {e}") })
    }

    /// One column of [`forward`](Stft::forward): the windowed real FFT of
    /// one frame of `n_fft` samples (already padded, as the caller's
    /// stream has it) into `out`, `n_fft / 2 + 1` bins.
    ///
    /// # Errors
    /// [`Error::Shape`] when `frame` is not `n_fft` samples or `out` not
    /// `n_fft / 2 + 1` bins.
    ///
    /// # Real-time safety
    /// Does not allocate.
    pub fn forward_frame(&mut self, frame: &[f32], out: &mut [Complex32]) -> Result<()> {
        let n = self.config.n_fft;
        if frame.len() != n || out.len() != self.bins() {
            return Err(Error::shape(format!(
                "one STFT frame is {n} samples into {} bins, got {} samples into {}",
                self.bins(),
                frame.len(),
                out.len()
            )));
        }
        let scale = self.forward_scale();
        self.transform(frame)?;
        for (o, &v) in out.iter_mut().zip(&self.freq) {
            *o = v * scale;
        }
        Ok(())
    }

    /// One frame of [`inverse`](Stft::inverse): the inverse real FFT of
    /// `spec` (`n_fft / 2 + 1` bins; the imaginary parts of the DC and
    /// Nyquist bins are ignored), scaled as `inverse` scales it, multiplied
    /// by the synthesis window and added to `acc` (`n_fft` samples, the
    /// overlap-add buffer at this frame's start). Divide the finished
    /// samples by [`steady_envelope`](Stft::steady_envelope) (or the
    /// envelope of the frames present, near the ends).
    ///
    /// # Errors
    /// [`Error::Shape`] when `spec` is not `n_fft / 2 + 1` bins or `acc`
    /// not `n_fft` samples.
    ///
    /// # Real-time safety
    /// Does not allocate.
    pub fn inverse_frame_add(&mut self, spec: &[Complex32], acc: &mut [f32]) -> Result<()> {
        let n = self.config.n_fft;
        if spec.len() != self.bins() || acc.len() != n {
            return Err(Error::shape(format!(
                "one iSTFT frame is {} bins into {n} samples, got {} bins into {}",
                self.bins(),
                spec.len(),
                acc.len()
            )));
        }
        self.freq.copy_from_slice(spec);
        self.untransform()?;
        let scale = self.inverse_scale();
        for ((a, &t), &w) in acc.iter_mut().zip(&self.time).zip(&self.synth) {
            *a += t * scale * w;
        }
        Ok(())
    }

    /// The overlap-added squared synthesis window at each of the `hop`
    /// positions of a frame, where every frame overlapping the position is
    /// present (away from the signal's ends): `e[i] = sum_k w[i + k hop]^2`.
    /// What [`inverse`](Stft::inverse) divides by there.
    pub fn steady_envelope(&self) -> Vec<f32> {
        let hop = self.config.hop;
        (0..hop)
            // Earliest frame (largest offset) first, the order `inverse` adds them in.
            .map(|i| self.synth.iter().skip(i).step_by(hop).rev().fold(0.0f32, |e, &w| e + w * w))
            .collect()
    }

    /// `torch.stft(x, ..., return_complex=True)` of a 1-D signal.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a reflect pad is not shorter than
    /// `x` (PyTorch's rule) or when `x` is shorter than one frame without
    /// `center`.
    pub fn forward(&mut self, x: &[f32]) -> Result<Spectrogram> {
        let half = self.config.n_fft / 2;
        let padded;
        let sig: &[f32] = if self.config.center {
            padded = pad(x, half, half, self.config.pad_mode)?;
            &padded
        } else {
            x
        };
        let frames = self.frame_count(x.len());
        if frames == 0 {
            return Err(Error::param(
                "signal",
                format!("{} samples are fewer than one frame of {}", x.len(), self.config.n_fft),
            ));
        }
        let mut spec = Spectrogram::zeros(self.bins(), frames);
        self.forward_frames(sig, 0, frames, &mut spec)?;
        Ok(spec)
    }

    /// Transforms frames `first..first + count` of an already padded signal
    /// `sig` (frame `t` starts at `t * hop`) into columns `0..count` of `out`.
    fn forward_frames(&mut self, sig: &[f32], first: usize, count: usize, out: &mut Spectrogram) -> Result<()> {
        let n = self.config.n_fft;
        let scale = self.forward_scale();
        let frames = out.frames;
        for f in 0..count {
            let start = (first + f) * self.config.hop;
            self.transform(&sig[start..start + n])?;
            for (k, &v) in self.freq.iter().enumerate().take(out.bins) {
                out.data[k * frames + f] = v * scale;
            }
        }
        Ok(())
    }

    /// `torch.istft(spec, ..., length=length)`: the signal whose STFT is
    /// closest to `spec` in the least-squares sense. Without `length` the
    /// result has `hop * (frames - 1)` samples with `center`
    /// (`n_fft + hop * (frames - 1)` without).
    ///
    /// # Errors
    /// [`Error::Shape`] when `spec` does not have `n_fft / 2 + 1` bins or
    /// has no frames; [`Error::InvalidParameter`] when the squared-window
    /// envelope is (almost) zero somewhere in the output (window and hop do
    /// not overlap enough, PyTorch's "window overlap add min" error).
    pub fn inverse(&mut self, spec: &Spectrogram, length: Option<usize>) -> Result<Vec<f32>> {
        let n = self.config.n_fft;
        let hop = self.config.hop;
        if spec.bins != self.bins() {
            return Err(Error::shape(format!("iSTFT of n_fft {n} needs {} bins, got {}", self.bins(), spec.bins)));
        }
        if spec.frames == 0 {
            return Err(Error::shape("iSTFT of a spectrogram without frames"));
        }
        let frames = spec.frames;
        let total = n + hop * (frames - 1);
        let mut y = vec![0.0f32; total];
        let mut env = vec![0.0f32; total];
        let scale = self.inverse_scale();
        for t in 0..frames {
            for (k, v) in self.freq.iter_mut().enumerate() {
                *v = spec.data[k * frames + t];
            }
            self.untransform()?;
            let start = t * hop;
            for i in 0..n {
                let w = self.synth[i];
                y[start + i] += self.time[i] * scale * w;
                env[start + i] += w * w;
            }
        }
        let start = if self.config.center { n / 2 } else { 0 };
        let end = match length {
            Some(l) => start + l,
            None if self.config.center => total - n / 2,
            None => total,
        };
        let mut out = Vec::with_capacity(end - start);
        for i in start..end.min(total) {
            let e = env[i];
            if e.abs() <= 1e-11 {
                return Err(Error::param(
                    "window",
                    format!(
                        "the squared window overlap-adds to {e:e} at sample {}: window and hop cannot be inverted",
                        i - start
                    ),
                ));
            }
            out.push(y[i] / e);
        }
        out.resize(end - start, 0.0);
        Ok(out)
    }
}

/// `HTDemucs._spec` and `HTDemucs._ispec` (demucs 4.x, `cac=True` layout
/// is up to the caller): n_fft 4096 (or another power of two), hop
/// `n_fft / 4`, periodic Hann, normalized, centred with reflect padding.
///
/// `spec` of `L` samples: `le = ceil(L / hop)`; the signal is padded with
/// demucs' `pad1d` (reflect) by `3 * hop / 2` on the left and
/// `3 * hop / 2 + le * hop - L` on the right, transformed, the Nyquist bin
/// dropped and frames `2..2 + le` kept: `n_fft / 2` bins x `le` frames.
///
/// `ispec(z, L)` undoes it: a zero Nyquist bin and two zero frames on each
/// side are added, the iSTFT taken with `length = hop * ceil(L / hop) + 3 * hop`
/// and samples `3 * hop / 2 .. 3 * hop / 2 + L` kept.
#[derive(Debug)]
pub struct HtdemucsSpec {
    stft: Stft,
}

impl HtdemucsSpec {
    /// The transform of HTDemucs with this `nfft` (4096 in every released
    /// model); hop is `nfft / 4`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `nfft` is not a multiple of 8.
    pub fn new(nfft: usize) -> Result<HtdemucsSpec> {
        if nfft < 8 || !nfft.is_multiple_of(8) {
            return Err(Error::param("nfft", format!("HTDemucs needs a multiple of 8, got {nfft}")));
        }
        let stft = Stft::new(StftConfig {
            n_fft: nfft,
            hop: nfft / 4,
            window: hann_window(nfft, true),
            synthesis_window: None,
            normalized: true,
            center: true,
            pad_mode: PadMode::Reflect,
        })?;
        Ok(HtdemucsSpec { stft })
    }

    /// FFT size.
    pub fn nfft(&self) -> usize {
        self.stft.config.n_fft
    }

    /// Hop size (`nfft / 4`).
    pub fn hop(&self) -> usize {
        self.stft.config.hop
    }

    /// Bins of [`spec`](HtdemucsSpec::spec): `nfft / 2`.
    pub fn bins(&self) -> usize {
        self.nfft() / 2
    }

    /// Frames of [`spec`](HtdemucsSpec::spec) for `len` samples: `ceil(len / hop)`.
    pub fn frames(&self, len: usize) -> usize {
        len.div_ceil(self.hop())
    }

    /// `HTDemucs._spec(x)` of one channel: `nfft / 2` bins x `ceil(len / hop)` frames.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] for an empty signal.
    pub fn spec(&mut self, x: &[f32]) -> Result<Spectrogram> {
        if x.is_empty() {
            return Err(Error::EmptyAudio { reason: "HTDemucs spectrogram of an empty signal".into() });
        }
        let hl = self.hop();
        let le = self.frames(x.len());
        let p = hl / 2 * 3;
        let x1 = pad1d_reflect(x, p, p + le * hl - x.len());
        let half = self.nfft() / 2;
        let sig = pad(&x1, half, half, PadMode::Reflect)?;
        debug_assert_eq!(self.stft.frame_count(x1.len()), le + 4);
        let mut full = Spectrogram::zeros(self.stft.bins(), le);
        self.stft.forward_frames(&sig, 2, le, &mut full)?;
        // Drop the Nyquist bin: bin-major storage makes it the tail.
        let bins = self.bins();
        full.data.truncate(bins * le);
        full.bins = bins;
        Ok(full)
    }

    /// `HTDemucs._ispec(z, length)` of one channel: `z` has `nfft / 2` bins.
    ///
    /// # Errors
    /// [`Error::Shape`] when `z` does not have `nfft / 2` bins or has no
    /// frames.
    pub fn ispec(&mut self, z: &Spectrogram, length: usize) -> Result<Vec<f32>> {
        let bins = self.bins();
        if z.bins != bins {
            return Err(Error::shape(format!("HTDemucs iSTFT needs {bins} bins, got {}", z.bins)));
        }
        let hl = self.hop();
        let frames = z.frames + 4;
        let mut padded = Spectrogram::zeros(bins + 1, frames);
        for k in 0..bins {
            padded.bin_mut(k)[2..2 + z.frames].copy_from_slice(z.bin(k));
        }
        let p = hl / 2 * 3;
        let le = hl * length.div_ceil(hl) + 2 * p;
        let x = self.stft.inverse(&padded, Some(le))?;
        Ok(x[p..p + length].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_pad_matches_torch() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(pad(&x, 2, 3, PadMode::Reflect).unwrap(), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0]);
        assert!(pad(&x, 4, 0, PadMode::Reflect).is_err());
        assert_eq!(pad(&x, 1, 1, PadMode::Constant).unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 0.0]);
    }

    #[test]
    fn pad1d_extends_short_signals_with_zeros() {
        // demucs pad1d([1, 2], (3, 1)): extra = 2, extra_right = 1, extra_left = 1
        // -> [0, 1, 2, 0] reflect-padded by (2, 0) -> [2, 1, 0, 1, 2, 0]
        assert_eq!(pad1d_reflect(&[1.0, 2.0], 3, 1), vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0]);
        assert_eq!(pad1d_reflect(&[1.0, 2.0, 3.0], 1, 1), vec![2.0, 1.0, 2.0, 3.0, 2.0]);
    }

    #[test]
    fn hann_is_periodic_by_default() {
        let w = hann_window(4, true);
        assert!((w[0] - 0.0).abs() < 1e-7 && (w[1] - 0.5).abs() < 1e-7 && (w[2] - 1.0).abs() < 1e-7);
        let s = hann_window(5, false);
        assert!((s[4] - 0.0).abs() < 1e-7 && (s[2] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn frame_counts() {
        let s = Stft::new(StftConfig::hann(512, 128)).unwrap();
        assert_eq!(s.frame_count(3001), 24);
        let mut c = StftConfig::hann(512, 128);
        c.center = false;
        let s = Stft::new(c).unwrap();
        assert_eq!(s.frame_count(511), 0);
        assert_eq!(s.frame_count(640), 2);
    }
}
