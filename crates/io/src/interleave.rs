//! Planar `f32` blocks to interleaved little-endian PCM bytes, in bulk: the
//! data of WAV files ([`crate::WavSink`]) and the integer samples FLAC
//! frames are built from ([`crate::FlacSink`]).
//!
//! The conversion is [`crate::float_to_int`]'s, bit for bit, but written so
//! that the compiler vectorises it: `f32::round` is a libm call on baseline
//! x86-64 (no SSE4.1 `roundps`), one call per sample, which cost as much as
//! the rest of a WAV pass-through; here the rounding is a truncating
//! conversion plus a fix-up of the fraction, which is exact.

use resonode_core::AudioBlock;

/// `clamp(round(x * full), -full, full - 1)` with ties away from zero and
/// NaN to 0, where `full = 2^(bits-1)` for `bits` in 1..=24 (so that
/// `full - 1` and every integer up to it are exact in `f32`).
///
/// Exact: clamping before rounding gives the same value because both
/// bounds are integers and rounding is monotonic; after the clamp `|y| <
/// 2^24`, so `t = trunc(y)` is exact in `f32` and `y - t` is the exact
/// fraction, whose comparison with ±0.5 decides the rounding. NaN passes
/// the clamp unchanged and becomes 0.
///
/// # Real-time safety
/// Never allocates.
#[inline(always)]
pub(crate) fn quantize(x: f32, full: f32) -> i32 {
    let y = (x * full).clamp(-full, full - 1.0);
    // NaN passed the clamp: it converts to 0, as `as` does.
    let y = if y.is_nan() { 0.0 } else { y };
    // SAFETY: `y` is finite and within ±2^23 (the clamp, `full <= 2^23`),
    // so it fits an i32. The unchecked conversion vectorises; `as` adds a
    // saturation fix-up the compiler does not vectorise well.
    let t = unsafe { y.to_int_unchecked::<i32>() };
    let frac = y - t as f32;
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// [`quantize`] over a slice, into the front of `out` (at least as long).
#[inline(always)]
fn quantize_slice(src: &[f32], full: f32, out: &mut [i32]) {
    for (o, &x) in out.iter_mut().zip(src) {
        *o = quantize(x, full);
    }
}

/// `2^(bits-1)` as `f32`.
pub(crate) fn full_scale(bits: u32) -> f32 {
    (1i64 << (bits.clamp(1, 32) - 1)) as f32
}

/// How samples are stored: bytes per sample and the conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PcmLayout {
    /// 16-bit signed integer, 2 bytes.
    I16,
    /// 24-bit signed integer, 3 bytes.
    I24,
    /// IEEE float, 4 bytes, stored unchanged.
    F32,
}

impl PcmLayout {
    pub(crate) fn bytes(self) -> usize {
        match self {
            PcmLayout::I16 => 2,
            PcmLayout::I24 => 3,
            PcmLayout::F32 => 4,
        }
    }
}

/// Converts planar blocks to interleaved little-endian PCM, keeping its
/// buffers from call to call.
#[derive(Debug, Default)]
pub(crate) struct Interleaver {
    /// One channel's integers at a time.
    ints: Vec<i32>,
}

impl Interleaver {
    /// Replaces `out` with the block's frames, interleaved, as
    /// little-endian `layout` samples (`frames * channels * layout.bytes()`
    /// bytes).
    ///
    /// # Real-time safety
    /// Allocates only when a buffer must grow.
    pub(crate) fn encode(&mut self, block: &AudioBlock<'_>, layout: PcmLayout, out: &mut Vec<u8>) {
        let (ch, n) = (block.channels(), block.frames());
        let width = layout.bytes();
        out.clear();
        out.resize(n * ch * width, 0);
        if self.ints.len() < n {
            self.ints.resize(n, 0);
        }
        let ints = &mut self.ints[..n];
        for c in 0..ch {
            let src = block.channel(c);
            // One contiguous pass converts (it vectorises), a second one
            // spreads the samples to their place in each frame.
            match layout {
                PcmLayout::I16 => {
                    quantize_slice(src, full_scale(16), ints);
                    scatter::<2>(
                        ints.iter().map(|&v| (v as i16).to_le_bytes()),
                        &mut out[c * 2..],
                        ch,
                    );
                }
                PcmLayout::I24 => {
                    quantize_slice(src, full_scale(24), ints);
                    scatter::<3>(
                        ints.iter().map(|&v| {
                            let b = v.to_le_bytes();
                            [b[0], b[1], b[2]]
                        }),
                        &mut out[c * 3..],
                        ch,
                    );
                }
                PcmLayout::F32 => {
                    scatter::<4>(src.iter().map(|x| x.to_le_bytes()), &mut out[c * 4..], ch)
                }
            }
        }
    }

