#!/usr/bin/env python3
"""Export an HTDemucs model (the `demucs` PyPI package, v4) to ONNX for resonode.

The STFT and iSTFT stay OUTSIDE the ONNX graph, as in the reference C++ ports:
resonode computes them in Rust exactly like `HTDemucs._spec` / `HTDemucs._ispec`.
The exported graph is `HTDemucs.forward` minus `_spec`, `_magnitude`, `_mask`
and `_ispec`, i.e. it contains the input normalisation (mean/std of both
branches), the encoders, the cross transformer, the decoders and the
de-normalisation.

Tensors crossing the boundary (B = 1, C = audio channels (2), S = sources,
L = segment length in samples (343980 for the official models: 7.8 s at
44.1 kHz), Fq = nfft / 2 = 2048, T = ceil(L / hop) = ceil(L / 1024) = 336):

  inputs
    mix  float32 [B, C, L]         the waveform segment (already Separator-
                                   normalised and padded by apply_model)
    mag  float32 [B, 2C, Fq, T]    `_magnitude(_spec(mix))` with cac=True:
                                   channel 2c is Re, 2c+1 is Im of audio
                                   channel c; the Nyquist bin is dropped and
                                   frames are cropped as `_spec` does
  outputs
    time float32 [B, S, C, L]      time-branch waveform per source
                                   (`xt * stdt + meant`)
    freq float32 [B, S, 2C, Fq, T] frequency-branch spectrogram per source
                                   (`x * std + mean`), complex-as-channels in
                                   the same layout as `mag`

  per source: stem = time + _ispec(complex(freq), L)

Model metadata (ONNX `metadata_props`) written for resonode:
  resonode.kind = "htdemucs", resonode.sources = "drums,bass,other,vocals",
  resonode.samplerate, resonode.segment_samples, resonode.audio_channels,
  resonode.nfft, resonode.hop, resonode.source_weights (the bag weights of
  this model, one per source, comma separated), resonode.bag_index,
  resonode.bag_size.

Usage (on a machine that can reach the model hubs, for the official weights):

  pip install torch demucs onnx onnxruntime
  python scripts/export_htdemucs.py --name htdemucs    --out htdemucs.onnx
  python scripts/export_htdemucs.py --name htdemucs_6s --out htdemucs_6s.onnx
  python scripts/export_htdemucs.py --name htdemucs_ft --out htdemucs_ft.onnx
      # a bag of 4 models: writes htdemucs_ft.0.onnx ... htdemucs_ft.3.onnx
  python scripts/export_htdemucs.py --checkpoint my_model.th --out mine.onnx
  python scripts/export_htdemucs.py --tiny --out tiny.onnx   # small, random weights
  python scripts/export_htdemucs.py --tiny-bag --out ft_tiny.onnx
      # 4 tiny random models with htdemucs_ft's weights: ft_tiny.0.onnx ... ft_tiny.3.onnx
  python scripts/export_htdemucs.py --name htdemucs --segment 6.0 --out htdemucs_seg6.onnx
      # a shorter fixed segment (at most the training one, 7.8 s)
  python scripts/export_htdemucs.py --random --out full.onnx # full size, random weights

Every export is verified: the ONNX graph run with onnxruntime plus the
PyTorch `_spec`/`_ispec` must reproduce `model(mix)` (printed as max abs
error and SI-SDR per source).
"""

from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction
from pathlib import Path

import torch
from torch import nn

SOURCES = ["drums", "bass", "other", "vocals"]


# --------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------

def tiny_htdemucs(seed: int = 0, segment=Fraction(39, 5), channels: int = 8, dconv_comp: int = 8):
    """A small randomly initialised HTDemucs: the architecture of the official
    `htdemucs` (depth 4, nfft 4096, cac, frequency embedding, cross transformer
    with a bottleneck), with far fewer channels and transformer layers."""
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    model = HTDemucs(
        sources=list(SOURCES),
        audio_channels=2,
        channels=channels,
        dconv_comp=dconv_comp,
        growth=2,
        nfft=4096,
        cac=True,
        depth=4,
        bottom_channels=16,
        t_layers=2,
        t_heads=4,
        t_hidden_scale=2.0,
        samplerate=44100,
        segment=segment,
        use_train_segment=True,
    )
    model.eval()
    return model


