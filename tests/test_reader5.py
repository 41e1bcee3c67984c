"""Reader report 5 (issue 18): sentences that must hold in every run (03/04/05, tuning labels, report)."""

from __future__ import annotations

import json

from sbrlib.notebook import comparisons


def _record(tmp_path, monkeypatch, payload):
    monkeypatch.setenv("SBR_RUN_DIR", str(tmp_path))
    folder = tmp_path / "results" / "s"
    folder.mkdir(parents=True)
    (folder / "gru4rec_training.json").write_text(json.dumps({"payload": payload}))


def test_where_the_saved_gru4rec_was_trained_comes_from_04s_record(tmp_path, monkeypatch):
    """05 called the saved model's time "notebook 04's training time" although 04 reused 03's trial."""
    _record(tmp_path, monkeypatch, {"model": "m", "reused": True,
                                    "reused_trial": "reused: the model of trial 0 of 'gru4rec-mrr@20' (same split)"})
    assert comparisons.where_trained("s", "m") == ("trained in notebook 03 (the model of trial 0 of "
                                                   "'gru4rec-mrr@20', reused by notebook 04)")
    assert comparisons.where_trained("s", "other").startswith("where it was trained is unknown")


def test_a_model_trained_in_04_says_so(tmp_path, monkeypatch):
    _record(tmp_path, monkeypatch, {"model": "m", "reused": False, "reused_trial": "no study to reuse"})
    assert comparisons.where_trained("s", "m") == "trained in notebook 04"


def test_the_default_gru4rec_configuration_is_the_preset_movielens_gap():
    """04 cell 0 says `default` and the preset `movielens-gap` are the same configuration."""
    from sbrlib.models.gru4rec import GRU4RecConfig
    from sbrlib.models.gru4rec.presets import preset

    assert preset("movielens-gap") == GRU4RecConfig()


def test_glossary_has_the_terms_03_and_04_link():
    from pathlib import Path

    from sbrlib.pipeline.html_report import slug

    glossary = (Path(__file__).resolve().parents[1] / "docs" / "GLOSSARY.md").read_text()
    anchors = {slug(line.lstrip("#").strip()) for line in glossary.splitlines() if line.startswith("### ")}
    assert {"study", "adam", "tuned-default-preset", "best-of-n", "pruning", "time-budget"} <= anchors
    for nb in ("03_tuning", "04_train_gru4rec"):
        text = (Path(__file__).resolve().parents[1] / "notebooks" / f"{nb}.ipynb").read_text()
        assert "GLOSSARY.md#study" in text and "GLOSSARY.md#adam" in text, nb


def test_settings_larger_than_the_data_say_what_happens():
    """Reader report 5, 4.1: n_sample 2048 with 1,339 items; V-SKNN sample_size 4,396 and k 1,406 with 1,777
    sessions."""
    import pandas as pd

    from sbrlib.core.columns import ITEM, SESSION
    from sbrlib.models.gru4rec import GRU4RecConfig

    events = pd.DataFrame({SESSION: [s for s in range(10) for _ in range(3)], ITEM: list(range(30))})
    lines = comparisons.beyond_data_notes({"GRU4Rec": GRU4RecConfig(n_sample=40), "V-SKNN": {"k": 12,
                                                                                             "sample_size": 50},
                                           "SR": {"steps": 10}}, events)
    assert lines[0] == ("GRU4Rec: n_sample 40 is more than the 30 items: a step's negatives are drawn independently, "
                        "with replacement (∝ support^sample_alpha), so items repeat among them")
    assert lines[1].startswith("V-SKNN: sample_size 50 is at least the 10 training sessions: every training session "
                               "that shares an item with the current one is a candidate")
    assert lines[1].endswith("and k 12 keeps every candidate as a neighbour") and len(lines) == 2
    assert comparisons.beyond_data_notes({"GRU4Rec": GRU4RecConfig(n_sample=8), "V-SKNN": {"k": 5, "sample_size": 6}},
                                         events) == []
    assert comparisons.beyond_data_notes({"V-SKNN": {"k": 6, "sample_size": 5}}, events) == [
        "V-SKNN: k 6 is at least sample_size 5: every candidate is a neighbour"]


