//! [`SeparationWorker`]: an HTDemucs separation running on a thread that
//! owns the model, handing out final regions one at a time.
//!
//! [`HtDemucsStream`](crate::htdemucs::HtDemucsStream) borrows its model, so
//! a stream that outlives one call (a JS async iterator, a pipeline stage)
//! needs a thread that owns both. The worker loads the model, separates
//! either a [`Source`] it reads itself ([`HtDemucs::separate_long`]: global
//! normalisation by a first pass, the file streamed from disk) or blocks
//! pushed by the caller ([`HtDemucs::stream`]: fixed or no normalisation),
//! and queues [`WorkerEvent`]s:
//!
//! 1. [`WorkerEvent::Started`] once the model is loaded,
//! 2. one [`WorkerEvent::Region`] per final region, in order (their
//!    concatenation is exactly what [`HtDemucs::separate_long`] returns for
//!    the same input and options),
//! 3. one terminal [`WorkerEvent::End`] or [`WorkerEvent::Failed`].
//!
//! Memory is bounded at both ends: the worker waits while
//! [`WorkerOptions::queue_regions`] regions are waiting for the consumer,
//! and [`when_ready`](SeparationWorker::when_ready) holds back a producer
//! while [`WorkerOptions::queue_blocks`] pushed blocks are waiting for the
//! worker. Events are taken with a callback
//! ([`next_event`](SeparationWorker::next_event), which never blocks: the
//! callback runs at once or on the worker thread when the event exists) or
//! by blocking ([`recv`](SeparationWorker::recv)).
//!
//! [`stop`](SeparationWorker::stop) ends the run at the next source read,
//! pushed block or region (within one model call); the thread then drops
//! the model and exits. Dropping the worker stops it without waiting.
//!
//! # Real-time safety
//! Not real-time safe: allocates, locks and runs the model. Feed it from a
//! non-real-time thread.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use resonode_core::{AudioBuffer, Error, Result, Source};

use crate::chunker::{LongOptions, Region, SeparationStats};
use crate::htdemucs::{HtDemucs, Normalization, SeparateOptions};

/// What the worker separates.
pub enum WorkerInput {
    /// A source the worker reads itself, e.g. a `FileSource` or a
    /// `PlanarSource`. With [`Normalization::Global`] it must rewind.
    Source(Box<dyn Source>),
    /// Blocks of `channels` channels at `sample_rate` Hz handed over with
    /// [`SeparationWorker::push`]. Needs [`Normalization::Fixed`] or
    /// [`Normalization::Off`]: the worker cannot see the whole input first.
    Push {
        /// Channels of every block.
        channels: usize,
        /// Sample rate of the blocks in Hz; regions come out at this rate.
        sample_rate: u32,
    },
}

impl std::fmt::Debug for WorkerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerInput::Source(s) => f.debug_tuple("Source").field(&s.describe()).finish(),
            WorkerInput::Push { channels, sample_rate } => {
                f.debug_struct("Push").field("channels", channels).field("sample_rate", sample_rate).finish()
            }
        }
    }
}

/// Options of a [`SeparationWorker`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerOptions {
    /// Overlap, crossfade, normalisation.
    pub separate: SeparateOptions,
    /// How much a [`WorkerInput::Source`] is read at a time.
    pub long: LongOptions,
    /// Regions waiting for the consumer before the worker pauses (>= 1,
    /// default 1: the worker computes at most one region ahead).
    pub queue_regions: usize,
    /// Pushed blocks waiting for the worker before
    /// [`when_ready`](SeparationWorker::when_ready) holds the producer back
    /// (>= 1, default 2).
    pub queue_blocks: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            separate: SeparateOptions::default(),
            long: LongOptions::default(),
            queue_regions: 1,
            queue_blocks: 2,
        }
    }
}

/// What a worker run did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WorkerStats {
    /// Frames read or pushed (at the input rate; complete only at the end of
    /// a run that was not stopped).
    pub frames_in: u64,
    /// Frames in the regions handed out.
    pub frames_out: u64,
    /// Model calls (complete only at the end of a run that was not stopped).
    pub chunks: usize,
    /// Regions handed out.
    pub regions: usize,
    /// Loading the model.
    pub model_load: Duration,
    /// From the spawn to the first region being ready (model load included).
    pub time_to_first_audio: Option<Duration>,
    /// From the spawn to the end.
    pub elapsed: Duration,
    /// Whether [`SeparationWorker::stop`] ended the run early.
    pub stopped: bool,
}

