"""Deterministic synthetic ratings in the exact MovieLens file formats.

The data imitate what matters for session-based recommendation on MovieLens:

* long-tailed (Zipf) item popularity and long-tailed user activity (``min_user_events``
  ratings or more drawn per user, as in MovieLens; a repeated user-item pair is dropped, so a
  few users end slightly below);
* bursty per-user timestamps: sessions of many ratings a few seconds apart, with
  many exact ties (several ratings in the same second), separated by days;
* planted sequential structure: each item has ``n_successors`` fixed successors;
  with probability ``p_follow`` the next item is one of them, otherwise it is drawn
  by popularity. A sequence model can therefore beat popularity, and item-kNN /
  Markov baselines can find the structure too.

Presets: ``ml-1m`` (ML-1M size, ``::`` files), ``tiny`` (tests, ``::`` files) and ``ml-25m``
(ML-25M size, half-star ratings, ``ratings.csv``/``movies.csv`` as in MovieLens 20M and later).
Large presets are generated in blocks of users (memory-bounded, vectorized inside a block) and
written in chunks to a temporary folder that is renamed into place.

Every file it writes is labelled synthetic (titles, ``README``, ``SYNTHETIC`` marker).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, RATING, TIME, USER
from sbrlib.core.fileio import atomic_dir

log = logging.getLogger(__name__)

ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
#: Genres of MovieLens 20M and later (``(no genres listed)`` is a genre value there too).
ML20M_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
#: Approximate ML-1M rating distribution for ratings 1..5.
RATING_PROBS = (0.056, 0.108, 0.261, 0.349, 0.226)
#: Half-star values 0.5..5.0 and their approximate shares in ML-25M.
HALF_STARS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
HALF_STAR_PROBS = (0.016, 0.031, 0.016, 0.066, 0.050, 0.196, 0.127, 0.266, 0.088, 0.144)

CSV_RATINGS_HEADER = "userId,movieId,rating,timestamp"
CSV_MOVIES_HEADER = ("movieId", "title", "genres")


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the generator (defaults: the ML-1M size).

    Attributes:
        n_users: number of users.
        n_items: number of distinct rated items.
        n_movies: rows of the movies file (>= n_items; some movies are never rated).
        n_ratings: number of ratings (approximate unless ``exact_count``).
        min_user_events: minimum ratings drawn per user (before repeated pairs are dropped).
        popularity_exponent: Zipf exponent of item popularity.
        popularity_offset: Zipf-Mandelbrot offset: weight of the item of rank r is
            ``(r + offset) ** -exponent`` (a flatter head, as in large MovieLens releases).
        p_follow: probability that the next item is a planted successor of the current one.
        n_successors: planted successors per item.
        mean_session_length: mean ratings per burst (session).
        tie_prob: probability that a rating shares the previous one's timestamp.
        mean_gap_seconds: mean gap between ratings within a session (when not tied).
        mean_session_gap_days: mean gap between a user's sessions.
        start_time: earliest timestamp (Unix seconds; default 2000-04-25).
        span_days: length of the period covered.
        arrival_beta: Beta(a, b) parameters of when users start within the period
            (``(1, 6)``: most users early, as in ML-1M).
        rating_values: the possible ratings; all integers give an int8 ``Rating``, half stars
            a float32 one.
        rating_probs: probability of each value of ``rating_values``.
        file_format: ``"dat"`` (ML-1M: ``ratings.dat``, ``movies.dat``, ``users.dat``, ``::``)
            or ``"csv"`` (ML-20M and later: ``ratings.csv``, ``movies.csv`` with headers).
        block_users: generate users in blocks of this size (bounded memory; each block has its
            own random stream); None: one block with the seed's stream (the ML-1M preset).
        exact_count: generate slightly more and drop random ratings beyond each user's first
            ``min_user_events`` so that exactly ``n_ratings`` remain.
        seed: random seed; equal seeds give byte-identical files.
    """

    n_users: int = 6_040
    n_items: int = 3_706
    n_movies: int = 3_883
    n_ratings: int = 1_000_209
    min_user_events: int = 20
    popularity_exponent: float = 0.9
    popularity_offset: float = 0.0
    p_follow: float = 0.5
    n_successors: int = 3
    mean_session_length: float = 30.0
    tie_prob: float = 0.45
    mean_gap_seconds: float = 40.0
    mean_session_gap_days: float = 20.0
    start_time: int = 956_703_932
    span_days: float = 1_038.0
    arrival_beta: tuple[float, float] = (1.0, 6.0)
    rating_values: tuple[float, ...] = (1, 2, 3, 4, 5)
    rating_probs: tuple[float, ...] = RATING_PROBS
    file_format: str = "dat"
    block_users: int | None = None
    exact_count: bool = False
    seed: int = 42

    def __post_init__(self) -> None:
        if list(self.rating_values) != sorted(self.rating_values):
            raise ValueError("rating_values must be increasing")
        if self.file_format not in ("dat", "csv"):
            raise ValueError(f"file_format must be 'dat' or 'csv', got {self.file_format!r}")
        if len(self.rating_values) != len(self.rating_probs):
            raise ValueError("rating_values and rating_probs must have the same length")
        if self.n_movies < self.n_items:
            raise ValueError("n_movies must be >= n_items")

    @property
    def half_stars(self) -> bool:
        """True when some rating value is not an integer."""
        return any(float(v) != int(v) for v in self.rating_values)


