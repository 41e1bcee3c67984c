"""Leave-one-out splits on disk and evaluation of the held-out position only.

:func:`prepare_loo` builds :func:`sbrlib.preprocess.leave_one_out` for a dataset and saves it
like the temporal splits (``data/processed/<dataset>-loo/{train,test,train_tr,valid,items}.parquet``
and ``manifest.json`` through :func:`sbrlib.artifacts.save_split`; the manifest's ``config`` holds
``protocol: "leave-one-out"``); identical re-runs reuse it. :func:`evaluate_positions` counts only
the last prediction of every session, which in a leave-one-out frame is the held-out item.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Literal

import pandas as pd

from sbrlib import datasets, paths
from sbrlib import metrics as M
from sbrlib.artifacts import FRAMES, read_manifest, save_split
from sbrlib.errors import DataError
from sbrlib.evaluation import EvalConfig, EvalResult, evaluate
from sbrlib.preprocess import LOOConfig, Split, leave_one_out

log = logging.getLogger(__name__)


def loo_name(dataset: str) -> str:
    """Default split name of the leave-one-out protocol: ``<dataset>-loo``."""
    return f"{dataset}-loo"


def _is_current(folder: Path, config: LOOConfig, source: dict) -> bool:
    try:
        manifest = read_manifest(folder)
    except DataError:
        return False
    same = manifest.get("config") == json.loads(json.dumps(config.to_dict())) and \
        manifest.get("source", {}).get("sha256") == source.get("sha256")
    return same and all((folder / f"{k}.parquet").is_file() for k in FRAMES)


def prepare_loo(dataset: str, config: LOOConfig = LOOConfig(), name: str | None = None,
                data_dir: str | Path | None = None, force: bool = False) -> tuple[Split, Path]:
    """Load ``dataset``, apply :func:`~sbrlib.preprocess.leave_one_out` and save it.

    An existing split made with the same parameters from the same source file is reused.

    Returns:
        ``(split, folder)``.
    """
    folder = paths.processed_dir(name or loo_name(dataset))
    source = datasets.describe_source(dataset, data_dir)
    if not force and _is_current(folder, config, source):
        log.info("reusing %s", folder)
        return load_loo(folder), folder
    split = leave_one_out(datasets.load_ratings(dataset, data_dir), config)
    save_split(split, folder, source)
    return split, folder


def load_loo(name_or_folder: str | Path, frames: tuple[str, ...] = FRAMES) -> Split:
    """Load a leave-one-out split by name (``data/processed/<name>``) or folder."""
    folder = Path(name_or_folder)
    if not folder.is_dir():
        folder = paths.processed_dir(str(name_or_folder))
    manifest = read_manifest(folder)
    if manifest.get("config", {}).get("protocol") != "leave-one-out":
        raise DataError(f"{folder} is not a leave-one-out split (manifest config has no protocol "
                        "'leave-one-out'); make it with sbrlib.loo.prepare_loo")
    loaded = {}
    for key in frames:
        path = folder / f"{key}.parquet"
        if not path.is_file():
            raise DataError(f"{path} missing: the split is incomplete; run sbrlib.loo.prepare_loo(..., force=True)")
        loaded[key] = pd.read_parquet(path)
    return Split(loaded, {}, LOOConfig.from_dict(manifest["config"]))


def dropped_targets(split: Split) -> dict[str, int]:
    """Users of the training frame without a held-out prediction because their held-out item never
    occurs in the frame the model is fit on (``valid``: ``train_tr``; ``test``: ``train``)."""
    users = split["train"]["UserId"].nunique()
    return {"valid": users - split["valid"]["UserId"].nunique(), "test": users - split["test"]["UserId"].nunique()}


def evaluate_positions(model, test: pd.DataFrame, config: EvalConfig = EvalConfig(),
                       positions: Literal["all", "last"] = "all", progress: bool = True) -> EvalResult:
    """:func:`sbrlib.evaluation.evaluate`, counting every prediction or only each session's last.

    Uses ``EvalConfig.positions`` when the evaluator has it; otherwise evaluates every position and
    keeps the predictions with ``position == session_length - 1`` (the prediction of the final
    item), recomputing the rank metrics from them (coverage/popularity are then omitted).
    """
    if positions not in ("all", "last"):
        raise ValueError(f"positions must be 'all' or 'last', got {positions!r}")
    if "positions" in {f.name for f in dataclasses.fields(config)}:
        return evaluate(model, test, dataclasses.replace(config, positions=positions), progress=progress)
    res = evaluate(model, test, config, progress=progress)
    if positions == "all":
        return res
    pred = res.predictions
    pred = pred[pred["position"] == pred["session_length"] - 1].reset_index(drop=True)
    metrics = {k: v for k, v in res.metrics.items() if not k.startswith(("recall@", "mrr@", "ndcg@", "coverage@",
                                                                           "popularity@"))}
    metrics.update(M.metric_table(pred["rank"].to_numpy(), config.ks))
    metrics.update(predictions=len(pred), sessions=int(pred["SessionId"].nunique()))
    return EvalResult(res.model, metrics, pred, config)
