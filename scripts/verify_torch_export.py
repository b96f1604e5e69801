#!/usr/bin/env python3
"""Export every conformance case with `nnt export torch`, run the exported program
(one process, and under `torchrun --nproc_per_node=2`), and compare its events and
saved tensors with the case's PyTorch reference at the conformance tolerances.

usage: verify_torch_export.py NNT [--device cpu|cuda|auto] [--modes single,ddp,resume] [--jobs N] [CASE_DIR ...]

Modes: `single` (python train.py), `ddp` (torchrun with 2 processes), `ddpN`
(torchrun with N processes; `ddp1` runs the data-parallel path in one process,
which is how one GPU checks nccl), `resume` (the examples with dropout, shuffled
batches and batch norm: 8 epochs uninterrupted against 4, then `--resume` from
the 4th epoch's checkpoint; events and saved weights must be identical).

Run through scripts/verify-torch-export.sh, which prepares the Python environment.
Each case directory holds recipe.nnt, its data, init.safetensors, expected.jsonl
(epoch events from float64 PyTorch) and expected.safetensors (the final parameters).
"""
import argparse
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

from safetensors.numpy import load_file

LOSS_RTOL = 1e-4  # losses, penalty, grad_norm: relative (floor 1e-6 absolute)
WEIGHT_RTOL = 2e-3  # each tensor: max |a-b| <= WEIGHT_RTOL * max |expected|
LR_RTOL = 1e-6


def close(got, want, rtol, floor=1e-6):
    return abs(got - want) <= max(rtol * abs(want), floor)


def count_rows(case, key):
    split = {"valid": "valid.csv", "test": "test.csv"}.get(key.split("_")[0], "train.csv")
    with open(os.path.join(case, split)) as f:
        return sum(1 for line in f if line.strip()) - 1


