"""Experiment helpers: baseline factories, intervals table, seen-items table, order experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib import experiments as E
from sbrlib import uncertainty as U
from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.evaluation import EvalConfig, evaluate


def ordered_sessions(n_sessions=120, n_items=30, seed=0):
    """Sessions that walk i -> i+1 (mod n_items) from a random start: order carries everything."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0
    for s in range(n_sessions):
        start, length = int(rng.integers(n_items)), int(rng.integers(3, 8))
        for p in range(length):
            rows.append((s, s, (start + p) % n_items, t))  # one session per user: nothing rated twice
            t += 1
    return pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])


def test_baseline_factories_use_given_parameters_and_defaults_otherwise():
    f = E.baseline_factories({"SR": {"steps": 3}})
    assert set(f) == {"Pop", "S-Pop", "Item-kNN", "Markov", "SR", "V-SKNN"}
    assert f["SR"]().config.steps == 3
    assert f["V-SKNN"]().config.k == E.BASELINE_DEFAULTS["V-SKNN"]["k"]


def test_tuned_parameters_come_from_notebook_03_and_defaults_fill_the_rest(tiny_dir):
    from sbrlib import artifacts, preprocess, tuning

    defaults = {"SR": {"steps": 10}, "V-SKNN": {"k": 100, "sample_size": 500}}
    untuned = E.tuned_baseline_params("no-such-split", defaults)  # nothing tuned: the defaults, said so
    kwargs, source = E.split_params_source(untuned)
    assert kwargs == defaults and all(v.startswith("defaults") for v in source.values())

    split = artifacts.prepare("synthetic-tiny", preprocess.PreprocessConfig(min_item_support=2), name="tuned-split",
                              data_dir=tiny_dir)[0]
    study = tuning.tune("sr", split, "tuned-split", n_trials=2, progress=False)
    kwargs, source = E.split_params_source(E.tuned_baseline_params("tuned-split", defaults))
    assert kwargs["SR"] == study.best_params  # the searched fields (steps, weighting)
    assert source["SR"].startswith("tuned: best of 2 trials (2 complete, 0 pruned) on tuned-split")
    assert kwargs["V-SKNN"] == defaults["V-SKNN"] and source["V-SKNN"].startswith("defaults")
    assert E.baseline_factories(kwargs)["SR"]().config.steps == study.best_params["steps"]


def test_order_experiment_pairs_real_and_shuffled_and_sees_the_order():
    data = ordered_sessions()
    train, test = data[data[SESSION] < 90], data[data[SESSION] >= 90]
    factories = E.order_models(E.baseline_factories(), gru=None)
    assert set(factories) == {"SR", "Item-kNN"}
    config = EvalConfig(ks=(1, 20), coverage_ks=())
    real = {name: evaluate(f().fit(train), test, config, progress=False) for name, f in factories.items()}
    order = E.order_experiment(factories, train, test, real, config, ("recall@1",),
                               bootstrap=U.BootstrapConfig(n_boot=200))
    sr = order.loc[("SR", "recall@1")]
    assert sr["real"] == pytest.approx(real["SR"].metrics["recall@1"])
    assert sr["change"] < -0.3 and sr["significant"] and sr["high"] < 0


def test_display_and_exclusion_tables():
    data = ordered_sessions()
    train, test = data[data[SESSION] < 90], data[data[SESSION] >= 90]
    models, seconds = E.fit_timed({k: v for k, v in E.baseline_factories().items() if k in ("Pop", "SR")}, train)
    table, results = E.compare(models, test, EvalConfig(ks=(20,)), seconds, progress=False)
    intervals, comparisons = E.with_intervals(results, ["recall@20", "mrr@20"], ["mrr@20"], U.BootstrapConfig(n_boot=50))
    shown = E.display_table(table, intervals, comparisons, ["recall@20", "mrr@20", "fit_seconds"], order_by="mrr@20")
    assert list(shown.index) == ["SR", "Pop"] and shown.loc["SR", "mrr@20 vs SR"] == "best"
    assert shown.loc["Pop", "mrr@20 vs SR"].endswith("*")
    assert shown.loc["SR", "recall@20"].startswith(f"{table.loc['SR', 'recall@20']:.4f} (")
    user, _ = E.compare(models, test, EvalConfig(ks=(20,), exclude_seen="user"), progress=False, history=train)
    both = E.exclusion_table({"none": table, "user": user}, ["recall@20"])
    assert list(both.columns) == ["none recall@20", "user recall@20"]
    assert (both["user recall@20"] >= both["none recall@20"] - 1e-12).all()  # no repeats here: exclusion only helps


def test_order_models_adds_gru4rec_only_with_epochs():
    from types import SimpleNamespace

    from sbrlib.models.gru4rec import GRU4RecConfig

    saved = SimpleNamespace(config=GRU4RecConfig(epochs=7, early_stopping_patience=2),
                            history=pd.DataFrame({"seconds": [30.0, 10.0, 12.0]}))
    assert "GRU4Rec" not in E.order_models(E.baseline_factories(), saved, 0)
    models = E.order_models(E.baseline_factories(), saved, 2)
    gru = models["GRU4Rec"]()
    assert gru.config.epochs == 2 and gru.config.early_stopping_patience is None
    assert E.estimated_fit_seconds(saved.history, 2) == pytest.approx(24.0)  # median epoch, not the first
