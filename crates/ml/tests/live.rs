//! `enhance` live: on the real-time engine's clocked `none` backend (the same
//! render path as a device, paced in real time) with real noisy speech, the
//! output equals the offline `SpeechEnhancer` output delayed by exactly the
//! reported latency `P`, with no worker underruns; plus the chain element's
//! grammar, errors and the `mix` parameter.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{max_abs_diff, read};
use resonode_core::chain_spec;
use resonode_core::ring::Consumer;
use resonode_core::{AudioBuffer, Processor, StreamSpec};
use resonode_device::{Backend, EngineEvent, EngineOptions, EngineStats, RealtimeEngine, StreamConfig};
use resonode_dsp::registry::{build_chain_with, parse_chain_with};
use resonode_ml::gtcrn::{EnhancerOptions, SpeechEnhancer};
use resonode_ml::live::{EnhanceKind, LiveEnhancer, LiveOptions};
use resonode_ml::runtime::SessionOptions;

const RATE: u32 = 48_000;
const BUFFER: u32 = 256;

fn drain(rx: &mut Consumer) -> Vec<f32> {
    let mut out = vec![0.0; rx.available() * rx.channels()];
    let n = rx.read(&mut out);
    out.truncate(n * rx.channels());
    out
}

/// `assets/noisy_speech.wav` (real speech in real noise, 16 kHz) at 48 kHz.
fn noisy_speech_48k(seconds: f64) -> Vec<f32> {
    let (mut ch, rate) = read(&common::root().join("assets/noisy_speech.wav"), Some(RATE));
    assert_eq!(rate, RATE);
    let mut x = ch.remove(0);
    x.truncate((seconds * f64::from(RATE)) as usize);
    x
}

/// Runs `chain` (with `enhance` from resonode-ml) live on the clocked
/// backend over `input` (mono), returning the tap (interleaved) and stats.
fn run_live(chain: &str, config: StreamConfig, input: &[f32]) -> (Vec<f32>, EngineStats, Duration) {
    let frames = input.len() as u64;
    let specs = chain_spec::parse(chain).unwrap();
    let live = build_chain_with(&specs, &EnhanceKind::live(SessionOptions::default())).unwrap();
    let shadow = build_chain_with(&specs, &EnhanceKind::mirror()).unwrap();
    let options = EngineOptions {
        tap_frames: Some(frames as usize + 1),
        none_input: Some(Arc::from(input)),
        max_frames: Some(frames),
        ..Default::default()
    };
    let started = Instant::now();
    let engine = RealtimeEngine::start_with_shadow(config, live, shadow, Backend::None, options).unwrap();
    let mut tap = engine.take_tap().unwrap();
    assert!(engine.wait_finished(Duration::from_secs(120)));
    let wall = started.elapsed();
    let out = drain(&mut tap);
    (out, engine.stop().unwrap(), wall)
}

fn offline(x: &[f32]) -> Vec<f32> {
    SpeechEnhancer::new(&EnhancerOptions::default()).unwrap().enhance(x, RATE).unwrap()
}

fn report(what: &str, s: &EngineStats, err: f32, wall: Duration) {
    let blocks = s.frames as f64 / f64::from(BUFFER);
    let worker_s = s.worker_load * s.frames as f64 / f64::from(RATE);
    println!(
        "{what}: P = {} frames = {:.2} ms; max abs error vs offline {err:e}; worker underruns {} \
         ({} frames), dropped {}; worker load {:.3}, {:.1} us per {BUFFER}-frame block; \
         callback load mean {:.4} peak {:.4}; {:.2} s audio in {:.2} s",
        s.processing_latency_frames,
        s.processing_latency_ms,
        s.worker_underruns,
        s.worker_underrun_frames,
        s.worker_dropped_frames,
        s.worker_load,
        worker_s / blocks * 1e6,
        s.callback_load_mean,
        s.callback_load_peak,
        s.frames as f64 / f64::from(RATE),
        wall.as_secs_f64(),
    );
}

