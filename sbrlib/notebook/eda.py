"""Descriptive statistics used by the EDA notebook (pure functions on ratings frames).

Vectorized (numpy on the ordered columns), so they stay fast on MovieLens 25M/32M sizes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data.preprocess import order_events


def inter_event_gaps(ratings: pd.DataFrame, tie_break: str = "file") -> np.ndarray:
    """Seconds between consecutive events of the same user, shape (n_events - n_users,)."""
    ordered = order_events(ratings, tie_break)
    users = ordered[USER].to_numpy()
    times = ordered[TIME].to_numpy()
    same = users[1:] == users[:-1]
    return (times[1:] - times[:-1])[same]


def tie_share(ratings: pd.DataFrame) -> float:
    """Share of consecutive same-user events with an identical timestamp."""
    gaps = inter_event_gaps(ratings)
    return float((gaps == 0).mean()) if len(gaps) else 0.0


def sessions_by_gap(ratings: pd.DataFrame, gaps_seconds: tuple[int, ...] = (600, 1800, 3600, 3 * 3600, 86_400),
                    ) -> pd.DataFrame:
    """Session counts and length quantiles for several inactivity thresholds.

    Returns:
        One row per gap: ``gap_s, sessions, singletons_share, len_median, len_mean, len_q90, len_max``.
    """
    ordered = order_events(ratings)
    rows = []
    for gap in gaps_seconds:
        lengths = _gap_session_lengths(ordered, gap)
        rows.append({
            "gap_s": gap, "sessions": len(lengths), "singletons_share": float((lengths == 1).mean()),
            "len_median": float(lengths.median()), "len_mean": float(lengths.mean()),
            "len_q90": float(lengths.quantile(0.9)), "len_max": int(lengths.max()),
        })
    return pd.DataFrame(rows)


def _gap_session_lengths(ordered: pd.DataFrame, gap: int) -> pd.Series:
    """Session lengths of events ordered by (user, time), as ``sessionize(..., "gap", gap)`` cuts them.

    Returns:
        Series of shape (n_sessions,) indexed by SessionId (0.. in event order).
    """
    users, times = ordered[USER].to_numpy(), ordered[TIME].to_numpy()
    n = len(users)
    new = np.ones(n, dtype=bool)
    new[1:] = (users[1:] != users[:-1]) | ((times[1:] - times[:-1]) > gap)
    starts = np.flatnonzero(new)
    return pd.Series(np.diff(np.r_[starts, n]), index=pd.RangeIndex(len(starts), name=SESSION))


def session_lengths(ratings: pd.DataFrame, gap: int) -> pd.Series:
    """Length of each session under an inactivity ``gap`` (seconds), indexed by SessionId."""
    return _gap_session_lengths(order_events(ratings), gap)


def activity_by_month(ratings: pd.DataFrame) -> pd.Series:
    """Number of ratings per calendar month (real timestamps, UTC), indexed by monthly Period."""
    months = ratings[TIME].to_numpy().astype("datetime64[s]").astype("datetime64[M]")
    values, counts = np.unique(months, return_counts=True)
    index = pd.PeriodIndex(values, freq="M", name=TIME)
    return pd.Series(counts, index=index, name="count")


def counts_per(ratings: pd.DataFrame, column: str) -> pd.Series:
    """Events per value of ``column`` (``UserId`` or ``ItemId``), descending."""
    return ratings.groupby(column).size().sort_values(ascending=False, kind="stable")


def _n_distinct(values: pd.Series) -> int:
    """Number of distinct values; by sorting for integers (hashing 25M mostly distinct times is ~8x slower)."""
    arr = values.to_numpy()
    if not np.issubdtype(arr.dtype, np.integer):
        return int(values.nunique())
    if len(arr) == 0:
        return 0
    ordered = np.sort(arr)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1]) + 1)


def summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """Events, users, items, density, time span and tie share, as a one-column table."""
    n_u, n_i = ratings[USER].nunique(), ratings[ITEM].nunique()
    first = pd.to_datetime(ratings[TIME].min(), unit="s")
    last = pd.to_datetime(ratings[TIME].max(), unit="s")
    return pd.DataFrame({"value": {
        "ratings": len(ratings), "users": n_u, "items": n_i,
        "density": len(ratings) / max(n_u * n_i, 1), "first": first, "last": last,
        "distinct timestamps": _n_distinct(ratings[TIME]), "tie share (consecutive)": tie_share(ratings),
    }})


def repeated_ratings(ratings: pd.DataFrame) -> dict[str, int]:
    """How often a user rated the same item more than once.

    Returns:
        ``exact_duplicates``: rows repeating an earlier row's ``(UserId, ItemId, Time)`` (the
        preprocessing drops them, :func:`sbrlib.data.preprocess.drop_duplicates`);
        ``re_rated_pairs``: (user, item) pairs rated at two or more distinct times (near-duplicates:
        a re-rating; kept as events); ``re_rating_events``: their ratings after the first time;
        ``users_re_rating``: users with at least one such pair.
    """
    distinct = ratings[[USER, ITEM, TIME]].drop_duplicates()
    per_pair = distinct.groupby([USER, ITEM], sort=False).size()
    repeated = per_pair[per_pair > 1]
    return {
        "exact_duplicates": len(ratings) - len(distinct),
        "re_rated_pairs": len(repeated),
        "re_rating_events": int((repeated - 1).sum()),
        "users_re_rating": int(repeated.index.get_level_values(USER).nunique()),
    }
