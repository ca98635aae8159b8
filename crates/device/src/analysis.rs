//! Small signal measurements used by [`crate::test_device()`] and the tests:
//! levels, single-frequency amplitude (Goertzel), and delay estimation by
//! FFT cross-correlation. Not real-time code (these allocate).

use std::f64::consts::PI;

/// Level of digital silence reported by [`rms_dbfs`] and [`peak_dbfs`].
pub const SILENCE_DBFS: f64 = -120.0;

fn to_db(x: f64) -> f64 {
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

/// In-place iterative radix-2 FFT of (re, im); `inverse` computes the
/// unscaled inverse. Lengths must be a power of two.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    assert!(n.is_power_of_two() && im.len() == n);
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut len = 2;
    while len <= n {
        let ang = sign * 2.0 * PI / len as f64;
        let (wr, wi) = (ang.cos(), ang.sin());
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0f64, 0.0f64);
            for k in 0..len / 2 {
                let (a, b) = (start + k, start + k + len / 2);
                let (xr, xi) = (re[b] * cr - im[b] * ci, re[b] * ci + im[b] * cr);
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
                let t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
        len <<= 1;
    }
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
    let n = (span + m).next_power_of_two();
    let (mut ar, mut ai) = (vec![0.0; n], vec![0.0; n]);
    let (mut br, mut bi) = (vec![0.0; n], vec![0.0; n]);
    for (d, &s) in ar.iter_mut().zip(&recording[..span]) {
        *d = s as f64;
    }
    for (d, &s) in br.iter_mut().zip(reference) {
        *d = s as f64;
    }
    fft(&mut ar, &mut ai, false);
    fft(&mut br, &mut bi, false);
    // A * conj(B): correlation of the recording against the reference.
    for k in 0..n {
        let (r, i) = (ar[k] * br[k] + ai[k] * bi[k], ai[k] * br[k] - ar[k] * bi[k]);
        ar[k] = r;
        ai[k] = i;
    }
    fft(&mut ar, &mut ai, true);
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
        let c = ar[lag] / n as f64 / (ref_energy * win).sqrt();
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
}
