#!/usr/bin/env python3
"""Train the recipe __NNT_RECIPE__ with PyTorch.

Written by `nnt export torch` (nnt __NNT_VERSION__) from the checked recipe; edit freely.

    python train.py [--device cpu|cuda|auto] [--save PATH] [--resume CKPT]
    torchrun --nproc_per_node=N train.py [...]        # data-parallel (DDP)

Beside this file: data.safetensors (the rows of every split exactly as nnt
prepared them), init.safetensors (the start weights nnt would train from) and
model_meta.json (the model-file metadata nnt writes, reused by --save).
Events are printed on stdout as JSON lines, as `nnt run --format jsonl` does.
Needs Python >= 3.9, torch >= 2.0, numpy, safetensors.
"""
import argparse
import copy
import decimal
import glob
import json
import math
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- the recipe
# Values from the program `nnt check` accepted (defaults filled in); "layers"
# maps each nn.Sequential index to its layer name and line in the recipe.
RECIPE = __NNT_CONFIG__


def build_model():
    """nn.Sequential whose indices are nnt's parameter names (`0.weight`, ...)."""
    return nn.Sequential(
__NNT_MODEL__
    )


def build_loss():
    return __NNT_LOSS__


def build_optimizer(params):
    return __NNT_OPTIMIZER__


def build_scheduler(optimizer):
    """The learning rate of each epoch; stepped once after every epoch."""
__NNT_SCHEDULER__


# ---------------------------------------------------------------- distributed
class CpuSyncBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics are those of the whole global batch.

    nn.SyncBatchNorm only runs on GPU modules; on CPU (gloo) the count, the sum
    and the sum of squared deviations are all-reduced here (differentiably), so
    every rank normalises with the global batch's mean and biased variance and
    updates the running estimates with its unbiased variance, as one process would.
    """

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        n = torch.tensor([float(x.shape[0])], dtype=x.dtype, device=x.device)
        count = all_reduce(n)
        mean = all_reduce(x.sum(dim=0)) / count
        var = all_reduce(((x - mean) ** 2).sum(dim=0)) / count
        with torch.no_grad():
            m = self.momentum
            unbiased = var * (count / (count - 1))
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * unbiased)
            self.num_batches_tracked.add_(1)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def sync_batch_norm(model, device):
    """Batch norm with statistics synchronised across the ranks."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for i, layer in enumerate(model):
        if isinstance(layer, nn.BatchNorm1d):
            synced = CpuSyncBatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            synced.load_state_dict(layer.state_dict())
            model[i] = synced.to(layer.weight.dtype)
    return model


def shard(rows, rank, world):
    """This rank's contiguous slice of a global batch of `rows` rows."""
    return rows * rank // world, rows * (rank + 1) // world


# ---------------------------------------------------------------- events
def number(x):
    """A JSON number as nnt prints it: the shortest round-trip decimal, null if not finite."""
    x = float(x)
    if not math.isfinite(x):
        return "null"
    r = repr(x)
    if x == 0 or 1e-5 <= abs(x) < 1e16:
        s = format(decimal.Decimal(r), "f")
        return s.rstrip("0").rstrip(".") if "." in s else s
    mantissa, exponent = r.split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def json_text(value):
    """A value as nnt writes it in a log: numbers as `number`, strings in UTF-8,
    a dict's keys in their order (fields whose value is None left out)."""
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json_text(v)}" for k, v in value.items() if v is not None) + "}"
    return "[" + ",".join(json_text(v) for v in value) + "]"


