"""GRU4Rec in TensorFlow / Keras 3, faithful to the papers and the official implementation.

* Hidasi, Karatzoglou, Baltrunas, Tikk: *Session-based recommendations with recurrent neural
  networks*, ICLR 2016 (session-parallel mini-batches, in-batch negatives).
* Hidasi & Karatzoglou: *Recurrent neural networks with top-k gains for session-based
  recommendations*, CIKM 2018 (extra shared negatives sampled by popularity^alpha, BPR-max,
  cross-entropy, constrained embedding).

What makes it faithful (and what third-party ports got wrong):

* session-parallel mini-batches (:mod:`sbrlib.batching`); the hidden state of a slot is zeroed
  inside the compiled step exactly when its session starts; the state is carried between steps
  (truncated BPTT of one step, as in the original);
* item embeddings looked up by index (no one-hot); ``embedding_dim=0`` is the one-hot-equivalent
  input: the first GRU layer's input weights are looked up per item;
* scores are computed only for the target + negatives: the other targets of the mini-batch plus
  ``n_sample`` shared items sampled ∝ support^``sample_alpha`` in bulk ahead of time;
* cross-entropy takes the softmax once, on logits (optional logQ correction); BPR-max applies the
  score regularization ``bpreg`` and ELU(``elu_param``) on scores;
* dropout rates are drop probabilities; Adagrad with (optionally Nesterov) momentum as in the
  official code, updating only the touched rows of item tables; or Adam;
* the loss is summed over the mini-batch and divided by ``batch_size``, as in the official code,
  so its learning rates transfer.

Training runs ``steps_per_call`` steps per call of one XLA-compiled ``tf.function``.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sbrlib._tf import keras, tf  # quiet TensorFlow import (no CUDA/absl lines without a GPU)
from sbrlib.batching import contiguous_sessions, make_schedule, schedule_from_frame
from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.fileio import atomic_dir, write_json
from sbrlib.models.base import SessionModel
from sbrlib.preprocess import ItemIndex
from sbrlib.provenance import training_provenance

log = logging.getLogger(__name__)

Loss = Literal["cross-entropy", "bpr-max"]


@dataclass(frozen=True)
class GRU4RecConfig:
    """Every hyperparameter of GRU4Rec, with documented defaults (official defaults where they exist).

    Attributes:
        layers: sizes of the stacked GRU layers.
        embedding_dim: input embedding size; 0 = one-hot-equivalent input (per-item lookup of the
            first layer's input weights). Ignored when ``constrained_embedding`` is True.
        constrained_embedding: share the input embedding with the output item vectors (its size is
            then ``layers[-1]``).
        loss: ``"cross-entropy"`` or ``"bpr-max"``.
        n_sample: extra negatives shared by the mini-batch per step (0: in-batch negatives only).
        sample_alpha: sampling probability ∝ support ** sample_alpha (0 uniform, 1 popularity).
        sample_cache_size: number of negative samples drawn in bulk at a time.
        full_softmax: score all items at each step (cross-entropy only; small catalogues).
        logq: weight of the logQ correction for cross-entropy (0 = off; 1 = full correction).
        bpreg: score regularization of BPR-max.
        elu_param: ELU alpha applied to scores for BPR-max (0 = linear).
        dropout_embed: drop probability on the input embedding.
        dropout_hidden: drop probability on the hidden output of every layer.
        optimizer: ``"adagrad"`` (official) or ``"adam"``.
        learning_rate: step size.
        momentum: Adagrad momentum (0 = none).
        nesterov: Nesterov variant of the momentum.
        adagrad_eps: epsilon of Adagrad.
        batch_size: parallel sessions per mini-batch.
        epochs: training epochs.
        steps_per_call: mini-batch steps per compiled call.
        jit_compile: compile the step functions with XLA.
        init_scale: weights are uniform in ±init_scale * sqrt(6 / (fan_in + fan_out)).
        eval_batch_size: parallel sessions when scoring (evaluation, validation).
        validation_metric: metric of :func:`sbrlib.evaluation.evaluate` checked after each epoch.
        early_stopping_patience: stop after this many epochs without improvement of the validation
            metric and restore the best weights (None = train all epochs).
        sequence_aware: at inference, start each session from the hidden state left by the same
            user's earlier sessions instead of zeros (requires :meth:`GRU4Rec.warm_start`).
        seed: seed of initialization, sampling and dropout.
    """

    layers: tuple[int, ...] = (100,)
    embedding_dim: int = 0
    constrained_embedding: bool = True
    loss: Loss = "cross-entropy"
    n_sample: int = 2048
    sample_alpha: float = 0.5
    sample_cache_size: int = 10_000_000
    full_softmax: bool = False
    logq: float = 0.0
    bpreg: float = 1.0
    elu_param: float = 0.5
    dropout_embed: float = 0.0
    dropout_hidden: float = 0.0
    optimizer: Literal["adagrad", "adam"] = "adagrad"
    learning_rate: float = 0.05
    momentum: float = 0.0
    nesterov: bool = False
    adagrad_eps: float = 1e-6
    batch_size: int = 64
    epochs: int = 10
    steps_per_call: int = 32
    jit_compile: bool = True
    init_scale: float = 1.0
    eval_batch_size: int = 512
    validation_metric: str = "recall@20"
    early_stopping_patience: int | None = None
    sequence_aware: bool = False
    seed: int = 42

    def __post_init__(self) -> None:
        if self.loss not in ("cross-entropy", "bpr-max"):
            raise ValueError(f"loss must be 'cross-entropy' or 'bpr-max', got {self.loss!r}")
        if self.optimizer not in ("adagrad", "adam"):
            raise ValueError(f"optimizer must be 'adagrad' or 'adam', got {self.optimizer!r}")
        if not self.layers or any(int(s) < 1 for s in self.layers):
            raise ValueError(f"layers must be positive sizes, got {self.layers}")
        for name in ("dropout_embed", "dropout_hidden"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} is a drop probability in [0, 1), got {getattr(self, name)}")
        if self.full_softmax and self.loss != "cross-entropy":
            raise ValueError("full_softmax is only defined for loss='cross-entropy'")
        if self.n_sample < 0 or self.batch_size < 1 or self.epochs < 0 or self.steps_per_call < 1:
            raise ValueError("n_sample >= 0, batch_size >= 1, epochs >= 0, steps_per_call >= 1 required")
        object.__setattr__(self, "layers", tuple(int(s) for s in self.layers))

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        return asdict(self)


class NegativeSampler:
    """Shared negative items drawn ∝ support ** alpha, in bulk (``cache_size`` at a time).

    Args:
        support: (n_items,) training counts.
        alpha: exponent of the sampling distribution.
        n_sample: negatives per step.
        cache_size: samples drawn per refill.
        seed: random seed.
    """

    def __init__(self, support: np.ndarray, alpha: float, n_sample: int, cache_size: int, seed: int) -> None:
        weights = np.asarray(support, dtype=np.float64) ** alpha
        self.cdf = np.cumsum(weights / weights.sum())
        self.n_sample = n_sample
        self.steps_per_refill = max(1, cache_size // max(n_sample, 1))
        self.rng = np.random.default_rng(seed)
        self._cache = np.zeros((0, n_sample), np.int32)
        self._pos = 0

    def take(self, steps: int) -> np.ndarray:
        """Negatives for ``steps`` steps, shape (steps, n_sample), int32."""
        out = []
        while steps > 0:
            if self._pos >= len(self._cache):
                rows = max(self.steps_per_refill, steps)
                draws = np.searchsorted(self.cdf, self.rng.random(rows * self.n_sample) * self.cdf[-1])
                self._cache = np.minimum(draws, len(self.cdf) - 1).astype(np.int32).reshape(rows, self.n_sample)
                self._pos = 0
            n = min(steps, len(self._cache) - self._pos)
            out.append(self._cache[self._pos: self._pos + n])
            self._pos += n
            steps -= n
        return np.concatenate(out) if out else np.zeros((0, self.n_sample), np.int32)


def build_network(n_items: int, config: GRU4RecConfig):
    """Create the Keras layer holding GRU4Rec's weights (see :class:`GRU4RecNet`)."""

    class GRU4RecNet(keras.layers.Layer):
        """Item embedding -> stacked GRU -> item scores.

        GRU step as in the official PyTorch GRU4Rec, i.e. ``torch.nn.GRUCell`` (reset gate applied
        after the recurrent product, separate input and recurrent biases):
        r = σ(x Wx_r + b_r + h Wh_r + bh_r), z = σ(x Wx_z + b_z + h Wh_z + bh_z),
        c = tanh(x Wx_c + b_c + r ∘ (h Wh_c + bh_c)), h' = (1 - z) ∘ c + z ∘ h.
        With the one-hot-equivalent input (``embedding_dim=0``), layer 0 is the official
        ``GRUEmbedding``: one bias, h' = (1 - z) ∘ h + z ∘ c.

        Weights: ``E`` (input embedding or one-hot-equivalent input table), per layer ``Wx``
        (input), ``Wh`` (recurrent), ``b``/``bh`` (biases), output item vectors ``Wy`` (= ``E``
        when constrained) and output biases ``By``.
        """

        def __init__(self, n_items: int, config: GRU4RecConfig) -> None:
            super().__init__(name="gru4rec")
            self.n_items, self.config = n_items, config
            rng_seed = config.seed
            layers = config.layers

            def uniform(shape, name, k, gates=1):
                # official init: U(±sqrt(6 / (fan_in + fan_out))) per gate matrix
                scale = config.init_scale * math.sqrt(6.0 / (shape[0] + shape[-1] / gates))
                init = keras.initializers.RandomUniform(-scale, scale, seed=rng_seed + k)
                return self.add_weight(shape=shape, initializer=init, name=name)

            self.sparse_names = {"E", "Wy", "By"}
            if config.constrained_embedding:
                self.E = uniform((n_items, layers[-1]), "E", 1)
                self.Wy = self.E
                in_dim = layers[-1]
                self.input_table = False
            elif config.embedding_dim > 0:
                self.E = uniform((n_items, config.embedding_dim), "E", 0)
                self.Wy = uniform((n_items, layers[-1]), "Wy", 1)
                in_dim = config.embedding_dim
                self.input_table = False
            else:  # one-hot-equivalent input: the first layer's input weights, looked up per item
                self.E = uniform((n_items, 3 * layers[0]), "E", 0, 3)
                self.Wy = uniform((n_items, layers[-1]), "Wy", 1)
                in_dim = None
                self.input_table = True
            self.By = self.add_weight(shape=(n_items,), initializer="zeros", name="By")
            self.Wx, self.Wh, self.b, self.bh = [], [], [], []
            for i, size in enumerate(layers):
                if i > 0 or not self.input_table:
                    self.Wx.append(uniform((in_dim if i == 0 else layers[i - 1], 3 * size), f"Wx{i}", 10 + 3 * i, 3))
                else:
                    self.Wx.append(None)
                self.Wh.append(uniform((size, 3 * size), f"Wh{i}", 11 + 3 * i, 3))
                self.b.append(self.add_weight(shape=(3 * size,), initializer="zeros", name=f"b{i}"))
                # GRUCell layers have separate input and recurrent biases (as torch.nn.GRUCell; with
                # Adagrad two biases do not train like one); the one-hot-equivalent layer has one
                table_layer = i == 0 and self.input_table
                self.bh.append(None if table_layer else
                               self.add_weight(shape=(3 * size,), initializer="zeros", name=f"bh{i}"))

        def named_variables(self) -> dict:
            """Unique trainable variables by name (``Wy`` is ``E`` when constrained)."""
            out = {"E": self.E, "By": self.By}
            if self.Wy is not self.E:
                out["Wy"] = self.Wy
            for i in range(len(self.config.layers)):
                if self.Wx[i] is not None:
                    out[f"Wx{i}"] = self.Wx[i]
                out[f"Wh{i}"] = self.Wh[i]
                out[f"b{i}"] = self.b[i]
                if self.bh[i] is not None:
                    out[f"bh{i}"] = self.bh[i]
            return out

        def call(self, items, states, training=False, seed=None):
            """One time step.

            Args:
                items: (B,) int item indices.
                states: list of (B, layers[l]) hidden states.
                training: apply dropout.
                seed: (2,) int32 stateless seed for dropout.

            Returns:
                ``(output (B, layers[-1]), new_states)``.
            """
            cfg = self.config
            x = tf.gather(self.E, items)
            if training and cfg.dropout_embed > 0 and not self.input_table:
                x = _dropout(x, cfg.dropout_embed, seed, 0)
            new_states = []
            for i, h in enumerate(states):
                size = cfg.layers[i]
                gx = x if (i == 0 and self.input_table) else tf.matmul(x, self.Wx[i])
                gx = gx + self.b[i]
                gh = tf.matmul(h, self.Wh[i])  # one matmul for all gates (reset applied after it)
                if self.bh[i] is not None:
                    gh = gh + self.bh[i]
                r = tf.sigmoid(gx[:, :size] + gh[:, :size])
                z = tf.sigmoid(gx[:, size: 2 * size] + gh[:, size: 2 * size])
                cand = tf.tanh(gx[:, 2 * size:] + r * gh[:, 2 * size:])
                if self.bh[i] is None:  # official GRUEmbedding: z weighs the candidate
                    h_new = (1.0 - z) * h + z * cand
                else:  # torch.nn.GRUCell: z weighs the previous state
                    h_new = (1.0 - z) * cand + z * h
                # with the one-hot-equivalent input, layer 0 plays the embedding: the official code
                # applies the embedding dropout to its output
                rate = cfg.dropout_embed if (i == 0 and self.input_table) else cfg.dropout_hidden
                if training and rate > 0:
                    h_new = _dropout(h_new, rate, seed, i + 1)
                new_states.append(h_new)
                x = h_new
            return x, new_states

    return GRU4RecNet(n_items, config)


def cross_entropy_loss(logits, row_mask, col_mask):
    """Sampled softmax cross-entropy, summed over rows (the official GRU4Rec reduction).

    Args:
        logits: (B, C) scores of candidates; the target of row i is column i.
        row_mask: (B,) bool, rows that count.
        col_mask: (C,) bool, candidate columns that may be used (False: padding slot).

    Returns:
        Scalar: sum over counted rows of -log softmax(logits)[i, i].
    """
    n_b, n_c = tf.shape(logits)[0], tf.shape(logits)[1]
    eye = tf.eye(n_b, n_c, dtype=tf.bool)
    logits = tf.where(col_mask[None, :], logits, tf.fill(tf.shape(logits), -1e9))
    logp = tf.nn.log_softmax(logits, axis=1)
    row_loss = -tf.reduce_sum(tf.where(eye, logp, 0.0), axis=1)
    return tf.reduce_sum(row_loss * tf.cast(row_mask, logits.dtype))


def bpr_max_loss(logits, row_mask, col_mask, bpreg: float, elu_param: float):
    """BPR-max with score regularization (Hidasi & Karatzoglou, CIKM 2018), summed over rows.

    With s_j = softmax over the negatives j (target excluded), o the scores after ELU(elu_param):
    loss_i = -log(sum_j s_j sigmoid(o_i - o_j) + 1e-24) + bpreg * sum_j s_j o_j^2.

    Args:
        logits: (B, C) scores; the target of row i is column i.
        row_mask: (B,) bool rows that count; col_mask: (C,) bool usable columns.
        bpreg: score regularization weight; elu_param: ELU alpha (0 = linear scores).
    """
    n_b, n_c = tf.shape(logits)[0], tf.shape(logits)[1]
    eye = tf.eye(n_b, n_c, dtype=tf.bool)
    if elu_param > 0:  # ELU(x; alpha) = x if x > 0 else alpha * (exp(x) - 1)
        logits = tf.where(logits > 0, logits, elu_param * (tf.exp(tf.minimum(logits, 0.0)) - 1.0))
    neg_ok = tf.logical_and(col_mask[None, :], tf.logical_not(eye))
    weights = tf.nn.softmax(tf.where(neg_ok, logits, -1e9), axis=1) * tf.cast(neg_ok, logits.dtype)
    target = tf.reduce_sum(tf.where(eye, logits, 0.0), axis=1, keepdims=True)
    row_loss = -tf.math.log(tf.reduce_sum(tf.sigmoid(target - logits) * weights, axis=1) + 1e-24) \
        + bpreg * tf.reduce_sum(weights * logits * logits, axis=1)
    return tf.reduce_sum(row_loss * tf.cast(row_mask, logits.dtype))


def _dropout(x, rate, seed, salt):
    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed + tf.constant([0, 7919], tf.int32) * salt) >= rate
    return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))


