"""Loaders, download and verification on small files in the real formats, good and bad."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.error
import warnings
import zipfile

import pytest

from sbrlib import data
from sbrlib.core.columns import ITEM, RATING, TIME, USER
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.core.fileio import git_blob_id
from sbrlib.data import store as artifacts


def test_load_ml1m_ratings_typed_and_in_file_order(ml1m_dir):
    df = data.load_ratings("ml-1m", ml1m_dir)
    assert list(df.columns) == [USER, ITEM, RATING, TIME]
    assert df.dtypes.tolist() == ["int32", "int32", "int8", "int64"]
    assert df.iloc[0].tolist() == [1, 1193, 5, 978300760]
    assert len(df) == 5


def test_load_ml1m_movies_title_year_genres(ml1m_dir):
    movies = data.load_movies("ml-1m", ml1m_dir)
    row = movies.set_index(ITEM).loc[661]
    assert row["Title"] == "James and the Giant Peach (1996)"
    assert row["Year"] == 1996
    assert row["Genres"] == ["Animation", "Children's", "Musical"]


def test_load_ml1m_users(ml1m_dir):
    users = data.load_users("ml-1m", ml1m_dir)
    assert users.iloc[1].tolist() == [2, "M", 56, "16", "70072"]


def test_load_ml100k(ml100k_dir):
    ratings = data.load_ratings("ml-100k", ml100k_dir)
    assert ratings.iloc[2].tolist() == [22, 377, 1, 878887116]
    movies = data.load_movies("ml-100k", ml100k_dir).set_index(ITEM)
    assert movies.loc[302, "Genres"] == ["Crime", "Mystery", "Thriller"]
    assert movies.loc[242, "Year"] == 1996
    users = data.load_users("ml-100k", ml100k_dir)
    assert users.iloc[0].tolist() == [196, "M", 49, "writer", "55105"]


def test_counts_differing_from_release_warn(ml1m_dir):
    with pytest.warns(DataWarning, match="expected 1,000,209, found 5"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_missing_folder_names_where_and_how(tmp_path):
    with pytest.raises(DataError, match="does not exist.*SBR_DATA_DIR"):
        data.load_ratings("ml-1m", tmp_path / "nowhere")


def test_missing_file_names_file(tmp_path):
    with pytest.raises(DataError, match="ratings.dat not found in"):
        data.load_ratings("ml-1m", tmp_path)


def test_sbr_data_dir_is_used_as_is(ml1m_dir, monkeypatch):
    monkeypatch.setenv("SBR_DATA_DIR", str(ml1m_dir))
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen", _no_network)
    assert data.locate("ml-1m") == ml1m_dir.resolve()


def test_malformed_line_reports_file_and_line(ml1m_dir):
    path = ml1m_dir / "ratings.dat"
    path.write_text(datasets_lines(3) + "2::661::2::97829x000\n")
    with pytest.raises(DataError, match=r"ratings.dat, line 4: '97829x000' is not an integer"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_extra_field_reports_line(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(2) + "2::661::2::1::9\n")
    with pytest.raises(DataError, match=r"line 3: expected 4 fields"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_truncated_file_reports_last_line(ml1m_dir):
    text = datasets_lines(4)
    (ml1m_dir / "ratings.dat").write_text(text[: len(text) - 12])  # cut inside the last line
    with pytest.raises(DataError, match=r"line 4: the last line has no line end \('1::4::3'\).*cut short"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_file_cut_inside_last_timestamp_is_refused(ml1m_dir, tmp_path):
    """The dangerous cut: the last line still parses (time 97830 = 1970), so the missing line end decides."""
    text = datasets_lines(4)
    (ml1m_dir / "ratings.dat").write_text(text[: len(text) - 5])  # '1::4::3::97830'
    with pytest.raises(DataError, match=r"ratings.dat, line 4: the last line has no line end.*re-download"):
        data.load_ratings("ml-1m", ml1m_dir)
    with pytest.raises(DataError, match="line 4"):
        artifacts.prepare("ml-1m", data_dir=ml1m_dir)
    assert not (tmp_path / "project" / "data" / "processed").exists(), "no split written"


def test_complete_last_line_without_newline_is_refused_too(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(3).rstrip("\n"))
    with pytest.raises(DataError, match="line 3: the last line has no line end"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_crlf_line_ends_accepted(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_bytes(datasets_lines(3).replace("\n", "\r\n").encode())
    assert data.load_ratings("ml-1m", ml1m_dir)[TIME].tolist() == [978300001, 978300002, 978300003]


def test_half_star_in_whole_star_release(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(2) + "1::9::3.5::978300009\n")
    with pytest.raises(DataError, match=r"line 3: '3.5' is not an integer"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_rating_off_scale(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(2) + "1::9::7::978300009\n")
    with pytest.raises(DataError, match=r"line 3: rating 7 is not on the ml-1m scale"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_implausible_timestamp_warns_with_line(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text(datasets_lines(2) + "1::9::3::97830\n")
    with pytest.warns(DataWarning, match=r"line 3: timestamp 97830 \(1970-01-02.*outside 1995"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_utf16_file_is_rejected_clearly(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_bytes(datasets_lines(3).encode("utf-16"))
    with pytest.raises(DataError, match="NUL bytes.*UTF-16"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_utf8_movies_detected_and_decoded(ml1m_dir):
    (ml1m_dir / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode())
    with pytest.warns(DataWarning, match="UTF-8 encoded"):
        movies = data.load_movies("ml-1m", ml1m_dir)
    assert movies["Title"].iloc[0] == "Amélie (2001)"


def test_latin1_movies_decoded(ml1m_dir):
    (ml1m_dir / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode("latin-1"))
    assert data.load_movies("ml-1m", ml1m_dir)["Title"].iloc[0] == "Amélie (2001)"


def test_empty_file(ml1m_dir):
    (ml1m_dir / "ratings.dat").write_text("")
    with pytest.raises(DataError, match="is empty"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'ml-2m'.*ml-25m.*DATASET"):
        data.load_ratings("ml-2m")


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("no network")


def test_download_offline_suggests_alternatives(monkeypatch, tmp_path):
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen", _no_network)
    with pytest.raises(DataError, match="SBR_DATA_DIR.*DATASET=synthetic"):
        data.load_ratings("ml-100k")
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
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(payload))
    with pytest.raises(DataError, match="sha256.*not the genuine ml-100k"):
        data.load_ratings("ml-100k")
    raw = tmp_path / "project" / "data" / "raw"
    assert not (raw / "ml-100k").exists()
    assert not list(raw.glob("*.zip")) and not list(raw.glob(".*part"))


def test_download_success_path(monkeypatch, tmp_path, ml100k_dir):
    files = {f: (ml100k_dir / f).read_bytes() for f in ("u.data", "u.item", "u.user")}
    payload = _zip_bytes(files)
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(payload))
    spec = data.SPECS["ml-100k"]
    monkeypatch.setitem(data.SPECS, "ml-100k", data.DatasetSpec(
        name="ml-100k", fmt="ml-100k", files=spec.files, url=spec.url,
        ratings_sha256=__import__("hashlib").sha256(files["u.data"]).hexdigest()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ratings = data.load_ratings("ml-100k")
    assert len(ratings) == 3
    assert (tmp_path / "project" / "data" / "raw" / "ml-100k" / "u.item").is_file()


def test_git_blob_id_matches_git(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello\n")
    assert git_blob_id(path) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_verify_warns_on_wrong_blob(ml1m_dir):
    with pytest.warns(DataWarning, match="git blob id"):
        problems = data.verify(ml1m_dir, "ml-1m")
    assert problems


def test_loading_does_not_use_pandas_python_engine(ml1m_dir, monkeypatch):
    monkeypatch.setattr(data.parsing.pd, "read_csv", _python_engine_guard(data.parsing.pd.read_csv))
    assert len(data.load_ratings("ml-1m", ml1m_dir)) == 5


def _python_engine_guard(real):
    def guarded(*args, **kwargs):
        assert kwargs.get("engine") != "python"
        return real(*args, **kwargs)
    return guarded


def test_csv_ratings_parsed_from_disk_not_read_into_memory(tmp_path, monkeypatch):
    folder = tmp_path / "ml-25m"
    folder.mkdir()
    (folder / "ratings.csv").write_text(ML25M_RATINGS)
    monkeypatch.setattr(data.parsing, "_read_bytes", _must_not_read)
    assert len(data.load_ratings("ml-25m", folder)) == 3


def _must_not_read(path):
    raise AssertionError(f"{path} read into memory")


def datasets_lines(n: int) -> str:
    return "".join(f"1::{i}::3::97830{i:04d}\n" for i in range(1, n + 1))


# --------------------------------------------------------------------------- hashes of given folders


def test_given_folder_is_hashed_and_mismatch_warns_with_both_values(ml1m_dir):
    got = data.file_hashes(ml1m_dir / "ratings.dat")["git_blob_id"]
    with pytest.warns(DataWarning, match=rf"git blob id {got}, expected 77a7c4b150f588c23bb9e1f068aa996c0b413695"):
        data.load_ratings("ml-1m", ml1m_dir)


def test_describe_source_records_verification(ml100k_dir, tiny_dir, monkeypatch):
    source = data.describe_source("ml-100k", ml100k_dir)
    assert source["verified"] is False
    assert source["expected"] == {"sha256": data.SPECS["ml-100k"].ratings_sha256}
    assert source["sha256"] == hashlib.sha256((ml100k_dir / "u.data").read_bytes()).hexdigest()
    _pretend_genuine(monkeypatch, ml100k_dir)
    assert data.describe_source("ml-100k", ml100k_dir)["verified"] is True
    synth = data.describe_source("synthetic-tiny", tiny_dir)
    assert synth["verified"] is None and synth["expected"] is None and len(synth["sha256"]) == 64


def test_genuine_file_loads_without_hash_warning(ml100k_dir, monkeypatch):
    _pretend_genuine(monkeypatch, ml100k_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data.load_ratings("ml-100k", ml100k_dir)
    assert not [w for w in caught if "sha256" in str(w.message)]


def test_hashes_cached_by_path_size_mtime(ml1m_dir, tmp_path, monkeypatch):
    path = ml1m_dir / "ratings.dat"
    first = data.file_hashes(path)
    cache = tmp_path / "project" / "data" / "cache" / "file-hashes.json"
    assert cache.is_file() and not list(cache.parent.glob(".*part")), "cache written atomically"
    monkeypatch.setattr(data.integrity, "_digests", _must_not_hash)
    assert data.file_hashes(path) == first  # served from the cache
    path.write_text(ML1M_CHANGED)  # new size and mtime: hashed again
    with pytest.raises(AssertionError, match="hashed again"):
        data.file_hashes(path)


def test_unreadable_cache_is_ignored(ml1m_dir, tmp_path):
    cache = tmp_path / "project" / "data" / "cache" / "file-hashes.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    assert len(data.file_hashes(ml1m_dir / "ratings.dat")["sha256"]) == 64


def _must_not_hash(*args, **kwargs):
    raise AssertionError("hashed again")


def _pretend_genuine(monkeypatch, folder):
    spec = data.SPECS["ml-100k"]
    digest = hashlib.sha256((folder / "u.data").read_bytes()).hexdigest()
    monkeypatch.setitem(data.SPECS, "ml-100k", dataclasses.replace(spec, ratings_sha256=digest))


ML1M_CHANGED = "1::1193::5::978300760\n"


# --------------------------------------------------------------------------- ML-10M and the CSV releases

ML25M_RATINGS = "userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n2,307,0.5,1147868828\n"
ML25M_MOVIES = (
    "movieId,title,genres\n"
    "296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n"
    '306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n'
    '307,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Fantasy\n'
    "209171,Women of Devil's Island (1962),(no genres listed)\n"
)
ML10M_RATINGS = "1::122::5::838985046\n1::185::4.5::838983525\n2::231::0.5::838983392\n"
ML10M_MOVIES = "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n"


def _folder(path, files: dict[str, str], encoding: str = "utf-8"):
    path.mkdir()
    for name, text in files.items():
        (path / name).write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def ml25m_dir(tmp_path):
    return _folder(tmp_path / "ml-25m", {"ratings.csv": ML25M_RATINGS, "movies.csv": ML25M_MOVIES})


def test_csv_release_ratings_half_stars(ml25m_dir):
    df = data.load_ratings("ml-25m", ml25m_dir)
    assert list(df.columns) == [USER, ITEM, RATING, TIME]
    assert df.dtypes.tolist() == ["int32", "int32", "float32", "int64"]
    assert df[RATING].tolist() == [5.0, 3.5, 0.5]
    assert df.iloc[1][[USER, ITEM, TIME]].tolist() == [1, 306, 1147868817]


def test_csv_release_movies_quoted_titles(ml25m_dir):
    movies = data.load_movies("ml-25m", ml25m_dir).set_index(ITEM)
    assert movies.loc[307, "Title"] == "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    assert movies.loc[307, "Year"] == 1995
    assert movies.loc[296, "Genres"] == ["Comedy", "Crime", "Drama", "Thriller"]
    assert movies.loc[209171, "Genres"] == []


def test_ml10m_format(tmp_path):
    folder = _folder(tmp_path / "ml-10M100K", {"ratings.dat": ML10M_RATINGS, "movies.dat": ML10M_MOVIES})
    df = data.load_ratings("ml-10m", folder)
    assert df[RATING].tolist() == [5.0, 4.5, 0.5] and df[RATING].dtype == "float32"
    assert data.load_movies("ml-10m", folder).set_index(ITEM).loc[185, "Title"] == "Net, The (1995)"


def test_no_users_file_after_ml1m(ml25m_dir):
    with pytest.raises(DataError, match="ml-25m has no users file.*no user demographics"):
        data.load_users("ml-25m", ml25m_dir)


@pytest.mark.parametrize(("dataset", "n"), [("ml-10m", "10,000,054"), ("ml-20m", "20,000,263"),
                                            ("ml-25m", "25,000,095"), ("ml-32m", "32,000,204")])
def test_release_counts_checked(tmp_path, dataset, n):
    spec = data.SPECS[dataset]
    ratings = ML10M_RATINGS if spec.fmt == "ml-10m" else ML25M_RATINGS
    folder = _folder(tmp_path / dataset, {spec.files["ratings"]: ratings})
    with pytest.warns(DataWarning, match=rf"ratings: expected {n}, found 3; users: expected {spec.n_users:,}, found 2"):
        data.load_ratings(dataset, folder)


def test_movies_count_checked(ml25m_dir):
    with pytest.warns(DataWarning, match="4 movies, the ml-25m release has 62,423"):
        data.load_movies("ml-25m", ml25m_dir)


def test_csv_wrong_header(ml25m_dir):
    (ml25m_dir / "ratings.csv").write_text("user,item,rating,time\n1,2,3.0,1147880044\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 1: header 'user,item,rating,time', expected "
                                        r"'userId,movieId,rating,timestamp'"):
        data.load_ratings("ml-25m", ml25m_dir)


def test_csv_header_missing(ml25m_dir):
    (ml25m_dir / "ratings.csv").write_text("1,296,5.0,1147880044\n")
    with pytest.raises(DataError, match="line 1: header '1,296,5.0,1147880044'"):
        data.load_ratings("ml-25m", ml25m_dir)


@pytest.mark.parametrize(("line", "message"), [
    ("3,1,4.0,11478x0044", r"line 5: '11478x0044' is not an integer"),
    ("3,1,4.0", r"line 5: expected 4 fields separated by ',', found 3"),
    ("3,1,four,1147880044", r"line 5: 'four' is not a number"),
    ("3,1,,1147880044", r"line 5: '' is not a number"),
    ("3,1,4.2,1147880044", r"line 5: rating 4.2.* is not on the ml-25m scale \(0.5 to 5.0 in half stars\)"),
])
def test_csv_malformed_line_numbered_after_header(ml25m_dir, line, message):
    (ml25m_dir / "ratings.csv").write_text(ML25M_RATINGS + line + "\n3,2,4.0,1147880044\n")
    with pytest.raises(DataError, match=message):
        data.load_ratings("ml-25m", ml25m_dir)


def test_csv_cut_last_line(ml25m_dir):
    (ml25m_dir / "ratings.csv").write_text(ML25M_RATINGS + "3,1,4.0,11478")
    with pytest.raises(DataError, match=r"ratings.csv, line 5: the last line has no line end \('3,1,4.0,11478'\)"):
        data.load_ratings("ml-25m", ml25m_dir)


def test_csv_movies_malformed_row(ml25m_dir):
    (ml25m_dir / "movies.csv").write_text(ML25M_MOVIES + "5,A, B (1999),Drama\n")
    with pytest.raises(DataError, match=r"movies.csv, line 6: expected 3 comma-separated fields"):
        data.load_movies("ml-25m", ml25m_dir)


def _zip_release(folder: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}/{name}", text.encode())
        archive.writestr(f"{folder}/genome-scores.csv", "movieId,tagId,relevance\n")
    return buf.getvalue()


def test_download_csv_release(monkeypatch, tmp_path):
    payload = _zip_release("ml-25m", {"ratings.csv": ML25M_RATINGS, "movies.csv": ML25M_MOVIES,
                                      "tags.csv": "userId,movieId,tag,timestamp\n", "README.txt": "x\n"})
    urls = []
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen",
                        lambda url, **k: urls.append(url) or _FakeResponse(payload))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ratings = data.load_ratings("ml-25m")
        movies = data.load_movies("ml-25m")
    assert urls == ["https://files.grouplens.org/datasets/movielens/ml-25m.zip"]
    assert len(ratings) == 3 and len(movies) == 4
    raw = tmp_path / "project" / "data" / "raw"
    assert sorted(p.name for p in (raw / "ml-25m").iterdir()) == ["README.txt", "movies.csv", "ratings.csv", "tags.csv"]
    assert not list(raw.glob("*.zip")) and not list(raw.glob(".*part"))


@pytest.mark.parametrize(("files", "message"), [
    ({"movies.csv": ML25M_MOVIES}, "archive has no ml-25m/ratings.csv"),
    ({"ratings.csv": ML25M_RATINGS[:-4]}, "last line has no line end: the download is incomplete"),
    ({"ratings.csv": "a,b\n1,2\n"}, "line 1: header 'a,b'"),
])
def test_download_csv_release_bad_archive_leaves_nothing(monkeypatch, tmp_path, files, message):
    payload = _zip_release("ml-25m", files)
    monkeypatch.setattr(data.acquisition.urllib.request, "urlopen", lambda *a, **k: _FakeResponse(payload))
    with pytest.raises(DataError, match=message):
        data.load_ratings("ml-25m")
    raw = tmp_path / "project" / "data" / "raw"
    assert not (raw / "ml-25m").exists()
    assert not list(raw.glob("*.zip")) and not list(raw.glob(".*part"))
