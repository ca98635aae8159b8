//! [`StreamEncoder`]: planar audio to the bytes of a WAV, FLAC or raw PCM
//! stream written to something that cannot seek (an HTTP response, a
//! socket, a pipe), so no header is ever rewritten.

use resonode_core::{AudioBlock, Error, Result};

use crate::interleave::{Interleaver, PcmLayout};
use crate::sink::{check_block_channels, FlacFrames};
use crate::WavEncoding;

/// What a [`StreamEncoder`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamFormat {
    /// WAV whose RIFF and data sizes are `0xFFFFFFFF` ("unknown, read to the
    /// end"), the convention ffmpeg uses for pipes; the header is hound's
    /// `WavSpec::into_header_for_infinite_file` (hound's `WavWriter` needs
    /// `Seek` to write the sizes at the end). Int16 is a plain 44-byte PCM
    /// header; Int24 and Float32 use WAVE_FORMAT_EXTENSIBLE.
    Wav(WavEncoding),
    /// FLAC (flacenc) with 16 or 24 bits, in 4096-frame FLAC frames. The
    /// STREAMINFO total-samples and MD5 fields are 0, which the FLAC format
    /// defines as "unknown" (RFC 9639, section 8.2).
    Flac {
        /// Bits per sample, 16 or 24.
        bits: u32,
    },
    /// Raw interleaved signed 16-bit little-endian PCM, no header.
    S16le,
    /// Raw interleaved 32-bit little-endian IEEE float, no header.
    F32le,
}

impl StreamFormat {
    /// Parses `"wav"`, `"flac"`, `"s16le"` or `"f32le"` with an optional
    /// WAV/FLAC `encoding` (`"int16"`, `"int24"`, `"float32"`; defaults as
    /// [`crate::FileSink`](crate::OutputFormat::for_path) without a source:
    /// float32 for WAV, int24 for FLAC).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`format` or `encoding`) for another
    /// name, an encoding with a raw format, or float32 FLAC.
    pub fn parse(format: &str, encoding: Option<&str>) -> Result<StreamFormat> {
        let enc = encoding.map(WavEncoding::parse).transpose()?;
        match (format, enc) {
            ("wav", e) => Ok(StreamFormat::Wav(e.unwrap_or(WavEncoding::Float32))),
            ("flac", None | Some(WavEncoding::Int24)) => Ok(StreamFormat::Flac { bits: 24 }),
            ("flac", Some(WavEncoding::Int16)) => Ok(StreamFormat::Flac { bits: 16 }),
            ("flac", Some(WavEncoding::Float32)) => {
                Err(Error::param("encoding", "FLAC stores integer samples only; use int16 or int24"))
            }
            ("s16le" | "f32le", Some(_)) => Err(Error::param(
                "encoding",
                format!("the raw format {format} fixes its encoding; `encoding` applies to wav and flac only"),
            )),
            ("s16le", None) => Ok(StreamFormat::S16le),
            ("f32le", None) => Ok(StreamFormat::F32le),
            (other, _) => Err(Error::param("format", format!("`{other}` is not one of wav, flac, s16le, f32le"))),
        }
    }
}

/// Encodes planar `f32` blocks (channels x frames) into the bytes of a
/// [`StreamFormat`], for a destination that cannot seek. The header comes
/// with the first bytes returned; nothing is ever rewritten, so every
/// prefix of the output up to a returned buffer is a valid stream (FLAC: up
/// to the last complete FLAC frame) and a stop at any point leaves a
/// decodable file.
///
/// Integer encodings convert with [`float_to_int`] (round to nearest, ties
/// away from zero, clip to the integer range, NaN to 0), exactly as
/// [`crate::WavSink`] and [`crate::FlacSink`]; float encodings store the
/// samples unchanged.
///
/// # Real-time safety
/// Allocates the returned buffers; run it off the audio thread.
pub struct StreamEncoder {
    name: String,
    format: StreamFormat,
    channels: usize,
    header: Option<Vec<u8>>,
    flac: Option<FlacFrames>,
    frames: u64,
    interleaver: Interleaver,
    /// One block's PCM bytes, reused.
    pcm: Vec<u8>,
}

