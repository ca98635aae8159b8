//! `NativeChain`: a processor chain driven block by block from JS.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_core::chain_spec;
use resonode_core::{AudioBuffer, Chain, Error, StreamSpec};
use resonode_ml::live::{self, EnhanceKind};
use resonode_ml::runtime::SessionOptions;

use crate::convert::{specs, ProcessorDesc};
use crate::error::{guard, guard_core, to_napi};

/// The kinds beyond `resonode-dsp`'s registry, for checking descriptions:
/// `enhance` builds (cheaply: its model loads only when a live engine
/// prepares it), so its arguments are checked too.
pub fn checking_kinds() -> EnhanceKind {
    EnhanceKind::live(SessionOptions::default())
}

/// Parses a chain string such as `"highpass(80) gain(-3db)"` into
/// processor descriptions, checking that every element builds. `enhance()`
/// is accepted (it runs in live chains; file pipelines refuse it).
///
/// @throws ERR_INVALID_CHAIN for syntax errors or unknown processors,
/// ERR_INVALID_PARAMETER for invalid values.
#[napi(catch_unwind)]
pub fn parse_chain(text: String) -> napi::Result<Vec<ProcessorDesc>> {
    guard_core(|| {
        let parsed = chain_spec::parse(&text)?;
        resonode_dsp::registry::build_chain_with(&parsed, &checking_kinds())?;
        Ok(parsed.iter().map(ProcessorDesc::from).collect())
    })
}

/// Names, positional argument order and parameters of every processor kind.
#[napi(object)]
pub struct ProcessorKindInfo {
    pub name: String,
    pub positional: Vec<String>,
    pub params: Vec<String>,
    pub summary: String,
}

/// Every processor kind the chain grammar knows (`enhance`, live only, last).
#[napi(catch_unwind)]
pub fn processor_kinds() -> Vec<ProcessorKindInfo> {
    resonode_dsp::registry::kinds()
        .iter()
        .chain(std::iter::once(live::kind_info()))
        .map(|k| ProcessorKindInfo {
            name: k.name.into(),
            positional: k.positional.iter().map(|s| s.to_string()).collect(),
            params: k.params.iter().map(|s| s.to_string()).collect(),
            summary: k.summary.into(),
        })
        .collect()
}

struct Prepared {
    chain: Chain,
    buf: AudioBuffer,
}

/// A chain of native processors, prepared for one sample rate and channel
/// count, processing planar blocks (channels x frames) from JS.
#[napi]
pub struct NativeChain {
    inner: Arc<Mutex<Prepared>>,
}

/// Frames staged per piece when JS hands over a block: small enough that
/// the copy in, the check, the chain and the copy out all stay in L1/L2
/// cache (2 channels x 2048 frames x 4 bytes = 16 KiB), large enough that
/// the per-piece overhead vanishes. Processors accept any block size up to
/// the prepared maximum, so this changes no output.
const STAGING_FRAMES: usize = 2048;

/// Bits of an `f32` that are all ones exactly for NaN and +-Inf.
const EXPONENT: u32 = 0x7f80_0000;

/// Copies `src` into `dst` and returns the largest exponent field seen:
/// equal to [`EXPONENT`] iff a sample is NaN or infinite. One pass that
/// vectorises (integer max), instead of a copy plus a separate scan.
fn copy_checking(dst: &mut [f32], src: &[f32]) -> u32 {
    let mut top = 0u32;
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
        top = top.max(s.to_bits() & EXPONENT);
    }
    top
}

/// The first NaN or infinite sample of planar `channels` (channel by
/// channel, as [`resonode_core::AudioBlock::find_non_finite`] looks), as a
/// [`Error::NonFiniteSample`] naming its frame and channel.
fn check_all_finite(channels: &[&mut [f32]]) -> resonode_core::Result<()> {
    for (c, ch) in channels.iter().enumerate() {
        // One vectorisable pass per channel; the position only on failure.
        if ch.iter().fold(0u32, |top, s| top.max(s.to_bits() & EXPONENT)) == EXPONENT {
            if let Some((f, &v)) = ch.iter().enumerate().find(|(_, s)| !s.is_finite()) {
                return Err(Error::NonFiniteSample { frame: f as u64, channel: c, value: v });
            }
        }
    }
    Ok(())
}

