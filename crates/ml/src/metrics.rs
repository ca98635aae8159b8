//! Objective quality metrics for separated or enhanced audio, comparing an
//! `estimate` with the clean `reference` (same length, same rate, one
//! channel; for several channels, average per channel or concatenate).
//!
//! All sums run over every sample `n`; `e` is the estimate, `r` the
//! reference; values are in dB except [`correlation`]. Computed in `f64`.
//!
//! | metric | formula | source |
//! |---|---|---|
//! | [`si_sdr`] | `a = <e,r> / <r,r>`; `10 log10(‖a r‖² / ‖a r − e‖²)` | Le Roux, Wisdom, Erdogan, Hershey, "SDR – half-baked or well done?", ICASSP 2019, eq. (5)–(6) |
//! | [`sdr`] | `t = r * h` (the FIR filter `h` of [`SDR_FILTER_LEN`] taps that best maps `r` to `e`, least squares); `10 log10(‖t‖² / ‖e − t‖²)` | Vincent, Gribonval, Févotte, "Performance measurement in blind audio source separation", IEEE TASLP 14(4), 2006 (BSS Eval `SDR` with a time-invariant 512-tap distortion filter, as `museval`/`torchmetrics` `signal_distortion_ratio`) |
//! | [`snr`] | `10 log10(‖r‖² / ‖e − r‖²)` | the plain signal-to-noise ratio of `e` as a noisy copy of `r` (`torchmetrics` `signal_noise_ratio`; the "SDR" of the Music Demixing Challenge 2021, Mitsufuji et al., Front. Signal Process. 2022) |
//! | [`correlation`] | `Σ (e − ē)(r − r̄) / sqrt(Σ (e − ē)² Σ (r − r̄)²)` | Pearson's correlation coefficient at lag 0 |
//!
//! What they forgive: SI-SDR ignores a gain (`e = g r` scores +inf for any
//! `g != 0`); SDR forgives any short linear filter (gain, delay up to 511
//! samples, equalisation); SNR and correlation forgive nothing but a gain
//! (correlation) or nothing at all (SNR). A delayed copy `e[n] = r[n - d]`
//! therefore keeps a very high SDR while its SNR is
//! `-10 log10(2 - 2 ρ(d))` and its correlation is `ρ(d)`, the normalised
//! autocorrelation of the reference at lag `d`.
//!
//! A perfect estimate gives `+inf` dB. A silent reference is an error
//! (the ratios are undefined).

use std::sync::Arc;

use realfft::RealFftPlanner;
use resonode_core::{Error, Result};

/// Taps of the distortion filter allowed by [`sdr`] (BSS Eval's default, 512).
pub const SDR_FILTER_LEN: usize = 512;

fn check(estimate: &[f32], reference: &[f32]) -> Result<()> {
    if estimate.len() != reference.len() {
        return Err(Error::shape(format!(
            "the estimate has {} samples, the reference {}",
            estimate.len(),
            reference.len()
        )));
    }
    if reference.is_empty() {
        return Err(Error::EmptyAudio { reason: "no samples to compare".into() });
    }
    if let Some((i, v)) = estimate.iter().chain(reference).enumerate().find(|(_, v)| !v.is_finite()) {
        let n = estimate.len();
        return Err(Error::NonFiniteSample { frame: (i % n) as u64, channel: 0, value: *v });
    }
    Ok(())
}

fn silent(what: &str) -> Error {
    Error::param("reference", format!("the reference is silent; {what} is undefined"))
}

fn db(num: f64, den: f64) -> f64 {
    10.0 * (num / den).log10()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019):
/// `a = <e,r>/<r,r>`, `SI-SDR = 10 log10(‖a r‖² / ‖a r − e‖²)`. No mean is
/// removed.
///
/// # Errors
/// [`Error::Shape`] (different lengths), [`Error::EmptyAudio`],
/// [`Error::NonFiniteSample`], [`Error::InvalidParameter`] (silent reference).
pub fn si_sdr(estimate: &[f32], reference: &[f32]) -> Result<f64> {
    check(estimate, reference)?;
    let rr = dot(reference, reference);
    if rr == 0.0 {
        return Err(silent("SI-SDR"));
    }
    let a = dot(estimate, reference) / rr;
    let (mut target, mut noise) = (0.0f64, 0.0f64);
    for (&e, &r) in estimate.iter().zip(reference) {
        let t = a * f64::from(r);
        target += t * t;
        noise += (t - f64::from(e)).powi(2);
    }
    Ok(db(target, noise))
}

