"""Baselines on tiny hand-made sessions with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.columns import ITEM, SESSION, TIME
from sbrlib.evaluation import EvalConfig, evaluate
from sbrlib.models import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop
from sbrlib.models.baselines import ItemKNNConfig, VSKNNConfig


def sessions(*seqs, t0=0):
    rows = []
    for s, seq in enumerate(seqs):
        rows += [(s, item, t0 + 1000 * s + p) for p, item in enumerate(seq)]
    return pd.DataFrame(rows, columns=[SESSION, ITEM, TIME])


def scores_after(model, seq):
    idx = model.item_index.to_idx(np.array(seq))
    model.reset(1)
    for p, item in enumerate(idx):
        out = model.step(np.array([item]), np.array([p == 0]))
    return pd.Series(out[0], index=model.item_index.ids)


def test_pop():
    model = Pop().fit(sessions([1, 2], [2, 3], [2, 1]))
    s = scores_after(model, [3])
    assert s.idxmax() == 2 and s[1] > s[3]


def test_session_pop_counts_then_popularity():
    model = SessionPop().fit(sessions([1, 2], [2, 3], [2, 4], [4, 5]))
    s = scores_after(model, [5, 3, 5])
    assert s.idxmax() == 5
    assert s[3] > s[2]  # in-session beats globally popular
    assert s[2] > s[4] > s[1]  # then global popularity


def test_item_knn_formula():
    model = ItemKNN(ItemKNNConfig(lam=0.0, alpha=0.5)).fit(sessions([1, 2], [1, 2], [1, 3]))
    s = scores_after(model, [1])
    assert s[2] == pytest.approx(2 / np.sqrt(3 * 2))
    assert s[3] == pytest.approx(1 / np.sqrt(3 * 1))
    assert s[1] < 1e-5  # no self-similarity


def test_sequential_rules_distance_weights():
    model = SequentialRules().fit(sessions([1, 2, 3]))
    s = scores_after(model, [1])
    assert s[2] == pytest.approx(1.0, abs=1e-5)
    assert s[3] == pytest.approx(0.5, abs=1e-5)
    assert scores_after(model, [3]).max() < 1e-5  # nothing follows 3


def test_markov_probabilities():
    model = Markov().fit(sessions([1, 2], [1, 2], [1, 3]))
    s = scores_after(model, [1])
    assert s[2] == pytest.approx(2 / 3, abs=1e-5) and s[3] == pytest.approx(1 / 3, abs=1e-5)


def test_vsknn_recent_sample_and_decay():
    train = sessions([1, 2], [1, 3], [4, 5])  # session 1 ({1,3}) is the most recent with item 1
    s = scores_after(VSKNN(VSKNNConfig(k=10, sample_size=10)).fit(train), [1])
    assert s[2] == pytest.approx(s[3], rel=1e-4) and s[2] > 0.1
    assert s[4] < 1e-5
    s1 = scores_after(VSKNN(VSKNNConfig(k=10, sample_size=1)).fit(train), [1])
    assert s1[3] > 0.1 and s1[2] < 1e-5  # only the most recent neighbour
    # linear decay: the latest item of the current session weighs more
    train2 = sessions([1, 7], [2, 8])
    s2 = scores_after(VSKNN(VSKNNConfig(k=10, sample_size=10)).fit(train2), [1, 2])
    assert s2[8] > s2[7]


@pytest.mark.parametrize("cls", [Pop, SessionPop, ItemKNN, SequentialRules, Markov, VSKNN])
def test_baselines_through_the_evaluator(cls):
    train = sessions(*[[i % 6, (i + 1) % 6, (i + 2) % 6] for i in range(30)])
    test = sessions(*[[i % 6, (i + 1) % 6] for i in range(10)], t0=10**6)
    res = evaluate(cls().fit(train), test, EvalConfig(batch_size=3), progress=False)
    assert res.metrics["predictions"] == 10
    if cls in (SequentialRules, Markov):  # (Item-kNN is symmetric: i-1 and i+1 tie)
        assert res.metrics["recall@1"] == 1.0  # the deterministic successor is learned
