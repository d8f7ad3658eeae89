"""The numeric core of a fully connected network: parameters, forward and backward passes.

`Network` holds the weight matrices and bias vectors and computes the loss and all gradients
for a batch, CS231n style (``loss(X, y) -> (loss, grads)``). Its training path
(`Network.forward_backward`) chains the layer functions of `featpipe.nn.layers` (the ones the
gradient checks test) and keeps it fast by handing them buffers: activations and gradients go
into arrays allocated once and reused every step, ReLU and dropout work in place, and the
gradient with respect to the network's input is never computed (nothing needs it).
`forward_scores` is the allocation-light inference pass used by ``predict``.

Layer ``l`` computes ``h_{l+1} = act(h_l @ W_l + b_l)`` for hidden layers and plain
``h_L @ W_L + b_L`` (the class scores) for the last one; dropout, if any, follows each hidden
activation.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..standardize import apply_standardization
from .layers import (
    ACTIVATIONS, IN_PLACE_ACTIVATIONS, affine_backward, affine_forward, dropout_backward, dropout_forward,
)
from .losses import softmax_cross_entropy

__all__ = ["INITS", "Network", "forward_scores", "init_weights", "standardized_scores"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]

_RELU_LIKE = ("relu", "leaky_relu", "gelu")

#: Weight initializations `init_weights` knows (the MLP's ``init`` setting).
INITS = ("auto", "he", "xavier")


def init_weights(
    sizes: Sequence[int], init: str, activation: str, rng: np.random.Generator, dtype=np.float32
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random weight matrices and zero biases for layer widths ``sizes = (D, h1, ..., K)``.

    ``he`` draws ``N(0, 2 / fan_in)`` (He et al., 2015), suited to ReLU-like units;
    ``xavier`` draws ``N(0, 2 / (fan_in + fan_out))`` (Glorot & Bengio, 2010), suited to
    tanh/sigmoid/identity; ``auto`` picks He for relu, leaky_relu and gelu, else Xavier.

    Returns
    -------
    weights : list of ndarray, shapes (sizes[i], sizes[i+1]), ``dtype``
    biases : list of ndarray, shapes (sizes[i+1],), ``dtype``
    """
    if init == "auto":
        init = "he" if activation in _RELU_LIKE else "xavier"
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        var = 2.0 / fan_in if init == "he" else 2.0 / (fan_in + fan_out)
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32).astype(dtype, copy=False)
        w *= float(np.sqrt(var))
        weights.append(w)
        biases.append(np.zeros(fan_out, dtype=dtype))
    return weights, biases


def forward_scores(
    X: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: str,
    batch_rows: int = 2048,
) -> np.ndarray:
    """Class scores for ``X`` (inference: no dropout), computed ``batch_rows`` rows at a time.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    weights, biases : per-layer parameters as in `init_weights`

    Returns
    -------
    ndarray, shape (N, K), dtype of the weights
    """
    forward = ACTIVATIONS[activation][0]
    out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=weights[-1].dtype)
    for start in range(0, X.shape[0], batch_rows):
        h = X[start : start + batch_rows]
        for i, (w, b) in enumerate(zip(weights, biases)):
            a = affine_forward(h, w, b)[0]
            h = a if i == len(weights) - 1 else forward(a)[0]
        out[start : start + batch_rows] = h
    return out


def standardized_scores(
    X: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: str,
    mean: np.ndarray,
    std: np.ndarray,
    batch_rows: int = 2048,
) -> np.ndarray:
    """Class scores of ``(X - mean) / std`` (inference), standardized a block of rows at a time
    so that no standardized copy of all of ``X`` is made."""
    out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=np.float32)
    for start in range(0, X.shape[0], batch_rows):
        block = apply_standardization(X[start : start + batch_rows], mean, std)
        out[start : start + batch_rows] = forward_scores(block, weights, biases, activation)
    return out


