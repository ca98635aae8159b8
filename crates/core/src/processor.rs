//! The [`Processor`] trait: one audio effect working on planar blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::{AudioBlock, AudioBlockMut, ParamError, Result};

/// What a processor is told about the stream before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// The largest block, in frames, that [`Processor::process`] will be given.
    pub max_block_frames: usize,
}

impl StreamSpec {
    /// The Nyquist frequency in Hz.
    pub fn nyquist(&self) -> f64 {
        self.sample_rate as f64 / 2.0
    }
}

/// An audio effect over planar `f32` blocks (channels x frames).
///
/// Lifecycle: [`prepare`](Processor::prepare) (may allocate; learns sample
/// rate and channel count from the stream), then any number of
/// [`process`](Processor::process) calls on blocks of any size up to
/// `max_block_frames`, with [`set_parameter`](Processor::set_parameter)
/// between blocks and [`reset`](Processor::reset) to clear signal state.
///
/// # Real-time safety
/// `process`, `set_parameter` and `reset` must never allocate, lock, block or
/// do I/O: the same processor runs inside the audio callback. Tests enforce
/// this with an allocation-counting guard.
pub trait Processor: Send {
    /// Short name of the processor kind, as in chain strings (`"lowpass"`).
    fn kind(&self) -> &'static str;

    /// Called before the first block and whenever the stream changes.
    /// Allocates whatever `process` needs and recomputes coefficients.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when a parameter is not valid for this
    /// stream (e.g. a cutoff at or above Nyquist).
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()>;

    /// Processes one block in place.
    fn process(&mut self, block: &mut AudioBlockMut<'_>);

    /// Clears all signal state (filter memories, delay lines, envelopes)
    /// without changing parameters.
    fn reset(&mut self);

    /// Names of the parameters [`set_parameter`](Processor::set_parameter) accepts.
    fn parameter_names(&self) -> &'static [&'static str];

    /// Changes a parameter between blocks. Filters recompute coefficients and
    /// keep their state, so a change does not click. Before `prepare` the
    /// value is only stored.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError>;

    /// Current value of a parameter, if it has that name.
    fn parameter(&self, name: &str) -> Option<f64>;

    /// Whether this processor needs to see the whole signal first (a
    /// two-pass processor such as peak normalisation).
    fn needs_analysis(&self) -> bool {
        false
    }

    /// Analysis pass: sees every block of the signal that will later be
    /// processed, in order. Only called when `needs_analysis` is true.
    fn analyze(&mut self, _block: &AudioBlock<'_>) {}

    /// Called after the last analysed block.
    fn finish_analysis(&mut self) {}

    /// Counters shared with the control side, for a processor that hands
    /// its work to a worker thread (such as `enhance`, whose neural network
    /// cannot run in the audio callback) and so adds a fixed latency and can
    /// fall behind. `None` (the default) for ordinary processors.
    ///
    /// Called on the control thread, after [`prepare`](Processor::prepare),
    /// before the processor moves to the audio thread; the `Arc` stays
    /// readable from there while the processor runs.
    fn worker_stats(&self) -> Option<Arc<WorkerStats>> {
        None
    }
}

/// What a processor with a worker thread (see [`Processor::worker_stats`])
/// reports while it runs. Relaxed atomics: the audio thread and the worker
/// update them, any thread reads them; each value is consistent on its own.
///
/// # Real-time safety
/// Reading and updating the counters never allocate, lock or block (the
/// last error message, off the audio thread only, locks).
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// The fixed delay the processor adds, in frames: output frame `k` is the
    /// processed input frame `k - latency_frames`. Set by `prepare`.
    pub latency_frames: AtomicU64,
    /// Sample rate the processor was prepared for, in Hz (to turn frames
    /// into milliseconds).
    pub sample_rate: AtomicU64,
    /// `process` calls in which the worker's output was short (the worker
    /// fell behind): the missing frames were output as silence.
    pub underruns: AtomicU64,
    /// Frames output as silence because the worker's output was short. The
    /// processor skips the late frames when they arrive, so the latency
    /// stays fixed.
    pub underrun_frames: AtomicU64,
    /// Input frames the worker could not take because its queue was full
    /// (it stalled for longer than the queue holds); it processes silence
    /// in their place, keeping the alignment.
    pub dropped_frames: AtomicU64,
    /// Frames the worker has processed.
    pub worker_frames: AtomicU64,
    /// Nanoseconds the worker spent processing them (not waiting).
    pub worker_busy_ns: AtomicU64,
    /// Failures on the worker (e.g. inference errors, and the panics of
    /// [`worker_panics`](WorkerStats::worker_panics)); the affected frames
    /// are output as silence and the worker starts over. A rise is what an
    /// engine reports as an error event; [`last_worker_error`](WorkerStats::last_worker_error)
    /// says what happened.
    pub worker_errors: AtomicU64,
    /// Of [`worker_errors`](WorkerStats::worker_errors), the panics caught
    /// on the worker thread (a bug, never an expected failure). The worker
    /// survives them: it outputs silence for the frames in flight and
    /// starts over, or outputs silence from then on if it cannot.
    pub worker_panics: AtomicU64,
    /// 1 when the worker thread runs under a real-time scheduling policy
    /// (`SCHED_FIFO` on Linux, below the audio threads), 0 when the OS
    /// refused it or it was not asked for.
    pub worker_realtime: AtomicU64,
    /// The message of the last worker failure. Written by the worker after
    /// a failure, read by the control side; never touched by the audio
    /// thread (a mutex, unlike the counters).
    last_error: Mutex<Option<String>>,
}

impl WorkerStats {
    /// A new, zeroed set of counters.
    pub fn new() -> Arc<WorkerStats> {
        Arc::new(WorkerStats::default())
    }

    /// [`latency_frames`](WorkerStats::latency_frames) in milliseconds (0
    /// before `prepare`).
    pub fn latency_ms(&self) -> f64 {
        let sr = self.sample_rate.load(Ordering::Relaxed);
        if sr == 0 {
            return 0.0;
        }
        self.latency_frames.load(Ordering::Relaxed) as f64 * 1000.0 / sr as f64
    }

    /// Worker processing time over the duration of the audio it processed
    /// (0.5: the worker is busy half of real time; above 1 it cannot keep up).
    pub fn worker_load(&self) -> f64 {
        let sr = self.sample_rate.load(Ordering::Relaxed);
        let frames = self.worker_frames.load(Ordering::Relaxed);
        if sr == 0 || frames == 0 {
            return 0.0;
        }
        self.worker_busy_ns.load(Ordering::Relaxed) as f64 / 1e9 / (frames as f64 / sr as f64)
    }

    /// Records the message of a worker failure (worker thread only; locks).
    pub fn set_last_worker_error(&self, message: impl Into<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.into());
    }

    /// The message of the last worker failure counted in
    /// [`worker_errors`](WorkerStats::worker_errors), if any (control side;
    /// locks briefly, never call it from the audio thread).
    pub fn last_worker_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
