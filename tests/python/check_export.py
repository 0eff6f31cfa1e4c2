#!/usr/bin/env python3
"""Loads a `trainer checkpoints export` file into the equivalent torch.nn.Module with
`safetensors.torch.load_file` + `load_state_dict(strict=True)`, scores IDX images, and compares
with `trainer predict` JSON lines: same predicted class, logits within --tol.

Usage: check_export.py --safetensors F --images IDX --predictions JSONL --mean M --std S
Exit 0 when they agree; 1 with the first disagreement otherwise.
"""
import argparse, json, os, sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benches", "reference"))
from torch_bench import Mlp, read_idx  # noqa: E402  (the same module the benchmark trains)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safetensors", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--mean", type=float, required=True)
    ap.add_argument("--std", type=float, required=True)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    state = load_file(a.safetensors)
    n_layers = len([k for k in state if k.startswith("layers.") and k.endswith(".weight")])
    widths = [state["layers.0.weight"].shape[1]] + [
        state[f"layers.{i}.weight"].shape[0] for i in range(n_layers)
    ]
    model = Mlp(widths[0], widths[1:-1], widths[-1], dropout=0.0)
    model.load_state_dict(state, strict=True)
    model.eval()

    images = read_idx(a.images)
    x = torch.from_numpy(images.astype("float32") / 255.0)
    x = ((x - a.mean) / a.std).unsqueeze(1)  # [n, 1, h, w]
    with torch.no_grad():
        logits = model(x)

    rows = [json.loads(line) for line in open(a.predictions)]
    if len(rows) != len(logits):
        sys.exit(f"{a.predictions}: {len(rows)} rows for {len(logits)} images")
    theirs = torch.tensor([r["logits"] for r in rows], dtype=torch.float32)
    diff = (theirs - logits).abs()
    worst = diff.max().item()
    disagree = [
        r["index"] for r, p in zip(rows, logits.argmax(1).tolist()) if r["predicted"] != p
    ]
    print(f"images {len(rows)}  layers {widths}  max |logit diff| {worst:.3g}  "
          f"class disagreements {len(disagree)}")
    if worst > a.tol or disagree:
        i = int(diff.max(1).values.argmax())
        sys.exit(f"mismatch: image {i} trainer {rows[i]['logits']} torch {logits[i].tolist()}"
                 f" (first class disagreement: {disagree[:1]})")


if __name__ == "__main__":
    main()
