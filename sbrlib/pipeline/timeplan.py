"""The time plan of ``make run-all``: each notebook's estimated minutes before anything runs.

Estimates come from, in this order:

1. **the last completed run** of the same dataset, session mode and profile (its ``run.json``
   seconds per notebook), scaled by the split's events when they changed since (``split_events``);
2. otherwise **a model**: the reference seconds of each notebook measured on ML-100K (the
   ``make run-all DATASET=ml-100k`` run of issue 20, 2 CPU cores, shared machine), split into a time
   budget (tuning minutes, 07's ``FIT_MINUTES`` per neural fit), a fixed part (kernel start,
   imports) and a part that grows with the data (``(events / 100k) ** exponent``), linearly with
   the epochs, with the configuration's cost per event and with the slowness of this machine (a
   1.5-second dense matrix-product calibration, cached in ``outputs/calibration.json``). A
   budgeted step is never estimated above its budget.

The model is a first-order guess, checked against real runs on 2 cores (:data:`CHECKED`); after one
completed run of the same code the plan uses that run's own figures. ``run.json`` records the estimate and the actual seconds of every
notebook, so the two can be compared.
"""

from __future__ import annotations

import json
import os
import platform
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sbrlib.core.fileio import write_json

CHECKED = ("checked against real runs: ML-100K 9.2 min estimated, 8.3 taken (run 20261203-125616); "
           "ML-1M-size synthetic data 42.9 estimated, 49.4 taken (run 20261203-131313, its 04 slowed by other "
           "work; README's run-time table)")
"""What the model's estimates were against real runs (printed under a model plan)."""

REFERENCE_EVENTS = 100_000
"""Events of the reference run's dataset (ML-100K)."""

REFERENCE_GFLOPS = 290.0
"""Calibration figure (:func:`measure_gflops`) of the reference machine type, measured on the quiet
2-core development machine at the start of the reference run below (290.4 GFLOP/s)."""

FAST_TRAINING_FACTOR = 1 / 3
"""04's training time with ``CONFIG=official`` (cross-entropy, batch 64) relative to the tuned BPR-max
defaults: about 2.2x the events per second (median 28,700 against 12,700 in runs
20261203-130741 and -125616 on ML-100K, 2 cores) and fewer epochs before early stopping (4 against
5-7); with 1/3 the plan gave 04 26 s in the fast run, which took 23 s."""


@dataclass(frozen=True)
class Reference:
    """One notebook's reference cost on ML-100K (full profile, 2 cores).

    Attributes:
        fixed_s: seconds that do not grow with the data (kernel start, imports).
        work_s: seconds that grow with the data as ``(events / 100k) ** exponent`` (and linearly
            with ``epochs_param`` where set).
        exponent: how the work grows with the events, fitted to two sizes where both are known
            (04: 460 s on ML-100K against ~75 s per epoch on ML-1M; 00-02: ~35 s against ~2 min),
            else 0.55 (a guess).
        epochs_param: the parameter the ``work_s`` part is proportional to.
        reference_epochs: that parameter's value in the reference run.
        measured: whether the notebook's total was measured on its own (False: a share of the
            time of several notebooks).
    """

    fixed_s: float
    work_s: float
    exponent: float = 0.55
    epochs_param: str | None = None
    reference_epochs: int = 1
    measured: bool = True


# The reference run: `make run-all DATASET=ml-100k` at commit 9d551d4 on the quiet 2-core machine
# (run 20261203-111309): 00 9 s, 01 3 s, 02 2 s, 03 160 s (its 3-minute search), 04 6 s (03's trial
# reused; training it takes ~35-60 s, 5-7 epochs at ~7 s), 05 91 s (66 s of it the order experiment's
# two GRU4Rec retrainings), 06 6 s, 07 187 s (three neural fits: SASRec 14 s and 21 s, GRU4Rec 86 s,
# plus 55 s of history experiments).
REFERENCES: dict[str, Reference] = {
    "00_what_went_wrong": Reference(7, 2),
    "01_eda": Reference(2, 1),
    "02_preprocessing": Reference(1.5, 0.5),
    "03_tuning": Reference(10, 0),
    "04_train_gru4rec": Reference(6, 60, 1.0, "EPOCHS", 10),
    "05_evaluation": Reference(15, 10, 1.0),  # + the order experiment's two GRU4Rec retrainings (budgeted)
    "06_try_it": Reference(5, 1),
    "07_sequential_models": Reference(25, 41, 1.0),
}
REFERENCE_TUNE_S = 180.0
"""03's search in the reference run (``TUNE_MINUTES=3``)."""
REFERENCE_TRIAL_S = 60.0
"""One tuning trial on ML-100K (README: 1.5-5 minutes at 10 epochs; 03's trials are shorter): a guess."""
REFERENCE_ORDER_S = 33.0
"""One of 05's two order-experiment GRU4Rec retrainings on ML-100K (5 epochs, ~34 s each in run
20261203-125616); each is capped by ``ORDER_SECONDS`` (60 s), so on ML-1M-size data the budget, not
the data, sets its time (05 took 248 s there in run 20261203-131313, not the 13 minutes a linear
scaling of the reference gave)."""
REFERENCE_ORDER_EPOCHS = 5
REFERENCE_FIT_S = 40.0
"""One neural fit of 07 in the reference run (the mean of its three fits, 14, 21 and 86 s, each
stopped by patience or its epoch cap before the 6-minute budget)."""


