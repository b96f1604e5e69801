#!/usr/bin/env bash
# Throughput and memory of `nnt predict` on 10^6 rows, against a numpy forward
# pass of the same model on the same rows (issue 14; figures in BENCHMARKS.md).
#
#   scripts/bench-predict.sh [ROWS]        (default 1000000)
#
# Needs a release build (cargo build --release). Creates its own Python
# environment (numpy, safetensors) in ${VENV:-target/bench-venv}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
NNT=${NNT:-target/release/nnt}
VENV=${VENV:-target/bench-venv}
WORK=${WORK:-target/bench-predict}
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy safetensors
fi
PY="$VENV/bin/python"

# Data: 16 numeric features, 3 classes; a 20 000-row train file and ROWS rows to predict.
"$PY" - "$WORK" "$ROWS" <<'PY'
import sys, numpy as np
work, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(14)
w = rng.normal(size=(16, 3))
def make(n, path):
    x = rng.normal(size=(n, 16)) * 3 + 10
    y = np.argmax((x - 10) @ w + rng.normal(size=(n, 3)), axis=1)
    header = ",".join([f"f{i}" for i in range(16)] + ["label"])
    np.savetxt(path, np.column_stack([x, y]), fmt=["%.5f"] * 16 + ["%d"],
               delimiter=",", header=header, comments="")
make(20000, f"{work}/train.csv")
make(rows, f"{work}/rows.csv")
PY

cat > "$WORK/model.nnt" <<'NNT'
seed = 1
data {
    train = csv("train.csv", label = "label")
    valid = split(train, 0.1)
    normalize = standard
}
model {
    dense(64)
    relu
    dense(64)
    relu
    dense(3)
}
loss = cross_entropy
optimizer = adam(lr = 0.003)
train {
    epochs = 3
    batch = 64
}
NNT
"$NNT" run "$WORK/model.nnt" --save "$WORK/model.safetensors" --format jsonl > /dev/null

echo "== nnt predict, $ROWS rows"
/usr/bin/time -v "$NNT" predict "$WORK/model.safetensors" "$WORK/rows.csv" -o "$WORK/pred.csv" \
    2> "$WORK/time.txt"
grep -E "Elapsed|Maximum resident" "$WORK/time.txt"
wc -l < "$WORK/pred.csv"

echo "== numpy, the same model and rows"
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} "$PY" - "$WORK" <<'PY'
import sys, json, time, numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open
work = sys.argv[1]
t = load_file(f"{work}/model.safetensors")
with safe_open(f"{work}/model.safetensors", "np") as f:
    prep = json.loads(f.metadata()["nnt.preparation"])
shift = np.array([f["kind"]["shift"] for f in prep["features"]], dtype=np.float32)
div = np.array([f["kind"]["divisor"] for f in prep["features"]], dtype=np.float32)
W = [(t[f"{i}.weight"], t[f"{i}.bias"]) for i in (0, 2, 4)]
def forward(x):
    h = (x - shift) / div
    for k, (w, b) in enumerate(W):
        h = h @ w.T + b
        if k < 2:
            np.maximum(h, 0, out=h)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
t0 = time.perf_counter()
x = np.loadtxt(f"{work}/rows.csv", delimiter=",", skiprows=1, usecols=range(16), dtype=np.float32)
t1 = time.perf_counter()
p = np.concatenate([forward(x[i:i + 1024]) for i in range(0, len(x), 1024)])
t2 = time.perf_counter()
forward(x)
t2b = time.perf_counter()
np.savetxt(f"{work}/np_pred.csv", p, fmt="%.8g", delimiter=",")
t3 = time.perf_counter()
pipeline = (t2 - t0) + (t3 - t2b)  # loadtxt + chunked forward + savetxt
n = len(x)
print(f"numpy forward only (chunks of 1024, data in memory): {t2 - t1:.3f} s, {n / (t2 - t1):,.0f} rows/s")
print(f"numpy forward only (one call on all rows, data in memory): {t2b - t2:.3f} s, {n / (t2b - t2):,.0f} rows/s")
print(f"numpy loadtxt + forward + savetxt: {pipeline:.3f} s, {n / pipeline:,.0f} rows/s")
# The two agree.
ours = np.loadtxt(f"{work}/pred.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
print("max |nnt - numpy| probability:", float(np.abs(ours - p).max()))
PY
