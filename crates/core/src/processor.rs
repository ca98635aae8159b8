//! The [`Processor`] trait: one audio effect working on planar blocks.

use crate::{AudioBlock, AudioBlockMut, ParamError, Result};

/// What a processor is told about the stream before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// The largest block, in frames, that [`Processor::process`] will be given.
    pub max_block_frames: usize,
}

impl StreamSpec {
    /// The Nyquist frequency in Hz.
    pub fn nyquist(&self) -> f64 {
        self.sample_rate as f64 / 2.0
    }
}

/// An audio effect over planar `f32` blocks (channels x frames).
///
/// Lifecycle: [`prepare`](Processor::prepare) (may allocate; learns sample
/// rate and channel count from the stream), then any number of
/// [`process`](Processor::process) calls on blocks of any size up to
/// `max_block_frames`, with [`set_parameter`](Processor::set_parameter)
/// between blocks and [`reset`](Processor::reset) to clear signal state.
///
/// # Real-time safety
/// `process`, `set_parameter` and `reset` must never allocate, lock, block or
/// do I/O: the same processor runs inside the audio callback. Tests enforce
/// this with an allocation-counting guard.
pub trait Processor: Send {
    /// Short name of the processor kind, as in chain strings (`"lowpass"`).
    fn kind(&self) -> &'static str;

    /// Called before the first block and whenever the stream changes.
    /// Allocates whatever `process` needs and recomputes coefficients.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when a parameter is not valid for this
    /// stream (e.g. a cutoff at or above Nyquist).
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()>;

    /// Processes one block in place.
    fn process(&mut self, block: &mut AudioBlockMut<'_>);

    /// Clears all signal state (filter memories, delay lines, envelopes)
    /// without changing parameters.
    fn reset(&mut self);

    /// Names of the parameters [`set_parameter`](Processor::set_parameter) accepts.
    fn parameter_names(&self) -> &'static [&'static str];

    /// Changes a parameter between blocks. Filters recompute coefficients and
    /// keep their state, so a change does not click. Before `prepare` the
    /// value is only stored.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError>;

    /// Current value of a parameter, if it has that name.
    fn parameter(&self, name: &str) -> Option<f64>;

    /// Whether this processor needs to see the whole signal first (a
    /// two-pass processor such as peak normalisation).
    fn needs_analysis(&self) -> bool {
        false
    }

    /// Analysis pass: sees every block of the signal that will later be
    /// processed, in order. Only called when `needs_analysis` is true.
    fn analyze(&mut self, _block: &AudioBlock<'_>) {}

    /// Called after the last analysed block.
    fn finish_analysis(&mut self) {}
}
