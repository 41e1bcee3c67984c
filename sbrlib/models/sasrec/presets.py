"""Named SASRec configurations.

* ``kang-mcauley``: the MovieLens-1M setting of Kang & McAuley (ICDM 2018): ``max_len`` 200, 2 blocks,
  1 head, 50 dimensions, dropout 0.2, Adam lr 1e-3 with beta2 0.98, batch 128, with the full-softmax
  cross-entropy of Klenitskiy & Vasilev (RecSys 2023) as the loss (sbrlib's defaults until the search
  below replaced them).
* ``movielens-gap``: the best configuration of a real hyperparameter search (:mod:`sbrlib.tuning`,
  TPE with pruning, objective MRR@20 on ``valid`` after training on ``train_tr``) on the real
  MovieLens 100K split ``ml-100k-gap``, with the same number of trials as the search behind
  GRU4Rec's defaults (:mod:`sbrlib.models.gru4rec.presets`), so that both models' defaults carry
  the same tuning effort. It is the class default of :class:`SASRecConfig`. See :data:`PROVENANCE`.

Use :func:`preset` (``preset("kang-mcauley", epochs=50)``) or notebook 07's ``SASREC_CONFIG``. Every
searched value is spelled out, so a preset does not change when the class defaults do.
"""

from __future__ import annotations

from typing import Any

from sbrlib.models.sasrec.config import SASRecConfig

_COMMON: dict[str, Any] = {"heads": 1, "layer_norm": "original", "ffn_dim": None, "adam_beta1": 0.9,
                           "adam_beta2": 0.98, "adam_eps": 1e-8, "long_sequences": "windows", "stride": 1,
                           "sample_alpha": 1.0, "logq": True}

PRESETS: dict[str, dict[str, Any]] = {
    "kang-mcauley": {
        **_COMMON, "loss": "cross-entropy", "max_len": 200, "blocks": 2, "dim": 50, "dropout": 0.2,
        "learning_rate": 1e-3, "batch_size": 128, "n_negatives": 256, "gbce_t": 0.75,
    },
}
# Best trial of the ML-100K search (see PROVENANCE).
PRESETS["movielens-gap"] = {
    **_COMMON, "loss": "cross-entropy", "max_len": 50, "blocks": 1, "dim": 32, "dropout": 0.1,
    "learning_rate": 0.006228, "batch_size": 128, "n_negatives": 256, "gbce_t": 0.75,
}
"""Preset name -> SASRecConfig fields (every searched field spelled out)."""

PROVENANCE: dict[str, str] = {
    "kang-mcauley": ("Kang & McAuley (ICDM 2018), MovieLens-1M setting, with full-softmax cross-entropy "
                     "(Klenitskiy & Vasilev, RecSys 2023)"),
    "movielens-gap": ("best of 49 trials (16 completed, 33 pruned) of the Optuna search on the real ML-100K split "
                      "ml-100k-gap (1-hour gap sessions), validation MRR@20 0.0481 at epoch 3 (trial 18; up to 50 "
                      "epochs per trial, patience 5; the Kang & McAuley setting, enqueued as trial 0, reached 0.0447)"),
}
"""Where each preset comes from."""

DEFAULTS_SEARCH: dict[str, Any] = {"preset": "movielens-gap", "dataset": "ml-100k", "split": "ml-100k-gap",
                                   "trials": 49, "complete": 16, "pruned": 33, "metric": "mrr@20",
                                   "best_value": 0.0481, "best_trial": 18, "best_epoch": 3,
                                   "epochs_per_trial": 50, "recorded": "commit dc6589e (2026-12-03)"}
"""The search behind :class:`SASRecConfig`'s own defaults (= preset ``movielens-gap``): a model trained
with the defaults carries that search's tuning, which a fair comparison must count."""


def preset_names() -> tuple[str, ...]:
    """The names :func:`preset` accepts."""
    return tuple(PRESETS)


def preset(name: str, **overrides: Any) -> SASRecConfig:
    """The SASRecConfig of preset ``name``, with ``overrides`` applied.

    Raises:
        ValueError: unknown preset name (the message lists the known ones).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown SASRec preset {name!r}; known: {', '.join(PRESETS)}")
    return SASRecConfig(**{**PRESETS[name], **overrides})
