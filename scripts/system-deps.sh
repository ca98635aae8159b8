#!/usr/bin/env bash
# Installs the Debian packages resonode needs that this machine lacks.
# One list, used by `.ci/run`, `npm run demo` and `npm test` (through
# scripts/ensure-built.mjs), so the README's two commands work on a fresh
# Debian 12 machine and not only after CI set it up.
#
# Usage:
#   bash scripts/system-deps.sh build   # compiler, pkg-config, ALSA headers (cpal links libasound),
#                                       JACK's pkg-config file (jack-sys' build script),
#                                       libclang (bindgen, for the Signalsmith Stretch wrapper)
#   bash scripts/system-deps.sh test    # build + sox (parity specs) + PulseAudio (live specs)
#                                       + fluidsynth and its GM sound font (analysis specs)
#                                       + PostgreSQL and Redis (scale-out specs)
#                                       + chromium (the dashboard's browser spec)
#   bash scripts/system-deps.sh cross   # build + what scripts/build-platform.sh needs on an x86_64
#                                       host: arm64 ALSA (adds dpkg's arm64 architecture for
#                                       libasound2-dev:arm64), binutils and file (checks),
#                                       qemu-user-static (arm64 smoke test); see docs/platforms.md
#
# Installs with apt-get as root, or with `sudo -n` when that works without a
# password. Otherwise prints the apt-get line and exits 1. On a system
# without apt-get (macOS, other distributions) it checks nothing and exits 0:
# the build's own errors then name what is missing.
set -euo pipefail

what=${1:-build}
case "$what" in build | test | cross) ;; *)
  echo "usage: system-deps.sh build|test|cross" >&2
  exit 2
  ;;
esac
command -v apt-get >/dev/null && command -v dpkg >/dev/null || exit 0

need=()
# `dpkg -s NAME` fails once NAME is installed for two architectures (as
# libasound2-dev is after the cross mode adds libasound2-dev:arm64): look for
# the native or arch-independent instance, or the one NAME:ARCH names.
has_pkg() {
  local arch
  [[ "$1" == *:* ]] && arch='[^ ]+' || arch="($(dpkg --print-architecture)|all)"
  dpkg-query -W -f='${db:Status-Abbrev} ${Architecture}\n' "$1" 2>/dev/null | grep -qE "^ii +$arch\$"
}
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
has_pkg libasound2-dev || need+=(libasound2-dev)
# signalsmith-stretch generates its C++ bindings with bindgen, which loads libclang.
has_pkg libclang-dev || need+=(libclang-dev)
# cpal's JACK host: jack-sys' build script asks pkg-config for jack.pc on
# Linux (the library itself is opened with dlopen at run time).
pkg-config --exists jack 2>/dev/null || has_pkg libjack-jackd2-dev || has_pkg libjack-dev || need+=(libjack-jackd2-dev)
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
  # A JACK server (dummy driver, scripts/start-jack.sh) for the 'jack' backend's live spec.
  command -v jackd >/dev/null || need+=(jackd2)
  # Real servers for the scale-out specs (PostgreSQL library, BullMQ jobs):
  # scripts/postgres-server.sh and scripts/redis-server.sh start throw-away
  # instances on 127.0.0.1; the packages' own services are not used.
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  # The PostgreSQL TLS test makes its own CA and server certificate.
  command -v openssl >/dev/null || need+=(openssl)
  # A browser for the dashboard's live spec (__test__/dashboard-browser.spec.mjs):
  # puppeteer-core drives Debian's chromium headless and downloads no browser.
  # Its fontconfig dependency pulls fonts-dejavu-core in, the page's only font.
  command -v chromium >/dev/null || need+=(chromium)
fi
add_arm64=0
if [[ "$what" == cross ]]; then
  # cpal links libasound: the arm64 build links Debian's arm64 libasound.so
  # (multiarch, found through /usr/lib/aarch64-linux-gnu/pkgconfig).
  dpkg --print-foreign-architectures | grep -qx arm64 || add_arm64=1
  has_pkg libasound2-dev:arm64 || need+=(libasound2-dev:arm64)
  command -v objdump >/dev/null && command -v readelf >/dev/null || need+=(binutils)
  command -v file >/dev/null || need+=(file)
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
fi
((${#need[@]})) || exit 0

say() { echo "system-deps: $*" >&2; }
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  say "missing Debian packages: ${need[*]}"
  ((add_arm64)) && say "first add the arm64 architecture: sudo dpkg --add-architecture arm64 && sudo apt-get update"
  say "install them with: sudo apt-get install -y ${need[*]}"
  exit 1
fi
say "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
((add_arm64)) && "${sudo[@]}" dpkg --add-architecture arm64
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
