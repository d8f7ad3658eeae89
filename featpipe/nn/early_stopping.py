"""Early stopping on a smoothed validation curve: when an epoch counts as better, when to stop.

Single epochs' validation accuracies are noisy (on 5,000 images one standard error is about
0.7 points at 60%), so a lucky epoch can end training early or be the one kept. The rule here
watches the exponentially smoothed curve ``s_t = a * s_{t-1} + (1 - a) * v_t`` (``s_0 = v_0``,
``a`` = ``val_smoothing``): an epoch is the new best when ``s_t`` beats every earlier ``s``,
training stops after ``patience`` epochs without a new best, and never before ``min_epochs``.
The smoothed value is a function of the validation history alone, which checkpoints keep, so a
resumed run takes the same decisions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["should_stop", "smoothed", "stop_message"]


def smoothed(values: Sequence[float], factor: float) -> np.ndarray:
    """The exponentially smoothed curve of ``values`` (``factor`` 0: the values themselves).

    Parameters
    ----------
    values : sequence of float, one per epoch
    factor : float in [0, 1)
        Weight of the past; ``1 / (1 - factor)`` epochs is the curve's memory.

    Returns
    -------
    ndarray, shape (len(values),), float64
    """
    out = np.asarray(values, dtype=np.float64).copy()
    for t in range(1, out.size):
        out[t] = factor * out[t - 1] + (1.0 - factor) * out[t]
    return out


def should_stop(epochs_done: int, bad_epochs: int, patience: int, min_epochs: int) -> bool:
    """Whether to stop after ``epochs_done`` epochs, ``bad_epochs`` of them since the best."""
    return bad_epochs >= patience and epochs_done >= min_epochs


def stop_message(settings, epochs_done: int, best_epoch: int, best_smoothed: float, best_raw: float) -> str:
    """The line that says when and why early stopping ended training, and how to train longer."""
    smoothing = f" (smoothed with val_smoothing={settings.val_smoothing:g})" if settings.val_smoothing else ""
    return (f"MLP training: early stopping after epoch {epochs_done} of {settings.epochs}: validation accuracy"
            f"{smoothing} has not improved for {settings.patience} epochs (best {best_smoothed:.2%} at epoch "
            f"{best_epoch + 1}, which scored {best_raw:.2%} itself; its weights are kept); raise mlp.patience or "
            "mlp.min_epochs, or set mlp.early_stopping: false, to train longer")
