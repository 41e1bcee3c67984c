"""Atomic writes and file fingerprints.

Every file sbrlib writes goes to a temporary name in the destination folder
first and is renamed into place, so an interrupted run never leaves a file
that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; swap it in as ``path`` on success.

    All or nothing: when the body raises, or the swap itself fails, ``path`` keeps its previous
    content (or stays absent) and no temporary or ``.old`` folder is left beside it. A folder that
    could not be removed afterwards (e.g. read-only) is refused before anything is written.

    Raises:
        PermissionError: ``path`` exists and holds read-only folders, so it could not be replaced
            cleanly; the message names the folder and the fix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        _check_removable(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            try:
                os.replace(path, old)  # replaces the empty placeholder folder
            except BaseException:
                old.rmdir()
                raise
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the previous content back
                raise
            shutil.rmtree(old, ignore_errors=True)
            if old.exists():
                log.warning("%s is installed, but its previous content %s could not be removed; delete it by hand",
                            path, old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_removable(folder: Path) -> None:
    """PermissionError when ``folder`` or a folder inside it is not writable (its entries could
    not be deleted once it has been replaced)."""
    for root, dirs, _ in os.walk(folder):
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError(
                f"cannot replace {folder}: {root} is read-only, so the old content could not be removed; "
                f"nothing was changed. Make it writable (chmod -R u+w {folder}) or write to another name.")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_id(path: str | os.PathLike) -> str:
    """The id ``git hash-object`` prints for a file (SHA-1 of ``blob <size>\\0`` + bytes)."""
    size = os.path.getsize(path)
    digest = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
