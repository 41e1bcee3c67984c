"""Every notebook of a tiny run ends with computed findings that agree with what the run recorded.

Reads the run of ``tests/conftest.py``'s ``smoke_run`` (``python -m sbrlib.pipeline.run --dataset
synthetic-tiny --profile smoke``; shared with tests/test_notebooks.py, not run again) and checks,
for each of the eight notebooks: a cell tagged ``findings`` with Markdown output; that output is the
text recorded with the results; every number shown is in the text; the numbers equal the recorded
results; method sentences (tuned or default and from how many trials, refit or not, why training
stopped, which data each model saw) agree with the recorded run facts. Then the HTML report's
index shows all eight and every page links back to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sbrlib.notebook import findings

pytestmark = pytest.mark.slow

STEMS = ["00_what_went_wrong", "01_eda", "02_preprocessing", "03_tuning", "04_train_gru4rec", "05_evaluation",
         "06_try_it", "07_sequential_models"]
RECORDS = {  # notebook -> (results folder, record name)
    "00_what_went_wrong": ("synthetic-tiny", "what_went_wrong"),
    "01_eda": ("synthetic-tiny", "eda"),
    "02_preprocessing": ("synthetic-tiny-gap", "preprocessing"),
    "03_tuning": ("synthetic-tiny-gap", "tuning"),
    "04_train_gru4rec": ("synthetic-tiny-gap", "gru4rec_training"),
    "05_evaluation": ("synthetic-tiny-gap", "metrics"),
    "06_try_it": ("synthetic-tiny-gap", "try_it"),
    "07_sequential_models": ("synthetic-tiny-sequential", "sequential_models"),
}


@pytest.fixture(scope="module")
def run_dir(smoke_run) -> Path:
    project, proc = smoke_run
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return (project / "outputs" / "latest").resolve()


def record(run_dir: Path, stem: str) -> dict:
    folder, name = RECORDS[stem]
    return json.loads((run_dir / "results" / folder / f"{name}.json").read_text())


def findings_output(run_dir: Path, stem: str) -> str:
    """The Markdown output of the notebook's cell tagged ``findings`` (exactly one such cell)."""
    nb = json.loads((run_dir / "notebooks" / f"{stem}.ipynb").read_text())
    cells = [c for c in nb["cells"] if "findings" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{stem}: {len(cells)} cells tagged 'findings'"
    outs = [o["data"]["text/markdown"] for o in cells[0]["outputs"] if "text/markdown" in o.get("data", {})]
    assert outs, f"{stem}: the findings cell has no Markdown output"
    return "".join(outs[0]) if isinstance(outs[0], list) else outs[0]


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_ends_with_the_findings_it_recorded(run_dir, stem):
    shown = findings_output(run_dir, stem)
    found = record(run_dir, stem)["findings"]
    assert shown == found["markdown"], f"{stem}: the notebook shows other findings than it recorded"
    assert found["markdown"].startswith("## What we found")
    for key, text in found["shown"].items():
        assert text in found["markdown"], f"{stem}: {key} shown as {text!r} is missing from the text"
    assert "SYNTHETIC" in found["markdown"]  # the tiny run is synthetic, every notebook must say so
    nb = json.loads((run_dir / "notebooks" / f"{stem}.ipynb").read_text())
    last = "".join(nb["cells"][-1]["source"])
    assert "reporting.record(" in last, f"{stem}: the last cell must record the results"


def test_00_numbers_are_the_measured_ones(run_dir):
    res = record(run_dir, "00_what_went_wrong")
    n = res["findings"]["numbers"]
    row, fixed = res["time"]["row-index time (original)"], res["time"]["sbrlib (user mode, real-time cutoff)"]
    assert n["row_test_ends_first"] == row["test_ends_first"]
    assert n["fixed_test_ends_first"] == fixed["test_ends_first"]
    assert n["rating_dropped"] == res["rating_filter"]["dropped"]
    assert n["loader_steps"] == res["loader"]["original, idx - 1 offsets"]["steps"]
    assert n["gap_sessions_unfiltered"] == res["sessions_unfiltered"]["sessions"] >= n["gap_sessions"]
    summary = (run_dir / "results" / "synthetic-tiny" / "what_went_wrong.csv").read_text()
    # the summary table and the findings show the same share, with the same precision
    assert f"{row['test_ends_first']:.1%} of pairs" in summary
    assert f"{row['test_ends_first']:.1%} of (test, training) pairs" in res["findings"]["markdown"]


def test_03_states_trial_counts_and_ranks_only_equal_searches(run_dir):
    res = record(run_dir, "03_tuning")
    found, searched = res["findings"], res["searched"]
    from sbrlib.tuning import MODEL_NAMES

    for model, trials in res["trials"].items():
        name = MODEL_NAMES[model]
        assert found["numbers"][f"trials/{name}"] == searched[name]["n_trials"] == trials
        if model in res["best_valid"]:
            assert found["numbers"][f"best_valid/{name}"] == pytest.approx(res["best_valid"][model])
        if trials == 1:
            assert "not** a search result" in found["markdown"]
    counts = {f["n_trials"] for f in searched.values() if f["best_valid"] is not None}
    if len(counts) > 1:
        assert "unequal trial counts" in found["markdown"] and "highest validation" not in found["markdown"]
    assert "seed noise" in found["markdown"].lower() and "was not measured" in found["markdown"]


def test_04_method_sentences_follow_the_training_facts(run_dir):
    res = record(run_dir, "04_train_gru4rec")
    found, facts, config = res["findings"], res["training_facts"], res["config_facts"]
    text, n = found["markdown"], found["numbers"]
    history = (run_dir / "results" / "synthetic-tiny-gap" / "gru4rec_training.csv").read_text().strip().splitlines()
    assert n["epochs_run"] == facts["epochs_run"] == len(history) - 1
    assert n["best_epoch"] == facts["best_epoch"] == res["best_epoch"]
    assert n["valid_mrr"] == pytest.approx(res["valid_mrr@20"]) and n["valid_recall"] == pytest.approx(res["valid_recall@20"])
    assert findings.STOP_WORDS[facts["stopped_by"]].split(" (")[0] in text
    assert ("still improving" in text) == facts["still_improving"]
    if not res["refit"]:
        assert "not retrained on `train`" in text and "Retrained on" not in text
    else:
        assert "Retrained on the whole training split" in text
    assert n["reused_trial"] == res["reused"]  # trained here or 03's trial reused: said, never hedged
    if res["reused"]:
        assert "nothing was trained in this notebook" in text and "(done in this notebook)" not in text
    else:
        assert "(done in this notebook)" in text and "nothing was trained in this notebook" not in text
    assert "says which" not in text
    assert config["source"] == n["config_source"]
    if config["source"] == "tuned":
        assert config["n_trials"] > 1 and f"best of {config['n_trials']:,} trials" in text
    elif config["source"] == "defaults-kept":  # the search did not beat the defaults: never called tuned
        assert config["n_trials"] > 1 and f"search of {config['n_trials']:,} trials" in text and "did not beat it" in text
        assert "tuned" not in n["config_source"]
    elif config["source"] == "single-trial":
        assert "a single search trial" in text and "not a search result" in text and "best of" not in text
    else:
        assert "best of" not in text


def test_06_states_what_the_run_showed(run_dir):
    res = record(run_dir, "06_try_it")
    found = res["findings"]
    n = found["numbers"]
    assert n["session_length"] == len(res["session"])
    for name, recs in res["recommendations"].items():
        assert n[f"fitted_on/{name}"] == res["fitted_on"][name]
        if res["later"]:
            assert n[f"later_hits/{name}"] == len(set(recs) & set(res["later"]))
    if res["later"]:  # the next movie is counted apart from every later one
        assert sorted(n["next_hits"]) == sorted(name for name, recs in res["recommendations"].items()
                                                if res["later"][0] in recs)  # the lists' order, not the record's
        assert "Against what the user rated next" not in found["markdown"]
    if len(set(res["fitted_on"].values())) > 1:
        assert "All saw the same events" not in found["markdown"]
    assert "strong" not in found["markdown"]


def test_07_method_sentences_follow_the_recorded_run_facts(run_dir):
    res = record(run_dir, "07_sequential_models")
    text, n = res["findings"]["markdown"], res["findings"]["numbers"]
    if res["refit"]:
        assert "then **refit** on `train`" in text
    else:
        assert "**not refit**" in text and "then **refit**" not in text
    for name, config in res["config_facts"].items():
        assert findings.config_sentence(name, config) in text
        if config["source"] != "tuned":
            assert f"{name}: the best of" not in text
    for label, per_model in res["training_facts"].items():
        label_text = {"temporal": "temporal session split", "loo": "leave-one-out"}[label]
        metrics = {r.split("/")[1]: v for r, v in res["metrics"].items() if r.startswith(label_text + "/")}
        for name, facts in per_model.items():
            assert facts["epochs_run"] == int(metrics[name]["epochs_run"])
            assert f"{name} ran {facts['epochs_run']:,} of at most {facts['max_epochs']:,} epochs" in text
            assert n[f"stopped_by/{label_text}/{name}"] == facts["stopped_by"]
        if len(per_model) > 1:  # one stopping rule or not, from the training records
            rules = {(f["patience"], f["max_epochs"]) for f in per_model.values()}
            assert n[f"one_rule/{label_text}"] == (len(rules) == 1)
            if len(rules) > 1:  # "favours X" only when replaying X's curve under the shorter rule changes its epoch
                favoured = n[f"favoured_by_rule/{label_text}"]
                assert all(n[f"kept_under_other_rule/{label_text}/{m}"] != per_model[m]["best_epoch"] for m in favoured)
        for facts in per_model.values():  # the recorded curve replays the run's own stop
            if facts.get("curve") and facts["stopped_by"] in ("patience", "epochs"):
                assert findings.kept_epoch_under(facts["curve"], facts["patience"], facts["max_epochs"]) == (
                    facts["best_epoch"], facts["epochs_run"])
        problems = n[f"unfair/{label_text}"]
        assert ("not a fair contest" in text) == any(n[k] for k in n if k.startswith("unfair/"))
        if problems:
            assert f"**{label_text}**" in text and "no model is declared the winner" in text


def test_report_index_shows_every_notebooks_findings_and_pages_link_back(run_dir):
    report = run_dir / "report"
    index = (report / "index.html").read_text()
    for stem in STEMS:
        section = re.search(rf'<h2 id="{stem}"><a href="{stem}.html">.*?(?=<h2 id=|</body>)', index, re.S)
        assert section, f"{stem}: no section on the index"
        assert 'class="finding"' in section.group(0), f"{stem}: no findings on the index"
        page = (report / f"{stem}.html").read_text()
        assert 'href="index.html"' in page, f"{stem}.html does not link back to the index"


def outputs_text(run_dir: Path, stem: str) -> str:
    """Every printed or displayed text of an executed notebook."""
    nb = json.loads((run_dir / "notebooks" / f"{stem}.ipynb").read_text())
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/markdown") or out.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "\n".join(parts)


@pytest.mark.parametrize("stem", ["03_tuning", "04_train_gru4rec", "05_evaluation", "07_sequential_models"])
def test_notebooks_that_validate_state_the_seen_items_setting_of_valid_and_test(run_dir, stem):
    text = outputs_text(run_dir, stem)
    assert "on `valid` and `test`.** Validation \u2014" in text and "Test \u2014" in text, stem
    assert "exclude_seen=\\\"" in text or 'exclude_seen="' in text


def test_a_single_trial_is_never_called_tuned_in_any_output(run_dir):
    for stem in STEMS:
        text = outputs_text(run_dir, stem)
        assert not re.search(r"tuned: (a single|one search) trial", text), stem
        assert "tuned against tuned" not in text, stem


@pytest.mark.parametrize("stem", ["05_evaluation", "07_sequential_models"])
def test_the_multiple_comparison_caveat_counts_the_recorded_comparisons(run_dir, stem):
    found = record(run_dir, stem)["findings"]
    n = found["numbers"]
    if n["comparisons/n"]:
        assert f"This run made {n['comparisons/n']:,} paired comparison" in found["markdown"]
        assert (f"{n['comparisons/holm']:,} survive [Holm" in found["markdown"]
                or "cannot tell which comparisons pass either correction" in found["markdown"])
        assert n["comparisons/holm"] <= n["comparisons/raw"] <= n["comparisons/n"]
