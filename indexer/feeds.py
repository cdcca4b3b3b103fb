"""RSS and Atom feeds saved as files (``.rss``, ``.atom``, ``.xml``): one article per entry.

feedparser reads the bytes; nothing is fetched. Each entry keeps its title, link (the article's URL), published
date (else updated), author (the byline) and its content, or else its summary, as text. The feed's title is
the outlet and its declared language is used when it is Arabic or English. An entry with a title and no text
is indexed with its title as its text, with a warning: headline feeds are still worth searching.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.dateline import dateline
from indexer.errors import BadRecord
from indexer.ingest import (
    MAX_RECORD_BYTES,
    OnBad,
    Warn,
    capped_text,
    clean_field,
    content_id,
    field_date,
    field_lang,
)
from indexer.records import Article

BLOCKS = ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "pre")
SPACES = re.compile(r"[ \t\u00a0]+")


def read_feed(path: Path, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    """The entries of the feed file ``path`` as articles; problems reported as ``path: entry N`` or ``path:line``."""
    import feedparser

    size = path.stat().st_size
    if size > MAX_RECORD_BYTES:
        on_bad(BadRecord(f"{path}:1", f"file of {size:,} bytes is over the {MAX_RECORD_BYTES:,}-byte limit; not read"))
        return
    parsed = feedparser.parse(path.read_bytes(), resolve_relative_uris=False)
    problem = _problem(parsed)
    if not parsed.entries:
        if problem or not parsed.get("version"):
            on_bad(BadRecord(f"{path}:1", f"not an RSS or Atom feed ({problem or 'no channel or feed element'})"))
        else:
            warn(f"{path}: a feed with no entries")
        return
    if problem:
        warn(f"{path}: not well-formed ({problem}); {len(parsed.entries)} entries read")
    feed = parsed.get("feed", {})
    outlet = clean_field(html_text(feed.get("title") or ""))
    declared = (feed.get("language") or "")[:2]
    for number, entry in enumerate(parsed.entries, 1):
        try:
            yield _entry(entry, f"{path}: entry {number}", outlet, declared, warn)
        except BadRecord as bad:
            on_bad(bad)


def _entry(entry: Any, where: str, outlet: str | None, declared: str, warn: Warn) -> Article:
    title = clean_field(html_text(entry.get("title") or "")) or ""
    body = entry["content"][0].get("value", "") if entry.get("content") else entry.get("summary", "")
    text = capped_text(html_text(body or ""), where, warn)
    if not text:
        if not title:
            raise BadRecord(where, "no title, summary or content")
        warn(f"{where}: no summary or content; indexed its title alone")
        text = title
    link = clean_field(entry.get("link"))
    return Article(
        id=clean_field(entry.get("id")) or link or content_id(title, text),
        text=text,
        title=title,
        date=field_date(clean_field(entry.get("published") or entry.get("updated")), where, warn),
        source=outlet,
        lang=field_lang(declared, title, text),
        url=link,
        origin=where,
        author=clean_field(entry.get("author")),
        dateline=dateline(text),
    )


def html_text(fragment: str) -> str:
    """The text of an HTML fragment (or of plain text): entities decoded, a line per block, spaces folded."""
    if "<" not in fragment and "&" not in fragment:
        return _fold(fragment)
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return _fold(fragment)
    for element in list(root.iter("script", "style")):
        element.drop_tree()
    for element in root.iter(*BLOCKS):
        element.tail = "\n" + (element.tail or "")
    return _fold(root.text_content())


def _fold(text: str) -> str:
    lines = (SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _problem(parsed: Any) -> str:
    """What feedparser found wrong with the XML, or "" (an encoding it had to override is not a problem)."""
    import feedparser

    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if error is None or isinstance(error, feedparser.CharacterEncodingOverride):
        return ""
    if hasattr(error, "getMessage") and hasattr(error, "getLineNumber"):  # an XML parse error
        return f"{error.getMessage()} at line {error.getLineNumber()}"
    return str(error) or type(error).__name__
