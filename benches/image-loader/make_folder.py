"""Writes a photo-sized JPEG image folder for the loader benchmark from the bundled MNIST
subset: each digit scaled to 256x256 RGB with a per-image colour tint and noise (so the JPEGs
are not trivially compressible), quality 90, 10 classes, N images a class, under DIR/train/."""
import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main():
    out, per_class = Path(sys.argv[1]), int(sys.argv[2])
    src = Path(__file__).resolve().parents[2] / "datasets/mnist-10k"
    images = np.frombuffer(gzip.open(src / "train-images-idx3-ubyte.gz").read()[16:], np.uint8)
    labels = np.frombuffer(gzip.open(src / "train-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    images = images.reshape(-1, 28, 28)
    rng = np.random.default_rng(0)
    counts = [0] * 10
    for i, (img, label) in enumerate(zip(images, labels)):
        if counts[label] >= per_class:
            continue
        counts[label] += 1
        big = np.asarray(Image.fromarray(img).resize((256, 256), Image.BILINEAR), np.float32)
        tint = rng.uniform(0.3, 1.0, 3)
        rgb = big[..., None] * tint + rng.normal(0, 12, (256, 256, 3))
        d = out / "train" / str(label)
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(d / f"{i:05}.jpg", quality=90)
    print(f"{sum(counts)} images in {out}/train")


if __name__ == "__main__":
    main()
