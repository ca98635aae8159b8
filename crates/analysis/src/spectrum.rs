//! Streaming framing and the short-time Fourier transform of the mono
//! analysis signal: [`Framer`] cuts centred frames as samples arrive,
//! [`Stft`] turns a frame into a magnitude spectrum with a periodic Hann
//! window (realfft).

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Cuts a stream of samples into frames of `n_fft` samples every `hop`
/// samples. With `center`, `n_fft / 2` zeros come before the first sample
/// and after the last, so a signal of `n` samples gives `1 + n / hop`
/// frames, frame `t` centred on sample `t * hop` (librosa's
/// `stft(center=True, pad_mode="constant")`); without, `1 + (n - n_fft) / hop`.
#[derive(Debug, Clone)]
pub struct Framer {
    n_fft: usize,
    hop: usize,
    center: bool,
    buf: Vec<f32>,
    /// Padded-stream index of `buf[0]`.
    buf_start: u64,
    /// Padded-stream index where the signal starts (`n_fft / 2` or 0).
    signal_start: u64,
    /// Samples of signal pushed so far.
    pushed: u64,
    /// Frames emitted so far.
    frames: u64,
    finished: bool,
}

/// One frame: its samples and where it sits in the stream.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Frame index from the start of the stream.
    pub index: u64,
    /// `n_fft` samples (zeros where the frame reaches past the signal).
    pub samples: &'a [f32],
    /// Range of `samples` that is signal, not padding.
    pub signal: std::ops::Range<usize>,
}

impl Framer {
    pub fn new(n_fft: usize, hop: usize, center: bool) -> Self {
        let pad = if center { n_fft / 2 } else { 0 };
        Framer {
            n_fft,
            hop,
            center,
            buf: vec![0.0; pad],
            buf_start: 0,
            signal_start: pad as u64,
            pushed: 0,
            frames: 0,
            finished: false,
        }
    }

    /// Frames emitted so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Samples of signal pushed so far.
    pub fn samples_pushed(&self) -> u64 {
        self.pushed
    }

    /// Appends `samples` and calls `f` for every frame that is complete.
    pub fn push(&mut self, samples: &[f32], mut f: impl FnMut(Frame<'_>)) {
        if self.finished {
            return;
        }
        self.buf.extend_from_slice(samples);
        self.pushed += samples.len() as u64;
        self.drain(&mut f);
    }

    /// Ends the stream: pads (with `center`) and emits the remaining frames.
    pub fn finish(&mut self, mut f: impl FnMut(Frame<'_>)) {
        if self.finished {
            return;
        }
        if self.center {
            self.buf.resize(self.buf.len() + self.n_fft / 2, 0.0);
        }
        self.drain(&mut f);
        self.finished = true;
    }

    fn drain(&mut self, f: &mut impl FnMut(Frame<'_>)) {
        let signal_end = self.signal_start + self.pushed;
        loop {
            let start = self.frames * self.hop as u64;
            let off = (start - self.buf_start) as usize;
            if off + self.n_fft > self.buf.len() {
                break;
            }
            let lo = self.signal_start.max(start).min(start + self.n_fft as u64);
            let hi = signal_end.min(start + self.n_fft as u64).max(lo);
            f(Frame {
                index: self.frames,
                samples: &self.buf[off..off + self.n_fft],
                signal: (lo - start) as usize..(hi - start) as usize,
            });
            self.frames += 1;
        }
        // Keep only what the next frame needs.
        let next = self.frames * self.hop as u64;
        if next > self.buf_start {
            let drop = ((next - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }
}

/// Magnitude spectra of frames: periodic Hann window (`0.5 - 0.5 cos(2 pi n / N)`,
/// scipy's `get_window("hann", N)`), real FFT (realfft), `|X[k]|` for
/// `k = 0..=N/2`.
pub struct Stft {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft").field("n_fft", &self.window.len()).finish_non_exhaustive()
    }
}

impl Stft {
    pub fn new(n_fft: usize) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let window = (0..n_fft)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / n_fft as f64).cos()) as f32)
            .collect();
        Stft {
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
        }
    }

    /// The window applied to each frame (`n_fft` values).
    pub fn window(&self) -> &[f32] {
        &self.window
    }

    /// Writes `|X[k]|²` and `|X[k]|` of the windowed `frame` into `power`
    /// and `magnitude` (`n_fft / 2 + 1` values each).
    pub fn power_and_magnitude(&mut self, frame: &[f32], power: &mut [f32], magnitude: &mut [f32]) {
        self.transform(frame);
        for ((p, m), c) in power.iter_mut().zip(magnitude.iter_mut()).zip(&self.output) {
            *p = c.re * c.re + c.im * c.im;
            *m = p.sqrt();
        }
    }

    fn transform(&mut self, frame: &[f32]) {
        for ((d, &x), &w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *d = x * w;
        }
        // Lengths are the plan's own, so the transform cannot fail.
        let _ = self.fft.process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch);
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(n: usize, n_fft: usize, hop: usize, center: bool, pieces: usize) -> Vec<(u64, Vec<f32>, std::ops::Range<usize>)> {
        let signal: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let mut fr = Framer::new(n_fft, hop, center);
        let mut out = Vec::new();
        let step = n.div_ceil(pieces.max(1)).max(1);
        for chunk in signal.chunks(step) {
            fr.push(chunk, |f| out.push((f.index, f.samples.to_vec(), f.signal.clone())));
        }
        fr.finish(|f| out.push((f.index, f.samples.to_vec(), f.signal.clone())));
        out
    }

    #[test]
    fn centred_frames_match_librosa_padding() {
        for &(n, pieces) in &[(10_000usize, 1usize), (10_000, 37), (4096, 4096), (1, 1), (513, 3)] {
            let out = frames_of(n, 2048, 512, true, pieces);
            assert_eq!(out.len(), 1 + n / 512, "n = {n}");
            for (t, samples, signal) in &out {
                for (i, &s) in samples.iter().enumerate() {
                    let padded = *t as i64 * 512 + i as i64 - 1024;
                    let want = if padded >= 0 && (padded as usize) < n { padded as f32 + 1.0 } else { 0.0 };
                    assert_eq!(s, want, "n {n} frame {t} sample {i}");
                    assert_eq!(signal.contains(&i), want != 0.0);
                }
            }
        }
    }

    #[test]
    fn uncentred_frames() {
        let out = frames_of(5000, 1024, 256, false, 7);
        assert_eq!(out.len(), 1 + (5000 - 1024) / 256);
        assert_eq!(out[3].1[0], 3.0 * 256.0 + 1.0);
    }

    #[test]
    fn hann_magnitude_of_a_bin_centred_sine() {
        let n = 1024;
        let mut stft = Stft::new(n);
        let k0 = 32.0;
        let frame: Vec<f32> = (0..n).map(|i| (2.0 * std::f64::consts::PI * k0 * i as f64 / n as f64).sin() as f32).collect();
        let (mut mag, mut power) = (vec![0.0; n / 2 + 1], vec![0.0; n / 2 + 1]);
        stft.power_and_magnitude(&frame, &mut power, &mut mag);
        assert!((power[32] - mag[32] * mag[32]).abs() < 1e-3 * power[32]);
        // A periodic Hann window has coherent gain 0.5: peak N/2 * 0.5 = N/4.
        assert!((mag[32] - n as f32 / 4.0).abs() < 1e-2, "{}", mag[32]);
        assert!((mag[31] - n as f32 / 8.0).abs() < 1e-2);
        assert!(mag[40] < 1e-2);
    }
}
