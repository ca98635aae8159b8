//! # resonode-analysis
//!
//! Music analysis: what a mixer, a recommender or a visualiser needs to know
//! about a track, or about what is playing right now.
//!
//! - [`features`]: streaming frame features (RMS, zero-crossing rate,
//!   spectral centroid / bandwidth / roll-off / flatness / flux, MFCC,
//!   chroma, onset strength), defined as in librosa 0.11 and checked against
//!   it on real recordings.
//! - [`tempo`], [`beats`]: tempo (BPM) with a confidence, beat times and
//!   downbeat phase from the onset-strength envelope.
//! - [`key`]: key and mode from chroma (24 keys), with Camelot codes.
//! - [`loudness`]: EBU R128 integrated loudness, loudness range and true
//!   peak (ITU-R BS.1770-4), through the `ebur128` crate.
//! - [`track`]: [`TrackAnalyzer`], whole-track descriptors from a stream of
//!   blocks of any rate and channel count, in bounded memory.
//! - [`live`]: [`LiveAnalyzer`], rolling tempo / key / energy trend and
//!   predicted beat times for live input.
//!
//! ## Real-time safety
//! Nothing here runs in an audio callback: analysis allocates and takes
//! milliseconds per block. Live analysis is fed from the engine's lock-free
//! tap on a non-real-time thread.
//!
//! ## Vocabulary
//! Audio blocks are planar (channels x frames). Feature matrices are
//! features x frames, stored row by row (feature-major). An *analysis frame*
//! is one STFT frame (`n_fft` samples, advanced by `hop_length`); with
//! `center`, frame `t` is centred on sample `t * hop_length` of the analysis
//! signal (mono, at [`AnalysisConfig::sample_rate`]).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod band_spectrum;
pub mod beats;
pub mod chroma;
pub mod config;
pub mod features;
pub mod input;
pub mod file;
pub mod key;
pub mod live;
pub mod log_bands;
pub mod loudness;
pub mod mel;
pub mod predict;
pub mod spectrum;
pub mod summary;
pub mod tempo;
pub mod track;

pub use config::AnalysisConfig;
pub use features::{FeatureExtractor, FeatureFrames};
pub use file::{analyze_file, analyze_file_with_blocks, AnalyzeOptions, DecodedBlocks, FrameCsvWriter};
pub use track::{TrackAnalyzer, TrackDescriptors};

pub use key::{KeyEstimate, Mode};
pub use live::{EnergyTrend, EnergyTrendEstimate, LiveAnalyzer, LiveSnapshot};

pub use tempo::TempoEstimate;


/// Version of the analysis algorithms, stored with results so that a
/// library can tell which tracks need analysing again.
pub const ANALYZER_VERSION: &str = concat!("resonode-analysis/", env!("CARGO_PKG_VERSION"), "+1");
