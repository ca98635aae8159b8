//! Level meters measured inside the audio callback: per channel, the peak
//! `|x|` and the RMS over the frames since the reader last asked (the way a
//! DAW's meters work: the callback sees every frame, the UI samples the
//! result at its own pace).
//!
//! The callback ([`MeterWriter`], exactly one per meter) and the control
//! side ([`MeterReader`]) share a [`Cells`] block of preallocated atomics:
//! - **RMS**: the writer keeps, per channel, the running sum of squares
//!   since the engine started (f64) and the running frame count, and
//!   publishes them under a sequence lock (the writer is lock-free, the
//!   reader retries while a publication is in progress) so a reader always
//!   sees sums and count of the same frames. The reader keeps its previous
//!   snapshot and takes the difference: mean square = Δsum / Δframes.
//!   f64 sums lose nothing measurable: after a day of full-scale audio the
//!   running sum is about 2e9 and its resolution 2.4e-7, i.e. a 50 ms
//!   window resolves mean squares down to about 1e-10 (-100 dBFS).
//! - **Peak**: the writer raises the channel's peak with `fetch_max` on the
//!   f32 bits (for non-negative floats the bit patterns order like the
//!   values); the reader swaps it back to 0, but only when its window has
//!   frames. A block whose peak is stored just before a read but whose
//!   frames are published just after counts its peak in the earlier window
//!   if that window has frames, else in the next one (the windows' peaks
//!   are never lost).
//!
//! Samples that are NaN or infinite are measured as silence (the engine's
//! output never has them: the renderer replaces them by 0).
//!
//! # Real-time safety
//! [`MeterWriter::record`] never allocates, locks, blocks, logs or does I/O:
//! relaxed atomic stores, one `fetch_max` per channel and two fences; the
//! engine's `no_alloc` tests run it under the allocation-aborting guard.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::{to_db, SILENCE_DBFS};

/// The level reported for silence and for a window without frames, dBFS
/// (a finite floor, so levels are JSON-safe).
pub const LEVEL_FLOOR_DBFS: f64 = SILENCE_DBFS;

/// Levels of the channels of one stream side over one measurement window.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelLevels {
    /// Highest `|x|` per channel, dBFS (`20 log10`, 0 dBFS = 1.0 full scale;
    /// floor [`LEVEL_FLOOR_DBFS`]).
    pub peak_dbfs: Vec<f64>,
    /// RMS per channel, dBFS (`10 log10(Σx² / frames)`, so a full-scale sine
    /// reads -3.01 dBFS; floor [`LEVEL_FLOOR_DBFS`]).
    pub rms_dbfs: Vec<f64>,
    /// Frames the window covered.
    pub frames: u64,
}

/// Input and output levels of an engine since the previous
/// [`RealtimeEngine::levels`](crate::RealtimeEngine::levels) call.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// The input device's samples, before the chain; `None` without input
    /// channels.
    pub input: Option<ChannelLevels>,
    /// What goes to the output device, after the chain; `None` without
    /// output channels.
    pub output: Option<ChannelLevels>,
    /// Frames the window covered: the output stream's, or the input
    /// stream's for an input-only engine.
    pub frames: u64,
}

/// The atomics one meter's writer and reader share.
#[derive(Debug)]
struct Cells {
    /// Sequence lock over `frames` and every `sum_sq_bits`: odd while the
    /// writer publishes.
    seq: AtomicU64,
    /// Frames recorded since the start.
    frames: AtomicU64,
    channels: Box<[ChannelCell]>,
}

#[derive(Debug)]
struct ChannelCell {
    /// Peak `|x|` since the reader last swapped it out (f32 bits).
    peak_bits: AtomicU32,
    /// Sum of squares since the start (f64 bits).
    sum_sq_bits: AtomicU64,
}

/// Makes the writer (for the callback) and the reader (for the control
/// side) of a meter of `channels` channels.
pub fn level_meter(channels: usize) -> (MeterWriter, MeterReader) {
    let cells = Arc::new(Cells {
        seq: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        channels: (0..channels)
            .map(|_| ChannelCell { peak_bits: AtomicU32::new(0), sum_sq_bits: AtomicU64::new(0f64.to_bits()) })
            .collect(),
    });
    (
        MeterWriter { cells: cells.clone(), sums: vec![0.0; channels].into_boxed_slice(), frames: 0, seq: 0 },
        MeterReader { cells, last_frames: 0, last_sums: vec![0.0; channels], now_sums: vec![0.0; channels] },
    )
}

