"""The training step against the machine's limit: dense fp32 matrix-product throughput, useful
FLOP per training event of each configuration, and the achieved fraction.

* ``matmul_throughput``: GFLOP/s of numpy and TensorFlow fp32 matrix products at a large square
  size (the machine's practical peak) and of TensorFlow at the training step's output-layer shape;
  on a machine with a GPU also TensorFlow on the GPU (where training then runs).
* ``gru4rec_flop_per_event`` / ``sasrec_flop_per_target``: the FLOP formulas (below), counted
  for the work a step must do (padding and idle slots excluded).
* ``efficiency_table``: events/s measured by a short training run x FLOP/event / peak.

FLOP formulas (a multiply-add is 2 FLOP; backward of a matrix product = 2x its forward: the
gradients with respect to both operands):

GRU4Rec, per training event (one slot of one step; B batch, S shared negatives, C = B + S
candidates, layer l with input size d_l and hidden size h_l, H = h of the last layer):

* GRU gates: forward 2 * (d_l + h_l) * 3 h_l per layer (input and recurrent products of the three
  gates), x3 with backward; layer 0's input product is a lookup (0 FLOP) with the
  one-hot-equivalent input (``embedding_dim=0`` and not constrained);
* sampled output layer: scores of C candidates, forward 2 * H * C, x3 with backward;
* embedding: row lookups of the input and candidate items, 0 FLOP (memory traffic only);
* optimizer (element-wise, counted apart): Adagrad(+momentum) ~10 FLOP per updated weight: the
  GRU weights once per step (/ B per event), and the item rows used by the step ((2B + S) rows of
  H, / B per event).

SASRec, per training target (a position with a next item; L = ``max_len``, d = ``dim``):

* per block: Q, K, V and output projections 4 * 2 d^2, feed-forward 2 * 2 d^2, attention scores and
  weighted values 2 * 2 * L_att * d with L_att = L / 2 (causal: a position attends to the ones
  before it, L / 2 on average over a full row); x3 with backward;
* full-softmax output layer 2 * d * n_items, x3 with backward.

Usage: python benchmarks/bench_efficiency.py [--dataset ml-100k|synthetic|synthetic-tiny] [--quick]
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

from sbrlib.core.tf import HAS_GPU, tf
from sbrlib.models.gru4rec import GRU4RecConfig
from sbrlib.models.sasrec import SASRecConfig

OPTIMIZER_FLOP_PER_WEIGHT = 10  # Adagrad + momentum: square, add, sqrt, divide, scale, momentum, write


def device_name() -> str:
    """``"GPU: <name>"`` for TensorFlow's first GPU, else ``"CPU: <n> cores"``."""
    if HAS_GPU:
        gpu = tf.config.list_physical_devices("GPU")[0]
        details = tf.config.experimental.get_device_details(gpu)
        return f"GPU: {details.get('device_name', gpu.name)}"
    return f"CPU: {os.cpu_count()} cores"


def _gflops(fn, flop: float, seconds: float = 0.5) -> float:
    """Best GFLOP/s of ``fn()`` (one call = ``flop``) over calls filling about ``seconds``."""
    fn()  # warm-up (compilation, allocation)
    best, spent = float("inf"), 0.0
    while spent < seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return flop / best / 1e9


