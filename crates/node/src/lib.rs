//! napi-rs bindings of resonode. This crate only converts types and errors
//! and moves work off the JS thread; all behaviour lives in the pure crates
//! (`resonode-core`, `resonode-dsp`, `resonode-io`) where Rust tests reach it.
//! `endpoints` turns JS source / sink descriptions into opened sources and
//! sinks for `file` and `pipeline` (which do not depend on each other).
//!
//! No panic crosses into Node: every `#[napi]` export (function, method,
//! getter, constructor, factory) is compiled with napi-rs' `catch_unwind`,
//! which covers argument and return-value conversion as well as the body;
//! bodies that convert core errors run under [`error::guard_core`] (whose
//! panics carry `ERR_INTERNAL: `), and every `Task::compute` / `resolve`
//! (worker thread, completion callback) runs under [`error::guard`]. A
//! panic caught by `catch_unwind` alone arrives as napi's `GenericFailure`,
//! which `src-ts/errors.ts` turns into `ERR_INTERNAL`.
//! `__test__/hostile.spec.mjs` calls every export with hostile arguments.
#![deny(unsafe_op_in_unsafe_fn)]

mod analysis;
mod byte_source;
mod chain;
mod convert;
mod endpoints;
mod error;
mod file;
mod library;
mod logging;
mod mix;
mod peak;
mod pipeline;
mod plot;
mod prompt_separation;
mod queue;
mod ml;
mod realtime;
mod separate;
mod separation_stream;
mod spectrum;
mod ring;
