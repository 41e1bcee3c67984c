"""Hyperparameter search with Optuna: TPE (seeded), pruning on the per-epoch validation metric,
studies stored in SQLite so that a search resumes where it stopped.

Every model is tuned the same way: fit on ``train_tr``, score ``valid`` with the one evaluator
(:func:`sbrlib.evaluation.evaluate`, Recall@20 / MRR@20, conservative ties), keep the best
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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sbrlib import __version__
from sbrlib.columns import SESSION
from sbrlib.tuning.space import (
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
    load_study,
    save_best,
    study_name,
    study_path,
)

log = logging.getLogger(__name__)


def _check_budget(n_trials: int | None, minutes: float | None) -> None:
    if n_trials is None and minutes is None:
        raise TuningError("give a trial count (n_trials) or a time budget (minutes), or both")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise TuningError(f"n_trials must be a positive integer (or None for no limit), got {n_trials!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise TuningError(f"minutes must be a positive number (or None for no limit), got {minutes!r}")


def _fingerprint(frames: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies the data of a study: the split's fingerprint (when known) and the sizes."""
    out: dict[str, Any] = {f"{k}_{what}": int(v) for k in ("train_tr", "valid") for what, v in
                           (("events", len(frames[k])), ("sessions", frames[k][SESSION].nunique()))}
    fp = getattr(frames, "fingerprint", None) or frames["train_tr"].attrs.get("split_fingerprint")
    if fp:
        out["split_fingerprint"] = fp
    return out


