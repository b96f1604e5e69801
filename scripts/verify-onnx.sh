#!/usr/bin/env bash
# Checks `nnt export onnx` (issue 14, spec §15): for each model_use fixture
# (class names with a categorical column and missing cells; binary; f64
# two-target regression with standardised targets) it trains the recipe, exports
# the model, runs onnx.checker, feeds the data file (encoded from the model's own
# `nnt.preparation`, missing cells as NaN) to onnxruntime and compares with
# `nnt predict` on the same file: within 1e-5 relative.
#
#   scripts/verify-onnx.sh            (uses target/release/nnt, else target/debug/nnt)
#
# Creates its own Python environment (onnx, onnxruntime, numpy, safetensors from
# the package registry) outside the repository, in
# ${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nnt/onnx-venv}; a given VENV that lacks
# any of them gets them installed.
set -euo pipefail
cd "$(dirname "$0")/.."
NNT=${NNT:-$( [ -x target/release/nnt ] && echo target/release/nnt || echo target/debug/nnt )}
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nnt/onnx-venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import onnx, onnxruntime, numpy, safetensors' 2>/dev/null; then
    "$VENV/bin/pip" install -q onnx onnxruntime numpy safetensors
fi
status=0
for case in species:species_valid.csv yesno:binary_valid.csv prices:reg_valid.csv; do
    recipe=${case%%:*}
    data=tests/fixtures/model_use/data/${case#*:}
    "$NNT" run "tests/fixtures/model_use/$recipe.nnt" --save "$WORK/$recipe.safetensors" --format jsonl > /dev/null
    "$NNT" export onnx "$WORK/$recipe.safetensors" -o "$WORK/$recipe.onnx"
    "$NNT" predict "$WORK/$recipe.safetensors" "$data" -o "$WORK/$recipe.csv"
    "$VENV/bin/python" - "$WORK/$recipe.safetensors" "$WORK/$recipe.onnx" "$data" "$WORK/$recipe.csv" <<'PY' || status=1
import csv, json, sys
import numpy as np, onnx, onnxruntime as ort
from safetensors import safe_open
model_file, onnx_file, data, predicted = sys.argv[1:]
onnx.checker.check_model(onnx.load(onnx_file), full_check=True)
with safe_open(model_file, "np") as f:
    prep = json.loads(f.metadata()["nnt.preparation"])
MISSING = {"", "NA", "N/A", "NaN", "nan", "null", "?"}
rows = list(csv.reader(open(data)))
header, body = rows[0], rows[1:]
cols = []
for feat in prep["features"]:
    i = header.index(feat["column"]["name"])
    kind = feat["kind"]
    if kind["kind"] == "numeric":
        cols.append([float("nan") if r[i].strip() in MISSING else float(r[i]) for r in body])
    else:
        for c in kind["categories"]:
            cols.append([1.0 if r[i].strip() == c else 0.0 for r in body])
x = np.array(cols, dtype=np.float32).T
sess = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
(out,) = sess.run(None, {"features": x})
ours = list(csv.reader(open(predicted)))
names = ours[0]
numeric = [j for j, n in enumerate(names) if n != "prediction"]
theirs = np.array([[float(r[j]) for j in numeric] for r in ours[1:]])
rel = np.abs(out - theirs) / np.maximum(np.abs(theirs), 1e-30)
# Probabilities far below 1e-5 of the row's largest are compared absolutely.
tiny = np.abs(theirs) < 1e-6
worst = float(np.where(tiny, 0, rel).max())
worst_abs = float(np.abs(out - theirs)[tiny].max()) if tiny.any() else 0.0
ok = worst <= 1e-5 and worst_abs <= 1e-7
print(f"{onnx_file.rsplit('/', 1)[-1]}: onnx.checker ok; {len(body)} rows, output {names[numeric[0]]}…, "
      f"max relative difference {worst:.2e}, max absolute below 1e-6 {worst_abs:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
