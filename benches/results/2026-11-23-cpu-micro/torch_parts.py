"""PyTorch's side of the step split in `cargo bench --bench micro` (train_step/flex/*): the same
MNIST MLP and CNN (from benches/reference/torch_bench.py), batch of the configs (128, 64),
Adam, timing inference forward, forward+backward, and the whole step; medians of 30 after 5
warm-up iterations. Run from the repository root with the torch venv's python."""
import statistics, sys, time
import torch
sys.path.insert(0, "benches/reference")
from torch_bench import Cnn, Mlp

torch.manual_seed(0)

def med(f, n=30, warm=5):
    for _ in range(warm):
        f()
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3

for name, model, bs in [
    ("mnist-mlp", Mlp(784, [512, 512], 10, 0.0), 128),
    ("mnist-cnn", Cnn((1, 28, 28), [32, 64], 128, 10, 0.25, 0.5), 64),
]:
    x = torch.randn(bs, 1, 28, 28); y = torch.randint(0, 10, (bs,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    def forward():
        with torch.no_grad():
            model.eval(); loss_fn(model(x), y); model.train()
    def fwd_bwd():
        model.zero_grad(set_to_none=True); loss_fn(model(x), y).backward()
    def step():
        opt.zero_grad(set_to_none=True); loss_fn(model(x), y).backward(); opt.step()
    f, fb, s = med(forward), med(fwd_bwd), med(step)
    print(f"{name:<10} threads={torch.get_num_threads()} forward {f:7.2f} ms  forward+backward {fb:7.2f} ms  step {s:7.2f} ms  ({bs / s * 1e3:,.0f} samples/s)")
