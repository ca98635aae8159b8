//! Live ends for [`resonode_core::pipeline::run`]: [`MicrophoneSource`]
//! (an input-only engine's capture queue) and [`SpeakerSink`] (an
//! output-only engine's playback queue).
//!
//! Both run on the pipeline's ordinary thread and wait for the audio thread
//! with short sleeps, never the other way round: the callback only touches
//! the wait-free rings.

use std::time::{Duration, Instant};

use resonode_core::chain_spec::ProcessorSpec;
use resonode_core::ring::{Consumer, Producer};
use resonode_core::{AudioBlock, AudioBuffer, Error, Result, Sink, Source};

use crate::callbacks::ClockMark;
use crate::config::{Direction, StreamConfig};
use crate::devices::Backend;
use crate::engine::{EngineOptions, EngineStats, RealtimeEngine};

/// How long [`MicrophoneSource::read`] waits for audio, and
/// [`SpeakerSink::write`] for room, before giving up with `ERR_STREAM`.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A live input as a pipeline [`Source`]: an input-only
/// [`RealtimeEngine`] (optionally running a chain) whose capture queue
/// `read` drains. With a frame limit the source ends after that many
/// frames, so a pipeline run finishes; without one it runs until stopped.
pub struct MicrophoneSource {
    engine: Option<RealtimeEngine>,
    capture: Consumer,
    channels: usize,
    sample_rate: u32,
    limit: Option<u64>,
    delivered: u64,
    interleaved: Vec<f32>,
    period: Duration,
    final_stats: Option<EngineStats>,
    name: String,
}

impl MicrophoneSource {
    /// Opens the input described by `config` (which must be input-only) on
    /// `backend`, with no chain.
    ///
    /// # Errors
    /// As [`RealtimeEngine::start`]; [`Error::InvalidParameter`] when
    /// `config` has output channels.
    pub fn open(config: StreamConfig, backend: Backend, limit_frames: Option<u64>) -> Result<Self> {
        Self::open_with(config, &[], backend, limit_frames, EngineOptions::default())
    }

    /// Like [`open`](MicrophoneSource::open), running `specs` on the input
    /// inside the callback, with engine `options` (e.g. the `none`
    /// backend's test input).
    ///
    /// # Errors
    /// As [`open`](MicrophoneSource::open) and the chain's.
    pub fn open_with(
        config: StreamConfig,
        specs: &[ProcessorSpec],
        backend: Backend,
        limit_frames: Option<u64>,
        mut options: EngineOptions,
    ) -> Result<Self> {
        if config.direction() != Direction::Input {
            return Err(Error::param(
                "channelsOut",
                "a microphone source is input-only: set channelsOut to 0",
            ));
        }
        if options.capture_frames.is_none() {
            // Two seconds of slack for a pipeline thread that falls behind.
            options.capture_frames = Some(config.sample_rate as usize * 2);
        }
        let name = format!(
            "microphone `{}`",
            config.input_device.as_deref().unwrap_or("default")
        );
        let engine = RealtimeEngine::start_from_specs(config.clone(), specs, backend, options)?;
        let capture = engine.take_capture().ok_or_else(|| Error::Internal {
            message: "no capture queue".into(),
        })?;
        let period = Duration::from_secs_f64(config.buffer_size as f64 / config.sample_rate as f64);
        Ok(MicrophoneSource {
            engine: Some(engine),
            capture,
            channels: config.channels_in as usize,
            sample_rate: config.sample_rate,
            limit: limit_frames,
            delivered: 0,
            interleaved: Vec::new(),
            period,
            final_stats: None,
            name,
        })
    }

    /// The running engine (stats, events, parameters); `None` once stopped.
    pub fn engine(&self) -> Option<&RealtimeEngine> {
        self.engine.as_ref()
    }

    /// Frames delivered by `read` so far.
    pub fn frames_read(&self) -> u64 {
        self.delivered
    }

