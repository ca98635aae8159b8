#!/usr/bin/env python3
"""Section l of bench/RESULTS.md: builds the random-weight SAM-Audio models
that resonode and the mlx-audio reference both run.

- `--config small` (default): mlx-audio 0.6.2's `SAM_AUDIO_SMALL_CONFIG` (DiT
  dim 1024, 12 layers, 8 heads; the full-size DAC-VAE codec at 48 kHz, hop
  1920, codebook 128) with a T5-base-sized T5 encoder (d_model 768, 12
  layers, 12 heads, d_ff 3072, relu, vocabulary 32128), every parameter
  random (`randomize` of scripts/make_sam_audio_fixtures.py). Exported with
  `scripts/sam_audio.export_model` into `bench/out/sam-audio-small-random/`
  (git-ignored) for resonode; the mlx parameters are saved beside it
  (`mlx/sam_audio.safetensors`, `mlx/t5.safetensors`) so bench/sam_audio/mlx_ref.py
  rebuilds the identical mlx model.
- `--config tiny`: the committed `models/sam-audio-tiny` rebuilt exactly as
  scripts/make_sam_audio_fixtures.py builds it (same configuration, same
  seeds); only its mlx parameters are saved, to `bench/out/sam-audio-tiny-mlx/`.

The codec export's ORT-vs-PyTorch check is relaxed to 1e-2 for the small
model (see `relax_codec_check`); the measured difference is kept in
`mlx/info.json`.

The tokenizer is the fixture script's small T5-style Unigram tokenizer
(`make_tokenizer`): token ids stay below 64, the embedding table keeps T5's
32128 rows, so text encoding costs what T5-base costs for a short prompt.

  /tmp/mlxvenv/bin/python bench/sam_audio/make_model.py [--config small|tiny] [--force]

Needs mlx, mlx-audio 0.6.2, torch, onnx, onnxruntime, tokenizers (the venv
of scripts/make_sam_audio_fixtures.py). The small export takes a few
minutes and about 6 GB of memory.
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

import make_sam_audio_fixtures as fx  # noqa: E402
from mlx_audio.sts.models.sam_audio.config import SAM_AUDIO_SMALL_CONFIG  # noqa: E402
from mlx_audio.sts.models.sam_audio.model import SAMAudio  # noqa: E402
from mlx_audio.sts.models.sam_audio.text_encoder import T5Config, T5Encoder  # noqa: E402

OUT = ROOT / "bench" / "out"
SMALL_DIR = OUT / "sam-audio-small-random"
TINY_MLX_DIR = OUT / "sam-audio-tiny-mlx"
TINY_DIR = ROOT / "models" / "sam-audio-tiny"


def t5_base_config() -> T5Config:
    """T5-base's encoder sizes (google-t5/t5-base config.json)."""
    return T5Config(
        vocab_size=32128,
        d_model=768,
        d_kv=64,
        d_ff=3072,
        num_layers=12,
        num_heads=12,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        is_gated_act=False,
        dense_act_fn="relu",
    )


def build(config: str):
    """The mlx SAMAudio and T5Encoder of a configuration, random weights."""
    if config == "tiny":
        # As make_sam_audio_fixtures.build_reference (without rewriting its tokenizer file).
        mx.random.seed(0)
        model = SAMAudio(fx.tiny_config())
        fx.randomize(model, 1)
        t5 = fx.tiny_t5()
        fx.randomize(t5, 2)
    else:
        model = SAMAudio(SAM_AUDIO_SMALL_CONFIG)
        fx.randomize(model, 11)
        t5 = T5Encoder(t5_base_config())
        fx.randomize(t5, 12)
    model.eval()
    t5.eval()
    return model, t5


def save_mlx(model, t5, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(folder / "sam_audio.safetensors"), dict(tree_flatten(model.parameters())))
    mx.save_safetensors(str(folder / "t5.safetensors"), dict(tree_flatten(t5.parameters())))


