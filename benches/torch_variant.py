"""PyTorch CPU peer for the rows the shared scripts do not cover (benches/compare.sh):
784-128-10 with a layer norm after the hidden dense layer, the plain MLP in float64,
with tanh instead of relu, or with one logit and BCEWithLogitsLoss (OUT = 1).
usage: torch_variant.py layer_norm|f64|tanh|bce IN H OUT BATCH STEPS [sgd|adam]
Same loop as ../shared/bench/torch_bench.py: 16 in-memory batches of random data,
20 warm-up steps, THREADS=N threads (default 2)."""
import os, sys, time, torch
from torch import nn, optim
torch.manual_seed(0); torch.set_num_threads(int(os.environ.get('THREADS', '2')))
kind = sys.argv[1]; inp, hid, out, batch, steps = (int(a) for a in sys.argv[2:7])
opt = sys.argv[7] if len(sys.argv) > 7 else 'sgd'
if kind == 'f64':
    torch.set_default_dtype(torch.float64)
    model = nn.Sequential(nn.Linear(inp, hid), nn.ReLU(), nn.Linear(hid, out))
elif kind == 'layer_norm':
    model = nn.Sequential(nn.Linear(inp, hid), nn.LayerNorm(hid), nn.ReLU(), nn.Linear(hid, out))
elif kind == 'tanh':
    model = nn.Sequential(nn.Linear(inp, hid), nn.Tanh(), nn.Linear(hid, out))
elif kind == 'bce':
    model = nn.Sequential(nn.Linear(inp, hid), nn.ReLU(), nn.Linear(hid, out))
else:
    sys.exit(f"unknown variant {kind}")
crit = nn.CrossEntropyLoss()
o = optim.SGD(model.parameters(), lr=0.01) if opt == 'sgd' else optim.Adam(model.parameters(), lr=1e-3)
X = torch.randn(batch * 16, inp); Y = torch.randint(0, out, (batch * 16,))
if kind == 'bce':
    bce = nn.BCEWithLogitsLoss()
    crit = lambda z, y: bce(z.squeeze(1), y)
    Y = torch.randint(0, 2, (batch * 16,)).float()
def step(i):
    j = (i % 16) * batch
    o.zero_grad(); loss = crit(model(X[j:j + batch]), Y[j:j + batch]); loss.backward(); o.step()
    return loss
for i in range(20): step(i)
t = time.perf_counter()
for i in range(steps): l = step(i)
l.item(); dt = time.perf_counter() - t
print(f"torch {kind} {sys.argv[2:]} {steps / dt:.1f} steps/s")
