"""`make bench`: every speed and memory figure, printed and written to results/benchmark.md.

1. loading and preprocessing (targets: < 2 s and < 5 s on 2 cores);
2. GRU4Rec training (cross-entropy, layers 100, n_sample 512) at batch 32 / 64 / 256 on ML-100K
   (when found) and synthetic ML-1M size (and ML-25M size when that preset exists): events/s,
   slot occupancy with and without batch shrinking, peak RSS (targets: >= 36,000 events/s at
   batch 32 on ML-100K, >= 100,000 events/s at batch 256 on ML-1M size, <= 1 GB);
3. GRU4Rec step time against the number of items (3.7k, 27k, 60k; target: within 1.5x);
4. every model's fit and evaluation on the test split: accuracy, evaluation seconds per 100k
   predictions, split into the model's own ``step`` and the evaluator (targets: GRU4Rec step
   <= 5 s, baselines <= 15 s per 100k predictions);
5. SASRec training (max_len 200, 2 blocks, 50 dims, batch 128, full cross-entropy) on ML-1M-size
   leave-one-out histories: seconds per epoch (extrapolated from timed batches) and peak RSS
   (``benchmarks/bench_sasrec.py``, in its own process);
6. training efficiency: the machine's dense fp32 matrix-product GFLOP/s (numpy, TensorFlow, and the
   GPU when TensorFlow sees one), useful FLOP per training event of GRU4Rec (default, official
   preset, official at batch 32) and SASRec from written-down formulas, and the achieved fraction
   events/s x FLOP/event / peak (``benchmarks/bench_efficiency.py``).

The header names the device TensorFlow trains on (a GPU's name when there is one).

Timings on a shared machine are noisy; compare figures measured in the same run.
Usage: python benchmarks/run_all.py [--dataset synthetic|ml-100k|ml-1m] [--quick] [--skip-speed] [--gru-epochs 3]
       [--sasrec-steps 100] [--skip-sasrec]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data
import bench_efficiency
import bench_gru4rec
import pandas as pd
from _measure import StepTimer, peak_rss_mb

from sbrlib.core import paths
from sbrlib.core.fileio import atomic_path
from sbrlib.data import preprocess
from sbrlib.data import store as artifacts
from sbrlib.evaluation.evaluator import EvalConfig, evaluate
from sbrlib.models import VSKNN, ItemKNN, Markov, Pop, SequentialRules, SessionPop
from sbrlib.models.gru4rec import GRU4Rec
from sbrlib.models.gru4rec.presets import preset
from sbrlib.notebook.comparisons import fit_timed
from sbrlib.pipeline import records as reporting


def model_table(dataset: str, gru_epochs: int, data_dir: str | None = None) -> pd.DataFrame:
    """Fit every model on train, evaluate on test: accuracy, fit seconds, evaluation s/100k."""
    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig(), data_dir=data_dir)
    gru_config = preset("official", batch_size=128, epochs=gru_epochs)  # fixed setting, whatever the class defaults
    factories = {"Pop": Pop, "S-Pop": SessionPop, "Item-kNN": ItemKNN, "Markov": Markov, "SR": SequentialRules,
                 "V-SKNN": VSKNN, "GRU4Rec": lambda: _Quiet(gru_config)}
    models, fit_seconds = fit_timed(factories, split["train"])
    rows = {}
    for name, model in models.items():
        timer = StepTimer(model)
        res = evaluate(model, split["test"], EvalConfig(ks=(10, 20), coverage_ks=(20,)), progress=False)
        timer.restore()
        per = 100_000 / max(res.metrics["predictions"], 1)
        rows[name] = {k: res.metrics[k] for k in ("recall@10", "mrr@10", "recall@20", "mrr@20", "ndcg@20", "coverage@20")}
        rows[name].update(fit_seconds=fit_seconds[name], eval_s_per_100k=res.metrics["eval_seconds"] * per,
                          step_s_per_100k=timer.seconds * per,
                          evaluator_s_per_100k=(res.metrics["eval_seconds"] - timer.seconds) * per,
                          predictions=res.metrics["predictions"])
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


def run_all_times(runs_dir: Path) -> pd.DataFrame:
    """Seconds per notebook of the newest recorded ``make run-all`` run per (dataset, mode, profile),
    read from the runs' ``run.json`` (rows: runs, columns: notebooks, plus ``total`` and ``status``)."""
    import json

    newest: dict[tuple, dict] = {}
    for path in sorted(runs_dir.glob("*/run.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        key = (record.get("dataset"), record.get("session_mode"), record.get("profile"))
        newest[key] = {**record, "run": path.parent.name}  # sorted by folder name = start time
    expected = len(list((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    rows = {}
    for (dataset, mode, profile), record in newest.items():
        books = record.get("notebooks", {})
        row = {name.split("_")[0]: info.get("seconds") for name, info in books.items()}
        done = len(books) == expected and all(info.get("status") == "ok" for info in books.values())
        row.update(total=sum(v for v in row.values() if v is not None), status="complete" if done else "partial")
        rows[f"{dataset}/{mode}/{profile} ({record['run']})"] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    numbered = sorted(c for c in table.columns if c not in ("total", "status"))
    return table[numbered + ["total", "status"]] if len(table) else table


def sasrec_row(dataset: str, steps: int, quick: bool = False) -> dict:
    """``bench_sasrec.run`` in a fresh process (its own peak RSS); the figures of one setting."""
    small = {"max_len": 16, "dim": 16, "blocks": 1, "batch_size": 32} if quick else {}
    r = bench_gru4rec.isolated("run", module="bench_sasrec", dataset=dataset, protocol="loo", steps=steps, **small)
    keep = ("dataset", "train_events", "epoch_targets", "compile_seconds", "seconds_per_batch", "targets_per_second",
            "epoch_seconds", "peak_rss_mb_train", "n_items", "max_len", "blocks", "dim", "batch_size")
    return {k: r[k] for k in keep}


def efficiency_section(dataset: str, data_dir: str | None, sasrec: dict | None, quick: bool) -> list[str]:
    """Print and return (as markdown lines) the efficiency table of :mod:`bench_efficiency`."""
    split, _ = artifacts.prepare(dataset, preprocess.PreprocessConfig(), data_dir=data_dir)
    # quick: a smaller square and shorter timings; otherwise measured by efficiency_table
    throughput = bench_efficiency.matmul_throughput(512, {"output_b27_h127": (27, 127, 27 + 2048)}, 0.1) if quick else None
    table, throughput = bench_efficiency.efficiency_table(split["train"], sasrec, 3_000 if quick else 60_000, throughput)
    peak_line = ", ".join(f"{k} {v:,.1f}" for k, v in throughput.items())
    print(f"fp32 matmul GFLOP/s ({bench_efficiency.device_name()}): {peak_line}")
    with pd.option_context("display.width", 220, "display.precision", 3):
        print(table.to_string())
    return ["## Training efficiency (useful FLOP per event against the machine's fp32 matrix-product throughput)", "",
            f"fp32 matrix products on {bench_efficiency.device_name()}, GFLOP/s: {peak_line} "
            "(`*_square`: 2048x2048 products, `tf_output_*`: a training step's output-layer product; `peak`: the "
            "largest figure of the device training runs on).", "",
            reporting.to_markdown(table, ".3f"),
            "`mflop_per_event`: useful MFLOP per training event (GRU4Rec) or target (SASRec) from the formulas in "
            "`benchmarks/bench_efficiency.py` (GRU gates / SASRec blocks, output layer, forward and backward, "
            "and GRU4Rec's Adagrad updates); `events_per_second`: GRU4Rec's second of 2 epochs on about 60k training "
            "events, SASRec's timed batches above; `fraction_of_peak` = events/s x FLOP/event / `peak`.", ""]


class _Quiet(GRU4Rec):
    def fit(self, train, valid=None, progress=False):
        return super().fit(train, valid, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--quick", action="store_true", help="smoke run on tiny data (well under a minute)")
    parser.add_argument("--skip-speed", action="store_true", help="skip the GRU4Rec training-speed grid")
    parser.add_argument("--gru-epochs", type=int, default=3)
    parser.add_argument("--sasrec-steps", type=int, default=100, help="timed SASRec mini-batches (after compilation)")
    parser.add_argument("--skip-sasrec", action="store_true", help="skip the SASRec training benchmark")
    args = parser.parse_args()
    dataset = "synthetic-tiny" if args.quick else args.dataset
    ml100k = bench_gru4rec.ml100k_dir()
    data_dir = str(ml100k) if dataset == "ml-100k" and ml100k else None
    os.environ.pop("SBR_DATA_DIR", None)  # each dataset gets its folder explicitly
    started = time.perf_counter()
    lines = [f"# Benchmark ({dataset}{', quick' if args.quick else ''})", "",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, TensorFlow on "
             f"{bench_efficiency.device_name()}. Timings on a shared machine are noisy: compare figures of the "
             "same run.", ""]
    print(lines[2])

    print("== loading and preprocessing")
    data_rows = bench_data.run(dataset, data_dir, repeat=1 if args.quick else 3)
    data_table = pd.DataFrame(data_rows).set_index("stage")
    print(data_table.to_string())
    lines += ["## Data", "", reporting.to_markdown(data_table[["seconds", "peak_mb", "target_s"]], ".2f"),
              f"Size: {data_rows[0]['size']}.", ""]

    if not args.skip_speed:
        print("== GRU4Rec training speed (default configuration; official settings: cross-entropy, layers 100, "
              "n_sample 512)")
        speed, skipped = bench_gru4rec.training_speed(args.quick, ml100k=ml100k)
        for line in skipped:
            print("skipped:", line)
        cols = ["dataset", "setting", "batch_size", "events_per_second", "epoch_seconds", "first_epoch_seconds", "occupancy",
                "occupancy_no_shrink", "peak_rss_mb", "train_events", "n_items"]
        print(speed[cols].to_string(index=False))
        lines += ["## GRU4Rec training speed (last epoch; `default`: GRU4RecConfig(), BPR-max, batch 27, "
                  "n_sample 2048; `official`: cross-entropy, layers 100, n_sample 512)", "",
                  reporting.to_markdown(speed[cols].set_index("dataset"), ".3f"),
                  *[f"Skipped: {line}." for line in skipped], "",
                  "`occupancy`: mean fraction of computed slots holding a session (with batch shrinking, "
                  "`shrink_batch=\"auto\"`); `occupancy_no_shrink`: every slot computed at every step; "
                  "`first_epoch_seconds` includes XLA compilation; peak RSS of the training process.", "",
                  "Targets (2 cores): default configuration >= 2x its 10,400-11,700 events/s before issue 20 "
                  "on ML-100K; official settings >= 50,000 events/s at batch 32 on ML-100K (official code ~11,900); "
                  ">= 100,000 events/s at batch 256 on ML-1M size; peak RSS <= 1 GB on ML-1M size.", ""]
        print("== GRU4Rec step time against the number of items (batch 64, n_sample 512)")
        scaling = bench_gru4rec.step_time_vs_items(args.quick)
        print(scaling.to_string(index=False))
        lines += ["## GRU4Rec step time against the number of items", "",
                  reporting.to_markdown(scaling.set_index("n_items"), ".3f"),
                  "Synthetic sessions (uniform items), batch 64, n_sample 512, second epoch. Target: the "
                  "largest catalogue within 1.5x of the smallest.", ""]

    print("== models: fit on train, evaluate on test (full ranking, conservative ties)")
    table = model_table(dataset, 1 if args.quick else args.gru_epochs, data_dir)
    with pd.option_context("display.width", 220, "display.precision", 4):
        print(table.to_string())
    lines += [f"## Models (GRU4Rec: batch 128, {1 if args.quick else args.gru_epochs} epochs, cross-entropy, "
              "n_sample 2048)", "",
              reporting.to_markdown(table, ".4f"),
              "`eval_s_per_100k` = `step_s_per_100k` (the model's own `step`) + `evaluator_s_per_100k` "
              "(ranks, coverage). Targets: GRU4Rec step <= 5 s and baselines <= 15 s per 100k predictions.", ""]
    if not args.skip_sasrec:
        print("== SASRec training (leave-one-out histories; max_len 200, 2 blocks, 50 dims, batch 128, cross-entropy)")
        sas = sasrec_row(dataset, 5 if args.quick else args.sasrec_steps, quick=args.quick)
        sas_table = pd.DataFrame([sas]).set_index("dataset").drop(columns=["max_len", "blocks", "dim", "batch_size"])
        print(sas_table.to_string())
        lines += ["## SASRec training (leave-one-out histories, full cross-entropy)", "",
                  reporting.to_markdown(sas_table, ".3f"),
                  "`epoch_seconds` is extrapolated from the timed mini-batches (after one compilation per "
                  "padded length, `compile_seconds`); peak RSS of the SASRec process.", ""]
    print("== training efficiency: achieved fraction of the machine's fp32 matrix-product throughput")
    lines += efficiency_section(dataset, data_dir, None if args.skip_sasrec else sas, args.quick)
    runs = run_all_times(paths.project_dir() / "outputs" / "runs")
    print("== make run-all: seconds per notebook of the newest run per dataset, mode and profile")
    if len(runs):
        with pd.option_context("display.width", 220):
            print(runs.to_string())
        lines += ["## `make run-all`, seconds per notebook (newest recorded run of each dataset, mode, profile)", "",
                  reporting.to_markdown(runs, ".0f"),
                  "From each run's `run.json` (the runs are not repeated here); empty: not run or not finished.", ""]
    else:
        print("no recorded make run-all runs under outputs/runs (run make run-all DATASET=synthetic first)")
    lines += [f"Total benchmark time {time.perf_counter() - started:.0f} s; peak RSS of the main process "
              f"{peak_rss_mb():,.0f} MB."]
    out = paths.project_dir() / "results" / "benchmark.md"
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
