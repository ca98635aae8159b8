//! [`StreamDecoder`]: the file decoder of [`super`] over bytes that arrive
//! through a [`Read`] and cannot be sought (an HTTP body, a socket), wrapped
//! in symphonia's unseekable `ReadOnlySource`.
//!
//! A child module of `decode` so it reuses the same symphonia readers,
//! codec set, Opus decoder, packet concealment and trimming as
//! [`crate::FileSource`]; only the parts that need a seekable file differ:
//! the container is recognised from the first bytes (nothing is rewound:
//! the peeked bytes are put back in front of the stream), headers are taken
//! as symphonia reads them (no repair of odd WAV chunks), and lengths are
//! not counted ahead.

use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use resonode_core::{AudioBuffer, Error, Result, Source};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatReader;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadOnlySource};

use super::{
    decode_err, map_sym, mpeg_starts_at, open_track, read_header, unsupported, ChannelMap, Container, Decoder, KNOWN,
};
use crate::FileInfo;

/// Bytes looked at to recognise the container: the magic numbers, or a
/// whole MPEG frame (at most 2881 bytes) and the next frame's header.
const PEEK: usize = 4096;

/// ID3v2 tags skipped in front of MP3 audio, at most (as for files).
const MAX_ID3_TAGS: usize = 8;

/// Decodes an encoded audio stream read through [`Read`] as it arrives, at
/// constant memory (one packet plus symphonia's read-ahead buffer), as a
/// [`Source`] of planar `f32` (channels x frames) at the stream's rate.
///
/// Formats (recognised from the first bytes, as [`crate::probe`] does):
/// WAV and RF64/BW64 (PCM, float, A-law, µ-law; a data size of
/// `0xFFFFFFFF`, as ffmpeg writes to pipes, means "until the end"), FLAC,
/// MP3 (after any ID3v2 tags), Ogg Vorbis / Opus / FLAC, AIFF/AIFF-C, CAF,
/// and MP4/M4A only when "fast-start" (the `moov` box before `mdat`: an
/// unseekable reader cannot come back for a `moov` at the end). Samples are
/// exactly what [`crate::FileSource`] delivers for the same bytes as a file
/// (same decoders, same encoder-delay trimming; an MP3's end padding is
/// trimmed when a Xing/Info/VBRI tag gives the length, which the stream
/// cannot check ahead as the file reader does by counting frames).
///
/// # Errors
/// - [`Error::EmptyAudio`]: the stream ends before any byte, or the header
///   declares 0 channels.
/// - [`Error::UnsupportedFormat`]: not a format above (e.g. random bytes),
///   or a codec resonode does not decode (the message names it).
/// - [`Error::Decode`]: a damaged header or undecodable data; a stream that
///   ends before the length its header declares (a truncated upload: every
///   frame that decoded is delivered first, then this error); 64 corrupt
///   packets in a row (fewer are concealed with silence, as for files).
/// - [`Error::Io`]: the underlying reader failed (a read error that is not
///   the end of the stream).
///
/// No input makes it panic: panics in the decoder library become `Decode`.
///
/// # Real-time safety
/// Blocks on the reader and allocates: run it on a worker thread.
pub struct StreamDecoder {
    dec: Decoder,
    map: ChannelMap,
    info: FileInfo,
    truncated: Option<Error>,
    /// The last failure of the underlying reader.
    input_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecoder").field("info", &self.info).finish_non_exhaustive()
    }
}

