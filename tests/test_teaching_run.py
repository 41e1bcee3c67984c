"""A tiny run of notebooks 01, 02, 04, 05 (synthetic-tiny, smoke profile) into a run folder: the
findings each notebook recorded say what its recorded results say, and the HTML report of the run
has working links, embedded images and the final table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import papermill as pm
import pytest
import yaml
from test_report import check_report

from sbrlib.notebook import findings
from sbrlib.pipeline import html_report as report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_eda", "02_preprocessing", "04_train_gru4rec", "05_evaluation"]
SPLIT = "synthetic-tiny-gap"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Execute the notebooks once; returns the run folder."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("teaching")
    run = base / "outputs" / "runs" / "tiny"
    mp.setenv("SBR_PROJECT_DIR", str(base))
    mp.setenv("SBR_RUN_DIR", str(run))
    mp.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend puts figures in the notebooks
    params = {**yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text()), "DATASET": "synthetic-tiny"}
    (run / "notebooks").mkdir(parents=True)
    try:
        for name in NOTEBOOKS:
            pm.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(run / "notebooks" / f"{name}.ipynb"),
                                parameters=params, cwd=str(ROOT / "notebooks"), progress_bar=False,
                                kernel_name="python3")
    finally:
        mp.undo()
    return run


def recorded(run: Path, folder: str, name: str) -> dict:
    return json.loads((run / "results" / folder / f"{name}.json").read_text())


def assert_text_matches_numbers(found: dict):
    for key, shown in found["shown"].items():
        assert shown in found["markdown"], f"{key}: {shown!r} missing from the text"


pytestmark = pytest.mark.slow


def test_eda_findings_match_the_recorded_results(run):
    res = recorded(run, "synthetic-tiny", "eda")
    found = res["findings"]
    assert_text_matches_numbers(found)
    assert found["numbers"]["tie_share"] == pytest.approx(res["tie_share"])
    assert found["numbers"]["sessions_at_chosen_gap"] == res["sessions_at_chosen_gap"]
    tie = re.search(r"([\d.]+%) of consecutive ratings", found["markdown"]).group(1)
    assert tie == findings.pct(res["tie_share"])
    sessions = re.search(r"\*\*Sessions at a [\d,]+-second gap\.\*\* ([\d,]+) sessions", found["markdown"]).group(1)
    assert sessions == findings.count(res["sessions_at_chosen_gap"])
    assert "SYNTHETIC" in found["markdown"]


def test_preprocessing_findings_match_the_recorded_counts(run):
    res = recorded(run, SPLIT, "preprocessing")
    found, counts = res["findings"], res["counts"]
    assert_text_matches_numbers(found)
    events, sessions = re.search(r"Test: ([\d,]+) events in ([\d,]+) sessions", found["markdown"]).groups()
    assert (events, sessions) == (findings.count(counts["test"]["events"]), findings.count(counts["test"]["sessions"]))
    for part in ("train", "train_tr", "valid"):
        assert found["numbers"][f"{part}_events"] == counts[part]["events"]


def test_evaluation_findings_match_the_recorded_metrics_intervals_and_comparisons(run):
    res = recorded(run, SPLIT, "metrics")
    found, table = res["findings"], res["metrics"]
    assert_text_matches_numbers(found)
    text = found["markdown"]
    for m in ("recall@20", "mrr@20"):
        best = max(table, key=lambda name: table[name][m])
        assert found["numbers"][f"leader/{m}"] == best
        label = {"recall@20": "Recall@20", "mrr@20": "MRR@20"}[m]
        leader, value = re.search(rf"\*\*\[{label}\]\([^)]*\)\*\*: \*\*([^*]+)\*\* is highest with "
                                  r"(\d\.\d{4})", text).groups()
        assert (leader, value) == (best, findings.metric(table[best][m]))
        ci = res["intervals"][f"{best}/{m}"]
        assert found["shown"][f"leader_low/{m}"] == findings.metric(ci["low"])
        assert found["shown"][f"leader_high/{m}"] == findings.metric(ci["high"])
        cmp = res["comparisons"][m]
        same = [name for name, row in cmp.items() if name != best and not row["significant"]]
        assert sorted(found["numbers"][f"indistinguishable/{m}"]) == sorted(same)
    n_pred = next(iter(table.values()))["predictions"]
    assert found["numbers"]["predictions"] == n_pred and findings.count(n_pred) in text
    assert found["numbers"]["excluded_targets"] == res["exclusion"]["excluded_targets"]
    for key, row in res["order_experiment"].items():
        model, metric_name = key.split("/")
        if metric_name.startswith("recall@"):
            assert found["shown"][f"order_change/{model}"] == findings.pct(row["change"])


def test_report_of_the_tiny_run(run):
    index = report.build(run)
    pages = check_report(index.parent)
    assert {f"{n}.html" for n in NOTEBOOKS} <= set(pages)
    html = index.read_text()
    metrics = recorded(run, SPLIT, "metrics")["metrics"]
    assert all(name in html for name in metrics) and "recall@20" in html  # the final table
    assert html.count("What we found") >= 3  # 01, 02, 05
    assert sum(s.startswith("data:image/png") for s in pages["index.html"].srcs) >= 3  # key figures
    assert any(s.startswith("data:image/png") for s in pages["05_evaluation.html"].srcs)
