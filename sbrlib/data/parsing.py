"""Parsing the MovieLens files into typed frames, with line-precise errors.

Input integrity: a ratings file whose last line has no line end is refused (genuine MovieLens
files end with a newline; a file cut inside its last timestamp would otherwise load with a wrong
time); every malformed line is reported with file and line number; ratings outside the release's
scale are refused; counts and timestamps outside 1995..now give a
:class:`~sbrlib.core.errors.DataWarning`.

Functions here take a path and a :class:`~sbrlib.data.catalogue.DatasetSpec`; finding the files
is :mod:`sbrlib.data.acquisition`'s job and :mod:`sbrlib.data.loaders` puts both together.
"""

from __future__ import annotations

import csv
import io
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, RATING, TIME, USER
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.data.catalogue import (
    CSV_MOVIES_HEADER,
    CSV_RATINGS_HEADER,
    EARLIEST_TIME,
    DatasetSpec,
)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, checked: present, not UTF-16/binary, not empty."""
    if not path.is_file():
        raise DataError(f"{path} not found")
    data = path.read_bytes()
    _check_text(path, data[:4096], len(data.strip()) == 0)
    return data


def _check_text(path: Path, head: bytes, empty: bool) -> None:
    if b"\x00" in head:
        raise DataError(
            f"{path} contains NUL bytes: it looks like UTF-16 or a binary file, but MovieLens "
            "files are plain text. Re-download the original file."
        )
    if empty:
        raise DataError(f"{path} is empty; re-download or regenerate it")


def _head_tail(path: Path, n: int = 4096) -> tuple[bytes, bytes, bool]:
    """First and last ``n`` bytes of a file and whether it holds only whitespace (small files)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(n)
        handle.seek(max(size - n, 0))
        tail = handle.read(n)
    return head, tail, size <= n and not head.strip()


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _n_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _lines(data: bytes):
    """``(line number, line without its end)`` for each line, without splitting the whole file."""
    for lineno, raw in enumerate(io.BytesIO(data), start=1):
        yield lineno, raw.rstrip(b"\r\n")


def _cut_last_line(path: Path, tail: bytes, n_lines: Callable[[], int]) -> DataError | None:
    """A DataError when the file does not end with a line end (it was cut short)."""
    if tail.endswith(b"\n"):
        return None
    last = tail[tail.rfind(b"\n") + 1:][-80:].decode("latin-1")
    return DataError(
        f"{path}, line {n_lines()}: the last line has no line end ({last!r}): the file was cut short "
        "(interrupted download or copy?) and its last rating may be wrong. Genuine MovieLens files "
        "end with a newline: re-download the file or check the copy (if you wrote it yourself, "
        "end it with a newline)."
    )


def check_csv_header(path: Path, head: bytes, expected: tuple[str, ...]) -> None:
    first = _strip_bom(head).split(b"\n", 1)[0]
    got = first.rstrip(b"\r").decode("latin-1")
    if got.split(",") != list(expected):
        raise DataError(
            f"{path}, line 1: header {got[:80]!r}, expected {','.join(expected)!r}. This is not a "
            "MovieLens 20M/25M/32M file (check DATASET matches the folder) or it is damaged; "
            "re-download it."
        )


def line_of_row(data: bytes, row: int, skip: int) -> int:
    """1-based line number of data row ``row`` (0-based, after ``skip`` header lines, blank lines skipped)."""
    if b"\n\n" not in data and b"\n\r\n" not in data:
        return row + skip + 1
    seen = -1
    for lineno, raw in _lines(data):
        if lineno > skip and raw.strip():
            seen += 1
            if seen == row:
                return lineno
    return row + skip + 1


_INT32 = 2**31


def _diagnose(path: Path, data: bytes, sep: bytes, kinds: str, skip: int = 0) -> DataError:
    """Find the first malformed line of a delimited file (error path only).

    ``kinds`` has one letter per field: ``i`` 32-bit integer, ``l`` 64-bit integer, ``f`` number.
    """
    for lineno, line in _lines(data):
        if lineno <= skip or not line.strip():
            continue
        parts = line.split(sep)
        snippet = line[:80].decode("latin-1")
        if len(parts) != len(kinds):
            return DataError(
                f"{path}, line {lineno}: expected {len(kinds)} fields separated by "
                f"{sep.decode()!r}, found {len(parts)}: {snippet!r}. The file is truncated or "
                "not in MovieLens format; re-download it."
            )
        for part, kind in zip(parts, kinds):
            try:
                value = float(part) if kind == "f" else int(part)
            except ValueError:
                what = "a number" if kind == "f" else "an integer"
                return DataError(
                    f"{path}, line {lineno}: {part.decode('latin-1')!r} is not {what}: "
                    f"{snippet!r}. The file is corrupt or in another encoding; re-download it."
                )
            if kind == "i" and not -_INT32 <= value < _INT32:
                return DataError(f"{path}, line {lineno}: id {value} is out of range: {snippet!r}; "
                                 "the file is corrupt, re-download it.")
    return DataError(f"{path}: could not parse the file; re-download it")


