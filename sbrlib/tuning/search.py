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
import json
import logging
import math
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sbrlib import __version__, paths
from sbrlib.columns import SESSION
from sbrlib.fileio import write_json
from sbrlib.tuning.space import Param, check_model, make_config, params_of, search_space, suggest

log = logging.getLogger(__name__)

METRICS = ("mrr@20", "recall@20")
"""Objectives: validation metrics computed after every GRU4Rec epoch (maximized)."""
STUDY_FILE = "tuning.sqlite3"
BEST_FILE = "tuned.json"


class TuningError(RuntimeError):
    """A search cannot run or a stored study cannot be used; the message says what to do."""


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # enqueued presets may lie between grid points (e.g. 100 GRU units on a step-32 grid): used as given
    warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range", category=UserWarning)
    return optuna


def study_path(split_name: str) -> Path:
    """Where the studies of a split are stored: ``results/<split>/tuning.sqlite3``."""
    return paths.results_dir(split_name) / STUDY_FILE


def study_name(model: str, metric: str) -> str:
    """The study's name inside the storage file, e.g. ``gru4rec-mrr@20``."""
    return f"{model}-{metric}"


def _check_budget(n_trials: int | None, minutes: float | None) -> None:
    if n_trials is None and minutes is None:
        raise TuningError("give a trial count (n_trials) or a time budget (minutes), or both")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise TuningError(f"n_trials must be a positive integer (or None for no limit), got {n_trials!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise TuningError(f"minutes must be a positive number (or None for no limit), got {minutes!r}")


def _storage(path: str | Path):
    """An Optuna RDB storage on a SQLite file; a file that is not a study database is a clear error."""
    optuna = _optuna()
    from sqlalchemy.exc import SQLAlchemyError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}})
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, RuntimeError) as exc:
        raise TuningError(f"{path} is not a readable Optuna study file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}); move or delete it to start a new search") from exc


def load_study(study_or_path: Any, model: str | None = None, metric: str = "mrr@20"):
    """A stored study: pass a Study (returned as is), or the SQLite path with ``model`` and ``metric``."""
    optuna = _optuna()
    if isinstance(study_or_path, optuna.Study):
        return study_or_path
    path = Path(study_or_path)
    if not path.is_file():
        raise TuningError(f"{path} not found: run notebooks/03_tuning (or sbrlib.tuning.tune) first")
    if model is None:
        raise TuningError("load_study(path, model): name the model family whose study to load")
    storage = _storage(path)
    name = study_name(model, metric)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        known = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise TuningError(f"{path} holds no study {name!r} (it holds: {', '.join(known) or 'none'})") from exc


