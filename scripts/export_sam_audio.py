#!/usr/bin/env python3
"""Export a SAM-Audio checkpoint (Meta, arXiv 2512.18099) to the model folder
resonode's `PromptSeparator` loads (`--model-dir`).

SAM-Audio's weights are gated on the Hugging Face hub: request access and
download them yourself (resonode bundles and fetches nothing). You need two
local folders:

- the SAM-Audio checkpoint, e.g. `facebook/sam-audio-large` (`config.json`
  and `checkpoint.pt`) or an mlx-community conversion (`config.json` and
  `*.safetensors`);
- the T5 text encoder it was trained with, `google-t5/t5-base` (`config.json`,
  `model.safetensors` or `pytorch_model.bin`, and `tokenizer.json`).

    huggingface-cli login
    huggingface-cli download facebook/sam-audio-large --local-dir ~/models/sam-audio-large-ckpt
    huggingface-cli download google-t5/t5-base config.json model.safetensors tokenizer.json \
        --local-dir ~/models/t5-base

    python3 -m venv ~/sam-export && . ~/sam-export/bin/activate
    pip install mlx mlx-cpu mlx-audio==0.6.2 torch onnx onnxruntime transformers
    python scripts/export_sam_audio.py --checkpoint ~/models/sam-audio-large-ckpt \
        --t5 ~/models/t5-base --out ~/models/sam-audio-large

The checkpoint is read by mlx-audio's own loader (`SAMAudio.from_pretrained`
on the local folder: its weight-name mapping and layouts), so the export
starts from exactly the reference's parameters. `scripts/sam_audio` rebuilds
each part in PyTorch from those parameters and exports four ONNX graphs
(codec encoder, codec decoder, T5 encoder, one DiT velocity evaluation);
each graph is checked against its PyTorch module with ONNX Runtime. The ODE
solver, chunking, anchors and crossfades run in resonode's Rust core.
MLX runs on Linux x86-64 (CPU) and macOS; the export needs memory for the
model twice over (about 2x the checkpoint size).

The output folder (name it `sam-audio-*`) holds `manifest.json`,
`codec_encoder.onnx`, `codec_decoder.onnx`, `text_encoder.onnx`, `dit.onnx`
and `tokenizer.json`. Graphs above 2 GB are written with external data
(`*.onnx.data` beside them, listed under the manifest's `data`).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def fail(msg: str) -> "NoReturn":  # noqa: F821
    sys.exit(f"export_sam_audio: {msg}")


# Parameters the export never uses: the codec decoder's watermark branch
# (resonode decodes without the watermark, as the spec's `codec_decoder.onnx`).
SKIPPED_PARAMETERS = (".wm_model.",)


def load_sam_audio(folder: Path):
    """Loads the SAM-Audio checkpoint in `folder` with mlx-audio's classes,
    refusing to go on with anything but the checkpoint's own weights.

    `SAMAudio.from_pretrained` is not used: on a gated or unreachable hub id it
    returns a default-config model with random weights, a failure while
    loading weights (e.g. a bfloat16 `checkpoint.pt` on `.numpy()`) is only a
    warning, and its `strict=False` load leaves missing parameters random.
    Here: warnings are errors around the load, `config.json` and the weights
    are required, tensors are converted to float32 (bfloat16 via
    `.float()`), and every parameter of the model (bar the unused watermark
    branch) must be covered by a loaded tensor of the same shape, or the
    export aborts naming the missing ones."""
    import warnings

    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_audio.sts.models.sam_audio.config import SAMAudioConfig
    from mlx_audio.sts.models.sam_audio.model import SAMAudio

    config_path = folder / "config.json"
    if not config_path.is_file():
        fail(f"{config_path} not found: --checkpoint must be a local SAM-Audio folder with config.json")
    safetensors = sorted(folder.glob("*.safetensors"))
    checkpoint_pt = folder / "checkpoint.pt"
    if not safetensors and not checkpoint_pt.is_file():
        fail(f"no weights in {folder}: expected *.safetensors or checkpoint.pt (the download is gated: request access first)")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = SAMAudioConfig.from_dict(json.loads(config_path.read_text()))
        model = SAMAudio(config)
        model = model.post_load_hook(folder)
        if safetensors:
            weights = {}
            for f in safetensors:
                weights.update(mx.load(str(f)))
            weights = {
                k: v.astype(mx.float32) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in weights.items()
            }
        else:
            import torch

            pt = torch.load(str(checkpoint_pt), map_location="cpu", weights_only=True)
            if isinstance(pt, dict) and "model" in pt and isinstance(pt["model"], dict):
                pt = pt["model"]
            weights = {
                k: mx.array((v.float() if v.is_floating_point() else v).numpy())
                for k, v in pt.items()
                if hasattr(v, "numpy")
            }
        if not weights:
            fail(f"the weights in {folder} hold no tensors")
        loaded = SAMAudio.sanitize(weights)
        params = dict(tree_flatten(model.parameters()))
        needed = {k: v for k, v in params.items() if not any(s in k for s in SKIPPED_PARAMETERS)}
        missing = sorted(k for k in needed if k not in loaded)
        if missing:
            shown = ", ".join(missing[:20]) + (f", ... ({len(missing)} in all)" if len(missing) > 20 else "")
            fail(
                f"the checkpoint in {folder} does not cover {len(missing)} of the model's {len(needed)} parameters "
                f"(config.json and the weights do not match, or the mlx-audio version differs): {shown}"
            )
        wrong = [
            f"{k} {tuple(loaded[k].shape)} != {tuple(v.shape)}" for k, v in needed.items() if tuple(loaded[k].shape) != tuple(v.shape)
        ]
        if wrong:
            fail(f"{len(wrong)} parameter(s) have another shape than config.json implies: {', '.join(wrong[:20])}")
        unused = sorted(k for k in loaded if k not in params)
        if unused:
            print(f"export_sam_audio: note: {len(unused)} checkpoint tensor(s) not used, e.g. {unused[:5]}", file=sys.stderr)
        model.load_weights([(k, v) for k, v in loaded.items() if k in params], strict=False)
        mx.eval(model.parameters())
    model.eval()
    return model


def load_t5(folder: Path):
    """mlx-audio's T5Encoder from a local t5 folder (as its from_pretrained
    does from the hub)."""
    import mlx.core as mx
    from mlx_audio.sts.models.sam_audio.text_encoder import T5Config, T5Encoder

    hf = json.loads((folder / "config.json").read_text())
    cfg = T5Config(
        vocab_size=hf.get("vocab_size", 32128),
        d_model=hf.get("d_model", 768),
        d_kv=hf.get("d_kv", 64),
        d_ff=hf.get("d_ff", 3072),
        num_layers=hf.get("num_layers", 12),
        num_heads=hf.get("num_heads", 12),
        relative_attention_num_buckets=hf.get("relative_attention_num_buckets", 32),
        relative_attention_max_distance=hf.get("relative_attention_max_distance", 128),
        dropout_rate=hf.get("dropout_rate", 0.1),
        layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-6),
        is_gated_act=hf.get("is_gated_act", False),
        dense_act_fn=hf.get("dense_act_fn", "relu"),
    )
    model = T5Encoder(cfg)
    st = folder / "model.safetensors"
    if st.exists():
        weights = mx.load(str(st))
    else:
        import torch

        pt = torch.load(str(folder / "pytorch_model.bin"), map_location="cpu", weights_only=True)
        weights = {k: mx.array((v.float() if v.is_floating_point() else v).numpy()) for k, v in pt.items()}
    weights = {k: v.astype(mx.float32) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in weights.items()}
    # strict (the default): every T5 encoder parameter must be loaded.
    model.load_weights(list(T5Encoder.sanitize(weights).items()))
    mx.eval(model.parameters())
    model.eval()
    return model


def write_tokenizer(folder: Path, out: Path) -> Path:
    """Writes the tokenizer as the reference runs it (`T5TextEncoder` loads
    `transformers.AutoTokenizer.from_pretrained`, whose T5Tokenizer may
    rebuild parts of the file's pipeline) to `out`, and checks that the
    `tokenizers` library reading `out` (what resonode's Rust side uses) gives
    transformers' ids on a few strings."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        fail(f"the tokenizer in {folder} has no tokenizers backend (tokenizer.json); resonode needs one")
    backend.save(str(out))
    plain = Tokenizer.from_file(str(out))
    for text in ("a man speaking", "  the  siren ", "Caf\u00e9 \u00fcber \uff21 \ufb01", "<extra_id_0> dog barking"):
        want = tok(text)["input_ids"]
        got = plain.encode(text).ids
        if got != want:
            fail(f"tokenizer.json gives {got} for {text!r}, transformers {want}: resonode would not match the reference")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, type=Path, help="local SAM-Audio checkpoint folder")
    ap.add_argument("--t5", required=True, type=Path, help="local T5 folder (config.json, weights, tokenizer.json)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (name it sam-audio-*)")
    ap.add_argument("--name", help="model name for the manifest (default: the output folder's name)")
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()

    for p, what in ((a.checkpoint / "config.json", "checkpoint"), (a.t5 / "config.json", "T5"), (a.t5 / "tokenizer.json", "T5")):
        if not p.exists():
            sys.exit(f"export_sam_audio: {p} not found: --{'checkpoint' if what == 'checkpoint' else 't5'} must be a local folder holding it")
    if "sam-audio" not in a.out.name:
        print(f"export_sam_audio: note: {a.out.name} does not contain 'sam-audio'", file=sys.stderr)

    from sam_audio import export_model

    model = load_sam_audio(a.checkpoint)
    t5 = load_t5(a.t5)
    if t5.config.d_model != model.config.text_encoder.dim:
        sys.exit(f"export_sam_audio: T5 d_model {t5.config.d_model} != the checkpoint's text dim {model.config.text_encoder.dim}")
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="export-sam-audio-"))
    tokenizer_json = write_tokenizer(a.t5, tmp / "tokenizer.json")
    manifest = export_model(
        model,
        t5,
        tokenizer_json,
        a.out,
        a.name or a.out.name,
        {
            "checkpoint": str(a.checkpoint.resolve().name),
            "t5": str(a.t5.resolve().name),
            "exporter": "scripts/export_sam_audio.py",
            "mlxAudio": "0.6.2",
        },
        opset=a.opset,
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
