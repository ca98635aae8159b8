"""PyTorch port of mlx-audio 0.6.2's DACVAE codec (SAM-Audio's audio codec) for ONNX export.

Only the inference paths SAM-Audio uses are ported:

* encode: ``Encoder`` -> ``QuantizerInProj`` -> mean half  (= ``DACVAE.encode``)
* decode: ``QuantizerOutProj`` -> ``Decoder`` (conv_in, blocks main path) -> snake_out ->
  conv_out -> tanh  (= ``DACVAE.decode`` with ``chunk_size=None``; no watermark).

Layouts: the torch modules are channels-first ([B, C, T]); MLX is channels-last ([B, T, C]).
Weight normalisation is folded into plain convolution weights at load time, so the exported
graphs hold ordinary Conv / ConvTranspose nodes.

Padding facts (all main-path layers of the reference use ``pad_mode="none"``):

* ``WNConv1d`` ignores its ``padding`` argument and uses ``(kernel - stride) * dilation // 2``
  (symmetric).  For a strided encoder conv (kernel 2s, stride s) that is ``s // 2``; an odd
  stride therefore loses one output frame (e.g. 300 -> 59 for s = 5, not 60).
* ``WNConvTranspose1d`` uses padding ``(stride + 1) // 2`` with kernel 2s, so its output length
  is ``(L + 1) * s - 2 * ((s + 1) // 2)``: exactly ``L * s`` for even strides, ``L * s - 1``
  for odd ones.
* With only even rates (the released checkpoint: [2, 8, 10, 12]) ``frames = samples / hop``
  and the decoder returns ``frames * hop`` samples exactly.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import nn


# ---------------------------------------------------------------------------
# Building blocks (channels-first)
# ---------------------------------------------------------------------------


class Snake(nn.Module):
    """Snake activation: ``x + 1/(alpha + 1e-9) * sin(alpha * x)^2``, alpha per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        s = torch.sin(a * x)
        return x + (1.0 / (a + 1e-9)) * (s * s)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Conv1d:
    # Reference rule for pad_mode="none": (kernel - stride) * dilation // 2, symmetric.
    pad = (kernel - stride) * dilation // 2
    return nn.Conv1d(cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, bias=True)


