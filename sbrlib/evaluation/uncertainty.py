"""How sure are we? Bootstrap intervals and paired comparisons over test sessions.

The predictions of one test session are not independent (same user, same sitting), so the unit
we resample is the **session**, never the single prediction: a replicate draws as many sessions
as the test set has, with replacement, and recomputes each metric as the mean over all
predictions of the drawn sessions. Resampling predictions instead would pretend to have far more
independent data than there is and give intervals that are too narrow.

Everything is vectorized: per-session sums of each per-prediction value are computed once
(``bincount``), and a block of replicates is one ``(R, n_sessions) @ (n_sessions, m)`` product
of multinomial session counts. Replicates are seeded, so intervals are reproducible.

* :func:`bootstrap` – percentile intervals of mean metrics (Recall@K, MRR@K, NDCG@K,
  popularity@K) of one model.
* :func:`paired` – the difference ``a - b`` between two models judged on the same test
  predictions, with the *same* resampled sessions for both (a paired bootstrap), its interval and
  a two-sided bootstrap p-value.
* :func:`compare_to_best` – the best model on a metric against every other model.
* :func:`bucketed` – a metric per bucket of session length or position, with buckets large enough
  to mean something, counts and intervals.

``coverage@K`` (distinct items over *all* lists) is not a mean over predictions: it grows with
the number of lists, and a resample, which repeats some sessions and misses about 37% of them,
would bias it down. It is reported without an interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from sbrlib.core import checks as C
from sbrlib.core.columns import SESSION

_METRIC = re.compile(r"^(recall|hitrate|mrr|ndcg|popularity)@(\d+)$")


@dataclass(frozen=True)
class BootstrapConfig:
    """Bootstrap settings.

    Attributes:
        n_boot: number of replicates.
        level: confidence level of the intervals (0.95: 2.5% and 97.5% percentiles).
        seed: seed of the session draws (same seed, same intervals).
        chunk: replicates drawn per block (bounds memory to ``chunk * n_sessions`` counts).
    """

    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0
    chunk: int = 250

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "n_boot": C.integer(min=1),
        "level": C.number(gt=0, lt=1),
        "seed": C.integer(min=0),
        "chunk": C.integer(min=1),
    }
    """What each field may be (checked in ``__post_init__``; reused by the notebooks' parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)


def prediction_values(predictions: pd.DataFrame, metric: str) -> np.ndarray:
    """Per-prediction value whose mean is ``metric``, shape (n_predictions,).

    ``recall@K`` (= ``hitrate@K``): 1 if rank <= K else 0; ``mrr@K``: 1/rank if rank <= K else 0;
    ``ndcg@K``: 1/log2(rank + 1) if rank <= K else 0; ``popularity@K``: the column of that name
    (the mean normalised popularity of the prediction's top-K list, written by the evaluator).
    """
    match = _METRIC.match(metric)
    if not match:
        raise ValueError(f"no per-prediction values for {metric!r}: use recall@K, mrr@K, ndcg@K or popularity@K")
    kind, k = match.group(1), int(match.group(2))
    if kind == "popularity":
        if metric not in predictions:
            raise ValueError(f"predictions have no {metric!r} column: evaluate with coverage_ks including {k}")
        return predictions[metric].to_numpy(np.float64)
    ranks = predictions["rank"].to_numpy(np.float64)
    hit = ranks <= k
    if kind in ("recall", "hitrate"):
        return hit.astype(np.float64)
    if kind == "mrr":
        return np.where(hit, 1.0 / ranks, 0.0)
    return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)


