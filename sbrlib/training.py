"""The one training loop: epochs, validation, early stopping, time budget, divergence, restore-best.

Nothing in this file knows GRU4Rec or SASRec. A model trained here implements
:class:`Trainable`: ``prepare_training(train)`` (index, network, schedule), ``train_epoch(progress)``
(one pass over the training data, returning its mean ``loss``, ``events`` and ``seconds``; a NaN
or infinite loss is reported, never raised), ``get_weights()``/``set_weights()`` and the
evaluator's ``reset``/``step`` (:class:`sbrlib.models.base.SessionModel`).

:func:`fit` then owns the rest, the same for every model and caller (notebooks 03, 04, 07,
tuning trials):

* **validation** after every epoch through the one evaluator (:func:`sbrlib.evaluation.evaluator.evaluate`;
  with ``positions="last"`` the evaluator's leave-one-out shortcut),
  with ONE explicit setting, :attr:`TrainingConfig.validation`;
* **early stopping**: training stops after ``patience`` consecutive epochs without improvement of
  ``metric`` (patience 2: epochs 5 best, 6 and 7 not better -> stop after epoch 7);
* **wall-clock budget**: checked after each epoch (training and validation); when the seconds since
  :func:`fit` started reach ``budget_seconds``, training stops, so a run overshoots the budget by
  at most one epoch;
* **divergence**: a non-finite training loss stops training (``stopped_by="diverged"``); the best
  weights so far are restored, and without any an error says to lower the learning rate;
* **restore-best**: at the end the model holds the weights of the best validation epoch;
* **hooks**: ``on_epoch(row)`` is called after each epoch's validation; it may raise (e.g.
  ``optuna.TrialPruned``) to stop, and the exception propagates.

The result, :class:`~sbrlib.core.training_facts.TrainingFacts`, says why and when training stopped; it
is stored on the model (``model.training_facts``, ``model.history``) and in its provenance record
(saved with the model).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sbrlib.core.training_facts import TrainingFacts
from sbrlib.evaluation.evaluator import EvalConfig, evaluate

log = logging.getLogger(__name__)

_METRIC = re.compile(r"^(recall|mrr|ndcg)@(\d+)$")
RECORDED = ("recall@10", "ndcg@10", "recall@20", "mrr@20")
"""Validation metrics recorded in every epoch row (besides :attr:`TrainingConfig.metric`)."""


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite before any validated epoch could be restored."""


class Trainable(Protocol):
    """What :func:`fit` needs from a model (besides the evaluator's ``reset``/``step``)."""

    def prepare_training(self, train: pd.DataFrame) -> None: ...

    def train_epoch(self, progress: bool = False) -> dict[str, float]: ...

    def get_weights(self) -> Any: ...

    def set_weights(self, weights: Any) -> None: ...