/// Signal-to-noise ratio in dB of `estimate` as a noisy copy of
/// `reference`: `10 log10(‖r‖² / ‖e − r‖²)`. With `e = r + n`, this is the
/// ratio of the powers of `r` and `n`.
///
/// # Errors
/// As [`si_sdr`].
pub fn snr(estimate: &[f32], reference: &[f32]) -> Result<f64> {
    check(estimate, reference)?;
    let rr = dot(reference, reference);
    if rr == 0.0 {
        return Err(silent("SNR"));
    }
    let noise: f64 = estimate.iter().zip(reference).map(|(&e, &r)| (f64::from(e) - f64::from(r)).powi(2)).sum();
    Ok(db(rr, noise))
}

/// Pearson correlation coefficient of `estimate` and `reference` at lag 0,
/// in [-1, 1]. 0 when either is constant.
///
/// # Errors
/// [`Error::Shape`], [`Error::EmptyAudio`], [`Error::NonFiniteSample`].
pub fn correlation(estimate: &[f32], reference: &[f32]) -> Result<f64> {
    check(estimate, reference)?;
    let n = estimate.len() as f64;
    let me = estimate.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let mr = reference.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (mut c, mut ve, mut vr) = (0.0, 0.0, 0.0);
    for (&e, &r) in estimate.iter().zip(reference) {
        let (de, dr) = (f64::from(e) - me, f64::from(r) - mr);
        c += de * dr;
        ve += de * de;
        vr += dr * dr;
    }
    Ok(if ve == 0.0 || vr == 0.0 { 0.0 } else { c / (ve * vr).sqrt() })
}

/// Linear cross-correlation `c[k] = Σ_n a[n + k] b[n]` for `k` in
/// `0..=max_lag` (positive lags of `a` against `b`), via FFT.
fn xcorr(a: &[f64], b: &[f64], max_lag: usize) -> Vec<f64> {
    let n = a.len().max(b.len());
    let size = (n + max_lag + 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd: Arc<dyn realfft::RealToComplex<f64>> = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let spectrum = |x: &[f64]| {
        let mut buf = vec![0.0; size];
        buf[..x.len()].copy_from_slice(x);
        let mut out = fwd.make_output_vec();
        fwd.process(&mut buf, &mut out).expect("sizes match the plan");
        out
    };
    let (fa, fb) = (spectrum(a), spectrum(b));
    let mut prod: Vec<_> = fa.iter().zip(&fb).map(|(x, y)| x * y.conj()).collect();
    prod[0].im = 0.0;
    let last = prod.len() - 1;
    prod[last].im = 0.0;
    let mut out = vec![0.0; size];
    inv.process(&mut prod, &mut out).expect("sizes match the plan");
    out.truncate(max_lag + 1);
    out.iter_mut().for_each(|v| *v /= size as f64);
    out
}

/// Solves `A x = b` for a symmetric positive (semi-)definite `A` (`n x n`,
/// row-major) by Cholesky, with a tiny diagonal load for rank-deficient
/// references (e.g. a pure sine).
fn solve_spd(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    let load = 1e-10 * (0..n).map(|i| a[i * n + i]).sum::<f64>() / n as f64;
    for i in 0..n {
        a[i * n + i] += load.max(f64::MIN_POSITIVE);
    }
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.max(f64::MIN_POSITIVE).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    b
}

/// BSS Eval signal-to-distortion ratio in dB (Vincent et al. 2006): the
/// reference filtered by the least-squares FIR filter `h` of
/// [`SDR_FILTER_LEN`] taps (`t[n] = Σ_k h[k] r[n − k]`, the projection of
/// the estimate onto delayed copies of the reference) is the target;
/// `SDR = 10 log10(‖t‖² / ‖e − t‖²)`. As `museval`'s `bss_eval` for one
/// source and `torchmetrics`' `signal_distortion_ratio` (filter length 512,
/// no zero-mean), up to the tiny diagonal loading used here for
/// rank-deficient references.
///
/// # Errors
/// As [`si_sdr`].
pub fn sdr(estimate: &[f32], reference: &[f32]) -> Result<f64> {
    check(estimate, reference)?;
    if dot(reference, reference) == 0.0 {
        return Err(silent("SDR"));
    }
    let l = SDR_FILTER_LEN.min(reference.len());
    let r: Vec<f64> = reference.iter().map(|&x| f64::from(x)).collect();
    let e: Vec<f64> = estimate.iter().map(|&x| f64::from(x)).collect();
    let acf = xcorr(&r, &r, l - 1);
    let b = xcorr(&e, &r, l - 1); // b[k] = Σ e[n + k] r[n] = <e, r delayed by k>
    let mut a = vec![0.0; l * l];
    for i in 0..l {
        for j in 0..l {
            a[i * l + j] = acf[i.abs_diff(j)];
        }
    }
    let h = solve_spd(a, b.clone(), l);
    // ‖t‖² = hᵀ A h = hᵀ b (normal equations); ‖e − t‖² = ‖e‖² − 2 hᵀ b + hᵀ A h.
    let target: f64 = h.iter().zip(&b).map(|(x, y)| x * y).sum();
    let ee: f64 = e.iter().map(|x| x * x).sum();
    let noise = (ee - target).max(0.0);
    Ok(db(target, noise))
}

/// The lag `d` in `-max_lag..=max_lag` at which `estimate[n]` best matches
/// `reference[n - d]` (the peak of the cross-correlation), with the
/// correlation coefficient there. A positive lag means the estimate comes
/// later than the reference.
///
/// # Errors
/// [`Error::Shape`], [`Error::EmptyAudio`], [`Error::NonFiniteSample`].
pub fn best_lag(estimate: &[f32], reference: &[f32], max_lag: usize) -> Result<(i64, f64)> {
    check(estimate, reference)?;
    let max_lag = max_lag.min(reference.len() - 1);
    let e: Vec<f64> = estimate.iter().map(|&x| f64::from(x)).collect();
    let r: Vec<f64> = reference.iter().map(|&x| f64::from(x)).collect();
    let pos = xcorr(&e, &r, max_lag); // Σ e[n + k] r[n]
    let neg = xcorr(&r, &e, max_lag); // Σ r[n + k] e[n] = Σ e[n] r[n + k] -> lag -k
    let norm = (e.iter().map(|x| x * x).sum::<f64>() * r.iter().map(|x| x * x).sum::<f64>()).sqrt();
    let mut best = (0i64, f64::NEG_INFINITY);
    for (k, &v) in pos.iter().enumerate() {
        if v > best.1 {
            best = (k as i64, v);
        }
    }
    for (k, &v) in neg.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (-(k as i64), v);
        }
    }
    Ok((best.0, if norm > 0.0 { best.1 / norm } else { 0.0 }))
}

