"""SASRec training speed and memory on ML-1M-size data (default: synthetic, leave-one-out user histories).

Builds the training rows and the network, compiles the training step once per length bucket (timed
separately), then times ``--steps`` mini-batches in epoch order and extrapolates seconds per epoch
from the time per training target (exact when ``--steps`` covers the epoch). Optionally times the
evaluator on ``--eval-users`` test histories. Prints one line per figure.

Defaults are the issue's target setting: max_len 200, 2 blocks, 50 dimensions, batch 128, full
softmax cross-entropy. On a machine with a GPU the same command uses it (TensorFlow with CUDA
must be installed there, e.g. ``pip install "tensorflow[and-cuda]==<the pinned version>"``).

Usage: python benchmarks/bench_sasrec.py [--dataset synthetic] [--protocol loo|temporal] [--steps 200]
       [--batch-size 128] [--max-len 200] [--jit auto|on|off] [--eval-users 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sbrlib.core.columns import USER
from sbrlib.core.tf import HAS_GPU
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.evaluation.evaluator import EvalConfig, evaluate_positions
from sbrlib.models.sasrec import SASRec, SASRecConfig
from sbrlib.models.sasrec.sequences import epoch_batches, take_batch


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(dataset: str = "synthetic", protocol: str = "loo", steps: int = 200, batch_size: int = 128,
        max_len: int = 200, blocks: int = 2, dim: int = 50, jit: bool | None = None, loss: str = "cross-entropy",
        eval_users: int = 0) -> dict:
    """Measure SASRec training (and optionally evaluation) speed; returns the figures.

    ``jit``: XLA on/off; None: the model's default (XLA only when a GPU is visible)."""
    if protocol == "loo":
        split, _ = artifacts.prepare(dataset, preprocess.LOOConfig())
    else:
        split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig())
    train = split["train"]
    cfg = SASRecConfig(max_len=max_len, blocks=blocks, dim=dim, batch_size=batch_size, loss=loss, jit_compile=jit)
    model = SASRec(cfg)
    t0 = time.perf_counter()
    rows = model.prepare(train)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    batches = epoch_batches(rows, batch_size, rng)
    t0 = time.perf_counter()
    first = {}
    for bucket, index in batches:  # one batch per length bucket: compilation
        first.setdefault(bucket, index)
    for step, (bucket, index) in enumerate(first.items()):
        model.train_batch(*take_batch(rows, bucket, index, batch_size), step, rng)
    compile_s = time.perf_counter() - t0
    timed = [batches[i % len(batches)] for i in range(steps)]
    t0, c0 = time.perf_counter(), time.process_time()
    n_targets = 0
    for step, (bucket, index) in enumerate(timed):
        n_targets += model.train_batch(*take_batch(rows, bucket, index, batch_size), len(first) + step, rng)[1]
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "dataset": dataset, "protocol": protocol, "gpu": HAS_GPU, "jit": HAS_GPU if jit is None else jit, "loss": loss,
        "train_events": len(train), "n_items": len(model.item_index), "max_len": max_len, "blocks": blocks,
        "dim": dim, "batch_size": batch_size, "epoch_targets": rows.n_targets, "epoch_batches": len(batches),
        "buckets": {int(rows.buckets[b]): len(rows.inputs[b]) for b in range(len(rows.buckets))},
        "build_seconds": build_s, "compile_seconds": compile_s, "timed_batches": steps,
        "seconds_per_batch": train_s / max(steps, 1), "targets_per_second": n_targets / max(train_s, 1e-9),
        "epoch_seconds": train_s / max(n_targets, 1) * rows.n_targets,
        "epoch_cpu_seconds": train_cpu / max(n_targets, 1) * rows.n_targets,
        "epoch_extrapolated": steps < len(batches), "peak_rss_mb_train": _rss_mb(),
    }
    if eval_users:
        test = split["test"]
        users = np.sort(test[USER].unique())[:eval_users]
        subset = test[test[USER].isin(users)]
        positions = "last" if protocol == "loo" else "all"
        config = EvalConfig(ks=(10,), coverage_ks=(), exclude_seen="user", batch_size=min(256, len(users)))
        t0 = time.perf_counter()
        # leave-one-out: only the held-out item counts, so SASRec reads the last max_len + 1 events
        res = evaluate_positions(model, subset, config, positions, progress=False, history=split["train"])
        seconds = time.perf_counter() - t0
        out.update(eval_seconds=seconds, eval_events=len(subset), eval_predictions=res.metrics["predictions"],
                   eval_seconds_per_1k_events=seconds / len(subset) * 1000, peak_rss_mb=_rss_mb())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--protocol", default="loo", choices=("loo", "temporal"))
    parser.add_argument("--steps", type=int, default=200, help="timed mini-batches (after compilation)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--loss", default="cross-entropy", choices=("cross-entropy", "sampled-softmax", "gbce"))
    parser.add_argument("--jit", default="auto", choices=("auto", "on", "off"),
                        help="XLA: auto = the model's default (only with a GPU)")
    parser.add_argument("--eval-users", type=int, default=0, help="also time the evaluator on this many test users")
    args = parser.parse_args()
    r = run(args.dataset, args.protocol, args.steps, args.batch_size, args.max_len, args.blocks, args.dim,
            {"auto": None, "on": True, "off": False}[args.jit], args.loss, args.eval_users)
    where = "GPU" if r["gpu"] else f"CPU ({os.cpu_count()} cores visible)"
    print(f"SASRec on {r['dataset']} ({r['protocol']}), {where}, XLA {'on' if r['jit'] else 'off'}, loss {r['loss']}: "
          f"{r['train_events']:,} training events, {r['epoch_targets']:,} targets in {r['epoch_batches']} batches "
          f"of {args.batch_size} (rows per padded length: {r['buckets']})")
    print(f"  build {r['build_seconds']:.1f} s; compile (first batch of each length) {r['compile_seconds']:.1f} s")
    print(f"  {r['timed_batches']} batches: {r['seconds_per_batch']:.3f} s/batch, {r['targets_per_second']:,.0f} targets/s")
    print(f"  seconds per epoch: {r['epoch_seconds']:.1f} wall, {r['epoch_cpu_seconds']:.1f} CPU (all threads)"
          + (" (extrapolated from the timed batches)" if r["epoch_extrapolated"] else ""))
    print(f"  peak RSS after training: {r['peak_rss_mb_train']:,.0f} MB")
    if "eval_seconds" in r:
        print(f"  evaluation: {r['eval_seconds']:.1f} s for {r['eval_events']:,} events "
              f"({r['eval_seconds_per_1k_events']:.2f} s per 1k events, {r['eval_predictions']:,} counted predictions); "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
