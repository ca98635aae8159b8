//! Music analysis bindings: whole files on a worker thread
//! (`analyzeFile`), and `NativeAnalyzer`, a streaming analyzer fed with
//! planar blocks (pipelines) or by a live engine's pump thread (never the
//! audio callback).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use resonode_analysis::track::TrackDescriptors;
use resonode_analysis::{analyze_file, AnalysisConfig, AnalyzeOptions, FeatureFrames, FrameCsvWriter, LiveAnalyzer, LiveSnapshot, TrackAnalyzer};
use resonode_core::Error;

use crate::error::{guard, guard_core};

/// Analysis settings; absent fields take the defaults (22050 Hz, nFft 2048,
/// hopLength 512, nMels 128, nMfcc 13, rolloffPercent 0.85, tuning 0,
/// floorLookaheadS 10).
#[napi(object)]
#[derive(Clone, Default)]
pub struct AnalysisOptionsDesc {
    pub sample_rate: Option<u32>,
    pub n_fft: Option<u32>,
    pub hop_length: Option<u32>,
    pub n_mels: Option<u32>,
    pub n_mfcc: Option<u32>,
    pub rolloff_percent: Option<f64>,
    pub tuning: Option<f64>,
    pub floor_lookahead_s: Option<f64>,
}

pub fn analysis_config(d: &AnalysisOptionsDesc) -> resonode_core::Result<AnalysisConfig> {
    let base = AnalysisConfig::default();
    let cfg = AnalysisConfig {
        sample_rate: d.sample_rate.unwrap_or(base.sample_rate),
        n_fft: d.n_fft.map_or(base.n_fft, |v| v as usize),
        hop_length: d.hop_length.map_or(base.hop_length, |v| v as usize),
        n_mels: d.n_mels.map_or(base.n_mels, |v| v as usize),
        n_mfcc: d.n_mfcc.map_or(base.n_mfcc, |v| v as usize),
        rolloff_percent: d.rolloff_percent.unwrap_or(base.rolloff_percent),
        tuning: d.tuning.unwrap_or(base.tuning),
        floor_lookahead_s: d.floor_lookahead_s.unwrap_or(base.floor_lookahead_s),
        center: true,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Frame features, features x frames (one typed array per feature, one
/// value per frame).
#[napi(object)]
pub struct FeatureBatch {
    /// Index of the first frame; frame `t` is centred at `t / frameRate` s.
    pub first_frame: f64,
    /// Frames per second.
    pub frame_rate: f64,
    pub frames: u32,
    pub rms: Float32Array,
    pub zcr: Float32Array,
    pub centroid_hz: Float32Array,
    pub bandwidth_hz: Float32Array,
    pub rolloff_hz: Float32Array,
    pub flatness: Float32Array,
    pub flux: Float32Array,
    pub onset_strength: Float32Array,
    /// nMfcc rows.
    pub mfcc: Vec<Float32Array>,
    /// 12 rows, C first.
    pub chroma: Vec<Float32Array>,
}

fn batch(f: &FeatureFrames, frame_rate: f64) -> FeatureBatch {
    let a = |v: &Vec<f32>| Float32Array::new(v.clone());
    FeatureBatch {
        first_frame: f.first_frame as f64,
        frame_rate,
        frames: f.len() as u32,
        rms: a(&f.rms),
        zcr: a(&f.zcr),
        centroid_hz: a(&f.centroid_hz),
        bandwidth_hz: a(&f.bandwidth_hz),
        rolloff_hz: a(&f.rolloff_hz),
        flatness: a(&f.flatness),
        flux: a(&f.flux),
        onset_strength: a(&f.onset_strength),
        mfcc: f.mfcc.iter().map(a).collect(),
        chroma: f.chroma.iter().map(a).collect(),
    }
}

/// Whole-track descriptors.
#[napi(object)]
pub struct TrackAnalysis {
    pub duration_s: f64,
    /// Of the input (Hz).
    pub sample_rate: u32,
    pub channels: u32,
    /// Analysis frames.
    pub frames: f64,
    /// BPM, or null with `tempoReason`.
    pub tempo_bpm: Option<f64>,
    /// 0..1 (0 without a tempo).
    pub tempo_confidence: f64,
    pub tempo_reason: Option<String>,
    /// Beat times (s).
    pub beats: Vec<f64>,
    /// Downbeat times (s), when a bar phase stands out.
    pub downbeats: Vec<f64>,
    /// Tonic with sharps (`C`, `C#`, ... `B`), or null with `keyReason`.
    pub key: Option<String>,
    /// `major` or `minor`.
    pub mode: Option<String>,
    /// Camelot code (`8B` = C major, `8A` = A minor).
    pub camelot: Option<String>,
    pub key_confidence: f64,
    pub key_reason: Option<String>,
    /// EBU R128 integrated loudness (LUFS); null for silence.
    pub loudness_lufs: Option<f64>,
    /// EBU R128 loudness range (LU).
    pub loudness_range_lu: Option<f64>,
    /// True peak (dBTP).
    pub true_peak_dbtp: Option<f64>,
    /// RMS level, linear (0..1).
    pub energy: f64,
    /// Fixed-length vector for similarity (44 values; see the docs).
    pub summary: Vec<f64>,
    pub analyzer_version: String,
}

pub(crate) fn track_to_js(d: &TrackDescriptors) -> TrackAnalysis {
    TrackAnalysis {
        duration_s: d.duration_s,
        sample_rate: d.sample_rate,
        channels: d.channels as u32,
        frames: d.frames as f64,
        tempo_bpm: d.tempo.map(|t| t.bpm),
        tempo_confidence: d.tempo.map_or(0.0, |t| t.confidence),
        tempo_reason: d.tempo_reason.clone(),
        beats: d.beats_s.clone(),
        downbeats: d.downbeats_s.clone(),
        key: d.key.map(|k| k.tonic_name().to_string()),
        mode: d.key.map(|k| k.mode.as_str().to_string()),
        camelot: d.key.map(|k| k.camelot()),
        key_confidence: d.key.map_or(0.0, |k| k.confidence),
        key_reason: d.key_reason.clone(),
        loudness_lufs: d.loudness.integrated_lufs,
        loudness_range_lu: d.loudness.range_lu,
        true_peak_dbtp: d.loudness.true_peak_dbtp,
        energy: d.energy,
        summary: d.summary.clone(),
        analyzer_version: resonode_analysis::ANALYZER_VERSION.to_string(),
    }
}

/// Progress and stop flag of a running `analyzeFileNative` or `plotFileNative`. JS polls it.
#[napi]
pub struct AnalysisControl {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) fraction_bits: Arc<AtomicU64>,
    frames: Arc<AtomicU64>,
}

#[napi]
impl AnalysisControl {
    #[napi(catch_unwind, constructor)]
    pub fn new() -> Self {
        AnalysisControl { stop: Arc::new(AtomicBool::new(false)), fraction_bits: Arc::new(AtomicU64::new(0f64.to_bits())), frames: Arc::default() }
    }
    /// Asks the analysis (or plot) to stop: it rejects with ERR_INVALID_STATE; a plot writes nothing.
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    /// Fraction done in [0, 1] (NaN when the length is unknown).
    #[napi(catch_unwind, getter)]
    pub fn fraction(&self) -> f64 {
        f64::from_bits(self.fraction_bits.load(Ordering::Relaxed))
    }
    /// Analysis frames completed (and written to the CSV, when there is one).
    #[napi(catch_unwind, getter)]
    pub fn frames(&self) -> f64 {
        self.frames.load(Ordering::Relaxed) as f64
    }
}

impl Default for AnalysisControl {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of `analyzeFile`: descriptors, and the frames when asked for.
#[napi(object)]
pub struct FileAnalysis {
    pub track: TrackAnalysis,
    pub features: Option<FeatureBatch>,
}

pub struct AnalyzeFileTask {
    path: String,
    cfg: resonode_core::Result<AnalysisConfig>,
    frames_csv: Option<String>,
    keep_frames: bool,
    stop: Arc<AtomicBool>,
    fraction_bits: Arc<AtomicU64>,
    frames: Arc<AtomicU64>,
}

impl Task for AnalyzeFileTask {
    type Output = (TrackDescriptors, Option<FeatureFrames>, f64);
    type JsValue = FileAnalysis;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let cfg = self.cfg.clone()?;
            let frame_rate = cfg.frame_rate();
            let mut csv = match &self.frames_csv {
                Some(p) => {
                    let file = std::fs::File::create(p).map_err(|e| Error::Io { path: p.clone(), reason: e.to_string() })?;
                    Some(FrameCsvWriter::new(std::io::BufWriter::new(file), &cfg, p.clone()))
                }
                None => None,
            };
            let mut kept = self.keep_frames.then(|| FeatureFrames::new(cfg.n_mfcc));
            let opts = AnalyzeOptions { config: cfg, block_frames: None };
            let bits = self.fraction_bits.clone();
            let done = self.frames.clone();
            let d = analyze_file(
                &PathBuf::from(&self.path),
                &opts,
                &self.stop,
                |f| bits.store(f.to_bits(), Ordering::Relaxed),
                |f| {
                    if let Some(k) = kept.as_mut() {
                        k.append(f);
                    }
                    csv.as_mut().map_or(Ok(()), |w| w.write(f))?;
                    done.fetch_add(f.len() as u64, Ordering::Relaxed);
                    Ok(())
                },
            );
            // What was written stays a valid CSV, also after a failure.
            if let Some(w) = csv {
                w.finish()?;
            }
            Ok((d?, kept, frame_rate))
        })
    }
    fn resolve(&mut self, _: Env, (d, frames, rate): Self::Output) -> napi::Result<FileAnalysis> {
        guard(|| Ok(FileAnalysis { track: track_to_js(&d), features: frames.map(|f| batch(&f, rate)) }))
    }
}

