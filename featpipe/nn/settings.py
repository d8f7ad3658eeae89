"""The MLP's settings, declared once: the config's ``mlp:`` section and `MLPClassifier`'s arguments.

`MlpSettings` is what a config may set; `MLPClassifierSettings` adds what the runner supplies
(the image shape of the data, the seed, the progress bar). Choice lists come from the registries
of the parts that implement them (activations, losses, optimizers, schedules, initializations),
so registering a new one makes it a valid setting. Rules between settings are validators here,
so they fire when a config is read (also by ``featpipe bench --dry-run``); the rule that spans
the ``features:`` and ``mlp:`` sections (augmentation needs raw pixels) is a validator of
`featpipe.config.Config`.
"""

from __future__ import annotations

import numbers
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, field_validator, model_validator

from ..settings import Float, Int, Section, choice
from .augment import CROP_MODES
from .layers import ACTIVATIONS
from .losses import LOSSES
from .network import INITS
from .norm import NORMS as NORM_LAYERS
from .optim import OPTIMIZERS, SCHEDULES

__all__ = ["AffineSettings", "AugmentSettings", "NORMALIZATIONS", "MLPClassifierSettings", "MlpSettings"]

#: How inputs are standardized (see `featpipe.standardize`); ``auto`` is ``channel`` for images.
NORMALIZATIONS = ("auto", "channel", "feature", "none")

_UNIT = dict(ge=0, lt=1)  # a rate or probability in [0, 1)


def _unit_rates(value: Any) -> Any:
    rates = value if isinstance(value, tuple) else (value,)
    bad = [r for r in rates if not 0.0 <= r < 1.0]
    if bad:
        raise ValueError(f"must be a rate in [0, 1) or a list of them ({bad[0]!r} is not)")
    return value


#: One dropout rate for every hidden layer, or a list of one per hidden layer.
Dropout = Annotated[Float | tuple[Float, ...], AfterValidator(_unit_rates)]


def _plain_bool(value: Any) -> Any:
    return bool(value) if isinstance(value, np.bool_) else value


#: true or false (also numpy's), never 1, 0 or "yes".
Bool = Annotated[StrictBool, BeforeValidator(_plain_bool)]


class AffineSettings(Section):
    """Small random affine deformations of training images (`featpipe.nn.augment.random_affine`)."""

    rotation: Float = Field(0.0, ge=0, le=180, description="largest rotation, degrees either way")
    scale: tuple[Float, Float] = Field((1.0, 1.0), description="[low, high] zoom factors, 0 < low <= high")
    translate: Float = Field(0.0, ge=0, description="largest shift, pixels along each axis")

    @field_validator("scale")
    @classmethod
    def _positive_range(cls, value):
        low, high = value
        if not 0 < low <= high:
            raise ValueError("must be [low, high] zoom factors with 0 < low <= high, e.g. [0.9, 1.1]")
        return value


class AugmentSettings(Section):
    """What is done to each training batch of images (raw pixels only); see `featpipe.nn.augment`."""

    flip: Bool = Field(False, description="mirror images left-right with probability 1/2")
    crop: Int = Field(0, ge=0, description="pad by this many pixels and cut a random window of the image size")
    crop_mode: choice(CROP_MODES) = Field("zero", description="padding: zero (black) pixels, or the image reflected")
    affine: AffineSettings | None = Field(None, description="random rotation / zoom / shift per image")
    cutout: Int = Field(0, ge=0, description="blank one square of this side per image (at most the image side)")
    mixup: Float = Field(0.0, ge=0, description="mixup's Beta(alpha, alpha); 0: off")

    def image_parts(self) -> list[str]:
        """The settings that are on and need the image layout, as ``name=value`` (for messages)."""
        parts = [("flip", self.flip), ("crop", self.crop), ("affine", self.affine), ("cutout", self.cutout)]
        return [f"{name}={_shown(value)}" for name, value in parts if value]

    def any(self) -> bool:
        """Whether any augmentation (mixup included) is on."""
        return bool(self.image_parts() or self.mixup)

    def size_problem(self, height: int, width: int) -> str | None:
        """What does not fit `height` x `width` images (cutout or crop too large), else None."""
        side = min(height, width)
        if self.cutout > side:
            return (f"augment.cutout={self.cutout} is larger than the {height} x {width} images; use at most "
                    f"{side} (about half the side is usual)")
        if self.crop >= side:
            return (f"augment.crop={self.crop} shifts the {height} x {width} images by their side or more, so a "
                    f"window could hold padding alone; use less than {side} (an eighth of the side is usual)")
        return None


