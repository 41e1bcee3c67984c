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

from sbrlib.core.columns import SESSION, TIME


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
    # full steps while sessions remain, then at most the longest session: an upper bound on steps
    capacity = n_pairs // B + int(lengths.max(initial=0)) + 1
    inputs = np.zeros((capacity, B), np.int32)
    targets = np.zeros((capacity, B), np.int32)
    starts_m = np.zeros((capacity, B), bool)
    active_m = np.zeros((capacity, B), bool)
    session_m = np.full((capacity, B), -1, np.int64)
    position_m = np.full((capacity, B), -1, np.int32)
    slot_sess = np.full(B, -1, np.int64)
    first = min(B, n_sessions)
    slot_sess[:first] = np.arange(first)
    pos = np.zeros(B, np.int64)  # position within the session
    next_session = first
    produced, t = 0, 0
    new = slot_sess >= 0
    while produced < n_pairs:
        active = slot_sess >= 0
        rows = np.flatnonzero(active)
        idx = starts[slot_sess[rows]] + pos[rows]
        inputs[t, rows] = items[idx]
        targets[t, rows] = items[idx + 1]
        starts_m[t] = new & active
        active_m[t] = active
        session_m[t, rows] = slot_sess[rows]
        position_m[t, rows] = pos[rows]
        produced += len(rows)
        pos = pos + active
        done = active & (pos + 1 >= lengths[np.maximum(slot_sess, 0)])
        finished = np.flatnonzero(done)
        take = min(len(finished), n_sessions - next_session)
        slot_sess[finished] = -1
        slot_sess[finished[:take]] = np.arange(next_session, next_session + take)
        pos[finished] = 0
        next_session += take
        new = np.zeros(B, bool)
        new[finished[:take]] = True
        t += 1
    return Schedule(inputs[:t], targets[:t], starts_m[:t], active_m[:t], session_m[:t], position_m[:t], ids, lengths)


@dataclass(frozen=True)
class Block:
    """Consecutive steps of a schedule computed with fewer slots (see :func:`shrink_schedule`).

    Attributes:
        schedule: the block's steps as a :class:`Schedule` of ``width`` slots (``session_order``
            and ``session_length`` are those of the whole schedule).
        first_step: index of the block's first step in the whole schedule.
        slots: (width,) slot of the whole schedule that each slot of the block holds (-1: idle).
        carry: (width,) slot of the previous block whose state each slot continues (-1: none; for
            the first block, the slot of the whole schedule).
    """

    schedule: Schedule
    first_step: int
    slots: np.ndarray
    carry: np.ndarray

    @property
    def width(self) -> int:
        """Number of slots computed at each step of the block."""
        return self.schedule.inputs.shape[1]