/// Processes `channels` in place, piece by piece through the staging
/// buffer. All or nothing for bad input: the shape and every sample are
/// checked before the first piece runs, so an error leaves both the
/// caller's arrays and the chain's state as they were.
fn process_in_pieces(p: &mut Prepared, channels: &mut [&mut [f32]]) -> resonode_core::Result<()> {
    let spec = p.chain.spec().ok_or_else(|| Error::InvalidState { reason: "chain is not prepared".into() })?;
    if channels.len() != spec.channels {
        return Err(Error::shape(format!("got {} channels, the chain was prepared for {}", channels.len(), spec.channels)));
    }
    let frames = channels[0].len();
    if let Some((c, ch)) = channels.iter().enumerate().find(|(_, ch)| ch.len() != frames) {
        return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {frames}", ch.len())));
    }
    let one_piece = frames <= p.buf.capacity();
    if !one_piece {
        // Several pieces: a NaN in a later one must not find the earlier
        // ones already processed. (One piece is checked while it is copied
        // in, before the chain runs.)
        check_all_finite(channels)?;
    }
    let mut start = 0;
    while start < frames {
        let n = (frames - start).min(p.buf.capacity());
        p.buf.set_frames(n);
        let mut top = 0;
        for (c, ch) in channels.iter().enumerate() {
            top = top.max(copy_checking(p.buf.channel_mut(c), &ch[start..start + n]));
        }
        if top == EXPONENT {
            if let Some((f, c, v)) = p.buf.as_block().find_non_finite() {
                return Err(Error::NonFiniteSample { frame: (start + f) as u64, channel: c, value: v });
            }
        }
        p.chain.process(&mut p.buf.as_block_mut());
        for (c, ch) in channels.iter_mut().enumerate() {
            ch[start..start + n].copy_from_slice(p.buf.channel(c));
        }
        start += n;
    }
    Ok(())
}

#[napi]
impl NativeChain {
    /// Builds and prepares the chain.
    ///
    /// @param sampleRate stream sample rate in Hz
    /// @param channels channel count
    /// @param maxBlockFrames largest block processed at once (larger input is split)
    /// @throws ERR_INVALID_CHAIN (also for `enhance`, which runs only in live
    /// chains), ERR_INVALID_PARAMETER
    #[napi(catch_unwind, constructor)]
    pub fn new(processors: Vec<ProcessorDesc>, sample_rate: u32, channels: u32, max_block_frames: Option<u32>) -> napi::Result<Self> {
        guard_core(|| {
            let mut chain = resonode_dsp::registry::build_chain_with(&specs(&processors)?, &EnhanceKind::refused())?;
            let max = max_block_frames.unwrap_or(8192).max(1) as usize;
            chain.prepare(&StreamSpec { sample_rate, channels: channels as usize, max_block_frames: max })?;
            let staging = AudioBuffer::new(channels as usize, max.min(STAGING_FRAMES));
            Ok(NativeChain { inner: Arc::new(Mutex::new(Prepared { chain, buf: staging })) })
        })
    }