    /// Stops the input stream (also done when the limit is reached or the
    /// source is dropped) and returns the engine's final stats.
    ///
    /// # Errors
    /// As [`RealtimeEngine::stop`].
    pub fn stop(&mut self) -> Result<EngineStats> {
        if let Some(engine) = self.engine.take() {
            self.final_stats = Some(engine.stop()?);
        }
        self.final_stats.ok_or_else(|| Error::InvalidState {
            reason: "never started".into(),
        })
    }

    /// Final stats after [`stop`](MicrophoneSource::stop) (or the limit).
    pub fn final_stats(&self) -> Option<EngineStats> {
        self.final_stats
    }
}

impl Source for MicrophoneSource {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn total_frames(&self) -> Option<u64> {
        self.limit
    }

    /// Waits until a full block (the buffer's capacity, or what is left of
    /// the limit) has been captured, then returns it.
    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        let remaining = self
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(self.delivered));
        let want = (buf.capacity() as u64).min(remaining) as usize;
        if want == 0 {
            self.stop()?;
            buf.set_frames(0);
            return Ok(0);
        }
        if self.engine.is_none() {
            return Err(Error::InvalidState {
                reason: format!("{} was stopped", self.name),
            });
        }
        let ch = self.channels;
        self.interleaved.resize(want * ch, 0.0);
        let mut got = 0;
        let mut last_progress = Instant::now();
        while got < want {
            let n = self
                .capture
                .read(&mut self.interleaved[got * ch..want * ch]);
            got += n;
            if got == want {
                break;
            }
            if n > 0 {
                last_progress = Instant::now();
            } else if last_progress.elapsed() > STALL_TIMEOUT {
                return Err(Error::Stream {
                    reason: format!(
                        "{} delivered no audio for {} s",
                        self.name,
                        STALL_TIMEOUT.as_secs()
                    ),
                });
            }
            std::thread::sleep(
                (self.period / 4).clamp(Duration::from_micros(500), Duration::from_millis(5)),
            );
        }
        buf.set_frames(want);
        buf.as_block_mut()
            .copy_from_interleaved(&self.interleaved[..want * ch]);
        self.delivered += want as u64;
        if self.limit.is_some_and(|l| self.delivered >= l) {
            self.stop()?;
        }
        Ok(want)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A live output as a pipeline [`Sink`]: `open` starts an output-only
/// [`RealtimeEngine`] whose callback plays what `write` queues (silence
/// while the queue is empty); `write` waits while the queue is full;
/// `finalize` waits until everything queued has been handed to the device
/// and played out, then stops the stream.
pub struct SpeakerSink {
    config: StreamConfig,
    backend: Backend,
    specs: Vec<ProcessorSpec>,
    queue_frames: usize,
    engine: Option<RealtimeEngine>,
    playback: Option<Producer>,
    interleaved: Vec<f32>,
    /// Interleaved frames held back until the queue can start with a
    /// cushion (see [`SpeakerSink::prime_frames`]); empty once primed.
    pending: Vec<f32>,
    primed: bool,
    in_channels: usize,
    written: u64,
    final_stats: Option<EngineStats>,
    clock_marks: Option<usize>,
    marks: Option<Consumer<ClockMark>>,
    clock: Option<(Vec<ClockMark>, Instant)>,
}

impl SpeakerSink {
    /// A sink for the output in `config` (which must be output-only) on
    /// `backend`; nothing opens until the pipeline calls `open`.
    pub fn new(config: StreamConfig, backend: Backend) -> Self {
        let queue_frames = (config.sample_rate as usize / 4).max(4 * config.buffer_size as usize);
        SpeakerSink {
            config,
            backend,
            specs: Vec::new(),
            queue_frames,
            engine: None,
            playback: None,
            interleaved: Vec::new(),
            pending: Vec::new(),
            primed: false,
            in_channels: 0,
            written: 0,
            final_stats: None,
            clock_marks: None,
            marks: None,
            clock: None,
        }
    }

