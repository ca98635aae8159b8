//! The decoding layer under [`crate::FileSource`]: opens a file, recognises
//! the container by its magic bytes, checks WAV headers itself (codec,
//! channel count, truncation), and pulls decoded packets out of symphonia as
//! interleaved `f32`, one packet at a time.
//!
//! Every call into symphonia goes through [`guard`], which turns a panic on
//! malformed data into [`Error::Decode`].

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use resonode_core::{AudioBuffer, Error, Result};
use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::packet::Packet;
use symphonia::core::units::Duration;
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::{
    AiffReader, CafReader, FlacReader, IsoMp4Reader, MpaReader, OggReader, WavReader,
};

use crate::{ChannelSelection, FileInfo, SampleFormat};

// Unseekable byte streams, sharing this module's private decoder machinery.
pub(crate) mod stream_decode;

/// Files with more channels than this are refused (a corrupt header could
/// otherwise make the decoder allocate huge packet buffers).
pub(crate) const MAX_CHANNELS: usize = 256;

/// After this many packets in a row fail to decode, the file is declared
/// undecodable instead of being concealed further.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 64;

/// The longest stretch of silence inserted for one corrupt packet (frames).
const MAX_CONCEALED_FRAMES_PER_PACKET: u64 = 1 << 16;

/// The longest timestamp gap filled with silence (frames); larger jumps are
/// taken to be damaged timestamps rather than lost audio.
const MAX_GAP_FRAMES: i64 = 1 << 22;

/// Container formats resonode reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Wav,
    Rf64,
    Aiff,
    Caf,
    Mp4,
    Flac,
    Mp3,
    Ogg,
}

impl Container {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Rf64 => "rf64",
            Container::Aiff => "aiff",
            Container::Caf => "caf",
            Container::Mp4 => "mp4",
            Container::Flac => "flac",
            Container::Mp3 => "mp3",
            Container::Ogg => "ogg",
        }
    }
}

/// The formats named in "not a recognised audio file" messages.
const KNOWN: &str = "WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg (Vorbis, Opus, FLAC), MP4/M4A (AAC, ALAC)";

/// Lowest and highest sample rate accepted in a file header, in Hz.
const RATE_RANGE: std::ops::RangeInclusive<u32> = crate::MIN_SAMPLE_RATE..=crate::MAX_SAMPLE_RATE;

fn check_rate(path: &str, rate: u32) -> Result<u32> {
    if RATE_RANGE.contains(&rate) {
        Ok(rate)
    } else {
        Err(unsupported(
            path,
            format!(
                "the header declares a sample rate of {rate} Hz (outside {} Hz..{} Hz)",
                RATE_RANGE.start(),
                RATE_RANGE.end()
            ),
        ))
    }
}

/// The warning for a header whose length decoding contradicts.
pub(crate) fn length_warning(declared: u64, decoded: u64) -> String {
    if decoded < declared {
        format!("the header declares {declared} frames but only {decoded} could be decoded")
    } else {
        format!("the header declares {declared} frames but {decoded} were decoded")
    }
}


// ---------------------------------------------------------------------------
// Error helpers

pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) fn io_error(path: &str, what: &str, e: &io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        return Error::NotFound { path: path.to_string() };
    }
    Error::Io { path: path.to_string(), reason: format!("{what}: {e}") }
}

fn decode_err(path: &str, reason: impl Into<String>) -> Error {
    Error::Decode { path: path.to_string(), reason: reason.into() }
}

fn unsupported(path: &str, reason: impl Into<String>) -> Error {
    Error::UnsupportedFormat { path: path.to_string(), reason: reason.into() }
}

/// Maps a symphonia error met while `what` (e.g. "reading the header").
fn map_sym(path: &str, what: &str, e: SymError) -> Error {
    match e {
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            decode_err(path, format!("unexpected end of file while {what} (the file is truncated)"))
        }
        // Errors from the OS are I/O errors; the decoders' own "io" errors
        // (e.g. "unexpected end of bitstream" from an in-memory bit reader)
        // describe malformed data.
        SymError::IoError(e) if e.raw_os_error().is_some() => io_error(path, what, &e),
        SymError::IoError(e) => decode_err(path, format!("malformed data while {what}: {e}")),
        SymError::DecodeError(msg) => decode_err(path, format!("malformed data while {what}: {msg}")),
        SymError::Unsupported(msg) => unsupported(path, format!("{msg} (while {what})")),
        SymError::LimitError(msg) => decode_err(path, format!("a safety limit was hit while {what}: {msg}")),
        SymError::SeekError(_) => decode_err(path, format!("seek failed while {what}")),
        SymError::ResetRequired => unsupported(
            path,
            format!("the stream changes its parameters mid-file (e.g. a chained Ogg stream) while {what}"),
        ),
        other => decode_err(path, format!("{other} (while {what})")),
    }
}

/// Runs `f`, turning a panic inside a decoder library into [`Error::Decode`].
pub(crate) fn guard<T>(path: &str, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = resonode_core::error::panic_message(payload.as_ref());
        decode_err(path, format!("the decoder failed on malformed data while {what} ({msg})"))
    })
}

// ---------------------------------------------------------------------------
// A byte view of the file that symphonia reads: optionally a synthesized
// header (`prefix`, e.g. a canonical WAV header in front of a WAV's data
// chunk), then the file's bytes from `start` to `start + len - prefix.len()`,
// with a few bytes overlaid (`patches`, at view offsets).

struct FileView {
    file: File,
    prefix: Vec<u8>,
    start: u64,
    len: u64,
    pos: u64,
    file_pos: Option<u64>,
    patches: Vec<(u64, Vec<u8>)>,
}

impl FileView {
    fn new(file: File, layout: Layout) -> Self {
        let len = layout.prefix.len() as u64 + layout.end.saturating_sub(layout.start);
        FileView {
            file,
            prefix: layout.prefix,
            start: layout.start,
            len,
            pos: 0,
            file_pos: None,
            patches: layout.patches,
        }
    }
}

