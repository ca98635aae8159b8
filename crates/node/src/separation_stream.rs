//! `NativeSeparationStream`: a `SeparationWorker` (a thread owning the
//! model) seen from JS. `next()` and `push()` return promises that the
//! worker settles from its thread when a region exists or the push queue
//! has room, so no libuv thread ever waits on the model; the JS async
//! iterator in `src-ts/separation.ts` is built on them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{AsyncTask, Float32Array, Object};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::Error;
use resonode_ml::separation::spawn_worker;
use resonode_ml::separation_worker::EventCallback;
use resonode_ml::{SeparationWorker, WorkerEvent, WorkerStats};

use crate::error::{guard, guard_core, to_napi};
use crate::separate::{config_of, input_of, SeparationInputDesc, SeparationOptionsDesc};

/// What a streaming separation did.
#[napi(object)]
pub struct StreamingStats {
    /// Input frames read or pushed (complete unless stopped).
    pub frames_in: f64,
    /// Frames delivered per stem.
    pub frames_out: f64,
    /// Model calls (complete unless stopped).
    pub chunks: u32,
    /// Regions delivered.
    pub regions: u32,
    /// Seconds spent loading the model.
    pub model_load_s: f64,
    /// Seconds from the start (model load included) until the first region was final.
    pub time_to_first_audio_s: Option<f64>,
    /// Seconds from the start to the end (or to now, while running).
    pub processing_time_s: f64,
    /// True when `stop()` ended the run early.
    pub stopped: bool,
}

fn stats_to_js(s: &WorkerStats) -> StreamingStats {
    StreamingStats {
        frames_in: s.frames_in as f64,
        frames_out: s.frames_out as f64,
        chunks: s.chunks as u32,
        regions: s.regions as u32,
        model_load_s: s.model_load.as_secs_f64(),
        time_to_first_audio_s: s.time_to_first_audio.map(|d| d.as_secs_f64()),
        processing_time_s: s.elapsed.as_secs_f64(),
        stopped: s.stopped,
    }
}

/// One event of a streaming separation, in order: `started` (once the model
/// is loaded), `region` (each final region), `end`.
#[napi(object)]
pub struct SeparationEvent {
    /// `started`, `region` or `end`.
    pub kind: String,
    /// `started`: stem names, in the order of `stems`.
    pub stem_names: Option<Vec<String>>,
    /// `started`: channels per stem.
    pub channels: Option<u32>,
    /// `started`: sample rate of the regions in Hz (the input's).
    pub sample_rate: Option<u32>,
    /// `started`: input frames, when known.
    pub total_frames: Option<f64>,
    /// `region`: stems x channels x frames.
    pub stems: Option<Vec<Vec<Float32Array>>>,
    /// `region`: first frame of the region in the output (= input) timeline.
    pub start_frame: Option<f64>,
    /// `region`: index of the region (= of the chunk it starts at), from 0.
    pub chunk_idx: Option<u32>,
    /// `region`: whether it ends the output.
    pub is_last: Option<bool>,
    /// `region`: seconds from the start until the region was final.
    pub time_s: Option<f64>,
    /// `end`: what the run did.
    pub stats: Option<StreamingStats>,
}

fn event_to_js(ev: WorkerEvent) -> Option<SeparationEvent> {
    let empty = |kind: &str| SeparationEvent {
        kind: kind.into(),
        stem_names: None,
        channels: None,
        sample_rate: None,
        total_frames: None,
        stems: None,
        start_frame: None,
        chunk_idx: None,
        is_last: None,
        time_s: None,
        stats: None,
    };
    Some(match ev {
        WorkerEvent::Started { sources, channels, sample_rate, total_frames } => SeparationEvent {
            stem_names: Some(sources),
            channels: Some(channels as u32),
            sample_rate: Some(sample_rate),
            total_frames: total_frames.map(|f| f as f64),
            ..empty("started")
        },
        WorkerEvent::Region { region, time } => SeparationEvent {
            start_frame: Some(region.start as f64),
            chunk_idx: Some(region.chunk_idx as u32),
            is_last: Some(region.is_last),
            time_s: Some(time.as_secs_f64()),
            stems: Some(region.stems.into_iter().map(|s| s.into_iter().map(Float32Array::new).collect()).collect()),
            ..empty("region")
        },
        WorkerEvent::End(stats) => SeparationEvent { stats: Some(stats_to_js(&stats)), ..empty("end") },
        WorkerEvent::Failed(_) => return None,
    })
}

fn poisoned() -> Error {
    Error::Internal { message: "separation stream lock poisoned by an earlier panic".into() }
}

/// A separation running on its own thread, pulled region by region.
#[napi]
pub struct NativeSeparationStream {
    worker: Arc<Mutex<Option<SeparationWorker>>>,
    /// Set by `close()` once it has joined the thread it took.
    joined: Arc<AtomicBool>,
}

impl NativeSeparationStream {
    fn worker(&self) -> napi::Result<MutexGuard<'_, Option<SeparationWorker>>> {
        self.worker.lock().map_err(|_| to_napi(poisoned()))
    }
}

