"""Which configuration to train (:func:`resolve_config`: the tuned one of a stored study, the class
defaults, or a named preset, with explicit values overriding; what notebook 04's ``CONFIG`` means),
and whether notebook 03's best trial already trained it (:func:`reuse_best_trial`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrlib.tuning.space import config_class
from sbrlib.tuning.store import (
    TuningError,
    _jsonable,
    checked_fields,
    describe_study,
    identity_differences,
    load_study,
    study_facts,
    study_path,
)

log = logging.getLogger(__name__)

CHOICES = ("tuned", "default", "official", "movielens-gap", "movielens-user")
"""Values of notebook 04's ``CONFIG``: ``tuned`` (the best trial of notebook 03's search on this
split, else the defaults), ``default`` (``GRU4RecConfig()``), or a preset of
:mod:`sbrlib.models.gru4rec.presets`."""


@dataclass(frozen=True)
class ResolvedConfig:
    """The configuration to train and where it came from.

    Attributes:
        config: the model's config object (``GRU4RecConfig``, ``SASRecConfig``, ``SRConfig``, ...).
        source: ``"tuned"`` (best of a search of 2 or more trials), ``"single-trial"`` (a search of
            one trial: not a search result, see :func:`source_label`), ``"default"`` or the preset's
            name: what the config really is (a requested ``tuned`` without a completed search gives
            ``"default"``).
        description: one sentence built only from ``facts`` (printed by notebooks 03/04/05/07).
        facts: the recorded facts behind it: for ``tuned`` those of
            :func:`sbrlib.tuning.store.study_facts` (trials complete/pruned, split and frames,
            objective, budget and whether it was completed, best value); otherwise ``requested``
            and ``reason``; ``changed`` lists explicit overrides.
    """

    config: Any
    source: str
    description: str
    facts: Mapping[str, Any]


def _model_key(model: str) -> str:
    from sbrlib.tuning.space import MODEL_NAMES, check_model

    by_name = {v.lower(): k for k, v in MODEL_NAMES.items()}
    key = by_name.get(str(model).lower(), model)
    check_model(key)
    return key


def _current_split_fingerprint(split_name: str) -> str | None:
    """The split's manifest fingerprint, or None when the split folder is not there."""
    from sbrlib.core import paths
    from sbrlib.core.errors import DataError
    from sbrlib.data import store as artifacts

    if not (paths.processed_dir(split_name) / "manifest.json").is_file():
        return None
    try:
        return artifacts.split_provenance(split_name).get("split_fingerprint")
    except (DataError, OSError, ValueError):
        return None


def _tuned(model: str, split_name: str, path: Path, metric: str) -> ResolvedConfig | None:
    """The best trial of ``model``'s study in ``path`` (identity checked against the split); None
    when there is no completed trial."""
    from sbrlib.tuning.space import NEURAL, make_config

    try:
        study = load_study(path, model, metric)
    except TuningError as exc:
        if "not found" in str(exc) or "holds no study" in str(exc):
            log.info("no tuned %s configuration: %s", model, exc)
            return None
        raise
    facts = study_facts(study, path)
    if facts["best_trial"] is None:
        return None
    identity = study.user_attrs.get("identity")
    if not identity:
        raise TuningError(f"study {study.study_name!r} in {path} was made differently: "
                          f"{identity_differences(None, {})[0]} \u2014 not used: run notebooks/03_tuning again "
                          "with a new STUDY_FILE (or move this one away), or use CONFIG='default'")
    current = _current_split_fingerprint(split_name)
    if current is not None and identity.get("split_fingerprint") not in (None, current):
        raise TuningError(f"study {study.study_name!r} in {path} was made on other data: split fingerprint "
                          f"{identity.get('split_fingerprint')} (split {identity.get('split')}), now {current} "
                          f"({split_name}) \u2014 not used: run notebooks/03_tuning again (REUSE_STUDY=False with a "
                          "new STUDY_FILE), or use CONFIG='default'")
    trial = study.best_trial
    where = f"trial {trial.number} of study {study.study_name!r} in {path}"
    if model in NEURAL:  # the search's epoch budget: early stopping on valid picks the epoch again
        config = config_class(model)(**checked_fields(model, trial.user_attrs["config"], where))
    else:
        config = make_config(model, checked_fields(model, trial.params, where))
    defaults = config_class(model)()
    is_default = all(getattr(config, k) == getattr(defaults, k) for k in trial.params if hasattr(defaults, k))
    facts = {**facts, "searched": _jsonable(trial.params), "best_is_default": bool(is_default)}
    if is_default:
        facts["default_phrase"] = _defaults_phrase(model)
    return ResolvedConfig(config, source_label(facts["trials"]), describe_study(facts), facts)


