#!/usr/bin/env python3
"""Makes resonode's tiny random-weight SAM-Audio model and its reference fixtures.

Writes
- `models/sam-audio-tiny/`: a tiny SAM-Audio (DAC-VAE codec, T5 encoder,
  flow-matching DiT; arXiv 2512.18099) with random weights, exported with
  `scripts/sam_audio` exactly as `scripts/export_sam_audio.py` exports a
  real checkpoint, plus a small T5-style Unigram `tokenizer.json`;
- `crates/ml/tests/fixtures/sam_audio/`: `cases.json` and raw little-endian
  float32 files: the input mixture, the initial noise of each case and the
  reference's `target`/`residual`, computed by mlx-audio 0.6.2 (the PyPI
  package's SAM-Audio, on MLX's CPU backend) from the same weights; and
  `t5_style_tokenizer.json` + `t5_style_tokens.json`, a real T5-style
  tokenizer (SentencePiece Unigram converted by transformers) with the ids
  and masks transformers gives for a few batches.

Every parameter is drawn at random (gates and scales included), so each path
(anchors, text mask, padding, the codec's snake and weight-norm layers)
changes the output. MLX's random generator cannot be reproduced outside MLX:
each case records its initial noise, and resonode's parity tests pass it in.

The reference is called as its own entry points are: `separate()` through
the `SAMAudioProcessor` (batching, null anchors or the given anchors), and
`separate_long()` / `separate_streaming()` on an array (no anchor
conditioning, noise from `mx.random.seed(seed + chunk)`). Expected outputs
are trimmed to the input length (the reference keeps up to hop - 1 samples
of its codec padding).

Usage (once; the outputs are committed; CI needs no Python):
  python3 -m venv /tmp/mlxvenv
  /tmp/mlxvenv/bin/pip install mlx mlx-cpu mlx-audio==0.6.2 torch onnx onnxruntime \
      tokenizers transformers sentencepiece scipy soundfile
  /tmp/mlxvenv/bin/python scripts/make_sam_audio_fixtures.py [--tokenizer-only | --external-only] [--no-export]

Audio: `assets/speech.wav` and `assets/music.wav` (see assets/ATTRIBUTION.md),
mixed and resampled to 48 kHz.
"""
import json
import math
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from mlx_audio.codec.models.dacvae import DACVAEConfig  # noqa: E402
from mlx_audio.sts.models.sam_audio.config import (  # noqa: E402
    SAMAudioConfig,
    T5EncoderConfig,
    TransformerConfig,
)
from mlx_audio.sts.models.sam_audio.model import SAMAudio  # noqa: E402
from mlx_audio.sts.models.sam_audio.processor import SAMAudioProcessor  # noqa: E402
from mlx_audio.sts.models.sam_audio.text_encoder import T5Config, T5Encoder  # noqa: E402

MODEL_DIR = ROOT / "models" / "sam-audio-tiny"
FIXTURES = ROOT / "crates" / "ml" / "tests" / "fixtures" / "sam_audio"
SR = 48_000
CODEBOOK_DIM = 8
TEXT_MAX_LENGTH = 8


def tiny_config() -> SAMAudioConfig:
    codec = DACVAEConfig(
        encoder_dim=8,
        encoder_rates=[2, 2, 6, 10],
        latent_dim=16,
        decoder_dim=96,  # 96 // 2**4 // 3 > 0 for the decoder's watermark branch
        decoder_rates=[10, 6, 2, 2],
        n_codebooks=2,
        codebook_size=16,
        codebook_dim=CODEBOOK_DIM,
    )
    return SAMAudioConfig(
        in_channels=6 * CODEBOOK_DIM,
        audio_codec=codec,
        text_encoder=T5EncoderConfig(name="sam-audio-tiny-t5", dim=16, max_length=TEXT_MAX_LENGTH),
        transformer=TransformerConfig(
            dim=32,
            n_heads=4,
            n_layers=2,
            context_dim=32,
            out_channels=2 * CODEBOOK_DIM,
            frequency_embedding_dim=16,
            multiple_of=8,
            max_positions=10000,
        ),
        anchor_embedding_dim=8,
    )


