"""Loading and preprocessing speed/memory on ML-1M-size data (default: synthetic).

Targets on a 2-core machine: load ratings.dat under 2 s, preprocess under 5 s.
Usage: python benchmarks/bench_data.py [--dataset synthetic|ml-1m|ml-100k]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

from sbrlib import datasets, preprocess  # noqa: E402


def run(dataset: str, data_dir: str | None = None, repeat: int = 3) -> list[dict]:
    """Benchmark rows: stage, seconds, peak MB, size."""
    folder = datasets.locate(dataset, data_dir)  # generates the synthetic data on first use (not timed)
    load = measure(lambda: datasets.load_ratings(dataset, folder), repeat=repeat)
    ratings = load["result"]
    prep = measure(lambda: preprocess.preprocess(ratings, preprocess.PreprocessConfig()), repeat=repeat)
    split = prep["result"]
    size = f"{len(ratings):,} ratings -> {len(split['train']):,} train / {len(split['test']):,} test events"
    return [
        {"stage": "load ratings", "seconds": load["seconds"], "peak_mb": load["peak_mb"], "target_s": 2.0,
         "size": size},
        {"stage": "preprocess (gap 3600 s, split)", "seconds": prep["seconds"], "peak_mb": prep["peak_mb"],
         "target_s": 5.0, "size": size},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="synthetic")
    args = parser.parse_args()
    for row in run(args.dataset):
        print(f"{row['stage']:<32} {row['seconds']:7.2f} s (target < {row['target_s']:.0f} s)  "
              f"peak {row['peak_mb']:7.1f} MB  [{args.dataset}: {row['size']}]")


if __name__ == "__main__":
    main()
