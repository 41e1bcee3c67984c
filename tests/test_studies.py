"""Stored studies carry their identity and budget: refused when they differ (one line), unknown keys
are errors, interrupted searches continue to their budget, labels say what happened, and
``resolve_config`` is the one way to get a configuration (default / preset / tuned)."""

from __future__ import annotations

import dataclasses

import pytest

from sbrlib import tuning
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.models.baselines import SRConfig

optuna = pytest.importorskip("optuna")
COMPLETE, PRUNED = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED
SMALL = {"layers": 16, "batch_size": 8, "n_sample": 8, "constrained_embedding": True}


@pytest.fixture
def split(tiny_dir):
    cfg = preprocess.PreprocessConfig(min_item_support=2)
    return artifacts.prepare("synthetic-tiny", cfg, name="tiny-gap", data_dir=tiny_dir)[0]


class FakeFit:
    """Replaces a neural model's training epochs and the training loop's validation: every trial of
    the class it is installed on reports ``values`` as per-epoch validation MRR@20 (then the last
    value again, so patience ends the trial), without training. Install with :meth:`install`."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = 0

    def start(self) -> None:
        """Called when a trial starts training (subclasses may raise)."""
        self.calls += 1

    def install(self, monkeypatch, cls, seconds: float = 0.01):
        """``seconds``: what each training epoch reports as its duration (no time passes)."""
        from sbrlib import training

        fake = self

        def prepare_training(model, train):
            fake.start()
            model._script = iter(fake.values + [fake.values[-1]] * 100)

        def validate(model, valid, config, history_frame=None):
            value = next(model._script)
            return {"recall@20": min(1.0, 2 * value), "mrr@20": value, "recall@10": value, "ndcg@10": value}

        monkeypatch.setattr(cls, "prepare_training", prepare_training)
        monkeypatch.setattr(cls, "train_epoch", lambda model, progress=False: {"loss": 1.0, "events": 1000,
                                                                               "seconds": seconds})
        monkeypatch.setattr(cls, "get_weights", lambda model: {})
        monkeypatch.setattr(cls, "set_weights", lambda model, weights: None)
        monkeypatch.setattr(training, "validate", validate)
        return self


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- identity


def test_other_search_space_is_refused_in_one_line(split, tmp_path):
    path = tmp_path / "s.sqlite3"
    tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    with pytest.raises(tuning.TuningError) as exc:
        tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, overrides={"steps": (1, 5)}, progress=False)
    message = _one_line(exc)
    assert "'sr-mrr@20'" in message and str(path) in message
    assert "search space (parameter definitions)" in message and "STUDY_FILE" in message
    # the same space again is accepted (and adds a trial)
    study = tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    assert len(study.trials) == 2


def test_other_split_and_other_objective_are_refused(split, tmp_path, monkeypatch):
    from sbrlib.models.gru4rec import GRU4Rec

    path = tmp_path / "s.sqlite3"
    tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    other = {}
    for key in ("train_tr", "valid"):
        other[key] = split[key].copy()
        other[key].attrs = {**split[key].attrs, "split_fingerprint": "0ther000"}
    with pytest.raises(tuning.TuningError) as exc:
        tuning.tune("sr", other, "tiny-gap", n_trials=1, storage=path, progress=False)
    assert "data (split fingerprint)" in _one_line(exc) and "0ther000" in str(exc.value)

    FakeFit([0.1, 0.2]).install(monkeypatch, GRU4Rec)
    base = tuning.default_base("gru4rec", max_epochs=2)
    tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, storage=path, progress=False)
    longer = tuning.default_base("gru4rec", max_epochs=3)
    with pytest.raises(tuning.TuningError) as exc:
        tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=longer, storage=path,
                    progress=False)
    assert "objective: max_epochs 2\u21923" in _one_line(exc)


def _old_study(path, params, distributions, user_attrs=None, study_attrs=None, name="sr-mrr@20"):
    """A study stored without sbrlib's identity (an older version), one completed trial."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for key, value in (study_attrs or {}).items():
        study.set_user_attr(key, value)
    study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=0.1,
                                              user_attrs=user_attrs or {}))
    return study


