//! [`RealtimeEngine`]: a processor chain running inside the audio callback.
//!
//! ## Threads
//! - The **control thread** (`resonode-engine`) owns the cpal streams (cpal's
//!   `Stream` is `!Send` on some hosts) and takes commands over a channel;
//!   it also restarts lost streams when asked to.
//! - The **audio thread(s)** are cpal's workers (one per stream) or, for
//!   [`Backend::None`], resonode's clock thread. They run only the code in
//!   [`crate::render`] and the callback states: no allocation, locks,
//!   blocking, logging or I/O.
//! - The **caller's thread** (JS's, via napi) talks to the engine through
//!   `&self` methods that never wait for the audio thread: parameters go
//!   through a wait-free queue, stats are atomics, events and audio leave
//!   through wait-free rings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use resonode_core::chain_spec::ProcessorSpec;
use resonode_core::ring::{self, Consumer, Producer};
use resonode_core::chain::resolve_path;
use resonode_core::{Chain, Error, Result, StreamSpec, WorkerStats};

use crate::callbacks::{
    ClockMark, Feed, InputState, OutputState, Shared, StateSlot, ThreadAnnouncer, UNSET,
};
use crate::config::{Direction, StreamConfig};
use crate::devices::{self, Backend, Way, LOG};
use crate::duplex::DuplexQueue;
use crate::events::{EngineEvent, EventHub, RawEvent, StreamSide, XrunKind, XrunSource};
use crate::meters::{self, Levels, MeterReader, MeterWriter};
use crate::pump::{Pump, PumpSink, PumpSource};
use crate::render::{check_realtime_chain, ParamChange, RenderStats, Renderer};

/// Parameter changes that can wait in the queue at once.
pub const PARAM_QUEUE_CAPACITY: usize = 1024;

/// How an engine runs, beyond the stream configuration.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Capacity in frames of the tap ([`RealtimeEngine::take_tap`]): a copy
    /// of every processed frame for meters and JS callbacks. `None`: no tap.
    pub tap_frames: Option<usize>,
    /// Recover by default (true): rebuild the streams when the device or the
    /// audio server is lost (trying every [`EngineOptions::restart_interval`]
    /// for up to [`EngineOptions::restart_timeout`]), and reset and rerun the
    /// chain after a panic in it (up to [`EngineOptions::max_restarts`]
    /// times). False: a loss or a panic ends the engine
    /// ([`RealtimeEngine::is_finished`]).
    pub auto_restart: bool,
    /// Chain resets after panics before the engine stays silent (default 3).
    pub max_restarts: u32,
    /// Time between attempts to reopen lost streams (default 250 ms).
    pub restart_interval: Duration,
    /// How long lost streams are retried before the engine gives up
    /// (default 30 s; a `restartFailed` event then says why).
    pub restart_timeout: Duration,
    /// Capacity in frames of the capture queue of an input-only engine
    /// ([`RealtimeEngine::take_capture`]); default one second.
    pub capture_frames: Option<usize>,
    /// Whether an input-only engine queues its processed audio for
    /// [`RealtimeEngine::take_capture`] (default true). Without a reader the
    /// queue would fill and every later callback would count an overrun;
    /// an engine whose audio leaves only through the tap sets it false.
    pub capture: bool,
    /// Capacity in frames of a playback queue for an output-only engine
    /// ([`RealtimeEngine::take_playback`]): frames written there are the
    /// chain's input, silence when it runs dry. `None`: the chain's input is
    /// silence.
    pub playback_frames: Option<usize>,
    /// [`Backend::None`] only: interleaved input (`channels_in` channels),
    /// played in a loop, instead of silence.
    pub none_input: Option<Arc<[f32]>>,
    /// [`Backend::None`] only: stop rendering after this many frames.
    pub max_frames: Option<u64>,
    /// Capacity of the clock-mark queues ([`RealtimeEngine::take_output_marks`],
    /// [`RealtimeEngine::take_input_marks`]): one [`ClockMark`] per callback,
    /// for latency measurements. `None`: no marks.
    pub clock_marks: Option<usize>,
    /// Longest wait for the device to open (default 10 s).
    pub open_timeout: Duration,
    /// Ask for real-time scheduling of the audio threads (default true; see
    /// [`crate::priority`]). False leaves them at the normal policy.
    pub realtime: bool,
    /// Unit tests only: run the clocked callbacks without the allocation
    /// guard (catching a panic frees the unwinder's exception object, an
    /// allocator call the guard would abort on).
    #[cfg(test)]
    pub unguarded: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            tap_frames: None,
            auto_restart: true,
            max_restarts: 3,
            restart_interval: Duration::from_millis(250),
            restart_timeout: Duration::from_secs(30),
            capture_frames: None,
            capture: true,
            playback_frames: None,
            none_input: None,
            max_frames: None,
            clock_marks: None,
            open_timeout: Duration::from_secs(10),
            realtime: true,
            #[cfg(test)]
            unguarded: false,
        }
    }
}

/// A snapshot of an engine's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineStats {
    /// Render calls (one per device buffer in practice).
    pub callbacks: u64,
    /// Frames rendered through the chain.
    pub frames: u64,
    /// Playback underruns: reported by the device plus resonode's duplex
    /// queue running dry.
    pub xruns_underrun: u64,
    /// Capture overruns: reported by the device plus resonode's queues
    /// overflowing.
    pub xruns_overrun: u64,
    /// The part of the xruns the device (cpal) reported.
    pub device_xruns: u64,
    /// Callbacks whose processing (the audio thread's CPU time) took longer
    /// than the audio they produced: resonode's own fault, were the device
    /// waiting.
    pub late_callbacks: u64,
    /// Callbacks that overran their period in wall time with CPU time to
    /// spare: the OS or hypervisor kept the audio thread off the CPU.
    pub preempted_callbacks: u64,
    /// Mean processing time per callback as a fraction of the buffer period.
    pub callback_load_mean: f64,
    /// Highest such fraction (first callback excluded).
    pub callback_load_peak: f64,
    /// Latency estimated from buffer sizes, ms: 1 buffer for input, 2 for
    /// output (cpal's ALSA double buffering), input + queued + output for
    /// duplex; plus [`processing_latency_ms`](EngineStats::processing_latency_ms).
    pub latency_ms: f64,
    /// Latency from the device's timestamps (and the duplex queue), ms,
    /// once known; plus [`processing_latency_ms`](EngineStats::processing_latency_ms).
    pub latency_ms_measured: Option<f64>,
    /// The fixed delay the chain's processors add, in frames: the sum of
    /// [`WorkerStats::latency_frames`] over processors that run on a worker
    /// thread (`enhance`); 0 for chains of ordinary processors.
    pub processing_latency_frames: u64,
    /// [`processing_latency_frames`](EngineStats::processing_latency_frames) in ms.
    pub processing_latency_ms: f64,
    /// Callbacks in which a processor's worker thread had not produced its
    /// output in time (its missing frames were output as silence); also
    /// counted in [`xruns_underrun`](EngineStats::xruns_underrun).
    pub worker_underruns: u64,
    /// Frames those underruns replaced by silence.
    pub worker_underrun_frames: u64,
    /// Input frames a worker's full queue could not take (it stalled for
    /// longer than the queue holds).
    pub worker_dropped_frames: u64,
    /// Highest worker load: processing time over the duration of the audio
    /// processed (above 1 a worker cannot keep up).
    pub worker_load: f64,
    /// The buffer (period) size the device actually uses, in frames.
    pub actual_buffer_size: u32,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Frames the tap dropped because nobody read it.
    pub tap_dropped: u64,
    /// Non-finite output samples replaced by 0.
    pub non_finite_samples: u64,
    /// Parameter changes a processor refused on the audio thread (only
    /// engines without a shadow chain; see [`RealtimeEngine::start`]).
    pub params_rejected: u64,
    /// Failures of processors' worker threads (inference errors, caught
    /// panics); see [`WorkerStats::worker_errors`].
    pub worker_errors: u64,
    /// Panics caught in the audio callback (in the chain or around it).
    pub panics: u64,
    /// The engine failed for good: a panic it did not restart from, or lost
    /// streams it gave up on. Its output is silence.
    pub failed: bool,
    /// Successful automatic restarts: streams rebuilt after a loss, and
    /// chain resets after a panic.
    pub restarts: u32,
    /// Attempts to reopen lost streams, successful or not.
    pub restart_attempts: u32,
    /// The backend actually running (`auto` resolves to the host it opened,
    /// or `none` after a fallback).
    pub backend: Backend,
    /// Output frame at which the first frame from the playback queue played.
    pub playback_start_frame: Option<u64>,
    /// Frames taken from the playback queue.
    pub playback_consumed: u64,
    /// Silent frames played between queued frames because the playback
    /// queue ran dry (gaps; silence after the last frame does not count).
    pub playback_starved: u64,
    /// Audio threads running under a real-time scheduling policy (0 when the
    /// OS refused it or it was not asked for; see [`crate::priority`]).
    pub realtime_threads: u32,
    /// Audio threads whose request for it was refused.
    pub realtime_refused: u32,
    /// Processors' worker threads (`enhance`) running under a real-time
    /// policy ([`WorkerStats::worker_realtime`]), of
    /// [`worker_threads`](EngineStats::worker_threads).
    pub worker_realtime_threads: u32,
    /// Processors with a worker thread in the chain.
    pub worker_threads: u32,
    /// How the last grant was made (`None` when nothing was granted).
    pub realtime_mechanism: crate::priority::Mechanism,
    /// Duplex only: times captured frames the output never caught up with
    /// were dropped because the input and output devices run at different
    /// rates (separate clocks, or a server stalling one stream), and the
    /// frames dropped. Not xruns: no callback missed its deadline; see
    /// [`crate::duplex`].
    pub drift_corrections: u64,
    /// Frames those corrections dropped.
    pub drift_frames_dropped: u64,
}

enum Command {
    Stop,
}

