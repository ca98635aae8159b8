//! Where audio comes from and goes to, as JS describes it: the source and
//! sink descriptions shared by native pipelines (`pipeline.rs`), chunk
//! readers and writers (`file.rs`) and separation (`separate.rs`), their
//! option conversion, and opening them. Both `file.rs` and `pipeline.rs`
//! depend on this module; neither depends on the other.

use std::path::Path;

use napi_derive::napi;
use resonode_core::{Error, Sink, Source};
use resonode_device::{Backend, MicrophoneSource, SpeakerSink};
use resonode_io::{ChannelSelection, FileInfo, FileSource, OutputFormat, SinkAdapter, SourceOptions, WavEncoding};

use crate::realtime::{stream_config, StreamConfigDesc};

/// How a file source is read.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SourceOptionsDesc {
    /// Resample to this rate (Hz) with rubato; default: the file's rate.
    pub sample_rate: Option<u32>,
    /// Downmix all channels to one (their average).
    pub mono: Option<bool>,
    /// Keep only these channels (0-based), in this order.
    pub channels: Option<Vec<u32>>,
}

pub fn source_options(o: &SourceOptionsDesc) -> resonode_core::Result<SourceOptions> {
    let channels = match (o.mono.unwrap_or(false), &o.channels) {
        (true, Some(_)) => return Err(Error::param("channels", "`mono` and `channels` cannot be combined")),
        (true, None) => ChannelSelection::Mono,
        (false, Some(sel)) => ChannelSelection::Select(sel.iter().map(|&c| c as usize).collect()),
        (false, None) => ChannelSelection::All,
    };
    if o.sample_rate == Some(0) {
        return Err(Error::param("sampleRate", "must be > 0 Hz"));
    }
    Ok(SourceOptions { sample_rate: o.sample_rate, channels })
}

/// How a sink writes (file or speaker; `encoding` is for files only).
#[napi(object)]
#[derive(Clone, Default)]
pub struct SinkOptionsDesc {
    /// WAV sample encoding: `int16`, `int24` or `float32`; FLAC: `int16` or
    /// `int24`. Default: the source's encoding where possible, else float32
    /// (WAV) / int24 (FLAC).
    pub encoding: Option<String>,
    /// Write (or play) at this rate in Hz, 1000 to 768000: the stream is
    /// resampled with rubato when its rate differs, to exactly
    /// `round(frames * sampleRate / streamRate)` frames. Default: the
    /// stream's rate.
    pub sample_rate: Option<u32>,
    /// Keep only stem `stemIndex` of a stem-interleaved stream (channels
    /// `stemIndex * stemChannels ..`), as separation emits.
    pub stem_index: Option<u32>,
    /// Channels per stem when `stemIndex` is set (default 2).
    pub stem_channels: Option<u32>,
}

/// Picks the output format from the extension, the requested encoding and
/// the source file's encoding.
pub fn output_format(path: &Path, o: &SinkOptionsDesc, source: Option<&FileInfo>) -> resonode_core::Result<OutputFormat> {
    let requested = o.encoding.as_deref().map(WavEncoding::parse).transpose()?;
    OutputFormat::for_path(path, requested, source)
}

/// Where a native pipeline reads: a file, or a live input device.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SourceDesc {
    /// `file` or `microphone`.
    pub kind: String,
    /// File path (`file`).
    pub path: Option<String>,
    /// Decoding options (`file`).
    pub options: Option<SourceOptionsDesc>,
    /// Device configuration (`microphone`; `channelsOut` is forced to 0).
    pub device: Option<StreamConfigDesc>,
    /// Audio backend (`microphone`): `default` or `none`.
    pub backend: Option<String>,
    /// Stop after this many seconds (`microphone`; default: until stopped).
    pub duration_s: Option<f64>,
}

/// Where a native pipeline writes: a file, or a live output device.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SinkDesc {
    /// `file` or `speaker`.
    pub kind: String,
    /// File path (`file`).
    pub path: Option<String>,
    /// Encoding (`file`), output rate and stem selection (both kinds).
    pub options: Option<SinkOptionsDesc>,
    /// Device configuration (`speaker`; the sample rate defaults to
    /// `options.sampleRate`, else the stream's; channels to the stem's or
    /// the stream's; `channelsIn` is forced to 0).
    pub device: Option<StreamConfigDesc>,
    /// Audio backend (`speaker`): `default` or `none`.
    pub backend: Option<String>,
}

/// The sample rate and channel count a source will deliver, known without
/// opening it, so JS has the stream's format (its `StreamingContext`) as
/// soon as the job starts: the requested rate, else the file header's (a
/// file; the header only, never a scan of its packets, as this runs on the
/// JS thread), or the device configuration's (a microphone). A resampled
/// file keeping all its channels gives 0 channels here: the job stores them
/// once it opened the file.
///
/// # Errors
/// As opening would for a missing or unreadable file, or invalid options.
pub fn source_format(d: &SourceDesc) -> resonode_core::Result<(u32, u32)> {
    match d.kind.as_str() {
        "file" => {
            let path = d.path.as_deref().ok_or_else(|| Error::param("source.path", "a file source needs a path"))?;
            let options = source_options(&d.options.clone().unwrap_or_default())?;
            let selected = match &options.channels {
                resonode_io::ChannelSelection::All => None,
                resonode_io::ChannelSelection::Mono => Some(1),
                resonode_io::ChannelSelection::Select(sel) => Some(sel.len() as u32),
            };
            match options.sample_rate {
                Some(rate) => Ok((rate, selected.unwrap_or(0))),
                None => {
                    let info = resonode_io::probe_header(Path::new(path))?;
                    Ok((info.sample_rate, selected.unwrap_or(info.channels as u32)))
                }
            }
        }
        "microphone" => {
            let c = stream_config(&microphone_config(d))?;
            Ok((c.sample_rate, c.channels_in as u32))
        }
        other => Err(Error::param("source.kind", format!("`{other}` is not file or microphone"))),
    }
}

