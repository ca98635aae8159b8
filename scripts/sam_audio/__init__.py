"""SAM-Audio (arXiv 2512.18099) to ONNX for resonode: PyTorch ports of the
mlx-audio 0.6.2 reference (`mlx_audio.sts.models.sam_audio`), built from an
mlx `SAMAudio` and its T5 encoder, exported as the four graphs and the
`manifest.json` that `crates/ml/src/sam_audio` loads (see
`scripts/export_sam_audio.py` and README "Text-prompted separation").

- `codec.py`: DAC-VAE encoder and decoder (`codec_encoder.onnx`, `codec_decoder.onnx`);
- `t5.py`: the T5 text encoder (`text_encoder.onnx`);
- `dit.py`: one velocity evaluation of the flow-matching DiT (`dit.onnx`);
- `external.py`: graphs over 1.5 GB of weights get one `<name>.onnx.data`
  (listed under the manifest's `data`).
"""
import json
import shutil
from pathlib import Path

MANIFEST_FORMAT = "resonode-sam-audio"
MANIFEST_VERSION = 1
ANCHOR_TOKENS = {"<null>": 0, "+": 1, "-": 2, "<pad>": 3}


def export_model(model, t5, tokenizer_json, out_dir, name, source, opset=17):
    """Exports an mlx `SAMAudio` (`model`) and its mlx `T5Encoder` (`t5`) to
    `out_dir`: the four ONNX graphs, `tokenizer.json` (copied from
    `tokenizer_json`) and `manifest.json`. Each exporter checks ONNX Runtime
    against its PyTorch module and raises on a mismatch."""
    from .codec import codec_from_mlx, export_codec
    from .external import data_files
    from .dit import dit_from_mlx, export_dit
    from .t5 import export_text_encoder, t5_from_mlx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enc, dec = codec_from_mlx(model.audio_codec)
    export_codec(enc, dec, out, opset=opset)
    export_text_encoder(t5_from_mlx(t5), out / "text_encoder.onnx", opset=opset)
    export_dit(dit_from_mlx(model), out / "dit.onnx", opset=opset)
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    files = {
        "codecEncoder": "codec_encoder.onnx",
        "codecDecoder": "codec_decoder.onnx",
        "textEncoder": "text_encoder.onnx",
        "dit": "dit.onnx",
        "tokenizer": "tokenizer.json",
    }
    # Graphs with > 1.5 GB of weights were re-saved with one `<name>.onnx.data`
    # (external.finish_graph); resonode checks the listed files exist.
    data = {}
    for key, f in files.items():
        if f.endswith(".onnx"):
            refs = data_files(out / f)
            if len(refs) > 1:
                raise RuntimeError(f"{f} references {len(refs)} external data files, expected at most one: {refs}")
            if refs:
                data[key] = refs[0]

    cfg = model.config
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": name,
        "sampleRate": int(cfg.audio_codec.sample_rate),
        "hopLength": int(cfg.audio_codec.hop_length),
        "codebookDim": int(cfg.audio_codec.codebook_dim),
        "textDim": int(cfg.text_encoder.dim),
        "textMaxLength": int(cfg.text_encoder.max_length or 512),
        "maxFrames": int(cfg.transformer.max_positions),
        "anchorTokens": ANCHOR_TOKENS,
        "files": files,
        "source": source,
    }
    if data:
        manifest["data"] = data
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
