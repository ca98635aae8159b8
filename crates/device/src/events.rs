//! Events from the device and the audio thread: [`EngineEvent`].
//!
//! The audio thread (and cpal's error callback, which ALSA calls on the
//! audio thread) pushes small `Copy` records into preallocated wait-free
//! rings, one ring per writer; polling (`RealtimeEngine::poll_events`) turns them into
//! [`EngineEvent`]s, with messages, on the reading thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use resonode_core::ring::{self, Consumer, Producer};
use resonode_core::Error;

/// Events held per writer before new ones are dropped (and counted).
pub const EVENT_CAPACITY: usize = 256;

/// Which stream an event concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSide {
    /// The capture stream.
    Input,
    /// The playback stream.
    Output,
}

impl StreamSide {
    /// `"input"` or `"output"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamSide::Input => "input",
            StreamSide::Output => "output",
        }
    }
}

/// Which kind of xrun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrunKind {
    /// Playback ran out of audio (the device, or resonode's duplex queue).
    Underrun,
    /// Captured audio was lost (the device, or a full capture queue).
    Overrun,
}

/// Who reported an xrun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrunSource {
    /// The audio device/driver (cpal reported it).
    Device,
    /// resonode's own queue between the input and output streams, or the
    /// capture queue.
    Engine,
}

/// The compact record the audio thread writes; see [`EngineEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum RawEvent {
    #[default]
    None,
    StreamError {
        side: StreamSide,
        kind: cpal::ErrorKind,
    },
    Xrun {
        side: StreamSide,
        kind: XrunKind,
        source: XrunSource,
    },
    DeviceLost {
        side: StreamSide,
    },
    ParameterRejected {
        processor: u32,
        param: &'static str,
        value: f64,
    },
    WorkerUnderrun {
        processor: u32,
        kind: &'static str,
        frames: u64,
    },
    /// A panic caught in a callback outside the chain (`side`), or in the
    /// chain (`side: None`, see [`crate::render::Renderer::render`]).
    CallbackPanic {
        side: Option<StreamSide>,
        restarting: bool,
    },
    /// The renderer reset its chain after a panic and runs it again.
    ChainRestarted {
        attempt: u32,
    },
    /// A processor's worker thread caught a panic or failed (counted in
    /// [`resonode_core::WorkerStats::errors`]).
    WorkerError {
        processor: u32,
        kind: &'static str,
    },
}

/// Something that happened to a running engine, as [`crate::RealtimeEngine::poll_events`]
/// returns it.
// Fields are described on each variant.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The device reported an error (`code` is a stable
    /// [`Error::code`], e.g. `ERR_STREAM`).
    StreamError {
        side: StreamSide,
        code: &'static str,
        message: String,
    },
    /// Audio was lost or padded with silence.
    Xrun {
        side: StreamSide,
        kind: XrunKind,
        source: XrunSource,
    },
    /// The stream stopped because the device went away.
    DeviceLost { side: StreamSide },
    /// The engine rebuilt its streams after a loss (auto restart).
    Restarted { attempt: u32 },
    /// An automatic restart failed; `message` says why.
    RestartFailed { attempt: u32, message: String },
    /// A queued parameter change was refused on the audio thread (only for
    /// engines started without specs, which cannot check ranges up front).
    ParameterRejected {
        processor: u32,
        param: &'static str,
        value: f64,
    },
    /// A processor that works on a worker thread (e.g. `enhance`) did not
    /// have its output ready: `frames` frames were replaced by silence
    /// (counted in [`crate::EngineStats::worker_underruns`]). The latency
    /// stays fixed. Named `"xrun"`, error `ERR_BUFFER_UNDERRUN`.
    WorkerUnderrun {
        processor: u32,
        kind: &'static str,
        frames: u64,
    },
    /// Events were lost because their queue was full.
    Dropped { count: u64 },
    /// Code panicked in the audio callback: in the chain (`side: None`,
    /// `restarting` when [`crate::EngineOptions::auto_restart`] resets the
    /// chain and runs it again) or outside it (the engine outputs silence
    /// from then on). Named `"error"`, error `ERR_INTERNAL`.
    Panic {
        side: Option<StreamSide>,
        restarting: bool,
    },
    /// A processor's worker thread (e.g. `enhance`) caught a panic or an
    /// error; its output is silence until it recovers. Named `"error"`,
    /// error `ERR_INTERNAL`.
    WorkerError { processor: u32, kind: &'static str },
    /// `backend: auto` found no working device and runs on the clocked
    /// `none` backend instead; `reason` says why. Named `"fallback"`.
    BackendFallback { reason: String },
    /// A thread of resonode's outside the callback (the event pump, an
    /// analyzer fed by it) caught a panic and carries on. Named `"error"`,
    /// error `ERR_INTERNAL`.
    Internal { message: String },
}

