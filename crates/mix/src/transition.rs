//! Beat-matched transitions: the end of track A mixed into the start of
//! track B, with B time-stretched to A's tempo and its downbeat on one of
//! A's downbeats.
//!
//! # Method
//! 1. **Timing.** Both tracks are analysed with
//!    [`resonode_analysis::analyze_file`] (tempo, then beats by dynamic
//!    programming after Ellis 2007, downbeats from low-band onset energy,
//!    EBU R128 integrated loudness). A straight beat grid is fitted by least
//!    squares to A's last 64 beats and to B's first 64 beats; the fitted
//!    periods give the tempos and the stretch ratio, and the bar phase comes
//!    from the detected downbeats (or every 4th beat from the first, when
//!    none were found).
//! 2. **Alignment.** The crossfade starts on A's latest grid downbeat `d`
//!    that leaves `crossfade_beats` beats of A's audio after it. B's first
//!    grid downbeat (at or after its first beat, less a quarter beat) is
//!    placed on `d`.
//! 3. **Stretch.** The part of B from a little before that downbeat to the
//!    end of the tail is time-stretched at playback rate
//!    `tempo_a / tempo_b` without changing its pitch, by Signalsmith Stretch
//!    (Geraint Luff, <https://signalsmith-audio.co.uk/code/stretch/>), with
//!    both of the stretcher's latencies compensated so that B's time `t`
//!    after the downbeat lands `t / ratio` after `d`.
//! 4. **Mix.** `lead_in_beats` of A alone, an equal-power crossfade over
//!    `crossfade_beats` of A's beats (`gain_A = cos(πx/2)`,
//!    `gain_B = sin(πx/2)`, `x` from 0 to 1, so the summed power of
//!    uncorrelated material stays constant), then `tail_beats` of B alone.
//!    B is gained by `LUFS(A) - LUFS(B)` (clamped to ±12 dB); if the sum
//!    peaks above full scale, the whole output is scaled down.
//!
//! B is matched at its tempo, at double or at half time, whichever needs
//! the least stretch (the same folding recommendations score); Signalsmith
//! Stretch sounds best for playback rates between about 0.75 and 1.5.
//!
//! # Real-time safety
//! Nothing here is real-time: whole tracks are decoded into memory,
//! analysed and stretched, taking seconds per track. Run it off the audio
//! thread (for instance as a background job).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use resonode_analysis::{analyze_file, AnalyzeOptions, TrackDescriptors};
use resonode_core::{AudioBuffer, Error, Result, Source};
use resonode_io::{open_sink, resample_planar, FileSource, OutputFormat, SourceOptions};

use crate::grid::{self, Grid};
use crate::stretch::stretch_planar;

/// Largest [`TransitionOptions::crossfade_beats`].
pub const MAX_CROSSFADE_BEATS: u32 = 128;

/// Beats fitted at A's end and at B's start: enough to average out the
/// analysis frame quantisation, few enough to follow a slowly drifting tempo.
const FIT_BEATS: usize = 64;

/// Largest loudness-matching gain, dB (either way): beyond this the
/// loudness estimate of one track is more likely wrong than the tracks
/// that different.
const MAX_GAIN_DB: f64 = 12.0;

/// B starts this long (s) before its downbeat inside the stretcher, so
/// that the phase vocoder's overlapping windows around the downbeat are
/// complete (longer than the default preset's 0.12 s block).
const STRETCH_PRE_ROLL_S: f64 = 0.25;

/// Frames per block when decoding and writing files.
const IO_BLOCK_FRAMES: usize = 65_536;

/// How [`render_transition`] and [`render`] build a transition. Lengths are
/// counted in beats of A's tempo.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOptions {
    /// Length of the crossfade in beats (default 16); must be in
    /// `1..=`[`MAX_CROSSFADE_BEATS`].
    pub crossfade_beats: u32,
    /// Beats of A alone before the crossfade (default 16); fewer when A
    /// starts less than that before the crossfade.
    pub lead_in_beats: u32,
    /// Beats of B alone after the crossfade (default 16); fewer (whole
    /// beats) when B ends sooner.
    pub tail_beats: u32,
    /// Gain B by `LUFS(A) - LUFS(B)` (EBU R128 integrated loudness of each
    /// whole track), clamped to ±12 dB (default true). Without a loudness
    /// for either track, B is not gained.
    pub match_loudness: bool,
}

