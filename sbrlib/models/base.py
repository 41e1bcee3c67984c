"""The one interface every model implements for :func:`sbrlib.evaluation.evaluator.evaluate`.

Evaluation runs test sessions in session-parallel slots, like GRU4Rec's training: at each step
the evaluator calls ``step(items, starts, users)`` with the current item of every slot and gets
scores over all items of the model's training index. Stateful models (GRU4Rec) keep a hidden
state per slot; stateless baselines keep the current session prefix per slot. ``starts`` marks
slots whose session begins at this step (their state must be cleared first).

Optional: a model whose scores depend only on its last ``context_length`` items (a property) may
also offer ``score_windows(windows, every_position=False)`` (see
:meth:`sbrlib.models.sasrec.SASRec.score_windows`); the evaluator then scores batches of such
windows instead of stepping.
"""

from __future__ import annotations

import abc

import numpy as np
import pandas as pd

from sbrlib.data.item_index import ItemIndex


class SessionModel(abc.ABC):
    """Base class: ``fit(train)`` then ``reset(batch_size)`` and ``step(...)`` per mini-batch step."""

    name: str = "model"
    item_index: ItemIndex

    @abc.abstractmethod
    def fit(self, train: pd.DataFrame) -> SessionModel:
        """Learn from sessionized training events (``SessionId, ItemId, Time``...). Returns self."""

    @abc.abstractmethod
    def reset(self, batch_size: int) -> None:
        """Allocate empty per-slot state for ``batch_size`` parallel sessions."""

    @abc.abstractmethod
    def step(self, items: np.ndarray, starts: np.ndarray, users: np.ndarray | None = None,
             active: np.ndarray | None = None) -> np.ndarray:
        """Consume one item per slot and score every item as the next one.

        Args:
            items: (B,) current item index of each slot.
            starts: (B,) True where a new session starts (clear that slot's state first).
            users: (B,) user ids, for models that use them (optional).
            active: (B,) True for slots holding a session; other rows' scores are ignored, so a
                model may skip them (None: all active).

        Returns:
            (B, n_items) float32 scores, higher is better.
        """

    @property
    def n_items(self) -> int:
        """Number of items the model scores."""
        return len(self.item_index)

    def popularity(self) -> np.ndarray:
        """(n_items,) training support of each item."""
        return np.asarray(self.item_index.support, dtype=np.float64)
