"""Language-aware hybrid search over an index directory or an index synced into Milvus. No streamlit here.

Candidates come from three retrievers: passage vectors (FAISS, every language), BM25 over stemmed,
normalised words (FTS5) and the sentence index (USE vectors of single sentences, every language). Each
candidate passage's evidence (``fusion.Evidence``) is scored by ``fusion.rank``: cosine, plus BM25 for
passages in the query's language, plus what a sentence of the passage gains above the sentence floor; a
passage that contains the whole query ranks first. Passages are then grouped into articles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from indexer.columns import members
from indexer.config import check_dimension
from indexer.encoders import Encoder, SentenceEncoder, load_encoder
from indexer.errors import BadQuery
from indexer.filters import Filters
from indexer.records import Article, Copy, Hit, PassageHit, Span
from indexer.retrieval import IndexRetrieval, Retrieval, StoredPassage, StoredSentence
from indexer.sentences import dequantize
from search_app.fusion import QUOTE_MIN_WORDS, Evidence, Weights, rank
from search_app.highlight import phrase_spans, term_spans
from search_app.query import ParsedQuery, parse_query

MODES = ("hybrid", "semantic", "lexical")
SORTS = ("relevance", "date")
CANDIDATES = 100  # passages taken from each retriever before fusion (at least 10 × k)
SENTENCE_CANDIDATES = 100  # sentences taken from the sentence index
QUOTE_CANDIDATES = 1000  # passages that contain the whole query, at most
PASSAGES_PER_HIT = 3
SPEAKER_WIDEN = 10  # with a speaker filter, lexical candidates are taken this many times deeper, then kept if quoting
QUERY_CACHE = 4096


@dataclass(frozen=True)
class LanguageCount:
    """How one language fared for a query: articles among the results shown and among all candidates."""

    hits: int
    candidates: int


@dataclass(frozen=True)
class Results:
    """A query's hits and, for every language the index holds, how many of them and of the candidates."""

    hits: list[Hit]
    languages: dict[str, LanguageCount]


