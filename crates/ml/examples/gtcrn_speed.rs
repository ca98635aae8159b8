//! Per-frame cost and real-time factor of GTCRN enhancement in resonode.
//!
//! ```sh
//! cargo run --release -p resonode-ml --example gtcrn_speed [-- <wav> [threads]]
//! ```
//! Loads ONNX Runtime (node_modules/onnxruntime-node or ORT_DYLIB_PATH),
//! runs the built-in model with 1 intra-op thread (or `threads`) and reports:
//! - the model call alone (`GtcrnSession::run_frame`, one 16 ms STFT frame),
//! - the whole per-frame path (STFT, model, inverse STFT, overlap-add),
//! - the real-time factor (processing time / audio time) of offline
//!   enhancement of the file at 16 kHz and at 48 kHz (resampling included).
//!
//! Median and 99th percentile over all frames after 50 warm-up frames.
use std::path::PathBuf;
use std::time::Instant;

use resonode_core::pipeline::Source;
use resonode_core::AudioBuffer;
use resonode_io::{resample_planar, FileSource, SourceOptions};
use resonode_ml::gtcrn::{EnhancerOptions, GtcrnSession, SpeechEnhancer, FRAME_VALUES, HOP, SAMPLE_RATE};
use resonode_ml::runtime::SessionOptions;

fn read(path: &std::path::Path) -> Vec<f32> {
    let mut src = FileSource::open(
        path,
        &SourceOptions { sample_rate: Some(16000), channels: resonode_io::ChannelSelection::Mono },
    )
    .expect("input file");
    let mut out = Vec::new();
    let mut buf = AudioBuffer::new(1, 8192);
    while src.read(&mut buf).unwrap() > 0 {
        out.extend_from_slice(buf.channel(0));
    }
    out
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v[v.len() / 2], v[(v.len() * 99) / 100], mean)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = args.get(1).map(PathBuf::from).unwrap_or_else(|| root.join("assets/noisy_speech.wav"));
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(1);
    let x = read(&path);
    let audio_s = x.len() as f64 / f64::from(SAMPLE_RATE);
    let opts = EnhancerOptions {
        session: SessionOptions { intra_threads: threads, ..Default::default() },
        ..Default::default()
    };
    let info = resonode_ml::init_runtime(None).expect("ONNX Runtime");
    println!("ONNX Runtime {} from {}", info.version, info.library_path.display());
    println!("input: {} ({audio_s:.2} s at 16 kHz), intra-op threads: {threads}", path.display());

    // Model call alone, on real STFT-like frames (random spectra would do as
    // well: the cost does not depend on the values).
    let t = Instant::now();
    let mut session = GtcrnSession::load(&opts).expect("model");
    println!("session load: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let frames = x.len() / HOP;
    let mut enh = vec![0.0f32; FRAME_VALUES];
    let mut mix = vec![0.0f32; FRAME_VALUES];
    let mut times = Vec::with_capacity(frames);
    for f in 0..frames + 50 {
        let src = &x[(f % frames) * HOP..];
        for (k, m) in mix.iter_mut().enumerate() {
            *m = src.get(k).copied().unwrap_or(0.0);
        }
        let t = Instant::now();
        session.run_frame(0, &mix, &mut enh).unwrap();
        if f >= 50 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let (med, p99, mean) = stats(times);
    println!("model call per frame: median {med:.1} us, p99 {p99:.1} us, mean {mean:.1} us ({frames} frames)");
    println!("  -> model-only RTF {:.4} (frame = {} us of audio)", mean / 16000.0, HOP * 1_000_000 / 16000);

    let mut enhancer = SpeechEnhancer::with_session(session, opts.windows());
    // Whole offline path at 16 kHz, best of 3.
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let y = enhancer.enhance(&x, 16000).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(y.len(), x.len());
    }
    let nframes = x.len() / HOP + 2;
    println!(
        "offline 16 kHz: {:.1} ms for {audio_s:.2} s -> RTF {:.4}, {:.1} us per frame (STFT + model + iSTFT)",
        best * 1e3,
        best / audio_s,
        best * 1e6 / nframes as f64
    );
    let x48 = resample_planar(&[&x], 16000, 48000).unwrap().remove(0);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let y = enhancer.enhance(&x48, 48000).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(y.len(), x48.len());
    }
    println!("offline 48 kHz (resampled to 16 kHz and back): {:.1} ms -> RTF {:.4}", best * 1e3, best / audio_s);
}
