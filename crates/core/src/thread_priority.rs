//! Real-time scheduling for the threads that carry audio: the audio
//! callback's thread, the clocked backend's thread and processor worker
//! threads (`enhance`). One helper for every crate.
//!
//! Audio servers run their mixing threads under a real-time policy
//! (PulseAudio's sink threads: `SCHED_RR` priority 5). A client thread left
//! at the normal policy competes with every runnable thread, so on a loaded
//! machine it can be kept off the CPU for several buffer periods. The
//! platform mechanisms come from the `audio_thread_priority` crate (Mozilla's,
//! used by Firefox/cubeb): RealtimeKit over D-Bus on desktop Linux (where
//! `sched_setscheduler` is refused to unprivileged processes), Mach time
//! constraint policy on macOS, MMCSS on Windows.
//!
//! On Linux a process that holds `CAP_SYS_NICE` or a non-zero
//! `RLIMIT_RTPRIO` (servers, containers, root in CI) has no RealtimeKit
//! daemon to ask, so the direct `SCHED_FIFO` request is tried first, at
//! [`AUDIO_THREAD_PRIORITY`] (one step below PulseAudio's threads, so the
//! server still preempts ours); RealtimeKit second.
//!
//! # Real-time safety
//! [`ThreadHandle::current`] is a few non-blocking system calls without
//! allocation: an audio callback calls it once and hands the handle to a
//! control thread through a lock-free queue. [`promote`] may talk D-Bus
//! (blocking, allocating): never call it on an audio callback.

/// Real-time priority asked for with `SCHED_FIFO` (1-99): below
/// PulseAudio's sink threads (5), above every normal thread.
pub const AUDIO_THREAD_PRIORITY: i32 = 4;

/// How a thread got real-time scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// It did not (refused, or not asked for).
    #[default]
    None,
    /// Linux `sched_setscheduler(SCHED_FIFO)` (privileged processes).
    SchedFifo,
    /// Linux RealtimeKit over D-Bus (desktop sessions).
    Rtkit,
    /// macOS time-constraint policy or Windows MMCSS.
    Platform,
}

impl Mechanism {
    /// `"none"`, `"sched_fifo"`, `"rtkit"` or `"platform"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::None => "none",
            Mechanism::SchedFifo => "sched_fifo",
            Mechanism::Rtkit => "rtkit",
            Mechanism::Platform => "platform",
        }
    }

    /// The inverse of [`as_str`](Mechanism::as_str) as a small code (for
    /// atomics): 0 none, 1 sched_fifo, 2 rtkit, 3 platform.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// From [`code`](Mechanism::code); unknown codes are `None`.
    pub fn from_code(code: u8) -> Mechanism {
        match code {
            1 => Mechanism::SchedFifo,
            2 => Mechanism::Rtkit,
            3 => Mechanism::Platform,
            _ => Mechanism::None,
        }
    }
}

/// A thread, captured on that thread, that another thread can promote.
#[derive(Clone, Copy)]
pub struct ThreadHandle {
    #[cfg(target_os = "linux")]
    tid: libc::pid_t,
    #[cfg(target_os = "linux")]
    info: audio_thread_priority::RtPriorityThreadInfo,
}

impl std::fmt::Debug for ThreadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ThreadHandle");
        #[cfg(target_os = "linux")]
        d.field("tid", &self.tid);
        d.finish()
    }
}

impl ThreadHandle {
    /// The calling thread; `None` where a thread cannot be promoted from
    /// another one (macOS, Windows: promote there with [`promote_current`]
    /// on the thread itself, or rely on the host, whose audio threads
    /// already run at real-time priority).
    ///
    /// # Real-time safety
    /// `gettid`, `getpid`, `pthread_self`, `pthread_getschedparam`: no
    /// allocation, no blocking.
    #[cfg(target_os = "linux")]
    pub fn current() -> Option<ThreadHandle> {
        // SAFETY: gettid takes no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
        audio_thread_priority::get_current_thread_info()
            .ok()
            .map(|info| ThreadHandle { tid, info })
    }

    /// See the Linux version.
    #[cfg(not(target_os = "linux"))]
    pub fn current() -> Option<ThreadHandle> {
        None
    }
}

/// Asks for real-time scheduling of `thread` (from any thread of the same
/// process): `SCHED_FIFO` at `priority` (1-99; [`AUDIO_THREAD_PRIORITY`]
/// for audio callbacks, lower for worker threads), else RealtimeKit (which
/// picks its own priority), sized for `buffer_frames` at `sample_rate` Hz.
/// Returns what was granted.
///
/// # Real-time safety
/// Not real-time safe (D-Bus round trip): call it from a control thread.
#[cfg(target_os = "linux")]
pub fn promote(thread: ThreadHandle, priority: i32, buffer_frames: u32, sample_rate: u32) -> Mechanism {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: sched_setscheduler on a thread id of this process with a
    // fully initialised parameter that outlives the call. SCHED_RESET_ON_FORK
    // keeps processes started from the thread at the normal policy.
    let rc = unsafe {
        libc::sched_setscheduler(thread.tid, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc == 0 {
        return Mechanism::SchedFifo;
    }
    match audio_thread_priority::promote_thread_to_real_time(thread.info, buffer_frames.max(1), sample_rate.max(1)) {
        Ok(_) => Mechanism::Rtkit,
        Err(_) => Mechanism::None,
    }
}

/// See the Linux version (unreachable elsewhere: no [`ThreadHandle`]).
#[cfg(not(target_os = "linux"))]
pub fn promote(_thread: ThreadHandle, _priority: i32, _buffer_frames: u32, _sample_rate: u32) -> Mechanism {
    Mechanism::None
}

/// Asks for real-time scheduling of the calling thread (a worker or clock
/// thread resonode owns, before its loop starts) at `priority` (see
/// [`promote`]; macOS and Windows use their own levels). Returns what was
/// granted.
///
/// # Real-time safety
/// Not real-time safe (see [`promote`]).
pub fn promote_current(priority: i32, buffer_frames: u32, sample_rate: u32) -> Mechanism {
    #[cfg(target_os = "linux")]
    {
        match ThreadHandle::current() {
            Some(t) => promote(t, priority, buffer_frames, sample_rate),
            None => Mechanism::None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = priority;
        // The handle restores the old policy when handed back; the thread
        // keeps its promotion for its whole life, so it is not kept.
        match audio_thread_priority::promote_current_thread_to_real_time(buffer_frames.max(1), sample_rate.max(1)) {
            Ok(handle) => {
                std::mem::forget(handle);
                Mechanism::Platform
            }
            Err(_) => Mechanism::None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_promoted_from_another_or_refused_consistently() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            // Capturing the handle must not allocate (audio callbacks do it).
            let h = assert_no_alloc::assert_no_alloc(ThreadHandle::current);
            tx.send(h).unwrap();
            done_rx.recv().unwrap();
            let rt = current_thread_is_realtime();
            // A thread started from a promoted one runs at the normal policy.
            std::thread::spawn(|| assert!(!current_thread_is_realtime())).join().unwrap();
            rt
        });
        let handle = rx.recv().unwrap();
        let granted = match handle {
            Some(h) => promote(h, AUDIO_THREAD_PRIORITY, 512, 48000),
            None => Mechanism::None,
        };
        done_tx.send(()).unwrap();
        let rt = t.join().unwrap();
        assert_eq!(rt, granted != Mechanism::None, "granted {granted:?}, thread realtime {rt}");
        assert_eq!(Mechanism::from_code(granted.code()), granted);
    }
}
