"""Find movies by the title a person types: ``"toy story"`` -> *Toy Story (1995)*.

Titles are compared after normalization: case, accents and punctuation are ignored, a trailing
year ``(1995)`` restricts the search to that year, MovieLens' trailing articles are moved to the
front (``"Usual Suspects, The"`` is found as ``"The Usual Suspects"``), and alternative titles in
parentheses count as names too (``"Seven (Se7en)"``). Matches are tried in this order, and the
first level with a match wins:

1. ``exact`` – the whole (normalized) name;
2. ``contains`` – the query as whole words inside a name (``"godfather"`` finds all three);
3. ``close`` – :func:`difflib.get_close_matches` (typos: ``"Toy Stroy"``).

Several candidates on the winning level are *ambiguous*: the most popular one is taken (ties:
lowest ``ItemId``) and :attr:`TitleMatch.note` lists the others and how to choose (add the
year or more words). Candidates on a lower level are reported as "also matching" (``"Toy Story"``
is exactly *Toy Story (1995)*; *Toy Story 2 (1999)* also contains it). No match at all raises
:class:`TitleNotFound`, whose message lists the closest titles.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sbrlib.core.columns import ITEM

_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")
_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>the|a|an|les|la|le|l'|il|das|der|die|el|los|las|lo|i|den|det)$")
LEVELS = ("exact", "contains", "close")


class TitleNotFound(LookupError):
    """No title matches the query; ``suggestions`` holds the closest titles (may be empty)."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        self.query = query
        self.suggestions = suggestions
        hint = f"; did you mean: {'; '.join(suggestions)}?" if suggestions else "; check the spelling"
        super().__init__(f"no movie title matches {query!r}{hint}")


@dataclass(frozen=True)
class TitleMatch:
    """The movie chosen for one query.

    Attributes:
        query: what was typed.
        item_id: the chosen movie's ``ItemId``.
        title: its title as in the movies file (with the year).
        kind: ``exact``, ``contains`` or ``close`` (see the module docstring).
        tied: other candidates as good as the chosen one (titles), most popular first.
        also: other candidates worth knowing (titles): for an ``exact`` match the titles that
            contain the query, for a ``close`` match the other close titles, closest first.
        chosen_by: how the chosen one was picked among ``tied``: ``"most ratings"`` or
            ``"lowest id"`` (when no popularity was given).
    """

    query: str
    item_id: int
    title: str
    kind: str
    tied: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    chosen_by: str = "most ratings"

    @property
    def ambiguous(self) -> bool:
        """True when other titles matched as well as the chosen one."""
        return bool(self.tied)

    @property
    def note(self) -> str | None:
        """One line saying what was chosen when it was not a unique exact match, else None."""
        if self.tied:
            shown = "; ".join(self.tied[:5]) + ("; ..." if len(self.tied) > 5 else "")
            return (f"{self.query!r} matches {len(self.tied) + 1} titles ({self.kind}): took {self.title} "
                    f"({self.chosen_by}), others: {shown}. Add the year or more words to choose another.")
        if self.kind == "close":
            others = f" (also close: {'; '.join(self.also[:3])})" if self.also else ""
            return f"{self.query!r}: no title contains it; took the closest, {self.title}{others}."
        if self.also:
            shown = "; ".join(self.also[:3]) + ("; ..." if len(self.also) > 3 else "")
            return f"{self.query!r} -> {self.title}; also matching: {shown} (type more of the title to choose one)."
        return None


def normalize(text: str) -> tuple[str, int | None, list[str]]:
    """Normalized names of a title (or query), and its year.

    Returns:
        ``(main, year, alternatives)``: lowercase ASCII words without punctuation, the trailing
        ``(YYYY)`` year or None, and the names in trailing parentheses (``"Seven (Se7en)"``).
    """
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().strip().lower()
    year = None
    if match := _YEAR.search(text):
        year, text = int(match.group(1)), text[: match.start()]
    alternatives = []
    while match := _PAREN.search(text):
        alternatives.append(match.group(1))
        text = text[: match.start()]
    names = [_words(_front_article(n.removeprefix("a.k.a. ").strip())) for n in alternatives]
    return _words(_front_article(text.strip())), year, [n for n in names if n]


def _front_article(name: str) -> str:
    match = _ARTICLE.match(name)
    return f"{match['article']} {match['rest']}" if match else name


def _strip_article(name: str) -> str:
    """``"the matrix"`` -> ``"matrix"`` (so that "Matrix" is an exact match of "Matrix, The")."""
    return re.sub(r"^(the|a|an) ", "", name)


def _words(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.replace("'", "")).split())


