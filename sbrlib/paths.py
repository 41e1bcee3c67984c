"""Project folders, from one place.

``SBR_PROJECT_DIR`` overrides the project root (default: the folder holding
``sbrlib``); ``SBR_DATA_DIR`` points at an existing MovieLens folder that is
used as is, without network access.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The project root: ``$SBR_PROJECT_DIR`` or the parent of the package."""
    env = os.environ.get("SBR_PROJECT_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``<project>/data``: raw downloads and processed artifacts (git-ignored)."""
    return project_dir() / "data"


def raw_dir(dataset: str) -> Path:
    """Where a downloaded or generated dataset lives: ``data/raw/<dataset>``."""
    return data_dir() / "raw" / dataset


def processed_dir(name: str) -> Path:
    """Where a preprocessed split lives: ``data/processed/<name>``."""
    return data_dir() / "processed" / name


def models_dir(name: str) -> Path:
    """Where a trained model is saved: ``models/<name>``."""
    return project_dir() / "models" / name


def results_dir(name: str) -> Path:
    """Where metrics of a split are written: ``results/<name>``."""
    return project_dir() / "results" / name


def env_data_dir() -> Path | None:
    """The folder named by ``$SBR_DATA_DIR``, or None when unset or empty."""
    env = os.environ.get("SBR_DATA_DIR", "").strip()
    return Path(env).expanduser().resolve() if env else None
