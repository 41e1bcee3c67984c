"""Figures of a search: optimization history, parameter importances, validation curves.

They follow the style of :mod:`sbrlib.notebook.plots` (:func:`sbrlib.notebook.plots.style`): every axis labelled with
its unit, integer ticks for trials and epochs, legends right of the axes, ``[SYNTHETIC DATA]`` in
the title on synthetic data, and no legend entry without a visible line.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sbrlib.notebook.plots import EPOCH_LABEL, coincident_groups, coincident_label, metric_label, metric_name, style
from sbrlib.tuning.analysis import stop_record, trials_table

_STATE_STYLE = {"complete": ("tab:blue", "o"), "pruned": ("tab:orange", "x"), "fail": ("tab:red", "v")}


def shown_values(study) -> pd.Series:
    """The value each trial is drawn at in :func:`optimization_history` (index: trial number): the value
    the search recorded for it (a completed GRU4Rec / SASRec trial: its best epoch's; a pruned trial: its
    last reported epoch's, which is what Optuna records for a pruned trial); a trial without a recorded
    value, its last reported value; NaN when it reported none."""
    table = trials_table(study)
    if not len(table):
        return pd.Series(dtype=float)
    last = {t.number: t.intermediate_values[max(t.intermediate_values)] for t in study.get_trials(deepcopy=False)
            if t.intermediate_values}
    return table["value"].astype(float).fillna(table.index.to_series().map(last).astype(float))


def shared_top(studies, pad: float = 1.08) -> float | None:
    """The top of one y axis shared by the search histories of ``studies`` (model -> study): the largest
    value drawn, padded; None when nothing is drawn. Pass it as ``top`` so the panels compare by eye."""
    values = [float(v) for s in studies for v in shown_values(s).dropna()]
    return max(values) * pad if values and max(values) > 0 else None


def optimization_history(study, metric: str, title: str = "", synthetic: bool = False, top: float | None = None):
    """Objective value of every trial and the best so far: each trial at the value the search recorded
    for it (:func:`shown_values`; a pruned trial at its last validation value).

    The best-so-far line is drawn only when it can be seen apart from the points (two or more
    completed trials); with one completed trial the legend says that trial is also the best. ``top``:
    the top of the y axis (from :func:`shared_top`, the same for every panel); None: this panel's own.
    """
    table = trials_table(study)
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    notes = []
    if len(table):
        shown = shown_values(study)
        n_complete = int((table["state"] == "complete").sum())
        n_cut = sum(t.state.name == "COMPLETE" and (r := stop_record(t)) is not None and r["rule"] == "time limit"
                    for t in study.get_trials(deepcopy=False))
        for state, (color, marker) in _STATE_STYLE.items():
            sel = (table["state"] == state) & shown.notna()
            if sel.any() and state != "fail":
                label = f"{state} trials ({int(sel.sum())})" + (
                    ", at their last validation value" if state == "pruned" else "")
                if state == "complete" and n_complete == 1:
                    label = "the only completed trial (also the best)"
                if state == "complete" and n_cut:
                    who = "it was" if n_complete == 1 else f"{n_cut} of them {'was' if n_cut == 1 else 'were'}"
                    label += f"; {who} stopped by a time limit and kept as complete"
                ax.scatter(table.index[sel], shown[sel], color=color, marker=marker, label=_wrapped(label), zorder=3)
        failed = int((table["state"] == "fail").sum())
        unshown = int(((table["state"] != "complete") & shown.isna()).sum()) - failed
        if failed:
            notes.append(f"{failed} failed trial(s) not shown")
        if unshown > 0:
            notes.append(f"{unshown} trial(s) without a value not shown")
        if n_complete >= 2:
            done = table["value"].where(table["state"] == "complete")
            best = done.cummax().ffill()
            x = np.r_[table.index.to_numpy(), table.index.max() + 0.5]  # the last step stays visible
            valid = best.dropna()
            label = "best so far"
            if len(valid):  # on the shared axis small rises are hard to see: the line's legend entry says where it rose
                first_t, first_v = int(valid.index[0]), float(valid.iloc[0])
                last_t = int(valid.index[int(np.argmax(valid.to_numpy() >= valid.max()))])
                label = (f"best so far: {first_v:.4f} at trial {first_t} \u2192 {float(valid.max()):.4f}, "
                         f"last rose at trial {last_t}" if last_t != first_t else
                         f"best so far: {first_v:.4f} from trial {first_t} on (never rose)")
            ax.step(x, np.r_[best.to_numpy(), best.iloc[-1]], where="post", color="black", label=_wrapped(label))
        ax.set_xlim(table.index.min() - 0.5, table.index.max() + 0.5)
        ax.set_xticks(_integer_ticks(int(table.index.min()), int(table.index.max())))
        if shown.notna().any() and float(shown.min()) >= 0:  # from 0: panels of one metric compare by eye
            ax.set_ylim(bottom=0, top=top if top is not None else (float(shown.max()) * 1.08 or 1.0))
    for note in notes:
        ax.plot([], [], linestyle="none", label=_wrapped(note))  # a note in the legend, no line claimed
    style(ax, title=title or f"Search history ({study.study_name})",
          xlabel="trial (number, in the order the trials started)", ylabel=f"validation {metric_label(metric, wrap=True)}"
          + (("\n(axis from 0, shared)" if top is not None else " (axis from 0)")
             if ax.get_ylim()[0] == 0 else ""), synthetic=synthetic, legend=True)
    return fig


LEGEND_WIDTH = 30
"""Characters per legend line of the search histories: every panel's legend about as wide, so the panels
(drawn one per model, one above the other) keep about the same plot width."""


def _wrapped(label: str) -> str:
    import textwrap

    return textwrap.fill(label, LEGEND_WIDTH)


def no_search_sentence(study, model_name: str, metric: str) -> str | None:
    """The sentence printed instead of a search history when a study holds fewer than 2 trials (one
    point on an axis is not a search), e.g. ``"GRU4Rec: 1 trial, no search to show: ..."``; None
    when there are 2 or more trials to plot."""
    trials = study.get_trials(deepcopy=False)
    if len(trials) >= 2:
        return None
    if not trials:
        return f"{model_name}: no trial, no search to show."
    t = trials[0]
    value = (f"validation {metric_name(metric)} {t.value:.4f}" if t.value is not None
             else f"no completed value (state {t.state.name.lower()})")
    epoch = t.user_attrs.get("best_epoch")
    return (f"{model_name}: 1 trial, no search to show (its only trial, trial {t.number}: {value}"
            + (f", best epoch {epoch}" if epoch is not None else "") + "; not a search result).")


def _integer_ticks(lo: int, hi: int, most: int = 10) -> list[int]:
    """At most ``most`` integer ticks from ``lo`` to ``hi`` (both included when there is room)."""
    step = max(1, int(np.ceil((hi - lo + 1) / most)))
    return list(range(lo, hi + 1, step))


def importance_bars(importances: pd.Series, title: str = "Parameter importance", synthetic: bool = False):
    """Horizontal bars of parameter importances (share of the explained variation), on a linear axis."""
    fig, ax = plt.subplots(figsize=(6, 0.35 * max(len(importances), 2) + 1.2), layout="constrained")
    if len(importances):
        imp = importances.sort_values()
        bars = ax.barh(imp.index.astype(str), imp.to_numpy(), color="tab:blue")
        # every bar carries its value, so a share of 0% reads as 0%, not as a bar that failed to draw
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in imp.to_numpy()], padding=3, fontsize=9)
        ax.set_xlim(0, max(float(imp.max()), 0.0) * 1.15 or 1.0)
    else:
        ax.text(0.5, 0.5, "not enough completed trials", ha="center", va="center", transform=ax.transAxes)
    style(ax, title=title, xlabel="importance (share of the explained variation; sums to 1)",
          ylabel="searched parameter", synthetic=synthetic)
    return fig


def validation_curves(study, metric: str, top: int = 5, synthetic: bool = False, model_name: str = ""):
    """Per-epoch validation curves of the ``top`` best trials (GRU4Rec studies): completed trials first (best
    first), then pruned ones, dashed. The circle marks a **completed** trial's best epoch only: a pruned trial
    stopped early, so its last value is not a finished result. Identical curves share one line, named
    ``"trial 1 = trial 2 (lines coincide)"``. The title says how many trials the study holds (and, with
    ``model_name``, whose)."""
    import optuna

    every = study.get_trials(deepcopy=False)
    with_curve = [t for t in every if t.user_attrs.get("curve") and t.value is not None]
    done = sorted((t for t in with_curve if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value,
                  reverse=True)
    cut = sorted((t for t in with_curve if t.state != optuna.trial.TrialState.COMPLETE), key=lambda t: t.value,
                 reverse=True)
    trials = (done + cut)[:top]
    pruned = {f"trial {t.number}" for t in trials if t.state != optuna.trial.TrialState.COMPLETE}
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    curves = {f"trial {t.number}": pd.DataFrame(t.user_attrs["curve"]) for t in trials}
    groups = coincident_groups({k: c[["epoch", metric]].to_numpy() for k, c in curves.items()})
    stops = {f"trial {t.number}": stop_record(t) for t in trials}
    for group in groups:
        curve = curves[group[0]]
        cut_short = all(name in pruned for name in group)
        stop = stops.get(group[0])
        why = f": {stop['rule']}" if stop and cut_short and "not recorded" not in stop["rule"] else ""
        single = len(curve) == 1
        if single:  # no line to draw: the legend shows the point and says why
            label = coincident_label(group) + (f" (pruned after its only epoch{why})" if cut_short
                                               else " (1 epoch: a single point)")
        else:
            kept_cut = (not cut_short and stop is not None and stop["rule"] == "time limit")
            label = coincident_label(group) + (f" (pruned after epoch {int(curve['epoch'].max())}{why})"
                                               if cut_short else
                                               f" (stopped by its time limit after epoch {int(curve['epoch'].max())}; "
                                               "kept as complete: a search's first trial is not pruned)"
                                               if kept_cut else "")
        ax.plot(curve["epoch"], curve[metric], marker="o", label=label,
                linestyle="none" if single else "--" if cut_short else "-")
    n_all, n_pruned = len(every), sum(t.state == optuna.trial.TrialState.PRUNED for t in every)
    pruned_note = f", {n_pruned} pruned" if n_pruned else ""
    if not trials:
        title = "No trial with a validation curve"
    elif n_all == 1:
        title = "Validation curve of the only trial (1 trial: no search to compare)"
    elif len(trials) == n_all:
        title = f"Validation curves of all {n_all} trials{pruned_note}"
    else:
        title = f"Validation curves of the {len(trials)} best of {n_all} trials{pruned_note}"
    if model_name:
        title = f"{model_name}: {title[0].lower()}{title[1:]}"
    marked = False
    for group in groups:  # mark the epoch each completed trial's best value came from
        t = next(t for t in trials if f"trial {t.number}" == group[0])
        if all(name in pruned for name in group):
            continue
        epoch = t.user_attrs.get("best_epoch")
        curve = curves[group[0]]
        if epoch is not None and (curve["epoch"] == epoch).any():
            ax.scatter([epoch], curve.loc[curve["epoch"] == epoch, metric].iloc[:1], s=120, facecolors="none",
                       edgecolors="black", zorder=4, label=None if marked else "best epoch (completed trials)")
            marked = True
    if curves:  # the y axis is zoomed to the data: say by how much, and keep edge points off the frame
        values = pd.concat([c[metric] for c in curves.values()]).dropna()
        if len(values):
            low, high = float(values.min()), float(values.max())
            pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(high), 1e-9)
            ax.set_ylim(low - pad, high + pad)
            lo4, hi4 = round(low, 4), round(high, 4)  # the spread of the printed ends (reader 22: 0.0148 from 0.0466 to 0.0615)
            title += f"\naxis zoomed to the data: all values lie within {hi4 - lo4:.4f} ({lo4:.4f} to {hi4:.4f})"
    style(ax, title=title, xlabel=EPOCH_LABEL,
          ylabel=f"validation {metric_label(metric, wrap=True)}", synthetic=synthetic, legend=True, integer_x=True)
    return fig


__all__ = ["importance_bars", "no_search_sentence", "optimization_history", "shared_top", "shown_values",
           "validation_curves"]
