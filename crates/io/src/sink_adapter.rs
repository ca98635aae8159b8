//! [`SinkAdapter`]: what a sink does to the stream before its own writing —
//! keep one stem of a stem-interleaved stream, convert the sample rate —
//! the same for files and devices, for JS-driven and native pipelines.

use resonode_core::chain::MAX_CHANNELS;
use resonode_core::{AudioBlock, Error, Result, Sink};

use crate::resampler::PlanarResampler;
use crate::sink::check_block_channels;
use crate::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// Wraps a [`Sink`] so that it receives only one stem of the stream and/or
/// the stream converted to another sample rate.
///
/// - Stem selection ([`with_stem`](SinkAdapter::with_stem)): of a
///   stem-interleaved stream (stem `i` in channels
///   `i * stem_channels .. (i + 1) * stem_channels`, as separation emits),
///   the inner sink gets stem `index` only.
/// - Sample rate ([`with_sample_rate`](SinkAdapter::with_sample_rate)): the
///   inner sink is opened at that rate and, when the stream's rate differs,
///   gets the stream converted by [`PlanarResampler`] (rubato, the converter
///   of [`crate::FileSource`]'s `sampleRate`), time-aligned. The
///   resampler's tail is flushed at [`finalize`](Sink::finalize), so for
///   `n` input frames the inner sink receives exactly
///   [`resampled_len`](crate::resampled_len)`(n, in_rate, out_rate)` =
///   `round(n * out_rate / in_rate)` frames (halves rounding up), also when
///   the pipeline stops or fails early (`n` then counts the frames written
///   before). While streaming the output lags the input by at most
///   [`PlanarResampler::max_lag_frames`] frames (about 1024 input frames).
///
/// Stem selection happens before resampling, so only the kept channels are
/// converted. `finalize` always finalizes the inner sink, also when
/// flushing the tail fails, so a file stays valid.
///
/// # Real-time safety
/// Not for an audio callback: converting allocates and a wrapped device
/// sink waits for room in its queue. With a device sink, this runs on the
/// writer's thread; the device callback only reads the sink's lock-free
/// queue.
pub struct SinkAdapter {
    inner: Box<dyn Sink>,
    name: String,
    stem: Option<(usize, usize)>,
    sample_rate: Option<u32>,
    channels: usize,
    resampler: Option<PlanarResampler>,
    converted: Vec<Vec<f32>>,
    staging: Vec<f32>,
    frames_written: u64,
    opened: bool,
}

impl std::fmt::Debug for SinkAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkAdapter")
            .field("name", &self.name)
            .field("stem", &self.stem)
            .field("sample_rate", &self.sample_rate)
            .field("frames_written", &self.frames_written)
            .finish_non_exhaustive()
    }
}

impl SinkAdapter {
    /// Wraps `inner`, passing the stream through unchanged until configured.
    /// `name` (a path, `speaker`) prefixes error messages.
    pub fn new(inner: Box<dyn Sink>, name: impl Into<String>) -> SinkAdapter {
        SinkAdapter {
            inner,
            name: name.into(),
            stem: None,
            sample_rate: None,
            channels: 0,
            resampler: None,
            converted: Vec::new(),
            staging: Vec::new(),
            frames_written: 0,
            opened: false,
        }
    }

    /// Keeps only stem `index` of `stem_channels` channels (checked against
    /// the stream at [`Sink::open`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`stemChannels`) for 0 channels per stem.
    pub fn with_stem(mut self, index: usize, stem_channels: usize) -> Result<SinkAdapter> {
        if stem_channels == 0 {
            return Err(Error::param("stemChannels", format!("{}: a stem has at least 1 channel", self.name)));
        }
        self.stem = Some((index, stem_channels));
        Ok(self)
    }

