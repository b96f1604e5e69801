#!/usr/bin/env bash
# Verifies `nnt export torch` against the PyTorch references of the conformance
# cases (tests/fixtures/conformance): each case is exported, run in one process
# and under `torchrun --nproc_per_node=2` (gloo on CPU, nccl on GPU), and its
# events and saved tensors are compared at the conformance tolerances.
#
# usage: scripts/verify-torch-export.sh [--device cpu|cuda|auto] [--modes single,ddp,ddp3,resume] [--jobs N] [CASE_DIR ...]
#        (modes: single = one process, ddp = torchrun with 2 processes, ddpN = N,
#        ddp1 = the data-parallel path in one process (nccl on one GPU),
#        resume = checkpoint and --resume of examples with dropout: identical results)
#
# Environment:
#   VENV  the Python environment to use, created (torch, numpy, safetensors from
#         PyPI) when absent; default ~/.cache/nnt/torch-venv (outside the repository)
#   NNT   the nnt binary; default: target/release/nnt, built when absent
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nnt/torch-venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating the Python environment $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch numpy safetensors
fi
"$venv/bin/python" -c "import torch, numpy, safetensors" 2>/dev/null || {
    echo "installing torch, numpy, safetensors into $venv" >&2
    "$venv/bin/pip" install --quiet torch numpy safetensors
}

nnt="${NNT:-$repo/target/release/nnt}"
if [ ! -x "$nnt" ]; then
    (cd "$repo" && cargo build --release --quiet)
fi

export PATH="$venv/bin:$PATH"
exec "$venv/bin/python" "$here/verify_torch_export.py" "$nnt" "$@"
