//! Behaviour of each processor: click-free parameter changes, the limiter's
//! ceiling, normalisation accuracy, reverb decay, delay timing, and
//! independence from the block size.

mod common;

use common::*;
use resonode_core::{AudioBuffer, Processor};
use resonode_dsp::{registry, Delay, Gain, Limiter, LowPass, Normalize, Reverb};

const FS: u32 = 48_000;

// ---- Parameter changes keep state ----

/// Runs a 1 kHz sine through a lowpass whose cutoff moves every 64-frame
/// block between 300 Hz and 6 kHz; returns the largest sample-to-sample step.
fn swept_lowpass_max_jump(reset_on_change: bool) -> f64 {
    let mut lp = LowPass::new(1000.0, 4).unwrap();
    let mut buf = sine(1000.0, 0.5, FS, 1, 48_000);
    lp.prepare(&spec(FS, 1, 64)).unwrap();
    let frames = buf.frames();
    let mut whole = buf.as_block_mut();
    for (i, start) in (0..frames).step_by(64).enumerate() {
        let t = i as f64 / 40.0;
        let cutoff = 300.0 * 20f64.powf(0.5 + 0.5 * (t * std::f64::consts::TAU).sin());
        lp.set_parameter("cutoff", cutoff).unwrap();
        if reset_on_change {
            lp.reset();
        }
        lp.process(&mut whole.slice_mut(start, 64.min(frames - start)));
    }
    // Skip the first block's onset transient.
    max_jump(&buf.channel(0)[256..])
}

#[test]
fn sweeping_the_cutoff_every_block_does_not_click() {
    let smooth = swept_lowpass_max_jump(false);
    let clicky = swept_lowpass_max_jump(true);
    // The sine itself moves at most 2 pi 1000 / 48000 * 0.5 = 0.065 per
    // sample; the moving filter may add a little, a click adds a lot.
    let sine_step = 2.0 * std::f64::consts::PI * 1000.0 / 48000.0 * 0.5;
    eprintln!("max step: sweeping {smooth}, reset per change {clicky}, sine {sine_step}");
    assert!(smooth < 1.5 * sine_step, "max step {smooth} while sweeping");
    assert!(
        clicky > 3.0 * smooth,
        "reset-per-change should click: {clicky} vs {smooth}"
    );
}

#[test]
fn gain_changes_ramp_over_5ms_across_blocks() {
    let mut g = Gain::from_db(0.0).unwrap();
    g.prepare(&spec(FS, 2, 37)).unwrap();
    let mut buf = AudioBuffer::from_planar(&[vec![1.0f32; 1000], vec![-1.0f32; 1000]]).unwrap();
    {
        let mut whole = buf.as_block_mut();
        g.process(&mut whole.slice_mut(0, 37));
        g.set_parameter("db", -20.0).unwrap();
        let mut start = 37;
        while start < 1000 {
            let len = 37.min(1000 - start);
            g.process(&mut whole.slice_mut(start, len));
            start += len;
        }
    }
    let x = buf.channel(0);
    let ramp = 240; // 5 ms at 48 kHz
    assert!(x[..37].iter().all(|&v| v == 1.0));
    // Strictly decreasing over the ramp, by equal steps, then settled.
    let step = (1.0 - 0.1) / ramp as f64;
    for (i, &v) in x.iter().enumerate().skip(37).take(ramp) {
        let want = 1.0 - step * (i - 36) as f64;
        assert!((v as f64 - want).abs() < 1e-6, "frame {i}: {v} vs {want}");
    }
    assert!(x[37 + ramp..].iter().all(|&v| (v - 0.1).abs() < 1e-6));
    assert!(max_jump(x) <= step + 1e-6, "zipper: {}", max_jump(x));
    // Both channels follow the same ramp.
    assert!(buf.channel(1).iter().zip(x).all(|(a, b)| *a == -*b));
    assert!((g.parameter("linear").unwrap() - 0.1).abs() < 1e-12);
}

// ---- Limiter ----

