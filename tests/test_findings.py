"""'What we found' text is built from numbers: the numbers shown are the numbers used, and the
wording follows the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.evaluation import uncertainty as U
from sbrlib.notebook import eda, findings


def assert_consistent(found: findings.Findings):
    """Every shown string is in the text and is its number, formatted."""
    assert found.shown, "no numbers shown"
    for key, shown in found.shown.items():
        assert shown in found.markdown, f"{key}: {shown!r} not in the text"
        assert key in found.numbers


def ratings_with_times(times, n_users=10, seed=0):
    rng = np.random.default_rng(seed)
    times = np.sort(np.asarray(times, np.int64))
    return pd.DataFrame({USER: rng.integers(0, n_users, len(times)), ITEM: rng.integers(0, 40, len(times)),
                         RATING: rng.integers(1, 6, len(times)), TIME: times})


@pytest.mark.parametrize("shape, trend", [("early", "declines"), ("even", "steady"), ("late", "grows")])
def test_activity_pattern_follows_the_data(shape, trend):
    rng = np.random.default_rng(0)
    span = 200 * 86_400
    u = rng.random(5000)
    x = {"early": u ** 3, "even": u, "late": u ** (1 / 3)}[shape]
    assert findings.activity_pattern(x * span + 880_000_000)["trend"] == trend


def eda_findings(ratings, gaps=(600, 3600, 10_800)):
    by_gap = eda.sessions_by_gap(ratings, gaps)
    return findings.eda(ratings, eda.inter_event_gaps(ratings), by_gap, 3600, eda.activity_by_month(ratings))


def test_eda_findings_state_the_computed_numbers_and_never_claim_a_decline_on_even_data():
    rng = np.random.default_rng(1)
    even = ratings_with_times(rng.integers(880_000_000, 880_000_000 + 200 * 86_400, 3000))
    found = eda_findings(even)
    assert_consistent(found)
    assert found.numbers["trend"] == "steady" and "declines" not in found.markdown
    assert found.shown["tie_share"] == findings.pct(float((eda.inter_event_gaps(even) == 0).mean()))
    early = ratings_with_times(880_000_000 + (rng.random(3000) ** 4 * 200 * 86_400).astype(np.int64))
    assert "**declines**" in eda_findings(early).markdown


def test_month_to_month_wording_follows_the_monthly_counts():
    rng = np.random.default_rng(2)
    even = eda_findings(ratings_with_times(rng.integers(880_000_000, 880_000_000 + 200 * 86_400, 6000)))
    assert even.numbers["month_spread"] <= findings.MONTH_SPREAD_UNEVEN and "roughly steady too" in even.markdown
    # one month three times as busy as the others: the same quarters, but not "steady" month to month
    base = rng.integers(880_000_000, 880_000_000 + 200 * 86_400, 4000)
    spike = rng.integers(880_000_000 + 90 * 86_400, 880_000_000 + 110 * 86_400, 4000)
    uneven = eda_findings(ratings_with_times(np.concatenate([base, spike])))
    assert_consistent(uneven)
    assert uneven.numbers["month_spread"] > findings.MONTH_SPREAD_UNEVEN
    assert "activity is uneven" in uneven.markdown and "roughly steady" not in uneven.markdown


def test_one_second_gaps_are_called_batches_only_when_they_stand_alone():
    # users rating in batches: 0 s and 1 s gaps inside a batch, a day between batches
    times = np.concatenate([880_000_000 + d * 86_400 + np.array([0, 0, 1, 1, 1, 2 * 3600])
                            for d in range(200)])
    found = eda_findings(ratings_with_times(times, n_users=1))
    assert_consistent(found)
    gaps = eda.inter_event_gaps(ratings_with_times(times, n_users=1))
    assert found.numbers["one_second_pairs"] == int((gaps == 1).sum()) and found.numbers["one_second_batches"]
    assert "saved together in one batch" in found.markdown
    # a steady rater, one rating per second: 1 s gaps are no batches
    steady = eda_findings(ratings_with_times(880_000_000 + np.tile([1, 2], 1500).cumsum(), n_users=1))
    assert not steady.numbers.get("one_second_batches", False) and "one batch" not in steady.markdown


def test_the_length_spike_at_the_minimum_ratings_per_user_is_explained_only_when_present():
    # 30 users rate exactly 20 movies in one sitting; 30 others spread 25 ratings over days
    rows = []
    for u in range(30):
        rows += [(u, i, 4, 1_000_000 + u * 10 * 86_400 + i) for i in range(20)]
    for u in range(30, 60):
        rows += [(u, i, 4, 1_000_000 + u * 10 * 86_400 + i * 2 * 86_400) for i in range(25)]
    spiky = pd.DataFrame(rows, columns=[USER, ITEM, RATING, TIME])
    found = eda_findings(spiky)
    assert found.numbers["spike_at_min"] and found.numbers["users_min_one_session"] == 30
    assert "spike at length 20" in found.markdown
    assert not eda_findings(ratings_with_times(np.arange(3000) * 100)).numbers["spike_at_min"]


def fake_predictions(n_sessions, shift, seed):
    rng = np.random.default_rng(seed)
    sess = np.repeat(np.arange(n_sessions), 5)
    return pd.DataFrame({"rank": np.maximum(rng.integers(1, 60, len(sess)) - shift, 1).astype(float),
                         "position": np.tile(np.arange(1, 6), n_sessions), SESSION: sess})


def test_evaluation_findings_name_the_leader_and_the_indistinguishable():
    preds = {"A": fake_predictions(200, 0, 0), "B": fake_predictions(200, 0, 0), "Pop": fake_predictions(200, -30, 0)}
    preds["B"].loc[::7, "rank"] = 1.0  # B clearly better than A on the same predictions
    metrics = ["recall@20", "mrr@20"]
    cfg = U.BootstrapConfig(n_boot=200)
    intervals = U.intervals_table(preds, metrics, cfg)
    comparisons = {m: U.compare_to_best(preds, m, cfg) for m in metrics}
    table = pd.DataFrame({m: {n: float(U.prediction_values(p, m).mean()) for n, p in preds.items()} for m in metrics})
    found = findings.evaluation(table, comparisons, intervals, 1000, 200, 60, "conservative", "user",
                                synthetic=True)
    assert_consistent(found)
    for m in metrics:
        assert found.numbers[f"leader/{m}"] == table[m].idxmax() == "B"
        assert found.shown[f"leader_value/{m}"] == findings.metric(table.loc["B", m])
        assert found.numbers[f"significantly_lower/{m}"] == ["A", "Pop"]
    assert "SYNTHETIC" in found.markdown and "**not distinguishable**" not in found.markdown
    # Pop under user exclusion is not one list for everyone (reader 25, 1.1)
    with_pop = table.copy()
    with_pop.loc["Pop", "recall@20"] = 0.05
    for seen, said in (("user", True), ("none", False)):
        text = findings.evaluation(with_pop, comparisons, intervals, 1000, 200, 60, "conservative", seen).markdown
        assert ("each user's list leaves out the movies that user rated" in text) is said and "* **Against popularity" in text
    # the focus model's standing: A is behind B on both metrics, by the compared difference
    focus = findings.evaluation(table, comparisons, intervals, 1000, 200, 60, "conservative", "user",
                                focus="A", focus_note="Baselines tuned.")
    assert_consistent(focus)
    for m in metrics:
        assert focus.numbers[f"focus_leads/{m}"] is False
        assert focus.numbers[f"focus_gap/{m}"] == pytest.approx(table.loc["B", m] - table.loc["A", m])
    assert "**A against the others.**" in focus.markdown and "behind B" in focus.markdown
    assert "Baselines tuned." in focus.markdown
    lead = findings.evaluation(table, comparisons, intervals, 1000, 200, 60, "conservative", "user", focus="B")
    assert all(lead.numbers[f"focus_leads/{m}"] for m in metrics) and "ahead of every other model" in lead.markdown
    # 05's introduction asks whether the simpler methods match the neural one: answered from the comparisons
    assert focus.numbers["simpler_matched"] == ["B"] and "B matched or beat A on Recall@20 or MRR@20 (ahead of it" in focus.markdown
    assert lead.numbers["simpler_matched"] == [] and "none of the simpler models matched B" in lead.markdown


@pytest.mark.parametrize("verdict, claims_order", [("beyond ties", True), ("ties only", False), ("undecided", False),
                                                     ("no loss", False)])
def test_order_findings_claim_the_users_order_only_beyond_the_tie_control(verdict, claims_order):
    preds = {"A": fake_predictions(200, 0, 0), "Pop": fake_predictions(200, -30, 0)}
    metrics = ["recall@20", "mrr@20"]
    cfg = U.BootstrapConfig(n_boot=100)
    table = pd.DataFrame({m: {n: float(U.prediction_values(p, m).mean()) for n, p in preds.items()} for m in metrics})
    order = pd.DataFrame([{"model": "A", "metric": "recall@20", "change": -0.2, "tie_change": -0.01,
                           "significant": True, "verdict": verdict}]).set_index(["model", "metric"])
    found = findings.evaluation(table, {m: U.compare_to_best(preds, m, cfg) for m in metrics},
                                U.intervals_table(preds, metrics, cfg), 1000, 200, 60, "conservative", "user",
                                order=order)
    assert_consistent(found)
    assert ("the users' order carries signal that A uses" in found.markdown) is claims_order
    assert found.numbers["order_verdict/A"] == verdict
    assert f"(verdict: {verdict})" in found.markdown and "*beyond ties* when" in found.markdown  # a label, defined


def test_findings_record_as_json():
    import json

    found = eda_findings(ratings_with_times(np.arange(2000) * 500))
    payload = json.loads(json.dumps(found.to_dict()))
    assert payload["markdown"] == found.markdown and payload["shown"] == found.shown


from conftest import ML100K, needs  # noqa: E402


@needs(ML100K)
def test_real_ml100k_activity_is_not_called_a_decline_and_the_spike_at_20_is_explained():
    from sbrlib.data import load_ratings

    ratings = load_ratings("ml-100k", ML100K)
    found = eda_findings(ratings, gaps=(1800, 3600, 10_800))
    assert_consistent(found)
    assert found.numbers["trend"] != "declines" and "thinner tail" not in found.markdown
    assert found.numbers["month_max"] == 23_980  # November 1997, the busiest month
    assert found.numbers["spike_at_min"] and found.numbers["min_ratings_per_user"] == 20
    assert found.numbers["tie_share"] == pytest.approx(0.5104, abs=1e-4)
    assert found.numbers["one_second_pairs"] == 3_798 and found.numbers["one_second_batches"]
    assert found.numbers["batch_share"] == pytest.approx(0.5104 + 3_798 / 99_057, abs=1e-4)


# --------------------------------------------------------------------------- method sentences from run facts


def test_config_sentences_say_tuned_or_default_and_from_how_many_trials():
    one = findings.config_facts("single trial: one search trial (1 complete, 0 pruned) ...", {"n_trials": 1})
    text = findings.config_sentence("GRU4Rec", one)
    assert one["source"] == "single-trial" and one["n_trials"] == 1 and "a single search trial" in text
    assert "not a search result and not tuned" in text and "best of" not in text
    # an old "tuned: ..." description of a 1-trial search is not called tuned either
    old = findings.config_facts("tuned: a single trial (1 complete, 0 pruned)", {"n_trials": 1})
    assert old["source"] == "single-trial" and "not tuned" in findings.config_sentence("GRU4Rec", old)
    many = findings.config_facts("tuned: trial 7 ...; changed explicitly: layers=(32,)", {"n_trials": 20})
    text = findings.config_sentence("GRU4Rec", many)
    assert "best of 20 trials" in text and "changed explicitly: layers=(32,)" in text
    default = findings.config_facts("the defaults (SASRecConfig())", {"n_trials": 5})
    assert default["source"] == "default" and default["n_trials"] is None
    assert "not tuned" in findings.config_sentence("SASRec", default)
    assert findings.config_facts("the preset 'official' (sbrlib.models.gru4rec.presets)")["source"] == "official"


def test_tuning_findings_never_rank_searches_of_unequal_size():
    facts = {"GRU4Rec": {"n_trials": 1, "n_complete": 1, "n_pruned": 0, "best_valid": 0.3, "ended_by": "time budget"},
             "SR": {"n_trials": 15, "n_complete": 15, "n_pruned": 0, "best_valid": 0.2, "ended_by": "trial cap"}}
    found = findings.tuning(facts, "mrr@20", 3.0, 40)
    assert "unequal trial counts" in found.markdown and "highest" not in found.markdown
    assert "**not** a search result" in found.markdown and "time budget was spent" in found.markdown
    assert all(s in found.markdown for s in found.shown.values())
    equal = findings.tuning({k: {**v, "n_trials": 15} for k, v in facts.items()}, "mrr@20", None, 15)
    assert "**GRU4Rec** has the highest" in equal.markdown
    # a search too short for importances says so (reader 10, 4.3), one with them names the top parameters
    two = {**facts, "GRU4Rec": {**facts["GRU4Rec"], "n_trials": 2, "n_pruned": 1}}
    imp = {"GRU4Rec": pd.Series(dtype=float), "SR": pd.Series({"steps": 0.7, "weighting": 0.3})}
    found = findings.tuning(two, "mrr@20", 3.0, 40, imp)
    gru = next(line for line in found.markdown.split("\n") if line.startswith("* **GRU4Rec**"))
    assert "With 1 complete trial this search cannot say which parameters matter for it" in gru
    assert "`steps` (70%)" in found.markdown and "cannot say" not in found.markdown.split("* **SR**")[1]
    assert all(s in found.markdown for s in found.shown.values())


def test_training_findings_say_refit_only_when_refit():
    facts = {"stopped_by": "epochs", "best_epoch": 2, "epochs_run": 3, "still_improving": False, "best_score": 0.3,
             "metric": "mrr@20", "seconds": 3.0, "budget_seconds": None, "max_epochs": 3, "patience": 2}
    config = findings.config_facts("the defaults (GRU4RecConfig())")
    valid = {"recall@20": 0.5, "mrr@20": 0.3}
    kept = findings.training(facts, config, False, None, 1000.0, valid, 100, 120)
    assert "not retrained on `train`" in kept.markdown and "Retrained" not in kept.markdown
    assert "epoch 2 with 0.3000" in kept.markdown and "its best epoch was before the last" in kept.markdown
    assert kept.numbers["kept_epoch"] == 2 and "not tuned" in kept.markdown
    assert "has not learned from the 20 events of `train` that `train_tr` leaves out (16.7% of `train`" in kept.markdown
    refit = findings.training(facts, config, True, 2, 1000.0, valid, 100, 120)
    assert "Retrained on the whole training split `train` (120 events) for 2 epochs" in refit.markdown
    assert all(s in refit.markdown for s in refit.shown.values())


def test_exclusion_note_states_validation_next_to_test_and_why():
    same = findings.exclusion_note({"GRU4Rec's early stopping": "user"}, {"the main table": "user"})
    assert "same setting" in same and "differ on purpose" not in same
    text = findings.exclusion_note(findings.validation_exclusion(
        {"gru4rec": {"objective": {"exclude_seen": "none"}}, "sr": {"objective": {"exclude_seen": "none"}},
         "old": {}}), {"the main table": "user"})
    assert "GRU4Rec's search and SR's search: `exclude_seen=\"none\"`" in text
    assert "the main table: `exclude_seen=\"user\"`" in text and "differ on purpose" in text
    assert "selection objective of the stored searches" in text and "more than one setting" not in text
    mixed = findings.exclusion_note({"GRU4Rec's early stopping (notebook 04)": "none",
                                     "SASRec's early stopping here": "user"}, {"the tables": "user"})
    assert "more than one setting" in mixed and "not on one scale" in mixed
    assert "GLOSSARY.md#exclude_seen" in text
    with pytest.raises(ValueError, match="'bad'"):
        findings.exclusion_note({"x": "bad"}, {})
    # after 03 the why is not repeated (reader 11, 4.2: the same paragraph four times); the settings still are
    brief = findings.exclusion_note({"GRU4Rec's early stopping": "none"}, {"the main table": "user"}, brief=True)
    assert "`exclude_seen=\"none\"`" in brief and "`exclude_seen=\"user\"`" in brief
    assert "differ on purpose: notebook 03 and the [glossary]" in brief and "selection objective" not in brief
    assert len(brief) < len(findings.exclusion_note({"GRU4Rec's early stopping": "none"}, {"the main table": "user"}))
    # notebook 05's parameters cell is where the main table's default comes from
    assert findings.main_table_exclusion_default() == "user"
    assert list(findings.planned_test_exclusion().values()) == ["user"]


def test_findings_end_with_the_multiple_comparison_caveat():
    found = findings.Findings("## What we found\n\nA.\n", {"x": 1}, {"x": "1"})
    out = findings.with_multiple_comparisons(found, {"B vs A (mrr@20)": 0.001, "C vs A (mrr@20)": 0.04,
                                                     "D vs A (mrr@20)": 0.5})
    assert out.markdown.startswith("## What we found\n\nA.") and "made 3 paired comparisons" in out.markdown
    assert out.numbers["comparisons/n"] == 3 and out.numbers["comparisons/raw"] == 2
    assert out.numbers["comparisons/holm"] == 1 and out.numbers["comparisons/holm_survivors"] == ["B vs A (mrr@20)"]
    assert out.numbers["x"] == 1 and found.numbers == {"x": 1}  # the input is not changed


def test_tuning_findings_name_capped_trials_and_the_search_behind_the_defaults():
    from types import SimpleNamespace

    import pandas as pd

    from sbrlib.notebook import findings as F

    trials = [SimpleNamespace(user_attrs={"training": {"stopped_by": "epochs", "still_improving": True}}),
              SimpleNamespace(user_attrs={"training": {"stopped_by": "patience", "still_improving": False}}),
              SimpleNamespace(user_attrs={})]
    study = SimpleNamespace(get_trials=lambda deepcopy=False: trials)
    best = pd.DataFrame({"trials": [3, 3], "complete": [2, 2], "pruned": [1, 1], "valid mrr@20": [0.048, 0.06]},
                        index=["SASRec", "SR"])
    facts = F.tuning_facts(best, "mrr@20", 3.0, 40, {"sasrec": study, "sr": study})
    assert facts["SASRec"]["capped_improving"] == 1 and facts["SASRec"]["prior"]["trials"] == 49
    assert facts["SR"]["prior"] is None
    text = F.tuning(facts, "mrr@20", 3.0, 40).markdown
    assert "1 of its complete trials reached the epoch cap (`EPOCHS`) while still improving" in text
    assert "itself the best of 49 trials of an earlier search on ml-100k-gap" in text


def test_07_title_answer_is_built_from_the_verdicts():
    from types import SimpleNamespace as V

    gru, sas, tie, held = (V(allowed=True, winner="GRU4Rec"), V(allowed=True, winner="SASRec"),
                           V(allowed=True, winner=None), V(allowed=False, winner=None))
    assert findings.title_answer({}) == ""
    text = findings.title_answer({"temporal": gru, "leave-one-out": tie})
    assert text.startswith("Not in this run: SASRec is ahead under none of the protocols")
    assert "GRU4Rec is ahead under *temporal*" in text and "neither is ahead under *leave-one-out*" in text
    assert "SASRec is ahead under every protocol" in findings.title_answer({"a": sas, "b": sas})
    mixed = findings.title_answer({"a": sas, "b": gru, "c": held})
    assert "It depends on the protocol" in mixed and "SASRec is ahead under *a*" in mixed
    assert "GRU4Rec is ahead under *b*" in mixed and "no verdict under *c*" in mixed
    assert "cannot say" in findings.title_answer({"a": held})
    partly = findings.title_answer({"loo": tie, "temporal": held})
    assert partly.startswith("Not in this run: SASRec is ahead under none of the protocols where a verdict was allowed")
    assert "neither is ahead under *loo*; no verdict under *temporal*" in partly


def test_07_findings_point_overlapping_intervals_to_the_paired_test_and_name_coincidences():
    def table(gru_ndcg, lo):
        return pd.DataFrame({"ndcg@10": [gru_ndcg, 0.09], "ndcg@10 lo": [lo, 0.08], "ndcg@10 hi": [lo + 0.03, 0.10],
                             "predictions": [900, 900]}, index=pd.Index(["GRU4Rec", "SR"], name="model"))

    diff = {"metric": "ndcg@10", "difference": 0.01, "lo": 0.002, "hi": 0.02, "sessions": 900}
    found = findings.sequential({"temporal": table(0.10512, 0.093), "leave-one-out": table(0.10508, 0.090)},
                                {"temporal": "ndcg@10", "leave-one-out": "ndcg@10"},
                                [("temporal", "GRU4Rec", "SR", diff)], "d", {}, {}, {"SR": "tuned"}, refit=False)
    text = found.markdown
    assert_consistent(found)
    assert text.count("paired interval](../docs/GLOSSARY.md#paired-comparison)") == 1  # only where a pair follows
    assert "GRU4Rec's NDCG@10 is 0.1051 under temporal and leave-one-out: a coincidence" in text
    assert "temporal 0.0930–0.1230; leave-one-out 0.0900–0.1200" in text
    assert "title_answer" not in found.numbers  # no GRU4Rec-vs-SASRec head-to-head: no answer claimed


def test_config_sentence_says_when_a_search_kept_the_defaults():
    from sbrlib.notebook import findings as F

    description = ("tuned: best of 2 trials (1 complete, 1 pruned) \u2014 the best is the default configuration, "
                   "SASRecConfig() (the class defaults: the best of 49 trials of an earlier search on ml-100k-gap) "
                   "\u2014 on s train_tr\u2192valid, MRR@20 0.0479 (trial 0)")
    text = F.config_sentence("SASRec", F.config_facts(description, {"n_trials": 2}))
    assert text.startswith("SASRec: its default configuration, SASRecConfig() (the class defaults: the best of 49")
    assert "kept: notebook 03's search of 2 trials on `valid` did not beat it" in text
    # the label of this version (sbrlib.tuning.describe_study) reads the same way
    new = ("default configuration kept: SASRecConfig() (the class defaults: the best of 49 trials of an earlier "
           "search on ml-100k-gap) \u2014 a search of 2 trials (1 complete, 1 pruned) did not beat it \u2014 on s")
    facts = F.config_facts(new, {"n_trials": 2})
    assert facts["source"] == "defaults-kept" and facts["best_is_default"]
    assert F.config_sentence("SASRec", facts) == text


def test_the_two_tie_shares_name_their_bases():
    """05's share (pairs inside training sessions) and 01's (all consecutive ratings of a user) differ in base:
    the line says both, with 05's counts."""
    from sbrlib.notebook import comparisons as E

    events = pd.DataFrame({SESSION: [0, 0, 0, 1, 1], TIME: [5, 5, 6, 9, 9]})
    tied, pairs = E.tie_counts(events)
    assert (tied, pairs) == (2, 3) and E.tie_share(events) == pytest.approx(2 / 3)
    line = findings.tie_bases(tied, pairs, "train_tr", 0.5104)
    assert "66.7% of consecutive ratings in the training sessions (2 of 3 pairs inside the sessions of `train_tr`" in line
    assert "notebook 01's 51.0% has another base: all consecutive ratings of each user" in line
    assert "notebook 01's share has another base" in findings.tie_bases(0, 0, "train", None)


