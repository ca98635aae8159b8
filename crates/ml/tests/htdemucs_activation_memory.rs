//! Issue 14, "HTDemucs memory": where ONNX Runtime keeps a run's
//! activations (`ActivationMemory`) must not change a sample. The fixture
//! model separates the parity clip (two segments, the second partial) three
//! times in one process, once per mode, and the stems are compared bit for
//! bit. `Planned` is asked for explicitly: HtDemucs::load turns it into
//! `Arena`, so its stems must equal `Arena`'s (two distinct session set-ups,
//! `Arena` and `Released`, run).

mod htdemucs_fixtures;

use htdemucs_fixtures::{dir, meta, wav};
use resonode_ml::htdemucs::{HtDemucs, SeparateOptions};
use resonode_ml::runtime::SessionOptions;
use resonode_ml::ActivationMemory;

fn separate(activations: ActivationMemory, x: &[Vec<f32>]) -> Vec<Vec<Vec<f32>>> {
    let opts = SessionOptions { intra_threads: 1, activations, ..SessionOptions::default() };
    let mut model = HtDemucs::load(&dir().join("htdemucs_tiny.onnx"), &opts).unwrap();
    model.separate(x, 44100, &SeparateOptions::default()).unwrap()
}

#[test]
fn every_activation_memory_mode_gives_the_same_stems() {
    let start: usize = meta("clip.start_frame_in_music_wav").parse().unwrap();
    let frames: usize = meta("clip.frames").parse().unwrap();
    let (x, _) = wav("../../../../../assets/music.wav");
    let x: Vec<Vec<f32>> = x.into_iter().map(|c| c[start..start + frames].to_vec()).collect();
    let arena = separate(ActivationMemory::Arena, &x);
    assert!(arena[0][0].iter().any(|&v| v != 0.0), "silent stems prove nothing");
    assert_eq!(arena[0][0].len(), frames);
    for mode in [ActivationMemory::Planned, ActivationMemory::Released] {
        let other = separate(mode, &x);
        for (s, (a, b)) in arena.iter().zip(&other).enumerate() {
            for (c, (ca, cb)) in a.iter().zip(b).enumerate() {
                assert!(
                    ca.iter().map(|v| v.to_bits()).eq(cb.iter().map(|v| v.to_bits())),
                    "{mode:?}: stem {s} channel {c} differs from Arena's"
                );
            }
        }
    }
}
