"""Stored studies: where they live (SQLite under the results folder), how to open them safely,
and the best configurations they hold (also written to ``results/<split>/tuned.json`` for notebook 05).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

from sbrlib import __version__, paths
from sbrlib.fileio import write_json
from sbrlib.tuning.space import NEURAL, make_config

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


def _storage(path: str | Path):
    """An Optuna RDB storage on a SQLite file; a file that is not a study database is a clear error."""
    optuna = _optuna()
    from sqlalchemy.exc import SQLAlchemyError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # heartbeats: a trial whose process died (killed, crashed) is marked failed when a search resumes
        return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}},
                                          heartbeat_interval=60, grace_period=180)
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


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _n_complete(study) -> int:
    optuna = _optuna()
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


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
    if model in NEURAL:
        data = dict(trial.user_attrs["config"])
        if "layers" in data:
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


def best_baseline_params(split_name: str, folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The tuned baseline parameters of a split by display name, e.g. ``{"SR": {"steps": 14}}``,
    from ``results/<split>/tuned.json`` (what notebook 05's ``BASELINE_PARAMS="tuned"`` uses).

    Only fields of this version's config classes are returned; baselines that were not tuned are
    left out (they keep their defaults).

    Raises:
        TuningError: no tuned baseline for the split, saying how to get one.
    """
    import dataclasses

    from sbrlib.tuning.space import MODEL_NAMES, config_class

    out = {}
    for model, entry in read_best(split_name, folder).items():
        if model in NEURAL or model not in MODEL_NAMES:
            continue
        fields = {f.name for f in dataclasses.fields(config_class(model))}
        out[MODEL_NAMES[model]] = {k: v for k, v in entry["params"].items() if k in fields}
    if not out:
        where = Path(folder or paths.results_dir(split_name)) / BEST_FILE
        raise TuningError(f"no tuned baseline parameters for {split_name} ({where} missing or without baselines): "
                          "run notebooks/03_tuning first (MODELS with item-knn, sr, v-sknn), or use the defaults")
    return out


__all__ = ["BEST_FILE", "best_baseline_params", "METRICS", "STUDY_FILE", "TuningError", "best_config", "best_params", "best_trial",
           "load_study", "read_best", "save_best", "study_name", "study_path", "tuned_config"]
