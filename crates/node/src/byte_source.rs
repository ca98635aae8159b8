//! Byte streams from and to JS (`Readable` / `Writable`, web streams):
//! [`NativeStreamDecoder`] decodes encoded audio pushed in from JS on its own
//! thread, [`NativeStreamEncoder`] turns planar blocks into WAV/FLAC/raw
//! bytes for JS to write.
//!
//! No JS work waits on a blocked libuv thread: the decoder thread settles
//! promises (napi deferreds, which keep the event loop alive only while one
//! is pending) and the byte feed is a non-blocking `push` plus a `drain()`
//! promise, so many concurrent uploads do not exhaust the thread pool that
//! `fs` also needs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Buffer, Float32Array, Object, Uint8Array};
use napi::{Env, JsDeferred, Task};
use napi_derive::napi;
use resonode_core::Error;
use resonode_io::{ByteQueue, StreamDecoder, StreamEncoder, StreamFormat};

use crate::convert::planar_to_checked_buffer;
use crate::error::{guard, guard_core, to_napi};
use crate::file::{info_to_js, poisoned, AudioFileInfo};

type Resolver<T> = Box<dyn FnOnce(Env) -> napi::Result<T> + Send>;
type Deferred<T> = JsDeferred<T, Resolver<T>>;
type Planar = Option<Vec<Float32Array>>;

enum Request {
    Info(Deferred<AudioFileInfo>),
    Read(usize, Deferred<Planar>),
}

/// Default bytes queued before `push` asks the feeder to wait.
const DEFAULT_QUEUE_BYTES: usize = 256 * 1024;

fn internal(what: &str, payload: &(dyn std::any::Any + Send)) -> Error {
    Error::Internal { message: format!("panic while {what}: {}", resonode_core::error::panic_message(payload)) }
}

/// The decoder thread: opens the stream (blocking until its header has
/// arrived), then answers requests in order until the JS object is gone.
fn decode_thread(name: String, queue: Arc<ByteQueue>, requests: mpsc::Receiver<Request>) {
    let reader = queue.reader();
    let mut opened = catch_unwind(AssertUnwindSafe(|| StreamDecoder::open(&name, reader)))
        .unwrap_or_else(|p| Err(internal("opening the stream", p.as_ref())));
    for request in requests {
        match (request, &mut opened) {
            (Request::Info(d), Ok(dec)) => {
                let info = info_to_js(dec.info());
                d.resolve(Box::new(move |_| Ok(info)));
            }
            (Request::Read(frames, d), Ok(dec)) => {
                let ch = dec.info().channels;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let mut planes = vec![vec![0.0f32; frames]; ch];
                    let n = dec.read_planar(&mut planes, frames)?;
                    planes.iter_mut().for_each(|p| p.truncate(n));
                    Ok((n > 0).then_some(planes))
                }))
                .unwrap_or_else(|p| Err(internal("decoding the stream", p.as_ref())));
                match result {
                    Ok(planes) => d.resolve(Box::new(move |_| Ok(planes.map(|p| p.into_iter().map(Float32Array::new).collect())))),
                    Err(e) => d.reject(to_napi(e)),
                }
            }
            (Request::Info(d), Err(e)) => d.reject(to_napi(e.clone())),
            (Request::Read(_, d), Err(e)) => d.reject(to_napi(e.clone())),
        }
    }
}

/// Decodes encoded audio (WAV, RF64, FLAC, MP3, Ogg Vorbis/Opus/FLAC,
/// AIFF, CAF, fast-start MP4/M4A; recognised from the bytes) pushed in from
/// JS as it arrives, on its own thread, at bounded memory: `push` copies the
/// bytes into a queue of about `queueBytes` (default 256 KiB) and returns
/// false once it is full; the feeder then awaits `drain()`.
///
/// Errors (rejections of `info` / `read`): ERR_EMPTY_AUDIO (no bytes),
/// ERR_UNSUPPORTED_FORMAT (not audio, or a codec not decoded),
/// ERR_DECODE (damaged data; a stream ending before its header's length,
/// after every decoded frame), ERR_IO (`fail()` was called: the input
/// failed), ERR_INVALID_STATE (after `close()`).
#[napi]
pub struct NativeStreamDecoder {
    queue: Arc<ByteQueue>,
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    name: String,
}

