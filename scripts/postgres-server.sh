#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests and the bench: a temporary
# data directory, trust authentication, listening on 127.0.0.1 only.
#
# Usage:
#   bash scripts/postgres-server.sh start DIR PORT   # initdb DIR (first time) and start; prints the URL.
#                                                    # DIR's parent must be traversable by the server user.
#   bash scripts/postgres-server.sh stop DIR         # fast shutdown (the data directory is kept)
#   bash scripts/postgres-server.sh kill DIR         # immediate shutdown (as a crash would)
#   bash scripts/postgres-server.sh remove DIR       # stop and delete DIR
#
# The URL printed is postgres://resonode@127.0.0.1:PORT/postgres (role
# `resonode`, a superuser without password; tests create their own
# databases). PostgreSQL refuses to run as root: as root, the server runs as
# the `postgres` user the Debian package creates. Needs Debian's
# `postgresql` package (scripts/system-deps.sh test installs it).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || {
  echo "usage: postgres-server.sh start|stop|kill|remove DIR [PORT]" >&2
  exit 2
}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bin" ]]; then
  bin=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
fi
[[ -x "$bin/pg_ctl" ]] || {
  echo "postgres-server.sh: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
  exit 1
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  port=${3:?port}
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir" -U resonode --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 || {
      cat "$dir.initdb.log" >&2
      exit 1
    }
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    # fsync off: the data is thrown away; crash-consistency of the server
    # itself is not what the tests check (commits are still atomic).
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" >/dev/null || {
      tail -20 "$dir/server.log" >&2
      exit 1
    }
  fi
  echo "postgres://resonode@127.0.0.1:$port/postgres"
  ;;
stop)
  [[ -f "$dir/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$dir" -w -t 60 -m fast stop >/dev/null 2>&1 || true
  ;;
kill)
  [[ -f "$dir/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$dir" -w -t 60 -m immediate stop >/dev/null 2>&1 || true
  ;;
remove)
  [[ -f "$dir/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$dir" -w -t 60 -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir" "$dir.initdb.log"
  ;;
*)
  echo "usage: postgres-server.sh start|stop|kill|remove DIR [PORT]" >&2
  exit 2
  ;;
esac