def _neural_trial(trial, model: str, config, frames, metric: str, deadline: float | None, study) -> float:
    """Train a GRU4Rec or SASRec trial with :func:`sbrlib.training.fit`, reporting the validation
    metric for pruning (a hook); the trial's time budget is what is left of the search's.

    Records as user attributes the per-epoch ``curve``, ``best_epoch``, ``train_seconds``,
    ``events_per_second``, ``valid`` (metrics of the best epoch) and ``training`` (the
    :class:`~sbrlib.training_facts.TrainingFacts`, when the trial was not pruned).
    """
    from sbrlib import training

    optuna = _optuna()
    curve: list[dict] = []

    def on_epoch(row: dict) -> None:
        curve.append({k: float(v) for k, v in row.items()})
        trial.set_user_attr("curve", curve)
        value = row.get(metric, float("nan"))
        if not math.isfinite(value):
            raise FloatingPointError(f"validation {metric} is {value} at epoch {row['epoch']}")
        trial.report(value, int(row["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {row['epoch']} ({metric} {value:.4f})")
        if deadline is not None and time.monotonic() > deadline and _n_complete(study) > 0:
            trial.set_user_attr("stopped", f"time budget, after epoch {int(row['epoch'])}")
            raise optuna.TrialPruned(f"time budget spent after epoch {row['epoch']}")
        # the first trial counts with the epochs it had: the loop's own budget stops it

    budget = max(deadline - time.monotonic(), 0.0) if deadline is not None else None
    train_config = training.TrainingConfig.from_model(config, metric=metric, budget_seconds=budget)
    fitted = build_model(model, config)
    try:
        facts = training.fit(fitted, frames["train_tr"], frames["valid"], train_config, on_epoch=on_epoch,
                             progress=False)
        trial.set_user_attr("training", _jsonable(facts.to_dict()))
        if facts.stopped_by == "budget":
            trial.set_user_attr("stopped", f"time budget, after epoch {facts.epochs_run}")
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
    return max(r[metric] for r in curve)


def _baseline_trial(trial, model: str, config, frames, metric: str, eval_batch_size: int) -> float:
    from sbrlib.evaluation import EvalConfig, evaluate
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
         prune_startup: int = 4, random_trials: int = 8, progress: bool = True):
    """Search the hyperparameters of ``model`` on ``frames["train_tr"]`` -> ``frames["valid"]``.

    The study ``<model>-<metric>`` in ``storage`` (default :func:`study_path`) is created or
    resumed: trials already stored are kept and the new ones are added (the sampler's seed is
    offset by the number of stored trials, so a resumed search does not repeat itself). Trials
    that diverge (``FloatingPointError``, NaN) are recorded as failed and the search goes on.

    Args:
        model: ``"gru4rec"``, ``"sasrec"``, ``"item-knn"``, ``"sr"`` or ``"v-sknn"``.
        frames: the split (``train_tr`` and ``valid`` are used).
        split_name: recorded with the study; names the default storage folder.
        metric: objective, one of :data:`METRICS` (maximized).
        n_trials: trials to run now (None: until ``minutes`` are spent).
        minutes: time budget of this call (None: until ``n_trials`` are done). A GRU4Rec trial
            (or SASRec) trial still running when it is spent stops after its current epoch (recorded as pruned)
            unless no trial has completed yet.
        overrides: search-space overrides (see :func:`sbrlib.tuning.space.search_space`).
        base: config that searched values are applied on (default :func:`default_base`).
        seed: seed of the TPE sampler.
        storage: SQLite file of the study.
        restart: delete the stored study of this model and metric first.
        enqueue: configurations (searched-parameter dicts) to try first, e.g. presets.
        eval_batch_size: parallel sessions when scoring ``valid``.
        prune_after: a GRU4Rec trial may be pruned from this epoch on, when its validation value
            is below the median of earlier trials at the same epoch, once ``prune_startup`` trials
            have finished.
        random_trials: trials sampled at random before TPE models the results (enqueued and
            stored trials count).
        progress: tqdm bar with the best value so far.

    Returns:
        The Optuna study.

    Raises:
        TuningError: bad budget or metric, unreadable study file, study made on other data.
        SearchSpaceError: bad overrides.
    """
    optuna = _optuna()
    from tqdm.auto import tqdm

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
    fingerprint = _fingerprint(frames)
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
    old = stored.user_attrs.get("data")
    if old is not None and any(old[k] != fingerprint[k] for k in set(old) & set(fingerprint)):
        raise TuningError(f"study {name!r} in {path} was made on other data ({old}, now {fingerprint}); "
                          "use restart=True (REUSE_STUDY=False in notebook 03 with a new file) or another storage")
    done_before = len(stored.trials)
    sampler = optuna.samplers.TPESampler(seed=seed + done_before, multivariate=True, group=True,
                                         n_startup_trials=random_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=prune_startup, n_warmup_steps=prune_after)
    study = optuna.load_study(study_name=name, storage=rdb, sampler=sampler, pruner=pruner)
    if old is None:
        for key, value in {"data": fingerprint, "split": split_name, "model": model, "metric": metric,
                           "base": _jsonable(dataclasses.asdict(base)), "sbrlib_version": __version__,
                           "space": {n: p.describe() for n, p in space.items()}}.items():
            study.set_user_attr(key, value)
    for params in enqueue:
        study.enqueue_trial(dict(params), skip_if_exists=True)

    deadline = time.monotonic() + minutes * 60 if minutes is not None else None

    def objective(trial) -> float:
        params = suggest(trial, space)
        config = make_config(model, params, base)
        trial.set_user_attr("config", _jsonable(dataclasses.asdict(config)))
        if model in NEURAL:
            return _neural_trial(trial, model, config, frames, metric, deadline, study)
        for done in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if done.params == trial.params:  # baselines are deterministic: a repeat costs nothing
                for key, value in done.user_attrs.items():
                    trial.set_user_attr(key, value)
                trial.set_user_attr("repeat_of", done.number)
                return float(done.value)
        return _baseline_trial(trial, model, config, frames, metric, eval_batch_size)

    bar = tqdm(total=n_trials, desc=f"tuning {model} ({metric})", unit="trial", disable=not progress)

    def on_trial(study_, trial) -> None:
        bar.update(1)
        best = _best_value(study_)
        bar.set_postfix(best=f"{best:.4f}" if best is not None else "-", last=trial.state.name.lower())

    with bar:
        study.optimize(objective, n_trials=n_trials, timeout=minutes * 60 if minutes is not None else None,
                       catch=(ArithmeticError,), callbacks=[on_trial])
    if _n_complete(study):
        save_best(study, model, split_name, path.parent)
    log.info("%s: %d trials stored (%d new), best %s = %s", name, len(study.trials), len(study.trials) - done_before,
             metric, _best_value(study))
    return study


def tune_all(models: Iterable[str], frames: Mapping[str, Any], split_name: str, *, metric: str = "mrr@20",
             minutes: float | None = None, n_trials: int | None = None, fixed: Mapping[str, Mapping] | None = None,
             max_epochs: int = 10, reuse: bool = True, seed: int = 0, storage: str | Path | None = None,
             eval_batch_size: int = 512, start_from: Mapping[str, Iterable[Any]] | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Search several models one after the other (what notebook 03 runs).

    The neural models (GRU4Rec, SASRec) share half of ``minutes`` equally when baselines are
    searched too; the baselines share the rest equally. Each search first tries the model's default config (and ``start_from[model]``).

    Args:
        models: model families, e.g. ``["gru4rec", "item-knn", "sr", "v-sknn"]``.
        minutes: time budget of all searches together (None: ``n_trials`` each).
        n_trials: most new trials per model.
        fixed: per model, search-space overrides (e.g. ``{"gru4rec": {"layers": 32}}``).
        max_epochs: GRU4Rec / SASRec epochs per trial (early stopping with patience 2 on the objective).
        reuse: a stored study with a completed trial is used as is (no new trials).

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
    half = 0.5 if neural and others else 1.0
    shares = {m: half / len(neural) if m in NEURAL else half / len(others) for m in models}
    studies = {}
    for model in models:
        if reuse and path.is_file():
            try:
                study = load_study(path, model, metric)
            except TuningError as exc:
                if "holds no study" not in str(exc):
                    raise
            else:
                if _n_complete(study):
                    log.info("reusing %s in %s (%d trials)", study.study_name, path, len(study.trials))
                    save_best(study, model, split_name, path.parent)
                    studies[model] = study
                    continue
        overrides = dict((fixed or {}).get(model, {}))
        base = default_base(model, max_epochs=max_epochs, eval_batch_size=eval_batch_size)
        from sbrlib.tuning.space import config_class

        first = [config_class(model)(), *((start_from or {}).get(model, ()))]
        studies[model] = tune(model, frames, split_name, metric=metric, n_trials=n_trials,
                              minutes=minutes * shares[model] if minutes is not None else None,
                              overrides=overrides, base=base, seed=seed, storage=path,
                              enqueue=enqueue_params(model, first, overrides), eval_batch_size=eval_batch_size,
                              progress=progress)
    return studies


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


__all__ = ["build_model", "default_base", "enqueue_params", "tune", "tune_all"]
