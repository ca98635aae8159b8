//! Cascades of second-order sections (SOS, "biquads") and the kernel that
//! runs them: the shared engine behind [`Biquad`](crate::Biquad),
//! [`LowPass`](crate::LowPass) and [`HighPass`](crate::HighPass).
//!
//! A section is stored normalised as `[b0, b1, b2, a1, a2]` (`a0 == 1`), i.e.
//!
//! ```text
//!         b0 + b1 z^-1 + b2 z^-2
//! H(z) = ------------------------
//!          1 + a1 z^-1 + a2 z^-2
//! ```
//!
//! which is scipy's `sos` row `[b0, b1, b2, 1, a1, a2]` without the `a0`.
//! Sections run in transposed direct form II with `f64` coefficients and
//! `f64` state (the same recurrence as `scipy.signal.sosfilt`), while samples
//! stay `f32` in and out.

/// One normalised second-order section: `[b0, b1, b2, a1, a2]` with `a0 == 1`.
pub type Section = [f64; 5];

/// The most sections a [`SosCascade`] holds: 8, enough for a 16th-order filter.
pub const MAX_SECTIONS: usize = 8;

/// The pass-through section (`H(z) = 1`).
pub const IDENTITY: Section = [1.0, 0.0, 0.0, 0.0, 0.0];

/// State magnitudes below this are flushed to zero after every block so that
/// decaying filters never run on subnormal numbers (which are ~100x slower
/// on x86). -600 dBFS is far below anything audible or representable in the
/// `f32` output.
const FLUSH_BELOW: f64 = 1e-30;

/// Complex frequency response `H(e^{jw})` of a cascade at `f` Hz for sample
/// rate `fs` Hz, as `(re, im)`.
///
/// Pure and allocation-free.
pub fn response(sos: &[Section], f: f64, fs: f64) -> (f64, f64) {
    let w = 2.0 * std::f64::consts::PI * f / fs;
    // z^-1 and z^-2 on the unit circle.
    let (z1r, z1i) = (w.cos(), -w.sin());
    let (z2r, z2i) = ((2.0 * w).cos(), -(2.0 * w).sin());
    let (mut hr, mut hi) = (1.0, 0.0);
    for &[b0, b1, b2, a1, a2] in sos {
        let (nr, ni) = (b0 + b1 * z1r + b2 * z2r, b1 * z1i + b2 * z2i);
        let (dr, di) = (1.0 + a1 * z1r + a2 * z2r, a1 * z1i + a2 * z2i);
        let den = dr * dr + di * di;
        // (n / d) = n * conj(d) / |d|^2
        let (qr, qi) = ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den);
        let (r, i) = (hr * qr - hi * qi, hr * qi + hi * qr);
        hr = r;
        hi = i;
    }
    (hr, hi)
}

/// Magnitude response of a cascade in dB at `f` Hz for sample rate `fs` Hz:
/// `20 log10 |H(e^{j 2 pi f / fs})|`. Returns `-inf` at an exact zero.
///
/// Pure and allocation-free; used by tests to compare designs with theory.
pub fn magnitude_db(sos: &[Section], f: f64, fs: f64) -> f64 {
    let (re, im) = response(sos, f, fs);
    10.0 * (re * re + im * im).log10()
}

/// Per-channel state of one section cascade: `[s1, s2]` per section.
type ChannelState = [[f64; 2]; MAX_SECTIONS];

/// A cascade of up to [`MAX_SECTIONS`] sections with independent state per
/// channel.
///
/// Coefficients live in a fixed array, so changing them never allocates;
/// only [`SosCascade::set_channels`] allocates (the per-channel state).
///
/// # Real-time safety
/// [`process_channel`](SosCascade::process_channel),
/// [`set_sections`](SosCascade::set_sections) and
/// [`reset`](SosCascade::reset) never allocate, lock or block.
#[derive(Debug, Clone)]
pub struct SosCascade {
    sections: [Section; MAX_SECTIONS],
    len: usize,
    state: Vec<ChannelState>,
}

impl Default for SosCascade {
    fn default() -> Self {
        Self::new()
    }
}

