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
    /// Integer PCM (WAV/AIFF/CAF PCM, A-law/µ-law, FLAC, ALAC).
    Int,
    /// Floating point: IEEE-float PCM, and lossy codecs (MP3, Vorbis, AAC,
    /// Opus), which decode to floats.
    Float,
}

/// What a file holds, as stored (before any resampling or channel selection).
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// The path as given, for messages.
    pub path: String,
    /// Container: `"wav"`, `"rf64"` (also BW64), `"aiff"` (also AIFF-C),
    /// `"caf"`, `"mp4"` (MP4/M4A), `"flac"`, `"mp3"` or `"ogg"`.
    pub format: String,
    /// Codec, ffmpeg-style: `"pcm_u8"`, `"pcm_s16le"`, `"pcm_s16be"`,
    /// `"pcm_s24le"`, `"pcm_s32le"`, `"pcm_f32le"`, `"pcm_f64le"`,
    /// `"pcm_alaw"`, `"pcm_mulaw"`, `"flac"`, `"alac"`, `"aac"`, `"mp3"`,
    /// `"vorbis"` or `"opus"` (and the other PCM variants AIFF/CAF store).
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (at least 1).
    pub channels: usize,
    /// Length in frames: what decoding delivers, not what a header claims.
    /// For WAV/RF64 the frames actually present in the data chunk (from the
    /// file size); for every other format the sum of the durations of the
    /// packets in the file, counted by reading (not decoding) them, with
    /// encoder delay and padding removed. `None` only when nothing can be
    /// counted.
    pub frames: Option<u64>,
    /// Length in frames the header declares (WAV/RF64 data size, FLAC
    /// STREAMINFO, MP3 Xing/VBRI, Ogg last granule, MP4/CAF/AIFF tables),
    /// when it declares one. May differ from [`frames`](Self::frames): see
    /// [`warnings`](Self::warnings).
    pub declared_frames: Option<u64>,
    /// Things about the file worth telling a user that do not stop it from
    /// being decoded, e.g. "the header declares 9800000 frames but only 3200
    /// could be decoded". Empty for a clean file.
    pub warnings: Vec<String>,
    /// Bits per stored sample: the valid bits for integer PCM, FLAC and
    /// ALAC, 32 or 64 for float PCM, 8 for A-law/µ-law; `None` for lossy
    /// codecs (MP3, Vorbis, AAC, Opus).
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

/// Describes the audio in `path` without decoding it. The container is
/// recognised by its first bytes, not by the extension (except that `*.mp3`
/// files may have up to 64 KiB of junk before the first MPEG frame).
///
/// Formats (demuxers and codecs from symphonia unless noted): WAV (PCM
/// 8/16/24/32-bit integer, 32/64-bit float, A-law, µ-law, including
/// WAVE_FORMAT_EXTENSIBLE), RF64/BW64 (the same codecs), AIFF and AIFF-C,
/// CAF (PCM, ALAC), MP4/M4A (AAC-LC, ALAC), FLAC, MP3, Ogg Vorbis, Ogg FLAC
/// and Ogg Opus (Opus decoded at 48 kHz by the pure-Rust `opus-decoder`
/// crate).
///
/// [`FileInfo::frames`] is what decoding delivers: exact from the data size
/// for WAV/RF64, otherwise counted by reading every packet of the file
/// (cheap: no decoding, but one pass over the file's bytes). A header that
/// claims a different length is reported in [`FileInfo::declared_frames`]
/// and [`FileInfo::warnings`], never as the length.
///
/// # Errors
/// - [`Error::NotFound`]: `path` does not exist.
/// - [`Error::Io`]: `path` is a directory or not a regular file, or cannot be
///   read (e.g. permission denied).
/// - [`Error::EmptyAudio`]: the file is empty (0 bytes), or the header
///   declares 0 channels.
/// - [`Error::Decode`]: the header is damaged or cut short.
/// - [`Error::UnsupportedFormat`]: not one of the formats above (e.g. random
///   bytes), a container holding a codec resonode does not decode (e.g.
///   ADPCM, GSM, MP3-in-WAV, E-AC-3 in MP4; the message names the codec), or
///   a header sample rate outside [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`]
///   Hz (1 kHz..768 kHz).
pub fn probe(path: &Path) -> Result<FileInfo> {
    decode::open(path, decode::Count::Exact).map(|o| o.info)
}

/// [`probe`] without counting the frames: reads the header only, so it is
/// cheap enough for a JS thread that needs the format, sample rate,
/// channels or sample encoding. `frames` is `None` (not counted), except
/// for WAV-family files, whose data chunk says it as for [`probe`].
///
/// # Errors
/// As [`probe`].
pub fn probe_header(path: &Path) -> Result<FileInfo> {
    decode::open(path, decode::Count::Header).map(|o| o.info)
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
/// - A file shorter than its header declares (a truncated WAV, FLAC, AIFF,
///   RF64; an MP3 whose Xing/VBRI header or an Ogg whose last granule
///   over-claims): every frame that decodes is delivered and the source ends
///   normally; [`warnings`](FileSource::warnings) says "the header declares N
///   frames but only M could be decoded". [`Source::total_frames`] is the
///   counted length, not the claim.
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
        let opened = decode::open(path, decode::Count::Exact)?;
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

    /// Warnings so far: those [`probe`] gives ([`FileInfo::warnings`]), plus,
    /// once the end was read, a header length that decoding contradicted
    /// ("the header declares N frames but only M could be decoded"). Every
    /// frame that decoded was delivered.
    pub fn warnings(&self) -> &[String] {
        &self.decoder.warnings
    }
}

impl Source for FileSource {
    /// See [`FileSource::warnings`].
    fn warnings(&self) -> Vec<String> {
        FileSource::warnings(self).to_vec()
    }

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

    /// True: decoding a file never waits for anything but the disk, so
    /// the pipeline decodes ahead on a second core.
    fn read_ahead(&self) -> bool {
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
