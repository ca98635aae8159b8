"""PyTorch port of one SAM-Audio velocity evaluation, for ONNX export (`dit.onnx`).

Semantics follow mlx-audio 0.6.2 `mlx_audio/sts/models/sam_audio/model.py` (`SAMAudio.__call__`,
`align_inputs`, `SinusoidalEmbedding`), `align.py` (`EmbedAnchors`), `transformer.py` (`DiT`,
`DiTBlock`, `Attention`, `FeedForward`, `TimestepEmbedder`, `ContextEmbedder`, `RMSNorm`),
`rope.py` (`RotaryEmbedding`) and `patcher.py` (`Patcher`, the DiT's `x_embedder`); the model
is arXiv 2512.18099. Dropout is inert (inference); no audio padding mask (the reference never
passes one).

`DiTStep.forward(noisy, audio_features, text_features, text_mask, time, anchor_ids,
anchor_alignment, anchor_scale) -> velocity`:
  noisy, audio_features f32 [B, T, 2C]; text_features f32 [B, L, textDim];
  text_mask bool [B, L] (true = attend; every row needs one true entry, else the softmax of
  that row is NaN exactly as in the reference); time f32 [B]; anchor_ids int64 [B, N];
  anchor_alignment int64 [B, T] (indices into anchor_ids); anchor_scale f32 [B];
  velocity f32 [B, T, 2C].
The anchor term of `EmbedAnchors` is multiplied by `anchor_scale` (1 = the reference with
anchors, 0 = the reference with `anchor_ids=None`; ids and alignment must still be valid
indices).

The module keeps the MLX parameter names (conv weights transposed to torch's layout), so
`dit_from_mlx` is a name-for-name copy. The RoPE table (`max_positions` rows) and the two
sinusoid frequency vectors are buffers copied from the MLX instance; RoPE rows are gathered by
positions derived from the runtime frame count, so the graph accepts 1..max_positions frames.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .external import finish_graph


def _activation(kind: str, x: torch.Tensor) -> torch.Tensor:
    if kind == "silu":
        return F.silu(x)
    if kind == "relu":
        return F.relu(x)
    if kind == "gelu":
        return F.gelu(x)
    if kind == "approx_gelu":
        return x * torch.sigmoid(1.702 * x)
    raise ValueError(f"unsupported non-linearity {kind!r}")


class _RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class _Projection(nn.Module):
    """mlx `ProjectionLayer` (in->out, then out->out) and `FeedForward` (in->hid->in)."""

    def __init__(self, in_dim, hid_dim, out_dim, kind, bias):
        super().__init__()
        self.kind = kind
        self.w1 = nn.Linear(in_dim, hid_dim, bias=bias)
        self.w2 = nn.Linear(hid_dim, out_dim, bias=bias)
        if kind == "swiglu":
            self.w3 = nn.Linear(in_dim, hid_dim, bias=bias)

    def forward(self, x):
        h = self.w1(x)
        if self.kind == "swiglu":
            h = F.silu(h) * self.w3(x)
        else:
            h = _activation(self.kind, h)
        return self.w2(h)


class _Wrap(nn.Module):
    """Holds a `projection` (and an optional `norm`) under mlx's attribute names."""

    def __init__(self, projection, norm=None):
        super().__init__()
        self.projection = projection
        if norm is not None:
            self.norm = norm

    def forward(self, x):
        if hasattr(self, "norm"):
            x = self.norm(x)
        return self.projection(x)


