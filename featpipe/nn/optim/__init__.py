"""First-order optimizers that update parameter arrays in place, and learning-rate schedules.

One module per optimizer (each a subclass of `base.Optimizer`, whose docstring explains the
shared update machinery and weight decay) and `schedules`. `OPTIMIZERS` is the registry the
MLP's ``optimizer`` setting chooses from; adding an optimizer is its module plus one line here.
"""

from __future__ import annotations

from typing import Any

from .adam import Adam
from .adamw import AdamW
from .base import CHUNK, Optimizer
from .momentum import Momentum
from .nesterov import Nesterov
from .rmsprop import RMSProp
from .schedules import SCHEDULES, Schedule
from .sgd import SGD

__all__ = [
    "CHUNK",
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "make_optimizer",
]

#: Optimizer name (the MLP's ``optimizer`` setting) -> class.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
}


def make_optimizer(name: str, settings: Any) -> Optimizer:
    """The optimizer `name`, its hyperparameters read from `settings` (an `MlpSettings`)."""
    cls = OPTIMIZERS[name]
    options = {arg: float(getattr(settings, setting)) for arg, setting in cls.hyperparameters.items()}
    return cls(float(settings.learning_rate), weight_decay=float(settings.weight_decay), **options)
