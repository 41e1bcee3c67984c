"""Figures: labelled axes, SYNTHETIC marks, no bars on log axes, legends outside the data, integer epochs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.evaluation import uncertainty as U
from sbrlib.notebook import plots
from sbrlib.notebook import tuning_plots as tplots


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


HISTORY = pd.DataFrame({"epoch": [1, 2, 3, 4], "loss": [3.0, 2.5, 2.4, 2.3], "recall@20": [0.1, 0.2, 0.15, 0.14],
                        "mrr@20": [0.02, 0.03, 0.04, 0.035]})
"""Recall@20 peaks at epoch 2, MRR@20 (the metric that chose the model) at epoch 3."""


def study(n_trials, seed=0):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed),
                            study_name=f"s{n_trials}")
    s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n_trials)
    return s


def study_with_curves():
    """Three trials; trials 0 and 2 have the same validation curve."""
    import optuna

    s = optuna.create_study(direction="maximize", study_name="curves")
    curves = [[0.10, 0.20, 0.25], [0.05, 0.10, 0.12], [0.10, 0.20, 0.25]]

    def objective(trial):
        curve = curves[trial.number]
        trial.set_user_attr("curve", [{"epoch": e, "mrr@20": v} for e, v in enumerate(curve, start=1)])
        return max(curve)

    s.optimize(objective, n_trials=3)
    return s


def all_figures(synthetic):
    r = ratings_frame()
    per = r.groupby(USER).size()
    by_month = pd.to_datetime(r[TIME], unit="s").dt.to_period("M").value_counts().sort_index()
    history = HISTORY
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
        "training": plots.training_curves(history, synthetic=synthetic, chosen_by="mrr@20"),
        "recall": plots.recall_curves({"A": pd.Series([0.1, 0.2], index=[1, 2])}, synthetic=synthetic),
        "bucketed": plots.bucketed_metric(buckets, "Recall@20", "session length (ratings)", "by length", synthetic),
        "intervals": plots.intervals(ci, ["recall@20", "mrr@20"], synthetic),
        "history_1": tplots.optimization_history(study(1), "mrr@20", synthetic=synthetic),
        "history_6": tplots.optimization_history(study(6), "mrr@20", synthetic=synthetic),
        "importance": tplots.importance_bars(pd.Series({"x": 0.7, "y": 0.3}), synthetic=synthetic),
        "curves": tplots.validation_curves(study_with_curves(), "mrr@20", synthetic=synthetic),
    }


def test_every_axis_is_labelled_and_synthetic_data_are_marked(figures):
    for synthetic in (False, True):
        for name, fig in figures[synthetic].items():
            for ax in fig.axes:
                assert ax.get_xlabel(), f"{name}: x axis without label"
                assert ax.get_ylabel() or ax is not fig.axes[0], f"{name}: y axis without label"
                assert ("SYNTHETIC" in ax.get_title()) == synthetic, f"{name}: title {ax.get_title()!r}"


def test_every_numeric_axis_states_its_unit(figures):
    categorical = {"model", "searched parameter"}
    for name, fig in figures[False].items():
        for ax in fig.axes:
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                if label and label not in categorical:
                    assert "(" in label and label.rstrip().endswith(")"), f"{name}: {label!r} without a unit"


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


def integer_ticks(ax):
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def marked_epochs(ax):
    return {line.get_xdata()[0] for line in ax.get_lines() if line.get_label().startswith("model kept")}


def test_training_curves_mark_the_epoch_the_chosen_metric_picked_with_one_axis_per_metric(figures):
    fig = figures[False]["training"]
    assert len(fig.axes) == 3  # loss, Recall@20, MRR@20: each metric on its own axis
    chosen = int(HISTORY.loc[HISTORY["mrr@20"].idxmax(), "epoch"])
    assert chosen == 3 != int(HISTORY.loc[HISTORY["recall@20"].idxmax(), "epoch"])
    for ax in fig.axes:
        assert integer_ticks(ax)
        assert marked_epochs(ax) == {chosen}
    assert fig.axes[1].get_ylabel().startswith("Recall@20") and fig.axes[2].get_ylabel().startswith("MRR@20")
    assert "chose the model" in fig.axes[2].get_title() and "chose" not in fig.axes[1].get_title()
    # each zoomed panel states its spread and which epochs are near the best (a plateau is not a peak)
    assert fig.axes[2].get_title().endswith("axis zoomed: spread 0.0200\nwithin 1% of the best: epoch 3")
    flat = pd.Series([0.0566, 0.06141, 0.06145, 0.06140, 0.06138], index=[1, 2, 3, 4, 5])
    assert plots.zoom_note(flat) == "axis zoomed: spread 0.0049\nwithin 1% of the best: epochs 2, 3, 4, 5"
    # MRR's axis spans MRR's values, not Recall's: it is not flat
    lo, hi = fig.axes[2].get_ylim()
    assert hi - lo < 0.1 and lo < HISTORY["mrr@20"].min() < HISTORY["mrr@20"].max() < hi
    # one legend, for the whole figure, right of the last panel
    assert [ax.get_legend() is not None for ax in fig.axes] == [False, False, True]
    # recall as the chosen metric moves the mark; without early stopping the last epoch is kept
    by_recall = plots.training_curves(HISTORY, chosen_by="recall@20")
    assert all(marked_epochs(ax) == {2} for ax in by_recall.axes)
    last = plots.training_curves(HISTORY, chosen_by="mrr@20", early_stopping=False)
    assert all(marked_epochs(ax) == {4} for ax in last.axes)
    assert not any("chose" in ax.get_title() for ax in last.axes)
    only_loss = plots.training_curves(HISTORY[["epoch", "loss"]])
    assert len(only_loss.axes) == 1 and marked_epochs(only_loss.axes[0]) == {4}
    plt.close("all")


def visible(artist):
    """The artist draws something: a line of two points or more, or markers, or a filled shape."""
    from matplotlib.collections import Collection
    from matplotlib.container import Container
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(artist, Line2D):
        n = len(artist.get_xdata())
        has_line = artist.get_linestyle() not in ("None", "none", "", " ") and n >= 2
        has_marker = artist.get_marker() not in (None, "None", "none", "", " ") and n >= 1
        return artist.get_visible() and (has_line or has_marker)
    if isinstance(artist, Container):  # e.g. an errorbar: visible if any of its parts is
        return any(visible(a) for a in artist.get_children() if a is not None)
    if isinstance(artist, Collection):
        return len(artist.get_offsets()) > 0 or len(artist.get_paths()) > 0
    return isinstance(artist, Patch)


def is_key_of_drawn(handle, ax):
    """A legend key without its own label on the data (a marker or a patch style) that the axes do draw."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(handle, Patch):
        return any(p.get_hatch() == handle.get_hatch() and tuple(p.get_facecolor()) == tuple(handle.get_facecolor())
                   for p in ax.patches)
    if isinstance(handle, Line2D) and handle.get_marker() not in (None, "None", "none", ""):
        return any(visible(line) and line.get_marker() == handle.get_marker() and line is not handle
                   for line in ax.get_lines())
    return False