/// All metrics of one estimate against one reference (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeparationMetrics {
    /// [`si_sdr`] in dB.
    pub si_sdr: f64,
    /// [`sdr`] in dB.
    pub sdr: f64,
    /// [`snr`] in dB.
    pub snr: f64,
    /// [`correlation`], in [-1, 1].
    pub correlation: f64,
}

impl SeparationMetrics {
    /// Computes every metric of `estimate` against `reference`.
    ///
    /// # Errors
    /// As [`si_sdr`].
    pub fn compute(estimate: &[f32], reference: &[f32]) -> Result<SeparationMetrics> {
        Ok(SeparationMetrics {
            si_sdr: si_sdr(estimate, reference)?,
            sdr: sdr(estimate, reference)?,
            snr: snr(estimate, reference)?,
            correlation: correlation(estimate, reference)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise in [-1, 1) (xorshift).
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
            })
            .collect()
    }

    fn power(x: &[f32]) -> f64 {
        dot(x, x) / x.len() as f64
    }

    #[test]
    fn scaled_copy_has_unbounded_si_sdr_but_finite_snr() {
        let r = noise(16000, 1);
        let e: Vec<f32> = r.iter().map(|x| 0.5 * x).collect();
        assert!(si_sdr(&e, &r).unwrap() > 100.0);
        // SNR of 0.5 r: ‖r‖² / ‖0.5 r‖² = 4 -> 6.02 dB.
        assert!((snr(&e, &r).unwrap() - 20.0 * 2f64.log10()).abs() < 1e-6);
        assert!((correlation(&e, &r).unwrap() - 1.0).abs() < 1e-9);
        assert!(sdr(&e, &r).unwrap() > 80.0);
        let neg: Vec<f32> = r.iter().map(|x| -2.0 * x).collect();
        assert!((correlation(&neg, &r).unwrap() + 1.0).abs() < 1e-9);
    }