/// The callback's end of a meter (not `Clone`: one writer per meter).
#[derive(Debug)]
pub struct MeterWriter {
    cells: Arc<Cells>,
    /// The running totals; the writer is their only author, so it keeps
    /// them here instead of reading its own atomics back.
    sums: Box<[f64]>,
    frames: u64,
    seq: u64,
}

impl MeterWriter {
    /// Measures `data`, interleaved with the meter's channels (a trailing
    /// partial frame is ignored).
    ///
    /// # Real-time safety
    /// Never allocates, locks, blocks, logs or does I/O: relaxed atomics
    /// and fences (see the module docs).
    #[inline]
    pub fn record(&mut self, data: &[f32]) {
        let ch = self.sums.len();
        if ch == 0 {
            return;
        }
        let frames = data.len() / ch;
        if frames == 0 {
            return;
        }
        let data = &data[..frames * ch];
        for (c, cell) in self.cells.channels.iter().enumerate() {
            let mut peak = 0f32;
            let mut sum = 0f64;
            for &x in data[c..].iter().step_by(ch) {
                let a = x.abs();
                // NaN and infinities fail this test: measured as silence.
                if a <= f32::MAX {
                    peak = peak.max(a);
                    sum += f64::from(a) * f64::from(a);
                }
            }
            self.sums[c] += sum;
            cell.peak_bits.fetch_max(peak.to_bits(), Ordering::Relaxed);
        }
        self.frames += frames as u64;
        // Sequence-lock publication (the writer side of crossbeam's SeqLock):
        // odd while the stores are in progress.
        self.seq += 1;
        self.cells.seq.store(self.seq, Ordering::Relaxed);
        fence(Ordering::Release);
        for (cell, &s) in self.cells.channels.iter().zip(self.sums.iter()) {
            cell.sum_sq_bits.store(s.to_bits(), Ordering::Relaxed);
        }
        self.cells.frames.store(self.frames, Ordering::Relaxed);
        self.seq += 1;
        self.cells.seq.store(self.seq, Ordering::Release);
    }
}

/// The control side's end of a meter: turns the running totals into the
/// levels of each window between two [`read`](MeterReader::read)s.
#[derive(Debug)]
pub struct MeterReader {
    cells: Arc<Cells>,
    last_frames: u64,
    last_sums: Vec<f64>,
    now_sums: Vec<f64>,
}

impl MeterReader {
    /// Channels measured.
    pub fn channels(&self) -> usize {
        self.last_sums.len()
    }

    /// The levels of the frames recorded since the previous call (since the
    /// meter was made, for the first call). A window without frames reads
    /// [`LEVEL_FLOOR_DBFS`] everywhere.
    ///
    /// Not for the audio thread: while the writer is publishing it spins
    /// (and yields after a few rounds); a writer stalled in mid-publication
    /// for 100 ms (never seen: a publication is a few stores) makes it
    /// return an empty window rather than wait longer.
    pub fn read(&mut self) -> ChannelLevels {
        let frames = self.snapshot();
        let ch = self.channels();
        let delta = frames.map_or(0, |f| f.saturating_sub(self.last_frames));
        let mut levels = ChannelLevels { peak_dbfs: Vec::with_capacity(ch), rms_dbfs: Vec::with_capacity(ch), frames: delta };
        for c in 0..ch {
            if delta == 0 {
                // The peak stays for the next window with frames: a block
                // may have raised it before publishing its frames.
                levels.peak_dbfs.push(LEVEL_FLOOR_DBFS);
                levels.rms_dbfs.push(LEVEL_FLOOR_DBFS);
                continue;
            }
            let peak = f32::from_bits(self.cells.channels[c].peak_bits.swap(0, Ordering::Relaxed));
            // Rounding can make a silent window's difference a hair
            // negative; clamp before the root.
            let mean_square = ((self.now_sums[c] - self.last_sums[c]) / delta as f64).max(0.0);
            levels.peak_dbfs.push(to_db(f64::from(peak)));
            levels.rms_dbfs.push(to_db(mean_square.sqrt()));
        }
        if let Some(f) = frames {
            self.last_frames = f;
            self.last_sums.copy_from_slice(&self.now_sums);
        }
        levels
    }

