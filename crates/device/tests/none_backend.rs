//! The clocked `none` backend: deterministic, exactly counted, real-time
//! paced, and the same render path as the devices (no hardware needed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use resonode_core::chain_spec::{self, ProcessorSpec};
use resonode_core::pipeline::{self, Control, PipelineOptions};
use resonode_core::ring::Consumer;
use resonode_core::{PlanarSink, PlanarSource, Sink};
use resonode_device::analysis::noise_burst;
use resonode_device::{
    Backend, EngineOptions, MicrophoneSource, RealtimeEngine, Renderer, SpeakerSink, StreamConfig,
};
use resonode_dsp::registry::parse_chain;

const RATE: u32 = 48_000;
const EIGHT: &str = "highpass(40) lowpass(9khz, order=8) biquad(peaking, 1khz, 1, 3db) gain(-3db) \
                     delay(30ms, 0.4, 0.3) reverb(room=0.6) limiter(-1db) gain(linear=0.9)";

fn specs(text: &str) -> Vec<ProcessorSpec> {
    chain_spec::parse(text).unwrap()
}

fn drain(rx: &mut Consumer) -> Vec<f32> {
    let mut out = vec![0.0; rx.available() * rx.channels()];
    let n = rx.read(&mut out);
    out.truncate(n * rx.channels());
    out
}

fn sine(frames: usize, freq: f64, amp: f32) -> Vec<f32> {
    (0..frames)
        .map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / RATE as f64).sin() as f32)
        .collect()
}

/// Runs `chain` on the clocked backend over `input` (mono, duplex 1 -> 2)
/// for `frames` frames and returns the tap, the stats and the wall time.
fn run_clocked(
    chain: &str,
    input: &[f32],
    frames: u64,
    buffer: u32,
) -> (Vec<f32>, resonode_device::EngineStats, Duration) {
    let config = StreamConfig::duplex(1, 2).with_buffer_size(buffer);
    let options = EngineOptions {
        tap_frames: Some(frames as usize + 1),
        none_input: Some(Arc::from(input)),
        max_frames: Some(frames),
        ..Default::default()
    };
    let started = Instant::now();
    let engine =
        RealtimeEngine::start_from_specs(config, &specs(chain), Backend::None, options).unwrap();
    assert!(engine.wait_finished(Duration::from_secs(30)));
    let wall = started.elapsed();
    let tap = drain(&mut engine.take_tap().unwrap());
    (tap, engine.stop().unwrap(), wall)
}

#[test]
fn the_none_backend_is_deterministic_and_counts_callbacks_exactly() {
    let input = noise_burst(RATE as usize / 2, 0.5, 99);
    let frames = RATE as u64; // one second
    let (a, stats_a, wall) = run_clocked(EIGHT, &input, frames, 480);
    let (b, stats_b, _) = run_clocked(EIGHT, &input, frames, 480);
    assert_eq!(a.len(), 2 * frames as usize);
    assert!(a.iter().any(|&s| s != 0.0));
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "bit-identical across runs"
    );
    // 1 s / (480 / 48000 s) = exactly 100 callbacks.
    for s in [stats_a, stats_b] {
        assert_eq!((s.callbacks, s.frames), (100, frames));
        assert_eq!(s.xruns_underrun + s.xruns_overrun, 0);
    }
    // Paced like a device: one second of audio takes about one second.
    assert!(
        wall >= Duration::from_millis(950) && wall < Duration::from_millis(2500),
        "{wall:?}"
    );
    // And the output equals rendering the same chain offline.
    let mut r = Renderer::new(parse_chain(EIGHT).unwrap(), RATE, 1, 2, 480).unwrap();
    let mut offline = vec![0.0f32; 2 * frames as usize];
    let looped: Vec<f32> = input
        .iter()
        .cycle()
        .take(frames as usize)
        .copied()
        .collect();
    // The duplex queue waits until it holds a request plus its prime (2
    // buffers): the input comes out 2 buffers late.
    let delay = 2 * 480;
    for (k, out) in offline.chunks_mut(2 * 480).enumerate() {
        let start = k * 480;
        let inp: Vec<f32> = (start..start + 480)
            .map(|i| if i < delay { 0.0 } else { looped[i - delay] })
            .collect();
        r.render(&inp, out);
    }
    assert!(
        a.iter()
            .zip(&offline)
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        "same as offline rendering"
    );
}

