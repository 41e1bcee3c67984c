"""The GRU4Rec model: training loop, evaluator interface, warm starts, recommend, save/load."""

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

from sbrlib._tf import tf  # quiet TensorFlow import (no CUDA/absl lines without a GPU)
from sbrlib.batching import contiguous_sessions, make_schedule, schedule_from_frame
from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.fileio import atomic_dir, write_json
from sbrlib.models.base import SessionModel
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.losses import bpr_max_loss, cross_entropy_loss
from sbrlib.models.gru4rec.network import build_network
from sbrlib.models.gru4rec.sampler import NegativeSampler
from sbrlib.preprocess import ItemIndex
from sbrlib.provenance import training_provenance

log = logging.getLogger(__name__)


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
