"""GRU4Rec training speed, slot occupancy and memory; step time against the number of items.

* Training, setting ``default``: ``GRU4RecConfig()`` (BPR-max, layer 127, batch 27, 2,048 shared
  negatives, dropout 0.4, Adagrad with momentum) on the datasets below (not ML-25M size).
* Training, setting ``official``: cross-entropy, layers 100, n_sample 512, batch 32 / 64 / 256 on the real ML-100K
  (``gap`` split; when its folder is found) and on synthetic ML-1M-size data (and ML-25M size when
  the preset ``synthetic-25m`` exists). Each setting runs in its own process, so its peak RSS is its
  own. Reported: events/s of the last epoch (the first includes XLA compilation), occupancy (mean
  fraction of computed slots that hold a session) with and without batch shrinking. ML-100K
  trains 10 epochs (seconds each), ML-1M size ``--epochs`` (2), ML-25M size one.
* Step time against the number of items: the same batch and n_sample on synthetic sessions over
  3.7k, 27k and 60k items (target: the largest within 1.5x of the smallest).

Targets on 2 CPU cores: >= 50,000 events/s at batch 32 on ML-100K (the official code: ~11,900; issue 20),
>= 2x the events/s of the default configuration before issue 20 (10,400-11,700 on ML-100K),
>= 100,000 events/s at batch 256 on ML-1M size, peak RSS <= 1 GB on ML-1M size.
Usage: python benchmarks/bench_gru4rec.py [--quick] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from _measure import peak_rss_mb

from sbrlib.core import paths
from sbrlib.core.columns import ITEM, SESSION, TIME, USER
from sbrlib.data import SPECS, preprocess
from sbrlib.data import store as artifacts
from sbrlib.data.batching import contiguous_sessions, schedule_from_frame

BATCHES = (32, 64, 256)
ITEM_COUNTS = (3_706, 27_000, 60_000)


def ml100k_dir() -> Path | None:
    """The real ML-100K folder: ``$SBR_DATA_DIR`` when it holds ``u.data``, else the project's
    ``data/raw/ml-100k``, else ``../shared/data/ml-100k`` beside the repository; None if absent."""
    root = Path(__file__).resolve().parents[1]
    candidates = [os.environ.get("SBR_DATA_DIR"), paths.raw_dir("ml-100k"), root.parent / "shared" / "data" / "ml-100k"]
    for folder in candidates:
        if folder and (Path(folder) / "u.data").is_file():
            return Path(folder)
    return None


def available_datasets(quick: bool, ml100k: Path | None = None) -> tuple[list[tuple[str, Path | None]], list[str]]:
    """``(datasets, skipped lines)``: (name, data_dir) pairs to benchmark and why others are not."""
    if quick:
        return [("synthetic-tiny", None)], ["quick mode: synthetic-tiny only"]
    chosen, skipped = [], []
    folder = ml100k or ml100k_dir()
    if folder is not None:
        chosen.append(("ml-100k", folder))
    else:
        skipped.append("ml-100k: folder not found (set SBR_DATA_DIR to the unpacked ml-100k folder)")
    chosen.append(("synthetic", None))
    if "synthetic-25m" in SPECS:
        chosen.append(("synthetic-25m", None))
    else:
        skipped.append("synthetic-25m: no such preset in sbrlib.SPECS")
    return chosen, skipped


def train_row(dataset: str, batch_size: int, epochs: int = 2, data_dir: str | None = None,
              loss: str = "cross-entropy", n_sample: int = 512, shrink_batch: str = "auto",
              setting: str = "official") -> dict:
    """Train one setting; figures of the last epoch. ``setting="default"``: ``GRU4RecConfig()`` with
    ``epochs`` and ``shrink_batch`` (``batch_size``, ``loss`` and ``n_sample`` are the configuration's)."""
    from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig
    from sbrlib.models.gru4rec.presets import preset

    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig(), data_dir=data_dir)
    train = split["train"]
    del split  # the other frames are not needed for training
    if setting == "default":
        batch_size = GRU4RecConfig().batch_size
    events = contiguous_sessions(train)
    full = schedule_from_frame(events, np.zeros(len(events), np.int32), batch_size)
    no_shrink = full.n_pairs / max(full.n_steps * batch_size, 1)
    del events, full
    if setting == "default":
        cfg = GRU4RecConfig(epochs=epochs, shrink_batch=shrink_batch)
    else:
        cfg = preset("official", loss=loss, n_sample=n_sample, batch_size=batch_size, layers=(100,), epochs=epochs,
                     learning_rate=0.05 if loss == "cross-entropy" else 0.1, momentum=0.3, shrink_batch=shrink_batch)
    model = GRU4Rec(cfg).fit(train, progress=False)
    last = model.history.iloc[-1]
    return {"dataset": dataset, "setting": setting, "loss": cfg.loss, "batch_size": cfg.batch_size,
            "n_sample": cfg.n_sample,
            "events_per_second": float(last["events_per_second"]), "epoch_seconds": float(last["seconds"]),
            "first_epoch_seconds": float(model.history.iloc[0]["seconds"]),
            "occupancy": float(last["occupancy"]), "occupancy_no_shrink": no_shrink,
            "peak_rss_mb": peak_rss_mb(), "train_events": len(train), "n_items": model.n_items}


