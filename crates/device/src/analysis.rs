//! Small signal measurements used by [`crate::test_device()`] and the tests:
//! levels, single-frequency amplitude (Goertzel), and delay estimation by
//! FFT cross-correlation (realfft), and the search for gaps a server put
//! into a recording. Not real-time code (these allocate).

use std::f64::consts::PI;

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Level of digital silence reported by [`rms_dbfs`] and [`peak_dbfs`].
pub const SILENCE_DBFS: f64 = -120.0;

/// `20 log10(x)` floored at [`SILENCE_DBFS`] (an amplitude to dBFS).
pub(crate) fn to_db(x: f64) -> f64 {
    if x > 0.0 {
        (20.0 * x.log10()).max(SILENCE_DBFS)
    } else {
        SILENCE_DBFS
    }
}

/// RMS level in dBFS (a full-scale sine is -3.01 dBFS), floored at
/// [`SILENCE_DBFS`].
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return SILENCE_DBFS;
    }
    let ms = samples.iter().map(|&s| s as f64 * s as f64).sum::<f64>() / samples.len() as f64;
    to_db(ms.sqrt())
}

/// Sample peak in dBFS, floored at [`SILENCE_DBFS`].
pub fn peak_dbfs(samples: &[f32]) -> f64 {
    to_db(samples.iter().fold(0.0f64, |m, &s| m.max((s as f64).abs())))
}

/// Amplitude (peak, linear) of the `freq` Hz component of `samples`, by the
/// Goertzel algorithm with a Hann window (a full-scale sine at `freq` gives
/// about 1.0).
pub fn goertzel_amplitude(samples: &[f32], sample_rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let w = 2.0 * PI * freq / sample_rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut wsum = 0.0;
    for (i, &x) in samples.iter().enumerate() {
        let win = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
        wsum += win;
        let s0 = x as f64 * win + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / wsum
}

/// Where `reference` occurs in `recording`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// `recording[lag + i]` lines up with `reference[i]`, in samples.
    pub lag: usize,
    /// Normalised cross-correlation at that lag, in [-1, 1]: the cosine
    /// between `reference` and the recording window it lines up with.
    pub correlation: f64,
}

/// Finds the lag in `0..=max_lag` at which `reference` best matches
/// `recording` (FFT cross-correlation), with the normalised correlation
/// there. `None` when the recording is too short or silent.
pub fn align(reference: &[f32], recording: &[f32], max_lag: usize) -> Option<Alignment> {
    let m = reference.len();
    if m == 0 || recording.len() < m {
        return None;
    }
    let max_lag = max_lag.min(recording.len() - m);
    let span = (m + max_lag).min(recording.len());
    // Linear (not circular) correlation needs room for both signals.
    let n = (span + m).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum = |x: &[f32]| {
        let mut buf = forward.make_input_vec();
        for (d, &s) in buf.iter_mut().zip(x) {
            *d = s as f64;
        }
        let mut out = forward.make_output_vec();
        forward
            .process(&mut buf, &mut out)
            .expect("buffers sized by the plan");
        out
    };
    let rec = spectrum(&recording[..span]);
    let refs = spectrum(reference);
    // R * conj(S): correlation of the recording against the reference.
    let mut product: Vec<Complex<f64>> = rec.iter().zip(&refs).map(|(r, s)| r * s.conj()).collect();
    // The DC and Nyquist bins of a real signal's product are real; rounding
    // can leave a tiny imaginary part that realfft refuses.
    product[0].im = 0.0;
    product[n / 2].im = 0.0;
    let mut corr = inverse.make_output_vec();
    inverse
        .process(&mut product, &mut corr)
        .expect("buffers sized by the plan");
    // Energy of each recording window via a running sum.
    let ref_energy: f64 = reference.iter().map(|&s| s as f64 * s as f64).sum();
    if ref_energy == 0.0 {
        return None;
    }
    let mut win: f64 = recording[..m].iter().map(|&s| s as f64 * s as f64).sum();
    let mut best: Option<Alignment> = None;
    for lag in 0..=max_lag {
        if lag > 0 {
            let out = recording[lag - 1] as f64;
            let inn = recording[lag + m - 1] as f64;
            win = (win - out * out + inn * inn).max(0.0);
        }
        if win <= ref_energy * 1e-9 {
            continue;
        }
        let c = corr[lag] / n as f64 / (ref_energy * win).sqrt();
        if best.is_none_or(|b| c > b.correlation) {
            best = Some(Alignment {
                lag,
                correlation: c,
            });
        }
    }
    // Recompute the winner exactly (the FFT sum carries rounding).
    best.map(|b| {
        let dot: f64 = reference
            .iter()
            .zip(&recording[b.lag..])
            .map(|(&a, &r)| a as f64 * r as f64)
            .sum();
        let e: f64 = recording[b.lag..b.lag + m]
            .iter()
            .map(|&s| s as f64 * s as f64)
            .sum();
        Alignment {
            lag: b.lag,
            correlation: dot / (ref_energy * e).sqrt(),
        }
    })
}

/// One piece of a reference, found on its own in a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// First frame of the piece in the reference.
    pub start: usize,
    /// `recording[lag + i]` lines up with `reference[start + i]`.
    pub lag: usize,
    /// Normalised cross-correlation of the piece at that lag.
    pub correlation: f64,
}

