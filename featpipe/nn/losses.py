"""Classification losses on raw class scores, each returning ``(loss, dscores)``.

Losses are averaged over the batch, so ``dscores`` already carries the ``1 / N`` factor.
``dscores`` has the dtype of ``scores``; the loss is returned as a Python float.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["LOSSES", "hinge_loss", "softmax_cross_entropy"]


def softmax_cross_entropy(
    scores: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy between ``softmax(scores)`` and the (optionally smoothed) labels.

    With label smoothing ``eps`` the target distribution is ``(1 - eps) * onehot(y) + eps / K``
    (Szegedy et al., 2016, "Rethinking the Inception architecture", sec. 7). The row maximum is
    subtracted before exponentiating, so large scores cannot overflow.

    Parameters
    ----------
    scores : ndarray, shape (N, K), float
        Class scores (logits).
    y : ndarray, shape (N,), int
        Class indices in ``0 .. K-1``.
    label_smoothing : float in [0, 1)

    Returns
    -------
    loss : float
    dscores : ndarray, shape (N, K), dtype of ``scores``
        Gradient of the mean loss, ``(softmax(scores) - target) / N``.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing={label_smoothing!r} must be in [0, 1)")
    n, k = scores.shape
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sum_exp)
    nll = -log_probs[rows, y]
    if label_smoothing:
        smooth = -log_probs.mean(axis=1)
        per_sample = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    else:
        per_sample = nll
    loss = float(per_sample.mean(dtype=np.float64))

    dscores = exp
    dscores /= sum_exp
    if label_smoothing:
        dscores -= label_smoothing / k
        dscores[rows, y] -= 1.0 - label_smoothing
    else:
        dscores[rows, y] -= 1.0
    dscores *= 1.0 / n
    return loss, dscores


def hinge_loss(scores: np.ndarray, y: np.ndarray, margin: float = 1.0) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge (SVM) loss, ``sum_{j != y} max(0, s_j - s_y + margin)``.

    This is the Weston-Watkins multiclass SVM loss as taught in CS231n. Its subgradient at a
    kink (margin exactly zero) is taken as 0.

    Parameters
    ----------
    scores : ndarray, shape (N, K), float
    y : ndarray, shape (N,), int
        Class indices in ``0 .. K-1``.
    margin : float
        Required gap between the correct class's score and every other score.

    Returns
    -------
    loss : float
    dscores : ndarray, shape (N, K), dtype of ``scores``
    """
    n = scores.shape[0]
    rows = np.arange(n)
    correct = scores[rows, y][:, None]
    margins = scores - correct
    margins += margin
    margins[rows, y] = 0.0
    np.maximum(margins, 0.0, out=margins)
    loss = float(margins.sum(dtype=np.float64) / n)

    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores *= 1.0 / n
    return loss, dscores


#: Loss name (the MLP's ``loss`` setting) -> function ``(scores, y, **options) -> (loss, dscores)``.
LOSSES: dict[str, Callable[..., tuple[float, np.ndarray]]] = {
    "softmax": softmax_cross_entropy,
    "hinge": hinge_loss,
}