def test_every_legend_entry_has_a_visible_line_or_says_what_is_not_shown(figures):
    for name, fig in figures[False].items():
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                label = text.get_text()
                if "not shown" in label:
                    continue  # a note, said as such
                drawn = [a for a in ax.get_children() + [c for c in ax.containers]
                         if getattr(a, "get_label", lambda: None)() == label]
                if name == "training":  # the figure's legend lists the curves of every panel
                    drawn = [a for other in fig.axes for a in other.get_children() if a.get_label() == label]
                assert any(visible(a) for a in drawn) or is_key_of_drawn(handle, ax), \
                    f"{name}: legend entry {label!r} without a visible line"


def test_search_history_has_integer_trials_and_no_invisible_best_line(figures):
    one = figures[False]["history_1"].axes[0]
    assert integer_ticks(one) and [int(t) for t in one.get_xticks()] == [0]
    labels = [" ".join(t.get_text().split()) for t in one.get_legend().get_texts()]  # legend lines are wrapped
    assert not any(lab.startswith("best so far") for lab in labels) and any("also the best" in lab for lab in labels)
    assert all(len(line) <= tplots.LEGEND_WIDTH for t in one.get_legend().get_texts() for line in t.get_text().split("\n"))
    six = figures[False]["history_6"].axes[0]
    assert integer_ticks(six)
    best = [line for line in six.get_lines() if line.get_label().startswith("best so far")]
    assert len(best) == 1 and visible(best[0])
    assert "trial" in six.get_xlabel() and "MRR@20" in six.get_ylabel() and "(" in six.get_ylabel()
    assert "SYNTHETIC" in figures[True]["history_6"].axes[0].get_title()


