"""Parsing user queries into safe lexical terms, quoted phrases and a language.

User text never reaches a retrieval engine's query syntax as typed: it is normalised and split into words with
the same tokenizer as the index, and ``indexer.retrieval`` quotes every word it is given, so operators (``AND``,
``NEAR``, ``*``, ``-``, ``:``, parentheses) in a query are just words or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.lang import detect_lang
from indexer.normalize import normalize_text, strip_controls, tokens

MAX_QUERY_CHARS = 2000  # what is kept of a query at all; the encoder caps its own input too
MAX_TERMS = 64
MAX_QUOTE_WORDS = 200  # words of a pasted quote that the containment check looks for
# Straight, curly and guillemet quotes all delimit an exact phrase.
PHRASE = re.compile(r"[\"“”«»„]([^\"“”«»„]+)[\"“”«»„]")
# Compared with normalised words, so normalised the same way (ى → ي: "على" is "علي" there).
STOPWORDS = frozenset(
    normalize_text(word)
    for word in "the a an of in on at to and or for is are was were be by with from that this as it its into than "
    "what which who whom when where why how did does do "
    "في من على الى إلى عن ان أن إن او أو ما ماذا هل لم لن مع هذا هذه ذلك التي الذي كان كانت و".split()
)


@dataclass(frozen=True)
class ParsedQuery:
    """A query ready for both retrievers."""

    text: str  # what the encoder sees (controls removed, length capped)
    lang: str
    terms: tuple[str, ...]  # normalised words outside phrases, stopwords dropped
    stems: tuple[str, ...]  # their stems, deduplicated, in order
    phrases: tuple[tuple[str, ...], ...]  # normalised word sequences that must appear as typed
    words: tuple[str, ...] = ()  # every normalised word of the query in order, stopwords and phrases included

    @property
    def empty(self) -> bool:
        return not self.text.strip()



SURROGATE = re.compile("[\ud800-\udfff]")


def parse_query(raw: str, *, lang: str | None = None) -> ParsedQuery:
    """Split ``raw`` into phrases and terms; detect its language unless ``lang`` is given."""
    # A lone surrogate (JSON's "\\ud800") is no character: no tokenizer or UTF-8 store accepts it.
    text = SURROGATE.sub("\ufffd", strip_controls(raw or "")[:MAX_QUERY_CHARS]).strip()
    phrases = []
    for match in PHRASE.finditer(text):
        words = tuple(t.text for t in tokens(normalize_text(match.group(1))))[:MAX_TERMS]
        if words:
            phrases.append(words)
    rest = PHRASE.sub(" ", text)
    words = [t for t in tokens(normalize_text(rest)) if t.text not in STOPWORDS][:MAX_TERMS]
    if not words and not phrases:  # a query of stopwords only still searches for them
        words = tokens(normalize_text(rest))[:MAX_TERMS]
    stems = tuple(dict.fromkeys(t.stem for t in words if t.stem))
    return ParsedQuery(
        text=text,
        lang=lang or detect_lang(text),
        terms=tuple(t.text for t in words),
        stems=stems,
        phrases=tuple(phrases),
        words=tuple(t.text for t in tokens(normalize_text(text)))[:MAX_QUOTE_WORDS],
    )
