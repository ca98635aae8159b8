//! The one conversion from [`resonode_core::Error`] to a JS error.
//!
//! The reason string is `"<CODE>: <message>"`; the TypeScript facade
//! (`src-ts/errors.ts`) turns it into a typed `ResonodeError` whose `code`
//! property holds `<CODE>`. This is the only place either format is made.

use std::panic::{catch_unwind, AssertUnwindSafe};

use resonode_core::Error;

/// Converts a core error into the napi error the facade understands.
pub fn to_napi(err: Error) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("{}: {}", err.code(), err))
}

/// `napi::Result` from a core result.
pub trait IntoNapi<T> {
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for resonode_core::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

/// Runs `f`, turning a panic into `ERR_INTERNAL` so it never unwinds into
/// Node (the release profile keeps `panic = "unwind"` for this).
pub fn guard<T>(f: impl FnOnce() -> napi::Result<T>) -> napi::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = resonode_core::error::panic_message(panic.as_ref());
        Err(to_napi(Error::Internal { message: format!("panic: {message}") }))
    })
}

/// Like [`guard`] for functions returning core results.
pub fn guard_core<T>(f: impl FnOnce() -> resonode_core::Result<T>) -> napi::Result<T> {
    guard(|| f().napi())
}