/// Largest sample-to-sample step of a mono signal.
fn max_jump(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn sweeping_a_cutoff_every_buffer_keeps_the_output_continuous() {
    const BUFFER: usize = 256;
    const STEPS: usize = 120;
    // A 220 Hz sine through a 4th-order lowpass swept 400 Hz .. 8 kHz and back.
    let input = sine(RATE as usize, 220.0, 0.5);
    let cutoff = |k: usize| {
        let t = (k % 60) as f64 / 59.0;
        let t = if (k / 60).is_multiple_of(2) {
            t
        } else {
            1.0 - t
        };
        400.0 * (8000.0f64 / 400.0).powf(t)
    };
    let config = StreamConfig::duplex(1, 1).with_buffer_size(BUFFER as u32);
    let frames = (STEPS * BUFFER) as u64;
    let options = EngineOptions {
        tap_frames: Some(frames as usize),
        none_input: Some(Arc::from(&input[..])),
        max_frames: Some(frames),
        ..Default::default()
    };
    let engine = RealtimeEngine::start_from_specs(
        config,
        &specs("lowpass(400, order=4)"),
        Backend::None,
        options,
    )
    .unwrap();
    let period = Duration::from_secs_f64(BUFFER as f64 / RATE as f64);
    for k in 0..STEPS {
        engine.set_parameter("0.cutoff", cutoff(k)).unwrap();
        std::thread::sleep(period);
    }
    assert!(engine.wait_finished(Duration::from_secs(10)));
    let swept = drain(&mut engine.take_tap().unwrap());
    engine.stop().unwrap();
    let start = swept.iter().position(|&s| s != 0.0).unwrap() + BUFFER;
    let swept_jump = max_jump(&swept[start..]);

    // The same sweep with the filter's state reset at every change (what a
    // naive "rebuild the filter" implementation does).
    let mut reset_out = Vec::new();
    for k in 0..STEPS {
        let chain = parse_chain(&format!("lowpass({}, order=4)", cutoff(k))).unwrap();
        let mut r = Renderer::new(chain, RATE, 1, 1, BUFFER).unwrap();
        let mut out = vec![0.0f32; BUFFER];
        r.render(&input[k * BUFFER..(k + 1) * BUFFER], &mut out);
        reset_out.extend_from_slice(&out);
    }
    let reset_jump = max_jump(&reset_out[BUFFER..]);
    // A 0.5-amplitude 220 Hz sine moves at most 2*pi*220/48000*0.5 = 0.0144
    // per sample; coefficient changes on a running filter add a little.
    // State kept: no clicks.
    let sine_step = 2.0 * std::f32::consts::PI * 220.0 / RATE as f32 * 0.5;
    eprintln!("max step: swept {swept_jump:.4}, reset {reset_jump:.4}, sine {sine_step:.4}");
    assert!(
        swept_jump < 2.0 * sine_step,
        "swept {swept_jump} vs sine {sine_step}"
    );
    assert!(
        reset_jump > 4.0 * swept_jump,
        "the reset variant clicks: {reset_jump} vs {swept_jump}"
    );
}

#[test]
fn a_microphone_source_ends_a_pipeline_after_its_frame_limit() {
    let signal: Arc<[f32]> = sine(4800, 1000.0, 0.5).into();
    let config = StreamConfig::input(1).with_buffer_size(480);
    let options = EngineOptions {
        none_input: Some(signal),
        ..Default::default()
    };
    let mut mic = MicrophoneSource::open_with(
        config,
        &specs("gain(-6db)"),
        Backend::None,
        Some(24_000),
        options,
    )
    .unwrap();
    let mut sink = PlanarSink::new();
    let stats = pipeline::run(
        &mut mic,
        &mut parse_chain("gain(6db)").unwrap(),
        &mut sink,
        &PipelineOptions { chunk_frames: 4096 },
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(stats.frames_processed, 24_000);
    assert_eq!(sink.channel(0).len(), 24_000);
    // -6 dB in the callback, +6 dB in the pipeline: the sine comes back.
    let expect = sine(4800, 1000.0, 0.5);
    for (i, (&got, &want)) in sink.channel(0).iter().zip(expect.iter().cycle()).enumerate() {
        assert!((got - want).abs() < 1e-3, "frame {i}: {got} vs {want}");
    }
    let engine_stats = mic.final_stats().unwrap();
    assert!(engine_stats.frames >= 24_000);
}

/// Runs `data` (mono) through an empty chain into a stereo `SpeakerSink` on
/// the `none` backend (256-frame buffers, a 4096-frame queue), in
/// 1000-frame chunks.
fn play_on_none_speaker(data: &[f32]) -> (pipeline::Stats, SpeakerSink) {
    let mut source = PlanarSource::new(vec![data.to_vec()], RATE).unwrap();
    let mut sink = SpeakerSink::new(StreamConfig::output(2).with_buffer_size(256), Backend::None)
        .with_queue_frames(4096);
    let stats = pipeline::run(
        &mut source,
        &mut parse_chain("").unwrap(),
        &mut sink,
        &PipelineOptions { chunk_frames: 1000 },
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    (stats, sink)
}

#[test]
fn a_speaker_sink_plays_everything_then_finalizes() {
    let data = sine(RATE as usize / 2, 440.0, 0.3);
    let (stats, sink) = play_on_none_speaker(&data);
    assert_eq!(stats.frames_processed, data.len() as u64);
    let played = sink.final_stats().unwrap();
    assert_eq!(played.playback_consumed, data.len() as u64);
    assert_eq!(
        played.playback_starved, 0,
        "the queue never ran dry while the pipeline wrote"
    );
    // A wrong sample rate is refused at open.
    let mut wrong = SpeakerSink::new(
        StreamConfig::output(2).with_sample_rate(44_100),
        Backend::None,
    );
    assert_eq!(
        wrong.open(48_000, 1).unwrap_err().code(),
        "ERR_INVALID_PARAMETER"
    );
}

/// The queue starts only once it holds a block plus a device buffer of
/// cushion (`write` holds the first blocks back); a stream shorter than
/// that is played whole by `finalize`.
#[test]
fn a_speaker_sink_holds_back_a_cushion_and_plays_a_short_stream_at_finalize() {
    let (stats, sink) = play_on_none_speaker(&sine(300, 440.0, 0.3));
    assert_eq!(stats.frames_processed, 300);
    let played = sink.final_stats().unwrap();
    assert_eq!(played.playback_consumed, 300);
    assert_eq!(played.playback_starved, 0);
}

/// Without a reachable server the PulseAudio backend fails fast with
/// `ERR_BACKEND_NOT_AVAILABLE` and a suggestion, never hangs. Checked in a
/// child process (this binary re-run) whose environment names no server.
#[test]
fn a_missing_audio_server_is_backend_not_available_without_hanging() {
    use resonode_device::devices::list_devices;
    if std::env::var_os("RESONODE_NO_SERVER_PROBE").is_some() {
        let t = Instant::now();
        let e = list_devices(Backend::PulseAudio).unwrap_err();
        assert_eq!(e.code(), "ERR_BACKEND_NOT_AVAILABLE", "{e}");
        assert!(
            e.to_string().contains("'none'") || e.to_string().contains("PULSE_SERVER"),
            "{e}"
        );
        let e = RealtimeEngine::start(
            StreamConfig::output(2),
            Default::default(),
            Backend::PulseAudio,
            Default::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_BACKEND_NOT_AVAILABLE", "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_missing_audio_server_is_backend_not_available_without_hanging",
            "--nocapture",
        ])
        .env("RESONODE_NO_SERVER_PROBE", "1")
        .env("PULSE_SERVER", "unix:/nonexistent/resonode/native")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("PULSE_RUNTIME_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
