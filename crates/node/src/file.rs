//! File probing, reading and writing for JS-driven pipelines.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::{AudioBuffer, Error, Sink, Source};
use resonode_io::{FileInfo, SampleFormat, SinkAdapter};

use crate::convert::{buffer_to_planar, planar_to_checked_buffer};
use crate::error::{guard_core, to_napi};
// Re-exported for `separate.rs`, which imports them from here.
pub use crate::endpoints::{source_options, SourceOptionsDesc};
use crate::endpoints::{open_adapted_sink, open_source, SinkDesc, SinkOptionsDesc, SourceDesc};

/// What a file holds, as stored.
#[napi(object)]
pub struct AudioFileInfo {
    pub path: String,
    /// Container: `wav`, `rf64`, `aiff`, `caf`, `mp4`, `flac`, `mp3` or `ogg`.
    pub format: String,
    /// Codec, e.g. `pcm_s16le`, `flac`, `alac`, `aac`, `mp3`, `vorbis`, `opus`.
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    pub channels: u32,
    /// Frames per channel that decode (counted, not taken from a header).
    pub frames: Option<f64>,
    /// `frames / sampleRate` in seconds, when known.
    pub duration_s: Option<f64>,
    /// Frames per channel the header declares, when it does (may differ
    /// from `frames`; see `warnings`).
    pub declared_frames: Option<f64>,
    /// Header claims that decoding contradicts, e.g. "the header declares N
    /// frames but only M could be decoded". Empty for a clean file.
    pub warnings: Vec<String>,
    pub bits_per_sample: Option<u32>,
    /// `int` or `float`.
    pub sample_format: String,
}

pub fn info_to_js(info: &FileInfo) -> AudioFileInfo {
    AudioFileInfo {
        path: info.path.clone(),
        format: info.format.clone(),
        codec: info.codec.clone(),
        sample_rate: info.sample_rate,
        channels: info.channels as u32,
        frames: info.frames.map(|f| f as f64),
        duration_s: info.frames.map(|f| f as f64 / info.sample_rate as f64),
        declared_frames: info.declared_frames.map(|f| f as f64),
        warnings: info.warnings.clone(),
        bits_per_sample: info.bits_per_sample,
        sample_format: match info.sample_format {
            SampleFormat::Int => "int".into(),
            SampleFormat::Float => "float".into(),
        },
    }
}

/// Describes a file without decoding it (frames counted by reading its
/// packets).
///
/// @throws ERR_NOT_FOUND, ERR_UNSUPPORTED_FORMAT, ERR_DECODE, ERR_EMPTY_AUDIO
#[napi(catch_unwind)]
pub fn probe(path: String) -> napi::Result<AudioFileInfo> {
    guard_core(|| resonode_io::probe(Path::new(&path)).map(|i| info_to_js(&i)))
}

/// Peak and RMS level of a whole file, all channels, in dBFS (`-Infinity` for silence).
#[napi(object)]
pub struct AudioLevels {
    pub peak_dbfs: f64,
    pub rms_dbfs: f64,
    /// Frames decoded.
    pub frames: f64,
    /// The file as `probe` describes it (read by the same open).
    pub info: AudioFileInfo,
}

pub struct LevelsTask(PathBuf);

impl Task for LevelsTask {
    type Output = AudioLevels;
    type JsValue = AudioLevels;
    fn compute(&mut self) -> napi::Result<AudioLevels> {
        guard_core(|| {
            resonode_io::measure_levels(&self.0).map(|l| AudioLevels { peak_dbfs: l.peak_dbfs, rms_dbfs: l.rms_dbfs, frames: l.frames as f64, info: info_to_js(&l.info) })
        })
    }
    fn resolve(&mut self, _: Env, out: AudioLevels) -> napi::Result<AudioLevels> {
        Ok(out)
    }
}

/// Measures peak and RMS over the whole file on a worker thread.
#[napi(catch_unwind, ts_return_type = "Promise<AudioLevels>")]
pub fn measure_levels(path: String) -> AsyncTask<LevelsTask> {
    AsyncTask::new(LevelsTask(PathBuf::from(path)))
}

