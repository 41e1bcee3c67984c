"""Value checks shared by the config dataclasses and the notebooks' parameters: one clear line per bad value.

A *check* is a callable that returns None for a good value and a short phrase saying what is
allowed otherwise (``"an integer >= 1"``). Build checks with :func:`one_of`, :func:`integer`,
:func:`number`, :func:`boolean`, :func:`text`, :func:`int_list`, :func:`number_list`,
:func:`metric_name`, :func:`optional`.

Every config dataclass declares its rules once, as a class attribute ``RULES`` (field name ->
check), and calls :func:`check_config` in ``__post_init__``; an impossible value raises
:class:`ConfigError` naming the field, what is allowed and the value::

    GRU4RecConfig(learning_rate=-1)
    ConfigError: GRU4RecConfig.learning_rate = -1: must be a number > 0

The notebooks' parameter specs (:mod:`sbrlib.notebook.params`) reuse those rules with
:func:`rule`, so the library and the notebooks refuse the same values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sbrlib.core.errors import UserFacingError

Check = Callable[[Any], "str | None"]


class ParameterError(UserFacingError, ValueError):
    """Bad parameter values; the message has one line per bad value (name, value, allowed values).
    Shown without a traceback in notebooks."""


class ConfigError(UserFacingError, ValueError):
    """An impossible value in a config dataclass; one line: ``Class.field = value: must be ...``."""


def one_of(*allowed: Any) -> Check:
    """The value must be one of ``allowed``."""
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(repr(a) for a in allowed)
    return check


def _is_bool(value: Any) -> bool:
    kind = type(value)
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def integer(min: int | None = None, max: int | None = None) -> Check:
    """An integer in ``[min, max]`` (either bound optional)."""
    def check(value: Any) -> str | None:
        ok = _is_int(value) and (min is None or value >= min) and (max is None or value <= max)
        return None if ok else "an integer" + _bounds(min, max)
    return check


def number(min: float | None = None, max: float | None = None, gt: float | None = None,
           lt: float | None = None) -> Check:
    """A finite number with optional inclusive (``min``/``max``) or strict (``gt``/``lt``) bounds."""
    def check(value: Any) -> str | None:
        ok = isinstance(value, numbers.Real) and not _is_bool(value) and math.isfinite(value)
        ok = ok and (min is None or value >= min) and (max is None or value <= max)
        ok = ok and (gt is None or value > gt) and (lt is None or value < lt)
        return None if ok else "a number" + _bounds(min, max, gt, lt)
    return check


def boolean() -> Check:
    """True or False."""
    return lambda value: None if _is_bool(value) else "True or False"


def text(allow_empty: bool = True) -> Check:
    """A string (optionally non-empty)."""
    def check(value: Any) -> str | None:
        ok = isinstance(value, str) and (allow_empty or value.strip() != "")
        return None if ok else ("a string" if allow_empty else "a non-empty string")
    return check


def int_list(min: int | None = None, min_len: int = 1) -> Check:
    """A list of integers (each ``>= min``), at least ``min_len`` long, e.g. ``[100]``."""
    def check(value: Any) -> str | None:
        ok = isinstance(value, (list, tuple)) and len(value) >= min_len and all(
            _is_int(v) and (min is None or v >= min) for v in value)
        return None if ok else f"a list of integers{_bounds(min, None)} with at least {min_len} element(s), e.g. [100]"
    return check


def number_list(min: float | None = None, min_len: int = 1) -> Check:
    """A list of numbers (each ``>= min``), at least ``min_len`` long."""
    inner = number(min=min)
    def check(value: Any) -> str | None:
        ok = isinstance(value, (list, tuple)) and len(value) >= min_len and all(inner(v) is None for v in value)
        return None if ok else f"a list of numbers{_bounds(min, None)} with at least {min_len} element(s)"
    return check


def metric_name(*kinds: str) -> Check:
    """A metric name ``KIND@K`` with K >= 1, e.g. ``"recall@20"`` (``kinds``: the allowed KINDs)."""
    kinds = kinds or ("recall", "mrr", "ndcg")  # what the evaluator reports per cut-off

    def check(value: Any) -> str | None:
        kind, _, k = value.partition("@") if isinstance(value, str) else ("", "", "")
        ok = kind in kinds and k.isdigit() and int(k) >= 1
        return None if ok else "a metric name " + " | ".join(f"{kind}@K" for kind in kinds) + " with K >= 1"
    return check


def instance_of(cls: type) -> Check:
    """An instance of ``cls`` (e.g. a nested config, which checks its own fields)."""
    return lambda value: None if isinstance(value, cls) else f"a {cls.__name__}"


def optional(check: Check) -> Check:
    """None, or a value accepted by ``check``."""
    def wrapped(value: Any) -> str | None:
        if value is None:
            return None
        problem = check(value)
        return None if problem is None else f"None or {problem}"
    return wrapped


def _bounds(min_: Any = None, max_: Any = None, gt: Any = None, lt: Any = None) -> str:
    parts = [f">= {min_}" if min_ is not None else "", f"> {gt}" if gt is not None else "",
             f"<= {max_}" if max_ is not None else "", f"< {lt}" if lt is not None else ""]
    parts = [p for p in parts if p]
    return (" " + " and ".join(parts)) if parts else ""


def problems(values: Mapping[str, Any], spec: Mapping[str, Check], where: str = "") -> list[str]:
    """One line per bad value: ``where: NAME = value: must be ...``."""
    prefix = f"{where}: " if where else ""
    out = []
    for name, check in spec.items():
        if name not in values:
            continue
        problem = check(values[name])
        if problem is not None:
            out.append(f"{prefix}{name} = {values[name]!r}: must be {problem}")
    return out


def validate(values: Mapping[str, Any], spec: Mapping[str, Check], where: str = "") -> None:
    """Raise :class:`ParameterError` listing every bad value of ``values`` under ``spec``."""
    lines = problems(values, spec, where)
    if lines:
        raise ParameterError("\n".join(lines))


def check_config(config: Any) -> None:
    """Check every field of a config dataclass against its class's ``RULES`` (call in ``__post_init__``).

    Raises:
        ConfigError: the first bad field, as ``Class.field = value: must be ...``.
    """
    for name, check in type(config).RULES.items():
        value = getattr(config, name)
        problem = check(value)
        if problem is not None:
            raise ConfigError(f"{type(config).__name__}.{name} = {value!r}: must be {problem}")


def require(config: Any, ok: bool, name: str, allowed: str) -> None:
    """A rule between fields: raise :class:`ConfigError` on field ``name`` unless ``ok``.

    Args:
        allowed: what is allowed, e.g. ``"divisible by heads (2)"``.
    """
    if not ok:
        raise ConfigError(f"{type(config).__name__}.{name} = {getattr(config, name)!r}: must be {allowed}")


def rule(config_class: type, name: str) -> Check:
    """The check of field ``name`` of a config class (for a notebook parameter that sets it)."""
    try:
        return config_class.RULES[name]
    except KeyError:
        raise KeyError(f"{config_class.__name__} has no rule for {name!r}") from None


def unknown_names(names: Sequence[str], known: Sequence[str]) -> list[str]:
    """Names that are not in ``known``, each with the closest known names as a suggestion."""
    import difflib

    out = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            out.append(f"{name}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return out
