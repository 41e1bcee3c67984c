"""Evaluation speed: seconds per 100k predictions over a 3,706-item catalogue (ML-1M's size).

* ``rank_counting``: :func:`sbrlib.evaluation.metrics.ranks_from_scores` alone (conservative ties), on
  (512, n_items) float32 score blocks with ties;
* ``evaluator``: :func:`sbrlib.evaluation.evaluator.evaluate`'s own work (ranks, seen-item exclusion, top-K
  coverage) with a model whose ``step`` returns precomputed scores (its step time is subtracted);
* ``gru4rec_step``: :meth:`GRU4Rec.step` (default configuration, untrained weights: the cost does
  not depend on the weights) over the same test sessions.
* ``evaluator_exclude_user``: the evaluator with ``exclude_seen="user"`` (the users' earlier
  events, half of the data, as history).

Each figure is the best of ``repeat`` runs. Target (2 cores): below 2 s per 100k for each.

With ``--sasrec`` (needs the processed real splits ``ml-100k-gap`` and ``ml-100k-loo``: ``make data
DATASET=ml-100k``): seconds to evaluate SASRec (default configuration, untrained weights: the cost
does not depend on them) through the evaluator's window path (``SASRec.score_windows``) and its step
path (``reset``/``step``, how SASRec was evaluated before), on what training validates after every
epoch (gap ``valid``, every position, nothing excluded; leave-one-out ``valid``, last position,
``exclude_seen="user"`` with ``train_tr`` as history, as notebook 07) and on 07's test sets
(``exclude_seen="user"``, ``train`` as history).

Usage: python benchmarks/bench_eval.py [--n-items 3706] [--events 60000] [--repeat 3] [--quick]
       python benchmarks/bench_eval.py --sasrec [--batch-size 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data.item_index import ItemIndex
from sbrlib.evaluation import metrics as M
from sbrlib.evaluation.evaluator import EvalConfig, StepOnly, evaluate
from sbrlib.models.base import SessionModel


def random_sessions(n_items: int, n_events: int, length: int = 20, seed: int = 0) -> pd.DataFrame:
    """Sessions of ``length`` uniformly drawn items (every item occurs once at least)."""
    rng = np.random.default_rng(seed)
    n_events = max(n_events, n_items)
    items = np.r_[np.arange(n_items), rng.integers(0, n_items, n_events - n_items)]
    rng.shuffle(items)
    sessions = np.arange(n_events) // length
    return pd.DataFrame({SESSION: sessions, USER: sessions % 97, ITEM: items, TIME: np.arange(n_events)})


class TableScores(SessionModel):
    """Scores from a fixed random table (rounded: many ties), one row per current item; a cheap step."""

    name = "table"

    def __init__(self, n_items: int, seed: int = 0) -> None:
        self._table = np.round(np.random.default_rng(seed).standard_normal((n_items, n_items)), 2).astype(np.float32)

    def fit(self, train: pd.DataFrame) -> TableScores:
        self.item_index = ItemIndex.from_events(train)
        return self

    def reset(self, batch_size: int) -> None:
        """Stateless."""

    def step(self, items, starts, users=None, active=None):
        return self._table[np.asarray(items)]


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def rank_counting(n_items: int = 3706, rows: int = 512, blocks: int = 40, repeat: int = 3) -> float:
    """Seconds per 100k predictions of ``ranks_from_scores`` (conservative) on float32 blocks."""
    rng = np.random.default_rng(1)
    scores = np.round(rng.standard_normal((blocks, rows, n_items)), 2).astype(np.float32)
    targets = rng.integers(0, n_items, (blocks, rows))
    seconds = _best(lambda: [M.ranks_from_scores(scores[b], targets[b]) for b in range(blocks)], repeat)
    return seconds / (blocks * rows) * 1e5


def evaluator(n_items: int = 3706, n_events: int = 60_000, repeat: int = 3, exclude_seen: str = "none") -> float:
    """Seconds per 100k predictions of the evaluator's own work (model step time excluded)."""
    from _measure import StepTimer

    data = random_sessions(n_items, 2 * n_events if exclude_seen == "user" else n_events)
    history = None
    if exclude_seen == "user":  # the first half is the users' history, the second half is evaluated
        history, data = data.iloc[: len(data) // 2], data.iloc[len(data) // 2:]
    model = TableScores(n_items).fit(pd.concat([history, data]) if history is not None else data)
    config = EvalConfig(ks=(10, 20), coverage_ks=(20,), exclude_seen=exclude_seen)
    best = float("inf")
    for _ in range(repeat):
        timer = StepTimer(model)
        res = evaluate(model, data, config, progress=False, history=history)
        timer.restore()
        best = min(best, (res.metrics["eval_seconds"] - timer.seconds) / res.metrics["predictions"] * 1e5)
    return best


def gru4rec_step(n_items: int = 3706, n_events: int = 60_000, repeat: int = 3) -> float:
    """Seconds per 100k predictions spent in :meth:`GRU4Rec.step` (default configuration)."""
    from _measure import StepTimer

    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig

    data = random_sessions(n_items, n_events)
    model = GRU4Rec(GRU4RecConfig(epochs=0)).fit(data, progress=False)
    config = EvalConfig(ks=(20,), coverage_ks=())
    evaluate(model, data.iloc[: 20 * 600], config, progress=False)  # compilation
    best = float("inf")
    for _ in range(repeat):
        timer = StepTimer(model)
        res = evaluate(model, data, config, progress=False)
        timer.restore()
        best = min(best, timer.seconds / res.metrics["predictions"] * 1e5)
    return best


SASREC_CASES = (  # figure, split, frame, history frame, exclude_seen, positions
    ("gap_valid", "ml-100k-gap", "valid", None, "none", "all"),
    ("loo_valid", "ml-100k-loo", "valid", "train_tr", "user", "last"),
    ("gap_test", "ml-100k-gap", "test", "train", "user", "all"),
    ("loo_test", "ml-100k-loo", "test", "train", "user", "last"),
)


def sasrec_eval(batch_size: int | None = None, repeat: int = 3, step_path: bool = True) -> dict | None:
    """Seconds (best of ``repeat``) to evaluate SASRec on the real ML-100K splits, window path and
    (``step_path``) step path; None when the splits are not prepared."""
    from sbrlib.core.errors import DataError
    from sbrlib.data import store
    from sbrlib.models.sasrec import SASRec, SASRecConfig

    try:
        splits = {name: store.load_split(name) for name in ("ml-100k-gap", "ml-100k-loo")}
    except DataError as err:  # a split not prepared (or damaged): the figure is skipped
        print(f"sasrec_eval: skipped ({err})", file=sys.stderr)
        return None
    cfg = SASRecConfig()
    batch_size = batch_size or cfg.eval_batch_size
    models = {name: SASRec(cfg).build(ItemIndex.from_events(sp.frames["train_tr"])) for name, sp in splits.items()}
    out: dict = {"batch_size": batch_size}
    for figure, split, frame, hist, exclude, positions in SASREC_CASES:
        sp, model = splits[split], models[split]
        config = EvalConfig(ks=(10, 20), coverage_ks=(), batch_size=batch_size, exclude_seen=exclude,
                            positions=positions)
        history = sp.frames[hist] if hist else None
        paths = {"window": model, "step": StepOnly(model)} if step_path else {"window": model}
        for path, m in paths.items():
            evaluate(m, sp.frames[frame], config, progress=False, history=history)  # tracing
            out[f"{figure}_{path}"] = _best(
                lambda m=m, f=sp.frames[frame], c=config, h=history: evaluate(m, f, c, progress=False, history=h),
                repeat)
    return out


def run(n_items: int = 3706, n_events: int = 60_000, repeat: int = 3) -> dict:
    """All three figures (seconds per 100k predictions)."""
    return {"n_items": n_items, "rank_counting": rank_counting(n_items, repeat=repeat),
            "evaluator": evaluator(n_items, n_events, repeat),
            "evaluator_exclude_user": evaluator(n_items, n_events, repeat, "user"),
            "gru4rec_step": gru4rec_step(n_items, n_events, repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-items", type=int, default=3706)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--sasrec", action="store_true", help="SASRec on the real ML-100K splits instead")
    parser.add_argument("--batch-size", type=int, default=None, help="--sasrec: eval batch (default: SASRec's)")
    args = parser.parse_args()
    if args.sasrec:
        r = sasrec_eval(args.batch_size, args.repeat)
        if r is not None:
            print("sasrec_eval_seconds " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                                    for k, v in r.items()))
        return
    n_items, events = (500, 5_000) if args.quick else (args.n_items, args.events)
    r = run(n_items, events, args.repeat)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