def test_study_without_identity_is_refused(split, tmp_path):
    path = tmp_path / "old.sqlite3"
    _old_study(path, {"steps": 3}, {"steps": optuna.distributions.IntDistribution(1, 25)},
               study_attrs={"data": {"train_tr_events": len(split["train_tr"])}})
    with pytest.raises(tuning.TuningError) as exc:
        tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    assert "no identity recorded" in _one_line(exc)
    with pytest.raises(tuning.TuningError, match="no identity recorded"):
        tuning.resolve_config("sr", "tiny-gap", "tuned", study_file=path)
    with pytest.raises(tuning.TuningError, match="no identity recorded"):
        tuning.tune_all(["sr"], split, "tiny-gap", n_trials=1, storage=path, progress=False)


def test_unknown_stored_keys_are_errors_naming_key_and_file(split, tmp_path):
    path = tmp_path / "s.sqlite3"
    good = tuning.tune("sr", split, "tiny-gap", n_trials=1, storage=path, progress=False)
    identity = good.user_attrs["identity"]
    old = tmp_path / "older.sqlite3"
    dist = {"steps": optuna.distributions.IntDistribution(1, 25),
            "window": optuna.distributions.IntDistribution(1, 9)}
    _old_study(old, {"steps": 3, "window": 4}, dist, study_attrs={"identity": identity})
    with pytest.raises(tuning.TuningError) as exc:
        tuning.resolve_config("sr", "tiny-gap", "tuned", study_file=old)
    message = _one_line(exc)
    assert "unknown key(s) 'window'" in message and str(old) in message
    with pytest.raises(tuning.TuningError, match="unknown key.*'window'.*older.sqlite3"):
        tuning.best_params(old, "sr")
    # a neural trial's stored config with a field this version does not have
    gru = tmp_path / "gru.sqlite3"
    config = {**dataclasses.asdict(tuning.resolve_config("gru4rec", "tiny-gap", "default").config), "hidden": 9}
    _old_study(gru, {"batch_size": 8}, {"batch_size": optuna.distributions.IntDistribution(1, 64)},
               user_attrs={"config": config, "best_epoch": 1}, study_attrs={"identity": identity},
               name="gru4rec-mrr@20")
    with pytest.raises(tuning.TuningError, match="unknown key.*'hidden'.*gru.sqlite3"):
        tuning.resolve_config("gru4rec", "tiny-gap", "tuned", study_file=gru)
    # tuned.json of an older version
    from sbrlib.core import paths

    paths.results_dir("tiny-gap").mkdir(parents=True, exist_ok=True)
    (paths.results_dir("tiny-gap") / "tuned.json").write_text('{"sr": {"params": {"steps": 3, "window": 2}}}')
    with pytest.raises(tuning.TuningError, match="unknown key.*'window'.*tuned.json"):
        tuning.best_baseline_params("tiny-gap")
    identity_with_extra = {**identity, "colour": "red"}
    assert "unknown identity key(s) colour" in tuning.store.identity_differences(identity_with_extra, identity)[0]


# ----------------------------------------------------------------------------- budget and resume


def _interrupt_at(monkeypatch, n: int):
    """Ctrl-C during the ``n``-th trial; returns the real ``build_model`` (to put back)."""
    calls = {"n": 0}
    real = tuning.search.build_model

    def interrupted(model, config):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(model, config)

    monkeypatch.setattr(tuning.search, "build_model", interrupted)
    return real


