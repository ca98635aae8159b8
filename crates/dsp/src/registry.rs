//! Builds processors from chain-string elements
//! ([`resonode_core::chain_spec::ProcessorSpec`]).
//!
//! Each kind takes positional arguments in a fixed order (see [`kinds`]) and
//! named arguments whose keys are its parameter names. Units convert as
//! follows, and are only accepted on parameters of the matching sort:
//!
//! | unit        | parameters                                              | conversion |
//! |-------------|---------------------------------------------------------|------------|
//! | `db`        | `gain.db`, `normalize.peak`, `limiter.ceiling`, `biquad.gain` | none  |
//! | `db` on the positional argument of `gain` / `normalize` | `gain.db`, `normalize.peak` | none |
//! | `hz`, `khz` | `lowpass.cutoff`, `highpass.cutoff`, `biquad.frequency` | `khz` x 1000 |
//! | `ms`, `s`   | `limiter.release`, `delay.time`                         | `s` x 1000  |
//! | `%`         | `reverb.*`, `delay.feedback`, `delay.mix`               | / 100       |
//!
//! A number without a unit is in the parameter's own unit (dB, Hz, ms, or a
//! plain factor). The positional argument of `gain` and `normalize` is a
//! linear factor when bare and dB with the `db` unit, as Web Audio's
//! `GainNode.gain`, torchfx and mlx-audio take gains: `gain(0.5)` halves the
//! amplitude, `gain(-6db)` is -6 dB; `normalize(0.95)` brings the peak to
//! 0.95, `normalize(-1db)` to -1 dBFS. `delay` sizes its line for
//! `max(2000 ms, time)`.
//!
//! Errors: structural problems (unknown kind, unknown key, a key given twice,
//! too many positional arguments, a missing required argument, a unit a
//! parameter does not take) are [`Error::InvalidChain`]; bad values (order 0,
//! a negative cutoff, NaN, an unknown biquad type, text where a number
//! belongs) are [`Error::InvalidParameter`]. Messages name the element (its
//! index in the chain and its kind) and the parameter. Cutoffs at or above
//! Nyquist are only detected by [`Chain::prepare`], when the sample rate is
//! known.
//!
//! # Kinds from other crates
//! Some processors cannot live here because this crate must stay free of
//! heavy dependencies: `enhance` (GTCRN speech enhancement) needs ONNX
//! Runtime and lives in `resonode-ml`, which depends on this crate, not the
//! other way round. Such kinds come in through an [`Extension`]: the
//! `*_with` functions ([`create_with`], [`build_chain_with`],
//! [`parse_chain_with`]) resolve their arguments exactly like the built-in
//! ones (positional order, `key=value`, units, the same error codes and
//! messages) and hand them to [`Extension::build`]. Built-in kinds win over
//! an extension kind of the same name.

use resonode_core::chain_spec::{self, Arg, ProcessorSpec, Unit, Value};
use resonode_core::{Chain, Error, Processor, Result};

use crate::biquad::{Biquad, BiquadType, DEFAULT_Q};
use crate::butterworth::{HighPass, LowPass, DEFAULT_ORDER, MAX_ORDER};
use crate::delay::{
    Delay, DEFAULT_FEEDBACK, DEFAULT_MAX_TIME_MS, DEFAULT_MIX, DEFAULT_TIME_MS, MAX_TIME_LIMIT_MS,
};
use crate::gain::Gain;
use crate::limiter::{Limiter, DEFAULT_CEILING_DB, DEFAULT_RELEASE_MS};
use crate::normalize::{Normalize, DEFAULT_PEAK_DB};
use crate::reverb::Reverb;
use crate::validate::in_range;

/// What the CLI's help shows about one processor kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// Name in chain strings, e.g. `"lowpass"`.
    pub name: &'static str,
    /// Positional arguments, in order.
    pub positional: &'static [&'static str],
    /// Every key accepted as a named argument (`key=value`).
    pub params: &'static [&'static str],
    /// One line for help output.
    pub summary: &'static str,
}