/// Reads until `buf` holds `want` bytes or the input ends.
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 1024];
    while buf.len() < want {
        let n = match input.read(&mut chunk[..(want - buf.len()).min(1024)]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Drops the first `n` bytes of what `head` holds followed by `input`.
fn skip(input: &mut dyn Read, head: &mut Vec<u8>, n: u64) -> io::Result<bool> {
    if (head.len() as u64) >= n {
        head.drain(..n as usize);
        return Ok(true);
    }
    let rest = n - head.len() as u64;
    head.clear();
    let skipped = io::copy(&mut input.take(rest), &mut io::sink())?;
    Ok(skipped == rest)
}

/// The input after the peeked bytes: a failure met while peeking, or the
/// reader itself.
/// Its failures are also written to `seen`, so the decoder can report
/// them as [`Error::Io`] whatever symphonia made of them.
struct Resume<R> {
    failed: Option<io::Error>,
    input: R,
    seen: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Resume<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = match &self.failed {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => self.input.read(buf),
        };
        if let Err(e) = &r {
            if e.kind() != io::ErrorKind::Interrupted {
                *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        }
        r
    }
}

/// The container of a stream starting with `head` (`whole`: `head` is the
/// entire stream).
fn sniff(name: &str, head: &[u8], whole: bool) -> Result<Container> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let form = || String::from_utf8_lossy(&head[8..12]).into_owned();
    let n = head.len();
    if (starts(b"RIFF") || starts(b"RF64") || starts(b"BW64")) && n >= 12 {
        if &head[8..12] != b"WAVE" {
            return Err(unsupported(name, format!("RIFF form '{}' is not WAVE", form())));
        }
        return Ok(if starts(b"RIFF") { Container::Wav } else { Container::Rf64 });
    }
    if starts(b"RIFX") {
        return Err(unsupported(name, "big-endian RIFX WAV is not supported"));
    }
    if starts(b"fLaC") {
        return Ok(Container::Flac);
    }
    if starts(b"OggS") {
        return Ok(Container::Ogg);
    }
    if starts(b"FORM") && n >= 12 {
        return match &head[8..12] {
            b"AIFF" | b"AIFC" => Ok(Container::Aiff),
            _ => Err(unsupported(name, format!("IFF form '{}' is not AIFF/AIFC ({KNOWN} are supported)", form()))),
        };
    }
    if n >= 8 && (&head[4..8] == b"ftyp" || &head[4..8] == b"moov") {
        return Ok(Container::Mp4);
    }
    if starts(b"caff") {
        return Ok(Container::Caf);
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Err(unsupported(name, format!("Matroska/WebM streams are not supported ({KNOWN} are)")));
    }
    if n > 0 && head[0] == 0xFF {
        if let Some(layer) = mpeg_starts_at(head, 0, whole) {
            if layer != 3 {
                return Err(unsupported(name, format!("MPEG audio layer {layer} is not supported (layer 3, i.e. MP3, is)")));
            }
            return Ok(Container::Mp3);
        }
    }
    const MAGICS: [&[u8]; 6] = [b"RIFF", b"RF64", b"BW64", b"FORM", b"fLaC", b"OggS"];
    if whole && n < 12 && MAGICS.iter().any(|m| m.starts_with(head) || head.starts_with(m)) {
        return Err(decode_err(name, format!("the stream is truncated ({n} bytes, too short for a header)")));
    }
    Err(unsupported(name, format!("not a recognised audio stream (expected {KNOWN})")))
}

fn make_reader(name: &str, container: Container, mss: MediaSourceStream<'static>) -> Result<Box<dyn FormatReader>> {
    read_header(name, container, mss)?.map_err(|e| match e {
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            decode_err(name, "the stream ended inside its header (truncated)")
        }
        e => map_sym(name, "reading the header", e),
    })
}