def _session_sums(values: np.ndarray, sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, sums (n_sessions, m), counts (n_sessions,))`` of per-prediction ``values`` (n, m)."""
    ids, codes = np.unique(sessions, return_inverse=True)
    n = len(ids)
    sums = np.stack([np.bincount(codes, weights=values[:, j], minlength=n) for j in range(values.shape[1])], axis=1)
    counts = np.bincount(codes, minlength=n).astype(np.float64)
    return ids, sums, counts


def _replicate_means(sums: np.ndarray, counts: np.ndarray, config: BootstrapConfig) -> np.ndarray:
    """(n_boot, m) metric means of resampled sessions (multinomial session counts per replicate)."""
    n = len(counts)
    rng = np.random.default_rng(config.seed)
    pvals = np.full(n, 1.0 / n)
    out = np.empty((config.n_boot, sums.shape[1]))
    for start in range(0, config.n_boot, config.chunk):
        r = min(config.chunk, config.n_boot - start)
        weights = rng.multinomial(n, pvals, size=r).astype(np.float64)  # (r, n) times each session is drawn
        out[start:start + r] = (weights @ sums) / np.maximum(weights @ counts, 1.0)[:, None]
    return out


def _values(predictions: pd.DataFrame, metrics: Sequence[str]) -> np.ndarray:
    return np.stack([prediction_values(predictions, m) for m in metrics], axis=1) if len(metrics) else \
        np.zeros((len(predictions), 0))


def bootstrap_means(values: np.ndarray, groups: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
                    ) -> pd.DataFrame:
    """Percentile intervals of the mean of ``values`` resampling whole ``groups``.

    Args:
        values: (n,) or (n, m) per-observation values.
        groups: (n,) group (session) of each observation; groups are resampled with replacement.
        config: bootstrap settings.

    Returns:
        One row per column of ``values``: ``estimate`` (the plain mean), ``low``, ``high``, ``se``
        (standard deviation of the replicates).
    """
    values = np.asarray(values, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if not len(values):
        return pd.DataFrame({"estimate": np.nan, "low": np.nan, "high": np.nan, "se": np.nan},
                            index=range(values.shape[1]))
    _, sums, counts = _session_sums(values, np.asarray(groups))
    reps = _replicate_means(sums, counts, config)
    alpha = (1 - config.level) / 2
    return pd.DataFrame({
        "estimate": values.mean(axis=0),
        "low": np.quantile(reps, alpha, axis=0),
        "high": np.quantile(reps, 1 - alpha, axis=0),
        "se": reps.std(axis=0, ddof=1) if config.n_boot > 1 else np.zeros(values.shape[1]),
    })


def bootstrap(predictions: pd.DataFrame, metrics: Sequence[str], config: BootstrapConfig = BootstrapConfig(),
              ) -> pd.DataFrame:
    """Intervals of mean metrics of one model, resampling test sessions.

    Args:
        predictions: the evaluator's per-prediction frame (``rank``, ``SessionId``, ...).
        metrics: e.g. ``("recall@20", "mrr@20")``.
        config: bootstrap settings.

    Returns:
        One row per metric: ``estimate``, ``low``, ``high``, ``se``.
    """
    out = bootstrap_means(_values(predictions, metrics), predictions[SESSION].to_numpy(), config)
    out.index = pd.Index(list(metrics), name="metric")
    return out


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames in the same (session, position) order; a clear error when they differ."""
    keys = [SESSION, "position"]
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs the same test predictions: {len(a)} vs {len(b)} rows "
                         "(evaluate both models on the same test frame with the same EvalConfig)")
    a = a.sort_values(keys, kind="stable").reset_index(drop=True)
    b = b.sort_values(keys, kind="stable").reset_index(drop=True)
    if not (a[keys].to_numpy() == b[keys].to_numpy()).all():
        raise ValueError("paired comparison needs the same test predictions: the (session, position) pairs differ")
    return a, b


