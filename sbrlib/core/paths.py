"""Project folders, from one place.

``SBR_PROJECT_DIR`` overrides the project root (default: the folder holding
``sbrlib``); ``SBR_DATA_DIR`` points at an existing MovieLens folder that is
used as is, without network access; ``SBR_RUN_DIR`` (set by ``make run-all``)
puts the models and results of one run into that run's own folder, so runs
never mix. Processed splits stay shared under ``data/processed``: their names
carry a fingerprint of their parameters.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The project root: ``$SBR_PROJECT_DIR`` or the parent of the package."""
    env = os.environ.get("SBR_PROJECT_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def repo_dir() -> Path:
    """The source tree holding ``sbrlib``, ``notebooks/`` and ``params/`` (not moved by ``SBR_PROJECT_DIR``)."""
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """``<project>/data``: raw downloads and processed artifacts (git-ignored)."""
    return project_dir() / "data"


def raw_dir(dataset: str) -> Path:
    """Where a downloaded or generated dataset lives: ``data/raw/<dataset>``."""
    return data_dir() / "raw" / dataset


def processed_dir(name: str) -> Path:
    """Where a preprocessed split lives: ``data/processed/<name>``."""
    return data_dir() / "processed" / name


def _env_path(variable: str) -> Path | None:
    """The folder an environment variable names (resolved), or None when unset or empty."""
    env = os.environ.get(variable, "").strip()
    return Path(env).expanduser().resolve() if env else None


def run_dir() -> Path | None:
    """The folder of the current ``make run-all`` run (``$SBR_RUN_DIR``), or None outside a run."""
    return _env_path("SBR_RUN_DIR")


def _products_root() -> Path:
    return run_dir() or project_dir()


def models_dir(name: str) -> Path:
    """Where a trained model is saved: ``models/<name>`` (inside the run folder during a run)."""
    return _products_root() / "models" / name


def results_dir(name: str) -> Path:
    """Where results of a split are written: ``results/<name>`` (inside the run folder during a run)."""
    return _products_root() / "results" / name


def env_data_dir() -> Path | None:
    """The folder named by ``$SBR_DATA_DIR``, or None when unset or empty."""
    return _env_path("SBR_DATA_DIR")
