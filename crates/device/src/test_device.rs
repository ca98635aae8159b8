//! [`test_device`]: play a test tone and/or record, report levels, and on a
//! loopback pair (e.g. a PulseAudio null sink and its monitor) measure the
//! round-trip latency.

use std::time::{Duration, Instant};

use resonode_core::{Error, Result};

use crate::analysis::{align, noise_burst, peak_dbfs, rms_dbfs};
use crate::callbacks::ClockMark;
use crate::config::StreamConfig;
use crate::devices::{list_devices, Backend, DeviceInfo, SUGGESTION};
use crate::engine::{EngineOptions, EngineStats, RealtimeEngine};

/// Frequency of the test tone, Hz.
pub const TONE_HZ: f64 = 440.0;
/// Amplitude of the test tone (-12 dBFS peak).
pub const TONE_AMPLITUDE: f32 = 0.25;
/// Normalised correlation above which a recording counts as a loopback of
/// the played burst.
pub const LOOPBACK_THRESHOLD: f64 = 0.5;

/// What [`test_device`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceTestReport {
    /// The device tested (its output side if `played`, input side if
    /// `recorded`).
    pub device_id: String,
    /// Id of the input device recorded, when different from `device_id`.
    pub input_device_id: Option<String>,
    /// The backend.
    pub backend: Backend,
    /// Sample rate used, Hz.
    pub sample_rate: u32,
    /// Length of the test, seconds.
    pub duration_s: f64,
    /// Whether a tone was played.
    pub played: bool,
    /// Whether input was recorded.
    pub recorded: bool,
    /// RMS level of the played signal, dBFS.
    pub output_level_dbfs: Option<f64>,
    /// RMS level of the recording, dBFS (-120 for digital silence).
    pub input_level_dbfs: Option<f64>,
    /// Peak level of the recording, dBFS.
    pub input_peak_dbfs: Option<f64>,
    /// Whether the recording contains the played burst (a loopback pair).
    pub loopback: bool,
    /// Normalised correlation between the burst and the recording.
    pub loopback_correlation: Option<f64>,
    /// Round trip from the output callback to the input callback, ms
    /// (loopback only).
    pub latency_ms: Option<f64>,
    /// Xruns of both streams.
    pub xruns: u64,
}

