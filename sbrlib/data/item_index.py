"""The dense item index of a training frame: item ids <-> 0..n_items-1, with each item's support.

Every model scores items in this order; unknown ids are never mapped silently."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM


class ItemIndex:
    """Dense index of item ids (0..n_items-1), built on training data only.

    Items are ordered by ``ItemId``; ``support`` is each item's number of training events.
    Unknown ids are never mapped silently: :meth:`to_idx` raises or returns -1 only when
    asked to (``missing="mask"``), and callers must drop them.
    """

    def __init__(self, item_ids: np.ndarray, support: np.ndarray | None = None) -> None:
        ids = np.asarray(item_ids)
        if len(ids) and np.any(np.diff(ids) <= 0):
            raise ValueError("item_ids must be strictly increasing")
        self.ids = ids
        self.support = np.asarray(support) if support is not None else np.ones(len(ids), np.int64)

    @classmethod
    def from_events(cls, df: pd.DataFrame) -> ItemIndex:
        """Index of the items of ``df`` with their event counts."""
        ids, counts = np.unique(df[ITEM].to_numpy(), return_counts=True)
        return cls(ids, counts)

    def __len__(self) -> int:
        return len(self.ids)

    def to_idx(self, item_ids: np.ndarray, missing: Literal["raise", "mask"] = "raise") -> np.ndarray:
        """Map item ids to indices (int64). Unknown ids raise, or give -1 with ``missing="mask"``."""
        item_ids = np.asarray(item_ids)
        pos = np.searchsorted(self.ids, item_ids)
        pos_c = np.minimum(pos, max(len(self.ids) - 1, 0))
        known = (pos < len(self.ids)) & (self.ids[pos_c] == item_ids) if len(self.ids) else np.zeros(item_ids.shape, bool)
        if missing == "raise" and not known.all():
            unknown = np.unique(item_ids[~known])[:10]
            raise KeyError(f"{(~known).sum()} item id(s) not in the training item index, e.g. {unknown.tolist()}")
        return np.where(known, pos_c, -1).astype(np.int64)

    def contains(self, item_ids: np.ndarray) -> np.ndarray:
        """Boolean mask of ids present in the index."""
        return self.to_idx(item_ids, missing="mask") >= 0

    def to_ids(self, idx: np.ndarray) -> np.ndarray:
        """Map indices back to item ids."""
        return self.ids[np.asarray(idx)]

    def to_frame(self) -> pd.DataFrame:
        """``ItemId, ItemIdx, Support`` frame."""
        return pd.DataFrame({ITEM: self.ids, "ItemIdx": np.arange(len(self.ids)), "Support": self.support})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ItemIndex:
        """Inverse of :meth:`to_frame`."""
        frame = frame.sort_values(ITEM, kind="stable")
        return cls(frame[ITEM].to_numpy(), frame["Support"].to_numpy())


# --------------------------------------------------------------------------- statistics
