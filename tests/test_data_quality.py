"""The data layer under bad input: duplicates policy, failed rebuilds, damaged files and folders.

Every bad file or folder is made in ``tmp_path``; the tiny synthetic preset stands in for MovieLens.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ML1M_MOVIES, ML1M_RATINGS, ML1M_USERS

from sbrlib.core import fileio
from sbrlib.core.columns import ITEM, RATING, TIME, USER
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.data import load_ratings, load_users
from sbrlib.data import preprocess as pp
from sbrlib.data import store as artifacts
from sbrlib.notebook import eda

SMALL = {"min_item_support": 1}


def _ml1m(folder, ratings=ML1M_RATINGS, users=ML1M_USERS):
    folder.mkdir()
    (folder / "ratings.dat").write_text(ratings)
    (folder / "movies.dat").write_text(ML1M_MOVIES)
    (folder / "users.dat").write_text(users)
    return folder


def _release_warnings_off():
    """The tiny ML-1M files differ from the release's hash and counts: those warnings are expected."""
    warnings.filterwarnings("ignore", message=".*(not the genuine|differs from the ml-1m release).*")


@pytest.fixture
def tiny_with_duplicates(tiny_dir, tmp_path):
    """The tiny preset with 3 exact duplicate lines appended (one with another rating value)."""
    folder = tmp_path / "dups"
    shutil.copytree(tiny_dir, folder)
    lines = (folder / "ratings.dat").read_text().splitlines(keepends=True)
    first = lines[0].split("::")
    changed = "::".join([first[0], first[1], "1" if first[2] != "1" else "2", first[3]])  # same user, item, time
    (folder / "ratings.dat").write_text("".join(lines + [lines[5], lines[7], changed]))
    return folder, len(lines), first


# --------------------------------------------------------------------------- duplicates policy


def test_loading_warns_about_exact_duplicates_with_file_count_and_lines(tmp_path):
    folder = _ml1m(tmp_path / "ml-1m", ML1M_RATINGS + "1::661::3::978302109\n")
    with warnings.catch_warnings():
        _release_warnings_off()
        with pytest.warns(DataWarning, match=r"ratings\.dat: 1 exact duplicate rating line.*line 6 repeats line 2"):
            ratings = load_ratings("ml-1m", folder)
    assert len(ratings) == 6  # loading keeps the file as it is; the preprocessing drops the copy


def test_split_drops_exact_duplicates_keeps_the_first_and_records_them(tiny_with_duplicates):
    folder, n_lines, first = tiny_with_duplicates
    with pytest.warns(DataWarning, match=r"dups/ratings\.dat: 3 exact duplicate rating\(s\).*first occurrence"):
        split, out = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), data_dir=folder)
    manifest = artifacts.read_manifest(out)
    assert manifest["duplicates_dropped"] == 3 and split.duplicates_dropped == 3
    events = pd.concat([split["train"], split["test"]])
    assert not events.duplicated([USER, ITEM, TIME]).any()
    row = events[(events[USER] == int(first[0])) & (events[ITEM] == int(first[1])) & (events[TIME] == int(first[3]))]
    assert row[RATING].tolist() in ([int(first[2])], [])  # the first occurrence's rating, never the later copy's
    # the same rows without the copies give the same split
    clean = load_ratings("synthetic-tiny", folder).iloc[:n_lines]
    direct = pp.preprocess(clean, pp.PreprocessConfig(**SMALL))
    pd.testing.assert_frame_equal(direct["train"], split["train"], check_dtype=False)
    # leave-one-out drops and records them the same way
    with pytest.warns(DataWarning, match="3 exact duplicate"):
        loo, loo_folder = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=folder)
    assert artifacts.read_manifest(loo_folder)["duplicates_dropped"] == 3 == loo.duplicates_dropped


def test_drop_duplicates_is_pure_and_silent_without_duplicates():
    df = pd.DataFrame({USER: [1, 1, 1, 2], ITEM: [5, 5, 5, 5], RATING: [3, 4, 2, 1], TIME: [10, 10, 11, 10]})
    original = df.copy()
    with pytest.warns(DataWarning, match="the ratings frame: 1 exact duplicate"):
        out, n = pp.drop_duplicates(df)
    assert n == 1 and out[RATING].tolist() == [3, 2, 1]  # first kept; the re-rating at time 11 kept
    pd.testing.assert_frame_equal(df, original)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same, n = pp.drop_duplicates(out)
    assert n == 0 and same is out


def test_repeated_ratings_counts_duplicates_and_re_ratings():
    df = pd.DataFrame({USER: [1, 1, 1, 1, 2, 2, 3], ITEM: [5, 5, 5, 6, 5, 5, 7],
                       TIME: [10, 10, 20, 30, 10, 99, 1]})
    assert eda.repeated_ratings(df) == {"exact_duplicates": 1, "re_rated_pairs": 2, "re_rating_events": 2,
                                        "users_re_rating": 2}
    assert eda.repeated_ratings(df.iloc[[3, 6]]) == {"exact_duplicates": 0, "re_rated_pairs": 0,
                                                     "re_rating_events": 0, "users_re_rating": 0}


# --------------------------------------------------------------------------- SBR_DATA_DIR


