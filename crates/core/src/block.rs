//! Planar audio storage ([`AudioBuffer`]) and borrowed views of it
//! ([`AudioBlock`], [`AudioBlockMut`]).
//!
//! Samples of one channel are contiguous; channel `c` starts at `c * stride`
//! where `stride` is the buffer's capacity in frames. A view covers the first
//! `frames` frames of every channel.

use crate::{Error, Result};

/// Owned planar `f32` audio, shape channels x frames, with a fixed capacity
/// in frames. Allocates only in [`AudioBuffer::new`] and [`AudioBuffer::resize`].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    data: Vec<f32>,
    channels: usize,
    capacity: usize,
    frames: usize,
}

impl AudioBuffer {
    /// A zeroed buffer of `channels` x `capacity` frames, holding 0 frames.
    pub fn new(channels: usize, capacity: usize) -> Self {
        AudioBuffer { data: vec![0.0; channels * capacity], channels, capacity, frames: 0 }
    }

    /// Builds a buffer from planar channel slices, which must all have the same length.
    ///
    /// # Errors
    /// [`Error::Shape`] when the channels differ in length.
    pub fn from_planar<S: AsRef<[f32]>>(channels: &[S]) -> Result<Self> {
        let frames = channels.first().map_or(0, |c| c.as_ref().len());
        let mut buf = AudioBuffer::new(channels.len(), frames);
        for (c, ch) in channels.iter().enumerate() {
            let ch = ch.as_ref();
            if ch.len() != frames {
                return Err(Error::shape(format!(
                    "channel {c} has {} frames, channel 0 has {frames}",
                    ch.len()
                )));
            }
            buf.data[c * frames..(c + 1) * frames].copy_from_slice(ch);
        }
        buf.frames = frames;
        Ok(buf)
    }

    /// Builds a buffer from interleaved samples (`frames * channels` values).
    ///
    /// # Errors
    /// [`Error::Shape`] when the length is not a multiple of `channels`, or `channels` is 0.
    pub fn from_interleaved(samples: &[f32], channels: usize) -> Result<Self> {
        if channels == 0 || !samples.len().is_multiple_of(channels) {
            return Err(Error::shape(format!(
                "{} interleaved samples do not divide into {channels} channels",
                samples.len()
            )));
        }
        let frames = samples.len() / channels;
        let mut buf = AudioBuffer::new(channels, frames);
        buf.frames = frames;
        buf.as_block_mut().copy_from_interleaved(samples);
        Ok(buf)
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Number of valid frames.
    pub fn frames(&self) -> usize {
        self.frames
    }
    /// Capacity in frames.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Sets the number of valid frames (contents of new frames are whatever was there).
    ///
    /// # Panics
    /// If `frames > capacity`.
    pub fn set_frames(&mut self, frames: usize) {
        assert!(frames <= self.capacity, "frames {frames} > capacity {}", self.capacity);
        self.frames = frames;
    }
    /// Reallocates to a new shape, keeping nothing. Not real-time safe.
    pub fn resize(&mut self, channels: usize, capacity: usize) {
        if channels != self.channels || capacity != self.capacity {
            *self = AudioBuffer::new(channels, capacity);
        }
        self.frames = 0;
    }
    /// The valid frames of channel `c`.
    pub fn channel(&self, c: usize) -> &[f32] {
        &self.data[c * self.capacity..c * self.capacity + self.frames]
    }
    /// The valid frames of channel `c`, mutable.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        &mut self.data[c * self.capacity..c * self.capacity + self.frames]
    }
    /// The whole capacity of channel `c`, for sources that fill the buffer.
    pub fn channel_capacity_mut(&mut self, c: usize) -> &mut [f32] {
        &mut self.data[c * self.capacity..(c + 1) * self.capacity]
    }
    /// A read-only view of the valid frames.
    pub fn as_block(&self) -> AudioBlock<'_> {
        AudioBlock { data: &self.data, channels: self.channels, stride: self.capacity, frames: self.frames }
    }
    /// A mutable view of the valid frames.
    pub fn as_block_mut(&mut self) -> AudioBlockMut<'_> {
        AudioBlockMut { data: &mut self.data, channels: self.channels, stride: self.capacity, frames: self.frames }
    }
    /// Copies the valid frames out as one `Vec` per channel.
    pub fn to_planar(&self) -> Vec<Vec<f32>> {
        (0..self.channels).map(|c| self.channel(c).to_vec()).collect()
    }
}

