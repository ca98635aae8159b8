#!/usr/bin/env python3
"""Section l of bench/RESULTS.md: the mlx-audio 0.6.2 side (the reference),
driven by bench/sam_audio/run.mjs; one process per measurement series so
/usr/bin/time sees its peak RSS.

  mlx_ref.py prepare WORK
      writes WORK/mix-10s.f32 (10 s of real audio, mono 48 kHz float32: the
      assets' speech (repeated) + 0.5 x music, peak 0.9), WORK/long-1min.wav
      and WORK/long-10min.wav (that excerpt repeated; float WAV), and the
      initial noise of each configuration, WORK/noise-{tiny,small}.f32
      ([1, frames, 2*codebookDim], numpy's default_rng(0) normal): both tools
      get the same noise, so they do identical work.
  mlx_ref.py short WEIGHTS INPUT.f32 NOISE.f32 DESCRIPTION PLAN_JSON REPS [TARGET.f32]
      rebuilds the mlx model from WEIGHTS (bench/sam_audio/make_model.py's
      folder), one warm-up call (the first second of the input, Euler, 2
      steps), then REPS rounds over PLAN
      ([{method, stepSize}, ...]) of the processor path + `model.separate`
      with the given noise, timing each whole call; prints one JSON line
      (and writes the target of PLAN's first entry to TARGET.f32).
  mlx_ref.py parts WEIGHTS INPUT.f32 NOISE.f32 DESCRIPTION SECONDS
      for a model too slow for whole calls here: times the reference's own
      pieces of `separate` on the full 10 s latent (the given noise): one
      Euler step (`_ode_step_euler`, one DiT evaluation) and one midpoint
      step (`_ode_step_midpoint`, two), each evaluated with mx.eval as
      `separate` does, and the codec on the first SECONDS of the input
      (`_get_audio_features`, then `audio_codec.decode` of one stem), from
      which run.mjs extrapolates a whole call. Prints one JSON line.
  mlx_ref.py long WEIGHTS INPUT.wav DESCRIPTION MODE [OUT_DIR]
      MODE `memory`: `model.separate_long` (chunk 10 s, overlap 3 s, midpoint
      2/32, seed 42), the whole result held in memory; MODE `files`:
      `model.separate_streaming` in callback mode writing target.wav and
      residual.wav into OUT_DIR piece by piece (the reference's way of not
      holding the output). The input is read whole into an mx.array, as the
      reference's API takes it. Prints one JSON line.

Run with /tmp/mlxvenv/bin/python (mlx, mlx-audio 0.6.2, scipy, soundfile,
transformers, tokenizers).
"""
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench" / "sam_audio"))

import numpy as np  # noqa: E402

