#!/usr/bin/env bash
# Builds the resonode addon for one Linux glibc target with a glibc floor,
# through cargo-zigbuild (zig links against the symbol versions of that
# glibc), and checks the result. For prebuilt binaries (issue 11).
#
# Usage:
#   bash scripts/build-platform.sh <target> <out-dir> [--glibc 2.28] [--smoke]
#   bash scripts/build-platform.sh <target> --check <file.node> [--glibc 2.28] [--smoke]
#     <target>  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu
#     <out-dir> gets resonode.linux-{x64,arm64}-gnu.node and index.d.ts
#     --glibc   the floor (default 2.28, ONNX Runtime's own): fails if the
#               addon needs a GLIBC_ symbol version above it
#     --check   no build: check (and smoke-test) an existing .node
#     --smoke   then load the addon and run a few calls (chain, decode,
#               SQLite, Signalsmith Stretch, ONNX Runtime when
#               onnxruntime-node is installed): with the host's node for
#               x86_64; for aarch64 under qemu-aarch64-static with Debian 12's
#               arm64 node, extracted into $ARM64_ROOT (default
#               /tmp/resonode-arm64root)
#
# Runs on a Linux x86_64 host. Needs, once:
#   bash scripts/system-deps.sh cross        # arm64 ALSA (multiarch), binutils, file, qemu
#   rustup target add aarch64-unknown-linux-gnu
#   cargo install cargo-zigbuild --locked
#   pip install ziglang                      # or any `zig` on PATH
#   npm ci                                   # @napi-rs/cli
# Honours CARGO_TARGET_DIR (artifacts in $CARGO_TARGET_DIR/<target>/release,
# apart from the host build's target/release). See docs/platforms.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "build-platform: $*" >&2; exit 1; }
say() { echo "build-platform: $*" >&2; }

target='' out='' glibc=2.28 smoke=0 check=''
while (($#)); do
  case "$1" in
    --glibc) glibc=${2:?--glibc needs a version}; shift 2 ;;
    --glibc=*) glibc=${1#--glibc=}; shift ;;
    --check) check=${2:?--check needs a file}; shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) if [[ -z $target ]]; then target=$1; elif [[ -z $out ]]; then out=$1; else die "unexpected argument $1"; fi; shift ;;
  esac
done
[[ -n $target && (-n $out || -n $check) ]] ||
  die "usage: build-platform.sh x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu <out-dir>|--check <file.node> [--glibc 2.28] [--smoke]"
case "$target" in
  x86_64-unknown-linux-gnu) arch=x64 machine='X86-64' ;;
  aarch64-unknown-linux-gnu) arch=arm64 machine='AArch64' ;;
  *) die "unsupported target $target (x86_64-unknown-linux-gnu or aarch64-unknown-linux-gnu)" ;;
esac
[[ $glibc =~ ^2\.[0-9]+$ ]] || die "--glibc takes a version such as 2.28, not $glibc"
[[ $(uname -s)/$(uname -m) == Linux/x86_64 ]] || die "this script runs on a Linux x86_64 host"
for t in readelf objdump; do command -v $t >/dev/null || die "$t missing: bash scripts/system-deps.sh cross (binutils)"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() {
  cargo zigbuild --help >/dev/null 2>&1 || die "cargo-zigbuild missing: cargo install cargo-zigbuild --locked"
  if ! command -v zig >/dev/null; then
    # The PyPI wheel `ziglang` carries zig; napi's -x wants `zig` on PATH.
    python3 -m ziglang version >/dev/null 2>&1 || die "zig missing: pip install ziglang (or put zig on PATH)"
    mkdir -p "$tmp/bin"
    printf '#!/bin/sh\nexec python3 -m ziglang "$@"\n' >"$tmp/bin/zig"
    chmod +x "$tmp/bin/zig"
    export PATH="$tmp/bin:$PATH"
  fi
  say "zig $(zig version), $(cargo install --list | grep -m1 '^cargo-zigbuild' | tr -d :)"
  if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx "$target" || die "Rust std for $target missing: rustup target add $target"
  fi
  [[ -x "$root/node_modules/.bin/napi" ]] || die "node_modules/.bin/napi missing: install the npm dev dependencies (npm ci)"
  if [[ $arch == arm64 ]]; then
    # alsa-sys finds libasound with pkg-config; Debian multiarch puts the
    # arm64 alsa.pc and libasound.so under /usr/lib/aarch64-linux-gnu (the
    # headers are shared), so no sysroot is needed.
    local pcdir=/usr/lib/aarch64-linux-gnu/pkgconfig
    [[ -f $pcdir/alsa.pc ]] || die "arm64 ALSA missing ($pcdir/alsa.pc): bash scripts/system-deps.sh cross"
    export PKG_CONFIG_ALLOW_CROSS=1
    export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu="$pcdir:/usr/share/pkgconfig"
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  say "building $target, glibc floor $glibc, into $out"
  # `-x` runs cargo zigbuild; @napi-rs/cli 3 passes `<target>.<glibc>` to it
  # verbatim, and cargo-zigbuild builds <target> and hands zig the version.
  (cd "$root" && node_modules/.bin/napi build --platform --release \
    --manifest-path crates/node/Cargo.toml --package-json-path package.json \
    --target "$target.$glibc" --cross-compile \
    --output-dir "$out" --no-js --dts index.d.ts)
  f="$out/resonode.linux-$arch-gnu.node"
  [[ -f $f ]] || die "napi build left no $f"
}

