//! Callback load (processing time as a fraction of the buffer period) of an
//! 8-processor stereo chain at 64/128/256-frame buffers, on the clocked
//! `none` backend and, when a server is reachable, duplex on the default
//! devices (on CI: PulseAudio's null sink monitor -> `resonull_aux`).
//!
//! `cargo run --release -p resonode-device --example callback_load`
use std::time::Duration;

use resonode_device::analysis::noise_burst;
use resonode_device::{Backend, EngineOptions, RealtimeEngine, StreamConfig};

const EIGHT: &str = "highpass(40) lowpass(9khz, order=8) biquad(peaking, 1khz, 1, 3db) gain(-3db) \
                     delay(30ms, 0.4, 0.3) reverb(room=0.6) limiter(-1db) gain(linear=0.9)";

fn main() -> resonode_core::Result<()> {
    let specs = resonode_core::chain_spec::parse(EIGHT)?;
    let seconds = 3.0;
    for buffer in [64u32, 128, 256] {
        let input: std::sync::Arc<[f32]> = noise_burst(96_000, 0.3, 1).into();
        let options = EngineOptions {
            none_input: Some(input),
            max_frames: Some((48_000.0 * seconds) as u64),
            ..Default::default()
        };
        let engine = RealtimeEngine::start_from_specs(
            StreamConfig::duplex(2, 2).with_buffer_size(buffer),
            &specs,
            Backend::None,
            options,
        )?;
        engine.wait_finished(Duration::from_secs(30));
        let s = engine.stop()?;
        println!(
            "none    buffer {buffer:>3}: load mean {:.4} peak {:.4} ({} callbacks, late {})",
            s.callback_load_mean, s.callback_load_peak, s.callbacks, s.late_callbacks
        );
        let config = StreamConfig {
            input_device: std::env::var("RESONODE_INPUT").ok(),
            output_device: std::env::var("RESONODE_OUTPUT").ok(),
            ..StreamConfig::duplex(2, 2).with_buffer_size(buffer)
        };
        match RealtimeEngine::start_from_specs(
            config,
            &specs,
            Backend::Default,
            EngineOptions::default(),
        ) {
            Ok(engine) => {
                std::thread::sleep(Duration::from_secs_f64(seconds));
                let s = engine.stop()?;
                println!(
                    "device  buffer {buffer:>3}: load mean {:.4} peak {:.4} ({} callbacks, late {}, xruns {}/{} device {})",
                    s.callback_load_mean,
                    s.callback_load_peak,
                    s.callbacks,
                    s.late_callbacks,
                    s.xruns_underrun,
                    s.xruns_overrun,
                    s.device_xruns
                );
            }
            Err(e) => println!("device  buffer {buffer:>3}: not measured ({e})"),
        }
    }
    Ok(())
}
