//! Peak and RMS level of a file: [`measure_levels`].

use std::path::Path;

use resonode_core::{AudioBuffer, Error, Result, Source};

use crate::source::{FileInfo, FileSource, SourceOptions};

/// Levels of a whole file, over all channels, in dB relative to full scale
/// (a sample value of ±1.0 is 0 dBFS).
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// `20 * log10(max |x|)` over every sample of every channel. A full-scale
    /// sine or square wave has 0 dBFS peak. `-inf` for digital silence.
    pub peak_dbfs: f64,
    /// `20 * log10(sqrt(mean(x^2)))` over every sample of every channel
    /// (channels pooled, no weighting, no +3 dB sine correction): a
    /// full-scale sine is -3.01 dBFS RMS, a full-scale square wave 0 dBFS.
    /// `-inf` for digital silence.
    pub rms_dbfs: f64,
    /// Frames decoded (exact, also where the header states no length).
    pub frames: u64,
    /// The file as [`probe`](crate::probe) describes it, from the same open
    /// (so a caller needing both reads the packets once, not twice).
    pub info: FileInfo,
}

/// Converts a linear amplitude to dBFS; 0 gives `-inf`.
pub fn amplitude_to_dbfs(amplitude: f64) -> f64 {
    if amplitude > 0.0 {
        20.0 * amplitude.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Measures the peak and RMS level of `path`, decoding it once in chunks
/// (constant memory) at its own rate and channel count. Digital silence
/// gives `-inf` for both values (the caller decides how to show it).
///
/// # Errors
/// Everything [`FileSource::open`] and [`Source::read`] report (e.g.
/// [`Error::Decode`] for a truncated file); [`Error::EmptyAudio`] for a file
/// with no frames; [`Error::NonFiniteSample`] when a float file holds NaN or
/// infinity.
pub fn measure_levels(path: &Path) -> Result<Levels> {
    let mut src = FileSource::open(path, &SourceOptions::default())?;
    let info = src.info().clone();
    let channels = src.channels();
    let mut buf = AudioBuffer::new(channels, 16384);
    let mut peak = 0f32;
    let mut sum_sq = 0f64;
    let mut frames = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some((f, c, v)) = buf.as_block().find_non_finite() {
            return Err(Error::NonFiniteSample { frame: frames + f as u64, channel: c, value: v });
        }
        for c in 0..channels {
            let (p, acc) = peak_and_sum_sq(buf.channel(c));
            peak = peak.max(p);
            sum_sq += acc;
        }
        frames += n as u64;
    }
    if frames == 0 {
        return Err(Error::EmptyAudio { reason: format!("{} has no audio frames", src.describe()) });
    }
    let mean = sum_sq / (frames as f64 * channels as f64);
    Ok(Levels { peak_dbfs: amplitude_to_dbfs(f64::from(peak)), rms_dbfs: amplitude_to_dbfs(mean.sqrt()), frames, info })
}

/// Lanes of [`peak_and_sum_sq`]'s independent accumulators.
const LANES: usize = 8;

/// `max |x|` and `sum x^2` (in f64) of `x`. Eight independent
/// accumulators break the add chain so the compiler vectorises the loop
/// (one running sum waits ~4 cycles per sample on the previous add); the
/// sum is the same up to the rounding of a different addition order.
fn peak_and_sum_sq(x: &[f32]) -> (f32, f64) {
    let mut peaks = [0f32; LANES];
    let mut sums = [0f64; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for chunk in &mut chunks {
        for i in 0..LANES {
            let v = chunk[i];
            peaks[i] = peaks[i].max(v.abs());
            sums[i] += f64::from(v) * f64::from(v);
        }
    }
    let mut peak = peaks.iter().fold(0f32, |m, &p| m.max(p));
    let mut sum: f64 = sums.iter().sum();
    for &v in chunks.remainder() {
        peak = peak.max(v.abs());
        sum += f64::from(v) * f64::from(v);
    }
    (peak, sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_equal_a_plain_loop() {
        // 1003 samples: every lane and a remainder of 3; the peak in the remainder.
        let x: Vec<f32> = (0..1003).map(|i| ((i as f32) * 0.37).sin() * 0.5).chain([-0.9f32]).collect();
        let (peak, sum) = peak_and_sum_sq(&x);
        let plain: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert_eq!(peak, 0.9);
        assert!((sum - plain).abs() <= plain * 1e-14, "{sum} vs {plain}");
        assert_eq!(peak_and_sum_sq(&[]), (0.0, 0.0));
    }
}
