"""Session-parallel iterator: every pair exactly once, never across sessions, resets right."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import session_lists

from sbrlib.data.batching import make_schedule, occupancy, plan_widths, shrink_schedule

sessions = session_lists  # event k has item 100+k: pairs identify events


def expected_pairs(ids, items) -> Counter:
    """Every within-session (current, next) pair of the event list."""
    expected = Counter()
    for k in range(len(ids) - 1):
        if ids[k] == ids[k + 1]:
            expected[(items[k], items[k + 1])] += 1
    return expected


@settings(max_examples=150, deadline=None)
@given(data=sessions(), batch_size=st.integers(1, 8))
def test_schedule_properties(data, batch_size):
    ids, items, times, lengths = data
    sch = make_schedule(ids, items, batch_size, times)
    expected = expected_pairs(ids, items)
    got = Counter(zip(sch.inputs[sch.active].tolist(), sch.targets[sch.active].tolist()))
    assert got == expected  # every pair exactly once, none across sessions
    assert sch.n_pairs == sum(lengths) - len(lengths)
    # a slot resets exactly when a new session enters it, and positions count from 0 there
    assert (sch.position[sch.starts] == 0).all()
    prev_sess = np.full(batch_size, -1)
    for t in range(sch.n_steps):
        changed = sch.active[t] & (sch.session[t] != prev_sess)
        assert (changed == sch.starts[t]).all()
        prev_sess = np.where(sch.active[t], sch.session[t], prev_sess)
    # sessions enter in order of first event time (stable on ties)
    first_times = times[np.r_[True, ids[1:] != ids[:-1]]]
    multi = np.asarray(lengths) >= 2
    entered = first_times[multi]
    order = np.argsort(entered, kind="stable")
    assert (sch.session_length == np.asarray(lengths)[multi][order]).all()
    first_step = {}
    for t in range(sch.n_steps):
        for s in sch.session[t][sch.starts[t]]:
            first_step.setdefault(int(s), t)
    steps = [first_step[s] for s in range(len(sch.session_order))]
    assert steps == sorted(steps)


def test_tiny_example():
    ids = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    items = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    sch = make_schedule(ids, items, batch_size=2)
    assert sch.inputs.tolist() == [[1, 4], [2, 6], [0, 7]]
    assert sch.targets.tolist() == [[2, 5], [3, 7], [0, 8]]
    assert sch.starts.tolist() == [[True, True], [False, True], [False, False]]
    assert sch.active.tolist() == [[True, True], [True, True], [False, True]]


@settings(max_examples=150, deadline=None)
@given(data=sessions(), batch_size=st.integers(1, 12), widths=st.none() | st.lists(st.integers(1, 12), max_size=4))
def test_shrunk_schedule_properties(data, batch_size, widths):
    """Shrinking the batch keeps every pair exactly once, none across sessions, and resets exactly
    where a session starts, while sessions continue across blocks in their carried slot."""
    ids, items, times, lengths = data
    sch = make_schedule(ids, items, batch_size, times)
    blocks = shrink_schedule(sch, widths)
    got = Counter()
    for b in blocks:
        got.update(zip(b.schedule.inputs[b.schedule.active].tolist(), b.schedule.targets[b.schedule.active].tolist()))
    assert got == expected_pairs(ids, items)
    assert sum(b.schedule.n_steps for b in blocks) == sch.n_steps
    assert [b.first_step for b in blocks] == sorted({b.first_step for b in blocks})
    allowed = {batch_size, *(w for w in (widths if widths is not None else [1 << k for k in range(4)]) if w < batch_size)}
    assert all(b.width in allowed for b in blocks)
    assert all(a.width > b.width for a, b in zip(blocks, blocks[1:]))
    # follow each slot's session through the blocks: a slot changes session exactly at a start
    held = None
    for b in blocks:
        cur = np.full(b.width, -1) if held is None else np.where(b.carry >= 0, held[np.maximum(b.carry, 0)], -1)
        for t in range(b.schedule.n_steps):
            active, session = b.schedule.active[t], b.schedule.session[t]
            assert ((active & (session != cur)) == b.schedule.starts[t]).all()
            cur = np.where(active, session, cur)
            # the block's slot holds the same session as the whole schedule's slot it stands for
            full = sch.session[b.first_step + t]
            rows = np.flatnonzero(active)
            assert (session[rows] == full[b.slots[rows]]).all()
        held = cur
    if sch.n_steps:
        assert occupancy(blocks) >= sch.n_pairs / (sch.n_steps * batch_size) - 1e-12


def test_shrink_tiny_example():
    ids = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    sch = make_schedule(ids, np.arange(len(ids)) + 1, batch_size=4)
    blocks = shrink_schedule(sch)
    assert [b.width for b in blocks] == [4, 2, 1]
    assert blocks[1].slots.tolist() == [0, 2] and blocks[2].carry.tolist() == [1]
    assert blocks[2].schedule.inputs.ravel().tolist() == [8, 9, 10]
    assert occupancy(blocks) == sch.n_pairs / (4 + 2 + 3)


def test_plan_widths_trades_compilations_for_idle_slots():
    lengths = [60] + [2] * 40  # one long session keeps a single slot busy for a long tail
    ids = np.repeat(np.arange(len(lengths)), lengths)
    sch = make_schedule(ids, np.arange(len(ids)), batch_size=16)
    assert plan_widths(sch, passes=1, width_cost=1e12) == ()
    cheap = plan_widths(sch, passes=10, width_cost=0.0, step_overhead=0.0)
    assert cheap and occupancy(shrink_schedule(sch, cheap)) > occupancy(shrink_schedule(sch, ()))