def _ratings_layout(spec: DatasetSpec) -> tuple[bytes, int]:
    """Field separator and number of header lines of the ratings file."""
    return {"ml-1m": (b"::", 0), "ml-10m": (b"::", 0), "ml-100k": (b"\t", 0), "csv": (b",", 1)}[spec.fmt]


def _read_table(source, sep: str, skip: int, rating_type) -> pd.DataFrame:
    """Parse with Arrow's multi-threaded CSV reader (no quoting, typed columns)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [USER, ITEM, RATING, TIME]
    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(skip_rows=skip, column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, double_quote=False),
        convert_options=pacsv.ConvertOptions(
            column_types={USER: pa.int32(), ITEM: pa.int32(), RATING: rating_type, TIME: pa.int64()}),
    )
    if any(column.null_count for column in table.columns):  # empty fields, e.g. "1,2,,3"
        raise ValueError("empty field")
    return table.to_pandas(split_blocks=True, self_destruct=True)


def parse_ratings(path: Path, spec: DatasetSpec) -> tuple[pd.DataFrame, bytes | None]:
    """Parse a ratings file into a typed frame; DataError with the line of the first bad line.

    CSV files are parsed from disk; the others are read into memory first (their separator is
    rewritten for the parser). Returns the frame and the bytes when they were read.
    """
    import pyarrow as pa

    if not path.is_file():
        raise DataError(f"{path} not found")
    sep, skip = _ratings_layout(spec)
    in_memory = spec.fmt != "csv"
    data = _read_bytes(path) if in_memory else None
    if data is not None:
        head, tail = data[:4096], data[-4096:]
    else:
        head, tail, empty = _head_tail(path)
        _check_text(path, head, empty)
    if skip:
        check_csv_header(path, head, CSV_RATINGS_HEADER)

    def file_bytes() -> bytes:
        return data if data is not None else _read_bytes(path)

    if error := _cut_last_line(path, tail, lambda: _n_lines(file_bytes())):
        raise error
    kinds = "iifl" if spec.half_stars else "iiil"
    rating_type = pa.float32() if spec.half_stars else pa.int8()
    try:
        if data is not None:
            body = _strip_bom(data)
            if len(sep) > 1 and b"\t" in body:  # tabs would become separators below: not this format
                raise ValueError("tab in a '::'-separated file")
            body = body.replace(sep, b"\t") if len(sep) > 1 else body
            frame = _read_table(pa.py_buffer(body), "\t" if len(sep) > 1 else sep.decode(), skip, rating_type)
            del body
        else:
            frame = _read_table(str(path), sep.decode(), skip, rating_type)
    except (ValueError, pa.ArrowInvalid):
        raise _diagnose(path, file_bytes(), sep, kinds, skip) from None
    _check_values(path, spec, frame, file_bytes, skip)
    _check_duplicates(path, frame, file_bytes, skip)
    return frame, data


#: Columns that identify one rating event; rows equal on all of them are exact duplicates.
DUPLICATE_KEY = (USER, ITEM, TIME)


def exact_duplicates(frame: pd.DataFrame) -> np.ndarray:
    """Mask of the rows that repeat an earlier row's ``(UserId, ItemId, Time)``.

    The first occurrence in row (file) order is not marked, the later copies are: dropping the
    marked rows keeps the first occurrence (the rule of :func:`sbrlib.data.preprocess.drop_duplicates`).

    Args:
        frame: events with ``UserId``, ``ItemId`` and ``Time``.

    Returns:
        Boolean array of shape ``(len(frame),)``.
    """
    if len(frame) < 2:
        return np.zeros(len(frame), dtype=bool)
    return frame.duplicated(list(DUPLICATE_KEY), keep="first").to_numpy()


def _check_duplicates(path: Path, frame: pd.DataFrame, file_bytes: Callable[[], bytes], skip: int) -> None:
    """Warn (file, count, first example's lines) about exact duplicate rating lines."""
    dup = exact_duplicates(frame)
    n = int(dup.sum())
    if not n:
        return
    row = int(dup.argmax())
    key = frame.iloc[row][list(DUPLICATE_KEY)]
    same = np.ones(len(frame), dtype=bool)
    for column in DUPLICATE_KEY:
        same &= frame[column].to_numpy() == key[column]
    first = int(same.argmax())
    data = file_bytes()
    warnings.warn(
        f"{path}: {n:,} exact duplicate rating line(s) (same UserId, ItemId and Time as an earlier line; "
        f"e.g. line {line_of_row(data, row, skip)} repeats line {line_of_row(data, first, skip)}). "
        "The preprocessing keeps the first occurrence in file order and drops the others (the count is "
        "recorded in the split's manifest); remove them from the file to silence this warning.",
        DataWarning, stacklevel=4,
    )


def _check_values(path: Path, spec: DatasetSpec, frame: pd.DataFrame, file_bytes: Callable[[], bytes],
                  skip: int) -> None:
    """Ratings on the release's scale (error); plausible timestamps (warning)."""
    ratings = frame[RATING].to_numpy()
    bad = ~np.isin(ratings, np.asarray(spec.rating_values, dtype=ratings.dtype))
    if bad.any():
        row = int(bad.argmax())
        scale = "0.5 to 5.0 in half stars" if spec.half_stars else "whole stars 1 to 5"
        raise DataError(
            f"{path}, line {line_of_row(file_bytes(), row, skip)}: rating {float(ratings[row]):g} is "
            f"not on the {spec.name} scale ({scale}); check DATASET matches the file, or re-download it."
        )
    times = frame[TIME].to_numpy()
    odd = (times < EARLIEST_TIME) | (times > time.time() + 86_400)
    if odd.any():
        row = int(odd.argmax())
        when = pd.to_datetime(times[row], unit="s")
        warnings.warn(
            f"{path}, line {line_of_row(file_bytes(), row, skip)}: timestamp {times[row]} ({when} UTC) "
            f"is outside 1995..today ({int(odd.sum()):,} such ratings): the file may be damaged or "
            "not MovieLens; results would use wrong times. Re-download it or check the copy.",
            DataWarning, stacklevel=4,
        )


def check_counts(frame: pd.DataFrame, spec: DatasetSpec, path: Path) -> None:
    if spec.synthetic or spec.n_ratings is None:
        return
    got = {"ratings": len(frame), "users": frame[USER].nunique()}
    want = {"ratings": spec.n_ratings, "users": spec.n_users}
    if spec.n_items is not None:
        got["items"], want["items"] = frame[ITEM].nunique(), spec.n_items
    diff = [f"{k}: expected {want[k]:,}, found {got[k]:,}" for k in got if got[k] != want[k]]
    if diff:
        warnings.warn(
            f"{path} differs from the {spec.name} release ({'; '.join(diff)}); "
            "results will not be comparable to published figures",
            DataWarning, stacklevel=3,
        )


def decode_text(path: Path, spec: DatasetSpec) -> str:
    """Decode a metadata file in the release's encoding; other encodings are detected and reported."""
    data = _strip_bom(_read_bytes(path))
    if not data.endswith(b"\n"):
        warnings.warn(
            f"{path}, line {_n_lines(data)}: the last line has no line end: the file may have "
            "been cut short; re-download it or check the copy.", DataWarning, stacklevel=3,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if spec.encoding == "utf-8":
            warnings.warn(f"{path} is not UTF-8 as the {spec.name} release; decoding as latin-1.",
                          DataWarning, stacklevel=3)
        return data.decode("latin-1")
    if spec.encoding == "latin-1" and any(ord(c) > 127 for c in text):
        warnings.warn(
            f"{path} is UTF-8 encoded; the official release is latin-1. Decoding as UTF-8.",
            DataWarning, stacklevel=3,
        )
    return text


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def split_title_year(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    years = titles.str.extract(_YEAR, expand=False).astype("Int16")
    return titles.str.strip(), years


def movie_rows(path: Path, spec: DatasetSpec, text: str) -> list[list[str]]:
    """``[id, title, genres]`` rows of a movies file; DataError with the line of a malformed row."""
    if spec.fmt == "csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, [])
        if [h.strip() for h in header] != list(CSV_MOVIES_HEADER):
            raise DataError(f"{path}, line 1: header {','.join(header)[:80]!r}, expected "
                            f"{','.join(CSV_MOVIES_HEADER)!r}; check DATASET matches the folder.")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != 3:
                raise DataError(f"{path}, line {reader.line_num}: expected 3 comma-separated fields "
                                f"(titles with commas are quoted), found {len(row)}: {','.join(row)[:80]!r}")
            rows.append(row)
        return rows
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    rows = [line.split("::") for _, line in lines]
    bad = next((i for i, p in enumerate(rows) if len(p) != 3), None)
    if bad is not None:
        raise DataError(f"{path}, line {lines[bad][0]}: expected 'id::title::genres', got {lines[bad][1][:80]!r}")
    return rows
