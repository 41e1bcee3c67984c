"""`make bench`: data, training-speed and model benchmarks, printed and written to results/benchmark.md.

1. loading and preprocessing (targets: < 2 s and < 5 s on 2 cores);
2. GRU4Rec training speed for cross-entropy / BPR-max at batch 64 and 256 (target: >= 60,000
   events/s for cross-entropy at batch 256, peak memory < 3 GB);
3. every model's fit and evaluation on the test split (targets: GRU4Rec evaluation of 100k
   predictions < 10 s; Item-kNN and SR fit < 5 s; V-SKNN evaluation of 100k predictions < 60 s).

Usage: python benchmarks/run_all.py [--dataset synthetic|ml-100k|ml-1m] [--skip-speed] [--gru-epochs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data  # noqa: E402
import bench_gru4rec  # noqa: E402
import pandas as pd  # noqa: E402

from sbrlib import artifacts, paths, preprocess, reporting  # noqa: E402
from sbrlib.evaluation import EvalConfig  # noqa: E402
from sbrlib.experiments import compare, fit_timed  # noqa: E402
from sbrlib.fileio import atomic_path  # noqa: E402
from sbrlib.models import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop  # noqa: E402
from sbrlib.models.gru4rec import GRU4Rec, GRU4RecConfig  # noqa: E402


def model_table(dataset: str, gru_epochs: int) -> pd.DataFrame:
    """Fit every model on train, evaluate on test; accuracy and seconds per model."""
    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig())
    gru_config = GRU4RecConfig(batch_size=128, epochs=gru_epochs, n_sample=2048, learning_rate=0.05, momentum=0.0)
    factories = {"Pop": Pop, "S-Pop": SessionPop, "Item-kNN": ItemKNN, "Markov": Markov, "SR": SequentialRules,
                 "V-SKNN": VSKNN, "GRU4Rec": lambda: _Quiet(gru_config)}
    models, fit_seconds = fit_timed(factories, split["train"])
    table, _ = compare(models, split["test"], EvalConfig(ks=(10, 20), coverage_ks=(20,)), fit_seconds, progress=False)
    table["eval_s_per_100k"] = table["eval_seconds"] / table["predictions"] * 100_000
    cols = ["recall@10", "mrr@10", "recall@20", "mrr@20", "ndcg@20", "coverage@20", "fit_seconds", "eval_seconds",
            "eval_s_per_100k", "predictions"]
    return table[cols]


class _Quiet(GRU4Rec):
    def fit(self, train, valid=None, progress=False):
        return super().fit(train, valid, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--skip-speed", action="store_true", help="skip the GRU4Rec training-speed grid")
    parser.add_argument("--gru-epochs", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    lines = [f"# Benchmark ({args.dataset})", "",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}.", ""]

    print("== loading and preprocessing")
    data_rows = bench_data.run(args.dataset)
    data_table = pd.DataFrame(data_rows).set_index("stage")
    print(data_table.to_string())
    lines += ["## Data", "", reporting.to_markdown(data_table[["seconds", "peak_mb", "target_s"]], ".2f"),
              f"Size: {data_rows[0]['size']}.", ""]

    if not args.skip_speed:
        print("== GRU4Rec training speed")
        speed = pd.DataFrame(bench_gru4rec.run(args.dataset, 2)).set_index("loss")
        print(speed.to_string())
        lines += ["## GRU4Rec training speed (layers=100, n_sample=512, last of 2 epochs)", "",
                  reporting.to_markdown(speed[["batch_size", "epoch_seconds", "events_per_second", "peak_rss_mb"]], ".1f"),
                  "Target: >= 60,000 events/s for cross-entropy at batch 256; peak memory < 3 GB.", ""]

    print("== models: fit on train, evaluate on test (full ranking, conservative ties)")
    table = model_table(args.dataset, args.gru_epochs)
    with pd.option_context("display.width", 200, "display.precision", 4):
        print(table.to_string())
    lines += [f"## Models (GRU4Rec: batch 128, {args.gru_epochs} epochs, cross-entropy, n_sample 2048)", "",
              reporting.to_markdown(table, ".4f"),
              "Targets: GRU4Rec evaluation < 10 s per 100k predictions; Item-kNN and SR fit < 5 s; "
              "V-SKNN evaluation < 60 s per 100k predictions.", "",
              f"Total benchmark time {time.perf_counter() - started:.0f} s; peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB."]
    out = paths.project_dir() / "results" / "benchmark.md"
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
