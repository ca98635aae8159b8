//! The state each audio callback owns, and what it does per buffer.
//!
//! Every `process` method here runs on the audio thread (cpal's worker, or
//! the clocked `none` backend's thread). They never allocate, lock, block,
//! log or do I/O: all buffers are allocated when the state is built, on the
//! control thread, and every queue is a wait-free SPSC ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use resonode_core::ring::{Consumer, Producer};

use crate::duplex::{DuplexQueue, Fill};
use crate::events::{EventSink, RawEvent, StreamSide, XrunKind, XrunSource};
use crate::meters::MeterWriter;
use crate::render::Renderer;

/// `u64::MAX` marks "not known yet" in the atomics below.
pub(crate) const UNSET: u64 = u64::MAX;

/// Counters and clocks shared by the callbacks and the control side.
#[derive(Debug)]
pub(crate) struct Shared {
    pub epoch: Instant,
    pub device_underruns: AtomicU64,
    pub device_overruns: AtomicU64,
    pub engine_underruns: AtomicU64,
    pub engine_overruns: AtomicU64,
    /// Raised when the engine starts shutting down: the streams stop one
    /// after the other, so resonode's own queues run dry or full for a
    /// moment; that is teardown, not a glitch, and is not counted.
    pub stopping: AtomicBool,
    /// Silent frames played between queued frames because the playback
    /// queue ran dry (silence after the last queued frame is not counted).
    pub playback_starved: AtomicU64,
    /// Output-stream frame at which the first frame from the playback queue
    /// was played (UNSET until then).
    pub playback_start_frame: AtomicU64,
    /// Frames taken from the playback queue.
    pub playback_consumed: AtomicU64,
    pub output_frames: AtomicU64,
    pub input_frames: AtomicU64,
    /// Device-reported delay from output callback to playback, ns.
    pub output_delay_ns: AtomicU64,
    /// Device-reported delay from capture to input callback, ns.
    pub input_delay_ns: AtomicU64,
    /// Frames waiting in the duplex queue at the last output callback.
    pub duplex_backlog: AtomicU64,
    /// The duplex queue's current prime (it grows after underruns), frames.
    pub duplex_prime: AtomicU64,
    /// Times the duplex queue dropped a lasting excess (see
    /// [`crate::duplex`]).
    pub drift_corrections: AtomicU64,
    /// Frames those corrections dropped.
    pub drift_frames_dropped: AtomicU64,
    /// Set by an error callback when the stream is gone.
    pub lost: AtomicBool,
    /// The control thread stopped trying to reopen lost streams.
    pub gave_up: AtomicBool,
    /// Attempts to reopen lost streams.
    pub restart_attempts: std::sync::atomic::AtomicU32,
    /// The clocked backend reached its frame limit.
    pub finished: AtomicBool,
    /// Audio threads granted real-time scheduling (see [`crate::priority`]).
    pub realtime_threads: std::sync::atomic::AtomicU32,
    /// Audio threads whose request for it was refused.
    pub realtime_refused: std::sync::atomic::AtomicU32,
    /// [`crate::priority::Mechanism::code`] of the last grant.
    pub realtime_mechanism: std::sync::atomic::AtomicU8,
    /// A callback panicked outside the chain (the renderer catches the
    /// chain's own panics): its state may be inconsistent, so every later
    /// callback outputs silence. The engine is failed for good.
    pub callback_failed: AtomicBool,
    /// Panics caught in callbacks, outside the chain.
    pub callback_panics: AtomicU64,
}

/// When a callback ran and which frames of its stream it handled: the raw
/// material for measuring latency (see [`crate::test_device::round_trip_ms`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockMark {
    /// Nanoseconds since [`crate::RealtimeEngine::epoch`] when the callback began.
    pub at_ns: u64,
    /// Stream index of the first frame the callback handled.
    pub first_frame: u64,
    /// Frames it handled.
    pub frames: u32,
}

