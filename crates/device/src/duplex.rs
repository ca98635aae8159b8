//! The duplex queue: captured frames wait here between the input callback
//! and the output callback of a duplex engine.
//!
//! Input and output are two streams with their own callbacks (cpal has no
//! duplex stream), so the queue is a jitter buffer. Captured audio arrives
//! in bursts (PulseAudio's monitor sources deliver a fragment at a time, a
//! late output callback is followed by a double-sized request), and the
//! queue must hold enough to ride over them without adding more latency
//! than needed. The policy, the usual one for adaptive playout buffers
//! (e.g. WebRTC's NetEq, JACK's `alsa_in`):
//!
//! - **Priming.** Output stays silent until the queue holds the request plus
//!   the *prime* (the [`LatencyHint`]'s buffers): capture often starts later
//!   than playback.
//! - **Underrun.** When a request finds fewer frames than it needs, the
//!   rest is silence, the event is counted, the prime grows by one buffer
//!   (up to a cap) and the queue primes again.
//! - **Excess.** The smallest surplus (frames queued beyond the request)
//!   seen at the output callbacks over one second is latency the jitter
//!   never used. When it exceeds the prime by more than two buffers (clock
//!   drift between devices, or an output stall whose capture piled up), the
//!   excess is dropped and counted as a drift correction (not an xrun: no
//!   callback missed its deadline). A momentary backlog alone is never
//!   dropped: it is the normal other half of a burst.

use resonode_core::ring::Consumer;

use crate::config::LatencyHint;

/// What a [`DuplexQueue::fill`] put in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Still priming: silence.
    Priming,
    /// All frames came from the queue.
    Full,
    /// The queue ran dry: the rest is silence (an underrun).
    Short,
}

/// The jitter buffer between a duplex engine's input and output callbacks.
/// Interleaved frames of the input's channel count.
pub(crate) struct DuplexQueue {
    queue: Consumer,
    /// Frames kept queued beyond a request once primed.
    prime: usize,
    /// The prime never grows past this.
    max_prime: usize,
    /// Growth step after an underrun: one buffer.
    buffer: usize,
    primed: bool,
    /// Output frames per excess-measuring window (one second).
    window: usize,
    window_pos: usize,
    /// Smallest surplus seen in the current window.
    window_min: usize,
}

impl DuplexQueue {
    /// A queue reading from `queue`, with `buffer`-frame callbacks at
    /// `sample_rate` Hz and the prime `latency` asks for.
    pub(crate) fn new(
        queue: Consumer,
        buffer: usize,
        latency: LatencyHint,
        sample_rate: u32,
    ) -> Self {
        // Built on the control thread; nothing below `new` logs (callback path).
        log::debug!(
            target: crate::devices::LOG,
            "duplex queue: {buffer}-frame callbacks, prime {} frames, at most {} frames kept",
            latency.prime_buffers() * buffer,
            latency.max_backlog_buffers() * buffer
        );
        DuplexQueue {
            queue,
            prime: latency.prime_buffers() * buffer,
            max_prime: latency.max_backlog_buffers() * buffer,
            buffer,
            primed: false,
            window: sample_rate as usize,
            window_pos: 0,
            window_min: usize::MAX,
        }
    }

    /// Frames a queue for this configuration must be able to hold: the
    /// largest prime, the drop threshold, a burst, and half a second of
    /// stalled output before capture is lost.
    pub(crate) fn capacity(
        buffer: usize,
        latency: LatencyHint,
        sample_rate: u32,
        chunk: usize,
    ) -> usize {
        (latency.max_backlog_buffers() + 4) * buffer + 2 * chunk + sample_rate as usize / 2
    }

    /// Frames currently kept beyond a request.
    pub(crate) fn prime(&self) -> usize {
        self.prime
    }

    /// Frames waiting now.
    pub(crate) fn backlog(&mut self) -> usize {
        self.queue.available()
    }

