//! Tests against a real audio server: PulseAudio with the null sink
//! `resonull` (whose monitor is the default source: a real loopback) and
//! `resonull_aux` (where duplex tests send their output so it does not feed
//! back), started by `scripts/start-pulseaudio.sh`, which these tests run
//! themselves.
//!
//! No server means FAILURE, not a skip; set `RESONODE_NO_AUDIO_SERVER=1` to
//! skip them on a machine without PulseAudio. The tests share the server's
//! loopback, so they take turns (a process-wide lock).

use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use resonode_core::pipeline::{self, Control, PipelineOptions};
use resonode_core::ring::Consumer;
use resonode_core::{PlanarSink, PlanarSource};
use resonode_device::analysis::{
    align, goertzel_amplitude, lag_steps, noise_burst, segment_alignment,
};
use resonode_device::devices::{list_devices, pulse_socket_from_env};
use resonode_device::test_device::{drain_marks, round_trip_ms};
use resonode_device::{
    default_input_device, default_output_device, test_device, Backend, EngineOptions,
    MicrophoneSource, RealtimeEngine, SpeakerSink, StreamConfig,
};
use resonode_dsp::registry::parse_chain;

const RATE: u32 = 48_000;

/// Starts (or finds) the PulseAudio server and makes it reachable for the
/// native backend; returns the lock that serialises the live tests, or
/// `None` when `RESONODE_NO_AUDIO_SERVER=1` says to skip.
fn audio_server() -> Option<MutexGuard<'static, ()>> {
    if std::env::var("RESONODE_NO_AUDIO_SERVER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: RESONODE_NO_AUDIO_SERVER=1 (these tests need PulseAudio; see scripts/start-pulseaudio.sh)");
        return None;
    }
    static READY: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    let ready = READY.get_or_init(|| {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/start-pulseaudio.sh"
        );
        let out = Command::new("bash")
            .arg(script)
            .arg("--env")
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if pulse_socket_from_env().is_none() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let server = stdout
                .lines()
                .find_map(|l| l.strip_prefix("export PULSE_SERVER="))
                .ok_or_else(|| format!("{script} printed no socket: {stdout}"))?;
            // Set once, before any test in this binary touches audio: every
            // test waits in `get_or_init` until this returns.
            std::env::set_var("PULSE_SERVER", server.trim());
        }
        Ok(())
    });
    if let Err(e) = ready {
        panic!("no audio server: {e}\n(set RESONODE_NO_AUDIO_SERVER=1 to skip the live tests)");
    }
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    quiesce();
    Some(turn)
}

/// Gives each live test a quiet server: streams of an earlier test (a stream
/// the server killed is dropped on a background thread and may linger) would
/// otherwise mix into the loopback this test records. Waits up to 2 s for
/// them to go, then kills what is left.
fn quiesce() {
    let playing = || pactl(&["list", "short", "sink-inputs"]).lines().count();
    let deadline = Instant::now() + Duration::from_secs(2);
    while playing() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if playing() > 0 {
        for sink in ["resonull", "resonull_aux"] {
            kill_streams_on(sink);
        }
    }
}

fn drain(rx: &mut Consumer) -> Vec<f32> {
    let mut out = vec![0.0; rx.available() * rx.channels()];
    let n = rx.read(&mut out);
    out.truncate(n * rx.channels());
    out
}

fn db(x: f64) -> f64 {
    20.0 * x.max(1e-12).log10()
}

/// The buffer size at which this VM's PulseAudio server passes audio
/// through its loopback unchanged (see the loopback test): what players and
/// reference recorders use when they are not what is under test.
const SAFE_BUFFER: u32 = 1024;

/// Levels (dB) of the `f` Hz component in 0.1 s windows of `x` (whole
/// periods of 300 Hz and 5 kHz).
fn window_levels(x: &[f32], f: f64) -> Vec<f64> {
    x.chunks_exact(RATE as usize / 10)
        .map(|w| db(goertzel_amplitude(w, RATE, f)))
        .collect()
}

