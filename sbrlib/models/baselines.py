"""Strong non-neural baselines for next-item prediction, vectorized with numpy / scipy.sparse.

All implement :class:`~sbrlib.models.base.SessionModel` and are fitted on sessionized events:

* :class:`Pop` – global popularity (training support).
* :class:`SessionPop` – items already in the session by count, ties broken by global popularity.
* :class:`ItemKNN` – item-to-item cosine on session co-occurrence, scored from the last item
  (the baseline of the GRU4Rec paper, with its regularization ``lam`` and ``alpha``).
* :class:`SequentialRules` – SR: i -> j when j follows i within ``steps`` positions, weighted 1/distance.
* :class:`Markov` – first-order transition probabilities P(next | last).
* :class:`VSKNN` – session kNN with linear recency decay of the current session, neighbours chosen
  among the ``sample_size`` most recent training sessions sharing an item, top ``k`` by cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sbrlib.batching import contiguous_sessions
from sbrlib.columns import ITEM, SESSION, TIME
from sbrlib.models.base import SessionModel
from sbrlib.preprocess import ItemIndex


def _prepared(train: pd.DataFrame) -> tuple[pd.DataFrame, ItemIndex, np.ndarray, np.ndarray]:
    """Contiguous sessions, item index, item indices (n_events,), session codes (n_events,)."""
    events = contiguous_sessions(train)
    index = ItemIndex.from_events(events)
    items = index.to_idx(events[ITEM].to_numpy())
    sessions = pd.factorize(events[SESSION], sort=False)[0]
    return events, index, items, sessions


def _session_item_matrix(sessions: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """(n_sessions, n_items) binary matrix of which items occur in which session."""
    n_sessions = int(sessions.max()) + 1 if len(sessions) else 0
    mat = sp.csr_matrix((np.ones(len(items), np.float32), (sessions, items)), shape=(n_sessions, n_items))
    mat.data[:] = 1.0  # duplicates summed by the constructor -> binary
    return mat


def _forward_pairs(sessions: np.ndarray, items: np.ndarray, max_distance: int):
    """(src, dst, distance) for every pair j after i within ``max_distance`` positions of one session."""
    src, dst, dist = [], [], []
    for d in range(1, max_distance + 1):
        same = sessions[d:] == sessions[:-d]
        src.append(items[:-d][same])
        dst.append(items[d:][same])
        dist.append(np.full(int(same.sum()), d, np.int32))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(dist)


class _LastItemModel(SessionModel):
    """Scores from a (n_items, n_items) sparse matrix row of the slot's last item."""

    matrix: sp.csr_matrix

    def reset(self, batch_size: int) -> None:
        self._tiebreak = (self.popularity() / (self.popularity().max() + 1.0) * 1e-6).astype(np.float32)

    def step(self, items: np.ndarray, starts: np.ndarray, users: np.ndarray | None = None,
             active: np.ndarray | None = None) -> np.ndarray:
        scores = self.matrix[np.asarray(items)].toarray()
        return scores + self._tiebreak  # popularity only breaks ties among equal rule scores


class Pop(SessionModel):
    """Most popular items in training (the same list for every prediction)."""

    name = "Pop"

    def fit(self, train: pd.DataFrame) -> Pop:
        self.item_index = ItemIndex.from_events(train)
        self._scores = self.popularity().astype(np.float32)
        return self

    def reset(self, batch_size: int) -> None:
        """Stateless: nothing to allocate."""

    def step(self, items, starts, users=None, active=None):
        return np.broadcast_to(self._scores, (len(items), self.n_items))


class SessionPop(SessionModel):
    """Items of the current session by in-session count; global popularity breaks ties."""

    name = "S-Pop"

    def fit(self, train: pd.DataFrame) -> SessionPop:
        self.item_index = ItemIndex.from_events(train)
        pop = self.popularity()
        self._tiebreak = (pop / (pop.max() + 1.0)).astype(np.float32)
        return self

    def reset(self, batch_size: int) -> None:
        self._counts = np.zeros((batch_size, self.n_items), np.float32)

    def step(self, items, starts, users=None, active=None):
        self._counts[np.asarray(starts, bool)] = 0.0
        np.add.at(self._counts, (np.arange(len(items)), np.asarray(items)), 1.0)
        return self._counts + self._tiebreak


