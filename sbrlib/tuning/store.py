"""Stored studies: where they live (SQLite under the results folder), how to open them safely,
and the best configurations they hold (also written to ``results/<split>/tuned.json`` for notebook 05).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from sbrlib import __version__
from sbrlib.core import paths
from sbrlib.core.fileio import write_json
from sbrlib.core.text import join_and
from sbrlib.tuning.space import NEURAL, make_config

log = logging.getLogger(__name__)

METRICS = ("mrr@20", "recall@20")
"""Objectives: validation metrics computed after every GRU4Rec epoch (maximized)."""
STUDY_FILE = "tuning.sqlite3"
BEST_FILE = "tuned.json"


SPACE_VERSION = 2
"""Version of the study record (identity, budget, facts). Studies stored by an sbrlib that did not
record an identity (before version 2) are refused, never trusted blindly."""
IDENTITY_KEYS = ("space_version", "space_fingerprint", "split", "split_fingerprint", "frames", "data_sizes",
                 "objective")
"""What identifies a study: the search space (version and fingerprint of the parameter definitions),
the data (split, its manifest fingerprint, the frames used and their sizes) and the objective."""


class TuningError(RuntimeError):
    """A search cannot run or a stored study cannot be used; the message says what to do."""


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # enqueued presets may lie between grid points (e.g. 100 GRU units on a step-32 grid): used as given
    warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range", category=UserWarning)
    return optuna


def study_path(split_name: str) -> Path:
    """Where the studies of a split are stored: ``results/<split>/tuning.sqlite3``."""
    return paths.results_dir(split_name) / STUDY_FILE


def study_name(model: str, metric: str) -> str:
    """The study's name inside the storage file, e.g. ``gru4rec-mrr@20``."""
    return f"{model}-{metric}"


def _storage(path: str | Path):
    """An Optuna RDB storage on a SQLite file; a file that is not a study database is a clear error."""
    optuna = _optuna()
    from sqlalchemy.exc import SQLAlchemyError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # heartbeats: a trial whose process died (killed, crashed) is marked failed when a search resumes
        return optuna.storages.RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}},
                                          heartbeat_interval=60, grace_period=180)
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, RuntimeError) as exc:
        raise TuningError(f"{path} is not a readable Optuna study file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}); move or delete it to start a new search") from exc


def load_study(study_or_path: Any, model: str | None = None, metric: str = "mrr@20"):
    """A stored study: pass a Study (returned as is), or the SQLite path with ``model`` and ``metric``."""
    optuna = _optuna()
    if isinstance(study_or_path, optuna.Study):
        return study_or_path
    path = Path(study_or_path)
    if not path.is_file():
        raise TuningError(f"{path} not found: run notebooks/03_tuning (or sbrlib.tuning.tune) first")
    if model is None:
        raise TuningError("load_study(path, model): name the model family whose study to load")
    storage = _storage(path)
    name = study_name(model, metric)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        known = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise TuningError(f"{path} holds no study {name!r} (it holds: {', '.join(known) or 'none'})") from exc


def space_fingerprint(space: Any) -> str:
    """Fingerprint of a search space's parameter definitions (ranges, scales, steps, conditions)."""
    from sbrlib.core.provenance import fingerprint

    return fingerprint({name: {"low": p.low, "high": p.high, "choices": [repr(c) for c in p.choices],
                               "integer": p.integer, "log": p.log, "step": p.step,
                               "when": list(p.when) if p.when else None} for name, p in space.items()})


def study_identity(space: Any, frames: Any, split_name: str, metric: str, base: Any,
                   train: str = "train_tr", valid: str = "valid") -> dict[str, Any]:
    """What a study is a search of (see :data:`IDENTITY_KEYS`); stored with the study at creation.

    Args:
        space: the search space (name -> :class:`~sbrlib.tuning.space.Param`) after overrides.
        frames: the split (``frames[train]`` and ``frames[valid]`` are used).
        split_name: the split's name.
        metric: the objective (maximized on ``valid``).
        base: the config searched values are applied on (its epochs and patience are part of the
            objective).
    """
    from sbrlib.core.columns import SESSION
    from sbrlib.evaluation.evaluator import EvalConfig

    fp = getattr(frames, "fingerprint", None) or frames[train].attrs.get("split_fingerprint")
    sizes = {f"{k}_{what}": int(v) for k in (train, valid) for what, v in
             (("events", len(frames[k])), ("sessions", frames[k][SESSION].nunique()))}
    objective = {"metric": metric, "direction": "maximize",
                 "exclude_seen": getattr(base, "validation_exclude_seen", EvalConfig().exclude_seen),
                 "max_epochs": getattr(base, "epochs", None),
                 "patience": getattr(base, "early_stopping_patience", None)}
    return _jsonable({"space_version": SPACE_VERSION, "space_fingerprint": space_fingerprint(space),
                      "split": split_name, "split_fingerprint": fp, "frames": f"{train}\u2192{valid}",
                      "data_sizes": sizes, "objective": objective})


