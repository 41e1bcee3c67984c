"""The one evaluator: next-item prediction with full ranking, for every model.

For each test session and each position t, the prefix up to t predicts the item at t+1. Every
item of the model's training index is scored (no sampled negatives); the target's rank follows an
explicit tie policy (:mod:`sbrlib.evaluation.metrics`, ``conservative`` by default). Test sessions run in
session-parallel mini-batches; ranks are counted with vectorized comparisons (no sorting), and
top-K lists for coverage/popularity with ``argpartition``. Models that score from a bounded window
of recent items (SASRec) are scored by batched windows instead of steps (:func:`evaluate`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sbrlib.core import checks as C
from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.core.progress import tqdm
from sbrlib.core.provenance import check_same_split, frame_split
from sbrlib.data.batching import Schedule, contiguous_sessions, schedule_from_frame, session_offsets
from sbrlib.evaluation import metrics as M
from sbrlib.models.base import SessionModel

log = logging.getLogger(__name__)


ExcludeSeen = Literal["none", "session", "user"]
EXCLUDE_SEEN = ("none", "session", "user")
Positions = Literal["all", "last"]
POSITIONS = ("all", "last")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings.

    Attributes:
        ks: cut-offs for Recall/MRR/NDCG.
        tie_policy: ``conservative`` | ``standard`` | ``median``.
        batch_size: parallel test sessions per step (the window path, see :func:`evaluate`:
            sessions or windows per model call).
        exclude_seen: items given the lowest score before ranking (a target among them counts as
            a miss; ``excluded_targets`` counts those):
            ``"none"``; ``"session"`` – items already in the session prefix; ``"user"`` – every
            item the user rated before the target: the session prefix, the user's earlier test
            sessions and the ``history`` frame passed to :func:`evaluate` (e.g. the training
            split). ``True``/``False`` are accepted as ``"session"``/``"none"``.
        positions: ``"all"`` – every next-item prediction of a session counts; ``"last"`` – only
            the prediction of each session's final item (leave-one-out; the model still reads
            the whole prefix).
        coverage_ks: cut-offs for item coverage and mean popularity of the top-K lists
            (empty: skip them, which is faster).
        max_k: largest K for recall curves.
    """

    ks: tuple[int, ...] = (1, 5, 10, 20)
    tie_policy: M.TiePolicy = "conservative"
    batch_size: int = 512
    exclude_seen: ExcludeSeen = "none"
    positions: Positions = "all"
    coverage_ks: tuple[int, ...] = (20,)
    max_k: int = 50

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "ks": C.int_list(min=1),
        "tie_policy": C.one_of(*M.TIE_POLICIES),
        "batch_size": C.integer(min=1),
        "exclude_seen": C.one_of(*EXCLUDE_SEEN, True, False),
        "positions": C.one_of(*POSITIONS),
        "coverage_ks": C.int_list(min=1, min_len=0),
        "max_k": C.integer(min=1),
    }
    """What each field may be (checked in ``__post_init__``; reused by the notebooks' parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)
        if isinstance(self.exclude_seen, bool):
            object.__setattr__(self, "exclude_seen", "session" if self.exclude_seen else "none")


@dataclass
class EvalResult:
    """Metrics of one model and its per-prediction details.

    Attributes:
        model: model name.
        metrics: ``recall@K``, ``mrr@K``, ``ndcg@K``, ``coverage@K``, ``popularity@K``, counts
            (``predictions``, ``sessions``, ``n_items``, ``excluded_targets``: targets that were
            among the excluded seen items), seconds and the settings that change the numbers.
        predictions: one row per prediction: ``rank``, ``position`` (1 = predicting the 2nd item),
            ``session_length``, ``SessionId`` and ``popularity@K`` (mean normalised popularity
            of that prediction's top-K list) for every coverage cut-off.
        config: the evaluation settings.
    """

    model: str
    metrics: dict[str, float]
    predictions: pd.DataFrame
    config: EvalConfig = field(default_factory=EvalConfig)

    def recall_curve(self, max_k: int | None = None) -> pd.Series:
        """Recall@K for K = 1..max_k."""
        max_k = max_k or self.config.max_k
        return pd.Series(M.recall_curve(self.predictions["rank"].to_numpy(), max_k),
                         index=pd.RangeIndex(1, max_k + 1, name="K"), name=self.model)

    def by_group(self, column: str, k: int = 20, max_value: int | None = 20) -> pd.DataFrame:
        """Recall@k, MRR@k and count per value of ``position`` or ``session_length`` (capped)."""
        df = self.predictions
        key = df[column].clip(upper=max_value) if max_value else df[column]
        grouped = df["rank"].groupby(key)
        return pd.DataFrame({
            f"recall@{k}": grouped.apply(lambda r: M.recall(r.to_numpy(), k)),
            f"mrr@{k}": grouped.apply(lambda r: M.mrr(r.to_numpy(), k)),
            "predictions": grouped.size(),
        })


def _map_items(model: SessionModel, test: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    idx = model.item_index.to_idx(test[ITEM].to_numpy(), missing="mask")
    if (idx < 0).any():
        log.warning("%d test events have items unknown to %s; they are removed", int((idx < 0).sum()), model.name)
        test = test[idx >= 0]
        sizes = test.groupby(SESSION)[SESSION].transform("size")
        test = test[(sizes >= 2).to_numpy()]
        idx = model.item_index.to_idx(test[ITEM].to_numpy())
    return test, idx


def _prior_items(test: pd.DataFrame, item_idx: np.ndarray, history: pd.DataFrame | None, model: SessionModel,
                 session_order: np.ndarray) -> sp.csr_matrix:
    """Items each user rated before each test session starts, shape (len(session_order), n_items).

    A session's row holds the user's items in ``history`` and in the user's earlier test sessions
    (earlier by first-event time, ties by session id: the order the schedule uses). Items unknown
    to the model are ignored.
    """
    n_items = model.n_items
    first = test.groupby(SESSION, sort=True).agg(user=(USER, "first"), start=(TIME, "min"))
    hist_users = history[USER].to_numpy() if history is not None else np.zeros(0, first["user"].dtype)
    codes, uniques = pd.factorize(np.concatenate([hist_users, first["user"].to_numpy()]))
    n_users = len(uniques)
    hist_codes, sess_users = codes[:len(hist_users)], codes[len(hist_users):]
    if history is not None and len(history):
        h_items = model.item_index.to_idx(history[ITEM].to_numpy(), missing="mask")
        known = h_items >= 0
        h = sp.csr_matrix((np.ones(int(known.sum()), np.float32), (hist_codes[known], h_items[known])),
                          shape=(n_users, n_items))
    else:
        h = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    n_sess = len(first)
    sess_code = pd.Index(first.index).get_indexer(test[SESSION].to_numpy())
    t = sp.csr_matrix((np.ones(len(test), np.float32), (sess_code, item_idx)), shape=(n_sess, n_items))
    # earlier test sessions of the same user: pairs (later i, earlier j) within each user's run
    order = np.lexsort((np.arange(n_sess), first["start"].to_numpy(), sess_users))
    u_sorted = sess_users[order]
    group_start = np.flatnonzero(np.r_[True, u_sorted[1:] != u_sorted[:-1]])
    g = np.repeat(group_start, np.diff(np.r_[group_start, n_sess]))
    r = np.arange(n_sess) - g  # number of earlier sessions of the same user
    rows = np.repeat(np.arange(n_sess), r)
    cols = np.repeat(g, r) + (np.arange(int(r.sum())) - np.repeat(np.cumsum(r) - r, r))
    earlier = sp.csr_matrix((np.ones(len(rows), np.float32), (order[rows], order[cols])), shape=(n_sess, n_sess))
    prior = (h[sess_users] + earlier @ t).tocsr()
    prior.data[:] = 1.0
    return prior[pd.Index(first.index).get_indexer(session_order)]


def evaluate(model: SessionModel, test: pd.DataFrame, config: EvalConfig = EvalConfig(),
             progress: bool = True, history: pd.DataFrame | None = None) -> EvalResult:
    """Evaluate ``model`` on every next-item prediction of ``test`` (``config.positions="all"``)
    or on each session's last one (``"last"``: in a leave-one-out frame, the held-out item).

    With ``"last"``, a model that scores from its last ``context_length`` items only (SASRec) is
    fed only the end of each session when that cannot change the result (see
    :func:`_shorten_for_last`); the predictions table still gives positions in the whole session.

    Two paths give the same predictions (up to the model's float rounding) in the same order:
    the step path (``model.reset``, then ``model.step`` once per session-parallel step) for every
    model, and the window path for a model that also has ``score_windows`` next to its
    ``context_length`` (SASRec: batched forward passes over windows of its last items, see
    :func:`_score_by_windows`), which is taken whenever the model offers it.

    Args:
        model: a fitted :class:`~sbrlib.models.base.SessionModel`.
        test: sessionized test events (``SessionId, ItemId, Time``, optionally ``UserId``).
        config: evaluation settings.
        progress: show a tqdm progress bar.
        history: events before the test period (``UserId, ItemId``, e.g. the training split);
            needed by ``exclude_seen="user"``, ignored otherwise.

    Returns:
        An :class:`EvalResult`.

    Raises:
        ProvenanceError: the model was trained on another split than the one ``test`` comes from
            (both known from their provenance), naming both.
    """
    start_time = time.perf_counter()
    check_same_split(getattr(model, "provenance", None), *frame_split(test), model_name=f"model {model.name}")
    test = contiguous_sessions(test)
    full_lengths = None
    if config.positions == "last":
        test, full_lengths = _shorten_for_last(model, test, config.exclude_seen, history)
    test, item_idx = _map_items(model, test)
    sch = schedule_from_frame(test, item_idx, config.batch_size)
    n_items = model.n_items
    exclude = config.exclude_seen
    prior = None
    if exclude == "user":
        if USER not in test:
            raise ValueError(f"exclude_seen='user' needs a {USER} column in the test frame")
        if history is not None and USER not in history:
            raise ValueError(f"exclude_seen='user': the history frame has no {USER} column")
        if history is None:
            log.warning("exclude_seen='user' without history: only the user's test sessions are excluded")
        prior = _prior_items(test, item_idx, history, model, sch.session_order)
    tally = _Tally(config, model.popularity())
    last_only = config.positions == "last"
    scorer = _window_scorer(model)
    if scorer is None:
        users_by_session = None
        if USER in test:
            first = test.groupby(SESSION, sort=False)[USER].first()
            users_by_session = first.reindex(sch.session_order).to_numpy()
        _score_by_steps(model, sch, users_by_session, prior, exclude != "none", last_only, progress, tally)
        ranks, positions, sessions, pop_lists = tally.result()
    else:
        _score_by_windows(*scorer, test, item_idx, sch, prior, exclude != "none", last_only, config.batch_size,
                          tally, progress, model.name)
        ranks, positions, sessions, pop_lists = tally.result(_schedule_order(sch))
    excluded_targets = tally.excluded
    cov_ks = tally.cov_ks
    predictions = pd.DataFrame({
        "rank": ranks,
        "position": positions,
        "session_length": sch.session_length[sessions] if len(sessions) else np.zeros(0, np.int64),
        SESSION: sch.session_order[sessions] if len(sessions) else np.zeros(0, np.int64),
    })
    if full_lengths is not None and len(predictions):  # positions in the whole sessions, not the shortened ones
        full = full_lengths.reindex(predictions[SESSION]).to_numpy()
        predictions["position"] += full - predictions["session_length"].to_numpy()
        predictions["session_length"] = full
    for k in cov_ks:
        predictions[f"popularity@{k}"] = pop_lists[k]
    result = M.metric_table(ranks, config.ks)
    for k in cov_ks:
        result[f"coverage@{k}"] = float(tally.recommended[k].mean()) if n_items else float("nan")
        result[f"popularity@{k}"] = float(predictions[f"popularity@{k}"].mean()) if len(ranks) else float("nan")
    result.update(predictions=len(ranks), sessions=int(len(np.unique(sessions))), n_items=n_items,
                  excluded_targets=excluded_targets, eval_seconds=time.perf_counter() - start_time,
                  tie_policy=config.tie_policy, exclude_seen=exclude, positions=config.positions)
    return EvalResult(model.name, result, predictions, config)


_MAX_SCORES = 1 << 24
"""Most scores (float32) one :meth:`score_windows` call may return with ``every_position`` (64 MB):
bounds the windows per call when whole sessions are scored at once."""


class _Tally:
    """What the evaluator keeps of scored predictions: ranks, positions, sessions, excluded targets
    and the top-K lists for coverage/popularity (the same for the step and the window paths)."""

    def __init__(self, config: EvalConfig, popularity: np.ndarray) -> None:
        self.policy = config.tie_policy
        self.pop_norm = popularity / popularity.max() if len(popularity) and popularity.max() > 0 else popularity
        self.n_items = len(popularity)
        self.cov_ks = tuple(sorted(config.coverage_ks))
        self.kmax = min(self.cov_ks[-1], self.n_items) if self.cov_ks else 0
        self.recommended = {k: np.zeros(self.n_items, bool) for k in self.cov_ks}
        self.pop_lists: dict[int, list[np.ndarray]] = {k: [] for k in self.cov_ks}
        self.ranks: list[np.ndarray] = []
        self.positions: list[np.ndarray] = []
        self.sessions: list[np.ndarray] = []
        self.excluded = 0
        self._neg: np.ndarray | None = None

    def add(self, scores: np.ndarray, targets: np.ndarray, positions: np.ndarray, sessions: np.ndarray,
            mask: np.ndarray | None = None) -> None:
        """Count one block of predictions.

        Args:
            scores: (R, n_items) scores (never written to).
            targets: (R,) target item indices.
            positions: (R,) 0-based position of each prediction's last input in its session.
            sessions: (R,) row of each prediction's session in the schedule's ``session_order``.
            mask: (R, n_items) True for the seen items to exclude (None: no exclusion).
        """
        if mask is not None:
            self.excluded += int(mask[np.arange(len(targets)), targets].sum())
            # one pass that also copies (the model's array is never written to)
            scores = np.where(mask, np.float32(-np.inf), scores)
        self.ranks.append(M.ranks_from_scores(scores, targets, self.policy))
        self.positions.append(positions + 1)
        self.sessions.append(sessions)
        if self.kmax and len(targets):
            if self._neg is None or len(self._neg) < len(targets):
                self._neg = np.empty((len(targets), self.n_items), np.float32)
            neg = np.negative(scores, out=self._neg[: len(targets)])  # a reused buffer: no page faults per step
            top = np.argpartition(neg, self.kmax - 1, axis=1)[:, : self.kmax]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            for k in self.cov_ks:
                self.recommended[k][top[:, :k].ravel()] = True
                self.pop_lists[k].append(self.pop_norm[top[:, :k]].mean(axis=1))

    def result(self, order: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
        """``(ranks, positions, sessions, {k: popularity per prediction})``, concatenated; with
        ``order`` (``(offsets, index)`` of :func:`_schedule_order`), sorted into the step path's order."""
        ranks = np.concatenate(self.ranks) if self.ranks else np.zeros(0)
        positions = np.concatenate(self.positions) if self.positions else np.zeros(0, np.int64)
        sessions = np.concatenate(self.sessions) if self.sessions else np.zeros(0, np.int64)
        pops = {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.pop_lists.items()}
        if order is not None and len(ranks):
            offsets, index = order
            perm = np.argsort(index[offsets[sessions] + positions - 1], kind="stable")
            ranks, positions, sessions = ranks[perm], positions[perm], sessions[perm]
            pops = {k: v[perm] for k, v in pops.items()}
        return ranks, positions, sessions, pops


def _score_by_steps(model: SessionModel, sch: Schedule, users_by_session: np.ndarray | None, prior: sp.csr_matrix | None,
                    exclude: bool, last_only: bool, progress: bool, tally: _Tally) -> None:
    """The general path: ``model.reset(B)``, then ``model.step`` once per step of the schedule."""
    B, n_items = sch.inputs.shape[1], model.n_items
    seen = np.zeros((B, n_items), bool) if exclude else None
    model.reset(B)
    for t in tqdm(range(sch.n_steps), desc=f"evaluate {model.name}", unit="step", disable=not progress, leave=False):
        active, starts, inputs = sch.active[t], sch.starts[t], sch.inputs[t]
        users = None
        if users_by_session is not None:
            users = np.where(active, users_by_session[np.maximum(sch.session[t], 0)], -1)
        scores = np.asarray(model.step(inputs, starts, users, active), dtype=np.float32)
        rows = np.flatnonzero(active)
        if seen is not None:
            new = np.flatnonzero(starts & active)
            if len(new):
                seen[new] = False if prior is None else prior[sch.session[t, new]].toarray() > 0
            seen[rows, inputs[rows]] = True
        if last_only:
            rows = rows[sch.position[t, rows] + 2 == sch.session_length[sch.session[t, rows]]]
            if not len(rows):
                continue
        every_row = len(rows) == len(scores)
        mask = None if seen is None else seen if every_row else seen[rows]
        tally.add(scores if every_row else scores[rows], sch.targets[t, rows], sch.position[t, rows],
                  sch.session[t, rows], mask)


def _window_scorer(model: SessionModel):
    """``(context_length, score_windows)`` of a model whose scores depend only on its last
    ``context_length`` items and that scores such windows in one batch (SASRec), else None."""
    context = getattr(model, "context_length", None)
    score = getattr(model, "score_windows", None)
    if not context or not callable(score):
        return None
    return int(context), score


def _schedule_order(sch: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, index)``: prediction ``(session s, position p)`` is the ``index[offsets[s] + p]``-th
    one the step path produces (steps in order, slots in order within a step)."""
    steps, slots = np.nonzero(sch.active)
    sessions, positions = sch.session[steps, slots], sch.position[steps, slots]
    offsets = np.r_[0, np.cumsum(sch.session_length - 1)[:-1]].astype(np.int64)
    index = np.empty(int((sch.session_length - 1).sum()), np.int64)
    index[offsets[sessions] + positions] = np.arange(len(sessions))
    return offsets, index


def _first_seen(items: np.ndarray, starts: np.ndarray, n_inputs: np.ndarray, prior: sp.csr_matrix | None,
                n_items: int) -> sp.csr_matrix:
    """(n_sessions, n_items) int32 CSR: ``2 + `` the first input position of each item in each session,
    1 for the items in ``prior`` (seen before the session), 0 (not stored) for the others.

    The item is excluded from the prediction at input position ``p`` when ``0 < value <= p + 2``.
    """
    n_sess = len(starts)
    sess = np.repeat(np.arange(n_sess, dtype=np.int64), n_inputs)
    pos = np.arange(len(sess)) - np.repeat(np.cumsum(n_inputs) - n_inputs, n_inputs)
    keys = sess * n_items + items[np.repeat(starts, n_inputs) + pos]
    values = pos + 2
    if prior is not None:
        prior = prior.tocoo()
        keys = np.r_[prior.row.astype(np.int64) * n_items + prior.col, keys]
        values = np.r_[np.ones(prior.nnz, np.int64), values]
    uniq, first = np.unique(keys, return_index=True)  # first occurrence: prior first, then by position
    return sp.csr_matrix((values[first].astype(np.int32), (uniq // n_items, uniq % n_items)),
                         shape=(n_sess, n_items))


def _seen_mask(first: sp.csr_matrix, rows: np.ndarray, sessions: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(R, n_items) True for the items excluded from prediction ``r`` (session ``rows[sessions[r]]``,
    input position ``positions[r]``); ``sessions`` index into ``rows``."""
    dense = first[rows].toarray()
    dense[dense == 0] = np.iinfo(np.int32).max
    return dense[sessions] <= (positions + 2)[:, None]


def _score_by_windows(context: int, score_windows, test: pd.DataFrame, item_idx: np.ndarray, sch: Schedule,
                      prior: sp.csr_matrix | None, exclude: bool, last_only: bool, batch_size: int,
                      tally: _Tally, progress: bool = False, name: str = "model") -> None:
    """The path of models scoring from their last ``context`` items (:func:`_window_scorer`).

    Gives the predictions of :func:`_score_by_steps` (up to the model's float rounding), in another
    order (:meth:`_Tally.result` restores the step order):

    * ``last_only``: each session's last prediction from the window of its last ``context`` inputs,
      windows of similar length batched together (``batch_size`` per call);
    * otherwise: the first ``context`` inputs of each session in one causal pass (scores after
      every position; sessions of similar length batched, at most ``batch_size`` sessions and
      :data:`_MAX_SCORES` scores per call), then each later prediction from its own window of
      ``context`` inputs (``batch_size`` windows per call).
    """
    starts, lengths, ids = session_offsets(test[SESSION].to_numpy(), test[TIME].to_numpy())
    keep = lengths >= 2
    starts, lengths = starts[keep], lengths[keep]
    if not np.array_equal(ids[keep], sch.session_order):  # the schedule's order, by construction
        raise RuntimeError("evaluator: the sessions of the window path differ from the schedule's")
    n_in = lengths - 1
    first = _first_seen(item_idx, starts, n_in, prior, tally.n_items) if exclude else None

    def run(sessions: np.ndarray, ends: np.ndarray, width: np.ndarray, every_position: bool) -> None:
        """Score windows of ``width`` inputs ending at input position ``ends`` of ``sessions``."""
        T = int(width.max())
        back = T - 1 - np.arange(T)                                           # (T,) steps before the end
        events = starts[sessions, None] + ends[:, None] - back[None, :]       # (N, T) event rows
        windows = np.where(back[None, :] < width[:, None], item_idx[np.maximum(events, 0)], -1)
        scores = score_windows(windows, every_position=every_position)
        if every_position:  # a prediction after every input, in row-major order
            local, col = np.nonzero(back[None, :] < width[:, None])
            positions = ends[local] - back[col]
        else:
            local, positions = np.arange(len(sessions)), ends
        targets = item_idx[starts[sessions[local]] + positions + 1]
        positions = positions.astype(sch.position.dtype)
        mask = None
        if first is not None:
            rows, inverse = np.unique(sessions[local], return_inverse=True)
            mask = _seen_mask(first, rows, inverse.ravel(), positions)
        tally.add(scores, targets, positions, sessions[local], mask)
        bar.update(len(targets))

    def batches(order: np.ndarray, width: np.ndarray, max_scores: int | None):
        """Consecutive runs of ``order`` (ascending ``width``) of at most ``batch_size`` windows
        and, with ``max_scores``, at most that many (windows x longest width x n_items) scores."""
        i = 0
        while i < len(order):
            n = min(batch_size, len(order) - i)
            if max_scores is not None:
                fits = np.arange(1, n + 1) * width[order[i: i + n]] * tally.n_items <= max_scores
                n = max(1, int(fits.sum()))
            yield order[i: i + n]
            i += n

    all_sessions = np.arange(len(starts))
    total = len(starts) if last_only else int(n_in.sum())
    with tqdm(total=total, desc=f"evaluate {name}", unit="sequence" if last_only else "prediction",
              disable=not progress, leave=False) as bar:
        if last_only:
            width = np.minimum(n_in, context)
            for part in batches(np.argsort(width, kind="stable"), width, None):
                run(all_sessions[part], n_in[part] - 1, width[part], every_position=False)
            return
        head = np.minimum(n_in, context)
        for part in batches(np.argsort(head, kind="stable"), head, _MAX_SCORES):
            run(all_sessions[part], head[part] - 1, head[part], every_position=True)
        extra = n_in - head                                                   # predictions after the head
        tail_sessions = np.repeat(all_sessions, extra)
        tail_ends = context + np.arange(len(tail_sessions)) - np.repeat(np.cumsum(extra) - extra, extra)
        full = np.full(len(tail_sessions), context)
        for part in batches(np.arange(len(tail_sessions)), full, None):
            run(tail_sessions[part], tail_ends[part], full[part], every_position=False)


class StepOnly(SessionModel):
    """``model`` seen through ``reset``/``step`` only (and ``context_length``, so the last-position
    shortcut behaves the same): :func:`evaluate` takes its general step path for it, not the window
    path. For comparing the two paths (tests, ``benchmarks/bench_eval.py``)."""

    def __init__(self, model: SessionModel) -> None:
        self.model, self.name, self.item_index = model, model.name, model.item_index
        self.provenance = getattr(model, "provenance", {})

    @property
    def context_length(self) -> int | None:
        return getattr(self.model, "context_length", None)

    def fit(self, train: pd.DataFrame) -> StepOnly:
        raise NotImplementedError("StepOnly wraps a fitted model")

    def reset(self, batch_size: int) -> None:
        self.model.reset(batch_size)

    def step(self, items, starts, users=None, active=None):
        return self.model.step(items, starts, users, active)

    def popularity(self) -> np.ndarray:
        return self.model.popularity()


def evaluate_positions(model: SessionModel, test: pd.DataFrame, config: EvalConfig = EvalConfig(),
                       positions: Positions = "all", progress: bool = True,
                       history: pd.DataFrame | None = None) -> EvalResult:
    """:func:`evaluate` with ``config.positions`` set to ``positions``: every prediction, or only
    each session's last (in a leave-one-out frame: the held-out item)."""
    return evaluate(model, test, dataclasses.replace(config, positions=positions), progress=progress,
                    history=history)


def _from_end(frame: pd.DataFrame) -> np.ndarray:
    return frame.groupby(SESSION, sort=False).cumcount(ascending=False).to_numpy()


def _shorten_for_last(model: SessionModel, test: pd.DataFrame, exclude_seen: str,
                      history: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series | None]:
    """With ``positions="last"``, feed a model whose scores depend only on its last
    ``context_length`` items (SASRec) only the last ``context_length + 1`` events of each session.

    The counted prediction's scores are the same and the evaluator skips steps whose scores are
    not counted. Done only where the exclusion of seen items cannot change: ``exclude_seen="none"``,
    or ``"user"`` when ``history`` holds every cut event's (user, item) (as ``train`` does for a
    leave-one-out ``test`` frame and ``train_tr`` for ``valid``; checked); never with ``"session"``.

    Returns:
        ``(test, full_lengths)``: the (possibly) shortened frame and, when shortened, each
        session's full length (indexed by ``SessionId``) to report positions in the whole session.
    """
    context = getattr(model, "context_length", None)
    if not context or exclude_seen not in ("none", "user"):
        return test, None
    from_end = _from_end(test)
    keep = from_end <= int(context)
    if keep.all():
        return test, None
    if exclude_seen == "user" and not _in_history(test[~keep], history):
        return test, None
    short = test[keep].reset_index(drop=True)
    short.attrs.update(test.attrs)
    return short, test.groupby(SESSION, sort=False).size()


def _in_history(cut: pd.DataFrame, history: pd.DataFrame | None) -> bool:
    """True when every (user, item) of the ``cut`` events is in ``history`` (then
    ``exclude_seen="user"`` excludes the same items from the shortened sessions)."""
    if history is None or USER not in cut or USER not in history:
        return False
    cut = cut[[USER, ITEM]].drop_duplicates()
    known = cut.merge(history[[USER, ITEM]].drop_duplicates(), how="left", indicator=True)
    return bool((known["_merge"] == "both").all())


def results_table(results: list[EvalResult], extra: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """One row per model with every scalar metric (plus ``extra[model]`` columns, e.g. fit seconds)."""
    rows = {}
    for res in results:
        row = {k: v for k, v in res.metrics.items() if not isinstance(v, str)}
        row.update((extra or {}).get(res.model, {}))
        rows[res.model] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table
