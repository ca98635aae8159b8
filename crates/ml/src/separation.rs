//! Separation jobs: the orchestration behind resonode's `Separator` API
//! (`separate`, `separateLong`, `separateFile`, `separateStreaming`), on
//! top of [`HtDemucs`] and [`SeparationWorker`]: reading the input (a file,
//! planar arrays or pushed blocks), loading the model with the options
//! that depend on it, choosing the stems, writing stem files, stopping,
//! timing.
//!
//! - [`separate`]: a whole signal at once (demucs'
//!   `Separator.separate_tensor`); a file is decoded whole first.
//! - [`separate_long`]: any length at bounded working memory, into memory
//!   or into one file per stem ([`StemFiles`]), with progress and stop
//!   through a [`Control`]. A stop ends the run within one source read or
//!   one model call and returns what was separated so far with
//!   [`Separated::stopped`] set, like a stopped pipeline; stem files are
//!   finalised (valid, holding every frame reported).
//! - [`spawn_worker`]: a streaming separation on its own thread.
//!
//! Audio is planar: channels x frames; stems are stems x channels x frames,
//! at the input's rate and length.
//!
//! # Errors
//! Every failure is a [`resonode_core::Error`]: `ERR_INVALID_PARAMETER`
//! for options (both `overlap` and `overlap_seconds`, a segment longer than
//! the model's, an unknown stem, bad fixed statistics, a missing rate),
//! the input's (`ERR_NOT_FOUND`, `ERR_DECODE`, `ERR_SHAPE`,
//! `ERR_NON_FINITE_SAMPLE`, `ERR_EMPTY_AUDIO`), the model's
//! (`ERR_NOT_FOUND`, `ERR_MODEL`, `ERR_MODEL_MISMATCH`,
//! `ERR_RUNTIME_NOT_FOUND`), and the stem files' (`ERR_IO`, `ERR_ENCODE`).
//!
//! # Real-time safety
//! None: these jobs load models, read files and allocate. Run them on a
//! worker thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use resonode_core::{AudioBuffer, Control, Error, PlanarSource, Progress, Result, Sink, Source};
use resonode_io::read::decode_file;
use resonode_io::{open_sink, FileInfo, FileSource, OutputFormat, SourceOptions, WavEncoding};

use crate::chunker::{concat_regions, Crossfade, LongOptions};
use crate::htdemucs::{HtDemucs, Normalization, SeparateOptions};
use crate::runtime::SessionOptions;
use crate::separation_worker::{SeparationWorker, StoppableSource, WorkerInput, WorkerOptions};

/// What a separation reads.
#[derive(Debug, Clone, PartialEq)]
pub enum SeparationInput {
    /// A file (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC), decoded with `options`
    /// (resampling, channel selection).
    File {
        /// The file.
        path: PathBuf,
        /// How it is decoded.
        options: SourceOptions,
    },
    /// Planar audio, channels x frames.
    Planar {
        /// The samples.
        channels: Vec<Vec<f32>>,
        /// Their rate in Hz.
        sample_rate: u32,
    },
    /// Blocks of `channels` channels pushed later ([`spawn_worker`] only).
    Push {
        /// Channels of every block.
        channels: usize,
        /// Rate of the blocks in Hz.
        sample_rate: u32,
    },
}

/// An opened input: the source and, for a file, its header (whose encoding
/// stem files take by default).
pub struct OpenedInput {
    /// The audio.
    pub source: Box<dyn Source>,
    /// The file's header; `None` for arrays.
    pub info: Option<FileInfo>,
}

