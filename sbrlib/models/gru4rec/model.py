"""The GRU4Rec model: training loop, evaluator interface, warm starts, recommend, save/load."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sbrlib._tf import tf  # quiet TensorFlow import (no CUDA/absl lines without a GPU)
from sbrlib.batching import (
    Block,
    contiguous_sessions,
    make_schedule,
    occupancy,
    plan_widths,
    schedule_from_frame,
    shrink_schedule,
)
from sbrlib.columns import ITEM, SESSION, TIME, USER
from sbrlib.fileio import atomic_dir, write_json
from sbrlib.models.base import SessionModel
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.network import build_network
from sbrlib.models.gru4rec.optim import Optimizer
from sbrlib.models.gru4rec.sampler import NegativeSampler
from sbrlib.models.gru4rec.scoring import make_score_functions
from sbrlib.models.gru4rec.train import make_train_chunk
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
                ``events_per_second``, ``occupancy`` and the validation metrics); it may raise to
                stop training (e.g. ``optuna.TrialPruned``), and the exception propagates.

        Returns:
            self; ``self.history`` holds one row per epoch (``occupancy``: mean fraction of the
            computed slots that held a session).

        Raises:
            FloatingPointError: when the loss becomes NaN or infinite.
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
        del events, item_idx  # only the schedule is needed from here on
        blocks = self._blocks(schedule)
        occ = occupancy(blocks)
        S = cfg.steps_per_call
        # the schedule is the same every epoch: its chunks become tensors once
        chunks = [[[tf.constant(a) for a in _chunk(b.schedule, c0, S)] for c0 in range(0, b.schedule.n_steps, S)]
                  for b in blocks]
        carries = [tf.constant(np.maximum(b.carry, 0).astype(np.int32)) for b in blocks]
        no_negatives = tf.zeros((S, 1), tf.int32)
        rows, best, best_weights, waited = [], -np.inf, None, 0
        step = 0
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            total_loss, total_n = 0.0, 0
            states = None
            with tqdm(total=schedule.n_pairs, unit="ev", desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress,
                      leave=False) as bar:
                for block, block_chunks, carry in zip(blocks, chunks, carries, strict=True):
                    if states is None:
                        states = [tf.zeros((block.width, s), tf.float32) for s in cfg.layers]
                    else:  # the sessions still running continue in fewer slots
                        states = [tf.gather(h, carry) for h in states]
                    for c, arrays in enumerate(block_chunks):
                        n = min(S, block.schedule.n_steps - c * S)
                        negatives = self._negatives(sampler, n) if cfg.n_sample > 0 else no_negatives
                        states, loss_sum, count = self._compiled("train", self._train_chunk, states, *arrays, negatives,
                                                                 tf.constant(n, tf.int32), tf.constant(step, tf.int32))
                        loss_sum, count = float(loss_sum), int(count)
                        if not math.isfinite(loss_sum):
                            raise FloatingPointError(
                                f"training diverged at epoch {epoch} (loss {loss_sum}); lower learning_rate "
                                f"(now {cfg.learning_rate}) or momentum (now {cfg.momentum})")
                        total_loss += loss_sum
                        total_n += count
                        step += n
                        bar.update(count)
                        elapsed = time.perf_counter() - t0
                        bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}",
                                        ev_s=f"{total_n / max(elapsed, 1e-9):,.0f}")
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch, "loss": total_loss / max(total_n, 1), "seconds": seconds,
                   "events_per_second": total_n / max(seconds, 1e-9), "occupancy": occ}
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

    def _compiled(self, name: str, function, *args):
        """Call ``function`` through a concrete function per argument shape (skips the Python-side
        dispatch of ``tf.function``, about a millisecond per call)."""
        key = (name, *(tuple(a.shape) for a in tf.nest.flatten(args)))
        concrete = self._concrete.get(key)
        if concrete is None:
            concrete = self._concrete[key] = function.get_concrete_function(*args)
        return concrete(*args)

    def _blocks(self, schedule) -> list[Block]:
        """The schedule as blocks of decreasing width (``config.shrink_batch``)."""
        cfg = self.config
        B = cfg.batch_size
        if cfg.shrink_batch == "never":
            return [Block(schedule, 0, np.arange(B), np.arange(B))]
        widths = plan_widths(schedule, passes=max(cfg.epochs, 1)) if cfg.shrink_batch == "auto" else None
        return shrink_schedule(schedule, widths)

    def _negatives(self, sampler: NegativeSampler, n: int) -> tf.Tensor:
        """Negatives for ``n`` steps as a (steps_per_call, n_sample) tensor (rows past ``n`` unused)."""
        negatives = sampler.take(n)
        pad = self.config.steps_per_call - n
        if pad:
            negatives = np.concatenate([negatives, np.zeros((pad, negatives.shape[1]), np.int32)])
        return tf.constant(negatives)

    def _build_functions(self) -> None:
        cfg, net = self.config, self.net
        variables = net.named_variables()
        tables = net.table_names()
        self._optimizer = Optimizer(cfg, {k: v.value for k, v in variables.items() if k not in tables},
                                    {k: variables[k].value for k in tables})
        self._train_chunk = make_train_chunk(net, cfg, self._optimizer, self.item_index.support)
        self._concrete = {}
        functions = make_score_functions(net, cfg)
        self._score_step = functions["score_step"]
        self._score_rows = functions["score_rows"]
        self._run_sequence = functions["run_sequence"]

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
        self._states = [tf.zeros((batch_size, s), tf.float32) for s in self.config.layers]
        self._slot_users = np.full(batch_size, -1, np.int64)

    def step(self, items, starts, users=None, active=None):
        """One evaluation step (see :meth:`SessionModel.step`): one compiled call; when at most a quarter
        of the slots are active, only those are computed, in the smallest of the widths B/4, B/16,
        ... (>= 4) that holds them (a few compiled shapes), and the rows of idle slots are zeros.

        Returns:
            (B, n_items) float32 scores; when every slot is computed, a read-only view of the
            TensorFlow result (no copy).
        """
        items = np.asarray(items, np.int32)
        starts = np.asarray(starts, bool)
        if self.config.sequence_aware and users is not None and len(self._user_ids) and starts.any():
            states = [s.numpy().copy() for s in self._states]
            self._remember(starts, states)
            self._slot_users = np.where(starts, users, self._slot_users)
            self._restore(starts, states)
            self._states = [tf.constant(s) for s in states]
            starts = np.zeros_like(starts)  # restored states must not be zeroed
        B = len(items)
        rows = np.flatnonzero(active) if active is not None else None
        if rows is None or 4 * len(rows) > B or len(rows) == 0:
            self._states, scores = self._compiled("score", self._score_step, self._states, tf.constant(items),
                                                  tf.constant(starts))
            return _read_only(scores)
        width = B // 4
        while width // 4 >= max(len(rows), 4):
            width //= 4
        padded = np.r_[rows, np.full(width - len(rows), rows[-1])].astype(np.int32)
        self._states, scores = self._compiled("rows", self._score_rows, self._states, tf.constant(items),
                                              tf.constant(starts), tf.constant(padded))
        out = np.zeros((B, self.n_items), np.float32)
        out[rows] = np.asarray(scores)[: len(rows)]
        return out

    def _user_rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``users`` in the stored user states and whether each user is known."""
        pos = np.searchsorted(self._user_ids, users)
        ok = (pos < len(self._user_ids)) & (self._user_ids[np.minimum(pos, len(self._user_ids) - 1)] == users)
        return pos, ok

    def _remember(self, starts: np.ndarray, states: list[np.ndarray]) -> None:
        """Store the final state of each slot whose session (of a known user) ends now."""
        rows = np.flatnonzero(starts & (self._slot_users >= 0))
        pos, ok = self._user_rows(self._slot_users[rows])
        for layer, state in enumerate(states):
            self._user_states[layer][pos[ok]] = state[rows[ok]]

    def _restore(self, starts: np.ndarray, states: list[np.ndarray]) -> None:
        """Start each new session from its user's stored state (zeros for unknown users)."""
        rows = np.flatnonzero(starts)
        pos, ok = self._user_rows(self._slot_users[rows])
        for layer, state in enumerate(states):
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

    def recommend(self, item_ids, k: int = 10, exclude_seen: bool = True,
                  movies: pd.DataFrame | None = None) -> pd.DataFrame:
        """Top-``k`` next items for a session given as original item ids (oldest first).

        The same as :func:`sbrlib.recommend.recommend` for every model: unknown ids are ignored
        with a warning; ``Score`` holds model scores only (NaN for the popularity fallback of an
        empty or all-unknown session), ``Popularity`` the training counts and ``Source`` says
        which one ranked the list (``"model"`` or ``"popularity"``); ties by item index.

        Returns:
            DataFrame ``ItemId, Score, Popularity, Source`` (and ``Title`` when titles are known), best first.
        """
        from sbrlib.recommend import recommend

        return recommend(self, item_ids, k, exclude_seen, movies)

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


def _read_only(tensor) -> np.ndarray:
    """A read-only numpy view of a CPU tensor's buffer (``.numpy()`` would copy it); the view keeps
    the tensor alive."""
    view = np.asarray(tensor)
    view.flags.writeable = False
    return view


def _chunk(schedule, start: int, size: int) -> tuple[np.ndarray, ...]:
    """Steps ``start:start+size`` of a schedule, padded with inactive steps to exactly ``size``."""
    sl = slice(start, start + size)
    arrays = [schedule.inputs[sl], schedule.targets[sl], schedule.starts[sl], schedule.active[sl]]
    pad = size - len(arrays[0])
    if pad:
        arrays = [np.concatenate([a, np.zeros((pad, a.shape[1]), a.dtype)]) for a in arrays]
    return tuple(arrays)
