"""Processed splits on disk, one store for both protocols: ``data/processed/<name>/
{train,test,train_tr,valid}.parquet``, ``items.parquet`` (the train item index) and
``manifest.json`` (parameters, counts, cutoffs, source file hashes, fingerprint, rows dropped as
exact duplicates).

The protocol is the config's type: :class:`~sbrlib.data.preprocess.PreprocessConfig` (temporal
session split, :func:`~sbrlib.data.preprocess.preprocess`) or :class:`~sbrlib.data.preprocess.LOOConfig`
(leave-one-out on user histories, :func:`~sbrlib.data.preprocess.leave_one_out`; its manifest's
``config`` holds ``protocol: "leave-one-out"``). :func:`load_split` reads either back.

A split's identity is its dataset, its parameters and its source file (:func:`split_fingerprint`).
Its default name is readable for the default parameters of a session mode (``ml-1m-gap``) and
carries a short fingerprint of the parameters otherwise (``ml-1m-gap-3f9c1a2b``), so a changed
parameter makes a new split instead of replacing one. Re-running with the same parameters and
source reuses the files; a split whose name is given explicitly and that exists with other
parameters (or another source file) is never replaced silently: :func:`prepare` refuses and names
the differences, unless ``force=True``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sbrlib import __version__
from sbrlib.core import paths
from sbrlib.core.columns import ITEM, SESSION, USER
from sbrlib.core.errors import DataError, ModelFileError
from sbrlib.core.fileio import atomic_dir, write_json
from sbrlib.core.provenance import ProvenanceError, differences, fingerprint
from sbrlib.data import describe_source, load_ratings
from sbrlib.data.item_index import ItemIndex
from sbrlib.data.preprocess import LOOConfig, PreprocessConfig, Split, leave_one_out, preprocess

log = logging.getLogger(__name__)

FRAMES = ("train", "test", "train_tr", "valid")

#: A split's parameters: the temporal protocol or leave-one-out.
SplitConfig = PreprocessConfig | LOOConfig


def split_name(dataset: str, config: SplitConfig = PreprocessConfig()) -> str:
    """The default name of a split: ``<dataset>-<mode>`` for the default parameters of that session
    mode (``<dataset>-loo`` for leave-one-out), else ``<dataset>-<mode>-<fingerprint of the parameters>``."""
    base = f"{dataset}-{config.session_mode}"
    default = LOOConfig() if isinstance(config, LOOConfig) else PreprocessConfig(session_mode=config.session_mode)
    if config == default:
        return base
    return f"{base}-{fingerprint(config.to_dict())}"


def split_fingerprint(config: SplitConfig, source: dict) -> str:
    """Fingerprint of a split's identity: its parameters and its source file's content."""
    return fingerprint({"config": config.to_dict(), "source_sha256": source.get("sha256")})


def save_split(split: Split, folder: str | Path, source: dict) -> Path:
    """Write a split's parquet files and manifest atomically into ``folder``.

    All or nothing (:func:`sbrlib.core.fileio.atomic_dir`): a failure while writing or swapping keeps the
    previous split in place and leaves no temporary folder.

    Raises:
        DataError: ``folder`` holds a read-only split that could not be replaced (nothing changed).
    """
    folder = Path(folder)
    counts = {
        k: {"events": len(f), "sessions": int(f[SESSION].nunique()), "items": int(f[ITEM].nunique()),
            "users": int(f[USER].nunique())}
        for k, f in split.frames.items()
    }
    manifest = {
        "name": folder.name, "fingerprint": split_fingerprint(split.config, source),
        "source": source, "config": split.config.to_dict(),
        "cutoffs": split.cutoffs, "counts": counts, "duplicates_dropped": split.duplicates_dropped,
        "sbrlib_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        with atomic_dir(folder) as tmp:
            for key, frame in split.frames.items():
                frame.to_parquet(tmp / f"{key}.parquet", index=False)
            ItemIndex.from_events(split["train"]).to_frame().to_parquet(tmp / "items.parquet", index=False)
            write_json(tmp / "manifest.json", manifest)
    except PermissionError as exc:  # read-only split folder: nothing was changed (atomic_dir)
        raise DataError(str(exc)) from None
    return folder


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a processed split; DataError if absent."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path} not found: run notebooks/02_preprocessing (or sbrlib.data.store.prepare) first")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path} cannot be read ({exc}): the split is damaged; rebuild it "
                        "(02_preprocessing with FORCE=True, or sbrlib.data.store.prepare(..., force=True))") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise DataError(f"{path} has no 'config' record: not a split manifest, or a damaged one; rebuild the split "
                        "(02_preprocessing with FORCE=True, or sbrlib.data.store.prepare(..., force=True))")
    return manifest


def config_from_manifest(manifest: dict, where: str | Path = "manifest") -> SplitConfig:
    """The split's parameters: :class:`LOOConfig` when ``config.protocol`` is ``"leave-one-out"``,
    else :class:`PreprocessConfig` (manifests written before the protocol was recorded)."""
    record = manifest["config"]
    cls = LOOConfig if record.get("protocol") == "leave-one-out" else PreprocessConfig
    try:
        return cls.from_dict(record)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: the split's config cannot be read as {cls.__name__} ({exc}); it was made by "
                        "another sbrlib version or edited by hand: rebuild the split with force=True") from None


def load_split(name_or_folder: str | Path, frames: tuple[str, ...] = FRAMES) -> Split:
    """Load a processed split (temporal or leave-one-out) by name (``data/processed/<name>``) or folder.

    Returns:
        The :class:`Split`; its ``config`` is a :class:`PreprocessConfig` or a :class:`LOOConfig`
        as recorded in the manifest. The frames carry ``attrs["split"]``,
        ``attrs["split_fingerprint"]`` and ``attrs["frame"]``.
    """
    folder = Path(name_or_folder)
    if not folder.is_dir():
        folder = paths.processed_dir(str(name_or_folder))
    manifest = read_manifest(folder)
    config = config_from_manifest(manifest, folder / "manifest.json")
    fp = manifest.get("fingerprint") or split_fingerprint(config, manifest.get("source", {}))
    loaded = {}
    for key in frames:
        path = folder / f"{key}.parquet"
        if not path.is_file():
            raise DataError(f"{path} missing: the split is incomplete; rebuild it (02_preprocessing with "
                            "FORCE=True, or sbrlib.data.store.prepare(..., force=True))")
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise DataError(f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}): the split is damaged; "
                            "rebuild it (02_preprocessing with FORCE=True, or "
                            "sbrlib.data.store.prepare(..., force=True))") from None
        frame.attrs.update(split=folder.name, split_fingerprint=fp, frame=key)  # provenance travels with the frames
        loaded[key] = frame
    split = Split(loaded, manifest.get("cutoffs", {}), config, duplicates_dropped=manifest.get("duplicates_dropped"))
    split.name, split.fingerprint = folder.name, fp
    return split


def split_provenance(split_or_folder: Split | str | Path) -> dict:
    """``{"split": name, "split_fingerprint": fp}`` of a loaded split or a split folder."""
    if isinstance(split_or_folder, Split):
        return {"split": getattr(split_or_folder, "name", None),
                "split_fingerprint": getattr(split_or_folder, "fingerprint", None)}
    folder = Path(split_or_folder)
    if not folder.is_dir():
        folder = paths.processed_dir(str(split_or_folder))
    manifest = read_manifest(folder)
    return {"split": folder.name, "split_fingerprint": manifest.get("fingerprint")}


def is_current(folder: str | Path, config: SplitConfig, source: dict) -> bool:
    """True when ``folder`` holds a complete split made with ``config`` from ``source``."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except DataError:
        return False
    return not _mismatches(manifest, config, source) and all((folder / f"{k}.parquet").is_file() for k in FRAMES)