/// One thing the worker reports, in order.
#[derive(Debug)]
pub enum WorkerEvent {
    /// The model is loaded.
    Started {
        /// Stem names, in the order of [`Region::stems`].
        sources: Vec<String>,
        /// Channels per stem.
        channels: usize,
        /// Sample rate of the regions in Hz (the input's).
        sample_rate: u32,
        /// Input (= output) frames, when the source knows them.
        total_frames: Option<u64>,
    },
    /// A final region; `time` is when it was ready, from the spawn.
    Region {
        /// The region (stems x channels x frames).
        region: Region,
        /// From the spawn to this region being ready.
        time: Duration,
    },
    /// The run is over (complete, or stopped).
    End(WorkerStats),
    /// The run failed; nothing follows.
    Failed(Error),
}

/// Receives the next event, or `None` when the terminal one was taken.
pub type EventCallback = Box<dyn FnOnce(Option<WorkerEvent>) + Send>;
/// Called once the push queue has room (or the run is over).
pub type ReadyCallback = Box<dyn FnOnce() + Send>;

struct State {
    events: VecDeque<WorkerEvent>,
    waiter: Option<EventCallback>,
    blocks: VecDeque<Vec<Vec<f32>>>,
    ready: Option<ReadyCallback>,
    input_ended: bool,
    /// The terminal event has been produced.
    ended: bool,
    /// The terminal event has been taken.
    drained: bool,
    stats: WorkerStats,
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
    stop: AtomicBool,
    exited: AtomicBool,
    started: Instant,
    queue_regions: usize,
    queue_blocks: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a callback must not wedge the consumer: the state
        // stays consistent between statements, so keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Hands `ev` to a waiting consumer or queues it; for regions, first
    /// waits for room (or a stop).
    fn deliver(&self, ev: WorkerEvent) -> Result<()> {
        let terminal = matches!(ev, WorkerEvent::End(_) | WorkerEvent::Failed(_));
        let mut st = self.lock();
        if matches!(ev, WorkerEvent::Region { .. }) {
            while !self.stopped() && st.waiter.is_none() && st.events.len() >= self.queue_regions {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if self.stopped() {
                return Err(stopped());
            }
        }
        if let WorkerEvent::Region { region, time } = &ev {
            st.stats.regions += 1;
            st.stats.frames_out += region.frames() as u64;
            st.stats.time_to_first_audio.get_or_insert(*time);
        }
        let mut ready = None;
        if terminal {
            st.ended = true;
            ready = st.ready.take();
        }
        let waiter = st.waiter.take();
        match waiter {
            Some(w) => {
                if terminal {
                    st.drained = true;
                }
                drop(st);
                w(Some(ev));
            }
            None => {
                st.events.push_back(ev);
                drop(st);
            }
        }
        if let Some(r) = ready {
            r();
        }
        Ok(())
    }

    /// The next pushed block, `None` at the end of the input.
    fn take_block(&self) -> Result<Option<Vec<Vec<f32>>>> {
        let mut st = self.lock();
        loop {
            if self.stopped() {
                return Err(stopped());
            }
            if let Some(b) = st.blocks.pop_front() {
                let ready = if st.blocks.len() < self.queue_blocks { st.ready.take() } else { None };
                drop(st);
                if let Some(r) = ready {
                    r();
                }
                return Ok(Some(b));
            }
            if st.input_ended {
                return Ok(None);
            }
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

pub(crate) fn stopped() -> Error {
    Error::InvalidState { reason: "the separation was stopped".into() }
}

/// A source that ends the run with an error when `stop()` says so (checked
/// on every read, so a stop lands within one read or one model call).
pub(crate) struct StoppableSource<'a> {
    pub(crate) inner: &'a mut dyn Source,
    pub(crate) stop: &'a (dyn Fn() -> bool + Sync),
}

impl Source for StoppableSource<'_> {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn channels(&self) -> usize {
        self.inner.channels()
    }
    fn total_frames(&self) -> Option<u64> {
        self.inner.total_frames()
    }
    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        if (self.stop)() {
            return Err(stopped());
        }
        self.inner.read(buf)
    }
    fn can_rewind(&self) -> bool {
        self.inner.can_rewind()
    }
    fn rewind(&mut self) -> Result<()> {
        self.inner.rewind()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// A separation on its own thread. See the module docs.
pub struct SeparationWorker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    push: bool,
}

impl std::fmt::Debug for SeparationWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeparationWorker")
            .field("push", &self.push)
            .field("stopped", &self.shared.stopped())
            .field("exited", &self.has_exited())
            .finish_non_exhaustive()
    }
}

