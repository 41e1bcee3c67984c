"""Command line helper behind ``make data``: ``python -m sbrlib.pipeline.cli data``."""

from __future__ import annotations

import argparse
import logging
import sys

from sbrlib.core.errors import DataError
from sbrlib.data import SPECS, load_ratings, locate
from sbrlib.notebook import eda


def _data(args: argparse.Namespace) -> int:
    folder = locate(args.dataset, args.data_dir or None)
    ratings = load_ratings(args.dataset, folder)
    print(f"{args.dataset}: {folder}")
    print(eda.summary(ratings).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m sbrlib.pipeline.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    p_data = sub.add_parser("data", help="download/generate and verify a dataset")
    p_data.add_argument("--dataset", default="ml-1m", choices=sorted(SPECS))
    p_data.add_argument("--data-dir", default=None, help="existing folder (default: $SBR_DATA_DIR)")
    args = parser.parse_args(argv)
    try:
        return {"data": _data}[args.command](args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
