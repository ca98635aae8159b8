"""Numerical check of the PyTorch DACVAE port (scripts/sam_audio/codec.py) against mlx-audio 0.6.2.

Run with the reference environment:  /tmp/mlxvenv/bin/python scripts/sam_audio/check_codec.py

For each configuration every mlx parameter is replaced by random values (weights ~ N(0, 0.3^2),
weight-norm g positive, snake alphas ~ U(0.5, 1.5)) so that every path matters; then
encode (chirp + noise) and decode (random features) are compared torch vs mlx, and for the tiny
configurations the exported ONNX graphs (onnxruntime) vs mlx. Exits non-zero on failure.

Note: the brief's tiny config (decoder_dim=32 with 4 decoder rates) cannot be constructed by
mlx-audio (the watermark ResidualUnit of the last block gets 0 channels -> ZeroDivisionError);
decoder_dim=96 is the smallest value that works with 4 rates, so the tiny checks use it.
"""

from __future__ import annotations

import os
import sys
import tempfile

import mlx.core as mx
import numpy as np
import torch
from mlx.utils import tree_flatten, tree_unflatten
from mlx_audio.codec.models.dacvae.codec import DACVAE, DACVAEConfig

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))
from sam_audio import codec  # noqa: E402

SR = 48_000


def randomize(model: DACVAE, seed: int) -> None:
    rng = np.random.default_rng(seed)
    new = []
    for k, v in tree_flatten(model.parameters()):
        shape = tuple(v.shape)
        if k.endswith("alpha"):
            a = rng.uniform(0.5, 1.5, size=shape)
        elif k.endswith("weight_g"):
            a = np.abs(rng.standard_normal(shape)) * 0.3 + 0.05
        else:
            a = rng.standard_normal(shape) * 0.3
        new.append((k, mx.array(a.astype(np.float32))))
    model.update(tree_unflatten(new))
    mx.eval(model.parameters())


def signal(batch: int, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / SR
    out = []
    for b in range(batch):
        f0, f1 = 80.0 * (b + 1), 8000.0 / (b + 1)
        dur = samples / SR
        phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)
        out.append(0.5 / (b + 1) * np.sin(phase) + 0.05 * rng.standard_normal(samples))
    return np.stack(out).astype(np.float32)  # [B, S]


def errs(got: np.ndarray, ref: np.ndarray):
    if got.shape != ref.shape:
        raise RuntimeError(f"shape mismatch {got.shape} vs {ref.shape}")
    d = float(np.max(np.abs(got - ref)))
    return d, d / max(float(np.max(np.abs(ref))), 1e-30)


def mlx_encode(model: DACVAE, x: np.ndarray) -> np.ndarray:
    return np.array(model.encode(mx.array(x[:, :, None])))  # (B, cd, F)


def mlx_decode(model: DACVAE, f: np.ndarray) -> np.ndarray:
    return np.array(model.decode(mx.array(f))).transpose(0, 2, 1)  # (B, 1, S)


def run_ort(path: str, name: str, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {name: x})[0]


def main() -> int:
    cases = [
        ("tiny-odd", dict(encoder_dim=8, encoder_rates=[2, 4, 5, 6], latent_dim=16, decoder_dim=96,
                          decoder_rates=[6, 5, 4, 2], n_codebooks=2, codebook_size=16, codebook_dim=8),
         2400, 1e-5, True),
        ("tiny-even", dict(encoder_dim=8, encoder_rates=[2, 2, 6, 10], latent_dim=16, decoder_dim=96,
                           decoder_rates=[10, 6, 2, 2], n_codebooks=2, codebook_size=16, codebook_dim=8),
         2400, 1e-5, True),
        ("full", {}, 1920 * 12, 1e-4, False),
    ]
    rows = []
    ok = True
    for ci, (name, kw, samples, rel_tol, export) in enumerate(cases):
        cfg = DACVAEConfig(**kw)
        model = DACVAE(cfg)
        randomize(model, seed=100 + ci)
        enc, dec = codec.codec_from_mlx(model)
        hop = cfg.hop_length
        x = signal(2, samples, seed=ci)
        ref_f = mlx_encode(model, x)
        frames = samples // hop
        rng = np.random.default_rng(7 + ci)
        feats = rng.standard_normal((2, cfg.codebook_dim, frames)).astype(np.float32)
        ref_a = mlx_decode(model, feats)
        with torch.no_grad():
            got_f = enc(torch.from_numpy(x[:, None, :])).numpy()
            got_a = dec(torch.from_numpy(feats)).numpy()
        for what, got, ref in (("encode", got_f, ref_f), ("decode", got_a, ref_a)):
            d, r = errs(got, ref)
            good = r < rel_tol
            ok &= good
            rows.append((name, what, "torch", str(tuple(ref.shape)), d, r, "ok" if good else "FAIL"))
        if export:
            with tempfile.TemporaryDirectory() as tmp:
                codec.export_codec(enc, dec, tmp)
                o_f = run_ort(os.path.join(tmp, "codec_encoder.onnx"), "audio", x[:, None, :])
                o_a = run_ort(os.path.join(tmp, "codec_decoder.onnx"), "features", feats)
                # a third length / batch 1 to prove the axes are dynamic
                x1 = signal(1, hop * 13, seed=99)
                o_f1 = run_ort(os.path.join(tmp, "codec_encoder.onnx"), "audio", x1[:, None, :])
                ref_f1 = mlx_encode(model, x1)
            for what, got, ref in (("encode", o_f, ref_f), ("decode", o_a, ref_a), ("encode-13hop", o_f1, ref_f1)):
                d, r = errs(got, ref)
                good = r < 1e-4
                ok &= good
                rows.append((name, what, "onnxrt", str(tuple(ref.shape)), d, r, "ok" if good else "FAIL"))
        del model

    print(f"{'config':10s} {'path':13s} {'impl':7s} {'shape':16s} {'max_abs':>10s} {'rel':>10s}")
    for n, w, impl, shp, d, r, st in rows:
        print(f"{n:10s} {w:13s} {impl:7s} {shp:16s} {d:10.3e} {r:10.3e}  {st}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
