"""Session-parallel mini-batches (Hidasi et al., ICLR 2016).

``batch_size`` slots each carry one session. At every step each active slot gives its current
item (input) and the next item of the same session (target); when a slot's session has no more
pairs, the next session (in order of first-event time, ties by session id) takes the slot, and the
slot is flagged in ``starts`` so the model zeroes its hidden state. At the end of the data, slots
without a session become inactive (``active`` is False) until every pair has been produced:
every within-session (current, next) pair appears exactly once per epoch and no pair crosses
two sessions.

The schedule is computed with numpy, one vectorized operation per step over all slots (no
per-event Python loop), and returned as dense ``(n_steps, batch_size)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sbrlib.columns import SESSION, TIME


@dataclass(frozen=True)
class Schedule:
    """A whole epoch of session-parallel steps; arrays have shape (n_steps, batch_size).

    Attributes:
        inputs: input item index per slot (0 where inactive).
        targets: target item index per slot (0 where inactive).
        starts: True where the slot's session begins at this step (reset the hidden state).
        active: True where the slot holds a (input, target) pair.
        session: row of the session in ``session_order`` (-1 where inactive).
        position: 0-based position of the input in its session (-1 where inactive).
        session_order: session ids in the order they enter, shape (n_sessions,).
        session_length: length (events) of each entered session, aligned with ``session_order``.
    """

    inputs: np.ndarray
    targets: np.ndarray
    starts: np.ndarray
    active: np.ndarray
    session: np.ndarray
    position: np.ndarray
    session_order: np.ndarray
    session_length: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of steps in the epoch."""
        return self.inputs.shape[0]

    @property
    def n_pairs(self) -> int:
        """Number of (input, target) pairs in the epoch."""
        return int(self.active.sum())


def session_offsets(session_ids: np.ndarray, times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous session blocks ordered by first-event time (ties: appearance order).

    Args:
        session_ids: (n_events,) session id of each event; each session's events must be contiguous.
        times: (n_events,) event times; None keeps the order of appearance.

    Returns:
        ``(starts, lengths, ids)``: start offset, length and id of each session, in entry order.
    """
    session_ids = np.asarray(session_ids)
    n = len(session_ids)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    change = np.r_[True, session_ids[1:] != session_ids[:-1]]
    starts = np.flatnonzero(change)
    ids = session_ids[starts]
    if len(np.unique(ids)) != len(ids):
        raise ValueError("session events must be contiguous (sort by SessionId, then time)")
    lengths = np.diff(np.r_[starts, n])
    if times is not None:
        order = np.argsort(np.asarray(times)[starts], kind="stable")
        starts, lengths, ids = starts[order], lengths[order], ids[order]
    return starts, lengths, ids


def make_schedule(session_ids: np.ndarray, items: np.ndarray, batch_size: int,
                  times: np.ndarray | None = None) -> Schedule:
    """Build the session-parallel schedule of one epoch.

    Args:
        session_ids: (n_events,) contiguous session ids, events in within-session order.
        items: (n_events,) item indices.
        batch_size: number of parallel slots.
        times: (n_events,) times; sessions enter in order of their first event time.

    Returns:
        A :class:`Schedule`. Sessions of length 1 contribute no pair and are skipped.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    items = np.asarray(items)
    starts, lengths, ids = session_offsets(session_ids, times)
    keep = lengths >= 2
    starts, lengths, ids = starts[keep], lengths[keep], ids[keep]
    n_sessions = len(starts)
    n_pairs = int((lengths - 1).sum())
    B = batch_size
    slot_sess = np.full(B, -1, np.int64)
    first = min(B, n_sessions)
    slot_sess[:first] = np.arange(first)
    pos = np.zeros(B, np.int64)  # position within the session
    next_session = first
    rows: list[tuple[np.ndarray, ...]] = []
    produced = 0
    new = slot_sess >= 0
    while produced < n_pairs:
        active = slot_sess >= 0
        sess = np.where(active, slot_sess, 0)
        idx = starts[sess] + pos
        inp = np.where(active, items[idx], 0)
        tgt = np.where(active, items[np.minimum(idx + 1, len(items) - 1)], 0)
        rows.append((inp, tgt, new & active, active, np.where(active, slot_sess, -1), np.where(active, pos, -1)))
        produced += int(active.sum())
        pos = pos + active
        done = active & (pos + 1 >= lengths[sess])
        finished = np.flatnonzero(done)
        take = min(len(finished), n_sessions - next_session)
        slot_sess[finished] = -1
        slot_sess[finished[:take]] = np.arange(next_session, next_session + take)
        pos[finished] = 0
        next_session += take
        new = np.zeros(B, bool)
        new[finished[:take]] = True
    if rows:
        stacked = [np.stack(col) for col in zip(*rows)]
    else:
        stacked = [np.zeros((0, B), dt) for dt in (np.int64, np.int64, bool, bool, np.int64, np.int64)]
    inputs, targets, starts_m, active_m, session_m, position_m = stacked
    return Schedule(inputs.astype(np.int32), targets.astype(np.int32), starts_m, active_m, session_m,
                    position_m.astype(np.int32), ids, lengths)


def schedule_from_frame(events: pd.DataFrame, item_idx: np.ndarray, batch_size: int) -> Schedule:
    """:func:`make_schedule` for a sessionized frame (sorted by session then time).

    Args:
        events: frame with ``SessionId`` and ``Time``; rows of a session contiguous and in order.
        item_idx: (n_events,) item indices aligned with ``events``.
        batch_size: number of slots.
    """
    return make_schedule(events[SESSION].to_numpy(), item_idx, batch_size, events[TIME].to_numpy())


def contiguous_sessions(events: pd.DataFrame) -> pd.DataFrame:
    """Events reordered so each session is contiguous, keeping within-session order (stable)."""
    return events.sort_values(SESSION, kind="stable").reset_index(drop=True)
