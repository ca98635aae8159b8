//! Reading audio files: [`probe`] and [`FileSource`].

use std::path::{Path, PathBuf};

use resonode_core::{AudioBuffer, Error, Result, Source};

use crate::decode::{self, ChannelMap, Decoder};
use crate::resample::{resampled_len, ResampleStage};

/// Highest sample rate [`SourceOptions::sample_rate`] accepts, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Lowest sample rate [`SourceOptions::sample_rate`] accepts, in Hz.
pub const MIN_SAMPLE_RATE: u32 = 1_000;

/// Which channels of a file a [`FileSource`] produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ChannelSelection {
    /// Every channel, in file order.
    #[default]
    All,
    /// One channel: the average (sum / channel count) of all file channels.
    Mono,
    /// The listed file channels (0-based), in the listed order; repeats are
    /// allowed (`[0, 0]` makes dual mono). An empty list or an index past
    /// the file's last channel is an [`Error::InvalidParameter`] at open.
    Select(Vec<usize>),
}

/// How a [`FileSource`] presents a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    /// Output sample rate in Hz; `None` (the default) keeps the file's rate.
    /// A different rate is converted with rubato (see [`FileSource`]). Must be
    /// within [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`].
    pub sample_rate: Option<u32>,
    /// Channels to produce (default: all).
    pub channels: ChannelSelection,
}

/// Whether a file stores integer or floating-point samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Integer PCM (WAV PCM/A-law/µ-law, FLAC).
    Int,
    /// Floating point: IEEE-float WAV, and lossy codecs (MP3, Vorbis), which
    /// decode to floats.
    Float,
}

/// What a file holds, as stored (before any resampling or channel selection).
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// The path as given, for messages.
    pub path: String,
    /// Container: `"wav"`, `"flac"`, `"mp3"` or `"ogg"`.
    pub format: String,
    /// Codec, ffmpeg-style: `"pcm_u8"`, `"pcm_s16le"`, `"pcm_s24le"`,
    /// `"pcm_s32le"`, `"pcm_f32le"`, `"pcm_f64le"`, `"pcm_alaw"`,
    /// `"pcm_mulaw"`, `"flac"`, `"mp3"` or `"vorbis"`.
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (at least 1).
    pub channels: usize,
    /// Length in frames when the file says: exact for WAV (for a truncated
    /// WAV, the frames actually present) and for FLAC with a total in its
    /// STREAMINFO; for MP3 taken from the Xing/LAME/VBRI header when present
    /// and otherwise estimated from the bitrate; for Ogg read from the last
    /// page. `None` when unknown.
    pub frames: Option<u64>,
    /// Bits per stored sample: the valid bits for integer PCM and FLAC, 32 or
    /// 64 for float WAV, 8 for A-law/µ-law; `None` for MP3 and Vorbis.
    pub bits_per_sample: Option<u32>,
    /// Integer or float storage.
    pub sample_format: SampleFormat,
}

impl FileInfo {
    /// Duration in seconds, when the length is known.
    pub fn duration_s(&self) -> Option<f64> {
        self.frames.map(|f| f as f64 / f64::from(self.sample_rate))
    }
}

/// Reads the header of `path` and describes the audio in it, without
/// decoding any audio. Decoding is done by symphonia (WAV, FLAC, MP3, Ogg
/// Vorbis); the container is recognised by its first bytes, not by the
/// extension (except that `*.mp3` files may have up to 64 KiB of junk
/// before the first MPEG frame).
///
/// # Errors
/// - [`Error::NotFound`]: `path` does not exist.
/// - [`Error::Io`]: `path` is a directory or not a regular file, or cannot be
///   read (e.g. permission denied).
/// - [`Error::Decode`]: the file is empty (0 bytes), or its header is
///   damaged or cut short.
/// - [`Error::UnsupportedFormat`]: not a WAV/FLAC/MP3/Ogg file (e.g. random
///   bytes), or a container holding a codec resonode does not decode (e.g.
///   an ADPCM, GSM or MP3-in-WAV file); the message names the codec.
/// - [`Error::EmptyAudio`]: the header declares 0 channels.
pub fn probe(path: &Path) -> Result<FileInfo> {
    decode::open(path).map(|o| o.info)
}

