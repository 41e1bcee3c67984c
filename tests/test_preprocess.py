"""Sessionization and temporal split: examples and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import ratings_frame, ratings_frames

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.core.errors import DataError
from sbrlib.data import preprocess as pp
from sbrlib.data.item_index import ItemIndex

frame = ratings_frame


def test_order_is_stable_with_file_tie_break():
    df = frame([(1, 5, 3, 10), (1, 3, 3, 10), (1, 4, 3, 5), (0, 9, 3, 99)])
    out = pp.order_events(df, "file")
    assert out[ITEM].tolist() == [9, 4, 5, 3]
    assert pp.order_events(df, "item")[ITEM].tolist() == [9, 4, 3, 5]


def test_sessionize_gap_and_user():
    df = frame([(1, 1, 3, 0), (1, 2, 3, 100), (1, 3, 3, 5000), (2, 1, 3, 5001)])
    assert pp.sessionize(df, "gap", 3600)[SESSION].tolist() == [0, 0, 1, 2]
    assert pp.sessionize(df, "user")[SESSION].tolist() == [0, 0, 0, 1]


def test_sessionize_rejects_unsorted():
    with pytest.raises(DataError, match="order_events first"):
        pp.sessionize(frame([(1, 1, 3, 10), (1, 2, 3, 5)]))


def test_filter_sessions_iterates_to_fixpoint():
    # item 9 has support 1 -> removed -> session 1 becomes length 1 -> removed -> item 2 support drops
    df = pd.DataFrame({SESSION: [0, 0, 1, 1, 2, 2], ITEM: [1, 2, 2, 9, 1, 3], TIME: range(6)})
    out = pp.filter_sessions(df, min_session_length=2, min_item_support=2)
    assert out.empty or (out.groupby(ITEM).size() >= 2).all() and (out.groupby(SESSION).size() >= 2).all()


def test_item_index_never_maps_unknown_silently():
    index = ItemIndex(np.array([3, 7, 10]))
    assert index.to_idx(np.array([10, 3])).tolist() == [2, 0]
    with pytest.raises(KeyError, match="not in the training item index"):
        index.to_idx(np.array([4]))
    assert index.to_idx(np.array([4, 7]), missing="mask").tolist() == [-1, 1]


def test_config_validation():
    with pytest.raises(ValueError, match="session_mode"):
        pp.PreprocessConfig(session_mode="day")
    with pytest.raises(ValueError, match="fraction"):
        pp.PreprocessConfig(test=pp.SplitConfig(fraction=1.5))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=ratings_frames(), gap=st.sampled_from([0, 900, 3600]), mode=st.sampled_from(["gap", "user"]),
       tie=st.sampled_from(["file", "item", "random"]))
def test_sessionization_properties(df, gap, mode, tie):
    original = df.copy()
    ordered = pp.order_events(df, tie, seed=1)
    sess = pp.sessionize(ordered, mode, max(gap, 1))
    pd.testing.assert_frame_equal(df, original)  # input untouched
    # sessions are contiguous, single-user, and time never decreases inside a session
    assert (sess.groupby(SESSION)[USER].nunique() == 1).all()
    starts = np.r_[True, sess[SESSION].to_numpy()[1:] != sess[SESSION].to_numpy()[:-1]]
    assert starts.sum() == sess[SESSION].nunique()
    assert (sess.groupby(SESSION)[TIME].apply(lambda t: t.is_monotonic_increasing)).all()
    # same multiset of events
    key = [USER, ITEM, RATING, TIME]
    pd.testing.assert_frame_equal(sess[key].sort_values(key).reset_index(drop=True),
                                  df[key].sort_values(key).reset_index(drop=True))
    # deterministic
    pd.testing.assert_frame_equal(sess, pp.sessionize(pp.order_events(df, tie, seed=1), mode, max(gap, 1)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=ratings_frames(), rule=st.sampled_from(["start", "end"]), q=st.floats(0.05, 0.95))
def test_split_properties(df, rule, q):
    events = pp.sessionize(pp.order_events(df), "gap", 1800)
    cutoff = int(np.quantile(events[TIME], q))
    train, test = pp.temporal_split(events, cutoff, rule)
    if rule == "start":
        assert (test[TIME] > cutoff).all()  # no test event before the cutoff
    else:
        assert (train[TIME] <= cutoff).all()  # no training event after the cutoff
    assert not set(train[SESSION]) & set(test[SESSION])  # no session in two parts
    assert test[ITEM].isin(train[ITEM]).all()  # every test item in the train index
    assert (test.groupby(SESSION).size() >= 2).all() if len(test) else True
    # order within sessions preserved: test rows appear in the same relative order as in events
    for frame_ in (train, test):
        pos = events.reset_index().merge(frame_, on=list(events.columns))["index"]
        assert pos.is_monotonic_increasing
    again = pp.temporal_split(events, cutoff, rule)
    pd.testing.assert_frame_equal(train, again[0])
    pd.testing.assert_frame_equal(test, again[1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=ratings_frames(max_rows=200))
def test_full_pipeline_properties(df):
    cfg = pp.PreprocessConfig(min_item_support=1, test=pp.SplitConfig(fraction=0.3),
                              valid=pp.SplitConfig(fraction=0.3))
    try:
        split = pp.preprocess(df, cfg)
    except DataError:
        return  # too little data for a split: a clear error is the right answer
    for train_key, held_key in (("train", "test"), ("train_tr", "valid")):
        train, held = split[train_key], split[held_key]
        assert held[ITEM].isin(train[ITEM]).all()
        assert (held[TIME] > split.cutoffs[held_key]).all()
        assert not set(train[SESSION]) & set(held[SESSION])
    assert set(split["train_tr"][SESSION]) | set(split["valid"][SESSION]) <= set(split["train"][SESSION])


def test_rating_filter_threshold():
    df = frame([(1, 1, 2, 0), (1, 2, 3, 1), (1, 3, 5, 2)])
    assert pp.filter_ratings(df, 3)[ITEM].tolist() == [2, 3]
    assert len(pp.filter_ratings(df, None)) == 3


def test_stats_columns():
    df = pp.sessionize(pp.order_events(frame([(1, 1, 3, 0), (1, 2, 3, 1), (2, 1, 3, 5)])), "user")
    row = pp.stats(df, "x").iloc[0]
    assert row["events"] == 3 and row["sessions"] == 2 and row["items"] == 2 and row["len_max"] == 2
