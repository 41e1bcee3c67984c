"""SASRec: causal masking, padding, training rows, losses, learning a rule, step vs direct scoring,
save/load, recommend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib import recommend as R
from sbrlib import training
from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.core.errors import ModelFileError
from sbrlib.data.item_index import ItemIndex
from sbrlib.evaluation import evaluator as evaluation
from sbrlib.models.sasrec import SASRec, SASRecConfig
from sbrlib.models.sasrec import network as N
from sbrlib.models.sasrec.sequences import epoch_batches, length_buckets, training_rows

tf = pytest.importorskip("tensorflow")


def rule_sessions(n_sessions: int, n_items: int = 30, max_length: int = 12, seed: int = 0) -> pd.DataFrame:
    """Sessions where item i is always followed by item i+1 (mod n_items)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        start, length = rng.integers(0, n_items), rng.integers(2, max_length + 1)
        rows += [(s, s % 50, (start + p) % n_items, 1000 * s + p) for p in range(length)]
    return pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])


def untrained(n_items: int = 20, **overrides) -> SASRec:
    cfg = SASRecConfig(**{"max_len": 8, "blocks": 2, "heads": 2, "dim": 16, "dropout": 0.2, "seed": 1,
                          "jit_compile": False, **overrides})
    return SASRec(cfg).build(ItemIndex(np.arange(n_items), np.arange(1, n_items + 1)))


def test_causal_masking():
    model = untrained()
    a = np.array([[3, 5, 7, 9, 11, 13]])
    b = np.array([[3, 5, 7, 2, 4, 6]])  # same prefix, different later items
    sa, sb = model.score_sequences(a), model.score_sequences(b)
    np.testing.assert_allclose(sa[0, :3], sb[0, :3], rtol=1e-5, atol=1e-5)
    assert not np.allclose(sa[0, 3], sb[0, 3])


def test_left_padding_does_not_change_real_positions():
    model = untrained()
    seq = np.array([4, 1, 8, 8, 2])
    plain = model.score_sequences(seq[None])
    padded = model.score_sequences(np.r_[[-1, -1, -1], seq][None])  # 3 padding positions on the left
    np.testing.assert_allclose(padded[0, 3:], plain[0], rtol=1e-5, atol=1e-5)
    # a batch mixing lengths gives every row the scores it gets alone
    batch = np.array([np.r_[[-1, -1, -1], seq], [0, 1, 2, 3, 4, 5, 6, 7]])
    np.testing.assert_allclose(model.score_sequences(batch)[0, 3:], plain[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("overrides", [{}, {"layer_norm": "post"}, {"layer_norm": "pre", "ffn_dim": 24}])
def test_step_agrees_with_direct_scoring(overrides):
    """The evaluator's incremental interface (shift buffer, length buckets, slot restarts, windows
    longer than max_len) gives the scores of direct full-sequence scoring, for every block layout."""
    model = untrained(max_len=5, **overrides)
    sessions = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 3], [0, 11, 12, 13, 14, 15, 16, 17, 18]]
    model.reset(2)
    got = {}
    # slot 0 runs session 0; slot 1 runs session 1 then session 2 (restart)
    steps = []
    for t in range(8):
        s1 = (1, t) if t < 2 else (2, t - 2)
        steps.append(((0, t), s1))
    steps += [(None, (2, t)) for t in range(6, 9)]
    for left, right in steps:
        items, starts, active = np.zeros(2, int), np.zeros(2, bool), np.zeros(2, bool)
        for slot, cur in enumerate((left, right)):
            if cur is None:
                continue
            sess, pos = cur
            items[slot], starts[slot], active[slot] = sessions[sess][pos], pos == 0, True
        scores = model.step(items, starts, active=active)
        for slot, cur in enumerate((left, right)):
            if cur is not None:
                got[cur] = scores[slot]
    for (sess, pos), scores in got.items():
        window = np.array(sessions[sess][max(0, pos + 1 - 5): pos + 1])
        direct = model.score_sequences(window[None])[0, -1]
        np.testing.assert_allclose(scores, direct, rtol=1e-4, atol=1e-4, err_msg=f"session {sess} position {pos}")


