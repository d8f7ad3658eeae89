"""The cost of the MLP's batch augmentation, against the training step it feeds, in the same run.

Part 1 times each augmentation (`featpipe.nn.augment`) on one batch of CIFAR-shaped float32
images (256 x 32 x 32 x 3), median of repeats. Part 2 trains `MLPClassifier` on synthetic
CIFAR-shaped data with the full augmentation of configs/cifar10/mlp_deep_wide.yaml and prints,
per epoch, ``history_["augment_time"]`` over ``history_["epoch_time"]``: the share of an
epoch spent augmenting (the rest is forward, backward and the optimizer step).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 python scripts/bench_augment.py

On a machine shared with other work the times are upper bounds; the share is the figure to read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from featpipe.nn import MLPClassifier
from featpipe.nn.augment import cutout, mixup, random_affine, random_crop, random_flip

RECIPE = {"flip": True, "crop": 4, "crop_mode": "reflect", "affine": {"rotation": 8, "scale": [0.9, 1.1]}}


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall and process-CPU milliseconds of ``fn()`` (CPU time is less sensitive to other load)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10240, help="training images of part 2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024, 1024])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")

    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.batch, 32, 32, 3), dtype=np.float32)
    ops = {
        "flip": lambda: random_flip(images, rng),
        "crop 4 zero": lambda: random_crop(images, 4, rng),
        "crop 4 reflect": lambda: random_crop(images, 4, rng, mode="reflect"),
        "affine rot 8, scale 0.9-1.1": lambda: random_affine(images, rng, rotation=8, scale=(0.9, 1.1)),
        "cutout 8": lambda: cutout(images, 8, rng),
        "mixup 0.2": lambda: mixup(images.reshape(args.batch, -1), 0.2, rng),
    }
    print(f"part 1: one batch of {args.batch} x 32 x 32 x 3 float32, median of {args.repeats}")
    for name, fn in ops.items():
        wall, cpu = median_ms(fn, args.repeats)
        print(f"  {name:28s} {wall:7.2f} ms wall {cpu:7.2f} ms CPU")

    X = rng.standard_normal((args.samples, 3072), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    mlp = MLPClassifier(hidden_sizes=tuple(args.hidden), optimizer="momentum", learning_rate=0.01,
                        batch_size=args.batch, epochs=args.epochs, early_stopping=False, input_shape=(32, 32, 3),
                        augment=RECIPE, random_state=0).fit(X, y)
    arch = "-".join(str(s) for s in (3072, *args.hidden, 10))
    print(f"part 2: MLPClassifier {arch}, {args.samples} images, augment={RECIPE}")
    for epoch, (total, aug) in enumerate(zip(mlp.history_["epoch_time"], mlp.history_["augment_time"])):
        print(f"  epoch {epoch + 1}: {total:7.2f} s, augmenting {aug:6.2f} s = {aug / total:5.1%} of the epoch")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
