//! Times an 8th-order Butterworth lowpass on 2 channels x 60 s at 48 kHz,
//! the workload `scipy.signal.sosfilt` is compared against. Reports; does
//! not assert.
//!
//! `cargo run --release -p resonode-dsp --example butterworth_speed [block] [order]`

use std::time::Instant;

use resonode_core::{AudioBuffer, Processor, StreamSpec};
use resonode_dsp::LowPass;

fn main() {
    let mut args = std::env::args().skip(1);
    let block: usize = args.next().map_or(1024, |a| a.parse().expect("block size"));
    let order: usize = args.next().map_or(8, |a| a.parse().expect("order"));
    let (fs, channels, frames) = (48_000u32, 2usize, 60 * 48_000usize);
    let mut seed = 1u32;
    let chans: Vec<Vec<f32>> = (0..channels)
        .map(|_| {
            (0..frames)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                })
                .collect()
        })
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let mut buf = AudioBuffer::from_planar(&chans).unwrap();
        let mut lp = LowPass::new(1000.0, order).unwrap();
        lp.prepare(&StreamSpec {
            sample_rate: fs,
            channels,
            max_block_frames: block,
        })
        .unwrap();
        let t = Instant::now();
        let mut whole = buf.as_block_mut();
        let mut start = 0;
        while start < frames {
            let len = block.min(frames - start);
            lp.process(&mut whole.slice_mut(start, len));
            start += len;
        }
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&buf);
    }
    let samples = (frames * channels) as f64;
    println!(
        "order {order}, block {block}: {:.1} ms for 2 ch x 60 s, {:.2} ns/sample, {:.0}x real time",
        best * 1e3,
        best * 1e9 / samples,
        60.0 / best
    );
}
