#!/usr/bin/env bash
# The same bytes on every x86-64 machine (spec §16): runs every example natively
# and under `qemu-x86_64 -cpu Haswell` (AVX2 and FMA, no AVX-512), and fails when
# any JSONL log differs. Natively it also runs each example with the element-wise
# passes held to AVX2 (NNT_SIMD=v3) and to the x86-64 baseline (NNT_SIMD=baseline).
#
#   scripts/qemu-portable.sh               # all examples, full epochs
#   EPOCHS=3 scripts/qemu-portable.sh      # shorter runs
#   QEMU_CPU=Skylake-Client scripts/qemu-portable.sh
#   NNT_BIN=/path/to/nnt scripts/qemu-portable.sh   # a binary built elsewhere
#
# Installs qemu-user with apt-get when qemu-x86_64 is missing. Exit status 0 when
# every log is identical, 1 when one differs or a run fails, 2 when qemu cannot
# be had.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cpu="${QEMU_CPU:-Haswell}"

if ! command -v qemu-x86_64 >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "installing qemu-user ..." >&2
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq qemu-user >&2
    fi
fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
    echo "error: qemu-x86_64 is not installed and apt-get could not install it" >&2
    exit 2
fi

# The default release build: no target-cpu flags of our own (NNT_BIN=PATH
# tests an nnt binary built elsewhere instead).
if [ -n "${NNT_BIN:-}" ]; then
    bin="$(cd "$(dirname "$NNT_BIN")" && pwd)/$(basename "$NNT_BIN")"
else
    cargo build --release --quiet
    bin="$root/target/release/nnt"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
same=0
total=0
for recipe in examples/*.nnt; do
    name="$(basename "$recipe" .nnt)"
    dir="$(dirname "$recipe")"
    args=(run "$name.nnt" --format jsonl)
    if [ -n "${EPOCHS:-}" ]; then args+=(--set "train.epochs=$EPOCHS"); fi
    bad=0
    runs=(native v3 baseline qemu)
    for how in "${runs[@]}"; do
        log="$out/$name.$how.jsonl"
        rc=0
        case "$how" in
            native) (cd "$dir" && "$bin" "${args[@]}") >"$log" 2>/dev/null || rc=$? ;;
            v3) (cd "$dir" && NNT_SIMD=v3 "$bin" "${args[@]}") >"$log" 2>/dev/null || rc=$? ;;
            baseline) (cd "$dir" && NNT_SIMD=baseline "$bin" "${args[@]}") >"$log" 2>/dev/null || rc=$? ;;
            qemu) (cd "$dir" && qemu-x86_64 -cpu "$cpu" "$bin" "${args[@]}") >"$log" 2>/dev/null || rc=$? ;;
        esac
        # 0 success, 3 diverged, 4 expectation unmet: the log is complete
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && [ "$rc" -ne 4 ]; then
            echo "FAILED  $name ($how): exit status $rc"
            bad=1
        fi
    done
    for how in v3 baseline qemu; do
        total=$((total + 1))
        if cmp -s "$out/$name.native.jsonl" "$out/$name.$how.jsonl"; then
            same=$((same + 1))
        else
            echo "DIFFERS $name: native vs $how"
            diff "$out/$name.native.jsonl" "$out/$name.$how.jsonl" | head -6 || true
            bad=1
        fi
    done
    if [ ! -s "$out/$name.native.jsonl" ]; then
        echo "FAILED  $name: empty log"
        bad=1
    fi
    if [ "$bad" -eq 0 ]; then
        lines="$(wc -l <"$out/$name.native.jsonl")"
        echo "ok      $name ($lines lines identical: native, NNT_SIMD=v3, NNT_SIMD=baseline, qemu -cpu $cpu)"
    else
        status=1
    fi
done
echo "$same of $total comparisons identical"
exit "$status"
