"""Hyperparameter search: GRU4Rec and baseline searches, resume, bad input, corrupt study, divergence."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sbrlib import tuning
from sbrlib.core import paths
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.models.baselines import SRConfig

optuna = pytest.importorskip("optuna")
COMPLETE, FAIL, PRUNED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
                          optuna.trial.TrialState.PRUNED)
SMALL = {"layers": 16, "batch_size": 8, "n_sample": 8, "constrained_embedding": True}


@pytest.fixture
def split(tiny_dir):
    cfg = preprocess.PreprocessConfig(min_item_support=2)
    return artifacts.prepare("synthetic-tiny", cfg, name="tiny-gap", data_dir=tiny_dir)[0]


NAN_LOSS = "nan-loss"


class FakeFit:
    """Replaces GRU4Rec's training epoch and the loop's validation: trial ``i`` reports
    ``outcomes[i]`` as per-epoch validation MRR@20 (no training); an exception is raised when the
    trial starts (a failing trial); ``NAN_LOSS`` gives the first epoch a NaN loss (a diverging
    trial). Install with :meth:`install`; give the trials ``max_epochs`` = the script's length."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def install(self, monkeypatch):
        from sbrlib import training
        from sbrlib.models.gru4rec import GRU4Rec

        fake = self

        def prepare_training(model, train):
            outcome = fake.outcomes[min(fake.calls, len(fake.outcomes) - 1)]
            fake.calls += 1
            if isinstance(outcome, BaseException):
                raise outcome
            model._script = (outcome, iter([] if outcome == NAN_LOSS else outcome))

        def train_epoch(model, progress=False):
            loss = float("nan") if model._script[0] == NAN_LOSS else 1.0
            return {"loss": loss, "events": 1000, "seconds": 0.5}

        def validate(model, valid, config, history_frame=None):
            value = next(model._script[1])
            return {"recall@20": min(1.0, 3 * value), "mrr@20": value, "recall@10": value, "ndcg@10": value}

        monkeypatch.setattr(GRU4Rec, "prepare_training", prepare_training)
        monkeypatch.setattr(GRU4Rec, "train_epoch", train_epoch)
        monkeypatch.setattr(GRU4Rec, "get_weights", lambda model: {})
        monkeypatch.setattr(GRU4Rec, "set_weights", lambda model, weights: None)
        monkeypatch.setattr(training, "validate", validate)
        return self


@pytest.mark.slow
def test_two_trial_gru4rec_search_records_trials(split):
    base = tuning.default_base("gru4rec", max_epochs=2)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=2, overrides=SMALL, base=base, progress=False)
    assert [t.state for t in study.trials] == [COMPLETE, COMPLETE]
    for trial in study.trials:
        assert {"config", "curve", "train_seconds", "events_per_second", "best_epoch"} <= set(trial.user_attrs)
        assert 1 <= len(trial.user_attrs["curve"]) <= 2 and trial.user_attrs["events_per_second"] > 0
        assert trial.value == max(row["mrr@20"] for row in trial.user_attrs["curve"])
    config = tuning.best_config(study, "gru4rec")
    assert config.layers == (16,) and config.batch_size == 8
    assert config.epochs == study.best_trial.user_attrs["best_epoch"]
    assert (paths.results_dir("tiny-gap") / "tuning.sqlite3").is_file()
    assert tuning.read_best("tiny-gap")["gru4rec"]["value"] == pytest.approx(study.best_value)


