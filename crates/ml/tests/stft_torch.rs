//! The Rust STFT/iSTFT against `torch.stft` / `torch.istft` and HTDemucs'
//! `_spec` / `_ispec` (fixtures from scripts/make_htdemucs_fixtures.py), and
//! round trips.

mod htdemucs_fixtures;

use htdemucs_fixtures::{array, max_abs_diff, peak};
use realfft::num_complex::Complex32;
use resonode_ml::stft::{hann_window, pad, sqrt_hann_window, HtdemucsSpec, PadMode, Spectrogram, Stft, StftConfig};

/// `[..., bins, frames, 2]` planes of channel `c` into a Spectrogram.
fn spectrogram(shape: &[usize], data: &[f32], c: usize) -> Spectrogram {
    let (bins, frames) = (shape[shape.len() - 3], shape[shape.len() - 2]);
    let base = c * bins * frames * 2;
    let v = (0..bins * frames).map(|i| Complex32::new(data[base + 2 * i], data[base + 2 * i + 1])).collect();
    Spectrogram::from_vec(bins, frames, v).unwrap()
}

/// Max |a - b| over all bins relative to max |b|.
fn spec_rel_err(a: &Spectrogram, b: &Spectrogram) -> f32 {
    assert_eq!((a.bins(), a.frames()), (b.bins(), b.frames()));
    let err = a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).norm()).fold(0.0, f32::max);
    let peak = b.as_slice().iter().map(|y| y.norm()).fold(0.0, f32::max);
    err / peak
}

fn channel(shape: &[usize], data: &[f32], c: usize) -> Vec<f32> {
    let n = *shape.last().unwrap();
    data[c * n..(c + 1) * n].to_vec()
}

#[test]
fn htdemucs_spec_matches_torch() {
    let (ishape, input) = array("stft/spec_in.f32");
    let (oshape, out) = array("stft/spec_out.f32");
    let mut hs = HtdemucsSpec::new(4096).unwrap();
    let mut worst = 0.0f32;
    for c in 0..2 {
        let z = hs.spec(&channel(&ishape, &input, c)).unwrap();
        assert_eq!((z.bins(), z.frames()), (2048, 6));
        worst = worst.max(spec_rel_err(&z, &spectrogram(&oshape, &out, c)));
    }
    println!("HTDemucs._spec: max abs error {worst:.3e} of the peak magnitude");
    assert!(worst < 1e-5, "relative error {worst}");
    // 1000 samples: shorter than the padding, demucs' pad1d extends with zeros.
    let (sshape, short) = array("stft/spec_short_out.f32");
    for c in 0..2 {
        let z = hs.spec(&channel(&ishape, &input, c)[..1000]).unwrap();
        assert_eq!((z.bins(), z.frames()), (2048, 1));
        let e = spec_rel_err(&z, &spectrogram(&sshape, &short, c));
        assert!(e < 1e-5, "short signal: relative error {e}");
    }
}

#[test]
fn htdemucs_ispec_matches_torch() {
    let (ishape, input) = array("stft/ispec_in.f32");
    let (oshape, out) = array("stft/ispec_out.f32");
    let mut hs = HtdemucsSpec::new(4096).unwrap();
    let mut worst = 0.0f32;
    for c in 0..2 {
        let y = hs.ispec(&spectrogram(&ishape, &input, c), 6000).unwrap();
        let r = channel(&oshape, &out, c);
        worst = worst.max(max_abs_diff(&y, &r) / peak(&r));
    }
    println!("HTDemucs._ispec: max abs error {worst:.3e} of the peak");
    assert!(worst < 1e-5, "relative error {worst}");
}

fn demucs_spectro() -> Stft {
    Stft::new(StftConfig {
        n_fft: 4096,
        hop: 1024,
        window: hann_window(4096, true),
        synthesis_window: None,
        normalized: true,
        center: true,
        pad_mode: PadMode::Reflect,
    })
    .unwrap()
}

