//! HTDemucs parity with PyTorch: resonode's separation of a real music clip
//! with a small randomly initialised HTDemucs (`htdemucs_tiny.onnx`) against
//! `demucs.apply.apply_model(model, mix, shifts=0, split=True, overlap=0.25,
//! transition_power=1)` with demucs' Separator normalisation
//! (fixtures from scripts/make_htdemucs_fixtures.py). The clip (348401
//! frames, 7.9 s) is longer than one segment and not a multiple of the hop
//! or the stride: two segments, the first full, the second a partial chunk
//! padded with real audio on the left and zeros on the right.

mod htdemucs_fixtures;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use htdemucs_fixtures::{dir, max_abs_diff, meta, peak, si_sdr, wav};
use resonode_core::{PlanarSource, Result};
use resonode_ml::chunker::{concat_regions, LongOptions, Region, Stems};
use resonode_ml::htdemucs::{normalization_stats, HtDemucs, Normalization, SeparateOptions};
use resonode_ml::model::Model;
use resonode_ml::runtime::SessionOptions;

/// One loaded separator shared by the tests (loading is the slow part on
/// two cores; a Mutex serialises the runs).
fn separator() -> MutexGuard<'static, HtDemucs> {
    static SEP: OnceLock<Mutex<HtDemucs>> = OnceLock::new();
    SEP.get_or_init(|| {
        let m = HtDemucs::load(&dir().join("htdemucs_tiny.onnx"), &SessionOptions::default())
            .expect("load the fixture model");
        Mutex::new(m)
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// The input clip: cut from `assets/music.wav` (real music, CC0) as the
/// fixture script did.
fn mix() -> Vec<Vec<f32>> {
    let start: usize = meta("clip.start_frame_in_music_wav").parse().unwrap();
    let frames: usize = meta("clip.frames").parse().unwrap();
    let (x, rate) = wav("../../../../../assets/music.wav");
    assert_eq!(rate, 44100);
    x.into_iter().map(|c| c[start..start + frames].to_vec()).collect()
}

fn assert_parity(out: &Stems, label: &str) {
    let sources: Vec<String> = meta("sources").split(',').map(str::to_string).collect();
    assert_eq!(out.len(), sources.len());
    for (s, name) in sources.iter().enumerate() {
        let (reference, _) = wav(&format!("ref_{name}.wav"));
        let est: Vec<f32> = out[s].iter().flatten().copied().collect();
        let r: Vec<f32> = reference.iter().flatten().copied().collect();
        assert_eq!(est.len(), r.len(), "{name}: length");
        let sdr = si_sdr(&est, &r);
        let err = max_abs_diff(&est, &r);
        let rel = err / peak(&r);
        println!(
            "{label} {name:>6}: SI-SDR {sdr:.1} dB, max abs error {err:.2e} = {rel:.2e} of the peak {:.4}",
            peak(&r)
        );
        assert!(sdr >= 70.0, "{name}: SI-SDR {sdr:.1} dB < 70 dB");
        assert!(rel <= 1e-3, "{name}: max abs error {rel:.2e} of the peak > 1e-3");
    }
}

#[test]
fn model_geometry_comes_from_the_export() {
    let sep = separator();
    let info = sep.info();
    assert_eq!(info.sources, ["drums", "bass", "other", "vocals"]);
    assert_eq!((info.sample_rate, info.segment, info.channels, info.nfft, info.bag_size), (44100, 343980, 2, 4096, 1));
    assert_eq!(meta("segment_samples"), "343980");
}

#[test]
fn separation_matches_pytorch_apply_model() {
    let x = mix();
    assert_eq!(x[0].len(), 348401);
    let (mean, std) = normalization_stats(&x);
    let (pm, ps): (f32, f32) = (meta("separator.mean").parse().unwrap(), meta("separator.std").parse().unwrap());
    assert!((mean - pm).abs() < 1e-7 && (std - ps).abs() < 1e-6 * ps, "Separator stats {mean} {std} vs {pm} {ps}");
    let mut sep = separator();
    let t = Instant::now();
    let out = sep.separate(&x, 44100, &SeparateOptions::default()).unwrap();
    println!("separate: {:.2} s for {:.2} s of audio", t.elapsed().as_secs_f64(), x[0].len() as f64 / 44100.0);
    assert_parity(&out, "separate");
}

#[test]
fn long_and_streaming_separation_match_the_reference_and_each_other() {
    let x = mix();
    let mut sep = separator();
    // separate_long: global normalisation by a first pass, 4096-frame reads.
    let mut src = PlanarSource::new(x.clone(), 44100).unwrap();
    let mut long_regions: Vec<Region> = Vec::new();
    let mut last_progress = None;
    let stats = sep
        .separate_long(
            &mut src,
            &SeparateOptions::default(),
            &LongOptions { read_frames: 4096 },
            |r| {
                long_regions.push(r);
                Ok(())
            },
            |p| last_progress = p.fraction,
        )
        .unwrap();
    println!(
        "separate_long: {} chunks, {} regions, time to first audio {:.2} s, total {:.2} s (RTF {:.2})",
        stats.chunks,
        stats.regions,
        stats.time_to_first_audio.unwrap().as_secs_f64(),
        stats.elapsed.as_secs_f64(),
        stats.elapsed.as_secs_f64() / (x[0].len() as f64 / 44100.0)
    );
    assert_eq!(last_progress, Some(1.0));
    assert_eq!((stats.chunks, stats.frames_in, stats.frames_out), (2, 348401, 348401));
    assert_eq!(
        long_regions.iter().map(|r| (r.start, r.chunk_idx, r.is_last)).collect::<Vec<_>>(),
        [(0, 0, false), (257985, 1, true)]
    );
    let long = concat_regions(long_regions.clone());
    assert_parity(&long, "separate_long");

    // The push stream with the same (fixed) statistics and random block
    // sizes yields the same regions, bit for bit.
    let (mean, std) = normalization_stats(&x);
    let opts = SeparateOptions { normalization: Normalization::Fixed { mean, std }, ..SeparateOptions::default() };
    let mut stream = sep.stream(2, 44100, &opts).unwrap();
    let mut regions = Vec::new();
    let (mut pos, mut seed) = (0usize, 12345u64);
    let t = Instant::now();
    let mut first_audio = None;
    while pos < x[0].len() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n = ((seed >> 33) as usize % 50000).min(x[0].len() - pos);
        let block: Vec<&[f32]> = x.iter().map(|c| &c[pos..pos + n]).collect();
        let got = stream.push(&block).unwrap();
        if !got.is_empty() && first_audio.is_none() {
            first_audio = Some((t.elapsed(), pos + n));
        }
        regions.extend(got);
        pos += n;
    }
    regions.extend(stream.finish().unwrap());
    let (tta, frames) = first_audio.unwrap();
    println!(
        "stream: first region after {frames} input frames ({:.2} s of audio), {:.2} s of compute",
        frames as f64 / 44100.0,
        tta.as_secs_f64()
    );
    assert_eq!(regions, long_regions);
}

#[test]
fn other_rates_and_mono_are_resampled_there_and_back() {
    let x = mix();
    // 3 s at 48 kHz, mono: one partial segment at 44.1 kHz.
    let mono: Vec<f32> = x[0][..132300].iter().zip(&x[1][..132300]).map(|(a, b)| 0.5 * (a + b)).collect();
    let at48 = resonode_io::resample_planar(&[&mono], 44100, 48000).unwrap();
    let mut sep = separator();
    let out = sep.separate(&at48, 48000, &SeparateOptions::default()).unwrap();
    assert_eq!(out.len(), 4);
    for stem in &out {
        assert_eq!(stem.len(), 2);
        assert!(stem.iter().all(|c| c.len() == at48[0].len() && c.iter().all(|v| v.is_finite())));
    }
    // The same audio separated at 44.1 kHz and resampled to 48 kHz agrees
    // closely: resampling there and back is transparent.
    let direct = sep.separate(&[&mono], 44100, &SeparateOptions::default()).unwrap();
    for (s, stem) in direct.iter().enumerate() {
        let up = resonode_io::resample_planar(stem, 44100, 48000).unwrap();
        let n = up[0].len();
        let (a, b): (Vec<f32>, Vec<f32>) = (out[s][0][2000..n - 2000].to_vec(), up[0][2000..n - 2000].to_vec());
        let sdr = si_sdr(&a, &b);
        println!("stem {s}: 48 kHz separation vs 44.1 kHz separation resampled: SI-SDR {sdr:.1} dB");
        assert!(sdr > 25.0, "stem {s}: {sdr:.1} dB");
    }
}

#[test]
fn models_that_are_not_htdemucs_are_refused_with_expected_vs_actual() {
    let gtcrn = Model::from_bytes(resonode_ml::gtcrn::BUILTIN_MODEL, "gtcrn", &SessionOptions::default()).unwrap();
    let err = HtDemucs::from_models(vec![gtcrn]).unwrap_err();
    assert_eq!(err.code(), "ERR_MODEL_MISMATCH");
    let msg = err.to_string();
    assert!(msg.contains("mix") && msg.contains("mag"), "{msg}");
    let err = HtDemucs::load(&dir().join("no_such_model.onnx"), &SessionOptions::default()).unwrap_err();
    assert_eq!(err.code(), "ERR_NOT_FOUND");
    let mut sep = separator();
    assert_eq!(sep.run_segment(&[vec![0.0; 10]]).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(sep.stream(2, 44100, &SeparateOptions::default()).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let empty: [Vec<f32>; 2] = [vec![], vec![]];
    assert_eq!(sep.separate(&empty, 44100, &SeparateOptions::default()).unwrap_err().code(), "ERR_EMPTY_AUDIO");
}

/// Speed and time to first audio of a real-size model:
/// `RESONODE_HTDEMUCS_MODEL=full.onnx cargo test --release -p resonode-ml
/// --test htdemucs_parity -- --ignored --nocapture` (make `full.onnx` with
/// `scripts/export_htdemucs.py --random` or the official weights).
#[test]
#[ignore = "needs RESONODE_HTDEMUCS_MODEL"]
fn speed_and_time_to_first_audio() {
    let Ok(path) = std::env::var("RESONODE_HTDEMUCS_MODEL") else { return };
    let threads: usize = std::env::var("RESONODE_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let t = Instant::now();
    let opts = SessionOptions { intra_threads: threads, ..SessionOptions::default() };
    let mut sep = HtDemucs::load(path.as_ref(), &opts).unwrap();
    println!("load: {:.2} s", t.elapsed().as_secs_f64());
    let (x, _) = wav("../../../../../assets/music.wav");
    let secs = x[0].len() as f64 / 44100.0;
    let mut src = PlanarSource::new(x.clone(), 44100).unwrap();
    let stats =
        sep.separate_long(&mut src, &SeparateOptions::default(), &LongOptions::default(), |_| Ok(()), |_| {}).unwrap();
    println!(
        "separate_long of {secs:.1} s: {} chunks, {:.2} s (RTF {:.3}), time to first audio {:.2} s",
        stats.chunks,
        stats.elapsed.as_secs_f64(),
        stats.elapsed.as_secs_f64() / secs,
        stats.time_to_first_audio.unwrap().as_secs_f64()
    );
    // A stream fed as fast as possible: its first region needs one segment
    // plus a frame of input and one model call.
    let (mean, std) = normalization_stats(&x);
    let opts = SeparateOptions { normalization: Normalization::Fixed { mean, std }, ..SeparateOptions::default() };
    let mut stream = sep.stream(2, 44100, &opts).unwrap();
    let t = Instant::now();
    let mut pos = 0;
    while pos < x[0].len() {
        let n = 4410.min(x[0].len() - pos);
        let block: Vec<&[f32]> = x.iter().map(|c| &c[pos..pos + n]).collect();
        pos += n;
        if !stream.push(&block).unwrap().is_empty() {
            println!(
                "stream: first region after {pos} input frames ({:.2} s of audio) and {:.2} s of compute",
                pos as f64 / 44100.0,
                t.elapsed().as_secs_f64()
            );
            break;
        }
    }
}

#[test]
fn separator_types_can_move_to_worker_threads() {
    fn send<T: Send>() {}
    send::<HtDemucs>();
    send::<resonode_ml::stft::Stft>();
    send::<resonode_ml::chunker::StreamingSeparator<fn(&[Vec<f32>]) -> Result<Stems>>>();
}
