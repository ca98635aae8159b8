//! Reading a whole source, or a whole file, into memory as planar audio.
//!
//! For jobs that need the entire signal at once (e.g. a whole-signal
//! separation); everything that can work block by block should read a
//! [`Source`] in chunks instead, at bounded memory.
//!
//! # Real-time safety
//! Not real-time safe: decodes and allocates as the signal grows.

use std::path::Path;

use resonode_core::{AudioBuffer, Result, Source};

use crate::{FileInfo, FileSource, SourceOptions};

/// Frames asked of the source per read.
const READ_FRAMES: usize = 65_536;

/// A whole file decoded into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFile {
    /// Planar samples, channels x frames, in [-1, 1] full scale (after the
    /// resampling and channel selection the [`SourceOptions`] asked for).
    pub channels: Vec<Vec<f32>>,
    /// Sample rate of `channels` in Hz.
    pub sample_rate: u32,
    /// The file's header (its own rate, channels and encoding).
    pub info: FileInfo,
}

impl DecodedFile {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }
}

/// Reads `source` from where it is to its end into planar channels
/// (channels x frames; every channel the same length, possibly 0).
///
/// # Errors
/// Whatever the source's reads report (e.g. `ERR_DECODE`).
pub fn read_to_end(source: &mut dyn Source) -> Result<Vec<Vec<f32>>> {
    read_to_end_with(source, || Ok(()))
}

/// [`read_to_end`], calling `check` before every read: its error (e.g. a
/// stop request) ends the read.
///
/// # Errors
/// `check`'s error, or whatever the source's reads report.
pub fn read_to_end_with(source: &mut dyn Source, mut check: impl FnMut() -> Result<()>) -> Result<Vec<Vec<f32>>> {
    let channels = source.channels();
    // The length only sizes the first allocation, capped: a source's
    // estimate must never become a huge up-front allocation.
    let capacity = source.total_frames().map_or(0, |t| t.min(1 << 24) as usize);
    let mut out: Vec<Vec<f32>> = (0..channels).map(|_| Vec::with_capacity(capacity)).collect();
    let mut buf = AudioBuffer::new(channels, READ_FRAMES);
    loop {
        check()?;
        if source.read(&mut buf)? == 0 {
            break;
        }
        for (c, ch) in out.iter_mut().enumerate() {
            ch.extend_from_slice(buf.channel(c));
        }
    }
    Ok(out)
}

/// Opens `path` (any format [`FileSource`] reads) with `options` and decodes it
/// whole. Memory grows with the file: 4 bytes per sample and channel.
///
/// # Errors
/// As [`FileSource::open`] (`ERR_NOT_FOUND`, `ERR_UNSUPPORTED_FORMAT`,
/// `ERR_DECODE`, `ERR_INVALID_PARAMETER` for options) and its reads.
pub fn decode_file(path: &Path, options: &SourceOptions) -> Result<DecodedFile> {
    let mut source = FileSource::open(path, options)?;
    let channels = read_to_end(&mut source)?;
    Ok(DecodedFile { channels, sample_rate: source.sample_rate(), info: source.info().clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChannelSelection;
    use resonode_core::PlanarSource;

    #[test]
    fn reads_a_planar_source_across_many_reads_exactly() {
        // Longer than three reads, not a multiple of one.
        let n = 3 * READ_FRAMES + 1234;
        let x: Vec<Vec<f32>> =
            (0..2).map(|c| (0..n).map(|i| ((i * (c + 3)) % 1000) as f32 / 1000.0).collect()).collect();
        let mut src = PlanarSource::new(x.clone(), 8000).unwrap();
        assert_eq!(read_to_end(&mut src).unwrap(), x);
        // At the end: nothing more, same channel count.
        assert_eq!(read_to_end(&mut src).unwrap(), vec![Vec::<f32>::new(); 2]);
    }

    #[test]
    fn decodes_a_whole_file_with_its_options() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
        let music = root.join("music.wav");
        let d = decode_file(&music, &SourceOptions::default()).unwrap();
        assert_eq!((d.sample_rate, d.channels.len()), (d.info.sample_rate, d.info.channels));
        assert_eq!(Some(d.frames() as u64), d.info.frames);
        assert!(d.channels.iter().all(|c| c.len() == d.frames()));
        assert!(d.channels[0].iter().any(|&s| s != 0.0));
        // Options apply: resampled to half the rate, downmixed.
        let half = decode_file(
            &music,
            &SourceOptions { sample_rate: Some(d.sample_rate / 2), channels: ChannelSelection::Mono },
        )
        .unwrap();
        assert_eq!((half.sample_rate, half.channels.len()), (d.sample_rate / 2, 1));
        assert_eq!(half.frames() as u64, crate::resampled_len(d.frames() as u64, d.sample_rate, d.sample_rate / 2));
        assert_eq!(
            decode_file(&root.join("no-such.wav"), &SourceOptions::default()).unwrap_err().code(),
            "ERR_NOT_FOUND"
        );
    }
}
