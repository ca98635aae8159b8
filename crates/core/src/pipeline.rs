//! The offline pipeline driver: Source -> [`Chain`] -> Sink, chunk by chunk,
//! at constant memory.
//!
//! Runs on whatever thread calls [`run`] (the napi crate gives it its own
//! thread so the JS event loop stays free). Two-pass processors (see
//! [`crate::Processor::needs_analysis`]) get an analysis pass over a
//! rewindable source first; memory stays constant because the source is
//! read again rather than held.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;
use std::time::Instant;

use crate::{AudioBlock, AudioBuffer, Chain, Error, Result, StreamSpec};

/// Log target of jobs (start, progress, end); see `crate::log_filter`.
const LOG: &str = "resonode::pipeline";
/// Wall-clock time between two `debug` progress records of one job.
const PROGRESS_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where audio comes from: produces planar blocks at a fixed sample rate and
/// channel count.
pub trait Source: Send {
    /// Sample rate of the produced audio in Hz.
    fn sample_rate(&self) -> u32;
    /// Channels of the produced audio.
    fn channels(&self) -> usize;
    /// Total frames, when known in advance (used for progress).
    fn total_frames(&self) -> Option<u64>;
    /// Fills `buf` (already shaped to `channels()`) with up to its capacity in
    /// frames, sets its frame count and returns it; 0 means the end.
    ///
    /// # Errors
    /// Decode or I/O errors naming the source.
    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize>;
    /// Whether [`rewind`](Source::rewind) works (files: yes; live input: no).
    fn can_rewind(&self) -> bool {
        false
    }
    /// Starts again from the first frame.
    fn rewind(&mut self) -> Result<()> {
        Err(Error::InvalidState { reason: format!("{} cannot be rewound", self.describe()) })
    }
    /// A short description for messages (usually the path).
    fn describe(&self) -> String;
    /// Whether [`run`] may call [`read`](Source::read) on a thread of its
    /// own, a few chunks ahead of the chunk being processed (decoding on
    /// one core while the chain and the sink run on another). Only for
    /// sources whose reads never wait for the outside world (files): a
    /// stop must not wait for a read. False by default.
    fn read_ahead(&self) -> bool {
        false
    }
    /// What the source noticed but read past (e.g. a file whose header
    /// declares more frames than it holds: every frame that decoded was
    /// delivered). Empty by default.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Where audio goes.
pub trait Sink: Send {
    /// Opens the sink for a stream of this sample rate (Hz) and channel count.
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()>;
    /// Writes one block. Data written so far must survive a later failure:
    /// file sinks keep their file valid after every write or flush.
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()>;
    /// Completes the output (file headers, flushes). Called once, also after
    /// errors and stops, so partial output is valid.
    fn finalize(&mut self) -> Result<()>;
    /// Frames the sink delivered at its own rate (after its own resampling
    /// or channel selection), when that can differ from the frames written
    /// to it; `None` (the default) when it cannot.
    fn frames_delivered(&self) -> Option<u64> {
        None
    }
}

/// Options of [`run`].
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    /// Frames per chunk read from the source and processed at once.
    pub chunk_frames: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions { chunk_frames: 65536 }
    }
}

/// Shared, thread-safe handle for stopping a running pipeline, changing its
/// parameters and reading its progress from another thread.
///
/// The parameter queue uses a mutex: the offline driver is not real-time
/// (the live engine delivers parameters through a lock-free queue instead).
/// With a shadow chain ([`Control::set_shadow`]: a prepared chain of the same
/// processors that never processes audio), [`Control::set_parameter`]
/// checks every value at the call, as the live engine does, so an invalid
/// value fails there and never reaches the running chain.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    frames: AtomicU64,
    chunks: AtomicU64,
    params: Mutex<Params>,
}

#[derive(Debug, Default)]
struct Params {
    queued: Vec<(String, f64)>,
    shadow: Option<Chain>,
}

