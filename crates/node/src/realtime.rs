//! Live audio: device listing, device tests and `NativeRealtime`, a running
//! `RealtimeEngine` whose events and tapped audio reach JS through a pump
//! thread and a weak ThreadsafeFunction (never from the audio callback),
//! and whose tapped audio can also be pulled with `read` (a [`ReadBuffer`]
//! the pump fills; a waiting read holds no thread: its promise is settled
//! by the pump, by `stop()`, or by one shared deadline timer thread).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{AsyncTask, Float32Array, Function, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsDeferred, Task};
use napi_derive::napi;
use resonode_core::Error;
use resonode_device::{
    Backend, ControlMessage, Delivery, DeviceFilter, DeviceInfo, EngineEvent, EngineOptions, EngineStats, LatencyHint,
    PumpSink, RealtimeEngine, StreamConfig,
};

use resonode_ml::live::EnhanceKind;
use resonode_ml::runtime::SessionOptions;

use crate::analysis::{feed_planar, NativeAnalyzer, SharedAnalyzer};
use crate::convert::{specs, ProcessorDesc};
use crate::error::{guard, guard_core, to_napi};

/// Stream configuration as JS passes it; absent fields take the defaults.
#[napi(object)]
#[derive(Clone, Default)]
pub struct StreamConfigDesc {
    /// Sample rate in Hz (default 48000).
    pub sample_rate: Option<u32>,
    /// Frames per callback (default 512).
    pub buffer_size: Option<u32>,
    /// Input channels (default 0: no input).
    pub channels_in: Option<u32>,
    /// Output channels (default 2; 0: no output).
    pub channels_out: Option<u32>,
    /// `low`, `balanced` (default) or `high`.
    pub latency: Option<String>,
    /// Input device id (default: the default input).
    pub input_device: Option<String>,
    /// Output device id (default: the default output).
    pub output_device: Option<String>,
}

fn channels(v: Option<u32>, default: u16, name: &str) -> resonode_core::Result<u16> {
    match v {
        None => Ok(default),
        Some(c) => u16::try_from(c).map_err(|_| Error::param(name, format!("{c} channels is too many"))),
    }
}

pub fn stream_config(d: &StreamConfigDesc) -> resonode_core::Result<StreamConfig> {
    let base = StreamConfig::default();
    let config = StreamConfig {
        sample_rate: d.sample_rate.unwrap_or(base.sample_rate),
        buffer_size: d.buffer_size.unwrap_or(base.buffer_size),
        channels_in: channels(d.channels_in, base.channels_in, "channelsIn")?,
        channels_out: channels(d.channels_out, base.channels_out, "channelsOut")?,
        latency: match &d.latency {
            Some(l) => LatencyHint::parse(l)?,
            None => base.latency,
        },
        input_device: d.input_device.clone(),
        output_device: d.output_device.clone(),
    };
    config.validate()?;
    Ok(config)
}

/// A validated configuration with its derived values.
#[napi(object)]
pub struct ResolvedStreamConfig {
    pub sample_rate: u32,
    pub buffer_size: u32,
    pub channels_in: u32,
    pub channels_out: u32,
    pub latency: String,
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// `input`, `output` or `duplex`.
    pub direction: String,
    /// One buffer in ms: bufferSize / sampleRate * 1000 (not the stream's
    /// latency: that is `stats.latencyMs`).
    pub buffer_ms: f64,
}

/// Validates a stream configuration and fills in defaults.
///
/// @throws ERR_INVALID_PARAMETER naming the field
#[napi(catch_unwind)]
pub fn resolve_stream_config(config: StreamConfigDesc) -> napi::Result<ResolvedStreamConfig> {
    guard_core(|| stream_config(&config).map(resolved))
}

fn resolved(c: StreamConfig) -> ResolvedStreamConfig {
    ResolvedStreamConfig {
        sample_rate: c.sample_rate,
        buffer_size: c.buffer_size,
        channels_in: c.channels_in.into(),
        channels_out: c.channels_out.into(),
        latency: c.latency.as_str().into(),
        direction: c.direction().as_str().into(),
        buffer_ms: c.latency_ms(),
        input_device: c.input_device,
        output_device: c.output_device,
    }
}

/// One audio device.
#[napi(object)]
pub struct AudioDevice {
    /// Id to pass as `inputDevice` / `outputDevice`.
    pub id: String,
    pub name: String,
    /// Host: `ALSA`, `PulseAudio` or `none`.
    pub host: String,
    pub max_input_channels: u32,
    pub max_output_channels: u32,
    /// Preferred sample rate in Hz, if known.
    pub default_sample_rate: Option<u32>,
    /// Common sample rates (Hz) the device supports.
    pub supported_sample_rates: Vec<u32>,
    /// Smallest / largest buffer in frames, if known.
    pub min_buffer_size: Option<u32>,
    pub max_buffer_size: Option<u32>,
    pub is_default_input: bool,
    pub is_default_output: bool,
}

fn device_to_js(d: DeviceInfo) -> AudioDevice {
    AudioDevice {
        id: d.id,
        name: d.name,
        host: d.host,
        max_input_channels: d.max_input_channels.into(),
        max_output_channels: d.max_output_channels.into(),
        default_sample_rate: d.default_sample_rate,
        supported_sample_rates: d.supported_sample_rates,
        min_buffer_size: d.min_buffer_size,
        max_buffer_size: d.max_buffer_size,
        is_default_input: d.is_default_input,
        is_default_output: d.is_default_output,
    }
}

fn backend(name: &Option<String>) -> resonode_core::Result<Backend> {
    Backend::parse(name.as_deref().unwrap_or("default"))
}

pub struct ListDevicesTask {
    backend: Option<String>,
    filter: Option<String>,
}

