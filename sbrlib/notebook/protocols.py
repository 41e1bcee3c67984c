"""Helpers of notebook 07 (sequential models under two protocols): early stopping then refit,
bootstrap intervals over sessions/users, paired differences, and published ML-1M figures.

Intervals come from :mod:`sbrlib.evaluation.uncertainty` (test sessions resampled, in leave-one-out: users).
Train once across the series: :func:`check_reuse` / :func:`reuse_saved` decide whether notebook 04's
saved model is the model 07 would train (split, frame, config, metric), and :func:`run_protocol` uses
it without training again. :func:`verdict` is the head-to-head's rule for naming a winner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sbrlib import training
from sbrlib.core import text as core_text
from sbrlib.core.columns import SESSION, TIME, USER
from sbrlib.core.provenance import differences
from sbrlib.core.training_facts import TrainingFacts
from sbrlib.data.preprocess import Split, sessionize
from sbrlib.evaluation import uncertainty as U
from sbrlib.evaluation.evaluator import EvalConfig, EvalResult, evaluate_positions
from sbrlib.training import TrainingConfig

log = logging.getLogger(__name__)

PUBLISHED_ML1M = pd.DataFrame(
    [
        ("SASRec, full cross-entropy", 0.3152, 0.1821, "Klenitskiy & Vasilev, RecSys 2023"),
        ("gSASRec (gBCE)", 0.3003, 0.1726, "Petrov & Macdonald, RecSys 2023"),
        ("BERT4Rec", 0.2843, 0.1537, "Klenitskiy & Vasilev, RecSys 2023"),
        ("GRU4Rec (RecBole)", 0.2776, 0.1545, "Klenitskiy & Vasilev, RecSys 2023"),
    ],
    columns=["model", "recall@10", "ndcg@10", "source"],
).set_index("model")
"""Published leave-one-out ML-1M figures (HR@10 = Recall@10 with one held-out item; full ranking)."""


def _bootstrap_config(n_boot: int, level: float, seed: int) -> U.BootstrapConfig:
    return U.BootstrapConfig(n_boot=n_boot, level=level, seed=seed)


def bootstrap_table(results: Mapping[str, EvalResult], metrics: tuple[str, ...] = ("recall@10", "ndcg@10"),
                    n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Point estimates and percentile intervals (:func:`sbrlib.evaluation.uncertainty.bootstrap`, resampling
    test sessions; users in leave-one-out), one row per model.

    Returns:
        Columns ``<metric>``, ``<metric> lo``, ``<metric> hi`` for every metric.
    """
    config = _bootstrap_config(n_boot, level, seed)
    rows = {}
    for name, res in results.items():
        boot = U.bootstrap(res.predictions, metrics, config)
        row = {}
        for m in metrics:
            row[m], row[f"{m} lo"], row[f"{m} hi"] = (float(boot.loc[m, c]) for c in ("estimate", "low", "high"))
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def paired_difference(a: EvalResult, b: EvalResult, metric: str, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> dict:
    """``metric(a) - metric(b)`` with a paired bootstrap interval (:func:`sbrlib.evaluation.uncertainty.paired`)
    on the sessions both scored. When both score one prediction per session (leave-one-out), the
    predictions are matched by session alone, so views of the same held-out item with different
    prefixes (whole history, last session) can be compared."""
    pa, pb = a.predictions, b.predictions
    common = np.intersect1d(pa[SESSION].unique(), pb[SESSION].unique())
    pa, pb = pa[pa[SESSION].isin(common)], pb[pb[SESSION].isin(common)]
    if not pa[SESSION].duplicated().any() and not pb[SESSION].duplicated().any():
        pa, pb = pa.assign(position=0), pb.assign(position=0)
    row = U.paired(pa, pb, [metric], _bootstrap_config(n_boot, level, seed)).iloc[0]
    seen = {str(r.config.exclude_seen) for r in (a, b) if getattr(r, "config", None) is not None}
    return {"metric": metric, "difference": float(row["diff"]), "lo": float(row["low"]), "hi": float(row["high"]),
            "p_value": float(row["p_value"]), "sessions": int(len(common)),
            # the seen-items setting both were ranked with (reader 21: rows with "user" and "none" looked alike)
            **({"exclude_seen": seen.pop() if len(seen) == 1 else "differs"} if seen else {})}


def p_value_text(p: float, n_boot: int) -> str:
    """A bootstrap p-value for display: ``"0.006"``, or ``"<0.002"`` when no resample fell on the other
    side of 0 (with ``n_boot`` resamples the smallest p the test can show is ``2 / n_boot``, so 0 means
    only p < 2 / n_boot)."""
    if p <= 0:
        return f"<{2 / max(int(n_boot), 1):.3g}"
    return f"{p:.3f}"


def comparison_table(comparisons: Sequence[tuple[str, str, str, Mapping]], n_boot: int) -> pd.DataFrame:
    """Notebook 07's paired comparisons, one row each (``protocol``, ``a``, ``b``, the
    :func:`paired_difference` fields), with ``p_value`` shown by :func:`p_value_text`."""
    rows = [{"protocol": p, "a": a, "b": b, **d} for p, a, b, d in comparisons]
    table = pd.DataFrame(rows)
    if len(table):
        table["p_value"] = [p_value_text(float(v), n_boot) for v in table["p_value"]]
        for column in ("difference", "lo", "hi"):  # one display: signed, 4 decimals (never scientific notation)
            table[column] = [difference_text(float(v)) for v in table[column]]
    return table


def difference_text(x: float, digits: int = 4) -> str:
    """A signed difference with ``digits`` decimals, e.g. ``"-0.0173"``; one that rounds to zero shows
    its sign, e.g. ``"-0.0000"`` for -0.00003 (the findings then say "less than 0.00005")."""
    return f"{x:+.{digits}f}"


def _minus(x: float) -> str:
    """:func:`difference_text` for running text, with the typographic minus of the other findings (``"−0.0173"``)."""
    return core_text.signed(x)


def format_interval(table: pd.DataFrame, metrics: tuple[str, ...], digits: int = 4) -> pd.DataFrame:
    """``"0.1234 (0.1100–0.1350)"`` cells from :func:`bootstrap_table`."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        out[m] = [f"{v:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
                  for v, lo, hi in zip(table[m], table[f"{m} lo"], table[f"{m} hi"], strict=True)]
    return out


def fit_early_stopped(make: Callable[[int | None], object], train_tr: pd.DataFrame, valid: pd.DataFrame,
                      train: pd.DataFrame, eval_config: EvalConfig, positions: Literal["all", "last"],
                      metric: str, patience: int, progress: bool = True, refit: bool = False,
                      max_seconds: float | None = None) -> tuple[object, dict]:
    """Train on ``train_tr`` with the one training loop (:func:`sbrlib.training.fit`): ``valid`` scored
    after every epoch with ``eval_config`` at ``positions`` (``train_tr`` is the history for
    ``exclude_seen="user"``), stop after ``patience`` consecutive epochs without improvement of
    ``metric``, at the model's epoch cap, or after the epoch in which ``max_seconds`` of training and
    validation are spent. The same rule for every neural model (GRU4Rec, SASRec).

    Args:
        make: ``make(epochs)`` returns an unfitted model (``prepare_training``/``train_epoch``/
            weights, see :class:`sbrlib.training.Trainable`; ``epochs=None``: the configured maximum,
            which is the epoch cap here).
        refit: False (default): train once and keep the weights of the best epoch (what notebook 04
            does); True: also retrain on ``train`` for the best number of epochs (a second training).
        max_seconds: time budget of the early-stopping run (None: no limit).

    Returns:
        ``(model, info)``; info: ``facts`` (the early-stopping run's
        :class:`~sbrlib.core.training_facts.TrainingFacts`), ``best_epoch``, ``epochs_run``, ``curve``
        (validation metric per epoch), ``stopped`` (``facts.stopped_by``: ``"patience"``,
        ``"budget"``, ``"epochs"`` or ``"diverged"``), ``still_improving``, ``early_stop_seconds`` (the
        early-stopping run), ``fit_seconds`` (the refit; 0 without one).
    """
    start = time.perf_counter()
    tuned = make(None)
    config = TrainingConfig(max_epochs=int(tuned.config.epochs), patience=patience, metric=metric,
                            budget_seconds=max_seconds, restore_best=not refit,
                            validation=replace(eval_config, positions=positions, coverage_ks=()))
    facts = training.fit(tuned, train_tr, valid, config, history_frame=train_tr, progress=progress)
    best_epoch = facts.best_epoch or facts.epochs_run
    early_stop_seconds = time.perf_counter() - start
    if facts.stopped_by == "budget" and facts.still_improving:
        log.warning("%s: %s", type(tuned).__name__, facts.sentence())
    fit_seconds = 0.0
    if refit:
        start = time.perf_counter()
        model = make(best_epoch).fit(train, progress=progress)
        fit_seconds = time.perf_counter() - start
    else:
        model = tuned
    curve = [float(row.get(metric, np.nan)) for row in facts.history]
    info = {"facts": facts, "best_epoch": best_epoch, "epochs_run": facts.epochs_run, "curve": curve,
            "stopped": facts.stopped_by, "still_improving": facts.still_improving, "early_stop_seconds": early_stop_seconds,
            "fit_seconds": fit_seconds}
    log.info("%s: %s", type(model).__name__, facts.sentence())
    return model, info


@dataclass
class ProtocolRun:
    """Everything one protocol produced.

    Attributes:
        table: one row per model: metrics with interval bounds, ``fit_seconds``, ``early_stop_seconds``,
            ``best_epoch``, ``epochs_run``, ``stopped`` (``TrainingFacts.stopped_by``), ``still_improving``,
            ``predictions``.
        results: model name -> :class:`EvalResult` (per-prediction ranks).
        models: model name -> fitted model.
        facts: neural model name -> :class:`~sbrlib.core.training_facts.TrainingFacts` of its
            early-stopping run (why and when it stopped).
    """

    table: pd.DataFrame
    results: dict[str, EvalResult]
    models: dict[str, object] = field(default_factory=dict)
    facts: dict[str, TrainingFacts] = field(default_factory=dict)


def run_protocol(split: Split, neural: Mapping[str, Callable[[int | None], object]],
                 baselines: Mapping[str, Callable[[], object]], eval_config: EvalConfig,
                 positions: Literal["all", "last"], validation_metric: str, patience: int,
                 metrics: tuple[str, ...], n_boot: int = 1000, seed: int = 0, progress: bool = True,
                 refit: bool = False, max_seconds: float | None = None,
                 trained: Mapping[str, object] | None = None, baseline_frame: str = "train",
                 validation_exclude_seen: str | None = None) -> ProtocolRun:
    """Fit baselines on ``split[baseline_frame]``; neural models with :func:`fit_early_stopped`
    (``refit``, ``max_seconds``: its options; their training facts in ``ProtocolRun.facts`` and the
    table's ``stopped``/``still_improving`` columns); evaluate all on ``test`` with the same settings
    (``train`` is the history for ``exclude_seen="user"``); bootstrap intervals over test sessions
    (users in leave-one-out).

    Args:
        trained: models already trained on this split (e.g. notebook 04's GRU4Rec, accepted by
            :func:`check_reuse`), by display name: used as they are, not trained again; a neural
            one's facts come from its ``training_facts`` (``early_stop_seconds`` = its recorded training
            seconds, ``fit_seconds`` 0).
        baseline_frame: the frame the baselines are fitted on (``"train"``, or ``"train_tr"`` as in
            notebook 05 when GRU4Rec was not refitted).
        validation_exclude_seen: ``exclude_seen`` of the early-stopping validation (None: the test
            setting of ``eval_config``), e.g. ``"none"`` on the temporal split as in the searches and
            notebook 04, so that every neural model there is stopped by the same objective.
    """
    results, models, extra, facts = {}, {}, {}, {}
    trained = dict(trained or {})
    for name, factory in baselines.items():
        if name in trained:
            continue
        start = time.perf_counter()
        model = factory().fit(split[baseline_frame])
        model.name = name
        models[name] = model
        # no training loop: early stopping does not apply (NaN, not 0.0 s, which read as a measurement: reader 24)
        extra[name] = {"fit_seconds": time.perf_counter() - start, "early_stop_seconds": np.nan, "best_epoch": np.nan,
                       "epochs_run": np.nan, "stopped": "", "still_improving": None}
    for name, model in trained.items():
        model.name = name
        models[name] = model
        done = getattr(model, "training_facts", None)
        if done is None:
            extra[name] = {"fit_seconds": np.nan, "early_stop_seconds": np.nan, "best_epoch": np.nan,
                           "epochs_run": np.nan, "stopped": "", "still_improving": None}
            continue
        facts[name] = done
        extra[name] = {"fit_seconds": 0.0, "early_stop_seconds": float(done.seconds),
                       "best_epoch": done.best_epoch if done.best_epoch is not None else np.nan,
                       "epochs_run": done.epochs_run, "stopped": done.stopped_by,
                       "still_improving": done.still_improving}
    for name, make in neural.items():
        if name in trained:
            continue
        validation = eval_config if validation_exclude_seen is None else replace(
            eval_config, exclude_seen=validation_exclude_seen)
        model, info = fit_early_stopped(make, split["train_tr"], split["valid"], split["train"], validation,
                                        positions, validation_metric, patience, progress, refit, max_seconds)
        model.name = name
        models[name] = model
        extra[name] = {k: info[k] for k in ("fit_seconds", "early_stop_seconds", "best_epoch", "epochs_run", "stopped",
                                            "still_improving")}
        facts[name] = info["facts"]
    for name, model in models.items():
        results[name] = evaluate_positions(model, split["test"], eval_config, positions=positions, progress=progress,
                                           history=split["train"])
    table = bootstrap_table(results, metrics, n_boot=n_boot, seed=seed)
    info = pd.DataFrame.from_dict(extra, orient="index")
    info["predictions"] = pd.Series({name: res.metrics["predictions"] for name, res in results.items()})
    table = table.join(info)
    return ProtocolRun(table, results, models, facts)


TRAINING_RULE_FIELDS = ("epochs", "early_stopping_patience", "validation_metric", "eval_batch_size",
                        "sequence_aware")
"""Config fields that :func:`check_reuse` does not compare: how training was stopped and validated
(compared through the recorded :class:`~sbrlib.core.training_facts.TrainingFacts` instead) and inference
switches that do not change the trained weights."""


@dataclass(frozen=True)
class Reuse:
    """Whether a saved model may stand for the model a notebook would train (:func:`check_reuse`).

    Attributes:
        usable: every check passed.
        reasons: what differs, one sentence each (empty when usable).
        sentence: what to print: the model reused and how it was trained, or why it is not.
    """

    usable: bool
    reasons: tuple[str, ...]
    sentence: str


def check_reuse(provenance: Mapping[str, Any] | None, config: Mapping[str, Any], *, split_name: str | None,
                split_fingerprint: str | None, frame: str, expected_config: Mapping[str, Any],
                metric: str | None = None, what: str = "the saved model") -> Reuse:
    """Decide whether a saved model (e.g. notebook 04's GRU4Rec) is the model this notebook would
    train, so that it is reused instead of trained again (one model on one split, one number).

    Checks, each failing one giving a reason: the model was trained on split ``split_fingerprint``
    and on its frame ``frame`` (``"train_tr"``: early-stopped on ``valid`` without a refit; a
    ``REFIT`` model was trained on ``"train"``); its config equals ``expected_config`` in every field
    but :data:`TRAINING_RULE_FIELDS`; its training facts were recorded, and chose the best epoch by
    ``metric`` (when given).

    Args:
        provenance: the saved model's provenance (``model.provenance`` or
            :func:`sbrlib.data.store.model_provenance`).
        config: the saved model's config (``to_dict()``).
        split_name, split_fingerprint: the split this notebook evaluates on.
        frame: the frame this notebook would train on.
        expected_config: the config (``to_dict()``) this notebook would train.
        metric: the validation metric this notebook early-stops on (None: not checked).
        what: the model's name in the sentences.

    Returns:
        A :class:`Reuse` (pure: nothing is read or trained).
    """
    prov = dict(provenance or {})
    reasons = []
    fp = prov.get("split_fingerprint")
    if not fp or fp != split_fingerprint:
        reasons.append(f"it was trained on split {prov.get('split') or '?'} (fingerprint {fp or 'not recorded'}), "
                       f"not on {split_name or '?'} (fingerprint {split_fingerprint or '?'})")
    trained_on = prov.get("trained_on")
    if trained_on != frame:
        hint = " (notebook 04 ran with REFIT=True)" if trained_on == "train" and frame == "train_tr" else ""
        reasons.append(f"it was trained on the frame {trained_on or 'not recorded'!r}{hint}, not on {frame!r}")
    diffs = [d for d in differences({k: v for k, v in dict(config).items() if k not in TRAINING_RULE_FIELDS + ("name",)},
                                    {k: v for k, v in dict(expected_config).items()
                                     if k not in TRAINING_RULE_FIELDS + ("name",)})]
    if diffs:
        reasons.append("its configuration differs (saved -> this notebook): " + "; ".join(diffs))
    facts = prov.get("training")
    if not isinstance(facts, Mapping):
        reasons.append("its training facts (why and when training stopped) were not recorded")
    elif metric is not None and facts.get("metric") != metric:
        reasons.append(f"its best epoch was chosen by {facts.get('metric')}, this notebook early-stops on {metric}")
    if reasons:
        return Reuse(False, tuple(reasons), f"{what} is not reused, because " + "; and ".join(reasons) + ".")
    done = TrainingFacts.from_dict(dict(facts))
    return Reuse(True, (), f"{what} is reused as trained (split {split_name}, frame {frame!r}, same "
                           f"configuration): {done.sentence()}.")


def reuse_saved(folder: str | Path, split: Split, expected_config: Mapping[str, Any], *, frame: str = "train_tr",
                metric: str | None = None, family: str | None = None,
                what: str = "the saved model") -> tuple[object | None, Reuse]:
    """Load a saved model (e.g. notebook 04's GRU4Rec) when :func:`check_reuse` accepts it for ``split``.

    Args:
        folder: the saved model's folder (absent or unreadable: not reused, with the reason).
        split: the split this notebook evaluates on (name and fingerprint compared).
        expected_config, frame, metric, what: see :func:`check_reuse`.
        family: the model family expected (``"gru4rec"``).

    Returns:
        ``(model or None, Reuse)``: the loaded model (its ``training_facts`` restored) when usable.
    """
    from sbrlib.core.errors import UserFacingError
    from sbrlib.models.neural import load_model, read_saved

    folder = Path(folder)
    if not (folder / "model.json").is_file():
        reason = f"there is no saved model in {folder} (notebook 04 has not run for this split)"
        return None, Reuse(False, (reason,), f"{what} is not reused, because {reason}.")
    try:
        saved = read_saved(folder, family=family, weights=False)
    except UserFacingError as exc:
        reason = f"it cannot be read ({exc})"
        return None, Reuse(False, (reason,), f"{what} is not reused, because {reason}.")
    decision = check_reuse(saved.provenance, saved.config, split_name=split.name, split_fingerprint=split.fingerprint,
                           frame=frame, expected_config=expected_config, metric=metric, what=what)
    return (load_model(folder) if decision.usable else None), decision


def _is_undertrained(facts: TrainingFacts | Mapping[str, Any] | None) -> str | None:
    """Why ``facts`` describe a model stopped while still improving (by the budget or the epoch cap), or None."""
    if facts is None:
        return None
    f = facts if isinstance(facts, TrainingFacts) else TrainingFacts.from_dict(dict(facts))
    if not f.still_improving or f.stopped_by not in ("budget", "epochs"):
        return None
    if f.stopped_by == "budget":
        minutes = (f.budget_seconds or 0) / 60
        limit = f"its {minutes:g}-minute budget" if minutes >= 1 else f"its {f.budget_seconds:g}-second budget"
    else:
        limit = f"its epoch cap ({f.max_epochs})"
    return f"was stopped by {limit} while still improving (best epoch = last epoch {f.epochs_run})"


def _trials(tuning: Mapping[str, Any] | None) -> tuple[int | None, str]:
    """``(search trials behind the configuration or None for untuned defaults, source)`` from a
    tuning-facts dict; ``prior_trials`` (a search that produced the model's defaults, see
    :func:`sbrlib.models.registry.defaults_search`) counts too."""
    t = dict(tuning or {})
    n = int(t.get("n_trials") or 0) + int(t.get("prior_trials") or 0)
    return (n or None), str(t.get("source") or ("defaults" if not n else "a search"))


@dataclass(frozen=True)
class Verdict:
    """Whether a paired comparison may name a winner (:func:`verdict`).

    Attributes:
        allowed: the comparison was fair enough to call (budgets comparable, neither undertrained).
        winner: the better model's name when allowed and the interval excludes 0, else None.
        sentence: the Markdown sentence to print (the difference, its interval and the verdict or
            why it is withheld).
        reasons: why the verdict is withheld (empty when allowed).
    """

    allowed: bool
    winner: str | None
    sentence: str
    reasons: tuple[str, ...]
    effort: str = ""


def verdict(a: str, b: str, a_facts: TrainingFacts | Mapping[str, Any] | None,
            b_facts: TrainingFacts | Mapping[str, Any] | None, paired_interval: Mapping[str, Any],
            a_tuning: Mapping[str, Any] | None = None, b_tuning: Mapping[str, Any] | None = None,
            label: str = "", said_effort: str = "") -> Verdict:
    """The verdict rule of the head-to-head: name a winner only when the comparison is fair and clear.

    A winner is named only when (1) both sides had stated, comparable tuning budgets (the same
    number of search trials, or both defaults), (2) neither was stopped by the time budget or the
    epoch cap while still improving (training facts: ``stopped_by``, ``still_improving``) and (3) the
    paired interval of ``metric(a) - metric(b)`` excludes 0. Otherwise the sentence says why the
    verdict is withheld, or that the two are not distinguishable.

    Args:
        a, b: model names (the difference is a minus b).
        a_facts, b_facts: their :class:`~sbrlib.core.training_facts.TrainingFacts` (or its dict); None for a
            model without a training loop (a baseline), which cannot be undertrained.
        paired_interval: :func:`paired_difference`'s result (``metric``, ``difference``, ``lo``,
            ``hi``, ``sessions``).
        a_tuning, b_tuning: tuning facts, dicts with ``n_trials`` (None or 0: defaults) and
            ``source``; None: defaults.
        label: the protocol, prefixed to the sentence.
        said_effort: the search-effort clause an earlier verdict of the same findings already gave
            (:attr:`Verdict.effort`); when this one's is the same, it says "Search effort: the same as stated in the verdict above"
            instead of repeating it.

    Returns:
        A :class:`Verdict`.
    """
    d = paired_interval
    reasons = []
    (na, _), (nb, _) = _trials(a_tuning), _trials(b_tuning)
    if na != nb:
        def says(n: int | None, t: Mapping[str, Any] | None) -> str:
            prior = dict(t or {}).get("prior_trials")
            if not n:
                return "untuned defaults (no search)"
            if prior:  # as in the effort sentence below: this run's trial 0 re-runs the earlier search's best
                return (f"{prior} + {max(n - prior - 1, 0)} searched configurations (its defaults are the best of {prior} "
                        f"trials of an earlier search on {dict(t).get('prior_dataset', 'other data')})")
            return f"{n} search trial{'' if n == 1 else 's'}"
        reasons.append(f"the tuning budgets differ: {a} had {says(na, a_tuning)}, {b} {says(nb, b_tuning)}")
    for name, facts in ((a, a_facts), (b, b_facts)):
        why = _is_undertrained(facts)
        if why:
            reasons.append(f"{name} {why}")
    diff, lo, hi = float(d["difference"]), float(d["lo"]), float(d["hi"])
    clear = lo > 0 or hi < 0
    head = f"* {label}: " if label else "* "
    numbers = (f"{a} minus {b} in {d['metric']}: {_minus(diff)} (paired 95% interval {_minus(lo)} to {_minus(hi)}"
               + (f" over {int(d['sessions']):,} sessions/users" if d.get("sessions") is not None else "") + ")")
    if reasons:
        return Verdict(False, None, f"{head}{numbers}; no verdict: " + "; ".join(reasons) + ".", tuple(reasons))
    if not clear:
        return Verdict(True, None, f"{head}{numbers}: not distinguishable from zero, so neither is ahead.", ())
    winner, loser = (a, b) if diff > 0 else (b, a)
    prior_a, prior_b = (int(dict(t or {}).get("prior_trials") or 0) for t in (a_tuning, b_tuning))
    if not na:
        effort = "both ran untuned defaults (no search)"
    elif prior_a and prior_a == prior_b:
        run = na - prior_a
        effort = (f"both had {prior_a} + {max(run - 1, 0)} searched configurations. Each one's default configuration "
                  f"is the best of {prior_a} trials of an earlier search on "
                  + str(dict(a_tuning or {}).get("prior_dataset", "other data"))
                  + " (not part of this run; notebook 03 shows their record)"
                  + _prior_ended_note(a, a_tuning, b, b_tuning)
                  + _prior_epochs_note(a, a_tuning, b, b_tuning) + ". This run's "
                  f"{run} trial{'' if run == 1 else 's'} each, whose trial 0 trained those defaults again, added "
                  f"{max(run - 1, 0)} new"
                  + _run_trials_note(((a, a_tuning), (b, b_tuning))))
    else:
        effort = ("both had a single search trial (their default configurations, not tuned)" if na == 1 else
                  f"both had {na} search trials")
    full_effort = effort
    if said_effort and said_effort == effort:
        effort = "as stated in the verdict above (the same searches)"
    rules = "; ".join(r for r in (_training_rule(n, f) for n, f in ((a, a_facts), (b, b_facts))) if r)
    facts_of = {a: a_facts, b: b_facts}
    shorter = _shorter_rule(facts_of[winner], facts_of[loser])
    return Verdict(True, winner, f"{head}{numbers}: **{winner} is ahead of {loser}**: the interval excludes 0, and "
                                 "neither of the two trainings compared here was stopped while still improving. "
                                 f"Search effort: {effort}."
                                 + (f" Training rules: {rules}." if rules else "")
                                 + (f" {winner}, the model ahead, trained under the shorter rule (no more patience, "
                                    "epochs or time than the other), so the rules gave it no more training than the other had."
                                    if shorter else ""), (), full_effort)


def _prior_ended_note(a: str, a_tuning: Mapping[str, Any] | None, b: str, b_tuning: Mapping[str, Any] | None) -> str:
    """``"; how those trials ended: GRU4Rec, 15 ran to their own end, 32 were stopped early and 2 are not recorded;
    SASRec, 16 ran to their own end and 33 were stopped early"`` (``prior_ended`` of the tuning facts): a
    configuration stopped early was only partly evaluated, so the trial counts alone overstate the effort."""
    ea, eb = (dict(t or {}).get("prior_ended") for t in (a_tuning, b_tuning))
    if not ea or not eb:
        return ""
    return f"; how those trials ended: {a}, {ea}; {b}, {eb}"


def _prior_epochs_note(a: str, a_tuning: Mapping[str, Any] | None, b: str, b_tuning: Mapping[str, Any] | None) -> str:
    """``"; those searches allowed up to 10 (GRU4Rec) and 50 (SASRec) epochs per trial"`` when the two earlier
    searches had different epoch caps (equal trial counts are not equal effort then); ``""`` otherwise."""
    ea, eb = (dict(t or {}).get("prior_epochs") for t in (a_tuning, b_tuning))
    if ea is None or eb is None or ea == eb:
        return ""
    return f"; those searches allowed up to {ea} ({a}) and {eb} ({b}) epochs per trial"


def _run_trials_note(sides) -> str:
    """What the run's own trials were, from tuning facts with ``stopped_early`` (notebook 03's records) and
    ``best_is_default``: ``". Of this run's trials: GRU4Rec: 2 stopped early by their time limit, after 7 and 1
    epochs; SASRec: 1 stopped early by its time limit, after 3 epochs, and 1 was stopped by the search's epoch cap
    while still improving; no trial of this run beat either default configuration, so both models in use are
    the shipped defaults"``; ``""`` when nothing is recorded."""
    from sbrlib.tuning.store import stopped_early_text

    parts = []
    for name, t in sides:  # "SASRec: 1 stopped early by its time limit, after 3 epochs, and 1 was stopped by ..."
        early = list(dict(t or {}).get("stopped_early") or [])
        capped = int(dict(t or {}).get("capped_improving") or 0)
        items = ([stopped_early_text(early)] if early else []) + (
            [f"{capped} {'was' if capped == 1 else 'were'} stopped by the search's epoch cap while still improving"]
            if capped else [])
        if items:
            parts.append(f"{name}: " + ", and ".join(items))
    kept = [name for name, t in sides if dict(t or {}).get("best_is_default")]
    if len(kept) == len(sides):
        parts.append("no trial of this run beat either default configuration, so both models in use are the "
                     "shipped defaults")
    elif kept:
        parts.append(f"no trial of this run beat {kept[0]}'s default configuration, so that model in use is the "
                     "shipped default")
    if any(dict(t or {}).get("stopped_early") for _, t in sides):
        parts.append("a trial stopped early was scored on the epochs it ran, so its configuration was only partly "
                     "evaluated")
    return f". Of this run's trials: {'; '.join(parts)}" if parts else ""


