#!/usr/bin/env python3
"""PyTorch reference for `trainer bench`: the same model, init scheme, optimizer, batch size
and data as a trainer config, timed the same way, printed in the same JSON schema.

Models: the image MLP and CNN (IDX data) and the character-level GPT (text data).

Usage: torch_bench.py --config configs/mnist-mlp.toml [--device cpu|cuda] [--steps 50]
                      [--warmup 5] [--set data.dir=...] [--json OUT]
"""
import argparse, gzip, json, os, platform, resource, sys, time

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import numpy as np
import torch
from torch import nn


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(d, stem):
    for p in (os.path.join(d, stem + ".gz"), os.path.join(d, stem)):
        if os.path.isfile(p):
            return p
    sys.exit(f"{d}: {stem}[.gz] not found")


class Mlp(nn.Module):
    # Same tensor names as trainer's Mlp: layers.{i}.weight|bias.
    def __init__(self, d_in, hidden, classes, dropout):
        super().__init__()
        widths = [d_in] + list(hidden) + [classes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers[:-1]:
            x = self.dropout(torch.relu(layer(x)))
        return self.layers[-1](x)


class Cnn(nn.Module):
    # PyTorch examples/mnist, as trainer's Cnn.
    def __init__(self, shape, channels, fc_hidden, classes, p_conv, p_fc):
        super().__init__()
        c, h, w = shape
        self.conv1 = nn.Conv2d(c, channels[0], 3)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3)
        self.dropout1 = nn.Dropout(p_conv)
        self.fc1 = nn.Linear(channels[1] * ((h - 4) // 2) * ((w - 4) // 2), fc_hidden)
        self.dropout2 = nn.Dropout(p_fc)
        self.fc2 = nn.Linear(fc_hidden, classes)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.dropout1(torch.max_pool2d(x, 2))
        x = self.dropout2(torch.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


class Gpt(nn.Module):
    # As trainer's Gpt: token + position embeddings (N(0, 0.02)), pre-norm blocks of causal
    # multi-head attention and a GELU MLP of width 4d, a final LayerNorm, a linear head.
    def __init__(self, vocab, layers, heads, d, block, dropout):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(block, d)
        nn.init.normal_(self.tokens.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        x = self.dropout(self.tokens(idx) + self.positions(pos))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.head(self.norm(x)).flatten(0, 1)  # [b * t, vocab], as trainer's rows


def text_windows(data, block):
    """The training part of the text as token windows [n, block + 1] (inputs and shifted
    targets), with the vocabulary of the training characters plus one unknown id."""
    text = open(data["file"], encoding="utf-8").read()
    held_out = data.get("validation_fraction", 0.1) + data.get("test_fraction", 0.1)
    train = text[: int(len(text) * (1.0 - held_out))]
    chars = sorted(set(train))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((lookup[c] for c in train), dtype=np.int64, count=len(train))
    stride = data.get("stride", 0) or block
    starts = np.arange(0, len(ids) - block - 1, stride)
    return np.stack([ids[s:s + block + 1] for s in starts]), len(chars) + 1


def apply_set(cfg, item):
    key, _, value = item.partition("=")
    try:
        value = tomllib.loads(f"v = {value}")["v"]
    except Exception:
        pass
    node = cfg
    *parents, last = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--json")
    ap.add_argument("--autocast", choices=["off", "bf16", "f16"], default="off",
                    help="torch.autocast dtype for forward and loss (f16 adds a GradScaler)")
    a = ap.parse_args()

    cfg = tomllib.load(open(a.config, "rb"))
    for item in a.set:
        apply_set(cfg, item)
    data, model_cfg, train = cfg.get("data", {}), cfg.get("model", {}), cfg.get("train", {})
    kind = model_cfg.get("kind", "mlp")
    torch.manual_seed(cfg.get("run", {}).get("seed", 42))
    dev = torch.device(a.device)
    if data.get("format") == "text":
        g = model_cfg.get("gpt", {})
        block = g.get("block_size", 256)
        windows, vocab = text_windows(data, block)
        x_all, labels = windows[:, :-1], windows[:, 1:].reshape(len(windows), -1)
        model = Gpt(vocab, g.get("layers", 6), g.get("heads", 6), g.get("embedding", 384), block,
                    g.get("dropout", 0.2))
    else:
        d = data.get("dir", "datasets/mnist-10k")
        mean, std = data.get("normalize_mean", 0.1307), data.get("normalize_std", 0.3081)
        images = read_idx(find(d, "train-images-idx3-ubyte"))
        labels = read_idx(find(d, "train-labels-idx1-ubyte")).astype(np.int64)
        x_all = ((images.astype(np.float32) / 255.0 - mean) / std)[:, None, :, :]  # [n, 1, h, w]
        classes = int(labels.max()) + 1
        shape = x_all.shape[1:]
    if kind == "gpt":
        pass
    elif kind == "mlp":
        m = model_cfg.get("mlp", {})
        model = Mlp(int(np.prod(shape)), m.get("hidden", [512, 512]), classes, m.get("dropout", 0.2))
    else:
        c = model_cfg.get("cnn", {})
        model = Cnn(shape, c.get("channels", [32, 64]), c.get("fc_hidden", 128), classes,
                    c.get("dropout_conv", 0.25), c.get("dropout_fc", 0.5))
    model = model.to(dev).train()
    lr, wd = train.get("lr", 1e-3), train.get("weight_decay", 0.0)
    opt_name = train.get("optimizer", "adam")
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    elif opt_name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=train.get("momentum", 0.9), weight_decay=wd)
    loss_fn = nn.CrossEntropyLoss()
    clip = train.get("grad_clip_norm", 0.0)
    bs = train.get("batch_size", 128)
    rng = np.random.default_rng(cfg.get("run", {}).get("seed", 42))
    per_epoch = len(x_all) // bs
    order = rng.permutation(len(x_all))

    def batch(step):
        nonlocal order
        i = step % per_epoch
        if i == 0 and step > 0:
            order = rng.permutation(len(x_all))
        idx = order[i * bs:(i + 1) * bs]
        # Token targets flatten to one row per token, as the model's logits do.
        return torch.from_numpy(x_all[idx]), torch.from_numpy(labels[idx]).flatten()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    amp_dtype = {"off": None, "bf16": torch.bfloat16, "f16": torch.float16}[a.autocast]
    scaler = torch.amp.GradScaler(dev.type, enabled=a.autocast == "f16")

    def step_fn(xb, yb):
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss = loss_fn(model(xb), yb)
        scaler.scale(loss).backward()
        if clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(opt)
        scaler.update()
        return loss.detach().float()

    t0 = time.perf_counter()
    step = 0
    for _ in range(max(a.warmup, 1)):
        step_fn(*batch(step))
        step += 1
        if step == 1:
            sync()
    first = time.perf_counter() - t0
    sync()
    data_s, loss_sum = 0.0, None
    start = time.perf_counter()
    for _ in range(a.steps):
        t = time.perf_counter()
        xb, yb = batch(step)
        data_s += time.perf_counter() - t
        loss = step_fn(xb, yb)
        loss_sum = loss if loss_sum is None else loss_sum + loss
        step += 1
    sync()
    seconds = time.perf_counter() - start
    n = max(a.steps, 1)
    result = {
        "backend": f"pytorch-{dev.type}",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "model": kind,
        "precision": "f32" if a.autocast == "off" else f"autocast-{a.autocast}",
        "batch_size": bs,
        "warmup_steps": max(a.warmup, 1),
        "steps": a.steps,
        "first_step_seconds": first,
        "seconds": seconds,
        "samples_per_sec": a.steps * bs / seconds,
        "ms_per_step": seconds * 1e3 / n,
        "data_ms_per_step": data_s * 1e3 / n,
        "compute_ms_per_step": (seconds - data_s) * 1e3 / n,
        "mean_loss": float(loss_sum.item()) / n,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if dev.type == "cuda":
        result["peak_device_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
    doc = {"schema": "trainer-bench/1", "torch_version": torch.__version__, "config": a.config,
           "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus", "results": [result]}
    text = json.dumps(doc, indent=2)
    if a.json:
        open(a.json, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
