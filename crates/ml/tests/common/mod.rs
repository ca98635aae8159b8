//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use resonode_core::pipeline::Source;
use resonode_core::AudioBuffer;
use resonode_io::{FileSource, SourceOptions};

/// The workspace root (two levels above this crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `../shared/models/gtcrn` beside the repository, where the reference
/// files live, or the copy committed in `tests/fixtures/gtcrn`.
pub fn gtcrn_refs() -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gtcrn");
    if fixtures.join("mix.wav").exists() {
        return fixtures;
    }
    root().join("../shared/models/gtcrn")
}

/// Reads a whole file as planar f32 at its own rate (or `rate`).
pub fn read(path: &Path, rate: Option<u32>) -> (Vec<Vec<f32>>, u32) {
    let mut src = FileSource::open(path, &SourceOptions { sample_rate: rate, ..Default::default() })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ch = src.channels();
    let mut out = vec![Vec::new(); ch];
    let mut buf = AudioBuffer::new(ch, 8192);
    while src.read(&mut buf).unwrap() > 0 {
        for (c, o) in out.iter_mut().enumerate() {
            o.extend_from_slice(buf.channel(c));
        }
    }
    (out, src.sample_rate())
}

/// Reads a mono file.
pub fn read_mono(path: &Path) -> (Vec<f32>, u32) {
    let (mut ch, rate) = read(path, None);
    (ch.remove(0), rate)
}

/// Maximum absolute difference over the common length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A deterministic xorshift64 generator, so tests need no random crate and
/// repeat exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A whole number in `0..n`.
    pub fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
    }

    /// Planar noise, channels x frames, uniform in [-0.5, 0.5).
    pub fn signal(&mut self, channels: usize, frames: usize) -> Vec<Vec<f32>> {
        (0..channels)
            .map(|_| (0..frames).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).collect())
            .collect()
    }
}

/// Deterministic white noise, uniform in [-1, 1).
pub fn white_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed.max(1));
    (0..n).map(|_| rng.uniform()).collect()
}

/// Deterministic pink (1/f power) noise: white noise shaped by `1/sqrt(f)`
/// in the frequency domain (DC removed), unit RMS.
pub fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
    use realfft::RealFftPlanner;
    let size = n.next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut x: Vec<f64> = white_noise(size, seed).iter().map(|&v| f64::from(v)).collect();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut x, &mut spec).unwrap();
    for (k, c) in spec.iter_mut().enumerate() {
        *c = if k == 0 { 0.0.into() } else { *c / (k as f64).sqrt() };
    }
    let last = spec.len() - 1;
    spec[last].im = 0.0;
    inv.process(&mut spec, &mut x).unwrap();
    let y = &x[..n];
    let rms = (y.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    y.iter().map(|v| (v / rms) as f32).collect()
}

/// Mean power.
pub fn power(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64
}

/// `speech + g * noise` with `g` chosen for the given SNR in dB over the
/// whole clip; returns the mixture.
pub fn mix_at_snr(speech: &[f32], noise: &[f32], snr_db: f64) -> Vec<f32> {
    let g = (power(speech) / power(&noise[..speech.len()]) / 10f64.powf(snr_db / 10.0)).sqrt() as f32;
    speech.iter().zip(noise).map(|(s, n)| s + g * n).collect()
}
