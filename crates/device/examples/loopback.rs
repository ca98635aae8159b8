//! Round-trip latency through the default output and input (on the CI
//! machine: a PulseAudio null sink and its monitor) at several buffer sizes,
//! from the output callback that rendered a noise burst to the input
//! callback that delivered it.
//!
//! `cargo run --release -p resonode-device --example loopback [-- 128 256 512]`
use std::time::Duration;

use resonode_device::analysis::{align, noise_burst};
use resonode_device::test_device::{drain_marks, round_trip_ms};
use resonode_device::{Backend, EngineOptions, RealtimeEngine, StreamConfig};

fn main() -> resonode_core::Result<()> {
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![128, 256, 512]
    } else {
        sizes
    };
    let sr = 48_000;
    for buffer in sizes {
        let burst = noise_burst(sr as usize / 2, 0.5, 42);
        let mut signal = vec![0.0f32; sr as usize / 2];
        signal.extend_from_slice(&burst);
        signal.extend(std::iter::repeat_n(0.0, sr as usize / 2));
        let marks = Some(100_000);
        let input = RealtimeEngine::start(
            StreamConfig::input(1)
                .with_sample_rate(sr)
                .with_buffer_size(buffer),
            Default::default(),
            Backend::Default,
            EngineOptions {
                capture_frames: Some(sr as usize * 4),
                clock_marks: marks,
                ..Default::default()
            },
        )?;
        let output = RealtimeEngine::start(
            StreamConfig::output(1)
                .with_sample_rate(sr)
                .with_buffer_size(buffer),
            Default::default(),
            Backend::Default,
            EngineOptions {
                playback_frames: Some(signal.len() + 1024),
                clock_marks: marks,
                ..Default::default()
            },
        )?;
        let (mut tx, mut rx) = (
            output.take_playback().unwrap(),
            input.take_capture().unwrap(),
        );
        let (mut om, mut im) = (
            output.take_output_marks().unwrap(),
            input.take_input_marks().unwrap(),
        );
        tx.write(&signal);
        std::thread::sleep(Duration::from_secs_f64(
            signal.len() as f64 / sr as f64 + 0.5,
        ));
        let (oe, ie) = (output.epoch(), input.epoch());
        let o = output.stop()?;
        let i = input.stop()?;
        let mut rec = vec![0.0f32; rx.available()];
        let n = rx.read(&mut rec);
        rec.truncate(n);
        let a = align(&burst, &rec, rec.len()).expect("recording");
        let played = o.playback_start_frame.unwrap_or(0) + sr as u64 / 2;
        let rt = round_trip_ms(
            &drain_marks(&mut om),
            oe,
            played,
            &drain_marks(&mut im),
            ie,
            a.lag as u64,
        );
        println!(
            "buffer {buffer}: actual out {} in {}, correlation {:.4}, round trip {} ms, device-reported out delay {:.2?} ms, in delay {:.2?} ms, xruns {}",
            o.actual_buffer_size,
            i.actual_buffer_size,
            a.correlation,
            rt.map_or("?".into(), |v| format!("{v:.2}")),
            o.latency_ms_measured,
            i.latency_ms_measured,
            o.xruns_underrun + o.xruns_overrun + i.xruns_underrun + i.xruns_overrun
        );
    }
    Ok(())
}
