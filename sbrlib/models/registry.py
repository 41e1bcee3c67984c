"""The model registry: one row per model family, the one place that names a model.

Each :class:`ModelSpec` row gives the family's key (``"item-knn"``: what parameters, studies and
files use), its display name (``"Item-kNN"``: tables and plots), its model and config classes,
whether it is neural (trained epoch by epoch), its default parameters and its search space. The
classes and spaces are named as ``"module:attribute"`` and imported on first use, so listing the
models (keys, names, :data:`NEURAL`) never imports TensorFlow.

Everything that needs a list of models reads it here: :mod:`sbrlib.tuning.space` (``SPACES``,
``NEURAL``, ``MODEL_NAMES``, ``config_class``), :func:`sbrlib.tuning.search.build_model`,
:mod:`sbrlib.notebook.comparisons` (``BASELINE_DEFAULTS``, ``baseline_factories``), the notebooks'
parameter checks (:mod:`sbrlib.notebook.params`) and notebooks 03, 05, 06 and 07.

Names: a key, or a display name in any case, is accepted wherever a model is named
(:func:`resolve`): ``resolve("Item-kNN") == resolve("ITEM-KNN") == "item-knn"``; anything else
raises :class:`UnknownModelError` with a "did you mean".

Adding a model: write its package (model class, config dataclass with ``RULES``, optionally a
``SPACE``), then add one row to :data:`REGISTRY` (see ``docs/ARCHITECTURE.md``, "Adding a model").
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sbrlib.core.errors import UserFacingError
from sbrlib.models.spaces import Param


class UnknownModelError(UserFacingError, ValueError):
    """A model name that is neither a registry key nor a display name; the message suggests close ones."""


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ModelSpec:
    """One model family.

    Attributes:
        key: lower-case identifier (parameters, study names, file names), e.g. ``"item-knn"``.
        name: display name (tables, plots), e.g. ``"Item-kNN"``; accepted as an alias of ``key``.
        model: ``"module:Class"`` of the :class:`~sbrlib.models.base.SessionModel`.
        config: ``"module:Class"`` of its frozen config dataclass; None: the model takes no parameters.
        neural: trained epoch by epoch (early stopping, pruning on the per-epoch validation metric).
        space: ``"module:NAME"`` of its search space (parameter -> :class:`Param`); None: not tunable.
        defaults: default parameters: config fields that differ from the config class's own
            defaults (empty: the class defaults are the model's defaults).
        presets: the module of its named configurations (``PRESETS``, ``PROVENANCE``, ``preset()``
            and ``DEFAULTS_SEARCH``, the search behind the class defaults); None: no presets.
        doc: one line saying what the model is.
    """

    key: str
    name: str
    model: str
    config: str | None = None
    neural: bool = False
    space: str | None = None
    defaults: tuple[tuple[str, Any], ...] = ()
    presets: str | None = None
    doc: str = ""

    @property
    def tunable(self) -> bool:
        """Whether the family has a search space (notebook 03 can tune it)."""
        return self.space is not None

    @property
    def model_class(self) -> type:
        """The model class (imports its module; TensorFlow for the neural ones)."""
        return _load(self.model)

    @property
    def config_class(self) -> type | None:
        """The config dataclass (its module never imports TensorFlow), or None."""
        return _load(self.config) if self.config else None

    @property
    def search_space(self) -> dict[str, Param]:
        """The family's documented search ranges (a copy), empty when it is not tunable."""
        return dict(_load(self.space)) if self.space else {}

    def default_config(self, **overrides: Any) -> Any:
        """The config with the row's default parameters and ``overrides`` (None without a config class)."""
        cls = self.config_class
        if cls is None:
            if overrides:
                raise UnknownModelError(f"{self.name} takes no parameters, got {', '.join(overrides)}")
            return None
        return cls(**{**dict(self.defaults), **overrides})

    def default_params(self) -> dict[str, Any]:
        """Every config field with its default value (empty without a config class)."""
        config = self.default_config()
        return {} if config is None else dataclasses.asdict(config)

    def preset_names(self) -> tuple[str, ...]:
        """Names of the family's presets (empty without a presets module)."""
        return tuple(importlib.import_module(self.presets).PRESETS) if self.presets else ()

    def preset(self, name: str, **overrides: Any) -> Any:
        """The config of preset ``name`` with ``overrides`` (ValueError: unknown name, listing the known ones)."""
        if not self.presets:
            raise ValueError(f"{self.name} has no presets")
        return importlib.import_module(self.presets).preset(name, **overrides)

    def build(self, config: Any = None) -> Any:
        """An unfitted model with ``config`` (None: :meth:`default_config`)."""
        cls = self.model_class
        if self.config is None:
            if config is not None:
                raise UnknownModelError(f"{self.name} takes no config, got {config!r}")
            return cls()
        return cls(config if config is not None else self.default_config())


_G, _S, _B = "sbrlib.models.gru4rec", "sbrlib.models.sasrec", "sbrlib.models.baselines"

REGISTRY: dict[str, ModelSpec] = {spec.key: spec for spec in (
    ModelSpec("gru4rec", "GRU4Rec", f"{_G}.model:GRU4Rec", f"{_G}.config:GRU4RecConfig", neural=True,
              space=f"{_G}.space:SPACE", presets=f"{_G}.presets", doc="recurrent network over the session (Hidasi et al.)"),
    ModelSpec("sasrec", "SASRec", f"{_S}.model:SASRec", f"{_S}.config:SASRecConfig", neural=True,
              space=f"{_S}.space:SPACE", presets=f"{_S}.presets", doc="self-attention over the sequence (Kang & McAuley)"),
    ModelSpec("pop", "Pop", f"{_B}:Pop", doc="global popularity"),
    ModelSpec("s-pop", "S-Pop", f"{_B}:SessionPop", doc="items of the session by count, then popularity"),
    ModelSpec("item-knn", "Item-kNN", f"{_B}:ItemKNN", f"{_B}:ItemKNNConfig", space=f"{_B}:ITEMKNN_SPACE",
              doc="item-to-item co-occurrence similarity from the last item"),
    ModelSpec("markov", "Markov", f"{_B}:Markov", doc="first-order transition probabilities"),
    ModelSpec("sr", "SR", f"{_B}:SequentialRules", f"{_B}:SRConfig", space=f"{_B}:SR_SPACE",
              doc="sequential rules weighted by distance (Ludewig & Jannach)"),
    ModelSpec("v-sknn", "V-SKNN", f"{_B}:VSKNN", f"{_B}:VSKNNConfig", space=f"{_B}:VSKNN_SPACE",
              doc="session kNN with a position-decayed current session"),
)}
"""Every model family, by key, in table order."""

NEURAL: tuple[str, ...] = tuple(k for k, s in REGISTRY.items() if s.neural)
"""Keys of the families trained epoch by epoch."""

TUNABLE: tuple[str, ...] = tuple(k for k, s in REGISTRY.items() if s.tunable)
"""Keys of the families with a search space."""

NAMES: dict[str, str] = {k: s.name for k, s in REGISTRY.items()}
"""Key -> display name."""


def keys(*, neural: bool | None = None, tunable: bool | None = None) -> tuple[str, ...]:
    """Registry keys in table order, optionally only the (non-)neural or (non-)tunable ones."""
    return tuple(k for k, s in REGISTRY.items()
                 if (neural is None or s.neural == neural) and (tunable is None or s.tunable == tunable))


def resolve(name: str, among: tuple[str, ...] | None = None) -> str:
    """The registry key of a model named by its key or its display name (any case).

    Args:
        name: e.g. ``"item-knn"``, ``"Item-kNN"``, ``"ITEM-KNN"``.
        among: the keys allowed here (default: every registry key).

    Raises:
        UnknownModelError: not a model (or not one of ``among``), with the closest names.
    """
    allowed = tuple(among) if among is not None else tuple(REGISTRY)
    by_alias = {}
    for key in allowed:
        by_alias[key.lower()] = key
        by_alias[REGISTRY[key].name.lower()] = key
    key = by_alias.get(name.lower()) if isinstance(name, str) else None
    if key is not None:
        return key
    key_of = {alias.lower(): key for key in allowed for alias in (key, REGISTRY[key].name)}
    close = list(dict.fromkeys(key_of[c] for c in difflib.get_close_matches(str(name).lower(), list(key_of), n=3,
                                                                           cutoff=0.5)))
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise UnknownModelError(f"unknown model {name!r}{hint}: models here are {', '.join(allowed)} "
                            "(or their display names, in any case)")


def get(name: str) -> ModelSpec:
    """The row of a model named by key or display name (:func:`resolve`)."""
    return REGISTRY[resolve(name)]


def display_name(name: str) -> str:
    """The display name of a model named by key or display name."""
    return get(name).name


def build(name: str, config: Any = None) -> Any:
    """An unfitted model named by key or display name, with ``config`` (None: its defaults)."""
    return get(name).build(config)


def table() -> list[dict[str, Any]]:
    """One dict per row for a table of the registry (no imports of the model classes)."""
    return [{"key": s.key, "name": s.name, "neural": s.neural, "tunable": s.tunable,
             "config": (s.config or "").rpartition(":")[2], "what": s.doc} for s in REGISTRY.values()]


def _check_registry(registry: Mapping[str, ModelSpec]) -> None:
    aliases = [a.lower() for s in registry.values() for a in {s.key, s.name.lower()}]
    if len(aliases) != len(set(aliases)):
        raise ValueError("model registry: two rows share a key or display name")


_check_registry(REGISTRY)

__all__ = ["NAMES", "NEURAL", "REGISTRY", "TUNABLE", "ModelSpec", "UnknownModelError", "build", "display_name",
           "get", "keys", "resolve", "table"]


def defaults_search(name: str) -> dict | None:
    """The search behind a family's default configuration (``{"dataset", "split", "trials", ...}``),
    or None when its defaults were not tuned (library or paper defaults) or the name is not a family."""
    try:
        spec = get(name)
    except UnknownModelError:
        return None
    if not spec.presets:
        return None
    found = getattr(importlib.import_module(spec.presets), "DEFAULTS_SEARCH", None)
    return dict(found) if found and found.get("trials") else None
