"""What filters read, per passage or sentence, as numpy columns: filters without SQL at any size.

A filter on language, outlets or dates selects every row that passes it: at 1,000,000 passages and 3,500,000
sentences a SQL join of ``passages`` (or ``sentences``) with ``articles`` returns millions of ids through Python,
seconds a query. ``Columns`` holds, in id order, each row's id, its article (as a code shared by the passage and
the sentence columns), its article's language and outlet (as codes) and its day (``YYYYMMDD``, 0 without a
date); a filter is one vectorised comparison. The columns are read from SQLite
once and follow it as the FAISS indexes do: rows are never given an id below one already used
(``indexer.store.m003_row_high_water``), so rows committed since are those above ``high``; after a delete, which
leaves fewer rows than the columns hold, they are read again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from indexer.filters import Filters
from indexer.lexical import day_number
from indexer.store import Store

CHUNK = 200_000
SELECTED = 8  # filters whose answers are kept


@dataclass
class Columns:
    """The filtered fields of every row of one table, in id order."""

    table: str
    ids: np.ndarray  # int64, ascending
    lang: np.ndarray  # int16 codes into ``langs``
    source: np.ndarray  # int32 codes into ``sources``; -1: no outlet
    day: np.ndarray  # int32 YYYYMMDD; 0: no date
    article: np.ndarray  # int32 codes into ``articles``
    langs: dict[str, int]
    sources: dict[str, int]
    articles: dict[str, int]  # shared by the columns of passages and of sentences
    high: int = 0
    _selected: dict[tuple, tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)  # select's last answers

    @classmethod
    def read(cls, store: Store, table: str, articles: dict[str, int] | None = None) -> Columns:
        """Every row of ``table`` (passages or sentences) as the store holds it now; articles coded in
        ``articles`` (extended as rows name new ones)."""
        empty = (np.zeros(0, dtype) for dtype in (np.int64, np.int16, np.int32, np.int32, np.int32))
        columns = cls(table, *empty, {}, {}, {} if articles is None else articles)
        columns.extend(store)
        return columns

    def extend(self, store: Store) -> None:
        """Add the rows committed after the last one these columns hold."""
        parts: list[tuple[np.ndarray, ...]] = []
        for rows in store.filter_rows(self.table, after=int(self.ids[-1]) if len(self.ids) else 0, chunk=CHUNK):
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            lang = np.fromiter((self.langs.setdefault(r[1], len(self.langs)) for r in rows), np.int16, len(rows))
            source = np.fromiter(
                (-1 if r[2] is None else self.sources.setdefault(r[2], len(self.sources)) for r in rows),
                np.int32, len(rows),
            )  # fmt: skip
            day = np.fromiter((day_number(r[3]) or 0 for r in rows), np.int32, len(rows))
            codes = self.articles
            article = np.fromiter((codes.setdefault(r[4], len(codes)) for r in rows), np.int32, len(rows))
            parts.append((ids, lang, source, day, article))
        if parts:
            self.ids, self.lang, self.source, self.day, self.article = (
                np.concatenate([current, *(p[i] for p in parts)])
                for i, current in enumerate((self.ids, self.lang, self.source, self.day, self.article))
            )
        self.high = max(self.high, store.high(self.table))

    def follow(self, store: Store) -> Columns:
        """These columns brought up to ``store``: extended with the rows added since, or read again when rows were
        deleted since."""
        self.extend(store)
        return self if len(self.ids) == store.count(self.table) else Columns.read(store, self.table, self.articles)

    def of_articles(self, codes: np.ndarray) -> np.ndarray:
        """Ids of the rows whose article is one of ``codes``, ascending."""
        return self.ids[np.isin(self.article, codes)]

    def articles_of(self, ids: np.ndarray) -> np.ndarray:
        """The article codes of the rows ``ids`` (those these columns hold), each once."""
        ids = np.asarray(ids, dtype=np.int64)
        held = members(self.ids, ids)
        return np.unique(self.article[np.searchsorted(self.ids, ids[held])])

    def select(self, filters: Filters, *, lang_not: str | None = None) -> np.ndarray:
        """Ids of the rows that pass ``filters`` (and, with ``lang_not``, are not in that language), ascending;
        the same array (read-only) for the same filters while these columns hold the same rows, so a page's
        queries under one filter pay for it once."""
        key = (filters.lang, tuple(sorted(filters.sources)), filters.date_from, filters.date_to, lang_not)
        cached = self._selected.get(key)
        if cached is not None and cached[0] == len(self.ids):
            return cached[1]
        found = self._select(filters, lang_not)
        found.flags.writeable = False
        if len(self._selected) >= SELECTED:
            self._selected.pop(next(iter(self._selected)))
        self._selected[key] = (len(self.ids), found)
        return found

    def _select(self, filters: Filters, lang_not: str | None) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.lang:
            mask &= self.lang == self.langs.get(filters.lang, -1)
        if lang_not is not None:
            mask &= self.lang != self.langs.get(lang_not, -1)
        if filters.sources:
            codes = [self.sources[s] for s in filters.sources if s in self.sources]
            mask &= np.isin(self.source, np.array(codes, dtype=np.int32))
        low, high = day_number(filters.date_from), day_number(filters.date_to)
        if low is not None:
            mask &= self.day >= low
        if high is not None:
            mask &= (self.day <= high) & (self.day > 0)
        return self.ids[mask]

    def passing(self, ids: np.ndarray, filters: Filters) -> np.ndarray:
        """Those of ``ids`` that pass ``filters`` (all of them when nothing filters)."""
        if not filters.active:
            return np.asarray(ids, dtype=np.int64)
        return np.intersect1d(np.asarray(ids, dtype=np.int64), self.select(filters), assume_unique=True)


def members(ascending: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` the ascending array ``ascending`` holds (a mask over ``ids``), without a set of it."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(ascending):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(ascending, ids), len(ascending) - 1)
    return ascending[at] == ids
