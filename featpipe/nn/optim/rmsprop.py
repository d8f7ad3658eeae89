"""RMSProp."""

from __future__ import annotations

import numpy as np

from .base import Optimizer

__all__ = ["RMSProp"]

class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton, 2012): ``c = rho*c + (1-rho)*g**2; w -= lr*g/(sqrt(c)+eps)``."""

    slots = ("square_avg",)
    hyperparameters = {"decay": "rmsprop_decay", "eps": "eps"}

    def __init__(
        self, learning_rate: float = 0.01, decay: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
    ):
        super().__init__(learning_rate, weight_decay)
        self.decay = decay
        self.eps = eps

    def _update(self, w, g, c, s, t, decay):
        g = self._l2_grad(w, g, s, decay)
        c *= self.decay
        np.multiply(g, g, out=t)
        t *= 1.0 - self.decay
        c += t
        np.sqrt(c, out=t)
        t += self.eps
        np.divide(g, t, out=t)
        t *= -self.learning_rate
        w += t
