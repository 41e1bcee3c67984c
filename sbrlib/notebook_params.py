"""What each notebook's parameters may be: one spec per notebook, used by the notebook's own
validation cell and by ``make run-all`` before anything runs (see :mod:`sbrlib.checks`).

Keys are notebook file names without ``.ipynb``. A notebook's spec lists every parameter of its
``parameters`` cell; ``make run-all`` refuses a profile entry that no notebook declares.
"""

from __future__ import annotations

from sbrlib import checks as C
from sbrlib.metrics import TIE_POLICIES

DATASETS = ("ml-1m", "ml-100k", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "synthetic", "synthetic-tiny", "synthetic-25m")
"""Datasets the notebooks accept (``DATASET``); :mod:`sbrlib.datasets` may know more."""

_COMMON = {
    "DATASET": C.one_of(*DATASETS),
    "DATA_DIR": C.text(),
}
_SPLIT = {
    "SESSION_MODE": C.one_of("gap", "user"),
    "SPLIT_NAME": C.text(),
}


def _choices_list(*allowed: str) -> C.Check:
    """A non-empty list of distinct values from ``allowed`` (e.g. notebook 03's ``MODELS``)."""
    def check(value) -> str | None:
        ok = isinstance(value, (list, tuple)) and len(value) > 0 and len(set(value)) == len(value) and all(
            v in allowed for v in value)
        return None if ok else "a non-empty list of distinct values from " + ", ".join(repr(a) for a in allowed)
    return check


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
        "CHOSEN_GAP": C.integer(min=1),
    },
    "02_preprocessing": {
        **_COMMON, **_SPLIT,
        "SESSION_GAP": C.integer(min=1),
        "MIN_RATING": C.optional(C.integer(min=1, max=5)),
        "TIE_BREAK": C.one_of("file", "item", "random"),
        "MIN_SESSION_LENGTH": C.integer(min=2),
        "MIN_ITEM_SUPPORT": C.integer(min=1),
        "TEST_DAYS": C.optional(C.number(gt=0)),
        "TEST_FRACTION": C.number(gt=0, lt=1),
        "VALID_DAYS": C.optional(C.number(gt=0)),
        "VALID_FRACTION": C.number(gt=0, lt=1),
        "FORCE": C.boolean(),
    },
    "03_tuning": {
        **_COMMON, **_SPLIT,
        "MODELS": _choices_list("gru4rec", "sasrec", "item-knn", "sr", "v-sknn"),
        "METRIC": C.one_of("mrr@20", "recall@20"),
        "TUNE_MINUTES": C.optional(C.number(gt=0)),
        "TUNE_TRIALS": C.optional(C.integer(min=1)),
        "EPOCHS": C.integer(min=1),
        "LAYERS": C.optional(C.int_list(min=1)),
        "BATCH_SIZE": C.optional(C.integer(min=1)),
        "N_SAMPLE": C.optional(C.integer(min=0)),
        "VSKNN_SAMPLE": C.optional(C.integer(min=1)),
        "REUSE_STUDY": C.boolean(),
        "STUDY_FILE": C.text(),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "SEED": C.integer(min=0),
    },
    "04_train_gru4rec": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "CONFIG": C.one_of("tuned", "default", "official", "movielens-gap", "movielens-user"),
        "STUDY_FILE": C.text(),
        "METRIC": C.one_of("mrr@20", "recall@20"),
        "LOSS": C.optional(C.one_of("cross-entropy", "bpr-max")),
        "LAYERS": C.optional(C.int_list(min=1)),
        "EMBEDDING_DIM": C.optional(C.integer(min=0)),
        "CONSTRAINED_EMBEDDING": C.optional(C.boolean()),
        "BATCH_SIZE": C.optional(C.integer(min=1)),
        "EPOCHS": C.optional(C.integer(min=1)),
        "N_SAMPLE": C.optional(C.integer(min=0)),
        "SAMPLE_ALPHA": C.optional(C.number(min=0, max=1)),
        "LOGQ": C.optional(C.number(min=0)),
        "BPREG": C.optional(C.number(min=0)),
        "ELU_PARAM": C.optional(C.number(min=0)),
        "DROPOUT_EMBED": C.optional(C.number(min=0, lt=1)),
        "DROPOUT_HIDDEN": C.optional(C.number(min=0, lt=1)),
        "OPTIMIZER": C.optional(C.one_of("adagrad", "adam")),
        "LEARNING_RATE": C.optional(C.number(gt=0)),
        "MOMENTUM": C.optional(C.number(min=0, lt=1)),
        "SEED": C.optional(C.integer(min=0)),
        "EARLY_STOPPING_PATIENCE": C.optional(C.integer(min=1)),
        "REFIT": C.boolean(),
        "REFIT_EPOCHS": C.optional(C.integer(min=1)),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "OVERWRITE": C.boolean(),
    },
    "05_evaluation": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "KS": C.int_list(min=1),
        "TIE_POLICY": C.one_of(*TIE_POLICIES),
        "EXCLUDE_SEEN": C.one_of("none", "session", "user", True, False),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "BASELINE_PARAMS": C.one_of("defaults", "tuned"),
        "ITEMKNN_LAMBDA": C.number(min=0),
        "ITEMKNN_ALPHA": C.number(min=0, max=1),
        "SR_STEPS": C.integer(min=1),
        "VSKNN_K": C.integer(min=1),
        "VSKNN_SAMPLE": C.integer(min=1),
        "N_BOOT": C.integer(min=1),
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
        "SESSION_GAP": C.integer(min=1),
        "PROTOCOLS": _choices_list("temporal", "loo"),
        "MODELS": _choices_list("SR", "Item-kNN", "GRU4Rec", "SASRec"),
        "EXCLUDE_SEEN": C.one_of("none", "session", "user"),
        "LOO_MIN_USER_EVENTS": C.integer(min=3),
        "LOO_MIN_ITEM_SUPPORT": C.integer(min=1),
        "SASREC_CONFIG": C.one_of("tuned", "default"),
        "SASREC_MAX_LEN": C.optional(C.integer(min=1)),
        "SASREC_BLOCKS": C.optional(C.integer(min=1)),
        "SASREC_HEADS": C.optional(C.integer(min=1)),
        "SASREC_DIM": C.optional(C.integer(min=1)),
        "SASREC_DROPOUT": C.optional(C.number(min=0, lt=1)),
        "SASREC_LOSS": C.optional(C.one_of("cross-entropy", "sampled-softmax", "gbce")),
        "SASREC_BATCH_SIZE": C.optional(C.integer(min=1)),
        "SASREC_LEARNING_RATE": C.optional(C.number(gt=0)),
        "SASREC_EPOCHS": C.integer(min=1),
        "CONFIG": C.one_of("tuned", "default", "official", "movielens-gap", "movielens-user"),
        "LAYERS": C.optional(C.int_list(min=1)),
        "BATCH_SIZE": C.optional(C.integer(min=1)),
        "N_SAMPLE": C.optional(C.integer(min=0)),
        "LEARNING_RATE": C.optional(C.number(gt=0)),
        "EPOCHS": C.integer(min=1),
        "BASELINE_PARAMS": C.one_of("tuned", "defaults"),
        "PATIENCE": C.integer(min=1),
        "FIT_MINUTES": C.optional(C.number(gt=0)),
        "REFIT": C.boolean(),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "N_BOOT": C.integer(min=1),
        "SEED": C.integer(min=0),
    },
}


def preprocess_config(values: dict):
    """The :class:`~sbrlib.preprocess.PreprocessConfig` that notebook 02's parameters describe.

    Args:
        values: 02's parameters (``SESSION_MODE``, ``SESSION_GAP``, ``MIN_RATING``, ``TIE_BREAK``,
            ``MIN_SESSION_LENGTH``, ``MIN_ITEM_SUPPORT``, ``TEST_DAYS``, ``TEST_FRACTION``,
            ``VALID_DAYS``, ``VALID_FRACTION``).
    """
    from sbrlib.preprocess import PreprocessConfig, SplitConfig

    return PreprocessConfig(
        min_rating=values["MIN_RATING"], session_mode=values["SESSION_MODE"], session_gap=values["SESSION_GAP"],
        tie_break=values["TIE_BREAK"], min_session_length=values["MIN_SESSION_LENGTH"],
        min_item_support=values["MIN_ITEM_SUPPORT"],
        test=SplitConfig(days=values["TEST_DAYS"], fraction=values["TEST_FRACTION"]),
        valid=SplitConfig(days=values["VALID_DAYS"], fraction=values["VALID_FRACTION"]),
    )