def paired(a: pd.DataFrame, b: pd.DataFrame, metrics: Sequence[str], config: BootstrapConfig = BootstrapConfig(),
           ) -> pd.DataFrame:
    """Paired bootstrap of ``metric(a) - metric(b)`` over the sessions both were evaluated on.

    Both models are judged on the same predictions; every replicate draws one set of sessions and
    computes both metrics on it, so what the two have in common (easy and hard sessions) cancels.

    Args:
        a, b: per-prediction frames of two models on the same test data (same sessions and
            positions; matched on ``SessionId`` and ``position``).
        metrics: metric names.
        config: bootstrap settings.

    Returns:
        One row per metric: ``a``, ``b``, ``diff`` (= a - b), ``low``, ``high`` (interval of the
        difference), ``p_value`` (two-sided: twice the share of replicates on the other side of 0,
        at most 1) and ``significant`` (the interval excludes 0).
    """
    a, b = _aligned(a, b)
    va, vb = _values(a, metrics), _values(b, metrics)
    if not len(va):
        raise ValueError("paired comparison of empty prediction frames")
    _, sums, counts = _session_sums(np.concatenate([va, vb], axis=1), a[SESSION].to_numpy())
    reps = _replicate_means(sums, counts, config)
    m = len(metrics)
    diffs = reps[:, :m] - reps[:, m:]
    alpha = (1 - config.level) / 2
    low, high = np.quantile(diffs, alpha, axis=0), np.quantile(diffs, 1 - alpha, axis=0)
    p = np.minimum(1.0, 2 * np.minimum((diffs <= 0).mean(axis=0), (diffs >= 0).mean(axis=0)))
    return pd.DataFrame({
        "a": va.mean(axis=0), "b": vb.mean(axis=0), "diff": va.mean(axis=0) - vb.mean(axis=0),
        "low": low, "high": high, "p_value": p, "significant": (low > 0) | (high < 0),
    }, index=pd.Index(list(metrics), name="metric"))


def intervals_table(results: Mapping[str, pd.DataFrame], metrics: Sequence[str],
                    config: BootstrapConfig = BootstrapConfig()) -> pd.DataFrame:
    """Bootstrap intervals of several models.

    Args:
        results: model name -> per-prediction frame.
        metrics: metric names.

    Returns:
        Long table indexed by (model, metric) with ``estimate``, ``low``, ``high``, ``se``.
    """
    frames = {name: bootstrap(pred, metrics, config) for name, pred in results.items()}
    return pd.concat(frames, names=["model", "metric"])


def compare_to_best(results: Mapping[str, pd.DataFrame], metric: str,
                    config: BootstrapConfig = BootstrapConfig()) -> pd.DataFrame:
    """The model with the highest ``metric`` against every other model (paired bootstrap).

    Returns:
        One row per model (the best first, with a zero difference), columns ``best``, ``value``,
        ``diff`` (model - best, <= 0), ``low``, ``high``, ``p_value``, ``significant``
        (the model is distinguishable from the best).
    """
    values = {name: float(prediction_values(pred, metric).mean()) for name, pred in results.items()}
    best = max(values, key=lambda n: (values[n], -list(values).index(n)))  # ties: first listed
    rows = {}
    for name, pred in results.items():
        cmp = paired(pred, results[best], [metric], config).iloc[0]
        rows[name] = {"best": best, "value": values[name], "diff": cmp["diff"], "low": cmp["low"],
                      "high": cmp["high"], "p_value": cmp["p_value"], "significant": bool(cmp["significant"])}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "model"
    return out.loc[sorted(out.index, key=lambda n: (n != best, -values[n]))]


def quantile_buckets(values: np.ndarray, sessions: np.ndarray, n_buckets: int = 6, min_sessions: int = 20,
                     min_predictions: int = 50) -> list[tuple[int, int]]:
    """Integer ranges ``[lo, hi]`` covering ``values``, each holding enough data.

    Edges start at quantiles of ``values`` (``n_buckets`` roughly equal buckets); a bucket with
    fewer than ``min_sessions`` distinct sessions or ``min_predictions`` values is merged into its
    neighbour until every bucket has enough (a single bucket if the data are small).

    Args:
        values: (n,) integer values (e.g. session length or position of each prediction).
        sessions: (n,) session of each value.
        n_buckets: buckets to aim for.
        min_sessions: fewest distinct sessions per bucket.
        min_predictions: fewest values per bucket.
    """
    values = np.asarray(values, np.int64)
    if not len(values):
        return []
    qs = np.quantile(values, np.linspace(0, 1, n_buckets + 1)[1:-1], method="lower")
    uppers = sorted(set(int(q) for q in qs) | {int(values.max())})
    ranges, lo = [], int(values.min())
    for hi in uppers:
        if hi >= lo:
            ranges.append([lo, hi])
            lo = hi + 1

    def enough(r):
        mask = (values >= r[0]) & (values <= r[1])
        return mask.sum() >= min_predictions and len(np.unique(np.asarray(sessions)[mask])) >= min_sessions

    merged = True
    while merged and len(ranges) > 1:
        merged = False
        for i, r in enumerate(ranges):
            if not enough(r):
                j = i + 1 if i + 1 < len(ranges) else i - 1  # merge into the next (the last: the previous)
                lo_, hi_ = min(r[0], ranges[j][0]), max(r[1], ranges[j][1])
                ranges[min(i, j)] = [lo_, hi_]
                del ranges[max(i, j)]
                merged = True
                break
    return [(int(a), int(b)) for a, b in ranges]


