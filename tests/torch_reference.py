#!/usr/bin/env python3
"""PyTorch's numbers for a conformance case: expected.jsonl and expected.safetensors.

usage: tests/torch_reference.py tests/fixtures/conformance/CASE [--init]
       (needs torch, numpy and safetensors: pip install torch numpy safetensors)

CASE_DIR holds recipe.nnt and its CSV files; the training setup is read from
CASES below (keyed by the directory's name), which mirrors the recipe by hand.
With --init, init.safetensors (the start weights, F32 as nnt's default
precision saves them) is first drawn from torch's own initialisers with
torch.manual_seed(0); layer_norm weights and biases are perturbed away from 1 and 0
so that the case tests how they are used. Then the case is trained in float64 as
the specification says (shuffle = false, batches in file order, §10's epoch
fields), and the events and final parameters are written.

This reproduces how the vendored cases were made: running it on
iris_adam_tanh or cancer_bce_adamw_batchnorm_step (without --init) rewrites
their expected files with the same numbers to float rounding.
"""
import csv
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

torch.set_default_dtype(torch.float64)

# name -> the recipe, as PyTorch objects. layers: (kind, *args) in model order.
CASES = {
    'iris_adam_tanh': dict(
        files=('train.csv', 'valid.csv'), labels=['label'], normalize='standard',
        layers=[('dense', 16), ('tanh',), ('dense', 3)], loss='cross_entropy',
        optimizer=('adam', dict(lr=0.01)), epochs=10, batch=16),
    'cancer_bce_adamw_batchnorm_step': dict(
        files=('train.csv', 'valid.csv'), labels=['label'], normalize='standard',
        layers=[('dense', 16, False), ('batch_norm',), ('relu',), ('dense', 1)],
        loss='binary_cross_entropy', optimizer=('adamw', dict(lr=0.01)),
        epochs=6, batch=50, step=(2, 0.5)),
    'digits_nesterov_l2_clip': dict(
        files=('train.csv', None), labels=['label'], normalize='minmax',
        layers=[('dense', 32), ('relu',), ('dense', 10)], loss='cross_entropy',
        optimizer=('sgd', dict(lr=0.05, momentum=0.9, nesterov=True)), epochs=3, batch=64,
        l2=0.0001, clip=1.0),
    'iris_nadam_layernorm': dict(
        files=('train.csv', 'valid.csv'), labels=['label'], normalize='standard',
        layers=[('dense', 16), ('layer_norm', 1e-5), ('relu',), ('dense', 3)],
        loss='cross_entropy', optimizer=('nadam', dict(lr=0.01)), epochs=12, batch=16),
    'regression_layernorm_adam': dict(
        files=('train.csv', 'valid.csv'), labels=['y0', 'y1'], normalize='none',
        layers=[('dense', 16), ('gelu',), ('layer_norm', 1e-3), ('dense', 8), ('tanh',),
                ('layer_norm', 1e-5), ('dense', 2)],
        loss='mse', optimizer=('adam', dict(lr=0.005)), epochs=6, batch=32),
    'digits_nadam_decay_step_clip': dict(
        files=('train.csv', None), labels=['label'], normalize='minmax',
        layers=[('dense', 32), ('elu', 1.0), ('dense', 10)],
        loss='cross_entropy',
        optimizer=('nadam', dict(lr=0.004, betas=(0.85, 0.99), eps=1e-7,
                                 weight_decay=0.001, momentum_decay=0.01)),
        epochs=5, batch=64, step=(2, 0.5), clip=0.5),
    'cancer_nadam_layernorm_bce': dict(
        files=('train.csv', 'valid.csv'), labels=['label'], normalize='standard',
        layers=[('dense', 24), ('layer_norm', 1e-5), ('relu',), ('dense', 8),
                ('layer_norm', 1e-5), ('leaky_relu', 0.01), ('dense', 1)],
        loss='binary_cross_entropy',
        optimizer=('nadam', dict(lr=0.003, weight_decay=0.01)), epochs=8, batch=40,
        l2=1e-4),
}


def read_split(path, labels):
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    li = [header.index(l) for l in labels]
    fi = [i for i in range(len(header)) if i not in li]
    a = np.array([[float(c) for c in r] for r in body], dtype=np.float64)
    return a[:, fi], a[:, li]


def normalize(splits, how):
    if how == 'none':
        return splits
    x = splits[0][0]
    if how == 'standard':
        mean, std = x.mean(0), x.std(0)
        scale = np.where(std > 0, std, 1.0)
        return [((s[0] - mean) / scale, s[1]) if s else None for s in splits]
    lo, hi = x.min(0), x.max(0)
    rng = np.where(hi > lo, hi - lo, 1.0)
    return [(np.where(hi > lo, (s[0] - lo) / rng, 0.0), s[1]) if s else None for s in splits]


