//! Straight beat grids fitted to detected beat times, and their bar phase.
//!
//! Detected beats sit on analysis frames (23.2 ms apart with the default
//! analysis settings), so a single beat is off by up to half a frame; a
//! least-squares line through a few dozen beats places the grid to well
//! under a millisecond and gets the period right to a few parts in 10⁵,
//! which is what keeps two tracks together over a 16-beat crossfade.

/// Beat `k` of the grid is at `t0 + k * period` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grid {
    /// Time of beat 0, s.
    pub t0: f64,
    /// Beat period, s.
    pub period: f64,
}

/// A beat further than this (in beats) from the fitted grid is treated as a
/// tracker glitch and left out of the fit and the bar-phase vote.
const MAX_RESIDUAL_BEATS: f64 = 0.2;

impl Grid {
    /// Time of beat `k`, s.
    pub fn time(&self, k: i64) -> f64 {
        self.t0 + k as f64 * self.period
    }

    /// The (fractional) beat index at time `t` s.
    pub fn index(&self, t: f64) -> f64 {
        (t - self.t0) / self.period
    }
}

/// Fits a grid by least squares to `beats` (seconds, ascending; non-finite
/// values are ignored). `period_hint` (s, from the tempo estimate) numbers
/// the beats: each gap counts as the nearest whole number of periods, so a
/// missed beat does not shift the beats after it. `None` for no beats or a
/// hint that is not positive; one beat gives a grid with the hinted period.
pub(crate) fn fit(beats: &[f64], period_hint: f64) -> Option<Grid> {
    if !(period_hint.is_finite() && period_hint > 0.0) {
        return None;
    }
    let mut beats: Vec<f64> = beats.iter().copied().filter(|t| t.is_finite()).collect();
    beats.sort_by(f64::total_cmp);
    let first = *beats.first()?;
    if beats.len() == 1 {
        return Some(Grid { t0: first, period: period_hint });
    }
    // Numbered gap by gap rather than from the first beat: a hint off by 1 %
    // would misnumber beats 50 periods away, but never a single gap. A beat
    // less than 3/4 of a period after the last one numbered is a stray
    // (an off-beat glitch) and would shift the numbering of all after it.
    let mut points = vec![(0i64, first)];
    let (mut k, mut last) = (0i64, first);
    for &t in &beats[1..] {
        let gap = (t - last) / period_hint;
        if gap >= 0.75 {
            k += gap.round() as i64;
            last = t;
            points.push((k, t));
        }
    }
    let mut grid = least_squares(&points)?;
    for _ in 0..2 {
        let kept: Vec<(i64, f64)> = beats
            .iter()
            .map(|&t| (grid.index(t).round() as i64, t))
            .filter(|&(k, t)| (t - grid.time(k)).abs() <= MAX_RESIDUAL_BEATS * grid.period)
            .collect();
        match least_squares(&kept) {
            Some(g) => grid = g,
            None => break,
        }
    }
    Some(grid)
}

/// `t = t0 + k * period` through `(k, t)` points; `None` when the points do
/// not span two beat numbers or the slope is not a positive period.
fn least_squares(points: &[(i64, f64)]) -> Option<Grid> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mk = points.iter().map(|&(k, _)| k as f64).sum::<f64>() / n;
    let mt = points.iter().map(|&(_, t)| t).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(k, t) in points {
        let dk = k as f64 - mk;
        sxx += dk * dk;
        sxy += dk * (t - mt);
    }
    if sxx <= 0.0 {
        return None;
    }
    let period = sxy / sxx;
    (period.is_finite() && period > 0.0).then_some(Grid { t0: mt - period * mk, period })
}

/// The bar phase (0..4) of `grid`: the residue modulo 4 of the beat index
/// that most of the `downbeats` (seconds) within `[lo, hi]` fall on. Ties go
/// to the earliest residue; `None` when no downbeat in range lies on the
/// grid.
pub(crate) fn bar_phase(grid: &Grid, downbeats: &[f64], lo: f64, hi: f64) -> Option<i64> {
    let mut votes = [0usize; 4];
    for &t in downbeats.iter().filter(|t| (lo..=hi).contains(*t)) {
        let k = grid.index(t).round();
        if (grid.index(t) - k).abs() <= MAX_RESIDUAL_BEATS {
            votes[(k as i64).rem_euclid(4) as usize] += 1;
        }
    }
    let best = (0..4).max_by_key(|&i| (votes[i], std::cmp::Reverse(i)))?;
    (votes[best] > 0).then_some(best as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_jittered_grid_with_missing_and_stray_beats() {
        let (t0, period) = (0.337, 60.0 / 123.4);
        let mut beats: Vec<f64> = (0..64)
            .filter(|k| k % 13 != 5) // missed beats
            .map(|k| {
                // Frame quantisation, as the tracker reports.
                let t = t0 + f64::from(k) * period;
                (t / 0.02322).round() * 0.02322
            })
            .collect();
        beats.push(t0 + 20.5 * period); // an off-beat glitch
        beats.sort_by(f64::total_cmp);
        // Hint 1.5 % off, as a coarse tempo estimate can be.
        let g = fit(&beats, period * 1.015).unwrap();
        // Frame quantisation (σ ≈ 6.7 ms per beat) over ~60 beats: σ ≈ 50 µs.
        assert!((g.period - period).abs() < 1e-4, "{} vs {period}", g.period);
        assert!((g.time(0) - t0).abs() < 0.003, "{} vs {t0}", g.time(0));
    }

    #[test]
    fn bar_phase_votes_and_degenerate_input_gives_none() {
        let g = Grid { t0: 1.0, period: 0.5 };
        let downbeats = [2.0, 4.0, 6.01, 3.5];
        assert_eq!(bar_phase(&g, &downbeats, 0.0, 10.0), Some(2));
        assert_eq!(bar_phase(&g, &[], 0.0, 10.0), None);
        assert_eq!(fit(&[], 0.5), None);
        assert_eq!(fit(&[1.0], 0.5), Some(Grid { t0: 1.0, period: 0.5 }));
        assert_eq!(fit(&[1.0, 2.0], f64::NAN), None);
    }
}