    /// Processes planar channels in place, on the calling (JS) thread.
    ///
    /// @throws ERR_SHAPE for a wrong channel count or ragged channels,
    /// ERR_NON_FINITE_SAMPLE for NaN/Inf input.
    #[napi(catch_unwind)]
    pub fn process(&self, mut channels: Vec<Float32Array>) -> napi::Result<()> {
        guard_core(|| {
            let mut p = self.inner.lock().map_err(|_| Error::Internal { message: "chain lock poisoned".into() })?;
            let ranges: Vec<(usize, usize)> =
                channels.iter().map(|c| (c.as_ptr() as usize, c.as_ptr() as usize + c.len() * 4)).collect();
            let overlapping = ranges.iter().enumerate().any(|(i, a)| ranges[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1));
            if overlapping {
                return Err(Error::shape("channels must not share memory (the same array passed twice?)"));
            }
            let mut slices: Vec<&mut [f32]> = channels
                .iter_mut()
                // SAFETY: this runs synchronously on the JS thread, so no JS
                // code can touch the arrays while the slices live, and the
                // check above guarantees the slices do not alias each other.
                .map(|c| unsafe { c.as_mut() })
                .collect();
            process_in_pieces(&mut p, &mut slices)
        })
    }

    /// Processes a copy of the planar channels on a worker thread and
    /// resolves with the processed channels.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn process_async(&self, channels: Vec<Float32Array>) -> napi::Result<AsyncTask<ProcessTask>> {
        let data = channels.iter().map(|c| c.to_vec()).collect();
        Ok(AsyncTask::new(ProcessTask { inner: self.inner.clone(), data: Some(data) }))
    }

    /// Sets `"<index>.<name>"` (e.g. `"0.cutoff"`); filters keep their state.
    ///
    /// @throws ERR_INVALID_PARAMETER naming the path
    #[napi(catch_unwind)]
    pub fn set_parameter(&self, path: String, value: f64) -> napi::Result<()> {
        guard_core(|| {
            let mut p = self.inner.lock().map_err(|_| Error::Internal { message: "chain lock poisoned".into() })?;
            p.chain.set_parameter(&path, value)
        })
    }

    /// Reads `"<index>.<name>"`.
    #[napi(catch_unwind)]
    pub fn get_parameter(&self, path: String) -> napi::Result<f64> {
        guard_core(|| {
            let p = self.inner.lock().map_err(|_| Error::Internal { message: "chain lock poisoned".into() })?;
            p.chain.parameter(&path)
        })
    }

    /// Clears filter memories, delay lines and envelopes.
    #[napi(catch_unwind)]
    pub fn reset(&self) -> napi::Result<()> {
        guard(|| {
            self.inner.lock().map_err(|_| to_napi(Error::Internal { message: "chain lock poisoned".into() }))?.chain.reset();
            Ok(())
        })
    }

    /// Kinds of the processors, in order.
    #[napi(catch_unwind, getter)]
    pub fn kinds(&self) -> napi::Result<Vec<String>> {
        let p = self.inner.lock().map_err(|_| to_napi(Error::Internal { message: "chain lock poisoned".into() }))?;
        Ok(p.chain.kinds().into_iter().map(String::from).collect())
    }
}

pub struct ProcessTask {
    inner: Arc<Mutex<Prepared>>,
    data: Option<Vec<Vec<f32>>>,
}

impl Task for ProcessTask {
    type Output = Vec<Float32Array>;
    type JsValue = Vec<Float32Array>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let mut owned = self.data.take().ok_or_else(|| Error::Internal { message: "task ran twice".into() })?;
            let mut p = self.inner.lock().map_err(|_| Error::Internal { message: "chain lock poisoned".into() })?;
            let mut slices: Vec<&mut [f32]> = owned.iter_mut().map(|v| &mut v[..]).collect();
            process_in_pieces(&mut p, &mut slices)?;
            Ok(owned.into_iter().map(Float32Array::new).collect())
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(output)
    }
}

/// Checks that a processor description builds (sample-rate-independent
/// checks; cutoff vs Nyquist is checked when a stream is known).
///
/// @throws ERR_INVALID_CHAIN, ERR_INVALID_PARAMETER
#[napi(catch_unwind)]
pub fn validate_processor(desc: ProcessorDesc) -> napi::Result<()> {
    guard_core(|| resonode_dsp::registry::create_with(&desc.to_spec()?, &checking_kinds()).map(|_| ()))
}
