"""``make run-all``: check every parameter first, then run the numbered notebooks in order into a
fresh run folder.

    python -m sbrlib.pipeline.run --dataset ml-100k --profile full --session-mode gap [--from 04]

* **Checked before any work**: ``DATASET``, ``PROFILE``, ``SESSION_MODE``, ``FROM`` and every entry of
  the profile (it must be declared by some notebook, and each notebook's resulting parameters must
  pass its spec in :mod:`sbrlib.notebook.params`). One line per problem, then exit code 2.
* **One folder per run**: ``outputs/runs/<time>-<dataset>-<mode>-<profile>/`` holds the executed
  notebooks (``notebooks/``), the run's models and results (``models/``, ``results/``: the notebooks
  see ``$SBR_RUN_DIR``) and ``run.json`` (parameters, git commit, status and seconds per notebook).
  ``outputs/latest`` points at the last *completed* run (the one ``recommend`` and the report use);
  ``outputs/current`` at the run in progress, ``outputs/last-failed`` at the last failed or
  interrupted one (all written atomically). Processed splits are shared under ``data/processed``
  (their names carry their parameters' fingerprint).
* **A time plan first**: with the parameter check, each notebook's estimated minutes, the total and
  how to make it shorter (:mod:`sbrlib.pipeline.timeplan`); ``run.json`` records estimate and actual.
* **The terminal tells the truth**: warnings raised inside the notebooks (``DataWarning`` and other
  ``warnings.warn``) are collected from the executed copies, recorded in ``run.json`` and printed
  once, grouped, at the end; a failing notebook's error message is shown with all its lines.
* Each notebook receives only the parameters it declares.
* ``--from 04`` resumes the newest run of the same dataset, mode and profile from notebook 04 when
  the notebooks before it completed there and the split they used is unchanged; the executed copies
  of 04 and later are replaced, nothing else.
* A failing notebook stops the run naming it, its whole error message and its executed copy; Ctrl-C
  stops the kernel quietly, marks the run ``interrupted`` and prints one line saying how to resume.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sbrlib.core import checks, paths
from sbrlib.core.errors import UserFacingError
from sbrlib.core.fileio import atomic_path, write_json
from sbrlib.notebook import params as notebook_params
from sbrlib.notebook.params import DATASETS, SPECS, preprocess_config

SESSION_MODES = ("gap", "user")
RUN_PARAMS = ("DATASET", "SESSION_MODE", "DATA_DIR")


class RunError(Exception):
    """A problem found before or while running; the message is meant for the terminal as is.

    Attributes:
        run_dir: the run folder when the run had started (its warnings are printed with the error).
    """

    def __init__(self, message: str, run_dir: Path | None = None):
        super().__init__(message)
        self.run_dir = run_dir


class RunInterrupted(RunError):
    """Ctrl-C during a run; the message is the one-line resume hint."""


def notebooks(folder: Path) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of ``folder``, in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names and default values of a notebook's ``parameters`` cell (RunError when it has none or several)."""
    try:
        return notebook_params.declared_parameters(notebook)
    except UserFacingError as exc:
        raise RunError(str(exc)) from None


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
            from sbrlib.data.store import split_name

            run_values["SPLIT_NAME"] = split_name(dataset, preprocess_config(values))
    out = []
    for nb in books:
        params = {k: v for k, v in {**run_values, **entries}.items() if k in declared[nb]}
        if nb.stem not in SPECS:
            problems.append(f"{nb.name}: no parameter spec in sbrlib/notebook/params.py (developer error)")
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


POINTERS = ("latest", "current", "last-failed")
"""``outputs/<pointer>``: the last completed run, the run in progress, the last failed or interrupted run."""


def set_pointer(outputs: Path, name: str, run: Path) -> None:
    """Point ``outputs/<name>`` at ``run`` (a relative symlink, replaced atomically)."""
    link = outputs / name
    tmp = outputs / f".{name}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(Path("runs") / run.name)
    os.replace(tmp, link)


def drop_pointer(outputs: Path, name: str, run: Path) -> None:
    """Remove ``outputs/<name>`` when it points at ``run`` (another run's pointer is left alone)."""
    link = outputs / name
    if link.is_symlink() and link.resolve() == run.resolve():
        link.unlink()


# --------------------------------------------------------------------------- what the notebooks said