impl Task for ListDevicesTask {
    type Output = Vec<AudioDevice>;
    type JsValue = Vec<AudioDevice>;
    fn compute(&mut self) -> napi::Result<Vec<AudioDevice>> {
        guard_core(|| {
            let filter = match &self.filter {
                Some(f) => DeviceFilter::parse(f)?,
                None => DeviceFilter::All,
            };
            let list = resonode_device::list_devices_filtered(backend(&self.backend)?, filter)?;
            Ok(list.into_iter().map(device_to_js).collect())
        })
    }
    fn resolve(&mut self, _: Env, out: Vec<AudioDevice>) -> napi::Result<Vec<AudioDevice>> {
        Ok(out)
    }
}

/// Lists devices on a worker thread. `filter`: `all`, `input`, `output`, `duplex`.
///
/// @throws ERR_BACKEND_NOT_AVAILABLE when no audio backend answers
#[napi(catch_unwind, ts_return_type = "Promise<AudioDevice[]>")]
pub fn list_devices(backend: Option<String>, filter: Option<String>) -> AsyncTask<ListDevicesTask> {
    AsyncTask::new(ListDevicesTask { backend, filter })
}

/// What `testDevice` found.
#[napi(object)]
pub struct DeviceTestResult {
    pub device_id: String,
    pub input_device_id: Option<String>,
    pub backend: String,
    pub sample_rate: u32,
    pub duration_s: f64,
    pub played: bool,
    pub recorded: bool,
    /// RMS of the played tone, dBFS.
    pub output_level_dbfs: Option<f64>,
    /// RMS / peak of the recording, dBFS.
    pub input_level_dbfs: Option<f64>,
    pub input_peak_dbfs: Option<f64>,
    /// Whether the recording holds the played burst (a loopback pair).
    pub loopback: bool,
    pub loopback_correlation: Option<f64>,
    /// Round-trip latency through the loopback in ms, when measured.
    pub latency_ms: Option<f64>,
}

pub struct TestDeviceTask {
    id: Option<String>,
    duration_s: f64,
    backend: Option<String>,
}

impl Task for TestDeviceTask {
    type Output = DeviceTestResult;
    type JsValue = DeviceTestResult;
    fn compute(&mut self) -> napi::Result<DeviceTestResult> {
        guard_core(|| {
            let r = resonode_device::test_device(self.id.as_deref(), self.duration_s, backend(&self.backend)?)?;
            Ok(DeviceTestResult {
                device_id: r.device_id,
                input_device_id: r.input_device_id,
                backend: r.backend.as_str().into(),
                sample_rate: r.sample_rate,
                duration_s: r.duration_s,
                played: r.played,
                recorded: r.recorded,
                output_level_dbfs: r.output_level_dbfs,
                input_level_dbfs: r.input_level_dbfs,
                input_peak_dbfs: r.input_peak_dbfs,
                loopback: r.loopback,
                loopback_correlation: r.loopback_correlation,
                latency_ms: r.latency_ms,
            })
        })
    }
    fn resolve(&mut self, _: Env, out: DeviceTestResult) -> napi::Result<DeviceTestResult> {
        Ok(out)
    }
}

/// Plays a test tone on and/or records from a device and reports levels
/// (and, for a loopback pair, round-trip latency).
#[napi(catch_unwind, ts_return_type = "Promise<DeviceTestResult>")]
pub fn test_device(id: Option<String>, duration_s: Option<f64>, backend: Option<String>) -> AsyncTask<TestDeviceTask> {
    AsyncTask::new(TestDeviceTask { id, duration_s: duration_s.unwrap_or(1.0), backend })
}

/// Counters of a live engine. Loads are fractions of the buffer period.
#[napi(object)]
pub struct RealtimeStats {
    pub callbacks: f64,
    pub frames_processed: f64,
    /// Underruns + overruns.
    pub xruns: f64,
    pub xruns_underrun: f64,
    pub xruns_overrun: f64,
    /// The part of the xruns the device reported.
    pub device_xruns: f64,
    /// Callbacks whose processing (CPU time) took longer than their buffer period.
    pub late_callbacks: f64,
    /// Callbacks over their period in wall time but not in CPU time (the OS
    /// or hypervisor kept the audio thread off the CPU).
    pub preempted_callbacks: f64,
    pub callback_load_mean: f64,
    pub callback_load_peak: f64,
    /// Latency from buffer sizes, ms.
    pub latency_ms: f64,
    /// Latency from device timestamps, ms, when known.
    pub latency_ms_measured: Option<f64>,
    pub buffer_size: u32,
    pub sample_rate: u32,
    /// Frames of tapped audio dropped because JS (or the pump) did not
    /// keep up; each drop is also reported by an `audioDropped` message.
    pub tap_dropped: f64,
    /// Output samples that were NaN/infinite and replaced by 0.
    pub non_finite_samples: f64,
    /// Parameter changes a processor refused on the audio thread.
    pub params_rejected: f64,
    /// Failures of processors' worker threads (`enhance`): inference errors
    /// and caught panics.
    pub worker_errors: f64,
    /// Panics caught in the audio callback.
    pub panics: f64,
    /// The engine failed for good (a panic it did not restart from, or lost
    /// streams it gave up on); its output is silence.
    pub failed: bool,
    /// Successful automatic restarts (streams rebuilt, chain reset after a panic).
    pub restarts: u32,
    /// Attempts to reopen lost streams.
    pub restart_attempts: u32,
    /// The backend running: `pulseaudio`, `alsa`, or `none` (also after an
    /// `auto` fallback).
    pub backend: String,
    /// Audio threads granted real-time scheduling.
    pub realtime_threads: u32,
    /// Audio threads whose request was refused.
    pub realtime_threads_refused: u32,
    /// How the last grant was made: `sched_fifo`, `rtkit`, `platform`, or
    /// `none`.
    pub realtime_mechanism: String,
    /// Processors' worker threads (`enhance`) granted real-time scheduling,
    /// of `workerThreads`.
    pub worker_realtime_threads: u32,
    /// Processors with a worker thread in the chain.
    pub worker_threads: u32,
    /// Duplex: times the input ran ahead of the output for a whole second
    /// (device clocks disagree) and the excess was dropped; not xruns.
    pub drift_corrections: f64,
    /// Frames those corrections dropped.
    pub drift_frames_dropped: f64,
    /// The fixed delay the chain's processors add (`enhance`: the
    /// enhancer's latency bound + a margin), in frames; 0 without such a
    /// processor. Included in `latencyMs` and `latencyMsMeasured`.
    pub processing_latency_frames: f64,
    /// The same in ms.
    pub processing_latency_ms: f64,
    /// Callbacks in which a processor's worker thread (`enhance`) was late:
    /// its missing frames were output as silence (the latency stays fixed).
    /// Also counted in `xruns` / `xrunsUnderrun`, and emitted as `xrun`.
    pub worker_underruns: f64,
    /// Frames those underruns replaced by silence.
    pub worker_underrun_frames: f64,
    /// Input frames a stalled worker's full queue could not take.
    pub worker_dropped_frames: f64,
    /// Highest worker load: processing time / audio time (above 1 a worker
    /// cannot keep up).
    pub worker_load: f64,
    /// Frames the read buffer discarded, oldest first, because `read()` did
    /// not take them before it was full (it keeps the latest
    /// `readBufferFrames`; grows steadily while nothing reads).
    pub read_dropped: f64,
}

