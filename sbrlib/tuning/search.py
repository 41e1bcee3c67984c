"""Hyperparameter search with Optuna: TPE (seeded), pruning on the per-epoch validation metric,
studies stored in SQLite so that a search resumes where it stopped.

Every model is tuned the same way: fit on ``train_tr``, score ``valid`` with the one evaluator
(:func:`sbrlib.evaluation.evaluator.evaluate`, Recall@20 / MRR@20, conservative ties), keep the best
configuration. The test split is never looked at. A study lives in
``paths.results_dir(split_name) / "tuning.sqlite3"`` under the name ``<model>-<metric>`` (e.g.
``gru4rec-mrr@20``); each trial records its config, per-epoch validation curve, training seconds
and events/s as Optuna user attributes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sbrlib import __version__
from sbrlib.tuning.space import (
    MODEL_NAMES,
    NEURAL,
    Param,
    check_model,
    make_config,
    params_of,
    search_space,
    suggest,
)
from sbrlib.tuning.store import (
    METRICS,
    TuningError,
    _best_value,
    _jsonable,
    _n_complete,
    _optuna,
    _storage,
    budget_state,
    check_identity,
    load_study,
    save_best,
    study_identity,
    study_name,
    study_path,
)

WEIGHTS_DIR = "tuning-weights"
"""Folder next to the study file where the best neural trial's model is saved (one per study)."""


def best_weights_dir(storage: str | Path, name: str) -> Path:
    """Where the study ``name`` of the SQLite file ``storage`` keeps its best trial's model."""
    return Path(storage).parent / WEIGHTS_DIR / name

log = logging.getLogger(__name__)


