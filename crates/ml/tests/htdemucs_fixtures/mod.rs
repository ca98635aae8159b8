//! Reading the fixtures written by `scripts/make_htdemucs_fixtures.py`
//! (`tests/fixtures/htdemucs/`): raw little-endian f32 arrays whose shapes
//! are listed in `meta.txt`, and WAV files.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/htdemucs")
}

/// The value of `key` in `meta.txt`.
pub fn meta(key: &str) -> String {
    let text = std::fs::read_to_string(dir().join("meta.txt")).expect("meta.txt");
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(" = ") {
            if k.trim() == key {
                return v.trim().to_string();
            }
        }
    }
    panic!("no `{key}` in meta.txt")
}

/// A raw f32 array and its shape.
pub fn array(rel: &str) -> (Vec<usize>, Vec<f32>) {
    let shape: Vec<usize> = meta(&format!("{rel}.shape")).split_whitespace().map(|d| d.parse().unwrap()).collect();
    let bytes = std::fs::read(dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let data: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{rel}: size vs shape {shape:?}");
    (shape, data)
}

/// Planar channels of a WAV file (any sample format hound reads) and its rate.
pub fn wav(name: &str) -> (Vec<Vec<f32>>, u32) {
    let mut r = hound::WavReader::open(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let spec = r.spec();
    let ch = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 / scale).collect()
        }
    };
    let frames = inter.len() / ch;
    let planar = (0..ch).map(|c| (0..frames).map(|i| inter[i * ch + c]).collect()).collect();
    (planar, spec.sample_rate)
}

/// Scale-invariant SDR in dB (Le Roux et al. 2019), computed in f64.
pub fn si_sdr(est: &[f32], reference: &[f32]) -> f64 {
    let dot: f64 = est.iter().zip(reference).map(|(&a, &b)| a as f64 * b as f64).sum();
    let rr: f64 = reference.iter().map(|&b| b as f64 * b as f64).sum();
    let a = dot / rr;
    let (mut t, mut e) = (0.0f64, 0.0f64);
    for (&x, &r) in est.iter().zip(reference) {
        let tv = a * r as f64;
        t += tv * tv;
        e += (x as f64 - tv).powi(2);
    }
    10.0 * (t / e.max(1e-300)).log10()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn peak(a: &[f32]) -> f32 {
    a.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}