@pytest.mark.slow
def test_two_trial_sasrec_search_records_trials_and_tuned_json(split):
    from sbrlib.models.sasrec import SASRecConfig

    base = tuning.default_base("sasrec", max_epochs=2, eval_batch_size=64)
    small = {"max_len": 50, "blocks": 1, "dim": 32, "batch_size": 64, "loss": ["cross-entropy", "gbce"]}
    study = tuning.tune("sasrec", split, "tiny-gap", n_trials=2, overrides=small, base=base, progress=False)
    assert [t.state for t in study.trials] == [COMPLETE, COMPLETE]
    for trial in study.trials:
        assert 1 <= len(trial.user_attrs["curve"]) <= 2 and trial.user_attrs["events_per_second"] > 0
        assert trial.value == max(row["mrr@20"] for row in trial.user_attrs["curve"])
    config = tuning.best_config(study, "sasrec")
    assert isinstance(config, SASRecConfig) and (config.max_len, config.blocks, config.dim) == (50, 1, 32)
    assert config.validation_metric == "mrr@20" and config.epochs == study.best_trial.user_attrs["best_epoch"]
    assert tuning.read_best("tiny-gap")["sasrec"]["value"] == pytest.approx(study.best_value)
    with pytest.raises(tuning.TuningError, match="no tuned baseline"):  # SASRec is not taken for a baseline
        tuning.best_baseline_params("tiny-gap")


def test_two_trial_baseline_search_and_best_config(split):
    study = tuning.tune("item-knn", split, "tiny-gap", n_trials=2, progress=False)
    assert [t.state for t in study.trials] == [COMPLETE, COMPLETE]
    assert set(study.best_params) == {"lam", "alpha"}
    assert all(0 <= t.value <= 1 and t.user_attrs["valid"]["mrr@20"] == t.value for t in study.trials)
    config = tuning.tuned_config("tiny-gap", "item-knn")
    assert config.lam == study.best_params["lam"] and config.alpha == study.best_params["alpha"]
    # the same through the stored file
    assert tuning.best_params(tuning.study_path("tiny-gap"), "item-knn") == study.best_params
    assert tuning.tuned_config("tiny-gap", "v-sknn", "fallback") == "fallback"
    assert tuning.best_baseline_params("tiny-gap") == {"Item-kNN": study.best_params}  # notebook 05's call
    with pytest.raises(tuning.TuningError, match="run notebooks/03_tuning"):
        tuning.best_baseline_params("other-split")


def test_resume_keeps_earlier_trials(split, monkeypatch):
    calls = {"n": 0}
    real = tuning.search.build_model

    def interrupted(model, config):  # the 3rd trial is interrupted (Ctrl+C)
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(model, config)

    monkeypatch.setattr(tuning.search, "build_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("sr", split, "tiny-gap", n_trials=5, progress=False)
    first = tuning.load_study(tuning.study_path("tiny-gap"), "sr")
    done = [(t.number, t.params) for t in first.trials if t.state == COMPLETE]
    assert len(done) == 2
    study = tuning.tune("sr", split, "tiny-gap", n_trials=3, progress=False)
    assert len([t for t in study.trials if t.state == COMPLETE]) == 5
    assert [(t.number, t.params) for t in study.trials if t.state == COMPLETE][:2] == done


def test_search_space_only_has_fields_of_this_version():
    space = tuning.search_space("sr")
    assert set(space) <= {f.name for f in dataclasses.fields(SRConfig)} and "steps" in space
    assert set(tuning.search_space("gru4rec")) >= {"loss", "batch_size", "dropout_embed", "dropout_hidden",
                                                    "learning_rate", "momentum", "n_sample", "sample_alpha",
                                                    "logq", "bpreg", "elu_param", "layers", "embedding_dim"}


def test_the_search_space_table_says_log_scale_in_words():
    ranges = [r["range"] for m in tuning.SPACES for r in tuning.describe(m) if r["range"].startswith("[")]
    logs = [r for r in ranges if "log" in r]
    assert logs and all(r.endswith("] log scale") for r in logs)  # never a bare "log" the reader has to decode


@pytest.mark.parametrize("overrides, match", [
    ({"batch_sise": (16, 64)}, "batch_sise.*did you mean batch_size"),
    ({"learning_rate": (0.5, 0.01)}, "'learning_rate'.*inverted"),
    ({"n_sample": []}, "'n_sample'.*empty"),
    ({"learning_rate": (0.0, 0.1)}, "'learning_rate'.*log-scale"),
])
def test_bad_search_space_names_the_parameter(split, overrides, match):
    with pytest.raises(tuning.SearchSpaceError, match=match):
        tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=overrides, progress=False)


