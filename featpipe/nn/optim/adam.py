"""Adam with L2 weight decay coupled to the gradient."""

from __future__ import annotations

import math

import numpy as np

from .base import Optimizer

__all__ = ["Adam"]

class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction, L2 weight decay coupled to the gradient.

    ``m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g**2;
    w -= lr / (1-b1**t) * m / (sqrt(v) / sqrt(1-b2**t) + eps)``
    (the placement of ``eps`` matches ``torch.optim.Adam``).
    """

    slots = ("exp_avg", "exp_avg_sq")
    hyperparameters = {"beta1": "beta1", "beta2": "beta2", "eps": "eps"}

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(learning_rate, weight_decay)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def _update(self, w, g, m, v, s, t, decay):
        if self.decoupled:
            if decay:
                w *= 1.0 - self.learning_rate * decay
        else:
            g = self._l2_grad(w, g, s, decay)
        step = self.step_count
        m *= self.beta1
        np.multiply(g, 1.0 - self.beta1, out=t)
        m += t
        v *= self.beta2
        np.multiply(g, g, out=t)
        t *= 1.0 - self.beta2
        v += t
        np.sqrt(v, out=t)
        t *= 1.0 / math.sqrt(1.0 - self.beta2**step)
        t += self.eps
        np.divide(m, t, out=t)
        t *= -self.learning_rate / (1.0 - self.beta1**step)
        w += t
