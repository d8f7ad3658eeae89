"""Benchmark featpipe's LinearSVM against LinearSVC (dual and primal) and SGDClassifier on CIFAR-10 features.

Features are computed with featpipe's own extractors from a config (default: hog_color_svm and
bovw_coates_svm) through the feature cache, on the 45,000 / 5,000 train / validation split of the
config (seed 0). For each C, every solver's weights are scored with the same objective,
``1/2 |W|^2 + C * sum_i squared_hinge_i`` (one-vs-rest, the bias a regularized constant feature as in
liblinear; SGD's unregularized bias is scored the same way), plus validation accuracy and seconds.
Ratios are against featpipe's solver measured in the same run. featpipe's C path (warm-started,
ascending C) is timed as well. On a shared machine the seconds are upper bounds.

    FEATPIPE_CACHE=... python scripts/bench_svm.py [--config configs/cifar10/hog_color_svm.yaml]
        [--C 0.01 0.1] [--bovw-words 400] [--solvers newton newton-plain liblinear-dual liblinear-primal sgd]
        [--n-train N]

newton is featpipe's default (Gram-preconditioned when n >= 2 d), newton-plain the same Newton
method without a preconditioner.
        [--data ../shared/data/cifar10-train-jpeg.tar.gz]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.svm import LinearSVC

from featpipe import pipeline
from featpipe.config import load_config
from featpipe.data.cache import cache_root
from featpipe.features.cache import FeatureCache, cached_features
from featpipe.runner import load_splits
from featpipe.svm import LinearSVM

REPO = Path(__file__).resolve().parent.parent
SOLVERS = ("newton", "newton-plain", "liblinear-dual", "liblinear-primal", "sgd")


def load_features(config_path: Path, data: Path, bovw_words: int | None):
    """(X_train, y_train, X_val, y_val, label) for a config, via featpipe's feature cache."""
    overrides = [f"data.root={data}", "data.source=folder"]  # the archive is an image folder
    if bovw_words:
        overrides.append(f"features.bovw.n_words={bovw_words}")
    config = load_config(config_path, overrides)
    splits = load_splits(config, progress=False)
    cache = FeatureCache(cache_root(config.data.cache_dir) / "feature-cache")
    extractor = pipeline.build_features(config.features, config.seed)
    start = time.perf_counter()
    result = cached_features(
        extractor, splits.train.images, splits.train.fingerprint(),
        {name: (ds.images, ds.fingerprint()) for name, ds in splits.named().items()}, cache, config.seed)
    features, hits = result.features, result.hits
    seconds = time.perf_counter() - start
    print(f"{config.name}: features {features['train'].shape} {features['train'].dtype} in {seconds:.0f} s "
          f"(cache hits {hits})", flush=True)
    return features["train"], splits.train.labels, features["val"], splits.val.labels, config.name


def make(solver: str, C: float, n: int, max_iter: int):
    if solver == "newton":
        return LinearSVM(C=C)  # precondition="auto": the Gram preconditioner when n >= 2 d
    if solver == "newton-plain":
        return LinearSVM(C=C, precondition="none")
    if solver == "liblinear-dual":
        return LinearSVC(C=C, dual=True, max_iter=max_iter, tol=1e-4)
    if solver == "liblinear-primal":
        return LinearSVC(C=C, dual=False, max_iter=max_iter, tol=1e-4)
    return SGDClassifier(loss="squared_hinge", alpha=1.0 / (C * n), average=True, max_iter=max_iter, tol=1e-4,
                         random_state=0)


def objective(model, C: float, X: np.ndarray, y: np.ndarray) -> float:
    """The squared-hinge objective at `model`'s weights, as LinearSVM computes its own."""
    probe = LinearSVM(C=C)
    probe.classes_, probe.coef_, probe.intercept_ = model.classes_, model.coef_, np.asarray(model.intercept_)
    return probe.objective(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, nargs="+",
                        default=[REPO / "configs/cifar10/hog_color_svm.yaml", REPO / "configs/cifar10/bovw_coates_svm.yaml"])
    parser.add_argument("--data", type=Path, default=REPO / "../shared/data/cifar10-train-jpeg.tar.gz",
                        help="the CIFAR-10 training JPEG archive (default: relative to the repository root)")
    parser.add_argument("--C", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--path-C", type=float, nargs="*", default=None,
                        help="C values of featpipe's warm-started path (default: --C)")
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--bovw-words", type=int, default=None, help="override features.bovw.n_words (faster extraction)")
    parser.add_argument("--max-iter", type=int, default=1000, help="liblinear / sgd iterations")
    parser.add_argument("--n-train", type=int, default=None,
                        help="train on N random training rows only (liblinear takes many minutes per C on "
                             "45,000 x 6,400); validation keeps every row")
    args = parser.parse_args()

    for config_path in args.config:
        X, y, Xv, yv, name = load_features(config_path, args.data.resolve(), args.bovw_words)
        if args.n_train is not None:
            # a random subset: the split's rows are grouped by class
            pick = np.sort(np.random.default_rng(0).permutation(len(y))[: args.n_train])
            X, y = X[pick], y[pick]
            print(f"  training on {len(y)} random training rows (seed 0)", flush=True)
        rows = []
        for C in args.C:
            for solver in args.solvers:
                model = make(solver, C, len(y), args.max_iter)
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model.fit(X, y)
                seconds = time.perf_counter() - start
                rows.append({"C": C, "solver": solver, "seconds": seconds, "objective": objective(model, C, X, y),
                             "val": float(np.mean(model.predict(Xv) == yv)),
                             "note": "not converged" if any("converge" in str(w.message) for w in caught)
                             or getattr(model, "converged_", True) is False else ""})
                r = rows[-1]
                print(f"  C={C:<8g} {solver:<17} {r['seconds']:8.1f} s  objective {r['objective']:.6g}  "
                      f"val {r['val']:.2%} {r['note']}", flush=True)
        print(f"\n{name}: ratios against newton at the same C (time: peer / newton; objective: peer / newton - 1)")
        for C in args.C:
            ours = next(r for r in rows if r["C"] == C and r["solver"] == "newton") if "newton" in args.solvers else None
            for r in rows:
                if r["C"] != C or ours is None or r is ours:
                    continue
                print(f"  C={C:<8g} {r['solver']:<17} time x{r['seconds'] / ours['seconds']:6.1f}  objective "
                      f"{r['objective'] / ours['objective'] - 1:+.2e}  val {100 * (r['val'] - ours['val']):+.2f} points")
        path = sorted(args.path_C if args.path_C else args.C)
        start = time.perf_counter()
        previous = None
        print(f"\n{name}: featpipe's warm-started C path (one Gram matrix for every C, as featpipe's C search)")
        gram = None
        if LinearSVM().uses_gram(X):
            gram = LinearSVM().gram(X)
            print(f"  Gram matrix {gram.shape}: {time.perf_counter() - start:.1f} s", flush=True)
        for C in path:
            model = LinearSVM(C=C)
            t = time.perf_counter()
            if previous is None:
                model.fit(X, y, gram=gram)
            else:
                model.fit(X, y, coef_init=previous.coef_, intercept_init=previous.intercept_, gram=gram)
            print(f"  C={C:<8g} {time.perf_counter() - t:8.1f} s  {model.n_iter_:3d} Newton steps  objective "
                  f"{model.objective_:.6g}  val {model.score(Xv, yv):.2%}", flush=True)
            previous = model
        print(f"  path total {time.perf_counter() - start:.1f} s\n", flush=True)


if __name__ == "__main__":
    main()
