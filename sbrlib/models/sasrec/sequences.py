"""Training rows for SASRec: sessions -> left-padded (input, target) sequences, bucketed by length.

A session ``s_0 .. s_{n-1}`` gives ``n - 1`` next-item pairs ``(s_j -> s_{j+1})``. A row holds up to
``max_len`` consecutive pairs: inputs ``s_a .. s_b`` and targets ``s_{a+1} .. s_{b+1}``. Sessions with
more than ``max_len`` pairs are cut, counted from the end, into windows of ``max_len`` pairs:

* ``"windows"``: consecutive non-overlapping windows (every pair is trained once per epoch; the oldest
  window may be shorter). A target near the start of a window sees fewer than ``max_len`` items of
  history although its session has more.
* ``"sliding"``: windows of ``max_len`` pairs ending every ``stride`` pairs (counted from the last
  pair), each training only its last ``stride`` targets (the window starting at the session's first
  pair trains all of its targets). Every pair is trained once per epoch and the target of pair ``j``
  (0-based) sees ``min(j + 1, max_len)`` items with ``stride=1`` (per-prefix training), at least
  ``min(j + 1, max_len - stride + 1)`` otherwise; the other cells of a row are history only
  (target 0). ``stride >= max_len`` gives ``"windows"``.
* ``"last"``: only the last window (the original SASRec, which drops older items).

Every row is a sequence of its own: its
positions count from its first item, exactly as at inference time, where the model sees the last
``min(len, max_len)`` items of a session.

Rows are left-padded with 0 (item ids are shifted by +1, so 0 never names an item) to the smallest
length bucket (16, 32, 64, ... , ``max_len``) that holds them: short sessions are not padded to
``max_len``, and XLA compiles one program per bucket. Everything is vectorized (no per-event loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sbrlib.data.batching import session_offsets

PAD = 0
"""Padding id; item index ``i`` is stored as ``i + 1``."""


def length_buckets(max_len: int, smallest: int = 16) -> tuple[int, ...]:
    """Padded lengths used for batches: powers of two from ``smallest`` below ``max_len``, then ``max_len``."""
    out, b = [], smallest
    while b < max_len:
        out.append(b)
        b *= 2
    return (*out, max_len)


def bucket_of(lengths: np.ndarray, buckets: tuple[int, ...]) -> np.ndarray:
    """Index of the smallest bucket >= each length (lengths must be <= buckets[-1])."""
    return np.searchsorted(np.asarray(buckets), np.asarray(lengths), side="left")


@dataclass(frozen=True)
class TrainingRows:
    """Left-padded training rows per length bucket.

    Attributes:
        buckets: padded length of each bucket.
        inputs: per bucket, (n_rows, T) int32 shifted item ids (0 = padding).
        targets: per bucket, (n_rows, T) int32 shifted next-item ids (0 = no target).
        sessions: per bucket, (n_rows,) int64 session of each row (its rank in the input's order
            of sessions, counting every session); empty when not recorded.
    """

    buckets: tuple[int, ...]
    inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    sessions: tuple[np.ndarray, ...] = ()

    @property
    def n_rows(self) -> int:
        """Number of rows (sequences)."""
        return sum(len(a) for a in self.inputs)

    @property
    def n_targets(self) -> int:
        """Number of (input, target) pairs."""
        return int(sum((t > 0).sum() for t in self.targets))


def _window_cells(n_pairs: np.ndarray, max_len: int, long_sequences: str, stride: int):
    """Rows of every session as cells: for each cell its session, pair index ``j``, row (global),
    distance from the row's end and whether its target is counted.

    A row is a window ``[a, b]`` of consecutive pairs (``b - a < max_len``); rows are listed per
    session from its last window (``k = 0``) to its first.
    """
    n_sess = len(n_pairs)
    if long_sequences == "sliding":
        rows_per_session = 1 + -(-np.maximum(n_pairs - max_len, 0) // stride)       # 1 + ceil(excess / stride)
        step = stride
    elif long_sequences == "windows":
        rows_per_session = -(-n_pairs // max_len)
        step = max_len
    else:  # "last"
        rows_per_session = np.ones(n_sess, np.int64)
        step = max_len
    n_rows = int(rows_per_session.sum())
    row_sess = np.repeat(np.arange(n_sess), rows_per_session)
    row_offset = np.cumsum(rows_per_session) - rows_per_session
    k = np.arange(n_rows) - row_offset[row_sess]                                   # 0 = the last window
    end = n_pairs[row_sess] - 1 - k * step                                         # b: last pair of the row
    start = np.maximum(end - max_len + 1, 0)                                       # a: first pair of the row
    row_len = end - start + 1
    first = k == rows_per_session[row_sess] - 1                                    # the row starting at pair 0
    cell_row = np.repeat(np.arange(n_rows), row_len)
    from_end = np.arange(len(cell_row)) - np.repeat(np.cumsum(row_len) - row_len, row_len)
    from_end = row_len[cell_row] - 1 - from_end                                    # 0 = the row's last cell
    j = end[cell_row] - from_end
    counted = first[cell_row] | (from_end < step)
    return row_sess[cell_row], j, cell_row, from_end, counted, row_len, n_rows


def training_rows(session_ids: np.ndarray, items: np.ndarray, max_len: int,
                  long_sequences: str = "windows", smallest_bucket: int = 16, stride: int = 1) -> TrainingRows:
    """Cut sessions into left-padded training rows (see module docstring).

    Args:
        session_ids: (n_events,) session of each event; sessions contiguous, events in order.
        items: (n_events,) item indices (0-based).
        max_len: most pairs per row.
        long_sequences: ``"windows"``, ``"sliding"`` or ``"last"``.
        smallest_bucket: smallest padded length.
        stride: ``"sliding"`` only: distance between the ends of consecutive windows of a session.

    Returns:
        A :class:`TrainingRows`. Sessions with fewer than 2 events contribute nothing. Inputs that
        only serve as history (``"sliding"``: pairs trained in a later window) have target 0.
    """
    if long_sequences not in ("windows", "sliding", "last"):
        raise ValueError(f"long_sequences must be 'windows', 'sliding' or 'last', got {long_sequences!r}")
    if int(stride) < 1:
        raise ValueError(f"training_rows: stride must be >= 1, got {stride}")
    items = np.asarray(items, np.int64)
    starts, lengths, _ = session_offsets(session_ids)
    keep = lengths >= 2
    starts, n_pairs = starts[keep], (lengths[keep] - 1).astype(np.int64)
    buckets = length_buckets(max_len, smallest_bucket)
    if not len(starts):
        empty = tuple(np.zeros((0, b), np.int32) for b in buckets)
        return TrainingRows(buckets, empty, empty, tuple(np.zeros(0, np.int64) for _ in buckets))
    sess, j, row, k, counted, row_len, n_rows = _window_cells(n_pairs, max_len, long_sequences, int(stride))
    row_session = np.zeros(n_rows, np.int64)
    row_session[row] = np.flatnonzero(keep)[sess]                           # rank among all sessions
    row_bucket = bucket_of(row_len, buckets)
    local = np.zeros(n_rows, np.int64)                                      # row number inside its bucket
    for b in range(len(buckets)):
        in_b = row_bucket == b
        local[in_b] = np.arange(int(in_b.sum()))
    src = starts[sess] + j
    inputs, targets, sessions = [], [], []
    for b, T in enumerate(buckets):
        n_b = int((row_bucket == b).sum())
        in_b = np.zeros(n_b, np.int64)
        in_b[local[row_bucket == b]] = row_session[row_bucket == b]
        sessions.append(in_b)
        inp = np.zeros((n_b, T), np.int32)
        tgt = np.zeros((n_b, T), np.int32)
        sel = row_bucket[row] == b
        r, c = local[row[sel]], T - 1 - k[sel]
        inp[r, c] = items[src[sel]] + 1
        tgt[r, c] = np.where(counted[sel], items[src[sel] + 1] + 1, 0)
        inputs.append(inp)
        targets.append(tgt)
    return TrainingRows(buckets, tuple(inputs), tuple(targets), tuple(sessions))


def epoch_batches(rows: TrainingRows, batch_size: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """One epoch's mini-batches: ``(bucket, row indices)`` with rows shuffled inside each bucket and
    batches shuffled across buckets. The last batch of a bucket may be smaller than ``batch_size``."""
    batches = []
    for b, inp in enumerate(rows.inputs):
        perm = rng.permutation(len(inp))
        batches += [(b, perm[i: i + batch_size]) for i in range(0, len(perm), batch_size)]
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def take_batch(rows: TrainingRows, bucket: int, index: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the rows ``index`` of ``bucket``, padded with empty rows to ``batch_size``."""
    inp, tgt = rows.inputs[bucket][index], rows.targets[bucket][index]
    pad = batch_size - len(index)
    if pad:
        zeros = np.zeros((pad, inp.shape[1]), np.int32)
        inp, tgt = np.concatenate([inp, zeros]), np.concatenate([tgt, zeros])
    return inp, tgt
