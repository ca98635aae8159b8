//! The body of the audio callback: [`Renderer::render`].
//!
//! Everything here that runs per callback is real-time safe: no allocation,
//! no locks, no blocking, no logging, no I/O. The [`Renderer`] is built (and
//! allocates) on an ordinary thread, then moved into the callback.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use resonode_core::ring::{Consumer, Producer};
use resonode_core::{AudioBuffer, Chain, Error, Result, StreamSpec, WorkerStats};

use crate::events::{EventSink, RawEvent};

/// One parameter change on its way to the audio thread.
///
/// `param` is one of the processor's own
/// [`parameter_names`](resonode_core::Processor::parameter_names), so the
/// message holds no heap data and is `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamChange {
    /// Index of the processor in the chain.
    pub processor: u32,
    /// Parameter name (a `'static` name from the processor).
    pub param: &'static str,
    /// New value, in the parameter's own unit.
    pub value: f64,
}

impl Default for ParamChange {
    fn default() -> Self {
        ParamChange {
            processor: 0,
            param: "",
            value: 0.0,
        }
    }
}

/// Counters the audio thread updates and any thread reads. All relaxed
/// atomics: each value is individually consistent, a snapshot across them is
/// approximate.
#[derive(Debug, Default)]
pub struct RenderStats {
    /// Calls of [`Renderer::render`].
    pub callbacks: AtomicU64,
    /// Frames rendered.
    pub frames: AtomicU64,
    /// Output samples that were NaN/infinite and replaced by 0.
    pub non_finite: AtomicU64,
    /// Frames the tap could not take because it was full.
    pub tap_dropped: AtomicU64,
    /// Parameter changes applied.
    pub params_applied: AtomicU64,
    /// Parameter changes the processor refused on the audio thread (only
    /// possible for engines started without a validating shadow chain).
    pub params_rejected: AtomicU64,
    /// Callbacks whose processing took longer than the audio they produced:
    /// the thread's own CPU time exceeded the buffer period.
    pub late_callbacks: AtomicU64,
    /// Callbacks that overran the buffer period in wall time while their
    /// CPU time stayed within it: the OS (or the hypervisor) kept the audio
    /// thread off the CPU, not resonode's processing.
    pub preempted_callbacks: AtomicU64,
    /// Panics caught in the chain (a processor's `process` or
    /// `set_parameter` panicked); see [`Renderer::render`].
    pub chain_panics: AtomicU64,
    /// Times the chain was reset and run again after such a panic.
    pub chain_restarts: AtomicU64,
    /// The chain panicked and will not run again: every later callback
    /// outputs silence.
    pub failed: AtomicBool,
    /// Sum of callback loads (f64 bits), for the mean.
    load_sum_bits: AtomicU64,
    /// Callbacks included in `load_sum_bits`.
    load_count: AtomicU64,
    /// Highest callback load (f64 bits), ignoring the very first callback.
    load_peak_bits: AtomicU64,
}

impl RenderStats {
    /// Mean callback load: processing time over buffer duration (0 before
    /// the first callback).
    pub fn load_mean(&self) -> f64 {
        let n = self.load_count.load(Ordering::Relaxed);
        if n == 0 {
            0.0
        } else {
            f64::from_bits(self.load_sum_bits.load(Ordering::Relaxed)) / n as f64
        }
    }

    /// Peak callback load (the first callback, which warms caches, is not
    /// counted).
    pub fn load_peak(&self) -> f64 {
        f64::from_bits(self.load_peak_bits.load(Ordering::Relaxed))
    }
}