impl ClockMark {
    /// Whether this callback handled stream frame `frame`.
    pub fn contains(&self, frame: u64) -> bool {
        frame >= self.first_frame && frame < self.first_frame + self.frames as u64
    }
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            epoch: Instant::now(),
            device_underruns: AtomicU64::new(0),
            device_overruns: AtomicU64::new(0),
            engine_underruns: AtomicU64::new(0),
            engine_overruns: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            playback_starved: AtomicU64::new(0),
            playback_start_frame: AtomicU64::new(UNSET),
            playback_consumed: AtomicU64::new(0),
            output_frames: AtomicU64::new(0),
            input_frames: AtomicU64::new(0),
            output_delay_ns: AtomicU64::new(UNSET),
            input_delay_ns: AtomicU64::new(UNSET),
            duplex_backlog: AtomicU64::new(UNSET),
            duplex_prime: AtomicU64::new(UNSET),
            drift_corrections: AtomicU64::new(0),
            drift_frames_dropped: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
            restart_attempts: std::sync::atomic::AtomicU32::new(0),
            finished: AtomicBool::new(false),
            realtime_threads: std::sync::atomic::AtomicU32::new(0),
            realtime_refused: std::sync::atomic::AtomicU32::new(0),
            realtime_mechanism: std::sync::atomic::AtomicU8::new(0),
            callback_failed: AtomicBool::new(false),
            callback_panics: AtomicU64::new(0),
        }
    }

    /// Counts what a promotion request for an audio thread got.
    pub(crate) fn count_promotion(&self, got: crate::priority::Mechanism) {
        if got == crate::priority::Mechanism::None {
            self.realtime_refused.fetch_add(1, Ordering::Relaxed);
        } else {
            self.realtime_threads.fetch_add(1, Ordering::Relaxed);
            self.realtime_mechanism.store(got.code(), Ordering::Relaxed);
        }
    }

    /// Records a panic caught in a callback outside the chain: from now on
    /// the callbacks output silence (see [`Shared::callback_failed`]).
    ///
    /// # Real-time safety
    /// Atomics and a wait-free event push. The panic payload is leaked, not
    /// freed: freeing it would be a deallocation on the audio thread (the
    /// panic itself already allocated; it happens at most once per stream).
    pub(crate) fn callback_panicked(
        &self,
        events: &mut EventSink,
        side: StreamSide,
        payload: Box<dyn std::any::Any + Send>,
    ) {
        std::mem::forget(payload);
        self.callback_panics.fetch_add(1, Ordering::Relaxed);
        self.callback_failed.store(true, Ordering::Relaxed);
        events.push(RawEvent::CallbackPanic { side: Some(side), restarting: false });
    }

    /// Queues a [`ClockMark`] for a callback at `now` that handled
    /// `frames` frames from `first_frame` on; dropped when the queue is full.
    ///
    /// # Real-time safety
    /// Wait-free.
    #[inline]
    pub(crate) fn mark(
        &self,
        marks: &mut Option<Producer<ClockMark>>,
        now: Instant,
        first_frame: u64,
        frames: usize,
    ) {
        if let Some(m) = marks.as_mut() {
            let at_ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
            m.push(ClockMark {
                at_ns,
                first_frame,
                frames: frames as u32,
            });
        }
    }

    /// Counts an xrun and queues its event.
    ///
    /// # Real-time safety
    /// Wait-free.
    #[inline]
    pub(crate) fn xrun(
        &self,
        events: &mut EventSink,
        side: StreamSide,
        kind: XrunKind,
        source: XrunSource,
    ) {
        if source == XrunSource::Engine && self.stopping.load(Ordering::Relaxed) {
            return;
        }
        let counter = match (source, kind) {
            (XrunSource::Device, XrunKind::Underrun) => &self.device_underruns,
            (XrunSource::Device, XrunKind::Overrun) => &self.device_overruns,
            (XrunSource::Engine, XrunKind::Underrun) => &self.engine_underruns,
            (XrunSource::Engine, XrunKind::Overrun) => &self.engine_overruns,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        events.push(RawEvent::Xrun { side, kind, source });
    }
}

