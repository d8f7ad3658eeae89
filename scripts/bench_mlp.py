"""Training throughput of featpipe's NumPy MLP against PyTorch on the CPU, side by side.

For each architecture (3072-100-10, 3072-512-10, 3072-1024-1024-10 by default) and each thread
count (1 and 2), train both on the same synthetic CIFAR-shaped data (float32, N x 3072, 10
classes) with batch 256 and SGD + momentum 0.9 + weight decay 5e-4 (on weights only, in both),
and report seconds per epoch, images/s, GFLOP/s and the ratio featpipe time / PyTorch time.
With ``--norm batch`` (one of the default rows) every hidden layer is batch-normalized before
its ReLU in both: featpipe's ``norm="batch"`` against ``torch.nn.BatchNorm1d``.

What is timed: for featpipe, `MLPClassifier.fit`'s per-epoch training time
(``history_["epoch_time"]``: shuffle, batch gathering, forward, loss, backward, optimizer
step, training-accuracy bookkeeping; the input normalization is done once before the first
epoch and is not in it); for PyTorch, the same loop written plainly (randperm,
index_select, forward, cross-entropy, backward, ``optimizer.step``). The first epoch of each is
a warm-up and is not counted; the figure is the median of the remaining epochs. The two
alternate epoch by epoch (featpipe's ``on_epoch_end`` runs a PyTorch epoch), so both see the
same background load on a shared machine.

FLOP count: ``6 * n_params * batch`` per step, the usual estimate for forward + backward of
affine layers (2 for the forward product, 4 for the two backward products). Both frameworks
skip the gradient with respect to the input data, so they actually do fewer FLOPs than this
count (for 3072-1024-1024-10, about 25% fewer); the GFLOP/s figures are "counted", not measured
hardware FLOP/s.

Threads: featpipe follows the BLAS limit set through threadpoolctl (with 2 it shares each large
product between two threads of its own over a one-thread BLAS, see `featpipe.nn.parallel`),
PyTorch follows ``torch.set_num_threads``. On a machine shared with other work, run it a few
times and compare the medians, with the load averages it prints.
Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they make OpenBLAS pick slower kernels
where set); the script prints the BLAS libraries and kernels in use:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_mlp.py   # the Python featpipe is installed in

PyTorch is an optional benchmark dependency (``pip install torch``); featpipe never imports it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from featpipe.nn import MLPClassifier

ARCHITECTURES = {"3072-100-10": (100,), "3072-512-10": (512,), "3072-1024-1024-10": (1024, 1024)}
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4


def n_params(hidden: tuple[int, ...], d: int = 3072, k: int = 10) -> int:
    sizes = (d, *hidden, k)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def make_torch_epoch(torch, X, y, hidden, batch, norm="none"):
    """Build the PyTorch twin of the featpipe run; return a function that trains one epoch."""
    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    sizes = (X.shape[1], *hidden, 10)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            if norm == "batch":
                layers.append(torch.nn.BatchNorm1d(b))
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    weights = [p for p in model.parameters() if p.ndim >= 2]
    biases = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.SGD(
        [{"params": weights, "weight_decay": WEIGHT_DECAY}, {"params": biases, "weight_decay": 0.0}],
        lr=LR, momentum=MOMENTUM,
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    n = X.shape[0]

    def epoch() -> float:
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            xb, yb = Xt.index_select(0, idx), yt.index_select(0, idx)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        elapsed = time.perf_counter() - start
        if not torch.isfinite(loss):
            raise RuntimeError("PyTorch run diverged")
        return elapsed

    return epoch


def bench_pair(torch, X, y, hidden, batch, epochs, norm="none") -> tuple[list[float], list[float]]:
    """Alternate featpipe and PyTorch epochs (one each, in turn), so both see the same load.

    Returns the per-epoch training times of each.
    """
    torch_epoch = make_torch_epoch(torch, X, y, hidden, batch, norm)
    torch_times: list[float] = []
    mlp = MLPClassifier(
        hidden_sizes=hidden, optimizer="momentum", learning_rate=LR, momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY, batch_size=batch, epochs=epochs, early_stopping=False,
        random_state=0, norm=norm,
    )
    mlp.fit(X, y, on_epoch_end=lambda e, history: torch_times.append(torch_epoch()))
    return mlp.history_["epoch_time"], torch_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10240, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (the first is warm-up)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--arch", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    parser.add_argument("--norm", nargs="+", default=["none", "batch"], choices=["none", "batch"],
                        help="hidden-layer normalization of the rows (batch: BatchNorm1d in PyTorch)")
    args = parser.parse_args()

    import torch

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"WARNING: {var}={os.environ[var]} is set; OpenBLAS may use a slower kernel")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"cpu: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}")
    for info in threadpool_info():
        print(f"  {info['user_api']}: {info['internal_api']} {info.get('version')} "
              f"kernel={info.get('architecture')} threads={info['num_threads']} ({os.path.basename(info['filepath'])})")
    print(f"  torch: {torch.__config__.parallel_info().splitlines()[0]}; "
          f"blas={'MKL' if torch.backends.mkl.is_available() else 'other'}, mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"load average before: {os.getloadavg()}")
    print(f"data: {args.samples} x 3072 float32 synthetic, 10 classes, batch {args.batch}, "
          f"{args.epochs} epochs per run (first = warm-up), SGD momentum {MOMENTUM}, wd {WEIGHT_DECAY}")

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, 3072), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    steps = -(-args.samples // args.batch)

    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            for name, norm in [(a, m) for m in args.norm for a in args.arch]:
                hidden = ARCHITECTURES[name]
                fp_times, pt_times = bench_pair(torch, X, y, hidden, args.batch, args.epochs, norm)
                t_fp, t_pt = statistics.median(fp_times[1:]), statistics.median(pt_times[1:])
                gflop = 6 * n_params(hidden) * args.batch * steps / 1e9
                name = name if norm == "none" else f"{name} bn"
                rows.append((threads, name, t_fp, t_pt, gflop, min(fp_times[1:]) / min(pt_times[1:])))
                print(f"  threads={threads} {name:21s} featpipe {t_fp:7.3f} s/epoch  torch {t_pt:7.3f} s/epoch  "
                      f"ratio {t_fp / t_pt:.3f}   (epochs: featpipe {_fmt(fp_times)}, torch {_fmt(pt_times)})",
                      flush=True)

    print(f"load average after: {os.getloadavg()}")
    print()
    header = (f"{'threads':>7} {'architecture':21} {'featpipe s/ep':>13} {'torch s/ep':>10} {'fp img/s':>9} "
              f"{'pt img/s':>9} {'fp GFLOP/s':>10} {'pt GFLOP/s':>10} {'fp GF/s/core':>12} {'ratio fp/pt':>11} "
              f"{'best/best':>9}")
    print(header)
    for threads, name, t_fp, t_pt, gflop, best_ratio in rows:
        print(f"{threads:>7} {name:21} {t_fp:13.3f} {t_pt:10.3f} {args.samples / t_fp:9.0f} {args.samples / t_pt:9.0f} "
              f"{gflop / t_fp:10.1f} {gflop / t_pt:10.1f} {gflop / t_fp / threads:12.1f} {t_fp / t_pt:11.3f} "
              f"{best_ratio:9.3f}")
    print("(times: median over the epochs after the first; GFLOP/s counted as 6 * params * batch per step;\n"
          " ratio < 1 means featpipe is faster; best/best = fastest featpipe epoch / fastest PyTorch epoch;\n"
          " 'bn': batch normalization before every hidden ReLU, BatchNorm1d in PyTorch)")


def _fmt(times: list[float]) -> str:
    return "[" + " ".join(f"{t:.3f}" for t in times) + "]"


if __name__ == "__main__":
    main()
