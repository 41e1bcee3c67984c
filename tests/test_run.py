"""make run-all's driver: everything checked before any work, one folder per run, resume with FROM."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from sbrlib import checks, run
from sbrlib.notebook_params import SPECS

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
        assert nb.stem in SPECS, f"{nb.name} has no spec in sbrlib/notebook_params.py"
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
    assert len(first) == 1 and (project / "outputs" / "latest").resolve() == first[0].resolve()
    record = json.loads((first[0] / "run.json").read_text())
    assert record["notebooks"]["01_a"]["status"] == "ok" and record["notebooks"]["02_b"]["status"] == "failed"

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

    # an interrupted run: one line saying how to resume, status recorded
    import papermill as pm

    real = pm.execute_notebook

    def interrupt_second(input_path, *args, **kw):
        if "02_b" in str(input_path):
            raise KeyboardInterrupt
        return real(input_path, *args, **kw)

    monkeypatch.setattr(pm, "execute_notebook", interrupt_second)
    with pytest.raises(run.RunError, match=r"interrupted in 02_b.ipynb.*FROM=02"):
        run.run("synthetic-tiny", "p", "gap", project=project, source=src)
    latest = (project / "outputs" / "latest").resolve()
    assert latest != first[0].resolve()
    assert json.loads((latest / "run.json").read_text())["notebooks"]["02_b"]["status"] == "interrupted"
    monkeypatch.setattr(pm, "execute_notebook", real)
    again = run.run("synthetic-tiny", "p", "gap", start="02", project=project, source=src)
    assert again.resolve() == latest
    assert sorted(p.name for p in (again / "notebooks").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]


def test_resume_without_an_earlier_run_is_refused(tmp_path):
    with pytest.raises(run.RunError, match="no earlier run of DATASET=synthetic-tiny"):
        run.run("synthetic-tiny", "smoke", "gap", start="04", project=tmp_path)