impl SeparationWorker {
    /// Starts a worker thread that calls `load` (so loading does not block
    /// the caller), then separates `input`. `load` gets the separation
    /// options to complete what depends on the model (e.g. an overlap given
    /// in seconds of its segment).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero queue sizes, a
    /// [`WorkerInput::Push`] with [`Normalization::Global`], zero channels
    /// or a zero rate; [`Error::Internal`] when no thread can be started.
    /// Everything else (model, source, shape, non-finite input) arrives as
    /// [`WorkerEvent::Failed`].
    pub fn spawn<L>(load: L, input: WorkerInput, opts: WorkerOptions) -> Result<SeparationWorker>
    where
        L: FnOnce(&mut SeparateOptions) -> Result<HtDemucs> + Send + 'static,
    {
        if opts.queue_regions == 0 || opts.queue_blocks == 0 {
            return Err(Error::param("queue", "queue sizes must be at least 1"));
        }
        let push = matches!(input, WorkerInput::Push { .. });
        if let WorkerInput::Push { channels, sample_rate } = input {
            if opts.separate.normalization == Normalization::Global {
                return Err(Error::param(
                    "normalization",
                    "audio pushed block by block cannot be normalised by its global statistics (they need the \
                     whole input first); give fixed statistics { mean, std } or 'off', or separate a file or \
                     arrays, which are read twice",
                ));
            }
            if channels == 0 {
                return Err(Error::param("channels", "must be at least 1"));
            }
            if sample_rate == 0 {
                return Err(Error::param("sampleRate", "must be > 0 Hz"));
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                events: VecDeque::new(),
                waiter: None,
                blocks: VecDeque::new(),
                ready: None,
                input_ended: false,
                ended: false,
                drained: false,
                stats: WorkerStats::default(),
            }),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            started: Instant::now(),
            queue_regions: opts.queue_regions,
            queue_blocks: opts.queue_blocks,
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("resonode-separation".into())
                .spawn(move || worker_main(&shared, load, input, &opts))
                .map_err(|e| Error::Internal { message: format!("cannot start the separation thread: {e}") })?
        };
        Ok(SeparationWorker { shared, thread: Some(thread), push })
    }

    /// Hands the next event to `callback`: at once when one is queued, else
    /// on the worker thread when it exists. After the terminal event the
    /// callback gets `None`. Only one callback waits at a time; a second
    /// gets [`WorkerEvent::Failed`] with [`Error::InvalidState`].
    pub fn next_event(&self, callback: EventCallback) {
        let mut st = self.shared.lock();
        if let Some(ev) = st.events.pop_front() {
            if matches!(ev, WorkerEvent::End(_) | WorkerEvent::Failed(_)) {
                st.drained = true;
            }
            drop(st);
            self.shared.cv.notify_all();
            callback(Some(ev));
        } else if st.drained {
            drop(st);
            callback(None);
        } else if st.waiter.is_some() {
            drop(st);
            callback(Some(WorkerEvent::Failed(Error::InvalidState {
                reason: "another request for the next region is still pending".into(),
            })));
        } else {
            st.waiter = Some(callback);
            drop(st);
            // The worker may be waiting for room that a waiting consumer gives.
            self.shared.cv.notify_all();
        }
    }

    /// Blocks until the next event; `None` after the terminal one.
    pub fn recv(&self) -> Option<WorkerEvent> {
        let (tx, rx) = mpsc::channel();
        self.next_event(Box::new(move |ev| {
            let _ = tx.send(ev);
        }));
        rx.recv().ok().flatten()
    }

    /// Queues a block (`channels` planar slices of equal length) for a
    /// [`WorkerInput::Push`] worker. Never blocks; use
    /// [`when_ready`](SeparationWorker::when_ready) for back-pressure.
    /// Shape and non-finite checks happen on the worker and end the run
    /// with [`WorkerEvent::Failed`].
    ///
    /// # Errors
    /// [`Error::InvalidState`] for a source worker, after
    /// [`end_input`](SeparationWorker::end_input), or once the run is over
    /// (failed or stopped).
    pub fn push(&self, block: Vec<Vec<f32>>) -> Result<()> {
        if !self.push {
            return Err(Error::InvalidState {
                reason: "this separation reads its own input; nothing can be pushed".into(),
            });
        }
        let mut st = self.shared.lock();
        if st.input_ended {
            return Err(Error::InvalidState { reason: "audio pushed after the end of the input".into() });
        }
        if st.ended || self.shared.stopped() {
            return Err(Error::InvalidState { reason: "the separation has ended".into() });
        }
        st.blocks.push_back(block);
        drop(st);
        self.shared.cv.notify_all();
        Ok(())
    }

    /// Calls `ready` once fewer than [`WorkerOptions::queue_blocks`] pushed
    /// blocks wait (at once if that is already so) or the run is over.
    /// Replaces an earlier callback that has not run yet (which is dropped).
    pub fn when_ready(&self, ready: ReadyCallback) {
        let mut st = self.shared.lock();
        if st.blocks.len() < self.shared.queue_blocks || st.ended || self.shared.stopped() {
            drop(st);
            ready();
        } else {
            st.ready = Some(ready);
        }
    }

    /// Ends the pushed input: the worker separates what is left and ends.
    pub fn end_input(&self) {
        self.shared.lock().input_ended = true;
        self.shared.cv.notify_all();
    }

    /// Stops the run (within one read, block or model call); the terminal
    /// event is then [`WorkerEvent::End`] with `stopped`, unless the run
    /// had already ended.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        let ready = {
            let mut st = self.shared.lock();
            st.ready.take()
        };
        self.shared.cv.notify_all();
        if let Some(r) = ready {
            r();
        }
    }

    /// Whether the thread has finished (the model is freed).
    pub fn has_exited(&self) -> bool {
        self.shared.exited.load(Ordering::Acquire)
    }

    /// Statistics so far (final once the terminal event exists).
    pub fn stats(&self) -> WorkerStats {
        let st = self.shared.lock();
        let mut s = st.stats;
        if !st.ended {
            s.elapsed = self.shared.started.elapsed();
        }
        s
    }

    /// Waits for the thread to finish (call [`stop`](SeparationWorker::stop)
    /// first to end early). Idempotent.
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SeparationWorker {
    fn drop(&mut self) {
        // Detached, not joined: the thread notices within one model call.
        self.stop();
    }
}

