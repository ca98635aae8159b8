//! The grammar of `RESONODE_LOG` and `setLogLevel`: which log records pass.
//!
//! Comma-separated directives, each `LEVEL` or `TARGET=LEVEL`, with `LEVEL`
//! one of `off|error|warn|info|debug|trace` (any case). A bare `LEVEL`
//! applies to resonode's own targets (`resonode::device`, `resonode::ml`,
//! `resonode::pipeline`, `resonode::analysis`, `resonode::library`; default
//! [`DEFAULT_LEVEL`]); `TARGET=LEVEL` applies to every target starting with
//! `TARGET`, the longest match winning (the matching is [`env_filter`]'s,
//! from the env_logger project). Other crates' records (symphonia, the
//! PulseAudio client...) are off unless named: the PulseAudio client logs at
//! `trace` on its socket thread, which is cpal's audio callback thread, so
//! naming it trades real-time safety for diagnostics.
//!
//! The logger itself (stderr or a JS hook) lives in the napi binding
//! (`crates/node/src/logging.rs`).

use std::str::FromStr;

pub use env_filter::Filter;
use log::LevelFilter;

/// The environment variable the binding reads at load.
pub const ENV: &str = "RESONODE_LOG";
/// The prefix shared by resonode's targets, which a bare level sets.
pub const OURS: &str = "resonode";
/// Resonode's level without a bare level, and after an invalid `RESONODE_LOG`.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::Warn;

/// Parses `spec` into `(target, level)` directives, resonode's own first.
///
/// # Errors
/// A message naming the first part that is neither a level nor
/// `target=level` (at most 40 characters of it).
pub fn parse(spec: &str) -> Result<Vec<(String, LevelFilter)>, String> {
    let level = |s: &str| {
        LevelFilter::from_str(s.trim()).map_err(|_| {
            format!(
                "`{}` is not a level (off, error, warn, info, debug, trace)",
                shorten(s.trim())
            )
        })
    };
    let mut ours = DEFAULT_LEVEL;
    let mut named = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            None => ours = level(part)?,
            Some((target, l)) => {
                let target = target.trim();
                let valid = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'));
                if !valid {
                    return Err(format!(
                        "`{}` is not a target such as resonode::device",
                        shorten(target)
                    ));
                }
                named.push((target.to_string(), level(l)?));
            }
        }
    }
    let mut directives = vec![(OURS.to_string(), ours)];
    directives.extend(named);
    Ok(directives)
}

/// The filter `spec` describes (see [`parse`]); `""` is [`DEFAULT_LEVEL`]
/// for resonode and nothing else.
///
/// # Errors
/// As [`parse`].
pub fn build(spec: &str) -> Result<Filter, String> {
    let mut builder = env_filter::Builder::new();
    for (target, level) in parse(spec)? {
        builder.filter(Some(&target), level);
    }
    Ok(builder.build())
}

/// The filter an environment value (`RESONODE_LOG`, `None` when unset) asks
/// for, and the warning to print when it is invalid: then the filter is
/// `build("")`. Never fails: a bad variable must not stop the addon loading.
pub fn from_env(value: Option<std::ffi::OsString>) -> (Filter, Option<String>) {
    let fallback = || build("").expect("the empty spec is valid");
    let Some(value) = value else {
        return (fallback(), None);
    };
    let Some(text) = value.to_str() else {
        return (
            fallback(),
            Some(format!("{ENV} is not UTF-8; using `warn`")),
        );
    };
    match build(text) {
        Ok(f) => (f, None),
        Err(why) => (
            fallback(),
            Some(format!(
                "invalid {ENV}=\"{}\": {why}; using `warn`",
                shorten(text)
            )),
        ),
    }
}

/// At most 40 characters of a hostile value, for a message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::{Level, Metadata};

    fn enabled(spec: &str, target: &str, level: Level) -> bool {
        let f = build(spec).unwrap();
        f.enabled(&Metadata::builder().target(target).level(level).build())
    }

    #[test]
    fn a_bare_level_sets_resonode_targets_only() {
        assert!(enabled("debug", "resonode::device", Level::Debug));
        assert!(!enabled("debug", "resonode::device", Level::Trace));
        assert!(enabled("TRACE", "resonode::ml", Level::Trace));
        // The PulseAudio client logs on the audio thread: off unless named.
        assert!(!enabled(
            "trace",
            "pulseaudio::client::reactor",
            Level::Error
        ));
        assert!(!enabled("trace", "symphonia_core::probe", Level::Error));
        assert!(!enabled("off", "resonode::pipeline", Level::Error));
    }

    #[test]
    fn without_a_level_resonode_logs_warnings() {
        assert!(enabled("", "resonode::device", Level::Warn));
        assert!(!enabled("", "resonode::device", Level::Info));
        assert!(enabled(
            "resonode::device=debug",
            "resonode::device",
            Level::Debug
        ));
        assert!(enabled(
            "resonode::device=debug",
            "resonode::ml",
            Level::Warn
        ));
        assert!(!enabled(
            "resonode::device=debug",
            "resonode::ml",
            Level::Info
        ));
    }

    #[test]
    fn the_longest_target_wins_over_the_bare_level() {
        let spec = "resonode::device=debug, info ,resonode::ml=off";
        assert!(enabled(spec, "resonode::device", Level::Debug));
        assert!(enabled(spec, "resonode::pipeline", Level::Info));
        assert!(!enabled(spec, "resonode::pipeline", Level::Debug));
        assert!(!enabled(spec, "resonode::ml", Level::Error));
        assert!(enabled(
            "warn,symphonia_core=debug",
            "symphonia_core::probe",
            Level::Debug
        ));
        // The max level lets `log`'s macros skip disabled records cheaply.
        assert_eq!(
            build("debug,resonode::device=trace").unwrap().filter(),
            LevelFilter::Trace
        );
        assert_eq!(build("off").unwrap().filter(), LevelFilter::Off);
    }

    #[test]
    fn invalid_specs_are_refused_naming_the_part() {
        for (spec, part) in [
            ("verbose", "`verbose` is not a level"),
            ("resonode::device=loud", "`loud` is not a level"),
            ("=debug", "`` is not a target"),
            ("a b=debug", "`a b` is not a target"),
            ("debug/regex", "`debug/regex` is not a level"),
            ("resonode=debug=x", "`debug=x` is not a level"),
            ("3", "`3` is not a level"),
        ] {
            let e = build(spec).unwrap_err();
            assert!(e.contains(part), "{spec}: {e}");
        }
        let e = build(&"x".repeat(100_000)).unwrap_err();
        assert!(e.len() < 200, "{e}");
    }

    #[test]
    fn an_invalid_environment_value_warns_and_leaves_warn() {
        let (f, w) = from_env(Some("chatty".into()));
        assert_eq!(f.filter(), LevelFilter::Warn);
        assert!(w.unwrap().contains("invalid RESONODE_LOG=\"chatty\""));
        let (f, w) = from_env(None);
        assert_eq!((f.filter(), w), (LevelFilter::Warn, None));
        let (f, w) = from_env(Some("debug".into()));
        assert_eq!((f.filter(), w), (LevelFilter::Debug, None));
    }
}