def emit(fields):
    """One §10 event line from (key, value) pairs: keys in the given order, compact."""
    sys.stdout.write(json_text(dict(fields)) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- scoring
def targets_of(y, dtype):
    kind = RECIPE["task"]
    if kind == "multiclass":
        return y[:, 0].long()
    return y.to(dtype)


def correct_count(out, y):
    kind = RECIPE["task"]
    if kind == "multiclass":
        return int((out.argmax(dim=1) == y).sum())
    if kind == "binary":
        return int(((out[:, 0] > 0).long() == y[:, 0].long()).sum())
    return 0


def predictions(out):
    return out.argmax(dim=1) if RECIPE["task"] == "multiclass" else (out[:, 0] > 0).long()


def classify_metrics(out, y, classes):
    pred = predictions(out).cpu()
    truth = (y if y.dim() == 1 else y[:, 0]).long().cpu()
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    confusion.index_put_((truth, pred), torch.ones_like(truth), accumulate=True)
    return confusion.tolist()


def macro(confusion):
    c = len(confusion)
    prec, rec, f1, present = [], [], [], []
    for i in range(c):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(confusion[j][i] for j in range(c))
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        prec.append(p)
        rec.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        present.append(support > 0 or predicted > 0)
    keep = [i for i in range(c) if present[i]]

    def mean(v):
        return sum(v[i] for i in keep) / len(keep) if keep else 0.0

    return {"precision": mean(prec), "recall": mean(rec), "f1": mean(f1)}


def auc(score, truth):
    """roc_auc_score: the Mann-Whitney statistic with average ranks for ties."""
    score = score.double().cpu().tolist()
    truth = truth.long().cpu().tolist()
    pos = sum(truth)
    neg = len(truth) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = sorted(range(len(score)), key=lambda i: score[i])
    ranks = [0.0] * len(score)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and score[order[j + 1]] == score[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, t in zip(ranks, truth) if t == 1)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def regression_metrics(out, y):
    scaling = RECIPE["target_scaling"]
    if scaling is not None:
        # In original units: v * std + mean (outputs in the model's precision first).
        mean = torch.tensor(scaling["mean"], dtype=torch.float64, device=out.device)
        std = torch.tensor(scaling["std"], dtype=torch.float64, device=out.device)
        out = out.double() * std + mean
        y = y.double() * std + mean
    out, y = out.double(), y.double()
    err = out - y
    mse = (err**2).mean(dim=0)
    ss_res = (err**2).sum(dim=0)
    ss_tot = ((y - y.mean(dim=0)) ** 2).sum(dim=0)
    r2 = []
    for res, tot in zip(ss_res.tolist(), ss_tot.tolist()):
        r2.append(1 - res / tot if tot != 0 else (1.0 if res == 0 else 0.0))
    return {
        "rmse": float(mse.sqrt().mean()),
        "mae": float(err.abs().mean(dim=0).mean()),
        "r2": sum(r2) / len(r2),
    }


@torch.no_grad()
def evaluate(model, loss_fn, x, y, want_confusion=False):
    """Loss, accuracy and the recipe's metrics of a split in evaluation mode."""
    model.eval()
    out = model(x)
    result = {"loss": float(loss_fn(out, y))}
    task = RECIPE["task"]
    if task is not None:
        result["accuracy"] = correct_count(out, y) / max(1, x.shape[0])
        confusion = classify_metrics(out, y, RECIPE["classes"])
        if want_confusion:
            result["confusion"] = confusion
        if any(m in RECIPE["metrics"] for m in ("precision", "recall", "f1")):
            result.update(macro(confusion))
        if "auc" in RECIPE["metrics"]:
            result["auc"] = auc(out[:, 0], y[:, 0])
    elif RECIPE["metrics"]:
        result.update(regression_metrics(out, y))
    model.train()
    return result


# ---------------------------------------------------------------- penalties
def dense_weights(model):
    return [layer.weight for layer in model if isinstance(layer, nn.Linear)]


def penalty(model):
    """l1 · Σ|w| + l2 · Σw² over the dense weights (never biases or batch norm)."""
    total = 0.0
    for w in dense_weights(model):
        if RECIPE["l1"]:
            total = total + RECIPE["l1"] * w.abs().sum()
        if RECIPE["l2"]:
            total = total + RECIPE["l2"] * (w * w).sum()
    return total


@torch.no_grad()
def apply_max_norm(model, c):
    """Each unit's incoming weights (a row of a dense weight) whose L2 norm exceeds c
    are scaled by c / norm, after the optimizer step."""
    for w in dense_weights(model):
        norms = w.norm(dim=1, keepdim=True)
        w.mul_(torch.where(norms > c, c / norms, torch.ones_like(norms)))


# ---------------------------------------------------------------- early stop
class EarlyStopping:
    """Keras EarlyStopping: the best starts as epoch 1's value; an epoch improves when
    it beats the best by more than min_delta; stop after `patience` epochs without."""

    def __init__(self, patience, min_delta, higher_is_better):
        self.patience, self.min_delta, self.higher = patience, min_delta, higher_is_better
        self.best, self.best_epoch, self.wait = None, 0, 0

    def observe(self, epoch, value):
        if self.best is None:
            improved = True
        elif self.higher:
            improved = value - self.min_delta > self.best
        else:
            improved = value + self.min_delta < self.best
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return improved, (not improved and self.wait >= self.patience)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, s):
        self.best, self.best_epoch, self.wait = s["best"], s["best_epoch"], s["wait"]