fn worker_main<L>(shared: &Shared, load: L, input: WorkerInput, opts: &WorkerOptions)
where
    L: FnOnce(&mut SeparateOptions) -> Result<HtDemucs>,
{
    let result = catch_unwind(AssertUnwindSafe(|| run(shared, load, input, opts))).unwrap_or_else(|panic| {
        let message = resonode_core::error::panic_message(panic.as_ref());
        Err(Error::Internal { message: format!("panic in the separation thread: {message}") })
    });
    // `run` has returned: the model and the source are dropped.
    let ev = {
        let mut st = shared.lock();
        st.stats.elapsed = shared.started.elapsed();
        match result {
            Ok(done) => {
                st.stats.frames_in = done.frames_in;
                st.stats.chunks = done.chunks;
                WorkerEvent::End(st.stats)
            }
            Err(_) if shared.stopped() => {
                st.stats.stopped = true;
                WorkerEvent::End(st.stats)
            }
            Err(e) => WorkerEvent::Failed(e),
        }
    };
    let _ = shared.deliver(ev);
    shared.exited.store(true, Ordering::Release);
}

fn run<L>(shared: &Shared, load: L, input: WorkerInput, opts: &WorkerOptions) -> Result<SeparationStats>
where
    L: FnOnce(&mut SeparateOptions) -> Result<HtDemucs>,
{
    let t = Instant::now();
    let mut separate = opts.separate.clone();
    let mut model = load(&mut separate)?;
    shared.lock().stats.model_load = t.elapsed();
    if shared.stopped() {
        return Err(stopped());
    }
    let region = |region: Region| shared.deliver(WorkerEvent::Region { region, time: shared.started.elapsed() });
    match input {
        WorkerInput::Source(mut source) => {
            shared.deliver(WorkerEvent::Started {
                sources: model.sources().to_vec(),
                channels: model.info().channels,
                sample_rate: source.sample_rate(),
                total_frames: source.total_frames(),
            })?;
            let stop = || shared.stopped();
            let mut src = StoppableSource { inner: source.as_mut(), stop: &stop };
            model.separate_long(&mut src, &separate, &opts.long, region, |_| {})
        }
        WorkerInput::Push { channels, sample_rate } => {
            shared.deliver(WorkerEvent::Started {
                sources: model.sources().to_vec(),
                channels: model.info().channels,
                sample_rate,
                total_frames: None,
            })?;
            let mut stream = model.stream(channels, sample_rate, &separate)?;
            while let Some(block) = shared.take_block()? {
                for r in stream.push(&block)? {
                    region(r)?;
                }
            }
            for r in stream.finish()? {
                region(r)?;
            }
            Ok(SeparationStats {
                frames_in: stream.frames_in(),
                frames_out: stream.frames_out(),
                chunks: stream.chunks_done(),
                ..SeparationStats::default()
            })
        }
    }
}
