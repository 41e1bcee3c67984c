"""Strong non-neural baselines for next-item prediction, vectorized with numpy / scipy.sparse.

All implement :class:`~sbrlib.models.base.SessionModel` and are fitted on sessionized events:

* :class:`Pop` – global popularity (training support).
* :class:`SessionPop` – items already in the session by count, ties broken by global popularity.
* :class:`ItemKNN` – item-to-item cosine on session co-occurrence, scored from the last item
  (the baseline of the GRU4Rec paper, with its regularization ``lam`` and ``alpha``).
* :class:`SequentialRules` – SR: i -> j when j follows i within ``steps`` positions, weighted by
  distance (1/distance by default).
* :class:`Markov` – first-order transition probabilities P(next | last).
* :class:`VSKNN` – session kNN with a position decay of the current session (linear by default),
  neighbours chosen among the ``sample_size`` most recent training sessions sharing an item, top
  ``k`` by cosine; incremental per step, vectorized over the evaluation slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sbrlib.core import checks as C
from sbrlib.core.columns import ITEM, SESSION, TIME
from sbrlib.data.batching import contiguous_sessions
from sbrlib.data.item_index import ItemIndex
from sbrlib.models.base import SessionModel
from sbrlib.models.spaces import Param, choice, float_range, int_range


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
        scores += self._tiebreak  # popularity only breaks ties among equal rule scores
        return scores


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
        alpha: 0.5 gives cosine (with ``lam`` 0); other values balance the two supports asymmetrically.
    """

    lam: float = 20.0
    alpha: float = 0.5

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "lam": C.number(min=0),
        "alpha": C.number(min=0, max=1),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 05's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)


ITEMKNN_SPACE: dict[str, Param] = {
    "lam": float_range(0.1, 500.0, log=True, doc="support regularization"),
    "alpha": float_range(0.0, 1.0, step=0.05, doc="balance of the two supports (0.5 with lam 0: cosine)"),
}
"""Item-kNN's search ranges (read through :mod:`sbrlib.models.registry`)."""


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


SRWeighting = Literal["div", "linear", "quadratic", "log", "one"]
SR_WEIGHTINGS = ("div", "linear", "quadratic", "log", "one")


def rule_weights(distance: np.ndarray, weighting: SRWeighting) -> np.ndarray:
    """Weight of one occurrence of a rule i -> j at ``distance`` (>= 1) positions.

    ``div`` 1/d, ``linear`` max(1 - 0.1 (d - 1), 0), ``quadratic`` max(1 - 0.1 (d - 1), 0)^2,
    ``log`` 1/log2(d + 1), ``one`` 1.
    """
    d = np.asarray(distance, np.float64)
    if weighting == "div":
        return 1.0 / d
    if weighting == "linear":
        return np.maximum(1.0 - 0.1 * (d - 1.0), 0.0)
    if weighting == "quadratic":
        return np.maximum(1.0 - 0.1 * (d - 1.0), 0.0) ** 2
    if weighting == "log":
        return 1.0 / np.log2(d + 1.0)
    if weighting == "one":
        return np.ones_like(d)
    raise ValueError(f"weighting must be one of {', '.join(SR_WEIGHTINGS)}; got {weighting!r}")


@dataclass(frozen=True)
class SRConfig:
    """Sequential rules parameters.

    Attributes:
        steps: maximum distance between the two items of a rule.
        weighting: weight of a rule occurrence at distance d (:func:`rule_weights`); ``div`` (1/d)
            is the original SR.
    """

    steps: int = 10
    weighting: SRWeighting = "div"

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "steps": C.integer(min=1),
        "weighting": C.one_of(*SR_WEIGHTINGS),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 05's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)


SR_SPACE: dict[str, Param] = {
    "steps": int_range(1, 25, doc="largest distance of a rule"),
    "weighting": choice(*SR_WEIGHTINGS, doc="rule weight by distance"),
}
"""SR's search ranges (read through :mod:`sbrlib.models.registry`)."""


class SequentialRules(_LastItemModel):
    """SR (Ludewig & Jannach): weight of rule i -> j = sum over occurrences of w(distance)."""

    name = "SR"

    def __init__(self, config: SRConfig = SRConfig()) -> None:
        self.config = config

    def fit(self, train: pd.DataFrame) -> SequentialRules:
        _, self.item_index, items, sessions = _prepared(train)
        src, dst, dist = _forward_pairs(sessions, items, self.config.steps)
        n = len(self.item_index)
        weights = rule_weights(dist, self.config.weighting).astype(np.float32)
        self.matrix = sp.csr_matrix((weights, (src, dst)), shape=(n, n))
        self.matrix.eliminate_zeros()
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


VSKNNWeighting = Literal["linear", "same", "div", "log", "quadratic"]
VSKNN_WEIGHTINGS = ("linear", "same", "div", "log", "quadratic")


