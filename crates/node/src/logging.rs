//! The one global `log::Log` of the addon: `RESONODE_LOG`, `setLogLevel`
//! and `setLogger` (`src-ts/logging.ts`).
//!
//! The pure crates log through the `log` facade with `resonode::*` targets
//! (`resonode::device`, `resonode::ml`, `resonode::pipeline`,
//! `resonode::analysis`, `resonode::library`): device choices, stream opens,
//! restarts and fallbacks, runtime resolution and model loads, job start,
//! progress and end. Nothing logs inside an audio callback; callback-side
//! events travel through the engine's lock-free event ring instead.
//!
//! # Filter
//! `RESONODE_LOG` and [`set_log_filter`] share one grammar
//! ([`resonode_core::log_filter`]): a level (`off|error|warn|info|debug|
//! trace`) for resonode's targets, default `warn`, plus optional
//! `target=level` directives; other crates' records are off unless named.
//! An invalid `RESONODE_LOG` prints one warning on stderr and leaves `warn`;
//! it never fails the load.
//!
//! # Output
//! Without a hook one line per record on stderr:
//! `resonode DEBUG resonode::device: opened output stream ...`. With a hook
//! ([`set_log_hook`]) records go to it instead, on the JS thread, through a
//! weak, bounded (1024) ThreadsafeFunction called in non-blocking mode: a
//! record logged while the queue is full is counted, and the count arrives
//! as a `resonode::logging` warning with the next record that fits.
//!
//! # Real-time safety
//! Not real-time safe, and never called from an audio callback: a record
//! that passes the filter is formatted (allocates) and either written to
//! stderr (its lock) or queued after taking the hook's `Mutex`, held only
//! for the non-blocking queue call (no JS runs under it). A record that does
//! not pass costs `log`'s atomic max-level check, then a read lock.
//! [`Log::log`] never panics (the body runs under `catch_unwind`).

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, Log, Metadata, Record};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use resonode_core::{log_filter, Error};

use crate::error::{guard, guard_core};

/// Records the hook's queue holds before new ones are counted as dropped.
const HOOK_QUEUE: usize = 1024;

/// One log record as the `setLogger` hook receives it.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct LogRecordJs {
    #[napi(ts_type = "'error' | 'warn' | 'info' | 'debug' | 'trace'")]
    pub level: String,
    /// E.g. `resonode::device`.
    pub target: String,
    pub message: String,
    /// When it was logged: milliseconds since the Unix epoch.
    pub timestamp_ms: f64,
}

type HookFn =
    ThreadsafeFunction<LogRecordJs, (), LogRecordJs, napi::Status, false, true, HOOK_QUEUE>;

static FILTER: RwLock<Option<log_filter::Filter>> = RwLock::new(None);
static HOOK: Mutex<Option<HookFn>> = Mutex::new(None);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static LOGGER: Logger = Logger;

fn set_filter(filter: log_filter::Filter) {
    let max = filter.filter();
    *FILTER.write().unwrap_or_else(PoisonError::into_inner) = Some(filter);
    log::set_max_level(max);
}

/// Installs the logger with the level from `RESONODE_LOG`. Runs once, when
/// the addon is loaded (before any export is called).
#[napi_derive::module_init]
fn install() {
    // A panic here would abort the process loading the addon.
    let _ = catch_unwind(|| {
        let (filter, warning) = log_filter::from_env(std::env::var_os(log_filter::ENV));
        set_filter(filter);
        // Fails only when this copy of `log` already has a logger: the
        // addon is loaded once per process.
        let _ = log::set_logger(&LOGGER);
        if let Some(w) = warning {
            let _ = writeln!(std::io::stderr(), "resonode: {w}");
        }
    });
}

struct Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        FILTER
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|f| f.enabled(metadata))
    }

    fn log(&self, record: &Record<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if !self.enabled(record.metadata()) {
                return;
            }
            deliver(to_js(
                record.level(),
                record.target(),
                record.args().to_string(),
            ));
        }));
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

