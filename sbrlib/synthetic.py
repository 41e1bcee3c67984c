"""Deterministic synthetic ratings in the exact MovieLens 1M file format.

The data imitate what matters for session-based recommendation on ML-1M:

* long-tailed (Zipf) item popularity and long-tailed user activity (at least
  ``min_user_events`` ratings per user, as in ML-1M);
* bursty per-user timestamps: sessions of many ratings a few seconds apart, with
  many exact ties (several ratings in the same second), separated by days;
* planted sequential structure: each item has ``n_successors`` fixed successors;
  with probability ``p_follow`` the next item is one of them, otherwise it is drawn
  by popularity. A sequence model can therefore beat popularity, and item-kNN /
  Markov baselines can find the structure too.

Every file it writes is labelled synthetic (titles, ``README``, ``SYNTHETIC`` marker).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib.columns import ITEM, RATING, TIME, USER
from sbrlib.fileio import atomic_dir

log = logging.getLogger(__name__)

ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
#: Approximate ML-1M rating distribution for ratings 1..5.
RATING_PROBS = (0.056, 0.108, 0.261, 0.349, 0.226)


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the generator (defaults: the ML-1M size).

    Attributes:
        n_users: number of users.
        n_items: number of distinct rated items.
        n_movies: rows of ``movies.dat`` (>= n_items; some movies are never rated).
        n_ratings: approximate number of ratings (after removing repeated user-item pairs).
        min_user_events: minimum ratings per user.
        popularity_exponent: Zipf exponent of item popularity.
        p_follow: probability that the next item is a planted successor of the current one.
        n_successors: planted successors per item.
        mean_session_length: mean ratings per burst (session).
        tie_prob: probability that a rating shares the previous one's timestamp.
        mean_gap_seconds: mean gap between ratings within a session (when not tied).
        mean_session_gap_days: mean gap between a user's sessions.
        start_time: earliest timestamp (Unix seconds; default 2000-04-25).
        span_days: length of the period covered.
        seed: random seed; equal seeds give byte-identical files.
    """

    n_users: int = 6_040
    n_items: int = 3_706
    n_movies: int = 3_883
    n_ratings: int = 1_000_209
    min_user_events: int = 20
    popularity_exponent: float = 0.9
    p_follow: float = 0.5
    n_successors: int = 3
    mean_session_length: float = 30.0
    tie_prob: float = 0.45
    mean_gap_seconds: float = 40.0
    mean_session_gap_days: float = 20.0
    start_time: int = 956_703_932
    span_days: float = 1_038.0
    seed: int = 42


PRESETS: dict[str, SyntheticConfig] = {
    "ml-1m": SyntheticConfig(),
    "tiny": SyntheticConfig(
        n_users=40, n_items=60, n_movies=70, n_ratings=1_600, min_user_events=10,
        mean_session_length=8.0, p_follow=0.7, n_successors=2,
    ),
}


