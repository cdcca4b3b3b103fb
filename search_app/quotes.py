"""Quote checking: did somebody say this, where, when, and in which exact words?

Verdicts, strongest first: ``verbatim`` (the exact wording is in an article), ``normalised`` (the same
words once diacritics, hamza/alef, ى/ي, ة/ه, digits, case and punctuation are folded), ``close`` (most
words in order, some changed: the differences are listed word by word), ``translation`` (a sentence in
the other language says the same: its USE cosine with the quote passes TRANSLATION_THRESHOLD),
``paraphrase`` (a sentence in the quote's language with the same meaning in other words, same
threshold) and ``not found``. Sentences come from the sentence index: no encoder call but the quote's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from indexer.normalize import Normalized, Token, normalize, tokens
from indexer.records import Article, Hit
from search_app.query import SURROGATE, parse_query
from search_app.search import Searcher
from search_app.timeline import Timeline, timeline

VERDICTS = ("verbatim", "normalised", "close", "translation", "paraphrase", "not found")
CLOSE_MIN_SHARE = 0.6  # share of the quote's words that must appear, in order, for "close"
# USE cosine of quote and sentence; calibrated on XQuAD sentences against their translations in a corpus with
# all of news-dev (python -m bench.xling --calibrate; README). Paraphrases have no labelled set of their own:
# the same line is used, since a translation is the paraphrase a multilingual encoder knows best.
TRANSLATION_THRESHOLD = 0.65
PARAPHRASE_THRESHOLD = TRANSLATION_THRESHOLD
MEANING_CANDIDATES = 50  # nearest sentences looked at for translation and paraphrase
CLAUSE_CANDIDATES = 10  # of which this many also have their runs of clauses embedded
MAX_CLAUSES = 6
CLAUSE = re.compile(r"[,،;؛:]\s+")
CANDIDATE_ARTICLES = 20
# The normalised and close verdicts look at the candidate passages of each article, widened by the quote's length
# and this many characters on each side, not at whole articles: a request costs the same for a 2 MB article.
REGION_MARGIN = 400
WINDOW_CANDIDATES = 256  # most article windows aligned word by word with the quote (see _best_window)
QUOTE_MARKS = '"“”«»„'
MAX_QUOTE_WORDS = 200
MAX_QUOTE_CHARS = 4_000  # longest quote the API and batch checks accept


@dataclass(frozen=True)
class WordDiff:
    """One step of the word-by-word comparison of quote and source: ``equal``; ``replace`` (the quote has other
    words there); ``missing`` (the quote's words are missing from the source); ``extra`` (source words that the
    quote leaves out)."""

    op: str
    quote: str  # the quote's words (empty for "extra")
    source: str  # the article's original words (empty for "missing")


@dataclass(frozen=True)
class QuoteMatch:
    """Where a quote (or its nearest wording) appears, with the exact span in the article's text."""

    verdict: str
    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    lang: str
    start: int
    end: int
    text: str  # the article's original words at [start, end)
    similarity: float  # share of words matched (lexical verdicts) or cosine (paraphrase)
    diff: tuple[WordDiff, ...] = ()
    speaker: str | None = None  # who the article says said it (``indexer.speakers``), when it says
    speaker_title: str | None = None


@dataclass(frozen=True)
class QuoteCheck:
    """The verdict for a quote and the evidence: matches, strongest verdict first, earliest date first; and the
    timeline of every article found to carry its words (``search_app.timeline``), not only the first ``limit``."""

    quote: str
    verdict: str
    matches: tuple[QuoteMatch, ...]
    timeline: Timeline = field(default_factory=Timeline)


def check_quote(searcher: Searcher, quote: str, *, limit: int = 10) -> QuoteCheck:
    """Check ``quote`` against every article of the searcher's index."""
    raw = SURROGATE.sub("\ufffd", quote or "").strip()
    text = raw.strip(QUOTE_MARKS + "'").strip()  # the quote marks a user pasted around it
    parsed = parse_query(re.sub(f"[{QUOTE_MARKS}]", " ", text))  # words, not phrases: inner quotes may differ
    if parsed.empty or not tokens(normalize(parsed.text).text):
        return QuoteCheck(quote, "not found", ())
    quote_words = _words(normalize(parsed.text))[:MAX_QUOTE_WORDS]
    hits = searcher.search(parsed.text, k=CANDIDATE_ARTICLES, explain=0, all_copies=True)
    exact = tuple(dict.fromkeys([raw, text]))
    margin = len(text) + REGION_MARGIN
    matches = []
    for hit in hits:
        article = searcher.retrieval.article(hit.article_id)
        match = article and _lexical_match(article, _regions(hit, margin), exact, quote_words)
        if match:
            matches.append(match)
    matches += _in_copies(searcher, hits, {m.article_id for m in matches}, exact, quote_words)
    if not any(m.verdict in ("verbatim", "normalised") for m in matches):
        matches += _meaning_matches(searcher, parsed.text, parsed.lang, {m.article_id for m in matches})
    matches = [_with_speaker(searcher, m) for m in matches]
    matches.sort(key=lambda m: (VERDICTS.index(m.verdict), m.date is None, m.date or "", -m.similarity))
    verdict = matches[0].verdict if matches else "not found"
    return QuoteCheck(quote, verdict, tuple(matches[:limit]), timeline(matches))


