"""The nouns shared by the indexer and the search app: small frozen dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

HEADING_CHARS = 120


def heading(title: str, fallback: str) -> str:
    """A title as one line: ``fallback`` when empty, shortened with … past HEADING_CHARS characters."""
    line = " ".join(title.split()) or fallback
    return line if len(line) <= HEADING_CHARS else line[: HEADING_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Article:
    """One press article as read from a source, with its original text untouched."""

    id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO 8601 (YYYY-MM-DD or full timestamp), or None
    source: str | None = None  # the outlet
    lang: str = "ar"  # "ar" or "en"
    url: str | None = None
    origin: str = ""  # where it was read from: "file:line" or a path
    author: str | None = None  # the byline: a feed's author, an HTML page's author, a record's "author" field
    dateline: str | None = None  # the place-and-credit line that opens the text ("دبي، الإمارات (CNN)--")


@dataclass(frozen=True)
class Passage:
    """A sentence-aligned slice of an article: ``article.text[start:end]``."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Span:
    """A highlight on the original article text. ``kind`` is "term", "phrase" or "sentence"."""

    start: int
    end: int
    kind: str = "term"


@dataclass(frozen=True)
class PassageHit:
    """One retrieved passage of an article, with its score and highlights."""

    passage_id: int
    start: int
    end: int
    score: float
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Copy:
    """Another article of a hit's syndication cluster: the same story, re-run (``indexer.syndication``)."""

    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    lang: str


COPIES_LISTED = 50  # copies listed per hit: a wire story re-run by hundreds of outlets costs what 50 cost


def shortlist(copies: Sequence[Copy], limit: int = COPIES_LISTED) -> list[Copy]:
    """The copies a hit lists, from all of them sorted earliest dated first (undated last): the first ``limit``,
    and beyond those the earliest of every outlet not yet listed, so that ``also_in`` still names every outlet."""
    listed = list(copies[:limit])
    outlets = {c.source for c in listed}
    for copy in copies[limit:]:
        if copy.source not in outlets:
            outlets.add(copy.source)
            listed.append(copy)
    return listed


@dataclass(frozen=True)
class Hit:
    """A search result: an article and its best-matching passages, best first."""

    article_id: str
    title: str
    source: str | None
    date: str | None
    lang: str
    url: str | None
    text: str  # the article's original text; passage offsets and spans point into it
    score: float
    passages: tuple[PassageHit, ...] = field(default_factory=tuple)
    author: str | None = None
    dateline: str | None = None
    copies: tuple[Copy, ...] = ()  # the rest of its syndication cluster, earliest dated first (``shortlist``)
    copy_count: int | None = None  # how many copies the cluster holds besides this one (None: ``len(copies)``)
    speakers: tuple[str, ...] = ()  # who its best passage quotes (``indexer.speakers``), in text order

    @property
    def also_in(self) -> list[str]:
        """The other outlets that ran this story (its copies' outlets but its own), in order of first date."""
        return list(dict.fromkeys(c.source for c in self.copies if c.source and c.source != self.source))

    @property
    def first_published(self) -> Copy | None:
        """The earliest dated of the hit and its copies (None when it has no copies or none is dated)."""
        dated = [c for c in (self.as_copy(), *self.copies) if c.date]
        return min(dated, key=lambda c: (c.date, c.article_id)) if self.copies and dated else None

    @property
    def copies_total(self) -> int:
        """How many other articles of its cluster there are: ``copies`` lists at most ``COPIES_LISTED`` of them."""
        return len(self.copies) if self.copy_count is None else self.copy_count

    def as_copy(self) -> Copy:
        return Copy(self.article_id, self.title, self.source, self.date, self.url, self.lang)

    @property
    def best(self) -> PassageHit:
        return self.passages[0]

    @property
    def heading(self) -> str:
        """The title as a one-line heading: the article id when untitled, shortened when very long."""
        return heading(self.title, self.article_id)

    @property
    def passage_text(self) -> str:
        return self.text[self.best.start : self.best.end]
