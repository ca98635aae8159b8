//! [`analyze_file`]: a whole file through [`TrackAnalyzer`], decoding on
//! one thread and analysing on another, with progress and the frame
//! features streamed to the caller (for instance into a CSV file with
//! [`FrameCsvWriter`]).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use resonode_core::{AudioBuffer, Error, Result, Source};
use resonode_io::{FileSource, SourceOptions};

use crate::config::AnalysisConfig;
use crate::features::FeatureFrames;
use crate::key::PITCH_CLASSES;
use crate::loudness::{LoudnessMeter, Measures};
use crate::track::{TrackAnalyzer, TrackDescriptors};

/// Options of [`analyze_file`].
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    pub config: AnalysisConfig,
    /// Decoded frames per block (default 65536).
    pub block_frames: Option<usize>,
}

/// Blocks queued from the decoding thread to each of the two others: enough
/// to ride out scheduling jitter between three threads on two cores, and a
/// bound on memory (8 blocks of 65536 frames: 4 MB of stereo).
const QUEUE_BLOCKS: usize = 8;

/// Analyses the file at `path` (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC; any rate and
/// channel count). `on_progress(fraction)` is called after every block
/// (`NaN` when the length is unknown), `on_frames` with each batch of frame
/// features. `stop` ends the analysis early (with [`Error::InvalidState`]).
///
/// Decoding (with integrated loudness and loudness range) and the true peak
/// run on two scoped threads, the analysis on the calling thread; memory is
/// bounded (a few decoded blocks in flight, plus [`TrackAnalyzer`]'s
/// per-frame onset envelopes).
///
/// # Errors
/// [`Error::NotFound`], [`Error::UnsupportedFormat`], [`Error::Decode`]
/// (naming the file and the damage; the frames decoded before it are still
/// handed to `on_frames`), [`Error::EmptyAudio`] for a file with no frames,
/// [`Error::NonFiniteSample`] for NaN / infinity in a float file, and
/// whatever `on_frames` returns.
pub fn analyze_file(
    path: &Path,
    opts: &AnalyzeOptions,
    stop: &AtomicBool,
    on_progress: impl FnMut(f64),
    on_frames: impl FnMut(&FeatureFrames) -> Result<()>,
) -> Result<TrackDescriptors> {
    analyze_file_with_blocks(path, opts, stop, on_progress, on_frames, &mut ())
}

/// Sees the decoded audio of [`analyze_file_with_blocks`] as it streams,
/// for work that needs the samples themselves (plots, for instance) without
/// decoding the file a second time.
pub trait DecodedBlocks {
    /// Called once, before any block, with the file's sample rate (Hz),
    /// channel count and length in frames (`None` when unknown).
    ///
    /// # Errors
    /// Any error ends the analysis with it.
    fn start(&mut self, sample_rate: u32, channels: usize, total_frames: Option<u64>) -> Result<()>;
    /// Called with every decoded block (planar, `channels` x frames, in
    /// order, on the analysing thread) after the analyzer took it.
    ///
    /// # Errors
    /// Any error ends the analysis with it.
    fn block(&mut self, planar: &[&[f32]]) -> Result<()>;
}

/// No hook: [`analyze_file`].
impl DecodedBlocks for () {
    fn start(&mut self, _: u32, _: usize, _: Option<u64>) -> Result<()> {
        Ok(())
    }
    fn block(&mut self, _: &[&[f32]]) -> Result<()> {
        Ok(())
    }
}

