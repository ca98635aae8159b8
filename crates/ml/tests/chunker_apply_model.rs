//! The chunked separation engine against `demucs.apply.apply_model`
//! (fixtures from scripts/make_htdemucs_fixtures.py, run with a cheap fake
//! model), and the streaming / long-file entry points against each other.

mod common;
mod htdemucs_fixtures;

use common::Rng;
use htdemucs_fixtures::{array, meta};
use resonode_core::{PlanarSource, Result};
use resonode_ml::chunker::{
    concat_regions, separate, separate_long, ChunkerConfig, Crossfade, LongOptions, Region, RegionStream, Stems,
    StreamingSeparator,
};

/// The fixture script's `FakeModel.forward`, in f64 like PyTorch's:
/// stem 0 = x * (1 + t/L) + 0.25 * mean_t(x) per channel;
/// stem 1 = x with channels reversed * (t/L)^2 - mean(|x|).
fn fake_model(seg: &[Vec<f32>]) -> Result<Stems> {
    let l = seg[0].len();
    let ch = seg.len();
    let means: Vec<f64> = seg.iter().map(|c| c.iter().map(|&v| v as f64).sum::<f64>() / l as f64).collect();
    let abs_mean = seg.iter().flatten().map(|&v| (v as f64).abs()).sum::<f64>() / (l * ch) as f64;
    let s0 = (0..ch)
        .map(|c| (0..l).map(|i| (seg[c][i] as f64 * (1.0 + i as f64 / l as f64) + 0.25 * means[c]) as f32).collect())
        .collect();
    let s1 = (0..ch)
        .map(|c| {
            (0..l)
                .map(|i| {
                    let t = i as f64 / l as f64;
                    (seg[ch - 1 - c][i] as f64 * t * t - abs_mean) as f32
                })
                .collect()
        })
        .collect();
    Ok(vec![s0, s1])
}

fn case_config(name: &str) -> (ChunkerConfig, usize) {
    let m = meta(&format!("chunker.{name}"));
    let get = |k: &str| -> f64 {
        m.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{k}="))).unwrap().parse().unwrap()
    };
    let cfg = ChunkerConfig {
        segment: get("segment") as usize,
        overlap: get("overlap"),
        crossfade: Crossfade::Triangular { transition_power: get("transition_power") },
    };
    (cfg, get("length") as usize)
}

fn planar(shape: &[usize], data: &[f32]) -> Vec<Vec<f32>> {
    let n = *shape.last().unwrap();
    data.chunks(n).map(<[f32]>::to_vec).collect()
}

#[test]
fn matches_apply_model_on_every_case() {
    for name in ["a", "b", "c", "d"] {
        let (cfg, len) = case_config(name);
        let (ishape, input) = array(&format!("chunker/{name}_in.f32"));
        let (_, reference) = array(&format!("chunker/{name}_out.f32"));
        let x = planar(&ishape, &input);
        assert_eq!(x[0].len(), len);
        let out = separate(&x, &cfg, fake_model).unwrap();
        let flat: Vec<f32> = out.iter().flatten().flatten().copied().collect();
        assert_eq!(flat.len(), reference.len());
        let err = flat.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let peak = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        println!("case {name} ({cfg:?}, {len} frames): max abs error {err:.2e} (peak {peak:.2})");
        assert!(err <= 2e-6 * peak, "case {name}: max abs error {err}");
    }
}

fn check_regions(regions: &[Region], total: usize) {
    let mut next = 0u64;
    for (i, r) in regions.iter().enumerate() {
        assert_eq!(r.chunk_idx, i);
        assert_eq!(r.start, next);
        assert_eq!(r.is_last, i + 1 == regions.len());
        next += r.frames() as u64;
    }
    assert_eq!(next, total as u64);
}

#[test]
fn streaming_with_random_blocks_equals_separate_long_exactly() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let configs = [
        ChunkerConfig::demucs(1000),
        ChunkerConfig { segment: 999, overlap: 0.5, crossfade: Crossfade::Triangular { transition_power: 2.0 } },
        ChunkerConfig { segment: 640, overlap: 0.8, crossfade: Crossfade::RaisedCosine },
        ChunkerConfig { segment: 500, overlap: 0.0, crossfade: Crossfade::default() },
    ];
    for cfg in configs {
        for len in [1usize, 499, 500, 501, 4321, 7000] {
            let x = rng.signal(2, len);
            // separate_long: fixed reads.
            let mut long_regions = Vec::new();
            let mut src = PlanarSource::new(x.clone(), 1000).unwrap();
            let mut progress = Vec::new();
            let stats = separate_long(
                &mut src,
                &cfg,
                fake_model,
                &LongOptions { read_frames: 777 },
                |r| {
                    long_regions.push(r);
                    Ok(())
                },
                |p| progress.push(p.frames),
            )
            .unwrap();
            assert_eq!(stats.frames_in, len as u64);
            assert_eq!(stats.frames_out, len as u64);
            assert_eq!(stats.chunks as u64, cfg.chunk_count(len as u64));
            assert!(stats.time_to_first_audio.is_some());
            assert_eq!(progress.last().copied(), Some(len as u64));
            check_regions(&long_regions, len);

            // Streaming: random block sizes, including empty blocks.
            for trial in 0..3 {
                let mut sep = StreamingSeparator::new(cfg.clone(), 2, fake_model).unwrap();
                let mut regions = Vec::new();
                let mut pos = 0;
                while pos < len {
                    let max = [7u64, 300, 2500][trial];
                    let n = rng.below(max + 1).min(len - pos);
                    let block: Vec<&[f32]> = x.iter().map(|c| &c[pos..pos + n]).collect();
                    regions.extend(sep.push(&block).unwrap());
                    pos += n;
                }
                regions.extend(sep.finish().unwrap());
                check_regions(&regions, len);
                assert_eq!(regions.len(), long_regions.len());
                for (a, b) in regions.iter().zip(&long_regions) {
                    assert_eq!(a, b, "{cfg:?}, length {len}: streaming differs from separate_long");
                }
            }
            // ...and the whole-signal entry point.
            assert_eq!(separate(&x, &cfg, fake_model).unwrap(), concat_regions(long_regions));
        }
    }
}