/// Runs a [`Chain`] on interleaved device buffers: the callback body.
///
/// Owns the prepared chain, planar scratch of `max_block` frames, the
/// consumer end of the parameter queue and the producer end of the optional
/// tap. Callers hand it buffers of any length; it works in chunks of at most
/// `max_block` frames.
pub struct Renderer {
    chain: Chain,
    scratch: AudioBuffer,
    channels_in: usize,
    channels: usize,
    max_block: usize,
    sample_rate: u32,
    params: Option<Consumer<ParamChange>>,
    tap: Option<Producer>,
    stats: Arc<RenderStats>,
    events: Option<EventSink>,
    load_sum: f64,
    load_peak: f64,
    load_count: u64,
    workers: Vec<WatchedWorker>,
    /// The chain panicked: output silence until restarted.
    failed: bool,
    /// Resets (after panics) still allowed.
    restarts_left: u32,
    restarts_done: u32,
    /// Frames of the current callback already written to the tap: a panic
    /// in a later block of the callback taps only the rest as silence.
    tapped: usize,
}

/// A processor with a worker thread, whose underruns the renderer turns
/// into events.
struct WatchedWorker {
    index: u32,
    kind: &'static str,
    stats: Arc<WorkerStats>,
    seen_underruns: u64,
    seen_frames: u64,
    seen_errors: u64,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("chain", &self.chain)
            .field("channels_in", &self.channels_in)
            .field("channels", &self.channels)
            .field("max_block", &self.max_block)
            .finish_non_exhaustive()
    }
}

/// Rejects processors that cannot run in real time (those that need an
/// analysis pass over the whole signal, such as `normalize`).
///
/// # Errors
/// [`Error::InvalidParameter`] naming the processor.
pub fn check_realtime_chain(chain: &Chain) -> Result<()> {
    if let Some(&i) = chain.analysis_points().first() {
        let kind = chain.kinds()[i];
        return Err(Error::param(
            format!("{i} ({kind})"),
            format!(
                "`{kind}` needs to analyse the whole signal first and cannot run in real time \
                 (use `limiter` to control peaks live)"
            ),
        ));
    }
    Ok(())
}

impl Renderer {
    /// Prepares `chain` for `sample_rate` and `channels` (the processing
    /// channels: the output channels, or the input channels of an
    /// input-only stream) with blocks of up to `max_block` frames, and
    /// allocates the scratch. `channels_in` is the channel count of the
    /// input buffers handed to [`render`](Renderer::render) (0: no input).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a chain that cannot run in real time
    /// (see [`check_realtime_chain`]) or a zero size; the chain's
    /// `prepare` errors (e.g. a cutoff above Nyquist).
    pub fn new(
        mut chain: Chain,
        sample_rate: u32,
        channels_in: usize,
        channels: usize,
        max_block: usize,
    ) -> Result<Self> {
        check_realtime_chain(&chain)?;
        if channels == 0 {
            return Err(Error::param(
                "channels",
                "the chain needs at least 1 channel",
            ));
        }
        if max_block == 0 {
            return Err(Error::param("bufferSize", "must be at least 1 frame"));
        }
        chain.prepare(&StreamSpec {
            sample_rate,
            channels,
            max_block_frames: max_block,
        })?;
        let mut scratch = AudioBuffer::new(channels, max_block);
        scratch.set_frames(max_block);
        let kinds = chain.kinds();
        let workers = chain
            .worker_stats()
            .into_iter()
            .map(|(i, stats)| WatchedWorker {
                index: i as u32,
                kind: kinds[i],
                stats,
                seen_underruns: 0,
                seen_frames: 0,
                seen_errors: 0,
            })
            .collect();
        Ok(Renderer {
            chain,
            scratch,
            channels_in,
            channels,
            max_block,
            sample_rate,
            params: None,
            tap: None,
            stats: Arc::new(RenderStats::default()),
            events: None,
            load_sum: 0.0,
            load_peak: 0.0,
            load_count: 0,
            workers,
            failed: false,
            restarts_left: 0,
            restarts_done: 0,
            tapped: 0,
        })
    }

    /// Takes parameter changes from `queue` at every block boundary.
    pub fn with_params(mut self, queue: Consumer<ParamChange>) -> Self {
        self.params = Some(queue);
        self
    }

