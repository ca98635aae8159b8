//! Plain conversions between JS shapes and core types.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use resonode_core::chain_spec::{Arg, ProcessorSpec, Unit, Value};
use resonode_core::{AudioBuffer, Error};

/// One argument of a processor description: named (`name`) or positional,
/// holding a number (with an optional unit) or a text value.
#[napi(object)]
#[derive(Clone)]
pub struct ArgDesc {
    /// Parameter name; absent for positional arguments.
    pub name: Option<String>,
    /// Numeric value.
    pub value: Option<f64>,
    /// Unit of `value`: `db`, `hz`, `khz`, `ms`, `s` or `%`.
    pub unit: Option<String>,
    /// Text value (e.g. a biquad type), instead of `value`.
    pub text: Option<String>,
}

/// A processor as data: its kind (`"lowpass"`) and arguments. What chain
/// strings parse into and what TS processor objects describe themselves as.
#[napi(object)]
#[derive(Clone)]
pub struct ProcessorDesc {
    pub kind: String,
    pub args: Vec<ArgDesc>,
}

fn parse_unit(s: &str) -> resonode_core::Result<Unit> {
    Unit::parse(s).ok_or_else(|| Error::InvalidChain { reason: format!("unknown unit `{s}`") })
}

impl From<&ProcessorSpec> for ProcessorDesc {
    fn from(spec: &ProcessorSpec) -> Self {
        ProcessorDesc {
            kind: spec.kind.clone(),
            args: spec
                .args
                .iter()
                .map(|a| match &a.value {
                    Value::Number { value, unit } => ArgDesc {
                        name: a.key.clone(),
                        value: Some(*value),
                        unit: unit.map(|u| u.name().to_string()),
                        text: None,
                    },
                    Value::Text(t) => ArgDesc { name: a.key.clone(), value: None, unit: None, text: Some(t.clone()) },
                })
                .collect(),
        }
    }
}

impl ProcessorDesc {
    pub fn to_spec(&self) -> resonode_core::Result<ProcessorSpec> {
        let args = self
            .args
            .iter()
            .map(|a| {
                let value = match (&a.value, &a.text) {
                    (Some(v), None) => Value::Number {
                        value: *v,
                        unit: a.unit.as_deref().map(parse_unit).transpose()?,
                    },
                    (None, Some(t)) => Value::Text(t.clone()),
                    _ => {
                        return Err(Error::InvalidChain {
                            reason: format!(
                                "{}: argument {} needs exactly one of `value` or `text`",
                                self.kind,
                                a.name.as_deref().unwrap_or("(positional)")
                            ),
                        })
                    }
                };
                Ok(Arg { key: a.name.clone(), value })
            })
            .collect::<resonode_core::Result<Vec<_>>>()?;
        Ok(ProcessorSpec { kind: self.kind.to_ascii_lowercase(), args })
    }
}

pub fn specs(descs: &[ProcessorDesc]) -> resonode_core::Result<Vec<ProcessorSpec>> {
    descs.iter().map(ProcessorDesc::to_spec).collect()
}

/// Planar JS channels (`Float32Array[]`, channels x frames) into a buffer.
pub fn planar_to_buffer(channels: &[Float32Array]) -> resonode_core::Result<AudioBuffer> {
    if channels.is_empty() {
        return Err(Error::EmptyAudio { reason: "0 channels given".into() });
    }
    let slices: Vec<&[f32]> = channels.iter().map(|c| &c[..]).collect();
    AudioBuffer::from_planar(&slices)
}

/// Planar JS channels written to `name`, checked: `what` (e.g. "the file")
/// has `expected` channels, and every sample is finite.
///
/// # Errors
/// As [`planar_to_buffer`]; [`Error::Shape`] for another channel count;
/// [`Error::NonFiniteSample`] for the first NaN or infinity.
pub fn planar_to_checked_buffer(
    channels: &[Float32Array],
    expected: usize,
    name: &str,
    what: &str,
) -> resonode_core::Result<AudioBuffer> {
    let buf = planar_to_buffer(channels)?;
    if buf.channels() != expected {
        return Err(Error::shape(format!("{name}: got {} channels, {what} has {expected}", buf.channels())));
    }
    if let Some((f, c, v)) = buf.as_block().find_non_finite() {
        return Err(Error::NonFiniteSample { frame: f as u64, channel: c, value: v });
    }
    Ok(buf)
}

/// A buffer's valid frames as planar JS channels.
pub fn buffer_to_planar(buf: &AudioBuffer) -> Vec<Float32Array> {
    (0..buf.channels()).map(|c| Float32Array::new(buf.channel(c).to_vec())).collect()
}
