//! Pitch-preserving time-stretch of planar audio with an exact time map,
//! on Signalsmith Stretch (Geraint Luff, MIT; Rust binding by Colin Marc).
//!
//! The stretcher is a streaming phase vocoder with two latencies
//! ([`Stretch::input_latency`], [`Stretch::output_latency`]): input is read
//! `input_latency` frames ahead of its "processing time", and output comes
//! out `output_latency` frames behind it. [`stretch_planar`] seeks so that
//! the processing time starts exactly at the requested input frame, feeds
//! input ahead by the input latency, and drops the first `output_latency`
//! output frames, so that output frame `j` is input time `start + j * rate`.

use std::sync::atomic::{AtomicBool, Ordering};

use resonode_core::{Error, Result};
use signalsmith_stretch::Stretch;

/// Output frames requested per `process` call: bounds the interleaved
/// scratch buffers and how long a `stop` request waits.
const CHUNK_FRAMES: usize = 8192;

/// History handed to `seek`, in seconds. Signalsmith asks for at least one
/// block plus one interval (0.12 s + 0.03 s with the default preset); more
/// is ignored.
const SEEK_HISTORY_S: f64 = 0.2;

/// Stretches `input` (planar, channels x frames, at `sample_rate` Hz)
/// without changing its pitch. `rate` is the playback rate: input frames
/// consumed per output frame (`rate < 1` slows down and lengthens).
///
/// Output frame `j` holds input time `start + j * rate` (in input frames,
/// within one frame plus the phase vocoder's transient smearing); input
/// outside `0..frames` counts as silence, so `start` may be negative.
/// Returns exactly `out_frames` frames per channel.
///
/// # Errors
/// [`Error::InvalidState`] ("the transition was stopped") when `stop` is
/// set between chunks; [`Error::InvalidParameter`] for no channels, a zero
/// sample rate or a rate that is not finite and positive.
pub(crate) fn stretch_planar(
    input: &[Vec<f32>],
    sample_rate: u32,
    start: i64,
    rate: f64,
    out_frames: usize,
    stop: &AtomicBool,
) -> Result<Vec<Vec<f32>>> {
    let ch = input.len();
    if ch == 0 || sample_rate == 0 {
        return Err(Error::param("channels", "stretching needs at least one channel and a sample rate"));
    }
    if !(rate.is_finite() && rate > 0.0) {
        return Err(Error::param("stretchRatio", format!("{rate} is not a positive playback rate")));
    }
    let channels = u32::try_from(ch).map_err(|_| Error::param("channels", format!("{ch} is too many")))?;
    let frames = input[0].len() as i64;
    let mut st = Stretch::preset_default(channels, sample_rate);
    let in_lat = st.input_latency() as i64;
    let out_lat = st.output_latency();

    let fill = |buf: &mut Vec<f32>, from: i64, n: usize| {
        buf.clear();
        buf.reserve(n * ch);
        for i in 0..n as i64 {
            let idx = from + i;
            for chan in input {
                buf.push(if (0..frames).contains(&idx) { chan[idx as usize] } else { 0.0 });
            }
        }
    };

    let mut inbuf = Vec::new();
    let mut outbuf = Vec::new();
    // The seek history ends `in_lat` frames after `start`, which puts the
    // processing time on `start` itself (Signalsmith's README, "Seeking").
    let history = (f64::from(sample_rate) * SEEK_HISTORY_S).ceil() as usize + in_lat as usize;
    fill(&mut inbuf, start + in_lat - history as i64, history);
    st.seek(&inbuf, rate);

    let total = out_lat + out_frames;
    let mut out: Vec<Vec<f32>> = (0..ch).map(|_| Vec::with_capacity(out_frames)).collect();
    let (mut produced, mut consumed) = (0usize, 0i64);
    while produced < total {
        if stop.load(Ordering::Relaxed) {
            return Err(crate::transition::stopped());
        }
        let n = CHUNK_FRAMES.min(total - produced);
        // Input per call follows the cumulative target, so rounding never
        // accumulates: after any call, consumed = round(produced * rate).
        let target = ((produced + n) as f64 * rate).round() as i64;
        fill(&mut inbuf, start + in_lat + consumed, (target - consumed).max(0) as usize);
        outbuf.clear();
        outbuf.resize(n * ch, 0.0);
        st.process(&inbuf, &mut outbuf);
        let skip = out_lat.saturating_sub(produced).min(n);
        for frame in outbuf.chunks_exact(ch).skip(skip) {
            for (o, &v) in out.iter_mut().zip(frame) {
                o.push(v);
            }
        }
        produced += n;
        consumed = target.max(consumed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Energy-weighted centre (in frames) of `x` within `[centre - half, centre + half]`.
    fn energy_centre(x: &[f32], centre: f64, half: usize) -> f64 {
        let lo = (centre as usize).saturating_sub(half);
        let hi = (centre as usize + half).min(x.len());
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &v) in x[lo..hi].iter().enumerate() {
            let e = f64::from(v) * f64::from(v);
            num += e * (lo + i) as f64;
            den += e;
        }
        num / den
    }

    /// Short 1 kHz Hann-windowed tone bursts every 0.5 s, starting at 0.25 s.
    fn bursts(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f64>) {
        let sr = f64::from(rate);
        let n = (seconds * sr) as usize;
        let mut x = vec![0.0f32; n];
        let len = (0.01 * sr) as usize;
        let mut centres = Vec::new();
        let mut t = 0.25;
        while t + 0.02 < seconds {
            let s = (t * sr) as usize;
            for i in 0..len {
                let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos();
                x[s + i] = (0.5 * w * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / sr).sin()) as f32;
            }
            centres.push(s as f64 + len as f64 / 2.0);
            t += 0.5;
        }
        (x, centres)
    }

    #[test]
    fn output_frame_j_is_input_time_start_plus_j_times_rate() {
        let rate_hz = 44_100;
        let (x, centres) = bursts(rate_hz, 12.0);
        let input = vec![x.clone(), x];
        for (rate, start) in [(120.0 / 126.0, 22_050i64), (1.1, -4410), (1.0, 0)] {
            let out_frames = ((input[0].len() as i64 - start) as f64 / rate) as usize;
            let out = stretch_planar(&input, rate_hz, start, rate, out_frames, &AtomicBool::new(false)).unwrap();
            assert_eq!(out[0].len(), out_frames);
            let mut worst: f64 = 0.0;
            let mut checked = 0;
            for &c in &centres {
                let expected = (c - start as f64) / rate;
                if expected < 2000.0 || expected + 2000.0 > out_frames as f64 {
                    continue;
                }
                let got = energy_centre(&out[0], expected, 1500);
                worst = worst.max((got - expected).abs());
                checked += 1;
            }
            let worst_ms = worst / f64::from(rate_hz) * 1000.0;
            eprintln!("rate {rate:.4}, start {start}: {checked} bursts, worst {worst_ms:.3} ms");
            assert!(checked > 15, "rate {rate}: only {checked} bursts checked");
            assert!(worst_ms < 2.0, "rate {rate}, start {start}: worst burst misplacement {worst_ms:.3} ms");
        }
    }

    #[test]
    fn stop_aborts_and_bad_rates_are_refused() {
        let input = vec![vec![0.1f32; 44_100]];
        let stopped = stretch_planar(&input, 44_100, 0, 1.0, 44_100, &AtomicBool::new(true));
        assert!(matches!(stopped, Err(Error::InvalidState { .. })), "{stopped:?}");
        for rate in [0.0, -1.0, f64::NAN] {
            let r = stretch_planar(&input, 44_100, 0, rate, 100, &AtomicBool::new(false));
            assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{rate}: {r:?}");
        }
    }
}
