"""Processed splits on disk: ``data/processed/<name>/{train,test,train_tr,valid}.parquet``,
``items.parquet`` (the train item index) and ``manifest.json`` (parameters, counts,
cutoffs, source file hashes). Re-running with the same parameters and source reuses them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sbrlib import __version__, datasets, paths
from sbrlib.columns import ITEM, SESSION, USER
from sbrlib.errors import DataError
from sbrlib.fileio import atomic_dir, write_json
from sbrlib.preprocess import ItemIndex, PreprocessConfig, Split, preprocess

log = logging.getLogger(__name__)

FRAMES = ("train", "test", "train_tr", "valid")


def save_split(split: Split, folder: str | Path, source: dict) -> Path:
    """Write a split's parquet files and manifest atomically into ``folder``."""
    folder = Path(folder)
    counts = {
        k: {"events": len(f), "sessions": int(f[SESSION].nunique()), "items": int(f[ITEM].nunique()),
            "users": int(f[USER].nunique())}
        for k, f in split.frames.items()
    }
    manifest = {
        "name": folder.name, "source": source, "config": split.config.to_dict(),
        "cutoffs": split.cutoffs, "counts": counts, "sbrlib_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with atomic_dir(folder) as tmp:
        for key, frame in split.frames.items():
            frame.to_parquet(tmp / f"{key}.parquet", index=False)
        ItemIndex.from_events(split["train"]).to_frame().to_parquet(tmp / "items.parquet", index=False)
        write_json(tmp / "manifest.json", manifest)
    return folder


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a processed split; DataError if absent."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path} not found: run notebooks/02_preprocessing (or sbrlib.artifacts.prepare) first")
    return json.loads(path.read_text())


def load_split(name_or_folder: str | Path, frames: tuple[str, ...] = FRAMES) -> Split:
    """Load a processed split by name (``data/processed/<name>``) or folder."""
    folder = Path(name_or_folder)
    if not folder.is_dir():
        folder = paths.processed_dir(str(name_or_folder))
    manifest = read_manifest(folder)
    loaded = {}
    for key in frames:
        path = folder / f"{key}.parquet"
        if not path.is_file():
            raise DataError(f"{path} missing: the split is incomplete; run 02_preprocessing again")
        loaded[key] = pd.read_parquet(path)
    return Split(loaded, manifest["cutoffs"], PreprocessConfig.from_dict(manifest["config"]))


def is_current(folder: str | Path, config: PreprocessConfig, source: dict) -> bool:
    """True when ``folder`` holds a complete split made with ``config`` from ``source``."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except DataError:
        return False
    same = manifest.get("config") == json.loads(json.dumps(config.to_dict())) and \
        manifest.get("source", {}).get("sha256") == source.get("sha256")
    return same and all((folder / f"{k}.parquet").is_file() for k in FRAMES)


def prepare(dataset: str, config: PreprocessConfig = PreprocessConfig(), name: str | None = None,
            data_dir: str | Path | None = None, force: bool = False) -> tuple[Split, Path]:
    """Load ``dataset``, preprocess it with ``config`` and save it as ``data/processed/<name>``.

    An existing split made with the same parameters from the same source file is reused.

    Returns:
        ``(split, folder)``.
    """
    name = name or f"{dataset}-{config.session_mode}"
    folder = paths.processed_dir(name)
    source = datasets.describe_source(dataset, data_dir)
    if not force and is_current(folder, config, source):
        log.info("reusing %s", folder)
        return load_split(folder), folder
    ratings = datasets.load_ratings(dataset, data_dir)
    split = preprocess(ratings, config)
    save_split(split, folder, source)
    return split, folder