    /// Opens the inner sink at `sample_rate` Hz and resamples the stream to
    /// it when the stream's rate differs.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`sampleRate`) for a rate outside
    /// [`MIN_SAMPLE_RATE`]`..=`[`MAX_SAMPLE_RATE`] (1 kHz to 768 kHz, the
    /// rates resonode reads).
    pub fn with_sample_rate(mut self, sample_rate: u32) -> Result<SinkAdapter> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(Error::param(
                "sampleRate",
                format!("{}: {sample_rate} Hz is outside [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}]", self.name),
            ));
        }
        self.sample_rate = Some(sample_rate);
        Ok(self)
    }

    /// Frames handed to the inner sink so far (after stem selection and
    /// resampling, at the inner sink's rate); with a device sink whose
    /// `finalize` succeeded, the frames played.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Hands what the resampler produced (`self.converted`) to the inner
    /// sink and empties it.
    fn write_converted(&mut self) -> Result<()> {
        let frames = self.converted.first().map_or(0, Vec::len);
        if frames == 0 {
            return Ok(());
        }
        let ch = self.converted.len();
        self.staging.clear();
        for c in &self.converted {
            self.staging.extend_from_slice(c);
        }
        for c in &mut self.converted {
            c.clear();
        }
        self.inner.write(&AudioBlock::new(&self.staging, ch, frames, frames))?;
        self.frames_written += frames as u64;
        Ok(())
    }
}