def _with_speaker(searcher: Searcher, match: QuoteMatch) -> QuoteMatch:
    """The match with the speaker of the first attributed sentence it overlaps, if any."""
    said = searcher.retrieval.speakers_between(match.article_id, match.start, match.end)
    return replace(match, speaker=said[0].speaker, speaker_title=said[0].title) if said else match


def _in_copies(
    searcher: Searcher, hits: Sequence[Hit], found: set[str], exact: Sequence[str], quote_words: list[tuple[str, str]]
) -> list[QuoteMatch]:
    """Lexical matches in the syndicated copies of the articles found to carry the quote that the search did not
    reach (a story re-run by thirty outlets fills the candidates with a few of them), each copy read whole."""
    reached = {h.article_id for h in hits}
    copies = sorted({c.article_id for h in hits if h.article_id in found for c in h.copies} - reached)
    articles = searcher.retrieval.articles(copies)
    matches = [_lexical_match(articles[a], [(0, len(articles[a].text))], exact, quote_words) for a in articles]
    return [m for m in matches if m]


def _meaning_matches(searcher: Searcher, text: str, lang: str, seen: set[str]) -> list[QuoteMatch]:
    """``translation`` / ``paraphrase``: the best sentence (or clauses) of each article whose meaning passes the
    threshold, earliest first among equals."""
    found: list[QuoteMatch] = []
    for meaning in meanings(searcher, text):
        translated = meaning.lang != lang
        if meaning.article.id in seen or meaning.similarity < (
            TRANSLATION_THRESHOLD if translated else PARAPHRASE_THRESHOLD
        ):
            continue
        seen.add(meaning.article.id)
        verdict = "translation" if translated else "paraphrase"
        found.append(_match(verdict, meaning.article, meaning.start, meaning.end, meaning.similarity))
    return found


@dataclass(frozen=True)
class Meaning:
    """A sentence, or a run of its clauses, and its USE cosine with a quote."""

    article: Article
    start: int
    end: int
    lang: str
    similarity: float


def meanings(searcher: Searcher, text: str) -> list[Meaning]:
    """The sentences nearest the quote in meaning, best first; for the ``CLAUSE_CANDIDATES`` nearest, a run of
    clauses counts when it is nearer than the whole sentence (a quote often renders part of a sentence)."""
    nearest = searcher.nearest_sentences(text, MEANING_CANDIDATES)
    articles = searcher.retrieval.articles(list({s.article_id for s, _ in nearest}))
    found = [
        Meaning(articles[s.article_id], s.start, s.end, s.lang, sim) for s, sim in nearest if s.article_id in articles
    ]
    runs = [
        (i, a, b)
        for i, m in enumerate(found[:CLAUSE_CANDIDATES])
        for a, b in clause_runs(m.article.text, m.start, m.end)
    ]
    if runs:
        vectors = searcher.sentence_encoder.encode([found[i].article.text[a:b] for i, a, b in runs])
        for (i, a, b), similarity in zip(runs, (vectors @ searcher.sentence_query_vector(text)).tolist(), strict=True):
            if similarity > found[i].similarity:
                found[i] = replace(found[i], start=a, end=b, similarity=similarity)
    return sorted(found, key=lambda m: -m.similarity)


