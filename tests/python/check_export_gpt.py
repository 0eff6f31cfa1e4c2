#!/usr/bin/env python3
"""Loads a GPT's `trainer checkpoints export` file into the PyTorch reference `Gpt` (strict
`load_state_dict`; sizes and vocabulary from the export's header), continues the prompt
greedily (the likeliest character each step, never the unknown id, the last `block_size` ids
as context, as `trainer sample --temperature 0` does) and compares with trainer's text.

Usage: check_export_gpt.py --safetensors F --prompt P --tokens N --sample FILE
Exit 0 when the texts are equal; 1 otherwise.
"""
import argparse, json, os, sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benches", "reference"))
from torch_bench import Gpt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safetensors", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--sample", required=True)
    a = ap.parse_args()

    with safe_open(a.safetensors, "pt") as f:
        meta = f.metadata()
    chars = json.loads(meta["asset.vocab.json"])["chars"]
    unknown = len(chars)
    block = int(meta["gpt.block_size"])
    model = Gpt(unknown + 1, int(meta["gpt.layers"]), int(meta["gpt.heads"]),
                int(meta["gpt.embedding"]), block, 0.0)
    model.load_state_dict(load_file(a.safetensors), strict=True)
    model.eval()

    lookup = {c: i for i, c in enumerate(chars)}
    ids = [lookup.get(c, unknown) for c in a.prompt]
    with torch.no_grad():
        for _ in range(a.tokens):
            context = torch.tensor([ids[-block:]])
            logits = model(context)[-1].clone()  # the last position's row
            logits[unknown] = float("-inf")
            ids.append(int(logits.argmax()))
    ours = a.prompt + "".join(chars[i] for i in ids[len(a.prompt):])
    theirs = open(a.sample, encoding="utf-8").read().rstrip("\n")
    print(f"vocab {unknown + 1}  block {block}  generated {a.tokens}: {ours[len(a.prompt):]!r}")
    if ours != theirs:
        sys.exit(f"mismatch:\n torch   {ours!r}\n trainer {theirs!r}")


if __name__ == "__main__":
    main()