def source_label(n_trials: int | None) -> str:
    """The ``source`` of a configuration from a search of ``n_trials`` trials: ``"tuned"`` only for a
    real search (2 or more trials); ``"single-trial"`` for one trial (the search's first trial, the
    model's defaults in notebook 03: never called tuned); ``"default"`` for none."""
    if not n_trials:
        return "default"
    return "single-trial" if int(n_trials) == 1 else "tuned"


def _defaults_phrase(model: str) -> str:
    """:func:`sbrlib.tuning.store.defaults_phrase` (kept under this name for callers)."""
    from sbrlib.tuning.store import defaults_phrase

    return defaults_phrase(model)


def resolve_config(model: str, split_name: str, source: str = "tuned", overrides: Mapping[str, Any] | None = None,
                   study_file: str | Path | None = None, metric: str = "mrr@20") -> ResolvedConfig:
    """THE way to get the configuration to train for ``model`` on ``split_name``.

    Args:
        model: model family (``"gru4rec"``, ``"sasrec"``, ``"item-knn"``, ``"sr"``, ``"v-sknn"``; the
            display name, e.g. ``"SASRec"``, is accepted too).
        split_name: the split (its studies are ``results/<split>/tuning.sqlite3`` unless ``study_file``).
        source: ``"tuned"`` (the best trial of the split's ``<model>-<metric>`` study, identity
            checked; the class defaults, said so, when no search completed a trial), ``"default"``
            (the class defaults) or a preset of the family (GRU4Rec: :mod:`sbrlib.models.gru4rec.presets`,
            SASRec: :mod:`sbrlib.models.sasrec.presets`).
        overrides: config fields that win over the source; None values are ignored.
        study_file: the SQLite study file (default :func:`study_path`).
        metric: the objective of the study to read.

    For ``tuned`` neural models, ``epochs`` is the search's epoch budget per trial (early stopping on
    ``valid`` then picks the best epoch, as in the search), not the best trial's epoch count.

    Returns:
        :class:`ResolvedConfig`; its ``description`` is built only from its ``facts``, e.g.
        ``tuned: best of 12 trials (8 complete, 4 pruned) on ml-100k-gap train_tr→valid, MRR@20
        0.1234 (trial 5, best epoch 7), search finished: its time budget was spent (12 of 40 trials, 0.75 of 0.75 min)``.

    Raises:
        ValueError: unknown source for this model.
        TuningError: the stored study was made on other data, has no identity, or holds keys
            this version does not know (one line naming the key and the file).
    """
    from sbrlib.models import registry

    model = _model_key(model)
    cls = config_class(model)
    spec = registry.get(model)
    allowed = ("tuned", "default", *spec.preset_names())
    if source not in allowed:
        raise ValueError(f"configuration source {source!r} for {model}: must be one of {', '.join(allowed)}")
    path = Path(study_file) if study_file else study_path(split_name)
    if source == "tuned":
        resolved = _tuned(model, split_name, path, metric)
        if resolved is None:
            reason = (f"no completed {model} search for {metric} in {path} \u2014 run notebooks/03_tuning with "
                      f"{model!r} in MODELS (or make tune)")
            resolved = ResolvedConfig(cls(), "default", f"default: {_defaults_phrase(model)}: {reason}",
                                      {"requested": "tuned", "reason": reason})
    elif source == "default":
        resolved = ResolvedConfig(cls(), "default", f"default: {_defaults_phrase(model)}", {"requested": "default"})
    else:
        resolved = ResolvedConfig(spec.preset(source), source, f"preset {source!r} ({spec.presets})",
                                  {"requested": source})
    given = {k: (tuple(v) if k == "layers" else v) for k, v in (overrides or {}).items() if v is not None}
    changed = {k: v for k, v in given.items() if getattr(resolved.config, k) != v}
    if not given:
        return resolved
    config = dataclasses.replace(resolved.config, **given)
    description = resolved.description + ("; changed explicitly: " + ", ".join(f"{k}={v}" for k, v in changed.items())
                                          if changed else "")
    return ResolvedConfig(config, resolved.source, description, {**resolved.facts, "changed": _jsonable(changed)})


