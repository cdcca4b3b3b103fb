"""Search filters as one frozen value: language, outlets, an inclusive date range, and who is quoted. Each
retrieval backend renders them in its own terms (``indexer.retrieval``: a SQL condition)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from indexer.errors import BadQuery
from indexer.ingest import parse_date
from indexer.speakers import speaker_key


@dataclass(frozen=True)
class Filters:
    """Language, outlets, an inclusive date range and a speaker; empty fields do not filter."""

    lang: str | None = None
    sources: tuple[str, ...] = ()
    date_from: str | None = None  # YYYY-MM-DD
    date_to: str | None = None
    speaker: str | None = None  # a folded name (``indexer.speakers.speaker_key``): passages that quote them

    @classmethod
    def make(
        cls,
        lang: str | None = None,
        sources: list[str] | tuple[str, ...] | None = None,
        date_from: object = None,
        date_to: object = None,
        speaker: str | None = None,
    ) -> Filters:
        """Build filters from user input: dates may be date objects or any common date string; a speaker is
        matched by name, spelling and case aside, a surname alone matching the full name."""
        wanted = speaker_key(speaker or "")
        if speaker and speaker.strip() and not wanted:
            raise BadQuery(f"not a name: {speaker!r}")
        return cls(
            lang=(lang or None) and str(lang).lower(),
            sources=tuple(s for s in (sources or ()) if s),
            date_from=_day(date_from),
            date_to=_day(date_to),
            speaker=wanted or None,
        )

    @property
    def active(self) -> bool:
        return bool(self.lang or self.sources or self.date_from or self.date_to or self.speaker)

    @property
    def by_article(self) -> Filters:
        """The filters on what an article is (language, outlet, date), without the speaker."""
        return replace(self, speaker=None)


def _day(value: object) -> str | None:
    if value is None or value == "":
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    parsed = parse_date(str(value))
    if parsed is None:
        raise BadQuery(f"not a date: {value!r} (use YYYY-MM-DD)")
    return parsed[:10]
