"""Tables and findings from stored studies: the trials, parameter importances, and how much
single choices (batch size, dropout, logQ, loss) matter, measured on the study's own trials."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from sbrlib.tuning.space import MODEL_NAMES

log = logging.getLogger(__name__)


def stop_record(trial) -> dict[str, Any] | None:
    """What stopped a GRU4Rec / SASRec trial: its recorded ``stop`` (``{"rule", "epoch", "text", ...}``,
    rules :data:`sbrlib.tuning.search.STOP_RULES`), or, for a trial recorded before stop reasons were,
    what its older attributes say (``rule`` ``"time limit"`` from ``stopped``, ``"patience"`` /
    ``"epoch cap"`` from its training facts, ``"pruned (rule not recorded)"``); None for a trial without
    epochs (a baseline)."""
    stop = trial.user_attrs.get("stop")
    if stop:
        return dict(stop)
    curve = trial.user_attrs.get("curve") or []
    if not curve:
        return None
    epoch = int(curve[-1]["epoch"])
    if trial.user_attrs.get("stopped"):
        return {"rule": "time limit", "epoch": epoch, "text": f"time limit: stopped after epoch {epoch} "
                "(recorded before the limit's numbers were)"}
    by = (trial.user_attrs.get("training") or {}).get("stopped_by")
    if by in ("patience", "epochs"):
        rule = "patience" if by == "patience" else "epoch cap"
        return {"rule": rule, "epoch": epoch, "text": f"{rule}: stopped after epoch {epoch}"}
    if trial.state.name == "PRUNED":
        return {"rule": "pruned (rule not recorded)", "epoch": epoch,
                "text": f"pruned after epoch {epoch} (rule not recorded: an older study)"}
    return None


def stop_lines(study, model_name: str) -> list[str]:
    """One line per GRU4Rec / SASRec trial saying what stopped it, with its numbers, e.g.
    ``"GRU4Rec trial 1 (pruned): time limit: stopped after epoch 7, 23.2 s used of its time limit of 21.7 s
    (...)"``; empty for a study without epochs (a baseline)."""
    out = []
    for t in study.get_trials(deepcopy=False):
        stop = stop_record(t)
        if stop is not None:
            out.append(f"{model_name} trial {t.number} ({t.state.name.lower()}): {stop['text']}")
    return out


UNSETTLED_SHARE = 0.25
"""A search whose best-so-far value last rose in this last share of its trials (or at its last trial)
had not settled: a longer search might have found better."""

MIN_COMPLETE_TO_SETTLE = 4
"""Completed trials a search needs before it can be called settled (fewer: undetermined)."""


def search_progress(study) -> dict[str, Any]:
    """Whether a search had settled, from its trials in the order they ran.

    Returns:
        ``{"n_trials", "last_rise_trial"`` (the trial number at which the best-so-far value of the
        completed trials last rose; None without a completed trial), ``"last_rise_position"`` (1-based
        position of that trial among all trials), ``"n_complete"``, ``"settled"`` (False when that position is in
        the last :data:`UNSETTLED_SHARE` of the trials or is the last one; True otherwise; None, undetermined,
        with fewer than :data:`MIN_COMPLETE_TO_SETTLE` completed trials and no late rise),
        ``"used_minutes"``, ``"budget_minutes"`` (None when none), ``"shared"`` (the time budget is shared
        with other models), ``"overran"`` (an own time budget exceeded by more than 5%)}``.
    """
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    best, rise, position = -np.inf, None, None
    for i, t in enumerate(trials, start=1):
        if t.state.name == "COMPLETE" and t.value is not None and t.value > best:
            best, rise, position = t.value, t.number, i
    n = len(trials)
    n_complete = sum(t.state.name == "COMPLETE" for t in trials)
    late = position is not None and n > 1 and (position == n or position > n * (1 - UNSETTLED_SHARE))
    settled = False if late else (True if position is not None and n_complete >= MIN_COMPLETE_TO_SETTLE else None)
    budget = dict(study.user_attrs.get("budget") or {})
    used = float((study.user_attrs.get("used") or {}).get("seconds", 0.0)) / 60
    minutes = budget.get("minutes")
    shared = len([m for m in budget.get("shared_with") or () if m != study.user_attrs.get("model")]) > 0
    return {"n_trials": n, "n_complete": n_complete, "last_rise_trial": rise, "last_rise_position": position, "settled": settled,
            "used_minutes": used, "budget_minutes": minutes, "shared": shared,
            "overran": bool(minutes is not None and not shared and used > float(minutes) * 1.05)}


