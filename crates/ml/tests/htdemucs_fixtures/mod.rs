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
    meta_in(&dir(), key)
}

/// `tests/fixtures/<name>` (e.g. `htdemucs_segment`, `htdemucs_ft_tiny`).
pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The value of `key` in `<dir>/meta.txt`.
pub fn meta_in(dir: &std::path::Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join("meta.txt")).expect("meta.txt");
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(" = ") {
            if k.trim() == key {
                return v.trim().to_string();
            }
        }
    }
    panic!("no `{key}` in {}/meta.txt", dir.display())
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
    wav_at(&dir().join(name))
}

/// [`wav`] of any path.
pub fn wav_at(path: &std::path::Path) -> (Vec<Vec<f32>>, u32) {
    let name = path.display();
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{name}: {e}"));
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

/// `frames` frames of `assets/music.wav` (real music, stereo 44.1 kHz)
/// from frame `start`, as the fixture script cut them.
pub fn music_clip(start: usize, frames: usize) -> Vec<Vec<f32>> {
    let (x, rate) = wav_at(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/music.wav"));
    assert_eq!(rate, 44100);
    x.into_iter().map(|c| c[start..start + frames].to_vec()).collect()
}

/// Compares separated stems (in `sources` order) with the PyTorch
/// references `<dir>/<prefix><source>.wav`: every stem must reach an
/// SI-SDR of at least 70 dB and a maximum error of at most 1e-3 of the
/// reference's peak (the tolerance of `htdemucs_parity.rs`). Prints and
/// returns the worst (SI-SDR, max abs error, error / peak).
pub fn assert_stems_match(
    out: &[Vec<Vec<f32>>],
    dir: &std::path::Path,
    prefix: &str,
    sources: &[String],
    label: &str,
) -> (f64, f32, f32) {
    assert_eq!(out.len(), sources.len(), "{label}: stem count");
    let mut worst = (f64::INFINITY, 0.0f32, 0.0f32);
    for (s, name) in sources.iter().enumerate() {
        let (reference, _) = wav_at(&dir.join(format!("{prefix}{name}.wav")));
        let est: Vec<f32> = out[s].iter().flatten().copied().collect();
        let r: Vec<f32> = reference.iter().flatten().copied().collect();
        assert_eq!(est.len(), r.len(), "{label} {name}: length");
        let sdr = si_sdr(&est, &r);
        let err = max_abs_diff(&est, &r);
        let rel = err / peak(&r);
        println!("{label} {name:>6}: SI-SDR {sdr:.1} dB, max abs error {err:.2e} = {rel:.2e} of the peak {:.4}", peak(&r));
        assert!(sdr >= 70.0, "{label} {name}: SI-SDR {sdr:.1} dB < 70 dB");
        assert!(rel <= 1e-3, "{label} {name}: max abs error {rel:.2e} of the peak > 1e-3");
        worst = (worst.0.min(sdr), worst.1.max(err), worst.2.max(rel));
    }
    worst
}
