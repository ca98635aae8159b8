//! Real-time safety of the callback body: `Renderer::render`, with the
//! parameter queue carrying changes and the tap enabled, runs under an
//! allocation guard that aborts this test binary on any allocation,
//! deallocation or reallocation — for every built-in processor kind that
//! can run live, and for long chains. `normalize` (two-pass) is refused.
//!
//! The engine's own callback states (queues, events, clock marks, duplex
//! priming) are covered the same way by the crate's unit tests, which run
//! the clocked backend's callbacks under the guard.

use assert_no_alloc::assert_no_alloc;
use resonode_core::ring;
use resonode_device::{ParamChange, Renderer};
use resonode_dsp::registry::{self, parse_chain};

#[global_allocator]
static ALLOC_GUARD: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

#[path = "../../dsp/tests/common/kind_cases.rs"]
mod kind_cases;

/// The kinds that can run live: all but the two-pass `normalize`.
fn live_cases() -> impl Iterator<Item = &'static (&'static str, &'static [(&'static str, f64)])> {
    kind_cases::CASES.iter().filter(|(c, _)| !c.starts_with("normalize"))
}

const RATE: u32 = 48_000;
const BUFFER: usize = 256;

/// Interleaved test input: a sine per channel plus a little noise.
fn input(frames: usize, channels: usize) -> Vec<f32> {
    let mut x = 0x1234_5678u32;
    (0..frames * channels)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let (f, c) = (i / channels, i % channels);
            0.4 * (f as f32 * 0.03 * (c + 1) as f32).sin()
                + (x as f32 / u32::MAX as f32 - 0.5) * 0.05
        })
        .collect()
}

/// Renders `blocks` device buffers of varying sizes (including ones larger
/// than the renderer's block, which it splits) under the guard, sending
/// `params` (for processor `index`) one per buffer, reading the tap as a
/// consumer thread would.
fn run_guarded(
    chain_text: &str,
    params: &[(usize, &'static str, f64)],
    channels_in: usize,
    channels: usize,
) {
    let chain = parse_chain(chain_text).unwrap();
    let (mut param_tx, param_rx) = ring::channel_of::<ParamChange>(64, 1);
    let (tap_tx, mut tap_rx) = ring::channel(4096, channels);
    let mut r = Renderer::new(chain, RATE, channels_in, channels, BUFFER)
        .unwrap()
        .with_params(param_rx)
        .with_tap(tap_tx);
    let sizes = [BUFFER, 1, 37, BUFFER, 700, 128, BUFFER * 3];
    let max = *sizes.iter().max().unwrap();
    let inp = input(max, channels_in.max(1));
    let mut out = vec![0.0f32; max * channels];
    let mut tap_out = vec![0.0f32; 4096 * channels];
    let mut next_param = params.iter().cycle();
    assert_no_alloc(|| {
        for round in 0..40 {
            if !params.is_empty() {
                let &(processor, param, value) = next_param.next().unwrap();
                assert!(param_tx.push(ParamChange {
                    processor: processor as u32,
                    param,
                    value
                }));
            }
            let n = sizes[round % sizes.len()];
            r.render(&inp[..n * channels_in], &mut out[..n * channels]);
            if round % 3 == 0 {
                tap_rx.read(&mut tap_out);
            }
        }
    });
    let stats = r.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.callbacks.load(Relaxed), 40);
    assert_eq!(stats.params_rejected.load(Relaxed), 0, "{chain_text}");
    assert_eq!(
        stats.params_applied.load(Relaxed),
        if params.is_empty() { 0 } else { 40 }
    );
    assert!(out.iter().all(|s| s.is_finite()));
}

#[test]
fn every_real_time_kind_renders_without_allocating() {
    let kinds: Vec<&str> = registry::kinds()
        .iter()
        .map(|k| k.name)
        .filter(|k| *k != "normalize")
        .collect();
    for kind in &kinds {
        assert!(
            live_cases().any(|(c, _)| c.starts_with(kind)),
            "no case for `{kind}`"
        );
    }
    for (text, params) in live_cases() {
        let params: Vec<(usize, &'static str, f64)> =
            params.iter().map(|&(n, v)| (0, n, v)).collect();
        // Output-only (silent input), duplex mono -> stereo, stereo in/out.
        run_guarded(text, &params, 0, 2);
        run_guarded(text, &params, 1, 2);
        run_guarded(text, &params, 2, 2);
    }
}

#[test]
fn long_chains_render_without_allocating() {
    let text: String = live_cases().map(|(c, _)| *c).collect::<Vec<_>>().join(" ");
    let params: Vec<(usize, &'static str, f64)> = live_cases()
        .enumerate()
        .flat_map(|(i, (_, ps))| ps.iter().map(move |&(n, v)| (i, n, v)))
        .collect();
    run_guarded(&text, &params, 2, 2);
    // Twice as long, and 6 channels.
    let doubled = format!("{text} {text}");
    run_guarded(&doubled, &params, 6, 6);
}

#[test]
fn normalize_cannot_run_in_real_time() {
    let e = Renderer::new(
        parse_chain("gain(-1db) normalize").unwrap(),
        RATE,
        0,
        2,
        BUFFER,
    )
    .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_PARAMETER");
    assert!(e.to_string().contains("1 (normalize)"), "{e}");
}

/// The guard is real: an allocation inside it aborts the process. Checked
/// in a child process (this test binary re-run with a marker variable).
#[test]
fn an_allocation_inside_the_guard_aborts() {
    if std::env::var_os("RESONODE_ALLOC_PROBE").is_some() {
        assert_no_alloc(|| {
            let v: Vec<u8> = Vec::with_capacity(64);
            std::hint::black_box(v);
        });
        // Not reached when the guard works.
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_allocation_inside_the_guard_aborts",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("RESONODE_ALLOC_PROBE", "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(6),
        "expected SIGABRT, got {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