def _mismatches(manifest: dict, config: SplitConfig, source: dict) -> list[str]:
    """What differs between an existing split's manifest and the requested parameters/source."""
    out = differences(manifest.get("config", {}), json.loads(json.dumps(config.to_dict())))
    old_sha, new_sha = manifest.get("source", {}).get("sha256"), source.get("sha256")
    if old_sha != new_sha:
        out.append(f"source file: sha256 {str(old_sha)[:12]}... -> {str(new_sha)[:12]}... ({source.get('path')})")
    return out


def _split_refusal_advice(dataset: str, config: SplitConfig, name: str, source: dict) -> str:
    """What to do when the split ``name`` exists but was made differently: only advice that works here.

    A leave-one-out split (notebook 07 has no ``SPLIT_NAME``/``FORCE`` parameters) is rebuilt by
    removing its folder.

    Leaving ``SPLIT_NAME`` empty is suggested only when the name these parameters get by default is
    another name that is free or holds this very split; otherwise (the refused name *is* that default,
    e.g. the source file changed) a free name carrying the split's fingerprint is suggested.
    """
    if isinstance(config, LOOConfig):
        return (f"Remove {paths.processed_dir(name)} to rebuild it (notebook 07 then makes it again), or from "
                "Python pass another name= or force=True to artifacts.prepare")
    tail = ("or set FORCE=True to rebuild it (models trained on the old one will then be refused by the "
            "evaluation)")
    default = split_name(dataset, config)
    default_folder = paths.processed_dir(default)
    default_usable = default != name and (
        not (default_folder / "manifest.json").is_file()
        or not _mismatches(read_manifest(default_folder), config, source))
    if default_usable:
        return (f"Leave SPLIT_NAME empty to get a split named after these parameters ({default}), choose another "
                f"SPLIT_NAME, {tail}")
    fresh = f"{name}-{split_fingerprint(config, source)[:8]}"
    why = ("it is the name these parameters get by default, so leaving SPLIT_NAME empty would pick it again"
           if default == name else f"the default name {default} is taken by another split too")
    return f"Choose another SPLIT_NAME (e.g. SPLIT_NAME={fresh}; {why}), {tail}"