#[test]
fn limiter_output_never_exceeds_the_ceiling() {
    for (ceiling_db, release) in [
        (0.0, 50.0),
        (-0.1, 5.0),
        (-1.0, 50.0),
        (-6.0, 200.0),
        (-20.0, 0.0),
    ] {
        let ceiling = 10f64.powf(ceiling_db / 20.0);
        let mut lim = Limiter::new(ceiling_db, release).unwrap();
        lim.prepare(&spec(FS, 2, 300)).unwrap();
        // Loud noise with bursts: peaks up to 20x full scale.
        let mut buf = noise(7, 20.0, 2, 5 * FS as usize);
        for (i, s) in buf.channel_mut(1).iter_mut().enumerate() {
            if (i / 4800) % 3 == 0 {
                *s *= 0.01;
            }
        }
        let mut start = 0;
        for (k, len) in [1usize, 300, 17, 256].iter().cycle().enumerate() {
            if start >= buf.frames() {
                break;
            }
            let len = (*len).min(buf.frames() - start);
            if k % 50 == 0 {
                lim.set_parameter("release", release).unwrap();
            }
            lim.process(&mut buf.as_block_mut().slice_mut(start, len));
            start += len;
        }
        for c in 0..2 {
            let peak = buf
                .channel(c)
                .iter()
                .fold(0.0f64, |m, &v| m.max((v as f64).abs()));
            assert!(
                peak <= ceiling,
                "ceiling {ceiling_db} dB: peak {peak} > {ceiling}"
            );
            assert!(
                peak > ceiling * 0.9,
                "limiter should not squash everything: {peak}"
            );
        }
    }
}

#[test]
fn limiter_is_transparent_below_the_ceiling_and_releases() {
    let mut lim = Limiter::new(-1.0, 10.0).unwrap();
    lim.prepare(&spec(FS, 2, 512)).unwrap();
    let quiet = sine(440.0, 0.5, FS, 2, 4800);
    let mut buf = quiet.clone();
    run_blocks(&mut lim, &mut buf, 512);
    assert_eq!(buf, quiet, "a signal below the ceiling passes unchanged");
    // A loud burst pulls the gain down; 10 time constants later it is back.
    let mut burst = sine(440.0, 4.0, FS, 2, 480);
    run_blocks(&mut lim, &mut burst, 512);
    assert!(lim.current_gain() < 0.25);
    let mut tail = sine(440.0, 0.1, FS, 2, 4800);
    run_blocks(&mut lim, &mut tail, 512);
    assert!(lim.current_gain() > 0.9999, "gain {}", lim.current_gain());
}

#[test]
fn limiter_links_channels() {
    let mut lim = Limiter::new(-6.0, 50.0).unwrap();
    lim.prepare(&spec(FS, 2, 64)).unwrap();
    let mut buf = AudioBuffer::from_planar(&[vec![1.0f32; 64], vec![0.25f32; 64]]).unwrap();
    run_blocks(&mut lim, &mut buf, 64);
    let ratio = buf.channel(1)[10] / buf.channel(0)[10];
    assert!(
        (ratio - 0.25).abs() < 1e-6,
        "the quiet channel is scaled by the same gain: {ratio}"
    );
}

// ---- Normalize ----

fn normalize(p: &mut Normalize, buf: &mut AudioBuffer, block: usize) {
    p.prepare(&spec(FS, buf.channels(), block)).unwrap();
    let frames = buf.frames();
    for start in (0..frames).step_by(block) {
        p.analyze(&buf.as_block().slice(start, block.min(frames - start)));
    }
    p.finish_analysis();
    p.reset(); // as the pipeline does before the final pass
    run_blocks(p, buf, block);
}

#[test]
fn normalize_hits_the_target_peak() {
    for target in [-1.0, -0.1, -12.0, 6.0] {
        let mut buf = noise(3, 0.3, 2, 20_000);
        buf.channel_mut(1)[12_345] = -0.42; // the peak, on the second channel
        let mut p = Normalize::new(target).unwrap();
        assert!(p.needs_analysis());
        normalize(&mut p, &mut buf, 333);
        let peak = (0..2)
            .flat_map(|c| buf.channel(c).to_vec())
            .fold(0.0f64, |m, v| m.max((v as f64).abs()));
        let peak_db = 20.0 * peak.log10();
        assert!(
            (peak_db - target).abs() < 0.01,
            "target {target}: got {peak_db} dB"
        );
        assert_eq!(p.measured_peak(), Some(0.42f32 as f64));
    }
}

