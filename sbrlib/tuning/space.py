"""Search spaces: sampling, overrides and checks over the ranges the model registry declares.

The ranges themselves live with each model family (``SPACE`` in its package, named by its row in
:mod:`sbrlib.models.registry`); :data:`SPACES`, :data:`NEURAL`, :data:`MODEL_NAMES` and
:func:`config_class` are read from the registry. :data:`SPACES` maps a tunable model family
(``"gru4rec"``, ``"sasrec"``, ``"item-knn"``, ``"sr"``, ``"v-sknn"``) to its parameters. Each
:class:`Param` is an integer or float range (optionally on a log scale or with a step) or a list
of choices, and may apply only when another parameter has a given value (e.g. ``logq`` only for
cross-entropy).

Override any range with :func:`search_space` (``overrides={"batch_size": (16, 64)}``; a single value
fixes the parameter). Parameter names are those of the model's config dataclass, except
GRU4Rec's ``layers``, searched as the size of one GRU layer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sbrlib.models import registry
from sbrlib.models.spaces import Param, SearchSpaceError

log = logging.getLogger(__name__)

SPACES: dict[str, dict[str, Param]] = {key: registry.REGISTRY[key].search_space for key in registry.TUNABLE}
"""The documented search ranges, by tunable model family (from :mod:`sbrlib.models.registry`)."""

NEURAL = registry.NEURAL
"""Families trained epoch by epoch (early stopping and pruning on the per-epoch validation metric)."""

_SKIPPED: set[tuple[str, str]] = set()

MODEL_NAMES: dict[str, str] = {key: registry.NAMES[key] for key in registry.TUNABLE}
"""Display names of the tunable model families (as in notebook 05's tables)."""


def config_class(model: str) -> type:
    """The config dataclass of a tunable model family."""
    check_model(model)
    return registry.REGISTRY[model].config_class


def check_model(model: str) -> None:
    """Raise :class:`SearchSpaceError` when ``model`` is not a tunable family."""
    if model not in SPACES:
        try:
            hint = f" (did you mean {registry.resolve(model, among=registry.TUNABLE)!r}?)"
        except registry.UnknownModelError:
            hint = ""
        raise SearchSpaceError(f"unknown model {model!r}{hint}: tunable models are {', '.join(SPACES)}")


def _validate(model: str, name: str, param: Param) -> None:
    where = f"search space of {model}: parameter {name!r}"
    if param.categorical:
        if len(set(map(repr, param.choices))) != len(param.choices):
            raise SearchSpaceError(f"{where}: choices {param.choices} repeat a value")
        return
    if param.low is None or param.high is None:
        raise SearchSpaceError(f"{where}: give a range (low, high) or a non-empty list of choices")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (param.low, param.high)):
        raise SearchSpaceError(f"{where}: bounds must be finite numbers, got ({param.low!r}, {param.high!r})")
    if param.low > param.high:
        raise SearchSpaceError(f"{where}: empty range: low {param.low:g} > high {param.high:g} (inverted bounds?)")
    if param.log and param.low <= 0:
        raise SearchSpaceError(f"{where}: a log-scale range needs low > 0, got {param.low:g}")
    if param.step is not None and param.step <= 0:
        raise SearchSpaceError(f"{where}: step must be > 0, got {param.step:g}")


def _as_param(model: str, name: str, value: Any, base: Param | None) -> Param:
    """An override (Param, ``(low, high)``, list of choices or a single value) as a Param."""
    keep = {"when": base.when, "doc": base.doc} if base else {}
    if isinstance(value, Param):
        return value
    if isinstance(value, tuple) and len(value) == 2 and base is not None and not base.categorical:
        low, high = value
        integer = base.integer
        step = base.step if base.step is not None and not base.log else None
        return Param(low=low, high=high, integer=integer, log=base.log, step=step, **keep)
    if isinstance(value, (list, tuple)):
        if not len(value):
            raise SearchSpaceError(f"search space of {model}: parameter {name!r}: empty list of choices")
        return Param(choices=tuple(value), **keep)
    return Param(choices=(value,), **keep)  # a single value: the parameter is fixed