def _shown(value: Any) -> str:
    return repr(value.model_dump(mode="json")) if isinstance(value, Section) else repr(value)


#: Old spellings of augmentation settings, read into `MlpSettings.augment`.
_LEGACY_AUGMENT_KEYS = {"augment_flip": "flip", "augment_crop": "crop"}


class MlpSettings(Section):
    """A fully connected network trained end to end (featpipe.nn.MLPClassifier's settings)."""

    hidden_sizes: tuple[Int, ...] = Field((100,), description="width of each hidden layer; [] is a linear classifier")
    activation: choice(ACTIVATIONS) = "relu"
    init: choice(INITS) = Field("auto", description="auto: he for relu-like units, else xavier")
    loss: choice(LOSSES) = "softmax"
    label_smoothing: Float = Field(0.0, **_UNIT, description="softmax loss only")
    weight_decay: Float = Field(5e-4, ge=0, description="L2 on weight matrices (decoupled for adamw)")
    optimizer: choice(OPTIMIZERS) = "sgd"
    learning_rate: Float = Field(0.01, gt=0)
    momentum: Float = Field(0.9, **_UNIT, description="momentum, nesterov")
    rmsprop_decay: Float = Field(0.99, **_UNIT, description="rmsprop: decay of the squared-gradient average")
    beta1: Float = Field(0.9, **_UNIT, description="adam, adamw")
    beta2: Float = Field(0.999, **_UNIT, description="adam, adamw")
    eps: Float = Field(1e-8, gt=0, description="rmsprop, adam, adamw: denominator offset")
    schedule: choice(SCHEDULES) = "constant"
    warmup_epochs: Int = Field(0, ge=0, description="epochs of linear learning-rate warm-up")
    step_epochs: Int = Field(10, ge=1, description="step schedule: epochs between rate cuts")
    step_gamma: Float = Field(0.1, gt=0, le=1, description="step schedule: factor of each cut")
    batch_size: Int = Field(256, ge=1)
    epochs: Int = Field(20, ge=1, description="maximum number of passes over the training data")
    augment: AugmentSettings = Field(None, validate_default=True,
                                     description="augmentation of training images (raw pixels); null: none")
    normalize: choice(NORMALIZATIONS) = Field(
        "auto",
        description="standardize inputs per channel, per feature, or not; auto: channel on raw pixels, else "
        "feature (which undoes features.normalize=block: intended, see featpipe.standardize)",
    )
    early_stopping: Bool = Field(
        True, description="keep the best epoch of the smoothed validation curve; stop after `patience` bad ones")
    patience: Int = Field(10, ge=1)
    min_epochs: Int = Field(0, ge=0, description="early stopping never stops before this many epochs")
    val_smoothing: Float = Field(
        0.0, **_UNIT, description="early stopping watches the validation accuracy smoothed exponentially: "
        "s = val_smoothing * s + (1 - val_smoothing) * accuracy, e.g. 0.5; 0 (default) watches single epochs")

    @field_validator("augment", mode="before")
    @classmethod
    def _none_is_no_augmentation(cls, value):
        return AugmentSettings() if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _legacy_augment_keys(cls, data):
        # `augment_flip: true` / `augment_crop: 2` (before augmentation had its own section) keep working.
        if not isinstance(data, dict) or not any(k in data for k in _LEGACY_AUGMENT_KEYS):
            return data
        data = dict(data)
        augment = data.get("augment", {})
        augment = dict(augment.model_dump() if isinstance(augment, Section) else augment or {})
        for old, new in _LEGACY_AUGMENT_KEYS.items():
            if old in data:
                value = data.pop(old)
                if new in augment and augment[new] != value:
                    raise ValueError(f"{old}={value!r} and augment.{new}={augment[new]!r} disagree; "
                                     f"keep augment.{new} only")
                augment[new] = value
        data["augment"] = augment
        return data
    # -- hidden-layer normalization, dropout per layer, weight averaging (validators below)
    norm: choice(NORM_LAYERS) = Field(
        "none", description="normalize every hidden layer between its affine map and its activation: batch "
        "(batch statistics in training, running averages at inference) or layer (per sample)")
    norm_momentum: Float = Field(0.1, gt=0, le=1, description="batch norm: weight of each batch in the running "
                                 "mean and variance (PyTorch's momentum)")
    dropout: Dropout = Field(0.0, description="inverted dropout after each hidden activation: one rate, or a "
                             "list of one rate per hidden layer")
    ema: Float = Field(0.0, ge=0, lt=1, description="0: off; else the decay (e.g. 0.999) of a moving average "
                       "of the weights that validation and the fitted model use")

    @model_validator(mode="after")
    def _norm_dropout_rules(self):
        n_hidden = len(self.hidden_sizes)
        if self.norm != "none" and not n_hidden:
            raise ValueError(f"norm={self.norm!r} normalizes hidden layers, but hidden_sizes=[] has none; "
                             "use norm='none' or add hidden layers")
        if self.norm == "batch" and self.batch_size < 2:
            raise ValueError(f"norm='batch' needs batch_size >= 2 (batch statistics of one row are "
                             f"meaningless), got batch_size={self.batch_size}; raise it or use norm='layer'")
        if isinstance(self.dropout, tuple) and len(self.dropout) != n_hidden:
            raise ValueError(f"dropout={list(self.dropout)} has {len(self.dropout)} rates but hidden_sizes="
                             f"{list(self.hidden_sizes)} has {n_hidden} hidden layers; give one rate per "
                             "hidden layer, or a single rate for all")
        return self
    # -- end of normalization, dropout and averaging

    @field_validator("hidden_sizes")
    @classmethod
    def _positive_sizes(cls, value):
        if any(size < 1 for size in value):
            raise ValueError("must be positive integers (or [] for a linear model)")
        return value

    @model_validator(mode="after")
    def _smoothing_needs_softmax(self):
        if self.label_smoothing and self.loss != "softmax":
            raise ValueError(
                f"label_smoothing={self.label_smoothing!r} applies only to loss='softmax', not {self.loss!r}"
            )
        return self

    @model_validator(mode="after")
    def _min_epochs_within_epochs(self):
        if self.min_epochs > self.epochs:
            raise ValueError(f"min_epochs={self.min_epochs} is more than epochs={self.epochs}; "
                             f"set min_epochs <= epochs")
        return self

    def augments(self) -> bool:
        """Whether training images are augmented (which needs their image layout)."""
        return bool(self.augment.image_parts())