impl StreamDecoder {
    /// Reads the stream's header from `input` (blocking until enough bytes
    /// arrived) and prepares decoding. `name` names the stream in messages
    /// (e.g. `"<http request body>"`).
    ///
    /// # Errors
    /// See [`StreamDecoder`].
    pub fn open<R: Read + Send + Sync + 'static>(name: &str, mut input: R) -> Result<StreamDecoder> {
        let io_err = |e: io::Error| Error::Io { path: name.to_string(), reason: format!("reading the stream: {e}") };
        let mut head = Vec::with_capacity(PEEK);
        fill(&mut input, &mut head, 10).map_err(io_err)?;
        if head.is_empty() {
            return Err(Error::EmptyAudio { reason: format!("{name} is empty (0 bytes)") });
        }
        // ID3v2 tags (MP3 streams often start with one, with cover art).
        for _ in 0..MAX_ID3_TAGS {
            if !(head.len() >= 10 && head.starts_with(b"ID3")) {
                break;
            }
            let size = head[6..10].iter().fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
            let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
            let complete = skip(&mut input, &mut head, 10 + size + footer).map_err(io_err)?;
            fill(&mut input, &mut head, 10).map_err(io_err)?;
            if !complete || head.is_empty() {
                return Err(decode_err(name, "the stream holds an ID3 tag but no audio after it"));
            }
        }
        // A failure while peeking is reported after the bytes before it,
        // like any later read failure.
        let failed = fill(&mut input, &mut head, PEEK).err();
        let whole = failed.is_none() && head.len() < PEEK;
        let container = sniff(name, &head, whole)?;
        let mp3_has_length_tag = container == Container::Mp3
            && head[..head.len().min(200)].windows(4).any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI");
        let seen = Arc::new(Mutex::new(None));
        let source = ReadOnlySource::new(Cursor::new(head).chain(Resume { failed, input, seen: seen.clone() }));
        let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
        let as_io = |e: Error| match seen.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(reason) => Error::Io { path: name.to_string(), reason: format!("reading the stream failed: {reason}") },
            None => e,
        };
        let reader = make_reader(name, container, mss).map_err(as_io)?;
        let mut dec = Self::with_reader(name, container, reader, mp3_has_length_tag).map_err(as_io)?;
        dec.input_error = seen;
        Ok(dec)
    }

    /// The track and codec set-up of `decode::open` ([`open_track`]), and
    /// what a reader that cannot be rewound knows of the length (no packet
    /// counting).
    fn with_reader(
        p: &str,
        container: Container,
        reader: Box<dyn FormatReader>,
        mp3_has_length_tag: bool,
    ) -> Result<StreamDecoder> {
        let track = open_track(p, "stream", container, reader)?;
        // Without a Xing/Info/VBRI tag symphonia has no MP3 length (an
        // unseekable stream cannot be measured) and the end padding is
        // unknown: keep every decoded frame, as the file reader does.
        let ignore_trim_end = container == Container::Mp3 && !mp3_has_length_tag;
        let declared = if ignore_trim_end { None } else { track.frames };
        let info = track.info(container, None, declared, Vec::new());
        let mut dec = track.decoder;
        dec.declared_frames = declared;
        dec.ignore_trim_end = ignore_trim_end;
        let channels = dec.channels;
        Ok(StreamDecoder { dec, map: ChannelMap::All(channels), info, truncated: None, input_error: Default::default() })
    }

    /// What the stream holds, from its header: `frames` is `None` (unknown
    /// ahead); `declared_frames` is the header's length when it gives one.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Frames decoded so far (concealed frames included).
    pub fn frames_decoded(&self) -> u64 {
        self.dec.frames_decoded
    }

    /// Packets that failed to decode and were concealed with silence.
    pub fn corrupt_packets(&self) -> u64 {
        self.dec.corrupt_packets
    }

    /// Decodes up to `frames` frames into `dst` (one `Vec` per channel, each
    /// at least `frames` long), blocking on the reader as needed. Returns
    /// the frames written; 0 at the end of the stream.
    ///
    /// # Errors
    /// See [`StreamDecoder`]; an error is returned only once every frame
    /// decoded before it has been delivered, and again on later calls.
    pub fn read_planar(&mut self, dst: &mut Vec<Vec<f32>>, frames: usize) -> Result<usize> {
        if dst.len() != self.info.channels || dst.iter().any(|c| c.len() < frames) {
            return Err(Error::shape(format!(
                "{}: read_planar needs {} channels of at least {frames} frames",
                self.info.path, self.info.channels
            )));
        }
        self.read_into(dst, frames)
    }

    fn read_into(&mut self, dst: &mut dyn super::PlanarMut, frames: usize) -> Result<usize> {
        if let Some(e) = &self.truncated {
            return Err(e.clone());
        }
        let n = self.dec.fill(&self.map, dst, 0, frames).map_err(|e| {
            // symphonia reports a reader failure as malformed data or a
            // truncation; it is the input's fault, not the data's.
            match self.input_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                Some(reason) => {
                    Error::Io { path: self.info.path.clone(), reason: format!("reading the stream failed: {reason}") }
                }
                None => e,
            }
        })?;
        if n == 0 && frames > 0 {
            // The end: a header length that was not reached is a truncated
            // stream (a longer one only gives a warning, as for files).
            self.dec.end_check();
            let decoded = self.dec.frames_decoded;
            if let Some(declared) = self.dec.declared_frames.filter(|&d| d > decoded) {
                let e = decode_err(
                    &self.info.path,
                    format!(
                        "the stream ended after {decoded} frames but its header declares {declared} (truncated input; \
                         every decoded frame was delivered)"
                    ),
                );
                self.truncated = Some(e.clone());
                return Err(e);
            }
        }
        Ok(n)
    }

    /// Header claims that decoding contradicted (e.g. more frames than
    /// declared), known at the end of the stream.
    pub fn warnings(&self) -> &[String] {
        &self.dec.warnings
    }
}