if [[ -n $check ]]; then
  [[ -f $check ]] || die "no such file: $check"
  f=$(cd "$(dirname "$check")" && pwd)/$(basename "$check")
else
  build
fi

# --- checks -------------------------------------------------------------------
fail=0
got_machine=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
[[ $got_machine == *"$machine"* ]] || { say "FAIL: $f is for '$got_machine', not $machine"; fail=1; }
command -v file >/dev/null && say "file: $(file -b "$f")"
max=$(objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
if [[ -z $max ]]; then
  say "FAIL: no GLIBC_ symbol versions found in $f"; fail=1
elif [[ $(printf '%s\n%s\n' "$max" "$glibc" | sort -V | tail -1) != "$glibc" ]]; then
  say "FAIL: $f needs GLIBC_$max, above the floor $glibc:"
  objdump -T "$f" | sed -n 's/.*GLIBC_\([0-9.]*\))\{0,1\}[[:space:]]*\([^[:space:]]*\)$/\1 \2/p' | sort -V |
    while read -r v sym; do [[ $(printf '%s\n%s\n' "$v" "$glibc" | sort -V | tail -1) == "$glibc" ]] || echo "  GLIBC_$v $sym" >&2; done
  fail=1
fi
needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
# What the zig build links: libasound (cpal's ALSA host) and glibc's own
# libraries. zig links libc++ and libunwind statically (and hidden), so no
# libstdc++ / libgcc_s. Anything else is new and worth a look.
for lib in $needed; do
  case "$lib" in
    libasound.so.2 | libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
    *) say "FAIL: unexpected NEEDED library $lib"; fail=1 ;;
  esac
done
say "$(basename "$f"): machine $got_machine, highest symbol GLIBC_${max:-?} (floor $glibc), NEEDED: $needed"
say "size $(stat -c %s "$f") bytes ($(gzip -9c "$f" | wc -c) gzipped)"
((fail == 0)) || die "checks failed for $f"

