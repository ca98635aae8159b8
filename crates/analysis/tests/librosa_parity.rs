//! Frame features against librosa 0.11 on the repo's real recordings
//! (fixtures by `scripts/make_analysis_fixtures.py`): the file is decoded,
//! downmixed and resampled to 22050 Hz by resonode (rubato), librosa's by
//! `librosa.load` (soxr), and the features compared frame by frame.

use std::path::{Path, PathBuf};

use resonode_analysis::input::{AnalysisInput, FILE_RESAMPLER_CHUNK};
use resonode_analysis::{AnalysisConfig, FeatureExtractor, FeatureFrames};
use resonode_core::{AudioBuffer, Source};
use resonode_io::{ChannelSelection, FileSource, SourceOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Reference {
    frames: usize,
    rows: Vec<Vec<f32>>,
}

fn reference(stem: &str) -> Reference {
    let manifest = std::fs::read_to_string(root().join("crates/analysis/tests/fixtures/manifest.txt")).unwrap();
    let line = manifest.lines().find(|l| l.starts_with(&format!("name={stem} "))).unwrap();
    let field = |k: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{k}="))).unwrap().to_string();
    let frames: usize = field("frames").parse().unwrap();
    let n_rows: usize = field("rows").parse().unwrap();
    let bytes = std::fs::read(root().join(format!("crates/analysis/tests/fixtures/{stem}.librosa.f32"))).unwrap();
    let all: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(all.len(), frames * n_rows);
    Reference { frames, rows: all.chunks(frames).map(<[f32]>::to_vec).collect() }
}

fn ours(asset: &str, block: usize) -> FeatureFrames {
    let opts = SourceOptions { sample_rate: None, channels: ChannelSelection::All };
    let mut src = FileSource::open(&root().join("assets").join(asset), &opts).unwrap();
    let mut input = AnalysisInput::new(src.sample_rate(), src.channels(), 22_050, FILE_RESAMPLER_CHUNK).unwrap();
    let mut ex = FeatureExtractor::new(AnalysisConfig::default()).unwrap();
    let mut out = FeatureFrames::new(13);
    let mut buf = AudioBuffer::new(src.channels(), block);
    let mut pos = 0;
    while src.read(&mut buf).unwrap() > 0 {
        let planar: Vec<&[f32]> = (0..buf.channels()).map(|c| buf.channel(c)).collect();
        input.push(&planar, pos, |m| ex.push(m, &mut out)).unwrap();
        pos += buf.frames() as u64;
    }
    input.finish(|m| ex.push(m, &mut out)).unwrap();
    ex.finish(&mut out);
    out
}

/// Frames louder than -60 dBFS (librosa's RMS) whose analysis window lies
/// inside the signal: at the edges the fixtures' resampler (an FFT over the
/// whole file, so circular) wraps the end of the file into its start.
fn loud_frames(r: &Reference) -> Vec<usize> {
    (2..r.frames - 3).filter(|&t| 20.0 * r.rows[0][t].max(1e-12).log10() > -60.0).collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().map(|&v| f64::from(v)).sum::<f64>() / n, b.iter().map(|&v| f64::from(v)).sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

struct Report {
    mfcc_max: f32,
    mfcc_p99: f32,
    centroid_max_rel: f32,
    centroid_within_1pct: f64,
    rolloff_max_rel: f32,
    rolloff_within_1pct: f64,
    chroma_min_corr: f64,
}

fn compare(stem: &str, asset: &str) -> Report {
    let r = reference(stem);
    let o = ours(asset, 4096);
    assert_eq!(o.len(), r.frames, "{stem}: frame count");
    let loud = loud_frames(&r);
    assert!(loud.len() > r.frames / 2, "{stem}: {} loud frames of {}", loud.len(), r.frames);
    let mut mfcc_err: Vec<f32> = Vec::new();
    for c in 1..=12 {
        for &t in &loud {
            mfcc_err.push((o.mfcc[c][t] - r.rows[7 + c][t]).abs());
        }
    }
    mfcc_err.sort_by(f32::total_cmp);
    let rel = |a: f32, b: f32| (a - b).abs() / b.abs().max(1e-6);
    let centroid: Vec<f32> = loud.iter().map(|&t| rel(o.centroid_hz[t], r.rows[2][t])).collect();
    let centroid_max_rel = centroid.iter().copied().fold(0f32, f32::max);
    let rolloff: Vec<f32> = loud.iter().map(|&t| rel(o.rolloff_hz[t], r.rows[4][t])).collect();
    let chroma_min_corr = loud
        .iter()
        .map(|&t| {
            let a: Vec<f32> = (0..12).map(|c| o.chroma[c][t]).collect();
            let b: Vec<f32> = (0..12).map(|c| r.rows[20 + c][t]).collect();
            correlation(&a, &b)
        })
        .fold(1f64, f64::min);
    let rep = Report {
        mfcc_max: *mfcc_err.last().unwrap(),
        mfcc_p99: mfcc_err[mfcc_err.len() * 99 / 100],
        centroid_max_rel,
        centroid_within_1pct: centroid.iter().filter(|&&e| e <= 0.01).count() as f64 / centroid.len() as f64,
        rolloff_max_rel: rolloff.iter().copied().fold(0f32, f32::max),
        rolloff_within_1pct: rolloff.iter().filter(|&&e| e <= 0.01).count() as f64 / rolloff.len() as f64,
        chroma_min_corr,
    };
    eprintln!(
        "{stem}: {} loud frames; MFCC 1-12 |err| max {:.3} p99 {:.3}; centroid max rel {:.4}; rolloff max rel {:.4}, within 1 %: {:.3}; chroma min corr {:.5}",
        loud.len(), rep.mfcc_max, rep.mfcc_p99, rep.centroid_max_rel, rep.rolloff_max_rel, rep.rolloff_within_1pct, rep.chroma_min_corr
    );
    for (i, name) in ["rms", "zcr", "centroid", "bandwidth", "rolloff", "flatness", "onset"].iter().enumerate() {
        let ov: &Vec<f32> = match i {
            0 => &o.rms,
            1 => &o.zcr,
            2 => &o.centroid_hz,
            3 => &o.bandwidth_hz,
            4 => &o.rolloff_hz,
            5 => &o.flatness,
            _ => &o.onset_strength,
        };
        let a: Vec<f32> = loud.iter().map(|&t| ov[t]).collect();
        let b: Vec<f32> = loud.iter().map(|&t| r.rows[i][t]).collect();
        let maxrel = a.iter().zip(&b).map(|(&x, &y)| rel(x, y)).fold(0f32, f32::max);
        eprintln!("  {name}: corr {:.5}, max rel {:.4}", correlation(&a, &b), maxrel);
    }
    rep
}

fn check(stem: &str, asset: &str) {
    let r = compare(stem, asset);
    assert!(r.mfcc_max < 0.5, "{stem}: MFCC 1-12 differ by up to {}", r.mfcc_max);
    assert!(r.chroma_min_corr >= 0.99, "{stem}: chroma correlation down to {}", r.chroma_min_corr);
    // Per frame within 1 %, but for the odd frame near -60 dBFS where the
    // 16-bit dither's top octave (where resamplers differ) weighs in.
    assert!(r.centroid_within_1pct >= 0.99 && r.centroid_max_rel < 0.02, "{stem}: centroid");
    assert!(r.rolloff_within_1pct >= 0.99 && r.rolloff_max_rel < 0.02, "{stem}: roll-off");
}

#[test]
fn music_matches_librosa() {
    check("music", "music.wav");
}

#[test]
fn speech_matches_librosa() {
    check("speech", "speech.wav");
}

#[test]
fn noisy_speech_matches_librosa() {
    check("noisy_speech", "noisy_speech.wav");
}

#[test]
fn block_size_does_not_change_features() {
    assert_eq!(ours("music.wav", 4096), ours("music.wav", 333));
}