@dataclass(frozen=True)
class ItemKNNConfig:
    """Item-kNN parameters (GRU4Rec paper defaults).

    Attributes:
        lam: regularization added to item supports in the denominator.
        alpha: 0.5 gives cosine; other values balance the two supports asymmetrically.
    """

    lam: float = 20.0
    alpha: float = 0.5


class ItemKNN(_LastItemModel):
    """sim(i, j) = |S_i & S_j| / ((|S_i| + lam)^alpha (|S_j| + lam)^(1 - alpha)); score = sim(last, .)."""

    name = "Item-kNN"

    def __init__(self, config: ItemKNNConfig = ItemKNNConfig()) -> None:
        self.config = config

    def fit(self, train: pd.DataFrame) -> ItemKNN:
        _, self.item_index, items, sessions = _prepared(train)
        x = _session_item_matrix(sessions, items, len(self.item_index))
        co = (x.T @ x).tocoo()
        support = np.asarray(x.sum(axis=0)).ravel() + self.config.lam
        a = self.config.alpha
        keep = co.row != co.col
        rows, cols = co.row[keep], co.col[keep]
        vals = co.data[keep] / (support[rows] ** a * support[cols] ** (1 - a))
        self.matrix = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=co.shape)
        return self


@dataclass(frozen=True)
class SRConfig:
    """Sequential rules parameters.

    Attributes:
        steps: maximum distance between the two items of a rule.
    """

    steps: int = 10


class SequentialRules(_LastItemModel):
    """SR (Ludewig & Jannach): weight of rule i -> j = sum over occurrences of 1 / distance."""

    name = "SR"

    def __init__(self, config: SRConfig = SRConfig()) -> None:
        self.config = config

    def fit(self, train: pd.DataFrame) -> SequentialRules:
        _, self.item_index, items, sessions = _prepared(train)
        src, dst, dist = _forward_pairs(sessions, items, self.config.steps)
        n = len(self.item_index)
        self.matrix = sp.csr_matrix(((1.0 / dist).astype(np.float32), (src, dst)), shape=(n, n))
        return self


class Markov(_LastItemModel):
    """First-order Markov chain: P(next = j | last = i) from consecutive training pairs."""

    name = "Markov"

    def fit(self, train: pd.DataFrame) -> Markov:
        _, self.item_index, items, sessions = _prepared(train)
        src, dst, _ = _forward_pairs(sessions, items, 1)
        n = len(self.item_index)
        counts = sp.csr_matrix((np.ones(len(src), np.float32), (src, dst)), shape=(n, n))
        totals = np.asarray(counts.sum(axis=1)).ravel()
        self.matrix = sp.diags(1.0 / np.maximum(totals, 1.0)).astype(np.float32) @ counts
        self.matrix = sp.csr_matrix(self.matrix)
        return self


@dataclass(frozen=True)
class VSKNNConfig:
    """V-SKNN parameters (Ludewig & Jannach, 2018).

    Attributes:
        k: number of neighbour sessions.
        sample_size: neighbours are chosen among this many most recent training sessions that
            share at least one item with the current session.
    """

    k: int = 100
    sample_size: int = 500


