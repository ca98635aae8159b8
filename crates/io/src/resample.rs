//! Streaming sample-rate conversion with rubato, time-aligned and of exact
//! length.
//!
//! The resampler is fed fixed-size input chunks. Its startup delay
//! ([`rubato::Resampler::output_delay`] output frames) is dropped from the
//! front of the output, and once the input has ended it is fed silence until
//! exactly `round(input_frames * out_rate / in_rate)` frames have come out.
//! Memory is constant: one input chunk and one output chunk per channel.

use resonode_core::{AudioBuffer, Error, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::decode::{ChannelMap, Decoder};

/// Larger sample magnitudes are refused before resampling: sums over an
/// FFT block would overflow `f32`.
const MAX_RESAMPLED_MAGNITUDE: f32 = 1e30;

/// Input frames per resampler call (about; rounded to whole FFT blocks).
pub(crate) const CHUNK: usize = 1024;
/// Above this many frames per minimal FFT block (`rate / gcd(in, out)`) the
/// FFT resampler would need very long transforms; the sinc resampler is used
/// instead.
const MAX_FFT_BLOCK: usize = 8192;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `round(frames * out_rate / in_rate)`, half rounding up.
pub(crate) fn resampled_len(frames: u64, in_rate: u32, out_rate: u32) -> u64 {
    let num = u128::from(frames) * u128::from(out_rate) * 2 + u128::from(in_rate);
    (num / (u128::from(in_rate) * 2)) as u64
}

/// Builds the resampler and returns it with its delay in output frames:
/// rubato's synchronous FFT resampler (exact ratio, BlackmanHarris2
/// anti-aliasing window, FFT blocks of about `chunk` input frames) for common
/// rate pairs, or its asynchronous sinc resampler (256 taps, cubic
/// interpolation of a 256x oversampled BlackmanHarris2 sinc) when the rates
/// share only a small common divisor.
///
/// The FFT resampler's filter is a sinc centred on input sample
/// `floor(fft_size_in / 2)`, a delay of `floor(fft_size_in / 2) * ratio`
/// output frames. The block count is made even so that both FFT sizes are
/// even and this delay is the whole number `fft_size_out / 2` (what rubato's
/// `output_delay` reports); with odd sizes it would be off by a fraction of
/// a frame. The sinc resampler's delay, measured (phase of a resampled
/// sine against the ideal one, for ratios 0.46 to 2.18), is
/// `sinc_len / 2 * ratio - 1` output frames (rubato's `output_delay`
/// reports `sinc_len / 2 * ratio`, truncated); it is rounded to the nearest
/// frame, leaving at most half a frame of error.
pub(crate) fn make_resampler(
    in_rate: u32,
    out_rate: u32,
    channels: usize,
    chunk: usize,
) -> std::result::Result<(Box<dyn Resampler<f32>>, usize), String> {
    let g = gcd(u64::from(in_rate), u64::from(out_rate));
    let (bin, bout) = ((u64::from(in_rate) / g) as usize, (u64::from(out_rate) / g) as usize);
    if bin <= MAX_FFT_BLOCK && bout <= MAX_FFT_BLOCK {
        let mut blocks = chunk.div_ceil(bin);
        if (bin % 2 == 1 || bout % 2 == 1) && blocks % 2 == 1 {
            blocks += 1;
        }
        let rs = Fft::<f32>::new_custom(
            in_rate as usize,
            out_rate as usize,
            blocks * bin,
            1,
            channels,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        let delay = ((rs.fft_size_in() / 2) as u64 * rs.fft_size_out() as u64 / rs.fft_size_in() as u64) as usize;
        Ok((Box::new(rs), delay))
    } else {
        let sinc_len = 256;
        let params = SincInterpolationParameters {
            sinc_len,
            f_cutoff: None, // rubato's calculate_cutoff for this length and window
            interpolation: SincInterpolationType::Cubic,
            oversampling_factor: 256,
            window: WindowFunction::BlackmanHarris2,
        };
        let ratio = f64::from(out_rate) / f64::from(in_rate);
        let rs = Async::<f32>::new_sinc(ratio, 1.0, &params, chunk, channels, FixedAsync::Input)
            .map_err(|e| e.to_string())?;
        let delay = (sinc_len as f64 / 2.0 * ratio - 1.0).round().max(0.0) as usize;
        Ok((Box::new(rs), delay))
    }
}

/// The resampling stage between the decoder and [`crate::FileSource::read`].
pub(crate) struct ResampleStage {
    path: String,
    rs: Box<dyn Resampler<f32>>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    inbuf: Vec<Vec<f32>>,
    outbuf: Vec<Vec<f32>>,
    out_start: usize,
    out_end: usize,
    to_skip: usize,
    in_frames: u64,
    input_done: bool,
    emitted: u64,
    deferred: Option<Error>,
    failed: Option<Error>,
}

impl ResampleStage {
    pub(crate) fn new(path: &str, in_rate: u32, out_rate: u32, channels: usize) -> Result<Self> {
        let (rs, to_skip) = make_resampler(in_rate, out_rate, channels, CHUNK).map_err(|e| {
            Error::param("sampleRate", format!("{path}: cannot resample {in_rate} Hz to {out_rate} Hz: {e}"))
        })?;
        let in_max = rs.input_frames_max();
        let out_max = rs.output_frames_max();
        Ok(ResampleStage {
            path: path.to_string(),
            rs,
            channels,
            in_rate,
            out_rate,
            inbuf: vec![vec![0.0; in_max]; channels],
            outbuf: vec![vec![0.0; out_max]; channels],
            out_start: 0,
            out_end: 0,
            to_skip,
            in_frames: 0,
            input_done: false,
            emitted: 0,
            deferred: None,
            failed: None,
        })
    }

    /// Output frames due once the input has ended.
    fn expected(&self) -> u64 {
        resampled_len(self.in_frames, self.in_rate, self.out_rate)
    }

    /// Fills `buf` (shaped to the output channels) from `dec` through the
    /// resampler; 0 means the end. Upstream errors are reported after every
    /// frame that could still be produced has been delivered.
    pub(crate) fn read(&mut self, dec: &mut Decoder, map: &ChannelMap, buf: &mut AudioBuffer) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let cap = buf.capacity();
        let mut n = 0;
        while n < cap {
            if self.out_start < self.out_end {
                let mut take = (self.out_end - self.out_start).min(cap - n);
                if self.input_done {
                    take = take.min(self.expected().saturating_sub(self.emitted) as usize);
                    if take == 0 {
                        self.out_start = self.out_end;
                        continue;
                    }
                }
                for c in 0..self.channels {
                    buf.channel_capacity_mut(c)[n..n + take]
                        .copy_from_slice(&self.outbuf[c][self.out_start..self.out_start + take]);
                }
                self.out_start += take;
                self.emitted += take as u64;
                n += take;
                continue;
            }
            if self.input_done && self.emitted >= self.expected() {
                break;
            }
            let need = self.rs.input_frames_next();
            let mut got = 0;
            if !self.input_done {
                while got < need {
                    match dec.fill(map, &mut self.inbuf, got, need - got) {
                        Ok(0) => break,
                        Ok(k) => got += k,
                        Err(e) => {
                            self.deferred = Some(e);
                            break;
                        }
                    }
                }
                if got < need {
                    self.input_done = true;
                }
                // NaN, infinity or absurdly large values would poison the
                // FFT (rubato panics on the resulting NaN).
                for (c, plane) in self.inbuf.iter().enumerate() {
                    if let Some(i) = plane[..got].iter().position(|s| s.is_nan() || s.abs() > MAX_RESAMPLED_MAGNITUDE) {
                        let (frame, value) = (self.in_frames + i as u64, plane[i]);
                        let e = if value.is_finite() {
                            Error::Decode {
                                path: self.path.clone(),
                                reason: format!(
                                    "sample value {value:e} at frame {frame}, channel {c} is too large to resample \
                                     (the file is probably damaged)"
                                ),
                            }
                        } else {
                            Error::NonFiniteSample { frame, channel: c, value }
                        };
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                }
                self.in_frames += got as u64;
                if self.input_done && self.in_frames == 0 {
                    break;
                }
            }
            let indexing = Indexing { partial_len: (got < need).then_some(got), ..Indexing::default() };
            let in_len = self.inbuf[0].len();
            let out_len = self.outbuf[0].len();
            let input = SequentialSliceOfVecs::new(&self.inbuf, self.channels, in_len)
                .map_err(|e| Error::Internal { message: format!("resampler input buffer: {e}") })?;
            let mut output = SequentialSliceOfVecs::new_mut(&mut self.outbuf, self.channels, out_len)
                .map_err(|e| Error::Internal { message: format!("resampler output buffer: {e}") })?;
            let rs = &mut self.rs;
            let processed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rs.process_into_buffer(&input, &mut output, Some(&indexing))
            }));
            let (_, produced) = match processed {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(Error::Internal { message: format!("resampling {} failed: {e}", self.path) }),
                Err(_) => {
                    return Err(Error::Internal {
                        message: format!("resampling {} failed: the resampler panicked", self.path),
                    })
                }
            };
            let skip = self.to_skip.min(produced);
            self.to_skip -= skip;
            self.out_start = skip;
            self.out_end = produced;
        }
        if n == 0 {
            if let Some(e) = self.deferred.take() {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        buf.set_frames(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampled_length_rounds_to_nearest() {
        assert_eq!(resampled_len(44100, 44100, 48000), 48000);
        assert_eq!(resampled_len(1, 44100, 48000), 1);
        assert_eq!(resampled_len(3, 48000, 16000), 1);
        assert_eq!(resampled_len(2, 48000, 16000), 1); // 0.667 -> 1
        assert_eq!(resampled_len(1, 48000, 16000), 0); // 0.333 -> 0
        assert_eq!(resampled_len(0, 44100, 48000), 0);
    }
}
