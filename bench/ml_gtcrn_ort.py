"""Baseline for bench/ml.mjs: GTCRN streaming inference in Python with
onnxruntime, frame by frame as the official repository's streaming demo
(Xiaobin-Rong/gtcrn, stream/), with the same framing as resonode: numpy
rFFT of sqrt-Hann (periodic) windowed 512-sample frames every 256 samples
(centre reflect padding, as torch.stft), one `session.run` per frame with
the caches fed back, overlap-add inverse STFT (as torch.istft).

    python bench/ml_gtcrn_ort.py MODEL IN.wav OUT.f32 REPS

Prints one JSON line (times of each pass, per-frame model call times in us
of the last pass). Needs numpy and onnxruntime.
"""
import json
import sys
import time
import wave

import numpy as np
import onnxruntime as ort

N, HOP, BINS = 512, 256, 257


def read_wav16(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getframerate() == 16000 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def enhance(session, x, win):
    pad = N // 2
    xp = np.pad(x, pad, mode="reflect")
    frames = 1 + len(x) // HOP
    ola = np.zeros((frames - 1) * HOP + N)
    wss = np.zeros_like(ola)
    conv = np.zeros([2, 1, 16, 16, 33], dtype=np.float32)
    tra = np.zeros([2, 3, 1, 1, 16], dtype=np.float32)
    inter = np.zeros([2, 1, 33, 16], dtype=np.float32)
    call_us = np.zeros(frames)
    for f in range(frames):
        off = f * HOP
        spec = np.fft.rfft(xp[off:off + N] * win)
        mix = np.stack([spec.real, spec.imag], axis=-1).astype(np.float32).reshape(1, BINS, 1, 2)
        t0 = time.perf_counter()
        enh, conv, tra, inter = session.run(None, {"mix": mix, "conv_cache": conv, "tra_cache": tra, "inter_cache": inter})
        call_us[f] = (time.perf_counter() - t0) * 1e6
        e = enh.reshape(BINS, 2)
        ola[off:off + N] += np.fft.irfft(e[:, 0] + 1j * e[:, 1], N) * win
        wss[off:off + N] += win * win
    y = ola[pad:pad + len(x)] / np.where(wss[pad:pad + len(x)] > 1e-11, wss[pad:pad + len(x)], 1)
    return y.astype(np.float32), frames, call_us


def main():
    model, inp, out, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    x = read_wav16(inp)
    win = np.sin(np.pi * np.arange(N) / N)  # sqrt(hann periodic)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    enhance(session, x, win)  # warm-up
    passes = []
    for _ in range(reps):
        t0 = time.perf_counter()
        y, frames, call_us = enhance(session, x, win)
        passes.append(time.perf_counter() - t0)
    y.tofile(out)
    print(json.dumps({"ort": ort.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
                      "audioS": len(x) / 16000, "frames": frames, "loadS": load_s, "passes": passes,
                      "callUs": call_us.tolist()}))


if __name__ == "__main__":
    main()