class _Attention(nn.Module):
    def __init__(self, dim, head_dim, n_heads, n_kv_heads, eps, qk_norm, bias):
        super().__init__()
        self.head_dim, self.n_heads, self.n_kv_heads = head_dim, n_heads, n_kv_heads
        self.scale = head_dim ** -0.5
        self.wq = nn.Linear(dim, n_heads * head_dim, bias=bias)
        self.wk = nn.Linear(dim, n_kv_heads * head_dim, bias=bias)
        self.wv = nn.Linear(dim, n_kv_heads * head_dim, bias=bias)
        self.wo = nn.Linear(n_heads * head_dim, dim, bias=bias)
        self.qk_norm = qk_norm
        if qk_norm:
            self.q_norm = _RMSNorm(head_dim, eps)
            self.k_norm = _RMSNorm(head_dim, eps)

    def _heads(self, x, n):
        # SAM-Audio order: (B, T, C) -> (B, T, C/H, H) -> (B, H, T, C/H)
        return x.reshape(x.shape[0], x.shape[1], self.head_dim, n).permute(0, 3, 1, 2)

    @staticmethod
    def _rope(x, cos, sin):
        # x (B, H, T, E), adjacent pairs rotated by [[cos, -sin], [sin, cos]]
        xp = x.reshape(x.shape[0], x.shape[1], x.shape[2], x.shape[3] // 2, 2)
        x0, x1 = xp[..., 0], xp[..., 1]
        out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
        return out.reshape(x.shape)

    def forward(self, x, kv=None, mask=None, rope=None):
        src = x if kv is None else kv
        q = self._heads(self.wq(x), self.n_heads)
        k = self._heads(self.wk(src), self.n_kv_heads)
        v = self._heads(self.wv(src), self.n_kv_heads)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None and kv is None:
            q, k = self._rope(q, *rope), self._rope(k, *rope)
        if self.n_kv_heads < self.n_heads:
            rep = self.n_heads // self.n_kv_heads
            k = torch.repeat_interleave(k, rep, dim=1)
            v = torch.repeat_interleave(v, rep, dim=1)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if mask is not None:
            scores = torch.where(mask[:, None, None, :], scores, float("-inf"))
        out = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2)
        return self.wo(out.reshape(out.shape[0], out.shape[1], self.n_heads * self.head_dim))


class _Block(nn.Module):
    def __init__(self, tc, ffn_hidden):
        super().__init__()
        dim, h = tc["dim"], tc["n_heads"]
        hd = dim // h
        eps, bias = tc["norm_eps"], tc["fc_bias"]
        self.dim = dim
        self.attention = _Attention(dim, hd, h, h, eps, tc["qk_norm"], bias)
        self.feed_forward = _Projection(dim, ffn_hidden, dim, tc["non_linearity"], bias)
        self.attention_norm = _RMSNorm(dim, eps)
        self.ffn_norm = _RMSNorm(dim, eps)
        self.cross_attention = _Attention(dim, hd, h, h, eps, tc["qk_norm"], bias)
        self.scale_shift_table = nn.Parameter(torch.zeros(6, dim))

    def forward(self, x, y, t0, mem_mask, rope):
        mod = self.scale_shift_table[None] + t0.reshape(t0.shape[0], 6, self.dim)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.split(1, dim=1)
        hm = self.attention_norm(x) * (1 + scale_msa) + shift_msa
        h = x + self.attention(hm, rope=rope) * gate_msa
        h = h + self.cross_attention(h, kv=y, mask=mem_mask)
        hm = self.ffn_norm(h) * (1 + scale_mlp) + shift_mlp
        return h + self.feed_forward(hm) * gate_mlp


