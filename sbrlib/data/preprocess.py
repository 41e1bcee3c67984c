"""From ratings to sessions and honest temporal splits.

Pipeline (:func:`preprocess`): exact duplicates dropped -> rating filter -> deterministic order -> sessionize ->
iterative length/support filters -> temporal split (test) -> same rule inside train
(valid) -> test items restricted to training items -> short sessions dropped.

Every function is pure: it returns a new DataFrame and never mutates its input.
Ordering is by ``(UserId, Time)`` with a stable sort; ties in ``Time`` (frequent in
ratings data) are broken by ``tie_break``: ``"file"`` keeps the source file's order,
``"item"`` orders by ``ItemId``, ``"random"`` shuffles with ``seed`` first.

Exact duplicates (rows with the same ``UserId``, ``ItemId`` and ``Time``) are dropped first by
:func:`drop_duplicates`, keeping the first occurrence in file (row) order: the copies carry no
information a model could use (the same event twice), a session would otherwise ask the model
to predict the item it has just seen, and the first occurrence is the one every tie-break rule
orders first among equal times. The count is warned about and recorded in the split's manifest.
A re-rating (same user and item at another time) is a real event and is kept
(:func:`sbrlib.notebook.eda.re_ratings` reports them).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from sbrlib.core import checks as C
from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.core.errors import DataError, DataWarning
from sbrlib.data.parsing import exact_duplicates

log = logging.getLogger(__name__)

SessionMode = Literal["gap", "user"]
SplitRule = Literal["start", "end"]
TieBreak = Literal["file", "item", "random"]


@dataclass(frozen=True)
class SplitConfig:
    """How to cut test (or valid) sessions off by time.

    Attributes:
        days: sessions after ``max(Time) - days * 86400`` are held out; overrides ``fraction``.
        fraction: otherwise the cutoff is the time quantile that holds out about this
            fraction of sessions.
    """

    days: float | None = None
    fraction: float = 0.1

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "days": C.optional(C.number(gt=0)),
        "fraction": C.number(gt=0, lt=1),
    }

    def __post_init__(self) -> None:
        C.check_config(self)


@dataclass(frozen=True)
class PreprocessConfig:
    """Parameters of the preprocessing protocol (see module docstring).

    Attributes:
        min_rating: keep ratings ``>= min_rating``; None keeps all (the original notebook used 3).
        session_mode: ``"gap"`` (new session after ``session_gap`` seconds of inactivity) or
            ``"user"`` (a user's whole history is one session).
        session_gap: inactivity gap in seconds for ``"gap"`` mode.
        tie_break: order of events with equal ``Time`` (``"file"``, ``"item"``, ``"random"``).
        min_session_length: sessions shorter than this are dropped (after every filter).
        min_item_support: items with fewer events are dropped (iterated with the length filter).
        split_rule: ``"start"`` (sessions starting after the cutoff are held out: no held-out
            event precedes the cutoff) or ``"end"`` (sessions ending after it are held out: no
            training event follows the cutoff). None: ``"start"`` for gap, ``"end"`` for user.
        test: cutoff of the test split.
        valid: cutoff of the validation split inside train.
        seed: seed for ``tie_break="random"``.
    """

    min_rating: int | None = None
    session_mode: SessionMode = "gap"
    session_gap: int = 3_600
    tie_break: TieBreak = "file"
    min_session_length: int = 2
    min_item_support: int = 5
    split_rule: SplitRule | None = None
    test: SplitConfig = field(default_factory=SplitConfig)
    valid: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 0

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "min_rating": C.optional(C.integer(min=1, max=5)),
        "session_mode": C.one_of("gap", "user"),
        "session_gap": C.integer(min=1),
        "tie_break": C.one_of("file", "item", "random"),
        "min_session_length": C.integer(min=2),
        "min_item_support": C.integer(min=1),
        "split_rule": C.optional(C.one_of("start", "end")),
        "test": C.instance_of(SplitConfig),
        "valid": C.instance_of(SplitConfig),
        "seed": C.integer(min=0),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 02's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)

    @property
    def rule(self) -> SplitRule:
        """The effective split rule."""
        return self.split_rule or ("start" if self.session_mode == "gap" else "end")

    def to_dict(self) -> dict:
        """Plain dict (for manifests)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        for key in ("test", "valid"):
            if isinstance(data.get(key), dict):
                data[key] = SplitConfig(**data[key])
        return cls(**data)


def _choice(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _require(df: pd.DataFrame, columns: tuple[str, ...], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; got {list(df.columns)}")


# --------------------------------------------------------------------------- steps


def _rows(df: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    """Rows ``idx`` of ``df`` as a new frame with a fresh RangeIndex.

    Numpy fancy indexing per column: several times faster than ``DataFrame.take`` on tens of
    millions of rows. Extension columns keep their dtype; ``attrs`` are kept.
    """
    if df.columns.has_duplicates:
        return df.take(idx).reset_index(drop=True)
    columns = {}
    for name in df.columns:
        col = df[name]
        columns[name] = col.to_numpy()[idx] if isinstance(col.dtype, np.dtype) else col.array.take(idx)
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(idx)), copy=False)
    out.columns = df.columns
    out.attrs = dict(df.attrs)
    return out


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Dense group codes ``0..n-1`` of ``values`` and ``n``; missing values get code ``n``.

    Non-negative integer ids that are not too sparse (item ids, session numbers) are their own
    codes (no hashing).
    """
    arr = values.to_numpy()
    if len(arr) and np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < max(4 * len(arr), 1 << 20):
            return (arr if arr.dtype.kind == "i" else arr.astype(np.int64)), hi + 1
    codes, uniques = pd.factorize(arr)
    n = len(uniques)
    return np.where(codes < 0, n, codes), n


def _group_counts(codes: np.ndarray, n: int) -> np.ndarray:
    """Rows per code (``n + 1`` entries; the missing-value bucket ``n`` counts 0, as pandas drops it)."""
    counts = np.bincount(codes, minlength=n + 1)
    counts[n] = 0
    return counts


def _stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """Indices sorting rows by ``keys`` (most significant first); ties keep row order.

    Integer keys whose ranges fit in 63 bits together are packed into one int64 and sorted once;
    otherwise one stable sort per key, least significant first. Same order as a stable
    ``DataFrame.sort_values`` on the keys.
    """
    n = len(keys[0])
    if n and all(np.issubdtype(k.dtype, np.integer) for k in keys):
        bounds = [(int(k.min()), (int(k.max()) - int(k.min())).bit_length()) for k in keys]
        if sum(width for _, width in bounds) <= 63:
            packed = np.zeros(n, dtype=np.int64)
            for key, (lo, width) in zip(keys, bounds):
                packed <<= width
                packed |= key.astype(np.int64) - lo
            return np.argsort(packed, kind="stable")
    order = np.arange(n)
    for key in reversed(keys):
        order = order[np.argsort(key[order], kind="stable")]
    return order


def drop_duplicates(df: pd.DataFrame, warn: bool = True) -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate events (same ``UserId``, ``ItemId`` and ``Time``), keeping the first
    occurrence in row (file) order (why: see the module docstring).

    Args:
        df: events with ``UserId``, ``ItemId``, ``Time``.
        warn: emit a :class:`~sbrlib.core.errors.DataWarning` naming the source file
            (``df.attrs["source"]`` when the frame came from :func:`sbrlib.data.load_ratings`) and
            the count when rows are dropped.

    Returns:
        ``(frame, n_dropped)``; the frame is ``df`` itself when nothing is dropped (never mutated),
        else a new frame with a fresh RangeIndex.
    """
    _require(df, (USER, ITEM, TIME), "drop_duplicates")
    for column in (USER, ITEM, TIME):
        missing = df[column].isna().to_numpy()
        if missing.any():
            raise DataError(f"{column} has {int(missing.sum()):,} missing value(s), first in row {int(missing.argmax())} "
                            f"(index {df.index[int(missing.argmax())]!r}) of the ratings frame: every event needs a user, "
                            "an item and a time; drop or fill those rows before preprocessing")
    dup = exact_duplicates(df)
    n = int(dup.sum())
    if not n:
        return df, 0
    if warn:
        where = df.attrs.get("source", "the ratings frame")
        warnings.warn(f"{where}: {n:,} exact duplicate rating(s) (same UserId, ItemId and Time as an earlier row) "
                      "dropped by the preprocessing, keeping the first occurrence in file order; the count is "
                      "recorded in the split's manifest (duplicates_dropped).", DataWarning, stacklevel=3)
    log.info("dropped %d exact duplicate rows", n)
    return _rows(df, np.flatnonzero(~dup)), n


def filter_ratings(df: pd.DataFrame, min_rating: int | None = None) -> pd.DataFrame:
    """Keep ratings ``>= min_rating`` (all when None). Returns a new frame."""
    if min_rating is None:
        return df.copy()
    _require(df, (RATING,), "filter_ratings")
    return _rows(df, np.flatnonzero((df[RATING] >= min_rating).to_numpy()))


def order_events(df: pd.DataFrame, tie_break: TieBreak = "file", seed: int = 0) -> pd.DataFrame:
    """Stable sort by ``(UserId, Time)``; ties broken by ``tie_break`` (see module docstring).

    Returns:
        A new frame with a fresh RangeIndex.
    """
    _require(df, (USER, ITEM, TIME), "order_events")
    _choice("tie_break", tie_break, ("file", "item", "random"))
    out = df.reset_index(drop=True)
    if tie_break == "random":
        out = _rows(out, np.random.default_rng(seed).permutation(len(out)))
    keys = [USER, TIME, ITEM] if tie_break == "item" else [USER, TIME]
    return _rows(out, _stable_order([out[k].to_numpy() for k in keys]))


def sessionize(df: pd.DataFrame, mode: SessionMode = "gap", gap: int = 3_600) -> pd.DataFrame:
    """Add ``SessionId`` to events ordered by :func:`order_events`.

    Args:
        df: events sorted by ``(UserId, Time)``.
        mode: ``"gap"`` starts a new session when the user changes or more than ``gap``
            seconds pass between consecutive events; ``"user"`` makes one session per user.
        gap: inactivity threshold in seconds.

    Returns:
        A new frame with ``SessionId`` (int64, numbered 0.. in event order).
    """
    _require(df, (USER, TIME), "sessionize")
    _choice("mode", mode, ("gap", "user"))
    users = df[USER].to_numpy()
    times = df[TIME].to_numpy()
    if len(df) > 1:
        user_change = users[1:] != users[:-1]
        backwards = (~user_change) & (times[1:] < times[:-1])
        if (users[1:] < users[:-1]).any() or backwards.any():
            raise DataError("sessionize: events are not sorted by (UserId, Time); call order_events first")
    new = np.ones(len(df), dtype=bool)
    if len(df) > 1:
        new[1:] = users[1:] != users[:-1]
        if mode == "gap":
            new[1:] |= (times[1:] - times[:-1]) > gap
    out = df.copy()
    out[SESSION] = np.cumsum(new) - 1
    return out


def filter_sessions(df: pd.DataFrame, min_session_length: int = 2, min_item_support: int = 5) -> pd.DataFrame:
    """Drop rare items and short sessions, repeated until both conditions hold.

    Returns:
        A new frame where every item has ``>= min_item_support`` events and every session
        ``>= min_session_length`` events.
    """
    _require(df, (SESSION, ITEM), "filter_sessions")
    items, n_items = _codes(df[ITEM])
    sessions, n_sessions = _codes(df[SESSION])
    item, session, idx = items, sessions, None  # idx: rows kept so far (None: all)
    while len(item):
        keep = (_group_counts(item, n_items)[item] >= min_item_support) & \
            (_group_counts(session, n_sessions)[session] >= min_session_length)
        if keep.all():
            break
        idx = np.flatnonzero(keep) if idx is None else idx[keep]
        item, session = item[keep], session[keep]
    return df.copy() if idx is None else _rows(df, idx)


def session_times(df: pd.DataFrame) -> pd.DataFrame:
    """Start and end time of each session: columns ``start``, ``end`` indexed by SessionId."""
    grouped = df.groupby(SESSION, sort=True)[TIME]
    return pd.DataFrame({"start": grouped.min(), "end": grouped.max()})


def _session_ref(df: pd.DataFrame, codes: np.ndarray, n: int, rule: SplitRule) -> np.ndarray:
    """Per session code: its first (``rule="start"``) or last (``"end"``) event time.

    Returns ``n + 1`` values; the last one (events without a session) is never after a cutoff.
    """
    times = df[TIME].to_numpy()
    info = np.iinfo(times.dtype) if np.issubdtype(times.dtype, np.integer) else None
    lowest = info.min if info else -np.inf
    if rule == "start":
        ref = np.full(n + 1, info.max if info else np.inf, dtype=times.dtype)
        np.minimum.at(ref, codes, times)
    else:
        ref = np.full(n + 1, lowest, dtype=times.dtype)
        np.maximum.at(ref, codes, times)
    ref[n] = lowest
    return ref


def split_cutoff(df: pd.DataFrame, split: SplitConfig, rule: SplitRule) -> int:
    """The cutoff time (Unix seconds) of ``split`` under ``rule``; sessions whose
    ``rule`` time (start or end) is strictly after it are held out."""
    codes, n = _codes(df[SESSION])
    present = _group_counts(codes, n)[:n] > 0  # codes can be ids with gaps
    times = _session_ref(df, codes, n, rule)[:n][present]
    if len(times) == 0:
        raise DataError("cannot split: no sessions left after filtering; relax the filters")
    if split.days is not None:
        return int(df[TIME].max() - split.days * 86_400)
    return int(np.quantile(times, 1 - split.fraction, method="lower"))


def temporal_split(df: pd.DataFrame, cutoff: int, rule: SplitRule = "start",
                   min_session_length: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split whole sessions by time, then restrict held-out events to training items.

    Args:
        df: sessionized events.
        cutoff: Unix seconds; sessions whose start (``rule="start"``) or end (``"end"``) is
            strictly after it are held out.
        rule: ``"start"`` or ``"end"``.
        min_session_length: held-out sessions shorter than this after the item restriction
            are dropped.

    Returns:
        ``(train, held_out)``, new frames; every held-out item occurs in train.
    """
    _require(df, (SESSION, ITEM, TIME), "temporal_split")
    _choice("rule", rule, ("start", "end"))
    sessions, n_sessions = _codes(df[SESSION])
    held = _session_ref(df, sessions, n_sessions, rule)[sessions] > cutoff
    train_idx, test_idx = np.flatnonzero(~held), np.flatnonzero(held)
    items, n_items = _codes(df[ITEM])
    in_train = np.zeros(n_items + 1, dtype=bool)
    in_train[items[train_idx]] = True
    test_idx = test_idx[in_train[items[test_idx]]]
    session = sessions[test_idx]
    test_idx = test_idx[_group_counts(session, n_sessions)[session] >= min_session_length]
    return _rows(df, train_idx), _rows(df, test_idx)


# --------------------------------------------------------------------------- item index


def stats(df: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """One-row summary: events, users, sessions, items, time range, session-length quantiles."""
    row: dict[str, object] = {"events": len(df)}
    if USER in df:
        row["users"] = df[USER].nunique()
    if SESSION in df:
        row["sessions"] = df[SESSION].nunique()
    row["items"] = df[ITEM].nunique() if ITEM in df else 0
    if TIME in df and len(df):
        row["first"] = pd.to_datetime(df[TIME].min(), unit="s")
        row["last"] = pd.to_datetime(df[TIME].max(), unit="s")
    if SESSION in df and len(df):
        lengths = df.groupby(SESSION, sort=False).size()
        for q in (0.1, 0.5, 0.9, 0.99):
            row[f"len_q{int(q * 100)}"] = float(lengths.quantile(q))
        row["len_mean"] = float(lengths.mean())
        row["len_max"] = int(lengths.max())
    return pd.DataFrame([row], index=pd.Index([name], name="frame"))


# --------------------------------------------------------------------------- pipeline


@dataclass
class Split:
    """The frames of one preprocessed split and their cutoffs.

    Attributes:
        frames: ``train``, ``test``, ``train_tr``, ``valid`` (sessionized events).
        cutoffs: ``test`` and ``valid`` cutoff times (Unix seconds).
        config: the protocol that produced it.
        name: the split's name once saved (``data/processed/<name>``), else None.
        fingerprint: the split's identity once saved (:func:`sbrlib.data.store.split_fingerprint`).
        duplicates_dropped: exact duplicate rows dropped before splitting (:func:`drop_duplicates`);
            None for a split saved before this was recorded.
    """

    frames: dict[str, pd.DataFrame]
    cutoffs: dict[str, int]
    config: PreprocessConfig | LOOConfig
    name: str | None = None
    fingerprint: str | None = None
    duplicates_dropped: int | None = None

    def __getitem__(self, key: str) -> pd.DataFrame:
        return self.frames[key]

    def stats(self) -> pd.DataFrame:
        """:func:`stats` of every frame, one row each."""
        return pd.concat([stats(f, k) for k, f in self.frames.items()])


def sessions_from_ratings(ratings: pd.DataFrame, config: PreprocessConfig = PreprocessConfig()) -> pd.DataFrame:
    """Duplicate drop, rating filter, order, sessionize and iterative filters (no split)."""
    return _sessions(ratings, config)[0]


def _sessions(ratings: pd.DataFrame, config: PreprocessConfig) -> tuple[pd.DataFrame, int]:
    """:func:`sessions_from_ratings` and the number of exact duplicates dropped."""
    _require(ratings, (USER, ITEM, TIME), "preprocess")
    events, n_dup = drop_duplicates(ratings)
    # order_events never mutates its input: the copy filter_ratings makes for None is not needed
    events = events if config.min_rating is None else filter_ratings(events, config.min_rating)
    events = order_events(events, config.tie_break, config.seed)
    events = sessionize(events, config.session_mode, config.session_gap)
    return filter_sessions(events, config.min_session_length, config.min_item_support), n_dup


def preprocess(ratings: pd.DataFrame, config: PreprocessConfig = PreprocessConfig()) -> Split:
    """Run the whole protocol on a ratings frame.

    Returns:
        A :class:`Split` with ``train``/``test`` and, inside train, ``train_tr``/``valid``.
    """
    events, n_dup = _sessions(ratings, config)
    if events.empty:
        raise DataError("no sessions left after filtering; lower min_item_support/min_session_length")
    rule = config.rule
    test_cut = split_cutoff(events, config.test, rule)
    train, test = temporal_split(events, test_cut, rule, config.min_session_length)
    if train.empty or test.empty:
        raise DataError(f"test split at {test_cut} leaves an empty train or test set; change test.days/fraction")
    valid_cut = split_cutoff(train, config.valid, rule)
    train_tr, valid = temporal_split(train, valid_cut, rule, config.min_session_length)
    if train_tr.empty or valid.empty:
        raise DataError(f"valid split at {valid_cut} leaves an empty train_tr or valid set; change valid.days/fraction")
    log.info("split: train %d / test %d events", len(train), len(test))
    return Split({"train": train, "test": test, "train_tr": train_tr, "valid": valid},
                 {"test": test_cut, "valid": valid_cut}, config, duplicates_dropped=n_dup)


# --------------------------------------------------------------------------- leave-one-out


@dataclass(frozen=True)
class LOOConfig:
    """Parameters of the leave-one-out protocol on user histories (:func:`leave_one_out`).

    Attributes:
        min_rating: keep ratings ``>= min_rating``; None keeps all (the usual implicit-feedback view).
        tie_break: order of a user's events with equal ``Time`` (see :func:`order_events`).
        min_user_events: users with fewer events are dropped (at least 3: train, valid and test item).
        min_item_support: items with fewer events are dropped; iterated with ``min_user_events`` to a
            fixpoint (the "5-core" of the SASRec papers with the defaults) before the split.
        seed: seed for ``tie_break="random"``.
    """

    min_rating: int | None = None
    tie_break: TieBreak = "file"
    min_user_events: int = 5
    min_item_support: int = 5
    seed: int = 0

    RULES: ClassVar[Mapping[str, C.Check]] = {
        "min_rating": C.optional(C.integer(min=1, max=5)),
        "tie_break": C.one_of("file", "item", "random"),
        "min_user_events": C.integer(min=3),  # one training, one validation and one test item
        "min_item_support": C.integer(min=1),
        "seed": C.integer(min=0),
    }
    """What each field may be (checked in ``__post_init__``; reused by notebook 07's parameter checks)."""

    def __post_init__(self) -> None:
        C.check_config(self)

    @property
    def session_mode(self) -> str:
        """Sessions are whole user histories (for code that names splits by mode)."""
        return "loo"

    def to_dict(self) -> dict:
        """Plain dict (for manifests), with ``protocol: "leave-one-out"``."""
        return {"protocol": "leave-one-out", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> LOOConfig:
        """Inverse of :meth:`to_dict`."""
        data = {k: v for k, v in data.items() if k != "protocol"}
        return cls(**data)


def leave_one_out(ratings: pd.DataFrame, config: LOOConfig = LOOConfig()) -> Split:
    """The leave-one-out protocol on user histories (as in the SASRec/BERT4Rec literature).

    Exact duplicates are dropped first (:func:`drop_duplicates`). Each user's whole history, ordered by :func:`order_events` (stable ``(UserId, Time)`` sort,
    ``tie_break`` for equal times), is one session (``SessionId = UserId``). The last event is the
    test target, the one before it the validation target, the rest is training data:

    * ``train_tr``: all but the last two events (fit while tuning);
    * ``valid``: all but the last event; its final event is the validation target;
    * ``train``: all but the last event (fit before testing: validation items are training data);
    * ``test``: the whole history; its final event is the test target.

    The held-out frames hold the full prefix, so the one evaluator scores the held-out item from the
    user's whole past when only the last prediction of each session is counted (``positions="last"``,
    see :func:`sbrlib.evaluation.evaluator.evaluate_positions`); since an item cannot be rated twice, items the user
    already rated are excluded from the ranking with ``exclude_seen=True`` (the prefix is the whole
    history). A user whose held-out item never occurs in the frame the model is fit on (``train``
    for test, ``train_tr`` for valid) is dropped from that held-out frame: the model cannot score it
    and the evaluator would otherwise score a different item. The number of such users is the
    difference of user counts between the frames; count them as misses to be conservative.

    Why this leaks across time: the split is per user, not per calendar time. One user's test item
    may be older than other users' training events, so the model is trained on interactions from
    the "future" of many test predictions (popularity trends, items released later). The temporal
    split of :func:`preprocess` cuts everything at one time: no training event follows a test event.

    Args:
        ratings: ``UserId, ItemId, Time`` (and ``Rating`` with ``min_rating``).
        config: the protocol's parameters.

    Returns:
        A :class:`Split` with frames ``train``, ``test``, ``train_tr``, ``valid`` (no time cutoffs).
    """
    _require(ratings, (USER, ITEM, TIME), "leave_one_out")
    events, n_dup = drop_duplicates(ratings)
    events = filter_ratings(events, config.min_rating)
    events = order_events(events, config.tie_break, config.seed)
    events[SESSION] = events[USER].to_numpy()
    events = filter_sessions(events, config.min_user_events, config.min_item_support)
    if events.empty:
        raise DataError("leave_one_out: no users left after filtering; lower min_user_events/min_item_support")
    users = events[USER].to_numpy()
    rank = events.groupby(USER, sort=False).cumcount().to_numpy()
    size = events.groupby(USER, sort=False)[USER].transform("size").to_numpy()
    from_end = size - 1 - rank

    def users_with_known_target(held: pd.DataFrame, known_items: np.ndarray, target_from_end: int) -> np.ndarray:
        target = held[(from_end[held.index] == target_from_end)]
        return target.loc[np.isin(target[ITEM].to_numpy(), known_items), USER].to_numpy()

    train_tr = events[from_end >= 2]
    train = events[from_end >= 1]
    valid_all = events[from_end >= 1]
    ok_valid = users_with_known_target(valid_all, train_tr[ITEM].unique(), 1)
    valid = valid_all[np.isin(valid_all[USER].to_numpy(), ok_valid)]
    ok_test = users_with_known_target(events, train[ITEM].unique(), 0)
    test = events[np.isin(users, ok_test)]
    frames = {k: f.reset_index(drop=True) for k, f in
              (("train", train), ("test", test), ("train_tr", train_tr), ("valid", valid))}
    log.info("leave-one-out: %d users; %d test and %d valid targets", len(np.unique(users)), len(ok_test), len(ok_valid))
    return Split(frames, {}, config, duplicates_dropped=n_dup)


def dropped_targets(split: Split) -> dict[str, int]:
    """Users of a leave-one-out split's training frame without a held-out prediction because their
    held-out item never occurs in the frame the model is fit on (``valid``: ``train_tr``; ``test``: ``train``)."""
    users = split["train"][USER].nunique()
    return {"valid": users - split["valid"][USER].nunique(), "test": users - split["test"][USER].nunique()}