def _slots_in_use(schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """``(used, last_active)``: slots with a pair at step t or later (non-increasing in t), and
    each slot's last step with a pair (-1: never)."""
    n_steps, B = schedule.inputs.shape
    ever = schedule.active.any(axis=0)
    last_active = np.where(ever, n_steps - 1 - np.argmax(schedule.active[::-1], axis=0), -1)
    used = B - np.searchsorted(np.sort(last_active), np.arange(n_steps), side="left")
    return used, last_active


def _width_per_step(used: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """The smallest of ``widths`` (decreasing, first = full width) holding ``used[t]`` slots."""
    fits = widths[None, :] >= used[:, None]
    return widths[np.maximum(fits.sum(axis=1) - 1, 0)]


def shrink_schedule(schedule: Schedule, widths: tuple[int, ...] | None = None, min_width: int = 1) -> list[Block]:
    """Split a schedule into blocks of decreasing width so idle slots are not computed.

    Once no session is left to enter, finished slots stay idle (the official GRU4Rec code drops
    them and shrinks the mini-batch). Here a new block starts whenever the slots that still have
    pairs fit into a smaller allowed width (a few static shapes for compiled code). Remaining slots
    keep their order and their sessions continue (see ``Block.carry``); pairs, starts and sessions
    are those of ``schedule``, step for step.

    Args:
        schedule: a whole-epoch schedule (:func:`make_schedule`).
        widths: allowed widths below the full one (default: every power of two >= ``min_width``).
        min_width: smallest width when ``widths`` is None (>= 1).

    Returns:
        The blocks in step order; together they hold every pair of ``schedule`` exactly once.
    """
    if min_width < 1:
        raise ValueError(f"min_width must be >= 1, got {min_width}")
    n_steps, B = schedule.inputs.shape
    if widths is None:
        widths = tuple(1 << k for k in range(B.bit_length()) if min_width <= (1 << k) < B)
    allowed = np.array(sorted({B, *[int(w) for w in widths if 1 <= int(w) < B]}, reverse=True), np.int64)
    if n_steps == 0:
        return [Block(schedule, 0, np.arange(B), np.arange(B))]
    used, last_active = _slots_in_use(schedule)
    width = _width_per_step(used, allowed)
    bounds = np.r_[0, np.flatnonzero(np.diff(width)) + 1, n_steps]
    blocks: list[Block] = []
    prev_slots = np.arange(B)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        w = int(width[lo])
        keep = np.flatnonzero(last_active >= lo)
        slots = np.full(w, -1, np.int64)
        slots[: len(keep)] = keep
        pos_in_prev = np.full(B, -1, np.int64)
        pos_in_prev[prev_slots[prev_slots >= 0]] = np.flatnonzero(prev_slots >= 0)
        carry = np.where(slots >= 0, pos_in_prev[np.maximum(slots, 0)], -1)
        safe = np.maximum(slots, 0)
        idle = (slots < 0)[None, :]

        def cut(a, fill, safe=safe, idle=idle, lo=lo, hi=hi):
            return np.where(idle, fill, a[lo:hi][:, safe]).astype(a.dtype)

        sub = Schedule(cut(schedule.inputs, 0), cut(schedule.targets, 0), cut(schedule.starts, False),
                       cut(schedule.active, False), cut(schedule.session, -1), cut(schedule.position, -1),
                       schedule.session_order, schedule.session_length)
        blocks.append(Block(sub, int(lo), slots, carry))
        prev_slots = slots
    return blocks


def plan_widths(schedule: Schedule, passes: int = 1, step_overhead: float = 32.0,
                width_cost: float = 300_000.0, min_width: int = 1) -> tuple[int, ...]:
    """Choose the widths of :func:`shrink_schedule` that minimize an estimated compute cost.

    Cost model, in units of one slot's work in one step: a step of width w costs
    ``step_overhead + w``, every width beyond the full one costs ``width_cost`` once (compiling
    another static shape), and the schedule runs ``passes`` times (epochs). Every subset of the
    powers of two below the full width (>= ``min_width``) is tried; ties keep fewer widths.

    Returns:
        The chosen widths below the full one, decreasing (empty: do not shrink).
    """
    n_steps, B = schedule.inputs.shape
    candidates = [1 << k for k in range(B.bit_length()) if min_width <= (1 << k) < B][::-1]
    if n_steps == 0 or not candidates:
        return ()
    used, _ = _slots_in_use(schedule)
    best, best_cost = (), float(passes) * n_steps * (step_overhead + B)
    for mask in range(1, 1 << len(candidates)):
        chosen = tuple(w for i, w in enumerate(candidates) if mask >> i & 1)
        width = _width_per_step(used, np.array((B, *chosen), np.int64))
        cost = passes * float((step_overhead + width).sum()) + width_cost * len(chosen)
        if cost < best_cost:
            best, best_cost = chosen, cost
    return best


def occupancy(blocks: list[Block]) -> float:
    """Mean fraction of computed slots that hold a pair (pairs / sum of step widths)."""
    slots = sum(b.schedule.n_steps * b.width for b in blocks)
    return sum(b.schedule.n_pairs for b in blocks) / slots if slots else float("nan")


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
