"""Per-stage seconds of the Coates et al. bag-of-visual-words pipeline, and the encoding against the GEMM ceiling.

On real CIFAR-10 images (the archive named by --data, decoded through featpipe's cache), with a
config's `features.bovw` settings (default configs/cifar10/bovw_coates_svm.yaml):

* seconds of each stage: patch sampling, normalization + whitening, k-means (with its dead-word
  count), encoding of --n-encode images, and the config's SVM on the encoded --n-train images
  (one C, the config's first; --skip-svm leaves it out);
* the encoding's achieved GFLOP/s (counting the distance product, 2 * patches * dims * words,
  the only term that grows with K) at 1 and 2 worker threads, next to single-core sgemm rates
  measured in the same run: a 2048^3 product (the machine's GEMM rate) and the encoding's own
  product shape (blocks of patches x (dims + 2) against (dims + 2) x K) without anything fused.

The machine is shared: every rate is the best of --rounds, and the load average is printed. Run
with OpenBLAS' environment overrides unset, so its fast kernel runs (the kernel is printed):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE FEATPIPE_CACHE=... \\
        python scripts/bench_bovw.py [--config ...] [--n-train 10000] [--n-encode 2000] [--set KEY=VALUE]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from featpipe import pipeline
from featpipe.config import load_config
from featpipe.features import BagOfVisualWords
from featpipe.features.bovw import _random_patches, _whiten, _zca
from featpipe.features.bovw_encode import BLOCK_ROWS, encode_images, normalize_patches
from featpipe.runner import load_splits

ROOT = Path(__file__).resolve().parents[1]


def best_seconds(func, rounds: int) -> tuple[float, float]:
    """Best wall seconds and best CPU seconds (all threads of this process) of `func` over `rounds` calls.

    On a shared machine the CPU seconds are the steadier figure: time spent waiting for a core
    counts in the wall clock only.
    """
    wall, cpu = np.inf, np.inf
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def gemm_rate(m: int, k: int, n: int, rounds: int) -> tuple[float, float]:
    """Best GFLOP/s of float32 (m, k) @ (k, n) products, by wall and by CPU time."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    repeats = max(1, int(4e9 / (2 * m * k * n)))

    def products() -> None:
        for _ in range(repeats):
            np.matmul(a, b, out=out)

    wall, cpu = best_seconds(products, rounds)
    flop = 2.0 * m * k * n * repeats
    return flop / wall / 1e9, flop / cpu / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/cifar10/bovw_coates_svm.yaml"))
    parser.add_argument("--data", default=str(ROOT / "../shared/data/cifar10-train-jpeg.tar.gz"),
                        help="the CIFAR-10 archive (default: ../shared/data/... relative to the repository root)")
    parser.add_argument("--n-train", type=int, default=10_000, help="training images (k-means patches, SVM)")
    parser.add_argument("--n-encode", type=int, default=2_000, help="images encoded for the GFLOP/s figures")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-svm", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, as featpipe run --set (e.g. features.bovw.n_patches=50000)")
    args = parser.parse_args()

    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    print(f"BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; load average {os.getloadavg()[0]:.1f}")
    config = load_config(args.config, [f"data.root={Path(args.data).resolve()}", "data.source=folder", *args.set])
    settings = dict(config.features.bovw)
    splits = load_splits(config, progress=False)
    # a random subset: the split's images are grouped by class
    pick = np.sort(np.random.default_rng(config.seed).permutation(len(splits.train.labels))[: args.n_train])
    train, labels = splits.train.images[pick], splits.train.labels[pick]
    encode = train[: args.n_encode]
    size = settings["patch_size"] if isinstance(settings["patch_size"], int) else settings["patch_size"][0]
    print(f"{config.name}: {settings}\n{len(train)} training images, {len(encode)} encoded for the rates")

    # ---- stages (both cores for BLAS; the k-means and the encoding use every core their own way)
    rng = np.random.default_rng(config.seed)
    stage = {}
    start = time.perf_counter()
    patches = _random_patches(train, size, settings["n_patches"], rng)
    stage["patch sampling"] = time.perf_counter() - start
    start = time.perf_counter()
    normalize_patches(patches, settings["normalize_eps"])
    mean, zca = _zca(patches, settings["whiten_eps"])
    _whiten(patches, mean, zca)
    stage["normalize + whiten"] = time.perf_counter() - start
    bovw = BagOfVisualWords(**settings, random_state=config.seed)
    start = time.perf_counter()
    bovw.fit(train)
    stage["k-means (whole fit)"] = time.perf_counter() - start - stage["patch sampling"] - stage["normalize + whiten"]
    start = time.perf_counter()
    features = bovw.transform(train)
    stage[f"encoding {len(train)} images"] = time.perf_counter() - start
    if not args.skip_svm:
        svm = pipeline.build_svm(config.svm, config.svm.c_values()[0], len(train), features.shape[1], config.seed)
        scaled = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-6)
        start = time.perf_counter()
        svm.fit(scaled, labels)
        stage[f"SVM ({pipeline.svm_solver(config.svm, features.shape[1])}, C={config.svm.c_values()[0]})"] = (
            time.perf_counter() - start)
    print(f"\nStages (dead words: {bovw.dead_words_} of {bovw.n_words}):")
    for name, seconds in stage.items():
        print(f"  {name:<32s} {seconds:8.2f} s")

    # ---- the encoding against the GEMM ceiling
    dims = bovw.codebook_[0].shape[1]
    positions = ((train.shape[1] - size) // bovw.stride + 1) * ((train.shape[2] - size) // bovw.stride + 1)
    flop = 2.0 * len(encode) * positions * dims * bovw.n_words  # the first patch size's encoder
    with threadpool_limits(limits=1, user_api="blas"):
        square = gemm_rate(2048, 2048, 2048, args.rounds)
        shaped = gemm_rate(BLOCK_ROWS, dims + 2, bovw.n_words, args.rounds)
    print(f"\nSingle-core sgemm GFLOP/s (wall / per CPU second): 2048^3 {square[0]:.1f} / {square[1]:.1f}; "
          f"the encoding's shape ({BLOCK_ROWS} x {dims + 2} @ {dims + 2} x {bovw.n_words}) "
          f"{shaped[0]:.1f} / {shaped[1]:.1f}")
    encoder = bovw._encoder(0)
    print(f"Encoding {len(encode)} images ({positions} patches each, {flop / 1e9:.0f} GFLOP), best of {args.rounds}:")
    for jobs in (1, 2):
        wall, cpu = best_seconds(lambda: encode_images(encoder, encode, bovw.chunk_size, jobs, "bench"), args.rounds)
        per_core, per_cpu = flop / wall / 1e9 / jobs, flop / cpu / 1e9
        print(f"  {jobs} thread(s): {wall:7.2f} s wall, {flop / wall / 1e9:6.1f} GFLOP/s = {per_core:6.1f} per core "
              f"({per_core / square[0]:.0%} of 2048^3, {per_core / shaped[0]:.0%} of the shaped product); "
              f"per CPU second {per_cpu:6.1f} ({per_cpu / square[1]:.0%} / {per_cpu / shaped[1]:.0%})")
    print(f"Load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
