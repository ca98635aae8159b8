//! [`PlanarSink`]: the stream kept in memory, the counterpart of
//! [`PlanarSource`](crate::PlanarSource).

use crate::error::{Error, Result};
use crate::pipeline::Sink;
use crate::AudioBlock;

/// A [`Sink`] that keeps the whole stream in memory as planar audio
/// (channels x frames): for analysis, tests and jobs with short output.
/// Memory grows with the stream; long jobs belong in a file sink.
///
/// Not real-time safe: `write` grows vectors.
#[derive(Debug, Clone, Default)]
pub struct PlanarSink {
    data: Vec<Vec<f32>>,
    sample_rate: u32,
    finalized: bool,
}

impl PlanarSink {
    /// An empty sink; [`Sink::open`] sets its shape.
    pub fn new() -> Self {
        Self::default()
    }

    /// The audio written so far, one vector per channel.
    pub fn channels(&self) -> &[Vec<f32>] {
        &self.data
    }

    /// Channel `c` written so far.
    ///
    /// # Panics
    /// If `c` is not a channel of the opened stream.
    pub fn channel(&self, c: usize) -> &[f32] {
        &self.data[c]
    }

    /// Frames written so far.
    pub fn frames(&self) -> usize {
        self.data.first().map_or(0, Vec::len)
    }

    /// The stream's sample rate in Hz (0 before `open`).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Whether the pipeline finalized the sink (it does after errors and
    /// stops too).
    pub fn is_finalized(&self) -> bool {
        self.finalized
    }

    /// The audio, one vector per channel.
    pub fn into_channels(self) -> Vec<Vec<f32>> {
        self.data
    }
}

impl Sink for PlanarSink {
    fn open(&mut self, sample_rate: u32, channels: usize) -> Result<()> {
        self.data = vec![Vec::new(); channels];
        self.sample_rate = sample_rate;
        self.finalized = false;
        Ok(())
    }

    /// # Errors
    /// [`Error::Shape`] for a block whose channel count is not the opened
    /// stream's.
    fn write(&mut self, block: &AudioBlock<'_>) -> Result<()> {
        if block.channels() != self.data.len() {
            return Err(Error::shape(format!(
                "a block of {} channels for a sink opened with {}",
                block.channels(),
                self.data.len()
            )));
        }
        for (ch, samples) in self.data.iter_mut().zip(block.iter()) {
            ch.extend_from_slice(samples);
        }
        Ok(())
    }

    fn finalize(&mut self) -> Result<()> {
        self.finalized = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AudioBuffer;

    #[test]
    fn keeps_blocks_in_order_and_refuses_other_shapes() {
        let mut sink = PlanarSink::new();
        sink.open(8000, 2).unwrap();
        let a = AudioBuffer::from_planar(&[[1.0, 2.0], [3.0, 4.0]]).unwrap();
        let b = AudioBuffer::from_planar(&[[5.0], [6.0]]).unwrap();
        sink.write(&a.as_block()).unwrap();
        sink.write(&b.as_block()).unwrap();
        assert_eq!(sink.channels(), [vec![1.0, 2.0, 5.0], vec![3.0, 4.0, 6.0]]);
        assert_eq!((sink.frames(), sink.sample_rate()), (3, 8000));
        let mono = AudioBuffer::from_planar(&[[7.0]]).unwrap();
        assert!(matches!(sink.write(&mono.as_block()), Err(Error::Shape { .. })));
        assert!(!sink.is_finalized());
        sink.finalize().unwrap();
        assert!(sink.is_finalized());
    }
}
