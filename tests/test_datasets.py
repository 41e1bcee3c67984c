"""Loaders, download and verification on small files in the real formats, good and bad."""

from __future__ import annotations

import io
import urllib.error
import warnings
import zipfile

import pandas as pd
import pytest

from sbrlib import datasets
from sbrlib.columns import ITEM, RATING, TIME, USER
from sbrlib.errors import DataError, DataWarning
from sbrlib.fileio import git_blob_id


def test_load_ml1m_ratings_typed_and_in_file_order(ml1m_dir):
    df = datasets.load_ratings("ml-1m", ml1m_dir)
    assert list(df.columns) == [USER, ITEM, RATING, TIME]
    assert df.dtypes.tolist() == ["int32", "int32", "int8", "int64"]
    assert df.iloc[0].tolist() == [1, 1193, 5, 978300760]
    assert len(df) == 5


def test_load_ml1m_movies_title_year_genres(ml1m_dir):
    movies = datasets.load_movies("ml-1m", ml1m_dir)
    row = movies.set_index(ITEM).loc[661]
    assert row["Title"] == "James and the Giant Peach (1996)"
    assert row["Year"] == 1996
    assert row["Genres"] == ["Animation", "Children's", "Musical"]


def test_load_ml1m_users(ml1m_dir):
    users = datasets.load_users("ml-1m", ml1m_dir)
    assert users.iloc[1].tolist() == [2, "M", 56, "16", "70072"]


def test_load_ml100k(ml100k_dir):
    ratings = datasets.load_ratings("ml-100k", ml100k_dir)
    assert ratings.iloc[2].tolist() == [22, 377, 1, 878887116]
    movies = datasets.load_movies("ml-100k", ml100k_dir).set_index(ITEM)
    assert movies.loc[302, "Genres"] == ["Crime", "Mystery", "Thriller"]
    assert movies.loc[242, "Year"] == 1996
    users = datasets.load_users("ml-100k", ml100k_dir)
    assert users.iloc[0].tolist() == [196, "M", 49, "writer", "55105"]


def test_counts_differing_from_release_warn(ml1m_dir):
    with pytest.warns(DataWarning, match="expected 1,000,209, found 5"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_missing_folder_names_where_and_how(tmp_path):
    with pytest.raises(DataError, match="does not exist.*SBR_DATA_DIR"):
        datasets.load_ratings("ml-1m", tmp_path / "nowhere")


def test_missing_file_names_file(tmp_path):
    with pytest.raises(DataError, match="ratings.dat not found in"):
        datasets.load_ratings("ml-1m", tmp_path)


def test_sbr_data_dir_is_used_as_is(ml1m_dir, monkeypatch):
    monkeypatch.setenv("SBR_DATA_DIR", str(ml1m_dir))
    monkeypatch.setattr(datasets.urllib.request, "urlopen", _no_network)
    assert datasets.locate("ml-1m") == ml1m_dir.resolve()


def test_malformed_line_reports_file_and_line(ml1m_dir):
    path = ml1m_dir / "ratings.dat"
    path.write_text(datasets_lines(3) + "2::661::2::97829x000\n")
    with pytest.raises(DataError, match=r"ratings.dat, line 4: '97829x000' is not an integer"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_extra_field_reports_line(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(2) + "2::661::2::1::9\n")
    with pytest.raises(DataError, match=r"line 3: expected 4 fields"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_truncated_file_reports_last_line(ml1m_dir):
    text = datasets_lines(4)
    (ml1m_dir / "ratings.dat").write_text(text[: len(text) - 12])  # cut inside the last line
    with pytest.raises(DataError, match=r"line 4: expected 4 fields.*truncated"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_utf16_file_is_rejected_clearly(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_bytes(datasets_lines(3).encode("utf-16"))
    with pytest.raises(DataError, match="NUL bytes.*UTF-16"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_utf8_movies_detected_and_decoded(ml1m_dir):
    (ml1m_dir / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode())
    with pytest.warns(DataWarning, match="UTF-8 encoded"):
        movies = datasets.load_movies("ml-1m", ml1m_dir)
    assert movies["Title"].iloc[0] == "Amélie (2001)"


def test_latin1_movies_decoded(ml1m_dir):
    (ml1m_dir / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode("latin-1"))
    assert datasets.load_movies("ml-1m", ml1m_dir)["Title"].iloc[0] == "Amélie (2001)"


def test_empty_file(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text("")
    with pytest.raises(DataError, match="is empty"):
        datasets.load_ratings("ml-1m", ml1m_dir)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'ml-20m'.*DATASET"):
        datasets.load_ratings("ml-20m")


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("no network")


def test_download_offline_suggests_alternatives(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.urllib.request, "urlopen", _no_network)
    with pytest.raises(DataError, match="SBR_DATA_DIR.*DATASET=synthetic"):
        datasets.load_ratings("ml-100k")
    assert not any((tmp_path / "project" / "data" / "raw").glob("*")), "nothing left behind"


class _FakeResponse(io.BytesIO):
    headers = {}


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"ml-100k/{name}", data)
    return buf.getvalue()


def test_download_verifies_content_and_leaves_nothing_on_failure(monkeypatch, tmp_path):
    payload = _zip_bytes({"u.data": b"1\t2\t3\t4\n", "u.item": b"", "u.user": b""})
    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(payload))
    with pytest.raises(DataError, match="sha256.*not the genuine ml-100k"):
        datasets.load_ratings("ml-100k")
    raw = tmp_path / "project" / "data" / "raw"
    assert not (raw / "ml-100k").exists()
    assert not list(raw.glob("*.zip")) and not list(raw.glob(".*part"))


def test_download_success_path(monkeypatch, tmp_path, ml100k_dir):
    files = {f: (ml100k_dir / f).read_bytes() for f in ("u.data", "u.item", "u.user")}
    payload = _zip_bytes(files)
    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(payload))
    spec = datasets.SPECS["ml-100k"]
    monkeypatch.setitem(datasets.SPECS, "ml-100k", datasets.DatasetSpec(
        name="ml-100k", fmt="ml-100k", files=spec.files, url=spec.url,
        ratings_sha256=__import__("hashlib").sha256(files["u.data"]).hexdigest()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ratings = datasets.load_ratings("ml-100k")
    assert len(ratings) == 3
    assert (tmp_path / "project" / "data" / "raw" / "ml-100k" / "u.item").is_file()


def test_git_blob_id_matches_git(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello\n")
    assert git_blob_id(path) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_verify_warns_on_wrong_blob(ml1m_dir):
    with pytest.warns(DataWarning, match="git blob id"):
        problems = datasets.verify(ml1m_dir, "ml-1m")
    assert problems


def test_loading_does_not_need_pandas_python_engine(ml1m_dir, monkeypatch):
    real = pd.read_csv

    def guarded(*args, **kwargs):
        assert kwargs.get("engine") != "python"
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets.pd, "read_csv", guarded)
    assert len(datasets.load_ratings("ml-1m", ml1m_dir)) == 5


def datasets_lines(n: int) -> str:
    return "".join(f"1::{i}::3::97830{i:04d}\n" for i in range(1, n + 1))
