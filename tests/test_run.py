"""make run-all's driver: everything checked before any work, one folder per run, resume with FROM."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from sbrlib.core import checks
from sbrlib.notebook.params import SPECS
from sbrlib.pipeline import run

ROOT = Path(__file__).resolve().parents[1]


def _plan(**kw):
    args = {"dataset": "synthetic-tiny", "profile": "smoke", "session_mode": "gap", "data_dir": "", "start": None,
            "project": ROOT}
    return run.plan(**{**args, **kw})


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "params").glob("*.yaml")))
def test_every_shipped_profile_passes_the_checks(profile):
    planned = _plan(dataset="synthetic", profile=profile)
    assert [nb.name for nb, _ in planned] == [nb.name for nb in run.notebooks(ROOT / "notebooks")]
    entries = run.load_profile(profile, ROOT / "params")
    for key, value in entries.items():  # every entry reaches at least one notebook, unchanged
        assert any(params.get(key) == value for _, params in planned), key


def test_every_notebook_parameter_has_a_spec_and_every_spec_entry_a_parameter():
    for nb in run.notebooks(ROOT / "notebooks"):
        declared = set(run.declared_parameters(nb))
        assert nb.stem in SPECS, f"{nb.name} has no spec in sbrlib/notebook/params.py"
        assert declared == set(SPECS[nb.stem]), (nb.name, declared ^ set(SPECS[nb.stem]))
        checks.validate(run.declared_parameters(nb), SPECS[nb.stem], nb.stem)  # the defaults are valid


def test_plan_passes_each_notebook_only_its_parameters():
    todo = _plan()
    assert [nb.stem for nb, _ in todo] == [nb.stem for nb in run.notebooks(ROOT / "notebooks")]
    for nb, params in todo:
        assert set(params) <= set(run.declared_parameters(nb)), nb.name
        if "SPLIT_NAME" in run.declared_parameters(nb):
            assert params["SPLIT_NAME"] == "synthetic-tiny-gap"
    assert [nb.stem for nb, _ in _plan(start="02")][0] == "02_preprocessing"


@pytest.mark.parametrize("kw, message", [
    ({"profile": "smok"}, "PROFILE=smok (did you mean smoke?): no such profile; available: "),
    ({"session_mode": "users"}, "SESSION_MODE=users (did you mean user?): must be one of gap, user"),
    ({"dataset": "ml1m"}, "DATASET=ml1m (did you mean ml-1m"),
    ({"start": "09"}, "FROM=09: no such notebook"),
])
def test_plan_refuses_typos_with_one_line(kw, message):
    with pytest.raises(run.RunError) as err:
        _plan(**kw)
    assert message in str(err.value) and len(str(err.value).splitlines()) == 1


def _source_with_profile(tmp_path, entries):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "notebooks", src / "notebooks")
    (src / "params").mkdir()
    (src / "params" / "bad.yaml").write_text(yaml.safe_dump(entries))
    return src


def test_plan_checks_every_profile_entry_before_running(tmp_path):
    src = _source_with_profile(tmp_path, {"EPOCHS": 0, "LAYERS": 100, "EPOCH": 3})
    with pytest.raises(run.RunError) as err:
        _plan(profile="bad", project=src)
    text = str(err.value)
    assert "EPOCH (did you mean EPOCHS" in text and "no notebook declares this parameter" in text
    assert "04_train_gru4rec (profile bad): EPOCHS = 0: must be None or an integer >= 1" in text
    assert "LAYERS = 100: must be None or a list of integers" in text


def _tiny_notebook(path: Path, body: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('DATASET = "synthetic-tiny"\nDATA_DIR = ""\nFAIL = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.mark.slow
def test_interrupted_run_then_resume_from_leaves_one_consistent_folder(tmp_path, monkeypatch):
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "params").mkdir()
    (src / "params" / "p.yaml").write_text("FAIL: false\n")
    write = "import os, pathlib; pathlib.Path(os.environ['SBR_RUN_DIR'], '{name}.txt').write_text('done')"
    _tiny_notebook(src / "notebooks" / "01_a.ipynb", write.format(name="a"))
    _tiny_notebook(src / "notebooks" / "02_b.ipynb", "assert not FAIL, 'asked to fail'\n" + write.format(name="b"))
    spec = {"DATASET": checks.text(), "DATA_DIR": checks.text(), "FAIL": checks.boolean()}
    monkeypatch.setattr(run, "SPECS", {"01_a": spec, "02_b": spec})
    project = tmp_path / "project"
    monkeypatch.delenv("SBR_RUN_DIR", raising=False)

    # a failing notebook: one line naming it and its executed copy
    (src / "params" / "p.yaml").write_text("FAIL: true\n")
    with pytest.raises(run.RunError, match=r"\*\*\* FAILED: 02_b.ipynb: AssertionError: asked to fail\n.*executed copy"):
        run.run("synthetic-tiny", "p", "gap", project=project, source=src)
    first = sorted((project / "outputs" / "runs").iterdir())
    outputs = project / "outputs"
    # a failed run is not "latest" (recommend and the report use that): it has its own pointer
    assert len(first) == 1 and (outputs / "last-failed").resolve() == first[0].resolve()
    assert not (outputs / "latest").exists() and not (outputs / "current").exists()
    record = json.loads((first[0] / "run.json").read_text())
    assert record["notebooks"]["01_a"]["status"] == "ok" and record["notebooks"]["02_b"]["status"] == "failed"
    assert record["status"] == "failed" and "finished" not in record

    # resume from 02 after fixing the cause: same folder, the failed copy replaced, 01 untouched
    (src / "params" / "p.yaml").write_text("FAIL: false\n")
    a_copy = first[0] / "notebooks" / "01_a.ipynb"
    a_mtime = a_copy.stat().st_mtime_ns
    resumed = run.run("synthetic-tiny", "p", "gap", start="02", project=project, source=src)
    assert "SBR_RUN_DIR" not in os.environ  # the run's environment is not left behind for the caller
    assert resumed == first[0] and a_copy.stat().st_mtime_ns == a_mtime
    record = json.loads((resumed / "run.json").read_text())
    assert {k: v["status"] for k, v in record["notebooks"].items()} == {"01_a": "ok", "02_b": "ok"}
    assert (resumed / "a.txt").is_file() and (resumed / "b.txt").is_file() and "finished" in record
    assert record["status"] == "completed" and (outputs / "latest").resolve() == first[0].resolve()
    assert not (outputs / "last-failed").exists()  # the failure it pointed at is repaired

    # an interrupted run: one line saying how to resume, status recorded
    import papermill as pm

    real = pm.execute_notebook

    def interrupt_second(input_path, *args, **kw):
        if "02_b" in str(input_path):
            raise KeyboardInterrupt
        return real(input_path, *args, **kw)

    monkeypatch.setattr(pm, "execute_notebook", interrupt_second)
    with pytest.raises(run.RunInterrupted, match=r"interrupted in 02_b.ipynb.*FROM=02"):
        run.run("synthetic-tiny", "p", "gap", project=project, source=src)
    interrupted = (outputs / "last-failed").resolve()
    assert interrupted != first[0].resolve() and (outputs / "latest").resolve() == first[0].resolve()
    record = json.loads((interrupted / "run.json").read_text())
    assert record["notebooks"]["02_b"]["status"] == "interrupted" and record["status"] == "interrupted"
    monkeypatch.setattr(pm, "execute_notebook", real)
    again = run.run("synthetic-tiny", "p", "gap", start="02", project=project, source=src)
    assert again.resolve() == interrupted and (outputs / "latest").resolve() == interrupted
    assert sorted(p.name for p in (again / "notebooks").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]


def test_resume_without_an_earlier_run_is_refused(tmp_path):
    with pytest.raises(run.RunError, match="no earlier run of DATASET=synthetic-tiny"):
        run.run("synthetic-tiny", "smoke", "gap", start="04", project=tmp_path)


# --------------------------------------------------------------------------- the terminal tells the truth

def _executed_notebook(path: Path, stderr_cells: list[list[str]]) -> Path:
    cells = [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": i, "outputs": [
        {"output_type": "stream", "name": "stderr", "text": text} for text in texts]}
        for i, texts in enumerate(stderr_cells)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_warnings_printed_in_the_notebooks_are_collected_grouped_and_without_their_source_line(tmp_path):
    src = tmp_path / "lib.py"
    src.write_text("import warnings\n\nwarnings.warn(msg, DataWarning, stacklevel=2)\n")
    data = f"{src}:3: DataWarning: ratings.dat: 99 ratings, the release has 100\n  warnings.warn(msg, DataWarning, stacklevel=2)\n"
    multi = f"{src}:3: UserWarning: first line\n  second line of the message\n  warnings.warn(msg, DataWarning, stacklevel=2)\n"
    bar = "training:  40%|####      | 4/10 [00:01<00:02, 3.1it/s]\r"
    nb = _executed_notebook(tmp_path / "03_x.ipynb", [[data], [bar, data, "INFO sbrlib: done\n"], [multi]])
    found = run.notebook_warnings(nb)
    assert found == [
        {"category": "DataWarning", "message": "ratings.dat: 99 ratings, the release has 100", "count": 2},
        {"category": "UserWarning", "message": "first line\n  second line of the message", "count": 1},
    ]
    text = run.format_warnings({"notebooks": {"03_x": {"warnings": found}, "04_y": {"warnings": []}}})
    assert text.splitlines()[0].startswith("warnings raised inside the notebooks (2;")
    assert "  03_x: DataWarning (x2): ratings.dat: 99 ratings, the release has 100" in text
    assert text.count("DataWarning") == 1 and "second line of the message" in text
    assert run.notebook_warnings(tmp_path / "missing.ipynb") == []
    assert run.format_warnings({"notebooks": {"04_y": {"warnings": []}}}) == ""


def test_an_error_is_shown_with_every_line_of_its_message():
    evalue = ("split x (data/processed/x) exists and was made differently:\n  session_gap: 3600 -> 600\n"
              "Choose another SPLIT_NAME")
    text = run.error_text("ProvenanceError", evalue)
    assert text.splitlines() == ["ProvenanceError: split x (data/processed/x) exists and was made differently:",
                                 "      session_gap: 3600 -> 600", "    Choose another SPLIT_NAME"]


def test_split_name_advice_never_suggests_the_name_it_refused(tiny_dir):
    from sbrlib.core.provenance import ProvenanceError
    from sbrlib.data import preprocess
    from sbrlib.data import store as artifacts

    small = dict(min_item_support=2, test=preprocess.SplitConfig(fraction=0.2),
                 valid=preprocess.SplitConfig(fraction=0.2))
    wanted, other = preprocess.PreprocessConfig(**small), preprocess.PreprocessConfig(**small, session_gap=600)
    default = artifacts.split_name("synthetic-tiny", wanted)
    # the name these parameters get by default holds a split made with other parameters
    artifacts.prepare("synthetic-tiny", other, name=default, data_dir=tiny_dir)
    with pytest.raises(ProvenanceError) as err:
        artifacts.prepare("synthetic-tiny", wanted, data_dir=tiny_dir)  # SPLIT_NAME left empty
    text = str(err.value)
    assert "session_gap: 600 -> 3600" in text and "Leave SPLIT_NAME empty" not in text
    suggested = text.split("SPLIT_NAME=")[1].split(";")[0]
    assert suggested != default and suggested.startswith(default) and "FORCE=True" in text
    split, folder = artifacts.prepare("synthetic-tiny", wanted, name=suggested, data_dir=tiny_dir)  # advice works
    assert folder.name == suggested

    # another name refused while the default name is free: leaving SPLIT_NAME empty is right there
    artifacts.prepare("synthetic-tiny", other, name="mine", data_dir=tiny_dir)
    fresh = preprocess.PreprocessConfig(**small, session_gap=1200)
    with pytest.raises(ProvenanceError, match=r"Leave SPLIT_NAME empty to get a split named after these "
                                              rf"parameters \({artifacts.split_name('synthetic-tiny', fresh)}\)"):
        artifacts.prepare("synthetic-tiny", fresh, name="mine", data_dir=tiny_dir)


# --------------------------------------------------------------------------- the time plan

def _fake_run(outputs: Path, name: str, seconds: dict, events: int | None = 1000, finished=True, **key) -> Path:
    folder = outputs / "runs" / name
    folder.mkdir(parents=True)
    from sbrlib.pipeline import timeplan

    record = {"dataset": "synthetic-tiny", "session_mode": "gap", "profile": "smoke",
              "code": timeplan.code_fingerprint(), **key,
              "notebooks": {k: {"status": "ok", "seconds": v} for k, v in seconds.items()},
              "split_events": events}
    if finished:
        record["finished"] = "x"
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_time_plan_uses_the_last_completed_run_of_the_same_kind_scaled_by_the_data(tmp_path, monkeypatch):
    from sbrlib.pipeline import timeplan

    outputs = tmp_path / "outputs"
    todo = _plan()
    seconds = {nb.stem: 10.0 * (i + 1) for i, (nb, _) in enumerate(todo)}
    _fake_run(outputs, "20260101-000000", seconds)
    _fake_run(outputs, "20260102-000000", {k: 999.0 for k in seconds}, profile="full")  # another profile
    _fake_run(outputs, "20260103-000000", {k: 555.0 for k in seconds}, finished=False)  # not completed
    plan = timeplan.estimate(todo, "synthetic-tiny", "smoke", "gap", outputs,  # no split on disk yet
                             calibration=timeplan.Calibration(1.0))  # a calibration must not matter here
    assert plan.seconds_by_notebook == seconds and plan.total == sum(seconds.values())
    assert plan.source == "last completed run 20260101-000000" and plan.calibration is None

    monkeypatch.setattr(timeplan, "split_events", lambda split: 1000)  # the same split size
    assert timeplan.estimate(todo, "synthetic-tiny", "smoke", "gap", outputs).seconds_by_notebook == seconds
    monkeypatch.setattr(timeplan, "split_events", lambda split: 3000)  # three times the data
    plan = timeplan.estimate(todo, "synthetic-tiny", "smoke", "gap", outputs)
    assert plan.seconds_by_notebook == {k: 3 * v for k, v in seconds.items()} and "scaled x3.00" in plan.source
    text = plan.text()
    assert "time plan (last completed run 20260101-000000" in text and "total" in text
    assert "PROFILE=fast" in text  # how to make it shorter


def test_time_plan_reuses_a_run_s_seconds_only_when_it_was_made_with_the_same_code(tmp_path):
    from sbrlib.pipeline import timeplan

    outputs = tmp_path / "outputs"
    todo = _plan()
    _fake_run(outputs, "20260101-000000", {nb.stem: 10.0 for nb, _ in todo}, code="0123456789abcdef")
    plan = timeplan.estimate(todo, "synthetic-tiny", "smoke", "gap", outputs,
                             calibration=timeplan.Calibration(timeplan.REFERENCE_GFLOPS))
    assert plan.source == "model" and any("made with other code" in n and "20260101-000000" in n for n in plan.notes)
    # the fingerprint follows the source: one changed byte in a notebook changes it
    root = tmp_path / "tree"
    (root / "sbrlib").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "sbrlib" / "a.py").write_text("x = 1\n")
    (root / "notebooks" / "00.ipynb").write_text("{}")
    first = timeplan.code_fingerprint(root)
    assert timeplan.code_fingerprint(root) == first
    (root / "notebooks" / "00.ipynb").write_text("{ }")
    assert timeplan.code_fingerprint(root) != first


def test_time_plan_model_follows_data_size_parameters_machine_speed_and_budgets(tmp_path):
    from sbrlib.pipeline import timeplan

    ref = timeplan.Calibration(timeplan.REFERENCE_GFLOPS)
    slow = timeplan.Calibration(timeplan.REFERENCE_GFLOPS / 2)
    p04 = {"EPOCHS": 10, "CONFIG": "tuned"}
    at_reference = timeplan.model_seconds("04_train_gru4rec", p04, timeplan.REFERENCE_EVENTS, ref)
    r04 = timeplan.REFERENCES["04_train_gru4rec"]
    assert at_reference == pytest.approx(r04.fixed_s + r04.work_s)
    twice_epochs = timeplan.model_seconds("04_train_gru4rec", {**p04, "EPOCHS": 20}, timeplan.REFERENCE_EVENTS, ref)
    assert twice_epochs == pytest.approx(r04.fixed_s + 2 * r04.work_s)
    on_slow = timeplan.model_seconds("04_train_gru4rec", p04, timeplan.REFERENCE_EVENTS, slow)
    assert on_slow == pytest.approx(r04.fixed_s + 2 * r04.work_s)
    bigger = timeplan.model_seconds("04_train_gru4rec", p04, 10 * timeplan.REFERENCE_EVENTS, ref)
    assert at_reference < bigger < 10 * at_reference
    fast = timeplan.model_seconds("04_train_gru4rec", {**p04, "CONFIG": "official"}, timeplan.REFERENCE_EVENTS, ref)
    assert fast < at_reference

    # a budgeted notebook never exceeds its budget, however large or slow
    r03 = timeplan.REFERENCES["03_tuning"]
    huge = 1000 * timeplan.REFERENCE_EVENTS
    p03 = {"TUNE_MINUTES": 3.0, "TUNE_TRIALS": 40}
    assert timeplan._budgeted_seconds("03_tuning", p03, 1000.0) == 180.0
    assert timeplan.model_seconds("03_tuning", p03, huge, slow) == pytest.approx(
        r03.fixed_s + r03.work_s * (huge / timeplan.REFERENCE_EVENTS) ** r03.exponent * 2 + 180.0)
    p07 = {"MODELS": ["sr", "gru4rec", "sasrec"], "PROTOCOLS": ["temporal", "loo"], "FIT_MINUTES": 2}
    # four neural fits, less the temporal GRU4Rec that 07 takes from notebook 04 (REUSE, the default)
    assert timeplan._budgeted_seconds("07_sequential_models", p07, 1000.0) == 3 * 120.0
    assert timeplan._budgeted_seconds("07_sequential_models", {**p07, "REUSE": False}, 1000.0) == 4 * 120.0
    assert timeplan._budgeted_seconds("07_sequential_models", {**p07, "MODELS": ["SR", "GRU4Rec"]},
                                      1000.0) == 1 * 120.0  # display names count too
    assert timeplan._budgeted_seconds("07_sequential_models", {**p07, "MODELS": ["SR"]}, 1000.0) == 0.0
    assert timeplan.model_seconds("99_unknown", {}, 1000, ref) is None
    # 05's order experiment: two GRU4Rec retrainings, each capped by ORDER_SECONDS (not scaled with the data)
    p05 = {"ORDER_EXPERIMENT": True, "ORDER_EPOCHS": None, "ORDER_SECONDS": 60.0}
    assert timeplan._budgeted_seconds("05_evaluation", p05, 1.0) == 2 * timeplan.REFERENCE_ORDER_S
    assert timeplan._budgeted_seconds("05_evaluation", p05, 10.0) == 2 * 60.0
    assert timeplan._budgeted_seconds("05_evaluation", {**p05, "ORDER_EPOCHS": 10}, 1.0) == pytest.approx(
        4 * timeplan.REFERENCE_ORDER_S)  # fixed epochs: no budget, twice the reference's 5
    assert timeplan._budgeted_seconds("05_evaluation", {**p05, "ORDER_EPOCHS": 0}, 10.0) == 0.0
    assert timeplan._budgeted_seconds("05_evaluation", {**p05, "ORDER_EXPERIMENT": False}, 10.0) == 0.0


def test_time_plan_without_a_run_uses_the_model_the_notebook_defaults_and_the_calibration(tmp_path):
    from sbrlib.pipeline import timeplan

    todo = _plan(dataset="ml-1m", profile="full")
    outputs = tmp_path / "outputs"
    fast_machine = timeplan.estimate(todo, "ml-1m", "full", "gap", outputs,
                                     calibration=timeplan.Calibration(2 * timeplan.REFERENCE_GFLOPS))
    slow_machine = timeplan.estimate(todo, "ml-1m", "full", "gap", outputs,
                                     calibration=timeplan.Calibration(timeplan.REFERENCE_GFLOPS / 2))
    assert fast_machine.source == "model" and fast_machine.events == 1_000_209  # the dataset's known size
    assert all(v > 0 for v in fast_machine.seconds_by_notebook.values())
    assert slow_machine.total > fast_machine.total
    # 03's defaults (TUNE_MINUTES=3) bound its search even on a slow machine
    assert slow_machine.seconds("03_tuning") - fast_machine.seconds("03_tuning") < 4 * 60
    record = slow_machine.record()
    assert set(record) == {"source", "events", "total_s", "seconds", "calibration_gflops"}
    assert "checked against real runs" in slow_machine.text()


def test_calibration_is_measured_once_and_cached(tmp_path):
    from sbrlib.pipeline import timeplan

    calls = []

    def fake_measure():
        calls.append(1)
        return 12.5

    first = timeplan.calibrate(tmp_path, measure=fake_measure)
    again = timeplan.calibrate(tmp_path, measure=fake_measure)
    assert first == again and first.gflops == 12.5 and len(calls) == 1
    assert json.loads((tmp_path / "calibration.json").read_text())["gflops"] == 12.5
    assert timeplan.calibrate(tmp_path, max_age_days=-1, measure=fake_measure) and len(calls) == 2  # too old
    (tmp_path / "calibration.json").write_text("{half")  # unreadable: measured again
    assert timeplan.calibrate(tmp_path, measure=fake_measure).gflops == 12.5 and len(calls) == 3
    assert 0 < timeplan.measure_gflops(seconds=0.01, n=64, repeats=1)


@pytest.mark.slow
def test_run_records_estimates_warnings_and_shows_a_whole_error(tmp_path, monkeypatch, capsys):
    import nbformat

    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "params").mkdir()
    (src / "params" / "p.yaml").write_text("FAIL: true\n")
    _tiny_notebook(src / "notebooks" / "00_what_went_wrong.ipynb",
                   "import warnings\nfrom sbrlib.core.errors import DataWarning\n"
                   "warnings.warn('ratings.dat: 99 ratings, the release has 100', DataWarning)")
    _tiny_notebook(src / "notebooks" / "01_eda.ipynb",
                   "from sbrlib.core.errors import DataError\n"
                   "if FAIL:\n    raise DataError('split x exists and was made differently:\\n  session_gap: 3600 -> 600'"
                   "\\\n                    '\\nChoose another SPLIT_NAME')")
    nb = nbformat.read(str(src / "notebooks" / "00_what_went_wrong.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(nb.cells[1].source))  # the same warning from a second cell
    nbformat.write(nb, str(src / "notebooks" / "00_what_went_wrong.ipynb"))
    spec = {"DATASET": checks.text(), "DATA_DIR": checks.text(), "FAIL": checks.boolean()}
    monkeypatch.setattr(run, "SPECS", {"00_what_went_wrong": spec, "01_eda": spec})
    monkeypatch.delenv("SBR_RUN_DIR", raising=False)
    project = tmp_path / "project"

    with pytest.raises(run.RunError) as err:
        run.run("synthetic-tiny", "p", "gap", project=project, source=src, calibrate=False)
    message = str(err.value)
    assert message.startswith("*** FAILED: 01_eda.ipynb: DataError: split x exists and was made differently:")
    assert "session_gap: 3600 -> 600" in message and "Choose another SPLIT_NAME" in message  # every line
    assert "Traceback" not in message and err.value.run_dir is not None
    printed = capsys.readouterr().out
    assert "time plan (model)" in printed and "00_what_went_wrong" in printed.split("run folder")[0]

    record = json.loads((err.value.run_dir / "run.json").read_text())
    assert record["estimate"]["source"] == "model" and record["estimate"]["events"] > 0
    for stem in ("00_what_went_wrong", "01_eda"):
        entry = record["notebooks"][stem]
        assert entry["estimate_s"] > 0 and entry["seconds"] > 0
    assert record["notebooks"]["00_what_went_wrong"]["warnings"] == [
        {"category": "DataWarning", "message": "ratings.dat: 99 ratings, the release has 100", "count": 2}]
    run._print_warnings(err.value.run_dir)
    shown = capsys.readouterr().err
    assert "00_what_went_wrong: DataWarning (x2): ratings.dat: 99 ratings, the release has 100" in shown


@pytest.mark.slow
def test_ctrl_c_prints_only_the_resume_hint_and_leaves_no_kernel(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import psutil

    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "params").mkdir()
    (src / "params" / "p.yaml").write_text("{}\n")
    _tiny_notebook(src / "notebooks" / "00_what_went_wrong.ipynb", "print('quick')")
    _tiny_notebook(src / "notebooks" / "01_eda.ipynb", "import time\nfor _ in range(120):\n    time.sleep(0.5)")
    driver = tmp_path / "drive.py"
    driver.write_text(
        "import sys\nfrom sbrlib.core import checks\nfrom sbrlib.pipeline import run\n"
        "spec = {'DATASET': checks.text(), 'DATA_DIR': checks.text(), 'FAIL': checks.boolean()}\n"
        "run.SPECS = {'00_what_went_wrong': spec, '01_eda': spec}\n"
        f"sys.exit(run.main(['--dataset', 'synthetic-tiny', '--profile', 'p', '--source', {str(src)!r}]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SBR_PROJECT_DIR": str(tmp_path / "project")}
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:  # its own process group, like a terminal's foreground job
        proc = subprocess.Popen([sys.executable, str(driver)], stdout=o, stderr=e, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "=== 01_eda" not in out.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(3)  # the kernel of 01 is busy now
        kernels = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        assert kernels, "01's kernel should be running"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = err.read_text().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("*** interrupted in 01_eda.ipynb") and "FROM=01" in lines[0], lines
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kernels)
    (run_json,) = (tmp_path / "project" / "outputs" / "runs").glob("*/run.json")
    record = json.loads(run_json.read_text())
    assert record["status"] == "interrupted" and record["notebooks"]["01_eda"]["status"] == "interrupted"
    assert not (tmp_path / "project" / "outputs" / "latest").exists()


def test_pointers_are_replaced_atomically_and_only_dropped_by_their_own_run(tmp_path):
    outputs = tmp_path / "outputs"
    a, b = outputs / "runs" / "a", outputs / "runs" / "b"
    a.mkdir(parents=True)
    b.mkdir()
    run.set_pointer(outputs, "latest", a)
    run.set_pointer(outputs, "latest", b)
    assert os.readlink(outputs / "latest") == "runs/b"  # relative: the outputs folder can move
    assert sorted(p.name for p in outputs.iterdir()) == ["latest", "runs"]  # no temporary left
    run.drop_pointer(outputs, "latest", a)  # another run's pointer stays
    assert (outputs / "latest").resolve() == b.resolve()
    run.drop_pointer(outputs, "latest", b)
    assert not (outputs / "latest").is_symlink()
    run.drop_pointer(outputs, "current", b)  # nothing to drop: no error


def test_report_and_summary_find_the_last_completed_run(tmp_path):
    from sbrlib.pipeline import html_report as report

    done = _fake_run(tmp_path / "outputs", "20260101-000000", {"01_eda": 5.0})
    failed = _fake_run(tmp_path / "outputs", "20260102-000000", {"01_eda": 5.0}, finished=False)
    os.utime(done, (1, 1))  # the failed run is the newer one on disk
    assert failed.stat().st_mtime > done.stat().st_mtime
    assert report.latest_run(tmp_path / "outputs" / "runs") == done


def test_summary_prints_actual_against_estimated_time_per_notebook():
    record = {"estimate": {"source": "model"}, "notebooks": {
        "03_tuning": {"status": "ok", "seconds": 240.0, "estimate_s": 200.0},
        "04_train_gru4rec": {"status": "failed", "seconds": 30.0, "estimate_s": None}}}
    text = run.format_times(record)
    assert text.splitlines()[0] == "time per notebook: actual against estimate (model)"
    assert "03_tuning" in text and text.splitlines()[1].split()[1:] == ["4.0", "min", "estimate", "3.3", "min", "x1.20"]
    assert "(failed)" in text and text.splitlines()[-1].split() == ["total", "4.5", "min", "estimate", "?"]
    assert run.format_times({"notebooks": {}}) == ""


def test_data_size_comes_from_the_split_manifest_or_the_dataset(tmp_path):
    from sbrlib.core import paths
    from sbrlib.pipeline import timeplan

    assert timeplan.split_events("nothing-here") is None and timeplan.split_events(None) is None
    folder = paths.processed_dir("s")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"counts": {"train": {"events": 900}, "test": {"events": 100},
                                                                 "valid": {"events": 50}}}))
    assert timeplan.split_events("s") == 1000
    assert timeplan.data_events("ml-100k", "s") == 100_000  # the model counts ratings, as its reference
    assert timeplan.data_events("synthetic-tiny") == 1_600


def test_resume_past_an_unfinished_notebook_suggests_resuming_from_it(tmp_path):
    books = run.notebooks(ROOT / "notebooks")
    _fake_run(tmp_path, "20260101-000000", {books[0].stem: 1.0, books[1].stem: 1.0}, finished=False)
    record = json.loads((tmp_path / "runs" / "20260101-000000" / "run.json").read_text())
    record["notebooks"][books[2].stem] = {"status": "failed", "seconds": 1.0}
    (tmp_path / "runs" / "20260101-000000" / "run.json").write_text(json.dumps(record))
    key = {"dataset": "synthetic-tiny", "session_mode": "gap", "profile": "smoke"}
    with pytest.raises(run.RunError) as err:
        run.find_resumable(tmp_path, key, books[4], books)
    text = str(err.value)
    assert f"did not complete {books[2].stem}, {books[3].stem}" in text
    assert text.count("FROM=") == 2 and "PROFILE=smoke FROM=02, or run make run-all without FROM" in text


def test_a_warning_raised_for_a_notebook_cell_loses_the_cells_source_line():
    cell = "/tmp/ipykernel_1234/3456789.py"  # a cell's code: not a file the driver can read
    text = (f"{cell}:2: DataWarning: ratings.dat: 99 ratings\n  ratings = datasets.load_ratings(DATASET)\n"
            f"{cell}:5: DataWarning: a\n  b: 1 -> 2\n  check(x)\n")
    assert run.parse_warnings(text) == [("DataWarning", "ratings.dat: 99 ratings"), ("DataWarning", "a\n  b: 1 -> 2")]


def test_a_dead_kernel_is_one_clear_failure_not_a_traceback(tmp_path, monkeypatch):
    import papermill as pm

    class DeadKernelError(RuntimeError):
        pass

    def die(*args, **kw):
        raise DeadKernelError("Kernel died")

    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "params").mkdir()
    (src / "params" / "p.yaml").write_text("{}\n")
    _tiny_notebook(src / "notebooks" / "01_a.ipynb", "pass")
    monkeypatch.setattr(run, "SPECS", {"01_a": {"DATASET": checks.text(), "DATA_DIR": checks.text(),
                                                "FAIL": checks.boolean()}})
    monkeypatch.setattr(pm, "execute_notebook", die)
    with pytest.raises(run.RunError, match=r"\*\*\* FAILED: 01_a.ipynb: DeadKernelError: Kernel died \(the kernel "
                                           r"stopped: out of memory\?\)\n    executed copy"):
        run.run("synthetic-tiny", "p", "gap", project=tmp_path / "project", source=src, calibrate=False)
    assert (tmp_path / "project" / "outputs" / "last-failed").is_symlink()


def test_the_docs_the_notebooks_link_are_copied_into_the_run_folder(tmp_path):
    """Issue 18: an executed copy in <run>/notebooks links ../docs/GLOSSARY.md and ../README.md."""
    from sbrlib.pipeline import run as runner

    source, run_dir = tmp_path / "src", tmp_path / "run"
    (source / "docs").mkdir(parents=True)
    (source / "docs" / "GLOSSARY.md").write_text("### Held-out\n")
    runner._copy_linked_docs(source, run_dir)
    assert (run_dir / "docs" / "GLOSSARY.md").read_text() == "### Held-out\n"
    assert not (run_dir / "README.md").exists()  # missing from the source: skipped, no error
    assert sorted(p.name for p in run_dir.rglob("*")) == ["GLOSSARY.md", "docs"]  # no temporary file left