    /// Copies every rendered frame (interleaved, [`channels`](Renderer::channels)
    /// channels) into `tap`; frames that do not fit are dropped and counted
    /// in [`RenderStats::tap_dropped`].
    ///
    /// # Panics
    /// If the tap's channel count differs from the processing channels.
    pub fn with_tap(mut self, tap: Producer) -> Self {
        assert_eq!(tap.channels(), self.channels, "tap channels");
        self.tap = Some(tap);
        self
    }

    /// Shares stats counters with an existing handle (used when an engine
    /// rebuilds its renderer).
    pub fn with_stats(mut self, stats: Arc<RenderStats>) -> Self {
        self.stats = stats;
        self
    }

    /// After a panic in the chain, resets it and runs it again (at the next
    /// callback) up to `max` times; without this (or after `max` restarts) a
    /// chain that panicked stays silent.
    pub fn with_panic_restarts(mut self, max: u32) -> Self {
        self.restarts_left = max;
        self
    }

    /// Reports refused parameter changes as events.
    pub(crate) fn with_events(mut self, events: EventSink) -> Self {
        self.events = Some(events);
        self
    }

    /// The counters this renderer updates.
    pub fn stats(&self) -> &Arc<RenderStats> {
        &self.stats
    }

    /// Processing channels (of the output buffers).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Channels of the input buffers.
    pub fn channels_in(&self) -> usize {
        self.channels_in
    }

    /// Largest block processed at once, in frames.
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The chain (for reading parameters in tests).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Clears the chain's signal state (filter memories, delay lines).
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub fn reset(&mut self) {
        self.chain.reset();
    }

    /// Renders one device buffer.
    ///
    /// `input` is interleaved with [`channels_in`](Renderer::channels_in)
    /// channels (empty, or shorter than the output, means silence for the
    /// missing frames); `output` is interleaved with
    /// [`channels`](Renderer::channels) channels and is overwritten. Queued
    /// parameter changes are applied first (at the block boundary), then the
    /// input is deinterleaved and mapped onto the processing channels, run
    /// through the chain, interleaved into `output`, sanitised (NaN/infinite
    /// samples become 0, are counted, and the chain is reset so it recovers),
    /// copied to the tap, and the stats are updated.
    ///
    /// # Real-time safety
    /// Never allocates, locks, blocks, logs or does I/O (`Instant::now` reads
    /// the vDSO clock, the thread's CPU clock is one non-blocking
    /// `clock_gettime`); the `no_alloc` test runs it under an
    /// allocation-aborting guard for every processor kind.
    ///
    /// # Panics in the chain
    /// A panic in a processor never leaves this function: it is caught, the
    /// output (and tap) of the callback become silence, the panic is counted
    /// ([`RenderStats::chain_panics`]) and reported as an event. With
    /// [`with_panic_restarts`](Renderer::with_panic_restarts) the chain is
    /// reset ([`Chain::reset`], real-time safe) and runs again from the next
    /// callback; otherwise, or once the restarts are used up, it stays
    /// silent ([`RenderStats::failed`]). The panic payload is leaked rather
    /// than freed on the audio thread.
    pub fn render(&mut self, input: &[f32], output: &mut [f32]) {
        if self.failed {
            if self.restarts_left == 0 {
                self.render_silence(output, 0);
                return;
            }
            self.restarts_left -= 1;
            self.restarts_done += 1;
            self.failed = false;
            self.chain.reset();
            self.stats.chain_restarts.fetch_add(1, Ordering::Relaxed);
            if let Some(events) = self.events.as_mut() {
                events.push(RawEvent::ChainRestarted { attempt: self.restarts_done });
            }
        }
        let result = catch_unwind(AssertUnwindSafe(|| self.render_chain(input, output)));
        if let Err(payload) = result {
            std::mem::forget(payload);
            self.failed = true;
            self.stats.chain_panics.fetch_add(1, Ordering::Relaxed);
            if self.restarts_left == 0 {
                self.stats.failed.store(true, Ordering::Relaxed);
            }
            if let Some(events) = self.events.as_mut() {
                events.push(RawEvent::CallbackPanic { side: None, restarting: self.restarts_left > 0 });
            }
            self.render_silence(output, self.tapped);
        }
    }