@dataclass
class Searcher:
    """An open index plus its encoders; cheap to query many times."""

    retrieval: Retrieval
    encoder: Encoder
    last_seconds: float = 0.0
    weights: Weights = field(default_factory=Weights)
    _sentence_encoder: SentenceEncoder | None = field(default=None, repr=False)
    _query_cache: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _languages: tuple[int, list[tuple[str, int]]] | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        index_dir: str | Path | None = None,
        *,
        backend: str | None = None,
        encoder: Encoder | None = None,
        device: str | None = None,
        precision: str | None = None,
    ) -> Searcher:
        """Open the index directory, or with ``backend`` (``milvus://HOST:PORT/COLLECTION``, which ``index_dir`` may
        also be) the index synced there (``index_dir`` is then not read)."""
        if backend is None and isinstance(index_dir, str) and "://" in index_dir:
            backend = index_dir
        if backend is not None:
            from indexer.milvus_retrieval import MilvusRetrieval

            milvus = MilvusRetrieval.open(backend)
            return cls._with_encoder(milvus, encoder, device, precision, milvus.check_dimension)
        if index_dir is None:
            raise BadQuery("give an index directory or a backend to search")
        retrieval = IndexRetrieval.open(index_dir)
        check = partial(check_dimension, retrieval.index.path, retrieval.index.config)
        return cls._with_encoder(retrieval, encoder, device, precision, check)

    @classmethod
    def _with_encoder(
        cls,
        retrieval: Retrieval,
        encoder: Encoder | None,
        device: str | None,
        precision: str | None,
        check: Callable[[str, int], None],
    ) -> Searcher:
        """A searcher over ``retrieval`` with its encoder (``encoder`` when it is the one, else loaded and checked
        against the stored vectors' size)."""
        if encoder is None or encoder.name != retrieval.encoder:
            try:
                encoder = load_encoder(retrieval.encoder, device=device, precision=precision)
                check(encoder.name, encoder.dim)
            except BaseException:
                retrieval.close()
                raise
        return cls(retrieval, encoder)

    def close(self) -> None:
        self.retrieval.close()

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
        explain: int | None = None,
        all_copies: bool = False,
        speaker: str | None = None,
    ) -> list[Hit]:
        """Hits grouped by article, best first (or newest first with ``sort="date"``); see ``results``."""
        found = self.results(
            query, k=k, mode=mode, lang=lang, sources=sources, date_from=date_from, date_to=date_to, sort=sort,
            explain=explain, all_copies=all_copies, speaker=speaker,
        )  # fmt: skip
        return found.hits

    def results(
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
        explain: int | None = None,
        all_copies: bool = False,
        speaker: str | None = None,
    ) -> Results:
        """The ``k`` best articles and per-language counts. ``explain``: how many hits get their best passage's
        most query-like sentence marked from the sentence index (default: all). One hit per syndication cluster
        (its best-ranked member, with the rest as ``Hit.copies``) unless ``all_copies``. ``speaker``: only
        passages holding a sentence attributed to them (``indexer.speakers``; a surname matches the full name)."""
        started = time.perf_counter()
        if mode not in MODES:
            raise BadQuery(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if sort not in SORTS:
            raise BadQuery(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        parsed = parse_query(query)
        filters = Filters.make(lang, sources, date_from, date_to, speaker)
        with self.retrieval.snapshot():  # one committed generation for the whole query, whatever writers do
            self.retrieval.refresh()  # articles committed since the last query are searchable now
            return self._results(parsed, filters, k, mode, sort, explain, started, all_copies)

    def _results(
        self,
        parsed: ParsedQuery,
        filters: Filters,
        k: int,
        mode: str,
        sort: str,
        explain: int | None,
        started: float,
        all_copies: bool = False,
    ) -> Results:
        hits: list[Hit] = []
        candidates: list[tuple[float, Evidence]] = []
        if not parsed.empty and k > 0:
            vectors = self.query_vectors(parsed.text) if mode != "lexical" else None
            candidates = rank(self.evidence(parsed, filters, mode, max(CANDIDATES, 10 * k), vectors), mode,
                              parsed.lang, self.weights)  # fmt: skip
            hits = self._group(candidates, k, all_copies)
            explain = len(hits) if explain is None else explain
            use = vectors[1] if vectors is not None else None
            hits = [self._highlight(h, parsed, candidates, use if i < explain else None) for i, h in enumerate(hits)]
            if sort == "date":
                hits.sort(key=lambda h: h.date or "", reverse=True)
        self.last_seconds = time.perf_counter() - started
        return Results(hits, _languages(self._held_languages(), hits, candidates))

    def article(self, article_id: str) -> Article | None:
        """One article as the index holds it now (None when it is not there, or no longer)."""
        with self.retrieval.snapshot():
            self.retrieval.refresh()
            return self.retrieval.article(article_id)

    def summary(self) -> dict[str, object]:
        """What the index holds now: encoder, generation, articles per language and outlet, the dates."""
        with self.retrieval.snapshot():
            self.retrieval.refresh()
            first, last = self.retrieval.date_range()
            return {
                "encoder": self.retrieval.encoder,
                "generation": self.retrieval.generation,
                "articles": self.retrieval.article_count(),
                "languages": dict(self.retrieval.languages()),
                "sources": dict(self.retrieval.sources()),
                "dates": {"first": first, "last": last},
            }

    def _held_languages(self) -> list[tuple[str, int]]:
        """The languages the index holds (article counts), read again only when the store has changed."""
        generation = self.retrieval.generation
        if self._languages is None or self._languages[0] != generation:
            self._languages = (generation, self.retrieval.languages())
        return self._languages[1]

    # --- evidence --------------------------------------------------------------------------------

    def evidence(
        self, parsed: ParsedQuery, filters: Filters, mode: str, n: int, vectors: tuple[np.ndarray, np.ndarray] | None
    ) -> list[Evidence]:
        """Every candidate passage with its evidence: the ``n`` best of the passage and lexical retrievers, the
        passages holding the best sentences, and those that contain the whole query. ``vectors``: the query's
        passage-encoder and USE vectors (None in lexical mode)."""
        allowed = self._allowed(parsed, filters, mode)
        if allowed is not None and len(allowed) == 0:
            return []
        retrieval = self.retrieval
        dense = retrieval.dense(vectors[0], n, allowed) if vectors is not None else {}
        lexical = {}
        if mode != "semantic":
            wide = n * SPEAKER_WIDEN if filters.speaker else n  # the best by BM25 that quote the speaker, below
            lexical = retrieval.lexical(parsed.stems, parsed.phrases, filters.by_article, wide)
            if filters.speaker is not None:
                kept = _among(list(lexical), allowed)
                lexical = dict(list((i, s) for i, s in lexical.items() if i in kept)[:n])
        if parsed.phrases and not parsed.stems and mode != "semantic":
            # A phrase-only query: every passage that contains the phrase is a lexical match.
            lexical = lexical or {int(i): 1.0 for i in allowed[:n]}
        contained = self._containing(parsed, filters, allowed) if mode != "semantic" else set()
        sentences = []
        if vectors is not None:
            sentences = retrieval.nearest_sentences(vectors[1], SENTENCE_CANDIDATES, filters, allowed)
        meta = retrieval.passages(list(dict.fromkeys([*dense, *lexical, *contained])))
        # Passages that hold a sentence near enough to gain from it join the candidates (the others cannot).
        floor = min(self.weights.sentence_floor, self.weights.same_language_floor)
        spans: dict[str, list[tuple[int, int]]] = {}
        for sentence, similarity in sentences:
            if similarity > floor:
                spans.setdefault(sentence.article_id, []).append((sentence.start, sentence.end))
        holding = [
            passage
            for passage in retrieval.passages_of_articles(sorted(spans))
            if any(passage.start <= a and b <= passage.end for a, b in spans[passage.article_id])
        ]
        kept = _among([p.id for p in holding], allowed)
        for passage in holding:
            if passage.id in kept:
                meta.setdefault(passage.id, passage)
        if vectors is not None:
            dense.update(retrieval.cosines(vectors[0], [i for i in meta if i not in dense]))
        best: dict[int, tuple[float, tuple[int, int]]] = {}
        by_article: dict[str, list[StoredPassage]] = {}
        for passage in meta.values():
            by_article.setdefault(passage.article_id, []).append(passage)
        for sentence, similarity in sentences:  # nearest first: a passage's first is its best
            for passage in by_article.get(sentence.article_id, ()):
                if passage.start <= sentence.start and sentence.end <= passage.end and passage.id not in best:
                    best[passage.id] = (similarity, (sentence.start, sentence.end))
        return [
            Evidence(
                passage,
                cosine=dense.get(i, 0.0),
                bm25=lexical.get(i, 0.0),
                sentence=best[i][0] if i in best else 0.0,
                sentence_span=best[i][1] if i in best else None,
                contains=i in contained,
            )
            for i, passage in meta.items()
        ]

    def _allowed(self, parsed: ParsedQuery, filters: Filters, mode: str) -> np.ndarray | None:
        """Passage ids that pass the filters and contain every quoted phrase; None when all do.

        A query of phrases only, or any query in ``lexical`` mode, asks for those exact words. Quoted words inside
        a longer query (a pasted sentence that quotes somebody) bind only the query's language: a translation
        cannot contain them, and must still be found."""
        other = parsed.lang if parsed.phrases and parsed.stems and mode != "lexical" else None
        return self.retrieval.allowed(filters, parsed.phrases, other_than=other)

    def _containing(self, parsed: ParsedQuery, filters: Filters, allowed: np.ndarray | None) -> set[int]:
        """Passages that hold every word of the query, in order (normalised): a pasted quote."""
        if len(parsed.words) < QUOTE_MIN_WORDS:
            return set()
        found = self.retrieval.containing(parsed.words, filters, QUOTE_CANDIDATES)
        return _among(sorted(found), allowed)

    def _group(self, scored: list[tuple[float, Evidence]], k: int, all_copies: bool = False) -> list[Hit]:
        """The ``k`` best articles with their best passages; one per syndication cluster unless ``all_copies``."""
        groups: dict[str, list[tuple[float, StoredPassage]]] = {}
        for score, evidence in scored:
            group = groups.setdefault(evidence.passage.article_id, [])
            if len(group) < PASSAGES_PER_HIT:
                group.append((score, evidence.passage))
        chosen = list(groups.items())
        if not all_copies:
            names = self.retrieval.clusters(list(groups))
            first = {names.get(a, a): a for a in reversed(groups)}  # each cluster's best-ranked member
            chosen = [(a, group) for a, group in chosen if first[names.get(a, a)] == a]
        chosen = chosen[:k]
        articles = self.retrieval.articles([a for a, _ in chosen])
        copies = self.retrieval.copies([a for a, _ in chosen])
        counts = self.retrieval.copy_counts(list(copies))
        quoted = self.retrieval.passage_speakers([group[0][1].id for _, group in chosen])
        return [
            _hit(articles[a], group, copies.get(a, ()), _names(quoted.get(group[0][1].id, ())), counts.get(a))
            for a, group in chosen
            if a in articles
        ]

    # --- highlights ------------------------------------------------------------------------------

    def _highlight(
        self, hit: Hit, parsed: ParsedQuery, scored: list[tuple[float, Evidence]], use: np.ndarray | None
    ) -> Hit:
        """Marks on the best passage (what a result shows): the whole query where the passage contains it, the
        query's words, and the passage's most query-like sentence (from the sentence index, when ``use`` is
        given). The article view marks the whole text itself."""
        passages = list(hit.passages)
        best = passages[0]
        evidence = next((e for _, e in scored if e.passage.id == best.passage_id), None)
        spans = term_spans(hit.text, best.start, best.end, parsed)
        if evidence is not None and evidence.contains:
            spans = phrase_spans(hit.text, best.start, best.end, parsed.words) + spans
        if use is not None:
            if evidence is not None and evidence.sentence_span is not None:  # found by the sentence search already
                spans = [Span(*evidence.sentence_span, "sentence"), *spans]
            elif found := self.best_sentence(hit.article_id, best.start, best.end, use):
                spans = [found[0], *spans]
        passages[0] = replace(best, spans=tuple(sorted(spans, key=lambda s: (s.start, s.end))))
        return replace(hit, passages=tuple(passages))

    def nearest_sentences(self, query: str, k: int, *, lang: str | None = None) -> list[tuple[StoredSentence, float]]:
        """The ``k`` indexed sentences nearest the query (USE cosine), in any language or in ``lang``."""
        return self.retrieval.nearest_sentences(self.sentence_query_vector(query), k, Filters.make(lang))

    def best_sentence(self, article_id: str, start: int, end: int, use: np.ndarray) -> tuple[Span, float] | None:
        """The indexed sentence of ``article[start:end]`` nearest the query's USE vector, with its cosine."""
        found = self.retrieval.sentences_between(article_id, start, end)
        if not found:
            return None
        scores = dequantize(np.vstack([s.vector for s in found])) @ use
        i = int(np.argmax(scores))
        return Span(found[i].start, found[i].end, "sentence"), float(scores[i])

    # --- query vectors ---------------------------------------------------------------------------

    @property
    def sentence_encoder(self) -> SentenceEncoder:
        if self._sentence_encoder is None:
            self._sentence_encoder = SentenceEncoder(self.encoder)
        return self._sentence_encoder

    def query_vector(self, query: str) -> np.ndarray:
        """The query's vector from the index's encoder."""
        return self.query_vectors(parse_query(query).text)[0]

    def sentence_query_vector(self, query: str) -> np.ndarray:
        """The query's USE vector, for the sentence index."""
        return self.query_vectors(parse_query(query).text)[1]

    def query_vectors(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The passage-encoder and USE vectors of a parsed query's text (``ParsedQuery.text``), remembered for the
        next filter, mode or page."""
        if text not in self._query_cache:
            if len(self._query_cache) >= QUERY_CACHE:
                self._query_cache.pop(next(iter(self._query_cache)))
            vector = self.encoder.encode_queries([text])[0]
            self._query_cache[text] = (vector, self.sentence_encoder.query(text, vector))
        return self._query_cache[text]


def _languages(held: list[tuple[str, int]], hits: list[Hit], scored: list[tuple[float, Evidence]]) -> dict:
    shown: dict[str, int] = {}
    for hit in hits:
        shown[hit.lang] = shown.get(hit.lang, 0) + 1
    articles: dict[str, str] = {}
    for _, evidence in scored:
        articles.setdefault(evidence.passage.article_id, evidence.passage.lang)
    pool: dict[str, int] = {}
    for lang in articles.values():
        pool[lang] = pool.get(lang, 0) + 1
    return {lang: LanguageCount(shown.get(lang, 0), pool.get(lang, 0)) for lang, _ in sorted(held)}


def _names(quotes: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Speakers once each (by their folded name), in the order the passage quotes them."""
    seen: dict[str, str] = {}
    for key, name in quotes:
        seen.setdefault(key, name)
    return tuple(seen.values())


def _hit(
    article: Article,
    group: list[tuple[float, StoredPassage]],
    copies: Sequence[Copy] = (),
    speakers: tuple = (),
    copy_count: int | None = None,
) -> Hit:
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
        author=article.author,
        dateline=article.dateline,
        copies=tuple(copies),
        copy_count=copy_count,
        speakers=speakers,
    )


def _among(ids: list[int], allowed: np.ndarray | None) -> set[int]:
    """Those of ``ids`` that ``allowed`` (ascending ids; None: every id) holds, without making a set of it."""
    if allowed is None or not ids:
        return set(ids)
    wanted = np.asarray(ids, dtype=np.int64)
    return set(wanted[members(allowed, wanted)].tolist())
