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


_BLOCK_ELEMENTS = 1 << 16  # scores compared per block: the (rows, n_items) bool temporary stays in cache
_FMAX = float(np.finfo(np.float32).max)


def ranks_from_scores(scores: np.ndarray, targets: np.ndarray, policy: TiePolicy = "conservative") -> np.ndarray:
    """Rank of each target among all items, without sorting.

    Scores are compared as float32. NaN counts as -inf, below every other score; -inf and +inf
    count as the lowest and highest finite float32 (``np.nan_to_num(scores, nan=-inf)``), so an
    item given -inf (e.g. an excluded one) still ties with a target given -inf.

    Counted with one fused comparison per needed count (``>`` for ``standard``, ``>=`` for
    ``conservative``, both for ``median``) on blocks of rows that fit the cache, without float64
    or NaN-cleaned copies; rows whose target score is not finite or is float32's extreme value
    are counted against thresholds that give the same result.

    Args:
        scores: (B, n_items) scores (converted to float32 when they are not).
        targets: (B,) target item indices.
        policy: tie policy (see module docstring).

    Returns:
        (B,) float64 ranks in [1, n_items].
    """
    if policy not in TIE_POLICIES:
        raise ValueError(f"tie policy must be one of {TIE_POLICIES}, got {policy!r}")
    scores = np.asarray(scores, dtype=np.float32)
    targets = np.asarray(targets)
    n_rows = len(targets)
    if scores.ndim != 2 or scores.shape[0] != n_rows:
        raise ValueError(f"scores must have shape (len(targets), n_items) = ({n_rows}, n_items), got {scores.shape}")
    target_scores = scores[np.arange(n_rows), targets]
    # the comparisons run on the raw scores; the thresholds make them count as on
    # nan_to_num(scores, nan=-inf), where -inf/+inf become the lowest/highest finite float32
    low, high = target_scores <= -_FMAX, target_scores >= _FMAX
    gt_thr = np.where(low, -_FMAX, np.where(high, np.inf, target_scores)).astype(np.float32)
    ge_thr = np.where(low, -np.inf, np.where(high, _FMAX, target_scores)).astype(np.float32)
    nan_rows = np.flatnonzero(np.isnan(target_scores))
    gt_thr[nan_rows] = ge_thr[nan_rows] = 0.0  # NaN targets: exact per-row path below
    higher = _count(scores, gt_thr[:, None], np.greater) if policy != "conservative" else None
    geq = _count(scores, ge_thr[:, None], np.greater_equal) if policy != "standard" else None
    for row in nan_rows:  # NaN counts as -inf: every non-NaN item is higher, every item is >=
        n_valid = np.count_nonzero(~np.isnan(scores[row]))
        if higher is not None:
            higher[row] = n_valid
        if geq is not None:
            geq[row] = scores.shape[1]
    if policy == "standard":
        return higher + 1.0
    if policy == "conservative":
        return geq.astype(np.float64)
    return (higher + 1.0 + geq) / 2.0


def _count(scores: np.ndarray, thresholds: np.ndarray, compare) -> np.ndarray:
    """Per row, how many ``compare(scores[i, j], thresholds[i])`` hold; (B,) int64, blockwise."""
    n_rows, n_items = scores.shape
    out = np.empty(n_rows, np.int64)
    step = max(1, _BLOCK_ELEMENTS // max(n_items, 1))
    buf = np.empty((min(step, n_rows), n_items), bool)
    count_dtype = np.int32 if n_items < 2**31 else np.int64
    for lo in range(0, n_rows, step):
        hi = min(lo + step, n_rows)
        block = buf[: hi - lo]
        compare(scores[lo:hi], thresholds[lo:hi], out=block)
        out[lo:hi] = np.add.reduce(block.view(np.uint8), axis=1, dtype=count_dtype)
    return out


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
