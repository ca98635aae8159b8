//! `panic`: a processor that panics on demand, for testing that panics in
//! the audio callback (and everywhere else a chain runs) are caught.
//!
//! Not a real effect: the registry builds it only when the environment
//! variable [`TEST_PROCESSORS_ENV`] is set (to anything), so a typo in a
//! user's chain can never reach it. It passes audio through until its
//! `armed` parameter is set to 1, then panics in the next `process` call.
//! `reset` disarms it (an engine that resets its chain after a panic then
//! runs normally again).

use resonode_core::error::{check_range, ParamError};
use resonode_core::{AudioBlockMut, Processor, Result, StreamSpec};

/// The variable that enables the `panic` kind in the registry.
pub const TEST_PROCESSORS_ENV: &str = "RESONODE_TEST_PROCESSORS";

/// Whether test processors are enabled in this process.
pub fn enabled() -> bool {
    std::env::var_os(TEST_PROCESSORS_ENV).is_some()
}

/// Passes audio through; panics while armed.
#[derive(Debug, Default)]
pub struct PanicOnDemand {
    armed: bool,
}

impl PanicOnDemand {
    /// A disarmed instance, or an armed one.
    pub fn new(armed: bool) -> Self {
        PanicOnDemand { armed }
    }
}

impl Processor for PanicOnDemand {
    fn kind(&self) -> &'static str {
        "panic"
    }

    fn prepare(&mut self, _spec: &StreamSpec) -> Result<()> {
        Ok(())
    }

    fn process(&mut self, _block: &mut AudioBlockMut<'_>) {
        if self.armed {
            panic!("the test processor `panic` was armed");
        }
    }

    fn reset(&mut self) {
        self.armed = false;
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        &["armed"]
    }

    fn set_parameter(&mut self, name: &str, value: f64) -> std::result::Result<(), ParamError> {
        match name {
            "armed" => {
                self.armed = check_range(value, 0.0, 1.0)? >= 0.5;
                Ok(())
            }
            _ => Err(ParamError::Unknown),
        }
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        (name == "armed").then_some(if self.armed { 1.0 } else { 0.0 })
    }
}
