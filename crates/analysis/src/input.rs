//! The analysis signal: any number of channels at any rate, downmixed to
//! mono (the mean of the channels, as librosa's `to_mono`) and resampled to
//! the analysis rate.
//!
//! Resampling is rubato's synchronous FFT resampler run in long blocks
//! ([`FILE_RESAMPLER_CHUNK`] input frames for files), whose anti-aliasing
//! filter is then as long and its transition band narrow: close to an ideal
//! band-limited resampler (on the repo's recordings, MFCCs within 0.02-0.08
//! of librosa's on the same file resampled ideally). Live input uses short
//! blocks ([`LIVE_RESAMPLER_CHUNK`]) to keep its lag small. Resamplers differ most in the top 5 % of the band (soxr's "HQ"
//! recipe, `librosa.load`'s default, rolls off from 10.3 kHz at 22050 Hz;
//! rubato's default 1024-frame blocks let more through), and the top mel
//! bands, hence MFCCs, follow: between those two MFCCs differ by up to 3 on
//! the repo's music recording. An ideal resampler is the one reference that
//! does not depend on a library's recipe.

use resonode_core::{Error, Result};
use resonode_io::PlanarResampler;

use crate::config::AnalysisConfig;
use crate::features::{FeatureExtractor, FeatureFrames};

/// Input frames per resampler block for files (see the module docs); the
/// analysis signal lags the input by up to this many frames.
pub const FILE_RESAMPLER_CHUNK: usize = 32768;
/// Input frames per resampler block for live input.
pub const LIVE_RESAMPLER_CHUNK: usize = 1024;

/// Downmix + resample stage.
pub struct AnalysisInput {
    channels: usize,
    resampler: Option<PlanarResampler>,
    mono: Vec<f32>,
    out: Vec<Vec<f32>>,
}

impl std::fmt::Debug for AnalysisInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisInput").field("channels", &self.channels).finish_non_exhaustive()
    }
}

impl AnalysisInput {
    /// For `channels` channels at `input_rate` Hz, to mono at
    /// `analysis_rate` Hz, resampling in blocks of about `chunk` input frames.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 channels or a rate rubato refuses.
    pub fn new(input_rate: u32, channels: usize, analysis_rate: u32, chunk: usize) -> Result<Self> {
        if channels == 0 {
            return Err(Error::param("channels", "the input has no channels"));
        }
        let resampler = if input_rate != analysis_rate {
            Some(PlanarResampler::with_chunk(input_rate, analysis_rate, 1, chunk)?)
        } else {
            None
        };
        Ok(AnalysisInput { channels, resampler, mono: Vec::new(), out: vec![Vec::new()] })
    }

    /// Converts a planar block and hands the mono analysis samples it yields
    /// (possibly none yet) to `f`.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count or unequal channels,
    /// [`Error::NonFiniteSample`] for NaN or infinity (`frame` counted from
    /// `first_frame`).
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S], first_frame: u64, f: impl FnOnce(&[f32])) -> Result<()> {
        if planar.len() != self.channels {
            return Err(Error::shape(format!("{} channels given, the analyzer was set up for {}", planar.len(), self.channels)));
        }
        let frames = planar[0].as_ref().len();
        self.mono.clear();
        self.mono.resize(frames, 0.0);
        let scale = 1.0 / self.channels as f32;
        for (c, ch) in planar.iter().enumerate() {
            let ch = ch.as_ref();
            if ch.len() != frames {
                return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {frames}", ch.len())));
            }
            for (i, (m, &v)) in self.mono.iter_mut().zip(ch).enumerate() {
                if !v.is_finite() {
                    return Err(Error::NonFiniteSample { frame: first_frame + i as u64, channel: c, value: v });
                }
                *m += v * scale;
            }
        }
        match &mut self.resampler {
            None => f(&self.mono),
            Some(rs) => {
                self.out[0].clear();
                rs.process(&[&self.mono[..]], &mut self.out)?;
                f(&self.out[0]);
            }
        }
        Ok(())
    }

    /// Flushes the resampler: the last analysis samples.
    ///
    /// # Errors
    /// Internal resampler errors.
    pub fn finish(&mut self, f: impl FnOnce(&[f32])) -> Result<()> {
        if let Some(rs) = &mut self.resampler {
            self.out[0].clear();
            rs.finish(&mut self.out)?;
            f(&self.out[0]);
        }
        Ok(())
    }
}

/// The analysis signal cut into frame features: [`AnalysisInput`] feeding a
/// [`FeatureExtractor`], counting input frames. Shared by the track and the
/// live analyzer.
pub struct FrameStream {
    input: AnalysisInput,
    features: FeatureExtractor,
    block: FeatureFrames,
    sample_rate: u32,
    frames_in: u64,
}

impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream").field("sample_rate", &self.sample_rate).field("frames_in", &self.frames_in).finish_non_exhaustive()
    }
}

impl FrameStream {
    /// For `channels` channels at `sample_rate` Hz, analysed with `cfg`,
    /// resampling in blocks of about `chunk` input frames.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a bad configuration, 0 channels or a
    /// rate outside 1000..=768000 Hz.
    pub fn new(cfg: AnalysisConfig, sample_rate: u32, channels: usize, chunk: usize) -> Result<Self> {
        cfg.validate()?;
        if !(resonode_io::MIN_SAMPLE_RATE..=resonode_io::MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(Error::param("sampleRate", format!("{sample_rate} Hz is outside [1000, 768000]")));
        }
        Ok(FrameStream {
            input: AnalysisInput::new(sample_rate, channels, cfg.sample_rate, chunk)?,
            block: FeatureFrames::new(cfg.n_mfcc),
            features: FeatureExtractor::new(cfg)?,
            sample_rate,
            frames_in: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AnalysisConfig {
        self.features.config()
    }

    /// Input sample rate (Hz).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Input frames pushed so far.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// The frames completed by the last [`push`](FrameStream::push) or
    /// [`finish`](FrameStream::finish) (possibly none).
    pub fn block(&self) -> &FeatureFrames {
        &self.block
    }

    /// Adds a planar block; its completed frames are then in [`block`](FrameStream::block).
    ///
    /// # Errors
    /// As [`AnalysisInput::push`]; a refused block is not used.
    pub fn push<S: AsRef<[f32]>>(&mut self, planar: &[S]) -> Result<()> {
        let frames = planar.first().map_or(0, |c| c.as_ref().len());
        let Self { input, features, block, .. } = self;
        block.clear(features.frames());
        input.push(planar, self.frames_in, |mono| features.push(mono, block))?;
        self.frames_in += frames as u64;
        Ok(())
    }

    /// Ends the stream: the resampler's last samples and the frames that
    /// reach into the end padding (and any held back) go to [`block`](FrameStream::block).
    ///
    /// # Errors
    /// Internal resampler errors.
    pub fn finish(&mut self) -> Result<()> {
        let Self { input, features, block, .. } = self;
        block.clear(features.frames());
        input.finish(|mono| features.push(mono, block))?;
        features.finish(block);
        Ok(())
    }
}
