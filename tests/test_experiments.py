"""Experiment helpers: baseline factories, intervals table, seen-items table, order experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.evaluation import uncertainty as U
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.notebook import comparisons as E


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
    from sbrlib import tuning
    from sbrlib.data import preprocess
    from sbrlib.data import store as artifacts

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


def tied_sessions(n_sessions=40, seed=0):
    """Sessions with many tied time stamps (several ratings in the same second) and a rating column."""
    rng = np.random.default_rng(seed)
    rows, t = [], 1_000
    for s in range(n_sessions):
        for _ in range(int(rng.integers(2, 9))):
            t += int(rng.integers(0, 3))  # 0: a tie with the previous rating
            rows.append((s, s % 7, int(rng.integers(100)), t, int(rng.integers(1, 6))))
        t += 5_000
    frame = pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME, "Rating"])
    return frame.sample(frac=1.0, random_state=1)  # not sorted: the shuffles must sort themselves


@pytest.mark.parametrize("shuffle", [E.shuffle_ties, E.shuffle_within_sessions])
def test_shuffles_are_pure_and_deterministic(shuffle):
    data = tied_sessions()
    before = data.copy()
    a, b, c = shuffle(data, seed=3), shuffle(data, seed=3), shuffle(data, seed=4)
    pd.testing.assert_frame_equal(data, before)  # the caller's frame is untouched
    pd.testing.assert_frame_equal(a, b)  # same seed, same result
    assert not a[ITEM].equals(c[ITEM])  # another seed, another order
    ordered = data.sort_values([SESSION, TIME], kind="stable").reset_index(drop=True)
    for col in (SESSION, TIME, USER):  # sessions, lengths and times stay where they were
        assert (a[col].to_numpy() == ordered[col].to_numpy()).all()
    # each item keeps its own rating
    pairs = lambda f: sorted(map(tuple, f[[SESSION, ITEM, "Rating"]].to_numpy().tolist()))  # noqa: E731
    assert pairs(a) == pairs(data)
    assert not a[ITEM].equals(ordered[ITEM])  # something moved


def test_tie_shuffle_moves_items_only_among_equal_time_stamps():
    data = tied_sessions()
    ordered = data.sort_values([SESSION, TIME], kind="stable").reset_index(drop=True)
    out = E.shuffle_ties(data, seed=0)
    groups = lambda f: f.groupby([SESSION, TIME])[ITEM].apply(lambda s: sorted(s.tolist()))  # noqa: E731
    pd.testing.assert_series_equal(groups(out), groups(ordered))  # every tie group keeps its item set
    single = ordered.groupby([SESSION, TIME])[ITEM].transform("size").to_numpy() == 1
    assert (out[ITEM].to_numpy()[single] == ordered[ITEM].to_numpy()[single]).all()  # untied ratings stay put
    assert not out[ITEM].equals(ordered[ITEM])  # and ties did move
    # whole-session shuffling moves items across time stamps
    full = E.shuffle_within_sessions(data, seed=0)
    assert not groups(full).equals(groups(ordered))
    assert 0 < E.tie_share(data) < 1 and E.tie_share(ordered.assign(**{TIME: np.arange(len(ordered))})) == 0


def test_order_experiment_separates_the_users_order_from_tie_order():
    data = ordered_sessions()  # no ties at all: the tie shuffle changes nothing, whole sessions lose the order
    train, test = data[data[SESSION] < 90], data[data[SESSION] >= 90]
    factories = E.order_models(E.baseline_factories(), gru=None)
    assert set(factories) == {"SR", "Item-kNN"}
    config = EvalConfig(ks=(1, 20), coverage_ks=())
    real = {name: evaluate(f().fit(train), test, config, progress=False) for name, f in factories.items()}
    order = E.order_experiment(factories, train, test, real, config, ("recall@1",),
                               bootstrap=U.BootstrapConfig(n_boot=200))
    sr = order.loc[("SR", "recall@1")]
    assert sr["real"] == pytest.approx(real["SR"].metrics["recall@1"])
    assert sr["ties"] == pytest.approx(sr["real"]) and sr["tie_diff"] == pytest.approx(0.0)
    assert sr["change"] < -0.3 and sr["significant"] and sr["high"] < 0
    assert sr["beyond_significant"] and sr["beyond_high"] < 0 and sr["verdict"] == "beyond ties"
    assert sr["fit_seconds_ties"] >= 0 and sr["fit_seconds_shuffled"] >= 0
    text = E.order_conclusion(order, "recall@1")
    assert text.count("* **") == 2 and E.ORDER_VERDICTS["beyond ties"] in text and f"{sr['real']:.4f}" in text

    # every item rated in the same second: all the order is the file's, the tie shuffle destroys it all
    tied = data.assign(**{TIME: data[SESSION] * 10})
    train, test = tied[tied[SESSION] < 90], tied[tied[SESSION] >= 90]
    real = {"SR": evaluate(factories["SR"]().fit(train), test, config, progress=False)}
    sr = E.order_experiment({"SR": factories["SR"]}, train, test, real, config, ("recall@1",),
                            bootstrap=U.BootstrapConfig(n_boot=200)).loc[("SR", "recall@1")]
    assert sr["tie_significant"] and sr["tie_high"] < 0 and not sr["beyond_significant"]
    assert sr["verdict"] == "ties only"


def test_order_verdicts_follow_the_intervals():
    base = dict(diff=0.0, significant=False, tie_diff=0.0, tie_significant=False, beyond_diff=0.0,
                beyond_significant=False)
    assert E.order_verdict(base) == "no loss"
    assert E.order_verdict({**base, "diff": -0.1, "significant": True}) == "undecided"
    assert E.order_verdict({**base, "diff": -0.1, "significant": True, "beyond_diff": -0.05,
                            "beyond_significant": True}) == "beyond ties"
    assert E.order_verdict({**base, "diff": -0.1, "significant": True, "tie_diff": -0.1,
                            "tie_significant": True}) == "ties only"
    assert E.order_verdict({**base, "diff": 0.1, "significant": True}) == "gain"


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


def test_order_models_include_gru4rec_by_default_within_the_budget():
    from types import SimpleNamespace

    from sbrlib.models.gru4rec import GRU4RecConfig

    saved = SimpleNamespace(config=GRU4RecConfig(epochs=7, early_stopping_patience=2),
                            history=pd.DataFrame({"seconds": [30.0, 10.0, 12.0, 12.0, 12.0]}))
    assert "GRU4Rec" not in E.order_models(E.baseline_factories(), saved, 0)
    assert E.order_gru_plan(saved.history, 0).epochs == 0
    models = E.order_models(E.baseline_factories(), saved, 2)
    gru = models["GRU4Rec"]()
    assert gru.config.epochs == 2 and gru.config.early_stopping_patience is None
    assert E.estimated_fit_seconds(saved.history, 2) == pytest.approx(24.0)  # median epoch, not the first
    # by default: as many epochs as fit in the budget after the setup (first epoch 30 s - median 12 s = 18 s),
    # at least 1, at most the saved model's 5
    assert E.order_models(E.baseline_factories(), saved, budget_seconds=60.0)["GRU4Rec"]().config.epochs == 3
    plan = E.order_gru_plan(saved.history, None, 60.0)
    assert (plan.epochs, plan.estimated_seconds, plan.saved_epochs) == (3, pytest.approx(18.0 + 36.0), 5)
    assert "60 s" in plan.reason and "18.0 s of setup" in plan.reason
    assert "4 would take 66.00 s" in plan.reason  # the next epoch count, so the rounding cannot mislead
    assert E.order_gru_plan(saved.history, None, 20.0).epochs == 1
    assert E.order_gru_plan(saved.history, None, 1_000.0).epochs == 5
    assert "capped at the 5 epochs the saved model ran" in E.order_gru_plan(saved.history, None, 1_000.0).reason
    # why more epochs than the saved model keeps (reader report 5, 4.5): said in the plan's reason
    why = E.order_gru_plan(saved.history, None, 1_000.0, saved_best_epoch=3).reason
    assert "its training's length, not its kept epoch 3: a retraining on shuffled data has no validation run" in why
    assert "not its kept epoch" not in E.order_gru_plan(saved.history, None, 1_000.0, saved_best_epoch=5).reason
    # the conclusion names the epoch whose weights the saved model keeps, not only the epochs it ran
    kept = E.order_gru_plan(saved.history, None, 60.0, saved_best_epoch=3)
    row = {"real": 0.3, "ties": 0.29, "shuffled": 0.2, "diff": -0.1, "low": -0.12, "high": -0.08, "tie_diff": -0.01,
           "tie_low": -0.02, "tie_high": 0.0, "beyond_diff": -0.09, "beyond_low": -0.11, "beyond_high": -0.07,
           "fit_seconds_ties": 1.0, "fit_seconds_shuffled": 1.0}
    row["verdict"] = E.order_verdict({**row, "significant": True, "tie_significant": False, "beyond_significant": True})
    order = pd.DataFrame([row], index=pd.MultiIndex.from_tuples([("GRU4Rec", "recall@20")]))
    text = E.order_conclusion(order, "recall@20", kept)
    assert "5 epoch(s) run, early-stopped on `valid`, keeping the weights of epoch 3" in text
    # the planned time is set next to the measured one (reader 19, 4.3: planned 32 s, took 42.8 s, no comment)
    assert f"planned at about {kept.estimated_seconds:,.0f} s each and took 1.0 s and 1.0 s" in text
    both = pd.concat([order, order.rename(index={"recall@20": "mrr@20"})])
    joined = E.order_conclusions(both, ["recall@20", "mrr@20"], kept)
    assert joined.count("GRU4Rec's retrainings:") == 1 and joined.count("* **GRU4Rec**") == 2  # the plan said once
