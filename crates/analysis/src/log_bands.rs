//! Log-frequency bands over an STFT power spectrum: [`LogBands`] maps the
//! `n_fft / 2 + 1` bins of a power spectrum onto `n_bands` bands whose edges
//! are spaced geometrically between `f_min_hz` and `f_max_hz` (equal width
//! in octaves, like a 1/n-octave analyser or the log-frequency axis of
//! librosa's `specshow(y_axis="log")`). Used by spectrum displays: the plot's
//! spectrogram rows and the live band spectrum.
//!
//! ## Real-time safety
//! [`LogBands::new`] allocates; [`LogBands::apply`] does not allocate, lock
//! or block (a weighted sum over precomputed bins), so it may run anywhere.

use resonode_core::{Error, Result};

/// Log-spaced bands over the bins of a real FFT of `n_fft` samples.
///
/// Band `i` spans `[e_i, e_{i+1})` Hz with
/// `e_i = f_min * (f_max / f_min)^(i / n_bands)`. Bin `k` (frequency
/// `k * sample_rate / n_fft`) is taken to cover the interval of one bin
/// width centred on its frequency. [`apply`](Self::apply) gives each band
/// the **sum** of the power of the bins it covers, each weighted by the
/// fraction of the bin inside the band (so band powers add up to the power
/// between `f_min` and `f_max`: the power of a sine reads the same whatever
/// the band width). A band narrower than one bin would cover a fraction of
/// a bin only; it takes instead the power interpolated linearly between the
/// two bins nearest its centre frequency, so no band is empty or darker
/// than its neighbours at low frequencies. Both rules give a band of
/// exactly one bin width the weight 1.
#[derive(Debug, Clone)]
pub struct LogBands {
    n_bins: usize,
    edges_hz: Vec<f32>,
    /// Band `i` uses `bins[starts[i]..starts[i + 1]]` with `weights` alike.
    starts: Vec<usize>,
    bins: Vec<u32>,
    weights: Vec<f32>,
}

impl LogBands {
    /// Bands for spectra of `n_fft`-sample frames at `sample_rate` Hz.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the argument (`sampleRate`, `nFft`,
    /// `bands`, `fMinHz`, `fMaxHz`) when `sample_rate` is 0, `n_fft < 2`,
    /// `n_bands` is 0, or unless `0 < f_min_hz < f_max_hz <= sample_rate / 2`.
    pub fn new(
        sample_rate: u32,
        n_fft: usize,
        n_bands: usize,
        f_min_hz: f32,
        f_max_hz: f32,
    ) -> Result<LogBands> {
        if sample_rate == 0 {
            return Err(Error::param("sampleRate", "must be positive"));
        }
        if n_fft < 2 {
            return Err(Error::param(
                "nFft",
                format!("must be at least 2, got {n_fft}"),
            ));
        }
        if n_bands == 0 {
            return Err(Error::param("bands", "must be at least 1"));
        }
        let nyquist = sample_rate as f32 / 2.0;
        if !(f_min_hz.is_finite() && f_min_hz > 0.0) {
            return Err(Error::param(
                "fMinHz",
                format!("must be a positive frequency, got {f_min_hz}"),
            ));
        }
        if !(f_max_hz.is_finite() && f_max_hz > f_min_hz && f_max_hz <= nyquist) {
            return Err(Error::param(
                "fMaxHz",
                format!("must be above fMinHz ({f_min_hz}) and at most the Nyquist frequency ({nyquist}), got {f_max_hz}"),
            ));
        }
        let n_bins = n_fft / 2 + 1;
        let df = sample_rate as f64 / n_fft as f64;
        let ratio = f_max_hz as f64 / f_min_hz as f64;
        let edges: Vec<f64> = (0..=n_bands)
            .map(|i| f_min_hz as f64 * ratio.powf(i as f64 / n_bands as f64))
            .collect();
        let (mut starts, mut bins, mut weights) = (vec![0], Vec::new(), Vec::new());
        for band in edges.windows(2) {
            let (lo, hi) = (band[0], band[1]);
            if hi - lo >= df {
                // Bin k covers [(k - 1/2) df, (k + 1/2) df].
                let first = ((lo / df) - 0.5).floor().max(0.0) as usize;
                let last = (((hi / df) + 0.5).ceil() as usize).min(n_bins - 1);
                for k in first..=last {
                    let (b_lo, b_hi) = ((k as f64 - 0.5) * df, (k as f64 + 0.5) * df);
                    let overlap = (hi.min(b_hi) - lo.max(b_lo)) / df;
                    if overlap > 0.0 {
                        bins.push(k as u32);
                        weights.push(overlap as f32);
                    }
                }
            } else {
                let pos = (lo * hi).sqrt() / df;
                let k0 = (pos.floor() as usize).min(n_bins - 1);
                let frac = (pos - k0 as f64).clamp(0.0, 1.0);
                bins.push(k0 as u32);
                weights.push((1.0 - frac) as f32);
                if k0 + 1 < n_bins && frac > 0.0 {
                    bins.push(k0 as u32 + 1);
                    weights.push(frac as f32);
                }
            }
            starts.push(bins.len());
        }
        Ok(LogBands {
            n_bins,
            edges_hz: edges.iter().map(|&e| e as f32).collect(),
            starts,
            bins,
            weights,
        })
    }