impl Source for StreamDecoder {
    fn sample_rate(&self) -> u32 {
        self.info.sample_rate
    }

    fn channels(&self) -> usize {
        self.info.channels
    }

    /// `None`: a stream's length is not known ahead.
    fn total_frames(&self) -> Option<u64> {
        None
    }

    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        if buf.channels() != self.info.channels || buf.capacity() == 0 {
            return Err(Error::shape(format!(
                "{}: the buffer has {} channels and capacity {}, the stream has {} channels",
                self.info.path,
                buf.channels(),
                buf.capacity(),
                self.info.channels
            )));
        }
        let cap = buf.capacity();
        let result = self.read_into(buf, cap);
        buf.set_frames(*result.as_ref().unwrap_or(&0));
        result
    }

    fn describe(&self) -> String {
        self.info.path.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.dec.warnings.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{ByteQueue, FileSource, SourceOptions};

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    /// Every frame of a source, planar, and the error that ended it.
    fn drain(src: &mut dyn Source) -> (Vec<Vec<f32>>, Result<()>) {
        let ch = src.channels();
        let mut planes = vec![Vec::new(); ch];
        let mut buf = AudioBuffer::new(ch, 1500);
        loop {
            match src.read(&mut buf) {
                Ok(0) => return (planes, Ok(())),
                Ok(n) => (0..ch).for_each(|c| planes[c].extend_from_slice(&buf.channel(c)[..n])),
                Err(e) => return (planes, Err(e)),
            }
        }
    }

    /// Feeds `bytes` through a [`ByteQueue`] from another thread in small
    /// pieces, as the JS side does, honouring its back-pressure.
    fn stream_of(bytes: Vec<u8>, piece: usize) -> (std::sync::Arc<ByteQueue>, std::thread::JoinHandle<()>) {
        let q = ByteQueue::new(2048);
        let feeder = q.clone();
        let t = std::thread::spawn(move || {
            for chunk in bytes.chunks(piece) {
                if !feeder.push(chunk) {
                    let (tx, rx) = std::sync::mpsc::channel();
                    feeder.on_room(Box::new(move || {
                        let _ = tx.send(());
                    }));
                    let _ = rx.recv();
                }
            }
            feeder.end();
        });
        (q, t)
    }

    #[test]
    fn streamed_files_decode_exactly_as_the_files() {
        for name in ["mp3_128k.mp3", "flac16.flac", "vorbis_q5.ogg", "ref_s16.wav", "float32.wav"] {
            let path = fixture(name);
            let (q, feeder) = stream_of(std::fs::read(&path).unwrap(), 333);
            let mut stream = StreamDecoder::open("<stream>", q.reader()).unwrap();
            let mut file = FileSource::open(&path, &SourceOptions::default()).unwrap();
            assert_eq!((stream.sample_rate(), stream.channels()), (file.sample_rate(), file.channels()), "{name}");
            let (got, end) = drain(&mut stream);
            let (want, _) = drain(&mut file);
            feeder.join().unwrap();
            assert!(end.is_ok(), "{name}: {end:?}");
            assert_eq!(got[0].len(), want[0].len(), "{name}: frame count");
            assert!(got == want, "{name}: samples differ");
            assert_eq!(stream.info().format, file.info().format);
        }
    }

    #[test]
    fn garbage_and_empty_streams_are_typed_errors() {
        let random = std::fs::read(fixture("random_bytes.wav")).unwrap();
        let e = StreamDecoder::open("<garbage>", Cursor::new(random)).unwrap_err();
        assert_eq!(e.code(), "ERR_UNSUPPORTED_FORMAT", "{e}");
        assert!(e.to_string().contains("<garbage>"), "{e}");
        let e = StreamDecoder::open("<empty>", Cursor::new(Vec::new())).unwrap_err();
        assert_eq!(e.code(), "ERR_EMPTY_AUDIO", "{e}");
        let e = StreamDecoder::open("<short>", Cursor::new(b"RIFF\x10\0\0\0WA".to_vec())).unwrap_err();
        assert_eq!(e.code(), "ERR_DECODE", "{e}");
        // A valid FLAC header followed by noise: frames are concealed, then refused.
        let mut flac = std::fs::read(fixture("flac16.flac")).unwrap();
        let keep = 8192;
        for (i, b) in flac[keep..].iter_mut().enumerate() {
            *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
        }
        let mut dec = StreamDecoder::open("<noisy>", Cursor::new(flac)).unwrap();
        let (_, end) = drain(&mut dec);
        assert!(end.is_err() || dec.corrupt_packets() > 0, "noise is either refused or concealed and counted");
    }

    #[test]
    fn a_truncated_stream_delivers_what_decoded_then_a_decode_error() {
        let bytes = std::fs::read(fixture("flac16.flac")).unwrap();
        let cut = bytes[..bytes.len() / 2].to_vec();
        let mut dec = StreamDecoder::open("<upload>", Cursor::new(cut)).unwrap();
        let declared = dec.info().declared_frames.unwrap();
        let (got, end) = drain(&mut dec);
        let e = end.unwrap_err();
        assert_eq!(e.code(), "ERR_DECODE", "{e}");
        assert!(e.to_string().contains("truncated"), "{e}");
        assert!(!got[0].is_empty() && (got[0].len() as u64) < declared);
        // The file reader delivers the same frames (as a warning, not an error).
        let mut file = FileSource::open(&fixture("flac16.flac"), &SourceOptions::default()).unwrap();
        let (want, _) = drain(&mut file);
        assert_eq!(&want[0][..got[0].len()], &got[0][..]);
        // The error stays.
        assert_eq!(dec.read(&mut AudioBuffer::new(dec.channels(), 16)).unwrap_err().code(), "ERR_DECODE");
    }

    #[test]
    fn a_failed_input_is_an_error_after_the_bytes_before_it() {
        let bytes = std::fs::read(fixture("ref_s16.wav")).unwrap();
        let q = ByteQueue::new(1 << 20);
        q.push(&bytes[..44 + 40_000]);
        q.fail("the client aborted the upload");
        let mut dec = StreamDecoder::open("<upload>", q.reader()).unwrap();
        let (got, end) = drain(&mut dec);
        let e = end.unwrap_err();
        assert_eq!(e.code(), "ERR_IO", "{e}");
        assert!(e.to_string().contains("the client aborted the upload"), "{e}");
        // Whole packets before the failure are delivered (the packet the
        // failure cut is lost: symphonia drops a partial read that errors).
        let mut file = FileSource::open(&fixture("ref_s16.wav"), &SourceOptions::default()).unwrap();
        let (want, _) = drain(&mut file);
        assert!(got[0].len() > 5000 && got[0].len() <= 10_000, "{} frames", got[0].len());
        assert_eq!(&want[0][..got[0].len()], &got[0][..]);
    }
}
