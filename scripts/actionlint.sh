#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint,
# which also runs shellcheck on their `run:` scripts when shellcheck is on
# PATH (Debian: apt-get install shellcheck). Exits non-zero on any finding.
#
# actionlint is installed on first use with `go install` (through the Go
# module proxy) into ${XDG_CACHE_HOME:-$HOME/.cache}/resonode/bin.
#
# Usage:
#   bash scripts/actionlint.sh                      # actionlint v1.7.12 (the version the workflows were checked with)
#   ACTIONLINT_VERSION=latest bash scripts/actionlint.sh
#   bash scripts/actionlint.sh -verbose             # extra arguments go to actionlint
set -euo pipefail
cd "$(dirname "$0")/.."

version=${ACTIONLINT_VERSION:-v1.7.12}
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/resonode/bin"
actionlint="$bin_dir/actionlint"

installed_version() { "$actionlint" -version 2>/dev/null | head -n1; }

if [[ ! -x $actionlint ]] || [[ $version != latest && $(installed_version) != "$version" ]]; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  if [[ ! -x $go ]]; then
    echo "actionlint.sh: Go is needed to install actionlint (or put it in $bin_dir)" >&2
    exit 2
  fi
  echo "actionlint.sh: installing actionlint@$version into $bin_dir" >&2
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" "$go" install "github.com/rhysd/actionlint/cmd/actionlint@$version"
fi

if command -v shellcheck >/dev/null; then
  echo "actionlint $(installed_version), shellcheck $(shellcheck --version | sed -n 's/^version: //p')" >&2
else
  echo "actionlint $(installed_version); shellcheck not installed: run: scripts are not checked" >&2
fi

shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
if ((${#files[@]} == 0)); then
  echo "actionlint.sh: no workflows in .github/workflows" >&2
  exit 1
fi
"$actionlint" "$@" "${files[@]}"
echo "actionlint: no findings in ${files[*]}" >&2