/// The first callback on each audio thread hands that thread to the
/// engine's control thread, which asks for real-time scheduling (see
/// [`crate::priority`]).
pub(crate) struct ThreadAnnouncer {
    tx: Option<Producer<Option<crate::priority::ThreadHandle>>>,
}

impl ThreadAnnouncer {
    /// An announcer and the control thread's end; `enabled: false` makes one
    /// that never announces.
    pub(crate) fn new(
        enabled: bool,
    ) -> (ThreadAnnouncer, Option<Consumer<Option<crate::priority::ThreadHandle>>>) {
        if !enabled {
            return (ThreadAnnouncer { tx: None }, None);
        }
        let (tx, rx) = resonode_core::ring::channel_of::<Option<crate::priority::ThreadHandle>>(8, 1);
        (ThreadAnnouncer { tx: Some(tx) }, Some(rx))
    }

    /// Queues the calling thread once per stream (`asked` lives in the
    /// stream's callback closure).
    ///
    /// # Real-time safety
    /// A few non-blocking system calls once per thread and a wait-free push;
    /// no allocation.
    #[inline]
    pub(crate) fn announce_once(&mut self, asked: &mut bool) {
        if *asked {
            return;
        }
        *asked = true;
        if let Some(tx) = self.tx.as_mut() {
            tx.push(crate::priority::ThreadHandle::current());
        }
    }
}

/// Where the output callback's render input comes from.
pub(crate) enum Feed {
    /// Silence (an output-only engine running a generator-free chain).
    Silence,
    /// Frames an app writes ([`crate::SpeakerSink`]); silence when empty.
    Playback(Consumer),
    /// The duplex queue filled by the input callback (a jitter buffer; see
    /// [`crate::duplex`]).
    Duplex(DuplexQueue),
}

/// What the output callback owns.
pub(crate) struct OutputState {
    pub renderer: Renderer,
    pub feed: Feed,
    /// Render input, `chunk_frames * feed channels`.
    pub in_buf: Box<[f32]>,
    /// Render output for non-f32 devices, `chunk_frames * channels_out`.
    pub out_buf: Box<[f32]>,
    pub chunk_frames: usize,
    pub feed_channels: usize,
    pub channels_out: usize,
    pub shared: Arc<Shared>,
    pub events: EventSink,
    pub playback_seen: bool,
    /// Silent frames played since the playback queue last had data; they
    /// count as starved only if more data follows (a gap, not the end).
    pub pending_starved: u64,
    pub marks: Option<Producer<ClockMark>>,
    pub announcer: ThreadAnnouncer,
    /// Levels of what goes to the device, after the chain.
    pub meter: MeterWriter,
}

