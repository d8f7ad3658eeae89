"""One declaration of every component's settings: pydantic schemas shared by configs and estimators.

Each component (a feature extractor, the MLP, the SVM) declares its settings once, as a `Section`
beside its class: defaults, ranges and choice lists live there and nowhere else. Configs nest the
sections (featpipe.config); estimators validate their keyword arguments through the same schema
(`validate_settings`), so the YAML file and the Python API accept exactly the same values.

Values are put in one canonical form when validated (a cell size `8` becomes `(8, 8)`), so a
config's digest, its run ID and its feature-cache key do not depend on how a value was spelled.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from .errors import InputError


class Section(BaseModel):
    """A settings section: unknown keys are errors, floats must be finite, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ValueError("expected a number, not a boolean")
    return value


#: An integer that refuses booleans (pydantic would read `true` as 1).
Int = Annotated[int, BeforeValidator(_no_bool)]
#: A finite float that refuses booleans.
Float = Annotated[float, BeforeValidator(_no_bool)]


def _to_pair(value: Any) -> Any:
    """8 -> (8, 8); [8] -> (8, 8); [4, 8] -> (4, 8); anything else is left to the tuple check."""
    _no_bool(value)
    if isinstance(value, (list, tuple)):
        if len(value) not in (1, 2):
            raise ValueError("must be an integer or a pair [rows, columns] of positive integers")
        return (value[0], value[0]) if len(value) == 1 else tuple(value)
    if isinstance(value, int) or hasattr(value, "__index__"):
        return (value, value)
    return value


def _positive_pair(value: tuple[int, int]) -> tuple[int, int]:
    if min(value) < 1:
        raise ValueError(f"expected a positive integer or a pair [rows, columns] of them, got {list(value)}")
    return value


#: A positive integer or a (rows, cols) pair of them, always stored as the pair.
IntPair = Annotated[tuple[Int, Int], BeforeValidator(_to_pair), AfterValidator(_positive_pair)]


def _positive_sizes(value: Any) -> Any:
    sizes = value if isinstance(value, list) else [value]
    if not sizes or min(sizes) < 1:
        raise ValueError("expected a size >= 1 or a non-empty list of them")
    return value


#: A positive size (patch side, cell size) or a non-empty list of them, one scale each.
Sizes = Annotated[Int | list[Int], AfterValidator(_positive_sizes)]


def choice(names: Any) -> Any:
    """A `Literal` type of the given names: choice fields built from a registry's keys."""
    return Literal[tuple(names)]


def validate_settings(schema: type[Section], values: Mapping[str, Any], owner: str) -> Section:
    """`values` checked against `schema`, or an InputError naming `owner`, each key, value and rule."""
    try:
        return schema.model_validate(dict(values))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"] if not _is_type_tag(part))
            if not key:  # a rule between settings: its message names the settings itself
                problems.append(rule_text(error))
                continue
            shown = f"={error['input']!r}" if "input" in error and error["type"] != "extra_forbidden" else ""
            problems.append(f"{key}{shown} {rule_text(error)}")
        raise InputError(f"{owner}: " + "; ".join(problems)) from None


_RULES = {
    "greater_than": "must be a finite number > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "finite_number": "must be a finite number",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "extra_forbidden": "is not a setting here",
}


def rule_text(error: Mapping[str, Any]) -> str:
    """A pydantic error as the rule the value broke, worded like the rest of featpipe's errors."""
    ctx = error.get("ctx") or {}
    if error["type"] == "literal_error":
        return "is not allowed; choose one of " + str(ctx.get("expected", "")).replace(" or ", ", ")
    template = _RULES.get(error["type"])
    if template is not None:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError):
            pass
    return error["msg"].removeprefix("Value error, ")


def settings_of(estimator: Any) -> dict[str, Any]:
    """The values of an estimator's declared settings (its `Settings` schema's fields)."""
    return {name: getattr(estimator, name) for name in type(estimator).Settings.model_fields}


def _is_type_tag(part: Any) -> bool:
    # pydantic adds the member type to the location of union errors, e.g. "int" or "tuple[int, int]"
    return isinstance(part, str) and (part in {"int", "float", "str", "bool", "list", "tuple"} or "[" in part
                                      or part.endswith("Config") or part.endswith("Settings")
                                      or part.startswith("function-"))
