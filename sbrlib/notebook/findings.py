""""What we found": Markdown built from the numbers of a run, never typed by hand.

Each notebook ends with one of these. A function returns a :class:`Findings`: the Markdown, the
numbers it used (``numbers``) and, for every number shown in the text, the exact string shown
(``shown``). Notebooks record all three next to their results, so a test can check that the text
says what the results say. Sentences that state a fact about the data are chosen by the numbers
(e.g. whether activity declines over time) so they are true on every dataset.

* :func:`eda` – notebook 01: ties, activity over calendar time, sessions at the chosen gap, the
  session-length spike at the minimum number of ratings per user, long tail, low ratings.
* :func:`preprocessing` – notebook 02: what the filters removed, the split sizes and periods.
* :func:`evaluation` – notebook 05: who leads on which metric, by how much, whether the
  difference is distinguishable from noise, what excluding already-rated items and shuffling
  the order do.
* :func:`what_went_wrong` – notebook 00: each fault of the original notebook, measured.
* :func:`tuning` – notebook 03: trials per model (complete/pruned), best validation score, what
  ended each search; no ranking across searches of unequal size.
* :func:`training` – notebook 04: where the configuration came from and from how many trials,
  epochs, best epoch by the choosing metric, why training stopped, refit or not, speed.
* :func:`try_it` – notebook 06: what the demonstration showed and which data each model saw.
* :func:`sequential` – notebook 07: what ran (configurations, training, refit), each protocol's
  leader, and no winner where the conditions were unequal.

Method sentences come from run facts: :func:`config_facts` / :func:`config_sentence`,
:func:`training_sentence` and :func:`fairness_problems`.
Facts of earlier notebooks are read in one place: :func:`recorded_search`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sbrlib.core import text as core_text
from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.data.preprocess import order_events, sessionize

GLOSSARY = "../docs/GLOSSARY.md"


def pct(x: float) -> str:
    """A share or change as a percentage with one decimal: ``0.5104 -> "51.0%"``, ``-0.47 -> "−47.0%"`` (the
    typographic minus, as in :func:`signed`)."""
    return f"{x:.1%}".replace("-", "−")


def count(n: float) -> str:
    """A count with thousands separators: ``8406 -> "8,406"``."""
    return f"{int(round(n)):,}"


def metric(x: float) -> str:
    """A metric value with four decimals: ``0.04861 -> "0.0486"``."""
    return f"{x:.4f}"


def signed(x: float) -> str:
    """A signed difference with four decimals: ``-0.0025 -> "−0.0025"`` (:func:`sbrlib.core.text.signed`)."""
    return core_text.signed(x, 4)


def text(x: Any) -> str:
    """Names and dates, as they are."""
    return str(x)


@dataclass
class Findings:
    """The Markdown of a "What we found" cell and the numbers behind it.

    Attributes:
        markdown: the text.
        numbers: every number the text is built from (JSON-friendly values).
        shown: for each number shown in the text, the exact string that appears in it.
    """

    markdown: str
    numbers: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)

    def _repr_markdown_(self) -> str:
        return self.markdown

    def to_dict(self) -> dict[str, Any]:
        """``{"markdown", "numbers", "shown"}``, for :func:`sbrlib.pipeline.records.record`."""
        return {"markdown": self.markdown, "numbers": _jsonable(self.numbers), "shown": dict(self.shown)}


class _Builder:
    """Collects numbers while the text is written: ``b.n("tie_share", 0.51, pct) -> "51.0%"``."""

    def __init__(self) -> None:
        self.numbers: dict[str, Any] = {}
        self.shown: dict[str, str] = {}
        self.lines: list[str] = []

    def n(self, key: str, value: Any, fmt: Callable[[Any], str]) -> str:
        self.numbers[key] = value
        self.shown[key] = fmt(value)
        return self.shown[key]

    def keep(self, key: str, value: Any) -> Any:
        """Record a number that decides the wording but is not printed."""
        self.numbers[key] = value
        return value

    def add(self, line: str) -> None:
        self.lines.append(line)

    def build(self, title: str = "## What we found") -> Findings:
        return Findings("\n\n".join([title, *self.lines]) + "\n", self.numbers, self.shown)


def with_multiple_comparisons(found: Findings, p_values: Mapping[str, float], alpha: float = 0.05,
                              same_as: Mapping[str, str] | None = None, resolution: float | None = None) -> Findings:
    """``found`` with the multiple-comparison caveat appended as its last paragraph
    (:func:`sbrlib.notebook.comparisons.multiple_comparisons_note`); the counts are recorded in its
    numbers (``comparisons/n``, ``comparisons/raw``, ``comparisons/bonferroni``, ``comparisons/holm``,
    ``comparisons/holm_survivors``). ``same_as``: models whose predictions repeat another's
    (:func:`sbrlib.notebook.comparisons.identical_models`), whose comparisons ``p_values`` counts once: said so."""
    from sbrlib.notebook.comparisons import multiple_comparisons_note

    note, table = multiple_comparisons_note(p_values, alpha, resolution)  # resolution: 2 / bootstrap replicates
    if same_as and len(table):
        twins = "; ".join(f"{a}'s are {b}'s" for a, b in same_as.items())
        note += (f" Identical predictions are counted once ({twins}: the same ranks for every prediction, so the "
                 "same comparisons).")
    numbers = {**found.numbers, "comparisons/n": len(table), "comparisons/raw": int(table["raw"].sum()),
               "comparisons/bonferroni": int(table["bonferroni"].sum()), "comparisons/holm": int(table["holm"].sum()),
               "comparisons/holm_survivors": table.index[table["holm"]].tolist()}
    return Findings(found.markdown.rstrip("\n") + "\n\n" + note + "\n", numbers, dict(found.shown))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def _synthetic_note(b: _Builder, synthetic: bool) -> None:
    if synthetic:
        b.add("> **SYNTHETIC DATA.** These numbers describe data generated by `sbrlib.data.synthetic`, not "
              "MovieLens; they test the pipeline, they say nothing about real users.")


# --------------------------------------------------------------------------- 01 EDA


def activity_pattern(times: np.ndarray) -> dict[str, float]:
    """Shares of ratings in the first and last quarter of the time span, and their ratio.

    Returns:
        ``first_quarter_share``, ``last_quarter_share``, ``last_over_first`` and ``trend``:
        ``"declines"`` (last quarter < half the first), ``"grows"`` (> twice) or ``"steady"``.
    """
    times = np.asarray(times, np.float64)
    lo, hi = times.min(), times.max()
    q = (hi - lo) / 4 if hi > lo else 1.0
    first = float(np.mean(times <= lo + q))
    last = float(np.mean(times >= hi - q))
    ratio = last / first if first > 0 else float("inf")
    trend = "declines" if ratio < 0.5 else "grows" if ratio > 2 else "steady"
    return {"first_quarter_share": first, "last_quarter_share": last, "last_over_first": ratio, "trend": trend}


MONTH_SPREAD_UNEVEN = 1.5  # busiest over quietest month above this: activity is called uneven month to month


def _month_spread(b: _Builder, months: pd.Series) -> str:
    """How even the monthly counts are: the busiest month over the quietest, in words."""
    spread = float(months.max() / months.min()) if len(months) and months.min() > 0 else float("inf")
    if not np.isfinite(spread):
        b.keep("month_spread", None)
        return ""
    shown = b.n("month_spread", spread, lambda v: f"{v:.1f}×")
    if spread > MONTH_SPREAD_UNEVEN:
        return f", a {shown} range: month to month, activity is uneven (see the month figure)"
    return f", within {shown} of each other: month to month, activity is roughly steady too"


def _full_months(by_month: pd.Series, first: pd.Timestamp, last: pd.Timestamp) -> pd.Series:
    """Months entirely covered by the data (the first/last month only if the data span them)."""
    keep = np.ones(len(by_month), bool)
    starts = by_month.index.to_timestamp()
    if len(by_month) and first > starts[0]:
        keep[0] = False
    if len(by_month) and last < (by_month.index[-1] + 1).to_timestamp() - pd.Timedelta(seconds=1):
        keep[-1] = False
    return by_month[keep]


def eda(ratings: pd.DataFrame, gaps: np.ndarray, by_gap: pd.DataFrame, chosen_gap: int, by_month: pd.Series,
        synthetic: bool = False) -> Findings:
    """Findings of notebook 01.

    Args:
        ratings: the ratings frame (``UserId, ItemId, Rating, Time``).
        gaps: seconds between consecutive ratings of each user (:func:`sbrlib.notebook.eda.inter_event_gaps`).
        by_gap: :func:`sbrlib.notebook.eda.sessions_by_gap` table (must include ``chosen_gap``).
        chosen_gap: the session gap (seconds) the protocol uses.
        by_month: ratings per calendar month (:func:`sbrlib.notebook.eda.activity_by_month`).
        synthetic: the data are synthetic.
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    gaps = np.asarray(gaps)
    tie = float((gaps == 0).mean()) if len(gaps) else 0.0
    b.add(f"* **Ties.** {b.n('tie_share', tie, pct)} of consecutive ratings by the same user carry the "
          "same second, so the order inside a sitting is often not observed. Notebook 02 fixes it "
          f"deterministically (`TIE_BREAK`, see [timestamp ties]({GLOSSARY}#timestamp-ties)); notebook 05 "
          "measures how much the order matters.")
    one = float((gaps == 1).mean()) if len(gaps) else 0.0
    n_one, n_two = int((gaps == 1).sum()), int((gaps == 2).sum())
    if n_one:
        batch = b.keep("one_second_batches", n_one > 10 * max(n_two, 1))
        line = (f"* **One second apart.** A further {b.n('one_second_share', one, pct)} of consecutive ratings "
                f"({b.n('one_second_pairs', n_one, count)} pairs) are exactly 1 s apart — the isolated point at 1 s "
                f"in the gap histogram — against {b.n('two_second_pairs', n_two, count)} pairs 2 s apart")
        if batch:
            line += (": consistent with ratings saved together in one batch whose timestamps straddle a second "
                     "boundary, rather than a user rating a movie per second. Ties and 1-second gaps together are "
                     f"{b.n('batch_share', tie + one, pct)} of consecutive ratings: within a tie the order is the "
                     "file's, and within such a batch the time order says little about the order in which the user "
                     "chose the movies.")
        else:
            line += "."
        b.add(line + " (Between 1 s and 10 s a few points are missing: timestamps are whole seconds, and those "
              "narrow log-spaced bins hold no whole number; the other bins there hold few pairs.)")

    times = ratings[TIME].to_numpy()
    first, last = pd.to_datetime(times.min(), unit="s"), pd.to_datetime(times.max(), unit="s")
    act = activity_pattern(times)
    b.keep("trend", act["trend"])
    b.keep("last_over_first", act["last_over_first"])
    wording = {"declines": "activity **declines**: most ratings come early, with a thinner tail later",
               "grows": "activity **grows** over time: the later period holds more ratings",
               "steady": ("the two quarters hold about the same share: **no trend** from start to end and no thin "
                          "tail at the end")}[act["trend"]]
    full = _full_months(by_month, first, last)
    months = full if len(full) >= 3 else by_month
    which = "full calendar months" if len(full) >= 3 else "calendar months (some only partly covered)"
    last_day_n = int(np.sum(times > times.max() - 86_400))
    last_week_n = int(np.sum(times > times.max() - 7 * 86_400))
    b.add(f"* **Activity over time.** Ratings span {b.n('span_days', int((last - first).days), count)} days "
          f"({b.n('first_date', f'{first:%Y-%m-%d}', text)} to {b.n('last_date', f'{last:%Y-%m-%d}', text)}). "
          f"The first quarter of that span holds {b.n('first_quarter_share', act['first_quarter_share'], pct)} of "
          f"the ratings and the last quarter {b.n('last_quarter_share', act['last_quarter_share'], pct)}: "
          f"{wording}. {which.capitalize()} hold between "
          f"{b.n('month_min', int(months.min()), count)} ({b.n('month_min_at', str(months.idxmin()), text)}) and "
          f"{b.n('month_max', int(months.max()), count)} ({b.n('month_max_at', str(months.idxmax()), text)}) "
          f"ratings{_month_spread(b, months)}. The last day holds {b.n('last_day_ratings', last_day_n, count)} ratings "
          f"({b.n('last_day_share', last_day_n / len(times), pct)}) and the last 7 days "
          f"{b.n('last_week_ratings', last_week_n, count)} ({b.n('last_week_share', last_week_n / len(times), pct)}): "
          "that is what a test set of \"the last day\" or "
          "\"the last week\" would contain, which is why notebook 02 holds out a *fraction of sessions* instead.")

    table = by_gap.set_index("gap_s")
    row = table.loc[chosen_gap]
    gaps_sorted = list(table.index)
    i = gaps_sorted.index(chosen_gap)
    neighbours = gaps_sorted[max(i - 1, 0): i + 2]
    counts = table.loc[neighbours, "sessions"].to_numpy(np.float64)
    # signed change from the count at the lower gap to the count at the higher one, relative to the first
    change = float(counts[-1] / counts[0] - 1) if counts[0] > 0 else float("inf")
    stable = b.keep("sessions_change_stable", abs(change) < 0.15)
    b.add(f"* **Sessions at a {b.n('chosen_gap', int(chosen_gap), count)}-second gap.** "
          f"{b.n('sessions_at_chosen_gap', int(row['sessions']), count)} sessions, median length "
          f"{b.n('median_length', float(row['len_median']), lambda v: f'{v:g}')} ratings; "
          f"{b.n('singleton_share', float(row['singletons_share']), pct)} of them hold a single rating "
          "(nothing to predict: notebook 02 drops them). These counts are of every rating, *before* notebook 02's "
          "filters (rare items, sessions of one rating); notebook 00 states the count after them next to this one. "
          "Between "
          f"{b.n('gap_low', int(neighbours[0]), count)} s and {b.n('gap_high', int(neighbours[-1]), count)} s "
          f"the number of sessions goes from {b.n('sessions_at_gap_low', int(counts[0]), count)} to "
          f"{b.n('sessions_at_gap_high', int(counts[-1]), count)}, a change of "
          f"{b.n('sessions_change', change, lambda v: f'{v:+.1%}'.replace('-', '−'))} relative to the count at "
          f"{count(neighbours[0])} s"
          + (": sittings are far apart, so the exact threshold matters little." if stable else
             ": the threshold matters; compare the session counts in the table above before changing it."))

    per_user = ratings.groupby(USER).size()
    m = int(per_user.min())
    sessions = sessionize(order_events(ratings), "gap", chosen_gap)
    lengths = sessions.groupby(SESSION).size().to_numpy()
    at_m = int((lengths == m).sum())
    around = [int((lengths == m - 1).sum()), int((lengths == m + 1).sum())]
    spike = b.keep("spike_at_min", at_m > 1.5 * max(np.mean(around), 1))
    if spike:
        one_sitting = int((per_user == m).sum())
        n_sessions_user = sessions.groupby(USER)[SESSION].nunique()
        whole = int(((per_user == m) & (n_sessions_user.reindex(per_user.index) == 1)).sum())
        b.add(f"* **The spike at length {b.n('min_ratings_per_user', m, count)}** in the session-length figure: "
              f"every user here has at least {m} ratings ({b.n('users_with_min', one_sitting, count)} users have "
              f"exactly {m}), and {b.n('users_min_one_session', whole, count)} of those made all of them in one "
              f"sitting, so {count(whole)} sessions of exactly {m} ratings come from them alone; in all there are "
              f"{b.n('sessions_at_min', at_m, count)} sessions of exactly {m} ratings "
              f"against {b.n('sessions_around_min', int(np.mean(around)), count)} on average at lengths "
              f"{m - 1} and {m + 1}. It comes from how the dataset was collected, not from behaviour.")

    per_item = ratings.groupby(ITEM).size().sort_values(ascending=False)
    top = max(int(np.ceil(0.1 * len(per_item))), 1)
    top_share = float(per_item.iloc[:top].sum() / per_item.sum())
    rare = float((per_item < 5).mean())
    b.add(f"* **Long tail.** The 10% most-rated items receive {b.n('top10_item_share', top_share, pct)} of all "
          f"ratings; {b.n('items_below_5', rare, pct)} of items have fewer than 5 ratings (too few to learn "
          "from; notebook 02's item filter removes items below `MIN_ITEM_SUPPORT`).")
    if RATING in ratings:
        low = float((ratings[RATING] < 3).mean())
        b.add(f"* **Low ratings.** {b.n('below_3_share', low, pct)} of ratings are below 3 stars. The original "
              "notebook dropped them; notebook 02 keeps them by default (a low rating is still a movie the "
              "user chose to watch).")
    return b.build()