def test_training_rows_windows_and_last():
    sessions = np.r_[np.zeros(7, int), np.ones(2, int), np.full(1, 2)]
    items = np.r_[np.arange(7), [10, 11], [12]]
    rows = training_rows(sessions, items, max_len=4, long_sequences="windows", smallest_bucket=2)
    assert rows.buckets == (2, 4)
    pairs = set()
    for inp, tgt in zip(rows.inputs, rows.targets, strict=True):
        for r in range(len(inp)):
            real = inp[r] > 0
            assert (tgt[r] > 0).tolist() == real.tolist()
            assert not real[: np.argmax(real)].any() and real[np.argmax(real):].all()  # left padding
            pairs |= {(int(i) - 1, int(t) - 1) for i, t in zip(inp[r][real], tgt[r][real], strict=True)}
    assert pairs == {(i, i + 1) for i in range(6)} | {(10, 11)}  # every pair once; session 2 has none
    assert rows.n_targets == 7 and rows.n_rows == 3  # session 0: windows of 4 and 2 pairs
    last = training_rows(sessions, items, max_len=4, long_sequences="last", smallest_bucket=2)
    assert last.n_targets == 5
    assert [r.tolist() for r in last.inputs[1]] == [[3, 4, 5, 6]]  # the last 4 inputs of session 0 (+1)
    batches = epoch_batches(rows, 2, np.random.default_rng(0))
    assert sorted(len(ix) for _, ix in batches) == [1, 2]


def _visible_history(rows):
    """(input item, target item, items visible to the target) of every counted target of ``rows``."""
    out = []
    for inp, tgt in zip(rows.inputs, rows.targets, strict=True):
        for r in range(len(inp)):
            real = np.flatnonzero(inp[r] > 0)
            assert (np.diff(real) == 1).all() and (len(real) == 0 or real[-1] == inp.shape[1] - 1)  # left padding
            assert ((tgt[r] > 0) <= (inp[r] > 0)).all()  # a target only where there is an input
            for c in np.flatnonzero(tgt[r] > 0):
                out.append((int(inp[r, c]) - 1, int(tgt[r, c]) - 1, [int(i) - 1 for i in inp[r, real[0]: c + 1]]))
    return out


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_training_rows_sliding_history_and_no_leakage(stride):
    """Every pair is trained once; its target sees exactly the items before it (no future item):
    min(position, max_len) of them with stride 1 (per-prefix), at least max_len - stride + 1 otherwise."""
    rng = np.random.default_rng(stride)
    lengths = np.r_[1, 2, 5, 6, 7, 11, 17]
    sessions = np.repeat(np.arange(len(lengths)), lengths)
    items = rng.permutation(len(sessions))  # distinct items: an item names its session and position
    where = {int(i): (int(s), p) for s, p, i in zip(sessions, np.concatenate([np.arange(n) for n in lengths]), items,
                                                    strict=True)}
    max_len = 4
    rows = training_rows(sessions, items, max_len=max_len, long_sequences="sliding", smallest_bucket=2, stride=stride)
    seen = _visible_history(rows)
    assert len(seen) == rows.n_targets == int((lengths - 1).sum())
    assert {(i, t) for i, t, _ in seen} == {(int(a), int(b)) for a, b, s, s2 in
                                            zip(items[:-1], items[1:], sessions[:-1], sessions[1:], strict=True) if s == s2}
    for inp, tgt, history in seen:
        sess, pos = where[inp]
        assert where[tgt] == (sess, pos + 1)
        start = np.flatnonzero(sessions == sess)[0]
        assert history == items[start + pos + 1 - len(history): start + pos + 1].tolist()  # the items just before
        want = min(pos + 1, max_len)
        if stride == 1:
            assert len(history) == want
        else:
            assert min(pos + 1, max_len - stride + 1) <= len(history) <= want
    if stride == 1:  # session of 17 items: 16 pairs -> 1 + 12 rows
        assert rows.n_rows == sum(1 + max(0, n - 1 - max_len) for n in lengths if n >= 2)


def test_training_rows_sliding_with_stride_max_len_is_windows():
    sessions = np.repeat(np.arange(4), [3, 9, 14, 1])
    items = np.arange(len(sessions)) % 7
    a = training_rows(sessions, items, max_len=4, long_sequences="windows", smallest_bucket=2)
    b = training_rows(sessions, items, max_len=4, long_sequences="sliding", smallest_bucket=2, stride=4)
    for x, y in zip(a.inputs + a.targets, b.inputs + b.targets, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="stride"):
        training_rows(sessions, items, max_len=4, long_sequences="sliding", stride=0)


