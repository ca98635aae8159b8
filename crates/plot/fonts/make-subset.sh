#!/usr/bin/env bash
# Makes crates/plot/fonts/DejaVuSans-plot-subset.ttf, the one font the plots
# use (compiled in with include_bytes!, so no system fonts are needed).
#
# Source: DejaVu Sans 2.37 (Debian package fonts-dejavu-core,
# /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf); licence: Bitstream Vera
# licence with DejaVu changes in the public domain (LICENSE-DejaVu.txt here).
# The subset keeps printable ASCII, Latin-1, the sharp and flat signs and
# the dashes, minus and middle dot the labels use; hinting and OpenType
# layout tables are dropped (plotters rasterises outlines with ab_glyph).
#
# Needs fonttools (pip install fonttools), used only to make this file.
set -euo pipefail
cd "$(dirname "$0")"
src=${1:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
pyftsubset "$src" \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2013,U+2014,U+2026,U+2212,U+266D,U+266F,U+2009,U+202F" \
  --no-hinting --desubroutinize --layout-features='' --drop-tables+=GSUB,GPOS,GDEF,kern,FFTM \
  --name-IDs='*' --name-legacy --notdef-outline \
  --output-file=DejaVuSans-plot-subset.ttf
ls -l DejaVuSans-plot-subset.ttf