def test_04_findings_say_whether_03s_trial_was_reused_and_explain_the_time_limit():
    """Issue 18: the run knows whether 04 trained or reused 03's trial: the findings say which, never both."""
    facts = {"stopped_by": "patience", "best_epoch": 3, "epochs_run": 5, "still_improving": False, "best_score": 0.0615,
             "metric": "mrr@20", "seconds": 36.46, "budget_seconds": 44.95, "max_epochs": 10, "patience": 2}
    config = findings.config_facts("the defaults (GRU4RecConfig())")
    valid = {"recall@20": 0.26, "mrr@20": 0.0615}
    reused = findings.training(facts, config, False, None, 1000.0, valid, 100, 120, reused=True)
    here = findings.training({**facts, "budget_seconds": None}, config, False, None, 1000.0, valid, 100, 120, reused=False)
    for found in (reused, here):
        assert "trained here, or" not in found.markdown and "says which" not in found.markdown
        assert all(s in found.markdown for s in found.shown.values())
    assert "reused here as trained: nothing was trained in this notebook" in reused.markdown
    assert "Notebook 03's best trial, reused as trained" in reused.markdown and reused.numbers["reused_trial"] is True
    assert "time limit of 45.0 s" in reused.markdown and "training loop took 36.5 s; the limit was not reached (notebook 03 counts" in reused.markdown
    assert "`budget_seconds`" in reused.markdown and "this trial's share of notebook 03's search time" in reused.markdown
    assert "(done in this notebook)" in here.markdown and "The model trained in this notebook" in here.markdown
    assert "time limit" not in here.markdown and here.numbers["budget_seconds"] is None
    budget = findings.training({**facts, "stopped_by": "budget", "seconds": 46.0}, config, False, None, 1000.0, valid,
                               100, 120, reused=False)
    assert "the limit was reached, which stopped training" in budget.markdown