pub fn stats_to_js(s: &EngineStats, read_dropped: u64) -> RealtimeStats {
    RealtimeStats {
        callbacks: s.callbacks as f64,
        frames_processed: s.frames as f64,
        xruns: (s.xruns_underrun + s.xruns_overrun) as f64,
        xruns_underrun: s.xruns_underrun as f64,
        xruns_overrun: s.xruns_overrun as f64,
        device_xruns: s.device_xruns as f64,
        late_callbacks: s.late_callbacks as f64,
        preempted_callbacks: s.preempted_callbacks as f64,
        callback_load_mean: s.callback_load_mean,
        callback_load_peak: s.callback_load_peak,
        latency_ms: s.latency_ms,
        latency_ms_measured: s.latency_ms_measured,
        buffer_size: s.actual_buffer_size,
        sample_rate: s.sample_rate,
        tap_dropped: s.tap_dropped as f64,
        non_finite_samples: s.non_finite_samples as f64,
        params_rejected: s.params_rejected as f64,
        worker_errors: s.worker_errors as f64,
        panics: s.panics as f64,
        failed: s.failed,
        restarts: s.restarts,
        restart_attempts: s.restart_attempts,
        backend: s.backend.as_str().into(),
        realtime_threads: s.realtime_threads,
        realtime_threads_refused: s.realtime_refused,
        realtime_mechanism: s.realtime_mechanism.as_str().into(),
        worker_realtime_threads: s.worker_realtime_threads,
        worker_threads: s.worker_threads,
        drift_corrections: s.drift_corrections as f64,
        drift_frames_dropped: s.drift_frames_dropped as f64,
        processing_latency_frames: s.processing_latency_frames as f64,
        processing_latency_ms: s.processing_latency_ms,
        worker_underruns: s.worker_underruns as f64,
        worker_underrun_frames: s.worker_underrun_frames as f64,
        worker_dropped_frames: s.worker_dropped_frames as f64,
        worker_load: s.worker_load,
        read_dropped: read_dropped as f64,
    }
}

/// Peak and RMS per channel of one side of a live engine, dBFS (floor -120).
#[napi(object)]
pub struct ChannelLevels {
    /// Highest `|x|` per channel, dBFS.
    pub peak_dbfs: Vec<f64>,
    /// RMS per channel, dBFS (a full-scale sine: -3.01).
    pub rms_dbfs: Vec<f64>,
}

/// Levels of a live engine since the previous `levels()` call.
#[napi(object)]
pub struct RealtimeLevels {
    /// The input device's samples, before the chain; `null` without input channels.
    pub input: Option<ChannelLevels>,
    /// What goes to the output device, after the chain; `null` without output channels.
    pub output: Option<ChannelLevels>,
    /// Frames measured (the output stream's; the input's when input-only).
    pub frames: f64,
}

fn levels_to_js(l: resonode_device::Levels) -> RealtimeLevels {
    let side = |c: resonode_device::ChannelLevels| ChannelLevels { peak_dbfs: c.peak_dbfs, rms_dbfs: c.rms_dbfs };
    RealtimeLevels { input: l.input.map(side), output: l.output.map(side), frames: l.frames as f64 }
}

/// A message from a live engine to JS: an event, or a block of tapped audio.
#[napi(object)]
pub struct RealtimeMessage {
    /// `audio`, `error`, `xrun`, `deviceLost`, `restarted`, `restartFailed`,
    /// `parameterRejected`, `dropped`, `audioDropped`, `fallback`,
    /// `analysis`, `analysisError` or `finished`.
    pub kind: String,
    /// Stable error code for error-like events (`ERR_STREAM`, `ERR_BUFFER_UNDERRUN`, `ERR_INTERNAL`, ...).
    pub code: Option<String>,
    pub message: Option<String>,
    /// `input` or `output`.
    pub side: Option<String>,
    /// Tapped processed audio (planar), for `audio` messages.
    pub channels: Option<Vec<Float32Array>>,
    /// Frames dropped, for `audioDropped` messages.
    pub frames: Option<f64>,
}

fn message(kind: &str) -> RealtimeMessage {
    RealtimeMessage { kind: kind.into(), code: None, message: None, side: None, channels: None, frames: None }
}

