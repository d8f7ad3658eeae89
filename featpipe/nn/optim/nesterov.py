"""Nesterov accelerated gradient."""

from __future__ import annotations

import numpy as np

from .momentum import Momentum

__all__ = ["Nesterov"]

class Nesterov(Momentum):
    """Nesterov accelerated gradient (Sutskever et al., 2013) in the "look-ahead free" form.

    ``v = mu*v - lr*g; w += mu*v - lr*g`` (equal to CS231n's ``w += -mu*v_prev + (1+mu)*v``
    and, for a constant learning rate, to ``torch.optim.SGD(momentum=mu, nesterov=True)``).
    """

    def _update(self, w, g, v, s, t, decay):
        step = self._scaled_grad(w, g, s, decay, -self.learning_rate)
        v *= self.momentum
        v += step
        w += step
        np.multiply(v, self.momentum, out=t)
        w += t
