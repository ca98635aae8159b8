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
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::{FlacReader, MpaReader, OggReader, WavReader};

use crate::{ChannelSelection, FileInfo, SampleFormat};

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
    Flac,
    Mp3,
    Ogg,
}

impl Container {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Flac => "flac",
            Container::Mp3 => "mp3",
            Container::Ogg => "ogg",
        }
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
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        decode_err(path, format!("the decoder failed on malformed data while {what} ({msg})"))
    })
}

// ---------------------------------------------------------------------------
// A byte view of the file: starts at `base` (after ID3v2 tags) and can
// overlay a few patched bytes (the sizes of a truncated WAV's chunks).

struct FileView {
    file: File,
    base: u64,
    len: u64,
    pos: u64,
    file_pos: Option<u64>,
    patches: Vec<(u64, [u8; 4])>,
}

impl FileView {
    fn new(file: File, base: u64, file_len: u64, patches: Vec<(u64, [u8; 4])>) -> Self {
        FileView { file, base, len: file_len.saturating_sub(base), pos: 0, file_pos: None, patches }
    }
}

impl Read for FileView {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - self.pos) as usize;
        let abs = self.base + self.pos;
        if self.file_pos != Some(abs) {
            self.file.seek(SeekFrom::Start(abs))?;
        }
        let n = match self.file.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => {
                self.file_pos = None;
                return Err(e);
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
        self.file_pos = Some(abs + n as u64);
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
    if starts(b"RF64") || starts(b"BW64") {
        return Err(unsupported(path, "RF64/BW64 (64-bit WAV) is not supported"));
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
    if starts(b"FORM") {
        return Err(unsupported(path, "AIFF/IFF files are not supported (WAV, FLAC, MP3, Ogg Vorbis are)"));
    }
    if n >= 8 && &head[4..8] == b"ftyp" {
        return Err(unsupported(path, "MP4/M4A files are not supported (WAV, FLAC, MP3, Ogg Vorbis are)"));
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Err(unsupported(path, "Matroska/WebM files are not supported (WAV, FLAC, MP3, Ogg Vorbis are)"));
    }
    if starts(b"wvpk") || starts(b"MAC ") || starts(b"caff") || starts(b".snd") {
        return Err(unsupported(
            path,
            format!(
                "'{}' files are not supported (WAV, FLAC, MP3, Ogg Vorbis are)",
                String::from_utf8_lossy(&head[..4])
            ),
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
    const MAGICS: [&[u8]; 4] = [b"RIFF", b"fLaC", b"OggS", b"ID3"];
    if n < 12 && MAGICS.iter().any(|m| m.starts_with(head) || head.starts_with(m)) {
        return Err(decode_err(path, format!("the file is truncated ({file_len} bytes, too short for a header)")));
    }
    Err(unsupported(path, "not a recognised audio file (expected WAV, FLAC, MP3 or Ogg Vorbis)"))
}

// ---------------------------------------------------------------------------
// WAV header check

/// What resonode's own walk over a WAV's RIFF chunks found.
struct WavScan {
    /// Bytes to overlay so symphonia sees a consistent, shorter file.
    patches: Vec<(u64, [u8; 4])>,
    /// `(declared, present)` frames when the data chunk runs past the end.
    truncation: Option<(u64, u64)>,
    /// Frames in the data chunk (after any truncation).
    frames: u64,
}

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

fn scan_wav(path: &str, file: &mut File, base: u64, file_len: u64) -> Result<WavScan> {
    let io = |e: io::Error| io_error(path, "reading the WAV header", &e);
    let len = file_len - base;
    let mut hdr = [0u8; 12];
    if read_at(file, base, &mut hdr).map_err(io)? < 12 {
        return Err(decode_err(path, "the WAV header is truncated"));
    }
    let riff_len = u32le(&hdr, 4);
    let mut pos = 12u64;
    let mut fmt: Option<Vec<u8>> = None;
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
        let size = u64::from(u32le(&ch, 4));
        let body = pos + 8;
        match &id {
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
                return check_wav_fmt(path, &f, riff_len, body, size, len);
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

fn check_wav_fmt(path: &str, f: &[u8], riff_len: u32, data_off: u64, data_len: u64, len: u64) -> Result<WavScan> {
    let mut tag = u16le(f, 0);
    let channels = u16le(f, 2) as usize;
    let rate = u32le(f, 4);
    let bits = u16le(f, 14) as u64;
    if tag == 0xFFFE {
        if f.len() < 40 {
            return Err(decode_err(path, "the WAVE_FORMAT_EXTENSIBLE fmt chunk is too short"));
        }
        let guid = &f[24..40];
        const KSDATAFORMAT_TAIL: [u8; 14] =
            [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
        const AMBISONIC_B_FORMAT_TAIL: [u8; 14] =
            [0x00, 0x00, 0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00];
        if guid[2..] != KSDATAFORMAT_TAIL && guid[2..] != AMBISONIC_B_FORMAT_TAIL {
            return Err(unsupported(path, "WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID"));
        }
        tag = u16le(guid, 0);
    }
    let bytes_per_frame = match tag {
        0x0001 if matches!(bits, 8 | 16 | 24 | 32) => bits / 8 * channels as u64,
        0x0001 => {
            return Err(unsupported(path, format!("{bits}-bit integer PCM WAV (8, 16, 24 and 32 bits are supported)")))
        }
        0x0003 if matches!(bits, 32 | 64) => bits / 8 * channels as u64,
        0x0003 => return Err(unsupported(path, format!("{bits}-bit float WAV (32 and 64 bits are supported)"))),
        0x0006 | 0x0007 => channels as u64,
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
    if channels == 0 {
        return Err(Error::EmptyAudio { reason: format!("{path} declares 0 channels") });
    }
    if channels > MAX_CHANNELS {
        return Err(unsupported(path, format!("{channels} channels (at most {MAX_CHANNELS} are supported)")));
    }
    if rate == 0 {
        return Err(decode_err(path, "the WAV header declares a sample rate of 0 Hz"));
    }
    let available = len.saturating_sub(data_off);
    let mut patches = Vec::new();
    let mut truncation = None;
    let mut data_len_used = data_len;
    // 0xFFFFFFFF is what streaming writers (ffmpeg to a pipe) put in when the
    // length is unknown: read to the end of the file without complaint.
    let streaming = data_len == u64::from(u32::MAX);
    if data_len > available {
        data_len_used = available - available % bytes_per_frame;
        if !streaming {
            truncation = Some((data_len / bytes_per_frame, available / bytes_per_frame));
        }
        patches.push((data_off - 4, (data_len_used as u32).to_le_bytes()));
    }
    // Keep the RIFF size consistent with the (possibly shortened) data chunk
    // so the chunk walker does not reject it.
    let needed_riff = data_off + data_len_used - 8;
    if u64::from(riff_len) < needed_riff || !patches.is_empty() {
        let riff = u32::try_from(needed_riff).unwrap_or(u32::MAX);
        patches.push((4, riff.to_le_bytes()));
    }
    Ok(WavScan { patches, truncation, frames: data_len_used / bytes_per_frame })
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
        _ => declared,
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
pub(crate) struct Decoder {
    path: String,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
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
    /// Frame count the file declares exactly (FLAC STREAMINFO); checked at the end.
    exact_frames: Option<u64>,
    truncation: Option<(u64, u64)>,
    consecutive_bad: u32,
    pub(crate) corrupt_packets: u64,
    pub(crate) concealed_frames: u64,
}

pub(crate) struct Opened {
    pub(crate) decoder: Decoder,
    pub(crate) info: FileInfo,
}

/// Opens `path` for decoding and describes it.
pub(crate) fn open(path: &Path) -> Result<Opened> {
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
        return Err(decode_err(p, "the file is empty (0 bytes)"));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let sniffed = sniff(p, &mut file, file_len, &ext)?;
    let (patches, truncation, wav_frames) = if sniffed.container == Container::Wav {
        let scan = scan_wav(p, &mut file, sniffed.base, file_len)?;
        (scan.patches, scan.truncation, Some(scan.frames))
    } else {
        (Vec::new(), None, None)
    };
    let view = FileView::new(file, sniffed.base, file_len, patches);
    let mss = MediaSourceStream::new(Box::new(view), MediaSourceStreamOptions::default());
    let opts = FormatOptions::default();
    let container = sniffed.container;
    let reader: Box<dyn FormatReader> = guard(p, "reading the header", move || -> std::result::Result<_, SymError> {
        Ok(match container {
            Container::Wav => Box::new(WavReader::try_new(mss, opts)?) as Box<dyn FormatReader>,
            Container::Flac => Box::new(FlacReader::try_new(mss, opts)?),
            Container::Mp3 => Box::new(MpaReader::try_new(mss, opts)?),
            Container::Ogg => Box::new(OggReader::try_new(mss, opts)?),
        })
    })?
    .map_err(|e| map_sym(p, "reading the header", e))?;

    let track = reader
        .default_track(TrackType::Audio)
        .or_else(|| reader.first_track(TrackType::Audio))
        .ok_or_else(|| unsupported(p, "the file has no audio track"))?;
    let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
        return Err(unsupported(p, "the file has no audio track"));
    };
    let track_id = track.id;
    let track_frames = track.num_frames;
    let codec = codec_name(params.codec);
    let declared_channels = params.channels.as_ref().map(|c| c.count());
    if declared_channels == Some(0) {
        return Err(Error::EmptyAudio { reason: format!("{shown} declares 0 channels") });
    }
    if let Some(n) = declared_channels.filter(|&n| n > MAX_CHANNELS) {
        return Err(unsupported(p, format!("{n} channels (at most {MAX_CHANNELS} are supported)")));
    }
    let decoder = guard(p, "creating the decoder", || {
        symphonia::default::get_codecs().make_audio_decoder(&params, &AudioDecoderOptions::default())
    })?
    .map_err(|e| match e {
        SymError::Unsupported(_) => {
            unsupported(p, format!("the {} codec '{codec}' is not supported", container.name()))
        }
        e => map_sym(p, "creating the decoder", e),
    })?;
    let channels = declared_channels
        .or_else(|| decoder.codec_params().channels.as_ref().map(|c| c.count()))
        .ok_or_else(|| decode_err(p, "the header does not say how many channels there are"))?;
    if channels == 0 {
        return Err(Error::EmptyAudio { reason: format!("{shown} declares 0 channels") });
    }
    let sample_rate = params
        .sample_rate
        .or(decoder.codec_params().sample_rate)
        .filter(|&r| r > 0)
        .ok_or_else(|| decode_err(p, "the header declares no (or a 0 Hz) sample rate"))?;
    let frames = match container {
        Container::Wav => wav_frames,
        _ => track_frames,
    };
    let exact_frames = match container {
        Container::Flac => track_frames.filter(|&n| n > 0),
        _ => None,
    };
    // Timestamps past this are not trusted for gap concealment.
    let max_ts = exact_frames.or(frames).map(|f| i64::try_from(f).unwrap_or(i64::MAX));
    let info = FileInfo {
        path: shown.clone(),
        format: container.name().to_string(),
        codec: codec.to_string(),
        sample_rate,
        channels,
        frames,
        bits_per_sample: bits_of(params.codec, params.bits_per_sample),
        sample_format: sample_format_of(params.codec),
    };
    Ok(Opened {
        decoder: Decoder {
            path: shown,
            reader,
            decoder,
            track_id,
            channels,
            pend: Vec::new(),
            pend_pos: 0,
            pend_frames: 0,
            silence: 0,
            next_ts: None,
            max_ts,
            eof: false,
            deferred: None,
            failed: None,
            frames_decoded: 0,
            exact_frames,
            truncation,
            consecutive_bad: 0,
            corrupt_packets: 0,
            concealed_frames: 0,
        },
        info,
    })
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
            let pts = packet.pts.get();
            let end = pts
                .saturating_add(packet.trim_start.get().min(i64::MAX as u64) as i64)
                .saturating_add(packet.dur.get().min(i64::MAX as u64) as i64)
                .saturating_add(packet.trim_end.get().min(i64::MAX as u64) as i64);
            self.check_gap(pts, end);
            let channels = self.channels;
            let pend = &mut self.pend;
            let decoded = guard(&path, "decoding a packet", || match self.decoder.decode(&packet) {
                Ok(buf) => {
                    let got = buf.spec().channels().count();
                    if got != channels {
                        return Ok(Err(got));
                    }
                    buf.copy_to_vec_interleaved::<f32>(pend);
                    Ok(Ok(buf.frames()))
                }
                Err(e) => Err(e),
            })?;
            match decoded {
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

    /// The error to report once the stream has ended, if it ended early.
    fn end_check(&self) -> Option<Error> {
        if let Some((declared, present)) = self.truncation {
            return Some(decode_err(
                &self.path,
                format!(
                    "the file is truncated: its header declares {declared} frames but only {present} are present \
                     (all {present} were delivered)"
                ),
            ));
        }
        if let Some(exact) = self.exact_frames {
            if self.frames_decoded < exact {
                return Some(decode_err(
                    &self.path,
                    format!(
                        "the file ends early (truncated or damaged at the end): its header declares {exact} frames \
                         but only {} could be decoded (all of them were delivered)",
                        self.frames_decoded
                    ),
                ));
            }
        }
        None
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
                    self.deferred = self.end_check();
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
