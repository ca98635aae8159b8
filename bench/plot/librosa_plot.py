"""The anchor of section k: the same figure the librosa way.

Loads the whole file (librosa.load, 22050 Hz mono), tracks beats, and draws
with matplotlib + librosa.display what `resonode plot` draws: waveform with
the beat grid, log-frequency spectrogram in dB with a colour bar, chromagram,
and a loudness curve. librosa has no LUFS meter, so the last panel is the
RMS level in dBFS (same cost class). Width in pixels as resonode's.

    python3 bench/plot/librosa_plot.py IN.wav OUT.png [WIDTH]
"""
import sys

import matplotlib

matplotlib.use("Agg")
import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np

path, out = sys.argv[1], sys.argv[2]
width = int(sys.argv[3]) if len(sys.argv) > 3 else 1600
dpi = 100
y, sr = librosa.load(path, sr=22050, mono=True)
tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
S_db = librosa.amplitude_to_db(S, ref=1.0)
chroma = librosa.feature.chroma_stft(S=S**2, sr=sr)
rms_db = librosa.amplitude_to_db(librosa.feature.rms(S=S, frame_length=2048), ref=1.0)[0]

fig, ax = plt.subplots(4, 1, figsize=(width / dpi, 12), sharex=True)
librosa.display.waveshow(y, sr=sr, ax=ax[0])
ax[0].vlines(beats, -1, 1, color="r", linewidth=0.5)
img = librosa.display.specshow(S_db, sr=sr, hop_length=512, x_axis="time", y_axis="log", ax=ax[1])
fig.colorbar(img, ax=ax[1], format="%+2.0f dB")
librosa.display.specshow(chroma, sr=sr, hop_length=512, x_axis="time", y_axis="chroma", ax=ax[2])
ax[3].plot(librosa.times_like(rms_db, sr=sr, hop_length=512), rms_db)
fig.suptitle(f"{path} {float(np.atleast_1d(tempo)[0]):.1f} BPM")
fig.savefig(out, dpi=dpi)