impl std::fmt::Debug for StreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncoder")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl StreamEncoder {
    /// An encoder for `channels` channels at `sample_rate` Hz; `name` names
    /// the destination in messages.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 channels, more than 65535 (WAV) or
    /// 8 (FLAC), a 0 Hz rate or one above 655350 Hz (FLAC), FLAC bits other
    /// than 16/24.
    pub fn new(name: &str, format: StreamFormat, sample_rate: u32, channels: usize) -> Result<StreamEncoder> {
        let bad = |p: &str, why: String| Err(Error::param(p, format!("{name}: {why}")));
        if channels == 0 || channels > usize::from(u16::MAX) {
            return bad("channels", format!("needs 1 to 65535 channels, got {channels}"));
        }
        if sample_rate == 0 {
            return bad("sampleRate", "the sample rate must be above 0 Hz".into());
        }
        let (header, flac) = match format {
            StreamFormat::Wav(encoding) => {
                (encoding.spec(sample_rate, channels as u16).into_header_for_infinite_file(), None)
            }
            StreamFormat::Flac { bits } => {
                let flac = FlacFrames::new(name, sample_rate, channels, bits)?;
                (flac.header(), Some(flac))
            }
            StreamFormat::S16le | StreamFormat::F32le => (Vec::new(), None),
        };
        Ok(StreamEncoder {
            name: name.to_string(),
            format,
            channels,
            header: Some(header),
            flac,
            frames: 0,
            interleaver: Interleaver::default(),
            pcm: Vec::new(),
        })
    }

    /// Frames encoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The bytes for `block` (with the header before the first block); FLAC
    /// keeps up to 4095 frames pending until a FLAC frame is complete.
    ///
    /// # Errors
    /// [`Error::Shape`] for a block with another channel count;
    /// [`Error::Encode`] when flacenc fails.
    pub fn encode(&mut self, block: &AudioBlock<'_>) -> Result<Vec<u8>> {
        check_block_channels(&self.name, self.channels, block)?;
        let mut out = self.header.take().unwrap_or_default();
        let frames = block.frames();
        match self.format {
            StreamFormat::Wav(enc) => self.push_pcm(block, enc.layout(), &mut out),
            StreamFormat::S16le => self.push_pcm(block, PcmLayout::I16, &mut out),
            StreamFormat::F32le => self.push_pcm(block, PcmLayout::F32, &mut out),
            StreamFormat::Flac { .. } => {
                let mut i = 0;
                while i < frames {
                    let st = self.flac.as_mut().expect("a FLAC encoder has its state");
                    i += st.stage(block, i);
                    if st.is_full() {
                        self.encode_pending(&mut out)?;
                    }
                }
            }
        }
        self.frames += frames as u64;
        Ok(out)
    }

    /// Appends `block` to `out` as interleaved little-endian `layout` PCM.
    fn push_pcm(&mut self, block: &AudioBlock<'_>, layout: PcmLayout, out: &mut Vec<u8>) {
        self.interleaver.encode(block, layout, &mut self.pcm);
        out.extend_from_slice(&self.pcm);
    }

    /// Encodes the pending FLAC samples as one frame, appended to `out`.
    fn encode_pending(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let Some(st) = self.flac.as_mut() else { return Ok(()) };
        if st.pending_frames() == 0 {
            return Ok(());
        }
        let res = st.encode();
        st.clear_pending();
        res.map_err(|reason| Error::Encode { path: self.name.clone(), reason })?;
        out.extend_from_slice(st.encoded());
        Ok(())
    }

    /// The last bytes: FLAC's last, shorter frame; the header alone when
    /// nothing was encoded (an empty but valid stream). Further calls
    /// return nothing.
    ///
    /// # Errors
    /// [`Error::Encode`] when flacenc fails.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let mut out = self.header.take().unwrap_or_default();
        self.encode_pending(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use resonode_core::{AudioBuffer, Source};

    use super::*;
    use crate::sink::FLAC_BLOCK;
    use crate::StreamDecoder;

    /// A 2-channel test signal: a 440 Hz sine and a 1 kHz cosine at -6 dBFS.
    fn signal(frames: usize, rate: f32) -> AudioBuffer {
        let tone = |f: f32, phase: f32| -> Vec<f32> {
            (0..frames).map(|i| 0.5 * (2.0 * std::f32::consts::PI * f * i as f32 / rate + phase).sin()).collect()
        };
        AudioBuffer::from_planar(&[&tone(440.0, 0.0)[..], &tone(1000.0, 1.5)[..]]).unwrap()
    }

    /// Encodes `buf` in uneven blocks, as a network sink receives it.
    fn encode_all(format: StreamFormat, buf: &AudioBuffer, rate: u32) -> Vec<u8> {
        let mut enc = StreamEncoder::new("<test>", format, rate, buf.channels()).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        for (k, len) in [1000usize, 4096, 1, 7000].iter().cycle().enumerate() {
            if at >= buf.frames() {
                break;
            }
            let len = (*len + k).min(buf.frames() - at);
            let planes: Vec<Vec<f32>> = (0..buf.channels()).map(|c| buf.channel(c)[at..at + len].to_vec()).collect();
            let block = AudioBuffer::from_planar(&planes.iter().map(|p| &p[..]).collect::<Vec<_>>()).unwrap();
            out.extend(enc.encode(&block.as_block()).unwrap());
            at += len;
        }
        out.extend(enc.finish().unwrap());
        assert_eq!(enc.frames(), buf.frames() as u64);
        out
    }

    fn decode_all(bytes: Vec<u8>) -> (StreamDecoder, Vec<Vec<f32>>, resonode_core::Result<usize>) {
        let mut dec = StreamDecoder::open("<test>", Cursor::new(bytes)).unwrap();
        let ch = dec.channels();
        let mut planes = vec![Vec::new(); ch];
        let mut buf = AudioBuffer::new(ch, 3000);
        let last = loop {
            match dec.read(&mut buf) {
                Ok(0) => break Ok(0),
                Ok(n) => (0..ch).for_each(|c| planes[c].extend_from_slice(&buf.channel(c)[..n])),
                Err(e) => break Err(e),
            }
        };
        (dec, planes, last)
    }

    #[test]
    fn every_format_round_trips_through_the_stream_decoder() {
        let rate = 44100;
        let buf = signal(20_000, rate as f32);
        for (format, lsb) in [
            (StreamFormat::Wav(WavEncoding::Float32), 0.0),
            (StreamFormat::Wav(WavEncoding::Int16), 1.0 / 32768.0),
            (StreamFormat::Wav(WavEncoding::Int24), 1.0 / 8_388_608.0),
            (StreamFormat::Flac { bits: 16 }, 1.0 / 32768.0),
            (StreamFormat::Flac { bits: 24 }, 1.0 / 8_388_608.0),
        ] {
            let (dec, planes, last) = decode_all(encode_all(format, &buf, rate));
            assert!(last.is_ok(), "{format:?}: {last:?}");
            assert_eq!(dec.sample_rate(), rate);
            assert_eq!(planes[0].len(), buf.frames(), "{format:?}");
            for (c, plane) in planes.iter().enumerate() {
                let err = plane.iter().zip(buf.channel(c)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                // Rounding to nearest: at most half an LSB.
                assert!(err <= lsb / 2.0 + 1e-9, "{format:?} channel {c}: max error {err}");
            }
        }
    }

    #[test]
    fn raw_formats_are_interleaved_little_endian() {
        let buf = AudioBuffer::from_planar(&[&[0.5, -1.0, 1.0][..], &[0.25, 2.0, -0.5 / 32768.0][..]]).unwrap();
        let s16 = encode_all(StreamFormat::S16le, &buf, 8000);
        let got: Vec<i16> = s16.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        // float_to_int: clip at full scale, ties away from zero.
        assert_eq!(got, [16384, 8192, -32768, 32767, 32767, -1]);
        let f32s = encode_all(StreamFormat::F32le, &buf, 8000);
        let got: Vec<f32> = f32s.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(got, [0.5, 0.25, -1.0, 2.0, 1.0, -0.5 / 32768.0]);
    }

    #[test]
    fn the_wav_header_declares_an_unknown_length() {
        let enc = StreamEncoder::new("<t>", StreamFormat::Wav(WavEncoding::Int16), 48000, 2).unwrap();
        let h = enc.header.clone().unwrap();
        assert_eq!(h.len(), 44);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(&h[4..8], &[0xFF; 4]);
        assert_eq!(&h[36..40], b"data");
        assert_eq!(&h[40..44], &[0xFF; 4]);
    }

    #[test]
    fn a_stream_cut_anywhere_after_a_block_still_decodes() {
        let rate = 16000;
        let buf = signal(3 * FLAC_BLOCK + 100, rate as f32);
        // What a stopped pipeline leaves: the bytes of the blocks written.
        let mut enc = StreamEncoder::new("<t>", StreamFormat::Flac { bits: 16 }, rate, 2).unwrap();
        let block = |from: usize, to: usize| {
            let planes: Vec<Vec<f32>> = (0..2).map(|c| buf.channel(c)[from..to].to_vec()).collect();
            AudioBuffer::from_planar(&planes.iter().map(|p| &p[..]).collect::<Vec<_>>()).unwrap()
        };
        let mut out = enc.encode(&block(0, 5000).as_block()).unwrap();
        out.extend(enc.encode(&block(5000, 9000).as_block()).unwrap());
        out.extend(enc.finish().unwrap());
        let (_, planes, last) = decode_all(out);
        assert!(last.is_ok(), "{last:?}");
        assert_eq!(planes[0].len(), 9000);
        // A WAV cut mid-sample keeps every whole frame before the cut.
        let mut wav = encode_all(StreamFormat::Wav(WavEncoding::Int16), &buf, rate);
        wav.truncate(44 + 1000 * 4 + 3);
        let (_, planes, last) = decode_all(wav);
        assert!(last.is_ok(), "{last:?}");
        assert_eq!(planes[0].len(), 1000);
    }

    #[test]
    fn formats_parse_with_their_encodings() {
        assert_eq!(StreamFormat::parse("wav", None).unwrap(), StreamFormat::Wav(WavEncoding::Float32));
        assert_eq!(StreamFormat::parse("wav", Some("int16")).unwrap(), StreamFormat::Wav(WavEncoding::Int16));
        assert_eq!(StreamFormat::parse("flac", None).unwrap(), StreamFormat::Flac { bits: 24 });
        assert_eq!(StreamFormat::parse("flac", Some("int16")).unwrap(), StreamFormat::Flac { bits: 16 });
        assert_eq!(StreamFormat::parse("s16le", None).unwrap(), StreamFormat::S16le);
        for (f, e) in [("flac", Some("float32")), ("s16le", Some("int16")), ("mp3", None), ("wav", Some("int8"))] {
            assert_eq!(StreamFormat::parse(f, e).unwrap_err().code(), "ERR_INVALID_PARAMETER", "{f} {e:?}");
        }
    }
}
