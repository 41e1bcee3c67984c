"""``python -m sbrlib recommend --model NAME [--k 10] "Toy Story" "Heat"``: next-movie recommendations.

The titles form one session, oldest first. Each title is found with :mod:`sbrlib.titles`
(exact, then whole words, then close spelling). When several titles match equally well the one
with the most training events is taken and a ``note:`` line on stderr names the others (add the
year, e.g. ``"Hamlet (1990)"``, to choose another). Errors are one line on stderr with exit
status 2: an unknown model (the available names are listed), a title that matches nothing
(close titles are suggested), missing titles.

Models are looked up, unless ``--models-dir`` is given, in the run folder named by ``$SBR_RUN_DIR``,
then in the newest ``make run-all`` run (``outputs/latest/models``), then in ``models/``; the first
folder holding the name wins. Movie titles, years and genres come from the dataset's movies file
(``--dataset``, default: the dataset the model's split or name starts with; ``--data-dir`` or
``$SBR_DATA_DIR``), else from the titles saved with the model.

Any other first argument is passed on to :mod:`sbrlib.cli` (``python -m sbrlib data ...``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import pandas as pd

from sbrlib import paths
from sbrlib.columns import ITEM
from sbrlib.data import SPECS, load_movies
from sbrlib.errors import DataError
from sbrlib.preprocess import ItemIndex

log = logging.getLogger("sbrlib.recommend")


class UsageError(Exception):
    """A problem with the command line; printed as one line, exit status 2."""


def model_roots() -> list[Path]:
    """Folders that may hold saved models, in the order they are searched: the current run
    (``$SBR_RUN_DIR/models``), the newest ``make run-all`` run (``outputs/latest/models``), ``models/``."""
    roots = [paths.models_dir("x").parent, paths.project_dir() / "outputs" / "latest" / "models",
             paths.project_dir() / "models"]
    return list(dict.fromkeys(roots))


def available_models(roots: list[Path]) -> list[str]:
    """Names of the saved models under ``roots`` (folders holding ``config.json``), sorted."""
    names = set()
    for root in roots:
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if (p / "config.json").is_file())
    return sorted(names)


def model_folder(name: str, roots: list[Path]) -> Path:
    """The folder of model ``name`` (first root holding it); UsageError listing the available names."""
    for root in roots:
        if (root / name / "config.json").is_file():
            return root / name
    where = " or ".join(str(r) for r in roots)
    known = available_models(roots)
    if not known:
        raise UsageError(f"no model {name!r}: no saved models in {where} "
                         "(train one with `make run-all` or notebooks/04_train_gru4rec)")
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UsageError(f"no model {name!r}{hint} in {where}; available: {', '.join(known)}")


def guess_dataset(model_name: str) -> str | None:
    """The longest known dataset name that ``model_name`` starts with (``synthetic-tiny-gap-gru4rec``
    -> ``synthetic-tiny``), or None."""
    names = sorted(SPECS, key=len, reverse=True)
    return next((d for d in names if model_name == d or model_name.startswith(d + "-")), None)


def model_dataset(folder: Path) -> str | None:
    """The dataset of a saved model: from the split recorded in its ``provenance.json``, else its name."""
    provenance = folder / "provenance.json"
    if provenance.is_file():
        try:
            split = json.loads(provenance.read_text()).get("split")
        except (ValueError, AttributeError):
            split = None
        if split and (found := guess_dataset(str(split))):
            return found
    return guess_dataset(folder.name)


def load_catalog(folder: Path, dataset: str | None, data_dir: str | None) -> pd.DataFrame:
    """Movies (``ItemId, Title, Year, Genres``) for the model in ``folder``.

    From the dataset's movies file when it can be found without downloading, else from the
    model's saved ``titles.parquet``. UsageError when neither exists.
    """
    problem = "no dataset given"
    if dataset is not None:
        try:
            return load_movies(dataset, data_dir or None, download=False)
        except DataError as exc:
            problem = str(exc)
    saved = folder / "titles.parquet"
    if saved.is_file():
        movies = pd.read_parquet(saved)
        movies["Year"] = movies["Title"].str.extract(r"\((\d{4})\)\s*$", expand=False).astype("Int16")
        return movies
    raise UsageError(f"no movie titles for model {folder.name}: {problem}; the model has no saved titles either. "
                     "Pass --dataset and --data-dir (or set SBR_DATA_DIR)")


def load_model(folder: Path):
    """Load a saved model (GRU4Rec is the model family that is saved today)."""
    from sbrlib.models.gru4rec import GRU4Rec

    config = json.loads((folder / "config.json").read_text())
    try:
        return GRU4Rec.load(folder)
    except (TypeError, KeyError, ValueError) as exc:
        raise UsageError(f"{folder} holds a model this version cannot load ({config.get('name', '?')}: {exc})") from None


def recommend_command(args: argparse.Namespace) -> int:
    """Resolve titles, load the model, print the recommendations."""
    from sbrlib.recommend import recommend
    from sbrlib.titles import TitleIndex, TitleNotFound

    if args.k < 1:
        raise UsageError(f"--k must be >= 1, got {args.k}")
    roots = [Path(args.models_dir).expanduser()] if args.models_dir else model_roots()
    folder = model_folder(args.model, roots)
    index = ItemIndex.from_frame(pd.read_parquet(folder / "items.parquet"))
    support = pd.Series(index.support, index=index.ids)
    movies = load_catalog(folder, args.dataset or model_dataset(folder), args.data_dir)
    titles = TitleIndex(movies, popularity=support)
    session = []
    for query in args.titles:
        try:
            match = titles.resolve(query)
        except TitleNotFound as exc:
            raise UsageError(str(exc)) from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if match.note:
            print(f"note: {match.note}", file=sys.stderr)
        if match.item_id not in support.index:
            print(f"note: {match.title} is not in {args.model}'s training data; it is left out", file=sys.stderr)
            continue
        session.append(match)
    model = load_model(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unknown ids were reported above
        recs = recommend(model, [m.item_id for m in session], k=args.k, exclude_seen=not args.include_seen,
                         movies=movies)
    print("Session: " + (" -> ".join(m.title for m in session) if session else "(no known title)"))
    if (recs["Source"] == "popularity").all():
        print("No title of the session is known to the model: the most popular movies instead.")
    shown = recs.drop(columns=[c for c in ("Year",) if c in recs])
    shown[ITEM] = shown[ITEM].astype(int)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_columns", 10):
        print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``recommend`` command's parser."""
    parser = argparse.ArgumentParser(prog="python -m sbrlib recommend",
                                     description="Next-movie recommendations for a session of titles (oldest first).")
    parser.add_argument("titles", nargs="+", metavar="TITLE", help='movie titles, e.g. "Toy Story" "Heat (1995)"')
    parser.add_argument("--model", required=True, help="saved model name (folder under models/)")
    parser.add_argument("--k", type=int, default=10, help="number of recommendations (default 10)")
    parser.add_argument("--include-seen", action="store_true", help="allow the session's own movies in the list")
    parser.add_argument("--dataset", default=None, help="dataset of the titles (default: from the model's split or name)")
    parser.add_argument("--data-dir", default=None, help="folder with the movies file (default: $SBR_DATA_DIR / data/raw)")
    parser.add_argument("--models-dir", default=None,
                        help="folder holding saved models (default: $SBR_RUN_DIR/models, outputs/latest/models, models/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "recommend":
        from sbrlib import cli

        return cli.main(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv[1:])
    try:
        return recommend_command(args)
    except (UsageError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
