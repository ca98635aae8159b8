//! [`LiveEnhancer`]: GTCRN speech enhancement as a processor of a real-time
//! chain (`enhance()` in `resonode live --chain "enhance() gain(3db)"`).
//!
//! # Design
//! The network cannot run in the audio callback (ONNX Runtime allocates and
//! may lock), so the processor is split in two:
//!
//! ```text
//!  audio thread: process(block)                 worker thread (resonode-enhance)
//!  ----------------------------                 --------------------------------
//!  block --write--> [ input ring  ] --read--> StreamingEnhancer::push (GTCRN,
//!                                              16 kHz and back, per channel)
//!  block <--read--- [ return ring ] <--write-- StreamingEnhancer::pull
//!                    (pre-filled with P frames of silence)
//! ```
//!
//! - [`Processor::process`] only moves frames: it writes the block into a
//!   wait-free SPSC ring ([`resonode_core::ring`]) to the worker and reads
//!   the same number of frames back from a second ring. Nothing else.
//! - The worker thread is spawned by [`Processor::prepare`] (control thread,
//!   before streaming starts), which also loads the model (so a missing or
//!   bad model fails there, with `ERR_NOT_FOUND` / `ERR_MODEL`), warms it up,
//!   and pre-fills the return ring with `P` frames of silence. The worker is
//!   stopped and joined when the processor is dropped.
//! - **Fixed latency.** `P` = [`StreamingEnhancer::latency_frames`] (the
//!   bound on how far the enhancer's output lags its input: 3844 frames,
//!   80.1 ms at 48 kHz) + a margin (default 4 blocks of
//!   [`StreamSpec::max_block_frames`], or [`LiveOptions::margin_ms`]) that
//!   covers the block being processed and the worker's scheduling delay.
//!   Output frame `k` is exactly the enhanced input frame `k - P`, i.e. the
//!   output of [`crate::SpeechEnhancer::enhance_planar`] on the same signal,
//!   delayed by `P` frames (the tests compare the two sample by sample).
//!   At 48 kHz with 256-frame blocks `P` = 4868 frames, 101.4 ms.
//! - **When the worker falls behind** (the return ring holds fewer frames
//!   than the block needs) the missing frames are output as silence and
//!   counted ([`WorkerStats::underruns`], [`WorkerStats::underrun_frames`];
//!   the live engine reports them as `xrun` events and in its stats). The
//!   late frames are skipped when they arrive, so the latency stays `P`. If
//!   the worker stalls for so long that the input ring (1 s beyond `P`)
//!   fills, the input frames that do not fit are counted
//!   ([`WorkerStats::dropped_frames`]) and the worker processes silence in
//!   their place, which keeps the alignment too.
//! - An inference error on the worker is counted
//!   ([`WorkerStats::worker_errors`]); the frames in flight come out as
//!   silence and the enhancer starts over, keeping the alignment.
//! - A panic on the worker (a bug) is caught around each unit of work
//!   (one chunk taken from the input ring, pushed through the enhancer and
//!   drained), counted in [`WorkerStats::worker_errors`] and
//!   [`WorkerStats::worker_panics`], its message kept
//!   ([`WorkerStats::last_worker_error`]), and handled like an inference
//!   error: silence for the frames in flight, a reset enhancer. If the
//!   enhancer cannot be reset, the worker answers every later input frame
//!   with silence (no underruns, same latency) until the processor is
//!   dropped. The audio thread never sees the panic.
//! - `mix` (0..1, default 1) blends the enhanced signal with the input
//!   delayed by the same `P` frames (a delay line on the audio thread), so
//!   wet and dry stay aligned; changes ramp over one block.
//!
//! # Real-time safety
//! [`Processor::process`], [`Processor::set_parameter`] and
//! [`Processor::reset`] never allocate, lock, block, do I/O or touch ONNX
//! Runtime: two wait-free ring transfers, a delay line and relaxed atomic
//! counters (tested under an allocation-aborting guard,
//! `tests/live_no_alloc.rs`). The worker polls its input ring (every 0.2 to
//! 2 ms, a quarter of a block), so the audio thread never has to wake it.
//! `prepare` and drop are not real-time safe (they load a model, spawn and
//! join a thread); the engine calls them off the audio thread.
//!
//! # In chains
//! The chain registry of `resonode-dsp` cannot depend on this crate (ONNX
//! Runtime), so `enhance` comes in through
//! [`resonode_dsp::registry::Extension`]: [`EnhanceKind`]. Its live form
//! builds a [`LiveEnhancer`]; [`EnhanceKind::mirror`] builds a light stand-in
//! that only holds `mix`, for the engine's parameter-validating shadow
//! chain; [`EnhanceKind::refused`] refuses `enhance` in file pipelines
//! (`ERR_INVALID_CHAIN`, pointing to `resonode enhance`): there a processor
//! has no real-time clock for its worker to keep up with, and file
//! enhancement is better served time-aligned by [`crate::SpeechEnhancer`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use resonode_core::error::{check_range, panic_message};
use resonode_core::ring::{self, Consumer, Producer};
use resonode_core::{AudioBlockMut, Error, ParamError, Processor, Result, StreamSpec, WorkerStats};
use resonode_dsp::registry::{Args, Extension, KindInfo, Sort};

