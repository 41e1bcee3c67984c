"""The GRU4Rec model: one training epoch, evaluator interface, warm starts (weights and save/load:
:class:`~sbrlib.models.neural.NeuralModel`).

The epoch loop with validation, early stopping and restore-best is :func:`sbrlib.training.fit`."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.core.provenance import training_provenance
from sbrlib.core.tf import tf  # quiet TensorFlow import (no CUDA/absl lines without a GPU)
from sbrlib.core.training_facts import TrainingFacts
from sbrlib.data.batching import (
    Block,
    contiguous_sessions,
    make_schedule,
    occupancy,
    plan_widths,
    schedule_from_frame,
    shrink_schedule,
)
from sbrlib.data.item_index import ItemIndex
from sbrlib.models.epochs import MOVED, fit_epochs
from sbrlib.models.gru4rec.config import GRU4RecConfig
from sbrlib.models.gru4rec.network import build_network
from sbrlib.models.gru4rec.optim import Optimizer, use_dense_tables
from sbrlib.models.gru4rec.sampler import NegativeSampler
from sbrlib.models.gru4rec.scoring import make_score_functions
from sbrlib.models.gru4rec.train import make_train_chunk
from sbrlib.models.neural import NeuralModel

log = logging.getLogger(__name__)


class GRU4Rec(NeuralModel):
    """GRU4Rec recommender: ``prepare_training``/``train_epoch`` (for :func:`sbrlib.training.fit`),
    ``fit(train)``, evaluation ``step``, ``build``, ``save``/``load``.

    Recommendations for a session: :func:`sbrlib.recommend.recommend` (the same for every model).

    Args:
        config: hyperparameters.
        name: display name (default ``"GRU4Rec"``).
    """

    family = "gru4rec"
    config_class = GRU4RecConfig

    def __init__(self, config: GRU4RecConfig = GRU4RecConfig(), name: str = "GRU4Rec") -> None:
        self.config = config
        self.name = name
        self.net = None
        self.history = pd.DataFrame()
        self.titles: pd.Series | None = None
        self._user_ids = np.zeros(0, np.int64)
        self._user_states: list[np.ndarray] = []
        self.provenance: dict = {}
        self.training_facts: TrainingFacts | None = None

    # ------------------------------------------------------------------ training

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = True) -> GRU4Rec:
        """Train ``config.epochs`` epochs on sessionized events, without validation.

        Validation, early stopping, a time budget and restore-best: :func:`sbrlib.training.fit`.

        Args:
            train: events with ``SessionId, ItemId, Time``.
            valid: not accepted any more (raises, naming :func:`sbrlib.training.fit`).
            progress: show tqdm progress bars (loss and events/s).

        Returns:
            self; ``self.history`` holds one row per epoch (``occupancy``: mean fraction of the
            computed slots that held a session), ``self.training_facts`` the run's facts.

        Raises:
            FloatingPointError: when the loss becomes NaN or infinite.
        """
        if valid is not None:
            raise TypeError(f"GRU4Rec.fit(train, valid): {MOVED}")
        fit_epochs(self, train, self.config.epochs, progress)
        return self

    def prepare_training(self, train: pd.DataFrame) -> None:
        """Item index, fresh network, compiled functions, negative sampler and the (fixed) session-parallel
        schedule of ``train`` as tensors; resets the epoch and step counters (see :meth:`train_epoch`)."""
        cfg = self.config
        self.provenance = training_provenance(train, cfg.to_dict())
        self.training_facts = None
        self.history = pd.DataFrame()
        events = contiguous_sessions(train)
        self.build(ItemIndex.from_events(events))
        item_idx = self.item_index.to_idx(events[ITEM].to_numpy())
        sampler = NegativeSampler(self.item_index.support, cfg.sample_alpha, max(cfg.n_sample, 1),
                                  cfg.sample_cache_size, cfg.seed)
        schedule = schedule_from_frame(events, item_idx, cfg.batch_size)
        del events, item_idx  # only the schedule is needed from here on
        blocks = self._blocks(schedule)
        S = cfg.steps_per_call
        # the schedule is the same every epoch: its chunks become tensors once
        chunks = [[[tf.constant(a) for a in _chunk(b.schedule, c0, S)] for c0 in range(0, b.schedule.n_steps, S)]
                  for b in blocks]
        carries = [tf.constant(np.maximum(b.carry, 0).astype(np.int32)) for b in blocks]
        self._training = {"sampler": sampler, "n_pairs": schedule.n_pairs, "blocks": blocks, "chunks": chunks,
                          "carries": carries, "occupancy": occupancy(blocks), "step": 0, "epoch": 0,
                          "no_negatives": tf.zeros((S, 1), tf.int32)}

    def train_epoch(self, progress: bool = False) -> dict[str, float]:
        """One pass over the schedule of :meth:`prepare_training`.

        Returns:
            ``loss`` (mean per event; NaN/inf reported, not raised: the epoch ends at the first
            non-finite chunk), ``events``, ``seconds`` and ``occupancy``.
        """
        from sbrlib.core.progress import tqdm

        cfg, run = self.config, self._training
        S = cfg.steps_per_call
        run["epoch"] += 1
        t0 = time.perf_counter()
        total_loss, total_n = 0.0, 0
        states = None
        with tqdm(total=run["n_pairs"], unit="pair", desc=f"epoch {run['epoch']}", disable=not progress,
                  leave=False) as bar:
            for block, block_chunks, carry in zip(run["blocks"], run["chunks"], run["carries"], strict=True):
                if states is None:
                    states = [tf.zeros((block.width, s), tf.float32) for s in cfg.layers]
                else:  # the sessions still running continue in fewer slots
                    states = [tf.gather(h, carry) for h in states]
                for c, arrays in enumerate(block_chunks):
                    n = min(S, block.schedule.n_steps - c * S)
                    negatives = self._negatives(run["sampler"], n) if cfg.n_sample > 0 else run["no_negatives"]
                    states, loss_sum, count = self._compiled("train", self._train_chunk, states, *arrays, negatives,
                                                             tf.constant(n, tf.int32),
                                                             tf.constant(run["step"], tf.int32))
                    loss_sum, count = float(loss_sum), int(count)
                    total_loss += loss_sum
                    total_n += count
                    run["step"] += n
                    if not math.isfinite(loss_sum):
                        return {"loss": loss_sum, "events": total_n, "seconds": time.perf_counter() - t0,
                                "occupancy": run["occupancy"]}
                    bar.update(count)
                    elapsed = time.perf_counter() - t0
                    bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}",
                                    pairs_per_s=f"{total_n / max(elapsed, 1e-9):,.0f}")
        return {"loss": total_loss / max(total_n, 1), "events": total_n, "seconds": time.perf_counter() - t0,
                "occupancy": run["occupancy"]}

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

    def _make_network(self, n_items: int):
        return build_network(n_items, self.config)

    def _build_functions(self) -> None:
        cfg, net = self.config, self.net
        variables = net.named_variables()
        tables = net.table_names()
        self._optimizer = Optimizer(cfg, {k: v.value for k, v in variables.items() if k not in tables},
                                    {k: variables[k].value for k in tables},
                                    dense_tables=use_dense_tables(cfg, self.n_items))
        self._train_chunk = make_train_chunk(net, cfg, self._optimizer, self.item_index.support)
        self._concrete = {}
        functions = make_score_functions(net, cfg)
        self._score_step = functions["score_step"]
        self._score_rows = functions["score_rows"]
        self._run_sequence = functions["run_sequence"]

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