/// Analyses a file on a worker thread (decoding on a second one):
/// descriptors, optionally every frame's features (`keepFrames`) and a CSV
/// of them (`framesCsv`).
///
/// @throws ERR_NOT_FOUND, ERR_UNSUPPORTED_FORMAT, ERR_DECODE, ERR_EMPTY_AUDIO,
/// ERR_NON_FINITE_SAMPLE, ERR_INVALID_PARAMETER, ERR_IO (CSV),
/// ERR_INVALID_STATE (stopped)
#[napi(catch_unwind, ts_return_type = "Promise<FileAnalysis>")]
pub fn analyze_file_native(
    path: String,
    options: Option<AnalysisOptionsDesc>,
    control: &AnalysisControl,
    frames_csv: Option<String>,
    keep_frames: Option<bool>,
) -> AsyncTask<AnalyzeFileTask> {
    AsyncTask::new(AnalyzeFileTask {
        path,
        cfg: analysis_config(&options.unwrap_or_default()),
        frames_csv,
        keep_frames: keep_frames.unwrap_or(false),
        stop: control.stop.clone(),
        fraction_bits: control.fraction_bits.clone(),
        frames: control.frames.clone(),
    })
}

/// A streaming analyzer's state: the live analyzer (rolling estimates, no
/// lookahead) and, for whole streams, a track analyzer for the final
/// descriptors.
pub struct AnalyzerState {
    live: LiveAnalyzer,
    track: Option<TrackAnalyzer>,
    failed: Option<Error>,
}

