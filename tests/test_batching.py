"""Session-parallel iterator: every pair exactly once, never across sessions, resets right."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sbrlib.batching import make_schedule


@st.composite
def sessions(draw):
    lengths = draw(st.lists(st.integers(1, 9), min_size=1, max_size=30))
    ids = np.repeat(np.arange(len(lengths)) * 10 + 3, lengths)
    items = np.arange(len(ids)) + 100  # event k has item 100+k: pairs identify events
    start_times = draw(st.lists(st.integers(0, 5), min_size=len(lengths), max_size=len(lengths)))
    times = np.repeat(start_times, lengths) + np.concatenate([np.arange(n) for n in lengths])
    return ids, items, times, lengths


@settings(max_examples=150, deadline=None)
@given(data=sessions(), batch_size=st.integers(1, 8))
def test_schedule_properties(data, batch_size):
    ids, items, times, lengths = data
    sch = make_schedule(ids, items, batch_size, times)
    # the expected within-session pairs
    expected = Counter()
    for k in range(len(ids) - 1):
        if ids[k] == ids[k + 1]:
            expected[(items[k], items[k + 1])] += 1
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