/// Aligns each `window`-frame piece of `reference` on its own, within
/// `search` frames either side of the previous piece's lag (the first
/// piece: `lag`, the whole-signal alignment from [`align`]). A recording that came through intact has the same lag in
/// every piece; a server that dropped frames (lag falls) or inserted
/// silence (lag rises) shows as steps, which [`lag_steps`] lists. Pieces
/// that cannot be placed (too near an end, silent) are left out.
pub fn segment_alignment(
    reference: &[f32],
    recording: &[f32],
    lag: usize,
    window: usize,
    search: usize,
) -> Vec<Segment> {
    let mut out = Vec::new();
    if window == 0 {
        return out;
    }
    let mut lag = lag;
    for start in (0..reference.len().saturating_sub(window - 1)).step_by(window) {
        let piece = &reference[start..start + window];
        let from = (lag + start).saturating_sub(search);
        let to = (lag + start + window + search).min(recording.len());
        if from >= to {
            break;
        }
        let found = align(piece, &recording[from..to], 2 * search);
        // A piece found before its own start would mean a negative lag.
        if let Some((a, l)) = found.and_then(|a| Some((a, (from + a.lag).checked_sub(start)?))) {
            lag = l;
            out.push(Segment {
                start,
                lag,
                correlation: a.correlation,
            });
        }
    }
    out
}

/// The steps in lag between consecutive [`Segment`]s: `(reference frame,
/// step in frames)`, positive where frames were inserted into the
/// recording, negative where frames of the reference are missing.
pub fn lag_steps(segments: &[Segment]) -> Vec<(usize, i64)> {
    segments
        .windows(2)
        .filter(|w| w[1].lag != w[0].lag)
        .map(|w| (w[1].start, w[1].lag as i64 - w[0].lag as i64))
        .collect()
}

/// A deterministic white-noise burst in [-amplitude, amplitude] (xorshift).
pub fn noise_burst(frames: usize, amplitude: f32, seed: u64) -> Vec<f32> {
    let mut x = seed.max(1);
    (0..frames)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * amplitude
        })
        .collect()
}

/// An exponential (log) sine sweep from `f0` to `f1` Hz over `frames`.
pub fn log_sweep(frames: usize, sample_rate: u32, f0: f64, f1: f64, amplitude: f32) -> Vec<f32> {
    let t_total = frames as f64 / sample_rate as f64;
    let k = (f1 / f0).ln();
    (0..frames)
        .map(|i| {
            let t = i as f64 / sample_rate as f64;
            let phase = 2.0 * PI * f0 * t_total / k * ((t / t_total * k).exp() - 1.0);
            (phase.sin() as f32) * amplitude
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_full_scale_sine() {
        let s: Vec<f32> = (0..48_000)
            .map(|i| (2.0 * PI * 1000.0 * i as f64 / 48_000.0).sin() as f32)
            .collect();
        assert!((rms_dbfs(&s) + 3.0103).abs() < 0.01);
        assert!(peak_dbfs(&s).abs() < 0.01);
        assert_eq!(rms_dbfs(&[0.0; 10]), SILENCE_DBFS);
        assert!((goertzel_amplitude(&s, 48_000, 1000.0) - 1.0).abs() < 0.01);
        assert!(goertzel_amplitude(&s, 48_000, 5000.0) < 1e-3);
    }

    #[test]
    fn align_finds_a_delayed_noise_burst() {
        let burst = noise_burst(4800, 0.5, 7);
        let mut rec = vec![0.0f32; 20_000];
        for (i, &s) in burst.iter().enumerate() {
            rec[1234 + i] = 0.8 * s;
        }
        let a = align(&burst, &rec, 15_000).unwrap();
        assert_eq!(a.lag, 1234);
        assert!(a.correlation > 0.999, "{a:?}");
        assert!(align(&burst, &vec![0.0; 20_000], 15_000).is_none());
    }

    #[test]
    fn segments_show_where_frames_went_missing_or_were_inserted() {
        let reference = noise_burst(48_000, 0.5, 7);
        // 1000 frames of lead-in; 300 frames dropped at 12_000; 500 frames
        // of silence inserted at 30_000.
        let mut rec = vec![0.0f32; 1000];
        rec.extend_from_slice(&reference[..12_000]);
        rec.extend_from_slice(&reference[12_300..30_000]);
        rec.extend(std::iter::repeat_n(0.0, 500));
        rec.extend_from_slice(&reference[30_000..]);
        rec.extend(std::iter::repeat_n(0.0, 2000));
        let segments = segment_alignment(&reference, &rec, 1000, 2400, 1200);
        let steps = lag_steps(&segments);
        // A step shows in the piece that holds the gap (or the next one).
        assert_eq!(steps, vec![(12_000, -300), (28_800, 500)]);
        // An intact recording has none.
        let intact: Vec<f32> = [vec![0.0; 1000], reference.clone(), vec![0.0; 1000]].concat();
        let segments = segment_alignment(&reference, &intact, 1000, 2400, 1200);
        assert_eq!(segments.len(), 20);
        assert!(lag_steps(&segments).is_empty());
        assert!(segments.iter().all(|s| s.correlation > 0.9999));
    }
}