impl SosCascade {
    /// An empty cascade (passes audio through unchanged) with no channels.
    pub fn new() -> Self {
        SosCascade {
            sections: [IDENTITY; MAX_SECTIONS],
            len: 0,
            state: Vec::new(),
        }
    }

    /// The active sections.
    pub fn sections(&self) -> &[Section] {
        &self.sections[..self.len]
    }

    /// Number of channels state is kept for.
    pub fn channels(&self) -> usize {
        self.state.len()
    }

    /// Allocates zeroed state for `channels` channels. Not real-time safe.
    pub fn set_channels(&mut self, channels: usize) {
        self.state.clear();
        self.state.resize(channels, [[0.0; 2]; MAX_SECTIONS]);
    }

    /// Replaces the coefficients, keeping the state of sections that existed
    /// before (so a cutoff change does not click). Sections beyond the
    /// previous count start from zero state.
    ///
    /// # Panics
    /// If `sections.len() > MAX_SECTIONS`.
    ///
    /// # Real-time safety
    /// Never allocates.
    pub fn set_sections(&mut self, sections: &[Section]) {
        assert!(
            sections.len() <= MAX_SECTIONS,
            "at most {MAX_SECTIONS} sections"
        );
        let old = self.len;
        self.sections[..sections.len()].copy_from_slice(sections);
        self.len = sections.len();
        if self.len > old {
            for st in &mut self.state {
                for s in &mut st[old..self.len] {
                    *s = [0.0; 2];
                }
            }
        }
    }

    /// Zeroes the state of every channel; coefficients are kept.
    pub fn reset(&mut self) {
        for st in &mut self.state {
            *st = [[0.0; 2]; MAX_SECTIONS];
        }
    }

    /// Filters `data` (one channel's samples) in place with the state of
    /// channel `channel`. Does nothing for a channel without state.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub fn process_channel(&mut self, channel: usize, data: &mut [f32]) {
        let Some(st) = self.state.get_mut(channel) else {
            return;
        };
        let c = &self.sections;
        // Monomorphised per section count so that coefficients and state sit
        // in registers and the per-sample loop over sections is unrolled; the
        // CPU then overlaps section k of sample n with section k-1 of
        // sample n+1.
        match self.len {
            0 => {}
            1 => run::<1>(c, st, data),
            2 => run::<2>(c, st, data),
            3 => run::<3>(c, st, data),
            4 => run::<4>(c, st, data),
            5 => run::<5>(c, st, data),
            6 => run::<6>(c, st, data),
            7 => run::<7>(c, st, data),
            _ => run::<8>(c, st, data),
        }
    }

    /// Filters two channels at once (`a` with state `ca`, `b` with state
    /// `cb`, `ca != cb`); the interleaved recurrences give the CPU twice the
    /// independent work per sample. Equivalent to two
    /// [`process_channel`](SosCascade::process_channel) calls.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub fn process_pair(&mut self, ca: usize, a: &mut [f32], cb: usize, b: &mut [f32]) {
        if ca == cb || ca.max(cb) >= self.state.len() || a.len() != b.len() {
            self.process_channel(ca, a);
            self.process_channel(cb, b);
            return;
        }
        let (sa, sb) = if ca < cb {
            let (lo, hi) = self.state.split_at_mut(cb);
            (&mut lo[ca], &mut hi[0])
        } else {
            let (lo, hi) = self.state.split_at_mut(ca);
            (&mut hi[0], &mut lo[cb])
        };
        let c = &self.sections;
        match self.len {
            0 => {}
            1 => run2::<1>(c, sa, sb, a, b),
            2 => run2::<2>(c, sa, sb, a, b),
            3 => run2::<3>(c, sa, sb, a, b),
            4 => run2::<4>(c, sa, sb, a, b),
            5 => run2::<5>(c, sa, sb, a, b),
            6 => run2::<6>(c, sa, sb, a, b),
            7 => run2::<7>(c, sa, sb, a, b),
            _ => run2::<8>(c, sa, sb, a, b),
        }
    }

    /// Filters every channel of `block` (channels beyond the prepared count
    /// are left unchanged).
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub fn process_block(&mut self, block: &mut resonode_core::AudioBlockMut<'_>) {
        let n = block.channels().min(self.state.len());
        let mut c = 0;
        while c + 1 < n {
            let (a, b) = block.pair_mut(c, c + 1);
            self.process_pair(c, a, c + 1, b);
            c += 2;
        }
        if c < n {
            self.process_channel(c, block.channel_mut(c));
        }
    }
}