impl AnalyzerState {
    /// Feeds a block to both analyzers; the live analyzer's frames go to
    /// `on_frames`. Returns whether the rolling estimates were updated.
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S], on_frames: impl FnOnce(&FeatureFrames)) -> resonode_core::Result<bool> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let updated = self.live.push(planar, on_frames)?;
        if let Some(t) = self.track.as_mut() {
            t.push(planar, |_| {})?;
        }
        Ok(updated)
    }

    /// The error that stopped it, if any.
    pub fn failure(&self) -> Option<Error> {
        self.failed.clone()
    }
}

pub type SharedAnalyzer = Arc<Mutex<AnalyzerState>>;

/// Live state of an analyzer.
#[napi(object)]
pub struct LiveAnalysis {
    /// Stream time of the input analysed so far (s).
    pub time_s: f64,
    /// The latest frame (one value per feature), and its time (s).
    pub features: Option<FeatureBatch>,
    pub frame_time_s: f64,
    pub tempo_bpm: Option<f64>,
    pub tempo_confidence: f64,
    /// Stream time of the latest beat (s).
    pub last_beat_s: Option<f64>,
    /// Predicted next beats, stream time (s).
    pub next_beats: Vec<f64>,
    pub key: Option<String>,
    pub mode: Option<String>,
    pub camelot: Option<String>,
    pub key_confidence: f64,
    /// `rising`, `steady` or `dropping`.
    pub energy_trend: Option<String>,
    /// Level change (dB) between the two windows the trend compares.
    pub energy_change_db: Option<f64>,
    /// Length of each of those windows (s).
    pub energy_window_s: f64,
    /// Level (mean power) of the last window, dBFS.
    pub level_dbfs: Option<f64>,
    /// Loudness of the last 30 s (LUFS, from EBU R128 short-term loudness).
    pub loudness_lufs: Option<f64>,
    /// Summary vector of the last 30 s (44 values, laid out as a track's).
    pub summary: Option<Vec<f64>>,
    /// Updates of tempo / key / trend so far (one per second of input).
    pub updates: f64,
}