impl Sink for SinkAdapter {
    /// Checks the stem against the stream, builds the resampler when the
    /// rates differ and opens the inner sink with the stem's channels at
    /// the output rate.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`stemIndex`) when the stem does not
    /// exist in a stream of `channels` channels; (`sampleRate`) when the
    /// stream's rate cannot be converted; (`channels`) when more than
    /// [`MAX_CHANNELS`] (256) channels would be resampled; as the inner
    /// sink's `open`.
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
        if self.opened {
            return Err(Error::InvalidState { reason: format!("{} is already open", self.name) });
        }
        let kept = match self.stem {
            Some((index, per)) => {
                if index.checked_add(1).and_then(|n| n.checked_mul(per)).is_none_or(|end| end > channels) {
                    return Err(Error::param(
                        "stemIndex",
                        format!(
                            "{}: stem {index} of {per} channels does not exist in a {channels}-channel stream",
                            self.name
                        ),
                    ));
                }
                per
            }
            None => channels,
        };
        let out_rate = self.sample_rate.unwrap_or(sample_rate);
        let resampling = out_rate != sample_rate;
        if resampling && !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(Error::param(
                "sampleRate",
                format!(
                    "{}: cannot resample a {sample_rate} Hz stream (outside [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}])",
                    self.name
                ),
            ));
        }
        if resampling && kept > MAX_CHANNELS {
            return Err(Error::param(
                "channels",
                format!("{}: resampling takes at most {MAX_CHANNELS} channels, got {kept}", self.name),
            ));
        }
        // The inner sink checks the channel count before anything is sized by it.
        self.inner.open(out_rate, kept)?;
        self.resampler = None;
        if resampling {
            match PlanarResampler::new(sample_rate, out_rate, kept) {
                Ok(rs) => self.resampler = Some(rs),
                Err(e) => {
                    let _ = self.inner.finalize();
                    return Err(match e {
                        Error::InvalidParameter { reason, .. } => Error::param(
                            "sampleRate",
                            format!("{}: cannot resample {sample_rate} Hz to {out_rate} Hz: {reason}", self.name),
                        ),
                        other => other,
                    });
                }
            }
            self.converted = vec![Vec::new(); kept];
        }
        self.channels = channels;
        self.frames_written = 0;
        self.opened = true;
        Ok(())
    }

    /// Selects the stem, converts, and writes what the resampler has
    /// finished (it holds back up to one chunk until `finalize`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] before open; [`Error::Shape`] for a block
    /// with a different channel count; [`Error::NonFiniteSample`] for NaN
    /// or infinity when resampling; as the inner sink's `write`.
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        if !self.opened {
            return Err(Error::InvalidState { reason: format!("{} is not open", self.name) });
        }
        check_block_channels(&self.name, self.channels, block)?;
        let (first, kept) = match self.stem {
            Some((index, per)) => (index * per, per),
            None => (0, self.channels),
        };
        if let Some(rs) = self.resampler.as_mut() {
            let input: Vec<&[f32]> = (first..first + kept).map(|c| block.channel(c)).collect();
            rs.process(&input, &mut self.converted)?;
            return self.write_converted();
        }
        if self.stem.is_none() {
            self.inner.write(block)?;
        } else {
            let frames = block.frames();
            self.staging.clear();
            for c in first..first + kept {
                self.staging.extend_from_slice(block.channel(c));
            }
            self.inner.write(&AudioBlock::new(&self.staging, kept, frames, frames))?;
        }
        self.frames_written += block.frames() as u64;
        Ok(())
    }

    /// Flushes the resampler's tail to the inner sink, then finalizes it
    /// (always, so a file stays valid). Does nothing when not open.
    fn finalize(&mut self) -> Result<()> {
        if !self.opened {
            return Ok(());
        }
        self.opened = false;
        let tail = match self.resampler.take() {
            Some(mut rs) => rs.finish(&mut self.converted).and_then(|_| self.write_converted()),
            None => Ok(()),
        };
        let finalized = self.inner.finalize();
        tail.and(finalized)
    }

    fn frames_delivered(&self) -> Option<u64> {
        Some(self.frames_written)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::resampled_len;

    /// Sample rate, planar frames and whether it was finalized.
    type Recorded = (u32, Vec<Vec<f32>>, bool);

    /// Records what reaches the inner sink.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Recorded>>);

    impl Sink for Recorder {
        fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
            *self.0.lock().unwrap() = (sample_rate, vec![Vec::new(); channels], false);
            Ok(())
        }
        fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
            let mut g = self.0.lock().unwrap();
            for (c, ch) in g.1.iter_mut().enumerate() {
                ch.extend_from_slice(block.channel(c));
            }
            Ok(())
        }
        fn finalize(&mut self) -> Result<()> {
            self.0.lock().unwrap().2 = true;
            Ok(())
        }
    }

    fn sine(n: usize, f: f64, rate: f64, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin() as f32).collect()
    }

    /// Writes planar `x` in pieces of `piece` frames.
    fn feed(sink: &mut SinkAdapter, x: &[Vec<f32>], piece: usize) {
        let frames = x[0].len();
        let mut pos = 0;
        while pos < frames {
            let n = piece.min(frames - pos);
            let flat: Vec<f32> = x.iter().flat_map(|c| c[pos..pos + n].iter().copied()).collect();
            sink.write(&AudioBlock::new(&flat, x.len(), n, n)).unwrap();
            pos += n;
        }
    }

    #[test]
    fn stem_and_rate_reach_the_inner_sink_with_the_exact_length() {
        // Two stereo stems: stem 1 carries 1 kHz (left) and 0.5 * 1 kHz (right).
        let n = 44100 + 123;
        let tone = sine(n, 1000.0, 44100.0, 0.5);
        let half: Vec<f32> = tone.iter().map(|v| v * 0.5).collect();
        let x = vec![vec![0.1; n], vec![0.2; n], tone.clone(), half];
        let rec = Recorder::default();
        let mut sink =
            SinkAdapter::new(Box::new(rec.clone()), "t").with_stem(1, 2).unwrap().with_sample_rate(48000).unwrap();
        sink.open(44100, 4).unwrap();
        feed(&mut sink, &x, 4096);
        sink.finalize().unwrap();
        let g = rec.0.lock().unwrap();
        assert_eq!(g.0, 48000);
        assert!(g.2, "inner finalized");
        assert_eq!(g.1.len(), 2);
        let want = resampled_len(n as u64, 44100, 48000) as usize;
        assert_eq!(g.1[0].len(), want);
        assert_eq!(sink.frames_written(), want as u64);
        // Same as converting the stem alone in one go, and time-aligned.
        let whole = crate::resample_planar(&[&tone], 44100, 48000).unwrap();
        assert_eq!(g.1[0], whole[0]);
        let ideal = sine(want, 1000.0, 48000.0, 0.5);
        let err = g.1[0][want / 4..3 * want / 4]
            .iter()
            .zip(&ideal[want / 4..3 * want / 4])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 2e-3, "max error {err}");
        for (a, b) in g.1[1].iter().zip(&g.1[0]) {
            assert!((a - 0.5 * b).abs() < 1e-6);
        }
    }

    #[test]
    fn equal_rates_and_no_stem_pass_through() {
        let x = vec![sine(1000, 440.0, 48000.0, 0.3), sine(1000, 880.0, 48000.0, 0.3)];
        let rec = Recorder::default();
        let mut sink = SinkAdapter::new(Box::new(rec.clone()), "t").with_sample_rate(48000).unwrap();
        sink.open(48000, 2).unwrap();
        feed(&mut sink, &x, 300);
        sink.finalize().unwrap();
        assert_eq!(rec.0.lock().unwrap().1, x);
        // Stem only: a copy of the stem's channels.
        let rec = Recorder::default();
        let mut sink = SinkAdapter::new(Box::new(rec.clone()), "t").with_stem(1, 1).unwrap();
        sink.open(48000, 2).unwrap();
        feed(&mut sink, &x, 300);
        sink.finalize().unwrap();
        assert_eq!(rec.0.lock().unwrap().1, vec![x[1].clone()]);
    }

    #[test]
    fn a_wav_file_gets_the_rate_and_the_exact_length_also_when_a_write_failed() {
        let path = std::env::temp_dir().join(format!("resonode-sink-adapter-{}.wav", std::process::id()));
        let inner = crate::open_sink(&path, crate::OutputFormat::Wav(crate::WavEncoding::Int16));
        let mut sink = SinkAdapter::new(inner, path.display().to_string()).with_sample_rate(16000).unwrap();
        sink.open(44100, 1).unwrap();
        let x = vec![sine(10_001, 440.0, 44100.0, 0.5)];
        feed(&mut sink, &x, 1000);
        let bad = [f32::INFINITY; 4];
        assert!(sink.write(&AudioBlock::new(&bad, 1, 4, 4)).is_err());
        sink.finalize().unwrap();
        let info = crate::probe(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!((info.sample_rate, info.channels), (16000, 1));
        assert_eq!(info.frames, Some(resampled_len(10_001, 44100, 16000)));
    }

    #[test]
    fn bad_parameters_are_refused() {
        let s = || SinkAdapter::new(Box::new(Recorder::default()), "out.wav");
        for rate in [0, 999, 768_001] {
            let e = s().with_sample_rate(rate).unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
            assert!(e.to_string().contains("sampleRate") && e.to_string().contains("out.wav"), "{e}");
        }
        assert_eq!(s().with_stem(0, 0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        let mut sink = s().with_stem(2, 2).unwrap();
        let e = sink.open(48000, 4).unwrap_err();
        assert!(e.to_string().contains("stemIndex") && e.to_string().contains("4-channel"), "{e}");
        let mut sink = s().with_stem(usize::MAX, 2).unwrap();
        assert_eq!(sink.open(48000, 4).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        // Hostile channel counts are refused before anything is sized by them.
        let wav = std::env::temp_dir().join(format!("resonode-sink-adapter-ch-{}.wav", std::process::id()));
        for rate in [None, Some(16000)] {
            let inner = crate::open_sink(&wav, crate::OutputFormat::Wav(crate::WavEncoding::Int16));
            let mut sink = SinkAdapter::new(inner, "w");
            if let Some(r) = rate {
                sink = sink.with_sample_rate(r).unwrap();
            }
            assert_eq!(sink.open(44100, u32::MAX as usize).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        }
        let e = s().with_sample_rate(16000).unwrap().open(44100, 257).unwrap_err();
        assert!(e.to_string().contains("at most 256 channels"), "{e}");
        let e = s().with_sample_rate(16000).unwrap().open(500, 1).unwrap_err();
        assert!(e.to_string().contains("500 Hz"), "{e}");
        let mut sink = s().with_sample_rate(16000).unwrap();
        sink.open(48000, 1).unwrap();
        let x = [0.0, f32::NAN];
        assert_eq!(sink.write(&AudioBlock::new(&x, 1, 2, 2)).unwrap_err().code(), "ERR_NON_FINITE_SAMPLE");
        assert_eq!(sink.write(&AudioBlock::new(&x, 2, 1, 1)).unwrap_err().code(), "ERR_SHAPE");
        sink.finalize().unwrap();
    }
}