def generate(config: SyntheticConfig = SyntheticConfig()) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate ratings, movies and users frames.

    Returns:
        ``(ratings, movies, users)``; ratings ``UserId, ItemId, Rating, Time`` sorted by
        user then time (as ML-1M's file), movies ``ItemId, Title, Genres`` (genres
        ``|``-joined), users ``UserId, Gender, Age, Occupation, Zip``.
    """
    oversample = 1.0
    ratings = _ratings(config, oversample)
    for _ in range(3):  # calibrate for the repeated user-item pairs removed
        if abs(len(ratings) / config.n_ratings - 1) <= 0.005:
            break
        oversample *= config.n_ratings / len(ratings)
        ratings = _ratings(config, oversample)
    movies, users = _movies(config), _users(config)
    return ratings, movies, users


def _ratings(cfg: SyntheticConfig, oversample: float) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed)
    movie_ids = _movie_ids(cfg)
    rated = rng.permutation(movie_ids)[: cfg.n_items]
    weights = 1.0 / np.arange(1, cfg.n_items + 1) ** cfg.popularity_exponent
    weights = rng.permutation(weights)
    cdf = np.cumsum(weights / weights.sum())
    successors = np.searchsorted(cdf, rng.random((cfg.n_items, cfg.n_successors)) ** 1.5 * cdf[-1])
    successors = np.minimum(successors, cfg.n_items - 1)

    # user activity: long tail above the minimum, scaled to the target total
    raw = rng.lognormal(mean=0.0, sigma=1.1, size=cfg.n_users)
    extra_total = cfg.n_ratings * oversample - cfg.min_user_events * cfg.n_users
    lengths = cfg.min_user_events + np.floor(raw / raw.sum() * max(extra_total, 0)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())

    pop_draw = np.minimum(np.searchsorted(cdf, rng.random(total)), cfg.n_items - 1)
    follow = rng.random(total) < cfg.p_follow
    succ_pick = rng.integers(0, cfg.n_successors, size=total)
    items = pop_draw.copy()
    # walk all users in parallel, one position at a time (vectorized over users)
    order = np.argsort(-lengths, kind="stable")
    sorted_len = lengths[order]
    for t in range(1, int(lengths.max())):
        active = order[: np.searchsorted(-sorted_len, -t, side="left")]
        idx = starts[active] + t
        f = follow[idx]
        idx_f = idx[f]
        items[idx_f] = successors[items[idx_f - 1], succ_pick[idx_f]]

    users = np.repeat(np.arange(1, cfg.n_users + 1, dtype=np.int32), lengths)
    frame = pd.DataFrame({USER: users, ITEM: rated[items].astype(np.int32)})
    frame = frame[~frame.duplicated([USER, ITEM], keep="first")].reset_index(drop=True)

    # bursty timestamps: ties, short in-session gaps, long gaps between sessions
    n = len(frame)
    first = np.r_[True, frame[USER].to_numpy()[1:] != frame[USER].to_numpy()[:-1]]
    new_session = rng.random(n) < 1.0 / cfg.mean_session_length
    gaps = np.where(rng.random(n) < cfg.tie_prob, 0,
                    1 + rng.exponential(cfg.mean_gap_seconds, n).astype(np.int64))
    session_gaps = (7_200 + rng.exponential(cfg.mean_session_gap_days * 86_400, n)).astype(np.int64)
    gaps = np.where(new_session, session_gaps, gaps)
    gaps[first] = 0
    span = int(cfg.span_days * 86_400)
    user_span = np.add.reduceat(gaps, np.flatnonzero(first))
    # most users arrive early (as in ML-1M, where most ratings are from 2000)
    offset_frac = rng.beta(1.0, 6.0, cfg.n_users)
    user_start = cfg.start_time + (offset_frac * np.maximum(span - user_span, 0)).astype(np.int64)
    cums = np.cumsum(gaps)
    base = np.repeat(cums[first] - gaps[first], np.diff(np.r_[np.flatnonzero(first), n]))
    user_pos = frame[USER].to_numpy() - 1
    times = user_start[user_pos] + (cums - base)
    frame[RATING] = (rng.choice(5, size=n, p=RATING_PROBS) + 1).astype(np.int8)
    frame[TIME] = times.astype(np.int64)
    return frame[[USER, ITEM, RATING, TIME]]


def _movie_ids(cfg: SyntheticConfig) -> np.ndarray:
    rng = np.random.default_rng(cfg.seed + 1)
    pool = np.arange(1, int(cfg.n_movies * 1.02) + 2)
    return np.sort(rng.choice(pool, size=cfg.n_movies, replace=False)).astype(np.int32)


def _movies(cfg: SyntheticConfig) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed + 2)
    ids = _movie_ids(cfg)
    years = rng.integers(1919, 2001, size=len(ids))
    n_genres = rng.integers(1, 4, size=len(ids))
    genres = ["|".join(sorted(rng.choice(ML1M_GENRES, size=k, replace=False))) for k in n_genres]
    titles = [f"Synthetic Movie {i} ({y})" for i, y in zip(ids, years)]
    return pd.DataFrame({ITEM: ids, "Title": titles, "Genres": genres})


def _users(cfg: SyntheticConfig) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed + 3)
    n = cfg.n_users
    return pd.DataFrame({
        USER: np.arange(1, n + 1),
        "Gender": rng.choice(["F", "M"], size=n, p=[0.28, 0.72]),
        "Age": rng.choice([1, 18, 25, 35, 45, 50, 56], size=n),
        "Occupation": rng.integers(0, 21, size=n),
        "Zip": [f"{z:05d}" for z in rng.integers(0, 100_000, size=n)],
    })


def write_dataset(folder: str | Path, preset: str = "ml-1m", **overrides) -> Path:
    """Write ``ratings.dat``, ``movies.dat``, ``users.dat`` (ML-1M format) into ``folder``.

    Args:
        folder: destination; replaced atomically.
        preset: ``"ml-1m"`` (ML-1M size) or ``"tiny"`` (for tests).
        **overrides: fields of :class:`SyntheticConfig` to change.

    Returns:
        The folder.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(PRESETS[preset], **overrides)
    log.info("generating synthetic data (preset %s) in %s", preset, folder)
    ratings, movies, users = generate(cfg)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        _write_sep(tmp / "ratings.dat", ratings, encoding="ascii")
        _write_sep(tmp / "movies.dat", movies, encoding="latin-1")
        _write_sep(tmp / "users.dat", users, encoding="ascii")
        (tmp / "SYNTHETIC").write_text(f"preset={preset}\n")
        (tmp / "README").write_text(
            "SYNTHETIC DATA generated by sbrlib.synthetic - not MovieLens.\n"
            f"Same file format as MovieLens 1M. Configuration: {asdict(cfg)}\n"
            f"{len(ratings):,} ratings, {ratings[USER].nunique():,} users, "
            f"{ratings[ITEM].nunique():,} items.\n"
        )
    return folder


def _write_sep(path: Path, frame: pd.DataFrame, encoding: str) -> None:
    text = frame.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    path.write_bytes(text.replace("\t", "::").encode(encoding))
