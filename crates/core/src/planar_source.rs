//! [`PlanarSource`]: audio already in memory, read like a file.

use crate::error::{Error, Result};
use crate::pipeline::Source;
use crate::AudioBuffer;

/// Planar audio held in memory (channels x frames) as a rewindable
/// [`Source`], so code written for sources (two-pass jobs, bounded-memory
/// separation) also takes arrays.
#[derive(Debug, Clone)]
pub struct PlanarSource {
    data: Vec<Vec<f32>>,
    sample_rate: u32,
    pos: usize,
}

impl PlanarSource {
    /// Wraps `channels` (equal lengths) at `sample_rate` Hz.
    ///
    /// # Errors
    /// [`Error::EmptyAudio`] for no channels or no frames,
    /// [`Error::Shape`] for channels of different lengths,
    /// [`Error::NonFiniteSample`] for NaN or infinite samples,
    /// [`Error::InvalidParameter`] for a zero sample rate.
    pub fn new(channels: Vec<Vec<f32>>, sample_rate: u32) -> Result<Self> {
        if sample_rate == 0 {
            return Err(Error::param("sampleRate", "must be > 0 Hz"));
        }
        let frames = channels.first().map_or(0, Vec::len);
        if frames == 0 {
            return Err(Error::EmptyAudio { reason: "no channels or no frames".into() });
        }
        if let Some((c, ch)) = channels.iter().enumerate().find(|(_, ch)| ch.len() != frames) {
            return Err(Error::shape(format!("channel {c} has {} frames, channel 0 has {frames}", ch.len())));
        }
        for (c, ch) in channels.iter().enumerate() {
            if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteSample { frame: i as u64, channel: c, value: ch[i] });
            }
        }
        Ok(PlanarSource { data: channels, sample_rate, pos: 0 })
    }

    /// Frames in the source.
    pub fn frames(&self) -> usize {
        self.data[0].len()
    }
}

impl Source for PlanarSource {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> usize {
        self.data.len()
    }

    fn total_frames(&self) -> Option<u64> {
        Some(self.frames() as u64)
    }

    fn read(&mut self, buf: &mut AudioBuffer) -> Result<usize> {
        let n = buf.capacity().min(self.frames() - self.pos);
        for (c, ch) in self.data.iter().enumerate() {
            buf.channel_capacity_mut(c)[..n].copy_from_slice(&ch[self.pos..self.pos + n]);
        }
        buf.set_frames(n);
        self.pos += n;
        Ok(n)
    }

    fn can_rewind(&self) -> bool {
        true
    }

    fn rewind(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{} channels x {} frames in memory", self.data.len(), self.frames())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_blocks_and_rewinds() {
        let mut s = PlanarSource::new(vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]], 8000).unwrap();
        let mut buf = AudioBuffer::new(2, 2);
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        assert_eq!(buf.channel(1), [4.0, 5.0]);
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        assert_eq!(buf.channel(0), [3.0]);
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        s.rewind().unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 2);
    }

    #[test]
    fn bad_input_is_refused_with_codes() {
        assert_eq!(PlanarSource::new(vec![], 8000).unwrap_err().code(), "ERR_EMPTY_AUDIO");
        assert_eq!(PlanarSource::new(vec![vec![0.0; 3], vec![0.0; 2]], 8000).unwrap_err().code(), "ERR_SHAPE");
        assert_eq!(PlanarSource::new(vec![vec![0.0, f32::NAN]], 8000).unwrap_err().code(), "ERR_NON_FINITE_SAMPLE");
        assert_eq!(PlanarSource::new(vec![vec![0.0]], 0).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    }
}