def _conv_t(cin: int, cout: int, stride: int) -> nn.ConvTranspose1d:
    # Reference rule for pad_mode="none": kernel 2*stride, padding (stride + 1) // 2.
    return nn.ConvTranspose1d(cin, cout, 2 * stride, stride=stride, padding=(stride + 1) // 2, bias=True)


class ResidualUnit(nn.Module):
    """Snake -> conv(k=7, dilation) -> Snake -> conv(k=1), plus the skip (lengths are equal)."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.act1 = Snake(dim)
        self.conv1 = _conv(dim, dim, 7, dilation=dilation)
        self.act2 = Snake(dim)
        self.conv2 = _conv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act2(self.conv1(self.act1(x))))
        return x + y


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, stride: int):
        super().__init__()
        half = dim // 2
        self.res1 = ResidualUnit(half, 1)
        self.res2 = ResidualUnit(half, 3)
        self.res3 = ResidualUnit(half, 9)
        self.snake = Snake(half)
        self.conv = _conv(half, dim, 2 * stride, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.snake(self.res3(self.res2(self.res1(x)))))


class Encoder(nn.Module):
    def __init__(self, d_model: int, strides: List[int], d_latent: int):
        super().__init__()
        self.conv_in = _conv(1, d_model, 7)
        blocks = []
        dim = d_model
        for s in strides:
            dim *= 2
            blocks.append(EncoderBlock(dim, s))
        self.blocks = nn.ModuleList(blocks)
        self.snake_out = Snake(dim)
        self.conv_out = _conv(dim, d_latent, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for b in self.blocks:
            x = b(x)
        return self.conv_out(self.snake_out(x))


class DecoderBlock(nn.Module):
    """Main path of the reference DecoderBlock: block_0, block_1, block_4, block_5, block_8."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.block_0 = Snake(cin)
        self.block_1 = _conv_t(cin, cout, stride)
        self.block_4 = ResidualUnit(cout, 1)
        self.block_5 = ResidualUnit(cout, 3)
        self.block_8 = ResidualUnit(cout, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block_1(self.block_0(x))
        return self.block_8(self.block_5(self.block_4(x)))


class Decoder(nn.Module):
    def __init__(self, input_channel: int, channels: int, rates: List[int]):
        super().__init__()
        self.conv_in = _conv(input_channel, channels, 7)
        self.blocks = nn.ModuleList(
            [DecoderBlock(channels // 2**i, channels // 2 ** (i + 1), s) for i, s in enumerate(rates)]
        )
        final = channels // 2 ** len(rates)
        self.snake_out = Snake(final)
        self.conv_out = _conv(final, 1, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for b in self.blocks:
            x = b(x)
        return torch.tanh(self.conv_out(self.snake_out(x)))


# ---------------------------------------------------------------------------
# Public modules
# ---------------------------------------------------------------------------


class CodecEncoder(nn.Module):
    """audio [B, 1, samples] (samples a multiple of hop) -> features [B, codebook_dim, frames].

    Equals mlx ``DACVAE.encode`` on (B, samples, 1), transposed: encoder, quantizer_in_proj,
    mean half (only the mean output channels of the projection are kept).
    """

    def __init__(self, encoder_dim: int, encoder_rates: List[int], latent_dim: int, codebook_dim: int):
        super().__init__()
        self.hop_length = int(np.prod(encoder_rates))
        self.codebook_dim = codebook_dim
        self.encoder = Encoder(encoder_dim, list(encoder_rates), latent_dim)
        self.quantizer_in_proj = nn.Conv1d(latent_dim, codebook_dim, 1, bias=True)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.quantizer_in_proj(self.encoder(audio))


class CodecDecoder(nn.Module):
    """features [B, codebook_dim, frames] -> audio [B, 1, samples].

    Equals mlx ``DACVAE.decode(features, chunk_size=None)`` transposed to [B, 1, S]; samples =
    frames * hop when every decoder rate is even (see the module docstring otherwise).
    """

    def __init__(self, codebook_dim: int, latent_dim: int, decoder_dim: int, decoder_rates: List[int]):
        super().__init__()
        self.hop_length = int(np.prod(decoder_rates))
        self.codebook_dim = codebook_dim
        self.quantizer_out_proj = nn.Conv1d(codebook_dim, latent_dim, 1, bias=True)
        self.decoder = Decoder(latent_dim, decoder_dim, list(decoder_rates))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.quantizer_out_proj(features))


# ---------------------------------------------------------------------------
# Weight loading from an mlx DACVAE
# ---------------------------------------------------------------------------


def _wn_norm(v: np.ndarray, keep_axis: int) -> np.ndarray:
    axes = tuple(i for i in range(v.ndim) if i != keep_axis)
    return np.sqrt(np.sum(v * v, axis=axes, keepdims=True))


def _fold(params: Dict[str, np.ndarray], prefix: str, keep_axis: int) -> np.ndarray:
    """Plain weight in MLX layout (out, k, in): g * v / ||v|| (as the reference computes it, f32)."""
    if prefix + ".weight_g" in params:
        g = params[prefix + ".weight_g"].astype(np.float32)
        v = params[prefix + ".weight_v"].astype(np.float32)
        return (g * v / _wn_norm(v, keep_axis)).astype(np.float32)
    return params[prefix + ".weight"].astype(np.float32)


def _is_watermark_key(k: str) -> bool:
    if "wm_model" in k:
        return True
    parts = k.split(".")
    # Decoder-block watermark paths: block_3 (ConvT), block_6/block_7 (ELU residual units),
    # block_11 (downsampling conv).  block_2/block_10 are parameter-free ELUs.
    return any(p in ("block_3", "block_6", "block_7", "block_11") for p in parts)


def codec_from_mlx(mlx_codec) -> Tuple[CodecEncoder, CodecDecoder]:
    """Build the torch encoder and decoder from an mlx ``DACVAE`` instance (weights copied)."""
    from mlx.utils import tree_flatten

    cfg = mlx_codec.config
    params = {k: np.array(v) for k, v in tree_flatten(mlx_codec.parameters())}
    used = set()

    enc = CodecEncoder(cfg.encoder_dim, list(cfg.encoder_rates), cfg.latent_dim, cfg.codebook_dim)
    dec = CodecDecoder(cfg.codebook_dim, cfg.latent_dim, cfg.decoder_dim, list(cfg.decoder_rates))

    def take(key: str) -> np.ndarray:
        if key not in params:
            raise KeyError(f"mlx codec has no parameter {key!r}")
        used.add(key)
        return params[key]

    def load_module(name: str, mod: nn.Module, out_slice: int | None = None) -> None:
        with torch.no_grad():
            if isinstance(mod, Snake):
                a = take(name + ".alpha").astype(np.float32)  # (1, 1, C)
                mod.alpha.copy_(torch.from_numpy(np.ascontiguousarray(a.reshape(1, -1, 1))))
                return
            keys = [name + s for s in (".weight_g", ".weight_v", ".weight")]
            for k in keys:
                if k in params:
                    used.add(k)
            if isinstance(mod, nn.ConvTranspose1d):
                w = _fold(params, name, keep_axis=2)  # MLX (out, k, in); norm over (out, k)
                w = w.transpose(2, 0, 1)  # torch ConvTranspose1d: (in, out, k)
            else:
                w = _fold(params, name, keep_axis=0)  # MLX (out, k, in); norm over (k, in)
                if out_slice is not None:
                    w = w[:out_slice]
                w = w.transpose(0, 2, 1)  # torch Conv1d: (out, in, k)
            b = take(name + ".bias").astype(np.float32)
            if out_slice is not None:
                b = b[:out_slice]
            if tuple(w.shape) != tuple(mod.weight.shape):
                raise ValueError(f"{name}: weight shape {w.shape} != {tuple(mod.weight.shape)}")
            if tuple(b.shape) != tuple(mod.bias.shape):
                raise ValueError(f"{name}: bias shape {b.shape} != {tuple(mod.bias.shape)}")
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            mod.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))

    for root in (enc, dec):
        for name, mod in root.named_modules():
            if isinstance(mod, (Snake, nn.Conv1d, nn.ConvTranspose1d)):
                out_slice = cfg.codebook_dim if name == "quantizer_in_proj" else None
                load_module(name, mod, out_slice)

    unused = [k for k in params if k not in used and not _is_watermark_key(k)]
    if unused:
        raise ValueError(f"mlx parameters not consumed by the port: {unused}")
    enc.eval()
    dec.eval()
    return enc, dec


# ---------------------------------------------------------------------------
# ONNX export
# ---------------------------------------------------------------------------


def _check_ort(path: str, in_name: str, x: np.ndarray, module: nn.Module) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {in_name: x})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    if got.shape != want.shape:
        raise RuntimeError(f"{os.path.basename(path)}: ORT shape {got.shape} != torch {want.shape}")
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    # 1e-4 absolute, scaled up only when the outputs themselves exceed 1 in magnitude.
    tol = 1e-4 * max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    if not np.isfinite(diff) or diff >= tol:
        raise RuntimeError(f"{os.path.basename(path)}: ORT vs torch max abs diff {diff:.3e} >= {tol:.3e}")
    return diff


def export_codec(encoder: CodecEncoder, decoder: CodecDecoder, out_dir: str, opset: int = 17) -> Dict[str, float]:
    """Write codec_encoder.onnx (audio -> features) and codec_decoder.onnx (features -> audio).

    Dynamic axes: batch, samples, frames.  Each graph is then run with onnxruntime at a batch
    and length different from the export's dummy input and compared with the torch module
    (max abs diff < 1e-4, scaled by the output magnitude when it exceeds 1); raises otherwise.
    Returns the measured ORT-vs-torch max abs differences.
    """
    os.makedirs(out_dir, exist_ok=True)
    encoder.eval()
    decoder.eval()
    hop = encoder.hop_length
    enc_path = os.path.join(out_dir, "codec_encoder.onnx")
    dec_path = os.path.join(out_dir, "codec_decoder.onnx")
    with torch.no_grad():
        torch.onnx.export(
            encoder,
            (torch.zeros(1, 1, hop * 4),),
            enc_path,
            input_names=["audio"],
            output_names=["features"],
            dynamic_axes={"audio": {0: "batch", 2: "samples"}, "features": {0: "batch", 2: "frames"}},
            opset_version=opset,
            dynamo=False,
        )
        torch.onnx.export(
            decoder,
            (torch.zeros(1, decoder.codebook_dim, 4),),
            dec_path,
            input_names=["features"],
            output_names=["audio"],
            dynamic_axes={"features": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}},
            opset_version=opset,
            dynamo=False,
        )
    from .external import finish_graph

    finish_graph(enc_path)  # > 1.5 GB of weights: one <name>.onnx.data beside it
    finish_graph(dec_path)
    rng = np.random.default_rng(1234)
    x = (rng.uniform(-0.5, 0.5, size=(2, 1, hop * 7))).astype(np.float32)
    f = rng.standard_normal((2, decoder.codebook_dim, 9)).astype(np.float32)
    diffs = {
        "encoder": _check_ort(enc_path, "audio", x, encoder),
        "decoder": _check_ort(dec_path, "features", f, decoder),
    }
    _check_hop_contract(enc_path, dec_path, hop, decoder.codebook_dim)
    return diffs


