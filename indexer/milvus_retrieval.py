"""``Retrieval`` over an index synced into Milvus (``indexer.milvus_sync``): the same calls and answers as
``indexer.retrieval.IndexRetrieval``, from ``pymilvus.MilvusClient``.

- dense: HNSW (inner product) over the unit passage vectors, so scores are cosines like FAISS's;
- lexical: Milvus's BM25 function over the stemmed words Sahafa wrote (its analyzers do not fold Arabic: the text
  is normalised and stemmed before it gets there), with FTS5's k1 and b. A query of quoted phrases only is scored by
  the stems of the phrases' words (FTS5 scores the phrase itself);
- filters: Milvus filter expressions over the language, outlet and day each passage and sentence carries;
- phrases: a ``like`` on the space-padded normalised words narrows the rows in Milvus, and every candidate is
  checked here on those words;
- sentences: the int8 USE codes held as floats; the query is quantized the same way, so inner products are the
  exact integers FAISS's scalar quantizer computes, rescaled to cosines.

The ids that ``allowed`` returns are remembered with the expression that selected them, so that ``dense`` and
``nearest_sentences`` given that same array filter in Milvus by the expression, not by a list of every id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from indexer.bm25 import idf, ranked
from indexer.errors import IndexMismatch
from indexer.filters import Filters
from indexer.milvus import (
    HNSW_EF,
    Connection,
    MilvusBackend,
    Synced,
    either,
    every,
    holds,
    literal,
    one_of,
    phrase_like,
)
from indexer.normalize import TOKEN
from indexer.records import Article, Copy, shortlist
from indexer.retrieval import Attributed, Phrases
from indexer.sentences import SCALE, quantize
from indexer.store import StoredPassage, StoredSentence

CHUNK = 500  # ids in one ``in [...]`` read
BM25_SEARCH = {"metric_type": "BM25"}
OVERFETCH = 4  # lexical candidates taken from Milvus's BM25 for each one returned after FTS5's ranking
MAX_HITS = 16_384  # the most hits Milvus returns for one search
PASSAGE_FIELDS = ["id", "article_id", "ordinal", "start_char", "end_char", "lang"]
SENTENCE_FIELDS = ["id", "article_id", "start_char", "end_char", "lang", "vector"]
COPY_FIELDS = ["id", "title", "source", "date", "url", "lang"]
ARTICLE_FIELDS = ["id", "title", "date", "source", "lang", "url", "origin", "author", "dateline", "chunks"]


@dataclass(frozen=True)
class _Restriction:
    """What one ``allowed`` call returned and the expressions that select the same passages and their articles'
    sentences."""

    ids: np.ndarray
    passages: str
    sentences: str


class MilvusRetrieval:
    """``Retrieval`` over the collections of one ``milvus://HOST:PORT/COLLECTION``."""

    def __init__(self, connection: Connection, synced: Synced) -> None:
        self.connection = connection
        self.synced = synced
        self._restriction: _Restriction | None = None
        self._hits: dict[tuple[str, tuple[str, ...]], int] = {}  # passages holding a stem or phrase, this generation

    @classmethod
    def open(cls, backend: MilvusBackend | str) -> MilvusRetrieval:
        """Connect and read what was synced; fails with one line when there is no sync or it does not fit."""
        connection = Connection.open(backend)
        try:
            synced = connection.synced()
            connection.load()
        except BaseException:
            connection.close()
            raise
        return cls(connection, synced)

    @property
    def generation(self) -> int:
        return self.synced.generation

    @property
    def encoder(self) -> str:
        return self.synced.encoder

    def check_dimension(self, encoder: str, dim: int) -> None:
        """Fail when the encoder makes vectors of another size than the synced ones."""
        if dim != self.synced.dim:
            raise IndexMismatch(
                f"the index in Milvus at {self.connection.backend.address} holds {self.synced.dim}-d vectors, but "
                f"encoder {encoder!r} makes {dim}-d ones; sync an index built with it"
            )

    def snapshot(self) -> AbstractContextManager[object]:
        return nullcontext()  # Milvus has no read snapshot across collections; a sync states its generation last

    def refresh(self) -> bool:
        synced = self.connection.synced()
        changed = synced.generation != self.synced.generation
        if changed:
            self._hits.clear()
        self.synced = synced
        return changed

    # --- candidates --------------------------------------------------------------------------------

    def allowed(self, filters: Filters, phrases: Phrases = (), *, other_than: str | None = None) -> np.ndarray | None:
        found = self._allowed(filters.by_article, phrases, other_than)
        if filters.speaker is None:
            return found
        quoted = self._quoting(filters.speaker)
        found = quoted if found is None else np.intersect1d(found, quoted, assume_unique=True)
        sentences = every(_where(filters.by_article), _said(filters.speaker))
        self._restriction = _Restriction(found, one_of("id", found.tolist()), sentences)
        return found

    def _quoting(self, key: str) -> np.ndarray:
        """The passages (ascending ids) holding a sentence that quotes the speaker ``key``."""
        spans: dict[str, list[tuple[int, int]]] = {}
        for row in self.connection.scan("sentences", _said(key), ["article_id", "start_char", "end_char"]):
            spans.setdefault(row["article_id"], []).append((int(row["start_char"]), int(row["end_char"])))
        ids = {p.id for p in self.passages_of_articles(sorted(spans))
               if any(p.start <= a and b <= p.end for a, b in spans[p.article_id])}  # fmt: skip
        return np.array(sorted(ids), dtype=np.int64)

    def _allowed(self, filters: Filters, phrases: Phrases, other_than: str | None) -> np.ndarray | None:
        where = _where(filters)
        if phrases:
            holders = self._holders(where, phrases)
            passages = [one_of("id", sorted(holders))] if holders else []
            sentences = [one_of("article_id", sorted(set(holders.values())))] if holders else []
            ids = set(holders)
            if other_than is not None:
                others = every(where, f"lang != {literal(other_than)}")
                ids.update(int(r["id"]) for r in self.connection.scan("passages", others, ["id"]))
                passages.append(others)
                sentences.append(f"lang != {literal(other_than)}")
            found = np.array(sorted(ids), dtype=np.int64)
            self._restriction = _Restriction(found, _any(passages), _any(sentences))
            return found
        if not filters.active:
            return None
        found = np.array(sorted(int(r["id"]) for r in self.connection.scan("passages", where, ["id"])), np.int64)
        self._restriction = _Restriction(found, where, where)
        return found

    def _holders(self, where: str, phrases: Phrases, limit: int | None = None) -> dict[int, str]:
        """``{passage id: article id}`` of the passages within ``where`` that hold every phrase (at most ``limit``)."""
        expr = every(where, *(phrase_like(p) for p in phrases))
        found: dict[int, str] = {}
        for row in self.connection.scan("passages", expr, ["id", "article_id", "norm"]):
            if holds(row["norm"], phrases):
                found[int(row["id"])] = row["article_id"]
                if limit is not None and len(found) >= limit:
                    break
        return found

    def _within(self, allowed: np.ndarray | None, kind: str) -> str | None:
        """The expression that selects ``allowed`` (its passages, or its articles' sentences): the one remembered
        when ``allowed`` is what ``allowed()`` returned last, else built from the ids. None: nothing is allowed."""
        if allowed is None:
            return ""
        if len(allowed) == 0:
            return None
        known = self._restriction
        if known is not None and known.ids is allowed:
            return known.passages if kind == "passages" else known.sentences
        if kind == "passages":
            return one_of("id", allowed.tolist())
        return one_of("article_id", sorted({p.article_id for p in self.passages(allowed.tolist()).values()}))

    def dense(self, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        expr = self._within(allowed, "passages")
        if expr is None or n <= 0:
            return {}
        found = self.connection.search(
            "passages", [_floats(vector)], "vector", n, expr, ["id"], _hnsw(n)
        )
        return {int(hit["id"]): float(hit["distance"]) for hit in found}

    def cosines(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        if not ids:
            return {}
        stored: dict[int, np.ndarray] = {}
        for chunk in _chunks([int(i) for i in ids]):
            for row in self.connection.query("passages", one_of("id", chunk), ["id", "vector"]):
                stored[int(row["id"])] = np.asarray(row["vector"], dtype=np.float32)
        matrix = np.vstack([stored[int(i)] for i in ids])
        return dict(zip(ids, (matrix @ vector).tolist(), strict=True))

    def lexical(self, stems: Sequence[str], phrases: Phrases, filters: Filters, n: int) -> dict[int, float]:
        # As FTS5: passages holding any of the stems and every phrase, ranked by FTS5's bm25() (``indexer.bm25``).
        # Milvus's BM25 function finds the candidates (a few times n, as it ranks them); a query of phrases only
        # takes every passage that holds them, as FTS5 does.
        terms = [s for s in stems if TOKEN.fullmatch(s)]
        if (not terms and not phrases) or n <= 0:
            return {}
        where = every(_where(filters), *(phrase_like(p) for p in phrases))
        fields = ["id", "stemmed", "norm"]
        if terms:
            text = " ".join(dict.fromkeys(terms))
            hits = self.connection.search("passages", [text], "sparse", min(MAX_HITS, OVERFETCH * n), where, fields,
                                          BM25_SEARCH)  # fmt: skip
            rows = [_entity(hit) | {"id": hit["id"]} for hit in hits]
        else:
            rows = list(self.connection.scan("passages", where, fields))
        rows = [r for r in rows if holds(r["norm"], phrases)]
        if not rows:
            return {}
        idfs = [self._idf("stemmed", (t,)) for t in terms] + [self._idf("norm", tuple(p)) for p in phrases]
        stats = self.synced.stats
        average = int(stats.get("tokens", 0)) / max(1, int(stats.get("passages", 0)))
        return ranked(((int(r["id"]), r["stemmed"], r["norm"]) for r in rows), terms, phrases, idfs, average, n)

    def _idf(self, column: str, words: tuple[str, ...]) -> float:
        """FTS5's idf of a stem (in ``stemmed``) or a phrase (in ``norm``): how many passages hold it, of all."""
        key = (column, words)
        if key not in self._hits:
            if column == "stemmed":
                expr = f"TEXT_MATCH(stemmed, {literal(words[0])})"
            else:
                expr = phrase_like(words) or 'norm != ""'
            if expr.startswith("norm !="):  # a word that ``like`` cannot take: count by reading every passage
                found = sum(holds(r["norm"], [words]) for r in self.connection.scan("passages", "", ["norm"]))
            else:
                found = int(self.connection.query("passages", expr, ["count(*)"])[0]["count(*)"])
            self._hits[key] = found
        return idf(int(self.synced.stats.get("passages", 0)), self._hits[key])

    def containing(self, words: Sequence[str], filters: Filters, limit: int) -> set[int]:
        if not words or limit <= 0:
            return set()
        return set(self._holders(_where(filters), [words], limit))

    def matching(self, stems: Sequence[str], phrases: Phrases, filters: Filters, limit: int) -> dict[int, str]:
        # TEXT_MATCH per stem (Milvus's whitespace analyzer over the stemmed words) narrows the rows; every one is
        # checked here on those words, as phrases are on the normalised ones.
        terms = list(dict.fromkeys(stems))
        if (not terms and not phrases) or limit <= 0:
            return {}
        usable = [t for t in terms if TOKEN.fullmatch(t)]
        expr = every(_where(filters), *(f"TEXT_MATCH(stemmed, {literal(t)})" for t in usable),
                     *(phrase_like(p) for p in phrases))  # fmt: skip
        found: dict[int, str] = {}
        for row in self.connection.scan("passages", expr, ["id", "article_id", "stemmed", "norm"]):
            words = set(row["stemmed"].split())
            if all(t in words for t in terms) and holds(row["norm"], phrases):
                found[int(row["id"])] = row["article_id"]
        return dict(sorted(found.items())[:limit])

    def article_facts(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None, str]]:
        found: dict[str, tuple[str | None, str | None, str]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            for row in self.connection.query("articles", one_of("id", chunk), ["id", "date", "source", "lang"]):
                found[row["id"]] = (row.get("date"), row.get("source"), row["lang"])
        return found

    def clusters(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            for row in self.connection.query("articles", one_of("id", chunk), ["id", "cluster"]):
                found[row["id"]] = row.get("cluster") or row["id"]
        return found

    def copies(self, ids: Sequence[str]) -> dict[str, list[Copy]]:
        return {a: shortlist(c) for a, c in self._all_copies(ids).items()}

    def copy_counts(self, ids: Sequence[str]) -> dict[str, int]:
        return {a: len(c) for a, c in self._all_copies(ids).items()}

    def _all_copies(self, ids: Sequence[str]) -> dict[str, list[Copy]]:
        named = self.clusters(ids)
        members: dict[str, list[Copy]] = {}
        for chunk in _chunks(sorted(set(named.values()))):
            for row in self.connection.scan("articles", one_of("cluster", chunk), [*COPY_FIELDS, "cluster"]):
                copy = Copy(*(row.get(f) for f in COPY_FIELDS))
                members.setdefault(row["cluster"], []).append(copy)
        found: dict[str, list[Copy]] = {}
        for article_id, name in named.items():
            others = [c for c in members.get(name, ()) if c.article_id != article_id]
            if others:
                found[article_id] = sorted(others, key=lambda c: (c.date is None, c.date or "", c.article_id))
        return found

    def nearest_sentences(
        self, vector: np.ndarray, k: int, filters: Filters, allowed: np.ndarray | None = None
    ) -> list[tuple[StoredSentence, float]]:
        # As IndexRetrieval: filters decide when there are any; else the articles of the allowed passages.
        said = _said(filters.speaker) if filters.speaker else ""
        expr = every(_where(filters.by_article), said) if filters.active else self._within(allowed, "sentences")
        if expr is None or k <= 0:
            return []
        codes = quantize(vector).astype(np.float32)
        found = self.connection.search("sentences", [_floats(codes)], "vector", k, expr, SENTENCE_FIELDS, _hnsw(k))
        scores = np.array([hit["distance"] for hit in found], dtype=np.float32) / (SCALE * SCALE)
        return [(_sentence(_entity(hit), hit["id"]), s) for hit, s in zip(found, scores.tolist(), strict=True)]

    # --- who said it ---------------------------------------------------------------------------------

    def speakers_between(self, article_id: str, start: int, end: int) -> list[Attributed]:
        expr = (f'article_id == {literal(article_id)} and start_char < {int(end)} and end_char > {int(start)} '
                'and speaker_key != ""')  # fmt: skip
        rows = self.connection.scan("sentences", expr, ["start_char", "end_char", "speaker", "speaker_title"])
        found = [Attributed(int(r["start_char"]), int(r["end_char"]), r["speaker"], r["speaker_title"] or None)
                 for r in rows]  # fmt: skip
        return sorted(found, key=lambda a: a.start)

    def passage_speakers(self, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        passages = self.passages(ids)
        by_article: dict[str, list[StoredPassage]] = {}
        for passage in passages.values():
            by_article.setdefault(passage.article_id, []).append(passage)
        found: dict[int, list[tuple[str, str]]] = {}
        fields = ["id", "article_id", "start_char", "end_char", "speaker_key", "speaker"]
        for chunk in _chunks(sorted(by_article)):
            rows = self.connection.scan("sentences", every(one_of("article_id", chunk), 'speaker_key != ""'), fields)
            for row in sorted(rows, key=lambda r: int(r["id"])):
                for passage in by_article[row["article_id"]]:
                    if passage.start <= int(row["start_char"]) and int(row["end_char"]) <= passage.end:
                        found.setdefault(passage.id, []).append((row["speaker_key"], row["speaker"]))
        return found

    def sentence_speakers(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for chunk in _chunks([int(i) for i in ids]):
            expr = every(one_of("id", chunk), 'speaker_key != ""')
            for row in self.connection.query("sentences", expr, ["id", "speaker_key", "speaker"]):
                found[int(row["id"])] = (row["speaker_key"], row["speaker"])
        return found

    # --- rows by id --------------------------------------------------------------------------------

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        found: dict[int, StoredPassage] = {}
        for chunk in _chunks([int(i) for i in ids]):
            for row in self.connection.query("passages", one_of("id", chunk), PASSAGE_FIELDS):
                found[int(row["id"])] = _passage(row)
        return found

    def passages_of_articles(self, article_ids: Sequence[str]) -> list[StoredPassage]:
        found: list[StoredPassage] = []
        for chunk in _chunks(list(article_ids)):
            rows = [_passage(r) for r in self.connection.scan("passages", one_of("article_id", chunk), PASSAGE_FIELDS)]
            found += sorted(rows, key=lambda p: (p.article_id, p.ordinal))
        return found

    def sentences_between(self, article_id: str, start: int, end: int) -> list[StoredSentence]:
        expr = f"article_id == {literal(article_id)} and start_char >= {int(start)} and end_char <= {int(end)}"
        rows = self.connection.scan("sentences", expr, SENTENCE_FIELDS)
        return sorted((_sentence(r, r["id"]) for r in rows), key=lambda s: s.start)

    def article(self, article_id: str) -> Article | None:
        return self.articles([article_id]).get(article_id)

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        found: dict[str, Article] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = self.connection.query("articles", one_of("id", chunk), ARTICLE_FIELDS)
            pieces: dict[str, list[tuple[int, str]]] = {}
            for piece in self.connection.scan("texts", one_of("article_id", chunk), ["article_id", "ordinal", "text"]):
                pieces.setdefault(piece["article_id"], []).append((int(piece["ordinal"]), piece["text"]))
            for row in rows:
                text = [t for _, t in sorted(pieces.get(row["id"], []))]
                if len(text) == int(row["chunks"]):  # else a sync is rewriting it right now
                    found[row["id"]] = _article(row, "".join(text))
        return found

    # --- what the filters offer ----------------------------------------------------------------------

    def languages(self) -> list[tuple[str, int]]:
        return [(lang, int(n)) for lang, n in self.synced.stats.get("languages", [])]

    def sources(self) -> list[tuple[str, int]]:
        return [(source, int(n)) for source, n in self.synced.stats.get("sources", [])]

    def date_range(self) -> tuple[str | None, str | None]:
        first, last = self.synced.stats.get("dates", [None, None])
        return first, last

    def article_count(self) -> int:
        return int(self.synced.stats.get("articles", 0))

    def close(self) -> None:
        self.connection.close()


def _said(key: str) -> str:
    """Sentences that quote the speaker ``key``: their folded speaker is it, or ends with it as a word."""
    return f"(speaker_key == {literal(key)} or speaker_key like {literal('% ' + key)})"


def _where(filters: Filters) -> str:
    """The filters as a Milvus expression over the fields every passage and sentence carries (empty: no filter).
    An article without a date has no ``day``: a null compares false, as SQL's NULL does."""
    parts = []
    if filters.lang:
        parts.append(f"lang == {literal(filters.lang)}")
    if filters.sources:
        parts.append(one_of("source", filters.sources))
    if filters.date_from:
        parts.append(f"day >= {literal(filters.date_from)}")
    if filters.date_to:
        parts.append(f"day <= {literal(filters.date_to)}")
    return every(*parts)


def _any(conditions: list[str]) -> str:
    """Rows meeting any of ``conditions``; ``id in []`` (nothing) when there are none."""
    return either(*conditions) if conditions else "id in []"


def _hnsw(limit: int) -> dict:
    return {"metric_type": "IP", "params": {"ef": max(HNSW_EF, limit)}}


def _floats(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).reshape(-1).tolist()


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _entity(hit: dict) -> dict:
    return hit.get("entity", hit)


def _passage(row: dict) -> StoredPassage:
    return StoredPassage(
        int(row["id"]), row["article_id"], int(row["ordinal"]), int(row["start_char"]), int(row["end_char"]),
        row["lang"],
    )  # fmt: skip


def _sentence(row: dict, sentence_id: int) -> StoredSentence:
    codes = np.rint(np.asarray(row["vector"], dtype=np.float32)).astype(np.int8)
    return StoredSentence(
        int(sentence_id), row["article_id"], int(row["start_char"]), int(row["end_char"]), row["lang"], codes
    )


def _article(row: dict, text: str) -> Article:
    return Article(
        id=row["id"], text=text, title=row["title"], date=row.get("date"), source=row.get("source"),
        lang=row["lang"], url=row.get("url"), origin=row["origin"], author=row.get("author"),
        dateline=row.get("dateline"),
    )  # fmt: skip