def _check_budget(n_trials: int | None, minutes: float | None) -> None:
    if n_trials is None and minutes is None:
        raise TuningError("give a trial count (n_trials) or a time budget (minutes), or both")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise TuningError(f"n_trials must be a positive integer (or None for no limit), got {n_trials!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise TuningError(f"minutes must be a positive number (or None for no limit), got {minutes!r}")


def _stop(rule: str, epoch: int, text: str, **numbers: Any) -> dict[str, Any]:
    """A trial's stop record (the ``stop`` user attribute): ``{"rule", "epoch", "text", **numbers}``."""
    return _jsonable({"rule": rule, "epoch": int(epoch), "text": text, **numbers})


STOP_RULES = ("patience", "epoch cap", "median rule", "time limit", "diverged")
"""What can stop a GRU4Rec / SASRec trial, as recorded in its ``stop`` user attribute (``rule``):
``patience`` and ``epoch cap`` end the trial's own training (a complete trial); ``median rule``
(Optuna's MedianPruner) and ``time limit`` (the trial's time limit: what the search's time budget
gives it) stop it early (a pruned trial, except a search's first trial, which a time limit cannot
prune: it is kept as complete with the epochs it had); ``diverged``: its loss became non-finite."""


def _patience_ends(curve: list[dict], metric: str, patience: int | None) -> tuple[bool, int]:
    """``(ends, best_epoch)``: whether the training loop's early stopping ends the trial after the
    last epoch of ``curve`` (``patience`` epochs in a row without improving on the best)."""
    values = [r.get(metric, float("nan")) for r in curve]
    best_i, best = 0, -math.inf
    for i, v in enumerate(values):
        if v > best:
            best_i, best = i, v
    best_epoch = int(curve[best_i]["epoch"]) if curve else 0
    return (patience is not None and len(values) - 1 - best_i >= patience), best_epoch


def _median_at(study, step: int) -> tuple[float, int]:
    """``(median, n)``: the median of the completed trials' reported values at epoch ``step`` (what
    Optuna's MedianPruner compares with) and how many completed trials reported one."""
    optuna = _optuna()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    values = [t.intermediate_values[step] for t in done if step in t.intermediate_values
              and math.isfinite(t.intermediate_values[step])]
    return (float(np.median(values)) if values else float("nan")), len(values)


def _neural_trial(trial, model: str, config, frames, metric: str, deadline: float | None, study,
                  save_to: Path | None = None, limit: Mapping[str, Any] | None = None) -> float:
    """Train a GRU4Rec or SASRec trial with :func:`sbrlib.training.fit`, reporting the validation
    metric for pruning (a hook); the trial's time limit is what is left of the search's (``limit``:
    how that limit was set, recorded with the stop reason).

    A trial that finishes its training (not pruned, not stopped by the budget) and beats the study's
    best completed trial is saved to ``save_to`` (its provenance: split, frame, config), and the
    study records it as ``best_weights`` so that notebook 04 can reuse it instead of retraining.

    Records as user attributes the per-epoch ``curve``, ``best_epoch``, ``train_seconds``,
    ``events_per_second``, ``valid`` (metrics of the best epoch), ``training`` (the
    :class:`~sbrlib.core.training_facts.TrainingFacts`, when the trial was not pruned) and ``stop``:
    which rule of :data:`STOP_RULES` ended it, after which epoch, with its numbers and one sentence.
    When the loop's own rule (patience, epoch cap) ends the trial at an epoch, that rule wins: the
    trial is complete, never pruned at that epoch.
    """
    from sbrlib import training

    optuna = _optuna()
    curve: list[dict] = []
    budget = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
    train_config = training.TrainingConfig.from_model(config, metric=metric, budget_seconds=budget)
    started = time.monotonic()
    limit_words = ""
    if budget is not None:
        limit_words = f"its time limit of {budget:.1f} s"
        if limit and limit.get("trials_left"):
            limit_words += (f" (what remained, when its training started, of an equal share of the "
                            f"{float(limit['left_seconds']):.1f} s left of the {float(limit['budget_minutes']):g} min "
                            f"shared budget for the {int(limit['trials_left'])} trial(s) still to run in its round)")
        elif limit and limit.get("budget_minutes") is not None:
            limit_words += f" (what was left of the search's {float(limit['budget_minutes']):g} min budget)"

    def time_stop(epoch: int, kept: bool) -> dict[str, Any]:
        used = time.monotonic() - started
        values = [r.get(metric, float("-inf")) for r in curve]
        improving = len(values) > 1 and int(np.argmax(values)) == len(values) - 1  # its best epoch was its last
        over = (" (the limit is checked after each epoch, so the epoch running when it passed is finished)"
                if budget is not None and used > budget else "")
        return _stop("time limit", epoch, f"time limit: stopped after epoch {epoch}, {used:.1f} s used of "
                     f"{limit_words}{over}" + ("; it was still improving (its best epoch was its last)" if improving else "")
                     + ("; kept as complete: no trial of the search had completed yet, so its "
                        "result counts with the epochs it had" if kept else ""),
                     seconds_used=used, limit_seconds=budget, still_improving=improving, **dict(limit or {}))

    def within_limit() -> str:
        """``"; 44.2 s used of its time limit of 44.6 s"`` for a trial its own rule ended (03's stop line gives
        every trial's limit, not only a limited one's: reader 18, 4.5); ``""`` without a limit."""
        return "" if budget is None else f"; {time.monotonic() - started:.1f} s used of its time limit of {budget:.1f} s"

    def on_epoch(row: dict) -> None:
        curve.append({k: float(v) for k, v in row.items()})
        trial.set_user_attr("curve", curve)
        value = row.get(metric, float("nan"))
        if not math.isfinite(value):
            raise FloatingPointError(f"validation {metric} is {value} at epoch {row['epoch']}")
        epoch = int(row["epoch"])
        trial.report(value, epoch)
        ends, _ = _patience_ends(curve, metric, train_config.patience)
        if ends or epoch >= train_config.max_epochs:
            return  # the loop's own rule ends the trial here: it is complete, not pruned
        if trial.should_prune():
            median, n = _median_at(study, epoch)
            best = max(r[metric] for r in curve)
            trial.set_user_attr("stop", _stop(
                "median rule", epoch, f"median rule: after epoch {epoch} its best {metric} so far, {best:.4f}, was "
                f"below {median:.4f}, the median of the {n} completed trials at epoch {epoch}",
                best_so_far=best, median=median, n_completed=n))
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({metric} {value:.4f})")
        if deadline is not None and time.monotonic() > deadline and _n_complete(study) > 0:
            stop = time_stop(epoch, kept=False)
            trial.set_user_attr("stop", stop)
            trial.set_user_attr("stopped", f"time budget, after epoch {epoch}")
            raise optuna.TrialPruned(stop["text"])
        # the first trial counts with the epochs it had: the loop's own budget stops it

    fitted, finished = build_model(model, config), False
    try:
        facts = training.fit(fitted, frames["train_tr"], frames["valid"], train_config, on_epoch=on_epoch,
                             progress=False)
        trial.set_user_attr("training", _jsonable(facts.to_dict()))
        finished = facts.stopped_by in ("epochs", "patience")
        last = int(facts.epochs_run)
        if facts.stopped_by == "budget":
            trial.set_user_attr("stopped", f"time budget, after epoch {facts.epochs_run}")
            trial.set_user_attr("stop", time_stop(last, kept=True))
        elif facts.stopped_by == "patience":
            trial.set_user_attr("stop", _stop(
                "patience", last, f"patience: stopped after epoch {last}, {facts.patience} epoch(s) without "
                f"improving on its best epoch {facts.best_epoch} ({metric} {facts.best_score:.4f})" + within_limit(),
                patience=facts.patience, best_epoch=facts.best_epoch, limit_seconds=budget))
        elif facts.stopped_by == "epochs":
            trial.set_user_attr("stop", _stop(
                "epoch cap", last, f"epoch cap: ran all {facts.max_epochs} epochs"
                + (" and was still improving at the last one" if facts.still_improving else
                   f" (best epoch {facts.best_epoch})") + within_limit(), max_epochs=facts.max_epochs,
                still_improving=bool(facts.still_improving), best_epoch=facts.best_epoch, limit_seconds=budget))
        elif facts.stopped_by == "diverged":
            trial.set_user_attr("stop", _stop("diverged", last, f"diverged: its loss was not a number in epoch {last}"))
    finally:
        rows = [r for r in curve if math.isfinite(r.get(metric, float("nan")))]
        if rows:
            best = max(range(len(rows)), key=lambda i: (rows[i][metric], -i))
            trial.set_user_attr("best_epoch", int(rows[best]["epoch"]))
            trial.set_user_attr("train_seconds", float(sum(r["seconds"] for r in curve)))
            trial.set_user_attr("events_per_second", float(np.median([r["events_per_second"] for r in curve])))
            trial.set_user_attr("valid", {m: rows[best].get(m) for m in METRICS})
    if not curve:
        raise FloatingPointError("no epoch finished")
    value = max(r[metric] for r in curve)
    if save_to is not None and finished and (_best_value(study) is None or value > _best_value(study)):
        _save_trial_model(fitted, trial, study, save_to, value)
    return value


def _save_trial_model(fitted, trial, study, folder: Path, value: float) -> None:
    """Save a trial's fitted model (atomically) and record it as the study's ``best_weights``."""
    try:
        fitted.save(folder)
    except Exception as exc:
        log.warning("trial %d of %s: its model could not be saved to %s (%s: %s); notebook 04 will train it again",
                    trial.number, study.study_name, folder, type(exc).__name__, exc)
        return
    study.set_user_attr("best_weights", {"trial": trial.number, "folder": str(folder), "value": float(value)})


def _baseline_trial(trial, model: str, config, frames, metric: str, eval_batch_size: int) -> float:
    from sbrlib.evaluation.evaluator import EvalConfig, evaluate
    start = time.perf_counter()
    fitted = build_model(model, config).fit(frames["train_tr"])
    fit_seconds = time.perf_counter() - start
    res = evaluate(fitted, frames["valid"], EvalConfig(ks=(20,), coverage_ks=(), batch_size=eval_batch_size),
                   progress=False)
    trial.set_user_attr("train_seconds", float(fit_seconds))
    trial.set_user_attr("events_per_second", float(len(frames["train_tr"]) / max(fit_seconds, 1e-9)))
    trial.set_user_attr("eval_seconds", float(res.metrics["eval_seconds"]))
    trial.set_user_attr("valid", {m: float(res.metrics[m]) for m in METRICS})
    return float(res.metrics[metric])


def build_model(model: str, config: Any):
    """An unfitted model of the tunable family ``model`` with ``config`` (:mod:`sbrlib.models.registry`)."""
    from sbrlib.models import registry

    check_model(model)
    return registry.build(model, config)


def default_base(model: str, max_epochs: int = 10, eval_batch_size: int = 512, seed: int = 42) -> Any:
    """The config that searched values are applied on: class defaults; for GRU4Rec and SASRec
    ``max_epochs`` epochs with early stopping (patience 2) on the objective."""
    from sbrlib.tuning.space import config_class

    cls = config_class(model)
    if model in NEURAL:
        return cls(epochs=max_epochs, early_stopping_patience=2, eval_batch_size=eval_batch_size, seed=seed)
    return cls()


def tune(model: str, frames: Mapping[str, Any], split_name: str, *, metric: str = "mrr@20",
         n_trials: int | None = None, minutes: float | None = None, overrides: Mapping[str, Any] | None = None,
         base: Any = None, seed: int = 0, storage: str | Path | None = None, restart: bool = False,
         enqueue: Iterable[Mapping[str, Any]] = (), eval_batch_size: int = 512, prune_after: int = 2,
         prune_startup: int = 4, random_trials: int = 8, resume: bool = False,
         budget: Mapping[str, Any] | None = None, time_share: Mapping[str, Any] | None = None,
         progress: bool = True):
    """Search the hyperparameters of ``model`` on ``frames["train_tr"]`` -> ``frames["valid"]``.

    The study ``<model>-<metric>`` in ``storage`` (default :func:`study_path`) is created or
    resumed: trials already stored are kept and the new ones are added (the sampler's seed is
    offset by the number of stored trials, so a resumed search does not repeat itself). Trials
    that diverge (``FloatingPointError``, NaN) are recorded as failed and the search goes on.

    A study carries its identity (:func:`sbrlib.tuning.store.study_identity`: search space, data,
    objective); a stored study whose identity differs is refused with one line saying what
    differs. It also records its budget (``n_trials`` / ``minutes``) and how much of it was used,
    trial by trial, so an interrupted search (Ctrl-C, a killed process) can be continued to its
    budget with ``resume=True``; the budget is marked completed when the search ends normally.

    Args:
        model: ``"gru4rec"``, ``"sasrec"``, ``"item-knn"``, ``"sr"`` or ``"v-sknn"``.
        frames: the split (``train_tr`` and ``valid`` are used).
        split_name: recorded with the study; names the default storage folder.
        metric: objective, one of :data:`METRICS` (maximized).
        n_trials: trials to run now (None: until ``minutes`` are spent).
        minutes: time budget of this call (None: until ``n_trials`` are done): a GRU4Rec (or SASRec)
            trial's time limit is what is left of it when the trial starts; a trial still running when it is
            spent stops after its current epoch (recorded as pruned, rule ``time limit``) unless no trial has
            completed yet (then it is kept as complete with the epochs it had). A baseline trial is not
            stopped: the search starts no trial after the budget is spent, so the last one may overrun it. The
            call always starts its first trial.
        overrides: search-space overrides (see :func:`sbrlib.tuning.space.search_space`).
        base: config that searched values are applied on (default :func:`default_base`).
        seed: seed of the TPE sampler.
        storage: SQLite file of the study.
        restart: delete the stored study of this model and metric first.
        enqueue: configurations (searched-parameter dicts) to try first, e.g. presets.
        eval_batch_size: parallel sessions when scoring ``valid``.
        prune_after: a GRU4Rec / SASRec trial may be pruned (rule ``median rule``) after this epoch or a
            later one, when its best validation value so far is below the median of the completed trials'
            values at that epoch, once ``prune_startup`` trials have completed. An epoch at which the
            trial's own early stopping or epoch cap ends it never prunes it (it is complete).
        prune_startup: completed trials needed before the median rule applies.
        random_trials: trials sampled at random before TPE models the results (enqueued and
            stored trials count).
        resume: continue the stored search when its budget is not completed: what it already used
            counts against ``n_trials`` / ``minutes`` (False: this call's budget starts afresh).
        budget: the budget of the whole search this call is part of, recorded with the study
            (``{"trials", "minutes", "shared_with"}``, e.g. the neural models' shared budget of
            :func:`tune_all`); the caller then marks it completed. Default: this call's budget.
        time_share: how ``minutes`` was set by :func:`tune_all` (``{"left_seconds", "budget_minutes",
            "trials_left"}``: an equal share of the time left for the trials still to run in the round),
            recorded with a trial stopped by its time limit.
        progress: tqdm bar with the best value so far.

    Returns:
        The Optuna study.

    Raises:
        TuningError: bad budget or metric, unreadable study file, study made on other data.
        SearchSpaceError: bad overrides.
    """
    optuna = _optuna()
    from sbrlib.core.progress import tqdm

    check_model(model)
    if metric not in METRICS:
        raise TuningError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    _check_budget(n_trials, minutes)
    space = search_space(model, overrides)
    if base is None:
        base = default_base(model, eval_batch_size=eval_batch_size)
    if model in NEURAL:
        base = dataclasses.replace(base, validation_metric=metric)
    path = Path(storage) if storage is not None else study_path(split_name)
    rdb = _storage(path)
    name = study_name(model, metric)
    identity = study_identity(space, frames, split_name, metric, base)
    try:
        if restart and name in [s.study_name for s in optuna.get_all_study_summaries(rdb)]:
            optuna.delete_study(study_name=name, storage=rdb)
        stored = optuna.create_study(study_name=name, storage=rdb, direction="maximize", load_if_exists=True)
    except Exception as exc:  # sqlalchemy / optuna storage errors on a damaged file
        if isinstance(exc, TuningError):
            raise
        raise TuningError(f"{path} is not a readable Optuna study file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); move or delete it to start a new "
                          "search") from exc
    fresh = not stored.user_attrs and not stored.trials
    if not fresh:
        check_identity(stored, identity, path)
    done_before = len(stored.trials)
    sampler = optuna.samplers.TPESampler(seed=seed + done_before, multivariate=True, group=True,
                                         n_startup_trials=random_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=prune_startup, n_warmup_steps=prune_after)
    study = optuna.load_study(study_name=name, storage=rdb, sampler=sampler, pruner=pruner)
    if fresh:
        for key, value in {"identity": identity, "split": split_name, "model": model, "metric": metric,
                           "base": _jsonable(dataclasses.asdict(base)), "sbrlib_version": __version__,
                           "space": {n: p.describe() for n, p in space.items()}}.items():
            study.set_user_attr(key, value)
    study.set_user_attr("stop_rules", {"median_from_epoch": int(prune_after), "median_after_completed": int(prune_startup),
                                       "patience": getattr(base, "early_stopping_patience", None),
                                       "max_epochs": getattr(base, "epochs", None) if model in NEURAL else None})
    for params in enqueue:
        study.enqueue_trial(dict(params), skip_if_exists=True)

    state = budget_state(study)
    own_budget = budget is None
    target = _jsonable(dict(budget) if budget is not None else {"trials": n_trials, "minutes": minutes})
    if resume and state["budget"] and not state["completed"]:
        used = {"trials": int(state["used"].get("trials", 0)), "seconds": float(state["used"].get("seconds", 0.0))}
        if own_budget:  # continue to the budget: what the stored search used counts
            n_trials = None if n_trials is None else n_trials - used["trials"]
            minutes = None if minutes is None else minutes - used["seconds"] / 60
        if own_budget:  # a search resumed after an interruption
            log.info("%s: continuing the stored search (%d trial(s) and %.1f s of its budget used so far)", name,
                     used["trials"], used["seconds"])
        else:  # the next round of tune_all's shared search (one trial per round)
            log.info("%s: round %d of the shared search (%d trial(s) and %.1f s of its budget used so far)", name,
                     used["trials"] + 1, used["trials"], used["seconds"])
    else:
        used = {"trials": 0, "seconds": 0.0}
    study.set_user_attr("budget", target)
    study.set_user_attr("used", used)
    study.set_user_attr("budget_completed", False)
    if (n_trials is not None and n_trials <= 0) or (minutes is not None and minutes <= 0):
        if own_budget:
            study.set_user_attr("budget_completed", True)
        log.info("%s: its budget was already used (%s); nothing to run", name, used)
        return study

    deadline = time.monotonic() + minutes * 60 if minutes is not None else None
    weights = best_weights_dir(path, name) if model in NEURAL else None
    limit = dict(time_share) if time_share is not None else (
        {"budget_minutes": float(minutes)} if minutes is not None else None)

    def objective(trial) -> float:
        params = suggest(trial, space)
        config = make_config(model, params, base)
        trial.set_user_attr("config", _jsonable(dataclasses.asdict(config)))
        if model in NEURAL:
            return _neural_trial(trial, model, config, frames, metric, deadline, study, weights, limit)
        for done in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if done.params == trial.params:  # baselines are deterministic: a repeat costs nothing
                for key, value in done.user_attrs.items():
                    trial.set_user_attr(key, value)
                trial.set_user_attr("repeat_of", done.number)
                return float(done.value)
        return _baseline_trial(trial, model, config, frames, metric, eval_batch_size)

    desc = (f"tuning {model} ({metric}), round {used['trials'] + 1}: 1 trial" if not own_budget and n_trials == 1
            else f"tuning {model} ({metric})")  # a round of tune_all's shared search runs one trial
    bar = tqdm(total=n_trials, desc=desc, unit="trial", disable=not progress)
    start, used_before = time.monotonic(), dict(used)

    def record_used() -> None:
        used["seconds"] = used_before["seconds"] + time.monotonic() - start
        study.set_user_attr("used", dict(used))

    def on_trial(study_, trial) -> None:
        used["trials"] += 1
        record_used()
        best = _best_value(study_)  # the postfix first, then the count: one refresh shows both for this trial
        bar.set_postfix(best=f"{best:.4f}" if best is not None else "-", last=trial.state.name.lower(), refresh=False)
        bar.update(1)
        if deadline is not None and time.monotonic() >= deadline:
            study_.stop()  # no new trial once the time is spent; the one that ran is kept

    try:
        with bar:
            # the time limit is checked here, after each trial, not by Optuna's ``timeout`` (which checks before
            # each trial, so that a call with little time could start no trial at all, depending on timing)
            study.optimize(objective, n_trials=n_trials, catch=(ArithmeticError,), callbacks=[on_trial])
    finally:  # also on Ctrl-C: the time spent counts against the budget when the search is continued
        record_used()
    if own_budget:
        study.set_user_attr("budget_completed", True)
    if _n_complete(study):
        save_best(study, model, split_name, path.parent)
    log.info("%s: %d trials stored (%d new), best %s = %s", name, len(study.trials), len(study.trials) - done_before,
             metric, _best_value(study))
    return study


def budget_shares(models: Sequence[str], minutes: float | None) -> dict[str, float | None]:
    """Each search's time budget in minutes in :func:`tune_all`: the neural models (GRU4Rec, SASRec) share half of
    ``minutes`` when baselines are searched too (all of it otherwise; each neural model's value is that shared
    pool), and the baselines share the rest equally. None: no time limit."""
    neural = [m for m in models if m in NEURAL]
    others = [m for m in models if m not in NEURAL]
    half = 0.5 if neural and others else 1.0
    if minutes is None:
        return dict.fromkeys(models)
    return {m: (minutes * half if m in NEURAL else minutes * half / len(others)) for m in models}


def budget_sentence(models: Sequence[str], minutes: float | None, n_trials: int | None) -> str:
    """The searches' budgets in one line, for notebook 03: ``"time budget per search: Item-kNN 0.50 min, SR
    0.50 min (each a baseline's equal share of half of the 3.00 min); GRU4Rec and SASRec share 1.50 min, in rounds;
    at most 40 trials per model"``."""

    shares = budget_shares(models, minutes)
    neural = [m for m in models if m in NEURAL]
    others = [m for m in models if m not in NEURAL]
    cap = f"at most {n_trials} trials per model" if n_trials is not None else "no trial cap"
    if minutes is None:
        return f"time budget per search: none (no time limit); {cap}"
    parts = []
    if others:
        whole = "half of" if neural else "all of"
        parts.append(", ".join(f"{MODEL_NAMES.get(m, m)} {shares[m]:.2f} min" for m in others)
                     + f" (each baseline an equal share of {whole} the {minutes:.2f} min)")
    if neural:
        names = " and ".join(MODEL_NAMES.get(m, m) for m in neural)
        parts.append(f"{names} {'share' if len(neural) > 1 else 'has'} {shares[neural[0]]:.2f} min"
                     + (", in rounds (each trial gets an equal share of the time left in its round)"
                        if len(neural) > 1 else ""))
    fixed = (" (the shares are fixed before the searches run: time a baseline's search leaves unused, e.g. when it "
             "reaches its trial cap, is not passed on, so each model's budget does not depend on how fast the "
             "others were)" if others and (neural or len(others) > 1) else "")
    return "time budget per search: " + "; ".join(parts) + f"; {cap}{fixed}"


def tune_all(models: Iterable[str], frames: Mapping[str, Any], split_name: str, *, metric: str = "mrr@20",
             minutes: float | None = None, n_trials: int | None = None, fixed: Mapping[str, Mapping] | None = None,
             max_epochs: int = 10, reuse: bool = True, seed: int = 0, storage: str | Path | None = None,
             eval_batch_size: int = 512, start_from: Mapping[str, Iterable[Any]] | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Search several models (what notebook 03 runs).

    Budget: the neural models (GRU4Rec, SASRec) share half of ``minutes`` when baselines are
    searched too (all of it otherwise); the baselines share the rest equally. The neural models are
    searched **in rounds** (one trial of each per round, lagging model first; each trial of a round
    may use an equal share of the time left) until their shared time is spent or ``n_trials``
    rounds are done, so they get the same objective, one shared budget and the same number of trials (the time each
    uses can differ)
    (a round is started only when the time left can hold one epoch of each model, recorded as the
    study attribute ``search_end`` when it cannot; a started round is finished). Each search first tries the model's default config (and
    ``start_from[model]``).

    Stored studies (every study must match the current identity, else one-line refusal):

    - ``reuse=True``: a study whose budget was completed is used as is (e.g. a longer
      ``make tune`` search); one whose budget was not completed (Ctrl-C, a killed run) is continued
      to the budget (what it used counts).
    - ``reuse=False``: a new budget's worth of trials is added to the stored study (``make tune``).

    Args:
        models: model families, e.g. ``["gru4rec", "sasrec", "item-knn", "sr", "v-sknn"]``.
        minutes: time budget of all searches together (None: ``n_trials`` each).
        n_trials: most trials per model (for the neural models: rounds).
        fixed: per model, search-space overrides (e.g. ``{"gru4rec": {"layers": 32}}``).
        max_epochs: GRU4Rec / SASRec epochs per trial (early stopping with patience 2 on the objective).
        reuse: see above.

    Returns:
        Model -> Optuna study.
    """
    _check_budget(n_trials, minutes)
    models = list(models)
    for model in models:
        check_model(model)
    path = Path(storage) if storage is not None else study_path(split_name)
    neural = [m for m in models if m in NEURAL]
    others = [m for m in models if m not in NEURAL]
    shares = budget_shares(models, minutes)
    from sbrlib.tuning.space import config_class

    def kwargs(model: str) -> dict[str, Any]:
        overrides = dict((fixed or {}).get(model, {}))
        first = [config_class(model)(), *((start_from or {}).get(model, ()))]
        return dict(metric=metric, overrides=overrides, seed=seed, storage=path, eval_batch_size=eval_batch_size,
                    base=default_base(model, max_epochs=max_epochs, eval_batch_size=eval_batch_size),
                    enqueue=enqueue_params(model, first, overrides), progress=progress)

    def stored(model: str):
        """The stored study of ``model`` (identity checked), or None."""
        if not path.is_file():
            return None
        try:
            study = load_study(path, model, metric)
        except TuningError as exc:
            if "holds no study" not in str(exc):
                raise
            return None
        base = default_base(model, max_epochs=max_epochs, eval_batch_size=eval_batch_size)
        base = dataclasses.replace(base, validation_metric=metric) if model in NEURAL else base
        check_identity(study, study_identity(search_space(model, (fixed or {}).get(model)), frames, split_name,
                                             metric, base), path)
        return study

    studies: dict[str, Any] = {}
    resume: dict[str, bool] = {}
    for model in models:
        study = stored(model) if reuse else None
        if study is not None and budget_state(study)["completed"] and _n_complete(study):
            log.info("reusing %s in %s (%d trials, its budget completed)", study.study_name, path, len(study.trials))
            save_best(study, model, split_name, path.parent)
            studies[model] = study
        else:  # continue an interrupted search; anything else starts a new budget
            state = budget_state(study) if study is not None else {"budget": {}, "completed": True}
            resume[model] = bool(state["budget"]) and not state["completed"]
    for model in (m for m in others if m not in studies):
        studies[model] = tune(model, frames, split_name, n_trials=n_trials, resume=resume[model],
                              minutes=shares[model],
                              **kwargs(model))
    todo = [m for m in neural if m not in studies]
    if not todo:
        return studies
    budget = {"trials": n_trials, "minutes": shares[todo[0]], "shared_with": todo}
    first = {m: True for m in todo}
    used_before = 0.0
    counts = dict.fromkeys(todo, 0)
    for model in todo:
        if resume[model]:
            state = budget_state(load_study(path, model, metric))
            counts[model] = int(state["used"].get("trials", 0))
            used_before += float(state["used"].get("seconds", 0.0))
    start = time.monotonic()

    def remaining() -> float | None:
        if budget["minutes"] is None:
            return None
        return budget["minutes"] - (used_before + time.monotonic() - start) / 60

    while True:
        low = min(counts.values())
        left = remaining()
        if len(set(counts.values())) == 1 and ((n_trials is not None and low >= n_trials)
                                               or (left is not None and left <= 0)):
            break
        lagging = [m for m in todo if counts[m] == low]  # lagging models first; a round is finished
        if left is not None and len(lagging) == len(todo):  # a new round: only if the time left can hold it
            end = _round_cannot_start(left * 60, {m: studies.get(m) or stored(m) for m in todo}, low, budget)
            if end is not None:
                log.info("neural searches: %s", end["text"])
                for model in todo:
                    if model not in studies:  # resumed and not run in this call: read it once
                        studies[model] = stored(model)
                    studies[model].set_user_attr("search_end", end)
                break
        for i, model in enumerate(lagging):
            left = remaining()  # an equal share of what is left for each trial still to run in this round
            share = left / (len(lagging) - i) if left is not None else None
            studies[model] = tune(model, frames, split_name, n_trials=1,
                                  minutes=max(share, 1e-6) if share is not None else None,
                                  resume=resume[model] or not first[model], budget=budget,
                                  time_share={"left_seconds": max(left, 0.0) * 60, "budget_minutes": budget["minutes"],
                                              "trials_left": len(lagging) - i} if left is not None else None,
                                  **kwargs(model))
            first[model] = False
            counts[model] += 1
    shared = sum(float((studies[m].user_attrs.get("used") or {}).get("seconds", 0.0)) for m in todo)
    for model in todo:  # the shared budget is spent (or the rounds are done): completed for every model
        studies[model].set_user_attr("budget_completed", True)
        studies[model].set_user_attr("shared_used_seconds", shared)  # what the models used together
        if _n_complete(studies[model]):
            save_best(studies[model], model, split_name, path.parent)
    log.info("neural searches: %s trials each (%s)", min(counts.values()), ", ".join(todo))
    return studies


def epoch_cost(study) -> float | None:
    """Seconds one epoch of this study's model takes with its validation: the median over its trials of their
    first epoch (training plus validation, from each trial's recorded ``curve``); None before any trial has one."""
    if study is None:
        return None
    costs = [float(c[0].get("seconds", 0.0)) + float(c[0].get("validation_seconds", 0.0))
             for t in study.get_trials(deepcopy=False) if (c := t.user_attrs.get("curve"))]
    return float(np.median(costs)) if costs else None


def _round_cannot_start(left_seconds: float, studies: Mapping[str, Any], rounds_done: int,
                        budget: Mapping[str, Any]) -> dict[str, Any] | None:
    """Why :func:`tune_all` starts no further round of the neural searches, or None when it may: a round starts
    only when the shared time left can hold one epoch of each model (:func:`epoch_cost`; the first round always
    starts). Without this rule a round's last trials got a time limit of a second or less and stopped after an
    epoch they could not finish in time, counted as trials that searched nothing."""
    costs = {m: epoch_cost(s) for m, s in studies.items()}
    if rounds_done == 0 or any(c is None for c in costs.values()):
        return None
    need = sum(costs.values())
    if left_seconds >= need:
        return None
    each = ", ".join(f"{MODEL_NAMES.get(m, m)} {c:.1f} s" for m, c in costs.items())
    return {"rule": "round cannot start", "rounds": int(rounds_done), "left_seconds": float(max(left_seconds, 0.0)),
            "needed_seconds": float(need), "epoch_seconds": {m: float(c) for m, c in costs.items()},
            "budget_minutes": budget.get("minutes"),
            "text": (f"stopped after round {rounds_done}: the {max(left_seconds, 0.0):.1f} s left of the "
                     f"{float(budget['minutes']):g} min shared budget (by the clock, which also runs between trials, "
                     "while each is stored and the next set up) could not hold one epoch of each model "
                     f"({need:.1f} s: {each}, the median first epoch with validation of its trials so far), so no "
                     "further round was started")}


def enqueue_params(model: str, configs: Iterable[Any], overrides: Mapping[str, Any] | None = None) -> list[dict]:
    """Searched-parameter dicts of ``configs`` (e.g. presets) to try first.

    Parameters fixed by ``overrides`` take their fixed value; a config with another value outside
    the space is left out (logged).
    """
    space = search_space(model, overrides)
    out = []
    for config in configs:
        params = params_of(model, config, space)
        for name, param in space.items():
            if name in params and param.categorical and len(param.choices) == 1:
                params[name] = param.choices[0]
        if all(_inside(space[n], v) for n, v in params.items()):
            if params not in out:
                out.append(params)
        else:
            log.info("%s configuration outside the search space; not enqueued: %s", model, params)
    return out


def _inside(param: Param, value: Any) -> bool:
    if param.categorical:
        return value in param.choices
    return param.low <= value <= param.high


__all__ = ["WEIGHTS_DIR", "best_weights_dir", "build_model", "default_base", "enqueue_params", "tune", "tune_all"]
