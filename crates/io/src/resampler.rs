//! Sample-rate conversion of planar audio held in memory: [`PlanarResampler`]
//! (streaming, push any number of frames) and [`resample_planar`] (a whole
//! signal at once). Same resamplers and the same time alignment as
//! [`crate::FileSource`].

use resonode_core::{Error, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Indexing, Resampler};

use crate::resample::{make_resampler, resampled_len, CHUNK};

/// Larger magnitudes are refused: sums over an FFT block would overflow `f32`.
const MAX_MAGNITUDE: f32 = 1e30;

/// Streaming, time-aligned sample-rate conversion of planar `f32` audio
/// with rubato, the same converter [`crate::FileSource`] uses: the
/// synchronous FFT resampler for rate pairs whose minimal block is at most
/// 8192 frames (all common pairs), otherwise the 256-tap sinc resampler.
///
/// The resampler's startup delay is dropped, so output frame
/// `round(t * out_rate)` corresponds to input time `t`; after
/// [`finish`](PlanarResampler::finish) the total output is exactly
/// `round(input_frames * out_rate / in_rate)` frames
/// ([`resampled_len`](crate::resampled_len)).
///
/// Input is converted in fixed chunks of [`chunk_frames`](PlanarResampler::chunk_frames)
/// input frames, so output lags input: after pushing `n` frames, at least
/// `resampled_len(n) - max_lag_frames()` output frames have come out (see
/// [`max_lag_frames`](PlanarResampler::max_lag_frames)).
///
/// # Real-time safety
/// Not for an audio callback: output is appended to `Vec`s (allocates).
pub struct PlanarResampler {
    rs: Box<dyn Resampler<f32>>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    delay: usize,
    inbuf: Vec<Vec<f32>>,
    in_fill: usize,
    outbuf: Vec<Vec<f32>>,
    to_skip: usize,
    in_frames: u64,
    emitted: u64,
    finished: bool,
}

