"""Training rows for SASRec: sessions -> left-padded (input, target) sequences, bucketed by length.

A session ``s_0 .. s_{n-1}`` gives ``n - 1`` next-item pairs ``(s_j -> s_{j+1})``. A row holds up to
``max_len`` consecutive pairs: inputs ``s_a .. s_b`` and targets ``s_{a+1} .. s_{b+1}``. Sessions with
more than ``max_len`` pairs are cut, counted from the end, into windows of ``max_len`` pairs
(``"windows"``: every pair is trained once per epoch; the oldest window may be shorter) or only the
last window is kept (``"last"``, the original SASRec). Every row is a sequence of its own: its
positions count from its first item, exactly as at inference time, where the model sees the last
``min(len, max_len)`` items of a session.

Rows are left-padded with 0 (item ids are shifted by +1, so 0 never names an item) to the smallest
length bucket (16, 32, 64, ... , ``max_len``) that holds them: short sessions are not padded to
``max_len``, and XLA compiles one program per bucket. Everything is vectorized (no per-event loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sbrlib.batching import session_offsets

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
    """

    buckets: tuple[int, ...]
    inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]

    @property
    def n_rows(self) -> int:
        """Number of rows (sequences)."""
        return sum(len(a) for a in self.inputs)

    @property
    def n_targets(self) -> int:
        """Number of (input, target) pairs."""
        return int(sum((t > 0).sum() for t in self.targets))


def training_rows(session_ids: np.ndarray, items: np.ndarray, max_len: int,
                  long_sequences: str = "windows", smallest_bucket: int = 16) -> TrainingRows:
    """Cut sessions into left-padded training rows (see module docstring).

    Args:
        session_ids: (n_events,) session of each event; sessions contiguous, events in order.
        items: (n_events,) item indices (0-based).
        max_len: most pairs per row.
        long_sequences: ``"windows"`` or ``"last"``.
        smallest_bucket: smallest padded length.

    Returns:
        A :class:`TrainingRows`. Sessions with fewer than 2 events contribute nothing.
    """
    if long_sequences not in ("windows", "last"):
        raise ValueError(f"long_sequences must be 'windows' or 'last', got {long_sequences!r}")
    items = np.asarray(items, np.int64)
    starts, lengths, _ = session_offsets(session_ids)
    keep = lengths >= 2
    starts, n_pairs = starts[keep], lengths[keep] - 1
    buckets = length_buckets(max_len, smallest_bucket)
    if not len(starts):
        empty = tuple(np.zeros((0, b), np.int32) for b in buckets)
        return TrainingRows(buckets, empty, empty)
    sess = np.repeat(np.arange(len(starts)), n_pairs)                       # session of each pair
    j = np.arange(len(sess)) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)  # pair index in session
    from_end = n_pairs[sess] - 1 - j
    chunk = from_end // max_len                                             # 0 = the last window
    if long_sequences == "last":
        sel = chunk == 0
        sess, j, from_end, chunk = sess[sel], j[sel], from_end[sel], chunk[sel]
        rows_per_session = np.ones(len(starts), np.int64)
    else:
        rows_per_session = (n_pairs + max_len - 1) // max_len
    row_offset = np.cumsum(rows_per_session) - rows_per_session
    row = row_offset[sess] + chunk
    n_rows = int(rows_per_session.sum())
    row_len = np.bincount(row, minlength=n_rows)
    row_bucket = bucket_of(row_len, buckets)
    local = np.zeros(n_rows, np.int64)                                      # row number inside its bucket
    for b in range(len(buckets)):
        in_b = row_bucket == b
        local[in_b] = np.arange(int(in_b.sum()))
    k = from_end % max_len                                                  # distance from the row's end
    src = starts[sess] + j
    inputs, targets = [], []
    for b, T in enumerate(buckets):
        n_b = int((row_bucket == b).sum())
        inp = np.zeros((n_b, T), np.int32)
        tgt = np.zeros((n_b, T), np.int32)
        sel = row_bucket[row] == b
        r, c = local[row[sel]], T - 1 - k[sel]
        inp[r, c] = items[src[sel]] + 1
        tgt[r, c] = items[src[sel] + 1] + 1
        inputs.append(inp)
        targets.append(tgt)
    return TrainingRows(buckets, tuple(inputs), tuple(targets))


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
