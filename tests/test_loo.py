"""Leave-one-out split: examples, hypothesis properties, the one split store, last-position evaluation."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import ratings_frame, ratings_frames

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.core.errors import DataError
from sbrlib.core.provenance import ProvenanceError, fingerprint
from sbrlib.data import preprocess as pp
from sbrlib.data import store as artifacts
from sbrlib.evaluation import evaluator as evaluation
from sbrlib.evaluation.evaluator import EvalConfig, evaluate, evaluate_positions
from sbrlib.models import Pop

frame = ratings_frame


def histories(max_rows=150):
    """Ratings where a user rates an item at most once (as MovieLens), with many equal times."""
    return ratings_frames(max_rows, max_user=8, max_item=15, max_tick=30, tick_seconds=60, once_per_item=True)


def test_example():
    df = frame([(1, 10, 5, 3), (1, 11, 4, 1), (1, 12, 3, 2), (1, 13, 3, 2), (2, 11, 5, 9), (2, 12, 4, 8),
                (2, 10, 3, 7), (3, 10, 3, 1), (3, 11, 3, 1)])
    split = pp.leave_one_out(df, pp.LOOConfig(min_user_events=3, min_item_support=1))
    # user 1 ordered: 11 (t1), 12 (t2), 13 (t2, file order), 10 (t3); user 3 has only 2 events
    assert split["test"].groupby(USER)[ITEM].apply(list).to_dict() == {1: [11, 12, 13, 10], 2: [10, 12, 11]}
    assert split["train_tr"].groupby(USER)[ITEM].apply(list).to_dict() == {1: [11, 12], 2: [10]}
    # user 1's valid target 13 never occurs in train_tr: no validation prediction for user 1
    assert split["valid"].groupby(USER)[ITEM].apply(list).to_dict() == {2: [10, 12]}
    assert pp.dropped_targets(split) == {"valid": 1, "test": 0}
    assert (split["test"][SESSION] == split["test"][USER]).all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=histories(), tie=st.sampled_from(["file", "item", "random"]))
def test_properties(df, tie):
    original = df.copy()
    cfg = pp.LOOConfig(min_user_events=3, min_item_support=1, tie_break=tie, seed=3)
    try:
        split = pp.leave_one_out(df, cfg)
    except DataError:
        assert (df.groupby(USER).size() < 3).all()
        return
    pd.testing.assert_frame_equal(df, original)  # input untouched
    ordered = pp.order_events(df, tie, seed=3)
    counts = ordered.groupby(USER).size()
    kept = counts[counts >= 3].index
    assert sorted(split["train"][USER].unique()) == sorted(kept)  # users with enough events, all kept
    train_items = set(split["train"][ITEM])
    train_tr_items = set(split["train_tr"][ITEM])
    for user in kept:
        history = ordered[ordered[USER] == user].reset_index(drop=True)
        tr = split["train_tr"][split["train_tr"][USER] == user].reset_index(drop=True)
        train = split["train"][split["train"][USER] == user].reset_index(drop=True)
        test = split["test"][split["test"][USER] == user].reset_index(drop=True)
        valid = split["valid"][split["valid"][USER] == user].reset_index(drop=True)
        cols = [ITEM, RATING, TIME]
        # train_tr + valid target + test target = the user's events, in order: no future item in train
        pd.testing.assert_frame_equal(tr[cols], history[cols].iloc[:-2].reset_index(drop=True), check_dtype=False)
        pd.testing.assert_frame_equal(train[cols], history[cols].iloc[:-1].reset_index(drop=True), check_dtype=False)
        assert tr[TIME].max() <= history[TIME].iloc[-2] <= history[TIME].iloc[-1]
        # exactly one test and one valid target, present when the model can score it
        test_target, valid_target = history[ITEM].iloc[-1], history[ITEM].iloc[-2]
        if test_target in train_items:
            pd.testing.assert_frame_equal(test[cols], history[cols], check_dtype=False)
        else:
            assert test.empty
        if valid_target in train_tr_items:
            pd.testing.assert_frame_equal(valid[cols], history[cols].iloc[:-1].reset_index(drop=True), check_dtype=False)
        else:
            assert valid.empty
        for f in (tr, test, valid):
            assert f.empty or (f[SESSION] == user).all()  # one session per user


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=histories(max_rows=200))
def test_filters_before_split(df):
    cfg = pp.LOOConfig(min_user_events=4, min_item_support=2)
    try:
        split = pp.leave_one_out(df, cfg)
    except DataError:
        return
    # every kept user had >= min_user_events events after filtering (train = all but the last)
    assert (split["train"].groupby(USER).size() >= cfg.min_user_events - 1).all()
    # every held-out frame row is one of the input's events
    keys = [USER, ITEM, TIME]
    for key in ("train", "test", "train_tr", "valid"):
        merged = split[key][keys].merge(df[keys], how="left", indicator=True)
        assert (merged["_merge"] == "both").all()


def test_filters_can_empty_everything():
    df = frame([(1, 1, 3, 1), (1, 2, 3, 2), (1, 3, 3, 3)])
    with pytest.raises(DataError, match="no users left"):
        pp.leave_one_out(df, pp.LOOConfig(min_user_events=3, min_item_support=2))


def test_config_validation():
    with pytest.raises(ValueError, match="min_user_events"):
        pp.LOOConfig(min_user_events=2)
    assert pp.LOOConfig.from_dict(pp.LOOConfig(tie_break="item").to_dict()) == pp.LOOConfig(tie_break="item")


def test_one_store_saves_reuses_and_loads_both_protocols(tiny_dir):
    split, folder = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    assert folder.name == "synthetic-tiny-loo"
    manifest = artifacts.read_manifest(folder)
    assert manifest["config"]["protocol"] == "leave-one-out" and manifest["source"]["sha256"]
    mtime = (folder / "manifest.json").stat().st_mtime_ns
    again, _ = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    assert (folder / "manifest.json").stat().st_mtime_ns == mtime  # reused
    for key in ("train", "test", "train_tr", "valid"):
        pd.testing.assert_frame_equal(again[key], split[key])
    assert manifest["duplicates_dropped"] == 0 and again.duplicates_dropped == 0
    assert artifacts.load_split(folder).config == pp.LOOConfig() and again.cutoffs == {}
    assert again.name == folder.name and again["test"].attrs["split_fingerprint"] == again.fingerprint
    _, temporal = artifacts.prepare("synthetic-tiny", pp.PreprocessConfig(), data_dir=tiny_dir)
    assert temporal.parent == folder.parent  # one store
    assert isinstance(artifacts.load_split(temporal).config, pp.PreprocessConfig)
    # a leave-one-out split asked for under a temporal split's name is refused, naming the protocol
    with pytest.raises(ProvenanceError, match="protocol"):
        artifacts.prepare("synthetic-tiny", pp.LOOConfig(), name=temporal.name, data_dir=tiny_dir)
    # non-default parameters get their own fingerprinted name, as before (loo.prepare_loo's names)
    other = pp.LOOConfig(min_user_events=4)
    _, other_folder = artifacts.prepare("synthetic-tiny", other, data_dir=tiny_dir)
    assert other_folder.name == f"synthetic-tiny-loo-{fingerprint(other.to_dict())}"


def test_evaluate_last_position_scores_held_out_item(tiny_dir):
    split, _ = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    model = Pop().fit(split["train"])
    cfg = EvalConfig(ks=(10,), exclude_seen=True, coverage_ks=())
    res = evaluate_positions(model, split["test"], cfg, positions="last", progress=False)
    test = split["test"]
    assert res.metrics["predictions"] == test[USER].nunique() == len(res.predictions)
    # the rank of each user's last item among the items the user has not rated, by popularity
    pop = model.popularity()
    expected = []
    for _, hist in test.groupby(SESSION, sort=False):
        idx = model.item_index.to_idx(hist[ITEM].to_numpy())
        scores = pop.astype(np.float32).copy()
        scores[idx[:-1]] = -np.inf
        expected.append((scores >= scores[idx[-1]]).sum())
    got = res.predictions.set_index(SESSION)["rank"]
    want = pd.Series(expected, index=test.groupby(SESSION, sort=False).size().index)
    np.testing.assert_array_equal(got.sort_index().to_numpy(), want.sort_index().to_numpy())
    full = evaluate(model, split["test"], cfg, progress=False)
    assert full.metrics["predictions"] > res.metrics["predictions"]


def test_last_position_shortcut_for_bounded_context_is_exact(tiny_dir, monkeypatch):
    """SASRec sees only its last max_len items: feeding only the last max_len + 1 events of each
    held-out history gives the ranks of the full evaluation (seen items excluded via the history)."""
    from sbrlib.models.sasrec import SASRec, SASRecConfig

    split, _ = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    model = SASRec(SASRecConfig(max_len=6, blocks=1, dim=8, epochs=1, batch_size=16, jit_compile=False))
    model.fit(split["train"], progress=False)
    cfg = EvalConfig(ks=(10,), exclude_seen="user", coverage_ks=(), positions="last")
    fed = []
    shorten = evaluation._shorten_for_last

    def spy(*args):
        out = shorten(*args)
        fed.append(out[0].groupby(SESSION).size().max())
        return out

    monkeypatch.setattr(evaluation, "_shorten_for_last", spy)
    # every prediction of the whole histories, no shortcut; its last one per session is the reference
    full = evaluate(model, split["test"], dataclasses.replace(cfg, positions="all"), progress=False,
                    history=split["train"]).predictions
    full = full[full["position"] == full["session_length"] - 1]
    short = evaluate_positions(model, split["test"], cfg, positions="last", progress=False, history=split["train"])
    assert fed == [7] < [split["test"].groupby(SESSION).size().max()]  # the evaluator took the shortcut
    a = full.set_index(SESSION).sort_index()
    b = short.predictions.set_index(SESSION).sort_index()
    assert a.index.equals(b.index)
    # positions are reported in the whole sessions, as without the shortcut
    assert (a["session_length"] == b["session_length"]).all() and (a["position"] == b["position"]).all()
    assert (a["rank"] == b["rank"]).mean() > 0.9 and (a["rank"] - b["rank"]).abs().max() <= 1  # float rounding
    # without a history holding the cut events the shortcut is not taken
    fed.clear()
    evaluate_positions(model, split["test"], cfg, positions="last", progress=False)
    assert fed == [split["test"].groupby(SESSION).size().max()]


# --------------------------------------------------------------------------- notebook 07 helpers


def test_last_session_view():
    from sbrlib.notebook.protocols import last_session_view

    df = frame([(1, 1, 3, 0), (1, 2, 3, 10), (1, 3, 3, 5000), (1, 4, 3, 5010), (2, 5, 3, 0), (2, 6, 3, 9000)])
    df[SESSION] = df[USER]
    earlier, last = last_session_view(df, gap=3600)
    assert last.groupby(USER)[ITEM].apply(list).to_dict() == {1: [3, 4], 2: [6]}
    assert (last[SESSION] == last[USER]).all()
    assert earlier.groupby(USER)[ITEM].apply(list).to_dict() == {1: [1, 2], 2: [5]}
    assert earlier[SESSION].nunique() == 2  # earlier events keep their gap sessions


def test_loo_frames_caption_says_the_frames_are_nested_histories():
    from sbrlib.notebook.protocols import history_users_sentence, loo_frames_caption

    df = frame([(u, i, 3, u * 100 + (i + u) % 6) for u in range(1, 5) for i in range(1, 7)])  # last items differ
    split = pp.leave_one_out(df, pp.LOOConfig(min_user_events=3, min_item_support=1))
    text = loo_frames_caption(split)
    n = {k: len(split[k]) for k in ("train_tr", "valid", "train", "test")}
    assert n == {"train_tr": 16, "valid": 20, "train": 20, "test": 24}
    assert "`test` (24 events, 4 users)" in text and "`train` (20 events)" in text and "(4 events fewer)" in text
    assert "`train_tr` (16 events)" in text and "`valid` and `train` hold the same events" in text
    assert "nested user histories" in text and "`test` is the largest frame" in text
    sentence = history_users_sentence(3, split, 3600)
    assert "3 of 4 users" in sentence and "for the other 1 the final session" in sentence and "3,600 s" in sentence


class _Counting(Pop):
    """Pop with epochs (the training loop's model interface): validation scores follow a script, to
    test early stopping."""

    fits: list = []

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs or 10
        self.config = SimpleNamespace(epochs=self.epochs)

    def prepare_training(self, train):
        super().fit(train)
        _Counting.fits.append(self.epochs)
        self.epoch = 0

    def train_epoch(self, progress=False):
        self.epoch += 1
        return {"loss": 1.0, "events": 10, "seconds": 0.01}

    def fit(self, train, progress=False):
        self.prepare_training(train)
        for _ in range(self.epochs):
            self.train_epoch()
        return self

    def get_weights(self):
        return {"epoch": self.epoch}

    def set_weights(self, weights):
        self.restored = weights


def test_fit_early_stopped_refits_best_epoch(tiny_dir, monkeypatch):
    from sbrlib import training
    from sbrlib.notebook import protocols as sequential

    split, _ = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9])
    seen = []

    def fake_validate(model, valid, config, history_frame=None):
        seen.append((config.validation.positions, history_frame is split["train_tr"]))
        value = next(scores)
        return {m: value for m in (*config.recorded, config.metric)}

    monkeypatch.setattr(training, "validate", fake_validate)
    _Counting.fits = []
    model, info = sequential.fit_early_stopped(_Counting, split["train_tr"], split["valid"], split["train"],
                                               EvalConfig(ks=(10,)), "last", "ndcg@10", patience=2, refit=True)
    assert info["best_epoch"] == 2 and info["curve"] == [0.1, 0.3, 0.2, 0.25]  # 2 epochs without improvement
    assert info["stopped"] == "patience" and info["epochs_run"] == 4 and info["facts"].stopped_by == "patience"
    assert seen[0] == ("last", True)  # leave-one-out positions; train_tr is the history of exclude_seen="user"
    assert _Counting.fits == [10, 2] and model.epochs == 2  # refit on train for the best epoch count

    # default: train once, keep the weights of the best epoch (no second training)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9])
    _Counting.fits = []
    model, info = sequential.fit_early_stopped(_Counting, split["train_tr"], split["valid"], split["train"],
                                               EvalConfig(ks=(10,)), "last", "ndcg@10", patience=1)
    assert _Counting.fits == [10] and info["fit_seconds"] == 0.0
    assert info["epochs_run"] == 3  # patience 1: stop after the first epoch without improvement
    assert model.restored == {"epoch": 2}  # the snapshot taken when epoch 2 was best

    # a time budget stops after the epoch in which it is spent
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9])
    _Counting.fits = []
    _, info = sequential.fit_early_stopped(_Counting, split["train_tr"], split["valid"], split["train"],
                                           EvalConfig(ks=(10,)), "last", "ndcg@10", patience=5, max_seconds=0.0)
    assert info["stopped"] == "budget" and info["epochs_run"] == 1 and info["still_improving"] is True


def test_bootstrap_and_paired_difference_match_point_estimates(tiny_dir):
    from sbrlib.models import ItemKNN
    from sbrlib.notebook import protocols as sequential

    split, _ = artifacts.prepare("synthetic-tiny", pp.LOOConfig(), data_dir=tiny_dir)
    cfg = EvalConfig(ks=(10,), coverage_ks=())
    res = {name: evaluate_positions(m.fit(split["train"]), split["test"], cfg, "last", progress=False)
           for name, m in (("Pop", Pop()), ("Item-kNN", ItemKNN()))}
    table = sequential.bootstrap_table(res, ("recall@10", "ndcg@10"), n_boot=200)
    for name, r in res.items():
        assert table.loc[name, "ndcg@10"] == pytest.approx(r.metrics["ndcg@10"])
        assert table.loc[name, "ndcg@10 lo"] <= r.metrics["ndcg@10"] <= table.loc[name, "ndcg@10 hi"]
    diff = sequential.paired_difference(res["Item-kNN"], res["Pop"], "ndcg@10", n_boot=200)
    assert diff["difference"] == pytest.approx(res["Item-kNN"].metrics["ndcg@10"] - res["Pop"].metrics["ndcg@10"])
    assert diff["lo"] <= diff["difference"] <= diff["hi"] and diff["sessions"] == split["test"][USER].nunique()
    assert diff["exclude_seen"] == str(cfg.exclude_seen)  # the setting both were ranked with, a table column in 07
    assert "exclude_seen" in sequential.comparison_table([("loo", "Item-kNN", "Pop", diff)], 200).columns


def test_findings_say_when_a_model_was_cut_short_and_declare_no_winner_then():
    from sbrlib.notebook import findings

    t = pd.DataFrame({"recall@20": [0.3, 0.2, 0.25, 0.1], "recall@20 lo": [0.28, 0.18, 0.2, 0.08],
                      "recall@20 hi": [0.32, 0.22, 0.3, 0.12], "predictions": [100] * 4,
                      "best_epoch": [5, np.nan, 10, 3], "epochs_run": [8, np.nan, 10, 3],
                      "stopped": ["patience", "", "epochs", "budget"]}, index=["GRU4Rec", "SR", "SASRec", "X"])

    def fact(stopped_by, best, run):
        return {"stopped_by": stopped_by, "best_epoch": best, "epochs_run": run, "still_improving": best == run,
                "metric": "recall@20", "best_score": None, "seconds": 1.0, "max_epochs": 10, "patience": 2,
                "budget_seconds": 60.0}

    facts = {name: fact(t.loc[name, "stopped"], int(t.loc[name, "best_epoch"]), int(t.loc[name, "epochs_run"]))
             for name in ("GRU4Rec", "SASRec", "X")}
    assert facts["SASRec"]["stopped_by"] == "epochs" and facts["SASRec"]["still_improving"]
    assert facts["X"]["stopped_by"] == "budget" and not facts["GRU4Rec"]["still_improving"]
    configs = {m: findings.config_facts("the defaults (X())") for m in facts}
    found = findings.sequential({"temporal": t}, {"temporal": "recall@20"}, [], "d", configs, {"temporal": facts},
                                {"SR": "defaults"}, refit=False)
    text = found.markdown
    assert "SASRec ran 10 of at most 10 epochs" in text and "X ran 3 of at most 10 epochs" in text
    assert "its time budget ran out (60 s)" in text and "**not refit**" in text and "then **refit**" not in text
    assert "not a fair contest" in text and "SASRec was stopped by its epoch cap while still improving" in text
    assert all(shown in text for shown in found.shown.values())