#[test]
fn torch_stft_4096_normalized_matches() {
    let (ishape, input) = array("stft/spec_in.f32");
    let (oshape, out) = array("stft/spectro_out.f32");
    let (rshape, rout) = array("stft/ispectro_out.f32");
    let mut s = demucs_spectro();
    for c in 0..2 {
        let x = channel(&ishape, &input, c);
        let z = s.forward(&x).unwrap();
        let e = spec_rel_err(&z, &spectrogram(&oshape, &out, c));
        assert!(e < 1e-5, "stft relative error {e}");
        let y = s.inverse(&spectrogram(&oshape, &out, c), Some(6000)).unwrap();
        let r = channel(&rshape, &rout, c);
        let e = max_abs_diff(&y, &r) / peak(&r);
        assert!(e < 1e-5, "istft relative error {e}");
    }
}

#[test]
fn torch_stft_512_generic_matches() {
    let (_, input) = array("stft/g512_in.f32");
    let (oshape, out) = array("stft/g512_out.f32");
    let mut s = Stft::new(StftConfig::hann(512, 128)).unwrap();
    let z = s.forward(&input).unwrap();
    assert_eq!((z.bins(), z.frames()), (257, 24));
    let e = spec_rel_err(&z, &spectrogram(&oshape, &out, 0));
    println!("torch.stft(512/128): max abs error {e:.3e} of the peak");
    assert!(e < 1e-5, "{e}");

    let (ishape, iin) = array("stft/g512_iin.f32");
    let (_, iout) = array("stft/g512_iout.f32");
    let y = s.inverse(&spectrogram(&ishape, &iin, 0), Some(3001)).unwrap();
    let e = max_abs_diff(&y, &iout) / peak(&iout);
    println!("torch.istft(512/128) of a random spectrogram: max abs error {e:.3e} of the peak");
    assert!(e < 1e-5, "{e}");
}

