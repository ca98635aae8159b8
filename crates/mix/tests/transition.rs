//! End-to-end checks of beat-matched transitions on synthetic tracks whose
//! beats, bars, pitch and level are known: A at 120 BPM in C major, B at
//! 126 BPM in A major and 8 dB quieter. The rendered file is analysed again
//! and its beats, tempo, pitch and loudness are compared with what the
//! transition promised.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use resonode_analysis::loudness::LoudnessMeter;
use resonode_analysis::{analyze_file, AnalyzeOptions, TrackDescriptors};
use resonode_core::pipeline::Sink;
use resonode_core::{AudioBuffer, Error};
use resonode_io::{WavEncoding, WavSink};
use resonode_mix::{render, render_transition, BeatTiming, PlanarTrack, TransitionOptions, TransitionReport};

const RATE: u32 = 44_100;

/// A synthetic track: a kick on every beat (pitch-swept decaying sine), a
/// louder kick plus a bass note on each bar's first beat, noise hi-hats on
/// the off-beats and a sustained three-note chord.
///
/// The balance matters to the analysis: with louder hi-hats the beat
/// tracker follows the off-beats, and with less contrast between the first
/// beat and the others no bar phase stands out (the downbeat detector needs
/// 15 % more low-band onset energy on one phase).
#[derive(Debug, Clone)]
struct Song {
    bpm: f64,
    /// Time of the first beat, s.
    first_beat_s: f64,
    /// Position in the bar (0 = downbeat) of the first beat.
    first_bar_pos: usize,
    seconds: f64,
    /// Chord frequencies, Hz; the first note is the loudest.
    chord_hz: [f64; 3],
    bass_hz: f64,
    gain_db: f64,
}

const SONG_A: Song = Song {
    bpm: 120.0,
    first_beat_s: 0.1,
    first_bar_pos: 1, // starts with a pickup: the first downbeat is at 1.6 s
    seconds: 50.0,
    chord_hz: [261.63, 329.63, 392.00], // C major
    bass_hz: 65.41,
    gain_db: 0.0,
};

const SONG_B: Song = Song {
    bpm: 126.0,
    first_beat_s: 0.2,
    first_bar_pos: 0,
    seconds: 45.0,
    chord_hz: [220.00, 277.18, 329.63], // A major
    bass_hz: 55.0,
    gain_db: -8.0,
};

impl Song {
    fn period(&self) -> f64 {
        60.0 / self.bpm
    }

    fn beats(&self) -> Vec<(f64, bool)> {
        let mut out = Vec::new();
        let mut k = 0;
        loop {
            let t = self.first_beat_s + k as f64 * self.period();
            if t >= self.seconds - 0.05 {
                return out;
            }
            out.push((t, (k + self.first_bar_pos).is_multiple_of(4)));
            k += 1;
        }
    }

    fn is_downbeat_time(&self, t: f64, tolerance_s: f64) -> bool {
        let bar = 4.0 * self.period();
        let first_downbeat = self.first_beat_s + ((4 - self.first_bar_pos) % 4) as f64 * self.period();
        let off = (t - first_downbeat).rem_euclid(bar);
        off.min(bar - off) <= tolerance_s
    }

    fn timing(&self, lufs: f64) -> BeatTiming {
        let beats = self.beats();
        BeatTiming {
            bpm: self.bpm,
            beats_s: beats.iter().map(|b| b.0).collect(),
            downbeats_s: beats.iter().filter(|b| b.1).map(|b| b.0).collect(),
            integrated_lufs: Some(lufs),
        }
    }

