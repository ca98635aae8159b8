//! The event pump: the one non-real-time thread that carries a live
//! engine's events and tapped audio to an application (JS, through the napi
//! layer).
//!
//! The audio thread only writes into wait-free rings (events, tap). Every
//! 10 ms the pump drains them and hands the results to a [`PumpSink`]:
//!
//! - **Control messages** (events such as `error`, `xrun`, `restarted`,
//!   `finished`, and whatever the sink's observer adds) are never dropped:
//!   when the receiver's queue is full they wait, in order, in the pump's own
//!   queue and are offered again on the next cycle. The pump keeps draining
//!   the engine's rings meanwhile, so a busy receiver never makes the audio
//!   thread lose events.
//! - **Audio blocks** are offered once: when the receiver's queue is full
//!   (it is too slow) the block is dropped, its frames are added to
//!   [`crate::EngineStats::tap_dropped`] and a
//!   [`ControlMessage::AudioDropped`] says so.
//! - When the engine finishes by itself, the pump drains the rings one last
//!   time, delivers what they held, then [`ControlMessage::Finished`]; on
//!   [`crate::RealtimeEngine::stop`] it drains and delivers what is left
//!   (waiting at most [`FINAL_FLUSH`]) without `Finished`.
//! - A panic on the pump thread (in the sink, an observer such as a live
//!   analyzer) is caught, reported as [`EngineEvent::Internal`] (an `error`
//!   event) and the pump carries on.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use resonode_core::error::panic_message;
use resonode_core::ring::Consumer;

use crate::events::{EngineEvent, EventHub};
use crate::render::RenderStats;

/// How often the pump drains the engine's rings.
pub const PUMP_PERIOD: Duration = Duration::from_millis(10);

/// Frames per audio message at most.
pub const AUDIO_BLOCK_FRAMES: usize = 4096;

/// Longest wait for a slow receiver to take the last control messages when
/// the engine stops or finishes.
pub const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Control messages kept for a receiver that takes none; beyond this the
/// oldest `xrun`s are dropped (and counted) first.
pub const MAX_PENDING: usize = 65_536;

/// A message that must reach the receiver.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlMessage {
    /// An engine event.
    Event(EngineEvent),
    /// Tapped audio was dropped: the receiver's queue was full, or the tap
    /// ring overflowed because the pump could not keep up.
    AudioDropped {
        /// Frames dropped since the last such message.
        frames: u64,
    },
    /// Something the sink's observer says ([`PumpSink::observe`]), e.g. a
    /// live analyzer's update.
    Custom {
        /// Message kind for the receiver.
        kind: &'static str,
        /// Stable error code for error-like messages.
        code: Option<&'static str>,
        /// Description.
        message: Option<String>,
    },
    /// The engine stopped by itself (frame limit, lost device without a
    /// restart, a failure); always the last message.
    Finished,
}

/// What became of a message offered to the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Taken.
    Delivered,
    /// The receiver's queue is full: try again later (control), or drop
    /// (audio).
    Full,
    /// The receiver is gone: the pump stops.
    Closed,
}

/// Where a pump delivers. Runs on the pump thread.
pub trait PumpSink: Send + 'static {
    /// Offers a control message (again, after [`Delivery::Full`]).
    fn control(&mut self, message: &ControlMessage) -> Delivery;
    /// Offers a block of tapped audio, planar (channels x frames).
    fn audio(&mut self, planar: Vec<Vec<f32>>) -> Delivery;
    /// Sees every tapped block before [`audio`](PumpSink::audio) (e.g. feeds
    /// an analyzer) and may add control messages to `out`.
    fn observe(&mut self, _planar: &[Vec<f32>], _out: &mut Vec<ControlMessage>) {}
    /// Whether tapped audio is offered to [`audio`](PumpSink::audio) at all
    /// (it is always given to [`observe`](PumpSink::observe)).
    fn wants_audio(&self) -> bool {
        true
    }
}

/// What the pump reads from its engine.
pub(crate) struct PumpSource {
    pub hub: Arc<EventHub>,
    pub tap: Option<Consumer>,
    pub render_stats: Arc<RenderStats>,
    /// Frames of audio blocks the receiver did not take (shared with the
    /// engine's stats).
    pub dropped: Arc<AtomicU64>,
    /// Whether the engine has finished by itself.
    pub finished: Box<dyn Fn() -> bool + Send>,
}

/// A running pump thread.
pub(crate) struct Pump {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pump {
    /// Starts the pump thread.
    pub(crate) fn spawn(source: PumpSource, sink: impl PumpSink) -> resonode_core::Result<Pump> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("resonode-pump".into())
            .spawn(move || run(source, sink, flag))
            .map_err(|e| resonode_core::Error::Internal { message: format!("cannot start the event pump: {e}") })?;
        Ok(Pump { stop, thread: Some(thread) })
    }