impl SeparationInput {
    /// The input from the parts a caller may give: exactly one of a file,
    /// planar channels or a pushed channel count; planar and pushed input
    /// need `sample_rate`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`input`) for none or several;
    /// (`sampleRate`) for planar or pushed input without a rate > 0.
    pub fn from_parts(
        file: Option<(PathBuf, SourceOptions)>,
        planar: Option<Vec<Vec<f32>>>,
        push_channels: Option<usize>,
        sample_rate: Option<u32>,
    ) -> Result<SeparationInput> {
        let rate = |what: &str| match sample_rate {
            Some(r) if r > 0 => Ok(r),
            _ => Err(Error::param("sampleRate", format!("{what} needs a sample rate in Hz > 0"))),
        };
        match (file, planar, push_channels) {
            (Some((path, options)), None, None) => Ok(SeparationInput::File { path, options }),
            (None, Some(channels), None) => {
                Ok(SeparationInput::Planar { channels, sample_rate: rate("planar input")? })
            }
            (None, None, Some(channels)) => {
                Ok(SeparationInput::Push { channels, sample_rate: rate("a block stream")? })
            }
            _ => Err(Error::param(
                "input",
                "give exactly one of a file path, a FileSource, planar Float32Array[] or a block stream",
            )),
        }
    }

    /// Opens the input as a source, or `None` for pushed blocks.
    ///
    /// # Errors
    /// The file's ([`FileSource::open`]); [`Error::Shape`],
    /// [`Error::EmptyAudio`] for planar input ([`PlanarSource::new`]).
    pub fn open(self) -> Result<Option<OpenedInput>> {
        Ok(match self {
            SeparationInput::File { path, options } => {
                let src = FileSource::open(&path, &options)?;
                let info = src.info().clone();
                Some(OpenedInput { source: Box::new(src), info: Some(info) })
            }
            SeparationInput::Planar { channels, sample_rate } => {
                Some(OpenedInput { source: Box::new(PlanarSource::new(channels, sample_rate)?), info: None })
            }
            SeparationInput::Push { .. } => None,
        })
    }

    /// The whole input in memory (a file is decoded), with its rate.
    ///
    /// # Errors
    /// The file's; [`Error::InvalidParameter`] for pushed blocks (they
    /// only stream).
    pub fn read_all(self) -> Result<(Vec<Vec<f32>>, u32)> {
        match self {
            SeparationInput::Planar { channels, sample_rate } => Ok((channels, sample_rate)),
            SeparationInput::File { path, options } => {
                let d = decode_file(&path, &options)?;
                Ok((d.channels, d.sample_rate))
            }
            SeparationInput::Push { .. } => {
                Err(Error::param("input", "separate() needs the whole input; stream blocks with separateStreaming()"))
            }
        }
    }
}

/// Which model and how it separates.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparationConfig {
    /// An HTDemucs ONNX export (`docs/htdemucs.md`); `name.0.onnx`,
    /// `name.1.onnx`, ... load as a bag ([`HtDemucs::load`]).
    pub model: PathBuf,
    /// Runtime library, execution provider, threads.
    pub session: SessionOptions,
    /// Overlap ratio between segments in `[0, 1)` (default 0.25).
    pub overlap: Option<f64>,
    /// Overlap in seconds, converted to a ratio of the segment; exclusive
    /// with `overlap`.
    pub overlap_seconds: Option<f64>,
    /// Segment crossfade (default triangular, as demucs' `apply_model`).
    pub crossfade: Crossfade,
    /// Segment (chunk) length in seconds, in `(0, model segment]` (demucs'
    /// `--segment`); the export's fixed length is the longest and the
    /// default (`None`). A shorter chunk is zero-padded to the export's
    /// length for the model and its output cut back, as HTDemucs does.
    pub segment_seconds: Option<f64>,
    /// Input normalisation (default global, as demucs).
    pub normalization: Normalization,
}

impl SeparationConfig {
    /// The model at `model` with every option at its default.
    pub fn new(model: impl Into<PathBuf>) -> SeparationConfig {
        SeparationConfig {
            model: model.into(),
            session: SessionOptions::default(),
            overlap: None,
            overlap_seconds: None,
            crossfade: Crossfade::default(),
            segment_seconds: None,
            normalization: Normalization::Global,
        }
    }

    /// The options that do not depend on the model (`overlap_seconds` is
    /// resolved by [`load_into`](SeparationConfig::load_into)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for both `overlap` and
    /// `overlap_seconds`, or bad fixed normalisation statistics.
    pub fn separate_options(&self) -> Result<SeparateOptions> {
        if self.overlap.is_some() && self.overlap_seconds.is_some() {
            return Err(Error::param("overlap", "give `overlap` (a ratio) or `overlapSeconds`, not both"));
        }
        self.normalization.check()?;
        let mut opts = SeparateOptions {
            normalization: self.normalization,
            crossfade: self.crossfade,
            ..SeparateOptions::default()
        };
        if let Some(v) = self.overlap {
            opts.overlap = v;
        }
        Ok(opts)
    }