def test_windows_short_history_that_sliding_fixes():
    """With non-overlapping windows a target after a window boundary sees fewer items than max_len."""
    sessions, items = np.zeros(10, int), np.arange(10)
    windows = _visible_history(training_rows(sessions, items, max_len=4, long_sequences="windows", smallest_bucket=2))
    sliding = _visible_history(training_rows(sessions, items, max_len=4, long_sequences="sliding", smallest_bucket=2))
    short = lambda seen: sorted(t for i, t, h in seen if len(h) < min(i + 1, 4))  # noqa: E731 (items = positions)
    assert short(windows) == [2, 3, 4, 6, 7, 8] and short(sliding) == []  # windows: pairs [0], [1..4], [5..8]


def test_length_buckets():
    assert length_buckets(200) == (16, 32, 64, 128, 200)
    assert length_buckets(16) == (16,)
    assert length_buckets(5) == (5,)


def _np_log_sigmoid(x):
    return -np.logaddexp(0, -x)


def test_sampled_losses_match_numpy():
    rng = np.random.default_rng(3)
    hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
    items = rng.normal(size=(6, 4)).astype(np.float32)
    targets = np.array([[0, 2, 3], [1, 6, 5]], np.int32)  # shifted ids, 0 = no target
    negs = np.array([1, 4, 5], np.int32)
    log_p = np.log(np.arange(1, 7) / 21.0).astype(np.float32)
    got, n = N.sampled_softmax(*map(tf.constant, (hidden, targets, items, negs, log_p)))
    got_g, _ = N.gbce(*map(tf.constant, (hidden, targets, items, negs)), beta=0.4)
    want = want_g = 0.0
    for b in range(2):
        for t in range(3):
            if targets[b, t] == 0:
                continue
            y = targets[b, t] - 1
            pos = hidden[b, t] @ items[y]
            neg = items[negs] @ hidden[b, t]
            ok = negs != y
            logits = np.r_[pos - log_p[y], (neg - log_p[negs])[ok]]
            want += np.log(np.exp(logits).sum()) - logits[0]
            want_g += -0.4 * _np_log_sigmoid(pos) - _np_log_sigmoid(-neg[ok]).sum()
    assert float(n) == 5
    assert float(got) == pytest.approx(want, rel=1e-5)
    assert float(got_g) == pytest.approx(want_g, rel=1e-5)
    assert N.gbce_beta(10, 11, 0.0) == pytest.approx(1.0) and N.gbce_beta(10, 101, 1.0) == pytest.approx(0.1)


def test_bce_one_negative_matches_numpy_and_negatives_avoid_the_row():
    rng = np.random.default_rng(4)
    hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
    items = rng.normal(size=(6, 4)).astype(np.float32)
    targets = np.array([[0, 2, 3], [1, 6, 5]], np.int32)
    negs = np.array([[0, 4, 5], [2, 3, 0]], np.int32)
    got, n = N.bce_one_negative(*map(tf.constant, (hidden, targets, items, negs)))
    want = sum(-_np_log_sigmoid(hidden[b, t] @ items[targets[b, t] - 1]) - _np_log_sigmoid(-hidden[b, t] @ items[negs[b, t]])
               for b in range(2) for t in range(3) if targets[b, t])
    assert float(n) == 5 and float(got) == pytest.approx(want, rel=1e-5)
    inputs = np.array([[0, 1, 2, 3], [0, 0, 5, 6]], np.int32)
    tgts = np.array([[0, 2, 3, 4], [0, 0, 6, 7]], np.int32)
    neg = N.row_negatives(inputs, tgts, n_items=10, rng=np.random.default_rng(0))
    assert neg.shape == (2, 4) and neg.dtype == np.int32
    for r in range(2):
        row_items = set((np.r_[inputs[r], tgts[r]] - 1).tolist())
        assert not row_items & set(neg[r].tolist())
    # with the sessions' histories: never an item of the row's session, even one outside the row
    history = N.history_keys(np.array([0, 0, 0, 1, 1, 1, 1, 1]), np.array([7, 8, 9, 0, 1, 2, 3, 4]), 10)
    for seed in range(20):
        neg = N.row_negatives(inputs, tgts, 10, np.random.default_rng(seed), rounds=100, sessions=np.array([1, 0]),
                              history=history)
        assert not set(neg[0].tolist()) & {0, 1, 2, 3, 4} and not set(neg[1].tolist()) & {4, 5, 6, 7, 8, 9}


