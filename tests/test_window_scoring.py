"""The evaluator's window path (models that score from their last ``context_length`` items and offer
``score_windows``: SASRec) against its step path (``reset``/``step``, the general path).

How they are compared: the two paths compute SASRec's scores differently (one causal pass over a
window against the key/value cache of the incremental step), so scores agree only up to float
rounding (~1e-6). Ranks are therefore compared exactly on every prediction whose scores have no
near-tie (no two items within 1e-4 of each other, by a reference scoring of the prediction's
window), which is nearly all of them, and only bounded elsewhere; everything else the evaluator
reports (the predictions table's sessions, positions, lengths and order, ``excluded_targets``,
counts, coverage and the top-K popularity of clean predictions) must be identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data.batching import contiguous_sessions
from sbrlib.data.item_index import ItemIndex
from sbrlib.evaluation import evaluator as E
from sbrlib.evaluation.evaluator import StepOnly

tf = pytest.importorskip("tensorflow")
from sbrlib.models.sasrec import SASRec, SASRecConfig  # noqa: E402  (after the TensorFlow check)

MAX_LEN = 5
ITEM_IDS = np.arange(100, 140)  # 40 items with ids that are not their indices
NEAR = 1e-4


def make_data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test sessions (lengths 1 .. 4 x max_len, repeated items, users with several sessions, equal
    start times) and a history of the same users."""
    rng = np.random.default_rng(seed)
    pools = {u: rng.choice(ITEM_IDS, 12, replace=False) for u in range(8)}
    rows = []
    for s in range(30):
        user = int(rng.integers(0, 8))
        start = int(rng.integers(0, 12)) * 1000  # equal start times happen: ties by session id
        length = int(rng.choice([1, 2, 3, MAX_LEN, MAX_LEN + 1, MAX_LEN + 2, 2 * MAX_LEN + 3, 4 * MAX_LEN]))
        items = rng.choice(pools[user], length)  # repeats within the session and across the user's sessions
        rows += [(1000 + s, user, int(item), start + p) for p, item in enumerate(items)]
    test = pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])
    hist_rows = [(u, int(i)) for u in pools for i in rng.choice(pools[u], 4, replace=False)]
    history = pd.DataFrame(hist_rows, columns=[USER, ITEM]).assign(**{SESSION: 0, TIME: 0})
    return test.sample(frac=1.0, random_state=seed).sort_values(TIME, kind="stable"), history


def untrained(**overrides) -> SASRec:
    cfg = SASRecConfig(**{"max_len": MAX_LEN, "blocks": 2, "heads": 2, "dim": 16, "seed": 3, "jit_compile": False,
                          **overrides})
    return SASRec(cfg).build(ItemIndex(ITEM_IDS, np.arange(1, len(ITEM_IDS) + 1)))


@pytest.fixture(scope="module")
def model() -> SASRec:
    return untrained()


def clean_predictions(model: SASRec, test: pd.DataFrame, predictions: pd.DataFrame) -> np.ndarray:
    """(n_predictions,) True where the prediction's reference scores (its window scored alone with
    :meth:`SASRec.score_sequences`) have no two items within ``NEAR`` of each other."""
    events = contiguous_sessions(test)
    by_session = {sid: model.item_index.to_idx(g[ITEM].to_numpy()) for sid, g in events.groupby(SESSION)}
    clean = []
    for sid, position in zip(predictions[SESSION], predictions["position"], strict=True):
        p = int(position) - 1  # input position (0-based) in the whole session
        window = by_session[sid][max(0, p - MAX_LEN + 1): p + 1]
        scores = np.sort(model.score_sequences(window[None])[0, -1])
        clean.append(np.diff(scores).min() > NEAR * max(1.0, float(np.abs(scores).max())))
    return np.array(clean)


def compare(model: SASRec, test: pd.DataFrame, config: E.EvalConfig, history: pd.DataFrame | None) -> float:
    """Evaluate through both paths and check they agree; returns the share of clean predictions."""
    fast = E.evaluate(model, test, config, progress=False, history=history)
    slow = E.evaluate(StepOnly(model), test, config, progress=False, history=history)
    pop = [f"popularity@{k}" for k in config.coverage_ks]
    a, b = fast.predictions, slow.predictions
    pd.testing.assert_frame_equal(a.drop(columns=["rank", *pop]), b.drop(columns=["rank", *pop]))
    clean = clean_predictions(model, test, b)
    np.testing.assert_array_equal(a["rank"].to_numpy()[clean], b["rank"].to_numpy()[clean])
    assert (np.abs(a["rank"] - b["rank"]).to_numpy()[~clean] <= 2).all()
    for col in pop:
        np.testing.assert_allclose(a[col].to_numpy()[clean], b[col].to_numpy()[clean], rtol=0, atol=1e-12)
    for key in ("predictions", "sessions", "n_items", "excluded_targets", "tie_policy", "exclude_seen", "positions"):
        assert fast.metrics[key] == slow.metrics[key], key
    if clean.all():  # no near-tie at all: the metric tables are the same numbers
        for key, value in slow.metrics.items():
            if key != "eval_seconds" and not isinstance(value, str):
                assert fast.metrics[key] == pytest.approx(value, abs=1e-12), key
    return float(clean.mean())


