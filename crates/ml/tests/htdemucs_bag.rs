//! An `htdemucs_ft`-like bag: four tiny random HTDemucs with htdemucs_ft's
//! one-hot per-source weights (model i gives source i), exported by
//! `scripts/export_htdemucs.py`'s `--tiny-bag` path exactly as
//! `--name htdemucs_ft` is (`htdemucs_ft_tiny.0.onnx ... .3.onnx`, weights
//! in the metadata). resonode's separation of a real clip (4.6 s of
//! `assets/music.wav`) must match PyTorch's
//! `apply_model(BagOfModels, mix, shifts=0, split=True, overlap=0.25)` with
//! demucs' Separator normalisation, which applies every member on its own
//! and sums the stems weighted per source, divided by the summed weights.
//! resonode weights the members per segment instead; the crossfade is
//! linear, so the two agree to rounding. Fixtures:
//! `tests/fixtures/htdemucs_ft_tiny/` (`scripts/make_htdemucs_fixtures.py
//! --only bag`).

mod htdemucs_fixtures;

use std::path::PathBuf;

use htdemucs_fixtures::{assert_stems_match, fixture_dir, meta_in, music_clip};
use resonode_core::Control;
use resonode_ml::htdemucs::HtDemucs;
use resonode_ml::runtime::SessionOptions;
use resonode_ml::separation::{self, SeparationConfig, SeparationInput};

fn bag_dir() -> PathBuf {
    fixture_dir("htdemucs_ft_tiny")
}

fn clip() -> Vec<Vec<f32>> {
    let d = bag_dir();
    music_clip(
        meta_in(&d, "clip.start_frame_in_music_wav").parse().unwrap(),
        meta_in(&d, "clip.frames").parse().unwrap(),
    )
}

fn sources() -> Vec<String> {
    meta_in(&bag_dir(), "sources").split(',').map(str::to_string).collect()
}

fn config() -> SeparationConfig {
    SeparationConfig {
        session: SessionOptions { intra_threads: 1, ..SessionOptions::default() },
        // `name.onnx` does not exist: `name.0.onnx ...` load as the bag.
        ..SeparationConfig::new(bag_dir().join("htdemucs_ft_tiny.onnx"))
    }
}

#[test]
fn every_member_of_the_bag_is_loaded_from_any_of_its_files() {
    for name in ["htdemucs_ft_tiny.onnx", "htdemucs_ft_tiny.0.onnx", "htdemucs_ft_tiny.2.onnx"] {
        let m = HtDemucs::load(&bag_dir().join(name), &SessionOptions::default()).unwrap();
        let info = m.info();
        assert_eq!(info.bag_size, 4, "{name}");
        assert_eq!(info.sources, sources());
        assert_eq!(info.segment.to_string(), meta_in(&bag_dir(), "segment_samples"));
        let mut paths = info.paths.clone();
        paths.sort();
        let want: Vec<String> =
            (0..4).map(|i| bag_dir().join(format!("htdemucs_ft_tiny.{i}.onnx")).to_string_lossy().into_owned()).collect();
        assert_eq!(paths, want, "{name}");
    }
}

#[test]
fn bag_separation_matches_pytorch_apply_model_on_the_bag() {
    let x = clip();
    let input = || SeparationInput::Planar { channels: x.clone(), sample_rate: 44100 };
    let whole = separation::separate(input(), &config()).unwrap();
    assert_eq!(whole.stem_names, sources());
    assert_stems_match(&whole.stems, &bag_dir(), "ref_", &sources(), "bag separate");
    // The long path (bounded memory) gives the same stems.
    let long = separation::separate_long(input(), &config(), None, &Control::default(), |_| {}).unwrap();
    assert_eq!(long.stems, whole.stems);
}

#[test]
fn each_stem_comes_from_its_own_member() {
    // With one-hot weights, stem i of the bag is stem i of member i alone,
    // bit for bit, and the other stems are not member i's.
    let x = clip();
    let bag = separation::separate(SeparationInput::Planar { channels: x.clone(), sample_rate: 44100 }, &config())
        .unwrap();
    let (_, opts) = config().load().unwrap();
    for i in [0usize, 3] {
        let path = bag_dir().join(format!("htdemucs_ft_tiny.{i}.onnx"));
        let mut m = HtDemucs::load_bag(&[path], &config().session).unwrap();
        assert_eq!(m.info().bag_size, 1);
        let alone = m.separate(&x, 44100, &opts).unwrap();
        assert_eq!(alone[i], bag.stems[i], "stem {i}");
        assert!(htdemucs_fixtures::peak(&alone[i].concat()) > 1e-3);
        let other = (i + 1) % 4;
        let diff = htdemucs_fixtures::max_abs_diff(&alone[other].concat(), &bag.stems[other].concat());
        assert!(diff > 1e-3, "stem {other} of the bag must come from member {other}, not {i}");
    }
}