/// A read-only planar view: `channels` x `frames`.
#[derive(Debug, Clone, Copy)]
pub struct AudioBlock<'a> {
    data: &'a [f32],
    channels: usize,
    stride: usize,
    frames: usize,
}

impl<'a> AudioBlock<'a> {
    /// A view over planar storage where channel `c` starts at `c * stride`.
    ///
    /// # Panics
    /// If `frames > stride` or `data` is shorter than `channels * stride`.
    pub fn new(data: &'a [f32], channels: usize, stride: usize, frames: usize) -> Self {
        assert!(frames <= stride && data.len() >= channels * stride);
        AudioBlock { data, channels, stride, frames }
    }
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.frames
    }
    /// Channel `c`.
    pub fn channel(&self, c: usize) -> &'a [f32] {
        &self.data[c * self.stride..c * self.stride + self.frames]
    }
    /// Iterates over the channels.
    pub fn iter(&self) -> impl Iterator<Item = &'a [f32]> + '_ {
        (0..self.channels).map(move |c| self.channel(c))
    }
    /// The sub-view of frames `start..start + len`.
    pub fn slice(&self, start: usize, len: usize) -> AudioBlock<'a> {
        assert!(start + len <= self.frames);
        AudioBlock { data: &self.data[start..], channels: self.channels, stride: self.stride, frames: len }
    }
    /// Writes the frames interleaved into `out` (`frames * channels` values).
    ///
    /// # Real-time safety
    /// Never allocates.
    pub fn copy_to_interleaved(&self, out: &mut [f32]) {
        let ch = self.channels;
        for c in 0..ch {
            for (i, &s) in self.channel(c).iter().enumerate() {
                out[i * ch + c] = s;
            }
        }
    }
    /// The first non-finite sample as `(frame, channel, value)`, if any.
    ///
    /// # Real-time safety
    /// Never allocates.
    #[allow(clippy::eq_op)] // `x - x` is the point: 0 when finite, NaN otherwise.
    pub fn find_non_finite(&self) -> Option<(usize, usize, f32)> {
        for c in 0..self.channels {
            let ch = self.channel(c);
            // `x - x` is 0 for finite x and NaN for NaN/inf; summing it in
            // independent lanes vectorizes, unlike an early-exit search,
            // which then runs only on the rare bad block.
            let mut lanes = [0.0f32; 8];
            let mut chunks = ch.chunks_exact(8);
            for chunk in &mut chunks {
                for (l, &x) in lanes.iter_mut().zip(chunk) {
                    *l += x - x;
                }
            }
            let tail: f32 = chunks.remainder().iter().map(|&x| x - x).sum();
            if lanes.iter().sum::<f32>() + tail == 0.0 {
                continue;
            }
            if let Some(i) = ch.iter().position(|s| !s.is_finite()) {
                return Some((i, c, ch[i]));
            }
        }
        None
    }
}

/// A mutable planar view: `channels` x `frames`. What processors work on.
#[derive(Debug)]
pub struct AudioBlockMut<'a> {
    data: &'a mut [f32],
    channels: usize,
    stride: usize,
    frames: usize,
}

