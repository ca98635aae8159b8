//! # resonode-io
//!
//! Audio files in and out of resonode's pipeline:
//!
//! - [`probe`] describes a file ([`FileInfo`]); [`FileSource`] decodes it
//!   chunk by chunk as a [`resonode_core::Source`], optionally resampled and
//!   with a channel selection ([`SourceOptions`]). Decoding: symphonia (WAV
//!   and RF64/BW64 PCM 8/16/24/32-bit integer, 32/64-bit float, A-law,
//!   µ-law, including WAVE_FORMAT_EXTENSIBLE; AIFF/AIFF-C; CAF; MP4/M4A with
//!   AAC or ALAC; FLAC; MP3; Ogg Vorbis and Ogg FLAC) and the pure-Rust
//!   `opus-pure` crate (Ogg Opus). Resampling: rubato.
//! - [`WavSink`] (hound) and [`FlacSink`] (flacenc) write files as a
//!   [`resonode_core::Sink`]; [`OutputFormat`] and [`open_sink`] pick one by
//!   extension.
//! - [`PlanarResampler`] and [`resample_planar`] convert planar audio in
//!   memory with the same resamplers and time alignment.
//! - [`SinkAdapter`] feeds any sink one stem of the stream and/or the stream resampled (exact length).
//! - [`measure_levels`] gives a file's peak and RMS level ([`Levels`]).
//! - [`StreamDecoder`] decodes the same formats from an unseekable byte
//!   stream (an HTTP body, a socket) as it arrives, fed through a bounded
//!   [`ByteQueue`]; [`StreamEncoder`] writes WAV / FLAC / raw PCM for a
//!   destination that cannot seek (no header is ever rewritten).
//!
//! Audio is planar `f32` (channels x frames) at a fixed sample rate in Hz;
//! a *frame* is one time step across all channels. Memory use does not grow
//! with file length: sources decode one packet at a time and sinks stream to
//! disk.
//!
//! ## Example
//! Convert a file to mono 48 kHz FLAC, keeping its bit depth:
//! ```
//! use std::path::Path;
//! use resonode_core::pipeline::{run, Control, PipelineOptions};
//! use resonode_core::Chain;
//! use resonode_io::{open_sink, probe, ChannelSelection, FileSource, OutputFormat, SourceOptions};
//!
//! let input = Path::new("tests/fixtures/ref_s16.wav");
//! let info = probe(input)?;
//! assert_eq!((info.codec.as_str(), info.sample_rate, info.channels), ("pcm_s16le", 44100, 2));
//!
//! let out = std::env::temp_dir().join(format!("resonode-io-doc-{}.flac", std::process::id()));
//! let opts = SourceOptions { sample_rate: Some(48000), channels: ChannelSelection::Mono };
//! let mut source = FileSource::open(input, &opts)?;
//! let format = OutputFormat::for_path(&out, None, Some(&info))?; // Flac { bits: 16 }
//! let mut sink = open_sink(&out, format);
//! let stats = run(&mut source, &mut Chain::default(), sink.as_mut(), &PipelineOptions::default(),
//!                 &Control::default(), &mut |_progress| {})?;
//! assert_eq!(stats.frames_processed, 48000); // 1 s at 44.1 kHz -> exactly 48000 frames
//! assert_eq!(probe(&out)?.channels, 1);
//! # std::fs::remove_file(&out).ok();
//! # Ok::<(), resonode_core::Error>(())
//! ```
//!
//! ## Errors
//! Every failure is a [`resonode_core::Error`] whose message names the file:
//!
//! | Input                                           | Error (code)                                   |
//! |-------------------------------------------------|------------------------------------------------|
//! | path does not exist                             | `NotFound` (`ERR_NOT_FOUND`)                   |
//! | a directory, permission denied, read failure    | `Io` (`ERR_IO`)                                |
//! | empty (0-byte) file                             | `EmptyAudio` (`ERR_EMPTY_AUDIO`)               |
//! | random bytes / not a format listed above        | `UnsupportedFormat` (`ERR_UNSUPPORTED_FORMAT`) |
//! | valid container, codec not decoded (ADPCM, GSM, MP3-in-WAV, E-AC-3...) | `UnsupportedFormat`, naming the codec |
//! | header sample rate outside 1 kHz..768 kHz       | `UnsupportedFormat`                            |
//! | header declares 0 channels; FLAC/Ogg headers but no audio | `EmptyAudio` (`ERR_EMPTY_AUDIO`)     |
//! | valid header, zero frames                       | the source yields 0 frames; `pipeline::run` reports `EmptyAudio` |
//! | fewer frames than the header declares (truncated WAV/FLAC/AIFF/RF64, MP3 Xing/VBRI or Ogg granule over-claiming) | every frame that decodes, no error; [`FileInfo::warnings`] and [`FileSource::warnings`] say "the header declares N frames but only M could be decoded" |
//! | odd but readable headers (fmt chunk of 18/20 bytes, EXTENSIBLE with an unknown GUID but consistent PCM fields, FLAC block size 0, a malformed FLAC cue sheet, MP3 Xing frame count 0) | decoded |
//! | corrupt packet inside MP3/FLAC/Vorbis           | concealed with silence and counted (see [`FileSource`]); `Decode` after 64 bad packets in a row |
//! | damaged header or undecodable data              | `Decode`                                       |
//! | NaN/inf in a float file                         | passed on (the pipeline reports `NonFiniteSample`); when resampling, `read` reports `NonFiniteSample` |
//! | unsupported target rate or bad channel selection | `InvalidParameter`                            |
//! | output extension not .wav/.flac                 | `UnsupportedFormat`                            |
//! | output cannot be created                        | `Io`                                           |
//!
//! Parameter errors (`InvalidParameter`) name the path in their reason;
//! `NonFiniteSample` has no path field in core and names the frame and
//! channel only. No input makes these functions panic: panics inside the
//! decoder library are caught and reported as `Decode`.
//!
//! ## Writing files
//! Integer outputs (16/24-bit WAV, FLAC) convert each `f32` sample `x` with
//! [`float_to_int`]: `clamp(round(x * 2^(bits-1)), -2^(bits-1), 2^(bits-1) - 1)`,
//! rounding to nearest with ties away from zero and no dither; anything at or
//! beyond full scale is clipped (`1.0` becomes 32767 in 16 bits, `-1.0`
//! becomes -32768) and NaN becomes 0. Float32 WAV stores samples unchanged.
//!
//! Both sinks flush about once per second of audio, so a crash or a failed
//! pipeline leaves a usable file: [`WavSink`] rewrites the RIFF and data
//! sizes each time (the file is a valid WAV up to the last flush), and
//! [`FlacSink`] writes whole FLAC frames with the length in STREAMINFO left
//! "unknown" until [`finalize`](resonode_core::Sink::finalize), so a partial
//! file decodes up to its last complete frame. WAV output is limited to
//! 4 GiB of audio data by the RIFF format ([`Error::Encode`](resonode_core::Error::Encode)
//! beyond that).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod byte_queue;
mod decode;
mod interleave;
mod levels;
pub mod read;
mod resample;
mod resampler;
mod sink;
mod sink_adapter;
mod source;
mod stream_encode;

pub use byte_queue::{ByteQueue, ByteQueueReader, RoomCallback};
pub use decode::stream_decode::StreamDecoder;
pub use stream_encode::{StreamEncoder, StreamFormat};
pub use levels::{amplitude_to_dbfs, measure_levels, Levels};
pub use resampler::{resample_planar, PlanarResampler};
pub use sink::{float_to_int, open_sink, FlacSink, OutputFormat, WavEncoding, WavSink};
pub use sink_adapter::SinkAdapter;
pub use source::{
    probe, probe_header, ChannelSelection, FileInfo, FileSource, SampleFormat, SourceOptions, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE,
};

/// Frames after converting `frames` from `in_rate` to `out_rate` Hz:
/// `round(frames * out_rate / in_rate)`, halves rounding up. What
/// [`FileSource`], [`PlanarResampler`] and [`resample_planar`] produce.
pub fn resampled_len(frames: u64, in_rate: u32, out_rate: u32) -> u64 {
    resample::resampled_len(frames, in_rate, out_rate)
}