impl std::fmt::Debug for PlanarResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanarResampler")
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl PlanarResampler {
    /// A converter from `in_rate` to `out_rate` Hz for `channels` channels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero rate, zero channels, or rates
    /// outside [`crate::MIN_SAMPLE_RATE`]`..=`[`crate::MAX_SAMPLE_RATE`].
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Result<Self> {
        Self::with_chunk(in_rate, out_rate, channels, CHUNK)
    }

    /// Like [`new`](PlanarResampler::new) with about `chunk_frames` input
    /// frames per internal step instead of 1024 (rounded up to whole FFT
    /// blocks of `in_rate / gcd(in_rate, out_rate)` frames, and to an even
    /// block count when needed). Smaller chunks lower the streaming lag
    /// ([`max_lag_frames`](PlanarResampler::max_lag_frames)) and shorten the
    /// FFT resampler's anti-aliasing filter, which is as long as one chunk.
    ///
    /// # Errors
    /// As [`new`](PlanarResampler::new), and [`Error::InvalidParameter`] for
    /// `chunk_frames` 0.
    pub fn with_chunk(in_rate: u32, out_rate: u32, channels: usize, chunk_frames: usize) -> Result<Self> {
        if chunk_frames == 0 {
            return Err(Error::param("chunkFrames", "must be at least 1"));
        }
        for (name, rate) in [("inputRate", in_rate), ("outputRate", out_rate)] {
            if !(crate::MIN_SAMPLE_RATE..=crate::MAX_SAMPLE_RATE).contains(&rate) {
                return Err(Error::param(
                    name,
                    format!("{rate} Hz is outside [{}, {}]", crate::MIN_SAMPLE_RATE, crate::MAX_SAMPLE_RATE),
                ));
            }
        }
        if channels == 0 {
            return Err(Error::param("channels", "must be at least 1"));
        }
        let (rs, delay) = make_resampler(in_rate, out_rate, channels, chunk_frames)
            .map_err(|e| Error::param("sampleRate", format!("cannot resample {in_rate} Hz to {out_rate} Hz: {e}")))?;
        let (in_max, out_max) = (rs.input_frames_max(), rs.output_frames_max());
        Ok(PlanarResampler {
            rs,
            channels,
            in_rate,
            out_rate,
            delay,
            inbuf: vec![vec![0.0; in_max]; channels],
            in_fill: 0,
            outbuf: vec![vec![0.0; out_max]; channels],
            to_skip: delay,
            in_frames: 0,
            emitted: 0,
            finished: false,
        })
    }

    /// Input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }
    /// Output rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.out_rate
    }
    /// Channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// The converter's own delay in output frames (removed from the output).
    pub fn delay_frames(&self) -> usize {
        self.delay
    }
    /// Input frames converted per internal step.
    pub fn chunk_frames(&self) -> usize {
        self.rs.input_frames_max()
    }
    /// An upper bound, in output frames, on how far the output lags the
    /// input while streaming: after `n` input frames have been pushed, at
    /// least `resampled_len(n) - max_lag_frames()` output frames have been
    /// produced. It is one chunk of input plus the converter's delay, plus
    /// one frame for rounding.
    pub fn max_lag_frames(&self) -> usize {
        let chunk_out = (self.chunk_frames() as u64 * u64::from(self.out_rate)).div_ceil(u64::from(self.in_rate));
        chunk_out as usize + self.delay + 1
    }
    /// Input frames pushed so far.
    pub fn input_frames(&self) -> u64 {
        self.in_frames
    }
    /// Output frames produced so far.
    pub fn output_frames(&self) -> u64 {
        self.emitted
    }

    /// Pushes planar input (`input.len()` channels of equal length) and
    /// appends every output frame that became final to `out` (one `Vec` per
    /// channel). Returns the number of frames appended.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong channel count or ragged channels;
    /// [`Error::NonFiniteSample`] for NaN or infinity (frame counted from the
    /// first pushed frame); [`Error::InvalidState`] after `finish`;
    /// [`Error::Internal`] if the converter fails.
    pub fn process<S: AsRef<[f32]>>(&mut self, input: &[S], out: &mut [Vec<f32>]) -> Result<usize> {
        if self.finished {
            return Err(Error::InvalidState { reason: "the resampler was already finished".into() });
        }
        if input.len() != self.channels || out.len() != self.channels {
            return Err(Error::shape(format!(
                "the resampler has {} channels; got {} input and {} output channels",
                self.channels,
                input.len(),
                out.len()
            )));
        }
        let frames = input[0].as_ref().len();
        for (c, ch) in input.iter().enumerate() {
            let ch = ch.as_ref();
            if ch.len() != frames {
                return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {frames}", ch.len())));
            }
            if let Some(i) = ch.iter().position(|s| !s.is_finite() || s.abs() > MAX_MAGNITUDE) {
                return Err(Error::NonFiniteSample { frame: self.in_frames + i as u64, channel: c, value: ch[i] });
            }
        }
        let mut produced = 0;
        let mut pos = 0;
        while pos < frames {
            let need = self.rs.input_frames_next();
            let take = (need - self.in_fill).min(frames - pos);
            for (buf, ch) in self.inbuf.iter_mut().zip(input) {
                buf[self.in_fill..self.in_fill + take].copy_from_slice(&ch.as_ref()[pos..pos + take]);
            }
            self.in_fill += take;
            pos += take;
            self.in_frames += take as u64;
            if self.in_fill == need {
                produced += self.step(None, out, u64::MAX)?;
                self.in_fill = 0;
            }
        }
        Ok(produced)
    }

    /// Ends the input: converts what is pending, then feeds silence until
    /// exactly `resampled_len(input_frames)` frames have come out in total,
    /// appending them to `out`. Returns the number of frames appended.
    ///
    /// # Errors
    /// As [`process`](PlanarResampler::process).
    pub fn finish(&mut self, out: &mut [Vec<f32>]) -> Result<usize> {
        if self.finished {
            return Ok(0);
        }
        if out.len() != self.channels {
            return Err(Error::shape(format!("the resampler has {} channels; got {}", self.channels, out.len())));
        }
        self.finished = true;
        let expected = resampled_len(self.in_frames, self.in_rate, self.out_rate);
        let mut produced = 0;
        while self.emitted < expected {
            let partial = self.in_fill;
            self.in_fill = 0;
            produced += self.step(Some(partial), out, expected)?;
        }
        Ok(produced)
    }

    /// One converter call on `inbuf` (`partial`: how many frames of it are
    /// valid, `None` for a full chunk); appends at most `limit - emitted`.
    fn step(&mut self, partial: Option<usize>, out: &mut [Vec<f32>], limit: u64) -> Result<usize> {
        let indexing = Indexing { partial_len: partial, ..Indexing::default() };
        let (in_len, out_len) = (self.inbuf[0].len(), self.outbuf[0].len());
        let input = SequentialSliceOfVecs::new(&self.inbuf, self.channels, in_len)
            .map_err(|e| Error::Internal { message: format!("resampler input buffer: {e}") })?;
        let mut output = SequentialSliceOfVecs::new_mut(&mut self.outbuf, self.channels, out_len)
            .map_err(|e| Error::Internal { message: format!("resampler output buffer: {e}") })?;
        let rs = &mut self.rs;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rs.process_into_buffer(&input, &mut output, Some(&indexing))
        }));
        let (_, n) = match result {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(Error::Internal { message: format!("resampling failed: {e}") }),
            Err(_) => return Err(Error::Internal { message: "resampling failed: the resampler panicked".into() }),
        };
        let skip = self.to_skip.min(n);
        self.to_skip -= skip;
        let avail = (n - skip) as u64;
        let take = avail.min(limit.saturating_sub(self.emitted)) as usize;
        for (o, b) in out.iter_mut().zip(&self.outbuf) {
            o.extend_from_slice(&b[skip..skip + take]);
        }
        self.emitted += take as u64;
        Ok(take)
    }
}

