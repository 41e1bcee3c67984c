"""Provenance: split names and fingerprints, refusals to replace or mix artifacts, recorded results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sbrlib.core import checks, paths, provenance
from sbrlib.core.fileio import write_json
from sbrlib.core.provenance import ProvenanceError
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.pipeline import records as reporting

SMALL = dict(min_item_support=2, test=preprocess.SplitConfig(fraction=0.2), valid=preprocess.SplitConfig(fraction=0.2))


def test_split_name_readable_for_defaults_and_fingerprinted_otherwise():
    assert artifacts.split_name("ml-1m", preprocess.PreprocessConfig()) == "ml-1m-gap"
    assert artifacts.split_name("ml-1m", preprocess.PreprocessConfig(session_mode="user")) == "ml-1m-user"
    other = artifacts.split_name("ml-1m", preprocess.PreprocessConfig(session_gap=600))
    assert other.startswith("ml-1m-gap-") and other != "ml-1m-gap"
    again = artifacts.split_name("ml-1m", preprocess.PreprocessConfig(session_gap=600))
    assert other == again  # deterministic
    assert artifacts.split_name("ml-1m", preprocess.PreprocessConfig(session_gap=1800)) != other


def test_changed_parameters_make_a_new_split_and_a_forced_name_is_refused(tiny_dir):
    base = preprocess.PreprocessConfig(**SMALL)
    split, folder = artifacts.prepare("synthetic-tiny", base, data_dir=tiny_dir)
    assert split["train"].attrs["split"] == folder.name == split.name
    assert split["test"].attrs["split_fingerprint"] == split.fingerprint
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    changed = preprocess.PreprocessConfig(**SMALL, session_gap=600)
    other, other_folder = artifacts.prepare("synthetic-tiny", changed, data_dir=tiny_dir)
    assert other_folder != folder and other.fingerprint != split.fingerprint

    with pytest.raises(ProvenanceError, match=r"session_gap: 3600 -> 600") as err:
        artifacts.prepare("synthetic-tiny", changed, name=folder.name, data_dir=tiny_dir)
    assert "FORCE=True" in str(err.value) and "SPLIT_NAME" in str(err.value)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # nothing replaced

    forced, _ = artifacts.prepare("synthetic-tiny", changed, name=folder.name, data_dir=tiny_dir, force=True)
    assert forced.fingerprint == other.fingerprint


def test_model_target_refuses_a_model_made_differently(tmp_path):
    folder = tmp_path / "m"
    split = {"split": "s", "split_fingerprint": "aaaa"}
    artifacts.check_model_target(folder, {"loss": "cross-entropy"}, split)  # nothing there yet
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"name": "GRU4Rec", "loss": "cross-entropy", "layers": [100]}))
    write_json(folder / "provenance.json", split)
    artifacts.check_model_target(folder, {"loss": "cross-entropy", "layers": (100,)}, split)  # same: a re-run
    with pytest.raises(ProvenanceError, match=r"loss: 'cross-entropy' -> 'bpr-max'.*\n.*MODEL_NAME"):
        artifacts.check_model_target(folder, {"loss": "bpr-max", "layers": [100]}, split)
    with pytest.raises(ProvenanceError, match=r"split: s \(aaaa\) -> t \(bbbb\)"):
        artifacts.check_model_target(folder, {"loss": "cross-entropy", "layers": [100]},
                                     {"split": "t", "split_fingerprint": "bbbb"})
    artifacts.check_model_target(folder, {"loss": "bpr-max"}, split, overwrite=True)


def test_evaluation_refuses_a_model_from_another_split():
    prov = {"split": "ml-100k-gap", "split_fingerprint": "1111"}
    provenance.check_same_split(prov, "ml-100k-gap", "1111")
    provenance.check_same_split({}, "ml-100k-gap", "1111")  # unknown: nothing to compare
    with pytest.raises(ProvenanceError, match=r"trained on split ml-100k-gap \(fingerprint 1111\).*ml-100k-gap-abcd"):
        provenance.check_same_split(prov, "ml-100k-gap-abcd", "2222", "model m")


def test_record_writes_provenance_and_the_csv_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("SBR_RUN_DIR", str(tmp_path / "runs" / "r1"))
    folder = paths.results_dir("s")
    assert folder == (tmp_path / "runs" / "r1" / "results" / "s").resolve()
    table = pd.DataFrame({"recall@20": [0.5]}, index=pd.Index(["Pop"], name="model"))
    path = reporting.record(folder, "metrics", {"x": 1}, table, provenance={"split": "s", "split_fingerprint": "ff"})
    data = json.loads(path.read_text())
    assert data["provenance"]["run"] == "r1" and data["provenance"]["split_fingerprint"] == "ff"
    from sbrlib.core.fileio import sha256_file

    assert data["provenance"]["csv_sha256"] == sha256_file(folder / "metrics.csv")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_checks_name_the_parameter_value_and_allowed_values():
    spec = {"EPOCHS": checks.integer(min=1), "LAYERS": checks.int_list(min=1), "LOSS": checks.one_of("a", "b"),
            "P": checks.optional(checks.integer(min=1)), "FLAG": checks.boolean()}
    with pytest.raises(checks.ParameterError) as err:
        checks.validate({"EPOCHS": 0, "LAYERS": 100, "LOSS": "c", "P": None, "FLAG": 1}, spec, "nb")
    lines = str(err.value).splitlines()
    assert lines == ["nb: EPOCHS = 0: must be an integer >= 1",
                     "nb: LAYERS = 100: must be a list of integers >= 1 with at least 1 element(s), e.g. [100]",
                     "nb: LOSS = 'c': must be one of 'a', 'b'",
                     "nb: FLAG = 1: must be True or False"]
    checks.validate({"EPOCHS": 3, "LAYERS": [100], "LOSS": "a", "P": 2, "FLAG": True}, spec)


def test_evaluate_refuses_a_model_trained_on_another_split(tiny_dir):
    from sbrlib.evaluation.evaluator import evaluate
    from sbrlib.models import Pop

    base = preprocess.PreprocessConfig(**SMALL)
    split, _ = artifacts.prepare("synthetic-tiny", base, data_dir=tiny_dir)
    other, _ = artifacts.prepare("synthetic-tiny", preprocess.PreprocessConfig(**SMALL, session_gap=600),
                                 data_dir=tiny_dir)
    model = Pop().fit(split["train"])
    model.provenance = provenance.training_provenance(split["train"], {})
    assert model.provenance["trained_on"] == "train" and model.provenance["split"] == split.name
    assert evaluate(model, split["test"], progress=False).metrics["predictions"] > 0
    with pytest.raises(ProvenanceError, match=f"trained on split {split.name} .* split {other.name}"):
        evaluate(model, other["test"], progress=False)