@dataclass(frozen=True)
class Calibration:
    """This machine's dense fp32 matrix-product throughput.

    Attributes:
        gflops: measured GFLOP/s.
        host: machine name; cpus: CPUs visible; measured: UTC time of the measurement.
    """

    gflops: float
    host: str = ""
    cpus: int = 0
    measured: str = ""

    @property
    def slowdown(self) -> float:
        """How much slower than the reference machine (> 1: slower), bounded to 0.2..10."""
        return min(10.0, max(0.2, REFERENCE_GFLOPS / max(self.gflops, 1e-9)))


def measure_gflops(seconds: float = 0.5, n: int = 512, repeats: int = 3) -> float:
    """Dense fp32 ``(n, n) @ (n, 4n)`` products for about ``seconds``, ``repeats`` times; returns the
    best GFLOP/s (the least disturbed by other jobs)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, 4 * n), dtype=np.float32)
    a @ b  # warm up
    flop, best = 2.0 * n * n * 4 * n, 0.0
    for _ in range(repeats):
        reps, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            a @ b
            reps += 1
        best = max(best, flop * reps / elapsed / 1e9)
    return best


def calibrate(outputs: Path, max_age_days: float = 1.0, measure=measure_gflops) -> Calibration:
    """The cached calibration of this machine (``outputs/calibration.json``), measured when missing,
    older than ``max_age_days`` or from another machine."""
    path = outputs / "calibration.json"
    host, cpus = platform.node(), os.cpu_count() or 0
    try:
        cached = Calibration(**json.loads(path.read_text()))
        age = (datetime.now(UTC) - datetime.fromisoformat(cached.measured)).total_seconds() / 86400
        if cached.host == host and cached.cpus == cpus and age <= max_age_days and cached.gflops > 0:
            return cached
    except (OSError, ValueError, TypeError):
        pass
    found = Calibration(round(measure(), 2), host, cpus, datetime.now(UTC).isoformat(timespec="seconds"))
    outputs.mkdir(parents=True, exist_ok=True)
    write_json(path, found.__dict__)
    return found


def split_events(split_name: str | None) -> int | None:
    """``train`` + ``test`` events of a split on disk (its manifest), None when it does not exist yet."""
    from sbrlib.core import paths

    if not split_name:
        return None
    try:
        counts = json.loads((paths.processed_dir(split_name) / "manifest.json").read_text())["counts"]
        return int(counts["train"]["events"] + counts["test"]["events"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def data_events(dataset: str, split_name: str | None = None) -> int | None:
    """Events the model assumes: the dataset's known number of ratings (the reference, ML-100K's
    100,000, is counted the same way), else the split's events, else None."""
    from sbrlib.data import get_spec

    try:
        spec = get_spec(dataset)
    except Exception:
        return split_events(split_name)
    if spec.n_ratings:
        return int(spec.n_ratings)
    if spec.synthetic_preset:
        from sbrlib.data import synthetic

        return int(synthetic.PRESETS[spec.synthetic_preset].n_ratings)
    return split_events(split_name)


