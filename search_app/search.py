"""Language-aware hybrid search over an index directory. No streamlit here.

Dense evidence (cosine of L2-normalised vectors) judges every passage in every language. Lexical
evidence (FTS5 BM25 over stemmed, normalised words) only speaks for passages in the query's
language: an English word never matches Arabic text, and letting BM25 vote there only pushes
cross-lingual matches down. Hybrid score = cosine + LEXICAL_WEIGHT × BM25 / best BM25 of the query,
the BM25 term counting only for same-language passages (weight tuned on XQuAD, see README).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from indexer.encoders import Encoder, load_encoder
from indexer.index import IndexDir
from indexer.records import Article, Hit, PassageHit, Span
from indexer.store import StoredPassage
from search_app.filters import Filters
from search_app.highlight import sentence_units, term_spans
from search_app.query import ParsedQuery, parse_query

MODES = ("hybrid", "semantic", "lexical")
SORTS = ("relevance", "date")
LEXICAL_WEIGHT = 0.08
CANDIDATES = 100  # passages taken from each retriever before fusion (at least 10 × k)
PASSAGES_PER_HIT = 3
SENTENCE_CACHE = 20_000
QUERY_CACHE = 4096
EXPLAIN = 3  # hits whose best passage gets its most query-like sentence marked (one encoder call)


@dataclass
class Searcher:
    """An open index plus its encoder; cheap to query many times."""

    index: IndexDir
    encoder: Encoder
    last_seconds: float = 0.0
    _sentence_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _query_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        *,
        encoder: Encoder | None = None,
        device: str | None = None,
        precision: str | None = None,
    ) -> Searcher:
        index = IndexDir.open(index_dir)
        if encoder is None or encoder.name != index.config.encoder:
            try:
                encoder = load_encoder(index.config.encoder, device=device, precision=precision)
            except BaseException:
                index.close()
                raise
        return cls(index, encoder)

    def close(self) -> None:
        self.index.close()

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: str = "hybrid",
        lang: str | None = None,
        sources: Sequence[str] | None = None,
        date_from: object = None,
        date_to: object = None,
        sort: str = "relevance",
        explain: int = EXPLAIN,
    ) -> list[Hit]:
        """Hits grouped by article, best first (or newest first with ``sort="date"``)."""
        started = time.perf_counter()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        parsed = parse_query(query)
        filters = Filters.make(lang, sources, date_from, date_to)
        hits: list[Hit] = []
        if not parsed.empty and k > 0:
            scored, query_vector = self._score(parsed, filters, mode, max(CANDIDATES, 10 * k))
            hits = self._group(scored, k)
            hits = [
                self._highlight(h, parsed, query_vector, i < explain and mode != "lexical") for i, h in enumerate(hits)
            ]
            if sort == "date":
                hits.sort(key=lambda h: h.date or "", reverse=True)
        self.last_seconds = time.perf_counter() - started
        return hits

    # --- retrieval and fusion --------------------------------------------------------------------

    def _allowed(self, parsed: ParsedQuery, filters: Filters) -> np.ndarray | None:
        """Passage ids that pass the filters and contain every quoted phrase; None when all do."""
        store = self.index.store
        where, params = filters.sql()
        if parsed.phrases:
            expr = " AND ".join(f"norm : {_fts_string(' '.join(p))}" for p in parsed.phrases)
            sql = (
                "SELECT p.id FROM passages_fts f JOIN passages p ON p.id = f.rowid "
                f"JOIN articles a ON a.id = p.article_id WHERE passages_fts MATCH ? AND {where}"
            )
            return np.array([r[0] for r in store.db.execute(sql, [expr, *params])], dtype=np.int64)
        if not filters.active:
            return None
        sql = f"SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id WHERE {where}"
        return np.array([r[0] for r in store.db.execute(sql, params)], dtype=np.int64)

    def _dense(self, vector: np.ndarray, allowed: np.ndarray | None, n: int) -> dict[int, float]:
        scores, ids = self.index.vectors.search(vector, n, allowed)
        return dict(zip(ids.tolist(), scores.tolist(), strict=True))

    def _lexical(self, parsed: ParsedQuery, filters: Filters, n: int) -> dict[int, float]:
        expr = parsed.match_expression()
        if expr is None:
            return {}
        where, params = filters.sql()
        # Without filters the full-text table answers alone (no join per matching row).
        joins = "JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id " if filters.active else ""
        sql = (
            f"SELECT f.rowid, -bm25(passages_fts, 1.0, 0.5) FROM passages_fts f {joins}"
            f"WHERE passages_fts MATCH ? AND {where} ORDER BY bm25(passages_fts, 1.0, 0.5) LIMIT ?"
        )
        return {int(r[0]): float(r[1]) for r in self.index.store.db.execute(sql, [expr, *params, n])}

    def _cosines(self, vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Exact cosines for passages the dense retriever did not return."""
        if not ids:
            return {}
        matrix = self.index.vectors.vectors(ids)
        return dict(zip(ids, (matrix @ vector).tolist(), strict=True))

    def _score(
        self, parsed: ParsedQuery, filters: Filters, mode: str, n: int
    ) -> tuple[list[tuple[float, StoredPassage]], np.ndarray | None]:
        allowed = self._allowed(parsed, filters)
        if allowed is not None and len(allowed) == 0:
            return [], None
        vector = self._query_vector(parsed.text) if mode != "lexical" else None
        dense = self._dense(vector, allowed, n) if vector is not None else {}
        lexical = self._lexical(parsed, filters, n) if mode != "semantic" else {}
        if parsed.phrases and not parsed.stems and mode != "semantic":
            # A phrase-only query: every passage that contains the phrase is a lexical match.
            lexical = lexical or {int(i): 1.0 for i in allowed[:n]}
        ids = list(dict.fromkeys([*dense, *lexical]))
        meta = self.index.store.passages(ids)
        if mode == "lexical":
            return sorted(((lexical[i], meta[i]) for i in lexical if i in meta), key=_by_score), vector
        if mode == "hybrid" and lexical:
            dense.update(self._cosines(vector, [i for i in lexical if i not in dense]))
        best = max(lexical.values(), default=0.0) or 1.0
        scored = []
        for i, cosine in dense.items():
            if i not in meta:
                continue
            score = cosine
            if mode == "hybrid" and meta[i].lang == parsed.lang and i in lexical:
                score += LEXICAL_WEIGHT * lexical[i] / best
            scored.append((score, meta[i]))
        return sorted(scored, key=_by_score), vector

    def _group(self, scored: list[tuple[float, StoredPassage]], k: int) -> list[Hit]:
        groups: dict[str, list[tuple[float, StoredPassage]]] = {}
        for score, passage in scored:
            group = groups.setdefault(passage.article_id, [])
            if len(group) < PASSAGES_PER_HIT:
                group.append((score, passage))
        chosen = list(groups.items())[:k]
        articles = self.index.store.articles([a for a, _ in chosen])
        return [_hit(articles[a], group) for a, group in chosen if a in articles]

    # --- highlights ------------------------------------------------------------------------------

    def _highlight(self, hit: Hit, parsed: ParsedQuery, vector: np.ndarray | None, explain: bool) -> Hit:
        """Marks on the best passage (what a result shows); the article view marks the whole text itself."""
        passages = list(hit.passages)
        best = passages[0] = replace(
            passages[0], spans=tuple(term_spans(hit.text, passages[0].start, passages[0].end, parsed))
        )
        lexical_evidence = bool(best.spans) and hit.lang == parsed.lang
        if explain and vector is not None and not lexical_evidence:
            found = self.best_sentence(hit.text, best.start, best.end, vector)
            if found:
                passages[0] = replace(best, spans=(found[0], *best.spans))
        return replace(hit, passages=tuple(passages))

    def best_sentence(self, text: str, start: int, end: int, vector: np.ndarray) -> tuple[Span, float] | None:
        """The sentence of ``text[start:end]`` most similar to the query vector (same encoder), with its cosine."""
        units = sentence_units(text, start, end)
        if not units:
            return None
        scores = self._sentence_vectors([text[a:b] for a, b in units]) @ vector
        best = int(np.argmax(scores))
        return Span(units[best][0], units[best][1], "sentence"), float(scores[best])

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        """Sentence vectors, remembered across queries (a result page shows the same passages again)."""
        missing = [s for s in dict.fromkeys(sentences) if s not in self._sentence_cache]
        if missing:
            if len(self._sentence_cache) > SENTENCE_CACHE:
                self._sentence_cache.clear()
            self._sentence_cache.update(zip(missing, self.encoder.encode_passages(missing), strict=True))
        return np.vstack([self._sentence_cache[s] for s in sentences])

    def query_vector(self, query: str) -> np.ndarray:
        return self._query_vector(parse_query(query).text)

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's vector, remembered for the next filter, mode or page of the same query."""
        if text not in self._query_cache:
            if len(self._query_cache) >= QUERY_CACHE:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[text] = self.encoder.encode_queries([text])[0]
        return self._query_cache[text]


def _by_score(item: tuple[float, StoredPassage]) -> tuple[float, int]:
    return (-item[0], item[1].id)


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _hit(article: Article, group: list[tuple[float, StoredPassage]]) -> Hit:
    return Hit(
        article_id=article.id,
        title=article.title,
        source=article.source,
        date=article.date,
        lang=article.lang,
        url=article.url,
        text=article.text,
        score=group[0][0],
        passages=tuple(PassageHit(p.id, p.start, p.end, round(s, 6)) for s, p in group),
    )
