"""Coverage over time: how many articles match a query, per week, month or year, per language and per outlet.

Counts are over every article that matches above a stated relevance floor, not only the top k a search shows.
An article matches when

- one of its passages holds every word of the query (stemmed, as the lexical search matches words) and every
  quoted phrase exactly (not in ``semantic`` mode), or
- one of its sentences, or for the sentences nearest the query a run of a sentence's clauses, as the quote
  checker compares them, has a USE cosine of at least ``FLOOR`` with the query (not in ``lexical`` mode): the
  quote checker's threshold for "says the same in the other language" (``quotes.TRANSLATION_THRESHOLD``), so a
  translation counts, a passage that merely shares the topic does not. With quoted phrases, only sentences in the
  other language count this way (a translation cannot hold the phrase; in the query's language the phrase must
  be there).

Both sides are capped (``MAX_PASSAGES``, ``MAX_SENTENCES``); ``Coverage.capped`` says when a cap was reached, so a
count is then a lower bound. The filters narrow the counts as they narrow the search.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from indexer.errors import BadQuery
from indexer.filters import Filters
from indexer.retrieval import StoredSentence
from indexer.speakers import names_match
from search_app.query import parse_query
from search_app.quotes import CLAUSE_CANDIDATES, TRANSLATION_THRESHOLD, clause_runs
from search_app.search import MODES, Searcher

FLOOR = TRANSLATION_THRESHOLD
PERIODS = ("week", "month", "year")
FACETS = ("date", "source", "lang", "speaker")
TOP_SPEAKERS = 50  # the speaker facet lists this many, most articles first
MAX_PASSAGES = 50_000  # passages holding every query word, at most
MAX_SENTENCES = 4_096  # sentences above the floor, at most
FIRST_SENTENCES = 256  # the sentence search starts here and grows fourfold while all it finds pass the floor
MAX_EMPTY_PERIODS = 1_000  # empty periods between the first and last are listed up to this many
FLOOR_TEXT = (
    f"an article counts when a passage holds every query word (and phrase), or a sentence's USE cosine with the "
    f"query is at least {FLOOR:.2f}"
)


@dataclass(frozen=True)
class Bucket:
    """One week, month or year: the matching articles dated in it, per language and per outlet."""

    label: str  # 2024-03, 2024-W09, 2024
    start: str  # first day, YYYY-MM-DD
    end: str  # last day
    count: int
    langs: tuple[tuple[str, int], ...]
    sources: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Coverage:
    """Every article matching a query above the floor, counted by period, outlet and language."""

    period: str
    articles: int
    undated: int
    buckets: tuple[Bucket, ...]
    sources: tuple[tuple[str, int], ...]  # most articles first
    langs: tuple[tuple[str, int], ...]
    capped: bool
    # Who the matching passages and sentences quote (``indexer.speakers``): articles per speaker, most first.
    speakers: tuple[tuple[str, int], ...] = ()


def coverage(
    searcher: Searcher,
    query: str,
    *,
    mode: str = "hybrid",
    lang: str | None = None,
    sources: Sequence[str] | None = None,
    date_from: object = None,
    date_to: object = None,
    period: str = "month",
    speaker: str | None = None,
) -> Coverage:
    """The coverage of ``query`` under the same options as ``Searcher.results``; ``speaker``: only what quotes
    them."""
    if mode not in MODES:
        raise BadQuery(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if period not in PERIODS:
        raise BadQuery(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
    parsed = parse_query(query)
    filters = Filters.make(lang, sources, date_from, date_to, speaker)
    articles: set[str] = set()
    said: dict[str, set[str]] = {}  # speaker key: articles
    names: Counter = Counter()  # (key, spelling): how often
    capped = False
    retrieval = searcher.retrieval
    with retrieval.snapshot():
        retrieval.refresh()
        if parsed.empty:
            return _count(retrieval.article_facts([]), period, capped)
        if mode != "semantic" and (parsed.stems or parsed.phrases):
            found = retrieval.matching(parsed.stems, parsed.phrases, filters.by_article, MAX_PASSAGES)
            capped = len(found) >= MAX_PASSAGES
            if filters.speaker is not None:
                quoted = set(retrieval.allowed(filters).tolist())
                found = {p: a for p, a in found.items() if p in quoted}
            articles.update(found.values())
            for passage, quotes in retrieval.passage_speakers(sorted(found)).items():
                for key, name in quotes:
                    if filters.speaker is None or names_match(key, filters.speaker):
                        said.setdefault(key, set()).add(found[passage])
                        names[(key, name)] += 1
        if mode != "lexical":
            use = searcher.query_vectors(parsed.text)[1]
            k = FIRST_SENTENCES
            while True:
                near = retrieval.nearest_sentences(use, k, filters)
                passing = [s for s, similarity in near if similarity >= FLOOR]
                if len(passing) < len(near) or len(near) < k or k >= MAX_SENTENCES:
                    break
                k = min(4 * k, MAX_SENTENCES)
            capped = capped or (len(passing) >= MAX_SENTENCES)
            passing += _by_clauses(searcher, near, use)
            passing = [s for s in passing if not parsed.phrases or s.lang != parsed.lang]
            articles.update(s.article_id for s in passing)
            quoting = retrieval.sentence_speakers([s.id for s in passing])
            for sentence in passing:
                if sentence.id in quoting:
                    key, name = quoting[sentence.id]
                    said.setdefault(key, set()).add(sentence.article_id)
                    names[(key, name)] += 1
        found = _count(retrieval.article_facts(sorted(articles)), period, capped)
        return replace(found, speakers=_speakers(said, names))


def _speakers(said: dict[str, set[str]], names: Counter) -> tuple[tuple[str, int], ...]:
    """Articles per speaker, each under its most frequent spelling, most articles first."""
    spelling: dict[str, str] = {}
    for (key, name), _ in names.most_common():
        spelling.setdefault(key, name)
    ranked = sorted(said.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_SPEAKERS]
    return tuple((spelling[key], len(members)) for key, members in ranked)


def _by_clauses(searcher: Searcher, near: list[tuple[StoredSentence, float]], use: np.ndarray) -> list:
    """Of the ``CLAUSE_CANDIDATES`` nearest sentences below the floor, those a run of whose clauses passes it: a
    quote often renders part of a sentence, and the quote checker counts such a run (``quotes.meanings``)."""
    below = [s for s, similarity in near[:CLAUSE_CANDIDATES] if similarity < FLOOR]
    texts = {a.id: a.text for a in searcher.retrieval.articles([s.article_id for s in below]).values()}
    runs = [
        (s, a, b) for s in below if s.article_id in texts for a, b in clause_runs(texts[s.article_id], s.start, s.end)
    ]
    if not runs:
        return []
    vectors = searcher.sentence_encoder.encode([texts[s.article_id][a:b] for s, a, b in runs])
    return [s for (s, _, _), similarity in zip(runs, (vectors @ use).tolist(), strict=True) if similarity >= FLOOR]


def _count(facts: dict[str, tuple[str | None, str | None, str]], period: str, capped: bool) -> Coverage:
    by_period: dict[dt.date, list[tuple[str | None, str]]] = {}
    undated = 0
    for date, source, lang in facts.values():
        day = _day(date)
        if day is None:
            undated += 1
            continue
        by_period.setdefault(period_start(day, period), []).append((source, lang))
    starts = sorted(by_period)
    if starts:
        filled = _periods(starts[0], starts[-1], period)
        if len(filled) <= MAX_EMPTY_PERIODS:
            starts = filled
    buckets = []
    for start in starts:
        members = by_period.get(start, [])
        buckets.append(Bucket(
            label=period_label(start, period),
            start=start.isoformat(),
            end=period_end(start, period).isoformat(),
            count=len(members),
            langs=tuple(sorted(Counter(lang for _, lang in members).items())),
            sources=_ranked(Counter(source or "" for source, _ in members)),
        ))  # fmt: skip
    return Coverage(
        period=period,
        articles=len(facts),
        undated=undated,
        buckets=tuple(buckets),
        sources=_ranked(Counter(source or "" for _, source, _ in facts.values())),
        langs=tuple(sorted(Counter(lang for _, _, lang in facts.values()).items())),
        capped=capped,
    )


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the week (Monday), month or year holding ``day``."""
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def period_end(start: dt.date, period: str) -> dt.date:
    """The last day of the period that begins on ``start``."""
    return _next(start, period) - dt.timedelta(days=1)