#[test]
fn normalize_leaves_silence_alone_and_follows_peak_changes() {
    let mut silent = AudioBuffer::new(1, 100);
    silent.set_frames(100);
    let mut p = Normalize::default();
    normalize(&mut p, &mut silent, 64);
    assert_eq!(p.gain(), 1.0);
    assert!(silent.channel(0).iter().all(|&v| v == 0.0));

    let mut buf = AudioBuffer::from_planar(&[vec![0.5f32; 10]]).unwrap();
    normalize(&mut p, &mut buf, 64);
    p.set_parameter("peak", -6.0206).unwrap();
    assert!(
        (p.gain() - 1.0).abs() < 1e-4,
        "0.5 is already -6.02 dBFS: {}",
        p.gain()
    );
}

// ---- Reverb ----

/// Energy of the reverb's response to an impulse, per window of `win`
/// frames, for `seconds`, with the dry path off.
fn reverb_ir_energy(room: f64, seconds: f64, win: usize) -> Vec<f64> {
    let mut r = Reverb::new(room, 0.5, 0.33, 0.0, 1.0).unwrap();
    r.prepare(&spec(FS, 2, 512)).unwrap();
    let n = (seconds * FS as f64) as usize;
    let mut buf = AudioBuffer::new(2, n);
    buf.set_frames(n);
    buf.channel_mut(0)[0] = 1.0;
    buf.channel_mut(1)[0] = 1.0;
    run_blocks(&mut r, &mut buf, 512);
    let x = buf.channel(0);
    x.chunks(win)
        .map(|w| w.iter().map(|&v| (v as f64).powi(2)).sum())
        .collect()
}

#[test]
fn reverb_impulse_response_decays_and_grows_with_room_size() {
    let small = reverb_ir_energy(0.2, 2.0, FS as usize / 4);
    let large = reverb_ir_energy(0.9, 2.0, FS as usize / 4);
    // Something comes out, and it decays window by window after the build-up.
    assert!(small[0] > 1e-6 && large[0] > 1e-6);
    for e in [&small, &large] {
        for w in e[1..].windows(2) {
            assert!(w[1] < w[0], "energy must decay: {e:?}");
        }
    }
    // Tail energy after 1 s relative to the first quarter second.
    let tail = |e: &Vec<f64>| e[4..].iter().sum::<f64>() / e[0];
    assert!(
        tail(&large) > 100.0 * tail(&small),
        "large {} vs small {}",
        tail(&large),
        tail(&small)
    );
}

#[test]
fn reverb_stays_finite_on_ten_seconds_of_loud_noise() {
    let mut r = Reverb::new(1.0, 0.0, 1.0, 1.0, 1.0).unwrap();
    r.prepare(&spec(44_100, 2, 1024)).unwrap();
    let mut buf = noise(11, 1.0, 2, 10 * 44_100);
    run_blocks(&mut r, &mut buf, 1024);
    let peak = buf
        .as_block()
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(buf.as_block().find_non_finite().is_none());
    assert!(peak < 20.0, "peak {peak}");
}

#[test]
fn reverb_dry_only_is_identity_and_odd_channel_counts_work() {
    for channels in [1, 2, 3] {
        let input = noise(5, 0.5, channels, 3000);
        let mut r = Reverb::new(0.5, 0.5, 0.0, 1.0, 1.0).unwrap();
        r.prepare(&spec(FS, channels, 256)).unwrap();
        let mut buf = input.clone();
        run_blocks(&mut r, &mut buf, 256);
        assert_eq!(buf, input, "{channels} channels, wet 0");
        // With wet on, every channel (including a lone last one) gets a tail.
        let mut r = Reverb::default();
        r.prepare(&spec(FS, channels, 256)).unwrap();
        let mut buf = input.clone();
        run_blocks(&mut r, &mut buf, 256);
        for c in 0..channels {
            assert!(
                max_abs_diff(buf.channel(c), input.channel(c)) > 1e-3,
                "channel {c} of {channels}"
            );
        }
    }
}

