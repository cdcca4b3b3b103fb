"""What search asks of an index, as one interface (``Retrieval``), and its SQLite + FAISS implementation.

The search side (``search_app``) asks for candidate passage ids under filters and phrases, dense and lexical
top-n with scores, the sentences nearest a vector, exact cosines, and passages, sentences and articles by id.
It never sees SQL, FTS5 syntax or FAISS: those live here, so another engine can stand behind the same calls.
Words given to ``lexical``, ``allowed`` and ``containing`` are normalised (and stemmed) the way the index was.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.bm25 import NORM_WEIGHT, STEMMED_WEIGHT, idf, ranked
from indexer.columns import Columns
from indexer.filters import Filters
from indexer.index import IndexDir
from indexer.records import Article, Copy
from indexer.store import Attributed, StoredPassage, StoredSentence

__all__ = ["Attributed", "IndexRetrieval", "Retrieval", "StoredPassage", "StoredSentence"]

Phrases = Sequence[Sequence[str]]
LEXICAL_OVERFETCH = 2  # tantivy candidates for each passage returned (its BM25 differs a little from FTS5's)


class Retrieval(Protocol):
    """An index as search sees it. Calls made inside one ``snapshot()`` see one committed state."""

    @property
    def generation(self) -> int:
        """A number that changes whenever what the index holds changes."""
        ...

    @property
    def encoder(self) -> str:
        """The name of the encoder the passage vectors come from."""
        ...

    def snapshot(self) -> AbstractContextManager[object]: ...

    def refresh(self) -> bool:
        """Catch up with what writers committed (call inside ``snapshot``); True when anything changed."""
        ...

    def allowed(self, filters: Filters, phrases: Phrases = (), *, other_than: str | None = None) -> np.ndarray | None:
        """Ids of the passages that pass ``filters`` and contain every phrase (plus, with ``other_than``, every
        passage not in that language); None when every passage passes."""
        ...

    def dense(self, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        """The ``n`` passages nearest ``vector`` (inner product), within ``allowed``."""
        ...

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Exact inner products of ``vector`` with the given passages."""
        ...

    def lexical(self, stems: Sequence[str], phrases: Phrases, filters: Filters, n: int) -> dict[int, float]:
        """BM25 (higher is better) of the ``n`` best passages holding any of ``stems`` and every phrase."""
        ...

    def containing(self, words: Sequence[str], filters: Filters, limit: int) -> set[int]:
        """Passages holding ``words`` in order, one after another (normalised forms)."""
        ...

    def matching(self, stems: Sequence[str], phrases: Phrases, filters: Filters, limit: int) -> dict[int, str]:
        """``{passage id: article id}`` of the passages within ``filters`` that hold every one of ``stems`` and
        every phrase (at most ``limit``, lowest ids first): a query's words all there, for coverage counts."""
        ...

    def article_facts(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None, str]]:
        """``{article id: (date, source, lang)}`` of those of ``ids`` the index holds."""
        ...

    def clusters(self, ids: Sequence[str]) -> dict[str, str]:
        """``{article id: the name of its syndication cluster}`` (its own id while it is alone or unsettled)."""
        ...

    def copies(self, ids: Sequence[str]) -> dict[str, list[Copy]]:
        """``{article id: the other members of its cluster, earliest dated first}`` for those of ``ids`` with any:
        at most ``COPIES_LISTED`` and the earliest of every other outlet (``records.shortlist``)."""
        ...

    def copy_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """``{article id: how many other articles its cluster holds}`` for those of ``ids`` with any."""
        ...

    def speakers_between(self, article_id: str, start: int, end: int) -> list[Attributed]:
        """The sentences of an article overlapping ``[start, end)`` that are attributed to a speaker, in order."""
        ...

    def passage_speakers(self, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """``{passage id: [(speaker key, speaker), …]}``: who each passage's attributed sentences quote."""
        ...

    def sentence_speakers(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``{sentence id: (speaker key, speaker)}`` of those of ``ids`` attributed to a speaker."""
        ...

    def nearest_sentences(
        self, vector: np.ndarray, k: int, filters: Filters, allowed: np.ndarray | None = None
    ) -> list[tuple[StoredSentence, float]]:
        """(sentence, cosine) of the ``k`` sentences nearest a USE vector, nearest first, within ``filters`` (and,
        given ``allowed`` passages, within the articles that hold them)."""
        ...

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]: ...

    def passages_of_articles(self, article_ids: Sequence[str]) -> list[StoredPassage]: ...

    def sentences_between(self, article_id: str, start: int, end: int) -> list[StoredSentence]: ...

    def article(self, article_id: str) -> Article | None: ...

    def articles(self, ids: Sequence[str]) -> dict[str, Article]: ...

    def languages(self) -> list[tuple[str, int]]:
        """(language, articles) for every language the index holds."""
        ...

    def sources(self) -> list[tuple[str, int]]: ...

    def date_range(self) -> tuple[str | None, str | None]: ...

    def article_count(self) -> int: ...

    def close(self) -> None: ...


class IndexRetrieval:
    """``Retrieval`` over an index directory: SQLite (FTS5 for the lexical side) and FAISS (``IndexDir``)."""

    def __init__(self, index: IndexDir) -> None:
        self.index = index
        self.store = index.store
        self._columns: dict[str, tuple[int, Columns]] = {}  # table: (generation, columns)
        self._article_codes: dict[str, int] = {}  # shared by both tables' columns
        self._quoted: dict[str, tuple[int, tuple[list[int], list[int]]]] = {}  # speaker: (generation, ids)

    @classmethod
    def open(cls, path: str | Path) -> IndexRetrieval:
        """Open for searching while other processes may write (``IndexDir.open_reader``)."""
        return cls(IndexDir.open_reader(path))

    @property
    def generation(self) -> int:
        return self.store.generation

    @property
    def encoder(self) -> str:
        return self.index.config.encoder

    def snapshot(self) -> AbstractContextManager[object]:
        return self.index.snapshot()

    def refresh(self) -> bool:
        return self.index.refresh()

    def allowed(self, filters: Filters, phrases: Phrases = (), *, other_than: str | None = None) -> np.ndarray | None:
        found = self._allowed(filters.by_article, phrases, other_than)
        if filters.speaker is None:
            return found
        quoted = np.asarray(self._quoting(filters.speaker)[0], dtype=np.int64)
        return quoted if found is None else np.intersect1d(found, quoted, assume_unique=True)

    def _quoting(self, key: str) -> tuple[list[int], list[int]]:
        """(passage ids, sentence ids) quoting the speaker ``key``, remembered for this generation."""
        known = self._quoted.get(key)
        if known is None or known[0] != self.store.generation:
            if len(self._quoted) > 64:
                self._quoted.clear()
            self._quoted[key] = (self.store.generation, self.store.quoting(key))
        return self._quoted[key][1]

    def _allowed(self, filters: Filters, phrases: Phrases, other_than: str | None) -> np.ndarray | None:
        if phrases:
            expr = " AND ".join(f"norm : {_fts_string(' '.join(p))}" for p in phrases)
            found = np.array(sorted(self._fts_ids(expr, Filters())), dtype=np.int64)
            passages = self.columns("passages")
            found = passages.passing(found, filters)
            if other_than is not None:
                found = np.union1d(found, passages.select(filters, lang_not=other_than))
            return found
        if not filters.active:
            return None
        return self.columns("passages").select(filters)

    def columns(self, table: str) -> Columns:
        """What filters read of every passage or sentence (``indexer.columns``), as of this snapshot; read on
        first use, then followed."""
        known = self._columns.get(table)
        generation = self.store.generation
        if known is None or known[0] != generation:
            if known is not None:
                current = known[1].follow(self.store)
            else:
                current = Columns.read(self.store, table, self._article_codes)
            self._columns[table] = (generation, current)
        return self._columns[table][1]

    def dense(self, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        scores, ids = self.index.vectors.search(vector, n, allowed)
        return dict(zip(ids.tolist(), scores.tolist(), strict=True))

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        if not ids:
            return {}
        matrix = self.index.vectors.vectors(list(ids))
        return dict(zip(ids, (matrix @ vector).tolist(), strict=True))

    def lexical(self, stems: Sequence[str], phrases: Phrases, filters: Filters, n: int) -> dict[int, float]:
        # Candidates: tantivy's best (``indexer.lexical``) as of the writer's last commit, plus the passages
        # committed after it (FTS5, rows above its ``high``); scored as FTS5's bm25() scores them, on the words
        # this snapshot holds (a passage deleted since the commit has none and drops out). A query of phrases
        # only is scored by FTS5 itself: its phrase matches are few.
        lexical = self.index.lexical
        if lexical is None or not stems:
            return self._fts_lexical(stems, phrases, filters, n)
        within = None
        if phrases:
            within = self.allowed(filters, phrases)
            if within is None or len(within) == 0:
                return {}
        candidates = lexical.search(stems, filters, LEXICAL_OVERFETCH * n, within)
        candidates += self._fts_ids(_match(stems, phrases), filters, after=lexical.high)
        texts = self.store.lexical_texts(list(dict.fromkeys(candidates)))
        if not texts:
            return {}
        rows, tokens = self.store.fts_totals()
        # A stem's passages: as of the commit, plus those committed after it (passages deleted since the commit
        # still count until the writer's next save).
        idfs = [idf(rows, lexical.doc_freq(s) + len(self._fts_ids(_match([s], ()), Filters(), after=lexical.high)))
                for s in stems]  # fmt: skip
        idfs += [idf(rows, len(self._fts_ids(_match((), [p]), Filters()))) for p in phrases]
        found = ((i, stemmed_words, norm_words) for i, (stemmed_words, norm_words) in texts.items())
        return ranked(found, stems, phrases, idfs, tokens / max(rows, 1), n)

    def _fts_lexical(self, stems: Sequence[str], phrases: Phrases, filters: Filters, n: int) -> dict[int, float]:
        """FTS5's own BM25 ranking of the passages holding any of ``stems`` and every phrase."""
        expression = _match(stems, phrases)
        if not expression:
            return {}
        where, params = _where(filters)
        # Without filters the full-text table answers alone (no join per matching row).
        joins = "JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id " if filters.active else ""
        rank = f"bm25(passages_fts, {STEMMED_WEIGHT}, {NORM_WEIGHT})"
        sql = (
            f"SELECT f.rowid, -{rank} FROM passages_fts f {joins}"
            f"WHERE passages_fts MATCH ? AND {where} ORDER BY {rank} LIMIT ?"
        )
        return {int(r[0]): float(r[1]) for r in self.store.db.execute(sql, [expression, *params, n])}

    def _fts_ids(self, expression: str, filters: Filters, *, after: int = 0) -> list[int]:
        """Ids of the passages above ``after`` that match the FTS5 ``expression`` within ``filters`` (unranked)."""
        if not expression:
            return []
        where, params = _where(filters)
        joins = "JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id " if filters.active else ""
        sql = f"SELECT f.rowid FROM passages_fts f {joins}WHERE passages_fts MATCH ? AND f.rowid > ? AND {where}"
        return [int(r[0]) for r in self.store.db.execute(sql, [expression, after, *params])]

    def containing(self, words: Sequence[str], filters: Filters, limit: int) -> set[int]:
        if not words:
            return set()
        where, params = _where(filters)
        joins = "JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id " if filters.active else ""
        sql = f"SELECT f.rowid FROM passages_fts f {joins}WHERE passages_fts MATCH ? AND {where} LIMIT ?"
        expr = "norm : " + _fts_string(" ".join(words))
        return {int(r[0]) for r in self.store.db.execute(sql, [expr, *params, limit])}

    def matching(self, stems: Sequence[str], phrases: Phrases, filters: Filters, limit: int) -> dict[int, str]:
        expression = _match_all(stems, phrases)
        if not expression or limit <= 0:
            return {}
        where, params = _where(filters)
        joins = "JOIN articles a ON a.id = p.article_id " if filters.active else ""
        sql = (
            f"SELECT f.rowid, p.article_id FROM passages_fts f JOIN passages p ON p.id = f.rowid {joins}"
            f"WHERE passages_fts MATCH ? AND {where} ORDER BY f.rowid LIMIT ?"
        )
        return {int(r[0]): r[1] for r in self.store.db.execute(sql, [expression, *params, limit])}

    def article_facts(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None, str]]:
        return self.store.article_facts(ids)

    def clusters(self, ids: Sequence[str]) -> dict[str, str]:
        return {a: name or a for a, name in self.store.clusters_of(ids).items()}

    def copies(self, ids: Sequence[str]) -> dict[str, list[Copy]]:
        return self.store.copies(ids)

    def copy_counts(self, ids: Sequence[str]) -> dict[str, int]:
        return self.store.copy_counts(ids)

    def speakers_between(self, article_id: str, start: int, end: int) -> list[Attributed]:
        return self.store.speakers_between(article_id, start, end)

    def passage_speakers(self, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        return self.store.passage_speakers(ids)

    def sentence_speakers(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        return self.store.sentence_speakers(ids)

    def nearest_sentences(
        self, vector: np.ndarray, k: int, filters: Filters, allowed: np.ndarray | None = None
    ) -> list[tuple[StoredSentence, float]]:
        within = None
        if filters.by_article.active:
            within = self.columns("sentences").select(filters.by_article)
        if filters.speaker is not None:  # only what the speaker is quoted saying
            quoted = np.asarray(self._quoting(filters.speaker)[1], dtype=np.int64)
            within = quoted if within is None else np.intersect1d(within, quoted, assume_unique=True)
        elif within is None and allowed is not None:  # only phrases restrict: the sentences of their articles
            within = self.columns("sentences").of_articles(self.columns("passages").articles_of(allowed))
        if within is not None and len(within) == 0:
            return []
        scores, ids = self.index.sentences.search(vector, k, within)
        found = self.store.sentences(ids.tolist())
        return [(found[i], s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i in found]

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        return self.store.passages(ids)

    def passages_of_articles(self, article_ids: Sequence[str]) -> list[StoredPassage]:
        return self.store.passages_of_articles(article_ids)

    def sentences_between(self, article_id: str, start: int, end: int) -> list[StoredSentence]:
        return self.store.sentences_between(article_id, start, end)

    def article(self, article_id: str) -> Article | None:
        return self.store.article(article_id)

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        return self.store.articles(ids)

    def languages(self) -> list[tuple[str, int]]:
        return self.store.languages()

    def sources(self) -> list[tuple[str, int]]:
        return self.store.sources()

    def date_range(self) -> tuple[str | None, str | None]:
        return self.store.date_range()

    def article_count(self) -> int:
        return self.store.count("articles")

    def close(self) -> None:
        self.index.close()


def _where(filters: Filters) -> tuple[str, list[str]]:
    """The filters as a condition on ``articles a`` and its parameters (``1`` when nothing filters)."""
    parts, params = [], []
    if filters.lang:
        parts.append("a.lang = ?")
        params.append(filters.lang)
    if filters.sources:
        parts.append(f"a.source IN ({','.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.date_from:
        parts.append("substr(a.date, 1, 10) >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        parts.append("substr(a.date, 1, 10) <= ?")
        params.append(filters.date_to)
    return (" AND ".join(parts) or "1"), params


def _match(stems: Sequence[str], phrases: Phrases) -> str:
    """The FTS5 expression of passages holding any of ``stems`` (stemmed column) and every phrase (normalised
    column); empty when there is nothing to match."""
    parts = ["stemmed : (" + " OR ".join(_fts_string(s) for s in stems) + ")"] if stems else []
    parts += ["norm : " + _fts_string(" ".join(p)) for p in phrases]
    return " AND ".join(parts)


def _match_all(stems: Sequence[str], phrases: Phrases) -> str:
    """The FTS5 expression of passages holding every one of ``stems`` and every phrase (empty: nothing to match)."""
    parts = [f"stemmed : {_fts_string(s)}" for s in dict.fromkeys(stems)]
    parts += ["norm : " + _fts_string(" ".join(p)) for p in phrases]
    return " AND ".join(parts)


def _fts_string(text: str) -> str:
    """``text`` as one FTS5 string: whatever it holds is words, never query syntax."""
    return '"' + text.replace('"', '""') + '"'