    /// Loads the model and checks the options that depend on it (segment,
    /// overlap in seconds), completing `opts`.
    ///
    /// # Errors
    /// The model's; [`Error::InvalidParameter`] (`segment`) for a segment
    /// not in `(0, model segment]` ([`HtDemucs::check_segment`]),
    /// (`overlapSeconds`) for an overlap outside `[0, segment)`.
    pub fn load_into(&self, opts: &mut SeparateOptions) -> Result<HtDemucs> {
        let model = HtDemucs::load(&self.model, &self.session)?;
        let segment = match self.segment_seconds {
            Some(s) => model.check_segment(s)?,
            None => model.segment(),
        };
        opts.segment = Some(segment);
        let seg_s = segment as f64 / f64::from(model.sample_rate());
        if let Some(s) = self.overlap_seconds {
            if !(s.is_finite() && s >= 0.0 && s < seg_s) {
                return Err(Error::param(
                    "overlapSeconds",
                    format!("must be in [0, {seg_s:.2}) s (the segment), got {s}"),
                ));
            }
            opts.overlap = s / seg_s;
        }
        log::debug!(
            target: crate::runtime::LOG,
            "HTDemucs {}: sources [{}], {} Hz, segment {segment} frames ({seg_s:.2} s), overlap {:.2}",
            self.model.display(),
            model.sources().join(", "),
            model.sample_rate(),
            opts.overlap
        );
        Ok(model)
    }

    /// [`separate_options`](SeparationConfig::separate_options), then
    /// [`load_into`](SeparationConfig::load_into).
    ///
    /// # Errors
    /// As those two.
    pub fn load(&self) -> Result<(HtDemucs, SeparateOptions)> {
        let mut opts = self.separate_options()?;
        let model = self.load_into(&mut opts)?;
        Ok((model, opts))
    }
}

/// The container of stem files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StemFormat {
    /// `.wav` (the default).
    #[default]
    Wav,
    /// `.flac`.
    Flac,
}

impl StemFormat {
    /// Parses `"wav"` or `"flac"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`format`) otherwise.
    pub fn parse(s: &str) -> Result<StemFormat> {
        match s {
            "wav" => Ok(StemFormat::Wav),
            "flac" => Ok(StemFormat::Flac),
            o => Err(Error::param("format", format!("`{o}` is not wav or flac"))),
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            StemFormat::Wav => "wav",
            StemFormat::Flac => "flac",
        }
    }
}

/// Where [`separate_long`] writes stems instead of returning them: one file
/// `<out_dir>/<stem>.<format>` per stem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StemFiles {
    /// Directory, created if missing.
    pub out_dir: PathBuf,
    /// Stems to write, in this order (`None`: all of the model's).
    pub stems: Option<Vec<String>>,
    /// Container.
    pub format: StemFormat,
    /// Sample encoding (`None`: like the input file, else float32 WAV /
    /// int24 FLAC; see [`OutputFormat::for_path`]).
    pub encoding: Option<WavEncoding>,
}

/// What a separation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Separated {
    /// stems x channels x frames, in the order of `stem_names` (empty when
    /// written to files).
    pub stems: Vec<Vec<Vec<f32>>>,
    /// Stem names.
    pub stem_names: Vec<String>,
    /// Sample rate of the stems in Hz (the input's).
    pub sample_rate: u32,
    /// Frames per stem: the input's, or fewer when stopped.
    pub frames: u64,
    /// Wall time of the separation, model load excluded.
    pub processing_time: Duration,
    /// From the start until the first region was final ([`separate_long`]).
    pub time_to_first_audio: Option<Duration>,
    /// Model calls ([`separate_long`]; when stopped, those whose regions
    /// were delivered).
    pub chunks: Option<usize>,
    /// The files written, in the order of `stem_names` (with [`StemFiles`]).
    pub paths: Option<Vec<PathBuf>>,
    /// Whether [`Control::stop`] ended the run early ([`separate_long`]).
    pub stopped: bool,
}

