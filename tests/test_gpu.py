"""On a machine where TensorFlow sees a GPU, the same code trains and evaluates on it (TensorFlow's
device placement; XLA for GRU4Rec's compiled steps and SASRec's). Skipped without a GPU.

Run on a lent GPU machine with ``benchmarks/gpu_check.sh`` (this test, then a quick benchmark)."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import rule_sessions

from sbrlib.core.columns import SESSION
from sbrlib.core.tf import HAS_GPU, tf
from sbrlib.evaluation.evaluator import EvalConfig, evaluate

pytestmark = pytest.mark.skipif(not HAS_GPU, reason="TensorFlow sees no GPU on this machine")
DEVICE = "GPU"  # the device kind the tensors must be placed on


def test_tensorflow_places_a_matmul_on_the_gpu():
    x = tf.random.normal((64, 64))
    assert DEVICE in tf.matmul(x, x).device


def test_gru4rec_trains_and_evaluates_on_the_gpu():
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    data = rule_sessions(600)
    train, test = data[data[SESSION] < 450], data[data[SESSION] >= 450]
    cfg = GRU4RecConfig(layers=(32,), batch_size=16, n_sample=8, epochs=6, learning_rate=0.1, momentum=0.2,
                        steps_per_call=8, seed=3)
    model = GRU4Rec(cfg).fit(train, progress=False)
    assert all(DEVICE in v.value.device for v in model.net.named_variables().values())
    model.reset(4)
    scores = model.step(np.arange(4), np.ones(4, bool))
    assert scores.shape == (4, model.n_items) and scores.dtype == np.float32
    assert np.isfinite(model.history["loss"]).all()
    assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]
    res = evaluate(model, test, EvalConfig(ks=(1,)), progress=False)
    assert res.metrics["recall@1"] > 0.9  # learns i -> i+1, as on the CPU (tests/test_gru4rec.py)


def test_sasrec_trains_on_the_gpu():
    from sbrlib.models.sasrec import SASRec, SASRecConfig

    data = rule_sessions(400)
    train, test = data[data[SESSION] < 300], data[data[SESSION] >= 300]
    model = SASRec(SASRecConfig(max_len=8, blocks=1, dim=16, batch_size=32, epochs=5, dropout=0.0,
                                early_stopping_patience=None, learning_rate=5e-3)).fit(train, progress=False)
    assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]
    res = evaluate(model, test, EvalConfig(ks=(5,)), progress=False)
    assert res.metrics["recall@5"] > 0.5
