"""Bootstrap intervals and paired comparisons over test sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import SESSION
from sbrlib.evaluation import uncertainty as U


def frame(ranks, sessions, positions=None):
    ranks = np.asarray(ranks, np.float64)
    positions = np.arange(len(ranks)) if positions is None else positions
    return pd.DataFrame({"rank": ranks, "position": positions, SESSION: sessions, "session_length": 5})


def test_prediction_values_match_the_metric_formulas():
    pred = frame([1, 3, 25], [0, 0, 1])
    np.testing.assert_allclose(U.prediction_values(pred, "recall@20"), [1, 1, 0])
    np.testing.assert_allclose(U.prediction_values(pred, "mrr@20"), [1, 1 / 3, 0])
    np.testing.assert_allclose(U.prediction_values(pred, "ndcg@20"), [1, 0.5, 0])
    with pytest.raises(ValueError, match="coverage"):
        U.prediction_values(pred, "coverage@20")


def test_interval_covers_a_known_bernoulli_p_about_95_percent_of_the_time():
    p, n, reps = 0.3, 200, 200
    rng = np.random.default_rng(0)
    covered = 0
    for r in range(reps):
        hits = rng.random(n) < p
        ci = U.bootstrap_means(hits.astype(float), np.arange(n), U.BootstrapConfig(n_boot=300, seed=r)).iloc[0]
        covered += ci["low"] <= p <= ci["high"]
    # expected 0.95; binomial sd over 200 repetitions is 0.015 and the percentile bootstrap runs a
    # little narrow at n = 200, hence the asymmetric tolerance
    assert 0.90 <= covered / reps <= 0.99


def test_resampling_sessions_keeps_coverage_when_predictions_of_a_session_are_correlated():
    # each session has its own hit probability; predictions inside it share it
    p_mean, n_sess, per_sess, reps = 0.3, 100, 6, 100
    rng = np.random.default_rng(1)
    by_session = by_prediction = 0
    groups = np.repeat(np.arange(n_sess), per_sess)
    for r in range(reps):
        p_s = rng.beta(0.6, 1.4, n_sess)  # mean 0.3, strongly varying between sessions
        hits = (rng.random(n_sess * per_sess) < np.repeat(p_s, per_sess)).astype(float)
        cfg = U.BootstrapConfig(n_boot=200, seed=r)
        a = U.bootstrap_means(hits, groups, cfg).iloc[0]
        b = U.bootstrap_means(hits, np.arange(len(hits)), cfg).iloc[0]
        by_session += a["low"] <= p_mean <= a["high"]
        by_prediction += b["low"] <= p_mean <= b["high"]
    assert by_session / reps >= 0.88
    assert by_prediction / reps < by_session / reps - 0.1  # treating predictions as independent is overconfident


def test_intervals_are_seeded_and_contain_the_estimate():
    rng = np.random.default_rng(2)
    pred = frame(rng.integers(1, 60, 500), rng.integers(0, 80, 500))
    a = U.bootstrap(pred, ["recall@20", "mrr@20"], U.BootstrapConfig(n_boot=200, seed=5))
    b = U.bootstrap(pred, ["recall@20", "mrr@20"], U.BootstrapConfig(n_boot=200, seed=5))
    pd.testing.assert_frame_equal(a, b)
    assert ((a["low"] <= a["estimate"]) & (a["estimate"] <= a["high"])).all()
    assert a.loc["recall@20", "estimate"] == pytest.approx((pred["rank"] <= 20).mean())


def test_paired_comparison_of_a_model_with_itself_is_zero_and_not_significant():
    rng = np.random.default_rng(3)
    pred = frame(rng.integers(1, 60, 400), rng.integers(0, 50, 400))
    out = U.paired(pred, pred.sample(frac=1, random_state=0), ["recall@20", "mrr@20", "ndcg@20"])
    assert (out["diff"] == 0).all() and (out["low"] == 0).all() and (out["high"] == 0).all()
    assert (out["p_value"] == 1).all() and not out["significant"].any()


def test_paired_comparison_detects_a_clear_difference_and_pairs_the_sessions():
    rng = np.random.default_rng(4)
    n, sessions = 600, np.repeat(np.arange(100), 6)
    easy = np.repeat(rng.random(100) < 0.5, 6)  # sessions differ a lot: easy ones rank the target 1-2
    base = np.where(easy, rng.integers(1, 3, n), rng.integers(30, 60, n))
    improved = np.where(rng.random(n) < 0.3, np.maximum(base - 1, 1), base)  # small gain on the same predictions
    better, worse = frame(improved, sessions), frame(base, sessions)
    out = U.paired(better, worse, ["mrr@20"]).iloc[0]
    assert out["diff"] > 0 and out["low"] > 0 and out["significant"] and out["p_value"] < 0.01
    # pairing: the interval of the difference is narrower than either model's own interval
    own = U.bootstrap(worse, ["mrr@20"]).iloc[0]
    assert out["high"] - out["low"] < own["high"] - own["low"]


def test_paired_refuses_different_predictions():
    with pytest.raises(ValueError, match="same test predictions"):
        U.paired(frame([1, 2], [0, 0]), frame([1, 2, 3], [0, 0, 1]), ["recall@20"])
    with pytest.raises(ValueError, match="differ"):
        U.paired(frame([1, 2], [0, 0]), frame([1, 2], [0, 1]), ["recall@20"])


def test_compare_to_best_puts_the_best_first():
    rng = np.random.default_rng(5)
    sessions = np.repeat(np.arange(60), 5)
    base = rng.integers(1, 40, 300)
    results = {"weak": frame(base + 30, sessions), "strong": frame(np.maximum(base - 5, 1), sessions),
               "same": frame(np.maximum(base - 5, 1), sessions)}
    out = U.compare_to_best(results, "mrr@20")
    assert out.index[0] == "strong" and out.loc["strong", "diff"] == 0 and not out.loc["strong", "significant"]
    assert not out.loc["same", "significant"] and out.loc["weak", "significant"] and out.loc["weak", "diff"] < 0


def test_quantile_buckets_hold_enough_sessions():
    rng = np.random.default_rng(6)
    lengths = np.r_[rng.integers(2, 10, 300), [15, 18]]  # two lonely long sessions
    values = np.repeat(lengths, lengths - 1)
    sessions = np.repeat(np.arange(len(lengths)), lengths - 1)
    ranges = U.quantile_buckets(values, sessions, n_buckets=6, min_sessions=20, min_predictions=30)
    assert ranges[0][0] == values.min() and ranges[-1][1] == values.max()
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, no overlap
    for lo, hi in ranges:
        inside = (values >= lo) & (values <= hi)
        assert len(np.unique(sessions[inside])) >= 20 and inside.sum() >= 30
    table = U.bucketed({"m": frame(rng.integers(1, 50, len(values)), sessions).assign(session_length=values)},
                       "session_length", "recall@20", min_sessions=20, min_predictions=30,
                       config=U.BootstrapConfig(n_boot=50))
    assert table["predictions"].sum() == len(values) and (table["sessions"] >= 20).all()


def test_bonferroni_and_holm_corrections_of_a_family_of_p_values():
    from sbrlib.evaluation.uncertainty import corrected

    table = corrected({"a": 0.04, "b": 0.001, "c": 0.012, "d": 0.5})
    assert list(table.index) == ["b", "c", "a", "d"]  # smallest p first
    assert table["raw"].tolist() == [True, True, True, False]
    assert table["bonferroni"].tolist() == [True, True, False, False]  # p < 0.05 / 4 = 0.0125
    # Holm: 0.001 < 0.05/4, 0.012 < 0.05/3, 0.04 >= 0.05/2 stops the steps
    assert table["holm"].tolist() == [True, True, False, False]
    assert table["holm_threshold"].tolist() == pytest.approx([0.0125, 0.05 / 3, 0.025, 0.05])
    assert corrected({}).empty
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        corrected({"x": 1.5})


def test_multiple_comparisons_note_counts_and_names_what_survives():
    from sbrlib.notebook.comparisons import multiple_comparisons_note, paired_p_values

    cmp = pd.DataFrame({"best": ["A", "A", "A"], "p_value": [1.0, 0.001, 0.03]}, index=["A", "B", "C"])
    pairs = [("temporal", "SASRec", "GRU4Rec", {"metric": "recall@20", "p_value": 0.2})]
    p = paired_p_values({"mrr@20": cmp}, pairs=pairs)
    assert p == {"B vs A (mrr@20)": 0.001, "C vs A (mrr@20)": 0.03, "temporal: SASRec vs GRU4Rec (recall@20)": 0.2}
    text, table = multiple_comparisons_note(p)
    assert "made 3 paired comparisons" in text and "1 in 20" in text and "about 0.15 of 3" in text
    assert "2 had a [p-value](../docs/GLOSSARY.md#paired-comparison) p < 0.05 before correction" in text and "1 survive [Bonferroni](" in text
    assert "1 survive [Holm's step-down correction](" in text and "B vs A (mrr@20)." in text
    assert "Not robust to the correction" in text and "C vs A (mrr@20)" in text.split("Not robust")[1]
    assert "smallest p the bootstrap can show" not in text  # no resolution given
    # 3 comparisons: Bonferroni's 0.0167 is above 2/1,000 = 0.002, so the bootstrap can show it: no caveat
    assert "smallest p the bootstrap can show" not in multiple_comparisons_note(p, resolution=0.002)[0]
    coarse, _ = multiple_comparisons_note(p, resolution=0.02)  # 100 replicates: 0.0167 < 0.02
    assert ("[Bonferroni](../docs/GLOSSARY.md#multiple-comparisons)'s threshold (p < 0.05/3 = 0.0167), which is also "
            "the first step of [Holm's step-down correction](../docs/GLOSSARY.md#multiple-comparisons), is below the "
            "smallest p the bootstrap can show (0.020, from its 100 replicates), so this run cannot tell which "
            "comparisons pass either correction") in coarse
    # reader 13, 1.1: no "survive" the bootstrap cannot back; those at its floor are named, the rest suggestive
    assert "survive" not in coarse
    assert "1 had no replicate on the other side of 0 (p below 0.020" in coarse and "B vs A (mrr@20). More" in coarse
    assert "More replicates (`N_BOOT` above 120) would decide" in coarse
    assert "The others with p < 0.05 (read them as suggestive only): C vs A (mrr@20)." in coarse
    assert int(table["holm"].sum()) == 1
    assert multiple_comparisons_note({})[0].startswith("No paired comparisons")