impl Control {
    /// Asks the pipeline to stop after the current chunk.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    /// Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    /// Frames written to the sink so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    /// Chunks written to the sink so far.
    pub fn chunks(&self) -> u64 {
        self.chunks.load(Ordering::Relaxed)
    }
    /// Installs `shadow`, a chain built from the same processor specs as the
    /// one [`run`] will get and prepared for the same stream: from now on
    /// [`set_parameter`](Control::set_parameter) validates against it (and
    /// mirrors accepted values into it). Values already queued are checked
    /// against it first; the first invalid one is returned and none of them
    /// stays queued.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a queued value the shadow refuses;
    /// [`Error::InvalidState`] for an unprepared shadow.
    pub fn set_shadow(&self, mut shadow: Chain) -> Result<()> {
        if shadow.spec().is_none() {
            return Err(Error::InvalidState { reason: "the shadow chain must be prepared".into() });
        }
        let mut params = self.params.lock().unwrap_or_else(|e| e.into_inner());
        for (path, value) in &params.queued {
            if let Err(e) = shadow.set_parameter(path, *value) {
                params.queued.clear();
                return Err(e);
            }
        }
        params.shadow = Some(shadow);
        Ok(())
    }
    /// Queues `"<index>.<name>" = value`, applied before the next chunk.
    ///
    /// # Errors
    /// With a shadow chain, [`Error::InvalidParameter`] naming the path when
    /// the index, the name or the value (range, Nyquist) is not valid;
    /// nothing is queued then. Without one, values are checked only when
    /// applied, and [`run`] fails with that error.
    pub fn set_parameter(&self, path: impl Into<String>, value: f64) -> Result<()> {
        let path = path.into();
        let mut params = self.params.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shadow) = params.shadow.as_mut() {
            shadow.set_parameter(&path, value)?;
        }
        params.queued.push((path, value));
        Ok(())
    }
    fn apply_parameters(&self, chain: &mut Chain) -> Result<()> {
        let queued = std::mem::take(&mut self.params.lock().unwrap_or_else(|e| e.into_inner()).queued);
        for (path, value) in queued {
            chain.set_parameter(&path, value)?;
        }
        Ok(())
    }
}

/// One progress report, sent after every chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Frames done in the current pass.
    pub frames: u64,
    /// Total frames of the source, if known.
    pub total_frames: Option<u64>,
    /// Overall completion in [0, 1] over all passes, if the length is known.
    pub fraction: Option<f64>,
}

/// What a finished (or stopped) run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// Chunks written to the sink.
    pub chunks_processed: u64,
    /// Frames written to the sink.
    pub frames_processed: u64,
    /// Wall-clock seconds for the whole run, analysis passes included.
    pub processing_time_s: f64,
    /// Sample rate of the processed stream in Hz.
    pub sample_rate: u32,
    /// Channels of the processed stream.
    pub channels: usize,
    /// True when the run ended early because of [`Control::stop`].
    pub stopped: bool,
    /// The source's [`Source::warnings`] at the end of the run.
    pub warnings: Vec<String>,
    /// The sink's [`Sink::frames_delivered`] after finalizing.
    pub frames_delivered: Option<u64>,
}

impl Stats {
    /// Seconds of audio processed.
    pub fn audio_s(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames_processed as f64 / self.sample_rate as f64
        }
    }
    /// Audio seconds per processing second (> 1 is faster than real time).
    pub fn realtime_factor(&self) -> f64 {
        if self.processing_time_s > 0.0 {
            self.audio_s() / self.processing_time_s
        } else {
            0.0
        }
    }
}

/// Checks a block read from a source for NaN/Inf, naming the absolute frame.
fn check_finite(block: &AudioBlock<'_>, first_frame: u64) -> Result<()> {
    match block.find_non_finite() {
        Some((frame, channel, value)) => {
            Err(Error::NonFiniteSample { frame: first_frame + frame as u64, channel, value })
        }
        None => Ok(()),
    }
}