impl Default for TransitionOptions {
    fn default() -> Self {
        TransitionOptions { crossfade_beats: 16, lead_in_beats: 16, tail_beats: 16, match_loudness: true }
    }
}

impl TransitionOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] named `crossfadeBeats` when
    /// `crossfade_beats` is 0 or above [`MAX_CROSSFADE_BEATS`].
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CROSSFADE_BEATS).contains(&self.crossfade_beats) {
            return Err(Error::param(
                "crossfadeBeats",
                format!("{} is outside [1, {MAX_CROSSFADE_BEATS}]", self.crossfade_beats),
            ));
        }
        Ok(())
    }
}

/// A whole decoded track: planar `f32` samples (channels x frames, every
/// channel the same length) at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanarTrack {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// One `Vec` per channel, all of the same length (frames).
    pub channels: Vec<Vec<f32>>,
}

impl PlanarTrack {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration, s.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Decodes the whole file at `path` with [`FileSource`] (its own rate and
    /// channels). `stop` is checked after every block.
    ///
    /// # Errors
    /// Everything [`FileSource`] reports ([`Error::NotFound`],
    /// [`Error::UnsupportedFormat`], [`Error::Decode`], ...),
    /// [`Error::EmptyAudio`] for a file without frames, and
    /// [`Error::InvalidState`] when stopped.
    pub fn read(path: &Path, stop: &AtomicBool) -> Result<PlanarTrack> {
        let mut source = FileSource::open(path, &SourceOptions::default())?;
        let channels = resonode_io::read::read_to_end_with(&mut source, || check_stop(stop))?;
        let track = PlanarTrack { sample_rate: source.sample_rate(), channels };
        if track.frames() == 0 {
            return Err(Error::EmptyAudio { reason: format!("{}: the file holds no audio frames", path.display()) });
        }
        Ok(track)
    }
}

/// What the transition needs to know about a track's timing and level.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatTiming {
    /// Tempo estimate, BPM. Used to number the beats before the grid fit;
    /// the report's tempos come from the fit.
    pub bpm: f64,
    /// Beat times, s, ascending.
    pub beats_s: Vec<f64>,
    /// Downbeat times (first beat of each bar), s; may be empty, and then
    /// every 4th beat from the first counts as a downbeat.
    pub downbeats_s: Vec<f64>,
    /// EBU R128 integrated loudness of the whole track, LUFS, if known.
    pub integrated_lufs: Option<f64>,
}

impl BeatTiming {
    /// Takes the timing from a track analysis; `name` (a path or a label)
    /// goes into the error message.
    ///
    /// # Errors
    /// [`Error::InvalidState`] ("`<name>`: no tempo found; a beat-matched
    /// transition needs a steady beat") when the analysis found no tempo
    /// or no beats.
    pub fn from_descriptors(d: &TrackDescriptors, name: &str) -> Result<BeatTiming> {
        match &d.tempo {
            Some(t) if !d.beats_s.is_empty() => Ok(BeatTiming {
                bpm: t.bpm,
                beats_s: d.beats_s.clone(),
                downbeats_s: d.downbeats_s.clone(),
                integrated_lufs: d.loudness.integrated_lufs,
            }),
            _ => Err(no_tempo(name)),
        }
    }

    /// Analyses the file at `path` with [`analyze_file`] (default settings)
    /// and takes its timing.
    ///
    /// # Errors
    /// What [`analyze_file`] reports ([`Error::NotFound`], [`Error::Decode`],
    /// ...), what [`from_descriptors`](BeatTiming::from_descriptors) reports,
    /// and [`Error::InvalidState`] ("the transition was stopped") when
    /// `stop` is set.
    pub fn analyze(path: &Path, stop: &AtomicBool) -> Result<BeatTiming> {
        let d = analyze_file(path, &AnalyzeOptions::default(), stop, |_| {}, |_| Ok(()));
        check_stop(stop)?;
        BeatTiming::from_descriptors(&d?, &path.display().to_string())
    }
}

