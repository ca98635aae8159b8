//! Resampling in FileSource: frequency and amplitude kept, exact length,
//! time alignment, chunk-size independence.

mod common;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use common::*;
use resonode_core::Source;
use resonode_io::*;

/// Writes a mono or multichannel float WAV from planar data.
fn write_float_wav(path: &Path, rate: u32, planes: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: planes.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..planes[0].len() {
        for p in planes {
            w.write_sample(p[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn sine(rate: u32, freq: f64, amp: f64, frames: usize) -> Vec<f32> {
    (0..frames).map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32).collect()
}

fn resampled(path: &Path, rate: u32) -> (FileSource, Vec<Vec<f32>>) {
    let mut src = FileSource::open(path, &SourceOptions { sample_rate: Some(rate), ..Default::default() }).unwrap();
    let d = read_all(&mut src).unwrap();
    (src, d)
}

fn expected_len(frames: u64, from: u32, to: u32) -> usize {
    (frames as f64 * f64::from(to) / f64::from(from)).round() as usize
}

/// Frequency from upward zero crossings, interpolated between samples.
fn zero_crossing_freq(x: &[f32], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        let (a, b) = (f64::from(x[i - 1]), f64::from(x[i]));
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + a / (a - b));
        }
    }
    let n = crossings.len();
    (n - 1) as f64 / (crossings[n - 1] - crossings[0]) * f64::from(rate)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64).sqrt()
}

struct Files {
    dir: TempDir,
}

impl Files {
    fn new(tag: &str) -> Files {
        Files { dir: TempDir::new(tag) }
    }
    fn wav(&self, name: &str, rate: u32, planes: &[Vec<f32>]) -> PathBuf {
        let p = self.dir.path(name);
        write_float_wav(&p, rate, planes);
        p
    }
}

#[test]
fn a_1khz_sine_at_44k1_resampled_to_48k_is_a_1khz_sine_of_the_same_amplitude() {
    let f = Files::new("sine");
    let p = f.wav("sine.wav", 44100, &[sine(44100, 1000.0, 0.5, 88200)]);
    let (src, d) = resampled(&p, 48000);
    assert_eq!(src.sample_rate(), 48000);
    assert_eq!(src.total_frames(), Some(96000));
    let y = &d[0];
    assert_eq!(y.len(), 96000, "exactly round(88200 * 48000 / 44100)");
    let mid = &y[4800..91200];
    let freq = zero_crossing_freq(mid, 48000);
    assert!((freq - 1000.0).abs() < 0.05, "frequency {freq}");
    let amp = rms(mid) * 2f64.sqrt();
    assert!((amp - 0.5).abs() < 0.001, "amplitude {amp}");
}

#[test]
fn resampled_sines_are_in_phase_with_the_ideal_sine() {
    // Comparing with the ideal sine at the output rate checks the delay
    // compensation to a small fraction of a frame.
    let f = Files::new("phase");
    // (from, to, tolerance): the sinc path (44100 -> 48001) rounds its delay
    // to whole output frames, so it may be up to half a frame off.
    for (from, to, tol) in [
        (44100, 48000, 1e-3),
        (16000, 44100, 1e-3),
        (48000, 44100, 1e-3),
        (96000, 44100, 1e-3),
        (44100, 48001, 0.035),
        (48000, 44101, 0.035),
    ] {
        let n = 2 * from as usize;
        let p = f.wav(&format!("s-{from}-{to}.wav"), from, &[sine(from, 1000.0, 0.5, n)]);
        let (_, d) = resampled(&p, to);
        let m = d[0].len();
        let ideal = sine(to, 1000.0, 0.5, m);
        let (a, b) = (m / 20, m - m / 20);
        let err = max_abs_diff(&d[0][a..b], &ideal[a..b]);
        assert!(err < tol, "{from}->{to}: max deviation from the ideal sine {err}");
        let freq = zero_crossing_freq(&d[0][a..b], to);
        assert!((freq - 1000.0).abs() < 0.05, "{from}->{to}: frequency {freq}");
    }
}

#[test]
fn impulses_land_on_the_expected_output_frame() {
    let f = Files::new("impulse");
    for (from, to) in [(44100, 48000), (48000, 44100), (16000, 44100), (48000, 16000), (44100, 48001), (22050, 96000)] {
        let frames = from as usize; // 1 s
        let mut x = vec![0f32; frames];
        let at = [frames / 4, frames / 2 + 7, frames - frames / 5];
        for &k in &at {
            x[k] = 1.0;
        }
        let p = f.wav(&format!("imp-{from}-{to}.wav"), from, &[x]);
        let (_, d) = resampled(&p, to);
        assert_eq!(d[0].len(), expected_len(frames as u64, from, to), "{from}->{to}");
        for &k in &at {
            let expect = (k as f64 * f64::from(to) / f64::from(from)).round() as usize;
            let lo = expect.saturating_sub(40);
            let window = &d[0][lo..expect + 40];
            let peak = lo
                + window
                    .iter()
                    .enumerate()
                    .fold((0, 0f32), |m, (i, &v)| if v.abs() > m.1 { (i, v.abs()) } else { m })
                    .0;
            assert!(peak.abs_diff(expect) <= 1, "{from}->{to}: impulse at {k} came out at {peak}, expected {expect}");
        }
    }
}

