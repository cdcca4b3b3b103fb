"""A quote's timeline: where its words appeared, first to last, and the outlets that ran it in between.

Built from a quote check's lexical matches (``verbatim``, ``normalised``, ``close``: the quote's own words are
there), which include the copies of a syndicated story that carry it (``indexer.syndication``). A translation
or a paraphrase is not an appearance of the quote's words and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search_app.quotes import QuoteMatch

APPEARING = ("verbatim", "normalised", "close")


@dataclass(frozen=True)
class OutletRun:
    """One outlet that carried the quote: its first and last dates and how many of its articles did."""

    source: str | None
    first: str | None
    last: str | None
    articles: int


@dataclass(frozen=True)
class Timeline:
    """First and last dated appearance, every outlet in order of its first date (undated ones last)."""

    first: QuoteMatch | None = None
    last: QuoteMatch | None = None
    outlets: tuple[OutletRun, ...] = ()
    appearances: int = 0
    undated: int = 0


def timeline(matches: Sequence[QuoteMatch]) -> Timeline:
    """The timeline of the matches whose verdict is an appearance of the quote's words."""
    seen = [m for m in matches if m.verdict in APPEARING]
    dated = sorted((m for m in seen if m.date), key=lambda m: (m.date, m.article_id))
    runs: dict[str | None, list[QuoteMatch]] = {}
    for match in dated + [m for m in seen if not m.date]:
        runs.setdefault(match.source, []).append(match)
    outlets = tuple(
        OutletRun(source, group[0].date, max((m.date for m in group if m.date), default=None), len(group))
        for source, group in runs.items()
    )
    return Timeline(
        dated[0] if dated else None, dated[-1] if dated else None, outlets, len(seen), len(seen) - len(dated)
    )
