//! The formats beyond WAV/FLAC/MP3/Vorbis, decoded and checked against the
//! WAV they were made from (`__test__/formats/`, made by
//! `scripts/make-format-fixtures.sh` with ffmpeg): lossless ones bit-exact,
//! AAC and Opus by correlation and length within the codec's priming.
mod common;

use std::path::{Path, PathBuf};

use common::{best_lag, hound_read, read_all};
use resonode_io::{probe, resample_planar, FileSource, SampleFormat, SourceOptions};

fn formats(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/formats").join(name)
}

fn decode(name: &str) -> (resonode_io::FileInfo, Vec<Vec<f32>>) {
    let p = formats(name);
    let info = probe(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut src = FileSource::open(&p, &SourceOptions::default()).unwrap();
    let d = read_all(&mut src).unwrap_or_else(|e| panic!("{name}: {e}"));
    if name == "alac.caf" {
        // ffmpeg's CAF muxer gives every packet 4096 frames in its packet
        // table (no remainder for the last one); the ALAC frame header says
        // 3712, and that is what decodes. Counting packets cannot see it:
        // probe says 16384, decoding warns.
        assert_eq!(info.frames, Some(16384));
        assert_eq!(src.warnings(), ["the header declares 16384 frames but only 16000 could be decoded"]);
        return (info, d);
    }
    assert!(src.warnings().is_empty(), "{name}: {:?}", src.warnings());
    assert_eq!(info.frames, Some(d[0].len() as u64), "{name}: probe's count is what decodes");
    (info, d)
}

fn source() -> Vec<Vec<f32>> {
    let (spec, d) = hound_read(&formats("source.wav"));
    assert_eq!((spec.channels, spec.sample_rate, d[0].len()), (2, 16000, 16000));
    d
}

#[test]
fn lossless_formats_decode_bit_exact() {
    let src = source();
    for (name, format, codec) in [
        ("alac.m4a", "mp4", "alac"),
        ("aiff.aiff", "aiff", "pcm_s16be"),
        ("aifc.aifc", "aiff", "pcm_s16le"),
        ("pcm.caf", "caf", "pcm_s16le"),
        ("alac.caf", "caf", "alac"),
        ("rf64.wav", "rf64", "pcm_s16le"),
    ] {
        let (info, d) = decode(name);
        assert_eq!((info.format.as_str(), info.codec.as_str()), (format, codec), "{name}");
        assert_eq!((info.sample_rate, info.channels, info.sample_format), (16000, 2, SampleFormat::Int), "{name}");
        assert_eq!(d[0].len(), 16000, "{name}");
        for c in 0..2 {
            assert_eq!(d[c], src[c], "{name}: channel {c} differs");
        }
    }
}

#[test]
fn aac_in_m4a_matches_the_source() {
    let src = source();
    let (info, d) = decode("aac.m4a");
    assert_eq!((info.format.as_str(), info.codec.as_str(), info.sample_rate, info.channels), ("mp4", "aac", 16000, 2));
    assert_eq!(info.sample_format, SampleFormat::Float);
    // AAC-LC primes with 1024 frames (the edit list that trims them is not applied).
    let n = d[0].len();
    assert!((16000..=16000 + 2048).contains(&n), "{n}");
    assert_eq!(n, 17024, "16000 frames plus 1024 of priming");
    for c in 0..2 {
        // The signal is periodic, so the best lag can alias: check the
        // priming offset itself, and that no other offset near it fits.
        let r = common::correlation_at(&src[c], &d[c], 1024);
        assert!(r > 0.98, "channel {c}: correlation {r} at the priming offset");
        assert!(common::correlation_at(&src[c], &d[c], 1000) < r, "channel {c}");
        let (_, best) = best_lag(&src[c], &d[c], 2048);
        assert!(best - r < 0.01, "channel {c}: {best} vs {r}");
    }
}

#[test]
fn opus_matches_the_source() {
    let src = resample_planar(&source(), 16000, 48000).unwrap();
    let (info, d) = decode("opus.opus");
    assert_eq!((info.format.as_str(), info.codec.as_str(), info.sample_rate, info.channels), ("ogg", "opus", 48000, 2));
    // Pre-skip is removed; the end is where the last granule says (48312, as ffprobe reports).
    assert_eq!(d[0].len(), 48312);
    for c in 0..2 {
        let (lag, r) = best_lag(&src[c], &d[c], 960);
        assert!(r > 0.95, "channel {c}: correlation {r} at lag {lag}");
        assert!(lag < 480, "channel {c}: lag {lag}");
    }
}