class GRU4Rec(SessionModel):
    """GRU4Rec recommender: ``fit(train, valid)``, evaluation ``step``, ``recommend``, ``save``/``load``.

    Args:
        config: hyperparameters.
        name: display name (default ``"GRU4Rec"``).
    """

    def __init__(self, config: GRU4RecConfig = GRU4RecConfig(), name: str = "GRU4Rec") -> None:
        self.config = config
        self.name = name
        self.net = None
        self.history = pd.DataFrame()
        self.titles: pd.Series | None = None
        self._user_ids = np.zeros(0, np.int64)
        self._user_states: list[np.ndarray] = []
        self.provenance: dict = {}

    # ------------------------------------------------------------------ training

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = True,
            epoch_callback: Callable[[dict], None] | None = None) -> GRU4Rec:
        """Train on sessionized events; evaluate ``valid`` after every epoch when given.

        Args:
            train: events with ``SessionId, ItemId, Time``.
            valid: held-out sessions for per-epoch Recall@20/MRR@20 (and early stopping).
            progress: show tqdm progress bars (loss and events/s).
            epoch_callback: called with each epoch's history row (``epoch``, ``loss``, ``seconds``,
                ``events_per_second`` and the validation metrics); it may raise to stop training
                (e.g. ``optuna.TrialPruned``), and the exception propagates.

        Returns:
            self; ``self.history`` holds one row per epoch.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        self.provenance = training_provenance(train, cfg.to_dict())
        events = contiguous_sessions(train)
        self.item_index = ItemIndex.from_events(events)
        item_idx = self.item_index.to_idx(events[ITEM].to_numpy())
        self.net = build_network(len(self.item_index), cfg)
        self._build_functions()
        sampler = NegativeSampler(self.item_index.support, cfg.sample_alpha, max(cfg.n_sample, 1),
                                  cfg.sample_cache_size, cfg.seed)
        schedule = schedule_from_frame(events, item_idx, cfg.batch_size)
        S, B = cfg.steps_per_call, cfg.batch_size
        rows, best, best_weights, waited = [], -np.inf, None, 0
        step = 0
        for epoch in range(1, cfg.epochs + 1):
            states = [np.zeros((B, s), np.float32) for s in cfg.layers]
            t0 = time.perf_counter()
            total_loss, total_n = 0.0, 0
            with tqdm(total=schedule.n_pairs, unit="ev", desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress,
                      leave=False) as bar:
                for c0 in range(0, schedule.n_steps, S):
                    chunk = _chunk(schedule, c0, S)
                    negatives = sampler.take(S) if cfg.n_sample > 0 else np.zeros((S, 1), np.int32)
                    out = self._train_chunk(states, *[tf.constant(a) for a in chunk],
                                            tf.constant(negatives), tf.constant(step, tf.int32))
                    states = [s.numpy() for s in out[0]]
                    loss_sum, n = float(out[1]), int(out[2])
                    if not math.isfinite(loss_sum):
                        raise FloatingPointError(
                            f"training diverged at epoch {epoch} (loss {loss_sum}); lower learning_rate "
                            f"(now {cfg.learning_rate}) or momentum (now {cfg.momentum})")
                    total_loss += loss_sum
                    total_n += n
                    step += S
                    bar.update(n)
                    elapsed = time.perf_counter() - t0
                    bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}", ev_s=f"{total_n / max(elapsed, 1e-9):,.0f}")
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch, "loss": total_loss / max(total_n, 1), "seconds": seconds,
                   "events_per_second": total_n / max(seconds, 1e-9)}
            if valid is not None and len(valid):
                from sbrlib.evaluation import EvalConfig, evaluate

                res = evaluate(self, valid, EvalConfig(ks=(20,), coverage_ks=(), batch_size=cfg.eval_batch_size),
                               progress=False)
                row.update({k: res.metrics[k] for k in ("recall@20", "mrr@20")})
                score = res.metrics.get(cfg.validation_metric, row.get("recall@20"))
                if score > best:
                    best, waited = score, 0
                    best_weights = self.get_weights() if cfg.early_stopping_patience is not None else None
                else:
                    waited += 1
            rows.append(row)
            log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
            self.history = pd.DataFrame(rows)
            if epoch_callback is not None:
                epoch_callback(dict(row))
            if cfg.early_stopping_patience is not None and valid is not None and waited > cfg.early_stopping_patience:
                log.info("early stopping after epoch %d (best %s = %.4f)", epoch, cfg.validation_metric, best)
                break
        if best_weights is not None:
            self.set_weights(best_weights)
        self.history = pd.DataFrame(rows)
        return self

    def _build_functions(self) -> None:
        cfg, net = self.config, self.net
        variables = net.named_variables()
        names = list(variables)
        tf_vars = [variables[k].value for k in names]
        sparse = [k in net.sparse_names for k in names]
        slots = {"acc": [], "mom": [], "m": [], "v": []}
        for var in tf_vars:
            for key in slots:
                slots[key].append(tf.Variable(tf.zeros_like(var), trainable=False))
        self._slots = slots
        self._opt_step = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        logp0 = None
        if cfg.logq > 0:
            pop = np.asarray(self.item_index.support, np.float64)
            logp0 = tf.constant(np.log(pop).astype(np.float32))
        lr = tf.constant(cfg.learning_rate, tf.float32)
        mu = tf.constant(cfg.momentum, tf.float32)

        def apply(grads, gate):
            if cfg.optimizer == "adam":
                self._opt_step.assign_add(gate)
                t = tf.maximum(self._opt_step, 1.0)
                b1, b2, eps = 0.9, 0.999, 1e-7
                for var, g, m, v in zip(tf_vars, grads, slots["m"], slots["v"], strict=True):
                    m_new = b1 * m + (1 - b1) * g
                    v_new = b2 * v + (1 - b2) * g * g
                    upd = lr * (m_new / (1 - b1 ** t)) / (tf.sqrt(v_new / (1 - b2 ** t)) + eps)
                    m.assign(gate * m_new + (1 - gate) * m)
                    v.assign(gate * v_new + (1 - gate) * v)
                    var.assign_sub(gate * upd)
                return
            for var, g, acc, mom, is_sparse in zip(tf_vars, grads, slots["acc"], slots["mom"], sparse, strict=True):
                if is_sparse:  # only rows touched in this step change (as the official sparse update)
                    axes = list(range(1, len(g.shape)))
                    touched = tf.cast(tf.reduce_any(tf.not_equal(g, 0.0), axis=axes) if axes else tf.not_equal(g, 0.0),
                                      tf.float32)
                    touched = tf.reshape(touched, [-1] + [1] * len(axes)) * gate
                else:
                    touched = gate
                acc_new = acc + g * g
                step_ = lr * g / tf.sqrt(acc_new + cfg.adagrad_eps)
                acc.assign(touched * acc_new + (1 - touched) * acc)
                if cfg.momentum > 0:
                    mom_new = mu * mom - step_
                    mom.assign(touched * mom_new + (1 - touched) * mom)
                    delta = mu * mom_new - step_ if cfg.nesterov else mom_new
                    var.assign_add(touched * delta)
                else:
                    var.assign_sub(touched * step_)

        def loss_fn(out, targets, active, negatives):
            activef = tf.cast(active, tf.float32)
            if cfg.full_softmax:
                logits = tf.matmul(out, net.Wy, transpose_b=True) + net.By
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
                return tf.reduce_sum(losses * activef)
            cands = tf.concat([targets, tf.reshape(negatives, [-1])], 0) if cfg.n_sample > 0 else targets
            logits = tf.matmul(out, tf.gather(net.Wy, cands), transpose_b=True) + tf.gather(net.By, cands)
            n_b = tf.shape(targets)[0]
            col_ok = tf.concat([active, tf.ones([tf.shape(cands)[0] - n_b], tf.bool)], 0)  # inactive slots are no negatives
            if cfg.loss == "cross-entropy":
                if logp0 is not None:  # logQ: in-batch targets ~ pop, samples ~ pop ** alpha (official)
                    logq = tf.gather(logp0, cands) * tf.concat(
                        [tf.ones([n_b]), tf.fill([tf.shape(cands)[0] - n_b], cfg.sample_alpha)], 0)
                    logits = logits - cfg.logq * logq
                return cross_entropy_loss(logits, active, col_ok)
            return bpr_max_loss(logits, active, col_ok, cfg.bpreg, cfg.elu_param)

        def train_chunk(states, inputs, targets, starts, active, negatives, step0):
            n_layers = len(cfg.layers)

            def body(t, loss_sum, count, *hs):
                keep = 1.0 - tf.cast(starts[t], tf.float32)[:, None]
                hs = [h * keep for h in hs]  # zero the state of slots whose session starts now
                seed = tf.stack([tf.constant(cfg.seed, tf.int32), step0 + t])
                with tf.GradientTape() as tape:
                    out, new_hs = net(inputs[t], hs, training=True, seed=seed)
                    loss = loss_fn(out, targets[t], active[t], negatives[t])
                    # summed over the mini-batch, divided by batch_size (as the official code)
                    objective = loss / cfg.batch_size
                grads = tape.gradient(objective, tf_vars)
                grads = [tf.convert_to_tensor(g) if g is not None else tf.zeros_like(v) for g, v in zip(grads, tf_vars, strict=True)]
                gate = tf.cast(tf.reduce_any(active[t]), tf.float32)
                apply(grads, gate)
                n = tf.reduce_sum(tf.cast(active[t], tf.float32))
                return (t + 1, loss_sum + loss, count + n, *[tf.stop_gradient(h) for h in new_hs])

            init = (tf.constant(0), tf.constant(0.0), tf.constant(0.0), *states)
            result = tf.while_loop(lambda t, *_: t < tf.shape(inputs)[0], body, init,
                                   maximum_iterations=cfg.steps_per_call)
            return list(result[3: 3 + n_layers]), result[1], result[2]

        def score_step(states, items, starts):
            keep = 1.0 - tf.cast(starts, tf.float32)[:, None]
            states = [h * keep for h in states]
            out, new_states = net(items, states, training=False)
            scores = tf.matmul(out, net.Wy, transpose_b=True) + net.By
            return new_states, scores

        def run_sequence(states, items, starts):  # (T, B) steps without scoring, for warm starts
            def body(t, *hs):
                keep = 1.0 - tf.cast(starts[t], tf.float32)[:, None]
                _, new_hs = net(items[t], [h * keep for h in hs], training=False)
                return (t + 1, *new_hs)

            result = tf.while_loop(lambda t, *_: t < tf.shape(items)[0], body, (tf.constant(0), *states))
            return list(result[1:])

        jit = cfg.jit_compile
        self._train_chunk = tf.function(train_chunk, jit_compile=jit, reduce_retracing=True)
        self._score_step = tf.function(score_step, jit_compile=jit, reduce_retracing=True)
        self._run_sequence = tf.function(run_sequence, reduce_retracing=True)

    # ------------------------------------------------------------------ weights

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copy of all weights by name."""
        return {k: np.array(v.numpy()) for k, v in self.net.named_variables().items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assign weights by name (from :meth:`get_weights`)."""
        for key, var in self.net.named_variables().items():
            var.assign(weights[key])

    # ------------------------------------------------------------------ inference (evaluator interface)

    def reset(self, batch_size: int) -> None:
        self._states = [np.zeros((batch_size, s), np.float32) for s in self.config.layers]
        self._slot_users = np.full(batch_size, -1, np.int64)

    def step(self, items, starts, users=None, active=None):
        starts = np.asarray(starts, bool)
        if self.config.sequence_aware and users is not None and len(self._user_ids):
            self._remember(starts)
            self._slot_users = np.where(starts, users, self._slot_users)
            self._restore(starts)
            starts = np.zeros_like(starts)  # restored states must not be zeroed
        new_states, scores = self._score_step(self._states, tf.constant(np.asarray(items, np.int32)),
                                              tf.constant(starts))
        self._states = [s.numpy() for s in new_states]
        return scores.numpy()

    def _user_rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``users`` in the stored user states and whether each user is known."""
        pos = np.searchsorted(self._user_ids, users)
        ok = (pos < len(self._user_ids)) & (self._user_ids[np.minimum(pos, len(self._user_ids) - 1)] == users)
        return pos, ok

    def _remember(self, starts: np.ndarray) -> None:
        rows = np.flatnonzero(starts & (self._slot_users >= 0))
        pos, ok = self._user_rows(self._slot_users[rows])
        for layer, state in enumerate(self._states):
            self._user_states[layer][pos[ok]] = state[rows[ok]]

    def _restore(self, starts: np.ndarray) -> None:
        rows = np.flatnonzero(starts)
        pos, ok = self._user_rows(self._slot_users[rows])
        for layer, state in enumerate(self._states):
            state[rows] = 0.0
            state[rows[ok]] = self._user_states[layer][pos[ok]]

    def warm_start(self, history: pd.DataFrame, batch_size: int = 512) -> GRU4Rec:
        """Run each user's history (all sessions in time order, state carried across sessions) and
        keep the final hidden state per user; with ``config.sequence_aware`` test sessions start
        from it, and it is updated when a test session of that user ends.

        Args:
            history: events with ``UserId, SessionId, ItemId, Time`` (usually the training set).
        """
        events = history.sort_values([USER, TIME, SESSION], kind="stable")
        events = events[self.item_index.contains(events[ITEM].to_numpy())]
        idx = self.item_index.to_idx(events[ITEM].to_numpy())
        users = events[USER].to_numpy()
        # one "session" per user; append a dummy last event so the final real item is consumed
        sch = make_schedule(np.r_[users, -1], np.r_[idx, 0], batch_size)
        n_users = len(sch.session_order)
        states = [np.zeros((n_users, s), np.float32) for s in self.config.layers]
        cur = [np.zeros((batch_size, s), np.float32) for s in self.config.layers]
        for t in range(sch.n_steps):
            cur = [c.numpy() for c in self._run_sequence(cur, tf.constant(sch.inputs[t: t + 1]),
                                                          tf.constant(sch.starts[t: t + 1]))]
            rows = np.flatnonzero(sch.active[t])
            for layer in range(len(cur)):
                states[layer][sch.session[t, rows]] = cur[layer][rows]
        order = np.argsort(sch.session_order, kind="stable")
        self._user_ids = sch.session_order[order].astype(np.int64)
        self._user_states = [s[order] for s in states]
        return self

    # ------------------------------------------------------------------ recommend / save / load

    def recommend(self, item_ids, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` next items for a session given as original item ids (oldest first).

        Unknown ids are ignored with a warning; an empty session gets the most popular items.
        Equal scores are ordered by item index (deterministic).

        Returns:
            DataFrame ``ItemId, Score`` (and ``Title`` when titles are known), best first.
        """
        ids = np.asarray(list(item_ids), dtype=np.int64)
        known = self.item_index.contains(ids) if len(ids) else np.zeros(0, bool)
        if (~known).any():
            warnings.warn(f"ignoring item ids unknown to the model: {ids[~known].tolist()}", UserWarning, stacklevel=2)
        idx = self.item_index.to_idx(ids[known])
        if len(idx) == 0:
            scores = self.popularity().astype(np.float32)
        else:
            states = [np.zeros((1, s), np.float32) for s in self.config.layers]
            for t, item in enumerate(idx):
                states, scores_t = self._score_step(states, tf.constant([item], tf.int32), tf.constant([t == 0]))
            scores = scores_t.numpy()[0].copy()
            if exclude_seen:
                scores[idx] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.lexsort((np.arange(len(scores)), -scores))[:k]  # ties: lower item index first
        out = pd.DataFrame({ITEM: self.item_index.to_ids(top), "Score": scores[top]})
        if self.titles is not None:
            out["Title"] = out[ITEM].map(self.titles)
        return out

    def save(self, folder: str | Path, movies: pd.DataFrame | None = None) -> Path:
        """Write config, item index, weights, history (and titles) to ``folder`` atomically."""
        folder = Path(folder)
        if movies is not None:
            self.titles = movies.set_index(ITEM)["Title"]
        with atomic_dir(folder) as tmp:
            (tmp / "config.json").write_text(json.dumps({"name": self.name, **self.config.to_dict()}, indent=2))
            self.item_index.to_frame().to_parquet(tmp / "items.parquet", index=False)
            np.savez(tmp / "weights.npz", **self.get_weights())
            self.history.to_csv(tmp / "history.csv", index=False)
            write_json(tmp / "provenance.json", self.provenance)
            if self.titles is not None:
                self.titles.rename("Title").reset_index().to_parquet(tmp / "titles.parquet", index=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> GRU4Rec:
        """Inverse of :meth:`save`."""
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} holds no saved GRU4Rec model (config.json missing); train it with "
                                    "notebooks/04_train_gru4rec first")
        data = json.loads((folder / "config.json").read_text())
        name = data.pop("name", "GRU4Rec")
        data["layers"] = tuple(data["layers"])
        model = cls(GRU4RecConfig(**data), name=name)
        model.item_index = ItemIndex.from_frame(pd.read_parquet(folder / "items.parquet"))
        model.net = build_network(len(model.item_index), model.config)
        model._build_functions()
        with np.load(folder / "weights.npz") as weights:
            model.set_weights({k: weights[k] for k in weights.files})
        if (folder / "history.csv").is_file() and (folder / "history.csv").stat().st_size > 1:
            model.history = pd.read_csv(folder / "history.csv")
        if (folder / "provenance.json").is_file():
            model.provenance = json.loads((folder / "provenance.json").read_text())
        if (folder / "titles.parquet").is_file():
            model.titles = pd.read_parquet(folder / "titles.parquet").set_index(ITEM)["Title"]
        return model


def _chunk(schedule, start: int, size: int) -> tuple[np.ndarray, ...]:
    """Steps ``start:start+size`` of a schedule, padded with inactive steps to exactly ``size``."""
    sl = slice(start, start + size)
    arrays = [schedule.inputs[sl], schedule.targets[sl], schedule.starts[sl], schedule.active[sl]]
    pad = size - len(arrays[0])
    if pad:
        arrays = [np.concatenate([a, np.zeros((pad, a.shape[1]), a.dtype)]) for a in arrays]
    return tuple(arrays)


__all__ = ["GRU4Rec", "GRU4RecConfig", "NegativeSampler", "bpr_max_loss", "build_network", "cross_entropy_loss"]
