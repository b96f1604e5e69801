#!/usr/bin/env python3
"""Makes the penguins-like example data and an independent reference for §14.

usage: python3 scripts/tabular_reference.py   (from the repository root; needs
       numpy, pandas, scikit-learn, torch and safetensors, e.g. in a venv outside
       the repository: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install
       numpy pandas scikit-learn torch safetensors)

Writes
  examples/data/penguins.csv  a small synthetic penguins-like table: an id, class
      names, categories, empty and NA cells, a quoted free-text column (commas and
      a line break inside quotes);
  tests/fixtures/conformance/penguins_mean_onehot/{train,valid}.csv, init.safetensors,
      expected.jsonl, expected.safetensors: one recipe (recipe.nnt, written by hand)
      with class names, categorical columns, `missing = mean`, `normalize =
      standard` and a valid file whose columns are in another order. The
      preparation is scikit-learn's (SimpleImputer(mean) then StandardScaler on
      the numeric columns, OneHotEncoder with the train categories in byte order,
      unknown and missing categories all zeros), and training is PyTorch in
      float64, as for the other conformance cases (check.py's fields).

Everything is seeded: running it again writes the same files.
"""
import json
import os

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE = os.path.join(ROOT, "tests/fixtures/conformance/penguins_mean_onehot")
MISSING = ["", "NA", "N/A", "NaN", "nan", "null", "?"]  # §14's missing cells

SPECIES = {
    # mean bill length, bill depth, flipper length, body mass; islands with weights
    "Adelie": ((38.8, 18.3, 190.0, 3700.0), {"Biscoe": 0.3, "Dream": 0.35, "Torgersen": 0.35}),
    "Chinstrap": ((48.8, 18.4, 196.0, 3730.0), {"Dream": 1.0}),
    "Gentoo": ((47.5, 15.0, 217.0, 5080.0), {"Biscoe": 1.0}),
}
STD = (2.8, 1.1, 6.5, 450.0)


def make(n, seed):
    rng = np.random.default_rng(seed)
    names = list(SPECIES)
    rows = []
    for i in range(n):
        sp = names[rng.choice(3, p=[0.44, 0.2, 0.36])]
        means, islands = SPECIES[sp]
        isl = list(islands)
        island = isl[rng.choice(len(isl), p=list(islands.values()))]
        vals = [round(float(rng.normal(m, s)), 1) for m, s in zip(means, STD)]
        vals[3] = int(round(vals[3] / 25.0) * 25)
        sex = "male" if rng.random() < 0.5 else "female"
        if sex == "male":
            vals[3] += 300
        # Missing cells: empty or NA, in numbers and in a category.
        cells = [str(v) for v in vals]
        for j in range(4):
            r = rng.random()
            if r < 0.04:
                cells[j] = ""
            elif r < 0.06:
                cells[j] = "NA"
        if rng.random() < 0.05:
            sex = "NA"
        note = ""
        if rng.random() < 0.1:
            note = "seen near the colony, banded"
        if rng.random() < 0.02:
            note = "two lines:\nfirst, then second"
        rows.append({
            "id": f"P{i + 1:04d}",
            "species": sp,
            "island": island,
            "bill_length_mm": cells[0],
            "bill_depth_mm": cells[1],
            "flipper_length_mm": cells[2],
            "body_mass_g": cells[3],
            "sex": sex,
            "note": note,
        })
    return pd.DataFrame(rows)


def write(df, path):
    # QUOTE_MINIMAL, as Python's csv module and Excel write it.
    df.to_csv(path, index=False, lineterminator="\n")


def read(path):
    return pd.read_csv(path, keep_default_na=False, na_values=MISSING, dtype=str)


def prepare(train, other, numeric, categorical, features):
    """scikit-learn's preparation, fitted on train; columns in `features` order."""
    def num(df):
        return df[numeric].astype(float).to_numpy()

    imp = SimpleImputer(strategy="mean").fit(num(train))
    scaler = StandardScaler().fit(imp.transform(num(train)))
    cats = [sorted(train[c].dropna().unique().tolist()) for c in categorical]  # byte order
    enc = OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False)
    enc.fit(train[categorical].fillna("__missing__"))

    def apply(df):
        n = scaler.transform(imp.transform(num(df)))
        c = enc.transform(df[categorical].fillna("__missing__"))
        blocks, ci = [], 0
        for f in features:  # one-hot in place
            if f in numeric:
                blocks.append(n[:, [numeric.index(f)]])
            else:
                k = categorical.index(f)
                w = len(cats[k])
                start = sum(len(cats[j]) for j in range(k))
                blocks.append(c[:, start:start + w])
        return np.hstack(blocks)

    return apply(train), apply(other)


def main():
    os.makedirs(os.path.join(ROOT, "examples/data"), exist_ok=True)
    write(make(300, 0), os.path.join(ROOT, "examples/data/penguins.csv"))

    os.makedirs(CASE, exist_ok=True)
    train = make(120, 1)
    valid = make(40, 2)
    # The valid file has its columns in another order.
    valid = valid[["note", "sex", "body_mass_g", "species", "island", "flipper_length_mm",
                   "bill_depth_mm", "id", "bill_length_mm"]]
    write(train, os.path.join(CASE, "train.csv"))
    write(valid, os.path.join(CASE, "valid.csv"))
    train = read(os.path.join(CASE, "train.csv"))
    valid = read(os.path.join(CASE, "valid.csv"))

    label = "species"
    ignore = ["id", "note"]
    categorical = ["island", "sex"]
    features = [c for c in train.columns if c != label and c not in ignore]  # train file order
    numeric = [c for c in features if c not in categorical]
    xt, xv = prepare(train, valid, numeric, categorical, features)
    classes = sorted(train[label].unique().tolist())
    yt = np.array([classes.index(s) for s in train[label]])
    yv = np.array([classes.index(s) for s in valid[label]])

    torch.manual_seed(0)
    width = xt.shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(width, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    # The start weights as nnt reads them (f32), trained in float64.
    init = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(init, os.path.join(CASE, "init.safetensors"))
    model = model.double()
    model.load_state_dict({k: v.double() for k, v in init.items()})

    xt_t, yt_t = torch.tensor(xt, dtype=torch.float64), torch.tensor(yt)
    xv_t, yv_t = torch.tensor(xv, dtype=torch.float64), torch.tensor(yv)
    lr, batch, epochs = 0.01, 16, 8
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    events = []
    n = len(yt)
    for epoch in range(1, epochs + 1):
        total, correct, norms = 0.0, 0, []
        for s in range(0, n, batch):
            xb, yb = xt_t[s:s + batch], yt_t[s:s + batch]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))))
            total += float(loss.detach()) * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            opt.step()
        with torch.no_grad():
            out = model(xv_t)
            vloss = float(loss_fn(out, yv_t))
            vacc = float((out.argmax(1) == yv_t).double().mean())
        events.append({"event": "epoch", "epoch": epoch, "lr": lr, "train_loss": total / n,
                       "train_accuracy": correct / n, "valid_loss": vloss,
                       "valid_accuracy": vacc, "grad_norm": sum(norms) / len(norms)})
    with open(os.path.join(CASE, "expected.jsonl"), "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(CASE, "expected.safetensors"))
    print(f"input width {width}, classes {classes}, train {n} rows, valid {len(yv)} rows")
    print(f"last epoch: {events[-1]}")


if __name__ == "__main__":
    main()