def test_interrupted_search_continues_to_its_budget(split, monkeypatch):
    real = _interrupt_at(monkeypatch, 3)  # Ctrl-C during the 3rd trial
    with pytest.raises(KeyboardInterrupt):
        tuning.tune_all(["sr"], split, "tiny-gap", n_trials=5, progress=False)
    path = tuning.study_path("tiny-gap")
    state = tuning.store.budget_state(tuning.load_study(path, "sr"))
    assert state["budget"]["trials"] == 5 and state["used"]["trials"] == 2 and not state["completed"]
    assert state["used"]["seconds"] > 0
    monkeypatch.setattr(tuning.search, "build_model", real)
    # FROM=03: the same call continues the search to its budget (2 done + 3 more), not reused as it was
    study = tuning.tune_all(["sr"], split, "tiny-gap", n_trials=5, progress=False)["sr"]
    assert len([t for t in study.trials if t.state == COMPLETE]) == 5
    state = tuning.store.budget_state(study)
    assert state["used"]["trials"] == 5 and state["completed"]
    # once completed, it is reused as is
    assert len(tuning.tune_all(["sr"], split, "tiny-gap", n_trials=5, progress=False)["sr"].trials) == 6
    facts = tuning.study_facts(study)
    assert facts["budget_completed"] and facts["complete"] == 5


def test_resume_counts_what_was_used(split, monkeypatch):
    real = _interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("sr", split, "tiny-gap", n_trials=4, progress=False)
    monkeypatch.setattr(tuning.search, "build_model", real)
    study = tuning.tune("sr", split, "tiny-gap", n_trials=4, resume=True, progress=False)
    assert len([t for t in study.trials if t.state == COMPLETE]) == 4
    again = tuning.tune("sr", split, "tiny-gap", n_trials=4, resume=True, progress=False)  # completed: a new budget
    assert len([t for t in again.trials if t.state == COMPLETE]) == 8


def test_neural_models_get_equal_trials_and_a_shared_budget(split, monkeypatch):
    from sbrlib.models.gru4rec import GRU4Rec
    from sbrlib.models.sasrec import SASRec

    FakeFit([0.1, 0.2]).install(monkeypatch, GRU4Rec)
    FakeFit([0.05, 0.3]).install(monkeypatch, SASRec)
    fixed = {"gru4rec": SMALL, "sasrec": {"max_len": 50, "blocks": 1, "dim": 32}}
    studies = tuning.tune_all(["gru4rec", "sasrec", "sr"], split, "tiny-gap", n_trials=3, fixed=fixed,
                              max_epochs=2, progress=False)
    assert len(studies["gru4rec"].trials) == len(studies["sasrec"].trials) == 3
    for model in ("gru4rec", "sasrec"):
        state = tuning.store.budget_state(studies[model])
        assert state["completed"] and state["budget"]["shared_with"] == ["gru4rec", "sasrec"]
        assert state["used"]["trials"] == 3
    # a time budget that runs out: still one trial each (a round is finished)
    other = tuning.tune_all(["gru4rec", "sasrec"], split, "tiny-gap", metric="recall@20", minutes=1e-5,
                            fixed=fixed, max_epochs=2, progress=False)
    assert len(other["gru4rec"].trials) == len(other["sasrec"].trials) == 1
    # the description names the models a time budget is shared with, not the model itself
    text = tuning.describe_study(tuning.study_facts(other["gru4rec"]))
    assert "min shared with sasrec" in text and "shared with gru4rec" not in text
    together = sum(s.user_attrs["used"]["seconds"] for s in other.values()) / 60
    assert f"min shared with sasrec ({together:.2f} min used by both" in text
    # an overrun of the shared budget is said with its cause (reader 19, 4.5: "1.52 min used by both" of 1.50)
    from sbrlib.tuning.store import _budget_text

    shared = {"minutes": 1.5, "shared_with": ["gru4rec", "sasrec"]}
    assert _budget_text(shared, {"seconds": 60, "shared_seconds": 88}, "gru4rec") == (
        "1.00 min of the 1.50 min shared with sasrec (1.47 min used by both)")
    assert _budget_text(shared, {"seconds": 60, "shared_seconds": 91.2}, "gru4rec") == (
        "1.00 min of the 1.50 min shared with sasrec (1.52 min used by both: over by 0.02 min, since a trial's time "
        "limit is checked after each epoch and the epoch running when it passed is finished)")


