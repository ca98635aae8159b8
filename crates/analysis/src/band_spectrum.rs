//! The band spectrum of the latest audio, for spectrum displays (the live
//! dashboard's analyser): [`BandSpectrum`] downmixes a block to mono, takes
//! its last `n_fft` frames, windows them (periodic Hann), and sums the
//! power of the FFT bins in log-spaced bands ([`LogBands`]), in dB.
//!
//! ## Normalisation
//! Calibrated so that **a sine of amplitude `A` reads `20 log10(A)` dB in
//! its band** (a full-scale sine: 0 dB), whatever the band width, `n_fft`
//! and where the sine falls between bins. With `w` the window over the
//! samples of the frame that hold signal and `X[k]` the FFT of the windowed
//! frame, `x[n] = A cos(ω₀n + φ)` gives `X[k] ≈ (A/2) e^{jφ} W(ω_k - ω₀)`
//! (the negative-frequency image is negligible away from 0 and Nyquist),
//! and by Parseval `Σ_k |W(ω_k - ω₀)|² = N Σ_n w[n]²`; the bins of the main
//! lobe therefore carry `(A²/4) · N · Σ w²`. The band power is
//!
//! ```text
//! P_b = 4 / (N Σ w²) · Σ_{k in b} weight_k |X[k]|²,   bandsDb_b = 10 log10(P_b)
//! ```
//!
//! (`weight_k` from [`LogBands::apply`]: the fraction of bin `k` inside the
//! band). For the periodic Hann window over a full frame `Σ w² = 3N/8`.
//! Consequences: white noise of variance `σ²` reads `10 log10(4 σ² Δf / fs)`
//! in a band `Δf` Hz wide (`E|X[k]|² = σ² Σ w²`, and a band spans
//! `Δf N / fs` bins); a sine whose main lobe (±2 bins for Hann) straddles a
//! band edge shares its power between the two bands; a band narrower than a
//! bin takes the power interpolated between the two nearest bins (see
//! [`LogBands`]), so a sine there reads up to 1.76 dB low (Hann's
//! equivalent noise bandwidth of 1.5 bins). A block shorter than `n_fft`
//! frames is centred in the frame with zeros around it, and `Σ w²` counts
//! only the window under the signal, so a steady sine still reads its
//! amplitude (with a coarser frequency resolution). Silence reads
//! [`SPECTRUM_FLOOR_DB`].
//!
//! ## Real-time safety
//! [`BandSpectrum::new`] allocates (FFT plan, bands); [`BandSpectrum::compute`]
//! does not allocate, but takes `O(n_fft log n_fft)` time: meant for a
//! display thread, not an audio callback.

use resonode_core::{Error, Result};

use crate::log_bands::LogBands;
use crate::spectrum::Stft;

/// The value of a band without power, dB.
pub const SPECTRUM_FLOOR_DB: f32 = -120.0;

/// Smallest and largest accepted `n_fft`.
pub const N_FFT_RANGE: (usize, usize) = (256, 65_536);

/// Largest accepted band count.
pub const MAX_BANDS: usize = 512;

/// The band power `power` (the weighted sum of `|X[k]|²` of a band, as
/// [`LogBands::apply`] gives it) of an `n_fft`-point FFT of a frame
/// windowed with energy `window_energy` (`Σ w²` over the samples that hold
/// signal; `3 n_fft / 8` for a periodic Hann window over a full frame), in
/// dB re the band power of a full-scale sine (see the module docs), floored
/// at [`SPECTRUM_FLOOR_DB`].
pub fn band_power_db(power: f64, n_fft: usize, window_energy: f64) -> f32 {
    let p = if window_energy > 0.0 { power * 4.0 / (n_fft as f64 * window_energy) } else { 0.0 };
    if p > 0.0 {
        ((10.0 * p.log10()) as f32).max(SPECTRUM_FLOOR_DB)
    } else {
        SPECTRUM_FLOOR_DB
    }
}

/// Band spectra of blocks at one sample rate, FFT size and band layout.
#[derive(Debug)]
pub struct BandSpectrum {
    n_fft: usize,
    stft: Stft,
    bands: LogBands,
    frame: Vec<f32>,
    power: Vec<f32>,
    magnitude: Vec<f32>,
    band_power: Vec<f32>,
}

impl BandSpectrum {
    /// Band spectra of `n_fft`-frame windows at `sample_rate` Hz in
    /// `n_bands` log-spaced bands between `f_min_hz` and `f_max_hz`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the parameter: `nFft` not a power
    /// of two in 256..=65536, `bands` not in 1..=512, `sampleRate` 0, or
    /// unless `0 < fMinHz < fMaxHz <= sampleRate / 2`.
    pub fn new(sample_rate: u32, n_fft: usize, n_bands: usize, f_min_hz: f32, f_max_hz: f32) -> Result<Self> {
        let (lo, hi) = N_FFT_RANGE;
        if !(n_fft.is_power_of_two() && (lo..=hi).contains(&n_fft)) {
            return Err(Error::param("nFft", format!("must be a power of two in {lo}..={hi}, got {n_fft}")));
        }
        if !(1..=MAX_BANDS).contains(&n_bands) {
            return Err(Error::param("bands", format!("must be in 1..={MAX_BANDS}, got {n_bands}")));
        }
        let bands = LogBands::new(sample_rate, n_fft, n_bands, f_min_hz, f_max_hz)?;
        let n_bins = n_fft / 2 + 1;
        Ok(BandSpectrum {
            n_fft,
            stft: Stft::new(n_fft),
            bands,
            frame: vec![0.0; n_fft],
            power: vec![0.0; n_bins],
            magnitude: vec![0.0; n_bins],
            band_power: vec![0.0; n_bands],
        })
    }

