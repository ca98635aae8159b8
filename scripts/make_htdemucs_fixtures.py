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

  python scripts/make_htdemucs_fixtures.py                 # all of the above
  python scripts/make_htdemucs_fixtures.py --only segment  # crates/ml/tests/fixtures/htdemucs_segment/
  python scripts/make_htdemucs_fixtures.py --only bag      # crates/ml/tests/fixtures/htdemucs_ft_tiny/

`--only segment` (htdemucs_segment/): references for a segment shorter than
the export's, `apply_model(model, mix, segment=s)` with s = 6.0 and 4.0 s,
of the same tiny model as htdemucs_tiny.onnx (checked against that file),
on a 202861-frame (4.6 s) clip of assets/music.wav from frame 88200: two
chunks for both segments. Plus a tiny export with a 4.0 s fixed segment.

`--only pointwise` (htdemucs_pointwise/): a weightless stand-in export
whose stems are fixed gains times tanh(mix), for the live loopback spec.

`--only bag` (htdemucs_ft_tiny/): a bag of four tiny models with
htdemucs_ft's one-hot weights, exported by export_htdemucs.py's --tiny-bag
path (htdemucs_ft_tiny.0.onnx ... .3.onnx), and the references of
`apply_model(bag, mix)` on the same 4.6 s clip.

References there are 24-bit WAV (quantisation ~1e-7, far below the parity
tolerance) to keep the files small.
"""

from __future__ import annotations

import argparse
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
    export_all,
    export_onnx,
    si_sdr,
    tiny_bag,
    tiny_htdemucs,
    verify,
    with_segment,
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


# --------------------------------------------------------------------------
# Shorter segments and the htdemucs_ft-like bag
# --------------------------------------------------------------------------

SEG_OUT = ROOT / "crates" / "ml" / "tests" / "fixtures" / "htdemucs_segment"
BAG_OUT = ROOT / "crates" / "ml" / "tests" / "fixtures" / "htdemucs_ft_tiny"
CLIP2_FRAMES = 202861


def clip2():
    """The short clip, bit-exact from the 16-bit asset, [2, N] float32."""
    pcm, sr = sf.read(str(ROOT / "assets" / "music.wav"), dtype="int16", always_2d=True)
    assert sr == 44100
    return torch.from_numpy(pcm[CLIP_START: CLIP_START + CLIP2_FRAMES].T.astype(np.float32) / 32768.0)


def separator_apply(model, wav, **kw):
    """demucs' Separator normalisation around apply_model (shifts=0)."""
    from demucs.apply import apply_model

    ref = wav.mean(0)
    mean = ref.mean()
    std = ref.std() + 1e-8
    with torch.no_grad():
        out = apply_model(model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=0.25,
                          transition_power=1.0, **kw)
    return (out * std + mean)[0], mean, std


class OnnxModel(nn.Module):
    """An HTDemucs whose core runs in onnxruntime, around PyTorch's
    _spec/_ispec: what resonode computes. A segment shorter than the export
    is zero-padded on the right and the output cut, as HTDemucs.forward does.
    `pad_to` stands for apply_model's `segment` (it pads chunks of an HTDemucs
    to that length, and to the export's for any other model)."""

    def __init__(self, m, path, pad_to=None):
        import onnxruntime as ort

        super().__init__()
        self.m = m
        self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.samplerate, self.segment, self.sources = m.samplerate, m.segment, m.sources
        self.audio_channels = m.audio_channels
        self.pad_to = pad_to

    def valid_length(self, length):
        return self.pad_to or int(self.segment * self.samplerate)

    def forward(self, mix):
        n = mix.shape[-1]
        L = int(self.segment * self.samplerate)
        mix = torch.nn.functional.pad(mix, (0, L - n))
        z = self.m._spec(mix)
        mag = self.m._magnitude(z)
        t, f = self.sess.run(["time", "freq"], {"mix": mix.numpy(), "mag": mag.numpy()})
        zout = self.m._mask(z, torch.from_numpy(f))
        return (torch.from_numpy(t) + self.m._ispec(zout, L))[..., :n]


