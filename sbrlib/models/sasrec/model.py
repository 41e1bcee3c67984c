"""The SASRec recommender: one training epoch (for :func:`sbrlib.training.fit`), ``fit``, the
evaluator's ``reset``/``step`` (weights and save/load: :class:`~sbrlib.models.neural.NeuralModel`)."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, SESSION
from sbrlib.core.provenance import training_provenance
from sbrlib.core.tf import HAS_GPU, tf
from sbrlib.core.training_facts import TrainingFacts
from sbrlib.data.batching import contiguous_sessions, session_offsets
from sbrlib.data.item_index import ItemIndex
from sbrlib.models.epochs import MOVED, fit_epochs
from sbrlib.models.neural import NeuralModel
from sbrlib.models.sasrec import network as N
from sbrlib.models.sasrec.config import SASRecConfig
from sbrlib.models.sasrec.sequences import (
    TrainingRows,
    epoch_batches,
    take_batch,
    training_rows,
)

log = logging.getLogger(__name__)


class SASRec(NeuralModel):
    """Self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

    Training: every training session becomes left-padded rows of up to ``max_len`` next-item pairs
    (:mod:`sbrlib.models.sasrec.sequences`); one XLA-compiled ``tf.function`` runs the forward pass,
    the loss and an Adam update per mini-batch. Inference (:meth:`step`): each evaluator slot keeps
    the last ``max_len`` items of its session in a numpy shift buffer; every step scores all slots
    in one compiled call, padded to the smallest length bucket that holds the longest active slot.
    The evaluator prefers :meth:`score_windows` (batched windows of the last ``max_len`` items).

    Args:
        config: hyperparameters.
        name: display name (default ``"SASRec"``).

    Recommendations for a session: :func:`sbrlib.recommend.recommend` (the same for every model).
    """

    family = "sasrec"
    config_class = SASRecConfig

    def __init__(self, config: SASRecConfig = SASRecConfig(), name: str = "SASRec") -> None:
        self.config = config
        self.name = name
        self.net: N.SASRecNet | None = None
        self.history = pd.DataFrame()
        self.provenance: dict = {}
        self.titles: pd.Series | None = None
        self.training_facts: TrainingFacts | None = None

    # ------------------------------------------------------------------ training

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = True) -> SASRec:
        """Train ``config.epochs`` epochs on sessionized events, without validation.

        Validation, early stopping, a time budget and restore-best: :func:`sbrlib.training.fit`.

        Args:
            train: events with ``SessionId, ItemId`` (sessions in time order, as preprocessed).
            valid: not accepted any more (raises, naming :func:`sbrlib.training.fit`).
            progress: show tqdm progress bars (loss and targets/s).

        Returns:
            self; ``self.history`` holds one row per epoch, ``self.training_facts`` the run's facts.

        Raises:
            FloatingPointError: when the loss becomes NaN or infinite.
        """
        if valid is not None:
            raise TypeError(f"SASRec.fit(train, valid): {MOVED}")
        fit_epochs(self, train, self.config.epochs, progress)
        return self

    def prepare_training(self, train: pd.DataFrame) -> None:
        """:meth:`build` plus the seeded batch-order/negatives generator and the step counter."""
        self.history = pd.DataFrame()
        self.training_facts = None
        self._training = {"rows": self.prepare(train), "rng": np.random.default_rng(self.config.seed), "step": 0,
                          "epoch": 0}

    def train_epoch(self, progress: bool = False) -> dict[str, float]:
        """One pass over the training rows in a fresh seeded order.

        Returns:
            ``loss`` (mean per target; NaN/inf reported, not raised: the epoch ends at the first
            non-finite batch), ``events`` (targets) and ``seconds``.
        """
        from sbrlib.core.progress import tqdm

        cfg, run = self.config, self._training
        rows, rng = run["rows"], run["rng"]
        run["epoch"] += 1
        batches = epoch_batches(rows, cfg.batch_size, rng)
        t0 = time.perf_counter()
        total_loss, total_n = 0.0, 0
        with tqdm(total=rows.n_targets, unit="pair", desc=f"SASRec epoch {run['epoch']}", disable=not progress,
                  leave=False) as bar:
            for bucket, index in batches:
                inp, tgt = take_batch(rows, bucket, index, cfg.batch_size)
                loss_sum, n = self.train_batch(inp, tgt, run["step"], rng, sessions=rows.sessions[bucket][index])
                run["step"] += 1
                total_loss += loss_sum
                total_n += n
                if not math.isfinite(loss_sum):
                    return {"loss": loss_sum, "events": total_n, "seconds": time.perf_counter() - t0}
                bar.update(n)
                bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}",
                                pairs_per_s=f"{total_n / max(time.perf_counter() - t0, 1e-9):,.0f}")
        return {"loss": total_loss / max(total_n, 1), "events": total_n, "seconds": time.perf_counter() - t0}

    def prepare(self, train: pd.DataFrame) -> TrainingRows:
        """Provenance, item index, fresh network and compiled functions for ``train`` (through
        :meth:`build`); returns its training rows.

        (:meth:`prepare_training` calls it; benchmarks call it and then :meth:`train_batch` directly.)
        """
        cfg = self.config
        self.provenance = training_provenance(train, cfg.to_dict())
        events = contiguous_sessions(train)
        item_index = ItemIndex.from_events(events)
        idx = item_index.to_idx(events[ITEM].to_numpy())
        rows = training_rows(events[SESSION].to_numpy(), idx, cfg.max_len, cfg.long_sequences, stride=cfg.stride)
        if rows.n_targets == 0:
            raise ValueError("SASRec.fit: no session with at least 2 events in the training data")
        self.build(item_index)
        self._history = None
        if cfg.loss == "bce":  # negatives are drawn outside each session's items (rank = rows.sessions)
            _, lengths, _ = session_offsets(events[SESSION].to_numpy())
            self._history = N.history_keys(np.repeat(np.arange(len(lengths)), lengths), idx, len(self.item_index))
        return rows

    def train_batch(self, inputs: np.ndarray, targets: np.ndarray, step: int,
                    rng: np.random.Generator, sessions: np.ndarray | None = None) -> tuple[float, int]:
        """One compiled training step (forward, loss, Adam update) on a padded batch.

        Args:
            inputs, targets: (batch_size, T) shifted ids (see :mod:`~sbrlib.models.sasrec.sequences`).
            step: global step number (seeds dropout).
            rng: draws the negatives of the sampled losses (``"bce"``: one per position).
            sessions: session of each real row (``TrainingRows.sessions``); ``"bce"`` draws its
                negatives outside those sessions' items (None: outside the rows' items only).

        Returns:
            ``(sum of the batch's target losses, number of targets)``.
        """
        cfg = self.config
        n_items = len(self.item_index)
        if cfg.loss == "cross-entropy":
            negatives = np.zeros(1, np.int32)
        elif cfg.loss == "bce":  # one negative per position, outside the row's items
            negatives = N.row_negatives(inputs, targets, n_items, rng, sessions=sessions,
                                        history=getattr(self, "_history", None))
        elif self._p_sample is None:  # gBCE: uniform negatives
            negatives = rng.integers(0, n_items, cfg.n_negatives).astype(np.int32)
        else:
            negatives = rng.choice(n_items, cfg.n_negatives, p=self._p_sample).astype(np.int32)
        loss_sum, n = self._train_step(tf.constant(inputs), tf.constant(targets), tf.constant(negatives),
                                       tf.constant(step, tf.int32))
        return float(loss_sum), int(n)

    def _make_network(self, n_items: int) -> N.SASRecNet:
        return N.build_network(n_items, self.config)

    def _build_functions(self) -> None:
        cfg, net = self.config, self.net
        self._p_sample = None  # sampling probabilities of the negatives of sampled-softmax
        if cfg.loss == "sampled-softmax":
            self._p_sample = np.exp(N.sampling_log_probs(self.item_index.support, cfg.sample_alpha))
        variables = list(net.named_variables().values())
        tf_vars = [v.value for v in variables]
        m_slots = [tf.Variable(tf.zeros_like(v), trainable=False) for v in tf_vars]
        v_slots = [tf.Variable(tf.zeros_like(v), trainable=False) for v in tf_vars]
        self._opt_step = tf.Variable(0.0, trainable=False)
        lr, b1, b2, eps = cfg.learning_rate, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_eps
        n_items = len(self.item_index)
        log_p = None
        if cfg.loss == "sampled-softmax" and cfg.logq:
            log_p = tf.constant(N.sampling_log_probs(self.item_index.support, cfg.sample_alpha).astype(np.float32))
        beta = N.gbce_beta(cfg.n_negatives, n_items, cfg.gbce_t)

        def loss_fn(hidden, targets, negatives):
            items = net.item_table()
            if cfg.loss == "cross-entropy":
                return N.full_cross_entropy(hidden, targets, items)
            if cfg.loss == "sampled-softmax":
                return N.sampled_softmax(hidden, targets, items, negatives, log_p)
            if cfg.loss == "bce":
                return N.bce_one_negative(hidden, targets, items, negatives)
            return N.gbce(hidden, targets, items, negatives, beta)

        def train_step(ids, targets, negatives, step):
            seed = tf.stack([tf.constant(cfg.seed, tf.int32), step])
            with tf.GradientTape() as tape:
                hidden = net(ids, training=True, seed=seed)
                loss_sum, n = loss_fn(hidden, targets, negatives)
                objective = loss_sum / tf.maximum(n, 1.0)  # mean over the real targets of the batch
            grads = tape.gradient(objective, tf_vars)
            t = self._opt_step.assign_add(1.0)
            for var, g, m, v in zip(tf_vars, grads, m_slots, v_slots, strict=True):
                g = tf.convert_to_tensor(g)
                m.assign(b1 * m + (1 - b1) * g)
                v.assign(b2 * v + (1 - b2) * g * g)
                var.assign_sub(lr * (m / (1 - b1 ** t)) / (tf.sqrt(v / (1 - b2 ** t)) + eps))
            return loss_sum, n

        def score_last(ids):
            hidden = net(ids, training=False, last_only=True)
            return tf.matmul(hidden[:, -1, :], net.item_table(), transpose_b=True)

        def score_all(ids):
            return tf.einsum("btd,nd->btn", net(ids, training=False), net.item_table())

        def score_real(ids):  # scores after every real item, rows in row-major order of the items
            hidden = tf.boolean_mask(net(ids, training=False), ids > 0)
            return tf.matmul(hidden, net.item_table(), transpose_b=True)

        def score_incremental(ids, positions, caches):
            hidden = net.call_incremental(ids, positions, caches)
            return tf.matmul(hidden, net.item_table(), transpose_b=True)

        jit = HAS_GPU if cfg.jit_compile is None else cfg.jit_compile
        self._jit = jit
        self._train_step = tf.function(train_step, jit_compile=jit, reduce_retracing=True)
        self._score_last = tf.function(score_last, jit_compile=jit, reduce_retracing=True)
        self._score_incremental = tf.function(score_incremental, jit_compile=jit, reduce_retracing=True)
        self._score_all = tf.function(score_all)
        self._score_real = tf.function(score_real, reduce_retracing=True)

    # ------------------------------------------------------------------ scoring

    @property
    def context_length(self) -> int:
        """Most recent items the scores depend on (``max_len``): scoring only the last prediction of
        a session needs only its last ``max_len + 1`` events (see :func:`sbrlib.evaluation.evaluator.evaluate_positions`)."""
        return self.config.max_len

    def score_sequences(self, ids: np.ndarray) -> np.ndarray:
        """Scores after every position of left-padded sequences (the direct, non-incremental path).

        Args:
            ids: (B, T) item indices, -1 = padding (left), T <= max_len.

        Returns:
            (B, T, n_items) float32: row ``t`` scores the item following position ``t``.
        """
        ids = np.asarray(ids)
        return self._score_all(tf.constant((ids + 1).astype(np.int32))).numpy()

    def score_windows(self, windows: np.ndarray, every_position: bool = False) -> np.ndarray:
        """Scores of the next item after windows of at most ``context_length`` items, in one batched
        forward pass (the evaluator's fast path, see :func:`sbrlib.evaluation.evaluator.evaluate`).

        SASRec's scores after a prefix depend only on its last ``max_len`` items, so its prediction
        at input position ``p`` of a session is scored from the window of inputs
        ``max(0, p - max_len + 1) .. p``: what :meth:`step` returns there, up to float rounding
        (a full causal pass instead of the key/value cache).

        Args:
            windows: (N, T) item indices, -1 = padding (left), 1 <= T <= max_len; every row holds at
                least one item.
            every_position: False: the scores after each row's last item; True: the scores after
                every item of every row (a row of ``n`` items gives its ``n`` prefixes).

        Returns:
            float32, possibly a read-only view: (N, n_items); with ``every_position``
            (number of items in ``windows``, n_items), rows in row-major order of the items.
        """
        ids = np.asarray(windows)
        if ids.ndim != 2 or not 1 <= ids.shape[1] <= self.config.max_len:
            raise ValueError(f"SASRec.score_windows: windows must have shape (N, T) with 1 <= T <= max_len "
                             f"({self.config.max_len}), got {ids.shape}")
        n, T = ids.shape
        if self._jit and not every_position:  # XLA compiles once per shape: pad to a few shapes
            T_pad = min(-(-T // 16) * 16, self.config.max_len)
            n_pad = next(s for s in (4, 16, 64, 256, 1024, 4096, n) if s >= n)
            ids = np.pad(ids, ((0, n_pad - n), (T_pad - T, 0)), constant_values=-1)
            ids[n:, -1] = 0  # padding rows hold one item
        shifted = tf.constant((ids + 1).astype(np.int32))
        scores = np.asarray(self._score_real(shifted) if every_position else self._score_last(shifted))
        scores.flags.writeable = False  # TensorFlow's buffer, not a copy (the view keeps the tensor alive)
        return scores if every_position else scores[:n]

    def reset(self, batch_size: int) -> None:
        cfg = self.config
        self._buffer = np.zeros((batch_size, cfg.max_len), np.int32)
        self._count = np.zeros(batch_size, np.int64)
        if getattr(self, "_cache_batch", None) != batch_size:  # stale entries are masked: no need to zero
            shape = (batch_size, cfg.heads, cfg.max_len, cfg.dim // cfg.heads)
            self._caches = [(tf.Variable(tf.zeros(shape), trainable=False), tf.Variable(tf.zeros(shape), trainable=False))
                            for _ in range(cfg.blocks)]
            self._cache_batch = batch_size

    def step(self, items, starts, users=None, active=None):
        """Scores after appending ``items`` to every slot (see :class:`SessionModel`).

        While a slot holds at most ``max_len`` items, the new item is scored incrementally from the
        keys/values cached for the slot's earlier positions (exactly what full scoring gives, at a
        fraction of its cost). Once a session is longer, the window slides and every position
        shifts, so those slots (active ones only) are rescored from their last ``max_len`` items.
        """
        cfg = self.config
        starts = np.asarray(starts, bool)
        items = np.asarray(items, np.int32)
        buf = self._buffer
        buf[starts] = 0
        self._count[starts] = 0
        buf[:, :-1] = buf[:, 1:]
        buf[:, -1] = items + 1
        self._count += 1
        positions = np.minimum(self._count - 1, cfg.max_len - 1).astype(np.int32)
        scores = self._score_incremental(tf.constant(items + 1), tf.constant(positions), self._caches).numpy()
        over = self._count > cfg.max_len
        if active is not None:
            over &= np.asarray(active, bool)
        rows = np.flatnonzero(over)
        if len(rows):
            size = next(s for s in (4, 16, 64, 256, 1024, len(buf)) if s >= len(rows))
            window = np.zeros((size, cfg.max_len), np.int32)
            window[: len(rows)] = buf[rows]
            scores[rows] = self._score_last(tf.constant(window)).numpy()[: len(rows)]
        return scores
