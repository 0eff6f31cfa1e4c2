import torch, time
import os; torch.set_num_threads(int(os.environ.get("T","2")))
N, d = 2048, 128
def t(name, flops, f):
    for _ in range(20): f()
    xs = []
    for _ in range(7):
        s = time.perf_counter()
        for _ in range(50): f()
        xs.append((time.perf_counter() - s) / 50)
    xs.sort(); m = xs[3]
    print(f"{name:50} median {m*1e6:8.1f} us {flops/m/1e9:6.1f} GFLOP/s")
    return m
x = torch.randn(N, d); w1 = torch.randn(d, d); w3 = torch.randn(d, 3*d)
f1 = 2.0 * N * d * d
a = t("fwd 3x [2048x128]@[128x128]", 3*f1, lambda: [x @ w1 for _ in range(3)])
b = t("fwd 1x [2048x128]@[128x384]", 3*f1, lambda: x @ w3)
print(f"  fused/separate {b/a:.3f}")
dy = torch.randn(N, d); dy3 = torch.randn(N, 3*d)
a = t("dx 3x", 3*f1, lambda: [dy @ w1.t() for _ in range(3)])
b = t("dx fused", 3*f1, lambda: dy3 @ w3.t())
print(f"  fused/separate {b/a:.3f}")
a = t("dw 3x", 3*f1, lambda: [x.t() @ dy for _ in range(3)])
b = t("dw fused", 3*f1, lambda: x.t() @ dy3)
print(f"  fused/separate {b/a:.3f}")
h = 4*d; w = torch.randn(d, h); xh = torch.randn(N, h); wo = torch.randn(h, d)
t("mlp in fwd", 2.0*N*d*h, lambda: x @ w)
t("mlp out fwd", 2.0*N*d*h, lambda: xh @ wo)
t("mlp out dw", 2.0*N*d*h, lambda: xh.t() @ dy)
t("mlp in dw", 2.0*N*d*h, lambda: x.t() @ xh)
print(torch.__config__.show().splitlines()[:6])