/// What [`render_transition`] / [`render`] did. Times are in seconds; "in A"
/// and "in B" mean the track's own (unstretched) timeline, "output" the
/// rendered file's.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionReport {
    /// Length of the output, s.
    pub duration_s: f64,
    /// Output sample rate (A's), Hz.
    pub sample_rate: u32,
    /// Output channel count (A's).
    pub channels: usize,
    /// A's tempo from the grid fitted to its last beats, BPM.
    pub tempo_a_bpm: f64,
    /// B's tempo from the grid fitted to its first beats, BPM.
    pub tempo_b_bpm: f64,
    /// The multiple of B's tempo that is matched to A's: 1, or 2 (B mixed
    /// at double time) / 0.5 (half time) when that needs less stretching.
    pub tempo_multiple: f64,
    /// Playback rate applied to B: `tempo_a / (tempo_b · tempo_multiple)`
    /// (B's durations scale by `1 / stretch_ratio`); exactly 1 when the
    /// tempos agree to 10⁻⁵ and B is not stretched.
    pub stretch_ratio: f64,
    /// Where in A the output starts, s.
    pub a_start_s: f64,
    /// A's downbeat where the crossfade starts, s in A.
    pub a_downbeat_s: f64,
    /// B's downbeat placed on it, s in B (unstretched).
    pub b_downbeat_s: f64,
    /// Start of the crossfade, s in the output.
    pub crossfade_start_s: f64,
    /// End of the crossfade, s in the output.
    pub crossfade_end_s: f64,
    /// Beats of B alone after the crossfade (the requested tail, or fewer
    /// when B ends sooner).
    pub tail_beats: u32,
    /// Loudness-matching gain applied to B, dB.
    pub gain_b_db: f64,
    /// Gain applied to the whole output so that it does not clip, dB (0, or
    /// negative when the mix peaked above full scale).
    pub output_gain_db: f64,
    /// A's integrated loudness, LUFS.
    pub loudness_a_lufs: Option<f64>,
    /// B's integrated loudness (before gain), LUFS.
    pub loudness_b_lufs: Option<f64>,
    /// Where the beats should be in the output, s: A's fitted grid over the
    /// whole output (lead-in, crossfade and tail, where stretched B follows
    /// it).
    pub expected_beats_s: Vec<f64>,
}

/// Renders the end of track A into the start of track B and writes `out`:
/// float 32 WAV for `.wav`, 24-bit FLAC for `.flac` (as
/// [`OutputFormat::for_path`] picks without a source). The output has A's
/// sample rate and channel count. See the [module docs](self) for the
/// method; files are decoded with [`FileSource`] and analysed with
/// [`analyze_file`], then mixed by [`render`].
///
/// Not real-time: decodes both files into memory and takes seconds.
/// `stop` is checked between blocks of every stage.
///
/// # Errors
/// - [`Error::InvalidParameter`] `crossfadeBeats` (0 or above 128), or `a`
///   / `b` when that track is too short for the crossfade (the message
///   gives its length).
/// - [`Error::UnsupportedFormat`] for an output extension other than
///   `.wav` / `.flac`, checked before any work.
/// - [`Error::NotFound`], [`Error::Decode`], [`Error::UnsupportedFormat`],
///   ... for the input files, naming them.
/// - [`Error::InvalidState`] "`<path>`: no tempo found; a beat-matched
///   transition needs a steady beat", or "the transition was stopped".
/// - [`Error::Io`] / [`Error::Encode`] when writing `out` fails.
pub fn render_transition(
    a: &Path,
    b: &Path,
    out: &Path,
    opts: &TransitionOptions,
    stop: &AtomicBool,
) -> Result<TransitionReport> {
    opts.validate()?;
    let format = OutputFormat::for_path(out, None, None)?;
    check_stop(stop)?;
    let track_a = PlanarTrack::read(a, stop)?;
    let track_b = PlanarTrack::read(b, stop)?;
    let timing_a = BeatTiming::analyze(a, stop)?;
    let timing_b = BeatTiming::analyze(b, stop)?;
    let names = [a.display().to_string(), b.display().to_string()];
    let (mix, report) = render_named(&track_a, &track_b, &timing_a, &timing_b, opts, stop, &names)?;
    drop((track_a, track_b));
    check_stop(stop)?;
    write_planar(out, format, report.sample_rate, &mix)?;
    Ok(report)
}

