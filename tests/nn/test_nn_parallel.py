"""Matrix products shared out among threads: the same numbers as one BLAS call."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from featpipe.nn.parallel import matmul, single_threaded_blas


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True], ids=["plain", "transposed-view"])
@pytest.mark.parametrize("n_out", [70, 1500], ids=["row-bands", "column-bands"])  # n <= m: rows, else columns
def test_matmul_equals_one_blas_call(n_threads, transposed, n_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1100), dtype=np.float32)
    a = x.T if transposed else x  # x.T is the dW product's strided view
    b = rng.standard_normal((a.shape[1], n_out), dtype=np.float32)
    with single_threaded_blas():
        expected = np.dot(a, b)
        out = np.full((a.shape[0], b.shape[1]), np.nan, np.float32)
        got = matmul(a, b, out, n_threads)
        again = matmul(a, b, None, n_threads)
    assert got is out and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(got, again)  # a thread count gives the same numbers every time


def test_small_products_and_thin_bands():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((20, 30)), rng.standard_normal((30, 5))
    np.testing.assert_allclose(matmul(a, b, n_threads=4), a @ b, rtol=1e-12)  # one call: too small to share
    with threadpool_limits(1):
        # 8 rows are too few to cut, so the 512 columns are: float64, and a band narrower than the rest
        np.testing.assert_allclose(matmul(np.ones((8, 4096)), np.ones((4096, 512)), n_threads=3), 4096.0)
        x, w = rng.standard_normal((8, 4096)), rng.standard_normal((4096, 500))
        np.testing.assert_allclose(matmul(x, w, n_threads=3), x @ w, rtol=1e-10)
