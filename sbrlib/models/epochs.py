"""``model.fit(train)`` for epoch-trained models: a fixed number of epochs, no validation.

Validation, early stopping, the time budget and restore-best live in :func:`sbrlib.training.fit`
(above the models); this is only the convenience every neural model offers without importing it.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pandas as pd

from sbrlib.core.training_facts import TrainingFacts

log = logging.getLogger(__name__)

MOVED = ("validation moved out of the models: train with sbrlib.training.fit(model, train, valid, "
         "TrainingConfig.from_model(model.config)) (early stopping, time budget and restore-best live there)")


def fit_epochs(model: Any, train: pd.DataFrame, epochs: int, progress: bool = True) -> None:
    """``model.prepare_training(train)`` then ``epochs`` calls of ``model.train_epoch``; ``model.history``
    gets one row per epoch (``epoch``, ``loss``, ``seconds``, ``events_per_second`` and what the model
    reports) and ``model.training_facts`` / ``model.provenance["training"]`` the run's
    :class:`~sbrlib.core.training_facts.TrainingFacts` (``stopped_by="epochs"``, no validation).

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the learning rate to lower).
    """
    start = time.perf_counter()
    model.prepare_training(train)
    rows = []
    for epoch in range(1, epochs + 1):
        out = dict(model.train_epoch(progress=progress))
        loss, seconds, events = float(out.pop("loss")), float(out.pop("seconds")), float(out.pop("events"))
        rows.append({"epoch": epoch, "loss": loss, "seconds": seconds, "events_per_second": events / max(seconds, 1e-9),
                     **{k: float(v) for k, v in out.items()}})
        model.history = pd.DataFrame(rows)
        if not math.isfinite(loss):
            cfg = model.config
            knobs = ", ".join(f"{k} now {getattr(cfg, k)}" for k in ("learning_rate", "momentum") if hasattr(cfg, k))
            raise FloatingPointError(f"{model.name} training diverged at epoch {epoch} (loss {loss}); lower the "
                                     f"learning rate ({knobs})")
        log.info("%s epoch %d: %s", model.name, epoch, {k: round(v, 4) for k, v in rows[-1].items()})
    model.history = pd.DataFrame(rows)
    facts = TrainingFacts(stopped_by="epochs", best_epoch=None, epochs_run=len(rows), still_improving=None,
                          best_score=None, metric="", seconds=time.perf_counter() - start, budget_seconds=None,
                          max_epochs=epochs, patience=None, restored_best=False, history=tuple(rows))
    model.training_facts = facts
    model.provenance = {**(getattr(model, "provenance", None) or {}), "training": facts.to_dict()}
