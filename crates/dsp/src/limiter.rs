//! [`Limiter`]: a zero-latency, channel-linked peak limiter.

use resonode_core::error::check_range;
use resonode_core::{AudioBlockMut, ParamError, Processor, Result, StreamSpec};

use crate::validate::{db_to_linear, in_range};

/// Accepted range of `"ceiling"` in dBFS.
pub const CEILING_DB_RANGE: (f64, f64) = (-60.0, 0.0);
/// Accepted range of `"release"` in milliseconds (0 = no hold-back at all).
pub const RELEASE_MS_RANGE: (f64, f64) = (0.0, 10_000.0);
/// Default ceiling in dBFS.
pub const DEFAULT_CEILING_DB: f64 = -1.0;
/// Default release time in milliseconds.
pub const DEFAULT_RELEASE_MS: f64 = 50.0;

/// Frames processed per inner chunk when `prepare` was not told a block size.
const FALLBACK_CHUNK: usize = 256;

/// A peak limiter whose output never exceeds `"ceiling"` (kind `"limiter"`).
///
/// All channels share one gain (stereo-linked, so the image does not shift).
/// Per frame, with `peak` the largest absolute sample across channels and
/// `c` the ceiling as a linear amplitude:
///
/// ```text
/// wanted = min(1, c / peak)
/// gain   = min(wanted, 1 - (1 - gain_prev) * r)     r = exp(-1 / (release_s * fs))
/// ```
///
/// i.e. instantaneous attack (no look-ahead, zero latency) and an
/// exponential release towards unity with time constant `"release"`
/// (ms, default [`DEFAULT_RELEASE_MS`]). As the last step each sample is
/// clamped to the largest `f32` not above `c`, so `|output| <= c` holds
/// exactly even after rounding. The instant attack distorts transients a
/// little; this is the price of zero latency.
///
/// # Real-time safety
/// `process`, `reset` and `set_parameter` never allocate; the per-frame
/// gain scratch is allocated in `prepare` from `max_block_frames`.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling_db: f64,
    release_ms: f64,
    ceiling: f64,
    /// Largest f32 that is <= `ceiling`.
    ceiling_f32: f32,
    release_coef: f64,
    sample_rate: Option<u32>,
    gain: f64,
    scratch: Vec<f64>,
}

impl Limiter {
    /// Parameter names accepted by [`Processor::set_parameter`].
    pub const PARAMETERS: &'static [&'static str] = &["ceiling", "release"];

    /// A limiter at `ceiling_db` dBFS with a `release_ms` release.
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] outside
    /// [`CEILING_DB_RANGE`] or [`RELEASE_MS_RANGE`].
    pub fn new(ceiling_db: f64, release_ms: f64) -> Result<Self> {
        let mut l = Limiter {
            ceiling_db: in_range(
                "ceiling",
                ceiling_db,
                CEILING_DB_RANGE.0,
                CEILING_DB_RANGE.1,
            )?,
            release_ms: in_range(
                "release",
                release_ms,
                RELEASE_MS_RANGE.0,
                RELEASE_MS_RANGE.1,
            )?,
            ceiling: 1.0,
            ceiling_f32: 1.0,
            release_coef: 0.0,
            sample_rate: None,
            gain: 1.0,
            scratch: Vec::new(),
        };
        l.update();
        Ok(l)
    }

    /// The current gain (1 = not limiting).
    pub fn current_gain(&self) -> f64 {
        self.gain
    }

    fn update(&mut self) {
        self.ceiling = db_to_linear(self.ceiling_db);
        let mut c = self.ceiling as f32;
        if c as f64 > self.ceiling {
            c = c.next_down();
        }
        self.ceiling_f32 = c;
        let fs = self.sample_rate.unwrap_or(48_000) as f64;
        let tau_frames = self.release_ms / 1000.0 * fs;
        self.release_coef = if tau_frames > 1e-9 {
            (-1.0 / tau_frames).exp()
        } else {
            0.0
        };
    }
}

impl Default for Limiter {
    /// [`DEFAULT_CEILING_DB`] and [`DEFAULT_RELEASE_MS`].
    fn default() -> Self {
        Limiter::new(DEFAULT_CEILING_DB, DEFAULT_RELEASE_MS).expect("defaults are in range")
    }
}

impl Processor for Limiter {
    fn kind(&self) -> &'static str {
        "limiter"
    }

    /// Sizes the gain scratch and computes the release coefficient; never fails.
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        self.sample_rate = Some(spec.sample_rate);
        let n = if spec.max_block_frames == 0 {
            FALLBACK_CHUNK
        } else {
            spec.max_block_frames
        };
        self.scratch = vec![0.0; n];
        self.update();
        self.reset();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        let chunk = self.scratch.len();
        if chunk == 0 {
            // Not prepared: nothing to work with; leave the audio untouched.
            return;
        }
        let (c, c32, r) = (self.ceiling, self.ceiling_f32, self.release_coef);
        let mut start = 0;
        while start < block.frames() {
            let len = chunk.min(block.frames() - start);
            let mut sub = block.slice_mut(start, len);
            let g = &mut self.scratch[..len];
            // 1. Linked peak per frame.
            g.fill(0.0);
            for ch in sub.channels_mut() {
                for (p, &s) in g.iter_mut().zip(ch.iter()) {
                    *p = p.max(s.abs() as f64);
                }
            }
            // 2. Gain per frame: instant attack, exponential release.
            let mut gain = self.gain;
            for p in g.iter_mut() {
                let wanted = if *p > c { c / *p } else { 1.0 };
                gain = wanted.min(1.0 - (1.0 - gain) * r);
                *p = gain;
            }
            self.gain = gain;
            // 3. Apply, with a final clamp that makes the ceiling exact.
            for ch in sub.channels_mut() {
                for (s, &gf) in ch.iter_mut().zip(g.iter()) {
                    *s = ((*s as f64 * gf) as f32).clamp(-c32, c32);
                }
            }
            start += len;
        }
    }

    fn reset(&mut self) {
        self.gain = 1.0;
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    /// `"ceiling"` (dBFS, [`CEILING_DB_RANGE`]) or `"release"` (ms,
    /// [`RELEASE_MS_RANGE`]); applies from the next frame.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        match name {
            "ceiling" => {
                self.ceiling_db = check_range(value, CEILING_DB_RANGE.0, CEILING_DB_RANGE.1)?
            }
            "release" => {
                self.release_ms = check_range(value, RELEASE_MS_RANGE.0, RELEASE_MS_RANGE.1)?
            }
            _ => return Err(ParamError::Unknown),
        }
        self.update();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "ceiling" => Some(self.ceiling_db),
            "release" => Some(self.release_ms),
            _ => None,
        }
    }
}
