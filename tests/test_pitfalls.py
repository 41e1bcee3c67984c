"""Each reproduced fault of the original notebook still shows, and sbrlib's fix does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.data import batching, load_ratings, preprocess
from sbrlib.data.item_index import ItemIndex
from sbrlib.data.preprocess import PreprocessConfig
from sbrlib.evaluation import metrics
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models import SequentialRules
from sbrlib.models.base import SessionModel
from sbrlib.notebook import findings
from sbrlib.notebook import pitfalls as P


@pytest.fixture(scope="module")
def ratings(tiny_dir):
    return load_ratings("synthetic-tiny", tiny_dir)


@pytest.fixture(scope="module")
def original(ratings):
    return P.original_events(ratings)


# ----------------------------------------------------------------------------- 1. row-index time


def test_row_index_time_dates_everything_in_1970(original, ratings):
    assert original["Time2"].max().year == 1970 and original["Time2"].min() == pd.Timestamp("1970-01-01")
    assert (original["Time2"].diff().dropna() == pd.Timedelta(seconds=1)).all()  # one second per row
    assert pd.to_datetime(ratings[TIME], unit="s").min().year > 1970  # the real dates are not


def test_original_events_keeps_file_order_and_filters(ratings, original):
    assert (original[RATING] >= 3).all() and len(original) == int((ratings[RATING] >= 3).sum())
    assert (original[SESSION] == original[USER]).all()
    kept = ratings[ratings[RATING] >= 3].sort_values(USER, kind="stable").reset_index(drop=True)
    assert (original["Time2"].to_numpy() == P.faulty_row_index_time(len(kept)).to_numpy()).all()
    assert original[ITEM].tolist() == kept[ITEM].tolist()  # file order within each user


def _two_users():
    # user 1's history is the most recent in real time but comes first in the file
    return pd.DataFrame({USER: [1, 1, 1, 2, 2, 2], ITEM: [10, 11, 12, 10, 11, 13], RATING: 5,
                         TIME: [900_000, 900_100, 900_200, 100, 200, 300]})


def test_last_day_split_on_row_index_picks_users_by_file_position():
    events = P.original_events(_two_users())
    faulty = P.original_last_day_split(events, "Time2", test_days=2 / 86_400, valid_days=1 / 86_400)
    real = P.original_last_day_split(events, TIME, test_days=1.0, valid_days=1.0)
    assert set(faulty["test"][USER]) == {2}  # the last rows of the file, although the oldest in real time
    assert set(real["test"][USER]) == {1}
    report = P.split_report(faulty["train"], faulty["test"], faulty["valid"], "Time2")
    assert report["last_shown"].startswith("1970") and report["test_ends_first"] == 1.0


def test_sbrlib_user_split_has_no_training_event_after_a_test_session_ends(ratings):
    split = preprocess.preprocess(ratings, PreprocessConfig(min_rating=3, session_mode="user"))
    report = P.split_report(split["train"], split["test"], split["valid"], TIME)
    assert report["test_ends_first"] < 0.05 and report["first_shown"] > "1970-12-31"
    faulty = P.original_last_day_split(P.original_events(ratings), "Time2", 0.002, 0.002)
    assert P.split_report(faulty["train"], faulty["test"])["test_ends_first"] > 0.2


def test_split_days_shrink_on_small_files():
    assert P.original_split_days(836_478) == 1.0
    assert P.original_split_days(1_000) == pytest.approx(100 / 86_400)


# ----------------------------------------------------------------------------- 2. loader offsets


def test_faulty_loader_starts_at_the_end_and_mixes_sessions():
    offsets = P.click_offsets(np.repeat([0, 1, 2, 3], 3))  # four sessions of 3 events
    assert offsets.tolist() == [0, 3, 6, 9, 12]
    blocks = P.original_parallel_blocks(offsets, batch_size=2, start_shift=-1, max_steps=100)
    inp, tgt = next(blocks)
    # slot 0 started at the end of the data (negative length: nothing yielded, every slot walked
    # back), then took session 2 from offset 3; slot 1 now reads from the end of the data
    assert inp[0].tolist() == [3, -10]
    code = np.repeat(np.arange(4), 3)
    assert (code[inp] != code[tgt]).any()


def test_faulty_loader_does_not_end_within_a_fair_cap_and_crosses_users(original):
    users = original[SESSION].to_numpy()
    correct = batching.make_schedule(users, original[ITEM].to_numpy(), 8)
    cap = 3 * correct.n_steps
    faulty = P.loader_report(users, 8, start_shift=-1, max_steps=cap)
    assert faulty.hit_cap and faulty.steps == cap
    assert faulty.crossing_pairs > 0 and faulty.wrapped_pairs > 0 and faulty.mixed_steps > 0
    intended = P.loader_report(users, 8, start_shift=0, max_steps=cap)
    assert not intended.hit_cap and intended.crossing_pairs == 0 and intended.wrapped_pairs == 0


def test_sbrlib_schedule_is_the_fix(original):
    users = original[SESSION].to_numpy()
    fixed = P.schedule_report(users, 8)
    assert not fixed.hit_cap and fixed.crossing_pairs == 0
    assert fixed.pairs == fixed.expected_pairs == len(users) - len(np.unique(users))


def test_faulty_loader_rejects_batches_as_large_as_the_data():
    with pytest.raises(ValueError, match="batch_size"):
        next(P.original_parallel_blocks(P.click_offsets(np.array([0, 0, 1, 1])), batch_size=2))


# ----------------------------------------------------------------------------- 3. unseen items


def test_unseen_item_becomes_the_last_item():
    train_items = np.array([5, 7, 9])
    idx = P.faulty_item_map(train_items, np.array([7, 8, 9]))
    assert idx.tolist() == [1, -1, 2]
    one_hot = P.faulty_one_hot(idx, 3)
    assert one_hot[1].argmax() == 2 and one_hot[1].sum() == 1  # -1 silently means item n - 1
    assert (one_hot[1] == one_hot[2]).all()  # the unseen 8 is indistinguishable from 9


def test_alias_rewrites_held_out_events_and_the_fix_refuses_them():
    train = pd.DataFrame({SESSION: [0, 0, 0], ITEM: [5, 7, 9], TIME: [1, 2, 3]})
    test = pd.DataFrame({SESSION: [1, 1, 1], ITEM: [7, 8, 5], TIME: [4, 5, 6]})
    aliased, hit = P.faulty_alias_unseen(test, train[ITEM].to_numpy())
    assert hit == 1 and aliased[ITEM].tolist() == [7, 9, 5] and test[ITEM].tolist() == [7, 8, 5]
    index = ItemIndex.from_events(train)
    with pytest.raises(KeyError, match="not in the training item index"):
        index.to_idx(test[ITEM].to_numpy())
    assert index.to_idx(test[ITEM].to_numpy(), missing="mask").tolist() == [1, -1, 0]
    whole = pd.concat([train, test])
    kept_train, kept_test = preprocess.temporal_split(whole, cutoff=3, rule="start")
    assert 8 not in set(kept_test[ITEM]) and set(kept_test[ITEM]) <= set(kept_train[ITEM])


# ----------------------------------------------------------------------------- 4. one-hot model


@pytest.mark.slow
def test_onehot_model_trains_and_feeds_dense_one_hot_arrays(ratings):
    events = batching.contiguous_sessions(preprocess.preprocess(ratings)["train"])
    index = ItemIndex.from_events(events)
    schedule = batching.schedule_from_frame(events, index.to_idx(events[ITEM].to_numpy()), 4)
    model = P.original_onehot_gru(len(index), 4, units=3)
    report = P.original_train_steps(model, schedule, max_steps=3)
    assert report.steps == 2 and report.seconds > 0
    assert report.input_bytes_per_step == 2 * 4 * len(index) * 8  # input + target one-hot, float64
    gru = model.layers[0]
    state = gru.states[0].numpy()
    assert state.shape == (4, 3) and np.isfinite(state).all()


# ----------------------------------------------------------------------------- 5. per-event evaluation


class _Distinct(SessionModel):
    """Scores with no ties: a fixed random permutation shifted by the current item."""

    name = "distinct"

    def __init__(self, n_items: int) -> None:
        self.item_index = ItemIndex(np.arange(n_items) + 100)
        self._base = np.random.default_rng(0).permutation(n_items).astype(np.float32)

    def fit(self, train):
        return self

    def reset(self, batch_size: int) -> None:
        pass

    def step(self, items, starts, users=None, active=None):
        return np.stack([np.roll(self._base, int(i)) for i in np.asarray(items)])


def _sessions(n_items=30, n_sessions=12, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        for t in range(int(rng.integers(2, 6))):
            rows.append((s, int(rng.integers(n_items)) + 100, s * 100 + t))
    return pd.DataFrame(rows, columns=[SESSION, ITEM, TIME])


def test_per_event_argsort_ranks_equal_the_evaluator_without_ties():
    test = _sessions()
    model = _Distinct(30)
    ranks, seconds = P.faulty_per_event_ranks(model, test)
    result = evaluate(model, test, EvalConfig(coverage_ks=()), progress=False)
    merged = ranks.merge(result.predictions, on=[SESSION, "position"], suffixes=("", "_eval"))
    assert len(merged) == len(ranks) == len(result.predictions) == len(test) - test[SESSION].nunique()
    assert (merged["rank"] == merged["rank_eval"]).all() and seconds >= 0


def test_per_event_ranks_fall_in_the_tie_interval_with_ties(ratings):
    split = preprocess.preprocess(ratings)
    sr = SequentialRules().fit(split["train"])
    ranks, _ = P.faulty_per_event_ranks(sr, split["test"])
    std = evaluate(sr, split["test"], EvalConfig(tie_policy="standard", coverage_ks=()), progress=False)
    con = evaluate(sr, split["test"], EvalConfig(tie_policy="conservative", coverage_ks=()), progress=False)
    agreement = P.compare_ranks(ranks, std.predictions, con.predictions)
    assert agreement["predictions"] == agreement["per_event"] == agreement["evaluator"] > 0
    assert agreement["within_ties"] == agreement["predictions"]
    assert agreement["identical"] == agreement["untied"]


def test_per_event_ranks_respect_max_predictions():
    ranks, _ = P.faulty_per_event_ranks(_Distinct(30), _sessions(), max_predictions=5)
    assert len(ranks) == 5


def test_vectorized_ranks_match_argsort_on_the_same_scores():
    rng = np.random.default_rng(3)
    scores = rng.random((50, 40)).astype(np.float32)
    targets = rng.integers(0, 40, 50)
    by_sort = np.array([np.flatnonzero(np.argsort(-row) == t)[0] + 1 for row, t in zip(scores, targets)])
    assert (metrics.ranks_from_scores(scores, targets, "standard") == by_sort).all()


# ----------------------------------------------------------------------------- 6. choices, helpers


def test_rating_filter_report_counts_low_ratings():
    frame = pd.DataFrame({RATING: [1, 2, 3, 4, 5]})
    report = P.rating_filter_report(frame)
    assert report["dropped"] == 2 and report["dropped_share"] == pytest.approx(0.4) and report["kept"] == 3


def test_user_sessions_are_fewer_and_longer_than_gap_sessions(ratings):
    user = P.session_report(preprocess.sessions_from_ratings(ratings, PreprocessConfig(session_mode="user")))
    gap = P.session_report(preprocess.sessions_from_ratings(ratings))
    assert user["sessions"] < gap["sessions"]
    assert user["median_length"] > gap["median_length"] and user["median_days"] > gap["median_days"]


def test_head_and_speed_samples_are_capped(ratings):
    train = preprocess.preprocess(ratings)["train"]
    head = P.head_sessions(train, max_predictions=20)
    assert 0 < len(head) - head[SESSION].nunique() <= 20
    sample = P.speed_sample(train, batch_size=4, steps=3)
    schedule = batching.schedule_from_frame(batching.contiguous_sessions(sample),
                                            ItemIndex.from_events(sample).to_idx(sample[ITEM].to_numpy()), 4)
    assert schedule.n_steps == 3 and schedule.active.all()


def test_summary_and_findings_are_built_from_the_measurements():
    m = {
        "dataset": "x", "synthetic": True, "batch_size": 8,
        "time": {k: {"first_shown": "1970-01-01", "last_shown": "1970-01-10", "test_users": 3, "test_user_ids": [7, 9],
                     "test_ends": ["2000-01-01", "2001-01-01"], "test_ends_first": v}
                 for k, v in ((P.ROW_TIME, 0.5), (P.REAL_TIME, 0.0), (P.FIXED_TIME, 0.0))},
        "loader": {P.LOADER_SHIFTED: {"steps": 10, "hit_cap": True, "pairs": 80, "crossing_pairs": 4, "wrapped_pairs": 9,
                         "mixed_steps": 3, "expected_pairs": 50},
                   P.LOADER_ORIGINAL: {"steps": 5, "hit_cap": False, "pairs": 40, "crossing_pairs": 0, "wrapped_pairs": 0,
                         "mixed_steps": 0, "expected_pairs": 50},
                   P.LOADER_FIXED: {"steps": 7, "hit_cap": False, "pairs": 50, "crossing_pairs": 0, "wrapped_pairs": 0,
                         "mixed_steps": 0, "expected_pairs": 50}, "max_steps": 10},
        "unseen": {"test_hit": 2, "valid_hit": 1, "test_events": 30, "valid_events": 20,
                   "faulty": {"recall@20": 0.25, "predictions": 20}, "fixed": {"recall@20": 0.2, "predictions": 18}},
        "speed": {P.SPEED_ONEHOT: {"input_bytes_per_step": 2_000_000, "seconds_per_step": 0.5, "full_batch_rate": 16},
                  P.SPEED_COMPILED: {"input_bytes_per_step": 64, "seconds_per_step": 0.01, "full_batch_rate": 800}},
        "ranking": {"predictions": 10, "untied": 9, "identical": 9, "seconds_per_10k": {P.RANKING_ARGSORT: 40.0,
                                                                                    P.RANKING_VECTORIZED: 2.0}},
        "rating_filter": {"dropped": 16, "ratings": 100, "dropped_share": 0.16},
        "sessions": {P.SESSIONS_USER: {"sessions": 3, "median_length": 30, "median_days": 80},
                     P.SESSIONS_GAP: {"sessions": 12, "median_length": 6, "median_days": 0.01}},
    }
    table = P.summary_table(m)
    assert len(table) == 6 and list(table.columns) == ["symptom", "measured effect", "fix", "where in sbrlib"]
    assert "4 of 80 pairs" in table.loc["2 loader offsets", "symptom"]
    assert "did not end within 10 steps" in table.loc["2 loader offsets", "measured effect"]
    assert "50× slower" in table.loc["4 one-hot + numpy resets", "measured effect"]
    found = findings.what_went_wrong(m)
    text = found.markdown
    assert all(shown in text for shown in found.shown.values())
    assert "50.0% of (test, training) pairs" in text and "50.0% of pairs" in table.loc["1 row-index time", "measured effect"]
    assert "2.0 MB" in text and "20× faster" in text and "16 of 100 ratings" in text
    measured = P.Measured.from_record(m)  # the typed record: each value by name, not by position
    assert measured.loader_fixed["steps"] == 7 and measured.sessions_gap["sessions"] == 12
    assert findings.what_went_wrong(measured).markdown == text and P.summary_table(measured).equals(table)
    reordered = {**m, "loader": dict(reversed(list(m["loader"].items())))}
    assert findings.what_went_wrong(reordered).markdown == text  # the order of a section does not matter
    assert "before them, as notebook 01 counts" not in text  # no unfiltered count recorded: nothing said
    assert "more than a day" not in text  # no share recorded (an older record): nothing said
    # fault 6: the median span alone hides the problem; the share of user 'sessions' over a day stands next to it
    longer = {**m, "sessions": {**m["sessions"], P.SESSIONS_USER: {**m["sessions"][P.SESSIONS_USER],
                                                                   "share_longer_than_a_day": 0.318}}}
    said = "31.8% of them span more than a day"
    assert said in P.summary_table(longer).loc["6 undiscussed choices", "symptom"]
    assert said in findings.what_went_wrong(longer).markdown
    both = findings.what_went_wrong({**m, "sessions_unfiltered": {"sessions": 20, "median_length": 4}}).markdown
    assert "12 sessions with a median of 6 events (both counted after notebook 02's filters" in both
    assert "gaps give 20 sessions with a median of 4 events" in both
    # one precision for each value in the table and the findings (17.5%, 0.567 s: never 17% / 0.6 s on one side)
    odd = {**m, "rating_filter": {"dropped": 175, "ratings": 1000, "dropped_share": 0.175},
           "ranking": {**m["ranking"], "seconds_per_10k": {P.RANKING_ARGSORT: 0.5671, P.RANKING_VECTORIZED: 0.2906}}}
    odd_text, odd_table = findings.what_went_wrong(odd).markdown, P.summary_table(odd)
    for shown in ("17.5%", "0.567 s", "0.291 s"):
        assert shown in odd_text and shown in odd_table.to_string(), shown
    # the original iterator with corrected offsets ends but skips the pairs still in its slots: said in both
    assert "produced only 40 of the 50 pairs in 5 steps, skipping 20.0% of the data" in text
    assert "only 40 of 50 pairs (skips 20.0%)" in table.loc["2 loader offsets", "measured effect"]
    complete = {**m, "loader": {**m["loader"], P.LOADER_ORIGINAL: {**m["loader"][P.LOADER_ORIGINAL], "pairs": 50}}}
    assert "produced only" not in findings.what_went_wrong(complete).markdown
    # the split's period: the original's "last day", or the rows it was shrunk to on a small file (both texts)
    assert "The 'last day' split put" in text and "the 'last day' split put" in table.loc["1 row-index time", "symptom"]
    shrunk = {**m, "split_days": 8252 / 86_400}
    said = "the original's split, shrunk from 'the last day' to the last 8,252 rows (0.0955 day of row-index time)"
    assert said in P.summary_table(shrunk).loc["1 row-index time", "symptom"]
    assert said[0].upper() + said[1:] + " put" in findings.what_went_wrong(shrunk).markdown
    assert P.Measured.from_record({**m, "split_days": 1}).split_days == 1.0
    # what the bytes per step count (issue 18, 4.7): 471 slots x 1,109 items x 8 bytes, input and target
    run = {**m, "batch_size": 471, "speed": {**m["speed"], "n_items": 1109,
                                            P.SPEED_ONEHOT: {**m["speed"][P.SPEED_ONEHOT], "input_bytes_per_step": 8_357_424},
                                            P.SPEED_COMPILED: {**m["speed"][P.SPEED_COMPILED], "input_bytes_per_step": 4710}}}
    said = findings.what_went_wrong(run)
    assert said.numbers["speed_items"] == 1109
    assert ("8.4 MB per step (the one-hot input and target arrays, each 471 slots × 1,109 items × 8 bytes (float64): "
            "2 × 4,178,712 = 8,357,424 bytes)") in said.markdown
    assert "4,710 bytes for 471 slots, 10 bytes per slot" in said.markdown
    assert "each 471 slots" not in text  # no item count recorded: only what is counted
    assert P.three_digits(1234.5, "s") == "1,234 s" and P.three_digits(12.14, "ms") == "12.1 ms"
    with pytest.raises(KeyError, match=r"no loader\['original, idx - 1 offsets'\]"):
        P.Measured.from_record({**m, "loader": {"a": {}}})



def test_00_states_the_argsort_sample_and_never_repeats_the_420k_comment_as_fact():
    """Issue 18: the argsort comparison says it used whole sessions (count vs ARGSORT_PREDICTIONS), the
    original's '420k' comment is set against the genuine ML-1M count, and the effect column is named for
    what it holds."""
    assert P.MEASURED_EFFECT == "measured effect"
    said = P.rating_comment_text()
    assert "claimed" in said and "420k" in said and "163,731" in said and "1,000,209" in said and "16.4%" in said
    assert "was wrong" in said
    m = {
        "dataset": "x", "synthetic": True, "batch_size": 8,
        "time": {k: {"first_shown": "1970-01-01", "last_shown": "1970-01-10", "test_users": 3, "test_user_ids": [7, 9],
                     "test_ends": ["2000-01-01", "2001-01-01"], "test_ends_first": v}
                 for k, v in ((P.ROW_TIME, 0.5), (P.REAL_TIME, 0.0), (P.FIXED_TIME, 0.0))},
        "loader": {k: {"steps": 7, "hit_cap": False, "pairs": 50, "crossing_pairs": 0, "wrapped_pairs": 0,
                       "mixed_steps": 0, "expected_pairs": 50} for k in (P.LOADER_SHIFTED, P.LOADER_ORIGINAL, P.LOADER_FIXED)},
        "unseen": {"test_hit": 0, "valid_hit": 0, "test_events": 30, "valid_events": 20,
                   "faulty": {"recall@20": 0.1}, "fixed": {"recall@20": 0.1}},
        "speed": {P.SPEED_ONEHOT: {"input_bytes_per_step": 2_000_000, "seconds_per_step": 0.2, "full_batch_rate": 40},
                  P.SPEED_COMPILED: {"input_bytes_per_step": 64, "seconds_per_step": 0.01, "full_batch_rate": 800}},
        "ranking": {"predictions": 1977, "untied": 1363, "identical": 1363, "max_predictions": 2000,
                    "seconds_per_10k": {P.RANKING_ARGSORT: 40.0, P.RANKING_VECTORIZED: 2.0}},
        "rating_filter": {"dropped": 16, "ratings": 100, "dropped_share": 0.16},
        "sessions": {P.SESSIONS_USER: {"sessions": 3, "median_length": 30, "median_days": 80},
                     P.SESSIONS_GAP: {"sessions": 12, "median_length": 6, "median_days": 0.01}},
    }
    found = findings.what_went_wrong(m)
    assert "1,977 predictions, as many as fit in `ARGSORT_PREDICTIONS` = 2,000, since a session is never cut" in found.markdown
    assert found.numbers["ranking_predictions"] == 1977 and found.numbers["ranking_max_predictions"] == 2000
    assert said in found.markdown and "dropped 16 of 100 ratings (16.0%) on x" in found.markdown
    longer = {**m, "ranking": {**m["ranking"], "predictions": 2100}}  # one session longer than the cap
    assert "2,100 predictions, one session, longer than `ARGSORT_PREDICTIONS` = 2,000" in findings.what_went_wrong(longer).markdown
    older = {**m, "ranking": {k: v for k, v in m["ranking"].items() if k != "max_predictions"}}
    assert "ARGSORT_PREDICTIONS" not in findings.what_went_wrong(older).markdown  # not recorded: not claimed
    assert P.summary_table(m).columns[1] == P.MEASURED_EFFECT


def test_notebook_00_counts_its_faults_consistently_and_flags_the_420k_comment():
    """The intro's count covers the loader's second fault the findings report; the 420k comment is not stated as fact."""
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "00_what_went_wrong.ipynb", as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "six faults" not in md and "seven faults, in the six rows of the table below: one\nfault per row" in md
    assert "except row 2, which holds two" in md
    assert "(two faults)" in md
    assert "`measured cost`" not in md and "`measured effect`" in md
    assert "420k" in md and "that claim is wrong" in md and "163,731" in md
    assert "`train_on_batch` call for every step (one Python round trip per training step" in md
    assert "first whole test sessions" in md