    /// The band layout.
    pub fn bands(&self) -> &LogBands {
        &self.bands
    }

    /// Writes the band spectrum of the last `n_fft` frames of `channels`
    /// (planar, channels x frames, downmixed to mono by averaging) into
    /// `out_db` (one value per band, dB as in the module docs).
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] without channels or frames; [`Error::Shape`]
    /// when the channels differ in length; [`Error::NonFiniteSample`] for
    /// a NaN or infinite sample anywhere in the block; [`Error::Shape`]
    /// when `out_db` does not have one value per band.
    pub fn compute(&mut self, channels: &[&[f32]], out_db: &mut [f32]) -> Result<()> {
        let Some(first) = channels.first() else {
            return Err(Error::EmptyAudio { reason: "`channels` has no channels".into() });
        };
        let frames = first.len();
        if let Some((c, ch)) = channels.iter().enumerate().find(|(_, ch)| ch.len() != frames) {
            return Err(Error::Shape {
                reason: format!("`channels[{c}]` has {} frames, `channels[0]` has {frames}", ch.len()),
            });
        }
        if frames == 0 {
            return Err(Error::EmptyAudio { reason: "`channels` hold no frames".into() });
        }
        if out_db.len() != self.bands.len() {
            return Err(Error::Shape { reason: format!("{} outputs for {} bands", out_db.len(), self.bands.len()) });
        }
        for (c, ch) in channels.iter().enumerate() {
            if let Some(frame) = ch.iter().position(|s| !s.is_finite()) {
                return Err(Error::NonFiniteSample { frame: frame as u64, channel: c, value: ch[frame] });
            }
        }
        let n = self.n_fft;
        let m = frames.min(n);
        let offset = (n - m) / 2;
        let gain = 1.0 / channels.len() as f32;
        self.frame.fill(0.0);
        let dst = &mut self.frame[offset..offset + m];
        for ch in channels {
            for (d, &s) in dst.iter_mut().zip(&ch[frames - m..]) {
                *d += s;
            }
        }
        for d in dst.iter_mut() {
            *d *= gain;
        }
        let energy: f64 = self.stft.window()[offset..offset + m].iter().map(|&w| f64::from(w) * f64::from(w)).sum();
        self.stft.power_and_magnitude(&self.frame, &mut self.power, &mut self.magnitude);
        self.bands.apply(&self.power, &mut self.band_power);
        for (o, &p) in out_db.iter_mut().zip(&self.band_power) {
            *o = band_power_db(f64::from(p), n, energy);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 48_000;

    fn tone(f: f64, a: f64, frames: usize) -> Vec<f32> {
        (0..frames).map(|i| (a * (2.0 * std::f64::consts::PI * f * i as f64 / SR as f64 + 0.3).sin()) as f32).collect()
    }

    fn spectrum(s: &mut BandSpectrum, channels: &[&[f32]]) -> Vec<f32> {
        let mut out = vec![0.0; s.bands().len()];
        s.compute(channels, &mut out).unwrap();
        out
    }

    /// (band, dB) of the loudest band.
    fn loudest(out: &[f32]) -> (usize, f32) {
        out.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap()
    }

    #[test]
    fn a_sine_reads_its_amplitude_in_its_band_on_and_between_bins() {
        for (n_fft, n_bands) in [(1024, 12), (4096, 64), (16_384, 64)] {
            let mut s = BandSpectrum::new(SR, n_fft, n_bands, 30.0, 16_000.0).unwrap();
            let df = SR as f64 / n_fft as f64;
            let bands = s.bands().clone();
            // In bands wide enough to hold Hann's main lobe (±2 bins) whole:
            // on a bin, a third and half-way between bins.
            let mut checked = 0;
            for (band, frac) in (0..n_bands).filter(|&b| {
                let (lo, hi) = bands.edges_hz(b);
                (hi - lo) as f64 > 6.0 * df
            }).zip([0.0, 1.0 / 3.0, 0.5].into_iter().cycle()) {
                let f = (bands.center_hz(band) as f64 / df).round() * df + frac * df;
                let out = spectrum(&mut s, &[&tone(f, 0.5, n_fft)]);
                let (got, db) = loudest(&out);
                assert_eq!(got, band, "{f} Hz, n_fft {n_fft}");
                assert!((db as f64 - 20.0 * 0.5f64.log10()).abs() < 0.05, "{f} Hz, n_fft {n_fft}: {db} dB");
                checked += 1;
            }
            assert!(checked >= 6, "{checked} bands at n_fft {n_fft}");
        }
    }

    #[test]
    fn a_short_block_is_zero_padded_and_still_reads_its_amplitude() {
        let mut s = BandSpectrum::new(SR, 4096, 64, 30.0, 16_000.0).unwrap();
        let (band, db) = loudest(&spectrum(&mut s, &[&tone(1000.0, 0.25, 2400)]));
        assert_eq!(s.bands().band_of(1000.0), Some(band));
        assert!((db as f64 - 20.0 * 0.25f64.log10()).abs() < 0.1, "{db}");
        // Only the last n_fft frames count: a loud start is ignored.
        let mut block = tone(200.0, 0.9, 8192);
        block.extend(tone(1000.0, 0.25, 4096));
        let out = spectrum(&mut s, &[&block]);
        assert_eq!(loudest(&out).0, band);
        assert!(out[s.bands().band_of(200.0).unwrap()] < -60.0, "{out:?}");
    }

    #[test]
    fn channels_are_averaged_into_mono() {
        let mut s = BandSpectrum::new(SR, 4096, 32, 30.0, 16_000.0).unwrap();
        let a = tone(1000.0, 0.5, 4096);
        let silent = vec![0.0; 4096];
        let (_, both) = loudest(&spectrum(&mut s, &[&a, &a]));
        let (_, one) = loudest(&spectrum(&mut s, &[&a, &silent]));
        assert!((both + 6.02).abs() < 0.05 && (one + 12.04).abs() < 0.05, "{both} {one}");
    }

    #[test]
    fn white_noise_reads_its_variance_times_the_band_width() {
        // Averaged over 32 independent blocks (one block's bin powers scatter
        // like chi-square with 2 degrees of freedom).
        let n_fft = 8192;
        let mut s = BandSpectrum::new(SR, n_fft, 24, 100.0, 20_000.0).unwrap();
        let sigma = 0.1f64;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut sum = [0f64; 24];
        for _ in 0..32 {
            // Box-Muller.
            let x: Vec<f32> = (0..n_fft)
                .map(|_| (sigma * (-2.0 * uniform().max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos()) as f32)
                .collect();
            for (acc, db) in sum.iter_mut().zip(spectrum(&mut s, &[&x])) {
                *acc += 10f64.powf(db as f64 / 10.0) / 32.0;
            }
        }
        for (i, &p) in sum.iter().enumerate() {
            let (lo, hi) = s.bands().edges_hz(i);
            let want = 4.0 * sigma * sigma * (hi - lo) as f64 / SR as f64;
            let err_db = 10.0 * (p / want).log10();
            assert!(err_db.abs() < 0.6, "band {i} ({lo}..{hi} Hz): {err_db} dB off");
        }
    }

    #[test]
    fn silence_reads_the_floor() {
        let mut s = BandSpectrum::new(SR, 1024, 16, 30.0, 16_000.0).unwrap();
        assert!(spectrum(&mut s, &[&[0.0; 3000]]).iter().all(|&d| d == SPECTRUM_FLOOR_DB));
    }

    #[test]
    fn bad_input_and_parameters_are_refused_with_their_names() {
        let code = |r: Result<BandSpectrum>| r.unwrap_err();
        for (e, name) in [
            (code(BandSpectrum::new(SR, 1000, 64, 30.0, 16_000.0)), "nFft"),
            (code(BandSpectrum::new(SR, 128, 64, 30.0, 16_000.0)), "nFft"),
            (code(BandSpectrum::new(SR, 131_072, 64, 30.0, 16_000.0)), "nFft"),
            (code(BandSpectrum::new(SR, 4096, 0, 30.0, 16_000.0)), "bands"),
            (code(BandSpectrum::new(SR, 4096, 513, 30.0, 16_000.0)), "bands"),
            (code(BandSpectrum::new(SR, 4096, 64, 0.0, 16_000.0)), "fMinHz"),
            (code(BandSpectrum::new(SR, 4096, 64, 300.0, 200.0)), "fMaxHz"),
            (code(BandSpectrum::new(SR, 4096, 64, 30.0, 24_001.0)), "fMaxHz"),
        ] {
            assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
            assert!(e.to_string().contains(name), "{e}");
        }
        let mut s = BandSpectrum::new(SR, 1024, 16, 30.0, 16_000.0).unwrap();
        let mut out = vec![0.0; 16];
        assert_eq!(s.compute(&[], &mut out).unwrap_err().code(), "ERR_EMPTY_AUDIO");
        assert_eq!(s.compute(&[&[]], &mut out).unwrap_err().code(), "ERR_EMPTY_AUDIO");
        let e = s.compute(&[&[0.0; 4], &[0.0; 5]], &mut out).unwrap_err();
        assert_eq!(e.code(), "ERR_SHAPE");
        assert!(e.to_string().contains("channels[1]"), "{e}");
        let e = s.compute(&[&[0.0; 4], &[0.0, 0.0, f32::NAN, 0.0]], &mut out).unwrap_err();
        assert_eq!(e.code(), "ERR_NON_FINITE_SAMPLE");
        assert!(e.to_string().contains("frame 2, channel 1"), "{e}");
    }
}
