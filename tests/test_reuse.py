"""Train once across the series (07 reuses 04's GRU4Rec and 05's baselines when they match) and the
verdict rule of the head-to-head (no winner for an undertrained or unequally tuned side)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sbrlib import training
from sbrlib.core.training_facts import TrainingFacts
from sbrlib.data import preprocess as pp
from sbrlib.data import store as artifacts
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.notebook import comparisons as experiments
from sbrlib.notebook import protocols as sequential

# --------------------------------------------------------------------------- the verdict rule


def _facts(stopped_by="patience", best=4, run=6, budget=None, cap=50) -> TrainingFacts:
    return TrainingFacts(stopped_by=stopped_by, best_epoch=best, epochs_run=run, still_improving=best == run,
                         best_score=0.1, metric="ndcg@10", seconds=10.0, budget_seconds=budget, max_epochs=cap,
                         patience=5)


CLEAR = {"metric": "ndcg@10", "difference": 0.02, "lo": 0.01, "hi": 0.03, "sessions": 900}
OVERLAP = {"metric": "ndcg@10", "difference": 0.005, "lo": -0.004, "hi": 0.014, "sessions": 900}
TUNED = {"n_trials": 20, "source": "notebook 03"}


def test_verdict_names_a_winner_only_when_fair_and_clear():
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), CLEAR, TUNED, TUNED, "leave-one-out")
    assert v.allowed and v.winner == "SASRec" and v.reasons == ()
    assert "SASRec is ahead of GRU4Rec" in v.sentence and "+0.0100 to +0.0300" in v.sentence
    lower = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), {**CLEAR, "difference": -0.02, "lo": -0.03,
                                                                          "hi": -0.01})
    assert lower.winner == "GRU4Rec"
    both_default = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), CLEAR)  # both untuned: comparable
    assert both_default.allowed and both_default.winner == "SASRec"
    assert "both ran untuned defaults (no search)" in both_default.sentence  # the effort is said, not "comparable"
    assert "both had 20 search trials" in v.sentence
    single = {"n_trials": 1, "source": "notebook 03"}
    one = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), CLEAR, single, single)
    assert "both had a single search trial (their default configurations, not tuned)" in one.sentence


def test_interval_including_zero_is_not_distinguishable():
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), OVERLAP, TUNED, TUNED)
    assert v.allowed and v.winner is None and "not distinguishable" in v.sentence and "ahead of" not in v.sentence


@pytest.mark.parametrize("interval", [CLEAR, OVERLAP])
def test_budget_stopped_still_improving_model_never_gets_a_verdict(interval):
    cut = _facts(stopped_by="budget", best=10, run=10, budget=240.0)
    v = sequential.verdict("SASRec", "GRU4Rec", cut, _facts(), interval, TUNED, TUNED, "leave-one-out")
    assert not v.allowed and v.winner is None
    assert "no verdict: SASRec was stopped by its 4-minute budget while still improving (best epoch = last epoch " \
           "10)" in v.sentence
    assert "ahead" not in v.sentence and "not distinguishable" not in v.sentence
    capped = _facts(stopped_by="epochs", best=10, run=10, cap=10)  # the epoch cap, still improving: the same
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), capped.to_dict(), interval, TUNED, TUNED)
    assert not v.allowed and "GRU4Rec was stopped by its epoch cap (10) while still improving" in v.sentence
    # stopped by the budget after it had stopped improving: the model converged, a verdict is allowed
    converged = _facts(stopped_by="budget", best=6, run=10, budget=240.0)
    assert sequential.verdict("SASRec", "GRU4Rec", converged, _facts(), interval, TUNED, TUNED).allowed


def test_unequal_trials_withhold_the_verdict():
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), CLEAR, None, TUNED)
    assert not v.allowed and v.winner is None
    assert "the tuning budgets differ: SASRec had untuned defaults (no search), GRU4Rec 20 search trials" in v.sentence
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), _facts(), CLEAR, {"n_trials": 5, "source": "03"}, TUNED)
    assert not v.allowed and "5 search trials" in v.sentence


def test_findings_use_the_verdict_rule():
    import pandas as pd

    table = pd.DataFrame({"ndcg@10": [0.06, 0.05], "ndcg@10 lo": [0.05, 0.04], "ndcg@10 hi": [0.07, 0.06],
                          "predictions": [900, 900], "stopped": ["budget", "patience"],
                          "epochs_run": [10, 6], "best_epoch": [10, 4], "still_improving": [True, False]},
                         index=pd.Index(["SASRec", "GRU4Rec"], name="model"))
    from sbrlib.notebook import findings

    facts = {"SASRec": _facts("budget", 10, 10, 240.0), "GRU4Rec": _facts()}
    configs = {m: findings.config_facts("tuned: trial 3", {"n_trials": 12}) for m in facts}
    found = findings.sequential({"loo": table}, {"loo": "ndcg@10"}, [("loo", "SASRec", "GRU4Rec", CLEAR),
                                                                    ("loo", "GRU4Rec + history", "GRU4Rec", CLEAR)],
                                "d", configs, {"loo": {m: f.to_dict() for m, f in facts.items()}}, {}, refit=False,
                                tuning={"SASRec": TUNED, "GRU4Rec": TUNED})
    text = found.markdown
    assert "no verdict: SASRec was stopped by its 4-minute budget while still improving" in text
    assert found.numbers["verdict/0"]["allowed"] is False and found.numbers["verdict/0"]["winner"] is None
    assert "the interval excludes 0" in text  # the same model fed other inputs: no fairness rule applies
    # reader 14, 1.1: a leave-one-out verdict says SASRec read only its latest max_len items of long histories
    lengths = {"users": 943, "longer": 551, "max_len": 50, "mean": 104.3, "median": 63, "max": 647}
    loo = findings.sequential({"leave-one-out": table}, {"leave-one-out": "ndcg@10"},
                              [("leave-one-out", "SASRec", "GRU4Rec", CLEAR)], "d", configs,
                              {"leave-one-out": {m: f.to_dict() for m, f in facts.items()}}, {}, refit=False,
                              tuning={"SASRec": TUNED, "GRU4Rec": TUNED}, history={"lengths": lengths}).markdown
    verdict_line = next(line for line in loo.split("\n") if "SASRec minus GRU4Rec" in line)
    assert verdict_line.endswith("SASRec ran as configured, reading at most its latest `max_len` (50) items of each "
                                 "history (see above).")
    assert "compares SASRec as configured, not SASRec reading whole histories" in loo
    short = {**lengths, "longer": 0}
    assert "as configured" not in findings.sequential(
        {"leave-one-out": table}, {"leave-one-out": "ndcg@10"}, [("leave-one-out", "SASRec", "GRU4Rec", CLEAR)], "d",
        configs, {"leave-one-out": {m: f.to_dict() for m, f in facts.items()}}, {}, refit=False,
        tuning={"SASRec": TUNED, "GRU4Rec": TUNED}, history={"lengths": short}).markdown


# --------------------------------------------------------------------------- 04's GRU4Rec in 07


@pytest.fixture(scope="module")
def temporal(tiny_dir, tmp_path_factory):
    import os

    os.environ["SBR_PROJECT_DIR"] = str(tmp_path_factory.mktemp("project"))
    cfg = pp.PreprocessConfig(session_mode="gap", min_item_support=2, test=pp.SplitConfig(fraction=0.2),
                              valid=pp.SplitConfig(fraction=0.2))
    split, _ = artifacts.prepare("synthetic-tiny", cfg, name="tiny-reuse", data_dir=tiny_dir)
    return split


@pytest.fixture(scope="module")
def saved_gru(temporal, tmp_path_factory):
    """A tiny GRU4Rec trained as notebook 04 trains it (train_tr, early stopping on valid) and saved."""
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    cfg = GRU4RecConfig(layers=(8,), batch_size=8, n_sample=8, epochs=2, validation_metric="mrr@20",
                        early_stopping_patience=2, seed=1)
    model = GRU4Rec(cfg)
    training.fit(model, temporal["train_tr"], temporal["valid"], training.TrainingConfig.from_model(cfg),
                 progress=False)
    folder = model.save(tmp_path_factory.mktemp("models") / "gru")
    return folder, cfg


def test_07_reuses_04s_model_when_it_matches(temporal, saved_gru):
    from sbrlib.models.gru4rec import GRU4Rec

    folder, cfg = saved_gru
    # 07's own training rule (epochs, patience, eval batch, sequence_aware) is not part of the model
    expected = dataclasses.replace(cfg, epochs=30, early_stopping_patience=None, eval_batch_size=64,
                                   sequence_aware=True).to_dict()
    model, reuse = sequential.reuse_saved(folder, temporal, expected, frame="train_tr", metric="mrr@20",
                                          family="gru4rec", what="04's GRU4Rec")
    assert reuse.usable and reuse.reasons == () and isinstance(model, GRU4Rec)
    assert reuse.sentence.startswith("04's GRU4Rec is reused as trained") and "best epoch" in reuse.sentence
    assert model.training_facts == GRU4Rec.load(folder).training_facts

    # run_protocol uses it as it is: the factory would fail if it were called (no retraining)
    def no_training(epochs=None):
        raise AssertionError("the reused model was trained again")

    cfg_eval = EvalConfig(ks=(10, 20), coverage_ks=(), batch_size=64)
    from sbrlib.models import Pop

    run = sequential.run_protocol(temporal, {"GRU4Rec": no_training}, {"Pop": Pop}, cfg_eval, "all", "mrr@20", 5,
                                  ("recall@20",), n_boot=50, progress=False, trained={"GRU4Rec": model})
    assert run.facts["GRU4Rec"] == model.training_facts
    # a baseline has no training loop: its early-stopping time is not applicable, not 0.0 s (reader 24)
    assert np.isnan(run.table.loc["Pop", "early_stop_seconds"]) and run.table.loc["Pop", "fit_seconds"] >= 0
    assert run.table.loc["GRU4Rec", "epochs_run"] == model.training_facts.epochs_run
    assert run.table.loc["GRU4Rec", "fit_seconds"] == 0.0
    direct = evaluate(GRU4Rec.load(folder), temporal["test"], cfg_eval, progress=False, history=temporal["train"])
    assert run.table.loc["GRU4Rec", "recall@20"] == pytest.approx(direct.metrics["recall@20"])  # one number


def test_07_falls_back_when_04s_model_differs(temporal, saved_gru, tmp_path):
    from sbrlib.models.gru4rec import GRU4Rec

    folder, cfg = saved_gru
    expected = cfg.to_dict()
    # REFIT in 04: trained on "train"
    _, reuse = sequential.reuse_saved(folder, temporal, expected, frame="train", metric="mrr@20")
    assert not reuse.usable and "trained on the frame 'train_tr', not on 'train'" in reuse.sentence
    # other parameters in 04 (or in 07)
    other = dataclasses.replace(cfg, layers=(16,), learning_rate=0.5).to_dict()
    model, reuse = sequential.reuse_saved(folder, temporal, other, frame="train_tr", metric="mrr@20")
    assert model is None and "configuration differs" in reuse.sentence and "layers" in reuse.sentence
    assert "learning_rate" in reuse.sentence
    # another early-stopping metric
    _, reuse = sequential.reuse_saved(folder, temporal, expected, frame="train_tr", metric="recall@20")
    assert not reuse.usable and "chosen by mrr@20, this notebook early-stops on recall@20" in reuse.sentence
    # another split (a different fingerprint)
    moved = dataclasses.replace(temporal, name="other", fingerprint="00000000")
    prov = GRU4Rec.load(folder).provenance
    decision = sequential.check_reuse(prov, expected, split_name="other", split_fingerprint="00000000",
                                      frame="train_tr", expected_config=expected)
    assert not decision.usable and "not on other (fingerprint 00000000)" in decision.sentence
    _, reuse = sequential.reuse_saved(folder, moved, expected)
    assert not reuse.usable and "not on other (fingerprint 00000000)" in reuse.sentence
    # a model trained on "train" (REFIT) is refused where 07 trains on train_tr
    refit = {**prov, "trained_on": "train"}
    decision = sequential.check_reuse(refit, expected, split_name=temporal.name,
                                      split_fingerprint=temporal.fingerprint, frame="train_tr",
                                      expected_config=expected)
    assert not decision.usable and "REFIT=True" in decision.sentence
    # no model at all
    _, reuse = sequential.reuse_saved(tmp_path / "nothing", temporal, expected)
    assert not reuse.usable and "no saved model" in reuse.sentence


# --------------------------------------------------------------------------- 05's baselines in 06 and 07


def test_baselines_refit_as_in_05_are_identical(temporal):
    params = {"SR": {"steps": 5}, "Item-kNN": {"lam": 10.0, "alpha": 0.5}}
    sources = {"SR": "tuned (notebook 03, 4 trials)", "Item-kNN": "parameters cell"}
    record = experiments.baseline_fit_record(params, sources, "train_tr", temporal.name, temporal.fingerprint)
    plan = experiments.baselines_as_in_05(["SR", "Item-kNN"], record, temporal.name, temporal.fingerprint,
                                          {}, {}, "train")
    assert plan.same_as_05 and plan.frame == "train_tr" and plan.params == params
    assert "exactly as notebook 05" in plan.sentence
    assert {n: r["fingerprint"] for n, r in plan.record.items()} == {n: r["fingerprint"] for n, r in record.items()}
    # fitting is deterministic: the refit scores exactly as the first fit
    factories = experiments.baseline_factories(plan.params)
    cfg = EvalConfig(ks=(20,), coverage_ks=(), batch_size=64)
    for name in params:
        first = evaluate(factories[name]().fit(temporal[plan.frame]), temporal["test"], cfg, progress=False)
        again = evaluate(factories[name]().fit(temporal[plan.frame]), temporal["test"], cfg, progress=False)
        np.testing.assert_array_equal(first.predictions["rank"].to_numpy(), again.predictions["rank"].to_numpy())


def test_baselines_fall_back_with_a_reason(temporal):
    params = {"SR": {"steps": 5}}
    record = experiments.baseline_fit_record(params, {"SR": "x"}, "train_tr", "other", "ffffffff")
    plan = experiments.baselines_as_in_05(["SR"], record, temporal.name, temporal.fingerprint,
                                          {"SR": {"steps": 10}}, {"SR": "parameters cell"}, "train_tr")
    assert not plan.same_as_05 and plan.params == {"SR": {"steps": 10}}
    assert "another split (fingerprint ffffffff" in plan.sentence
    plan = experiments.baselines_as_in_05(["SR", "Item-kNN"], None, temporal.name, temporal.fingerprint,
                                          {}, {}, "train_tr")
    assert not plan.same_as_05 and "recorded no baseline fits" in plan.sentence and plan.frame == "train_tr"
    plan = experiments.baselines_as_in_05(["SR", "Item-kNN"], record, temporal.name, temporal.fingerprint,
                                          {}, {}, "train_tr")
    assert "05 did not fit Item-kNN" in plan.sentence


def test_a_single_trial_of_the_defaults_counts_the_search_behind_them(monkeypatch):
    """Both models' defaults are the best trials of equally long ML-100K searches: one trial of each
    (the defaults) is an equal tuning budget and may get a verdict; a model whose defaults carry no
    search against one whose defaults do may not."""
    import pandas as pd

    from sbrlib.models import registry
    from sbrlib.notebook import findings

    trials = registry.defaults_search("GRU4Rec")["trials"]
    assert trials > 1 and registry.defaults_search("sasrec")["trials"] == trials
    table = pd.DataFrame({"ndcg@10": [0.06, 0.05], "ndcg@10 lo": [0.05, 0.04], "ndcg@10 hi": [0.07, 0.06],
                          "predictions": [900, 900]}, index=pd.Index(["GRU4Rec", "SASRec"], name="model"))
    facts = {"SASRec": _facts(), "GRU4Rec": _facts()}
    configs = {m: findings.config_facts("tuned: a single trial (1 complete, 0 pruned)", {"n_trials": 1}) for m in facts}

    def run():
        return findings.sequential({"loo": table}, {"loo": "ndcg@10"}, [("loo", "SASRec", "GRU4Rec", CLEAR)], "d",
                                   configs, {"loo": {m: f.to_dict() for m, f in facts.items()}}, {}, refit=False)

    assert run().numbers["verdict/0"]["winner"] == "SASRec"
    real = registry.defaults_search
    monkeypatch.setattr(registry, "defaults_search", lambda name: None if registry.resolve(name) == "sasrec" else real(name))
    found = run()
    assert found.numbers["verdict/0"]["winner"] is None
    assert f"its defaults are the best of {trials} trials of an earlier search on ml-100k" in found.markdown


def test_an_allowed_verdict_states_the_effort_behind_both_sides_and_their_training_rules():
    prior = {"prior_trials": 49, "prior_dataset": "ml-100k"}
    gru = dataclasses.replace(_facts(), patience=2, max_epochs=10, metric="mrr@20", budget_seconds=44.94)
    v = sequential.verdict("SASRec", "GRU4Rec", _facts(), gru, CLEAR, {"n_trials": 3, **prior}, {"n_trials": 3, **prior})
    assert v.winner == "SASRec"
    assert ("both had 49 + 2 searched configurations. Each one's default configuration is the best of 49 trials of an "
            "earlier search on") in v.sentence
    assert "not part of this run; notebook 03 shows their record" in v.sentence
    assert "52 search trials" not in v.sentence
    assert "This run's 3 trials each, whose trial 0 trained those defaults again, added 2 new" in v.sentence
    assert "SASRec validated on ndcg@10 with patience 5 (epoch cap 50)" in v.sentence
    assert "GRU4Rec validated on mrr@20 with patience 2 (epoch cap 10, time limit 44.9 s)" in v.sentence
    assert "the model ahead, trained under the shorter rule" not in v.sentence  # SASRec ahead, with the longer rule
    # how the earlier searches' trials ended is said (reader 19, 1.1: "49 searched configurations" overstated them)
    from sbrlib.models import registry
    from sbrlib.notebook.findings import prior_ended_text

    ended = prior_ended_text(registry.defaults_search("gru4rec"))
    assert ended.startswith("15 ran to their own end, 32 were stopped early") and ended.endswith("2 are not recorded")
    assert prior_ended_text({"trials": 5, "complete": 5}) == "5 ran to their own end" and prior_ended_text({}) == ""
    told = sequential.verdict("SASRec", "GRU4Rec", _facts(), gru, CLEAR, {"n_trials": 3, **prior, "prior_ended": "a"},
                              {"n_trials": 3, **prior, "prior_ended": "b"})
    assert "; how those trials ended: SASRec, a; GRU4Rec, b" in told.sentence
    assert "how those trials ended" not in v.sentence  # not recorded: not said
    flipped = sequential.verdict("GRU4Rec", "SASRec", gru, _facts(), CLEAR, {"n_trials": 3, **prior},
                                 {"n_trials": 3, **prior})
    assert flipped.winner == "GRU4Rec"
    assert ("GRU4Rec, the model ahead, trained under the shorter rule (no more patience, epochs or time than the "
            "other), so the rules gave it no more training than the other had") in flipped.sentence


def test_a_search_from_the_defaults_carries_their_earlier_search_into_the_verdict():
    from sbrlib.notebook import findings

    tuned = findings._tuning_facts("SASRec", {"source": "tuned", "n_trials": 3})
    assert tuned["prior_trials"] == 49 and tuned["n_trials"] == 3
    assert "prior_trials" not in findings._tuning_facts("SASRec", {"source": "kang-mcauley", "n_trials": None})
    assert "prior_trials" not in findings._tuning_facts("SR", {"source": "tuned", "n_trials": 40})


def test_the_protocol_validates_with_its_own_seen_items_setting(temporal, monkeypatch):
    """07 stops neural models on the temporal split with the searches' and 04's setting ("none") while
    its test tables exclude the user's items."""
    seen = {}

    def fake_fit(make, train_tr, valid, train, eval_config, *args, **kwargs):
        seen["validation"] = eval_config.exclude_seen
        raise RuntimeError("stop here")

    monkeypatch.setattr(sequential, "fit_early_stopped", fake_fit)
    cfg = EvalConfig(ks=(10,), exclude_seen="user", coverage_ks=())
    for setting, expected in ((None, "user"), ("none", "none")):
        with pytest.raises(RuntimeError, match="stop here"):
            sequential.run_protocol(temporal, {"X": lambda epochs: None}, {}, cfg, "all", "mrr@10", 2, ("recall@10",),
                                    validation_exclude_seen=setting)
        assert seen["validation"] == expected


