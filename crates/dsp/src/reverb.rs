//! [`Reverb`]: a Freeverb-style algorithmic reverb.
//!
//! The structure and tunings are those of Freeverb by Jezar at Dreampoint
//! (2000, released into the public domain): per channel, eight parallel comb
//! filters with a one-pole lowpass in their feedback path ("lowpass-feedback
//! combs"), summed and fed through four series Schroeder allpass filters.
//! The right channel's delay lengths are the left's plus a stereo spread of
//! 23 samples, so the two tails are decorrelated. This implementation was
//! written from that description, not from the original source.

use resonode_core::error::check_range;
use resonode_core::{AudioBlockMut, ParamError, Processor, Result, StreamSpec};

use crate::validate::in_range;

/// Comb delay lengths in samples at 44.1 kHz (left channel).
const COMB_TUNING: [usize; 8] = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617];
/// Allpass delay lengths in samples at 44.1 kHz (left channel).
const ALLPASS_TUNING: [usize; 4] = [556, 441, 341, 225];
/// Extra delay of the right channel, in samples at 44.1 kHz.
const STEREO_SPREAD: usize = 23;
/// Sample rate the tunings are given for.
const TUNING_RATE: f64 = 44_100.0;
/// Input gain into the tank (for the sum of both channels).
const FIXED_GAIN: f32 = 0.015;
/// `feedback = room * SCALE_ROOM + OFFSET_ROOM` (0.7 .. 0.98).
const SCALE_ROOM: f32 = 0.28;
const OFFSET_ROOM: f32 = 0.7;
/// `damp = damping * SCALE_DAMP`.
const SCALE_DAMP: f32 = 0.4;
/// `wet gain = wet * SCALE_WET`, so the default wet of 1/3 is unity.
const SCALE_WET: f32 = 3.0;
/// Feedback of the allpass filters.
const ALLPASS_FEEDBACK: f32 = 0.5;
/// Values below this are stored as 0 so the decaying tail never turns
/// subnormal (about -400 dBFS, inaudible).
const FLUSH_BELOW: f32 = 1e-20;

#[inline(always)]
fn flush(v: f32) -> f32 {
    if v.abs() < FLUSH_BELOW {
        0.0
    } else {
        v
    }
}

/// Scales a 44.1 kHz tuning to `fs` (at least one sample).
fn scaled(samples: usize, fs: u32) -> usize {
    ((samples as f64 * fs as f64 / TUNING_RATE).round() as usize).max(1)
}

#[derive(Debug, Clone)]
struct Comb {
    buf: Vec<f32>,
    pos: usize,
    /// State of the one-pole lowpass in the feedback path.
    store: f32,
}

impl Comb {
    fn new(len: usize) -> Self {
        Comb {
            buf: vec![0.0; len],
            pos: 0,
            store: 0.0,
        }
    }
    #[inline(always)]
    fn tick(&mut self, input: f32, p: &Coefs) -> f32 {
        let out = self.buf[self.pos];
        self.store = flush(out * p.damp2 + self.store * p.damp1);
        self.buf[self.pos] = flush(input + self.store * p.feedback);
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        out
    }
    fn clear(&mut self) {
        self.buf.fill(0.0);
        self.store = 0.0;
        self.pos = 0;
    }
}

#[derive(Debug, Clone)]
struct Allpass {
    buf: Vec<f32>,
    pos: usize,
}

impl Allpass {
    fn new(len: usize) -> Self {
        Allpass {
            buf: vec![0.0; len],
            pos: 0,
        }
    }
    #[inline(always)]
    fn tick(&mut self, input: f32) -> f32 {
        let delayed = self.buf[self.pos];
        self.buf[self.pos] = flush(input + delayed * ALLPASS_FEEDBACK);
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        delayed - input
    }
    fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// One channel's comb bank and allpass chain.
#[derive(Debug, Clone)]
struct Tank {
    combs: [Comb; 8],
    allpasses: [Allpass; 4],
}

impl Tank {
    fn new(fs: u32, spread: usize) -> Self {
        Tank {
            combs: COMB_TUNING.map(|t| Comb::new(scaled(t + spread, fs))),
            allpasses: ALLPASS_TUNING.map(|t| Allpass::new(scaled(t + spread, fs))),
        }
    }
    #[inline(always)]
    fn tick(&mut self, input: f32, p: &Coefs) -> f32 {
        let mut out = 0.0;
        for c in &mut self.combs {
            out += c.tick(input, p);
        }
        for a in &mut self.allpasses {
            out = a.tick(out);
        }
        out
    }
    fn clear(&mut self) {
        self.combs.iter_mut().for_each(Comb::clear);
        self.allpasses.iter_mut().for_each(Allpass::clear);
    }
}

/// A stereo pair of tanks, or one tank for a lone channel.
#[derive(Debug, Clone)]
struct Unit {
    left: Tank,
    right: Option<Tank>,
}

/// Derived per-sample coefficients.
#[derive(Debug, Clone, Copy, Default)]
struct Coefs {
    feedback: f32,
    damp1: f32,
    damp2: f32,
    wet1: f32,
    wet2: f32,
    dry: f32,
}

/// Freeverb-style stereo reverb (kind `"reverb"`); see the [module docs](self)
/// for the algorithm and its source.
///
/// Parameters, all in `0..=1`:
/// - `"room"` (default 0.5): comb feedback `0.7 + 0.28 * room`; larger rooms
///   ring longer.
/// - `"damping"` (0.5): high-frequency absorption, the lowpass coefficient
///   `0.4 * damping` in each comb's feedback.
/// - `"wet"` (0.33): reverb level, scaled by 3 as in Freeverb (1/3 = unity).
/// - `"dry"` (1.0): level of the unprocessed input (1 = unchanged).
/// - `"width"` (1.0): stereo width of the tail (0 = mono tail).
///
/// Delay lengths are the 44.1 kHz Freeverb tunings scaled to the stream's
/// sample rate. Channels are processed in pairs (0+1, 2+3, ...), each pair
/// with its own tanks fed by the sum of the pair; a lone channel (mono, or
/// the last of an odd count) gets one tank fed with twice the fixed input
/// gain, which is what an identical stereo pair would receive.
///
/// # Real-time safety
/// `process`, `reset` and `set_parameter` never allocate; delay lines are
/// allocated in `prepare`.
#[derive(Debug, Clone)]
pub struct Reverb {
    room: f64,
    damping: f64,
    wet: f64,
    dry: f64,
    width: f64,
    coefs: Coefs,
    units: Vec<Unit>,
}

impl Reverb {
    /// Parameter names accepted by [`Processor::set_parameter`], which is
    /// also the positional order in chain strings.
    pub const PARAMETERS: &'static [&'static str] = &["room", "damping", "wet", "dry", "width"];