def tiny_t5() -> T5Encoder:
    return T5Encoder(
        T5Config(
            vocab_size=64,
            d_model=16,
            d_kv=8,
            d_ff=32,
            num_layers=2,
            num_heads=2,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=16,
            is_gated_act=False,
            dense_act_fn="relu",
        )
    )


def make_tokenizer(path: Path) -> None:
    """A T5-style SentencePiece Unigram tokenizer over a tiny vocabulary: ids
    0/1/2 are <pad>/</s>/<unk> as in T5, Metaspace pre-tokenisation, runs of
    spaces collapsed by a regex Replace (as T5's normaliser), `</s>` appended."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    words = [
        "speech", "a", "man", "speaking", "the", "acoustic", "guitar", "and",
        "drums", "siren", "music", "dog", "bark", "voice", "woman", "singing",
    ]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -3.0)]
    vocab += [("\u2581" + w, -2.0 - 0.01 * i) for i, w in enumerate(words)]
    vocab += [(c, -6.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    vocab += [("ing", -4.0), ("s", -4.5)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    assert tok.get_vocab_size() <= 64
    tok.save(str(path))


T5_STYLE_WORDS = (
    "speech a man speaking the acoustic guitar and drums siren music dog barking voice woman singing "
    "piano violin bass crowd applause rain thunder wind bird chirping car engine horn train whistle "
    "baby crying laughter footsteps door knock water running keyboard typing phone ringing bell church "
    "orchestra choir trumpet saxophone flute cello harp synthesizer electric distorted loud quiet soft "
    "background foreground noise hum buzz click clap snare kick cymbal hat tom vocal lead backing cafe"
).split()

# A few SentencePiece normalisation rules (source code points -> target), so
# the model carries a real but small precompiled charsmap (T5's is nmt_nfkc,
# about 250 KB): the ligature fi, full-width capitals, e + combining acute,
# no-break and ideographic spaces.
T5_STYLE_RULES = [
    ("FB01", "66 69"),
    *((f"{0xFF21 + i:X}", f"{0x41 + i:X}") for i in range(26)),
    ("65 301", "E9"),
    ("A0", "20"),
    ("3000", "20"),
]

T5_STYLE_BATCHES = [
    [
        "a man speaking",
        "  multiple   spaces  here ",
        "Caf\u00e9 na\u00efve \u2014 \u00fcn\u00efc\u00f6d\u00e9 \u65e5\u672c \ufb01",
        "the acoustic guitar and drums and a man speaking loudly",
    ],
    ["dog", "\uff30\uff29\uff21\uff2e\uff2f\u00a0violin", "cafe\u0301 e\u0301", "<extra_id_0> siren"],
    ["piano"],
    ["\tsoft\nrain\u3000 thunder  "],
]


def make_t5_style_tokenizer(fixtures: Path, max_length: int = 8) -> None:
    """A real T5-style `tokenizer.json`: a SentencePiece Unigram model trained
    on a few hundred seeded phrases (ids 0/1/2 = <pad>/</s>/<unk>, as T5) and
    converted by transformers' own T5 converter and saved as transformers'
    T5Tokenizer runs it (Precompiled normaliser, WhitespaceSplit + Metaspace,
    `$A </s>`, 3 <extra_id_*>), plus
    the ids and attention masks transformers computes for a few batches with
    the reference's `tokenizer(texts, truncation=True, max_length=8,
    padding="longest")`. resonode's tokenizer must give the same."""
    import io
    import random
    import tempfile

    import sentencepiece as spm
    from transformers import AutoTokenizer
    from transformers.convert_slow_tokenizer import T5Converter

    rng = random.Random(0)
    lines = [" ".join(rng.choice(T5_STYLE_WORDS) for _ in range(rng.randint(2, 8))) for _ in range(300)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rules = tmp / "rules.tsv"
        rules.write_text("".join(f"{a}\t{b}\n" for a, b in T5_STYLE_RULES))
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=model,
            vocab_size=96,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            num_threads=1,
            character_coverage=1.0,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        (tmp / "spiece.model").write_bytes(model.getvalue())

        class Slow:  # what T5Converter reads of a slow T5Tokenizer
            vocab_file = str(tmp / "spiece.model")
            _extra_ids = 3
            add_prefix_space = True
            legacy = True
            special_tokens = []

            @staticmethod
            def convert_tokens_to_ids(token):
                return {"</s>": 1}[token]

        config = {
            "tokenizer_class": "T5Tokenizer",
            "pad_token": "<pad>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "extra_ids": 3,
            "additional_special_tokens": [f"<extra_id_{i}>" for i in range(3)],
            "model_max_length": 512,
        }

        def hf_tokenizer(tokenizer_json: bytes, name: str):
            d = tmp / name
            d.mkdir()
            (d / "tokenizer.json").write_bytes(tokenizer_json)
            (d / "tokenizer_config.json").write_text(json.dumps(config))
            return AutoTokenizer.from_pretrained(str(d))

        converted = tmp / "converted.json"
        T5Converter(Slow()).converted().save(str(converted))
        # transformers' T5Tokenizer rebuilds part of the pipeline (Precompiled
        # normaliser alone, WhitespaceSplit + Metaspace: the hub's t5-base
        # layout); the committed file is the pipeline it actually runs, as
        # scripts/export_sam_audio.py writes a real export's tokenizer.json.
        tok = hf_tokenizer(converted.read_bytes(), "hf")
        out = fixtures / "t5_style_tokenizer.json"
        tok.backend_tokenizer.save(str(out))
        again = hf_tokenizer(out.read_bytes(), "hf_again")
        batches = []
        for texts in T5_STYLE_BATCHES:
            enc = tok(texts, truncation=True, max_length=max_length, padding="longest")
            enc2 = again(texts, truncation=True, max_length=max_length, padding="longest")
            assert enc["input_ids"] == enc2["input_ids"] and enc["attention_mask"] == enc2["attention_mask"], texts
            batches.append({"texts": texts, "inputIds": enc["input_ids"], "attentionMask": enc["attention_mask"]})
    (fixtures / "t5_style_tokens.json").write_text(
        json.dumps(
            {
                "comment": "written by scripts/make_sam_audio_fixtures.py: transformers' ids and masks for "
                "t5_style_tokenizer.json with tokenizer(texts, truncation=True, max_length=maxLength, padding='longest')",
                "tokenizer": "t5_style_tokenizer.json",
                "maxLength": max_length,
                "batches": batches,
            },
            ensure_ascii=False,
        )
        + "\n"
    )


def make_external_copy() -> None:
    """`fixtures/sam_audio/external_data/`: the tiny model's `dit.onnx` re-saved
    with its weights in `dit.onnx.data` (what the exporter does for graphs
    over 1.5 GB; forced here at any size), so resonode's tests load a model
    with external data without Python: they copy `models/sam-audio-tiny`,
    put these two files in and list `"data": {"dit": "dit.onnx.data"}`."""
    import shutil

    from sam_audio.external import data_files, finish_graph

    out = FIXTURES / "external_data"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    shutil.copyfile(MODEL_DIR / "dit.onnx", out / "dit.onnx")
    assert finish_graph(out / "dit.onnx", force=True) == "dit.onnx.data"
    assert data_files(out / "dit.onnx") == ["dit.onnx.data"]
    assert sorted(p.name for p in out.iterdir()) == ["dit.onnx", "dit.onnx.data"]


def randomize(module, seed: int) -> None:
    """Replaces every parameter with a random value of a sensible scale."""
    rng = np.random.default_rng(seed)
    new = []
    for k, v in tree_flatten(module.parameters()):
        shape = tuple(v.shape)
        last = k.rsplit(".", 1)[-1]
        if last == "alpha":
            a = rng.uniform(0.5, 1.5, shape)
        elif last == "weight_g":
            # Weight norm: each output channel's filter has norm g. Below 1,
            # the codec's residual stacks keep activations small enough that
            # float32 sin() in the snake layers agrees across runtimes.
            a = rng.uniform(0.3, 0.6, shape)
        elif last == "gate":
            a = rng.uniform(0.4, 0.9, shape)
        elif "norm" in k and last == "weight":
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif last == "bias":
            a = 0.05 * rng.standard_normal(shape)
        elif "embed.weight" in k or "shared.weight" in k or "relative_attention_bias" in k:
            a = 0.5 * rng.standard_normal(shape)
        elif "scale_shift_table" in k:
            a = 0.2 * rng.standard_normal(shape)
        elif len(shape) >= 2:
            a = rng.standard_normal(shape) / math.sqrt(float(np.prod(shape[1:])))
        else:
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        new.append((k, mx.array(a.astype(np.float32))))
    module.update(tree_unflatten(new))
    mx.eval(module.parameters())


def build_reference():
    cfg = tiny_config()
    model = SAMAudio(cfg)
    randomize(model, 1)
    model.eval()
    t5 = tiny_t5()
    randomize(t5, 2)
    t5.eval()
    tok_path = FIXTURES / "tokenizer.json"
    make_tokenizer(tok_path)
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tok_path), pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    model.text_encoder.model = t5
    model.text_encoder.tokenizer = tokenizer
    model.processor = SAMAudioProcessor(audio_hop_length=cfg.audio_codec.hop_length, audio_sampling_rate=SR)
    return model, t5, tok_path


def load_mix(frames: int) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    def mono48(name):
        x, sr = sf.read(str(ROOT / "assets" / name), dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        g = math.gcd(SR, sr)
        return resample_poly(x, SR // g, sr // g)

    speech = mono48("speech.wav")
    music = mono48("music.wav")
    start = int(0.4 * SR)  # skip the speech's leading silence
    mix = speech[start : start + frames] + 0.5 * music[SR : SR + frames]
    mix = 0.9 * mix / np.max(np.abs(mix))
    return mix.astype(np.float32)


def save(name: str, arr) -> str:
    a = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
    (FIXTURES / name).write_bytes(a.astype("<f4").tobytes())
    return name


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    make_t5_style_tokenizer(FIXTURES)
    if "--tokenizer-only" in sys.argv:
        return
    if "--external-only" in sys.argv:
        make_external_copy()
        return
    mx.random.seed(0)
    model, t5, tok_path = build_reference()
    hop = model.audio_codec.hop_length
    c2 = 2 * CODEBOOK_DIM

    total = 62_500
    mix = load_mix(total)
    save("mix.f32", mix)
    cases = []

    def inputs_of(spans):
        return [{"file": "mix.f32", "offset": o, "frames": n} for o, n in spans]

    def short_case(name, spans, descriptions, ode, anchors=None, decode_chunk_size=None, noise_key=0):
        wavs = [mix[o : o + n] for o, n in spans]
        batch = model.processor(descriptions=descriptions, audios=wavs, anchors=anchors)
        frames = int(math.ceil(max(n for _, n in spans) / hop))
        noise = mx.random.normal((len(spans), frames, c2), key=mx.random.key(noise_key))
        res = model.separate(
            batch.audios,
            descriptions,
            sizes=batch.sizes,
            anchor_ids=batch.anchor_ids,
            anchor_alignment=batch.anchor_alignment,
            noise=noise,
            ode_opt={"method": ode[0], "step_size": ode[1]},
            ode_decode_chunk_size=decode_chunk_size,
        )
        expected = []
        for b, (_, n) in enumerate(spans):
            t = np.array(res.target[b])[:, 0]
            r = np.array(res.residual[b])[:, 0]
            assert t.shape[0] >= n, (t.shape, n)
            expected.append({"target": save(f"{name}_target_{b}.f32", t[:n]), "residual": save(f"{name}_residual_{b}.f32", r[:n])})
        cases.append(
            {
                "name": name,
                "entry": "separate",
                "inputs": inputs_of(spans),
                "descriptions": descriptions,
                "anchors": anchors,
                "ode": {"method": ode[0], "stepSize": ode[1]},
                "decodeChunkSize": decode_chunk_size,
                "noise": {"file": save(f"{name}_noise.f32", np.array(noise)), "shape": list(noise.shape)},
                "expected": expected,
            }
        )

    def chunked_case(name, entry, n, description, ode, chunk_s, overlap_s, seed):
        audio = mx.array(mix[:n])[None, None, :]
        opt = {"method": ode[0], "step_size": ode[1]}
        pieces = []
        if entry == "separate_long":
            res = model.separate_long(
                audio, [description], chunk_seconds=chunk_s, overlap_seconds=overlap_s, ode_opt=opt, seed=seed
            )
            t = np.array(res.target[0])[:, 0]
            r = np.array(res.residual[0])[:, 0]
            noise = np.array(res.noise)
        else:
            ts, rs = [], []
            noise = None
            for piece in model.separate_streaming(
                audio, [description], chunk_seconds=chunk_s, overlap_seconds=overlap_s, ode_opt=opt, seed=seed
            ):
                pt = np.array(piece.target)[:, 0]
                ts.append(pt)
                rs.append(np.array(piece.residual)[:, 0])
                pieces.append({"chunkIdx": int(piece.chunk_idx), "isLast": bool(piece.is_last), "frames": int(pt.shape[0])})
                if piece.is_last:
                    noise = np.array(piece.noise)
            t = np.concatenate(ts)
            r = np.concatenate(rs)
        assert t.shape[0] >= n, (t.shape, n)
        case = {
            "name": name,
            "entry": entry,
            "inputs": inputs_of([(0, n)]),
            "descriptions": [description],
            "anchors": None,
            "ode": {"method": ode[0], "stepSize": ode[1]},
            "decodeChunkSize": None,
            "chunkSeconds": chunk_s,
            "overlapSeconds": overlap_s,
            "seed": seed,
            "referenceFrames": int(t.shape[0]),
            "noise": {"file": save(f"{name}_noise.f32", noise), "shape": list(noise.shape)},
            "expected": [{"target": save(f"{name}_target_0.f32", t[:n]), "residual": save(f"{name}_residual_0.f32", r[:n])}],
        }
        if pieces:
            case["pieces"] = pieces
        cases.append(case)

    mid = ("midpoint", 2 / 32)
    short_case("short_midpoint", [(0, 24_037)], ["a man speaking"], mid, noise_key=1)
    short_case("short_euler", [(0, 24_037)], ["the acoustic guitar and drums and a man speaking"], ("euler", 1 / 16), noise_key=2)
    short_case("short_anchors", [(0, 24_037)], ["speech"], mid, anchors=[[("+", 0.1, 0.25), ("-", 0.3, 0.45)]], noise_key=3)
    short_case(
        "short_anchors_euler",
        [(0, 24_037)],
        ["a man speaking"],
        ("euler", 1 / 16),
        anchors=[[("-", 0.02, 0.12), ("+", 0.2, 0.4)]],
        noise_key=7,
    )
    short_case("batch", [(0, 24_037), (20_000, 15_000)], ["speech", "the siren"], ("euler", 0.125), noise_key=4)
    short_case(
        "batch_anchors",
        [(0, 24_037), (20_000, 15_000)],
        ["a dog barking", "music"],
        ("midpoint", 0.25),
        anchors=[[("+", 0.05, 0.2)], [("-", 0.1, 0.2), ("+", 0.22, 0.3)]],
        noise_key=5,
    )
    short_case("decode_chunked", [(0, 24_037)], ["speech"], ("euler", 1 / 16), decode_chunk_size=30, noise_key=6)
    chunked_case("long", "separate_long", total, "speech", mid, 0.5, 0.1, 42)
    chunked_case("long_single", "separate_long", 14_411, "speech", ("euler", 0.125), 0.5, 0.1, 5)
    chunked_case("streaming", "separate_streaming", total, "a man speaking", ("euler", 0.125), 0.4525, 0.1, 7)

    (FIXTURES / "cases.json").write_text(
        json.dumps(
            {
                "comment": "written by scripts/make_sam_audio_fixtures.py (mlx-audio 0.6.2 reference); raw little-endian float32; noise is [batch, frames, 2*codebookDim] row-major; inputs are mix.f32[offset:offset+frames] at 48 kHz",
                "model": "models/sam-audio-tiny",
                "sampleRate": SR,
                "hopLength": hop,
                "cases": cases,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{len(cases)} cases -> {FIXTURES}")

    if "--no-export" not in sys.argv:
        from sam_audio import export_model

        export_model(
            model,
            t5,
            tok_path,
            MODEL_DIR,
            "sam-audio-tiny",
            {
                "checkpoint": "random weights (scripts/make_sam_audio_fixtures.py)",
                "t5": "random weights, 2 layers, d_model 16",
                "exporter": "scripts/export_sam_audio.py",
                "mlxAudio": "0.6.2",
            },
        )
        print(f"model -> {MODEL_DIR}")
        make_external_copy()


if __name__ == "__main__":
    main()
