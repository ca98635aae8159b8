//! Writing audio files: [`WavSink`] (hound's header), [`FlacSink`] (flacenc),
//! [`OutputFormat`] and [`open_sink`]. The float to integer conversion and
//! the crash-safety guarantees are documented in the crate docs
//! ("Writing files").

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};
use resonode_core::{AudioBlock, Error, Result, Sink};

use crate::decode::display;
use crate::interleave::{Interleaver, PcmLayout};
use crate::source::{FileInfo, SampleFormat};

/// Sample encoding of a WAV file written by [`WavSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WavEncoding {
    /// 16-bit signed integer PCM (format tag 1).
    Int16,
    /// 24-bit signed integer PCM (WAVE_FORMAT_EXTENSIBLE, as hound writes
    /// anything above 16 bits).
    Int24,
    /// 32-bit IEEE float (WAVE_FORMAT_EXTENSIBLE with the float sub-format).
    Float32,
}

impl WavEncoding {
    /// How [`Interleaver`] stores this encoding's samples.
    pub(crate) fn layout(self) -> PcmLayout {
        match self {
            WavEncoding::Int16 => PcmLayout::I16,
            WavEncoding::Int24 => PcmLayout::I24,
            WavEncoding::Float32 => PcmLayout::F32,
        }
    }

    /// Parses `"int16"`, `"int24"` or `"float32"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`encoding`) for any other name.
    pub fn parse(name: &str) -> Result<WavEncoding> {
        match name {
            "int16" => Ok(WavEncoding::Int16),
            "int24" => Ok(WavEncoding::Int24),
            "float32" => Ok(WavEncoding::Float32),
            other => Err(Error::param("encoding", format!("`{other}` is not one of int16, int24, float32"))),
        }
    }

    /// Bits per sample: 16, 24 or 32.
    pub fn bits(self) -> u32 {
        match self {
            WavEncoding::Int16 => 16,
            WavEncoding::Int24 => 24,
            WavEncoding::Float32 => 32,
        }
    }

    /// hound's header description for this encoding.
    pub(crate) fn spec(self, sample_rate: u32, channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: self.bits() as u16,
            sample_format: match self {
                WavEncoding::Float32 => hound::SampleFormat::Float,
                _ => hound::SampleFormat::Int,
            },
        }
    }

    /// The encoding that keeps a source's precision: integer sources of up
    /// to 16 bits give [`Int16`](WavEncoding::Int16), 17 to 24 bits
    /// [`Int24`](WavEncoding::Int24); 32-bit integer, float, MP3 and Vorbis
    /// sources give [`Float32`](WavEncoding::Float32).
    pub fn for_source(info: &FileInfo) -> WavEncoding {
        match (info.sample_format, info.bits_per_sample) {
            (SampleFormat::Int, Some(b)) if b <= 16 => WavEncoding::Int16,
            (SampleFormat::Int, Some(b)) if b <= 24 => WavEncoding::Int24,
            _ => WavEncoding::Float32,
        }
    }
}

/// What [`open_sink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// A WAV file in the given encoding (via hound).
    Wav(WavEncoding),
    /// A FLAC file with `bits` per sample: 16 or 24 (via flacenc).
    Flac {
        /// Bits per sample, 16 or 24.
        bits: u32,
    },
}

impl OutputFormat {
    /// Picks the output format from `path`'s extension (`.wav` or `.flac`,
    /// any case).
    ///
    /// `encoding` forces the sample encoding; otherwise it follows `source`
    /// (see [`WavEncoding::for_source`]; for FLAC: 16 bits for integer
    /// sources of up to 16 bits, else 24), and without a source it is
    /// Float32 for WAV and 24 bits for FLAC.
    ///
    /// # Errors
    /// [`Error::UnsupportedFormat`] for any other extension (the path is
    /// named); [`Error::InvalidParameter`] for `encoding = Float32` with a
    /// `.flac` path (FLAC stores integers only).
    pub fn for_path(path: &Path, encoding: Option<WavEncoding>, source: Option<&FileInfo>) -> Result<OutputFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "wav" | "wave" => Ok(OutputFormat::Wav(
                encoding.or_else(|| source.map(WavEncoding::for_source)).unwrap_or(WavEncoding::Float32),
            )),
            "flac" => {
                let bits = match encoding {
                    Some(WavEncoding::Int16) => 16,
                    Some(WavEncoding::Int24) => 24,
                    Some(WavEncoding::Float32) => {
                        return Err(Error::param(
                            "encoding",
                            format!("{}: FLAC stores integer samples only; use Int16 or Int24", display(path)),
                        ))
                    }
                    None => match source.map(WavEncoding::for_source) {
                        Some(WavEncoding::Int16) => 16,
                        _ => 24,
                    },
                };
                Ok(OutputFormat::Flac { bits })
            }
            other => Err(Error::UnsupportedFormat {
                path: display(path),
                reason: format!(
                    "cannot write '{}' files; resonode writes .wav and .flac",
                    if other.is_empty() { "extension-less" } else { other }
                ),
            }),
        }
    }

    /// The file extension this format is written with, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Wav(_) => "wav",
            OutputFormat::Flac { .. } => "flac",
        }
    }
}

