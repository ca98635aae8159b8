"""Times scipy.signal.sosfilt with an 8th-order Butterworth lowpass.

    python3 bench/scipy_lowpass.py <in.f32> <out_dir> <channels> <reps> <cutoff_hz> <order>

<in.f32> holds planar little-endian float32 samples at 48 kHz. Runs
sosfilt(butter(order, cutoff, fs=48000, output='sos'), x, axis=-1) on
  f32in:  float32 input (scipy upcasts to float64 internally, then returns float64),
  f64in:  float64 input,
  f32sos: float32 input and float32 sos (all-float32 arithmetic),
reps times each, on a fresh copy of the input, and prints one JSON object on
stdout. Writes the float64 result to <out_dir>/lp_scipy_f64.f64 as the
reference every other implementation is compared with.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.signal import butter, sosfilt

FS = 48000


def main():
    path, out_dir, channels, reps, cutoff, order = sys.argv[1:7]
    channels, reps, cutoff, order = int(channels), int(reps), float(cutoff), int(order)
    x32 = np.fromfile(path, dtype="<f4").reshape(channels, -1)
    x64 = x32.astype(np.float64)
    sos = butter(order, cutoff, fs=FS, output="sos")
    variants = {
        "f32in": (sos, x32),
        "f64in": (sos, x64),
        "f32sos": (sos.astype(np.float32), x32),
    }
    result = {"scipy": scipy.__version__, "numpy": np.__version__, "samples": int(x32.size), "sos": sos.tolist()}
    outputs = {}
    for name, (s, x) in variants.items():
        sosfilt(s, x[:, :4096], axis=-1)  # warm-up
        times = []
        for _ in range(reps):
            xi = x.copy()
            t0 = time.perf_counter()
            y = sosfilt(s, xi, axis=-1)
            times.append(time.perf_counter() - t0)
        med = sorted(times)[len(times) // 2]
        result[name] = {
            "times_s": times,
            "median_s": med,
            "ns_per_sample": med * 1e9 / x.size,
            "out_dtype": str(y.dtype),
        }
        outputs[name] = y
    ref = outputs["f64in"]
    ref.astype("<f8").tofile(f"{out_dir}/lp_scipy_f64.f64")
    for name, y in outputs.items():
        result[name]["max_abs_diff_vs_f64"] = float(np.max(np.abs(y.astype(np.float64) - ref)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
