"""Command line helpers behind the Makefile: ``python -m sbrlib.cli data|summary``."""

from __future__ import annotations

import argparse
import logging
import sys

import pandas as pd

from sbrlib import eda, paths
from sbrlib.data import SPECS, load_ratings, locate
from sbrlib.errors import DataError


def _data(args: argparse.Namespace) -> int:
    folder = locate(args.dataset, args.data_dir or None)
    ratings = load_ratings(args.dataset, folder)
    print(f"{args.dataset}: {folder}")
    print(eda.summary(ratings).to_string())
    return 0


def _summary(args: argparse.Namespace) -> int:
    latest = paths.project_dir() / "outputs" / "latest" / "results"
    root = latest if args.latest else paths.project_dir() / "results"
    found = sorted(root.glob(f"{args.dataset}*/metrics.csv"))
    if not found:
        print(f"no results for {args.dataset} yet ({root}/{args.dataset}*/metrics.csv)")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 4):
        for path in found:
            print(f"\n=== {path.parent.name}: {path}")
            print(pd.read_csv(path, index_col=0).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sbrlib.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    p_data = sub.add_parser("data", help="download/generate and verify a dataset")
    p_data.add_argument("--dataset", default="ml-1m", choices=sorted(SPECS))
    p_data.add_argument("--data-dir", default=None, help="existing folder (default: $SBR_DATA_DIR)")
    p_sum = sub.add_parser("summary", help="print the recorded results tables")
    p_sum.add_argument("--dataset", default="ml-1m")
    p_sum.add_argument("--latest", action="store_true", help="the newest make run-all run instead of results/")
    args = parser.parse_args(argv)
    try:
        return {"data": _data, "summary": _summary}[args.command](args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