PRESETS: dict[str, SyntheticConfig] = {
    "ml-1m": SyntheticConfig(),
    "tiny": SyntheticConfig(
        n_users=40, n_items=60, n_movies=70, n_ratings=1_600, min_user_events=10,
        mean_session_length=8.0, p_follow=0.7, n_successors=2,
    ),
    # ML-25M size: 162,541 users, 59,047 rated of 62,423 movies, 25,000,095 half-star ratings,
    # 1995-01-09 .. 2019-11-21.
    "ml-25m": SyntheticConfig(
        n_users=162_541, n_items=59_047, n_movies=62_423, n_ratings=25_000_095,
        popularity_exponent=2.0, popularity_offset=300.0, start_time=789_652_009, span_days=9_082.0,
        arrival_beta=(1.2, 1.5), rating_values=HALF_STARS, rating_probs=HALF_STAR_PROBS,
        file_format="csv", block_users=16_384, exact_count=True,
    ),
}


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _World:
    """What all users share: rated item ids, popularity cdf, planted successors, user lengths."""

    rated: np.ndarray
    cdf: np.ndarray
    successors: np.ndarray
    lengths: np.ndarray


def _world(cfg: SyntheticConfig, oversample: float, rng: np.random.Generator) -> _World:
    movie_ids = _movie_ids(cfg)
    rated = rng.permutation(movie_ids)[: cfg.n_items]
    weights = 1.0 / (np.arange(1, cfg.n_items + 1) + cfg.popularity_offset) ** cfg.popularity_exponent
    weights = rng.permutation(weights)
    cdf = np.cumsum(weights / weights.sum())
    successors = np.searchsorted(cdf, rng.random((cfg.n_items, cfg.n_successors)) ** 1.5 * cdf[-1])
    successors = np.minimum(successors, cfg.n_items - 1)
    # user activity: long tail above the minimum, scaled to the target total
    raw = rng.lognormal(mean=0.0, sigma=1.1, size=cfg.n_users)
    extra_total = cfg.n_ratings * oversample - cfg.min_user_events * cfg.n_users
    lengths = cfg.min_user_events + np.floor(raw / raw.sum() * max(extra_total, 0)).astype(np.int64)
    return _World(rated, cdf, successors, lengths)