#[inline(always)]
fn load<const N: usize>(st: &ChannelState) -> [[f64; 2]; N] {
    std::array::from_fn(|k| st[k])
}

#[inline(always)]
fn store<const N: usize>(st: &mut ChannelState, s: &[[f64; 2]; N]) {
    for (dst, src) in st.iter_mut().zip(s) {
        *dst = src.map(|v| if v.abs() < FLUSH_BELOW { 0.0 } else { v });
    }
}

/// A section rewritten for speed: `[b0, b1 - a1 b0, b2 - a2 b0, a1, a2]`.
///
/// Substituting `y = b0 x + s1` into the transposed direct form II updates
/// gives the same states with `y` off the loop-carried path:
///
/// ```text
/// y   = b0 x + s1
/// s1' = (b1 - a1 b0) x + s2 - a1 s1
/// s2' = (b2 - a2 b0) x      - a2 s1
/// ```
///
/// Each state now depends on the previous states through one multiply and
/// one add (the textbook order chains an add, a multiply and two adds), while
/// the states themselves, and so coefficient changes mid-stream, mean
/// exactly what they mean in the textbook form. Results differ from the
/// textbook evaluation order only by rounding (~1e-16 relative).
type Fast = [f64; 5];

#[inline(always)]
fn fast(c: &Section) -> Fast {
    let [b0, b1, b2, a1, a2] = *c;
    [b0, b1 - a1 * b0, b2 - a2 * b0, a1, a2]
}

/// One sample through section `c` with state `s` (transposed direct form
/// II, in the [`Fast`] arrangement).
#[inline(always)]
fn tick(c: &Fast, s: &mut [f64; 2], x: f64) -> f64 {
    let [b0, c1, c2, a1, a2] = *c;
    let y = b0 * x + s[0];
    let s1 = (c1 * x + s[1]) - a1 * s[0];
    s[1] = c2 * x - a2 * s[0];
    s[0] = s1;
    y
}

/// One channel through `N` sections.
fn run<const N: usize>(c: &[Section; MAX_SECTIONS], st: &mut ChannelState, data: &mut [f32]) {
    let c: [Fast; N] = std::array::from_fn(|k| fast(&c[k]));
    let mut s = load::<N>(st);
    for x in data.iter_mut() {
        let mut v = *x as f64;
        for k in 0..N {
            v = tick(&c[k], &mut s[k], v);
        }
        *x = v as f32;
    }
    store(st, &s);
}

/// Two `f64` lanes (one per channel) with element-wise arithmetic.
///
/// With SSE2 (always part of x86_64) this is one `__m128d` register, so the
/// two channels of [`run2`] cost one instruction per operation; that is
/// what makes the cascade ~2x faster than scalar code (LLVM does not
/// vectorise the scalar form well). Elsewhere it is a plain pair.
///
/// This module holds the only `unsafe` in the crate. Every block calls an
/// SSE2 intrinsic that takes no pointers and is unsafe only because it
/// requires the `sse2` target feature, which the `cfg` on this module
/// guarantees is enabled for the whole build.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::{
        __m128d, _mm_add_pd, _mm_cvtsd_f64, _mm_mul_pd, _mm_set1_pd, _mm_set_pd, _mm_sub_pd,
        _mm_unpackhi_pd,
    };

    #[derive(Debug, Clone, Copy)]
    pub(super) struct X2(__m128d);

    impl X2 {
        #[inline(always)]
        pub(super) fn splat(v: f64) -> Self {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            X2(unsafe { _mm_set1_pd(v) })
        }
        #[inline(always)]
        pub(super) fn new(a: f64, b: f64) -> Self {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            X2(unsafe { _mm_set_pd(b, a) })
        }
        #[inline(always)]
        pub(super) fn lanes(self) -> (f64, f64) {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            unsafe {
                (
                    _mm_cvtsd_f64(self.0),
                    _mm_cvtsd_f64(_mm_unpackhi_pd(self.0, self.0)),
                )
            }
        }
    }
    impl std::ops::Add for X2 {
        type Output = X2;
        #[inline(always)]
        fn add(self, o: X2) -> X2 {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            X2(unsafe { _mm_add_pd(self.0, o.0) })
        }
    }
    impl std::ops::Sub for X2 {
        type Output = X2;
        #[inline(always)]
        fn sub(self, o: X2) -> X2 {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            X2(unsafe { _mm_sub_pd(self.0, o.0) })
        }
    }
    impl std::ops::Mul for X2 {
        type Output = X2;
        #[inline(always)]
        fn mul(self, o: X2) -> X2 {
            // SAFETY: sse2 is enabled (module cfg); no pointers involved.
            X2(unsafe { _mm_mul_pd(self.0, o.0) })
        }
    }
}

