"""The one saved-model format of the neural models: round trips (same scores, same provenance)
for GRU4Rec and SASRec, and every way a saved folder can be broken failing with one clear
ModelFileError that names the file and what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sbrlib import recommend as R
from sbrlib.core.columns import ITEM
from sbrlib.core.errors import ModelFileError, UserFacingError
from sbrlib.core.fileio import sha256_file
from sbrlib.data.item_index import ItemIndex
from sbrlib.models import neural

tf = pytest.importorskip("tensorflow")

N_ITEMS = 12
FACTS = {"split": "s", "split_fingerprint": "abcd",
         "training": {"stopped_by": "patience", "best_epoch": 3, "epochs_run": 5, "still_improving": False,
                      "best_score": 0.25, "metric": "mrr@20", "seconds": 12.5, "budget_seconds": None,
                      "max_epochs": 10, "patience": 2, "restored_best": True,
                      "history": [{"epoch": 1, "loss": 2.5, "mrr@20": 0.2}]}}


def _index(n: int = N_ITEMS) -> ItemIndex:
    return ItemIndex(np.arange(10, 10 + n), np.arange(1, n + 1))


def _gru():
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    model = GRU4Rec(GRU4RecConfig(layers=(6,), embedding_dim=4, batch_size=4, n_sample=2, seed=3), name="my GRU")
    model.build(_index())
    model.provenance = dict(FACTS)
    model.history = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.4]})
    return model


def _sasrec():
    from sbrlib.models.sasrec import SASRec, SASRecConfig

    model = SASRec(SASRecConfig(max_len=5, blocks=1, heads=1, dim=8, jit_compile=False, seed=3))
    model.build(_index())
    model.provenance = dict(FACTS)
    return model


@pytest.fixture(scope="module")
def gru_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "gru"
    movies = pd.DataFrame({ITEM: np.arange(10, 10 + N_ITEMS), "Title": [f"Film {i}" for i in range(N_ITEMS)]})
    _gru().save(folder, movies=movies)
    return folder


@pytest.fixture
def broken(gru_folder, tmp_path) -> Path:
    """A fresh copy of the saved GRU4Rec to damage."""
    return Path(shutil.copytree(gru_folder, tmp_path / "model"))


def _rehash(folder: Path) -> None:
    """Make the manifest agree with the files again (an edit the hashes cannot catch)."""
    manifest = json.loads((folder / neural.MANIFEST).read_text())
    manifest["files"] = {name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
                         for name in manifest["files"]}
    (folder / neural.MANIFEST).write_text(json.dumps(manifest))


def _load_error(folder: Path, loader=None) -> str:
    from sbrlib.models.gru4rec import GRU4Rec

    with pytest.raises(ModelFileError) as err:
        (loader or GRU4Rec.load)(folder)
    assert isinstance(err.value, UserFacingError) and err.value.__cause__ is None
    message = str(err.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("make", [_gru, _sasrec], ids=["GRU4Rec", "SASRec"])
def test_round_trip_gives_the_same_scores_config_and_provenance(make, tmp_path):
    model = make()
    folder = model.save(tmp_path / "m")
    loaded = neural.load_model(folder)  # the class comes from the manifest
    assert type(loaded) is type(model) and loaded.name == model.name and loaded.config == model.config
    assert loaded.provenance == FACTS  # the training facts survive
    assert loaded.training_facts is not None and loaded.training_facts.best_epoch == 3
    pd.testing.assert_frame_equal(loaded.history, model.history, check_dtype=False)
    np.testing.assert_array_equal(loaded.item_index.ids, model.item_index.ids)
    np.testing.assert_array_equal(loaded.item_index.support, model.item_index.support)
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(loaded.get_weights()[name], value)
    items, starts = np.array([0, 5, 11]), np.array([True, True, True])
    for m in (model, loaded):
        m.reset(3)
    np.testing.assert_array_equal(model.step(items, starts), loaded.step(items, starts))
    session = [10, 15, 13]
    pd.testing.assert_frame_equal(R.recommend(model, session, k=4), R.recommend(loaded, session, k=4))


def test_the_manifest_lists_every_file_with_size_and_hash(gru_folder):
    manifest = json.loads((gru_folder / neural.MANIFEST).read_text())
    assert manifest["format"] == neural.FORMAT and manifest["format_version"] == neural.FORMAT_VERSION
    assert manifest["family"] == "gru4rec" and manifest["class"] == "GRU4Rec" and manifest["name"] == "my GRU"
    on_disk = {p.name for p in gru_folder.iterdir()} - {neural.MANIFEST}
    assert set(manifest["files"]) == on_disk == {*neural.REQUIRED_FILES, "titles.parquet"}
    for name, entry in manifest["files"].items():
        assert entry == {"bytes": (gru_folder / name).stat().st_size, "sha256": sha256_file(gru_folder / name)}
    # config.json keeps its shape (name + config), which the pipeline's model checks read
    assert json.loads((gru_folder / "config.json").read_text())["name"] == "my GRU"


def test_titles_are_saved_and_loaded(gru_folder):
    saved = neural.read_saved(gru_folder, weights=False)
    assert saved.weights is None and saved.titles.loc[15] == "Film 5"
    from sbrlib.models.gru4rec import GRU4Rec

    assert GRU4Rec.load(gru_folder).titles.loc[15] == "Film 5"


def test_a_failed_save_leaves_the_previous_folder(gru_folder, tmp_path, monkeypatch):
    folder = Path(shutil.copytree(gru_folder, tmp_path / "m"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(neural.np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        _gru().save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left


def test_build_makes_an_untrained_model_without_private_attributes():
    model = _gru()
    assert model.n_items == N_ITEMS and set(model.get_weights())
    with pytest.raises(ValueError, match="missing"):
        model.set_weights({})
    weights = model.get_weights()
    name = next(iter(weights))
    with pytest.raises(ValueError, match=f"{name}.*shape"):
        model.set_weights({**weights, name: np.zeros((1, 1), np.float32)})
    from sbrlib.models.gru4rec import GRU4Rec

    with pytest.raises(RuntimeError, match="build"):
        GRU4Rec().save("never-written")


# ----------------------------------------------------------------------------- broken folders


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage, file, expected", [
    (_truncate, "weights.npz", "is truncated"),
    (_truncate, "config.json", "is truncated"),
    (lambda p: p.write_bytes(b""), "items.parquet", "is empty"),
    (lambda p: p.write_bytes(p.read_bytes() + b"x"), "history.csv", "longer than saved"),
    (lambda p: p.unlink(), "provenance.json", "is missing"),
    (lambda p: p.unlink(), "titles.parquet", "is missing"),
    (lambda p: p.write_bytes(bytes(255 - b for b in p.read_bytes())), "weights.npz", "changed since it was saved"),
], ids=["weights-truncated", "config-half", "items-empty", "history-grown", "provenance-missing", "titles-missing",
        "weights-altered"])
def test_damaged_files_are_named(broken, damage, file, expected):
    damage(broken / file)
    message = _load_error(broken)
    assert str(broken / file) in message and expected in message
    assert "retrain it with notebooks/04_train_gru4rec" in message and "restore" in message


@pytest.mark.parametrize("content, file, expected", [
    (b'{"name": "GRU4Rec", "layers": [6', "config.json", "JSONDecodeError"),
    (b"PK\x03\x04 not a zip", "weights.npz", "cannot be read"),
    (b"not parquet", "items.parquet", "cannot be read"),
    (b"[1, 2]", "provenance.json", "expected a JSON object"),
    (b'{"name": "GRU4Rec", "layers": [6], "hidden_size": 3}', "config.json", "does not know: hidden_size"),
    (b'{"name": "GRU4Rec", "layers": [0]}', "config.json", "not a valid GRU4RecConfig"),
], ids=["config-malformed", "weights-not-zip", "items-not-parquet", "provenance-list", "config-unknown-key",
        "config-invalid"])
def test_malformed_files_behind_a_consistent_manifest_are_named(broken, content, file, expected):
    (broken / file).write_bytes(content)
    _rehash(broken)  # the hashes agree: the parsers must still fail clearly
    message = _load_error(broken)
    assert str(broken / file) in message and expected in message and "retrain" in message


def test_weights_that_do_not_fit_the_network_are_named(broken):
    ItemIndex(np.arange(5), np.ones(5)).to_frame().to_parquet(broken / "items.parquet", index=False)
    _rehash(broken)
    message = _load_error(broken)
    assert str(broken / "weights.npz") in message and "does not fit" in message and "shape" in message


@pytest.mark.parametrize("content", [b"", b'{"format": "sbrlib-model", "format_ver'], ids=["empty", "half"])
def test_a_broken_manifest_is_named(broken, content):
    (broken / neural.MANIFEST).write_bytes(content)
    message = _load_error(broken)
    assert str(broken / neural.MANIFEST) in message and "cannot be read" in message and "retrain" in message


def test_the_unversioned_format_is_refused_with_the_advice_to_retrain(broken):
    (broken / neural.MANIFEST).unlink()  # what the code before format version 2 saved
    message = _load_error(broken)
    assert "older sbrlib" in message and "retrain" in message and str(broken) in message


@pytest.mark.parametrize("version, expected", [(99, "upgrade sbrlib"), (1, "retrain"), ("2", "retrain")])
def test_other_format_versions_are_refused(broken, version, expected):
    manifest = json.loads((broken / neural.MANIFEST).read_text())
    (broken / neural.MANIFEST).write_text(json.dumps({**manifest, "format_version": version}))
    message = _load_error(broken)
    assert f"format version {version!r}" in message and expected in message


def test_folders_that_are_not_models(tmp_path):
    assert "no such model folder" in _load_error(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert "is not a saved model" in _load_error(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    assert "is a file, not a saved-model folder" in _load_error(tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / neural.MANIFEST).write_text(json.dumps({"format": "something else"}))
    assert "not an sbrlib model manifest" in _load_error(tmp_path / "other")


def test_a_model_of_another_family_names_the_right_loader(gru_folder):
    from sbrlib.models.sasrec import SASRec

    message = _load_error(gru_folder, SASRec.load)
    assert "holds a gru4rec model, not sasrec" in message and "GRU4Rec.load" in message


def test_an_unknown_family_is_refused_by_load_model(broken):
    manifest = json.loads((broken / neural.MANIFEST).read_text())
    (broken / neural.MANIFEST).write_text(json.dumps({**manifest, "family": "transformer-xl"}))
    message = _load_error(broken, neural.load_model)
    assert "unknown model family 'transformer-xl'" in message and "gru4rec" in message


@pytest.mark.parametrize("file", ["config.json", "provenance.json"])
def test_the_pipelines_model_checks_name_a_damaged_file(broken, file):
    from sbrlib.data import store as artifacts

    _truncate(broken / file)
    with pytest.raises(ModelFileError, match=rf"{file} cannot be read \(JSONDecodeError.*retrain"):
        artifacts.check_model_target(broken, {"layers": [6]}, {"split": "s", "split_fingerprint": "abcd"})
    if file == "provenance.json":  # notebook 05 reads it before loading the model
        with pytest.raises(ModelFileError, match=rf"{file} cannot be read"):
            artifacts.model_provenance(broken)
    assert f"{file} is truncated" in _load_error(broken)