# --- smoke test ---------------------------------------------------------------
((smoke)) || exit 0
cat >"$tmp/smoke.cjs" <<'EOF'
// node smoke.cjs <addon.node> <assets dir> [music at another tempo] [libonnxruntime]
const path = require('path'), fs = require('fs'), os = require('os')
const [addonPath, assets, fast, ortLib] = process.argv.slice(2)
const step = async (name, fn) => {
  const s = Date.now()
  try { const r = await fn(); console.log(`ok   ${name} (${Date.now() - s} ms)${r === undefined ? '' : ': ' + r}`) }
  catch (e) { console.log(`FAIL ${name}: ${e.code || ''} ${e.message}`); process.exitCode = 1 }
}
;(async () => {
  const b = require(addonPath)
  console.log(`loaded ${path.basename(addonPath)} in node ${process.version} ${process.arch}`)
  await step('processorKinds', () => b.processorKinds().map((k) => k.name).join(','))
  await step('NativeChain.process', () => {
    const ch = new b.NativeChain(b.parseChain('highpass(80) lowpass(8000) gain(-6db) reverb()'), 48000, 2, 4096)
    const x = [new Float32Array(48000), new Float32Array(48000)]
    for (let i = 0; i < 48000; i++) x[0][i] = x[1][i] = 0.5 * Math.sin(2 * Math.PI * 440 * i / 48000)
    ch.process(x)
    let peak = 0
    for (const c of x) for (const v of c) { if (!Number.isFinite(v)) throw new Error('non-finite output'); peak = Math.max(peak, Math.abs(v)) }
    return `peak ${peak.toFixed(4)}`
  })
  await step('probe + measureLevels (symphonia)', async () => `${b.probe(path.join(assets, 'music.wav')).durationS} s, ` +
    `${(await b.measureLevels(path.join(assets, 'speech.wav'))).peakDbfs.toFixed(2)} dBFS peak`)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resonode-smoke-'))
  await step('NativeLibrary (bundled SQLite)', async () => {
    const lib = new b.NativeLibrary(path.join(tmp, 'lib.db'))
    const n = (await lib.list()).length
    lib.close()
    return `${n} tracks`
  })
  await step('mixTransitionNative (Signalsmith Stretch, C++)', async () => {
    const r = await b.mixTransitionNative(path.join(assets, 'music.wav'), fast || path.join(assets, 'music.wav'), path.join(tmp, 'mix.wav'),
      { crossfadeBeats: 4, leadInBeats: 2, tailBeats: 2 }, new b.TransitionControl())
    return `${r.durationS.toFixed(2)} s, stretch ratio ${r.stretchRatio.toFixed(4)}`
  })
  if (ortLib) {
    process.env.ORT_DYLIB_PATH = ortLib
    await step('enhanceFile (ONNX Runtime, load-dynamic)', async () => {
      const r = await b.enhanceFile(path.join(assets, 'noisy_speech.wav'), path.join(tmp, 'enh.wav'), null, new b.PipelineControl())
      return `${r.framesProcessed} frames, ${r.realtimeFactor.toFixed(1)}x real time`
    })
  } else console.log('skip enhanceFile (no onnxruntime-node library for this platform)')
  fs.rmSync(tmp, { recursive: true, force: true })
})()
EOF
fast=
if command -v sox >/dev/null; then
  # The music at 1.08x speed, so the transition really time-stretches.
  sox "$root/assets/music.wav" "$tmp/music_fast.wav" speed 1.08 && fast="$tmp/music_fast.wav"
fi
ort=
for lib in "$root"/node_modules/onnxruntime-node/bin/napi-v*/linux/"$arch"/libonnxruntime.so.1; do if [[ -f $lib ]]; then ort=$lib; fi; done
if [[ $arch == x64 ]]; then
  node "$tmp/smoke.cjs" "$f" "$root/assets" "$fast" "$ort"
  exit
fi

# arm64: Debian 12's nodejs (18.x, N-API 9) with its libraries, extracted
# (not installed) into a root for qemu-user.
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[[ -n $qemu ]] || die "qemu-aarch64-static missing: bash scripts/system-deps.sh cross"
r=${ARM64_ROOT:-/tmp/resonode-arm64root}
if [[ ! -x $r/usr/bin/node ]]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || die "dpkg has no arm64 architecture: bash scripts/system-deps.sh cross"
  say "extracting Debian's arm64 nodejs into $r"
  mkdir -p "$tmp/debs" "$r"
  (cd "$tmp/debs" && apt-get download -q nodejs:arm64 libnode108:arm64 libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 \
    libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 libuv1:arm64 libc-ares2:arm64 libbrotli1:arm64 zlib1g:arm64 \
    libasound2:arm64 libasound2-data node-acorn node-busboy node-cjs-module-lexer node-undici node-xtend)
  for d in "$tmp"/debs/*.deb; do dpkg -x "$d" "$r"; done
fi
# qemu-user (Debian 12: 7.2) shows arm64 programs the host's x86 /proc/cpuinfo;
# ONNX Runtime's cpuinfo then crashes (SIGSEGV) while loading. qemu looks
# paths up under -L first, so an arm64 cpuinfo there fixes it.
if [[ ! -f $r/proc/cpuinfo ]]; then
  mkdir -p "$r/proc"
  for i in 0 1; do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' $i
  done >"$r/proc/cpuinfo"
fi
"$qemu" -L "$r" "$r/usr/bin/node" "$tmp/smoke.cjs" "$f" "$root/assets" "$fast" "$ort"
