//! # resonode-core
//!
//! The pieces every other resonode crate builds on: planar audio blocks, the
//! [`Processor`] trait and [`Chain`], the lock-free SPSC [`ring`] buffer, the
//! offline [`pipeline`] driver with its [`Stats`], [`PlanarSource`] and
//! [`PlanarSink`] (arrays read as a source, a stream kept as arrays), the
//! chain-string grammar in [`chain_spec`], and the
//! single [`Error`] enum with stable codes.
//!
//! ## Real-time guarantees
//! - [`Processor::process`], [`Chain::process`] and [`Chain::set_parameter`]
//!   never allocate, lock, block or do I/O once [`Chain::prepare`] has run.
//!   Everything that may allocate happens in `prepare`.
//! - A processor too heavy for the callback (neural enhancement) runs its
//!   work on a worker thread behind two rings and shares its added latency
//!   and underruns as relaxed atomics ([`WorkerStats`], via
//!   [`Processor::worker_stats`]).
//! - [`ring::Producer::write`] and [`ring::Consumer::read`] (and `push`/`pop`
//!   on rings of any `Copy` item made by [`ring::channel_of`]) are wait-free
//!   and never allocate; they are safe to call from an audio callback.
//!
//! ## Vocabulary
//! A *sample* is one value of one channel; a *frame* is one time step across
//! all channels. Blocks are *planar* (one contiguous run of samples per
//! channel, shape channels x frames); the ring buffer stores *interleaved*
//! frames. Sample rates are in Hz, gains in dB unless a name says `linear`.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod block;
pub mod chain;
pub mod chain_spec;
pub mod error;
pub mod log_filter;
pub mod pipeline;
pub mod planar_sink;
pub mod planar_source;
pub mod processor;
pub mod ring;
pub mod thread_priority;

pub use block::{AudioBlock, AudioBlockMut, AudioBuffer};
pub use chain::Chain;
pub use error::{Error, ParamError, Result};
pub use pipeline::{Control, PipelineOptions, Progress, Sink, Source, Stats};
pub use planar_sink::PlanarSink;
pub use planar_source::PlanarSource;
pub use processor::{Processor, StreamSpec, WorkerStats};

// Makes `assert_no_alloc` abort the test binary on any allocation inside a
// guarded closure; without it the guard would check nothing.
#[cfg(test)]
#[global_allocator]
static ALLOC_GUARD: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