def prepare(dataset: str, config: SplitConfig = PreprocessConfig(), name: str | None = None,
            data_dir: str | Path | None = None, force: bool = False) -> tuple[Split, Path]:
    """Load ``dataset``, split it with ``config`` and save it as ``data/processed/<name>``.

    ``config`` chooses the protocol: a :class:`PreprocessConfig` runs
    :func:`~sbrlib.data.preprocess.preprocess` (temporal session split), a :class:`LOOConfig`
    :func:`~sbrlib.data.preprocess.leave_one_out`.

    ``name`` defaults to :func:`split_name` (readable for default parameters, fingerprinted
    otherwise). An existing split made with the same parameters from the same source file is
    reused; one made differently is replaced only with ``force=True``.

    Returns:
        ``(split, folder)``; the frames carry ``attrs["split"]`` and ``attrs["split_fingerprint"]``.

    Raises:
        ProvenanceError: the folder holds a split made with other parameters or another source
            file, and ``force`` is False; the message names every difference.
    """
    if not isinstance(config, PreprocessConfig | LOOConfig):
        raise TypeError(f"config must be a PreprocessConfig or a LOOConfig, got {type(config).__name__}")
    name = name or split_name(dataset, config)
    folder = paths.processed_dir(name)
    source = describe_source(dataset, data_dir)
    if (folder / "manifest.json").is_file() and not force:
        manifest = read_manifest(folder)
        diffs = _mismatches(manifest, config, source)
        if diffs:
            raise ProvenanceError(f"split {name} ({folder}) exists and was made differently:\n  " + "\n  ".join(diffs)
                                  + "\n" + _split_refusal_advice(dataset, config, name, source))
        if is_current(folder, config, source):
            log.info("reusing %s", folder)
            return load_split(folder), folder
    ratings = load_ratings(dataset, data_dir)
    split = leave_one_out(ratings, config) if isinstance(config, LOOConfig) else preprocess(ratings, config)
    save_split(split, folder, source)
    return load_split(folder), folder


# --------------------------------------------------------------------------- models


def model_provenance(folder: str | Path) -> dict:
    """What a saved model was made from: ``provenance.json`` of its folder ({} when absent).

    Raises:
        ModelFileError: the file is not a JSON object (named, with what to do).
    """
    path = Path(folder) / "provenance.json"
    return _model_json(path) if path.is_file() else {}


def _model_json(path: Path) -> dict:
    """A saved model's JSON object file; ModelFileError naming it when it is damaged."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        data = exc
    if not isinstance(data, dict):
        detail = f"{type(data).__name__}: {data}" if isinstance(data, Exception) else "not a JSON object"
        raise ModelFileError(f"{path} cannot be read ({detail}); retrain the model (notebooks/04_train_gru4rec with "
                             "OVERWRITE=True, or `make run-all`) or restore the folder from a backup")
    return data


def check_model_target(folder: str | Path, config: dict, split: dict, overwrite: bool = False) -> None:
    """Refuse to replace a saved model that was made differently, before any training starts.

    A model folder may be replaced by a model of the same config trained on the same split (a
    re-run), or by anything when ``overwrite`` is True.

    Args:
        folder: where the model will be saved.
        config: the new model's config (``to_dict()``).
        split: the new model's split provenance (:func:`split_provenance`).
        overwrite: replace whatever is there.

    Raises:
        ProvenanceError: naming the saved model's differences (config and split).
    """
    folder = Path(folder)
    if overwrite or not (folder / "config.json").is_file():
        return
    old_config = _model_json(folder / "config.json")
    old_config.pop("name", None)
    diffs = differences(old_config, config)
    old_split = model_provenance(folder)
    if old_split.get("split_fingerprint") and old_split.get("split_fingerprint") != split.get("split_fingerprint"):
        diffs.append(f"split: {old_split.get('split')} ({old_split.get('split_fingerprint')}) -> "
                     f"{split.get('split')} ({split.get('split_fingerprint')})")
    if diffs:
        raise ProvenanceError(
            f"model {folder.name} ({folder}) exists and was made differently:\n  " + "\n  ".join(diffs)
            + "\nChoose another MODEL_NAME (papermill: -p MODEL_NAME my-experiment; make run-all: MODEL_NAME: "
              "my-experiment in the profile) or set OVERWRITE=True to replace it")