def bucket_label(lo: int, hi: int) -> str:
    """``"5"`` for a one-value bucket, else ``"3–7"`` (both ends included)."""
    return str(lo) if lo == hi else f"{lo}–{hi}"


def bucketed(results: Mapping[str, pd.DataFrame], column: str, metric: str, n_buckets: int = 6,
             min_sessions: int = 20, min_predictions: int = 50,
             config: BootstrapConfig = BootstrapConfig(n_boot=500)) -> pd.DataFrame:
    """``metric`` per bucket of ``column`` (``session_length`` or ``position``), per model.

    Buckets come from :func:`quantile_buckets` on the first model's predictions (all models are
    judged on the same predictions), so every bucket has enough sessions to be read.

    Returns:
        Long table with ``bucket`` (label), ``lo``, ``hi``, ``model``, ``estimate``, ``low``,
        ``high``, ``predictions``, ``sessions``.
    """
    if not results:
        return pd.DataFrame()
    first = next(iter(results.values()))
    ranges = quantile_buckets(first[column].to_numpy(), first[SESSION].to_numpy(), n_buckets, min_sessions,
                              min_predictions)
    rows = []
    for name, pred in results.items():
        col = pred[column].to_numpy()
        for lo, hi in ranges:
            sub = pred[(col >= lo) & (col <= hi)]
            ci = bootstrap(sub, [metric], config).iloc[0]
            rows.append({"bucket": bucket_label(lo, hi), "lo": lo, "hi": hi, "model": name,
                         "estimate": ci["estimate"], "low": ci["low"], "high": ci["high"],
                         "predictions": len(sub), "sessions": int(sub[SESSION].nunique())})
    return pd.DataFrame(rows)


def corrected(p_values: Mapping[str, float], alpha: float = 0.05) -> pd.DataFrame:
    """Bonferroni and Holm corrections of a family of two-sided p-values.

    Args:
        p_values: comparison label -> p-value (e.g. :func:`paired`'s ``p_value``).
        alpha: family-wise error rate.

    Returns:
        One row per comparison, smallest p first (stable for ties), columns ``p_value``,
        ``raw`` (p < alpha), ``bonferroni`` (p < alpha / m), ``holm_threshold`` (alpha / (m - i) for
        the i-th smallest, 0-based) and ``holm`` (rejected by Holm's step-down: every smaller p
        passed its own threshold too).

    Raises:
        ValueError: a p-value outside [0, 1] or alpha outside (0, 1).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"corrected: alpha must be in (0, 1), got {alpha!r}")
    bad = {k: v for k, v in p_values.items() if not 0 <= float(v) <= 1}
    if bad:
        raise ValueError(f"corrected: p-values must be in [0, 1]; got {bad}")
    out = pd.DataFrame({"p_value": pd.Series({k: float(v) for k, v in p_values.items()}, dtype=float)})
    out = out.sort_values("p_value", kind="stable")
    m = len(out)
    out["raw"] = out["p_value"] < alpha
    out["bonferroni"] = out["p_value"] < alpha / max(m, 1)
    out["holm_threshold"] = alpha / (m - np.arange(m)) if m else np.array([], dtype=float)
    passed = (out["p_value"] < out["holm_threshold"]).to_numpy()
    out["holm"] = np.logical_and.accumulate(passed) if m else np.array([], dtype=bool)
    return out
