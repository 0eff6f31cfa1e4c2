"""torchvision's ImageFolder + DataLoader with the transforms of configs/image-folder.toml:
samples/s over a number of batches, timed like `trainer bench`'s loader column (from the
loader's start until the last batch is in hand). Prints one JSON object."""
import argparse
import json
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True, help="the image folder (its train/ is read)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batches", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--scale", type=float, nargs=2, default=[0.35, 1.0])
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(a.size, scale=tuple(a.scale), ratio=(0.75, 4 / 3)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(f"{a.dir}/train", transform=tf)
    started = time.perf_counter()
    dl = DataLoader(ds, batch_size=a.batch_size, shuffle=True, num_workers=a.workers,
                    drop_last=True)
    samples = 0
    for i, (x, _) in enumerate(dl):
        samples += x.shape[0]
        if i + 1 == a.batches:
            break
    seconds = time.perf_counter() - started
    print(json.dumps({"loader": "torchvision", "workers": a.workers, "batches": a.batches,
                      "samples": samples, "seconds": seconds,
                      "samples_per_sec": samples / seconds,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