def test_validation_curves_name_identical_curves_together(figures):
    ax = figures[False]["curves"].axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["trial 0 = trial 2 (lines coincide)", "trial 1"]
    assert integer_ticks(ax) and "SYNTHETIC" in figures[True]["curves"].axes[0].get_title()


def test_gap_histogram_uses_log_counts_so_the_second_hump_shows(figures):
    ax = figures[False]["gaps"].axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "count" in ax.get_ylabel() and "log" in ax.get_ylabel() and "time" in ax.get_xlabel()
    # two humps, one a thousand times smaller than the other: both above the axis floor
    rng = np.random.default_rng(0)
    gaps = np.r_[np.zeros(50), rng.lognormal(np.log(120), 0.5, 100_000), rng.lognormal(np.log(7 * 86_400), 0.5, 100)]
    ax = plots.gap_histogram(gaps, [3600]).axes[0]
    line = next(ln for ln in ax.lines if ln.get_label().startswith("pairs of consecutive ratings"))
    heights = np.asarray(line.get_ydata(), dtype=float)
    assert np.nanmax(heights) > 1_000 and ax.get_ylim()[0] <= 1 and ax.get_ylim()[1] >= np.nanmax(heights)
    assert not ax.patches  # points, not bars: a bar on a log count axis has no meaningful base (reader 18, 3.1)
    # the points are the histogram's counts, each at its bin's centre; an empty bin has no point
    positive = gaps[gaps > 0]
    edges = np.logspace(0, np.log10(positive.max()), len(heights) + 1)
    expected, _ = np.histogram(positive, bins=edges)
    assert np.array_equal(np.nan_to_num(heights).astype(int), expected)
    assert np.allclose(line.get_xdata(), np.sqrt(edges[:-1] * edges[1:]))
    sparse = plots.gap_histogram(np.array([1, 2, 3, 1000]), [3600]).axes[0]
    ys = next(ln for ln in sparse.lines if ln.get_label().startswith("pairs")).get_ydata()
    assert np.isnan(ys).sum() > 0 and np.nansum(ys) == 4
    # gaps of months: the range beyond a week has a labelled tick too
    fig = plots.gap_histogram(np.r_[np.arange(1, 100), [90 * 86_400]], [3600])
    labels = [fig.axes[0].xaxis.get_major_formatter()(v, 0) for v in fig.axes[0].get_xticks()]
    assert "3 months" in labels and "1 week" in labels
    plt.close("all")


def test_the_overflow_bin_is_labelled(figures):
    ax = figures[False]["lengths"].axes[0]
    assert "> 50" in [t.get_text() for t in ax.get_xticklabels()]
    assert "overflow" in ax.get_legend().get_title().get_text()
    # the overflow share is written next to its square, and the square lies inside the y axis
    big = plots.session_length_hist({"gap": pd.Series(np.r_[np.arange(1, 30), [80] * 100])}, cap=50).axes[0]
    share = 100 / 129
    assert f"gap (> 50: {share:.1%})" in [t.get_text() for t in big.get_legend().get_texts()]
    assert big.get_ylim()[1] == pytest.approx(1.0) and share < 1.0  # a labelled tick (100%) above the square
    # ticks at 1, 2 and 5 of each decade are labelled, and the axis ends at the next one above the highest point
    small = plots.session_length_hist({"gap": pd.Series(np.r_[[2] * 13, np.arange(3, 50), np.arange(3, 43)])},
                                      cap=50).axes[0]
    small.figure.canvas.draw()
    assert small.get_ylim()[1] == pytest.approx(0.2)  # highest share 13% -> 20%, not 100%
    labels = {t.get_text() for t in small.get_yticklabels() if t.get_text()}
    assert {"1%", "2%", "5%", "10%", "20%"} <= labels
    assert [plots._next_125(v) for v in (0.13, 0.6, 0.05, 0.0021)] == pytest.approx([0.2, 1.0, 0.05, 0.005])
    # every legend symbol is drawn in the plot: no grey square of a colour no square has
    for handle in big.get_legend().legend_handles:
        if getattr(handle, "get_marker", lambda: "None")() not in ("None", None, ""):
            assert handle.get_color() != "gray"
    plt.close("all")