fn event_to_js(e: &EngineEvent) -> RealtimeMessage {
    let side = match e {
        EngineEvent::StreamError { side, .. } | EngineEvent::Xrun { side, .. } | EngineEvent::DeviceLost { side } => {
            Some(side.as_str().to_string())
        }
        EngineEvent::Panic { side: Some(side), .. } => Some(side.as_str().to_string()),
        _ => None,
    };
    RealtimeMessage {
        code: e.to_error().map(|e| e.code().to_string()),
        message: Some(e.message()),
        side,
        ..message(e.name())
    }
}

fn control_to_js(m: &ControlMessage) -> RealtimeMessage {
    match m {
        ControlMessage::Event(e) => event_to_js(e),
        ControlMessage::AudioDropped { frames } => RealtimeMessage {
            frames: Some(*frames as f64),
            message: Some(format!("{frames} frames of tapped audio were dropped: the consumer did not keep up")),
            ..message("audioDropped")
        },
        ControlMessage::Custom { kind, code, message: text } => RealtimeMessage {
            code: code.map(Into::into),
            message: text.clone(),
            ..message(kind)
        },
        ControlMessage::Finished => message("finished"),
    }
}

/// Options of a live engine.
#[napi(object)]
#[derive(Default)]
pub struct RealtimeOptionsDesc {
    /// Send processed audio to JS (`audio` messages) through a tap ring of
    /// this many frames.
    pub tap_frames: Option<u32>,
    /// Recover automatically (default true): rebuild lost streams (device
    /// unplugged, audio server restarted) and reset the chain after a panic.
    pub auto_restart: Option<bool>,
    /// How long lost streams are retried before `restartFailed` (ms,
    /// default 30000).
    pub restart_timeout_ms: Option<f64>,
    /// `none` backend only: stop after this many frames.
    pub max_frames: Option<f64>,
    /// `none` backend only: input to play (in a loop) instead of silence,
    /// interleaved with `channelsIn` channels.
    pub none_input: Option<Float32Array>,
    /// ONNX Runtime library file or directory for `enhance` elements
    /// (default: `ORT_DYLIB_PATH`, then the `node_modules` search).
    pub runtime_path: Option<String>,
    /// Send tapped audio to JS as `audio` messages (default true); false
    /// when the tap only feeds an attached analyzer.
    pub emit_audio: Option<bool>,
    /// Frames per channel kept for `read()` (the latest ones; default and 0:
    /// no read buffer). Needs the tap (`tapFrames`): the pump fills it.
    pub read_buffer_frames: Option<u32>,
}

/// Most frames per channel a read buffer may hold (2^24: about 350 s at 48 kHz).
pub const MAX_READ_BUFFER_FRAMES: u32 = 1 << 24;

/// The pull path of a live engine's tapped audio: a bounded planar FIFO that
/// the pump thread fills (its only producer) and `read()` empties in order,
/// a cursor apart from the `audio` messages.
///
/// Never touched by the audio callback: the pump copies each tapped block
/// here after it left the engine's wait-free tap. The pump never waits for
/// a reader: the lock is held only to copy frames in or out, and a full
/// buffer discards its oldest frames (counted in [`ReadBuffer::dropped`]).
///
/// No thread waits for a read: a read that cannot be served at once is
/// queued here with its promise (a napi deferred); whoever changes the
/// state (the pump after a block, `end()`, the shared [`DeadlineTimer`] at a
/// deadline) serves the queue in call order and settles the promises, which
/// never blocks (a deferred's threadsafe function has an unbounded queue).
pub struct ReadBuffer {
    state: Mutex<ReadState>,
}

type ReadPlanar = Option<Vec<Float32Array>>;
type ReadResolver = Box<dyn FnOnce(Env) -> napi::Result<ReadPlanar> + Send>;
type ReadDeferred = JsDeferred<ReadPlanar, ReadResolver>;

/// A read waiting for its frames.
struct PendingRead {
    /// Unique in the process (the timer's key).
    id: u64,
    frames: usize,
    deadline: Option<Instant>,
    deferred: ReadDeferred,
}

/// Promises to settle once the buffer's lock is released.
type Settled = Vec<(ReadDeferred, Option<Vec<Vec<f32>>>)>;

fn settle(done: Settled) {
    for (d, planar) in done {
        d.resolve(Box::new(move |_| Ok(planar.map(|p| p.into_iter().map(Float32Array::new).collect()))));
    }
}

static NEXT_READ_ID: AtomicU64 = AtomicU64::new(1);

struct ReadState {
    /// Planar, channels x frames; all the same length.
    channels: Vec<VecDeque<f32>>,
    capacity: usize,
    dropped: u64,
    /// No frame will arrive any more (the pump ended, or stop() was called):
    /// waiting for one is pointless.
    ended: bool,
    /// Reads waiting, in call order; only the first may take frames.
    pending: VecDeque<PendingRead>,
}

impl ReadState {
    fn frames(&self) -> usize {
        self.channels.first().map_or(0, VecDeque::len)
    }

    fn take(&mut self, frames: usize) -> Vec<Vec<f32>> {
        self.channels.iter_mut().map(|q| q.drain(..frames).collect()).collect()
    }

    /// Serves the waiting reads in call order: the first takes its frames
    /// when they are there; once the buffer ended, one that cannot be served
    /// gets `null` (and the next is tried); otherwise the queue waits.
    fn serve(&mut self, done: &mut Settled) {
        while let Some(head) = self.pending.front() {
            let planar = if self.frames() >= head.frames {
                Some(self.take(head.frames))
            } else if self.ended {
                None
            } else {
                break;
            };
            let Some(p) = self.pending.pop_front() else { break };
            if let Some(d) = p.deadline {
                DeadlineTimer::cancel(d, p.id);
            }
            done.push((p.deferred, planar));
        }
    }
}