/// What the control side keeps for `set_parameter`.
struct ParamControl {
    /// Prepared copy of the chain built from the same specs; validates
    /// values (ranges, Nyquist) before they are queued and mirrors them.
    shadow: Option<Chain>,
    /// Kind and parameter names per processor, for the `'static` name.
    names: Vec<(&'static str, &'static [&'static str])>,
    queue: Producer<ParamChange>,
}

/// The processor chain running live on an audio device (or the clocked
/// `none` backend).
pub struct RealtimeEngine {
    config: StreamConfig,
    /// The backend running (after `auto` resolved), as a code for
    /// [`backend_code`].
    backend: Arc<std::sync::atomic::AtomicU8>,
    requested_backend: Backend,
    pump: Mutex<Option<Pump>>,
    pump_dropped: Arc<std::sync::atomic::AtomicU64>,
    shared: Arc<Shared>,
    render_stats: Arc<RenderStats>,
    hub: Arc<EventHub>,
    params: Mutex<ParamControl>,
    tap: Mutex<Option<Consumer>>,
    /// Readers of the input and output level meters (see [`crate::meters`]).
    meters: Mutex<(Option<MeterReader>, Option<MeterReader>)>,
    output_marks: Mutex<Option<Consumer<ClockMark>>>,
    input_marks: Mutex<Option<Consumer<ClockMark>>>,
    capture: Mutex<Option<Consumer>>,
    playback: Mutex<Option<Producer>>,
    actual_buffer_size: u32,
    workers: Vec<(usize, Arc<WorkerStats>)>,
    restarts: Arc<std::sync::atomic::AtomicU32>,
    auto_restart: bool,
    commands: mpsc::Sender<Command>,
    stop_flag: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    done: mpsc::Receiver<()>,
}

impl std::fmt::Debug for RealtimeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeEngine")
            .field("config", &self.config)
            .field("backend", &self.backend())
            .field("actual_buffer_size", &self.actual_buffer_size)
            .finish_non_exhaustive()
    }
}

/// Everything the audio side of one engine owns, between streams.
struct AudioSide {
    output: Option<OutputState>,
    input: Option<InputState>,
}

impl RealtimeEngine {
    /// Starts `chain` (built from `specs` with the registry of
    /// `resonode-dsp`) live. A second copy of the chain, prepared the same
    /// way, stays on the control side to validate
    /// [`set_parameter`](RealtimeEngine::set_parameter) values up front.
    ///
    /// # Errors
    /// As [`start`](RealtimeEngine::start); chain errors from the registry.
    pub fn start_from_specs(
        config: StreamConfig,
        specs: &[ProcessorSpec],
        backend: Backend,
        options: EngineOptions,
    ) -> Result<RealtimeEngine> {
        let chain = resonode_dsp::build_chain(specs)?;
        let shadow = resonode_dsp::build_chain(specs)?;
        Self::start_with_shadow(config, chain, shadow, backend, options)
    }

    /// Starts `chain` live with `shadow`, a second chain of the same kinds
    /// and parameters that stays on the control side and validates
    /// [`set_parameter`](RealtimeEngine::set_parameter) values up front (it
    /// is prepared, never processes audio). For chains whose processors are
    /// built by something else than the registry of `resonode-dsp` (the
    /// napi layer adds `enhance` from `resonode-ml`); such a builder can
    /// give the shadow a light stand-in for a processor whose `prepare` is
    /// expensive (one that only mirrors its parameters).
    ///
    /// # Errors
    /// As [`start`](RealtimeEngine::start); the shadow's `prepare` errors
    /// (e.g. a cutoff above Nyquist) come first.
    pub fn start_with_shadow(
        config: StreamConfig,
        chain: Chain,
        mut shadow: Chain,
        backend: Backend,
        options: EngineOptions,
    ) -> Result<RealtimeEngine> {
        config.validate()?;
        check_realtime_chain(&shadow)?;
        if shadow.kinds() != chain.kinds() {
            return Err(Error::Internal {
                message: format!(
                    "shadow chain {:?} does not match chain {:?}",
                    shadow.kinds(),
                    chain.kinds()
                ),
            });
        }
        shadow.prepare(&StreamSpec {
            sample_rate: config.sample_rate,
            channels: config.processing_channels(),
            max_block_frames: config.buffer_size as usize,
        })?;
        Self::start_inner(config, chain, Some(shadow), backend, options)
    }

    /// Starts `chain` live: builds the streams on a dedicated thread, waits
    /// (at most [`EngineOptions::open_timeout`]) until they run.
    ///
    /// Without specs there is no shadow chain: [`set_parameter`](RealtimeEngine::set_parameter)
    /// checks names only, and a value the processor refuses on the audio
    /// thread is reported as [`EngineEvent::ParameterRejected`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an invalid config or a chain that
    /// cannot run in real time (`normalize`); [`Error::BackendNotAvailable`]
    /// (with a suggestion) when no device works; [`Error::DeviceNotFound`]
    /// for an unknown device id; [`Error::Stream`] when the device refuses
    /// the configuration or does not open in time.
    pub fn start(
        config: StreamConfig,
        chain: Chain,
        backend: Backend,
        options: EngineOptions,
    ) -> Result<RealtimeEngine> {
        Self::start_inner(config, chain, None, backend, options)
    }