#[test]
fn a_step_onset_is_time_aligned() {
    // A smooth onset (raised-cosine, 2 ms) reaching half height at 0.25 s.
    let f = Files::new("onset");
    let (from, to) = (44100u32, 48000u32);
    let n = 44100;
    let rise = 88.0;
    let t0 = 11025.0;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let u = ((i as f64 - t0) / rise + 0.5).clamp(0.0, 1.0);
            (0.5 - 0.5 * (PI * u).cos()) as f32 * 0.8
        })
        .collect();
    let p = f.wav("onset.wav", from, &[x]);
    let (_, d) = resampled(&p, to);
    let y = &d[0];
    let half = (0..y.len()).find(|&i| y[i] >= 0.4).unwrap() as f64;
    let expect = t0 * f64::from(to) / f64::from(from);
    assert!((half - expect).abs() <= 1.5, "half height at {half}, expected {expect}");
}

#[test]
fn output_length_is_exact_for_any_input_length() {
    let f = Files::new("lengths");
    for (from, to) in [(44100, 48000), (48000, 16000), (22050, 44100), (44100, 48001)] {
        for frames in [1usize, 2, 100, 1023, 1024, 1025, 5000, 12345] {
            let p = f.wav(&format!("len-{from}-{to}-{frames}.wav"), from, &[vec![0.25; frames], vec![-0.25; frames]]);
            let (src, d) = resampled(&p, to);
            let want = expected_len(frames as u64, from, to);
            assert_eq!(d[0].len(), want, "{frames} frames {from}->{to}");
            assert_eq!(d[1].len(), want);
            assert_eq!(src.total_frames(), Some(want as u64));
        }
    }
}

#[test]
fn resampled_output_does_not_depend_on_the_chunk_size() {
    let f = Files::new("chunks");
    let x = sine(44100, 440.0, 0.7, 30000);
    let p = f.wav("s.wav", 44100, &[x.clone(), x]);
    let opts = SourceOptions { sample_rate: Some(48000), ..Default::default() };
    let reference = read_all_chunked(&mut FileSource::open(&p, &opts).unwrap(), 65536).unwrap();
    for chunk in [1, 100, 1024, 4097] {
        let d = read_all_chunked(&mut FileSource::open(&p, &opts).unwrap(), chunk).unwrap();
        assert_eq!(d, reference, "chunk {chunk}");
    }
    // Rewind resets the resampler.
    let mut src = FileSource::open(&p, &opts).unwrap();
    let _ = read_all(&mut src).unwrap();
    src.rewind().unwrap();
    assert_eq!(read_all_chunked(&mut src, 65536).unwrap(), reference);
}

#[test]
fn real_music_resampled_and_downmixed() {
    let path = fixture("ref_s16.wav");
    let mut src =
        FileSource::open(&path, &SourceOptions { sample_rate: Some(16000), channels: ChannelSelection::Mono }).unwrap();
    assert_eq!((src.sample_rate(), src.channels()), (16000, 1));
    assert_eq!(src.info().sample_rate, 44100, "info describes the file as stored");
    let d = read_all(&mut src).unwrap();
    assert_eq!(d[0].len(), 16000);
    // Compare with the mono mix resampled by hand at a few points: the
    // spectrum below 7 kHz is kept, so the signal correlates with the
    // 44.1 kHz mix sampled at the same instants (nearest sample).
    let r = hound_read(&path).1;
    let mono: Vec<f32> = (0..44100).map(|i| (r[0][i] + r[1][i]) / 2.0).collect();
    let picked: Vec<f32> = (0..16000).map(|i| mono[((i as f64) * 44100.0 / 16000.0).round() as usize]).collect();
    assert!(correlation_at(&picked, &d[0], 0) > 0.95);
}

#[test]
fn invalid_target_rates_are_rejected() {
    let p = fixture("ref_s16.wav");
    for rate in [0, 999, 768_001] {
        let e = FileSource::open(&p, &SourceOptions { sample_rate: Some(rate), ..Default::default() }).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{rate}");
    }
    // Same rate as the file: no resampling, bit-exact.
    let same =
        read_all(&mut FileSource::open(&p, &SourceOptions { sample_rate: Some(44100), ..Default::default() }).unwrap())
            .unwrap();
    assert_eq!(same, hound_read(&p).1);
}