/// A boxed sink writing `format` to `path`. Nothing touches the disk until
/// [`Sink::open`].
pub fn open_sink(path: &Path, format: OutputFormat) -> Box<dyn Sink> {
    match format {
        OutputFormat::Wav(enc) => Box::new(WavSink::create(path, enc)),
        OutputFormat::Flac { bits } => Box::new(FlacSink::create(path, bits)),
    }
}

/// Converts one float sample to a `bits`-bit signed integer (see the module
/// docs): `clamp(round(x * 2^(bits-1)), -2^(bits-1), 2^(bits-1) - 1)`, ties
/// away from zero, NaN to 0. `bits` is clamped to 1..=32.
///
/// # Real-time safety
/// Never allocates.
#[inline]
pub fn float_to_int(x: f32, bits: u32) -> i32 {
    let full = crate::interleave::full_scale(bits);
    // `as` saturates and maps NaN to 0.
    (x * full).round().clamp(-full, full - 1.0) as i32
}

/// [`Error::Shape`] unless `block` has the `channels` that `name` was
/// opened with.
pub(crate) fn check_block_channels(name: &str, channels: usize, block: &AudioBlock<'_>) -> Result<()> {
    if block.channels() != channels {
        return Err(Error::shape(format!(
            "{name} was opened with {channels} channels, got a block of {}",
            block.channels()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------

/// Writes a WAV file: the header is hound's (its `WavSpec` header: a plain
/// PCM `fmt` chunk for up to 2 channels of 16-bit integers, else
/// WAVE_FORMAT_EXTENSIBLE), the samples are converted and interleaved a
/// block at a time ([`crate::interleave`]) and written in one call, and the
/// RIFF and data sizes are kept up to date as hound's `WavWriter` keeps
/// them, so the file is byte for byte what hound writes.
///
/// Created closed; [`Sink::open`] creates (truncates) the file and writes the
/// header. Every ~1 s of audio (and on [`flush`](WavSink::flush)) the header
/// sizes are rewritten and the data flushed to the OS, so the file on disk
/// stays a valid WAV holding everything up to that point even if the
/// process dies; [`Sink::finalize`] completes it (as does dropping an open
/// sink, ignoring errors). Integer encodings convert with [`float_to_int`]
/// (round to nearest, clip, no dither); Float32 stores samples unchanged,
/// including values beyond ±1.
pub struct WavSink {
    path: PathBuf,
    encoding: WavEncoding,
    out: Option<BufWriter<File>>,
    /// The header as hound writes it; the sizes are patched in place.
    header_len: u64,
    channels: usize,
    flush_every: u64,
    since_flush: u64,
    data_bytes: u64,
    frames: u64,
    /// One block's interleaved bytes, reused.
    bytes: Vec<u8>,
    interleaver: Interleaver,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("path", &self.path)
            .field("encoding", &self.encoding)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Largest data chunk a RIFF WAV can describe, minus room for the header.
const WAV_MAX_DATA_BYTES: u64 = u32::MAX as u64 - 128;

impl WavSink {
    /// A sink that will write `path` with `encoding` once opened.
    pub fn create(path: &Path, encoding: WavEncoding) -> WavSink {
        WavSink {
            path: path.to_path_buf(),
            encoding,
            out: None,
            header_len: 0,
            channels: 0,
            flush_every: 0,
            since_flush: 0,
            data_bytes: 0,
            frames: 0,
            bytes: Vec::new(),
            interleaver: Interleaver::default(),
        }
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    fn io_err(&self, e: std::io::Error) -> Error {
        Error::Io { path: display(&self.path), reason: format!("writing WAV: {e}") }
    }

    /// Writes the RIFF and data sizes for the data written so far (hound's
    /// `update_header`: the RIFF size counts the header after its first 8
    /// bytes) and flushes everything to the OS; the file position ends
    /// after the data.
    fn write_sizes(out: &mut BufWriter<File>, header_len: u64, data_bytes: u64) -> std::io::Result<()> {
        // Both fit: the data is kept under WAV_MAX_DATA_BYTES.
        let data = data_bytes as u32;
        let riff = data.wrapping_add((header_len - 8) as u32);
        out.flush()?;
        let file = out.get_mut();
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff.to_le_bytes())?;
        file.seek(SeekFrom::Start(header_len - 4))?;
        file.write_all(&data.to_le_bytes())?;
        file.seek(SeekFrom::Start(header_len + data_bytes))?;
        file.flush()
    }

    /// Rewrites the header sizes and flushes to the OS, so the file on disk
    /// is a valid WAV with every frame written so far. Does nothing before
    /// [`Sink::open`].
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn flush(&mut self) -> Result<()> {
        self.since_flush = 0;
        let (header_len, data_bytes) = (self.header_len, self.data_bytes);
        match self.out.as_mut() {
            Some(out) => Self::write_sizes(out, header_len, data_bytes).map_err(|e| self.io_err(e)),
            None => Ok(()),
        }
    }
}

impl Sink for WavSink {
    /// Creates the file and writes the header.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be created (missing directory,
    /// permission); [`Error::InvalidParameter`] for 0 or more than 65535
    /// channels or a 0 Hz rate; [`Error::InvalidState`] when already open.
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
        let path = display(&self.path);
        if self.out.is_some() {
            return Err(Error::InvalidState { reason: format!("{path} is already open") });
        }
        if channels == 0 || channels > usize::from(u16::MAX) {
            return Err(Error::param("channels", format!("{path}: WAV needs 1 to 65535 channels, got {channels}")));
        }
        if sample_rate == 0 {
            return Err(Error::param("sampleRate", format!("{path}: the sample rate must be above 0 Hz")));
        }
        // hound's header with the sizes of an empty file (0), as its
        // WavWriter starts one.
        let mut header = self.encoding.spec(sample_rate, channels as u16).into_header_for_infinite_file();
        let len = header.len();
        header[4..8].fill(0);
        header[len - 4..].fill(0);
        let file = File::create(&self.path)
            .map_err(|e| Error::Io { path: path.clone(), reason: format!("cannot create the file: {e}") })?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        out.write_all(&header).map_err(|e| self.io_err(e))?;
        self.out = Some(out);
        self.header_len = len as u64;
        self.channels = channels;
        self.flush_every = u64::from(sample_rate);
        self.since_flush = 0;
        self.data_bytes = 0;
        self.frames = 0;
        Ok(())
    }

    /// Appends the block's frames.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before open; [`Error::Shape`] for a block with
    /// a different channel count; [`Error::Encode`] when the data would pass
    /// the 4 GiB limit of the RIFF format; [`Error::Io`] on write failure.
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        let path = display(&self.path);
        if self.out.is_none() {
            return Err(Error::InvalidState { reason: format!("{path} is not open") });
        }
        check_block_channels(&path, self.channels, block)?;
        let frames = block.frames();
        let layout = self.encoding.layout();
        let bytes = frames as u64 * self.channels as u64 * layout.bytes() as u64;
        if self.data_bytes + bytes > WAV_MAX_DATA_BYTES {
            return Err(Error::Encode {
                path,
                reason: "the audio would exceed the 4 GiB limit of a WAV file; write FLAC instead".into(),
            });
        }
        self.interleaver.encode(block, layout, &mut self.bytes);
        let out = self.out.as_mut().expect("checked above");
        if let Err(e) = out.write_all(&self.bytes) {
            return Err(self.io_err(e));
        }
        self.data_bytes += bytes;
        self.frames += frames as u64;
        self.since_flush += frames as u64;
        if self.since_flush >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the final header sizes and closes the file. Does nothing when
    /// never opened or already finalized.
    fn finalize(&mut self) -> Result<()> {
        match self.out.take() {
            Some(mut out) => Self::write_sizes(&mut out, self.header_len, self.data_bytes).map_err(|e| self.io_err(e)),
            None => Ok(()),
        }
    }
}

impl Drop for WavSink {
    /// Completes an open file, as hound's writer does when dropped.
    fn drop(&mut self) {
        let _ = self.finalize();
    }
}

// ---------------------------------------------------------------------------

/// Samples per FLAC frame.
pub(crate) const FLAC_BLOCK: usize = 4096;

/// FLAC frame encoding, shared by [`FlacSink`] and
/// [`crate::StreamEncoder`]: flacenc's state, the samples of the FLAC frame
/// being filled (interleaved, converted with [`float_to_int`]) and the
/// bytes of the last frame encoded.
pub(crate) struct FlacFrames {
    config: Verified<flacenc::config::Encoder>,
    /// STREAMINFO, updated with every frame encoded.
    info: StreamInfo,
    framebuf: FrameBuf,
    context: Context,
    pending: Vec<i32>,
    channels: usize,
    bits: u32,
    sink: flacenc::bitsink::MemSink<u8>,
    interleaver: Interleaver,
}

impl FlacFrames {
    /// Checks the format and sets up the encoder; `name` (a path, a stream)
    /// starts the messages.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bits other than 16/24, channels
    /// outside 1..=8 or a sample rate outside 1..=655350 Hz;
    /// [`Error::Encode`] when flacenc refuses the settings.
    pub(crate) fn new(name: &str, sample_rate: u32, channels: usize, bits: u32) -> Result<FlacFrames> {
        if !matches!(bits, 16 | 24) {
            return Err(Error::param("bits", format!("{name}: FLAC output supports 16 or 24 bits, got {bits}")));
        }
        if !(1..=8).contains(&channels) {
            return Err(Error::param("channels", format!("{name}: FLAC supports 1 to 8 channels, got {channels}")));
        }
        if !(1..=655_350).contains(&sample_rate) {
            return Err(Error::param("sampleRate", format!("{name}: FLAC supports 1 to 655350 Hz, got {sample_rate}")));
        }
        let enc = |e: flacenc::error::VerifyError| Error::Encode { path: name.to_string(), reason: e.to_string() };
        let mut info = StreamInfo::new(sample_rate as usize, channels, bits as usize).map_err(enc)?;
        info.set_block_sizes(FLAC_BLOCK, FLAC_BLOCK).map_err(enc)?;
        info.set_frame_sizes(0, 0).map_err(enc)?;
        let mut config = flacenc::config::Encoder::default();
        config.block_size = FLAC_BLOCK;
        config.multithread = false;
        let config = config.into_verified().map_err(|(_, e)| enc(e))?;
        let framebuf = FrameBuf::with_size(channels, FLAC_BLOCK).map_err(enc)?;
        Ok(FlacFrames {
            config,
            info,
            framebuf,
            context: Context::new(bits as usize, channels),
            pending: Vec::with_capacity(FLAC_BLOCK * channels),
            channels,
            bits,
            sink: flacenc::bitsink::MemSink::new(),
            interleaver: Interleaver::default(),
        })
    }

    /// The channel count.
    pub(crate) fn channels(&self) -> usize {
        self.channels
    }

    /// The 42-byte file header: "fLaC" and the STREAMINFO block as it
    /// stands.
    pub(crate) fn header(&self) -> Vec<u8> {
        let stream = Stream::with_stream_info(self.info.clone());
        let mut sink = flacenc::bitsink::MemSink::<u8>::new();
        // Writing to memory cannot fail.
        let _ = stream.write(&mut sink);
        sink.as_slice()[..sink.len() / 8].to_vec()
    }

    /// Adds frames `from..` of `block` to the FLAC frame being filled, as
    /// many as fit; returns how many.
    pub(crate) fn stage(&mut self, block: &AudioBlock<'_>, from: usize) -> usize {
        let take = (FLAC_BLOCK - self.pending.len() / self.channels).min(block.frames() - from);
        self.interleaver.extend_ints(block, from, take, self.bits, &mut self.pending);
        take
    }

    /// Whether the FLAC frame being filled is complete.
    pub(crate) fn is_full(&self) -> bool {
        self.pending.len() == FLAC_BLOCK * self.channels
    }

    /// Frames staged and not yet encoded.
    pub(crate) fn pending_frames(&self) -> usize {
        self.pending.len() / self.channels
    }

    /// Drops the staged frames (encoded or not).
    pub(crate) fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// Encodes the staged frames (a full block, or the last partial one) as
    /// one FLAC frame, whose bytes [`encoded`](Self::encoded) then holds;
    /// the staged frames stay until [`clear_pending`](Self::clear_pending).
    pub(crate) fn encode(&mut self) -> std::result::Result<(), String> {
        self.framebuf.fill_interleaved(&self.pending).map_err(|e| e.to_string())?;
        self.context.fill_interleaved(&self.pending).map_err(|e| e.to_string())?;
        let number = self.context.current_frame_number().unwrap_or(0);
        let frame = flacenc::encode_fixed_size_frame(&self.config, &self.framebuf, number, &self.info)
            .map_err(|e| e.to_string())?;
        self.info.update_frame_info(&frame);
        self.sink.clear();
        frame.write(&mut self.sink).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The bytes of the last frame [`encode`](Self::encode) made.
    pub(crate) fn encoded(&self) -> &[u8] {
        &self.sink.as_slice()[..self.sink.len() / 8]
    }
}

/// Writes a FLAC file with flacenc (pure Rust), one 4096-frame FLAC frame at
/// a time, at constant memory.
///
/// Created closed; [`Sink::open`] creates the file and writes a STREAMINFO
/// with unknown length; [`Sink::finalize`] encodes the last partial frame
/// and rewrites STREAMINFO with the length, frame sizes and MD5. About once
/// per second of audio the encoded frames are flushed to the OS, so a file
/// left behind by a crash decodes up to its last complete frame (with its
/// length unknown). Samples are converted with [`float_to_int`].
pub struct FlacSink {
    path: PathBuf,
    bits: u32,
    state: Option<FlacState>,
}

struct FlacState {
    out: BufWriter<File>,
    flac: FlacFrames,
    flush_every: u64,
    since_flush: u64,
    frames: u64,
}

impl std::fmt::Debug for FlacSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacSink").field("path", &self.path).field("bits", &self.bits).finish_non_exhaustive()
    }
}

impl FlacSink {
    /// A sink that will write `path` with `bits` (16 or 24) bits per sample
    /// once opened.
    pub fn create(path: &Path, bits: u32) -> FlacSink {
        FlacSink { path: path.to_path_buf(), bits, state: None }
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::Io { path: display(&self.path), reason: format!("writing FLAC: {e}") }
    }

    /// Encodes the pending samples (a full block, or the last partial one).
    fn encode_pending(&mut self) -> Result<()> {
        let Some(st) = self.state.as_mut() else { return Ok(()) };
        if st.flac.pending_frames() == 0 {
            return Ok(());
        }
        if let Err(reason) = st.flac.encode() {
            return Err(Error::Encode { path: display(&self.path), reason });
        }
        let st = self.state.as_mut().expect("checked above");
        let frames = st.flac.pending_frames() as u64;
        st.flac.clear_pending();
        st.frames += frames;
        st.since_flush += frames;
        let written = st.out.write_all(st.flac.encoded());
        let flushed = if st.since_flush >= st.flush_every {
            st.since_flush = 0;
            st.out.flush()
        } else {
            Ok(())
        };
        written.and(flushed).map_err(|e| self.io(e))
    }
}

impl Sink for FlacSink {
    /// Creates the file and writes the header.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bits other than 16/24, channels
    /// outside 1..=8 or a sample rate outside 1..=655350 Hz;
    /// [`Error::Io`] when the file cannot be created.
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
        let path = display(&self.path);
        if self.state.is_some() {
            return Err(Error::InvalidState { reason: format!("{path} is already open") });
        }
        let flac = FlacFrames::new(&path, sample_rate, channels, self.bits)?;
        let file = File::create(&self.path)
            .map_err(|e| Error::Io { path: path.clone(), reason: format!("cannot create the file: {e}") })?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        out.write_all(&flac.header()).and_then(|_| out.flush()).map_err(|e| self.io(e))?;
        self.state = Some(FlacState { out, flac, flush_every: u64::from(sample_rate), since_flush: 0, frames: 0 });
        Ok(())
    }

    /// Appends the block's frames, encoding every complete 4096-frame block.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before open; [`Error::Shape`] for a block with
    /// a different channel count; [`Error::Encode`]/[`Error::Io`] on failure.
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        let path = display(&self.path);
        let Some(st) = self.state.as_mut() else {
            return Err(Error::InvalidState { reason: format!("{path} is not open") });
        };
        check_block_channels(&path, st.flac.channels(), block)?;
        let mut i = 0;
        while i < block.frames() {
            let st = self.state.as_mut().expect("open");
            i += st.flac.stage(block, i);
            if st.flac.is_full() {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    /// Encodes the last partial frame, rewrites STREAMINFO (length, frame
    /// sizes, MD5) and closes the file. Does nothing when never opened or
    /// already finalized.
    fn finalize(&mut self) -> Result<()> {
        if self.state.is_none() {
            return Ok(());
        }
        let encoded = self.encode_pending();
        let mut st = self.state.take().expect("checked above");
        encoded?;
        st.flac.info.set_md5_digest(&st.flac.context.md5_digest());
        if st.frames == 0 {
            let _ = st.flac.info.set_frame_sizes(0, 0);
        }
        // update_frame_info narrows the block sizes to the (shorter) last
        // frame; STREAMINFO's minimum excludes the last frame, so restore it.
        let _ = st.flac.info.set_block_sizes(FLAC_BLOCK, FLAC_BLOCK);
        let header = st.flac.header();
        let res = (|| {
            st.out.flush()?;
            let file = st.out.get_mut();
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&header)?;
            file.flush()
        })();
        res.map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_int_rounds_and_clips() {
        assert_eq!(float_to_int(0.0, 16), 0);
        assert_eq!(float_to_int(0.7, 0), 0); // bits clamped to 1: range [-1, 0]
        assert_eq!(float_to_int(-1.0, 40), i32::MIN); // bits clamped to 32
        assert_eq!(float_to_int(1.0, 32), i32::MAX);
        assert_eq!(float_to_int(1.0, 16), 32767);
        assert_eq!(float_to_int(-1.0, 16), -32768);
        assert_eq!(float_to_int(2.5, 16), 32767);
        assert_eq!(float_to_int(-7.0, 24), -8_388_608);
        assert_eq!(float_to_int(0.5 / 32768.0, 16), 1); // tie away from zero
        assert_eq!(float_to_int(-0.5 / 32768.0, 16), -1);
        assert_eq!(float_to_int(0.49 / 32768.0, 16), 0);
        assert_eq!(float_to_int(1000.0 / 32768.0, 16), 1000);
        assert_eq!(float_to_int(f32::NAN, 16), 0);
        assert_eq!(float_to_int(f32::INFINITY, 24), 8_388_607);
    }

    #[test]
    fn output_format_follows_extension_and_source() {
        let info = |fmt, bits| FileInfo {
            path: "x".into(),
            format: "wav".into(),
            codec: "pcm".into(),
            sample_rate: 44100,
            channels: 2,
            frames: None,
            declared_frames: None,
            warnings: Vec::new(),
            bits_per_sample: bits,
            sample_format: fmt,
        };
        let p = Path::new;
        let s16 = info(SampleFormat::Int, Some(16));
        let s24 = info(SampleFormat::Int, Some(24));
        let s32 = info(SampleFormat::Int, Some(32));
        let mp3 = info(SampleFormat::Float, None);
        assert_eq!(
            OutputFormat::for_path(p("a.wav"), None, Some(&s16)).unwrap(),
            OutputFormat::Wav(WavEncoding::Int16)
        );
        assert_eq!(
            OutputFormat::for_path(p("a.WAV"), None, Some(&s24)).unwrap(),
            OutputFormat::Wav(WavEncoding::Int24)
        );
        assert_eq!(
            OutputFormat::for_path(p("a.wav"), None, Some(&s32)).unwrap(),
            OutputFormat::Wav(WavEncoding::Float32)
        );
        assert_eq!(
            OutputFormat::for_path(p("a.wav"), None, Some(&mp3)).unwrap(),
            OutputFormat::Wav(WavEncoding::Float32)
        );
        assert_eq!(OutputFormat::for_path(p("a.wav"), None, None).unwrap(), OutputFormat::Wav(WavEncoding::Float32));
        assert_eq!(
            OutputFormat::for_path(p("a.wav"), Some(WavEncoding::Int24), Some(&s16)).unwrap(),
            OutputFormat::Wav(WavEncoding::Int24)
        );
        assert_eq!(OutputFormat::for_path(p("a.flac"), None, Some(&s16)).unwrap(), OutputFormat::Flac { bits: 16 });
        assert_eq!(OutputFormat::for_path(p("a.flac"), None, Some(&mp3)).unwrap(), OutputFormat::Flac { bits: 24 });
        assert_eq!(OutputFormat::for_path(p("a.flac"), None, None).unwrap(), OutputFormat::Flac { bits: 24 });
        let e = OutputFormat::for_path(p("a.flac"), Some(WavEncoding::Float32), None).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
        let e = OutputFormat::for_path(p("out/a.mp3"), None, None).unwrap_err();
        assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT");
        assert!(e.to_string().contains("out/a.mp3") && e.to_string().contains("mp3"), "{e}");
    }
}