def test_06_counts_later_hits_and_the_next_movie_apart():
    """Issue 18: 'what the user rated next' counted every later movie; now both are said, each for what it is."""
    lists = {"GRU4Rec": [1, 2, 3], "SR": [9, 4, 5]}
    found = findings.try_it([7, 8], [9, 2, 3, 6], lists, [], {"GRU4Rec / SR": 0.0}, {"GRU4Rec": 1.0, "SR": 1.0},
                            {"GRU4Rec": "train_tr", "SR": "train_tr"}, {"GRU4Rec": "a", "SR": "b"}, 3, False)
    text = found.markdown
    assert "Against what the user rated next" not in text
    assert "rated 4 more in the same session (the next one and every one after it)" in text
    assert "GRU4Rec 2, SR 1 are among those 4 (any of them, not only the next" in text
    assert "The very next movie, the one the models are trained to predict, is in the list of SR." in text
    assert found.numbers["next_hits"] == ["SR"]
    none = findings.try_it([7, 8], [6], lists, [], {}, {}, {"GRU4Rec": "train_tr", "SR": "train_tr"},
                           {"GRU4Rec": "a", "SR": "b"}, 3, False)
    assert "is in none of the lists" in none.markdown


def test_07_states_whether_the_neural_models_shared_one_stopping_rule():
    """Issue 18: 04's GRU4Rec (patience 2, cap 10) next to SASRec trained here (5, 100): said from the records."""
    def facts(patience, cap, curve=(0.04, 0.045, 0.05, 0.049, 0.048), best=3):
        return {"stopped_by": "patience", "best_epoch": best, "epochs_run": len(curve), "still_improving": False,
                "best_score": max(curve), "metric": "mrr@20", "seconds": 1.0, "budget_seconds": None,
                "max_epochs": cap, "patience": patience, "curve": list(curve)}

    b = findings._Builder()
    sasrec = (0.03, 0.04, 0.0479, 0.047, 0.046, 0.045, 0.044, 0.043)  # best at 3, before patience 2 stops at 5
    gru = (0.0567, 0.0610, 0.06145, 0.0613, 0.06138)
    mixed = findings._rule_sentence(b, "temporal", {"GRU4Rec": facts(2, 10, gru), "SASRec": facts(5, 100, sasrec)})
    assert ("**not** trained under one rule (GRU4Rec: patience 2, epoch cap 10, time limit none; SASRec: patience 5, "
            "epoch cap 100, time limit none)") in mixed
    assert b.numbers["one_rule/temporal"] is False
    assert "favours" not in mixed and "did not change which epoch was kept" not in mixed  # GRU4Rec's side unknown
    assert "they did not change the epoch kept for SASRec, and whether they did for GRU4Rec is unknown" in mixed
    assert ("SASRec's best epoch (3) came no later than the end of training under GRU4Rec's rule (after epoch 5)"
            in mixed)
    assert "GRU4Rec was stopped by its shorter rule after epoch 5 while its validation score was flat" in mixed
    assert "0.06145 at epoch 3, 0.06138 at epoch 5" in mixed
    late = (0.03, 0.04, 0.041, 0.040, 0.039, 0.05, 0.049, 0.048, 0.047, 0.046, 0.045)  # best at 6, after epoch 5
    b = findings._Builder()
    fav = findings._rule_sentence(b, "temporal", {"GRU4Rec": facts(2, 10, gru), "SASRec": facts(5, 100, late, 6)})
    assert "favours SASRec" in fav and b.numbers["favoured_by_rule/temporal"] == ["SASRec"]
    assert "would have stopped after epoch 5 and kept epoch 3 (0.0410) instead of epoch 6 (0.0500)" in fav
    same = findings._rule_sentence(b, "loo", {"GRU4Rec": facts(5, 100), "SASRec": facts(5, 100)})
    assert "trained under one rule (patience 5, epoch cap 100, time limit none)" in same and b.numbers["one_rule/loo"] is True
    # the time limit is part of the rule: 04's reused GRU4Rec kept its share of 03's search time (44.9 s)
    limited = findings._rule_sentence(b, "t", {"GRU4Rec": dict(facts(5, 100), budget_seconds=44.9),
                                               "SASRec": dict(facts(5, 100), budget_seconds=360.0)})
    assert b.numbers["one_rule/t"] is False and "GRU4Rec: patience 5, epoch cap 100, time limit 44.9 s" in limited
    assert "SASRec: patience 5, epoch cap 100, time limit 360.0 s" in limited
    assert findings._rule_sentence(b, "x", {"SASRec": facts(5, 100)}) == ""
    # the same cap stopped both: the shorter patience did not cut the model, so nothing is said about a cut
    capped = dict(facts(5, 2, (0.1, 0.2), 2), stopped_by="epochs", still_improving=True)
    shared = findings._rule_sentence(b, "z", {"GRU4Rec": dict(capped, patience=None), "SASRec": capped})
    assert "stopped by its shorter rule" not in shared and "did not change which epoch was kept" in shared
    crossed = findings._rule_sentence(b, "y", {"GRU4Rec": facts(2, 100), "SASRec": facts(5, 10)})
    assert "favours" not in crossed  # neither rule gives more epochs on both counts


