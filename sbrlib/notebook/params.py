"""What each notebook's parameters may be: one spec per notebook, used by the notebook's own
validation cell (:func:`validate_notebook`) and by ``make run-all`` before anything runs.

A notebook validates its ``parameters`` cell in the next code cell::

    from sbrlib.notebook import params as notebook_params
    notebook_params.validate_notebook("04_train_gru4rec", globals())

Keys are notebook file names without ``.ipynb``. A notebook's spec lists every parameter of its
``parameters`` cell; ``make run-all`` refuses a profile entry that no notebook declares. A
parameter that sets a config field reuses that field's rule (:func:`sbrlib.core.checks.rule`), so the
library and the notebooks refuse the same values; a few are stricter here (e.g. a training
notebook's ``EPOCHS`` must be >= 1 where the config allows 0). Model names (``MODELS``) are
registry keys, display names accepted in any case (:mod:`sbrlib.models.registry`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbrlib.core import checks as C
from sbrlib.core.checks import rule
from sbrlib.core.errors import UserFacingError
from sbrlib.data.preprocess import LOOConfig, PreprocessConfig, SplitConfig
from sbrlib.evaluation.evaluator import EvalConfig
from sbrlib.evaluation.uncertainty import BootstrapConfig
from sbrlib.models import registry
from sbrlib.models.baselines import ItemKNNConfig, SRConfig, VSKNNConfig
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.presets import PRESETS
from sbrlib.models.sasrec.config import SASRecConfig
from sbrlib.models.sasrec.presets import PRESETS as SASREC_PRESETS

DATASETS = ("ml-1m", "ml-100k", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "synthetic", "synthetic-tiny", "synthetic-25m")
"""Datasets the notebooks accept (``DATASET``); :mod:`sbrlib.data` may know more."""

GRU4REC_CONFIGS = ("tuned", "default", *PRESETS)
"""Values of ``CONFIG`` (notebooks 04 and 07): a tuned or default config, or a preset."""

_COMMON = {
    "DATASET": C.one_of(*DATASETS),
    "DATA_DIR": C.text(),
}
_SPLIT = {
    "SESSION_MODE": rule(PreprocessConfig, "session_mode"),
    "SPLIT_NAME": C.text(),
}


def _opt(config_class: type, name: str) -> C.Check:
    """None (keep the config's value) or a value that field accepts."""
    return C.optional(rule(config_class, name))


def _choices_list(*allowed: str) -> C.Check:
    """A non-empty list of distinct values from ``allowed`` (e.g. notebook 07's ``PROTOCOLS``)."""
    def check(value) -> str | None:
        ok = isinstance(value, (list, tuple)) and len(value) > 0 and len(set(value)) == len(value) and all(
            v in allowed for v in value)
        return None if ok else "a non-empty list of distinct values from " + ", ".join(repr(a) for a in allowed)
    return check


def models_list(among: tuple[str, ...]) -> C.Check:
    """A non-empty list of distinct models among the registry keys ``among`` (display names accepted, any case)."""
    def check(value) -> str | None:
        try:
            ok = isinstance(value, (list, tuple)) and len(value) > 0
            keys = [registry.resolve(v, among) for v in value] if ok else []
            ok = ok and len(set(keys)) == len(keys)
        except registry.UnknownModelError:
            ok = False
        return None if ok else ("a non-empty list of distinct models from " + ", ".join(repr(a) for a in among)
                                + " (display names such as " + repr(registry.NAMES[among[-1]]) + " accepted)")
    return check


def model_keys(models: list | tuple) -> list[str]:
    """The registry keys of a ``MODELS`` parameter (display names resolved)."""
    return [registry.resolve(m) for m in models]


SEQUENTIAL_MODELS = ("sr", "item-knn", "gru4rec", "sasrec")
"""Models notebook 07 compares (``MODELS``)."""

SPECS: dict[str, dict[str, C.Check]] = {
    "00_what_went_wrong": {
        **_COMMON,
        "ORIGINAL_SPLIT_DAYS": C.optional(C.number(gt=0)),
        "ORIGINAL_BATCH_SIZE": C.integer(min=1),
        "LOADER_MAX_STEPS": C.integer(min=1),
        "ORIGINAL_UNITS": C.integer(min=1),
        "ONEHOT_STEPS": C.integer(min=2),
        "SPEED_STEPS": C.integer(min=2),
        "ARGSORT_PREDICTIONS": C.integer(min=10),
        "SEED": C.integer(min=0),
    },
    "01_eda": {
        **_COMMON,
        "GAPS": C.int_list(min=1),
        "CHOSEN_GAP": rule(PreprocessConfig, "session_gap"),
    },
    "02_preprocessing": {
        **_COMMON, **_SPLIT,
        "SESSION_GAP": rule(PreprocessConfig, "session_gap"),
        "MIN_RATING": rule(PreprocessConfig, "min_rating"),
        "TIE_BREAK": rule(PreprocessConfig, "tie_break"),
        "MIN_SESSION_LENGTH": rule(PreprocessConfig, "min_session_length"),
        "MIN_ITEM_SUPPORT": rule(PreprocessConfig, "min_item_support"),
        "TEST_DAYS": rule(SplitConfig, "days"),
        "TEST_FRACTION": rule(SplitConfig, "fraction"),
        "VALID_DAYS": rule(SplitConfig, "days"),
        "VALID_FRACTION": rule(SplitConfig, "fraction"),
        "FORCE": C.boolean(),
    },
    "03_tuning": {
        **_COMMON, **_SPLIT,
        "MODELS": models_list(registry.TUNABLE),
        "METRIC": C.one_of("mrr@20", "recall@20"),
        "TUNE_MINUTES": C.optional(C.number(gt=0)),
        "TUNE_TRIALS": C.optional(C.integer(min=1)),
        "EPOCHS": C.integer(min=1),  # stricter than GRU4RecConfig.epochs (>= 0): a trial trains
        "LAYERS": _opt(GRU4RecConfig, "layers"),
        "BATCH_SIZE": _opt(GRU4RecConfig, "batch_size"),
        "N_SAMPLE": _opt(GRU4RecConfig, "n_sample"),
        "VSKNN_SAMPLE": _opt(VSKNNConfig, "sample_size"),
        "REUSE_STUDY": C.boolean(),
        "STUDY_FILE": C.text(),
        "EVAL_BATCH_SIZE": rule(EvalConfig, "batch_size"),
        "SEED": C.integer(min=0),
    },
    "04_train_gru4rec": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "CONFIG": C.one_of(*GRU4REC_CONFIGS),
        "STUDY_FILE": C.text(),
        "METRIC": C.one_of("mrr@20", "recall@20"),
        "LOSS": _opt(GRU4RecConfig, "loss"),
        "LAYERS": _opt(GRU4RecConfig, "layers"),
        "EMBEDDING_DIM": _opt(GRU4RecConfig, "embedding_dim"),
        "CONSTRAINED_EMBEDDING": _opt(GRU4RecConfig, "constrained_embedding"),
        "BATCH_SIZE": _opt(GRU4RecConfig, "batch_size"),
        "EPOCHS": C.optional(C.integer(min=1)),  # stricter than GRU4RecConfig.epochs (>= 0): 04 trains
        "N_SAMPLE": _opt(GRU4RecConfig, "n_sample"),
        "SAMPLE_ALPHA": _opt(GRU4RecConfig, "sample_alpha"),
        "LOGQ": _opt(GRU4RecConfig, "logq"),
        "BPREG": _opt(GRU4RecConfig, "bpreg"),
        "ELU_PARAM": _opt(GRU4RecConfig, "elu_param"),
        "DROPOUT_EMBED": _opt(GRU4RecConfig, "dropout_embed"),
        "DROPOUT_HIDDEN": _opt(GRU4RecConfig, "dropout_hidden"),
        "OPTIMIZER": _opt(GRU4RecConfig, "optimizer"),
        "LEARNING_RATE": _opt(GRU4RecConfig, "learning_rate"),
        "MOMENTUM": _opt(GRU4RecConfig, "momentum"),
        "SEED": _opt(GRU4RecConfig, "seed"),
        "EARLY_STOPPING_PATIENCE": _opt(GRU4RecConfig, "early_stopping_patience"),
        "REFIT": C.boolean(),
        "REFIT_EPOCHS": C.optional(C.integer(min=1)),
        "EVAL_BATCH_SIZE": rule(GRU4RecConfig, "eval_batch_size"),
        "OVERWRITE": C.boolean(),
    },
    "05_evaluation": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "KS": rule(EvalConfig, "ks"),
        "TIE_POLICY": rule(EvalConfig, "tie_policy"),
        "EXCLUDE_SEEN": rule(EvalConfig, "exclude_seen"),
        "EVAL_BATCH_SIZE": rule(EvalConfig, "batch_size"),
        "BASELINE_PARAMS": C.one_of("defaults", "tuned"),
        "ITEMKNN_LAMBDA": rule(ItemKNNConfig, "lam"),
        "ITEMKNN_ALPHA": rule(ItemKNNConfig, "alpha"),
        "SR_STEPS": rule(SRConfig, "steps"),
        "VSKNN_K": rule(VSKNNConfig, "k"),
        "VSKNN_SAMPLE": rule(VSKNNConfig, "sample_size"),
        "N_BOOT": rule(BootstrapConfig, "n_boot"),
        "ORDER_EXPERIMENT": C.boolean(),
        "ORDER_EPOCHS": C.optional(C.integer(min=0)),
        "ORDER_SECONDS": C.optional(C.number(gt=0)),
        "SEED": C.integer(min=0),
    },
    "06_try_it": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "TITLES": lambda v: None if isinstance(v, (list, tuple)) and all(isinstance(t, str) and t.strip() for t in v)
        else 'a list of movie titles, e.g. ["Toy Story", "Heat"] ([]: the first items of a random validation session)',
        "N_FIRST": C.integer(min=1),
        "K": C.integer(min=1),
        "EXCLUDE_SEEN": C.boolean(),
        "INTERACTIVE": C.optional(C.boolean()),
        "SEED": C.integer(min=0),
    },
    "07_sequential_models": {
        **_COMMON, **_SPLIT,
        "SESSION_GAP": rule(PreprocessConfig, "session_gap"),
        "PROTOCOLS": _choices_list("temporal", "loo"),
        "MODELS": models_list(SEQUENTIAL_MODELS),
        "EXCLUDE_SEEN": C.one_of("none", "session", "user"),  # stricter than EvalConfig: no True/False
        "LOO_MIN_USER_EVENTS": rule(LOOConfig, "min_user_events"),
        "LOO_MIN_ITEM_SUPPORT": rule(LOOConfig, "min_item_support"),
        "SASREC_CONFIG": C.one_of("tuned", "default", *SASREC_PRESETS),
        "SASREC_MAX_LEN": _opt(SASRecConfig, "max_len"),
        "SASREC_BLOCKS": _opt(SASRecConfig, "blocks"),
        "SASREC_HEADS": _opt(SASRecConfig, "heads"),
        "SASREC_DIM": _opt(SASRecConfig, "dim"),
        "SASREC_DROPOUT": _opt(SASRecConfig, "dropout"),
        "SASREC_LOSS": _opt(SASRecConfig, "loss"),
        "SASREC_BATCH_SIZE": _opt(SASRecConfig, "batch_size"),
        "SASREC_LEARNING_RATE": _opt(SASRecConfig, "learning_rate"),
        "SASREC_EPOCHS": C.integer(min=1),  # stricter than SASRecConfig.epochs (>= 0): 07 trains
        "CONFIG": C.one_of(*GRU4REC_CONFIGS),
        "LAYERS": _opt(GRU4RecConfig, "layers"),
        "BATCH_SIZE": _opt(GRU4RecConfig, "batch_size"),
        "N_SAMPLE": _opt(GRU4RecConfig, "n_sample"),
        "LEARNING_RATE": _opt(GRU4RecConfig, "learning_rate"),
        "GRU4REC_EPOCHS": C.integer(min=1),  # stricter than GRU4RecConfig.epochs (>= 0): 07 trains
        "BASELINE_PARAMS": C.one_of("tuned", "defaults"),
        "PATIENCE": C.integer(min=1),  # stricter than early_stopping_patience (>= 0): 07 stops after >= 1 worse epoch
        "FIT_MINUTES": C.optional(C.number(gt=0)),
        "REFIT": C.boolean(),
        "REUSE": C.boolean(),
        "EVAL_BATCH_SIZE": rule(EvalConfig, "batch_size"),
        "N_BOOT": rule(BootstrapConfig, "n_boot"),
        "SEED": C.integer(min=0),
    },
}


