"""Matplotlib figures used by the notebooks. Each function returns the Figure.

Every figure goes through one style helper, :func:`style`: each axis gets a label with its unit,
integer ticks where the values are counts or epochs, legends sit outside the data (to the right of
the axes), and the title says **SYNTHETIC DATA** when the data are synthetic. No figure draws bars
on a log axis: long-tailed counts are drawn as lines or points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, PercentFormatter

from sbrlib.core.columns import RATING

SYNTHETIC_MARK = "[SYNTHETIC DATA]"
EPOCH_LABEL = "epoch (passes over the training data)"
_THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 or v == 0 else f"{v:g}")


def style(ax, *, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
          synthetic: bool = False, legend: bool = False, integer_x: bool = False, integer_y: bool = False,
          grid: bool = True) -> None:
    """The one style of every figure.

    Args:
        ax: the axes.
        title: title; ``[SYNTHETIC DATA]`` is appended on synthetic data.
        xlabel, ylabel: axis labels, with units (``"ratings per month (count)"``).
        synthetic: the data are synthetic.
        legend: draw the legend outside the axes, on the right, so it never covers data.
        integer_x, integer_y: integer tick positions (counts, epochs).
        grid: a light grid.
    """
    if title is not None:
        ax.set_title(f"{title} {SYNTHETIC_MARK}" if synthetic else title, fontsize=11)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    if integer_y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers with thousands separators, no minor labels
        if axis.get_scale() == "log" and not isinstance(axis.get_major_formatter(), (PercentFormatter, FuncFormatter)):
            lo, hi = sorted(abs(v) for v in axis.get_view_interval())
            if lo > 0 and hi / lo < 1000:  # under three decades: label 1, 2, 5 of each decade
                axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(_THOUSANDS)
            axis.set_minor_formatter(NullFormatter())
        elif axis.get_scale() == "linear" and type(axis.get_major_formatter()).__name__ == "ScalarFormatter" \
                and max(abs(v) for v in axis.get_view_interval()) >= 10_000:
            axis.set_major_formatter(_THOUSANDS)
    if grid:
        ax.grid(alpha=0.3, linewidth=0.6)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)


def figure_title(fig) -> str:
    """The figure's title (its suptitle, else the first axes title), for alt text; ``""`` without one."""
    sup = getattr(fig, "_suptitle", None)
    text = sup.get_text() if sup is not None else ""
    return text or next((ax.get_title() for ax in fig.axes if ax.get_title()), "")


def show(fig=None) -> None:
    """Display a figure in the notebook with its title as the image's ``alt`` metadata, then close it.

    The HTML report uses that metadata as the image's alt text, so a cell with several figures (one search
    history per model) names each one (reader 20: "figure 2 of 5" said nothing about which model).

    Args:
        fig: the figure (default: the current one).
    """
    from IPython.display import display

    fig = fig if fig is not None else plt.gcf()
    title = " ".join(figure_title(fig).split())
    display(fig, metadata={"image/png": {"alt": title}} if title else None)
    plt.close(fig)


def _figure(width: float = 8.0, height: float = 3.5, ncols: int = 1):
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained")
    return fig, axes


def metric_name(metric: str) -> str:
    """How a metric is written in figures: ``"mrr@20"`` -> ``"MRR@20"``."""
    name, _, k = metric.partition("@")
    shown = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "hitrate": "HitRate", "coverage": "Coverage",
             "popularity": "Popularity"}.get(name.lower(), name)
    return f"{shown}{'@' + k if k else ''}"


def metric_label(metric: str, wrap: bool = False) -> str:
    """An axis label for a metric with its unit: ``"recall@20"`` -> ``"Recall@20 (share of predictions)"``.

    Args:
        metric: the metric's key.
        wrap: put the unit on a second line (long labels of small figures).
    """
    name = metric.partition("@")[0]
    unit = {"recall": "share of predictions", "hitrate": "share of predictions",
            "mrr": "mean reciprocal rank, 0–1", "ndcg": "mean discounted gain, 0–1",
            "coverage": "share of items", "popularity": "relative to the most popular item"}.get(name.lower(), "0–1")
    return f"{metric_name(metric)}{chr(10) if wrap else ' '}({unit})"