impl Separated {
    /// Audio seconds per processing second (0 when no time was measured).
    pub fn realtime_factor(&self) -> f64 {
        let secs = self.processing_time.as_secs_f64();
        if secs > 0.0 && self.sample_rate > 0 {
            self.frames as f64 / f64::from(self.sample_rate) / secs
        } else {
            0.0
        }
    }
}

/// Indices of the stems named in `names` among the model's `sources`, in
/// the order given (all, in model order, for `None`).
///
/// # Errors
/// [`Error::InvalidParameter`] (`stems`) for a name the model lacks.
pub fn select_stems(sources: &[String], names: Option<&[String]>) -> Result<Vec<usize>> {
    match names {
        None => Ok((0..sources.len()).collect()),
        Some(names) => names
            .iter()
            .map(|n| {
                sources.iter().position(|s| s == n).ok_or_else(|| {
                    Error::param("stems", format!("`{n}` is not a source of this model ({})", sources.join(", ")))
                })
            })
            .collect(),
    }
}

/// Separates a whole signal at once (demucs' `Separator.separate_tensor`,
/// [`HtDemucs::separate`]): a file is decoded whole, the input resampled to
/// the model's rate as a whole and normalised by its own statistics; the
/// stems come back at the input's rate and length. Memory grows with the
/// input; use [`separate_long`] for long files.
///
/// # Errors
/// See the [module docs](self); `ERR_INVALID_PARAMETER` for pushed input.
pub fn separate(input: SeparationInput, config: &SeparationConfig) -> Result<Separated> {
    let mut opts = config.separate_options()?;
    let (x, rate) = input.read_all()?;
    let mut model = config.load_into(&mut opts)?;
    let started = Instant::now();
    let frames = x.first().map_or(0, |c| c.len());
    log::debug!(target: crate::runtime::LOG, "separation job start: {frames} frames, {} ch at {rate} Hz, whole", x.len());
    let stems = model.separate(&x, rate, &opts)?;
    log::debug!(target: crate::runtime::LOG, "separation job end: {frames} frames in {:.3} s", started.elapsed().as_secs_f64());
    Ok(Separated {
        stems,
        stem_names: model.sources().to_vec(),
        sample_rate: rate,
        frames: x.first().map_or(0, |c| c.len() as u64),
        processing_time: started.elapsed(),
        time_to_first_audio: None,
        chunks: None,
        paths: None,
        stopped: false,
    })
}