    /// Planar audio at `rate` Hz with `channels` channels (1 or 2).
    fn synth(&self, rate: u32, channels: usize) -> Vec<Vec<f32>> {
        let sr = f64::from(rate);
        let n = (self.seconds * sr) as usize;
        let tau = std::f64::consts::TAU;
        let mut left = vec![0.0f64; n];
        let mut right = vec![0.0f64; n];
        let g = 10f64.powf(self.gain_db / 20.0);
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        for (beat, down) in self.beats() {
            let s = (beat * sr).round() as usize;
            let amp = if down { 0.35 } else { 0.15 };
            for i in 0..(0.6 * sr) as usize {
                if s + i >= n {
                    break;
                }
                let t = i as f64 / sr;
                // Kick: 120 -> 50 Hz sweep.
                let phase = tau * (50.0 * t + 70.0 * 0.03 * (1.0 - (-t / 0.03).exp()));
                let mut v = amp * phase.sin() * (-t / 0.12).exp();
                if down {
                    v += 0.2 * (tau * self.bass_hz * t).sin() * (-t / 0.35).exp() * (1.0 - (-t / 0.005).exp());
                }
                left[s + i] += v;
                right[s + i] += v;
            }
            // Hi-hat half a beat later, alternating sides.
            let h = ((beat + self.period() / 2.0) * sr).round() as usize;
            let mut prev = 0.0;
            for i in 0..(0.08 * sr) as usize {
                if h + i >= n {
                    break;
                }
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                let w = (noise >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                let v = 0.012 * (w - prev) * (-(i as f64 / sr) / 0.015).exp();
                prev = w;
                let (l, r) = if (beat / self.period()).round() as i64 % 2 == 0 { (1.0, 0.6) } else { (0.6, 1.0) };
                left[h + i] += l * v;
                right[h + i] += r * v;
            }
        }
        for i in 0..n {
            let t = i as f64 / sr;
            let fade = (t / 0.05).min((self.seconds - t) / 0.05).clamp(0.0, 1.0);
            let [f0, f1, f2] = self.chord_hz;
            let v = fade * (0.04 * (tau * f0 * t).sin() + 0.025 * (tau * f1 * t).sin() + 0.025 * (tau * f2 * t).sin());
            left[i] += v;
            right[i] += v;
        }
        let to_f32 = |x: Vec<f64>| x.into_iter().map(|v| (v * g) as f32).collect::<Vec<f32>>();
        if channels == 1 {
            vec![to_f32(left.iter().zip(&right).map(|(l, r)| 0.5 * (l + r)).collect())]
        } else {
            vec![to_f32(left), to_f32(right)]
        }
    }
}

fn test_dir() -> PathBuf {
    // A fixed directory, rewritten by every run, so runs do not pile up files.
    let dir = std::env::temp_dir().join("resonode-mix-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_wav(path: &Path, rate: u32, planar: &[Vec<f32>]) {
    let mut sink = WavSink::create(path, WavEncoding::Int16);
    sink.open(rate, planar.len()).unwrap();
    let buf = AudioBuffer::from_planar(planar).unwrap();
    sink.write(&buf.as_block()).unwrap();
    sink.finalize().unwrap();
}

struct Rendered {
    report: TransitionReport,
    /// The rendered file, decoded again.
    mix: PlanarTrack,
    /// Analysis of the rendered file.
    analysis: TrackDescriptors,
}

/// A and B written as 16-bit WAV, rendered with the default options, the
/// result read back and analysed: shared by the tests below.
fn rendered() -> &'static Rendered {
    static R: OnceLock<Rendered> = OnceLock::new();
    R.get_or_init(|| {
        let dir = test_dir();
        let (a, b, out) = (dir.join("a-120bpm.wav"), dir.join("b-126bpm.wav"), dir.join("a-to-b.wav"));
        write_wav(&a, RATE, &SONG_A.synth(RATE, 2));
        write_wav(&b, RATE, &SONG_B.synth(RATE, 2));
        let stop = AtomicBool::new(false);
        let report = render_transition(&a, &b, &out, &TransitionOptions::default(), &stop).unwrap();
        eprintln!("report: {report:#?}");
        let mix = PlanarTrack::read(&out, &stop).unwrap();
        let analysis = analyze_file(&out, &AnalyzeOptions::default(), &stop, |_| {}, |_| Ok(())).unwrap();
        Rendered { report, mix, analysis }
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Errors (ms) from each of `detected` to the nearest of `expected`.
fn errors_ms(detected: &[f64], expected: &[f64]) -> Vec<f64> {
    detected.iter().map(|d| expected.iter().map(|e| (d - e).abs()).fold(f64::INFINITY, f64::min) * 1000.0).collect()
}

#[test]
fn beats_in_the_crossfade_stay_on_a_s_grid() {
    let r = rendered();
    let (xs, xe) = (r.report.crossfade_start_s, r.report.crossfade_end_s);
    let detected: Vec<f64> = r.analysis.beats_s.iter().copied().filter(|t| (xs..=xe).contains(t)).collect();
    assert!(
        detected.len() + 2 >= 16,
        "only {} beats detected in the 16-beat crossfade {xs:.3}..{xe:.3} s: {:?}",
        detected.len(),
        r.analysis.beats_s
    );
    let mut errs = errors_ms(&detected, &r.report.expected_beats_s);
    let max = errs.iter().copied().fold(0.0, f64::max);
    let med = median(&mut errs);
    eprintln!("crossfade beats: {} detected, median error {med:.2} ms, max {max:.2} ms", detected.len());
    assert!(max < 20.0, "beat errors in the crossfade: median {med:.2} ms, max {max:.2} ms (limit 20 ms)");

    // The tail (B alone, stretched) keeps the grid too.
    let tail: Vec<f64> = r.analysis.beats_s.iter().copied().filter(|&t| t > xe).collect();
    let mut errs = errors_ms(&tail, &r.report.expected_beats_s);
    let max = errs.iter().copied().fold(0.0, f64::max);
    let med = median(&mut errs);
    eprintln!("tail beats: {} detected, median error {med:.2} ms, max {max:.2} ms", tail.len());
    assert!(max < 20.0, "beat errors in the tail: median {med:.2} ms, max {max:.2} ms (limit 20 ms)");
}

#[test]
fn tempos_ratio_and_downbeats_are_the_tracks() {
    let r = &rendered().report;
    assert!((r.tempo_a_bpm - 120.0).abs() < 0.2, "tempo A {}", r.tempo_a_bpm);
    assert!((r.tempo_b_bpm - 126.0).abs() < 0.2, "tempo B {}", r.tempo_b_bpm);
    assert!((r.stretch_ratio - 120.0 / 126.0).abs() < 0.002, "ratio {}", r.stretch_ratio);
    // Both downbeats are bar starts of the songs (detection carries a small
    // constant lag, hence the 40 ms).
    assert!(SONG_A.is_downbeat_time(r.a_downbeat_s, 0.04), "A's downbeat {} is not a bar start", r.a_downbeat_s);
    assert!(SONG_B.is_downbeat_time(r.b_downbeat_s, 0.04), "B's downbeat {} is not a bar start", r.b_downbeat_s);
    // The latest one leaving 16 beats (8 s) of A: the bar starting 41.6 s.
    assert!((r.a_downbeat_s - 41.6).abs() < 0.04, "A's downbeat {}", r.a_downbeat_s);
    assert!((r.crossfade_end_s - r.crossfade_start_s - 8.0).abs() < 0.01);
    assert_eq!((r.sample_rate, r.channels, r.tail_beats), (RATE, 2, 16));
    assert!((r.duration_s - 24.0).abs() < 0.01, "duration {}", r.duration_s);
    // The output starts on one of A's beats, and the grid runs on at A's tempo.
    let e = &r.expected_beats_s;
    assert!(e[0].abs() < 1e-3 && e.len() >= 48, "{e:?}");
    assert!(e.windows(2).all(|w| (w[1] - w[0] - 0.5).abs() < 1e-3), "{e:?}");
}

#[test]
fn flac_output_is_written() {
    rendered(); // writes A and B
    let dir = test_dir();
    let out = dir.join("a-to-b.flac");
    let opts = TransitionOptions { crossfade_beats: 4, lead_in_beats: 4, tail_beats: 4, match_loudness: false };
    let r =
        render_transition(&dir.join("a-120bpm.wav"), &dir.join("b-126bpm.wav"), &out, &opts, &AtomicBool::new(false))
            .unwrap();
    let info = resonode_io::probe(&out).unwrap();
    assert_eq!((info.codec.as_str(), info.channels, info.sample_rate), ("flac", 2, RATE));
    assert!((info.duration_s().unwrap() - r.duration_s).abs() < 1e-3);
    assert!((r.duration_s - 6.0).abs() < 0.01 && r.gain_b_db == 0.0, "{r:#?}");
}

#[test]
fn a_mix_that_would_clip_is_scaled_down() {
    let loud = |song: &Song| {
        let mut x = song.synth(RATE, 2);
        x.iter_mut().flatten().for_each(|v| *v *= 2.5);
        PlanarTrack { sample_rate: RATE, channels: x }
    };
    let b_song = Song { gain_db: 0.0, ..SONG_B };
    let opts = TransitionOptions { crossfade_beats: 8, lead_in_beats: 4, tail_beats: 4, match_loudness: false };
    let (mix, r) = render(
        &loud(&SONG_A),
        &loud(&b_song),
        &SONG_A.timing(-14.0),
        &b_song.timing(-14.0),
        &opts,
        &AtomicBool::new(false),
    )
    .unwrap();
    let peak = mix.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    eprintln!("clipping mix: output gain {:.2} dB, peak {peak}", r.output_gain_db);
    assert!(r.output_gain_db < -0.5, "output gain {} dB", r.output_gain_db);
    assert!((peak - 1.0).abs() < 1e-6, "peak {peak}");
}

#[test]
fn output_tempo_is_a_s() {
    let r = rendered();
    let bpm = r.analysis.tempo.as_ref().expect("the output has a tempo").bpm;
    eprintln!("output tempo {bpm:.2} BPM");
    assert!((bpm - 120.0).abs() < 2.0, "output tempo {bpm:.2} BPM, A is 120");
}

/// Strongest frequency between `lo` and `hi` Hz in `x` (Hann window, zero
/// padding, parabolic interpolation).
fn dominant_hz(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let n = (x.len() * 4).next_power_of_two();
    let mut buf = vec![0.0f32; n];
    let len = x.len() as f32;
    for (i, &v) in x.iter().enumerate() {
        buf[i] = v * (0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / len).cos());
    }
    let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let bin_hz = f64::from(rate) / n as f64;
    let mag: Vec<f64> = spec.iter().map(|c| f64::from(c.norm())).collect();
    let (lo_bin, hi_bin) = ((lo / bin_hz) as usize, (hi / bin_hz) as usize);
    let k = (lo_bin..hi_bin).max_by(|&i, &j| mag[i].total_cmp(&mag[j])).unwrap();
    let (a, b, c) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
    (k as f64 + 0.5 * (a - c) / (a - 2.0 * b + c)) * bin_hz
}

fn mono(p: &PlanarTrack, from_s: f64, to_s: f64) -> Vec<f32> {
    let sr = f64::from(p.sample_rate);
    let (s, e) = ((from_s * sr) as usize, ((to_s * sr) as usize).min(p.frames()));
    (s..e).map(|i| p.channels.iter().map(|c| c[i]).sum::<f32>() / p.channels.len() as f32).collect()
}

#[test]
fn stretched_tail_keeps_b_s_pitch() {
    let r = rendered();
    let tail = mono(&r.mix, r.report.crossfade_end_s + 0.5, r.report.duration_s - 0.1);
    let f = dominant_hz(&tail, RATE, 150.0, 1000.0);
    let root = SONG_B.chord_hz[0];
    // Resampling instead of stretching would have moved it by 126/120: to 231 Hz.
    let cents = 1200.0 * (f / root).log2();
    eprintln!("tail: dominant {f:.2} Hz, B's root {root} Hz ({cents:+.1} cents)");
    assert!(cents.abs() < 10.0, "the tail's strongest note is {f:.2} Hz, B's root is {root} Hz ({cents:+.1} cents)");
    // The measurement itself sees A's key in the lead-in.
    let lead = mono(&r.mix, 0.0, r.report.crossfade_start_s);
    let fa = dominant_hz(&lead, RATE, 150.0, 1000.0);
    assert!((fa - SONG_A.chord_hz[0]).abs() < 1.0, "lead-in dominant {fa:.2} Hz");
}

#[test]
fn tail_loudness_matches_a() {
    let r = rendered();
    let la = r.report.loudness_a_lufs.expect("A has a loudness");
    let lb = r.report.loudness_b_lufs.expect("B has a loudness");
    let sr = f64::from(RATE);
    let (s, e) = ((r.report.crossfade_end_s * sr) as usize, r.mix.frames());
    let tail: Vec<&[f32]> = r.mix.channels.iter().map(|c| &c[s..e]).collect();
    let mut meter = LoudnessMeter::new(RATE, 2).unwrap();
    meter.push(&tail).unwrap();
    let lt = meter.summary().integrated_lufs.expect("the tail has a loudness");
    eprintln!("loudness: A {la:.2} LUFS, B {lb:.2} LUFS, gain on B {:.2} dB, tail {lt:.2} LUFS", r.report.gain_b_db);
    // B's samples are 8 dB down; its loudness differs a little more as its
    // bass, chord and tempo differ from A's.
    assert!((r.report.gain_b_db - 8.0).abs() < 1.5, "gain on B {:.2} dB (B is 8 dB quieter)", r.report.gain_b_db);
    assert!((la - lb - r.report.gain_b_db).abs() < 1e-9);
    assert_eq!(r.report.output_gain_db, 0.0, "the mix should not need scaling down");
    assert!((lt - la).abs() < 1.0, "tail {lt:.2} LUFS vs A {la:.2} LUFS");
}

/// 10 ms Hann-windowed 2 kHz tone bursts on every beat of `song` (mono, at
/// `rate` Hz): narrow-band, so their positions can be measured precisely
/// after stretching.
fn burst_track(song: &Song, rate: u32) -> Vec<f32> {
    let sr = f64::from(rate);
    let mut x = vec![0.0f32; (song.seconds * sr) as usize];
    let len = 0.01 * sr;
    for (beat, _) in song.beats() {
        let s = (beat * sr).round() as usize;
        for i in 0..len as usize {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / len).cos();
            x[s + i] = (0.3 * w * (std::f64::consts::TAU * 2000.0 * i as f64 / sr).sin()) as f32;
        }
    }
    x
}

/// Energy-weighted centre (s) of `x` within ±50 ms of `t`.
fn energy_centre(x: &[f32], rate: u32, t: f64) -> f64 {
    let sr = f64::from(rate);
    let (s, e) = (((t - 0.05) * sr) as usize, ((t + 0.05) * sr) as usize);
    let (mut num, mut den) = (0.0, 0.0);
    for (i, &v) in x[s..e].iter().enumerate() {
        let p = f64::from(v) * f64::from(v);
        num += p * (s + i) as f64;
        den += p;
    }
    num / den / sr
}

#[test]
fn in_memory_render_resamples_and_upmixes_b_and_aligns_it_exactly() {
    // B: mono, 48 kHz, tone bursts on its beats, timings exact; so only the
    // resampling, the stretch and the placement can misalign it.
    let a = PlanarTrack { sample_rate: RATE, channels: SONG_A.synth(RATE, 2) };
    let b = PlanarTrack { sample_rate: 48_000, channels: vec![burst_track(&SONG_B, 48_000)] };
    let opts = TransitionOptions { crossfade_beats: 8, lead_in_beats: 4, tail_beats: 24, match_loudness: true };
    let (mix, r) =
        render(&a, &b, &SONG_A.timing(-20.0), &SONG_B.timing(-28.0), &opts, &AtomicBool::new(false)).unwrap();
    assert_eq!((mix.len(), r.sample_rate, r.channels), (2, RATE, 2));
    // Mono B goes to both channels: the tail (B alone) is the same on both.
    let xe = (r.crossfade_end_s * f64::from(RATE)) as usize;
    assert_eq!(mix[0][xe..], mix[1][xe..]);
    // The latest downbeat of A leaving 8 beats (4 s) of A, and B's first.
    assert!((r.a_downbeat_s - 45.6).abs() < 1e-9 && (r.b_downbeat_s - 0.2).abs() < 1e-9, "{r:#?}");
    assert!((r.gain_b_db - 8.0).abs() < 1e-9);
    assert_eq!(r.tail_beats, 24);
    assert!((r.duration_s - 18.0).abs() < 1e-3, "duration {}", r.duration_s);
    // Each burst's centre is 5 ms after its beat in B, 5 ms / ratio after
    // it in the output.
    let centre = 0.005 / r.stretch_ratio;
    let mut errs: Vec<f64> = r
        .expected_beats_s
        .iter()
        .filter(|&&t| t > r.crossfade_end_s && t < r.duration_s - 0.1)
        .map(|&t| (energy_centre(&mix[0], RATE, t) - t - centre).abs() * 1000.0)
        .collect();
    assert!(errs.len() >= 20, "{} bursts in the tail", errs.len());
    let max = errs.iter().copied().fold(0.0, f64::max);
    let med = median(&mut errs);
    eprintln!("stretched bursts vs A's grid: {} bursts, median {med:.3} ms, max {max:.3} ms", errs.len());
    assert!(max < 2.0, "stretched B off A's grid: median {med:.3} ms, max {max:.3} ms (limit 2 ms)");
}

fn expect_param(result: resonode_core::Result<impl std::fmt::Debug>, name: &str, text: &str) {
    match result {
        Err(Error::InvalidParameter { name: n, reason }) => {
            assert_eq!(n, name, "{reason}");
            assert!(reason.contains(text), "`{reason}` does not mention `{text}`");
        }
        other => panic!("expected an invalid `{name}`, got {other:?}"),
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    let dir = test_dir();
    let (a, b) = (dir.join("err-a.wav"), dir.join("err-b.wav"));
    let short = Song { seconds: 6.0, ..SONG_A };
    write_wav(&a, RATE, &short.synth(RATE, 2));
    write_wav(&b, RATE, &SONG_B.synth(RATE, 1));
    let out = dir.join("err-out.wav");
    let go = AtomicBool::new(false);
    for beats in [0, 129] {
        let opts = TransitionOptions { crossfade_beats: beats, ..Default::default() };
        expect_param(render_transition(&a, &b, &out, &opts, &go), "crossfadeBeats", &beats.to_string());
    }
    let missing = dir.join("no-such-file.wav");
    let r = render_transition(&missing, &b, &out, &TransitionOptions::default(), &go);
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    let r = render_transition(&a, &b, &dir.join("out.mp3"), &TransitionOptions::default(), &go);
    assert!(matches!(r, Err(Error::UnsupportedFormat { .. })), "{r:?}");
    let r = render_transition(&a, &b, &out, &TransitionOptions::default(), &AtomicBool::new(true));
    assert!(matches!(&r, Err(Error::InvalidState { reason }) if reason == "the transition was stopped"), "{r:?}");

    // A 6 s A cannot hold a 16-beat (8 s) crossfade; a 4 s B neither.
    let (ta, tb) = (short.timing(-20.0), SONG_B.timing(-28.0));
    let pa = PlanarTrack { sample_rate: RATE, channels: short.synth(RATE, 2) };
    let pb = PlanarTrack { sample_rate: RATE, channels: SONG_B.synth(RATE, 2) };
    let opts = TransitionOptions::default();
    expect_param(render(&pa, &pb, &ta, &tb, &opts, &go), "a", "track A is 6.00 s long");
    let short_b = Song { seconds: 4.0, ..SONG_B };
    let pb_short = PlanarTrack { sample_rate: RATE, channels: short_b.synth(RATE, 2) };
    let pa_long = PlanarTrack { sample_rate: RATE, channels: SONG_A.synth(RATE, 2) };
    expect_param(
        render(&pa_long, &pb_short, &SONG_A.timing(-20.0), &short_b.timing(-28.0), &opts, &go),
        "b",
        "track B is 4.00 s long",
    );
    // The file path is named when a file is too short.
    expect_param(render_transition(&a, &b, &out, &opts, &go), "a", "err-a.wav is 6.00 s long");

    // No beat at all: white noise.
    let drone = dir.join("err-noise.wav");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<f32> = (0..10 * RATE as usize)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u32 << 24) as f32 - 0.5) * 0.2
        })
        .collect();
    write_wav(&drone, RATE, &[noise.clone(), noise]);
    let r = render_transition(&drone, &b, &out, &opts, &go);
    match r {
        Err(Error::InvalidState { reason }) => {
            assert!(reason.contains("err-noise.wav: no tempo found"), "{reason}")
        }
        other => panic!("expected no tempo, got {other:?}"),
    }

    // NaN and mismatched channels never panic.
    let mut nan = pa_long.clone();
    nan.channels[1][1000] = f32::NAN;
    let r = render(&nan, &pb, &SONG_A.timing(-20.0), &tb, &opts, &go);
    assert!(matches!(r, Err(Error::NonFiniteSample { frame: 1000, channel: 1, .. })), "{r:?}");
    let mut ragged = pa_long.clone();
    ragged.channels[1].pop();
    let r = render(&ragged, &pb, &SONG_A.timing(-20.0), &tb, &opts, &go);
    assert!(matches!(r, Err(Error::Shape { .. })), "{r:?}");
    let empty = PlanarTrack { sample_rate: RATE, channels: vec![] };
    let r = render(&pa_long, &empty, &SONG_A.timing(-20.0), &tb, &opts, &go);
    assert!(matches!(r, Err(Error::EmptyAudio { .. })), "{r:?}");
    let no_beats = BeatTiming { beats_s: vec![], ..tb.clone() };
    let r = render(&pa_long, &pb, &SONG_A.timing(-20.0), &no_beats, &opts, &go);
    assert!(matches!(&r, Err(Error::InvalidState { reason }) if reason.contains("track B: no tempo")), "{r:?}");
}

