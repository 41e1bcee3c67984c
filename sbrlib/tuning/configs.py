"""Which GRU4Rec configuration to train: the tuned one of a stored study, the class defaults, or a
named preset, with explicit values overriding (what notebook 04's ``CONFIG`` parameter means)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbrlib.tuning.store import TuningError, best_trial, study_path

log = logging.getLogger(__name__)

CHOICES = ("tuned", "default", "official", "movielens-gap", "movielens-user")
"""Values of notebook 04's ``CONFIG``: ``tuned`` (the best trial of notebook 03's search on this
split, else the defaults), ``default`` (``GRU4RecConfig()``), or a preset of
:mod:`sbrlib.models.gru4rec.presets`."""


def _from_study(model: str, config_cls: type, split_name: str, study_file: str | Path | None,
                metric: str) -> tuple[Any, str] | None:
    """The best trial's config of ``model``'s study and a sentence naming it; None when none."""
    path = Path(study_file) if study_file else study_path(split_name)
    try:
        trial = best_trial(path, model, metric)
    except TuningError as exc:
        log.info("no tuned %s configuration: %s", model, exc)
        return None
    data = dict(trial.user_attrs["config"])
    if "layers" in data:
        data["layers"] = tuple(data["layers"])
    fields = {f.name for f in dataclasses.fields(config_cls)}
    config = config_cls(**{k: v for k, v in data.items() if k in fields})
    return config, (f"tuned: trial {trial.number} of study '{model}-{metric}' in {path} (validation {metric} "
                    f"{trial.value:.4f} at epoch {trial.user_attrs.get('best_epoch')} of at most {config.epochs})")


def _override(config: Any, source: str, overrides: Mapping[str, Any] | None) -> tuple[Any, str]:
    given = {k: (tuple(v) if k == "layers" else v) for k, v in (overrides or {}).items() if v is not None}
    changed = {k: v for k, v in given.items() if getattr(config, k) != v}
    config = dataclasses.replace(config, **given)
    if changed:
        source += "; changed explicitly: " + ", ".join(f"{k}={v}" for k, v in changed.items())
    return config, source


def gru4rec_config(choice: str, split_name: str, overrides: Mapping[str, Any] | None = None,
                   study_file: str | Path | None = None, metric: str = "mrr@20") -> tuple[Any, str]:
    """The GRU4RecConfig to train and a sentence saying where it comes from.

    Args:
        choice: one of :data:`CHOICES` (or any preset name).
        split_name: the split (its study is ``results/<split>/tuning.sqlite3`` unless ``study_file``).
        overrides: GRU4RecConfig fields that win over the choice; None values are ignored.
        study_file: the SQLite study file of notebook 03 (default :func:`study_path`).
        metric: objective of the study to read (``mrr@20`` or ``recall@20``).

    For ``tuned``, ``epochs`` is the search's epoch budget per trial (early stopping on ``valid``
    then picks the best epoch, as in the search), not the best trial's epoch count.
    """
    from sbrlib.models.gru4rec import GRU4RecConfig
    from sbrlib.models.gru4rec.presets import PRESETS, preset

    if choice not in CHOICES and choice not in PRESETS:
        raise ValueError(f"CONFIG = {choice!r}: must be one of {', '.join(dict.fromkeys((*CHOICES, *PRESETS)))}")
    if choice == "tuned":
        found = _from_study("gru4rec", GRU4RecConfig, split_name, study_file, metric)
        config, source = found or (GRU4RecConfig(), f"the defaults (GRU4RecConfig()): no completed GRU4Rec search "
                                                    f"for {metric} in {study_file or study_path(split_name)} — run "
                                                    "notebooks/03_tuning first")
    elif choice == "default":
        config, source = GRU4RecConfig(), "the defaults (GRU4RecConfig())"
    else:
        config, source = preset(choice), f"the preset {choice!r} (sbrlib.models.gru4rec.presets)"
    return _override(config, source, overrides)


def sasrec_config(choice: str, split_name: str, overrides: Mapping[str, Any] | None = None,
                  study_file: str | Path | None = None, metric: str = "mrr@20") -> tuple[Any, str]:
    """The SASRecConfig to train and a sentence saying where it comes from (notebook 07).

    Args:
        choice: ``"tuned"`` (the best trial of the split's ``sasrec-<metric>`` study, e.g. from
            ``make tune``; the defaults when there is none) or ``"default"`` (``SASRecConfig()``:
            Kang & McAuley's ML-1M setting).
        split_name, overrides, study_file, metric: as for :func:`gru4rec_config`.
    """
    from sbrlib.models.sasrec import SASRecConfig

    if choice not in ("tuned", "default"):
        raise ValueError(f"SASREC_CONFIG = {choice!r}: must be 'tuned' or 'default'")
    found = _from_study("sasrec", SASRecConfig, split_name, study_file, metric) if choice == "tuned" else None
    if found:
        config, source = found
    elif choice == "tuned":
        config, source = SASRecConfig(), (f"the defaults (SASRecConfig()): no completed SASRec search for {metric} "
                                          f"in {study_file or study_path(split_name)} — run make tune (it searches "
                                          "SASRec too) or notebooks/03_tuning with 'sasrec' in MODELS")
    else:
        config, source = SASRecConfig(), "the defaults (SASRecConfig(): Kang & McAuley's ML-1M setting)"
    return _override(config, source, overrides)


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
    from sbrlib import paths
    from sbrlib.tuning.store import STUDY_FILE

    return paths.project_dir() / "results" / split_name / STUDY_FILE


def prepare_study_file(split_name: str, study_file: str | Path | None = None, reuse: bool = True) -> Path:
    """The study file notebook 03 uses: ``study_file``, else this run's :func:`study_path`.

    With ``reuse``, when that file does not exist yet but ``make tune`` stored studies for this
    split (:func:`tune_study_path`), they are copied in first, so the run reuses them and records
    them with its own results.
    """
    import shutil

    from sbrlib.fileio import atomic_path

    path = Path(study_file) if study_file else study_path(split_name)
    shared = tune_study_path(split_name)
    if reuse and not path.exists() and shared.is_file() and shared.resolve() != path.resolve():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            shutil.copyfile(shared, tmp)
        log.info("copied the studies of make tune from %s", shared)
    return path


__all__ = ["CHOICES", "fixed_parameters", "gru4rec_config", "sasrec_config", "prepare_study_file", "refit_estimate", "tune_study_path"]
