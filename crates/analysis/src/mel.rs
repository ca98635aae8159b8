//! The Slaney mel filterbank and the orthonormal DCT-II, as used for MFCC
//! and onset strength.
//!
//! Mel scale (Slaney 1998, Auditory Toolbox; librosa `hz_to_mel(htk=False)`):
//! linear below 1 kHz (`mel = f / (200/3)`), logarithmic above
//! (`mel = 15 + ln(f / 1000) / (ln 6.4 / 27)`). Filters are triangles between
//! neighbouring mel points, area-normalised (`2 / (f[i+2] - f[i])`, librosa
//! `norm="slaney"`).

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz to Slaney mel.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

/// Slaney mel to Hz.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (mel - MIN_LOG_MEL)).exp()
    } else {
        mel * F_SP
    }
}

/// A mel filterbank, `n_mels x (n_fft/2 + 1)`, stored sparsely (each band's
/// nonzero run of bins).
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    bands: Vec<(usize, Vec<f32>)>,
}

impl MelFilterbank {
    /// Bands from `fmin` to `fmax` Hz for an `n_fft`-point FFT at `sample_rate`.
    pub fn new(sample_rate: u32, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let sr = f64::from(sample_rate);
        let fft_hz: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();
        let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let points: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
        let bands = (0..n_mels)
            .map(|m| {
                let (f0, f1, f2) = (points[m], points[m + 1], points[m + 2]);
                let norm = 2.0 / (f2 - f0);
                let weights: Vec<(usize, f32)> = fft_hz
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &f)| {
                        let w = ((f - f0) / (f1 - f0)).min((f2 - f) / (f2 - f1)).max(0.0);
                        (w > 0.0).then_some((k, (w * norm) as f32))
                    })
                    .collect();
                match (weights.first(), weights.last()) {
                    (Some(&(first, _)), Some(&(last, _))) => {
                        let mut run = vec![0.0f32; last - first + 1];
                        for (k, w) in weights {
                            run[k - first] = w;
                        }
                        (first, run)
                    }
                    _ => (0, Vec::new()),
                }
            })
            .collect();
        MelFilterbank { bands }
    }

    /// Number of bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// `out[m] = sum_k W[m, k] * power[k]`.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for ((first, run), o) in self.bands.iter().zip(out.iter_mut()) {
            *o = run.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
        }
    }
}

/// Orthonormal DCT-II (scipy `dct(type=2, norm="ortho")`), first `n_out`
/// coefficients of `n_in` inputs, as a precomputed matrix:
/// `y[k] = s_k * sum_n x[n] cos(pi k (2n + 1) / (2 N))`, `s_0 = sqrt(1/N)`,
/// `s_k = sqrt(2/N)`.
#[derive(Debug, Clone)]
pub struct Dct {
    n_in: usize,
    basis: Vec<f32>,
}

impl Dct {
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let mut basis = Vec::with_capacity(n_in * n_out);
        for k in 0..n_out {
            let s = if k == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
            for i in 0..n_in {
                basis.push((s * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos()) as f32);
            }
        }
        Dct { n_in, basis }
    }

    /// `out[k]` for `k < out.len()`.
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            let row = &self.basis[k * self.n_in..(k + 1) * self.n_in];
            *o = row.iter().zip(x).map(|(b, v)| b * v).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_matches_slaney_points() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        // librosa.hz_to_mel(1000) == 15, hz_to_mel(6400) == 42.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
    }

    #[test]
    fn slaney_bands_have_unit_area_in_hz() {
        // Area of a triangle of height 2/(f2-f0) over (f0, f2) is 1: summing
        // weights * bin width approximates it for bands many bins wide.
        let fb = MelFilterbank::new(22050, 2048, 40, 0.0, 11025.0);
        let bin_hz = 22050.0 / 2048.0;
        for (m, (_, run)) in fb.bands.iter().enumerate().skip(5) {
            let area: f64 = run.iter().map(|&w| f64::from(w) * bin_hz).sum();
            assert!((area - 1.0).abs() < 0.05, "band {m}: {area}");
        }
    }

    #[test]
    fn dct_is_orthonormal() {
        let n = 16;
        let dct = Dct::new(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f32 = (0..n).map(|i| dct.basis[a * n + i] * dct.basis[b * n + i]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
    }
}
