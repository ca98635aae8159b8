//! Beat-matched transitions (`resonode_mix`) on a worker thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_mix::{render_transition, TransitionOptions, TransitionReport};

use crate::error::{guard, guard_core};

/// Options of `mixTransitionNative`; absent fields take the defaults
/// (16 / 16 / 16 beats, loudness matched).
#[napi(object)]
#[derive(Default)]
pub struct TransitionOptionsDesc {
    pub crossfade_beats: Option<u32>,
    pub lead_in_beats: Option<u32>,
    pub tail_beats: Option<u32>,
    pub match_loudness: Option<bool>,
}

/// What a rendered transition holds. Times in s (output time unless said),
/// tempos in BPM, gains in dB, loudness in LUFS.
#[napi(object)]
pub struct TransitionReportJs {
    pub out: String,
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u32,
    pub tempo_a_bpm: f64,
    pub tempo_b_bpm: f64,
    /// 1, or 2 / 0.5 when B is mixed at double / half time.
    pub tempo_multiple: f64,
    /// Playback-rate factor applied to B (tempo A / (tempo B x multiple)), pitch kept.
    pub stretch_ratio: f64,
    /// Where in A the output starts, and A's downbeat (time in A) where the crossfade starts.
    pub a_start_s: f64,
    pub a_downbeat_s: f64,
    /// B's downbeat (time in B, unstretched) aligned to it.
    pub b_downbeat_s: f64,
    pub crossfade_start_s: f64,
    pub crossfade_end_s: f64,
    pub tail_beats: u32,
    /// Loudness-matching gain applied to B.
    pub gain_b_db: f64,
    /// 0, or the (negative) gain that kept the mix from clipping.
    pub output_gain_db: f64,
    pub loudness_a_lufs: Option<f64>,
    pub loudness_b_lufs: Option<f64>,
    /// Where beats should fall in the output (A's grid through the crossfade, then B's stretched grid).
    pub expected_beats: Vec<f64>,
}

pub struct TransitionTask {
    a: String,
    b: String,
    out: String,
    opts: TransitionOptions,
    stop: Arc<AtomicBool>,
}

impl Task for TransitionTask {
    type Output = TransitionReport;
    type JsValue = TransitionReportJs;
    fn compute(&mut self) -> napi::Result<TransitionReport> {
        guard_core(|| render_transition(&PathBuf::from(&self.a), &PathBuf::from(&self.b), &PathBuf::from(&self.out), &self.opts, &self.stop))
    }
    fn resolve(&mut self, _: Env, r: TransitionReport) -> napi::Result<TransitionReportJs> {
        guard(|| Ok(TransitionReportJs {
            out: self.out.clone(),
            duration_s: r.duration_s,
            sample_rate: r.sample_rate,
            channels: r.channels as u32,
            tempo_a_bpm: r.tempo_a_bpm,
            tempo_b_bpm: r.tempo_b_bpm,
            tempo_multiple: r.tempo_multiple,
            stretch_ratio: r.stretch_ratio,
            a_start_s: r.a_start_s,
            a_downbeat_s: r.a_downbeat_s,
            b_downbeat_s: r.b_downbeat_s,
            crossfade_start_s: r.crossfade_start_s,
            crossfade_end_s: r.crossfade_end_s,
            tail_beats: r.tail_beats,
            gain_b_db: r.gain_b_db,
            output_gain_db: r.output_gain_db,
            loudness_a_lufs: r.loudness_a_lufs,
            loudness_b_lufs: r.loudness_b_lufs,
            expected_beats: r.expected_beats_s,
        }))
    }
}

/// Stops a transition render.
#[napi]
pub struct TransitionControl {
    stop: Arc<AtomicBool>,
}

#[napi]
impl TransitionControl {
    #[napi(catch_unwind, constructor)]
    pub fn new() -> Self {
        TransitionControl { stop: Arc::new(AtomicBool::new(false)) }
    }

    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Default for TransitionControl {
    fn default() -> Self {
        Self::new()
    }
}

/// Renders the end of `a` into the start of `b` (B time-stretched to A's
/// tempo, downbeats aligned, equal-power crossfade, loudness matched) into `out`.
///
/// @throws ERR_NOT_FOUND, ERR_DECODE, ERR_UNSUPPORTED_FORMAT, ERR_INVALID_PARAMETER
/// (crossfadeBeats, a track too short), ERR_INVALID_STATE (no tempo; stopped), ERR_IO
#[napi(catch_unwind, ts_return_type = "Promise<TransitionReportJs>")]
pub fn mix_transition_native(a: String, b: String, out: String, options: Option<TransitionOptionsDesc>, control: &TransitionControl) -> AsyncTask<TransitionTask> {
    let o = options.unwrap_or_default();
    let base = TransitionOptions::default();
    AsyncTask::new(TransitionTask {
        a,
        b,
        out,
        opts: TransitionOptions {
            crossfade_beats: o.crossfade_beats.unwrap_or(base.crossfade_beats),
            lead_in_beats: o.lead_in_beats.unwrap_or(base.lead_in_beats),
            tail_beats: o.tail_beats.unwrap_or(base.tail_beats),
            match_loudness: o.match_loudness.unwrap_or(base.match_loudness),
        },
        stop: control.stop.clone(),
    })
}
