"""Matrix products shared out among threads by featpipe itself, each running a one-thread BLAS.

Why not let the BLAS thread them: OpenBLAS (NumPy's BLAS) splits a product such as a batch
``(256, 3072) @ (3072, 1024)`` into pieces whose threads wait for each other several times per
call, and a thread that is descheduled (on a machine shared with other work) stalls its partner
at each wait. On this project's shared 2-core machine (load average ~9) that product took
49-53 ms on one thread, 211-216 ms with OpenBLAS's two, and 52-61 ms as two row bands here;
with 2 threads featpipe's epochs had been up to 1.08x PyTorch's while they were 0.79-0.90x at
one thread (issue 14). `matmul` hands each thread a contiguous band of output rows, computed by
an independent one-thread BLAS call: one hand-off and one join per product.

The training loop sets the BLAS to one thread while it runs (`single_threaded_blas`) and gives
the network its thread count. Each output row is computed by the same kernel in the same order
whatever the band it falls in, so a thread count gives the same numbers every run.
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

#: Bands start at multiples of this many rows (the BLAS kernels work on blocks of rows).
_ROW_ALIGN = 16

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask where the OS has one, else the CPU count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, n_threads: int = 1) -> np.ndarray:
    """``a @ b`` into ``out`` (C-contiguous, shape (M, N)), its rows shared among ``n_threads``.

    ``a`` may be a transposed view (``x.T``); every band ``a[s:e]`` stays a strided view the
    BLAS reads in place.
    """
    m, k = a.shape
    if out is None:
        out = np.empty((m, b.shape[1]), dtype=np.result_type(a, b))
    n_threads = min(int(n_threads), m // _ROW_ALIGN)
    if n_threads <= 1 or m * k * b.shape[1] < MIN_SPLIT_MACS:
        return np.dot(a, b, out=out)
    step = -(-m // (n_threads * _ROW_ALIGN)) * _ROW_ALIGN
    bands = [(s, min(s + step, m)) for s in range(0, m, step)]
    pool = worker_pool(len(bands) - 1)
    futures = [pool.submit(_dot_rows, a, b, out, s, e) for s, e in bands[1:]]
    _dot_rows(a, b, out, *bands[0])
    for future in futures:
        future.result()
    return out


def single_threaded_blas():
    """A context in which the BLAS runs every call on the calling thread (see the module doc)."""
    return threadpool_limits(limits=1, user_api="blas")


def _dot_rows(a, b, out, start: int, stop: int) -> None:
    np.dot(a[start:stop], b, out=out[start:stop])


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
