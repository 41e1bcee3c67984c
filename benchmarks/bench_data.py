"""Loading, hashing and preprocessing speed/memory, per dataset (default: synthetic, ML-1M size).

Targets on a 2-core machine:

* ML-1M size (``synthetic``, ``ml-1m``): load ratings < 2 s, preprocess < 5 s;
* ML-25M size (``synthetic-25m``, ``ml-25m``): load + preprocess (defaults) <= 60 s, peak RSS <= 6 GB.

Each dataset is measured in a fresh Python process, so its peak RSS is its own. Stages: load
ratings, hash the ratings file without the cache (what the first ``describe_source`` costs),
the cached hash lookup, preprocess with the default protocol. Data are generated or downloaded
first if needed (not timed). Timings on a shared machine are noisy: CPU seconds are printed too.

Usage: python benchmarks/bench_data.py [--dataset synthetic [synthetic-25m ...]] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure

from sbrlib.data import file_hashes, get_spec, hash_seconds, load_ratings, locate, preprocess

#: (load target s, preprocess target s, total target s, RSS target MB) by dataset size.
TARGETS = {"small": (2.0, 5.0, None, None), "25m": (None, None, 60.0, 6144.0)}


def _size_class(dataset: str) -> str:
    return "25m" if dataset.endswith(("25m", "20m", "32m")) else "small"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def run(dataset: str, data_dir: str | None = None, repeat: int = 3, trace_memory: bool = True) -> list[dict]:
    """Benchmark rows (stage, seconds, peak_mb, rss_mb, target_s, size) in this process.

    ``seconds`` is the best of ``repeat`` runs; ``peak_mb`` the tracemalloc peak of one more
    run (NaN when ``trace_memory`` is False); ``rss_mb`` the process's peak RSS after the stage.
    """
    folder = locate(dataset, data_dir)  # generates the synthetic data on first use (not timed)
    load_t, prep_t, _, _ = TARGETS[_size_class(dataset)]
    load = measure(lambda: load_ratings(dataset, folder), repeat, trace_memory)
    ratings = load["result"]
    prep = measure(lambda: preprocess.preprocess(ratings, preprocess.PreprocessConfig()), repeat, trace_memory)
    split = prep["result"]
    size = f"{len(ratings):,} ratings -> {len(split['train']):,} train / {len(split['test']):,} test events"
    return [
        {"stage": "load ratings", "seconds": load["seconds"], "peak_mb": load["peak_mb"], "rss_mb": load["rss_mb"],
         "target_s": load_t, "size": size},
        {"stage": "preprocess (gap 3600 s, split)", "seconds": prep["seconds"], "peak_mb": prep["peak_mb"],
         "rss_mb": prep["rss_mb"], "target_s": prep_t, "size": size},
    ]


def run_child(dataset: str, repeat: int) -> dict:
    """All stages for one dataset in this (fresh) process; JSON-ready figures."""
    folder = locate(dataset)
    path = folder / get_spec(dataset).files["ratings"]
    base = _rss_mb()
    out: dict = {"dataset": dataset, "file_mb": path.stat().st_size / 2**20, "rss_base_mb": base}
    best = None
    for _ in range(repeat):
        ratings, wall, cpu = _timed(lambda: load_ratings(dataset, folder))
        if best is None or wall < best[0]:
            best = (wall, cpu)
        if _ + 1 < repeat:
            del ratings
    out["load_s"], out["load_cpu_s"] = best
    out["rss_after_load_mb"] = _rss_mb()
    out["hash_uncached_s"] = hash_seconds(path)
    file_hashes(path)  # fill the cache
    _, out["hash_cached_s"], _ = _timed(lambda: file_hashes(path))
    best = None
    for _ in range(repeat):
        split, wall, cpu = _timed(lambda: preprocess.preprocess(ratings, preprocess.PreprocessConfig()))
        if best is None or wall < best[0]:
            best = (wall, cpu)
    out["preprocess_s"], out["preprocess_cpu_s"] = best
    out["rss_peak_mb"] = _rss_mb()
    out["size"] = (f"{len(ratings):,} ratings, {ratings['UserId'].nunique():,} users -> "
                   f"{len(split['train']):,} train / {len(split['test']):,} test events")
    return out


def _report(row: dict) -> None:
    load_t, prep_t, total_t, rss_t = TARGETS[_size_class(row["dataset"])]
    total = row["load_s"] + row["preprocess_s"]

    def target(value, limit, unit):
        return "" if limit is None else f"(target <= {limit:.0f} {unit}: {'ok' if value <= limit else 'MISSED'})"

    print(f"== {row['dataset']}: {row['size']}; ratings file {row['file_mb']:.0f} MB")
    print(f"  load ratings        {row['load_s']:7.2f} s wall  {row['load_cpu_s']:7.2f} s CPU  {target(row['load_s'], load_t, 's')}")
    print(f"  preprocess          {row['preprocess_s']:7.2f} s wall  {row['preprocess_cpu_s']:7.2f} s CPU  "
          f"{target(row['preprocess_s'], prep_t, 's')}")
    print(f"  load + preprocess   {total:7.2f} s wall  {target(total, total_t, 's')}")
    print(f"  hash ratings file   {row['hash_uncached_s']:7.2f} s uncached (sha256 + git blob id), "
          f"{row['hash_cached_s'] * 1000:.1f} ms cached")
    print(f"  peak RSS            {row['rss_peak_mb']:7.0f} MB (after load {row['rss_after_load_mb']:.0f} MB, "
          f"interpreter {row['rss_base_mb']:.0f} MB)  {target(row['rss_peak_mb'], rss_t, 'MB')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", nargs="+", default=["synthetic"], help="one or more dataset names")
    parser.add_argument("--repeat", type=int, default=1, help="runs per stage (best wall time is kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.repeat)))
        return
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])} "
          "(a shared machine makes wall times noisy; CPU seconds are less so)")
    for dataset in args.dataset:
        locate(dataset)  # generate / download once, outside the measured process
        proc = subprocess.run([sys.executable, __file__, "--child", dataset, "--repeat", str(args.repeat)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"== {dataset}: failed\n{proc.stderr[-2000:]}")
            continue
        _report(json.loads(proc.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