impl EngineEvent {
    /// The error this event stands for, if it is one: `ERR_STREAM`,
    /// `ERR_BUFFER_UNDERRUN`, `ERR_BUFFER_OVERRUN` or
    /// `ERR_BACKEND_NOT_AVAILABLE`.
    pub fn to_error(&self) -> Option<Error> {
        match self {
            EngineEvent::StreamError {
                side,
                code,
                message,
            } => Some(match *code {
                "ERR_BACKEND_NOT_AVAILABLE" => Error::BackendNotAvailable {
                    reason: format!("{} stream: {message}", side.as_str()),
                },
                _ => Error::Stream {
                    reason: format!("{} stream: {message}", side.as_str()),
                },
            }),
            EngineEvent::Xrun { side, kind, source } => {
                let who = match source {
                    XrunSource::Device => "reported by the device",
                    XrunSource::Engine => "in resonode's stream queue",
                };
                let reason = format!("{} stream, {who}", side.as_str());
                Some(match kind {
                    XrunKind::Underrun => Error::BufferUnderrun { reason },
                    XrunKind::Overrun => Error::BufferOverrun { reason },
                })
            }
            EngineEvent::DeviceLost { side } => Some(Error::Stream {
                reason: format!(
                    "the {} device was lost (disconnected or invalidated)",
                    side.as_str()
                ),
            }),
            EngineEvent::RestartFailed { message, .. } => Some(Error::Stream {
                reason: message.clone(),
            }),
            EngineEvent::WorkerUnderrun {
                processor,
                kind,
                frames,
            } => Some(Error::BufferUnderrun {
                reason: format!(
                    "processor {processor} ({kind}): its worker thread fell behind; \
                     {frames} frames were replaced by silence"
                ),
            }),
            EngineEvent::Panic { side, restarting } => Some(Error::Internal {
                message: format!(
                    "a panic in the audio callback ({}); {}",
                    match side {
                        Some(s) => format!("{} stream, outside the chain", s.as_str()),
                        None => "in the processor chain".into(),
                    },
                    if *restarting {
                        "the chain was reset and runs again (autoRestart)"
                    } else {
                        "the engine outputs silence from now on"
                    }
                ),
            }),
            EngineEvent::WorkerError { processor, kind } => Some(Error::Internal {
                message: format!(
                    "processor {processor} ({kind}): its worker thread failed; its output is silence until it recovers"
                ),
            }),
            EngineEvent::Internal { message } => Some(Error::Internal { message: message.clone() }),
            _ => None,
        }
    }

    /// A readable description: the error's message for error-like events.
    pub fn message(&self) -> String {
        if let Some(e) = self.to_error() {
            return e.to_string();
        }
        match self {
            EngineEvent::Restarted { attempt } => format!("running again after a loss or a failure (restart {attempt})"),
            EngineEvent::ParameterRejected { processor, param, value } => {
                format!("processor {processor} refused {param} = {value}")
            }
            EngineEvent::Dropped { count } => format!("{count} events were lost (their queue was full)"),
            EngineEvent::BackendFallback { reason } => {
                format!("no audio device: running on the clocked `none` backend ({reason})")
            }
            other => format!("{other:?}"),
        }
    }

