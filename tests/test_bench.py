"""`make bench --quick`: every section of the benchmark runs and is written (figures are not asserted:
timings are checked by reading them, not by tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark_writes_every_section(tmp_path):
    env = dict(os.environ, SBR_PROJECT_DIR=str(tmp_path), TQDM_DISABLE="1")
    env.pop("SBR_RUN_DIR", None)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = (tmp_path / "results" / "benchmark.md").read_text()
    for section in ("## Data", "## GRU4Rec training speed", "## GRU4Rec step time against the number of items",
                    "## Models", "## SASRec training", "## Training efficiency"):
        assert section in report, section
    for model in ("Pop", "Item-kNN", "SR", "V-SKNN", "GRU4Rec"):
        assert f"| {model} |" in report, model
    assert "Total benchmark time" in report
    for row in ("GRU4Rec default", "GRU4Rec official", "SASRec"):
        assert f"| {row}" in report, row
    assert "fraction_of_peak" in report and "TensorFlow on " in report
