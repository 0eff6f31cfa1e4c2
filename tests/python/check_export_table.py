#!/usr/bin/env python3
"""Loads a tabular MLP's `trainer checkpoints export` file into the PyTorch reference `Mlp`
(strict `load_state_dict`), standardizes the CSV's feature columns with the preprocessing the
export carries in its header (`asset.preprocessing.json`), and compares the logits with
`trainer predict` JSON lines.

Usage: check_export_table.py --safetensors F --csv FILE --predictions JSONL [--tol T]
Exit 0 when they agree; 1 with the first disagreement otherwise.
"""
import argparse, csv, json, os, sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benches", "reference"))
from torch_bench import Mlp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safetensors", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()

    with safe_open(a.safetensors, "pt") as f:
        meta = f.metadata()
    prep = json.loads(meta["asset.preprocessing.json"])
    state = load_file(a.safetensors)
    n = len([k for k in state if k.startswith("layers.") and k.endswith(".weight")])
    widths = [state["layers.0.weight"].shape[1]] + [
        state[f"layers.{i}.weight"].shape[0] for i in range(n)
    ]
    model = Mlp(widths[0], widths[1:-1], widths[-1], dropout=0.0)
    model.load_state_dict(state, strict=True)
    model.eval()

    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    x = torch.tensor(
        [[(float(r[c]) - m) / s for c, m, s in zip(prep["features"], prep["mean"], prep["std"])]
         for r in rows],
        dtype=torch.float32,
    )
    with torch.no_grad():
        logits = model(x)

    preds = [json.loads(line) for line in open(a.predictions)]
    if len(preds) != len(logits):
        sys.exit(f"{a.predictions}: {len(preds)} rows for {len(logits)} CSV rows")
    theirs = torch.tensor([p["logits"] for p in preds], dtype=torch.float32)
    worst = (theirs - logits).abs().max().item()
    disagree = [p["index"] for p, c in zip(preds, logits.argmax(1).tolist()) if p["predicted"] != c]
    print(f"rows {len(preds)}  layers {widths}  classes {prep['classes']}  "
          f"max |logit diff| {worst:.3g}  class disagreements {len(disagree)}")
    if worst > a.tol or disagree:
        sys.exit(f"mismatch: max |logit diff| {worst:.3g}, first class disagreement {disagree[:1]}")


if __name__ == "__main__":
    main()
