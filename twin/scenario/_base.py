"""What every settings class shares: the frozen base, the common field types, and
the one way a pydantic validation error becomes a sentence for the user.

Settings are frozen so that a scenario, once validated, cannot drift while a run
reads it; they forbid extra keys so that a misspelt key is an error with a hint,
never a silently ignored setting.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin.errors import ScenarioError

__all__ = [
    "Hour",
    "NonNeg",
    "Positive",
    "SettingsModel",
    "Share",
    "check_shares",
    "describe_error",
    "describe_errors",
    "fields_at",
    "validate_tree",
]

Hour = Annotated[float, Field(ge=0, le=48)]
Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]

M = TypeVar("M", bound=BaseModel)


class SettingsModel(BaseModel):
    """Base of every settings class: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def check_shares(shares: Mapping[Any, float], what: str) -> None:
    """Raise if ``shares`` (a distribution over categories) does not add up to 1."""
    total = sum(shares.values())
    if shares and abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what} shares must add up to 1 (they add up to {total:g})")


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings class an annotation holds, and whether it is a mapping of them.

    A mapping's keys appear in an error's location (``vehicle_types.van.x``), so
    the walk in :func:`fields_at` must step over them.
    """
    args = typing.get_args(annotation)
    mapping = typing.get_origin(annotation) is dict
    for candidate in (annotation, *args):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate, mapping
    return None, False


def fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names allowed at ``loc`` (for 'did you mean' hints on unknown keys)."""
    current: type[BaseModel] | None = model
    skip_key = False
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        if skip_key:  # a key of a mapping of settings (a vehicle type's name)
            skip_key = False
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current, skip_key = _model_in(info.annotation)
    return sorted(current.model_fields) if current is not None else []


def describe_error(
    error: Mapping[str, Any],
    model: type[BaseModel],
    *,
    dotted: bool = False,
    fixes: Mapping[str, str] | None = None,
) -> str:
    """One pydantic error of ``model`` as ``"path: what is wrong[; the fix]"``.

    Parameters
    ----------
    error : mapping
        One item of :meth:`pydantic.ValidationError.errors`.
    model : type
        The model validated; unknown keys get a close match among its fields.
    dotted : bool
        Write list indices as path parts (``fleet.0.count``, how experiment files
        and factor paths spell them) instead of ``fleet[0].count`` (default False).
    fixes : mapping, optional
        A fix to append per pydantic error type (``"missing": "add it"``).
    """
    loc = tuple(error["loc"])
    if dotted:
        path = ".".join(str(p) for p in loc)
    else:
        path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        path = path.replace(".[", "[")
    where = path or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = fields_at(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{where}: unknown key; {hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    fix = (fixes or {}).get(error["type"])
    return f"{where}: {message}" + (f"; {fix}" if fix else "")


def describe_errors(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    dotted: bool = False,
    fixes: Mapping[str, str] | None = None,
) -> list[str]:
    """Every error of ``exc`` through :func:`describe_error`, in pydantic's order."""
    return [describe_error(e, model, dotted=dotted, fixes=fixes) for e in exc.errors()]


def validate_tree(model: type[M], raw: Any, *, source: str) -> M:
    """``raw`` (a parsed scenario file or a derived dump) validated as ``model``.

    An empty section means its defaults; an optional study (``sites:``) stays
    absent, and a blank ``warmup_days:`` means its default rule. Every problem
    is listed in one :class:`ScenarioError` that names ``source`` and each
    field's path.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ScenarioError(
            f"{source}: the file must be a YAML mapping of sections (map:, fleet:, ...)."
        )
    keep_none = ("description", "sites", "warmup_days")
    raw = {k: ({} if v is None and k not in keep_none else v) for k, v in raw.items()}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = describe_errors(exc, model)
        plural = "s" if len(lines) > 1 else ""
        head = f"{source} is not a valid scenario ({len(lines)} problem{plural}):"
        raise ScenarioError("\n  ".join([head, *lines])) from None
