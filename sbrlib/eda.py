"""Descriptive statistics used by the EDA notebook (pure functions on ratings frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.preprocess import order_events, sessionize


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
        lengths = sessionize(ordered, "gap", gap).groupby(SESSION).size()
        rows.append({
            "gap_s": gap, "sessions": len(lengths), "singletons_share": float((lengths == 1).mean()),
            "len_median": float(lengths.median()), "len_mean": float(lengths.mean()),
            "len_q90": float(lengths.quantile(0.9)), "len_max": int(lengths.max()),
        })
    return pd.DataFrame(rows)


def session_lengths(ratings: pd.DataFrame, gap: int) -> pd.Series:
    """Length of each session under an inactivity ``gap`` (seconds)."""
    return sessionize(order_events(ratings), "gap", gap).groupby(SESSION).size()


def activity_by_month(ratings: pd.DataFrame) -> pd.Series:
    """Number of ratings per calendar month (real timestamps, UTC)."""
    months = pd.to_datetime(ratings[TIME], unit="s").dt.to_period("M")
    return months.value_counts().sort_index()


def counts_per(ratings: pd.DataFrame, column: str) -> pd.Series:
    """Events per value of ``column`` (``UserId`` or ``ItemId``), descending."""
    return ratings.groupby(column).size().sort_values(ascending=False, kind="stable")


def summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """Events, users, items, density, time span and tie share, as a one-column table."""
    n_u, n_i = ratings[USER].nunique(), ratings[ITEM].nunique()
    first = pd.to_datetime(ratings[TIME].min(), unit="s")
    last = pd.to_datetime(ratings[TIME].max(), unit="s")
    return pd.DataFrame({"value": {
        "ratings": len(ratings), "users": n_u, "items": n_i,
        "density": len(ratings) / max(n_u * n_i, 1), "first": first, "last": last,
        "distinct timestamps": ratings[TIME].nunique(), "tie share (consecutive)": tie_share(ratings),
    }})
