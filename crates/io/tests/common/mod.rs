//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use resonode_core::{AudioBuffer, Result, Source};

/// Path of a fixture in `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Path of a file in the workspace's `assets/`.
pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets").join(name)
}

/// Reads a whole source into planar vectors, with a deliberately odd chunk size.
pub fn read_all(src: &mut dyn Source) -> Result<Vec<Vec<f32>>> {
    read_all_chunked(src, 1000)
}

pub fn read_all_chunked(src: &mut dyn Source, chunk: usize) -> Result<Vec<Vec<f32>>> {
    let ch = src.channels();
    let mut buf = AudioBuffer::new(ch, chunk);
    let mut out = vec![Vec::new(); ch];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        assert_eq!(buf.frames(), n);
        for (c, o) in out.iter_mut().enumerate() {
            o.extend_from_slice(buf.channel(c));
        }
    }
}

/// Reads a WAV with hound (an independent decoder) as planar f32, scaling
/// integers by 2^(bits-1).
pub fn hound_read(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let ch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
        }
    };
    let mut out = vec![Vec::with_capacity(inter.len() / ch); ch];
    for f in inter.chunks_exact(ch) {
        for (c, &s) in f.iter().enumerate() {
            out[c].push(s);
        }
    }
    (spec, out)
}

/// A fresh, empty temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "resonode-io-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Largest absolute difference over the common length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Normalised cross-correlation of `a` and `b` with `b` delayed by `lag`
/// frames (b[i + lag] against a[i]).
pub fn correlation_at(a: &[f32], b: &[f32], lag: usize) -> f64 {
    let n = a.len().min(b.len().saturating_sub(lag));
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i + lag]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-30)
}

/// The lag in `0..=max_lag` with the highest correlation, and that correlation.
pub fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> (usize, f64) {
    (0..=max_lag).map(|l| (l, correlation_at(a, b, l))).fold((0, f64::MIN), |m, x| if x.1 > m.1 { x } else { m })
}