def gru4rec_config(choice: str, split_name: str, overrides: Mapping[str, Any] | None = None,
                   study_file: str | Path | None = None, metric: str = "mrr@20") -> tuple[Any, str]:
    """``(config, description)`` of :func:`resolve_config` for GRU4Rec (notebook 04's ``CONFIG``)."""
    from sbrlib.models.gru4rec.presets import PRESETS

    if choice not in CHOICES and choice not in PRESETS:
        raise ValueError(f"CONFIG = {choice!r}: must be one of {', '.join(dict.fromkeys((*CHOICES, *PRESETS)))}")
    resolved = resolve_config("gru4rec", split_name, choice, overrides, study_file, metric)
    return resolved.config, resolved.description


def sasrec_config(choice: str, split_name: str, overrides: Mapping[str, Any] | None = None,
                  study_file: str | Path | None = None, metric: str = "mrr@20") -> tuple[Any, str]:
    """``(config, description)`` of :func:`resolve_config` for SASRec (notebook 07's ``SASREC_CONFIG``)."""
    from sbrlib.models.sasrec.presets import PRESETS

    if choice not in ("tuned", "default", *PRESETS):
        raise ValueError(f"SASREC_CONFIG = {choice!r}: must be one of {', '.join(('tuned', 'default', *PRESETS))}")
    resolved = resolve_config("sasrec", split_name, choice, overrides, study_file, metric)
    return resolved.config, resolved.description


def training_record(split_name: str, model_name: str) -> tuple[dict | None, str]:
    """Notebook 04's record of its saved model (``results/<split>/gru4rec_training.json``): ``(payload, "")``,
    or ``(None, why)`` when it cannot be read or is of another model than ``model_name``."""
    import json

    from sbrlib.core import paths

    path = paths.results_dir(split_name) / "gru4rec_training.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"notebook 04's record {path} not readable: {type(exc).__name__}"
    payload = record.get("payload", record)
    if payload.get("model") != model_name:
        return None, f"notebook 04's record {path} is of model {payload.get('model')!r}, not {model_name!r}"
    return payload, ""


def trained_config_source(split_name: str, model_name: str) -> str:
    """Where the configuration of notebook 04's saved model ``model_name`` came from: the
    description that 04 recorded (``results/<split>/gru4rec_training.json``), for notebook 05."""
    payload, why = training_record(split_name, model_name)
    if payload is None:
        return f"unknown ({why})"
    reused = payload.get("reused_trial")
    return str(payload.get("config_source")) + (f"; {reused}" if reused and str(reused).startswith("reused") else "")


IGNORED_FOR_REUSE = ("eval_batch_size",)
"""Config fields that do not change what a model learns (a trial trained with another value is reused)."""