def test_kept_epoch_under_replays_the_training_loops_rule():
    curve = [0.1, 0.2, 0.2, 0.15, 0.3]
    assert findings.kept_epoch_under(curve, 2, 10) == (2, 4)  # equal is no improvement
    assert findings.kept_epoch_under(curve, 5, 3) == (2, 3)  # the cap
    assert findings.kept_epoch_under(curve, 5, 100) is None  # would have trained past the record
    assert findings.kept_epoch_under([0.1, None], 1, 10) == (1, 2)  # a missing score never improves


def test_bootstrap_p_of_zero_is_shown_as_below_the_resolution_and_expected_counts_keep_two_decimals():
    from sbrlib.notebook import comparisons, protocols

    assert protocols.p_value_text(0.0, 1000) == "<0.002" and protocols.p_value_text(0.006, 1000) == "0.006"
    table = protocols.comparison_table([("t", "SASRec", "GRU4Rec", {"metric": "m", "difference": -0.05, "lo": -0.07,
                                                                    "hi": -0.03, "p_value": 0.0, "sessions": 215})], 1000)
    assert table.loc[0, "p_value"] == "<0.002" and table.loc[0, "a"] == "SASRec"
    assert comparisons.expected_count(0.25) == "0.25" and comparisons.expected_count(2.0) == "2"
    note, _ = comparisons.multiple_comparisons_note({f"c{i}": 0.5 for i in range(5)})
    assert "about 0.25 of 5 here" in note


