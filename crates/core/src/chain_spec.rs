//! The chain-string grammar used by the CLI and `--chain` options, e.g.
//! `highpass(80) lowpass(8000, order=4) gain(-3db) reverb(room=0.3)`.
//!
//! ```text
//! chain   := element ( ('|' | ws) element )*
//! element := name [ '(' [ arg (',' arg)* ] ')' ]
//! arg     := [ name '=' ] value
//! value   := number [unit] | name | '"' text '"'
//! unit    := db | hz | khz | ms | s | %      (case-insensitive)
//! ```
//! This module only parses; which names and parameters exist is decided by
//! the processor registry in `resonode-dsp`.

use crate::{Error, Result};

/// A unit written after a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Decibels (`db`).
    Db,
    /// Hertz (`hz`).
    Hz,
    /// Kilohertz (`khz`), converted by the consumer.
    KHz,
    /// Milliseconds (`ms`).
    Ms,
    /// Seconds (`s`).
    S,
    /// Percent (`%`).
    Percent,
}

impl Unit {
    /// The unit as written in chain strings (`"db"`, `"khz"`, `"%"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Db => "db",
            Unit::Hz => "hz",
            Unit::KHz => "khz",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::Percent => "%",
        }
    }

    /// Parses a unit name, case-insensitively; `None` if unknown.
    pub fn parse(name: &str) -> Option<Unit> {
        [Unit::Db, Unit::Hz, Unit::KHz, Unit::Ms, Unit::S, Unit::Percent]
            .into_iter()
            .find(|u| u.name().eq_ignore_ascii_case(name))
    }
}

/// One argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number with its unit, if one was written.
    Number { value: f64, unit: Option<Unit> },
    /// A bare word or quoted string.
    Text(String),
}

/// One argument: positional (`key == None`) or named.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub key: Option<String>,
    pub value: Value,
}

/// One element of a chain: a processor kind with its arguments as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorSpec {
    pub kind: String,
    pub args: Vec<Arg>,
}

/// Parses a chain string.
///
/// # Errors
/// [`Error::InvalidChain`] with the character position of the problem.
pub fn parse(text: &str) -> Result<Vec<ProcessorSpec>> {
    let mut p = Parser { s: text.as_bytes(), pos: 0, text };
    let mut out = Vec::new();
    loop {
        p.skip_separators();
        if p.at_end() {
            break;
        }
        out.push(p.element()?);
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_ascii_whitespace() || c == b'|') {
            self.pos += 1;
        }
    }
    fn err(&self, what: &str) -> Error {
        Error::InvalidChain {
            reason: format!("{what} at position {} in \"{}\"", self.pos + 1, self.text),
        }
    }
    fn name(&mut self) -> Result<String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            self.pos += 1;
        }
        if start == self.pos || !self.s[start].is_ascii_alphabetic() {
            self.pos = start;
            return Err(self.err("expected a name"));
        }
        Ok(self.text[start..self.pos].to_ascii_lowercase())
    }
    fn element(&mut self) -> Result<ProcessorSpec> {
        let kind = self.name()?;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'(') {
            self.pos += 1;
            self.skip_ws();
            if self.peek() == Some(b')') {
                self.pos += 1;
            } else {
                loop {
                    args.push(self.arg()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err(&format!("expected `,` or `)` in {kind}(...)"))),
                    }
                }
            }
        }
        Ok(ProcessorSpec { kind, args })
    }
    fn arg(&mut self) -> Result<Arg> {
        self.skip_ws();
        let save = self.pos;
        if matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
            let word = self.name()?;
            self.skip_ws();
            if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_ws();
                let value = self.value()?;
                return Ok(Arg { key: Some(word), value });
            }
            self.pos = save;
        }
        Ok(Arg { key: None, value: self.value()? })
    }
    fn value(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let start = self.pos;
                while matches!(self.peek(), Some(c) if c != b'"') {
                    self.pos += 1;
                }
                if self.at_end() {
                    return Err(self.err("unterminated string"));
                }
                let t = self.text[start..self.pos].to_string();
                self.pos += 1;
                Ok(Value::Text(t))
            }
            Some(c) if c.is_ascii_alphabetic() => Ok(Value::Text(self.name()?)),
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }
    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || c == b'.') {
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'e' | b'E'))
            && matches!(self.s.get(self.pos + 1), Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            self.pos += 2;
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let value: f64 = self.text[start..self.pos].parse().map_err(|_| {
            self.err(&format!("`{}` is not a number", &self.text[start..self.pos]))
        })?;
        let ustart = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphabetic() || c == b'%') {
            self.pos += 1;
        }
        let written = &self.text[ustart..self.pos];
        let unit = match (written, Unit::parse(written)) {
            ("", _) => None,
            (_, Some(u)) => Some(u),
            (other, None) => {
                self.pos = ustart;
                return Err(self.err(&format!("unknown unit `{other}`")));
            }
        };
        Ok(Value::Number { value, unit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(value: f64, unit: Option<Unit>) -> Value {
        Value::Number { value, unit }
    }

    #[test]
    fn parses_the_documented_example() {
        let c = parse("highpass(80) lowpass(8000, order=4) gain(-3db) reverb(room=0.3) normalize(-1dB)").unwrap();
        let kinds: Vec<_> = c.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["highpass", "lowpass", "gain", "reverb", "normalize"]);
        assert_eq!(c[1].args[1], Arg { key: Some("order".into()), value: num(4.0, None) });
        assert_eq!(c[2].args[0].value, num(-3.0, Some(Unit::Db)));
        assert_eq!(c[4].args[0].value, num(-1.0, Some(Unit::Db)));
    }

    #[test]
    fn accepts_bare_names_pipes_and_text_values() {
        let c = parse(" limiter | biquad(type=peaking, 1kHz, q=2, gain=6db) ").unwrap();
        assert_eq!(c[0], ProcessorSpec { kind: "limiter".into(), args: vec![] });
        assert_eq!(c[1].args[0].value, Value::Text("peaking".into()));
        assert_eq!(c[1].args[1].value, num(1.0, Some(Unit::KHz)));
    }

    #[test]
    fn reports_the_position_of_syntax_errors() {
        for bad in ["gain(3", "gain(3 4)", "gain(3xyz)", "(3)", "gain(=3)", "gain(1e)"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_CHAIN", "{bad}");
            assert!(e.to_string().contains("position"), "{e}");
        }
    }
}