def reuse_best_trial(model: str, split: Any, config: Any, study_file: str | Path | None = None,
                     metric: str = "mrr@20", frame: str = "train_tr") -> tuple[Any | None, str]:
    """The model that notebook 03's best trial trained, when it is the model notebook 04 would train.

    It is reused only when the study recorded saved weights for its *best* trial and the saved
    model's provenance says it was trained on the same split (fingerprint) and frame, with the same
    configuration (every field but :data:`IGNORED_FOR_REUSE`, epochs and patience included).

    Args:
        model: ``"gru4rec"`` (or ``"sasrec"``).
        split: the loaded split (its ``name`` and ``fingerprint`` are compared).
        config: the config that would be trained.
        study_file: the study file (default :func:`study_path` of the split).
        metric: the study's objective.
        frame: the frame that would be trained on (``train_tr``; a refit on ``train`` is not reused).

    Returns:
        ``(model or None, reason)``: the loaded model and a sentence saying which trial it is, or
        None and why it must be trained again.
    """
    from sbrlib.core.provenance import differences
    from sbrlib.tuning.search import best_weights_dir, build_model
    from sbrlib.tuning.store import study_name

    model = _model_key(model)
    path = Path(study_file) if study_file else study_path(split.name)
    try:
        study = load_study(path, model, metric)
    except TuningError as exc:
        return None, f"no study to reuse ({str(exc).splitlines()[0]})"
    facts = study_facts(study, path)
    saved = study.user_attrs.get("best_weights") or {}
    if facts["best_trial"] is None:
        return None, f"{study.study_name!r} has no completed trial"
    if saved.get("trial") != facts["best_trial"]:
        stopped = study.best_trial.user_attrs.get("stopped")
        why = (f"it was stopped by the {stopped}, so it is not the model trained to its end here" if stopped
               else "its model was not saved")
        return None, f"the best trial ({facts['best_trial']}) of {study.study_name!r}: {why}"
    folder = Path(saved.get("folder") or best_weights_dir(path, study_name(model, metric)))
    if not folder.is_dir():  # the run folder moved: the weights live next to the study file
        folder = best_weights_dir(path, study_name(model, metric))
    try:
        fitted = type(build_model(model, config)).load(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"the best trial's saved model in {folder} cannot be loaded ({type(exc).__name__}: {exc})"
    prov = getattr(fitted, "provenance", {}) or {}
    if prov.get("split_fingerprint") != getattr(split, "fingerprint", None):
        return None, (f"the best trial was trained on split {prov.get('split')} ({prov.get('split_fingerprint')}), "
                      f"not {split.name} ({getattr(split, 'fingerprint', None)})")
    if prov.get("trained_on") != frame:
        return None, f"the best trial was trained on {prov.get('trained_on')!r}, this model trains on {frame!r}"
    drop = set(IGNORED_FOR_REUSE) | {"name"}
    diffs = differences({k: v for k, v in fitted.config.to_dict().items() if k not in drop},
                        {k: v for k, v in config.to_dict().items() if k not in drop})
    if diffs:
        return None, "the best trial was trained with another configuration: " + "; ".join(diffs)
    from sbrlib.core import paths

    root = paths.run_dir() or paths.project_dir()
    where = Path(folder)
    if where.is_relative_to(root):  # the run folder's (or project's) own path says nothing to a reader of the run
        where = where.relative_to(root)
    return fitted, (f"reused: the model of trial {facts['best_trial']} of {study.study_name!r} (same split "
                    f"{split.name}, frame {frame}, same configuration), saved in {where.as_posix()}")


def repeated_trial_sentence(history, config: Any, study_file: str | Path, model: str = "gru4rec",
                            metric: str = "mrr@20") -> str:
    """When a training repeats notebook 03's best trial (the same configuration, not reused because a
    time limit cut the trial), a sentence comparing the two per-epoch validation curves, e.g. ``"This
    training repeats 03's trial 0 (the same configuration and seed): its first 4 epochs give the same
    validation MRR@20 (0.0567, 0.0605, 0.0615, 0.0608); it went on after epoch 4, where that trial's time limit
    stopped it."``; ``""`` when there is no such trial.

    Args:
        history: the training's per-epoch rows (``epoch`` and ``metric`` columns).
        config: the configuration trained (compared with the trial's, :data:`IGNORED_FOR_REUSE` aside).
        study_file: notebook 03's study file.
        model, metric: the study's model and objective.
    """
    from sbrlib.core.provenance import differences

    try:
        study = load_study(Path(study_file), _model_key(model), metric)
        best = study.best_trial
    except Exception:  # no study, or no completed trial: nothing to compare with
        return ""
    curve, stored = best.user_attrs.get("curve") or [], best.user_attrs.get("config") or {}
    drop = set(IGNORED_FOR_REUSE) | {"name", "epochs", "early_stopping_patience"}
    mine = {k: v for k, v in config.to_dict().items() if k not in drop}
    if not curve or not stored or differences({k: v for k, v in stored.items() if k in mine}, mine):
        return ""
    theirs = [float(r[metric]) for r in curve]
    ours = [float(v) for v in history[metric]][:len(theirs)]
    name = metric.upper().replace("RECALL", "Recall")
    n = len(ours)
    values = ", ".join(f"{v:.4f}" for v in ours)
    same = n == len(theirs) and all(abs(a - b) <= 1e-6 for a, b in zip(ours, theirs))
    head = f"This training repeats 03's trial {best.number} (the same configuration and seed): "
    if same:
        text = head + f"its first {n} epochs give the same validation {name} ({values})"
    else:
        text = head + (f"its first {n} epochs give validation {name} {values}, against the trial's "
                       + ", ".join(f"{v:.4f}" for v in theirs[:n]) + " (not identical: floating-point order can differ "
                       "between runs)")
    stop = best.user_attrs.get("stop") or {}
    if len(history) > len(theirs):
        text += (f"; it went on after epoch {len(theirs)}, where that trial's "
                 f"{stop.get('rule', 'search')} stopped it")
    return text + "."


def refit_estimate(history, n_train: int, n_train_tr: int, epochs: int) -> float:
    """Seconds a refit on ``n_train`` events for ``epochs`` epochs should take, from the median
    epoch time of a run on ``n_train_tr`` events (``history``: its per-epoch rows)."""
    per_epoch = float(history["seconds"].median()) if len(history) else float("nan")
    return per_epoch * epochs * n_train / max(n_train_tr, 1)




def fixed_parameters(layers: list[int] | None = None, batch_size: int | None = None, n_sample: int | None = None,
                     vsknn_sample: int | None = None) -> dict[str, dict[str, Any]]:
    """Search-space overrides that fix parameters (notebook 03's ``LAYERS``, ``BATCH_SIZE``,
    ``N_SAMPLE``, ``VSKNN_SAMPLE``; None: searched), by model family."""
    gru: dict[str, Any] = {}
    if layers is not None:
        if len(layers) != 1:
            raise ValueError(f"LAYERS = {layers}: the search covers one GRU layer; give one size, e.g. [100]")
        gru["layers"] = int(layers[0])
    if batch_size is not None:
        gru["batch_size"] = int(batch_size)
    if n_sample is not None:
        gru["n_sample"] = int(n_sample)
    out: dict[str, dict[str, Any]] = {"gru4rec": gru}
    if vsknn_sample is not None:
        out["v-sknn"] = {"sample_size": int(vsknn_sample)}
    return out


def tune_study_path(split_name: str) -> Path:
    """Where ``make tune`` keeps the studies of a split: ``results/<split>/tuning.sqlite3`` under the
    project folder, outside any ``make run-all`` run folder, so that runs can reuse them."""
    from sbrlib.core import paths
    from sbrlib.tuning.store import STUDY_FILE

    return paths.project_dir() / "results" / split_name / STUDY_FILE


def prepare_study_file(split_name: str, study_file: str | Path | None = None, reuse: bool = True) -> Path:
    """The study file notebook 03 uses: ``study_file``, else this run's :func:`study_path`.

    With ``reuse``, when that file does not exist yet but ``make tune`` stored studies for this
    split (:func:`tune_study_path`), they are copied in first, so the run reuses them and records
    them with its own results.
    """
    import shutil

    from sbrlib.core.fileio import atomic_path

    path = Path(study_file) if study_file else study_path(split_name)
    shared = tune_study_path(split_name)
    if reuse and not path.exists() and shared.is_file() and shared.resolve() != path.resolve():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            shutil.copyfile(shared, tmp)
        log.info("copied the studies of make tune from %s", shared)
    return path


__all__ = ["CHOICES", "IGNORED_FOR_REUSE", "ResolvedConfig", "resolve_config", "reuse_best_trial", "source_label", "trained_config_source", "fixed_parameters", "gru4rec_config", "sasrec_config", "prepare_study_file", "refit_estimate", "tune_study_path"]
