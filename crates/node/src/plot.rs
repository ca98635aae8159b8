//! Plot bindings: `plotFileNative` renders a file's plot on a worker thread
//! (decoding and analysis on their own threads, see `resonode_plot`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use resonode_analysis::key::{Mode, PITCH_CLASSES};
use resonode_analysis::track::TrackDescriptors;
use resonode_core::Error;
use resonode_plot::{plot_file, Annotations, Panel, PlotLayout, PlotOptions, DEFAULT_WIDTH};

use crate::analysis::{analysis_config, track_to_js, AnalysisControl, AnalysisOptionsDesc, TrackAnalysis};
use crate::error::{guard, guard_core};

/// What to draw over the audio instead of the file's own analysis (fields
/// of a `TrackAnalysis`: `tempoBpm`, `beats`, `downbeats` in s, `key` /
/// `mode` / `camelot`, `loudnessLufs`).
#[napi(object)]
#[derive(Clone, Default)]
pub struct PlotAnnotationsDesc {
    pub tempo_bpm: Option<f64>,
    pub beats: Option<Vec<f64>>,
    pub downbeats: Option<Vec<f64>>,
    pub key: Option<String>,
    pub mode: Option<String>,
    pub camelot: Option<String>,
    pub loudness_lufs: Option<f64>,
}

fn to_annotations(d: &PlotAnnotationsDesc) -> resonode_core::Result<Annotations> {
    let key = match (&d.key, &d.mode) {
        (Some(k), Some(m)) => {
            let tonic = PITCH_CLASSES.iter().position(|p| p == k).ok_or_else(|| {
                Error::param(
                    "analysis.key",
                    format!("{k:?} is not one of {}", PITCH_CLASSES.join(", ")),
                )
            })?;
            let mode = match m.as_str() {
                "major" => Mode::Major,
                "minor" => Mode::Minor,
                _ => {
                    return Err(Error::param(
                        "analysis.mode",
                        format!("{m:?} is not major or minor"),
                    ))
                }
            };
            let camelot = d
                .camelot
                .clone()
                .unwrap_or_else(|| resonode_analysis::key::camelot(tonic as u8, mode));
            Some((tonic as u8, mode, camelot))
        }
        _ => None,
    };
    for (name, times) in [
        ("analysis.beats", &d.beats),
        ("analysis.downbeats", &d.downbeats),
    ] {
        if times.iter().flatten().any(|t| !t.is_finite()) {
            return Err(Error::param(
                name,
                "times must be finite numbers of seconds",
            ));
        }
    }
    Ok(Annotations {
        tempo_bpm: d.tempo_bpm,
        beats_s: d.beats.clone().unwrap_or_default(),
        downbeats_s: d.downbeats.clone().unwrap_or_default(),
        key,
        integrated_lufs: d.loudness_lufs,
    })
}

/// A panel's plotting area (px, without axes) and what it spans.
#[napi(object)]
pub struct PlotPanel {
    /// `waveform` (with the beat grid when `beats` is shown), `spectrogram`, `chroma`, `loudness`.
    pub name: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub time_start_s: f64,
    pub time_end_s: f64,
    /// Spectrogram only: frequency range (Hz) of its logarithmic axis.
    pub f_min_hz: Option<f64>,
    pub f_max_hz: Option<f64>,
    pub log_frequency: Option<bool>,
}

/// The written image, its layout and the file's analysis.
#[napi(object)]
pub struct NativePlotResult {
    pub out: String,
    /// `png` or `svg`.
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub duration_s: f64,
    pub analysis: TrackAnalysis,
    pub panels: Vec<PlotPanel>,
}

pub struct PlotFileTask {
    path: String,
    opts: resonode_core::Result<(PlotOptions, Option<Annotations>)>,
    stop: Arc<AtomicBool>,
    fraction_bits: Arc<AtomicU64>,
}

impl Task for PlotFileTask {
    type Output = (PlotLayout, TrackDescriptors);
    type JsValue = NativePlotResult;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let (opts, ann) = self.opts.clone()?;
            let bits = self.fraction_bits.clone();
            plot_file(&PathBuf::from(&self.path), &opts, ann, &self.stop, |f| {
                bits.store(f.to_bits(), Ordering::Relaxed)
            })
        })
    }
    fn resolve(&mut self, _: Env, (l, d): Self::Output) -> napi::Result<NativePlotResult> {
        guard(|| {
            Ok(NativePlotResult {
                out: l.out.display().to_string(),
                format: l.format.name().to_string(),
                width: l.width,
                height: l.height,
                duration_s: l.duration_s,
                analysis: track_to_js(&d),
                panels: l
                    .panels
                    .iter()
                    .map(|p| PlotPanel {
                        name: p.panel.name().to_string(),
                        x: p.x,
                        y: p.y,
                        width: p.width,
                        height: p.height,
                        time_start_s: p.time_start_s,
                        time_end_s: p.time_end_s,
                        f_min_hz: p.f_min_hz,
                        f_max_hz: p.f_max_hz,
                        log_frequency: p.log_frequency.then_some(true),
                    })
                    .collect(),
            })
        })
    }
}

/// Plots the file at `path` into `out` (`.png` / `.svg`) on a worker
/// thread: panels `show` (default all: waveform, spectrogram, chroma,
/// beats, loudness), `width` px (default 1600, 400..8192), drawn over with
/// `annotations` when given (else the file's analysis).
///
/// @throws ERR_INVALID_PARAMETER (extension, panel, width, annotations),
/// ERR_NOT_FOUND, ERR_UNSUPPORTED_FORMAT, ERR_DECODE, ERR_EMPTY_AUDIO,
/// ERR_NON_FINITE_SAMPLE, ERR_IO (writing), ERR_INVALID_STATE (stopped)
#[napi(catch_unwind, ts_return_type = "Promise<NativePlotResult>")]
pub fn plot_file_native(
    path: String,
    out: String,
    show: Option<Vec<String>>,
    width: Option<u32>,
    annotations: Option<PlotAnnotationsDesc>,
    control: &AnalysisControl,
) -> AsyncTask<PlotFileTask> {
    let opts = (|| {
        let show = show
            .unwrap_or_default()
            .iter()
            .map(|s| Panel::parse(s))
            .collect::<resonode_core::Result<Vec<_>>>()?;
        let opts = PlotOptions {
            out: PathBuf::from(&out),
            show,
            width: width.unwrap_or(DEFAULT_WIDTH),
            // The analysis drawn is the default one, as `analyze()` without options.
            config: analysis_config(&AnalysisOptionsDesc::default())?,
        };
        resonode_plot::check_options(&opts)?;
        let ann = annotations.as_ref().map(to_annotations).transpose()?;
        Ok((opts, ann))
    })();
    AsyncTask::new(PlotFileTask {
        path,
        opts,
        stop: control.stop.clone(),
        fraction_bits: control.fraction_bits.clone(),
    })
}