def write_stems(out_dir: Path, prefix: str, stems, sources, lines):
    for s, name in enumerate(sources):
        path = out_dir / f"{prefix}{name}.wav"
        sf.write(str(path), stems[s].numpy().T, 44100, subtype="PCM_24")
        back, _ = sf.read(str(path), dtype="float32", always_2d=True)
        q = torch.from_numpy(back.T.copy())
        lines.append((f"{prefix}{name}.peak", f"{stems[s].abs().max().item():.6g}"))
        print(f"  {path.name}: 24-bit quantisation SI-SDR {si_sdr(q, stems[s]):.1f} dB")


def write_meta(out_dir: Path, lines):
    with open(out_dir / "meta.txt", "w") as f:
        f.write("# written by scripts/make_htdemucs_fixtures.py\n")
        for k, v in lines:
            f.write(f"{k} = {v}\n")


def compare(label, a, b, sources):
    for s, name in enumerate(sources):
        e = (a[s] - b[s]).abs().max().item()
        p = b[s].abs().max().item()
        print(f"  {label} {name}: SI-SDR {si_sdr(a[s], b[s]):.1f} dB, max abs err {e:.3g} ({e / p:.3g} of peak {p:.3g})")


def segment_fixtures():
    SEG_OUT.mkdir(parents=True, exist_ok=True)
    model = tiny_htdemucs(seed=0)
    # The committed export must be this very model (same seed, same weights).
    err, peak, _ = verify(model, OUT / "htdemucs_tiny.onnx")
    assert err <= 1e-4 * peak, "htdemucs_tiny.onnx is not tiny_htdemucs(seed=0): regenerate it first"
    wav = clip2()
    lines = [("clip.start_frame_in_music_wav", CLIP_START), ("clip.frames", CLIP2_FRAMES),
             ("model", "../htdemucs/htdemucs_tiny.onnx"), ("sources", ",".join(model.sources))]
    for seg in ("6.0", "4.0"):
        onnx_model = OnnxModel(model, OUT / "htdemucs_tiny.onnx", pad_to=int(44100 * float(seg)))
        stems, mean, std = separator_apply(model, wav, segment=float(seg))
        tag = seg.split(".")[0]
        print(f"segment {seg} s:")
        write_stems(SEG_OUT, f"ref_seg{tag}_", stems, model.sources, lines)
        lines.append((f"seg{tag}.segment_samples", int(44100 * float(seg))))
        check, _, _ = separator_apply(onnx_model, wav, segment=float(seg))
        compare("onnx path vs torch", check, stems, model.sources)
    lines += [("separator.mean", f"{mean.item():.9g}"), ("separator.std", f"{std.item():.9g}")]

    # An export whose fixed segment is 4.0 s (export_htdemucs.py --segment 4.0).
    small = tiny_htdemucs(seed=1, channels=4, dconv_comp=4)
    export_all(with_segment([(small, [1.0] * 4)], "4.0"), SEG_OUT / "htdemucs_tiny_4s.onnx")
    lines.append(("htdemucs_tiny_4s.segment_samples", int(small.segment * small.samplerate)))
    write_meta(SEG_OUT, lines)


def bag_fixtures():
    BAG_OUT.mkdir(parents=True, exist_ok=True)
    bag = tiny_bag(seed=10)
    pairs = list(zip(bag.models, bag.weights))
    paths = export_all(pairs, BAG_OUT / "htdemucs_ft_tiny.onnx")
    wav = clip2()
    stems, mean, std = separator_apply(bag, wav)
    lines = [("clip.start_frame_in_music_wav", CLIP_START), ("clip.frames", CLIP2_FRAMES),
             ("sources", ",".join(bag.sources)), ("bag_size", len(pairs)),
             ("weights", ";".join(",".join(repr(float(w)) for w in ws) for ws in bag.weights)),
             ("segment_samples", int(bag.models[0].segment * 44100)),
             ("separator.mean", f"{mean.item():.9g}"), ("separator.std", f"{std.item():.9g}")]
    print("bag:")
    write_stems(BAG_OUT, "ref_", stems, bag.sources, lines)
    # Cross-check: the bag through the exported cores.
    from demucs.apply import BagOfModels

    onnx_bag = BagOfModels([OnnxModel(m, p) for m, p in zip(bag.models, paths)], bag.weights)
    check, _, _ = separator_apply(onnx_bag, wav)
    compare("onnx bag vs torch", check, stems, bag.sources)
    write_meta(BAG_OUT, lines)