impl Read for FileView {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - self.pos) as usize;
        let plen = self.prefix.len() as u64;
        let n = if self.pos < plen {
            let n = want.min((plen - self.pos) as usize);
            buf[..n].copy_from_slice(&self.prefix[self.pos as usize..self.pos as usize + n]);
            n
        } else {
            let abs = self.start + (self.pos - plen);
            if self.file_pos != Some(abs) {
                self.file.seek(SeekFrom::Start(abs))?;
            }
            match self.file.read(&mut buf[..want]) {
                Ok(n) => {
                    self.file_pos = Some(abs + n as u64);
                    n
                }
                Err(e) => {
                    self.file_pos = None;
                    return Err(e);
                }
            }
        };
        for (off, bytes) in &self.patches {
            for (i, b) in bytes.iter().enumerate() {
                let at = off + i as u64;
                if at >= self.pos && at < self.pos + n as u64 {
                    buf[(at - self.pos) as usize] = *b;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FileView {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the file")),
        }
    }
}

impl MediaSource for FileView {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// How the file is shown to symphonia, and what resonode's own header walk
/// learnt about it.
struct Layout {
    prefix: Vec<u8>,
    start: u64,
    end: u64,
    patches: Vec<(u64, Vec<u8>)>,
    /// Frames the header declares, when resonode read it itself (WAV, RF64).
    declared: Option<u64>,
    /// Frames actually present, when known exactly without decoding (PCM WAV).
    present: Option<u64>,
    /// Bits per sample as the header states them (WAV: the valid bits).
    bits: Option<u32>,
}

impl Layout {
    fn whole(base: u64, file_len: u64) -> Layout {
        Layout { prefix: Vec::new(), start: base, end: file_len, patches: Vec::new(), declared: None, present: None, bits: None }
    }
}

// ---------------------------------------------------------------------------
// Container sniffing

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Length in bytes of the MPEG audio frame whose 4-byte header is `h`, and
/// its layer (1, 2 or 3); `None` when `h` is not a valid frame header.
fn mpeg_frame(h: &[u8]) -> Option<(usize, u8)> {
    if h.len() < 4 || h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
    let layer = match (h[1] >> 1) & 3 {
        1 => 3,
        2 => 2,
        3 => 1,
        _ => return None,
    };
    let bitrate_idx = (h[2] >> 4) as usize;
    let rate_idx = ((h[2] >> 2) & 3) as usize;
    if version == 1 || bitrate_idx == 0 || bitrate_idx == 15 || rate_idx == 3 {
        return None;
    }
    let padding = ((h[2] >> 1) & 1) as usize;
    const RATES: [[u32; 3]; 4] = [[11025, 12000, 8000], [0, 0, 0], [22050, 24000, 16000], [44100, 48000, 32000]];
    const BR_V1: [[u32; 15]; 3] = [
        [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
        [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    ];
    const BR_V2: [[u32; 15]; 2] = [
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let rate = RATES[version as usize][rate_idx];
    let kbps = if version == 3 {
        BR_V1[(layer - 1) as usize][bitrate_idx]
    } else {
        BR_V2[if layer == 1 { 0 } else { 1 }][bitrate_idx]
    };
    let bps = kbps * 1000;
    let len = match layer {
        1 => (12 * bps / rate) as usize * 4 + padding * 4,
        3 if version != 3 => (72 * bps / rate) as usize + padding,
        _ => (144 * bps / rate) as usize + padding,
    };
    (len >= 4).then_some((len, layer))
}

/// Whether an MPEG audio stream starts at `buf[at]`: a valid header followed
/// by a second one (or the end of the buffer when `buf` holds the whole file).
fn mpeg_starts_at(buf: &[u8], at: usize, whole_file: bool) -> Option<u8> {
    let (len, layer) = mpeg_frame(&buf[at..])?;
    let next = at + len;
    if next + 4 <= buf.len() {
        let (_, layer2) = mpeg_frame(&buf[next..])?;
        (layer2 == layer).then_some(layer)
    } else if whole_file {
        // The first frame runs to (or past) the end of a very short file.
        Some(layer)
    } else {
        None
    }
}

struct Sniffed {
    container: Container,
    base: u64,
}

fn sniff(path: &str, file: &mut File, file_len: u64, ext: &str) -> Result<Sniffed> {
    let io = |e: io::Error| io_error(path, "reading the file header", &e);
    let mut base = 0u64;
    let mut head = [0u8; 16];
    // Skip ID3v2 tags (MP3 files often start with one, sometimes several).
    for _ in 0..8 {
        let n = read_at(file, base, &mut head).map_err(io)?;
        if n >= 10 && &head[..3] == b"ID3" {
            let size = head[6..10].iter().fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
            let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
            base += 10 + size + footer;
            if base >= file_len {
                return Err(decode_err(path, "the file holds an ID3 tag but no audio after it"));
            }
        } else {
            break;
        }
    }
    let n = read_at(file, base, &mut head).map_err(io)?;
    let head = &head[..n];
    let starts = |magic: &[u8]| head.len() >= magic.len() && &head[..magic.len()] == magic;
    if starts(b"RIFF") && n >= 12 {
        return match &head[8..12] {
            b"WAVE" => Ok(Sniffed { container: Container::Wav, base }),
            form => Err(unsupported(path, format!("RIFF form '{}' is not WAVE", String::from_utf8_lossy(form)))),
        };
    }
    if (starts(b"RF64") || starts(b"BW64")) && n >= 12 {
        return match &head[8..12] {
            b"WAVE" => Ok(Sniffed { container: Container::Rf64, base }),
            form => Err(unsupported(path, format!("RF64 form '{}' is not WAVE", String::from_utf8_lossy(form)))),
        };
    }
    if starts(b"RIFX") {
        return Err(unsupported(path, "big-endian RIFX WAV is not supported"));
    }
    if starts(b"fLaC") {
        return Ok(Sniffed { container: Container::Flac, base });
    }
    if starts(b"OggS") {
        return Ok(Sniffed { container: Container::Ogg, base });
    }
    if starts(b"FORM") && n >= 12 {
        return match &head[8..12] {
            b"AIFF" | b"AIFC" => Ok(Sniffed { container: Container::Aiff, base }),
            form => Err(unsupported(
                path,
                format!("IFF form '{}' is not AIFF/AIFC ({KNOWN} are supported)", String::from_utf8_lossy(form)),
            )),
        };
    }
    if n >= 8 && (&head[4..8] == b"ftyp" || &head[4..8] == b"moov") {
        return Ok(Sniffed { container: Container::Mp4, base });
    }
    if starts(b"caff") {
        return Ok(Sniffed { container: Container::Caf, base });
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Err(unsupported(path, format!("Matroska/WebM files are not supported ({KNOWN} are)")));
    }
    if starts(b"wvpk") || starts(b"MAC ") || starts(b".snd") {
        return Err(unsupported(
            path,
            format!("'{}' files are not supported ({KNOWN} are)", String::from_utf8_lossy(&head[..4])),
        ));
    }
    // MPEG audio: a frame header at the start, or (for *.mp3) within the
    // first 64 KiB, confirmed by a second header where the first frame ends.
    let scan_len = if ext == "mp3" { 64 * 1024 } else { 8 * 1024 };
    let mut buf = vec![0u8; scan_len.min((file_len - base) as usize)];
    let got = read_at(file, base, &mut buf).map_err(io)?;
    buf.truncate(got);
    let whole = base + got as u64 == file_len;
    let limit = if ext == "mp3" { buf.len().saturating_sub(4) } else { 1.min(buf.len()) };
    for at in 0..limit {
        if buf[at] == 0xFF {
            if let Some(layer) = mpeg_starts_at(&buf, at, whole) {
                if layer != 3 {
                    return Err(unsupported(
                        path,
                        format!("MPEG audio layer {layer} is not supported (layer 3, i.e. MP3, is)"),
                    ));
                }
                return Ok(Sniffed { container: Container::Mp3, base: base + at as u64 });
            }
        }
    }
    const MAGICS: [&[u8]; 7] = [b"RIFF", b"RF64", b"BW64", b"FORM", b"fLaC", b"OggS", b"ID3"];
    if n < 12 && MAGICS.iter().any(|m| m.starts_with(head) || head.starts_with(m)) {
        return Err(decode_err(path, format!("the file is truncated ({file_len} bytes, too short for a header)")));
    }
    Err(unsupported(path, format!("not a recognised audio file (expected {KNOWN})")))
}

// ---------------------------------------------------------------------------
// WAV / RF64: resonode walks the chunks itself and shows symphonia a
// canonical header (RIFF, a plain fmt chunk, data) followed by the data
// chunk's bytes. That accepts what strict parsers refuse but the data
// allows (fmt chunks of odd sizes, WAVE_FORMAT_EXTENSIBLE with a
// non-standard sub-format GUID but consistent PCM fields, RF64's 64-bit
// sizes, a data chunk longer than the file) without codec code of our own.

fn wav_codec_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "Microsoft ADPCM",
        0x0011 => "IMA ADPCM",
        0x0022 => "DSP TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0050 => "MPEG audio layer 1/2",
        0x0055 => "MPEG layer 3 (MP3)",
        0x0064 => "G.726 ADPCM",
        0x0092 => "Dolby AC-3 (S/PDIF)",
        0x00FF | 0x1610 => "AAC",
        0x0160..=0x0163 => "Windows Media Audio",
        0x2000 => "Dolby AC-3",
        0x2001 => "DTS",
        0x674f | 0x6750 | 0x6751 | 0x676f | 0x6770 | 0x6771 => "Ogg Vorbis in WAV",
        0xF1AC => "FLAC in WAV",
        _ => "unknown codec",
    };
    format!("{name} (format tag 0x{tag:04X})")
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64le(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn scan_wav(path: &str, file: &mut File, base: u64, file_len: u64, rf64: bool) -> Result<Layout> {
    let io = |e: io::Error| io_error(path, "reading the WAV header", &e);
    let len = file_len - base;
    let mut hdr = [0u8; 12];
    if read_at(file, base, &mut hdr).map_err(io)? < 12 {
        return Err(decode_err(path, "the WAV header is truncated"));
    }
    let mut pos = 12u64;
    let mut fmt: Option<Vec<u8>> = None;
    let mut ds64_data: Option<u64> = None;
    for _ in 0..10_000 {
        let mut ch = [0u8; 8];
        let got = read_at(file, base + pos, &mut ch).map_err(io)?;
        if got < 8 {
            return Err(decode_err(
                path,
                if fmt.is_none() { "the WAV file has no fmt chunk" } else { "the WAV file has no data chunk" },
            ));
        }
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size32 = u32le(&ch, 4);
        let size = u64::from(size32);
        let body = pos + 8;
        match &id {
            b"ds64" if rf64 => {
                let mut d = [0u8; 24];
                if size < 24 || read_at(file, base + body, &mut d).map_err(io)? < 24 {
                    return Err(decode_err(path, "the RF64 ds64 chunk is truncated"));
                }
                ds64_data = Some(u64le(&d, 8));
            }
            b"fmt " => {
                if size < 16 {
                    return Err(decode_err(path, format!("the WAV fmt chunk is too short ({size} bytes)")));
                }
                let mut f = vec![0u8; size.min(64) as usize];
                if read_at(file, base + body, &mut f).map_err(io)? < f.len() {
                    return Err(decode_err(path, "the WAV fmt chunk is truncated"));
                }
                fmt = Some(f);
            }
            b"data" => {
                let Some(f) = fmt else {
                    return Err(decode_err(path, "the WAV data chunk comes before any fmt chunk"));
                };
                let data_len = match (rf64, size32) {
                    (true, u32::MAX) => ds64_data.ok_or_else(|| {
                        decode_err(path, "the RF64 data chunk's size is in a ds64 chunk, but there is none")
                    })?,
                    // A streaming writer (ffmpeg to a pipe): read to the end of the file.
                    (false, u32::MAX) => u64::MAX,
                    _ => size,
                };
                return wav_layout(path, &f, base, body, data_len, len);
            }
            _ => {}
        }
        if body + size > len {
            return Err(decode_err(
                path,
                format!(
                    "the WAV '{}' chunk claims {size} bytes but the file ends first (truncated or corrupt)",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        pos = body + size + (size & 1);
    }
    Err(decode_err(path, "too many chunks before the WAV data chunk"))
}

/// The WAVE format tag a fmt chunk stands for, with its sample container
/// width and valid bits.
fn wav_format(path: &str, f: &[u8]) -> Result<(u16, u64, u32)> {
    let tag = u16le(f, 0);
    let channels = u64::from(u16le(f, 2));
    let block_align = u64::from(u16le(f, 12));
    let bits = u64::from(u16le(f, 14));
    // The container width PCM fields imply: from bits, rounded up to whole bytes.
    let container = bits.div_ceil(8) * 8;
    let pcm_consistent =
        channels > 0 && matches!(container, 8 | 16 | 24 | 32) && block_align == channels * container / 8;
    let (tag, valid) = if tag == 0xFFFE {
        const KSDATAFORMAT_TAIL: [u8; 14] =
            [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
        const AMBISONIC_B_FORMAT_TAIL: [u8; 14] =
            [0x00, 0x00, 0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00];
        let valid = if f.len() >= 20 { u64::from(u16le(f, 18)) } else { 0 };
        let valid = if valid == 0 || valid > bits { bits } else { valid };
        let known = (f.len() >= 40).then(|| &f[24..40]).filter(|g| g[2..] == KSDATAFORMAT_TAIL || g[2..] == AMBISONIC_B_FORMAT_TAIL);
        match known {
            Some(g) => (u16le(g, 0), valid),
            // An unknown (or missing) sub-format GUID: accepted as integer PCM
            // when the PCM fields agree with each other, as lenient readers do.
            None if pcm_consistent => (0x0001, valid),
            None => {
                let guid = if f.len() >= 40 {
                    f[24..40].iter().map(|b| format!("{b:02x}")).collect::<String>()
                } else {
                    "missing".into()
                };
                return Err(unsupported(
                    path,
                    format!(
                        "WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID ({guid}) and PCM fields that do not \
                         agree ({channels} channels, {bits} bits, block align {block_align})"
                    ),
                ));
            }
        }
    } else {
        (tag, bits)
    };
    let (container, valid) = match tag {
        // Integer PCM, also with valid bits short of the container (12 or 20
        // bits in 16/24-bit containers).
        0x0001 if matches!(container, 8 | 16 | 24 | 32) => (container, valid.min(container)),
        0x0001 => {
            return Err(unsupported(path, format!("{bits}-bit integer PCM WAV (8 to 32 bits are supported)")))
        }
        0x0003 if matches!(bits, 32 | 64) => (bits, bits),
        0x0003 => return Err(unsupported(path, format!("{bits}-bit float WAV (32 and 64 bits are supported)"))),
        0x0006 | 0x0007 => (8, 8),
        other => {
            return Err(unsupported(
                path,
                format!(
                    "the WAV codec {} is not supported (PCM integer, IEEE float, A-law and µ-law are)",
                    wav_codec_name(other)
                ),
            ))
        }
    };
    Ok((tag, container, valid as u32))
}

fn wav_layout(path: &str, f: &[u8], base: u64, data_off: u64, data_len: u64, len: u64) -> Result<Layout> {
    let channels = u16le(f, 2);
    let rate = u32le(f, 4);
    if channels == 0 {
        return Err(Error::EmptyAudio { reason: format!("{path} declares 0 channels") });
    }
    let (tag, container, valid_bits) = wav_format(path, f)?;
    // symphonia's WAV reader positions at most 26 channels.
    if channels > 26 {
        return Err(unsupported(path, format!("{channels} channels in a WAV file (at most 26 are supported)")));
    }
    check_rate(path, rate)?;
    let bytes_per_frame = u64::from(channels) * container / 8;
    let available = len.saturating_sub(data_off);
    let streaming = data_len == u64::MAX;
    let used = data_len.min(available);
    let used = used - used % bytes_per_frame;
    let frames = used / bytes_per_frame;
    let declared = (!streaming).then_some(data_len / bytes_per_frame);

    // A canonical header: WAVE_FORMAT_PCM (16-byte fmt) or IEEE float /
    // A-law / µ-law (18 bytes, no extension), then the data chunk. Larger
    // than 4 GiB (RF64): the data size "unknown" (read to the end of the view).
    let mut fmt = Vec::with_capacity(18);
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    let block_align = u16::try_from(bytes_per_frame).unwrap_or(u16::MAX);
    fmt.extend_from_slice(&(rate.saturating_mul(u32::from(block_align))).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&(container as u16).to_le_bytes());
    if tag != 0x0001 {
        fmt.extend_from_slice(&0u16.to_le_bytes());
    }
    let data_size = u32::try_from(used).ok().filter(|&s| s < u32::MAX).unwrap_or(u32::MAX);
    let riff_size = if data_size == u32::MAX { u32::MAX } else { (4 + 8 + fmt.len() as u32 + 8).saturating_add(data_size) };
    let mut prefix = Vec::with_capacity(64);
    prefix.extend_from_slice(b"RIFF");
    prefix.extend_from_slice(&riff_size.to_le_bytes());
    prefix.extend_from_slice(b"WAVE");
    prefix.extend_from_slice(b"fmt ");
    prefix.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    prefix.extend_from_slice(&fmt);
    prefix.extend_from_slice(b"data");
    prefix.extend_from_slice(&data_size.to_le_bytes());
    let start = base + data_off;
    Ok(Layout {
        prefix,
        start,
        end: start + used,
        patches: Vec::new(),
        declared,
        present: Some(frames),
        bits: Some(valid_bits),
    })
}

// ---------------------------------------------------------------------------
// FLAC: resonode walks the metadata blocks and overlays two kinds of fix-up
// that lenient decoders apply: a STREAMINFO block size of 0 (or min > max)
// becomes the permitted range 16..65535 (every frame header states its own
// block size), and metadata blocks other than STREAMINFO (cue sheets,
// pictures, tags, seek tables; resonode uses none of them) are shown as
// padding, so a malformed one (e.g. a CD cue sheet whose offsets are not
// CD-aligned) cannot make the audio unreadable.

fn flac_layout(path: &str, file: &mut File, base: u64, file_len: u64) -> Result<Layout> {
    let io = |e: io::Error| io_error(path, "reading the FLAC header", &e);
    let mut layout = Layout::whole(base, file_len);
    let mut pos = 4u64;
    // Offset of STREAMINFO's block sizes when they need fixing.
    let mut fix_block_sizes = None;
    for _ in 0..1024 {
        let mut h = [0u8; 22];
        let got = read_at(file, base + pos, &mut h).map_err(io)?;
        if got < 4 {
            break;
        }
        let last = h[0] & 0x80 != 0;
        let kind = h[0] & 0x7F;
        let size = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
        if kind == 0 && got >= 22 {
            let min = u16::from_be_bytes([h[4], h[5]]);
            let max = u16::from_be_bytes([h[6], h[7]]);
            if min < 16 || max < 16 || max < min {
                fix_block_sizes = Some(pos + 4);
            }
            let rate = (u32::from(h[14]) << 12) | (u32::from(h[15]) << 4) | (u32::from(h[16]) >> 4);
            check_rate(path, rate)?;
        } else if kind != 0 && kind != 1 && kind != 127 {
            layout.patches.push((pos, vec![(h[0] & 0x80) | 1]));
        }
        pos += 4 + size;
        if last || pos >= file_len - base {
            break;
        }
    }
    if pos >= file_len - base {
        return Err(Error::EmptyAudio { reason: format!("{path} holds FLAC metadata but no audio frames") });
    }
    if let Some(at) = fix_block_sizes {
        // The first frame's header says whether the stream has a fixed block
        // size (sync code 0xFFF8) and which.
        let mut f = [0u8; 16];
        let got = read_at(file, base + pos, &mut f).map_err(io)?;
        let fixed = (got >= 4 && f[0] == 0xFF && f[1] == 0xF8).then(|| {
            let code = f[2] >> 4;
            // The UTF-8-style coded frame number follows the 4 header bytes.
            let utf8_len = match f[4] {
                b if b & 0x80 == 0 => 1,
                b => b.leading_ones() as usize,
            };
            let tail = 4 + utf8_len.min(7);
            match code {
                1 => Some(192u16),
                2..=5 => Some(576 << (code - 2)),
                6 => f.get(tail).map(|&b| u16::from(b) + 1),
                7 => f.get(tail..tail + 2).map(|b| u16::from_be_bytes([b[0], b[1]]).saturating_add(1)),
                8..=15 => Some(256 << (code - 8)),
                _ => None,
            }
        });
        let (min, max) = match fixed.flatten() {
            Some(n) if n >= 16 => (n, n),
            _ => (16, u16::MAX),
        };
        let mut b = min.to_be_bytes().to_vec();
        b.extend_from_slice(&max.to_be_bytes());
        layout.patches.push((at, b));
    }
    Ok(layout)
}

// ---------------------------------------------------------------------------
// AIFF / AIFF-C: resonode checks the sample rate and, when the sound data
// chunk runs past the end of the file (a truncated file), shows symphonia
// the chunk sizes and frame count of what is there.

fn u16be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn u32be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// An 80-bit IEEE extended float (AIFF's sample rate), rounded to Hz.
fn ext80_to_rate(b: &[u8]) -> u32 {
    let exp = i32::from(u16be(b, 0) & 0x7FFF);
    let mant = u64::from(u32be(b, 2)) << 32 | u64::from(u32be(b, 6));
    if b[0] & 0x80 != 0 || mant == 0 {
        return 0;
    }
    let shift = exp - 16383 - 63;
    let v = if shift >= 0 { (mant as f64) * 2f64.powi(shift.min(64)) } else { (mant as f64) / 2f64.powi((-shift).min(1100)) };
    if v >= f64::from(u32::MAX) { u32::MAX } else { v.round() as u32 }
}

fn aiff_layout(path: &str, file: &mut File, base: u64, file_len: u64) -> Result<Layout> {
    let io = |e: io::Error| io_error(path, "reading the AIFF header", &e);
    let mut layout = Layout::whole(base, file_len);
    let len = file_len - base;
    let mut hdr = [0u8; 12];
    if read_at(file, base, &mut hdr).map_err(io)? < 12 {
        return Err(decode_err(path, "the AIFF header is truncated"));
    }
    let aifc = &hdr[8..12] == b"AIFC";
    let mut pos = 12u64;
    // (offset of numSampleFrames, declared frames, bytes per frame)
    let mut comm: Option<(u64, u32, Option<u64>)> = None;
    for _ in 0..10_000 {
        let mut ch = [0u8; 8];
        if read_at(file, base + pos, &mut ch).map_err(io)? < 8 {
            break;
        }
        let size = u64::from(u32be(&ch, 4));
        let body = pos + 8;
        match &ch[..4] {
            b"COMM" => {
                let mut c = [0u8; 22];
                let got = read_at(file, base + body, &mut c).map_err(io)?;
                if got < 18 {
                    return Err(decode_err(path, "the AIFF COMM chunk is truncated"));
                }
                let channels = u64::from(u16be(&c, 0));
                let frames = u32be(&c, 2);
                let bits = u64::from(u16be(&c, 6));
                check_rate(path, ext80_to_rate(&c[8..18]))?;
                let compression = if aifc && got >= 22 { [c[18], c[19], c[20], c[21]] } else { *b"NONE" };
                let sample_bytes = match &compression {
                    b"NONE" | b"twos" | b"sowt" | b"raw " | b"in24" | b"in32" | b"42ni" => Some(bits.div_ceil(8)),
                    b"fl32" | b"FL32" => Some(4),
                    b"fl64" | b"FL64" => Some(8),
                    b"ulaw" | b"ULAW" | b"alaw" | b"ALAW" => Some(1),
                    _ => None,
                };
                comm = Some((body + 2, frames, sample_bytes.map(|b| b * channels).filter(|&b| b > 0)));
            }
            b"SSND" => {
                if body + size > len {
                    if let Some((frames_at, declared, Some(bpf))) = comm {
                        let mut o = [0u8; 4];
                        read_at(file, base + body, &mut o).map_err(io)?;
                        let offset = u64::from(u32be(&o, 0));
                        let data = len.saturating_sub(body + 8 + offset);
                        let present = (data / bpf).min(u64::from(declared));
                        let ssnd = 8 + offset + present * bpf;
                        layout.patches.push((body - 4, (ssnd as u32).to_be_bytes().to_vec()));
                        layout.patches.push((4, ((body + ssnd - 8) as u32).to_be_bytes().to_vec()));
                        layout.patches.push((frames_at, (present as u32).to_be_bytes().to_vec()));
                        layout.end = base + body + ssnd;
                        layout.declared = Some(u64::from(declared));
                        layout.present = Some(present);
                    }
                }
                break;
            }
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    Ok(layout)
}

// ---------------------------------------------------------------------------
// Ogg: a file cut inside its last page is shown to symphonia ending at the
// last complete page (its reader otherwise fails while reading the header).

fn ogg_layout(path: &str, file: &mut File, base: u64, file_len: u64) -> Result<Layout> {
    let io = |e: io::Error| io_error(path, "reading the Ogg pages", &e);
    let mut layout = Layout::whole(base, file_len);
    let tail_len = (file_len - base).min(128 * 1024);
    let tail_at = file_len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    let got = read_at(file, tail_at, &mut tail).map_err(io)?;
    tail.truncate(got);
    if let Some(i) = tail.windows(4).rposition(|w| w == b"OggS") {
        let page = &tail[i..];
        let complete = page.len() >= 27 && {
            let segs = usize::from(page[26]);
            page.len() >= 27 + segs && {
                let body: usize = page[27..27 + segs].iter().map(|&b| usize::from(b)).sum();
                page.len() >= 27 + segs + body
            }
        };
        if !complete && tail_at + i as u64 > base {
            layout.end = tail_at + i as u64;
        }
    }
    Ok(layout)
}

// ---------------------------------------------------------------------------
// Codec naming

fn codec_name(id: AudioCodecId) -> &'static str {
    use codec_ids::*;
    match id {
        CODEC_ID_PCM_U8 => "pcm_u8",
        CODEC_ID_PCM_S8 => "pcm_s8",
        CODEC_ID_PCM_S16LE => "pcm_s16le",
        CODEC_ID_PCM_S16BE => "pcm_s16be",
        CODEC_ID_PCM_S24LE => "pcm_s24le",
        CODEC_ID_PCM_S24BE => "pcm_s24be",
        CODEC_ID_PCM_S32LE => "pcm_s32le",
        CODEC_ID_PCM_S32BE => "pcm_s32be",
        CODEC_ID_PCM_U16LE => "pcm_u16le",
        CODEC_ID_PCM_U24LE => "pcm_u24le",
        CODEC_ID_PCM_U32LE => "pcm_u32le",
        CODEC_ID_PCM_F32LE => "pcm_f32le",
        CODEC_ID_PCM_F32BE => "pcm_f32be",
        CODEC_ID_PCM_F64LE => "pcm_f64le",
        CODEC_ID_PCM_F64BE => "pcm_f64be",
        CODEC_ID_PCM_ALAW => "pcm_alaw",
        CODEC_ID_PCM_MULAW => "pcm_mulaw",
        CODEC_ID_ADPCM_MS => "adpcm_ms",
        CODEC_ID_ADPCM_IMA_WAV => "adpcm_ima_wav",
        CODEC_ID_FLAC => "flac",
        CODEC_ID_MP1 => "mp1",
        CODEC_ID_MP2 => "mp2",
        CODEC_ID_MP3 => "mp3",
        CODEC_ID_VORBIS => "vorbis",
        CODEC_ID_OPUS => "opus",
        CODEC_ID_SPEEX => "speex",
        CODEC_ID_AAC => "aac",
        CODEC_ID_ALAC => "alac",
        _ => "unknown",
    }
}

fn sample_format_of(id: AudioCodecId) -> SampleFormat {
    use codec_ids::*;
    match id {
        CODEC_ID_PCM_F32LE | CODEC_ID_PCM_F32BE | CODEC_ID_PCM_F64LE | CODEC_ID_PCM_F64BE | CODEC_ID_MP1
        | CODEC_ID_MP2 | CODEC_ID_MP3 | CODEC_ID_VORBIS | CODEC_ID_OPUS | CODEC_ID_AAC => SampleFormat::Float,
        _ => SampleFormat::Int,
    }
}

fn bits_of(id: AudioCodecId, declared: Option<u32>) -> Option<u32> {
    use codec_ids::*;
    match id {
        CODEC_ID_PCM_F32LE | CODEC_ID_PCM_F32BE => Some(32),
        CODEC_ID_PCM_F64LE | CODEC_ID_PCM_F64BE => Some(64),
        CODEC_ID_PCM_ALAW | CODEC_ID_PCM_MULAW => Some(8),
        CODEC_ID_MP1 | CODEC_ID_MP2 | CODEC_ID_MP3 | CODEC_ID_VORBIS | CODEC_ID_OPUS | CODEC_ID_AAC => None,
        _ => declared.filter(|&b| b > 0),
    }
}

// ---------------------------------------------------------------------------
// The decoder

/// Where decoded frames are written: one mutable plane per channel.
pub(crate) trait PlanarMut {
    fn plane(&mut self, channel: usize) -> &mut [f32];
}

impl PlanarMut for AudioBuffer {
    fn plane(&mut self, channel: usize) -> &mut [f32] {
        self.channel_capacity_mut(channel)
    }
}

impl PlanarMut for Vec<Vec<f32>> {
    fn plane(&mut self, channel: usize) -> &mut [f32] {
        &mut self[channel]
    }
}

/// How file channels become output channels.
#[derive(Debug, Clone)]
pub(crate) enum ChannelMap {
    All(usize),
    Mono,
    Select(Vec<usize>),
}

impl ChannelMap {
    pub(crate) fn new(path: &str, sel: &ChannelSelection, file_channels: usize) -> Result<ChannelMap> {
        Ok(match sel {
            ChannelSelection::All => ChannelMap::All(file_channels),
            ChannelSelection::Mono => ChannelMap::Mono,
            ChannelSelection::Select(list) => {
                if list.is_empty() {
                    return Err(Error::param("channels", format!("{path}: the channel selection is empty")));
                }
                if let Some(&bad) = list.iter().find(|&&c| c >= file_channels) {
                    return Err(Error::param(
                        "channels",
                        format!("channel {bad} does not exist: {path} has {file_channels} channel(s), numbered from 0"),
                    ));
                }
                ChannelMap::Select(list.clone())
            }
        })
    }

    pub(crate) fn out_channels(&self) -> usize {
        match self {
            ChannelMap::All(n) => *n,
            ChannelMap::Mono => 1,
            ChannelMap::Select(l) => l.len(),
        }
    }
}

/// An opened file: the symphonia reader and decoder plus bookkeeping.
/// An opened file: the symphonia reader and decoder plus bookkeeping.
pub(crate) struct Decoder {
    path: String,
    reader: Box<dyn FormatReader>,
    codec: Codec,
    track_id: u32,
    channels: usize,
    /// Decoded interleaved samples not yet handed out.
    pend: Vec<f32>,
    pend_pos: usize,
    pend_frames: usize,
    /// Frames of silence to hand out before the rest of `pend`.
    silence: u64,
    /// Timestamp the next packet should have (for gap detection).
    next_ts: Option<i64>,
    /// Upper bound for timestamps trusted for gap concealment.
    max_ts: Option<i64>,
    eof: bool,
    deferred: Option<Error>,
    failed: Option<Error>,
    /// Frames handed to `pend` or `silence` so far.
    frames_decoded: u64,
    /// Frame count the header declares; compared with what decoded at the end.
    declared_frames: Option<u64>,
    /// Do not apply the demuxer's end trim (an MP3 whose header length is wrong).
    ignore_trim_end: bool,
    /// Warnings about the file (header claims that decoding contradicts).
    pub(crate) warnings: Vec<String>,
    consecutive_bad: u32,
    pub(crate) corrupt_packets: u64,
    pub(crate) concealed_frames: u64,
}

/// The codec decoding the packets: one of symphonia's, or Opus.
enum Codec {
    Sym(Box<dyn AudioDecoder>),
    Opus(Box<OpusCodec>),
}

/// Ogg Opus (RFC 7845) with the pure-Rust `opus-pure` crate, at 48 kHz.
struct OpusCodec {
    dec: OpusDec,
    channels: usize,
    /// Linear output gain from the OpusHead (Q7.8 dB).
    gain: f32,
    scratch: Vec<f32>,
}

enum OpusDec {
    Single(Box<opus_pure::OpusDecoder>),
    Multi(opus_pure::OpusMSDecoder),
}

/// The longest Opus packet: 120 ms at 48 kHz.
const OPUS_MAX_FRAMES: usize = 5760;

impl OpusCodec {
    /// Builds the decoder from an OpusHead (`extra`).
    fn new(path: &str, extra: &[u8]) -> Result<(OpusCodec, usize)> {
        if extra.len() < 19 || &extra[..8] != b"OpusHead" {
            return Err(decode_err(path, "the Opus stream has no valid OpusHead header"));
        }
        let channels = usize::from(extra[9]);
        let gain_q8 = i16::from_le_bytes([extra[16], extra[17]]);
        let family = extra[18];
        if channels == 0 {
            return Err(Error::EmptyAudio { reason: format!("{path} declares 0 channels") });
        }
        let bad = |e: opus_pure::Error| {
            unsupported(path, format!("Opus with {channels} channels in mapping family {family}: {e}"))
        };
        let dec = match family {
            0 => OpusDec::Single(Box::new(opus_pure::OpusDecoder::new(48_000, channels).map_err(bad)?)),
            // Family 1 (Vorbis channel order, up to 8 channels) has a fixed
            // stream layout, which the decoder builds itself.
            1 => OpusDec::Multi(opus_pure::OpusMSDecoder::new(48_000, channels, family).map_err(bad)?),
            other => {
                return Err(unsupported(path, format!("the Opus channel mapping family {other} is not supported")))
            }
        };
        let gain = 10f32.powf(f32::from(gain_q8) / 256.0 / 20.0);
        Ok((OpusCodec { dec, channels, gain, scratch: vec![0.0; OPUS_MAX_FRAMES * channels] }, channels))
    }

    /// Decodes one packet into `out` (interleaved); returns frames per channel.
    fn decode(&mut self, data: &[u8], out: &mut Vec<f32>) -> std::result::Result<usize, String> {
        let n = match &mut self.dec {
            OpusDec::Single(d) => d.decode(data, OPUS_MAX_FRAMES, &mut self.scratch),
            OpusDec::Multi(d) => d.decode(data, OPUS_MAX_FRAMES, &mut self.scratch),
        }
        .map_err(|e| e.to_string())?;
        let n = n.min(OPUS_MAX_FRAMES);
        out.clear();
        out.extend(self.scratch[..n * self.channels].iter().map(|&x| x * self.gain));
        Ok(n)
    }
}

pub(crate) struct Opened {
    pub(crate) decoder: Decoder,
    pub(crate) info: FileInfo,
}

/// How `open` settles the frame count.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Count the frames by reading every packet (no decoding) when the
    /// header's count is not exact, so `frames` is what decoding delivers.
    Exact,
    /// Read the header only: the format, rate and channels are exact, the
    /// frame count is whatever the header claims.
    Header,
}

/// Opens `path` for decoding and describes it.
pub(crate) fn open(path: &Path, count: Count) -> Result<Opened> {
    let shown = display(path);
    let p = shown.as_str();
    let meta = std::fs::metadata(path).map_err(|e| io_error(p, "cannot open", &e))?;
    if meta.is_dir() {
        return Err(Error::Io { path: shown, reason: "is a directory, not an audio file".into() });
    }
    if !meta.is_file() {
        return Err(Error::Io { path: shown, reason: "is not a regular file".into() });
    }
    let mut file = File::open(path).map_err(|e| io_error(p, "cannot open", &e))?;
    let file_len = meta.len();
    if file_len == 0 {
        return Err(Error::EmptyAudio { reason: format!("{shown} is empty (0 bytes)") });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let sniffed = sniff(p, &mut file, file_len, &ext)?;
    let container = sniffed.container;
    let layout = match container {
        Container::Wav | Container::Rf64 => scan_wav(p, &mut file, sniffed.base, file_len, container == Container::Rf64)?,
        Container::Flac => flac_layout(p, &mut file, sniffed.base, file_len)?,
        Container::Aiff => aiff_layout(p, &mut file, sniffed.base, file_len)?,
        Container::Ogg => ogg_layout(p, &mut file, sniffed.base, file_len)?,
        _ => Layout::whole(sniffed.base, file_len),
    };
    let (wav_declared, wav_present, wav_bits) = (layout.declared, layout.present, layout.bits);
    // A second view of the same bytes for counting packets.
    let count_view = match (count, wav_present) {
        (Count::Exact, None) => {
            let f2 = File::open(path).map_err(|e| io_error(p, "cannot open", &e))?;
            let l2 = Layout {
                prefix: layout.prefix.clone(),
                start: layout.start,
                end: layout.end,
                patches: layout.patches.clone(),
                declared: None,
                present: None,
                bits: None,
            };
            Some(FileView::new(f2, l2))
        }
        _ => None,
    };
    let complete = layout.end == file_len;
    let mp3_has_length_tag = container == Container::Mp3 && {
        let mut first = [0u8; 200];
        let n = read_at(&mut file, sniffed.base, &mut first).map_err(|e| io_error(p, "reading the MP3 header", &e))?;
        first[..n].windows(4).any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
    };
    let view = FileView::new(file, layout);
    let reader = match make_reader(p, container, view) {
        // An Ogg file of complete pages that ends before any audio packet.
        Err(Error::Decode { reason, .. }) if container == Container::Ogg && complete && reason.starts_with("unexpected end of file") => {
            return Err(Error::EmptyAudio { reason: format!("{shown} holds Ogg headers but no audio packets") })
        }
        r => r?,
    };

    let mut track = open_track(p, "file", container, reader)?;
    // Frames the header declares, and whether they are exact (PCM sizes).
    let declared = match container {
        Container::Wav | Container::Rf64 => wav_declared,
        // Without a Xing/Info/VBRI tag symphonia estimates the length from
        // the bitrate: an estimate, not a declaration.
        Container::Mp3 if !mp3_has_length_tag => None,
        _ => wav_declared.or(track.frames),
    };
    let mut warnings = Vec::new();
    let frames = if let Some(present) = wav_present {
        Some(present)
    } else if let Some(view) = count_view {
        let sums = count_packets(p, container, view, track.decoder.track_id)?;
        if container == Container::Mp3 {
            // symphonia's MP3 packets state their whole length and the
            // decoder trims them. The end trim comes from the Xing/VBRI
            // frame count (or a bitrate estimate): trusted only when it
            // matches the MPEG frames in the file, else not applied.
            let (delay, padding) = (u64::from(track.delay.unwrap_or(0)), u64::from(track.padding.unwrap_or(0)));
            let trusted = declared.is_some_and(|d| d + delay + padding == sums.dur);
            track.decoder.ignore_trim_end = !trusted;
            Some(sums.dur.saturating_sub(sums.trim_start).saturating_sub(if trusted { sums.trim_end } else { 0 }))
        } else {
            Some(sums.dur)
        }
    } else {
        None
    };
    if let (Some(d), Some(f)) = (declared, frames) {
        if d != f {
            warnings.push(length_warning(d, f));
        }
    }
    let mut info = track.info(container, frames, declared, warnings.clone());
    info.bits_per_sample = wav_bits.or(info.bits_per_sample);
    let mut decoder = track.decoder;
    // Timestamps past this are not trusted for gap concealment.
    decoder.max_ts = frames.map(|f| i64::try_from(f).unwrap_or(i64::MAX));
    decoder.declared_frames = declared;
    decoder.warnings = warnings;
    Ok(Opened { decoder, info })
}

/// The audio track of a header just read, with its decoder made: the set-up
/// [`open`] and [`stream_decode::StreamDecoder`] share.
struct OpenedTrack {
    /// Ready to decode; the caller settles what it knows of the length
    /// (`max_ts`, `declared_frames`, `ignore_trim_end`, `warnings`).
    decoder: Decoder,
    params: AudioCodecParameters,
    sample_rate: u32,
    /// The track's length, encoder delay and end padding as the demuxer
    /// states them.
    frames: Option<u64>,
    delay: Option<u32>,
    padding: Option<u32>,
}

/// Picks the audio track of `reader`, checks its channel count, makes its
/// decoder (Opus, or symphonia's) and settles the channel count and sample
/// rate. `p` names the input in messages, `what` says what it is (`"file"`,
/// `"stream"`).
fn open_track(p: &str, what: &str, container: Container, reader: Box<dyn FormatReader>) -> Result<OpenedTrack> {
    let track = reader
        .default_track(TrackType::Audio)
        .or_else(|| reader.first_track(TrackType::Audio))
        .ok_or_else(|| unsupported(p, format!("the {what} has no audio track")))?;
    let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
        return Err(unsupported(p, format!("the {what} has no audio track")));
    };
    let (track_id, frames, delay, padding) = (track.id, track.num_frames, track.delay, track.padding);
    let declared_channels = params.channels.as_ref().map(|c| c.count());
    if declared_channels == Some(0) {
        return Err(Error::EmptyAudio { reason: format!("{p} declares 0 channels") });
    }
    if let Some(n) = declared_channels.filter(|&n| n > MAX_CHANNELS) {
        return Err(unsupported(p, format!("{n} channels (at most {MAX_CHANNELS} are supported)")));
    }
    let is_opus = params.codec == codec_ids::CODEC_ID_OPUS;
    let (codec, codec_channels, codec_rate) = if is_opus {
        let extra = params.extra_data.as_deref().unwrap_or(&[]);
        let (c, ch) = guard(p, "creating the decoder", || OpusCodec::new(p, extra))??;
        (Codec::Opus(Box::new(c)), Some(ch), Some(48_000))
    } else {
        let decoder = guard(p, "creating the decoder", || {
            symphonia::default::get_codecs().make_audio_decoder(&params, &AudioDecoderOptions::default())
        })?
        .map_err(|e| match e {
            SymError::Unsupported(_) => unsupported(
                p,
                format!("the {} codec '{}' is not supported", container.name(), codec_label_or_id(params.codec)),
            ),
            e => map_sym(p, "creating the decoder", e),
        })?;
        let ch = decoder.codec_params().channels.as_ref().map(|c| c.count());
        let rate = decoder.codec_params().sample_rate;
        (Codec::Sym(decoder), ch, rate)
    };
    let channels = declared_channels
        .or(codec_channels)
        .ok_or_else(|| decode_err(p, "the header does not say how many channels there are"))?;
    if channels == 0 {
        return Err(Error::EmptyAudio { reason: format!("{p} declares 0 channels") });
    }
    let sample_rate = if is_opus { codec_rate } else { params.sample_rate.or(codec_rate) }
        .ok_or_else(|| decode_err(p, "the header declares no sample rate"))?;
    let sample_rate = check_rate(p, sample_rate)?;
    let decoder = Decoder {
        path: p.to_string(),
        reader,
        codec,
        track_id,
        channels,
        pend: Vec::new(),
        pend_pos: 0,
        pend_frames: 0,
        silence: 0,
        next_ts: None,
        max_ts: None,
        eof: false,
        deferred: None,
        failed: None,
        frames_decoded: 0,
        declared_frames: None,
        ignore_trim_end: false,
        warnings: Vec::new(),
        consecutive_bad: 0,
        corrupt_packets: 0,
        concealed_frames: 0,
    };
    Ok(OpenedTrack { decoder, params, sample_rate, frames, delay, padding })
}

impl OpenedTrack {
    /// The track as [`FileInfo`], with what the caller knows of its length.
    fn info(
        &self,
        container: Container,
        frames: Option<u64>,
        declared: Option<u64>,
        warnings: Vec<String>,
    ) -> FileInfo {
        FileInfo {
            path: self.decoder.path.clone(),
            format: container.name().to_string(),
            codec: codec_name(self.params.codec).to_string(),
            sample_rate: self.sample_rate,
            channels: self.decoder.channels,
            frames,
            declared_frames: declared,
            warnings,
            bits_per_sample: bits_of(self.params.codec, self.params.bits_per_sample),
            sample_format: sample_format_of(self.params.codec),
        }
    }
}

fn codec_label_or_id(id: AudioCodecId) -> String {
    match codec_name(id) {
        "unknown" => format!("codec id {id:?}"),
        name => name.to_string(),
    }
}

fn make_reader(p: &str, container: Container, view: FileView) -> Result<Box<dyn FormatReader>> {
    let mss = MediaSourceStream::new(Box::new(view), MediaSourceStreamOptions::default());
    read_header(p, container, mss)?.map_err(|e| map_sym(p, "reading the header", e))
}

/// symphonia's reader for `container` over `mss`, once it has read the
/// header (a panic in it is [`Error::Decode`]; its own error is left to
/// the caller).
fn read_header(
    p: &str,
    container: Container,
    mss: MediaSourceStream<'static>,
) -> Result<std::result::Result<Box<dyn FormatReader>, SymError>> {
    let opts = FormatOptions::default();
    guard(p, "reading the header", move || -> std::result::Result<_, SymError> {
        Ok(match container {
            Container::Wav | Container::Rf64 => Box::new(WavReader::try_new(mss, opts)?) as Box<dyn FormatReader>,
            Container::Aiff => Box::new(AiffReader::try_new(mss, opts)?),
            Container::Caf => Box::new(CafReader::try_new(mss, opts)?),
            Container::Mp4 => Box::new(IsoMp4Reader::try_new(mss, opts)?),
            Container::Flac => Box::new(FlacReader::try_new(mss, opts)?),
            Container::Mp3 => Box::new(MpaReader::try_new(mss, opts)?),
            Container::Ogg => Box::new(OggReader::try_new(mss, opts)?),
        })
    })
}

/// Sums over the packets of one track, read without decoding.
#[derive(Default)]
struct PacketSums {
    /// Packet durations as the demuxer states them.
    dur: u64,
    trim_start: u64,
    trim_end: u64,
}

/// Reads every packet of `track_id` without decoding it and sums their
/// durations and trims (what [`Decoder`] delivers follows from them: a
/// packet that fails to decode is replaced by silence of its duration).
/// Stops quietly at damage the decoder would stop at too.
fn count_packets(p: &str, container: Container, view: FileView, track_id: u32) -> Result<PacketSums> {
    let mut reader = make_reader(p, container, view)?;
    let mut sums = PacketSums::default();
    let mut bad = 0u32;
    loop {
        let packet = guard(p, "counting packets", || reader.next_packet())?;
        match packet {
            Ok(Some(pk)) => {
                bad = 0;
                if pk.track_id == track_id {
                    sums.dur = sums.dur.saturating_add(pk.dur.get());
                    sums.trim_start = sums.trim_start.saturating_add(pk.trim_start.get());
                    sums.trim_end = sums.trim_end.saturating_add(pk.trim_end.get());
                }
            }
            Ok(None) => break,
            Err(SymError::DecodeError(_)) => {
                bad += 1;
                if bad > MAX_CONSECUTIVE_BAD_PACKETS {
                    break;
                }
            }
            Err(SymError::IoError(e)) if e.raw_os_error().is_some() => {
                return Err(io_error(p, "counting packets", &e));
            }
            Err(_) => break,
        }
    }
    Ok(sums)
}

impl Decoder {
    /// Counts a packet that failed to decode; errors once too many fail in a row.
    fn bad_packet(&mut self, why: &str) -> Result<()> {
        self.corrupt_packets += 1;
        self.consecutive_bad += 1;
        if self.consecutive_bad > MAX_CONSECUTIVE_BAD_PACKETS {
            return Err(decode_err(
                &self.path,
                format!(
                    "{MAX_CONSECUTIVE_BAD_PACKETS} consecutive packets are corrupt (last: {why}); \
                     {} frames were decoded before",
                    self.frames_decoded
                ),
            ));
        }
        Ok(())
    }

    /// Queues `frames` frames of silence in place of lost audio.
    fn conceal(&mut self, frames: u64) {
        self.silence += frames;
        self.frames_decoded += frames;
        self.concealed_frames += frames;
    }

    /// Checks a packet's timestamp against the end of the previous one. A
    /// forward jump means the demuxer dropped damaged data (FLAC frames with
    /// bad CRCs, Ogg pages with bad checksums): the gap is filled with silence
    /// so the rest of the file keeps its timing.
    fn check_gap(&mut self, pts: i64, end: i64) {
        if let Some(expected) = self.next_ts {
            let gap = pts.saturating_sub(expected);
            let plausible = self.max_ts.is_none_or(|m| pts <= m);
            if gap > 0 && gap <= MAX_GAP_FRAMES && plausible {
                self.corrupt_packets += 1;
                self.conceal(gap as u64);
            }
        }
        self.next_ts = Some(end);
    }

    /// Decodes one packet into `pend`; `Ok(Ok(frames))`, `Ok(Err(channels))`
    /// when the channel count changed, or the codec's error.
    fn decode_packet(&mut self, packet: &Packet) -> Result<std::result::Result<std::result::Result<usize, usize>, SymError>> {
        let path = self.path.clone();
        let channels = self.channels;
        let pend = &mut self.pend;
        let out = match &mut self.codec {
            Codec::Sym(decoder) => guard(&path, "decoding a packet", || match decoder.decode(packet) {
                Ok(buf) => {
                    let got = buf.spec().channels().count();
                    if got != channels {
                        return Ok(Err(got));
                    }
                    buf.copy_to_vec_interleaved::<f32>(pend);
                    Ok(Ok(buf.frames()))
                }
                Err(e) => Err(e),
            })?,
            Codec::Opus(opus) => guard(&path, "decoding a packet", || match opus.decode(&packet.data, pend) {
                Ok(n) => Ok(Ok(n)),
                Err(msg) => Err(SymError::DecodeError(if msg.contains("invalid") { "invalid Opus packet" } else { "Opus decoding failed" })),
            })?,
        };
        // Trim encoder delay and padding when the codec did not (symphonia's
        // MP3 and Vorbis decoders do; AAC, ALAC and Opus here do not).
        if let Ok(Ok(frames)) = out {
            let (ts, te) = (packet.trim_start.get(), packet.trim_end.get());
            let dur = packet.dur.get();
            if ts + te > 0 && frames as u64 == ts + dur + te {
                let (ts, te) = (ts as usize, te as usize);
                let keep = frames - ts - te;
                self.pend.drain(..ts * channels);
                self.pend.truncate(keep * channels);
                return Ok(Ok(Ok(keep)));
            }
            // A codec that always outputs whole blocks (AAC) where the
            // container's sample table gives the last packet a shorter
            // duration: keep the stated duration.
            if ts + te == 0 && dur > 0 && frames as u64 > dur {
                self.pend.truncate(dur as usize * channels);
                return Ok(Ok(Ok(dur as usize)));
            }
        }
        Ok(out)
    }

    /// Decodes the next packet into `pend` (and/or queues silence).
    /// `Ok(false)` at the end of the stream.
    fn decode_more(&mut self) -> Result<bool> {
        let path = self.path.clone();
        loop {
            let packet = guard(&path, "reading a packet", || self.reader.next_packet())?;
            let packet = match packet {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(SymError::DecodeError(msg)) => {
                    self.bad_packet(msg)?;
                    continue;
                }
                Err(e) => return Err(map_sym(&path, "reading a packet", e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let mut packet = packet;
            if self.ignore_trim_end {
                packet.trim_end = Duration::ZERO;
            }
            let pts = packet.pts.get();
            let end = pts
                .saturating_add(packet.trim_start.get().min(i64::MAX as u64) as i64)
                .saturating_add(packet.dur.get().min(i64::MAX as u64) as i64)
                .saturating_add(packet.trim_end.get().min(i64::MAX as u64) as i64);
            self.check_gap(pts, end);
            let channels = self.channels;
            match self.decode_packet(&packet)? {
                Ok(Ok(frames)) => {
                    self.consecutive_bad = 0;
                    self.pend_pos = 0;
                    self.pend_frames = frames;
                    self.frames_decoded += frames as u64;
                }
                Ok(Err(got)) => {
                    return Err(decode_err(
                        &path,
                        format!("the channel count changes mid-stream (from {channels} to {got})"),
                    ))
                }
                Err(SymError::DecodeError(msg)) => {
                    self.bad_packet(msg)?;
                    // Conceal with silence of the packet's length so the
                    // timing of everything after it is kept.
                    self.pend_pos = 0;
                    self.pend_frames = 0;
                    self.conceal(packet.dur.get().min(MAX_CONCEALED_FRAMES_PER_PACKET));
                }
                // A decoder reads an in-memory packet: any "io" error it
                // reports (e.g. "unexpected end of bitstream") is bad data.
                Err(SymError::IoError(e)) if e.raw_os_error().is_none() => {
                    self.bad_packet(&e.to_string())?;
                    self.pend_pos = 0;
                    self.pend_frames = 0;
                    self.conceal(packet.dur.get().min(MAX_CONCEALED_FRAMES_PER_PACKET));
                }
                Err(e) => return Err(map_sym(&path, "decoding a packet", e)),
            }
            if self.silence > 0 || self.pend_frames > 0 {
                return Ok(true);
            }
        }
    }

    /// At the end of the stream: a header length that decoding contradicts
    /// becomes a warning (every frame that decoded was delivered).
    fn end_check(&mut self) {
        if let Some(declared) = self.declared_frames {
            if declared != self.frames_decoded {
                let w = length_warning(declared, self.frames_decoded);
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
            }
        }
    }

    /// Writes up to `frames` frames, mapped by `map`, into `dst` starting at
    /// frame `offset`. Returns the number written; 0 means the end. An error
    /// met while decoding is reported only once every frame decoded before it
    /// has been handed out.
    pub(crate) fn fill(
        &mut self,
        map: &ChannelMap,
        dst: &mut dyn PlanarMut,
        offset: usize,
        frames: usize,
    ) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut n = 0;
        let ch = self.channels;
        while n < frames {
            if self.silence > 0 {
                let take = self.silence.min((frames - n) as u64) as usize;
                let at = offset + n;
                for c in 0..map.out_channels() {
                    dst.plane(c)[at..at + take].fill(0.0);
                }
                self.silence -= take as u64;
                n += take;
                continue;
            }
            if self.pend_pos < self.pend_frames {
                let take = (self.pend_frames - self.pend_pos).min(frames - n);
                let src = &self.pend[self.pend_pos * ch..(self.pend_pos + take) * ch];
                let at = offset + n;
                match map {
                    ChannelMap::All(_) => {
                        for c in 0..ch {
                            let d = &mut dst.plane(c)[at..at + take];
                            for (o, frame) in d.iter_mut().zip(src.chunks_exact(ch)) {
                                *o = frame[c];
                            }
                        }
                    }
                    ChannelMap::Select(list) => {
                        for (c, &from) in list.iter().enumerate() {
                            let d = &mut dst.plane(c)[at..at + take];
                            for (o, frame) in d.iter_mut().zip(src.chunks_exact(ch)) {
                                *o = frame[from];
                            }
                        }
                    }
                    ChannelMap::Mono => {
                        let scale = 1.0 / ch as f32;
                        let d = &mut dst.plane(0)[at..at + take];
                        for (o, frame) in d.iter_mut().zip(src.chunks_exact(ch)) {
                            *o = frame.iter().sum::<f32>() * scale;
                        }
                    }
                }
                self.pend_pos += take;
                n += take;
                continue;
            }
            if self.eof {
                break;
            }
            match self.decode_more() {
                Ok(true) => {}
                Ok(false) => {
                    self.eof = true;
                    self.end_check();
                }
                Err(e) => {
                    self.eof = true;
                    self.deferred = Some(e);
                }
            }
        }
        if n == 0 {
            if let Some(e) = self.deferred.take() {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg_header_lengths_match_the_standard_formula() {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz, no padding: 417 bytes.
        assert_eq!(mpeg_frame(&[0xFF, 0xFB, 0x90, 0x00]), Some((417, 3)));
        // Same with padding: 418.
        assert_eq!(mpeg_frame(&[0xFF, 0xFB, 0x92, 0x00]), Some((418, 3)));
        // Reserved bitrate index and sample rate are rejected.
        assert_eq!(mpeg_frame(&[0xFF, 0xFB, 0xF0, 0x00]), None);
        assert_eq!(mpeg_frame(&[0xFF, 0xFB, 0x9C, 0x00]), None);
        // Not a sync word.
        assert_eq!(mpeg_frame(&[0xFF, 0x1B, 0x90, 0x00]), None);
    }

    #[test]
    fn wav_codec_names_name_the_tag() {
        assert_eq!(wav_codec_name(0x0002), "Microsoft ADPCM (format tag 0x0002)");
        assert_eq!(wav_codec_name(0x0055), "MPEG layer 3 (MP3) (format tag 0x0055)");
        assert_eq!(wav_codec_name(0x1234), "unknown codec (format tag 0x1234)");
    }
}
