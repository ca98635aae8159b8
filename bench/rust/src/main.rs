//! Times resonode-dsp in Rust on planar f32 audio read from a raw file.
//!
//! ```text
//! resonode-bench lowpass <in.f32> <out.f32> <channels> <reps> <block_frames> <cutoff_hz> <order>
//! resonode-bench chain   <in.f32> <out.f32> <channels> <reps> <block_frames> <chain string>
//! ```
//! `<in.f32>` holds planar little-endian f32 samples (channel 0, then
//! channel 1, ...), 48 kHz. Every repetition starts from a fresh copy of the
//! input and a freshly prepared processor; only the `process` calls are
//! timed. The output of the last repetition is written to `<out.f32>` in the
//! same layout. Prints one JSON object on stdout.
use std::time::Instant;

use resonode_core::{AudioBlockMut, Processor, StreamSpec};

const SAMPLE_RATE: u32 = 48_000;

fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn write_f32(path: &str, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 8 {
        eprintln!("usage: resonode-bench lowpass|chain <in.f32> <out.f32> <channels> <reps> <block_frames> <cutoff order | chain>");
        std::process::exit(2);
    }
    let mode = args[1].as_str();
    let input = read_f32(&args[2]);
    let channels: usize = args[4].parse().expect("channels");
    let reps: usize = args[5].parse().expect("reps");
    let block: usize = args[6].parse().expect("block_frames");
    assert!(input.len() % channels == 0, "input length is not a multiple of the channel count");
    let frames = input.len() / channels;
    let spec = StreamSpec { sample_rate: SAMPLE_RATE, channels, max_block_frames: block };

    // A fresh, prepared processor for every repetition.
    let make = || -> Box<dyn FnMut(&mut AudioBlockMut<'_>)> {
        match mode {
            "lowpass" => {
                let cutoff: f64 = args[7].parse().expect("cutoff");
                let order: usize = args.get(8).map_or(8, |s| s.parse().expect("order"));
                let mut lp = resonode_dsp::LowPass::new(cutoff, order).expect("lowpass");
                lp.prepare(&spec).expect("prepare");
                Box::new(move |b| lp.process(b))
            }
            "chain" => {
                let mut chain = resonode_dsp::parse_chain(&args[7]).expect("chain");
                chain.prepare(&spec).expect("prepare");
                Box::new(move |b| chain.process(b))
            }
            other => panic!("unknown mode {other}"),
        }
    };

    let mut times = Vec::with_capacity(reps);
    let mut data = Vec::new();
    for _ in 0..reps {
        data.clear();
        data.extend_from_slice(&input);
        let mut process = make();
        let mut whole = AudioBlockMut::new(&mut data, channels, frames, frames);
        let t0 = Instant::now();
        let mut start = 0;
        while start < frames {
            let n = block.min(frames - start);
            process(&mut whole.slice_mut(start, n));
            start += n;
        }
        times.push(t0.elapsed().as_secs_f64());
    }
    write_f32(&args[3], &data);
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = sorted[sorted.len() / 2];
    let samples = (frames * channels) as f64;
    println!(
        "{{\"times_s\":{:?},\"median_s\":{},\"ns_per_sample\":{},\"frames\":{},\"channels\":{}}}",
        times,
        median,
        median * 1e9 / samples,
        frames,
        channels
    );
}
