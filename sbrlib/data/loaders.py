"""The public loaders: find a dataset's files (:mod:`~sbrlib.data.acquisition`), parse them
(:mod:`~sbrlib.data.parsing`) and compare them with the release (:mod:`~sbrlib.data.integrity`).

All loaders return new DataFrames with canonical columns (:mod:`sbrlib.core.columns`):
ratings ``UserId, ItemId, Rating, Time`` (``Time`` = Unix seconds, UTC).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, USER
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.data.acquisition import explicit_hint, locate, require_role
from sbrlib.data.catalogue import ML100K_GENRES, NO_GENRES, DatasetSpec, get_spec
from sbrlib.data.integrity import expected_hash, hash_problems
from sbrlib.data.parsing import check_counts, decode_text, movie_rows, parse_ratings, split_title_year


def load_ratings(dataset: str = "ml-1m", data_dir: str | Path | None = None,
                 download: bool = True) -> pd.DataFrame:
    """Load the ratings of ``dataset`` as ``UserId, ItemId, Rating, Time`` in file order.

    Files of releases with a known hash are compared with it (a mismatch warns; the result is
    cached, see :func:`file_hashes`).

    Returns:
        DataFrame of shape (n_ratings, 4); ids int32, Time int64 (Unix seconds), Rating int8
        (whole-star releases: ML-100K, ML-1M, ``synthetic``) or float32 (half stars: ML-10M and
        later, ``synthetic-25m``).

    Raises:
        DataError: missing file (with where it looked and how to get it), a malformed or cut
            line (with file and line number), or a rating off the release's scale.
    """
    spec = get_spec(dataset)
    folder = locate(dataset, data_dir, download=download)
    path = folder / spec.files["ratings"]
    frame, data = parse_ratings(path, spec)
    if expected_hash(spec) is not None:
        _, problems = hash_problems(path, spec, data)
        for problem in problems:
            warnings.warn(f"{problem}: not the genuine {dataset} release; re-download it or check the copy",
                          DataWarning, stacklevel=2)
    del data
    check_counts(frame, spec, path)
    frame.attrs.update(dataset=dataset, synthetic=spec.synthetic, source=str(path))
    return frame


def _meta_file(dataset: str, data_dir, download: bool, role: str) -> tuple[DatasetSpec, Path]:
    """Spec and path of the ``movies``/``users`` file of ``dataset`` (DataError if missing)."""
    spec = get_spec(dataset)
    require_role(spec, role)
    folder = locate(dataset, data_dir, download=download, role=role)
    path = folder / spec.files[role]
    if not path.is_file():
        raise DataError(f"{path} not found; {explicit_hint(spec, folder)}")
    return spec, path


def load_movies(dataset: str = "ml-1m", data_dir: str | Path | None = None,
                download: bool = True) -> pd.DataFrame:
    """Load movies as ``ItemId, Title, Year, Genres`` (Genres: list of str).

    Returns:
        DataFrame of shape (n_movies, 4); Year is nullable Int16 (NA when the title has none);
        a movie listed with ``(no genres listed)`` has an empty genre list.
    """
    spec, path = _meta_file(dataset, data_dir, download, "movies")
    text = decode_text(path, spec)
    if spec.fmt == "ml-100k":
        lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
        parts = [line.split("|") for _, line in lines]
        bad = next((i for i, p in enumerate(parts) if len(p) != 5 + len(ML100K_GENRES)), None)
        if bad is not None:
            raise DataError(f"{path}, line {lines[bad][0]}: expected {5 + len(ML100K_GENRES)} '|'-separated fields")
        flags = np.array([p[5:] for p in parts]) == "1"
        frame = pd.DataFrame({ITEM: [p[0] for p in parts], "Title": [p[1] for p in parts]})
        frame["Genres"] = [[g for g, f in zip(ML100K_GENRES, row) if f] for row in flags]
    else:
        frame = pd.DataFrame(movie_rows(path, spec, text), columns=[ITEM, "Title", "Genres"])
        frame["Genres"] = [[] if g in ("", NO_GENRES) else g.split("|") for g in frame["Genres"]]
    try:
        frame[ITEM] = frame[ITEM].astype("int32")
    except ValueError:
        bad = int(pd.to_numeric(frame[ITEM], errors="coerce").isna().to_numpy().argmax())
        raise DataError(f"{path}: movie id {frame[ITEM].iloc[bad]!r} (row {bad + 1}) is not an integer") from None
    frame["Title"], frame["Year"] = split_title_year(frame["Title"])
    if spec.n_movies is not None and not spec.synthetic and len(frame) != spec.n_movies:
        warnings.warn(f"{path}: {len(frame):,} movies, the {spec.name} release has {spec.n_movies:,}",
                      DataWarning, stacklevel=2)
    frame.attrs.update(dataset=dataset, synthetic=spec.synthetic)
    return frame[[ITEM, "Title", "Year", "Genres"]]


def load_users(dataset: str = "ml-1m", data_dir: str | Path | None = None,
               download: bool = True) -> pd.DataFrame:
    """Load users as ``UserId, Gender, Age, Occupation, Zip``.

    Returns:
        DataFrame of shape (n_users, 5). ML-1M Age/Occupation are the release's codes.

    Raises:
        DataError: the dataset has no users file (MovieLens 10M and later), or it is malformed.
    """
    spec, path = _meta_file(dataset, data_dir, download, "users")
    text = decode_text(path, spec)
    sep = "::" if spec.fmt == "ml-1m" else "|"
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    rows = [line.split(sep) for _, line in lines]
    bad = next((i for i, r in enumerate(rows) if len(r) != 5), None)
    if bad is not None:
        raise DataError(f"{path}, line {lines[bad][0]}: expected 5 {sep!r}-separated fields")
    if spec.fmt == "ml-1m":
        frame = pd.DataFrame(rows, columns=[USER, "Gender", "Age", "Occupation", "Zip"])
    else:
        frame = pd.DataFrame(rows, columns=[USER, "Age", "Gender", "Occupation", "Zip"])
    for column, dtype in ((USER, "int32"), ("Age", "int16")):
        try:
            frame[column] = frame[column].astype(dtype)
        except ValueError:
            bad = int(pd.to_numeric(frame[column], errors="coerce").isna().to_numpy().argmax())
            raise DataError(f"{path}, line {lines[bad][0]}: {'user id' if column == USER else 'age'} "
                            f"{frame[column].iloc[bad]!r} is not an integer: {lines[bad][1][:80]!r}; the file is "
                            "damaged or not in the release's format, re-download it") from None
    return frame[[USER, "Gender", "Age", "Occupation", "Zip"]]


def describe_source(dataset: str, data_dir: str | Path | None = None) -> dict:
    """Fingerprint of the ratings file for manifests.

    Returns:
        ``dataset, synthetic, path, bytes, sha256, git_blob_id, expected, verified``: ``expected``
        is the release's known hash (None when not known) and ``verified`` is True (matches),
        False (differs) or None (nothing to compare with, e.g. synthetic data or a release whose
        hash is not known here).
    """
    spec = get_spec(dataset)
    path = locate(dataset, data_dir) / spec.files["ratings"]
    got, problems = hash_problems(path, spec)
    expected = expected_hash(spec)
    return {"dataset": dataset, "synthetic": spec.synthetic, "path": str(path),
            "bytes": path.stat().st_size, **got, "expected": expected,
            "verified": None if expected is None else not problems}
