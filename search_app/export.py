"""Search results as downloadable CSV and JSON, each row with a ready-to-paste citation. No streamlit here."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Sequence

from indexer.records import Hit

FIELDS = ("rank", "article_id", "title", "outlet", "date", "lang", "url", "score", "passage", "citation")
# A cell that begins with one of these is a formula to spreadsheet programs (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def display_title(title: str | None) -> str:
    """A title as people should read it: entities some feeds leave in titles (``&#8220;``) decoded, one line."""
    return " ".join(html.unescape(title or "").split())


def day(date: str | None) -> str:
    """The calendar day of an ISO 8601 date or timestamp (``""`` when undated)."""
    return (date or "")[:10]


def story_parts(hit: Hit, *, date: Callable[[str | None], str] = lambda d: d or "") -> list[str]:
    """How a syndicated story ran: ["also in 3 outlets (AFP, SPA, CNN)", "first published 2015-07-31 by SPA (id
    snn-1094)"]; empty for an article with no copies. ``date`` writes a date (the page shows the day)."""
    if not hit.copies:
        return []
    outlets, n = hit.also_in, hit.copies_total
    if outlets:
        parts = [f"also in {len(outlets)} outlet{'s' * (len(outlets) != 1)} ({', '.join(outlets)})"]
    else:
        parts = [f"{n} more cop{'ies' if n > 1 else 'y'} in {hit.source or 'the same outlet'}"]
    if (first := hit.first_published) and first.article_id == hit.article_id:
        parts.append(f"first published here, {date(first.date)}")
    elif first:
        outlet = first.source or "an unnamed outlet"
        parts.append(f"first published {date(first.date)} by {outlet} (id {first.article_id})")
    return parts


def citation(source: str | None, date: str | None, title: str | None, url: str | None) -> str:
    """``Outlet, date, “title”, URL``; parts the article does not have are left out."""
    parts = [source or "", day(date), f"“{display_title(title)}”" if display_title(title) else "", url or ""]
    return ", ".join(p for p in parts if p)


def rows(hits: Sequence[Hit]) -> list[dict[str, object]]:
    """One flat row per hit, best first, with its best passage as plain text."""
    return [
        {
            "rank": rank,
            "article_id": hit.article_id,
            "title": display_title(hit.title),
            "outlet": hit.source or "",
            "date": day(hit.date),
            "lang": hit.lang,
            "url": hit.url or "",
            "score": round(hit.score, 4),
            "passage": hit.passage_text.strip() if hit.passages else "",
            "citation": citation(hit.source, hit.date, hit.title, hit.url),
        }
        for rank, hit in enumerate(hits, 1)
    ]


def to_csv(hits: Sequence[Hit]) -> bytes:
    """UTF-8 CSV with a byte-order mark, so that spreadsheet programs show Arabic correctly; cells that a
    spreadsheet would run as formulas are made inert (``inert``)."""
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): the writer quotes any field that holds \r or \n, so a stray \r cannot split a row.
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({name: inert(value) for name, value in row.items()} for row in rows(hits))
    return buffer.getvalue().encode("utf-8-sig")


def inert(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'``: shown as text, never run.
    Numbers (the rank, the score) are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_json(hits: Sequence[Hit], *, query: str = "", settings: dict[str, object] | None = None) -> bytes:
    """``{"query", "settings", "results": [rows]}`` as readable UTF-8 JSON."""
    document = {"query": query, "settings": settings or {}, "results": rows(hits)}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