pub(crate) fn poisoned() -> Error {
    Error::Internal { message: "lock poisoned by an earlier panic".into() }
}

/// Reads a source chunk by chunk off the JS thread: a file (decoding and
/// resampling) or a live input device.
#[napi]
pub struct NativeReader {
    source: Arc<Mutex<Box<dyn Source>>>,
    info: Option<FileInfo>,
    sample_rate: u32,
    channels: u32,
}

#[napi]
impl NativeReader {
    /// Opens `path`.
    ///
    /// @throws ERR_NOT_FOUND, ERR_IO, ERR_UNSUPPORTED_FORMAT, ERR_DECODE, ERR_INVALID_PARAMETER
    #[napi(catch_unwind, factory)]
    pub fn open_file(path: String, options: Option<SourceOptionsDesc>) -> napi::Result<Self> {
        Self::open(SourceDesc { kind: "file".into(), path: Some(path), options, ..SourceDesc::default() })
    }
    /// Opens a source described like a native pipeline's (`file` or `microphone`).
    ///
    /// @throws as the source: ERR_NOT_FOUND, ERR_DECODE, ERR_BACKEND_NOT_AVAILABLE, ERR_STREAM, ...
    #[napi(catch_unwind, factory)]
    pub fn open(desc: SourceDesc) -> napi::Result<Self> {
        guard_core(|| {
            let (src, info) = open_source(&desc)?;
            Ok(NativeReader {
                info,
                sample_rate: src.sample_rate(),
                channels: src.channels() as u32,
                source: Arc::new(Mutex::new(src)),
            })
        })
    }
    /// The file as stored (before resampling or channel selection); null for live sources.
    #[napi(catch_unwind, getter)]
    pub fn info(&self) -> Option<AudioFileInfo> {
        self.info.as_ref().map(info_to_js)
    }
    /// Sample rate of the delivered audio in Hz.
    #[napi(catch_unwind, getter)]
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    /// Channels of the delivered audio.
    #[napi(catch_unwind, getter)]
    pub fn channels(&self) -> u32 {
        self.channels
    }
    /// Frames that will be delivered, when known.
    #[napi(catch_unwind, getter)]
    pub fn total_frames(&self) -> napi::Result<Option<f64>> {
        let s = self.source.lock().map_err(|_| to_napi(poisoned()))?;
        Ok(s.total_frames().map(|f| f as f64))
    }
    /// Reads up to `maxFrames` frames (at most 2^26 samples per read);
    /// resolves with planar channels, or `null` at the end of the file.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[] | null>")]
    pub fn read(&self, max_frames: u32) -> AsyncTask<ReadTask> {
        // At most a chain's largest block per read, so a hostile size is a
        // short read rather than an allocation that aborts.
        let cap = (resonode_core::chain::MAX_BLOCK_SAMPLES / (self.channels.max(1) as usize)).max(1);
        AsyncTask::new(ReadTask { source: self.source.clone(), max_frames: (max_frames.max(1) as usize).min(cap) })
    }
    /// Starts again at the first frame.
    #[napi(catch_unwind)]
    pub fn rewind(&self) -> napi::Result<()> {
        guard_core(|| self.source.lock().map_err(|_| poisoned())?.rewind())
    }
}

pub struct ReadTask {
    source: Arc<Mutex<Box<dyn Source>>>,
    max_frames: usize,
}

impl Task for ReadTask {
    type Output = Option<Vec<Float32Array>>;
    type JsValue = Option<Vec<Float32Array>>;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let mut src = self.source.lock().map_err(|_| poisoned())?;
            let mut buf = AudioBuffer::new(src.channels(), self.max_frames);
            let n = src.read(&mut buf)?;
            Ok((n > 0).then(|| buffer_to_planar(&buf)))
        })
    }
    fn resolve(&mut self, _: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(out)
    }
}

/// Writes planar blocks to a WAV or FLAC file, or plays them on an output
/// device, optionally keeping one stem (`stemIndex`) and resampling
/// (`sampleRate`) on the way. A file on disk stays valid after every write,
/// so a failure later keeps what was written.
#[napi]
pub struct NativeWriter {
    sink: Arc<Mutex<SinkAdapter>>,
    path: String,
    channels: usize,
}

