"""PyTorch port of the T5 text encoder used by SAM-Audio, for ONNX export.

Semantics follow mlx-audio 0.6.2 `mlx_audio/sts/models/sam_audio/text_encoder.py`
(`T5Encoder(input_ids, attention_mask)` -> last hidden state): token embedding, a stack of
pre-norm blocks (self-attention with a relative position bias computed by the first block and
shared by all, a plain or gated feed-forward), a final RMS-style layer norm. Dropout is inert
(inference). The attention mask is additive, `(1 - mask) * -1e9`, added after the bias.

The module keeps the parameter names of the MLX module, so `t5_from_mlx` is a name-for-name
copy.

Relative position buckets: the bucket of a relative position `r` only depends on `r` and the
config, and every `|r| >= max_distance` falls into the last bucket of its sign. The module
therefore holds a table of buckets for `r` in `[-max_distance, max_distance]` and looks up
`clamp(key - query, -max_distance, max_distance)`; both the table and the positions derive from
the runtime token count, so the exported graph accepts any length. `t5_from_mlx` fills the table
with MLX's own bucket function, so the ported bias is bit-identical to the reference's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .external import finish_graph


def _bucket_table(num_buckets: int, max_distance: int) -> torch.Tensor:
    """Buckets (int64) of relative positions -max_distance..max_distance (bidirectional T5)."""
    rel = torch.arange(-max_distance, max_distance + 1, dtype=torch.int64)
    half = num_buckets // 2
    out = (rel > 0).to(torch.int64) * half
    rel = rel.abs()
    max_exact = half // 2
    is_small = rel < max_exact
    safe = rel.clamp(min=1).to(torch.float32)
    large = max_exact + (
        torch.log(safe / max_exact)
        / math.log(max_distance / max_exact)
        * (half - max_exact)
    ).to(torch.int64)
    large = large.clamp(max=half - 1)
    return out + torch.where(is_small, rel, large)


class _LayerNorm(nn.Module):
    """T5 layer norm: x * rsqrt(mean(x^2) + eps) * weight (no mean subtraction, no bias)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = (x * x).mean(dim=-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def _act(kind: str, x: torch.Tensor) -> torch.Tensor:
    # mlx-audio maps "gelu" and "gelu_new" to the exact (erf) GELU and anything else to ReLU.
    if kind in ("gelu", "gelu_new"):
        return F.gelu(x)
    return F.relu(x)


class _SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_kv: int, num_buckets: int, has_bias: bool):
        super().__init__()
        inner = n_heads * d_kv
        self.n_heads = n_heads
        self.d_kv = d_kv
        self.q = nn.Linear(d_model, inner, bias=False)
        self.k = nn.Linear(d_model, inner, bias=False)
        self.v = nn.Linear(d_model, inner, bias=False)
        self.o = nn.Linear(inner, d_model, bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, n_heads)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, L, H*D) -> (B, H, L, D)
        return x.reshape(x.shape[0], x.shape[1], self.n_heads, self.d_kv).transpose(1, 2)

    def forward(self, x: torch.Tensor, bias_and_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias_and_mask  # T5: no 1/sqrt(d)
        w = torch.softmax(scores, dim=-1)
        out = torch.matmul(w, v).transpose(1, 2)
        out = out.reshape(out.shape[0], out.shape[1], self.n_heads * self.d_kv)
        return self.o(out)


class _LayerSelfAttention(nn.Module):
    def __init__(self, cfg: dict, has_bias: bool):
        super().__init__()
        self.SelfAttention = _SelfAttention(
            cfg["d_model"], cfg["num_heads"], cfg["d_kv"],
            cfg["relative_attention_num_buckets"], has_bias,
        )
        self.layer_norm = _LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])


