"""recommend() for every model, fuzzy title search, and `python -m sbrlib recommend`."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sbrlib import preprocess
from sbrlib import recommend as R
from sbrlib.__main__ import guess_dataset
from sbrlib.__main__ import main as cli_main
from sbrlib.columns import ITEM
from sbrlib.data import load_movies, load_ratings
from sbrlib.models import VSKNN, ItemKNN, Pop, SequentialRules, SessionPop
from sbrlib.titles import TitleIndex, TitleNotFound, find_titles, normalize

ROOT = Path(__file__).resolve().parents[1]
MODEL = "synthetic-tiny-gap-gru4rec"


@pytest.fixture(scope="module")
def split(tiny_dir):
    return preprocess.preprocess(load_ratings("synthetic-tiny", tiny_dir))


@pytest.fixture(scope="module")
def movies(tiny_dir):
    return load_movies("synthetic-tiny", tiny_dir)


@pytest.fixture(scope="module")
def gru(split):
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    config = GRU4RecConfig(layers=(8,), batch_size=8, n_sample=8, epochs=1, steps_per_call=4)
    return GRU4Rec(config).fit(split["train"], progress=False)


@pytest.fixture(scope="module")
def saved(gru, movies, tmp_path_factory):
    """A models folder holding the tiny GRU4Rec, saved with its titles."""
    root = tmp_path_factory.mktemp("models")
    gru.save(root / MODEL, movies=movies)
    return root


@pytest.fixture(scope="module")
def stub(split, tmp_path_factory):
    """A models folder with a model's config and item index but no weights (enough for the errors)."""
    root = tmp_path_factory.mktemp("stub")
    (root / MODEL).mkdir()
    (root / MODEL / "config.json").write_text("{}")
    preprocess.ItemIndex.from_events(split["train"]).to_frame().to_parquet(root / MODEL / "items.parquet")
    return root


def _session(split, n=3):
    return R.random_session_prefix(split["valid"], n, seed=0)


# ----------------------------------------------------------------------------- recommend()


@pytest.mark.parametrize("factory", [SequentialRules, ItemKNN, Pop, SessionPop, VSKNN])
def test_recommend_any_baseline(factory, split, movies):
    model = factory().fit(split["train"])
    session = _session(split)
    recs = R.recommend(model, session, k=5, movies=movies)
    assert list(recs.columns[:4]) == list(R.COLUMNS) and {"Title", "Year", "Genres"} <= set(recs.columns)
    assert len(recs) == 5 and recs.index.tolist() == [1, 2, 3, 4, 5] and recs.index.name == "Rank"
    assert (recs["Source"] == "model").all() and np.isfinite(recs["Score"]).all()
    assert not set(recs[ITEM]) & set(session)  # seen items excluded
    assert recs["Score"].is_monotonic_decreasing
    assert recs["Title"].notna().all() and recs["Genres"].map(lambda g: isinstance(g, str)).all()


def test_recommend_scores_follow_the_models_step(split):
    sr = SequentialRules().fit(split["train"])
    session = _session(split)
    scores = R.session_scores(sr, sr.item_index.to_idx(np.array(session)))
    scores[sr.item_index.to_idx(np.array(session))] = -np.inf
    recs = R.recommend(sr, session, k=3)
    top = np.lexsort((np.arange(len(scores)), -scores))[:3]
    assert recs[ITEM].tolist() == sr.item_index.to_ids(top).tolist()
    assert np.allclose(recs["Score"], scores[top])


def test_ties_are_ordered_by_item_id(split):
    pop = Pop().fit(split["train"])
    recs = R.recommend(pop, [], k=len(pop.item_index))  # popularity fallback: many equal counts
    keys = list(zip(-recs["Popularity"], recs[ITEM]))
    assert keys == sorted(keys)


def test_empty_or_unknown_session_falls_back_to_popularity_with_nan_scores(split):
    sr = SequentialRules().fit(split["train"])
    empty = R.recommend(sr, [], k=4)
    assert (empty["Source"] == "popularity").all() and empty["Score"].isna().all()
    assert empty["Popularity"].is_monotonic_decreasing and empty["Popularity"].iloc[0] == sr.popularity().max()
    with pytest.warns(UserWarning, match="unknown"):
        unknown = R.recommend(sr, [-5, 10**9], k=4)
    assert unknown[ITEM].tolist() == empty[ITEM].tolist() and (unknown["Source"] == "popularity").all()


def test_unknown_ids_are_ignored_with_a_warning(split):
    sr = SequentialRules().fit(split["train"])
    session = _session(split)
    with pytest.warns(UserWarning, match=r"\[-5\]"):
        mixed = R.recommend(sr, [-5, *session], k=5)
    assert mixed[ITEM].tolist() == R.recommend(sr, session, k=5)[ITEM].tolist()
    assert (mixed["Source"] == "model").all()


