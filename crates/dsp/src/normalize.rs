//! [`Normalize`]: two-pass peak normalisation.

use resonode_core::error::check_range;
use resonode_core::{AudioBlock, AudioBlockMut, ParamError, Processor, Result, StreamSpec};

use crate::validate::{db_to_linear, in_range};

/// Accepted range of the `"peak"` parameter in dBFS.
pub const PEAK_DB_RANGE: (f64, f64) = (-100.0, 20.0);
/// Default target peak in dBFS.
pub const DEFAULT_PEAK_DB: f64 = -1.0;

/// Scales the whole signal so that its absolute peak (over all channels)
/// lands on `"peak"` dBFS (kind `"normalize"`, default [`DEFAULT_PEAK_DB`]).
///
/// Two-pass: [`needs_analysis`](Processor::needs_analysis) is true, so a
/// driver first feeds the whole signal to [`analyze`](Processor::analyze)
/// (which records the peak) and calls
/// [`finish_analysis`](Processor::finish_analysis) (which sets the gain);
/// `process` then applies that constant gain. Silence (peak 0) gets gain 1.
/// Before any analysis the gain is 1. `reset` keeps the analysed gain (it
/// holds no signal state); `prepare` forgets it, since the stream changed.
/// The peak is sample peak, not inter-sample (true) peak.
///
/// # Real-time safety
/// `process`, `analyze`, `finish_analysis`, `reset` and `set_parameter`
/// never allocate.
#[derive(Debug, Clone)]
pub struct Normalize {
    target_db: f64,
    /// Peak seen by the analysis so far (or the last finished one).
    measured: f64,
    /// Whether an analysis pass is in progress.
    analysing: bool,
    /// Whether a finished analysis exists.
    analysed: bool,
    gain: f64,
}

impl Normalize {
    /// Parameter names accepted by [`Processor::set_parameter`].
    pub const PARAMETERS: &'static [&'static str] = &["peak", "linear"];

    /// Normalises to `peak_db` dBFS.
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] outside [`PEAK_DB_RANGE`].
    pub fn new(peak_db: f64) -> Result<Self> {
        let target_db = in_range("peak", peak_db, PEAK_DB_RANGE.0, PEAK_DB_RANGE.1)?;
        Ok(Normalize {
            target_db,
            measured: 0.0,
            analysing: false,
            analysed: false,
            gain: 1.0,
        })
    }

    /// The linear gain `process` applies.
    pub fn gain(&self) -> f64 {
        self.gain
    }

    /// The absolute sample peak found by the last analysis, if any.
    pub fn measured_peak(&self) -> Option<f64> {
        self.analysed.then_some(self.measured)
    }

    fn update_gain(&mut self) {
        self.gain = if self.analysed && self.measured > 0.0 {
            db_to_linear(self.target_db) / self.measured
        } else {
            1.0
        };
    }
}

impl Default for Normalize {
    /// Normalises to [`DEFAULT_PEAK_DB`].
    fn default() -> Self {
        Normalize::new(DEFAULT_PEAK_DB).expect("default is in range")
    }
}

impl Processor for Normalize {
    fn kind(&self) -> &'static str {
        "normalize"
    }

    /// Forgets any previous analysis; never fails.
    fn prepare(&mut self, _spec: &StreamSpec) -> Result<()> {
        self.analysing = false;
        self.analysed = false;
        self.measured = 0.0;
        self.update_gain();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        if self.gain == 1.0 {
            return;
        }
        let g = self.gain;
        for ch in block.channels_mut() {
            for s in ch {
                *s = (*s as f64 * g) as f32;
            }
        }
    }

    /// Keeps the analysed gain: normalisation holds no signal state.
    fn reset(&mut self) {}

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    /// `"peak"` in dBFS or `"linear"`, the same target as a linear peak
    /// (`10^(peak / 20)`); after an analysis the gain is recomputed from the
    /// measured peak at once.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        match name {
            "peak" => self.target_db = check_range(value, PEAK_DB_RANGE.0, PEAK_DB_RANGE.1)?,
            "linear" => {
                let (lo, hi) = (10f64.powf(PEAK_DB_RANGE.0 / 20.0), 10f64.powf(PEAK_DB_RANGE.1 / 20.0));
                self.target_db = 20.0 * check_range(value, lo, hi)?.log10();
            }
            _ => return Err(ParamError::Unknown),
        }
        self.update_gain();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "peak" => Some(self.target_db),
            "linear" => Some(10f64.powf(self.target_db / 20.0)),
            _ => None,
        }
    }

    fn needs_analysis(&self) -> bool {
        true
    }

    /// Tracks the absolute peak over all channels. The first call after
    /// `finish_analysis` (or `prepare`) starts a new measurement.
    fn analyze(&mut self, block: &AudioBlock<'_>) {
        if !self.analysing {
            self.analysing = true;
            self.measured = 0.0;
        }
        let mut peak = self.measured as f32;
        for ch in block.iter() {
            for &s in ch {
                peak = peak.max(s.abs());
            }
        }
        self.measured = peak as f64;
    }

    /// Sets the gain from the measured peak.
    fn finish_analysis(&mut self) {
        if !self.analysing {
            // An empty signal: nothing was measured.
            self.measured = 0.0;
        }
        self.analysing = false;
        self.analysed = true;
        self.update_gain();
    }
}