    /// Records a [`ClockMark`] per output callback (up to `capacity`), kept
    /// by `finalize` for [`output_clock`](SpeakerSink::output_clock).
    pub fn with_clock_marks(mut self, capacity: usize) -> Self {
        self.clock_marks = Some(capacity);
        self
    }

    /// After `finalize`: the output clock marks and the instant they count
    /// from (with [`with_clock_marks`](SpeakerSink::with_clock_marks)).
    pub fn output_clock(&self) -> Option<(&[ClockMark], Instant)> {
        self.clock.as_ref().map(|(m, e)| (&m[..], *e))
    }

    /// Runs `specs` inside the output callback.
    pub fn with_chain(mut self, specs: &[ProcessorSpec]) -> Self {
        self.specs = specs.to_vec();
        self
    }

    /// Capacity of the playback queue in frames (default a quarter second).
    pub fn with_queue_frames(mut self, frames: usize) -> Self {
        self.queue_frames = frames.max(1);
        self
    }

    /// The running engine; `None` before `open` and after `finalize`.
    pub fn engine(&self) -> Option<&RealtimeEngine> {
        self.engine.as_ref()
    }

    /// The engine's stats when `finalize` stopped it.
    pub fn final_stats(&self) -> Option<EngineStats> {
        self.final_stats
    }

    /// Frames accepted by `write`.
    pub fn frames_written(&self) -> u64 {
        self.written
    }

    fn period(&self) -> Duration {
        Duration::from_secs_f64(self.config.buffer_size as f64 / self.config.sample_rate as f64)
    }

    /// Frames the playback queue starts with: a block as the pipeline
    /// writes them (at least a device buffer) plus one device buffer of
    /// cushion. The callback plays the queue from its first frame on, and
    /// a live source delivers its blocks with some jitter against the
    /// output's clock: started with one block only, the queue ran short
    /// again and again in the first seconds, each time playing a few
    /// frames of silence mid-signal (`playbackStarved`; ~15 ms in all over
    /// the first 2 s of a microphone -> speaker run on PulseAudio) until
    /// those silences had built up that cushion. Held back here, it costs
    /// one buffer of latency once, before the audio starts.
    fn prime_frames(&self, block_frames: usize) -> usize {
        let buffer = self.config.buffer_size as usize;
        (block_frames.max(buffer) + buffer).min(self.queue_frames)
    }

    /// Writes interleaved `data` to the playback queue, waiting (bounded)
    /// while it is full.
    fn push(&mut self, data_is_pending: bool) -> Result<()> {
        let period = self.period();
        let out_ch = self.config.channels_out as usize;
        let (Some(playback), Some(engine)) = (self.playback.as_mut(), self.engine.as_ref()) else {
            return Err(Error::InvalidState {
                reason: "speaker sink is not open".into(),
            });
        };
        let data = if data_is_pending { &self.pending } else { &self.interleaved };
        let frames = data.len() / out_ch;
        let mut done = 0;
        let mut last_progress = Instant::now();
        while done < frames {
            let n = playback.write(&data[done * out_ch..]);
            done += n;
            if done == frames {
                break;
            }
            if n > 0 {
                last_progress = Instant::now();
            } else if last_progress.elapsed() > STALL_TIMEOUT || engine.is_finished() {
                return Err(Error::Stream {
                    reason: format!(
                        "the output device took no audio for {} s",
                        STALL_TIMEOUT.as_secs()
                    ),
                });
            }
            std::thread::sleep(
                (period / 4).clamp(Duration::from_micros(500), Duration::from_millis(5)),
            );
        }
        Ok(())
    }

    /// Starts the queue with what `write` held back.
    fn release_pending(&mut self) -> Result<()> {
        self.primed = true;
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.push(true);
        self.pending = Vec::new();
        result
    }
}