class TitleIndex:
    """Search the titles of a movies frame.

    Args:
        movies: ``ItemId, Title`` (and ``Year``) as :func:`sbrlib.data.load_movies` returns.
        popularity: optional ItemId -> weight (e.g. training events) used to choose among
            ambiguous matches; missing ids count as 0.
    """

    def __init__(self, movies: pd.DataFrame, popularity: pd.Series | None = None) -> None:
        if "Title" not in movies or ITEM not in movies:
            raise ValueError(f"movies needs columns {ITEM!r} and 'Title'; got {list(movies.columns)}")
        movies = movies.drop_duplicates(ITEM).reset_index(drop=True)
        self.ids = movies[ITEM].to_numpy()
        self.titles = movies["Title"].astype(str).to_numpy()
        pop = popularity.reindex(self.ids).fillna(0).to_numpy(dtype=np.float64) if popularity is not None else None
        self.popularity = pop if pop is not None else np.zeros(len(self.ids))
        rows, names, years = [], [], np.full(len(self.ids), -1)
        for row, title in enumerate(self.titles):
            main, year, alternatives = normalize(title)
            years[row] = year if year is not None else -1
            for name in dict.fromkeys([main, *alternatives, *map(_strip_article, [main, *alternatives])]):
                if name:
                    rows.append(row)
                    names.append(name)
        self.years = years
        self._rows = np.asarray(rows, np.int64)
        self._names = np.asarray(names, dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    def _order(self, rows: np.ndarray) -> np.ndarray:
        """Unique rows, most popular first (ties: lower ItemId)."""
        rows = np.unique(rows)
        return rows[np.lexsort((self.ids[rows], -self.popularity[rows]))]

    def candidates(self, query: str) -> dict[str, np.ndarray]:
        """Rows matching ``query`` on each level (``exact``, ``contains``, ``close``), best first."""
        main, year, _ = normalize(query)
        if not main:
            raise ValueError(f"empty title query {query!r}")
        ok = np.ones(len(self._names), bool) if year is None else self.years[self._rows] == year
        names, rows = self._names[ok], self._rows[ok]
        exact = self._order(rows[(names == main) | (names == _strip_article(main))])
        pattern = re.compile(rf"\b{re.escape(main)}\b")
        contains = rows[np.fromiter((bool(pattern.search(n)) for n in names), bool, len(names))]
        contains = self._order(np.setdiff1d(contains, exact))
        close = []  # closest name first, then popularity
        for name in difflib.get_close_matches(main, list(dict.fromkeys(names)), n=10, cutoff=0.75):
            close.extend(self._order(rows[names == name]))
        close = [r for r in dict.fromkeys(close) if r not in set(exact) | set(contains)]
        return {"exact": exact, "contains": contains, "close": np.asarray(close, np.int64)}

    def suggestions(self, query: str, n: int = 5) -> list[str]:
        """Up to ``n`` titles closest to ``query`` (any year), best first."""
        main, _, _ = normalize(query)
        close = difflib.get_close_matches(main, list(dict.fromkeys(self._names)), n=n, cutoff=0.5)
        out = []
        for name in close:
            for row in self._order(self._rows[self._names == name]):
                out.append(self.titles[row])
        return list(dict.fromkeys(out))[:n]

    def resolve(self, query: str) -> TitleMatch:
        """The movie ``query`` names (see the module docstring for the rules).

        Raises:
            TitleNotFound: nothing matches; the message lists close titles.
        """
        levels = self.candidates(query)
        chosen_by = "most ratings" if self.popularity.any() else "lowest id"
        for kind in LEVELS:
            rows = levels[kind]
            if not len(rows):
                continue
            if kind == "close":  # ordered by closeness: the closest wins, the others are "also"
                tied, also = (), rows[1:]
            else:
                tied, also = rows[1:], levels["contains"] if kind == "exact" else ()
            return TitleMatch(query, int(self.ids[rows[0]]), str(self.titles[rows[0]]), kind,
                              tuple(str(self.titles[r]) for r in tied), tuple(str(self.titles[r]) for r in also),
                              chosen_by)
        raise TitleNotFound(query, self.suggestions(query))

    def search(self, query: str, limit: int = 10) -> pd.DataFrame:
        """Every candidate for ``query``, best first: ``ItemId, Title, match`` (at most ``limit`` rows)."""
        levels = self.candidates(query)
        rows = [(int(self.ids[r]), self.titles[r], kind) for kind in LEVELS for r in levels[kind]]
        return pd.DataFrame(rows[:limit], columns=[ITEM, "Title", "match"])


def find_titles(movies: pd.DataFrame, queries: list[str], popularity: pd.Series | None = None) -> list[TitleMatch]:
    """:meth:`TitleIndex.resolve` for each query (one index built once)."""
    index = TitleIndex(movies, popularity)
    return [index.resolve(q) for q in queries]