def _image_shape(value: Any) -> Any:
    ok = value is None or (
        isinstance(value, (tuple, list)) and len(value) == 3
        and all(_is_int(s) and s > 0 for s in value)
    )
    if not ok:
        raise ValueError("must be None or (height, width, channels) of positive integers")
    return None if value is None else tuple(int(s) for s in value)


def _seed(value: Any) -> Any:
    if value is None or isinstance(value, (np.random.Generator, np.random.RandomState)):
        return value
    if not _is_int(value) or value < 0:
        raise ValueError("must be None, an integer >= 0 or a numpy Generator")
    return value


class MLPClassifierSettings(MlpSettings):
    """`MlpSettings` plus what the caller of `MLPClassifier` supplies besides a config."""

    model_config = {"arbitrary_types_allowed": True}

    input_shape: Annotated[Any, BeforeValidator(_image_shape)] = None
    random_state: Annotated[Any, BeforeValidator(_seed)] = None
    progress: Bool = False

    @model_validator(mode="after")
    def _image_rules_need_a_shape(self):
        if self.input_shape is None:
            used = self.augment.image_parts()
            if used:
                raise ValueError(
                    f"augment {', '.join(used)} needs input_shape=(H, W, C) to know the image layout"
                )
            if self.normalize == "channel":
                raise ValueError("normalize='channel' needs input_shape=(H, W, C) to know the channels")
        elif (problem := self.augment.size_problem(*self.input_shape[:2])) is not None:
            raise ValueError(problem)
        return self


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