def coincident_groups(series: Mapping[str, np.ndarray], atol: float = 1e-12) -> list[list[str]]:
    """Names grouped by identical arrays (same shape, equal within ``atol``, NaN equal to NaN), in input order.

    Lines of one group would be drawn on top of each other: draw one and name all of them.
    """
    groups: list[list[str]] = []
    arrays: list[np.ndarray] = []
    for name, values in series.items():
        v = np.asarray(values, dtype=float)
        for group, ref in zip(groups, arrays):
            if ref.shape == v.shape and np.allclose(ref, v, rtol=0.0, atol=atol, equal_nan=True):
                group.append(name)
                break
        else:
            groups.append([name])
            arrays.append(v)
    return groups


def coincident_label(names: Sequence[str]) -> str:
    """Legend label of a group of :func:`coincident_groups`: ``"Pop = S-Pop (lines coincide)"``."""
    return str(names[0]) if len(names) == 1 else " = ".join(map(str, names)) + " (lines coincide)"


def ratings_distribution(ratings: pd.DataFrame, synthetic: bool = False):
    """Bar chart of rating values (linear axis), each bar labelled with its share."""
    fig, ax = _figure(5.5, 3.2)
    counts = ratings[RATING].value_counts().sort_index()
    x = np.arange(len(counts))  # positions, labelled with the values (strings of digits would log a matplotlib note)
    bars = ax.bar(x, counts.to_numpy(), color="tab:blue")
    ax.set_xticks(x, [str(v) for v in counts.index])
    ax.bar_label(bars, labels=[f"{c / counts.sum():.0%}" for c in counts], fontsize=8)
    ax.margins(y=0.12)
    style(ax, title="Rating values", xlabel="rating (stars)", ylabel="ratings (count)", synthetic=synthetic)
    return fig


def long_tail(per_user: pd.Series, per_item: pd.Series, synthetic: bool = False):
    """Log-log rank plots of events per user and per item (points, not bars)."""
    fig, axes = _figure(10, 3.5, ncols=2)
    for ax, counts, what in ((axes[0], per_user, "user"), (axes[1], per_item, "item")):
        values = np.sort(counts.to_numpy())[::-1]
        ax.loglog(np.arange(1, len(values) + 1), values, marker=".", linestyle="none", markersize=3)
        style(ax, title=f"Ratings per {what}, most to least", xlabel=f"{what} rank (1 = most ratings; log scale)",
              ylabel=f"ratings per {what} (count, log scale)", synthetic=synthetic)
    return fig