use crate::gtcrn::{EnhancerOptions, StreamingEnhancer, WindowKind, HOP};
use crate::runtime::{ExecutionProvider, SessionOptions};

/// The kind name in chain strings.
pub const KIND: &str = "enhance";
/// Parameters [`Processor::set_parameter`] accepts (live).
pub const PARAMETERS: &[&str] = &["mix"];
/// Default margin, in blocks of [`StreamSpec::max_block_frames`].
pub const DEFAULT_MARGIN_BLOCKS: usize = 4;
/// Largest margin accepted, in ms.
pub const MAX_MARGIN_MS: f64 = 2000.0;
/// Frames the worker takes from its input ring at once, at most.
const WORKER_CHUNK: usize = 4096;
/// `SCHED_FIFO` priority asked for the worker thread (Linux): above every
/// normal thread, below resonode's audio threads (4) and PulseAudio's (5).
pub const WORKER_PRIORITY: i32 = 2;

/// Options of [`LiveEnhancer`].
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    /// Model, runtime, provider, threads and STFT windows, as for
    /// [`crate::SpeechEnhancer`] (default: the built-in GTCRN on the CPU,
    /// one inference thread).
    pub enhancer: EnhancerOptions,
    /// Wet/dry balance, 0..1: 1 (the default) is only the enhanced signal,
    /// 0 only the (equally delayed) input. Changeable live as `mix`.
    pub mix: f64,
    /// Extra latency on top of the enhancer's bound, in ms, for the worker's
    /// scheduling; `None` (the default) is 4 blocks of
    /// [`StreamSpec::max_block_frames`]. Raise it when the device delivers
    /// callbacks larger than the configured buffer size, or on a loaded
    /// machine (underruns).
    pub margin_ms: Option<f64>,
    /// Real-time priority asked for the worker thread (default
    /// [`WORKER_PRIORITY`], below the audio threads; through
    /// [`resonode_core::thread_priority`]: `SCHED_FIFO` or RealtimeKit on
    /// Linux, the platform mechanism elsewhere): a worker at the normal
    /// policy competes with every other process, and on a loaded machine
    /// can be kept off the CPU for longer than the margin. `None` leaves it
    /// at the normal policy. Refusal (no `CAP_SYS_NICE`) is not an error;
    /// [`WorkerStats::worker_realtime`] says what happened.
    pub worker_priority: Option<i32>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { enhancer: EnhancerOptions::default(), mix: 1.0, margin_ms: None, worker_priority: Some(WORKER_PRIORITY) }
    }
}

/// A position in the input stream where the worker processes `frames`
/// frames of silence in place of input that did not fit its ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Gap {
    /// Frames of the input ring before the gap.
    at: u64,
    frames: u64,
}

