"""Highlights on the original article text, and their HTML rendering.

Query words are found on the normalised, stemmed form of a passage and mapped back through the
normaliser's offset map, so a mark covers the original word with its diacritics. Rendering escapes
the article text first and only then inserts ``<mark>`` elements.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from indexer.normalize import Normalized, Token, normalize, tokens
from indexer.passages import sentences
from indexer.records import Hit, Span
from search_app.query import ParsedQuery

MARK_CLASS = {"term": "sahafa-term", "phrase": "sahafa-term", "sentence": "sahafa-sentence"}


def term_spans(text: str, start: int, end: int, query: ParsedQuery) -> list[Span]:
    """Spans of ``text[start:end]`` whose words match the query's terms (by stem) or phrases."""
    norm = normalize(text[start:end])
    words = tokens(norm.text)
    stems, terms = set(query.stems), set(query.terms)
    spans: list[Span] = []
    for word in words:
        if word.stem in stems or word.text in terms:
            a, b = norm.original_span(word.start, word.end)
            spans.append(Span(start + a, start + b, "term"))
    for phrase in query.phrases:
        spans += _phrase_spans(norm, words, start, phrase)
    return sorted(spans, key=lambda s: (s.start, s.end))


def phrase_spans(text: str, start: int, end: int, phrase: Sequence[str]) -> list[Span]:
    """Spans of ``text[start:end]`` where the normalised words ``phrase`` occur in order."""
    norm = normalize(text[start:end])
    return _phrase_spans(norm, tokens(norm.text), start, tuple(phrase))


def _phrase_spans(norm: Normalized, words: list[Token], start: int, phrase: tuple[str, ...]) -> list[Span]:
    forms = [w.text for w in words]
    spans = []
    n = len(phrase)
    for i in range(len(forms) - n + 1) if n else ():
        if tuple(forms[i : i + n]) == phrase:
            a, _ = norm.original_span(words[i].start, words[i].end)
            _, b = norm.original_span(words[i + n - 1].start, words[i + n - 1].end)
            spans.append(Span(start + a, start + b, "phrase"))
    return spans


def sentence_units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as absolute offsets."""
    return [(start + a, start + b) for a, b in sentences(text[start:end])]


def render_html(hit: Hit, passage: int = 0, *, full: bool = False, extra: Iterable[Span] = ()) -> str:
    """An escaped, highlighted snippet (one passage) or the whole article (``full=True``) as HTML."""
    chosen = hit.passages[passage] if hit.passages else None
    if full or chosen is None:
        start, end = 0, len(hit.text)
        spans = [s for p in hit.passages for s in p.spans]
    else:
        start, end = chosen.start, chosen.end
        spans = list(chosen.spans)
    body = mark(hit.text, start, end, [*spans, *extra])
    if not full:
        body = ("… " if start > 0 else "") + body + (" …" if end < len(hit.text) else "")
    return (
        f'<div class="sahafa-text" dir="auto" lang="{html.escape(hit.lang)}" '
        f'style="text-align: start; unicode-bidi: plaintext; white-space: pre-wrap">{body}</div>'
    )


def mark(text: str, start: int, end: int, spans: Sequence[Span]) -> str:
    """Escape ``text[start:end]`` and wrap the spans in ``<mark>``; overlapping spans nest by kind."""
    inside = [s for s in spans if s.end > start and s.start < end and s.end > s.start]
    cuts = sorted({start, end, *(max(s.start, start) for s in inside), *(min(s.end, end) for s in inside)})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = html.escape(text[a:b])
        kinds = sorted({s.kind for s in inside if s.start <= a and s.end >= b}, key=_nesting)
        for kind in reversed(kinds):
            piece = f'<mark class="{MARK_CLASS.get(kind, "sahafa-term")}">{piece}</mark>'
        out.append(piece)
    return "".join(out)


def _nesting(kind: str) -> int:
    return 0 if kind == "sentence" else 1
