"""Experiment configs: YAML -> validated, frozen objects; dotted overrides; errors name the key.

One YAML file describes one run. Every section rejects unknown keys (naming the full key path and
the closest valid key) and checks types and ranges, so a typo fails before any work starts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Literal, Sequence, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, StrictBool, ValidationError, create_model, field_validator, model_validator

from . import yaml_safe
from .data.images import MAX_IMAGE_PIXELS, PILLOW_MAX_PIXELS
from .errors import ConfigError
from .features import EXTRACTORS, PIXEL_LAYOUT, has_pixel_layout
from .nn.settings import MlpSettings
from .data.sources import SOURCES
from .settings import Int, IntPair, Section, _is_type_tag, choice

_MEMBER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,39}")


class _Section(Section):
    """A config section: unknown keys are errors, floats finite, values frozen after validation."""


class DataConfig(_Section):
    """Where the images come from and how they are split."""

    source: choice(SOURCES) = "digits"
    root: Path | None = Field(None, description="folder source: a directory or .tar.gz; cifar10: where the official files are")
    cache_dir: Path | None = Field(None, description="cache folder (default: $FEATPIPE_CACHE or the user cache)")
    download: bool = Field(True, description="cifar10: download the official archive when it is missing")
    image_size: IntPair | None = Field(None, description="resize every image to (height, width)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="fraction of the training images held out for validation")
    n_train: int | None = Field(None, ge=2, description="use at most this many training images (stratified), before the validation split")
    per_class: int | None = Field(None, ge=2, description="use at most this many training images per class, before the split")
    use_test: bool = Field(False, description="also score the source's test split, when it has one")
    max_image_pixels: Int = Field(
        MAX_IMAGE_PIXELS, ge=1, le=PILLOW_MAX_PIXELS,
        description="folder source: refuse any image of more pixels (width x height), before decoding it",
    )
    follow_symlinks: bool = Field(
        False, description="folder source: accept symbolic links that lead outside the image folder")

    @field_validator("root", "cache_dir")
    @classmethod
    def _expand(cls, value):
        return None if value is None else Path(os.path.expandvars(os.path.expanduser(str(value))))

    @model_validator(mode="after")
    def _image_size_within_pixel_limit(self):
        if self.image_size is not None and self.image_size[0] * self.image_size[1] > self.max_image_pixels:
            raise ValueError(
                f"image_size {list(self.image_size)} is {self.image_size[0] * self.image_size[1]:,} pixels, over "
                f"data.max_image_pixels ({self.max_image_pixels:,}); choose a smaller size"
            )
        return self


class _FeaturesSection(_Section):
    """Which extractors to run; their outputs are concatenated in the registry's order.

    The fields, one optional subsection per registered extractor plus `normalize`, are added by
    `create_model` below from `featpipe.features.EXTRACTORS`.
    """

    @model_validator(mode="before")
    @classmethod
    def _switches(cls, data):
        # `hog:` (null) or `hog: true` switch an extractor on with defaults; `hog: false` off.
        if isinstance(data, dict):  # extractor keys only: train_flips: true is a plain boolean
            data = {k: ({} if k in EXTRACTORS and (v is None or v is True) else v) for k, v in data.items()
                    if not (k in EXTRACTORS and v is False)}
        return data

    @model_validator(mode="after")
    def _at_least_one(self):
        if not self.extractors():
            raise ValueError(f"no extractor chosen: set at least one of {', '.join(EXTRACTORS)}")
        return self

    def extractors(self) -> dict[str, Section]:
        """The chosen extractors by kind, in concatenation order."""
        return {k: getattr(self, k) for k in EXTRACTORS if getattr(self, k) is not None}


FeaturesConfig = create_model(
    "FeaturesConfig",
    __base__=_FeaturesSection,
    __doc__=_FeaturesSection.__doc__,
    **{kind: (cls.Settings | None, None) for kind, cls in EXTRACTORS.items()},
    normalize=(Literal["block", "standard", "none"],
               Field("block", description="block: standardize, then weigh each extractor's block equally")),
    train_flips=(StrictBool, Field(False, description="add the mirror image of every training image as a "
                                   "training row (the extractors are fitted on the originals)")),
    test_flips=(StrictBool, Field(False, description="score every validation, test and predicted image with its "
                                  "mirror: a linear classifier by the mean of their features, an MLP by the mean "
                                  "of its class probabilities (featpipe.features.mirror)")),
)


def _default_features() -> FeaturesConfig:
    return FeaturesConfig(raw={})


class SvmConfig(_Section):
    """Linear SVM. A list of C values is searched on the validation split (featpipe.svm.search_c)."""

    C: float | list[float] = Field(1.0, description="a fixed C, or a grid of C values searched on validation")
    loss: Literal["squared_hinge", "hinge"] = Field("squared_hinge", description="newton / liblinear / sgd: the loss")
    solver: Literal["auto", "newton", "liblinear", "sgd", "minibatch"] = Field(
        "auto",
        description="newton: featpipe's LinearSVM, every class at once by truncated Newton over BLAS "
        "products; liblinear: LinearSVC, exact, one class at a time (dual coordinate descent); sgd: "
        "scikit-learn's SGDClassifier; minibatch: featpipe's multiclass hinge trained in mini-batches; "
        "auto: newton",
    )
    multiclass: Literal["ovr", "weston_watkins"] = Field(
        "ovr", description="newton: one-vs-rest, or one coupled multiclass problem (Weston-Watkins)")
    precondition: Literal["auto", "gram", "none"] = Field(
        "auto", description="newton: the CG's preconditioner (featpipe.svm.LinearSVM); auto: the Gram "
        "matrix's Cholesky when there are at least twice as many rows as features")
    widen: int = Field(2, ge=0, description="extra C values tried beyond an edge of the grid while the best C lies on it")
    max_iter: int = Field(2000, ge=1, description="newton: Newton steps at most; liblinear / sgd: iterations")
    tol: float = Field(1e-4, gt=0, description="newton: gradient norm relative to its norm at W=0; liblinear / sgd: stopping tolerance")
    epochs: int = Field(30, ge=1, description="minibatch: passes over the training set")
    learning_rate: float = Field(0.01, gt=0, description="minibatch: initial step size (cosine decay, momentum 0.9)")

    @field_validator("C", mode="before")
    @classmethod
    def _positive_c(cls, value):
        # checked before pydantic's own float parsing, so the message names svm.C and the value
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError("C must be a positive number or a non-empty list of them")
        for item in values:
            number = item
            if isinstance(item, str):  # PyYAML reads 1e-3 (no dot) as a string
                try:
                    number = float(item)
                except ValueError:
                    number = None
            if isinstance(item, bool) or not isinstance(number, (int, float)):
                raise ValueError(f"C must be a positive number or a list of them; {item!r} is not a number")
            if not math.isfinite(number) or number <= 0:
                hint = " (YAML reads 1e400 and larger as inf)" if math.isinf(number) and number > 0 else ""
                raise ValueError(f"C must be a positive number (finite, > 0) or a list of them; {item!r} is not{hint}")
        return value

    def c_values(self) -> list[float]:
        return list(self.C) if isinstance(self.C, list) else [self.C]


class FusionMember(_Section):
    """One pipeline of a fusion: its own features (flips, normalization) and linear SVM (C search)."""

    features: FeaturesConfig
    svm: SvmConfig = SvmConfig()


class FusionConfig(_Section):
    """Late fusion (featpipe.fusion): each member's SVM is trained on its own features; the
    prediction is the weighted sum of their decision scores, each divided by its spread on the
    training images."""

    members: dict[str, FusionMember] = Field(description="two or more named pipelines")
    weights: dict[str, float] | None = Field(None, description="a positive weight per member (default: equal)")

    @field_validator("members")
    @classmethod
    def _two_or_more(cls, members):
        if len(members) < 2:
            raise ValueError(f"a fusion needs two or more members; got {len(members)} ({', '.join(members) or 'none'})")
        for name in members:
            if not _MEMBER_NAME.fullmatch(name):
                raise ValueError(f"member name {name!r}: use letters, digits, '_' or '-' (it names stages and metrics)")
        return members

    @model_validator(mode="after")
    def _a_weight_per_member(self):
        if self.weights is None:
            return self
        if set(self.weights) != set(self.members):
            raise ValueError(f"fusion.weights names {sorted(self.weights)}, but the members are {sorted(self.members)}; "
                             "give one weight per member")
        bad = {name: w for name, w in self.weights.items() if not (math.isfinite(w) and w > 0)}
        if bad:
            raise ValueError(f"fusion.weights must be positive and finite; got {bad}")
        return self

    def weight_list(self) -> list[float]:
        """Each member's weight, in member order (equal when none are given)."""
        return [1.0 if self.weights is None else float(self.weights[name]) for name in self.members]