/// A [`Source`] that decodes an audio file chunk by chunk, at constant
/// memory (one decoded packet plus, when resampling, one resampler chunk).
///
/// Decoding is done by symphonia; resampling, when
/// [`SourceOptions::sample_rate`] differs from the file's rate, by rubato:
/// its synchronous FFT resampler for rate pairs with a common divisor giving
/// blocks of at most 8192 frames (every common pair such as 44.1 <-> 48 kHz,
/// 16 <-> 44.1 kHz), otherwise its 256-tap sinc resampler. The resampler's
/// delay is removed, so output frame `round(t * out_rate)` corresponds to
/// input time `t`, and a file of `n` frames gives exactly
/// `round(n * out_rate / in_rate)` frames. Channel selection
/// ([`SourceOptions::channels`]) is applied before resampling.
///
/// Samples are `f32` in [-1, 1) for integer formats (a 16-bit value `v`
/// becomes `v / 32768`, 8-bit unsigned `(v - 128) / 128`); float files are
/// passed through unchanged.
///
/// # Damaged files
/// - A truncated WAV (data chunk larger than the rest of the file): every
///   complete frame is delivered, then [`read`](Source::read) fails with
///   [`Error::Decode`] ("the file is truncated: its header declares N frames
///   but only M are present"). The pipeline finalizes its sink first, so an
///   output file keeps everything before the cut. The same applies to a FLAC
///   file that ends before the frame count in its STREAMINFO.
/// - Damage in the middle of a compressed file is concealed, not fatal: a
///   packet the decoder rejects is replaced by silence of the packet's
///   length, and audio the demuxer drops (FLAC frames failing their CRC, Ogg
///   pages failing their checksum) is detected from the jump in timestamps
///   and replaced by silence of the same length, so the rest of the file
///   keeps its timing and the total length is unchanged. (FLAC: exactly the
///   damaged frame is silent. Ogg: symphonia dates the page after a lost
///   page too early, so the silence lands one page late. MP3: the demuxer
///   resynchronises on its own and gives no timestamps to detect the loss,
///   so the frames it skips are missing and the rest comes earlier.)
///   [`corrupt_packets`](FileSource::corrupt_packets) and
///   [`concealed_frames`](FileSource::concealed_frames) count the damage.
///   After 64 undecodable packets in a row, reading fails with
///   [`Error::Decode`].
/// - NaN or infinity in a float file is passed on unchanged (the pipeline
///   rejects it with [`Error::NonFiniteSample`]); when resampling, `read`
///   itself reports [`Error::NonFiniteSample`], with the frame counted at the
///   file's rate.
/// - Malformed data never panics: a panic inside the decoder library is
///   caught and reported as [`Error::Decode`].
pub struct FileSource {
    path: PathBuf,
    opts: SourceOptions,
    info: FileInfo,
    map: ChannelMap,
    out_rate: u32,
    decoder: Decoder,
    resampler: Option<ResampleStage>,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource").field("info", &self.info).field("opts", &self.opts).finish_non_exhaustive()
    }
}

impl FileSource {
    /// Opens `path` for reading with `opts`. Reads the header only.
    ///
    /// # Errors
    /// Everything [`probe`] reports, plus [`Error::InvalidParameter`] for a
    /// sample rate outside [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`] or a bad
    /// [`ChannelSelection::Select`].
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<FileSource> {
        if let Some(rate) = opts.sample_rate {
            if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
                return Err(Error::param(
                    "sampleRate",
                    format!("{}: {rate} Hz is outside [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}]", decode::display(path)),
                ));
            }
        }
        let opened = decode::open(path)?;
        let info = opened.info;
        let map = ChannelMap::new(&info.path, &opts.channels, info.channels)?;
        let out_rate = opts.sample_rate.unwrap_or(info.sample_rate);
        let resampler = if out_rate != info.sample_rate {
            Some(ResampleStage::new(&info.path, info.sample_rate, out_rate, map.out_channels())?)
        } else {
            None
        };
        Ok(FileSource {
            path: path.to_path_buf(),
            opts: opts.clone(),
            info,
            map,
            out_rate,
            decoder: opened.decoder,
            resampler,
        })
    }

    /// The file as stored (its own rate and channel count).
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// The options this source was opened with.
    pub fn options(&self) -> &SourceOptions {
        &self.opts
    }

    /// Corrupt packets skipped so far (see "Damaged files" above).
    pub fn corrupt_packets(&self) -> u64 {
        self.decoder.corrupt_packets
    }

    /// Frames of silence inserted in place of corrupt packets so far, at the
    /// file's sample rate.
    pub fn concealed_frames(&self) -> u64 {
        self.decoder.concealed_frames
    }
}

impl Source for FileSource {
    /// Output rate in Hz: [`SourceOptions::sample_rate`] or the file's.
    fn sample_rate(&self) -> u32 {
        self.out_rate
    }

    /// Output channels after [`SourceOptions::channels`].
    fn channels(&self) -> usize {
        self.map.out_channels()
    }

    /// The file's frame count ([`FileInfo::frames`]), converted to the output
    /// rate as `round(frames * out_rate / file_rate)`.
    fn total_frames(&self) -> Option<u64> {
        self.info.frames.map(|f| resampled_len(f, self.info.sample_rate, self.out_rate))
    }

    /// Decodes the next chunk into `buf` (which must have [`channels`](Source::channels)
    /// channels), filling it to capacity except at the end; 0 means the end.
    ///
    /// # Errors
    /// [`Error::Decode`] for damaged data (reported after all intact frames),
    /// [`Error::Io`] for read failures, [`Error::Shape`] for a buffer with the
    /// wrong channel count or no capacity. Once an error was returned, every
    /// later call returns it again (until [`rewind`](Source::rewind)).
    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        let ch = self.map.out_channels();
        if buf.capacity() == 0 {
            return Err(Error::shape(format!("a buffer with no capacity was passed to read {}", self.info.path)));
        }
        if buf.channels() != ch {
            return Err(Error::shape(format!(
                "the buffer has {} channels, {} produces {ch}",
                buf.channels(),
                self.info.path
            )));
        }
        match &mut self.resampler {
            Some(rs) => rs.read(&mut self.decoder, &self.map, buf),
            None => {
                let cap = buf.capacity();
                let result = self.decoder.fill(&self.map, buf, 0, cap);
                buf.set_frames(*result.as_ref().unwrap_or(&0));
                result
            }
        }
    }

    /// Always true: files are re-read from the start.
    fn can_rewind(&self) -> bool {
        true
    }

    /// Reopens the file and starts again from the first frame (resampler
    /// state included).
    fn rewind(&mut self) -> Result<()> {
        *self = FileSource::open(&self.path, &self.opts)?;
        Ok(())
    }

    /// The path.
    fn describe(&self) -> String {
        self.info.path.clone()
    }
}