# --------------------------------------------------------------------------- 02 preprocessing


def preprocessing(ratings: pd.DataFrame, sessions: pd.DataFrame, split: Any, synthetic: bool = False) -> Findings:
    """Findings of notebook 02.

    Args:
        ratings: raw ratings.
        sessions: events after the rating filter, sessionization and the iterative filters,
            before the split (:func:`sbrlib.data.preprocess.sessions_from_ratings`).
        split: the :class:`~sbrlib.data.preprocess.Split`.
        synthetic: the data are synthetic.
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    cfg = split.config
    frames = split.frames
    if cfg.min_rating is None:
        below = float((ratings[RATING] < 3).mean()) if RATING in ratings else 0.0
        b.add(f"* **Rating filter: none.** Every rating is kept; keeping only ratings ≥ 3 (the original "
              f"notebook) would have removed {b.n('below_3_share', below, pct)} of them.")
    else:
        kept = float((ratings[RATING] >= cfg.min_rating).mean())
        b.add(f"* **Rating filter: ≥ {cfg.min_rating}.** It keeps {b.n('rating_kept_share', kept, pct)} of the "
              "ratings.")
    removed_events = len(ratings) - len(sessions)
    b.add(f"* **Sessions and filters** (`{cfg.session_mode}` sessions"
          + (f", gap {cfg.session_gap:,} s" if cfg.session_mode == "gap" else "")
          + f"; items with < {cfg.min_item_support} events and sessions with < {cfg.min_session_length} events "
          "removed until both hold): "
          f"{b.n('events_before', len(ratings), count)} ratings become {b.n('events_after', len(sessions), count)} "
          f"events in {b.n('sessions_after', int(sessions[SESSION].nunique()), count)} sessions; the filters "
          f"removed {b.n('events_removed', removed_events, count)} events "
          f"({b.n('events_removed_share', removed_events / max(len(ratings), 1), pct)}), "
          f"{b.n('items_removed', int(ratings[ITEM].nunique() - sessions[ITEM].nunique()), count)} items and "
          f"{b.n('users_removed', int(ratings[USER].nunique() - sessions[USER].nunique()), count)} users.")
    n = {k: (len(f), int(f[SESSION].nunique())) for k, f in frames.items()}
    dropped_test = len(sessions) - n["train"][0] - n["test"][0]
    dropped_valid = n["train"][0] - n["train_tr"][0] - n["valid"][0]
    test_share = n["test"][1] / max(n["train"][1] + n["test"][1], 1)
    t0 = pd.to_datetime(frames["test"][TIME].min(), unit="s")
    t1 = pd.to_datetime(frames["test"][TIME].max(), unit="s")
    b.add(f"* **Split.** Test: {b.n('test_events', n['test'][0], count)} events in "
          f"{b.n('test_sessions', n['test'][1], count)} sessions ({b.n('test_session_share', test_share, pct)} of "
          f"the sessions), from {b.n('test_first', f'{t0:%Y-%m-%d}', text)} to "
          f"{b.n('test_last', f'{t1:%Y-%m-%d}', text)}; train: {b.n('train_events', n['train'][0], count)} events in "
          f"{b.n('train_sessions', n['train'][1], count)} sessions. Inside train, `train_tr` "
          f"({b.n('train_tr_events', n['train_tr'][0], count)} events) and `valid` "
          f"({b.n('valid_events', n['valid'][0], count)} events in {b.n('valid_sessions', n['valid'][1], count)} "
          f"sessions, the last ones before the test cutoff): the models learn from `train_tr`, and `valid` only "
          f"scores them, for [tuning]({GLOSSARY}#hyperparameter) (notebook 03) and [early stopping]({GLOSSARY}"
          f"#early-stopping) (stopping training when `valid` stops improving), so its events reach a final model "
          f"only when notebook 04 [refits]({GLOSSARY}#refit) (trains again) on the whole `train` (`REFIT`, off by "
          "default).")
    b.add(f"* **Removed at the split.** {b.n('test_events_dropped', dropped_test, count)} `test` events "
          f"had an item never seen in `train` (or were left in a session shorter than "
          f"{cfg.min_session_length}) and were removed, and {b.n('valid_events_dropped', dropped_valid, count)} "
          "`valid` events for an item never seen in `train_tr`: a model cannot recommend an item it has never seen, "
          "so such a target could only be missed, and mapping it to a placeholder item instead (the original "
          "notebook's -1, which one-hot encoding turned into the last item) scores the model on a target that is not "
          "the real one (notebook 00 measures what that did on this data).")
    n_test_sessions = max(n["test"][1], 1)
    b.add(f"* **What this means for notebook 05.** Every comparison there rests on "
          f"{b.n('test_sessions_again', n['test'][1], count)} test sessions"
          + (": few enough that differences between models must come with [intervals]"
             f"({GLOSSARY}#bootstrap-interval) (the range a metric would likely take on other test sessions)."
             if b.keep("few_test_sessions", n_test_sessions < 1000) else
             "; notebook 05 gives every metric an interval over them all the same."))
    return b.build()


# --------------------------------------------------------------------------- 05 evaluation


def _name(metric_name: str) -> str:
    kind, _, k = metric_name.partition("@")
    return {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "coverage": "Coverage",
            "popularity": "Popularity"}.get(kind, kind) + (f"@{k}" if k else "")


def _anchor(metric_name: str) -> str:
    kind = metric_name.partition("@")[0]
    return f"{GLOSSARY}#{kind}k"


def _join(names: Sequence[str]) -> str:
    return core_text.join_and(names)


def _simpler_matched(b: _Builder, focus: str, comparisons: Mapping[str, pd.DataFrame],
                     leaders: Mapping[str, str]) -> str:
    """05's answer to its introduction's question (do the simpler methods match or beat the neural one, as
    Ludewig & Jannach often found?): the other models that led ``focus`` on a metric or were not
    distinguishable from it, from the paired comparisons; a sentence that starts with a space."""
    matched: list[str] = []
    for m, cmp in comparisons.items():
        if leaders[m] != focus:
            matched.append(leaders[m])
        else:
            matched += [str(x) for x in cmp.index[1:] if not bool(cmp.loc[x, "significant"])]
    matched = list(dict.fromkeys(matched))
    b.keep("simpler_matched", matched)
    names = " or ".join(_name(m) for m in comparisons)
    if not matched:
        return (f" So the introduction's question has its answer for this run: none of the simpler models matched "
                f"{focus} on {names}, unlike what Ludewig & Jannach often found (with the unequal search effort "
                "stated above).")
    return (f" So the introduction's question has its answer for this run: {_join(matched)} matched or beat {focus} "
            f"on {names} (ahead of it, or not distinguishable from it, on at least one), as Ludewig & Jannach often "
            "found.")


def evaluation(table: pd.DataFrame, comparisons: Mapping[str, pd.DataFrame], intervals: pd.DataFrame,
               n_predictions: int, n_sessions: int, n_items: int, tie_policy: str, exclude_seen: str,
               exclusion: pd.DataFrame | None = None, excluded_targets: int | None = None,
               order: pd.DataFrame | None = None, synthetic: bool = False, reference: str = "Pop",
               focus: str | None = "GRU4Rec", focus_note: str = "",
               search_effort: Mapping[str, Mapping[str, Any]] | None = None, order_plan: Any = None,
               by_length: pd.DataFrame | None = None) -> Findings:
    """Findings of notebook 05.

    Args:
        table: metrics per model (index: model) under the main setting.
        comparisons: metric -> :func:`sbrlib.evaluation.uncertainty.compare_to_best` table.
        intervals: :func:`sbrlib.evaluation.uncertainty.intervals_table` (index ``(model, metric)``).
        n_predictions, n_sessions, n_items: size of the test.
        tie_policy, exclude_seen: the main setting.
        exclusion: optional comparison of exclusion settings: index model, columns
            ``(setting, metric)`` pairs flattened as ``"<setting> <metric>"``; see
            :func:`sbrlib.notebook.comparisons.exclusion_table`.
        excluded_targets: targets the user had already rated (counted by the evaluator).
        order: optional :func:`sbrlib.notebook.comparisons.order_table` (one row per (model, metric) with
            ``real``, ``shuffled``, ``change``, ``low``, ``high``, ``significant``).
        synthetic: the data are synthetic.
        reference: the popularity baseline the leaders are compared with.
        focus: the model whose standing against every other model gets its own line (None: none).
        focus_note: appended to that line (e.g. where the baselines' parameters came from).
        search_effort: notebook 03's search facts per model (display name; :func:`tuning_facts`, as
            recorded: :func:`recorded_search_effort`): the trials behind each compared configuration and
            which searches had not settled are stated next to the ranking. None: not stated.
        order_plan: GRU4Rec's retraining plan of the order experiment
            (:func:`sbrlib.notebook.comparisons.order_gru_plan`): its whole-session and tie changes compare
            the saved, early-stopped model with fixed-epoch retrainings, which the order bullet says.
        by_length: :func:`sbrlib.evaluation.uncertainty.bucketed` by ``session_length``: the bucket that holds
            the largest share of the predictions (and so weighs most in every number) is named. None: not stated.
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    seen_words = {"none": "no items excluded", "session": "items already in the session excluded",
                  "user": "every item the user had already rated excluded"}[exclude_seen]
    b.add(f"Judged on {b.n('predictions', n_predictions, count)} next-item predictions in "
          f"{b.n('sessions', n_sessions, count)} test sessions, each ranked against all "
          f"{b.n('items', n_items, count)} training items ([tie policy]({GLOSSARY}#tie-policies) "
          f"`{tie_policy}`, {seen_words}). Intervals are 95% bootstrap intervals over test sessions "
          f"([what that means]({GLOSSARY}#bootstrap-interval)).")
    _dominant_bucket(b, by_length)
    leaders = {}
    for m, cmp in comparisons.items():
        best = str(cmp.index[0])
        leaders[m] = best
        others = cmp.iloc[1:]
        ties = [str(x) for x in others.index[~others["significant"].to_numpy()]]
        below = [str(x) for x in others.index[others["significant"].to_numpy()]]
        lo, hi = intervals.loc[(best, m), ["low", "high"]]
        line = (f"* **[{_name(m)}]({_anchor(m)})**: **{b.n(f'leader/{m}', best, text)}** is highest with "
                f"{b.n(f'leader_value/{m}', float(cmp['value'].iloc[0]), metric)} "
                f"(95% interval {b.n(f'leader_low/{m}', float(lo), metric)}–{b.n(f'leader_high/{m}', float(hi), metric)})")
        if len(others):
            runner = str(others.index[0])
            diff = float(others["diff"].iloc[0])
            clear = b.keep(f"lead_significant/{m}", bool(others["significant"].iloc[0]))
            line += (f", {b.n(f'lead/{m}', -diff, metric)} above {b.n(f'runner_up/{m}', runner, text)} "
                     f"({b.n(f'runner_up_value/{m}', float(others['value'].iloc[0]), metric)}; paired interval of "
                     f"the difference {b.n(f'lead_low/{m}', -float(others['high'].iloc[0]), metric)} to "
                     f"{b.n(f'lead_high/{m}', -float(others['low'].iloc[0]), metric)}). ")
            b.keep(f"indistinguishable/{m}", ties)
            b.keep(f"significantly_lower/{m}", below)
            if ties:
                line += (f"{'The lead is within the noise: ' if not clear else ''}"
                         f"{_join(ties)} {'is' if len(ties) == 1 else 'are'} **not distinguishable** from "
                         f"{best} on this test set (the interval of the difference includes 0)")
                line += (f"; {_join(below)} {'is' if len(below) == 1 else 'are'} significantly lower (each interval on "
                         "its own; the last paragraph corrects for the many comparisons)." if below else ".")
            else:
                line += ("Every other model is significantly lower (the intervals of the differences exclude 0, each on "
                         "its own; the last paragraph corrects for the many comparisons).")
        else:
            line += "."
        b.add(line)
    if search_effort is not None:
        _search_effort_line(b, search_effort, [str(x) for x in table.index])
    if focus is not None and all(focus in cmp.index for cmp in comparisons.values()):
        parts = []
        for m, cmp in comparisons.items():
            if leaders[m] == focus:
                runner = str(cmp.index[1]) if len(cmp) > 1 else None
                if runner is None:
                    continue
                sig = bool(cmp["significant"].iloc[1])
                parts.append(f"on {_name(m)} it is ahead of every other model, by "
                             f"{b.n(f'focus_margin/{m}', -float(cmp['diff'].iloc[1]), metric)} over {runner} "
                             f"({'significant on its own' if sig else 'not distinguishable from noise'})")
            else:
                row = cmp.loc[focus]
                sig = bool(row["significant"])
                rel = -float(row["diff"]) / float(cmp["value"].iloc[0]) if float(cmp["value"].iloc[0]) else 0.0
                parts.append(f"on {_name(m)} it is behind {leaders[m]} by "
                             f"{b.n(f'focus_gap/{m}', -float(row['diff']), metric)} "
                             f"({b.n(f'focus_gap_relative/{m}', rel, pct)} of {leaders[m]}'s value; "
                             f"{'significant on its own' if sig else 'not distinguishable from noise'})")
            b.keep(f"focus_leads/{m}", leaders[m] == focus)
        if parts:
            joined = "; ".join(parts)
            b.add(f"* **{focus} against the others.** " + joined[0].upper() + joined[1:] + "."
                  + (f" {focus_note}" if focus_note else "") + _simpler_matched(b, focus, comparisons, leaders))
    ms = list(comparisons)
    recall_m = next((m for m in ms if m.startswith("recall@")), None)
    mrr_m = next((m for m in ms if m.startswith("mrr@")), None)
    if recall_m and mrr_m and leaders[recall_m] != leaders[mrr_m]:
        r, q = leaders[recall_m], leaders[mrr_m]
        hit_rr = {x: float(table.loc[x, mrr_m] / table.loc[x, recall_m]) if table.loc[x, recall_m] > 0 else 0.0
                  for x in (r, q)}
        b.add(f"* **Different leaders.** {r} finds the next movie within the top {recall_m.split('@')[1]} more "
              f"often, {q} ranks its hits higher: the mean reciprocal rank of a hit is "
              f"{b.n(f'hit_rr/{q}', hit_rr[q], metric)} for {q} against {b.n(f'hit_rr/{r}', hit_rr[r], metric)} "
              f"for {r} (MRR = Recall × that mean). Which matters depends on how many recommendations are shown"
              + (", and on this test set neither lead is distinguishable from noise." if not (
                  b.numbers.get(f"lead_significant/{recall_m}") or b.numbers.get(f"lead_significant/{mrr_m}"))
                 else "."))
    if reference in table.index and recall_m:
        best = leaders[recall_m]
        ref = float(table.loc[reference, recall_m])
        if ref > 0:
            b.add(f"* **Against popularity.** {best}'s {_name(recall_m)} is "
                  f"{b.n('times_pop', float(table.loc[best, recall_m]) / ref, lambda v: f'{v:.1f}')}× that of "
                  f"{reference} ({b.n('pop_value', ref, metric)}): the most-rated movies, which use nothing about the "
                  "session" + {"user": " (with seen items excluded, each user's list leaves out the movies that user "
                                       "rated, so the lists differ)",
                               "session": " (each list leaves out the movies of its own session, so the lists differ)"}
                  .get(str(exclude_seen), "") + ".")
    if exclusion is not None and recall_m and len(exclusion):
        settings = [c.rsplit(" ", 1)[0] for c in exclusion.columns if c.endswith(recall_m)]
        if len(settings) == 2:
            a, z = settings  # "none" first, then the main one
            col_a, col_z = f"{a} {recall_m}", f"{z} {recall_m}"
            delta = (exclusion[col_z] - exclusion[col_a])
            most = str(delta.idxmax())
            text_targets = ""
            if excluded_targets is not None:
                why = "" if synthetic else " (on MovieLens a user rates a movie once)"
                text_targets = (f" Of the {count(n_predictions)} targets, "
                                f"{b.n('excluded_targets', int(excluded_targets), count)} had already been rated by "
                                "the same user" + (f"{why}, so an already-rated movie is never the next one here and "
                                                   "excluding them only removes wrong answers." if excluded_targets == 0
                                                   else "; those count as misses under exclusion."))
            b.add(f"* **[Seen items]({GLOSSARY}#seen-items).** Excluding items already rated ({z}) instead of "
                  f"nothing ({a}) moves {_name(recall_m)} by the most, in absolute terms, for "
                  f"{b.n('exclusion_most', most, text)}: "
                  f"{b.n('exclusion_most_from', float(exclusion.loc[most, col_a]), metric)} → "
                  f"{b.n('exclusion_most_to', float(exclusion.loc[most, col_z]), metric)}; the leader on "
                  f"{_name(recall_m)} without exclusion is "
                  f"{b.n('exclusion_leader_none', str(exclusion[col_a].idxmax()), text)}." + text_targets)
    if order is not None and len(order):
        rows, beyond, ties_only = [], [], []
        for (model, m), r in order.iterrows():
            if not m.startswith("recall@"):
                continue
            verdict = str(r["verdict"]) if "verdict" in r else None
            if verdict is None:  # an older table without the tie-only control: no conclusion about the users' order
                verdict = "undecided" if r["significant"] and r["change"] < 0 else "no loss"
            caveat = ""
            if model == "GRU4Rec" and order_plan is not None and getattr(order_plan, "epochs", 0):
                kept = getattr(order_plan, "saved_best_epoch", None)
                caveat = (f"; both changes compare the saved model (early-stopped on `valid` after "
                          f"{b.n('order_saved_epochs', int(order_plan.saved_epochs), count)} epoch(s)"
                          + (f", keeping epoch {b.n('order_saved_best_epoch', int(kept), count)}" if kept else "")
                          + f") with retrainings of {b.n('order_epochs', int(order_plan.epochs), count)} fixed "
                          "epoch(s) without validation, so they mix in that training difference; the verdict "
                          "compares the two shuffles, trained alike")
            rows.append(f"{model} {b.n(f'order_change/{model}', float(r['change']), pct)} with whole sessions "
                        f"shuffled, {b.n(f'order_tie_change/{model}', float(r.get('tie_change', float('nan'))), pct)} "
                        f"with only tied ratings shuffled (verdict: {b.n(f'order_verdict/{model}', verdict, text)}"
                        f"{caveat})")
            b.keep(f"order_significant/{model}", bool(r["significant"]))
            (beyond if verdict == "beyond ties" else ties_only if verdict == "ties only" else []).append(str(model))
        if beyond:
            # Item-kNN's model ignores order (it counts co-occurrences): it uses order only through which movie is
            # last when it predicts (reader 22: "signal that ... Item-kNN ... use" overstated that)
            learners = [m for m in beyond if m != "Item-kNN"]
            last_only = " through which movie is last when it predicts" if "Item-kNN" in beyond else ""
            users = (f"{_join(learners)} use{'s' if len(learners) == 1 else ''}"
                     + (f", and that Item-kNN uses{last_only}" if last_only else "") if learners
                     else f"Item-kNN uses{last_only}")
            meaning = (f"the users' order carries signal that {users}: "
                       "shuffling whole sessions cost significantly more than shuffling only ratings with the same "
                       "timestamp (whose order is the file's, not the user's)")
        elif ties_only:
            meaning = (f"only the order among tied ratings mattered for {_join(ties_only)}: that order is the file's, "
                       "so this is no evidence that the users' order carries signal")
        else:
            meaning = ("the controls show no measurable use of the users' order by these models: what they use is "
                       "which movies go together")
        if synthetic:
            meaning += " (on synthetic data the order is planted by construction)"
        if "Item-kNN" in order.index.get_level_values("model"):
            meaning += (". Item-kNN's model is the same after shuffling (it counts which movies share a session, "
                        "in any order), so its change comes from the test side alone: it measures whether the "
                        "last movie rated is a better clue to the next one than any movie of the same session")
        b.add(f"* **[Does the order matter?]({GLOSSARY}#order-experiment)** Retrained and re-evaluated with the items "
              f"of every session shuffled (train and test), and, as a control, with only ratings of the same second "
              f"shuffled, {_name(recall_m or 'recall@20')} changes: {'; '.join(rows)} (each verdict is what the "
              "paired intervals allow: *beyond ties* when shuffling whole sessions loses significantly more than "
              "shuffling only the ties). So " + meaning + ".")
    return b.build()