_WARNING_HEAD = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): (?P<category>[A-Za-z_][\w.]*Warning): (?P<message>.*)$")
_NOT_A_CONTINUATION = re.compile(r"^\s*$|^(DEBUG|INFO|WARNING|ERROR|CRITICAL)[ :]|\d+%\||\r")


def _source_line(file: str, line: int) -> str | None:
    import linecache

    text = linecache.getline(file, line).strip()
    return text or None


def parse_warnings(text: str) -> list[tuple[str, str]]:
    """``(category, message)`` of every warning Python printed into ``text`` (a stderr stream).

    Python prints ``<file>:<line>: <Category>: <message>`` (the message may span lines) followed by
    the source line of the call, indented by two spaces; that source line is not part of the message.
    Progress bars, log records and blank lines end a message.
    """
    found: list[tuple[str, str]] = []
    current: dict | None = None

    def close() -> None:
        if current is None:
            return
        lines = current["lines"]
        source = _source_line(current["file"], current["line"])
        last = lines[-1]
        # the kernel printed the source line when it had it (notebook cells: always); a file we cannot
        # read here (a cell's) leaves the form to go by: two spaces, then the stripped line
        is_source = (last.strip() == source) if source else (last.startswith("  ") and last[2:3].strip() != "")
        if len(lines) > 1 and last.startswith("  ") and is_source:
            lines = lines[:-1]
        found.append((current["category"], "\n".join(lines).rstrip()))

    for raw in text.split("\n"):
        line = raw.rsplit("\r", 1)[-1] if "\r" in raw else raw
        head = _WARNING_HEAD.match(line)
        if head:
            close()
            current = {"file": head["file"], "line": int(head["line"]), "category": head["category"],
                       "lines": [head["message"]]}
        elif current is not None and not _NOT_A_CONTINUATION.search(raw):
            current["lines"].append(line)
        else:
            close()
            current = None
    close()
    return found


def notebook_warnings(executed: Path) -> list[dict]:
    """The warnings printed in an executed notebook's stderr streams, grouped.

    Returns:
        ``[{"category", "message", "count"}]`` in order of first appearance ([] when the file is
        missing or unreadable).
    """
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError):
        return []
    counts: dict[tuple[str, str], int] = {}
    for cell in nb.get("cells", []):
        stderr = "".join("".join(o.get("text", "")) if isinstance(o.get("text"), list) else o.get("text", "")
                         for o in cell.get("outputs", [])
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        for key in parse_warnings(stderr):
            counts[key] = counts.get(key, 0) + 1
    return [{"category": c, "message": m, "count": n} for (c, m), n in counts.items()]


def format_warnings(record: dict) -> str:
    """The run's warnings as printed at the end: one block per notebook, each warning once with its count."""
    lines = []
    for stem, entry in record.get("notebooks", {}).items():
        for w in entry.get("warnings", []):
            times = f" (x{w['count']})" if w["count"] > 1 else ""
            message = w["message"].replace("\n", "\n        ")
            lines.append(f"  {stem}: {w['category']}{times}: {message}")
    if not lines:
        return ""
    return f"warnings raised inside the notebooks ({len(lines)}; details in the executed copies):\n" + "\n".join(lines)


def error_text(ename: str, evalue: str) -> str:
    """A notebook's error as shown on the terminal: the type and every line of the message, no traceback."""
    lines = str(evalue).strip().splitlines() or [""]
    return f"{ename}: " + "\n    ".join(line.rstrip() for line in lines)


class _EstimateBar:
    """A terminal progress bar of one notebook against its estimated seconds (elapsed, time left).

    Updated once a second by a daemon thread; cleared when the notebook ends. Past the estimate the
    bar says so and keeps counting.
    """

    def __init__(self, stem: str, estimate_s: float):
        self.stem, self.estimate = stem, max(1.0, float(estimate_s))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._bar = None

    def __enter__(self) -> _EstimateBar:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=round(self.estimate), desc=f"    {self.stem}", unit="s", leave=False,
                         file=sys.stderr, dynamic_ncols=True,
                         bar_format="{desc}: {percentage:3.0f}%|{bar:24}| {elapsed} of about {total_fmt} s "
                                    "(time plan){postfix}")
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            elapsed = time.monotonic() - self._t0
            if elapsed > self._bar.total:
                self._bar.total = round(elapsed * 1.2) + 1
                self._bar.set_postfix_str("over the estimate", refresh=False)
            self._bar.n = round(elapsed)
            self._bar.refresh()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._bar.close()


