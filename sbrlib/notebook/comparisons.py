"""Experiment helpers the notebooks share: baseline factories, fit-and-time models, compare them
with the one evaluator (with intervals), the seen-items comparison, the "does the order matter?"
experiment and example recommendations."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sbrlib.core import provenance
from sbrlib.core.columns import ITEM, SESSION, TIME
from sbrlib.core.text import signed
from sbrlib.evaluation import uncertainty as U
from sbrlib.evaluation.evaluator import EvalConfig, EvalResult, evaluate, results_table
from sbrlib.models import registry
from sbrlib.models.base import SessionModel
from sbrlib.recommend import recommend

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
        log.debug("fitted %s in %.2f s", name, seconds[name])  # the caller shows all fit times at once
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


def _permute_within(events: pd.DataFrame, group_keys: Sequence[str], seed: int) -> pd.DataFrame:
    """A copy sorted by ``(SessionId, Time)`` whose rows are randomly permuted inside each group of
    ``group_keys``; the grouping columns, ``SessionId`` and ``Time`` stay in place, every other column
    (item, rating, ...) moves with its row."""
    out = events.sort_values([SESSION, TIME], kind="stable").reset_index(drop=True)
    if not len(out):
        return out
    # after the sort every group is one contiguous block: number the blocks 0, 1, 2, ... in order
    new_block = np.zeros(len(out), dtype=bool)
    new_block[0] = True
    for key in group_keys:
        col = out[key].to_numpy()
        new_block[1:] |= col[1:] != col[:-1]
    blocks = np.cumsum(new_block)
    keys = np.random.default_rng(seed).random(len(out))
    source = np.lexsort((keys, blocks))  # blocks stay in place, a random order inside each
    fixed = set(group_keys) | {SESSION, TIME}
    for col in out.columns:
        if col not in fixed:
            out[col] = out[col].to_numpy()[source]
    return out


def shuffle_within_sessions(events: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A copy where the items of every session are randomly permuted (times keep their order).

    The session set, lengths and time stamps stay the same; only the order of items inside each
    session changes (each item keeps its own columns, e.g. its rating). Destroys *all* order inside
    a session: the user's and the file's order of tied time stamps. The caller's frame is not changed.

    Args:
        events: events with ``SessionId``, ``ItemId``, ``Time``.
        seed: random seed (same seed, same result).

    Returns:
        A new frame sorted by ``(SessionId, Time)`` with a fresh index.
    """
    return _permute_within(events, [SESSION], seed)


