#!/usr/bin/env bash
# Makes the small fixtures in __test__/formats/ that __test__/formats.spec.mjs
# and crates/io/tests/formats.rs decode: one 1 s, 16 kHz stereo 16-bit WAV
# (sox), and the same audio as ALAC and AAC in M4A, AIFF, AIFF-C, CAF (PCM
# and ALAC), RF64 and Ogg Opus (ffmpeg). Needs sox and ffmpeg with libopus;
# run by hand (CI uses the committed files). Lossless files must decode
# bit-exact to source.wav; AAC and Opus by correlation.
set -euo pipefail
cd "$(dirname "$0")/../__test__/formats"
ff() { ffmpeg -hide_banner -loglevel error -y -bitexact "$@"; }

# Two tones and a chirp, different per channel, at -6 dBFS: lossy codecs
# keep them well, and a channel swap or offset shows in the comparison.
sox -D -n -r 16000 -c 2 -b 16 source.wav synth 1 sine 440 sine 660-1200 synth 1 sine mix 3000 gain -6
ff -i source.wav -c:a alac alac.m4a
ff -i source.wav -c:a aac -b:a 64k aac.m4a
ff -i source.wav -c:a pcm_s16be aiff.aiff
ff -i source.wav -c:a pcm_s16le -f aiff aifc.aifc   # AIFF-C, little-endian "sowt"
ff -i source.wav -c:a pcm_s16le pcm.caf
ff -i source.wav -c:a alac alac.caf
ff -i source.wav -c:a pcm_s16le -rf64 always rf64.wav
ff -i source.wav -c:a libopus -b:a 48k opus.opus
ls -l