fn live_to_js(s: &LiveSnapshot, frame_rate: f64) -> LiveAnalysis {
    LiveAnalysis {
        time_s: s.time_s,
        features: s.frame.as_ref().map(|f| batch(f, frame_rate)),
        frame_time_s: s.frame_time_s,
        tempo_bpm: s.beats.as_ref().map(|b| b.bpm),
        tempo_confidence: s.beats.as_ref().map_or(0.0, |b| b.confidence),
        last_beat_s: s.beats.as_ref().map(|b| b.last_beat_s),
        next_beats: s.beats.as_ref().map(|b| b.next_beats_s.clone()).unwrap_or_default(),
        key: s.key.map(|k| k.tonic_name().to_string()),
        mode: s.key.map(|k| k.mode.as_str().to_string()),
        camelot: s.key.map(|k| k.camelot()),
        key_confidence: s.key.map_or(0.0, |k| k.confidence),
        energy_trend: s.energy_trend.map(|t| t.trend.as_str().to_string()),
        energy_change_db: s.energy_trend.map(|t| t.change_db),
        energy_window_s: resonode_analysis::live::TREND_WINDOW_S,
        level_dbfs: s.level_dbfs,
        loudness_lufs: s.loudness_lufs,
        summary: s.summary.clone(),
        updates: s.updates as f64,
    }
}

/// What one pushed block gave.
#[napi(object)]
pub struct PushResult {
    /// Frames completed by this block (none yet when the block was short).
    pub features: Option<FeatureBatch>,
    /// Whether tempo / key / trend were updated.
    pub updated: bool,
}

/// A streaming analyzer: push planar blocks (from a pipeline), or attach it
/// to a live engine, whose pump thread feeds it from the lock-free tap.
#[napi]
pub struct NativeAnalyzer {
    pub(crate) inner: SharedAnalyzer,
    frame_rate: f64,
}

pub struct PushTask {
    inner: SharedAnalyzer,
    data: Option<Vec<Vec<f32>>>,
    frame_rate: f64,
}

impl Task for PushTask {
    type Output = (Option<FeatureFrames>, bool);
    type JsValue = PushResult;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let data = self.data.take().unwrap_or_default();
            let mut st = self.inner.lock().map_err(|_| Error::Internal { message: "analyzer lock poisoned".into() })?;
            let mut frames = None;
            let updated = st.push(&data, |f| frames = Some(f.clone()))?;
            Ok((frames, updated))
        })
    }
    fn resolve(&mut self, _: Env, (frames, updated): Self::Output) -> napi::Result<PushResult> {
        guard(|| Ok(PushResult { features: frames.map(|f| batch(&f, self.frame_rate)), updated }))
    }
}

pub struct FinishTask {
    inner: SharedAnalyzer,
    frame_rate: f64,
}

/// What ending a stream gave.
#[napi(object)]
pub struct FinishResult {
    /// The last frames (they reach into the end padding).
    pub features: Option<FeatureBatch>,
    /// Whole-stream descriptors (null without `track`, or without audio).
    pub track: Option<TrackAnalysis>,
}

