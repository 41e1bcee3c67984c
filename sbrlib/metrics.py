"""Rank-based next-item metrics, computed from ranks (1 = best).

Tie policies for the rank of the target among all scored items:

* ``conservative`` (default): rank = number of items scoring >= the target (the target included),
  so a constant scorer ranks every target last and earns nothing;
* ``standard``: rank = 1 + number of items scoring strictly higher (optimistic on ties);
* ``median``: the mean of the two.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

TiePolicy = Literal["conservative", "standard", "median"]
TIE_POLICIES = ("conservative", "standard", "median")


def ranks_from_scores(scores: np.ndarray, targets: np.ndarray, policy: TiePolicy = "conservative") -> np.ndarray:
    """Rank of each target among all items, without sorting.

    Args:
        scores: (B, n_items) scores; NaN is treated as -inf.
        targets: (B,) target item indices.
        policy: tie policy (see module docstring).

    Returns:
        (B,) float64 ranks in [1, n_items].
    """
    if policy not in TIE_POLICIES:
        raise ValueError(f"tie policy must be one of {TIE_POLICIES}, got {policy!r}")
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float32), nan=-np.inf)
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > target_scores).sum(axis=1)
    if policy == "standard":
        return higher + 1.0
    geq = (scores >= target_scores).sum(axis=1)
    if policy == "conservative":
        return geq.astype(np.float64)
    return (higher + 1.0 + geq) / 2.0


def recall(ranks: np.ndarray, k: int) -> float:
    """Recall@K = HitRate@K = mean(rank <= K) (one relevant item per prediction)."""
    return float(np.mean(np.asarray(ranks) <= k)) if len(ranks) else float("nan")


def mrr(ranks: np.ndarray, k: int) -> float:
    """MRR@K = mean(1/rank if rank <= K else 0)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(np.where(ranks <= k, 1.0 / ranks, 0.0))) if len(ranks) else float("nan")


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@K = mean(1/log2(rank+1) if rank <= K else 0) (ideal DCG is 1)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0))) if len(ranks) else float("nan")


def metric_table(ranks: np.ndarray, ks: tuple[int, ...] = (1, 5, 10, 20)) -> dict[str, float]:
    """``{"recall@K", "mrr@K", "ndcg@K"}`` for every K."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = recall(ranks, k)
        out[f"mrr@{k}"] = mrr(ranks, k)
        out[f"ndcg@{k}"] = ndcg(ranks, k)
    return out


def recall_curve(ranks: np.ndarray, max_k: int = 50) -> np.ndarray:
    """Recall@K for K = 1..max_k, shape (max_k,)."""
    ranks = np.asarray(ranks)
    if not len(ranks):
        return np.full(max_k, np.nan)
    hist = np.bincount(np.minimum(np.ceil(ranks).astype(np.int64), max_k + 1), minlength=max_k + 2)
    return np.cumsum(hist[1: max_k + 1]) / len(ranks)
