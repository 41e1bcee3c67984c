"""Next-item recommendations for a session typed by hand, from any fitted model.

:func:`recommend` works with every :class:`~sbrlib.models.base.SessionModel` (GRU4Rec and the
baselines) through the evaluator's interface: ``reset(1)``, then one ``step`` per item of the
session, oldest first; the scores after the last item rank every item of the model's training
index. Its output has one kind of number per column:

* ``Score`` – the model's score (NaN when the model could not score: see ``Source``);
* ``Popularity`` – the item's number of training events;
* ``Source`` – ``"model"``, or ``"popularity"`` when no item of the session is known to the model
  (empty session, or every id unknown): the list is then the most popular items.

Ties are ordered deterministically: equal scores (or, for the popularity fallback, equal
popularity) by ascending item index, which is ascending ``ItemId`` (the index is sorted by id).

Nothing is silent: item ids must be whole numbers (``1.5`` or ``"1"`` is refused, never truncated);
ids unknown to the model are ignored with a warning; a result shorter than ``k`` (empty, when
excluding the session's items leaves nothing the model can rank) comes with a warning saying why.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM, SESSION, TIME
from sbrlib.models.base import SessionModel

COLUMNS = (ITEM, "Score", "Popularity", "Source")
"""Columns of :func:`recommend`'s result (``Title``, ``Year``, ``Genres`` are added when known)."""


def session_scores(model: SessionModel, item_idx: Sequence[int]) -> np.ndarray:
    """Scores over all items after feeding ``item_idx`` (model indices, oldest first) to ``model``.

    Returns:
        (n_items,) float64 copy of the scores after the last item.
    """
    if not len(item_idx):
        raise ValueError("session_scores needs at least one item")
    model.reset(1)
    active = np.ones(1, bool)
    scores = None
    for t, item in enumerate(item_idx):
        scores = model.step(np.array([item], np.int64), np.array([t == 0]), None, active)
    return np.array(np.asarray(scores)[0], dtype=np.float64)


