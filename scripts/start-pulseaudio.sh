#!/usr/bin/env bash
# Starts (idempotently) the PulseAudio daemon the real-time tests run against:
# a null sink `resonull` at 48 kHz whose monitor is the default source (plus
# `resonull_aux`, see below), so
# playback goes into the sink and capture records it back: a real loopback
# without a sound card. Works as root (CI).
#
# Usage:
#   bash scripts/start-pulseaudio.sh          # start, report on stderr
#   eval "$(bash scripts/start-pulseaudio.sh --env)"
#                                             # also export PULSE_SERVER
# resonode's native PulseAudio backend (cpal) finds the server only through
# PULSE_SERVER, PULSE_RUNTIME_PATH or XDG_RUNTIME_DIR; root shells in CI
# usually have none of them, hence `--env`. (The Rust tests set PULSE_SERVER
# for themselves from this script's output.)
#
# Needs: pulseaudio pulseaudio-utils alsa-utils libasound2-plugins (Debian).
set -euo pipefail

print_env=0
[[ "${1:-}" == "--env" ]] && print_env=1
say() { echo "start-pulseaudio: $*" >&2; }

if ! command -v pulseaudio >/dev/null || ! command -v pactl >/dev/null; then
  say "pulseaudio/pactl not installed (apt-get install pulseaudio pulseaudio-utils alsa-utils libasound2-plugins)"
  exit 1
fi

if ! pactl info >/dev/null 2>&1; then
  # -n: no default.pa; load exactly what the tests need.
  pulseaudio -n --exit-idle-time=-1 --daemonize=yes --disallow-exit \
    -L module-native-protocol-unix \
    -L "module-null-sink sink_name=resonull rate=48000" \
    -L module-always-sink >/dev/null 2>&1 || true
fi

# Wait (bounded: 10 s) until the server answers.
for _ in $(seq 1 100); do
  pactl info >/dev/null 2>&1 && break
  sleep 0.1
done
if ! pactl info >/dev/null 2>&1; then
  say "the PulseAudio server did not come up"
  exit 1
fi

# A server started by someone else may lack the null sink. A second null
# sink, `resonull_aux`, takes the output of duplex tests, so that processed
# audio does not feed back into the loopback they record.
for sink in resonull resonull_aux; do
  if ! pactl list short sinks 2>/dev/null | grep -q "\b$sink\b"; then
    pactl load-module module-null-sink sink_name=$sink rate=48000 >/dev/null
  fi
done
pactl set-default-sink resonull
pactl set-default-source resonull.monitor

server=$(pactl info | sed -n 's/^Server String: //p')
case "$server" in
  unix:*) socket=${server#unix:} ;;
  /*) socket=$server ;;
  *) socket="" ;;
esac
say "ready ($(pactl info | sed -n 's/^Server Version: /PulseAudio /p'), socket ${socket:-?}, default sink resonull, source resonull.monitor)"
if ((print_env)) && [[ -n "$socket" ]]; then
  echo "export PULSE_SERVER=unix:$socket"
fi
