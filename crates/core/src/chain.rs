//! [`Chain`]: processors run one after another on the same block.

use crate::{AudioBlockMut, Error, Processor, Result, StreamSpec};

/// An ordered list of processors, addressed by index in parameter paths
/// such as `"0.cutoff"`.
#[derive(Default)]
pub struct Chain {
    processors: Vec<Box<dyn Processor>>,
    spec: Option<StreamSpec>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("kinds", &self.kinds()).field("spec", &self.spec).finish()
    }
}

/// Most channels a chain is prepared for (the decoder's limit too).
pub const MAX_CHANNELS: usize = 256;
/// Highest sample rate a chain is prepared for, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Most samples (frames x channels) in the largest block a chain is
/// prepared for: 2^26 (256 MiB of `f32`), so a hostile block size fails
/// with an error instead of an allocation that aborts the process.
pub const MAX_BLOCK_SAMPLES: usize = 1 << 26;

impl Chain {
    /// A chain of the given processors, not yet prepared.
    pub fn new(processors: Vec<Box<dyn Processor>>) -> Self {
        Chain { processors, spec: None }
    }
    /// Number of processors.
    pub fn len(&self) -> usize {
        self.processors.len()
    }
    /// Whether the chain has no processors.
    pub fn is_empty(&self) -> bool {
        self.processors.is_empty()
    }
    /// The kinds of the processors, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.processors.iter().map(|p| p.kind()).collect()
    }
    /// The spec the chain was last prepared with.
    pub fn spec(&self) -> Option<StreamSpec> {
        self.spec
    }
    /// The processors, for drivers that run only part of the chain.
    pub fn processors_mut(&mut self) -> &mut [Box<dyn Processor>] {
        &mut self.processors
    }

    /// The processors, read-only.
    pub fn processors(&self) -> &[Box<dyn Processor>] {
        &self.processors
    }

    /// The [`WorkerStats`](crate::WorkerStats) of every processor that has
    /// them, with its index (call after [`prepare`](Chain::prepare)).
    pub fn worker_stats(&self) -> Vec<(usize, std::sync::Arc<crate::WorkerStats>)> {
        self.processors.iter().enumerate().filter_map(|(i, p)| p.worker_stats().map(|s| (i, s))).collect()
    }

    /// Prepares every processor for `spec`. May allocate.
    ///
    /// # Errors
    /// The first processor's error, with its index in the parameter name.
    pub fn prepare(&mut self, spec: &StreamSpec) -> Result<()> {
        if spec.channels == 0 {
            return Err(Error::EmptyAudio { reason: "stream has 0 channels".into() });
        }
        if spec.sample_rate == 0 || spec.sample_rate > MAX_SAMPLE_RATE {
            return Err(Error::param("sampleRate", format!("{} Hz is outside [1, {MAX_SAMPLE_RATE}]", spec.sample_rate)));
        }
        if spec.channels > MAX_CHANNELS {
            return Err(Error::param("channels", format!("{} is more than {MAX_CHANNELS}", spec.channels)));
        }
        if spec.max_block_frames.saturating_mul(spec.channels) > MAX_BLOCK_SAMPLES {
            return Err(Error::param(
                "maxBlockFrames",
                format!(
                    "{} frames x {} channels is more than {MAX_BLOCK_SAMPLES} samples",
                    spec.max_block_frames, spec.channels
                ),
            ));
        }
        for (i, p) in self.processors.iter_mut().enumerate() {
            p.prepare(spec).map_err(|e| match e {
                Error::InvalidParameter { name, reason } => {
                    Error::InvalidParameter { name: format!("{i}.{name} ({})", p.kind()), reason }
                }
                other => other,
            })?;
        }
        self.spec = Some(*spec);
        Ok(())
    }

    /// Runs every processor on `block` in order.
    ///
    /// # Real-time safety
    /// Never allocates, locks or blocks.
    pub fn process(&mut self, block: &mut AudioBlockMut<'_>) {
        for p in self.processors.iter_mut() {
            p.process(block);
        }
    }

    /// Clears the signal state of every processor.
    pub fn reset(&mut self) {
        for p in self.processors.iter_mut() {
            p.reset();
        }
    }

    /// Sets `"<index>.<name>"`, e.g. `"0.cutoff"`, between blocks.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the path when the index, the name or
    /// the value is not valid.
    ///
    /// # Real-time safety
    /// Allocation-free on success; building the error allocates, so a
    /// real-time caller validates with [`Chain::resolve_parameter`] first.
    pub fn set_parameter(&mut self, path: &str, value: f64) -> Result<()> {
        let (index, name) = self.resolve_parameter(path)?;
        let p = &mut self.processors[index];
        p.set_parameter(name, value)
            .map_err(|e| e.into_error(path, value, p.parameter_names()))
    }

    /// Splits a parameter path into (processor index, parameter name) and
    /// checks that both exist. The name returned is the processor's own
    /// `'static` name, so it can travel to the audio thread without allocating.
    pub fn resolve_parameter(&self, path: &str) -> Result<(usize, &'static str)> {
        resolve_path(path, self.len(), |i| (self.processors[i].kind(), self.processors[i].parameter_names()))
    }

    /// Reads a parameter by path.
    pub fn parameter(&self, path: &str) -> Result<f64> {
        let (index, name) = self.resolve_parameter(path)?;
        self.processors[index]
            .parameter(name)
            .ok_or_else(|| Error::param(path, "not readable"))
    }

    /// Indices of processors that need an analysis pass.
    pub fn analysis_points(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.processors[i].needs_analysis()).collect()
    }
}