def _shorter_rule(first: TrainingFacts | Mapping[str, Any] | None, other: TrainingFacts | Mapping[str, Any] | None
                  ) -> bool:
    """Whether ``first`` trained under a strictly shorter rule than ``other``: patience, epoch cap and time limit
    each no larger (no limit counts as infinite) and at least one smaller; False when either has no loop."""
    if first is None or other is None:
        return False
    f, o = (x if isinstance(x, TrainingFacts) else TrainingFacts.from_dict(dict(x)) for x in (first, other))
    inf = float("inf")
    pairs = [(inf if f.patience is None else f.patience, inf if o.patience is None else o.patience),
             (f.max_epochs, o.max_epochs),
             (inf if f.budget_seconds is None else f.budget_seconds, inf if o.budget_seconds is None else o.budget_seconds)]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def _training_rule(name: str, facts: TrainingFacts | Mapping[str, Any] | None) -> str | None:
    """``"SASRec validated on mrr@20 with patience 5 (epoch cap 100, time limit 360.0 s)"`` from its training facts
    (None: no loop)."""
    if facts is None:
        return None
    f = facts if isinstance(facts, TrainingFacts) else TrainingFacts.from_dict(dict(facts))
    stop = f"patience {f.patience}" if f.patience is not None else "no early stopping"
    limit = f", time limit {f.budget_seconds:.1f} s" if f.budget_seconds is not None else ""
    return f"{name} validated on {f.metric} with {stop} (epoch cap {f.max_epochs}{limit})"