/// Converts a whole planar signal from `in_rate` to `out_rate` Hz with
/// [`PlanarResampler`]: time-aligned, exactly
/// `round(frames * out_rate / in_rate)` frames per channel. Equal rates
/// return a copy.
///
/// # Errors
/// As [`PlanarResampler::new`] and [`PlanarResampler::process`]; an empty
/// channel list is [`Error::EmptyAudio`].
pub fn resample_planar<S: AsRef<[f32]>>(input: &[S], in_rate: u32, out_rate: u32) -> Result<Vec<Vec<f32>>> {
    if input.is_empty() {
        return Err(Error::EmptyAudio { reason: "no channels to resample".into() });
    }
    if in_rate == out_rate {
        return Ok(input.iter().map(|c| c.as_ref().to_vec()).collect());
    }
    let mut rs = PlanarResampler::new(in_rate, out_rate, input.len())?;
    let frames = input[0].as_ref().len() as u64;
    let cap = resampled_len(frames, in_rate, out_rate) as usize;
    let mut out: Vec<Vec<f32>> = (0..input.len()).map(|_| Vec::with_capacity(cap)).collect();
    rs.process(input, &mut out)?;
    rs.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, f: f64, rate: f64) -> Vec<f32> {
        (0..n).map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin() as f32).collect()
    }

    #[test]
    fn whole_signal_and_any_push_sizes_give_the_same_aligned_output() {
        for chunk in [CHUNK, 256] {
            for (a, b) in [(48000u32, 16000u32), (16000, 44100), (44100, 16000), (16000, 22050), (11025, 16000)] {
                check_rates(a, b, chunk);
            }
        }
    }

    fn whole(x: &[f32], a: u32, b: u32, chunk: usize) -> Vec<f32> {
        let mut rs = PlanarResampler::with_chunk(a, b, 1, chunk).unwrap();
        let mut out = vec![Vec::new()];
        rs.process(&[x], &mut out).unwrap();
        rs.finish(&mut out).unwrap();
        out.remove(0)
    }

    fn check_rates(a: u32, b: u32, chunk: usize) {
        {
            let x = sine(20000, 440.0, f64::from(a));
            let whole = [whole(&x, a, b, chunk)];
            if chunk == CHUNK {
                assert_eq!(whole[0], resample_planar(&[&x], a, b).unwrap()[0]);
            }
            assert_eq!(whole[0].len() as u64, resampled_len(20000, a, b));
            let ideal = sine(whole[0].len(), 440.0, f64::from(b));
            // Away from the edges the output follows the ideal sine (time-aligned).
            let n = whole[0].len();
            let err = whole[0][n / 4..3 * n / 4]
                .iter()
                .zip(&ideal[n / 4..3 * n / 4])
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 2e-3, "{a}->{b}, chunk {chunk}: max error {err}");
            // Streaming in odd pieces gives identical samples.
            let mut rs = PlanarResampler::with_chunk(a, b, 1, chunk).unwrap();
            let mut out = vec![Vec::new()];
            let mut pos = 0;
            let mut k = 1;
            while pos < x.len() {
                let len = (k * 97 % 1500 + 1).min(x.len() - pos);
                rs.process(&[&x[pos..pos + len]], &mut out).unwrap();
                pos += len;
                k += 1;
                let due = resampled_len(pos as u64, a, b) as i64 - rs.max_lag_frames() as i64;
                assert!(out[0].len() as i64 >= due, "{a}->{b}: {} produced after {pos} in, {due} due", out[0].len());
            }
            rs.finish(&mut out).unwrap();
            assert_eq!(out[0], whole[0]);
        }
    }

    #[test]
    fn non_finite_input_is_reported() {
        let mut rs = PlanarResampler::new(48000, 16000, 1).unwrap();
        let mut x = vec![0.0f32; 10];
        x[3] = f32::NAN;
        let e = rs.process(&[&x], &mut [Vec::new()]).unwrap_err();
        assert_eq!(e.code(), "ERR_NON_FINITE_SAMPLE");
    }
}
