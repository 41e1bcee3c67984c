"""Figures: labelled axes, SYNTHETIC marks, no bars on log axes, legends outside the data, integer epochs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from sbrlib import plots
from sbrlib import uncertainty as U
from sbrlib.columns import ITEM, RATING, SESSION, TIME, USER


@pytest.fixture(scope="module")
def figures():
    """Every figure, drawn once for real and once for synthetic data."""
    out = {synthetic: all_figures(synthetic) for synthetic in (False, True)}
    yield out
    plt.close("all")


def ratings_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({USER: rng.integers(0, 20, n), ITEM: rng.integers(0, 50, n), RATING: rng.integers(1, 6, n),
                         TIME: np.sort(rng.integers(880_000_000, 890_000_000, n))})


def predictions(n_sessions=60, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 30, n_sessions)
    sess = np.repeat(np.arange(n_sessions), lengths - 1)
    pos = np.concatenate([np.arange(1, length) for length in lengths])
    return pd.DataFrame({"rank": rng.integers(1, 80, len(sess)).astype(float), "position": pos,
                         "session_length": np.repeat(lengths, lengths - 1), SESSION: sess})


def all_figures(synthetic):
    r = ratings_frame()
    per = r.groupby(USER).size()
    by_month = pd.to_datetime(r[TIME], unit="s").dt.to_period("M").value_counts().sort_index()
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.5, 2.4], "recall@20": [0.1, 0.2, 0.15],
                            "mrr@20": [0.02, 0.05, 0.04]})
    preds = {"A": predictions(seed=1), "B": predictions(seed=1).assign(rank=lambda d: d["rank"] + 3)}
    buckets = U.bucketed(preds, "session_length", "recall@20", min_sessions=10, min_predictions=20,
                         config=U.BootstrapConfig(n_boot=20))
    ci = U.intervals_table(preds, ["recall@20", "mrr@20"], U.BootstrapConfig(n_boot=20))
    frames = {"train": r.iloc[:300], "test": r.iloc[300:]}
    return {
        "ratings": plots.ratings_distribution(r, synthetic),
        "long_tail": plots.long_tail(per, r.groupby(ITEM).size(), synthetic),
        "activity": plots.activity_over_time(by_month, synthetic, first=pd.Timestamp("1997-09-20"),
                                             last=pd.Timestamp("1998-04-22")),
        "gaps": plots.gap_histogram(np.r_[np.zeros(10), np.arange(1, 100_000, 50)], [3600], synthetic),
        "lengths": plots.session_length_hist({"gap 3600s": pd.Series(np.r_[np.arange(1, 60), [20] * 10])}, synthetic,
                                             cap=50),
        "split": plots.split_timeline(frames, {"test": int(r[TIME].iloc[300])}, synthetic=synthetic),
        "training": plots.training_curves(history, synthetic=synthetic),
        "recall": plots.recall_curves({"A": pd.Series([0.1, 0.2], index=[1, 2])}, synthetic=synthetic),
        "bucketed": plots.bucketed_metric(buckets, "Recall@20", "session length (ratings)", "by length", synthetic),
        "intervals": plots.intervals(ci, ["recall@20", "mrr@20"], synthetic),
    }


def test_every_axis_is_labelled_and_synthetic_data_are_marked(figures):
    for synthetic in (False, True):
        for name, fig in figures[synthetic].items():
            for ax in fig.axes:
                assert ax.get_xlabel(), f"{name}: x axis without label"
                assert ax.get_ylabel() or ax is not fig.axes[0], f"{name}: y axis without label"
                assert ("SYNTHETIC" in ax.get_title()) == synthetic, f"{name}: title {ax.get_title()!r}"


def test_no_bars_on_log_axes(figures):
    for name, fig in figures[False].items():
        for ax in fig.axes:
            bars = [c for c in ax.containers if isinstance(c, BarContainer)]
            if bars:
                assert ax.get_yscale() == "linear" and ax.get_xscale() == "linear", f"{name}: bars on a log axis"


@pytest.mark.slow
def test_legends_sit_outside_the_data(figures):
    for name, fig in figures[False].items():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None or name == "training" and ax is fig.axes[0]:
                continue  # the loss panel's small legend sits in its empty corner
            assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1 - 1, name


def test_training_curves_have_integer_epochs_and_mark_the_best(figures):
    fig = figures[False]["training"]
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        assert any("best epoch (2)" in line.get_label() for line in ax.get_lines())
    assert fig.axes[1].get_ylabel()


def test_split_timeline_names_cutoffs_in_the_legend_not_on_the_data(figures):
    fig = figures[False]["split"]
    ax = fig.axes[0]
    assert not ax.texts
    assert any("test cutoff" in t.get_text() for t in ax.get_legend().get_texts())
    assert "date" in ax.get_xlabel()


def test_bucketed_metric_shows_counts_under_each_bucket(figures):
    fig = figures[False]["bucketed"]
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels and all("sess." in lab and "pred." in lab for lab in labels)