def matmul_throughput(size: int = 2048, shapes: dict[str, tuple[int, int, int]] | None = None,
                      seconds: float = 0.5) -> dict[str, float]:
    """Dense fp32 matrix-product GFLOP/s.

    Args:
        size: side of the square products (the practical peak).
        shapes: named (m, k, n) products to time with TensorFlow as well (e.g. a training step's
            output layer: (B, H) x (H, B + S)).
        seconds: timing budget per figure.

    Returns:
        ``{"numpy_square", "tf_square", "tf_<name>"..., "peak"}`` (and ``"gpu_square"``,
        ``"gpu_<name>"`` with a GPU); ``peak`` is the largest figure of the device training runs
        on (the GPU when TensorFlow sees one).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flop = 2.0 * size**3
    out = {"numpy_square": _gflops(lambda: a @ b, flop, seconds)}
    devices = [("tf", "/CPU:0")] + ([("gpu", "/GPU:0")] if HAS_GPU else [])
    for label, device in devices:
        with tf.device(device):
            ta, tb = tf.constant(a), tf.constant(b)
            mm = tf.function(lambda x, y: tf.matmul(x, y))
            out[f"{label}_square"] = _gflops(lambda mm=mm, ta=ta, tb=tb: mm(ta, tb).numpy()[0, 0], flop, seconds)
            for name, (m, k, n) in (shapes or {}).items():
                x = tf.constant(rng.standard_normal((m, k), dtype=np.float32))
                y = tf.constant(rng.standard_normal((k, n), dtype=np.float32))
                # a chain of products per call, so the call overhead does not dominate small shapes
                chain = tf.function(lambda x, y: tf.add_n([tf.matmul(x + float(i), y) for i in range(32)]))
                out[f"{label}_{name}"] = _gflops(lambda chain=chain, x=x, y=y: chain(x, y).numpy()[0, 0],
                                                 32 * 2.0 * m * k * n, seconds)
    train_device = "gpu_" if HAS_GPU else ("numpy_", "tf_")
    out["peak"] = max(v for k, v in out.items() if k.startswith(train_device))
    return out


def gru4rec_flop_per_event(cfg: GRU4RecConfig) -> dict[str, float]:
    """Useful FLOP per training event of GRU4Rec (formula in the module docstring).

    Returns:
        ``{"gru", "output", "optimizer", "total"}`` FLOP per event.
    """
    B, S, H = cfg.batch_size, cfg.n_sample, cfg.layers[-1]
    table_input = not cfg.constrained_embedding and cfg.embedding_dim == 0
    d_in = H if cfg.constrained_embedding else cfg.embedding_dim
    gru, dense_weights = 0.0, 0
    for i, h in enumerate(cfg.layers):
        d = 0 if (i == 0 and table_input) else (d_in if i == 0 else cfg.layers[i - 1])
        gru += 3 * 2.0 * (d + h) * 3 * h
        dense_weights += (d + h) * 3 * h + 2 * 3 * h
    candidates = B + S if not cfg.full_softmax else None
    if candidates is None:
        raise ValueError("gru4rec_flop_per_event counts the sampled output layer; full_softmax is not covered")
    output = 3 * 2.0 * H * candidates
    rows = (2 * B + S) * H * (2 if not cfg.constrained_embedding else 1)  # input + candidate rows (+ Wy)
    optimizer = OPTIMIZER_FLOP_PER_WEIGHT * (dense_weights + rows) / B
    return {"gru": gru, "output": output, "optimizer": optimizer, "total": gru + output + optimizer}


def sasrec_flop_per_target(cfg: SASRecConfig, n_items: int) -> dict[str, float]:
    """Useful FLOP per training target of SASRec with the full-softmax loss (formula in the module docstring).

    Returns:
        ``{"blocks", "output", "total"}`` FLOP per target.
    """
    d, attended = cfg.dim, cfg.max_len / 2
    blocks = cfg.blocks * 3 * (12.0 * d * d + 4.0 * attended * d)
    output = 3 * 2.0 * d * n_items
    return {"blocks": blocks, "output": output, "total": blocks + output}


def gru4rec_events_per_second(cfg: GRU4RecConfig, train: pd.DataFrame, max_events: int = 60_000) -> dict:
    """Train ``cfg`` for 2 epochs on the first sessions of ``train`` (about ``max_events`` events);
    events/s of the second epoch (the first includes compilation)."""
    from sbrlib.core.columns import SESSION
    from sbrlib.models.gru4rec import GRU4Rec

    sessions = train[SESSION].drop_duplicates()
    sizes = train.groupby(SESSION, sort=False).size().reindex(sessions)
    keep = sessions[(sizes.cumsum() <= max_events).to_numpy()]
    subset = train[train[SESSION].isin(keep)] if len(keep) else train
    model = GRU4Rec(_replace(cfg, epochs=2)).fit(subset, progress=False)
    return {"events_per_second": float(model.history["events_per_second"].iloc[-1]), "events": len(subset)}


def _replace(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


def gru4rec_configs() -> dict[str, GRU4RecConfig]:
    """The configurations of the table: the class default, the official preset, and the official
    preset at batch 32 (the issue's events/s target)."""
    from sbrlib.models.gru4rec.presets import preset

    return {"GRU4Rec default": GRU4RecConfig(), "GRU4Rec official": preset("official"),
            "GRU4Rec official, batch 32": preset("official", batch_size=32)}


def efficiency_table(train: pd.DataFrame, sasrec: dict | None = None, max_events: int = 60_000,
                     throughput: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per configuration: FLOP/event (and its parts), events/s, GFLOP/s achieved and the
    fraction of the peak.

    Args:
        train: sessionized training events (GRU4Rec trains 2 epochs on about ``max_events`` of them).
        sasrec: a :func:`bench_sasrec.run` result (``targets_per_second``, ``n_items``, ``max_len``,
            ``blocks``, ``dim``) for the SASRec row; None skips it.
        throughput: a :func:`matmul_throughput` result (measured here when None).

    Returns:
        ``(table, throughput)``.
    """
    configs = gru4rec_configs()
    if throughput is None:
        shapes = {f"output_b{c.batch_size}_h{c.layers[-1]}": (c.batch_size, c.layers[-1], c.batch_size + c.n_sample)
                  for c in configs.values()}
        throughput = matmul_throughput(shapes=shapes)
    peak = throughput["peak"]
    rows = []
    for name, cfg in configs.items():
        flop = gru4rec_flop_per_event(cfg)
        speed = gru4rec_events_per_second(cfg, train, max_events)
        rows.append({"configuration": name, "batch_size": cfg.batch_size, "mflop_per_event": flop["total"] / 1e6,
                     "gru_mflop": flop["gru"] / 1e6, "output_mflop": flop["output"] / 1e6,
                     "optimizer_mflop": flop["optimizer"] / 1e6, "events_per_second": speed["events_per_second"]})
    if sasrec is not None:
        cfg = SASRecConfig(max_len=sasrec["max_len"], blocks=sasrec["blocks"], dim=sasrec["dim"],
                           batch_size=sasrec["batch_size"])
        flop = sasrec_flop_per_target(cfg, sasrec["n_items"])
        rows.append({"configuration": f"SASRec (max_len {cfg.max_len}, {cfg.blocks} blocks, dim {cfg.dim})",
                     "batch_size": cfg.batch_size, "mflop_per_event": flop["total"] / 1e6,
                     "gru_mflop": flop["blocks"] / 1e6, "output_mflop": flop["output"] / 1e6, "optimizer_mflop": 0.0,
                     "events_per_second": sasrec["targets_per_second"]})
    table = pd.DataFrame(rows).set_index("configuration")
    table["gflops_achieved"] = table["events_per_second"] * table["mflop_per_event"] / 1e3
    table["fraction_of_peak"] = table["gflops_achieved"] / peak
    return table, throughput


def main() -> None:
    from sbrlib.data import preprocess
    from sbrlib.data import store as artifacts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--max-events", type=int, default=60_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    dataset = "synthetic-tiny" if args.quick else args.dataset
    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig())
    table, throughput = efficiency_table(split["train"], None, 5_000 if args.quick else args.max_events)
    print(device_name())
    print({k: round(v, 1) for k, v in throughput.items()})
    with pd.option_context("display.width", 220, "display.precision", 3):
        print(table.to_string())


if __name__ == "__main__":
    main()