/// GTCRN speech enhancement for real-time chains: `process` hands audio to
/// a worker thread and returns it enhanced, `P` frames later (see the
/// [module docs](self)).
///
/// Planar `f32` blocks of any size up to `max_block_frames`, any sample rate
/// (resampled to 16 kHz and back on the worker), any channel count (each
/// channel enhanced independently).
///
/// # Errors
/// [`LiveEnhancer::new`]: `ERR_INVALID_PARAMETER` for `mix` outside 0..1 or
/// a bad margin. [`Processor::prepare`]: the model's errors
/// (`ERR_NOT_FOUND` for a missing model file, `ERR_MODEL` for a damaged
/// one, `ERR_MODEL_MISMATCH`, `ERR_RUNTIME_NOT_FOUND`,
/// `ERR_EXECUTION_PROVIDER_NOT_AVAILABLE`), `ERR_INVALID_PARAMETER` for an
/// unsupported rate.
///
/// # Real-time safety
/// `process`, `set_parameter`, `reset`: never allocate, lock or block (see
/// the module docs). `prepare` and drop: control thread only.
///
/// # Example
/// ```no_run
/// use resonode_core::{AudioBuffer, Processor, StreamSpec};
/// use resonode_ml::live::{LiveEnhancer, LiveOptions};
///
/// let mut enhance = LiveEnhancer::new(LiveOptions::default())?;
/// enhance.prepare(&StreamSpec { sample_rate: 48_000, channels: 1, max_block_frames: 256 })?;
/// println!("latency: {} frames, {:.1} ms", enhance.latency_frames().unwrap(), enhance.latency_ms().unwrap());
/// let mut buf = AudioBuffer::new(1, 256);
/// buf.set_frames(256);
/// enhance.process(&mut buf.as_block_mut()); // in the audio callback
/// # Ok::<(), resonode_core::Error>(())
/// ```
pub struct LiveEnhancer {
    options: LiveOptions,
    stats: Arc<WorkerStats>,
    run: Option<Running>,
}

impl std::fmt::Debug for LiveEnhancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveEnhancer")
            .field("options", &self.options)
            .field("latency_frames", &self.latency_frames())
            .finish_non_exhaustive()
    }
}