def test_a_round_starts_only_when_the_time_left_holds_an_epoch_of_each_model(split, monkeypatch):
    """Epochs that report 20 s (GRU4Rec) and 10 s (SASRec): with 0.5 min shared, the 30 s left after round 1
    cannot hold one epoch of each (30 s is needed, and some real time has passed), so round 2 is not started and
    the studies say why; with 10 min, the 3 rounds of ``n_trials`` run."""
    from sbrlib.models.gru4rec import GRU4Rec
    from sbrlib.models.sasrec import SASRec

    FakeFit([0.1, 0.2]).install(monkeypatch, GRU4Rec, seconds=20.0)
    FakeFit([0.05, 0.3]).install(monkeypatch, SASRec, seconds=10.0)
    fixed = {"gru4rec": SMALL, "sasrec": {"max_len": 50, "blocks": 1, "dim": 32}}
    short = tuning.tune_all(["gru4rec", "sasrec"], split, "tiny-gap", minutes=0.5, n_trials=3, fixed=fixed,
                            max_epochs=2, progress=False)
    assert [len(short[m].trials) for m in ("gru4rec", "sasrec")] == [1, 1]
    end = short["gru4rec"].user_attrs["search_end"]
    assert end == short["sasrec"].user_attrs["search_end"]
    assert (end["rule"], end["rounds"], end["needed_seconds"]) == ("round cannot start", 1, pytest.approx(30.0, abs=1))
    assert end["epoch_seconds"]["gru4rec"] == pytest.approx(20.0, abs=1) and end["left_seconds"] < 30.0
    text = tuning.describe_study(tuning.study_facts(short["sasrec"]))
    assert "search finished" in text and "stopped after round 1" in text and "GRU4Rec 20." in text
    assert tuning.search.epoch_cost(short["gru4rec"]) == pytest.approx(20.0, abs=1)
    from sbrlib.notebook import findings

    facts = findings.tuning_facts(tuning.analysis.best_table(short), "mrr@20", 0.5, 3, short)
    assert facts["GRU4Rec"]["ended_by"] == "round cannot start" and facts["SASRec"]["search_end"]["rounds"] == 1
    found = findings.tuning(facts, "mrr@20", 0.5, 3, {})
    assert found.markdown.count("The search ended after round 1 of the shared search, when the") == 2
    assert "ended when the time budget was spent" not in found.markdown
    longer = tuning.tune_all(["gru4rec", "sasrec"], split, "tiny-gap", metric="recall@20", minutes=10, n_trials=3,
                             fixed=fixed, max_epochs=2, progress=False)
    assert [len(longer[m].trials) for m in ("gru4rec", "sasrec")] == [3, 3]
    assert "search_end" not in longer["gru4rec"].user_attrs
    assert tuning.study_facts(longer["gru4rec"])["search_end"] is None


# ----------------------------------------------------------------------------- descriptions


def test_description_of_a_one_trial_study_says_so(split):
    study = tuning.tune("sr", split, "tiny-gap", n_trials=1, progress=False)
    facts = tuning.study_facts(study)
    text = tuning.describe_study(facts)
    assert facts["trials"] == 1 and text.startswith("single trial: one search trial") and "not a search result" in text
    assert "best of" not in text and "tuned:" not in text and "not tuned" in text
    assert "tiny-gap train_tr\u2192valid" in text and "MRR@20" in text and "search finished: its trial cap was reached (1 of 1 trials)" in text


