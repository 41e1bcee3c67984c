"""GRU4Rec: losses vs numpy references, state resets, learning a rule, save/load, recommend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from strategies import rule_sessions

from sbrlib import recommend as R
from sbrlib import training
from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data.item_index import ItemIndex
from sbrlib.evaluation import evaluator as evaluation
from sbrlib.models.gru4rec import (
    GRU4Rec,
    GRU4RecConfig,
    NegativeSampler,
    bpr_max_loss,
    cross_entropy_loss,
)

tf = pytest.importorskip("tensorflow")

PLAIN = {"loss": "cross-entropy", "dropout_embed": 0.0, "sample_alpha": 0.5}
"""Cross-entropy without dropout, as the official defaults: the rule tests compute their reference
by hand for this case (the class defaults are the tuned BPR-max configuration)."""


def np_log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def test_cross_entropy_matches_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 7)).astype(np.float32)
    rows = np.array([True, True, False, True])
    cols = np.array([True, True, False, True, True, True, True])
    got = float(cross_entropy_loss(tf.constant(logits), tf.constant(rows), tf.constant(cols)))
    masked = np.where(cols[None, :], logits, -1e9)
    want = -sum(np_log_softmax(masked)[i, i] for i in range(4) if rows[i])
    assert got == pytest.approx(want, rel=1e-5)


def test_bpr_max_matches_numpy():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(3, 6)).astype(np.float32)
    rows = np.array([True, True, True])
    cols = np.array([True, True, True, True, False, True])
    bpreg, alpha = 0.7, 0.5
    got = float(bpr_max_loss(tf.constant(logits), tf.constant(rows), tf.constant(cols), bpreg, alpha))
    o = np.where(logits > 0, logits, alpha * (np.exp(logits) - 1))
    want = 0.0
    for i in range(3):
        neg = [j for j in range(6) if j != i and cols[j]]
        s = np.exp(o[i, neg] - o[i, neg].max())
        s /= s.sum()
        sig = 1 / (1 + np.exp(-(o[i, i] - o[i, neg])))
        want += -np.log((s * sig).sum() + 1e-24) + bpreg * (s * o[i, neg] ** 2).sum()
    assert got == pytest.approx(want, rel=1e-5)


def test_sampler_follows_support_power():
    support = np.array([1, 4, 9, 16])
    sampler = NegativeSampler(support, alpha=0.5, n_sample=1000, cache_size=50_000, seed=0)
    draws = sampler.take(60)
    assert draws.shape == (60, 1000)
    freq = np.bincount(draws.ravel(), minlength=4) / draws.size
    np.testing.assert_allclose(freq, np.sqrt(support) / np.sqrt(support).sum(), atol=0.01)


@pytest.fixture(scope="module")
def trained():
    data = rule_sessions(600)
    cfg = GRU4RecConfig(layers=(32,), batch_size=16, n_sample=8, epochs=6, learning_rate=0.1, momentum=0.2,
                        steps_per_call=8, seed=3)
    train, valid = data[data[SESSION] < 450], data[data[SESSION] >= 450]
    model = GRU4Rec(cfg)
    training.fit(model, train, valid, training.TrainingConfig.from_model(cfg), progress=False)
    return model, data


def test_learns_deterministic_rule(trained):
    model, data = trained
    test = data[data[SESSION] >= 450]
    res = evaluation.evaluate(model, test, evaluation.EvalConfig(ks=(1,)), progress=False)
    assert res.metrics["recall@1"] > 0.9
    assert list(model.history.columns[:4]) == ["epoch", "loss", "seconds", "events_per_second"]
    assert {"recall@20", "mrr@20"} <= set(model.history.columns)
    assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]
    assert model.training_facts.epochs_run == 6 and model.training_facts.stopped_by == "epochs"


def test_reset_slot_equals_fresh_state(trained):
    model, _ = trained
    model.reset(3)
    model.step(np.array([1, 2, 3]), np.array([True, True, True]))
    second = model.step(np.array([5, 6, 7]), np.array([True, False, False]))  # slot 0 restarts with item 5
    model.reset(1)
    fresh = model.step(np.array([5]), np.array([True]))
    np.testing.assert_allclose(second[0], fresh[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(second[1], fresh[0])


def test_save_load_identical_scores(trained, tmp_path):
    model, data = trained
    movies = pd.DataFrame({ITEM: np.arange(30), "Title": [f"Movie {i}" for i in range(30)]})
    model.save(tmp_path / "m", movies=movies)
    loaded = GRU4Rec.load(tmp_path / "m")
    for m in (model, loaded):
        m.reset(2)
    items, starts = np.array([4, 9]), np.array([True, True])
    np.testing.assert_array_equal(model.step(items, starts), loaded.step(items, starts))
    rec = R.recommend(loaded, [3, 4], k=3)
    assert rec[ITEM].iloc[0] == 5 and rec["Title"].iloc[0] == "Movie 5"
    assert loaded.provenance == model.provenance and loaded.config == model.config
    pd.testing.assert_frame_equal(model.history, loaded.history, check_dtype=False)
    assert loaded.training_facts == model.training_facts


def test_recommend_unknown_and_empty(trained):
    model, _ = trained
    with pytest.warns(UserWarning, match=r"unknown to GRU4Rec: \[999\]"):
        rec = R.recommend(model, [999, 7], k=2)
    assert rec[ITEM].iloc[0] == 8
    assert 7 not in rec[ITEM].tolist()  # seen items excluded
    assert (rec["Source"] == "model").all() and rec["Score"].notna().all()
    popular = R.recommend(model, [], k=3)
    top = np.argsort(-model.popularity(), kind="stable")[:3]
    assert popular[ITEM].tolist() == model.item_index.to_ids(top).tolist()
    # one kind of number per column: no popularity counts in the Score column
    assert (popular["Source"] == "popularity").all() and popular["Score"].isna().all()
    assert popular["Popularity"].tolist() == model.popularity()[top].tolist()


def test_reproducible_with_seed():
    data = rule_sessions(80)
    cfg = GRU4RecConfig(layers=(8,), batch_size=4, n_sample=4, epochs=2, dropout_hidden=0.2, steps_per_call=4)
    a = GRU4Rec(cfg).fit(data, progress=False)
    b = GRU4Rec(cfg).fit(data, progress=False)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    for key, value in a.get_weights().items():
        np.testing.assert_allclose(value, b.get_weights()[key], rtol=1e-6)


@pytest.mark.parametrize("overrides", [
    {"loss": "bpr-max", "n_sample": 8},
    {"n_sample": 0},
    {"full_softmax": True},
    {"constrained_embedding": False, "embedding_dim": 0},
    {"constrained_embedding": False, "embedding_dim": 12, "layers": (16, 8)},
    {"optimizer": "adam", "learning_rate": 0.01},
    {"logq": 1.0, "momentum": 0.5, "nesterov": True},
])
def test_variants_train_and_improve(overrides):
    data = rule_sessions(300)
    base = {"layers": (16,), "batch_size": 16, "n_sample": 8, "epochs": 4, "learning_rate": 0.1,
            "steps_per_call": 8, "loss": "cross-entropy", "dropout_embed": 0.0, "momentum": 0.0}
    model = GRU4Rec(GRU4RecConfig(**{**base, **overrides})).fit(data, progress=False)
    res = evaluation.evaluate(model, data[data[SESSION] >= 200], evaluation.EvalConfig(ks=(5,)), progress=False)
    assert res.metrics["recall@5"] > 0.5, overrides


def test_config_validation():
    with pytest.raises(ValueError, match=r"GRU4RecConfig.dropout_hidden = 1.2: must be a number >= 0 and < 1"):
        GRU4RecConfig(dropout_hidden=1.2)
    with pytest.raises(ValueError, match="loss"):
        GRU4RecConfig(loss="top1")


def test_sequence_aware_uses_user_history():
    data = rule_sessions(200)
    cfg = GRU4RecConfig(layers=(8,), batch_size=8, n_sample=4, epochs=1, sequence_aware=True, steps_per_call=4)
    model = GRU4Rec(cfg).fit(data, progress=False).warm_start(data)
    assert len(model._user_ids) == data[USER].nunique()
    model.reset(1)
    with_history = model.step(np.array([3]), np.array([True]), users=np.array([data[USER].iloc[0]]))
    plain = GRU4Rec.__new__(GRU4Rec)
    plain.__dict__.update(model.__dict__)
    plain.config = GRU4RecConfig(**{**cfg.to_dict(), "sequence_aware": False})
    plain.reset(1)
    without = plain.step(np.array([3]), np.array([True]))
    assert not np.allclose(with_history, without)


def test_adagrad_momentum_step_updates_touched_rows_only():
    """One compiled training step equals the official update rule applied to the tape's gradients:
    acc = g^2, mom = -lr * g / sqrt(acc + eps), w += mom, on touched rows of item tables only."""
    n, h, B = 12, 4, 3
    cfg = GRU4RecConfig(**PLAIN, layers=(h,), batch_size=B, n_sample=2, learning_rate=0.1, momentum=0.5,
                        steps_per_call=1, jit_compile=False, seed=5)
    model = GRU4Rec(cfg)
    model.build(ItemIndex(np.arange(n), np.ones(n)))
    before = model.get_weights()
    inputs, targets, negs = (np.array(a, np.int32) for a in ([[1, 2, 3]], [[4, 5, 6]], [[7, 8]]))
    starts, active = np.ones((1, B), bool), np.ones((1, B), bool)
    net, variables = model.net, model.net.named_variables()
    with tf.GradientTape() as tape:
        out, _ = net(tf.constant(inputs[0]), [tf.zeros((B, h))], training=False)
        cands = tf.constant(np.r_[targets[0], negs[0]])
        logits = tf.matmul(out, tf.gather(net.Wy, cands), transpose_b=True) + tf.gather(net.By, cands)
        loss = cross_entropy_loss(logits, tf.ones(B, tf.bool), tf.ones(B + 2, tf.bool)) / B
    grads = dict(zip(variables, tape.gradient(loss, [v.value for v in variables.values()]), strict=True))
    model._train_chunk([tf.zeros((B, h))], *[tf.constant(a) for a in (inputs, targets, starts, active)],
                       tf.constant(negs), tf.constant(1), tf.constant(0))
    after = model.get_weights()
    touched_items = sorted(set(np.r_[inputs[0], targets[0], negs[0]].tolist()))
    for name, grad in grads.items():
        g = tf.convert_to_tensor(grad).numpy()
        expected = before[name] - 0.1 * g / np.sqrt(g * g + 1e-6)
        np.testing.assert_allclose(after[name], expected, rtol=1e-4, atol=1e-6, err_msg=name)
    untouched = [i for i in range(n) if i not in touched_items]
    np.testing.assert_array_equal(after["E"][untouched], before["E"][untouched])
    assert not np.allclose(after["E"][touched_items], before["E"][touched_items])


def _dense_reference_step(w, acc, mom, g, lr, mu, nesterov, eps=1e-6, table=False):
    """The dense Adagrad(+momentum) rule, on touched (nonzero-gradient) rows only for item tables."""
    if table:
        touched = (g != 0).reshape(len(g), -1).any(axis=1).reshape((-1,) + (1,) * (g.ndim - 1)).astype(np.float32)
    else:
        touched = np.float32(1.0)
    acc_new = acc + g * g
    step = lr * g / np.sqrt(acc_new + eps)
    acc = touched * acc_new + (1 - touched) * acc
    if mu == 0:
        return w - touched * step, acc, mom
    mom_new = mu * mom - step
    mom = touched * mom_new + (1 - touched) * mom
    delta = mu * mom_new - step if nesterov else mom_new
    return w + touched * delta, acc, mom


@pytest.mark.parametrize("momentum,nesterov,jit,constrained", [
    (0.0, False, True, True), (0.5, False, True, True), (0.5, True, False, True), (0.3, False, True, False),
])
def test_row_updates_equal_dense_rule_with_duplicates(momentum, nesterov, jit, constrained):
    """Three compiled steps whose inputs, targets and negatives repeat items equal the dense rule
    applied to the tape's (duplicate-summed) gradients; rows never used keep their weights."""
    n, h, B = 15, 4, 4
    cfg = GRU4RecConfig(**PLAIN, layers=(h,), batch_size=B, n_sample=5, learning_rate=0.1, momentum=momentum,
                        nesterov=nesterov, steps_per_call=1, jit_compile=jit, seed=7,
                        constrained_embedding=constrained, embedding_dim=0 if constrained else 3)
    model = GRU4Rec(cfg)
    model.build(ItemIndex(np.arange(n), np.ones(n)))
    net, variables = model.net, model.net.named_variables()
    names = list(variables)
    tables = set(net.table_names())
    ref = {k: v.numpy().copy() for k, v in variables.items()}
    acc = {k: np.zeros_like(v) for k, v in ref.items()}
    mom = {k: np.zeros_like(v) for k, v in ref.items()}
    steps = [([1, 2, 1, 3], [2, 1, 5, 1], [1, 5, 5, 9, 2], [True, True, True, False]),
             ([5, 5, 0, 2], [1, 1, 2, 0], [0, 0, 0, 1, 14], [True, True, True, True]),
             ([3, 1, 2, 2], [9, 9, 9, 3], [3, 9, 12, 12, 1], [False, True, True, True])]
    for inputs, targets, negs, active in steps:
        inp, tgt, neg, act = (np.array(a) for a in (inputs, targets, negs, active))
        with tf.GradientTape() as tape:
            out, _ = net(tf.constant(inp, tf.int32), [tf.zeros((B, h))], training=False)
            cands = tf.constant(np.r_[tgt, neg], tf.int32)
            logits = tf.matmul(out, tf.gather(net.Wy, cands), transpose_b=True) + tf.gather(net.By, cands)
            loss = cross_entropy_loss(logits, tf.constant(act), tf.constant(np.r_[act, np.ones(5, bool)])) / B
        grads = tape.gradient(loss, [variables[k].value for k in names])
        for k, g in zip(names, grads, strict=True):
            g = tf.convert_to_tensor(g).numpy()
            ref[k], acc[k], mom[k] = _dense_reference_step(ref[k], acc[k], mom[k], g, 0.1, momentum, nesterov,
                                                           table=k in tables)
        model._train_chunk([tf.zeros((B, h))], *[tf.constant(a[None]) for a in (inp.astype(np.int32),
                           tgt.astype(np.int32), np.ones(B, bool), act)],
                           tf.constant(neg[None].astype(np.int32)), tf.constant(1), tf.constant(0))
        got = model.get_weights()
        for k in names:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-7, err_msg=k)
        model.set_weights(ref)  # continue both from the same weights
    never = sorted(set(range(n)) - {i for s in steps for a in s[:3] for i in a})
    assert never and np.array_equal(model.get_weights()["By"][never], np.zeros(len(never)))