/// The portable pair, used where SSE2 is not available (and by the tests to
/// check the SSE2 version against it).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod portable {
    #[derive(Debug, Clone, Copy)]
    pub(super) struct X2([f64; 2]);

    impl X2 {
        #[inline(always)]
        pub(super) fn splat(v: f64) -> Self {
            X2([v, v])
        }
        #[inline(always)]
        pub(super) fn new(a: f64, b: f64) -> Self {
            X2([a, b])
        }
        #[inline(always)]
        pub(super) fn lanes(self) -> (f64, f64) {
            (self.0[0], self.0[1])
        }
    }
    impl std::ops::Add for X2 {
        type Output = X2;
        #[inline(always)]
        fn add(self, o: X2) -> X2 {
            X2([self.0[0] + o.0[0], self.0[1] + o.0[1]])
        }
    }
    impl std::ops::Sub for X2 {
        type Output = X2;
        #[inline(always)]
        fn sub(self, o: X2) -> X2 {
            X2([self.0[0] - o.0[0], self.0[1] - o.0[1]])
        }
    }
    impl std::ops::Mul for X2 {
        type Output = X2;
        #[inline(always)]
        fn mul(self, o: X2) -> X2 {
            X2([self.0[0] * o.0[0], self.0[1] * o.0[1]])
        }
    }
}

/// What [`run2`] needs from a two-lane vector.
trait Lanes:
    Copy + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self>
{
    fn splat(v: f64) -> Self;
    fn new(a: f64, b: f64) -> Self;
    fn lanes(self) -> (f64, f64);
}

macro_rules! impl_lanes {
    ($t:ty) => {
        impl Lanes for $t {
            #[inline(always)]
            fn splat(v: f64) -> Self {
                <$t>::splat(v)
            }
            #[inline(always)]
            fn new(a: f64, b: f64) -> Self {
                <$t>::new(a, b)
            }
            #[inline(always)]
            fn lanes(self) -> (f64, f64) {
                <$t>::lanes(self)
            }
        }
    };
}
impl_lanes!(portable::X2);
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
impl_lanes!(sse2::X2);

/// The fastest lane type for this target.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
type X2 = sse2::X2;
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
type X2 = portable::X2;

/// Two channels through `N` sections, the channels as the lanes of [`X2`].
fn run2<const N: usize>(
    c: &[Section; MAX_SECTIONS],
    sta: &mut ChannelState,
    stb: &mut ChannelState,
    a: &mut [f32],
    b: &mut [f32],
) {
    run2_with::<X2, N>(c, sta, stb, a, b)
}

