"""Real-shaped news files for the ingestion tests, written from real news-dev articles: an Arabic RSS 2.0 feed,
an English Atom feed, HTML pages as outlets publish them, and a small WARC of a crawl of those pages."""

from __future__ import annotations

import html
import io
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from tests.conftest import NEWS


def articles(source: str, count: int, *, with_dateline: bool = False) -> list[dict]:
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    picked = [r for r in sorted(rows, key=lambda r: r["id"]) if r["source"] == source and r.get("date")]
    if with_dateline:
        picked = [r for r in picked if "(CNN)--" in r["text"][:80]]
    return [r for r in picked if 400 <= len(r["text"]) <= 3000][:count]


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day[:10]).replace(hour=9, tzinfo=UTC))


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())


def rss(rows: list[dict]) -> str:
    """RSS 2.0 as Arabic outlets serve it: CDATA descriptions holding HTML, dc:creator bylines, guids, one
    headline-only item."""
    items = []
    for i, row in enumerate(rows):
        script = "" if i else "<script>document.title='x'</script>"  # feed HTML may carry scripts: never text
        description = f"<![CDATA[{_paragraphs(row['text'])}{script}]]>"
        items.append(
            f"<item><title>{html.escape(row['title'])}</title><link>{html.escape(row['url'])}</link>"
            f'<guid isPermaLink="false">cnn-ar-{row["id"]}</guid><pubDate>{_rfc822(row["date"])}</pubDate>'
            f"<dc:creator>محرر الشؤون الدولية {i + 1}</dc:creator><description>{description}</description></item>"
        )
    items.append(
        "<item><title>عاجل: اجتماع طارئ لمجلس الأمن</title><link>https://arabic.cnn.com/world/breaking</link>"
        "<pubDate>Tue, 03 Jul 2018 11:00:00 +0300</pubDate></item>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>CNN Arabic</title><link>https://arabic.cnn.com</link><language>ar</language>"
        f"<description>آخر الأخبار</description>{''.join(items)}</channel></rss>\n"
    )


def atom(rows: list[dict]) -> str:
    """Atom 1.0 with authors, published and updated dates, and HTML content."""
    entries = [
        f"<entry><title>{html.escape(row['title'])}</title><id>urn:reuters:{row['id']}</id>"
        f'<link rel="alternate" href="https://www.reuters.com/article/{row["id"]}"/>'
        f"<published>{row['date'][:10]}T14:30:00Z</published><updated>{row['date'][:10]}T16:00:00Z</updated>"
        f"<author><name>Reporter {i + 1}</name></author>"
        f'<content type="html">{html.escape(_paragraphs(row["text"]))}</content></entry>'
        for i, row in enumerate(rows)
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Reuters Business News</title><id>urn:reuters:business</id><updated>1987-03-01T00:00:00Z</updated>"
        f"{''.join(entries)}</feed>\n"
    )


def page(row: dict, *, author: str, canonical: str) -> str:
    """An article page with navigation, a byline, a canonical link, Open Graph and article:published_time."""
    lang = row["lang"]
    return (
        f'<!doctype html><html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}"><head><meta charset="utf-8">'
        f"<title>{html.escape(row['title'])} | {html.escape(row['source'])}</title>"
        f'<link rel="canonical" href="{canonical}">'
        f'<meta property="og:site_name" content="{html.escape(row["source"])}">'
        f'<meta property="og:title" content="{html.escape(row["title"])}">'
        f'<meta name="author" content="{html.escape(author)}">'
        f'<meta property="article:published_time" content="{row["date"][:10]}T08:15:00+03:00">'
        "</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{html.escape(row['title'])}</h1><p class='byline'>{html.escape(author)}</p>"
        f"{_paragraphs(row['text'])}</article><footer>© {html.escape(row['source'])}</footer></body></html>"
    )


def warc(path: Path, pages: list[tuple[str, str]]) -> None:
    """A gzipped WARC as a crawler writes it: warcinfo, then per page a request and a 200 response; also an
    image, a 404 and a redirect, which are not articles."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "sahafa tests", "format": "WARC"}))

        def response(uri: str, status: str, kind: str, body: bytes, extra: list | None = None) -> None:
            request = StatusAndHeaders(f"GET {uri} HTTP/1.1", [("Host", uri.split("/")[2])], is_http_request=True)
            writer.write_record(writer.create_warc_record(uri, "request", http_headers=request))
            headers = StatusAndHeaders(status, [("Content-Type", kind), *(extra or [])], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers)
            )

        for uri, text in pages:
            response(uri, "200 OK", "text/html; charset=utf-8", text.encode("utf-8"))
        response("https://arabic.cnn.com/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        response("https://arabic.cnn.com/missing", "404 Not Found", "text/html", b"<html>not found</html>")
        response("https://arabic.cnn.com/old", "301 Moved Permanently", "text/html", b"",
                 [("Location", "https://arabic.cnn.com/new")])  # fmt: skip
