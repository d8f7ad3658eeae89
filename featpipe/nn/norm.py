"""Normalization layers of hidden units: batch normalization and layer normalization.

Forward/backward pairs in the style of `featpipe.nn.layers`: ``*_forward`` returns
``(out, cache)``, ``*_backward`` takes the upstream gradient and that cache and returns
``(dx, dgamma, dbeta)``. Both normalize every unit to zero mean and unit variance and then
apply a learned per-unit scale ``gamma`` and shift ``beta``; they differ in what the mean and
variance are taken over:

- batch normalization (Ioffe & Szegedy, 2015): over the rows of the batch, per unit, while
  training; at inference over the training data, estimated by running averages of the batch
  statistics (updated in place during training, PyTorch's convention: ``momentum`` is the
  weight of the new batch, the running variance is the unbiased batch variance);
- layer normalization (Ba, Kiros & Hinton, 2016): over the units of each row, so training and
  inference compute the same thing and a batch of one row is fine.

Everything keeps the input's dtype. The network's training path hands the functions buffers:
``normalized`` receives the normalized input (it may be ``x`` itself: ``x`` is not needed
afterwards) and ``out`` the result; the gradient checks call them without and get the same
numbers.

`NormLayers` holds the per-layer arrays of one network and dispatches to the pair of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "EPS",
    "NORMS",
    "NormLayers",
    "batchnorm_backward",
    "batchnorm_forward",
    "layernorm_backward",
    "layernorm_forward",
]

#: The ``norm`` setting's choices: where a network's hidden layers are normalized, and how.
NORMS = ("none", "batch", "layer")

#: Offset of the variance under the square root (PyTorch's default for both layers).
EPS = 1e-5


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    *,
    train: bool,
    momentum: float = 0.1,
    eps: float = EPS,
    out: np.ndarray | None = None,
    normalized: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple]:
    """Batch normalization ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Parameters
    ----------
    x : ndarray, shape (N, M)
    gamma, beta : ndarray, shape (M,)
    running_mean, running_var : ndarray, shape (M,)
        Inference statistics. With ``train`` they are updated in place,
        ``r = (1 - momentum) * r + momentum * batch_statistic``.
    train : bool
        True: normalize by this batch's mean and (biased) variance (needs N >= 2); False: by the
        running statistics.
    momentum : float in (0, 1]
    out, normalized : ndarray, shape (N, M), optional
        Buffers for the result and for the normalized input (``normalized`` may be ``x``).

    Returns
    -------
    out : ndarray, shape (N, M), dtype of ``x``
    cache : tuple ``(x_hat, gamma, inv_std, train)``
    """
    n = x.shape[0]
    if train:
        if n < 2:
            raise ValueError("batch normalization needs batches of at least 2 rows in training, got 1")
        mean = x.mean(axis=0)
        x_hat = np.subtract(x, mean, out=normalized)
        var = np.einsum("ij,ij->j", x_hat, x_hat)
        var *= 1.0 / n
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
        running_var *= 1.0 - momentum
        running_var += (momentum * n / (n - 1)) * var
    else:
        x_hat = np.subtract(x, running_mean, out=normalized)
        var = running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return _scale_shift(x_hat, gamma, beta, out), (x_hat, gamma, inv_std, train)


def batchnorm_backward(
    dout: np.ndarray,
    cache: tuple,
    *,
    out: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None] = (None, None, None),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of `batchnorm_forward`.

    In training the batch statistics depend on every row, which gives (with ``N`` rows)
    ``dx = gamma * inv_std * (dout - sum(dout) / N - x_hat * dgamma / N)``; at inference the
    statistics are constants and ``dx = gamma * inv_std * dout``.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : from `batchnorm_forward`
    out : (dx, dgamma, dbeta) buffers, each optional; ``dx`` must not be ``dout``

    Returns
    -------
    dx : ndarray, shape (N, M)
    dgamma, dbeta : ndarray, shape (M,)
    """
    x_hat, gamma, inv_std, train = cache
    dx_out, dgamma_out, dbeta_out = out
    dbeta = np.sum(dout, axis=0, out=dbeta_out)
    dgamma = np.einsum("ij,ij->j", dout, x_hat, out=dgamma_out)
    scale = gamma * inv_std
    if not train:
        return np.multiply(dout, scale, out=dx_out), dgamma, dbeta
    n = dout.shape[0]
    dx = np.multiply(x_hat, dgamma * (-1.0 / n), out=dx_out)
    dx += dout
    dx -= dbeta * (1.0 / n)
    dx *= scale
    return dx, dgamma, dbeta


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    eps: float = EPS,
    out: np.ndarray | None = None,
    normalized: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple]:
    """Layer normalization: each row standardized over its M units, then ``gamma * . + beta``.

    Parameters
    ----------
    x : ndarray, shape (N, M)
    gamma, beta : ndarray, shape (M,)
    out, normalized : ndarray, shape (N, M), optional (as in `batchnorm_forward`)

    Returns
    -------
    out : ndarray, shape (N, M), dtype of ``x``
    cache : tuple ``(x_hat, gamma, inv_std)``, ``inv_std`` of shape (N, 1)
    """
    m = x.shape[1]
    mean = x.mean(axis=1, keepdims=True)
    x_hat = np.subtract(x, mean, out=normalized)
    var = np.einsum("ij,ij->i", x_hat, x_hat)[:, None]
    var *= 1.0 / m
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return _scale_shift(x_hat, gamma, beta, out), (x_hat, gamma, inv_std)


