"""Fisher-vector encoding speed against skimage, throughput against BoVW, and the cost of PQ compression.

1. Encoding alone, on the same descriptors and the same fitted GaussianMixture: featpipe's batched
   `fisher_vector` (a chunk of images per call) against `skimage.feature.fisher_vector` called
   image by image; checks that they agree, prints per-image times, the ratio, featpipe's
   GFLOP/s against a 2048^3 single-thread SGEMM measured in the same run, the floor no encoder of
   these statistics can beat on this core (both products at that SGEMM rate plus one np.exp per
   descriptor and component, measured now) and the time of each of featpipe's steps.
2. With `--data`: the FisherVectors extractor on real images (descriptors + PCA + encoding per
   image, after fit) next to the BoVW extractor's encoding, both per image.
3. With `--data --pq`: accuracy of a LinearSVC on uncompressed Fisher vectors and on their
   product-quantized reconstructions, against bytes per image (a stratified CIFAR-10 subset:
   `--per-class` training and 50 validation images per class). scripts/bench_fisher_pq.py does
   this on the cached Fisher vectors of the full fisher_svm split.
4. With `--data --stages`: the feature stages of configs/cifar10/fisher_svm.yaml on its real
   45,000-image training split: the fit (descriptor sample, PCA, GMM) in full, and the transform
   (descriptors, PCA projection + posteriors + moments, normalization) on `--stage-images`
   images, scaled to the 50,000 images a run transforms (the transform's cost is linear in the
   images). The load average is printed with it.

Everything runs with one BLAS thread (threadpoolctl), so the figures are single-core; on a shared
machine they are upper bounds on the time. Run it with the OpenBLAS tuning variables unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_fisher.py \
        [--data /path/to/cifar10-train-jpeg.tar.gz] [--pq] [--stages]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import numpy as np
from skimage.feature import fisher_vector as skimage_fisher_vector
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from featpipe.features import BagOfVisualWords, FisherVectors
from featpipe.features import mixture_stats
from featpipe.features.fisher import CHUNK_IMAGES, fisher_coefficients, fisher_from_moments, fisher_vector, power_l2


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
clock = CLOCKS["wall"]


def best_of(fn, repeats: int) -> float:
    """Smallest time of `repeats` calls (the least disturbed by other processes), on `clock`."""
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


SGEMM_SIZE = 2048


def sgemm_rate(size: int = SGEMM_SIZE) -> float:
    """GFLOP/s of a large square float32 product (size^3): the ceiling of any BLAS-bound code on this core."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    seconds = best_of(lambda: a @ a, 3)
    return 2 * size ** 3 / seconds / 1e9


def exp_rate(n_values: int) -> float:
    """Seconds per value of float32 np.exp (in place, on values in [-30, 0] like max-shifted log-likelihoods)."""
    values = np.random.default_rng(0).uniform(-30.0, 0.0, n_values).astype(np.float32)
    out = np.empty_like(values)
    return best_of(lambda: np.exp(values, out=out), 20) / n_values


def encoding_flops(n_descriptors: int, n_components: int, dims: int) -> float:
    """Multiply-adds x 2 of one image's two products: W (K x 2D+1) @ Y and Y_i @ g_i^T (2D+1 x K)."""
    return 2 * (2 * n_descriptors * (2 * dims + 1) * n_components)


