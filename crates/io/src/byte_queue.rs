//! [`ByteQueue`]: a bounded hand-over of bytes from a producer that must not
//! block (the JS thread feeding an HTTP body or a socket) to a consumer that
//! may (a decoder thread reading through [`std::io::Read`]).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Called once when the queue has room again (or is closed).
pub type RoomCallback = Box<dyn FnOnce() + Send>;

/// A bounded FIFO of byte chunks with an end-of-input, an input failure and
/// a close from the consumer side.
///
/// Back-pressure is the producer's job, as with Node's `Writable.write`:
/// [`push`](ByteQueue::push) always takes the bytes and returns `false` once
/// `capacity` bytes are queued; the producer then waits for
/// [`on_room`](ByteQueue::on_room) before pushing again. Memory is thus
/// bounded by `capacity` plus one chunk. Room is signalled when the queue
/// drains below half its capacity, so the producer is not woken for every
/// small read.
///
/// # Real-time safety
/// Locks and allocates; not for an audio callback.
pub struct ByteQueue {
    capacity: usize,
    state: Mutex<State>,
    readable: Condvar,
}

#[derive(Default)]
struct State {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already read.
    front_pos: usize,
    /// Unread bytes queued.
    len: usize,
    ended: bool,
    failed: Option<String>,
    closed: bool,
    waiters: Vec<RoomCallback>,
}

impl std::fmt::Debug for ByteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteQueue").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl ByteQueue {
    /// A queue that asks the producer to wait once `capacity` bytes (at
    /// least 1) are queued.
    pub fn new(capacity: usize) -> Arc<ByteQueue> {
        Arc::new(ByteQueue { capacity: capacity.max(1), state: Mutex::new(State::default()), readable: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a copy of `bytes`. Returns whether there is still room
    /// (`false`: wait for [`on_room`](ByteQueue::on_room)). Bytes pushed
    /// after [`end`](ByteQueue::end), [`fail`](ByteQueue::fail) or
    /// [`close`](ByteQueue::close) are dropped (returns `true`, so a
    /// producer does not wait for a consumer that is gone).
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut st = self.lock();
        if st.ended || st.closed || st.failed.is_some() {
            return true;
        }
        if !bytes.is_empty() {
            st.chunks.push_back(bytes.to_vec());
            st.len += bytes.len();
            self.readable.notify_all();
        }
        st.len < self.capacity
    }

    /// Marks the end of the input: reads return what is queued, then 0.
    pub fn end(&self) {
        self.lock().ended = true;
        self.readable.notify_all();
    }

    /// Marks the input as failed (e.g. the upload was aborted): reads
    /// return what is queued, then an [`io::Error`] with `reason`.
    pub fn fail(&self, reason: impl Into<String>) {
        let waiters = {
            let mut st = self.lock();
            if st.failed.is_none() {
                st.failed = Some(reason.into());
            }
            std::mem::take(&mut st.waiters)
        };
        self.readable.notify_all();
        waiters.into_iter().for_each(|w| w());
    }

    /// The consumer is gone: queued bytes are dropped, reads fail at once,
    /// pushes are ignored and every waiting producer is released.
    pub fn close(&self) {
        let waiters = {
            let mut st = self.lock();
            st.closed = true;
            st.chunks.clear();
            st.len = 0;
            std::mem::take(&mut st.waiters)
        };
        self.readable.notify_all();
        waiters.into_iter().for_each(|w| w());
    }

    /// The failure given to [`fail`](ByteQueue::fail), if any.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Whether [`close`](ByteQueue::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Unread bytes queued.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether no unread bytes are queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` now if the queue has room (or is closed or failed), else
    /// once a read brings it below half its capacity.
    pub fn on_room(&self, f: RoomCallback) {
        let mut st = self.lock();
        if st.len < self.capacity || st.closed || st.failed.is_some() {
            drop(st);
            f();
        } else {
            st.waiters.push(f);
        }
    }

    /// A blocking [`Read`] over the queue (several readers share the bytes).
    pub fn reader(self: &Arc<Self>) -> ByteQueueReader {
        ByteQueueReader { queue: self.clone() }
    }
}

/// Reads a [`ByteQueue`], blocking until bytes arrive. Returns 0 at the end
/// of the input; an [`io::Error`] (kind `Other`) after
/// [`ByteQueue::fail`] or [`ByteQueue::close`].
#[derive(Debug)]
pub struct ByteQueueReader {
    queue: Arc<ByteQueue>,
}

impl Read for ByteQueueReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let q = &self.queue;
        let mut st = q.lock();
        loop {
            if st.closed {
                return Err(io::Error::other("the stream was closed"));
            }
            if st.len > 0 {
                break;
            }
            if let Some(reason) = &st.failed {
                return Err(io::Error::other(reason.clone()));
            }
            if st.ended {
                return Ok(0);
            }
            st = q.readable.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        let mut n = 0;
        while n < buf.len() {
            let pos = st.front_pos;
            let Some(front) = st.chunks.front() else { break };
            let take = (front.len() - pos).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&front[pos..pos + take]);
            n += take;
            if pos + take == front.len() {
                st.chunks.pop_front();
                st.front_pos = 0;
            } else {
                st.front_pos = pos + take;
            }
        }
        st.len -= n;
        let waiters = if st.len < q.capacity / 2 || st.len == 0 { std::mem::take(&mut st.waiters) } else { Vec::new() };
        drop(st);
        waiters.into_iter().for_each(|w| w());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn bytes_come_out_in_order_and_end_reads_zero() {
        let q = ByteQueue::new(8);
        assert!(q.push(b"abc"));
        assert!(!q.push(b"defghij"), "10 bytes queued is over the capacity of 8");
        q.end();
        let mut out = Vec::new();
        q.reader().read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcdefghij");
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_wakes_the_producer_once_read_below_half() {
        let q = ByteQueue::new(8);
        assert!(!q.push(&[1; 10]));
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        q.on_room(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        let mut r = q.reader();
        let mut buf = [0u8; 3];
        r.read_exact(&mut buf).unwrap(); // 7 left: not below 4
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        r.read_exact(&mut buf).unwrap(); // 4 left
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        r.read_exact(&mut [0u8; 1]).unwrap(); // 3 left: below half
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        // With room, on_room runs at once.
        let w = woken.clone();
        q.on_room(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(woken.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_blocked_reader_is_woken_by_push_fail_and_close() {
        let q = ByteQueue::new(64);
        let mut r = q.reader();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 4];
            let n = r.read(&mut buf).unwrap();
            let err = r.read(&mut buf).unwrap_err();
            (buf[..n].to_vec(), err.to_string())
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.push(b"xy");
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.fail("the upload was aborted");
        let (got, err) = t.join().unwrap();
        assert_eq!(got, b"xy");
        assert_eq!(err, "the upload was aborted");
        assert_eq!(q.failure().as_deref(), Some("the upload was aborted"));

        let q = ByteQueue::new(4);
        q.push(&[0; 8]);
        let released = Arc::new(AtomicUsize::new(0));
        let w = released.clone();
        q.on_room(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        q.close();
        assert_eq!(released.load(Ordering::SeqCst), 1, "close releases a waiting producer");
        assert!(q.reader().read(&mut [0u8; 4]).is_err());
        assert!(q.push(b"ignored"), "a closed queue never asks the producer to wait");
    }
}