@pytest.mark.parametrize("budget, match", [
    ({"n_trials": 0}, "n_trials must be a positive integer"),
    ({"n_trials": -3}, "n_trials must be a positive integer"),
    ({"minutes": 0}, "minutes must be a positive number"),
    ({}, "give a trial count"),
])
def test_bad_budget(split, budget, match):
    with pytest.raises(tuning.TuningError, match=match):
        tuning.tune("sr", split, "tiny-gap", progress=False, **budget)


def test_unknown_model_and_metric(split):
    with pytest.raises(tuning.SearchSpaceError, match="unknown model 'bert4rec'"):
        tuning.tune("bert4rec", split, "tiny-gap", n_trials=1)
    with pytest.raises(tuning.TuningError, match="metric must be one of"):
        tuning.tune("sr", split, "tiny-gap", n_trials=1, metric="ndcg@10")


def test_corrupt_study_file_names_the_file(split, tmp_path):
    bad = tmp_path / "broken.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(tuning.TuningError, match="broken.sqlite3"):
        tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=bad, progress=False)
    with pytest.raises(tuning.TuningError, match="broken.sqlite3"):
        tuning.best_params(bad, "sr")


def test_study_of_other_data_is_refused(split, tmp_path):
    path = tmp_path / "s.sqlite3"
    tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    other = {k: split[k].iloc[: len(split[k]) // 2] for k in ("train_tr", "valid")}
    with pytest.raises(tuning.TuningError, match="was made differently: data sizes: train_tr_events"):
        tuning.tune("sr", other, "tiny-gap", n_trials=1, storage=path, progress=False)


def test_diverging_trial_is_failed_and_search_goes_on(split, monkeypatch):
    FakeFit([FloatingPointError("training diverged"), [0.1, float("nan")], NAN_LOSS, [0.1, 0.2]]).install(monkeypatch)
    base = tuning.default_base("gru4rec", max_epochs=2)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=4, overrides=SMALL, base=base, progress=False)
    assert [t.state for t in study.trials] == [FAIL, FAIL, FAIL, COMPLETE]
    assert study.best_value == pytest.approx(0.2)
    assert study.best_trial.user_attrs["best_epoch"] == 2
    assert study.best_trial.user_attrs["training"]["stopped_by"] == "epochs"
    assert tuning.best_config(study, "gru4rec").epochs == 2


def test_pruning_and_time_budget(split, monkeypatch):
    good, bad = [0.2, 0.3, 0.4, 0.5], [0.01, 0.01, 0.01, 0.01]
    FakeFit([good] * 5 + [bad] * 3).install(monkeypatch)
    base = tuning.default_base("gru4rec", max_epochs=4)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=8, overrides=SMALL, base=base, progress=False)
    states = [t.state for t in study.trials]
    assert states[:5] == [COMPLETE] * 5 and states[5:] == [PRUNED] * 3
    assert all(len(t.user_attrs["curve"]) == 2 for t in study.trials[5:])  # pruned at epoch 2 (warm-up)
    assert all("training" not in t.user_attrs for t in study.trials[5:])
    facts = study.trials[0].user_attrs["training"]
    assert (facts["stopped_by"], facts["epochs_run"], facts["best_epoch"], facts["still_improving"]) == \
        ("epochs", 4, 4, True)
    # a tiny time budget still completes one trial (stopped by the budget after its first epoch) and stops
    FakeFit([good]).install(monkeypatch)
    other = tuning.tune("gru4rec", split, "tiny-gap", metric="recall@20", minutes=1e-4, overrides=SMALL, base=base,
                        progress=False)
    assert [t.state for t in other.trials] == [COMPLETE]
    assert other.trials[0].user_attrs["training"]["stopped_by"] == "budget"
    assert other.trials[0].user_attrs["stopped"] == "time budget, after epoch 1"
    stored = json.loads((paths.results_dir("tiny-gap") / "tuned.json").read_text())
    assert stored["gru4rec"]["metric"] == "recall@20"