/// The in-memory core of [`render_transition`]: mixes `a` into `b` given
/// their timings (times in each track's own seconds). Returns the output
/// as planar `f32` (A's channel count x frames, at A's sample rate) and the
/// report. B is resampled to A's rate (rubato, via [`resample_planar`]) and
/// matched to A's channels: mono B is copied to every channel, everything
/// goes to mono A as the channel average, 5.1 B (L R C LFE Ls Rs) to stereo
/// A by the ITU-R BS.775 downmix without LFE, other narrower A keep B's
/// first channels with the rest folded in at −3 dB, and wider A get B's
/// channels first and silence in the rest.
///
/// Not real-time (allocates, stretches whole sections).
///
/// # Errors
/// - [`Error::InvalidParameter`]: bad options (`crossfadeBeats`), a track
///   too short for the crossfade (named `a` / `b`; the message says
///   "track A" / "track B" and gives its length), a zero sample rate
///   (`sampleRate`).
/// - [`Error::EmptyAudio`]: a track without channels or frames;
///   [`Error::Shape`]: channels of different lengths.
/// - [`Error::NonFiniteSample`]: NaN or infinity in either track.
/// - [`Error::InvalidState`]: a timing without a usable beat grid ("no
///   tempo found"), or "the transition was stopped".
pub fn render(
    a: &PlanarTrack,
    b: &PlanarTrack,
    timing_a: &BeatTiming,
    timing_b: &BeatTiming,
    opts: &TransitionOptions,
    stop: &AtomicBool,
) -> Result<(Vec<Vec<f32>>, TransitionReport)> {
    render_named(a, b, timing_a, timing_b, opts, stop, &["track A".into(), "track B".into()])
}

/// The error `stop` produces everywhere in this crate.
pub(crate) fn stopped() -> Error {
    Error::InvalidState { reason: "the transition was stopped".into() }
}

fn check_stop(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        Err(stopped())
    } else {
        Ok(())
    }
}

fn no_tempo(name: &str) -> Error {
    Error::InvalidState { reason: format!("{name}: no tempo found; a beat-matched transition needs a steady beat") }
}

fn check_track(t: &PlanarTrack, name: &str) -> Result<()> {
    if t.sample_rate == 0 {
        return Err(Error::param("sampleRate", format!("{name}: the sample rate is 0 Hz")));
    }
    if t.channels.is_empty() || t.frames() == 0 {
        return Err(Error::EmptyAudio { reason: format!("{name} has no channels or no frames") });
    }
    let frames = t.frames();
    if let Some(c) = t.channels.iter().position(|c| c.len() != frames) {
        return Err(Error::shape(format!(
            "{name}: channel {c} has {} frames, channel 0 has {frames}",
            t.channels[c].len()
        )));
    }
    for (c, ch) in t.channels.iter().enumerate() {
        if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteSample { frame: i as u64, channel: c, value: ch[i] });
        }
    }
    Ok(())
}

/// A grid fitted to `beats` (a window of the track's beats) and its bar
/// phase, from the downbeats or, without any near the window, from every
/// 4th beat of the whole track.
fn grid_with_phase(timing: &BeatTiming, window: &[f64], name: &str) -> Result<(Grid, i64)> {
    let g = if timing.bpm.is_finite() && timing.bpm > 0.0 { grid::fit(window, 60.0 / timing.bpm) } else { None };
    // Outside 20..400 BPM the fit has locked onto something other than a beat.
    let g = g.filter(|g| (0.15..=3.0).contains(&g.period)).ok_or_else(|| no_tempo(name))?;
    let (lo, hi) = (window[0] - g.period, window[window.len() - 1] + g.period);
    let every_4th: Vec<f64> = timing.beats_s.iter().copied().step_by(4).collect();
    let phase = grid::bar_phase(&g, &timing.downbeats_s, lo, hi)
        .or_else(|| grid::bar_phase(&g, &every_4th, lo, hi))
        .unwrap_or(0);
    Ok((g, phase))
}