class _DenseActDense(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.act = cfg["dense_act_fn"]
        self.wi = nn.Linear(cfg["d_model"], cfg["d_ff"], bias=False)
        self.wo = nn.Linear(cfg["d_ff"], cfg["d_model"], bias=False)

    def forward(self, x):
        return self.wo(_act(self.act, self.wi(x)))


class _DenseGatedActDense(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.act = cfg["dense_act_fn"]
        self.wi_0 = nn.Linear(cfg["d_model"], cfg["d_ff"], bias=False)
        self.wi_1 = nn.Linear(cfg["d_model"], cfg["d_ff"], bias=False)
        self.wo = nn.Linear(cfg["d_ff"], cfg["d_model"], bias=False)

    def forward(self, x):
        return self.wo(_act(self.act, self.wi_0(x)) * self.wi_1(x))


class _LayerFF(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.DenseReluDense = (
            _DenseGatedActDense(cfg) if cfg["is_gated_act"] else _DenseActDense(cfg)
        )
        self.layer_norm = _LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])


class _Block(nn.Module):
    def __init__(self, cfg: dict, has_bias: bool):
        super().__init__()
        self.layer = nn.ModuleList([_LayerSelfAttention(cfg, has_bias), _LayerFF(cfg)])

    def forward(self, h: torch.Tensor, bias_and_mask: torch.Tensor) -> torch.Tensor:
        sa, ff = self.layer[0], self.layer[1]
        h = h + sa.SelfAttention(sa.layer_norm(h), bias_and_mask)
        return h + ff.DenseReluDense(ff.layer_norm(h))


class _Stack(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.block = nn.ModuleList([_Block(cfg, i == 0) for i in range(cfg["num_layers"])])
        self.final_layer_norm = _LayerNorm(cfg["d_model"], cfg["layer_norm_epsilon"])


_CFG_KEYS = (
    "vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
    "relative_attention_num_buckets", "relative_attention_max_distance",
    "layer_norm_epsilon", "is_gated_act", "dense_act_fn",
)


class T5Encoder(nn.Module):
    """T5 encoder: `forward(input_ids int64 [B,L], attention_mask int64 [B,L]) -> f32 [B,L,D]`.

    `config`: a mapping (or object with attributes) holding the keys of mlx-audio's `T5Config`.
    """

    def __init__(self, config):
        super().__init__()
        cfg = {k: (config[k] if isinstance(config, dict) else getattr(config, k)) for k in _CFG_KEYS}
        if cfg["num_layers"] < 1:
            raise ValueError("T5Encoder needs at least one layer")
        self.cfg = cfg
        self.vocab_size = cfg["vocab_size"]
        self.d_model = cfg["d_model"]
        self.max_distance = int(cfg["relative_attention_max_distance"])
        self.shared = nn.Embedding(cfg["vocab_size"], cfg["d_model"])
        self.encoder = _Stack(cfg)
        self.register_buffer(
            "bucket_table",
            _bucket_table(cfg["relative_attention_num_buckets"], self.max_distance),
            persistent=False,
        )

    def position_bias(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Relative position bias (1, H, L, L) for the runtime length of `input_ids`."""
        pos = torch.cumsum(torch.ones_like(input_ids[0]), 0) - 1  # 0..L-1, dynamic in ONNX
        rel = pos[None, :] - pos[:, None]  # key - query
        rel = rel.clamp(-self.max_distance, self.max_distance) + self.max_distance
        buckets = self.bucket_table[rel]
        table = self.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight
        return table[buckets].permute(2, 0, 1).unsqueeze(0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.shared(input_ids)
        mask = (1.0 - attention_mask.to(torch.float32))[:, None, None, :] * -1e9
        bias_and_mask = self.position_bias(input_ids) + mask
        for blk in self.encoder.block:
            h = blk(h, bias_and_mask)
        return self.encoder.final_layer_norm(h)


def t5_from_mlx(mlx_t5_encoder) -> T5Encoder:
    """Build a `T5Encoder` holding the parameters of an mlx-audio `text_encoder.T5Encoder`."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    module = T5Encoder(mlx_t5_encoder.config)
    params = dict(tree_flatten(mlx_t5_encoder.parameters()))
    state = module.state_dict()
    missing = sorted(set(state) - set(params))
    extra = sorted(set(params) - set(state))
    if missing or extra:
        raise ValueError(f"T5 parameter names differ: missing {missing[:5]}, unexpected {extra[:5]}")
    new_state = {}
    for name, value in params.items():
        arr = torch.from_numpy(np.array(value.astype(mx.float32), copy=True))
        if tuple(arr.shape) != tuple(state[name].shape):
            raise ValueError(f"T5 parameter {name}: shape {tuple(arr.shape)} != {tuple(state[name].shape)}")
        new_state[name] = arr
    module.load_state_dict(new_state, strict=True)

    # Bucket table from MLX's own bucket function (bit-identical bias), checked against ours.
    attn_cls = type(mlx_t5_encoder.encoder.block[0].layer[0].SelfAttention)
    md = module.max_distance
    rel = mx.arange(-md, md + 1)
    ref = attn_cls._relative_position_bucket(
        rel, bidirectional=True,
        num_buckets=module.cfg["relative_attention_num_buckets"], max_distance=md,
    )
    ref = torch.from_numpy(np.array(ref).astype(np.int64))
    if not torch.equal(ref, module.bucket_table):
        n = int((ref != module.bucket_table).sum())
        print(f"t5_from_mlx: note: {n} relative-position buckets differ from the torch formula; using MLX's")
    module.bucket_table = ref
    return module.eval()


def _ort_run(path, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def export_text_encoder(module: T5Encoder, path, opset: int = 17) -> None:
    """Export to ONNX (`input_ids`, `attention_mask` -> `text_features`; dynamic batch and
    tokens), then check ONNX Runtime against torch at the export size and at another size;
    raises `RuntimeError` when the max abs difference reaches 1e-4."""
    path = Path(path)
    module = module.eval()
    g = torch.Generator().manual_seed(0)

    def sample(b, l, pad):
        ids = torch.randint(0, module.vocab_size, (b, l), generator=g, dtype=torch.int64)
        mask = torch.ones(b, l, dtype=torch.int64)
        for i, p in enumerate(pad):
            if p:
                mask[i, l - p:] = 0
                ids[i, l - p:] = 0
        return ids, mask

    ids, mask = sample(2, 5, [0, 2])
    kwargs = dict(
        input_names=["input_ids", "attention_mask"],
        output_names=["text_features"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "text_features": {0: "batch", 1: "tokens"},
        },
        opset_version=opset,
        do_constant_folding=True,
    )
    with torch.no_grad():
        try:
            torch.onnx.export(module, (ids, mask), str(path), dynamo=False, **kwargs)
        except TypeError:  # older torch without `dynamo`
            torch.onnx.export(module, (ids, mask), str(path), **kwargs)
    finish_graph(path)  # > 1.5 GB of weights: one text_encoder.onnx.data beside it
    for b, l, pad in ((2, 5, [0, 2]), (3, 9, [4, 0, 1]), (1, 1, [0])):
        ids, mask = sample(b, l, pad)
        with torch.no_grad():
            ref = module(ids, mask).numpy()
        got = _ort_run(path, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        err = float(np.max(np.abs(got - ref)))
        if not got.shape == ref.shape or not err < 1e-4:
            raise RuntimeError(
                f"text_encoder.onnx differs from torch at batch {b}, tokens {l}: "
                f"shape {got.shape} vs {ref.shape}, max abs {err:.3g}"
            )