/// [`analyze_file`], also handing every decoded block to `blocks` (same
/// threads, same single decode; the blocks are those the analyzer sees).
///
/// # Errors
/// As [`analyze_file`], and whatever `blocks` returns.
pub fn analyze_file_with_blocks(
    path: &Path,
    opts: &AnalyzeOptions,
    stop: &AtomicBool,
    mut on_progress: impl FnMut(f64),
    mut on_frames: impl FnMut(&FeatureFrames) -> Result<()>,
    blocks: &mut dyn DecodedBlocks,
) -> Result<TrackDescriptors> {
    let mut source = FileSource::open(path, &SourceOptions::default())?;
    let (rate, channels, total) = (source.sample_rate(), source.channels(), source.total_frames());
    blocks.start(rate, channels, total)?;
    // Log target `resonode::analysis` (see `resonode_core::log_filter`).
    let started = std::time::Instant::now();
    log::debug!(
        target: "resonode::analysis",
        "analysis start: {} ({rate} Hz, {channels} ch, {} frames)",
        path.display(),
        total.map_or_else(|| "unknown".to_string(), |t| t.to_string())
    );
    let mut analyzer = TrackAnalyzer::new(opts.config.clone(), rate, channels)?.without_loudness();
    // Three threads: decoding with the gated loudness measures, the true
    // peak (4x oversampling, the costliest measure), and the analysis here.
    let mut gated = LoudnessMeter::with_measures(rate, channels, Measures::Gated)?;
    let mut peak = LoudnessMeter::with_measures(rate, channels, Measures::TruePeak)?;
    let block = opts.block_frames.unwrap_or(65_536).max(1);
    let (tx, rx) = mpsc::sync_channel::<Result<Arc<AudioBuffer>>>(QUEUE_BLOCKS);
    let (peak_tx, peak_rx) = mpsc::sync_channel::<Arc<AudioBuffer>>(QUEUE_BLOCKS);
    // Both consumers hand their references back; the second one returned is
    // the last, and its buffer is decoded into again.
    let (back_tx, back_rx) = mpsc::channel::<Arc<AudioBuffer>>();
    let peak_back = back_tx.clone();
    let cancelled = AtomicBool::new(false);
    let loudness = std::thread::scope(|scope| {
        let cancelled = &cancelled;
        let spawn_err = |e: std::io::Error| Error::Internal { message: format!("cannot start an analysis thread: {e}") };
        let decoder = std::thread::Builder::new()
            .name("resonode-analyze-decode".into())
            .spawn_scoped(scope, move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
                    if cancelled.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut buf = back_rx.try_iter().find_map(|b| Arc::try_unwrap(b).ok()).unwrap_or_else(|| AudioBuffer::new(channels, block));
                    let read = source.read(&mut buf).and_then(|n| {
                        let planar: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
                        gated.push(&planar).map(|()| n)
                    });
                    match read {
                        Ok(0) => return,
                        Ok(_) => {
                            let buf = Arc::new(buf);
                            if peak_tx.send(buf.clone()).is_err() || tx.send(Ok(buf)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }));
                if outcome.is_err() {
                    let _ = tx.send(Err(Error::Internal { message: "the decoding thread panicked".into() }));
                }
                gated.summary()
            })
            .map_err(spawn_err)?;
        let peaks = std::thread::Builder::new()
            .name("resonode-analyze-peak".into())
            .spawn_scoped(scope, move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    for buf in peak_rx.iter() {
                        let planar: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
                        // The shape is the decoder's own: pushing cannot fail.
                        let _ = peak.push(&planar);
                        let _ = peak_back.send(buf);
                    }
                    peak.summary()
                }))
                .ok()
            })
            .map_err(spawn_err)?;
        let mut run = || -> Result<()> {
            let mut failure = None;
            for item in rx.iter() {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::InvalidState { reason: "the analysis was stopped".into() });
                }
                let buf = item?;
                let planar: Vec<&[f32]> = (0..channels).map(|c| buf.channel(c)).collect();
                analyzer.push(&planar, |f| {
                    if failure.is_none() {
                        failure = on_frames(f).err();
                    }
                })?;
                if let Some(e) = failure.take() {
                    return Err(e);
                }
                blocks.block(&planar)?;
                on_progress(total.map_or(f64::NAN, |t| (analyzer.frames_in() as f64 / t.max(1) as f64).min(1.0)));
                let _ = back_tx.send(buf);
            }
            Ok(())
        };
        let result = run();
        cancelled.store(true, Ordering::Relaxed);
        drop(rx);
        let gated = decoder.join().unwrap_or_default();
        let peak = peaks.join().ok().flatten().unwrap_or_default();
        result.map(|()| gated.or(peak))
    });
    let loudness = match loudness {
        Ok(l) => l,
        Err(e) => {
            // Damaged data: the frames of everything decoded before it still
            // go to `on_frames` (a frames CSV then holds them all), then the
            // error.
            if matches!(e, Error::Decode { .. }) && analyzer.frames_in() > 0 {
                let _ = analyzer.finish_with_loudness(Default::default(), |f| {
                    let _ = on_frames(f);
                });
            }
            return Err(e);
        }
    };
    if analyzer.frames_in() == 0 {
        return Err(Error::EmptyAudio { reason: format!("{}: the file holds no audio frames", path.display()) });
    }
    let mut failure = None;
    let analyzer_frames = analyzer.frames_in();
    let d = analyzer.finish_with_loudness(loudness, |f| {
        if failure.is_none() {
            failure = on_frames(f).err();
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    log::debug!(
        target: "resonode::analysis",
        "analysis end: {}: {} frames in {:.3} s",
        path.display(),
        analyzer_frames,
        started.elapsed().as_secs_f64()
    );
    on_progress(1.0);
    Ok(d)
}

/// Writes frame features as CSV: a header, then one line per frame:
/// `frame,time_s,rms,zcr,centroid_hz,bandwidth_hz,rolloff_hz,flatness,flux,onset_strength,mfcc0..,chroma_C..chroma_B`.
pub struct FrameCsvWriter<W: Write> {
    out: W,
    frame_rate: f64,
    path: String,
    wrote_header: bool,
}

impl<W: Write> FrameCsvWriter<W> {
    /// `path` names the destination in errors.
    pub fn new(out: W, config: &AnalysisConfig, path: impl Into<String>) -> Self {
        FrameCsvWriter { out, frame_rate: config.frame_rate(), path: path.into(), wrote_header: false }
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::Io { path: self.path.clone(), reason: e.to_string() }
    }

    /// Appends a batch of frames.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write(&mut self, f: &FeatureFrames) -> Result<()> {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(f.len() * 400);
        if !self.wrote_header {
            s.push_str("frame,time_s,rms,zcr,centroid_hz,bandwidth_hz,rolloff_hz,flatness,flux,onset_strength");
            for c in 0..f.mfcc.len() {
                let _ = write!(s, ",mfcc{c}");
            }
            for p in PITCH_CLASSES {
                let _ = write!(s, ",chroma_{p}");
            }
            s.push('\n');
            self.wrote_header = true;
        }
        for t in 0..f.len() {
            let frame = f.first_frame + t as u64;
            let _ = write!(
                s,
                "{frame},{:.6},{},{},{},{},{},{},{},{}",
                frame as f64 / self.frame_rate,
                f.rms[t],
                f.zcr[t],
                f.centroid_hz[t],
                f.bandwidth_hz[t],
                f.rolloff_hz[t],
                f.flatness[t],
                f.flux[t],
                f.onset_strength[t]
            );
            for row in f.mfcc.iter().chain(f.chroma.iter()) {
                let _ = write!(s, ",{}", row[t]);
            }
            s.push('\n');
        }
        self.out.write_all(s.as_bytes()).map_err(|e| self.io(e))
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// [`Error::Io`] when flushing fails.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|e| self.io(e))?;
        Ok(self.out)
    }
}