/// Chunks a read-ahead source may have decoded before the one being
/// processed. [`for_each_chunk`] circulates `READ_AHEAD + 1` buffers of
/// its own (the reading thread fills one more), allocated per pass beside
/// `run`'s: 3 x 512 KiB for the default 65536-frame stereo chunks.
const READ_AHEAD: usize = 2;

/// Reads `source` to its end a chunk at a time into `buf` (capacity: the
/// chunk size) and gives each chunk to `each`, in order, until `stop()`
/// says so before a chunk (returns true then), the source ends or an error.
///
/// With [`Source::read_ahead`], the reads run on a scoped thread that
/// decodes up to [`READ_AHEAD`] chunks ahead into buffers that circulate
/// between the two threads (allocated once, here); `each` still sees the
/// same chunks in the same order, and an error from the source comes after
/// every chunk read before it, as without read-ahead.
fn for_each_chunk(
    source: &mut dyn Source,
    buf: &mut AudioBuffer,
    stop: &dyn Fn() -> bool,
    each: &mut dyn FnMut(&mut AudioBuffer) -> Result<()>,
) -> Result<bool> {
    if !source.read_ahead() {
        loop {
            if stop() {
                return Ok(true);
            }
            if source.read(buf)? == 0 {
                return Ok(false);
            }
            each(buf)?;
        }
    }
    let (channels, capacity) = (buf.channels(), buf.capacity());
    let (full_tx, full_rx) = sync_channel::<Result<AudioBuffer>>(READ_AHEAD);
    let (empty_tx, empty_rx) = sync_channel::<AudioBuffer>(READ_AHEAD + 1);
    for _ in 0..READ_AHEAD + 1 {
        // Cannot fail: the channel has room for every buffer.
        let _ = empty_tx.send(AudioBuffer::new(channels, capacity));
    }
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Ends when the source does, on an error, or when the consumer
            // hangs up (it stopped or failed): then a send or receive fails.
            while let Ok(mut chunk) = empty_rx.recv() {
                let read = source.read(&mut chunk);
                let last = !matches!(read, Ok(n) if n > 0);
                if full_tx.send(read.map(|_| chunk)).is_err() || last {
                    return;
                }
            }
        });
        let outcome = (|| loop {
            if stop() {
                return Ok(true);
            }
            let Ok(read) = full_rx.recv() else {
                // The reader is gone without a last message: it panicked,
                // which the scope passes on.
                return Ok(false);
            };
            let mut chunk = read?;
            if chunk.frames() == 0 {
                return Ok(false);
            }
            each(&mut chunk)?;
            let _ = empty_tx.send(chunk);
        })();
        // Hang up so that the reader, wherever it waits, ends (after at
        // most one more read).
        drop(empty_tx);
        drop(full_rx);
        outcome
    })
}