def period_label(start: dt.date, period: str) -> str:
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return start.strftime("%Y-%m")
    return str(start.year)


def facet_names(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``date,source,lang`` (comma-separated, or repeated) as facet names, checked; empty: none asked for."""
    if text is None:
        return ()
    parts = [text] if isinstance(text, str) else list(text)
    names = [n.strip() for part in parts for n in part.split(",") if n.strip()]
    unknown = [n for n in names if n not in FACETS]
    if unknown:
        raise BadQuery(f"unknown facet {unknown[0]!r}: use any of {', '.join(FACETS)}")
    return tuple(dict.fromkeys(names))


def coverage_json(found: Coverage, facets: Sequence[str]) -> dict[str, object]:
    """The counts the ``facets`` name, as ``sahafa search --json`` and ``GET /search`` return them."""
    line: dict[str, object] = {"floor": FLOOR_TEXT, "articles": found.articles, "capped": found.capped}
    if "date" in facets:
        line["date"] = {
            "period": found.period,
            "undated": found.undated,
            "buckets": [
                {"label": b.label, "start": b.start, "end": b.end, "count": b.count, "lang": dict(b.langs),
                 "source": dict(b.sources)}
                for b in found.buckets
            ],
        }  # fmt: skip
    if "source" in facets:
        line["source"] = dict(found.sources)
    if "lang" in facets:
        line["lang"] = dict(found.langs)
    if "speaker" in facets:
        line["speaker"] = dict(found.speakers)
    return line


def coverage_text(found: Coverage, facets: Sequence[str]) -> list[str]:
    """The same counts as lines for a terminal."""
    bound = " (at least: a cap was reached)" if found.capped else ""
    lines = [f"coverage: {found.articles} matching article(s){bound}; {FLOOR_TEXT}"]
    if "lang" in facets:
        lines.append("  by language: " + (_pairs(found.langs) or "-"))
    if "source" in facets:
        lines.append("  by outlet: " + (_pairs(found.sources) or "-"))
    if "speaker" in facets:
        lines.append("  by speaker: " + (_pairs(found.speakers) or "-"))
    if "date" in facets:
        lines.append(f"  by {found.period} ({found.undated} undated):")
        lines += [f"    {b.label}  {b.count:>5}  {_pairs(b.langs)}" for b in found.buckets if b.count]
    return lines


def _pairs(pairs: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{name or '(no outlet)'} {n}" for name, n in pairs)


def _ranked(counts: Counter) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _day(value: str | None) -> dt.date | None:
    try:
        day = dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        return None
    return day if day.year < dt.MAXYEAR else None  # the last year has no next period to end it


def _next(start: dt.date, period: str) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


def _periods(first: dt.date, last: dt.date, period: str) -> list[dt.date]:
    """Every period start from ``first`` to ``last``, stopping once past ``MAX_EMPTY_PERIODS`` of them."""
    found = [first]
    while found[-1] < last and len(found) <= MAX_EMPTY_PERIODS:
        found.append(_next(found[-1], period))
    return found
