#!/usr/bin/env bash
# Builds the real-audio assets in assets/ and the decoder test fixtures in
# crates/io/tests/fixtures/ (see assets/ATTRIBUTION.md for sources and licenses).
#
# Needs: sox with libsox-fmt-all (wav, flac, mp3 via libmp3lame, ogg vorbis,
# gsm), openssl, and the Debian packages sonic-pi-samples and
# pocketsphinx-testdata:
#   apt-get install -y sox libsox-fmt-all sonic-pi-samples pocketsphinx-testdata
#
# Usage: scripts/make_io_fixtures.sh            (fixtures only, from assets/music.wav)
#        scripts/make_io_fixtures.sh --assets   (rebuild assets first, then fixtures)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="$ROOT/assets"
FIX="$ROOT/crates/io/tests/fixtures"
SAMPLES=/usr/share/sonic-pi/samples
SPEECH=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0890.wav
GTCRN=/work/shared/models/gtcrn

if [[ "${1:-}" == "--assets" ]]; then
  mkdir -p "$ASSETS"
  # Music: the "amen" drum loop repeated 7 times (12.3 s) mixed with the Em9
  # guitar chord (10 s), cut to 12 s, 50 ms fade-in, 0.5 s fade-out,
  # normalised to -1 dBFS peak; stereo, 44.1 kHz, 16-bit PCM WAV, with sox's
  # default TPDF dither on the final 16-bit conversion. -R (repeatable random
  # numbers) on every sox call makes all outputs byte-identical across runs.
  sox -R -m "|sox $SAMPLES/loop_amen.flac -p repeat 6" "|sox $SAMPLES/guit_em9.flac -p" \
      -r 44100 -c 2 -b 16 -e signed-integer "$ASSETS/music.wav" \
      trim 0 12 fade 0.05 12 0.5 norm -1
  # Speech: one LibriVox utterance from pocketsphinx-testdata, re-written as a
  # plain 16 kHz mono 16-bit WAV (samples unchanged).
  sox -R "$SPEECH" -r 16000 -c 1 -b 16 -e signed-integer "$ASSETS/speech.wav"
  # Noisy speech from the GTCRN repository (MIT), copied unchanged.
  cp "$GTCRN/mix.wav" "$ASSETS/noisy_speech.wav"
  cp "$GTCRN/LICENSE" "$ASSETS/LICENSE-gtcrn"
  chmod 644 "$ASSETS"/*
fi

MUSIC="$ASSETS/music.wav"
mkdir -p "$FIX"
cd "$FIX"
rm -f ./*.wav ./*.flac ./*.mp3 ./*.ogg

# 1.0 s of the music clip starting at 2.0 s (drums and guitar both playing):
# the 16-bit stereo reference every other fixture is derived from.
sox -R "$MUSIC" -t wavpcm -b 16 -e signed-integer ref_s16.wav trim 2 1
# Lossless re-encodings. -D disables dither so that widening is exact and
# narrowing (u8) is plain rounding.
sox -R -D ref_s16.wav -t wavpcm -b 8 -e unsigned-integer pcm_u8.wav
sox -R -D ref_s16.wav -b 24 -e signed-integer pcm_s24_ext.wav          # sox writes WAVE_FORMAT_EXTENSIBLE for > 16 bit
sox -R -D ref_s16.wav -b 32 -e signed-integer pcm_s32_ext_mono.wav remix 1
sox -R -D ref_s16.wav -t wavpcm -b 32 -e floating-point float32.wav trim 0 0.5          # plain format tag 3, 0.5 s
sox -R -D ref_s16.wav -t wavpcm -b 64 -e floating-point float64_mono.wav remix 1 trim 0 0.5  # 0.5 s
# 4 channels (L, R, L, R), 0.25 s, 16-bit: WAVE_FORMAT_EXTENSIBLE because of > 2 channels.
sox -R -D ref_s16.wav -b 16 ext_4ch_s16.wav remix 1 2 1 2 trim 0 0.25
sox -R -D ref_s16.wav flac16.flac
# Lossy.
sox -R ref_s16.wav -C 128 mp3_128k.mp3
sox -R ref_s16.wav -C 5 vorbis_q5.ogg
# A-law (supported by the decoder), 0.25 s.
sox -R ref_s16.wav -e a-law alaw.wav trim 0 0.25

# Damaged and unsupported inputs.
# Truncated: the header declares 44100 frames but the file ends 3 bytes into
# frame 15000 (44 header bytes + 15000 * 4 + 3).
head -c $((44 + 15000 * 4 + 3)) ref_s16.wav > truncated_s16.wav
: > empty.wav
# 4096 deterministic pseudo-random bytes (AES-CTR keystream of zeros).
head -c 4096 /dev/zero | openssl enc -aes-128-ctr -nosalt \
  -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 > random_bytes.wav
# Valid RIFF/WAVE containers with codecs resonode does not decode.
sox -R ref_s16.wav -e gsm-full-rate -r 8000 -c 1 gsm610.wav trim 0 0.25       # format tag 0x0031
sox -R ref_s16.wav -e ms-adpcm ms_adpcm.wav trim 0 0.25                       # format tag 0x0002

ls -l "$FIX"
du -ch "$FIX"/* | tail -1