impl Task for FinishTask {
    type Output = (Option<FeatureFrames>, Option<TrackDescriptors>);
    type JsValue = FinishResult;
    fn compute(&mut self) -> napi::Result<Self::Output> {
        guard_core(|| {
            let mut st = self.inner.lock().map_err(|_| Error::Internal { message: "analyzer lock poisoned".into() })?;
            let mut frames = None;
            st.live.finish(|f| frames = Some(f.clone()))?;
            let track = match st.track.take() {
                Some(t) if t.frames_in() > 0 => Some(t.finish(|_| {})?),
                _ => None,
            };
            Ok((frames, track))
        })
    }
    fn resolve(&mut self, _: Env, (frames, d): Self::Output) -> napi::Result<FinishResult> {
        guard(|| Ok(FinishResult { features: frames.map(|f| batch(&f, self.frame_rate)), track: d.as_ref().map(track_to_js) }))
    }
}

#[napi]
impl NativeAnalyzer {
    /// An analyzer for `channels` channels at `sampleRate` Hz. With
    /// `track` (default true) it also computes whole-stream descriptors,
    /// returned by `finishAsync`.
    ///
    /// @throws ERR_INVALID_PARAMETER
    #[napi(catch_unwind, constructor)]
    pub fn new(sample_rate: u32, channels: u32, options: Option<AnalysisOptionsDesc>, track: Option<bool>) -> napi::Result<Self> {
        guard_core(|| {
            let cfg = analysis_config(&options.unwrap_or_default())?;
            let live = LiveAnalyzer::new(cfg.clone(), sample_rate, channels as usize)?;
            let track = if track.unwrap_or(true) { Some(TrackAnalyzer::new(cfg.clone(), sample_rate, channels as usize)?) } else { None };
            Ok(NativeAnalyzer { frame_rate: cfg.frame_rate(), inner: Arc::new(Mutex::new(AnalyzerState { live, track, failed: None })) })
        })
    }

    /// Analyses a copy of a planar block on a worker thread.
    ///
    /// @throws ERR_SHAPE, ERR_NON_FINITE_SAMPLE
    #[napi(catch_unwind, ts_return_type = "Promise<PushResult>")]
    pub fn push_async(&self, channels: Vec<Float32Array>) -> AsyncTask<PushTask> {
        AsyncTask::new(PushTask { inner: self.inner.clone(), data: Some(channels.iter().map(|c| c.to_vec()).collect()), frame_rate: self.frame_rate })
    }

    /// Ends the stream: the last frames and the whole-stream descriptors
    /// (null when the analyzer was made without `track`, or got no audio).
    ///
    /// @throws ERR_EMPTY_AUDIO when the stream was shorter than one analysis window
    #[napi(catch_unwind, ts_return_type = "Promise<FinishResult>")]
    pub fn finish_async(&self) -> AsyncTask<FinishTask> {
        AsyncTask::new(FinishTask { inner: self.inner.clone(), frame_rate: self.frame_rate })
    }

    /// The live state now.
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> napi::Result<LiveAnalysis> {
        guard_core(|| {
            let st = self.inner.lock().map_err(|_| Error::Internal { message: "analyzer lock poisoned".into() })?;
            Ok(live_to_js(st.live.snapshot(), self.frame_rate))
        })
    }
}

/// Called by the engine's pump thread with tapped audio (planar).
/// Failures, panics included, are kept in the state (the pump reports them
/// once and the pump thread goes on).
pub fn feed_planar(shared: &SharedAnalyzer, planar: &[Vec<f32>]) -> Option<bool> {
    let mut st = shared.lock().ok()?;
    if st.failed.is_some() {
        return None;
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| st.push(planar, |_| {})));
    match outcome {
        Ok(Ok(updated)) => Some(updated),
        Ok(Err(e)) => {
            st.failed = Some(e);
            None
        }
        Err(_) => {
            st.failed = Some(Error::Internal { message: "the live analyzer panicked; it stopped, the engine goes on".into() });
            None
        }
    }
}