def test_training_rows_record_each_rows_session():
    sessions = np.repeat([5, 3, 9, 4], [12, 1, 3, 6])  # session 3 has no pair
    items = np.arange(len(sessions))
    for mode in ("windows", "sliding", "last"):
        rows = training_rows(sessions, items, max_len=4, long_sequences=mode, smallest_bucket=2, stride=2)
        rank = {5: 0, 3: 1, 9: 2, 4: 3}
        for inp, sess in zip(rows.inputs, rows.sessions, strict=True):
            assert len(sess) == len(inp)
            for r in range(len(inp)):
                real = inp[r][inp[r] > 0] - 1
                assert {rank[int(sessions[i])] for i in real} == {int(sess[r])}, mode


@pytest.mark.parametrize("overrides", [
    {"loss": "cross-entropy"},
    {"loss": "bce"},
    {"loss": "bce", "long_sequences": "last"},
    {"loss": "sampled-softmax", "n_negatives": 8},
    {"loss": "gbce", "n_negatives": 8},
    {"long_sequences": "sliding", "stride": 2},
    {"layer_norm": "post"},
    {"layer_norm": "pre", "ffn_dim": 32},
])
def test_each_variant_trains_and_its_loss_decreases(overrides):
    data = rule_sessions(120, max_length=10)
    cfg = SASRecConfig(**{"max_len": 4, "blocks": 1, "dim": 16, "dropout": 0.0, "learning_rate": 1e-2,
                          "batch_size": 16, "epochs": 4, "jit_compile": False, **overrides})
    model = SASRec(cfg).fit(data, progress=False)
    loss = model.history["loss"].to_numpy()
    assert np.isfinite(loss).all() and loss[-1] < 0.8 * loss[0], (overrides, loss)


def test_unknown_layer_norm_is_refused():
    with pytest.raises(ValueError, match="layer_norm"):
        untrained(layer_norm="sandwich")


@pytest.fixture(scope="module")
def trained():
    data = rule_sessions(500)
    cfg = SASRecConfig(max_len=6, blocks=1, heads=1, dim=24, dropout=0.1, learning_rate=5e-3, batch_size=32,
                       epochs=8, validation_metric="recall@10", early_stopping_patience=None, seed=2)
    train, valid = data[data[SESSION] < 400], data[data[SESSION] >= 400]
    model = SASRec(cfg)
    training.fit(model, train, valid, training.TrainingConfig.from_model(cfg), progress=False)
    return model, data


def test_learns_deterministic_rule(trained):
    model, data = trained
    res = evaluation.evaluate(model, data[data[SESSION] >= 400], evaluation.EvalConfig(ks=(1,)), progress=False)
    assert res.metrics["recall@1"] > 0.9
    assert list(model.history.columns[:4]) == ["epoch", "loss", "seconds", "events_per_second"]
    assert {"recall@10", "ndcg@10"} <= set(model.history.columns)
    assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]


def test_save_load_identical_scores(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "m")
    loaded = SASRec.load(tmp_path / "m")
    seqs = np.array([[-1, 3, 4, 5], [7, 8, 9, 10]])
    np.testing.assert_array_equal(model.score_sequences(seqs), loaded.score_sequences(seqs))
    for m in (model, loaded):
        m.reset(2)
    a = model.step(np.array([4, 9]), np.array([True, True]))
    np.testing.assert_array_equal(a, loaded.step(np.array([4, 9]), np.array([True, True])))
    assert loaded.config == model.config
    pd.testing.assert_frame_equal(model.history, loaded.history, check_dtype=False)
    assert loaded.provenance == model.provenance
    assert loaded.training_facts == model.training_facts and loaded.training_facts.epochs_run == 8
    with pytest.raises(ModelFileError, match="no such model folder"):
        SASRec.load(tmp_path / "nothing")