def compare(case, stdout, saved):
    problems = []
    events = []
    for i, line in enumerate(stdout.splitlines(), 1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            problems.append(f"stdout line {i} is not JSON: {line[:120]!r}")
    got = [e for e in events if e.get("event") == "epoch"]
    expected = [json.loads(l) for l in open(os.path.join(case, "expected.jsonl"))]
    want = [e for e in expected if e.get("event") == "epoch"]
    want_end = next((e for e in expected if e.get("event") == "end"), None)
    got_end = next((e for e in events if e.get("event") == "end"), None)
    if want_end is not None:
        if got_end is None:
            problems.append("no end event")
        else:
            for key, wv in want_end.items():
                gv = got_end.get(key)
                if key in ("event", "reason", "epochs", "best_epoch"):
                    ok = gv == wv
                elif key.endswith("accuracy"):
                    ok = isinstance(gv, (int, float)) and abs(gv - wv) <= 1.5 / max(1, count_rows(case, key))
                else:
                    ok = isinstance(gv, (int, float)) and math.isfinite(gv) and close(gv, wv, LOSS_RTOL)
                if not ok:
                    problems.append(f"end: {key} = {gv}, expected {wv}")
    if len(got) != len(want):
        problems.append(f"{len(got)} epoch events, expected {len(want)}")
    for g, w in zip(got, want):
        for key, wv in w.items():
            if key == "event":
                continue
            if key not in g:
                problems.append(f'epoch {w["epoch"]}: field {key} missing')
                continue
            gv = g[key]
            if key == "epoch":
                ok = gv == wv
            elif key == "lr":
                ok = close(gv, wv, LR_RTOL, 1e-12)
            elif key.endswith("accuracy"):
                ok = abs(gv - wv) <= 1.5 / max(1, count_rows(case, key))
            else:
                ok = isinstance(gv, (int, float)) and math.isfinite(gv) and close(gv, wv, LOSS_RTOL)
            if not ok:
                problems.append(f'epoch {w["epoch"]}: {key} = {gv}, expected {wv}')
    if not os.path.exists(saved):
        return problems + ["--save wrote no file"]
    have = load_file(saved)
    for name, vals in load_file(os.path.join(case, "expected.safetensors")).items():
        if name not in have:
            problems.append(f"saved weights lack {name}")
            continue
        if list(have[name].shape) != list(vals.shape):
            problems.append(f"{name}: shape {list(have[name].shape)}, expected {list(vals.shape)}")
            continue
        scale = float(abs(vals.astype("float64")).max()) or 1.0
        err = float(abs(have[name].astype("float64") - vals.astype("float64")).max())
        if not err <= WEIGHT_RTOL * scale:
            problems.append(f"{name}: max |diff| {err:.3g} > {WEIGHT_RTOL} x {scale:.3g}")
    with open(saved, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header.get("__metadata__", {})
    if meta.get("nnt.layout") != "1" or meta.get("format") != "pt":
        problems.append(f"saved file lacks the model-file metadata: {sorted(meta)}")
    return problems


def export(nnt, recipe, out_dir, sets=()):
    """`nnt export torch RECIPE -o OUT_DIR [--set S]...`: the problems (none when it worked)."""
    cmd = [nnt, "export", "torch", recipe, "-o", out_dir]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return [] if p.returncode == 0 else [f"export failed ({p.returncode}): {p.stderr.strip()[-800:]}"]


def run_case(nnt, case, mode, device, python, torchrun):
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = os.path.join(tmp, "export")
        failed = export(nnt, os.path.join(case, "recipe.nnt"), out_dir)
        if failed:
            return failed
        with open(os.path.join(out_dir, "train.py")) as f:
            if os.path.abspath(case) in f.read():
                return ["train.py holds the case's absolute path"]
        saved = os.path.join(tmp, "out.safetensors")
        if mode == "single":
            cmd = [python, os.path.join(out_dir, "train.py"), "--device", device, "--save", saved]
        else:
            # "ddp": 2 processes; "ddpN": N (uneven shards when N does not divide the batch).
            procs = int(mode[3:] or "2")
            cmd = [torchrun, "--standalone", f"--nproc_per_node={procs}", os.path.join(out_dir, "train.py"),
                   "--device", device, "--save", saved]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        # torchrun with gloo (torch 2.15 from PyPI) now and then loses a rank to
        # SIGABRT before training (about 1 launch in 30 seen here, a different
        # case each time, the same train.py passing when run again): such a
        # crash is retried once, and said; any other failure is not.
        for attempt in range(2):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            except subprocess.TimeoutExpired:
                return ["timed out after 900 s"]
            crashed = mode != "single" and p.returncode != 0 and "SIGABRT" in p.stderr
            if not crashed or attempt == 1:
                break
            RETRIED.append(os.path.basename(os.path.normpath(case)))
        if p.returncode != 0:
            return [f"exit status {p.returncode}: {p.stderr.strip()[-1500:]}"]
        return compare(case, p.stdout, saved)


# Cases whose torchrun launch was retried after a rank's SIGABRT.
RETRIED = []

# Recipes of examples/ for the resume mode: dropout (so the generator state must
# survive the checkpoint), shuffled batches, batch norm, a warmup schedule.
RESUME_EXAMPLES = ["breast_cancer.nnt", "iris.nnt"]
RESUME_EPOCHS, RESUME_FROM = 8, 4


def run_resume(nnt, recipe, device, python):
    """Train RESUME_EPOCHS epochs in one go, then resume from RESUME_FROM's checkpoint:
    the resumed run's later events and its saved weights must equal the first run's."""
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = os.path.join(tmp, "export")
        sets = [f"train.epochs={RESUME_EPOCHS}", "checkpoint.every=1", 'checkpoint.path="ck"',
                f"checkpoint.keep={RESUME_EPOCHS}"]
        failed = export(nnt, recipe, out_dir, sets)
        if failed:
            return failed
        env = dict(os.environ, OMP_NUM_THREADS="1")
        train = os.path.join(out_dir, "train.py")
        whole_file, resumed_file = os.path.join(tmp, "whole.safetensors"), os.path.join(tmp, "resumed.safetensors")
        runs = []
        for extra, saved in (([], whole_file),
                             (["--resume", os.path.join(out_dir, "ck", f"epoch-{RESUME_FROM}.pt")], resumed_file)):
            try:
                p = subprocess.run([python, train, "--device", device, "--save", saved] + extra,
                                   capture_output=True, text=True, timeout=900, env=env)
            except subprocess.TimeoutExpired:
                return ["timed out after 900 s"]
            if p.returncode != 0:
                return [f"exit status {p.returncode}: {p.stderr.strip()[-1500:]}"]
            runs.append(p.stdout.splitlines())
        whole, resumed = runs

        def tail(lines):
            keep = []
            for line in lines:
                e = json.loads(line)
                if e.get("event") == "end":
                    # The end event names the file each run saved to: the two
                    # runs save to two files on purpose (compared below).
                    e.pop("save", None)
                    keep.append(json.dumps(e, separators=(",", ":")))
                elif e.get("event") == "epoch" and e["epoch"] > RESUME_FROM:
                    keep.append(line)
            return keep

        problems = []
        a, b = tail(whole), tail(resumed)
        if not any(json.loads(line).get("event") == "epoch" for line in a):
            problems.append(f"the uninterrupted run logged no epoch after {RESUME_FROM} (stopped early?)")
        for i in range(max(len(a), len(b))):
            la = a[i] if i < len(a) else "(none)"
            lb = b[i] if i < len(b) else "(none)"
            if la != lb:
                problems.append(f"event differs:\n       whole:   {la[:300]}\n       resumed: {lb[:300]}")
        ta, tb = load_file(whole_file), load_file(resumed_file)
        for name in sorted(set(ta) | set(tb)):
            if name not in ta or name not in tb:
                problems.append(f"{name} is in one saved file only")
            elif ta[name].shape != tb[name].shape or not (ta[name] == tb[name]).all():
                err = float(abs(ta[name].astype("float64") - tb[name].astype("float64")).max())
                problems.append(f"{name}: resumed weights differ (max |diff| {err:.3g})")
        return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nnt")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--modes", default="single,ddp")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_intermixed_args()
    nnt = os.path.abspath(args.nnt)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "conformance")
    cases = args.cases or sorted(os.path.join(root, d) for d in os.listdir(root)
                                 if os.path.isfile(os.path.join(root, d, "recipe.nnt")))
    python = sys.executable
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    jobs = []
    for mode in args.modes.split(","):
        if mode == "resume":
            jobs += [(mode, os.path.join(examples, name)) for name in RESUME_EXAMPLES]
        elif mode == "single" or (mode.startswith("ddp") and (mode[3:] == "" or mode[3:].isdigit())):
            jobs += [(mode, case) for case in cases]
        else:
            ap.error(f"unknown mode {mode!r} (single, ddp, ddpN, resume)")

    def one(job):
        mode, case = job
        if mode == "resume":
            return run_resume(nnt, case, args.device, python)
        return run_case(nnt, case, mode, args.device, python, torchrun)

    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # Results in the order of the jobs, whatever order they finish in.
        for (mode, case), problems in zip(jobs, pool.map(one, jobs)):
            name = os.path.basename(os.path.normpath(case))
            label = f"{mode:6} {args.device:4} {name}"
            if problems:
                failed += 1
                print(f"FAIL {label}")
                for pr in problems[:8]:
                    print(f"     {pr}")
                if len(problems) > 8:
                    print(f"     ... and {len(problems) - 8} more")
            else:
                passed += 1
                print(f"ok   {label}")
            sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    if RETRIED:
        print(f"retried once after a torchrun rank's SIGABRT: {', '.join(RETRIED)}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