/// The audio-thread side of a prepared [`LiveEnhancer`].
struct Running {
    channels: usize,
    latency: usize,
    to_worker: Producer,
    from_worker: Consumer,
    gaps: Producer<Gap>,
    /// Dropped input not yet announced to the worker.
    pending_gap: Gap,
    /// Frames the input ring has accepted so far.
    written: u64,
    /// Frames output as silence whose late originals are still to be skipped.
    debt: usize,
    /// Interleaved scratch, `max_block * channels`.
    inter: Box<[f32]>,
    /// The input `latency` frames ago for each frame of the block, interleaved.
    dry_out: Box<[f32]>,
    /// Delay line of `latency` frames, interleaved, for `mix`.
    dry: Box<[f32]>,
    dry_pos: usize,
    /// The mix the last block ended with (ramps towards the parameter).
    mix_now: f32,
    stop: Arc<AtomicBool>,
    /// Test hook: the worker panics in its next unit of work.
    inject_panic: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl LiveEnhancer {
    /// A live enhancer with `options`; nothing is loaded until
    /// [`prepare`](Processor::prepare).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `mix` outside 0..1 or a margin
    /// outside 0..[`MAX_MARGIN_MS`].
    pub fn new(options: LiveOptions) -> Result<Self> {
        check_range(options.mix, 0.0, 1.0).map_err(|_| Error::param("mix", format!("{} is outside [0, 1]", options.mix)))?;
        if let Some(m) = options.margin_ms {
            check_range(m, 0.0, MAX_MARGIN_MS)
                .map_err(|_| Error::param("margin", format!("{m} ms is outside [0, {MAX_MARGIN_MS}] ms")))?;
        }
        Ok(LiveEnhancer { options, stats: WorkerStats::new(), run: None })
    }

    /// The options it was built with (with the current `mix`).
    pub fn options(&self) -> &LiveOptions {
        &self.options
    }

    /// The fixed latency `P` in frames (enhancer bound + margin), once
    /// prepared: output frame `k` is the enhanced input frame `k - P`.
    pub fn latency_frames(&self) -> Option<usize> {
        self.run.as_ref().map(|r| r.latency)
    }

    /// [`latency_frames`](LiveEnhancer::latency_frames) in milliseconds.
    pub fn latency_ms(&self) -> Option<f64> {
        self.run.as_ref().map(|_| self.stats.latency_ms())
    }

    /// The counters shared with the worker and the control side (latency,
    /// underruns, dropped input, worker time, errors).
    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    fn stop_worker(&mut self) {
        self.run = None;
    }

    /// Test hook: makes the worker thread panic in its next unit of work
    /// (before pushing a chunk through the model), to check that it
    /// survives. Whether a worker was running to receive it.
    #[doc(hidden)]
    pub fn inject_worker_panic(&self) -> bool {
        match &self.run {
            Some(r) => {
                r.inject_panic.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }
}

impl Processor for LiveEnhancer {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// Loads the model, computes `P`, allocates the rings and the delay
    /// line, pre-fills the return ring with `P` frames of silence and starts
    /// the worker thread (stopping a previous one). Control thread only.
    ///
    /// # Errors
    /// As listed on [`LiveEnhancer`].
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        self.stop_worker();
        let channels = spec.channels;
        let max_block = spec.max_block_frames.max(1);
        let mut enhancer = StreamingEnhancer::new(&self.options.enhancer, spec.sample_rate, channels)?;
        let margin = match self.options.margin_ms {
            Some(ms) => (ms * f64::from(spec.sample_rate) / 1000.0).ceil() as usize,
            None => DEFAULT_MARGIN_BLOCKS * max_block,
        };
        let latency = enhancer.latency_frames() + margin;

        // Warm-up: ONNX Runtime sizes its arena and the FFTs their plans on
        // the first frames, which would otherwise make the worker's first
        // blocks slow. Then start from a clean state.
        let warm = vec![vec![0.0f32; 8 * HOP * spec.sample_rate as usize / 16_000 + 1]; channels];
        enhancer.push(&warm)?;
        drop(enhancer.pull_all());
        enhancer.reset()?;

        let sr = spec.sample_rate as usize;
        let (to_worker, worker_in) = ring::channel(latency + sr + max_block, channels);
        // Room for the pre-fill, a block, and what the worker may release at
        // once (a chunk plus the enhancer's backlog), twice over.
        let bound = latency - margin;
        let (mut worker_out, from_worker) =
            ring::channel(latency + 2 * (max_block + bound + WORKER_CHUNK), channels);
        let (gaps, worker_gaps) = ring::channel_of::<Gap>(64, 1);
        let zeros = vec![0.0f32; 1024 * channels];
        let mut left = latency;
        while left > 0 {
            let n = left.min(1024);
            let wrote = worker_out.write(&zeros[..n * channels]);
            debug_assert_eq!(wrote, n);
            left -= n;
        }

        let stats = self.stats.clone();
        stats.latency_frames.store(latency as u64, Ordering::Relaxed);
        stats.sample_rate.store(u64::from(spec.sample_rate), Ordering::Relaxed);
        let block_s = max_block as f64 / f64::from(spec.sample_rate);
        let poll = Duration::from_secs_f64((block_s / 4.0).clamp(0.000_2, 0.002));
        let stop = Arc::new(AtomicBool::new(false));
        let inject_panic = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            inject_panic: inject_panic.clone(),
            broken: false,
            enhancer,
            input: worker_in,
            output: worker_out,
            gaps: worker_gaps,
            channels,
            bound,
            stop: stop.clone(),
            stats,
            poll,
            priority: self.options.worker_priority,
        };
        let handle = std::thread::Builder::new()
            .name("resonode-enhance".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::Internal { message: format!("cannot start the enhancer's worker thread: {e}") })?;
        self.run = Some(Running {
            channels,
            latency,
            to_worker,
            from_worker,
            gaps,
            pending_gap: Gap::default(),
            written: 0,
            debt: 0,
            inter: vec![0.0; max_block * channels].into_boxed_slice(),
            dry_out: vec![0.0; max_block * channels].into_boxed_slice(),
            dry: vec![0.0; latency * channels].into_boxed_slice(),
            dry_pos: 0,
            mix_now: self.options.mix as f32,
            stop,
            inject_panic,
            worker: Some(handle),
        });
        Ok(())
    }

    /// Sends the block to the worker and replaces it with the enhanced audio
    /// of `P` frames ago (silence for frames the worker has not delivered in
    /// time, counted as underruns). Before `prepare` the block passes
    /// unchanged.
    ///
    /// # Real-time safety
    /// Never allocates, locks, blocks or does I/O.
    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        let Some(r) = self.run.as_mut() else { return };
        let ch = r.channels;
        let n = block.frames().min(r.inter.len() / ch);
        if block.channels() != ch || n == 0 {
            return;
        }
        let len = n * ch;
        // Interleave for the ring (non-finite input becomes 0: the model
        // must never see it) and run the dry delay line.
        for c in 0..ch {
            let x = &block.channel(c)[..n];
            for (i, &v) in x.iter().enumerate() {
                r.inter[i * ch + c] = if v.is_finite() { v } else { 0.0 };
            }
        }
        let p = r.latency;
        for i in 0..n {
            let at = r.dry_pos * ch;
            for c in 0..ch {
                r.dry_out[i * ch + c] = r.dry[at + c];
                r.dry[at + c] = r.inter[i * ch + c];
            }
            r.dry_pos = if r.dry_pos + 1 == p { 0 } else { r.dry_pos + 1 };
        }

        // To the worker; input that does not fit becomes a gap of silence
        // the worker inserts at the same position.
        if r.pending_gap.frames > 0 && r.gaps.push(r.pending_gap) {
            r.pending_gap.frames = 0;
        }
        if r.pending_gap.frames == 0 && r.to_worker.free() >= n {
            r.to_worker.write(&r.inter[..len]);
            r.written += n as u64;
        } else {
            if r.pending_gap.frames == 0 {
                r.pending_gap.at = r.written;
            }
            r.pending_gap.frames += n as u64;
            self.stats.dropped_frames.fetch_add(n as u64, Ordering::Relaxed);
        }

        // From the worker: first drop frames that arrived too late, then
        // take this block's frames.
        if r.debt > 0 {
            r.debt -= r.from_worker.skip(r.debt);
        }
        let got = r.from_worker.read(&mut r.inter[..len]);
        if got < n {
            r.inter[got * ch..len].fill(0.0);
            r.debt += n - got;
            self.stats.underruns.fetch_add(1, Ordering::Relaxed);
            self.stats.underrun_frames.fetch_add((n - got) as u64, Ordering::Relaxed);
        }

        // Wet/dry, ramping a changed mix over the block.
        let (m0, m1) = (r.mix_now, self.options.mix as f32);
        if m0 == 1.0 && m1 == 1.0 {
            for c in 0..ch {
                for (i, o) in block.channel_mut(c)[..n].iter_mut().enumerate() {
                    *o = r.inter[i * ch + c];
                }
            }
        } else {
            let step = (m1 - m0) / n as f32;
            for c in 0..ch {
                for (i, o) in block.channel_mut(c)[..n].iter_mut().enumerate() {
                    let m = if i + 1 == n { m1 } else { m0 + step * (i + 1) as f32 };
                    *o = m * r.inter[i * ch + c] + (1.0 - m) * r.dry_out[i * ch + c];
                }
            }
        }
        r.mix_now = m1;
    }