def tiny_bag(seed: int = 0, segment=Fraction(39, 5), channels: int = 4):
    """A test-size stand-in for `htdemucs_ft`: a `BagOfModels` of four tiny
    HTDemucs (seeds `seed` .. `seed + 3`) whose weights are the identity over
    the sources, as in htdemucs_ft.yaml (model i is specialised in source i).
    Narrower than `tiny_htdemucs` by default so that four exports stay small."""
    from demucs.apply import BagOfModels

    n = len(SOURCES)
    # dconv_comp = channels keeps the residual branches of the first layer 1 channel wide.
    models = [tiny_htdemucs(seed + i, segment, channels, dconv_comp=channels) for i in range(n)]
    weights = [[1.0 if j == i else 0.0 for j in range(n)] for i in range(n)]
    bag = BagOfModels(models, weights)
    bag.eval()
    return bag


def random_htdemucs(seed: int = 0, segment=Fraction(39, 5)):
    """The full-size architecture of the released `htdemucs` (48 channels,
    depth 4, 5 cross-transformer layers over a 512-channel bottleneck, about
    41.5 M parameters) with random weights: for speed and memory benchmarks."""
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    model = HTDemucs(sources=list(SOURCES), bottom_channels=512, samplerate=44100, segment=segment)
    model.eval()
    return model


def load_models(args):
    """Returns a list of (HTDemucs, per-source weights)."""
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    if args.tiny or args.random:
        model = tiny_htdemucs(args.seed) if args.tiny else random_htdemucs(args.seed)
        pairs = [(model, [1.0] * len(model.sources))]
        return with_segment(pairs, args.segment)
    if args.tiny_bag:
        model = tiny_bag(args.seed)
    elif args.checkpoint:
        from demucs.states import load_model

        model = load_model(args.checkpoint)
    else:
        from demucs.pretrained import get_model

        model = get_model(args.name, repo=Path(args.repo) if args.repo else None)
    if isinstance(model, BagOfModels):
        pairs = list(zip(model.models, model.weights))
    else:
        pairs = [(model, [1.0] * len(model.sources))]
    for m, _ in pairs:
        if not isinstance(m, HTDemucs):
            sys.exit(f"only HTDemucs (demucs v4) models can be exported, got {type(m).__name__}")
        m.eval()
    return with_segment(pairs, args.segment)


def with_segment(pairs, seconds):
    """Sets the fixed length of the export: HTDemucs runs at its training
    segment (`use_train_segment`), so a shorter `model.segment` (what
    `BagOfModels(segment=...)` does) gives a shorter export; demucs refuses
    segments longer than the training one, and so does this script."""
    if seconds is None:
        return pairs
    seg = Fraction(seconds)
    for m, _ in pairs:
        if seg <= 0 or seg > Fraction(m.segment):
            sys.exit(f"--segment must be in (0, {float(m.segment)}] s, the segment this model was trained for")
        m.segment = seg
    return pairs


# --------------------------------------------------------------------------
# The exported core: HTDemucs.forward without _spec/_magnitude/_mask/_ispec
# --------------------------------------------------------------------------

