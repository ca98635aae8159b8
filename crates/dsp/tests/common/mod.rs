//! Helpers shared by the integration tests: fixture loading, signal
//! generators and block-wise processing.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use resonode_core::{AudioBuffer, Processor, StreamSpec};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// One manifest line: its record type (`input`, `butter`, `biquad`) and fields.
#[derive(Debug, Clone)]
pub struct Record {
    pub tag: String,
    pub fields: HashMap<String, String>,
}

impl Record {
    pub fn str(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("manifest line lacks `{key}`: {self:?}"))
    }
    pub fn f64(&self, key: &str) -> f64 {
        self.str(key)
            .parse()
            .unwrap_or_else(|e| panic!("`{key}`: {e}"))
    }
    pub fn usize(&self, key: &str) -> usize {
        self.str(key)
            .parse()
            .unwrap_or_else(|e| panic!("`{key}`: {e}"))
    }
    pub fn list(&self, key: &str) -> Vec<f64> {
        self.str(key)
            .split(',')
            .map(|v| v.parse().expect("number in list"))
            .collect()
    }
    /// The planar f32 data of this record's file, as a buffer of `channels` channels.
    pub fn data(&self, channels: usize) -> AudioBuffer {
        let bytes = std::fs::read(fixtures_dir().join(self.str("file"))).expect("fixture file");
        let samples: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let frames = samples.len() / channels;
        let planar: Vec<&[f32]> = samples.chunks_exact(frames).collect();
        AudioBuffer::from_planar(&planar).unwrap()
    }
}

pub fn manifest() -> Vec<Record> {
    let text = std::fs::read_to_string(fixtures_dir().join("manifest.txt"))
        .expect("tests/fixtures/manifest.txt (run scripts/make_dsp_fixtures.py)");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let tag = parts.next().unwrap().to_string();
            let fields = parts
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("key=value");
                    (k.to_string(), v.to_string())
                })
                .collect();
            Record { tag, fields }
        })
        .collect()
}

/// The fixture input signal (planar, 2 channels).
pub fn fixture_input() -> AudioBuffer {
    let m = manifest();
    let rec = m.iter().find(|r| r.tag == "input").expect("input line");
    let buf = rec.data(rec.usize("channels"));
    assert_eq!(buf.frames(), rec.usize("frames"));
    buf
}

pub fn spec(sample_rate: u32, channels: usize, max_block_frames: usize) -> StreamSpec {
    StreamSpec {
        sample_rate,
        channels,
        max_block_frames,
    }
}

/// Runs `p` over the whole of `buf` in blocks of `block` frames (the last
/// one shorter), in place.
pub fn run_blocks(p: &mut dyn Processor, buf: &mut AudioBuffer, block: usize) {
    let frames = buf.frames();
    let mut whole = buf.as_block_mut();
    let mut start = 0;
    while start < frames {
        let len = block.min(frames - start);
        p.process(&mut whole.slice_mut(start, len));
        start += len;
    }
}

/// `frames` of a sine of `freq` Hz and `amp` on every channel.
pub fn sine(freq: f64, amp: f64, fs: u32, channels: usize, frames: usize) -> AudioBuffer {
    let ch: Vec<f32> = (0..frames)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / fs as f64).sin()) as f32)
        .collect();
    AudioBuffer::from_planar(&vec![ch; channels]).unwrap()
}

/// Deterministic uniform noise in `[-amp, amp]` (xorshift64*).
pub fn noise(seed: u64, amp: f32, channels: usize, frames: usize) -> AudioBuffer {
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let v = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (v as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let chans: Vec<Vec<f32>> = (0..channels)
        .map(|_| (0..frames).map(|_| next() * amp).collect())
        .collect();
    AudioBuffer::from_planar(&chans).unwrap()
}

/// RMS of a slice.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Largest absolute difference between two slices of equal length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .fold(0.0, f64::max)
}

/// Largest absolute sample-to-sample step.
pub fn max_jump(x: &[f32]) -> f64 {
    x.windows(2)
        .map(|w| (w[1] as f64 - w[0] as f64).abs())
        .fold(0.0, f64::max)
}
