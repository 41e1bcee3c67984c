"""The SASRec recommender: ``fit``, the evaluator's ``reset``/``step``, ``recommend``, ``save``/``load``."""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib._tf import HAS_GPU, tf
from sbrlib.batching import contiguous_sessions, session_offsets
from sbrlib.columns import ITEM, SESSION
from sbrlib.fileio import atomic_dir, write_json
from sbrlib.models.base import SessionModel
from sbrlib.models.sasrec import network as N
from sbrlib.models.sasrec.config import SASRecConfig
from sbrlib.models.sasrec.sequences import (
    TrainingRows,
    bucket_of,
    epoch_batches,
    length_buckets,
    take_batch,
    training_rows,
)
from sbrlib.preprocess import ItemIndex
from sbrlib.provenance import training_provenance

log = logging.getLogger(__name__)


class SASRec(SessionModel):
    """Self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

    Training: every training session becomes left-padded rows of up to ``max_len`` next-item pairs
    (:mod:`sbrlib.models.sasrec.sequences`); one XLA-compiled ``tf.function`` runs the forward pass,
    the loss and an Adam update per mini-batch. Inference (:meth:`step`): each evaluator slot keeps
    the last ``max_len`` items of its session in a numpy shift buffer; every step scores all slots
    in one compiled call, padded to the smallest length bucket that holds the longest active slot.

    Args:
        config: hyperparameters.
        name: display name (default ``"SASRec"``).
    """

    def __init__(self, config: SASRecConfig = SASRecConfig(), name: str = "SASRec") -> None:
        self.config = config
        self.name = name
        self.net: N.SASRecNet | None = None
        self.history = pd.DataFrame()
        self.provenance: dict = {}
        self._buckets = length_buckets(config.max_len)

    # ------------------------------------------------------------------ training

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = True,
            epoch_callback: Callable[[dict], None] | None = None) -> SASRec:
        """Train on sessionized events; evaluate ``valid`` after every epoch when given.

        Args:
            train: events with ``SessionId, ItemId`` (sessions in time order, as preprocessed).
            valid: held-out sessions scored after each epoch with :func:`sbrlib.evaluation.evaluate`
                (every prediction, or only the last of each session with
                ``config.validation_positions="last"``); used for early stopping.
            progress: show tqdm progress bars (loss and targets/s).
            epoch_callback: called with each epoch's history row (``epoch``, ``loss``, ``seconds``,
                ``events_per_second`` and validation metrics); it may raise to stop training (e.g.
                ``optuna.TrialPruned``), and the exception propagates.

        Returns:
            self; ``self.history`` holds one row per epoch.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        rows = self.build(train)
        rng = np.random.default_rng(cfg.seed)
        history, best, best_weights, waited, step = [], -np.inf, None, 0, 0
        for epoch in range(1, cfg.epochs + 1):
            batches = epoch_batches(rows, cfg.batch_size, rng)
            t0 = time.perf_counter()
            total_loss, total_n = 0.0, 0
            with tqdm(total=rows.n_targets, unit="ev", desc=f"SASRec epoch {epoch}/{cfg.epochs}",
                      disable=not progress, leave=False) as bar:
                for bucket, index in batches:
                    inp, tgt = take_batch(rows, bucket, index, cfg.batch_size)
                    loss_sum, n = self.train_batch(inp, tgt, step, rng, sessions=rows.sessions[bucket][index])
                    if not math.isfinite(loss_sum):
                        raise FloatingPointError(f"SASRec training diverged at epoch {epoch} (loss {loss_sum}); "
                                                 f"lower learning_rate (now {cfg.learning_rate})")
                    step += 1
                    total_loss += loss_sum
                    total_n += n
                    bar.update(n)
                    bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}",
                                    ev_s=f"{total_n / max(time.perf_counter() - t0, 1e-9):,.0f}")
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch, "loss": total_loss / max(total_n, 1), "seconds": seconds,
                   "events_per_second": total_n / max(seconds, 1e-9)}
            if valid is not None and len(valid):
                metrics = self._validate(valid)
                row.update(metrics)
                score = metrics[cfg.validation_metric]
                if score > best:
                    best, waited = score, 0
                    best_weights = self.get_weights() if cfg.early_stopping_patience is not None else None
                else:
                    waited += 1
            history.append(row)
            self.history = pd.DataFrame(history)
            log.info("SASRec epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
            if epoch_callback is not None:
                epoch_callback(dict(row))
            if cfg.early_stopping_patience is not None and valid is not None and waited > cfg.early_stopping_patience:
                log.info("early stopping after epoch %d (best %s = %.4f)", epoch, cfg.validation_metric, best)
                break
        if best_weights is not None:
            self.set_weights(best_weights)
        return self

    def build(self, train: pd.DataFrame) -> TrainingRows:
        """Item index, fresh network and compiled functions for ``train``; returns its training rows.

        (:meth:`fit` calls it; benchmarks call it and then :meth:`train_batch` directly.)
        """
        cfg = self.config
        self.provenance = training_provenance(train, cfg.to_dict())
        events = contiguous_sessions(train)
        self.item_index = ItemIndex.from_events(events)
        idx = self.item_index.to_idx(events[ITEM].to_numpy())
        rows = training_rows(events[SESSION].to_numpy(), idx, cfg.max_len, cfg.long_sequences, stride=cfg.stride)
        if rows.n_targets == 0:
            raise ValueError("SASRec.fit: no session with at least 2 events in the training data")
        self._history = None
        if cfg.loss == "bce":  # negatives are drawn outside each session's items (rank = rows.sessions)
            _, lengths, _ = session_offsets(events[SESSION].to_numpy())
            self._history = N.history_keys(np.repeat(np.arange(len(lengths)), lengths), idx, len(self.item_index))
        self.net = N.build_network(len(self.item_index), cfg)
        self._build_functions()
        self._p_sample = None
        if cfg.loss == "sampled-softmax":
            self._p_sample = np.exp(N.sampling_log_probs(self.item_index.support, cfg.sample_alpha))
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

    def _validate(self, valid: pd.DataFrame) -> dict[str, float]:
        from sbrlib.evaluation import EvalConfig
        from sbrlib.loo import evaluate_positions

        cfg = self.config
        ks = tuple(sorted({10, 20, int(cfg.validation_metric.split("@")[-1])}))
        res = evaluate_positions(self, valid, EvalConfig(ks=ks, coverage_ks=(), batch_size=cfg.eval_batch_size),
                                 positions=cfg.validation_positions, progress=False)
        keep = {"recall@10", "ndcg@10", "recall@20", "mrr@20", cfg.validation_metric}
        return {k: float(res.metrics[k]) for k in sorted(keep)}

    def _build_functions(self) -> None:
        cfg, net = self.config, self.net
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
            hidden = net(ids, training=False)
            return tf.matmul(hidden[:, -1, :], net.item_table(), transpose_b=True)

        def score_all(ids):
            return tf.einsum("btd,nd->btn", net(ids, training=False), net.item_table())

        def score_incremental(ids, positions, caches):
            hidden = net.call_incremental(ids, positions, caches)
            return tf.matmul(hidden, net.item_table(), transpose_b=True)

        jit = HAS_GPU if cfg.jit_compile is None else cfg.jit_compile
        self._train_step = tf.function(train_step, jit_compile=jit, reduce_retracing=True)
        self._score_last = tf.function(score_last, jit_compile=jit, reduce_retracing=True)
        self._score_incremental = tf.function(score_incremental, jit_compile=jit, reduce_retracing=True)
        self._score_all = tf.function(score_all)

    # ------------------------------------------------------------------ weights

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copy of all weights by name."""
        return {k: np.array(v.numpy()) for k, v in self.net.named_variables().items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assign weights by name (from :meth:`get_weights`)."""
        for key, var in self.net.named_variables().items():
            var.assign(weights[key])

    # ------------------------------------------------------------------ scoring

    @property
    def context_length(self) -> int:
        """Most recent items the scores depend on (``max_len``): scoring only the last prediction of
        a session needs only its last ``max_len + 1`` events (see :func:`sbrlib.loo.evaluate_positions`)."""
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

    # ------------------------------------------------------------------ recommend / save / load

    def recommend(self, item_ids, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` next items for a session given as original item ids (oldest first).

        Unknown ids are ignored with a warning; an empty session gets the most popular items.
        Equal scores are ordered by item index (deterministic).

        Returns:
            DataFrame ``ItemId, Score``, best first.
        """
        ids = np.asarray(list(item_ids), dtype=np.int64)
        known = self.item_index.contains(ids) if len(ids) else np.zeros(0, bool)
        if (~known).any():
            warnings.warn(f"ignoring item ids unknown to the model: {ids[~known].tolist()}", UserWarning, stacklevel=2)
        idx = self.item_index.to_idx(ids[known])
        if len(idx) == 0:
            scores = self.popularity().astype(np.float32)
        else:
            window = idx[-self.config.max_len:]
            T = self._buckets[int(bucket_of(np.array([len(window)]), self._buckets)[0])]
            row = np.zeros((1, T), np.int32)
            row[0, T - len(window):] = window + 1
            scores = self._score_last(tf.constant(row)).numpy()[0].copy()
            if exclude_seen:
                scores[idx] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.lexsort((np.arange(len(scores)), -scores))[:k]
        return pd.DataFrame({ITEM: self.item_index.to_ids(top), "Score": scores[top]})

    def save(self, folder: str | Path) -> Path:
        """Write config, item index, weights, training history and provenance to ``folder`` atomically."""
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            (tmp / "config.json").write_text(json.dumps({"name": self.name, **self.config.to_dict()}, indent=2))
            self.item_index.to_frame().to_parquet(tmp / "items.parquet", index=False)
            np.savez(tmp / "weights.npz", **self.get_weights())
            self.history.to_csv(tmp / "history.csv", index=False)
            write_json(tmp / "provenance.json", self.provenance)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SASRec:
        """Inverse of :meth:`save`."""
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} holds no saved SASRec model (config.json missing); "
                                    "train one with SASRec(...).fit(train) and .save(folder) first")
        data = json.loads((folder / "config.json").read_text())
        name = data.pop("name", "SASRec")
        model = cls(SASRecConfig(**data), name=name)
        model.item_index = ItemIndex.from_frame(pd.read_parquet(folder / "items.parquet"))
        model.net = N.build_network(len(model.item_index), model.config)
        model._build_functions()
        with np.load(folder / "weights.npz") as weights:
            model.set_weights({k: weights[k] for k in weights.files})
        if (folder / "history.csv").is_file() and (folder / "history.csv").stat().st_size > 1:
            model.history = pd.read_csv(folder / "history.csv")
        if (folder / "provenance.json").is_file():
            model.provenance = json.loads((folder / "provenance.json").read_text())
        return model