    /// Asks the pump for its last drain and waits for it (bounded by
    /// [`FINAL_FLUSH`] plus one cycle).
    pub(crate) fn finish(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.finish();
    }
}

struct State {
    pending: VecDeque<ControlMessage>,
    scratch: Vec<f32>,
    reported_drops: u64,
    closed: bool,
}

impl State {
    fn queue(&mut self, m: ControlMessage) {
        if self.pending.len() >= MAX_PENDING {
            // Keep errors, restarts and `finished`; give up the oldest xrun.
            if let Some(i) = self
                .pending
                .iter()
                .position(|m| matches!(m, ControlMessage::Event(EngineEvent::Xrun { .. } | EngineEvent::WorkerUnderrun { .. })))
            {
                self.pending.remove(i);
            }
        }
        self.pending.push_back(m);
    }

    /// Offers the waiting control messages in order; stops at the first the
    /// receiver cannot take. Whether none is left.
    fn flush(&mut self, sink: &mut impl PumpSink) -> bool {
        while let Some(m) = self.pending.front() {
            match sink.control(m) {
                Delivery::Delivered => {
                    self.pending.pop_front();
                }
                Delivery::Full => return false,
                Delivery::Closed => {
                    self.closed = true;
                    self.pending.clear();
                    return true;
                }
            }
        }
        true
    }
}

/// Drains events and the tap once.
fn cycle(src: &mut PumpSource, sink: &mut impl PumpSink, st: &mut State) {
    for e in src.hub.drain() {
        st.queue(ControlMessage::Event(e));
    }
    let Some(tap) = src.tap.as_mut() else { return };
    let ch = tap.channels();
    if st.scratch.len() < AUDIO_BLOCK_FRAMES * ch {
        st.scratch.resize(AUDIO_BLOCK_FRAMES * ch, 0.0);
    }
    let mut said = Vec::new();
    loop {
        let got = tap.read(&mut st.scratch[..AUDIO_BLOCK_FRAMES * ch]);
        if got == 0 {
            break;
        }
        let planar: Vec<Vec<f32>> = (0..ch).map(|c| (0..got).map(|i| st.scratch[i * ch + c]).collect()).collect();
        // An observer's panic loses neither the block nor what it said.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| sink.observe(&planar, &mut said))) {
            said.push(ControlMessage::Event(EngineEvent::Internal {
                message: format!("the event pump's observer (e.g. a live analyzer) caught a panic ({}); it carries on", panic_message(p.as_ref())),
            }));
        }
        for m in said.drain(..) {
            st.queue(m);
        }
        if !sink.wants_audio() || st.closed {
            continue;
        }
        // Control messages first; while they wait the receiver is full and
        // the block could not be taken anyway.
        let delivery = if st.flush(sink) { sink.audio(planar) } else { Delivery::Full };
        match delivery {
            Delivery::Delivered => {}
            Delivery::Full => {
                src.dropped.fetch_add(got as u64, Ordering::Relaxed);
            }
            Delivery::Closed => st.closed = true,
        }
    }
}

fn run(mut src: PumpSource, mut sink: impl PumpSink, stop: Arc<AtomicBool>) {
    let mut st = State { pending: VecDeque::new(), scratch: Vec::new(), reported_drops: 0, closed: false };
    loop {
        // Read before draining: whatever the audio thread wrote before it
        // finished (or before stop() stopped it) is drained below.
        let stopping = stop.load(Ordering::Acquire);
        let finished = (src.finished)();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| cycle(&mut src, &mut sink, &mut st))) {
            st.queue(ControlMessage::Event(EngineEvent::Internal {
                message: format!("the event pump caught a panic ({}); it carries on", panic_message(p.as_ref())),
            }));
        }
        let dropped = src.render_stats.tap_dropped.load(Ordering::Relaxed) + src.dropped.load(Ordering::Relaxed);
        if dropped > st.reported_drops {
            st.queue(ControlMessage::AudioDropped { frames: dropped - st.reported_drops });
            st.reported_drops = dropped;
        }
        if finished || stopping {
            if finished && !stopping {
                st.queue(ControlMessage::Finished);
            }
            let deadline = Instant::now() + FINAL_FLUSH;
            while !flush_guarded(&mut st, &mut sink) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            return;
        }
        flush_guarded(&mut st, &mut sink);
        if st.closed {
            return;
        }
        std::thread::sleep(PUMP_PERIOD);
    }
}

/// [`State::flush`] with a panic in the sink turned into a message.
fn flush_guarded(st: &mut State, sink: &mut impl PumpSink) -> bool {
    match catch_unwind(AssertUnwindSafe(|| st.flush(sink))) {
        Ok(done) => done,
        Err(p) => {
            // The message that made the sink panic goes, or it would again.
            st.pending.pop_front();
            st.queue(ControlMessage::Event(EngineEvent::Internal {
                message: format!("the event pump caught a panic delivering a message ({}); it carries on", panic_message(p.as_ref())),
            }));
            false
        }
    }
}
