"""Why and when a training run stopped (:class:`TrainingFacts`): a plain, JSON-serialisable record.

It lives apart from :mod:`sbrlib.training` (which writes it) so that the models can read it back
from a saved ``provenance.json`` without importing the training loop or the evaluator above them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

StoppedBy = Literal["epochs", "patience", "budget", "diverged"]
STOPPED_BY = ("epochs", "patience", "budget", "diverged")


@dataclass(frozen=True)
class TrainingFacts:
    """The record of one training run (:func:`sbrlib.training.fit`).

    Attributes:
        stopped_by: ``"epochs"`` (``max_epochs`` were run), ``"patience"`` (``patience`` epochs in a
            row without improvement of the validation metric), ``"budget"`` (the wall-clock budget was
            spent after an epoch) or ``"diverged"`` (the training loss became NaN or infinite).
        best_epoch: epoch with the best validation score, whose weights the model holds when best
            weights were restored (None without validation).
        epochs_run: epochs trained (the diverged one included).
        still_improving: the best epoch is the last epoch run, i.e. training ended before validation
            stopped improving (None without validation).
        best_score: validation ``metric`` at ``best_epoch`` (None without validation).
        metric: the validation metric that chose the best epoch.
        seconds: wall-clock seconds of the whole run (preparation, epochs and validation).
        budget_seconds: the wall-clock budget (None: no budget).
        max_epochs: the epoch cap.
        patience: the early-stopping patience (None: no early stopping).
        restored_best: the weights of ``best_epoch`` were put back at the end.
        history: one dict per epoch: ``epoch``, ``loss``, ``seconds`` (training), ``events_per_second``,
            ``validation_seconds`` and the validation metrics (plus what the model reports, e.g.
            ``occupancy``).
    """

    stopped_by: StoppedBy
    best_epoch: int | None
    epochs_run: int
    still_improving: bool | None
    best_score: float | None
    metric: str
    seconds: float
    budget_seconds: float | None
    max_epochs: int
    patience: int | None
    restored_best: bool = False
    history: tuple[dict[str, float], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.stopped_by not in STOPPED_BY:
            raise ValueError(f"TrainingFacts.stopped_by must be one of {STOPPED_BY}, got {self.stopped_by!r}")
        object.__setattr__(self, "history", tuple(dict(r) for r in self.history))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (non-finite floats become None)."""
        out = asdict(self)
        out["history"] = [{k: _json_float(v) for k, v in row.items()} for row in self.history]
        return {k: _json_float(v) if k != "history" else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingFacts:
        """Inverse of :meth:`to_dict` (unknown keys are ignored, so older records still load)."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["history"] = tuple({k: (float("nan") if v is None else v) for k, v in row.items()}
                                  for row in data.get("history", ()))
        return cls(**kwargs)

    def sentence(self) -> str:
        """Plain-words summary computed only from these facts, e.g. ``"stopped by patience after epoch
        12 (patience 5); best epoch 7 of 12 by mrr@20 (0.3012)"``."""
        reason = {
            "epochs": f"stopped at the epoch cap after epoch {self.epochs_run} (max_epochs {self.max_epochs})",
            "patience": f"stopped by patience after epoch {self.epochs_run} ({self.patience} epochs in a row "
                        "without improvement)",
            "budget": f"stopped by the time budget ({_num(self.budget_seconds)} s) after epoch {self.epochs_run}",
            "diverged": f"stopped because the training loss diverged in epoch {self.epochs_run}",
        }[self.stopped_by]
        if self.best_epoch is None:
            return f"{reason}; no validation, so the last epoch's weights are kept"
        text = (f"{reason}; best epoch {self.best_epoch} of {self.epochs_run} by {self.metric} "
                f"({self.best_score:.4f})")
        if self.restored_best and self.best_epoch != self.epochs_run:
            text += ", whose weights are kept"
        if self.still_improving:
            text += "; validation was still improving at the last epoch, so the model may be undertrained"
        return text


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


__all__ = ["STOPPED_BY", "StoppedBy", "TrainingFacts"]
