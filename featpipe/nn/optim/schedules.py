"""Learning-rate schedules: the rate as a pure function of the global step."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SCHEDULES", "Schedule"]

#: Valid names of learning-rate schedules.
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    """Learning rate as a function of the global step (a pure function: nothing to checkpoint
    but the step count).

    ``constant`` keeps ``base_lr``; ``step`` multiplies it by ``step_gamma`` every
    ``step_epochs`` epochs; ``cosine`` anneals it from ``base_lr`` to 0 over the epochs after
    warm-up (Loshchilov & Hutter, 2017, without restarts). During the first ``warmup_epochs``
    the rate ramps up linearly, ``base_lr * (step + 1) / warmup_steps`` (Goyal et al., 2017).
    """

    name: str
    base_lr: float
    total_epochs: int
    steps_per_epoch: int
    warmup_epochs: int = 0
    step_epochs: int = 10
    step_gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"schedule={self.name!r} is not one of {', '.join(SCHEDULES)}")

    def __call__(self, step: int) -> float:
        warmup_steps = self.warmup_epochs * self.steps_per_epoch
        if step < warmup_steps:
            return self.base_lr * (step + 1) / warmup_steps
        if self.name == "constant":
            return self.base_lr
        if self.name == "step":
            epoch = step // self.steps_per_epoch
            return self.base_lr * self.step_gamma ** (epoch // self.step_epochs)
        total = self.total_epochs * self.steps_per_epoch - warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total))
        return 0.5 * self.base_lr * (1.0 + math.cos(math.pi * progress))
