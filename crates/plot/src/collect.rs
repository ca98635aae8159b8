//! [`Collector`]: what the panels draw, accumulated per time bin while
//! [`analyze_file_with_blocks`](resonode_analysis::analyze_file_with_blocks)
//! streams the file (one decode, bounded memory).

use resonode_analysis::input::AnalysisInput;
use resonode_analysis::log_bands::LogBands;
use resonode_analysis::loudness::{LoudnessMeter, Measures};
use resonode_analysis::spectrum::{Framer, Stft};
use resonode_analysis::{AnalysisConfig, DecodedBlocks, FeatureFrames};
use resonode_core::Result;

use crate::bins::{Combine, TimeBins};

/// Lowest frequency of the spectrogram (Hz); the highest is the Nyquist
/// frequency of the analysis rate.
pub const SPECTROGRAM_F_MIN_HZ: f32 = 30.0;
/// Log-frequency bands accumulated for the spectrogram (rows are mapped
/// onto the panel's pixel rows when drawing).
pub const SPECTROGRAM_BANDS: usize = 240;
/// Short-term loudness is sampled this often (seconds).
pub const LOUDNESS_STEP_S: f64 = 0.1;

// Values of a time bin.
pub(crate) const MIN: usize = 0;
pub(crate) const MAX: usize = 1;
pub(crate) const SUM_SQ: usize = 2;
pub(crate) const SAMPLES: usize = 3;
pub(crate) const SPEC_N: usize = 4;
pub(crate) const CHROMA_N: usize = 5;
pub(crate) const LOUD_SUM: usize = 6;
pub(crate) const LOUD_N: usize = 7;
pub(crate) const CHROMA: usize = 8;
pub(crate) const SPEC: usize = CHROMA + 12;

/// Per-time-bin data of a file.
#[derive(Debug)]
pub struct PlotData {
    /// Input rate (Hz), channels and frames decoded.
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: u64,
    pub bins: TimeBins,
    /// The spectrogram's bands (their power in each bin: sums over STFT
    /// frames, divide by the bin's frame count).
    pub bands: LogBands,
    /// STFT size of the spectrogram, for the dB reference.
    pub n_fft: usize,
}

/// Accumulates [`PlotData`]: a [`DecodedBlocks`] hook for the waveform,
/// spectrogram and loudness, and [`Collector::frames`] for the chroma of
/// the analyzer's frame features.
pub struct Collector {
    cfg: AnalysisConfig,
    target_bins: usize,
    state: Option<State>,
}

struct State {
    rate: u32,
    channels: usize,
    frames_in: u64,
    bins: TimeBins,
    input: AnalysisInput,
    framer: Framer,
    stft: Stft,
    power: Vec<f32>,
    magnitude: Vec<f32>,
    bands: LogBands,
    band_power: Vec<f32>,
    short_term: LoudnessMeter,
    loud_step: u64,
    next_loud: u64,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("target_bins", &self.target_bins)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector aiming at `target_bins` time bins, with the analysis
    /// settings `cfg` (its rate, `n_fft` and hop are the spectrogram's).
    pub fn new(cfg: AnalysisConfig, target_bins: usize) -> Self {
        Collector {
            cfg,
            target_bins,
            state: None,
        }
    }

    /// Input-frame position of analysis frame `t` (its centre, with
    /// `cfg.center`).
    fn analysis_frame_pos(cfg: &AnalysisConfig, rate: u32, t: u64) -> u64 {
        (cfg.frame_time(t) * f64::from(rate)).round() as u64
    }

    /// Adds the chroma of a batch of the analyzer's frame features.
    pub fn frames(&mut self, f: &FeatureFrames) {
        let Some(s) = self.state.as_mut() else { return };
        for t in 0..f.len() {
            let pos = Self::analysis_frame_pos(&self.cfg, s.rate, f.first_frame + t as u64);
            let bin = s.bins.at(pos);
            bin[CHROMA_N] += 1.0;
            for (c, row) in f.chroma.iter().enumerate().take(12) {
                bin[CHROMA + c] += f64::from(row[t]);
            }
        }
    }

