"""First-layer weights of an MLP seen as images ("templates"), as in CS231n's linear classifier
and first-layer visualizations."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["first_layer_templates"]


def first_layer_templates(mlp, input_shape=None) -> np.ndarray:
    """Each first-layer unit's weights as an image, rescaled to 0..1 per image.

    For a linear classifier (``hidden_sizes=()``) these are the class templates; for a deeper
    network, the patterns the first hidden units respond to. Because the network sees
    normalized inputs, a template shows what it weighs in normalized pixel space.

    Parameters
    ----------
    mlp : fitted `featpipe.nn.MLPClassifier` (anything with ``coefs_``)
    input_shape : (H, W, C), optional
        Defaults to ``mlp.input_shape``.

    Returns
    -------
    ndarray, shape (M, H, W, C), float32 in [0, 1]
        One image per unit of the first layer (M = its width). A unit whose weights are all
        equal gives an all-zero image.
    """
    coefs = getattr(mlp, "coefs_", None)
    if not coefs:
        raise InputError("first_layer_templates needs a fitted MLP (it has no coefs_); call fit first")
    shape = tuple(input_shape if input_shape is not None else (getattr(mlp, "input_shape", None) or ()))
    w = np.asarray(coefs[0], dtype=np.float32)
    if len(shape) != 3 or int(np.prod(shape)) != w.shape[0]:
        raise InputError(
            f"input_shape={shape or None} must be (H, W, C) with H*W*C equal to the "
            f"{w.shape[0]} inputs of the first layer"
        )
    images = np.ascontiguousarray(w.T).reshape(w.shape[1], *shape)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    out = images - low
    np.divide(out, span, out=out, where=span > 0)
    out[np.broadcast_to(span == 0, out.shape)] = 0.0
    return out
