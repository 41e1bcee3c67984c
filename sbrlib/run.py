"""``make run-all``: check every parameter first, then run the numbered notebooks in order into a
fresh run folder.

    python -m sbrlib.run --dataset ml-100k --profile full --session-mode gap [--from 04]

* **Checked before any work**: ``DATASET``, ``PROFILE``, ``SESSION_MODE``, ``FROM`` and every entry of
  the profile (it must be declared by some notebook, and each notebook's resulting parameters must
  pass its spec in :mod:`sbrlib.notebook_params`). One line per problem, then exit code 2.
* **One folder per run**: ``outputs/runs/<time>-<dataset>-<mode>-<profile>/`` holds the executed
  notebooks (``notebooks/``), the run's models and results (``models/``, ``results/``: the notebooks
  see ``$SBR_RUN_DIR``) and ``run.json`` (parameters, git commit, status and seconds per notebook).
  ``outputs/latest`` points at the newest run. Processed splits are shared under ``data/processed``
  (their names carry their parameters' fingerprint).
* Each notebook receives only the parameters it declares.
* ``--from 04`` resumes the newest run of the same dataset, mode and profile from notebook 04 when
  the notebooks before it completed there and the split they used is unchanged; the executed copies
  of 04 and later are replaced, nothing else.
* A failing notebook stops the run with one line naming it and its executed copy; Ctrl-C prints one
  line saying how to resume.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sbrlib import checks, paths
from sbrlib.fileio import write_json
from sbrlib.notebook_params import DATASETS, SPECS, preprocess_config

SESSION_MODES = ("gap", "user")
RUN_PARAMS = ("DATASET", "SESSION_MODE", "DATA_DIR")


class RunError(Exception):
    """A problem found before or while running; the message is meant for the terminal as is."""


def notebooks(folder: Path) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of ``folder``, in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names and default values of a notebook's ``parameters`` cell (executed in an empty namespace)."""
    nb = json.loads(notebook.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise RunError(f"{notebook}: needs exactly one code cell tagged 'parameters' (found {len(cells)})")
    namespace: dict[str, Any] = {}
    exec("".join(cells[0]["source"]), {}, namespace)  # our own notebooks: literal assignments
    return {k: v for k, v in namespace.items() if k.isupper()}


def load_profile(profile: str, folder: Path) -> dict[str, Any]:
    """The entries of ``params/<profile>.yaml``; RunError naming the file or the close profile names."""
    import yaml

    path = folder / f"{profile}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in folder.glob("*.yaml"))
        hint = checks.unknown_names([profile], available)[0]
        raise RunError(f"PROFILE={hint}: no such profile; available: {', '.join(available)} (files in {folder})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RunError(f"{path}: not valid YAML ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: must map parameter names to values (NAME: value), got {type(data).__name__}")
    return data


def plan(dataset: str, profile: str, session_mode: str, data_dir: str, start: str | None,
         project: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Check everything and return ``(notebook, parameters)`` for every notebook to run.

    Args:
        project: the source tree with ``notebooks/`` and ``params/``.

    Raises:
        RunError: one line per problem.
    """
    problems = []
    bad_run_values = set()
    if dataset not in DATASETS:
        bad_run_values.add("DATASET")
        problems.append(f"DATASET={checks.unknown_names([dataset], DATASETS)[0]}: must be one of {', '.join(DATASETS)}")
    if session_mode not in SESSION_MODES:
        bad_run_values.add("SESSION_MODE")
        problems.append(f"SESSION_MODE={checks.unknown_names([session_mode], SESSION_MODES)[0]}: "
                        f"must be one of {', '.join(SESSION_MODES)}")
    try:
        entries = load_profile(profile, project / "params")
    except RunError as exc:
        problems.append(str(exc))
        entries = {}
    books = notebooks(project / "notebooks")
    if not books:
        problems.append(f"no numbered notebooks in {project / 'notebooks'}")
    declared = {nb: declared_parameters(nb) for nb in books}
    known = sorted({name for names in declared.values() for name in names})
    for name in checks.unknown_names([k for k in entries if k not in RUN_PARAMS], known):
        problems.append(f"params/{profile}.yaml: {name}: no notebook declares this parameter")
    for name in RUN_PARAMS:
        if name in entries:
            problems.append(f"params/{profile}.yaml: {name} is set by make run-all ({name.replace('_DIR', '')}=...), "
                            "remove it from the profile")
    selected = books
    if start:
        selected = [nb for nb in books if nb.stem == start or nb.stem.split("_")[0] == start]
        if not selected:
            problems.append(f"FROM={start}: no such notebook; use one of {', '.join(nb.stem.split('_')[0] for nb in books)}")
        else:
            selected = books[books.index(selected[0]):]
    run_values = {"DATASET": dataset, "SESSION_MODE": session_mode, "DATA_DIR": data_dir}
    prep = [nb for nb in books if nb.stem == "02_preprocessing"]
    if prep and "SPLIT_NAME" not in entries and not problems:
        # the split the preprocessing notebook will write, passed on to every later notebook
        values = {**declared[prep[0]], **{k: v for k, v in {**run_values, **entries}.items() if k in declared[prep[0]]}}
        if not checks.problems(values, SPECS[prep[0].stem]):
            from sbrlib.artifacts import split_name

            run_values["SPLIT_NAME"] = split_name(dataset, preprocess_config(values))
    out = []
    for nb in books:
        params = {k: v for k, v in {**run_values, **entries}.items() if k in declared[nb]}
        if nb.stem not in SPECS:
            problems.append(f"{nb.name}: no parameter spec in sbrlib/notebook_params.py (developer error)")
        else:
            spec = {k: v for k, v in SPECS[nb.stem].items() if k not in bad_run_values}  # said once above
            problems.extend(checks.problems({**declared[nb], **params}, spec, f"{nb.stem} (profile {profile})"))
        if nb in selected:
            out.append((nb, params))
    if problems:
        raise RunError("\n".join(problems))
    return out


def _git_commit(project: Path) -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def _latest_link(outputs: Path, run: Path) -> None:
    link = outputs / "latest"
    tmp = outputs / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(Path("runs") / run.name)
    os.replace(tmp, link)


def _split_fingerprint(name: str) -> str | None:
    path = paths.processed_dir(name) / "manifest.json"
    return json.loads(path.read_text()).get("fingerprint") if path.is_file() else None


def find_resumable(outputs: Path, key: dict[str, str], first: Path, books: list[Path]) -> tuple[Path, dict]:
    """The newest run with the same key whose notebooks before ``first`` completed, and its record."""
    runs = sorted((outputs / "runs").glob("*/run.json"), reverse=True)
    for path in runs:
        record = json.loads(path.read_text())
        if any(record.get(k) != v for k, v in key.items()):
            continue
        before = [nb.stem for nb in books[: books.index(first)]]
        status = record.get("notebooks", {})
        missing = [s for s in before if status.get(s, {}).get("status") != "ok"]
        if missing:
            raise RunError(f"FROM={first.stem.split('_')[0]}: the newest matching run {path.parent} did not complete "
                           f"{', '.join(missing)}; run make run-all without FROM")
        recorded, current = record.get("split_fingerprint"), _split_fingerprint(record.get("split", ""))
        if recorded and recorded != current:
            raise RunError(f"FROM={first.stem.split('_')[0]}: the split {record.get('split')} changed "
                           f"since run {path.parent.name} (fingerprint {recorded} -> {current}); run make run-all "
                           "without FROM")
        return path.parent, record
    raise RunError(f"FROM={first.stem.split('_')[0]}: no earlier run of DATASET={key['dataset']} "
                   f"SESSION_MODE={key['session_mode']} PROFILE={key['profile']} under {outputs / 'runs'}; "
                   "run make run-all without FROM")


def run(dataset: str, profile: str, session_mode: str, data_dir: str = "", start: str | None = None,
        project: Path | None = None, source: Path | None = None) -> Path:
    """Check, then execute the notebooks; returns the run folder. Raises RunError on any failure.

    Notebooks and profiles come from ``source`` (default: the source tree, :func:`sbrlib.paths.repo_dir`); the run folder
    goes under ``<project>/outputs/runs`` (default :func:`sbrlib.paths.project_dir`).
    """
    import papermill as pm

    source = source or paths.repo_dir()
    todo = plan(dataset, profile, session_mode, data_dir, start, source)
    books = notebooks(source / "notebooks")
    outputs = (project or paths.project_dir()) / "outputs"
    key = {"dataset": dataset, "session_mode": session_mode, "profile": profile}
    if start:
        run_dir, record = find_resumable(outputs, key, todo[0][0], books)
        for nb in books[books.index(todo[0][0]):]:  # no stale copies of the notebooks about to run
            (run_dir / "notebooks" / nb.name).unlink(missing_ok=True)
            record["notebooks"].pop(nb.stem, None)
        record.pop("finished", None)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = outputs / "runs" / f"{stamp}-{dataset}-{session_mode}-{profile}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = run_dir.with_name(f"{stamp}-{dataset}-{session_mode}-{profile}-{suffix}")
        record = {**key, "data_dir": data_dir, "commit": _git_commit(source), "started": stamp, "notebooks": {}}
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    record_path = run_dir / "run.json"
    write_json(record_path, record)
    _latest_link(outputs, run_dir)
    # the kernels inherit these; restored afterwards so a caller (e.g. tests) keeps its environment
    saved = {k: os.environ.get(k) for k in ("SBR_RUN_DIR", "MPLBACKEND", "SBR_DATA_DIR")}
    os.environ["SBR_RUN_DIR"] = str(run_dir)
    # figures go into the executed notebooks (and the report) even when the caller set MPLBACKEND=Agg
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if data_dir:
        os.environ["SBR_DATA_DIR"] = data_dir
    print(f"run folder: {run_dir}  (outputs/latest)")
    try:
        for nb, params in todo:
            out = run_dir / "notebooks" / nb.name
            print(f"=== {nb.stem} ({dataset}, {session_mode}, profile {profile})", flush=True)
            t0 = time.perf_counter()
            status = "failed"
            try:
                pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(nb.parent), kernel_name="python3",
                                    progress_bar=sys.stderr.isatty(), log_output=False,
                                    extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no kernel chatter
                status = "ok"
            except pm.PapermillExecutionError as exc:
                detail = f"{exc.ename}: {str(exc.evalue).strip().splitlines()[0] if str(exc.evalue).strip() else ''}"
                raise RunError(f"*** FAILED: {nb.name}: {detail}\n    executed copy with the error: {out}") from None
            except KeyboardInterrupt:
                status = "interrupted"
                raise RunError(f"*** interrupted in {nb.name}; run folder {run_dir}; resume with "
                               f"make run-all DATASET={dataset} SESSION_MODE={session_mode} PROFILE={profile} "
                               f"FROM={nb.stem.split('_')[0]}") from None
            finally:
                record["notebooks"][nb.stem] = {"status": status, "seconds": round(time.perf_counter() - t0, 1)}
                if nb.stem.startswith("02_") and params.get("SPLIT_NAME"):
                    record["split"] = params["SPLIT_NAME"]
                    record["split_fingerprint"] = _split_fingerprint(params["SPLIT_NAME"])
                write_json(record_path, record)
            print(f"    {record['notebooks'][nb.stem]['seconds']:.0f} s", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    record["finished"] = datetime.now().strftime("%Y%m%d-%H%M%S")
    write_json(record_path, record)
    return run_dir


def summary(run_dir: Path) -> None:
    """Print the results tables of a run and build its HTML report when the reporter is available."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 4):
        for path in sorted((run_dir / "results").glob("*/metrics.csv")):
            print(f"\n=== {path.parent.name}: {path}")
            print(pd.read_csv(path, index_col=0).to_string())
    try:
        from sbrlib import report
    except ImportError:
        return
    index = report.build(run_dir)
    print(f"\nreport: {index}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make run-all``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sbrlib.run", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--session-mode", default="gap")
    parser.add_argument("--data-dir", default=os.environ.get("SBR_DATA_DIR", ""))
    parser.add_argument("--from", dest="start", default="", help="resume from this notebook number (e.g. 04)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("papermill").setLevel(logging.ERROR)  # no 'Black is not installed' etc.
    try:
        run_dir = run(args.dataset, args.profile, args.session_mode, args.data_dir, args.start or None)
        summary(run_dir)
    except RunError as exc:
        print(str(exc), file=sys.stderr)
        return 1 if str(exc).startswith("***") else 2
    except KeyboardInterrupt:
        print("*** interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
