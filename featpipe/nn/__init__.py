"""The learned side of featpipe: a fully connected network in NumPy with its own backward pass.

Modules: `layers` (forward/backward pairs), `losses`, `optim` (optimizers and schedules),
`augment` (batch augmentation), `gradcheck` (numerical gradients), `network` (the passes of a
whole network), `checkpoint`, `mlp` (the scikit-learn estimator) and `templates`.
"""

from .mlp import MLPClassifier

__all__ = ["MLPClassifier"]