impl Sink for SpeakerSink {
    /// Starts the output stream. The pipeline's sample rate must equal the
    /// config's (resample first); channels are mapped like a duplex stream's
    /// (mono to all, otherwise `i -> i`, missing ones silent).
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
        if self.config.direction() != Direction::Output {
            return Err(Error::param(
                "channelsIn",
                "a speaker sink is output-only: set channelsIn to 0",
            ));
        }
        if sample_rate != self.config.sample_rate {
            return Err(Error::param(
                "sampleRate",
                format!(
                    "the audio is {sample_rate} Hz but the speaker stream is {} Hz; resample first",
                    self.config.sample_rate
                ),
            ));
        }
        if channels == 0 {
            return Err(Error::EmptyAudio {
                reason: "0 channels".into(),
            });
        }
        let options = EngineOptions {
            playback_frames: Some(self.queue_frames),
            clock_marks: self.clock_marks,
            ..EngineOptions::default()
        };
        let engine = RealtimeEngine::start_from_specs(
            self.config.clone(),
            &self.specs,
            self.backend,
            options,
        )?;
        self.playback = engine.take_playback();
        self.marks = engine.take_output_marks();
        self.engine = Some(engine);
        self.in_channels = channels;
        self.pending.clear();
        self.primed = false;
        Ok(())
    }

    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        if self.playback.is_none() || self.engine.is_none() {
            return Err(Error::InvalidState {
                reason: "speaker sink is not open".into(),
            });
        }
        let out_ch = self.config.channels_out as usize;
        let frames = block.frames();
        self.interleaved.clear();
        self.interleaved.resize(frames * out_ch, 0.0);
        for c in 0..out_ch {
            let src = if block.channels() == 1 {
                0
            } else if c < block.channels() {
                c
            } else {
                continue;
            };
            for (i, &s) in block.channel(src).iter().enumerate() {
                self.interleaved[i * out_ch + c] = s;
            }
        }
        if self.primed {
            self.push(false)?;
        } else {
            // Held back until the queue can start with a cushion.
            self.pending.extend_from_slice(&self.interleaved);
            if self.pending.len() / out_ch >= self.prime_frames(frames) {
                self.release_pending()?;
            }
        }
        self.written += frames as u64;
        Ok(())
    }

    /// Waits (bounded) until the callback has taken every queued frame and
    /// the device has had time to play it, then stops the stream.
    fn finalize(&mut self) -> Result<()> {
        if self.engine.is_none() {
            return Ok(());
        }
        // A stream shorter than the cushion: play what was held back.
        let released = self.release_pending();
        let Some(engine) = self.engine.take() else {
            return Ok(());
        };
        if let Err(e) = released {
            self.playback = None;
            let _ = engine.stop();
            return Err(e);
        }
        let period = self.period();
        let deadline = Instant::now()
            + STALL_TIMEOUT
            + Duration::from_secs_f64(self.queue_frames as f64 / self.config.sample_rate as f64);
        while engine.stats().playback_consumed < self.written
            && Instant::now() < deadline
            && !engine.is_finished()
        {
            std::thread::sleep(
                (period / 4).clamp(Duration::from_micros(500), Duration::from_millis(5)),
            );
        }
        // Let the device play what it holds: its own delay plus two buffers.
        let stats = engine.stats();
        let tail_ms = stats.latency_ms_measured.unwrap_or(0.0).min(1000.0) + stats.latency_ms;
        std::thread::sleep(Duration::from_secs_f64(tail_ms / 1000.0));
        let drained = stats.playback_consumed >= self.written;
        self.playback = None;
        let epoch = engine.epoch();
        self.final_stats = Some(engine.stop()?);
        if let Some(mut rx) = self.marks.take() {
            let mut marks = Vec::with_capacity(rx.available());
            while let Some(m) = rx.pop() {
                marks.push(m);
            }
            self.clock = Some((marks, epoch));
        }
        if !drained {
            return Err(Error::Stream {
                reason: format!(
                    "the output device stopped taking audio: {} of {} frames played",
                    stats.playback_consumed, self.written
                ),
            });
        }
        Ok(())
    }
}
