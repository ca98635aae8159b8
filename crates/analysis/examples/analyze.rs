//! `cargo run --release -p resonode-analysis --example analyze -- FILE [FRAMES.csv]`:
//! the track descriptors as JSON (the fields of `resonode analyze --json`),
//! for benchmarks and evaluation without Node.

use std::sync::atomic::AtomicBool;

use resonode_analysis::{analyze_file, AnalyzeOptions, FrameCsvWriter};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: analyze FILE [FRAMES.csv]");
        std::process::exit(2);
    };
    let opts = AnalyzeOptions::default();
    let mut csv = args.get(1).map(|p| {
        FrameCsvWriter::new(std::io::BufWriter::new(std::fs::File::create(p).expect("create csv")), &opts.config, p.clone())
    });
    let stop = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let d = analyze_file(std::path::Path::new(path), &opts, &stop, |_| {}, |f| csv.as_mut().map_or(Ok(()), |w| w.write(f)));
    if let Some(w) = csv {
        w.finish().expect("flush csv");
    }
    match d {
        Ok(d) => {
            let v = json!({
                "durationS": d.duration_s,
                "sampleRate": d.sample_rate,
                "tempoBpm": d.tempo.map(|t| t.bpm),
                "tempoConfidence": d.tempo.map_or(0.0, |t| t.confidence),
                "beats": d.beats_s,
                "downbeats": d.downbeats_s,
                "key": d.key.map(|k| k.tonic_name()),
                "mode": d.key.map(|k| k.mode.as_str()),
                "camelot": d.key.map(|k| k.camelot()),
                "keyConfidence": d.key.map_or(0.0, |k| k.confidence),
                "loudnessLufs": d.loudness.integrated_lufs,
                "loudnessRangeLu": d.loudness.range_lu,
                "truePeakDbtp": d.loudness.true_peak_dbtp,
                "energy": d.energy,
                "elapsedS": started.elapsed().as_secs_f64(),
            });
            println!("{v}");
        }
        Err(e) => {
            eprintln!("analyze: {}: {e}", e.code());
            std::process::exit(1);
        }
    }
}