PW_OUT = ROOT / "crates" / "ml" / "tests" / "fixtures" / "htdemucs_pointwise"
PW_GAINS = [0.25, -0.5, 1.0, 0.5]


def pointwise_fixture():
    """A stand-in HTDemucs export (same inputs, outputs and metadata) whose
    source s is `PW_GAINS[s] * tanh(mix)` in the time branch and zero in the
    frequency branch, with a 1.0 s segment. Pointwise, so its separation
    does not depend on where chunks fall (a live stream starting anywhere
    gives the offline result), while the tanh makes the result depend on
    the input normalisation; the gains tell the stems apart. For the live
    loopback spec (microphone -> separation -> speaker)."""
    import onnx
    from onnx import TensorProto, helper

    PW_OUT.mkdir(parents=True, exist_ok=True)
    L, C, S, nfft = 44100, 2, len(PW_GAINS), 4096
    T = math.ceil(L / (nfft // 4))
    g = np.array(PW_GAINS, dtype=np.float32).reshape(1, S, 1, 1)
    nodes = [
        helper.make_node("Tanh", ["mix"], ["th"]),
        helper.make_node("Unsqueeze", ["th", "ax1"], ["th1"]),  # [1, 1, C, L]
        helper.make_node("Mul", ["th1", "gains"], ["time"]),  # [1, S, C, L]
        helper.make_node("Mul", ["mag", "zero"], ["mag0"]),
        helper.make_node("Unsqueeze", ["mag0", "ax1"], ["mag1"]),  # [1, 1, 2C, Fq, T]
        helper.make_node("Expand", ["mag1", "fshape"], ["freq"]),
    ]
    inits = [
        helper.make_tensor("ax1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("gains", TensorProto.FLOAT, list(g.shape), g.flatten().tolist()),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("fshape", TensorProto.INT64, [5], [1, S, 2 * C, nfft // 2, T]),
    ]
    graph = helper.make_graph(
        nodes, "htdemucs_pointwise",
        [helper.make_tensor_value_info("mix", TensorProto.FLOAT, [1, C, L]),
         helper.make_tensor_value_info("mag", TensorProto.FLOAT, [1, 2 * C, nfft // 2, T])],
        [helper.make_tensor_value_info("time", TensorProto.FLOAT, [1, S, C, L]),
         helper.make_tensor_value_info("freq", TensorProto.FLOAT, [1, S, 2 * C, nfft // 2, T])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="resonode scripts/make_htdemucs_fixtures.py")
    model.ir_version = 8
    meta = {"resonode.kind": "htdemucs", "resonode.sources": ",".join(SOURCES_4), "resonode.samplerate": "44100",
            "resonode.segment_samples": str(L), "resonode.audio_channels": str(C), "resonode.nfft": str(nfft),
            "resonode.hop": str(nfft // 4), "resonode.source_weights": "1.0,1.0,1.0,1.0",
            "resonode.bag_index": "0", "resonode.bag_size": "1"}
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model)
    path = PW_OUT / "htdemucs_pointwise.onnx"
    onnx.save(model, str(path))
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mix = np.random.default_rng(0).standard_normal((1, C, L)).astype(np.float32)
    t, f = sess.run(["time", "freq"], {"mix": mix, "mag": np.ones((1, 2 * C, nfft // 2, T), np.float32)})
    assert np.allclose(t, g * np.tanh(mix)[:, None]) and f.shape == (1, S, 2 * C, nfft // 2, T) and not f.any()
    write_meta(PW_OUT, [("gains", ",".join(repr(v) for v in PW_GAINS)), ("segment_samples", L)])
    print(f"wrote {path} ({path.stat().st_size} bytes)")


SOURCES_4 = ["drums", "bass", "other", "vocals"]


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["segment", "bag", "pointwise"], help="write only these fixtures")
    only = ap.parse_args().only
    if only is None:
        main()
    if only in (None, "segment"):
        segment_fixtures()
    if only in (None, "bag"):
        bag_fixtures()
    if only in (None, "pointwise"):
        pointwise_fixture()