def position_weights(position: np.ndarray, length: np.ndarray | float, weighting: VSKNNWeighting) -> np.ndarray:
    """Weight of the item at 1-based ``position`` of a current session of ``length`` events
    (as the decay functions of session-rec's V-SKNN).

    ``linear`` p/L, ``same`` 1, ``div`` 1/p, ``log`` 1/log10(p + 1.7), ``quadratic`` (p/L)^2.
    """
    p = np.asarray(position, np.float64)
    return _position_factor(p, weighting) * _length_factor(np.asarray(length, np.float64), weighting)


def _position_factor(p: np.ndarray, weighting: str) -> np.ndarray:
    """The part of :func:`position_weights` that depends on the position only."""
    if weighting == "linear":
        return p
    if weighting == "same":
        return np.ones_like(p)
    if weighting == "div":
        return 1.0 / p
    if weighting == "log":
        return 1.0 / np.log10(p + 1.7)
    if weighting == "quadratic":
        return p * p
    raise ValueError(f"weighting must be one of {', '.join(VSKNN_WEIGHTINGS)}; got {weighting!r}")


def _length_factor(length: np.ndarray, weighting: str) -> np.ndarray:
    """The common factor of a session's weights (cancels in the cosine similarity)."""
    if weighting == "linear":
        return 1.0 / length
    if weighting == "quadratic":
        return 1.0 / (length * length)
    return np.ones_like(length)


@dataclass(frozen=True)
class VSKNNConfig:
    """V-SKNN parameters (Ludewig & Jannach, 2018).

    Attributes:
        k: number of neighbour sessions.
        sample_size: neighbours are chosen among this many most recent training sessions that
            share at least one item with the current session.
        weighting: decay of the current session's items by position (:func:`position_weights`);
            ``linear`` (p/L, the most recent item weighs 1) is the V-SKNN default.
        idf_weighting: multiply each current item's weight by log(n_sessions / sessions containing it).
    """

    k: int = 100
    sample_size: int = 500
    weighting: VSKNNWeighting = "linear"
    idf_weighting: bool = False

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "k": C.integer(min=1),
        "sample_size": C.integer(min=1),
        "weighting": C.one_of(*VSKNN_WEIGHTINGS),
        "idf_weighting": C.boolean(),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 05's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)


VSKNN_SPACE: dict[str, Param] = {
    "k": int_range(10, 2000, log=True, doc="neighbour sessions"),
    "sample_size": int_range(100, 5000, log=True, doc="candidate sessions (most recent sharing an item)"),
    "weighting": choice(*VSKNN_WEIGHTINGS, doc="position weight of the current session"),
    "idf_weighting": choice(False, True, doc="weight shared items by inverse document frequency"),
}
"""V-SKNN's search ranges (read through :mod:`sbrlib.models.registry`)."""