/// The multiple of B's tempo (1, 2 or 1/2) that needs the least stretch,
/// for B's beat period `ratio` times A's.
fn tempo_multiple(ratio: f64) -> f64 {
    [1.0, 2.0, 0.5].into_iter().min_by(|x: &f64, y: &f64| (ratio / x).ln().abs().total_cmp(&(ratio / y).ln().abs())).unwrap_or(1.0)
}

fn too_short(param: &str, name: &str, len_s: f64, beats: u32, bpm: f64, need_s: f64) -> Error {
    Error::param(
        param,
        format!(
            "{name} is {len_s:.2} s long: too short for a {beats}-beat crossfade at {bpm:.1} BPM \
             ({need_s:.2} s from a downbeat)"
        ),
    )
}

fn render_named(
    a: &PlanarTrack,
    b: &PlanarTrack,
    timing_a: &BeatTiming,
    timing_b: &BeatTiming,
    opts: &TransitionOptions,
    stop: &AtomicBool,
    names: &[String; 2],
) -> Result<(Vec<Vec<f32>>, TransitionReport)> {
    opts.validate()?;
    check_track(a, &names[0])?;
    check_track(b, &names[1])?;
    check_stop(stop)?;
    let xf = f64::from(opts.crossfade_beats);

    // Timing: A's grid near its end, B's near its start.
    let beats_of = |t: &BeatTiming| -> Vec<f64> {
        let mut v: Vec<f64> = t.beats_s.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (beats_a, beats_b) = (beats_of(timing_a), beats_of(timing_b));
    if beats_a.is_empty() {
        return Err(no_tempo(&names[0]));
    }
    if beats_b.is_empty() {
        return Err(no_tempo(&names[1]));
    }
    let (grid_a, phase_a) = grid_with_phase(timing_a, &beats_a[beats_a.len().saturating_sub(FIT_BEATS)..], &names[0])?;
    let (grid_b, phase_b) = grid_with_phase(timing_b, &beats_b[..beats_b.len().min(FIT_BEATS)], &names[1])?;
    let tempo_b_bpm = 60.0 / grid_b.period;
    // Half or double time: B is mixed at the multiple of its tempo (1, 2 or
    // 1/2) nearest A's, as recommendations score it. Its grid is then
    // re-counted from one of its downbeats, where a bar spans `bar_b` beats
    // of the folded grid (8 at double time, 2 at half time).
    let tempo_multiple = tempo_multiple(grid_b.period / grid_a.period);
    let (grid_b, phase_b, bar_b) = if tempo_multiple == 1.0 {
        (grid_b, phase_b, 4)
    } else {
        let folded = Grid { t0: grid_b.time(phase_b), period: grid_b.period / tempo_multiple };
        (folded, 0, if tempo_multiple > 1.0 { 8 } else { 2 })
    };
    let (pa, pb) = (grid_a.period, grid_b.period);
    let (len_a, len_b) = (a.duration_s(), b.duration_s());

    // A's latest downbeat with the whole crossfade inside A.
    let mut ka = ((len_a - xf * pa - grid_a.t0) / pa).floor() as i64;
    ka -= (ka - phase_a).rem_euclid(4);
    let d = grid_a.time(ka);
    if d.is_nan() || d < 0.0 {
        return Err(too_short("a", &names[0], len_a, opts.crossfade_beats, 60.0 / pa, xf * pa));
    }
    // B's first downbeat from where its beat starts (a quarter beat of
    // slack, as the grid may put a beat at 0 s a hair before 0).
    let from = beats_b[0].max(0.0) - 0.25 * pb;
    let mut kb = grid_b.index(from).ceil() as i64;
    kb += (phase_b - kb).rem_euclid(bar_b);
    let bd = grid_b.time(kb);
    if bd + xf * pb > len_b + 1e-9 {
        return Err(too_short("b", &names[1], len_b, opts.crossfade_beats, 60.0 / pb, xf * pb));
    }
    let tail_avail = ((len_b - bd) / pb - xf + 1e-6).floor().max(0.0);
    let tail_beats = f64::from(opts.tail_beats).min(tail_avail) as u32;

    let mut ratio = pb / pa;
    if (ratio - 1.0).abs() < 1e-5 {
        ratio = 1.0;
    }

    // Output frames: the grid times are rounded once each, so the crossfade
    // and tail lengths never drift from A's grid by more than one frame.
    let rate = a.sample_rate;
    let sr = f64::from(rate);
    let a_start = (d - f64::from(opts.lead_in_beats) * pa).max(0.0);
    let a0 = (a_start * sr).round() as i64;
    let at = |t: f64| (t * sr).round() as i64 - a0;
    let xs = at(d).max(0) as usize;
    let xe = (at(d + xf * pa) as usize).max(xs + 1);
    let end = (at(d + (xf + f64::from(tail_beats)) * pa) as usize).max(xe);

    // B at A's rate and channel count, stretched from its downbeat on.
    let b_chans =
        if b.sample_rate == rate { b.channels.clone() } else { resample_planar(&b.channels, b.sample_rate, rate)? };
    // Stretch as few channels as possible: downmix before, upmix after.
    // (Identical channels also come out of the stretcher slightly
    // different, so mono B must be stretched once and then copied.)
    let n_out = a.channels.len();
    let b_chans = if b_chans.len() > n_out { match_channels(b_chans, n_out) } else { b_chans };
    check_stop(stop)?;
    let bd_frame = bd * sr;
    let b_len = end - xs;
    let stretched = if ratio == 1.0 {
        let first = bd_frame.round() as i64;
        b_chans.iter().map(|c| (0..b_len as i64).map(|j| sample_at(c, first + j)).collect()).collect::<Vec<Vec<f32>>>()
    } else {
        let start = (bd_frame - STRETCH_PRE_ROLL_S * sr).floor() as i64;
        let skip = ((bd_frame - start as f64) / ratio).round() as usize;
        let mut s = stretch_planar(&b_chans, rate, start, ratio, skip + b_len, stop)?;
        for c in &mut s {
            c.drain(..skip);
        }
        s
    };
    drop(b_chans);
    let stretched = match_channels(stretched, n_out);

    let (la, lb) = (timing_a.integrated_lufs, timing_b.integrated_lufs);
    let gain_b_db = match (opts.match_loudness, la, lb) {
        (true, Some(la), Some(lb)) if la.is_finite() && lb.is_finite() => (la - lb).clamp(-MAX_GAIN_DB, MAX_GAIN_DB),
        _ => 0.0,
    };
    let gain_b = 10f64.powf(gain_b_db / 20.0) as f32;

    let xf_frames = (xe - xs) as f64;
    let mut mix: Vec<Vec<f32>> = Vec::with_capacity(a.channels.len());
    let mut peak = 0f32;
    for (ca, cb) in a.channels.iter().zip(&stretched) {
        let mut o = Vec::with_capacity(end);
        for n in 0..end {
            let (ga, gb) = if n < xs {
                (1.0, 0.0)
            } else if n < xe {
                let x = (n - xs) as f64 / xf_frames * std::f64::consts::FRAC_PI_2;
                (x.cos() as f32, x.sin() as f32)
            } else {
                (0.0, 1.0)
            };
            let va = if ga != 0.0 { ga * sample_at(ca, a0 + n as i64) } else { 0.0 };
            let vb = if n >= xs { gb * gain_b * cb[n - xs] } else { 0.0 };
            let v = va + vb;
            peak = peak.max(v.abs());
            o.push(v);
        }
        mix.push(o);
    }
    let mut output_gain_db = 0.0;
    if peak > 1.0 {
        let g = 1.0 / peak;
        output_gain_db = 20.0 * f64::from(g).log10();
        for v in mix.iter_mut().flatten() {
            *v *= g;
        }
    }

    let a_start_s = a0 as f64 / sr;
    let duration_s = end as f64 / sr;
    let first_k = grid_a.index(a_start_s).ceil() as i64 - 1;
    let expected_beats_s: Vec<f64> = (first_k..)
        .map(|k| grid_a.time(k) - a_start_s)
        // Half a frame of slack: the output starts on the frame nearest a beat.
        .skip_while(|&t| t < -0.5 / sr)
        .take_while(|&t| t <= duration_s + 0.5 / sr)
        .collect();

    let report = TransitionReport {
        duration_s,
        sample_rate: rate,
        channels: mix.len(),
        tempo_a_bpm: 60.0 / pa,
        tempo_b_bpm,
        tempo_multiple,
        stretch_ratio: ratio,
        a_start_s,
        a_downbeat_s: d,
        b_downbeat_s: bd,
        crossfade_start_s: xs as f64 / sr,
        crossfade_end_s: xe as f64 / sr,
        tail_beats,
        gain_b_db,
        output_gain_db,
        loudness_a_lufs: la,
        loudness_b_lufs: lb,
        expected_beats_s,
    };
    Ok((mix, report))
}

fn sample_at(c: &[f32], i: i64) -> f32 {
    usize::try_from(i).ok().and_then(|i| c.get(i)).copied().unwrap_or(0.0)
}

/// B's channels laid out as `n` channels (see [`render`]).
fn match_channels(b: Vec<Vec<f32>>, n: usize) -> Vec<Vec<f32>> {
    let m = b.len();
    let frames = b.first().map_or(0, Vec::len);
    let mix = |weights: &[(usize, f32)]| -> Vec<f32> {
        (0..frames).map(|i| weights.iter().map(|&(c, w)| w * b[c][i]).sum()).collect()
    };
    const MINUS_3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    if m == n {
        b
    } else if m == 1 {
        vec![b[0].clone(); n]
    } else if n == 1 {
        let w = 1.0 / m as f32;
        vec![mix(&(0..m).map(|c| (c, w)).collect::<Vec<_>>())]
    } else if m == 6 && n == 2 {
        vec![mix(&[(0, 1.0), (2, MINUS_3DB), (4, MINUS_3DB)]), mix(&[(1, 1.0), (2, MINUS_3DB), (5, MINUS_3DB)])]
    } else if m > n {
        (0..n)
            .map(|o| {
                let mut w = vec![(o, 1.0)];
                w.extend((n..m).filter(|c| c % n == o).map(|c| (c, MINUS_3DB)));
                mix(&w)
            })
            .collect()
    } else {
        let mut out = b;
        out.resize(n, vec![0.0; frames]);
        out
    }
}

/// Writes planar audio to `out` in `format`, finalising the file even when
/// a write fails (the sinks keep what was written valid).
fn write_planar(out: &Path, format: OutputFormat, rate: u32, planar: &[Vec<f32>]) -> Result<()> {
    let mut sink = open_sink(out, format);
    sink.open(rate, planar.len())?;
    let frames = planar.first().map_or(0, Vec::len);
    let mut written = Ok(());
    for start in (0..frames).step_by(IO_BLOCK_FRAMES) {
        let stop = (start + IO_BLOCK_FRAMES).min(frames);
        let slices: Vec<&[f32]> = planar.iter().map(|c| &c[start..stop]).collect();
        written = AudioBuffer::from_planar(&slices).and_then(|buf| sink.write(&buf.as_block()));
        if written.is_err() {
            break;
        }
    }
    let finalized = sink.finalize();
    written.and(finalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_layouts_are_matched() {
        let b = vec![vec![1.0f32; 4], vec![2.0; 4]];
        assert_eq!(match_channels(b.clone(), 1), vec![vec![1.5; 4]]);
        assert_eq!(match_channels(vec![vec![0.5; 4]], 3), vec![vec![0.5; 4]; 3]);
        assert_eq!(match_channels(b.clone(), 3)[2], vec![0.0; 4]);
        let surround: Vec<Vec<f32>> = (0..6).map(|c| vec![c as f32; 2]).collect();
        let st = match_channels(surround, 2);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((st[0][0] - (0.0 + 2.0 * h + 4.0 * h)).abs() < 1e-6);
        assert!((st[1][0] - (1.0 + 2.0 * h + 5.0 * h)).abs() < 1e-6);
    }

    #[test]
    fn options_are_validated() {
        for beats in [0, MAX_CROSSFADE_BEATS + 1] {
            let o = TransitionOptions { crossfade_beats: beats, ..Default::default() };
            assert!(matches!(o.validate(), Err(Error::InvalidParameter { name, .. }) if name == "crossfadeBeats"));
        }
        TransitionOptions { crossfade_beats: MAX_CROSSFADE_BEATS, ..Default::default() }.validate().unwrap();
    }
}
