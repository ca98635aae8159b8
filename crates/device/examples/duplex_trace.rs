//! Traces a duplex engine on the default devices: when each input and
//! output callback ran and how many frames it handled, and the duplex
//! queue's level between them (in arrival order, before priming; `TRACE=1`
//! prints every callback). For looking into queue underruns.
//!
//! `RESONODE_INPUT=resonull.monitor RESONODE_OUTPUT=resonull_aux \
//!  cargo run --release -p resonode-device --example duplex_trace -- 256 5`
use std::time::Duration;

use resonode_device::{Backend, EngineOptions, LatencyHint, RealtimeEngine, StreamConfig};

fn main() -> resonode_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let buffer: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let latency = match args.get(3).map(String::as_str) {
        Some("low") => LatencyHint::Low,
        Some("high") => LatencyHint::High,
        _ => LatencyHint::Balanced,
    };
    let specs = resonode_core::chain_spec::parse("highpass(80) gain(-3db)")?;
    let config = StreamConfig {
        input_device: std::env::var("RESONODE_INPUT").ok(),
        output_device: std::env::var("RESONODE_OUTPUT").ok(),
        latency,
        ..StreamConfig::duplex(1, 2).with_buffer_size(buffer)
    };
    let options = EngineOptions {
        clock_marks: Some(1 << 16),
        realtime: std::env::var("NO_RT").is_err(),
        ..Default::default()
    };
    let engine = RealtimeEngine::start_from_specs(config, &specs, Backend::Default, options)?;
    let mut out_marks = engine.take_output_marks().expect("marks");
    let mut in_marks = engine.take_input_marks().expect("marks");
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let s = engine.stop()?;
    let mut events = Vec::new();
    while let Some(m) = in_marks.pop() {
        events.push((m.at_ns, m.frames as i64, 'I'));
    }
    while let Some(m) = out_marks.pop() {
        events.push((m.at_ns, -(m.frames as i64), 'O'));
    }
    events.sort();
    let t0 = events.first().map(|e| e.0).unwrap_or(0);
    let mut level = 0i64;
    let mut min_level = i64::MAX;
    let (mut last_in, mut max_gap_in) = (None::<u64>, 0u64);
    let mut sizes_in = std::collections::BTreeMap::<i64, usize>::new();
    let mut sizes_out = std::collections::BTreeMap::<i64, usize>::new();
    let verbose = std::env::var("TRACE").is_ok();
    for &(at, d, side) in &events {
        level += d;
        if side == 'I' {
            *sizes_in.entry(d).or_default() += 1;
            if let Some(l) = last_in {
                max_gap_in = max_gap_in.max(at - l);
            }
            last_in = Some(at);
        } else {
            *sizes_out.entry(-d).or_default() += 1;
        }
        if at - t0 > 300_000_000 {
            min_level = min_level.min(level);
        }
        if verbose {
            println!("{:10.3} ms {side} {d:+5} level {level}", (at - t0) as f64 / 1e6);
        }
    }
    println!("input callback sizes {sizes_in:?}, output {sizes_out:?}");
    println!(
        "longest gap between input callbacks {:.2} ms; lowest level after 300 ms {min_level} frames (arrival-order, before priming)",
        max_gap_in as f64 / 1e6
    );
    println!(
        "callbacks {}, xruns {} + {} (under, over; device {}), latency {:.1} ms, real-time threads {}, drift corrections {} ({} frames)",
        s.callbacks,
        s.xruns_underrun,
        s.xruns_overrun,
        s.device_xruns,
        s.latency_ms_measured.unwrap_or(f64::NAN),
        s.realtime_threads,
        s.drift_corrections,
        s.drift_frames_dropped
    );
    Ok(())
}