@dataclass(frozen=True)
class TrainingConfig:
    """How :func:`fit` trains and validates.

    Attributes:
        max_epochs: the epoch cap.
        patience: stop after this many consecutive epochs without improvement of ``metric``
            (>= 1; None: no early stopping). Needs validation data; ignored without it.
        metric: validation metric that chooses the best epoch: ``recall@K``, ``mrr@K`` or
            ``ndcg@K`` of the evaluator (its K is added to the validation cut-offs).
        budget_seconds: wall-clock budget of the whole run, checked after each epoch (None: none).
        restore_best: put the weights of the best validation epoch back at the end.
        validation: the one validation setting (exclude_seen, tie policy, positions ``"all"`` or
            ``"last"`` for leave-one-out, batch size, cut-offs); coverage is never computed.
        recorded: validation metrics written to every epoch row besides ``metric``.
    """

    max_epochs: int = 10
    patience: int | None = None
    metric: str = "recall@20"
    budget_seconds: float | None = None
    restore_best: bool = True
    validation: EvalConfig = EvalConfig(ks=(10, 20), coverage_ks=(), batch_size=512)
    recorded: tuple[str, ...] = RECORDED

    def __post_init__(self) -> None:
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, (int, np.integer)) \
                or self.max_epochs < 0:
            raise ValueError(f"TrainingConfig.max_epochs must be an integer >= 0, got {self.max_epochs!r}")
        if self.patience is not None and (isinstance(self.patience, bool) or int(self.patience) != self.patience
                                          or self.patience < 1):
            raise ValueError(f"TrainingConfig.patience must be an integer >= 1 (epochs in a row without "
                             f"improvement before stopping) or None, got {self.patience!r}")
        for name in (self.metric, *self.recorded):
            if not _METRIC.match(str(name)):
                raise ValueError(f"TrainingConfig: validation metric {name!r} is not one of recall@K, mrr@K, "
                                 "ndcg@K (e.g. 'mrr@20')")
        if self.budget_seconds is not None and not (self.budget_seconds >= 0 and math.isfinite(self.budget_seconds)):
            raise ValueError(f"TrainingConfig.budget_seconds must be a finite number >= 0 or None, "
                             f"got {self.budget_seconds!r}")
        if not isinstance(self.validation, EvalConfig):
            raise TypeError(f"TrainingConfig.validation must be an EvalConfig, got {type(self.validation).__name__}")
        object.__setattr__(self, "recorded", tuple(self.recorded))

    @classmethod
    def from_model(cls, config: Any, **overrides: Any) -> TrainingConfig:
        """The training settings a model config held before the loop moved here.

        Reads ``epochs`` -> ``max_epochs``, ``early_stopping_patience`` -> ``patience``,
        ``validation_metric`` -> ``metric``, ``eval_batch_size`` -> ``validation.batch_size`` and
        ``validation_positions`` (when the config has it) -> ``validation.positions``; validation
        ranks all items with ``exclude_seen="none"`` and conservative ties, as before. Best weights
        are restored when the config asks for early stopping (as before). ``overrides`` (any
        :class:`TrainingConfig` field) win over the model config; and once built, the
        TrainingConfig passed to :func:`fit` wins: the model's fields are read only here.
        """
        patience = getattr(config, "early_stopping_patience", None)
        if patience == 0:
            raise ValueError("early_stopping_patience=0 would stop after the first epoch; use 1 to stop at the "
                             "first epoch without improvement, or None to train all epochs")
        validation = EvalConfig(ks=(10, 20), coverage_ks=(), batch_size=int(getattr(config, "eval_batch_size", 512)),
                                positions=getattr(config, "validation_positions", "all"))
        values: dict[str, Any] = {
            "max_epochs": int(getattr(config, "epochs", 10)),
            "patience": patience,
            "metric": getattr(config, "validation_metric", "recall@20"),
            "restore_best": patience is not None,
            "validation": validation,
        }
        values.update(overrides)
        return cls(**values)

    def eval_config(self) -> EvalConfig:
        """The validation :class:`EvalConfig` with the K of every recorded metric and no coverage."""
        ks = {int(_METRIC.match(m).group(2)) for m in (self.metric, *self.recorded)}
        return dataclasses.replace(self.validation, ks=tuple(sorted(set(self.validation.ks) | ks)), coverage_ks=())


def validate(model: Any, valid: pd.DataFrame, config: TrainingConfig,
             history_frame: pd.DataFrame | None = None) -> dict[str, float]:
    """Validation metrics of ``model`` on ``valid`` with ``config``'s one validation setting.

    Returns:
        ``{metric: value}`` for ``config.metric`` and ``config.recorded``.
    """
    res = evaluate(model, valid, config.eval_config(), progress=False, history=history_frame)
    return {k: float(res.metrics[k]) for k in dict.fromkeys((*config.recorded, config.metric))}


