#!/usr/bin/env bash
# Side-by-side throughput: nnt (steps_per_second from --timings) against the
# equivalent PyTorch loop (../shared/bench/torch_bench.py), medians of RUNS runs,
# interleaved so that machine noise hits both alike.
#
#   TORCH_PY=/path/to/venv/bin/python benches/compare.sh [RUNS]
#
# PyTorch is not a dependency of the project: install it outside the repository
# (python3 -m venv ../torchenv && ../torchenv/bin/pip install torch).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
TORCH_PY=${TORCH_PY:-../torchenv/bin/python}
TORCH_BENCH=${TORCH_BENCH:-../shared/bench/torch_bench.py}
cargo build --release --quiet
NNT=${CARGO_TARGET_DIR:-target}/release/nnt

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# name | torch args (IN H OUT BATCH STEPS OPT) | goal ratio
rows=(
  "mlp_10_5_2_sgd|10 5 2 32 3000 sgd|20"
  "mlp_64_32_10_sgd|64 32 10 16 3000 sgd|10"
  "mlp_784_128_10_sgd|784 128 10 64 1000 sgd|1.5"
  "mlp_784_128_10_adam|784 128 10 64 1000 adam|1.5"
  "mlp_784_512_512_10_sgd|784 512,512 10 256 200 sgd|0.9"
)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %14s %14s %8s %6s\n' network "nnt steps/s" "torch steps/s" ratio goal
for row in "${rows[@]}"; do
  IFS='|' read -r name targs goal <<<"$row"
  nnt_runs=(); torch_runs=()
  for _ in $(seq "$RUNS"); do
    # The log is parsed after nnt has exited: a parser started alongside it (a
    # pipeline) would take one of its two cores during the first ~50 ms.
    log=$("$NNT" run "benches/recipes/$name.nnt" --format jsonl --timings 2>/dev/null)
    nnt_runs+=("$(printf '%s\n' "$log" | tail -n1 |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["steps_per_second"])')")
    # shellcheck disable=SC2086
    torch_runs+=("$("$TORCH_PY" "$TORCH_BENCH" $targs 2>/dev/null | awk '{for(i=1;i<=NF;i++) if($(i+1)=="steps/s") print $i}')")
  done
  n=$(printf '%s\n' "${nnt_runs[@]}" | median)
  t=$(printf '%s\n' "${torch_runs[@]}" | median)
  printf '%-26s %14.0f %14.0f %8.2f %6s\n' "$name" "$n" "$t" "$(python3 -c "print($n/$t)")" "$goal"
  [ -z "${VERBOSE:-}" ] || echo "  nnt: ${nnt_runs[*]}  torch: ${torch_runs[*]}"
done
