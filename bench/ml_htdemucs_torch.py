"""Baseline for bench/ml.mjs: HTDemucs separation in PyTorch, as demucs'
`Separator.separate_tensor` with shifts=0: normalise by the mean/std of the
mono mix, `demucs.apply.apply_model(model, mix, shifts=0, split=True,
overlap=0.25)`, undo the normalisation, write one 16-bit WAV per stem.

The model is the full-size `htdemucs` architecture with random weights,
built exactly as `scripts/export_htdemucs.py --random` builds it (same
function, seed 0), so it is the network in the ONNX file resonode runs.

    python bench/ml_htdemucs_torch.py IN.wav OUT_DIR THREADS

Prints one JSON line: seconds for start-up (imports, model construction,
reading), apply_model, and writing. Run it under /usr/bin/time for the
peak RSS. Needs torch, demucs and soundfile.
"""
import json
import os
import sys
import time

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from demucs.apply import apply_model  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from export_htdemucs import random_htdemucs  # noqa: E402


def main():
    inp, out_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    model = random_htdemucs(0)
    wav, sr = sf.read(inp, dtype="float32", always_2d=True)
    assert sr == model.samplerate, (sr, model.samplerate)
    wav = torch.from_numpy(np.ascontiguousarray(wav.T))
    t0 = time.perf_counter()
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std()
    x = (wav - mean) / (std + 1e-8)
    with torch.inference_mode():
        out = apply_model(model, x[None], shifts=0, split=True, overlap=0.25, progress=False, num_workers=0)[0]
    out = out * (std + 1e-8) + mean
    t1 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    for name, stem in zip(model.sources, out):
        sf.write(os.path.join(out_dir, f"{name}.wav"), stem.numpy().T, sr, subtype="PCM_16")
    t2 = time.perf_counter()
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "startupS": t0 - t_start,
                      "applyS": t1 - t0, "writeS": t2 - t1, "audioS": wav.shape[1] / sr,
                      "params": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
