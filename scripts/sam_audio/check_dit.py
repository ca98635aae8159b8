"""Numerical check of the PyTorch/ONNX ports (`t5.py`, `dit.py`) against mlx-audio 0.6.2.

Builds a tiny mlx `SAMAudio` and tiny mlx T5 encoders with every parameter randomised (gates
non-zero), compares torch and ONNX Runtime (graphs exported at one size, run at others) with
the MLX reference, prints a table and exits non-zero when a relative error
(max |port - mlx| / max |mlx|) reaches 1e-5.

Run: /tmp/mlxvenv/bin/python scripts/sam_audio/check_dit.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mlx.core as mx  # noqa: E402
import torch  # noqa: E402
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

from sam_audio.dit import INPUT_NAMES, dit_from_mlx, export_dit  # noqa: E402
from sam_audio.t5 import export_text_encoder, t5_from_mlx  # noqa: E402

TOL = 1e-5
# Long inputs: MLX's own f32 rounding grows with the frame count (at 2000 frames it is ~4.5e-6
# away from a float64 evaluation of the same maths, torch f32 ~8e-7), so that case gets 3e-5.
TOL_LONG = 3e-5


def tiny_sam_audio():
    from mlx_audio.codec.models.dacvae import DACVAEConfig
    from mlx_audio.sts.models.sam_audio.config import (
        SAMAudioConfig,
        T5EncoderConfig,
        TransformerConfig,
    )
    from mlx_audio.sts.models.sam_audio.model import SAMAudio

    cb = 8
    cfg = SAMAudioConfig(
        in_channels=6 * cb,
        audio_codec=DACVAEConfig(
            encoder_dim=8, encoder_rates=[2, 4, 5, 6], latent_dim=16,
            # decoder_dim 32 (or 64) cannot be built with four decoder rates in mlx-audio 0.6.2
            # (a watermark residual unit gets 0 channels); the codec is unused here anyway.
            decoder_dim=128, decoder_rates=[6, 5, 4, 2],
            n_codebooks=2, codebook_size=16, codebook_dim=cb,
        ),
        text_encoder=T5EncoderConfig(name="tiny-t5", dim=16, max_length=8),
        transformer=TransformerConfig(
            dim=32, n_heads=4, n_layers=2, context_dim=32, out_channels=2 * cb,
            frequency_embedding_dim=16, multiple_of=8, max_positions=10000,
        ),
        anchor_embedding_dim=8,
    )
    model = SAMAudio(cfg)
    randomise(model, seed=1)
    model.eval()
    return model


def randomise(model, seed):
    rs = np.random.RandomState(seed)
    new = []
    for name, v in tree_flatten(model.parameters()):
        shape = v.shape
        if name.endswith("gate"):
            a = np.sign(rs.randn(*shape)) * (0.4 + 0.5 * rs.rand(*shape))  # |gate| in [0.4, 0.9]
        elif "norm" in name and name.endswith("weight"):
            a = 1.0 + 0.3 * rs.randn(*shape)
        else:
            a = 0.3 * rs.randn(*shape)
        new.append((name, mx.array(a.astype(np.float32))))
    model.update(tree_unflatten(new))
    mx.eval(model.parameters())
    for name, v in tree_flatten(model.parameters()):
        if not np.all(np.array(v) != 0):
            raise SystemExit(f"parameter {name} kept a zero")


def rel(got, ref):
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))


def spans(frames, n_anchors, rs):
    """Alignment with several spans: 0 background, runs of indices 1..n-1."""
    al = np.zeros(frames, np.int64)
    if frames >= 4:
        cuts = np.sort(rs.choice(np.arange(1, frames), size=min(6, frames - 1), replace=False))
        for i in range(0, len(cuts) - 1, 2):
            al[cuts[i]:cuts[i + 1]] = 1 + (i // 2) % (n_anchors - 1)
    else:
        al[:] = rs.randint(0, n_anchors, size=frames)
    return al


def dit_case(model, rs, batch, frames, tokens, times, anchors, text_pad):
    c2 = 2 * model.config.audio_codec.codebook_dim
    tdim = model.config.text_encoder.dim
    noisy = rs.randn(batch, frames, c2).astype(np.float32)
    feats = rs.randn(batch, frames, c2).astype(np.float32)
    text = rs.randn(batch, tokens, tdim).astype(np.float32)
    mask = np.ones((batch, tokens), bool)
    for b, p in enumerate(text_pad):
        mask[b, tokens - p:] = False
    time = np.asarray(times, np.float32)
    if anchors:
        ids = np.array([[0, 3, 1, 2], [0, 3, 2, 1]][:batch], np.int64)
        al = np.stack([spans(frames, 4, rs) for _ in range(batch)])
        scale = np.ones(batch, np.float32)
    else:
        ids = np.array([[0, 3]] * batch, np.int64)  # processor's no-anchor ids
        al = np.zeros((batch, frames), np.int64)
        scale = np.zeros(batch, np.float32)
    ref = model(
        mx.array(noisy), mx.array(feats), mx.array(text), mx.array(time),
        text_mask=mx.array(mask),
        anchor_ids=mx.array(ids) if anchors else None,
        anchor_alignment=mx.array(al) if anchors else None,
    )
    ref = np.array(ref)
    feeds = dict(noisy=noisy, audio_features=feats, text_features=text, text_mask=mask,
                 time=time, anchor_ids=ids, anchor_alignment=al, anchor_scale=scale)
    return ref, feeds


def main() -> int:
    import onnxruntime as ort

    failures = []
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="sam_dit_check_"))
    so = ort.SessionOptions()
    so.log_severity_level = 3

    # ---- DiT ----
    model = tiny_sam_audio()
    dit = dit_from_mlx(model)
    dit64 = dit_from_mlx(model).double()
    export_dit(dit, tmp / "dit.onnx")  # exported at batch 2, frames 7, tokens 5, anchors 3
    sess = ort.InferenceSession(str(tmp / "dit.onnx"), so, providers=["CPUExecutionProvider"])
    rs = np.random.RandomState(7)
    cases = [
        # name, batch, frames, tokens, times, anchors, text padding per item
        ("no anchors T=1", 1, 1, 4, [0.0], False, [0]),
        ("no anchors T=7", 1, 7, 4, [0.3], False, [0]),
        ("no anchors T=300", 1, 300, 6, [0.97], False, [0]),
        ("anchors T=7", 1, 7, 4, [0.3], True, [0]),
        ("anchors T=300", 1, 300, 5, [0.0], True, [0]),
        ("anchors B=2 pad T=300", 2, 300, 6, [0.0, 0.97], True, [0, 3]),
        ("no anchors B=2 pad T=7", 2, 7, 5, [0.3, 0.97], False, [2, 0]),
        ("anchors B=2 pad T=1", 2, 1, 3, [0.97, 0.3], True, [1, 0]),
        ("no anchors T=2000", 1, 2000, 8, [0.5], False, [0]),
    ]
    for name, b, t, l, times, anch, pad in cases:
        ref, feeds = dit_case(model, rs, b, t, l, times, anch, pad)
        with torch.no_grad():
            got_t = dit(*(torch.from_numpy(feeds[k]) for k in INPUT_NAMES)).numpy()
            f64 = [torch.from_numpy(feeds[k]) for k in INPUT_NAMES]
            f64 = [v.double() if v.dtype == torch.float32 else v for v in f64]
            truth = dit64(*f64).numpy()
        got_o = sess.run(None, feeds)[0]
        e_t, e_o = rel(got_t, ref), rel(got_o, ref)
        rows.append(("dit", name, e_t, e_o, rel(ref, truth)))
        tol = TOL_LONG if t > 300 else TOL
        if not (e_t < tol and e_o < tol):
            failures.append(name)

    # anchor_scale 0 must erase arbitrary anchors exactly (same output as no-anchor inputs)
    ref, feeds = dit_case(model, rs, 2, 9, 4, [0.3, 0.6], True, [0, 1])
    feeds0 = dict(feeds, anchor_scale=np.zeros(2, np.float32))
    plain = dict(feeds0, anchor_ids=np.zeros((2, 4), np.int64),
                 anchor_alignment=np.zeros((2, 9), np.int64))
    d = float(np.max(np.abs(sess.run(None, feeds0)[0] - sess.run(None, plain)[0])))
    rows.append(("dit", "scale 0 == no anchors (ORT abs)", d, d, float("nan")))
    if d != 0.0:
        failures.append("anchor_scale 0")

    # ---- T5 ----
    from mlx_audio.sts.models.sam_audio.text_encoder import T5Config, T5Encoder

    t5_cfgs = [
        ("gated gelu 32/128", T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=2,
                                       num_heads=2)),
        ("relu 8/16", T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=2,
                               num_heads=2, relative_attention_num_buckets=8,
                               relative_attention_max_distance=16, is_gated_act=False,
                               dense_act_fn="relu")),
    ]
    for ci, (cname, cfg) in enumerate(t5_cfgs):
        m = T5Encoder(cfg)
        randomise(m, seed=10 + ci)
        m.eval()
        t5 = t5_from_mlx(m)
        path = tmp / f"text_encoder_{ci}.onnx"
        export_text_encoder(t5, path)  # exported at batch 2, tokens 5
        s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        for b, l, pad in ((1, 5, [0]), (2, 9, [0, 4]), (3, 150, [0, 140, 7])):
            ids = rs.randint(1, cfg.vocab_size, (b, l)).astype(np.int64)
            mask = np.ones((b, l), np.int64)
            for i, p in enumerate(pad):
                if p:
                    ids[i, l - p:] = 0
                    mask[i, l - p:] = 0
            ref = np.array(m(input_ids=mx.array(ids), attention_mask=mx.array(mask)))
            with torch.no_grad():
                got_t = t5(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            got_o = s.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            e_t, e_o = rel(got_t, ref), rel(got_o, ref)
            name = f"{cname} B={b} L={l}"
            rows.append(("t5", name, e_t, e_o, float("nan")))
            if not (e_t < TOL and e_o < TOL):
                failures.append(name)

    print(f"{'graph':<5} {'case':<34} {'torch-vs-mlx':>13} {'ort-vs-mlx':>12} {'mlx-vs-f64':>11}")
    for g, n, a, b, c in rows:
        print(f"{g:<5} {n:<34} {a:>13.2e} {b:>12.2e} {c:>11.2e}")
    if failures:
        print(f"FAILED ({len(failures)}): {', '.join(failures)}")
        return 1
    print(f"all cases < {TOL:g} ({TOL_LONG:g} beyond 300 frames), relative to max |mlx|")
    return 0


if __name__ == "__main__":
    sys.exit(main())
