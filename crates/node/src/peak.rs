//! Two-pass peak normalisation for JS-driven pipelines: the gain that the
//! native `normalize` processor applies after its analysis pass, so a
//! pipeline that measures the peak itself (over exactly the audio it
//! processes) scales sample for sample as the all-native file job does.

use napi_derive::napi;
use resonode_core::{AudioBuffer, Processor};
use resonode_dsp::Normalize;

use crate::error::guard_core;

/// The linear gain of `normalize(peak=peakDb)` after an analysis pass that
/// measured the absolute sample peak `measuredPeak` (linear, over all
/// channels, as a float32 sample). Computed by the native processor itself
/// (`resonode_dsp::Normalize`: `10^(peakDb/20) / measuredPeak`; 1 for
/// silence), so applying `fround(sample * gain)` equals its output exactly.
///
/// @throws ERR_INVALID_PARAMETER for `peakDb` outside -100..20 dBFS or a
/// negative or non-finite `measuredPeak`
#[napi(catch_unwind)]
pub fn normalize_gain(peak_db: f64, measured_peak: f64) -> napi::Result<f64> {
    guard_core(|| {
        if !(measured_peak.is_finite() && measured_peak >= 0.0) {
            return Err(resonode_core::Error::param("measuredPeak", format!("must be a finite peak >= 0, got {measured_peak}")));
        }
        let mut n = Normalize::new(peak_db)?;
        let mut one = AudioBuffer::new(1, 1);
        one.set_frames(1);
        one.channel_mut(0)[0] = measured_peak as f32;
        n.analyze(&one.as_block());
        n.finish_analysis();
        Ok(n.gain())
    })
}
