"""A tiny ReLU network fitted to a 1-D function by gradient descent on the squared error.

`featpipe.nn`'s MLP is a classifier; fitting ``sin(x)`` needs a regression output. This loop is
the lecture's recipe made explicit with the project's own pieces: forward through
`featpipe.nn.layers`, mean squared error, backward through the same layers, an `Adam` step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featpipe.nn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from featpipe.nn.optim import Adam


@dataclass
class ReLURegressor1D:
    """One hidden ReLU layer mapping a scalar to a scalar: ``f(x) = relu(x w1 + b1) @ w2 + b2``.

    Attributes
    ----------
    w1 : ndarray, shape (1, H)
    b1 : ndarray, shape (H,)
    w2 : ndarray, shape (H, 1)
    b2 : ndarray, shape (1,)
    losses : list of float
        Mean squared error before each step.
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    losses: list[float]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Network output for inputs ``x`` (N,), shape (N,)."""
        return self.unit_outputs(x).sum(axis=1) + self.b2[0]

    def unit_outputs(self, x: np.ndarray) -> np.ndarray:
        """Each hidden unit's contribution ``w2_j * relu(w1_j x + b1_j)``, shape (N, H).

        Their sum plus ``b2`` is the prediction; plotting them shows what the units learned.
        """
        hidden, _ = relu_forward(x[:, None] * self.w1 + self.b1)
        return hidden * self.w2[:, 0]

    def kinks(self) -> np.ndarray:
        """Where each unit's ReLU switches, ``x = -b1_j / w1_j``, shape (H,)."""
        return -self.b1 / self.w1[0]


def mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error ``mean((pred - target)**2)`` and its gradient, both shaped like ``pred``."""
    diff = pred - target
    return float(np.mean(diff * diff)), diff * (2.0 / diff.size)


def fit_relu_regressor(
    x: np.ndarray,
    target: np.ndarray,
    *,
    hidden: int,
    steps: int,
    learning_rate: float,
    rng: np.random.Generator,
) -> ReLURegressor1D:
    """Fit `ReLURegressor1D` with ``hidden`` units to ``(x, target)`` by full-batch Adam.

    Parameters
    ----------
    x, target : ndarray, shape (N,), float64
    hidden : int
        Number of hidden ReLU units.
    steps : int
        Gradient steps over the whole batch.
    learning_rate : float
        Adam's step size.
    rng : numpy.random.Generator
        Draws the He-initialized first layer and the small second layer.
    """
    x = np.asarray(x, dtype=np.float64)[:, None]
    target = np.asarray(target, dtype=np.float64)[:, None]
    w1 = rng.standard_normal((1, hidden)) * np.sqrt(2.0)
    # Biases spread over the data so the kinks start inside it, not all at x = 0.
    b1 = -w1[0] * rng.uniform(x.min(), x.max(), hidden)
    w2 = rng.standard_normal((hidden, 1)) * np.sqrt(1.0 / hidden)
    b2 = np.zeros(1)
    params = [w1, b1, w2, b2]
    optimizer = Adam(learning_rate=learning_rate)
    losses = []
    for _ in range(steps):
        a, cache1 = affine_forward(x, w1, b1)
        h, relu_cache = relu_forward(a)
        pred, cache2 = affine_forward(h, w2, b2)
        loss, dpred = mse_loss(pred, target)
        losses.append(loss)
        dh, dw2, db2 = affine_backward(dpred, cache2)
        _, dw1, db1 = affine_backward(relu_backward(dh, relu_cache), cache1)
        optimizer.step(params, [dw1, db1, dw2, db2])
    return ReLURegressor1D(w1, b1, w2, b2, losses)
