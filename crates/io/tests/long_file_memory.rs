//! One hour of 48 kHz stereo 16-bit audio (about 690 MB) streamed from a WAV
//! file through `pipeline::run` into another WAV file must not make the
//! process's peak resident memory grow with the file: decoding and writing
//! are chunked.
//!
//! This is its own test binary with a single test so that the peak RSS
//! (VmHWM) measures only this run.

mod common;

use std::io::BufWriter;

use common::TempDir;
use resonode_core::pipeline::{run, Control, PipelineOptions};
use resonode_core::{Chain, Source};
use resonode_io::{FileSource, SourceOptions, WavEncoding, WavSink};

const RATE: u32 = 48_000;
const FRAMES: u64 = 3600 * RATE as u64;
// Measured: about 5 MB. The bound leaves room for allocator and platform
// differences while still catching anything that grows with the file.
const MAX_PEAK_RSS_KB: u64 = 64 * 1024;

/// Deterministic noise (xorshift64), as 16-bit samples.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> i16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 48) as i16
    }
}

/// A `/proc/self/status` field in kB (Linux only).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn one_hour_wav_streams_through_the_pipeline_at_constant_memory() {
    let started = std::time::Instant::now();
    let dir = TempDir::new("long");
    let input = dir.path("hour.wav");
    let output = dir.path("hour-out.wav");

    // 1. Write the input, streaming, with hound.
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let file = std::fs::File::create(&input).unwrap();
        let mut w = hound::WavWriter::new(BufWriter::with_capacity(1 << 20, file), spec).unwrap();
        let mut noise = Noise(0x1234_5678_9ABC_DEF1);
        let block = 48_000u64;
        let mut done = 0;
        while done < FRAMES {
            let n = block.min(FRAMES - done);
            let mut sw = w.get_i16_writer((n * 2) as u32);
            for _ in 0..n * 2 {
                sw.write_sample(noise.next());
            }
            sw.flush().unwrap();
            done += n;
        }
        w.finalize().unwrap();
    }
    let written = started.elapsed();
    assert_eq!(std::fs::metadata(&input).unwrap().len(), 44 + FRAMES * 4);

    // 2. Stream it through the pipeline.
    let mut src = FileSource::open(&input, &SourceOptions::default()).unwrap();
    assert_eq!(src.total_frames(), Some(FRAMES));
    let mut sink = WavSink::create(&output, WavEncoding::Int16);
    let stats =
        run(&mut src, &mut Chain::default(), &mut sink, &PipelineOptions::default(), &Control::default(), &mut |_| {})
            .unwrap();
    let processed = started.elapsed() - written;

    // 3. Check length, a few samples, and the peak memory.
    assert_eq!(stats.frames_processed, FRAMES);
    let mut r = hound::WavReader::open(&output).unwrap();
    assert_eq!(u64::from(r.duration()), FRAMES);
    let mut noise = Noise(0x1234_5678_9ABC_DEF1);
    for s in r.samples::<i16>().take(100_000) {
        assert_eq!(s.unwrap(), noise.next());
    }
    drop(r);
    assert_eq!(std::fs::metadata(&output).unwrap().len(), 44 + FRAMES * 4);

    let peak_kb = proc_status_kb("VmHWM:");
    eprintln!(
        "1 h of 48 kHz stereo: wrote input in {:.1} s, pipeline in {:.1} s ({:.0}x real time), peak RSS {} MB",
        written.as_secs_f64(),
        processed.as_secs_f64(),
        stats.realtime_factor(),
        peak_kb.map_or("?".to_string(), |k| (k / 1024).to_string())
    );
    if let Some(peak_kb) = peak_kb {
        assert!(peak_kb < MAX_PEAK_RSS_KB, "peak RSS {peak_kb} kB >= {MAX_PEAK_RSS_KB} kB");
    } else {
        eprintln!("/proc/self/status not available; memory bound not checked");
    }
    // TempDir removes both files.
}