# ---------------------------------------------------------------- files
def here(path):
    return path if os.path.isabs(path) else os.path.join(HERE, path)


def save_model(model, path):
    """A §15 model file: the state dict plus the metadata nnt writes."""
    with open(os.path.join(HERE, "model_meta.json")) as f:
        meta = json.load(f)
    dtype = torch.float64 if RECIPE["precision"] == "f64" else torch.float32
    # Every tensor in the model's float dtype, num_batches_tracked too, as nnt
    # writes it (load_state_dict casts it back into torch's integer buffer).
    tensors = {k: v.detach().cpu().to(dtype).contiguous() for k, v in model.state_dict().items()}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)


def write_checkpoint(state, epoch):
    ck = RECIPE["checkpoint"]
    folder = here(ck["path"])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"epoch-{epoch}.pt")
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)
    found = sorted(
        glob.glob(os.path.join(folder, "epoch-*.pt")),
        key=lambda p: int(os.path.basename(p)[6:-3]),
    )
    for old in found[: max(0, len(found) - ck["keep"])]:
        os.remove(old)


# ---------------------------------------------------------------- training
def rng_state(model, device):
    """The generators a forward pass draws from (dropout's: the CPU's, and the
    device's on a GPU); None for a model that draws nothing."""
    if not any(isinstance(m, nn.Dropout) for m in model):
        return None
    return (torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def first_nonfinite_output(model, x, rng, distributed):
    """The nn.Sequential index of the first layer whose output on the step's
    batch is not finite (on any rank), the forward pass run again from the
    generators' state `rng` (the same dropout masks); None when every output
    is finite. Only a step that blew up runs it: the run ends there."""
    if rng is not None:
        torch.set_rng_state(rng[0])
        if rng[1] is not None:
            torch.cuda.set_rng_state(rng[1], x.device)
    with torch.no_grad():
        h = x
        for i, layer in enumerate(model):
            h = layer(h)
            finite = torch.isfinite(h).all().to(torch.int32).reshape(1)
            if distributed:
                dist.all_reduce(finite, op=dist.ReduceOp.MIN)
            if not bool(finite.item()):
                return i
    return None


def unmet_expectations(kept, end, logged):
    """The `nnt::run::expectation` diagnostics of the recipe's `expect` items
    that the run did not meet (§16): each field is read from the kept epoch's
    fields or, for `test_*`, from the end event."""
    out = []
    kept = dict(kept) if kept is not None else None
    for field, how, bound in RECIPE["expect"]:
        if field.startswith("test_"):
            value, at = end.get(field), "at the end"
        else:
            value = kept.get(field) if kept is not None else None
            at = f"at epoch {kept['epoch']}" if kept is not None else "with no epoch logged"
        holds = value is not None and (value >= bound if how == "at least" else value <= bound)
        if holds:
            continue
        if value is None:
            got = "not logged"
        elif math.isfinite(value):
            got = number(value)
        else:
            got = "not a finite number"
        out.append([
            ("event", "diagnostic"), ("severity", "error"), ("code", "nnt::run::expectation"),
            ("epoch", kept["epoch"] if kept is not None else logged),
            ("message", f"expectation not met: `{field}` is {got} {at}, expected {how} {number(bound)}"),
        ])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    parser.add_argument("--save", help="write the trained model file here (§15 safetensors)")
    parser.add_argument("--resume", help="continue from a checkpoint this program wrote")
    args = parser.parse_args()

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    # Launched by torchrun (which sets RANK), even with one process: the same
    # data-parallel path runs for any number of processes.
    distributed = "RANK" in os.environ
    rank = 0
    if distributed:
        if device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
    leader = rank == 0
    dtype = torch.float64 if RECIPE["precision"] == "f64" else torch.float32
    seed = RECIPE["seed"]
    # Dropout draws from torch's global generator (one stream per rank); the
    # shuffle from its own generator, the same on every rank.
    torch.manual_seed(seed + rank)
    shuffle_gen = torch.Generator().manual_seed(seed)

    data = load_file(os.path.join(HERE, "data.safetensors"))
    splits = {}
    for name in ("train", "valid", "test"):
        if name + "_x" in data:
            x = data[name + "_x"].to(dtype).to(device)
            y = targets_of(data[name + "_y"], dtype).to(device)
            splits[name] = (x, y)
    x_train, y_train = splits["train"]
    rows = x_train.shape[0]
    batch = RECIPE["batch"] or rows
    steps = max(1, -(-rows // batch))

    model = build_model().to(dtype)
    start = load_file(os.path.join(HERE, "init.safetensors"))
    missing, unexpected = model.load_state_dict(start, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise SystemExit(f"init.safetensors does not fit the model: {missing} {unexpected}")
    if distributed:
        model = sync_batch_norm(model, device)
    model = model.to(device)
    net = model
    if distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    params = [p for p in model.parameters() if p.requires_grad]
    loss_fn = build_loss()
    optimizer = build_optimizer(params)
    scheduler = build_scheduler(optimizer)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    es = RECIPE["early_stop"]
    stopper = EarlyStopping(es["patience"], es["min_delta"], es["higher"]) if es else None
    best_state = None
    # The epoch fields of the kept epoch, for the end event's `best`: the
    # early-stopping best, else the last logged.
    best_event, last_event = None, None
    done = 0
    stopped = False
    if args.resume:
        # Loaded onto the CPU: the generator states must stay CPU byte tensors;
        # load_state_dict copies the model's and the optimizer's tensors to
        # their parameters' device.
        ck = torch.load(args.resume, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ck["scheduler"])
        if stopper is not None:
            stopper.load_state_dict(ck["stopper"])
        best_state = ck["best"]
        best_event, last_event = ck.get("best_event"), ck.get("last_event")
        done, stopped = ck["epoch"], ck["stopped"]
        shuffle_gen.set_state(ck["shuffle"])
        if leader:
            torch.set_rng_state(ck["rng"])
            # On a GPU dropout draws from the device's generator.
            if device.type == "cuda" and ck.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(ck["cuda_rng"], device)
        else:
            torch.manual_seed(seed + rank + 7919 * done)

    if leader:
        emit([
            ("event", "start"),
            ("recipe", RECIPE["recipe"]),
            ("parameters", sum(p.numel() for p in params)),
            ("train_rows", rows),
            ("valid_rows", splits["valid"][0].shape[0] if "valid" in splits else None),
            ("test_rows", splits["test"][0].shape[0] if "test" in splits else None),
            ("seed", seed),
            ("dropped_rows", RECIPE["dropped_rows"]),
            ("nnt", RECIPE["nnt"]),
            ("config", RECIPE["config"]),
        ])

    reason = "early_stop" if stopped else "completed"
    logged = done
    epoch = done + 1
    while not stopped and epoch <= RECIPE["epochs"]:
        lr = optimizer.param_groups[0]["lr"]
        order = torch.randperm(rows, generator=shuffle_gen) if RECIPE["shuffle"] else torch.arange(rows)
        order = order.to(device)
        model.train()
        loss_sum, correct, norm_sum = 0.0, 0, 0.0
        diverged = None
        for step in range(1, steps + 1):
            idx = order[(step - 1) * batch : step * batch]
            n = idx.shape[0]
            lo, hi = shard(n, rank, world)
            xb, yb = x_train[idx[lo:hi]], y_train[idx[lo:hi]]
            # The generators' state before the forward pass: a step that blows up
            # is run again layer by layer, with the same dropout masks, to name
            # the first layer whose output is not finite (as nnt does).
            rng_before = rng_state(model, device)
            out = net(xb)
            mine = hi - lo
            data_loss = loss_fn(out, yb) if mine > 0 else out.sum() * 0.0
            stats = torch.tensor(
                [float(data_loss.detach()) * mine, float(correct_count(out, yb)) if mine else 0.0],
                dtype=torch.float64, device=device,
            )
            if distributed:
                dist.all_reduce(stats)
            if not math.isfinite(float(stats[0])):
                layer = first_nonfinite_output(model, xb, rng_before, distributed)
                diverged = (step, layer, "forward" if layer is not None else "the loss is not finite")
                break
            objective = data_loss
            if distributed:
                # DDP averages gradients over the ranks: weight each rank's mean by
                # its share of the global batch (times the world size), so the
                # average is the whole batch's gradient even with uneven shards.
                objective = data_loss * (mine / n * world)
            if RECIPE["l1"] or RECIPE["l2"]:
                objective = objective + penalty(model)
            optimizer.zero_grad(set_to_none=False)
            objective.backward()
            # Global L2 norm of the objective's gradient, before clipping.
            grad_norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in params))
            if not math.isfinite(grad_norm):
                layer = first_nonfinite_output(model, xb, rng_before, distributed)
                if layer is not None:
                    diverged = (step, layer, "forward")
                else:
                    bad = [int(name.split(".")[0]) for name, p in model.named_parameters()
                           if not bool(torch.isfinite(p.grad).all())]
                    diverged = (step, bad[-1] if bad else None, "gradient")
                break
            norm_sum += grad_norm
            clip = RECIPE["clip"]
            if clip is not None and clip[0] == "norm":
                torch.nn.utils.clip_grad_norm_(params, max_norm=clip[1])
            elif clip is not None:
                torch.nn.utils.clip_grad_value_(params, clip_value=clip[1])
            optimizer.step()
            if RECIPE["max_norm"] is not None:
                apply_max_norm(model, RECIPE["max_norm"])
            # An update can overflow the parameters while the gradient was
            # finite (a huge learning rate): checked every step, as nnt does.
            if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
                bad = [int(name.split(".")[0]) for name, p in model.named_parameters()
                       if not bool(torch.isfinite(p).all())]
                diverged = (step, bad[0] if bad else None, "update")
                break
            loss_sum += float(stats[0])
            correct += int(stats[1])
        if diverged is not None:
            step, layer, what = diverged
            if layer is not None:
                name, place = RECIPE["layers"][layer]
                described = f"layer {layer} ({name}, {place})"
            if what == "forward":
                what = f"the forward pass produced a non-finite value in the output of {described}"
            elif what == "gradient":
                what = (f"the gradient of {described} is not finite" if layer is not None
                        else "a gradient is not finite")
            elif what == "update":
                what = (f"the update made the parameters of {described} non-finite" if layer is not None
                        else "the update made a parameter non-finite")
            if leader:
                emit([
                    ("event", "diagnostic"), ("severity", "error"), ("code", "nnt::train::diverged"),
                    ("epoch", epoch), ("step", step), ("layer", layer),
                    ("message", f"training diverged at epoch {epoch}, step {step}: {what}"),
                    ("help", __NNT_DIVERGED_HELP__),
                ])
            reason = "diverged"
            break
        event = [("event", "epoch"), ("epoch", epoch), ("lr", float(lr)), ("train_loss", loss_sum / rows)]
        if RECIPE["task"] is not None:
            event.append(("train_accuracy", correct / rows))
        valid = None
        if "valid" in splits:
            valid = evaluate(model, loss_fn, *splits["valid"])
            event.append(("valid_loss", valid["loss"]))
            event.append(("valid_accuracy", valid.get("accuracy")))
            for m in RECIPE["metrics"]:
                event.append(("valid_" + m, valid[m]))
        if RECIPE["has_penalty"]:
            with torch.no_grad():
                event.append(("penalty", sum(
                    RECIPE["l1"] * float(w.double().abs().sum()) + RECIPE["l2"] * float(w.double().pow(2).sum())
                    for w in dense_weights(model))))
        event.append(("grad_norm", norm_sum / steps))
        if leader:
            emit(event)
        logged = epoch
        values = dict(event)
        last_event = event[1:]

        def monitored(name):
            v = values.get(name)
            return float("nan") if v is None else v

        if scheduler is not None:
            if plateau:
                scheduler.step(monitored(RECIPE["plateau_monitor"]))
            else:
                scheduler.step()
        if stopper is not None:
            improved, stop = stopper.observe(epoch, monitored(es["monitor"]))
            if improved:
                best_state = copy.deepcopy(model.state_dict())
                best_event = event[1:]
            if stop:
                stopped, reason = True, "early_stop"
        done = epoch
        ck = RECIPE["checkpoint"]
        if ck is not None and epoch % ck["every"] == 0 and leader:
            write_checkpoint({
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "stopper": stopper.state_dict() if stopper is not None else None,
                "best": best_state, "epoch": epoch, "stopped": stopped,
                "best_event": best_event, "last_event": last_event,
                "shuffle": shuffle_gen.get_state(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            }, epoch)
        epoch += 1

    end = [("event", "end"), ("reason", reason), ("epochs", logged)]
    if reason != "diverged":
        if stopper is not None and stopper.best_epoch > 0:
            end.append(("best_epoch", stopper.best_epoch))
        if best_state is not None:
            model.load_state_dict(best_state)
        scored = None
        if "test" in splits:
            scored = evaluate(model, loss_fn, *splits["test"], want_confusion=True)
            end.append(("test_loss", scored["loss"]))
            end.append(("test_accuracy", scored.get("accuracy")))
            for m in RECIPE["metrics"]:
                end.append(("test_" + m, scored[m]))
        elif "valid" in splits and RECIPE["task"] is not None:
            scored = evaluate(model, loss_fn, *splits["valid"], want_confusion=True)
        unmet = unmet_expectations(best_event if stopper is not None else last_event, dict(end), logged)
        if unmet:
            end.append(("expectations", "failed"))
        if scored is not None and "confusion" in scored:
            end.append(("confusion", scored["confusion"]))
        kept = best_event if stopper is not None else last_event
        if kept is not None:
            end.append(("best", dict(kept)))
        save = args.save or (here(RECIPE["save"]) if RECIPE["save"] else None)
        if save and leader:
            save_model(model, save)
            end.append(("save", save))
        if leader:
            for diagnostic in unmet:
                emit(diagnostic)
    if leader:
        emit(end)
    if distributed:
        # Every rank waits for rank 0's files before the group is torn down (a
        # rank leaving gloo early can abort its peer).
        dist.barrier()
        dist.destroy_process_group()
    if reason == "diverged":
        return 3
    return 4 if unmet else 0


if __name__ == "__main__":
    sys.exit(main())