def test_trial_patience_stops_after_patience_epochs_without_improvement(split, monkeypatch):
    FakeFit([[0.1, 0.3, 0.2, 0.25, 0.9]]).install(monkeypatch)
    base = tuning.default_base("gru4rec", max_epochs=5)  # patience 2
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, progress=False)
    trial = study.trials[0]
    assert [row["epoch"] for row in trial.user_attrs["curve"]] == [1, 2, 3, 4]
    assert trial.user_attrs["training"]["stopped_by"] == "patience" and trial.user_attrs["best_epoch"] == 2


def test_gru4rec_config_choices(split, monkeypatch):
    from sbrlib.models.gru4rec import GRU4RecConfig
    from sbrlib.models.gru4rec.presets import PRESETS, preset

    config, source = tuning.gru4rec_config("tuned", "tiny-gap")  # no study yet: the defaults, and why
    assert config == GRU4RecConfig() and "run notebooks/03_tuning" in source
    official, _ = tuning.gru4rec_config("official", "tiny-gap", {"epochs": 3, "loss": None})
    assert official == preset("official", epochs=3) and official.batch_size == PRESETS["official"]["batch_size"]
    with pytest.raises(ValueError, match="CONFIG = 'best'"):
        tuning.gru4rec_config("best", "tiny-gap")
    FakeFit([[0.1, 0.3, 0.2]]).install(monkeypatch)
    base = tuning.default_base("gru4rec", max_epochs=3)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, progress=False)
    tuned, source = tuning.gru4rec_config("tuned", "tiny-gap", {"learning_rate": 0.01})
    assert tuned.batch_size == 8 and tuned.layers == (16,) and tuned.learning_rate == 0.01
    assert tuned.epochs == 3  # the search's epoch budget; early stopping picks the epoch again
    assert f"trial {study.best_trial.number}" in source and "learning_rate=0.01" in source


def test_fixed_parameters_and_reuse_of_make_tune_studies(split, tmp_path, monkeypatch):
    assert tuning.fixed_parameters(layers=[32], n_sample=16) == {"gru4rec": {"layers": 32, "n_sample": 16}}
    with pytest.raises(ValueError, match="one GRU layer"):
        tuning.fixed_parameters(layers=[32, 32])
    # make tune stores studies outside run folders; a run copies them in when it has none
    tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=tuning.tune_study_path("tiny-gap"), progress=False)
    monkeypatch.setenv("SBR_RUN_DIR", str(tmp_path / "run"))
    path = tuning.prepare_study_file("tiny-gap")
    assert path == tmp_path / "run" / "results" / "tiny-gap" / "tuning.sqlite3" and path.is_file()
    studies = tuning.tune_all(["sr"], split, "tiny-gap", n_trials=3, storage=path, progress=False)
    assert len(studies["sr"].trials) == 1  # reused as is
    studies = tuning.tune_all(["sr"], split, "tiny-gap", n_trials=2, storage=path, reuse=False, progress=False)
    assert len(studies["sr"].trials) == 3


def test_presets_spell_out_the_searched_fields():
    from sbrlib.models.gru4rec.presets import PRESETS, preset

    searched = set(tuning.SPACES["gru4rec"]) | {"epochs"}
    for name, values in PRESETS.items():
        assert searched <= set(values), name
        assert preset(name).layers == tuple(values["layers"])
    with pytest.raises(ValueError, match="unknown GRU4Rec preset"):
        preset("movielens")
    from sbrlib.models.gru4rec import GRU4RecConfig
    from sbrlib.models.gru4rec.presets import PROVENANCE

    assert GRU4RecConfig() == preset("movielens-gap")  # the defaults are the searched ones, with provenance
    assert set(PROVENANCE) == set(PRESETS)


