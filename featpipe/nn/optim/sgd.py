"""Plain stochastic gradient descent."""

from __future__ import annotations

from .base import Optimizer

__all__ = ["SGD"]

class SGD(Optimizer):
    """Plain stochastic gradient descent: ``w -= lr * (g + wd * w)``."""

    def _update(self, w, g, s, t, decay):
        w += self._scaled_grad(w, g, s, decay, -self.learning_rate)