    /// Reads the frame count and the sums of one publication into
    /// `now_sums`; `None` if the writer stayed in mid-publication too long.
    fn snapshot(&mut self) -> Option<u64> {
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut spins = 0u32;
        loop {
            let s1 = self.cells.seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                let frames = self.cells.frames.load(Ordering::Relaxed);
                for (d, cell) in self.now_sums.iter_mut().zip(self.cells.channels.iter()) {
                    *d = f64::from_bits(cell.sum_sq_bits.load(Ordering::Relaxed));
                }
                fence(Ordering::Acquire);
                if self.cells.seq.load(Ordering::Relaxed) == s1 {
                    return Some(frames);
                }
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if Instant::now() >= deadline {
                return None;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f32, frames: usize, period: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| amplitude * (2.0 * std::f32::consts::PI * i as f32 / period as f32).sin())
            .collect()
    }

    fn interleave(a: &[f32], b: &[f32]) -> Vec<f32> {
        a.iter().zip(b).flat_map(|(&x, &y)| [x, y]).collect()
    }

    #[test]
    fn a_sine_reads_its_peak_and_rms_per_channel() {
        let (mut w, mut r) = level_meter(2);
        // Whole periods (48 frames), so the RMS is exactly A/sqrt(2).
        let data = interleave(&sine(0.5, 4800, 48), &sine(0.25, 4800, 48));
        assert_no_alloc::assert_no_alloc(|| {
            for block in data.chunks(2 * 480) {
                w.record(block);
            }
        });
        let l = r.read();
        assert_eq!(l.frames, 4800);
        assert!((l.peak_dbfs[0] - 20.0 * 0.5f64.log10()).abs() < 0.01, "{l:?}");
        assert!((l.peak_dbfs[1] - 20.0 * 0.25f64.log10()).abs() < 0.01, "{l:?}");
        assert!((l.rms_dbfs[0] - 20.0 * (0.5 / 2f64.sqrt()).log10()).abs() < 0.001, "{l:?}");
        assert!((l.rms_dbfs[1] - 20.0 * (0.25 / 2f64.sqrt()).log10()).abs() < 0.001, "{l:?}");
    }

    #[test]
    fn each_read_covers_only_the_frames_since_the_previous_one() {
        let (mut w, mut r) = level_meter(1);
        w.record(&[1.0; 1000]);
        let first = r.read();
        assert_eq!((first.frames, first.peak_dbfs[0], first.rms_dbfs[0]), (1000, 0.0, 0.0));
        w.record(&[0.1; 500]);
        let second = r.read();
        assert_eq!(second.frames, 500);
        assert!((second.peak_dbfs[0] + 20.0).abs() < 1e-5 && (second.rms_dbfs[0] + 20.0).abs() < 1e-5, "{second:?}");
        // Nothing recorded since: the floor, not the last value.
        let empty = r.read();
        assert_eq!((empty.frames, empty.peak_dbfs[0], empty.rms_dbfs[0]), (0, LEVEL_FLOOR_DBFS, LEVEL_FLOOR_DBFS));
    }

    #[test]
    fn a_peak_stored_before_its_frames_are_published_is_kept() {
        // What a read between a block's `fetch_max` and its publication
        // sees: the peak is raised, no new frames yet.
        let (mut w, mut r) = level_meter(1);
        r.cells.channels[0].peak_bits.fetch_max(0.5f32.to_bits(), Ordering::Relaxed);
        let empty = r.read();
        assert_eq!((empty.frames, empty.peak_dbfs[0]), (0, LEVEL_FLOOR_DBFS));
        w.record(&[0.1; 10]);
        let next = r.read();
        assert_eq!(next.frames, 10);
        assert!((next.peak_dbfs[0] - 20.0 * 0.5f64.log10()).abs() < 1e-9, "{next:?}");
    }

    #[test]
    fn silence_and_non_finite_samples_read_the_floor() {
        let (mut w, mut r) = level_meter(2);
        w.record(&[0.0, f32::NAN, 0.0, f32::INFINITY, 0.0, f32::NEG_INFINITY]);
        let l = r.read();
        assert_eq!(l.frames, 3);
        assert_eq!(l.peak_dbfs, [LEVEL_FLOOR_DBFS; 2]);
        assert_eq!(l.rms_dbfs, [LEVEL_FLOOR_DBFS; 2]);
        // The running sums were not poisoned by the NaN.
        w.record(&[0.5, 0.5]);
        let l = r.read();
        assert!((l.rms_dbfs[1] - 20.0 * 0.5f64.log10()).abs() < 1e-9, "{l:?}");
    }

    #[test]
    fn a_quiet_window_after_a_long_loud_run_keeps_its_level() {
        // About 73 minutes of full-scale audio at 48 kHz in the running
        // sum, then a -80 dBFS window: the difference still resolves it.
        let (mut w, mut r) = level_meter(1);
        let loud = vec![1.0f32; 1 << 20];
        for _ in 0..200 {
            w.record(&loud);
        }
        r.read();
        w.record(&vec![1e-4f32; 2400]);
        let l = r.read();
        assert!((l.rms_dbfs[0] + 80.0).abs() < 0.01, "{l:?}");
    }

    /// The engine on the clocked backend (its callbacks run under the
    /// allocation guard in this crate's tests): input before the chain,
    /// output after it, each channel on its own, for every direction.
    #[test]
    fn the_engine_meters_input_before_and_output_after_the_chain() {
        use crate::{Backend, EngineOptions, RealtimeEngine, StreamConfig};
        let specs = resonode_core::chain_spec::parse("gain(-6db)").unwrap();
        // 2 channels: 0.5 and 0.25, 1 kHz at 48 kHz (48-frame periods).
        let input: Arc<[f32]> = interleave(&sine(0.5, 4800, 48), &sine(0.25, 4800, 48)).into();
        let db = |a: f64| 20.0 * a.log10();
        let gain = db(10f64.powf(-6.0 / 20.0));
        for config in [StreamConfig::duplex(2, 2), StreamConfig::input(2), StreamConfig::output(2)] {
            let config = config.with_buffer_size(256);
            let options = EngineOptions { none_input: Some(input.clone()), ..Default::default() };
            let engine = RealtimeEngine::start_from_specs(config.clone(), &specs, Backend::None, options).unwrap();
            // Past the duplex prime and the gain's initial ramp.
            std::thread::sleep(Duration::from_millis(150));
            engine.levels();
            std::thread::sleep(Duration::from_millis(200));
            let l = engine.levels();
            engine.stop().unwrap();
            let what = format!("{config:?}: {l:?}");
            assert!(l.frames >= 4800 && l.frames <= 20_000, "{what}");
            match config.direction() {
                crate::Direction::Output => {
                    assert!(l.input.is_none(), "{what}");
                    // No input: the chain renders silence.
                    assert_eq!(l.output.unwrap().rms_dbfs, [LEVEL_FLOOR_DBFS; 2], "{what}");
                }
                dir => {
                    let i = l.input.unwrap();
                    for (c, a) in [(0, 0.5), (1, 0.25)] {
                        assert!((i.peak_dbfs[c] - db(a)).abs() < 0.1, "{what}");
                        // The window is not a whole number of periods: the
                        // RMS of a partial period differs by < 0.05 dB here.
                        assert!((i.rms_dbfs[c] - db(a / 2f64.sqrt())).abs() < 0.05, "{what}");
                    }
                    if dir == crate::Direction::Input {
                        assert!(l.output.is_none(), "{what}");
                        assert_eq!(l.frames, i.frames);
                    } else {
                        let o = l.output.unwrap();
                        for c in 0..2 {
                            assert!((o.peak_dbfs[c] - (i.peak_dbfs[c] + gain)).abs() < 0.1, "{what}");
                            assert!((o.rms_dbfs[c] - (i.rms_dbfs[c] + gain)).abs() < 0.1, "{what}");
                        }
                        assert_eq!(l.frames, o.frames);
                    }
                }
            }
        }
    }

    #[test]
    fn concurrent_reads_see_consistent_windows() {
        // A writer thread records blocks whose every sample is 0.5; any
        // window a reader sees must then read exactly -6.02 dBFS RMS: a torn
        // snapshot (frames of one publication, sums of another) would not.
        let (mut w, mut r) = level_meter(2);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let block = [0.5f32; 2 * 64];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    w.record(&block);
                    n += 64;
                }
                n
            })
        };
        let mut seen = 0u64;
        let expected = 20.0 * 0.5f64.log10();
        for _ in 0..20_000 {
            let l = r.read();
            seen += l.frames;
            if l.frames > 0 {
                for c in 0..2 {
                    assert!((l.rms_dbfs[c] - expected).abs() < 1e-9, "{l:?}");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        seen += r.read().frames;
        assert_eq!(seen, written);
    }
}
