"""Matplotlib figures used by the notebooks. Each function returns the Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sbrlib.columns import RATING


def _label(ax, title: str, synthetic: bool) -> None:
    ax.set_title(f"{title} [SYNTHETIC DATA]" if synthetic else title)


def _finish(fig, ax, title: str, synthetic: bool, legend: bool = True):
    """Legend, title (labelled when synthetic) and layout; returns the figure."""
    if legend:
        ax.legend()
    _label(ax, title, synthetic)
    fig.tight_layout()
    return fig


def ratings_distribution(ratings: pd.DataFrame, synthetic: bool = False):
    """Bar chart of rating values."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ratings[RATING].value_counts().sort_index().plot.bar(ax=ax, color="tab:blue")
    ax.set_xlabel("rating")
    ax.set_ylabel("ratings")
    _label(ax, "Rating distribution", synthetic)
    fig.tight_layout()
    return fig


def long_tail(per_user: pd.Series, per_item: pd.Series, synthetic: bool = False):
    """Log-log rank plots of events per user and per item."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, counts, what in ((axes[0], per_user, "user"), (axes[1], per_item, "item")):
        values = np.sort(counts.to_numpy())[::-1]
        ax.loglog(np.arange(1, len(values) + 1), values, marker=".", linestyle="none", markersize=3)
        ax.set_xlabel(f"{what} rank")
        ax.set_ylabel(f"events per {what}")
        _label(ax, f"Events per {what} (log-log)", synthetic)
    fig.tight_layout()
    return fig


def activity_over_time(by_month: pd.Series, synthetic: bool = False):
    """Ratings per calendar month."""
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(by_month.index.to_timestamp(), by_month.to_numpy(), width=25)
    ax.set_yscale("log")
    ax.set_ylabel("ratings per month")
    _label(ax, "Activity over calendar time", synthetic)
    fig.tight_layout()
    return fig


def gap_histogram(gaps: np.ndarray, thresholds: Sequence[int] = (3600,), synthetic: bool = False):
    """Histogram of inter-event gaps on a log scale (zero gaps counted separately in the title)."""
    fig, ax = plt.subplots(figsize=(8, 3))
    positive = gaps[gaps > 0]
    bins = np.logspace(0, np.log10(max(positive.max(), 10)), 60) if len(positive) else 10
    ax.hist(positive, bins=bins, color="tab:gray")
    ax.set_xscale("log")
    for t in thresholds:
        ax.axvline(t, color="tab:red", linestyle="--", linewidth=1)
        ax.text(t, ax.get_ylim()[1] * 0.9, f" {t}s", color="tab:red")
    ax.set_xlabel("seconds between consecutive ratings of a user")
    share = (gaps == 0).mean() if len(gaps) else 0
    _label(ax, f"Inter-event gaps ({share:.0%} are exactly 0 s, not shown)", synthetic)
    fig.tight_layout()
    return fig


def session_length_hist(lengths_by_gap: Mapping[str, pd.Series], synthetic: bool = False):
    """Overlaid log-log histograms of session lengths for several settings."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for label, lengths in lengths_by_gap.items():
        counts = lengths.value_counts().sort_index()
        ax.loglog(counts.index, counts.to_numpy(), marker=".", linestyle="-", linewidth=0.8, label=label)
    ax.set_xlabel("session length (events)")
    ax.set_ylabel("sessions")
    return _finish(fig, ax, "Session lengths", synthetic)


def split_timeline(frames: Mapping[str, pd.DataFrame], cutoffs: Mapping[str, int], time_col: str = "Time",
                   synthetic: bool = False):
    """Events per day for each frame of a split, with the cutoffs marked."""
    fig, ax = plt.subplots(figsize=(10, 3))
    for name, frame in frames.items():
        days = pd.to_datetime(frame[time_col], unit="s").dt.floor("D").value_counts().sort_index()
        ax.plot(days.index, days.to_numpy(), label=name, linewidth=0.8)
    for name, cut in cutoffs.items():
        ax.axvline(pd.to_datetime(cut, unit="s"), color="k", linestyle="--", linewidth=1)
        ax.text(pd.to_datetime(cut, unit="s"), ax.get_ylim()[1] if ax.get_ylim()[1] > 0 else 1, f" {name} cutoff",
                va="top")
    ax.set_yscale("log")
    ax.set_ylabel("events per day")
    return _finish(fig, ax, "Temporal split", synthetic)


def training_curves(history: pd.DataFrame, metrics: Sequence[str] = ("recall@20", "mrr@20"), synthetic: bool = False):
    """Loss per epoch and validation metrics per epoch, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].plot(history["epoch"], history["loss"], marker="o")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss (per event)")
    _label(axes[0], "Training loss", synthetic)
    for m in metrics:
        if m in history:
            axes[1].plot(history["epoch"], history[m], marker="o", label=m)
    axes[1].set_xlabel("epoch")
    _label(axes[1], "Validation", synthetic)
    axes[1].legend()
    fig.tight_layout()
    return fig


def recall_curves(curves: Mapping[str, pd.Series], metric: str = "Recall@K", synthetic: bool = False):
    """Recall@K (or another metric) against K, one line per model."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, series in curves.items():
        ax.plot(series.index, series.to_numpy(), label=name)
    ax.set_xlabel("K")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    return _finish(fig, ax, f"{metric} against K", synthetic)


def metric_by_group(table: pd.DataFrame, xlabel: str, ylabel: str, title: str, synthetic: bool = False):
    """One line per column of ``table`` against its index (e.g. MRR@20 by position)."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for column in table.columns:
        ax.plot(table.index, table[column].to_numpy(), marker=".", label=str(column))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return _finish(fig, ax, title, synthetic)