def encoding_steps(sets: np.ndarray, arrays: tuple, chunk: int, repeats: int = 5) -> dict[str, float]:
    """Seconds per image of each step of featpipe's `fisher_vector`, run chunk by chunk as it does (best of `repeats`)."""
    weights, means, variances = arrays
    centre = mixture_stats.mixture_centre(weights, means)
    shifted = means - centre
    dims = means.shape[1]
    pyramid = mixture_stats.whole_image(sets.shape[1])
    matrix = mixture_stats.log_likelihood_matrix(weights, shifted, variances)
    coefficients = fisher_coefficients(pyramid.counts, weights, shifted, variances)
    names = ["[x; x^2; 1] (transpose, squares)", "log-likelihoods W @ Y (GEMM)",
             "softmax (max, clip, exp, sum, scale)", "moments Y_i @ g_i^T (batched GEMM)",
             "Fisher arithmetic", "power + L2"]
    best = None
    for _ in range(repeats):
        spent = np.zeros(len(names))
        for start in range(0, len(sets), chunk):
            part = sets[start:start + chunk]
            marks = [clock()]
            stacked = mixture_stats.stack_powers(part.reshape(-1, dims), centre=centre)
            marks.append(clock())
            scores = matrix @ stacked
            marks.append(clock())
            scores -= scores.max(axis=0)  # the rest of mixture_stats._soft_assign, step by step
            np.maximum(scores, mixture_stats._LOG_TINY, out=scores)
            np.exp(scores, out=scores)
            total = scores.sum(axis=0)
            scores *= np.reciprocal(total, out=total)
            marks.append(clock())
            sums = mixture_stats.region_moments(scores, stacked, len(part), pyramid)
            marks.append(clock())
            fv = fisher_from_moments(sums[..., -1, :], sums[..., :dims, :], sums[..., dims:2 * dims, :],
                                     pyramid.counts, weights, shifted, variances, True, coefficients)
            marks.append(clock())
            power_l2(fv)
            marks.append(clock())
            spent += np.diff(marks)
        best = spent if best is None else np.minimum(best, spent)
    return {name: seconds / len(sets) for name, seconds in zip(names, best)}


def bench_encoding(n_descriptors: int, dims: int, n_components: int, n_images: int, n_reference: int) -> None:
    rng = np.random.default_rng(0)
    scale, offset = rng.uniform(0.3, 2.0, dims), rng.uniform(-1.0, 1.0, dims)
    train = rng.standard_normal((20_000, dims)) * scale + offset
    gmm = GaussianMixture(n_components, covariance_type="diag", max_iter=30, random_state=0).fit(train)
    sets = (rng.standard_normal((n_images, n_descriptors, dims)) * scale + offset).astype(np.float32)
    sets64 = sets.astype(np.float64)
    arrays = (gmm.weights_, gmm.means_, gmm.covariances_)
    chunk = 64

    def ours():
        for start in range(0, n_images, chunk):
            fisher_vector(sets[start:start + chunk], *arrays, improved=True)

    def theirs():
        for image in range(n_reference):
            skimage_fisher_vector(sets64[image], gmm, improved=True)

    def difference(improved: bool) -> float:
        ours_fv = fisher_vector(sets[:n_reference], *arrays, improved=improved)
        theirs_fv = np.stack([skimage_fisher_vector(sets64[i], gmm, improved=improved) for i in range(n_reference)])
        return float((np.abs(ours_fv - theirs_fv).max(axis=1) / np.abs(theirs_fv).max(axis=1)).max())

    raw_diff, improved_diff = difference(False), difference(True)
    load = os.getloadavg()[0]
    theirs_s = best_of(theirs, 3) / n_reference
    ours_s = best_of(ours, 5) / n_images
    gemm = sgemm_rate()
    exp_s = exp_rate(n_descriptors * n_components * CHUNK_IMAGES)
    flops = encoding_flops(n_descriptors, n_components, dims)
    # what no encoder of these statistics can avoid on this core: both products at the SGEMM
    # ceiling, and one exp per (descriptor, component)
    gemm_floor = flops / (gemm * 1e9)
    exp_floor = n_descriptors * n_components * exp_s
    floor = gemm_floor + exp_floor
    clock_name = "CPU time of this thread" if clock is CLOCKS["cpu"] else "wall time"
    print(f"encoding: T={n_descriptors} descriptors/image, D={dims}, K={n_components}, improved FV "
          f"({2 * n_components * dims + n_components} values); one BLAS thread; best {clock_name}; "
          f"load average {load:.1f}")
    print(f"  max |featpipe - skimage| / max |skimage| per image: raw FV {raw_diff:.1e}, improved FV "
          f"{improved_diff:.1e} (the signed square root turns an error e near zero into sqrt(e))")
    print(f"  skimage.feature.fisher_vector, image by image ({n_reference} images): {theirs_s * 1e6:7.1f} us/image")
    print(f"  featpipe fisher_vector, {chunk} images per call ({n_images} images): {ours_s * 1e6:7.1f} us/image"
          f"  -> {theirs_s / ours_s:5.1f}x faster")
    print(f"  featpipe: {flops / ours_s / 1e9:5.1f} GFLOP/s ({flops / 1e6:.2f} MFLOP/image) against a "
          f"{SGEMM_SIZE}^3 single-thread SGEMM of {gemm:5.1f} GFLOP/s measured now ({flops / ours_s / 1e9 / gemm:.0%})")
    print(f"  floor: GEMMs at that SGEMM rate {gemm_floor * 1e6:5.1f} us + np.exp of T*K={n_descriptors * n_components} "
          f"values at {exp_s * 1e9:.2f} ns each {exp_floor * 1e6:5.1f} us = {floor * 1e6:5.1f} us/image -> at most "
          f"{theirs_s / floor:5.1f}x skimage; featpipe takes {ours_s / floor:.1f}x that floor")
    steps = encoding_steps(sets[:256], arrays, CHUNK_IMAGES)
    print(f"  featpipe's steps ({CHUNK_IMAGES} images per pass), us/image: "
          + ", ".join(f"{name} {seconds * 1e6:.1f}" for name, seconds in steps.items()))


