"""Forward/backward pairs for the layers of a fully connected network (CS231n style).

Each ``*_forward`` returns ``(out, cache)`` and the matching ``*_backward`` takes the upstream
gradient and that cache. Everything keeps the input's floating dtype: float32 in, float32 out
(constants are Python floats, which NumPy does not let upcast an array), so the same code runs
in float32 for training and in float64 for gradient checks.

These functions are the implementation, not a reference copy: `featpipe.nn.network.Network`
chains them for every training step. For that path to reuse memory, the affine pair, ReLU and
dropout take optional ``out`` buffers (which may be their input, to work in place); the
gradient checks call them without, and get the same numbers.

Activations are registered in `ACTIVATIONS` by name, each as a (forward, backward) pair;
`IN_PLACE_ACTIVATIONS` may overwrite their input and let later layers overwrite their output.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .parallel import matmul

__all__ = [
    "ACTIVATIONS",
    "IN_PLACE_ACTIVATIONS",
    "affine_backward",
    "affine_forward",
    "dropout_backward",
    "dropout_forward",
    "gelu_backward",
    "gelu_forward",
    "identity_backward",
    "identity_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "tanh_backward",
    "tanh_forward",
]

#: Slope of leaky ReLU for negative inputs (Maas et al., 2013 use 0.01).
LEAKY_SLOPE = 0.01

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, out: np.ndarray | None = None, n_threads: int = 1
) -> tuple[np.ndarray, tuple]:
    """Fully connected layer ``out = x @ w + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Inputs (a batch of N rows of D features).
    w : ndarray, shape (D, M)
        Weights.
    b : ndarray, shape (M,)
        Biases.
    out : ndarray, shape (N, M), optional
        Buffer for the result (C-contiguous, dtype of ``x``).
    n_threads : int
        Threads sharing the product (`featpipe.nn.parallel.matmul`); the BLAS's own otherwise.

    Returns
    -------
    out : ndarray, shape (N, M), dtype of ``x``
    cache : tuple ``(x, w)``
    """
    out = matmul(x, w, out, n_threads)
    out += b
    return out, (x, w)


def affine_backward(
    dout: np.ndarray,
    cache: tuple,
    *,
    input_grad: bool = True,
    out: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None] = (None, None, None),
    n_threads: int = 1,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of `affine_forward` (``n_threads`` as there).

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Gradient of the loss with respect to ``out``.
    cache : tuple ``(x, w)`` from `affine_forward`.
    input_grad : bool
        False skips ``dx`` (a network's first layer: nothing needs the gradient of the data).
    out : (dx, dw, db) buffers, each optional

    Returns
    -------
    dx : ndarray, shape (N, D), or None without ``input_grad``
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    x, w = cache
    dx_out, dw_out, db_out = out
    dw = matmul(x.T, dout, dw_out, n_threads)
    db = np.sum(dout, axis=0, out=db_out)
    dx = matmul(dout, w.T, dx_out, n_threads) if input_grad else None
    return dx, dw, db


def relu_forward(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``max(x, 0)``; cache is the output (its sign gives the mask).

    ``out=x`` works in place. Later layers may scale or zero the output in place (dropout)
    without spoiling the cache: where they zero it, the gradient is zero anyway.
    """
    out = np.maximum(x, 0, out=out)
    return out, out


def relu_backward(dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of `relu_forward`: passes ``dout`` where the output was positive (``out=dout``
    works in place)."""
    return np.multiply(dout, cache > 0, out=out)


def leaky_relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaky ReLU: ``x`` for ``x > 0``, else ``LEAKY_SLOPE * x``; cache is the input."""
    return np.where(x > 0, x, x * LEAKY_SLOPE), x


def leaky_relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of `leaky_relu_forward`."""
    return np.where(cache > 0, dout, dout * LEAKY_SLOPE)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid ``1 / (1 + exp(-x))``; cache is the output.

    Computed as ``0.5 * (1 + tanh(x / 2))``, which is the same function but never overflows
    for large negative ``x`` (``exp(-x)`` would).
    """
    out = np.tanh(x * 0.5)
    out += 1.0
    out *= 0.5
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of `sigmoid_forward`: ``dout * s * (1 - s)``."""
    s = cache
    return dout * s * (1.0 - s)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent; cache is the output."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of `tanh_forward`: ``dout * (1 - tanh(x)**2)``."""
    t = cache
    return dout * (1.0 - t * t)


def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Gaussian error linear unit, tanh approximation (Hendrycks & Gimpel, 2016, eq. 2).

    ``gelu(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``. The approximation
    differs from the exact ``x * Phi(x)`` by less than 1e-3 everywhere; it is the one BERT/GPT-2
    use and ``torch.nn.GELU(approximate="tanh")`` computes. The backward pass below is the
    exact derivative of this approximation, so gradient checks are exact. Cache is
    ``(x, tanh(...))``.
    """
    t = np.tanh((x + _GELU_A * (x * x * x)) * _GELU_C)
    out = 0.5 * x * (1.0 + t)
    return out, (x, t)


def gelu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of `gelu_forward`.

    d/dx = 0.5 (1 + t) + 0.5 x (1 - t**2) sqrt(2/pi) (1 + 3 * 0.044715 x**2).
    """
    x, t = cache
    inner = (1.0 + (3.0 * _GELU_A) * (x * x)) * _GELU_C
    grad = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner
    return dout * grad


def identity_forward(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    """Identity activation (a stack of affine layers with it is a deep linear network)."""
    if out is not None and out is not x:
        out[...] = x
        return out, None
    return x, None


def identity_backward(dout: np.ndarray, cache: None, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of `identity_forward`: ``dout`` unchanged."""
    if out is not None and out is not dout:
        out[...] = dout
        return out
    return dout


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator, *, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout for training: zero each unit with probability ``p``.

    Kept units are scaled by ``1 / (1 - p)`` so that the expected activation is unchanged and
    nothing needs rescaling at test time (where dropout is simply not applied). A unit is kept
    where a uniform draw (``rng.random`` in the dtype of ``x``) is below ``1 - p``.

    Parameters
    ----------
    x : ndarray, shape (N, M)
    p : float in [0, 1)
        Probability of dropping a unit.
    rng : numpy.random.Generator
        Source of the mask; the caller seeds it, so a run is reproducible.
    out : ndarray, shape (N, M), optional
        Buffer for the result; ``out=x`` works in place.

    Returns
    -------
    out : ndarray, shape (N, M), dtype of ``x``
    cache : ndarray, shape (N, M)
        The mask, already scaled (0 or ``1 / (1 - p)``), dtype of ``x``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p={p!r} must be in [0, 1)")
    keep = 1.0 - p
    mask = (rng.random(x.shape, dtype=x.dtype) < keep).astype(x.dtype)
    mask *= 1.0 / keep
    return np.multiply(x, mask, out=out), mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of `dropout_forward`: the same scaled mask applied to ``dout`` (``out=dout``
    works in place)."""
    return np.multiply(dout, cache, out=out)


ActivationPair = tuple[Callable[[np.ndarray], tuple], Callable[[np.ndarray, object], np.ndarray]]

#: Activation name -> (forward, backward).
ACTIVATIONS: dict[str, ActivationPair] = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "gelu": (gelu_forward, gelu_backward),
    "identity": (identity_forward, identity_backward),
}

#: Activations whose forward may run in place (``out=x``) and whose cache survives later layers
#: scaling or zeroing their output in place; the others allocate their output.
IN_PLACE_ACTIVATIONS = frozenset({"relu", "identity"})