@contextlib.contextmanager
def _kernels_die_first_on_ctrl_c() -> Iterator[None]:
    """While a notebook runs, Ctrl-C kills its kernel before anything else happens.

    The kernel runs in its own session (the terminal's Ctrl-C does not reach it); stopped politely
    after the driver's sockets are gone, it prints ZMQ tracebacks to the terminal. Killed first,
    it has nothing left to say. Only in the main thread (where signal handlers live).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    interrupted = False

    def on_sigint(signum, frame):
        nonlocal interrupted
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while cleaning up changes nothing
        _stop_kernels()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        if not interrupted:  # else run() restores it once the run is recorded
            signal.signal(signal.SIGINT, previous)


def _is_kernel(process) -> bool:
    try:
        return any("ipykernel" in part for part in process.cmdline())
    except Exception:
        return False


def _stop_kernels() -> None:
    """Kill the kernels (child processes) left by an interrupted papermill run, without a word."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with jupyter
        return
    children = [p for p in psutil.Process().children(recursive=True) if _is_kernel(p)]
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=5)


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
                           f"{', '.join(missing)}; resume it from its first unfinished notebook with make run-all "
                           f"DATASET={key['dataset']} SESSION_MODE={key['session_mode']} PROFILE={key['profile']} "
                           f"FROM={missing[0].split('_')[0]}, or run make run-all without FROM")
        recorded, current = record.get("split_fingerprint"), _split_fingerprint(record.get("split", ""))
        if recorded and recorded != current:
            raise RunError(f"FROM={first.stem.split('_')[0]}: the split {record.get('split')} changed "
                           f"since run {path.parent.name} (fingerprint {recorded} -> {current}); run make run-all "
                           "without FROM")
        return path.parent, record
    raise RunError(f"FROM={first.stem.split('_')[0]}: no earlier run of DATASET={key['dataset']} "
                   f"SESSION_MODE={key['session_mode']} PROFILE={key['profile']} under {outputs / 'runs'}; "
                   "run make run-all without FROM")


LINKED_DOCS = ("README.md", "docs/GLOSSARY.md")
"""Files the notebooks link to as ``../README.md`` and ``../docs/GLOSSARY.md``: copied into the run folder,
so that the links of its executed copies (``<run>/notebooks/``) resolve there too."""


def _copy_linked_docs(source: Path, run_dir: Path) -> None:
    """Copy :data:`LINKED_DOCS` from the source tree into ``run_dir`` (each written to a temporary
    file, then renamed); a file missing from the source tree is skipped."""
    for rel in LINKED_DOCS:
        src = source / rel
        if src.is_file():
            dest = run_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)


