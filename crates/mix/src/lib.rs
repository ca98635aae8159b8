//! # resonode-mix
//!
//! Beat-matched transitions between two tracks: see [`transition`]
//! ([`render_transition`] for files, [`render`] for audio in memory).
//!
//! Sources: tempo, beats (dynamic programming after Ellis 2007) and
//! loudness (EBU R128) come from `resonode-analysis`; the pitch-preserving
//! time-stretch is Signalsmith Stretch by Geraint Luff; the crossfade is
//! equal-power (cos/sin).
//!
//! ## Real-time safety
//! Nothing in this crate is real-time: it decodes whole tracks into memory,
//! analyses and stretches them, allocating freely and taking seconds.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod grid;
mod stretch;
pub mod transition;

pub use transition::{
    render, render_transition, BeatTiming, PlanarTrack, TransitionOptions, TransitionReport, MAX_CROSSFADE_BEATS,
};