    fn spectrum_frames(cfg: &AnalysisConfig, s: &mut State, finish: bool, samples: &[f32]) {
        let State {
            framer,
            stft,
            power,
            magnitude,
            bands,
            band_power,
            bins,
            rate,
            ..
        } = s;
        let rate = *rate;
        let mut on_frame = |fr: resonode_analysis::spectrum::Frame<'_>| {
            stft.power_and_magnitude(fr.samples, power, magnitude);
            bands.apply(power, band_power);
            let bin = bins.at(Self::analysis_frame_pos(cfg, rate, fr.index));
            bin[SPEC_N] += 1.0;
            for (o, &p) in bin[SPEC..].iter_mut().zip(band_power.iter()) {
                *o += f64::from(p);
            }
        };
        if finish {
            framer.finish(&mut on_frame);
        } else {
            framer.push(samples, &mut on_frame);
        }
    }

    /// Ends the stream: the last spectrogram frames; `None` when nothing
    /// was started.
    ///
    /// # Errors
    /// Internal resampler errors.
    pub fn finish(mut self) -> Result<Option<PlotData>> {
        let Some(mut s) = self.state.take() else {
            return Ok(None);
        };
        let mut tail = Vec::new();
        s.input.finish(|x| tail.extend_from_slice(x))?;
        Self::spectrum_frames(&self.cfg, &mut s, false, &tail);
        Self::spectrum_frames(&self.cfg, &mut s, true, &[]);
        Ok(Some(PlotData {
            sample_rate: s.rate,
            channels: s.channels,
            frames: s.frames_in,
            bins: s.bins,
            bands: s.bands,
            n_fft: self.cfg.n_fft,
        }))
    }
}

impl DecodedBlocks for Collector {
    fn start(
        &mut self,
        sample_rate: u32,
        channels: usize,
        total_frames: Option<u64>,
    ) -> Result<()> {
        let mut combine = vec![Combine::Min, Combine::Max];
        combine.resize(SPEC + SPECTROGRAM_BANDS, Combine::Sum);
        let cfg = &self.cfg;
        let nyquist = cfg.sample_rate as f32 / 2.0;
        let loud_step = ((f64::from(sample_rate) * LOUDNESS_STEP_S).round() as u64).max(1);
        self.state = Some(State {
            rate: sample_rate,
            channels,
            frames_in: 0,
            bins: TimeBins::new(combine, sample_rate, total_frames, self.target_bins),
            input: AnalysisInput::new(
                sample_rate,
                channels,
                cfg.sample_rate,
                resonode_analysis::input::FILE_RESAMPLER_CHUNK,
            )?,
            framer: Framer::new(cfg.n_fft, cfg.hop_length, cfg.center),
            stft: Stft::new(cfg.n_fft),
            power: vec![0.0; cfg.n_bins()],
            magnitude: vec![0.0; cfg.n_bins()],
            bands: LogBands::new(
                cfg.sample_rate,
                cfg.n_fft,
                SPECTROGRAM_BANDS,
                SPECTROGRAM_F_MIN_HZ,
                nyquist,
            )?,
            band_power: vec![0.0; SPECTROGRAM_BANDS],
            short_term: LoudnessMeter::with_measures(sample_rate, channels, Measures::ShortTerm)?,
            loud_step,
            next_loud: loud_step,
        });
        Ok(())
    }

    fn block(&mut self, planar: &[&[f32]]) -> Result<()> {
        let cfg = &self.cfg;
        let Some(s) = self.state.as_mut() else {
            return Ok(());
        };
        let frames = planar.first().map_or(0, |c| c.len());
        // Waveform: envelope over all channels, RMS of all their samples.
        let mut start = 0;
        while start < frames {
            let pos = s.frames_in + start as u64;
            let fpb = s.bins.frames_per_bin();
            let end = frames.min(start + (fpb - pos % fpb) as usize);
            let (mut lo, mut hi, mut sq) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f64);
            for ch in planar {
                for &v in &ch[start..end] {
                    lo = lo.min(v);
                    hi = hi.max(v);
                    sq += f64::from(v) * f64::from(v);
                }
            }
            let bin = s.bins.at(pos);
            bin[MIN] = bin[MIN].min(f64::from(lo));
            bin[MAX] = bin[MAX].max(f64::from(hi));
            bin[SUM_SQ] += sq;
            bin[SAMPLES] += ((end - start) * planar.len()) as f64;
            start = end;
        }
        // Short-term loudness (BS.1770, last 3 s) every LOUDNESS_STEP_S,
        // placed at the end of its window.
        let mut start = 0;
        while start < frames {
            let pos = s.frames_in + start as u64;
            let end = frames.min(start + (s.next_loud - pos) as usize);
            let part: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            s.short_term.push(&part)?;
            if s.frames_in + end as u64 == s.next_loud {
                if let Some(l) = s.short_term.short_term_lufs() {
                    let bin = s.bins.at(s.next_loud - 1);
                    bin[LOUD_SUM] += l;
                    bin[LOUD_N] += 1.0;
                }
                s.next_loud += s.loud_step;
            }
            start = end;
        }
        // Spectrogram of the mono analysis signal.
        let mut mono = Vec::new();
        s.input
            .push(planar, s.frames_in, |x| mono.extend_from_slice(x))?;
        s.frames_in += frames as u64;
        Self::spectrum_frames(cfg, s, false, &mono);
        Ok(())
    }
}
