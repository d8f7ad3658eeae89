"""The numeric core of a fully connected network: parameters, forward and backward passes.

`Network` holds the weight matrices and bias vectors and computes the loss and all gradients
for a batch, CS231n style (``loss(X, y) -> (loss, grads)``). Its training path
(`Network.forward_backward`) chains the layer functions of `featpipe.nn.layers` (the ones the
gradient checks test) and keeps it fast by handing them buffers: activations and gradients go
into arrays allocated once and reused every step, ReLU and dropout work in place, and the
gradient with respect to the network's input is never computed (nothing needs it).
`forward_scores` is the allocation-light inference pass used by ``predict``.

Layer ``l`` computes ``h_{l+1} = act(norm(h_l @ W_l + b_l))`` for hidden layers and plain
``h_L @ W_L + b_L`` (the class scores) for the last one: the normalization (`featpipe.nn.norm`,
optional) sits between every hidden layer's affine map and its activation, as in Ioffe &
Szegedy (2015), and dropout, if any, follows the activation (one rate per hidden layer).

A network's state is a dict of named arrays (`Network.arrays`: ``W{i}``, ``b{i}`` and the
normalization's ``gamma{i}``, ``beta{i}``, ``running_mean{i}``, ``running_var{i}``), the one
naming the checkpoint, the weight average (`featpipe.nn.ema`) and the best epoch's copy share.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..standardize import apply_standardization
from .layers import (
    ACTIVATIONS, IN_PLACE_ACTIVATIONS, affine_backward, affine_forward, dropout_backward, dropout_forward,
)
from .losses import softmax_cross_entropy
from .norm import NormLayers

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
    *,
    norm: NormLayers | None = None,
    n_threads: int = 1,
) -> np.ndarray:
    """Class scores for ``X`` (inference: no dropout), computed ``batch_rows`` rows at a time.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    weights, biases : per-layer parameters as in `init_weights`
    norm : the hidden layers' normalization (batch norm uses its running statistics), optional
    n_threads : threads sharing each product (`featpipe.nn.parallel.matmul`)

    Returns
    -------
    ndarray, shape (N, K), dtype of the weights
    """
    forward = ACTIVATIONS[activation][0]
    out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=weights[-1].dtype)
    for start in range(0, X.shape[0], batch_rows):
        h = X[start : start + batch_rows]
        for i, (w, b) in enumerate(zip(weights, biases)):
            a = affine_forward(h, w, b, n_threads=n_threads)[0]
            if i == len(weights) - 1:
                h = a
                break
            if norm is not None:
                a = norm.forward(i, a, train=False, out=a, normalized=a)[0]
            h = forward(a)[0]
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
    *,
    norm: NormLayers | None = None,
    n_threads: int = 1,
) -> np.ndarray:
    """Class scores of ``(X - mean) / std`` (inference), standardized a block of rows at a time
    so that no standardized copy of all of ``X`` is made."""
    out = np.empty((X.shape[0], weights[-1].shape[1]), dtype=np.float32)
    for start in range(0, X.shape[0], batch_rows):
        block = apply_standardization(X[start : start + batch_rows], mean, std)
        out[start : start + batch_rows] = forward_scores(block, weights, biases, activation, norm=norm,
                                                           n_threads=n_threads)
    return out


class Network:
    """Weights, biases, normalization layers and gradient buffers of a fully connected network.

    Parameters
    ----------
    weights : list of ndarray, shapes (d_i, d_{i+1})
    biases : list of ndarray, shapes (d_{i+1},)
        Updated in place by an optimizer through `params`.
    activation : str
        A key of `featpipe.nn.layers.ACTIVATIONS`, used after every hidden layer.
    dropout : float in [0, 1), or a sequence of them, one per hidden layer
        Inverted-dropout probability after each hidden activation (training only).
    norm : `featpipe.nn.norm.NormLayers`, optional
        Normalization of every hidden layer, between its affine map and its activation.

    Attributes
    ----------
    ema : `featpipe.nn.ema.Ema` or None
        A moving average of `arrays`; when set, `update_average` advances it after each step and
        evaluation (`evaluation_arrays`, `evaluation_scores`) uses it instead of the live arrays.
    n_threads : int
        Threads sharing every large matrix product (`featpipe.nn.parallel`); 1 leaves them to
        the BLAS. The results do not depend on it beyond float rounding of the products.
    """

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        norm: NormLayers | None = None,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {', '.join(ACTIVATIONS)}")
        n_hidden = len(weights) - 1
        dropouts = [float(dropout)] * n_hidden if np.ndim(dropout) == 0 else [float(p) for p in dropout]
        if len(dropouts) != n_hidden:
            raise ValueError(f"dropout={dropout!r} has {len(dropouts)} rates for {n_hidden} hidden layers")
        if norm is not None and len(norm.gammas) != n_hidden:
            raise ValueError(f"{len(norm.gammas)} normalization layers for {n_hidden} hidden layers")
        self.weights = weights
        self.biases = biases
        self.activation = activation
        self.dropouts = dropouts
        self.norm = norm
        self.ema = None
        self.n_threads = 1
        self.dtype = weights[0].dtype
        self.grad_weights = [np.empty_like(w) for w in weights]
        self.grad_biases = [np.empty_like(b) for b in biases]
        self.grad_gammas = [np.empty_like(g) for g in norm.gammas] if norm else []
        self.grad_betas = [np.empty_like(g) for g in norm.betas] if norm else []
        self._capacity = 0
        self._pre: list[np.ndarray] = []
        self._normed: list[np.ndarray] = []
        self._dh: list[np.ndarray] = []
        self._input = np.empty((0, weights[0].shape[0]), dtype=self.dtype)

    @property
    def params(self) -> list[np.ndarray]:
        """All learned arrays, ``[W0, b0, W1, b1, ..., gamma0, beta0, ...]`` (the arrays themselves)."""
        layers = [a for pair in zip(self.weights, self.biases) for a in pair]
        if self.norm is not None:
            layers += [a for pair in zip(self.norm.gammas, self.norm.betas) for a in pair]
        return layers

    @property
    def grads(self) -> list[np.ndarray]:
        """Gradient buffers matching `params`, filled by `forward_backward`."""
        layers = [a for pair in zip(self.grad_weights, self.grad_biases) for a in pair]
        return layers + [a for pair in zip(self.grad_gammas, self.grad_betas) for a in pair]

    def arrays(self) -> dict[str, np.ndarray]:
        """The network's state by name: ``W{i}``, ``b{i}`` and the normalization's arrays."""
        named = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            named[f"W{i}"], named[f"b{i}"] = w, b
        if self.norm is not None:
            named.update(self.norm.arrays())
        return named

    def load_arrays(self, named: dict[str, np.ndarray]) -> None:
        """Copy the arrays `arrays` names from ``named`` into this network, in place."""
        for name, a in self.arrays().items():
            a[...] = named[name]

    def evaluation_arrays(self, copy: bool = False) -> dict[str, np.ndarray]:
        """The arrays evaluation uses: the moving average's if there is one, else the live ones."""
        named = self.ema.shadow if self.ema is not None else self.arrays()
        return {k: a.copy() for k, a in named.items()} if copy else dict(named)

    def unpack(self, named: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray], NormLayers | None]:
        """``(weights, biases, norm)`` made of the arrays in ``named`` (as `arrays` names them)."""
        n = len(self.weights)
        norm = None
        if self.norm is not None:
            norm = NormLayers.from_arrays(self.norm.kind, named, n - 1, self.norm.momentum)
        return [named[f"W{i}"] for i in range(n)], [named[f"b{i}"] for i in range(n)], norm

    def evaluation_scores(self, X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Class scores of raw rows ``X`` standardized by (mean, std), with `evaluation_arrays`."""
        weights, biases, norm = self.unpack(self.evaluation_arrays())
        return standardized_scores(X, weights, biases, self.activation, mean, std, norm=norm,
                                   n_threads=self.n_threads)

    def update_average(self) -> None:
        """Advance the moving average of the arrays by one step (after an optimizer step); a
        no-op without one."""
        if self.ema is not None:
            self.ema.update(self.arrays())

    def rows_per_epoch(self, n: int, batch_size: int) -> int:
        """Rows an epoch trains on: all ``n``, except that batch normalization cannot learn from
        a last batch of one row (its batch variance is 0), so such a row is left out (a new
        shuffle every epoch leaves out a different one)."""
        min_batch = self.norm.min_batch if self.norm is not None else 1
        return n - 1 if min_batch > 1 and n % batch_size == 1 else n

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
        self._normed = [np.empty((n, m), dtype=self.dtype) for m in widths[:-1]] if self.norm else []
        self._capacity = n

    def forward_backward(
        self,
        X: np.ndarray,
        y: np.ndarray,
        loss_fn: LossFn = softmax_cross_entropy,
        rng: np.random.Generator | None = None,
        *,
        train: bool = True,
    ) -> tuple[float, np.ndarray]:
        """Data loss of one batch; fills the gradient buffers (`grads`) with its gradients.

        No weight-decay term here: the training loop lets the optimizer add it (see
        `featpipe.nn.optim`); `loss` adds it explicitly.

        Parameters
        ----------
        X : ndarray, shape (N, D), the network's dtype
        y : ndarray, shape (N,), int class indices
        loss_fn : ``(scores, y) -> (loss, dscores)``
        rng : numpy.random.Generator, required when a dropout rate is > 0 (in training)
        train : bool
            True (the training step): batch statistics, which also update batch norm's running
            statistics, and dropout. False: the inference function (running statistics, no
            dropout), whose gradients the gradient checks compare too.

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
        dropouts = self.dropouts if train else [0.0] * last
        if any(dropouts) and rng is None:
            raise ValueError("dropout needs a random generator (rng)")

        affine_caches, hidden_caches = [], []  # hidden: (norm cache, activation cache, dropout mask)
        h = X
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h, cache = affine_forward(h, w, b, out=self._pre[i][:n], n_threads=self.n_threads)
            affine_caches.append(cache)
            if i == last:
                break
            norm_cache = None
            if self.norm is not None:  # normalizes over the affine output (no longer needed)
                h, norm_cache = self.norm.forward(i, h, train=train, out=self._normed[i][:n], normalized=h)
            h, act_cache = forward(h, out=h) if in_place else forward(h)
            mask = None
            if dropouts[i]:  # in place only where that leaves the activation's cache intact
                h, mask = dropout_forward(h, dropouts[i], rng, out=h if in_place else None)
            hidden_caches.append((norm_cache, act_cache, mask))

        loss, g = loss_fn(h, y)

        for i in range(last, -1, -1):
            dx_buffer = self._dh[i - 1][:n] if i > 0 else None
            dh, _, _ = affine_backward(
                g, affine_caches[i], input_grad=i > 0, out=(dx_buffer, self.grad_weights[i], self.grad_biases[i]),
                n_threads=self.n_threads,
            )
            if i == 0:
                break
            norm_cache, act_cache, mask = hidden_caches[i - 1]
            if mask is not None:
                dh = dropout_backward(dh, mask, out=dh)
            g = backward(dh, act_cache, out=dh) if in_place else backward(dh, act_cache)
            if norm_cache is not None:  # the norm's output buffer is free again: dx goes there
                g, _, _ = self.norm.backward(
                    g, norm_cache, out=(self._normed[i - 1][:n], self.grad_gammas[i - 1], self.grad_betas[i - 1])
                )
        return loss, h

    def loss(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss_fn: LossFn = softmax_cross_entropy,
        weight_decay: float = 0.0,
        rng: np.random.Generator | None = None,
        train: bool = True,
    ) -> tuple[float, list[np.ndarray]]:
        """Total loss (data loss + ``0.5 * weight_decay * sum ||W||**2``) and its gradients.

        Biases and the normalization's gamma and beta are not decayed. Returns copies of the
        gradients, ordered like `params`.
        """
        loss, _ = self.forward_backward(X, y, loss_fn, rng, train=train)
        grads = [g.copy() for g in self.grads]
        if weight_decay:
            for i, w in enumerate(self.weights):
                loss += 0.5 * weight_decay * float(np.vdot(w, w))
                grads[2 * i] += weight_decay * w
        return loss, grads
