#!/usr/bin/env bash
# Side-by-side throughput: nnt (steps_per_second from --timings) against the
# equivalent PyTorch eager loop and JAX loop (a cycle of 16 batches compiled as
# one lax.scan), medians of RUNS runs, interleaved (nnt, torch, jax, nnt, …)
# so that machine noise hits all alike; with the peak resident memory of each
# (the median of /usr/bin/time's %M, in MB).
#
#   TORCH_PY=/path/to/venv/bin/python JAX_PY=/path/to/jaxvenv/bin/python \
#     BENCH=../shared/bench benches/compare.sh [RUNS] [ROW-FILTER]
#
# PyTorch and JAX are not dependencies of the project: install them outside the
# repository (python3 -m venv ../torchenv && ../torchenv/bin/pip install torch;
# python3 -m venv ../jaxenv && ../jaxenv/bin/pip install jax optax). A peer whose
# Python is missing gets a "-" column. ROW-FILTER (a regular expression) runs
# only the rows whose name matches.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
FILTER=${2:-.}
TORCH_PY=${TORCH_PY:-../torchenv/bin/python}
JAX_PY=${JAX_PY:-../jaxenv/bin/python}
BENCH=${BENCH:-../shared/bench}
cargo build --release --quiet
NNT=${NNT:-${CARGO_TARGET_DIR:-target}/release/nnt}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print('-' if b in ('nan', '-') else f'{float(a) / float(b):.2f}')" "$1" "$2"; }
# Runs a peer under /usr/bin/time; prints "STEPS_PER_SECOND RSS_KB".
peer() {
  local out
  out=$(/usr/bin/time -f '%M' -o "$tmp/rss" "$@" 2>/dev/null) || true
  echo "$(awk '{for(i=1;i<NF;i++) if($(i+1)=="steps/s") print $i}' <<<"$out" | tail -n1) $(tail -n1 "$tmp/rss")"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | torch command (script in $BENCH or benches/, args) | jax command | goal vs torch | goal vs jax
# The nnt side is benches/recipes/NAME.nnt: the same widths, batch, optimizer,
# learning rate and number of steps as the peers (16 batches a cycle).
rows=(
  "mlp_10_5_2_sgd|torch_bench.py 10 5 2 32 3000 sgd|jax_bench.py 10 5 2 32 3000 sgd|20|3"
  "mlp_64_32_10_sgd|torch_bench.py 64 32 10 16 3000 sgd|jax_bench.py 64 32 10 16 3000 sgd|10|3"
  "mlp_784_128_10_sgd|torch_bench.py 784 128 10 64 1000 sgd|jax_bench.py 784 128 10 64 1000 sgd|1.5|1.5"
  "mlp_784_128_10_adam|torch_bench.py 784 128 10 64 1000 adam|jax_bench.py 784 128 10 64 1000 adam|1.5|1.5"
  "mlp_784_512_512_10_sgd|torch_bench.py 784 512,512 10 256 200 sgd|jax_bench.py 784 512,512 10 256 200 sgd|1.2|1.1"
  "rich|torch_rich.py 300|jax_rich.py 320|2|1.3"
  "mlp_784_128_10_layernorm_adam|benches/torch_variant.py layer_norm 784 128 10 64 1000 adam|-|-|-"
  "mlp_784_128_10_adam_f64|benches/torch_variant.py f64 784 128 10 64 1000 adam|-|-|-"
  "mlp_784_128_10_tanh_adam|benches/torch_variant.py tanh 784 128 10 64 1000 adam|-|-|-"
  "mlp_64_32_1_bce_sgd|benches/torch_variant.py bce 64 32 1 64 3000 sgd|-|-|-"
)
script() { case $1 in benches/*) echo "$1" ;; *) echo "$BENCH/$1" ;; esac; }

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %10s %10s %10s %7s %5s %7s %5s %8s %8s %8s\n' network "nnt st/s" "torch st/s" "jax st/s" \
  "/torch" goal "/jax" goal "nnt MB" "torch MB" "jax MB"
for row in "${rows[@]}"; do
  IFS='|' read -r name tcmd jcmd tgoal jgoal <<<"$row"
  [[ $name =~ $FILTER ]] || continue
  : >"$tmp/nnt"; : >"$tmp/nnt_rss"; : >"$tmp/torch"; : >"$tmp/torch_rss"; : >"$tmp/jax"; : >"$tmp/jax_rss"
  for _ in $(seq "$RUNS"); do
    # The log is parsed after nnt has exited: a parser started alongside it (a
    # pipeline) would take one of its cores during the first ~50 ms.
    /usr/bin/time -f '%M' -o "$tmp/rss" "$NNT" run "benches/recipes/$name.nnt" --format jsonl --timings \
      >"$tmp/log" 2>/dev/null
    tail -n1 "$tmp/log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps_per_second"])' >>"$tmp/nnt"
    tail -n1 "$tmp/rss" >>"$tmp/nnt_rss"
    # Word splitting of the row's arguments is meant.
    # shellcheck disable=SC2046,SC2086
    if [ -x "$TORCH_PY" ]; then
      read -r s m <<<"$(peer "$TORCH_PY" $(script ${tcmd%% *}) ${tcmd#* })"
      [ -z "$s" ] || { echo "$s" >>"$tmp/torch"; echo "$m" >>"$tmp/torch_rss"; }
    fi
    # shellcheck disable=SC2046,SC2086
    if [ "$jcmd" != - ] && [ -x "$JAX_PY" ]; then
      read -r s m <<<"$(peer "$JAX_PY" $(script ${jcmd%% *}) ${jcmd#* })"
      [ -z "$s" ] || { echo "$s" >>"$tmp/jax"; echo "$m" >>"$tmp/jax_rss"; }
    fi
  done
  n=$(median <"$tmp/nnt"); t=$(median <"$tmp/torch"); j=$(median <"$tmp/jax")
  mb() { python3 -c "import sys; v = sys.argv[1]; print('-' if v == 'nan' else f'{float(v) / 1024:.0f}')" "$(median <"$1")"; }
  printf '%-30s %10.0f %10s %10s %7s %5s %7s %5s %8s %8s %8s\n' "$name" "$n" "${t/nan/-}" "${j/nan/-}" \
    "$(ratio "$n" "$t")" "$tgoal" "$(ratio "$n" "$j")" "$jgoal" \
    "$(mb "$tmp/nnt_rss")" "$(mb "$tmp/torch_rss")" "$(mb "$tmp/jax_rss")"
  [ -z "${VERBOSE:-}" ] || echo "  nnt: $(paste -sd' ' "$tmp/nnt")  torch: $(paste -sd' ' "$tmp/torch")  jax: $(paste -sd' ' "$tmp/jax")"
done
