"""Sanity check of the hand-designed features: validation accuracy of HOG + colour + LinearSVC.

CIFAR-10's 50,000 training JPEGs (--data; default, as in the configs,
``../shared/data/cifar10-train-jpeg.tar.gz`` relative to the repository root) are split
stratified 45,000 train / 5,000 validation with seed 0 (featpipe.data.stratified_split); features
are HOG (9 orientations, 8x8 cells, 2x2 blocks, L2-Hys) concatenated with a joint RGB 8x8x8
colour histogram by FeatureConcat (block normalization by default), then scikit-learn's LinearSVC
(dual, one-vs-rest) is fitted for each C given. The official test split is not available here, so
these are validation figures; picking C by them makes the best one slightly optimistic.

    python scripts/features_accuracy_check.py [--data ARCHIVE] [--C 0.01 0.1] [--normalize block]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from featpipe.data import load_source
from featpipe.data.dataset import stratified_split
from featpipe.features import HOG, ColorHistogram, FeatureConcat

#: The archive the CIFAR-10 configs name, relative to the repository root (this file's parent's parent).
DATA = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "cifar10-train-jpeg.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="CIFAR-10 training JPEGs (.tar.gz or folder)")
    parser.add_argument("--C", type=float, nargs="+", default=[0.01, 0.1], help="LinearSVC C values to try")
    parser.add_argument("--normalize", default="block", choices=["block", "standard", "none"])
    parser.add_argument("--color", default="rgb", help="ColorHistogram space (8 bins per channel)")
    parser.add_argument("--transform-sqrt", action="store_true", help="HOG transform_sqrt=True")
    parser.add_argument("--hog-cell", type=int, default=8, help="HOG pixels_per_cell (square)")
    parser.add_argument("--color-grid", type=int, default=1, help="ColorHistogram grid")
    parser.add_argument("--primal", action="store_true", help="LinearSVC(dual=False): faster here (n_samples >> D)")
    parser.add_argument("--cache-dir", default=os.environ.get("FEATPIPE_CACHE"))
    args = parser.parse_args()

    splits = load_source("folder", root=args.data, cache_dir=args.cache_dir, progress=False)
    (full,) = splits.values()
    train, val = stratified_split(full, 0.1, seed=0)
    print(f"train {len(train.labels):,} / val {len(val.labels):,} images (stratified, seed 0)")

    concat = FeatureConcat(
        extractors=[
            ("hog", HOG(transform_sqrt=args.transform_sqrt, pixels_per_cell=args.hog_cell)),
            ("color", ColorHistogram(space=args.color, bins=8, grid=args.color_grid)),
        ],
        normalize=args.normalize,
    )
    with threadpool_limits(1):
        start = time.perf_counter()
        train_features = concat.fit_transform(train.images)
        val_features = concat.transform(val.images)
        print(f"features {concat}")
        print(f"{concat.get_params(deep=False)['normalize']}-normalized, D={train_features.shape[1]} "
              f"({concat.block_slices_}) in {time.perf_counter() - start:.1f} s")
        for c in args.C:
            start = time.perf_counter()
            svm = LinearSVC(C=c, dual=not args.primal, max_iter=5000, random_state=0).fit(train_features, train.labels)
            accuracy = float((svm.predict(val_features) == val.labels).mean())
            train_accuracy = float((svm.predict(train_features) == train.labels).mean())
            print(f"LinearSVC(C={c}, dual={not args.primal}): val accuracy {accuracy:.4f}, train {train_accuracy:.4f} "
                  f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