def _block(cfg: SyntheticConfig, world: _World, lo: int, hi: int, rng: np.random.Generator) -> pd.DataFrame:
    """Ratings of users ``lo+1 .. hi`` (sorted by user then time), drawn from ``rng``."""
    lengths = world.lengths[lo:hi]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    n_items = cfg.n_items

    pop_draw = np.minimum(np.searchsorted(world.cdf, rng.random(total)), n_items - 1)
    follow = rng.random(total) < cfg.p_follow
    succ_pick = rng.integers(0, cfg.n_successors, size=total)
    items = pop_draw.copy()
    # walk all users in parallel, one position at a time (vectorized over users)
    order = np.argsort(-lengths, kind="stable")
    steps = np.arange(1, int(lengths.max()))
    n_active = np.searchsorted(-lengths[order], -steps, side="left")  # users longer than t
    for t, k in zip(steps.tolist(), n_active.tolist()):
        idx = starts[order[:k]] + t
        f = follow[idx]
        idx_f = idx[f]
        items[idx_f] = world.successors[items[idx_f - 1], succ_pick[idx_f]]

    users = np.repeat(np.arange(lo + 1, hi + 1, dtype=np.int32), lengths)
    item_ids = world.rated[items].astype(np.int32)
    # keep the first rating of each repeated user-item pair
    _, first_seen = np.unique(users.astype(np.int64) * (int(item_ids.max()) + 1) + item_ids, return_index=True)
    keep = np.zeros(total, dtype=bool)
    keep[first_seen] = True
    frame = pd.DataFrame({USER: users[keep], ITEM: item_ids[keep]})

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
    offset_frac = rng.beta(*cfg.arrival_beta, hi - lo)
    user_start = cfg.start_time + (offset_frac * np.maximum(span - user_span, 0)).astype(np.int64)
    cums = np.cumsum(gaps)
    base = np.repeat(cums[first] - gaps[first], np.diff(np.r_[np.flatnonzero(first), n]))
    user_pos = frame[USER].to_numpy() - (lo + 1)
    times = user_start[user_pos] + (cums - base)
    values = np.asarray(cfg.rating_values, dtype=np.float32 if cfg.half_stars else np.int8)
    frame[RATING] = values[rng.choice(len(values), size=n, p=cfg.rating_probs)]
    frame[TIME] = times.astype(np.int64)
    return frame[[USER, ITEM, RATING, TIME]]


def _bounds(cfg: SyntheticConfig) -> list[tuple[int, int]]:
    step = cfg.block_users or cfg.n_users
    return [(lo, min(lo + step, cfg.n_users)) for lo in range(0, cfg.n_users, step)]


def _blocks(cfg: SyntheticConfig, oversample: float, only: list[int] | None = None) -> tuple[list[pd.DataFrame], _World]:
    """Generate the blocks (all, or those numbered in ``only``) for one oversampling factor."""
    rng = np.random.default_rng(cfg.seed)
    world = _world(cfg, oversample, rng)
    bounds = _bounds(cfg)
    if len(bounds) == 1:  # one block continues the seed's stream (keeps the ML-1M preset's bytes)
        return [_block(cfg, world, 0, cfg.n_users, rng)], world
    picked = range(len(bounds)) if only is None else only
    return [_block(cfg, world, *bounds[k], np.random.default_rng((cfg.seed, k))) for k in picked], world