#[napi]
impl NativeSeparationStream {
    /// Starts the worker thread: it loads the model, then separates the
    /// file, the planar `channels`, or (with `input.pushChannels`) the
    /// blocks given to `push()`. Model errors arrive through `next()`.
    ///
    /// @throws ERR_INVALID_PARAMETER (options, missing sample rate, global normalisation of pushed blocks), ERR_NOT_FOUND / ERR_DECODE (input file), ERR_SHAPE / ERR_NON_FINITE_SAMPLE / ERR_EMPTY_AUDIO (planar input)
    #[napi(catch_unwind, factory)]
    pub fn open(
        input: SeparationInputDesc,
        channels: Option<Vec<Float32Array>>,
        options: SeparationOptionsDesc,
    ) -> napi::Result<Self> {
        guard_core(|| {
            let config = config_of(&options)?;
            let worker = spawn_worker(input_of(&input, channels)?, config)?;
            Ok(NativeSeparationStream {
                worker: Arc::new(Mutex::new(Some(worker))),
                joined: Arc::new(AtomicBool::new(false)),
            })
        })
    }

    /// Resolves with the next event (`started`, `region`, `end`), or null
    /// after `end`; rejects with the run's error.
    #[napi(catch_unwind, ts_return_type = "Promise<SeparationEvent | null>")]
    pub fn next<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let (deferred, promise) = env.create_deferred()?;
        let callback: EventCallback = Box::new(move |ev: Option<WorkerEvent>| match ev {
            Some(WorkerEvent::Failed(e)) => deferred.reject(to_napi(e)),
            other => {
                let value = other.and_then(event_to_js);
                deferred.resolve(move |_| Ok(value))
            }
        });
        let guard_ = self.worker()?;
        match guard_.as_ref() {
            Some(w) => guard(|| {
                w.next_event(callback);
                Ok(())
            })?,
            None => callback(None),
        }
        Ok(promise)
    }

    /// Queues a block (planar, `pushChannels` x frames) and resolves once
    /// the worker's queue has room for another, so an awaiting producer
    /// stays at most two blocks ahead. Shape and NaN errors end the run
    /// and arrive through `next()`.
    ///
    /// @throws ERR_INVALID_STATE when the input was ended, the run is over, or the stream reads its own input
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn push<'e>(&self, env: &'e Env, block: Vec<Float32Array>) -> napi::Result<Object<'e>> {
        let data: Vec<Vec<f32>> = block.iter().map(|c| c.to_vec()).collect();
        let guard_ = self.worker()?;
        let w =
            guard_.as_ref().ok_or_else(|| to_napi(Error::InvalidState { reason: "the stream is closed".into() }))?;
        guard_core(|| w.push(data))?;
        let (deferred, promise) = env.create_deferred()?;
        w.when_ready(Box::new(move || deferred.resolve(|_| Ok(()))));
        Ok(promise)
    }

    /// Ends the pushed input; the rest is separated and `end` follows.
    #[napi(catch_unwind)]
    pub fn end(&self) -> napi::Result<()> {
        if let Some(w) = self.worker()?.as_ref() {
            w.end_input();
        }
        Ok(())
    }

    /// Stops the run within one model call; `next()` then yields `end`
    /// with `stopped`. Does not wait (see `close()`).
    #[napi(catch_unwind)]
    pub fn stop(&self) -> napi::Result<()> {
        if let Some(w) = self.worker()?.as_ref() {
            w.stop();
        }
        Ok(())
    }

    /// Statistics so far.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> napi::Result<Option<StreamingStats>> {
        Ok(self.worker()?.as_ref().map(|w| stats_to_js(&w.stats())))
    }

    /// Whether the worker thread has finished and freed the model.
    #[napi(catch_unwind, getter)]
    pub fn exited(&self) -> napi::Result<bool> {
        let joined = self.joined.load(Ordering::Acquire);
        Ok(self.worker()?.as_ref().map_or(joined, |w| w.has_exited()))
    }

    /// Stops the run and resolves, with the final statistics, once the
    /// worker thread has exited and the model is freed. Idempotent (null
    /// after the first).
    #[napi(catch_unwind, ts_return_type = "Promise<StreamingStats | null>")]
    pub fn close(&self) -> napi::Result<AsyncTask<CloseTask>> {
        let worker = self.worker()?.take();
        if let Some(w) = &worker {
            w.stop();
        }
        Ok(AsyncTask::new(CloseTask { worker, joined: self.joined.clone() }))
    }
}

pub struct CloseTask {
    worker: Option<SeparationWorker>,
    joined: Arc<AtomicBool>,
}

impl Task for CloseTask {
    type Output = Option<StreamingStats>;
    type JsValue = Option<StreamingStats>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard(|| {
            Ok(self.worker.take().map(|mut w| {
                w.join();
                self.joined.store(true, Ordering::Release);
                stats_to_js(&w.stats())
            }))
        })
    }

    fn resolve(&mut self, _: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(out)
    }
}