static KINDS: [KindInfo; 8] = [
    KindInfo {
        name: "gain",
        positional: &["linear"],
        params: &["linear", "db"],
        summary: "Volume change: a bare number is a linear factor (gain(0.5) halves the amplitude), dB with the unit (gain(-3db)) or db=<dB>; changes ramp over 5 ms.",
    },
    KindInfo {
        name: "highpass",
        positional: &["cutoff", "order"],
        params: &["cutoff", "order"],
        summary: "Butterworth highpass: cutoff in Hz (required), order 1-16 (default 2, 12 dB/octave).",
    },
    KindInfo {
        name: "lowpass",
        positional: &["cutoff", "order"],
        params: &["cutoff", "order"],
        summary: "Butterworth lowpass: cutoff in Hz (required), order 1-16 (default 2, 12 dB/octave).",
    },
    KindInfo {
        name: "biquad",
        positional: &["type", "frequency", "q", "gain"],
        params: &["type", "frequency", "q", "gain"],
        summary: "RBJ cookbook biquad: type lowpass|highpass|bandpass|notch|peaking|lowshelf|highshelf|allpass, frequency in Hz (required), q (default 0.7071), gain in dB for peaking/shelves (default 0).",
    },
    KindInfo {
        name: "normalize",
        positional: &["linear"],
        params: &["linear", "peak"],
        summary: "Two-pass peak normalisation: a bare number is the linear peak (normalize(0.95)), dBFS with the unit (normalize(-1db)) or peak=<dBFS> (default -1 dBFS).",
    },
    KindInfo {
        name: "limiter",
        positional: &["ceiling", "release"],
        params: &["ceiling", "release"],
        summary: "Zero-latency linked peak limiter: ceiling in dBFS (default -1), release in ms (default 50).",
    },
    KindInfo {
        name: "reverb",
        positional: &["room", "damping", "wet", "dry", "width"],
        params: &["room", "damping", "wet", "dry", "width"],
        summary: "Freeverb-style reverb, all 0-1: room 0.5, damping 0.5, wet 0.33, dry 1, width 1.",
    },
    KindInfo {
        name: "delay",
        positional: &["time", "feedback", "mix"],
        params: &["time", "feedback", "mix"],
        summary: "Feedback delay: time in ms (default 250), feedback 0-0.99 (default 0.3), mix 0-1 (default 0.5).",
    },
];

/// The test processor (see [`crate::test_panic`]); not in [`kinds`].
static TEST_PANIC: KindInfo = KindInfo {
    name: "panic",
    positional: &["armed"],
    params: &["armed"],
    summary: "Test only (RESONODE_TEST_PROCESSORS): passes audio through, panics while armed=1.",
};

/// Every processor kind the registry can build, with its arguments.
pub fn kinds() -> &'static [KindInfo] {
    &KINDS
}

/// Builds one processor from a chain element.
///
/// # Errors
/// [`Error::InvalidChain`] or [`Error::InvalidParameter`] as described in
/// the [module docs](self).
pub fn create(spec: &ProcessorSpec) -> Result<Box<dyn Processor>> {
    create_at(spec, None, &NoExtension)
}

/// [`create`] that also knows the kinds of `ext`.
///
/// # Errors
/// As [`create`], and whatever [`Extension::build`] reports.
pub fn create_with(spec: &ProcessorSpec, ext: &dyn Extension) -> Result<Box<dyn Processor>> {
    create_at(spec, None, ext)
}

/// Builds every element of a chain, in order, into an unprepared [`Chain`].
///
/// # Errors
/// The first element's error, naming its index.
pub fn build_chain(specs: &[ProcessorSpec]) -> Result<Chain> {
    build_chain_with(specs, &NoExtension)
}

/// [`build_chain`] that also knows the kinds of `ext`.
///
/// # Errors
/// The first element's error, naming its index.
pub fn build_chain_with(specs: &[ProcessorSpec], ext: &dyn Extension) -> Result<Chain> {
    let processors = specs
        .iter()
        .enumerate()
        .map(|(i, s)| create_at(s, Some(i), ext))
        .collect::<Result<Vec<_>>>()?;
    Ok(Chain::new(processors))
}

/// Parses a chain string (see [`resonode_core::chain_spec`]) and builds it,
/// e.g. `parse_chain("highpass(80) lowpass(8khz, order=4) gain(-3db)")`.
///
/// # Errors
/// Syntax errors from the parser ([`Error::InvalidChain`] with a position),
/// then those of [`build_chain`].
pub fn parse_chain(text: &str) -> Result<Chain> {
    build_chain(&chain_spec::parse(text)?)
}

/// [`parse_chain`] that also knows the kinds of `ext`, e.g.
/// `parse_chain_with("enhance() gain(3db)", &ml_kinds)`.
///
/// # Errors
/// As [`parse_chain`] and [`build_chain_with`].
pub fn parse_chain_with(text: &str, ext: &dyn Extension) -> Result<Chain> {
    build_chain_with(&chain_spec::parse(text)?, ext)
}

