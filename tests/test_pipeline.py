"""End to end through the library (no notebooks): both session modes, split artifacts reused."""

from __future__ import annotations

import json

import pytest

from sbrlib.core.columns import ITEM, TIME
from sbrlib.core.errors import DataError
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models import Pop, SequentialRules


@pytest.mark.parametrize("mode", ["gap", "user"])
def test_split_then_models(tiny_dir, mode):
    cfg = preprocess.PreprocessConfig(session_mode=mode, min_item_support=2,
                                      test=preprocess.SplitConfig(fraction=0.2),
                                      valid=preprocess.SplitConfig(fraction=0.2))
    split, folder = artifacts.prepare("synthetic-tiny", cfg, name=f"tiny-{mode}", data_dir=tiny_dir)
    if mode == "user":  # 'end' rule: no training event after the cutoff
        assert (split["train"][TIME] <= split.cutoffs["test"]).all()
    else:  # 'start' rule: no test event before the cutoff
        assert (split["test"][TIME] > split.cutoffs["test"]).all()
    assert split["test"][ITEM].isin(split["train"][ITEM]).all()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["session_mode"] == mode and manifest["source"]["synthetic"] is True
    sr = evaluate(SequentialRules().fit(split["train"]), split["test"], EvalConfig(), progress=False)
    pop = evaluate(Pop().fit(split["train"]), split["test"], EvalConfig(), progress=False)
    assert sr.metrics["predictions"] == pop.metrics["predictions"] > 0
    # reused when nothing changed: the parquet files are not rewritten
    before = (folder / "train.parquet").stat().st_mtime_ns
    artifacts.prepare("synthetic-tiny", cfg, name=f"tiny-{mode}", data_dir=tiny_dir)
    assert (folder / "train.parquet").stat().st_mtime_ns == before


def test_load_split_missing_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="02_preprocessing"):
        artifacts.load_split(tmp_path / "nothing-here")