def _search(values, budget=None, used_seconds=0.0, model="v-sknn"):
    """An in-memory Optuna study whose trials return ``values`` in order (None: pruned after epoch 1 by
    its time limit), with a recorded budget and time used."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.set_user_attr("model", model)
    if budget is not None:
        study.set_user_attr("budget", budget)
        study.set_user_attr("used", {"seconds": used_seconds, "trials": len(values)})
    script = iter(values)

    def objective(trial):
        value = next(script)
        if value is None:
            trial.report(0.01, 1)
            trial.set_user_attr("curve", [{"epoch": 1, "mrr@20": 0.01}])
            trial.set_user_attr("stop", {"rule": "time limit", "epoch": 1, "text": "time limit: ..."})
            raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=len(values))
    return study


def test_tuning_findings_flag_an_unsettled_or_overrunning_search_and_a_kept_default():
    """V-SKNN of the ml-100k run: best rose at trial 12 of 13, 0.60 of 0.50 min; GRU4Rec: 3 trials, the
    default (trial 0) kept, 2 stopped by their time limit."""

    from sbrlib.notebook import findings as F
    from sbrlib.tuning import analysis

    vsknn = _search([0.01, 0.02, 0.015] + [0.018] * 9 + [0.028], {"trials": 40, "minutes": 0.5}, 36.2)
    knn = _search([0.01, 0.05] + [0.04] * 8, {"trials": 10, "minutes": 0.5}, 10.0, model="item-knn")
    gru = _search([0.06, None, None], {"trials": 40, "minutes": 1.5, "shared_with": ["gru4rec", "sasrec"]}, 66.7,
                  model="gru4rec")
    progress = analysis.search_progress(vsknn)
    assert (progress["settled"], progress["last_rise_trial"], progress["last_rise_position"]) == (False, 12, 13)
    assert progress["overran"] and progress["used_minutes"] == pytest.approx(36.2 / 60)
    assert analysis.search_progress(knn)["settled"] is True and not analysis.search_progress(knn)["overran"]
    assert analysis.search_progress(gru)["settled"] is None and not analysis.search_progress(gru)["overran"]
    studies = {"v-sknn": vsknn, "item-knn": knn, "gru4rec": gru}
    best = analysis.best_table(studies)
    facts = F.tuning_facts(best, "mrr@20", 3.0, 40, studies)
    text = F.tuning(facts, "mrr@20", 3.0, 40).markdown
    assert ("The search had **not settled**: its best so far last rose at trial 12, the 13th of 13 trials. It used "
            "0.60 min of its 0.50 min budget") in text
    assert "* **Not settled**: V-SKNN's best validation value was still rising" in text
    assert "Item-kNN" not in text.split("* **Not settled**")[1]
    assert "2 of its trials were stopped before their own training ended (by their time limit, after 1 and 1 epoch" \
        in text
    assert "no trial of this run beat it: the model in use is that shipped default configuration" in text
    assert "too few completed trials (1) to tell whether it had settled" in text
    notes = F.search_effort_notes(facts)
    assert set(notes) == {"V-SKNN", "GRU4Rec"}


def test_05_findings_state_the_search_effort_and_the_order_training_difference():
    from sbrlib.notebook.comparisons import OrderGRUPlan

    preds = {"GRU4Rec": fake_predictions(200, 0, 0), "V-SKNN": fake_predictions(200, 0, 1),
             "Pop": fake_predictions(200, -30, 0)}
    preds["GRU4Rec"].loc[::7, "rank"] = 1.0
    metrics = ["recall@20", "mrr@20"]
    cfg = U.BootstrapConfig(n_boot=100)
    table = pd.DataFrame({m: {n: float(U.prediction_values(p, m).mean()) for n, p in preds.items()} for m in metrics})
    effort = {  # as notebook 03 records them (tuning_facts)
        "GRU4Rec": {"n_trials": 3, "prior": {"trials": 49, "split": "ml-100k-gap"}, "best_trial": 0,
                    "stopped_early": [{"trial": 1, "epoch": 7, "rule": "time limit"},
                                      {"trial": 2, "epoch": 1, "rule": "time limit"}],
                    "progress": {"settled": None, "n_complete": 1, "overran": False}},
        "V-SKNN": {"n_trials": 13, "prior": None, "best_trial": 12, "stopped_early": [],
                   "progress": {"settled": False, "last_rise_trial": 12, "last_rise_position": 13, "n_trials": 13,
                                "overran": True, "used_minutes": 0.6, "budget_minutes": 0.5}}}
    order = pd.DataFrame([{"model": "GRU4Rec", "metric": "recall@20", "change": -0.467, "tie_change": -0.2,
                           "significant": True, "verdict": "beyond ties"}]).set_index(["model", "metric"])
    plan = OrderGRUPlan(epochs=5, estimated_seconds=30.0, budget_seconds=60.0, saved_epochs=5, reason="5 epochs",
                        saved_best_epoch=3)
    by_length = pd.DataFrame([{"bucket": b, "model": m, "predictions": p, "sessions": n}
                              for m in ("GRU4Rec", "Pop") for b, p, n in (("2–20", 1000, 100), ("21–72", 1813, 79),
                                                                          ("73–317", 5593, 36))])
    found = findings.evaluation(table, {m: U.compare_to_best(preds, m, cfg) for m in metrics},
                                U.intervals_table(preds, metrics, cfg), 1000, 200, 60, "conservative", "user",
                                order=order, search_effort=effort, order_plan=plan, by_length=by_length)
    assert_consistent(found)
    text = found.markdown
    # reader report 5, 3.3: the bucket holding most predictions is named (36 sessions, 66.5% of predictions)
    assert ("The session-length bucket 73–317 holds 36 of the 215 test sessions but 5,593 of the 8,406 predictions "
            "(66.5%), so every number below is mostly about these sessions") in text
    assert found.numbers["dominant_bucket_share"] == pytest.approx(5593 / 8406)
    effort_line = next(line for line in text.split("\n\n") if line.startswith("* **Search effort"))
    assert ("GRU4Rec 3 (its defaults are the best of 49 trials of an earlier search on ml-100k-gap (fitted on "
            "`train_tr`, scored on `valid`: the test split was not used), not part of this "
            "run (notebook 03 shows its record)") in effort_line
    assert ("this run's trial 0 trained them again and its other 2 trials tried new ones: 49 + 2 configurations in all; its default configuration kept; "
            "2 stopped early), V-SKNN 13; not searched: Pop") in effort_line
    assert "V-SKNN's search had **not settled**: its best so far last rose at trial 12, the 13th of 13" in effort_line
    assert "V-SKNN may rank lower here than a settled search would place it" in effort_line
    assert "Too few completed trials to tell whether these searches had settled: GRU4Rec (1)." in effort_line
    assert "The searches were unequal" in effort_line and not found.numbers["search_equal"]
    assert found.numbers["search_unsettled"] == ["V-SKNN"] and found.numbers["search_trials/V-SKNN"] == 13
    # next to the ranking: right after the leaders' lines
    assert text.index("* **Search effort") < text.index("* **GRU4Rec against the others.**")
    assert ("compare the saved model (early-stopped on `valid` after 5 epoch(s), keeping epoch 3) with retrainings "
            "of 5 fixed epoch(s) without validation, so they mix in that training difference") in text


def test_05_search_effort_says_equal_only_when_it_is():
    same = {"n_trials": 5, "prior": None, "best_trial": 2, "stopped_early": [],
            "progress": {"settled": True, "n_complete": 5, "overran": False}}
    b = findings._Builder()
    findings._search_effort_line(b, {"A": same, "B": same}, ["A", "B"])
    assert "The searches had equal trial counts." in b.lines[0] and "unequal" not in b.lines[0]
    b = findings._Builder()
    findings._search_effort_line(b, {"A": same, "B": {**same, "n_trials": 9}}, ["A", "B"])
    assert "The searches were unequal" in b.lines[0] and b.numbers["search_trials/B"] == 9


def test_eda_session_count_change_is_signed_and_relative_to_the_lower_gap():
    """Issue 18 (1.5): 2,793 -> 2,576 sessions is −7.8% of the first count, not 8.4% of the second."""
    rng = np.random.default_rng(3)
    ratings = ratings_with_times(rng.integers(880_000_000, 880_000_000 + 200 * 86_400, 3000))
    found = eda_findings(ratings, gaps=(1_800, 3_600, 10_800))
    by_gap = eda.sessions_by_gap(ratings, (1_800, 3_600, 10_800)).set_index("gap_s")["sessions"]
    first, last = int(by_gap.loc[1_800]), int(by_gap.loc[10_800])
    assert first > last  # a longer gap merges sittings
    assert found.numbers["sessions_change"] == pytest.approx(last / first - 1)
    expected = f"{last / first - 1:+.1%}".replace("-", "−")
    assert f"goes from {first:,} to {last:,}, a change of {expected} relative to the count at 1,800 s" in found.markdown


def test_07_differences_share_one_display_and_a_zero_rounding_one_is_said_in_words():
    """Issue 18 (4.11): -2.97e-05 next to 4-decimal bounds; the findings said "0.0000 lower"."""
    from sbrlib.notebook import protocols

    diff = {"metric": "ndcg@10", "difference": -2.9726e-05, "lo": -0.0028174, "hi": 0.0031809, "p_value": 0.964,
            "sessions": 881}
    table = protocols.comparison_table([("leave-one-out", "a", "b", diff)], 1000)
    assert list(table.loc[0, ["difference", "lo", "hi"]]) == ["-0.0000", "-0.0028", "+0.0032"]
    found = findings.sequential({}, {}, [("leave-one-out", "a", "b", diff)], "x", {}, {}, {}, False)
    assert "a is less than 0.00005 lower than b" in found.markdown and "0.0000 lower" not in found.markdown
    assert "round each model's value to 4 decimals on its own" in found.markdown


def test_07_history_facts_are_counted_and_stated():
    """Issue 18 (4.2, 4.4): test sessions with a training history; SASRec's max_len against leave-one-out histories."""
    from sbrlib.core.columns import ITEM, SESSION, TIME, USER
    from sbrlib.notebook import protocols

    train = pd.DataFrame({USER: [1, 1, 2], SESSION: [10, 10, 11], ITEM: [5, 6, 7], TIME: [1, 2, 3]})
    test = pd.DataFrame({USER: [1, 1, 3, 3, 1, 1], SESSION: [20, 20, 21, 21, 22, 22], ITEM: [5, 6, 7, 5, 6, 7],
                         TIME: [10, 11, 12, 13, 14, 15]})
    cov = protocols.history_coverage({"train": train, "test": test})
    assert cov == {"test_sessions": 3, "with_history": 2, "test_users": 2, "users_with_history": 1}
    loo = pd.DataFrame({USER: [1] * 5 + [2] * 3, ITEM: range(8), TIME: range(8), SESSION: [1] * 5 + [2] * 3})
    lengths = protocols.history_lengths({"test": loo}, max_len=3)
    assert lengths["mean"] == 3.0 and lengths["max"] == 4 and lengths["longer"] == 1 and lengths["users"] == 2
    found = findings.sequential({}, {}, [], "x", {}, {}, {}, False,
                                history={"coverage": cov, "loo_experiment": True, "lengths": lengths})
    text = found.markdown
    assert "2 of 3 test sessions (66.7%) belong to users with events in `train`" in text
    assert "a history state is new to it at test time" in text and "session-cut GRU4Rec was likewise trained" in text
    assert "SASRec reads only the last 3 items" in text and "1 of 2 users (50.0%) have more than `max_len`" in text
    assert "3.0 events on average" in text


