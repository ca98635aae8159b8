//! File-driven SAM-Audio jobs: [`read_mono`] for the short path and
//! [`LongFileJob`], a long separation that decodes its file progressively and
//! is stepped one piece at a time (what the Node layer runs on a worker
//! thread per call).
//!
//! Files are decoded with `resonode-io`'s [`FileSource`]: channels averaged
//! to mono first (as the reference's `load_audio`, `audio.mean(axis=-1)`),
//! then resampled to the model rate with its rubato resampler (the
//! reference uses `mlx_audio.utils.resample_audio`; at 48 kHz input both
//! are the identity).

use std::path::Path;
use std::sync::Arc;

use resonode_core::{AudioBuffer, Result, Source};
use resonode_io::{ChannelSelection, FileSource, SourceOptions};

use super::long::{LongOptions, LongSeparator, PromptChunk};
use super::SamAudio;

/// Frames per file read.
const READ_FRAMES: usize = 8192;

fn mono_options(sample_rate: u32) -> SourceOptions {
    SourceOptions {
        sample_rate: Some(sample_rate),
        channels: ChannelSelection::Mono,
    }
}

/// Decodes a whole file to mono (mean of the channels) at `sample_rate` Hz,
/// polling `cancel` before every block read
/// ([`resonode_io::read::read_to_end_with`], 65536 frames) so a stop
/// interrupts decoding.
/// Memory grows with the file: use [`LongFileJob`] for long files.
///
/// # Errors
/// The file's: [`resonode_core::Error::NotFound`], `UnsupportedFormat`,
/// `Decode`, `InvalidParameter` (rate out of range), and
/// `NonFiniteSample` from resampling; `ERR_INVALID_STATE` ("the separation
/// was stopped") when `cancel` says so.
pub fn read_mono(path: &Path, sample_rate: u32, cancel: &dyn Fn() -> bool) -> Result<Vec<f32>> {
    let mut src = FileSource::open(path, &mono_options(sample_rate))?;
    let mut out = resonode_io::read::read_to_end_with(&mut src, || super::stopped_if(cancel))?;
    Ok(if out.is_empty() {
        Vec::new()
    } else {
        out.swap_remove(0)
    })
}

enum Input {
    File {
        source: Box<FileSource>,
        buf: AudioBuffer,
    },
    Samples {
        data: Vec<f32>,
        pos: usize,
    },
}

/// A long separation of a file (or of samples in memory) with one
/// description, pulled one piece at a time; input is read only as far as
/// the next model chunk needs (plus at most one read of 8192 frames), so
/// memory is bounded by the chunk, not the file.
pub struct LongFileJob {
    sep: LongSeparator,
    input: Input,
    total: Option<u64>,
}

impl std::fmt::Debug for LongFileJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongFileJob")
            .field("sep", &self.sep)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl LongFileJob {
    /// Opens `path` (decoded progressively to mono at the model rate) for a
    /// long separation with `description`.
    ///
    /// # Errors
    /// The file's ([`FileSource::open`]: `ERR_NOT_FOUND`,
    /// `ERR_UNSUPPORTED_FORMAT`, `ERR_DECODE`) and those of
    /// [`LongSeparator::new`].
    pub fn open(
        model: &Arc<SamAudio>,
        path: &Path,
        description: &str,
        options: LongOptions,
    ) -> Result<Self> {
        let sep = LongSeparator::new(model, description, options)?;
        let source = FileSource::open(path, &mono_options(model.sample_rate()))?;
        let total = source.total_frames();
        Ok(LongFileJob {
            sep,
            input: Input::File {
                source: Box::new(source),
                buf: AudioBuffer::new(1, READ_FRAMES),
            },
            total,
        })
    }

    /// The same over mono samples at the model rate (fed to the separator
    /// as the chunks need them).
    ///
    /// # Errors
    /// Those of [`LongSeparator::new`]; [`resonode_core::Error::EmptyAudio`]
    /// for no samples.
    pub fn from_samples(
        model: &Arc<SamAudio>,
        mono: Vec<f32>,
        description: &str,
        options: LongOptions,
    ) -> Result<Self> {
        if mono.is_empty() {
            return Err(resonode_core::Error::EmptyAudio {
                reason: "no samples to separate".into(),
            });
        }
        let sep = LongSeparator::new(model, description, options)?;
        let total = Some(mono.len() as u64);
        Ok(LongFileJob {
            sep,
            input: Input::Samples { data: mono, pos: 0 },
            total,
        })
    }

    /// The separator (e.g. for [`LongSeparator::chunks_total`]).
    pub fn separator_mut(&mut self) -> &mut LongSeparator {
        &mut self.sep
    }

    /// Feeds at least `need` samples (or up to the end).
    fn feed(&mut self, need: u64, cancel: &dyn Fn() -> bool) -> Result<()> {
        let mut fed = 0u64;
        while fed < need {
            super::stopped_if(cancel)?;
            match &mut self.input {
                Input::File { source, buf } => {
                    let n = source.read(buf)?;
                    if n == 0 {
                        self.sep.finish();
                        return Ok(());
                    }
                    self.sep.push(&buf.channel(0)[..n])?;
                    fed += n as u64;
                }
                Input::Samples { data, pos } => {
                    let n = (need - fed).min((data.len() - *pos) as u64) as usize;
                    if n == 0 {
                        self.sep.finish();
                        *data = Vec::new();
                        return Ok(());
                    }
                    self.sep.push(&data[*pos..*pos + n])?;
                    *pos += n;
                    fed += n as u64;
                }
            }
        }
        Ok(())
    }

    /// The next piece (reading input as needed; runs at most one model
    /// chunk); `Ok(None)` after the piece with `is_last`.
    ///
    /// # Errors
    /// Decoding errors, [`resonode_core::Error::NonFiniteSample`], those of
    /// [`LongSeparator::next_piece`]; `ERR_INVALID_STATE` ("the separation
    /// was stopped") when `cancel` says so.
    pub fn next_piece(&mut self, cancel: &dyn Fn() -> bool) -> Result<Option<PromptChunk>> {
        loop {
            if self.sep.is_done() {
                return Ok(None);
            }
            let need = self.sep.frames_needed();
            if need > 0 {
                self.feed(need, cancel)?;
                continue;
            }
            if let Some(p) = self.sep.next_piece(cancel)? {
                return Ok(Some(p));
            }
            if self.sep.is_finished() {
                return Ok(None);
            }
            // Needs input but asked for none: read one block.
            self.feed(1, cancel)?;
        }
    }

    /// Input length at the model rate when the container tells it.
    pub fn total_frames(&self) -> Option<u64> {
        self.total
    }

    /// Output samples handed out so far (the progress).
    pub fn frames_done(&self) -> u64 {
        self.sep.frames_out()
    }

    /// See [`LongSeparator::noise`] (built on request).
    pub fn noise(&self) -> Vec<f32> {
        self.sep.noise()
    }

    /// See [`LongSeparator::noise_frames`].
    pub fn noise_frames(&self) -> usize {
        self.sep.noise_frames()
    }

    /// Peak resident memory of the process in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.sep.peak_memory_bytes()
    }
}