    /// A reverb with the given `room`, `damping`, `wet`, `dry` and `width`
    /// (each `0..=1`; see the type docs).
    ///
    /// # Errors
    /// [`resonode_core::Error::InvalidParameter`] naming the first value
    /// outside `0..=1` or not finite.
    pub fn new(room: f64, damping: f64, wet: f64, dry: f64, width: f64) -> Result<Self> {
        let mut r = Reverb {
            room: in_range("room", room, 0.0, 1.0)?,
            damping: in_range("damping", damping, 0.0, 1.0)?,
            wet: in_range("wet", wet, 0.0, 1.0)?,
            dry: in_range("dry", dry, 0.0, 1.0)?,
            width: in_range("width", width, 0.0, 1.0)?,
            coefs: Coefs::default(),
            units: Vec::new(),
        };
        r.update();
        Ok(r)
    }

    fn update(&mut self) {
        let wet = self.wet as f32 * SCALE_WET;
        let width = self.width as f32;
        let damp = self.damping as f32 * SCALE_DAMP;
        self.coefs = Coefs {
            feedback: self.room as f32 * SCALE_ROOM + OFFSET_ROOM,
            damp1: damp,
            damp2: 1.0 - damp,
            wet1: wet * (width / 2.0 + 0.5),
            wet2: wet * ((1.0 - width) / 2.0),
            dry: self.dry as f32,
        };
    }
}

impl Default for Reverb {
    /// room 0.5, damping 0.5, wet 0.33, dry 1.0, width 1.0.
    fn default() -> Self {
        Reverb::new(0.5, 0.5, 0.33, 1.0, 1.0).expect("defaults are in range")
    }
}

impl Processor for Reverb {
    fn kind(&self) -> &'static str {
        "reverb"
    }

    /// Allocates the delay lines for the stream's sample rate and channel
    /// count (about 90 KB per channel at 48 kHz); never fails.
    fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        let fs = spec.sample_rate;
        self.units = (0..spec.channels.div_ceil(2))
            .map(|u| Unit {
                left: Tank::new(fs, 0),
                right: (2 * u + 1 < spec.channels).then(|| Tank::new(fs, STEREO_SPREAD)),
            })
            .collect();
        Ok(())
    }

    fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        let p = self.coefs;
        let channels = block.channels();
        for (u, unit) in self.units.iter_mut().enumerate() {
            let c = 2 * u;
            if c >= channels {
                break;
            }
            match &mut unit.right {
                Some(right) if c + 1 < channels => {
                    let (l, r) = block.pair_mut(c, c + 1);
                    for (xl, xr) in l.iter_mut().zip(r.iter_mut()) {
                        let input = (*xl + *xr) * FIXED_GAIN;
                        let out_l = unit.left.tick(input, &p);
                        let out_r = right.tick(input, &p);
                        *xl = out_l * p.wet1 + out_r * p.wet2 + *xl * p.dry;
                        *xr = out_r * p.wet1 + out_l * p.wet2 + *xr * p.dry;
                    }
                }
                _ => {
                    let wet = p.wet1 + p.wet2;
                    for x in block.channel_mut(c) {
                        let out = unit.left.tick(*x * (2.0 * FIXED_GAIN), &p);
                        *x = out * wet + *x * p.dry;
                    }
                }
            }
        }
    }

    fn reset(&mut self) {
        for u in &mut self.units {
            u.left.clear();
            if let Some(r) = &mut u.right {
                r.clear();
            }
        }
    }

    fn parameter_names(&self) -> &'static [&'static str] {
        Self::PARAMETERS
    }

    /// Any of the five parameters, `0..=1`; applies from the next sample
    /// without clearing the tail.
    fn set_parameter(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        let slot = match name {
            "room" => &mut self.room,
            "damping" => &mut self.damping,
            "wet" => &mut self.wet,
            "dry" => &mut self.dry,
            "width" => &mut self.width,
            _ => return Err(ParamError::Unknown),
        };
        *slot = check_range(value, 0.0, 1.0)?;
        self.update();
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<f64> {
        match name {
            "room" => Some(self.room),
            "damping" => Some(self.damping),
            "wet" => Some(self.wet),
            "dry" => Some(self.dry),
            "width" => Some(self.width),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunings_scale_with_the_sample_rate() {
        assert_eq!(scaled(1116, 44_100), 1116);
        assert_eq!(scaled(1116, 88_200), 2232);
        assert_eq!(scaled(1116 + STEREO_SPREAD, 48_000), 1240);
    }
}
