"""Write a run's validation images as a labelled image folder (<out>/val/<class>/<n>.png).

Gives `featpipe evaluate` another labelled folder to score a model on, made of images the
model never trained on; --size rescales them so the resize path is exercised too.

    python scripts/export_val_folder.py configs/cifar10/raw_svm.yaml runs/cifar-val --n 2000 --size 48
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from featpipe.config import load_config
from featpipe.imageops import conform
from featpipe.runner import load_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="experiment config whose validation split to export")
    parser.add_argument("out", type=Path, help="folder to create")
    parser.add_argument("--n", type=int, default=None, help="export at most this many images")
    parser.add_argument("--size", type=int, default=None, help="rescale images to SIZE x SIZE")
    args = parser.parse_args()
    config = load_config(args.config)
    val = load_splits(config, progress=False).val
    images, labels = val.images, val.labels
    if args.n is not None:
        keep = np.random.default_rng(config.seed).permutation(len(labels))[: args.n]
        images, labels = images[keep], labels[keep]
    if args.size is not None:
        images = conform(images, (args.size, args.size, images.shape[-1]))
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = args.out / "val" / val.class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{i:05d}.png")
    print(f"wrote {len(labels)} images to {args.out / 'val'}")


if __name__ == "__main__":
    main()
