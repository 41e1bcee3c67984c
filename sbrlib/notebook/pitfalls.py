"""The original notebook's faults, reproduced ON PURPOSE so that they can be measured (issue 11).

Nothing here is meant for real work: every function whose name starts with ``faulty_`` or
``original_`` is wrong on purpose, and its docstring says why and where the fix lives in sbrlib.
Notebook ``00_what_went_wrong`` runs each fault next to its fix and measures the cost; the
tests (``tests/test_pitfalls.py``) assert that each fault still shows and that the fix does not.

The original notebook (pandas + tf.keras on ML-1M ``ratings.dat``) did this:

1. **Row-index time.** ``Time2 = datetime.fromtimestamp(i)`` over the *row index* ``i``: events got
   dates one second apart from 1970-01-01, and the split "users whose last event is in the last
   day -> test, the day before -> valid" selected users by their position in the file.
2. **Loader offsets.** The session-parallel iterator started its slots at ``click_offsets[idx - 1]``
   instead of ``click_offsets[idx]``: batches mixed users and the epoch never ended.
3. **Unseen items.** Items of valid/test unknown to training were mapped to -1, and
   ``to_categorical(-1, n)`` sets the *last* column: every unseen item became item ``n - 1``.
4. **One-hot input and per-step numpy resets.** One-hot vectors into a stateful Keras GRU with a
   full softmax, ``train_on_batch`` per step, hidden states copied to numpy and back every step.
5. **Per-event evaluation.** A Python loop over every test event with a full ``argsort`` of all
   item scores to find the target's rank.
6. **Undiscussed choices.** ``Rating >= 3`` applied without discussion, and a user's whole
   history used as one session.

Measurement helpers (``loader_report``, ``split_report``, ...) are correct code; they only
describe what the faulty functions produce.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, RATING, SESSION, TIME, USER
from sbrlib.data import batching

DAY = 86_400
ORIGINAL_MIN_RATING = 3
ORIGINAL_COMMENT_DROPPED = "420k"  # what the original's comment claimed its `Rating >= 3` filter dropped (on ML-1M)
# facts of the genuine MovieLens 1M ratings.dat (published with the data: /work/shared/data/README.md, GroupLens)
ML1M_RATINGS = 1_000_209
ML1M_BELOW_3 = 163_731
"""The original notebook's rating filter (``Rating >= 3``)."""


# =========================================================================== 1. row-index time


def original_events(ratings: pd.DataFrame, min_rating: int | None = ORIGINAL_MIN_RATING) -> pd.DataFrame:
    """The original notebook's event table: ratings ``>= min_rating``, each user's rows together
    in file order (a stable sort by ``UserId``; ML-1M's file already is in this order), each
    user's whole history one session (``SessionId = UserId``), and its ``Time2`` column.

    Wrong on purpose (faults 1 and 6): ``Time2`` is :func:`faulty_row_index_time` over this
    table's rows (the row index as seconds since 1970), the rating filter is applied without
    discussion, and a user's years of ratings count as one session. The fix:
    :func:`sbrlib.data.preprocess.preprocess` (real ``Time``, stable ``(UserId, Time)`` order,
    ``session_mode="gap"``, ``min_rating=None``).

    Args:
        ratings: ``UserId, ItemId, Rating, Time`` in file order (:func:`sbrlib.data.load_ratings`).
        min_rating: the original's filter (3); None keeps every rating.

    Returns:
        A new frame with ``SessionId`` and ``Time2`` (datetime64) added, fresh RangeIndex.
    """
    out = ratings if min_rating is None else ratings[ratings[RATING] >= min_rating]
    out = out.sort_values(USER, kind="stable").reset_index(drop=True)
    out[SESSION] = out[USER].to_numpy()
    out["Time2"] = faulty_row_index_time(len(out))
    return out


def faulty_row_index_time(n_events: int) -> pd.DatetimeIndex:
    """WRONG ON PURPOSE (fault 1): ``datetime.fromtimestamp(i)`` over the row index ``i``.

    Event ``i`` gets the date 1970-01-01 00:00:00 + ``i`` seconds, whatever its real time: the
    836,478 events of the filtered ML-1M file span 1970-01-01 to 1970-01-10, and "the last day"
    is the last 86,400 rows of the file. (``fromtimestamp`` used the machine's local time zone;
    this reproduction uses UTC, which only shifts every date by the zone's offset.)
    The fix: the real ``Time`` column (Unix seconds, :mod:`sbrlib.data`), ordered with
    :func:`sbrlib.data.preprocess.order_events`.

    Returns:
        (n_events,) datetime64[ns] index.
    """
    return pd.to_datetime(np.arange(n_events, dtype=np.int64), unit="s")


def original_last_day_split(events: pd.DataFrame, time_column: str = "Time2", test_days: float = 1.0,
                            valid_days: float = 1.0) -> dict[str, pd.DataFrame]:
    """The original split rule: users whose last event falls in the last ``test_days`` -> test,
    in the ``valid_days`` before -> valid, every other user -> train (whole histories).

    With ``time_column="Time2"`` (row-index time) this is fault 1: users are chosen by their
    position in the file. With ``time_column="Time"`` it is the same rule on real time (shown for
    comparison). sbrlib's split: :func:`sbrlib.data.preprocess.temporal_split` with a cutoff from
    :func:`sbrlib.data.preprocess.split_cutoff` (whole sessions; no training event after the cutoff in
    ``user`` mode).

    Args:
        events: frame with ``UserId`` and ``time_column`` (Unix seconds or datetime64).
        time_column: the column holding event times.
        test_days: length of the test period, counted back from the last event.
        valid_days: length of the validation period just before it.

    Returns:
        ``{"train", "valid", "test"}`` new frames (rows in input order).
    """
    seconds = _seconds(events[time_column])
    last = pd.Series(seconds).groupby(events[USER].to_numpy()).transform("max").to_numpy()
    end = seconds.max() if len(seconds) else 0
    test = last > end - test_days * DAY
    valid = ~test & (last > end - (test_days + valid_days) * DAY)
    return {"train": events[~test & ~valid].reset_index(drop=True),
            "valid": events[valid].reset_index(drop=True),
            "test": events[test].reset_index(drop=True)}