/// Streams `source` through `chain` into `sink`.
///
/// The sink is always finalized once it was opened, also when a later step
/// fails or a stop is requested, so a file sink holds a valid file with
/// everything processed before that point.
///
/// # Errors
/// Source, sink and chain errors; [`Error::NonFiniteSample`] for NaN/Inf
/// input; [`Error::EmptyAudio`] for a source with no frames;
/// [`Error::InvalidParameter`] when a two-pass processor meets a source that
/// cannot be rewound.
pub fn run(
    source: &mut dyn Source,
    chain: &mut Chain,
    sink: &mut dyn Sink,
    options: &PipelineOptions,
    control: &Control,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Stats> {
    let started = Instant::now();
    let channels = source.channels();
    let sample_rate = source.sample_rate();
    if channels == 0 {
        return Err(Error::EmptyAudio { reason: format!("{} has 0 channels", source.describe()) });
    }
    if options.chunk_frames == 0 {
        return Err(Error::param("chunkSize", "must be at least 1 frame"));
    }
    let spec = StreamSpec { sample_rate, channels, max_block_frames: options.chunk_frames };
    chain.prepare(&spec)?;
    let mut buf = AudioBuffer::new(channels, options.chunk_frames);
    let total = source.total_frames();
    let analysis = chain.analysis_points();
    let passes = analysis.len() + 1;
    if !analysis.is_empty() && !source.can_rewind() {
        let i = analysis[0];
        return Err(Error::param(
            format!("{i} ({})", chain.kinds()[i]),
            format!("needs a two-pass analysis, but {} cannot be read twice", source.describe()),
        ));
    }
    log::debug!(
        target: LOG,
        "job start: {} ({sample_rate} Hz, {channels} ch, {} frames), chain [{}], chunks of {} frames, {passes} pass(es)",
        source.describe(),
        total.map_or_else(|| "unknown".to_string(), |t| t.to_string()),
        chain.kinds().join(", "),
        options.chunk_frames
    );
    let logged_at = std::cell::Cell::new(started);
    let report = |pass: usize, frames: u64, progress: &mut dyn FnMut(&Progress)| {
        let fraction = total.map(|t| {
            let within = if t == 0 { 1.0 } else { (frames as f64 / t as f64).min(1.0) };
            (pass as f64 + within) / passes as f64
        });
        if log::log_enabled!(target: LOG, log::Level::Debug) && logged_at.get().elapsed() >= PROGRESS_LOG_INTERVAL {
            logged_at.set(Instant::now());
            let pct = fraction.map_or_else(String::new, |f| format!(" ({:.1} %)", f * 100.0));
            log::debug!(target: LOG, "job progress: pass {}/{passes}, {frames} frames{pct}", pass + 1);
        }
        progress(&Progress { frames, total_frames: total, fraction });
    };

    // Analysis passes: each two-pass processor sees the signal as produced by
    // the processors before it.
    for (pass, &point) in analysis.iter().enumerate() {
        chain.reset();
        if pass > 0 || source.can_rewind() {
            source.rewind()?;
        }
        let mut frames = 0u64;
        for_each_chunk(source, &mut buf, &|| control.stop_requested(), &mut |buf| {
            check_finite(&buf.as_block(), frames)?;
            let (before, rest) = chain.processors_mut().split_at_mut(point);
            let mut block = buf.as_block_mut();
            for p in before.iter_mut() {
                p.process(&mut block);
            }
            rest[0].analyze(&block.as_block());
            frames += buf.frames() as u64;
            report(pass, frames, progress);
            Ok(())
        })?;
        chain.processors_mut()[point].finish_analysis();
    }
    if !analysis.is_empty() {
        source.rewind()?;
        chain.reset();
    }

    sink.open(sample_rate, channels)?;
    let mut stats = Stats { sample_rate, channels, ..Stats::default() };
    let result = for_each_chunk(source, &mut buf, &|| control.stop_requested(), &mut |buf| {
        check_finite(&buf.as_block(), stats.frames_processed)?;
        control.apply_parameters(chain)?;
        chain.process(&mut buf.as_block_mut());
        sink.write(&buf.as_block())?;
        stats.frames_processed += buf.frames() as u64;
        stats.chunks_processed += 1;
        control.frames.store(stats.frames_processed, Ordering::Relaxed);
        control.chunks.store(stats.chunks_processed, Ordering::Relaxed);
        report(passes - 1, stats.frames_processed, progress);
        Ok(())
    })
    .map(|stopped| stats.stopped = stopped);
    let finalized = sink.finalize();
    stats.frames_delivered = sink.frames_delivered();
    stats.processing_time_s = started.elapsed().as_secs_f64();
    stats.warnings = source.warnings();
    match result.as_ref().err().or(finalized.as_ref().err()) {
        Some(e) => log::debug!(target: LOG, "job failed after {} frames: {e}", stats.frames_processed),
        None => log::debug!(
            target: LOG,
            "job end: {} frames in {} chunks ({:.3} s of audio) in {:.3} s, {:.1}x real time{}",
            stats.frames_processed,
            stats.chunks_processed,
            stats.audio_s(),
            stats.processing_time_s,
            stats.realtime_factor(),
            if stats.stopped { ", stopped" } else { "" }
        ),
    }
    result?;
    finalized?;
    if stats.frames_processed == 0 && !stats.stopped {
        return Err(Error::EmptyAudio { reason: format!("{} has no audio frames", source.describe()) });
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AudioBlockMut, ParamError, PlanarSink, Processor};

    /// A source of a known ramp, optionally with a NaN at one frame.
    struct Ramp {
        frames: u64,
        pos: u64,
        nan_at: Option<u64>,
        /// Read ahead on a thread of the pipeline's ([`Source::read_ahead`]).
        ahead: bool,
    }
    impl Source for Ramp {
        fn sample_rate(&self) -> u32 {
            1000
        }
        fn channels(&self) -> usize {
            2
        }
        fn total_frames(&self) -> Option<u64> {
            Some(self.frames)
        }
        fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
            let n = (buf.capacity() as u64).min(self.frames - self.pos) as usize;
            buf.set_frames(n);
            for c in 0..2 {
                for (i, s) in buf.channel_mut(c).iter_mut().enumerate() {
                    let f = self.pos + i as u64;
                    *s = if Some(f) == self.nan_at { f32::NAN } else { f as f32 };
                }
            }
            self.pos += n as u64;
            Ok(n)
        }
        fn can_rewind(&self) -> bool {
            true
        }
        fn rewind(&mut self) -> Result<()> {
            self.pos = 0;
            Ok(())
        }
        fn describe(&self) -> String {
            "ramp".into()
        }
        fn read_ahead(&self) -> bool {
            self.ahead
        }
    }

    /// Scales so that the analysed peak becomes 1.
    #[derive(Default)]
    struct PeakToOne {
        peak: f32,
        gain: f32,
    }
    impl Processor for PeakToOne {
        fn kind(&self) -> &'static str {
            "peak"
        }
        fn prepare(&mut self, _: &StreamSpec) -> Result<()> {
            Ok(())
        }
        fn process(&mut self, block: &mut AudioBlockMut<'_>) {
            for ch in block.channels_mut() {
                ch.iter_mut().for_each(|s| *s *= self.gain);
            }
        }
        fn reset(&mut self) {}
        fn parameter_names(&self) -> &'static [&'static str] {
            &[]
        }
        fn set_parameter(&mut self, _: &str, _: f64) -> Result<(), ParamError> {
            Err(ParamError::Unknown)
        }
        fn parameter(&self, _: &str) -> Option<f64> {
            None
        }
        fn needs_analysis(&self) -> bool {
            true
        }
        fn analyze(&mut self, block: &AudioBlock<'_>) {
            for ch in block.iter() {
                self.peak = ch.iter().fold(self.peak, |m, s| m.max(s.abs()));
            }
        }
        fn finish_analysis(&mut self) {
            self.gain = 1.0 / self.peak;
        }
    }

    #[test]
    fn reading_ahead_delivers_the_same_chunks() {
        for two_pass in [false, true] {
            let chain = || if two_pass { Chain::new(vec![Box::new(PeakToOne::default())]) } else { Chain::default() };
            let (plain, plain_sink) = run_ramp(1000, None, &mut chain());
            let mut sink = PlanarSink::new();
            let mut src = Ramp { frames: 1000, pos: 0, nan_at: None, ahead: true };
            let opts = PipelineOptions { chunk_frames: 300 };
            let ahead = run(&mut src, &mut chain(), &mut sink, &opts, &Control::default(), &mut |_| {});
            let (plain, ahead) = (plain.unwrap(), ahead.unwrap());
            assert_eq!((ahead.frames_processed, ahead.chunks_processed), (plain.frames_processed, plain.chunks_processed));
            assert_eq!((sink.channel(0), sink.channel(1)), (plain_sink.channel(0), plain_sink.channel(1)));
        }
    }

    fn run_ramp(frames: u64, nan_at: Option<u64>, chain: &mut Chain) -> (Result<Stats>, PlanarSink) {
        let mut src = Ramp { frames, pos: 0, nan_at, ahead: false };
        let mut sink = PlanarSink::new();
        let r = run(&mut src, chain, &mut sink, &PipelineOptions { chunk_frames: 300 }, &Control::default(), &mut |_| {});
        (r, sink)
    }

    #[test]
    fn streams_every_frame_in_chunks_and_counts_them() {
        let (r, sink) = run_ramp(1000, None, &mut Chain::default());
        let stats = r.unwrap();
        assert_eq!((stats.frames_processed, stats.chunks_processed), (1000, 4));
        assert_eq!(sink.channel(0), (0..1000).map(|f| f as f32).collect::<Vec<_>>());
        assert!((stats.audio_s() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn two_pass_processor_sees_the_whole_signal_before_output() {
        let mut chain = Chain::new(vec![Box::new(PeakToOne::default())]);
        let (r, sink) = run_ramp(1000, None, &mut chain);
        r.unwrap();
        assert_eq!(sink.channel(0)[999], 1.0);
        assert_eq!(sink.frames(), 1000);
    }

    #[test]
    fn nan_input_fails_naming_the_frame_and_keeps_earlier_output() {
        // Read ahead too: the error still comes after the chunks before it.
        for ahead in [false, true] {
            let mut src = Ramp { frames: 1000, pos: 0, nan_at: Some(700), ahead };
            let mut sink = PlanarSink::new();
            let r = run(&mut src, &mut Chain::default(), &mut sink, &PipelineOptions { chunk_frames: 300 }, &Control::default(), &mut |_| {});
            let err = r.unwrap_err();
            assert_eq!(err.code(), "ERR_NON_FINITE_SAMPLE");
            assert!(err.to_string().contains("frame 700"), "{err}");
            assert!(sink.is_finalized());
            assert_eq!(sink.frames(), 600);
        }
    }

    #[test]
    fn empty_source_is_an_error() {
        let (r, _) = run_ramp(0, None, &mut Chain::default());
        assert_eq!(r.unwrap_err().code(), "ERR_EMPTY_AUDIO");
    }

    #[test]
    fn stop_ends_early_with_a_finalized_sink() {
        // Read ahead too: the stop ends there, however far the reader got.
        for ahead in [false, true] {
            let mut src = Ramp { frames: 10_000, pos: 0, nan_at: None, ahead };
            let mut sink = PlanarSink::new();
            let control = Control::default();
            let mut calls = 0;
            let stats = run(&mut src, &mut Chain::default(), &mut sink, &PipelineOptions { chunk_frames: 100 }, &control, &mut |_| {
                calls += 1;
                if calls == 3 {
                    control.stop();
                }
            })
            .unwrap();
            assert!(stats.stopped && sink.is_finalized());
            assert_eq!((stats.frames_processed, sink.frames()), (300, 300));
        }
    }

    /// Scales by `gain`, which must stay below the Nyquist frequency of the
    /// prepared stream (a stand-in for a cutoff: valid only once the rate is known).
    #[derive(Default)]
    struct Scale {
        gain: f64,
        nyquist: Option<f64>,
    }
    impl Processor for Scale {
        fn kind(&self) -> &'static str {
            "scale"
        }
        fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
            self.nyquist = Some(spec.nyquist());
            Ok(())
        }
        fn process(&mut self, block: &mut AudioBlockMut<'_>) {
            for ch in block.channels_mut() {
                ch.iter_mut().for_each(|s| *s *= self.gain as f32);
            }
        }
        fn reset(&mut self) {}
        fn parameter_names(&self) -> &'static [&'static str] {
            &["gain"]
        }
        fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
            if name != "gain" {
                return Err(ParamError::Unknown);
            }
            let max = self.nyquist.unwrap_or(f64::MAX);
            if !(value.is_finite() && (0.0..max).contains(&value)) {
                return Err(ParamError::OutOfRange { min: 0.0, max });
            }
            self.gain = value;
            Ok(())
        }
        fn parameter(&self, _: &str) -> Option<f64> {
            Some(self.gain)
        }
    }

    fn scale_chain(gain: f64) -> Chain {
        Chain::new(vec![Box::new(Scale { gain, nyquist: None })])
    }

    fn prepared_shadow() -> Chain {
        let mut shadow = scale_chain(1.0);
        shadow.prepare(&StreamSpec { sample_rate: 1000, channels: 2, max_block_frames: 300 }).unwrap();
        shadow
    }

    #[test]
    fn with_a_shadow_an_out_of_range_value_fails_at_the_call_and_is_not_queued() {
        let control = Control::default();
        control.set_shadow(prepared_shadow()).unwrap();
        // 600 is fine before the rate is known, above Nyquist (500 Hz) after.
        let err = control.set_parameter("0.gain", 600.0).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_PARAMETER");
        assert!(err.to_string().contains("0.gain"), "{err}");
        assert_eq!(control.set_parameter("1.gain", 2.0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        assert_eq!(control.set_parameter("0.bogus", 2.0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        control.set_parameter("0.gain", 2.0).unwrap();
        let mut src = Ramp { frames: 600, pos: 0, nan_at: None, ahead: false };
        let mut sink = PlanarSink::new();
        let stats =
            run(&mut src, &mut scale_chain(1.0), &mut sink, &PipelineOptions { chunk_frames: 300 }, &control, &mut |_| {})
                .unwrap();
        // Only the accepted value reached the chain: every frame doubled.
        assert_eq!(stats.frames_processed, 600);
        assert_eq!(sink.channel(1), (0..600).map(|f| 2.0 * f as f32).collect::<Vec<_>>());
    }

    #[test]
    fn a_shadow_checks_the_values_queued_before_it() {
        let control = Control::default();
        control.set_parameter("0.gain", 3.0).unwrap();
        control.set_parameter("0.gain", 700.0).unwrap();
        let err = control.set_shadow(prepared_shadow()).unwrap_err();
        assert!(err.to_string().contains("700"), "{err}");
        // Nothing stays queued: a run applies no value.
        let mut sink = PlanarSink::new();
        run(&mut Ramp { frames: 10, pos: 0, nan_at: None, ahead: false }, &mut scale_chain(1.0), &mut sink, &PipelineOptions::default(), &control, &mut |_| {})
            .unwrap();
        assert_eq!(sink.channel(0)[9], 9.0);
        assert_eq!(Control::default().set_shadow(scale_chain(1.0)).unwrap_err().code(), "ERR_INVALID_STATE");
    }

    #[test]
    fn without_a_shadow_an_invalid_value_fails_the_run_when_applied() {
        let control = Control::default();
        control.set_parameter("0.gain", 600.0).unwrap();
        let mut sink = PlanarSink::new();
        let err = run(&mut Ramp { frames: 10, pos: 0, nan_at: None, ahead: false }, &mut scale_chain(1.0), &mut sink, &PipelineOptions::default(), &control, &mut |_| {})
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_PARAMETER");
    }

    #[test]
    fn a_hostile_chunk_size_is_an_error_not_an_allocation() {
        let mut sink = PlanarSink::new();
        let err = run(
            &mut Ramp { frames: 10, pos: 0, nan_at: None, ahead: false },
            &mut Chain::default(),
            &mut sink,
            &PipelineOptions { chunk_frames: u32::MAX as usize },
            &Control::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_PARAMETER");
        assert!(!sink.is_finalized() && sink.frames() == 0);
    }
}