def test_identical_models_are_counted_once_among_the_comparisons():
    """Reader report 5, 4.6: Pop vs GRU4Rec and S-Pop vs GRU4Rec are one comparison when S-Pop's lists are Pop's."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from sbrlib.notebook import findings

    ranks = {"GRU4Rec": [1.0, 2.0, 3.0], "Pop": [5.0, 9.0, np.nan], "S-Pop": [5.0, 9.0, np.nan], "SR": [5.0, 8.0, 1.0]}
    results = {n: SimpleNamespace(predictions=pd.DataFrame({"rank": r})) for n, r in ranks.items()}
    same = comparisons.identical_models(results)
    assert same == {"S-Pop": "Pop"}
    cmp = pd.DataFrame({"best": ["GRU4Rec"] * 4, "p_value": [1.0, 0.001, 0.001, 0.03]},
                       index=["GRU4Rec", "Pop", "S-Pop", "SR"])
    p = comparisons.paired_p_values({"mrr@20": cmp}, same_as=same)
    assert p == {"Pop vs GRU4Rec (mrr@20)": 0.001, "SR vs GRU4Rec (mrr@20)": 0.03}
    found = findings.with_multiple_comparisons(findings.Findings("## What we found\n", {}, {}), p, same_as=same)
    assert "This run made 2 paired comparisons" in found.markdown
    assert "Identical predictions are counted once (S-Pop's are Pop's" in found.markdown


def test_03_prints_each_searchs_budget():
    """Reader report 5, 4.8: the baselines' 0.5 min each was only visible in the result lines."""
    from sbrlib import tuning

    models = ["gru4rec", "sasrec", "item-knn", "sr", "v-sknn"]
    assert tuning.budget_shares(models, 3.0) == {"gru4rec": 1.5, "sasrec": 1.5, "item-knn": 0.5, "sr": 0.5,
                                                 "v-sknn": 0.5}
    text = tuning.budget_sentence(models, 3.0, 40)
    assert text.startswith("time budget per search: Item-kNN 0.50 min, SR 0.50 min, V-SKNN 0.50 min (each baseline "
                           "an equal share of half of the 3.00 min); GRU4Rec and SASRec share 1.50 min, in rounds")
    assert "; at most 40 trials per model (the shares are fixed before the searches run" in text
    assert "is not passed on" in text  # reader 18, 4.4: why unused baseline time does not go to GRU4Rec/SASRec
    assert tuning.budget_sentence(["gru4rec"], 3.0, 40).endswith("; at most 40 trials per model")  # one share: nothing to pass
    assert tuning.budget_sentence(["sr"], None, 5) == "time budget per search: none (no time limit); at most 5 trials per model"


def test_03_says_why_a_model_has_no_importance_plot_and_that_few_trials_make_importance_noisy():
    """Reader report 5, 4.9."""
    import optuna
    import pandas as pd

    from sbrlib.notebook import findings
    from sbrlib.tuning import analysis

    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert analysis.no_importance_sentence(study, "GRU4Rec") == (
        "GRU4Rec: no importance plot: 2 completed trials, fewer than the 3 it needs (pruned trials do not count)")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0 * t.suggest_float("y", 0, 1), n_trials=3)
    assert analysis.no_importance_sentence(study, "GRU4Rec") is None
    facts = {"V-SKNN": {"n_trials": 13, "n_complete": 13, "n_pruned": 0, "best_valid": 0.05, "ended_by": "time budget"}}
    imp = {"V-SKNN": pd.Series({"k": 0.6, "sample_size": 0.4})}
    text = findings.tuning(facts, "mrr@20", 3.0, 40, imp).markdown
    assert "across its 13 complete trials is explained by `k` (60%), `sample_size` (40%)" in text
    assert "with fewer than 20 complete trials it is noisy" in text


def test_03_names_the_trials_whose_time_limit_ended_within_their_first_epoch():
    """Reader report 5, 4.10: 3.3 s and 2.4 s limits, shorter than one epoch, counted as trials."""
    from sbrlib.notebook import findings

    early = {"GRU4Rec": [{"trial": 1, "state": "pruned", "epoch": 7, "rule": "time limit", "limit_seconds": 44.9},
                         {"trial": 2, "state": "pruned", "epoch": 1, "rule": "time limit", "limit_seconds": 3.3}],
             "SASRec": [{"trial": 2, "state": "pruned", "epoch": 1, "rule": "time limit", "limit_seconds": 2.4}]}
    facts = {n: {"n_trials": 3, "n_complete": 2, "n_pruned": 1, "best_valid": 0.05, "ended_by": "time budget",
                 "stopped_early": e} for n, e in early.items()}
    found = findings.tuning(facts, "mrr@20", 3.0, 40)
    assert ("* **Trials that could not train**: GRU4Rec's trial 2 (3.3 s) and SASRec's trial 2 (2.4 s) got a time "
            "limit") in found.markdown
    assert found.numbers["untrainable/GRU4Rec"] == [2]


def test_the_findings_parse_the_label_tuning_writes():
    from sbrlib import tuning
    from sbrlib.notebook import findings

    assert findings._DEFAULTS_KEPT == tuning.DEFAULTS_KEPT