def loo_frames_caption(split: Split) -> str:
    """The caption of a leave-one-out split's frame table: its frames are whole user histories that
    contain each other, not disjoint parts, so their sizes overlap (numbers from ``split``).

    Returns:
        One Markdown paragraph (frame sizes in events and users, and which item of each is scored).
    """
    n = {k: len(split[k]) for k in ("train_tr", "valid", "train", "test")}
    u = {k: int(split[k][USER].nunique()) for k in n}
    return (f"**Leave-one-out frames are nested user histories, not disjoint parts** (see "
            f"[leave-one-out](../docs/GLOSSARY.md#leave-one-out)): `test` ({n['test']:,} events, {u['test']:,} users) is "
            f"each user's whole history, its last item the test target; `train` ({n['train']:,} events) is the same "
            f"histories without that target ({n['test'] - n['train']:,} events fewer); `valid` ({n['valid']:,} events, "
            f"{u['valid']:,} users) is the history up to the validation target (the item before the test target); "
            f"`train_tr` ({n['train_tr']:,} events) is the history without both targets."
            + (" So `valid` and `train` hold the same events." if n["valid"] == n["train"] else "")
            + (" `test` is the largest frame because it holds everything." if n["test"] == max(n.values()) else "")
            + " Only the last item of each `valid` / `test` history "
            "is scored; the items before it are the model's input. (A user whose held-out item the training frame "
            "never saw is left out of that held-out frame, so its user count can be lower.)")