def _check_hop_contract(enc_path: str, dec_path: str, hop: int, codebook_dim: int) -> None:
    """The contract resonode relies on (its `hopLength` arithmetic): the
    encoder turns k * hop samples into exactly k frames of `codebook_dim`
    features, and the decoder turns k frames into exactly k * hop samples.
    Raises RuntimeError naming the sizes otherwise."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    enc = ort.InferenceSession(enc_path, so, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(dec_path, so, providers=["CPUExecutionProvider"])
    for k in (1, 2, 5, 13):
        feats = enc.run(None, {"audio": np.zeros((1, 1, k * hop), np.float32)})[0]
        if feats.shape != (1, codebook_dim, k):
            raise RuntimeError(
                f"codec_encoder.onnx breaks the hop contract: {k} x hop {hop} = {k * hop} samples gave features "
                f"{feats.shape}, expected (1, {codebook_dim}, {k}); check encoder_rates (their product must be the hop)"
            )
        audio = dec.run(None, {"features": np.zeros((1, codebook_dim, k), np.float32)})[0]
        if audio.shape != (1, 1, k * hop):
            raise RuntimeError(
                f"codec_decoder.onnx breaks the hop contract: {k} frames gave audio {audio.shape}, "
                f"expected (1, 1, {k * hop}) = k x hop {hop}; check decoder_rates (their product must be the hop)"
            )
