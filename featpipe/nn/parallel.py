"""Matrix products shared out among threads by featpipe itself, each running a one-thread BLAS.

Why not let the BLAS thread them: OpenBLAS (NumPy's BLAS) splits a product such as a batch
``(256, 3072) @ (3072, 1024)`` into pieces whose threads wait for each other several times per
call, and a thread that is descheduled (on a machine shared with other work) stalls its partner
at each wait. On this project's shared 2-core machine (load average ~9) that product took
49-53 ms on one thread, 211-216 ms with OpenBLAS's two, and 52-61 ms as two bands here.
`matmul` hands each thread a contiguous band of the output, computed by an independent
one-thread BLAS call: one hand-off and one join per product.

Which way to cut: each thread's call packs (copies into the kernel's layout) all of the operand
it shares, so a band of rows repacks all of ``b`` (k x n) in every thread and a band of columns
all of ``a`` (m x k). `matmul` cuts the output the way that repacks the smaller one: rows when
``n <= m`` (e.g. the weight gradient ``x.T @ dout``), columns otherwise (a batch times a weight
matrix). On a quiet 2-core Xeon (AVX-512), one training step's products of 3072-1024-1024-10
at batch 256 took 53-56 ms as row bands and 30-32 ms cut this way, as fast as OpenBLAS's own two
threads (30 ms).

The training loop sets the BLAS to one thread while it runs (`single_threaded_blas`) and gives
the network its thread count. The bands depend only on the shapes and the thread count, so a
thread count gives the same numbers every run.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["MIN_SPLIT_MACS", "matmul", "single_threaded_blas", "usable_cores", "worker_pool"]

#: Products with fewer multiply-adds than this run as one call (a hand-off costs ~10-50 us).
MIN_SPLIT_MACS = 1 << 22

#: Bands start at multiples of this many rows or columns (the BLAS kernels work on blocks of them).
_ALIGN = 16

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask where the OS has one, else the CPU count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, n_threads: int = 1) -> np.ndarray:
    """``a @ b`` into ``out`` (C-contiguous, shape (M, N)), shared among ``n_threads`` as bands of
    its rows or of its columns (see the module doc).

    ``a`` may be a transposed view (``x.T``); every band of ``a``, ``b`` and ``out`` stays a
    strided view the BLAS reads and writes in place.
    """
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
    by_rows = n <= m
    length = m if by_rows else n
    n_threads = min(int(n_threads), length // _ALIGN)
    if n_threads <= 1 or m * k * n < MIN_SPLIT_MACS:
        return np.dot(a, b, out=out)
    step = -(-length // (n_threads * _ALIGN)) * _ALIGN
    bands = [(s, min(s + step, length)) for s in range(0, length, step)]
    band = _dot_rows if by_rows else _dot_columns
    pool = worker_pool(len(bands) - 1)
    futures = [pool.submit(band, a, b, out, s, e) for s, e in bands[1:]]
    band(a, b, out, *bands[0])
    for future in futures:
        future.result()
    return out


def single_threaded_blas():
    """A context in which the BLAS runs every call on the calling thread (see the module doc)."""
    return threadpool_limits(limits=1, user_api="blas")


def _dot_rows(a, b, out, start: int, stop: int) -> None:
    np.dot(a[start:stop], b, out=out[start:stop])


def _dot_columns(a, b, out, start: int, stop: int) -> None:
    # np.matmul (unlike np.dot) writes a strided output band in place
    np.matmul(a, b[:, start:stop], out=out[:, start:stop])


def _forget_pools_after_fork() -> None:
    # A forked child inherits the pool objects but not their threads: tasks would never run.
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``workers`` threads (created on first use) that the network's
    products and the optimizers' updates share out their work on."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="featpipe-nn")
        return _POOLS[workers]