    /// Silence in place of the chain's output, still tapped and counted so
    /// the tap's timeline and the frame counters stay whole. The first
    /// `tapped` frames already reached the tap (blocks rendered before a
    /// panic in the same callback) and are not tapped again.
    ///
    /// # Real-time safety
    /// Never allocates.
    fn render_silence(&mut self, output: &mut [f32], tapped: usize) {
        output.fill(0.0);
        let frames = output.len() / self.channels;
        let tapped = tapped.min(frames);
        self.tap_write(&output[tapped * self.channels..], frames - tapped);
        self.stats.callbacks.fetch_add(1, Ordering::Relaxed);
        self.stats.frames.fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// Copies `frames` rendered frames (`out`, interleaved) into the tap;
    /// what does not fit is counted in [`RenderStats::tap_dropped`].
    ///
    /// # Real-time safety
    /// A wait-free ring write; never allocates.
    fn tap_write(&mut self, out: &[f32], frames: usize) {
        if let Some(tap) = self.tap.as_mut() {
            let written = tap.write(out);
            if written < frames {
                self.stats
                    .tap_dropped
                    .fetch_add((frames - written) as u64, Ordering::Relaxed);
            }
        }
    }

    fn render_chain(&mut self, input: &[f32], output: &mut [f32]) {
        let started = Instant::now();
        let cpu_started = crate::priority::thread_cpu_time();
        self.apply_params();
        let ch = self.channels;
        let frames = output.len() / ch;
        let in_frames = input.len().checked_div(self.channels_in).unwrap_or(0);
        let mut done = 0;
        self.tapped = 0;
        while done < frames {
            let n = (frames - done).min(self.max_block);
            let avail = in_frames.saturating_sub(done).min(n);
            let in_chunk = if avail > 0 {
                &input[done * self.channels_in..(done + avail) * self.channels_in]
            } else {
                &[][..]
            };
            self.fill_scratch(in_chunk, n);
            {
                let mut block = self.scratch.as_block_mut();
                self.chain.process(&mut block);
            }
            let out = &mut output[done * ch..(done + n) * ch];
            self.scratch.as_block().copy_to_interleaved(out);
            let mut bad = 0u64;
            for s in out.iter_mut() {
                if !s.is_finite() {
                    *s = 0.0;
                    bad += 1;
                }
            }
            if bad > 0 {
                self.stats.non_finite.fetch_add(bad, Ordering::Relaxed);
                self.chain.reset();
            }
            self.tap_write(out, n);
            done += n;
            self.tapped = done;
        }
        self.report_worker_underruns();
        self.stats.callbacks.fetch_add(1, Ordering::Relaxed);
        self.stats
            .frames
            .fetch_add(frames as u64, Ordering::Relaxed);
        if frames > 0 {
            let budget = frames as f64 / self.sample_rate as f64;
            let load = started.elapsed().as_secs_f64() / budget;
            // Over budget in wall time: was it the processing (CPU time
            // over budget too) or was the thread kept off the CPU?
            // The second CPU-clock read only happens for such a callback.
            let cpu_load = match cpu_started {
                Some(a) if load > 1.0 => crate::priority::thread_cpu_time()
                    .map_or(load, |b| (b - a) / budget),
                _ => load,
            };
            self.record_load(load, cpu_load);
        }
    }

    /// Queues one event per processor whose worker fell behind during this
    /// callback (see [`WorkerStats::underruns`]).
    ///
    /// # Real-time safety
    /// Relaxed atomic loads and a wait-free event push; never allocates.
    fn report_worker_underruns(&mut self) {
        for w in self.workers.iter_mut() {
            let errors = w.stats.worker_errors.load(Ordering::Relaxed);
            if errors != w.seen_errors {
                w.seen_errors = errors;
                if let Some(events) = self.events.as_mut() {
                    events.push(RawEvent::WorkerError { processor: w.index, kind: w.kind });
                }
            }
            let underruns = w.stats.underruns.load(Ordering::Relaxed);
            if underruns == w.seen_underruns {
                continue;
            }
            let frames = w.stats.underrun_frames.load(Ordering::Relaxed);
            if let Some(events) = self.events.as_mut() {
                events.push(RawEvent::WorkerUnderrun {
                    processor: w.index,
                    kind: w.kind,
                    frames: frames - w.seen_frames,
                });
            }
            w.seen_underruns = underruns;
            w.seen_frames = frames;
        }
    }

    /// Applies every queued parameter change.
    ///
    /// # Real-time safety
    /// Never allocates: the queue is a wait-free ring and processors'
    /// `set_parameter` is allocation-free; a refusal is only counted.
    fn apply_params(&mut self) {
        let Some(queue) = self.params.as_mut() else {
            return;
        };
        while let Some(change) = queue.pop() {
            let ok = match self
                .chain
                .processors_mut()
                .get_mut(change.processor as usize)
            {
                Some(p) => p.set_parameter(change.param, change.value).is_ok(),
                None => false,
            };
            if ok {
                self.stats.params_applied.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.params_rejected.fetch_add(1, Ordering::Relaxed);
                if let Some(events) = self.events.as_mut() {
                    events.push(RawEvent::ParameterRejected {
                        processor: change.processor,
                        param: change.param,
                        value: change.value,
                    });
                }
            }
        }
    }

    /// Deinterleaves `input` (`channels_in` channels, up to `n` frames) into
    /// the first `n` frames of the scratch, mapping channels: mono to all,
    /// otherwise `i -> i`; missing frames and channels are zeroed.
    ///
    /// # Real-time safety
    /// Never allocates.
    fn fill_scratch(&mut self, input: &[f32], n: usize) {
        self.scratch.set_frames(n);
        let cin = self.channels_in;
        let avail = input.len().checked_div(cin).unwrap_or(0);
        for c in 0..self.channels {
            let dst = self.scratch.channel_mut(c);
            let src = if cin == 1 {
                Some(0)
            } else if c < cin {
                Some(c)
            } else {
                None
            };
            match src {
                Some(s) => {
                    for (i, d) in dst[..avail].iter_mut().enumerate() {
                        *d = input[i * cin + s];
                    }
                    dst[avail..].fill(0.0);
                }
                None => dst.fill(0.0),
            }
        }
    }

    /// Accounts one callback's load (processing time / buffer duration).
    ///
    /// # Real-time safety
    /// Never allocates; relaxed atomic stores.
    fn record_load(&mut self, load: f64, cpu_load: f64) {
        if load > 1.0 {
            if cpu_load > 1.0 {
                self.stats.late_callbacks.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.preempted_callbacks.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.load_count += 1;
        self.load_sum += load;
        if self.load_count > 1 && load > self.load_peak {
            self.load_peak = load;
            self.stats
                .load_peak_bits
                .store(load.to_bits(), Ordering::Relaxed);
        }
        self.stats
            .load_sum_bits
            .store(self.load_sum.to_bits(), Ordering::Relaxed);
        self.stats
            .load_count
            .store(self.load_count, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resonode_core::ring;
    use resonode_dsp::registry::parse_chain;

    #[test]
    fn mono_input_feeds_every_output_channel_and_extra_channels_are_silent() {
        let mut r = Renderer::new(Chain::default(), 48_000, 1, 2, 4).unwrap();
        let mut out = [9.0f32; 12];
        r.render(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut out);
        assert_eq!(out, [1., 1., 2., 2., 3., 3., 4., 4., 5., 5., 6., 6.]);

        let mut r = Renderer::new(Chain::default(), 48_000, 2, 3, 4).unwrap();
        let mut out = [9.0f32; 6];
        r.render(&[1.0, -1.0, 2.0, -2.0], &mut out);
        assert_eq!(out, [1., -1., 0., 2., -2., 0.]);

        // 3 in -> 2 out drops the third; a short input is padded with zeros.
        let mut r = Renderer::new(Chain::default(), 48_000, 3, 2, 8).unwrap();
        let mut out = [9.0f32; 6];
        r.render(&[1.0, -1.0, 7.0], &mut out);
        assert_eq!(out, [1., -1., 0., 0., 0., 0.]);
    }

    #[test]
    fn output_only_renders_silence_through_the_chain() {
        let mut r = Renderer::new(parse_chain("gain(6db)").unwrap(), 48_000, 0, 2, 64).unwrap();
        let mut out = [1.0f32; 256];
        r.render(&[], &mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        assert_eq!(r.stats().callbacks.load(Ordering::Relaxed), 1);
        assert_eq!(r.stats().frames.load(Ordering::Relaxed), 128);
    }

    #[test]
    fn queued_parameters_apply_at_the_next_block_boundary() {
        let (mut tx, rx) = ring::channel_of::<ParamChange>(16, 1);
        let mut r = Renderer::new(parse_chain("gain(linear=1)").unwrap(), 48_000, 1, 1, 32)
            .unwrap()
            .with_params(rx);
        assert!(tx.push(ParamChange {
            processor: 0,
            param: "linear",
            value: 0.0
        }));
        assert!(tx.push(ParamChange {
            processor: 5,
            param: "linear",
            value: 0.0
        }));
        let mut out = [0.0f32; 48_000];
        r.render(&[1.0; 48_000], &mut out);
        assert_eq!(r.chain().parameter("0.linear").unwrap(), 0.0);
        assert_eq!(r.stats().params_applied.load(Ordering::Relaxed), 1);
        assert_eq!(r.stats().params_rejected.load(Ordering::Relaxed), 1);
        // The gain ramps (5 ms), then stays at 0.
        assert!(out[0] > 0.99 && out[47_999] == 0.0);
    }

    #[test]
    fn non_finite_output_is_zeroed_counted_and_the_chain_recovers() {
        let mut r = Renderer::new(parse_chain("lowpass(1000)").unwrap(), 48_000, 1, 1, 16).unwrap();
        let mut out = [0.0f32; 16];
        let mut input = [0.5f32; 16];
        input[3] = f32::NAN;
        r.render(&input, &mut out);
        assert!(out.iter().all(|s| s.is_finite()));
        assert!(r.stats().non_finite.load(Ordering::Relaxed) > 0);
        r.render(&[0.5; 16], &mut out);
        assert!(out.iter().all(|s| s.is_finite() && *s >= 0.0));
    }

    #[test]
    fn the_tap_receives_rendered_frames_and_counts_drops() {
        let (tx, mut rx) = ring::channel(10, 2);
        let mut r = Renderer::new(Chain::default(), 48_000, 2, 2, 4)
            .unwrap()
            .with_tap(tx);
        let input: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let mut out = [0.0f32; 16];
        r.render(&input, &mut out);
        r.render(&input, &mut out);
        let mut got = [0.0f32; 20];
        assert_eq!(rx.read(&mut got), 10);
        assert_eq!(&got[..16], &input[..]);
        assert_eq!(r.stats().tap_dropped.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn normalize_is_refused_in_real_time_chains() {
        let e = Renderer::new(
            parse_chain("gain(-3db) normalize(-1db)").unwrap(),
            48_000,
            0,
            2,
            64,
        )
        .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        assert!(e.to_string().contains("1 (normalize)"), "{e}");
    }
}
