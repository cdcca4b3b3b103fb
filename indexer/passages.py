"""Sentence-aware passages that keep their character offsets into the original article text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from indexer.records import Article, Passage

# A sentence ends at . ? ! ؟ ؛ … (possibly repeated, possibly followed by closing quotes or brackets)
# when whitespace or the end of the text follows, or at a line break. "3.5", "U.S." and "www.x.com"
# do not end sentences because no whitespace follows the dot.
# The run of marks is matched whole from its first mark only (lookbehind, possessive), so a long run of dots
# costs its length once, not its length squared.
SENTENCE_END = re.compile(r"""(?<![.!?؟؛…])(?:[.!?؟؛…]++["'»”’)\]]*+)(?=\s|$)|\n""")
WORD = re.compile(r"\S+")
# English abbreviations after which a dot does not end a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt jr sr inc ltd co corp gen gov sen rep col lt capt sgt no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e".split()
)
MAX_ABBREVIATION = 8  # longer than any abbreviation above with its opening bracket or quotes


@dataclass(frozen=True)
class PassageSettings:
    """How articles are cut into passages; recorded in the index's config.json."""

    min_words: int = 60
    max_words: int = 160
    overlap_sentences: int = 1


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the word just before ``text[dot]`` is an abbreviation; looks back over that word only."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and dot - start <= MAX_ABBREVIATION:
        start -= 1
    return text[start:dot].lower().lstrip("(\"'«") in ABBREVIATIONS


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, whitespace trimmed; together they cover every word."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        if match.group() != "\n" and match.group()[0] == "." and _is_abbreviation(text, match.start()):
            continue
        spans.extend(_trimmed(text, start, match.end()))
        start = match.end()
    spans.extend(_trimmed(text, start, len(text)))
    return spans


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    words = list(WORD.finditer(text, start, end))
    return [(words[0].start(), words[-1].end())] if words else []


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text, start, end)]


def _units(text: str, max_words: int) -> Iterator[tuple[int, int, int]]:
    """Sentences as (start, end, words); a sentence longer than ``max_words`` is cut at word bounds."""
    for start, end in sentences(text):
        words = _word_spans(text, start, end)
        for i in range(0, len(words), max_words):
            chunk = words[i : i + max_words]
            yield chunk[0][0], chunk[-1][1], len(chunk)


def split_passages(article: Article, settings: PassageSettings | None = None) -> list[Passage]:
    """Cut an article into passages of about ``min_words``–``max_words`` words.

    Sentences are packed greedily up to ``max_words``; each new passage repeats the last
    ``overlap_sentences`` sentence(s) of the one before. A tail shorter than ``min_words`` joins the
    previous passage while that stays under ``max_words + min_words // 2`` words.
    """
    settings = settings or PassageSettings()
    text = article.text
    units = list(_units(text, settings.max_words))
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    for unit in units:
        words = sum(u[2] for u in current)
        if current and words + unit[2] > settings.max_words and words >= settings.min_words // 2:
            groups.append(current)
            # The overlap is never the whole previous passage (starts must advance), and never makes
            # the next passage overflow on its own.
            keep = current[len(current) - min(settings.overlap_sentences, len(current) - 1) :]
            while keep and sum(u[2] for u in keep) + unit[2] > settings.max_words:
                keep = keep[1:]
            current = keep
        current.append(unit)
    if current and groups:
        fresh = [u for u in current if u not in groups[-1]]
        short = sum(u[2] for u in current) < settings.min_words
        merged = sum(u[2] for u in groups[-1]) + sum(u[2] for u in fresh)
        if short and merged <= settings.max_words + settings.min_words // 2:
            groups[-1].extend(fresh)
            current = []
    if current:
        groups.append(current)
    return [
        Passage(article.id, i, group[0][0], group[-1][1], text[group[0][0] : group[-1][1]])
        for i, group in enumerate(groups)
    ]