def test_coinciding_series_are_named_together():
    same = pd.Series([0.1, 0.2, 0.3], index=[1, 2, 3])
    fig = plots.recall_curves({"Pop": same, "S-Pop": same.copy(), "SR": same + 0.1})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["Pop = S-Pop (lines coincide)", "SR"]
    assert plots.coincident_groups({"a": [1.0, np.nan], "b": [1.0, np.nan], "c": [1.0, 2.0]}) == [["a", "b"], ["c"]]
    preds = {"A": predictions(seed=1), "B": predictions(seed=1), "C": predictions(seed=2)}
    table = U.bucketed(preds, "session_length", "recall@20", min_sessions=10, min_predictions=20,
                       config=U.BootstrapConfig(n_boot=20))
    labels = [t.get_text() for t in plots.bucketed_metric(table, "Recall@20", "length", "t").axes[0].get_legend().get_texts()]
    assert labels == ["A = B (identical)", "C"]
    ci = U.intervals_table(preds, ["recall@20", "mrr@20"], U.BootstrapConfig(n_boot=20))
    rows = [t.get_text() for t in plots.intervals(ci, ["recall@20", "mrr@20"]).axes[0].get_yticklabels()]
    assert sorted(rows) == ["A = B (identical)", "C"]
    plt.close("all")


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


def test_a_one_trial_study_is_not_drawn_as_a_search():
    one, six = study(1), study(6)
    text = tplots.no_search_sentence(one, "GRU4Rec", "mrr@20")
    assert text.startswith("GRU4Rec: 1 trial, no search to show") and "not a search result" in text
    assert f"{one.trials[0].value:.4f}" in text and "MRR@20" in text
    assert tplots.no_search_sentence(six, "GRU4Rec", "mrr@20") is None
    import optuna

    single = optuna.create_study(direction="maximize")

    def objective(trial):
        trial.set_user_attr("curve", [{"epoch": e, "mrr@20": v} for e, v in ((1, 0.1), (2, 0.3), (3, 0.2))])
        trial.set_user_attr("best_epoch", 2)
        return 0.3

    single.optimize(objective, n_trials=1)
    ax = tplots.validation_curves(single, "mrr@20").axes[0]
    assert "only trial" in ax.get_title() and "best trials" not in ax.get_title()
    marks = [c for c in ax.collections if c.get_label().startswith("best epoch")]
    assert len(marks) == 1 and marks[0].get_offsets()[0].tolist() == [2, 0.3]
    plt.close("all")


def test_a_pruned_trial_gets_no_best_epoch_mark_and_the_title_counts_the_trials():
    import optuna

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())

    def objective(trial):
        curve = {0: [(1, 0.1), (2, 0.3), (3, 0.2)], 1: [(1, 0.05), (2, 0.25)], 2: [(1, 0.1), (2, 0.2), (3, 0.28)]}[
            trial.number]
        trial.set_user_attr("curve", [{"epoch": e, "mrr@20": v} for e, v in curve])
        trial.set_user_attr("best_epoch", max(curve, key=lambda c: c[1])[0])
        for e, v in curve:
            trial.report(v, e)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return max(v for _, v in curve) - 0.01 * trial.number

    study.optimize(objective, n_trials=3)
    ax = tplots.validation_curves(study, "mrr@20").axes[0]
    assert ax.get_title().split("\n")[0] == "Validation curves of all 3 trials, 1 pruned"
    # the zoomed axis says its range, and the lowest point (a pruned trial's) is not on the frame's edge
    assert ax.get_title().split("\n")[1] == "axis zoomed to the data: all values lie within 0.2500 (0.0500 to 0.3000)"
    assert ax.get_ylim()[0] < 0.05 - 0.01 and ax.get_ylim()[1] > 0.3 + 0.01
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[-1] == "trial 1 (pruned after epoch 2)" and ax.get_lines()[-1].get_linestyle() == "--"
    marks = [c for c in ax.collections if c.get_label().startswith("best epoch")]
    points = [p.tolist() for c in ax.collections for p in c.get_offsets()]
    assert len(marks) == 1 and len(points) == 2 and [2, 0.25] not in points  # completed trials only
    few = tplots.validation_curves(study, "mrr@20", top=2).axes[0]
    assert few.get_title().startswith("Validation curves of the 2 best of 3 trials, 1 pruned\n")
    plt.close("all")


def test_search_histories_share_a_zero_based_axis():
    ax = tplots.optimization_history(study(6), "mrr@20").axes[0]
    assert ax.get_ylim()[0] == 0 and "axis from 0" in ax.get_ylabel()
    plt.close("all")


def test_every_importance_bar_carries_its_value_even_zero():
    fig = tplots.importance_bars(pd.Series({"weighting": 0.0, "steps": 0.25, "lam": 0.75}))
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(labels) == ["0%", "25%", "75%"]  # a bar of 0% reads as 0%, not as a bar that failed to draw
    plt.close(fig)


