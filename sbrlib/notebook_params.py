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

SPECS: dict[str, dict[str, C.Check]] = {
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
    "04_train_gru4rec": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "LOSS": C.one_of("cross-entropy", "bpr-max"),
        "LAYERS": C.int_list(min=1),
        "EMBEDDING_DIM": C.integer(min=0),
        "CONSTRAINED_EMBEDDING": C.boolean(),
        "BATCH_SIZE": C.integer(min=1),
        "EPOCHS": C.integer(min=1),
        "N_SAMPLE": C.integer(min=0),
        "SAMPLE_ALPHA": C.number(min=0, max=1),
        "LOGQ": C.number(min=0),
        "BPREG": C.number(min=0),
        "ELU_PARAM": C.number(min=0),
        "DROPOUT_EMBED": C.number(min=0, lt=1),
        "DROPOUT_HIDDEN": C.number(min=0, lt=1),
        "OPTIMIZER": C.one_of("adagrad", "adam"),
        "LEARNING_RATE": C.number(gt=0),
        "MOMENTUM": C.number(min=0, lt=1),
        "EARLY_STOPPING_PATIENCE": C.optional(C.integer(min=1)),
        "REFIT": C.boolean(),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "SEED": C.integer(min=0),
        "OVERWRITE": C.boolean(),
    },
    "05_evaluation": {
        **_COMMON, **_SPLIT,
        "MODEL_NAME": C.text(),
        "KS": C.int_list(min=1),
        "TIE_POLICY": C.one_of(*TIE_POLICIES),
        "EXCLUDE_SEEN": C.boolean(),
        "EVAL_BATCH_SIZE": C.integer(min=1),
        "ITEMKNN_LAMBDA": C.number(min=0),
        "ITEMKNN_ALPHA": C.number(min=0, max=1),
        "SR_STEPS": C.integer(min=1),
        "VSKNN_K": C.integer(min=1),
        "VSKNN_SAMPLE": C.integer(min=1),
        "ORDER_EXPERIMENT": C.boolean(),
        "ORDER_EPOCHS": C.optional(C.integer(min=1)),
        "SEED": C.integer(min=0),
    },
}
