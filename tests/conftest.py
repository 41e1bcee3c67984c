"""Shared fixtures: tiny files in the real MovieLens formats, synthetic data, real data when present."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")
logging.getLogger("sbrlib").setLevel(logging.WARNING)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML100K = SHARED / "ml-100k"
ML1M_META = SHARED / "ml-1m-meta"

ML1M_RATINGS = (
    "1::1193::5::978300760\n1::661::3::978302109\n1::914::3::978301968\n"
    "2::1193::4::978298413\n2::661::2::978299000\n"
)
ML1M_MOVIES = (
    "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
    "914::My Fair Lady (1964)::Musical|Romance\n"
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
)
ML1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n"
ML100K_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
ML100K_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0|0|0|0|0|1|0|0|0|0|0|0|1|0|0|1|0|0\n"
    "377|Heavyweights (1994)|01-Jan-1994||http://x|0|0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)
ML100K_USER = "196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|40206\n"


def _write_folder(folder: Path, files: dict[str, str]) -> Path:
    """Write text files (latin-1, as MovieLens) into a new folder."""
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    return folder


@pytest.fixture
def ml1m_dir(tmp_path: Path) -> Path:
    """A folder with tiny files in the exact ML-1M format."""
    return _write_folder(tmp_path / "ml-1m", {"ratings.dat": ML1M_RATINGS, "movies.dat": ML1M_MOVIES,
                                              "users.dat": ML1M_USERS})


@pytest.fixture
def ml100k_dir(tmp_path: Path) -> Path:
    """A folder with tiny files in the exact ML-100K format."""
    return _write_folder(tmp_path / "ml-100k", {"u.data": ML100K_DATA, "u.item": ML100K_ITEM, "u.user": ML100K_USER})


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """The tiny synthetic preset written once per test session."""
    from sbrlib.data import synthetic

    return synthetic.write_dataset(tmp_path_factory.mktemp("synth") / "synthetic-tiny", preset="tiny")


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch, tmp_path):
    """Tests never touch the user's data/ folder or $SBR_DATA_DIR."""
    monkeypatch.delenv("SBR_DATA_DIR", raising=False)
    monkeypatch.setenv("SBR_PROJECT_DIR", str(tmp_path / "project"))


def needs(path: Path):
    """Skip marker for tests that need a folder of ../shared/data."""
    return pytest.mark.skipif(not path.is_dir(), reason=f"{path} not present")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """`python -m sbrlib.pipeline.run --dataset synthetic-tiny --profile smoke` in a fresh project folder, once
    per test session (tests/test_notebooks.py and tests/test_findings_run.py read the same run).

    Returns:
        ``(project folder, completed process)``.
    """
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    project = tmp_path_factory.mktemp("nbproject")
    env = {**os.environ, "SBR_PROJECT_DIR": str(project), "TQDM_DISABLE": "1"}
    env.pop("SBR_DATA_DIR", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # quiet must not depend on the caller's environment
    proc = subprocess.run([sys.executable, "-m", "sbrlib.pipeline.run", "--dataset", "synthetic-tiny", "--profile", "smoke",
                           "--session-mode", "gap"], cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    return project, proc