    /// Keeps the worker's state. The enhanced audio in flight (`P` frames)
    /// cannot be recalled without breaking the fixed latency, and the model
    /// cannot be touched from the audio thread; its state is bounded and
    /// never sees non-finite input (replaced by 0), so there is nothing to
    /// recover from.
    ///
    /// # Real-time safety
    /// Does nothing.
    fn reset(&mut self) {}

    fn parameter_names(&self) -> &'static [&'static str] {
        PARAMETERS
    }

    /// `mix` (0..1), applied from the next block with a one-block ramp.
    ///
    /// # Real-time safety
    /// Never allocates.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        self.options.mix = checked_mix(name, value)?;
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        (name == "mix").then_some(self.options.mix)
    }

    fn worker_stats(&self) -> Option<Arc<WorkerStats>> {
        Some(self.stats.clone())
    }
}

/// The worker thread's side: the enhancer and the far ends of the rings.
struct Worker {
    enhancer: StreamingEnhancer,
    input: Consumer,
    output: Producer,
    gaps: Consumer<Gap>,
    channels: usize,
    /// The enhancer's latency bound, in frames.
    bound: usize,
    stop: Arc<AtomicBool>,
    stats: Arc<WorkerStats>,
    poll: Duration,
    priority: Option<i32>,
    /// See [`LiveEnhancer::inject_worker_panic`].
    inject_panic: Arc<AtomicBool>,
    /// The enhancer could not be reset after a failure: every input frame
    /// is answered with silence.
    broken: bool,
}

