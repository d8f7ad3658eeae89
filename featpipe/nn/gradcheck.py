"""Numerical gradients by centred differences, to test hand-written backward passes.

Run them in float64: with ``h = 1e-5`` the centred difference has error O(h**2) from the
Taylor series plus about ``eps_machine / h`` from rounding, which is ~1e-11 in float64 but
would swamp the comparison in float32.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_array", "relative_error"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar ``f()`` with respect to the array ``x``, which ``f`` reads.

    Each entry of ``x`` is nudged in place by ``+h`` and ``-h`` (then restored), and
    ``(f(x + h) - f(x - h)) / (2h)`` is taken.

    Parameters
    ----------
    f : callable with no arguments returning a float
    x : ndarray, float64, any shape (modified during the call, restored on return)
    h : float

    Returns
    -------
    ndarray, shape and dtype of ``x``
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2.0 * h)
    return grad


def numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``, for an array-valued ``f``.

    This is what a layer's backward pass returns for upstream gradient ``dout``.

    Parameters
    ----------
    f : callable mapping ``x`` to an array shaped like ``dout``
    x : ndarray, float64 (modified during the call, restored on return)
    dout : ndarray, float64

    Returns
    -------
    ndarray, shape and dtype of ``x``
    """
    return numerical_gradient(lambda: float(np.sum(f(x) * dout)), x, h)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise ``|a - b| / max(|a| + |b|, 1e-8)``: ~1e-7 or less means agreement."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))