/// Resolves `"<index>.<name>"` against `count` processors whose kind and
/// parameter names `describe(i)` gives; the one parser of parameter paths.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the path when the syntax, the index or
/// the name is wrong.
pub fn resolve_path(
    path: &str,
    count: usize,
    describe: impl Fn(usize) -> (&'static str, &'static [&'static str]),
) -> Result<(usize, &'static str)> {
    let (index, name) = path
        .split_once('.')
        .ok_or_else(|| Error::param(path, "expected `<index>.<name>`, e.g. `0.cutoff`"))?;
    let index: usize = index.parse().map_err(|_| Error::param(path, "processor index is not a number"))?;
    if index >= count {
        return Err(Error::param(path, format!("no processor {index}; the chain has {count}")));
    }
    let (kind, names) = describe(index);
    names.iter().copied().find(|n| *n == name).map(|n| (index, n)).ok_or_else(|| {
        Error::param(path, format!("{kind} has no parameter `{name}` (valid: {})", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sample_rate: u32, channels: usize, max_block_frames: usize) -> StreamSpec {
        StreamSpec { sample_rate, channels, max_block_frames }
    }

    #[test]
    fn prepare_refuses_hostile_stream_sizes_before_any_processor_allocates() {
        let mut chain = Chain::default();
        let code = |chain: &mut Chain, s: StreamSpec| chain.prepare(&s).unwrap_err().code();
        assert_eq!(code(&mut chain, spec(0, 2, 64)), "ERR_INVALID_PARAMETER");
        assert_eq!(code(&mut chain, spec(MAX_SAMPLE_RATE + 1, 2, 64)), "ERR_INVALID_PARAMETER");
        assert_eq!(code(&mut chain, spec(48_000, 0, 64)), "ERR_EMPTY_AUDIO");
        assert_eq!(code(&mut chain, spec(48_000, MAX_CHANNELS + 1, 64)), "ERR_INVALID_PARAMETER");
        assert_eq!(code(&mut chain, spec(48_000, 2, u32::MAX as usize)), "ERR_INVALID_PARAMETER");
        assert_eq!(code(&mut chain, spec(48_000, usize::MAX, usize::MAX)), "ERR_INVALID_PARAMETER");
        assert!(chain.spec().is_none());
        chain.prepare(&spec(MAX_SAMPLE_RATE, MAX_CHANNELS, MAX_BLOCK_SAMPLES / MAX_CHANNELS)).unwrap();
        assert_eq!(chain.spec().map(|s| s.channels), Some(MAX_CHANNELS));
    }
}
