#!/usr/bin/env bash
# A throw-away Redis server for the tests and the bench, set up as BullMQ
# needs it in production: append-only file with fsync on every write (a
# restart loses no job), `maxmemory-policy noeviction` (Redis never drops
# queue keys), listening on 127.0.0.1 only.
#
# Usage:
#   bash scripts/redis-server.sh start DIR PORT   # start (data in DIR); prints the URL
#   bash scripts/redis-server.sh stop DIR         # SHUTDOWN (the AOF in DIR is kept for a restart)
#   bash scripts/redis-server.sh remove DIR       # stop and delete DIR
#
# Needs Debian's `redis-server` package (scripts/system-deps.sh test).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || {
  echo "usage: redis-server.sh start|stop|remove DIR [PORT]" >&2
  exit 2
}
command -v redis-server >/dev/null || {
  echo "redis-server.sh: Redis is not installed (Debian: apt-get install redis-server)" >&2
  exit 1
}

port_of() { cat "$dir/port" 2>/dev/null || true; }
running() {
  local p
  p=$(port_of)
  [[ -n "$p" ]] && redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG
}

case "$cmd" in
start)
  port=${3:?port}
  mkdir -p "$dir"
  if ! running; then
    echo "$port" >"$dir/port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
      --appendonly yes --appendfsync always --save '' --maxmemory-policy noeviction
    for _ in $(seq 1 100); do
      running && break
      sleep 0.1
    done
    running || {
      tail -20 "$dir/redis.log" >&2
      exit 1
    }
  fi
  echo "redis://127.0.0.1:$(port_of)"
  ;;
stop | remove)
  if running; then
    redis-cli -h 127.0.0.1 -p "$(port_of)" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
      running || break
      sleep 0.1
    done
  fi
  [[ "$cmd" == remove ]] && rm -rf "$dir"
  true
  ;;
*)
  echo "usage: redis-server.sh start|stop|remove DIR [PORT]" >&2
  exit 2
  ;;
esac