def identity_differences(stored: dict | None, current: dict) -> list[str]:
    """What differs between a stored study's identity and the current one (empty: the same)."""
    if not stored:
        return ["no identity recorded (a study from an sbrlib before study version "
                f"{SPACE_VERSION}, or not made by sbrlib.tuning.tune)"]
    unknown = sorted(set(stored) - set(IDENTITY_KEYS))
    if unknown:
        return [f"unknown identity key(s) {', '.join(unknown)} (a study from another sbrlib version)"]
    out = []
    labels = {"space_version": "search-space version", "space_fingerprint": "search space (parameter definitions)",
              "split_fingerprint": "data (split fingerprint)", "frames": "frames", "data_sizes": "data sizes",
              "objective": "objective"}
    for key in IDENTITY_KEYS:
        if key == "split":  # the name alone may differ (a copied split); the fingerprint decides
            continue
        old, new = stored.get(key), current.get(key)
        if key == "split_fingerprint" and (old is None or new is None):
            continue  # frames not loaded from a split: the sizes decide
        if isinstance(old, dict) and isinstance(new, dict):
            diff = [f"{k} {old.get(k)!r}\u2192{new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            if diff:
                out.append(f"{labels[key]}: {', '.join(diff)}")
        elif old != new:
            out.append(f"{labels[key]}: {old!r}\u2192{new!r}")
    return out


def check_identity(study, current: dict, path: str | Path) -> None:
    """Refuse (one line) to reuse ``study`` when its stored identity differs from ``current``.

    Raises:
        TuningError: ``study '<name>' in <file> was made differently: <what differs>; ...`` with
            how to proceed (another study file, or ``restart=True``).
    """
    diffs = identity_differences(study.user_attrs.get("identity"), current)
    if diffs:
        raise TuningError(f"study {study.study_name!r} in {path} was made differently: {'; '.join(diffs)} \u2014 "
                          "not reused: set STUDY_FILE to a new file or move this one away (a new make run-all with "
                          "REUSE_STUDY=False does not copy make tune's studies); tune(..., restart=True) replaces "
                          "the study")


def budget_state(study) -> dict[str, Any]:
    """The study's search budget and how much of it was used: ``{"budget": {"trials", "minutes",
    "shared_with"}, "used": {"trials", "seconds"}, "completed": bool}`` (empty dicts when not recorded)."""
    return {"budget": dict(study.user_attrs.get("budget") or {}), "used": dict(study.user_attrs.get("used") or {}),
            "completed": bool(study.user_attrs.get("budget_completed", False))}


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _n_complete(study) -> int:
    optuna = _optuna()
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _best_value(study) -> float | None:
    return study.best_value if _n_complete(study) else None


def study_facts(study, path: str | Path | None = None) -> dict[str, Any]:
    """The recorded facts of a study: trials by state, data, objective, budget and best value.

    Returns:
        ``{"study", "study_file", "model", "split", "frames", "metric", "objective", "trials",
        "complete", "pruned", "failed", "budget", "used", "budget_completed", "budget_ended_by", "search_end", "best_value",
        "best_trial", "best_epoch", "stopped_early"}``; ``search_end``: why the shared rounds of
        :func:`sbrlib.tuning.search.tune_all` ended before the time was spent (one sentence), or None; ``stopped_early``: one ``{"trial", "state",
        "epoch", "rule"}`` per GRU4Rec / SASRec trial stopped before its own training ended (median rule,
        time limit; :func:`sbrlib.tuning.analysis.stop_record`), in trial order.
    """
    from sbrlib.tuning.analysis import stop_record

    optuna = _optuna()
    states = [t.state for t in study.get_trials(deepcopy=False)]
    S = optuna.trial.TrialState
    identity = study.user_attrs.get("identity") or {}
    state = budget_state(study)
    best = study.best_trial if _n_complete(study) else None
    model = study.user_attrs.get("model")
    kept = _best_is_default(study, best, model)
    return _jsonable({
        "best_is_default": kept, **({"default_phrase": defaults_phrase(model)} if kept else {}),
        "study": study.study_name, "study_file": str(path) if path is not None else None,
        "model": study.user_attrs.get("model"), "split": identity.get("split", study.user_attrs.get("split")),
        "frames": identity.get("frames"), "metric": study.user_attrs.get("metric"),
        "objective": identity.get("objective"),
        "trials": sum(s in (S.COMPLETE, S.PRUNED, S.FAIL) for s in states), "complete": states.count(S.COMPLETE),
        "pruned": states.count(S.PRUNED), "failed": states.count(S.FAIL),
        "budget": state["budget"], "budget_completed": state["completed"],
        "budget_ended_by": _ended_by(state, study.user_attrs.get("search_end")),
        "used": {**state["used"], **({"shared_seconds": float(study.user_attrs["shared_used_seconds"])}
                                     if study.user_attrs.get("shared_used_seconds") is not None else {})},
        "search_end": (study.user_attrs.get("search_end") or {}).get("text"),
        "best_value": study.best_value if best is not None else None,
        "best_trial": best.number if best is not None else None,
        "best_epoch": best.user_attrs.get("best_epoch") if best is not None else None,
        "stopped_early": [{"trial": t.number, "state": t.state.name.lower(), "epoch": r["epoch"], "rule": r["rule"],
                           **({"limit_seconds": r["limit_seconds"]} if r.get("limit_seconds") is not None else {}),
                           **({"still_improving": True} if r.get("still_improving") else {})}
                          for t in study.get_trials(deepcopy=False)
                          if (r := stop_record(t)) is not None and r["rule"] not in ("patience", "epoch cap")],
    })


def _ended_by(state: dict[str, Any], search_end: Any) -> str | None:
    """Which limit ended a finished search: ``"trial cap"``, ``"time budget"`` or ``"round cannot start"``
    (the shared rounds' rule); None while its budget is not completed."""
    if not state["completed"]:
        return None
    if search_end:
        return "round cannot start"
    budget, used = state["budget"], state["used"]
    if budget.get("trials") is not None and int(used.get("trials", 0)) >= int(budget["trials"]):
        return "trial cap"
    return "time budget" if budget.get("minutes") is not None else None


def _best_is_default(study, best, model: str | None) -> bool:
    """Whether a study's best trial is the model's default configuration (every searched field equal
    to the config class's default); False without a best trial or a known model."""
    from sbrlib.tuning.space import config_class

    if best is None or not model:
        return False
    try:
        defaults = config_class(model)()
        if model in NEURAL:
            config = config_class(model)(**checked_fields(model, best.user_attrs["config"], f"trial {best.number}"))
        else:
            config = make_config(model, checked_fields(model, best.params, f"trial {best.number}"))
    except Exception as exc:  # an unreadable trial is reported by resolve_config; here it is just "not known"
        log.debug("best_is_default of %s not determined: %s", study.study_name, exc)
        return False
    return all(getattr(config, k) == getattr(defaults, k) for k in best.params if hasattr(defaults, k))


def defaults_phrase(model: str) -> str:
    """``"SASRecConfig() (the class defaults: the best of an earlier 49-trial search on ml-100k-gap, not part of
    this run; its record is in notebook 03's table of earlier searches)"``, or ``"... (the class defaults)"``
    when no search is behind them (:func:`sbrlib.models.registry.defaults_search`; the record:
    :func:`earlier_searches`)."""
    from sbrlib.models import registry
    from sbrlib.tuning.space import config_class

    name = config_class(model).__name__
    prior = registry.defaults_search(model)
    if not prior:
        return f"{name}() (the class defaults)"
    return (f"{name}() (the class defaults: the best of an earlier {prior['trials']}-trial search on "
            f"{prior['split']}, not part of this run; its record is in notebook 03's table of earlier searches)")


def earlier_searches(models: Any) -> pd.DataFrame:
    """The recorded searches behind the models' default configurations, one row per model that has one
    (:func:`sbrlib.models.registry.defaults_search`): split, objective, trials by state, the best trial, its
    value and epoch, the epoch cap per trial and the preset (where each is documented:
    :func:`prior_search_where`). Empty when none has.

    Args:
        models: model names or keys (``"gru4rec"``, ``"SASRec"``, ...).
    """
    from sbrlib.models import registry

    rows = {}
    for model in models:
        prior = registry.defaults_search(model)
        if not prior:
            continue
        trials = int(prior["trials"])
        complete, pruned = prior.get("complete"), prior.get("pruned")
        row = {"split": prior["split"], "objective": str(prior.get("metric", "")).replace("mrr", "MRR"),
               "trials": trials, "complete": complete, "pruned": pruned}
        if complete is not None and pruned is not None:
            row["other (state not recorded)"] = trials - complete - pruned
        row.update({"best trial": prior.get("best_trial"), "best value": prior.get("best_value"),
                    "at epoch": prior.get("best_epoch"), "epochs per trial (cap)": prior.get("epochs_per_trial"),
                    "preset (= the class defaults)": prior.get("preset"), "result stored in": prior.get("recorded")})
        rows[registry.display_name(model)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def prior_search_where(model: str) -> str:
    """Where the earlier search behind a family's defaults is documented, e.g. ``"documented in README.md,
    section Tuning ('The defaults come from a real search'), and in sbrlib/models/gru4rec/presets.py
    (PROVENANCE['movielens-gap'])"``."""
    from sbrlib.models import registry

    prior = registry.defaults_search(model) or {}
    spec = registry.get(model)
    module = (spec.presets or "").replace(".", "/") + ".py"
    preset = f" (PROVENANCE[{prior['preset']!r}])" if prior.get("preset") else ""
    return ("documented in README.md, section Tuning ('The defaults come from a real search'), and in "
            f"{module}{preset}")


def stopped_early_text(stopped: list[dict[str, Any]] | None) -> str:
    """``"2 stopped early by their time limit, after 7 and 1 epochs"`` from ``stopped_early`` of
    :func:`study_facts` (rules grouped, epochs in trial order; ``", 1 of them while still improving"`` when a
    trial's best epoch was its last); ``""`` when none was."""
    if not stopped:
        return ""
    by_rule: dict[str, list[int]] = {}
    for s in stopped:
        by_rule.setdefault(str(s["rule"]), []).append(int(s["epoch"]))
    parts = []
    for rule, epochs in by_rule.items():
        own = "its" if len(epochs) == 1 else "their"
        words = {"time limit": f"by {own} time limit", "median rule": "by the median rule",
                 "diverged": "by a diverging loss"}
        ep = join_and(epochs)
        parts.append(f"{len(epochs)} {words.get(rule, f'({rule})')}, after {ep} epoch"
                     + ("" if epochs == [1] else "s"))
    total = len(stopped)
    head = f"{total} stopped early" if len(parts) == 1 else f"{total} stopped early: "
    improving = sum(bool(s.get("still_improving")) for s in stopped)
    tail = ("" if not improving else ", while still improving" if total == 1 else
            f", {improving} of them while still improving")
    return head + (" " + parts[0].split(" ", 1)[1] if len(parts) == 1 else "; ".join(parts)) + tail


def _budget_text(budget: dict, used: dict, model: str | None = None) -> str:
    """``"12 of 40 trials, 0.75 of 0.75 min"``; a time budget shared with other models says so and
    names only the others: ``"1 of 40 trials, 0.77 min of the 1.50 min shared with sasrec"``."""
    parts = []
    if budget.get("trials") is not None:
        parts.append(f"{used.get('trials', 0)} of {budget['trials']} trials")
    others = [m for m in budget.get("shared_with") or () if m != model]
    if budget.get("minutes") is not None:
        minutes = used.get("seconds", 0.0) / 60
        together = ""
        if others and used.get("shared_seconds") is not None:
            shared = used["shared_seconds"] / 60
            over = (f": over by {shared - budget['minutes']:.2f} min, since a trial's time limit is checked after each "
                    "epoch and the epoch running when it passed is finished"
                    if shared >= budget["minutes"] + 0.005 else "")
            together = f" ({shared:.2f} min used by {'both' if len(others) == 1 else f'all {len(others) + 1}'}{over})"
        parts.append(f"{minutes:.2f} min of the {budget['minutes']:.2f} min shared with {', '.join(others)}{together}"
                     if others else f"{minutes:.2f} of {budget['minutes']:.2f} min")
        if not others and model not in NEURAL and minutes > budget["minutes"] * 1.05:
            parts[-1] += (": over its budget, since a baseline trial is not stopped once it started (the last one started "
                          "before the budget was spent)")
    elif others:
        parts.append(f"shared with {', '.join(others)}")
    return ", ".join(parts)


DEFAULTS_KEPT = "default configuration kept"
"""How :func:`describe_study` starts when a search of 2 or more trials did not beat the model's default
configuration (its best trial is trial 0, the defaults): such a model is the shipped default, not "tuned"."""


def kept_cut_text(stopped: list[dict[str, Any]] | None) -> str:
    """``"trial 0, stopped by its time limit after epoch 4 and kept as complete with the epochs it had"``
    for the complete trials among ``stopped_early`` of :func:`study_facts` (a search's first trial is
    kept when a time limit stops it: :data:`sbrlib.tuning.search.STOP_RULES`); ``""`` when none was."""
    kept = [s for s in stopped or () if s.get("state") == "complete"]
    if not kept:
        return ""
    return "; ".join(f"trial {s['trial']}, stopped by its {s['rule']} after epoch {s['epoch']} and kept as "
                     "complete with the epochs it had" for s in kept)


def _counts_text(facts: dict[str, Any]) -> str:
    """``"1 complete: trial 0, stopped by its time limit after epoch 4 and kept ...; 1 pruned: by its time
    limit, after 2 epochs, while still improving"``: trials by state, each with how its early stops happened."""
    stopped = list(facts.get("stopped_early") or [])
    cut = kept_cut_text(stopped)
    text = f"{facts['complete']} complete" + (f": {cut}" if cut else "")
    pruned = [s for s in stopped if s.get("state") == "pruned"]
    early = stopped_early_text(pruned)
    sep = "; " if cut else ", "
    if pruned and len(pruned) == facts.get("pruned"):  # every pruned trial was stopped early: say how, inline
        text += f"{sep}{facts['pruned']} pruned: {early.partition(' stopped early')[2].lstrip(': ').lstrip()}"
    else:
        text += f"{sep}{facts['pruned']} pruned" + (f"; {early}" if early else "")
    others = [s for s in stopped if s.get("state") not in ("complete", "pruned")]
    if facts.get("failed"):
        text += f", {facts['failed']} failed"
    if others:
        text += f"; {stopped_early_text(others)}"
    return text


def short_source(description: str) -> str:
    """The first words of a configuration's source label (:func:`describe_study`,
    :func:`sbrlib.tuning.resolve_config`) for a sentence that names several models, e.g. ``"tuned: best of 40
    trials (40 complete, ...) ..."`` -> ``"tuned: best of 40 trials of notebook 03's search"``; a label of another
    kind is returned up to its first ``" on "`` (where the data and budget details start)."""
    found = re.match(r"tuned: best of ([\d,]+) trials", description)
    if found:
        return f"tuned: best of {found.group(1)} trials of notebook 03's search" + (
            f"; changed explicitly: {description.partition('; changed explicitly: ')[2]}"
            if "; changed explicitly: " in description else "")
    if description.startswith("single trial"):
        return "a single trial of notebook 03's search (the default configuration, not tuned)"
    changed = description.partition("; changed explicitly: ")[2]
    tail = f"; changed explicitly: {changed}" if changed else ""
    if description.startswith(DEFAULTS_KEPT):
        name = re.match(rf"{DEFAULTS_KEPT}: (\w+\(\))", description)
        trials = re.search(r"a search of ([\d,]+) trials", description)
        return (f"{DEFAULTS_KEPT}" + (f": {name.group(1)}" if name else "") + " (notebook 03's search"
                + (f" of {trials.group(1)} trials" if trials else "") + " did not beat it)" + tail)
    head, depth = description.split(" \u2014 ", 1)[0], 0
    for i, ch in enumerate(head):  # cut at the first " on " outside parentheses
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and head.startswith(" on ", i):
            return head[:i] + tail
    return head if head == description or not tail or tail in head else head + tail


def describe_study(facts: dict[str, Any]) -> str:
    """A sentence built only from :func:`study_facts`, e.g. ``tuned: best of 12 trials (8 complete,
    4 pruned) on ml-100k-gap train_tr→valid, MRR@20 0.1234 (trial 5, epoch 7), search finished: its trial cap was reached
    (12 of 12 trials)``. When the best trial of 2 or more is the model's default configuration
    (``best_is_default``, :func:`study_facts`), the sentence starts with :data:`DEFAULTS_KEPT` instead
    (``default configuration kept: GRU4RecConfig() (...) — a search of 3 trials (...) did not beat it ...``),
    with ``default_phrase``: every notebook prints this one label. A one-trial study is never called tuned: its sentence starts with
    ``single trial:`` (a search's first trial evaluates the model's default configuration), not a search result."""
    counts = _counts_text(facts)
    if facts["trials"] == 1:
        head = (f"single trial: one search trial ({counts}; a search's first trial evaluates the model's default "
                "configuration) \u2014 not a search result, not tuned \u2014")
    elif facts.get("best_is_default"):  # the search kept the defaults: lead with that, never with "tuned"
        head = (f"{DEFAULTS_KEPT}: {facts.get('default_phrase') or 'the class defaults'} \u2014 a search of "
                f"{facts['trials']} trials ({counts}) did not beat it (its trial 0 is that configuration), so the "
                "model in use is the shipped default configuration \u2014")
    else:
        head = f"tuned: best of {facts['trials']} trials ({counts})"
    metric = str(facts.get("metric") or "").upper().replace("RECALL", "Recall")
    best = (f"{metric} {facts['best_value']:.4f} (trial {facts['best_trial']}"
            + (f", best epoch {facts['best_epoch']}" if facts.get("best_epoch") is not None else "") + ")"
            if facts.get("best_value") is not None else f"{metric}: no completed trial")
    budget = _budget_text(facts.get("budget") or {}, facts.get("used") or {}, facts.get("model"))
    if facts.get("budget_completed"):
        ended = facts.get("budget_ended_by") or _ended_by(
            {"completed": True, "budget": facts.get("budget") or {}, "used": facts.get("used") or {}}, None)
        which = {"trial cap": "its trial cap was reached", "time budget": "its time budget was spent"}.get(
            str(ended), "its budget was used")
        status = f"search finished: {which}" + (f" ({budget})" if budget else "")
        if facts.get("search_end"):  # the shared rounds ended with time left that could not hold another round
            status = f"search finished ({budget}): {facts['search_end']}" if budget else f"search finished: {facts['search_end']}"
    else:
        status = "budget NOT completed" + (f" ({budget}; continue it with FROM=03)" if budget else "")
    return f"{head} on {facts.get('split')} {facts.get('frames') or ''}, {best}, {status}".replace("  ", " ")


def best_trial(study_or_path: Any, model: str | None = None, metric: str = "mrr@20"):
    """The best completed trial of a study (or of the study ``<model>-<metric>`` in a SQLite file)."""
    study = load_study(study_or_path, model, metric)
    if not _n_complete(study):
        raise TuningError(f"study {study.study_name!r} has no completed trial yet: run more trials")
    return study.best_trial


def best_params(study_or_path: Any, model: str, metric: str = "mrr@20") -> dict[str, Any]:
    """The best configuration as keyword arguments of the model's config class.

    For GRU4Rec it is the full config with ``epochs`` set to the best trial's best epoch;
    for the baselines the searched fields only (use ``ItemKNNConfig(**best_params(...))``).

    Args:
        study_or_path: a Study, or the SQLite file (``tuning.study_path(split_name)``).
        model: the model family (``"gru4rec"``, ``"item-knn"``, ``"sr"``, ``"v-sknn"``).
        metric: the objective of the study.
    """
    study = load_study(study_or_path, model, metric)
    trial = best_trial(study)
    if model in NEURAL:
        data = checked_fields(model, trial.user_attrs["config"], f"trial {trial.number} of study "
                              f"{study.study_name!r} in {study_file(study)}")
        data["epochs"] = int(trial.user_attrs.get("best_epoch", data["epochs"]))
        return data
    return checked_fields(model, trial.params, f"trial {trial.number} of study {study.study_name!r} in "
                                               f"{study_file(study)}")


def study_file(study) -> str:
    """The SQLite file (or storage URL) of a study, for messages."""
    storage = getattr(study, "_storage", None)
    url = getattr(storage, "url", None) or getattr(getattr(storage, "_backend", None), "url", None)
    return str(url).removeprefix("sqlite:///") if url else "its storage"


def checked_fields(model: str, data: Any, where: str) -> dict[str, Any]:
    """``data`` as config keyword arguments of ``model``; a key that this version's config class
    does not have is an error naming the key and ``where`` it was stored (never dropped silently).

    Raises:
        TuningError: ``unknown key(s) 'x' in <where>: ...`` with how to proceed.
    """
    import dataclasses

    from sbrlib.tuning.space import config_class

    cls = config_class(model)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise TuningError(f"unknown key(s) {', '.join(map(repr, unknown))} in {where}: not fields of "
                          f"{cls.__name__} in this sbrlib ({__version__}); the study comes from another version "
                          "\u2014 search again with a new study file (STUDY_FILE, or move the old one away)")
    out = dict(data)
    if "layers" in out:
        out["layers"] = tuple(out["layers"]) if isinstance(out["layers"], (list, tuple)) else (int(out["layers"]),)
    return out


def best_config(study_or_path: Any, model: str, metric: str = "mrr@20") -> Any:
    """The best configuration as a config object (``GRU4RecConfig``, ``ItemKNNConfig``, ...)."""
    return make_config(model, best_params(study_or_path, model, metric))


def save_best(study, model: str, split_name: str, folder: str | Path | None = None) -> Path:
    """Add (or replace) ``model``'s best configuration in ``<folder>/tuned.json`` (default
    ``results/<split>/``, next to the default study file)."""
    metric = study.user_attrs.get("metric", study.study_name.rsplit("-", 1)[-1])
    path = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    trial = study.best_trial
    facts = study_facts(study, study_file(study))
    data[model] = _jsonable({
        "metric": metric, "value": study.best_value, "valid": trial.user_attrs.get("valid"),
        "params": best_params(study, model, metric), "searched": trial.params, "trial": trial.number,
        "trials": len(study.trials), "study": study.study_name, "split": split_name, "sbrlib_version": __version__,
        "facts": facts, "description": describe_study(facts),
    })
    write_json(path, data)
    return path


def read_best(split_name: str, folder: str | Path | None = None) -> dict[str, dict]:
    """The best configurations recorded for a split (``results/<split>/tuned.json``), by model."""
    path = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TuningError(f"{path} is not valid JSON ({exc}); run notebooks/03_tuning again") from exc


def tuned_config(split_name: str, model: str, default: Any = None, folder: str | Path | None = None) -> Any:
    """The tuned config of ``model`` for ``split_name`` from ``tuned.json``, or ``default`` when none.

    Notebook 05 uses it to compare tuned against tuned, e.g.
    ``ItemKNN(tuning.tuned_config(SPLIT_NAME, "item-knn", ItemKNNConfig()))``.
    """
    entry = read_best(split_name, folder).get(model)
    where = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    return make_config(model, checked_fields(model, entry["params"], f"{where} ({model})")) if entry else default


def best_baseline_params(split_name: str, folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The tuned baseline parameters of a split by display name, e.g. ``{"SR": {"steps": 14}}``,
    from ``results/<split>/tuned.json`` (what notebook 05's ``BASELINE_PARAMS="tuned"`` uses).

    Only fields of this version's config classes are returned; baselines that were not tuned are
    left out (they keep their defaults).

    Raises:
        TuningError: no tuned baseline for the split, saying how to get one.
    """
    from sbrlib.tuning.space import MODEL_NAMES

    where = Path(folder or paths.results_dir(split_name)) / BEST_FILE
    out = {}
    for model, entry in read_best(split_name, folder).items():
        if model in NEURAL or model not in MODEL_NAMES:
            continue
        out[MODEL_NAMES[model]] = checked_fields(model, entry["params"], f"{where} ({model})")
    if not out:
        raise TuningError(f"no tuned baseline parameters for {split_name} ({where} missing or without baselines): "
                          "run notebooks/03_tuning first (MODELS with item-knn, sr, v-sknn), or use the defaults")
    return out


__all__ = ["BEST_FILE", "IDENTITY_KEYS", "SPACE_VERSION", "budget_state", "check_identity", "checked_fields", "study_file", "describe_study",
           "identity_differences", "space_fingerprint", "study_facts", "study_identity", "best_baseline_params", "METRICS", "STUDY_FILE", "TuningError", "best_config", "best_params", "best_trial",
           "load_study", "read_best", "save_best", "study_name", "study_path", "tuned_config"]