def test_description_of_a_search_is_built_from_its_facts(split, monkeypatch):
    from sbrlib.models.gru4rec import GRU4Rec

    good, bad = [0.2, 0.3, 0.4], [0.01, 0.01, 0.01]
    FakeFit(good).install(monkeypatch, GRU4Rec)
    tuning.tune("gru4rec", split, "tiny-gap", n_trials=5, overrides=SMALL, progress=False)
    FakeFit(bad).install(monkeypatch, GRU4Rec)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=2, overrides=SMALL, progress=False)
    facts = tuning.study_facts(study)
    assert (facts["trials"], facts["complete"], facts["pruned"]) == (7, 5, 2)
    assert facts["budget_completed"] and facts["budget_ended_by"] == "trial cap"  # which limit (reader 15, 1.3)
    text = tuning.describe_study(facts)
    assert facts["stopped_early"] == [{"trial": n, "state": "pruned", "epoch": 2, "rule": "median rule"} for n in (5, 6)]
    assert text.startswith("tuned: best of 7 trials (5 complete, 2 pruned: by the median rule, after 2 "
                           "and 2 epochs) on tiny-gap train_tr\u2192valid, "
                           "MRR@20 0.4000 (trial 0, best epoch 3), search finished: its trial cap was reached (2 of 2 trials)")
    unfinished = {**facts, "budget_completed": False}
    assert "budget NOT completed" in tuning.describe_study(unfinished)
    assert "FROM=03" in tuning.describe_study(unfinished)


# ----------------------------------------------------------------------------- resolve_config


def test_resolve_config_default_preset_and_tuned(split, monkeypatch):
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig
    from sbrlib.models.gru4rec.presets import preset

    default = tuning.resolve_config("sr", "tiny-gap", "default")
    assert default.config == SRConfig() and default.source == "default" and "SRConfig()" in default.description
    official = tuning.resolve_config("GRU4Rec", "tiny-gap", "official", {"epochs": 3})  # display name accepted
    assert official.config == preset("official", epochs=3) and official.source == "official"
    assert "changed explicitly: epochs=3" in official.description and official.facts["changed"] == {"epochs": 3}
    with pytest.raises(ValueError, match="'official' for sr"):
        tuning.resolve_config("sr", "tiny-gap", "official")
    # tuned, nothing searched yet: the defaults, and why
    none = tuning.resolve_config("sasrec", "tiny-gap", "tuned")
    assert none.source == "default" and none.facts["requested"] == "tuned" and "no completed sasrec search" in \
        none.description
    # tuned, after a search
    study = tuning.tune("sr", split, "tiny-gap", n_trials=2, progress=False)
    tuned = tuning.resolve_config("sr", "tiny-gap", "tuned")
    assert tuned.source == "tuned" and tuned.config.steps == study.best_params["steps"]
    assert tuned.facts["complete"] == 2 and tuned.description == tuning.describe_study(tuned.facts)
    FakeFit([0.1, 0.3, 0.2]).install(monkeypatch, GRU4Rec)
    base = tuning.default_base("gru4rec", max_epochs=3)
    tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, progress=False)
    gru = tuning.resolve_config("gru4rec", "tiny-gap", "tuned", {"learning_rate": 0.01})
    assert isinstance(gru.config, GRU4RecConfig) and gru.config.layers == (16,) and gru.config.epochs == 3
    assert gru.config.learning_rate == 0.01 and gru.description.startswith("single trial:")
    assert gru.source == "single-trial"  # one trial is never "tuned"
    assert gru.facts["best_epoch"] == 2


def test_source_label_never_calls_fewer_than_two_trials_tuned():
    assert [tuning.source_label(n) for n in (None, 0, 1, 2, 40)] == [
        "default", "default", "single-trial", "tuned", "tuned"]


def test_resolve_config_refuses_a_study_of_another_split(split):
    other = {}
    for key in ("train_tr", "valid"):
        other[key] = split[key].copy()
        other[key].attrs = {**split[key].attrs, "split_fingerprint": "0ther000"}
    tuning.tune("sr", other, "tiny-gap", n_trials=1, progress=False)
    with pytest.raises(tuning.TuningError) as exc:
        tuning.resolve_config("sr", "tiny-gap", "tuned")
    assert "made on other data" in _one_line(exc) and "0ther000" in str(exc.value)


# ----------------------------------------------------------------------------- 03's best trial as 04's model