impl OutputState {
    /// Fills one f32 device buffer.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub(crate) fn process_f32(&mut self, data: &mut [f32], now: Instant) {
        let k0 = self.begin(data.len() / self.channels_out, now);
        let ch = self.channels_out;
        let mut start = 0;
        while start < data.len() / ch {
            let n = (data.len() / ch - start).min(self.chunk_frames);
            self.fill_input(n, k0 + start as u64);
            let input = &self.in_buf[..n * self.feed_channels];
            let out = &mut data[start * ch..(start + n) * ch];
            self.renderer.render(input, out);
            self.meter.record(out);
            start += n;
        }
    }

    /// Fills one device buffer of another sample format through `out_buf`.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub(crate) fn process_with<T>(
        &mut self,
        data: &mut [T],
        now: Instant,
        convert: impl Fn(f32) -> T,
    ) {
        let k0 = self.begin(data.len() / self.channels_out, now);
        let ch = self.channels_out;
        let mut start = 0;
        while start < data.len() / ch {
            let n = (data.len() / ch - start).min(self.chunk_frames);
            self.fill_input(n, k0 + start as u64);
            let input = &self.in_buf[..n * self.feed_channels];
            let out = &mut self.out_buf[..n * ch];
            self.renderer.render(input, out);
            self.meter.record(out);
            for (d, &s) in data[start * ch..(start + n) * ch]
                .iter_mut()
                .zip(out.iter())
            {
                *d = convert(s);
            }
            start += n;
        }
    }

    /// Counts the device buffer, updates the clock anchor, trims a duplex
    /// backlog; returns the output-stream index of the buffer's first frame.
    ///
    /// # Real-time safety
    /// Atomics and ring reads only.
    fn begin(&mut self, frames: usize, now: Instant) -> u64 {
        let k0 = self
            .shared
            .output_frames
            .fetch_add(frames as u64, Ordering::Relaxed);
        self.shared.mark(&mut self.marks, now, k0, frames);
        if let Feed::Duplex(queue) = &mut self.feed {
            let backlog = queue.backlog();
            self.shared
                .duplex_backlog
                .store(backlog as u64, Ordering::Relaxed);
            let dropped = queue.begin(frames);
            if dropped > 0 {
                // The input device delivered more than the output device
                // played for a whole window: their clocks disagree (or the
                // server stalled the output). Not an xrun of either stream;
                // the excess goes so latency stays bounded.
                self.shared.drift_corrections.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .drift_frames_dropped
                    .fetch_add(dropped as u64, Ordering::Relaxed);
            }
            self.shared
                .duplex_prime
                .store(queue.prime() as u64, Ordering::Relaxed);
        }
        k0
    }

    /// Puts `n` frames of render input into `in_buf`; `frame` is the
    /// output-stream index of the first of them.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    fn fill_input(&mut self, n: usize, frame: u64) {
        let fch = self.feed_channels;
        let buf = &mut self.in_buf[..n * fch];
        match &mut self.feed {
            Feed::Silence => buf.fill(0.0),
            Feed::Playback(queue) => {
                let got = queue.read(buf);
                buf[got * fch..].fill(0.0);
                if got > 0 {
                    if !self.playback_seen {
                        self.playback_seen = true;
                        self.shared
                            .playback_start_frame
                            .store(frame, Ordering::Relaxed);
                    }
                    if self.pending_starved > 0 {
                        self.shared
                            .playback_starved
                            .fetch_add(self.pending_starved, Ordering::Relaxed);
                        self.pending_starved = 0;
                    }
                    self.shared
                        .playback_consumed
                        .fetch_add(got as u64, Ordering::Relaxed);
                }
                if self.playback_seen && got < n {
                    self.pending_starved += (n - got) as u64;
                }
            }
            Feed::Duplex(queue) => {
                if queue.fill(buf, fch) == Fill::Short {
                    self.shared.xrun(
                        &mut self.events,
                        StreamSide::Output,
                        XrunKind::Underrun,
                        XrunSource::Engine,
                    );
                }
            }
        }
    }
}

/// What an input callback owns. An input-only engine renders its chain
/// here and queues the result for the app; a duplex engine's input callback
/// only queues what it captured, and its output callback renders (one place
/// for the chain, so the two streams never run it concurrently).
pub(crate) struct InputState {
    /// The chain of an input-only engine and its output buffer
    /// (`chunk_frames * renderer channels`); `None` in a duplex engine.
    pub render: Option<(Renderer, Box<[f32]>)>,
    /// Device samples converted to f32, `chunk_frames * channels_in`.
    pub in_buf: Box<[f32]>,
    pub chunk_frames: usize,
    pub channels_in: usize,
    /// Where the frames go: the app's capture ring (input-only; `None` when
    /// nothing reads it, see [`crate::EngineOptions::capture`]) or the
    /// duplex queue the output callback reads.
    pub queue: Option<Producer>,
    pub shared: Arc<Shared>,
    pub events: EventSink,
    pub marks: Option<Producer<ClockMark>>,
    pub announcer: ThreadAnnouncer,
    /// Levels of the device's samples, before the chain.
    pub meter: MeterWriter,
}