class VSKNN(SessionModel):
    """Session-based kNN with linear decay: the item at position p of a session of length L weighs p/L.

    sim(current, n) = sum_{i in n} w_i / (||w|| * sqrt(|n|)) (cosine of the decayed current session
    with the binary neighbour); score(j) = sum of sim over the top-k neighbours containing j.
    """

    name = "V-SKNN"

    def __init__(self, config: VSKNNConfig = VSKNNConfig()) -> None:
        self.config = config

    def fit(self, train: pd.DataFrame) -> VSKNN:
        events, self.item_index, items, sessions = _prepared(train)
        end = events.groupby(sessions, sort=True)[TIME].max().to_numpy()
        # renumber sessions by recency (0 = most recent; ties by session order), so that the first
        # non-zeros of a row of (current @ X.T) in column order are the most recent candidates
        order = np.lexsort((np.arange(len(end)), -end))
        recency = np.empty(len(end), np.int64)
        recency[order] = np.arange(len(end))
        self._x = _session_item_matrix(recency[sessions], items, len(self.item_index))
        # each item's `sample_size` most recent sessions. Exact for V-SKNN: if c is among the
        # sample_size most recent sessions sharing an item with the current session, fewer than
        # sample_size sessions containing any shared item i are more recent than c, so c is in
        # every shared item's truncated list and its similarity is complete.
        xt = sp.csr_matrix(self._x.T)
        xt.sort_indices()
        rank = np.arange(xt.nnz) - np.repeat(xt.indptr[:-1], np.diff(xt.indptr))
        keep = rank < self.config.sample_size
        rows = np.repeat(np.arange(xt.shape[0]), np.diff(xt.indptr))[keep]
        self._x_recent = sp.csr_matrix((xt.data[keep], (xt.indices[keep], rows)), shape=self._x.shape)
        self._norm = np.sqrt(np.asarray(self._x.sum(axis=1)).ravel()).astype(np.float32)
        return self

    def reset(self, batch_size: int) -> None:
        self._pos = np.zeros((batch_size, self.n_items), np.float32)
        self._len = np.zeros(batch_size, np.float32)
        pop = self.popularity()
        self._tiebreak = (pop / (pop.max() + 1.0) * 1e-6).astype(np.float32)

    def step(self, items, starts, users=None, active=None):
        items = np.asarray(items)
        starts = np.asarray(starts, bool)
        B = len(items)
        self._pos[starts] = 0.0
        self._len[starts] = 0.0
        self._len += 1.0
        self._pos[np.arange(B), items] = self._len
        live = np.arange(B) if active is None else np.flatnonzero(active)
        out = np.zeros((B, self.n_items), np.float32)
        if not len(live):
            return out
        weights = sp.csr_matrix(self._pos[live] / self._len[live, None])
        wnorm = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
        # (b, n_sessions), columns = recency rank, computed as (X_recent @ W.T) -> CSC: its columns
        # are our rows with session indices sorted by construction (linear time, no sort).
        sims = (self._x_recent @ sp.csr_matrix(weights.T)).tocsc()
        sims = sp.csr_matrix((sims.data, sims.indices, sims.indptr), shape=(len(live), self._x.shape[0]))
        b = len(live)
        counts = np.diff(sims.indptr)
        row = np.repeat(np.arange(b), counts)
        rank = np.arange(len(sims.indices)) - sims.indptr[row]
        keep = rank < self.config.sample_size  # the most recent candidates of each row
        row, rank, col = row[keep], rank[keep], sims.indices[keep]
        val = sims.data[keep] / (np.maximum(wnorm[row], 1e-12) * self._norm[col])
        width = max(int(min(counts.max(initial=0), self.config.sample_size)), 1)
        dense_val = np.full((b, width), -np.inf, np.float32)
        dense_col = np.zeros((b, width), np.int64)
        dense_val[row, rank] = val
        dense_col[row, rank] = col
        k = min(self.config.k, width)
        top = np.argpartition(-dense_val, k - 1, axis=1)[:, :k]
        top_val = np.take_along_axis(dense_val, top, axis=1)
        top_col = np.take_along_axis(dense_col, top, axis=1)
        ok = np.isfinite(top_val)
        neighbours = sp.csr_matrix((top_val[ok], (np.nonzero(ok)[0], top_col[ok])), shape=(b, self._x.shape[0]))
        out[live] = (neighbours @ self._x).toarray() + self._tiebreak
        return out