def test_the_effort_sentence_says_which_trials_stopped_early_and_that_the_defaults_are_in_use():
    """07's verdict of the ml-100k run: "52 search trials: 49 ... and 3 in this run" said nothing of the
    3 trials (2 and 1 stopped early by their time limit; both searches kept the default configuration)."""
    from sbrlib.notebook import findings

    desc = ("tuned: best of 3 trials (1 complete, 2 pruned; 2 stopped early by their time limit, after 7 and 1 epochs)"
            " — the best is the default configuration, GRU4RecConfig() (the class defaults) — so the model in use is "
            "the shipped default configuration — on s train_tr→valid, MRR@20 0.0615 (trial 0)")
    gru_trials = {"n_trials": 3, "n_complete": 1, "n_pruned": 2,
                  "stopped_early": [{"trial": 1, "epoch": 7, "rule": "time limit"},
                                    {"trial": 2, "epoch": 1, "rule": "time limit"}]}
    sas_trials = {"n_trials": 3, "n_complete": 2, "n_pruned": 1,
                  "stopped_early": [{"trial": 2, "epoch": 1, "rule": "time limit"}]}
    gru = findings.config_facts(desc, gru_trials)
    sas = findings.config_facts(desc.replace("GRU4RecConfig", "SASRecConfig"), sas_trials)
    assert gru["best_is_default"] and len(gru["stopped_early"]) == 2
    sentence = findings.config_sentence("GRU4Rec", gru)
    assert sentence.startswith("GRU4Rec: its default configuration, GRU4RecConfig() (the class defaults), kept: "
                               "notebook 03's search of 3 trials on `valid` (2 stopped early by their time limit, "
                               "after 7 and 1 epochs) did not beat it")
    assert "so the model in use is the shipped default" in sentence
    tune = {"GRU4Rec": findings._tuning_facts("GRU4Rec", gru), "SASRec": findings._tuning_facts("SASRec", sas)}
    v = sequential.verdict("GRU4Rec", "SASRec", _facts(), _facts(), CLEAR, tune["GRU4Rec"], tune["SASRec"])
    assert v.winner == "GRU4Rec"
    assert ("This run's 3 trials each, whose trial 0 trained those defaults again, added 2 new. Of this run's trials: "
            "GRU4Rec: 2 stopped early by their time limit, after 7 and 1 epochs; "
            "SASRec: 1 stopped early by its time limit, after 1 epoch; no trial of this run beat either default configuration, so both models "
            "in use are the shipped defaults; a trial stopped early was scored on the epochs it ran, so its "
            "configuration was only partly evaluated.") in v.sentence
    # reader 13, 4.1: the second protocol's verdict does not repeat the same effort clause
    again = sequential.verdict("GRU4Rec", "SASRec", _facts(), _facts(), CLEAR, tune["GRU4Rec"], tune["SASRec"],
                               said_effort=v.effort)
    assert v.effort and v.effort not in again.sentence and again.winner == "GRU4Rec"
    assert "Search effort: as stated in the verdict above (the same searches)." in again.sentence
    other = sequential.verdict("GRU4Rec", "SASRec", _facts(), _facts(), CLEAR, tune["GRU4Rec"], tune["SASRec"],
                               said_effort="something else")
    assert v.effort in other.sentence
    # a trial cut while still improving, and one stopped by the epoch cap while still improving, are said so
    gru_trials["stopped_early"][0]["still_improving"] = True
    sas_trials["capped_improving"] = 1
    gru = findings.config_facts(desc, gru_trials)
    sas = findings.config_facts(desc.replace("GRU4RecConfig", "SASRecConfig"), sas_trials)
    assert "(2 stopped early by their time limit, after 7 and 1 epochs, 1 of them while still improving)" in \
        findings.config_sentence("GRU4Rec", gru)
    v = sequential.verdict("GRU4Rec", "SASRec", _facts(), _facts(), CLEAR, findings._tuning_facts("GRU4Rec", gru),
                           findings._tuning_facts("SASRec", sas))
    assert ("GRU4Rec: 2 stopped early by their time limit, after 7 and 1 epochs, 1 of them while still improving; "
            "SASRec: 1 stopped early by its time limit, after 1 epoch, and 1 was stopped by the search's epoch cap while "
            "still improving; no trial") in v.sentence
