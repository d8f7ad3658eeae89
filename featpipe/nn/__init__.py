"""The learned side of featpipe: a fully connected network in NumPy with its own backward pass.

Modules, each with one job:

- `mlp`: the scikit-learn estimator (a facade: validates, builds the parts, calls the loop)
- `settings`: its settings, declared once (also the config's ``mlp:`` section)
- `inputs`: checks of the arrays given to it
- `training`: the training loop (schedule, batch, forward, backward, step, log, checkpoint)
- `checkpoint`: the training checkpoint's format
- `network`: the passes of a whole network, chained from `layers` and `norm` (forward/backward
  pairs: affine, activations, dropout; batch and layer normalization)
- `ema`: the moving average of the weights that evaluation uses; `parallel`: matrix products
  shared among threads
- `losses`, `optim` (one module per optimizer, plus schedules), `augment` (batch augmentation)
- `gradcheck` (numerical gradients) and `templates` (first-layer weights as images)

Adding a layer: its forward/backward pair in `layers` plus a gradient check; an augmentation:
one function in `augment`; an optimizer: one module in `optim` plus its registry line.
"""

from .mlp import MLPClassifier

__all__ = ["MLPClassifier"]