@pytest.mark.parametrize("positions", ["all", "last"])
@pytest.mark.parametrize("exclude_seen", ["none", "session", "user"])
def test_window_path_gives_the_step_paths_predictions(model, exclude_seen, positions):
    test, history = make_data()
    config = E.EvalConfig(ks=(1, 5, 10), exclude_seen=exclude_seen, positions=positions, batch_size=3,
                          coverage_ks=(3, 5))
    assert compare(model, test, config, history if exclude_seen == "user" else None) > 0.9
    assert test.groupby(SESSION).size().max() > 3 * MAX_LEN  # windows slide within sessions


@pytest.mark.parametrize("tie_policy", ["standard", "median"])
def test_window_path_with_other_tie_policies_and_small_call_budget(model, tie_policy, monkeypatch):
    """Other tie policies, and whole sessions split over many calls (a budget of 3 windows' scores)."""
    monkeypatch.setattr(E, "_MAX_SCORES", 3 * MAX_LEN * len(ITEM_IDS))
    test, history = make_data(seed=1)
    config = E.EvalConfig(ks=(5, 10), exclude_seen="user", tie_policy=tie_policy, batch_size=64, coverage_ks=())
    assert compare(model, test, config, history) > 0.9


def test_window_path_with_last_position_shortcut(model, monkeypatch):
    """Leave-one-out style: the history holds every earlier event of the test sessions, so the
    evaluator feeds only the last max_len + 1 events of each session (both paths), positions stay
    those of the whole sessions, and seen items still count (a target may be one of them)."""
    test, _ = make_data(seed=2)
    ordered = contiguous_sessions(test)
    history = ordered[ordered.groupby(SESSION).cumcount(ascending=False) > 0]  # all but each session's last event
    fed = []
    shorten = E._shorten_for_last
    monkeypatch.setattr(E, "_shorten_for_last", lambda *args: fed.append(shorten(*args)) or fed[-1])
    config = E.EvalConfig(ks=(1, 10), exclude_seen="user", positions="last", batch_size=4, coverage_ks=(5,))
    assert compare(model, test, config, history) > 0.9
    assert all(full is not None for _, full in fed)  # the shortcut was taken on both paths
    res = E.evaluate(model, test, config, progress=False, history=history)
    assert res.metrics["excluded_targets"] > 0 and res.metrics["predictions"] == (test.groupby(SESSION).size() > 1).sum()


def test_the_window_path_does_not_step(model, monkeypatch):
    test, _ = make_data()
    calls = []
    original = model.score_windows
    monkeypatch.setattr(model, "step", lambda *a, **k: pytest.fail("the window path called step"))
    monkeypatch.setattr(model, "score_windows", lambda w, every_position=False: calls.append(w.shape)
                        or original(w, every_position=every_position))
    res = E.evaluate(model, test, E.EvalConfig(ks=(10,), batch_size=8, coverage_ks=()), progress=False)
    assert res.metrics["predictions"] == int((test.groupby(SESSION).size() - 1).sum())
    assert calls and max(n for n, _ in calls) <= 8 and max(t for _, t in calls) <= MAX_LEN


def test_score_windows_agrees_with_direct_scoring_and_step():
    model = untrained(layer_norm="pre", ffn_dim=24)
    windows = np.array([[-1, -1, 3, 4, 5], [7, 8, 9, 10, 11], [-1, -1, -1, -1, 2]])
    direct = model.score_sequences(windows)                     # (3, 5, n_items)
    last = model.score_windows(windows)
    np.testing.assert_allclose(last, direct[:, -1], rtol=1e-5, atol=1e-5)
    every = model.score_windows(windows, every_position=True)   # real positions, row-major
    np.testing.assert_allclose(every, direct[windows >= 0], rtol=1e-5, atol=1e-5)
    assert not last.flags.writeable and not every.flags.writeable  # TensorFlow's buffers, not copies
    model.reset(1)  # the step path: the items of row 1 one by one
    for t, item in enumerate(windows[1]):
        scores = model.step(np.array([item]), np.array([t == 0]))
    np.testing.assert_allclose(last[1], scores[0], rtol=1e-5, atol=1e-5)
    short = model.score_windows(windows[:, 2:])
    model._jit = True  # the shapes XLA would see: rows and lengths padded, results unchanged
    np.testing.assert_allclose(model.score_windows(windows[:, 2:]), short, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="1 <= T <= max_len"):
        model.score_windows(np.zeros((2, MAX_LEN + 1), int))