def month_ticks(months: pd.PeriodIndex, max_ticks: int = 14) -> tuple[list[pd.Timestamp], list[str]]:
    """Tick positions (the middle of each labelled month's bar) and labels for monthly bars: the
    month's abbreviated name, with the year below it on the first tick and wherever the year changes
    (``"Jan\\n1998"``), so a January is never labelled by its year alone. At most ``max_ticks`` ticks:
    every month, else every n-th month.

    Args:
        months: the bars' months (``PeriodIndex`` of frequency ``M``).
        max_ticks: the most ticks to draw.
    """
    step = max(1, -(-len(months) // max(max_ticks, 1)))
    positions, labels, year = [], [], None
    for period in list(months)[::step]:
        start = period.to_timestamp()
        positions.append(start + pd.Timedelta(days=12.5))  # the bars are 25 days wide, drawn from the month's start
        labels.append(start.strftime("%b") + (f"\n{start.year}" if start.year != year else ""))
        year = start.year
    return positions, labels


def activity_over_time(by_month: pd.Series, synthetic: bool = False, first: pd.Timestamp | None = None,
                       last: pd.Timestamp | None = None):
    """Ratings per calendar month, bars on a linear axis.

    Args:
        by_month: ratings per month (``PeriodIndex``).
        first, last: first and last rating times; months only partly covered by the data are hatched.
    """
    fig, ax = _figure(10, 3.2)
    months = by_month.index
    starts = months.to_timestamp()
    partial = np.zeros(len(months), bool)
    if first is not None and len(months):
        partial[0] = pd.Timestamp(first) > starts[0]
    if last is not None and len(months):
        partial[-1] = pd.Timestamp(last) < (months[-1] + 1).to_timestamp() - pd.Timedelta(seconds=1)
    bars = ax.bar(starts, by_month.to_numpy(), width=25, align="edge", color="tab:blue")
    for bar, part in zip(bars, partial):
        if part:
            bar.set_hatch("//")
            bar.set_facecolor("white")
            bar.set_edgecolor("tab:blue")
    positions, labels = month_ticks(months)
    ax.set_xticks(positions, labels)
    style(ax, title="Ratings per calendar month", xlabel="month (UTC)", ylabel="ratings per month (count)",
          synthetic=synthetic)
    if partial.any():
        ax.legend(handles=[Patch(color="tab:blue", label="full month"),
                           Patch(facecolor="white", edgecolor="tab:blue", hatch="//",
                                 label="month only partly covered\nby the data")],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)
    return fig


def gap_histogram(gaps: np.ndarray, thresholds: Sequence[int] = (3600,), synthetic: bool = False,
                  bins_per_decade: int = 10):
    """Histogram of positive inter-event gaps as one point per bin: log-binned gaps on a log time axis,
    counts on a log axis, so both humps (minutes within a sitting, days/weeks between sittings) are visible.

    Points, not bars: a bar on a log count axis stands on an arbitrary floor, so its height is not
    proportional to its count. An empty bin has no point (the line breaks there).
    Zero gaps cannot be drawn on a log axis; their share is written in the legend.

    Args:
        gaps: gaps in seconds (0 allowed).
        thresholds: session gaps to mark (seconds).
        synthetic: the data are synthetic.
        bins_per_decade: bins of equal width on the log axis per factor of 10.
    """
    fig, ax = _figure(9, 3.4)
    gaps = np.asarray(gaps)
    positive = gaps[gaps > 0]
    top = max(float(positive.max()), 10.0) if len(positive) else 10.0
    bins = np.logspace(0, np.log10(top), max(int(np.ceil(np.log10(top) * bins_per_decade)), 1) + 1)
    if len(positive):
        counts, _ = np.histogram(positive, bins=bins)
        y = np.where(counts > 0, counts, np.nan)  # an empty bin breaks the line (no point at 0 on a log axis)
        ax.plot(np.sqrt(bins[:-1] * bins[1:]), y, marker=".", markersize=5, linewidth=0.9, color="tab:gray",
                label="pairs of consecutive ratings\n(one point per bin, at its centre;\nno point: the bin is empty)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5)  # a bin with a single pair stands above the axis floor
    for t, ls in zip(thresholds, ("--", ":", "-.")):
        ax.axvline(t, color="tab:red", linestyle=ls, linewidth=1.2, label=f"session gap {t:,} s")
    units = [(1, "1 s"), (60, "1 min"), (3600, "1 h"), (86_400, "1 day"), (7 * 86_400, "1 week"),
             (91 * 86_400, "3 months"), (365 * 86_400, "1 year")]
    ticks = [(v, lab) for v, lab in units if v <= top * 1.5]
    ax.set_xticks([v for v, _ in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    share = (gaps == 0).mean() if len(gaps) else 0.0
    ax.add_line(Line2D([], [], linestyle="none", label=f"not shown: {share:.0%} of gaps are\nexactly 0 s (same second)"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: dict(units).get(int(round(v)), "")))
    style(ax, title="Time between consecutive ratings of a user",
          xlabel=f"gap between the two ratings (time, log scale; {bins_per_decade} bins per ×10 of time)",
          ylabel="pairs of ratings per bin\n(count, log scale)",
          synthetic=synthetic, legend=True)
    return fig


def _next_125(value: float) -> float:
    """The smallest 1, 2 or 5 × a power of ten at or above ``value`` (> 0): ``0.13`` -> ``0.2``, ``0.6`` -> ``1.0``."""
    exponent = np.floor(np.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10 ** exponent >= value * (1 - 1e-12):
            return float(m * 10 ** exponent)
    return float(10 ** (exponent + 1))


def session_length_hist(lengths_by_gap: Mapping[str, pd.Series], synthetic: bool = False, cap: int = 50):
    """Share of sessions of each length (1..cap), one line per setting; longer sessions in one overflow bin.

    The overflow bin (all sessions longer than ``cap``) is drawn apart, as a square at ``cap + 6`` (far enough for a tick at ``cap``)
    in the line's colour, its share written in the line's legend entry (the bin's x tick says ``> cap``): it
    holds many lengths at once, so it is expected to stand above the line; the y axis is labelled at 1, 2 and 5
    of each decade and reaches the next such tick above the highest point, so no square sits above the last
    labelled tick.
    """
    fig, ax = _figure(9, 3.6)
    x = np.arange(1, cap + 1)
    ox = cap + 6  # x of the overflow bin
    any_overflow, top, squares = False, 0.0, {}
    for (label, lengths), color in zip(lengths_by_gap.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        lengths = np.asarray(lengths)
        n = max(len(lengths), 1)
        counts = np.bincount(np.minimum(lengths, cap + 1), minlength=cap + 2)
        share = counts[1:cap + 1] / n
        overflow = counts[cap + 1] / n
        # the overflow share is written in the legend (labels next to close squares would overlap)
        (line,) = ax.plot(x[share > 0], share[share > 0], marker=".", linewidth=0.9, color=color,
                          label=f"{label} (> {cap}: {overflow:.1%})" if overflow > 0 else label)
        if overflow > 0:
            any_overflow, top = True, max(top, overflow)
            squares[line] = ax.plot([ox], [overflow], marker="s", linestyle="none", color=color)[0]
        top = max(top, float(share.max()) if share.size else 0.0)
    ax.axvline(cap + 3, color="k", linewidth=0.6)
    ax.set_yscale("log")
    if top > 0:  # up to the next 1, 2 or 5 × a power of ten: every point, squares included, lies below a labelled tick
        ax.set_ylim(top=_next_125(top * 1.05))
    ax.set_xlim(right=ox + 2)
    # ticks at 1, 2 and 5 of each decade, all labelled (reader 19: only 1%, 10%, 100% left most points unreadable)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.4g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    # no tick so close to the overflow bin's "> cap" that the two labels would run together ("50> 50")
    near = ox - 0.08 * (ox + 2)
    ticks = [1] + [int(t) for t in MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(1, cap) if 1 < t <= min(cap, near)]
    ax.set_xticks(ticks + [ox], [str(t) for t in ticks] + [f"> {cap}"])
    style(ax, title="Session lengths", xlabel=f"session length (ratings; > {cap} pooled in the overflow bin)",
          ylabel="share of sessions (log scale)", synthetic=synthetic, legend=True)
    if any_overflow:  # each line's entry shows its own square; the note has no marker (no symbol drawn nowhere)
        handles, labels = ax.get_legend_handles_labels()
        handles = [(h, squares[h]) if h in squares else h for h in handles]
        ax.legend(handles, labels, handler_map={tuple: HandlerTuple(ndivide=None)}, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False, title_fontsize=9,
                  alignment="left", title=f"square: the overflow bin of the line\nof its colour, all sessions longer\n"
                                          f"than {cap} (share in brackets)")
    return fig


def split_timeline(frames: Mapping[str, pd.DataFrame], cutoffs: Mapping[str, int], time_col: str = "Time",
                   synthetic: bool = False):
    """Events per day of each part of a split (lines, broken on days without events), with the cutoffs as
    labelled vertical lines.

    The cutoffs are named in the legend (with their date), so their labels never overlap.
    """
    fig, ax = _figure(10, 3.4)
    for name, frame in frames.items():
        days = pd.to_datetime(frame[time_col], unit="s").dt.floor("D").value_counts().sort_index()
        if len(days):  # a day without events is a gap in the line (0 has no place on a log axis)
            days = days.reindex(pd.date_range(days.index.min(), days.index.max(), freq="D"))
        empty = int(days.isna().sum())
        ax.plot(days.index, days.to_numpy(dtype=float), linewidth=0.9,
                label=f"{name} ({len(frame):,} events" + (f"; {empty} day(s) without events: gaps" if empty else "")
                + ")")
    for (name, cut), ls in zip(cutoffs.items(), ("--", ":", "-.")):
        when = pd.to_datetime(cut, unit="s")
        ax.axvline(when, color="k", linestyle=ls, linewidth=1.2, label=f"{name} cutoff ({when:%Y-%m-%d %H:%M})")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(mdates.AutoDateLocator())
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    style(ax, title="Temporal split", xlabel="date (UTC)", ylabel="events per day (count, log scale)",
          synthetic=synthetic, legend=True)
    return fig


def kept_epoch(history: pd.DataFrame, chosen_by: str | None, early_stopping: bool = True) -> int | None:
    """The epoch whose model is kept: the first epoch with the highest ``chosen_by`` (early stopping
    keeps the best weights), or the last epoch without early stopping or validation metric."""
    if not len(history):
        return None
    if early_stopping and chosen_by in history and history[chosen_by].notna().any():
        return int(history.loc[history[chosen_by].idxmax(), "epoch"])
    return int(history["epoch"].iloc[-1])


def zoom_note(values: pd.Series, near: float = 0.01) -> str:
    """What a y axis zoomed to its data hides, for a panel's title (two lines): ``"axis zoomed: spread 0.0048\\n
    within 1% of the best: epochs 2, 3, 4, 5"`` (``values``: one value per epoch, indexed by epoch; ``near``: the share of the best
    counted as "within")."""
    v = pd.Series(values).dropna()
    if v.empty:
        return "no values"
    top, spread = float(v.max()), float(v.max() - v.min())
    close = [int(e) for e, x in v.items() if top - float(x) <= near * abs(top)]
    return (f"axis zoomed: spread {spread:.4f}\nwithin {near:.0%} of the best: epoch{'s' if len(close) > 1 else ''} "
            + ", ".join(map(str, close)))  # two short lines: a panel title must not reach its neighbour


def training_curves(history: pd.DataFrame, metrics: Sequence[str] = ("recall@20", "mrr@20"), synthetic: bool = False,
                    best_epoch: int | None = None, chosen_by: str | None = None, early_stopping: bool = True):
    """Training loss and each validation metric per epoch, one panel each, the kept epoch marked.

    Metrics of different scales (Recall@20 around 0.2, MRR@20 around 0.05) get their own axes.

    Args:
        history: one row per epoch: ``epoch``, ``loss`` and validation metrics.
        metrics: validation columns to draw (missing ones are skipped), one panel each.
        synthetic: the data are synthetic.
        best_epoch: the epoch to mark; None: :func:`kept_epoch` of ``chosen_by``.
        chosen_by: the validation metric that chose the model (early stopping's); None: the first of
            ``metrics`` in ``history``.
        early_stopping: the best epoch's weights were kept (False: the last epoch's).
    """
    present = [m for m in metrics if m in history and history[m].notna().any()]
    chosen_by = chosen_by or (present[0] if present else None)
    fig, axes = _figure(4.2 * (1 + len(present)) + 1.8, 3.4, ncols=1 + len(present))
    axes = np.atleast_1d(axes)
    epochs = history["epoch"].to_numpy()
    if best_epoch is None:
        best_epoch = kept_epoch(history, chosen_by, early_stopping)
    chose = early_stopping and chosen_by in history
    if chose:
        mark = f"model kept: epoch {best_epoch}\n(best validation {metric_name(chosen_by)})"
    else:
        mark = f"model kept: epoch {best_epoch}\n(the last; no early stopping)"
    axes[0].plot(epochs, history["loss"], marker="o", color="tab:gray", label="training loss")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m, color in zip(axes[1:], present, colors):
        ax.plot(epochs, history[m], marker="o", color=color, label=f"validation {metric_name(m)}")
    for ax in axes:
        if best_epoch is not None:
            ax.axvline(best_epoch, color="tab:green", linestyle="--", linewidth=1.2, label=mark)
        if len(epochs):
            ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
    style(axes[0], title="Training loss", xlabel=EPOCH_LABEL, ylabel="training loss (per event)", synthetic=synthetic,
          integer_x=True)
    for ax, m in zip(axes[1:], present):
        style(ax, title=f"Validation {metric_name(m)}" + (" (chose the model)" if chose and m == chosen_by else "")
              + "\n" + zoom_note(history.set_index("epoch")[m]), xlabel=EPOCH_LABEL,
              ylabel=metric_label(m), synthetic=synthetic, integer_x=True)
    # one legend, right of the last panel: off the data
    handles = [ax.get_lines()[0] for ax in axes]  # each panel's curve
    if best_epoch is not None:
        handles.append(axes[0].get_lines()[-1])  # the mark, drawn alike in every panel
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=9,
                    frameon=False)
    return fig


def recall_curves(curves: Mapping[str, pd.Series], metric: str = "Recall@K", synthetic: bool = False):
    """Recall@K (or another metric) against K, one line per model; models with identical curves share
    one line, named ``"A = B (lines coincide)"``."""
    fig, ax = _figure(9, 4)
    for group in coincident_groups({name: s.to_numpy() for name, s in curves.items()}):
        series = curves[group[0]]
        ax.plot(series.index, series.to_numpy(), label=coincident_label(group))
    style(ax, title=f"{metric} against K", xlabel="K (length of the recommendation list, items)",
          ylabel=metric_label(metric), synthetic=synthetic, legend=True, integer_x=True)
    return fig


def metric_by_group(table: pd.DataFrame, xlabel: str, ylabel: str, title: str, synthetic: bool = False):
    """One line per column of ``table`` against its index (e.g. MRR@20 by position); identical columns
    share one line, named ``"A = B (lines coincide)"``."""
    fig, ax = _figure(9, 3.6)
    for group in coincident_groups({column: table[column].to_numpy() for column in table.columns}):
        ax.plot(table.index, table[group[0]].to_numpy(), marker=".", label=coincident_label(group))
    style(ax, title=title, xlabel=xlabel, ylabel=ylabel, synthetic=synthetic, legend=True)
    return fig


def bucketed_metric(table: pd.DataFrame, metric: str, xlabel: str, title: str, synthetic: bool = False):
    """A metric per bucket with 95% intervals, one series of points per model (not joined by lines: the buckets
    are categories, often of unequal width, not points of a continuous axis), counts under each bucket; models
    with identical values share one series, named ``"A = B (identical)"``.

    Args:
        table: :func:`sbrlib.evaluation.uncertainty.bucketed` output (``bucket``, ``model``, ``estimate``,
            ``low``, ``high``, ``predictions``, ``sessions``).
        metric: the metric's name, for the y label.
        xlabel: what the buckets are (e.g. ``"session length (ratings)"``).
        title: figure title.
    """
    fig, ax = _figure(10, 3.8)
    buckets = list(dict.fromkeys(table["bucket"]))
    x = np.arange(len(buckets))
    models = list(dict.fromkeys(table["model"]))
    subs = {m: table[table["model"] == m].set_index("bucket").loc[buckets] for m in models}
    groups = coincident_groups({m: sub[["estimate", "low", "high"]].to_numpy() for m, sub in subs.items()})
    width = 0.6 / max(len(groups), 1)
    for i, group in enumerate(groups):
        sub = subs[group[0]]
        offset = (i - (len(groups) - 1) / 2) * width
        err = np.vstack([sub["estimate"] - sub["low"], sub["high"] - sub["estimate"]])
        ax.errorbar(x + offset, sub["estimate"], yerr=err, marker="o", markersize=4, capsize=2, linestyle="none",
                    elinewidth=1, label=coincident_label(group).replace("lines coincide", "identical"))
    counts = table.drop_duplicates("bucket").set_index("bucket").loc[buckets]
    ax.set_xticks(x, [f"{b}\n{int(s):,} sess.\n{int(p):,} pred." for b, s, p in
                      zip(buckets, counts["sessions"], counts["predictions"])], fontsize=8)
    style(ax, title=title + " (95% intervals)", xlabel=xlabel, ylabel=metric_label(metric),
          synthetic=synthetic, legend=True)
    return fig


def intervals(table: pd.DataFrame, metrics: Sequence[str], synthetic: bool = False):
    """One point per model with its 95% interval, one panel per metric, models in the order of the first metric.

    Models with identical estimates and intervals on every metric share one row, named
    ``"Pop = S-Pop (identical)"``, so no point hides another.

    Args:
        table: :func:`sbrlib.evaluation.uncertainty.intervals_table` (index ``(model, metric)``, columns
            ``estimate``, ``low``, ``high``).
        metrics: metrics to draw, one panel each.
    """
    metrics = list(metrics)
    order = list(table.xs(metrics[0], level="metric")["estimate"].sort_values(kind="stable").index)
    values = {name: np.concatenate([table.xs(m, level="metric").loc[name, ["estimate", "low", "high"]].to_numpy(float)
                                    for m in metrics]) for name in order}
    groups = coincident_groups(values)
    rows = [g[0] for g in groups]
    labels = [coincident_label(g).replace("lines coincide", "identical") for g in groups]
    fig, axes = _figure(5 * len(metrics) + 1.5, 0.42 * len(rows) + 1.6, ncols=len(metrics))
    axes = np.atleast_1d(axes)
    y = np.arange(len(rows))
    for ax, m in zip(axes, metrics):
        ci = table.xs(m, level="metric").loc[rows]
        err = np.vstack([ci["estimate"] - ci["low"], ci["high"] - ci["estimate"]])
        ax.errorbar(ci["estimate"], y, xerr=err, marker="o", linestyle="none", capsize=3, color="tab:blue")
        ax.set_yticks(y, labels if ax is axes[0] else [""] * len(rows))
        # the rows share one order (the first metric's): a panel of another metric says so, since its
        # points need not be sorted
        order_note = "" if m == metrics[0] else f"\nrows in {metric_name(metrics[0])}'s order, not sorted"
        style(ax, title=f"{metric_name(m)} (95% interval){order_note}", xlabel=metric_label(m),
              ylabel="model" if ax is axes[0] else None, synthetic=synthetic)
    return fig
