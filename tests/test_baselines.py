"""Baselines on tiny hand-made sessions with known answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, SESSION, TIME
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop
from sbrlib.models.baselines import ItemKNNConfig, SRConfig, VSKNNConfig


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


@pytest.mark.parametrize("weighting", ["div", "linear", "quadratic", "log", "one"])
def test_sequential_rules_weightings(weighting):
    from sbrlib.models.baselines import rule_weights

    model = SequentialRules(SRConfig(steps=3, weighting=weighting)).fit(sessions([1, 2, 3, 4, 5]))
    s = scores_after(model, [1])
    want = rule_weights(np.array([1, 2, 3]), weighting)
    np.testing.assert_allclose([s[2], s[3], s[4]], want, atol=1e-5)
    assert s[5] < 1e-5  # beyond `steps`


def test_rule_and_position_weights_definitions():
    from sbrlib.models.baselines import position_weights, rule_weights

    d = np.array([1, 2, 11])
    np.testing.assert_allclose(rule_weights(d, "div"), [1, 0.5, 1 / 11])
    np.testing.assert_allclose(rule_weights(d, "linear"), [1, 0.9, 0])
    np.testing.assert_allclose(rule_weights(d, "quadratic"), [1, 0.81, 0])
    np.testing.assert_allclose(rule_weights(d, "log"), 1 / np.log2(d + 1))
    p = np.array([1, 2, 4])
    np.testing.assert_allclose(position_weights(p, 4, "linear"), [0.25, 0.5, 1])
    np.testing.assert_allclose(position_weights(p, 4, "quadratic"), [1 / 16, 0.25, 1])
    np.testing.assert_allclose(position_weights(p, 4, "div"), [1, 0.5, 0.25])
    np.testing.assert_allclose(position_weights(p, 4, "log"), 1 / np.log10(p + 1.7))
    with pytest.raises(ValueError, match="weighting"):
        SRConfig(weighting="cubic")
    with pytest.raises(ValueError, match="weighting"):
        VSKNNConfig(weighting="cubic")


def vsknn_reference(train_seqs, prefix, cfg):
    """Direct V-SKNN: weighted current session, sample of recent sessions, cosine, top-k sum."""
    from sbrlib.models.baselines import position_weights

    n_sessions = len(train_seqs)  # session s ends at time s: higher s is more recent
    support = Counter(i for seq in train_seqs for i in set(seq))
    L = len(prefix)
    latest = {item: p for p, item in enumerate(prefix, start=1)}
    w = {i: float(position_weights(np.array([p]), L, cfg.weighting)[0])
         * (np.log(n_sessions / support[i]) if cfg.idf_weighting else 1.0) for i, p in latest.items()}
    norm = np.sqrt(sum(v * v for v in w.values()))
    sharing = [s for s in range(n_sessions - 1, -1, -1) if set(train_seqs[s]) & set(w)][: cfg.sample_size]
    sims = [(sum(w[i] for i in set(train_seqs[s]) & set(w)) / (norm * np.sqrt(len(set(train_seqs[s])))), s)
            for s in sharing]
    sims.sort(key=lambda x: (-x[0], -x[1]))  # ties: more recent first
    scores = Counter()
    for sim, s in sims[: cfg.k]:
        for j in set(train_seqs[s]):
            scores[j] += sim
    return scores


@pytest.mark.parametrize("cfg", [VSKNNConfig(k=3, sample_size=6), VSKNNConfig(k=2, sample_size=4, weighting="div"),
                                 VSKNNConfig(k=4, sample_size=5, weighting="quadratic", idf_weighting=True),
                                 VSKNNConfig(k=3, sample_size=50, weighting="log"),
                                 VSKNNConfig(k=5, sample_size=3, weighting="same", idf_weighting=True)])
def test_vsknn_matches_direct_computation(cfg):
    rng = np.random.default_rng(11)
    train_seqs = [rng.integers(0, 12, rng.integers(2, 7)).tolist() for _ in range(40)]
    train = sessions(*train_seqs)
    model = VSKNN(cfg).fit(train)
    batch = [rng.integers(0, 12, 6).tolist() for _ in range(3)]  # 3 slots stepped together (repeats included)
    model.reset(3)
    for t in range(6):
        items = model.item_index.to_idx(np.array([seq[t] for seq in batch]))
        out = model.step(items, np.full(3, t == 0), active=np.array([True, True, t < 4]))
        for slot in range(3 if t < 4 else 2):
            want = vsknn_reference(train_seqs, batch[slot][: t + 1], cfg)
            got = pd.Series(out[slot], index=model.item_index.ids)
            np.testing.assert_allclose(got.to_numpy(), [want.get(i, 0.0) for i in got.index], atol=2e-6,
                                       err_msg=f"slot {slot} step {t}")
