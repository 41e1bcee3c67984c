"""Experiment helpers the notebooks share: baseline factories, fit-and-time models, compare them
with the one evaluator (with intervals), the seen-items comparison, the "does the order matter?"
experiment and example recommendations."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sbrlib import uncertainty as U
from sbrlib.columns import ITEM, SESSION, TIME
from sbrlib.evaluation import EvalConfig, EvalResult, evaluate, results_table
from sbrlib.models.base import SessionModel
from sbrlib.models.baselines import (
    VSKNN,
    ItemKNN,
    ItemKNNConfig,
    Markov,
    Pop,
    SequentialRules,
    SessionPop,
    SRConfig,
    VSKNNConfig,
)

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
            fit_seconds: Mapping[str, float] | None = None, progress: bool = True,
            history: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, EvalResult]]:
    """Evaluate every model on ``test`` with the same settings.

    Args:
        history: events before the test period, for ``exclude_seen="user"`` (see :func:`evaluate`).

    Returns:
        ``(table, results)``: one row per model (metrics, ``fit_seconds``, ``eval_seconds``) and
        name -> :class:`EvalResult`.
    """
    results = {}
    for name, model in models.items():
        results[name] = evaluate(model, test, config, progress=progress, history=history)
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


# --------------------------------------------------------------------------- baselines

BASELINE_DEFAULTS: dict[str, dict] = {
    "Item-kNN": {"lam": ItemKNNConfig.lam, "alpha": ItemKNNConfig.alpha},
    "SR": {"steps": SRConfig.steps},
    "V-SKNN": {"k": VSKNNConfig.k, "sample_size": VSKNNConfig.sample_size},
}
"""Parameters of the tunable baselines when nothing else is given (their config defaults)."""


def baseline_factories(params: Mapping[str, Mapping] | None = None) -> dict[str, Callable[[], SessionModel]]:
    """Display name -> factory of every baseline (Pop, S-Pop, Item-kNN, Markov, SR, V-SKNN).

    Args:
        params: per model, keyword arguments of its config (``{"SR": {"steps": 5}}``); models
            not listed use :data:`BASELINE_DEFAULTS`.
    """
    p = {name: {**BASELINE_DEFAULTS[name], **dict((params or {}).get(name, {}))} for name in BASELINE_DEFAULTS}
    return {
        "Pop": Pop, "S-Pop": SessionPop,
        "Item-kNN": lambda: ItemKNN(ItemKNNConfig(**p["Item-kNN"])),
        "Markov": Markov,
        "SR": lambda: SequentialRules(SRConfig(**p["SR"])),
        "V-SKNN": lambda: VSKNN(VSKNNConfig(**p["V-SKNN"])),
    }


def tuned_baseline_params(split_name: str, defaults: Mapping[str, Mapping] | None = None) -> dict[str, dict]:
    """Baseline parameters for notebooks 05 and 07: the best ones of notebook 03's searches on
    ``split_name`` (through :func:`sbrlib.tuning.resolve_config`, which checks each study's
    identity), and ``defaults`` for any baseline that was not tuned.

    Returns:
        Display name -> keyword arguments of its config (the searched ones when tuned) plus
        ``"source"`` (the sentence saying where they came from: trials, data, objective, budget;
        split it off with :func:`split_params_source`).

    Raises:
        TuningError: a stored study was made differently (one line saying what differs).
    """
    from sbrlib import tuning

    out = {name: {**dict(params), "source": "defaults (not tuned on this split)"}
           for name, params in (defaults or {}).items()}
    for key, name in tuning.MODEL_NAMES.items():
        if key in tuning.space.NEURAL or name not in BASELINE_DEFAULTS:
            continue
        resolved = tuning.resolve_config(key, split_name, "tuned")
        if resolved.source == "tuned":
            searched = {k: getattr(resolved.config, k) for k in resolved.facts["searched"]}
            out[name] = {**searched, "source": resolved.description}
    return out


def split_params_source(params: Mapping[str, Mapping]) -> tuple[dict[str, dict], dict[str, str]]:
    """``({name: config kwargs}, {name: source})`` from :func:`tuned_baseline_params`'s result."""
    kwargs = {name: {k: v for k, v in p.items() if k != "source"} for name, p in params.items()}
    return kwargs, {name: str(p.get("source", "parameters cell")) for name, p in params.items()}


# --------------------------------------------------------------------------- intervals


