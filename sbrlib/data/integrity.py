"""Integrity of the ratings files: SHA-256 / git blob ids compared with the release's known
hash, cached in ``data/cache/file-hashes.json`` (keyed by path, size and modification time) so
big files are hashed once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from pathlib import Path

from sbrlib.core import paths
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.core.fileio import write_json
from sbrlib.data.catalogue import DatasetSpec, get_spec

log = logging.getLogger(__name__)



def _hash_cache_path() -> Path:
    return paths.data_dir() / "cache" / "file-hashes.json"


def _file_key(path: Path) -> tuple[str, dict]:
    st = path.stat()
    return str(path.resolve()), {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _digests(data: bytes | None, path: Path) -> dict:
    """SHA-256 and git blob id of ``data`` (or of the file when None), in one pass."""
    size = len(data) if data is not None else path.stat().st_size
    sha256, sha1 = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode())
    if data is not None:
        sha256.update(data)
        sha1.update(data)
    else:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                sha256.update(chunk)
                sha1.update(chunk)
    return {"sha256": sha256.hexdigest(), "git_blob_id": sha1.hexdigest()}


def file_hashes(path: str | Path, data: bytes | None = None) -> dict:
    """``{"sha256", "git_blob_id"}`` of a file, cached by path, size and modification time.

    Args:
        path: the file.
        data: its bytes when already in memory (saves reading it again).

    The cache (``data/cache/file-hashes.json``) is written atomically; a cache that cannot be
    read or written is ignored.
    """
    path = Path(path)
    key, stamp = _file_key(path)
    cache_file = _hash_cache_path()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key)
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in stamp.items()):
        return {"sha256": entry["sha256"], "git_blob_id": entry["git_blob_id"]}
    start = time.perf_counter()
    digests = _digests(data, path)
    log.info("hashed %s (%.0f MB) in %.1f s", path, stamp["bytes"] / 2**20, time.perf_counter() - start)
    if _file_key(path)[1] == stamp:  # unchanged while hashing
        cache = {k: v for k, v in cache.items() if Path(k).exists()}
        cache[key] = {**stamp, **digests}
        try:
            write_json(cache_file, cache)
        except OSError as exc:
            log.debug("hash cache not written (%s)", exc)
    return digests


def expected_hash(spec: DatasetSpec) -> dict | None:
    if spec.ratings_blob_id:
        return {"git_blob_id": spec.ratings_blob_id}
    if spec.ratings_sha256:
        return {"sha256": spec.ratings_sha256}
    return None


def hash_problems(path: Path, spec: DatasetSpec, data: bytes | None = None) -> tuple[dict, list[str]]:
    expected = expected_hash(spec)
    got = file_hashes(path, data)
    problems = [] if expected is None else [
        f"{path}: {kind.replace('_', ' ')} {got[kind]}, expected {want}"
        for kind, want in expected.items() if got[kind] != want
    ]
    return got, problems


def verify(folder: str | Path, dataset: str, strict: bool = False) -> list[str]:
    """Check the ratings file against the release's known hash (if any).

    Args:
        folder: folder holding the files.
        dataset: dataset name.
        strict: raise on a mismatch (used for downloads) instead of warning.

    Returns:
        The list of problems found (empty when the file matches or no hash is known).
    """
    spec = get_spec(dataset)
    if expected_hash(spec) is None:
        return []
    path = Path(folder) / spec.files["ratings"]
    _, problems = hash_problems(path, spec)
    for problem in problems:
        if strict:
            raise DataError(f"{problem}: not the genuine {dataset} release; download it again")
        warnings.warn(f"{problem} (not the genuine {dataset} release? re-download it or check the copy)",
                      DataWarning, stacklevel=2)
    return problems


def hash_seconds(path: str | Path) -> float:
    """Seconds to hash ``path`` without the cache (for benchmarks)."""
    start = time.perf_counter()
    _digests(None, Path(path))
    return time.perf_counter() - start