def test_07_says_when_another_metric_orders_the_models_differently():
    """Issue 18 (4.3): SASRec second by Recall@20 but below Item-kNN by MRR@20."""
    table = pd.DataFrame({"recall@20": [0.20, 0.15, 0.14], "mrr@20": [0.07, 0.0662, 0.0680],
                          "predictions": [100, 100, 100]}, index=["GRU4Rec", "SASRec", "Item-kNN"])
    for m in ("recall@20", "mrr@20"):
        table[f"{m} lo"], table[f"{m} hi"] = table[m] - 0.01, table[m] + 0.01
    found = findings.sequential({"temporal": table}, {"temporal": "recall@20"}, [], "x", {}, {}, {}, False)
    assert found.numbers["other_orders/temporal"] == ["MRR@20: GRU4Rec 0.0700, Item-kNN 0.0680, SASRec 0.0662"]
    assert "other metrics order the models differently" in found.markdown
    same = findings.sequential({"temporal": table.assign(**{"mrr@20": [0.07, 0.069, 0.068]})},
                               {"temporal": "recall@20"}, [], "x", {}, {}, {}, False)
    assert same.numbers["other_orders/temporal"] == [] and "order the models differently" not in same.markdown


def test_signed_numbers_and_lists_read_the_same_in_every_sentence_builder():
    """The typographic minus was written three times (findings, protocols, comparisons): now one helper."""
    from sbrlib.core import text as core_text
    from sbrlib.notebook import protocols

    assert core_text.signed(-0.0025) == "\u22120.0025" == findings.signed(-0.0025) == protocols._minus(-0.0025)
    assert core_text.signed(0.01) == "+0.0100" and core_text.signed(-0.00003) == "\u22120.0000"
    assert core_text.join_and([7, 1]) == "7 and 1" and core_text.join_and(["a", "b", "c"]) == "a, b and c"
    assert core_text.join_and(["a"]) == "a" and core_text.join_and([]) == ""