class VSKNN(SessionModel):
    """Session-based kNN with a decayed current session (default: item at position p of L weighs p/L).

    sim(current, n) = sum_{i in n} w_i / (||w|| * sqrt(|n|)) (cosine of the weighted current session
    with the binary neighbour); score(j) = sum of sim over the top-k neighbours containing j.

    Each step is incremental and vectorized over the slots: every slot keeps its candidates (the
    ``sample_size`` most recent training sessions sharing an item with it, sorted by recency) with
    their similarity numerators; a new item merges its own list of most recent sessions into them
    (one linear-time merge for all slots). Exact: a session among the ``sample_size`` most recent
    sharing an item is among the ``sample_size`` most recent of every item it shares, so its
    numerator is complete. Ties between equally similar neighbours keep the more recent first.
    """

    name = "V-SKNN"

    def __init__(self, config: VSKNNConfig = VSKNNConfig()) -> None:
        self.config = config

    def fit(self, train: pd.DataFrame) -> VSKNN:
        events, self.item_index, items, sessions = _prepared(train)
        end = events.groupby(sessions, sort=True)[TIME].max().to_numpy()
        # renumber sessions by recency (0 = most recent; ties by session order)
        order = np.lexsort((np.arange(len(end)), -end))
        recency = np.empty(len(end), np.int64)
        recency[order] = np.arange(len(end))
        self._x = _session_item_matrix(recency[sessions], items, len(self.item_index))
        n_sessions = self._x.shape[0]
        # each item's `sample_size` most recent sessions, ascending recency index
        xt = sp.csr_matrix(self._x.T)
        xt.sort_indices()
        counts = np.diff(xt.indptr)
        rank = np.arange(xt.nnz) - np.repeat(xt.indptr[:-1], counts)
        keep = rank < self.config.sample_size
        self._recent = xt.indices[keep].astype(np.int64)
        self._recent_ptr = np.r_[0, np.cumsum(np.minimum(counts, self.config.sample_size))]
        self._norm = np.sqrt(np.asarray(self._x.sum(axis=1)).ravel())
        self._idf = (np.log(n_sessions / np.maximum(counts, 1)) if self.config.idf_weighting
                     else np.ones(len(counts)))
        return self

    def reset(self, batch_size: int) -> None:
        K = self.config.sample_size
        self._none = self._x.shape[0]  # "no candidate"
        self._cand = np.full((batch_size, K), self._none, np.int64)
        self._num = np.zeros((batch_size, K), np.float64)
        self._sq = np.zeros(batch_size, np.float64)  # sum of squared item weights (without length factor)
        self._len = np.zeros(batch_size, np.int64)
        self._pos = np.zeros((batch_size, self.n_items), np.int32)  # latest position of each item
        pop = self.popularity()
        self._tiebreak = (pop / (pop.max() + 1.0) * 1e-6).astype(np.float32)

    def _merge(self, rows: np.ndarray, items: np.ndarray, delta: np.ndarray) -> None:
        """Merge each slot's candidates with its new item's recent sessions, adding ``delta``."""
        K, none = self.config.sample_size, self._none
        b = len(rows)
        span = none + 1
        key_type = np.int32 if b * span < 2**31 else np.int64
        offset = np.arange(b, dtype=key_type) * span
        lengths = self._recent_ptr[items + 1] - self._recent_ptr[items]
        owner = np.repeat(np.arange(b), lengths)
        first = np.cumsum(lengths) - lengths
        within = np.arange(len(owner)) - np.repeat(first, lengths)
        new_keys = self._recent[np.repeat(self._recent_ptr[items], lengths) + within] + offset[owner]
        keys = np.concatenate([(self._cand[rows] + offset[:, None]).ravel(), new_keys])
        vals = np.concatenate([self._num[rows].ravel(), np.repeat(delta, lengths)])
        order = np.argsort(keys, kind="stable")  # two sorted runs: a linear-time merge
        vals = vals[order]
        keys = keys[order]
        dup = np.flatnonzero(keys[1:] == keys[:-1])  # a session in both runs: add the delta
        vals[dup] += vals[dup + 1]
        keep = np.ones(len(keys), bool)
        keep[dup + 1] = False
        keep = np.flatnonzero(keep)
        keys = keys[keep]
        row = keys // span
        counts = np.bincount(row, minlength=b)
        rank = np.arange(len(keys)) - np.repeat(np.cumsum(counts) - counts, counts)
        take = np.flatnonzero(rank < K)
        at = row[take] * K + rank[take]
        cand = np.full(b * K, none, np.int64)
        num = np.zeros(b * K, np.float64)
        cand[at] = keys[take] - row[take] * span
        num[at] = vals[keep[take]]
        self._cand[rows], self._num[rows] = cand.reshape(b, K), num.reshape(b, K)

    def step(self, items, starts, users=None, active=None):
        cfg = self.config
        items = np.asarray(items)
        starts = np.asarray(starts, bool)
        B = len(items)
        restart = np.flatnonzero(starts)
        self._cand[restart] = self._none
        self._num[restart] = 0.0
        self._sq[restart] = 0.0
        self._len[restart] = 0
        self._pos[restart] = 0
        live = np.arange(B) if active is None else np.flatnonzero(active)
        if not len(live):
            return np.zeros((B, self.n_items), np.float32)
        item = items[live]
        self._len[live] += 1
        length = self._len[live]
        old = self._pos[live, item]
        self._pos[live, item] = length
        idf = self._idf[item]
        new_w = _position_factor(length.astype(np.float64), cfg.weighting) * idf
        old_w = np.where(old > 0, _position_factor(np.maximum(old, 1).astype(np.float64), cfg.weighting) * idf, 0.0)
        self._sq[live] += new_w * new_w - old_w * old_w
        self._merge(live, item, new_w - old_w)
        # similarities of the candidates; the k most similar are the neighbours
        cand, num = self._cand[live], self._num[live]
        valid = cand != self._none
        denom = np.sqrt(np.maximum(self._sq[live], 1e-300))[:, None] * self._norm[np.minimum(cand, self._none - 1)]
        sim = np.where(valid, num / np.where(valid, denom, 1.0), -np.inf)
        r, c = np.nonzero(_top_k_mask(sim, cfg.k) & valid)
        # score(j) = sum of the neighbours' similarities over the neighbours containing j
        neighbour = cand[r, c]
        x = self._x
        lengths = x.indptr[neighbour + 1] - x.indptr[neighbour]
        first = np.cumsum(lengths) - lengths
        at = np.repeat(x.indptr[neighbour] - first, lengths) + np.arange(lengths.sum())
        weight = np.repeat(sim[r, c].astype(np.float32), lengths)
        out = sp.coo_matrix((weight, (np.repeat(live[r], lengths), x.indices[at])), shape=(B, self.n_items)).toarray()
        out += self._tiebreak  # (rows of idle slots are ignored)
        return out


def _top_k_mask(values: np.ndarray, k: int) -> np.ndarray:
    """(b, m) mask of the ``k`` largest values of each row; ties at the cut keep the leftmost."""
    b, m = values.shape
    if k >= m:
        return np.ones((b, m), bool)
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1: k]
    above = values > kth
    at = values == kth
    need = k - above.sum(axis=1, keepdims=True)
    return above | (at & (np.cumsum(at, axis=1) <= need))
