"""Hypothesis strategies shared by the tests (ratings frames, session lists)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER


def ratings_frame(rows) -> pd.DataFrame:
    """A ratings frame with the release dtypes from ``(user, item, rating, time)`` tuples."""
    return pd.DataFrame(rows, columns=[USER, ITEM, RATING, TIME]).astype(
        {USER: "int32", ITEM: "int32", RATING: "int8", TIME: "int64"})


@st.composite
def ratings_frames(draw, max_rows: int = 120, max_user: int = 6, max_item: int = 12, max_tick: int = 40,
                   tick_seconds: int = 900, once_per_item: bool = False) -> pd.DataFrame:
    """Ratings of up to ``max_rows`` rows with coarse times (``max_tick + 1`` distinct values
    ``tick_seconds`` apart), so that equal times are frequent, as in MovieLens.

    Args:
        once_per_item: a user rates an item at most once (MovieLens): later duplicates are dropped.
    """
    n = draw(st.integers(1, max_rows))
    users = draw(st.lists(st.integers(1, max_user), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(1, max_item), min_size=n, max_size=n))
    ratings = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, max_tick).map(lambda x: 1_000_000 + x * tick_seconds), min_size=n,
                          max_size=n))
    df = ratings_frame(list(zip(users, items, ratings, times)))
    return df.drop_duplicates([USER, ITEM]).reset_index(drop=True) if once_per_item else df


@st.composite
def session_lists(draw, max_sessions: int = 30, max_length: int = 9, max_start: int = 5):
    """``(session ids, items, times, lengths)`` of up to ``max_sessions`` sessions; event k has item
    100 + k (so a (current, next) pair identifies events); sessions start at times 0..``max_start``."""
    lengths = draw(st.lists(st.integers(1, max_length), min_size=1, max_size=max_sessions))
    ids = np.repeat(np.arange(len(lengths)) * 10 + 3, lengths)
    items = np.arange(len(ids)) + 100
    start_times = draw(st.lists(st.integers(0, max_start), min_size=len(lengths), max_size=len(lengths)))
    times = np.repeat(start_times, lengths) + np.concatenate([np.arange(n) for n in lengths])
    return ids, items, times, lengths


def rule_sessions(n_sessions: int, n_items: int = 30, seed: int = 0) -> pd.DataFrame:
    """Sessions where item i is always followed by item i+1 (mod n_items)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        start, length = rng.integers(0, n_items), rng.integers(2, 8)
        rows += [(s, s % 50, (start + p) % n_items, 1000 * s + p) for p in range(length)]
    return pd.DataFrame(rows, columns=[SESSION, USER, ITEM, TIME])