def with_intervals(results: Mapping[str, EvalResult], metrics: Sequence[str], compare_on: Sequence[str],
                   config: U.BootstrapConfig = U.BootstrapConfig()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Bootstrap intervals of ``metrics`` for every model, and the best model against each other one.

    Args:
        results: model name -> :class:`EvalResult` (all on the same test predictions).
        metrics: metrics that get an interval.
        compare_on: metrics on which the best model is compared with every other (paired).
        config: bootstrap settings.

    Returns:
        ``(intervals, comparisons)``: :func:`sbrlib.uncertainty.intervals_table` and, per metric of
        ``compare_on``, :func:`sbrlib.uncertainty.compare_to_best`.
    """
    preds = {name: res.predictions for name, res in results.items()}
    intervals = U.intervals_table(preds, metrics, config)
    comparisons = {m: U.compare_to_best(preds, m, config) for m in compare_on}
    return intervals, comparisons


def display_table(table: pd.DataFrame, intervals: pd.DataFrame, comparisons: Mapping[str, pd.DataFrame],
                  columns: Sequence[str], order_by: str) -> pd.DataFrame:
    """The results table as text: ``"0.2123 (0.1901–0.2350)"`` per metric with an interval, the
    difference to the best model per compared metric (``"−0.0025 (−0.0061–0.0010)"``, ``*`` when
    the interval excludes 0), other columns as they are; rows sorted by ``order_by``.
    """
    out = pd.DataFrame(index=table.sort_values(order_by, ascending=False).index)
    for col in columns:
        if col in intervals.index.get_level_values("metric"):
            ci = intervals.xs(col, level="metric")
            out[col] = [f"{ci.loc[m, 'estimate']:.4f} ({ci.loc[m, 'low']:.4f}–{ci.loc[m, 'high']:.4f})"
                        for m in out.index]
        elif col in table:
            vals = table.loc[out.index, col]
            fmt = "{:,.2f}" if col.endswith("seconds") else "{:.4f}"
            out[col] = [fmt.format(v) for v in vals]
    for m, cmp in comparisons.items():
        best = cmp.index[0]
        cells = []
        for name in out.index:
            r = cmp.loc[name]
            cells.append("best" if name == best else
                         f"{r['diff']:+.4f} ({r['low']:+.4f} to {r['high']:+.4f}){' *' if r['significant'] else ''}")
        out[f"{m} vs {best}"] = cells
    out.index.name = "model"
    return out


def exclusion_table(tables: Mapping[str, pd.DataFrame], metrics: Sequence[str]) -> pd.DataFrame:
    """Metrics of every model under several ``exclude_seen`` settings, side by side.

    Args:
        tables: setting (``"none"``, ``"user"``...) -> :func:`compare` table.
        metrics: columns to keep.

    Returns:
        Index model, columns ``"<setting> <metric>"``.
    """
    parts = [t[list(metrics)].add_prefix(f"{setting} ") for setting, t in tables.items()]
    return pd.concat(parts, axis=1)


# --------------------------------------------------------------------------- order experiment


def estimated_fit_seconds(history: pd.DataFrame, epochs: int) -> float:
    """Seconds ``epochs`` more epochs should take, from a saved model's per-epoch ``seconds``
    (median, so a slow first epoch with compilation does not dominate); NaN when unknown."""
    if epochs <= 0:
        return 0.0
    if history is None or "seconds" not in history or not len(history):
        return float("nan")
    return float(history["seconds"].median() * epochs)


def order_models(factories: Mapping[str, Callable[[], SessionModel]], gru=None, gru_epochs: int | None = 0,
                 names: Sequence[str] = ("SR", "Item-kNN")) -> dict[str, Callable[[], SessionModel]]:
    """The models of the order experiment: ``names`` from ``factories``, plus GRU4Rec when ``gru_epochs`` > 0.

    GRU4Rec is retrained with the saved model's configuration for ``gru_epochs`` epochs (no early
    stopping); its estimated cost (median epoch time of ``gru.history``) is logged first. With
    ``gru_epochs`` 0 or None GRU4Rec is not retrained (the project trains it once, in notebook 04).
    """
    models = {name: factories[name] for name in names}
    epochs = int(gru_epochs or 0)
    if gru is None:
        return models
    if epochs > 0:
        from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig  # noqa: PLC0415 - TensorFlow only when needed

        log.info("order experiment: retraining GRU4Rec on shuffled sessions for %d epoch(s), about %.0f s "
                 "(median epoch of the saved model)", epochs, estimated_fit_seconds(gru.history, epochs))
        config = GRU4RecConfig(**{**gru.config.to_dict(), "epochs": epochs, "early_stopping_patience": None})
        models["GRU4Rec"] = lambda: GRU4Rec(config)
    else:
        log.info("order experiment: GRU4Rec not retrained (ORDER_EPOCHS = 0); one epoch would take about %.0f s",
                 estimated_fit_seconds(gru.history, 1))
    return models


def order_experiment(factories: Mapping[str, Callable[[], SessionModel]], train: pd.DataFrame, test: pd.DataFrame,
                     real: Mapping[str, EvalResult], config: EvalConfig = EvalConfig(), metrics: Sequence[str] = ("recall@20", "mrr@20"),
                     seed: int = 0, history: pd.DataFrame | None = None,
                     bootstrap: U.BootstrapConfig = U.BootstrapConfig()) -> pd.DataFrame:
    """Retrain each model on within-session shuffled training data and evaluate it on shuffled test data.

    Shuffling keeps sessions, lengths and times, so the shuffled test has the same sessions and
    positions as the real one and the comparison is paired (same resampled sessions).

    Args:
        factories: display name -> factory of an unfitted model (names must be in ``real``).
        train, test: the real-order split.
        real: results of the same models on the real-order test.
        config: evaluation settings (as for ``real``).
        metrics: metrics to compare.
        seed: shuffle seed (train uses ``seed``, test ``seed + 1``).
        history: for ``exclude_seen="user"`` (the real training split is right: shuffling inside
            sessions does not change which items a user rated).

    Returns:
        One row per (model, metric): ``real``, ``shuffled``, ``change`` (shuffled/real - 1),
        ``diff`` (shuffled - real), ``low``, ``high`` (interval of ``diff``), ``significant``.
    """
    shuffled_train = shuffle_within_sessions(train, seed=seed)
    shuffled_test = shuffle_within_sessions(test, seed=seed + 1)
    rows = {}
    for name, factory in factories.items():
        model = factory().fit(shuffled_train)
        model.name = name
        res = evaluate(model, shuffled_test, config, progress=False, history=history)
        cmp = U.paired(res.predictions, real[name].predictions, metrics, bootstrap)
        for m in metrics:
            r = cmp.loc[m]
            rows[(name, m)] = {"real": r["b"], "shuffled": r["a"],
                               "change": r["a"] / r["b"] - 1 if r["b"] > 0 else float("nan"),
                               "diff": r["diff"], "low": r["low"], "high": r["high"],
                               "significant": bool(r["significant"])}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["model", "metric"]
    return out