    /// A short name for the event: `"error"`, `"xrun"`, `"deviceLost"`,
    /// `"restarted"`, `"restartFailed"`, `"parameterRejected"`, `"dropped"`,
    /// `"fallback"`.
    pub fn name(&self) -> &'static str {
        match self {
            EngineEvent::StreamError { .. } => "error",
            EngineEvent::Xrun { .. } | EngineEvent::WorkerUnderrun { .. } => "xrun",
            EngineEvent::DeviceLost { .. } => "deviceLost",
            EngineEvent::Restarted { .. } => "restarted",
            EngineEvent::RestartFailed { .. } => "restartFailed",
            EngineEvent::ParameterRejected { .. } => "parameterRejected",
            EngineEvent::Dropped { .. } => "dropped",
            EngineEvent::Panic { .. } | EngineEvent::WorkerError { .. } | EngineEvent::Internal { .. } => "error",
            EngineEvent::BackendFallback { .. } => "fallback",
        }
    }
}

/// The writing end of one event queue; lives on the audio thread.
pub(crate) struct EventSink {
    producer: Producer<RawEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// Queues `e`, or counts it as dropped when the queue is full.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    #[inline]
    pub(crate) fn push(&mut self, e: RawEvent) {
        if !self.producer.push(e) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The reading ends of every event queue of an engine.
#[derive(Default)]
pub(crate) struct EventHub {
    consumers: Mutex<Vec<Consumer<RawEvent>>>,
    dropped: Arc<AtomicU64>,
    /// Events the control thread says (not the audio thread), in order.
    notices: Mutex<Vec<EngineEvent>>,
}

impl EventHub {
    /// A new queue; allocates, so call it off the audio thread.
    pub(crate) fn sink(&self) -> EventSink {
        let (producer, consumer) = ring::channel_of::<RawEvent>(EVENT_CAPACITY, 1);
        self.consumers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(consumer);
        EventSink {
            producer,
            dropped: self.dropped.clone(),
        }
    }

    /// Queues an event said by a non-real-time thread (the control thread).
    pub(crate) fn notice(&self, e: EngineEvent) {
        self.notices.lock().unwrap_or_else(|e| e.into_inner()).push(e);
    }

    /// Everything queued since the last call, oldest first per queue.
    pub(crate) fn drain(&self) -> Vec<EngineEvent> {
        let mut out: Vec<EngineEvent> =
            std::mem::take(&mut *self.notices.lock().unwrap_or_else(|e| e.into_inner()));
        let mut consumers = self.consumers.lock().unwrap_or_else(|e| e.into_inner());
        for c in consumers.iter_mut() {
            while let Some(raw) = c.pop() {
                if let Some(e) = self.convert(raw) {
                    out.push(e);
                }
            }
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            out.push(EngineEvent::Dropped { count: dropped });
        }
        out
    }

    fn convert(&self, raw: RawEvent) -> Option<EngineEvent> {
        Some(match raw {
            RawEvent::None => return None,
            RawEvent::StreamError { side, kind } => {
                let code = match kind {
                    cpal::ErrorKind::HostUnavailable | cpal::ErrorKind::DeviceNotAvailable => {
                        "ERR_BACKEND_NOT_AVAILABLE"
                    }
                    _ => "ERR_STREAM",
                };
                EngineEvent::StreamError {
                    side,
                    code,
                    message: kind.to_string(),
                }
            }
            RawEvent::Xrun { side, kind, source } => EngineEvent::Xrun { side, kind, source },
            RawEvent::DeviceLost { side } => EngineEvent::DeviceLost { side },
            RawEvent::ParameterRejected {
                processor,
                param,
                value,
            } => EngineEvent::ParameterRejected {
                processor,
                param,
                value,
            },
            RawEvent::WorkerUnderrun {
                processor,
                kind,
                frames,
            } => EngineEvent::WorkerUnderrun {
                processor,
                kind,
                frames,
            },
            RawEvent::CallbackPanic { side, restarting } => EngineEvent::Panic { side, restarting },
            RawEvent::ChainRestarted { attempt } => EngineEvent::Restarted { attempt },
            RawEvent::WorkerError { processor, kind } => EngineEvent::WorkerError { processor, kind },
        })
    }
}