def trials_table(study) -> pd.DataFrame:
    """One row per trial: ``state``, ``value``, the searched parameters, ``best_epoch``,
    ``epochs_run``, ``stopped_by`` (the rule of :func:`stop_record`; None for baselines), ``train_seconds``,
    ``events_per_second`` (index: trial number)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {"trial": t.number, "state": t.state.name.lower(), "value": t.value}
        row.update(t.params)
        stop = stop_record(t)
        row.update({"best_epoch": t.user_attrs.get("best_epoch"), "epochs_run": len(t.user_attrs.get("curve", [])),
                    "stopped_by": stop["rule"] if stop else None,
                    "train_seconds": t.user_attrs.get("train_seconds"),
                    "events_per_second": t.user_attrs.get("events_per_second")})
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.set_index("trial") if len(table) else table


TRIALS_SHOWN = 15
"""Notebook 03 lists at most this many trials of a neural search (the best ones by value)."""


def trials_shown(study, limit: int = TRIALS_SHOWN) -> tuple[pd.DataFrame, str]:
    """``(table, note)``: :func:`trials_table` without ``events_per_second`` (its training speed), every trial
    when there are at most ``limit``, else the ``limit`` best by value (in trial order), and a note saying
    which (``""`` when all are shown)."""
    table = trials_table(study)
    if len(table) and "events_per_second" in table:
        table = table.drop(columns=["events_per_second"])
    if len(table) <= limit:
        return table, ""
    best = table.sort_values("value", ascending=False, kind="stable").head(limit).sort_index()
    return best, f"the {limit} best of {len(table)} trials by value, in trial order"


def importances(study) -> pd.Series:
    """Parameter importances (Optuna's default evaluator; parameters present in every completed
    trial), summing to 1; empty with fewer than 3 completed trials or when it cannot be computed."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < MIN_COMPLETE_FOR_IMPORTANCE:
        return pd.Series(dtype=float, name="importance")
    try:
        values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:  # e.g. constant objective
        log.info("importances unavailable for %s: %s", study.study_name, exc)
        return pd.Series(dtype=float, name="importance")
    return pd.Series(values, dtype=float, name="importance")


MIN_COMPLETE_FOR_IMPORTANCE = 3
"""Completed trials :func:`importances` needs (fewer: no importance at all)."""


def no_importance_sentence(study, name: str) -> str | None:
    """Why a study has no importance plot (``"GRU4Rec: no importance plot: 2 completed trials, fewer than the 3
    it needs"``), or None when :func:`importances` gives values."""
    import optuna

    if len(importances(study)):
        return None
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
    if done < MIN_COMPLETE_FOR_IMPORTANCE:
        return (f"{name}: no importance plot: {done} completed trial{'' if done == 1 else 's'}, fewer than the "
                f"{MIN_COMPLETE_FOR_IMPORTANCE} it needs (pruned trials do not count)")
    return f"{name}: no importance plot: Optuna could not compute it from its {done} completed trials"


MIN_TRIALS_PER_SIDE = 2
"""Completed trials each side of a contrast needs (one trial against one is not an effect: they differ in
every parameter)."""