    #[test]
    fn added_noise_of_known_power_gives_the_set_snr() {
        let r = noise(48000, 7);
        let n = noise(48000, 99);
        for target in [-5.0f64, 0.0, 10.0, 30.0] {
            let g = (power(&r) / power(&n) / 10f64.powf(target / 10.0)).sqrt() as f32;
            let e: Vec<f32> = r.iter().zip(&n).map(|(a, b)| a + g * b).collect();
            let m = SeparationMetrics::compute(&e, &r).unwrap();
            assert!((m.snr - target).abs() < 0.1, "SNR {} for {target}", m.snr);
            // Independent noise: SI-SDR equals the SNR up to a chance
            // correlation. SDR's 512-tap filter also absorbs the part of the
            // noise that falls in the 512-dimensional span of delayed
            // references, on average a fraction L/N of its energy:
            // SDR = 10 log10((Pr + (L/N) Pn) / ((1 - L/N) Pn)).
            assert!((m.si_sdr - target).abs() < 0.1, "SI-SDR {} for {target}", m.si_sdr);
            let f = SDR_FILTER_LEN as f64 / r.len() as f64;
            let pn = 10f64.powf(-target / 10.0);
            let sdr_expect = 10.0 * ((1.0 + f * pn) / ((1.0 - f) * pn)).log10();
            assert!((m.sdr - sdr_expect).abs() < 0.1, "SDR {} for {target} (expected {sdr_expect})", m.sdr);
            // corr = 1 / sqrt(1 + 10^(-snr/10)) for independent noise.
            let expect = 1.0 / (1.0 + 10f64.powf(-target / 10.0)).sqrt();
            assert!((m.correlation - expect).abs() < 0.01, "corr {} vs {expect}", m.correlation);
        }
    }

    #[test]
    fn delayed_copy_behaves_as_derived() {
        // A 250 Hz sine at 16 kHz delayed by d samples: correlation cos(w d),
        // SNR -10 log10(2 - 2 cos(w d)), SDR very high (the 512-tap filter
        // absorbs the delay), SI-SDR 10 log10(c² / (1 - c²)).
        let w = 2.0 * std::f64::consts::PI * 250.0 / 16000.0;
        let n = 16000; // 250 whole periods
        for d in [1usize, 8, 16, 40] {
            let r: Vec<f32> = (0..n).map(|i| (w * i as f64).sin() as f32).collect();
            let e: Vec<f32> = (0..n).map(|i| (w * (i as f64 - d as f64)).sin() as f32).collect();
            let c = (w * d as f64).cos();
            let m = SeparationMetrics::compute(&e, &r).unwrap();
            assert!((m.correlation - c).abs() < 1e-3, "d={d}: corr {} vs {c}", m.correlation);
            let snr_expect = -10.0 * (2.0 - 2.0 * c).log10();
            assert!((m.snr - snr_expect).abs() < 0.05, "d={d}: SNR {} vs {snr_expect}", m.snr);
            if c.abs() < 0.999 && c.abs() > 1e-3 {
                let si_expect = 10.0 * (c * c / (1.0 - c * c)).log10();
                assert!((m.si_sdr - si_expect).abs() < 0.05, "d={d}: SI-SDR {} vs {si_expect}", m.si_sdr);
            }
            // The delayed sine is a filtered reference except for its first
            // d samples (the filter has no reference before n = 0), which
            // carry about d / n of its energy: SDR >= 10 log10(n / d).
            let bound = 10.0 * (n as f64 / d as f64).log10();
            assert!(m.sdr >= bound, "d={d}: SDR {} below {bound}", m.sdr);
            assert!(m.sdr > m.snr + 20.0);
        }
        // White noise delayed by 100: correlation ~0, SNR ~ -3 dB, SDR high,
        // and the peak of the cross-correlation is at lag +100.
        let r = noise(32000, 3);
        let mut e = vec![0.0f32; 32000];
        e[100..].copy_from_slice(&r[..32000 - 100]);
        let m = SeparationMetrics::compute(&e, &r).unwrap();
        assert!(m.correlation.abs() < 0.02);
        assert!((m.snr - (-10.0 * 2f64.log10())).abs() < 0.1, "SNR {}", m.snr);
        assert!(m.sdr > 20.0, "SDR {}", m.sdr);
        let (lag, c) = best_lag(&e, &r, 300).unwrap();
        assert_eq!(lag, 100);
        assert!(c > 0.99);
        let (lag, _) = best_lag(&r, &e, 300).unwrap();
        assert_eq!(lag, -100);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(si_sdr(&[1.0, 2.0], &[1.0]).unwrap_err().code(), "ERR_SHAPE");
        assert_eq!(snr(&[], &[]).unwrap_err().code(), "ERR_EMPTY_AUDIO");
        assert_eq!(sdr(&[1.0, 2.0], &[0.0, 0.0]).unwrap_err().code(), "ERR_INVALID_PARAMETER");
        assert_eq!(correlation(&[f32::NAN], &[1.0]).unwrap_err().code(), "ERR_NON_FINITE_SAMPLE");
        assert_eq!(si_sdr(&[1.0, 2.0], &[1.0, 2.0]).unwrap(), f64::INFINITY);
    }
}