def test_no_length_tick_runs_into_the_overflow_label(figures):
    ax = figures[False]["lengths"].axes[0]
    ticks = dict(zip((t.get_text() for t in ax.get_xticklabels()), ax.get_xticks()))
    # the cap has its tick (reader 11: where do the lengths end?), far enough from "> 50" not to read as "50> 50"
    assert "> 50" in ticks and "50" in ticks
    assert all(ticks["> 50"] - v >= 0.08 * (ticks["> 50"] + 2) for label, v in ticks.items() if label != "> 50")
    # with a small cap the cap's own tick stays: it is far enough from the overflow bin
    small = plots.session_length_hist({"gap": pd.Series(np.r_[np.arange(1, 12), [30] * 5])}, cap=10).axes[0]
    assert {"10", "> 10"} <= {t.get_text() for t in small.get_xticklabels()}
    plt.close("all")


def test_gap_histogram_says_the_bins_on_the_axis_they_divide(figures):
    ax = figures[False]["gaps"].axes[0]
    assert "bins per ×10" in ax.get_xlabel() and "bins" not in ax.get_ylabel().split("\n")[-1]


def test_monthly_bars_are_labelled_by_month_with_the_year_where_it_changes():
    """Issue 18: a January tick read "1998" (ConciseDateFormatter); every tick now names its month."""
    positions, labels = plots.month_ticks(pd.period_range("1997-09", "1998-04", freq="M"))
    assert labels == ["Sep\n1997", "Oct", "Nov", "Dec", "Jan\n1998", "Feb", "Mar", "Apr"]
    assert positions[0] == pd.Timestamp("1997-09-13 12:00")
    _, many = plots.month_ticks(pd.period_range("1995-01", "2020-12", freq="M"))
    assert len(many) <= 14 and all(label[:3].isalpha() and label[:3].istitle() for label in many)
    fig = plots.activity_over_time(pd.Series([5, 6, 7], index=pd.period_range("1997-12", "1998-02", freq="M")))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Dec\n1997", "Jan\n1998", "Feb"]
    plt.close(fig)


def _pruned_study():
    """Trial 0 complete (best epoch 2), trial 1 pruned by its time limit after 3 epochs, its best at epoch 2,
    trial 2 pruned after its only epoch."""
    import optuna

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    curves = {0: [0.1, 0.3, 0.2], 1: [0.05, 0.25, 0.15], 2: [0.12]}

    def objective(trial):
        curve = curves[trial.number]
        trial.set_user_attr("curve", [{"epoch": e, "mrr@20": v} for e, v in enumerate(curve, start=1)])
        for e, v in enumerate(curve, start=1):
            trial.report(v, e)
        if trial.number:
            trial.set_user_attr("stop", {"rule": "time limit", "epoch": len(curve), "text": "time limit: ..."})
            raise optuna.TrialPruned()
        trial.set_user_attr("best_epoch", 2)
        return max(curve)

    study.optimize(objective, n_trials=3)
    return study


def test_a_pruned_trial_is_drawn_at_its_last_validation_value():
    study = _pruned_study()
    assert tplots.shown_values(study).tolist() == pytest.approx([0.3, 0.15, 0.12])  # not its best, 0.25
    ax = tplots.optimization_history(study, "mrr@20").axes[0]
    pruned = next(c for c in ax.collections if c.get_label().startswith("pruned trials"))
    assert pruned.get_offsets()[:, 1].tolist() == pytest.approx([0.15, 0.12])
    assert "at their last validation value" in " ".join(pruned.get_label().split())
    plt.close("all")


def test_search_history_panels_share_one_y_axis():
    small, large = study(4, seed=1), _pruned_study()
    top = tplots.shared_top([small, large])
    assert top == pytest.approx(max(tplots.shown_values(small).max(), 0.3) * 1.08)
    tops = {tplots.optimization_history(s, "mrr@20", top=top).axes[0].get_ylim() for s in (small, large)}
    assert tops == {(0.0, top)}
    ax = tplots.optimization_history(large, "mrr@20", top=top).axes[0]
    assert "axis from 0, shared" in ax.get_ylabel()
    plt.close("all")


