//! The per-frame path allocates nothing on the Rust side once warmed up:
//! model inputs and outputs (including the caches) live in preallocated,
//! double-buffered tensors. (ONNX Runtime's own C++ allocations for
//! intermediates come from its arena and are not counted here; inference
//! never runs on the audio thread either way.)
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use resonode_ml::gtcrn::{EnhancerOptions, GtcrnSession, StreamingEnhancer, FRAME_VALUES, HOP};
use resonode_ml::runtime::SessionOptions;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, COUNT.with(|c| c.get()))
}

#[test]
fn frames_and_16_khz_streaming_hops_do_not_allocate_after_warm_up() {
    let opts =
        EnhancerOptions { session: SessionOptions { intra_threads: 1, ..Default::default() }, ..Default::default() };
    let mut s = GtcrnSession::load(&opts).unwrap();
    let mix: Vec<f32> = (0..FRAME_VALUES).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut out = vec![0.0; FRAME_VALUES];
    for _ in 0..10 {
        s.run_frame(0, &mix, &mut out).unwrap();
    }
    let (_, n) = count(|| {
        for _ in 0..100 {
            s.run_frame(0, &mix, &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in 100 frames");

    // The whole per-hop path at 16 kHz: push one hop, pull what is ready.
    let mut st = StreamingEnhancer::with_session(s, Default::default(), 16000, 1).unwrap();
    let x: Vec<f32> = (0..HOP * 200).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
    let mut y = vec![0.0f32; HOP];
    for hop in x.chunks(HOP).take(20) {
        st.push(&[hop]).unwrap();
        st.pull(&mut [&mut y[..]]).unwrap();
    }
    let (_, n) = count(|| {
        for hop in x.chunks(HOP).skip(20) {
            st.push(&[hop]).unwrap();
            assert_eq!(st.pull(&mut [&mut y[..]]).unwrap(), HOP);
        }
    });
    assert_eq!(n, 0, "{n} allocations in 180 hops");
}