def fit(model: Trainable, train: pd.DataFrame, valid: pd.DataFrame | None = None,
        config: TrainingConfig | None = None, *, history_frame: pd.DataFrame | None = None,
        on_epoch: Callable[[dict[str, float]], None] | None = None, progress: bool = True) -> TrainingFacts:
    """Train ``model`` on ``train`` epoch by epoch, validating on ``valid`` (see the module docstring).

    Args:
        model: a :class:`Trainable` model (GRU4Rec, SASRec, ...).
        train: training events.
        valid: validation sessions (None or empty: no validation, no early stopping, no restore).
        config: training settings (default ``TrainingConfig.from_model(model.config)``).
        history_frame: what the user rated before ``valid`` (usually ``train``), for
            ``exclude_seen="user"`` validation.
        on_epoch: called with each epoch's row (``epoch``, ``loss``, ``seconds``,
            ``events_per_second``, ``validation_seconds``, validation metrics, what the model
            reports) after validation; it may raise to stop training (the exception propagates).
        progress: show the model's progress bars.

    Returns:
        The :class:`TrainingFacts`; also stored as ``model.training_facts``, in
        ``model.provenance["training"]`` and (the epoch rows) ``model.history``.

    Raises:
        TrainingDiverged: the loss became non-finite before any validated epoch.
    """
    if config is None:
        config = TrainingConfig.from_model(model.config)
    validating = valid is not None and len(valid) > 0
    if config.patience is not None and not validating:
        log.info("no validation data: early stopping (patience %s) is off", config.patience)
    start = time.perf_counter()
    model.prepare_training(train)
    rows: list[dict[str, float]] = []
    best_score, best_epoch, best_weights, waited = -math.inf, None, None, 0
    stopped_by = "epochs"
    for epoch in range(1, config.max_epochs + 1):
        out = dict(model.train_epoch(progress=progress))
        loss, seconds, events = float(out.pop("loss")), float(out.pop("seconds")), float(out.pop("events"))
        row = {"epoch": epoch, "loss": loss, "seconds": seconds, "events_per_second": events / max(seconds, 1e-9),
               **{k: float(v) for k, v in out.items()}}
        if not math.isfinite(loss):
            rows.append(row)
            stopped_by = "diverged"
            log.warning("training loss is %s in epoch %d: stopping", loss, epoch)
            break
        if validating:
            t0 = time.perf_counter()
            metrics = validate(model, valid, config, history_frame)
            row["validation_seconds"] = time.perf_counter() - t0
            row.update(metrics)
            score = metrics[config.metric]
            if score > best_score:  # NaN never improves
                best_score, best_epoch, waited = score, epoch, 0
                if config.restore_best:
                    best_weights = model.get_weights()
            else:
                waited += 1
        rows.append(row)
        model.history = pd.DataFrame(rows)
        log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
        if on_epoch is not None:
            on_epoch(dict(row))
        if validating and config.patience is not None and waited >= config.patience:
            stopped_by = "patience"
            break
        if epoch == config.max_epochs:
            break
        if config.budget_seconds is not None and time.perf_counter() - start >= config.budget_seconds:
            stopped_by = "budget"
            break
    if stopped_by == "diverged" and best_weights is None:
        model.history = pd.DataFrame(rows)
        cfg = getattr(model, "config", None)
        knobs = ", ".join(f"{k}={getattr(cfg, k)}" for k in ("learning_rate", "momentum") if hasattr(cfg, k))
        raise TrainingDiverged(
            f"{getattr(model, 'name', type(model).__name__)}: training diverged in epoch {len(rows)} (loss "
            f"{rows[-1]['loss']}) with no validated epoch to fall back to; lower the learning rate"
            f"{f' ({knobs})' if knobs else ''} or check the data")
    if best_weights is not None:
        model.set_weights(best_weights)
    facts = TrainingFacts(
        stopped_by=stopped_by, best_epoch=best_epoch, epochs_run=len(rows),
        still_improving=(best_epoch == len(rows)) if best_epoch is not None else None,
        best_score=float(best_score) if best_epoch is not None else None, metric=config.metric,
        seconds=time.perf_counter() - start, budget_seconds=config.budget_seconds, max_epochs=config.max_epochs,
        patience=config.patience, restored_best=best_weights is not None, history=tuple(rows))
    model.history = pd.DataFrame(rows)
    model.training_facts = facts
    model.provenance = {**(getattr(model, "provenance", None) or {}), "training": facts.to_dict()}
    log.info("%s: %s", getattr(model, "name", type(model).__name__), facts.sentence())
    return facts


__all__ = ["RECORDED", "Trainable", "TrainingConfig", "TrainingDiverged", "TrainingFacts", "fit", "validate"]