def _untrainable_trials(b: _Builder, facts: Mapping[str, Mapping[str, Any]]) -> None:
    """Trials whose time limit was spent within their first epoch (pruned by it after epoch 1): they could not
    train, yet count in the trial totals; one bullet naming them with their limits (03's stop records)."""
    parts = []
    for name, f in facts.items():
        short = [e for e in f.get("stopped_early") or []
                 if e.get("rule") == "time limit" and int(e.get("epoch", 0)) == 1 and e.get("state", "pruned") == "pruned"]
        if not short:
            continue
        b.keep(f"untrainable/{name}", [int(e["trial"]) for e in short])
        parts.append(f"{name}'s trial" + ("s " if len(short) > 1 else " ") + _join([
            f"{int(e['trial'])}" + (f" ({float(e['limit_seconds']):.1f} s)" if e.get("limit_seconds") is not None else "")
            for e in short]))
    if parts:
        b.add(f"* **Trials that could not train**: {_join(parts)} got a time limit (in brackets) that was spent within "
              "their first epoch, so they were pruned after it: they count in every trial number of the series (here and "
              "in notebooks 05 and 07), although one epoch is too short to judge their configuration (each trial's "
              "stop line in notebook 03 gives its numbers).")


IMPORTANCE_FEW_TRIALS = 20
"""Below this many completed trials, 03's findings call a study's parameter importance noisy."""


def _dominant_bucket(b: _Builder, by_length: pd.DataFrame | None) -> None:
    """The session-length bucket that holds the most predictions, with its share of sessions and predictions: a
    session of n ratings gives n − 1 predictions, so long sessions weigh most in every headline number."""
    if by_length is None or by_length.empty:
        return
    first = by_length[by_length["model"] == by_length["model"].iloc[0]]
    total, sessions = int(first["predictions"].sum()), int(first["sessions"].sum())
    if not total:
        return
    top = first.loc[first["predictions"].idxmax()]
    share = float(top["predictions"]) / total
    weight = ("so every number below is mostly about these sessions" if share > 0.5 else
              "the largest share of any bucket, so these sessions weigh most in every number below")
    b.add(f"* **Which sessions the numbers are about**: a session of n ratings gives n − 1 predictions, so long "
          f"sessions count most. The session-length bucket {b.n('dominant_bucket', str(top['bucket']), text)} holds "
          f"{b.n('dominant_bucket_sessions', int(top['sessions']), count)} of the {count(sessions)} test sessions but "
          f"{b.n('dominant_bucket_predictions', int(top['predictions']), count)} of the {count(total)} predictions "
          f"({b.n('dominant_bucket_share', share, pct)}), {weight} (notebook 05's session-length figure shows every "
          "bucket).")


def _search_effort_line(b: _Builder, effort: Mapping[str, Mapping[str, Any]], models: Sequence[str]) -> None:
    """The bullet of notebook 05 that states the search effort behind each compared configuration."""
    searched = [m for m in models if m in effort]
    if not searched:
        return
    parts = []
    for m in searched:
        f = effort[m]
        part = f"{m} {b.n(f'search_trials/{m}', int(f['n_trials']), count)}"
        extra = []
        if f.get("prior"):
            prior = b.n(f'search_prior/{m}', int(f['prior']['trials']), count)
            ended = prior_ended_text(f["prior"])
            extra.append(f"its defaults are the best of {prior} trials of an earlier search on {f['prior']['split']} "
                         f"(fitted on `train_tr`, scored on `valid`: the test split was not used"
                         + (f"; of those trials {ended}" if ended else "") + "), "
                         "not part of this run (notebook 03 shows its record); this run's trial 0 trained them again and "
                         + ("its other trial tried a new one: " if int(f['n_trials']) == 2 else
                            f"its other {_trials_words(max(int(f['n_trials']) - 1, 0))} tried new ones: ")
                         + f"{prior} + {max(int(f['n_trials']) - 1, 0):,} configurations in all")
        if f.get("prior") and f.get("best_trial") == 0 and f["n_trials"] > 1:
            extra.append("its default configuration kept")
        early = len(f.get("stopped_early") or [])
        if early:
            extra.append(f"{b.n(f'search_stopped_early/{m}', early, count)} stopped early")
        parts.append(part + (f" ({'; '.join(extra)})" if extra else ""))
    line = ("* **Search effort behind these configurations** (notebook 03's searches on `valid`, trials per model): "
            + ", ".join(parts))
    unsearched = [m for m in models if m not in effort]
    if unsearched:
        line += f"; not searched: {_join(unsearched)}"
    equal = b.keep("search_equal", len({int(effort[m]["n_trials"]) for m in searched}) == 1
                   and not any(effort[m].get("prior") for m in searched) and not unsearched)
    line += (". The searches had equal trial counts." if equal else
             ". The searches were unequal, so the ranking above is also one of search effort: a model searched "
             "longer had more chances.")
    notes = search_effort_notes({m: effort[m] for m in searched})
    unsettled = [m for m in searched if (effort[m].get("progress") or {}).get("settled") is False]
    b.keep("search_unsettled", unsettled)
    undetermined = [m for m in searched if m in notes and (effort[m].get("progress") or {}).get("settled") is None
                    and not effort[m]["progress"].get("overran")]
    if undetermined:
        line += (" Too few completed trials to tell whether these searches had settled: "
                 + _join([f"{m} ({effort[m]['progress']['n_complete']})" for m in undetermined]) + ".")
    if notes:
        line += "".join(f" {m}'s search {note}." for m, note in notes.items() if m not in undetermined)
    if unsettled:
        line += (f" {_join(unsettled)} may rank lower here than a settled search would place "
                 f"{'it' if len(unsettled) == 1 else 'them'}.")
    b.add(line)


def recorded_search_effort(split_name: str, sources: Mapping[str, str] | None = None
                           ) -> dict[str, dict[str, Any]] | None:
    """Notebook 03's recorded search facts per model (display name; :func:`tuning_facts`), or None
    without a record. ``sources`` (display name -> where its configuration came from, e.g.
    :func:`sbrlib.tuning.describe_study`'s sentence): only models whose configuration came from that
    search (``"tuned ..."``, ``"single trial ..."``) are kept."""
    rec = _recorded(split_name, "tuning")
    if not rec:
        return None
    searched = dict(rec.get("searched") or {})
    if sources is not None:
        searched = {m: f for m, f in searched.items()
                    if str(sources.get(m, "")).startswith(("tuned", "single trial", _DEFAULTS_KEPT))}
    return searched


# --------------------------------------------------------------------------- run facts shared by 03, 04, 06, 07