def _fingerprint(frames: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies the data of a study: the split's fingerprint (when known) and the sizes."""
    out: dict[str, Any] = {f"{k}_{what}": int(v) for k in ("train_tr", "valid") for what, v in
                           (("events", len(frames[k])), ("sessions", frames[k][SESSION].nunique()))}
    fp = getattr(frames, "fingerprint", None) or frames["train_tr"].attrs.get("split_fingerprint")
    if fp:
        out["split_fingerprint"] = fp
    return out


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


class _BudgetSpent(Exception):
    """Stops the first GRU4Rec trial when the time budget is spent (it then completes early)."""


def _gru4rec_trial(trial, config, frames, metric: str, deadline: float | None, study) -> float:
    optuna = _optuna()
    from sbrlib.models.gru4rec import GRU4Rec

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
        if deadline is not None and time.monotonic() > deadline:
            trial.set_user_attr("stopped", f"time budget, after epoch {int(row['epoch'])}")
            if _n_complete(study) > 0:
                raise optuna.TrialPruned(f"time budget spent after epoch {row['epoch']}")
            raise _BudgetSpent  # the first trial counts with the epochs it had

    try:
        GRU4Rec(config).fit(frames["train_tr"], frames["valid"], progress=False, epoch_callback=on_epoch)
    except _BudgetSpent:
        pass
    finally:
        if curve:
            values = [r.get(metric, float("nan")) for r in curve]
            best = int(np.nanargmax(values)) if np.isfinite(values).any() else len(values) - 1
            trial.set_user_attr("best_epoch", int(curve[best]["epoch"]))
            trial.set_user_attr("train_seconds", float(sum(r["seconds"] for r in curve)))
            trial.set_user_attr("events_per_second", float(np.median([r["events_per_second"] for r in curve])))
            trial.set_user_attr("valid", {m: curve[best].get(m) for m in METRICS})
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
    """An unfitted model of family ``model`` with ``config``."""
    check_model(model)
    if model == "gru4rec":
        from sbrlib.models.gru4rec import GRU4Rec
        return GRU4Rec(config)
    from sbrlib.models import baselines as B
    return {"item-knn": B.ItemKNN, "sr": B.SequentialRules, "v-sknn": B.VSKNN}[model](config)


def _n_complete(study) -> int:
    optuna = _optuna()
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def default_base(model: str, max_epochs: int = 10, eval_batch_size: int = 512, seed: int = 42) -> Any:
    """The config that searched values are applied on: class defaults; for GRU4Rec ``max_epochs``
    epochs with early stopping (patience 2) on the objective."""
    from sbrlib.tuning.space import config_class

    cls = config_class(model)
    if model == "gru4rec":
        return cls(epochs=max_epochs, early_stopping_patience=2, eval_batch_size=eval_batch_size, seed=seed)
    return cls()


def tune(model: str, frames: Mapping[str, Any], split_name: str, *, metric: str = "mrr@20",
         n_trials: int | None = None, minutes: float | None = None, overrides: Mapping[str, Any] | None = None,
         base: Any = None, seed: int = 0, storage: str | Path | None = None, restart: bool = False,
         enqueue: Iterable[Mapping[str, Any]] = (), eval_batch_size: int = 512, progress: bool = True):
    """Search the hyperparameters of ``model`` on ``frames["train_tr"]`` -> ``frames["valid"]``.

    The study ``<model>-<metric>`` in ``storage`` (default :func:`study_path`) is created or
    resumed: trials already stored are kept and the new ones are added (the sampler's seed is
    offset by the number of stored trials, so a resumed search does not repeat itself). Trials
    that diverge (``FloatingPointError``, NaN) are recorded as failed and the search goes on.

    Args:
        model: ``"gru4rec"``, ``"item-knn"``, ``"sr"`` or ``"v-sknn"``.
        frames: the split (``train_tr`` and ``valid`` are used).
        split_name: recorded with the study; names the default storage folder.
        metric: objective, one of :data:`METRICS` (maximized).
        n_trials: trials to run now (None: until ``minutes`` are spent).
        minutes: time budget of this call (None: until ``n_trials`` are done). A GRU4Rec trial
            still running when it is spent stops after its current epoch (recorded as pruned)
            unless no trial has completed yet.
        overrides: search-space overrides (see :func:`sbrlib.tuning.space.search_space`).
        base: config that searched values are applied on (default :func:`default_base`).
        seed: seed of the TPE sampler.
        storage: SQLite file of the study.
        restart: delete the stored study of this model and metric first.
        enqueue: configurations (searched-parameter dicts) to try first, e.g. presets.
        eval_batch_size: parallel sessions when scoring ``valid``.
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
    if model == "gru4rec":
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
                                         n_startup_trials=8)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2)
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
        if model == "gru4rec":
            return _gru4rec_trial(trial, config, frames, metric, deadline, study)
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


def _best_value(study) -> float | None:
    return study.best_value if _n_complete(study) else None


def best_trial(study_or_path: Any, model: str | None = None, metric: str = "mrr@20"):
    """The best completed trial of a study (or of the study ``<model>-<metric>`` in a SQLite file)."""
    study = load_study(study_or_path, model, metric)
    if not _n_complete(study):
        raise TuningError(f"study {study.study_name!r} has no completed trial yet: run more trials")
    return study.best_trial


def best_params(study_or_path: Any, model: str, metric: str = "mrr@20") -> dict[str, Any]:
    """The best configuration as keyword arguments of the model's config class.

    For GRU4Rec it is the full config with ``epochs`` set to the best trial's best epoch;
    for the baselines the searched fields only (use ``ItemKNNConfig(**best_params(...))``).

    Args:
        study_or_path: a Study, or the SQLite file (``tuning.study_path(split_name)``).
        model: the model family (``"gru4rec"``, ``"item-knn"``, ``"sr"``, ``"v-sknn"``).
        metric: the objective of the study.
    """
    trial = best_trial(study_or_path, model, metric)
    if model == "gru4rec":
        data = dict(trial.user_attrs["config"])
        data["layers"] = tuple(data["layers"])
        data["epochs"] = int(trial.user_attrs.get("best_epoch", data["epochs"]))
        return data
    return dict(trial.params)


def best_config(study_or_path: Any, model: str, metric: str = "mrr@20") -> Any:
    """The best configuration as a config object (``GRU4RecConfig``, ``ItemKNNConfig``, ...)."""
    return make_config(model, best_params(study_or_path, model, metric))


def save_best(study, model: str, split_name: str, folder: str | Path | None = None) -> Path:
    """Add (or replace) ``model``'s best configuration in ``<folder>/tuned.json`` (default
    ``results/<split>/``, next to the default study file)."""
    metric = study.user_attrs.get("metric", study.study_name.rsplit("-", 1)[-1])
    path = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    trial = study.best_trial
    data[model] = _jsonable({
        "metric": metric, "value": study.best_value, "valid": trial.user_attrs.get("valid"),
        "params": best_params(study, model, metric), "searched": trial.params, "trial": trial.number,
        "trials": len(study.trials), "study": study.study_name, "split": split_name, "sbrlib_version": __version__,
    })
    write_json(path, data)
    return path


def read_best(split_name: str, folder: str | Path | None = None) -> dict[str, dict]:
    """The best configurations recorded for a split (``results/<split>/tuned.json``), by model."""
    path = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TuningError(f"{path} is not valid JSON ({exc}); run notebooks/03_tuning again") from exc


def tuned_config(split_name: str, model: str, default: Any = None, folder: str | Path | None = None) -> Any:
    """The tuned config of ``model`` for ``split_name`` from ``tuned.json``, or ``default`` when none.

    Notebook 05 uses it to compare tuned against tuned, e.g.
    ``ItemKNN(tuning.tuned_config(SPLIT_NAME, "item-knn", ItemKNNConfig()))``.
    """
    entry = read_best(split_name, folder).get(model)
    return make_config(model, entry["params"]) if entry else default


def tune_all(models: Iterable[str], frames: Mapping[str, Any], split_name: str, *, metric: str = "mrr@20",
             minutes: float | None = None, n_trials: int | None = None, fixed: Mapping[str, Mapping] | None = None,
             max_epochs: int = 10, reuse: bool = True, seed: int = 0, storage: str | Path | None = None,
             eval_batch_size: int = 512, start_from: Mapping[str, Iterable[Any]] | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Search several models one after the other (what notebook 03 runs).

    GRU4Rec gets half of ``minutes`` when baselines are searched too; the baselines share the
    rest equally. Each search first tries the model's default config (and ``start_from[model]``).

    Args:
        models: model families, e.g. ``["gru4rec", "item-knn", "sr", "v-sknn"]``.
        minutes: time budget of all searches together (None: ``n_trials`` each).
        n_trials: most new trials per model.
        fixed: per model, search-space overrides (e.g. ``{"gru4rec": {"layers": 32}}``).
        max_epochs: GRU4Rec epochs per trial (early stopping with patience 2 on the objective).
        reuse: a stored study with a completed trial is used as is (no new trials).

    Returns:
        Model -> Optuna study.
    """
    _check_budget(n_trials, minutes)
    models = list(models)
    for model in models:
        check_model(model)
    path = Path(storage) if storage is not None else study_path(split_name)
    shares = {m: (0.5 if m == "gru4rec" and len(models) > 1 else
                  (0.5 if "gru4rec" in models else 1.0) / max(len([x for x in models if x != "gru4rec"]), 1))
              for m in models}
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


__all__ = ["BEST_FILE", "METRICS", "STUDY_FILE", "TuningError", "best_config", "best_params", "best_trial", "build_model",
           "default_base", "enqueue_params", "load_study", "read_best", "save_best", "study_name", "study_path",
           "tune", "tune_all", "tuned_config"]