class _ConvBlock(nn.Module):
    """GroupNorm(1 group, mlx statistics over all of T x C) -> SiLU -> conv (k, stride 1)."""

    def __init__(self, cin, cout, kernel):
        super().__init__()
        self.groupnorm = nn.Module()
        self.groupnorm.weight = nn.Parameter(torch.ones(cin))
        self.groupnorm.bias = nn.Parameter(torch.zeros(cin))
        self.project = nn.Module()
        self.project.weight = nn.Parameter(torch.zeros(cout, cin, kernel))  # torch layout
        self.project.bias = nn.Parameter(torch.zeros(cout))
        total = kernel - 1
        self.pad = (total - total // 2, total // 2)

    def forward(self, x):  # x (B, T, C) -> (B, T, C)
        mean = x.mean(dim=(1, 2), keepdim=True)
        d = x - mean
        var = (d * d).mean(dim=(1, 2), keepdim=True)
        x = d * torch.rsqrt(var + 1e-5) * self.groupnorm.weight + self.groupnorm.bias
        x = F.silu(x).transpose(1, 2)
        x = F.conv1d(F.pad(x, self.pad), self.project.weight) + self.project.bias[:, None]
        return x.transpose(1, 2)


class _Patcher(nn.Module):
    """mlx `Patcher(dim, dim, patch_size=1)`: a ResNet block of two conv blocks + skip."""

    def __init__(self, dim):
        super().__init__()
        self.block = nn.Module()
        self.block.block1 = _ConvBlock(dim, dim, 3)
        self.block.block2 = _ConvBlock(dim, dim, 3)

    def forward(self, x):  # (B, T, C)
        return self.block.block2(self.block.block1(x)) + x


class _DiT(nn.Module):
    def __init__(self, tc):
        super().__init__()
        dim = tc["dim"]
        self.tc = tc
        hid = int(tc["ffn_exp"] * dim)
        if tc["non_linearity"] == "swiglu":
            hid = int(2 * hid / 3)
        hid = int(tc["ffn_dim_multiplier"] * hid)
        m = tc["multiple_of"]
        hid = m * ((hid + m - 1) // m)
        if tc["in_channels"] is not None:  # present in the checkpoint, unused by __call__
            self.data_proj = nn.Linear(tc["in_channels"], dim)
        self.layers = nn.ModuleList([_Block(tc, hid) for _ in range(tc["n_layers"])])
        self.norm = _RMSNorm(dim, tc["norm_eps"])
        self.output = nn.Linear(dim, tc["out_channels"], bias=tc["fc_bias"])
        self.x_embedder = _Patcher(dim)
        self.y_embedder = _Wrap(
            _Projection(tc["context_dim"], dim, dim, tc["context_non_linearity"], tc["fc_bias"]),
            _RMSNorm(tc["context_dim"], tc["norm_eps"]) if tc["context_norm"] else None,
        )
        self.t_embedder = _Wrap(
            _Projection(tc["frequency_embedding_dim"], dim, dim,
                        tc["timestep_non_linearity"], tc["fc_bias"])
        )
        self.t_block = nn.Linear(dim, 6 * dim, bias=tc["t_block_bias"])
        self.final_layer_scale_shift_table = nn.Parameter(torch.zeros(2, dim))

        fdim = tc["frequency_embedding_dim"]
        half = fdim // 2
        self.register_buffer(
            "t_freqs",
            torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half),
            persistent=False,
        )
        self.use_rope = bool(tc["use_rope"])
        if self.use_rope:
            hd = dim // tc["n_heads"]
            theta = max(10000, 2 * tc["max_positions"])
            freqs = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32)[: hd // 2] / hd))
            ang = torch.outer(torch.arange(tc["max_positions"], dtype=torch.float32), freqs)
            self.register_buffer("rope_cos", torch.cos(ang), persistent=False)
            self.register_buffer("rope_sin", torch.sin(ang), persistent=False)

    def timestep(self, time):
        args = time[:, None].to(torch.float32) * self.t_freqs[None, :]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.tc["frequency_embedding_dim"] % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return self.t_embedder(emb)

    def forward(self, x, time, memory, mem_mask):
        h = self.x_embedder(x)
        t = self.timestep(time)
        t0 = self.t_block(_activation(self.tc["t_block_non_linearity"], t))
        y = self.y_embedder(memory)
        rope = None
        if self.use_rope:
            pos = torch.cumsum(torch.ones_like(x[0, :, 0], dtype=torch.int64), 0) - 1
            rope = (self.rope_cos[pos], self.rope_sin[pos])  # (T, E/2), dynamic T
        for layer in self.layers:
            h = layer(h, y, t0, mem_mask, rope)
        shift, scale = (self.final_layer_scale_shift_table[None] + t[:, None]).split(1, dim=1)
        h = self.norm(h) * (1 + scale) + shift
        return self.output(h)


class _EmbedAnchors(nn.Module):
    def __init__(self, num_anchors, emb_dim, out_dim):
        super().__init__()
        self.embed = nn.Embedding(num_anchors + 1, emb_dim)
        self.gate = nn.Parameter(torch.zeros(1))
        self.proj = nn.Linear(emb_dim, out_dim, bias=False)

    def forward(self, x, anchor_ids, anchor_alignment, anchor_scale):
        ids = torch.gather(anchor_ids, 1, anchor_alignment)
        term = torch.tanh(self.gate) * self.proj(self.embed(ids))
        return x + anchor_scale[:, None, None] * term


_TC_KEYS = (
    "dim", "n_heads", "n_layers", "norm_eps", "qk_norm", "fc_bias", "ffn_exp",
    "ffn_dim_multiplier", "multiple_of", "non_linearity", "use_rope", "max_positions",
    "frequency_embedding_dim", "timestep_non_linearity", "t_block_non_linearity",
    "t_block_bias", "context_dim", "context_non_linearity", "context_norm", "out_channels",
    "in_channels",
)


class DiTStep(nn.Module):
    """One SAM-Audio velocity evaluation (see the module docstring for inputs and shapes).

    `config`: an mlx-audio `SAMAudioConfig` (attributes `in_channels`, `num_anchors`,
    `anchor_embedding_dim`, `text_encoder.dim`, `transformer.*`).
    """

    def __init__(self, config):
        super().__init__()
        tc = {k: getattr(config.transformer, k) for k in _TC_KEYS}
        if tc["context_dim"] != tc["dim"]:
            raise ValueError("SAM-Audio needs transformer.context_dim == transformer.dim")
        if tc["dim"] % tc["n_heads"] or (tc["dim"] // tc["n_heads"]) % 2:
            raise ValueError("transformer.dim / n_heads must be an even integer")
        if tc["dim"] % 2:
            raise ValueError("transformer.dim must be even (sinusoidal time embedding)")
        dim = tc["dim"]
        self.dim = dim
        self.max_positions = int(tc["max_positions"])
        self.in_channels = int(config.in_channels)
        self.text_dim = int(config.text_encoder.dim)
        self.num_anchors = int(config.num_anchors)
        self.out_channels = int(tc["out_channels"])
        self.proj = nn.Linear(config.in_channels, dim)
        self.embed_anchors = _EmbedAnchors(config.num_anchors, config.anchor_embedding_dim, dim)
        self.memory_proj = nn.Linear(config.text_encoder.dim, dim)
        self.transformer = _DiT(tc)
        half = dim // 2
        self.register_buffer(
            "time_inv_freq",
            torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half),
            persistent=False,
        )

    def forward(self, noisy, audio_features, text_features, text_mask, time,
                anchor_ids, anchor_alignment, anchor_scale):
        x = torch.cat([noisy, torch.zeros_like(audio_features), audio_features], dim=2)
        x = self.embed_anchors(self.proj(x), anchor_ids, anchor_alignment, anchor_scale)
        emb = time[:, None] * self.time_inv_freq[None, :]
        temb = torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)[:, None, :]
        memory = self.memory_proj(text_features) + temb
        return self.transformer(x, time, memory, text_mask)