def isolated(function: str, module: str = "bench_gru4rec", **kwargs) -> dict:
    """Run ``function(**kwargs)`` of a benchmark module (default: this one) in a fresh Python
    process (its own peak RSS); returns the function's JSON-able result."""
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"import {module} as b; print('RESULT' + json.dumps(b.{function}(**json.loads(sys.argv[1]))))")
    env = dict(os.environ, TQDM_DISABLE="1")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    if out.returncode or not lines:
        raise RuntimeError(f"{function}({kwargs}) failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT"):])


def training_speed(quick: bool = False, epochs: int = 2, ml100k: Path | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One row per (dataset, setting, batch size): the default configuration (not at ML-25M size) and
    the official settings at each batch size; ``ml100k``: the real ML-100K folder (default:
    :func:`ml100k_dir`)."""
    chosen, skipped = available_datasets(quick, ml100k)
    rows = []
    for dataset, folder in chosen:
        batches = (32,) if quick else (BATCHES if dataset != "synthetic-25m" else (256,))
        settings = [("official", b) for b in batches]
        if dataset != "synthetic-25m":
            settings.insert(0, ("default", 0))  # batch 0: the configuration's own (27)
        for setting, batch in settings:
            # ML-100K epochs take seconds: train the usual 10 (batch shrinking is planned for them);
            # an ML-25M-size epoch takes many minutes: one (its compilation is a few seconds of it)
            n_epochs = {"ml-100k": 10, "synthetic-25m": 1}.get(dataset, epochs)
            kwargs = dict(dataset=dataset, batch_size=batch, epochs=n_epochs, setting=setting,
                          data_dir=str(folder) if folder else None)
            rows.append(train_row(**kwargs) if quick else isolated("train_row", **kwargs))
    return pd.DataFrame(rows), skipped


def random_sessions(n_items: int, n_events: int = 40_000, length: int = 20, seed: int = 0) -> pd.DataFrame:
    """Sessions of ``length`` uniformly drawn items over ``n_items`` items (each item occurs)."""
    rng = np.random.default_rng(seed)
    n_events = max(n_events, n_items)
    items = np.r_[np.arange(n_items), rng.integers(0, n_items, n_events - n_items)]
    rng.shuffle(items)
    sessions = np.arange(n_events) // length
    return pd.DataFrame({SESSION: sessions, USER: sessions, ITEM: items, TIME: np.arange(n_events)})


def step_time_row(n_items: int, batch_size: int = 64, n_sample: int = 512, n_events: int = 40_000) -> dict:
    """Milliseconds per training step (second epoch) with ``n_items`` items."""
    from sbrlib.models.gru4rec import GRU4Rec
    from sbrlib.models.gru4rec.presets import preset

    data = random_sessions(n_items, n_events)
    cfg = preset("official", batch_size=batch_size, n_sample=n_sample, epochs=2, layers=(100,), shrink_batch="never")
    model = GRU4Rec(cfg).fit(data, progress=False)
    steps = schedule_from_frame(contiguous_sessions(data), np.zeros(len(data), np.int32), batch_size).n_steps
    return {"n_items": n_items, "batch_size": batch_size, "n_sample": n_sample,
            "ms_per_step": 1e3 * float(model.history["seconds"].iloc[-1]) / steps}


def step_time_vs_items(quick: bool = False) -> pd.DataFrame:
    """Step time for each item count and its ratio to the smallest."""
    counts, events = ((500, 4_000), 4_000) if quick else (ITEM_COUNTS, 40_000)
    table = pd.DataFrame([step_time_row(n, n_events=events) for n in counts])
    table["ratio"] = table["ms_per_step"] / table["ms_per_step"].iloc[0]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny data, a few seconds per part")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    speed, skipped = training_speed(args.quick, args.epochs)
    for line in skipped:
        print("skipped:", line)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(speed.to_string(index=False))
        print(step_time_vs_items(args.quick).to_string(index=False))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
