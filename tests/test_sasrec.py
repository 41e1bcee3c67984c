"""SASRec: causal masking, padding, training rows, losses, learning a rule, step vs direct scoring,
save/load, recommend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib import evaluation, training
from sbrlib import recommend as R
from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.errors import ModelFileError
from sbrlib.models.sasrec import SASRec, SASRecConfig
from sbrlib.models.sasrec import network as N
from sbrlib.models.sasrec.sequences import epoch_batches, length_buckets, training_rows
from sbrlib.preprocess import ItemIndex

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


def test_step_agrees_with_direct_scoring():
    """The evaluator's incremental interface (shift buffer, length buckets, slot restarts, windows
    longer than max_len) gives the scores of direct full-sequence scoring."""
    model = untrained(max_len=5)
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