STOP_WORDS = {
    "epochs": "it reached its maximum number of epochs",
    "patience": "the validation score had not improved for `patience` epochs (early stopping)",
    "budget": "its time budget ran out",
    "diverged": "its loss diverged (not a number)",
}
"""Why training stopped, in words (keys: the ``stopped_by`` values of the training facts)."""


def config_facts(description: str, trials: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Where a configuration came from, as facts.

    Args:
        description: the sentence of :func:`sbrlib.tuning.resolve_config` (``"tuned: best of 12
            trials ..."``, ``"single trial: one search trial ..."``, ``"default: ..."``,
            ``"preset 'official' ..."``).
        trials: the search's trial counts for that model (``n_trials``, ``n_complete``, ``n_pruned``),
            e.g. from notebook 03's record; None: unknown.

    Returns:
        ``source`` (``"tuned"`` (a search of 2 or more trials found a better configuration than the defaults) |
        ``"defaults-kept"`` (such a search did not beat the defaults) | ``"single-trial"`` | ``"default"`` |
        <preset>), ``description``,
        ``n_trials``, ``n_complete``, ``n_pruned`` (None when unknown or not from a search),
        ``stopped_early`` (the search's trials stopped before their own training ended, as 03 recorded them),
        ``best_is_default`` (a search whose best trial is the model's default configuration). A
        search of one trial is ``"single-trial"`` whatever its description says: one trial is never
        "tuned".
    """
    if description.startswith(_DEFAULTS_KEPT) or "the best is the default configuration, " in description:
        source = "defaults-kept"
    elif description.startswith("tuned"):
        source = "tuned"
    elif description.startswith("single trial"):
        source = "single-trial"
    elif description.startswith(("the preset", "preset")):
        source = description.split("'")[1] if "'" in description else "preset"
    else:
        source = "default"
    t = dict(trials or {}) if source in SEARCHED else {}
    if source in ("tuned", "defaults-kept") and t.get("n_trials") == 1:
        source = "single-trial"
    return {"source": source, "description": description, "n_trials": t.get("n_trials"),
            "n_complete": t.get("n_complete"), "n_pruned": t.get("n_pruned"),
            "stopped_early": list(t.get("stopped_early") or []),
            "capped_improving": t.get("capped_improving"),
            "best_is_default": source == "defaults-kept"}


_DEFAULTS_KEPT = "default configuration kept"  # = sbrlib.tuning.store.DEFAULTS_KEPT (the label's start)
SEARCHED = ("tuned", "defaults-kept", "single-trial")
"""The ``source`` values of :func:`config_facts` for a configuration that came from notebook 03's search."""


def _kept_phrase(description: str) -> str | None:
    """The default configuration named by a label that kept it (``"GRU4RecConfig() (...)"``), else None."""
    if description.startswith(_DEFAULTS_KEPT + ": "):
        return description[len(_DEFAULTS_KEPT) + 2:].partition(" \u2014")[0]
    marker = "the best is the default configuration, "  # the label of earlier records
    if marker in description:
        return description.partition(marker)[2].partition(" \u2014")[0]
    return None


def prior_ended_text(prior: Mapping[str, Any] | None) -> str:
    """How the trials of an earlier search ended (:func:`sbrlib.models.registry.defaults_search`), e.g. ``"15 ran
    to their own end, 32 were stopped early and 2 are not recorded"`` (reader 19: "49 searched configurations"
    overstated a search whose trials were mostly pruned); ``""`` when the record has no counts."""
    p = dict(prior or {})
    if p.get("complete") is None or p.get("trials") is None:
        return ""
    complete, trials = int(p["complete"]), int(p["trials"])
    pruned = int(p.get("pruned") or 0)
    other = trials - complete - pruned
    parts = [f"{complete} ran to their own end"] + ([f"{pruned} were stopped early"] if pruned else []) + (
        [f"{other} are not recorded"] if other > 0 else [])
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _trials_words(n: int | None) -> str:
    return "an unknown number of trials" if n is None else f"{n:,} trial" + ("" if n == 1 else "s")


def config_sentence(name: str, facts: Mapping[str, Any]) -> str:
    """``"GRU4Rec: the best of 20 trials of notebook 03's search on `valid`"``, ``"GRU4Rec: a single
    search trial of notebook 03 ..., not a search result (not tuned)"``, ``"SASRec: its default
    configuration (not tuned)"`` or a preset; a 1-trial search is never called tuned."""
    changed = facts["description"].partition("; changed explicitly: ")[2]
    tail = f", then changed explicitly: {changed}" if changed else ""
    kept = _kept_phrase(facts["description"])
    if kept and facts["source"] in ("tuned", "defaults-kept") and facts.get("n_trials") != 1:  # the search kept the defaults: lead with it
        early = list(facts.get("stopped_early") or [])
        note = ""
        if early:
            from sbrlib.tuning.store import stopped_early_text

            note = f" ({stopped_early_text(early)})"
        return (f"{name}: its default configuration, {kept}, kept: notebook 03's search of "
                f"{_trials_words(facts.get('n_trials'))} on `valid`{note} did not beat it, so the model in use is the "
                f"shipped default{tail}")
    if kept:
        tail = f": its default configuration, {kept}" + tail
    if facts["source"] == "single-trial" or (facts["source"] in ("tuned", "defaults-kept") and facts.get("n_trials") == 1):
        return (f"{name}: a single search trial of notebook 03 on `valid` (a search's first trial evaluates the "
                f"model's default configuration), not a search result and not tuned{tail}")
    if facts["source"] in ("tuned", "defaults-kept"):
        early = list(facts.get("stopped_early") or [])
        if early:
            from sbrlib.tuning.store import stopped_early_text

            tail = f" ({stopped_early_text(early)})" + tail
        return f"{name}: the best of {_trials_words(facts.get('n_trials'))} of notebook 03's search on `valid`{tail}"
    if facts["source"] == "default":
        return f"{name}: its default configuration (not tuned){tail}"
    return f"{name}: the preset `{facts['source']}` (not tuned on this split){tail}"


EXCLUDE_WORDS = {
    "none": "nothing excluded: every item of the training [item index](../docs/GLOSSARY.md#item-index) is ranked",
    "session": "items of the current session are not ranked",
    "user": "items the user rated before are not ranked",
}
"""What each ``exclude_seen`` setting does, in words (keys: :data:`sbrlib.evaluation.evaluator.EXCLUDE_SEEN`)."""


def exclusion_note(validation: Mapping[str, str], test: Mapping[str, str], brief: bool = False) -> str:
    """The Markdown paragraph that states the ``exclude_seen`` setting of validation next to that of
    test, from the configurations actually used, and why they may differ.

    Args:
        validation: what was scored on ``valid`` -> its ``exclude_seen`` (e.g.
            ``{"notebook 03's searches (their objective)": "none"}``); read from the EvalConfig /
            TrainingConfig / study identity that ran.
        test: what is (or will be) scored on ``test`` -> its ``exclude_seen``.
        brief: when the settings differ, point to notebook 03 and the glossary for why instead of
            repeating it (notebooks after 03).

    Returns:
        One paragraph; it says "the same setting" when all settings agree, else why they differ.

    Raises:
        ValueError: an unknown setting (names the entry).
    """
    for what, setting in {**validation, **test}.items():
        if setting not in EXCLUDE_WORDS:
            raise ValueError(f"exclusion_note: {what!r} has exclude_seen={setting!r}; expected one of "
                             f"{', '.join(EXCLUDE_WORDS)}")

    def listed(settings: Mapping[str, str]) -> str:
        by_setting: dict[str, list[str]] = {}
        for what, setting in settings.items():
            by_setting.setdefault(setting, []).append(what)
        return "; ".join(f"{_join(whats)}: `exclude_seen=\"{setting}\"` ({EXCLUDE_WORDS[setting]})"
                         for setting, whats in by_setting.items())

    head = (f"**[Seen items]({GLOSSARY}#exclude_seen) on `valid` and `test`.** Validation — "
            f"{listed(validation) if validation else 'no setting recorded'}. Test — "
            f"{listed(test) if test else 'no setting recorded'}.")
    if len(set(validation.values()) | set(test.values())) <= 1:
        return head + " Validation and test use the same setting."
    text = head
    if len(set(validation.values())) > 1:
        text += (" Validation here used more than one setting, so validation scores of models validated under "
                 "different settings (and the epochs they chose) are not on one scale: compare them only within a "
                 "setting.")
    if set(validation.values()) != set(test.values()) and brief:
        text += (f" Validation and test differ on purpose: notebook 03 and the [glossary]({GLOSSARY}#exclude_seen) "
                 "say why, and why numbers under different settings are not on one scale.")
    elif set(validation.values()) != set(test.values()):
        why = []
        if "none" in validation.values() and "none" not in test.values():
            why.append("`\"none\"` on `valid` is the selection objective of the stored searches (and of the searches "
                       "behind the models' default configurations), kept so that every configuration and epoch is "
                       "judged by the objective they were made with")
        why.append("the test setting is the policy of the task (on MovieLens a user rates a movie once)")
        text += (" Validation and test differ on purpose: " + "; ".join(why) + ". Excluding only removes items from "
                 "a ranking: a target moves up, or becomes a miss if the user had rated it before, so numbers under "
                 "different settings are not on one scale, and a configuration chosen under one setting need not be "
                 "the best under the other (not measured in this series).")
    return text


def validation_exclusion(study_facts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{"<model>'s search": exclude_seen}`` (notebook 03's objective) from recorded study facts
    (:func:`sbrlib.tuning.study_facts`, whose ``objective`` holds the setting); models whose facts
    do not record it are left out."""
    from sbrlib.models import registry

    out = {}
    for name, facts in study_facts.items():
        setting = (dict(facts or {}).get("objective") or {}).get("exclude_seen")
        if name in registry.REGISTRY:  # a key such as "gru4rec": its display name
            name = registry.display_name(name)
        if setting is not None:
            out[f"{name}'s search"] = str(setting)
    return out


def main_table_exclusion_default() -> str | None:
    """Notebook 05's default ``EXCLUDE_SEEN`` (its main table's setting), read from its
    ``parameters`` cell; None when the notebook is not found next to the library."""
    from pathlib import Path

    from sbrlib.notebook.params import declared_parameters

    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "05_evaluation.ipynb"
    if not notebook.is_file():
        return None
    value = declared_parameters(notebook).get("EXCLUDE_SEEN")
    return None if value is None else str(value)


def planned_test_exclusion() -> dict[str, str]:
    """``{"notebook 05's main table (its default `EXCLUDE_SEEN`)": setting}`` for notebooks that
    validate before anything is tested (03, 04); empty when notebook 05 is not found."""
    setting = main_table_exclusion_default()
    return {} if setting is None else {"notebook 05's main table (its default `EXCLUDE_SEEN`)": setting}


def recorded_validation_exclusion(split_name: str, models: Sequence[str] | None = None) -> dict[str, str]:
    """The ``exclude_seen`` settings used on ``valid`` for ``split_name`` as notebooks 03 and 04
    recorded them: each search's objective and GRU4Rec's early stopping (empty without records);
    only those of ``models`` (display names) when given."""
    out = validation_exclusion(dict((_recorded(split_name, "tuning") or {}).get("facts") or {}))
    trained = (_recorded(split_name, "gru4rec_training") or {}).get("validation_exclude_seen")
    if trained is not None:
        out["GRU4Rec's early stopping (notebook 04)"] = str(trained)
    if models is not None:
        out = {what: setting for what, setting in out.items() if what.split("'s ")[0] in set(models)}
    return out


def training_sentence(name: str, facts: Mapping[str, Any]) -> str:
    """One sentence: epochs run, best epoch by the metric that chose the model, why it stopped,
    whether it was still improving."""
    stop = STOP_WORDS.get(facts["stopped_by"], str(facts["stopped_by"]))
    if facts["stopped_by"] == "budget" and facts.get("budget_seconds"):
        stop += f" ({facts['budget_seconds']:,.0f} s)"
    if facts["stopped_by"] == "patience" and facts.get("patience") is not None:
        stop = f"the validation score had not improved for {facts['patience']} epoch(s) (early stopping)"
    improving = ("it was **still improving** at its last epoch, so more training may help it"
                 if facts["still_improving"] else "its best epoch was before the last")
    return (f"{name} ran {facts['epochs_run']:,} of at most {facts['max_epochs']:,} epochs; the best epoch by "
            f"{_name(facts['metric'])} on `valid` was {facts['best_epoch']:,}; training stopped because {stop}; "
            f"{improving}.")


def fairness_problems(config: Mapping[str, Mapping[str, Any]], training: Mapping[str, Mapping[str, Any]],
                      data: Mapping[str, str] | None = None) -> list[str]:
    """Reasons a comparison of these models is not a fair contest (empty: none found).

    Args:
        config: model -> :func:`config_facts` (models without one, e.g. untuned baselines, may be left out).
        training: model -> training facts (neural models).
        data: model -> the frame it was fitted on (``"train"``, ``"train_tr"``).
    """
    problems = []
    tuned = {m: f for m, f in config.items()}
    kinds = {m: "searched" if f["source"] in ("tuned", "defaults-kept") else f["source"] for m, f in tuned.items()}
    if len(set(kinds.values())) > 1:
        problems.append("not all models were configured the same way ("
                        + ", ".join(f"{m}: {k}" for m, k in kinds.items()) + ")")
    counts = {m: f.get("n_trials") for m, f in tuned.items() if f["source"] in SEARCHED}
    if len(set(counts.values())) > 1:
        problems.append("the searches had unequal trial counts ("
                        + ", ".join(f"{m}: {_trials_words(n)}" for m, n in counts.items()) + ")")
    for m, f in training.items():
        if f["still_improving"] and f["stopped_by"] in ("budget", "epochs"):
            problems.append(f"{m} was stopped by its {'time budget' if f['stopped_by'] == 'budget' else 'epoch cap'} "
                            "while still improving")
    if data and len(set(data.values())) > 1:
        problems.append("the models were fitted on different data ("
                        + ", ".join(f"{m}: `{d}`" for m, d in data.items()) + ")")
    return problems


# --------------------------------------------------------------------------- 00 what went wrong


def _faster(b: _Builder, key: str, slow_seconds: float, fast_seconds: float) -> str:
    """``"20× faster"``, or ``"2.5× slower"`` when the fix took longer on this run."""
    from sbrlib.notebook.pitfalls import _ratio

    b.keep(f"{key}_is_faster", bool(fast_seconds <= slow_seconds))
    if fast_seconds <= slow_seconds:
        return f"{b.n(key, _ratio(slow_seconds, fast_seconds), text)} faster"
    return (f"{b.n(key, _ratio(fast_seconds, slow_seconds), text)} slower on this run (on data this small the fixed "
            "version's fixed costs dominate)")


def _idx_loader_sentence(b: _Builder, lo: Mapping) -> str:
    """The original iterator with the offsets corrected: whether it still skips pairs (a second fault)."""
    pairs, expected = int(lo["pairs"]), int(lo["expected_pairs"])
    if not lo["hit_cap"] and pairs < expected:
        return (f" Even with the offsets corrected (`idx`), the original iterator produced only "
                f"{b.n('idx_loader_pairs', pairs, count)} of the {count(expected)} pairs in "
                f"{b.n('idx_loader_steps', int(lo['steps']), count)} steps, skipping "
                f"{b.n('idx_loader_skipped_share', 1 - pairs / expected, lambda v: f'{v:.1%}')} of the data: its epoch "
                "ends as soon as the last session has entered a slot, dropping what the slots still hold (a second "
                "fault of the same loader, also fixed by sbrlib's schedule).")
    b.keep("idx_loader_pairs", pairs)
    return ""


def what_went_wrong(m: Any) -> Findings:
    """Findings of notebook 00: one line per fault of the original notebook, from the measured
    values of :mod:`sbrlib.notebook.pitfalls` (a :class:`~sbrlib.notebook.pitfalls.Measured`, or notebook 00's
    ``MEASURED`` dict keyed by the pitfalls labels)."""
    from sbrlib.notebook.pitfalls import (
        Measured,
        _bytes,
        _duration,
        _users,
        index_bytes_text,
        onehot_bytes_text,
        rating_comment_text,
        share_text,
        split_period_text,
        three_digits,
    )

    b = _Builder()
    r = m if isinstance(m, Measured) else Measured.from_record(m)  # each measurement by its name
    unfiltered = m.get("sessions_unfiltered") if isinstance(m, Mapping) else None
    m = {"synthetic": r.synthetic, "dataset": r.dataset, "batch_size": r.batch_size,
         "sessions_unfiltered": unfiltered}
    _synthetic_note(b, bool(m.get("synthetic")))
    t_row, t_real, t_fix = r.split_row_time, r.split_real_time, r.split_fixed
    lo_bad, lo_fix = r.loader_shifted, r.loader_fixed
    un = r.unseen
    slow, fast = r.speed_onehot, r.speed_compiled
    rk = r.ranking
    slow10k, fast10k = r.argsort_seconds_per_10k, r.vectorized_seconds_per_10k
    rf = r.rating_filter
    s_user, s_gap = r.sessions_user, r.sessions_gap
    share = lambda v: f"{v:.1%}"  # noqa: E731 - one format for every share of pairs
    b.add(f"Measured on {b.n('dataset', m.get('dataset', 'this data'), text)} with batch size "
          f"{b.n('batch_size', int(m['batch_size']), count)}.")
    b.add(f"* **Row-index time** dated every event between {b.n('row_first', t_row['first_shown'], text)} and "
          f"{b.n('row_last', t_row['last_shown'], text)}. {split_period_text(r.split_days)[0].upper()}"
          f"{split_period_text(r.split_days)[1:]} put the "
          f"{b.n('row_test_users', _users(t_row['test_users']), text)} at the end of the table (ids "
          f"{t_row['test_user_ids'][0]}–{t_row['test_user_ids'][1]}) in test, and a test history ends before a "
          f"training one in {b.n('row_test_ends_first', t_row['test_ends_first'], share)} of (test, training) pairs, "
          f"where a split at a real-time cutoff has 0.0% (before anything is removed after it) and a random choice "
          f"of users about 50%. With real time the same rule gives "
          f"{b.n('real_test_ends_first', t_real['test_ends_first'], share)}"
          + (f", and its period, the last "
             f"{b.n('split_hours', float(r.split_days or 1.0) * 24, lambda v: f'{v:.1f}')} hours of real time (as long "
             f"as the row-index period), holds out {b.n('real_test_users', int(t_real['test_users']), count)} test and "
             f"{b.n('real_valid_users', int(t_real['valid_users']), count)} valid users of "
             f"{count(sum(int(t_real[k]) for k in ('train_users', 'valid_users', 'test_users')))}"
             if all(k in t_real for k in ("train_users", "valid_users", "test_users")) else "")
          + f"; sbrlib's real-time cutoff gives "
          f"{b.n('fixed_test_ends_first', t_fix['test_ends_first'], share)}"
          + (" (above 0 only because held-out events with unseen items are removed after the split)."
             if t_fix["test_ends_first"] > 0 else "."))
    epoch = (f"had not ended after {b.n('loader_steps', int(lo_bad['steps']), count)} steps (the cap)"
             if b.keep("loader_hit_cap", bool(lo_bad["hit_cap"])) else
             f"ended after {b.n('loader_steps', int(lo_bad['steps']), count)} steps")
    b.add(f"* **The loader with `idx - 1` offsets** {epoch}, where the correct schedule needs "
          f"{b.n('schedule_steps', int(lo_fix['steps']), count)}. "
          f"{b.n('crossing_pairs', int(lo_bad['crossing_pairs']), count)} of its "
          f"{b.n('loader_pairs', int(lo_bad['pairs']), count)} pairs joined two users' histories and "
          f"{b.n('wrapped_pairs', int(lo_bad['wrapped_pairs']), count)} were read backwards from the end of the data; "
          f"sbrlib's schedule has {b.n('schedule_crossing_pairs', int(lo_fix['crossing_pairs']), count)} crossing "
          f"pairs and produces each of the {b.n('expected_pairs', int(lo_fix['expected_pairs']), count)} pairs once."
          + _idx_loader_sentence(b, r.loader_original))
    if un["test_hit"] or un["valid_hit"]:
        unseen = (f"turned {b.n('unseen_test_hit', int(un['test_hit']), count)} of {count(un['test_events'])} test "
                  f"events and {b.n('unseen_valid_hit', int(un['valid_hit']), count)} of {count(un['valid_events'])} "
                  "validation events into item n-1 without an error")
    else:
        b.keep("unseen_test_hit", 0)
        unseen = ("hit no held-out event on this data (every held-out item also occurs in training), so it costs "
                  "nothing here; on other data it would silently turn each unseen item into item n-1")
    b.add(f"* **The -1 mapping** {unseen}. SR's Recall@20 was "
          f"{b.n('unseen_faulty_recall', float(un['faulty']['recall@20']), metric)} with the alias (each unseen item read as item n-1) and "
          f"{b.n('unseen_fixed_recall', float(un['fixed']['recall@20']), metric)} with unseen items removed.")
    b.keep("speed_items", r.speed_items)
    b.add(f"* **One-hot input with per-step numpy resets** fed "
          f"{b.n('onehot_bytes', float(slow['input_bytes_per_step']), _bytes)} per step ("
          f"{onehot_bytes_text(int(slow['input_bytes_per_step']), int(slow.get('batch_size', r.batch_size)), r.speed_items)}) and took "
          f"{b.n('onehot_ms_per_step', slow['seconds_per_step'] * 1e3, lambda v: three_digits(v, 'ms'))} per step; sbrlib's "
          f"compiled GRU4Rec with the same GRU and full softmax took "
          f"{b.n('compiled_ms_per_step', fast['seconds_per_step'] * 1e3, lambda v: three_digits(v, 'ms'))}, "
          f"{_faster(b, 'speedup_training', slow['seconds_per_step'], fast['seconds_per_step'])}, from "
          f"{b.n('index_bytes', float(fast['input_bytes_per_step']), _bytes)} per step ("
          f"{index_bytes_text(int(fast['input_bytes_per_step']), int(fast.get('batch_size', r.batch_size)))}).")
    b.add(f"* **Per-event argsort evaluation** needed {b.n('argsort_s_per_10k', float(slow10k), lambda v: three_digits(v, 's'))} "
          f"per 10k predictions, the vectorized evaluator {b.n('evaluator_s_per_10k', float(fast10k), lambda v: three_digits(v, 's'))} "
          f"({_faster(b, 'speedup_evaluation', slow10k, fast10k)}), with the same ranks on all "
          f"{b.n('untied_predictions', int(rk['untied']), count)} predictions without ties"
          + (f" (the comparison ran on the first whole test sessions: "
             f"{b.n('ranking_predictions', int(rk['predictions']), count)} predictions, "
             + ("as many as fit in" if int(rk["predictions"]) <= int(cap) else "one session, longer than")
             + f" `ARGSORT_PREDICTIONS` = {b.n('ranking_max_predictions', int(cap), count)}, since a session is "
             "never cut)."
             if (cap := rk.get("max_predictions")) is not None else "."))
    b.add(f"* **Undiscussed choices**: `Rating >= 3` dropped {b.n('rating_dropped', int(rf['dropped']), count)} of "
          f"{b.n('ratings', int(rf['ratings']), count)} ratings ({b.n('rating_dropped_share', float(rf['dropped_share']), share_text)}) "
          f"on {text(m.get('dataset', 'this data'))} ({rating_comment_text()}). "
          f"A user's history as one session gave {b.n('user_sessions', int(s_user['sessions']), count)} 'sessions' "
          f"with a median of {b.n('user_median_length', float(s_user['median_length']), lambda v: f'{v:,.0f}')} events "
          f"over {b.n('user_median_span', _duration(s_user['median_days']), text)}"
          + (f", and {b.n('user_longer_than_a_day', float(share), share_text)} of them span more than a day"
             if (share := s_user.get("share_longer_than_a_day")) is not None else "")
          + "; inactivity gaps give "
          f"{b.n('gap_sessions', int(s_gap['sessions']), count)} sessions with a median of "
          f"{b.n('gap_median_length', float(s_gap['median_length']), lambda v: f'{v:,.0f}')} events"
          + (f" (both counted after notebook 02's filters, which drop rare items and sessions of one event; before "
             f"them, as notebook 01 counts, gaps give {b.n('gap_sessions_unfiltered', int(raw['sessions']), count)} "
             f"sessions with a median of "
             f"{b.n('gap_median_length_unfiltered', float(raw['median_length']), lambda v: f'{v:,.0f}')} events)."
             if (raw := m.get("sessions_unfiltered")) else "."))
    b.add("Timings are from this run on this machine; compare them within the run only.")
    return b.build()


# --------------------------------------------------------------------------- 03 tuning


def tuning_facts(best: pd.DataFrame, metric: str, budget_minutes: float | None, max_trials: int | None,
                 studies: Mapping[str, Any] | None = None) -> dict:
    """Per model (display name): ``n_trials, n_complete, n_pruned, best_valid, ended_by``
    (``"trial cap"`` | ``"time budget"`` | ``"round cannot start"``, with ``search_end``: the shared rounds of
    GRU4Rec and SASRec ended when the time left could not hold one epoch of each) from :func:`sbrlib.tuning.analysis.best_table`; with
    ``studies`` (model key -> Optuna study) also ``capped_improving`` (complete trials stopped by their
    epoch cap while still improving), ``prior`` (the search behind the model's defaults, which a
    search starts from: :func:`sbrlib.models.registry.defaults_search`), ``best_trial``,
    ``stopped_early`` (:func:`sbrlib.tuning.study_facts`) and ``progress``
    (:func:`sbrlib.tuning.analysis.search_progress`: whether the search had settled, its time used)."""
    from sbrlib.models import registry
    from sbrlib.tuning import analysis as tuning_analysis
    from sbrlib.tuning import store as tuning_store

    by_name = {registry.display_name(k): s for k, s in (studies or {}).items()}
    out = {}
    for name, row in best.iterrows():
        n = int(row["trials"])
        ended = "trial cap" if max_trials is not None and n >= max_trials else (  # without a study; with one,
            "time budget" if budget_minutes is not None else "trial cap")  # its recorded budget_ended_by below
        value = row.get(f"valid {metric}")
        out[str(name)] = {"n_trials": n, "n_complete": int(row["complete"]), "n_pruned": int(row["pruned"]),
                          "best_valid": None if value is None or pd.isna(value) else float(value), "ended_by": ended}
        study = by_name.get(str(name))
        if study is not None:
            runs = [t.user_attrs.get("training") or {} for t in study.get_trials(deepcopy=False)]
            out[str(name)]["capped_improving"] = sum(r.get("stopped_by") == "epochs" and bool(r.get("still_improving"))
                                                     for r in runs)
            out[str(name)]["prior"] = registry.defaults_search(str(name))
            if not hasattr(study, "study_name"):  # not an Optuna study (a stand-in with trials only)
                continue
            first = study.get_trials(deepcopy=False)[:1]
            if first and first[0].value is not None:  # trial 0: the default configuration, trained in this run
                out[str(name)]["trial0"] = {"value": float(first[0].value), "state": first[0].state.name.lower(),
                                            "best_epoch": first[0].user_attrs.get("best_epoch"),
                                            "epochs_run": len(first[0].user_attrs.get("curve") or []) or None}
            facts = tuning_store.study_facts(study)
            if facts.get("budget_ended_by"):  # the study's own record of which limit ended it (one rule: store)
                out[str(name)]["ended_by"] = facts["budget_ended_by"]
            out[str(name)]["best_trial"] = facts["best_trial"]
            out[str(name)]["stopped_early"] = facts["stopped_early"]
            out[str(name)]["progress"] = tuning_analysis.search_progress(study)
            end = study.user_attrs.get("search_end")
            if end:  # the shared rounds ended with a little time left that could not hold one more round
                out[str(name)]["search_end"] = {k: end[k] for k in ("rounds", "left_seconds", "needed_seconds")}
    return out


def _earlier_against_trial0(b: _Builder, facts: Mapping[str, Mapping[str, Any]], metric_name: str) -> None:
    """03's bullet comparing each earlier search's recorded best (the model's defaults) with this run's trial 0,
    the same configuration trained again (reader 12: "re-ran it" while the numbers differ)."""
    rows = {n: f for n, f in facts.items() if (f.get("prior") or {}).get("best_value") is not None and f.get("trial0")
            and str((f.get("prior") or {}).get("metric", metric_name)) == metric_name}
    if not rows:
        return
    parts = []
    for name, f in rows.items():
        prior, t0 = f["prior"], f["trial0"]
        epoch = (f", epoch {prior['best_epoch']} of up to {prior['epochs_per_trial']}"
                 if prior.get("best_epoch") is not None and prior.get("epochs_per_trial") else "")
        here = f", epoch {t0['best_epoch']}" if t0.get("best_epoch") is not None else ""
        if t0.get("epochs_run"):
            here += f" of the {t0['epochs_run']} it ran ({t0['state']})"
        parts.append(f"{name} {b.n(f'prior_best/{name}', float(prior['best_value']), metric)} recorded{epoch}, "
                     f"{b.n(f'trial0_value/{name}', float(t0['value']), metric)} here{here}")
    recorded = {str(f["prior"].get("recorded")) for f in rows.values() if f["prior"].get("recorded")}
    when = (f" with the sbrlib of their time (their results were stored in {_join(sorted(recorded))})"
            if recorded else "")
    b.add(f"* **The earlier searches against this run's trial 0** ({_name(metric_name)} on `valid`, the same "
          f"configuration): {'; '.join(parts)}. The earlier searches ran{when}, with their own epoch caps; the "
          "library has changed since, and a training's score also moves with its seed and epoch budget, so a "
          "recorded value is not reproduced exactly here: the table of earlier searches is their record, and trial 0 "
          "is what this run measured.")


def search_effort_notes(facts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Per model (display name) of :func:`tuning_facts` with ``progress``: what to say about how far its
    search went, e.g. ``"had not settled: its best so far last rose at trial 12, the 13th of 13 trials"``,
    ``"too few completed trials (1) to tell whether it had settled"``, plus ``"; it used 0.60 min of its
    0.50 min budget"`` when it overran; models that settled within budget get no note."""
    out = {}
    for name, f in facts.items():
        p = f.get("progress")
        if not p or f["n_trials"] < 2:
            continue
        parts = []
        if p["settled"] is False:
            parts.append(f"had **not settled**: its best so far last rose at trial {p['last_rise_trial']}, "
                         f"the {_ordinal(p['last_rise_position'])} of {p['n_trials']} trials")
        elif p["settled"] is None:
            parts.append(f"had too few completed trials ({p['n_complete']}) to tell whether it had settled")
        if p.get("overran"):
            parts.append(f"it used {p['used_minutes']:.2f} min of its {p['budget_minutes']:.2f} min budget (a "
                         "baseline trial is not stopped once started)")
        if parts:
            out[str(name)] = "; ".join(parts)
    return out


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def tuning(facts: Mapping[str, Mapping[str, Any]], metric_name: str, budget_minutes: float | None,
           max_trials: int | None, importances: Mapping[str, pd.Series] | None = None,
           synthetic: bool = False) -> Findings:
    """Findings of notebook 03.

    Args:
        facts: :func:`tuning_facts`.
        metric_name: the objective on ``valid``.
        budget_minutes, max_trials: the search's limits.
        importances: model -> parameter importance (share), optional.
        synthetic: the data are synthetic.
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    limits = (f"at most {count(max_trials)} new trials per model" if max_trials is not None else "no trial cap") + (
        f" and {budget_minutes:g} minutes in all" if budget_minutes is not None else " and no time budget")
    b.add(f"Each model was searched on `train_tr`/`valid` ({limits}); the objective is {_name(metric_name)} on `valid`.")
    for name, f in facts.items():
        line = (f"* **{name}**: {b.n(f'trials/{name}', f['n_trials'], count)} trial(s), "
                f"{b.n(f'complete/{name}', f['n_complete'], count)} complete and "
                f"{b.n(f'pruned/{name}', f['n_pruned'], count)} pruned")
        if f["best_valid"] is not None:
            line += f"; best validation {_name(metric_name)} {b.n(f'best_valid/{name}', f['best_valid'], metric)}"
        b.keep(f"ended_by/{name}", f["ended_by"])
        end = f.get("search_end")
        if f["ended_by"] == "round cannot start" and end:
            line += (f"; the search ended after round {b.n(f'rounds/{name}', int(end['rounds']), count)} of the shared "
                     f"search, when the {b.n(f'left_seconds/{name}', float(end['left_seconds']), lambda v: f'{v:.1f} s')}"
                     f" left could not hold one epoch of each neural model "
                     f"({b.n(f'needed_seconds/{name}', float(end['needed_seconds']), lambda v: f'{v:.1f} s')})")
        else:
            line += ("; the search ended at its trial cap" if f["ended_by"] == "trial cap" else
                     "; the search ended when the time budget was spent")
        if f["n_trials"] == 1:
            line += (" (a single search trial: a search's first trial evaluates the model's default configuration, "
                     "so this is **not** a search result and the model is not tuned)")
        if f.get("capped_improving"):
            line += (f"; {b.n(f'capped_improving/{name}', f['capped_improving'], count)} of its complete trials "
                     "reached the epoch cap (`EPOCHS`) while still improving, so more epochs might have scored higher")
        early = f.get("stopped_early") or []
        if early:
            from sbrlib.tuning.store import kept_cut_text, stopped_early_text

            cut = kept_cut_text(early)
            line += (f"; {b.n(f'stopped_early/{name}', len(early), count)} of its trials "
                     f"{'was stopped before its' if len(early) == 1 else 'were stopped before their'} own training ended ("
                     + stopped_early_text(early).split(" stopped early", 1)[1].lstrip(": ").lstrip()
                     + (f"; {cut}: a search's first trial is not pruned, so it counts as complete "
                        "although its own training did not end" if cut else "")
                     + "; each trial's rule and numbers are in notebook 03's stop lines, printed after its searches)")
        if f.get("prior"):
            line += (f"; the search started from the model's default configuration, itself the best of "
                     f"{b.n(f'prior_trials/{name}', int(f['prior']['trials']), count)} trials of an earlier search on "
                     f"{f['prior']['split']} (not part of this run: its record is in notebook 03's table of earlier searches; "
                     + (f"of those trials {ended}; " if (ended := prior_ended_text(f["prior"])) else "")
                     + "its trial 0 trained that configuration again)")
            if f.get("best_trial") == 0 and f["n_trials"] > 1:
                b.keep(f"best_is_default/{name}", True)
                line += (", and no trial of this run beat it: the model in use is that shipped default "
                         "configuration")
        note = search_effort_notes({name: f}).get(name)
        if note:
            b.keep(f"settled/{name}", f["progress"]["settled"])
            b.keep(f"overran/{name}", f["progress"]["overran"])
            line += f"; the search {note}"
        imp = (importances or {}).get(name)
        if imp is not None and len(imp):
            top = ", ".join(f"`{k}` ({v:.0%})" for k, v in imp.head(3).items())
            n_done = b.n(f"importance_trials/{name}", int(f["n_complete"]), count)
            noisy = b.keep(f"importance_noisy/{name}", int(f["n_complete"]) < IMPORTANCE_FEW_TRIALS)
            line += (f"; most of the variation across its {n_done} complete trials is explained by {top} "
                     f"([importance]({GLOSSARY}#hyperparameter-importance)"
                     + (f": with fewer than {IMPORTANCE_FEW_TRIALS} complete trials it is noisy, so read it as a hint, "
                        "not a measurement)" if noisy else ")"))
        elif importances is not None and f["n_trials"] > 1:
            line += (f"; with {b.n(f'importance_trials/{name}', int(f['n_complete']), count)} complete trial"
                     f"{'' if int(f['n_complete']) == 1 else 's'} this search cannot say which parameters matter "
                     "for it (no [importance](" + GLOSSARY + "#hyperparameter-importance) could be computed): that "
                     "takes a longer search (`make tune`, README.md section Tuning)")
        head, _, rest = line.partition("; ")  # "* **GRU4Rec**: 3 trial(s), ..." then one sentence per clause
        b.add(head + (". " + core_text.sentences(rest[:1].upper() + rest[1:]) if rest else "") + ".")
    scored = {n: f for n, f in facts.items() if f["best_valid"] is not None}
    counts = {f["n_trials"] for f in scored.values()}
    if len(scored) > 1:
        top = max(scored, key=lambda n: scored[n]["best_valid"])
        if b.keep("equal_trials", len(counts) == 1):
            b.add(f"* With equal trial counts, **{b.n('best_model', top, text)}** has the highest validation "
                  f"{_name(metric_name)}; notebook 05 compares the models on `test` with intervals.")
        else:
            b.add("* The searches had **unequal trial counts** ("
                  + ", ".join(f"{n}: {f['n_trials']:,}" + (f" (its defaults: the best of {f['prior']['trials']} earlier trials, not part of this run; its trial 0 trained them again)"
                                                          if f.get("prior") else "") for n, f in scored.items())
                  + "), so their best validation scores are not a ranking of the models: a model searched longer "
                  "had more chances. Notebook 05 compares them on `test` with intervals.")
    _earlier_against_trial0(b, facts, metric_name)
    _untrainable_trials(b, facts)
    unsettled = [n for n, f in facts.items() if (f.get("progress") or {}).get("settled") is False]
    if unsettled:
        b.keep("unsettled", unsettled)
        b.add(f"* **Not settled**: {_join(unsettled)}'s best validation value was still rising in the last "
              "quarter of its trials, so a longer search might have found a better configuration; its scores here "
              "and in notebook 05 may understate the model.")
    b.add("* Seed noise (how much the score moves when only the random seed changes) was not measured here; "
          "differences between trials smaller than that noise are not evidence.")
    return b.build()


# --------------------------------------------------------------------------- 04 training


def training(facts: Mapping[str, Any], config: Mapping[str, Any], refit: bool, refit_epochs: int | None,
             events_per_second: float, valid: Mapping[str, float], n_train_tr: int, n_train: int,
             synthetic: bool = False, reused: bool | None = None) -> Findings:
    """Findings of notebook 04.

    Args:
        facts: the training facts (``TrainingFacts.to_dict()`` of :func:`sbrlib.training.fit`, ``provenance["training"]``).
        config: :func:`config_facts` of the configuration trained.
        refit: whether the saved model was retrained on ``train``.
        refit_epochs: epochs of that refit.
        events_per_second: median training speed.
        valid: validation metrics of the best epoch (``recall@20``, ``mrr@20``).
        n_train_tr, n_train: events of the two training frames.
        synthetic: the data are synthetic.
        reused: True when notebook 03's best trial was reused as trained (nothing trained in 04),
            False when the model was trained in notebook 04 (None: not recorded; the text then
            says neither).
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    b.keep("reused_trial", reused)
    where = {True: " (done in notebook 03's search trial, reused here as trained: nothing was trained in this notebook)",
             False: " (done in this notebook)", None: ""}[reused]
    b.keep("config_source", config["source"])
    b.keep("n_trials", config.get("n_trials"))
    b.add(f"* **Configuration.** {config_sentence('GRU4Rec', config)}.")
    b.keep("stopped_by", facts["stopped_by"])
    b.keep("still_improving", facts["still_improving"])
    b.add(f"* **Training**{where}. On `train_tr` ({b.n('train_tr_events', n_train_tr, count)} events), "
          f"{b.n('epochs_run', facts['epochs_run'], count)} of at most {b.n('max_epochs', facts['max_epochs'], count)} "
          f"epochs ran; the best epoch by {_name(facts['metric'])} on `valid` (the metric that chose the model) was "
          f"epoch {b.n('best_epoch', facts['best_epoch'], count)} with {b.n('best_score', facts['best_score'], metric)} "
          f"(Recall@20 {b.n('valid_recall', float(valid['recall@20']), metric)}, MRR@20 "
          f"{b.n('valid_mrr', float(valid['mrr@20']), metric)}). Training stopped because "
          f"{STOP_WORDS.get(facts['stopped_by'], facts['stopped_by'])}"
          + ("; it was **still improving** at its last epoch, so more epochs may help." if facts["still_improving"]
             else "; its best epoch was before the last (validation had stopped improving by the rule above; "
                  "whether many more epochs could still help is not measured).")
          + (f" The weights kept are those of epoch {b.n('kept_epoch', facts['best_epoch'], count)} (the best)."
             if facts.get("patience") is not None else
             f" Without early stopping (`EARLY_STOPPING_PATIENCE=None`) the weights kept are those of the last epoch, "
             f"{b.n('kept_epoch', facts['epochs_run'], count)}.")
          + _budget_sentence(b, facts, reused))
    b.add(f"* **Speed.** {b.n('events_per_second', events_per_second, lambda v: f'{v:,.0f}')} training pairs per "
          "second (an event and the next one of its session: the training record's `events_per_second`; median over "
          "epochs, on this machine in this run).")
    b.keep("refit", bool(refit))
    if refit:
        b.add(f"* **Saved model.** Retrained on the whole training split `train` "
              f"({b.n('train_events', n_train, count)} events) for {b.n('refit_epochs', int(refit_epochs), count)} "
              "epochs; notebook 05 evaluates that refitted model.")
    else:
        origin = {True: "notebook 03's best trial, reused as trained (its split, frame, configuration and epochs "
                        "match this notebook's: its saved provenance was checked)",
                  False: "the model trained in this notebook",
                  None: "the model above"}[reused]
        held = n_train - n_train_tr
        b.add(f"* **Saved model.** {origin[0].upper()}{origin[1:]}, trained on `train_tr` only, with the weights of "
              f"epoch {count(b.numbers['kept_epoch'])}; it was not retrained on `train` (`REFIT=False`), so it has not "
              f"learned from the {b.n('valid_events', held, count)} events of `train` that `train_tr` leaves out "
              f"({b.n('valid_share', held / max(n_train, 1), pct)} of `train`: the `valid` period, the latest before "
              "the test period). `REFIT=True` retrains on `train` (a second training, its cost printed before it runs); "
              "whether that helps on `test` is not measured in this run.")
    return b.build()


def _budget_sentence(b: _Builder, facts: Mapping[str, Any], reused: bool | None) -> str:
    """The time limit a training ran under (``budget_seconds`` of its facts), or ``""`` without one."""
    limit = facts.get("budget_seconds")
    if limit is None:
        b.keep("budget_seconds", None)
        return ""
    whose = (" (`budget_seconds`: this trial's share of notebook 03's search time (see 03's stop rules); training "
             "stops after the epoch in which the limit is spent)" if reused else
             " (`budget_seconds`: training stops after the epoch in which the limit is spent)")
    used = ("; the limit was reached, which stopped training" if facts["stopped_by"] == "budget" else
            "; the limit was not reached" if float(facts["seconds"]) < float(limit) else
            "; the limit was spent in the last epoch, which ended training for the reason above anyway")
    overhead = (" (notebook 03 counts a trial's time from its start to its end, so its figure for this trial also "
                "holds building the model before the training loop and saving it after; the limit covers the loop)"
                if reused else "")
    return (f" It ran under a time limit of {b.n('budget_seconds', float(limit), lambda v: f'{v:,.1f} s')}{whose} and "
            f"its training loop took {b.n('training_seconds', float(facts['seconds']), lambda v: f'{v:,.1f} s')}"
            f"{used}{overhead}.")


# --------------------------------------------------------------------------- 06 try it


def try_it(session: Sequence[int], later: Sequence[int] | None, lists: Mapping[str, Sequence[int]],
           fallback: Sequence[str], overlaps: Mapping[str, float], memory: Mapping[str, float],
           fitted_on: Mapping[str, str], configs: Mapping[str, str], k: int, from_titles: bool,
           synthetic: bool = False) -> Findings:
    """Findings of notebook 06: what this run's demonstration showed.

    Args:
        session: the item ids shown to the models.
        later: the items the same user rated later in that session (None: titles typed by hand).
        lists: model -> recommended item ids.
        fallback: models that knew none of the session's items (popularity fallback).
        overlaps: ``"A / B"`` -> share of A's list also in B's.
        memory: model -> share of its list unchanged when only the last item is given.
        fitted_on: model -> training frame (``"train_tr"`` / ``"train"``).
        configs: model -> where its parameters came from (e.g. ``"defaults (not tuned)"``).
        k: recommendations per model.
        from_titles: the session came from ``TITLES``.
        synthetic: the data are synthetic.
    """
    b = _Builder()
    _synthetic_note(b, synthetic)
    origin = "typed titles (`TITLES`)" if from_titles else "the first items of a random `valid` session"
    b.add(f"* **The session**: {b.n('session_length', len(session), count)} movies from {origin}.")
    b.add("* **The models**: " + "; ".join(
        f"{name} fitted on `{b.n(f'fitted_on/{name}', fitted_on[name], text)}` with {configs[name]}"
        for name in lists) + "."
        + (" All saw the same events, and none of them was trained on the demo session: it is in `valid`, on which "
           "notebook 03's searches and notebook 04's early stopping are scored, so it did take part in choosing "
           "parameters and GRU4Rec's epoch."
           if b.keep("same_data", len(set(fitted_on.values())) == 1) and not from_titles
           and set(fitted_on.values()) == {"train_tr"} else ""))
    if fallback:
        b.add(f"* {_join(list(fallback))} knew none of the session's movies and listed the most rated ones.")
    if later is not None and len(later):
        hits = {name: len(set(items) & set(later)) for name, items in lists.items()}
        nxt = [name for name, items in lists.items() if later[0] in set(items)]
        b.keep("next_item", later[0])
        b.add(f"* **Against the rest of the session.** After these movies the user rated "
              f"{b.n('later_items', len(later), count)} more in the same session (the next one and every one after "
              f"it); of each model's top {k}, "
              + ", ".join(f"{name} {b.n(f'later_hits/{name}', hits[name], count)}" for name in lists)
              + f" are among those {count(len(later))} (any of them, not only the next: a lenient check). The very "
              "next movie, the one the models are trained to predict, is in "
              + (f"the list of {_join(nxt)}" if b.keep("next_hits", nxt) else "none of the lists")
              + ". One session is an anecdote, not an evaluation: notebook 05 measures the next-movie hits over "
              "every test session.")
    elif later is not None:
        b.add("* The chosen session has no later ratings to compare the lists with.")
    b.add("* **Shared recommendations**: " + "; ".join(
        f"{pair} {b.n(f'overlap/{pair}', share, pct)}" for pair, share in overlaps.items()) + ".")
    b.add("* **Does the earlier part of the session matter?** The list after the whole session against the list "
          "after its last movie alone shares: " + ", ".join(
              f"{name} {b.n(f'memory/{name}', share, pct)}" for name, share in memory.items())
          + " (100.0% means the earlier movies changed nothing; both lists are ranked without leaving out the "
          "session's movies, so that only the model's scores differ, not which movies are "
          "removed).")
    return b.build()


# --------------------------------------------------------------------------- 07 sequential models


def _tuning_facts(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Tuning facts for the verdict rule: this run's trials, plus the earlier search behind the
    model's defaults (:func:`sbrlib.models.registry.defaults_search`) when the configuration is the
    defaults or comes from one of sbrlib's searches, which start from the defaults
    (:func:`sbrlib.tuning.tune_all` tries them first): either way that earlier search is part of the
    effort behind it. A named preset other than the defaults carries no search."""
    from sbrlib.models import registry

    out = {"n_trials": config.get("n_trials"), "source": config.get("source"),
           "stopped_early": list(config.get("stopped_early") or []), "best_is_default": config.get("best_is_default"),
           "capped_improving": config.get("capped_improving")}
    from_defaults = config.get("source") in ("default", *SEARCHED) or config.get("n_trials") == 1
    prior = registry.defaults_search(name) if from_defaults else None
    if prior:
        out.update(prior_trials=int(prior["trials"]), prior_dataset=prior.get("split") or prior["dataset"],
                   prior_epochs=prior.get("epochs_per_trial"), prior_ended=prior_ended_text(prior))
    return out


def training_record(facts: Any) -> dict[str, Any]:
    """A neural model's training facts for notebook 07's findings and record: the
    :class:`~sbrlib.core.training_facts.TrainingFacts` fields without the per-epoch ``history``, plus
    ``curve``, the validation ``metric`` after each epoch (what :func:`_rule_sentence` replays)."""
    d = facts.to_dict() if hasattr(facts, "to_dict") else dict(facts)
    history = d.pop("history", None) or []
    out = dict(d)
    out["curve"] = [None if row.get(d.get("metric")) is None else float(row[d["metric"]]) for row in history]
    return out


def kept_epoch_under(curve: Sequence[float | None], patience: int | None, max_epochs: int) -> tuple[int, int] | None:
    """Replay a stopping rule on a recorded validation curve (the rule of :func:`sbrlib.training.fit`:
    an epoch improves when its score is strictly higher than the best so far; stop after ``patience``
    epochs in a row without improvement or at ``max_epochs``).

    Args:
        curve: validation score after epochs 1..n (None/NaN never improves).
        patience: early-stopping patience (None: none).
        max_epochs: the epoch cap.

    Returns:
        ``(kept epoch, last epoch run)`` under that rule, or None when the rule would have trained
        beyond the recorded epochs (what it would have kept is then unknown).
    """
    best, best_epoch, waited = float("-inf"), 0, 0
    for epoch, score in enumerate(curve, start=1):
        if score is not None and score == score and score > best:
            best, best_epoch, waited = float(score), epoch, 0
        else:
            waited += 1
        if (patience is not None and waited >= patience) or epoch >= max_epochs:
            return (best_epoch or epoch), epoch
    return None


FLAT_SHARE = 0.005
"""A model stopped with its last validation score within this share of its best is said to have
been stopped while its validation score was flat (:func:`_rule_sentence`)."""


def _rule_sentence(b: _Builder, label: str, facts: Mapping[str, Mapping[str, Any]]) -> str:
    """Whether the neural models of one protocol were trained under one stopping rule (patience and
    epoch cap, from their training facts), and if not, each model's rule and whether the difference
    changed anything: each model's recorded validation ``curve`` (:func:`training_record`) is replayed
    under the other models' rules (:func:`kept_epoch_under`); "favours X" only when X's kept epoch
    would have differed under a shorter rule. ``""`` for fewer than two models."""
    if len(facts) < 2:
        return ""
    rules = {name: (f.get("patience"), f.get("max_epochs")) for name, f in facts.items()}
    for name, (patience, cap) in rules.items():
        b.keep(f"patience/{label}/{name}", patience)
        b.keep(f"max_epochs/{label}/{name}", cap)
    # the time limit is part of the rule (a reused model keeps the limit it was trained under, e.g. its
    # share of 03's search time); the replay below uses patience and epoch cap only
    limits = {name: f.get("budget_seconds") for name, f in facts.items()}
    for name, limit in limits.items():
        b.keep(f"time_limit/{label}/{name}", limit)

    def words(r, name):
        limit = limits[name]
        return (f"patience {r[0] if r[0] is not None else 'none'}, epoch cap {r[1]:,}, time limit "
                + ("none" if limit is None else f"{float(limit):,.1f} s"))

    one = len(set(rules.values())) == 1 and len({None if v is None else round(float(v), 1)
                                                for v in limits.values()}) == 1
    if b.keep(f"one_rule/{label}", one):
        first = next(iter(rules))
        return f"* *{label}*: the neural models were trained under one rule ({words(rules[first], first)})."
    line = (f"* *{label}*: the neural models were **not** trained under one rule ("
            + "; ".join(f"{name}: {words(r, name)}" for name, r in rules.items()) + ")")
    longer = lambda r, o: (r[0] is None or (o[0] is not None and r[0] >= o[0])) and r[1] >= o[1]  # noqa: E731
    parts, favoured, unchanged, cut_short = [], [], [], []
    for name, f in facts.items():
        curve = list(f.get("curve") or [])
        shorter = [(m, o) for m, o in rules.items() if m != name and o != rules[name] and longer(rules[name], o)]
        if not shorter:
            continue
        if not curve:
            parts.append(f"{name}'s validation curve is not recorded, so whether the shorter rule would have kept "
                         "another epoch cannot be said")
            continue
        for other, rule in shorter:
            replay = kept_epoch_under(curve, *rule)
            kept = f.get("best_epoch")
            if replay is None:
                continue
            b.keep(f"kept_under_other_rule/{label}/{name}", replay[0])
            if replay[0] == kept:
                unchanged.append(name)
                parts.append(f"{name}'s best epoch ({kept}) came no later than the end of training under {other}'s "
                             f"rule (after epoch {replay[1]}), so its longer rule did not change the epoch kept")
            else:
                favoured.append(name)
                parts.append(f"under {other}'s rule {name} would have stopped after epoch {replay[1]} and kept epoch "
                             f"{replay[0]} ({metric(float(curve[replay[0] - 1]))}) instead of epoch {kept} "
                             f"({metric(float(curve[kept - 1]))})")
            break
    for name, f in facts.items():  # the model(s) under the shortest rule: how they were stopped
        if any(longer(o, rules[name]) and o != rules[name] for m, o in rules.items() if m != name):
            curve = [c for c in (f.get("curve") or [])]
            best_epoch, last = f.get("best_epoch"), f.get("epochs_run")
            if not curve or best_epoch is None or last is None or len(curve) < last:
                continue
            patience, cap = rules[name]
            others = [o for m, o in rules.items() if m != name]
            cut = ((f.get("stopped_by") == "patience" and any(o[0] is None or o[0] > (patience or 0) for o in others))
                   or (f.get("stopped_by") == "epochs" and any(o[1] > cap for o in others)))
            if not cut:  # stopped by what both rules share (e.g. the same epoch cap): the difference did not cut it
                continue
            best_score, last_score = float(curve[best_epoch - 1]), float(curve[last - 1])
            state = ("while still improving" if f.get("still_improving") else
                     f"while its validation score was flat (its last epoch within {pct(FLAT_SHARE)} of its best)"
                     if best_score > 0 and (best_score - last_score) / best_score <= FLAT_SHARE else
                     "after its validation score had fallen")
            b.keep(f"shorter_rule_flat/{label}/{name}", state)
            scores = (f"{_name(f['metric'])} {best_score:.5f} at epoch {best_epoch}, its last" if best_epoch == last else
                      f"{_name(f['metric'])} {best_score:.5f} at epoch {best_epoch}, {last_score:.5f} at epoch {last}")
            cut_short.append(name)
            parts.append(f"{name} was stopped by its shorter rule after epoch {last} {state}: {scores}; what a longer "
                         "rule would have kept for it this run cannot show")
    b.keep(f"favoured_by_rule/{label}", favoured)
    if parts:
        line += ": " + "; ".join(parts)
    if favoured:
        line += f". The difference favours {_join(favoured)}"
    elif unchanged and cut_short:  # only the longer-rule side is known: say which side the claim covers
        line += (f". The rules differed; they did not change the epoch kept for {_join(unchanged)}, and whether "
                 f"they did for {_join(cut_short)} is unknown")
    elif unchanged:
        line += ". The rules differed but did not change which epoch was kept"
    return line + "."


def sequential(tables: Mapping[str, pd.DataFrame], main_metric: Mapping[str, str],
               comparisons: Sequence[tuple[str, str, str, Mapping[str, Any]]], dataset: str,
               configs: Mapping[str, Mapping[str, Any]], training: Mapping[str, Mapping[str, Mapping[str, Any]]],
               baseline_sources: Mapping[str, str], refit: bool, synthetic: bool = False,
               tuning: Mapping[str, Mapping[str, Any]] | None = None, frames: Mapping[str, str] | None = None,
               reused: Sequence[str] = (), history: Mapping[str, Any] | None = None) -> Findings:
    """Findings of notebook 07.

    Args:
        tables: protocol label -> the protocol's table (metrics, ``<metric> lo/hi``, ``predictions``).
        main_metric: protocol label -> metric that ranks the models there.
        comparisons: ``(protocol, model a, model b, paired difference)``.
        dataset: the dataset name.
        configs: neural model -> :func:`config_facts`.
        training: protocol -> neural model -> training facts.
        baseline_sources: baseline -> where its parameters came from (``"tuned"``, ``"defaults"``).
        refit: whether the neural models were retrained on ``train``.
        synthetic: the data are synthetic.
        tuning: model -> tuning facts for :func:`sbrlib.notebook.protocols.verdict` (``n_trials``, ``source``);
            default: from ``configs``.
        frames: model -> the frame it learned from (default: ``train_tr``, ``train`` when refit).
        reused: sentences saying which models were taken from notebooks 04/05 and which were
            trained here, and why (:func:`sbrlib.notebook.protocols.reuse_saved`, the baseline plan).
        history: what the user-history experiment and leave-one-out's SASRec started from, each optional:
            ``coverage`` (:func:`sbrlib.notebook.protocols.history_coverage` of the temporal split, when
            its history experiment ran), ``loo_experiment`` (True when leave-one-out's ran), ``lengths``
            (:func:`sbrlib.notebook.protocols.history_lengths` of the leave-one-out split, with SASRec).
    """
    from sbrlib.notebook.protocols import verdict
    from sbrlib.tuning.store import short_source

    b = _Builder()
    _synthetic_note(b, synthetic)
    neural = list(configs)
    b.keep("refit", bool(refit))
    default_frame = "train" if refit else "train_tr"
    data = {m: default_frame for m in [*baseline_sources, *neural]} | dict(frames or {})
    by_frame: dict[str, list[str]] = {}
    for m, f in data.items():
        by_frame.setdefault(f, []).append(m)
    b.add("* **What ran.** " + "; ".join(config_sentence(m, f) for m, f in configs.items())
          + ("; " if configs and baseline_sources else "")
          + "; ".join(f"{m}: {short_source(s)}" for m, s in baseline_sources.items())
          + ". Training data: " + "; ".join(f"{_join(ms)} on `{f}`" for f, ms in by_frame.items())
          + ". The neural models were early-stopped on `valid`"
          + (" and then **refit** on `train` for their best number of epochs." if refit else
             ", kept at their best epoch and **not refit** on `train`."))
    for sentence in reused:
        b.add(f"* {sentence}")
    unfair = {}
    for label, table in tables.items():
        m = main_metric[label]
        facts = training.get(label, {})
        for name, f in facts.items():
            b.keep(f"stopped_by/{label}/{name}", f["stopped_by"])
            b.keep(f"still_improving/{label}/{name}", f["still_improving"])
            b.add(f"* *{label}*: " + training_sentence(name, f))
        rule = _rule_sentence(b, label, facts)
        if rule:
            b.add(rule)
        problems = fairness_problems({n: {**c, "n_trials": c.get("n_trials")} for n, c in configs.items()},
                                     facts, data)
        unfair[label] = b.keep(f"unfair/{label}", problems)
        t = table.sort_values(m, ascending=False)
        best = str(t.index[0])
        line = (f"* **{label}**, {_name(m)}: highest is {b.n(f'top/{label}', best, text)} with "
                f"{b.n(f'top_value/{label}', float(t.loc[best, m]), metric)} (95% interval "
                f"{b.n(f'top_low/{label}', float(t.loc[best, m + ' lo']), metric)}–"
                f"{b.n(f'top_high/{label}', float(t.loc[best, m + ' hi']), metric)}, "
                f"{b.n(f'predictions/{label}', int(t.loc[best, 'predictions']), count)} predictions)")
        if len(t) > 1:
            second = str(t.index[1])
            overlap = bool(t.loc[second, m + " hi"] >= t.loc[best, m + " lo"])
            line += (f"; next is {b.n(f'second/{label}', second, text)} with "
                     f"{b.n(f'second_value/{label}', float(t.loc[second, m]), metric)}, and the two intervals "
                     f"{'overlap' if overlap else 'do not overlap'}")
            if any(lab == label and {x, y} == {best, second} for lab, x, y, _ in comparisons):
                line += (" (each model's own interval, over its own resamples: whether one is ahead is decided by "
                         "the [paired interval](../docs/GLOSSARY.md#paired-comparison) of their difference over "
                         "the same sessions/users, below, which can exclude 0 while these two overlap)")
        line += "."
        if problems:
            line += (" This is **not a fair contest**, so no model is declared the winner: " + "; ".join(problems) + ".")
        b.add(line)
        _other_orders(b, label, t, m)
    _coinciding_values(b, tables)
    _history_lines(b, dict(history or {}))
    tune = dict(tuning) if tuning is not None else {n: _tuning_facts(n, c) for n, c in configs.items()}
    head_to_head: dict[str, Any] = {}
    said_effort = ""  # the search-effort clause is given once, in the first verdict that names a winner
    for i, (label, a, c, diff) in enumerate(comparisons):
        if {a, c} <= set(neural):  # a head-to-head of two models: the verdict rule decides what may be said
            facts = training.get(label, {})
            v = verdict(a, c, facts.get(a), facts.get(c), diff, tune.get(a), tune.get(c), label, said_effort)
            said_effort = said_effort or v.effort
            b.keep(f"verdict/{i}", {"allowed": v.allowed, "winner": v.winner, "reasons": list(v.reasons)})
            lengths = dict(history or {}).get("lengths") or {}
            truncated = ("leave-one-out" in str(label) and "SASRec" in (a, c) and int(lengths.get("longer") or 0) > 0)
            b.add(v.sentence + (f" SASRec ran as configured, reading at most its latest `max_len` "
                                f"({int(lengths['max_len'])}) items of each history (see above)." if truncated else ""))
            if {a, c} == {"GRU4Rec", "SASRec"}:
                head_to_head[label] = v
            continue
        sign = "higher" if diff["difference"] > 0 else "lower"
        clear = diff["lo"] > 0 or diff["hi"] < 0
        size = abs(float(diff["difference"]))
        line = (f"* {label}: {a} is {b.n(f'diff/{i}', size, _tiny_metric)} {sign} than {c} in "
                f"{_name(diff['metric'])} (paired 95% interval {signed(diff['lo'])} to {signed(diff['hi'])} over "
                f"{count(diff['sessions'])} sessions/users): "
                f"{'the interval excludes 0' if clear else 'not distinguishable from zero'}")
        if clear and min(abs(float(diff['lo'])), abs(float(diff['hi']))) < 0.1 * abs(float(diff['difference'])):
            line += " (barely: one end of the interval is near 0, and it is one of several comparisons)"
        if size < 0.00005:  # reader 20: "less than 0.00005 lower" next to table values 0.0705 and 0.0704
            line += ("; the tables round each model's value to 4 decimals on its own, so theirs can still differ in "
                     "the last digit")
        b.add(line + ".")
    b.add(f"* Data: {dataset}. Leave-one-out holds out each user's last item whatever its date, so the model is "
          f"trained on other users' later events; the temporal split does not [leak]({GLOSSARY}#leak) this way, and "
          "the two protocols "
          "need not rank models the same.")
    answer = title_answer(head_to_head)
    if answer:
        b.keep("title_answer", answer)
        b.add(f"**Is GRU4Rec outdated next to self-attention?** {answer}")
    return b.build()


def title_answer(verdicts: Mapping[str, Any]) -> str:
    """Notebook 07's title question answered in one sentence from the GRU4Rec-vs-SASRec verdicts.

    Args:
        verdicts: protocol label -> :class:`sbrlib.notebook.protocols.Verdict` of GRU4Rec against SASRec
            (``allowed``, ``winner``); the verdict rule itself is not applied again here.

    Returns:
        The sentence, or ``""`` without a head-to-head in this run.
    """
    if not verdicts:
        return ""
    by: dict[str, list[str]] = {"SASRec": [], "GRU4Rec": [], "neither": [], "withheld": []}
    for label, v in verdicts.items():
        by["withheld" if not v.allowed else v.winner or "neither"].append(f"*{label}*")
    where = lambda key: _join(by[key])  # noqa: E731 - the protocols of one outcome, in words
    parts = {"SASRec": "SASRec is ahead under {}", "GRU4Rec": "GRU4Rec is ahead under {}",
             "neither": "neither is ahead under {}", "withheld": "no verdict under {} (the comparison was not fair there)"}
    detail = "; ".join(text.format(where(key)) for key, text in parts.items() if by[key])
    tail = " (one dataset and one seed: the verdicts above say on what each rests)"
    if not (by["SASRec"] or by["GRU4Rec"] or by["neither"]):
        return f"This run cannot say: {detail}{tail}."
    if not by["SASRec"]:
        allowed = " where a verdict was allowed" if by["withheld"] else ""
        return f"Not in this run: SASRec is ahead under none of the protocols{allowed} ({detail}){tail}."
    if not (by["GRU4Rec"] or by["neither"] or by["withheld"]):
        return f"In this run, SASRec is ahead under every protocol ({where('SASRec')}){tail}."
    return f"It depends on the protocol in this run: {detail}{tail}."


def _other_orders(b: _Builder, label: str, table: pd.DataFrame, main: str) -> None:
    """Say so when another metric of the table orders the models differently from ``main`` (the
    headline metric of the protocol), with that metric's order and values."""
    order = [str(x) for x in table.index]
    if len(order) < 2:
        return
    differ = []
    for m in [c for c in table.columns if f"{c} lo" in table.columns and c != main]:
        other = table.sort_values(m, ascending=False, kind="stable")
        if [str(x) for x in other.index] != order:
            differ.append(f"{_name(m)}: " + ", ".join(f"{x} {metric(float(other.loc[x, m]))}" for x in other.index))
    b.keep(f"other_orders/{label}", differ)
    if differ:
        b.add(f"* *{label}*: the order above is by {_name(main)}, the protocol's headline metric; other metrics order "
              "the models differently (" + "; ".join(differ) + "), so a ranking holds for the metric it names.")


def _history_lines(b: _Builder, history: Mapping[str, Any]) -> None:
    """What the user-history experiment started from and what leave-one-out's SASRec could read."""
    cov = history.get("coverage")
    if cov:
        n, k = int(cov["test_sessions"]), int(cov["with_history"])
        b.add(f"* *User history, temporal split*: {b.n('history_sessions', k, count)} of "
              f"{b.n('history_test_sessions', n, count)} test sessions ({pct(k / n) if n else 'none'}) belong to users "
              "with events in `train`, so only they can start from a history state; the others start from zeros in "
              "both rows. GRU4Rec was trained session by session, every session starting from a zero state "
              "(`sequence_aware` acts only when predicting, after `warm_start`), so a history state is new to it at "
              "test time: the comparison asks whether a state it was not trained with helps, not what training with "
              "history states would give.")
    if history.get("loo_experiment"):
        b.add("* *User history, leave-one-out*: the session-cut GRU4Rec was likewise trained with every session "
              "starting from a zero state; only at test time does its \"last session + history state\" row start each user's final "
              "session from the state the earlier sessions left.")
    lengths = history.get("lengths")
    if lengths and lengths.get("users"):
        users, longer = int(lengths["users"]), int(lengths["longer"])
        b.add(f"* *leave-one-out*: SASRec reads only the last {b.n('sasrec_max_len', int(lengths['max_len']), count)} "
              "items of a history (`max_len` of the configuration chosen on the temporal split, reused here), while "
              "GRU4Rec reads the whole history; the test histories hold "
              f"{b.n('loo_history_mean', float(lengths['mean']), lambda v: f'{v:,.1f}')} events on average before the "
              f"held-out item (median {float(lengths['median']):,.0f}, max {count(lengths['max'])}), and "
              f"{b.n('loo_history_longer', longer, count)} of {count(users)} users ({pct(longer / users)}) have more "
              "than `max_len`, so SASRec sees only their latest part"
              + (". The leave-one-out verdict below therefore compares SASRec as configured, not SASRec reading whole "
                 "histories: a longer `max_len` was not run here, so whether it would close the gap is not measured."
                 if longer else "."))


def _tiny_metric(x: float) -> str:
    """A metric difference with four decimals, or ``"less than 0.00005"`` when it rounds to 0.0000."""
    return metric(x) if abs(x) >= 0.00005 else "less than 0.00005"


def _coinciding_values(b: _Builder, tables: Mapping[str, pd.DataFrame]) -> None:
    """Say so when a model shows the same value of a metric under two protocols (4 decimals): a coincidence
    of different predictions, not a copy, as the differing intervals show."""
    if len(tables) < 2:
        return
    labels = list(tables)
    for name in sorted(set.intersection(*(set(map(str, t.index)) for t in tables.values()))):
        for m in [c for c in tables[labels[0]].columns if f"{c} lo" in tables[labels[0]].columns]:
            if not all(m in t.columns for t in tables.values()):
                continue
            shown = {label: metric(float(t.loc[name, m])) for label, t in tables.items()}
            if len(set(shown.values())) == 1:
                ranges = "; ".join(f"{label} {metric(float(t.loc[name, m + ' lo']))}–"
                                   f"{metric(float(t.loc[name, m + ' hi']))}" for label, t in tables.items())
                b.keep(f"coincidence/{name}/{m}", next(iter(shown.values())))
                b.add(f"* {name}'s {_name(m)} is {next(iter(shown.values()))} under {_join(labels)}: a coincidence "
                      f"at four decimals, not a copied number (different test predictions; 95% intervals {ranges}).")


# --------------------------------------------------------------------------- recorded facts of earlier notebooks


def _recorded(split_name: str, name: str) -> dict[str, Any] | None:
    import json

    from sbrlib.core import paths

    path = paths.results_dir(split_name) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def saved_model_origin(split_name: str) -> str:
    """Where notebook 04's saved GRU4Rec of this split was trained, from 04's record
    (``gru4rec_training.json``): ``"trained in notebook 04"``, ``"notebook 03's search trial, reused
    by notebook 04 as trained"``, or that the record is missing."""
    res = _recorded(split_name, "gru4rec_training")
    if res is None:
        return "where it was trained is not recorded (no record of notebook 04 for this split)"
    reused = res.get("reused")
    if reused is None:  # records written before the flag: 04's printed decision
        reused = str(res.get("reused_trial", "")).startswith("reused")
    where = ("notebook 03's search trial, reused by notebook 04 as trained" if reused else "trained in notebook 04")
    return where + (", then refit on `train`" if res.get("refit") else "")


def recorded_tie_share(dataset: str) -> float | None:
    """The tie share notebook 01 recorded for ``dataset`` (all consecutive ratings of each user); None without a record."""
    rec = _recorded(dataset, "eda")
    share = (rec or {}).get("tie_share")
    return None if share is None else float(share)


def tie_bases(tied: int, pairs: int, frame: str, eda_share: float | None = None) -> str:
    """One line saying what notebook 05's tie share counts and how its base differs from notebook 01's.

    Args:
        tied, pairs: tied pairs and consecutive pairs inside the sessions of ``frame``
            (:func:`sbrlib.notebook.comparisons.tie_counts`).
        frame: the training table counted (``"train_tr"`` or ``"train"``).
        eda_share: notebook 01's share (:func:`recorded_tie_share`), or None when not recorded.
    """
    share = tied / pairs if pairs else 0.0
    first = (f"ties (same session, same second): {pct(share)} of consecutive ratings in the training sessions "
             f"({tied:,} of {pairs:,} pairs inside the sessions of `{frame}`, after notebook 02's filters)")
    other = (f"notebook 01's {pct(eda_share)} has another base" if eda_share is not None
             else "notebook 01's share has another base")
    return (f"{first}; {other}: all consecutive ratings of each user, before the filters, pairs across two "
            "sessions and outside this training table included")


def recorded_search(split_name: str, model: str) -> dict[str, Any] | None:
    """Trial counts of ``model``'s search (display name, e.g. ``"GRU4Rec"``) as notebook 03 recorded
    them for ``split_name`` (``n_trials``, ``n_complete``, ``n_pruned``); None without a record."""
    rec = _recorded(split_name, "tuning")
    if not rec:
        return None
    found = (rec.get("searched") or {}).get(model)
    if found:
        return found
    n = {k.lower().replace("-", ""): v for k, v in (rec.get("trials") or {}).items()}.get(model.lower().replace("-", ""))
    return None if n is None else {"n_trials": int(n), "n_complete": None, "n_pruned": None}