/// Which units a parameter takes in a chain string (see the table in the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// A plain number (order, q, linear), no unit.
    Plain,
    /// Decibels: `db` or no unit.
    Db,
    /// Hertz: `hz`, `khz` (x 1000) or no unit.
    Hz,
    /// Milliseconds: `ms`, `s` (x 1000) or no unit.
    Ms,
    /// A 0..1 factor that also accepts `%` (/ 100).
    Fraction,
    /// A word or quoted text (biquad type, a file path), no unit.
    Word,
}

fn sort_of(kind: &str, param: &str) -> Sort {
    match (kind, param) {
        (_, "db" | "peak" | "ceiling") | ("biquad", "gain") => Sort::Db,
        (_, "cutoff" | "frequency") => Sort::Hz,
        (_, "time" | "release") => Sort::Ms,
        ("reverb", _) | ("delay", "feedback" | "mix") => Sort::Fraction,
        ("biquad", "type") => Sort::Word,
        _ => Sort::Plain,
    }
}

/// Processor kinds defined outside this crate (see the
/// [module docs](self#kinds-from-other-crates)), e.g. `enhance` from
/// `resonode-ml`.
pub trait Extension {
    /// The extra kinds: names, positional order, every accepted key, help.
    fn kinds(&self) -> &[KindInfo];

    /// Which units parameter `param` of `kind` takes (default: plain
    /// numbers and words, no units).
    fn sort(&self, _kind: &str, _param: &str) -> Sort {
        Sort::Plain
    }

    /// Builds one processor of a kind listed by [`kinds`](Extension::kinds)
    /// from its resolved arguments.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad values (its `name` is the bare
    /// parameter name; the registry prefixes index and kind), or
    /// [`Error::InvalidChain`] (see [`Args::chain_err`]).
    fn build(&self, kind: &str, args: &Args<'_>) -> Result<Box<dyn Processor>>;
}

/// No extra kinds: the built-in registry alone.
struct NoExtension;

impl Extension for NoExtension {
    fn kinds(&self) -> &[KindInfo] {
        &[]
    }
    fn build(&self, kind: &str, _args: &Args<'_>) -> Result<Box<dyn Processor>> {
        Err(Error::Internal { message: format!("no extension builds `{kind}`") })
    }
}


/// Where an element sits, for error messages.
struct Site<'a> {
    kind: &'a str,
    index: Option<usize>,
}

impl Site<'_> {
    fn chain_err(&self, what: impl std::fmt::Display) -> Error {
        let reason = match self.index {
            Some(i) => format!("element {i} `{}`: {what}", self.kind),
            None => format!("`{}`: {what}", self.kind),
        };
        Error::InvalidChain { reason }
    }

    /// Renames a constructor's parameter error to `<index>.<param> (<kind>)`,
    /// the same form [`Chain::prepare`] uses.
    fn param_err(&self, e: Error) -> Error {
        match e {
            Error::InvalidParameter { name, reason } => Error::InvalidParameter {
                name: match self.index {
                    Some(i) => format!("{i}.{name} ({})", self.kind),
                    None => format!("{name} ({})", self.kind),
                },
                reason,
            },
            other => other,
        }
    }
}

/// A resolved argument value: a number in the parameter's own unit, or a word.
#[derive(Debug, Clone)]
enum Resolved {
    Number(f64),
    Word(String),
}

/// The arguments of one chain element, resolved to parameter names (keys of
/// [`KindInfo::params`]) with units converted to the parameter's own unit.
pub struct Args<'a> {
    site: Site<'a>,
    values: Vec<(&'static str, Resolved)>,
}

impl Args<'_> {
    fn get(&self, name: &str) -> Option<&Resolved> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Whether the argument was given.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A word or quoted-text parameter, or `None` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a number was given.
    pub fn word(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Resolved::Word(w)) => Ok(Some(w)),
            Some(Resolved::Number(v)) => Err(Error::param(name, format!("must be a word or quoted text, got {v}"))),
        }
    }

    /// An [`Error::InvalidChain`] naming this element (index and kind).
    pub fn chain_err(&self, what: impl std::fmt::Display) -> Error {
        self.site.chain_err(what)
    }

    /// A numeric parameter in its own unit, or `None` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a word was given.
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Resolved::Number(v)) => Ok(Some(*v)),
            Some(Resolved::Word(w)) => {
                Err(Error::param(name, format!("must be a number, got `{w}`")))
            }
        }
    }

    /// A numeric parameter, or `default` when absent.
    ///
    /// # Errors
    /// As [`number`](Args::number).
    pub fn number_or(&self, name: &str, default: f64) -> Result<f64> {
        Ok(self.number(name)?.unwrap_or(default))
    }

    /// A numeric parameter that must be given.
    ///
    /// # Errors
    /// [`Error::InvalidChain`] when absent; as [`number`](Args::number).
    pub fn required(&self, name: &str) -> Result<f64> {
        self.number(name)?.ok_or_else(|| {
            self.site
                .chain_err(format!("missing required argument `{name}`"))
        })
    }
}