class Network:
    """Weights, biases and gradient buffers of a fully connected network.

    Parameters
    ----------
    weights : list of ndarray, shapes (d_i, d_{i+1})
    biases : list of ndarray, shapes (d_{i+1},)
        Updated in place by an optimizer through `params`.
    activation : str
        A key of `featpipe.nn.layers.ACTIVATIONS`, used after every hidden layer.
    dropout : float in [0, 1)
        Inverted-dropout probability after every hidden activation (training only).
    """

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {', '.join(ACTIVATIONS)}")
        self.weights = weights
        self.biases = biases
        self.activation = activation
        self.dropout = dropout
        self.dtype = weights[0].dtype
        self.grad_weights = [np.empty_like(w) for w in weights]
        self.grad_biases = [np.empty_like(b) for b in biases]
        self._capacity = 0
        self._pre: list[np.ndarray] = []
        self._dh: list[np.ndarray] = []
        self._input = np.empty((0, weights[0].shape[0]), dtype=self.dtype)

    @property
    def params(self) -> list[np.ndarray]:
        """All parameter arrays, ``[W0, b0, W1, b1, ...]`` (the arrays themselves, not copies)."""
        return [a for pair in zip(self.weights, self.biases) for a in pair]

    @property
    def grads(self) -> list[np.ndarray]:
        """Gradient buffers matching `params`, filled by `forward_backward`."""
        return [a for pair in zip(self.grad_weights, self.grad_biases) for a in pair]

    def input_buffer(self, n: int) -> np.ndarray:
        """A reusable array of at least ``n`` rows of inputs, to assemble batches in."""
        if self._input.shape[0] < n:
            self._input = np.empty((n, self._input.shape[1]), dtype=self.dtype)
        return self._input

    def _ensure_buffers(self, n: int) -> None:
        """(Re)allocate per-layer activation and gradient buffers for batches of ``n`` rows."""
        if n <= self._capacity:
            return
        widths = [w.shape[1] for w in self.weights]
        self._pre = [np.empty((n, m), dtype=self.dtype) for m in widths]
        self._dh = [np.empty((n, m), dtype=self.dtype) for m in widths[:-1]]
        self._capacity = n

    def forward_backward(
        self,
        X: np.ndarray,
        y: np.ndarray,
        loss_fn: LossFn = softmax_cross_entropy,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, np.ndarray]:
        """Data loss of one batch; fills `grad_weights` / `grad_biases` with its gradients.

        No weight-decay term here: the training loop lets the optimizer add it (see
        `featpipe.nn.optim`); `loss` adds it explicitly.

        Parameters
        ----------
        X : ndarray, shape (N, D), the network's dtype
        y : ndarray, shape (N,), int class indices
        loss_fn : ``(scores, y) -> (loss, dscores)``
        rng : numpy.random.Generator, required when ``dropout > 0``

        Returns
        -------
        loss : float
        scores : ndarray, shape (N, K)
            A view of an internal buffer, valid until the next call.
        """
        n = X.shape[0]
        self._ensure_buffers(n)
        last = len(self.weights) - 1
        forward, backward = ACTIVATIONS[self.activation]
        in_place = self.activation in IN_PLACE_ACTIVATIONS
        if self.dropout and rng is None:
            raise ValueError("dropout needs a random generator (rng)")

        affine_caches, hidden_caches = [], []  # hidden: (activation cache, dropout mask)
        h = X
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h, cache = affine_forward(h, w, b, out=self._pre[i][:n])
            affine_caches.append(cache)
            if i == last:
                break
            h, act_cache = forward(h, out=h) if in_place else forward(h)
            mask = None
            if self.dropout:  # in place only where that leaves the activation's cache intact
                h, mask = dropout_forward(h, self.dropout, rng, out=h if in_place else None)
            hidden_caches.append((act_cache, mask))

        loss, g = loss_fn(h, y)

        for i in range(last, -1, -1):
            dx_buffer = self._dh[i - 1][:n] if i > 0 else None
            dh, _, _ = affine_backward(
                g, affine_caches[i], input_grad=i > 0, out=(dx_buffer, self.grad_weights[i], self.grad_biases[i])
            )
            if i == 0:
                break
            act_cache, mask = hidden_caches[i - 1]
            if mask is not None:
                dh = dropout_backward(dh, mask, out=dh)
            g = backward(dh, act_cache, out=dh) if in_place else backward(dh, act_cache)
        return loss, h

    def loss(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss_fn: LossFn = softmax_cross_entropy,
        weight_decay: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, list[np.ndarray]]:
        """Total loss (data loss + ``0.5 * weight_decay * sum ||W||**2``) and its gradients.

        Biases are not decayed. Returns copies of the gradients, ordered like `params`.
        """
        loss, _ = self.forward_backward(X, y, loss_fn, rng)
        grads = [g.copy() for g in self.grads]
        if weight_decay:
            for i, w in enumerate(self.weights):
                loss += 0.5 * weight_decay * float(np.vdot(w, w))
                grads[2 * i] += weight_decay * w
        return loss, grads
