"""Where a dataset's files come from: locate them, download the official archive, or generate
the synthetic presets.

In order: an explicit ``data_dir`` argument, else ``$SBR_DATA_DIR`` (used as is, never any
network access), else ``data/raw/<dataset>`` (downloaded from GroupLens on first use, or
generated for the synthetic presets). Downloads are unpacked atomically and verified
(:mod:`sbrlib.data.integrity`).
"""

from __future__ import annotations

import logging
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from sbrlib.core import paths
from sbrlib.core.errors import DataError
from sbrlib.core.fileio import atomic_dir, atomic_path
from sbrlib.data.catalogue import DatasetSpec, get_spec
from sbrlib.data.integrity import verify
from sbrlib.data.parsing import CSV_RATINGS_HEADER, check_csv_header

log = logging.getLogger(__name__)



def locate(dataset: str, data_dir: str | Path | None = None, download: bool = True,
           role: str = "ratings") -> Path:
    """Return the folder holding ``dataset``'s files, downloading or generating it if needed.

    Args:
        dataset: a name from :data:`SPECS`.
        data_dir: an existing folder with the files; used as is (no network). Defaults to
            ``$SBR_DATA_DIR`` when set, else ``data/raw/<dataset>``.
        download: allow downloading (real data) or generating (synthetic) into ``data/raw``.
        role: the file that must be present (``ratings``, ``movies``, ``users``, ...).

    Raises:
        DataError: the folder lacks files, or they cannot be obtained.
    """
    spec = get_spec(dataset)
    require_role(spec, role)
    explicit = Path(data_dir).expanduser().resolve() if data_dir else paths.env_data_dir()
    if explicit is not None:
        _check_files(spec, explicit, explicit_hint(spec, explicit), role)
        return explicit
    folder = paths.raw_dir(dataset)
    if _has_files(spec, folder):
        return folder
    if not download:
        _check_files(spec, folder, _download_hint(spec), role)
    if spec.synthetic:
        from sbrlib.data import synthetic

        synthetic.write_dataset(folder, preset=spec.synthetic_preset)
        return folder
    return download_dataset(dataset, folder)


def require_role(spec: DatasetSpec, role: str) -> None:
    if role not in spec.files:
        extra = (" MovieLens 10M and later publish no user demographics (no users file); only "
                 "ml-1m, ml-100k and the ML-1M-format synthetic presets have one.") if role == "users" else ""
        raise DataError(f"{spec.name} has no {role} file (it has: {', '.join(spec.files)}).{extra}")


def _has_files(spec: DatasetSpec, folder: Path) -> bool:
    return folder.is_dir() and (folder / spec.files["ratings"]).is_file()


def _check_files(spec: DatasetSpec, folder: Path, hint: str, role: str = "ratings") -> None:
    if folder.is_file():
        raise DataError(f"{spec.name}: {folder} is a file, not a folder. {hint}")
    if not folder.is_dir():
        raise DataError(f"{spec.name}: folder {folder} does not exist. {hint}")
    if not (folder / spec.files[role]).is_file():
        raise DataError(f"{spec.name}: {spec.files[role]} not found in {folder}. {hint}")


def explicit_hint(spec: DatasetSpec, folder: Path) -> str:
    return (
        f"SBR_DATA_DIR / data_dir must point at the unpacked {spec.name} folder "
        f"(the one containing {', '.join(spec.files.values())}); "
        f"check DATASET={spec.name} matches the folder, or unset SBR_DATA_DIR to download."
    )


def _download_hint(spec: DatasetSpec) -> str:
    if spec.synthetic:
        return "Run with download=True to generate it."
    return (
        f"Download {spec.url} and unzip it, then set SBR_DATA_DIR to the unpacked folder "
        f"({spec.zip_folder}/), or run `make data` with network access."
    )


def download_dataset(dataset: str, dest: Path | None = None, timeout: float = 60.0) -> Path:
    """Download and unpack the official GroupLens archive into ``dest`` atomically, then verify it.

    A broken or interrupted download leaves nothing behind at ``dest``. Releases whose hash is
    known are checked against it (a mismatch is an error); the others are checked for their
    files, the ratings header and a complete last line (counts are checked at every load).

    Raises:
        DataError: no network, bad archive, or content that fails verification.
    """
    from sbrlib.core.progress import tqdm

    spec = get_spec(dataset)
    if spec.url is None:
        raise DataError(f"{dataset} has no download address")
    dest = Path(dest) if dest else paths.raw_dir(dataset)
    log.info("downloading %s from %s", dataset, spec.url)
    zip_path = dest.parent / f"{dataset}.zip"
    try:
        with atomic_path(zip_path) as tmp_zip:
            try:
                response = urllib.request.urlopen(spec.url, timeout=timeout)
            except (urllib.error.URLError, OSError) as exc:
                raise DataError(
                    f"cannot download {dataset} from {spec.url} ({exc}). If you are offline, "
                    f"unzip a copy you already have and set SBR_DATA_DIR=/path/to/{spec.zip_folder}, "
                    "or run fully offline with DATASET=synthetic."
                ) from None
            total = int(response.headers.get("Content-Length") or 0) or None
            with response, open(tmp_zip, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=f"{dataset}.zip"
            ) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            size = tmp_zip.stat().st_size
            if spec.archive_size and size != spec.archive_size:
                raise DataError(
                    f"downloaded {dataset}.zip is {size:,} bytes, the official archive is "
                    f"{spec.archive_size:,}: the download is incomplete or altered; try again."
                )
            with atomic_dir(dest) as tmp_dir:
                _unpack(tmp_zip, tmp_dir, spec)
                _check_unpacked(tmp_dir, spec)
                verify(tmp_dir, dataset, strict=True)
    finally:
        if zip_path.exists():
            zip_path.unlink()
    return dest


def _unpack(zip_path: Path, out_dir: Path, spec: DatasetSpec) -> None:
    """Extract the release's files (flattened) and its README; nothing else."""
    wanted = set(spec.files.values())
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                name = Path(member.filename).name
                keep = name in wanted or name.startswith("README") or (spec.fmt == "ml-100k" and name.startswith("u."))
                if member.is_dir() or not keep:
                    continue
                with archive.open(member) as src, open(out_dir / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile:
        raise DataError(f"{zip_path} is not a valid zip archive; delete it and download again") from None
    if not (out_dir / spec.files["ratings"]).is_file():
        raise DataError(
            f"the downloaded {spec.name} archive has no {spec.zip_folder}/{spec.files['ratings']}: "
            "it is not the official release or the download is damaged; try again."
        )


def _check_unpacked(folder: Path, spec: DatasetSpec) -> None:
    """Cheap checks of a fresh download: ratings header and complete last line."""
    path = folder / spec.files["ratings"]
    with open(path, "rb") as handle:
        head = handle.readline()
        handle.seek(max(path.stat().st_size - 1, 0))
        last = handle.read(1)
    if spec.fmt == "csv":
        check_csv_header(path, head, CSV_RATINGS_HEADER)
    if last != b"\n":
        raise DataError(f"{path}: the last line has no line end: the download is incomplete; try again.")