/// The worker loop's buffers and positions, kept across units of work (and
/// across a panic in one).
struct WorkerState {
    /// Interleaved scratch, `WORKER_CHUNK * channels`.
    inter: Vec<f32>,
    /// Planar scratch, `channels x WORKER_CHUNK`.
    planar: Vec<Vec<f32>>,
    /// Frames read from the input ring.
    consumed: u64,
    next_gap: Option<Gap>,
    /// Frames pushed into the current enhancer (or taken for it).
    fed: u64,
    /// Frames pulled out of the current enhancer into the return ring.
    emitted: u64,
    /// Frames of silence owed to the return ring after a failure.
    owed_silence: u64,
}

impl Worker {
    fn run(mut self) {
        if let Some(p) = self.priority {
            let granted = resonode_core::thread_priority::promote_current(p, WORKER_CHUNK as u32, self.stats.sample_rate.load(Ordering::Relaxed) as u32);
            self.stats.worker_realtime.store(u64::from(granted != resonode_core::thread_priority::Mechanism::None), Ordering::Relaxed);
        }
        let ch = self.channels;
        let mut st = WorkerState {
            inter: vec![0.0f32; WORKER_CHUNK * ch],
            planar: vec![vec![0.0f32; WORKER_CHUNK]; ch],
            consumed: 0,
            next_gap: None,
            fed: 0,
            emitted: 0,
            owed_silence: 0,
        };
        while !self.stop.load(Ordering::Acquire) {
            match catch_unwind(AssertUnwindSafe(|| self.step(&mut st))) {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => std::thread::sleep(self.poll),
                Ok(Err(e)) => self.recover(&mut st, format!("enhancement failed: {e}"), false),
                Err(panic) => {
                    let message = format!("panic in the enhancer's worker thread: {}", panic_message(panic.as_ref()));
                    self.recover(&mut st, message, true);
                }
            }
        }
    }

    /// One unit of work: drains ready output, then takes up to a chunk of
    /// input (or of silence standing in for dropped input) and pushes it
    /// through the enhancer. Whether there was input to take.
    fn step(&mut self, st: &mut WorkerState) -> Result<bool> {
        let ch = self.channels;
        self.drain(st);
        if st.next_gap.is_none() {
            st.next_gap = self.gaps.pop().filter(|g| g.frames > 0);
        }
        // Room for what pushing a chunk can release (never block on a
        // full return ring; the audio thread is not running then).
        let pending = if self.broken { 0 } else { self.enhancer.available() + self.bound };
        let room = self.output.free().saturating_sub(pending + st.owed_silence as usize);
        let (n, silence) = match st.next_gap {
            Some(g) if g.at == st.consumed => (g.frames.min(WORKER_CHUNK as u64) as usize, true),
            Some(g) => ((g.at - st.consumed) as usize, false),
            None => (usize::MAX, false),
        };
        let n = n.min(WORKER_CHUNK).min(room);
        let n = if silence { n } else { n.min(self.input.available()) };
        if n == 0 {
            return Ok(false);
        }
        if silence {
            // Stands in for input that did not fit the ring; it takes
            // no ring frames, so `consumed` stays.
            st.planar.iter_mut().for_each(|p| p[..n].fill(0.0));
            if let Some(g) = st.next_gap.as_mut() {
                g.frames -= n as u64;
                if g.frames == 0 {
                    st.next_gap = None;
                }
            }
        } else {
            let got = self.input.read(&mut st.inter[..n * ch]);
            debug_assert_eq!(got, n);
            for (c, p) in st.planar.iter_mut().enumerate() {
                for (i, s) in p[..n].iter_mut().enumerate() {
                    *s = st.inter[i * ch + c];
                }
            }
            st.consumed += n as u64;
        }
        if self.broken {
            st.owed_silence += n as u64;
            self.stats.worker_frames.fetch_add(n as u64, Ordering::Relaxed);
            return Ok(true);
        }
        st.fed += n as u64;
        if self.inject_panic.swap(false, Ordering::AcqRel) {
            panic!("injected by LiveEnhancer::inject_worker_panic");
        }
        self.stats.worker_frames.fetch_add(n as u64, Ordering::Relaxed);
        let started = Instant::now();
        let slices: Vec<&[f32]> = st.planar.iter().map(|p| &p[..n]).collect();
        let pushed = self.enhancer.push(&slices);
        self.stats.worker_busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        pushed.map(|()| true)
    }

