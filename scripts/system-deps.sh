#!/usr/bin/env bash
# Installs the Debian packages resonode needs that this machine lacks.
# One list, used by `.ci/run`, `npm run demo` and `npm test` (through
# scripts/ensure-built.mjs), so the README's two commands work on a fresh
# Debian 12 machine and not only after CI set it up.
#
# Usage:
#   bash scripts/system-deps.sh build   # compiler, pkg-config, ALSA headers (cpal links libasound),
#                                       libclang (bindgen, for the Signalsmith Stretch wrapper)
#   bash scripts/system-deps.sh test    # build + sox (parity specs) + PulseAudio (live specs)
#                                       + fluidsynth and its GM sound font (analysis specs)
#
# Installs with apt-get as root, or with `sudo -n` when that works without a
# password. Otherwise prints the apt-get line and exits 1. On a system
# without apt-get (macOS, other distributions) it checks nothing and exits 0:
# the build's own errors then name what is missing.
set -euo pipefail

what=${1:-build}
case "$what" in build | test) ;; *)
  echo "usage: system-deps.sh build|test" >&2
  exit 2
  ;;
esac
command -v apt-get >/dev/null && command -v dpkg >/dev/null || exit 0

need=()
has_pkg() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
has_pkg libasound2-dev || need+=(libasound2-dev)
# signalsmith-stretch generates its C++ bindings with bindgen, which loads libclang.
has_pkg libclang-dev || need+=(libclang-dev)
if [[ "$what" == test ]]; then
  command -v sox >/dev/null || need+=(sox)
  # MP3/Ogg writers for the format specs (sox's LAME and Vorbis handlers).
  has_pkg libsox-fmt-all || need+=(libsox-fmt-all)
  # The analysis specs render a ground-truth set of songs from MIDI
  # (scripts/make-groundtruth.mjs) with fluidsynth and the GM sound font.
  command -v fluidsynth >/dev/null || need+=(fluidsynth)
  has_pkg fluid-soundfont-gm || need+=(fluid-soundfont-gm)
  # A real audio server for the live specs: PulseAudio with a null sink
  # (scripts/start-pulseaudio.sh); the ALSA pulse plugin for cpal's ALSA host.
  command -v pulseaudio >/dev/null || need+=(pulseaudio)
  command -v pactl >/dev/null || need+=(pulseaudio-utils)
  command -v aplay >/dev/null || need+=(alsa-utils)
  has_pkg libasound2-plugins || need+=(libasound2-plugins)
fi
((${#need[@]})) || exit 0

say() { echo "system-deps: $*" >&2; }
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  say "missing Debian packages: ${need[*]}"
  say "install them with: sudo apt-get install -y ${need[*]}"
  exit 1
fi
say "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
