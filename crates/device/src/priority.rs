//! Real-time scheduling for the threads that run audio callbacks.
//!
//! Audio servers run their mixing threads with a real-time policy
//! (PulseAudio's sink threads: `SCHED_RR` priority 5; JACK and PipeWire
//! higher). A client callback thread left at the normal policy competes with
//! every other runnable thread, so on a loaded 2-core machine it can be kept
//! off the CPU for several buffer periods: the callback is late and the
//! duplex queue runs dry. Like JACK clients and cubeb, resonode asks the OS
//! for `SCHED_FIFO` on each audio thread, one step below the server's
//! threads so the server still preempts it.
//!
//! The request is made once per thread, on the first callback (cpal's hosts
//! create the threads, so the callback is the first place resonode runs on
//! them).
//!
//! On cpal's PulseAudio host that thread is the protocol client's socket
//! thread, which also does the client's protocol work (47 % of a core at
//! 256 frames, beside a callback load of 1.3 %), so promoting it also
//! raises that work above the server's main thread (normal policy). It is
//! still promoted: on 2026-12-03, with vs without, one machine, side by
//! side, the bench's gain-only duplex job at 256 frames with JS busy had 42
//! vs 372 output glitches and the 8-processor duplex at 64 frames 10 vs 289
//! xruns. Without it, fewer full runs of the live tests saw the server
//! stall (0 of 8 vs 4 of 7); those tests measure again after a stall. It is one non-blocking system call that does not allocate; when it
//! is refused (no `CAP_SYS_NICE`, `RLIMIT_RTPRIO` 0, a container without the
//! capability) the thread simply stays at the normal policy and
//! [`crate::EngineStats::realtime_threads`] says so.

/// Real-time priority requested for audio threads (`SCHED_FIFO`, 1-99):
/// below PulseAudio's sink threads (5), above every normal thread.
pub const AUDIO_THREAD_PRIORITY: i32 = 4;

/// Asks for `SCHED_FIFO` at `priority` for the calling thread (with
/// `SCHED_RESET_ON_FORK`, so processes it starts do not inherit it).
/// Returns whether the OS granted it.
///
/// # Real-time safety
/// One non-blocking system call; no allocation, no lock. Meant for the
/// first callback on an audio thread.
#[cfg(target_os = "linux")]
pub fn promote_current_thread(priority: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: sched_setscheduler with pid 0 acts on the calling thread; the
    // parameter struct is fully initialised and outlives the call.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    rc == 0
}

/// Real-time scheduling is only requested on Linux; elsewhere the hosts
/// (CoreAudio, WASAPI through cpal) already run their callbacks at
/// real-time priority.
#[cfg(not(target_os = "linux"))]
pub fn promote_current_thread(_priority: i32) -> bool {
    false
}

/// Whether the calling thread runs under a real-time policy.
#[cfg(target_os = "linux")]
pub fn current_thread_is_realtime() -> bool {
    // SAFETY: sched_getscheduler(0) only reads the calling thread's policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    policy >= 0 && matches!(policy & !libc::SCHED_RESET_ON_FORK, libc::SCHED_FIFO | libc::SCHED_RR)
}

/// See the Linux version.
#[cfg(not(target_os = "linux"))]
pub fn current_thread_is_realtime() -> bool {
    false
}

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

    #[test]
    fn promotion_is_granted_or_refused_without_side_effects() {
        std::thread::spawn(|| {
            let granted = promote_current_thread(AUDIO_THREAD_PRIORITY);
            assert_eq!(granted, current_thread_is_realtime());
            // A thread started from a promoted one runs at the normal policy.
            std::thread::spawn(|| assert!(!current_thread_is_realtime()))
                .join()
                .unwrap();
            // The promotion itself does not allocate (the guard aborts).
            assert_no_alloc::assert_no_alloc(|| promote_current_thread(AUDIO_THREAD_PRIORITY));
        })
        .join()
        .unwrap();
    }
}