def _np(a):
    import mlx.core as mx

    return np.array(a.astype(mx.float32), copy=True)


def dit_from_mlx(mlx_sam_audio) -> DiTStep:
    """Build a `DiTStep` with the parameters of an mlx-audio `SAMAudio` (proj, embed_anchors,
    memory_proj, transformer; its codec and text encoder are ignored)."""
    from mlx.utils import tree_flatten

    module = DiTStep(mlx_sam_audio.config)
    state = module.state_dict()
    keep = ("proj.", "embed_anchors.", "memory_proj.", "transformer.")
    params = {k: v for k, v in tree_flatten(mlx_sam_audio.parameters()) if k.startswith(keep)}
    missing = sorted(set(state) - set(params))
    extra = sorted(set(params) - set(state))
    if missing or extra:
        raise ValueError(f"DiT parameter names differ: missing {missing[:6]}, unexpected {extra[:6]}")
    new_state = {}
    for name, value in params.items():
        arr = torch.from_numpy(_np(value))
        want = tuple(state[name].shape)
        if arr.ndim == 3 and tuple(arr.shape) != want:
            arr = arr.permute(0, 2, 1).contiguous()  # mlx conv (out, k, in) -> torch (out, in, k)
        if tuple(arr.shape) != want:
            raise ValueError(f"DiT parameter {name}: shape {tuple(arr.shape)} != {want}")
        new_state[name] = arr
    module.load_state_dict(new_state, strict=True)

    # Precomputed tables: take MLX's own values (bit-identical to the reference).
    module.time_inv_freq = torch.from_numpy(_np(mlx_sam_audio.timestep_emb._inv_freq))
    dit = mlx_sam_audio.transformer
    module.transformer.t_freqs = torch.from_numpy(_np(dit.t_embedder._freqs))
    if module.transformer.use_rope:
        fc = _np(dit.rope_embeddings._freqs_cis)  # (1, maxT, 1, E/2, 2, 2)
        fc = fc.reshape(fc.shape[1], fc.shape[3], 2, 2)
        module.transformer.rope_cos = torch.from_numpy(np.ascontiguousarray(fc[:, :, 0, 0]))
        module.transformer.rope_sin = torch.from_numpy(np.ascontiguousarray(fc[:, :, 1, 0]))
    return module.eval()