def test_recommend(trained):
    model, _ = trained
    rec = R.recommend(model, [3, 4], k=3)
    assert rec[ITEM].iloc[0] == 5 and list(rec.columns) == list(R.COLUMNS)
    with pytest.warns(UserWarning, match="unknown to SASRec: \\[999\\]"):
        rec = R.recommend(model, [999, 7], k=2)
    assert rec[ITEM].iloc[0] == 8 and 7 not in rec[ITEM].tolist()
    popular = R.recommend(model, [], k=3)
    top = np.argsort(-model.popularity(), kind="stable")[:3]
    assert popular[ITEM].tolist() == model.item_index.to_ids(top).tolist()


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    {"loss": "sampled-softmax", "n_negatives": 8},
    {"loss": "sampled-softmax", "n_negatives": 8, "sample_alpha": 0.0, "logq": False},
    {"loss": "gbce", "n_negatives": 8},
    {"long_sequences": "last", "heads": 2},
])
def test_variants_train_and_improve(overrides):
    data = rule_sessions(300)
    base = {"max_len": 6, "blocks": 1, "dim": 16, "dropout": 0.0, "learning_rate": 1e-2, "batch_size": 32,
            "epochs": 6, "jit_compile": False}
    model = SASRec(SASRecConfig(**{**base, **overrides})).fit(data[data[SESSION] < 250], progress=False)
    res = evaluation.evaluate(model, data[data[SESSION] >= 250], evaluation.EvalConfig(ks=(5,)), progress=False)
    assert res.metrics["recall@5"] > 0.5, overrides


def test_reproducible_and_callback_can_stop():
    data = rule_sessions(60)
    cfg = SASRecConfig(max_len=4, blocks=1, dim=8, batch_size=8, epochs=2, dropout=0.3, jit_compile=False)
    seen = []

    def stop_after_two(row):
        seen.append(row["epoch"])
        if row["epoch"] == 2:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        training.fit(SASRec(cfg), data, data, training.TrainingConfig.from_model(cfg, max_epochs=3),
                     on_epoch=stop_after_two, progress=False)
    assert seen == [1, 2]
    a = SASRec(cfg).fit(data, progress=False)
    b = SASRec(cfg).fit(data, progress=False)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    for key, value in a.get_weights().items():
        np.testing.assert_allclose(value, b.get_weights()[key], rtol=1e-6, atol=1e-7)
    c = SASRec(cfg)  # the training loop trains exactly as fit(train) does (validation does not disturb it)
    training.fit(c, data, data, training.TrainingConfig.from_model(cfg, restore_best=False), progress=False)
    np.testing.assert_allclose(a.history["loss"], c.history["loss"], rtol=1e-6)
    for key, value in a.get_weights().items():
        np.testing.assert_allclose(value, c.get_weights()[key], rtol=1e-6, atol=1e-7)


def test_early_stopping_restores_best(monkeypatch):
    data = rule_sessions(80)
    cfg = SASRecConfig(max_len=4, blocks=1, dim=8, batch_size=8, epochs=6, early_stopping_patience=1,
                       validation_metric="recall@10", jit_compile=False)
    scores = iter([0.5, 0.7, 0.6, 0.6, 0.9, 0.9])
    model = SASRec(cfg)
    weights = {}

    def validate(m, valid, config, history_frame=None):
        weights[len(weights) + 1] = m.get_weights()
        value = next(scores)
        return {k: value for k in (*config.recorded, config.metric)}

    monkeypatch.setattr(training, "validate", validate)
    facts = training.fit(model, data, data, training.TrainingConfig.from_model(cfg), progress=False)
    assert model.history["epoch"].tolist() == [1, 2, 3]  # patience 1: stop after the first epoch without improvement
    assert (facts.stopped_by, facts.best_epoch) == ("patience", 2)
    for key, value in model.get_weights().items():
        np.testing.assert_array_equal(value, weights[2][key])


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        SASRecConfig(dim=50, heads=3)
    with pytest.raises(ValueError, match="loss"):
        SASRecConfig(loss="bpr")
    with pytest.raises(ValueError, match=r"SASRecConfig.dropout = 1.0: must be a number >= 0 and < 1"):
        SASRecConfig(dropout=1.0)