def test_long_findings_read_as_sentences_not_one_chain_of_semicolons():
    """Reader 21, 4.5: 03's per-model bullet was one sentence of ~180 words."""
    from sbrlib.core import text as core_text

    assert core_text.sentences("3 trials; the search ended (by time; see below); `a; b` here; 1 of them") == (
        "3 trials. The search ended (by time; see below). `a; b` here. 1 of them")
    assert core_text.sentences("x; (y) z") == "x. (y) z" and core_text.sentences("no clause") == "no clause"
    facts = {"GRU4Rec": {"n_trials": 3, "n_complete": 2, "n_pruned": 1, "best_valid": 0.06, "ended_by": "time budget",
                         "stopped_early": [{"trial": 2, "state": "pruned", "epoch": 4, "rule": "time limit"}]}}
    text = findings.tuning(facts, "mrr@20", 3.0, 40).markdown
    line = next(x for x in text.split("\n") if x.startswith("* **GRU4Rec**"))
    assert line.startswith("* **GRU4Rec**: 3 trial(s), 2 complete and 1 pruned. Best validation MRR@20 0.0600. The ")
    assert "; the search" not in line


def test_order_findings_say_item_knn_uses_order_only_through_the_last_movie():
    """Reader 22, 4.2: "signal that SR, Item-kNN and GRU4Rec use" while Item-kNN's model ignores order."""
    preds = {"SR": fake_predictions(200, 0, 0), "Pop": fake_predictions(200, -30, 0)}
    metrics = ["recall@20", "mrr@20"]
    cfg = U.BootstrapConfig(n_boot=100)
    table = pd.DataFrame({m: {n: float(U.prediction_values(p, m).mean()) for n, p in preds.items()} for m in metrics})
    rows = [{"model": m, "metric": "recall@20", "change": -0.2, "tie_change": -0.01, "significant": True,
             "verdict": "beyond ties"} for m in ("SR", "Item-kNN")]
    found = findings.evaluation(table, {m: U.compare_to_best(preds, m, cfg) for m in metrics},
                                U.intervals_table(preds, metrics, cfg), 1000, 200, 60, "conservative", "user",
                                order=pd.DataFrame(rows).set_index(["model", "metric"]))
    assert ("the users' order carries signal that SR uses, and that Item-kNN uses through which movie is last when "
            "it predicts") in found.markdown
