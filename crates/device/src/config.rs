//! [`StreamConfig`]: what a live stream asks of the device.

use resonode_core::{Error, Result};

/// Highest sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Largest buffer accepted, in frames.
pub const MAX_BUFFER_SIZE: u32 = 8192;
/// Smallest buffer accepted, in frames.
pub const MIN_BUFFER_SIZE: u32 = 16;
/// Most channels accepted per direction.
pub const MAX_CHANNELS: u16 = 64;

/// How much latency the app trades for safety against dropouts.
///
/// The buffer size is set explicitly by [`StreamConfig::buffer_size`]; the
/// hint decides how much the engine queues on top of it between the input
/// and output streams of a duplex engine (see [`LatencyHint::prime_buffers`]
/// and [`LatencyHint::max_backlog_buffers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyHint {
    /// Keep the duplex queue as short as possible.
    Low,
    /// The default.
    #[default]
    Balanced,
    /// Queue more for safety on a busy machine.
    High,
}

impl LatencyHint {
    /// Buffers of silence queued between input and output when a duplex
    /// stream starts (absorbs the phase between the two streams and servers
    /// that ask for up to two buffers at once, as PulseAudio does).
    pub fn prime_buffers(self) -> usize {
        match self {
            LatencyHint::Low => 1,
            LatencyHint::Balanced => 2,
            LatencyHint::High => 4,
        }
    }

    /// Buffers that may pile up between input and output before the excess
    /// is dropped (and counted as an overrun) to keep latency bounded.
    pub fn max_backlog_buffers(self) -> usize {
        match self {
            LatencyHint::Low => 3,
            LatencyHint::Balanced => 5,
            LatencyHint::High => 8,
        }
    }

    /// Parses `"low"`, `"balanced"` or `"high"`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(LatencyHint::Low),
            "balanced" => Ok(LatencyHint::Balanced),
            "high" => Ok(LatencyHint::High),
            other => Err(Error::param(
                "latency",
                format!("`{other}` is not one of low, balanced, high"),
            )),
        }
    }

    /// The name as [`parse`](LatencyHint::parse) accepts it.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyHint::Low => "low",
            LatencyHint::Balanced => "balanced",
            LatencyHint::High => "high",
        }
    }
}

/// Which way audio flows, derived from the channel counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Capture only (`channels_out == 0`).
    Input,
    /// Playback only (`channels_in == 0`).
    Output,
    /// Capture, process, play.
    Duplex,
}

impl Direction {
    /// `"input"`, `"output"` or `"duplex"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
            Direction::Duplex => "duplex",
        }
    }
}

/// What a live stream asks of the device.
///
/// The chain always runs on [`processing_channels`](StreamConfig::processing_channels)
/// channels: `channels_out`, or `channels_in` for an input-only stream. In a
/// duplex stream input channels are mapped onto them: a mono input feeds
/// every output channel, otherwise input channel `i` feeds output channel
/// `i`, output channels without an input are silent and extra input channels
/// are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Sample rate in Hz (default 48000).
    pub sample_rate: u32,
    /// Frames per callback requested from the device (default 512).
    pub buffer_size: u32,
    /// Input channels; 0 means no input (default 0).
    pub channels_in: u16,
    /// Output channels; 0 means no output (default 2).
    pub channels_out: u16,
    /// Latency/safety trade-off (default [`LatencyHint::Balanced`]).
    pub latency: LatencyHint,
    /// Input device id or name; `None` is the default input device.
    pub input_device: Option<String>,
    /// Output device id or name; `None` is the default output device.
    pub output_device: Option<String>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            sample_rate: 48_000,
            buffer_size: 512,
            channels_in: 0,
            channels_out: 2,
            latency: LatencyHint::Balanced,
            input_device: None,
            output_device: None,
        }
    }
}

impl StreamConfig {
    /// Playback only, `channels` channels, other fields default.
    pub fn output(channels: u16) -> Self {
        StreamConfig {
            channels_in: 0,
            channels_out: channels,
            ..Default::default()
        }
    }

    /// Capture only, `channels` channels, other fields default.
    pub fn input(channels: u16) -> Self {
        StreamConfig {
            channels_in: channels,
            channels_out: 0,
            ..Default::default()
        }
    }

    /// Capture and playback, other fields default.
    pub fn duplex(channels_in: u16, channels_out: u16) -> Self {
        StreamConfig {
            channels_in,
            channels_out,
            ..Default::default()
        }
    }

    /// Sets the sample rate (Hz).
    pub fn with_sample_rate(mut self, sample_rate: u32) -> Self {
        self.sample_rate = sample_rate;
        self
    }

    /// Sets the buffer size (frames).
    pub fn with_buffer_size(mut self, buffer_size: u32) -> Self {
        self.buffer_size = buffer_size;
        self
    }

    /// The direction the channel counts imply. A config with both counts 0
    /// is invalid ([`validate`](StreamConfig::validate)); it reports `Output`.
    pub fn direction(&self) -> Direction {
        match (self.channels_in, self.channels_out) {
            (0, _) => Direction::Output,
            (_, 0) => Direction::Input,
            _ => Direction::Duplex,
        }
    }