    fn start_inner(
        config: StreamConfig,
        mut chain: Chain,
        shadow: Option<Chain>,
        backend: Backend,
        options: EngineOptions,
    ) -> Result<RealtimeEngine> {
        config.validate()?;
        check_realtime_chain(&chain)?;
        let direction = config.direction();
        if options.playback_frames.is_some() && direction != Direction::Output {
            return Err(Error::param(
                "playbackFrames",
                "a playback queue needs an output-only stream",
            ));
        }
        let names = chain_names(&mut chain);
        let channels = config.processing_channels();
        let sr = config.sample_rate;
        let buffer = config.buffer_size as usize;
        let hub = Arc::new(EventHub::default());
        let shared = Arc::new(Shared::new());
        // Audio threads announce themselves here; the control thread
        // promotes them (see `crate::priority`).
        let mut announced = Vec::new();
        let mut announcer = || {
            let (a, rx) = ThreadAnnouncer::new(options.realtime && backend != Backend::None);
            announced.extend(rx);
            a
        };
        let render_stats = Arc::new(RenderStats::default());
        let (param_tx, param_rx) = ring::channel_of::<ParamChange>(PARAM_QUEUE_CAPACITY, 1);

        let feed_channels = match direction {
            Direction::Output if options.playback_frames.is_some() => channels,
            Direction::Output => 0,
            _ => config.channels_in as usize,
        };
        let mut renderer = Renderer::new(chain, sr, feed_channels, channels, buffer)?;
        // The prepared chain's worker counters (e.g. `enhance`), readable
        // from here while the chain runs on the audio thread.
        let workers = renderer.chain().worker_stats();
        renderer = renderer
            .with_params(param_rx)
            .with_stats(render_stats.clone())
            .with_events(hub.sink())
            .with_panic_restarts(if options.auto_restart { options.max_restarts } else { 0 });
        let mut tap_rx = None;
        if let Some(frames) = options.tap_frames {
            let (tx, rx) = ring::channel(frames.max(1), channels);
            renderer = renderer.with_tap(tx);
            tap_rx = Some(rx);
        }

        // Chunks of at least 4096 frames keep device buffers larger than
        // requested to few render calls; render itself splits to `buffer`.
        let chunk = buffer.max(4096);
        let mut capture_rx = None;
        let mut playback_tx = None;
        let (mut out_marks_rx, mut in_marks_rx) = (None, None);
        let marks = |rx: &mut Option<Consumer<ClockMark>>| {
            options.clock_marks.map(|n| {
                let (tx, r) = ring::channel_of::<ClockMark>(n.max(1), 1);
                *rx = Some(r);
                tx
            })
        };
        // Level meters: the writers go into the callback states, the
        // readers stay here for `levels()`.
        let (mut in_reader, mut out_reader) = (None, None);
        let mut in_meter = || {
            let (w, r) = meters::level_meter(config.channels_in as usize);
            in_reader = Some(r);
            w
        };
        let mut out_meter = || {
            let (w, r) = meters::level_meter(config.channels_out as usize);
            out_reader = Some(r);
            w
        };
        let side = match direction {
            Direction::Output => {
                let feed = match options.playback_frames {
                    Some(frames) => {
                        let (tx, rx) = ring::channel(frames.max(buffer), channels);
                        playback_tx = Some(tx);
                        Feed::Playback(rx)
                    }
                    None => Feed::Silence,
                };
                AudioSide {
                    output: Some(output_state(
                        renderer,
                        feed,
                        chunk,
                        feed_channels,
                        channels,
                        &shared,
                        &hub,
                        marks(&mut out_marks_rx),
                        announcer(),
                        out_meter(),
                    )),
                    input: None,
                }
            }
            Direction::Input => {
                let frames = options
                    .capture_frames
                    .unwrap_or(sr as usize)
                    .max(2 * buffer);
                let queue = options.capture.then(|| {
                    let (tx, rx) = ring::channel(frames, channels);
                    capture_rx = Some(rx);
                    tx
                });
                let cin = config.channels_in as usize;
                AudioSide {
                    output: None,
                    input: Some(InputState {
                        render: Some((renderer, vec![0.0; chunk * channels].into_boxed_slice())),
                        in_buf: vec![0.0; chunk * cin].into_boxed_slice(),
                        chunk_frames: chunk,
                        channels_in: cin,
                        queue,
                        shared: shared.clone(),
                        events: hub.sink(),
                        marks: marks(&mut in_marks_rx),
                        announcer: announcer(),
                        meter: in_meter(),
                    }),
                }
            }
            Direction::Duplex => {
                let cin = config.channels_in as usize;
                let capacity = DuplexQueue::capacity(buffer, config.latency, sr, chunk);
                let (tx, rx) = ring::channel(capacity, cin);
                let feed = Feed::Duplex(DuplexQueue::new(rx, buffer, config.latency, sr));
                AudioSide {
                    output: Some(output_state(
                        renderer,
                        feed,
                        chunk,
                        cin,
                        channels,
                        &shared,
                        &hub,
                        marks(&mut out_marks_rx),
                        announcer(),
                        out_meter(),
                    )),
                    input: Some(InputState {
                        render: None,
                        in_buf: vec![0.0; chunk * cin].into_boxed_slice(),
                        chunk_frames: chunk,
                        channels_in: cin,
                        queue: Some(tx),
                        shared: shared.clone(),
                        events: hub.sink(),
                        marks: marks(&mut in_marks_rx),
                        announcer: announcer(),
                        meter: in_meter(),
                    }),
                }
            }
        };

        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<u32>>(1);
        let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
        let stop_flag = Arc::new(AtomicBool::new(false));
        let restarts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let running = Arc::new(std::sync::atomic::AtomicU8::new(backend_code(backend)));
        let thread = {
            let ctl = Control {
                config: config.clone(),
                options: options.clone(),
                shared: shared.clone(),
                hub: hub.clone(),
                restarts: restarts.clone(),
                announced,
                running: running.clone(),
            };
            let stop_flag = stop_flag.clone();
            std::thread::Builder::new()
                .name(match backend {
                    Backend::None => "resonode-clock".into(),
                    _ => "resonode-engine".into(),
                })
                .spawn(move || {
                    match backend {
                        Backend::None => run_clocked(ctl, side, stop_flag, ready_tx),
                        hw => run_device(ctl, hw, side, cmd_rx, stop_flag, ready_tx),
                    }
                    let _ = done_tx.send(());
                })
                .map_err(|e| Error::Internal {
                    message: format!("cannot spawn the engine thread: {e}"),
                })?
        };
        let actual = match ready_rx.recv_timeout(options.open_timeout) {
            Ok(Ok(actual)) => actual,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                // Leave the thread; it stops once the device answers.
                let _ = cmd_tx.send(Command::Stop);
                stop_flag.store(true, Ordering::Relaxed);
                return Err(Error::Stream {
                    reason: format!(
                        "the audio device did not open within {} s; {}",
                        options.open_timeout.as_secs_f64(),
                        devices::SUGGESTION
                    ),
                });
            }
        };
        // Logging (here and below, `target: LOG`) happens on the starting
        // thread and the engine's control thread, never in a callback.
        log::debug!(
            target: LOG,
            "engine started: backend {} (requested {}), {direction:?}, {sr} Hz, {} in / {} out ch, buffer {actual} frames (requested {}), chain [{}]",
            backend_from_code(running.load(Ordering::Relaxed)).as_str(),
            backend.as_str(),
            config.channels_in,
            config.channels_out,
            config.buffer_size,
            names.iter().map(|(kind, _)| *kind).collect::<Vec<_>>().join(", ")
        );
        Ok(RealtimeEngine {
            config,
            backend: running,
            requested_backend: backend,
            pump: Mutex::new(None),
            pump_dropped: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            shared,
            render_stats,
            hub,
            params: Mutex::new(ParamControl {
                shadow,
                names,
                queue: param_tx,
            }),
            tap: Mutex::new(tap_rx),
            meters: Mutex::new((in_reader, out_reader)),
            output_marks: Mutex::new(out_marks_rx),
            input_marks: Mutex::new(in_marks_rx),
            capture: Mutex::new(capture_rx),
            playback: Mutex::new(playback_tx),
            actual_buffer_size: actual,
            workers,
            restarts,
            auto_restart: options.auto_restart,
            commands: cmd_tx,
            stop_flag,
            thread: Some(thread),
            done: done_rx,
        })
    }

    /// The configuration the engine was started with.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The backend it runs on: the concrete host `default` and `auto`
    /// opened, or `none` after an `auto` fallback.
    pub fn backend(&self) -> Backend {
        backend_from_code(self.backend.load(Ordering::Relaxed))
    }

    /// The backend it was started with.
    pub fn requested_backend(&self) -> Backend {
        self.requested_backend
    }

    /// Starts the event pump (once): a non-real-time thread that delivers
    /// events and tapped audio (see [`crate::pump`]) to `sink` until the
    /// engine finishes or stops.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when a pump already runs or the engine is
    /// stopped; [`Error::Internal`] when the thread cannot start.
    pub fn start_pump(&self, sink: impl PumpSink) -> Result<()> {
        let mut slot = self.pump.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Err(Error::InvalidState { reason: "the event pump already runs".into() });
        }
        if self.thread.is_none() {
            return Err(Error::InvalidState { reason: "the realtime engine is stopped".into() });
        }
        let (shared, render_stats, auto_restart) = (self.shared.clone(), self.render_stats.clone(), self.auto_restart);
        let backend = self.backend.clone();
        let source = PumpSource {
            hub: self.hub.clone(),
            tap: self.take_tap(),
            render_stats: self.render_stats.clone(),
            dropped: self.pump_dropped.clone(),
            finished: Box::new(move || {
                finished(&shared, &render_stats, backend_from_code(backend.load(Ordering::Relaxed)), auto_restart)
            }),
        };
        *slot = Some(Pump::spawn(source, sink)?);
        Ok(())
    }

    /// Sets `"<index>.<name>"` (e.g. `"0.cutoff"`) to `value`, applied by
    /// the audio thread at the next buffer boundary. Filters keep their
    /// state; gains ramp. Never waits for the audio thread.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown path or (with a shadow
    /// chain, see [`start_from_specs`](RealtimeEngine::start_from_specs)) a
    /// value out of range; [`Error::InvalidState`] when the queue is full
    /// because the audio thread stopped taking changes.
    pub fn set_parameter(&self, path: &str, value: f64) -> Result<()> {
        let mut ctl = self.params.lock().unwrap_or_else(|e| e.into_inner());
        let (index, name) = resolve_path(path, ctl.names.len(), |i| ctl.names[i])?;
        if ctl.queue.free() == 0 {
            return Err(Error::InvalidState {
                reason: "the parameter queue is full: the audio thread is not taking changes"
                    .into(),
            });
        }
        match ctl.shadow.as_mut() {
            Some(shadow) => shadow.set_parameter(path, value)?,
            None if !value.is_finite() => {
                return Err(Error::param(path, format!("{value} is not finite")))
            }
            None => {}
        }
        ctl.queue.push(ParamChange {
            processor: index as u32,
            param: name,
            value,
        });
        Ok(())
    }

    /// The value last set for a parameter path (from the shadow chain).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown path;
    /// [`Error::InvalidState`] for an engine started without specs.
    pub fn parameter(&self, path: &str) -> Result<f64> {
        let ctl = self.params.lock().unwrap_or_else(|e| e.into_inner());
        match ctl.shadow.as_ref() {
            Some(shadow) => shadow.parameter(path),
            None => Err(Error::InvalidState {
                reason: "parameters are readable only for engines started from specs".into(),
            }),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> EngineStats {
        let s = &self.shared;
        let r = &self.render_stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let device_under = load(&s.device_underruns);
        let device_over = load(&s.device_overruns);
        let sr = self.config.sample_rate as f64;
        let buf_ms = self.actual_buffer_size as f64 / sr * 1000.0;
        // The duplex prime as it is now (it grows after underruns).
        let prime_ms = match load(&s.duplex_prime) {
            UNSET => self.config.latency.prime_buffers() as f64 * buf_ms,
            frames => frames as f64 / sr * 1000.0,
        };
        let processing_latency_frames: u64 = self
            .workers
            .iter()
            .map(|(_, w)| w.latency_frames.load(Ordering::Relaxed))
            .sum();
        let processing_latency_ms = processing_latency_frames as f64 / sr * 1000.0;
        let worker_sum = |f: fn(&WorkerStats) -> &std::sync::atomic::AtomicU64| -> u64 {
            self.workers
                .iter()
                .map(|(_, w)| f(w).load(Ordering::Relaxed))
                .sum()
        };
        let worker_underruns = worker_sum(|w| &w.underruns);
        let latency_ms = processing_latency_ms
            + match self.config.direction() {
                Direction::Input => buf_ms,
                Direction::Output => 2.0 * buf_ms,
                Direction::Duplex => 3.0 * buf_ms + prime_ms,
            };
        let ns = |a: &std::sync::atomic::AtomicU64| {
            let v = a.load(Ordering::Relaxed);
            (v != UNSET).then_some(v as f64 / 1e6)
        };
        let backlog_ms = {
            let v = load(&s.duplex_backlog);
            (v != UNSET).then_some(v as f64 / sr * 1000.0)
        };
        let latency_ms_measured = match self.config.direction() {
            Direction::Input => ns(&s.input_delay_ns),
            Direction::Output => ns(&s.output_delay_ns),
            Direction::Duplex => {
                match (ns(&s.input_delay_ns), backlog_ms, ns(&s.output_delay_ns)) {
                    (Some(i), Some(b), Some(o)) => Some(i + b + o),
                    _ => None,
                }
            }
        }
        .map(|ms| ms + processing_latency_ms);
        let psf = load(&s.playback_start_frame);
        EngineStats {
            callbacks: load(&r.callbacks),
            frames: load(&r.frames),
            xruns_underrun: device_under + load(&s.engine_underruns) + worker_underruns,
            xruns_overrun: device_over + load(&s.engine_overruns),
            device_xruns: device_under + device_over,
            late_callbacks: load(&r.late_callbacks),
            preempted_callbacks: load(&r.preempted_callbacks),
            callback_load_mean: r.load_mean(),
            callback_load_peak: r.load_peak(),
            latency_ms,
            latency_ms_measured,
            actual_buffer_size: self.actual_buffer_size,
            sample_rate: self.config.sample_rate,
            tap_dropped: load(&r.tap_dropped) + load(&self.pump_dropped),
            non_finite_samples: load(&r.non_finite),
            params_rejected: load(&r.params_rejected),
            worker_errors: worker_sum(|w| &w.worker_errors),
            panics: load(&r.chain_panics) + load(&s.callback_panics),
            failed: r.failed.load(Ordering::Relaxed)
                || s.callback_failed.load(Ordering::Relaxed)
                || s.gave_up.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed) + load(&r.chain_restarts) as u32,
            restart_attempts: s.restart_attempts.load(Ordering::Relaxed),
            backend: self.backend(),
            playback_start_frame: (psf != UNSET).then_some(psf),
            playback_consumed: load(&s.playback_consumed),
            playback_starved: load(&s.playback_starved),
            realtime_threads: s.realtime_threads.load(Ordering::Relaxed),
            realtime_refused: s.realtime_refused.load(Ordering::Relaxed),
            worker_realtime_threads: worker_sum(|w| &w.worker_realtime) as u32,
            worker_threads: self.workers.len() as u32,
            realtime_mechanism: crate::priority::Mechanism::from_code(s.realtime_mechanism.load(Ordering::Relaxed)),
            drift_corrections: load(&s.drift_corrections),
            drift_frames_dropped: load(&s.drift_frames_dropped),
            processing_latency_frames,
            processing_latency_ms,
            worker_underruns,
            worker_underrun_frames: worker_sum(|w| &w.underrun_frames),
            worker_dropped_frames: worker_sum(|w| &w.dropped_frames),
            worker_load: self
                .workers
                .iter()
                .map(|(_, w)| w.worker_load())
                .fold(0.0, f64::max),
        }
    }

    /// Peak and RMS levels per channel of the input (the device's samples,
    /// before the chain) and the output (after the chain: what goes to the
    /// device), measured in the audio callbacks over every frame since the
    /// previous call (since the start, for the first call). Silence, and a
    /// window without frames, read [`crate::LEVEL_FLOOR_DBFS`].
    ///
    /// # Real-time safety
    /// Called on the control side; it never waits for the audio thread:
    /// the callbacks publish through atomics, and this takes a control-side
    /// mutex and retries (spinning, then yielding, for at most 100 ms) only
    /// while a publication of a few stores is in progress.
    pub fn levels(&self) -> Levels {
        let mut m = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        let input = m.0.as_mut().map(MeterReader::read);
        let output = m.1.as_mut().map(MeterReader::read);
        let frames = output.as_ref().or(input.as_ref()).map_or(0, |l| l.frames);
        Levels { input, output, frames }
    }

    /// Events since the last call (xruns, device errors, restarts).
    pub fn poll_events(&self) -> Vec<EngineEvent> {
        self.hub.drain()
    }

    /// The reading end of the tap (once): every processed frame,
    /// interleaved, [`StreamConfig::processing_channels`] channels. `None`
    /// without [`EngineOptions::tap_frames`] or when already taken.
    pub fn take_tap(&self) -> Option<Consumer> {
        self.tap.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The reading end of the capture queue of an input-only engine (once):
    /// what the input device produced, after the chain. `None` for other
    /// directions (a duplex engine's processed audio is in its tap) or when
    /// already taken.
    pub fn take_capture(&self) -> Option<Consumer> {
        self.capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The writing end of the playback queue (once), with
    /// [`EngineOptions::playback_frames`].
    pub fn take_playback(&self) -> Option<Producer> {
        self.playback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The instant [`ClockMark::at_ns`] counts from.
    pub fn epoch(&self) -> Instant {
        self.shared.epoch
    }

    /// The reading end of the output clock marks (once), with
    /// [`EngineOptions::clock_marks`]: one mark per output callback.
    pub fn take_output_marks(&self) -> Option<Consumer<ClockMark>> {
        self.output_marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The reading end of the input clock marks (once), with
    /// [`EngineOptions::clock_marks`]: one mark per input callback.
    pub fn take_input_marks(&self) -> Option<Consumer<ClockMark>> {
        self.input_marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Whether the audio has stopped by itself: the `none` backend reached
    /// [`EngineOptions::max_frames`], lost streams were not restarted (or
    /// the restarts gave up), or a panic left the engine silent for good.
    pub fn is_finished(&self) -> bool {
        finished(&self.shared, &self.render_stats, self.backend(), self.auto_restart)
    }

    /// Waits up to `timeout` for [`is_finished`](RealtimeEngine::is_finished).
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while !self.is_finished() {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Stops the streams and returns the final stats.
    ///
    /// # Errors
    /// [`Error::Stream`] when the engine thread does not stop within 5 s
    /// (the device is hung); it is then left behind.
    pub fn stop(mut self) -> Result<EngineStats> {
        self.shutdown()?;
        Ok(self.stats())
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.stop_flag.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Stop);
        let stopped = match self.done.recv_timeout(Duration::from_secs(5)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
                Ok(())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::Stream {
                reason: "the audio device did not stop within 5 s".into(),
            }),
        };
        log::debug!(target: LOG, "engine stopped ({})", if stopped.is_ok() { "streams closed" } else { "the device did not stop within 5 s" });
        // The audio has stopped: the pump's last drain sees everything.
        let pump = self.pump.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut p) = pump {
            p.finish();
        }
        stopped
    }
}

impl Drop for RealtimeEngine {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The kind and parameter names of each processor (`Chain` lends its
/// processors only mutably).
fn chain_names(chain: &mut Chain) -> Vec<(&'static str, &'static [&'static str])> {
    chain
        .processors_mut()
        .iter()
        .map(|p| (p.kind(), p.parameter_names()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn output_state(
    renderer: Renderer,
    feed: Feed,
    chunk: usize,
    feed_channels: usize,
    channels_out: usize,
    shared: &Arc<Shared>,
    hub: &EventHub,
    marks: Option<Producer<ClockMark>>,
    announcer: ThreadAnnouncer,
    meter: MeterWriter,
) -> OutputState {
    OutputState {
        renderer,
        feed,
        in_buf: vec![0.0; chunk * feed_channels.max(1)].into_boxed_slice(),
        out_buf: vec![0.0; chunk * channels_out].into_boxed_slice(),
        chunk_frames: chunk,
        feed_channels,
        channels_out,
        shared: shared.clone(),
        events: hub.sink(),
        playback_seen: false,
        pending_starved: 0,
        marks,
        announcer,
        meter,
    }
}

/// Whether an engine has stopped by itself (see [`RealtimeEngine::is_finished`]).
fn finished(shared: &Shared, render: &RenderStats, backend: Backend, auto_restart: bool) -> bool {
    shared.finished.load(Ordering::Relaxed)
        || shared.callback_failed.load(Ordering::Relaxed)
        || render.failed.load(Ordering::Relaxed)
        || shared.gave_up.load(Ordering::Relaxed)
        || (backend != Backend::None && !auto_restart && shared.lost.load(Ordering::Relaxed))
}

fn backend_code(b: Backend) -> u8 {
    match b {
        Backend::Default => 0,
        Backend::Alsa => 1,
        Backend::PulseAudio => 2,
        Backend::None => 3,
        Backend::Auto => 4,
        Backend::Jack => 5,
    }
}

fn backend_from_code(c: u8) -> Backend {
    match c {
        1 => Backend::Alsa,
        2 => Backend::PulseAudio,
        3 => Backend::None,
        4 => Backend::Auto,
        5 => Backend::Jack,
        _ => Backend::Default,
    }
}

/// What the engine thread (control or clock) works with.
struct Control {
    config: StreamConfig,
    options: EngineOptions,
    shared: Arc<Shared>,
    hub: Arc<EventHub>,
    restarts: Arc<std::sync::atomic::AtomicU32>,
    /// Audio threads announcing themselves for promotion.
    announced: Vec<Consumer<Option<crate::priority::ThreadHandle>>>,
    /// The backend running, see [`backend_code`].
    running: Arc<std::sync::atomic::AtomicU8>,
}

impl Control {
    /// Promotes the audio threads that announced themselves (see
    /// [`crate::priority`]); runs on the control thread.
    fn promote_announced(&mut self) {
        for rx in self.announced.iter_mut() {
            while let Some(handle) = rx.pop() {
                let got = match handle {
                    Some(h) => crate::priority::promote(h, crate::priority::AUDIO_THREAD_PRIORITY, self.config.buffer_size, self.config.sample_rate),
                    None => crate::priority::Mechanism::None,
                };
                log::debug!(target: LOG, "audio thread promotion: {got:?}");
                self.shared.count_promotion(got);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The clocked `none` backend.

/// Calls the same callback states as cpal would, every buffer period,
/// sleeping until each deadline (and catching up without sleeping when
/// late). Input is the configured test signal, looped, or silence.
///
/// # Real-time safety
/// The per-period body (between the sleeps) is the callback path: no
/// allocation, lock or blocking; this crate's unit tests run it under the
/// allocation guard. Falling behind is caught up, not counted as an xrun.
fn run_clocked(
    ctl: Control,
    mut side: AudioSide,
    stop: Arc<AtomicBool>,
    ready: mpsc::SyncSender<Result<u32>>,
) {
    let Control { config, options, shared, .. } = ctl;
    let buffer = config.buffer_size as usize;
    let sr = config.sample_rate as u64;
    let cin = config.channels_in as usize;
    let cout = config.channels_out as usize;
    let mut in_dev = vec![0.0f32; buffer * cin.max(1)];
    let mut out_dev = vec![0.0f32; buffer * cout.max(1)];
    let input = options
        .none_input
        .clone()
        .filter(|s| cin > 0 && s.len() >= cin);
    let mut in_pos = 0usize;
    // This thread is the clocked backend's audio thread: promoted before
    // its loop (the request is not real-time safe).
    if options.realtime {
        shared.count_promotion(crate::priority::promote_current(crate::priority::AUDIO_THREAD_PRIORITY, config.buffer_size, config.sample_rate));
    }
    // Before the loop: the per-period body below never logs.
    log::debug!(
        target: LOG,
        "clocked `none` backend: {sr} Hz, {cin} in / {cout} out ch, {buffer} frames per period, input {}",
        if input.is_some() { "looped test signal" } else if cin > 0 { "silence" } else { "none" }
    );
    let _ = ready.send(Ok(config.buffer_size));
    let start = Instant::now();
    let mut frames_done: u64 = 0;
    let mut k: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let n = match options.max_frames {
            Some(max) if frames_done >= max => {
                shared.finished.store(true, Ordering::Relaxed);
                break;
            }
            Some(max) => (max - frames_done).min(buffer as u64) as usize,
            None => buffer,
        };
        let deadline = start + Duration::from_nanos(k * buffer as u64 * 1_000_000_000 / sr);
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        let now = Instant::now();
        // In this crate's unit tests the whole callback body runs under an
        // allocation-aborting guard (see `no_alloc_guard`).
        #[cfg(test)]
        let guarded = !options.unguarded;
        #[cfg(not(test))]
        let guarded = true;
        no_alloc_guard(guarded, || {
            if cin > 0 {
                let buf = &mut in_dev[..n * cin];
                match &input {
                    Some(sig) => {
                        for s in buf.iter_mut() {
                            *s = sig[in_pos];
                            in_pos = (in_pos + 1) % (sig.len() / cin * cin);
                        }
                    }
                    None => buf.fill(0.0),
                }
                if let Some(st) = side.input.as_mut() {
                    guarded_input(st, &in_dev[..n * cin], now, |s| s);
                }
            }
            if let Some(st) = side.output.as_mut() {
                guarded_output(st, &mut out_dev[..n * cout], now, |st, buf, now| st.process_f32(buf, now));
            }
        });
        frames_done += n as u64;
        k += 1;
    }
}

/// Runs an output callback's work, catching a panic outside the chain (the
/// renderer catches the chain's): the buffer becomes silence, and so does
/// every later one (the state may be inconsistent).
///
/// # Real-time safety
/// `catch_unwind` costs nothing until a panic; see [`Shared::callback_panicked`].
#[inline]
fn guarded_output<T: Copy + Default>(
    st: &mut OutputState,
    data: &mut [T],
    now: Instant,
    work: impl FnOnce(&mut OutputState, &mut [T], Instant),
) {
    if st.shared.callback_failed.load(Ordering::Relaxed) {
        data.fill(T::default());
        return;
    }
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *st, &mut *data, now))) {
        data.fill(T::default());
        st.shared.callback_panicked(&mut st.events, StreamSide::Output, payload);
    }
}

/// [`guarded_output`] for an input callback.
#[inline]
fn guarded_input<T: Copy>(st: &mut InputState, data: &[T], now: Instant, convert: impl Fn(T) -> f32) {
    if st.shared.callback_failed.load(Ordering::Relaxed) {
        return;
    }
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| st.process(data, now, convert))) {
        st.shared.callback_panicked(&mut st.events, StreamSide::Input, payload);
    }
}

/// Runs `f` under `assert_no_alloc` in this crate's unit tests (whose
/// global allocator aborts on allocation inside the guard); plain call
/// otherwise.
#[cfg(test)]
fn no_alloc_guard<R>(guarded: bool, f: impl FnOnce() -> R) -> R {
    if guarded {
        assert_no_alloc::assert_no_alloc(f)
    } else {
        f()
    }
}

#[cfg(not(test))]
#[inline(always)]
fn no_alloc_guard<R>(_guarded: bool, f: impl FnOnce() -> R) -> R {
    f()
}

// ---------------------------------------------------------------------------
// cpal streams.

/// Opened streams, or why not together with the states (boxed: the states
/// are large) so that a restart can try again.
type OpenResult = std::result::Result<Streams, Box<(Error, AudioSide)>>;

/// The cpal streams of one engine and the slots their states live in.
struct Streams {
    input: Option<cpal::Stream>,
    output: Option<cpal::Stream>,
    output_slot: Option<Arc<StateSlot<OutputState>>>,
    input_slot: Option<Arc<StateSlot<InputState>>>,
    actual_buffer: u32,
    /// The concrete host the streams were opened on.
    host: Backend,
}

/// How long the control thread waits for a running callback to return
/// when it takes the states back.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(1);

impl Streams {
    fn empty(actual_buffer: u32, host: Backend) -> Self {
        Streams {
            input: None,
            output: None,
            output_slot: None,
            input_slot: None,
            actual_buffer,
            host,
        }
    }

    /// No streams, holding `side`'s states for the next attempt.
    fn stateless(side: AudioSide, actual_buffer: u32, host: Backend) -> Self {
        Streams {
            output_slot: side.output.map(StateSlot::new),
            input_slot: side.input.map(StateSlot::new),
            ..Streams::empty(actual_buffer, host)
        }
    }

    /// Takes the states back from the callbacks and disposes of the cpal
    /// streams: dropped here when `dispose_inline`, otherwise on a reaper
    /// thread, because dropping a stream whose server connection died can
    /// block forever (cpal's PulseAudio host waits for a timing reply that
    /// never comes); such a thread is then left behind.
    fn into_side(self, dispose_inline: bool) -> AudioSide {
        let Streams {
            input,
            output,
            output_slot,
            input_slot,
            ..
        } = self;
        let side = AudioSide {
            output: output_slot.and_then(|s| s.revoke(REVOKE_TIMEOUT)),
            input: input_slot.and_then(|s| s.revoke(REVOKE_TIMEOUT)),
        };
        if dispose_inline {
            drop(output);
            drop(input);
        } else if output.is_some() || input.is_some() {
            let _ = std::thread::Builder::new()
                .name("resonode-reaper".into())
                .spawn(move || {
                    drop(output);
                    drop(input);
                });
        }
        side
    }
}

/// The control thread of a device engine: opens the streams (or, for
/// `auto`, falls back to the clocked backend), promotes the audio threads,
/// and rebuilds lost streams.
fn run_device(
    mut ctl: Control,
    backend: Backend,
    side: AudioSide,
    commands: mpsc::Receiver<Command>,
    stop: Arc<AtomicBool>,
    ready: mpsc::SyncSender<Result<u32>>,
) {
    let mut streams = match open_streams(&ctl.config, backend, side, &ctl.hub) {
        Ok(s) => s,
        Err(failed) => {
            let (e, side) = *failed;
            if backend != Backend::Auto {
                log::debug!(target: LOG, "opening the {} streams failed: {e}", backend.as_str());
                let _ = ready.send(Err(e));
                return;
            }
            // `auto`: no device works; run clocked, and say so.
            log::info!(target: LOG, "backend auto: no device could be opened ({e}); falling back to the clocked `none` backend");
            ctl.hub.notice(EngineEvent::BackendFallback { reason: e.to_string() });
            ctl.running.store(backend_code(Backend::None), Ordering::Relaxed);
            return run_clocked(ctl, side, stop, ready);
        }
    };
    // Restarts reopen the host that opened now: `default` without a
    // PulseAudio socket (the server died) would otherwise pick ALSA.
    let host = streams.host;
    ctl.running.store(backend_code(host), Ordering::Relaxed);
    let _ = ready.send(Ok(streams.actual_buffer));
    let options = ctl.options.clone();
    let shared = ctl.shared.clone();
    let hub = ctl.hub.clone();
    let config = ctl.config.clone();
    // When the current loss began, and when to try next.
    let mut lost_since: Option<Instant> = None;
    let mut next_try = Instant::now();
    let mut attempt = 0u32;
    loop {
        match commands.recv_timeout(Duration::from_millis(25)) {
            Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        ctl.promote_announced();
        if !shared.lost.load(Ordering::Relaxed) || shared.gave_up.load(Ordering::Relaxed) {
            continue;
        }
        if !options.auto_restart {
            log::info!(target: LOG, "streams lost; not reopening them (autoRestart is off)");
            shared.gave_up.store(true, Ordering::Relaxed);
            continue;
        }
        let now = Instant::now();
        let since = *lost_since.get_or_insert_with(|| {
            log::info!(
                target: LOG,
                "streams lost; reopening them every {} ms for up to {} s",
                options.restart_interval.as_millis(),
                options.restart_timeout.as_secs_f64()
            );
            // The streams died: take the states back now (a dead stream is
            // dropped on a reaper thread, it may hang).
            let side = std::mem::replace(&mut streams, Streams::empty(config.buffer_size, host)).into_side(false);
            streams = Streams::stateless(side, config.buffer_size, host);
            now
        });
        if now < next_try {
            continue;
        }
        if now.duration_since(since) > options.restart_timeout {
            let message = format!(
                "gave up reopening the lost streams after {} attempts in {:.1} s",
                attempt,
                now.duration_since(since).as_secs_f64()
            );
            log::warn!(target: LOG, "{message}");
            hub.notice(EngineEvent::RestartFailed { attempt, message });
            shared.gave_up.store(true, Ordering::Relaxed);
            continue;
        }
        attempt += 1;
        shared.restart_attempts.fetch_add(1, Ordering::Relaxed);
        next_try = now + options.restart_interval;
        log::debug!(target: LOG, "reopening the lost streams on {}: attempt {attempt}", host.as_str());
        let side = std::mem::replace(&mut streams, Streams::empty(config.buffer_size, host)).into_side(true);
        shared.lost.store(false, Ordering::Relaxed);
        match reopen(&config, host, side, &hub) {
            Ok(s) => {
                streams = s;
                ctl.restarts.fetch_add(1, Ordering::Relaxed);
                log::info!(target: LOG, "streams reopened after {attempt} attempt(s)");
                hub.notice(EngineEvent::Restarted { attempt });
                lost_since = None;
                attempt = 0;
            }
            Err(failed) => {
                let (e, side) = *failed;
                log::debug!(target: LOG, "reopening attempt {attempt} failed: {e}");
                shared.lost.store(true, Ordering::Relaxed);
                streams = Streams::stateless(side, config.buffer_size, host);
            }
        }
    }
    // A lost stream may hang when dropped: leave it to a reaper thread.
    let _ = streams.into_side(!shared.lost.load(Ordering::Relaxed));
}

/// Empties the duplex queue (it primes again) and opens new streams.
fn reopen(
    config: &StreamConfig,
    backend: Backend,
    mut side: AudioSide,
    hub: &EventHub,
) -> OpenResult {
    if let Some(out) = side.output.as_mut() {
        if let Feed::Duplex(queue) = &mut out.feed {
            queue.restart();
        }
    }
    open_streams(config, backend, side, hub)
}

/// The sample formats resonode converts, best first.
const FORMATS: [cpal::SampleFormat; 3] = [
    cpal::SampleFormat::F32,
    cpal::SampleFormat::I32,
    cpal::SampleFormat::I16,
];

/// Picks the device, sample format and buffer size for one direction.
fn choose(
    device: &cpal::Device,
    way: Way,
    channels: u16,
    sample_rate: u32,
    buffer: u32,
) -> Result<(cpal::StreamConfig, cpal::SampleFormat)> {
    let id = device
        .id()
        .map(|i| i.id().to_string())
        .unwrap_or_else(|_| "?".into());
    let configs: Vec<cpal::SupportedStreamConfigRange> = match way {
        Way::Input => device.supported_input_configs().map(|c| c.collect()),
        Way::Output => device.supported_output_configs().map(|c| c.collect()),
    }
    .map_err(|e| devices::stream_error(&format!("cannot open `{id}`"), &e))?;
    let what = match way {
        Way::Input => "capture",
        Way::Output => "playback",
    };
    let fitting: Vec<_> = configs
        .iter()
        .filter(|c| c.channels() == channels && c.contains_rate(sample_rate))
        .collect();
    let Some(best) = FORMATS
        .iter()
        .find_map(|f| fitting.iter().find(|c| c.sample_format() == *f))
    else {
        let offered: Vec<String> = configs
            .iter()
            .filter(|c| FORMATS.contains(&c.sample_format()))
            .map(|c| {
                format!(
                    "{} ch {}-{} Hz",
                    c.channels(),
                    c.min_sample_rate(),
                    c.max_sample_rate()
                )
            })
            .take(8)
            .collect();
        return Err(Error::Stream {
            reason: format!(
                "`{id}` cannot {what} {channels} channel(s) at {sample_rate} Hz in f32/i32/i16 (offers: {})",
                if offered.is_empty() { "nothing".to_string() } else { offered.join(", ") }
            ),
        });
    };
    let buffer_size = match *best.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } if (min..=max).contains(&buffer) => {
            cpal::BufferSize::Fixed(buffer)
        }
        _ => cpal::BufferSize::Default,
    };
    log::debug!(
        target: LOG,
        "`{id}` {what}: {channels} ch {sample_rate} Hz {}, buffer {}",
        best.sample_format(),
        match buffer_size {
            cpal::BufferSize::Fixed(n) => format!("{n} frames"),
            _ => format!("the host's default ({buffer} frames outside the device's range)"),
        }
    );
    Ok((
        cpal::StreamConfig {
            channels,
            sample_rate,
            buffer_size,
        },
        best.sample_format(),
    ))
}

const POLL_TIMEOUT: Option<Duration> = Some(Duration::from_secs(1));


/// Opens and starts the streams for the states in `side`. On failure the
/// states come back with the error so a restart can try again.
fn open_streams(
    config: &StreamConfig,
    backend: Backend,
    side: AudioSide,
    hub: &EventHub,
) -> OpenResult {
    let mut host = match devices::host_for(backend) {
        Ok(h) => h,
        Err(e) => return Err(Box::new((e, side))),
    };
    // `default` chose JACK (a server runs) but the config names a device of
    // the next host (e.g. a PulseAudio sink): open it there.
    if matches!(backend, Backend::Default | Backend::Auto) && host.id() == cpal::HostId::Jack {
        let named = [
            (side.input.is_some(), config.input_device.as_deref(), Way::Input),
            (side.output.is_some(), config.output_device.as_deref(), Way::Output),
        ];
        let foreign = named.iter().any(|&(used, wanted, way)| {
            used && wanted.is_some()
                && matches!(devices::find_cpal_device(&host, wanted, way), Err(Error::DeviceNotFound { .. }))
        });
        if foreign {
            log::debug!(target: devices::LOG, "a named device is not a JACK port: using {}", cpal::default_host().id().name());
            host = cpal::default_host();
        }
    }
    let device_cfg = |way: Way| -> Result<(cpal::Device, cpal::StreamConfig, cpal::SampleFormat)> {
        let (wanted, ch) = match way {
            Way::Input => (config.input_device.as_deref(), config.channels_in),
            Way::Output => (config.output_device.as_deref(), config.channels_out),
        };
        let device = devices::find_cpal_device(&host, wanted, way)?;
        let (cfg, fmt) = choose(&device, way, ch, config.sample_rate, config.buffer_size)?;
        Ok((device, cfg, fmt))
    };
    let inp = if side.input.is_some() {
        match device_cfg(Way::Input) {
            Ok(v) => Some(v),
            Err(e) => return Err(Box::new((e, side))),
        }
    } else {
        None
    };
    let out = if side.output.is_some() {
        match device_cfg(Way::Output) {
            Ok(v) => Some(v),
            Err(e) => return Err(Box::new((e, side))),
        }
    } else {
        None
    };
    let AudioSide { output, input } = side;
    let mut pending_output = output;
    let concrete = match host.id() {
        cpal::HostId::Alsa => Backend::Alsa,
        cpal::HostId::Jack => Backend::Jack,
        #[allow(unreachable_patterns)]
        _ => Backend::PulseAudio,
    };
    let mut streams = Streams::empty(config.buffer_size, concrete);
    // Input first (a duplex queue starts filling), then output. The states
    // live in slots the control thread can always take back.
    let error = 'build: {
        if let Some((device, cfg, fmt)) = &inp {
            if let Some(st) = input {
                let slot = StateSlot::new(st);
                streams.input_slot = Some(slot.clone());
                match build_input(device, *cfg, *fmt, slot, hub) {
                    Ok(s) => {
                        streams.actual_buffer = s.buffer_size().unwrap_or(config.buffer_size);
                        log_opened("input", device, cfg, *fmt, streams.actual_buffer, concrete);
                        streams.input = Some(s);
                    }
                    Err(e) => break 'build Some(e),
                }
            }
        }
        if let (Some((device, cfg, fmt)), Some(st)) = (&out, pending_output.take()) {
            let slot = StateSlot::new(st);
            streams.output_slot = Some(slot.clone());
            match build_output(device, *cfg, *fmt, slot, hub) {
                Ok(s) => {
                    streams.actual_buffer = s.buffer_size().unwrap_or(config.buffer_size);
                    log_opened("output", device, cfg, *fmt, streams.actual_buffer, concrete);
                    streams.output = Some(s);
                }
                Err(e) => break 'build Some(e),
            }
        }
        if let Some(s) = &streams.input {
            if let Err(e) = s.play() {
                break 'build Some(devices::stream_error("cannot start the input stream", &e));
            }
        }
        if let Some(s) = &streams.output {
            if let Err(e) = s.play() {
                break 'build Some(devices::stream_error("cannot start the output stream", &e));
            }
        }
        None
    };
    match error {
        None => Ok(streams),
        Some(e) => {
            let mut side = streams.into_side(true);
            if side.output.is_none() {
                side.output = pending_output;
            }
            Err(Box::new((e, side)))
        }
    }
}

/// Logs a stream just built (on the control thread, not in its callback).
fn log_opened(way: &str, device: &cpal::Device, cfg: &cpal::StreamConfig, fmt: cpal::SampleFormat, frames: u32, host: Backend) {
    log::debug!(
        target: LOG,
        "opened {way} stream \"{}\" ({}) {} Hz {} ch {fmt} {frames} frames",
        device.id().map(|i| i.id().to_string()).unwrap_or_else(|_| "?".into()),
        host.as_str(),
        cfg.sample_rate,
        cfg.channels
    );
}

/// The error callback of one stream: counts and queues, nothing else.
///
/// # Real-time safety
/// The returned closure only does atomic stores and a wait-free queue push
/// (ALSA calls it on the audio thread). Dropping the `cpal::Error` may free
/// a message cpal allocated; that is cpal's allocation, not ours.
fn error_callback(
    side: StreamSide,
    shared: Arc<Shared>,
    mut events: crate::events::EventSink,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e: cpal::Error| {
        // Runs on cpal's worker (the audio thread on ALSA): no allocation,
        // no locks. Dropping `e` frees a message cpal may have allocated.
        match e.kind() {
            cpal::ErrorKind::Xrun => {
                let kind = match side {
                    StreamSide::Output => XrunKind::Underrun,
                    StreamSide::Input => XrunKind::Overrun,
                };
                shared.xrun(&mut events, side, kind, XrunSource::Device);
            }
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::StreamInvalidated => {
                shared.lost.store(true, Ordering::Relaxed);
                events.push(RawEvent::DeviceLost { side });
            }
            kind => events.push(RawEvent::StreamError { side, kind }),
        }
    }
}

fn build_output(
    device: &cpal::Device,
    cfg: cpal::StreamConfig,
    fmt: cpal::SampleFormat,
    slot: Arc<StateSlot<OutputState>>,
    hub: &EventHub,
) -> Result<cpal::Stream> {
    let shared = slot
        .with(|s| s.shared.clone())
        .expect("a fresh slot holds its state");
    let err_cb = error_callback(StreamSide::Output, shared, hub.sink());
    // The data callback: see `OutputState` (real-time safe).
    let mut asked_priority = false;
    let data_cb = move |data: &mut cpal::Data, info: &cpal::OutputCallbackInfo| {
        let now = Instant::now();
        slot.with(|st| {
            st.announcer.announce_once(&mut asked_priority);
            let ts = info.timestamp();
            if let Some(d) = ts.playback.checked_duration_since(ts.callback) {
                st.shared
                    .output_delay_ns
                    .store(d.as_nanos() as u64, Ordering::Relaxed);
            }
            if let Some(buf) = data.as_slice_mut::<f32>() {
                guarded_output(st, buf, now, |st, buf, now| st.process_f32(buf, now));
            } else if let Some(buf) = data.as_slice_mut::<i32>() {
                guarded_output(st, buf, now, |st, buf, now| {
                    st.process_with(buf, now, |s| (s.clamp(-1.0, 1.0) as f64 * i32::MAX as f64) as i32)
                });
            } else if let Some(buf) = data.as_slice_mut::<i16>() {
                guarded_output(st, buf, now, |st, buf, now| {
                    st.process_with(buf, now, |s| (s.clamp(-1.0, 1.0) * i16::MAX as f32) as i16)
                });
            }
        });
    };
    device
        .build_output_stream_raw(cfg, fmt, data_cb, err_cb, POLL_TIMEOUT)
        .map_err(|e| devices::stream_error("cannot open the output stream", &e))
}

fn build_input(
    device: &cpal::Device,
    cfg: cpal::StreamConfig,
    fmt: cpal::SampleFormat,
    slot: Arc<StateSlot<InputState>>,
    hub: &EventHub,
) -> Result<cpal::Stream> {
    let shared = slot
        .with(|s| s.shared.clone())
        .expect("a fresh slot holds its state");
    let err_cb = error_callback(StreamSide::Input, shared, hub.sink());
    // The data callback: see `InputState::process` (real-time safe).
    let mut asked_priority = false;
    let data_cb = move |data: &cpal::Data, info: &cpal::InputCallbackInfo| {
        let now = Instant::now();
        slot.with(|st| {
            st.announcer.announce_once(&mut asked_priority);
            let ts = info.timestamp();
            if let Some(d) = ts.callback.checked_duration_since(ts.capture) {
                st.shared
                    .input_delay_ns
                    .store(d.as_nanos() as u64, Ordering::Relaxed);
            }
            if let Some(buf) = data.as_slice::<f32>() {
                guarded_input(st, buf, now, |s| s);
            } else if let Some(buf) = data.as_slice::<i32>() {
                guarded_input(st, buf, now, |s| (s as f64 / 2_147_483_648.0) as f32);
            } else if let Some(buf) = data.as_slice::<i16>() {
                guarded_input(st, buf, now, |s| s as f32 / 32768.0);
            }
        });
    };
    device
        .build_input_stream_raw(cfg, fmt, data_cb, err_cb, POLL_TIMEOUT)
        .map_err(|e| devices::stream_error("cannot open the input stream", &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EngineEvent;
    use resonode_core::chain_spec;

    fn specs(text: &str) -> Vec<ProcessorSpec> {
        chain_spec::parse(text).unwrap()
    }

    fn drain(rx: &mut Consumer) -> Vec<f32> {
        let mut out = vec![0.0; rx.available() * rx.channels()];
        let n = rx.read(&mut out);
        out.truncate(n * rx.channels());
        out
    }

    const HEAVY: &str =
        "highpass(40) lowpass(9khz, order=8) biquad(peaking, 1khz, 1, 3db) gain(-3db) \
                         delay(30ms, 0.4, 0.3) reverb(room=0.6) limiter(-1db) gain(linear=0.9)";

    /// Writes 0.25; panics while `armed` (`reset` disarms it: engines
    /// running it are `unguarded`, a panic and its catching allocate);
    /// exposes `worker`'s counters as a worker thread's would be.
    struct Probe {
        armed: Arc<AtomicBool>,
        worker: Option<Arc<WorkerStats>>,
    }

    impl resonode_core::Processor for Probe {
        fn kind(&self) -> &'static str {
            "probe"
        }
        fn prepare(&mut self, _: &resonode_core::StreamSpec) -> Result<()> {
            Ok(())
        }
        fn process(&mut self, block: &mut resonode_core::AudioBlockMut<'_>) {
            if self.armed.load(Ordering::Relaxed) {
                panic!("the probe was armed");
            }
            for c in 0..block.channels() {
                block.channel_mut(c).fill(0.25);
            }
        }
        fn reset(&mut self) {
            self.armed.store(false, Ordering::Relaxed);
        }
        fn parameter_names(&self) -> &'static [&'static str] {
            &[]
        }
        fn set_parameter(&mut self, _: &str, _: f64) -> std::result::Result<(), resonode_core::error::ParamError> {
            Err(resonode_core::error::ParamError::Unknown)
        }
        fn parameter(&self, _: &str) -> Option<f64> {
            None
        }
        fn worker_stats(&self) -> Option<Arc<WorkerStats>> {
            self.worker.clone()
        }
    }

    fn probe(armed: &Arc<AtomicBool>) -> Chain {
        Chain::new(vec![Box::new(Probe { armed: armed.clone(), worker: None })])
    }

    fn bomb_engine(auto_restart: bool) -> (RealtimeEngine, Arc<AtomicBool>) {
        let armed = Arc::new(AtomicBool::new(false));
        let chain = probe(&armed);
        let options = EngineOptions { tap_frames: Some(48_000), auto_restart, unguarded: true, ..EngineOptions::default() };
        let config = StreamConfig { sample_rate: 48_000, buffer_size: 256, channels_in: 0, channels_out: 1, ..StreamConfig::default() };
        (RealtimeEngine::start(config, chain, Backend::None, options).unwrap(), armed)
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_panic_in_the_chain_is_caught_and_the_chain_restarts() {
        let (engine, armed) = bomb_engine(true);
        let mut tap = engine.take_tap().unwrap();
        wait_for("audio", || engine.stats().callbacks > 4);
        armed.store(true, Ordering::Relaxed);
        wait_for("the restart", || engine.stats().restarts == 1);
        let callbacks = engine.stats().callbacks;
        wait_for("more audio", || engine.stats().callbacks > callbacks + 4);
        let events = engine.poll_events();
        let s = engine.stop().unwrap();
        assert_eq!(s.panics, 1);
        assert!(!s.failed);
        let panic_at = events.iter().position(|e| *e == EngineEvent::Panic { side: None, restarting: true });
        let restart_at = events.iter().position(|e| *e == EngineEvent::Restarted { attempt: 1 });
        assert!(matches!((panic_at, restart_at), (Some(p), Some(r)) if p < r), "{events:?}");
        assert_eq!(events[panic_at.unwrap()].to_error().unwrap().code(), "ERR_INTERNAL");
        // 0.25 before, one silent buffer for the panic, 0.25 again after.
        let audio = drain(&mut tap);
        let silent = audio.iter().filter(|&&x| x == 0.0).count();
        assert_eq!(silent, 256, "one buffer of silence");
        assert!(audio.iter().all(|&x| x == 0.0 || x == 0.25));
        assert_eq!(*audio.last().unwrap(), 0.25);
    }

    #[test]
    fn without_auto_restart_a_panic_leaves_the_engine_silent_and_finished() {
        let (engine, armed) = bomb_engine(false);
        let mut tap = engine.take_tap().unwrap();
        wait_for("audio", || engine.stats().callbacks > 4);
        armed.store(true, Ordering::Relaxed);
        wait_for("the failure", || engine.is_finished());
        let frames_at_failure = engine.stats().frames;
        wait_for("more callbacks", || engine.stats().frames > frames_at_failure + 1024);
        let events = engine.poll_events();
        let s = engine.stop().unwrap();
        assert!(s.failed);
        assert_eq!((s.panics, s.restarts), (1, 0));
        assert!(events.contains(&EngineEvent::Panic { side: None, restarting: false }), "{events:?}");
        let audio = drain(&mut tap);
        let first_silent = audio.iter().position(|&x| x == 0.0).unwrap();
        assert!(audio[first_silent..].iter().all(|&x| x == 0.0), "silence from the panic on");
    }

    /// A receiver that is full for its first `busy` offers of each kind,
    /// keeps what it takes, and whose observer panics once.
    struct Slow {
        busy_control: usize,
        busy_audio: usize,
        panic_once: bool,
        got: Arc<Mutex<(Vec<crate::pump::ControlMessage>, u64)>>,
    }

    impl PumpSink for Slow {
        fn control(&mut self, m: &crate::pump::ControlMessage) -> crate::pump::Delivery {
            if self.busy_control > 0 {
                self.busy_control -= 1;
                return crate::pump::Delivery::Full;
            }
            self.got.lock().unwrap().0.push(m.clone());
            crate::pump::Delivery::Delivered
        }
        fn audio(&mut self, planar: Vec<Vec<f32>>) -> crate::pump::Delivery {
            if self.busy_audio > 0 {
                self.busy_audio -= 1;
                return crate::pump::Delivery::Full;
            }
            self.got.lock().unwrap().1 += planar[0].len() as u64;
            crate::pump::Delivery::Delivered
        }
        fn observe(&mut self, _: &[Vec<f32>], _: &mut Vec<crate::pump::ControlMessage>) {
            if std::mem::take(&mut self.panic_once) {
                panic!("observer bug");
            }
        }
    }

    #[test]
    fn the_pump_delivers_every_control_message_in_order_and_counts_dropped_audio() {
        use crate::pump::ControlMessage;
        let armed = Arc::new(AtomicBool::new(false));
        let chain = probe(&armed);
        let options = EngineOptions { tap_frames: Some(48_000), max_frames: Some(24_000), unguarded: true, ..EngineOptions::default() };
        let config = StreamConfig { sample_rate: 48_000, buffer_size: 256, channels_in: 0, channels_out: 1, ..StreamConfig::default() };
        let engine = RealtimeEngine::start(config, chain, Backend::None, options).unwrap();
        let got = Arc::new(Mutex::new((Vec::new(), 0u64)));
        engine
            .start_pump(Slow { busy_control: 30, busy_audio: 3, panic_once: true, got: got.clone() })
            .unwrap();
        wait_for("audio", || engine.stats().callbacks > 4);
        armed.store(true, Ordering::Relaxed);
        wait_for("the end", || engine.is_finished());
        // `finished` is delivered by the pump after its last drain.
        wait_for("finished", || got.lock().unwrap().0.last() == Some(&ControlMessage::Finished));
        let s = engine.stop().unwrap();
        let (messages, audio_frames) = got.lock().unwrap().clone();
        let kinds: Vec<&str> = messages
            .iter()
            .map(|m| match m {
                ControlMessage::Event(e) => e.name(),
                ControlMessage::AudioDropped { .. } => "audioDropped",
                ControlMessage::Custom { kind, .. } => kind,
                ControlMessage::Finished => "finished",
            })
            .collect();
        // The observer's panic, the chain's panic, its restart, in order.
        let internal = messages.iter().position(|m| matches!(m, ControlMessage::Event(EngineEvent::Internal { .. })));
        let panic = messages.iter().position(|m| matches!(m, ControlMessage::Event(EngineEvent::Panic { .. })));
        let restart = messages.iter().position(|m| matches!(m, ControlMessage::Event(EngineEvent::Restarted { .. })));
        assert!(internal.is_some() && panic.is_some() && restart.is_some(), "{kinds:?}");
        assert!(panic < restart, "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "finished").count(), 1);
        // Every frame either reached the receiver or was counted as dropped.
        let reported: u64 = messages
            .iter()
            .map(|m| match m {
                ControlMessage::AudioDropped { frames } => *frames,
                _ => 0,
            })
            .sum();
        assert_eq!(s.frames, 24_000, "{s:?} {kinds:?}");
        assert!(s.tap_dropped > 0, "the busy receiver dropped blocks");
        assert_eq!(audio_frames + s.tap_dropped, s.frames);
        assert_eq!(reported, s.tap_dropped);
    }

    #[test]
    fn a_worker_thread_failure_becomes_an_error_event_and_a_counter() {
        let stats = Arc::new(WorkerStats::default());
        let chain = Chain::new(vec![Box::new(Probe { armed: Arc::new(AtomicBool::new(false)), worker: Some(stats.clone()) })]);
        let config = StreamConfig { sample_rate: 48_000, buffer_size: 256, channels_in: 0, channels_out: 1, ..StreamConfig::default() };
        let engine = RealtimeEngine::start(config, chain, Backend::None, EngineOptions::default()).unwrap();
        wait_for("audio", || engine.stats().callbacks > 2);
        stats.worker_errors.fetch_add(1, Ordering::Relaxed);
        let mut events = Vec::new();
        wait_for("the event", || {
            events.extend(engine.poll_events());
            !events.is_empty()
        });
        assert_eq!(events, vec![EngineEvent::WorkerError { processor: 0, kind: "probe" }]);
        let err = events[0].to_error().unwrap();
        assert_eq!((events[0].name(), err.code()), ("error", "ERR_INTERNAL"));
        assert_eq!(engine.stop().unwrap().worker_errors, 1);
    }

    #[test]
    fn auto_falls_back_to_the_clocked_backend_and_says_so() {
        let config = StreamConfig {
            output_device: Some("no-such-device-anywhere".into()),
            ..StreamConfig::default()
        };
        let options = EngineOptions { max_frames: Some(4800), ..EngineOptions::default() };
        let engine = RealtimeEngine::start_from_specs(config.clone(), &specs("gain(-3db)"), Backend::Auto, options).unwrap();
        assert_eq!(engine.backend(), Backend::None);
        assert!(engine.wait_finished(Duration::from_secs(10)));
        let events = engine.poll_events();
        assert!(
            matches!(events.first(), Some(EngineEvent::BackendFallback { reason }) if reason.contains("no-such-device-anywhere")),
            "{events:?}"
        );
        assert_eq!(engine.stop().unwrap().frames, 4800);
        // Without `auto` the same configuration is an error.
        let err = RealtimeEngine::start_from_specs(config, &specs("gain(-3db)"), Backend::Default, EngineOptions::default()).unwrap_err();
        assert!(matches!(err.code(), "ERR_DEVICE_NOT_FOUND" | "ERR_BACKEND_NOT_AVAILABLE"), "{err}");
    }

    /// Every direction of the clocked backend, with a long chain, the tap,
    /// clock marks and parameter changes: the callbacks run under the
    /// allocation guard (see `no_alloc_guard`), so any allocation aborts.
    #[test]
    fn clocked_callbacks_of_every_direction_run_without_allocating() {
        let input: Arc<[f32]> = (0..4800)
            .map(|i| ((i as f32) * 0.05).sin() * 0.5)
            .collect::<Vec<_>>()
            .into();
        for config in [
            StreamConfig::output(2),
            StreamConfig::input(2),
            StreamConfig::duplex(1, 2),
        ] {
            let config = config.with_buffer_size(64);
            let options = EngineOptions {
                tap_frames: Some(48_000),
                none_input: Some(input.clone()),
                max_frames: Some(4800),
                clock_marks: Some(1000),
                playback_frames: (config.direction() == Direction::Output).then_some(4800),
                ..Default::default()
            };
            let engine = RealtimeEngine::start_from_specs(
                config.clone(),
                &specs(HEAVY),
                Backend::None,
                options,
            )
            .unwrap();
            if let Some(mut p) = engine.take_playback() {
                p.write(&vec![0.25; 2 * 2400]);
            }
            for i in 0..20 {
                engine
                    .set_parameter("1.cutoff", 2000.0 + 300.0 * i as f64)
                    .unwrap();
                engine.set_parameter("3.db", -3.0 - i as f64 * 0.1).unwrap();
                std::thread::sleep(Duration::from_micros(500));
            }
            assert!(engine.wait_finished(Duration::from_secs(5)), "{config:?}");
            let stats = engine.stats();
            assert_eq!(stats.frames, 4800, "{config:?}");
            assert_eq!(stats.callbacks, 75, "{config:?}");
            let mut marks = engine
                .take_output_marks()
                .or_else(|| engine.take_input_marks())
                .unwrap();
            assert_eq!(marks.available(), 75);
            let mut tap = engine.take_tap().unwrap();
            let out = drain(&mut tap);
            assert_eq!(out.len(), 4800 * config.processing_channels());
            assert!(out.iter().all(|s| s.is_finite()));
            if config.direction() != Direction::Output {
                assert!(
                    out.iter().any(|&s| s != 0.0),
                    "input reached the chain: {config:?}"
                );
            }
            engine.stop().unwrap();
        }
    }

    #[test]
    fn the_error_callback_counts_without_allocating() {
        let shared = Arc::new(Shared::new());
        let hub = EventHub::default();
        let mut cb = error_callback(StreamSide::Output, shared.clone(), hub.sink());
        let errors: Vec<cpal::Error> = [
            cpal::ErrorKind::Xrun,
            cpal::ErrorKind::DeviceNotAvailable,
            cpal::ErrorKind::BackendError,
        ]
        .into_iter()
        .map(cpal::Error::new)
        .collect();
        let mut errors = errors.into_iter();
        assert_no_alloc::assert_no_alloc(|| {
            for e in errors.by_ref() {
                cb(e);
            }
        });
        assert_eq!(shared.device_underruns.load(Ordering::Relaxed), 1);
        assert!(shared.lost.load(Ordering::Relaxed));
        let events = hub.drain();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0].to_error().unwrap().code(), "ERR_BUFFER_UNDERRUN");
        assert_eq!(
            events[1],
            EngineEvent::DeviceLost {
                side: StreamSide::Output
            }
        );
        assert!(matches!(
            &events[2],
            EngineEvent::StreamError {
                code: "ERR_STREAM",
                ..
            }
        ));
    }

    #[test]
    fn parameters_are_validated_on_the_shadow_chain_and_applied_live() {
        let config = StreamConfig::duplex(1, 1).with_buffer_size(128);
        let options = EngineOptions {
            tap_frames: Some(48_000),
            none_input: Some(vec![0.5f32; 128].into()),
            ..Default::default()
        };
        let engine = RealtimeEngine::start_from_specs(
            config,
            &specs("gain(0db) lowpass(5000)"),
            Backend::None,
            options,
        )
        .unwrap();
        for (path, value) in [
            ("0.bogus", 1.0),
            ("7.db", 1.0),
            ("db", 1.0),
            ("0.db", 100.0),
            ("1.cutoff", 30_000.0),
            ("0.db", f64::NAN),
        ] {
            let e = engine.set_parameter(path, value).unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{path}={value}: {e}");
        }
        engine.set_parameter("0.db", -6.0206).unwrap();
        assert!((engine.parameter("0.db").unwrap() + 6.0206).abs() < 1e-9);
        std::thread::sleep(Duration::from_millis(200));
        let mut tap = engine.take_tap().unwrap();
        let out = drain(&mut tap);
        let last = *out.last().unwrap();
        assert!((last - 0.25).abs() < 1e-3, "gain applied live: {last}");
        assert!(engine.poll_events().is_empty());
        engine.stop().unwrap();
    }

    #[test]
    fn without_specs_out_of_range_values_are_rejected_on_the_audio_thread() {
        let chain = resonode_dsp::parse_chain("gain(0db)").unwrap();
        let engine = RealtimeEngine::start(
            StreamConfig::output(1).with_buffer_size(64),
            chain,
            Backend::None,
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            engine.set_parameter("0.cutoff", 1.0).unwrap_err().code(),
            "ERR_INVALID_PARAMETER"
        );
        engine.set_parameter("0.db", 500.0).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let events = engine.poll_events();
        assert_eq!(
            events,
            [EngineEvent::ParameterRejected {
                processor: 0,
                param: "db",
                value: 500.0
            }]
        );
        assert_eq!(
            engine.parameter("0.db").unwrap_err().code(),
            "ERR_INVALID_STATE"
        );
        engine.stop().unwrap();
    }

    #[test]
    fn non_real_time_chains_and_bad_options_are_refused() {
        let e = RealtimeEngine::start_from_specs(
            StreamConfig::output(2),
            &specs("normalize"),
            Backend::None,
            Default::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        let e = RealtimeEngine::start_from_specs(
            StreamConfig::input(1),
            &[],
            Backend::None,
            EngineOptions {
                playback_frames: Some(100),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        let e = RealtimeEngine::start_from_specs(
            StreamConfig::duplex(0, 0),
            &[],
            Backend::None,
            Default::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        let e = RealtimeEngine::start_from_specs(
            StreamConfig::output(1),
            &specs("lowpass(30khz)"),
            Backend::None,
            Default::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{e}");
    }

    #[test]
    fn a_duplex_queue_primes_then_passes_input_through_in_order() {
        let ramp: Arc<[f32]> = (0..960)
            .map(|i| i as f32 / 960.0)
            .collect::<Vec<_>>()
            .into();
        let options = EngineOptions {
            tap_frames: Some(10_000),
            none_input: Some(ramp),
            max_frames: Some(9600),
            ..Default::default()
        };
        let config = StreamConfig::duplex(1, 1).with_buffer_size(96);
        let engine = RealtimeEngine::start_from_specs(config, &[], Backend::None, options).unwrap();
        assert!(engine.wait_finished(Duration::from_secs(5)));
        let out = drain(&mut engine.take_tap().unwrap());
        // Silence until the queue holds a request plus the prime (2 buffers
        // for `balanced`), then the ramp, continuous.
        let start = out.iter().position(|&s| s != 0.0).unwrap() - 1;
        assert_eq!(start, 2 * 96 + 96 - 96, "prime");
        for (i, w) in out[start..].windows(2).enumerate() {
            let step = w[1] - w[0];
            assert!(
                (step - 1.0 / 960.0).abs() < 1e-6 || (w[1] == 0.0 && w[0] > 0.99),
                "discontinuity at {i}: {w:?}"
            );
        }
        let stats = engine.stop().unwrap();
        assert_eq!((stats.xruns_underrun, stats.xruns_overrun), (0, 0));
    }

    /// Issue 13 (debug logging): nothing logs on the audio thread. The
    /// callback path's modules have no logging call at all, and neither do
    /// this file's callback functions nor the clocked backend's loop; every
    /// `log::` call elsewhere runs on the starting or the control thread.
    #[test]
    fn the_callback_path_never_logs() {
        fn until_end_of_fn(src: &str, from: &str) -> String {
            let start = src.find(from).unwrap_or_else(|| panic!("`{from}` not found"));
            let rest = &src[start..];
            rest[..rest.find("\n}\n").expect("the end of the function")].to_string()
        }
        let engine = include_str!("engine.rs");
        let engine = &engine[..engine.find("#[cfg(test)]\nmod tests").unwrap()];
        let duplex = include_str!("duplex.rs");
        let mut parts = vec![
            ("render.rs".to_string(), include_str!("render.rs").to_string()),
            ("callbacks.rs".to_string(), include_str!("callbacks.rs").to_string()),
            ("meters.rs".to_string(), include_str!("meters.rs").to_string()),
            ("duplex.rs after `new`".to_string(), duplex[duplex.find("pub(crate) fn capacity").unwrap()..].to_string()),
            ("run_clocked's loop".to_string(), until_end_of_fn(engine, "let start = Instant::now();\n    let mut frames_done")),
        ];
        for f in ["fn guarded_output", "fn guarded_input", "fn error_callback", "fn build_output", "fn build_input"] {
            parts.push((f.to_string(), until_end_of_fn(engine, f)));
        }
        for (what, text) in parts {
            for needle in ["log::", "debug!(", "info!(", "warn!(", "error!(", "trace!(", "println!(", "eprintln!("] {
                assert!(!text.contains(needle), "{what} contains `{needle}`: nothing may log on the audio thread");
            }
        }
    }

    /// Every record, formatted: logging allocates, so a record logged inside
    /// an allocation-guarded callback aborts the test binary.
    struct CapturingLogger(Mutex<Vec<String>>);

    impl log::Log for CapturingLogger {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
        fn flush(&self) {}
    }

    static CAPTURED: CapturingLogger = CapturingLogger(Mutex::new(Vec::new()));

    #[test]
    fn with_a_trace_logger_installed_the_guarded_callbacks_still_never_allocate() {
        // Stays installed for the rest of this test binary: every other
        // engine test then runs with logging live too.
        let _ = log::set_logger(&CAPTURED);
        log::set_max_level(log::LevelFilter::Trace);
        for config in [StreamConfig::output(2), StreamConfig::input(2), StreamConfig::duplex(1, 2)] {
            let config = config.with_buffer_size(64);
            let options = EngineOptions { max_frames: Some(4800), ..Default::default() };
            let engine = RealtimeEngine::start_from_specs(config.clone(), &specs("gain(-3db)"), Backend::None, options).unwrap();
            assert!(engine.wait_finished(Duration::from_secs(5)), "{config:?}");
            assert_eq!(engine.stats().callbacks, 75, "{config:?}");
            engine.stop().unwrap();
        }
        let lines = CAPTURED.0.lock().unwrap().clone();
        for wanted in ["DEBUG resonode::device: clocked `none` backend: 48000 Hz, 0 in / 2 out ch, 64 frames", "DEBUG resonode::device: engine started: backend none", "DEBUG resonode::device: engine stopped"] {
            assert!(lines.iter().any(|l| l.starts_with(wanted)), "`{wanted}` not logged: {lines:#?}");
        }
    }
}