def test_a_one_epoch_trial_is_a_point_in_the_legend_and_a_pruned_one_names_its_rule():
    ax = tplots.validation_curves(_pruned_study(), "mrr@20").axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    single = lines["trial 2 (pruned after its only epoch: time limit)"]
    assert single.get_linestyle() == "None" and single.get_marker() == "o"
    assert lines["trial 1 (pruned after epoch 3: time limit)"].get_linestyle() == "--"
    plt.close("all")


def test_interval_panels_after_the_first_say_their_rows_follow_the_first_metric():
    """Issue 18: the MRR@20 panel kept Recall@20's order without saying so."""
    rows = [(m, k, e) for m, (r, mrr) in {"A": (0.3, 0.05), "B": (0.2, 0.07)}.items()
            for k, e in (("recall@20", r), ("mrr@20", mrr))]
    table = pd.DataFrame([{"model": m, "metric": k, "estimate": e, "low": e - 0.01, "high": e + 0.01}
                          for m, k, e in rows]).set_index(["model", "metric"])
    fig = plots.intervals(table, ["recall@20", "mrr@20"])
    assert fig.axes[0].get_title() == "Recall@20 (95% interval)"
    assert fig.axes[1].get_title() == "MRR@20 (95% interval)\nrows in Recall@20's order, not sorted"
    plt.close(fig)


def test_split_timeline_breaks_its_line_on_days_without_events():
    """A log-scale line drawn straight over an empty day hides it (reader 8): the day is a gap, and the legend
    counts such days."""
    day = 86_400
    frame = pd.DataFrame({"Time": [0, 10, day + 5, 3 * day + 7]})  # nothing on day 2
    fig = plots.split_timeline({"train_tr": frame}, {"valid": 2 * day})
    line = fig.axes[0].get_lines()[0]
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)).sum() == 1
    assert "1 day(s) without events: gaps" in line.get_label()
    plt.close(fig)


def test_a_first_trial_kept_after_its_time_limit_says_so_in_both_legends():
    """Reader 11, 3.1 and 1.4: trial 0's curve ended early, drawn and counted as complete with no reason given."""
    import optuna

    study = optuna.create_study(direction="maximize")
    curve = [{"epoch": 1, "mrr@20": 0.05}, {"epoch": 2, "mrr@20": 0.06}]
    study.add_trial(optuna.trial.create_trial(value=0.06, user_attrs={
        "curve": curve, "best_epoch": 2, "stop": {"rule": "time limit", "epoch": 2, "text": "time limit: ..."}}))
    study.add_trial(optuna.trial.create_trial(value=0.04, state=optuna.trial.TrialState.PRUNED, user_attrs={
        "curve": curve[:1], "stop": {"rule": "time limit", "epoch": 1, "text": "time limit: ..."}}))
    history = [" ".join(t.get_text().split())
               for t in tplots.optimization_history(study, "mrr@20").axes[0].get_legend().get_texts()]
    assert any("also the best" in t and "it was stopped by a time limit and kept as complete" in t for t in history)
    fig = tplots.validation_curves(study, "mrr@20", model_name="GRU4Rec")
    assert fig.axes[0].get_title().startswith("GRU4Rec: validation curves of all 2 trials")  # reader 15, 3.2
    curves = {line.get_label() for line in fig.axes[0].get_lines()}
    assert ("trial 0 (stopped by its time limit after epoch 2; kept as complete: a search's first trial is not "
            "pruned)") in curves
    assert "trial 1 (pruned after its only epoch: time limit)" in curves
    plt.close("all")


def test_each_search_history_writes_where_its_best_last_rose():
    """Readers 11 and 13: on the shared axis a rise of 0.0012 is a few pixels; the panel says it in words."""
    import optuna

    study = optuna.create_study(direction="maximize")
    for v in (0.0499, 0.049, 0.0505, 0.048, 0.0511, 0.05):
        study.add_trial(optuna.trial.create_trial(value=v))
    ax = tplots.optimization_history(study, "mrr@20", top=0.066).axes[0]

    def legend(ax):
        return [" ".join(t.get_text().split()) for t in ax.get_legend().get_texts()]

    assert "best so far: 0.0499 at trial 0 \u2192 0.0511, last rose at trial 4" in legend(ax)
    assert not ax.texts  # in the legend, outside the axes: reader 17 found the note hiding a pruned trial's point
    flat = optuna.create_study(direction="maximize")
    for v in (0.05, 0.04):
        flat.add_trial(optuna.trial.create_trial(value=v))
    ax = tplots.optimization_history(flat, "mrr@20").axes[0]
    assert "best so far: 0.0500 from trial 0 on (never rose)" in legend(ax)
    plt.close("all")
