//! `AudioRingBuffer`: the core SPSC ring buffer, both ends held by one JS object.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use resonode_core::ring::{self, Consumer, Producer};
use resonode_core::chain::MAX_BLOCK_SAMPLES;
use resonode_core::Error;

use crate::error::guard_core;

/// A lock-free single-producer single-consumer ring buffer of `channels`
/// interleaved channels holding up to `capacityFrames` frames. In JS both
/// ends live on one thread; in Rust the same buffer carries audio out of the
/// real-time callback.
#[napi]
pub struct AudioRingBuffer {
    producer: Producer,
    consumer: Consumer,
    scratch: Vec<f32>,
}

#[napi]
impl AudioRingBuffer {
    /// @throws ERR_INVALID_PARAMETER when `capacityFrames` or `channels` is 0,
    /// or the buffer would hold more than 2^26 samples
    #[napi(catch_unwind, constructor)]
    pub fn new(capacity_frames: u32, channels: u32) -> napi::Result<Self> {
        guard_core(|| {
            if capacity_frames == 0 || channels == 0 {
                return Err(Error::param(
                    if channels == 0 { "channels" } else { "capacityFrames" },
                    "must be at least 1",
                ));
            }
            // A hostile size must fail here, not as an allocation that aborts.
            if (capacity_frames as usize).saturating_mul(channels as usize) > MAX_BLOCK_SAMPLES {
                return Err(Error::param(
                    "capacityFrames",
                    format!("{capacity_frames} frames x {channels} channels is more than {MAX_BLOCK_SAMPLES} samples"),
                ));
            }
            let (producer, consumer) = ring::channel(capacity_frames as usize, channels as usize);
            Ok(AudioRingBuffer { producer, consumer, scratch: Vec::new() })
        })
    }
    /// Capacity in frames.
    #[napi(catch_unwind, getter)]
    pub fn capacity(&self) -> u32 {
        self.producer.capacity() as u32
    }
    /// Channels per frame.
    #[napi(catch_unwind, getter)]
    pub fn channels(&self) -> u32 {
        self.producer.channels() as u32
    }
    /// Frames ready to read.
    #[napi(catch_unwind)]
    pub fn available(&mut self) -> u32 {
        self.consumer.available() as u32
    }
    /// Frames that can be written.
    #[napi(catch_unwind)]
    pub fn free(&mut self) -> u32 {
        self.producer.free() as u32
    }
    /// Writes interleaved frames; returns how many whole frames fit.
    #[napi(catch_unwind)]
    pub fn write_interleaved(&mut self, samples: Float32Array) -> u32 {
        self.producer.write(&samples) as u32
    }
    /// Reads up to `maxFrames` frames as one interleaved array.
    #[napi(catch_unwind)]
    pub fn read_interleaved(&mut self, max_frames: u32) -> Float32Array {
        let ch = self.consumer.channels();
        let want = (max_frames as usize).min(self.consumer.available());
        let mut out = vec![0.0f32; want * ch];
        let got = self.consumer.read(&mut out);
        out.truncate(got * ch);
        Float32Array::new(out)
    }
    /// Writes planar channels (channels x frames); returns frames written.
    ///
    /// @throws ERR_SHAPE for a wrong channel count or ragged channels
    #[napi(catch_unwind)]
    pub fn write(&mut self, channels: Vec<Float32Array>) -> napi::Result<u32> {
        guard_core(|| {
            let ch = self.producer.channels();
            if channels.len() != ch {
                return Err(Error::shape(format!("got {} channels, the buffer has {ch}", channels.len())));
            }
            let frames = channels[0].len();
            if channels.iter().any(|c| c.len() != frames) {
                return Err(Error::shape("channels differ in length"));
            }
            let n = frames.min(self.producer.free());
            self.scratch.resize(n * ch, 0.0);
            for (c, data) in channels.iter().enumerate() {
                for (i, &s) in data[..n].iter().enumerate() {
                    self.scratch[i * ch + c] = s;
                }
            }
            Ok(self.producer.write(&self.scratch) as u32)
        })
    }
    /// Reads up to `maxFrames` frames as planar channels.
    #[napi(catch_unwind)]
    pub fn read(&mut self, max_frames: u32) -> Vec<Float32Array> {
        let ch = self.consumer.channels();
        let want = (max_frames as usize).min(self.consumer.available());
        self.scratch.resize(want * ch, 0.0);
        let got = self.consumer.read(&mut self.scratch);
        (0..ch)
            .map(|c| Float32Array::new((0..got).map(|i| self.scratch[i * ch + c]).collect()))
            .collect()
    }
}