fn to_js(level: Level, target: &str, message: String) -> LogRecordJs {
    let timestamp_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0);
    LogRecordJs {
        level: level.as_str().to_ascii_lowercase(),
        target: target.to_string(),
        message,
        timestamp_ms,
    }
}

/// To the hook if one is set, otherwise to stderr.
fn deliver(record: LogRecordJs) {
    let mut slot = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(hook) = slot.as_ref() else {
        drop(slot);
        let line = format!(
            "resonode {} {}: {}\n",
            record.level.to_ascii_uppercase(),
            record.target,
            record.message
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return;
    };
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let notice = to_js(
            Level::Warn,
            "resonode::logging",
            format!("{dropped} log record(s) dropped: the setLogger hook's queue was full"),
        );
        if hook.call(notice, ThreadsafeFunctionCallMode::NonBlocking) != napi::Status::Ok {
            DROPPED.fetch_add(dropped, Ordering::Relaxed);
        }
    }
    match hook.call(record, ThreadsafeFunctionCallMode::NonBlocking) {
        napi::Status::Ok => {}
        napi::Status::QueueFull => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        // The hook's JS environment is gone (its worker ended): later
        // records go to stderr.
        _ => *slot = None,
    }
}

/// Sets which records are logged, replacing the filter `RESONODE_LOG` (or
/// an earlier call) set. `spec` follows the `RESONODE_LOG` grammar: a level
/// (`off|error|warn|info|debug|trace`) for resonode's targets, optionally
/// with `target=level` directives, comma-separated; `""` restores `warn`.
///
/// @throws ERR_INVALID_PARAMETER when `spec` is not in that grammar (the
/// filter is then unchanged)
#[napi(catch_unwind)]
pub fn set_log_filter(spec: String) -> napi::Result<()> {
    guard_core(|| {
        let filter = log_filter::build(&spec).map_err(|why| Error::param("level", why))?;
        set_filter(filter);
        Ok(())
    })
}

/// Sends every record that passes the filter to `hook` (on the JS thread,
/// asynchronously) instead of stderr; `null` restores stderr. One hook per
/// process: the last call wins (also across worker threads). The hook does
/// not keep the process alive. An exception thrown by it is an uncaught
/// exception, as from an event listener.
#[napi(
    catch_unwind,
    ts_args_type = "hook: ((record: LogRecordJs) => void) | null"
)]
pub fn set_log_hook(hook: Option<Function<LogRecordJs, ()>>) -> napi::Result<()> {
    guard(|| {
        let next: Option<HookFn> = match hook {
            Some(f) => Some(
                f.build_threadsafe_function::<LogRecordJs>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .max_queue_size::<HOOK_QUEUE>()
                    .build()?,
            ),
            None => None,
        };
        let previous = std::mem::replace(
            &mut *HOOK.lock().unwrap_or_else(PoisonError::into_inner),
            next,
        );
        DROPPED.store(0, Ordering::Relaxed);
        // Released outside the lock.
        drop(previous);
        Ok(())
    })
}

/// Logs one record from the TS facade (`src-ts/logging.ts`'s `logRecord`)
/// through the same filter and hook as the Rust core's records, so that
/// `RESONODE_LOG` and `setLogger` cover the JS-side modules too (the
/// dashboard server logs refused connections and messages as
/// `resonode::dashboard`).
///
/// @throws ERR_INVALID_PARAMETER when `level` is not one of `error`,
/// `warn`, `info`, `debug`, `trace`, or `target` is not `resonode::<name>`
#[napi(
    catch_unwind,
    ts_args_type = "level: 'error' | 'warn' | 'info' | 'debug' | 'trace', target: string, message: string"
)]
pub fn log_record(level: String, target: String, message: String) -> napi::Result<()> {
    guard_core(|| {
        let level: Level = level.parse().map_err(|_| {
            Error::param(
                "level",
                format!("{level:?} is not error|warn|info|debug|trace"),
            )
        })?;
        // Only resonode's own targets: the filter's default covers them.
        if !target.starts_with("resonode::") {
            return Err(Error::param(
                "target",
                format!("{target:?} is not resonode::<name>"),
            ));
        }
        log::log!(target: &target, level, "{message}");
        Ok(())
    })
}