def test_adam_is_dense_equivalent():
    """Adam updates every row (moments decay everywhere), as Adam on the dense gradient."""
    n, h, B, lr = 10, 3, 2, 0.01
    cfg = GRU4RecConfig(**PLAIN, layers=(h,), batch_size=B, n_sample=2, optimizer="adam", learning_rate=lr,
                        steps_per_call=1, seed=1)
    model = GRU4Rec(cfg)
    model.build(ItemIndex(np.arange(n), np.ones(n)))
    net, variables = model.net, model.net.named_variables()
    names = list(variables)
    w = model.get_weights()
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v2 = {k: np.zeros_like(v) for k, v in w.items()}
    got = w
    for t, (inp, tgt, neg) in enumerate([([1, 1], [2, 3], [3, 4]), ([2, 5], [5, 1], [0, 0])], start=1):
        with tf.GradientTape() as tape:
            out, _ = net(tf.constant(inp, tf.int32), [tf.zeros((B, h))])
            cands = tf.constant(tgt + neg, tf.int32)
            logits = tf.matmul(out, tf.gather(net.Wy, cands), transpose_b=True) + tf.gather(net.By, cands)
            loss = cross_entropy_loss(logits, tf.ones(B, tf.bool), tf.ones(B + 2, tf.bool)) / B
        grads = tape.gradient(loss, [variables[k].value for k in names])
        for k, g in zip(names, grads, strict=True):
            g = tf.convert_to_tensor(g).numpy()
            m[k] = 0.9 * m[k] + 0.1 * g
            v2[k] = 0.999 * v2[k] + 0.001 * g * g
            w[k] = w[k] - lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v2[k] / (1 - 0.999 ** t)) + 1e-7)
        model._train_chunk([tf.zeros((B, h))], *[tf.constant(np.array([a])) for a in (
            np.int32(inp), np.int32(tgt), np.ones(B, bool), np.ones(B, bool))], tf.constant([neg], tf.int32),
            tf.constant(1), tf.constant(0))
        previous, got = got, model.get_weights()
        for k in names:
            np.testing.assert_allclose(got[k], w[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # items 3 and 4 are used only in the first step, yet move in the second (not lazy Adam)
    assert (got["By"][[3, 4]] != previous["By"][[3, 4]]).all()


def test_shrinking_the_batch_does_not_change_training():
    """Computing only the slots that hold a session at the end of an epoch trains the same model
    (same pairs, negatives and loss scaling), with a higher occupancy."""
    rng = np.random.default_rng(4)
    rows = []
    for s, length in enumerate([25, 3, 4, 2, 3, 12, 2, 5, 3, 2]):
        rows += [(s, 0, int(rng.integers(0, 12)), 100 * s + p) for p in range(length)]
    data = pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])
    base = dict(**PLAIN, layers=(6,), batch_size=8, n_sample=3, epochs=2, steps_per_call=4, momentum=0.3, seed=2,
                jit_compile=False)
    never = GRU4Rec(GRU4RecConfig(**base, shrink_batch="never")).fit(data, progress=False)
    always = GRU4Rec(GRU4RecConfig(**base, shrink_batch="always")).fit(data, progress=False)
    np.testing.assert_allclose(always.history["loss"], never.history["loss"], rtol=1e-5)
    for key, value in never.get_weights().items():
        np.testing.assert_allclose(always.get_weights()[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    assert (always.history["occupancy"] > never.history["occupancy"]).all()
    assert never.history["occupancy"].iloc[0] == pytest.approx(sum(np.array([25, 3, 4, 2, 3, 12, 2, 5, 3, 2]) - 1)
                                                               / (24 * 8))


def test_step_on_few_active_slots_matches_full_step(trained):
    """With few active slots only those are computed; their scores and every slot's state are
    those of a step over all slots (idle slots keep their state)."""
    model, _ = trained
    B = 16
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, model.n_items, B), rng.integers(0, model.n_items, B)
    active = np.zeros(B, bool)
    active[[2, 9, 11]] = True
    model.reset(B)
    model.step(first, np.ones(B, bool))
    partial = model.step(second, np.zeros(B, bool), active=active)
    partial_states = [s.numpy() for s in model._states]
    model.reset(B)
    model.step(first, np.ones(B, bool))
    before = [s.numpy() for s in model._states]
    full = model.step(second, np.zeros(B, bool))
    np.testing.assert_allclose(partial[active], full[active], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(partial[~active], 0.0)
    for got, after, old in zip(partial_states, [s.numpy() for s in model._states], before, strict=True):
        np.testing.assert_allclose(got[active], after[active], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got[~active], old[~active])


def test_dropout_mask_rate_determinism_and_independence():
    from sbrlib.core.tf import tf
    from sbrlib.models.gru4rec.network import _dropout

    x = tf.ones((400, 250))
    seed = tf.constant([3, 11], tf.int32)
    out = _dropout(x, 0.4, seed, 0).numpy()
    assert abs((out == 0).mean() - 0.4) < 0.01  # 100k draws: the rate within 1%
    np.testing.assert_allclose(out[out != 0], 1 / 0.6, rtol=1e-6)  # inverted dropout keeps the expectation
    np.testing.assert_array_equal(out, _dropout(x, 0.4, seed, 0).numpy())  # deterministic per seed
    other_salt = _dropout(x, 0.4, seed, 1).numpy() == 0
    other_seed = _dropout(x, 0.4, tf.constant([3, 12], tf.int32), 0).numpy() == 0
    for mask in (other_salt, other_seed):  # independent masks agree on ~ 0.4^2 + 0.6^2 of the positions
        assert abs(((out == 0) == mask).mean() - 0.52) < 0.01


@pytest.mark.parametrize("momentum,nesterov,constrained,loss", [
    (0.0, False, True, "cross-entropy"), (0.65, False, True, "bpr-max"), (0.5, True, False, "cross-entropy"),
])
def test_dense_table_updates_train_like_row_updates(momentum, nesterov, constrained, loss):
    """Updating the whole item tables from the summed gradient (``table_updates="dense"``) trains the
    same model as the row-wise updates (checked against the dense rule above): same losses and weights
    after two epochs with repeated items, inactive slots, dropout and batch shrinking."""
    data = rule_sessions(60, n_items=12, seed=3)
    base = dict(loss=loss, layers=(5,), batch_size=6, n_sample=7, sample_alpha=0.5, epochs=2, steps_per_call=8,
                learning_rate=0.05, momentum=momentum, nesterov=nesterov, dropout_embed=0.2, seed=5,
                constrained_embedding=constrained, embedding_dim=0 if constrained else 3, shrink_batch="always")
    models = {mode: GRU4Rec(GRU4RecConfig(**base, table_updates=mode)).fit(data, progress=False)
              for mode in ("rows", "dense")}
    assert not models["rows"]._optimizer.dense_tables and models["dense"]._optimizer.dense_tables
    np.testing.assert_allclose(models["dense"].history["loss"], models["rows"].history["loss"], rtol=1e-5)
    rows, dense = models["rows"].get_weights(), models["dense"].get_weights()
    for key, value in rows.items():
        np.testing.assert_allclose(dense[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_auto_table_updates_are_dense_for_small_catalogues():
    """``table_updates="auto"``: dense when the items are no more than the table rows a step uses."""
    from sbrlib.models.gru4rec.optim import use_dense_tables

    cfg = GRU4RecConfig()  # batch 27, 2,048 negatives, constrained: 2,102 rows per step
    assert use_dense_tables(cfg, 1_339) and use_dense_tables(cfg, 2_102)
    assert not use_dense_tables(cfg, 2_103) and not use_dense_tables(cfg, 3_706)
    assert use_dense_tables(GRU4RecConfig(loss="cross-entropy", full_softmax=True), 100_000)
    assert not use_dense_tables(GRU4RecConfig(table_updates="rows"), 10)
    assert use_dense_tables(GRU4RecConfig(table_updates="dense"), 10**6)