fn run2_with<L: Lanes, const N: usize>(
    c: &[Section; MAX_SECTIONS],
    sta: &mut ChannelState,
    stb: &mut ChannelState,
    a: &mut [f32],
    b: &mut [f32],
) {
    let c: [[L; 5]; N] = std::array::from_fn(|k| fast(&c[k]).map(L::splat));
    // The two channels are the lanes of each state vector.
    let mut s1: [L; N] = std::array::from_fn(|k| L::new(sta[k][0], stb[k][0]));
    let mut s2: [L; N] = std::array::from_fn(|k| L::new(sta[k][1], stb[k][1]));
    for (xa, xb) in a.iter_mut().zip(b.iter_mut()) {
        let mut v = L::new(*xa as f64, *xb as f64);
        for k in 0..N {
            let [b0, c1, c2, a1, a2] = c[k];
            let y = b0 * v + s1[k];
            let n1 = (c1 * v + s2[k]) - a1 * s1[k];
            s2[k] = c2 * v - a2 * s1[k];
            s1[k] = n1;
            v = y;
        }
        let (ya, yb) = v.lanes();
        *xa = ya as f32;
        *xb = yb as f32;
    }
    let sa: [[f64; 2]; N] = std::array::from_fn(|k| [s1[k].lanes().0, s2[k].lanes().0]);
    let sb: [[f64; 2]; N] = std::array::from_fn(|k| [s1[k].lanes().1, s2[k].lanes().1]);
    store(sta, &sa);
    store(stb, &sb);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_processing_equals_single_channel_processing() {
        let sos = [[0.2, 0.4, 0.2, -0.5, 0.3], [1.0, -1.9, 1.0, -1.8, 0.9]];
        let x: Vec<f32> = (0..300)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let y: Vec<f32> = x.iter().map(|v| -v * 0.5).collect();
        let mut single = SosCascade::new();
        single.set_channels(2);
        single.set_sections(&sos);
        let (mut x1, mut y1) = (x.clone(), y.clone());
        single.process_channel(0, &mut x1);
        single.process_channel(1, &mut y1);
        let mut pair = SosCascade::new();
        pair.set_channels(2);
        pair.set_sections(&sos);
        let (mut x2, mut y2) = (x.clone(), y.clone());
        // Reversed channel order exercises the other split branch.
        pair.process_pair(1, &mut y2, 0, &mut x2);
        assert_eq!(x1, x2);
        assert_eq!(y1, y2);
        assert_ne!(x1, x);
    }

    #[test]
    fn vector_lanes_equal_the_portable_pair() {
        let mut c = [IDENTITY; MAX_SECTIONS];
        c[0] = [0.2, 0.4, 0.2, -0.5, 0.3];
        c[1] = [1.0, -1.9, 1.0, -1.8, 0.9];
        let x: Vec<f32> = (0..500)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let y: Vec<f32> = x.iter().rev().copied().collect();
        let run = |vector: bool| {
            let (mut sa, mut sb) = ([[0.0; 2]; MAX_SECTIONS], [[0.1; 2]; MAX_SECTIONS]);
            let (mut a, mut b) = (x.clone(), y.clone());
            if vector {
                run2::<2>(&c, &mut sa, &mut sb, &mut a, &mut b);
            } else {
                run2_with::<portable::X2, 2>(&c, &mut sa, &mut sb, &mut a, &mut b);
            }
            (a, b, sa, sb)
        };
        assert_eq!(run(true), run(false));
        // And the pair kernel equals the scalar kernel, channel by channel.
        let (a, _, sa, _) = run(true);
        let mut st = [[0.0; 2]; MAX_SECTIONS];
        let mut x1 = x.clone();
        super::run::<2>(&c, &mut st, &mut x1);
        assert_eq!((a, sa), (x1, st));
    }

    #[test]
    fn identity_response_is_flat() {
        assert!(magnitude_db(&[IDENTITY], 1234.0, 48000.0).abs() < 1e-12);
        // A pure delay z^-1: magnitude 1, phase -w.
        let (re, im) = response(&[[0.0, 1.0, 0.0, 0.0, 0.0]], 12000.0, 48000.0);
        assert!((re - 0.0).abs() < 1e-12 && (im + 1.0).abs() < 1e-12);
    }

    #[test]
    fn tiny_state_is_flushed_to_zero() {
        let mut c = SosCascade::new();
        c.set_channels(1);
        c.set_sections(&[[1.0, 0.0, 0.0, -0.9, 0.0]]);
        let mut impulse = vec![0.0f32; 4096];
        impulse[0] = 1.0;
        c.process_channel(0, &mut impulse);
        assert_eq!(c.state[0][0], [0.0, 0.0]);
    }
}