def clause_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Runs of consecutive clauses (cut at commas, semicolons and colons) of ``text[start:end]``, the whole
    sentence left out; at most ``MAX_CLAUSES`` clauses, so the number of runs stays small."""
    cuts = [start] + [m.end() for m in CLAUSE.finditer(text, start, end)][: MAX_CLAUSES - 1] + [end]
    runs = []
    for i in range(len(cuts) - 1):
        for j in range(i + 1, len(cuts)):
            a, b = cuts[i], cuts[j]
            piece = text[a:b].rstrip(" ,،;؛:")
            if (i, j) != (0, len(cuts) - 1) and len(piece.split()) >= 4:
                runs.append((a, a + len(piece)))
    return runs


def _match(
    verdict: str, article: Article, start: int, end: int, similarity: float, diff: Sequence[WordDiff] = ()
) -> QuoteMatch:
    return QuoteMatch(
        verdict,
        article.id,
        article.title,
        article.source,
        article.date,
        article.url,
        article.lang,
        start,
        end,
        article.text[start:end],
        round(float(similarity), 4),
        tuple(diff),
    )


def _words(norm: Normalized) -> list[tuple[str, str]]:
    """(normalised form, original spelling) of each word."""
    return _words_at(norm, tokens(norm.text))


def _regions(hit: Hit, margin: int) -> list[tuple[int, int]]:
    """The hit's passages widened by ``margin`` characters on each side, merged where they touch."""
    spans = sorted((max(0, p.start - margin), min(len(hit.text), p.end + margin)) for p in hit.passages)
    merged: list[tuple[int, int]] = []
    for a, b in spans or [(0, min(len(hit.text), margin))]:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _lexical_match(
    article: Article, regions: Sequence[tuple[int, int]], exact: Sequence[str], quote_words: list[tuple[str, str]]
) -> QuoteMatch | None:
    """verbatim (any of the ``exact`` strings, anywhere in the article), else the normalised or close match of
    the quote within ``regions`` of the article text, or None."""
    for quote in exact:
        at = article.text.find(quote)
        if at >= 0:
            return _match("verbatim", article, at, at + len(quote), 1.0)
    n = len(quote_words)
    quote_forms = [form for form, _ in quote_words]
    best: tuple[int, int, int, int, Normalized, list[Token]] | None = None
    for start, end in regions:
        norm = normalize(article.text[start:end])
        words = tokens(norm.text)
        found = _best_window([w.text for w in words], quote_forms)
        if found and (best is None or (found[2], found[0] - found[1]) > (best[2], best[0] - best[1])):
            best = (*found, start, norm, words)
    if best is None:
        return None
    i, j, matched, offset, norm, words = best
    a, _ = norm.original_span(words[i].start, words[i].end)
    _, b = norm.original_span(words[j - 1].start, words[j - 1].end)
    if matched == n and j - i == n:
        return _match("normalised", article, offset + a, offset + b, 1.0)
    if matched / n >= CLOSE_MIN_SHARE and n >= 3:
        diff = _diff(quote_words, norm, words[i:j])
        return _match("close", article, offset + a, offset + b, matched / n, diff)
    return None


def _best_window(forms: Sequence[str], quote: Sequence[str]) -> tuple[int, int, int] | None:
    """(start, end, matched words) of the article window that best aligns with the quote's words, in order.

    Every window of ``len(quote)`` + slack words is scored in one pass by how many of the quote's words it
    holds in any order (a sliding multiset count): an upper bound on the in-order match. Windows are then
    aligned word by word, best bound first, until no remaining bound can beat the best alignment found. So
    the answer is exact, wherever the quote sits, in time linear in the article plus a few alignments; only
    text built to defeat it (hundreds of windows holding the quote's words in the wrong order) reaches the cap
    of WINDOW_CANDIDATES alignments, and then gets the best of those.
    """
    n = len(quote)
    width = n + max(2, n // 4)
    bounds = _window_bounds(forms, Counter(quote), width)
    order = sorted((-bound, start) for start, bound in enumerate(bounds) if bound)
    best: tuple[int, int, int] | None = None
    for negative, start in order[:WINDOW_CANDIDATES]:
        if best is not None and -negative < best[2]:
            break
        window = forms[start : start + width]
        blocks = [b for b in SequenceMatcher(None, quote, window, autojunk=False).get_matching_blocks() if b.size]
        matched = sum(b.size for b in blocks)
        lo, hi = start + blocks[0].b, start + blocks[-1].b + blocks[-1].size
        if best is None or (matched, -(hi - lo)) > (best[2], -(best[1] - best[0])):
            best = (lo, hi, matched)
    return best


def _window_bounds(forms: Sequence[str], need: Counter[str], width: int) -> list[int]:
    """For each start, how many of the ``need`` words (with multiplicity) ``forms[start:start + width]`` holds;
    every start, the last ones' windows cut short by the end of the text (SequenceMatcher's alignment is
    greedy, so a shorter window can align more words than the full one that contains it)."""
    have: Counter[str] = Counter()
    held = 0
    bounds = []
    for i, form in enumerate(forms):
        if form in need:
            have[form] += 1
            held += have[form] <= need[form]
        if i >= width:
            old = forms[i - width]
            if old in need:
                held -= have[old] <= need[old]
                have[old] -= 1
        if i >= width - 1:
            bounds.append(held)
    if not bounds:  # a text shorter than one window: its start
        bounds.append(held)
    for start in range(len(bounds), len(forms)):  # the shorter windows at the end, which can align better
        old = forms[start - 1]
        if old in need:
            held -= have[old] <= need[old]
            have[old] -= 1
        bounds.append(held)
    return bounds


def _diff(quote: Sequence[tuple[str, str]], norm: Normalized, words: Sequence[Token]) -> list[WordDiff]:
    """Word-by-word differences between the quote and the article, both shown in their own spelling."""
    theirs = _words_at(norm, words)
    steps = []
    matcher = SequenceMatcher(None, [f for f, _ in quote], [f for f, _ in theirs], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        name = {"equal": "equal", "replace": "replace", "delete": "missing", "insert": "extra"}[op]
        steps.append(WordDiff(name, " ".join(o for _, o in quote[i1:i2]), " ".join(o for _, o in theirs[j1:j2])))
    return steps


def _words_at(norm: Normalized, words: Sequence[Token]) -> list[tuple[str, str]]:
    return [(w.text, norm.original[slice(*norm.original_span(w.start, w.end))]) for w in words]
