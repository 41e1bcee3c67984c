"""Figures of a search: optimization history, parameter importances, validation curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from sbrlib.tuning.report import trials_table

_STATE_STYLE = {"complete": ("tab:blue", "o"), "pruned": ("tab:orange", "x"), "fail": ("tab:red", "v")}


def _title(ax, title: str, synthetic: bool) -> None:
    ax.set_title(f"{title} [SYNTHETIC DATA]" if synthetic else title)


def optimization_history(study, metric: str, title: str = "", synthetic: bool = False):
    """Objective value of every trial (pruned trials at their last reported value) and the best so far."""
    table = trials_table(study)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if len(table):
        last = {t.number: max(t.intermediate_values.values()) for t in study.get_trials(deepcopy=False)
                if t.intermediate_values}
        shown = table["value"].where(table["state"] == "complete", table.index.map(last).astype(float))
        for state, (color, marker) in _STATE_STYLE.items():
            sel = table["state"] == state
            if sel.any() and state != "fail":
                ax.scatter(table.index[sel], shown[sel], color=color, marker=marker, label=f"{state} ({sel.sum()})",
                           zorder=3)
        failed = int((table["state"] == "fail").sum())
        done = table["value"].where(table["state"] == "complete")
        ax.step(table.index, done.cummax().ffill(), where="post", color="black",
                label="best so far" + (f" ({failed} failed trials not shown)" if failed else ""))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # off the data
    _title(ax, title or f"Search history ({study.study_name})", synthetic)
    fig.tight_layout()
    return fig


def importance_bars(importances: pd.Series, title: str = "Parameter importance", synthetic: bool = False):
    """Horizontal bars of parameter importances (share of the explained variation)."""
    fig, ax = plt.subplots(figsize=(6, 0.35 * max(len(importances), 2) + 1.2))
    if len(importances):
        imp = importances.sort_values()
        ax.barh(imp.index.astype(str), imp.to_numpy(), color="tab:blue")
    else:
        ax.text(0.5, 0.5, "not enough completed trials", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("importance (share, sums to 1)")
    _title(ax, title, synthetic)
    fig.tight_layout()
    return fig


def validation_curves(study, metric: str, top: int = 5, synthetic: bool = False):
    """Per-epoch validation curves of the ``top`` best trials (GRU4Rec studies)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("curve") and t.value is not None]
    trials = sorted(trials, key=lambda t: t.value, reverse=True)[:top]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for t in trials:
        curve = pd.DataFrame(t.user_attrs["curve"])
        ax.plot(curve["epoch"], curve[metric], marker="o", label=f"trial {t.number}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if trials:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    _title(ax, f"Validation curves of the {len(trials)} best trials", synthetic)
    fig.tight_layout()
    return fig


__all__ = ["importance_bars", "optimization_history", "validation_curves"]