#[napi]
impl NativeWriter {
    /// Creates `path` for a stream of `channels` channels at `sampleRate`
    /// Hz. Format by extension (`.wav`, `.flac`); `sourcePath` (optional)
    /// lends its encoding as the default. With `options.sampleRate` the
    /// file is written at that rate (resampled with rubato; exactly
    /// `round(frames * options.sampleRate / sampleRate)` frames once
    /// finalized); with `options.stemIndex` only that stem is written.
    ///
    /// @throws ERR_IO, ERR_UNSUPPORTED_FORMAT, ERR_INVALID_PARAMETER
    #[napi(catch_unwind, factory)]
    pub fn create(path: String, sample_rate: u32, channels: u32, options: Option<SinkOptionsDesc>, source_path: Option<String>) -> napi::Result<Self> {
        guard_core(|| {
            let source_info = match source_path {
                Some(p) => Some(resonode_io::probe_header(Path::new(&p))?),
                None => None,
            };
            let desc = SinkDesc { kind: "file".into(), path: Some(path), options, ..SinkDesc::default() };
            Self::start(&desc, sample_rate, channels, source_info.as_ref())
        })
    }
    /// Opens a sink described like a native pipeline's (`file` or `speaker`)
    /// for a stream of `channels` channels at `sampleRate` Hz. A speaker
    /// with `options.sampleRate` runs its device at that rate; the stream
    /// is resampled here, on the writing thread, never in the device
    /// callback.
    ///
    /// @throws ERR_IO, ERR_BACKEND_NOT_AVAILABLE, ERR_STREAM, ERR_INVALID_PARAMETER
    #[napi(catch_unwind, factory)]
    pub fn open(desc: SinkDesc, sample_rate: u32, channels: u32) -> napi::Result<Self> {
        guard_core(|| Self::start(&desc, sample_rate, channels, None))
    }

    fn start(desc: &SinkDesc, sample_rate: u32, channels: u32, source_info: Option<&FileInfo>) -> resonode_core::Result<Self> {
        if channels == 0 {
            return Err(Error::EmptyAudio { reason: "cannot write 0 channels".into() });
        }
        let mut sink = open_adapted_sink(desc, sample_rate, channels as usize, source_info)?;
        sink.open(sample_rate, channels as usize)?;
        let path = desc.path.clone().unwrap_or_else(|| desc.kind.clone());
        Ok(NativeWriter { sink: Arc::new(Mutex::new(sink)), path, channels: channels as usize })
    }

    /// Frames handed to the file or device so far, at its rate and after
    /// stem selection: `round(input frames * rate ratio)` once finalized.
    /// For a speaker whose `finalize` succeeded, the frames played.
    #[napi(catch_unwind, getter)]
    pub fn frames_written(&self) -> napi::Result<f64> {
        let s = self.sink.lock().map_err(|_| to_napi(poisoned()))?;
        Ok(s.frames_written() as f64)
    }
    /// Appends planar channels (channels x frames) on a worker thread.
    ///
    /// @throws ERR_SHAPE, ERR_NON_FINITE_SAMPLE, ERR_IO, ERR_ENCODE
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn write(&self, channels: Vec<Float32Array>) -> napi::Result<AsyncTask<WriteTask>> {
        let buf = guard_core(|| planar_to_checked_buffer(&channels, self.channels, &self.path, "the file"))?;
        Ok(AsyncTask::new(WriteTask { sink: self.sink.clone(), buf: Some(buf) }))
    }
    /// Completes the file (header sizes). Safe to call more than once.
    #[napi(catch_unwind)]
    pub fn finalize(&self) -> napi::Result<()> {
        guard_core(|| self.sink.lock().map_err(|_| poisoned())?.finalize())
    }
}

pub struct WriteTask {
    sink: Arc<Mutex<SinkAdapter>>,
    buf: Option<AudioBuffer>,
}

impl Task for WriteTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> napi::Result<()> {
        guard_core(|| {
            let buf = self.buf.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            self.sink.lock().map_err(|_| poisoned())?.write(&buf.as_block())
        })
    }
    fn resolve(&mut self, _: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

