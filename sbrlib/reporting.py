"""Record results (JSON and CSV) for notebooks, tests and benchmarks, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sbrlib.fileio import atomic_path, write_json


def record(folder: str | Path, name: str, payload: dict[str, Any], table: pd.DataFrame | None = None) -> Path:
    """Write ``<folder>/<name>.json`` (and ``<name>.csv`` when ``table`` is given).

    Returns:
        The JSON path.
    """
    folder = Path(folder)
    path = folder / f"{name}.json"
    write_json(path, payload)
    if table is not None:
        with atomic_path(folder / f"{name}.csv") as tmp:
            table.to_csv(tmp)
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