def test_sbr_data_dir_pointing_at_a_file_says_so(tmp_path, monkeypatch):
    target = tmp_path / "ratings.dat"
    target.write_text(ML1M_RATINGS)
    monkeypatch.setenv("SBR_DATA_DIR", str(target))
    with pytest.raises(DataError, match=r"ratings\.dat is a file, not a folder\. SBR_DATA_DIR"):
        load_ratings("ml-1m")


# --------------------------------------------------------------------------- failed rebuilds


def _processed(tmp_path):
    return tmp_path / "project" / "data" / "processed"


def _assert_old_split_intact(folder, manifest_before):
    assert json.loads((folder / "manifest.json").read_text()) == manifest_before
    artifacts.load_split(folder)  # complete and readable
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(".")) == []  # no hidden folders


def test_failed_swap_of_a_forced_rebuild_restores_the_previous_split(tiny_dir, tmp_path, monkeypatch):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    before = artifacts.read_manifest(folder)
    real = os.replace

    def failing(src, dst):
        if str(src).endswith(".part") and os.fspath(dst) == os.fspath(folder):
            raise OSError("simulated failure while installing the new split")
        return real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", failing)
    with pytest.raises(OSError, match="simulated"):
        artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(min_item_support=2), name="s", data_dir=tiny_dir,
                          force=True)
    monkeypatch.setattr(fileio.os, "replace", real)
    _assert_old_split_intact(folder, before)


def test_exception_while_writing_a_forced_rebuild_keeps_the_previous_split(tiny_dir, tmp_path, monkeypatch):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    before = artifacts.read_manifest(folder)
    real, calls = pd.DataFrame.to_parquet, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C after the first file
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
    with pytest.raises(KeyboardInterrupt):
        artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(min_item_support=2), name="s", data_dir=tiny_dir,
                          force=True)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    _assert_old_split_intact(folder, before)


def test_read_only_split_is_refused_before_anything_changes(tiny_dir, tmp_path, monkeypatch):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    before = artifacts.read_manifest(folder)
    real = os.access
    # as root a chmod would not stop the removal, so the read-only folder is simulated
    monkeypatch.setattr(fileio.os, "access", lambda p, mode: False if os.fspath(p) == os.fspath(folder) else real(p, mode))
    with pytest.raises(DataError, match=r"cannot replace .*/s: .* is read-only.*nothing was changed.*chmod -R u\+w"):
        artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(min_item_support=2), name="s", data_dir=tiny_dir,
                          force=True)
    _assert_old_split_intact(folder, before)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can remove entries of read-only folders")
def test_read_only_split_for_real(tiny_dir, tmp_path):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    before = artifacts.read_manifest(folder)
    folder.chmod(0o555)
    try:
        with pytest.raises(DataError, match="read-only"):
            artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(min_item_support=2), name="s",
                              data_dir=tiny_dir, force=True)
    finally:
        folder.chmod(0o755)
    _assert_old_split_intact(folder, before)


# --------------------------------------------------------------------------- more bad input


def test_tab_separated_file_under_a_double_colon_release_is_refused(tmp_path):
    folder = _ml1m(tmp_path / "ml-1m", ML1M_RATINGS.replace("::", "\t"))
    with pytest.raises(DataError, match=r"ratings\.dat, line 1: expected 4 fields separated by '::', found 1"):
        load_ratings("ml-1m", folder)


def test_users_file_with_a_bad_age_names_the_line(tmp_path):
    folder = _ml1m(tmp_path / "ml-1m", users="1::F::1::10::48067\n2::M::old::16::70072\n")
    with pytest.raises(DataError, match=r"users\.dat, line 2: age 'old' is not an integer"):
        load_users("ml-1m", folder)


def test_missing_times_in_a_hand_made_frame_are_named():
    df = pd.DataFrame({USER: [1, 1, 2], ITEM: [1, 2, 1], TIME: [1.0, np.nan, 3.0]})
    with pytest.raises(DataError, match=r"Time has 1 missing value\(s\), first in row 1"):
        pp.preprocess(df)
    with pytest.raises(DataError, match="Time has 1 missing"):
        pp.leave_one_out(df)


def test_prepare_refuses_a_config_of_another_type(tiny_dir):
    with pytest.raises(TypeError, match="PreprocessConfig or a LOOConfig, got dict"):
        artifacts.prepare("synthetic-tiny", {"session_gap": 600}, data_dir=tiny_dir)


@pytest.mark.parametrize("damage", ["truncated", "empty", "not a dict"])
def test_damaged_manifest_is_named_with_the_fix(tiny_dir, damage):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    path = folder / "manifest.json"
    path.write_text({"truncated": path.read_text()[:40], "empty": "", "not a dict": "[1, 2]"}[damage])
    with pytest.raises(DataError, match=r"manifest\.json .*rebuild"):
        artifacts.load_split(folder)
    with pytest.raises(DataError, match=r"manifest\.json"):  # prepare stops on it too (instead of replacing it)
        artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir, force=True)
    artifacts.load_split(folder)  # the advice works


def test_damaged_parquet_is_named_with_the_fix(tiny_dir):
    _, folder = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(**SMALL), name="s", data_dir=tiny_dir)
    path = folder / "train.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train\.parquet cannot be read .*damaged; rebuild it"):
        artifacts.load_split(folder)
