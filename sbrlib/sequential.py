"""Helpers of notebook 07 (sequential models under two protocols): early stopping then refit,
bootstrap intervals over sessions/users, paired differences, and published ML-1M figures.

Intervals come from :mod:`sbrlib.uncertainty` (test sessions resampled, in leave-one-out: users).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from sbrlib import training
from sbrlib import uncertainty as U
from sbrlib.columns import SESSION, TIME, USER
from sbrlib.evaluation import EvalConfig, EvalResult, evaluate_positions
from sbrlib.preprocess import Split, sessionize
from sbrlib.training import TrainingConfig
from sbrlib.training_facts import TrainingFacts

log = logging.getLogger(__name__)

PUBLISHED_ML1M = pd.DataFrame(
    [
        ("SASRec, full cross-entropy", 0.3152, 0.1821, "Klenitskiy & Vasilev, RecSys 2023"),
        ("gSASRec (gBCE)", 0.3003, 0.1726, "Petrov & Macdonald, RecSys 2023"),
        ("BERT4Rec", 0.2843, 0.1537, "Klenitskiy & Vasilev, RecSys 2023"),
        ("GRU4Rec (RecBole)", 0.2776, 0.1545, "Klenitskiy & Vasilev, RecSys 2023"),
    ],
    columns=["model", "recall@10", "ndcg@10", "source"],
).set_index("model")
"""Published leave-one-out ML-1M figures (HR@10 = Recall@10 with one held-out item; full ranking)."""


def _bootstrap_config(n_boot: int, level: float, seed: int) -> U.BootstrapConfig:
    return U.BootstrapConfig(n_boot=n_boot, level=level, seed=seed)


def bootstrap_table(results: Mapping[str, EvalResult], metrics: tuple[str, ...] = ("recall@10", "ndcg@10"),
                    n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Point estimates and percentile intervals (:func:`sbrlib.uncertainty.bootstrap`, resampling
    test sessions; users in leave-one-out), one row per model.

    Returns:
        Columns ``<metric>``, ``<metric> lo``, ``<metric> hi`` for every metric.
    """
    config = _bootstrap_config(n_boot, level, seed)
    rows = {}
    for name, res in results.items():
        boot = U.bootstrap(res.predictions, metrics, config)
        row = {}
        for m in metrics:
            row[m], row[f"{m} lo"], row[f"{m} hi"] = (float(boot.loc[m, c]) for c in ("estimate", "low", "high"))
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def paired_difference(a: EvalResult, b: EvalResult, metric: str, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> dict:
    """``metric(a) - metric(b)`` with a paired bootstrap interval (:func:`sbrlib.uncertainty.paired`)
    on the sessions both scored. When both score one prediction per session (leave-one-out), the
    predictions are matched by session alone, so views of the same held-out item with different
    prefixes (whole history, last session) can be compared."""
    pa, pb = a.predictions, b.predictions
    common = np.intersect1d(pa[SESSION].unique(), pb[SESSION].unique())
    pa, pb = pa[pa[SESSION].isin(common)], pb[pb[SESSION].isin(common)]
    if not pa[SESSION].duplicated().any() and not pb[SESSION].duplicated().any():
        pa, pb = pa.assign(position=0), pb.assign(position=0)
    row = U.paired(pa, pb, [metric], _bootstrap_config(n_boot, level, seed)).iloc[0]
    return {"metric": metric, "difference": float(row["diff"]), "lo": float(row["low"]), "hi": float(row["high"]),
            "p_value": float(row["p_value"]), "sessions": int(len(common))}


def format_interval(table: pd.DataFrame, metrics: tuple[str, ...], digits: int = 4) -> pd.DataFrame:
    """``"0.1234 (0.1100–0.1350)"`` cells from :func:`bootstrap_table`."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        out[m] = [f"{v:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
                  for v, lo, hi in zip(table[m], table[f"{m} lo"], table[f"{m} hi"], strict=True)]
    return out


def fit_early_stopped(make: Callable[[int | None], object], train_tr: pd.DataFrame, valid: pd.DataFrame,
                      train: pd.DataFrame, eval_config: EvalConfig, positions: Literal["all", "last"],
                      metric: str, patience: int, progress: bool = True, refit: bool = False,
                      max_seconds: float | None = None) -> tuple[object, dict]:
    """Train on ``train_tr`` with the one training loop (:func:`sbrlib.training.fit`): ``valid`` scored
    after every epoch with ``eval_config`` at ``positions`` (``train_tr`` is the history for
    ``exclude_seen="user"``), stop after ``patience`` consecutive epochs without improvement of
    ``metric``, at the model's epoch cap, or after the epoch in which ``max_seconds`` of training and
    validation are spent. The same rule for every neural model (GRU4Rec, SASRec).

    Args:
        make: ``make(epochs)`` returns an unfitted model (``prepare_training``/``train_epoch``/
            weights, see :class:`sbrlib.training.Trainable`; ``epochs=None``: the configured maximum,
            which is the epoch cap here).
        refit: False (default): train once and keep the weights of the best epoch (what notebook 04
            does); True: also retrain on ``train`` for the best number of epochs (a second training).
        max_seconds: time budget of the early-stopping run (None: no limit).

    Returns:
        ``(model, info)``; info: ``facts`` (the early-stopping run's
        :class:`~sbrlib.training_facts.TrainingFacts`), ``best_epoch``, ``epochs_run``, ``curve``
        (validation metric per epoch), ``stopped`` (``facts.stopped_by``: ``"patience"``,
        ``"budget"``, ``"epochs"`` or ``"diverged"``), ``still_improving``, ``tune_seconds`` (the
        early-stopping run), ``fit_seconds`` (the refit; 0 without one).
    """
    start = time.perf_counter()
    tuned = make(None)
    config = TrainingConfig(max_epochs=int(tuned.config.epochs), patience=patience, metric=metric,
                            budget_seconds=max_seconds, restore_best=not refit,
                            validation=replace(eval_config, positions=positions, coverage_ks=()))
    facts = training.fit(tuned, train_tr, valid, config, history_frame=train_tr, progress=progress)
    best_epoch = facts.best_epoch or facts.epochs_run
    tune_seconds = time.perf_counter() - start
    if facts.stopped_by == "budget" and facts.still_improving:
        log.warning("%s: %s", type(tuned).__name__, facts.sentence())
    fit_seconds = 0.0
    if refit:
        start = time.perf_counter()
        model = make(best_epoch).fit(train, progress=progress)
        fit_seconds = time.perf_counter() - start
    else:
        model = tuned
    curve = [float(row.get(metric, np.nan)) for row in facts.history]
    info = {"facts": facts, "best_epoch": best_epoch, "epochs_run": facts.epochs_run, "curve": curve,
            "stopped": facts.stopped_by, "still_improving": facts.still_improving, "tune_seconds": tune_seconds,
            "fit_seconds": fit_seconds}
    log.info("%s: %s", type(model).__name__, facts.sentence())
    return model, info


@dataclass
class ProtocolRun:
    """Everything one protocol produced.

    Attributes:
        table: one row per model: metrics with interval bounds, ``fit_seconds``, ``tune_seconds``,
            ``best_epoch``, ``epochs_run``, ``stopped`` (``TrainingFacts.stopped_by``), ``still_improving``,
            ``predictions``.
        results: model name -> :class:`EvalResult` (per-prediction ranks).
        models: model name -> fitted model.
        facts: neural model name -> :class:`~sbrlib.training_facts.TrainingFacts` of its
            early-stopping run (why and when it stopped).
    """

    table: pd.DataFrame
    results: dict[str, EvalResult]
    models: dict[str, object] = field(default_factory=dict)
    facts: dict[str, TrainingFacts] = field(default_factory=dict)


def run_protocol(split: Split, neural: Mapping[str, Callable[[int | None], object]],
                 baselines: Mapping[str, Callable[[], object]], eval_config: EvalConfig,
                 positions: Literal["all", "last"], validation_metric: str, patience: int,
                 metrics: tuple[str, ...], n_boot: int = 1000, seed: int = 0, progress: bool = True,
                 refit: bool = False, max_seconds: float | None = None) -> ProtocolRun:
    """Fit baselines on ``train``; neural models with :func:`fit_early_stopped` (``refit``,
    ``max_seconds``: its options; their training facts in ``ProtocolRun.facts`` and the table's
    ``stopped``/``still_improving`` columns); evaluate all on ``test`` with the same settings (``train`` is the
    history for ``exclude_seen="user"``); bootstrap intervals over test sessions (users in
    leave-one-out)."""
    results, models, extra, facts = {}, {}, {}, {}
    for name, factory in baselines.items():
        start = time.perf_counter()
        model = factory().fit(split["train"])
        model.name = name
        models[name] = model
        extra[name] = {"fit_seconds": time.perf_counter() - start, "tune_seconds": 0.0, "best_epoch": np.nan,
                       "epochs_run": np.nan, "stopped": "", "still_improving": None}
    for name, make in neural.items():
        model, info = fit_early_stopped(make, split["train_tr"], split["valid"], split["train"], eval_config,
                                        positions, validation_metric, patience, progress, refit, max_seconds)
        model.name = name
        models[name] = model
        extra[name] = {k: info[k] for k in ("fit_seconds", "tune_seconds", "best_epoch", "epochs_run", "stopped",
                                            "still_improving")}
        facts[name] = info["facts"]
    for name, model in models.items():
        results[name] = evaluate_positions(model, split["test"], eval_config, positions=positions, progress=progress,
                                           history=split["train"])
    table = bootstrap_table(results, metrics, n_boot=n_boot, seed=seed)
    info = pd.DataFrame.from_dict(extra, orient="index")
    info["predictions"] = pd.Series({name: res.metrics["predictions"] for name, res in results.items()})
    table = table.join(info)
    return ProtocolRun(table, results, models, facts)


def last_session_view(frame: pd.DataFrame, gap: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut every user's history (a leave-one-out frame: one session per user, in order) by inactivity.

    Returns:
        ``(earlier, last)``: ``last`` is each user's final gap-session (ending with the held-out
        item), with ``SessionId = UserId``; ``earlier`` is everything before it, sessionized by gap
        (the history a sequence-aware model may start from). A user whose final session is a single
        event has no prediction in ``last`` (nothing in the session precedes the target).
    """
    ordered = frame.sort_values([USER, TIME], kind="stable").reset_index(drop=True)
    gapped = sessionize(ordered.drop(columns=[SESSION]), "gap", gap)
    last_id = gapped.groupby(USER)[SESSION].transform("max").to_numpy()
    is_last = gapped[SESSION].to_numpy() == last_id
    last = gapped[is_last].copy()
    last[SESSION] = last[USER].to_numpy()
    return gapped[~is_last].reset_index(drop=True), last.reset_index(drop=True)


def history_effect_temporal(gru, split: Split, eval_config: EvalConfig, session_only: EvalResult,
                            metric: str, n_boot: int = 1000, seed: int = 0) -> tuple[EvalResult, dict]:
    """Sequence-aware GRU4Rec on the temporal split: the same trained model (built with
    ``sequence_aware=True``, evaluated session-only before) now starts every test session from the
    state its user's training history left (:meth:`GRU4Rec.warm_start`).

    Returns:
        ``(result with history, paired difference with-history minus session-only)``.
    """
    gru.warm_start(split["train"])
    aware = evaluate_positions(gru, split["test"], eval_config, positions="all", progress=False, history=split["train"])
    aware.model = f"{session_only.model} + user history"
    return aware, paired_difference(aware, session_only, metric, n_boot=n_boot, seed=seed)


def history_effect_loo(make_gru: Callable[[int | None], object], epochs: int, whole_history, split: Split,
                       gap: int, eval_config: EvalConfig, metric: str, n_boot: int = 1000,
                       seed: int = 0) -> tuple[pd.DataFrame, list[tuple[str, str, dict]]]:
    """GRU4Rec in leave-one-out, three ways, on the same held-out items (no exclusion of rated items,
    so that only the model's input differs):

    * ``whole history``: ``whole_history`` (trained on user histories), fed each user's whole past;
    * ``last session``: GRU4Rec trained on the same events cut into ``gap`` sessions, fed only the
      user's final session before the held-out item;
    * ``last session + history state``: the same model started from the state the user's earlier
      sessions left (``sequence_aware``, :meth:`GRU4Rec.warm_start`).

    Users whose final session holds only the held-out item have no session-based prediction; all
    three are compared on the users that have one.

    Returns:
        ``(table of metrics with intervals, [(a, b, paired difference)])``.
    """
    config = replace(eval_config, exclude_seen="none", coverage_ks=())
    train_gap = sessionize(split["train"].drop(columns=[SESSION]).sort_values([USER, TIME], kind="stable"),
                           "gap", gap)
    gru = make_gru(epochs).fit(train_gap, progress=False)
    earlier, last = last_session_view(split["test"], gap)
    results = {"last session": evaluate_positions(gru, last, config, positions="last", progress=False)}
    gru.warm_start(earlier)
    results["last session + history state"] = evaluate_positions(gru, last, config, positions="last", progress=False)
    users = results["last session"].predictions[SESSION].unique()
    whole = evaluate_positions(whole_history, split["test"][split["test"][USER].isin(users)], config,
                               positions="last", progress=False)
    results = {"whole history": whole, **results}
    for name, res in results.items():
        res.model = name
    metrics = tuple(dict.fromkeys((metric, "recall@10", "ndcg@10")))
    table = bootstrap_table(results, metrics, n_boot=n_boot, seed=seed)
    diffs = [(a, b, paired_difference(results[a], results[b], metric, n_boot=n_boot, seed=seed))
             for a, b in (("last session + history state", "last session"), ("whole history", "last session"))]
    return table, diffs
