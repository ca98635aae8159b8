//! [`Delay`]: a feedback delay (echo).

use resonode_core::error::check_range;
use resonode_core::{AudioBlockMut, Error, ParamError, Processor, Result, StreamSpec};

use crate::validate::in_range;

/// Default longest delay a [`Delay`] can be set to, in milliseconds.
pub const DEFAULT_MAX_TIME_MS: f64 = 2000.0;
/// Upper limit for the longest delay, in milliseconds (one minute).
pub const MAX_TIME_LIMIT_MS: f64 = 60_000.0;
/// Largest delay line over all channels, in samples (1 GiB of f32): a long
/// `max_time` at a high rate with many channels is refused in `prepare`
/// instead of exhausting memory.
pub const MAX_LINE_SAMPLES: usize = 1 << 28;
/// Accepted range of `"feedback"`.
pub const FEEDBACK_RANGE: (f64, f64) = (0.0, 0.99);
/// Default delay time in milliseconds.
pub const DEFAULT_TIME_MS: f64 = 250.0;
/// Default feedback.
pub const DEFAULT_FEEDBACK: f64 = 0.3;
/// Default wet/dry mix.
pub const DEFAULT_MIX: f64 = 0.5;

/// Delayed values below this are stored as 0, so decaying echoes never turn
/// subnormal (about -400 dBFS).
const FLUSH_BELOW: f32 = 1e-20;

/// A feedback delay line per channel (kind `"delay"`).
///
/// With `d = round(time * fs / 1000)` frames and the line's output
/// `w[n] = line[n - d]`:
///
/// ```text
/// line[n] = x[n] + feedback * w[n]
/// y[n]    = (1 - mix) * x[n] + mix * w[n]
/// ```
///
/// so an impulse comes out at exactly frame `d` (scaled by `mix`), then
/// every `d` frames scaled by `feedback` more. Parameters: `"time"` (ms,
/// `0..=max_time_ms`; 0 makes the delayed path equal the input), `"feedback"`
/// ([`FEEDBACK_RANGE`]) and `"mix"` (`0..=1`). A `time` change moves the read
/// position at once (no pitch-shifting glide), which can click on loud tails.
///
/// # Real-time safety
/// `process`, `reset` and `set_parameter` never allocate; the lines are
/// allocated in `prepare`, sized for `max_time_ms`.
#[derive(Debug, Clone)]
pub struct Delay {
    time_ms: f64,
    feedback: f64,
    mix: f64,
    max_time_ms: f64,
    sample_rate: Option<u32>,
    delay_frames: usize,
    /// Planar lines, `channels * line_len` samples.
    lines: Vec<f32>,
    line_len: usize,
    /// Write position, shared by all channels.
    pos: usize,
}

impl Delay {
    /// Parameter names accepted by [`Processor::set_parameter`], which is
    /// also the positional order in chain strings.
    pub const PARAMETERS: &'static [&'static str] = &["time", "feedback", "mix"];

    /// A delay of `time_ms` with `feedback` and `mix`, able to reach
    /// [`DEFAULT_MAX_TIME_MS`].
    ///
    /// # Errors
    /// See [`Delay::with_max_time`].
    pub fn new(time_ms: f64, feedback: f64, mix: f64) -> Result<Self> {
        Self::with_max_time(time_ms, feedback, mix, DEFAULT_MAX_TIME_MS)
    }

    /// A delay whose `"time"` can later be set up to `max_time_ms`; the
    /// lines `prepare` allocates hold that much audio.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `max_time_ms` is not in
    /// `(0, MAX_TIME_LIMIT_MS]`, `time_ms` not in `0..=max_time_ms`,
    /// `feedback` outside [`FEEDBACK_RANGE`] or `mix` outside `0..=1`.
    pub fn with_max_time(time_ms: f64, feedback: f64, mix: f64, max_time_ms: f64) -> Result<Self> {
        if !(max_time_ms > 0.0 && max_time_ms <= MAX_TIME_LIMIT_MS) {
            return Err(Error::param(
                "max_time",
                format!("must be above 0 and at most {MAX_TIME_LIMIT_MS} ms, got {max_time_ms}"),
            ));
        }
        Ok(Delay {
            time_ms: in_range("time", time_ms, 0.0, max_time_ms)?,
            feedback: in_range("feedback", feedback, FEEDBACK_RANGE.0, FEEDBACK_RANGE.1)?,
            mix: in_range("mix", mix, 0.0, 1.0)?,
            max_time_ms,
            sample_rate: None,
            delay_frames: 0,
            lines: Vec::new(),
            line_len: 0,
            pos: 0,
        })
    }

    /// The longest `"time"` accepted, in milliseconds.
    pub fn max_time_ms(&self) -> f64 {
        self.max_time_ms
    }

    /// The delay in frames at the prepared sample rate (0 before `prepare`).
    pub fn delay_frames(&self) -> usize {
        self.delay_frames
    }

    fn update(&mut self) {
        if let Some(fs) = self.sample_rate {
            let d = (self.time_ms * fs as f64 / 1000.0).round() as usize;
            self.delay_frames = d.min(self.line_len.saturating_sub(1));
        }
    }
}