#[test]
fn live_enhance_equals_offline_enhancement_delayed_by_exactly_p_frames() {
    let x = noisy_speech_48k(6.0);
    let expected = offline(&x);
    // Input-only: the chain's output goes straight to the tap (no device
    // queue in between), so the only delay is the enhancer's P.
    let config = StreamConfig::input(1).with_sample_rate(RATE).with_buffer_size(BUFFER);
    let (y, stats, wall) = run_live("enhance()", config, &x);
    assert_eq!(y.len(), x.len());
    let p = stats.processing_latency_frames as usize;
    // P = the enhancer's bound at 48 kHz (3844) + 4 buffers.
    assert_eq!(p, 3844 + 4 * BUFFER as usize);
    assert!((stats.processing_latency_ms - p as f64 / 48.0).abs() < 1e-9);
    assert!(y[..p].iter().all(|&s| s == 0.0), "the first P frames are the pre-filled silence");
    let err = max_abs_diff(&y[p..], &expected[..x.len() - p]);
    report("enhance() input-only", &stats, err, wall);
    assert_eq!(stats.worker_underruns, 0, "the worker kept up at {BUFFER}-frame buffers");
    assert_eq!(stats.worker_dropped_frames, 0);
    // (Nobody drains this input-only engine's capture queue, so it
    // overflows; underruns include the worker's.)
    assert_eq!(stats.xruns_underrun, 0);
    assert!(err <= 1e-5, "max abs error {err}");
    // The enhancer really changed the signal (not a delayed copy).
    assert!(max_abs_diff(&y[p..], &x[..x.len() - p]) > 0.05);
}

#[test]
fn enhance_then_gain_in_a_duplex_chain_is_the_offline_output_delayed_and_amplified() {
    let x = noisy_speech_48k(4.0);
    // The duplex queue holds the input back by its prime of 2 buffers: the
    // chain sees 512 frames of silence, then the input. (Enhancing a shifted
    // signal is not a shifted enhancement: the 16 kHz STFT frames fall
    // elsewhere, so the reference is the offline output of what the chain saw.)
    let prime = 2 * BUFFER as usize;
    let seen: Vec<f32> = std::iter::repeat_n(0.0, prime).chain(x[..x.len() - prime].iter().copied()).collect();
    let expected = offline(&seen);
    let config = StreamConfig::duplex(1, 2).with_sample_rate(RATE).with_buffer_size(BUFFER);
    let (y, stats, wall) = run_live("enhance() gain(3db)", config, &x);
    let p = stats.processing_latency_frames as usize;
    let g = 10f32.powf(3.0 / 20.0);
    let left: Vec<f32> = y.chunks(2).map(|f| f[0]).collect();
    let right: Vec<f32> = y.chunks(2).map(|f| f[1]).collect();
    assert!(left == right, "mono input feeds both channels");
    let want: Vec<f32> = expected[..x.len() - p].iter().map(|v| v * g).collect();
    let err = max_abs_diff(&left[p..], &want);
    report("enhance() gain(3db) duplex", &stats, err, wall);
    assert_eq!(stats.worker_underruns, 0);
    assert!(err <= 1e-5, "max abs error {err}");
    // The engine's latency estimate includes P.
    assert!(stats.latency_ms > stats.processing_latency_ms);
}