#[test]
fn reverb_tunings_follow_the_sample_rate() {
    // The tank is silent until the shortest comb (1116 samples at 44.1 kHz,
    // +23 on the right) first echoes; that frame scales with the rate.
    let first = |fs: u32, channel: usize| {
        let mut r = Reverb::new(0.5, 0.5, 1.0, 0.0, 1.0).unwrap();
        r.prepare(&spec(fs, 2, 4096)).unwrap();
        let mut buf = AudioBuffer::new(2, 4096);
        buf.set_frames(4096);
        buf.channel_mut(0)[0] = 1.0;
        run_blocks(&mut r, &mut buf, 4096);
        buf.channel(channel).iter().position(|v| *v != 0.0).unwrap()
    };
    assert_eq!(first(44_100, 0), 1116);
    assert_eq!(first(44_100, 1), 1116 + 23);
    assert_eq!(first(88_200, 0), 2232);
    assert_eq!(first(48_000, 0), 1215); // 1116 * 48000 / 44100 = 1214.7
}

// ---- Delay ----

#[test]
fn delay_impulse_arrives_at_exactly_the_rounded_time() {
    for (fs, time_ms) in [
        (48_000u32, 10.4),
        (44_100, 12.5),
        (48_000, 250.0),
        (22_050, 1000.0),
    ] {
        let d = (time_ms * fs as f64 / 1000.0).round() as usize;
        let (fb, mix) = (0.5, 0.4);
        let mut p = Delay::new(time_ms, fb, mix).unwrap();
        p.prepare(&spec(fs, 2, 37)).unwrap();
        assert_eq!(p.delay_frames(), d);
        let n = 3 * d + 10;
        let mut buf = AudioBuffer::new(2, n);
        buf.set_frames(n);
        buf.channel_mut(0)[0] = 1.0;
        buf.channel_mut(1)[5] = 1.0;
        run_blocks(&mut p, &mut buf, 37);
        let x = buf.channel(0);
        let mut want = vec![0.0f32; n];
        want[0] = (1.0 - mix) as f32;
        want[d] = mix as f32;
        want[2 * d] = (mix * fb) as f32;
        want[3 * d] = (mix * fb * fb) as f32;
        for i in 0..n {
            assert!(
                (x[i] - want[i]).abs() < 1e-6,
                "fs {fs}, {time_ms} ms: frame {i} = {}, want {}",
                x[i],
                want[i]
            );
        }
        // The other channel has its own line.
        assert!((buf.channel(1)[5 + d] - mix as f32).abs() < 1e-6);
        assert_eq!(buf.channel(1)[d], 0.0);
    }
}

#[test]
fn delay_time_is_bounded_by_the_maximum() {
    let mut p = Delay::new(100.0, 0.0, 1.0).unwrap();
    assert!(p.set_parameter("time", 2500.0).is_err());
    assert!(Delay::new(2500.0, 0.0, 1.0).is_err());
    let mut long = Delay::with_max_time(2500.0, 0.0, 1.0, 3000.0).unwrap();
    long.prepare(&spec(8000, 1, 64)).unwrap();
    assert_eq!(long.delay_frames(), 20_000);
    assert!(p.set_parameter("feedback", 1.0).is_err());
}

// ---- Every kind: block-size independence ----

#[test]
fn every_processor_gives_the_same_output_for_any_block_size() {
    let chain = "gain(-3db) highpass(120, 3) lowpass(5khz, order=8) biquad(peaking, 2khz, 1.5, 4db) \
                 normalize(-2db) limiter(-3db, 20ms) reverb(0.6, 0.4, 0.3, 0.8, 0.7) delay(12ms, 0.4, 0.3)";
    let specs = resonode_core::chain_spec::parse(chain).unwrap();
    let input = noise(99, 0.8, 2, 9000);
    for s in &specs {
        let mut reference: Option<AudioBuffer> = None;
        for bs in [1, 37, 512, 9000] {
            let mut p = registry::create(s).unwrap();
            p.prepare(&spec(FS, 2, bs)).unwrap();
            let mut buf = input.clone();
            if p.needs_analysis() {
                for start in (0..9000).step_by(bs) {
                    p.analyze(&input.as_block().slice(start, bs.min(9000 - start)));
                }
                p.finish_analysis();
            }
            run_blocks(p.as_mut(), &mut buf, bs);
            match &reference {
                None => reference = Some(buf),
                Some(r) => {
                    for c in 0..2 {
                        let e = max_abs_diff(buf.channel(c), r.channel(c));
                        assert!(e < 1e-6, "{}: block {bs} differs by {e}", s.kind);
                    }
                }
            }
        }
        assert!(
            max_abs_diff(reference.unwrap().channel(0), input.channel(0)) > 1e-3,
            "{} did nothing",
            s.kind
        );
    }
}
