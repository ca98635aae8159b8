//! The chroma filterbank of Ellis' `chromagram_E` as librosa defines it
//! (`librosa.filters.chroma`, defaults): every FFT bin contributes to each
//! pitch class through a Gaussian bump one semitone wide (in units of
//! chroma bins, centred on the bin's fractional pitch class), columns
//! normalised to unit L2 norm, then weighted by a Gaussian over octaves
//! centred on 880 Hz (octave 5 counted from 27.5/16 Hz) with a standard
//! deviation of 2 octaves; rows start at C. Chroma of a frame is this matrix times the power
//! spectrum, divided by its largest value (max norm).

/// Weights below this fraction of a bin's largest weight are left out: the
/// Gaussian bumps fall to it within about 2.5 chroma bins, which leaves
/// about 5 of 12 weights per FFT bin and changes chroma by less than 1e-7.
const NEGLIGIBLE: f64 = 1e-9;

/// A `12 x (n_fft/2 + 1)` chroma filterbank, stored per FFT bin as its
/// non-negligible `(pitch class, weight)` pairs.
#[derive(Debug, Clone)]
pub struct ChromaFilterbank {
    /// Per FFT bin: where its pairs start in `pairs`.
    starts: Vec<u32>,
    pairs: Vec<(u8, f32)>,
}

impl ChromaFilterbank {
    /// For an `n_fft`-point FFT at `sample_rate` Hz, tuned `tuning`
    /// semitones (fractions of a chroma bin) away from A4 = 440 Hz.
    pub fn new(sample_rate: u32, n_fft: usize, tuning: f64) -> Self {
        const N: usize = 12;
        let n = N as f64;
        let sr = f64::from(sample_rate);
        // Fractional chroma-bin position of every FFT bin but DC (librosa
        // `hz_to_octs`: octaves above A0/16 scaled by 12); DC gets a
        // position 1.5 octaves below the first bin.
        let a440 = 440.0 * 2f64.powf(tuning / n);
        let mut pos: Vec<f64> = (1..n_fft).map(|k| n * ((k as f64 * sr / n_fft as f64) / (a440 / 16.0)).log2()).collect();
        pos.insert(0, pos[0] - 1.5 * n);
        let width: Vec<f64> = (0..n_fft)
            .map(|k| if k + 1 < n_fft { (pos[k + 1] - pos[k]).max(1.0) } else { 1.0 })
            .collect();
        let mut w = vec![0f64; N * n_fft];
        let half = (n / 2.0).round();
        for k in 0..n_fft {
            for c in 0..N {
                let d = (pos[k] - c as f64 + half + 10.0 * n).rem_euclid(n) - half;
                w[c * n_fft + k] = (-0.5 * (2.0 * d / width[k]).powi(2)).exp();
            }
            let norm = (0..N).map(|c| w[c * n_fft + k].powi(2)).sum::<f64>().sqrt();
            let octave = (-0.5 * ((pos[k] / n - 5.0) / 2.0).powi(2)).exp();
            for c in 0..N {
                if norm > 0.0 {
                    w[c * n_fft + k] /= norm;
                }
                w[c * n_fft + k] *= octave;
            }
        }
        // Rows were A-based; roll so that row 0 is C (3 bins up).
        let n_bins = n_fft / 2 + 1;
        let mut starts = Vec::with_capacity(n_bins + 1);
        let mut pairs = Vec::new();
        for k in 0..n_bins {
            starts.push(pairs.len() as u32);
            let max = (0..N).map(|c| w[c * n_fft + k]).fold(0f64, f64::max);
            for c in 0..N {
                let v = w[((c + 3) % N) * n_fft + k];
                if v > max * NEGLIGIBLE {
                    pairs.push((c as u8, v as f32));
                }
            }
        }
        starts.push(pairs.len() as u32);
        ChromaFilterbank { starts, pairs }
    }

    /// `out[c] = sum_k W[c, k] * power[k]`, then divided by its maximum
    /// (left as is when the maximum is below the smallest normal `f32`).
    pub fn apply(&self, power: &[f32], out: &mut [f32; 12]) {
        *out = [0.0; 12];
        for (k, &p) in power.iter().enumerate().take(self.starts.len() - 1) {
            for &(c, w) in &self.pairs[self.starts[k] as usize..self.starts[k + 1] as usize] {
                out[usize::from(c)] += w * p;
            }
        }
        let max = out.iter().fold(0f32, |m, &v| m.max(v.abs()));
        if max >= f32::MIN_POSITIVE {
            for o in out.iter_mut() {
                *o /= max;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_tone_lights_its_pitch_class() {
        let fb = ChromaFilterbank::new(22050, 4096, 0.0);
        for (hz, pc) in [(440.0, 9usize), (261.63, 0), (392.0, 7), (329.63, 4)] {
            let mut power = vec![0f32; 2049];
            power[(hz * 4096.0 / 22050.0_f64).round() as usize] = 1.0;
            let mut out = [0f32; 12];
            fb.apply(&power, &mut out);
            let best = (0..12).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap();
            assert_eq!(best, pc, "{hz} Hz: {out:?}");
            assert_eq!(out[pc], 1.0);
        }
    }
}