#[test]
fn round_trips_reconstruct_the_signal() {
    // Both channels of the snippet one after the other: 12000 samples.
    let (_, x) = array("stft/spec_in.f32");
    // HTDemucs' pair is not an identity near the ends (it drops the Nyquist
    // bin and the two outer frames on each side, in PyTorch too); inside,
    // only the missing Nyquist bin remains.
    let mut hs = HtdemucsSpec::new(4096).unwrap();
    let z = hs.spec(&x).unwrap();
    let y = hs.ispec(&z, x.len()).unwrap();
    let n = x.len();
    let e = max_abs_diff(&y[3072..n - 3072], &x[3072..n - 3072]) / peak(&x);
    assert!(e < 1e-4, "HTDemucs round trip inside: {e}");
    // Generic configurations, including a non-centred one and a short window.
    let configs = [
        StftConfig::hann(512, 128),
        StftConfig { normalized: true, ..StftConfig::hann(1024, 256) },
        StftConfig { pad_mode: PadMode::Constant, ..StftConfig::hann(256, 64) },
        StftConfig { window: hann_window(400, true), ..StftConfig::hann(512, 100) },
    ];
    for cfg in configs {
        let mut s = Stft::new(cfg.clone()).unwrap();
        let z = s.forward(&x).unwrap();
        let y = s.inverse(&z, Some(x.len())).unwrap();
        let e = max_abs_diff(&y, &x) / peak(&x);
        assert!(e < 1e-5, "{cfg:?}: {e}");
    }
    // Without centring, a window that is zero at its ends cannot restore the
    // first sample (PyTorch refuses it too); a Hamming window can.
    let mut nc = Stft::new(StftConfig { center: false, ..StftConfig::hann(512, 128) }).unwrap();
    let z = nc.forward(&x).unwrap();
    assert_eq!(nc.inverse(&z, None).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let hamming: Vec<f32> =
        (0..512).map(|i| (0.54 - 0.46 * (2.0 * std::f64::consts::PI * i as f64 / 512.0).cos()) as f32).collect();
    let mut nc = Stft::new(StftConfig { center: false, window: hamming, ..StftConfig::hann(512, 128) }).unwrap();
    let z = nc.forward(&x).unwrap();
    let y = nc.inverse(&z, None).unwrap();
    assert_eq!(y.len(), 512 + 128 * (z.frames() - 1));
    let e = max_abs_diff(&y, &x[..y.len()]) / peak(&x);
    assert!(e < 1e-5, "non-centred: {e}");
}

#[test]
fn errors_are_clear() {
    let mut s = Stft::new(StftConfig::hann(512, 128)).unwrap();
    let err = s.forward(&[0.0; 100]).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_PARAMETER");
    assert!(Stft::new(StftConfig::hann(511, 128)).is_err());
    assert!(Stft::new(StftConfig { hop: 0, ..StftConfig::hann(512, 128) }).is_err());
    // A hop longer than the window leaves gaps that cannot be inverted.
    let mut gap = Stft::new(StftConfig { window: hann_window(64, true), ..StftConfig::hann(512, 400) }).unwrap();
    let z = gap.forward(&[0.5; 4000]).unwrap();
    assert_eq!(gap.inverse(&z, None).unwrap_err().code(), "ERR_INVALID_PARAMETER");
    let mut hs = HtdemucsSpec::new(4096).unwrap();
    assert_eq!(hs.spec(&[]).unwrap_err().code(), "ERR_EMPTY_AUDIO");
    assert_eq!(hs.ispec(&Spectrogram::zeros(2049, 3), 100).unwrap_err().code(), "ERR_SHAPE");
}

/// The frame-at-a-time API (what GTCRN streams with) gives the whole-signal
/// transform's values bit for bit: forward columns, and an overlap-add of
/// `inverse_frame_add` divided by `steady_envelope` inside the signal.
#[test]
fn one_frame_at_a_time_equals_the_whole_signal_transform() {
    let (_, x) = array("stft/spec_in.f32");
    let x = &x[..6000];
    let configs = [
        // GTCRN's: sqrt-Hann 512/256, periodic analysis, symmetric synthesis.
        (
            "GTCRN 512/256",
            StftConfig {
                window: sqrt_hann_window(512, true),
                synthesis_window: Some(sqrt_hann_window(512, false)),
                ..StftConfig::hann(512, 256)
            },
        ),
        ("normalized 1024/256", StftConfig { normalized: true, ..StftConfig::hann(1024, 256) }),
        ("Hann 512/128", StftConfig::hann(512, 128)),
    ];
    for (label, cfg) in configs {
        let (n, hop) = (cfg.n_fft, cfg.hop);
        let mut whole = Stft::new(cfg.clone()).unwrap();
        let mut framed = Stft::new(cfg.clone()).unwrap();
        let z = whole.forward(x).unwrap();
        let padded = pad(x, n / 2, n / 2, PadMode::Reflect).unwrap();
        let mut col = vec![Complex32::new(0.0, 0.0); framed.bins()];
        let mut ola = vec![0.0f32; n + hop * (z.frames() - 1)];
        for t in 0..z.frames() {
            framed.forward_frame(&padded[t * hop..t * hop + n], &mut col).unwrap();
            for (k, v) in col.iter().enumerate() {
                assert_eq!(*v, z.get(k, t), "{label}: bin {k} of frame {t}");
            }
            // Through the frame API with the forward's own output.
            for (k, v) in col.iter_mut().enumerate() {
                *v = z.get(k, t);
            }
            framed.inverse_frame_add(&col, &mut ola[t * hop..t * hop + n]).unwrap();
        }
        let y = whole.inverse(&z, Some(x.len())).unwrap();
        let env = framed.steady_envelope();
        assert_eq!(env.len(), hop);
        // Output sample i is overlap-add index i + n/2; away from both ends
        // every frame covering it is present.
        for (i, &yi) in y.iter().enumerate().take(x.len() - n).skip(n) {
            let p = i + n / 2;
            assert_eq!(ola[p] / env[p % hop], yi, "{label}: sample {i}");
        }
        // (Different analysis and synthesis windows are no identity.)
        if cfg.synthesis_window.is_none() {
            let e = max_abs_diff(&y[n..x.len() - n], &x[n..x.len() - n]) / peak(x);
            assert!(e < 1e-5, "{label}: round trip {e}");
        }
    }
    // Wrong lengths are shape errors, not panics.
    let mut s = Stft::new(StftConfig::hann(512, 128)).unwrap();
    let mut col = vec![Complex32::new(0.0, 0.0); 257];
    assert_eq!(s.forward_frame(&[0.0; 511], &mut col).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(s.inverse_frame_add(&col[..200], &mut [0.0; 512]).unwrap_err().code(), "ERR_SHAPE");
    assert_eq!(s.inverse_frame_add(&col, &mut [0.0; 100]).unwrap_err().code(), "ERR_SHAPE");
    assert!(Stft::new(StftConfig { synthesis_window: Some(vec![]), ..StftConfig::hann(512, 128) }).is_err());
}
