#!/usr/bin/env bash
# The same bytes on every x86-64 machine (spec §16), checked between real
# machines: writes the JSONL log of every example, every conformance case and
# every benchmark recipe (10 epochs) into a folder, each run natively, with the
# element-wise passes held to AVX2 (NNT_SIMD=v3), on one thread (--threads 1)
# and on every core (the default), and a SHA256SUMS of them; then, given two
# such folders (one from each machine), fails when any log differs.
#
#   scripts/machine-logs.sh write DIR        # on each machine (same binary)
#   scripts/machine-logs.sh compare DIR_A DIR_B
#
#   NNT_BIN=/path/to/nnt   the binary (default: target/release/nnt, built when absent)
#
# `write` also fails when the runs on one machine differ among themselves
# (native, v3, one thread, every core). Exit status 0 when every log is
# identical, 1 when one differs or a run fails, 2 for usage errors.
# qemu-portable.sh checks an AVX2-only CPU under emulation; this script is for
# two real machines, e.g. this project's AMD guests and an Intel workstation.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() {
    echo "usage: $0 write DIR | compare DIR_A DIR_B" >&2
    exit 2
}

compare() {
    local a="$1" b="$2" status=0 same=0 total=0 name
    [ -d "$a" ] && [ -d "$b" ] || usage
    for log in "$a"/*.jsonl; do
        name="$(basename "$log")"
        total=$((total + 1))
        if [ ! -f "$b/$name" ]; then
            echo "MISSING $name in $b"
            status=1
        elif cmp -s "$log" "$b/$name"; then
            same=$((same + 1))
        else
            echo "DIFFERS $name"
            diff "$log" "$b/$name" | head -4 || true
            status=1
        fi
    done
    for log in "$b"/*.jsonl; do
        [ -f "$a/$(basename "$log")" ] || { echo "MISSING $(basename "$log") in $a"; status=1; }
    done
    echo "$same of $total logs identical"
    [ -f "$a/MACHINE" ] && echo "A: $(cat "$a/MACHINE")"
    [ -f "$b/MACHINE" ] && echo "B: $(cat "$b/MACHINE")"
    return "$status"
}

write() {
    local out="$1" bin status=0
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    if [ -n "${NNT_BIN:-}" ]; then
        bin="$(cd "$(dirname "$NNT_BIN")" && pwd)/$(basename "$NNT_BIN")"
    else
        bin="$root/target/release/nnt"
        [ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
    fi
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $("$bin" --version)" >"$out/MACHINE"
    # name | folder to run in | recipe | extra arguments
    local jobs=()
    for r in "$root"/examples/*.nnt; do
        jobs+=("example-$(basename "$r" .nnt)|$(dirname "$r")|$(basename "$r")|")
    done
    for d in "$root"/tests/fixtures/conformance/*/; do
        jobs+=("conformance-$(basename "$d")|$d|recipe.nnt|")
    done
    for r in "$root"/benches/recipes/*.nnt; do
        jobs+=("bench-$(basename "$r" .nnt)|$(dirname "$r")|$(basename "$r")|--set train.epochs=10")
    done
    local job name dir recipe extra how rc first
    for job in "${jobs[@]}"; do
        IFS='|' read -r name dir recipe extra <<<"$job"
        first=""
        for how in native v3 threads1; do
            rc=0
            # shellcheck disable=SC2086 # $extra is a list of words
            case "$how" in
                native) (cd "$dir" && "$bin" run "$recipe" --format jsonl $extra) ;;
                v3) (cd "$dir" && NNT_SIMD=v3 "$bin" run "$recipe" --format jsonl $extra) ;;
                threads1) (cd "$dir" && "$bin" run "$recipe" --format jsonl --threads 1 $extra) ;;
            esac >"$out/$name.$how.jsonl" 2>/dev/null || rc=$?
            # 0 success, 3 diverged, 4 expectation unmet: the log is complete
            if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && [ "$rc" -ne 4 ]; then
                echo "FAILED  $name ($how): exit status $rc"
                status=1
            fi
            if [ -z "$first" ]; then
                first="$out/$name.$how.jsonl"
            elif ! cmp -s "$first" "$out/$name.$how.jsonl"; then
                echo "DIFFERS $name: native vs $how (on this machine)"
                status=1
            fi
        done
    done
    (cd "$out" && sha256sum ./*.jsonl >SHA256SUMS)
    echo "$(ls "$out"/*.jsonl | wc -l) logs in $out ($(cat "$out/MACHINE"))"
    return "$status"
}

case "${1:-}" in
    write) [ $# -eq 2 ] || usage; write "$2" ;;
    compare) [ $# -eq 3 ] || usage; compare "$2" "$3" ;;
    *) usage ;;
esac
