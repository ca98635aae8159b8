//! # resonode-device
//!
//! Live audio for resonode: device listing on cpal, the [`RealtimeEngine`]
//! that runs a processor [`Chain`](resonode_core::Chain) inside the audio
//! callback, the clocked `none` backend, and [`MicrophoneSource`] /
//! [`SpeakerSink`] for the streaming pipeline.
//!
//! ## Real-time guarantees
//! - The audio callback body ([`Renderer::render`] and the per-stream
//!   states around it) never allocates, locks, blocks, logs, does I/O or
//!   calls into JS. Every buffer it touches is allocated when the engine
//!   starts; the `no_alloc` test runs it under an allocation-aborting guard
//!   for every built-in processor kind and for long chains, with parameter
//!   changes in flight and the tap enabled.
//! - Everything crossing threads goes through wait-free SPSC rings
//!   ([`resonode_core::ring`]): parameter changes in ([`ParamChange`],
//!   applied at the next buffer boundary; filters keep their state, gains
//!   ramp), processed audio out (tap, capture), events out
//!   ([`EngineEvent`]), and counters are relaxed atomics.
//! - Level meters ([`Levels`]: peak and RMS per channel of the input before
//!   the chain and of the output after it) are measured in the callbacks
//!   over every frame into preallocated atomics; [`RealtimeEngine::levels`]
//!   reads them from the control side.
//! - cpal's error callback (which ALSA calls on the audio thread) only
//!   counts and queues a `Copy` record; messages are made when events are
//!   polled.
//! - Processors that need the whole signal first (`normalize`) are refused
//!   in real-time chains with `ERR_INVALID_PARAMETER`.
//! - Processors too heavy for the callback (`enhance`, GTCRN from
//!   `resonode-ml`) hand their work to a worker thread through wait-free
//!   rings and add a fixed latency; their
//!   [`WorkerStats`](resonode_core::WorkerStats) (latency, underruns) are
//!   relaxed atomics that the renderer turns into
//!   [`EngineEvent::WorkerUnderrun`] events and the engine into
//!   [`EngineStats`] fields. Chains with such processors start through
//!   [`RealtimeEngine::start_with_shadow`].
//! - Nothing blocks without a bound: device enumeration and opening give up
//!   after a timeout with `ERR_BACKEND_NOT_AVAILABLE` / `ERR_STREAM`.
//! - A panic in the callback never leaves it: in the chain it is caught by
//!   [`Renderer::render`] (silence, an `error` event, and with
//!   `auto_restart` a chain reset), around it by the stream's callback
//!   (silence from then on). Lost streams (device unplugged, audio server
//!   restarted) are rebuilt by default ([`EngineOptions::auto_restart`]).
//! - Events and tapped audio reach the application through the [`pump`]:
//!   control events are never dropped; audio blocks only when the receiver
//!   is too slow, and then counted.
//!
//! ## Threads
//! cpal's `Stream` is `!Send` on some hosts, so a dedicated control thread
//! owns the streams and is driven by messages; see [`engine`].
//!
//! ## Backends
//! [`Backend::Default`] is the best host running: on Linux JACK when a JACK
//! server is running, else PulseAudio (or PipeWire's PulseAudio server)
//! spoken natively when its socket is found through `PULSE_SERVER`,
//! `PULSE_RUNTIME_PATH` or `XDG_RUNTIME_DIR`, otherwise ALSA.
//! [`Backend::Alsa`], [`Backend::PulseAudio`] and [`Backend::Jack`] choose
//! one explicitly (see [`devices`] for why JACK comes first and why
//! PulseAudio is not reached through ALSA's `pulse` plugin). [`Backend::None`] is an explicit clocked backend
//! without hardware that calls the same render path every buffer period;
//! it is never chosen silently: [`Backend::Auto`] falls back to it when no
//! device opens, and says so in an [`EngineEvent::BackendFallback`].
//!
//! ## Example
//! ```
//! use resonode_device::{Backend, EngineOptions, RealtimeEngine, StreamConfig};
//!
//! let specs = resonode_core::chain_spec::parse("highpass(80) gain(-3db)")?;
//! let options = EngineOptions { tap_frames: Some(48_000), max_frames: Some(4800), ..Default::default() };
//! // The clocked backend needs no hardware; use Backend::Default for a device.
//! let engine = RealtimeEngine::start_from_specs(StreamConfig::duplex(1, 2), &specs, Backend::None, options)?;
//! engine.set_parameter("1.db", -6.0)?; // applied at the next buffer boundary
//! engine.wait_finished(std::time::Duration::from_secs(5));
//! let stats = engine.stop()?;
//! assert_eq!(stats.frames, 4800);
//! # Ok::<(), resonode_core::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod analysis;
mod callbacks;
pub mod config;
pub mod devices;
mod duplex;
pub mod engine;
pub mod events;
mod meters;
pub mod pipeline;
pub mod priority;
pub mod pump;
pub mod render;
pub mod test_device;

pub use callbacks::ClockMark;
pub use config::{Direction, LatencyHint, StreamConfig};
pub use devices::{
    default_input_device, default_output_device, list_devices, list_devices_filtered, Backend,
    DeviceFilter, DeviceInfo,
};
pub use engine::{EngineOptions, EngineStats, RealtimeEngine};
pub use events::{EngineEvent, StreamSide, XrunKind, XrunSource};
pub use meters::{ChannelLevels, Levels, LEVEL_FLOOR_DBFS};
pub use pump::{ControlMessage, Delivery, PumpSink};
pub use pipeline::{MicrophoneSource, SpeakerSink};
pub use render::{ParamChange, RenderStats, Renderer};
pub use test_device::{test_device, DeviceTestReport};

// Makes `assert_no_alloc` abort the unit-test binary on any allocation inside
// a guarded closure: the clocked backend runs every callback under the guard
// in tests, so each engine test below is also an allocation test.
#[cfg(test)]
#[global_allocator]
static ALLOC_GUARD: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