impl InputState {
    /// Processes one captured device buffer (interleaved, `channels_in`
    /// channels) into the queue, in pieces of at most `chunk_frames`. A
    /// full queue loses frames and counts one overrun for the buffer.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub(crate) fn process<T: Copy>(
        &mut self,
        data: &[T],
        now: Instant,
        convert: impl Fn(T) -> f32,
    ) {
        let cin = self.channels_in;
        let frames = data.len() / cin;
        let j0 = self
            .shared
            .input_frames
            .fetch_add(frames as u64, Ordering::Relaxed);
        self.shared.mark(&mut self.marks, now, j0, frames);
        let mut lost = false;
        let mut start = 0;
        while start < frames {
            let n = (frames - start).min(self.chunk_frames);
            let input = &mut self.in_buf[..n * cin];
            for (d, &s) in input.iter_mut().zip(&data[start * cin..(start + n) * cin]) {
                *d = convert(s);
            }
            self.meter.record(input);
            let piece: &[f32] = match &mut self.render {
                Some((renderer, out_buf)) => {
                    let out = &mut out_buf[..n * renderer.channels()];
                    renderer.render(input, out);
                    out
                }
                None => input,
            };
            if let Some(queue) = self.queue.as_mut() {
                if queue.write(piece) < n {
                    lost = true;
                }
            }
            start += n;
        }
        if lost {
            self.shared.xrun(
                &mut self.events,
                StreamSide::Input,
                XrunKind::Overrun,
                XrunSource::Engine,
            );
        }
    }
}

/// Callback state shared between a cpal closure (which uses it on the
/// audio thread) and the control thread (which can take it back at any
/// time, even from a stream that is hung or will never be dropped, so a
/// restarted stream continues with the same chain, queues and stats).
///
/// A Dekker-style handshake on two `SeqCst` flags: the callback raises
/// `in_callback`, then checks `revoked`; the control thread raises
/// `revoked`, then waits for `in_callback` to fall. Whichever order the two
/// stores happen in, either the callback sees `revoked` and leaves the state
/// alone, or the control thread sees the callback inside and waits for it.
pub(crate) struct StateSlot<T> {
    state: std::cell::UnsafeCell<Option<T>>,
    in_callback: AtomicBool,
    revoked: AtomicBool,
}

// SAFETY: the state is only touched by the one audio thread inside `with`
// (while `in_callback` is raised and `revoked` was seen false) or by the
// control thread in `revoke` after it raised `revoked` and saw
// `in_callback` fall; the SeqCst handshake makes those two exclusive (see
// the type docs). `T: Send` because the state moves between those threads.
unsafe impl<T: Send> Sync for StateSlot<T> {}
// SAFETY: as above; the slot owns its state.
unsafe impl<T: Send> Send for StateSlot<T> {}

impl<T> StateSlot<T> {
    pub(crate) fn new(state: T) -> Arc<Self> {
        Arc::new(StateSlot {
            state: std::cell::UnsafeCell::new(Some(state)),
            in_callback: AtomicBool::new(false),
            revoked: AtomicBool::new(false),
        })
    }

    /// Runs `f` on the state unless the control thread took it back.
    /// Called by exactly one audio thread at a time (cpal calls a stream's
    /// data callback sequentially).
    ///
    /// # Real-time safety
    /// Wait-free: three atomic operations around `f`.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.in_callback.store(true, Ordering::SeqCst);
        if self.revoked.load(Ordering::SeqCst) {
            self.in_callback.store(false, Ordering::SeqCst);
            return None;
        }
        // SAFETY: `revoked` was false after we raised `in_callback`, so the
        // control thread has not taken the state and will not until we lower
        // the flag; no other audio thread runs this stream's callback.
        let result = unsafe { (*self.state.get()).as_mut().map(f) };
        self.in_callback.store(false, Ordering::SeqCst);
        result
    }

    /// Takes the state back for good, waiting at most `timeout` for a
    /// callback in progress to finish. `None` if one never finishes or the
    /// state was already taken.
    pub(crate) fn revoke(&self, timeout: std::time::Duration) -> Option<T> {
        self.revoked.store(true, Ordering::SeqCst);
        let end = Instant::now() + timeout;
        while self.in_callback.load(Ordering::SeqCst) {
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        // SAFETY: `revoked` is raised and `in_callback` was seen low after
        // that, so no callback is inside `with` and none will enter it; we
        // are the only control thread holding this slot.
        unsafe { (*self.state.get()).take() }
    }
}
