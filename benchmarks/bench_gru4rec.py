"""GRU4Rec training speed and memory on ML-1M-size data (default: synthetic).

Prints epoch seconds, training events/s and peak RSS for cross-entropy (n_sample=512) and
BPR-max, layers=100, batch sizes 64 and 256. Target on 2 CPU cores: >= 60,000 events/s for
cross-entropy at batch 256, peak memory < 3 GB.
Usage: python benchmarks/bench_gru4rec.py [--dataset synthetic] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sbrlib import artifacts, preprocess  # noqa: E402
from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig  # noqa: E402

SETTINGS = [
    ("cross-entropy", 512, 64), ("cross-entropy", 512, 256),
    ("bpr-max", 512, 64), ("bpr-max", 512, 256),
]


def run(dataset: str, epochs: int = 2, settings=SETTINGS) -> list[dict]:
    """Train each setting for ``epochs`` epochs; report the last epoch (the first includes compilation)."""
    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig())
    train = split["train"]
    rows = []
    for loss, n_sample, batch in settings:
        cfg = GRU4RecConfig(loss=loss, n_sample=n_sample, batch_size=batch, layers=(100,), epochs=epochs,
                            learning_rate=0.05 if loss == "cross-entropy" else 0.1, momentum=0.3)
        model = GRU4Rec(cfg).fit(train, progress=False)
        last = model.history.iloc[-1]
        rows.append({"loss": loss, "n_sample": n_sample, "batch_size": batch,
                     "epoch_seconds": float(last["seconds"]), "first_epoch_seconds": float(model.history.iloc[0]["seconds"]),
                     "events_per_second": float(last["events_per_second"]),
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     "train_events": len(train)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    for row in run(args.dataset, args.epochs):
        print(f"GRU4Rec {row['loss']:<13} n_sample={row['n_sample']} batch={row['batch_size']:<4} "
              f"epoch {row['epoch_seconds']:6.1f} s (first {row['first_epoch_seconds']:.1f} s)  "
              f"{row['events_per_second']:9,.0f} events/s  peak RSS {row['peak_rss_mb']:,.0f} MB  "
              f"[{args.dataset}, {row['train_events']:,} train events]")


if __name__ == "__main__":
    main()
