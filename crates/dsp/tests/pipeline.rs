//! A registry-built chain driven by the core pipeline: the two-pass
//! `normalize` sees the signal after the processors before it, and the
//! limiter after it holds its ceiling, on a rewindable in-memory source.

mod common;

use common::noise;
use resonode_core::pipeline::{run, Control, PipelineOptions};
use resonode_core::{AudioBuffer, PlanarSink, PlanarSource};
use resonode_dsp::parse_chain;

/// The rewindable in-memory source, from a generated buffer.
fn memory(data: AudioBuffer) -> PlanarSource {
    PlanarSource::new(data.to_planar(), 48_000).unwrap()
}

fn peak_db(channels: &[Vec<f32>]) -> f64 {
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max((*v as f64).abs()));
    20.0 * peak.log10()
}

#[test]
fn normalize_in_a_chain_hits_its_target_through_the_pipeline() {
    let mut chain = parse_chain("highpass(50) gain(-12db) normalize(-3db)").unwrap();
    let mut source = memory(noise(42, 0.5, 2, 30_000));
    let mut sink = PlanarSink::new();
    let options = PipelineOptions { chunk_frames: 1000 };
    let stats = run(
        &mut source,
        &mut chain,
        &mut sink,
        &options,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(stats.frames_processed, 30_000);
    let got = peak_db(sink.channels());
    assert!((got + 3.0).abs() < 0.01, "peak {got} dBFS");
}

#[test]
fn a_limiter_after_a_boost_holds_its_ceiling_through_the_pipeline() {
    let mut chain = parse_chain("gain(+24db) reverb(0.8) limiter(-1db, 30ms)").unwrap();
    let mut source = memory(noise(43, 0.9, 2, 48_000));
    let mut sink = PlanarSink::new();
    let options = PipelineOptions { chunk_frames: 777 };
    run(
        &mut source,
        &mut chain,
        &mut sink,
        &options,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(peak_db(sink.channels()) <= -1.0, "{}", peak_db(sink.channels()));
    assert!(peak_db(sink.channels()) > -1.5);
}