class OutputConfig(_Section):
    """What a run keeps besides its metrics."""

    feature_cache: bool = Field(True, description="reuse features computed by earlier runs on the same data")
    plots: bool = True


class Config(_Section):
    """One experiment: data, features, classifier, seed."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)
    description: str = ""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    data: DataConfig = DataConfig()
    features: FeaturesConfig = Field(default_factory=_default_features)
    classifier: Literal["svm", "mlp", "fusion"] = "svm"
    svm: SvmConfig = SvmConfig()
    mlp: MlpSettings = MlpSettings()
    fusion: FusionConfig | None = Field(None, description="classifier fusion: the member pipelines and their weights")
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _fusion_has_members_only(self):
        if self.classifier != "fusion":
            if self.fusion is not None:
                raise ValueError(f"a fusion section needs classifier: fusion (this config has classifier: {self.classifier})")
            return self
        if self.fusion is None:
            raise ValueError("classifier: fusion needs a fusion section naming its members, e.g. "
                             "fusion: {members: {coates: {features: ..., svm: ...}, fisher: {...}}}")
        stray = [key for key in ("features", "svm", "mlp") if key in self.model_fields_set]
        if stray:
            raise ValueError(
                f"classifier: fusion takes its features and SVMs from fusion.members.<name>; remove the "
                f"top-level {', '.join(stray)} section{'s' if len(stray) > 1 else ''}")
        return self

    def extractor_kinds(self) -> list[str]:
        """The extractors the run computes, in order (every fusion member's, each kind once)."""
        sections = [m.features for m in self.fusion.members.values()] if self.fusion else [self.features]
        kinds = [kind for section in sections for kind in section.extractors()]
        return list(dict.fromkeys(kinds))

    @model_validator(mode="after")
    def _mlp_image_settings_need_raw_pixels(self):
        # The MLP sees images only when one pixel-grid extractor makes the whole feature vector (runner.py).
        extractors = list(self.features.extractors())
        if self.classifier != "mlp" or has_pixel_layout(extractors):
            return self
        used = [f"mlp.augment.{part}" for part in self.mlp.augment.image_parts()]
        if self.mlp.normalize == "channel":
            used.append("mlp.normalize='channel'")
        if used:
            raise ValueError(
                f"{' and '.join(used)} work on images: use them with one of features "
                f"{sorted(PIXEL_LAYOUT)} alone, e.g. features: {{raw: {{}}}} "
                f"(this config has features {extractors}, whose vectors have no pixels to flip, crop or "
                "deform; mlp.augment.mixup works on any features)"
            )
        return self

    @model_validator(mode="after")
    def _augmentation_fits_the_images(self):
        # Without data.image_size the image size is known only once the data is read: the
        # MLP's own settings check it then (MLPClassifierSettings, before any training).
        size = self.data.image_size
        problem = self.mlp.augment.size_problem(*size) if self.classifier == "mlp" and size is not None else None
        if problem is not None:
            raise ValueError(f"mlp.{problem} (data.image_size={list(size)})")
        return self

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-able data (what a run directory records)."""
        data = self.model_dump(mode="json")
        # an extractor that is off is left out: in YAML, `hog:` with no value switches it on
        data["features"] = {k: v for k, v in data["features"].items() if v is not None}
        if self.fusion is None:
            del data["fusion"]
        else:  # the members hold the features and SVMs: top-level defaults would only mislead
            del data["features"], data["svm"], data["mlp"]
            for member in data["fusion"]["members"].values():
                member["features"] = {k: v for k, v in member["features"].items() if v is not None}
        return data

    def digest(self) -> str:
        """A stable hash of the resolved config, for run identity and resuming."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Read, override and validate the YAML config at `path`.

    Parameters
    ----------
    path : path to a YAML file holding one experiment.
    overrides : ``key.path=value`` strings; values are parsed as YAML (``[1, 2]``, ``true``, ``0.5``).

    Raises
    ------
    ConfigError naming the file, the key path, the value and what is allowed.
    """
    return parse_config(read_text_file(path, "config"), source=str(path), overrides=overrides)


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of a config or batch file (size-limited), or a ConfigError saying why not."""
    return yaml_safe.read_yaml_text(path, what)


def parse_config(text: str, source: str = "<config>", overrides: Sequence[str] = ()) -> Config:
    """Validate YAML `text` (named `source` in errors) with `overrides` applied."""
    data = read_yaml_mapping(text, source, "config")
    for override in overrides:
        apply_override(data, override)
    return validate(data, source)


def read_yaml_mapping(text: str, source: str, what: str) -> dict:
    """Parse YAML `text` that must hold a non-empty mapping, within featpipe's YAML limits."""
    data = yaml_safe.parse_yaml(text, source)
    if data is None:
        raise ConfigError(
            f"{source}: the {what} file is empty (or holds only comments); "
            f"write at least one key, e.g. `name: my-run`"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level of the {what}, got {type(data).__name__}")
    return data


def validate(data: dict, source: str = "<config>") -> Config:
    """Turn plain data into a Config, or raise ConfigError listing every problem."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise ConfigError(f"{source}: invalid config:\n  " + "\n  ".join(problems)) from None


def apply_override(data: dict, override: str) -> None:
    """Apply one ``key.path=value`` override to `data` in place, checking the key exists."""
    key, sep, raw_value = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. svm.C=0.1")
    parts = key.split(".")
    _check_key_path(parts, f"--set {key}")
    try:
        value = yaml_safe.parse_yaml(raw_value, f"--set {key}") if raw_value.strip() else None
    except yaml_safe.YamlLimitError:
        raise
    except yaml.YAMLError:
        value = raw_value  # not YAML: the text itself, e.g. a description with a colon
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            if child not in (None, True) and child is not False:
                raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is {child!r}, not a section")
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


class _AnyName:
    """The keys of a mapping of user-chosen names to sections (fusion.members): every name is one."""

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self):
        return iter(())


@dataclass(frozen=True)
class _NamedSections:
    """A field that maps user-chosen names to sections of one model."""

    model: type[BaseModel]


def _section_fields(parts: Sequence[str]) -> Any:
    """The fields of the section at `parts` (None if `parts` does not lead to a section)."""
    model: Any = Config
    for part in parts:
        if isinstance(model, _NamedSections):
            model = model.model  # `part` is a name the user chose
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_of(field.annotation)
        if model is None:
            return None
    return _AnyName() if isinstance(model, _NamedSections) else model.model_fields


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:
        value = get_args(annotation)[1]
        return _NamedSections(value) if isinstance(value, type) and issubclass(value, BaseModel) else None
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _check_key_path(parts: Sequence[str], label: str) -> None:
    for i, part in enumerate(parts):
        fields = _section_fields(parts[:i])
        if fields is None:
            raise ConfigError(f"{label}: {'.'.join(parts[:i])} is a value, not a section")
        if part not in fields:
            raise ConfigError(f"{label}: unknown key {'.'.join(parts[: i + 1])!r}{_suggest(part, fields)}")


def _suggest(name: str, valid: Any) -> str:
    valid = sorted(valid)
    by_lower = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.5)
    hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
    return f"{hint}; valid keys here: {', '.join(valid)}"


def _describe(error: dict) -> str:
    loc = [str(part) for part in error["loc"] if not _is_type_tag(part)]
    path = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        fields = _section_fields(loc[:-1]) or {}
        return f"unknown key {path!r}{_suggest(loc[-1], fields)}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    if isinstance(error.get("input"), dict):  # a rule between settings names them in its message
        return f"{path}: {message}" if loc else message
    return f"{path}: {message} (got {error.get('input')!r})"


def dump_yaml(config: Config) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