def _contrast(table: pd.DataFrame, what: str, a: tuple[str, Callable], b: tuple[str, Callable]) -> dict | None:
    done = table[table["state"] == "complete"]
    rows = {}
    for label, pick in (a, b):
        try:
            sel = done[pick(done)]
        except KeyError:  # parameter not searched in this study
            return None
        if len(sel) < MIN_TRIALS_PER_SIDE:
            return None
        rows[label] = (float(sel["value"].max()), len(sel))
    (la, (va, na)), (lb, (vb, nb)) = rows.items()
    return {"choice": what, "A": la, "best A": va, "trials A": na, "B": lb, "best B": vb, "trials B": nb,
            "B vs A": vb / va - 1 if va > 0 else np.nan}


def gru4rec_effects(study) -> pd.DataFrame:
    """Best objective value with and without a choice, over the study's completed GRU4Rec trials.

    Rows (only where both sides have at least :data:`MIN_TRIALS_PER_SIDE` completed trials): batch size
    >= 64 vs < 64, no dropout vs some
    dropout, cross-entropy without vs with logQ, cross-entropy vs BPR-max, and a small vs a large
    GRU layer. ``B vs A`` is the relative difference of the best values. These are best-of-n
    comparisons: a side with more trials has more chances, so read them with the trial counts.
    """
    table = trials_table(study)
    if not len(table):
        return pd.DataFrame()
    ce = lambda t: t["loss"] == "cross-entropy"  # noqa: E731
    contrasts = [
        ("batch size", ("batch size ≥ 64 (official 64)", lambda t: t["batch_size"] >= 64),
         ("batch size < 64", lambda t: t["batch_size"] < 64)),
        ("dropout", ("no dropout", lambda t: (t["dropout_embed"] == 0) & (t["dropout_hidden"] == 0)),
         ("dropout", lambda t: (t["dropout_embed"] > 0) | (t["dropout_hidden"] > 0))),
        ("logQ", ("cross-entropy without logQ", lambda t: ce(t) & (t["logq"].fillna(0) == 0)),
         ("logQ", lambda t: ce(t) & (t["logq"].fillna(0) > 0))),
        ("loss", ("cross-entropy", ce), ("BPR-max", lambda t: t["loss"] == "bpr-max")),
        ("layer size", ("≤ 128 GRU units", lambda t: t["layers"] <= 128),
         ("> 128 GRU units", lambda t: t["layers"] > 128)),
    ]
    rows = [r for r in (_contrast(table, what, a, b) for what, a, b in contrasts) if r is not None]
    return pd.DataFrame(rows).set_index("choice") if rows else pd.DataFrame()


def best_table(studies: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model: best validation value, the other metric of that trial, trials by state,
    and the best parameters (as text)."""
    import optuna

    rows = {}
    for model, study in studies.items():
        states = [t.state for t in study.get_trials(deepcopy=False)]
        count = {s: sum(x == s for x in states) for s in (optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED,
                                                         optuna.trial.TrialState.FAIL)}
        row = {"trials": len(states), "complete": count[optuna.trial.TrialState.COMPLETE],
               "pruned": count[optuna.trial.TrialState.PRUNED], "failed": count[optuna.trial.TrialState.FAIL]}
        if row["complete"]:
            best = study.best_trial
            row.update({f"valid {k}": v for k, v in (best.user_attrs.get("valid") or {}).items()})
            row["best epoch"] = best.user_attrs.get("best_epoch")
            row["parameters"] = ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
        rows[MODEL_NAMES.get(model, model)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def best_configs(studies: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model with a completed trial: the best searched values (GRU4Rec: plus ``epochs``, its best epoch)."""
    import optuna

    out = {}
    for model, study in studies.items():
        if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            continue
        best = study.best_trial
        out[model] = dict(best.params)
        if "best_epoch" in best.user_attrs:
            out[model]["epochs"] = int(best.user_attrs["best_epoch"])
    return out


def _trials(n: float) -> str:
    return f"{int(n)} trial" + ("" if int(n) == 1 else "s")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


__all__ = ["MIN_COMPLETE_TO_SETTLE", "MIN_TRIALS_PER_SIDE", "UNSETTLED_SHARE", "best_configs", "best_table", "gru4rec_effects", "importances", "search_progress", "stop_lines",
           "stop_record", "trials_shown", "trials_table"]
