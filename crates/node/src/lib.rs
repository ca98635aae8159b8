//! napi-rs bindings of resonode. This crate only converts types and errors
//! and moves work off the JS thread; all behaviour lives in the pure crates
//! (`resonode-core`, `resonode-dsp`, `resonode-io`) where Rust tests reach it.
//!
//! Every export runs its body under [`guard`], so a Rust panic becomes a JS
//! error with code `ERR_INTERNAL` instead of aborting Node.
#![deny(unsafe_op_in_unsafe_fn)]

mod analysis;
mod chain;
mod convert;
mod error;
mod file;
mod library;
mod mix;
mod pipeline;
mod ml;
mod realtime;
mod separate;
mod separation_stream;
mod ring;