fn resolve<'a>(
    spec: &'a ProcessorSpec,
    info: &KindInfo,
    index: Option<usize>,
    sort_of: &dyn Fn(&str, &str) -> Sort,
) -> Result<Args<'a>> {
    let site = Site {
        kind: &spec.kind,
        index,
    };
    let mut values: Vec<(&'static str, Resolved)> = Vec::with_capacity(spec.args.len());
    let mut next_positional = 0;
    for Arg { key, value } in &spec.args {
        let name: &'static str = match key {
            Some(k) => info
                .params
                .iter()
                .find(|p| **p == k.as_str())
                .ok_or_else(|| {
                    site.chain_err(format!(
                        "unknown parameter `{k}` (valid: {})",
                        info.params.join(", ")
                    ))
                })?,
            None => {
                let name = info.positional.get(next_positional).ok_or_else(|| {
                    site.chain_err(format!(
                        "takes at most {} positional argument{} ({}), got {}",
                        info.positional.len(),
                        if info.positional.len() == 1 { "" } else { "s" },
                        info.positional.join(", "),
                        spec.args.iter().filter(|a| a.key.is_none()).count()
                    ))
                })?;
                next_positional += 1;
                db_alias(info.name, name, value)
            }
        };
        if values.iter().any(|(n, _)| *n == name) {
            return Err(site.chain_err(format!("`{name}` is given more than once")));
        }
        let sort = sort_of(info.name, name);
        let resolved = match value {
            Value::Text(t) => Resolved::Word(t.clone()),
            Value::Number { value, unit } => {
                let v = *value;
                let converted = match (sort, unit) {
                    (_, None) => Some(v),
                    (Sort::Db, Some(Unit::Db)) => Some(v),
                    (Sort::Hz, Some(Unit::Hz)) => Some(v),
                    (Sort::Hz, Some(Unit::KHz)) => Some(v * 1000.0),
                    (Sort::Ms, Some(Unit::Ms)) => Some(v),
                    (Sort::Ms, Some(Unit::S)) => Some(v * 1000.0),
                    (Sort::Fraction, Some(Unit::Percent)) => Some(v / 100.0),
                    _ => None,
                };
                let Some(v) = converted else {
                    let takes = match sort {
                        _ if name == "linear" && matches!(info.name, "gain" | "normalize") => {
                            "takes no unit (a linear factor), or `db` as the positional argument"
                        }
                        Sort::Db => "takes dB (`db`) or no unit",
                        Sort::Hz => "takes `hz`, `khz` or no unit",
                        Sort::Ms => "takes `ms`, `s` or no unit",
                        Sort::Fraction => "takes `%` or no unit",
                        Sort::Plain | Sort::Word => "takes no unit",
                    };
                    return Err(site.chain_err(format!(
                        "`{name}` {takes}, got `{}{}`",
                        v,
                        unit.expect("a unit is present").name()
                    )));
                };
                Resolved::Number(v)
            }
        };
        values.push((name, resolved));
    }
    Ok(Args { site, values })
}

