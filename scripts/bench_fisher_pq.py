"""What compressing fisher_svm's Fisher vectors costs in validation accuracy, against bytes per image.

The Fisher vectors of configs/cifar10/fisher_svm.yaml are read through featpipe's feature cache
(computed and stored first if missing: about an hour on a loaded machine), on its 45,000 / 5,000
train / validation split (seed 0). Each storage format is applied to training and validation
vectors alike, and featpipe's LinearSVM (squared hinge, Newton, one fixed C: the config's chosen
0.3 by default) is trained on the stored-then-decoded training vectors and scored on the decoded
validation vectors, as the ImageNet 2011 winner trained on decompressed PQ codes (Sanchez &
Perronnin, CVPR 2011). Formats: float32 (the reference), float16, and product quantization with
256 centroids per piece (one byte) at `--pq-dims` values per byte; the PQ codebooks are learned
on `--pq-fit` training vectors. To keep the run short the SVM trains on a stratified subset of
`--n-train` training images (default 5,000; all formats see the same subset) and stops at a
looser `--tol` than the pipeline's (1e-3 against 1e-4), so the float32 figure is below the full
run's 77.52%; the differences between formats are what this measures.
On a shared machine the seconds are upper bounds.

    FEATPIPE_CACHE=... env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_fisher_pq.py \\
        [--data ../shared/data/cifar10-train-jpeg.tar.gz] [--n-train 5000] [--pq-dims 8 16 32] [--C 0.3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from featpipe import pipeline
from featpipe.config import load_config
from featpipe.data.cache import cache_root
from featpipe.features.cache import FeatureCache, cached_features
from featpipe.features.pq import ProductQuantizer
from featpipe.runner import load_splits
from featpipe.svm import LinearSVM

REPO = Path(__file__).resolve().parent.parent


def load_fisher(config_path: Path, data: Path):
    """(X_train, y_train, X_val, y_val) float32 Fisher vectors of the config, via the feature cache."""
    config = load_config(config_path, ["data.source=folder", f"data.root={data}"])
    splits = load_splits(config, progress=False)
    cache = FeatureCache(cache_root(config.data.cache_dir) / "feature-cache")
    start = time.perf_counter()
    result = cached_features(
        pipeline.build_features(config.features, config.seed), splits.train.images, splits.train.fingerprint(),
        {name: (ds.images, ds.fingerprint()) for name, ds in splits.named().items()}, cache, config.seed)
    features, hits = result.features, result.hits
    print(f"{config.name}: Fisher vectors {features['train'].shape} + {features['val'].shape} in "
          f"{time.perf_counter() - start:.0f} s (cache hits {hits})", flush=True)
    return features["train"], splits.train.labels, features["val"], splits.val.labels


def stratified_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of about n samples with the classes in their original proportions."""
    rng = np.random.default_rng(seed)
    fraction = min(1.0, n / len(labels))
    chosen = [rng.permutation(np.flatnonzero(labels == c))[: round(fraction * np.sum(labels == c))]
              for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def score(train: np.ndarray, y_train: np.ndarray, val: np.ndarray, y_val: np.ndarray, C: float,
          tol: float) -> tuple[float, float]:
    """Validation accuracy of LinearSVM(C, tol) trained on `train`, and the seconds the fit took."""
    start = time.perf_counter()
    svm = LinearSVM(C=C, tol=tol).fit(train, y_train)
    return float(np.mean(svm.predict(val) == y_val)), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs/cifar10/fisher_svm.yaml")
    parser.add_argument("--data", type=Path, default=REPO / "../shared/data/cifar10-train-jpeg.tar.gz",
                        help="the CIFAR-10 training JPEG archive (default: relative to the repository root)")
    parser.add_argument("--n-train", type=int, default=5_000, help="training images the SVMs see (stratified)")
    parser.add_argument("--tol", type=float, default=1e-3, help="the SVM's stopping tolerance")
    parser.add_argument("--pq-dims", type=int, nargs="*", default=[8, 16, 32], help="values per PQ byte")
    parser.add_argument("--pq-fit", type=int, default=2_500, help="training vectors the PQ codebooks learn from")
    parser.add_argument("--pq-iter", type=int, default=10, help="k-means iterations per PQ piece")
    parser.add_argument("--C", type=float, default=0.3, help="the SVM's C (fisher_svm chose 0.3 on the full split)")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    X, y, X_val, y_val = load_fisher(args.config, args.data.resolve())
    keep = stratified_subset(y, args.n_train)
    X, y = np.ascontiguousarray(X[keep]), y[keep]
    dims = X.shape[1]
    print(f"SVM on {len(y):,} training / {len(y_val):,} validation vectors of {dims:,} values, C={args.C}, "
          f"tol={args.tol}", flush=True)

    rows = []
    accuracy, seconds = score(X, y, X_val, y_val, args.C, args.tol)
    rows.append(("float32", 4 * dims, accuracy, 0.0, seconds, 0.0))
    print(f"  float32: val {accuracy:.2%} ({seconds:.0f} s SVM)", flush=True)
    half = (X.astype(np.float16).astype(np.float32), X_val.astype(np.float16).astype(np.float32))
    error = float(((half[1] - X_val) ** 2).sum(axis=1).mean())
    accuracy, seconds = score(half[0], y, half[1], y_val, args.C, args.tol)
    rows.append(("float16", 2 * dims, accuracy, error, seconds, 0.0))
    del half
    fit_rows = np.random.default_rng(0).choice(len(X), size=min(args.pq_fit, len(X)), replace=False)
    for sub in args.pq_dims:
        start = time.perf_counter()
        pq = ProductQuantizer(n_subvectors=dims // sub, n_centroids=256, kmeans_iter=args.pq_iter,
                              random_state=0).fit(X[fit_rows])
        decoded, decoded_val = pq.decode(pq.encode(X)), pq.decode(pq.encode(X_val))
        coding = time.perf_counter() - start
        error = float(((decoded_val - X_val) ** 2).sum(axis=1).mean())
        accuracy, seconds = score(decoded, y, decoded_val, y_val, args.C, args.tol)
        rows.append((f"PQ, {sub} values/byte", pq.bytes_per_vector, accuracy, error, seconds, coding))
        print(f"  {rows[-1][0]}: val {accuracy:.2%} ({seconds:.0f} s SVM, {coding:.0f} s PQ)", flush=True)
        del decoded, decoded_val

    reference = rows[0][2]
    print(f"\n{'format':<20} {'bytes/image':>11} {'smaller':>8} {'val acc':>8} {'vs float32':>10} "
          f"{'sq. error':>9} {'SVM s':>6} {'PQ s':>6}")
    for name, size, accuracy, error, seconds, coding in rows:
        print(f"{name:<20} {size:>11,} {4 * dims / size:>7.0f}x {accuracy:>8.2%} {100 * (accuracy - reference):>+9.2f}p "
              f"{error:>9.4f} {seconds:>6.0f} {coding:>6.0f}")
    print("(sq. error: mean squared distance of a validation vector to its reconstruction; the vectors have unit "
          f"L2 norm. PQ s: learning the codebooks on {len(fit_rows):,} vectors and coding every vector.)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