def test_best_trial_model_is_reused_only_when_provenance_matches(split):
    base = tuning.default_base("gru4rec", max_epochs=1, eval_batch_size=64)
    study = tuning.tune("gru4rec", split, "tiny-gap", n_trials=1, overrides=SMALL, base=base, progress=False)
    assert study.user_attrs["best_weights"]["trial"] == study.best_trial.number
    config = tuning.resolve_config("gru4rec", "tiny-gap", "tuned").config
    model, reason = tuning.reuse_best_trial("gru4rec", split, dataclasses.replace(config, eval_batch_size=512))
    assert model is not None and reason.startswith("reused: the model of trial 0")
    assert model.config.layers == (16,) and len(model.history) == 1
    changed, reason = tuning.reuse_best_trial("gru4rec", split, dataclasses.replace(config, learning_rate=0.123))
    assert changed is None and "learning_rate" in reason
    refit, reason = tuning.reuse_best_trial("gru4rec", split, config, frame="train")
    assert refit is None and "'train_tr'" in reason
    split.fingerprint = "0ther000"
    moved, reason = tuning.reuse_best_trial("gru4rec", split, config)
    assert moved is None and "0ther000" in reason


def test_resume_of_a_time_budget_counts_the_minutes_used(split):
    study = tuning.tune("sr", split, "tiny-gap", minutes=5, n_trials=1, progress=False)
    study.set_user_attr("budget_completed", False)  # as if interrupted after using the whole 5 minutes
    study.set_user_attr("used", {"trials": 1, "seconds": 300.0})
    again = tuning.tune("sr", split, "tiny-gap", minutes=5, n_trials=10, resume=True, progress=False)
    assert len(again.trials) == 1  # nothing left to run
    state = tuning.store.budget_state(again)
    assert state["completed"] and state["used"] == {"trials": 1, "seconds": 300.0}


def test_interrupted_neural_rounds_continue_with_equal_trials(split, monkeypatch):
    from sbrlib.models.gru4rec import GRU4Rec
    from sbrlib.models.sasrec import SASRec

    class InterruptSecond(FakeFit):
        def start(self):
            super().start()
            if self.calls == 2:
                raise KeyboardInterrupt

    InterruptSecond([0.1, 0.2]).install(monkeypatch, GRU4Rec)
    FakeFit([0.05, 0.3]).install(monkeypatch, SASRec)
    fixed = {"gru4rec": SMALL, "sasrec": {"max_len": 50, "blocks": 1, "dim": 32}}
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in GRU4Rec's 2nd trial (round 2)
        tuning.tune_all(["gru4rec", "sasrec"], split, "tiny-gap", n_trials=3, fixed=fixed, max_epochs=2,
                        progress=False)
    path = tuning.study_path("tiny-gap")
    assert not tuning.store.budget_state(tuning.load_study(path, "gru4rec"))["completed"]
    assert tuning.describe_study(tuning.study_facts(tuning.load_study(path, "sasrec"))).count("NOT completed") == 1
    studies = tuning.tune_all(["gru4rec", "sasrec"], split, "tiny-gap", n_trials=3, fixed=fixed, max_epochs=2,
                              progress=False)
    complete = {m: len([t for t in s.trials if t.state == COMPLETE]) for m, s in studies.items()}
    assert complete == {"gru4rec": 3, "sasrec": 3}
    assert all(tuning.store.budget_state(s)["completed"] for s in studies.values())


def test_study_facts_say_when_the_best_trial_is_the_default_configuration(split):
    """Notebook 03 prints describe_study(study_facts(...)): a search that kept the defaults must say so there
    too (it did only in 04/05/07, through resolve_config), and must not lead with "tuned:"."""
    study = tuning.tune("sr", split, "tiny-gap", n_trials=3, progress=False)
    facts = tuning.study_facts(study)
    kept = study.best_trial.params == study.trials[0].params  # trial 0 is the class defaults
    assert facts["best_is_default"] == kept
    text = tuning.describe_study(facts)
    assert text.startswith("default configuration kept: SRConfig()") == kept
    assert text.startswith("tuned:") != kept
    assert tuning.describe_study({**facts, "best_is_default": True}).startswith(
        "default configuration kept: ")
    # one label for every notebook: resolve_config's description is the same sentence
    assert tuning.resolve_config("sr", "tiny-gap", "tuned").description.startswith(text.split(" on ")[0])