def _calibrated(cfg: SyntheticConfig) -> list[pd.DataFrame]:
    """Blocks whose total is close to ``n_ratings`` (exactly, with ``exact_count``).

    Repeated user-item pairs are removed after drawing, so more must be drawn than kept: the
    factor is found on the whole data (one block) or on a sample of blocks (several).
    """
    oversample = 1.0
    n_blocks = len(_bounds(cfg))
    if n_blocks == 1:
        blocks, _ = _blocks(cfg, oversample)
        for _ in range(3):
            total = len(blocks[0])
            if abs(total / cfg.n_ratings - 1) <= 0.005:
                break
            oversample *= cfg.n_ratings / total
            blocks, _ = _blocks(cfg, oversample)
    else:
        sample = [0, n_blocks // 2]
        tried: list[tuple[float, float]] = []
        for _ in range(5):  # secant steps on the predicted total
            part, world = _blocks(cfg, oversample, only=sample)
            drawn = sum(int(world.lengths[slice(*_bounds(cfg)[k])].sum()) for k in sample)
            predicted = sum(len(b) for b in part) / drawn * world.lengths.sum()
            tried.append((oversample, predicted))
            if abs(predicted / cfg.n_ratings - 1) <= 0.002:
                break
            if len(tried) == 1:
                oversample *= cfg.n_ratings / predicted
            else:
                (o0, p0), (o1, p1) = tried[-2:]
                oversample = o1 + (cfg.n_ratings - p1) * (o1 - o0) / (p1 - p0)
        blocks, _ = _blocks(cfg, oversample * (1.004 if cfg.exact_count else 1.0))
    if not cfg.exact_count:
        return blocks
    for _ in range(3):
        total = sum(len(b) for b in blocks)
        if total >= cfg.n_ratings:
            return _trim(cfg, blocks, total - cfg.n_ratings)
        oversample *= cfg.n_ratings / total * 1.004
        blocks, _ = _blocks(cfg, oversample)
    raise RuntimeError("synthetic generator could not reach n_ratings; raise n_items or lower n_ratings")


def _trim(cfg: SyntheticConfig, blocks: list[pd.DataFrame], excess: int) -> list[pd.DataFrame]:
    """Drop ``excess`` random ratings beyond each user's first ``min_user_events``."""
    if excess == 0:
        return blocks
    positions = []
    for block in blocks:
        users = block[USER].to_numpy()
        first = np.r_[True, users[1:] != users[:-1]]
        starts = np.flatnonzero(first)
        pos = np.arange(len(users)) - np.repeat(starts, np.diff(np.r_[starts, len(users)]))
        positions.append(np.flatnonzero(pos >= cfg.min_user_events))
    offsets = np.cumsum([0] + [len(p) for p in positions])
    if excess > offsets[-1]:
        raise RuntimeError("cannot trim: too few ratings beyond min_user_events")
    rng = np.random.default_rng((cfg.seed, 1 << 20))
    drop = np.sort(rng.choice(offsets[-1], size=excess, replace=False))
    out = []
    for k, block in enumerate(blocks):
        mine = drop[(drop >= offsets[k]) & (drop < offsets[k + 1])] - offsets[k]
        keep = np.ones(len(block), dtype=bool)
        keep[positions[k][mine]] = False
        out.append(block[keep].reset_index(drop=True))
    return out


def generate(config: SyntheticConfig = SyntheticConfig()) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate ratings, movies and users frames (all in memory; large presets: see write_dataset).

    Returns:
        ``(ratings, movies, users)``; ratings ``UserId, ItemId, Rating, Time`` sorted by
        user then time (as the MovieLens files), movies ``ItemId, Title, Genres`` (genres
        ``|``-joined), users ``UserId, Gender, Age, Occupation, Zip``.
    """
    blocks = _calibrated(config)
    ratings = blocks[0] if len(blocks) == 1 else pd.concat(blocks, ignore_index=True)
    return ratings, _movies(config), _users(config)


def _movie_ids(cfg: SyntheticConfig) -> np.ndarray:
    rng = np.random.default_rng(cfg.seed + 1)
    pool = np.arange(1, int(cfg.n_movies * 1.02) + 2)
    return np.sort(rng.choice(pool, size=cfg.n_movies, replace=False)).astype(np.int32)


def _movies(cfg: SyntheticConfig) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed + 2)
    ids = _movie_ids(cfg)
    years = rng.integers(1919, 2001, size=len(ids))
    n_genres = rng.integers(1, 4, size=len(ids))
    if cfg.file_format == "dat":
        genres = ["|".join(sorted(rng.choice(ML1M_GENRES, size=k, replace=False))) for k in n_genres]
        titles = [f"Synthetic Movie {i} ({y})" for i, y in zip(ids, years)]
    else:  # as ML-20M+: some titles hold commas (quoted in the CSV), some movies have no genre
        genres = ["|".join(sorted(rng.choice(ML20M_GENRES, size=k, replace=False))) for k in n_genres]
        genres = [g if i % 97 else "(no genres listed)" for i, g in zip(ids, genres)]
        titles = [f"Synthetic Movie {i}, The ({y})" if i % 7 == 0 else f"Synthetic Movie {i} ({y})"
                  for i, y in zip(ids, years)]
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


# --------------------------------------------------------------------------- writing


def write_dataset(folder: str | Path, preset: str = "ml-1m", **overrides) -> Path:
    """Write the files of a preset into ``folder`` (replaced atomically).

    ``dat`` presets write ``ratings.dat``, ``movies.dat``, ``users.dat`` (ML-1M format); ``csv``
    presets write ``ratings.csv`` and ``movies.csv`` (ML-20M/25M/32M format, no users file).

    Args:
        folder: destination; replaced atomically.
        preset: ``"ml-1m"`` (ML-1M size), ``"tiny"`` (for tests) or ``"ml-25m"`` (ML-25M size).
        **overrides: fields of :class:`SyntheticConfig` to change.

    Returns:
        The folder.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(PRESETS[preset], **overrides)
    log.info("generating synthetic data (preset %s) in %s", preset, folder)
    blocks = _calibrated(cfg)
    movies = _movies(cfg)
    n_ratings = sum(len(b) for b in blocks)
    n_items = len(np.unique(np.concatenate([b[ITEM].to_numpy() for b in blocks])))
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        if cfg.file_format == "dat":
            with open(tmp / "ratings.dat", "wb") as out:
                for block in blocks:
                    out.write(_sep_text(block).encode("ascii"))
            (tmp / "movies.dat").write_bytes(_sep_text(movies).encode("latin-1"))
            (tmp / "users.dat").write_bytes(_sep_text(_users(cfg)).encode("ascii"))
        else:
            with open(tmp / "ratings.csv", "wb") as out:
                out.write(f"{CSV_RATINGS_HEADER}\n".encode())
                for block in blocks:
                    out.write(_csv_ratings(block, cfg))
            _write_movies_csv(tmp / "movies.csv", movies)
        (tmp / "SYNTHETIC").write_text(f"preset={preset}\n")
        fmt = "MovieLens 1M (::)" if cfg.file_format == "dat" else "MovieLens 20M/25M/32M (CSV)"
        (tmp / "README").write_text(
            "SYNTHETIC DATA generated by sbrlib.data.synthetic - not MovieLens.\n"
            f"Same file format as {fmt}. Configuration: {asdict(cfg)}\n"
            f"{n_ratings:,} ratings, {cfg.n_users:,} users, {n_items:,} items.\n"
        )
    return folder


def _sep_text(frame: pd.DataFrame) -> str:
    text = frame.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    return text.replace("\t", "::")


def _csv_ratings(block: pd.DataFrame, cfg: SyntheticConfig) -> bytes:
    """CSV lines ``user,item,rating,time`` (ratings as the release writes them: ``4.0``, ``3.5``)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    values = np.asarray(cfg.rating_values, dtype=np.float64)
    labels = [f"{v:.1f}" if cfg.half_stars else f"{int(v)}" for v in values]
    codes = np.searchsorted(values, block[RATING].to_numpy().astype(np.float64)).astype(np.int8)
    table = pa.table({
        "u": block[USER].to_numpy(), "i": block[ITEM].to_numpy(),
        "r": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels)),
        "t": block[TIME].to_numpy(),
    })
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def _write_movies_csv(path: Path, movies: pd.DataFrame) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_MOVIES_HEADER)
        writer.writerows(movies[[ITEM, "Title", "Genres"]].itertuples(index=False, name=None))