/// The positional argument of `gain` and `normalize` is a linear factor;
/// written with the `db` unit it sets the kind's dB parameter instead.
fn db_alias(kind: &str, name: &'static str, value: &Value) -> &'static str {
    match (kind, name, value) {
        ("gain", "linear", Value::Number { unit: Some(Unit::Db), .. }) => "db",
        ("normalize", "linear", Value::Number { unit: Some(Unit::Db), .. }) => "peak",
        _ => name,
    }
}

fn create_at(spec: &ProcessorSpec, index: Option<usize>, ext: &dyn Extension) -> Result<Box<dyn Processor>> {
    if let Some(info) = KINDS.iter().find(|k| k.name == spec.kind) {
        let args = resolve(spec, info, index, &sort_of)?;
        return build(info.name, &args).map_err(|e| args.site.param_err(e));
    }
    if let Some(info) = ext.kinds().iter().find(|k| k.name == spec.kind) {
        let args = resolve(spec, info, index, &|k, p| ext.sort(k, p))?;
        return ext.build(info.name, &args).map_err(|e| args.site.param_err(e));
    }
    if spec.kind == TEST_PANIC.name && crate::test_panic::enabled() {
        let args = resolve(spec, &TEST_PANIC, index, &|_, _| Sort::Plain)?;
        let armed = args.number_or("armed", 0.0)?;
        return Ok(Box::new(crate::test_panic::PanicOnDemand::new(armed >= 0.5)));
    }
    let valid: Vec<_> = KINDS.iter().chain(ext.kinds()).map(|k| k.name).collect();
    let site = Site {
        kind: &spec.kind,
        index,
    };
    Err(site.chain_err(format!("unknown processor (valid: {})", valid.join(", "))))
}

/// An order argument: a whole number in `1..=MAX_ORDER`.
fn order(args: &Args<'_>) -> Result<usize> {
    let v = in_range(
        "order",
        args.number_or("order", DEFAULT_ORDER as f64)?,
        1.0,
        MAX_ORDER as f64,
    )?;
    if v.fract() != 0.0 {
        return Err(Error::param(
            "order",
            format!("must be a whole number, got {v}"),
        ));
    }
    Ok(v as usize)
}

fn build(kind: &str, a: &Args<'_>) -> Result<Box<dyn Processor>> {
    Ok(match kind {
        "gain" => match (a.number("db")?, a.number("linear")?) {
            (Some(_), Some(_)) => {
                return Err(a.site.chain_err("give either `db` or `linear`, not both"))
            }
            (_, Some(linear)) if linear < 0.0 => {
                return Err(Error::param(
                    "linear",
                    format!("a bare gain is a linear factor >= 0, got {linear} (for dB write e.g. {linear}db)"),
                ))
            }
            (_, Some(linear)) => Box::new(Gain::from_linear(linear)?),
            (db, None) => Box::new(Gain::from_db(db.unwrap_or(0.0))?),
        },
        "lowpass" => Box::new(LowPass::new(a.required("cutoff")?, order(a)?)?),
        "highpass" => Box::new(HighPass::new(a.required("cutoff")?, order(a)?)?),
        "biquad" => {
            let t: BiquadType = match a.get("type") {
                None => return Err(a.site.chain_err("missing required argument `type`")),
                Some(Resolved::Word(w)) => w.parse()?,
                Some(Resolved::Number(v)) => {
                    return Err(Error::param(
                        "type",
                        format!("must be a filter type such as `peaking`, got {v}"),
                    ))
                }
            };
            Box::new(Biquad::new(
                t,
                a.required("frequency")?,
                a.number_or("q", DEFAULT_Q)?,
                a.number_or("gain", 0.0)?,
            )?)
        }
        "normalize" => {
            let peak_db = match (a.number("peak")?, a.number("linear")?) {
                (Some(_), Some(_)) => {
                    return Err(a.site.chain_err("give either `peak` (dBFS) or `linear`, not both"))
                }
                (_, Some(linear)) => {
                    if !(linear > 0.0 && linear <= 1.0) {
                        return Err(Error::param(
                            "linear",
                            format!("the linear peak must be in (0, 1], got {linear} (dBFS: write e.g. -1db)"),
                        ));
                    }
                    20.0 * linear.log10()
                }
                (peak, None) => peak.unwrap_or(DEFAULT_PEAK_DB),
            };
            Box::new(Normalize::new(peak_db)?)
        }
        "limiter" => Box::new(Limiter::new(
            a.number_or("ceiling", DEFAULT_CEILING_DB)?,
            a.number_or("release", DEFAULT_RELEASE_MS)?,
        )?),
        "reverb" => {
            let d = Reverb::default();
            let p = |n: &str| a.number_or(n, d.parameter(n).expect("reverb parameter"));
            Box::new(Reverb::new(
                p("room")?,
                p("damping")?,
                p("wet")?,
                p("dry")?,
                p("width")?,
            )?)
        }
        "delay" => {
            let time = a.number_or("time", DEFAULT_TIME_MS)?;
            let max = if time > DEFAULT_MAX_TIME_MS && time <= MAX_TIME_LIMIT_MS {
                time
            } else {
                DEFAULT_MAX_TIME_MS
            };
            let time = if time > DEFAULT_MAX_TIME_MS {
                in_range("time", time, 0.0, MAX_TIME_LIMIT_MS)?
            } else {
                time
            };
            Box::new(Delay::with_max_time(
                time,
                a.number_or("feedback", DEFAULT_FEEDBACK)?,
                a.number_or("mix", DEFAULT_MIX)?,
                max,
            )?)
        }
        other => unreachable!("kind `{other}` is in KINDS but not built"),
    })
}
