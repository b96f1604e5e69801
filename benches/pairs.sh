#!/usr/bin/env bash
# Paired A/B throughput of two nnt binaries on one recipe, for a noisy machine:
# N pairs of runs, the order flipped every pair (A then B, B then A, ...), and
# the statistic is the median of the per-pair ratios B/A, with the number of
# pairs in which B was faster. A guest whose speed drifts by 2x within minutes
# moves both runs of a pair alike; a plain A-then-B alternation, or the ratio
# of two medians, showed order effects and contradictory answers there
# (BENCHMARKS.md, round 9).
#
#   benches/pairs.sh RECIPE N BIN_A BIN_B [nnt run options, e.g. --threads 1]
#
# Throughput is the `steps_per_second` of the `end` event of
# `nnt run RECIPE --format jsonl --timings`. A run that fails stops the script.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 RECIPE N BIN_A BIN_B [nnt run options]" >&2
  exit 2
fi
recipe=$1 pairs=$2 a=$3 b=$4
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Prints one run's steps per second; fails, with nnt's message, when the run
# does.
sps() {
  local out
  if ! out=$("$1" run "$recipe" --format jsonl --timings "${@:2}" 2>"$tmp/err"); then
    echo "pairs.sh: $1 run $recipe failed:" >&2
    cat "$tmp/err" >&2
    return 1
  fi
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])["steps_per_second"])' "$(tail -n1 <<<"$out")"
}
ra=() rb=()
for i in $(seq "$pairs"); do
  if ((i % 2)); then
    x=$(sps "$a" "$@") || exit 1
    y=$(sps "$b" "$@") || exit 1
  else
    y=$(sps "$b" "$@") || exit 1
    x=$(sps "$a" "$@") || exit 1
  fi
  ra+=("$x") rb+=("$y")
done
python3 - "${ra[*]}" "${rb[*]}" <<'PY'
import statistics as st
import sys

a = [float(v) for v in sys.argv[1].split()]
b = [float(v) for v in sys.argv[2].split()]
r = [y / x for x, y in zip(a, b)]
print(
    f"A median {st.median(a):.0f} steps/s | B median {st.median(b):.0f} steps/s | "
    f"B/A median of {len(r)} pairs {st.median(r):.3f} | B faster in {sum(v > 1 for v in r)}/{len(r)}"
)
PY