    /// After a failed unit of work (an error or a caught panic): counts it,
    /// keeps its message, owes the frames in flight as silence and starts a
    /// fresh enhancer, so the output count (and the alignment) stays equal
    /// to the input count. If the enhancer cannot be reset (unreachable in
    /// practice: same rate and channels as before), the worker answers all
    /// later input with silence.
    fn recover(&mut self, st: &mut WorkerState, message: String, panicked: bool) {
        self.stats.worker_errors.fetch_add(1, Ordering::Relaxed);
        if panicked {
            self.stats.worker_panics.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.set_last_worker_error(message);
        st.owed_silence += st.fed - st.emitted;
        st.fed = 0;
        st.emitted = 0;
        if !self.broken {
            let reset = catch_unwind(AssertUnwindSafe(|| self.enhancer.reset()));
            self.broken = !matches!(reset, Ok(Ok(())));
        }
    }

    /// Moves owed silence, then ready enhanced frames, into the return ring,
    /// as far as it has room.
    fn drain(&mut self, st: &mut WorkerState) {
        let ch = self.channels;
        while st.owed_silence > 0 {
            let n = (st.owed_silence as usize).min(WORKER_CHUNK).min(self.output.free());
            if n == 0 {
                return;
            }
            st.inter[..n * ch].fill(0.0);
            self.output.write(&st.inter[..n * ch]);
            st.owed_silence -= n as u64;
        }
        if self.broken {
            return;
        }
        loop {
            let n = self.enhancer.available().min(WORKER_CHUNK).min(self.output.free());
            if n == 0 {
                return;
            }
            let mut outs: Vec<&mut [f32]> = st.planar.iter_mut().map(|p| &mut p[..n]).collect();
            let got = self.enhancer.pull(&mut outs).unwrap_or(0);
            if got == 0 {
                return;
            }
            for (c, p) in st.planar.iter().enumerate() {
                for (i, &s) in p[..got].iter().enumerate() {
                    st.inter[i * ch + c] = if s.is_finite() { s } else { 0.0 };
                }
            }
            self.output.write(&st.inter[..got * ch]);
            st.emitted += got as u64;
        }
    }
}

/// `mix` only: the stand-in for `enhance` in a parameter-validating shadow
/// chain ([`EnhanceKind::mirror`]); never loads a model or processes audio.
#[derive(Debug, Clone)]
struct EnhanceParameters {
    mix: f64,
}

impl Processor for EnhanceParameters {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn prepare(&mut self, _spec: &StreamSpec) -> Result<()> {
        Ok(())
    }
    fn process(&mut self, _block: &mut AudioBlockMut<'_>) {}
    fn reset(&mut self) {}
    fn parameter_names(&self) -> &'static [&'static str] {
        PARAMETERS
    }
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        self.mix = checked_mix(name, value)?;
        Ok(())
    }
    fn parameter(&self, name: &str) -> Option<f64> {
        (name == "mix").then_some(self.mix)
    }
}

/// The one live parameter of `enhance`, checked the same way by the live
/// processor and its parameter-only stand-in.
fn checked_mix(name: &str, value: f64) -> Result<f64, ParamError> {
    match name {
        "mix" => check_range(value, 0.0, 1.0),
        _ => Err(ParamError::Unknown),
    }
}

static KIND_INFO: [KindInfo; 1] = [KindInfo {
    name: KIND,
    positional: &["mix"],
    params: &["mix", "model", "threads", "provider", "window", "synthesis", "margin"],
    summary: "GTCRN speech enhancement (denoising), live chains only (for files: `resonode enhance`): \
              mix 0-1 wet/dry (default 1), model=\"file.onnx\" (default: built in), threads (default 1), \
              provider cpu|cuda|coreml, window and synthesis periodic|symmetric, margin in ms (default 4 buffers). \
              Adds a fixed latency: the enhancer's bound + margin (101 ms at 48 kHz, 256-frame buffers).",
}];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Mirror,
    Refused,
}