def test_k_is_capped_and_validated(split):
    sr = SequentialRules().fit(split["train"])
    session = _session(split)
    assert len(R.recommend(sr, session, k=10_000)) == sr.n_items - len(set(session))
    with pytest.raises(ValueError, match="k must be"):
        R.recommend(sr, session, k=0)


@pytest.mark.slow
def test_recommend_gru4rec_matches_its_own_recommend(gru, split):
    session = _session(split)
    ours = R.recommend(gru, session, k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gru.recommend(session, k=5)
    assert ours[ITEM].tolist() == theirs[ITEM].tolist()
    assert np.allclose(ours["Score"].to_numpy(), theirs["Score"].to_numpy(), atol=1e-5)


def test_side_by_side_and_growth(split, movies):
    models = {"SR": SequentialRules().fit(split["train"]), "Pop": Pop().fit(split["train"])}
    session = _session(split)
    table = R.side_by_side(models, session, k=4, movies=movies)
    assert list(table.columns) == ["SR", "Pop"] and len(table) == 4
    assert R.side_by_side(models, [], k=2).columns.tolist() == ["SR (popularity)", "Pop (popularity)"]
    growth = R.as_sequence_grows(models["SR"], session, k=3, movies=movies)
    assert growth.index.tolist() == [1, 2, 3] and np.isnan(growth["new"].iloc[0])
    assert growth["last"].tolist() == movies.set_index(ITEM).loc[session, "Title"].tolist()
    assert (growth["new"].iloc[1:] <= 3).all()


def test_findings_are_built_from_the_lists(split):
    models = {"SR": SequentialRules().fit(split["train"]), "Item-kNN": ItemKNN().fit(split["train"])}
    session = _session(split)
    lists = {n: R.recommend(m, session, 5) for n, m in models.items()}
    growth = {n: R.as_sequence_grows(m, session, 5) for n, m in models.items()}
    share = R.overlap(lists["SR"][ITEM].tolist(), lists["Item-kNN"][ITEM].tolist())
    memory = {n: R.overlap(R.recommend(m, session, 5, False)[ITEM].tolist(),
                           R.recommend(m, session[-1:], 5, False)[ITEM].tolist()) for n, m in models.items()}
    assert memory == {"SR": 1.0, "Item-kNN": 1.0}  # last-item models ignore earlier titles
    popularity = pd.Series(models["SR"].item_index.support, index=models["SR"].item_index.ids)
    text = R.findings_markdown(lists, growth, {"SR / Item-kNN": share}, memory, popularity, synthetic=True)
    assert f"SR / Item-kNN {share:.0%}" in text and "SR 100%" in text and "Synthetic" in text


def test_interactive_frontend_is_false_outside_jupyter():
    assert R.interactive_frontend() is False


# ----------------------------------------------------------------------------- titles

CATALOG = pd.DataFrame({
    ITEM: [1, 2, 3, 4, 5, 6, 7, 8],
    "Title": ["Toy Story (1995)", "Toy Story 2 (1999)", "Heat (1995)", "Usual Suspects, The (1995)",
              "Hamlet (1990)", "Hamlet (1996)", "Seven (Se7en) (1995)", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"],
})


def test_exact_title_wins_and_mentions_longer_titles():
    match = TitleIndex(CATALOG).resolve("toy story")
    assert (match.item_id, match.kind, match.ambiguous) == (1, "exact", False)
    assert match.also == ("Toy Story 2 (1999)",) and "Toy Story 2 (1999)" in match.note


@pytest.mark.parametrize("query, item", [
    ("Toy Story 2", 2), ("HEAT", 3), ("The Usual Suspects", 4), ("usual suspects, the", 4), ("Se7en", 7),
    ("Amelie", 8), ("Hamlet (1990)", 5), ("Toy Stroy", 1), ("usual", 4),
])
def test_title_variants(query, item):
    assert TitleIndex(CATALOG).resolve(query).item_id == item


def test_several_equal_matches_take_the_most_popular_and_say_so():
    popularity = pd.Series({5: 10, 6: 99})
    match = TitleIndex(CATALOG, popularity).resolve("Hamlet")
    assert match.item_id == 6 and match.ambiguous and match.tied == ("Hamlet (1990)",)
    assert "most ratings" in match.note and "Hamlet (1990)" in match.note
    assert TitleIndex(CATALOG).resolve("Hamlet").item_id == 5  # no popularity: lowest id, and says so
    assert "lowest id" in TitleIndex(CATALOG).resolve("Hamlet").note


def test_no_match_lists_close_titles():
    with pytest.raises(TitleNotFound, match="did you mean") as err:
        TitleIndex(CATALOG).resolve("Hamlot 2")
    assert any("Hamlet" in s for s in err.value.suggestions)
    with pytest.raises(TitleNotFound, match="check the spelling"):
        TitleIndex(CATALOG).resolve("qqqqzzzz")
    with pytest.raises(TitleNotFound):
        TitleIndex(CATALOG).resolve("Heat (1972)")  # the year restricts the search


def test_normalize_and_find_titles():
    assert normalize("Usual Suspects, The (1995)") == ("the usual suspects", 1995, [])
    assert normalize("Seven (Se7en) (1995)") == ("seven", 1995, ["se7en"])
    assert [m.item_id for m in find_titles(CATALOG, ["Heat", "Seven"])] == [3, 7]
    with pytest.raises(ValueError, match="empty"):
        TitleIndex(CATALOG).resolve("  ")


# ----------------------------------------------------------------------------- command line


def _cli(capsys, *args):
    code = cli_main(["recommend", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_cli_recommends_for_titles(saved, tiny_dir, movies, capsys):
    first = movies[ITEM].iloc[0]
    title = movies.loc[movies[ITEM] == first, "Title"].iloc[0]
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(saved), "--data-dir", str(tiny_dir),
                          "--k", "3", title.lower())
    assert code == 0, err
    assert out.startswith(f"Session: {title}") and len(out.strip().splitlines()) == 3 + 3  # session, 2 header, 3 rows
    assert "Genres" in out


@pytest.mark.slow
def test_cli_several_matches_take_the_most_rated(saved, tiny_dir, gru, capsys):
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(saved), "--data-dir", str(tiny_dir),
                          "--k", "2", "Synthetic Movie")
    assert code == 0 and err.startswith("note: 'Synthetic Movie' matches") and "most ratings" in err
    top = gru.item_index.ids[np.argmax(gru.item_index.support)]
    assert f"Synthetic Movie {top} (" in out.splitlines()[0]


def test_cli_unknown_model_lists_the_available_ones(stub, capsys):
    code, out, err = _cli(capsys, "--model", "synthetic-tiny-gap-gru4rc", "--models-dir", str(stub), "Heat")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean synthetic-tiny-gap-gru4rec" in err and f"available: {MODEL}" in err


def test_cli_no_models_at_all(tmp_path, capsys):
    code, _, err = _cli(capsys, "--model", "x", "--models-dir", str(tmp_path), "Heat")
    assert code == 2 and "no saved models" in err and err.count("\n") == 1


def test_cli_title_without_match_suggests_close_ones(stub, tiny_dir, capsys):
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(stub), "--data-dir", str(tiny_dir),
                          "Movie Synthetic 5")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: no movie title matches") and "did you mean: Synthetic Movie" in err


def test_cli_rejects_a_bad_k(stub, capsys):
    code, _, err = _cli(capsys, "--model", MODEL, "--models-dir", str(stub), "--k", "0", "x")
    assert code == 2 and "--k must be" in err and err.count("\n") == 1


def test_cli_without_any_titles_says_how_to_get_them(stub, capsys):
    code, _, err = _cli(capsys, "--model", MODEL, "--models-dir", str(stub), "Heat")  # no movies file, no saved titles
    assert code == 2 and "Pass --dataset and --data-dir" in err and err.count("\n") == 1


@pytest.mark.slow
def test_catalog_falls_back_to_the_titles_saved_with_the_model(saved):
    from sbrlib.__main__ import load_catalog

    catalog = load_catalog(saved / MODEL, "synthetic-tiny", None)  # $SBR_PROJECT_DIR has no data/raw
    assert {ITEM, "Title", "Year"} <= set(catalog.columns) and catalog["Year"].notna().all()


def test_models_are_found_in_the_newest_run_first(stub, tmp_path, monkeypatch, capsys):
    import shutil

    from sbrlib.__main__ import model_folder, model_roots

    monkeypatch.setenv("SBR_PROJECT_DIR", str(tmp_path))
    monkeypatch.delenv("SBR_RUN_DIR", raising=False)
    run_models = tmp_path / "outputs" / "runs" / "r1" / "models"
    shutil.copytree(stub / MODEL, run_models / MODEL)
    (tmp_path / "outputs" / "latest").symlink_to(tmp_path / "outputs" / "runs" / "r1")
    (tmp_path / "models" / "other").mkdir(parents=True)
    (tmp_path / "models" / "other" / "config.json").write_text("{}")
    assert model_folder(MODEL, model_roots()).resolve() == (run_models / MODEL).resolve()
    code, _, err = _cli(capsys, "--model", "nope", "Heat")
    assert code == 2 and f"available: other, {MODEL}" in err and "outputs/latest/models" in err


def test_guess_dataset_from_model_name():
    assert guess_dataset("synthetic-tiny-gap-gru4rec") == "synthetic-tiny"
    assert guess_dataset("synthetic-gap-gru4rec") == "synthetic"
    assert guess_dataset("ml-1m-user-gru4rec") == "ml-1m" and guess_dataset("mine") is None


@pytest.mark.slow
def test_python_dash_m_sbrlib_recommend_runs(saved, tiny_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "sbrlib", "recommend", "--model", "nope", "--models-dir", str(saved),
                           "Heat"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: no model 'nope'")
