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
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sbrlib.columns import ITEM, SESSION, TIME
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
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ids = np.asarray(list(item_ids), dtype=np.int64)
    known = model.item_index.contains(ids) if len(ids) else np.zeros(0, bool)
    if (~known).any():
        warnings.warn(f"ignoring item id(s) unknown to {model.name}: {ids[~known].tolist()}", UserWarning, stacklevel=2)
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
    else:
        n = min(k, len(popularity))
        top = np.lexsort((np.arange(len(popularity)), -popularity))[:n]
        score, source = np.full(n, np.nan), "popularity"
    out = pd.DataFrame({ITEM: model.item_index.to_ids(top), "Score": score,
                        "Popularity": popularity[top].astype(np.int64), "Source": source},
                       index=pd.RangeIndex(1, n + 1, name="Rank"))
    return add_movie_columns(out, movies, getattr(model, "titles", None))


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
        ``new`` (items not in the previous list; NaN on the first row).
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
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="after"))


def overlap(a: Sequence, b: Sequence) -> float:
    """Share of the items of list ``a`` that are also in ``b`` (``|a ∩ b| / |a|``; NaN if ``a`` is empty)."""
    return len(set(a) & set(b)) / len(a) if len(a) else float("nan")


def random_session_prefix(events: pd.DataFrame, n: int, seed: int = 0) -> list[int]:
    """The first ``n`` item ids of a random session of ``events`` with at least ``n`` events
    (the longest sessions when none is that long), in time order; deterministic given ``seed``."""
    sizes = events.groupby(SESSION, sort=True).size()
    eligible = sizes.index[sizes.to_numpy() >= n].to_numpy()
    if not len(eligible):
        eligible = sizes.index[sizes.to_numpy() == sizes.max()].to_numpy()
    chosen = np.random.default_rng(seed).choice(eligible)
    items = events[events[SESSION] == chosen].sort_values(TIME, kind="stable")[ITEM].to_numpy()
    return [int(i) for i in items[:n]]


def title_box(models: Mapping[str, SessionModel], movies: pd.DataFrame, k: int = 10, exclude_seen: bool = True,
              popularity: pd.Series | None = None):
    """A text box and a button (ipywidgets): type titles separated by ``;``, see :func:`side_by_side`.

    Returns:
        The widget to display; titles that match nothing print the close suggestions.
    """
    import ipywidgets as widgets
    from IPython.display import display

    from sbrlib.titles import TitleIndex, TitleNotFound

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


def findings_markdown(lists: Mapping[str, pd.DataFrame], growth: Mapping[str, pd.DataFrame],
                      overlaps: Mapping[str, float], memory: Mapping[str, float], popularity: pd.Series,
                      synthetic: bool = False) -> str:
    """"What we found" for notebook 06, built from its lists.

    Args:
        lists: model -> :func:`recommend` result for the whole session.
        growth: model -> :func:`as_sequence_grows` table.
        overlaps: ``"A / B"`` -> :func:`overlap` of the two models' lists.
        memory: model -> overlap of its list after the whole session with its list after the last
            title alone (1.0: the earlier titles changed nothing).
        popularity: ItemId -> training events.
        synthetic: say that the data (and titles) are synthetic.
    """
    lines = ["**Synthetic data and titles.**" if synthetic else ""]
    fallback = [name for name, recs in lists.items() if len(recs) and (recs["Source"] == "popularity").all()]
    if fallback:
        lines.append(f"* {', '.join(fallback)} knew none of the session's movies and listed the most rated ones.")
    lines.append("* Shared recommendations: " + "; ".join(f"{pair} {share:.0%}" for pair, share in overlaps.items()) + ".")
    median_pop = float(popularity.median()) if len(popularity) else float("nan")
    pops = {name: float(popularity.reindex(recs[ITEM]).median()) for name, recs in lists.items() if len(recs)}
    lines.append("* Median training ratings of the recommended movies: "
                 + ", ".join(f"{name} {value:,.0f}" for name, value in pops.items())
                 + f" (the median movie has {median_pop:,.0f}).")
    for name, table in growth.items():
        changes = table["new"].dropna().astype(int).tolist()
        if changes:
            lines.append(f"* {name}: each added title brought {', '.join(map(str, changes))} new movie(s) into the top 5.")
    lines.append("* The list after the whole session vs after its last title alone (seen movies not excluded) share: "
                 + ", ".join(f"{name} {share:.0%}" for name, share in memory.items())
                 + ". 100% means the earlier titles did not matter to that model.")
    return "\n".join(line for line in lines if line)


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