def code_fingerprint(root: Path | None = None) -> str:
    """A hash of what a run's seconds depend on in the source tree: every ``sbrlib/**/*.py`` and
    ``notebooks/*.ipynb`` (paths and bytes; 16 hex digits). A later plan reuses a run's seconds only
    when it was made with the same code (:func:`estimate`)."""
    import hashlib

    from sbrlib.core import paths

    root = Path(root) if root is not None else paths.repo_dir()
    digest = hashlib.sha256()
    for path in sorted([*root.glob("sbrlib/**/*.py"), *root.glob("notebooks/*.ipynb")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def last_completed(outputs: Path, dataset: str, session_mode: str, profile: str) -> dict | None:
    """The ``run.json`` of the newest completed run with this dataset, mode and profile."""
    for path in sorted((outputs / "runs").glob("*/run.json"), reverse=True):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (record.get("dataset"), record.get("session_mode"), record.get("profile")) != (dataset, session_mode,
                                                                                         profile):
            continue
        if record.get("finished") and all(v.get("status") == "ok" for v in record.get("notebooks", {}).values()):
            return {**record, "path": str(path)}
    return None


def _budgeted_seconds(stem: str, params: dict[str, Any], scale: float) -> float:
    """The budgeted part of a notebook: 03's search, 05's order-experiment retrainings of GRU4Rec,
    07's neural fits (0 for the others).

    A search with ``TUNE_MINUTES`` uses its budget (or less when ``TUNE_TRIALS`` trials end it
    first); 07's fits each take the smaller of ``FIT_MINUTES`` and the reference fit scaled to the
    data. Without a budget the reference is scaled like the work (a rough guess).
    """
    if stem == "03_tuning":
        budget = None if params.get("TUNE_MINUTES") is None else 60.0 * params["TUNE_MINUTES"]
        by_trials = None if not params.get("TUNE_TRIALS") else params["TUNE_TRIALS"] * REFERENCE_TRIAL_S * scale
        if budget is None and by_trials is None:
            return REFERENCE_TUNE_S * scale
        return min(v for v in (budget, by_trials) if v is not None)
    if stem == "05_evaluation":
        epochs = params.get("ORDER_EPOCHS")
        if not params.get("ORDER_EXPERIMENT", True) or epochs == 0:
            return 0.0
        one = REFERENCE_ORDER_S * scale
        if epochs:  # a fixed number of epochs: no budget
            return 2 * one * epochs / REFERENCE_ORDER_EPOCHS
        if params.get("ORDER_SECONDS") is not None:
            one = min(one, float(params["ORDER_SECONDS"]))
        return 2 * one
    if stem == "07_sequential_models":
        models = {str(m).lower() for m in params.get("MODELS", ["gru4rec", "sasrec"])}
        protocols = params.get("PROTOCOLS", ["temporal", "loo"])
        fits = len({"gru4rec", "sasrec"} & models) * len(protocols)
        if params.get("REUSE", True) and "gru4rec" in models and "temporal" in protocols:
            fits -= 1  # the temporal GRU4Rec is notebook 04's model (train once)
        one = REFERENCE_FIT_S * scale
        if params.get("FIT_MINUTES") is not None:
            one = min(one, 60.0 * params["FIT_MINUTES"])
        return fits * one
    return 0.0


def model_seconds(stem: str, params: dict[str, Any], events: int, calibration: Calibration) -> float | None:
    """The modelled seconds of one notebook (None when there is no reference for it).

    ``fixed + work x (events / 100k) ** exponent x (epochs / reference epochs) x config factor x slowdown``
    plus the budgeted part (:func:`_budgeted_seconds`, never above its budget).
    """
    ref = REFERENCES.get(stem)
    if ref is None:
        return None
    scale = (events / REFERENCE_EVENTS) ** ref.exponent * calibration.slowdown
    work = ref.work_s * scale
    if ref.epochs_param and params.get(ref.epochs_param):
        work *= params[ref.epochs_param] / ref.reference_epochs
    if params.get("CONFIG") == "official":
        work *= FAST_TRAINING_FACTOR
    return ref.fixed_s + work + _budgeted_seconds(stem, params, scale)


@dataclass(frozen=True)
class TimePlan:
    """Estimated seconds per notebook and where they come from.

    Attributes:
        seconds_by_notebook: notebook stem -> estimated seconds (None: no estimate).
        source: ``"last run <folder>"`` or ``"model"``.
        events: events of the data the estimate assumes (None: unknown).
        calibration: the machine calibration used by the model (None when not used).
        profile: the profile being run.
        notes: lines printed under the plan.
    """

    seconds_by_notebook: dict[str, float | None]
    source: str
    events: int | None = None
    calibration: Calibration | None = None
    profile: str = "full"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def seconds(self, stem: str) -> float | None:
        """The estimate of one notebook (None: none)."""
        return self.seconds_by_notebook.get(stem)

    @property
    def total(self) -> float | None:
        """The sum of the estimates (None when any is missing)."""
        values = list(self.seconds_by_notebook.values())
        return None if any(v is None for v in values) else float(sum(values))

    def record(self) -> dict:
        """What ``run.json`` keeps of the plan."""
        return {"source": self.source, "events": self.events, "total_s": None if self.total is None
                else round(self.total, 1),
                "seconds": {k: None if v is None else round(v, 1) for k, v in self.seconds_by_notebook.items()},
                "calibration_gflops": None if self.calibration is None else self.calibration.gflops}

    def text(self) -> str:
        """The plan as printed before the run."""
        lines = [f"time plan ({self.source}):"]
        for stem, sec in self.seconds_by_notebook.items():
            lines.append(f"  {stem:<24} {minutes(sec):>10}")
        lines.append(f"  {'total':<24} {minutes(self.total):>10}")
        lines.extend(textwrap.fill(note, width=100, initial_indent="  ", subsequent_indent="    ")
                     for note in self.notes)
        return "\n".join(lines)


def minutes(seconds: float | None) -> str:
    """``"12.5 min"``, ``"40 s"`` under a minute, ``"?"`` when unknown."""
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


SHORTER = ("make it shorter: make run-all PROFILE=fast (the official GRU4Rec settings, a 1.5-minute search, "
           "2-minute budgets in 07). Measured on real ML-100K (2 cores): 4.9 min against 8.3 for the whole run; "
           "GRU4Rec's test Recall@20 0.2522 against 0.3181 (-21%), MRR@20 0.0583 against 0.0826 (-29%), "
           "leave-one-out NDCG@10 0.0878 against 0.1075 (-18%); 07 then declares no winner (GRU4Rec untuned "
           "against the tuned SASRec). Runs 20261203-130741 and -125616, README's run-time table")


def estimate(todo: list[tuple[Path, dict[str, Any]]], dataset: str, profile: str, session_mode: str,
             outputs: Path, measure: bool = True, calibration: Calibration | None = None) -> TimePlan:
    """The time plan of the notebooks about to run.

    Args:
        todo: ``(notebook, parameters)`` as :func:`sbrlib.pipeline.run.plan` returns them (the notebooks'
            own defaults fill in what the parameters leave out).
        outputs: the project's ``outputs`` folder (earlier runs, the cached calibration).
        measure: measure (or read the cached) calibration; False uses the reference machine's.
        calibration: use this one instead (tests).
    """
    split = next((p.get("SPLIT_NAME") for _, p in todo if p.get("SPLIT_NAME")), None)
    events = data_events(dataset, split)
    notes = [] if profile == "fast" else [SHORTER]
    last = last_completed(outputs, dataset, session_mode, profile)
    if last is not None and last.get("code") != code_fingerprint():
        notes.append(f"the last completed run of this kind ({Path(last['path']).parent.name}) was made with other "
                     "code (sbrlib or the notebooks changed since), so its seconds are not reused")
        last = None
    if last is not None:
        # the same count on both sides: the split's events when both are known (recorded by the
        # run as split_events), else the split now against the last run's (none: same size)
        now, before = split_events(split), last.get("split_events")
        factor = now / before if now and before else 1.0
        out = {}
        for nb, _ in todo:
            sec = last["notebooks"].get(nb.stem, {}).get("seconds")
            out[nb.stem] = None if sec is None else sec * factor
        if all(v is not None for v in out.values()):
            source = f"last completed run {Path(last['path']).parent.name}"
            if factor != 1.0:
                source += f", scaled x{factor:.2f}: the split has {now:,} events, that run's had {before:,}"
            return TimePlan(out, source, events, None, profile, tuple(notes))
    if calibration is None:
        needed = measure and any(nb.stem in REFERENCES for nb, _ in todo)
        calibration = calibrate(outputs) if needed else Calibration(REFERENCE_GFLOPS)
    from sbrlib.notebook.params import declared_parameters

    out = {nb.stem: (None if events is None else
                     model_seconds(nb.stem, {**declared_parameters(nb), **params}, events, calibration))
           for nb, params in todo}
    unmeasured = [s for s in out if s in REFERENCES and not REFERENCES[s].measured]
    notes.append(f"estimates from a model (reference: ML-100K, 2 cores; this machine {calibration.gflops:.0f} GFLOP/s "
                 f"against {REFERENCE_GFLOPS:.0f}; {events or '?'} events); {CHECKED}"
                 + (f"; reference of {', '.join(unmeasured)} not measured on its own" if unmeasured else ""))
    return TimePlan(out, "model", events, calibration, profile, tuple(notes))