    /// Appends frames `from..from + take` of `block`, interleaved and
    /// converted to `bits`-bit integers (1..=24), to `out`.
    ///
    /// # Real-time safety
    /// Allocates only when a buffer must grow.
    pub(crate) fn extend_ints(
        &mut self,
        block: &AudioBlock<'_>,
        from: usize,
        take: usize,
        bits: u32,
        out: &mut Vec<i32>,
    ) {
        let ch = block.channels();
        let start = out.len();
        out.resize(start + take * ch, 0);
        if self.ints.len() < take {
            self.ints.resize(take, 0);
        }
        let ints = &mut self.ints[..take];
        for c in 0..ch {
            quantize_slice(&block.channel(c)[from..from + take], full_scale(bits), ints);
            for (o, &v) in out[start + c..].iter_mut().step_by(ch).zip(ints.iter()) {
                *o = v;
            }
        }
    }
}

/// Writes the `W`-byte samples of one channel at a stride of `ch` samples
/// from the start of `out`. Constant strides for mono and stereo let the
/// compiler unroll and vectorise the stores.
#[inline(always)]
fn scatter<const W: usize>(samples: impl Iterator<Item = [u8; W]>, out: &mut [u8], ch: usize) {
    match ch {
        1 => out
            .chunks_exact_mut(W)
            .zip(samples)
            .for_each(|(o, s)| o.copy_from_slice(&s)),
        2 => {
            // The last frame's slot ends W bytes before the end of `out`.
            let len = out.len();
            let (body, last) = out.split_at_mut(len - len % (2 * W));
            let mut samples = samples;
            for (o, s) in body.chunks_exact_mut(2 * W).zip(&mut samples) {
                o[..W].copy_from_slice(&s);
            }
            if let Some(s) = samples.next() {
                last[..W].copy_from_slice(&s);
            }
        }
        _ => out
            .chunks_mut(ch * W)
            .zip(samples)
            .for_each(|(o, s)| o[..W].copy_from_slice(&s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resonode_core::AudioBuffer;

    /// The definition: libm rounding, then the clamp.
    fn reference(x: f32, bits: u32) -> i32 {
        let full = full_scale(bits);
        (x * full).round().clamp(-full, full - 1.0) as i32
    }

    #[test]
    fn quantize_equals_round_then_clamp_over_a_sweep_of_all_bit_patterns() {
        // Every 127th f32 bit pattern (all exponents, both signs, NaN, inf),
        // plus every value within ±4 LSB around each 16-bit tie.
        for bits in [1, 8, 16, 20, 24] {
            let full = full_scale(bits);
            let mut p = 0u32;
            while let Some(next) = p.checked_add(127) {
                let x = f32::from_bits(p);
                assert_eq!(
                    quantize(x, full),
                    reference(x, bits),
                    "bits {bits}, x {x:e} ({p:#x})"
                );
                p = next;
            }
            for k in -70_000i32..70_000 {
                let tie = (k as f32 + 0.5) / full;
                let mut x = tie;
                for _ in 0..4 {
                    x = f32::from_bits(x.to_bits() - 1);
                }
                for _ in 0..9 {
                    assert_eq!(
                        quantize(x, full),
                        reference(x, bits),
                        "bits {bits}, x {x:e}"
                    );
                    x = f32::from_bits(x.to_bits() + 1);
                }
            }
        }
    }

    #[test]
    fn interleaved_bytes_and_ints_match_the_per_sample_conversion() {
        for channels in 1..=3 {
            let planes: Vec<Vec<f32>> = (0..channels)
                .map(|c| {
                    (0..1001)
                        .map(|i| ((i * (c + 2)) as f32 * 0.013).sin() * (1.2 - 0.3 * c as f32))
                        .collect()
                })
                .collect();
            let mut buf = AudioBuffer::from_planar(&planes).unwrap();
            buf.channel_mut(channels - 1)[7] = f32::NAN;
            let block = buf.as_block();
            let mut out = Vec::new();
            let mut il = Interleaver::default();
            for layout in [PcmLayout::I16, PcmLayout::I24, PcmLayout::F32] {
                il.encode(&block, layout, &mut out);
                let mut want = Vec::new();
                for i in 0..1001 {
                    for c in 0..channels {
                        let x = block.channel(c)[i];
                        match layout {
                            PcmLayout::I16 => {
                                want.extend_from_slice(&(reference(x, 16) as i16).to_le_bytes())
                            }
                            PcmLayout::I24 => {
                                want.extend_from_slice(&reference(x, 24).to_le_bytes()[..3])
                            }
                            PcmLayout::F32 => want.extend_from_slice(&x.to_le_bytes()),
                        }
                    }
                }
                assert_eq!(out, want, "{layout:?}, {channels} channels");
            }
            let mut ints = vec![42];
            il.extend_ints(&block, 10, 500, 24, &mut ints);
            let want: Vec<i32> = std::iter::once(42)
                .chain(
                    (10..510)
                        .flat_map(|i| (0..channels).map(move |c| (i, c)))
                        .map(|(i, c)| reference(block.channel(c)[i], 24)),
                )
                .collect();
            assert_eq!(ints, want, "{channels} channels");
        }
    }
}
