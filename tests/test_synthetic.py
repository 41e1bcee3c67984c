"""The synthetic generator: format, determinism, planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sbrlib.core.columns import ITEM, TIME, USER
from sbrlib.data import load_movies, load_ratings, synthetic


def test_tiny_preset_loads_in_ml1m_format(tiny_dir):
    ratings = load_ratings("synthetic-tiny", tiny_dir)
    cfg = synthetic.PRESETS["tiny"]
    assert ratings[USER].nunique() == cfg.n_users
    assert ratings[ITEM].nunique() <= cfg.n_items
    assert not ratings.duplicated([USER, ITEM]).any()
    assert (ratings.groupby(USER).size() >= 1).all()
    movies = load_movies("synthetic-tiny", tiny_dir)
    assert movies["Title"].str.startswith("Synthetic Movie").all()
    assert (tiny_dir / "SYNTHETIC").is_file()
    assert "SYNTHETIC" in (tiny_dir / "README").read_text()


def test_deterministic(tmp_path):
    a = synthetic.write_dataset(tmp_path / "a", preset="tiny")
    b = synthetic.write_dataset(tmp_path / "b", preset="tiny")
    for name in ("ratings.dat", "movies.dat", "users.dat"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    c = synthetic.write_dataset(tmp_path / "c", preset="tiny", seed=7)
    assert (a / "ratings.dat").read_bytes() != (c / "ratings.dat").read_bytes()


def test_bursty_times_with_ties_and_long_tail():
    ratings, _, _ = synthetic.generate(synthetic.SyntheticConfig(n_users=300, n_items=400, n_movies=420,
                                                                 n_ratings=30_000))
    ordered = ratings.sort_values([USER, TIME], kind="stable")
    same_user = ordered[USER].to_numpy()[1:] == ordered[USER].to_numpy()[:-1]
    gaps = np.diff(ordered[TIME].to_numpy())[same_user]
    assert 0.2 < (gaps == 0).mean() < 0.7  # many ties
    assert (gaps > 86_400).mean() > 0.005  # sessions far apart
    counts = ratings.groupby(ITEM).size().sort_values(ascending=False).to_numpy()
    assert counts[: len(counts) // 10].sum() > 0.3 * counts.sum()  # long tail


def _top3_share(users: np.ndarray, items: np.ndarray) -> float:
    same = users[1:] == users[:-1]
    df = pd.DataFrame({"a": items[:-1][same], "b": items[1:][same]})
    top = df.groupby(["a", "b"]).size().groupby(level=0).apply(lambda s: s.nlargest(3).sum() / s.sum())
    return float(top.mean())


def test_planted_successors_make_transitions_predictable():
    cfg = synthetic.SyntheticConfig(n_users=300, n_items=200, n_movies=210, n_ratings=30_000, p_follow=0.6)
    ratings, _, _ = synthetic.generate(cfg)
    users, items = ratings[USER].to_numpy(), ratings[ITEM].to_numpy()
    shuffled = ratings.sample(frac=1.0, random_state=0).sort_values(USER, kind="stable")[ITEM].to_numpy()
    # the 3 most frequent successors of an item explain far more transitions than in shuffled order
    assert _top3_share(users, items) > 1.5 * _top3_share(users, shuffled)


SMALL_CSV = dict(n_users=300, n_items=250, n_movies=280, n_ratings=20_000, block_users=64)


def test_csv_preset_in_ml25m_format_exact_count(tmp_path):
    folder = synthetic.write_dataset(tmp_path / "synthetic-25m", preset="ml-25m", **SMALL_CSV)
    assert sorted(p.name for p in folder.iterdir()) == ["README", "SYNTHETIC", "movies.csv", "ratings.csv"]
    lines = (folder / "ratings.csv").read_text().splitlines()
    assert lines[0] == "userId,movieId,rating,timestamp"
    assert all(line.split(",")[2] in {f"{v:.1f}" for v in synthetic.HALF_STARS} for line in lines[1:200])
    ratings = load_ratings("synthetic-25m", folder)
    assert len(ratings) == SMALL_CSV["n_ratings"]  # exact_count
    assert ratings[USER].nunique() == SMALL_CSV["n_users"]
    # min_user_events are drawn per user; a repeated user-item pair drawn among them is removed
    assert (ratings.groupby(USER).size() >= synthetic.PRESETS["ml-25m"].min_user_events).mean() > 0.9
    assert not ratings.duplicated([USER, ITEM]).any()
    assert set(ratings["Rating"].unique()) <= set(synthetic.HALF_STARS) and ratings["Rating"].dtype == "float32"
    ordered = ratings.sort_values([USER, TIME], kind="stable")
    assert ordered.index.equals(ratings.index)  # sorted by user then time, as the release
    movies = load_movies("synthetic-25m", folder)
    assert len(movies) == SMALL_CSV["n_movies"]
    assert movies["Title"].str.contains(", The (", regex=False).any()  # quoted titles with commas
    assert movies["Year"].notna().all()


def test_csv_preset_deterministic_and_blocks_independent_of_writing(tmp_path):
    a = synthetic.write_dataset(tmp_path / "a", preset="ml-25m", **SMALL_CSV)
    b = synthetic.write_dataset(tmp_path / "b", preset="ml-25m", **SMALL_CSV)
    assert (a / "ratings.csv").read_bytes() == (b / "ratings.csv").read_bytes()
    ratings, _, _ = synthetic.generate(synthetic.replace(synthetic.PRESETS["ml-25m"], **SMALL_CSV))
    assert len(ratings) == len((a / "ratings.csv").read_text().splitlines()) - 1


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(synthetic, "_write_movies_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        synthetic.write_dataset(tmp_path / "s", preset="ml-25m", **SMALL_CSV)
    assert list(tmp_path.iterdir()) == []


def test_eda_statistics_match_the_preprocessing_definitions(tiny_dir):
    from sbrlib.data import preprocess
    from sbrlib.notebook import eda

    ratings = load_ratings("synthetic-tiny", tiny_dir)
    for gap in (600, 3600):
        expected = preprocess.sessionize(preprocess.order_events(ratings), "gap", gap).groupby("SessionId").size()
        pd.testing.assert_series_equal(eda.session_lengths(ratings, gap), expected, check_names=False)
    by_gap = eda.sessions_by_gap(ratings, (600, 3600)).set_index("gap_s")
    assert by_gap.loc[3600, "sessions"] == len(eda.session_lengths(ratings, 3600))
    summary = eda.summary(ratings)["value"]
    assert summary["distinct timestamps"] == ratings[TIME].nunique()
    months = eda.activity_by_month(ratings)
    assert months.sum() == len(ratings) and months.index.is_monotonic_increasing
    assert str(months.index[0]) == pd.Timestamp(ratings[TIME].min(), unit="s").strftime("%Y-%m")