    /// Channels the chain runs on: `channels_out`, or `channels_in` for an
    /// input-only stream.
    pub fn processing_channels(&self) -> usize {
        if self.channels_out > 0 {
            self.channels_out as usize
        } else {
            self.channels_in as usize
        }
    }

    /// Duration of one buffer in milliseconds (`buffer_size / sample_rate * 1000`).
    pub fn latency_ms(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.buffer_size as f64 / self.sample_rate as f64 * 1000.0
    }

    /// Checks the combination.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field when both channel counts
    /// are 0, a count is above [`MAX_CHANNELS`], the rate is 0 or above
    /// [`MAX_SAMPLE_RATE`], the buffer is outside
    /// [`MIN_BUFFER_SIZE`]..=[`MAX_BUFFER_SIZE`], or a device name is empty.
    /// Duplex streams with different input and output channel counts are
    /// valid (see the type docs for the mapping).
    pub fn validate(&self) -> Result<()> {
        if self.channels_in == 0 && self.channels_out == 0 {
            return Err(Error::param(
                "channelsIn/channelsOut",
                "both are 0: a stream needs input channels, output channels or both",
            ));
        }
        for (name, v) in [
            ("channelsIn", self.channels_in),
            ("channelsOut", self.channels_out),
        ] {
            if v > MAX_CHANNELS {
                return Err(Error::param(
                    name,
                    format!("{v} is more than {MAX_CHANNELS} channels"),
                ));
            }
        }
        if self.sample_rate == 0 || self.sample_rate > MAX_SAMPLE_RATE {
            return Err(Error::param(
                "sampleRate",
                format!(
                    "{} Hz is outside 1..={MAX_SAMPLE_RATE} Hz",
                    self.sample_rate
                ),
            ));
        }
        if !(MIN_BUFFER_SIZE..=MAX_BUFFER_SIZE).contains(&self.buffer_size) {
            return Err(Error::param(
                "bufferSize",
                format!(
                    "{} frames is outside {MIN_BUFFER_SIZE}..={MAX_BUFFER_SIZE} frames",
                    self.buffer_size
                ),
            ));
        }
        for (name, dev) in [
            ("inputDevice", &self.input_device),
            ("outputDevice", &self.output_device),
        ] {
            if matches!(dev, Some(d) if d.trim().is_empty()) {
                return Err(Error::param(
                    name,
                    "is empty; omit it for the default device",
                ));
            }
        }
        if self.input_device.is_some() && self.channels_in == 0 {
            return Err(Error::param("inputDevice", "is set but channelsIn is 0"));
        }
        if self.output_device.is_some() && self.channels_out == 0 {
            return Err(Error::param("outputDevice", "is set but channelsOut is 0"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_stereo_output_at_48k_512() {
        let c = StreamConfig::default();
        assert_eq!(
            (c.sample_rate, c.buffer_size, c.channels_in, c.channels_out),
            (48_000, 512, 0, 2)
        );
        assert_eq!(c.direction(), Direction::Output);
        assert!((c.latency_ms() - 10.666_666).abs() < 1e-5);
        c.validate().unwrap();
    }

    #[test]
    fn direction_follows_the_channel_counts() {
        assert_eq!(StreamConfig::input(1).direction(), Direction::Input);
        assert_eq!(StreamConfig::duplex(1, 2).direction(), Direction::Duplex);
        assert_eq!(StreamConfig::input(1).processing_channels(), 1);
        assert_eq!(StreamConfig::duplex(1, 2).processing_channels(), 2);
    }

    #[test]
    fn invalid_combinations_are_invalid_parameter_errors() {
        let bad = [
            StreamConfig::duplex(0, 0),
            StreamConfig::default().with_sample_rate(0),
            StreamConfig::default().with_sample_rate(768_001),
            StreamConfig::default().with_buffer_size(0),
            StreamConfig::default().with_buffer_size(8193),
            StreamConfig {
                channels_out: 65,
                ..Default::default()
            },
            StreamConfig {
                input_device: Some("pulse".into()),
                ..StreamConfig::output(2)
            },
            StreamConfig {
                output_device: Some(" ".into()),
                ..StreamConfig::output(2)
            },
        ];
        for c in bad {
            let e = c.validate().unwrap_err();
            assert_eq!(e.code(), "ERR_INVALID_PARAMETER", "{c:?}");
        }
        // Different channel counts in a duplex stream are fine.
        StreamConfig::duplex(1, 2).validate().unwrap();
        StreamConfig::duplex(4, 2).validate().unwrap();
    }

    #[test]
    fn latency_hint_parses_its_names() {
        for h in [LatencyHint::Low, LatencyHint::Balanced, LatencyHint::High] {
            assert_eq!(LatencyHint::parse(h.as_str()).unwrap(), h);
        }
        assert_eq!(
            LatencyHint::parse("fast").unwrap_err().code(),
            "ERR_INVALID_PARAMETER"
        );
    }
}
