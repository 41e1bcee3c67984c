"""Search spaces: every tunable parameter of every model family, with its range, in ONE place.

:data:`SPACES` maps a model family (``"gru4rec"``, ``"sasrec"``, ``"item-knn"``, ``"sr"``, ``"v-sknn"``) to its
parameters. Each :class:`Param` is an integer or float range (optionally on a log scale or with a
step) or a list of choices, and may apply only when another parameter has a given value (e.g.
``logq`` only for cross-entropy). The GRU4Rec space covers what the official GRU4Rec ``paropt``
spaces cover (layer size 64-512, here on a log scale; batch size, learning rate, both dropouts,
momentum, sample_alpha, bpreg and the ELU of BPR-max) plus the loss, the embedding, ``n_sample``
and ``logq``. SASRec's covers the loss, sequence length, depth, width, dropout, Adam's step
size and the batch size around Kang & McAuley's ML-1M setting.

Override any range with :func:`search_space` (``overrides={"batch_size": (16, 64)}``; a single value
fixes the parameter). Parameter names are those of the model's config dataclass, except
GRU4Rec's ``layers``, searched as the size of one GRU layer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class SearchSpaceError(ValueError):
    """A bad search space: the message names the model family and the parameter."""


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        low, high: inclusive bounds of a numeric range (``choices`` empty).
        choices: the values of a categorical parameter (then ``low``/``high`` are unused).
        integer: integer range (else float).
        log: sample on a log scale (``low > 0``; no ``step``).
        step: grid step of the range (None: continuous).
        when: ``(other parameter, value)``: only searched when the other one has that value.
        doc: what the parameter does (shown in the notebook).
    """

    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    integer: bool = False
    log: bool = False
    step: float | None = None
    when: tuple[str, Any] | None = None
    doc: str = ""

    @property
    def categorical(self) -> bool:
        return bool(self.choices)

    def describe(self) -> str:
        """Human-readable range, e.g. ``"[0.005, 0.5] log"`` or ``"{16, 32}"``."""
        if self.categorical:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        extra = " log" if self.log else (f" step {self.step:g}" if self.step else "")
        return f"[{self.low:g}, {self.high:g}]{extra}"


def _int(low, high, **kw) -> Param:
    return Param(low=low, high=high, integer=True, **kw)


def _float(low, high, **kw) -> Param:
    return Param(low=low, high=high, **kw)


def _cat(*choices, **kw) -> Param:
    return Param(choices=tuple(choices), **kw)


CE, BPR = ("loss", "cross-entropy"), ("loss", "bpr-max")

SPACES: dict[str, dict[str, Param]] = {
    "gru4rec": {
        "loss": _cat("cross-entropy", "bpr-max", doc="training loss"),
        "constrained_embedding": _cat(True, False, doc="share input and output item vectors"),
        "embedding_dim": _cat(0, 64, 128, 256, when=("constrained_embedding", False),
                              doc="input embedding size (0: one-hot-equivalent input)"),
        "layers": _int(64, 512, log=True, doc="size of the (single) GRU layer"),
        "batch_size": _int(16, 256, log=True, doc="parallel sessions per mini-batch"),
        "dropout_embed": _float(0.0, 0.5, step=0.05, doc="drop probability on the input embedding"),
        "dropout_hidden": _float(0.0, 0.7, step=0.05, doc="drop probability on the GRU output"),
        "learning_rate": _float(0.005, 0.5, log=True, doc="Adagrad step size"),
        "momentum": _float(0.0, 0.9, step=0.05, doc="Adagrad momentum"),
        "n_sample": _cat(0, 512, 1024, 2048, 4096, doc="extra shared negatives per step"),
        "sample_alpha": _float(0.0, 1.0, step=0.1, doc="negatives drawn ∝ support ** sample_alpha"),
        "logq": _float(0.0, 1.0, step=0.25, when=CE, doc="logQ correction of cross-entropy"),
        "bpreg": _float(0.0, 2.0, step=0.05, when=BPR, doc="BPR-max score regularization"),
        "elu_param": _cat(0.0, 0.5, 1.0, when=BPR, doc="BPR-max ELU on scores (0: linear)"),
    },
    "sasrec": {
        "loss": _cat("cross-entropy", "sampled-softmax", "gbce", doc="training loss"),
        "max_len": _cat(50, 100, 200, doc="longest input sequence (items attended to)"),
        "blocks": _int(1, 3, doc="self-attention blocks"),
        "dim": _cat(32, 50, 64, 128, doc="embedding / hidden size"),
        "dropout": _float(0.0, 0.5, step=0.05, doc="drop probability (embeddings, attention, feed-forward)"),
        "learning_rate": _float(1e-4, 1e-2, log=True, doc="Adam step size"),
        "batch_size": _cat(64, 128, 256, doc="training sequences per mini-batch"),
        "n_negatives": _cat(128, 256, 512, 1024, when=("loss", "sampled-softmax"),
                            doc="shared negatives per mini-batch (sampled softmax)"),
        "gbce_t": _float(0.0, 1.0, step=0.25, when=("loss", "gbce"), doc="gBCE calibration"),
    },
    "item-knn": {
        "lam": _float(0.1, 500.0, log=True, doc="support regularization"),
        "alpha": _float(0.0, 1.0, step=0.05, doc="balance of the two supports (0.5: cosine)"),
    },
    "sr": {
        "steps": _int(1, 25, doc="largest distance of a rule"),
        "weighting": _cat("div", "linear", "quadratic", "log", "one", doc="rule weight by distance"),
    },
    "v-sknn": {
        "k": _int(10, 2000, log=True, doc="neighbour sessions"),
        "sample_size": _int(100, 5000, log=True, doc="candidate sessions (most recent sharing an item)"),
        "weighting": _cat("linear", "same", "div", "log", "quadratic", doc="position weight of the current session"),
        "idf_weighting": _cat(False, True, doc="weight shared items by inverse document frequency"),
    },
}
"""The documented search ranges, by model family."""

NEURAL = ("gru4rec", "sasrec")
"""Families trained epoch by epoch (early stopping and pruning on the per-epoch validation metric)."""

_SKIPPED: set[tuple[str, str]] = set()

MODEL_NAMES: dict[str, str] = {"gru4rec": "GRU4Rec", "sasrec": "SASRec", "item-knn": "Item-kNN", "sr": "SR", "v-sknn": "V-SKNN"}
"""Display names of the model families (as in notebook 05's tables)."""


def config_class(model: str) -> type:
    """The config dataclass of a model family."""
    check_model(model)
    if model == "gru4rec":
        from sbrlib.models.gru4rec import GRU4RecConfig
        return GRU4RecConfig
    if model == "sasrec":
        from sbrlib.models.sasrec import SASRecConfig
        return SASRecConfig
    from sbrlib.models import baselines as B
    return {"item-knn": B.ItemKNNConfig, "sr": B.SRConfig, "v-sknn": B.VSKNNConfig}[model]


def check_model(model: str) -> None:
    """Raise :class:`SearchSpaceError` when ``model`` is not a tunable family."""
    if model not in SPACES:
        raise SearchSpaceError(f"unknown model {model!r}: tunable models are {', '.join(SPACES)}")


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
    from sbrlib.checks import unknown_names

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
    """Rows ``parameter, range, when, what`` for a table of the search space."""
    space = space if space is not None else search_space(model)
    return [{"parameter": n, "range": p.describe(), "when": f"{p.when[0]} = {p.when[1]}" if p.when else "",
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