def original_split_days(n_events: int, min_days: float = 5.0, share: float = 0.1) -> float:
    """The period of the original's split for a file of ``n_events`` rows in row-index time.

    1 day (the original's) when the rows span at least ``min_days`` days of row-index time
    (ML-1M: 9.7); on smaller files one day would hold out every user, so the period is shrunk to
    hold out about ``share`` of the rows instead.
    """
    span = n_events / DAY
    return 1.0 if span >= min_days else max(share * span, 1.0 / DAY)


def split_period_text(days: float | None) -> str:
    """How the original's split is named for a period of ``days`` of row-index time:
    ``"the 'last day' split"`` for the original's 1 day (or when not recorded), else the rows it
    held out (``"the original's split, shrunk from 'the last day' to the last 8,252 rows"``)."""
    if days is None or days == 1.0:
        return "the 'last day' split"
    return (f"the original's split, shrunk from 'the last day' to the last {days * DAY:,.0f} rows "
            f"({days:.3g} day of row-index time)")


def _date(seconds: float) -> str:
    """``YYYY-MM-DD`` of Unix seconds."""
    return str(pd.to_datetime(int(seconds), unit="s").date())


def _seconds(values: pd.Series) -> np.ndarray:
    """Unix seconds of a datetime64 or integer column."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy().astype("datetime64[s]").astype(np.int64)
    return values.to_numpy().astype(np.int64)


def split_report(train: pd.DataFrame, test: pd.DataFrame, valid: pd.DataFrame | None = None,
                 time_column: str = "Time2") -> dict:
    """What a user-level split looks like in *real* time.

    Args:
        train, test, valid: frames with ``UserId``, ``SessionId`` and the real ``Time`` (Unix seconds).
        time_column: the column the split was made on (its dates are reported as "shown").

    Returns:
        ``first_shown``/``last_shown`` (date and minute of ``time_column``: row-index time spans
        hours, not days, on small files), user counts, ``test_user_ids``
        (min, max), ``test_ends`` (real dates of the earliest and latest end of a test session)
        and ``test_ends_first``: over all (test session, training session) pairs, the share in
        which the test session ends first in real time. A temporal split that holds out the
        sessions ending after a cutoff has 0 (up to events removed after the split, e.g. items
        unseen in training); choosing test sessions at random gives about 0.5.
    """
    every = pd.concat([f for f in (train, valid, test) if f is not None])
    shown = pd.to_datetime(_seconds(every[time_column]), unit="s") if len(every) else pd.DatetimeIndex([])
    ends = test.groupby(SESSION, sort=False)[TIME].max().to_numpy() if len(test) else np.zeros(0, np.int64)
    train_ends = np.sort(train.groupby(SESSION, sort=False)[TIME].max().to_numpy()) if len(train) else np.zeros(0)
    first = float((len(train_ends) - np.searchsorted(train_ends, ends, side="right")).sum()
                  / (len(ends) * len(train_ends))) if len(ends) and len(train_ends) else 0.0
    return {
        "first_shown": shown.min().strftime("%Y-%m-%d %H:%M") if len(shown) else None,
        "last_shown": shown.max().strftime("%Y-%m-%d %H:%M") if len(shown) else None,
        "train_users": int(train[USER].nunique()),
        "valid_users": int(valid[USER].nunique()) if valid is not None else None,
        "test_users": int(test[USER].nunique()),
        "test_user_ids": [int(test[USER].min()), int(test[USER].max())] if len(test) else None,
        "test_ends": [_date(ends.min()), _date(ends.max())] if len(ends) else None,
        "test_ends_first": first,
    }


# =========================================================================== 2. loader offsets


def click_offsets(session_ids: np.ndarray) -> np.ndarray:
    """Start offset of each session block and the end of the data: shape (n_sessions + 1,).

    ``session_ids`` must hold each session's events contiguously (as the original's data did).
    """
    session_ids = np.asarray(session_ids)
    change = np.flatnonzero(np.r_[True, session_ids[1:] != session_ids[:-1]]) if len(session_ids) else np.zeros(0, np.int64)
    return np.r_[change, len(session_ids)].astype(np.int64)


def original_parallel_blocks(offsets: np.ndarray, batch_size: int, start_shift: int = -1,
                             max_steps: int = 10_000) -> Generator[tuple[np.ndarray, np.ndarray], None, str]:
    """WRONG ON PURPOSE (fault 2) with ``start_shift=-1``: the original session-parallel iterator.

    The original (a common Keras port of GRU4Rec's loader) kept, per slot, ``start`` and ``end``
    offsets into the event array and yielded, for ``i in range(minlen - 1)``, the pairs at
    ``(start + i, start + i + 1)``, ``minlen = (end - start).min()``; then ``start += minlen - 1``
    and every slot with ``end - start <= 1`` took the next session ``maxiter += 1``; the epoch
    ended when ``maxiter`` reached the number of sessions. Its slots started at
    ``click_offsets[s - 1]`` instead of ``click_offsets[s]`` (``end`` stayed ``click_offsets[s + 1]``):

    * slot 0 began at ``click_offsets[-1]``, the END of the data: ``end - start`` was negative,
      so ``minlen`` was negative, nothing was yielded, and ``start += minlen - 1`` walked every
      slot backwards by almost the whole data set (numpy then reads negative offsets from the end);
    * every other slot's "session" began one session early and spanned two sessions (users);
    * the slots that walked backwards now hold ~the whole data set: thousands of users with no
      reset between them, and the epoch lasts about ``n_events`` steps instead of
      ``n_events / batch_size`` (at batch size 2048 the original passed 217,188 steps, where
      ~320 were expected, before it was interrupted after 2 h 41 min).

    The same ``start_shift`` is applied when a slot takes a new session (the learner's ``idx - 1``
    offsets; ``end`` stays ``click_offsets[s + 1]``, so a refilled slot also spans two sessions).
    A variant that also shifted the refill's ``end`` (``click_offsets[s]``, one whole but wrong
    session per refill) shows the same two symptoms: the first batch already walks every slot
    back over the whole data, so the epoch does not end and batches mix users. ``start_shift=0`` gives the original algorithm with correct offsets, which ends
    and keeps pairs inside sessions (but drops the sessions still in the slots when it ends).
    The fix: :func:`sbrlib.data.batching.make_schedule` (slots flagged on session starts, inactive
    slots at the end, every pair exactly once).

    Args:
        offsets: :func:`click_offsets` of the events, shape (n_sessions + 1,); sessions are taken
            in this order (the original's ``session_idx_arr = arange(n_sessions)``).
        batch_size: number of slots; must be smaller than the number of sessions.
        start_shift: -1 reproduces the fault, 0 the intended offsets.
        max_steps: stop after this many steps (the faulty epoch would take about ``n_events``).

    Yields:
        ``(input_positions, target_positions)`` blocks of shape (m, batch_size): event offsets
        (negative values index from the end, as numpy did in the original) of the ``m`` steps
        produced by one pass of the inner loop.

    Returns:
        (as the generator's return value) ``"end"`` when the epoch ended, ``"cap"`` when it was
        stopped at ``max_steps``.
    """
    n_sessions = len(offsets) - 1
    if not 0 < batch_size < n_sessions:
        raise ValueError(f"batch_size must be in [1, {n_sessions - 1}] (fewer than the {n_sessions} sessions), "
                         f"got {batch_size}")
    session_idx = np.arange(n_sessions)
    iters = np.arange(batch_size)
    maxiter = int(iters.max())
    start = offsets[session_idx[iters] + start_shift].copy()
    end = offsets[session_idx[iters] + 1].copy()
    steps = 0
    while steps < max_steps:
        minlen = int((end - start).min())
        m = min(max(minlen - 1, 0), max_steps - steps)
        if m:
            steps_i = np.arange(m)[:, None]
            yield start[None, :] + steps_i, start[None, :] + steps_i + 1
            steps += m
            if m < minlen - 1:  # stopped at the cap inside the block
                return "cap"
        start = start + (minlen - 1)
        for slot in np.flatnonzero(end - start <= 1):
            maxiter += 1
            if maxiter >= n_sessions:
                return "end"
            iters[slot] = maxiter
            start[slot] = offsets[session_idx[maxiter] + start_shift]
            end[slot] = offsets[session_idx[maxiter] + 1]
    return "cap"


@dataclass(frozen=True)
class LoaderReport:
    """What a session-parallel loader produced over one epoch (or until a step cap).

    Attributes:
        steps: mini-batch steps produced.
        hit_cap: True when the epoch was stopped at ``max_steps`` (it had not ended).
        pairs: (input, target) pairs produced.
        crossing_pairs: pairs whose input and target belong to different sessions.
        wrapped_pairs: pairs read at negative offsets (from the end of the data).
        mixed_steps: steps with at least one crossing pair.
        expected_pairs: within-session pairs in the data (each should appear once per epoch).
    """

    steps: int
    hit_cap: bool
    pairs: int
    crossing_pairs: int
    wrapped_pairs: int
    mixed_steps: int
    expected_pairs: int

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


def loader_report(session_ids: np.ndarray, batch_size: int, start_shift: int = -1,
                  max_steps: int = 10_000) -> LoaderReport:
    """Run :func:`original_parallel_blocks` on contiguous sessions and count what it produced.

    Args:
        session_ids: (n_events,) session of each event, sessions contiguous (data order).
        batch_size: slots.
        start_shift: -1 (the fault) or 0.
        max_steps: step cap.
    """
    session_ids = np.asarray(session_ids)
    offsets = click_offsets(session_ids)
    code = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))  # session number of each event
    steps = pairs = crossing = wrapped = mixed = 0
    blocks = original_parallel_blocks(offsets, batch_size, start_shift, max_steps)
    while True:
        try:
            inp, tgt = next(blocks)
        except StopIteration as stop:
            ended = stop.value == "end"
            break
        cross = code[inp] != code[tgt]
        steps += inp.shape[0]
        pairs += inp.size
        crossing += int(cross.sum())
        wrapped += int((inp < 0).sum())
        mixed += int(cross.any(axis=1).sum())
    return LoaderReport(steps, not ended, pairs, crossing, wrapped, mixed,
                        int(len(session_ids) - (len(offsets) - 1)))


def schedule_report(session_ids: np.ndarray, batch_size: int) -> LoaderReport:
    """The same counts for sbrlib's :func:`sbrlib.data.batching.make_schedule` (the fix), sessions in
    data order: every pair is checked against the session of its input and target events."""
    session_ids = np.asarray(session_ids)
    offsets = click_offsets(session_ids)
    code = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    schedule = batching.make_schedule(session_ids, np.arange(len(session_ids)), batch_size)
    # items are event offsets here, so inputs/targets are the events of each pair
    active = schedule.active
    cross = active & (code[schedule.inputs] != code[schedule.targets])
    return LoaderReport(schedule.n_steps, False, schedule.n_pairs, int(cross.sum()), 0, int(cross.any(axis=1).sum()),
                        int(len(session_ids) - (len(offsets) - 1)))


# =========================================================================== 3. unseen items


def faulty_item_map(train_item_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """WRONG ON PURPOSE (fault 3): item ids -> dense index, unknown ids -> -1, nothing dropped.

    The index is built on training items (sorted ids, as the original's ``unique``); ids that
    never occur in training get -1, which the original then fed to ``to_categorical``
    (:func:`faulty_one_hot`), where -1 silently means the last item. The fix:
    :meth:`sbrlib.data.item_index.ItemIndex.to_idx` raises on unknown ids (or returns -1 only with
    ``missing="mask"``, and callers drop them), and :func:`sbrlib.data.preprocess.temporal_split`
    removes test events with unseen items before anything is evaluated.

    Returns:
        (n,) int64 indices in ``[-1, n_train_items)``.
    """
    ids = np.unique(np.asarray(train_item_ids))
    item_ids = np.asarray(item_ids)
    pos = np.searchsorted(ids, item_ids)
    pos_c = np.minimum(pos, max(len(ids) - 1, 0))
    known = (pos < len(ids)) & (ids[pos_c] == item_ids) if len(ids) else np.zeros(item_ids.shape, bool)
    return np.where(known, pos_c, -1).astype(np.int64)


def faulty_one_hot(idx: np.ndarray, n_items: int) -> np.ndarray:
    """WRONG ON PURPOSE (fault 3): ``keras.utils.to_categorical(idx, n_items)`` as the original.

    ``to_categorical`` writes ``categorical[arange(n), idx] = 1``; numpy reads index -1 as the
    last column, so an unseen item (-1 from :func:`faulty_item_map`) becomes item ``n_items - 1``
    without any error, as input and as target. The fix: never map unknown items to an index
    (:meth:`sbrlib.data.item_index.ItemIndex.to_idx`), and no one-hot at all (embedding lookups).

    Returns:
        (n, n_items) float64 one-hot rows.
    """
    from sbrlib.core.tf import keras

    return keras.utils.to_categorical(np.asarray(idx), num_classes=n_items)


def faulty_alias_unseen(events: pd.DataFrame, train_item_ids: np.ndarray) -> tuple[pd.DataFrame, int]:
    """WRONG ON PURPOSE (fault 3): what the -1 mapping did to held-out data, in item ids.

    Every event whose item is not in ``train_item_ids`` gets the id of the last training item
    (``ItemIdx == n - 1``), exactly what ``to_categorical(-1)`` made of it, so evaluating the
    returned frame with :func:`sbrlib.evaluation.evaluator.evaluate` reproduces the original's metric.

    Returns:
        ``(aliased, n_hit)``: a new frame, and how many events were rewritten.
    """
    ids = np.unique(np.asarray(train_item_ids))
    idx = faulty_item_map(ids, events[ITEM].to_numpy())
    out = events.copy()
    unseen = idx < 0
    out[ITEM] = np.where(unseen, ids[-1], out[ITEM].to_numpy()).astype(events[ITEM].dtype)
    return out, int(unseen.sum())


# =========================================================================== 4. one-hot + per-step resets


def original_onehot_gru(n_items: int, batch_size: int, units: int = 50, learning_rate: float = 0.001, seed: int = 0):
    """WRONG ON PURPOSE (fault 4): the original's model, a stateful Keras GRU on one-hot input.

    ``Input(batch_shape=(B, 1, n_items))`` one-hot -> ``GRU(units, stateful=True)`` ->
    ``Dense(n_items, softmax)``, Adam, categorical cross-entropy. Every step materializes two
    ``(B, n_items)`` one-hot arrays (input and target) and multiplies the input one by the GRU's
    input weights (a lookup done as a dense product); the full softmax scores every item for every
    slot. The fix: :class:`sbrlib.models.gru4rec.GRU4Rec` (embedding lookups by index, sampled
    or full softmax on logits, many steps per XLA-compiled call).

    Returns:
        A compiled ``keras.Sequential`` model; its GRU layer is ``model.layers[0]``.
    """
    from sbrlib.core.tf import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(batch_shape=(batch_size, 1, n_items)),
        keras.layers.GRU(units, stateful=True),
        keras.layers.Dense(n_items, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy")
    return model


@dataclass(frozen=True)
class SpeedReport:
    """Training speed of a capped run.

    Attributes:
        steps: steps timed (the first step, which builds the graph, is excluded).
        pairs: active (input, target) pairs in the timed steps.
        seconds: wall time of the timed steps.
        events_per_second: ``pairs / seconds``.
        input_bytes_per_step: bytes of the input and target arrays fed at each step.
        batch_size: slots per step.
    """

    steps: int
    pairs: int
    seconds: float
    events_per_second: float
    input_bytes_per_step: int
    batch_size: int

    @property
    def seconds_per_step(self) -> float:
        """Wall time of one step."""
        return self.seconds / self.steps if self.steps else float("nan")

    @property
    def full_batch_rate(self) -> float:
        """Events per second with every slot active (``batch_size / seconds_per_step``): the
        per-step cost does not depend on how many slots are active, so this compares runs fairly."""
        return self.batch_size / self.seconds_per_step if self.steps else float("nan")

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


def original_train_steps(model, schedule, max_steps: int = 20) -> SpeedReport:
    """WRONG ON PURPOSE (fault 4): the original training loop, capped at ``max_steps`` steps.

    Per step: one-hot input and target (:func:`faulty_one_hot`), the GRU's hidden state copied
    to numpy, the rows of slots whose session starts zeroed, copied back into the layer, then one
    ``train_on_batch`` call (one Python round trip and one host-device copy per step). Slots
    without a session get weight 0 (the original had none; this keeps the comparison fair).
    The fix: :meth:`sbrlib.models.gru4rec.GRU4Rec.fit` zeroes states inside the compiled step
    and runs ``steps_per_call`` steps per call.

    Args:
        model: from :func:`original_onehot_gru` with the schedule's batch size.
        schedule: a :class:`sbrlib.data.batching.Schedule` (correct pairs, so only speed differs).
        max_steps: steps to run (at least 2: the first one is not timed).
    """
    gru = model.layers[0]
    n_items = model.output_shape[-1]
    n = min(max(max_steps, 2), schedule.n_steps)
    pairs, nbytes, t0 = 0, 0, None
    for t in range(n):
        if t == 1:
            t0 = time.perf_counter()
        x = faulty_one_hot(schedule.inputs[t], n_items)[:, None, :]
        y = faulty_one_hot(schedule.targets[t], n_items)
        state = gru.states[0].numpy()  # per-step round trip through numpy, as the original
        state[schedule.starts[t]] = 0.0
        gru.states[0].assign(state)
        model.train_on_batch(x, y, sample_weight=schedule.active[t].astype(np.float32))
        if t >= 1:
            pairs += int(schedule.active[t].sum())
        nbytes = x.nbytes + y.nbytes
    seconds = time.perf_counter() - t0 if t0 is not None else float("nan")
    return SpeedReport(max(n - 1, 0), pairs, seconds, pairs / seconds if seconds > 0 else float("nan"), nbytes,
                       schedule.inputs.shape[1])


def compiled_speed(model, schedule) -> SpeedReport:
    """Speed of the last training epoch of a fitted :class:`sbrlib.models.gru4rec.GRU4Rec` (the fix).

    Args:
        model: fitted for at least 2 epochs on the events ``schedule`` was built from (the first
            epoch includes compilation, so it is not used).
        schedule: the epoch's :class:`sbrlib.data.batching.Schedule` (same batch size).

    ``steps`` counts the schedule's steps; compiled chunks padded with inactive steps count as
    time only, which makes this a lower bound on the fix's speed.
    """
    if len(model.history) < 2:
        raise ValueError("fit the model for at least 2 epochs: the first one includes compilation")
    seconds = float(model.history["seconds"].iloc[-1])
    nbytes = sum(a[0].nbytes for a in (schedule.inputs, schedule.targets, schedule.starts, schedule.active))
    return SpeedReport(schedule.n_steps, schedule.n_pairs, seconds, schedule.n_pairs / seconds, int(nbytes),
                       schedule.inputs.shape[1])


# =========================================================================== 5. per-event evaluation


def faulty_per_event_ranks(model, test: pd.DataFrame, max_predictions: int | None = None) -> tuple[pd.DataFrame, float]:
    """WRONG ON PURPOSE (fault 5): a Python loop over every test event with a full argsort.

    For each session and each position, the model scores all items for one slot, ``argsort``
    sorts all of them, and the target's rank is its position in the sorted list. It is slow (one
    model call and one O(n log n) sort per event) and its ties are broken arbitrarily by the sort
    (always between the ``standard`` and ``conservative`` ranks of :mod:`sbrlib.evaluation.metrics`). Our
    loop calls the model's compiled ``step``; the original called Keras ``predict`` per batch, so
    the real cost was higher. The fix: :func:`sbrlib.evaluation.evaluator.evaluate` (session-parallel
    batches, ranks counted with one vectorized comparison, explicit tie policy).

    Args:
        model: a fitted :class:`sbrlib.models.base.SessionModel`.
        test: sessionized events; sessions are taken in order of their first event, items must
            be known to the model.
        max_predictions: stop after this many predictions (None: all).

    Returns:
        ``(ranks, seconds)``: one row per prediction (``SessionId``, ``position`` as in
        :class:`sbrlib.evaluation.evaluator.EvalResult`, ``rank``), and the loop's wall time.
    """
    events = test.sort_values([SESSION, TIME], kind="stable")
    idx = model.item_index.to_idx(events[ITEM].to_numpy())
    sessions = events[SESSION].to_numpy()
    bounds = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1], True])
    first_time = events[TIME].to_numpy()[bounds[:-1]]
    order = np.argsort(first_time, kind="stable")
    rows = []
    t0 = time.perf_counter()
    for s in order:
        a, b = bounds[s], bounds[s + 1]
        model.reset(1)
        for t in range(a, b - 1):  # one Python iteration per test event
            scores = np.asarray(model.step(idx[t: t + 1], np.array([t == a])))[0]
            ranking = np.argsort(-scores)  # full sort of every item, per event
            rank = int(np.flatnonzero(ranking == idx[t + 1])[0]) + 1
            rows.append((sessions[a], t - a + 1, rank))
            if max_predictions is not None and len(rows) >= max_predictions:
                break
        if max_predictions is not None and len(rows) >= max_predictions:
            break
    seconds = time.perf_counter() - t0
    return pd.DataFrame(rows, columns=[SESSION, "position", "rank"]), seconds


def compare_ranks(per_event: pd.DataFrame, standard: pd.DataFrame, conservative: pd.DataFrame) -> dict:
    """Check the per-event loop's ranks against the evaluator's, prediction by prediction.

    Args:
        per_event: from :func:`faulty_per_event_ranks`.
        standard, conservative: ``EvalResult.predictions`` of the same model and data under the
            ``standard`` and ``conservative`` tie policies.

    Returns:
        ``predictions`` (matched on session and position), ``within_ties`` (argsort rank between
        the two policies' ranks), ``untied`` (predictions whose target shares its score with no
        other item), ``identical`` (argsort rank equal to the evaluator's on untied predictions).
    """
    key = [SESSION, "position"]
    both = per_event.merge(standard[key + ["rank"]].rename(columns={"rank": "standard"}), on=key, how="inner")
    both = both.merge(conservative[key + ["rank"]].rename(columns={"rank": "conservative"}), on=key, how="inner")
    untied = both["standard"] == both["conservative"]
    return {
        "predictions": int(len(both)), "per_event": int(len(per_event)), "evaluator": int(len(standard)),
        "within_ties": int(((both["rank"] >= both["standard"]) & (both["rank"] <= both["conservative"])).sum()),
        "untied": int(untied.sum()),
        "identical": int((both["rank"][untied] == both["standard"][untied]).sum()),
    }


def known_sessions(events: pd.DataFrame, item_index) -> pd.DataFrame:
    """Events whose items ``item_index`` knows, in sessions of at least 2 such events (a new frame)."""
    out = events[item_index.contains(events[ITEM].to_numpy())]
    sizes = out.groupby(SESSION, sort=False)[SESSION].transform("size")
    return out[(sizes >= 2).to_numpy()].reset_index(drop=True)


def head_sessions(events: pd.DataFrame, max_events: int | None = None, max_predictions: int | None = None) -> pd.DataFrame:
    """The first sessions (by first event time, ties by id) holding at most ``max_events`` events
    or ``max_predictions`` predictions (events minus one per session); at least one session.

    Used to cap slow reproductions on large data. Returns a new frame.
    """
    first = events.groupby(SESSION, sort=True)[TIME].min()
    sizes = events.groupby(SESSION, sort=True).size()
    order = np.lexsort((first.index.to_numpy(), first.to_numpy()))
    ids = first.index.to_numpy()[order]
    sizes = sizes.to_numpy()[order]
    budget = np.cumsum(sizes if max_predictions is None else sizes - 1)
    limit = max_events if max_predictions is None else max_predictions
    n = len(ids) if limit is None else max(1, int(np.searchsorted(budget, limit, side="right")))
    return events[events[SESSION].isin(ids[:n])].reset_index(drop=True)


# =========================================================================== 6. undiscussed choices


def speed_sample(events: pd.DataFrame, batch_size: int, steps: int) -> pd.DataFrame:
    """Sessions for a speed comparison whose schedule keeps every slot busy for ``steps`` steps.

    The first ``batch_size`` sessions (by first event time, ties by id) with more than ``steps``
    events, each cut to its first ``steps + 1`` events: at batch size ``batch_size`` the
    schedule has exactly ``steps`` steps with every slot active (fewer busy slots when the data
    has fewer such sessions). Returns a new frame.
    """
    sizes = events.groupby(SESSION, sort=True).size()
    first = events.groupby(SESSION, sort=True)[TIME].min()
    long_enough = sizes.index[sizes.to_numpy() > steps].to_numpy()
    if not len(long_enough):
        long_enough = sizes.index[sizes.to_numpy() == sizes.max()].to_numpy()
    starts = first.loc[long_enough]
    chosen = long_enough[np.lexsort((long_enough, starts.to_numpy()))][:batch_size]
    out = events[events[SESSION].isin(chosen)].sort_values([SESSION, TIME], kind="stable")
    position = out.groupby(SESSION, sort=False).cumcount().to_numpy()
    return out[position <= steps].reset_index(drop=True)


def rating_comment_text() -> str:
    """The original's comment on its rating filter next to the genuine ML-1M count: the comment
    claimed :data:`ORIGINAL_COMMENT_DROPPED` dropped ratings, while ``ratings.dat`` has
    :data:`ML1M_BELOW_3` ratings below 3 of :data:`ML1M_RATINGS`, so the comment was wrong."""
    return (f"the original's comment claimed this filter dropped {ORIGINAL_COMMENT_DROPPED} ratings of ML-1M, but the genuine ML-1M "
            f"file has {ML1M_BELOW_3:,} ratings below 3 of {ML1M_RATINGS:,} ({ML1M_BELOW_3 / ML1M_RATINGS:.1%}), "
            "so the comment was wrong")


def rating_filter_report(ratings: pd.DataFrame, min_rating: int = ORIGINAL_MIN_RATING) -> dict:
    """How many ratings ``Rating >= min_rating`` drops (the original's comment said 420k; on the
    genuine ML-1M it is 163,731 of 1,000,209, 16.4%: :func:`rating_comment_text`). sbrlib keeps every rating by default
    (``PreprocessConfig.min_rating=None``) and makes the filter a parameter of notebook 02."""
    dropped = int((ratings[RATING] < min_rating).sum())
    return {"min_rating": min_rating, "ratings": int(len(ratings)), "dropped": dropped,
            "dropped_share": dropped / max(len(ratings), 1), "kept": int(len(ratings) - dropped)}


def session_report(events: pd.DataFrame) -> dict:
    """Sessions, their lengths (events) and durations (days) of a sessionized frame."""
    grouped = events.groupby(SESSION, sort=False)
    lengths = grouped.size()
    days = (grouped[TIME].max() - grouped[TIME].min()) / DAY
    return {"sessions": int(len(lengths)), "events": int(len(events)),
            "median_length": float(lengths.median()), "max_length": int(lengths.max()),
            "median_days": float(days.median()), "share_longer_than_a_day": float((days > 1).mean())}


def unfiltered_gap_report(ratings: pd.DataFrame, gap: int = 3_600) -> dict:
    """:func:`session_report` of gap sessions *before* notebook 02's filters (every rating, ordered as
    :func:`sbrlib.data.preprocess.order_events` orders them, cut at ``gap`` seconds): what notebook 01
    counts, so that 00 can state both numbers."""
    from sbrlib.data.preprocess import order_events, sessionize

    return session_report(sessionize(order_events(ratings), "gap", gap))


# =========================================================================== summary


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def onehot_bytes_text(nbytes: int, batch_size: int, n_items: int | None) -> str:
    """What the one-hot model's bytes per step count (:func:`original_train_steps`): its input and
    target arrays, ``batch × items × bytes per value`` each, e.g. ``"the one-hot input and target arrays,
    each 471 slots × 1,109 items × 8 bytes (float64): 2 × 4,178,712 = 8,357,424 bytes"``; without
    the item count, only what is counted."""
    if n_items and batch_size and nbytes % (2 * batch_size * n_items) == 0:
        per = nbytes // (2 * batch_size * n_items)
        kind = {8: " (float64)", 4: " (float32)"}.get(per, "")
        return (f"the one-hot input and target arrays, each {batch_size:,} slots × {n_items:,} items × {per} "
                f"bytes{kind}: 2 × {nbytes // 2:,} = {nbytes:,} bytes")
    return f"the one-hot input and target arrays: {nbytes:,} bytes"


def index_bytes_text(nbytes: int, batch_size: int) -> str:
    """What the compiled GRU4Rec's bytes per step count (:func:`compiled_speed`): one step's item index of
    the input and of the target, the start flag and the active flag of each slot."""
    per = f", {nbytes / batch_size:g} bytes per slot" if batch_size else ""
    return (f"one step's input and target item indices and each slot's start and active flags: {nbytes:,} bytes "
            f"for {batch_size:,} slots{per}")


def _duration(days: float) -> str:
    return f"{days:,.0f} days" if days >= 2 else f"{days * 24:,.1f} hours"


def _users(n: int) -> str:
    return f"{n:,} user" + ("" if n == 1 else "s")


def three_digits(value: float, unit: str = "") -> str:
    """A measured quantity with three significant digits (no exponent), e.g. ``0.567 s``, ``12.1 ms``, ``1,234 s``:
    the one format of notebook 00's timings, so that its table and its findings show the same value."""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if "e" in text:  # .3g of a tiny value
        text = f"{value:.2e}"
    return f"{text} {unit}".rstrip()


def share_text(value: float) -> str:
    """A share with one decimal, e.g. ``17.5%``: the one format of notebook 00's shares (table and findings)."""
    return f"{value:.1%}"


def _ratio(a: float, b: float) -> str:
    if not b or not np.isfinite(a / b):
        return "n/a"
    return f"{a / b:,.1f}×" if a / b < 10 else f"{a / b:,.0f}×"


# Labels of notebook 00's measurements: the keys of its recorded ``MEASURED`` sections (shown in its tables).
ROW_TIME = "row-index time (original)"
REAL_TIME = "same rule on real time"
FIXED_TIME = "sbrlib (user mode, real-time cutoff)"
LOADER_SHIFTED = "original, idx - 1 offsets"
LOADER_ORIGINAL = "original, idx offsets"
LOADER_FIXED = "sbrlib make_schedule"
SPEED_ONEHOT = "one-hot + train_on_batch (original)"
SPEED_COMPILED = "GRU4Rec, compiled (sbrlib)"
RANKING_ARGSORT = "per-event argsort (original)"
RANKING_VECTORIZED = "vectorized evaluator (sbrlib)"
SESSIONS_USER = "user history = session, Rating >= 3 (original)"
SESSIONS_GAP = "gap sessions, all ratings (sbrlib default)"


@dataclass(frozen=True)
class Measured:
    """Notebook 00's measurements by name (built from its recorded ``MEASURED`` dict by :meth:`from_record`).

    Attributes:
        dataset, synthetic, batch_size: what was measured on.
        split_row_time, split_real_time, split_fixed: :func:`split_report` of the three splits.
        loader_shifted, loader_original, loader_fixed: :class:`LoaderReport` dicts of the three loaders.
        unseen: the -1 mapping's counts and SR metrics (``test_hit``, ``faulty``, ``fixed``, ...).
        speed_onehot, speed_compiled: :class:`SpeedReport` dicts with ``seconds_per_step`` and ``full_batch_rate``.
        ranking: :func:`compare_ranks` of the per-event and vectorized rankings.
        argsort_seconds_per_10k, vectorized_seconds_per_10k: seconds per 10k predictions.
        rating_filter: :func:`rating_filter_report`.
        sessions_user, sessions_gap: :func:`session_report` of user histories and gap sessions.
        split_days: the period of the original's split in days of row-index time (None: not
            recorded; 1 is the original's "last day", less on small files: :func:`original_split_days`).
        speed_items: items of the speed comparison's sample (the one-hot width; None: not recorded).
    """

    dataset: str
    synthetic: bool
    batch_size: int
    split_row_time: Mapping
    split_real_time: Mapping
    split_fixed: Mapping
    loader_shifted: Mapping
    loader_original: Mapping
    loader_fixed: Mapping
    unseen: Mapping
    speed_onehot: Mapping
    speed_compiled: Mapping
    ranking: Mapping
    argsort_seconds_per_10k: float
    vectorized_seconds_per_10k: float
    rating_filter: Mapping
    sessions_user: Mapping
    sessions_gap: Mapping
    split_days: float | None = None
    speed_items: int | None = None

    @classmethod
    def from_record(cls, m: Mapping) -> Measured:
        """From notebook 00's ``MEASURED`` dict (sections keyed by the labels above).

        Raises:
            KeyError: a section or label is missing, named in the message.
        """
        def get(section: str, label: str | None = None):
            try:
                return m[section] if label is None else m[section][label]
            except KeyError:
                where = section if label is None else f"{section}[{label!r}]"
                raise KeyError(f"notebook 00's measurements have no {where}; use the labels of sbrlib.notebook.pitfalls "
                               "(ROW_TIME, LOADER_FIXED, ...) as their keys") from None

        return cls(
            dataset=m.get("dataset", "this data"), synthetic=bool(m.get("synthetic", False)),
            batch_size=get("batch_size"),
            split_row_time=get("time", ROW_TIME), split_real_time=get("time", REAL_TIME),
            split_fixed=get("time", FIXED_TIME),
            loader_shifted=get("loader", LOADER_SHIFTED), loader_original=get("loader", LOADER_ORIGINAL),
            loader_fixed=get("loader", LOADER_FIXED), unseen=get("unseen"),
            speed_onehot=get("speed", SPEED_ONEHOT), speed_compiled=get("speed", SPEED_COMPILED),
            ranking=get("ranking"),
            argsort_seconds_per_10k=get("ranking", "seconds_per_10k")[RANKING_ARGSORT],
            vectorized_seconds_per_10k=get("ranking", "seconds_per_10k")[RANKING_VECTORIZED],
            rating_filter=get("rating_filter"),
            sessions_user=get("sessions", SESSIONS_USER), sessions_gap=get("sessions", SESSIONS_GAP),
            split_days=None if m.get("split_days") is None else float(m["split_days"]),
            speed_items=None if (m.get("speed") or {}).get("n_items") is None else int(m["speed"]["n_items"]),
        )


def _measured(m: Measured | Mapping) -> Measured:
    return m if isinstance(m, Measured) else Measured.from_record(m)


def _slower(original: float, fixed: float) -> str:
    """How the original compares with the fix: ``"50× slower"``, or ``"2.5× faster"`` when it was faster."""
    return f"{_ratio(original, fixed)} slower" if original >= fixed else f"{_ratio(fixed, original)} faster"


MEASURED_EFFECT = "measured effect"  # the summary table's column: what the fault did to the data at hand


def summary_table(m: Measured | Mapping) -> pd.DataFrame:
    """One row per fault: symptom, measured effect (a cost, a leak or a changed count, measured on the
    data at hand), fix and where the fix lives, from the numbers
    measured by notebook 00 (a :class:`Measured`, or its ``MEASURED`` dict)."""
    m = _measured(m)
    t_row, t_fix = m.split_row_time, m.split_fixed
    lo_bad, lo_idx, lo_fix = m.loader_shifted, m.loader_original, m.loader_fixed
    un = m.unseen
    slow, fast = m.speed_onehot, m.speed_compiled
    rk = m.ranking
    slow10k, fast10k = m.argsort_seconds_per_10k, m.vectorized_seconds_per_10k
    rf = m.rating_filter
    s_user, s_gap = m.sessions_user, m.sessions_gap
    ended = "did not end within" if lo_bad["hit_cap"] else "ended after"
    rows = [
        ("1 row-index time",
         f"dates {t_row['first_shown']} to {t_row['last_shown']}; {split_period_text(m.split_days)} put the "
         f"{_users(t_row['test_users'])} at the end of the table in test (ids {t_row['test_user_ids'][0]}–{t_row['test_user_ids'][1]})",
         f"a test history ends before a training one in {share_text(t_row['test_ends_first'])} of pairs (chance: 50.0%; "
         f"sbrlib's split at a real-time cutoff: {share_text(t_fix['test_ends_first'])})",
         "real Time, events sorted by (UserId, Time) with a stable sort (equal timestamps keep the file's order), "
         "whole sessions split at a real-time cutoff",
         "preprocess.order_events, preprocess.temporal_split"),
        ("2 loader offsets",
         f"{lo_bad['crossing_pairs']:,} of {lo_bad['pairs']:,} pairs cross users; "
         f"{lo_bad['wrapped_pairs']:,} read backwards from the end of the data",
         f"epoch {ended} {lo_bad['steps']:,} steps; the correct one takes {lo_fix['steps']:,}"
         + (f"; with `idx` offsets it ends but produces only {lo_idx['pairs']:,} of {lo_idx['expected_pairs']:,} pairs "
            f"(skips {share_text(1 - lo_idx['pairs'] / lo_idx['expected_pairs'])})"
            if not lo_idx["hit_cap"] and lo_idx["pairs"] < lo_idx["expected_pairs"] else ""),
         "each slot takes whole sessions; a start flag tells the model which slots begin a new session (only "
         "their hidden state is reset); at the end of the data, slots with no session left sit idle until the "
         "others finish; every pair once",
         "batching.make_schedule"),
        ("3 unseen items → -1",
         f"{un['test_hit']:,} test and {un['valid_hit']:,} validation events silently become item n-1",
         f"SR Recall@20 {un['faulty']['recall@20']:.4f} with the alias (unseen → item n-1) vs {un['fixed']['recall@20']:.4f} "
         f"with unseen items removed",
         "unknown ids raise (or are masked and dropped); held-out items restricted to training items",
         "item_index.ItemIndex.to_idx, preprocess.temporal_split"),
        ("4 one-hot + numpy resets",
         f"{_bytes(slow['input_bytes_per_step'])} of one-hot input and target arrays per step "
         f"(vs {_bytes(fast['input_bytes_per_step'])} of indices and slot flags)",
         f"{three_digits(slow['seconds_per_step'] * 1e3, 'ms')} vs {three_digits(fast['seconds_per_step'] * 1e3, 'ms')} "
         "per step at batch "
         f"{m.batch_size} ({_slower(slow['seconds_per_step'], fast['seconds_per_step'])})",
         "embedding lookups, state resets inside the compiled step, many steps per call",
         "models.gru4rec.GRU4Rec"),
        ("5 per-event argsort",
         "one model call and one full sort per test event",
         f"{three_digits(slow10k, 's')} vs {three_digits(fast10k, 's')} per 10k predictions ({_slower(slow10k, fast10k)}); "
         f"ranks identical on {rk['identical']:,} of {rk['untied']:,} untied predictions",
         "session-parallel batches, vectorized rank counting, explicit tie policy",
         "evaluation.evaluate, metrics.ranks_from_scores"),
        ("6 undiscussed choices",
         f"Rating >= 3 drops {rf['dropped']:,} of {rf['ratings']:,} ratings ({share_text(rf['dropped_share'])}); "
         f"a user 'session' spans a median {_duration(s_user['median_days'])}"
         + (f", and {share_text(s_user['share_longer_than_a_day'])} of them span more than a day"
            if s_user.get("share_longer_than_a_day") is not None else ""),
         f"{s_user['sessions']:,} user histories (median {s_user['median_length']:,.0f} events) instead of "
         f"{s_gap['sessions']:,} gap sessions (median {s_gap['median_length']:,.0f} events)",
         "all ratings by default; sessions cut at inactivity gaps; both are explicit parameters",
         "preprocess.PreprocessConfig (min_rating, session_mode)"),
    ]
    table = pd.DataFrame(rows, columns=["fault", "symptom", MEASURED_EFFECT, "fix", "where in sbrlib"])
    return table.set_index("fault")