/// Feeds `x` through a prepared `LiveEnhancer` in blocks of `block`
/// frames: the first `burst` frames at once (faster than real time, so the
/// worker falls behind), the rest paced like a device.
fn feed(p: &mut LiveEnhancer, x: &[f32], block: usize, burst: usize) -> Vec<f32> {
    let mut buf = AudioBuffer::new(1, block);
    let mut y = Vec::with_capacity(x.len());
    let started = Instant::now();
    for (k, chunk) in x.chunks(block).enumerate() {
        buf.set_frames(chunk.len());
        buf.channel_mut(0).copy_from_slice(chunk);
        p.process(&mut buf.as_block_mut());
        y.extend_from_slice(buf.channel(0));
        let done = (k + 1) * block;
        if done > burst {
            let due = started + Duration::from_secs_f64((done - burst) as f64 / f64::from(RATE));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    y
}

#[test]
fn after_underruns_and_input_overflow_the_latency_is_still_exactly_p() {
    let x = noisy_speech_48k(5.0);
    let e = offline(&x);
    let spec = StreamSpec { sample_rate: RATE, channels: 1, max_block_frames: BUFFER as usize };

    // 1. Half a second at once: the return ring runs dry (underruns, output
    //    silence), then the late frames are skipped. Every output frame is
    //    either such silence or exactly the enhanced input P frames earlier.
    let mut p = LiveEnhancer::new(LiveOptions::default()).unwrap();
    p.prepare(&spec).unwrap();
    let lat = p.latency_frames().unwrap();
    let y = feed(&mut p, &x, BUFFER as usize, RATE as usize / 2);
    let stats = p.stats();
    let underrun_frames = stats.underrun_frames.load(std::sync::atomic::Ordering::Relaxed);
    assert!(underrun_frames > 0);
    assert_eq!(stats.dropped_frames.load(std::sync::atomic::Ordering::Relaxed), 0);
    let holes = (lat..x.len()).filter(|&k| y[k] == 0.0 && e[k - lat] != 0.0).count();
    let misplaced = (lat..x.len()).filter(|&k| y[k] != 0.0 && y[k] != e[k - lat]).count();
    println!("burst of 0.5 s: {underrun_frames} frames of silence, {holes} of them over signal; misplaced frames {misplaced}");
    assert_eq!(misplaced, 0, "every delivered frame is at exactly P");
    let tail = x.len() - RATE as usize;
    assert!(y[tail..] == e[tail - lat..x.len() - lat], "the last second is whole");

    // 2. Three seconds at once: the input ring (1 s beyond P) overflows, the
    //    worker processes silence in place of the dropped input. The frames
    //    that come back are still aligned at P: the output correlates best
    //    with the offline enhancement at a lag of exactly P.
    let mut p = LiveEnhancer::new(LiveOptions::default()).unwrap();
    p.prepare(&spec).unwrap();
    let y = feed(&mut p, &x, BUFFER as usize, 3 * RATE as usize);
    let dropped = p.stats().dropped_frames.load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 0);
    let tail = &y[x.len() - RATE as usize..];
    let corr = |lag: usize| -> f64 {
        let r = &e[x.len() - RATE as usize - lag..x.len() - lag];
        let dot: f64 = tail.iter().zip(r).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        let n: f64 = r.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt()
            * tail.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        dot / n
    };
    let best = (lat - 2000..lat + 2000).max_by(|&a, &b| corr(a).total_cmp(&corr(b))).unwrap();
    println!("burst of 3 s: {dropped} input frames dropped; best lag {best} (P = {lat}), correlation {:.4}", corr(best));
    assert_eq!(best, lat);
    assert!(corr(best) > 0.9);
}

#[test]
fn without_a_margin_large_buffers_underrun_and_the_engine_reports_xrun_events() {
    // margin=0 and 2048-frame buffers: P is only the enhancer's bound, less
    // than its real lag plus one buffer, so the worker cannot be on time.
    let x = noisy_speech_48k(2.0);
    let frames = x.len() as u64;
    let specs = chain_spec::parse("enhance(margin=0)").unwrap();
    let live = build_chain_with(&specs, &EnhanceKind::live(SessionOptions::default())).unwrap();
    let shadow = build_chain_with(&specs, &EnhanceKind::mirror()).unwrap();
    let config = StreamConfig::input(1).with_sample_rate(RATE).with_buffer_size(2048);
    let options = EngineOptions {
        tap_frames: Some(x.len() + 1),
        none_input: Some(Arc::from(&x[..])),
        max_frames: Some(frames),
        ..Default::default()
    };
    let engine = RealtimeEngine::start_with_shadow(config, live, shadow, Backend::None, options).unwrap();
    let mut tap = engine.take_tap().unwrap();
    assert!(engine.wait_finished(Duration::from_secs(60)));
    let events = engine.poll_events();
    let y = drain(&mut tap);
    let s = engine.stop().unwrap();
    assert_eq!(s.processing_latency_frames, 3844);
    assert!(s.worker_underruns > 0 && s.worker_underrun_frames > 0);
    assert!(s.xruns_underrun >= s.worker_underruns);
    let reported: Vec<_> = events.iter().filter(|e| matches!(e, EngineEvent::WorkerUnderrun { .. })).collect();
    assert_eq!(reported.len() as u64, s.worker_underruns, "one event per late callback");
    let e = reported[0];
    assert_eq!(e.name(), "xrun");
    let err = e.to_error().unwrap();
    assert_eq!(err.code(), "ERR_BUFFER_UNDERRUN");
    assert!(err.to_string().contains("processor 0 (enhance)"), "{err}");
    // Late frames are skipped: what is delivered is still at exactly P.
    let expected = offline(&x);
    let p = s.processing_latency_frames as usize;
    let misplaced = (p..x.len()).filter(|&k| y[k] != 0.0 && y[k] != expected[k - p]).count();
    println!("margin 0, 2048-frame buffers: {} underruns, {} frames of silence; misplaced {misplaced}", s.worker_underruns, s.worker_underrun_frames);
    assert_eq!(misplaced, 0);
}

#[test]
fn mix_zero_is_the_input_delayed_by_p_and_mix_blends_linearly() {
    let mut p = LiveEnhancer::new(LiveOptions { mix: 0.0, ..Default::default() }).unwrap();
    p.prepare(&StreamSpec { sample_rate: RATE, channels: 1, max_block_frames: 300 }).unwrap();
    let lat = p.latency_frames().unwrap();
    assert_eq!(lat, 3844 + 4 * 300);
    assert!((p.latency_ms().unwrap() - lat as f64 / 48.0).abs() < 1e-9);
    let x: Vec<f32> = (0..3 * lat).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
    let mut y = Vec::new();
    let mut buf = AudioBuffer::new(1, 300);
    for chunk in x.chunks(300) {
        buf.set_frames(chunk.len());
        buf.channel_mut(0).copy_from_slice(chunk);
        p.process(&mut buf.as_block_mut());
        y.extend_from_slice(buf.channel(0));
    }
    assert!(y[..lat].iter().all(|&v| v == 0.0));
    assert!(y[lat..] == x[..x.len() - lat], "mix 0: exactly the input, P frames late");
    assert_eq!(p.parameter("mix"), Some(0.0));
    assert!(p.set_parameter("mix", 1.5).is_err());
    assert!(p.set_parameter("wet", 1.0).is_err());
    p.set_parameter("mix", 0.25).unwrap();
    assert_eq!(p.parameter("mix"), Some(0.25));
}

#[test]
fn the_enhance_element_parses_checks_its_arguments_and_is_refused_in_file_chains() {
    let live = EnhanceKind::live(SessionOptions::default());
    let chain = parse_chain_with("enhance() gain(3db)", &live).unwrap();
    assert_eq!(chain.kinds(), ["enhance", "gain"]);
    let chain = parse_chain_with(
        r#"highpass(80) enhance(50%, model="x.onnx", threads=2, provider=cpu, window=symmetric, synthesis=periodic, margin=0.03s)"#,
        &live,
    )
    .unwrap();
    assert_eq!(chain.parameter("1.mix").unwrap(), 0.5);
    // Building is cheap: the model file is only opened by `prepare`.
    let e = |text: &str| parse_chain_with(text, &live).unwrap_err();
    for (text, code, needle) in [
        ("enhance(1.5)", "ERR_INVALID_PARAMETER", "0.mix (enhance)"),
        ("enhance(mix=-1)", "ERR_INVALID_PARAMETER", "mix"),
        ("enhance(window=hamming)", "ERR_INVALID_PARAMETER", "periodic, symmetric"),
        ("enhance(synthesis=box)", "ERR_INVALID_PARAMETER", "synthesis"),
        ("enhance(provider=tpu)", "ERR_INVALID_PARAMETER", "provider"),
        ("enhance(threads=0)", "ERR_INVALID_PARAMETER", "threads"),
        ("enhance(margin=5s)", "ERR_INVALID_PARAMETER", "margin"),
        ("enhance(mix=3db)", "ERR_INVALID_CHAIN", "takes `%` or no unit"),
        ("enhance(strength=1)", "ERR_INVALID_CHAIN", "unknown parameter `strength`"),
        ("gain(1) enhanse()", "ERR_INVALID_CHAIN", "enhance"),
    ] {
        let err = e(text);
        assert_eq!(err.code(), code, "`{text}`: {err}");
        assert!(err.to_string().contains(needle), "`{text}`: {err}");
    }
    // File pipelines: a clear refusal pointing to `resonode enhance`.
    let err = parse_chain_with("gain(3db) enhance()", &EnhanceKind::refused()).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_CHAIN");
    assert!(err.to_string().contains("element 1 `enhance`") && err.to_string().contains("resonode enhance"), "{err}");
    // The shadow's stand-in validates `mix` like the real one.
    let mut shadow = parse_chain_with("enhance(0.2)", &EnhanceKind::mirror()).unwrap();
    shadow.prepare(&StreamSpec { sample_rate: RATE, channels: 2, max_block_frames: 256 }).unwrap();
    assert_eq!(shadow.parameter("0.mix").unwrap(), 0.2);
    assert_eq!(shadow.set_parameter("0.mix", 2.0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
}

#[test]
fn a_missing_or_wrong_model_fails_when_the_engine_starts() {
    let start = |chain: &str| {
        let specs = chain_spec::parse(chain).unwrap();
        let live = build_chain_with(&specs, &EnhanceKind::live(SessionOptions::default())).unwrap();
        let shadow = build_chain_with(&specs, &EnhanceKind::mirror()).unwrap();
        let config = StreamConfig::input(1).with_sample_rate(RATE).with_buffer_size(BUFFER);
        let options = EngineOptions { max_frames: Some(4800), ..Default::default() };
        RealtimeEngine::start_with_shadow(config, live, shadow, Backend::None, options).unwrap_err()
    };
    let err = start(r#"enhance(model="/nonexistent/gtcrn.onnx")"#);
    assert_eq!(err.code(), "ERR_NOT_FOUND", "{err}");
    assert!(err.to_string().contains("/nonexistent/gtcrn.onnx"));
    let damaged = std::env::temp_dir().join(format!("resonode-live-damaged-{}.onnx", std::process::id()));
    std::fs::write(&damaged, b"this is not an ONNX model").unwrap();
    let err = start(&format!(r#"enhance(model="{}")"#, damaged.display()));
    let _ = std::fs::remove_file(&damaged);
    assert_eq!(err.code(), "ERR_MODEL", "{err}");
    let wrong = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/not_gtcrn.onnx");
    let err = start(&format!(r#"enhance(model="{}")"#, wrong.display()));
    assert_eq!(err.code(), "ERR_MODEL_MISMATCH", "{err}");
}

/// Issue 12: a panic on the enhancer's worker thread is caught. The worker
/// survives it: the frames in flight come out as silence, a fresh enhancer
/// takes over from the next chunk, the audio side keeps getting exactly as
/// many frames as it gives (no underruns, no panic), and the stats count it
/// with its message.
#[test]
fn a_panic_on_the_worker_is_caught_counted_and_the_stream_goes_on() {
    use std::sync::atomic::Ordering::Relaxed;
    const R16: u32 = 16_000;
    const B: usize = 256;
    const PANIC_AT: usize = 100; // block index
    let (mut ch, rate) = read(&common::root().join("assets/noisy_speech.wav"), None);
    assert_eq!(rate, R16);
    let mut x = ch.remove(0);
    x.truncate(200 * B);
    let mut p = LiveEnhancer::new(LiveOptions { worker_priority: None, ..LiveOptions::default() }).unwrap();
    assert!(!p.inject_worker_panic(), "no worker before prepare");
    p.prepare(&StreamSpec { sample_rate: R16, channels: 1, max_block_frames: B }).unwrap();
    let lat = p.latency_frames().unwrap();
    let stats = p.stats();
    let mut buf = AudioBuffer::new(1, B);
    let mut y = Vec::with_capacity(x.len());
    for (b, chunk) in x.chunks(B).enumerate() {
        if b == PANIC_AT {
            assert!(p.inject_worker_panic());
        }
        buf.set_frames(chunk.len());
        buf.channel_mut(0).copy_from_slice(chunk);
        p.process(&mut buf.as_block_mut());
        y.extend_from_slice(buf.channel(0));
        // A patient audio thread: wait until the worker has taken this
        // block (the panicked chunk is not counted as processed), so that
        // every chunk is one block and nothing underruns.
        let taken = ((b + 1) * B - if b >= PANIC_AT { B } else { 0 }) as u64;
        let panics = u64::from(b >= PANIC_AT);
        let t = Instant::now();
        while stats.worker_frames.load(Relaxed) < taken || stats.worker_panics.load(Relaxed) < panics {
            assert!(t.elapsed() < Duration::from_secs(20), "worker stuck at block {b}");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert_eq!(y.len(), x.len());
    assert_eq!(stats.worker_errors.load(Relaxed), 1);
    assert_eq!(stats.worker_panics.load(Relaxed), 1);
    let msg = stats.last_worker_error().expect("the panic's message is kept");
    assert!(msg.contains("panic") && msg.contains("inject_worker_panic"), "{msg}");
    assert_eq!(stats.underruns.load(Relaxed), 0);
    assert_eq!(stats.dropped_frames.load(Relaxed), 0);

    let cut = PANIC_AT * B; // first input frame of the lost chunk
    let restart = cut + B; // the fresh enhancer starts here
    let before = offline_16k(&x);
    let after = offline_16k(&x[restart..]);
    assert!(y[..lat].iter().all(|&s| s == 0.0), "pre-filled silence");
    // Up to the last frames the first enhancer had released: exact.
    let released = cut - B;
    assert!(y[lat..lat + released] == before[..released], "before the panic: the enhancement, delayed by P");
    // The chunk the worker panicked on (and the frames the old enhancer held) are silence.
    assert!(y[lat + cut..lat + restart].iter().all(|&s| s == 0.0), "the lost chunk is silence");
    assert!(before[cut..restart].iter().any(|&s| s != 0.0), "(where the enhancement was not silent)");
    // From the next chunk on: a fresh enhancer's output of the rest, still at P.
    let n = x.len() - lat - restart;
    assert!(n > 50 * B);
    assert!(y[lat + restart..] == after[..n], "after the panic: a fresh enhancement from the next chunk, at P");
    drop(p); // joins the worker
}

fn offline_16k(x: &[f32]) -> Vec<f32> {
    SpeechEnhancer::new(&EnhancerOptions::default()).unwrap().enhance(x, 16_000).unwrap()
}
