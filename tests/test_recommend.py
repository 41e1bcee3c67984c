"""recommend() for every model, fuzzy title search, and `python -m sbrlib recommend`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sbrlib import recommend as R
from sbrlib.__main__ import guess_dataset
from sbrlib.__main__ import main as cli_main
from sbrlib.core.columns import ITEM
from sbrlib.data import load_movies, load_ratings, preprocess
from sbrlib.data.item_index import ItemIndex
from sbrlib.data.titles import TitleIndex, TitleNotFound, find_titles, normalize
from sbrlib.models import VSKNN, ItemKNN, Pop, SequentialRules, SessionPop
from sbrlib.notebook import findings

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
    """A models folder with a saved model without weights (no TensorFlow; enough for the errors
    raised before the model is loaded)."""
    from sbrlib.models.neural import write_saved

    root = tmp_path_factory.mktemp("stub")
    write_saved(root / MODEL, family="gru4rec", name="GRU4Rec", config={},
                item_index=ItemIndex.from_events(split["train"]), weights={})
    return root


@pytest.fixture(scope="module")
def untrained(split, movies, tmp_path_factory):
    """A models folder holding an untrained (built, randomly initialized) GRU4Rec with titles: fast."""
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    root = tmp_path_factory.mktemp("untrained")
    model = GRU4Rec(GRU4RecConfig(layers=(4,), batch_size=4, n_sample=2))
    model.build(ItemIndex.from_events(split["train"])).save(root / MODEL, movies=movies)
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


def test_recommend_has_one_schema_for_every_model(split):
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig
    from sbrlib.models.sasrec import SASRec, SASRecConfig

    index = ItemIndex.from_events(split["train"])
    models = {"Pop": Pop().fit(split["train"]), "Item-kNN": ItemKNN().fit(split["train"]),
              "GRU4Rec": GRU4Rec(GRU4RecConfig(layers=(4,), batch_size=4, n_sample=2)).build(index),
              "SASRec": SASRec(SASRecConfig(max_len=4, blocks=1, heads=1, dim=8, jit_compile=False)).build(index)}
    session = _session(split)
    for case in (session, []):
        frames = {name: R.recommend(model, case, k=4) for name, model in models.items()}
        schemas = {name: (list(f.columns), f.dtypes.astype(str).tolist(), f.index.name, len(f))
                   for name, f in frames.items()}
        assert len(set(map(str, schemas.values()))) == 1, schemas
        assert list(frames["SASRec"].columns) == list(R.COLUMNS)
        assert {f["Source"].iloc[0] for f in frames.values()} == {"model" if case else "popularity"}


@pytest.mark.parametrize("bad", [[1.5], ["1"], [True], [float("nan")], [3, 2.25]])
def test_non_integer_ids_are_refused_not_truncated(split, bad):
    sr = SequentialRules().fit(split["train"])
    with pytest.raises(ValueError, match=r"item ids must be whole numbers.*position"):
        R.recommend(sr, bad, k=3)


def test_integral_ids_of_any_type_are_accepted(split):
    sr = SequentialRules().fit(split["train"])
    session = _session(split)
    as_floats = [float(i) for i in session]
    as_numpy = np.array(session, dtype=np.int32)
    expected = R.recommend(sr, session, k=3)[ITEM].tolist()
    assert R.recommend(sr, as_floats, k=3)[ITEM].tolist() == R.recommend(sr, as_numpy, k=3)[ITEM].tolist() == expected


def test_an_empty_result_says_why(split):
    sr = SequentialRules().fit(split["train"])
    everything = sr.item_index.ids.tolist()
    with pytest.warns(UserWarning, match=r"no recommendations: the session holds all \d+ items SR knows.*"
                                         r"exclude_seen=False"):
        recs = R.recommend(sr, everything, k=5)
    assert recs.empty and list(recs.columns) == list(R.COLUMNS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # allowing seen items: a full list and no warning
        assert len(R.recommend(sr, everything, k=5, exclude_seen=False)) == 5


def test_a_model_without_usable_scores_says_so(split):
    class NoScores(SequentialRules):
        def step(self, items, starts, users=None, active=None):
            return np.full((len(items), self.n_items), np.nan)

    model = NoScores().fit(split["train"])
    with pytest.warns(UserWarning, match="no usable"):
        assert R.recommend(model, _session(split), k=3).empty


def test_many_unknown_ids_are_summarized_in_the_warning(split):
    sr = SequentialRules().fit(split["train"])
    with pytest.warns(UserWarning) as caught:
        R.recommend(sr, list(range(10**6, 10**6 + 500)), k=2)
    message = str(caught[0].message)
    assert "ignoring 500 item id(s)" in message and "and 490 more" in message and len(message) < 300


def test_side_by_side_and_growth(split, movies):
    models = {"SR": SequentialRules().fit(split["train"]), "Pop": Pop().fit(split["train"])}
    session = _session(split)
    table = R.side_by_side(models, session, k=4, movies=movies)
    assert list(table.columns) == ["SR", "Pop"] and len(table) == 4
    assert R.side_by_side(models, [], k=2).columns.tolist() == ["SR (popularity)", "Pop (popularity)"]
    growth = R.as_sequence_grows(models["SR"], session, k=3, movies=movies)
    assert growth.index.tolist() == [1, 2, 3] and pd.isna(growth["new"].iloc[0])
    assert str(growth["new"].dtype) == "Int64"  # counts shown as integers, not 1.0, 2.0
    assert growth["last"].tolist() == movies.set_index(ITEM).loc[session, "Title"].tolist()
    assert (growth["new"].iloc[1:] <= 3).all()


def test_findings_are_built_from_the_lists(split):
    models = {"SR": SequentialRules().fit(split["train"]), "Item-kNN": ItemKNN().fit(split["train"])}
    session = _session(split)
    lists = {n: R.recommend(m, session, 5) for n, m in models.items()}
    share = R.overlap(lists["SR"][ITEM].tolist(), lists["Item-kNN"][ITEM].tolist())
    memory = {n: R.overlap(R.recommend(m, session, 5, False)[ITEM].tolist(),
                           R.recommend(m, session[-1:], 5, False)[ITEM].tolist()) for n, m in models.items()}
    assert memory == {"SR": 1.0, "Item-kNN": 1.0}  # last-item models ignore earlier titles
    later = [int(i) for i in lists["SR"][ITEM].iloc[:2]] + [-1]
    found = findings.try_it(session, later, {n: r[ITEM].tolist() for n, r in lists.items()}, [],
                            {"SR / Item-kNN": share}, memory, {"SR": "train", "Item-kNN": "train"},
                            {"SR": "defaults", "Item-kNN": "defaults"}, 5, from_titles=False, synthetic=True)
    text = found.markdown
    assert f"SR / Item-kNN {share:.1%}" in text and "SR 100.0%" in text and "SYNTHETIC" in text
    assert found.numbers["later_hits/SR"] == 2 and found.numbers["later_items"] == 3
    assert "none of them was trained on the demo session" not in text  # fitted on train, which holds valid
    on_tr = findings.try_it(session, later, {n: r[ITEM].tolist() for n, r in lists.items()}, [],
                            {"SR / Item-kNN": share}, memory, {"SR": "train_tr", "Item-kNN": "train_tr"},
                            {"SR": "defaults", "Item-kNN": "defaults"}, 5, from_titles=False).markdown
    # not trained on it, but valid chose parameters and epochs: the text says both
    assert "none of them was trained on the demo session" in on_tr and "did take part in choosing" in on_tr


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


def test_cli_ids_are_movie_ids(untrained, tiny_dir, movies, capsys):
    first, second = movies[ITEM].iloc[0], movies[ITEM].iloc[1]
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--data-dir", str(tiny_dir),
                          "--k", "2", "--ids", str(first), str(second))
    titles = movies.set_index(ITEM)["Title"]
    assert code == 0, err
    assert out.splitlines()[0] == f"Session: {titles[first]} -> {titles[second]}"
    assert len(out.strip().splitlines()) == 1 + 2 + 2


def test_cli_ids_work_without_any_titles(untrained, tmp_path, split, capsys):
    model = Path(shutil.copytree(untrained / MODEL, tmp_path / "m" / "plain"))
    from sbrlib.models.gru4rec import GRU4Rec

    loaded = GRU4Rec.load(model)
    loaded.titles = None
    loaded.save(model)  # the same model without titles
    item = int(split["train"][ITEM].iloc[0])
    code, out, err = _cli(capsys, "--model", "plain", "--models-dir", str(tmp_path / "m"), "--k", "2", "--ids", str(item))
    assert code == 0, err
    assert out.startswith(f"Session: movie id {item}") and len(out.strip().splitlines()) == 1 + 2 + 2
    assert "Title" not in out  # no titles anywhere: ids only


def test_cli_refuses_a_number_as_a_title_and_says_what_it_is_as_an_id(untrained, tiny_dir, movies, capsys):
    first = int(movies[ITEM].iloc[0])
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--data-dir", str(tiny_dir),
                          str(first))
    title = movies.set_index(ITEM)["Title"][first]
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"'{first}' is a number, not a title: pass --ids" in err and f"with --ids, {first} is {title}" in err


@pytest.mark.parametrize("bad", ["1.5", "1e3", "one", "0x10"])
def test_cli_refuses_ids_that_are_not_whole_numbers(untrained, bad, capsys):
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--ids", "1", bad)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"--ids: '{bad}' is not a whole number" in err


def test_cli_unknown_ids_are_noted_and_popularity_fills_in(untrained, tiny_dir, capsys):
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--data-dir", str(tiny_dir),
                          "--k", "2", "--ids", "999999")
    assert code == 0, err
    assert "1 of the session's movies are not in" in err and "movie id 999999" in err
    assert "the most popular movies instead" in out


def test_cli_empty_result_says_why_and_long_sessions_are_summarized(untrained, tiny_dir, split, capsys):
    every = [str(i) for i in np.unique(split["train"][ITEM])]
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--data-dir", str(tiny_dir),
                          "--ids", *every)
    assert code == 0, err
    session, verdict = out.strip().splitlines()
    assert f"... ({len(every) - 6} more) ..." in session and f"[{len(every)} titles]" in session
    assert session.count(" -> ") == 6
    assert verdict.startswith("No recommendations: the session holds all") and "--include-seen" in verdict


def test_cli_notes_about_many_titles_are_summarized(untrained, tiny_dir, movies, capsys):
    queries = ["Synthetic Movie"] * 12  # each matches several titles equally well: one note each
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(untrained), "--data-dir", str(tiny_dir),
                          "--k", "1", "--include-seen", *queries)
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("note: 9 more titles matched several movies")
    assert "[12 titles]" in out.splitlines()[0]


def test_cli_names_a_damaged_model_file(untrained, tiny_dir, movies, tmp_path, capsys):
    root = tmp_path / "models"
    shutil.copytree(untrained / MODEL, root / MODEL)
    weights = root / MODEL / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:100])
    code, out, err = _cli(capsys, "--model", MODEL, "--models-dir", str(root), "--data-dir", str(tiny_dir),
                          "--ids", str(movies[ITEM].iloc[0]))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {weights} is truncated") and "retrain" in err


def test_cli_refuses_a_model_in_the_old_format(untrained, tmp_path, capsys):
    root = tmp_path / "models"
    shutil.copytree(untrained / MODEL, root / MODEL)
    (root / MODEL / "model.json").unlink()
    code, _, err = _cli(capsys, "--model", MODEL, "--models-dir", str(root), "--ids", "1")
    assert code == 2 and "older sbrlib" in err and "retrain" in err and err.count("\n") == 1


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


def test_models_do_not_import_recommend():
    """recommend sits above the models: no model module imports it (models have no recommend method)."""
    import ast

    offenders = []
    for path in sorted((ROOT / "sbrlib" / "models").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n == "sbrlib.recommend" or n.startswith("sbrlib.recommend.")]
    assert offenders == []
    from sbrlib.models.gru4rec import GRU4Rec
    from sbrlib.models.sasrec import SASRec

    assert not hasattr(GRU4Rec, "recommend") and not hasattr(SASRec, "recommend")
