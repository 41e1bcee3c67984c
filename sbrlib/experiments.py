"""Experiment helpers the notebooks share: fit-and-time models, compare them with the one
evaluator, the "does the order matter?" experiment and example recommendations."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from sbrlib.columns import ITEM, SESSION, TIME
from sbrlib.evaluation import EvalConfig, EvalResult, evaluate, results_table
from sbrlib.models.base import SessionModel

log = logging.getLogger(__name__)


def fit_timed(models: Mapping[str, Callable[[], SessionModel]], train: pd.DataFrame) -> tuple[dict, dict]:
    """Build and fit each model on ``train``.

    Args:
        models: display name -> factory returning an unfitted model.
        train: training events.

    Returns:
        ``(fitted, seconds)``: name -> model, name -> fit seconds.
    """
    fitted, seconds = {}, {}
    for name, factory in models.items():
        start = time.perf_counter()
        model = factory().fit(train)
        model.name = name
        seconds[name] = time.perf_counter() - start
        fitted[name] = model
        log.info("fitted %s in %.2f s", name, seconds[name])
    return fitted, seconds


def compare(models: Mapping[str, SessionModel], test: pd.DataFrame, config: EvalConfig = EvalConfig(),
            fit_seconds: Mapping[str, float] | None = None, progress: bool = True) -> tuple[pd.DataFrame, dict[str, EvalResult]]:
    """Evaluate every model on ``test`` with the same settings.

    Returns:
        ``(table, results)``: one row per model (metrics, ``fit_seconds``, ``eval_seconds``) and
        name -> :class:`EvalResult`.
    """
    results = {}
    for name, model in models.items():
        results[name] = evaluate(model, test, config, progress=progress)
    extra = {name: {"fit_seconds": float(fit_seconds.get(name, np.nan))} for name in models} if fit_seconds else None
    return results_table(list(results.values()), extra), results


def shuffle_within_sessions(events: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A copy where the items of every session are randomly permuted (times keep their order).

    The session set, lengths and time stamps stay the same; only the order of items inside each
    session changes. Used to measure how much a model relies on order.
    """
    out = events.sort_values([SESSION, TIME], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keys = rng.random(len(out))
    perm = np.lexsort((keys, out[SESSION].to_numpy()))  # random order within each session block
    out[ITEM] = out[ITEM].to_numpy()[perm]
    return out


def example_recommendations(model, test: pd.DataFrame, titles: pd.Series | None, n_sessions: int = 3,
                            prefix_length: int = 3, k: int = 5, seed: int = 0) -> pd.DataFrame:
    """Top-k recommendations after the first ``prefix_length`` items of a few random test sessions.

    Returns:
        One row per recommendation: session, prefix (titles), rank, recommended title, score, and
        whether it is the true next item.
    """
    lengths = test.groupby(SESSION).size()
    eligible = lengths[lengths > prefix_length].index.to_numpy()
    if not len(eligible):
        return pd.DataFrame()
    chosen = np.random.default_rng(seed).choice(eligible, size=min(n_sessions, len(eligible)), replace=False)
    name = (lambda i: titles.get(i, str(i))) if titles is not None else str
    rows = []
    for sid in chosen:
        items = test[test[SESSION] == sid].sort_values(TIME, kind="stable")[ITEM].to_numpy()
        prefix, truth = items[:prefix_length], items[prefix_length]
        recs = model.recommend(prefix, k=k)
        for rank, (item, score) in enumerate(zip(recs[ITEM], recs["Score"]), start=1):
            rows.append({"session": sid, "prefix": " → ".join(name(i) for i in prefix), "rank": rank,
                         "recommended": name(item), "score": round(float(score), 3), "true next": bool(item == truth)})
    return pd.DataFrame(rows)