impl<'a> AudioBlockMut<'a> {
    /// A view over planar storage where channel `c` starts at `c * stride`.
    ///
    /// # Panics
    /// If `frames > stride` or `data` is shorter than `channels * stride`.
    pub fn new(data: &'a mut [f32], channels: usize, stride: usize, frames: usize) -> Self {
        assert!(frames <= stride && data.len() >= channels * stride);
        AudioBlockMut { data, channels, stride, frames }
    }
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.frames
    }
    /// Channel `c`.
    pub fn channel(&self, c: usize) -> &[f32] {
        &self.data[c * self.stride..c * self.stride + self.frames]
    }
    /// Channel `c`, mutable.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        &mut self.data[c * self.stride..c * self.stride + self.frames]
    }
    /// Iterates over the channels mutably, in order.
    pub fn channels_mut(&mut self) -> impl Iterator<Item = &mut [f32]> + '_ {
        let frames = self.frames;
        self.data.chunks_mut(self.stride).take(self.channels).map(move |c| &mut c[..frames])
    }
    /// Two distinct channels at once (for stereo processing).
    ///
    /// # Panics
    /// If `a == b` or either is out of range.
    pub fn pair_mut(&mut self, a: usize, b: usize) -> (&mut [f32], &mut [f32]) {
        assert!(a < b && b < self.channels);
        let (lo, hi) = self.data.split_at_mut(b * self.stride);
        (&mut lo[a * self.stride..a * self.stride + self.frames], &mut hi[..self.frames])
    }
    /// A read-only view of the same frames.
    pub fn as_block(&self) -> AudioBlock<'_> {
        AudioBlock { data: self.data, channels: self.channels, stride: self.stride, frames: self.frames }
    }
    /// The sub-view of frames `start..start + len`.
    pub fn slice_mut(&mut self, start: usize, len: usize) -> AudioBlockMut<'_> {
        assert!(start + len <= self.frames);
        AudioBlockMut { data: &mut self.data[start..], channels: self.channels, stride: self.stride, frames: len }
    }
    /// Fills the block from interleaved samples (`frames * channels` values).
    ///
    /// # Real-time safety
    /// Never allocates.
    pub fn copy_from_interleaved(&mut self, samples: &[f32]) {
        let ch = self.channels;
        for c in 0..ch {
            for (i, s) in self.channel_mut(c).iter_mut().enumerate() {
                *s = samples[i * ch + c];
            }
        }
    }
    /// Sets every sample to zero.
    pub fn fill_zero(&mut self) {
        for ch in self.channels_mut() {
            ch.fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_round_trip_keeps_frame_order() {
        let inter = [1.0, -1.0, 2.0, -2.0, 3.0, -3.0];
        let buf = AudioBuffer::from_interleaved(&inter, 2).unwrap();
        assert_eq!(buf.channel(0), &[1.0, 2.0, 3.0]);
        assert_eq!(buf.channel(1), &[-1.0, -2.0, -3.0]);
        let mut out = [0.0; 6];
        buf.as_block().copy_to_interleaved(&mut out);
        assert_eq!(out, inter);
    }

    #[test]
    fn ragged_planar_input_is_a_shape_error() {
        let err = AudioBuffer::from_planar(&[vec![0.0; 3], vec![0.0; 2]]).unwrap_err();
        assert_eq!(err.code(), "ERR_SHAPE");
    }

    #[test]
    fn finds_the_first_non_finite_sample_in_any_position() {
        for (pos, bad) in [(0, f32::NAN), (7, f32::INFINITY), (8, f32::NEG_INFINITY), (36, f32::NAN)] {
            let mut ch = vec![0.25f32; 37];
            ch[pos] = bad;
            let buf = AudioBuffer::from_planar(&[vec![1.0f32; 37], ch]).unwrap();
            let (frame, channel, value) = buf.as_block().find_non_finite().unwrap();
            assert_eq!((frame, channel), (pos, 1));
            assert!(!value.is_finite());
        }
        let buf = AudioBuffer::from_planar(&[vec![f32::MAX; 37]]).unwrap();
        assert_eq!(buf.as_block().find_non_finite(), None);
    }

    #[test]
    fn views_cover_only_valid_frames() {
        let mut buf = AudioBuffer::new(2, 8);
        buf.set_frames(3);
        let mut b = buf.as_block_mut();
        let (l, r) = b.pair_mut(0, 1);
        l.fill(1.0);
        r.fill(2.0);
        assert_eq!(buf.channel(1), &[2.0; 3]);
        assert_eq!(buf.channel_capacity_mut(0)[3], 0.0);
    }
}