/// Plays a test tone (440 Hz at -12 dBFS, then a noise burst) on the output
/// side of device `id` (default output when `None`) and records from its
/// input side (default input when `None`) for `duration_s` seconds, then
/// reports levels; when the recording contains the burst (a loopback pair
/// such as a null sink and its monitor) also the round-trip latency.
///
/// Blocks the calling thread until the server has played the whole signal
/// and the input recorded 0.6 s more: `duration_s` plus the stream start
/// and latency on a healthy server, at most `2 * duration_s + 2` seconds.
///
/// # Errors
/// [`Error::InvalidParameter`] for a duration outside 0.2..=60 s;
/// [`Error::DeviceNotFound`] for an unknown id; the errors of
/// [`list_devices`] and [`RealtimeEngine::start`].
pub fn test_device(
    id: Option<&str>,
    duration_s: f64,
    backend: Backend,
) -> Result<DeviceTestReport> {
    if !(duration_s.is_finite() && (0.2..=60.0).contains(&duration_s)) {
        return Err(Error::param(
            "durationS",
            format!("{duration_s} is outside 0.2..=60 s"),
        ));
    }
    let devices = list_devices(backend)?;
    let (out_dev, in_dev): (Option<DeviceInfo>, Option<DeviceInfo>) = match id {
        Some(id) => {
            let d = devices
                .iter()
                .find(|d| d.id == id || d.name == id)
                .cloned()
                .ok_or_else(|| Error::DeviceNotFound {
                    id: id.into(),
                    reason: format!(
                        "known ids: {}",
                        devices
                            .iter()
                            .map(|d| d.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            (d.is_output().then(|| d.clone()), d.is_input().then_some(d))
        }
        None => (
            devices
                .iter()
                .find(|d| d.is_default_output && d.is_output())
                .cloned(),
            devices
                .iter()
                .find(|d| d.is_default_input && d.is_input())
                .cloned(),
        ),
    };
    if out_dev.is_none() && in_dev.is_none() {
        return Err(Error::BackendNotAvailable {
            reason: format!("no device to test; {SUGGESTION}"),
        });
    }
    let rate_of = |d: &DeviceInfo| {
        if d.supported_sample_rates.contains(&48_000) {
            48_000
        } else {
            d.default_sample_rate.unwrap_or(48_000)
        }
    };
    let sr = out_dev
        .as_ref()
        .or(in_dev.as_ref())
        .map(rate_of)
        .unwrap_or(48_000);
    let total = (duration_s * sr as f64) as usize;
    // Generous buffers: a measurement, not a latency contest. PulseAudio
    // streams from cpal keep about one buffer of slack on the server, and
    // on a jittery machine small buffers let the server drop or insert
    // frames, which spoils the correlation (see tests/live.rs).
    let buffer = 1024;

    // The signal: tone for the first half, a noise burst at 60 %, silence.
    let burst_at = total * 6 / 10;
    let burst = noise_burst((sr as usize / 4).min(total / 4), 0.5, 0x5eed);
    let mut mono = vec![0.0f32; total];
    for (i, s) in mono[..total / 2].iter_mut().enumerate() {
        *s = TONE_AMPLITUDE
            * (2.0 * std::f64::consts::PI * TONE_HZ * i as f64 / sr as f64).sin() as f32;
    }
    mono[burst_at..burst_at + burst.len()].copy_from_slice(&burst);

    // One mark per callback; PulseAudio monitors deliver ~6000 per second.
    let mark_capacity = (max_run_s(duration_s) * 8000.0) as usize;
    let in_engine = match &in_dev {
        Some(d) => {
            let ch = d.max_input_channels.min(2);
            let config = StreamConfig {
                input_device: (backend == Backend::Default).then(|| d.id.clone()),
                ..StreamConfig::input(ch)
                    .with_sample_rate(sr)
                    .with_buffer_size(buffer)
            };
            let options = EngineOptions {
                capture_frames: Some((max_run_s(duration_s) * sr as f64) as usize),
                clock_marks: Some(mark_capacity),
                ..Default::default()
            };
            Some(RealtimeEngine::start(
                config,
                Default::default(),
                backend,
                options,
            )?)
        }
        None => None,
    };
    let out_engine = match &out_dev {
        Some(d) => {
            let ch = d.max_output_channels.min(2);
            let config = StreamConfig {
                output_device: (backend == Backend::Default).then(|| d.id.clone()),
                ..StreamConfig::output(ch)
                    .with_sample_rate(sr)
                    .with_buffer_size(buffer)
            };
            let options = EngineOptions {
                playback_frames: Some(total + buffer as usize),
                clock_marks: Some(mark_capacity),
                ..Default::default()
            };
            let engine = RealtimeEngine::start(config, Default::default(), backend, options)?;
            let mut tx = engine.take_playback().expect("playback queue");
            let inter: Vec<f32> = mono
                .iter()
                .flat_map(|&s| std::iter::repeat_n(s, ch as usize))
                .collect();
            tx.write(&inter);
            Some((engine, tx))
        }
        None => None,
    };
    // Run until the server has taken the whole signal and the input has
    // captured 0.6 s beyond that (the server's latency). Not a fixed wall
    // time: a server whose clock runs slow (a loaded VM's null sink ran
    // 17-27 % slow) stretches both streams, and a fixed time would cut off
    // the burst.
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(max_run_s(duration_s));
    let mut captured_at_end: Option<u64> = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let played_all = out_engine
            .as_ref()
            .is_none_or(|(e, _)| e.stats().playback_consumed >= total as u64);
        if !played_all || started.elapsed().as_secs_f64() < duration_s {
            continue;
        }
        let Some(e) = &in_engine else { break };
        let captured = e.stats().frames;
        let from = *captured_at_end.get_or_insert(captured);
        if captured >= from + sr as u64 * 6 / 10 {
            break;
        }
    }
    let mut out_clock = None;
    let out_stats: Option<EngineStats> = match out_engine {
        Some((engine, tx)) => {
            drop(tx);
            let mut marks = engine.take_output_marks().expect("marks");
            let epoch = engine.epoch();
            let stats = engine.stop()?;
            out_clock = Some((drain_marks(&mut marks), epoch));
            Some(stats)
        }
        None => None,
    };
    let mut in_clock = None;
    let (in_stats, recording): (Option<EngineStats>, Vec<f32>) = match in_engine {
        Some(engine) => {
            let mut rx = engine.take_capture().expect("capture queue");
            let mut marks = engine.take_input_marks().expect("marks");
            let epoch = engine.epoch();
            let stats = engine.stop()?;
            in_clock = Some((drain_marks(&mut marks), epoch));
            let ch = rx.channels();
            let mut inter = vec![0.0f32; rx.available() * ch];
            let n = rx.read(&mut inter);
            (
                Some(stats),
                inter[..n * ch].iter().step_by(ch).copied().collect(),
            )
        }
        None => (None, Vec::new()),
    };

    let mut report = DeviceTestReport {
        device_id: out_dev
            .as_ref()
            .or(in_dev.as_ref())
            .map(|d| d.id.clone())
            .unwrap_or_default(),
        input_device_id: match (&out_dev, &in_dev) {
            (Some(o), Some(i)) if o.id != i.id => Some(i.id.clone()),
            _ => None,
        },
        backend,
        sample_rate: sr,
        duration_s,
        played: out_stats.is_some(),
        recorded: in_stats.is_some(),
        output_level_dbfs: out_stats.map(|_| rms_dbfs(&mono)),
        input_level_dbfs: in_stats.map(|_| rms_dbfs(&recording)),
        input_peak_dbfs: in_stats.map(|_| peak_dbfs(&recording)),
        loopback: false,
        loopback_correlation: None,
        latency_ms: None,
        xruns: [out_stats, in_stats]
            .iter()
            .flatten()
            .map(|s| s.xruns_underrun + s.xruns_overrun)
            .sum(),
    };
    if let (Some(o), Some((out_marks, out_epoch)), Some((in_marks, in_epoch))) =
        (out_stats, out_clock, in_clock)
    {
        if let Some(a) = align(&burst, &recording, recording.len()) {
            report.loopback_correlation = Some(a.correlation);
            if a.correlation > LOOPBACK_THRESHOLD {
                report.loopback = true;
                let played = o.playback_start_frame.unwrap_or(0) + burst_at as u64;
                report.latency_ms = round_trip_ms(
                    &out_marks,
                    out_epoch,
                    played,
                    &in_marks,
                    in_epoch,
                    a.lag as u64,
                );
            }
        }
    }
    Ok(report)
}

/// The longest a test of `duration_s` seconds runs, s: twice its length
/// (a slow server) plus 2 s (stream start and the server's latency).
fn max_run_s(duration_s: f64) -> f64 {
    2.0 * duration_s + 2.0
}

/// The callback time (as an `Instant`) of stream frame `frame`, from the
/// clock marks of that stream.
pub fn frame_time(marks: &[ClockMark], epoch: Instant, frame: u64) -> Option<Instant> {
    marks
        .iter()
        .find(|m| m.contains(frame))
        .map(|m| epoch + Duration::from_nanos(m.at_ns))
}

/// Round trip in ms from the output callback that rendered output-stream
/// frame `played` to the input callback that delivered input-stream frame
/// `captured`, from both engines' clock marks.
pub fn round_trip_ms(
    output_marks: &[ClockMark],
    output_epoch: Instant,
    played: u64,
    input_marks: &[ClockMark],
    input_epoch: Instant,
    captured: u64,
) -> Option<f64> {
    let t_out = frame_time(output_marks, output_epoch, played)?;
    let t_in = frame_time(input_marks, input_epoch, captured)?;
    Some(match t_in.checked_duration_since(t_out) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(t_out.duration_since(t_in).as_secs_f64() * 1000.0),
    })
}

/// Drains a clock-mark queue.
pub fn drain_marks(rx: &mut resonode_core::ring::Consumer<ClockMark>) -> Vec<ClockMark> {
    let mut out = Vec::new();
    while let Some(m) = rx.pop() {
        out.push(m);
    }
    out
}