impl ReadBuffer {
    /// An empty buffer keeping up to `capacity` frames per channel.
    pub fn new(capacity: usize) -> Self {
        ReadBuffer {
            state: Mutex::new(ReadState {
                channels: Vec::new(),
                capacity,
                dropped: 0,
                ended: false,
                pending: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ReadState> {
        // A reader panicking while it copied leaves whole frames behind:
        // the data stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a planar block (channels x frames); beyond the capacity the
    /// oldest frames go. Then serves the waiting reads (on the pump thread;
    /// settling a promise only queues it for the JS thread).
    pub fn push(&self, planar: &[Vec<f32>]) {
        let mut done = Settled::new();
        {
            let mut st = self.lock();
            if st.channels.len() != planar.len() {
                st.channels = planar.iter().map(|_| VecDeque::new()).collect();
            }
            // Make room first, so a full buffer never grows past its
            // capacity: the oldest frames go, then the block's newest
            // frames (all of them unless it alone exceeds the capacity).
            let block_frames = planar.first().map_or(0, Vec::len);
            let held = st.frames();
            let excess = (held + block_frames).saturating_sub(st.capacity);
            let from_held = excess.min(held);
            let from_block = excess - from_held;
            for (q, block) in st.channels.iter_mut().zip(planar) {
                q.drain(..from_held);
                q.extend(block[from_block.min(block.len())..].iter().copied());
            }
            st.dropped += excess as u64;
            st.serve(&mut done);
        }
        settle(done);
    }

    /// Says that no frame will arrive any more: the waiting reads take what
    /// is buffered (in call order) or resolve with `null` at once.
    pub fn end(&self) {
        let mut done = Settled::new();
        {
            let mut st = self.lock();
            st.ended = true;
            st.serve(&mut done);
        }
        settle(done);
    }

    /// Frames discarded so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Takes exactly `frames` frames (planar) once they are there and every
    /// earlier read is served, through `deferred`; resolves it with `null`
    /// (taking nothing) when they did not come within `timeout` (`None`: no
    /// limit), or cannot come any more. Returns at once: no thread waits.
    fn submit(self: &Arc<Self>, frames: usize, timeout: Option<Duration>, deferred: ReadDeferred) -> resonode_core::Result<()> {
        let mut done = Settled::new();
        {
            let mut st = self.lock();
            if st.pending.is_empty() && st.frames() >= frames {
                let planar = st.take(frames);
                done.push((deferred, Some(planar)));
            } else if st.ended || timeout == Some(Duration::ZERO) {
                // Nothing can come, or only what is buffered now was asked for.
                done.push((deferred, None));
            } else {
                let id = NEXT_READ_ID.fetch_add(1, Ordering::Relaxed);
                // A deadline beyond what an Instant can hold is no deadline.
                let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
                if let Some(d) = deadline {
                    // Registered under the lock: a read served meanwhile
                    // cancels an entry that exists.
                    if let Err(e) = DeadlineTimer::register(d, id, Arc::downgrade(self)) {
                        drop(st);
                        deferred.reject(to_napi(e.clone()));
                        return Err(e);
                    }
                }
                st.pending.push_back(PendingRead { id, frames, deadline, deferred });
            }
        }
        settle(done);
        Ok(())
    }

    /// The deadline of read `id` passed: it resolves with `null` and takes
    /// nothing (unless it was served meanwhile); the reads after it may now
    /// be served.
    fn expire(&self, id: u64) {
        let mut done = Settled::new();
        {
            let mut st = self.lock();
            let Some(i) = st.pending.iter().position(|p| p.id == id) else { return };
            if let Some(p) = st.pending.remove(i) {
                done.push((p.deferred, None));
            }
            st.serve(&mut done);
        }
        settle(done);
    }
}

impl Drop for ReadBuffer {
    /// A pending deferred keeps the event loop alive: none may be left
    /// unsettled (the buffer is normally ended long before).
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let done: Settled = st
            .pending
            .drain(..)
            .map(|p| {
                if let Some(d) = p.deadline {
                    DeadlineTimer::cancel(d, p.id);
                }
                (p.deferred, None)
            })
            .collect();
        settle(done);
    }
}

/// The deadlines of every waiting `read()` in the process, kept by one
/// shared timer thread (started with the first read that has a time-out;
/// it then lives as long as the process, asleep while nothing is due):
/// no thread per read, and none of libuv's pool. At a deadline it tells the
/// read's buffer, which resolves that read with `null` if it still waits.
/// Lock order: a buffer's lock, then the timer's; the timer thread never
/// holds its lock while it takes a buffer's.
struct DeadlineTimer {
    entries: Mutex<BTreeMap<(Instant, u64), Weak<ReadBuffer>>>,
    wake: Condvar,
}

impl DeadlineTimer {
    fn get() -> resonode_core::Result<&'static DeadlineTimer> {
        static TIMER: OnceLock<std::result::Result<&'static DeadlineTimer, String>> = OnceLock::new();
        TIMER
            .get_or_init(|| {
                let timer: &'static DeadlineTimer =
                    Box::leak(Box::new(DeadlineTimer { entries: Mutex::new(BTreeMap::new()), wake: Condvar::new() }));
                std::thread::Builder::new()
                    .name("resonode-read-timer".into())
                    .spawn(move || timer.run())
                    .map(|_| timer)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| Error::Internal { message: format!("cannot start the read() timer thread: {e}") })
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<(Instant, u64), Weak<ReadBuffer>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(deadline: Instant, id: u64, buffer: Weak<ReadBuffer>) -> resonode_core::Result<()> {
        let timer = Self::get()?;
        let mut entries = timer.entries();
        let earliest = entries.keys().next().is_none_or(|&(d, _)| deadline < d);
        entries.insert((deadline, id), buffer);
        drop(entries);
        if earliest {
            timer.wake.notify_one();
        }
        Ok(())
    }

    /// Forgets a deadline (its read was served or settled otherwise).
    fn cancel(deadline: Instant, id: u64) {
        if let Ok(timer) = Self::get() {
            timer.entries().remove(&(deadline, id));
        }
    }

    fn run(&self) {
        let mut entries = self.entries();
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(e) = entries.first_entry() {
                if e.key().0 > now {
                    break;
                }
                let ((_, id), buffer) = e.remove_entry();
                due.push((id, buffer));
            }
            if !due.is_empty() {
                drop(entries);
                for (id, buffer) in due {
                    if let Some(b) = buffer.upgrade() {
                        // A panic here would end the thread and every later time-out with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.expire(id)));
                    }
                }
                entries = self.entries();
                continue;
            }
            entries = match entries.keys().next() {
                Some(&(d, _)) => self.wake.wait_timeout(entries, d.saturating_duration_since(now)).unwrap_or_else(|e| e.into_inner()).0,
                None => self.wake.wait(entries).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

type MessageFn = ThreadsafeFunction<RealtimeMessage, (), RealtimeMessage, napi::Status, false, true, 256>;

/// The engine's pump delivers to JS through a weak, bounded
/// ThreadsafeFunction, never blocking: a full queue is retried (control
/// messages) or counted as dropped (audio).
struct JsSink {
    tsfn: MessageFn,
    analyzer: Option<SharedAnalyzer>,
    analyzer_failed: bool,
    emit_audio: bool,
    read: Option<Arc<ReadBuffer>>,
}

impl Drop for JsSink {
    /// The pump drops its sink when it ends (after its last drain): no frame
    /// comes for `read()` any more.
    fn drop(&mut self) {
        if let Some(r) = &self.read {
            r.end();
        }
    }
}

fn delivery(status: napi::Status) -> Delivery {
    match status {
        napi::Status::Ok => Delivery::Delivered,
        napi::Status::QueueFull => Delivery::Full,
        _ => Delivery::Closed,
    }
}

impl PumpSink for JsSink {
    fn control(&mut self, m: &ControlMessage) -> Delivery {
        delivery(self.tsfn.call(control_to_js(m), ThreadsafeFunctionCallMode::NonBlocking))
    }

    fn audio(&mut self, planar: Vec<Vec<f32>>) -> Delivery {
        let channels = planar.into_iter().map(Float32Array::new).collect();
        delivery(self.tsfn.call(
            RealtimeMessage { channels: Some(channels), ..message("audio") },
            ThreadsafeFunctionCallMode::NonBlocking,
        ))
    }

    /// The read buffer is filled and the analyzer runs here, on the pump
    /// thread: off the audio callback, fed from the lock-free tap.
    fn observe(&mut self, planar: &[Vec<f32>], out: &mut Vec<ControlMessage>) {
        if let Some(r) = &self.read {
            r.push(planar);
        }
        let (Some(a), false) = (self.analyzer.as_ref(), self.analyzer_failed) else { return };
        match feed_planar(a, planar) {
            Some(true) => out.push(ControlMessage::Custom { kind: "analysis", code: None, message: None }),
            Some(false) => {}
            None => {
                self.analyzer_failed = true;
                let e = a.lock().ok().and_then(|st| st.failure());
                out.push(ControlMessage::Custom {
                    kind: "analysisError",
                    code: e.as_ref().map(|e| e.code()),
                    message: e.map(|e| e.to_string()),
                });
            }
        }
    }

    fn wants_audio(&self) -> bool {
        self.emit_audio
    }
}

/// What `startRealtime` needs on its worker thread.
pub struct StartRealtimeTask {
    config: StreamConfigDesc,
    processors: Vec<ProcessorDesc>,
    backend: Option<String>,
    options: RealtimeOptionsDesc,
    sink: Option<JsSink>,
    none_input: Option<Vec<f32>>,
    read: Option<Arc<ReadBuffer>>,
}

impl Task for StartRealtimeTask {
    type Output = RealtimeEngine;
    type JsValue = NativeRealtime;

    /// Builds the chain (loads `enhance` models), opens the devices, starts
    /// the engine and its pump: all off the JS thread.
    fn compute(&mut self) -> napi::Result<RealtimeEngine> {
        guard_core(|| {
            let o = &self.options;
            let config = stream_config(&self.config)?;
            let base = EngineOptions::default();
            let opts = EngineOptions {
                tap_frames: o.tap_frames.map(|f| f as usize),
                auto_restart: o.auto_restart.unwrap_or(base.auto_restart),
                restart_timeout: match o.restart_timeout_ms {
                    Some(ms) if ms.is_finite() && ms >= 0.0 => std::time::Duration::from_secs_f64(ms / 1000.0),
                    Some(ms) => return Err(Error::param("restartTimeoutMs", format!("must be a finite number >= 0, got {ms}"))),
                    None => base.restart_timeout,
                },
                max_frames: match o.max_frames {
                    Some(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
                    Some(f) => return Err(Error::param("maxFrames", format!("must be a finite number >= 0, got {f}"))),
                    None => None,
                },
                none_input: self.none_input.take().map(Arc::from),
                // Processed audio leaves through the tap only: no capture
                // queue for a pipeline reader that does not exist here.
                capture: false,
                ..base
            };
            let specs = specs(&self.processors)?;
            let session = SessionOptions { library_path: o.runtime_path.clone().map(Into::into), ..Default::default() };
            let chain = resonode_dsp::registry::build_chain_with(&specs, &EnhanceKind::live(session))?;
            // The shadow validates `setParameter` values; its `enhance` only
            // mirrors `mix` (no second model, no second worker).
            let shadow = resonode_dsp::registry::build_chain_with(&specs, &EnhanceKind::mirror())?;
            let engine = RealtimeEngine::start_with_shadow(config, chain, shadow, backend(&self.backend)?, opts)?;
            let sink = self.sink.take().ok_or_else(|| Error::Internal { message: "the task ran twice".into() })?;
            engine.start_pump(sink)?;
            Ok(engine)
        })
    }

    fn resolve(&mut self, _: Env, engine: RealtimeEngine) -> napi::Result<NativeRealtime> {
        guard(|| {
            Ok(NativeRealtime {
                engine: Arc::new(Mutex::new(Some(engine))),
                last_stats: Arc::new(Mutex::new(None)),
                read: self.read.take(),
            })
        })
    }
}

/// Opens the devices and starts a live engine on a worker thread (the JS
/// thread never waits for a device or a model); resolves once audio runs.
/// `onMessage` receives events and tapped audio from a non-real-time pump
/// thread (see `resonode_device::pump`).
///
/// Processors come from `resonode-dsp`'s registry, and `enhance` from
/// `resonode-ml` (a `LiveEnhancer`: its model loads and its worker thread
/// starts here, before the audio runs).
///
/// With `analyzer` (made for the engine's rate and processing channels),
/// the tapped audio (start with `tapFrames`) is analysed on the pump thread
/// from the first frame on; an `analysis` message follows each update of its
/// tempo / key / trend.
///
/// @throws ERR_INVALID_PARAMETER, ERR_INVALID_CHAIN, ERR_BACKEND_NOT_AVAILABLE, ERR_DEVICE_NOT_FOUND, ERR_STREAM;
/// for `enhance`: ERR_NOT_FOUND (model file), ERR_MODEL, ERR_MODEL_MISMATCH, ERR_RUNTIME_NOT_FOUND
#[napi(catch_unwind, ts_args_type = "config: StreamConfigDesc, processors: ProcessorDesc[], backend: string | undefined | null, options: RealtimeOptionsDesc | undefined | null, onMessage: (message: RealtimeMessage) => void, analyzer?: NativeAnalyzer | undefined | null", ts_return_type = "Promise<NativeRealtime>")]
pub fn start_realtime(
    config: StreamConfigDesc,
    processors: Vec<ProcessorDesc>,
    backend_name: Option<String>,
    options: Option<RealtimeOptionsDesc>,
    on_message: Function<RealtimeMessage, ()>,
    analyzer: Option<&NativeAnalyzer>,
) -> napi::Result<AsyncTask<StartRealtimeTask>> {
    guard(|| {
        let analyzer = analyzer.map(|a| a.inner.clone());
        let tsfn: MessageFn = on_message
            .build_threadsafe_function::<RealtimeMessage>()
            .callee_handled::<false>()
            .weak::<true>()
            .max_queue_size::<256>()
            .build()?;
        let options = options.unwrap_or_default();
        // Copied here: a typed array cannot leave the JS thread.
        let none_input = options.none_input.as_ref().map(|a| a.to_vec());
        let emit_audio = options.emit_audio.unwrap_or(true);
        let read = match options.read_buffer_frames {
            None | Some(0) => None,
            Some(f) if f > MAX_READ_BUFFER_FRAMES => {
                return Err(to_napi(Error::param("readBufferFrames", format!("{f} frames is more than the {MAX_READ_BUFFER_FRAMES} allowed"))))
            }
            Some(_) if options.tap_frames.is_none() => {
                return Err(to_napi(Error::param("readBufferFrames", "the read buffer is filled from the tap: set tapFrames too")))
            }
            Some(f) => Some(Arc::new(ReadBuffer::new(f as usize))),
        };
        Ok(AsyncTask::new(StartRealtimeTask {
            config,
            processors,
            backend: backend_name,
            options: RealtimeOptionsDesc { none_input: None, ..options },
            sink: Some(JsSink { tsfn, analyzer, analyzer_failed: false, emit_audio, read: read.clone() }),
            none_input,
            read,
        }))
    })
}

/// Stops an engine on a worker thread.
pub struct StopRealtimeTask {
    engine: Option<RealtimeEngine>,
    last_stats: Arc<Mutex<Option<EngineStats>>>,
    read: Option<Arc<ReadBuffer>>,
}

impl Task for StopRealtimeTask {
    type Output = EngineStats;
    type JsValue = RealtimeStats;
    fn compute(&mut self) -> napi::Result<EngineStats> {
        guard_core(|| {
            let stats = match self.engine.take() {
                Some(e) => e.stop()?,
                None => self
                    .last_stats
                    .lock()
                    .map_err(|_| Error::Internal { message: "stats lock poisoned".into() })?
                    .ok_or_else(|| Error::InvalidState { reason: "the engine never ran".into() })?,
            };
            *self.last_stats.lock().map_err(|_| Error::Internal { message: "stats lock poisoned".into() })? = Some(stats);
            Ok(stats)
        })
    }
    fn resolve(&mut self, _: Env, s: EngineStats) -> napi::Result<RealtimeStats> {
        guard(|| Ok(stats_to_js(&s, read_dropped(&self.read))))
    }
}

fn read_dropped(read: &Option<Arc<ReadBuffer>>) -> u64 {
    read.as_ref().map_or(0, |r| r.dropped())
}

/// A running live engine: processors inside the audio callback.
#[napi]
pub struct NativeRealtime {
    engine: Arc<Mutex<Option<RealtimeEngine>>>,
    last_stats: Arc<Mutex<Option<EngineStats>>>,
    read: Option<Arc<ReadBuffer>>,
}

#[napi]
impl NativeRealtime {
    fn with_engine<T>(&self, f: impl FnOnce(&RealtimeEngine) -> resonode_core::Result<T>) -> napi::Result<T> {
        guard_core(|| {
            let g = self.engine.lock().map_err(|_| Error::Internal { message: "engine lock poisoned".into() })?;
            match g.as_ref() {
                Some(e) => f(e),
                None => Err(Error::InvalidState { reason: "the realtime engine is stopped".into() }),
            }
        })
    }

    /// Queues `"<index>.<name>" = value` for the next buffer boundary
    /// (lock-free); filters keep their state, gains ramp.
    ///
    /// @throws ERR_INVALID_PARAMETER naming the path, ERR_INVALID_STATE after stop
    #[napi(catch_unwind)]
    pub fn set_parameter(&self, path: String, value: f64) -> napi::Result<()> {
        self.with_engine(|e| e.set_parameter(&path, value))
    }

    /// The current (last queued) value of `"<index>.<name>"`.
    #[napi(catch_unwind)]
    pub fn get_parameter(&self, path: String) -> napi::Result<f64> {
        self.with_engine(|e| e.parameter(&path))
    }

    /// A snapshot of the counters (also after stop).
    #[napi(catch_unwind)]
    pub fn stats(&self) -> napi::Result<RealtimeStats> {
        guard_core(|| {
            let dropped = read_dropped(&self.read);
            if let Some(s) = *self.last_stats.lock().map_err(|_| Error::Internal { message: "poisoned".into() })? {
                return Ok(stats_to_js(&s, dropped));
            }
            let g = self.engine.lock().map_err(|_| Error::Internal { message: "engine lock poisoned".into() })?;
            match g.as_ref() {
                Some(e) => Ok(stats_to_js(&e.stats(), dropped)),
                None => Err(Error::InvalidState { reason: "the realtime engine is stopping".into() }),
            }
        })
    }

    /// Peak and RMS levels per channel, input (before the chain) and output
    /// (after it), measured in the audio callback over the frames since the
    /// previous call. Never waits for the audio thread: the callbacks
    /// publish through atomics, and this takes a control-side mutex and
    /// retries (spinning, then yielding, for at most 100 ms) only while a
    /// publication of a few stores is in progress.
    ///
    /// @throws ERR_INVALID_STATE after stop
    #[napi(catch_unwind)]
    pub fn levels(&self) -> napi::Result<RealtimeLevels> {
        self.with_engine(|e| Ok(levels_to_js(e.levels())))
    }

    /// The configuration in use, with derived values.
    #[napi(catch_unwind)]
    pub fn config(&self) -> napi::Result<ResolvedStreamConfig> {
        self.with_engine(|e| Ok(resolved(e.config().clone())))
    }

    /// Whether the engine has stopped by itself (frame limit, lost device
    /// given up on, a failure), or was stopped.
    #[napi(catch_unwind, getter)]
    pub fn finished(&self) -> napi::Result<bool> {
        guard(|| Ok(self.engine.lock().map(|g| g.as_ref().is_none_or(|e| e.is_finished())).unwrap_or(true)))
    }

    /// Stops the streams and the pump on a worker thread (the pump first
    /// delivers what is left); resolves with the final stats. Idempotent.
    ///
    /// Pending `read`s waiting for frames that are not buffered end at
    /// once (with `null`); the frames the pump still delivers stay readable.
    #[napi(catch_unwind, ts_return_type = "Promise<RealtimeStats>")]
    pub fn stop(&self) -> napi::Result<AsyncTask<StopRealtimeTask>> {
        guard(|| {
            let engine = self.engine.lock().map_err(|_| to_napi(Error::Internal { message: "engine lock poisoned".into() }))?.take();
            if let Some(r) = &self.read {
                r.end();
            }
            Ok(AsyncTask::new(StopRealtimeTask { engine, last_stats: self.last_stats.clone(), read: self.read.clone() }))
        })
    }

    /// Takes exactly `frames` frames of tapped audio (planar, channels x
    /// frames) from the read buffer, waiting up to `timeoutMs` (absent: until
    /// they are there or the engine ends). Resolves with `null` when they did
    /// not come in time or cannot come any more (the engine ended); then
    /// nothing is taken. Concurrent reads are served strictly in call order
    /// (a read waits until every earlier one is settled).
    ///
    /// No thread waits: a read that cannot be served at once is queued with
    /// its promise in the buffer; the pump thread settles it after a block
    /// (`stop()` / the engine's end settle it with what is buffered or
    /// `null`), and one timer thread shared by all reads settles it with
    /// `null` at its deadline. Its promise keeps the event loop alive while
    /// it waits. The audio callback never touches the buffer.
    ///
    /// @throws ERR_INVALID_PARAMETER for `frames` outside 1..=readBufferFrames
    /// or a negative / non-finite `timeoutMs`; ERR_INVALID_STATE without a
    /// read buffer (`readBufferFrames` 0)
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[] | null>")]
    pub fn read<'env>(&self, env: &'env Env, frames: u32, timeout_ms: Option<f64>) -> napi::Result<Object<'env>> {
        let (read, timeout) = guard_core(|| {
            let read = self
                .read
                .clone()
                .ok_or_else(|| Error::InvalidState { reason: "read() is off: this engine has no read buffer (readBufferFrames is 0)".into() })?;
            let capacity = read.lock().capacity;
            if frames == 0 || frames as usize > capacity {
                return Err(Error::param("frames", format!("must be 1..={capacity} (the read buffer's size, readBufferFrames), got {frames}")));
            }
            let timeout = match timeout_ms {
                None => None,
                // Beyond what a Duration holds (about 5e11 years): no limit.
                Some(ms) if ms.is_finite() && ms >= 0.0 => Duration::try_from_secs_f64(ms / 1000.0).ok(),
                Some(ms) => return Err(Error::param("timeoutMs", format!("must be a finite number >= 0, got {ms}"))),
            };
            Ok((read, timeout))
        })?;
        let (deferred, promise) = env.create_deferred::<ReadPlanar, ReadResolver>()?;
        // On an error the deferred is rejected: the promise carries it.
        let _ = read.submit(frames as usize, timeout, deferred);
        Ok(promise)
    }
}