def test_repeated_baseline_configuration_is_not_refitted(split, monkeypatch):
    fits = {"n": 0}
    real = tuning.search.build_model

    def counting(model, config):
        fits["n"] += 1
        return real(model, config)

    monkeypatch.setattr(tuning.search, "build_model", counting)
    study = tuning.tune("sr", split, "tiny-gap", n_trials=3, overrides={"steps": [3], "weighting": ["div"]},
                        progress=False)
    assert [t.value for t in study.trials] == [study.trials[0].value] * 3 and fits["n"] == 1
    assert study.trials[2].user_attrs["repeat_of"] == 0


def test_sasrec_presets_spell_out_the_searched_fields_and_the_defaults_carry_their_search():
    """SASRecConfig() is the best trial of the ML-100K search (preset movielens-gap), searched with as many
    trials as the search behind GRU4RecConfig(): equal tuning effort behind both models' defaults."""
    from sbrlib.models import registry
    from sbrlib.models.sasrec import SASRecConfig
    from sbrlib.models.sasrec.presets import PRESETS, PROVENANCE, preset

    searched = set(tuning.SPACES["sasrec"])
    for name, values in PRESETS.items():
        assert searched <= set(values), name
        assert preset(name) == SASRecConfig(**values)
    with pytest.raises(ValueError, match="unknown SASRec preset"):
        preset("paper")
    assert SASRecConfig() == preset("movielens-gap")
    assert set(PROVENANCE) == set(PRESETS) and all(PROVENANCE.values())
    gru, sas = registry.defaults_search("gru4rec"), registry.defaults_search("SASRec")
    assert gru["trials"] == sas["trials"] and gru["split"] == sas["split"]
    assert registry.defaults_search("item-knn") is None and registry.defaults_search("nonsense") is None
    assert str(sas["trials"]) in PROVENANCE["movielens-gap"]


def test_resolve_config_names_the_search_behind_the_defaults_and_takes_any_family_preset(tmp_path):
    resolved = tuning.resolve_config("sasrec", "no-such-split", "default", study_file=tmp_path / "none.sqlite3")
    assert "the best of" in resolved.description and "ml-100k-gap" in resolved.description
    paper = tuning.resolve_config("SASRec", "no-such-split", "kang-mcauley", study_file=tmp_path / "none.sqlite3")
    assert paper.source == "kang-mcauley" and paper.config.max_len == 200 and paper.config.dim == 50
    with pytest.raises(ValueError, match="kang-mcauley"):
        tuning.resolve_config("sasrec", "no-such-split", "official", study_file=tmp_path / "none.sqlite3")


def test_effects_need_two_completed_trials_on_each_side():
    import pandas as pd

    from sbrlib.tuning import analysis

    table = pd.DataFrame({"state": ["complete"] * 3, "value": [0.05, 0.06, 0.04], "batch_size": [64, 27, 32]})
    pick_a = ("big", lambda t: t["batch_size"] >= 64)
    pick_b = ("small", lambda t: t["batch_size"] < 64)
    assert analysis._contrast(table, "batch size", pick_a, pick_b) is None  # one trial against two: no effect
    table.loc[3] = ["complete", 0.07, 128]
    row = analysis._contrast(table, "batch size", pick_a, pick_b)
    assert row["trials A"] == 2 and row["trials B"] == 2 and row["best A"] == 0.07


def test_trials_shown_lists_every_trial_or_the_best_ones_said_so(split, monkeypatch):
    """Reader 21, 4.1: 03 never printed what the non-best neural trials tried."""
    from sbrlib.tuning import analysis

    FakeFit([[0.2, 0.3], [0.1, 0.15], [0.4, 0.5]]).install(monkeypatch)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=3, overrides=SMALL,
                        base=tuning.default_base("gru4rec", max_epochs=2), progress=False)
    table, note = analysis.trials_shown(study)
    assert list(table.index) == [0, 1, 2] and note == "" and "events_per_second" not in table
    assert {"state", "value", "best_epoch", "epochs_run", "stopped_by", "train_seconds"} <= set(table.columns)
    assert set(study.trials[1].params) <= set(table.columns)
    best, note = analysis.trials_shown(study, limit=2)
    assert list(best.index) == [0, 2] and note == "the 2 best of 3 trials by value, in trial order"