def example_inputs(module: DiTStep, batch, frames, tokens, anchors, seed=0, pad=None):
    """Random valid inputs (a dict keyed by the graph's input names) for checks."""
    g = torch.Generator().manual_seed(seed)
    c2 = module.out_channels
    mask = torch.ones(batch, tokens, dtype=torch.bool)
    for b, p in enumerate(pad or []):
        if p:
            mask[b, tokens - p:] = False
    return {
        "noisy": torch.randn(batch, frames, c2, generator=g),
        "audio_features": torch.randn(batch, frames, c2, generator=g),
        "text_features": torch.randn(batch, tokens, module.text_dim, generator=g),
        "text_mask": mask,
        "time": torch.rand(batch, generator=g),
        "anchor_ids": torch.randint(0, module.num_anchors + 1, (batch, anchors), generator=g),
        "anchor_alignment": torch.randint(0, anchors, (batch, frames), generator=g),
        "anchor_scale": torch.ones(batch),
    }


INPUT_NAMES = ["noisy", "audio_features", "text_features", "text_mask", "time",
               "anchor_ids", "anchor_alignment", "anchor_scale"]


def export_dit(module: DiTStep, path, opset: int = 17) -> None:
    """Export to ONNX (inputs `INPUT_NAMES`, output `velocity`; dynamic batch, frames, tokens,
    anchors), then check ONNX Runtime against torch at the export size and two other sizes;
    raises `RuntimeError` when max abs difference > 1e-4 * max(1, max |torch|)."""
    import onnxruntime as ort

    path = Path(path)
    module = module.eval()
    ex = example_inputs(module, 2, 7, 5, 3, seed=1, pad=[0, 2])
    axes = {
        "noisy": {0: "batch", 1: "frames"},
        "audio_features": {0: "batch", 1: "frames"},
        "text_features": {0: "batch", 1: "tokens"},
        "text_mask": {0: "batch", 1: "tokens"},
        "time": {0: "batch"},
        "anchor_ids": {0: "batch", 1: "anchors"},
        "anchor_alignment": {0: "batch", 1: "frames"},
        "anchor_scale": {0: "batch"},
        "velocity": {0: "batch", 1: "frames"},
    }
    kwargs = dict(input_names=INPUT_NAMES, output_names=["velocity"], dynamic_axes=axes,
                  opset_version=opset, do_constant_folding=True)
    args = tuple(ex[n] for n in INPUT_NAMES)
    with torch.no_grad():
        try:
            torch.onnx.export(module, args, str(path), dynamo=False, **kwargs)
        except TypeError:  # older torch without `dynamo`
            torch.onnx.export(module, args, str(path), **kwargs)
    finish_graph(path)  # > 1.5 GB of weights: one dit.onnx.data beside it

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for b, t, l, n, pad, scale in ((2, 7, 5, 3, [0, 2], 1.0), (1, 1, 3, 2, [0], 0.0),
                                   (3, 33, 6, 4, [1, 0, 5], 1.0)):
        ex = example_inputs(module, b, t, l, n, seed=2 + t, pad=pad)
        ex["anchor_scale"] = torch.full((b,), scale)
        with torch.no_grad():
            ref = module(*(ex[k] for k in INPUT_NAMES)).numpy()
        got = sess.run(None, {k: v.numpy() for k, v in ex.items()})[0]
        err = float(np.max(np.abs(got - ref))) if got.shape == ref.shape else float("inf")
        if not err <= 1e-4 * max(1.0, float(np.max(np.abs(ref)))):
            raise RuntimeError(
                f"dit.onnx differs from torch at batch {b}, frames {t}, tokens {l}, anchors {n}: "
                f"shape {got.shape} vs {ref.shape}, max abs {err:.3g}"
            )