fn microphone_config(d: &SourceDesc) -> StreamConfigDesc {
    let mut dev = d.device.clone().unwrap_or_default();
    dev.channels_out = Some(0);
    dev.channels_in = Some(dev.channels_in.unwrap_or(1));
    dev
}

/// Opens a source as described.
pub fn open_source(d: &SourceDesc) -> resonode_core::Result<(Box<dyn Source>, Option<FileInfo>)> {
    match d.kind.as_str() {
        "file" => {
            let path = d.path.as_deref().ok_or_else(|| Error::param("source.path", "a file source needs a path"))?;
            let src = FileSource::open(Path::new(path), &source_options(&d.options.clone().unwrap_or_default())?)?;
            let info = src.info().clone();
            Ok((Box::new(src), Some(info)))
        }
        "microphone" => {
            let config = stream_config(&microphone_config(d))?;
            let limit = match d.duration_s {
                Some(s) if !(s.is_finite() && s > 0.0) => return Err(Error::param("durationS", "must be > 0 seconds")),
                Some(s) => Some((s * config.sample_rate as f64).round() as u64),
                None => None,
            };
            let backend = Backend::parse(d.backend.as_deref().unwrap_or("default"))?;
            Ok((Box::new(MicrophoneSource::open(config, backend, limit)?), None))
        }
        other => Err(Error::param("source.kind", format!("`{other}` is not file or microphone"))),
    }
}

/// Opens a sink as described, for a stream of `sample_rate` Hz and
/// `channels`, boxed for the pipeline driver.
pub fn open_sink(d: &SinkDesc, sample_rate: u32, channels: usize, source_info: Option<&FileInfo>) -> resonode_core::Result<Box<dyn Sink>> {
    Ok(Box::new(open_adapted_sink(d, sample_rate, channels, source_info)?))
}

/// Opens a sink as described, for a stream of `sample_rate` Hz and
/// `channels`, behind the [`SinkAdapter`] that applies `options.stemIndex`
/// and `options.sampleRate` (a speaker's device runs at that rate). Nothing
/// is opened until [`Sink::open`].
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad kind, path, encoding, rate or stem
/// channel count, or a speaker whose `device.sampleRate` contradicts
/// `options.sampleRate`; as the device configuration.
pub fn open_adapted_sink(d: &SinkDesc, sample_rate: u32, channels: usize, source_info: Option<&FileInfo>) -> resonode_core::Result<SinkAdapter> {
    let o = d.options.clone().unwrap_or_default();
    let stem_channels = o.stem_index.map(|_| o.stem_channels.unwrap_or(2));
    let (inner, name, rate): (Box<dyn Sink>, String, Option<u32>) = match d.kind.as_str() {
        "file" => {
            let path = d.path.as_deref().ok_or_else(|| Error::param("sink.path", "a file sink needs a path"))?;
            let fmt = output_format(Path::new(path), &o, source_info)?;
            (resonode_io::open_sink(Path::new(path), fmt), path.to_string(), o.sample_rate)
        }
        "speaker" => {
            if o.encoding.is_some() {
                return Err(Error::param("encoding", "a speaker sink has no encoding"));
            }
            let mut dev = d.device.clone().unwrap_or_default();
            let rate = match (o.sample_rate, dev.sample_rate) {
                (Some(a), Some(b)) if a != b => {
                    return Err(Error::param("sampleRate", format!("options.sampleRate {a} Hz contradicts device.sampleRate {b} Hz")))
                }
                (a, b) => a.or(b),
            };
            dev.channels_in = Some(0);
            dev.sample_rate = Some(rate.unwrap_or(sample_rate));
            let played = stem_channels.map_or(channels, |c| c as usize);
            let played = u32::try_from(played).map_err(|_| Error::param("channelsOut", format!("{played} channels is too many")))?;
            dev.channels_out = Some(dev.channels_out.unwrap_or(played));
            let backend = Backend::parse(d.backend.as_deref().unwrap_or("default"))?;
            (Box::new(SpeakerSink::new(stream_config(&dev)?, backend)), "speaker".to_string(), rate)
        }
        other => return Err(Error::param("sink.kind", format!("`{other}` is not file or speaker"))),
    };
    let mut sink = SinkAdapter::new(inner, name);
    if let (Some(index), Some(per)) = (o.stem_index, stem_channels) {
        sink = sink.with_stem(index as usize, per as usize)?;
    }
    if let Some(rate) = rate {
        sink = sink.with_sample_rate(rate)?;
    }
    Ok(sink)
}
