//! [`TimeBins`]: per-time-bin accumulations of a stream in bounded memory.
//!
//! A plot is a few thousand pixels wide whatever the length of the file,
//! so everything it draws is accumulated into time bins of
//! `frames_per_bin` input frames. When the length is known, the bin size
//! is chosen up front so there are about `target` bins (the image width).
//! When it is not (a stream, or a file whose header does not say), bins
//! start fine ([`UNKNOWN_LENGTH_BIN_S`]) and whenever their number exceeds
//! `2 * target`, neighbouring pairs are merged and the bin size doubles: the
//! count then stays between `target` and `2 * target` and memory is
//! O(target x values per bin) for any length.

/// Starting bin length (seconds) when the length of the stream is unknown.
pub const UNKNOWN_LENGTH_BIN_S: f64 = 0.01;

/// How a value of a bin combines with the same value of another bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Min,
    Max,
    Sum,
}

impl Combine {
    fn identity(self) -> f64 {
        match self {
            Combine::Min => f64::INFINITY,
            Combine::Max => f64::NEG_INFINITY,
            Combine::Sum => 0.0,
        }
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Combine::Min => a.min(b),
            Combine::Max => a.max(b),
            Combine::Sum => a + b,
        }
    }
}

/// Time bins of `stride` values each, value `j` combined with `combine[j]`.
#[derive(Debug, Clone)]
pub struct TimeBins {
    combine: Vec<Combine>,
    frames_per_bin: u64,
    max_bins: usize,
    data: Vec<f64>,
}

impl TimeBins {
    /// Bins for a stream of `total_frames` frames (`None`: unknown) at
    /// `sample_rate` Hz, aiming at `target` bins (at least 1).
    pub fn new(
        combine: Vec<Combine>,
        sample_rate: u32,
        total_frames: Option<u64>,
        target: usize,
    ) -> Self {
        let target = target.max(1);
        let frames_per_bin = match total_frames {
            Some(t) if t > 0 => t.div_ceil(target as u64).max(1),
            _ => ((f64::from(sample_rate) * UNKNOWN_LENGTH_BIN_S).round() as u64).max(1),
        };
        TimeBins {
            combine,
            frames_per_bin,
            max_bins: 2 * target,
            data: Vec::new(),
        }
    }

    /// Values per bin.
    pub fn stride(&self) -> usize {
        self.combine.len()
    }

    /// Input frames per bin (doubles at each merge).
    pub fn frames_per_bin(&self) -> u64 {
        self.frames_per_bin
    }

    /// Number of bins so far.
    pub fn len(&self) -> usize {
        self.data.len() / self.stride().max(1)
    }

    /// True before anything was added.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The values of bin `b`.
    pub fn bin(&self, b: usize) -> &[f64] {
        let s = self.stride();
        &self.data[b * s..(b + 1) * s]
    }

    /// The values of the bin holding input frame `frame`, creating bins (and
    /// merging pairs when there are too many) as needed.
    pub fn at(&mut self, frame: u64) -> &mut [f64] {
        let s = self.stride();
        let mut b = (frame / self.frames_per_bin) as usize;
        while b >= self.max_bins {
            self.merge_pairs();
            b = (frame / self.frames_per_bin) as usize;
        }
        while self.len() <= b {
            self.data.extend(self.combine.iter().map(|c| c.identity()));
        }
        &mut self.data[b * s..(b + 1) * s]
    }

    /// Combines value `j` of the bin holding `frame` with `v`.
    pub fn add(&mut self, frame: u64, j: usize, v: f64) {
        let c = self.combine[j];
        let slot = &mut self.at(frame)[j];
        *slot = c.apply(*slot, v);
    }

    fn merge_pairs(&mut self) {
        let s = self.stride();
        let n = self.len();
        let mut out = Vec::with_capacity(n.div_ceil(2) * s);
        for pair in self.data.chunks(2 * s) {
            let (a, b) = pair.split_at(s.min(pair.len()));
            for (j, c) in self.combine.iter().enumerate() {
                out.push(if b.is_empty() {
                    a[j]
                } else {
                    c.apply(a[j], b[j])
                });
            }
        }
        self.data = out;
        self.frames_per_bin *= 2;
    }

    /// Combines bins `range` into one set of values.
    pub fn combined(&self, range: std::ops::Range<usize>, out: &mut [f64]) {
        for (o, c) in out.iter_mut().zip(&self.combine) {
            *o = c.identity();
        }
        for b in range.start.min(self.len())..range.end.min(self.len()) {
            for ((o, c), &v) in out.iter_mut().zip(&self.combine).zip(self.bin(b)) {
                *o = c.apply(*o, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_length_stays_bounded_and_keeps_totals() {
        let rate = 48_000;
        let mut bins = TimeBins::new(
            vec![Combine::Min, Combine::Max, Combine::Sum],
            rate,
            None,
            100,
        );
        assert_eq!(bins.frames_per_bin(), 480);
        // An hour in 10 ms steps: 360 000 events.
        let step = 480u64;
        let n = 360_000u64;
        for i in 0..n {
            let frame = i * step;
            let v = (i % 1000) as f64;
            bins.add(frame, 0, v);
            bins.add(frame, 1, v);
            bins.add(frame, 2, 1.0);
            assert!(bins.len() <= 200, "{} bins at event {i}", bins.len());
        }
        assert!(bins.len() >= 100, "{}", bins.len());
        let total: f64 = (0..bins.len()).map(|b| bins.bin(b)[2]).sum();
        assert_eq!(total, n as f64);
        let mut all = [0.0; 3];
        bins.combined(0..bins.len(), &mut all);
        assert_eq!((all[0], all[1], all[2]), (0.0, 999.0, n as f64));
        // Bins still hold the events of their own time span.
        let fpb = bins.frames_per_bin();
        assert_eq!(bins.bin(0)[2], (fpb / step) as f64);
        assert_eq!(bins.len() as u64, (n * step).div_ceil(fpb));
    }

    #[test]
    fn known_length_needs_no_merge() {
        let total = 44_100 * 180;
        let mut bins = TimeBins::new(vec![Combine::Sum], 44_100, Some(total), 1600);
        for f in (0..total).step_by(37) {
            bins.add(f, 0, 1.0);
        }
        assert_eq!(bins.frames_per_bin(), total.div_ceil(1600));
        assert!(bins.len() <= 1600 && bins.len() >= 1599);
    }
}