def test_a_search_that_kept_the_defaults_says_so():
    facts = {"trials": 3, "complete": 2, "pruned": 1, "metric": "mrr@20", "best_value": 0.06, "best_trial": 0,
             "split": "s", "frames": "train_tr→valid", "budget": {}, "used": {}, "budget_completed": True,
             "best_is_default": True, "default_phrase": "SASRecConfig() (the class defaults: the best of 49 trials)"}
    text = tuning.describe_study(facts)
    assert text.startswith("default configuration kept: SASRecConfig() (the class defaults: the best of 49 trials)")
    assert "a search of 3 trials (2 complete, 1 pruned) did not beat it" in text and "tuned" not in text
    assert "default configuration" not in tuning.describe_study({**facts, "best_is_default": False})


def test_every_stop_is_recorded_with_its_rule_and_numbers(split, monkeypatch):
    """Median rule, time limit (pruned, and kept for a first trial), and the loop's own rules winning."""
    from sbrlib.tuning import analysis

    good, bad = [0.2, 0.3, 0.4, 0.5], [0.01, 0.01, 0.01, 0.01]
    FakeFit([good] * 5 + [bad]).install(monkeypatch)
    base = tuning.default_base("gru4rec", max_epochs=4)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=6, overrides=SMALL, base=base, progress=False)
    median = study.trials[5].user_attrs["stop"]
    assert (median["rule"], median["epoch"], median["n_completed"]) == ("median rule", 2, 5)
    assert median["median"] == pytest.approx(0.3) and median["best_so_far"] == pytest.approx(0.01)
    assert "below 0.3000, the median of the 5 completed trials at epoch 2" in median["text"]
    assert study.trials[0].user_attrs["stop"]["rule"] == "epoch cap"
    assert "still improving" in study.trials[0].user_attrs["stop"]["text"]
    assert study.user_attrs["stop_rules"] == {"median_from_epoch": 2, "median_after_completed": 4, "patience": 2,
                                              "max_epochs": 4}
    # a trial past its time limit, with a completed trial in the study: pruned, with the limit's numbers
    FakeFit([good]).install(monkeypatch)
    share = {"left_seconds": 0.01, "budget_minutes": 1.5, "trials_left": 2}
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, minutes=1e-6, overrides=SMALL, base=base,
                        progress=False, time_share=share)
    last = study.trials[-1]
    assert last.state == PRUNED
    stop = last.user_attrs["stop"]
    assert (stop["rule"], stop["epoch"], stop["trials_left"]) == ("time limit", 1, 2)
    assert stop["seconds_used"] > stop["limit_seconds"]
    assert "for the 2 trial(s) still to run in its round" in stop["text"]
    lines = analysis.stop_lines(study, "GRU4Rec")
    assert lines[-1].startswith(f"GRU4Rec trial {last.number} (pruned): time limit: stopped after epoch 1")
    assert lines[5].startswith("GRU4Rec trial 5 (pruned): median rule: after epoch 2")
    facts = tuning.study_facts(study)
    assert facts["stopped_early"][-1] == {"trial": last.number, "state": "pruned", "epoch": 1, "rule": "time limit",
                                          "limit_seconds": stop["limit_seconds"]}
    text = tuning.describe_study(facts)
    assert "2 pruned: 1 by the median rule, after 2 epochs; 1 by its time limit, after 1 epoch" in text


