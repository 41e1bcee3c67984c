"""The synthetic generator: format, determinism, planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sbrlib import datasets, synthetic
from sbrlib.columns import ITEM, TIME, USER


def test_tiny_preset_loads_in_ml1m_format(tiny_dir):
    ratings = datasets.load_ratings("synthetic-tiny", tiny_dir)
    cfg = synthetic.PRESETS["tiny"]
    assert ratings[USER].nunique() == cfg.n_users
    assert ratings[ITEM].nunique() <= cfg.n_items
    assert not ratings.duplicated([USER, ITEM]).any()
    assert (ratings.groupby(USER).size() >= 1).all()
    movies = datasets.load_movies("synthetic-tiny", tiny_dir)
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
