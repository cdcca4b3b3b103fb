"""Highlights on the original article text, and their HTML rendering.

Query words are found on the normalised, stemmed form of a passage and mapped back through the
normaliser's offset map, so a mark covers the original word with its diacritics. Rendering escapes
the article text first and only then inserts ``<mark>`` elements.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from indexer.normalize import CHUNK, Word, chunk_words, original_words
from indexer.passages import sentences
from indexer.records import Hit, Span
from search_app.inert import escape
from search_app.query import ParsedQuery

MARK_CLASS = {"term": "sahafa-term", "phrase": "sahafa-term", "sentence": "sahafa-sentence"}


def term_spans(text: str, start: int, end: int, query: ParsedQuery) -> list[Span]:
    """Spans of ``text[start:end]`` whose words match the query's terms (by stem) or phrases."""
    stems, terms = set(query.stems), set(query.terms)
    spans = []
    for match in CHUNK.finditer(text, start, end):  # the words of original_words, without building them all
        for form, stem, a, b in chunk_words(match.group()):
            if stem in stems or form in terms:
                spans.append(Span(match.start() + a, match.start() + b, "term"))
    if query.phrases:
        words = original_words(text, start, end)
        for phrase in query.phrases:
            spans += _phrase_spans(words, phrase)
    return sorted(spans, key=lambda s: (s.start, s.end))


def phrase_spans(text: str, start: int, end: int, phrase: Sequence[str]) -> list[Span]:
    """Spans of ``text[start:end]`` where the normalised words ``phrase`` occur in order."""
    return _phrase_spans(original_words(text, start, end), tuple(phrase))


def _phrase_spans(words: list[Word], phrase: tuple[str, ...]) -> list[Span]:
    n = len(phrase)
    if not n:
        return []
    forms = [w.text for w in words]
    return [
        Span(words[i].start, words[i + n - 1].end, "phrase")
        for i in range(len(forms) - n + 1)
        if forms[i] == phrase[0] and tuple(forms[i : i + n]) == phrase
    ]


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
        piece = escape(text[a:b])
        kinds = sorted({s.kind for s in inside if s.start <= a and s.end >= b}, key=_nesting)
        for kind in reversed(kinds):
            piece = f'<mark class="{MARK_CLASS.get(kind, "sahafa-term")}">{piece}</mark>'
        out.append(piece)
    return "".join(out)


def _nesting(kind: str) -> int:
    return 0 if kind == "sentence" else 1