impl Drop for NativeStreamDecoder {
    fn drop(&mut self) {
        // Wakes the decoder thread if it waits for bytes; dropping the
        // sender then ends it once the pending requests are answered.
        self.queue.close();
    }
}

#[napi]
impl NativeStreamDecoder {
    /// Starts the decoder thread. `name` names the stream in error messages
    /// (default `"<stream>"`); `queueBytes` bounds the byte queue.
    ///
    /// @throws ERR_INTERNAL when the thread cannot start
    #[napi(catch_unwind, constructor)]
    pub fn new(name: Option<String>, queue_bytes: Option<u32>) -> napi::Result<Self> {
        guard_core(|| {
            let name = name.unwrap_or_else(|| "<stream>".into());
            let queue = ByteQueue::new(queue_bytes.map_or(DEFAULT_QUEUE_BYTES, |b| b as usize));
            let (tx, rx) = mpsc::channel();
            let (n, q) = (name.clone(), queue.clone());
            std::thread::Builder::new()
                .name("resonode-stream-decode".into())
                .spawn(move || decode_thread(n, q, rx))
                .map_err(|e| Error::Internal { message: format!("cannot start the decoder thread: {e}") })?;
            Ok(NativeStreamDecoder { queue, requests: Mutex::new(Some(tx)), name })
        })
    }

    /// Queues a copy of `bytes`; false when the queue is full (await
    /// `drain()` before pushing more). Ignored after `end`/`fail`/`close`.
    #[napi(catch_unwind)]
    pub fn push(&self, bytes: Uint8Array) -> bool {
        self.queue.push(&bytes)
    }

    /// Resolves when the queue has room again (at once if it has; also
    /// when the stream is closed or failed).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn drain<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        guard(|| {
            let (d, promise) = env.create_deferred::<(), Resolver<()>>()?;
            self.queue.on_room(Box::new(move || d.resolve(Box::new(|_| Ok(())))));
            Ok(promise)
        })
    }

    /// The end of the input: the decoder finishes with what was pushed.
    #[napi(catch_unwind)]
    pub fn end(&self) {
        self.queue.end();
    }

    /// The input failed (e.g. the upload was aborted): after the bytes
    /// pushed so far, reads reject with ERR_IO naming `reason`.
    #[napi(catch_unwind)]
    pub fn fail(&self, reason: String) {
        self.queue.fail(reason);
    }

    /// Stops decoding and drops queued bytes; later calls reject with
    /// ERR_INVALID_STATE. Safe to call more than once.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.queue.close();
        if let Ok(mut r) = self.requests.lock() {
            r.take();
        }
    }

    /// Resolves with the stream's header information once enough bytes
    /// have arrived (`frames` is null: unknown ahead).
    #[napi(catch_unwind, ts_return_type = "Promise<AudioFileInfo>")]
    pub fn info<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        guard(|| {
            let (d, promise) = env.create_deferred::<AudioFileInfo, Resolver<AudioFileInfo>>()?;
            self.submit(Request::Info(d));
            Ok(promise)
        })
    }

    /// Decodes up to `maxFrames` frames; resolves with planar channels
    /// (channels x frames), or null at the end of the stream.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[] | null>")]
    pub fn read<'env>(&self, env: &'env Env, max_frames: u32) -> napi::Result<Object<'env>> {
        guard(|| {
            let (d, promise) = env.create_deferred::<Planar, Resolver<Planar>>()?;
            // A hostile size becomes a short read, not a huge allocation.
            let frames = (max_frames.max(1) as usize).min(resonode_core::chain::MAX_BLOCK_SAMPLES / 256);
            self.submit(Request::Read(frames, d));
            Ok(promise)
        })
    }
}