#[test]
fn regions_come_as_soon_as_they_are_final() {
    let cfg = ChunkerConfig::demucs(1000); // stride 750
    let mut calls = 0;
    let mut sep = StreamingSeparator::new(cfg, 1, |s: &[Vec<f32>]| {
        calls += 1;
        Ok(vec![s.to_vec()])
    })
    .unwrap();
    assert!(sep.push(&[vec![0.1f32; 999]]).unwrap().is_empty());
    assert_eq!(sep.chunks_done(), 0);
    // The first full segment runs the model; its region [0, 750) is final
    // once a frame past 750 exists (it has).
    let r = sep.push(&[vec![0.1f32; 1]]).unwrap();
    assert_eq!(sep.chunks_done(), 1);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].start, r[0].frames(), r[0].chunk_idx, r[0].is_last), (0, 750, 0, false));
    let last = sep.finish().unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].start, last[0].frames(), last[0].is_last), (750, 250, true));
    drop(sep);
    assert_eq!(calls, 2);
}

#[test]
fn identity_model_reconstructs_the_input_with_any_crossfade() {
    let x = Rng(42).signal(2, 5555);
    for crossfade in [Crossfade::default(), Crossfade::Triangular { transition_power: 3.0 }, Crossfade::RaisedCosine] {
        let cfg = ChunkerConfig { segment: 1024, overlap: 0.25, crossfade };
        let out = separate(&x, &cfg, |s: &[Vec<f32>]| Ok(vec![s.to_vec()])).unwrap();
        for c in 0..2 {
            let err = out[0][c].iter().zip(&x[c]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-6, "{crossfade:?}: {err}");
        }
    }
}

#[test]
fn the_model_sees_real_context_and_zeros_only_beyond_the_signal() {
    // 1000-frame segment over 1100 frames: chunk 1 starts at 750 with 350
    // real frames; it is padded by 325 on each side: [425, 1425), where
    // frames >= 1100 are zeros.
    let x: Vec<f32> = (0..1100).map(|i| i as f32 + 1.0).collect();
    let mut seen = Vec::new();
    separate(&[x], &ChunkerConfig::demucs(1000), |s: &[Vec<f32>]| {
        seen.push(s[0].clone());
        Ok(vec![s.to_vec()])
    })
    .unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0][0], 1.0);
    assert_eq!(seen[1][0], 426.0);
    assert_eq!(seen[1][674], 1100.0);
    assert!(seen[1][675..].iter().all(|&v| v == 0.0));
}

#[test]
fn errors() {
    let cfg = ChunkerConfig::demucs(100);
    let empty: [Vec<f32>; 1] = [vec![]];
    assert_eq!(separate(&empty, &cfg, fake_model).unwrap_err().code(), "ERR_EMPTY_AUDIO");
    let bad = separate(&[vec![0.0f32; 150]], &cfg, |_: &[Vec<f32>]| Ok(vec![vec![vec![0.0; 99]]]));
    assert_eq!(bad.unwrap_err().code(), "ERR_SHAPE");
    let mut sep = StreamingSeparator::new(cfg.clone(), 2, fake_model).unwrap();
    assert_eq!(sep.push(&[vec![0.0f32; 3]]).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(sep.push(&[vec![0.0f32; 3], vec![f32::NAN; 3]]).unwrap_err().code(), "ERR_NON_FINITE_SAMPLE");
    sep.push(&[vec![0.0f32; 3], vec![0.0; 3]]).unwrap();
    sep.finish().unwrap();
    assert_eq!(sep.push(&[vec![0.0f32; 3], vec![0.0; 3]]).unwrap_err().code(), "ERR_INVALID_STATE");
    let mut src = PlanarSource::new(vec![vec![0.5; 10]], 1000).unwrap();
    assert!(RegionStream::new(&mut src, &cfg, fake_model, &LongOptions { read_frames: 0 }).is_err());
}
