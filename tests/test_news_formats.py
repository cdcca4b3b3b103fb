"""News-native ingestion: RSS and Atom feeds, WARC crawls and HTML pages (real news-dev text in real-shaped
files, tests/news_files.py), bylines and datelines kept beside the text, and a real index searched over them."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from indexer.build import record_hash
from indexer.dateline import dateline
from indexer.errors import BadRecord
from indexer.ingest import read_sources
from indexer.records import Article
from search_app.cli import cli
from tests import news_files


def read(paths) -> tuple[list[Article], list[BadRecord], list[str]]:
    bad: list[BadRecord] = []
    warnings: list[str] = []
    return list(read_sources(paths, bad.append, warnings.append)), bad, warnings


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("news-files")
    arabic = news_files.articles("CNN Arabic", 3, with_dateline=True)
    english = news_files.articles("Reuters", 2)
    (folder / "cnn-arabic.rss").write_text(news_files.rss(arabic), encoding="utf-8")
    (folder / "reuters.atom").write_text(news_files.atom(english), encoding="utf-8")
    pages = [
        (f"https://arabic.cnn.com/world/{row['id']}?utm_source=rss",
         news_files.page(row, author="قسم الأخبار", canonical=f"https://arabic.cnn.com/world/{row['id']}"))
        for row in arabic[:2]
    ]  # fmt: skip
    news_files.warc(folder / "crawl.warc.gz", pages)
    return {"folder": folder, "arabic": arabic, "english": english, "pages": pages}


def test_an_rss_feed_keeps_title_link_date_byline_and_dateline(files) -> None:
    found, bad, warnings = read([files["folder"] / "cnn-arabic.rss"])
    assert bad == []
    *entries, headline = found
    for entry, row in zip(entries, files["arabic"], strict=True):
        assert (entry.id, entry.title, entry.url, entry.source, entry.lang) == (
            f"cnn-ar-{row['id']}", row["title"], row["url"], "CNN Arabic", "ar",
        )  # fmt: skip
        assert entry.date == f"{row['date'][:10]}T09:00:00+00:00"
        assert entry.text == "\n".join(p.strip() for p in row["text"].split("\n") if p.strip())
        assert entry.dateline and entry.dateline.endswith("(CNN)") and entry.author.startswith("محرر الشؤون")
    assert "<" not in entries[0].text and "document.title" not in entries[0].text
    assert (headline.title, headline.text, headline.date) == (
        "عاجل: اجتماع طارئ لمجلس الأمن", "عاجل: اجتماع طارئ لمجلس الأمن", "2018-07-03T11:00:00+03:00",
    )  # fmt: skip
    assert headline.id == "https://arabic.cnn.com/world/breaking"
    feed = files["folder"] / "cnn-arabic.rss"
    assert warnings == [f"{feed}: entry 4: no summary or content; indexed its title alone"]


def test_an_atom_feed_keeps_authors_and_the_published_date(files) -> None:
    found, bad, _ = read([files["folder"] / "reuters.atom"])
    assert bad == [] and len(found) == 2
    for i, (entry, row) in enumerate(zip(found, files["english"], strict=True)):
        assert entry.url == f"https://www.reuters.com/article/{row['id']}" and entry.author == f"Reporter {i + 1}"
        assert entry.date == f"{row['date'][:10]}T14:30:00+00:00"  # published, not updated
        assert (entry.source, entry.lang, entry.id) == ("Reuters Business News", "en", f"urn:reuters:{row['id']}")


def test_broken_feeds_say_where_and_keep_what_they_can(tmp_path, files) -> None:
    garbage = tmp_path / "sitemap.xml"
    garbage.write_text("<urlset><url><loc>https://example.com/</loc></urlset", encoding="utf-8")
    cut = tmp_path / "cut.rss"
    text = news_files.rss(files["arabic"])
    cut.write_text(text[: text.index("</item>", text.index("</item>") + 1) + 7], encoding="utf-8")  # two items
    found, bad, warnings = read([garbage, cut])
    assert [str(b) for b in bad][0].startswith(f"{garbage}:1: not an RSS or Atom feed (")
    assert [a.title for a in found] == [r["title"] for r in files["arabic"][:2]]
    assert warnings[0].startswith(f"{cut}: not well-formed (") and warnings[0].endswith("; 2 entries read")


def test_a_warc_gives_its_html_pages_with_canonical_urls_and_bylines(files) -> None:
    path = files["folder"] / "crawl.warc.gz"
    found, bad, warnings = read([path])
    assert bad == []
    assert warnings == [f"{path}: 3 response(s) that are not HTML pages with status 200 skipped"]
    assert [a.id for a in found] == [uri for uri, _ in files["pages"]]
    for article, row in zip(found, files["arabic"][:2], strict=True):
        assert article.url == f"https://arabic.cnn.com/world/{row['id']}"  # canonical, not the captured address
        assert (article.title, article.source, article.author) == (row["title"], "CNN Arabic", "قسم الأخبار")
        assert article.date.startswith(row["date"][:10]) and article.lang == "ar"
        assert row["text"].split("\n")[0].strip()[:60] in article.text and "Home" not in article.text
        assert article.dateline and article.dateline.endswith("(CNN)")


def test_a_truncated_warc_keeps_the_pages_before_the_cut(tmp_path, files) -> None:
    whole = gzip.decompress((files["folder"] / "crawl.warc.gz").read_bytes())
    second = whole.index(b"WARC/1.0", whole.index(files["pages"][1][0].encode()) - 400)
    cut = tmp_path / "cut.warc"
    cut.write_bytes(whole[: second + 40] + b"\r\nnot a header\r\n")
    found, bad, _ = read([cut])
    assert [a.id for a in found] == [files["pages"][0][0]]
    assert len(bad) == 1 and "not a WARC record" in str(bad[0]) and str(bad[0]).startswith(f"{cut}: record ")


def test_an_html_file_keeps_byline_canonical_url_and_publish_date(tmp_path, files) -> None:
    row = files["english"][0]
    path = tmp_path / "story.html"
    path.write_text(news_files.page(row, author="Jane Doe", canonical="https://www.reuters.com/a/1"), "utf-8")
    (article,), bad, _ = read([path])
    assert bad == [] and (article.author, article.url) == ("Jane Doe", "https://www.reuters.com/a/1")
    assert article.date.startswith(row["date"][:10]) and article.source == "Reuters"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("دبي، الإمارات العربية المتحدة (CNN)-- قالت هيئة النزاهة", "دبي، الإمارات العربية المتحدة (CNN)"),
        ("LONDON, March 3 (Reuters) - Shares fell", "LONDON, March 3 (Reuters)"),
        ("NEW YORK - Stocks rose on Monday", "NEW YORK"),
        ("سبق- الرياض: اشتهرت تجارة العطور", "سبق- الرياض"),
        ("أحمد الزهراني- سبق- مكة المكرمة: تبدأ الإدارة", "أحمد الزهراني- سبق- مكة المكرمة"),
        ("عين اليوم – جدة\nعقد وزير الخارجية", "عين اليوم – جدة"),
        ("الخرج 26 شوال 1436 هـ الموافق 11 أغسطس 2015 م واس\nاستنكر معالي",
         "الخرج 26 شوال 1436 هـ الموافق 11 أغسطس 2015 م واس"),
        ("Reuters Holdings Plc said it would display a news service", None),
        ("Reuters to sell its unit\nThe company said", None),
        ("He said - in a statement - that prices rose", None),
        ("قال وزير المالية التركي، الخميس، إن بلاده", None),
    ],
)  # fmt: skip
def test_datelines_in_the_shapes_outlets_use(text, expected) -> None:
    assert dateline(text) == expected


def test_an_article_without_byline_or_dateline_keeps_its_record_hash() -> None:
    """Articles indexed before bylines existed are not re-indexed for them."""
    article = Article(id="a", text="نص", title="t", date="2018-01-01", source="s", lang="ar", url=None, origin="x")
    before = {k: v for k, v in asdict(article).items() if k not in ("origin", "author", "dateline")}
    encoded = json.dumps(before, ensure_ascii=False, sort_keys=True).encode()
    assert record_hash(article) == hashlib.sha1(encoded).hexdigest()
    assert record_hash(Article(**{**article.__dict__, "author": "A"})) != record_hash(article)


def test_feeds_and_a_warc_indexed_and_searched(files, tmp_path, encoder) -> None:
    from indexer.build import index_sources

    index = tmp_path / "index"
    report = index_sources([files["folder"]], index, progress=False, loaded_encoder=encoder)
    assert report.skipped == 0 and report.indexed == 3 + 1 + 2 + 2
    first = files["english"][0]
    printed = CliRunner().invoke(cli, ["search", first["title"], "--index", str(index), "--json", "-k", "3"])
    assert printed.exit_code == 0, printed.output
    top = json.loads(printed.stdout)["results"][0]
    assert (top["article_id"], top["author"], top["source"]) == (f"urn:reuters:{first['id']}", "Reporter 1",
                                                                 "Reuters Business News")  # fmt: skip
    arabic = files["arabic"][0]
    story = {f"cnn-ar-{arabic['id']}", files["pages"][0][0]}  # the feed's item and the page: one story, two copies
    grouped = CliRunner().invoke(cli, ["search", arabic["title"], "--index", str(index), "--json", "--lang", "ar"])
    top = json.loads(grouped.stdout)["results"][0]
    assert {top["article_id"]} | {c["article_id"] for c in top["copies"]} == story
    found = CliRunner().invoke(cli, ["search", arabic["title"], "--index", str(index), "--json", "--lang", "ar",
                                     "--all-copies"])  # fmt: skip
    hits = json.loads(found.stdout)["results"]
    assert {h["article_id"] for h in hits[:2]} == story
    assert all(h["dateline"].endswith("(CNN)") for h in hits[:2])


def test_the_article_view_shows_byline_and_dateline_escaped() -> None:
    from indexer.records import Hit
    from search_app.views import article_html

    hit = Hit("a", "t", "CNN Arabic", "2018-08-09", "ar", None, "نص", 0.0, author="<b>قسم</b>", dateline="دبي (CNN)")
    shown = article_html(hit)
    assert '<span class="sahafa-byline" dir="auto">&lt;b&gt;قسم&lt;/b&gt;</span>' in shown
    assert '<span class="sahafa-dateline" dir="auto">دبي (CNN)</span>' in shown
