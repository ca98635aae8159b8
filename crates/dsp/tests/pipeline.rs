//! A registry-built chain driven by the core pipeline: the two-pass
//! `normalize` sees the signal after the processors before it, and the
//! limiter after it holds its ceiling, on a rewindable in-memory source.

mod common;

use common::noise;
use resonode_core::pipeline::{run, Control, PipelineOptions, Sink, Source};
use resonode_core::{AudioBlock, AudioBuffer, Result};
use resonode_dsp::parse_chain;

struct Memory {
    data: AudioBuffer,
    pos: usize,
}

impl Source for Memory {
    fn sample_rate(&self) -> u32 {
        48_000
    }
    fn channels(&self) -> usize {
        self.data.channels()
    }
    fn total_frames(&self) -> Option<u64> {
        Some(self.data.frames() as u64)
    }
    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        let n = buf.capacity().min(self.data.frames() - self.pos);
        buf.set_frames(n);
        for c in 0..self.data.channels() {
            buf.channel_mut(c)
                .copy_from_slice(&self.data.channel(c)[self.pos..self.pos + n]);
        }
        self.pos += n;
        Ok(n)
    }
    fn can_rewind(&self) -> bool {
        true
    }
    fn rewind(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

#[derive(Default)]
struct Collect(Vec<Vec<f32>>);

impl Sink for Collect {
    fn open(&mut self, _: u32, channels: usize) -> Result<()> {
        self.0 = vec![Vec::new(); channels];
        Ok(())
    }
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        for (c, ch) in block.iter().enumerate() {
            self.0[c].extend_from_slice(ch);
        }
        Ok(())
    }
    fn finalize(&mut self) -> Result<()> {
        Ok(())
    }
}

fn peak_db(channels: &[Vec<f32>]) -> f64 {
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max((*v as f64).abs()));
    20.0 * peak.log10()
}

#[test]
fn normalize_in_a_chain_hits_its_target_through_the_pipeline() {
    let mut chain = parse_chain("highpass(50) gain(-12db) normalize(-3db)").unwrap();
    let mut source = Memory {
        data: noise(42, 0.5, 2, 30_000),
        pos: 0,
    };
    let mut sink = Collect::default();
    let options = PipelineOptions { chunk_frames: 1000 };
    let stats = run(
        &mut source,
        &mut chain,
        &mut sink,
        &options,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(stats.frames_processed, 30_000);
    let got = peak_db(&sink.0);
    assert!((got + 3.0).abs() < 0.01, "peak {got} dBFS");
}

#[test]
fn a_limiter_after_a_boost_holds_its_ceiling_through_the_pipeline() {
    let mut chain = parse_chain("gain(+24db) reverb(0.8) limiter(-1db, 30ms)").unwrap();
    let mut source = Memory {
        data: noise(43, 0.9, 2, 48_000),
        pos: 0,
    };
    let mut sink = Collect::default();
    let options = PipelineOptions { chunk_frames: 777 };
    run(
        &mut source,
        &mut chain,
        &mut sink,
        &options,
        &Control::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(peak_db(&sink.0) <= -1.0, "{}", peak_db(&sink.0));
    assert!(peak_db(&sink.0) > -1.5);
}