def load_cifar(path: str, per_class: int, seed: int = 0):
    from featpipe.data import load_source
    from featpipe.data.dataset import stratified_split

    (full,) = load_source("folder", root=path, progress=False).values()
    train, val = stratified_split(full, 0.1, seed=seed)
    rng = np.random.default_rng(seed)

    def take(ds, n):
        idx = np.concatenate([rng.permutation(np.flatnonzero(ds.labels == c))[:n] for c in range(10)])
        return ds.images[idx], ds.labels[idx]

    return take(train, per_class), take(val, 50)


def bench_extractors(path: str, n_images: int) -> None:
    (images, _), _ = load_cifar(path, max(n_images // 10, 30))
    images = images[:n_images]
    # small fits: what is timed is transform, whose cost does not depend on the fit sample
    fisher = FisherVectors(n_samples=30_000, random_state=0).fit(images)
    bovw = BagOfVisualWords(n_words=400, patch_size=6, n_patches=30_000, stride=2, random_state=0).fit(images)
    settings = fisher.settings()
    print(f"extractors on {len(images)} CIFAR-10 images (fitted on them first):")
    for name, extractor, note in [
        ("FisherVectors (defaults)", fisher,
         f"SIFT + colour (fisher_svm.yaml settings), cell sizes {settings.cell_size}, stride {settings.stride}, D={settings.pca_dims}, "
         f"K={settings.n_components}, pyramid {settings.pyramid}: {fisher.n_features_out_} values"),
        ("BagOfVisualWords (bovw_fast)", bovw, "400 words, 6x6 patches, stride 2, triangle, quadrants"),
    ]:
        seconds = best_of(lambda: extractor.transform(images), 2) / len(images)
        print(f"  {name:30s} {seconds * 1e3:7.2f} ms/image  ({1 / seconds:6.0f} images/s)  {note}")


def bench_compression(path: str, per_class: int, Cs: list[float]) -> None:
    from sklearn.svm import LinearSVC

    from featpipe.features.pq import ProductQuantizer

    (x_train, y_train), (x_val, y_val) = load_cifar(path, per_class)
    fisher = FisherVectors(n_samples=50_000, random_state=0).fit(x_train)
    f_train, f_val = fisher.transform(x_train), fisher.transform(x_val)
    dims = f_train.shape[1]
    print(f"compression: {len(y_train)} train / {len(y_val)} validation CIFAR-10 images, {dims} Fisher-vector values")

    def accuracy(train, val):
        scores = []
        for C in Cs:
            svm = LinearSVC(C=C, dual=True, max_iter=2000).fit(train * np.sqrt(dims), y_train)
            scores.append(svm.score(val * np.sqrt(dims), y_val))
        return max(scores)

    print(f"  float32, {4 * dims:>7,} bytes/image: val {accuracy(f_train, f_val) * 100:5.1f}%")
    for sub in (8, 16, 32):
        start = time.perf_counter()
        pq = ProductQuantizer(n_subvectors=dims // sub, n_centroids=256, kmeans_iter=10, random_state=0).fit(f_train)
        decoded_train, decoded_val = pq.decode(pq.encode(f_train)), pq.decode(pq.encode(f_val))
        error = float(((decoded_val - f_val) ** 2).sum(axis=1).mean())
        print(f"  PQ {sub:2d} values/byte, {pq.bytes_per_vector:>6,} bytes/image ({4 * sub}x smaller): "
              f"val {accuracy(decoded_train, decoded_val) * 100:5.1f}%, squared error {error:.3f} of a unit norm "
              f"({time.perf_counter() - start:.0f} s to learn and code)")


@contextlib.contextmanager
def timed(module, name: str, totals: dict, key: str):
    """Add the seconds spent in `module.name` while inside the block to `totals[key]`."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.0) + clock() - start

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def bench_stages(path: str, n_images: int) -> None:
    from featpipe import pipeline
    from featpipe.config import load_config
    from featpipe.features import fisher_extractor
    from featpipe.runner import load_splits

    config = load_config(Path(__file__).resolve().parent.parent / "configs/cifar10/fisher_svm.yaml",
                         ["data.source=folder", f"data.root={Path(path).resolve()}"])
    train = load_splits(config, progress=False).train
    (_, fisher), = pipeline.build_features(config.features, config.seed).extractors
    clock_name = "CPU seconds of this thread" if clock is CLOCKS["cpu"] else "wall seconds"
    print(f"\nfisher_svm feature stages, one BLAS thread, {clock_name}; load average at start {os.getloadavg()[0]:.1f}")
    fit: dict[str, float] = {}
    start = clock()
    with timed(fisher_extractor, "_describe", fit, "descriptors"), timed(fisher_extractor, "_pca", fit, "pca"), \
            timed(fisher_extractor, "_fit_gmm", fit, "gmm"):
        fisher.fit(train.images)
    fit_total = clock() - start
    print(f"  fit on {len(train.images):,} training images: {fit_total:6.1f} s = descriptors of the sampled "
          f"images {fit['descriptors']:.1f} s + PCA {fit['pca']:.1f} s + GMM (EM) {fit['gmm']:.1f} s + rest "
          f"{fit_total - sum(fit.values()):.1f} s")
    images = train.images[:n_images]
    stages: dict[str, float] = {}
    start = clock()
    with timed(fisher_extractor, "_describe", stages, "descriptors"), \
            timed(fisher_extractor.FisherVectors, "_encode", stages, "encoding"), \
            timed(fisher_extractor, "power_l2", stages, "normalization"):
        fisher.transform(images)
    total = clock() - start
    scale = 50_000 / len(images)
    print(f"  transform of {len(images):,} images: {total:6.1f} s ({total / len(images) * 1e3:.2f} ms/image); "
          f"for the 50,000 of a run: {total * scale:6.0f} s")
    for key, seconds in [*stages.items(), ("rest (copies, chunking)", total - sum(stages.values()))]:
        print(f"    {key:<24} {seconds * scale:6.0f} s per 50,000 images ({seconds / total:5.1%})")
    print(f"  load average at end {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="*", default=["290,64,32", "290,32,32", "100,32,16"],
                        help="T,D,K encoding sizes: descriptors per image, PCA dims, GMM components (290 "
                             "descriptors: cell sizes 2 and 3 at stride 2 on 32x32 images)")
    parser.add_argument("--images", type=int, default=2000, help="images encoded by featpipe")
    parser.add_argument("--reference-images", type=int, default=200, help="images encoded by skimage")
    parser.add_argument("--data", help="CIFAR-10 training archive or folder: also time the extractors")
    parser.add_argument("--extractor-images", type=int, default=500, help="--data: images the extractors encode")
    parser.add_argument("--pq", action="store_true", help="with --data: the compression experiment")
    parser.add_argument("--per-class", type=int, default=200, help="--pq: training images per class")
    parser.add_argument("--C", type=float, nargs="+", default=[0.1, 1.0], help="--pq: LinearSVC C values (best kept)")
    parser.add_argument("--stages", action="store_true", help="with --data: fisher_svm's feature stages")
    parser.add_argument("--stage-images", type=int, default=5000, help="--stages: images transformed")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="encoding and --stages timings in wall seconds, or in CPU seconds of this thread (time.thread_time: "
                             "what a loaded machine's time-sharing does not add, cache contention still does)")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    with threadpool_limits(1):
        for size in args.sizes:
            n_descriptors, dims, n_components = (int(v) for v in size.split(","))
            bench_encoding(n_descriptors, dims, n_components, args.images, args.reference_images)
        if args.data and args.stages:
            bench_stages(args.data, args.stage_images)
        elif args.data:
            bench_extractors(args.data, args.extractor_images)
            if args.pq:
                bench_compression(args.data, args.per_class, args.C)


if __name__ == "__main__":
    main()