def test_the_trials_own_end_wins_over_the_time_limit(split, monkeypatch):
    """A trial whose own rule (epoch cap, patience) ends it at the epoch its time limit is passed is
    complete, not pruned (GRU4Rec trial 1 of the ml-100k run met patience and its limit at epoch 7)."""
    from sbrlib.tuning.search import _patience_ends

    storage = paths.results_dir("tiny-gap") / "own-end.sqlite3"
    base = tuning.default_base("gru4rec", max_epochs=1)
    FakeFit([[0.3]]).install(monkeypatch)
    tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, progress=False, storage=storage)
    FakeFit([[0.5]]).install(monkeypatch)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, minutes=1e-6, overrides=SMALL, base=base,
                        progress=False, storage=storage)
    assert [t.state for t in study.trials] == [COMPLETE, COMPLETE]
    assert study.trials[1].user_attrs["stop"]["rule"] == "epoch cap"
    # its stop line gives the time limit it had too (reader 18, 4.5); a trial without a limit names none
    stop = study.trials[1].user_attrs["stop"]
    assert stop["limit_seconds"] is not None and f"of its time limit of {stop['limit_seconds']:.1f} s" in stop["text"]
    assert "time limit" not in study.trials[0].user_attrs["stop"]["text"]
    run = [0.0458, 0.0497, 0.0511, 0.0519, 0.0524, 0.0497, 0.0490]  # its curve: best at epoch 5
    curve = [{"epoch": i + 1, "mrr@20": v} for i, v in enumerate(run)]
    assert _patience_ends(curve, "mrr@20", 2) == (True, 5)
    assert _patience_ends(curve[:6], "mrr@20", 2) == (False, 5)


def test_tune_all_records_the_share_behind_a_trials_time_limit(split, monkeypatch):
    """The shared pool's first trial, past its share: kept as complete (no trial had completed), and its stop
    record says how the limit was set."""
    FakeFit([[0.2, 0.3, 0.4]]).install(monkeypatch)
    studies = tuning.tune_all(["gru4rec"], split, "tiny-gap", minutes=1e-4, n_trials=3, max_epochs=3,
                              fixed={"gru4rec": SMALL}, progress=False)
    trial = studies["gru4rec"].trials[0]
    stop = trial.user_attrs["stop"]
    assert trial.state == COMPLETE and trial.user_attrs["training"]["stopped_by"] == "budget"
    assert (stop["rule"], stop["epoch"], stop["trials_left"], stop["budget_minutes"]) == ("time limit", 1, 1, 1e-4)
    assert "kept as complete: no trial of the search had completed yet" in stop["text"]
    assert "an equal share of the" in stop["text"] and "for the 1 trial(s) still to run in its round" in stop["text"]
    facts = tuning.study_facts(studies["gru4rec"])
    assert [{k: v for k, v in e.items() if k != "limit_seconds"} for e in facts["stopped_early"]] == [
        {"trial": 0, "state": "complete", "epoch": 1, "rule": "time limit"}]
    assert "limit_seconds" in facts["stopped_early"][0]


# ----------------------------------------------------------------------------- reader 11's points on 03's labels

def test_earlier_searches_table_is_the_recorded_search_behind_each_default():
    """Reader 11, 1.3: the 49-trial searches behind the defaults were named but not shown in the run."""
    from sbrlib.models import registry

    table = tuning.earlier_searches(["gru4rec", "SASRec", "item-knn"])
    assert list(table.index) == ["GRU4Rec", "SASRec"]  # Item-kNN's defaults come from no search
    for name, key in (("GRU4Rec", "gru4rec"), ("SASRec", "sasrec")):
        prior = registry.defaults_search(key)
        row = table.loc[name]
        assert (row["trials"], row["complete"], row["pruned"], row["best trial"], row["best value"]) == (
            prior["trials"], prior["complete"], prior["pruned"], prior["best_trial"], prior["best_value"])
        assert row["other (state not recorded)"] == prior["trials"] - prior["complete"] - prior["pruned"]
        assert f"earlier {prior['trials']}-trial search on {prior['split']}" in tuning.defaults_phrase(key)
        assert "notebook 03's table of earlier searches" in tuning.defaults_phrase(key)
    assert tuning.earlier_searches(["sr"]).empty


