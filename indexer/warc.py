"""WARC files (``.warc``, ``.warc.gz``): the HTML pages a crawler saved, one article per page.

warcio reads the records; each ``response`` record with HTTP status 200 and an HTML content type becomes an
article through the same extraction as an ``.html`` file (text, title, publish date, outlet, canonical URL,
byline, dateline). Its id is the address it was captured from (``WARC-Target-URI``), so a page captured again
replaces the earlier capture. Requests, metadata, revisits, redirects, images and scripts are not articles;
their count is one warning. A page is never fetched: only what the file holds is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import BadRecord
from indexer.ingest import MAX_RECORD_BYTES, OnBad, Warn, decode_text, html_article
from indexer.records import Article

CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


def read_warc(path: Path, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    """The HTML pages of the WARC file ``path`` as articles; problems as ``path: record N <uri>``."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    skipped = number = 0
    with path.open("rb") as handle:
        records = iter(ArchiveIterator(handle))
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (ArchiveLoadFailed, ValueError, OSError, EOFError, AttributeError, KeyError, IndexError) as error:
                # warcio meets a damaged record with any of these (AttributeError: a header block it cannot read)
                where = f"{path}: record {number + 1}"
                on_bad(BadRecord(where, f"not a WARC record ({error}); the rest of the file is not read"))
                break
            number += 1
            if record.rec_type != "response":  # warcinfo, requests, metadata, revisits
                continue
            page = _page(record)
            if page is None:
                skipped += 1
                continue
            uri = record.rec_headers.get_header("WARC-Target-URI") or f"{path.name}#{number}"
            where = f"{path}: record {number} <{uri}>"
            try:
                body = record.content_stream().read(MAX_RECORD_BYTES + 1)
                if len(body) > MAX_RECORD_BYTES:
                    raise BadRecord(where, f"a page over {MAX_RECORD_BYTES:,} bytes; not read")
                html = _decode(body, page, where, warn)
                yield html_article(html, uri, where, warn, where=where, url=uri)
            except BadRecord as bad:
                on_bad(bad)
            except (ArchiveLoadFailed, ValueError, OSError, EOFError) as error:  # a body cut short
                on_bad(BadRecord(where, f"the page cannot be read ({error}); the rest of the file is not read"))
                break
    if skipped:
        warn(f"{path}: {skipped} response(s) that are not HTML pages with status 200 skipped")
    if number == 0:
        on_bad(BadRecord(f"{path}:1", "no WARC records"))


def _page(record: object) -> str | None:
    """The Content-Type of a 200 HTML response record, or None for any other record."""
    headers = getattr(record, "http_headers", None)
    if headers is None:
        return None
    kind = headers.get_header("Content-Type") or ""
    if headers.get_statuscode() != "200" or "html" not in kind.lower():
        return None
    return kind


def _decode(body: bytes, content_type: str, where: str, warn: Warn) -> str:
    """The page as text: the charset its Content-Type names, else UTF-8, else charset detection (warned)."""
    declared = CHARSET.search(content_type)
    if declared:
        try:
            return body.decode(declared.group(1))
        except (LookupError, UnicodeDecodeError):
            warn(f"{where}: not valid {declared.group(1)} as its Content-Type says")
    return decode_text(body, where, warn)
