"""Record results (JSON and CSV) for notebooks, tests and benchmarks, atomically.

Every record says what it was made from: ``provenance`` (split and model fingerprints, the run it
belongs to) is stored in the JSON next to the numbers. The CSV is written first and the JSON last,
with the CSV's SHA-256 inside, so a JSON never describes a table from another run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sbrlib.core import paths
from sbrlib.core.fileio import atomic_path, sha256_file, write_json


def record(folder: str | Path, name: str, payload: dict[str, Any], table: pd.DataFrame | None = None,
           provenance: dict[str, Any] | None = None) -> Path:
    """Write ``<folder>/<name>.json`` (and ``<name>.csv`` when ``table`` is given), atomically.

    Args:
        folder: destination folder (use :func:`sbrlib.core.paths.results_dir`).
        name: file stem.
        payload: JSON-serializable results.
        table: optional table written as CSV.
        provenance: what the results were made from (split/model names and fingerprints); the
            current run folder (``$SBR_RUN_DIR``) is added automatically.

    Returns:
        The JSON path.
    """
    folder = Path(folder)
    path = folder / f"{name}.json"
    prov = dict(provenance or {})
    run = paths.run_dir()
    prov.setdefault("run", run.name if run else None)
    prov.setdefault("recorded", datetime.now(UTC).isoformat(timespec="seconds"))
    if table is not None:
        csv_path = folder / f"{name}.csv"
        with atomic_path(csv_path) as tmp:
            table.to_csv(tmp)
        prov["csv_sha256"] = sha256_file(csv_path)
    write_json(path, {**payload, "provenance": prov})
    return path


def read(folder: str | Path, name: str) -> dict[str, Any]:
    """Read ``<folder>/<name>.json``."""
    return json.loads((Path(folder) / f"{name}.json").read_text())


def to_markdown(table: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub Markdown table (no extra dependency)."""
    cols = [str(table.index.name or "")] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in table.iterrows():
        cells = [str(idx)] + [_cell(v, floatfmt) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10:
        return f"{int(value):,}"  # counts stored as floats
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value)
