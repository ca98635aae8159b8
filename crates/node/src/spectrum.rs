//! `bandSpectrum`: the log-band spectrum of the latest audio of a block
//! (`resonode_analysis::band_spectrum`), for spectrum displays.

use std::cell::RefCell;

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use resonode_analysis::band_spectrum::{BandSpectrum, MAX_BANDS, N_FFT_RANGE};
use resonode_core::Error;

use crate::error::guard_core;

/// Options of `bandSpectrum`; absent fields take the defaults.
#[napi(object)]
pub struct BandSpectrumOptions {
    /// Number of log-spaced bands, 1..=512 (default 64).
    pub bands: Option<f64>,
    /// Lower edge of the first band, Hz (default 30).
    pub f_min_hz: Option<f64>,
    /// Upper edge of the last band, Hz (default min(16000, sampleRate / 2)).
    pub f_max_hz: Option<f64>,
    /// FFT size in frames, a power of two in 256..=65536 (default 4096).
    pub n_fft: Option<f64>,
}

/// The band spectrum of a block and the bands' centre frequencies.
#[napi(object)]
pub struct BandSpectrumResult {
    /// Power per band, dB (a sine of amplitude A reads 20 log10(A) in its band; floor -120).
    pub bands_db: Float32Array,
    /// Geometric centre of each band, Hz.
    pub center_hz: Float32Array,
}

/// The parameters one `BandSpectrum` is built for.
#[derive(Clone, Copy, PartialEq)]
struct Key {
    sample_rate: u32,
    n_fft: usize,
    bands: usize,
    f_min_hz: f32,
    f_max_hz: f32,
}

thread_local! {
    // A display asks for the same layout every few tens of ms: keep the
    // last FFT plan and band map instead of planning each call.
    static LAST: RefCell<Option<(Key, BandSpectrum)>> = const { RefCell::new(None) };
}

fn integer(name: &str, v: f64, lo: f64, hi: f64) -> resonode_core::Result<f64> {
    if v.is_finite() && v.fract() == 0.0 && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(Error::param(name, format!("must be an integer in {lo}..={hi}, got {v}")))
    }
}

/// The power spectrum of the LAST `nFft` frames of `channels` (planar,
/// channels x frames, all the same length; downmixed to mono by averaging;
/// a shorter block is centred in the frame with zeros around it), periodic
/// Hann window, summed in `bands` log-spaced bands between `fMinHz` and
/// `fMaxHz`, in dB: `10 log10(4 / (nFft * sum(w^2)) * sum of |X[k]|^2 in
/// the band)`, so a sine of amplitude A reads 20 log10(A) dB in its band
/// (full scale: 0 dB) and white noise of variance s^2 reads
/// 10 log10(4 s^2 * bandwidthHz / sampleRate); floor -120 dB.
///
/// @throws ERR_EMPTY_AUDIO without channels or frames; ERR_SHAPE for channels of different lengths;
/// ERR_NON_FINITE_SAMPLE for NaN / infinity; ERR_INVALID_PARAMETER naming `sampleRate`, `bands`, `fMinHz`,
/// `fMaxHz` or `nFft`
#[napi(catch_unwind)]
pub fn band_spectrum(
    channels: Vec<Float32Array>,
    sample_rate: f64,
    options: Option<BandSpectrumOptions>,
) -> napi::Result<BandSpectrumResult> {
    guard_core(|| {
        let sample_rate = integer("sampleRate", sample_rate, 1.0, f64::from(u32::MAX))? as u32;
        let o = options.unwrap_or(BandSpectrumOptions { bands: None, f_min_hz: None, f_max_hz: None, n_fft: None });
        let key = Key {
            sample_rate,
            n_fft: integer("nFft", o.n_fft.unwrap_or(4096.0), N_FFT_RANGE.0 as f64, N_FFT_RANGE.1 as f64)? as usize,
            bands: integer("bands", o.bands.unwrap_or(64.0), 1.0, MAX_BANDS as f64)? as usize,
            // LogBands checks the frequencies (a value out of f32's range
            // becomes 0 or infinite there, and is refused).
            f_min_hz: o.f_min_hz.unwrap_or(30.0) as f32,
            f_max_hz: o.f_max_hz.unwrap_or((sample_rate as f64 / 2.0).min(16_000.0)) as f32,
        };
        let planar: Vec<&[f32]> = channels.iter().map(|c| &c[..]).collect();
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            let spectrum = match last.take() {
                Some((k, s)) if k == key => s,
                _ => BandSpectrum::new(key.sample_rate, key.n_fft, key.bands, key.f_min_hz, key.f_max_hz)?,
            };
            let (key, spectrum) = last.insert((key, spectrum));
            let mut db = vec![0.0f32; key.bands];
            spectrum.compute(&planar, &mut db)?;
            let center: Vec<f32> = (0..key.bands).map(|i| spectrum.bands().center_hz(i)).collect();
            Ok(BandSpectrumResult { bands_db: Float32Array::new(db), center_hz: Float32Array::new(center) })
        })
    })
}