def validate_notebook(notebook: str, namespace: Mapping[str, Any]) -> None:
    """Check a notebook's parameters (its ``globals()``) against its spec in :data:`SPECS`.

    Raises:
        sbrlib.core.checks.ParameterError: one line per bad value, naming the parameter, its value and
            what is allowed.
    """
    C.validate(namespace, SPECS[notebook], notebook)


def preprocess_config(values: dict):
    """The :class:`~sbrlib.data.preprocess.PreprocessConfig` that notebook 02's parameters describe.

    Args:
        values: 02's parameters (``SESSION_MODE``, ``SESSION_GAP``, ``MIN_RATING``, ``TIE_BREAK``,
            ``MIN_SESSION_LENGTH``, ``MIN_ITEM_SUPPORT``, ``TEST_DAYS``, ``TEST_FRACTION``,
            ``VALID_DAYS``, ``VALID_FRACTION``).
    """
    from sbrlib.data.preprocess import PreprocessConfig, SplitConfig

    return PreprocessConfig(
        min_rating=values["MIN_RATING"], session_mode=values["SESSION_MODE"], session_gap=values["SESSION_GAP"],
        tie_break=values["TIE_BREAK"], min_session_length=values["MIN_SESSION_LENGTH"],
        min_item_support=values["MIN_ITEM_SUPPORT"],
        test=SplitConfig(days=values["TEST_DAYS"], fraction=values["TEST_FRACTION"]),
        valid=SplitConfig(days=values["VALID_DAYS"], fraction=values["VALID_FRACTION"]),
    )


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names and default values of a notebook's ``parameters`` cell (executed in an empty namespace).

    Raises:
        UserFacingError: the notebook has no, or several, cells tagged ``parameters``.
    """
    nb = json.loads(Path(notebook).read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise UserFacingError(f"{notebook}: needs exactly one code cell tagged 'parameters' (found {len(cells)})")
    namespace: dict[str, Any] = {}
    exec("".join(cells[0]["source"]), {}, namespace)  # our own notebooks: literal assignments
    return {k: v for k, v in namespace.items() if k.isupper()}