impl NativeStreamDecoder {
    /// Hands `request` to the decoder thread, or rejects it when closed.
    fn submit(&self, request: Request) {
        let closed = || to_napi(Error::InvalidState { reason: format!("{} is closed", self.name) });
        let unsent = match self.requests.lock() {
            Ok(r) => match r.as_ref() {
                Some(tx) => tx.send(request).err().map(|e| e.0),
                None => Some(request),
            },
            Err(_) => Some(request),
        };
        match unsent {
            Some(Request::Info(d)) => d.reject(closed()),
            Some(Request::Read(_, d)) => d.reject(closed()),
            None => {}
        }
    }
}

/// Encodes planar blocks into the bytes of a WAV (sizes 0xFFFFFFFF: length
/// unknown), FLAC (STREAMINFO length unknown), `s16le` or `f32le` stream for
/// a destination that cannot seek; see `resonode_io::StreamEncoder`.
#[napi]
pub struct NativeStreamEncoder {
    encoder: Arc<Mutex<StreamEncoder>>,
    channels: usize,
    name: String,
}

#[napi]
impl NativeStreamEncoder {
    /// `format`: `wav`, `flac`, `s16le` or `f32le`; `encoding` (wav, flac):
    /// `int16`, `int24` or `float32` (default float32 for WAV, int24 for FLAC).
    ///
    /// @throws ERR_INVALID_PARAMETER
    #[napi(catch_unwind, constructor)]
    pub fn new(format: String, encoding: Option<String>, sample_rate: u32, channels: u32, name: Option<String>) -> napi::Result<Self> {
        guard_core(|| {
            let name = name.unwrap_or_else(|| "<stream>".into());
            let format = StreamFormat::parse(&format, encoding.as_deref())?;
            let encoder = StreamEncoder::new(&name, format, sample_rate, channels as usize)?;
            Ok(NativeStreamEncoder { encoder: Arc::new(Mutex::new(encoder)), channels: channels as usize, name })
        })
    }

    /// Encodes planar channels (channels x frames) on a worker thread;
    /// resolves with the bytes to write (the header comes first).
    ///
    /// @throws ERR_SHAPE, ERR_NON_FINITE_SAMPLE, ERR_ENCODE
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer>")]
    pub fn encode(&self, channels: Vec<Float32Array>) -> napi::Result<AsyncTask<EncodeTask>> {
        let buf = guard_core(|| planar_to_checked_buffer(&channels, self.channels, &self.name, "the stream"))?;
        Ok(AsyncTask::new(EncodeTask { encoder: self.encoder.clone(), buf: Some(buf) }))
    }

    /// The last bytes (FLAC's last frame; the header alone when nothing
    /// was encoded). Later calls return an empty buffer.
    ///
    /// @throws ERR_ENCODE
    #[napi(catch_unwind)]
    pub fn finish(&self) -> napi::Result<Buffer> {
        guard_core(|| {
            let mut enc = self.encoder.lock().map_err(|_| poisoned())?;
            enc.finish().map(Buffer::from)
        })
    }
}

pub struct EncodeTask {
    encoder: Arc<Mutex<StreamEncoder>>,
    buf: Option<resonode_core::AudioBuffer>,
}

impl Task for EncodeTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> napi::Result<Vec<u8>> {
        guard_core(|| {
            let buf = self.buf.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            let mut enc = self.encoder.lock().map_err(|_| poisoned())?;
            enc.encode(&buf.as_block())
        })
    }
    fn resolve(&mut self, _: Env, bytes: Vec<u8>) -> napi::Result<Buffer> {
        guard(|| Ok(Buffer::from(bytes)))
    }
}
