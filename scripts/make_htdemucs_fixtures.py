#!/usr/bin/env python3
"""Generates the committed HTDemucs / STFT / chunker fixtures of resonode-ml.

Run once (needs torch, demucs, onnx, onnxruntime, soundfile); tests and CI
only read the results in crates/ml/tests/fixtures/htdemucs/:

  htdemucs_tiny.onnx      small randomly initialised HTDemucs (seed 0), exported
                          by scripts/export_htdemucs.py (STFT/iSTFT outside)
  (input)                 348401 frames (7.9 s) of assets/music.wav from frame
                          88200 (2.0 s), stereo 44.1 kHz 16-bit; not copied
                          here, the tests cut it from the asset
  ref_<source>.wav        PyTorch reference stems, float32 WAV: Separator input
                          normalisation + demucs.apply.apply_model(model, mix,
                          shifts=0, split=True, overlap=0.25, transition_power=1)
  stft/*.f32, chunker/*.f32   raw little-endian float32 arrays
  meta.txt                one `key = value` line per fact (shapes, parameters)

The clip is longer than one segment (343980) and not a multiple of the
stride (257985) nor of the hop (1024): apply_model runs 2 segments, the
first full, the second a partial chunk padded with real audio on the left
and zeros on the right.

  python scripts/make_htdemucs_fixtures.py
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from export_htdemucs import (  # noqa: E402
    HTDemucsCore,
    export_onnx,
    si_sdr,
    tiny_htdemucs,
    verify,
)

OUT = ROOT / "crates" / "ml" / "tests" / "fixtures" / "htdemucs"
CLIP_START = 2 * 44100
CLIP_FRAMES = 348401

meta: list[tuple[str, str]] = []


def put(key, value):
    meta.append((key, str(value)))


def save_f32(rel: str, arr):
    arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(arr.tobytes())
    put(f"{rel}.shape", " ".join(str(d) for d in arr.shape))


def cplx_planes(z):
    """complex [..., F, T] -> float [..., F, T, 2] (re, im)."""
    return torch.view_as_real(z).numpy()


# --------------------------------------------------------------------------
# STFT / iSTFT fixtures
# --------------------------------------------------------------------------

def stft_fixtures(model, music):
    from demucs.spec import ispectro, spectro

    # HTDemucs._spec on a stereo snippet whose length is not a multiple of the hop.
    x = torch.from_numpy(music[:, 3 * 44100: 3 * 44100 + 6000].copy())
    save_f32("stft/spec_in.f32", x.numpy())
    z = model._spec(x)  # [2, 2048, 6]
    save_f32("stft/spec_out.f32", cplx_planes(z))
    # A signal shorter than the padding (demucs' pad1d extends it with zeros).
    xs = x[:, :1000]
    save_f32("stft/spec_short_out.f32", cplx_planes(model._spec(xs)))  # [2, 2048, 1]

    # HTDemucs._ispec of a non-consistent (random) spectrogram.
    g = torch.Generator().manual_seed(7)
    zr = torch.complex(torch.randn(2, 2048, 6, generator=g), torch.randn(2, 2048, 6, generator=g))
    save_f32("stft/ispec_in.f32", cplx_planes(zr))
    save_f32("stft/ispec_out.f32", model._ispec(zr, 6000).numpy())

    # demucs.spec.spectro / ispectro (torch.stft / torch.istft; n_fft 4096,
    # hop 1024, periodic Hann, normalized, center, reflect) on the same input.
    zs = spectro(x, 4096, 1024)  # [2, 2049, 6]
    save_f32("stft/spectro_out.f32", cplx_planes(zs))
    save_f32("stft/ispectro_out.f32", ispectro(zs, 1024, length=6000).numpy())

    # A generic convention: n_fft 512, hop 128, periodic Hann, NOT normalized,
    # center with reflect padding, mono input of 3001 samples.
    y = torch.from_numpy(music[0, 5 * 44100: 5 * 44100 + 3001].copy())
    save_f32("stft/g512_in.f32", y.numpy())
    zy = torch.stft(y, 512, 128, window=torch.hann_window(512), win_length=512, normalized=False,
                    center=True, pad_mode="reflect", return_complex=True)  # [257, 24]
    save_f32("stft/g512_out.f32", cplx_planes(zy))
    zq = torch.complex(torch.randn(257, 24, generator=g), torch.randn(257, 24, generator=g))
    save_f32("stft/g512_iin.f32", cplx_planes(zq))
    yq = torch.istft(zq, 512, 128, window=torch.hann_window(512), win_length=512, normalized=False,
                     center=True, length=3001)
    save_f32("stft/g512_iout.f32", yq.numpy())


# --------------------------------------------------------------------------
# Chunker fixtures: apply_model with a cheap deterministic fake model
# --------------------------------------------------------------------------

class FakeModel(nn.Module):
    """Stands in for HTDemucs in apply_model (it has `valid_length`, so the
    last partial chunk is padded to the segment length like HTDemucs').
    Its output depends on the absolute position inside the segment and on a
    whole-segment statistic, so any misplaced padding or offset shows.
      stem 0 = x * (1 + t / L) + 0.25 * mean(x over the segment, per channel)
      stem 1 = reversed channel order of x, times (t / L)^2, minus mean |x|
    """

    def __init__(self, samplerate, segment, sources=("a", "b")):
        super().__init__()
        self.samplerate = samplerate
        self.segment = segment
        self.sources = list(sources)
        self.audio_channels = 2

    def valid_length(self, length):
        return int(self.segment * self.samplerate)

    def forward(self, x):
        L = x.shape[-1]
        t = torch.arange(L, dtype=torch.float64) / L
        x = x.double()
        s0 = x * (1 + t) + 0.25 * x.mean(dim=-1, keepdim=True)
        s1 = x.flip(1) * t * t - x.abs().mean()
        return torch.stack([s0, s1], dim=1).float()


def chunker_fixtures():
    from demucs.apply import apply_model

    cases = [
        # name, segment length, overlap, transition power, input length
        ("a", 1000, 0.25, 1.0, 4321),
        ("b", 999, 0.5, 2.0, 3001),
        ("c", 1000, 0.25, 1.0, 3001),  # last chunk is a single frame
        ("d", 1000, 0.25, 1.0, 600),  # shorter than one segment
    ]
    g = torch.Generator().manual_seed(11)
    for name, seg, overlap, power, length in cases:
        model = FakeModel(1000, Fraction(seg, 1000))
        x = torch.randn(1, 2, length, generator=g)
        with torch.no_grad():
            out = apply_model(model, x, shifts=0, split=True, overlap=overlap, transition_power=power)
        save_f32(f"chunker/{name}_in.f32", x[0].numpy())
        save_f32(f"chunker/{name}_out.f32", out[0].numpy())
        put(f"chunker.{name}", f"segment={seg} overlap={overlap} transition_power={power} length={length}")


# --------------------------------------------------------------------------
# The HTDemucs parity fixture
# --------------------------------------------------------------------------

def main():
    from demucs.apply import apply_model

    OUT.mkdir(parents=True, exist_ok=True)
    music, sr = sf.read(str(ROOT / "assets" / "music.wav"), dtype="float32", always_2d=True)
    assert sr == 44100
    music = music.T.copy()  # [2, N], int16 / 32768

    model = tiny_htdemucs(seed=0)
    onnx_path = OUT / "htdemucs_tiny.onnx"
    export_onnx(model, onnx_path, [1.0] * 4)
    verify(model, onnx_path)

    # The clip, bit-exact 16-bit.
    pcm, _ = sf.read(str(ROOT / "assets" / "music.wav"), dtype="int16", always_2d=True)
    clip16 = pcm[CLIP_START: CLIP_START + CLIP_FRAMES]
    wav = torch.from_numpy(clip16.T.astype(np.float32) / 32768.0)

    # demucs.api.Separator.separate_tensor, shifts=0.
    ref = wav.mean(0)
    mean = ref.mean()
    std = ref.std() + 1e-8
    with torch.no_grad():
        out = apply_model(model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=0.25,
                          transition_power=1.0)
    out = out * std + mean
    stems = out[0]
    for s, name in enumerate(model.sources):
        sf.write(str(OUT / f"ref_{name}.wav"), stems[s].numpy().T, 44100, subtype="FLOAT")
    put("clip.start_frame_in_music_wav", CLIP_START)
    put("clip.frames", CLIP_FRAMES)
    put("separator.mean", f"{mean.item():.9g}")
    put("separator.std", f"{std.item():.9g}")
    put("sources", ",".join(model.sources))
    put("segment_samples", int(model.segment * model.samplerate))
    for s, name in enumerate(model.sources):
        put(f"ref_{name}.peak", f"{stems[s].abs().max().item():.6g}")

    # Cross-check: the same separation through the exported ONNX core with
    # PyTorch _spec/_ispec (what resonode reimplements) vs the reference.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])

    class OnnxModel(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m
            self.samplerate, self.segment, self.sources = m.samplerate, m.segment, m.sources
            self.audio_channels = m.audio_channels

        def valid_length(self, length):
            return int(self.segment * self.samplerate)

        def forward(self, mix):
            z = self.m._spec(mix)
            mag = self.m._magnitude(z)
            t, f = sess.run(["time", "freq"], {"mix": mix.numpy(), "mag": mag.numpy()})
            zout = self.m._mask(z, torch.from_numpy(f))
            return torch.from_numpy(t) + self.m._ispec(zout, mix.shape[-1])

    with torch.no_grad():
        out2 = apply_model(OnnxModel(model), ((wav - mean) / std)[None], shifts=0, split=True,
                           overlap=0.25, transition_power=1.0) * std + mean
    for s, name in enumerate(model.sources):
        e = (out2[0, s] - stems[s]).abs().max().item()
        p = stems[s].abs().max().item()
        print(f"onnx path vs torch, {name}: SI-SDR {si_sdr(out2[0, s], stems[s]):.1f} dB, "
              f"max abs err {e:.3g} ({e / p:.3g} of peak {p:.3g})")

    stft_fixtures(model, music)
    chunker_fixtures()

    with open(OUT / "meta.txt", "w") as f:
        f.write("# written by scripts/make_htdemucs_fixtures.py; shapes are C-order\n")
        for k, v in meta:
            f.write(f"{k} = {v}\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures in {OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