/// The `enhance` chain element, as a [`resonode_dsp::registry::Extension`]:
/// `enhance(mix, model=..., threads=..., provider=..., window=...,
/// synthesis=..., margin=...)`. See the [module docs](self#in-chains).
///
/// Arguments: `mix` (0..1 or %, default 1; the only one changeable live),
/// `model` (an `.onnx` path in quotes; default the built-in GTCRN),
/// `threads` (intra-op threads, default 1), `provider` (`cpu`, `cuda`,
/// `coreml`), `window` and `synthesis` (`periodic`, `symmetric`), `margin`
/// (ms or s; default 4 buffers).
#[derive(Debug, Clone)]
pub struct EnhanceKind {
    mode: Mode,
    session: SessionOptions,
}

impl EnhanceKind {
    /// Builds [`LiveEnhancer`]s whose sessions start from `session` (e.g.
    /// the ONNX Runtime library path; `provider` and `threads` override).
    pub fn live(session: SessionOptions) -> Self {
        EnhanceKind { mode: Mode::Live, session }
    }

    /// Builds a stand-in that checks the arguments and holds `mix` but
    /// never loads a model: for a real-time engine's parameter-validating
    /// shadow chain.
    pub fn mirror() -> Self {
        EnhanceKind { mode: Mode::Mirror, session: SessionOptions::default() }
    }

    /// Refuses `enhance` (after checking its arguments) with
    /// `ERR_INVALID_CHAIN`, for file pipelines and block-by-block chains.
    pub fn refused() -> Self {
        EnhanceKind { mode: Mode::Refused, session: SessionOptions::default() }
    }

    /// The options an `enhance(...)` element asks for.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the argument.
    pub fn options(&self, a: &Args<'_>) -> Result<LiveOptions> {
        let mut session = self.session.clone();
        if let Some(p) = a.word("provider")? {
            session.execution_provider = ExecutionProvider::parse(p).map_err(|e| rename(e, "provider"))?;
        }
        if let Some(t) = a.number("threads")? {
            if !(t.fract() == 0.0 && (1.0..=64.0).contains(&t)) {
                return Err(Error::param("threads", format!("must be a whole number from 1 to 64, got {t}")));
            }
            session.intra_threads = t as usize;
        }
        let window = match a.word("window")? {
            Some(w) => WindowKind::parse(w)?,
            None => WindowKind::default(),
        };
        let synthesis_window = a.word("synthesis")?.map(WindowKind::parse).transpose().map_err(|e| rename(e, "synthesis"))?;
        let model_path = match a.word("model")? {
            Some("") => return Err(Error::param("model", "is empty")),
            Some(m) => Some(PathBuf::from(m)),
            None => None,
        };
        let mix = a.number_or("mix", 1.0)?;
        let margin_ms = a.number("margin")?;
        let options = LiveOptions {
            enhancer: EnhancerOptions { model_path, session, window, synthesis_window },
            mix,
            margin_ms,
            ..LiveOptions::default()
        };
        // The same checks as the constructor, for every mode.
        LiveEnhancer::new(options.clone())?;
        Ok(options)
    }
}

fn rename(e: Error, name: &str) -> Error {
    match e {
        Error::InvalidParameter { reason, .. } => Error::param(name, reason),
        other => other,
    }
}

impl Extension for EnhanceKind {
    fn kinds(&self) -> &[KindInfo] {
        &KIND_INFO
    }

    fn sort(&self, _kind: &str, param: &str) -> Sort {
        match param {
            "mix" => Sort::Fraction,
            "margin" => Sort::Ms,
            "threads" => Sort::Plain,
            _ => Sort::Word,
        }
    }

    fn build(&self, _kind: &str, args: &Args<'_>) -> Result<Box<dyn Processor>> {
        let options = self.options(args)?;
        match self.mode {
            Mode::Live => Ok(Box::new(LiveEnhancer::new(options)?)),
            Mode::Mirror => Ok(Box::new(EnhanceParameters { mix: options.mix })),
            Mode::Refused => Err(args.chain_err(
                "runs only in live chains (RealtimeProcessor, `resonode live`), where it enhances \
                 with a fixed latency; to enhance a file use `resonode enhance <input> <output>` \
                 or SpeechEnhancer, which are time-aligned",
            )),
        }
    }
}

/// The kind's description, as the CLI's help lists it.
pub fn kind_info() -> &'static KindInfo {
    &KIND_INFO[0]
}
