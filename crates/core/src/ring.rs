//! A lock-free single-producer single-consumer ring buffer of interleaved
//! `f32` frames, or of any other `Copy` item (parameter changes, events) via
//! [`channel_of`].
//!
//! ## Real-time guarantees
//! [`Producer::write`] and [`Consumer::read`] are wait-free: each does a
//! bounded number of atomic loads/stores and copies, never allocates, locks
//! or blocks, so one side can live in an audio callback while the other runs
//! on an ordinary thread. Only [`channel`] and [`channel_of`] allocate.
//!
//! ## Design
//! Two monotonically increasing counters (in samples): `write_pos`, stored
//! only by the producer, and `read_pos`, stored only by the consumer. The
//! producer publishes samples with a `Release` store of `write_pos` after
//! copying them; the consumer `Acquire`-loads it before copying out, and the
//! mirror-image pairing on `read_pos` hands space back. Each side caches the
//! other's counter to avoid touching its cache line on every call. Counters
//! wrap at `usize::MAX`, which `wrapping_sub` makes harmless.

#[cfg(loom)]
use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

#[cfg(loom)]
use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` with loom's closure-based accessors, so the same code
/// is checked by loom's race detector under `--cfg loom`.
#[cfg(not(loom))]
struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    #[inline(always)]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Pads a counter to its own cache line so producer and consumer do not
/// false-share.
#[repr(align(64))]
struct Padded(AtomicUsize);

struct Shared<T> {
    buf: Box<[UnsafeCell<T>]>,
    channels: usize,
    write_pos: Padded,
    read_pos: Padded,
}

// SAFETY: the samples in `buf` are only accessed in disjoint regions: the
// producer writes only slots in [write_pos, read_pos + cap) and the consumer
// reads only [read_pos, write_pos); the counters' Release/Acquire pairs order
// those accesses. So sharing `Shared` between the two threads is sound.
// `T: Send` because items written on one thread are read on the other.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: `Shared` owns its items; sending it sends them (`T: Send`).
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    fn capacity_samples(&self) -> usize {
        self.buf.len()
    }
}

/// Creates a ring buffer holding up to `capacity_frames` frames of
/// `channels` interleaved channels and returns its two ends.
///
/// # Panics
/// If `channels` or `capacity_frames` is 0.
pub fn channel(capacity_frames: usize, channels: usize) -> (Producer, Consumer) {
    channel_of::<f32>(capacity_frames, channels)
}

/// Like [`channel`] for items of any `Copy` type, e.g. parameter-change
/// messages or events (use `channels = 1` for a plain queue of items, with
/// [`Producer::push`] and [`Consumer::pop`]). Slots start as `T::default()`.
///
/// # Panics
/// If `channels` or `capacity_frames` is 0.
pub fn channel_of<T: Copy + Default + Send>(
    capacity_frames: usize,
    channels: usize,
) -> (Producer<T>, Consumer<T>) {
    assert!(channels > 0 && capacity_frames > 0, "ring buffer needs channels and capacity");
    let buf: Box<[UnsafeCell<T>]> =
        (0..capacity_frames * channels).map(|_| UnsafeCell::new(T::default())).collect();
    let shared = Arc::new(Shared {
        buf,
        channels,
        write_pos: Padded(AtomicUsize::new(0)),
        read_pos: Padded(AtomicUsize::new(0)),
    });
    (
        Producer { shared: shared.clone(), cached_read: 0, write: 0 },
        Consumer { shared, cached_write: 0, read: 0 },
    )
}

/// The writing end. `Send`, not `Clone`: exactly one producer exists.
pub struct Producer<T = f32> {
    shared: Arc<Shared<T>>,
    cached_read: usize,
    write: usize,
}

/// The reading end. `Send`, not `Clone`: exactly one consumer exists.
pub struct Consumer<T = f32> {
    shared: Arc<Shared<T>>,
    cached_write: usize,
    read: usize,
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("channels", &self.shared.channels).finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("channels", &self.shared.channels).finish_non_exhaustive()
    }
}

impl<T: Copy> Producer<T> {
    /// Capacity in frames.
    pub fn capacity(&self) -> usize {
        self.shared.capacity_samples() / self.shared.channels
    }
    /// Number of channels per frame.
    pub fn channels(&self) -> usize {
        self.shared.channels
    }
    /// Frames that can be written now.
    pub fn free(&mut self) -> usize {
        self.cached_read = self.shared.read_pos.0.load(Ordering::Acquire);
        (self.shared.capacity_samples() - self.write.wrapping_sub(self.cached_read)) / self.shared.channels
    }

    /// Writes as many whole frames of `interleaved` as fit and returns how
    /// many frames were written. A trailing partial frame is ignored.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    pub fn write(&mut self, interleaved: &[T]) -> usize {
        let ch = self.shared.channels;
        let cap = self.shared.capacity_samples();
        let wanted = interleaved.len() / ch * ch;
        let mut free = cap - self.write.wrapping_sub(self.cached_read);
        if free < wanted {
            self.cached_read = self.shared.read_pos.0.load(Ordering::Acquire);
            free = cap - self.write.wrapping_sub(self.cached_read);
        }
        let n = wanted.min(free);
        let start = self.write % cap;
        let first = n.min(cap - start);
        for (i, &s) in interleaved[..first].iter().enumerate() {
            // SAFETY: slots [write, write + n) are free (n <= free) and only
            // the producer touches free slots; see `Shared`'s Sync argument.
            self.shared.buf[start + i].with_mut(|p| unsafe { *p = s });
        }
        for (i, &s) in interleaved[first..n].iter().enumerate() {
            // SAFETY: as above; these are the wrapped-around free slots.
            self.shared.buf[i].with_mut(|p| unsafe { *p = s });
        }
        self.write = self.write.wrapping_add(n);
        self.shared.write_pos.0.store(self.write, Ordering::Release);
        n / ch
    }

    /// Writes one item into a ring of 1 channel; `false` (and nothing
    /// written) when it is full.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    #[inline]
    pub fn push(&mut self, item: T) -> bool {
        debug_assert_eq!(self.shared.channels, 1, "push is for 1-channel rings");
        self.write(std::slice::from_ref(&item)) == 1
    }
}

impl<T: Copy> Consumer<T> {
    /// Capacity in frames.
    pub fn capacity(&self) -> usize {
        self.shared.capacity_samples() / self.shared.channels
    }
    /// Number of channels per frame.
    pub fn channels(&self) -> usize {
        self.shared.channels
    }
    /// Frames that can be read now.
    pub fn available(&mut self) -> usize {
        self.cached_write = self.shared.write_pos.0.load(Ordering::Acquire);
        self.cached_write.wrapping_sub(self.read) / self.shared.channels
    }

    /// Reads up to `out.len() / channels` frames into `out` (interleaved)
    /// and returns how many frames were read.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    pub fn read(&mut self, out: &mut [T]) -> usize {
        let ch = self.shared.channels;
        let cap = self.shared.capacity_samples();
        let wanted = out.len() / ch * ch;
        let mut avail = self.cached_write.wrapping_sub(self.read);
        if avail < wanted {
            self.cached_write = self.shared.write_pos.0.load(Ordering::Acquire);
            avail = self.cached_write.wrapping_sub(self.read);
        }
        let n = wanted.min(avail);
        let start = self.read % cap;
        let first = n.min(cap - start);
        for (i, o) in out[..first].iter_mut().enumerate() {
            // SAFETY: slots [read, read + n) were published by the producer's
            // Release store that our Acquire load observed; the producer will
            // not touch them until we advance read_pos.
            *o = self.shared.buf[start + i].with(|p| unsafe { *p });
        }
        for (i, o) in out[first..n].iter_mut().enumerate() {
            // SAFETY: as above; these are the wrapped-around filled slots.
            *o = self.shared.buf[i].with(|p| unsafe { *p });
        }
        self.read = self.read.wrapping_add(n);
        self.shared.read_pos.0.store(self.read, Ordering::Release);
        n / ch
    }

    /// Discards up to `frames` frames without reading them and returns how
    /// many were discarded (to drop a backlog without a scratch buffer).
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    pub fn skip(&mut self, frames: usize) -> usize {
        let ch = self.shared.channels;
        self.cached_write = self.shared.write_pos.0.load(Ordering::Acquire);
        let avail = self.cached_write.wrapping_sub(self.read) / ch;
        let n = frames.min(avail);
        self.read = self.read.wrapping_add(n * ch);
        self.shared.read_pos.0.store(self.read, Ordering::Release);
        n
    }

    /// Reads one item from a ring of 1 channel, if there is one.
    ///
    /// # Real-time safety
    /// Wait-free; never allocates.
    #[inline]
    pub fn pop(&mut self) -> Option<T>
    where
        T: Default,
    {
        debug_assert_eq!(self.shared.channels, 1, "pop is for 1-channel rings");
        let mut item = [T::default()];
        (self.read(&mut item) == 1).then_some(item[0])
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_and_reports_free_and_available() {
        let (mut p, mut c) = channel(4, 2);
        assert_eq!(p.free(), 4);
        assert_eq!(p.write(&[1., 1., 2., 2., 3., 3.]), 3);
        assert_eq!(c.available(), 3);
        let mut out = [0.0; 4];
        assert_eq!(c.read(&mut out), 2);
        assert_eq!(out, [1., 1., 2., 2.]);
        // 1 frame left, 3 free: this write wraps around the end.
        assert_eq!(p.write(&[4., 4., 5., 5., 6., 6., 7., 7.]), 3);
        let mut out = [0.0; 8];
        assert_eq!(c.read(&mut out), 4);
        assert_eq!(out, [3., 3., 4., 4., 5., 5., 6., 6.]);
        assert_eq!(c.available(), 0);
    }

    #[test]
    fn skip_discards_whole_frames_up_to_what_is_there() {
        let (mut p, mut c) = channel(4, 2);
        p.write(&[1., 1., 2., 2., 3., 3.]);
        assert_eq!(c.skip(2), 2);
        assert_eq!(p.free(), 3);
        assert_eq!(c.skip(5), 1);
        p.write(&[4., 4., 5., 5., 6., 6.]);
        assert_eq!(c.skip(1), 1);
        let mut out = [0.0; 4];
        assert_eq!(c.read(&mut out), 2);
        assert_eq!(out, [5., 5., 6., 6.]);
    }

    #[test]
    fn partial_frames_are_not_written() {
        let (mut p, mut c) = channel(8, 3);
        assert_eq!(p.write(&[1.0; 7]), 2);
        assert_eq!(c.available(), 2);
    }

    #[test]
    fn read_and_write_never_allocate() {
        let (mut p, mut c) = channel(64, 2);
        let input = [0.5f32; 96];
        let mut out = [0.0f32; 96];
        assert_no_alloc::assert_no_alloc(|| {
            for _ in 0..100 {
                p.write(&input);
                c.read(&mut out);
            }
        });
    }

    #[test]
    fn typed_rings_carry_copy_items_in_order() {
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        struct Msg {
            id: u32,
            name: &'static str,
            value: f64,
        }
        let (mut p, mut c) = channel_of::<Msg>(2, 1);
        assert!(p.push(Msg { id: 1, name: "a", value: 0.5 }));
        assert!(p.push(Msg { id: 2, name: "b", value: 1.5 }));
        assert!(!p.push(Msg { id: 3, name: "c", value: 2.5 }), "full");
        assert_no_alloc::assert_no_alloc(|| {
            assert_eq!(c.pop(), Some(Msg { id: 1, name: "a", value: 0.5 }));
            assert!(p.push(Msg { id: 3, name: "c", value: 2.5 }));
            assert_eq!(c.pop().map(|m| m.id), Some(2));
            assert_eq!(c.pop().map(|m| m.name), Some("c"));
            assert_eq!(c.pop(), None);
        });
    }

    /// Two real threads, millions of frames, odd block sizes on both sides:
    /// every frame arrives exactly once and in order.
    #[test]
    fn concurrent_transfer_loses_and_reorders_nothing() {
        const FRAMES: usize = 3_000_000;
        let (mut p, mut c) = channel(1000, 2);
        let writer = std::thread::spawn(move || {
            let mut next = 0usize;
            let mut block = Vec::with_capacity(2 * 97);
            while next < FRAMES {
                block.clear();
                let n = (97 - next % 13).min(FRAMES - next);
                for k in 0..n {
                    let v = (next + k) as f32;
                    block.extend_from_slice(&[v, -v]);
                }
                let mut off = 0;
                while off < n {
                    off += p.write(&block[off * 2..n * 2]);
                    if off < n {
                        std::hint::spin_loop();
                    }
                }
                next += n;
            }
        });
        let mut expected = 0usize;
        let mut out = vec![0.0f32; 2 * 61];
        while expected < FRAMES {
            let want = 61 - expected % 7;
            let got = c.read(&mut out[..want * 2]);
            for k in 0..got {
                // f32 represents every integer below 2^24 exactly.
                let v = (expected + k) as f32;
                assert_eq!(out[2 * k], v, "frame {}", expected + k);
                assert_eq!(out[2 * k + 1], -out[2 * k]);
            }
            expected += got;
        }
        writer.join().unwrap();
        assert_eq!(c.available(), 0);
    }
}

/// Exhaustive interleaving checks; run with
/// `RUSTFLAGS="--cfg loom" cargo test -p resonode-core --release ring::loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    #[test]
    fn loom_spsc_delivers_in_order_under_every_interleaving() {
        // A preemption bound keeps the search to seconds; races in a
        // two-counter SPSC need at most two preemptions to show.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let (mut p, mut c) = channel(2, 1);
            let t = loom::thread::spawn(move || {
                let mut sent = 0;
                let data = [1.0f32, 2.0, 3.0];
                while sent < 3 {
                    sent += p.write(&data[sent..]);
                    loom::thread::yield_now();
                }
            });
            let mut got = Vec::new();
            let mut out = [0.0f32; 2];
            while got.len() < 3 {
                let n = c.read(&mut out);
                got.extend_from_slice(&out[..n]);
                loom::thread::yield_now();
            }
            t.join().unwrap();
            assert_eq!(got, [1.0, 2.0, 3.0]);
        });
    }
}
