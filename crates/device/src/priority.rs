//! Scheduling of the threads that run audio callbacks, and their CPU clock.
//!
//! Promotion itself is [`resonode_core::thread_priority`] (one helper for
//! every crate; RealtimeKit, `SCHED_FIFO`, Mach, MMCSS through the
//! `audio_thread_priority` crate). cpal's hosts create the callback threads,
//! so the first callback on each is the first place resonode runs on them:
//! it captures a [`ThreadHandle`] (no allocation, no blocking) and queues it
//! for the engine's control thread, which asks for the promotion (a D-Bus
//! round trip with RealtimeKit: never on the audio thread). The clocked
//! `none` backend's thread promotes itself before its loop.
//!
//! Why promote at all: on cpal's PulseAudio host the callback thread is the
//! protocol client's socket thread. On 2026-12-03, with vs without
//! promotion, one machine, side by side, the bench's gain-only duplex job
//! at 256 frames with JS busy had 42 vs 372 output glitches and the
//! 8-processor duplex at 64 frames 10 vs 289 xruns. When the OS refuses (no
//! `CAP_SYS_NICE`, `RLIMIT_RTPRIO` 0, no RealtimeKit) the thread stays at
//! the normal policy and [`crate::EngineStats::realtime_threads`] says so.

pub use resonode_core::thread_priority::{
    current_thread_is_realtime, promote, promote_current, Mechanism, ThreadHandle,
    AUDIO_THREAD_PRIORITY,
};

/// CPU time the calling thread has used, in seconds (`None` where the
/// platform has no per-thread CPU clock). Tells a callback that computed too
/// long from one that was kept off the CPU.
///
/// # Real-time safety
/// One non-blocking `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`; no allocation.
#[cfg(target_os = "linux")]
#[inline]
pub fn thread_cpu_time() -> Option<f64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// See the Linux version.
#[cfg(not(target_os = "linux"))]
#[inline]
pub fn thread_cpu_time() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_cpu_clock_counts_work_not_sleep() {
        let a = thread_cpu_time().expect("a thread CPU clock on Linux");
        std::thread::sleep(std::time::Duration::from_millis(30));
        let b = thread_cpu_time().unwrap();
        // Spin until the clock shows 20 ms of work. Bounded by wall time
        // rather than spinning a fixed wall time: on a loaded machine the
        // thread gets only part of each wall-clock millisecond.
        let mut x = 0u64;
        let t = std::time::Instant::now();
        let mut c = b;
        while c - b < 0.02 && t.elapsed() < std::time::Duration::from_secs(5) {
            for _ in 0..10_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            c = thread_cpu_time().unwrap();
        }
        let wall = t.elapsed().as_secs_f64();
        assert!(b - a < 0.01, "sleeping used {} s of CPU", b - a);
        assert!(c - b >= 0.02, "spinning for {wall} s used only {} s of CPU ({x})", c - b);
        // One thread's CPU time cannot run ahead of the wall clock.
        assert!(c - b <= wall + 1e-3, "{} s of CPU in {wall} s", c - b);
    }
}
