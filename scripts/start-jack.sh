#!/usr/bin/env bash
# Starts (idempotently) a JACK server with the dummy driver: a real JACK
# server and graph, clocked by a timer instead of a sound card, for the
# JACK live specs and bench/realtime.mjs (d3). Its system:capture ports
# deliver silence; system:playback ports discard what they get.
#
# Usage:
#   bash scripts/start-jack.sh [--period FRAMES] [--rate HZ]   # default 128, 48000
#   bash scripts/start-jack.sh --stop     # stops the server this script started
#
# While a JACK server runs, resonode's backend 'default' uses it (see
# crates/device/src/devices.rs): stop it when done so other live runs get
# PulseAudio again.
#
# Needs: jackd2 (Debian; `jackd -d dummy`). A server that is already running
# (started by someone else) is left alone and reused whatever its period.
set -euo pipefail

period=128
rate=48000
stop=0
while (($#)); do
  case "$1" in
    --period) period=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --stop) stop=1; shift ;;
    *) echo "start-jack: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { echo "start-jack: $*" >&2; }
pidfile=/tmp/resonode-jackd.$(id -u).pid

if ((stop)); then
  if [[ -f $pidfile ]]; then
    pid=$(cat "$pidfile")
    if [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" == jackd ]]; then
      kill "$pid"
      for _ in $(seq 1 50); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
      say "stopped jackd ($pid)"
    fi
    rm -f "$pidfile"
  fi
  exit 0
fi

if ! command -v jackd >/dev/null; then
  say "jackd not installed (apt-get install jackd2)"
  exit 1
fi

if jack_lsp >/dev/null 2>&1; then
  say "a JACK server is already running ($(jack_samplerate 2>/dev/null || echo '?') Hz, period $(jack_bufsize 2>/dev/null || echo '?'))"
  exit 0
fi

# -R: real-time scheduling for the server's cycle thread (its clients' process
# threads follow); no -T, so the server stays up after its last client.
jackd -R -d dummy -r "$rate" -p "$period" >/tmp/resonode-jackd.$(id -u).log 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 50); do
  jack_lsp >/dev/null 2>&1 && break
  sleep 0.1
done
if ! jack_lsp >/dev/null 2>&1; then
  say "jackd did not come up: $(tail -3 /tmp/resonode-jackd.$(id -u).log)"
  exit 1
fi
say "ready (jackd $(cat "$pidfile"), dummy driver, $rate Hz, period $period frames)"