CODEC_TOL = 1e-2
codec_check = {}


def relax_codec_check() -> None:
    """The codec exporter checks ONNX Runtime against its PyTorch module to
    1e-4 absolute (outputs within +-1 after tanh). The full-size codec with
    random weights (no trained conditioning: activations grow through the
    1536-channel residual stacks) was seen to differ by 1.8e-3 on one run and
    1e-7 on the next run of the same export (float32 rounding in the CPU
    convolution kernels), so here the check allows CODEC_TOL and records the measured
    difference in mlx/info.json; run.mjs also compares resonode's output with
    mlx-audio's on the bench input."""
    import numpy as np
    import onnxruntime as ort
    import torch

    import sam_audio.codec as sc

    def check(path, in_name, x, module):
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {in_name: x})[0]
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        diff = float(np.max(np.abs(got - want)))
        tol = CODEC_TOL * max(1.0, float(np.max(np.abs(want))))
        codec_check[Path(path).name] = {"maxAbsDiff": diff, "tolerance": tol, "maxAbsOutput": float(np.max(np.abs(want)))}
        print(f"{Path(path).name}: ORT vs torch max abs diff {diff:.3e} (allowed {tol:.1e})", flush=True)
        if got.shape != want.shape or not diff < tol:
            raise RuntimeError(f"{Path(path).name}: ORT vs torch max abs diff {diff:.3e} >= {tol:.3e}")
        return diff

    sc._check_ort = check


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["small", "tiny"], default="small")
    ap.add_argument("--force", action="store_true", help="rebuild even if the folder is complete")
    a = ap.parse_args()
    t0 = time.time()
    if a.config == "tiny":
        done = TINY_MLX_DIR / "t5.safetensors"
        if done.exists() and not a.force:
            print(f"{TINY_MLX_DIR} exists")
            return
        model, t5 = build("tiny")
        save_mlx(model, t5, TINY_MLX_DIR)
        (TINY_MLX_DIR / "info.json").write_text(json.dumps({"config": "tiny", "modelDir": str(TINY_DIR), "tokenizer": str(TINY_DIR / "tokenizer.json")}) + "\n")
        print(f"tiny mlx weights -> {TINY_MLX_DIR} ({time.time() - t0:.0f} s)")
        return

    mlx_dir = SMALL_DIR / "mlx"
    if (SMALL_DIR / "manifest.json").exists() and (mlx_dir / "info.json").exists() and not a.force:
        print(f"{SMALL_DIR} exists")
        return
    from sam_audio import export_model

    relax_codec_check()
    model, t5 = build("small")
    n_model = sum(v.size for _, v in tree_flatten(model.parameters()))
    n_t5 = sum(v.size for _, v in tree_flatten(t5.parameters()))
    print(f"built: SAMAudio {n_model / 1e6:.1f} M parameters, T5 {n_t5 / 1e6:.1f} M ({time.time() - t0:.0f} s)", flush=True)
    save_mlx(model, t5, mlx_dir)
    tok = mlx_dir / "tokenizer.json"
    fx.make_tokenizer(tok)
    export_model(
        model,
        t5,
        tok,
        SMALL_DIR,
        "sam-audio-small-random",
        {
            "checkpoint": "random weights: mlx-audio SAM_AUDIO_SMALL_CONFIG (bench/sam_audio/make_model.py)",
            "t5": "random weights, T5-base sizes (12 layers, d_model 768)",
            "exporter": "scripts/export_sam_audio.py",
            "mlxAudio": "0.6.2",
        },
    )
    (mlx_dir / "info.json").write_text(
        json.dumps({"config": "small", "modelDir": str(SMALL_DIR), "tokenizer": str(tok), "parameters": {"samAudio": n_model, "t5": n_t5}, "codecCheck": codec_check}) + "\n"
    )
    print(f"small model -> {SMALL_DIR} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