SR = 48_000


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def mono48(name: str) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    x, sr = sf.read(str(ROOT / "assets" / name), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    g = math.gcd(SR, sr)
    return resample_poly(x, SR // g, sr // g)


def prepare(work: Path) -> None:
    import soundfile as sf

    work.mkdir(parents=True, exist_ok=True)
    n = 10 * SR
    speech = mono48("speech.wav")[int(0.4 * SR) :]  # 4.9 s after the leading silence
    speech = np.tile(speech, int(math.ceil(n / speech.shape[0])))[:n]
    music = mono48("music.wav")[SR : SR + n]  # 12 s file: 1 s .. 11 s
    mix = speech + 0.5 * music
    mix = (0.9 * mix / np.max(np.abs(mix))).astype(np.float32)
    mix.astype("<f4").tofile(work / "mix-10s.f32")
    for minutes in (1, 10):
        sf.write(str(work / f"long-{minutes}min.wav"), np.tile(mix, 6 * minutes), SR, subtype="FLOAT")
    rng = np.random.default_rng(0)
    # tiny: hop 240, codebook 8; small: hop 1920, codebook 128
    for name, hop, cb in (("tiny", 240, 8), ("small", 1920, 128)):
        frames = int(math.ceil(n / hop))
        rng.standard_normal((1, frames, 2 * cb)).astype("<f4").tofile(work / f"noise-{name}.f32")
    print(json.dumps({"samples": n, "work": str(work)}))


def load(weights: Path):
    """The mlx SAMAudio of make_model.py's folder: configuration, saved
    parameters, T5 and tokenizer wired in as the fixture script does."""
    import mlx.core as mx
    from mlx.utils import tree_unflatten
    from transformers import PreTrainedTokenizerFast

    import make_model as mm
    from mlx_audio.sts.models.sam_audio.config import SAM_AUDIO_SMALL_CONFIG
    from mlx_audio.sts.models.sam_audio.model import SAMAudio
    from mlx_audio.sts.models.sam_audio.processor import SAMAudioProcessor
    from mlx_audio.sts.models.sam_audio.text_encoder import T5Encoder

    info = json.loads((weights / "info.json").read_text())
    if info["config"] == "tiny":
        import make_sam_audio_fixtures as fx

        cfg, t5 = fx.tiny_config(), fx.tiny_t5()
    else:
        cfg, t5 = SAM_AUDIO_SMALL_CONFIG, T5Encoder(mm.t5_base_config())
    model = SAMAudio(cfg)
    model.update(tree_unflatten(list(mx.load(str(weights / "sam_audio.safetensors")).items())))
    t5.update(tree_unflatten(list(mx.load(str(weights / "t5.safetensors")).items())))
    mx.eval(model.parameters(), t5.parameters())
    model.eval()
    t5.eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=info["tokenizer"], pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    model.text_encoder.model = t5
    model.text_encoder.tokenizer = tok
    model.processor = SAMAudioProcessor(audio_hop_length=cfg.audio_codec.hop_length, audio_sampling_rate=SR)
    return model


def setup(weights, inp, noise_path):
    """Loads the model (timed) and the bench's input and initial noise."""
    import mlx.core as mx

    t0 = time.perf_counter()
    model = load(Path(weights))
    load_s = time.perf_counter() - t0
    wav = np.fromfile(inp, dtype="<f4")
    hop = model.audio_codec.hop_length
    c2 = 2 * model.config.audio_codec.codebook_dim
    frames = int(math.ceil(wav.shape[0] / hop))
    noise = mx.array(np.fromfile(noise_path, dtype="<f4").reshape(1, frames, c2))
    return model, load_s, wav, frames, noise


def short(weights, inp, noise_path, description, plan, reps, target_path=None) -> None:
    import mlx.core as mx

    model, load_s, wav, frames, noise = setup(weights, inp, noise_path)

    def call(method, step, x=wav, z=noise):
        t = time.perf_counter()
        batch = model.processor(descriptions=[description], audios=[x])
        res = model.separate(
            batch.audios,
            [description],
            sizes=batch.sizes,
            anchor_ids=batch.anchor_ids,
            anchor_alignment=batch.anchor_alignment,
            noise=z,
            ode_opt={"method": method, "step_size": step},
        )
        target = np.array(res.target[0])[:, 0]
        np.array(res.residual[0])
        wall = time.perf_counter() - t
        return wall, target

    # warm-up on the first second (and the noise's first frames)
    n1 = int(math.ceil(SR / hop))
    w, _ = call("euler", 0.5, wav[:SR], noise[:, :n1, :])
    log(f"mlx warm-up: {w:.2f} s")
    out = [{"method": p["method"], "stepSize": p["stepSize"], "walls": []} for p in plan]
    for r in range(reps):
        for k, (p, o) in enumerate(zip(plan, out)):
            w, target = call(p["method"], p["stepSize"])
            o["walls"].append(w)
            if k == 0 and target_path:
                target[: wav.shape[0]].astype("<f4").tofile(target_path)
            log(f"mlx {p['method']} {p['stepSize']:.4f} rep {r + 1}: {w:.2f} s")
    print(json.dumps({"loadS": load_s, "runs": out, "mlxPeakBytes": mx.get_peak_memory()}))


def parts(weights, inp, noise_path, description, seconds) -> None:
    import mlx.core as mx

    model, load_s, wav, frames, noise = setup(weights, inp, noise_path)
    out = {"loadS": load_s, "frames": frames}
    t = time.perf_counter()
    tf, tm = model.text_encoder([description])
    mx.eval(tf, tm)
    out["textS"] = time.perf_counter() - t
    batch = model.processor(descriptions=[description], audios=[wav])
    feats = mx.zeros((1, frames, c2))  # the values do not change the work
    kw = dict(audio_features=feats, text_features=tf, text_mask=tm, anchor_ids=batch.anchor_ids,
              anchor_alignment=batch.anchor_alignment, audio_pad_mask=None)
    for name, fn in (("euler", model._ode_step_euler), ("midpoint", model._ode_step_midpoint)):
        t = time.perf_counter()
        x = fn(t=0.0, dt=1 / 16, noisy_audio=noise, **kw)
        mx.eval(x)
        out[f"{name}StepS"] = time.perf_counter() - t
        log(f"mlx {name} step on {frames} frames: {out[f'{name}StepS']:.2f} s")
    n = int(float(seconds) * SR)
    t = time.perf_counter()
    f = model._get_audio_features(mx.array(wav[:n])[None, None, :])
    mx.eval(f)
    out["encodeS"] = time.perf_counter() - t
    t = time.perf_counter()
    y = model.audio_codec.decode(mx.transpose(f[:, :, : c2 // 2], (0, 2, 1)))
    mx.eval(y)
    out["decodeS"] = time.perf_counter() - t
    out["codecSeconds"] = n / SR
    log(f"mlx codec on {n / SR:.2f} s: encode {out['encodeS']:.2f} s, decode {out['decodeS']:.2f} s")
    out["mlxPeakBytes"] = mx.get_peak_memory()
    print(json.dumps(out))


def long(weights, inp, description, mode, out_dir=None) -> None:
    import mlx.core as mx
    import soundfile as sf

    t0 = time.perf_counter()
    model = load(Path(weights))
    load_s = time.perf_counter() - t0
    t = time.perf_counter()
    x, sr = sf.read(inp, dtype="float32", always_2d=True)
    assert sr == SR, sr
    audio = mx.array(x.mean(axis=1))[None, None, :]
    ode = {"method": "midpoint", "step_size": 2 / 32}
    if mode == "memory":
        res = model.separate_long(audio, [description], chunk_seconds=10.0, overlap_seconds=3.0, ode_opt=ode, seed=42)
        n = int(np.array(res.target[0]).shape[0])
        np.array(res.residual[0])
    else:
        os.makedirs(out_dir, exist_ok=True)
        with sf.SoundFile(os.path.join(out_dir, "target.wav"), "w", SR, 1, "FLOAT") as tf, sf.SoundFile(
            os.path.join(out_dir, "residual.wav"), "w", SR, 1, "FLOAT"
        ) as rf:
            n = model.separate_streaming(
                audio,
                [description],
                target_callback=lambda c, i, last: tf.write(np.array(c[:, 0])),
                residual_callback=lambda c, i, last: rf.write(np.array(c[:, 0])),
                chunk_seconds=10.0,
                overlap_seconds=3.0,
                ode_opt=ode,
                seed=42,
            )
    wall = time.perf_counter() - t
    print(json.dumps({"loadS": load_s, "wall": wall, "samples": int(n), "inputSamples": int(x.shape[0]), "mlxPeakBytes": mx.get_peak_memory()}))


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "prepare":
        prepare(Path(sys.argv[2]))
    elif cmd == "short":
        weights, inp, noise, description, plan, reps = sys.argv[2:8]
        short(weights, inp, noise, description, json.loads(plan), int(reps), *sys.argv[8:9])
    elif cmd == "parts":
        parts(*sys.argv[2:7])
    elif cmd == "long":
        long(*sys.argv[2:])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