def layernorm_backward(
    dout: np.ndarray,
    cache: tuple,
    *,
    out: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None] = (None, None, None),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of `layernorm_forward`.

    With ``g = gamma * dout`` and means over a row's M units:
    ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))``.

    Returns
    -------
    dx : ndarray, shape (N, M)
    dgamma, dbeta : ndarray, shape (M,)
    """
    x_hat, gamma, inv_std = cache
    dx_out, dgamma_out, dbeta_out = out
    m = dout.shape[1]
    dbeta = np.sum(dout, axis=0, out=dbeta_out)
    dgamma = np.einsum("ij,ij->j", dout, x_hat, out=dgamma_out)
    g = np.multiply(dout, gamma, out=dx_out)
    row_mean = g.mean(axis=1, keepdims=True)
    row_proj = np.einsum("ij,ij->i", g, x_hat)[:, None]
    row_proj *= 1.0 / m
    g -= row_mean
    g -= x_hat * row_proj
    g *= inv_std
    return g, dgamma, dbeta


def _scale_shift(x_hat: np.ndarray, gamma: np.ndarray, beta: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    out = np.multiply(x_hat, gamma, out=out)
    out += beta
    return out


@dataclass
class NormLayers:
    """The normalization of every hidden layer of one network: its kind and per-layer arrays.

    ``gammas`` / ``betas`` are learned (the optimizer updates them in place; they are vectors,
    so no weight decay applies, see `featpipe.nn.optim.base`); ``running_means`` /
    ``running_vars`` exist for batch normalization only and are updated by training forward
    passes.
    """

    kind: str
    gammas: list[np.ndarray]
    betas: list[np.ndarray]
    running_means: list[np.ndarray] = field(default_factory=list)
    running_vars: list[np.ndarray] = field(default_factory=list)
    momentum: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in NORMS[1:]:
            raise ValueError(f"norm kind {self.kind!r} is not one of {', '.join(NORMS[1:])}")

    @classmethod
    def create(cls, kind: str, widths, dtype=np.float32, momentum: float = 0.1) -> "NormLayers | None":
        """Fresh layers (gamma 1, beta 0, running mean 0, running variance 1) for hidden layers of
        the given widths, or None for ``kind="none"``."""
        if kind == "none":
            return None
        running = kind == "batch"
        return cls(
            kind,
            gammas=[np.ones(m, dtype) for m in widths],
            betas=[np.zeros(m, dtype) for m in widths],
            running_means=[np.zeros(m, dtype) for m in widths] if running else [],
            running_vars=[np.ones(m, dtype) for m in widths] if running else [],
            momentum=momentum,
        )

    @property
    def min_batch(self) -> int:
        """Fewest rows a training batch may have (batch statistics need two)."""
        return 2 if self.kind == "batch" else 1

    def forward(self, i: int, x: np.ndarray, *, train: bool, out=None, normalized=None) -> tuple[np.ndarray, tuple]:
        """Normalize hidden layer ``i``'s pre-activations ``x`` (see the pair of this kind)."""
        if self.kind == "batch":
            return batchnorm_forward(x, self.gammas[i], self.betas[i], self.running_means[i], self.running_vars[i],
                                     train=train, momentum=self.momentum, out=out, normalized=normalized)
        return layernorm_forward(x, self.gammas[i], self.betas[i], out=out, normalized=normalized)

    def backward(self, dout: np.ndarray, cache: tuple, *, out=(None, None, None)):
        """``(dx, dgamma, dbeta)`` of a `forward` call, from its cache."""
        backward = batchnorm_backward if self.kind == "batch" else layernorm_backward
        return backward(dout, cache, out=out)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name (``gamma{i}``, ``beta{i}``, ``running_mean{i}``, ``running_var{i}``)."""
        named = {}
        for key, values in (("gamma", self.gammas), ("beta", self.betas),
                            ("running_mean", self.running_means), ("running_var", self.running_vars)):
            named.update({f"{key}{i}": a for i, a in enumerate(values)})
        return named

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict[str, np.ndarray], n_hidden: int, momentum: float = 0.1):
        """The layers whose arrays `arrays` names (as `arrays` does), or None for ``kind="none"``."""
        if kind == "none":
            return None
        keys = ("gamma", "beta") + (("running_mean", "running_var") if kind == "batch" else ())
        lists = {key: [arrays[f"{key}{i}"] for i in range(n_hidden)] for key in keys}
        return cls(kind, lists["gamma"], lists["beta"], lists.get("running_mean", []),
                   lists.get("running_var", []), momentum)