def history_users_sentence(n_compared: int, split: Split, gap: int) -> str:
    """Why the leave-one-out history comparison covers fewer users than the split: only users whose
    final session (cut at ``gap`` seconds) holds more than the held-out item have a session-only
    prediction (:func:`history_effect_loo`)."""
    total = int(split["test"][USER].nunique())
    return (f"leave-one-out history comparison: {n_compared:,} of {total:,} users \u2014 those whose final session at "
            f"SESSION_GAP = {gap:,} s holds more than the held-out item; for the other {total - n_compared:,} the final "
            "session is the held-out item alone, so a session-only model has nothing to predict from.")


def last_session_view(frame: pd.DataFrame, gap: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut every user's history (a leave-one-out frame: one session per user, in order) by inactivity.

    Returns:
        ``(earlier, last)``: ``last`` is each user's final gap-session (ending with the held-out
        item), with ``SessionId = UserId``; ``earlier`` is everything before it, sessionized by gap
        (the history a sequence-aware model may start from). A user whose final session is a single
        event has no prediction in ``last`` (nothing in the session precedes the target).
    """
    ordered = frame.sort_values([USER, TIME], kind="stable").reset_index(drop=True)
    gapped = sessionize(ordered.drop(columns=[SESSION]), "gap", gap)
    last_id = gapped.groupby(USER)[SESSION].transform("max").to_numpy()
    is_last = gapped[SESSION].to_numpy() == last_id
    last = gapped[is_last].copy()
    last[SESSION] = last[USER].to_numpy()
    return gapped[~is_last].reset_index(drop=True), last.reset_index(drop=True)


def history_effect_temporal(gru, split: Split, eval_config: EvalConfig, session_only: EvalResult,
                            metric: str, n_boot: int = 1000, seed: int = 0) -> tuple[EvalResult, dict]:
    """Sequence-aware GRU4Rec on the temporal split: the same trained model (built with
    ``sequence_aware=True``, evaluated session-only before) now starts every test session from the
    state its user's training history left (:meth:`GRU4Rec.warm_start`).

    Returns:
        ``(result with history, paired difference with-history minus session-only)``.
    """
    gru.warm_start(split["train"])
    aware = evaluate_positions(gru, split["test"], eval_config, positions="all", progress=False, history=split["train"])
    aware.model = f"{session_only.model} + user history"
    return aware, paired_difference(aware, session_only, metric, n_boot=n_boot, seed=seed)


def history_effect_loo(make_gru: Callable[[int | None], object], epochs: int, whole_history, split: Split,
                       gap: int, eval_config: EvalConfig, metric: str, n_boot: int = 1000,
                       seed: int = 0, progress: bool = True) -> tuple[pd.DataFrame, list[tuple[str, str, dict]]]:
    """GRU4Rec in leave-one-out, three ways, on the same held-out items (no exclusion of rated items,
    so that only the model's input differs):

    * ``whole history``: ``whole_history`` (trained on user histories), fed each user's whole past;
    * ``last session``: GRU4Rec trained on the same events cut into ``gap`` sessions, fed only the
      user's final session before the held-out item;
    * ``last session + history state``: the same model started from the state the user's earlier
      sessions left (``sequence_aware``, :meth:`GRU4Rec.warm_start`).

    Users whose final session holds only the held-out item have no session-based prediction; all
    three are compared on the users that have one.

    Args:
        progress: progress bars for the training of the session model (``epochs`` epochs).

    Returns:
        ``(table of metrics with intervals, [(a, b, paired difference)])``.
    """
    config = replace(eval_config, exclude_seen="none", coverage_ks=())
    train_gap = sessionize(split["train"].drop(columns=[SESSION]).sort_values([USER, TIME], kind="stable"),
                           "gap", gap)
    gru = make_gru(epochs).fit(train_gap, progress=progress)
    earlier, last = last_session_view(split["test"], gap)
    results = {"last session": evaluate_positions(gru, last, config, positions="last", progress=False)}
    gru.warm_start(earlier)
    results["last session + history state"] = evaluate_positions(gru, last, config, positions="last", progress=False)
    users = results["last session"].predictions[SESSION].unique()
    whole = evaluate_positions(whole_history, split["test"][split["test"][USER].isin(users)], config,
                               positions="last", progress=False)
    results = {"whole history": whole, **results}
    for name, res in results.items():
        res.model = name
    metrics = tuple(dict.fromkeys((metric, "recall@10", "ndcg@10")))
    table = bootstrap_table(results, metrics, n_boot=n_boot, seed=seed)
    diffs = [(a, b, paired_difference(results[a], results[b], metric, n_boot=n_boot, seed=seed))
             for a, b in (("last session + history state", "last session"), ("whole history", "last session"))]
    return table, diffs


def history_coverage(split: Split) -> dict[str, int]:
    """How many test sessions of a temporal split have any earlier history to start from: sessions
    whose user has events in ``train`` (what :meth:`GRU4Rec.warm_start` runs in
    :func:`history_effect_temporal`); the others start from zeros with or without the history.

    Returns:
        ``test_sessions``, ``with_history`` (sessions), ``test_users``, ``users_with_history``.
    """
    test = split["test"]
    known = test[USER].isin(pd.unique(split["train"][USER]))
    return {"test_sessions": int(test[SESSION].nunique()), "with_history": int(test.loc[known, SESSION].nunique()),
            "test_users": int(test[USER].nunique()), "users_with_history": int(test.loc[known, USER].nunique())}


def history_lengths(split: Split, max_len: int) -> dict[str, float]:
    """Length of the histories a leave-one-out model reads before each user's held-out item (the
    user's ``test`` events before the last one) against SASRec's ``max_len`` (it reads only the last
    ``max_len`` items).

    Returns:
        ``users``, ``mean``, ``median``, ``max`` (events before the held-out item), ``max_len``,
        ``longer`` (users whose history is longer than ``max_len``).
    """
    before = split["test"].groupby(USER).size().to_numpy() - 1
    if not len(before):
        return {"users": 0, "mean": float("nan"), "median": float("nan"), "max": 0, "max_len": int(max_len),
                "longer": 0}
    return {"users": int(len(before)), "mean": float(before.mean()), "median": float(np.median(before)),
            "max": int(before.max()), "max_len": int(max_len), "longer": int((before > max_len).sum())}
