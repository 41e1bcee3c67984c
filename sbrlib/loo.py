"""Leave-one-out splits on disk and evaluation of the held-out position only.

:func:`prepare_loo` builds :func:`sbrlib.preprocess.leave_one_out` for a dataset and saves it
like the temporal splits (``data/processed/<dataset>-loo/{train,test,train_tr,valid,items}.parquet``
and ``manifest.json`` through :func:`sbrlib.artifacts.save_split`; the manifest's ``config`` holds
``protocol: "leave-one-out"``); identical re-runs reuse it, a split made differently is never replaced silently, and
the frames carry the split's provenance like :func:`sbrlib.artifacts.load_split`'s.
:func:`evaluate_positions` counts only the last prediction of every session, which in a
leave-one-out frame is the held-out item.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Literal

import pandas as pd

from sbrlib import datasets, paths
from sbrlib.artifacts import FRAMES, read_manifest, save_split, split_fingerprint
from sbrlib.columns import ITEM, SESSION, USER
from sbrlib.errors import DataError
from sbrlib.evaluation import EvalConfig, EvalResult, evaluate
from sbrlib.preprocess import LOOConfig, Split, leave_one_out
from sbrlib.provenance import ProvenanceError, differences, fingerprint

log = logging.getLogger(__name__)


def loo_name(dataset: str) -> str:
    """Default split name of the leave-one-out protocol: ``<dataset>-loo``."""
    return f"{dataset}-loo"


def _mismatches(folder: Path, config: LOOConfig, source: dict) -> list[str] | None:
    """Differences between an existing split folder and the requested one (None: no split there)."""
    try:
        manifest = read_manifest(folder)
    except DataError:
        return None
    out = differences(manifest.get("config", {}), json.loads(json.dumps(config.to_dict())))
    if manifest.get("source", {}).get("sha256") != source.get("sha256"):
        out.append(f"source file: sha256 {str(manifest.get('source', {}).get('sha256'))[:12]}... -> "
                   f"{str(source.get('sha256'))[:12]}... ({source.get('path')})")
    return out


def prepare_loo(dataset: str, config: LOOConfig = LOOConfig(), name: str | None = None,
                data_dir: str | Path | None = None, force: bool = False) -> tuple[Split, Path]:
    """Load ``dataset``, apply :func:`~sbrlib.preprocess.leave_one_out` and save it.

    ``name`` defaults to ``<dataset>-loo`` for the default parameters and
    ``<dataset>-loo-<fingerprint of the parameters>`` otherwise. An existing split made with the
    same parameters from the same source file is reused; one made differently is replaced only with
    ``force=True``.

    Returns:
        ``(split, folder)``; the frames carry the split's provenance in ``attrs`` (as
        :func:`sbrlib.artifacts.load_split`).

    Raises:
        ProvenanceError: the folder holds a split made differently and ``force`` is False.
    """
    if name is None:
        name = loo_name(dataset) if config == LOOConfig() else f"{loo_name(dataset)}-{fingerprint(config.to_dict())}"
    folder = paths.processed_dir(name)
    source = datasets.describe_source(dataset, data_dir)
    diffs = _mismatches(folder, config, source)
    if diffs and not force:
        raise ProvenanceError(f"split {name} ({folder}) exists and was made differently:\n  " + "\n  ".join(diffs)
                              + f"\nRemove {folder} to rebuild it (notebook 07 then makes it again), or from Python "
                                "pass another name= or force=True to prepare_loo")
    if diffs is None or diffs or force or not all((folder / f"{k}.parquet").is_file() for k in FRAMES):
        split = leave_one_out(datasets.load_ratings(dataset, data_dir), config)
        save_split(split, folder, source)
    else:
        log.info("reusing %s", folder)
    return load_loo(folder), folder


def load_loo(name_or_folder: str | Path, frames: tuple[str, ...] = FRAMES) -> Split:
    """Load a leave-one-out split by name (``data/processed/<name>``) or folder; the frames carry
    ``attrs["split"]``, ``attrs["split_fingerprint"]`` and ``attrs["frame"]``."""
    folder = Path(name_or_folder)
    if not folder.is_dir():
        folder = paths.processed_dir(str(name_or_folder))
    manifest = read_manifest(folder)
    if manifest.get("config", {}).get("protocol") != "leave-one-out":
        raise DataError(f"{folder} is not a leave-one-out split (manifest config has no protocol "
                        "'leave-one-out'); make it with sbrlib.loo.prepare_loo")
    config = LOOConfig.from_dict(manifest["config"])
    fp = manifest.get("fingerprint") or split_fingerprint(config, manifest.get("source", {}))
    loaded = {}
    for key in frames:
        path = folder / f"{key}.parquet"
        if not path.is_file():
            raise DataError(f"{path} missing: the split is incomplete; run sbrlib.loo.prepare_loo(..., force=True)")
        frame = pd.read_parquet(path)
        frame.attrs.update(split=folder.name, split_fingerprint=fp, frame=key)
        loaded[key] = frame
    split = Split(loaded, {}, config)
    split.name, split.fingerprint = folder.name, fp
    return split


def dropped_targets(split: Split) -> dict[str, int]:
    """Users of the training frame without a held-out prediction because their held-out item never
    occurs in the frame the model is fit on (``valid``: ``train_tr``; ``test``: ``train``)."""
    users = split["train"]["UserId"].nunique()
    return {"valid": users - split["valid"]["UserId"].nunique(), "test": users - split["test"]["UserId"].nunique()}


def last_events(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """The last ``n`` events of every session (order kept; ``attrs`` kept)."""
    out = frame[_from_end(frame) < n]
    out.attrs.update(frame.attrs)
    return out


def _from_end(frame: pd.DataFrame):
    return frame.groupby(SESSION, sort=False).cumcount(ascending=False).to_numpy()


def evaluate_positions(model, test: pd.DataFrame, config: EvalConfig = EvalConfig(),
                       positions: Literal["all", "last"] = "all", progress: bool = True,
                       history: pd.DataFrame | None = None) -> EvalResult:
    """:func:`sbrlib.evaluation.evaluate` with ``config.positions`` set to ``positions``: every
    prediction, or only each session's last (in a leave-one-out frame: the held-out item).
    ``history`` is passed on for ``exclude_seen="user"``.

    With ``positions="last"``, a model whose scores depend only on its last ``context_length``
    items (SASRec) is fed only the last ``context_length + 1`` events of each session: the counted
    prediction's scores are the same and the evaluator skips steps whose scores are not counted.
    This is done only where the exclusion of seen items cannot change: ``exclude_seen="none"``, or
    ``"user"`` when ``history`` holds every cut event's (user, item) (as ``train`` does for a
    leave-one-out ``test`` frame and ``train_tr`` for ``valid``; checked); never with ``"session"``.
    """
    config = dataclasses.replace(config, positions=positions)
    context = getattr(model, "context_length", None)
    if positions == "last" and context and config.exclude_seen in ("none", "user"):
        short = last_events(test, int(context) + 1)
        if len(short) < len(test) and (config.exclude_seen == "none" or
                                       _in_history(test[_from_end(test) > context], history)):
            test = short
    return evaluate(model, test, config, progress=progress, history=history)


def _in_history(cut: pd.DataFrame, history: pd.DataFrame | None) -> bool:
    """True when every (user, item) of the ``cut`` events is in ``history`` (then
    ``exclude_seen="user"`` excludes the same items from the shortened sessions)."""
    if history is None or USER not in cut or USER not in history:
        return False
    cut = cut[[USER, ITEM]].drop_duplicates()
    known = cut.merge(history[[USER, ITEM]].drop_duplicates(), how="left", indicator=True)
    return bool((known["_merge"] == "both").all())