/// Separates a file or planar input of any length at bounded working memory
/// ([`HtDemucs::separate_long`]: `apply_model`'s chunking; with global
/// normalisation the input is read twice), returning the stems or, with
/// `files`, writing one file per stem (then total memory is bounded too).
///
/// `on_progress` gets the output frames delivered and the completed
/// fraction after every region. [`Control::stop`] (from any thread) ends
/// the run at the next source read or region, i.e. within one model call:
/// the result then has `stopped` set and holds the regions delivered until
/// then; stem files are finalised either way (also after an error), valid
/// and holding exactly `frames` frames.
///
/// # Errors
/// See the [module docs](self); `ERR_INVALID_PARAMETER` for pushed input.
pub fn separate_long(
    input: SeparationInput,
    config: &SeparationConfig,
    files: Option<&StemFiles>,
    control: &Control,
    on_progress: impl FnMut(Progress),
) -> Result<Separated> {
    let OpenedInput { mut source, info } = input.open()?.ok_or_else(|| {
        Error::param("input", "separateLong() reads its input itself; stream blocks with separateStreaming()")
    })?;
    let (mut model, opts) = config.load()?;
    let sources = model.sources().to_vec();
    let wanted = select_stems(&sources, files.and_then(|f| f.stems.as_deref()))?;
    let rate = source.sample_rate();
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(f) = files {
        std::fs::create_dir_all(&f.out_dir)
            .map_err(|e| Error::Io { path: f.out_dir.display().to_string(), reason: e.to_string() })?;
        for &i in &wanted {
            let p = f.out_dir.join(format!("{}.{}", sources[i], f.format.extension()));
            let format = OutputFormat::for_path(&p, f.encoding, info.as_ref())?;
            let mut sink = open_sink(&p, format);
            sink.open(rate, model.info().channels)?;
            sinks.push(sink);
            paths.push(p);
        }
    }

    log::debug!(
        target: crate::runtime::LOG,
        "long separation job start: {} ({rate} Hz), stems [{}] to {}",
        source.describe(),
        wanted.iter().map(|&i| sources[i].as_str()).collect::<Vec<_>>().join(", "),
        files.map_or_else(|| "arrays".to_string(), |f| f.out_dir.display().to_string())
    );
    let started = Instant::now();
    let mut regions = Vec::new();
    let (mut frames, mut delivered, mut first) = (0u64, 0usize, None);
    let stop = || control.stop_requested();
    let mut src = StoppableSource { inner: source.as_mut(), stop: &stop };
    let result = model.separate_long(
        &mut src,
        &opts,
        &LongOptions::default(),
        |region| {
            if sinks.is_empty() {
                frames += region.frames() as u64;
                regions.push(region);
            } else {
                for (k, &i) in wanted.iter().enumerate() {
                    let buf = AudioBuffer::from_planar(&region.stems[i])?;
                    sinks[k].write(&buf.as_block())?;
                }
                frames += region.frames() as u64;
            }
            delivered += 1;
            first.get_or_insert_with(|| started.elapsed());
            if control.stop_requested() {
                return Err(crate::separation_worker::stopped());
            }
            Ok(())
        },
        on_progress,
    );
    let mut finalized = Ok(());
    for s in sinks.iter_mut() {
        let r = s.finalize();
        if finalized.is_ok() {
            finalized = r;
        }
    }
    let processing_time = started.elapsed();
    let (stopped, chunks) = match result {
        Ok(stats) => (false, stats.chunks),
        // Whatever ended the run after a stop was asked for, it was asked for.
        Err(_) if control.stop_requested() => (true, delivered),
        Err(e) => {
            log::debug!(target: crate::runtime::LOG, "long separation job failed after {frames} frames: {e}");
            return Err(e);
        }
    };
    log::debug!(
        target: crate::runtime::LOG,
        "long separation job end: {frames} frames in {chunks} chunks in {:.3} s{}",
        processing_time.as_secs_f64(),
        if stopped { ", stopped" } else { "" }
    );
    finalized?;
    let stems = if files.is_some() {
        Vec::new()
    } else {
        let mut all = if regions.is_empty() {
            vec![vec![Vec::new(); model.info().channels]; sources.len()]
        } else {
            concat_regions(regions)
        };
        wanted.iter().map(|&i| std::mem::take(&mut all[i])).collect()
    };
    Ok(Separated {
        stems,
        stem_names: wanted.iter().map(|&i| sources[i].clone()).collect(),
        sample_rate: rate,
        frames,
        processing_time,
        time_to_first_audio: first,
        chunks: Some(chunks),
        paths: files.map(|_| paths),
        stopped,
    })
}

/// Starts a streaming separation of `input` on its own thread
/// ([`SeparationWorker`]): the worker loads the model, then separates the
/// file, the planar channels, or the blocks given to
/// [`SeparationWorker::push`]. Model errors arrive as its events.
///
/// # Errors
/// [`Error::InvalidParameter`] for options, and global normalisation of
/// pushed blocks; the input's when it is opened (`ERR_NOT_FOUND`,
/// `ERR_DECODE`, `ERR_SHAPE`, `ERR_EMPTY_AUDIO`).
pub fn spawn_worker(input: SeparationInput, config: SeparationConfig) -> Result<SeparationWorker> {
    let separate = config.separate_options()?;
    let input = match input {
        SeparationInput::Push { channels, sample_rate } => WorkerInput::Push { channels, sample_rate },
        other => match other.open()? {
            Some(opened) => WorkerInput::Source(opened.source),
            None => return Err(Error::Internal { message: "no source for a non-push input".into() }),
        },
    };
    let opts = WorkerOptions { separate, ..WorkerOptions::default() };
    SeparationWorker::spawn(move |o: &mut SeparateOptions| config.load_into(o), input, opts)
}
