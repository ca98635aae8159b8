//! # resonode-dsp
//!
//! The audio processors of resonode, each a [`resonode_core::Processor`]
//! working in place on planar `f32` blocks, and the [`registry`] that builds
//! them from chain strings such as
//! `"highpass(80) lowpass(8khz, order=4) gain(-3db) limiter(-1db)"`.
//!
//! ## Real-time safety
//! - [`Processor::process`], [`Processor::set_parameter`] and
//!   [`Processor::reset`] of every processor here never allocate, lock,
//!   block or do I/O, for blocks of any size. Everything that allocates
//!   (filter state, delay lines, scratch buffers) happens in
//!   [`Processor::prepare`] or the constructors. The `no_alloc` integration
//!   test runs every kind, and a chain of all of them, under an
//!   allocation-aborting guard.
//! - Parameter changes between blocks never reset signal state: filters
//!   recompute coefficients and keep their memory, [`Gain`] ramps over 5 ms,
//!   so changes do not click.
//! - The only `unsafe` code is a handful of SSE2 arithmetic intrinsics in
//!   [`sos`] (x86_64 only, where SSE2 is always present); everything else is
//!   safe Rust (`#![deny(unsafe_code)]`).
//!
//! ## Numerics
//! Filters ([`Biquad`], [`LowPass`], [`HighPass`]) keep coefficients and
//! state in `f64` (transposed direct form II, the recurrence of
//! `scipy.signal.sosfilt`), so their `f32` output matches scipy computing in
//! `float64` to about 1e-7; integration tests compare against scipy
//! fixtures. Decaying state is flushed to zero well below audibility so
//! silence never runs on slow subnormal numbers.
//!
//! ## Processors
//! | kind | type | algorithm |
//! |------|------|-----------|
//! | `gain` | [`Gain`] | multiply, 5 ms linear ramps |
//! | `lowpass`, `highpass` | [`LowPass`], [`HighPass`] | Butterworth, order 1-16, bilinear transform ([`butterworth`]) |
//! | `biquad` | [`Biquad`] | RBJ Audio EQ Cookbook, 8 shapes ([`biquad`]) |
//! | `normalize` | [`Normalize`] | two-pass sample-peak normalisation |
//! | `limiter` | [`Limiter`] | zero-latency linked peak limiter, hard ceiling |
//! | `reverb` | [`Reverb`] | Freeverb (Jezar at Dreampoint, public domain) |
//! | `delay` | [`Delay`] | feedback delay line |
//!
//! [`Processor::process`]: resonode_core::Processor::process
//! [`Processor::set_parameter`]: resonode_core::Processor::set_parameter
//! [`Processor::reset`]: resonode_core::Processor::reset
//! [`Processor::prepare`]: resonode_core::Processor::prepare
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod biquad;
pub mod butterworth;
pub mod delay;
pub mod gain;
pub mod limiter;
pub mod normalize;
pub mod registry;
pub mod reverb;
pub mod sos;
pub mod test_panic;
mod validate;

pub use biquad::{rbj_coefficients, Biquad, BiquadType};
pub use butterworth::{butterworth_sos, ButterworthKind, HighPass, LowPass};
pub use delay::Delay;
pub use gain::Gain;
pub use limiter::Limiter;
pub use normalize::Normalize;
pub use registry::{
    build_chain, build_chain_with, create, create_with, kinds, parse_chain, parse_chain_with, Extension,
    KindInfo,
};
pub use reverb::Reverb;
pub use sos::{magnitude_db, Section, SosCascade};

// Makes `assert_no_alloc` abort the unit-test binary on any allocation
// inside a guarded closure.
#[cfg(test)]
#[global_allocator]
static ALLOC_GUARD: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
