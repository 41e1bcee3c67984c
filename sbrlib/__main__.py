"""``python -m sbrlib recommend --model NAME [--k 10] "Toy Story" "Heat"``: next-movie recommendations.

The arguments form one session, oldest first: movie titles, or with ``--ids`` movie ids
(``--ids 1 2571``). Each title is found with :mod:`sbrlib.data.titles` (exact, then whole words, then
close spelling). When several titles match equally well the one with the most training events is
taken and a ``note:`` line on stderr names the others (add the year, e.g. ``"Hamlet (1990)"``, to
choose another). Without ``--ids`` an all-digits argument (``1``) is refused with a hint rather
than matched to a title containing that number; with ``--ids`` an argument that is not a whole
number is refused. Errors are one line on stderr with exit status 2: an unknown model (the
available names are listed), a saved model that cannot be loaded (the file is named), a title that
matches nothing (close titles are suggested), a bad id. A long session is summarized (its first
and last titles and a count), and so are the notes about it. When nothing can be recommended
(e.g. the session holds every movie the model knows), a line says so and why.

Models are looked up, unless ``--models-dir`` is given, in the run folder named by ``$SBR_RUN_DIR``,
then in the last completed ``make run-all`` run (``outputs/latest/models``), then in ``models/``; the first
folder holding the name wins. Movie titles, years and genres come from the dataset's movies file
(``--dataset``, default: the dataset the model's split or name starts with; ``--data-dir`` or
``$SBR_DATA_DIR``), else from the titles saved with the model (with ``--ids`` titles are optional).

Any other first argument is passed on to :mod:`sbrlib.pipeline.cli` (``python -m sbrlib data ...``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import warnings
from pathlib import Path

import pandas as pd

from sbrlib.core import paths
from sbrlib.core.columns import ITEM
from sbrlib.core.errors import DataError, ModelFileError
from sbrlib.data import SPECS, load_movies
from sbrlib.models.neural import is_saved_model, load_model, read_saved

SHOWN = 3
"""A long session is shown as its first and last ``SHOWN`` titles; at most ``SHOWN`` notes of a kind."""

log = logging.getLogger("sbrlib.recommend")


class UsageError(Exception):
    """A problem with the command line; printed as one line, exit status 2."""


def model_roots() -> list[Path]:
    """Folders that may hold saved models, in the order they are searched: the current run
    (``$SBR_RUN_DIR/models``), the last completed ``make run-all`` run (``outputs/latest/models``), ``models/``."""
    roots = [paths.models_dir("x").parent, paths.project_dir() / "outputs" / "latest" / "models",
             paths.project_dir() / "models"]
    return list(dict.fromkeys(roots))


def available_models(roots: list[Path]) -> list[str]:
    """Names of the saved models under ``roots`` (folders that look like saved models), sorted."""
    names = set()
    for root in roots:
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if is_saved_model(p))
    return sorted(names)


def model_folder(name: str, roots: list[Path]) -> Path:
    """The folder of model ``name`` (first root holding it); UsageError listing the available names."""
    for root in roots:
        if is_saved_model(root / name):
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


def load_catalog(folder: Path, dataset: str | None, data_dir: str | None,
                 saved_titles: pd.Series | None = None) -> pd.DataFrame:
    """Movies (``ItemId, Title, Year, Genres``) for the model in ``folder``.

    From the dataset's movies file when it can be found without downloading, else from the
    model's saved titles (``saved_titles``, read from ``titles.parquet`` when not given).
    UsageError when neither exists.
    """
    problem = "no dataset given"
    if dataset is not None:
        try:
            return load_movies(dataset, data_dir or None, download=False)
        except DataError as exc:
            problem = str(exc)
    if saved_titles is None and (folder / "titles.parquet").is_file():
        saved_titles = read_saved(folder, weights=False).titles
    if saved_titles is not None:
        movies = saved_titles.rename("Title").rename_axis(ITEM).reset_index()
        movies["Year"] = movies["Title"].str.extract(r"\((\d{4})\)\s*$", expand=False).astype("Int16")
        return movies
    raise UsageError(f"no movie titles for model {folder.name}: {problem}; the model has no saved titles either. "
                     "Pass --dataset and --data-dir (or set SBR_DATA_DIR)")


def parse_ids(values: list[str]) -> list[int]:
    """``--ids`` arguments as movie ids; UsageError for anything that is not a whole number."""
    ids = []
    for value in values:
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise UsageError(f"--ids: {value!r} is not a whole number (movie ids are integers such as 1 or 2571); "
                             "leave out --ids to search titles instead")
        ids.append(int(text))
    return ids


def refuse_number_as_title(query: str, titles, movies: pd.DataFrame) -> None:
    """Refuse an all-digits title query (``1`` must not silently match "Naked Gun 33 1/3"), saying
    which movie the number is as an id and which titles are named exactly that number."""
    hints = []
    as_id = movies.loc[movies[ITEM] == int(query), "Title"]
    if len(as_id):
        hints.append(f"with --ids, {int(query)} is {as_id.iloc[0]}")
    named = [str(titles.titles[r]) for r in titles.candidates(query)["exact"][:3]]
    if named:
        hints.append("a title named " + " or ".join(repr(t) for t in named) + " is found when written with its year")
    raise UsageError(f"{query!r} is a number, not a title: pass --ids to give movie ids"
                     + (f" ({'; '.join(hints)})" if hints else "") + ", or add words or the year to search titles")


def summarize(names: list[str], shown: int = SHOWN) -> str:
    """``a -> b -> c``; a session longer than ``2 * shown + 2`` is shortened to its first and last
    ``shown`` names with the count of the others and of all."""
    if len(names) <= 2 * shown + 2:
        return " -> ".join(names)
    return (" -> ".join(names[:shown]) + f" -> ... ({len(names) - 2 * shown} more) ... -> "
            + " -> ".join(names[-shown:]) + f"  [{len(names):,} titles]")


def print_notes(notes: list[str], left_out: list[str], model: str, shown: int = SHOWN) -> None:
    """Notes on stderr: at most ``shown`` title notes and one line for the titles left out."""
    for note in notes[:shown]:
        print(f"note: {note}", file=sys.stderr)
    if len(notes) > shown:
        print(f"note: {len(notes) - shown:,} more titles matched several movies or only approximately "
              "(not shown; add the year to choose)", file=sys.stderr)
    if left_out:
        more = f" and {len(left_out) - shown:,} more" if len(left_out) > shown else ""
        print(f"note: {len(left_out):,} of the session's movies are not in {model}'s training data and are left out: "
              f"{', '.join(left_out[:shown])}{more}", file=sys.stderr)


def recommend_command(args: argparse.Namespace) -> int:
    """Resolve the session (titles or ids), load the model, print the recommendations."""
    from sbrlib.data.titles import TitleIndex, TitleNotFound
    from sbrlib.recommend import recommend

    if args.k < 1:
        raise UsageError(f"--k must be >= 1, got {args.k}")
    roots = [Path(args.models_dir).expanduser()] if args.models_dir else model_roots()
    folder = model_folder(args.model, roots)
    saved = read_saved(folder, weights=False)  # checks every file before anything else happens
    support = pd.Series(saved.item_index.support, index=saved.item_index.ids)
    ids = parse_ids(args.titles) if args.ids else None
    try:
        movies = load_catalog(folder, args.dataset or model_dataset(folder), args.data_dir, saved.titles)
    except UsageError:
        if ids is None:
            raise
        movies = None  # ids need no titles
    name_of = (movies.drop_duplicates(ITEM).set_index(ITEM)["Title"].to_dict() if movies is not None else {})
    notes, left_out, session = [], [], []
    if ids is not None:
        for item in ids:
            label = name_of.get(item, f"movie id {item}")
            if item in support.index:
                session.append((item, label))
            else:
                left_out.append(f"{label} (id {item})" if item in name_of else label)
    else:
        titles = TitleIndex(movies, popularity=support)
        for query in args.titles:
            if query.strip().isdigit():
                refuse_number_as_title(query.strip(), titles, movies)
            try:
                match = titles.resolve(query)
            except (TitleNotFound, ValueError) as exc:
                raise UsageError(str(exc)) from None
            if match.note:
                notes.append(match.note)
            if match.item_id in support.index:
                session.append((match.item_id, match.title))
            else:
                left_out.append(match.title)
    print_notes(notes, left_out, args.model)
    model = load_model(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        recs = recommend(model, [item for item, _ in session], k=args.k, exclude_seen=not args.include_seen,
                         movies=movies)
    reasons = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
               and "unknown to" not in str(w.message)]  # unknown ids were reported above
    print("Session: " + (summarize([label for _, label in session]) if session else "(no known movie)"))
    if recs.empty:
        print("No recommendations: " + (reasons[0].split(": ", 1)[-1] if reasons else "nothing left to rank"))
        return 0
    for reason in reasons:
        print(f"note: {reason}", file=sys.stderr)
    if (recs["Source"] == "popularity").all():
        print("No movie of the session is known to the model: the most popular movies instead.")
    shown = recs.drop(columns=[c for c in ("Year",) if c in recs])
    shown[ITEM] = shown[ITEM].astype(int)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_columns", 10):
        print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``recommend`` command's parser."""
    parser = argparse.ArgumentParser(prog="python -m sbrlib recommend",
                                     description="Next-movie recommendations for a session of titles or movie ids "
                                                 "(oldest first).")
    parser.add_argument("titles", nargs="+", metavar="TITLE",
                        help='movie titles, e.g. "Toy Story" "Heat (1995)" (with --ids: movie ids, e.g. 1 2571)')
    parser.add_argument("--ids", action="store_true",
                        help="the arguments are movie ids (whole numbers), not titles; without it a number is refused")
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
        from sbrlib.pipeline import cli

        return cli.main(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv[1:])
    try:
        return recommend_command(args)
    except (UsageError, DataError, ModelFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
