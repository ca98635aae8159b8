//! `LiveEnhancer::process` (the part of `enhance` that runs in the audio
//! callback) never allocates: blocks of every size from 1 to the maximum,
//! with the worker keeping up, falling behind (underruns: silence and late
//! frames skipped) and stalled long enough that its input ring overflows
//! (gaps), and parameter changes in between. This binary's global allocator
//! aborts on any allocation inside `assert_no_alloc`; the worker thread,
//! outside the guard, allocates freely (ONNX Runtime).
mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use resonode_core::{AudioBuffer, Processor, StreamSpec};
use resonode_ml::live::{LiveEnhancer, LiveOptions};

use common::Rng;

#[global_allocator]
static ALLOC_GUARD: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;
const MAX_BLOCK: usize = 1024;

#[test]
fn process_never_allocates_for_blocks_of_any_size_through_underruns_and_gaps() {
    let mut p = LiveEnhancer::new(LiveOptions::default()).unwrap();
    p.prepare(&StreamSpec { sample_rate: RATE, channels: 2, max_block_frames: MAX_BLOCK }).unwrap();
    let stats = p.stats();
    let latency = p.latency_frames().unwrap();
    let mut buf = AudioBuffer::new(2, MAX_BLOCK);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let fill = |buf: &mut AudioBuffer, rng: &mut Rng, n: usize| {
        buf.set_frames(n);
        for c in 0..2 {
            for s in buf.channel_mut(c).iter_mut() {
                *s = 0.3 * rng.uniform();
            }
        }
        // A non-finite sample must not reach the model (it would fail).
        if n > 3 {
            buf.channel_mut(1)[3] = f32::NAN;
        }
    };

    // 1. Faster than real time: 5 s of audio at once. The worker falls
    //    behind (underruns) and, once the input ring's second is full, its
    //    input overflows (gaps).
    let mut frames = 0usize;
    let mut blocks = 0usize;
    while frames < 5 * RATE as usize {
        let n = (rng.next() % MAX_BLOCK as u64) as usize + 1;
        fill(&mut buf, &mut rng, n);
        if blocks.is_multiple_of(50) {
            let mix = (blocks / 50 % 3) as f64 * 0.5;
            assert_no_alloc(|| p.set_parameter("mix", mix).unwrap());
        }
        assert_no_alloc(|| p.process(&mut buf.as_block_mut()));
        assert!(buf.channel(0).iter().chain(buf.channel(1)).all(|s| s.is_finite()));
        frames += n;
        blocks += 1;
    }
    assert!(stats.underruns.load(Ordering::Relaxed) > 0, "the worker cannot keep up with 5 s in no time");
    assert!(stats.dropped_frames.load(Ordering::Relaxed) > 0, "the input ring holds only a second");

    // 2. Paced like an audio device (sizes still varying), so enhanced audio
    //    flows back through the same path.
    assert_no_alloc(|| p.set_parameter("mix", 1.0).unwrap());
    let started = Instant::now();
    let mut paced = 0usize;
    let mut loud = 0.0f32;
    while paced < 2 * RATE as usize {
        let n = (rng.next() % 256) as usize + 1;
        fill(&mut buf, &mut rng, n);
        assert_no_alloc(|| p.process(&mut buf.as_block_mut()));
        loud = buf.channel(0).iter().fold(loud, |m, s| m.max(s.abs()));
        paced += n;
        let due = started + Duration::from_secs_f64(paced as f64 / f64::from(RATE));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        blocks += 1;
    }
    assert!(loud > 0.0, "enhanced audio came back");
    println!(
        "{blocks} blocks of 1..={MAX_BLOCK} frames without allocating; P = {latency} frames; \
         underruns {}, underrun frames {}, dropped input frames {}, worker errors {}",
        stats.underruns.load(Ordering::Relaxed),
        stats.underrun_frames.load(Ordering::Relaxed),
        stats.dropped_frames.load(Ordering::Relaxed),
        stats.worker_errors.load(Ordering::Relaxed),
    );
    assert_eq!(stats.worker_errors.load(Ordering::Relaxed), 0, "non-finite input is replaced before the model");
    // Dropping joins the worker (outside the guard: not real-time safe).
    drop(p);
}
