"""SGD with heavy-ball momentum."""

from __future__ import annotations

from .base import Optimizer

__all__ = ["Momentum"]

class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, CS231n form: ``v = mu*v - lr*g; w += v``.

    For a constant learning rate this is the same trajectory as ``torch.optim.SGD(momentum=mu)``
    (whose buffer is ``-v / lr``).
    """

    slots = ("velocity",)
    hyperparameters = {"momentum": "momentum"}

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(learning_rate, weight_decay)
        self.momentum = momentum

    def _update(self, w, g, v, s, t, decay):
        step = self._scaled_grad(w, g, s, decay, -self.learning_rate)
        v *= self.momentum
        v += step
        w += v
