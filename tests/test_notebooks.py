"""The notebook series on the tiny synthetic preset: `make run-all`'s driver end to end (quiet, one run
folder), then exploration as a user would do it — changed parameters, notebooks re-run one by one —
which must either stay consistent or stop with a clear message, never mix artifacts."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOISE = ("unknown parameter", "cuInit", "absl::", "cudart_stub", "Traceback", "without encryption")


def test_notebooks_are_committed_clean_and_parameterized():
    assert NOTEBOOKS, "no numbered notebooks"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{path.name} has outputs"
        tagged = [i for i, c in enumerate(code) if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        assert "DATASET" in "".join(code[tagged[0]]["source"])
        check = "".join(code[tagged[0] + 1]["source"])
        assert f'validate_notebook("{path.stem}"' in check, f"{path.name}: the cell after 'parameters' must validate them"
        for i, c in enumerate(code):  # a syntax error would otherwise surface only minutes into make run-all
            source = "\n".join(line for line in "".join(c["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
            try:
                ast.parse(source)
            except SyntaxError as exc:
                pytest.fail(f"{path.name}, code cell {i}: {exc}")
        ids = [c.get("id") for c in nb["cells"]]  # nbformat 4.5: every cell has a unique id (else a warning per run)
        assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: a cell without an id, or a repeated id"


@pytest.mark.slow
def test_run_all_on_tiny_synthetic_is_quiet_and_records_everything(smoke_run):
    project, proc = smoke_run
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    for noise in NOISE:
        assert noise not in output, f"{noise!r} printed by make run-all:\n{output[-3000:]}"
    run_dir = (project / "outputs" / "latest").resolve()
    record = json.loads((run_dir / "run.json").read_text())
    assert {nb.stem for nb in NOTEBOOKS} == set(record["notebooks"])
    assert all(v["status"] == "ok" for v in record["notebooks"].values())
    assert sorted(p.name for p in (run_dir / "notebooks").iterdir()) == [nb.name for nb in NOTEBOOKS]
    index = run_dir / "report" / "index.html"  # make run-all also writes the HTML report of the run
    assert index.is_file() and "data:image/png;base64" in index.read_text()

    results = run_dir / "results"
    eda = json.loads((results / "synthetic-tiny" / "eda.json").read_text())
    assert eda["synthetic"] is True and eda["users"] == 40
    prep = json.loads((results / "synthetic-tiny-gap" / "preprocessing.json").read_text())
    assert prep["counts"]["test"]["events"] > 0
    manifest = json.loads((project / "data" / "processed" / "synthetic-tiny-gap" / "manifest.json").read_text())
    assert prep["provenance"]["split_fingerprint"] == manifest["fingerprint"] == record["split_fingerprint"]
    training = json.loads((results / "synthetic-tiny-gap" / "gru4rec_training.json").read_text())
    assert training["best_epoch"] >= 1 and training["events_per_second"] > 0
    facts = training["training_facts"]  # why and when the one training loop stopped
    assert facts["stopped_by"] in ("epochs", "patience", "budget") and facts["best_epoch"] == training["best_epoch"]
    assert facts["epochs_run"] >= facts["best_epoch"] and facts["metric"] == training["metric"]
    assert training["provenance"]["split_fingerprint"] == manifest["fingerprint"]
    model_dir = run_dir / "models" / "synthetic-tiny-gap-gru4rec"
    assert (model_dir / "weights.npz").is_file()
    assert not (project / "models").exists() and not (project / "results").exists()  # nothing outside the run

    metrics = json.loads((results / "synthetic-tiny-gap" / "metrics.json").read_text())
    assert metrics["provenance"]["split_fingerprint"] == manifest["fingerprint"]
    assert metrics["provenance"]["run"] == run_dir.name
    table = metrics["metrics"]
    assert {"Pop", "S-Pop", "Item-kNN", "Markov", "SR", "V-SKNN", "GRU4Rec"} <= set(table)
    assert len({row["predictions"] for row in table.values()}) == 1  # every model judged on the same predictions
    for row in table.values():
        assert 0.0 <= row["recall@20"] <= 1.0 and row["mrr@20"] <= row["recall@20"]
    # the planted sequential structure: order-aware models beat popularity (tolerance: 81 predictions)
    assert table["SR"]["mrr@20"] > table["Pop"]["mrr@20"]

    # train once across the series: 07's temporal protocol uses 04's GRU4Rec and 05's baselines, one number each
    seq = json.loads((results / "synthetic-tiny-sequential" / "sequential_models.json").read_text())
    assert seq["reused"]["GRU4Rec"].startswith("notebook 04's GRU4Rec is reused as trained")
    assert seq["reused"]["baselines"].startswith("baselines fitted again exactly as notebook 05")
    for name in ("GRU4Rec", "SR", "Item-kNN"):
        assert seq["metrics"][f"temporal session split/{name}"]["recall@20"] == pytest.approx(table[name]["recall@20"])


def _execute(project: Path, stem: str, **params) -> None:
    nb = ROOT / "notebooks" / f"{stem}.ipynb"
    out = project / "explore" / f"{stem}-{len(list((project / 'explore').glob('*')))}.ipynb"
    pm.execute_notebook(str(nb), str(out), parameters={"DATASET": "synthetic-tiny", **params}, cwd=str(nb.parent),
                        progress_bar=False, kernel_name="python3")


@pytest.mark.slow
def test_exploring_never_mixes_artifacts(smoke_run, monkeypatch):
    """Interactive use (no run folder): change parameters, re-run notebooks one by one in any order."""
    project, proc = smoke_run
    assert proc.returncode == 0
    monkeypatch.setenv("SBR_PROJECT_DIR", str(project))
    monkeypatch.delenv("SBR_RUN_DIR", raising=False)
    (project / "explore").mkdir()
    smoke = {"EPOCHS": 1, "LAYERS": [16], "BATCH_SIZE": 8, "N_SAMPLE": 8, "EARLY_STOPPING_PATIENCE": None}
    _execute(project, "02_preprocessing")
    _execute(project, "04_train_gru4rec", **smoke, LOSS="bpr-max")
    default_split = project / "data" / "processed" / "synthetic-tiny-gap"
    stamp = {p.name: p.stat().st_mtime_ns for p in default_split.iterdir()}
    model = project / "models" / "synthetic-tiny-gap-gru4rec"
    weights = (model / "weights.npz").read_bytes()

    # another gap under the default split name: refused, the split untouched
    with pytest.raises(pm.PapermillExecutionError, match=r"session_gap: 3600 -> 600"):
        _execute(project, "02_preprocessing", SESSION_GAP=600, SPLIT_NAME="synthetic-tiny-gap")
    assert {p.name: p.stat().st_mtime_ns for p in default_split.iterdir()} == stamp
    # another gap with the name left empty: a new split named after its parameters
    _execute(project, "02_preprocessing", SESSION_GAP=600)
    new = [p.name for p in (project / "data" / "processed").iterdir() if p.name.startswith("synthetic-tiny-gap-")]
    assert len(new) == 1
    # evaluating the default model on the new split: refused, naming both splits
    with pytest.raises(pm.PapermillExecutionError, match=r"trained on split synthetic-tiny-gap .*" + new[0]):
        _execute(project, "05_evaluation", SPLIT_NAME=new[0], MODEL_NAME="synthetic-tiny-gap-gru4rec",
                 ORDER_EXPERIMENT=False)
    # training another loss under the default model name: refused before training, the model untouched
    with pytest.raises(pm.PapermillExecutionError, match=r"loss: 'bpr-max' -> 'cross-entropy'"):
        _execute(project, "04_train_gru4rec", **smoke, LOSS="cross-entropy")
    assert (model / "weights.npz").read_bytes() == weights
    # a bad parameter stops the notebook in its first cells with one clear line
    with pytest.raises(pm.PapermillExecutionError, match=r"EPOCHS = 0: must be None or an integer >= 1"):
        _execute(project, "04_train_gru4rec", **{**smoke, "EPOCHS": 0})