def run(dataset: str, profile: str, session_mode: str, data_dir: str = "", start: str | None = None,
        project: Path | None = None, source: Path | None = None, calibrate: bool = True) -> Path:
    """Check, print the time plan, then execute the notebooks; returns the run folder.

    Notebooks and profiles come from ``source`` (default: the source tree, :func:`sbrlib.core.paths.repo_dir`); the run folder
    goes under ``<project>/outputs/runs`` (default :func:`sbrlib.core.paths.project_dir`). ``calibrate=False``
    skips the few-second speed measurement of the time plan (its estimate then says so).

    Raises:
        RunError: a failing notebook (its whole error message) or a problem found before running.
        RunInterrupted: Ctrl-C; the kernel was stopped and the run marked ``interrupted``.
    """
    import papermill as pm

    from sbrlib.pipeline import timeplan

    source = source or paths.repo_dir()
    todo = plan(dataset, profile, session_mode, data_dir, start, source)
    books = notebooks(source / "notebooks")
    outputs = (project or paths.project_dir()) / "outputs"
    key = {"dataset": dataset, "session_mode": session_mode, "profile": profile}
    time_plan = timeplan.estimate(todo, dataset, profile, session_mode, outputs, measure=calibrate)
    print(time_plan.text(), flush=True)
    if start:
        run_dir, record = find_resumable(outputs, key, todo[0][0], books)
        for nb in books[books.index(todo[0][0]):]:  # no stale copies of the notebooks about to run
            (run_dir / "notebooks" / nb.name).unlink(missing_ok=True)
            record["notebooks"].pop(nb.stem, None)
        for stale in ("finished", "status"):
            record.pop(stale, None)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = outputs / "runs" / f"{stamp}-{dataset}-{session_mode}-{profile}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = run_dir.with_name(f"{stamp}-{dataset}-{session_mode}-{profile}-{suffix}")
        record = {**key, "data_dir": data_dir, "commit": _git_commit(source), "code": timeplan.code_fingerprint(),
                  "started": stamp, "notebooks": {}}
    record["status"] = "running"
    record["estimate"] = time_plan.record()
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    _copy_linked_docs(source, run_dir)
    record_path = run_dir / "run.json"
    write_json(record_path, record)
    set_pointer(outputs, "current", run_dir)
    # the kernels inherit these; restored afterwards so a caller (e.g. tests) keeps its environment
    saved = {k: os.environ.get(k) for k in ("SBR_RUN_DIR", "MPLBACKEND", "SBR_DATA_DIR", "SBR_PROGRESS")}
    os.environ["SBR_RUN_DIR"] = str(run_dir)
    os.environ["SBR_PROGRESS"] = "text"  # headless kernels: text bars that the executed notebooks keep
    # figures go into the executed notebooks (and the report) even when the caller set MPLBACKEND=Agg
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if data_dir:
        os.environ["SBR_DATA_DIR"] = data_dir
    print(f"run folder: {run_dir}  (outputs/current; outputs/latest once it completes)")
    final = "failed"
    main_thread = threading.current_thread() is threading.main_thread()
    sigint = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        for nb, params in todo:
            out = run_dir / "notebooks" / nb.name
            estimate = time_plan.seconds(nb.stem)
            print(f"=== {nb.stem} ({dataset}, {session_mode}, profile {profile}; estimate "
                  f"{timeplan.minutes(estimate)})", flush=True)
            t0 = time.perf_counter()
            status = "failed"
            try:
                clock = _EstimateBar(nb.stem, estimate) if sys.stderr.isatty() and estimate else None
                with _kernels_die_first_on_ctrl_c(), clock or contextlib.nullcontext():
                    # a terminal shows a bar over the time plan's estimate (papermill's counts cells,
                    # whose ETA misleads when one cell trains for minutes); the training, tuning and
                    # evaluation loops' own bars are in the executed notebook
                    pm.execute_notebook(str(nb), str(out), parameters=params, cwd=str(nb.parent),
                                        kernel_name="python3", progress_bar=sys.stderr.isatty() and clock is None,
                                        log_output=False,
                                        # no kernel chatter: not even the "KeyboardInterrupt caught in kernel"
                                        # an idle kernel may log when jupyter_client's shutdown interrupts it
                                        # (a cell's error still fails the run, through papermill)
                                        extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
                status = "ok"
            except pm.PapermillExecutionError as exc:
                raise RunError(f"*** FAILED: {nb.name}: {error_text(exc.ename, exc.evalue)}\n"
                               f"    executed copy with the error: {out}", run_dir) from None
            except Exception as exc:
                hint = " (the kernel stopped: out of memory?)" if type(exc).__name__ == "DeadKernelError" else ""
                raise RunError(f"*** FAILED: {nb.name}: {error_text(type(exc).__name__, str(exc))}{hint}\n"
                               f"    executed copy (up to the failure): {out}", run_dir) from None
            except KeyboardInterrupt:
                status = final = "interrupted"
                _stop_kernels()
                raise RunInterrupted(f"*** interrupted in {nb.name}; run folder {run_dir}; resume with "
                                     f"make run-all DATASET={dataset} SESSION_MODE={session_mode} PROFILE={profile} "
                                     f"FROM={nb.stem.split('_')[0]}", run_dir) from None
            finally:
                entry = {"status": status, "seconds": round(time.perf_counter() - t0, 1),
                         "estimate_s": None if estimate is None else round(estimate, 1),
                         "warnings": notebook_warnings(out)}
                record["notebooks"][nb.stem] = entry
                if nb.stem.startswith("02_") and params.get("SPLIT_NAME"):
                    record["split"] = params["SPLIT_NAME"]
                    record["split_fingerprint"] = _split_fingerprint(params["SPLIT_NAME"])
                    record["split_events"] = timeplan.split_events(params["SPLIT_NAME"])  # scales later plans
                write_json(record_path, record)
            print(f"    {entry['seconds']:.0f} s (estimate {timeplan.minutes(estimate)})", flush=True)
        final = "completed"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        record["status"] = final
        if final == "completed":
            record["finished"] = datetime.now().strftime("%Y%m%d-%H%M%S")
        write_json(record_path, record)
        set_pointer(outputs, "latest" if final == "completed" else "last-failed", run_dir)
        if final == "completed":
            drop_pointer(outputs, "last-failed", run_dir)
        drop_pointer(outputs, "current", run_dir)
        if main_thread:
            signal.signal(signal.SIGINT, sigint)
    return run_dir


def format_times(record: dict) -> str:
    """Seconds per notebook against the time plan's estimate, as printed at the end of a run."""
    from sbrlib.pipeline.timeplan import minutes

    rows = [(stem, entry.get("estimate_s"), entry.get("seconds"), entry.get("status"))
            for stem, entry in record.get("notebooks", {}).items()]
    if not rows:
        return ""
    source = record.get("estimate", {}).get("source", "?")
    lines = [f"time per notebook: actual against estimate ({source})"]
    for stem, estimate, actual, status in rows:
        ratio = f"  x{actual / estimate:.2f}" if estimate and actual is not None else ""
        flag = "" if status == "ok" else f"  ({status})"
        lines.append(f"  {stem:<24} {minutes(actual):>10}  estimate {minutes(estimate):>10}{ratio}{flag}")
    actual = sum(r[2] or 0.0 for r in rows)
    estimates = [r[1] for r in rows]
    total_estimate = None if any(e is None for e in estimates) else sum(estimates)
    lines.append(f"  {'total':<24} {minutes(actual):>10}  estimate {minutes(total_estimate):>10}")
    return "\n".join(lines)


def summary(run_dir: Path) -> None:
    """Print the results tables of a run, its time against the plan, and build its HTML report when the
    reporter is available."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 4):
        for path in sorted((run_dir / "results").glob("*/metrics.csv")):
            print(f"\n=== {path.parent.name}: {path}")
            print(pd.read_csv(path, index_col=0).to_string())
    try:
        times = format_times(json.loads((run_dir / "run.json").read_text()))
    except (OSError, ValueError):
        times = ""
    if times:
        print("\n" + times)
    try:
        from sbrlib.pipeline import html_report as report
    except ImportError:
        return
    index = report.build(run_dir)
    print(f"\nreport: {index}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make run-all``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sbrlib.pipeline.run", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--session-mode", default="gap")
    parser.add_argument("--data-dir", default=os.environ.get("SBR_DATA_DIR", ""))
    parser.add_argument("--from", dest="start", default="", help="resume from this notebook number (e.g. 04)")
    parser.add_argument("--source", default=None, help=argparse.SUPPRESS)  # another notebooks/params tree (tests)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("papermill").setLevel(logging.ERROR)  # no 'Black is not installed' etc.
    try:
        run_dir = run(args.dataset, args.profile, args.session_mode, args.data_dir, args.start or None,
                      source=Path(args.source) if args.source else None)
        summary(run_dir)
        _print_warnings(run_dir)
    except RunInterrupted as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # more Ctrl-C on the way out: still one line
        print(str(exc), file=sys.stderr, flush=True)
        _silence_stderr()  # no kernel/ZMQ noise after the one line
        return 130
    except RunError as exc:
        if exc.run_dir is not None:
            _print_warnings(exc.run_dir)
        print(str(exc), file=sys.stderr)
        return 1 if str(exc).startswith("***") else 2
    except KeyboardInterrupt:  # before or after the notebooks (the plan, the summary)
        print("*** interrupted (no notebook was running)", file=sys.stderr, flush=True)
        _silence_stderr()
        return 130
    return 0


def _print_warnings(run_dir: Path) -> None:
    try:
        text = format_warnings(json.loads((run_dir / "run.json").read_text()))
    except (OSError, ValueError):
        return
    if text:
        print("\n" + text, file=sys.stderr, flush=True)


def _silence_stderr() -> None:
    """Send whatever the interpreter still prints on the way out (closing sockets) to /dev/null."""
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


if __name__ == "__main__":
    sys.exit(main())