impl Processor for Delay {
    fn kind(&self) -> &'static str {
        "delay"
    }

    /// Allocates one line of `round(max_time * fs / 1000) + 1` frames per
    /// channel; never fails.
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        let line_len = (self.max_time_ms * spec.sample_rate as f64 / 1000.0).round() as usize + 1;
        let samples = line_len.saturating_mul(spec.channels);
        if samples > MAX_LINE_SAMPLES {
            return Err(Error::param(
                "time",
                format!(
                    "a {} ms delay line for {} channels at {} Hz needs {samples} samples; at most {MAX_LINE_SAMPLES} (1 GiB) are allowed",
                    self.max_time_ms, spec.channels, spec.sample_rate
                ),
            ));
        }
        self.sample_rate = Some(spec.sample_rate);
        self.line_len = line_len;
        self.lines = vec![0.0; samples];
        self.pos = 0;
        self.update();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        let len = self.line_len;
        if len == 0 {
            return;
        }
        let d = self.delay_frames;
        let (fb, mix) = (self.feedback as f32, self.mix as f32);
        let channels = block.channels().min(self.lines.len() / len);
        for c in 0..channels {
            let line = &mut self.lines[c * len..(c + 1) * len];
            let mut w = self.pos;
            let mut r = (w + len - d) % len;
            for x in block.channel_mut(c) {
                let input = *x;
                let delayed = if d == 0 { input } else { line[r] };
                let v = if d == 0 { input } else { input + fb * delayed };
                line[w] = if v.abs() < FLUSH_BELOW { 0.0 } else { v };
                *x = (1.0 - mix) * input + mix * delayed;
                w += 1;
                if w == len {
                    w = 0;
                }
                r += 1;
                if r == len {
                    r = 0;
                }
            }
        }
        self.pos = (self.pos + block.frames()) % len;
    }

    fn reset(&mut self) {
        self.lines.fill(0.0);
        self.pos = 0;
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    /// `"time"` (ms, `0..=max_time_ms`), `"feedback"` ([`FEEDBACK_RANGE`])
    /// or `"mix"` (`0..=1`); applies from the next frame, keeping the lines.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        match name {
            "time" => self.time_ms = check_range(value, 0.0, self.max_time_ms)?,
            "feedback" => self.feedback = check_range(value, FEEDBACK_RANGE.0, FEEDBACK_RANGE.1)?,
            "mix" => self.mix = check_range(value, 0.0, 1.0)?,
            _ => return Err(ParamError::Unknown),
        }
        self.update();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "time" => Some(self.time_ms),
            "feedback" => Some(self.feedback),
            "mix" => Some(self.mix),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_too_large_for_memory_is_refused_in_prepare() {
        let mut d = Delay::with_max_time(100.0, 0.3, 0.5, MAX_TIME_LIMIT_MS).unwrap();
        let huge = StreamSpec { sample_rate: 768_000, channels: 256, max_block_frames: 512 };
        let err = d.prepare(&huge).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_PARAMETER", "{err}");
        // The same delay fits an ordinary stream.
        d.prepare(&StreamSpec { sample_rate: 48_000, channels: 2, max_block_frames: 512 }).unwrap();
    }
}
