"""Named GRU4Rec configurations.

* ``official``: the defaults of the official GRU4Rec implementation (hidasib/GRU4Rec_PyTorch_Official):
  one GRU layer of 100, batch 64, cross-entropy, 2048 shared negatives, sample_alpha 0.5, no logQ,
  no dropout, Adagrad with learning rate 0.05, 10 epochs.
* ``movielens-gap`` / ``movielens-user``: the best configurations of a real hyperparameter search
  (:mod:`sbrlib.tuning`, TPE, objective MRR@20 on ``valid`` after training on ``train_tr``) on
  the real MovieLens 100K split of each session mode (``ml-100k-gap``: 1-hour gap sessions;
  ``ml-100k-user``: a user's history is one session). See :data:`PROVENANCE`.
  ``movielens-gap`` is also the class default of :class:`GRU4RecConfig`: on the user-history split
  it is within 3% of that split's own best (measured, 2 seeds), while the same values rounded
  (128, batch 32, lr 0.01, momentum 0.6) lost 3-5% MRR@20 on the gap split.

Use :func:`preset` (``preset("official", epochs=5)``) or the ``CONFIG`` parameter of
notebook 04. Every value is spelled out, so a preset does not change when the class defaults do.
"""

from __future__ import annotations

from typing import Any

from sbrlib.models.gru4rec.config import GRU4RecConfig

_COMMON: dict[str, Any] = {
    "embedding_dim": 0, "constrained_embedding": True, "optimizer": "adagrad", "nesterov": False,
    "full_softmax": False,
}

PRESETS: dict[str, dict[str, Any]] = {
    "official": {
        **_COMMON, "layers": (100,), "loss": "cross-entropy", "n_sample": 2048, "sample_alpha": 0.5, "logq": 0.0,
        "bpreg": 1.0, "elu_param": 0.5, "dropout_embed": 0.0, "dropout_hidden": 0.0, "learning_rate": 0.05,
        "momentum": 0.0, "batch_size": 64, "epochs": 10,
    },
}
# Best trials of the ML-100K searches (BPR-max in both session modes; see PROVENANCE).
PRESETS["movielens-gap"] = {
    **_COMMON, "layers": (127,), "loss": "bpr-max", "n_sample": 2048, "sample_alpha": 0.1, "logq": 0.0,
    "bpreg": 1.5, "elu_param": 0.0, "dropout_embed": 0.4, "dropout_hidden": 0.0, "learning_rate": 0.008081,
    "momentum": 0.65, "batch_size": 27, "epochs": 10,
}
PRESETS["movielens-user"] = {
    **_COMMON, "layers": (224,), "loss": "bpr-max", "n_sample": 2048, "sample_alpha": 0.0, "logq": 0.0,
    "bpreg": 0.95, "elu_param": 0.0, "dropout_embed": 0.4, "dropout_hidden": 0.0, "learning_rate": 0.04582,
    "momentum": 0.4, "batch_size": 35, "epochs": 10,
}
"""Preset name -> GRU4RecConfig fields (every searched field spelled out)."""

PROVENANCE: dict[str, str] = {
    "official": "defaults of the official GRU4Rec implementation (hidasib/GRU4Rec_PyTorch_Official)",
    "movielens-gap": ("best of 49 trials (15 completed, 32 pruned) of the Optuna search on the real ML-100K split "
                      "ml-100k-gap (1-hour gap sessions), validation MRR@20 0.0638 at epoch 7 (trial 44)"),
    "movielens-user": ("best of 34 trials (13 completed, 19 pruned) of the Optuna search on the real ML-100K split "
                       "ml-100k-user (a user's history is one session), validation MRR@20 0.0639 at epoch 3 (trial 28)"),
}
"""Where each preset comes from."""

DEFAULTS_SEARCH: dict[str, Any] = {"preset": "movielens-gap", "dataset": "ml-100k", "split": "ml-100k-gap",
                                   "trials": 49, "complete": 15, "pruned": 32, "metric": "mrr@20",
                                   "best_value": 0.0638, "best_trial": 44, "best_epoch": 7,
                                   "epochs_per_trial": 10, "recorded": "commit 1456d36 (2026-11-30)"}
"""The search behind :class:`GRU4RecConfig`'s own defaults (= preset ``movielens-gap``): a model trained
with the defaults carries that search's tuning, which a fair comparison must count."""


def preset_names() -> tuple[str, ...]:
    """The names :func:`preset` accepts."""
    return tuple(PRESETS)


def preset(name: str, **overrides: Any) -> GRU4RecConfig:
    """The GRU4RecConfig of preset ``name``, with ``overrides`` applied.

    Raises:
        ValueError: unknown preset name (the message lists the known ones).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown GRU4Rec preset {name!r}; known: {', '.join(PRESETS)}")
    values = {**PRESETS[name], **overrides}
    values["layers"] = tuple(values["layers"])
    return GRU4RecConfig(**values)


__all__ = ["PRESETS", "PROVENANCE", "preset", "preset_names"]