#[test]
fn a_half_time_b_is_mixed_at_double_time_on_every_other_beat_of_a() {
    // B at 63 BPM (half of 126): matched to A's 120 BPM at double time, a
    // stretch of 120/126 rather than 120/63; its bursts (one per B beat)
    // land on every other beat of A's grid, its downbeat on A's.
    let half_b = Song { bpm: 63.0, ..SONG_B };
    let a = PlanarTrack { sample_rate: RATE, channels: SONG_A.synth(RATE, 2) };
    let b = PlanarTrack { sample_rate: RATE, channels: vec![burst_track(&half_b, RATE)] };
    let opts = TransitionOptions { crossfade_beats: 8, lead_in_beats: 4, tail_beats: 16, match_loudness: false };
    let (mix, r) = render(&a, &b, &SONG_A.timing(-20.0), &half_b.timing(-28.0), &opts, &AtomicBool::new(false)).unwrap();
    assert_eq!(r.tempo_multiple, 2.0, "{r:#?}");
    assert!((r.tempo_b_bpm - 63.0).abs() < 0.01);
    assert!((r.stretch_ratio - 120.0 / 126.0).abs() < 1e-4, "ratio {}", r.stretch_ratio);
    assert!(half_b.is_downbeat_time(r.b_downbeat_s, 1e-6), "B's downbeat {} is not a bar start", r.b_downbeat_s);
    let centre = 0.005 / r.stretch_ratio;
    let tail: Vec<f64> = r.expected_beats_s.iter().copied().filter(|&t| t > r.crossfade_end_s && t < r.duration_s - 0.1).collect();
    // The first tail beat is a whole number of A beats after the downbeat: bursts on even ones.
    let start = r.crossfade_start_s;
    let beat_a = 60.0 / r.tempo_a_bpm;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for t in tail {
        let k = ((t - start) / beat_a).round() as i64;
        let e = (energy_centre(&mix[0], RATE, t) - t - centre).abs() * 1000.0;
        if k % 2 == 0 { on.push(e) } else { off.push(t) }
    }
    assert!(on.len() >= 7, "{} bursts", on.len());
    let max = on.iter().copied().fold(0.0, f64::max);
    assert!(max < 2.0, "bursts off every other beat of A's grid by up to {max:.3} ms");
    // Between them (odd beats of A), B is silent.
    for t in off {
        let i = (t * f64::from(RATE)) as usize;
        let peak = mix[0][i - 441..i + 441].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak < 0.01, "a burst at {t:.3} s, between B's beats");
    }
}