def search_space(model: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Param]:
    """The search space of ``model``: :data:`SPACES` with ``overrides`` applied and checked.

    Args:
        model: a key of :data:`SPACES`.
        overrides: parameter name -> :class:`Param`, ``(low, high)`` (keeps scale and step), a list
            of choices, or one value (fixes the parameter).

    Returns:
        Parameter name -> Param, restricted to fields the model's config class has in this
        version of sbrlib (others are skipped with a log line).

    Raises:
        SearchSpaceError: unknown model or parameter name (with suggestions), empty or inverted
            range, bad bounds.
    """
    from sbrlib.core.checks import unknown_names

    check_model(model)
    space = dict(SPACES[model])
    overrides = dict(overrides or {})
    unknown = unknown_names(list(overrides), list(space))
    if unknown:
        raise SearchSpaceError(f"search space of {model}: unknown parameter(s) {', '.join(unknown)}; "
                               f"known: {', '.join(space)}")
    for name, value in overrides.items():
        space[name] = _as_param(model, name, value, space[name])
    fields = {f.name for f in dataclasses.fields(config_class(model))}
    for name in [n for n in space if n not in fields]:
        if (model, name) not in _SKIPPED:  # said once per session
            _SKIPPED.add((model, name))
            log.info("%s: %r is not a field of %s in this version; not searched", model, name,
                     config_class(model).__name__)
        del space[name]
    for name, param in space.items():
        _validate(model, name, param)
        if param.when is not None and param.when[0] not in space:
            raise SearchSpaceError(f"search space of {model}: parameter {name!r} depends on {param.when[0]!r}, "
                                   "which is not in the space")
    return space


def suggest(trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Sample one configuration with an Optuna ``trial`` (conditional parameters only when active)."""
    values: dict[str, Any] = {}
    for name, param in space.items():
        if param.when is not None and values.get(param.when[0]) != param.when[1]:
            continue
        if param.categorical:
            values[name] = trial.suggest_categorical(name, list(param.choices))
        elif param.integer:
            values[name] = trial.suggest_int(name, int(param.low), int(param.high), log=param.log,
                                             step=int(param.step or 1))
        else:
            values[name] = trial.suggest_float(name, float(param.low), float(param.high), log=param.log,
                                               step=param.step)
    return values


def make_config(model: str, params: Mapping[str, Any], base: Any = None) -> Any:
    """The model's config from searched ``params`` on top of ``base`` (default: the class defaults).

    Keys that the config class does not have are dropped (a study stored by another version).
    """
    cls = config_class(model)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = dataclasses.asdict(base) if base is not None else {}
    for key, value in params.items():
        if key not in fields:
            continue
        values[key] = (int(value),) if key == "layers" and not isinstance(value, Sequence) else value
    if "layers" in values:
        values["layers"] = tuple(values["layers"])
    return cls(**values)


def describe(model: str, space: Mapping[str, Param] | None = None) -> list[dict[str, str]]:
    """Rows ``parameter, range, when, what`` for a table of the search space (a log-scale range reads
    ``"[0.005, 0.5] log scale"``: sampled uniformly in the logarithm)."""
    space = space if space is not None else search_space(model)
    return [{"parameter": n, "range": p.describe() + (" scale" if p.log else ""), "when": f"{p.when[0]} = {p.when[1]}" if p.when else "",
             "what": p.doc} for n, p in space.items()]


def params_of(model: str, config: Any, space: Mapping[str, Param] | None = None) -> dict[str, Any]:
    """The searched parameters' values in ``config`` (e.g. to enqueue a preset as a first trial).

    Conditional parameters are left out when their condition does not hold. Values must lie in
    the space for Optuna to accept them as given.
    """
    space = space if space is not None else search_space(model)
    data = dataclasses.asdict(config)
    out: dict[str, Any] = {}
    for name, param in space.items():
        if param.when is not None and out.get(param.when[0], data.get(param.when[0])) != param.when[1]:
            continue
        value = data[name]
        out[name] = int(value[0]) if name == "layers" else value
    return out


__all__ = ["MODEL_NAMES", "NEURAL", "SPACES", "Param", "SearchSpaceError", "config_class", "describe", "make_config",
           "params_of", "search_space", "suggest"]