    /// At the start of an output callback asking for `frames`: watches the
    /// surplus and drops a lasting excess. Returns the frames dropped.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    pub(crate) fn begin(&mut self, frames: usize) -> usize {
        if !self.primed {
            return 0;
        }
        let surplus = self.queue.available().saturating_sub(frames);
        self.window_min = self.window_min.min(surplus);
        self.window_pos += frames;
        if self.window_pos < self.window {
            return 0;
        }
        let min = self.window_min;
        self.window_pos = 0;
        self.window_min = usize::MAX;
        if min > self.prime + 2 * self.buffer {
            self.queue.skip(min - self.prime)
        } else {
            0
        }
    }

    /// Fills `buf` (`buf.len() / channels` frames) from the queue.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    pub(crate) fn fill(&mut self, buf: &mut [f32], channels: usize) -> Fill {
        let n = buf.len() / channels;
        if !self.primed {
            if self.queue.available() >= n + self.prime {
                self.primed = true;
                self.window_pos = 0;
                self.window_min = usize::MAX;
            } else {
                buf.fill(0.0);
                return Fill::Priming;
            }
        }
        let got = self.queue.read(buf);
        if got == n {
            return Fill::Full;
        }
        buf[got * channels..].fill(0.0);
        self.primed = false;
        self.prime = (self.prime + self.buffer).min(self.max_prime);
        Fill::Short
    }

    /// Empties the queue and primes again (for a restarted stream; the
    /// input side must not be running).
    pub(crate) fn restart(&mut self) {
        while self.queue.skip(usize::MAX) > 0 {}
        self.primed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resonode_core::ring::{self, Producer};

    fn setup(latency: LatencyHint) -> (Producer, DuplexQueue) {
        let (tx, rx) = ring::channel(DuplexQueue::capacity(64, latency, 1000, 64), 1);
        (tx, DuplexQueue::new(rx, 64, latency, 1000))
    }

    /// One output callback of `n` frames; returns what it played.
    fn out(q: &mut DuplexQueue, n: usize) -> (Fill, Vec<f32>) {
        let mut buf = vec![0.0; n];
        q.begin(n);
        let f = q.fill(&mut buf, 1);
        (f, buf)
    }

    fn ramp(from: usize, n: usize) -> Vec<f32> {
        (from..from + n).map(|i| i as f32).collect()
    }

    #[test]
    fn primes_then_plays_in_order() {
        let (mut tx, mut q) = setup(LatencyHint::Balanced);
        tx.write(&ramp(1, 64));
        assert_eq!(out(&mut q, 64).0, Fill::Priming);
        tx.write(&ramp(65, 128));
        // 192 queued = request + prime (2 x 64).
        let (f, b) = out(&mut q, 64);
        assert_eq!((f, b[0], b[63]), (Fill::Full, 1.0, 64.0));
        assert_eq!(q.backlog(), 128);
    }

    #[test]
    fn a_burst_within_the_prime_is_ridden_over() {
        let (mut tx, mut q) = setup(LatencyHint::Balanced);
        tx.write(&ramp(0, 192));
        let mut next = 192;
        // Input stalls for two callbacks, then delivers three buffers at once.
        for stalled in [true, true, false] {
            let (f, _) = out(&mut q, 64);
            assert_eq!(f, Fill::Full);
            if !stalled {
                tx.write(&ramp(next, 192));
                next += 192;
            }
        }
        assert_eq!(q.backlog(), 192);
    }

    #[test]
    fn an_underrun_plays_what_is_there_then_grows_the_prime() {
        let (mut tx, mut q) = setup(LatencyHint::Low);
        tx.write(&ramp(1, 128));
        assert_eq!(out(&mut q, 64).0, Fill::Full);
        tx.write(&ramp(129, 30));
        // 64 queued: the next request is full, the one after it short.
        assert_eq!(out(&mut q, 64).0, Fill::Full);
        let (f, b) = out(&mut q, 64);
        assert_eq!(f, Fill::Short);
        assert_eq!((b[29], b[30]), (158.0, 0.0));
        assert_eq!(q.prime(), 128);
        // Primes again at the larger level: request + 128.
        tx.write(&ramp(159, 191));
        assert_eq!(out(&mut q, 64).0, Fill::Priming);
        tx.write(&ramp(350, 1));
        let (f, b) = out(&mut q, 64);
        assert_eq!((f, b[0]), (Fill::Full, 159.0));
        // The prime has a cap (max backlog: 3 buffers for `low`).
        for _ in 0..10 {
            while out(&mut q, 64).0 != Fill::Short {}
            tx.write(&ramp(0, 1000));
        }
        assert_eq!(q.prime(), 3 * 64);
    }

    #[test]
    fn a_lasting_excess_is_dropped_a_momentary_backlog_is_not() {
        let (mut tx, mut q) = setup(LatencyHint::Balanced);
        tx.write(&ramp(0, 192));
        // A momentary backlog of 10 buffers that is played down within the
        // window: nothing dropped.
        tx.write(&ramp(0, 640));
        let mut dropped = 0;
        for i in 0..40 {
            dropped += q.begin(64);
            let mut buf = [0.0; 64];
            q.fill(&mut buf, 1);
            if i >= 10 {
                tx.write(&ramp(0, 64));
            }
        }
        assert_eq!(dropped, 0);
        // Input running ahead: 6 extra buffers that never drain. After one
        // window (1000 frames) the surplus above the prime goes.
        tx.write(&ramp(0, 384));
        for _ in 0..40 {
            dropped += q.begin(64);
            let mut buf = [0.0; 64];
            assert_eq!(q.fill(&mut buf, 1), Fill::Full);
            tx.write(&ramp(0, 64));
        }
        assert!(dropped >= 384, "dropped {dropped}");
        assert_eq!(q.backlog(), 128 + 64);
    }
}