def build(layers, inputs):
    mods, width = [], inputs
    for spec in layers:
        kind = spec[0]
        if kind == 'dense':
            bias = spec[2] if len(spec) > 2 else True
            mods.append(torch.nn.Linear(width, spec[1], bias=bias, dtype=torch.float32))
            width = spec[1]
        elif kind == 'layer_norm':
            mods.append(torch.nn.LayerNorm(width, eps=spec[1], dtype=torch.float32))
        elif kind == 'batch_norm':
            mods.append(torch.nn.BatchNorm1d(width, dtype=torch.float32))
        elif kind == 'dropout':
            mods.append(torch.nn.Dropout(spec[1]))
        elif kind == 'leaky_relu':
            mods.append(torch.nn.LeakyReLU(spec[1]))
        elif kind == 'elu':
            mods.append(torch.nn.ELU(spec[1]))
        else:
            mods.append({'relu': torch.nn.ReLU(), 'tanh': torch.nn.Tanh(),
                         'gelu': torch.nn.GELU(), 'sigmoid': torch.nn.Sigmoid()}[kind])
    return torch.nn.Sequential(*mods)


def main():
    case = os.path.normpath(sys.argv[1])
    cfg = CASES[os.path.basename(case)]
    train_f, valid_f = cfg['files']
    splits = [read_split(os.path.join(case, train_f), cfg['labels'])]
    splits.append(read_split(os.path.join(case, valid_f), cfg['labels']) if valid_f else None)
    splits = normalize(splits, cfg['normalize'])
    (xt, yt), valid = splits[0], splits[1]
    model = build(cfg['layers'], xt.shape[1])
    init_path = os.path.join(case, 'init.safetensors')
    if '--init' in sys.argv:
        torch.manual_seed(0)
        model = build(cfg['layers'], xt.shape[1])
        with torch.no_grad():
            for m in model:
                if isinstance(m, torch.nn.LayerNorm):
                    m.weight.add_(0.2 * torch.randn(m.weight.shape, dtype=torch.float32))
                    m.bias.add_(0.2 * torch.randn(m.bias.shape, dtype=torch.float32))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()
                   if not k.endswith('num_batches_tracked')}, init_path)
    model = model.double()
    state = {k: v.double() for k, v in load_file(init_path).items()}
    model.load_state_dict(state, strict=False)

    name, args = cfg['optimizer']
    params = list(model.parameters())
    if name == 'nadam':
        opt = torch.optim.NAdam(params, foreach=False, **args)
    elif name == 'adam':
        opt = torch.optim.Adam(params, foreach=False, **args)
    elif name == 'adamw':
        opt = torch.optim.AdamW(params, foreach=False, **args)
    elif name == 'sgd':
        opt = torch.optim.SGD(params, foreach=False, **args)
    else:
        raise SystemExit(f'optimizer {name}')
    base = args['lr']
    dense_weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]

    loss_name = cfg['loss']
    classify = loss_name in ('cross_entropy', 'binary_cross_entropy')

    def data_loss(out, y):
        if loss_name == 'cross_entropy':
            return torch.nn.functional.cross_entropy(out, y[:, 0].long())
        if loss_name == 'binary_cross_entropy':
            return torch.nn.functional.binary_cross_entropy_with_logits(out, y)
        return torch.nn.functional.mse_loss(out, y)

    def correct(out, y):
        if loss_name == 'cross_entropy':
            return int((out.argmax(1) == y[:, 0].long()).sum())
        return int(((out > 0).double() == y).sum())

    def penalty():
        return cfg.get('l2', 0.0) * sum((w * w).sum() for w in dense_weights)

    xt_t, yt_t = torch.tensor(xt), torch.tensor(yt)
    n, batch = xt.shape[0], cfg['batch']
    events = []
    for epoch in range(1, cfg['epochs'] + 1):
        lr = base
        if 'step' in cfg:
            every, factor = cfg['step']
            lr = base * factor ** ((epoch - 1) // every)
        for g in opt.param_groups:
            g['lr'] = lr
        model.train()
        total, right, norms = 0.0, 0, []
        for start in range(0, n, batch):
            xb, yb = xt_t[start:start + batch], yt_t[start:start + batch]
            opt.zero_grad()
            out = model(xb)
            loss = data_loss(out, yb)
            objective = loss + penalty() if 'l2' in cfg else loss
            objective.backward()
            total += float(loss.detach()) * xb.shape[0]
            if classify:
                right += correct(out, yb)
            norms.append(math.sqrt(sum(float((p.grad ** 2).sum()) for p in params)))
            if 'clip' in cfg:
                torch.nn.utils.clip_grad_norm_(params, cfg['clip'])
            opt.step()
        ev = {'event': 'epoch', 'epoch': epoch, 'lr': lr, 'train_loss': total / n}
        if classify:
            ev['train_accuracy'] = right / n
        if valid is not None:
            model.eval()
            with torch.no_grad():
                xv, yv = torch.tensor(valid[0]), torch.tensor(valid[1])
                out = model(xv)
                ev['valid_loss'] = float(data_loss(out, yv))
                if classify:
                    ev['valid_accuracy'] = correct(out, yv) / xv.shape[0]
        if 'l2' in cfg:
            with torch.no_grad():
                ev['penalty'] = float(penalty())
        ev['grad_norm'] = sum(norms) / len(norms)
        events.append(ev)
    events.append({'event': 'end', 'reason': 'completed', 'epochs': cfg['epochs']})
    with open(os.path.join(case, 'expected.jsonl'), 'w') as f:
        for ev in events:
            f.write(json.dumps(ev) + '\n')
    save_file({k: v.detach().double().contiguous() for k, v in model.state_dict().items()
               if not k.endswith('num_batches_tracked')},
              os.path.join(case, 'expected.safetensors'))


if __name__ == '__main__':
    main()