fn max_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn median_of(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn the_default_host_lists_the_null_sink_and_its_monitor() {
    let Some(_turn) = audio_server() else { return };
    let devices = list_devices(Backend::Default).unwrap();
    let sink = devices
        .iter()
        .find(|d| d.id == "resonull")
        .unwrap_or_else(|| panic!("{devices:#?}"));
    assert_eq!(sink.host, "PulseAudio");
    assert!(sink.max_output_channels >= 2 && sink.max_input_channels == 0);
    assert!(sink.is_default_output);
    assert!(sink.supported_sample_rates.contains(&48_000));
    let monitor = devices.iter().find(|d| d.id == "resonull.monitor").unwrap();
    assert!(monitor.max_input_channels >= 2 && monitor.is_default_input);
    assert_eq!(
        default_output_device(Backend::Default).unwrap().id,
        "resonull"
    );
    assert_eq!(
        default_input_device(Backend::Default).unwrap().id,
        "resonull.monitor"
    );
    // ALSA sees the server through its `pulse`/`default` plugin devices.
    let alsa = list_devices(Backend::Alsa).unwrap();
    let pulse = alsa
        .iter()
        .find(|d| d.id == "pulse" || d.id == "default")
        .unwrap_or_else(|| panic!("{alsa:#?}"));
    assert!(
        pulse.max_input_channels > 0 && pulse.max_output_channels > 0,
        "{pulse:?}"
    );
    assert_eq!(pulse.host, "ALSA");
}

#[test]
fn a_noise_burst_played_through_the_speaker_sink_comes_back_through_the_microphone() {
    let Some(_turn) = audio_server() else { return };
    // 1024-frame buffers on both sides. cpal's PulseAudio streams keep one
    // buffer of slack on the server (record: maxlength = one fragment;
    // playback: tlength = two buffers), so at 256 frames (5.3 ms) this
    // VM's server drops or inserts frames: on 2026-11-22, 10 of 15 runs at
    // 256 frames correlated below 0.9; the 9 we analysed piece by piece
    // (`segment_alignment`) all showed lag steps or stretches of inserted
    // silence, with nothing starved or counted as an xrun on our side. At 1024 frames 8 of 8 runs were
    // bit-exact (correlation 1.0000).
    //
    // A run the server damaged (see `server_damage`) is measured again, up
    // to three times; damage the server did not cause fails at once.
    for attempt in 1..=3 {
        let run = loopback_once(SAFE_BUFFER);
        if run.correlation > 0.9 {
            return;
        }
        assert_eq!(
            (run.starved, run.xruns),
            (0, 0),
            "correlation {:.4}: the speaker sink starved or an xrun was counted",
            run.correlation
        );
        let damage = run.server_damage.unwrap_or_else(|| {
            panic!(
                "correlation {:.4} although every piece of the recording lines up at one lag \
                 and none is silence: the loopback path corrupts audio",
                run.correlation
            )
        });
        eprintln!(
            "attempt {attempt}: correlation {:.4}; the server damaged the stream ({damage}); measuring again",
            run.correlation
        );
        quiesce();
    }
    panic!("the PulseAudio server damaged the loopback in 3 runs out of 3");
}

struct LoopbackRun {
    correlation: f64,
    starved: u64,
    xruns: u64,
    /// What the server did to the stream, when the recording shows it.
    server_damage: Option<String>,
}

/// Frames the server dropped or inserted (lag steps between 50 ms pieces),
/// and pieces it replaced by silence (a run of 48 exact zeros: a noise
/// burst never has one). `None` when neither shows.
fn server_damage(signal: &[f32], recording: &[f32], lag: usize) -> Option<String> {
    let pieces = segment_alignment(
        signal,
        recording,
        lag,
        RATE as usize / 20,
        RATE as usize / 10,
    );
    let steps = lag_steps(&pieces);
    let silenced = pieces
        .iter()
        .filter(|p| p.correlation < 0.9)
        .filter(|p| {
            let window = &recording
                [p.lag + p.start..(p.lag + p.start + RATE as usize / 20).min(recording.len())];
            window.windows(48).any(|w| w.iter().all(|&s| s == 0.0))
        })
        .count();
    (!steps.is_empty() || silenced > 0).then(|| {
        format!(
            "lag steps (reference frame, frames) {steps:?}; {silenced} of {} pieces hold inserted silence",
            pieces.len()
        )
    })
}

/// Plays a noise burst through a SpeakerSink into the null sink while a
/// MicrophoneSource records its monitor, both at `buffer` frames.
fn loopback_once(buffer: u32) -> LoopbackRun {
    let signal = noise_burst(2 * RATE as usize, 0.4, 2024);
    let marks = Some(60_000);

    let mut mic = MicrophoneSource::open_with(
        StreamConfig::input(1).with_buffer_size(buffer),
        &[],
        Backend::Default,
        // Long enough for a slow stream start on either side: a recording that
        // ends inside the burst lowers the correlation.
        Some(8 * RATE as u64),
        EngineOptions {
            clock_marks: marks,
            ..Default::default()
        },
    )
    .unwrap();
    let engine = mic.engine().unwrap();
    let mut in_marks = engine.take_input_marks().unwrap();
    let in_epoch = engine.epoch();
    // Capture can take a moment to start on a fresh server.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.stats().frames == 0 {
        assert!(
            Instant::now() < deadline,
            "the microphone delivered nothing in 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let recorder = std::thread::spawn(move || {
        let mut rec = PlanarSink::new();
        let opts = PipelineOptions { chunk_frames: 4800 };
        pipeline::run(
            &mut mic,
            &mut parse_chain("").unwrap(),
            &mut rec,
            &opts,
            &Control::default(),
            &mut |_| {},
        )
        .unwrap();
        (rec.into_channels().swap_remove(0), mic.final_stats().unwrap())
    });
    std::thread::sleep(Duration::from_millis(200));

    let mut speaker = SpeakerSink::new(
        StreamConfig::output(2).with_buffer_size(buffer),
        Backend::Default,
    )
    .with_clock_marks(60_000);
    let mut source = PlanarSource::new(vec![signal.clone()], RATE).unwrap();
    let opts = PipelineOptions { chunk_frames: 1024 };
    pipeline::run(
        &mut source,
        &mut parse_chain("").unwrap(),
        &mut speaker,
        &opts,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    let (recording, mic_stats) = recorder.join().unwrap();
    let out_stats = speaker.final_stats().unwrap();
    assert_eq!(out_stats.playback_consumed, signal.len() as u64);

    let a = align(&signal, &recording, recording.len()).expect("the recording holds audio");
    let (out_marks, out_epoch) = speaker.output_clock().unwrap();
    let played = out_stats.playback_start_frame.unwrap();
    let latency = round_trip_ms(
        out_marks,
        out_epoch,
        played,
        &drain_marks(&mut in_marks),
        in_epoch,
        a.lag as u64,
    );
    eprintln!(
        "loopback at {buffer} frames: correlation {:.4}, round trip {latency:.2?} ms (output callback -> input callback), \
         starved {} frames, xruns out {} in {}",
        a.correlation,
        out_stats.playback_starved,
        out_stats.xruns_underrun + out_stats.xruns_overrun,
        mic_stats.xruns_underrun + mic_stats.xruns_overrun
    );
    if a.correlation > 0.9 {
        let latency = latency.expect("clock marks cover the burst");
        assert!(latency > 0.0 && latency < 250.0, "round trip {latency} ms");
    }
    LoopbackRun {
        correlation: a.correlation,
        starved: out_stats.playback_starved,
        xruns: out_stats.xruns_underrun
            + out_stats.xruns_overrun
            + mic_stats.xruns_underrun
            + mic_stats.xruns_overrun,
        server_damage: server_damage(&signal, &recording, a.lag),
    }
}

/// Plays `mono` on the default sink (resonull) from an output-only engine.
fn player(mono: &[f32]) -> RealtimeEngine {
    let engine = RealtimeEngine::start(
        StreamConfig::output(1).with_buffer_size(SAFE_BUFFER),
        Default::default(),
        Backend::Default,
        EngineOptions {
            playback_frames: Some(mono.len() + 1),
            ..Default::default()
        },
    )
    .unwrap();
    engine.take_playback().unwrap().write(mono);
    engine
}

/// Waits until `tap` has delivered `frames` frames after the first one
/// above -40 dBFS, and returns those.
fn collect_after_onset(tap: &mut Consumer, frames: usize, timeout: Duration) -> Vec<f32> {
    let deadline = Instant::now() + timeout;
    let mut got: Vec<f32> = Vec::new();
    let mut onset = None;
    loop {
        got.extend(drain(tap));
        if onset.is_none() {
            onset = got.iter().position(|s| s.abs() > 0.01);
        }
        if let Some(o) = onset {
            if got.len() >= o + frames {
                return got[o..o + frames].to_vec();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no signal reached the engine in {timeout:?} ({} frames seen)",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tone levels (dB) at 300 Hz and 5 kHz of the dry loopback and of a
/// duplex engine's output, with that engine's stats.
struct DuplexLevels {
    dry300: f64,
    dry5k: f64,
    wet300: f64,
    wet5k: f64,
    stats: resonode_device::EngineStats,
}

/// Plays the two tones into the loopback and measures them through a
/// duplex `gain(-6db) lowpass(1000, order=4)` engine at 256 frames and
/// through a plain recorder.
fn duplex_levels_once() -> DuplexLevels {
    let config = StreamConfig {
        input_device: Some("resonull.monitor".into()),
        output_device: Some("resonull_aux".into()),
        ..StreamConfig::duplex(1, 1).with_buffer_size(256)
    };
    let specs = resonode_core::chain_spec::parse("gain(-6db) lowpass(1000, order=4)").unwrap();
    let options = EngineOptions {
        tap_frames: Some(10 * RATE as usize),
        ..Default::default()
    };
    let fx = RealtimeEngine::start_from_specs(config, &specs, Backend::Default, options).unwrap();
    let mut tap = fx.take_tap().unwrap();
    // The same loopback, unprocessed, as the reference.
    let dry = RealtimeEngine::start(
        StreamConfig {
            input_device: Some("resonull.monitor".into()),
            ..StreamConfig::input(1).with_buffer_size(SAFE_BUFFER)
        },
        Default::default(),
        Backend::Default,
        EngineOptions {
            capture_frames: Some(10 * RATE as usize),
            ..Default::default()
        },
    )
    .unwrap();
    let mut dry_rx = dry.take_capture().unwrap();

    let tone: Vec<f32> = (0..6 * RATE as usize)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            (0.25 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()
                + 0.25 * (2.0 * std::f64::consts::PI * 5000.0 * t).sin()) as f32
        })
        .collect();
    let play = player(&tone);
    // Skip the first 0.2 s after the onset (filter and gain settle).
    let wet = collect_after_onset(&mut tap, RATE as usize * 7 / 5, Duration::from_secs(6));
    let wet = &wet[RATE as usize / 5..];
    let dry_sig = collect_after_onset(&mut dry_rx, RATE as usize * 7 / 5, Duration::from_secs(6));
    let dry_sig = &dry_sig[RATE as usize / 5..];
    let fx_stats = fx.stop().unwrap();
    dry.stop().unwrap();
    play.stop().unwrap();

    // Levels in 0.1 s windows. A window the server spliced (at 256 frames
    // it drops frames or fills in silence, see the loopback test) can only
    // lower a tone's level there, so a passband level is the loudest window
    // and a stopband level the median.
    let (dry300, dry5k) = (max_of(&window_levels(dry_sig, 300.0)), max_of(&window_levels(dry_sig, 5000.0)));
    let (wet300, wet5k) = (max_of(&window_levels(wet, 300.0)), median_of(&window_levels(wet, 5000.0)));
    DuplexLevels { dry300, dry5k, wet300, wet5k, stats: fx_stats }
}

#[test]
fn a_duplex_engine_with_gain_and_lowpass_changes_level_and_spectrum() {
    let Some(_turn) = audio_server() else { return };
    // An attempt whose engine counted duplex-queue xruns (frames the server
    // delivered to its two streams at different times, lost or filled in
    // between them; none of our callbacks late) is measured again, up to
    // three times; a wrong level without them fails at once.
    for attempt in 1..=3 {
        let DuplexLevels { dry300, dry5k, wet300, wet5k, stats } = duplex_levels_once();
        let queue_xruns = stats.xruns_underrun + stats.xruns_overrun;
        eprintln!(
            "attempt {attempt}: dry: 300 Hz {dry300:.2} dB, 5 kHz {dry5k:.2} dB; processed: 300 Hz {wet300:.2} dB, \
             5 kHz {wet5k:.2} dB; load mean {:.4} peak {:.4}, queue xruns {}/{}, late callbacks {}, device xruns {}",
            stats.callback_load_mean,
            stats.callback_load_peak,
            stats.xruns_underrun,
            stats.xruns_overrun,
            stats.late_callbacks,
            stats.device_xruns
        );
        // The loopback itself is transparent: both tones at 0.25 (-12 dB);
        // -6 dB gain; a 1 kHz 4th-order Butterworth passes 300 Hz
        // (-0.0002 dB) and cuts 5 kHz by 56 dB.
        let ok = (dry300 - db(0.25)).abs() < 0.5
            && (dry5k - db(0.25)).abs() < 0.5
            && (wet300 - dry300 + 6.02).abs() < 0.5
            && wet5k - dry5k < -45.0;
        if ok {
            return;
        }
        let damaged = queue_xruns > 0 && stats.late_callbacks == 0 && stats.device_xruns == 0;
        assert!(
            damaged && attempt < 3,
            "levels off (dry {dry300:.2} / {dry5k:.2} dB, processed {wet300:.2} / {wet5k:.2} dB) \
             with {queue_xruns} queue xruns on attempt {attempt}"
        );
        eprintln!("attempt {attempt}: the server's streams lost step ({queue_xruns} queue xruns); measuring again");
    }
}

const EIGHT: &str = "highpass(40) lowpass(9khz, order=8) biquad(peaking, 1khz, 1, 3db) gain(-3db) \
                     delay(30ms, 0.4, 0.3) reverb(room=0.6) limiter(-1db) gain(linear=0.9)";

/// Runs the eight-processor chain duplex at 256 frames for 10 s of wall
/// time with parameter traffic, and returns its stats.
fn eight_processors_for_ten_seconds() -> resonode_device::EngineStats {
    let config = StreamConfig {
        input_device: Some("resonull.monitor".into()),
        output_device: Some("resonull_aux".into()),
        ..StreamConfig::duplex(2, 2).with_buffer_size(256)
    };
    let specs = resonode_core::chain_spec::parse(EIGHT).unwrap();
    let engine = RealtimeEngine::start_from_specs(
        config,
        &specs,
        Backend::Default,
        EngineOptions::default(),
    )
    .unwrap();
    let noise = noise_burst(11 * RATE as usize, 0.3, 5);
    let play = player(&noise);
    let started = Instant::now();
    let mut cutoff = 9000.0;
    while started.elapsed() < Duration::from_secs(10) {
        // Parameter traffic while it runs.
        cutoff = if cutoff > 2000.0 {
            cutoff * 0.97
        } else {
            9000.0
        };
        engine.set_parameter("1.cutoff", cutoff).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = engine.poll_events();
    let s = engine.stop().unwrap();
    play.stop().unwrap();
    eprintln!(
        "10 s duplex, 256 frames, 8 processors: callbacks {}, frames {}, device xruns {} (cpal), engine queue xruns {}/{}, \
         late callbacks {}, load mean {:.4} peak {:.4}, latency est {:.1} ms measured {:.2?} ms, events {events:?}",
        s.callbacks,
        s.frames,
        s.device_xruns,
        s.xruns_underrun,
        s.xruns_overrun,
        s.late_callbacks,
        s.callback_load_mean,
        s.callback_load_peak,
        s.latency_ms,
        s.latency_ms_measured
    );
    s
}

#[test]
fn ten_seconds_of_duplex_at_256_frames_with_eight_processors_has_no_xruns_of_ours() {
    let Some(_turn) = audio_server() else { return };
    // The stream's pace is the server's: it asks for output and delivers
    // input. When it stalls (on this VM it at times played only 69 % of
    // real time, with a measured round trip of 272 ms instead of about 20)
    // while none of our callbacks was late and the device reported no xrun,
    // the run is measured again, up to three times.
    for attempt in 1..=3 {
        let s = eight_processors_for_ten_seconds();
        let ours_clean = s.device_xruns == 0 && s.late_callbacks == 0;
        if s.frames < 9 * RATE as u64 && ours_clean && attempt < 3 {
            eprintln!("attempt {attempt}: the server stalled ({} frames in 10 s); measuring again", s.frames);
            continue;
        }
        assert!(
            s.frames >= 9 * RATE as u64,
            "the stream kept pace: {} frames",
            s.frames
        );
        assert_eq!(s.device_xruns, 0, "xruns reported by the device");
        assert_eq!(
            s.late_callbacks, 0,
            "callbacks that overran their buffer period"
        );
        // Wall time over the period is only ours when the thread's CPU
        // time was too (a late callback, asserted above); otherwise the
        // thread was preempted (counted apart).
        assert!(
            s.callback_load_peak < 1.0 || s.preempted_callbacks > 0,
            "load peak {} with no preempted callback",
            s.callback_load_peak
        );
        assert_eq!(s.non_finite_samples, 0);
        return;
    }
}

#[test]
fn test_device_measures_levels_and_the_loopback_latency() {
    let Some(_turn) = audio_server() else { return };
    let report = test_device(None, 1.0, Backend::Default).unwrap();
    eprintln!("{report:#?}");
    assert!(report.played && report.recorded);
    assert_eq!(report.device_id, "resonull");
    assert_eq!(report.input_device_id.as_deref(), Some("resonull.monitor"));
    assert!(report.loopback, "{report:?}");
    assert!(report.loopback_correlation.unwrap() > 0.9);
    let latency = report.latency_ms.unwrap();
    assert!(latency > 0.0 && latency < 250.0, "{latency}");
    assert!(report.input_level_dbfs.unwrap() > -40.0);
    // An unknown device is a typed error.
    assert_eq!(
        test_device(Some("no-such-device"), 1.0, Backend::Default)
            .unwrap_err()
            .code(),
        "ERR_DEVICE_NOT_FOUND"
    );
    let e = RealtimeEngine::start(
        StreamConfig {
            output_device: Some("no-such-sink".into()),
            ..StreamConfig::output(2)
        },
        Default::default(),
        Backend::Default,
        EngineOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_DEVICE_NOT_FOUND", "{e}");
}

fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl").args(args).output().expect("pactl");
    assert!(
        out.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills every stream playing into `sink` (as if its device vanished).
fn kill_streams_on(sink: &str) -> usize {
    let sinks = pactl(&["list", "short", "sinks"]);
    let index = sinks
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(sink))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no sink {sink}: {sinks}"))
        .to_string();
    let inputs: Vec<String> = pactl(&["list", "short", "sink-inputs"])
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(index.as_str()))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    // `pactl` cannot kill streams; `pacmd` can, over the CLI protocol.
    if !pactl(&["list", "short", "modules"]).contains("module-cli-protocol-unix") {
        pactl(&["load-module", "module-cli-protocol-unix"]);
    }
    for i in &inputs {
        let out = Command::new("pacmd")
            .args(["kill-sink-input", i])
            .output()
            .expect("pacmd");
        assert!(
            out.status.success(),
            "pacmd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    inputs.len()
}

#[test]
fn a_lost_output_device_is_reported_and_the_stream_restarts() {
    let Some(_turn) = audio_server() else { return };
    let config = StreamConfig {
        output_device: Some("resonull_aux".into()),
        ..StreamConfig::output(2).with_buffer_size(256)
    };
    let options = EngineOptions {
        auto_restart: true,
        ..Default::default()
    };
    let engine =
        RealtimeEngine::start(config, Default::default(), Backend::Default, options).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(engine.stats().frames > 0);
    // The server drops the stream, as when a device is unplugged.
    assert_eq!(kill_streams_on("resonull_aux"), 1);
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !events
        .iter()
        .any(|e: &resonode_device::EngineEvent| e.name() == "deviceLost")
    {
        assert!(Instant::now() < deadline, "no deviceLost event: {events:?}");
        std::thread::sleep(Duration::from_millis(20));
        events.extend(engine.poll_events());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !events.iter().any(|e| e.name() == "restarted") {
        assert!(Instant::now() < deadline, "no restart: {events:?}");
        std::thread::sleep(Duration::from_millis(20));
        events.extend(engine.poll_events());
    }
    let before = engine.stats().frames;
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.stats().frames < before + 4800 {
        assert!(
            Instant::now() < deadline,
            "audio does not flow again after the restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = engine.stop().unwrap();
    eprintln!("restart events: {events:?}; restarts {}", s.restarts);
    assert!(s.restarts >= 1);
    let lost = events.iter().find(|e| e.name() == "deviceLost").unwrap();
    assert_eq!(lost.to_error().unwrap().code(), "ERR_STREAM");
}

/// Level meters on the loopback: an output engine plays a known sine into
/// `resonull` while an input engine records its monitor; the output meter
/// reads what the engine sent, the input meter what came back.
#[test]
fn meters_read_the_played_sine_at_the_output_and_back_from_the_loopback() {
    let Some(_turn) = audio_server() else { return };
    let recorder = RealtimeEngine::start(
        StreamConfig { input_device: Some("resonull.monitor".into()), ..StreamConfig::input(2).with_buffer_size(SAFE_BUFFER) },
        resonode_core::Chain::default(),
        Backend::PulseAudio,
        EngineOptions { capture: false, ..Default::default() },
    )
    .unwrap();
    let player = RealtimeEngine::start(
        StreamConfig { output_device: Some("resonull".into()), ..StreamConfig::output(2).with_buffer_size(SAFE_BUFFER) },
        resonode_core::Chain::default(),
        Backend::PulseAudio,
        EngineOptions { playback_frames: Some(3 * RATE as usize), ..Default::default() },
    )
    .unwrap();
    // 3 s of a 1 kHz sine, 0.5 on the left, 0.125 on the right.
    let sine: Vec<f32> = (0..3 * RATE as usize)
        .flat_map(|i| {
            let s = (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / RATE as f64).sin();
            [(0.5 * s) as f32, (0.125 * s) as f32]
        })
        .collect();
    assert_eq!(player.take_playback().unwrap().write(&sine), 3 * RATE as usize);
    // Past the start of playback and the server's latency.
    std::thread::sleep(Duration::from_millis(800));
    player.levels();
    recorder.levels();
    std::thread::sleep(Duration::from_millis(1000));
    let out = player.levels();
    let back = recorder.levels();
    player.stop().unwrap();
    recorder.stop().unwrap();
    assert!(out.input.is_none() && back.output.is_none());
    let (o, i) = (out.output.unwrap(), back.input.unwrap());
    assert!(o.frames > RATE as u64 / 2 && i.frames > RATE as u64 / 2, "{o:?} {i:?}");
    for (c, a) in [(0, 0.5), (1, 0.125)] {
        // What the engine sent: exact.
        assert!((o.peak_dbfs[c] - db(a)).abs() < 0.05, "output {c}: {o:?}");
        assert!((o.rms_dbfs[c] - db(a / 2f64.sqrt())).abs() < 0.05, "output {c}: {o:?}");
        // What came back through the server (100 % volume, same format).
        assert!((i.peak_dbfs[c] - db(a)).abs() < 0.2, "input {c}: {i:?}");
        assert!((i.rms_dbfs[c] - db(a / 2f64.sqrt())).abs() < 0.2, "input {c}: {i:?}");
    }
}
