"""The one evaluator: next-item prediction with full ranking, for every model.

For each test session and each position t, the prefix up to t predicts the item at t+1. Every
item of the model's training index is scored (no sampled negatives); the target's rank follows an
explicit tie policy (:mod:`sbrlib.metrics`, ``conservative`` by default). Test sessions run in
session-parallel mini-batches; ranks are counted with vectorized comparisons (no sorting), and
top-K lists for coverage/popularity with ``argpartition``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sbrlib import metrics as M
from sbrlib.batching import contiguous_sessions, schedule_from_frame
from sbrlib.columns import ITEM, SESSION, USER
from sbrlib.models.base import SessionModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings.

    Attributes:
        ks: cut-offs for Recall/MRR/NDCG.
        tie_policy: ``conservative`` | ``standard`` | ``median``.
        batch_size: parallel test sessions per step.
        exclude_seen: give items already in the session prefix the lowest score (a repeated
            target then counts as a miss).
        coverage_ks: cut-offs for item coverage and mean popularity of the top-K lists
            (empty: skip them, which is faster).
        max_k: largest K for recall curves.
    """

    ks: tuple[int, ...] = (1, 5, 10, 20)
    tie_policy: M.TiePolicy = "conservative"
    batch_size: int = 512
    exclude_seen: bool = False
    coverage_ks: tuple[int, ...] = (20,)
    max_k: int = 50

    def __post_init__(self) -> None:
        if self.tie_policy not in M.TIE_POLICIES:
            raise ValueError(f"tie_policy must be one of {M.TIE_POLICIES}, got {self.tie_policy!r}")


@dataclass
class EvalResult:
    """Metrics of one model and its per-prediction details.

    Attributes:
        model: model name.
        metrics: ``recall@K``, ``mrr@K``, ``ndcg@K``, ``coverage@K``, ``popularity@K``, counts, seconds.
        predictions: one row per prediction: ``rank``, ``position`` (1 = predicting the 2nd item),
            ``session_length``, ``SessionId``.
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


def evaluate(model: SessionModel, test: pd.DataFrame, config: EvalConfig = EvalConfig(),
             progress: bool = True) -> EvalResult:
    """Evaluate ``model`` on every next-item prediction of ``test``.

    Args:
        model: a fitted :class:`~sbrlib.models.base.SessionModel`.
        test: sessionized test events (``SessionId, ItemId, Time``, optionally ``UserId``).
        config: evaluation settings.
        progress: show a tqdm progress bar.

    Returns:
        An :class:`EvalResult`.
    """
    start_time = time.perf_counter()
    test = contiguous_sessions(test)
    test, item_idx = _map_items(model, test)
    sch = schedule_from_frame(test, item_idx, config.batch_size)
    B, n_items = config.batch_size, model.n_items
    users_by_session = None
    if USER in test:
        first = test.groupby(SESSION, sort=False)[USER].first()
        users_by_session = first.reindex(sch.session_order).to_numpy()
    popularity = model.popularity()
    pop_norm = popularity / popularity.max() if len(popularity) and popularity.max() > 0 else popularity
    cov_ks = tuple(sorted(config.coverage_ks))
    kmax = cov_ks[-1] if cov_ks else 0
    recommended = {k: np.zeros(n_items, bool) for k in cov_ks}
    pop_sum = dict.fromkeys(cov_ks, 0.0)
    seen = np.zeros((B, n_items), bool) if config.exclude_seen else None
    ranks_all, pos_all, sess_all = [], [], []
    model.reset(B)
    for t in tqdm(range(sch.n_steps), desc=f"evaluate {model.name}", disable=not progress, leave=False):
        active, starts, inputs = sch.active[t], sch.starts[t], sch.inputs[t]
        users = None
        if users_by_session is not None:
            users = np.where(active, users_by_session[np.maximum(sch.session[t], 0)], -1)
        scores = np.asarray(model.step(inputs, starts, users, active), dtype=np.float32)
        rows = np.flatnonzero(active)
        scores = scores[rows]
        if seen is not None:
            seen[starts] = False
            seen[rows, inputs[rows]] = True
            scores[seen[rows]] = -np.inf
        targets = sch.targets[t, rows]
        ranks_all.append(M.ranks_from_scores(scores, targets, config.tie_policy))
        pos_all.append(sch.position[t, rows] + 1)
        sess_all.append(sch.session[t, rows])
        if kmax and len(rows):
            k_eff = min(kmax, n_items)
            top = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            for k in cov_ks:
                recommended[k][top[:, :k].ravel()] = True
                pop_sum[k] += float(pop_norm[top[:, :k]].mean(axis=1).sum())
    ranks = np.concatenate(ranks_all) if ranks_all else np.zeros(0)
    sessions = np.concatenate(sess_all) if sess_all else np.zeros(0, np.int64)
    predictions = pd.DataFrame({
        "rank": ranks,
        "position": np.concatenate(pos_all) if pos_all else np.zeros(0, np.int64),
        "session_length": sch.session_length[sessions] if len(sessions) else np.zeros(0, np.int64),
        SESSION: sch.session_order[sessions] if len(sessions) else np.zeros(0, np.int64),
    })
    result = M.metric_table(ranks, config.ks)
    for k in cov_ks:
        result[f"coverage@{k}"] = float(recommended[k].mean()) if n_items else float("nan")
        result[f"popularity@{k}"] = pop_sum[k] / max(len(ranks), 1)
    result.update(predictions=len(ranks), sessions=int(len(sch.session_order)), n_items=n_items,
                  eval_seconds=time.perf_counter() - start_time, tie_policy=config.tie_policy)
    return EvalResult(model.name, result, predictions, config)


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