def shuffle_ties(events: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A copy where only items that share a session **and** a time stamp are randomly permuted.

    On MovieLens many ratings of one sitting share the same second; their order is the file's (the
    data carry no order among them). This shuffle destroys only that order and keeps every order the
    time stamps do record: each ``(SessionId, Time)`` group keeps its set of items and nothing moves
    across groups. The control of the order experiment. The caller's frame is not changed.

    Args:
        events: events with ``SessionId``, ``ItemId``, ``Time``.
        seed: random seed (same seed, same result).

    Returns:
        A new frame sorted by ``(SessionId, Time)`` with a fresh index.
    """
    return _permute_within(events, [SESSION, TIME], seed)


def tie_counts(events: pd.DataFrame) -> tuple[int, int]:
    """``(tied, pairs)``: consecutive event pairs inside a session, and how many of them share their time stamp."""
    ordered = events.sort_values([SESSION, TIME], kind="stable")
    same_session = ordered[SESSION].to_numpy()[1:] == ordered[SESSION].to_numpy()[:-1]
    same_time = ordered[TIME].to_numpy()[1:] == ordered[TIME].to_numpy()[:-1]
    return int((same_time & same_session).sum()), int(same_session.sum())


def tie_share(events: pd.DataFrame) -> float:
    """Share of consecutive event pairs inside a session that share their time stamp (0 when none)."""
    tied, pairs = tie_counts(events)
    return tied / pairs if pairs else 0.0


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
        recs = recommend(model, prefix, k=k)
        for rank, (item, score) in enumerate(zip(recs[ITEM], recs["Score"]), start=1):
            rows.append({"session": sid, "prefix": " → ".join(name(i) for i in prefix), "rank": rank,
                         "recommended": name(item), "score": round(float(score), 3), "true next": bool(item == truth)})
    return pd.DataFrame(rows)


def beyond_data_notes(params: Mapping[str, Any], events: pd.DataFrame) -> list[str]:
    """What happens when a setting exceeds the data (reader report 5, 4.1), one line per case.

    Args:
        params: display name -> its parameters (a config or a dict), e.g. ``{"GRU4Rec": config, "V-SKNN":
            {"k": 1406, "sample_size": 4396}}``; models without such settings are ignored.
        events: the table the models learn from (its items and sessions are counted).

    Returns:
        E.g. ``["GRU4Rec: n_sample 2,048 is more than the 1,339 items: ..."]``; empty when nothing exceeds the data.
    """
    n_items, n_sessions = int(events[ITEM].nunique()), int(events[SESSION].nunique())
    out = []
    for name, p in params.items():
        get = (lambda k, p=p: p.get(k)) if isinstance(p, Mapping) else (lambda k, p=p: getattr(p, k, None))
        n_sample, sample_size, k = get("n_sample"), get("sample_size"), get("k")
        if name.startswith("GRU4Rec") and n_sample and int(n_sample) > n_items:
            out.append(f"{name}: n_sample {int(n_sample):,} is more than the {n_items:,} items: a step's negatives are "
                       "drawn independently, with replacement (∝ support^sample_alpha), so items repeat among them")
        if name.startswith("V-SKNN") and sample_size and int(sample_size) >= n_sessions:
            line = (f"{name}: sample_size {int(sample_size):,} is at least the {n_sessions:,} training sessions: every "
                    "training session that shares an item with the current one is a candidate (nothing is sampled)")
            if k and int(k) >= n_sessions:
                line += f", and k {int(k):,} keeps every candidate as a neighbour"
            out.append(line)
        elif name.startswith("V-SKNN") and k and sample_size and int(k) >= int(sample_size):
            out.append(f"{name}: k {int(k):,} is at least sample_size {int(sample_size):,}: every candidate is a "
                       "neighbour")
    return out


def where_trained(split_name: str, model_name: str) -> str:
    """Where notebook 04's saved GRU4Rec was trained, from 04's record (``results/<split>/gru4rec_training.json``):
    ``"trained in notebook 03 (the model of trial 0 of study 'gru4rec-mrr@20', reused by notebook 04)"``,
    ``"trained in notebook 04"`` or ``"unknown (...)"``."""
    from sbrlib.tuning.configs import training_record

    payload, why = training_record(split_name, model_name)
    if payload is None:
        return f"where it was trained is unknown ({why})"
    if payload.get("reused"):
        what = str(payload.get("reused_trial") or "").removeprefix("reused: ").partition(" (")[0]
        return f"trained in notebook 03 ({what or 'its best trial'}, reused by notebook 04)"
    return "trained in notebook 04"


# --------------------------------------------------------------------------- baselines

BASELINE_DEFAULTS: dict[str, dict] = {
    spec.name: spec.default_params() for spec in registry.REGISTRY.values() if not spec.neural and spec.tunable}
"""Parameters of the tunable baselines when nothing else is given, by display name (the registry's defaults)."""


def baseline_factories(params: Mapping[str, Mapping] | None = None) -> dict[str, Callable[[], SessionModel]]:
    """Display name -> factory of every non-neural model of the registry (Pop, S-Pop, Item-kNN,
    Markov, SR, V-SKNN, in registry order).

    Args:
        params: per model (display name or key), keyword arguments of its config
            (``{"SR": {"steps": 5}}``); models not listed use their registry defaults.
    """
    given = {registry.resolve(name): dict(kwargs) for name, kwargs in (params or {}).items()}

    def factory(spec: registry.ModelSpec) -> Callable[[], SessionModel]:
        if spec.config is None:
            return spec.build
        config = spec.default_config(**given.get(spec.key, {}))  # checked now, not at the first fit
        return lambda: spec.build(config)

    return {spec.name: factory(spec) for spec in registry.REGISTRY.values() if not spec.neural}


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
        if resolved.source in ("tuned", "single-trial"):
            searched = {k: getattr(resolved.config, k) for k in resolved.facts["searched"]}
            out[name] = {**searched, "source": resolved.description}
    return out


def split_params_source(params: Mapping[str, Mapping]) -> tuple[dict[str, dict], dict[str, str]]:
    """``({name: config kwargs}, {name: source})`` from :func:`tuned_baseline_params`'s result."""
    kwargs = {name: {k: v for k, v in p.items() if k != "source"} for name, p in params.items()}
    return kwargs, {name: str(p.get("source", "parameters cell")) for name, p in params.items()}


def baseline_fit_record(params: Mapping[str, Mapping], sources: Mapping[str, str], frame: str,
                        split_name: str | None, split_fingerprint: str | None) -> dict[str, dict]:
    """What notebook 05 records about how it fitted each baseline, so that 06 and 07 can fit the very
    same models (baselines fit deterministically: same parameters, same events -> same model).

    Args:
        params: display name -> config keyword arguments (as given to :func:`baseline_factories`).
        sources: display name -> where they came from.
        frame: the split's frame they were fitted on (``"train"`` or ``"train_tr"``).
        split_name, split_fingerprint: the split.

    Returns:
        Display name -> ``params``, ``source``, ``frame``, ``split``, ``split_fingerprint`` and
        ``fingerprint`` (of params, frame and split fingerprint: equal fingerprints, identical fits).
    """
    out = {}
    for name, kwargs in params.items():
        key = {"params": dict(kwargs), "frame": frame, "split_fingerprint": split_fingerprint}
        out[name] = {**key, "source": sources.get(name, "parameters cell"), "split": split_name,
                     "fingerprint": provenance.fingerprint({"model": registry.resolve(name), **key})}
    return out


@dataclass(frozen=True)
class BaselinePlan:
    """How notebooks 06 and 07 fit the baselines (:func:`baselines_as_in_05`).

    Attributes:
        params: display name -> config keyword arguments.
        sources: display name -> where they came from.
        frame: the split's frame to fit them on.
        record: display name -> :func:`baseline_fit_record` entry of these fits (compare its
            ``fingerprint`` with 05's).
        sentence: what to print: reused from 05's record, or why not and what is used instead.
        same_as_05: every baseline is fitted exactly as notebook 05 fitted it.
    """

    params: dict[str, dict]
    sources: dict[str, str]
    frame: str
    record: dict[str, dict]
    sentence: str
    same_as_05: bool


def baselines_as_in_05(names: Sequence[str], record: Mapping[str, Mapping] | None, split_name: str | None,
                       split_fingerprint: str | None, fallback_params: Mapping[str, Mapping],
                       fallback_sources: Mapping[str, str], fallback_frame: str) -> BaselinePlan:
    """The parameters and frame to fit ``names`` exactly as notebook 05 fitted them.

    05 records :func:`baseline_fit_record` (its ``metrics.json``, key ``baseline_fits``). When that
    record covers every name and was made on this split, its parameters and frame are used; the
    baselines are then refitted (cheaper than saving and loading them, and identical: fitting is
    deterministic, and equal fingerprints show the same parameters, frame and split). Otherwise
    ``fallback_*`` are used and the sentence says why.

    Returns:
        A :class:`BaselinePlan` (pure: nothing is read or fitted).
    """
    record = dict(record or {})
    problems = []
    missing = [n for n in names if n not in record]
    if not record:
        problems.append("notebook 05 has recorded no baseline fits for this split (run it first)")
    elif missing:
        problems.append(f"05 did not fit {', '.join(missing)}")
    other = sorted({str(r.get("split_fingerprint")) for n, r in record.items() if n in names}
                   - {str(split_fingerprint)})
    if record and other:
        problems.append(f"05's fits were made on another split (fingerprint {', '.join(other)}, "
                        f"this one {split_fingerprint})")
    frames = {r.get("frame") for n, r in record.items() if n in names}
    if not problems and len(frames) != 1:
        problems.append(f"05's fits used several frames {sorted(map(str, frames))}")
    if problems:
        params = {n: dict(fallback_params.get(n, {})) for n in names}
        sources = {n: fallback_sources.get(n, "defaults") for n in names}
        fits = baseline_fit_record(params, sources, fallback_frame, split_name, split_fingerprint)
        return BaselinePlan(params, sources, fallback_frame, fits,
                            f"baselines fitted here, not as in 05, because {'; '.join(problems)}: parameters "
                            f"{_describe(params, sources)}, on {fallback_frame!r}", False)
    frame = frames.pop()
    params = {n: dict(record[n]["params"]) for n in names}
    sources = {n: str(record[n].get("source", "05")) for n in names}
    fits = baseline_fit_record(params, sources, frame, split_name, split_fingerprint)
    same = all(fits[n]["fingerprint"] == record[n].get("fingerprint") for n in names)
    return BaselinePlan(params, sources, frame, fits,
                        f"baselines fitted again exactly as notebook 05 fitted them (its recorded parameters "
                        f"{_describe(params, sources)}, on {frame!r} of split {split_name}; fitting is deterministic, "
                        f"so they are the same models{'' if same else ' (but the fingerprints differ: check)'})",
                        same)


def recorded_baseline_fits(folder: str | Path) -> dict[str, dict]:
    """The baseline fits notebook 05 recorded in ``<folder>/metrics.json`` (key ``baseline_fits``;
    {} when 05 has not run there or recorded none)."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read (%s): the baselines are fitted without 05's record", path, exc)
        return {}
    return dict(data.get("baseline_fits") or {}) if isinstance(data, dict) else {}


def _describe(params: Mapping[str, Mapping], sources: Mapping[str, str]) -> str:
    from sbrlib.tuning.store import short_source

    return "; ".join(f"{n}: {dict(p) or 'defaults'} ({short_source(sources.get(n, '?'))})" for n, p in params.items())


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
        ``(intervals, comparisons)``: :func:`sbrlib.evaluation.uncertainty.intervals_table` and, per metric of
        ``compare_on``, :func:`sbrlib.evaluation.uncertainty.compare_to_best`.
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


ORDER_SECONDS = 60.0
"""Default time budget (seconds) of each GRU4Rec retraining in the order experiment (notebook 05's ``ORDER_SECONDS``)."""

ORDER_VARIANTS: dict[str, str] = {
    "ties": "shuffle only among ratings of a session that share a time stamp (destroys only the file's order of ties)",
    "shuffled": "shuffle whole sessions (destroys all order inside a session: the user's and the file's)",
}
"""The two shuffles of the order experiment, against the original order."""


@dataclass(frozen=True)
class OrderGRUPlan:
    """How GRU4Rec is retrained in the order experiment (once per shuffle, fixed epochs, no validation).

    Attributes:
        epochs: epochs per retraining (0: GRU4Rec left out).
        estimated_seconds: estimated seconds per retraining (median epoch of the saved model × epochs,
            plus the setup its first epoch paid; NaN when the saved model has no epoch times).
        budget_seconds: the time budget per retraining the epochs were chosen from (None: epochs given).
        saved_epochs: epochs of the saved model (its real-order training).
        reason: one sentence saying how ``epochs`` was chosen.
        saved_best_epoch: the epoch whose weights the saved model keeps (early stopping restores the
            best epoch), None when unknown.
    """

    epochs: int
    estimated_seconds: float
    budget_seconds: float | None
    saved_epochs: int
    reason: str
    saved_best_epoch: int | None = None


def order_gru_plan(history: pd.DataFrame | None, epochs: int | None = None,
                   budget_seconds: float | None = ORDER_SECONDS, saved_best_epoch: int | None = None) -> OrderGRUPlan:
    """Epochs of GRU4Rec's retrainings in the order experiment.

    Args:
        history: the saved model's per-epoch history (``seconds``), for the estimate.
        epochs: None: as many epochs as fit in ``budget_seconds`` after the setup (the saved model's
            first epoch minus its median epoch), at least 1, at most the saved model's epochs; 0: leave
            GRU4Rec out; n > 0: exactly n.
        budget_seconds: time budget per retraining (used when ``epochs`` is None).
        saved_best_epoch: the epoch whose weights the saved model keeps (its training facts' ``best_epoch``).

    Returns:
        The plan (epochs, estimated seconds per retraining, and why).
    """
    saved = int(len(history)) if history is not None else 0
    per_epoch = estimated_fit_seconds(history, 1)
    # the first epoch also pays for setup and compilation: each retraining pays it again
    setup = (max(float(history["seconds"].iloc[0]) - per_epoch, 0.0)
             if np.isfinite(per_epoch) and saved else float("nan"))
    if epochs is not None and epochs <= 0:
        return OrderGRUPlan(0, 0.0, budget_seconds, saved, "GRU4Rec left out (ORDER_EPOCHS = 0)", saved_best_epoch)
    if epochs is not None:
        n, why = int(epochs), f"{int(epochs)} epoch(s) as set (ORDER_EPOCHS)"
    elif budget_seconds is None or not np.isfinite(per_epoch) or per_epoch <= 0:
        n, why = 1, "1 epoch (no time budget or no epoch time of the saved model to size it)"
    else:
        fit = int(max(budget_seconds - setup, 0.0) // per_epoch)
        n = int(min(max(fit, 1), max(saved, 1)))
        why = (f"{n} epoch(s): {fit} fit in the budget of {budget_seconds:,.0f} s at {per_epoch:,.1f} s per epoch "
               f"plus {setup:,.1f} s of setup (the saved model's first epoch minus its median"
               + (f"; {fit + 1} would take {setup + (fit + 1) * per_epoch:,.2f} s" if fit < saved else "") + ")"
               + (f", capped at the {saved} epochs the saved model ran" if fit > saved else "")
               + (f" (its training's length, not its kept epoch {saved_best_epoch}: a retraining on shuffled data has "
                  "no validation run to stop early on or pick its own best epoch, so it runs the original training's "
                  f"length; the saved model's weights are epoch {saved_best_epoch}'s, so `tie_diff` and `diff` also "
                  f"carry the difference between {n} and {saved_best_epoch} epochs, which `beyond_diff` cancels)"
                  if saved_best_epoch is not None and n > saved_best_epoch else "")
               + (" (at least one)" if fit < 1 else ""))
    estimate = estimated_fit_seconds(history, n) + (setup if np.isfinite(setup) else 0.0)
    return OrderGRUPlan(n, estimate, budget_seconds, saved, why, saved_best_epoch)


def _gru4rec_factory(gru, epochs: int) -> Callable[[], SessionModel]:
    """The one place the order experiment builds GRU4Rec: the saved model's configuration, ``epochs``
    fixed epochs, no validation and no early stopping (``GRU4Rec(config).fit(train)``)."""
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    config = GRU4RecConfig(**{**gru.config.to_dict(), "epochs": int(epochs), "early_stopping_patience": None})
    return lambda: GRU4Rec(config)


def order_models(factories: Mapping[str, Callable[[], SessionModel]], gru=None, gru_epochs: int | None = None,
                 names: Sequence[str] = ("SR", "Item-kNN"), budget_seconds: float | None = ORDER_SECONDS,
                 ) -> dict[str, Callable[[], SessionModel]]:
    """The models of the order experiment: ``names`` from ``factories``, plus GRU4Rec (by default).

    GRU4Rec is retrained with the saved model's configuration for the epochs of
    :func:`order_gru_plan` (``gru_epochs`` None: as many as fit in ``budget_seconds`` per
    retraining; 0: left out); the plan is logged first.
    """
    models = {name: factories[name] for name in names}
    if gru is None:
        return models
    plan = order_gru_plan(gru.history, gru_epochs, budget_seconds)
    if plan.epochs > 0:
        log.info("order experiment: retraining GRU4Rec twice (two shuffles), %s; about %.0f s each",
                 plan.reason, plan.estimated_seconds)
        models["GRU4Rec"] = _gru4rec_factory(gru, plan.epochs)
    else:
        log.info("order experiment: %s; one epoch would take about %.0f s", plan.reason,
                 estimated_fit_seconds(gru.history, 1))
    return models


def order_experiment(factories: Mapping[str, Callable[[], SessionModel]], train: pd.DataFrame, test: pd.DataFrame,
                     real: Mapping[str, EvalResult], config: EvalConfig = EvalConfig(),
                     metrics: Sequence[str] = ("recall@20", "mrr@20"), seed: int = 0,
                     history: pd.DataFrame | None = None,
                     bootstrap: U.BootstrapConfig = U.BootstrapConfig()) -> pd.DataFrame:
    """Retrain each model on shuffled training data and evaluate it on the same shuffle of the test data,
    for two shuffles (:data:`ORDER_VARIANTS`): ``ties`` (only the file's order of tied time stamps is
    destroyed, :func:`shuffle_ties`) and ``shuffled`` (whole sessions, :func:`shuffle_within_sessions`).

    Shuffling keeps sessions, lengths and times, so every variant has the same test sessions and
    positions as the real one and all comparisons are paired (same resampled sessions).

    Args:
        factories: display name -> factory of an unfitted model (names must be in ``real``).
        train, test: the real-order split.
        real: results of the same models on the real-order test.
        config: evaluation settings (as for ``real``).
        metrics: metrics to compare.
        seed: shuffle seed (ties: train ``seed``, test ``seed + 1``; whole sessions: ``seed + 2``, ``seed + 3``).
        history: for ``exclude_seen="user"`` (the real training split is right: shuffling inside
            sessions does not change which items a user rated).
        bootstrap: settings of the paired bootstrap.

    Returns:
        One row per (model, metric), index ``(model, metric)``: ``real``, ``ties``, ``shuffled`` (the
        metric under each order); ``change`` (shuffled/real − 1), ``diff`` (shuffled − real), ``low``,
        ``high``, ``significant`` (paired 95% interval of ``diff`` excludes 0); the same for the
        tie shuffle with the prefix ``tie_``; ``beyond_diff`` (shuffled − ties), ``beyond_low``,
        ``beyond_high``, ``beyond_significant`` (what whole-session shuffling loses beyond the tie
        shuffle); ``fit_seconds_ties``, ``fit_seconds_shuffled`` (seconds per retraining) and
        ``verdict`` (:func:`order_verdict`).
    """
    shuffles = {"ties": shuffle_ties, "shuffled": shuffle_within_sessions}
    data = {v: (f(train, seed=seed + 2 * i), f(test, seed=seed + 2 * i + 1)) for i, (v, f) in enumerate(shuffles.items())}
    rows = {}
    for name, factory in factories.items():
        preds, seconds = {}, {}
        for variant, (tr, te) in data.items():
            start = time.perf_counter()
            model = factory().fit(tr)
            seconds[variant] = time.perf_counter() - start
            model.name = name
            preds[variant] = evaluate(model, te, config, progress=False, history=history).predictions
            log.info("order experiment: %s on %s data fitted in %.1f s", name, variant, seconds[variant])
        full = U.paired(preds["shuffled"], real[name].predictions, metrics, bootstrap)
        ties = U.paired(preds["ties"], real[name].predictions, metrics, bootstrap)
        beyond = U.paired(preds["shuffled"], preds["ties"], metrics, bootstrap)
        for m in metrics:
            f, t, b = full.loc[m], ties.loc[m], beyond.loc[m]
            row = {"real": f["b"], "ties": t["a"], "shuffled": f["a"],
                   "change": f["a"] / f["b"] - 1 if f["b"] > 0 else float("nan"),
                   "diff": f["diff"], "low": f["low"], "high": f["high"], "significant": bool(f["significant"]),
                   "tie_change": t["a"] / t["b"] - 1 if t["b"] > 0 else float("nan"),
                   "tie_diff": t["diff"], "tie_low": t["low"], "tie_high": t["high"],
                   "tie_significant": bool(t["significant"]),
                   "beyond_diff": b["diff"], "beyond_low": b["low"], "beyond_high": b["high"],
                   "beyond_significant": bool(b["significant"]),
                   "p_value": f["p_value"], "tie_p_value": t["p_value"], "beyond_p_value": b["p_value"],
                   "fit_seconds_ties": seconds["ties"], "fit_seconds_shuffled": seconds["shuffled"]}
            row["verdict"] = order_verdict(row)
            rows[(name, m)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["model", "metric"]
    return out


ORDER_VERDICTS: dict[str, str] = {
    "beyond ties": "the order of the user's ratings carries signal beyond the file's order of tied ratings: "
                   "shuffling whole sessions loses significantly more than shuffling only the ties",
    "ties only": "the loss comes from the file's order of tied ratings: shuffling only the ties loses "
                 "significantly, and shuffling whole sessions loses no significantly more",
    "undecided": "shuffling whole sessions loses against the original order, but neither the tie shuffle's loss nor "
                 "the difference between the two shuffles is significant: the controls cannot say whose order "
                 "carries the signal",
    "no loss": "no loss distinguishable from noise under either shuffle: no evidence that this model uses the order",
    "gain": "a shuffle scores significantly higher than the original order or the tie shuffle: the "
            "order does not help this model here",
}
"""What each :func:`order_verdict` allows us to say."""


def order_verdict(row: Mapping) -> str:
    """What the controls allow, from one row of :func:`order_experiment` (a key of :data:`ORDER_VERDICTS`).

    ``"beyond ties"`` only when whole-session shuffling loses significantly more than the tie shuffle.
    """
    if row["beyond_significant"] and row["beyond_diff"] < 0:
        return "beyond ties"
    if row["tie_significant"] and row["tie_diff"] < 0:
        return "ties only"
    if (row["significant"] and row["diff"] > 0) or (row["tie_significant"] and row["tie_diff"] > 0) \
            or (row["beyond_significant"] and row["beyond_diff"] > 0):
        return "gain"
    if row["significant"] and row["diff"] < 0:
        return "undecided"
    return "no loss"


def _seconds(value: float) -> str:
    return f"{value:,.1f} s" if value >= 0.05 else "under 0.1 s"


def order_conclusions(order: pd.DataFrame, metrics: Sequence[str], plan: OrderGRUPlan | None = None) -> str:
    """:func:`order_conclusion` for each of ``metrics``, GRU4Rec's retraining plan said once, with the first
    (reader 21: the same long caveat was printed for every metric)."""
    return "\n".join(order_conclusion(order, m, plan if i == 0 else None) for i, m in enumerate(metrics))


def order_conclusion(order: pd.DataFrame, metric: str, plan: OrderGRUPlan | None = None) -> str:
    """The conclusion of the order experiment on ``metric``, one Markdown bullet per model, computed
    from :func:`order_experiment`'s numbers and intervals.

    Args:
        order: :func:`order_experiment` output.
        metric: the metric to conclude on (e.g. ``"recall@20"``).
        plan: GRU4Rec's retraining plan, to say how it was retrained and that its comparison with
            the saved model (trained otherwise) mixes in the training difference.
    """
    lines = []
    for (name, m), r in order.iterrows():
        if m != metric:
            continue
        diff = f"{signed(r['diff'])} ({signed(r['low'])} to {signed(r['high'])})"
        tie = f"{signed(r['tie_diff'])} ({signed(r['tie_low'])} to {signed(r['tie_high'])})"
        beyond = f"{signed(r['beyond_diff'])} ({signed(r['beyond_low'])} to {signed(r['beyond_high'])})"
        text = (f"* **{name}** ({metric}: original {r['real']:.4f}, ties shuffled {r['ties']:.4f}, "
                f"sessions shuffled {r['shuffled']:.4f}; retrained in {_seconds(r['fit_seconds_ties'])} and "
                f"{_seconds(r['fit_seconds_shuffled'])}). Whole-session shuffle vs original {diff}; tie shuffle vs "
                f"original {tie}; whole-session vs tie shuffle {beyond} (paired 95% intervals). So "
                f"{ORDER_VERDICTS[r['verdict']]}.")
        if name == "GRU4Rec" and plan is not None:
            text += (f" GRU4Rec's retrainings: {plan.reason}; fixed epochs without validation, against the saved "
                     f"model ({plan.saved_epochs} epoch(s) run, early-stopped on `valid`"
                     + (f", keeping the weights of epoch {plan.saved_best_epoch}" if plan.saved_best_epoch else "")
                     + "): its comparisons with the original order mix in that difference of training (other "
                     "epochs, no weights chosen on `valid`); the whole-session vs tie comparison has the same "
                     "training on both sides."
                     + (f" They were planned at about {plan.estimated_seconds:,.0f} s each and took "
                        f"{_seconds(r['fit_seconds_ties'])} and {_seconds(r['fit_seconds_shuffled'])}: the plan, "
                        "from the saved model's epoch times, only sets the number of epochs, and a retraining is "
                        "never cut short." if np.isfinite(plan.estimated_seconds) and plan.estimated_seconds > 0
                        else ""))
        lines.append(text)
    return "\n".join(lines)


def identical_models(results: Mapping[str, Any]) -> dict[str, str]:
    """Models whose test predictions are another's exactly (every rank equal), e.g. ``{"S-Pop": "Pop"}`` when seen
    items are excluded: model -> the first model (in order) it repeats. ``results``: name -> an evaluation result
    with ``predictions`` (a ``rank`` column)."""
    out: dict[str, str] = {}
    firsts: list[tuple[str, np.ndarray]] = []
    for name, res in results.items():
        ranks = np.asarray(res.predictions["rank"], dtype=float)
        same = next((first for first, ref in firsts
                     if ref.shape == ranks.shape and np.array_equal(ref, ranks, equal_nan=True)), None)
        if same is None:
            firsts.append((name, ranks))
        else:
            out[str(name)] = str(same)
    return out


def paired_p_values(comparisons: Mapping[str, pd.DataFrame] | None = None, order: pd.DataFrame | None = None,
                    pairs: Sequence[tuple[str, str, str, Mapping[str, Any]]] = (),
                    same_as: Mapping[str, str] | None = None) -> dict[str, float]:
    """Every distinct paired comparison a notebook reports, as ``{label: two-sided p-value}``.

    Args:
        comparisons: metric -> :func:`sbrlib.evaluation.uncertainty.compare_to_best` table (notebook
            05); the best model's row against itself is not a comparison and is left out.
        order: :func:`order_experiment`'s table (three paired comparisons per model and metric).
        pairs: ``(protocol, a, b, paired difference dict with p_value)`` (notebook 07).
        same_as: models whose predictions repeat another's (:func:`identical_models`): their comparisons
            with the best are that model's again, so they are counted once (under the other's name).
    """
    out: dict[str, float] = {}
    same_as = dict(same_as or {})
    for metric_name, table in (comparisons or {}).items():
        for model, row in table.iterrows():
            if str(model) in same_as and same_as[str(model)] != row["best"]:
                continue  # the same comparison as its twin's
            if model != row["best"]:
                out[f"{model} vs {row['best']} ({metric_name})"] = float(row["p_value"])
    if order is not None:
        for (model, metric_name), row in order.iterrows():
            for col, what in (("p_value", "sessions shuffled vs original"), ("tie_p_value", "ties shuffled vs original"),
                              ("beyond_p_value", "sessions shuffled vs ties shuffled")):
                if col in row and pd.notna(row[col]):
                    out[f"{model}: {what} ({metric_name})"] = float(row[col])
    for protocol, a, b, d in pairs:
        if d.get("p_value") is not None:
            out[f"{protocol}: {a} vs {b} ({d.get('metric', '')})"] = float(d["p_value"])
    return out


def expected_count(x: float) -> str:
    """An expected count with at most two decimals, trailing zeros dropped: ``0.25 -> "0.25"``,
    ``1.5 -> "1.5"``, ``2.0 -> "2"`` (one decimal would print 0.25 as "0.2")."""
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def multiple_comparisons_note(p_values: Mapping[str, float], alpha: float = 0.05,
                              resolution: float | None = None) -> tuple[str, pd.DataFrame]:
    """The caveat on many paired tests: how many were made, what 1 in 20 means, and which
    "significant" ones survive Bonferroni and Holm (:func:`sbrlib.evaluation.uncertainty.corrected`).
    ``resolution``: the smallest p the bootstrap can show (2 / its replicates); when Bonferroni's threshold is
    below it, the note does not say which comparisons survive (the bootstrap cannot tell): it names those with
    no replicate across 0 and says how many replicates would decide.

    Returns:
        ``(Markdown sentence, the corrected table)``.
    """
    table = U.corrected(p_values, alpha)
    m = len(table)
    if m == 0:
        return "No paired comparisons were made in this run.", table
    raw = table.index[table["raw"]].tolist()
    holm = table.index[table["holm"]].tolist()
    lost = [name for name in raw if name not in holm]
    g = "../docs/GLOSSARY.md"
    text = (f"**[Multiple comparisons]({g}#multiple-comparisons).** This run made {m:,} paired "
            f"comparison{'s' if m != 1 else ''}. At the {1 - alpha:.0%} level about 1 in {round(1 / alpha)} comparisons "
            f"of models that truly do not differ still looks \"significant\" (about {expected_count(m * alpha)} of {m:,} here, if "
            f"none differed). {len(raw):,} had a [p-value]({g}#paired-comparison) p < {alpha:g} before correction")
    if resolution is not None and alpha / m < resolution and raw:
        # the corrections' first threshold is finer than the bootstrap's p-values: which pass cannot be told here
        floor = [name for name in raw if float(table.loc[name, "p_value"]) < resolution]
        above = [name for name in raw if name not in floor]
        text += (f". [Bonferroni]({g}#multiple-comparisons)'s threshold (p < {alpha:g}/{m:,} = {alpha / m:.4f}), which "
                 f"is also the first step of [Holm's step-down correction]({g}#multiple-comparisons), is below the "
                 f"smallest p the bootstrap can show ({resolution:.3f}, from its {round(2 / resolution):,} replicates), "
                 "so this run cannot tell which comparisons pass either correction")
        if floor:
            text += (f": {len(floor):,} had no replicate on the other side of 0 (p below {resolution:.3f}, as small as "
                     "the bootstrap can show; the strongest evidence this run can give): " + "; ".join(floor))
        text += (f". More replicates (`N_BOOT` above {round(2 * m / alpha):,}) would decide"
                 + (". The others with p < 0.05 (read them as suggestive only): " + "; ".join(above) if above else "")
                 + ".")
        return text, table
    text += (f"; {int(table['bonferroni'].sum()):,} survive [Bonferroni]({g}#multiple-comparisons) "
             f"(p < {alpha:g}/{m:,} = {alpha / m:.4f}) and "
             f"{len(holm):,} survive [Holm's step-down correction]({g}#multiple-comparisons)")
    text += (": " + "; ".join(holm) + "." if holm else ".")
    if lost:
        text += " Not robust to the correction (read them as suggestive only): " + "; ".join(lost) + "."
    return text, table