def test_a_first_trial_kept_after_its_time_limit_is_not_called_complete_without_saying_so():
    """Reader 11, 1.4: 03 labelled trial 0 "complete" while its time limit had stopped it."""
    facts = {"trials": 2, "complete": 1, "pruned": 1, "failed": 0, "metric": "mrr@20", "best_value": 0.06,
             "best_trial": 0, "best_epoch": 3, "split": "s", "frames": "train_tr→valid",
             "stopped_early": [{"trial": 0, "state": "complete", "epoch": 4, "rule": "time limit"},
                               {"trial": 1, "state": "pruned", "epoch": 2, "rule": "time limit",
                                "still_improving": True}]}
    text = tuning.describe_study(facts)
    assert ("tuned: best of 2 trials (1 complete: trial 0, stopped by its time limit after epoch 4 and kept as "
            "complete with the epochs it had; 1 pruned: by its time limit, after 2 epochs, while still improving)"
            ) in text
    plain = {**facts, "stopped_early": []}
    assert "(1 complete, 1 pruned)" in tuning.describe_study(plain)


def test_a_retraining_of_the_best_trial_says_which_epochs_repeat_it(tmp_path):
    """Reader 11, 4.7: 04 retrained 03's time-cut trial 0 and its first epochs were the trial's, unremarked."""
    import optuna
    import pandas as pd

    from sbrlib.models.gru4rec import GRU4RecConfig

    config = GRU4RecConfig()
    path = tmp_path / "t.sqlite3"
    study = optuna.create_study(study_name="gru4rec-mrr@20", storage=f"sqlite:///{path}", direction="maximize")
    curve = [{"epoch": e, "mrr@20": v} for e, v in ((1, 0.05), (2, 0.06))]
    study.add_trial(optuna.trial.create_trial(value=0.06, user_attrs={
        "config": config.to_dict(), "curve": curve, "stop": {"rule": "time limit", "epoch": 2}}))
    history = pd.DataFrame({"epoch": [1, 2, 3], "mrr@20": [0.05, 0.06, 0.061]})
    text = tuning.repeated_trial_sentence(history, config, path)
    assert text == ("This training repeats 03's trial 0 (the same configuration and seed): its first 2 epochs give the "
                    "same validation MRR@20 (0.0500, 0.0600); it went on after epoch 2, where that trial's time limit "
                    "stopped it.")
    other = pd.DataFrame({"epoch": [1, 2], "mrr@20": [0.05, 0.07]})
    assert "not identical" in tuning.repeated_trial_sentence(other, config, path)
    assert tuning.repeated_trial_sentence(history, GRU4RecConfig(batch_size=7), path) == ""
    assert tuning.repeated_trial_sentence(history, config, tmp_path / "none.sqlite3") == ""


def test_a_sentence_naming_several_models_uses_the_first_words_of_each_label():
    """Reader 11, 4.1: 07 repeated every model's whole label (budget, data, trial) in one bullet."""
    from sbrlib.tuning.store import short_source

    assert short_source("tuned: best of 40 trials (40 complete, 0 pruned) on ml-100k-gap train_tr\u2192valid, MRR@20 "
                        "0.0483 (trial 16), search finished") == "tuned: best of 40 trials of notebook 03's search"
    assert short_source("default: ItemKNNConfig() (the class defaults)") == "default: ItemKNNConfig() (the class defaults)"
    assert short_source("single trial: one search trial (1 complete, 0 pruned) \u2014 not a search result, not tuned "
                        "\u2014 on s") == "a single trial of notebook 03's search (the default configuration, not tuned)"
    assert short_source(tuning.DEFAULTS_KEPT + ": GRU4RecConfig() (the class defaults: the best of an earlier 49-trial "
                        "search on s) \u2014 a search of 2 trials (1 complete) did not beat it") == (
        tuning.DEFAULTS_KEPT + ": GRU4RecConfig() (notebook 03's search of 2 trials did not beat it)")
    assert short_source("tuned: best of 5 trials (5 complete) on s; changed explicitly: layers=(32,)") == (
        "tuned: best of 5 trials of notebook 03's search; changed explicitly: layers=(32,)")
    assert short_source("the preset 'official' (x) on s, MRR@20 0.1") == "the preset 'official' (x)"
