"""An exponential moving average of a network's arrays, used in place of them for evaluation.

Averaging the weights over the last few hundred steps (Polyak & Juditsky, 1992, in its
exponential form) removes much of the noise SGD leaves in the final iterate; validation,
early stopping and the fitted model then use the average. After every optimizer step

    shadow = d * shadow + (1 - d) * array,   d = min(decay, (1 + t) / (10 + t))

where ``t`` counts the updates made before this one. The ramp ``(1 + t) / (10 + t)`` (the
``num_updates`` rule of TensorFlow's ExponentialMovingAverage) lets the average forget the
random initial weights quickly in short runs; from ``t = (10 d - 1) / (1 - d)`` on it is ``d``.

Batch normalization's running mean and variance are averaged the same way. They are the
statistics of the live weights' activations; to first order in the weight changes the
statistics of the averaged weights are the average of those statistics, which is what the
shadow running statistics hold.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Ema"]

#: Elements updated at a time, so the two passes of an update stay in the CPU cache.
_CHUNK = 32768


class Ema:
    """Shadow copies of named arrays, moved towards the arrays by `update`.

    Parameters
    ----------
    decay : float in (0, 1)
        Weight of the old average at each step, e.g. 0.999 (an average over ~1000 steps).
    arrays : dict of str -> ndarray
        The arrays to average (a network's `featpipe.nn.network.Network.arrays`); the shadow
        starts as a copy of them.
    """

    def __init__(self, decay: float, arrays: dict[str, np.ndarray]) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay={decay!r} must be in (0, 1)")
        self.decay = float(decay)
        self.shadow = {name: np.array(a, copy=True) for name, a in arrays.items()}
        self.updates = 0
        self._scratch = np.empty(_CHUNK, dtype=next(iter(self.shadow.values())).dtype) if self.shadow else None

    def rate(self, t: int) -> float:
        """The decay ``d`` of the update made after ``t`` earlier ones."""
        return min(self.decay, (1.0 + t) / (10.0 + t))

    def update(self, arrays: dict[str, np.ndarray]) -> None:
        """``shadow += (1 - d) * (array - shadow)`` for every array (the same as the formula in
        the module docstring, computed in place)."""
        step = 1.0 - self.rate(self.updates)
        for name, shadow in self.shadow.items():
            s, a = shadow.reshape(-1), arrays[name].reshape(-1)
            for start in range(0, s.size, _CHUNK):
                s_chunk, scratch = s[start : start + _CHUNK], self._scratch[: min(_CHUNK, s.size - start)]
                np.subtract(a[start : start + _CHUNK], s_chunk, out=scratch)
                scratch *= step
                s_chunk += scratch
        self.updates += 1
