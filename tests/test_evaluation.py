"""Metrics, tie policies and the evaluator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data.item_index import ItemIndex
from sbrlib.evaluation import metrics as M
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models.base import SessionModel


def test_metrics_hand_computed():
    ranks = np.array([1.0, 3.0, 25.0])
    assert M.recall(ranks, 20) == pytest.approx(2 / 3)
    assert M.mrr(ranks, 20) == pytest.approx((1 + 1 / 3) / 3)
    assert M.ndcg(ranks, 20) == pytest.approx((1 + 0.5) / 3)
    assert M.recall(ranks, 2) == pytest.approx(1 / 3)
    np.testing.assert_allclose(M.recall_curve(ranks, 4), [1 / 3, 1 / 3, 2 / 3, 2 / 3])


def test_tie_policies():
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.0]])
    target = np.array([2])
    assert M.ranks_from_scores(scores, target, "standard")[0] == 1
    assert M.ranks_from_scores(scores, target, "conservative")[0] == 3
    assert M.ranks_from_scores(scores, target, "median")[0] == 2
    constant = np.zeros((1, 5))
    assert M.ranks_from_scores(constant, np.array([0]))[0] == 5  # a constant scorer earns nothing
    with pytest.raises(ValueError, match="tie policy"):
        M.ranks_from_scores(scores, target, "optimistic")


@settings(max_examples=100, deadline=None)
@given(scores=arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 12)), elements=st.integers(0, 4)),
       data=st.data(), k=st.integers(1, 12))
def test_ranks_and_metrics_match_brute_force(scores, data, k):
    n = scores.shape[1]
    targets = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=len(scores), max_size=len(scores))))
    for policy in M.TIE_POLICIES:
        got = M.ranks_from_scores(scores, targets, policy)
        for row, t in enumerate(targets):
            higher = sum(scores[row, j] > scores[row, t] for j in range(n))
            geq = sum(scores[row, j] >= scores[row, t] for j in range(n))
            want = {"standard": higher + 1, "conservative": geq, "median": (higher + 1 + geq) / 2}[policy]
            assert got[row] == want
    ranks = M.ranks_from_scores(scores, targets, "standard")
    assert M.recall(ranks, k) == pytest.approx(np.mean([r <= k for r in ranks]))
    assert M.mrr(ranks, k) == pytest.approx(np.mean([1 / r if r <= k else 0 for r in ranks]))
    assert M.ndcg(ranks, k) == pytest.approx(np.mean([1 / np.log2(r + 1) if r <= k else 0 for r in ranks]))


def _reference_ranks(scores: np.ndarray, targets: np.ndarray, policy: str) -> np.ndarray:
    """The plain rank counting (the former implementation): float32, NaN -> -inf, +-inf -> +-max."""
    clean = np.nan_to_num(np.asarray(scores, dtype=np.float32), nan=-np.inf)
    t = clean[np.arange(len(targets)), targets][:, None]
    higher = (clean > t).sum(axis=1)
    geq = (clean >= t).sum(axis=1)
    return {"standard": higher + 1.0, "conservative": geq.astype(np.float64), "median": (higher + 1.0 + geq) / 2.0}[policy]


_F32_MAX = float(np.finfo(np.float32).max)
_SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, _F32_MAX, -_F32_MAX, 0.0, -0.0, 1e-45])


@settings(max_examples=200, deadline=None)
@given(shape=st.tuples(st.integers(1, 40), st.integers(1, 60)), data=st.data(),
       dtype=st.sampled_from([np.float32, np.float64]), block=st.sampled_from([1, 7, 64, 1 << 16]))
def test_blocked_rank_counting_matches_the_plain_reference(shape, data, dtype, block):
    """Random scores with many ties, NaN, +-inf and float32's extremes (also as targets), float64
    input (compared as float32) and blocks of one row up to all rows: exactly the reference ranks."""
    values = st.one_of(st.integers(-3, 3).map(float), st.floats(-2, 2, width=32), _SPECIAL)
    scores = data.draw(arrays(dtype, shape, elements=values))
    targets = np.array(data.draw(st.lists(st.integers(0, shape[1] - 1), min_size=shape[0], max_size=shape[0])))
    saved = M._BLOCK_ELEMENTS
    M._BLOCK_ELEMENTS = block
    try:
        for policy in M.TIE_POLICIES:
            got = M.ranks_from_scores(scores, targets, policy)
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, _reference_ranks(scores, targets, policy))
    finally:
        M._BLOCK_ELEMENTS = saved


def test_rank_counting_rejects_mismatched_shapes_and_leaves_scores_unchanged():
    scores = np.array([[np.nan, 1.0, -np.inf, 1.0]], np.float32)
    before = scores.copy()
    np.testing.assert_array_equal(M.ranks_from_scores(scores, np.array([1])), [2.0])
    np.testing.assert_array_equal(scores, before)
    with pytest.raises(ValueError, match="shape"):
        M.ranks_from_scores(scores, np.array([0, 1]))


class NextIdModel(SessionModel):
    """Scores item+1 highest (an oracle for sessions following i -> i+1), or a constant."""

    def __init__(self, n_items: int, constant: bool = False):
        self.item_index = ItemIndex(np.arange(n_items), np.arange(n_items) + 1)
        self.constant = constant
        self.name = "constant" if constant else "oracle"

    def fit(self, train):
        return self

    def reset(self, batch_size):
        pass

    def step(self, items, starts, users=None, active=None):
        scores = np.zeros((len(items), self.n_items), np.float32)
        if not self.constant:
            scores[np.arange(len(items)), (np.asarray(items) + 1) % self.n_items] = 1.0
        return scores


def chain_sessions(n_sessions=30, n_items=20):
    rows = []
    for s in range(n_sessions):
        for p in range(2 + s % 5):
            rows.append((s, (s + p) % n_items, 100 * s + p))
    return pd.DataFrame(rows, columns=[SESSION, ITEM, TIME])


def test_oracle_gets_recall1_one_and_constant_zero():
    test = chain_sessions()
    oracle = evaluate(NextIdModel(20), test, EvalConfig(batch_size=7), progress=False)
    assert oracle.metrics["recall@1"] == 1.0 and oracle.metrics["mrr@20"] == 1.0
    assert oracle.metrics["predictions"] == sum(1 + s % 5 for s in range(30))
    constant = evaluate(NextIdModel(20, constant=True), test, progress=False)
    assert constant.metrics["recall@10"] == 0.0  # every target ranks last (20 of 20)
    assert constant.metrics["mrr@20"] == pytest.approx(1 / 20)
    std = evaluate(NextIdModel(20, constant=True), test, EvalConfig(tie_policy="standard"), progress=False)
    assert std.metrics["recall@1"] == 1.0  # why the optimistic policy is not the default


def test_evaluation_is_deterministic_and_breakdowns_add_up():
    test = chain_sessions()
    a = evaluate(NextIdModel(20), test, EvalConfig(batch_size=4), progress=False)
    b = evaluate(NextIdModel(20), test, EvalConfig(batch_size=4), progress=False)
    keys = [k for k in a.metrics if k != "eval_seconds"]
    assert {k: a.metrics[k] for k in keys} == {k: b.metrics[k] for k in keys}
    by_pos = a.by_group("position")
    assert by_pos["predictions"].sum() == a.metrics["predictions"]
    assert by_pos.index.min() == 1
    assert a.recall_curve(10).iloc[0] == 1.0


def test_exclude_seen_and_coverage():
    test = pd.DataFrame({SESSION: [0, 0, 0], ITEM: [1, 2, 1], TIME: [0, 1, 2]})

    class Repeat(NextIdModel):
        def step(self, items, starts, users=None, active=None):
            scores = np.zeros((len(items), self.n_items), np.float32)
            scores[:, 1] = 1.0  # always recommends item 1
            return scores

    res = evaluate(Repeat(5), test, EvalConfig(ks=(1,), coverage_ks=(1,)), progress=False)
    assert res.metrics["recall@1"] == 0.5
    assert res.metrics["coverage@1"] == pytest.approx(1 / 5)
    excl = evaluate(Repeat(5), test, EvalConfig(ks=(1,), exclude_seen=True), progress=False)
    assert excl.metrics["recall@1"] == 0.0  # the repeated target was excluded


def test_unknown_test_items_are_dropped():
    test = pd.DataFrame({SESSION: [0, 0, 0, 1, 1], ITEM: [1, 2, 99, 3, 99], TIME: range(5)})
    res = evaluate(NextIdModel(20), test, progress=False)
    assert res.metrics["predictions"] == 1  # session 1 keeps one event and is dropped


def test_exclude_seen_accepts_booleans_and_rejects_unknown_values():
    assert EvalConfig(exclude_seen=True).exclude_seen == "session"
    assert EvalConfig(exclude_seen=False).exclude_seen == "none"
    with pytest.raises(ValueError, match="exclude_seen"):
        EvalConfig(exclude_seen="all")
    with pytest.raises(ValueError, match="positions"):
        EvalConfig(positions="first")


class FixedScores(NextIdModel):
    """Scores item j with n_items - j: item 0 always first, then 1, 2, ..."""

    def step(self, items, starts, users=None, active=None):
        return np.tile(np.arange(self.n_items, 0, -1, dtype=np.float32), (len(items), 1))


def test_exclude_user_history_removes_items_rated_in_history_and_earlier_sessions():
    # user 7: history has item 0; test session 10 = [3, 1], later session 11 = [4, 2]
    history = pd.DataFrame({USER: [7, 8], ITEM: [0, 1], TIME: [0, 0], SESSION: [1, 2]})
    test = pd.DataFrame({SESSION: [10, 10, 11, 11], USER: [7, 7, 7, 7], ITEM: [3, 1, 4, 2],
                         TIME: [100, 101, 5000, 5001]})
    model = FixedScores(6)
    none = evaluate(model, test, EvalConfig(ks=(1,)), progress=False)
    sess = evaluate(model, test, EvalConfig(ks=(1,), exclude_seen="session"), progress=False)
    user = evaluate(model, test, EvalConfig(ks=(1,), exclude_seen="user"), progress=False, history=history)
    by_session = {name: r.predictions.set_index(SESSION)["rank"].to_dict() for name, r in
                  (("none", none), ("session", sess), ("user", user))}
    # session 10 predicts 1 after [3]: item 0 ranks above it unless the history (item 0) is excluded
    assert by_session["none"][10] == 2 and by_session["session"][10] == 2 and by_session["user"][10] == 1
    # session 11 predicts 2 after [4]: items 0 (history) and 1 (earlier test session) are excluded
    assert by_session["none"][11] == 3 and by_session["user"][11] == 1
    assert user.metrics["excluded_targets"] == 0 and user.metrics["exclude_seen"] == "user"
    with pytest.raises(ValueError, match="UserId"):
        evaluate(model, test.drop(columns=USER), EvalConfig(exclude_seen="user"), progress=False, history=history)


def test_a_target_already_rated_counts_as_excluded_miss():
    history = pd.DataFrame({USER: [7], ITEM: [2], TIME: [0]})
    test = pd.DataFrame({SESSION: [10, 10], USER: [7, 7], ITEM: [3, 2], TIME: [100, 101]})
    res = evaluate(FixedScores(6), test, EvalConfig(ks=(1,), exclude_seen="user"), progress=False, history=history)
    assert res.metrics["excluded_targets"] == 1 and res.predictions["rank"].iloc[0] == 6


def test_user_exclusion_matches_a_per_prediction_reference():
    rng = np.random.default_rng(3)
    n_items = 15
    rows, t = [], 0
    for s in range(40):
        user = s % 6
        for _ in range(int(rng.integers(2, 6))):
            rows.append((s, user, int(rng.integers(n_items)), t))
            t += 1
    test = pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])
    history = pd.DataFrame({USER: rng.integers(0, 6, 30), ITEM: rng.integers(0, n_items, 30), TIME: 0})
    res = evaluate(FixedScores(n_items), test, EvalConfig(ks=(5,), exclude_seen="user", batch_size=3),
                   progress=False, history=history)
    want = {}
    for (s, user, _item, time_), nxt in zip(rows[:-1], rows[1:]):
        if nxt[0] != s:
            continue
        before = set(history.loc[history[USER] == user, ITEM]) | {r[2] for r in rows if r[1] == user and r[3] <= time_}
        target = nxt[2]
        ranked = [j for j in range(n_items) if j not in before]  # FixedScores: lower index first
        want[(s, time_)] = ranked.index(target) + 1 if target not in before else n_items
    got = res.predictions.sort_values([SESSION, "position"])["rank"].tolist()
    assert got == [want[k] for k in sorted(want)]


def test_positions_last_keeps_one_prediction_per_session():
    test = chain_sessions()
    every = evaluate(NextIdModel(20), test, EvalConfig(batch_size=4), progress=False)
    last = evaluate(NextIdModel(20), test, EvalConfig(batch_size=4, positions="last"), progress=False)
    assert last.metrics["predictions"] == test[SESSION].nunique()
    assert (last.predictions["position"] == last.predictions["session_length"] - 1).all()
    merged = last.predictions.merge(every.predictions, on=[SESSION, "position"], suffixes=("", "_all"))
    assert len(merged) == len(last.predictions) and (merged["rank"] == merged["rank_all"]).all()


def test_popularity_per_prediction_averages_to_the_metric():
    res = evaluate(NextIdModel(20), chain_sessions(), EvalConfig(coverage_ks=(5, 20)), progress=False)
    for k in (5, 20):
        assert res.predictions[f"popularity@{k}"].mean() == pytest.approx(res.metrics[f"popularity@{k}"])