class HTDemucsCore(nn.Module):
    """`HTDemucs.forward` (demucs 4.x, eval mode, use_train_segment) from the
    point where `mag = self._magnitude(z)` is known up to, but excluding,
    `self._mask` and `self._ispec`. Takes (mix, mag), returns (time, freq)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, mix, mag):
        m = self.m
        x = mag
        B, C, Fq, T = x.shape

        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) / (1e-5 + std)

        xt = mix
        meant = xt.mean(dim=(1, 2), keepdim=True)
        stdt = xt.std(dim=(1, 2), keepdim=True)
        xt = (xt - meant) / (1e-5 + stdt)

        saved = []
        saved_t = []
        lengths = []
        lengths_t = []
        for idx, encode in enumerate(m.encoder):
            lengths.append(x.shape[-1])
            inject = None
            if idx < len(m.tencoder):
                lengths_t.append(xt.shape[-1])
                tenc = m.tencoder[idx]
                xt = tenc(xt)
                if not tenc.empty:
                    saved_t.append(xt)
                else:
                    inject = xt
            x = encode(x, inject)
            if idx == 0 and m.freq_emb is not None:
                frs = torch.arange(x.shape[-2], device=x.device)
                emb = m.freq_emb(frs).t()[None, :, :, None].expand_as(x)
                x = x + m.freq_emb_scale * emb
            saved.append(x)

        if m.crosstransformer:
            if m.bottom_channels:
                b, c, f, t = x.shape
                x = x.reshape(b, c, f * t)
                x = m.channel_upsampler(x)
                x = x.reshape(b, x.shape[1], f, t)
                xt = m.channel_upsampler_t(xt)
            x, xt = m.crosstransformer(x, xt)
            if m.bottom_channels:
                b, c, f, t = x.shape
                x = x.reshape(b, c, f * t)
                x = m.channel_downsampler(x)
                x = x.reshape(b, x.shape[1], f, t)
                xt = m.channel_downsampler_t(xt)

        for idx, decode in enumerate(m.decoder):
            skip = saved.pop(-1)
            x, pre = decode(x, skip, lengths.pop(-1))
            offset = m.depth - len(m.tdecoder)
            if idx >= offset:
                tdec = m.tdecoder[idx - offset]
                length_t = lengths_t.pop(-1)
                if tdec.empty:
                    pre = pre[:, :, 0]
                    xt, _ = tdec(pre, None, length_t)
                else:
                    skip = saved_t.pop(-1)
                    xt, _ = tdec(xt, skip, length_t)

        S = len(m.sources)
        x = x.view(B, S, -1, Fq, T)
        x = x * std[:, None] + mean[:, None]
        xt = xt.view(B, S, -1, mix.shape[-1])
        xt = xt * stdt[:, None] + meant[:, None]
        return xt, x


def segment_samples(model) -> int:
    return int(model.segment * model.samplerate)


def reference_forward_split(model, mix):
    """Runs the PyTorch pieces around the core exactly as HTDemucs.forward
    does: returns (mag, stems) for a [1, C, L] segment of the training length."""
    z = model._spec(mix)
    mag = model._magnitude(z)
    core = HTDemucsCore(model)
    xt, x = core(mix, mag)
    zout = model._mask(z, x)
    stems = xt + model._ispec(zout, mix.shape[-1])
    return mag, stems


def export_onnx(model, path: Path, weights, bag_index=0, bag_size=1, opset=17):
    import onnx

    L = segment_samples(model)
    C = model.audio_channels
    g = torch.Generator().manual_seed(1234)
    mix = torch.randn(1, C, L, generator=g) * 0.1
    with torch.no_grad():
        z = model._spec(mix)
        mag = model._magnitude(z)
    core = HTDemucsCore(model).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    # nn.MultiheadAttention's fused eval fast path (aten::_native_multi_head_attention)
    # has no ONNX symbolic; the regular path computes the same thing.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        kwargs = dict(
            input_names=["mix", "mag"],
            output_names=["time", "freq"],
            opset_version=opset,
            do_constant_folding=True,
        )
        try:
            torch.onnx.export(core, (mix, mag), str(path), dynamo=False, **kwargs)
        except TypeError:  # older torch without the `dynamo` argument
            torch.onnx.export(core, (mix, mag), str(path), **kwargs)
    proto = onnx.load(str(path))
    meta = {
        "resonode.kind": "htdemucs",
        "resonode.sources": ",".join(model.sources),
        "resonode.samplerate": str(model.samplerate),
        "resonode.segment_samples": str(L),
        "resonode.audio_channels": str(C),
        "resonode.nfft": str(model.nfft),
        "resonode.hop": str(model.hop_length),
        "resonode.source_weights": ",".join(repr(float(w)) for w in weights),
        "resonode.bag_index": str(bag_index),
        "resonode.bag_size": str(bag_size),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        p = proto.metadata_props.add()
        p.key, p.value = k, v
    proto.producer_name = "resonode scripts/export_htdemucs.py"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def si_sdr(est, ref):
    est = est.double().flatten()
    ref = ref.double().flatten()
    a = (est @ ref) / (ref @ ref)
    t = a * ref
    e = est - t
    return 10 * math.log10((t @ t).item() / max((e @ e).item(), 1e-30))


def verify(model, path: Path, seed=5):
    """ONNX (onnxruntime) + PyTorch _spec/_ispec vs model(mix)."""
    import numpy as np
    import onnxruntime as ort

    L = segment_samples(model)
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(1, model.audio_channels, L, generator=g) * 0.2
    with torch.no_grad():
        ref = model(mix)
        z = model._spec(mix)
        mag = model._magnitude(z)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    t_out, f_out = sess.run(["time", "freq"], {"mix": mix.numpy(), "mag": mag.numpy()})
    with torch.no_grad():
        zout = model._mask(z, torch.from_numpy(f_out))
        est = torch.from_numpy(t_out) + model._ispec(zout, L)
    err = (est - ref).abs().max().item()
    peak = ref.abs().max().item()
    sdrs = [si_sdr(est[0, s], ref[0, s]) for s in range(ref.shape[1])]
    print(f"{path.name}: max abs err {err:.3g} (peak {peak:.3g}), "
          f"SI-SDR per source {', '.join(f'{s:.1f}' for s in sdrs)} dB")
    return err, peak, sdrs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--name", help="pretrained name for demucs.pretrained.get_model (htdemucs, htdemucs_ft, htdemucs_6s)")
    src.add_argument("--checkpoint", help="a demucs checkpoint file (.th) loadable by demucs.states.load_model")
    src.add_argument("--tiny", action="store_true", help="a small randomly initialised HTDemucs (for tests)")
    src.add_argument("--random", action="store_true",
                     help="the full-size htdemucs architecture with random weights (for benchmarks)")
    src.add_argument("--tiny-bag", action="store_true",
                     help="a bag of 4 tiny random models with htdemucs_ft's one-hot weights (for tests)")
    ap.add_argument("--repo", help="local model repository folder for --name")
    ap.add_argument("--seed", type=int, default=0, help="seed for --tiny (--tiny-bag: seeds SEED..SEED+3)")
    ap.add_argument("--segment", type=str, default=None,
                    help="fixed segment of the export in seconds (e.g. 4.0), at most the model's training "
                         "segment (7.8 for the released models); the default and the longest segment "
                         "resonode will use with it")
    ap.add_argument("--out", required=True, help="output .onnx path (bags get .0.onnx, .1.onnx, ...)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()

    export_all(load_models(args), Path(args.out), args.opset, not args.no_verify)


def export_all(pairs, out: Path, opset=17, check=True):
    """Exports (model, weights) pairs: one model to `out`, a bag to
    `out` with `.0.onnx`, `.1.onnx`, ... in place of `.onnx`. Returns the paths."""
    paths = []
    for i, (model, weights) in enumerate(pairs):
        path = out if len(pairs) == 1 else out.with_suffix(f".{i}.onnx")
        export_onnx(model, path, weights, i, len(pairs), opset)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): sources {model.sources}, "
              f"segment {segment_samples(model)} samples at {model.samplerate} Hz, weights {list(weights)}")
        if check:
            verify(model, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()