    /// Number of bands.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Always false: there is at least one band.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of power-spectrum bins [`apply`](Self::apply) expects: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Geometric centre of band `i` in Hz, `sqrt(lo * hi)`.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn center_hz(&self, i: usize) -> f32 {
        let (lo, hi) = self.edges_hz(i);
        (lo * hi).sqrt()
    }

    /// Lower and upper edge of band `i` in Hz.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn edges_hz(&self, i: usize) -> (f32, f32) {
        (self.edges_hz[i], self.edges_hz[i + 1])
    }

    /// Sum of the bin weights of band `i`: its width in bins, or 1 for a
    /// band narrower than a bin.
    #[cfg(test)]
    fn bin_weight(&self, i: usize) -> f32 {
        self.weights[self.starts[i]..self.starts[i + 1]]
            .iter()
            .sum()
    }

    /// Index of the band containing `hz`, or `None` outside `[f_min, f_max)`.
    pub fn band_of(&self, hz: f32) -> Option<usize> {
        if !(hz >= self.edges_hz[0] && hz < self.edges_hz[self.len()]) {
            return None;
        }
        Some(
            self.edges_hz
                .partition_point(|&e| e <= hz)
                .saturating_sub(1)
                .min(self.len() - 1),
        )
    }

    /// Writes the power of each band into `out` (see the type's docs).
    ///
    /// `power`: `n_fft / 2 + 1` bin powers (`|X[k]|²`); `out`: `len()` values.
    ///
    /// # Panics
    /// When the slice lengths are not those.
    ///
    /// # Real-time safety
    /// Does not allocate, lock or block.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        assert_eq!(
            power.len(),
            self.n_bins,
            "LogBands::apply: power has {} bins, expected {}",
            power.len(),
            self.n_bins
        );
        assert_eq!(
            out.len(),
            self.len(),
            "LogBands::apply: out has {} bands, expected {}",
            out.len(),
            self.len()
        );
        for (i, o) in out.iter_mut().enumerate() {
            let range = self.starts[i]..self.starts[i + 1];
            *o = self.bins[range.clone()]
                .iter()
                .zip(&self.weights[range])
                .map(|(&k, &w)| power[k as usize] * w)
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_log_spaced_between_f_min_and_f_max() {
        let b = LogBands::new(48_000, 4096, 64, 30.0, 16_000.0).unwrap();
        assert_eq!(b.len(), 64);
        assert_eq!(b.n_bins(), 2049);
        assert!((b.edges_hz(0).0 - 30.0).abs() < 1e-3);
        assert!((b.edges_hz(63).1 - 16_000.0).abs() < 1e-1);
        let ratio = (16_000.0f64 / 30.0).powf(1.0 / 64.0);
        for i in 0..64 {
            let (lo, hi) = b.edges_hz(i);
            assert!(
                ((hi / lo) as f64 - ratio).abs() < 1e-4,
                "band {i}: {lo}..{hi}"
            );
            if i > 0 {
                assert_eq!(b.edges_hz(i - 1).1, lo);
            }
            let c = b.center_hz(i);
            assert!(lo < c && c < hi);
        }
    }

    #[test]
    fn a_bins_power_lands_in_the_band_of_its_frequency() {
        let (sr, n_fft) = (44_100u32, 2048usize);
        let b = LogBands::new(sr, n_fft, 48, 30.0, 20_000.0).unwrap();
        let df = sr as f32 / n_fft as f32;
        let mut out = vec![0.0; b.len()];
        for k in 3..=(20_000.0 / df) as usize - 1 {
            let f = k as f32 * df;
            let mut power = vec![0.0; b.n_bins()];
            power[k] = 1.0;
            b.apply(&power, &mut out);
            let want = b.band_of(f).unwrap();
            assert!(
                out[want] > 0.0,
                "bin {k} ({f} Hz) gives nothing to its band {want} ({:?})",
                b.edges_hz(want)
            );
            if f > 2000.0 {
                // Bands many bins wide: the bin's power is conserved and
                // mostly in its own band (a bin straddling an edge shares it,
                // ties when split evenly).
                let loudest = (0..b.len())
                    .max_by(|&i, &j| out[i].total_cmp(&out[j]))
                    .unwrap();
                assert!(
                    loudest == want || (out[loudest] - out[want]).abs() < 1e-6,
                    "bin {k} ({f} Hz): loudest band {loudest} ({:?}), expected {want} ({:?})",
                    b.edges_hz(loudest),
                    b.edges_hz(want)
                );
                assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-4, "bin {k}");
            }
        }
    }

    #[test]
    fn no_band_is_empty() {
        // 256 bands over a coarse FFT: the lowest bands are far narrower than a bin.
        let b = LogBands::new(22_050, 512, 256, 20.0, 11_025.0).unwrap();
        let power = vec![1.0; b.n_bins()];
        let mut out = vec![0.0; b.len()];
        b.apply(&power, &mut out);
        for (i, &o) in out.iter().enumerate() {
            let (lo, hi) = b.edges_hz(i);
            let width_bins = (hi - lo) / (22_050.0 / 512.0);
            assert!(o > 0.0, "band {i} empty");
            // Flat spectrum: a band's power is its width in bins, at least 1.
            assert!(
                (o - width_bins.max(1.0)).abs() < 0.02 * width_bins.max(1.0) + 0.02,
                "band {i}: {o} vs {width_bins}"
            );
            assert!((b.bin_weight(i) - o).abs() < 1e-4);
        }
    }

    #[test]
    fn a_sine_reads_its_power_in_its_band() {
        let (sr, n_fft) = (48_000u32, 4096usize);
        let b = LogBands::new(sr, n_fft, 64, 30.0, 16_000.0).unwrap();
        let mut stft = crate::spectrum::Stft::new(n_fft);
        let mut out = vec![0.0; b.len()];
        for &hz in &[100.0f32, 1000.0, 5000.0] {
            let frame: Vec<f32> = (0..n_fft)
                .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / sr as f32).sin())
                .collect();
            let (mut p, mut m) = (vec![0.0; n_fft / 2 + 1], vec![0.0; n_fft / 2 + 1]);
            stft.power_and_magnitude(&frame, &mut p, &mut m);
            b.apply(&p, &mut out);
            let loudest = (0..b.len())
                .max_by(|&i, &j| out[i].total_cmp(&out[j]))
                .unwrap();
            assert_eq!(Some(loudest), b.band_of(hz), "{hz} Hz");
        }
    }

    #[test]
    fn refuses_bad_arguments() {
        let name = |r: Result<LogBands>| match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(LogBands::new(0, 1024, 8, 30.0, 100.0)), "sampleRate");
        assert_eq!(name(LogBands::new(48_000, 1, 8, 30.0, 100.0)), "nFft");
        assert_eq!(name(LogBands::new(48_000, 1024, 0, 30.0, 100.0)), "bands");
        assert_eq!(name(LogBands::new(48_000, 1024, 8, 0.0, 100.0)), "fMinHz");
        assert_eq!(name(LogBands::new(48_000, 1024, 8, 30.0, 30.0)), "fMaxHz");
        assert_eq!(
            name(LogBands::new(48_000, 1024, 8, 30.0, 24_001.0)),
            "fMaxHz"
        );
        assert_eq!(
            LogBands::new(48_000, 1024, 8, 30.0, 100.0)
                .unwrap()
                .band_of(100.0),
            None
        );
    }
}