def recommend(model: SessionModel, item_ids: Iterable[int], k: int = 10, exclude_seen: bool = True,
              movies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top-``k`` next items for a session given as original item ids (oldest first).

    Args:
        model: a fitted :class:`~sbrlib.models.base.SessionModel`.
        item_ids: the session's item ids; ids unknown to the model are ignored with a warning.
        k: number of recommendations (fewer when fewer items can be recommended).
        exclude_seen: never recommend an item of the session (MovieLens users rate a movie once).
        movies: optional ``ItemId, Title, Year, Genres`` frame (:func:`sbrlib.data.load_movies`)
            whose columns are joined; otherwise a model's ``titles`` Series (GRU4Rec) gives ``Title``.

    Returns:
        DataFrame indexed by ``Rank`` (1 = best) with ``ItemId, Score, Popularity, Source`` (see the
        module docstring) and ``Title``/``Year``/``Genres`` when known.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    ids = as_item_ids(item_ids)
    known = model.item_index.contains(ids) if len(ids) else np.zeros(0, bool)
    if (~known).any():
        unknown = ids[~known].tolist()
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        warnings.warn(f"ignoring {len(unknown):,} item id(s) unknown to {model.name}: {unknown[:10]}{more}",
                      UserWarning, stacklevel=2)
    idx = model.item_index.to_idx(ids[known])
    popularity = model.popularity()
    if len(idx):
        scores = session_scores(model, idx)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        if exclude_seen:
            scores[idx] = -np.inf
        n = min(k, int(np.isfinite(scores).sum()))
        top = np.lexsort((np.arange(len(scores)), -scores))[:n]  # ties: lower item index first
        score, source = scores[top], "model"
        n_seen = len(set(idx.tolist()))
        available = len(scores) - (n_seen if exclude_seen else 0)
        if n == 0 or n < min(k, available):
            warnings.warn(_short_list_reason(model, n, k, n_seen, available), UserWarning, stacklevel=2)
    else:
        n = min(k, len(popularity))
        top = np.lexsort((np.arange(len(popularity)), -popularity))[:n]
        score, source = np.full(n, np.nan), "popularity"
    out = pd.DataFrame({ITEM: model.item_index.to_ids(top), "Score": score,
                        "Popularity": popularity[top].astype(np.int64), "Source": source},
                       index=pd.RangeIndex(1, n + 1, name="Rank"))
    return add_movie_columns(out, movies, getattr(model, "titles", None))


def as_item_ids(item_ids: Iterable) -> np.ndarray:
    """``item_ids`` as an int64 array; anything that is not a whole number is refused.

    Integers (Python or numpy) and floats with an integral value (``3.0``) are accepted;
    ``1.5``, NaN, strings and booleans raise, so an id is never truncated or guessed.

    Raises:
        ValueError: naming the first bad values and their positions.
    """
    values = list(item_ids)
    bad = []
    for pos, value in enumerate(values):
        if isinstance(value, (bool, np.bool_)):
            ok = False
        elif isinstance(value, (int, np.integer)):
            ok = True
        elif isinstance(value, (float, np.floating)):
            ok = bool(np.isfinite(value)) and float(value).is_integer()
        else:
            ok = False
        if not ok:
            bad.append(f"{value!r} (position {pos + 1})")
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ValueError(f"item ids must be whole numbers (movie ids such as 1 or 2571); got {', '.join(bad[:3])}"
                         f"{more}: pass the ids as integers (titles: sbrlib.data.titles.find_titles)")
    return np.asarray([int(v) for v in values], dtype=np.int64)


def _short_list_reason(model: SessionModel, n: int, k: int, n_seen: int, available: int) -> str:
    """Why :func:`recommend` returns fewer items than asked for (``available``: items left after
    excluding the session's own)."""
    got = "no recommendations" if n == 0 else f"only {n} recommendation(s) of the {k} asked for"
    if available <= 0:
        return (f"{got}: the session holds all {n_seen} items {model.name} knows and exclude_seen=True removes "
                "them; pass exclude_seen=False (command line: --include-seen) to allow them")
    return (f"{got}: {model.name} gives no usable (finite) score to the {available} item(s) it could recommend "
            "after this session; try another model, or an empty session for the most popular items")


def add_movie_columns(frame: pd.DataFrame, movies: pd.DataFrame | None = None,
                      titles: pd.Series | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with ``Title``, ``Year`` and ``Genres`` (``|``-joined) of its ``ItemId``.

    Args:
        frame: has an ``ItemId`` column.
        movies: ``ItemId, Title`` and optionally ``Year``, ``Genres`` (list or string).
        titles: used when ``movies`` is None: ItemId -> title.
    """
    out = frame.copy()
    if movies is not None:
        meta = movies.drop_duplicates(ITEM).set_index(ITEM)
        for column in ("Title", "Year", "Genres"):
            if column in meta:
                values = out[ITEM].map(meta[column])
                if column == "Genres":
                    values = values.map(lambda g: "|".join(g) if isinstance(g, (list, tuple, np.ndarray)) else g)
                out[column] = values
    elif titles is not None:
        out["Title"] = out[ITEM].map(titles)
    return out


def side_by_side(models: Mapping[str, SessionModel], item_ids: Sequence[int], k: int = 10,
                 exclude_seen: bool = True, movies: pd.DataFrame | None = None,
                 column: str = "Title") -> pd.DataFrame:
    """One column per model with its top-``k`` (``column`` of :func:`recommend`), rows = rank.

    A model whose list comes from the popularity fallback is marked ``(popularity)`` in its header.
    """
    columns = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            recs = recommend(model, item_ids, k, exclude_seen, movies)
        key = name if (recs["Source"] == "model").all() else f"{name} (popularity)"
        columns[key] = recs[column] if column in recs else recs[ITEM]
    return pd.DataFrame(columns).rename_axis("Rank")


def as_sequence_grows(model: SessionModel, item_ids: Sequence[int], k: int = 5, exclude_seen: bool = True,
                      movies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top-``k`` after the first 1, 2, ..., n items of the session, and how much each list changed.

    Returns:
        One row per prefix length (index ``after``): ``last`` (the newest item: title, or id when
        no titles are known), ``#1`` .. ``#k`` (the list), ``source`` (``model``/``popularity``) and
        ``new`` (items not in the previous list, an integer; missing, ``<NA>``, on the first row).
    """
    titles = getattr(model, "titles", None)
    named = add_movie_columns(pd.DataFrame({ITEM: list(item_ids)}), movies, titles)
    label = "Title" if "Title" in named else ITEM
    rows, previous = [], None
    for n in range(1, len(item_ids) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            recs = recommend(model, item_ids[:n], k, exclude_seen, movies)
        names = (recs[label].astype(object).where(recs[label].notna(), recs[ITEM]) if label in recs else recs[ITEM])
        row = {"last": named[label].iloc[n - 1]}
        row.update({f"#{r}": name for r, name in enumerate(names.tolist(), start=1)})
        current = recs[ITEM].tolist()
        row["source"] = recs["Source"].iloc[0] if len(recs) else ""
        row["new"] = np.nan if previous is None else len(set(current) - set(previous))
        rows.append(row)
        previous = current
    out = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="after"))
    if "new" in out:
        out["new"] = out["new"].astype("Int64")  # counts shown as integers (<NA> on the first row)
    return out


def overlap(a: Sequence, b: Sequence) -> float:
    """Share of the items of list ``a`` that are also in ``b`` (``|a ∩ b| / |a|``; NaN if ``a`` is empty)."""
    return len(set(a) & set(b)) / len(a) if len(a) else float("nan")


def random_session(events: pd.DataFrame, n: int, seed: int = 0) -> tuple[int, list[int], list[int]]:
    """A random session of ``events`` with at least ``n`` events (the longest sessions when none
    is that long), deterministic given ``seed``.

    Returns:
        ``(session id, its first n item ids, the item ids rated after them)``, in time order.
    """
    sizes = events.groupby(SESSION, sort=True).size()
    eligible = sizes.index[sizes.to_numpy() >= n].to_numpy()
    if not len(eligible):
        eligible = sizes.index[sizes.to_numpy() == sizes.max()].to_numpy()
    chosen = np.random.default_rng(seed).choice(eligible)
    items = events[events[SESSION] == chosen].sort_values(TIME, kind="stable")[ITEM].to_numpy()
    return int(chosen), [int(i) for i in items[:n]], [int(i) for i in items[n:]]


def random_session_prefix(events: pd.DataFrame, n: int, seed: int = 0) -> list[int]:
    """The first ``n`` item ids of a random session of ``events`` with at least ``n`` events
    (the longest sessions when none is that long), in time order; deterministic given ``seed``."""
    return random_session(events, n, seed)[1]


def title_box(models: Mapping[str, SessionModel], movies: pd.DataFrame, k: int = 10, exclude_seen: bool = True,
              popularity: pd.Series | None = None):
    """A text box and a button (ipywidgets): type titles separated by ``;``, see :func:`side_by_side`.

    Returns:
        The widget to display; titles that match nothing print the close suggestions.
    """
    import ipywidgets as widgets
    from IPython.display import display

    from sbrlib.data.titles import TitleIndex, TitleNotFound

    index = TitleIndex(movies, popularity)
    text = widgets.Text(placeholder="Toy Story; Heat; Casino", description="Titles:", continuous_update=False,
                        layout=widgets.Layout(width="60%"))
    button = widgets.Button(description="Recommend", button_style="primary")
    out = widgets.Output()

    def show(_=None) -> None:
        with out:
            out.clear_output()
            queries = [q.strip() for q in text.value.split(";") if q.strip()]
            try:
                matches = [index.resolve(q) for q in queries]
            except (TitleNotFound, ValueError) as exc:
                print(exc)
                return
            for match in matches:
                if match.note:
                    print(match.note)
            ids = [m.item_id for m in matches]
            print("Session: " + (" -> ".join(m.title for m in matches) or "(empty: most popular movies)"))
            display(side_by_side(models, ids, k, exclude_seen, movies))

    button.on_click(show)
    text.observe(show, names="value")  # Enter (or leaving the box) also recommends
    return widgets.VBox([widgets.HBox([text, button]), out])


def interactive_frontend() -> bool:
    """True inside a Jupyter frontend that lets the kernel ask for input (JupyterLab, Notebook, VS Code).

    Papermill and nbclient execute notebooks with ``allow_stdin=False``, and plain Python has no
    kernel, so both give False: a notebook can show widgets only when someone can click them.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    return bool(kernel is not None and getattr(kernel, "_allow_stdin", False))
