"""indexer.ingest on real files: every format, the seeds, real news-dev articles and every bad-record kind."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import BadSource
from indexer.ingest import content_id, parse_date, read_sources
from indexer.records import Article

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NEWS_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news-dev" / "articles.jsonl"

ARABIC_ARTICLE = (
    "وزير الخارجية يلتقي نظيره الفرنسي\n"
    "التقى وزير الخارجية اليوم نظيره الفرنسي في باريس لبحث العلاقات الثنائية وسبل تعزيزها.\n"
    "وأكد الجانبان أهمية التعاون في مجالات الطاقة والتعليم والثقافة.\n"
)

NEWS_PAGE = """<!DOCTYPE html>
<html><head><title>Storm hits coast | Daily Times</title>
<meta property="og:title" content="Storm hits coast">
<meta property="og:site_name" content="Daily Times">
<meta name="date" content="2018-03-01">
<link rel="canonical" href="https://example.com/storm">
<script>var tracker = "tracking code";</script>
<style>body { color: red }</style>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
<article><h1>Storm hits coast</h1>
<p>A powerful storm hit the coast on Thursday, cutting power to thousands of homes and closing schools.</p>
<p>Officials said repair crews would work through the night to restore electricity to the area.</p>
</article>
<footer>Copyright 2017 Daily Times. All rights reserved.</footer>
</body></html>
"""


def read(*paths: str | Path) -> tuple[list[Article], list[str], list[str]]:
    """(articles, bad-record messages, warnings) from reading ``paths``."""
    bad: list[str] = []
    warnings: list[str] = []
    articles = list(read_sources(paths, lambda record: bad.append(str(record)), warnings.append))
    return articles, bad, warnings


def write_jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# --- JSONL ---------------------------------------------------------------------------------------------


def test_jsonl_fields(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        {"id": " x1 ", "title": " Title ", "text": "  Body text.\n", "date": "2018-03-01",
         "source": " Reuters ", "lang": "EN", "url": "https://example.com/a", "extra": [1]},
        {"id": 42, "text": "نص عربي", "source": "  ", "lang": "Arabic"},
    )  # fmt: skip
    articles, bad, warnings = read(path)
    assert (bad, warnings) == ([], [])
    assert articles == [
        Article(id="x1", text="Body text.", title="Title", date="2018-03-01", source="Reuters", lang="en",
                url="https://example.com/a", origin=f"{path}:1"),
        Article(id="42", text="نص عربي", title="", lang="ar", origin=f"{path}:2"),
    ]  # fmt: skip


def test_ndjson_extension_and_blank_lines(tmp_path):
    path = tmp_path / "b.ndjson"
    path.write_bytes(b'\n{"text": "one"}\n   \n\n{"text": "two"}\n\n')
    articles, bad, _ = read(path)
    assert bad == []
    assert [(a.text, a.origin) for a in articles] == [("one", f"{path}:2"), ("two", f"{path}:5")]


def test_missing_id_gives_the_same_content_id_twice(tmp_path):
    record = {"title": "Same", "text": "Same body."}
    first, _, _ = read(write_jsonl(tmp_path / "1.jsonl", record))
    second, _, _ = read(write_jsonl(tmp_path / "2.jsonl", {"id": "", **record}))
    expected = hashlib.sha1(b"Same\nSame body.").hexdigest()[:16]
    assert first[0].id == second[0].id == content_id("Same", "Same body.") == expected
    assert content_id("Same", "Other body.") != expected


def test_lang_detected_when_missing_or_unknown(tmp_path):
    path = write_jsonl(
        tmp_path / "l.jsonl",
        {"text": "الحكومة تعلن عن خطة جديدة للتعليم"},
        {"text": "The government announced a new plan", "lang": "fr"},
        {"title": "Education plan 2024", "text": "خطة وزارة التربية والتعليم الجديدة", "lang": None},
        {"text": "English text", "lang": "ar"},
    )
    articles, _, _ = read(path)
    assert [a.lang for a in articles] == ["ar", "en", "ar", "ar"]


def test_text_is_never_altered_beyond_newlines_and_ends(tmp_path):
    text = "<p>Caf\u00e9 vs Cafe\u0301</p>\r\nالعَرَبِيَّة ـــ كتابة\rline\u00a0three\t"
    articles, bad, _ = read(write_jsonl(tmp_path / "t.jsonl", {"text": f"\n  {text}  \n"}))
    assert bad == []
    assert articles[0].text == "<p>Caf\u00e9 vs Cafe\u0301</p>\nالعَرَبِيَّة ـــ كتابة\nline\u00a0three"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=5))
def test_jsonl_round_trip_keeps_text(tmp_path_factory, texts):
    path = write_jsonl(tmp_path_factory.mktemp("rt") / "r.jsonl", *({"text": t} for t in texts))
    articles, bad, _ = read(path)
    assert bad == []
    assert [a.text for a in articles] == [t.replace("\r\n", "\n").replace("\r", "\n").strip() for t in texts]


def test_bad_jsonl_records_are_reported_and_skipped(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"id": "ok1", "text": "first"}\n'
        b'{"text": "a" "b"}\n'
        b"[1, 2]\n"
        b'{"title": "no text"}\n'
        b'{"text": "  \\n "}\n'
        b'{"text": 12}\n'
        b'{"text": "bad \xff byte"}\n'
        b'{"text": null}\n'
        b'{"text": "broken \\ud800 escape"}\n'
        b'{"id": "ok2", "text": "last"}\n'
    )
    articles, bad, _ = read(path)
    assert [a.id for a in articles] == ["ok1", "ok2"]
    assert bad == [
        f"{path}:2: invalid JSON: Expecting ',' delimiter (column 14)",
        f"{path}:3: expected a JSON object, found array",
        f"{path}:4: missing text",
        f"{path}:5: empty text",
        f"{path}:6: text is not a string",
        f"{path}:7: not valid UTF-8 (byte 0xff at column 15)",
        f"{path}:8: missing text",
        f"{path}:9: text is not valid Unicode (lone surrogate)",
    ]


def test_records_that_crashed_the_json_parser_or_the_date_are_reported_and_the_rest_indexed(tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text(
        '{"id": "ok1", "text": "first"}\n'
        '{"id": "deep", "text": "x", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
        '{"id": "huge", "text": "x", "n": ' + "9" * 5000 + "}\n"
        '{"id": "offset", "text": "a date a day off UTC", "date": "2024-01-01T10:00:00+99:00"}\n'
        '{"id": "ok2", "text": "last"}\n',
        encoding="utf-8",
    )
    articles, bad, warnings = read(path)
    assert [a.id for a in articles] == ["ok1", "offset", "ok2"]
    assert articles[1].date is None
    assert bad == [
        f"{path}:2: invalid JSON: nested too deeply",
        f"{path}:3: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion",
    ]
    assert warnings == [f"{path}:4: unparseable date '2024-01-01T10:00:00+99:00'; date left empty"]


def test_records_over_the_size_limits_are_reported_or_cut_and_the_rest_read(tmp_path, monkeypatch):
    """A 50 MB field must not take memory without bound: over MAX_RECORD_BYTES a record is reported and read
    past (never held whole); article text over MAX_TEXT_CHARS is cut at a word, with a warning."""
    import indexer.ingest

    monkeypatch.setattr(indexer.ingest, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(indexer.ingest, "MAX_TEXT_CHARS", 300)
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        json.dumps({"id": "huge", "text": "x" * 5000}) + "\n"
        + json.dumps({"id": "long", "text": "word " * 100 + "tail"}) + "\n"
        + json.dumps({"id": "ok", "text": "fine"}) + "\n"
    )  # fmt: skip
    csv_file = tmp_path / "b.csv"
    csv_file.write_text('id,text\n1,fine\n2,"' + "y\n" * 800 + '"\n3,after\n')
    (tmp_path / "c.txt").write_text("z" * 2000)
    articles, bad, warnings = read(tmp_path)
    assert [(a.id, len(a.text)) for a in articles] == [("long", 299), ("ok", 4), ("1", 4)]
    assert articles[0].text == ("word " * 60).strip()
    assert bad == [
        f"{jsonl}:1: line longer than 1,000 bytes; not read",
        f"{csv_file}:3: a field longer than 1,000 characters; the rest of the file is not read",
        f"{tmp_path / 'c.txt'}:1: file of 2,000 bytes is over the 1,000-byte limit; not read",
    ]
    assert warnings == [f"{jsonl}:2: text of 504 characters cut to its first 299 (the limit is 300)"]


def test_empty_jsonl_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert read(path) == ([], [f"{path}:1: empty file"], [])


def test_jsonl_with_bom(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "x"}\n')
    articles, bad, _ = read(path)
    assert (bad, [a.text for a in articles]) == ([], ["x"])


# --- CSV -----------------------------------------------------------------------------------------------


def test_csv_records_with_multiline_fields(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,text,date,source,lang,url\n"
        'c1,Title,"line one\nline two, with comma",01/03/2018,AP,en,\n'
        "\n"
        ",,نص عربي,,, ,\n",
        encoding="utf-8",
        newline="",
    )
    articles, bad, warnings = read(path)
    assert (bad, warnings) == ([], [])
    first, second = articles
    assert (first.id, first.text, first.date, first.source, first.url, first.origin) == (
        "c1", "line one\nline two, with comma", "2018-01-03", "AP", None, f"{path}:2"
    )  # fmt: skip
    assert (second.id, second.title, second.lang, second.origin) == (
        content_id("", "نص عربي"), "", "ar", f"{path}:5"
    )  # fmt: skip


def test_csv_only_text_column_and_bom(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes('\ufeffText\r\nhello\r\n"a\r\nb"\r\n'.encode())
    articles, bad, _ = read(path)
    assert bad == []
    assert [(a.text, a.origin) for a in articles] == [("hello", f"{path}:2"), ("a\nb", f"{path}:3")]


def test_bad_csv_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,text,title\nr1,good,T\nr2,a,b,c,d\nr3,,T\nr4,fine,T\n", encoding="utf-8")
    articles, bad, _ = read(path)
    assert [a.id for a in articles] == ["r1", "r4"]
    assert bad == [f"{path}:3: expected 3 fields, found 5", f"{path}:4: empty text"]


@pytest.mark.parametrize(
    ("content", "runs_to", "why"),
    [
        ('1,t,"text one\n2,ok,text two\n3,ok,text three\n', 4, "unexpected end of data"),  # never closed
        ('1,"t,text one\n2,ok,text two\n3,ok,text three\n', 4, "unexpected end of data"),
        ('1,t,"text one\n2,ok,"text two"\n3,ok,text three\n', 3, "',' expected after '\"'"),  # closed by a later one
    ],
)
def test_stray_csv_quote_is_reported_and_later_rows_kept(tmp_path, content, runs_to, why):
    """A stray quote used to swallow every later row into one article's text, silently."""
    path = tmp_path / "stray.csv"
    path.write_text("id,title,text\n" + content, encoding="utf-8")
    articles, bad, _ = read(path)
    assert [(a.id, a.text, a.origin) for a in articles] == [
        ("2", "text two", f"{path}:3"), ("3", "text three", f"{path}:4")
    ]  # fmt: skip
    assert bad == [
        f"{path}:2: unbalanced quote: the row runs on to line {runs_to} ({why}); row skipped, reading goes on at line 3"
    ]


def test_quotes_inside_one_line_are_read_leniently(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,title,text\n1,"t" x,He said "yes" today\n2,ok,"a ""b""\nc"\n', encoding="utf-8")
    articles, bad, _ = read(path)
    assert bad == []
    assert [(a.title, a.text) for a in articles] == [("t x", 'He said "yes" today'), ("ok", 'a "b"\nc')]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "1: empty file"),
        (b"id,title\n1,x\n", "1: no 'text' column in header"),
        (b"id,text\n1,fine\n2,caf\xe9\n", "3: not valid UTF-8 (byte 0xe9 at column 6)"),
    ],
)
def test_bad_csv_files(tmp_path, content, reason):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert read(path) == ([], [f"{path}:{reason}"], [])


# --- TXT -----------------------------------------------------------------------------------------------


def test_seeds_are_two_arabic_articles():
    articles, bad, warnings = read(SEEDS)
    assert (bad, warnings) == ([], [])
    files = sorted(SEEDS.glob("*.txt"))
    assert [f.stem for f in files] == ["000_9ff4965ff1aa788a", "003_4b7db5c7572d20fb"]
    assert [a.id for a in articles] == [f.stem for f in files]
    for article, file in zip(articles, files, strict=True):
        lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert article.title == lines[0].strip()
        # The title line stays in the text: the seeds open with a whole paragraph on it.
        assert article.text.startswith(lines[0].strip())
        assert lines[1].strip() in article.text
        assert (article.lang, article.origin, article.date) == ("ar", str(file), None)


def test_txt_title_and_single_line(tmp_path):
    (tmp_path / "two.txt").write_bytes(b"\n\n  Headline  \r\n\r\nFirst para.\r\nSecond para.\n")
    (tmp_path / "one.txt").write_text("Only line\n", encoding="utf-8")
    articles, _, _ = read(tmp_path / "two.txt", tmp_path / "one.txt")
    assert [(a.id, a.title, a.text) for a in articles] == [
        ("two", "Headline", "Headline  \n\nFirst para.\nSecond para."),
        ("one", "Only line", "Only line"),
    ]


def test_cp1256_arabic_txt_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes(ARABIC_ARTICLE.encode("cp1256"))
    articles, bad, warnings = read(path)
    assert bad == []
    assert warnings == [f"{path}: not valid UTF-8; decoded as cp1256"]
    assert articles[0].title == "وزير الخارجية يلتقي نظيره الفرنسي"
    assert articles[0].text == ARABIC_ARTICLE.strip()
    assert articles[0].lang == "ar"


def test_empty_txt_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n")
    assert read(path) == ([], [f"{path}:1: empty file"], [])


# --- HTML ----------------------------------------------------------------------------------------------


def test_html_main_text_and_metadata(tmp_path):
    path = tmp_path / "storm.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    [article], bad, warnings = read(path)
    assert (bad, warnings) == ([], [])
    assert "A powerful storm hit the coast on Thursday" in article.text
    assert article.text.endswith("restore electricity to the area.")
    for boilerplate in ("tracking", "color", "Home", "World", "Copyright", "<p>"):
        assert boilerplate not in article.text
    assert (article.id, article.title, article.date, article.source, article.url, article.lang) == (
        "storm", "Storm hits coast", "2018-03-01", "Daily Times", "https://example.com/storm", "en"
    )  # fmt: skip


def test_small_arabic_html_drops_nav_and_guesses_no_date(tmp_path):
    path = tmp_path / "news" / "ar.htm"
    path.parent.mkdir()
    path.write_text(
        "<html><head><title>عنوان الخبر</title></head><body><nav>الرئيسية | رياضة</nav>"
        "<p>أعلنت الوزارة اليوم عن خطة جديدة.</p><footer>© 2019</footer></body></html>",
        encoding="utf-8",
    )
    [article], bad, _ = read(tmp_path)
    assert bad == []
    assert (article.id, article.title, article.text, article.date, article.lang) == (
        "news/ar", "عنوان الخبر", "أعلنت الوزارة اليوم عن خطة جديدة.", None, "ar"
    )  # fmt: skip


def test_html_without_text_is_bad(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><script>x = 1</script></head><body></body></html>")
    assert read(path) == ([], [f"{path}:1: no article text found in HTML"], [])


# --- Folders and paths ---------------------------------------------------------------------------------


def test_folder_walk_is_recursive_sorted_and_skips_other_files(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b" / "deep" / "z.txt").write_text("Z title\nz body")
    (tmp_path / "b" / "a.TXT").write_text("A title\na body")
    write_jsonl(tmp_path / "a.jsonl", {"id": "j", "text": "json body"})
    (tmp_path / "README.md").write_text("# not an article")
    (tmp_path / ".notes.txt").write_text("hidden")
    (tmp_path / ".hidden" / "x.txt").write_text("hidden")
    articles, bad, _ = read(tmp_path)
    assert bad == []
    assert [a.id for a in articles] == ["j", "b/a", "b/deep/z"]


def test_missing_path_and_unsupported_file_raise_bad_source(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(BadSource, match=f"^no such file or directory: {missing}$"):
        read_sources([missing], print)
    notes = tmp_path / "notes.md"
    notes.write_text("x")
    with pytest.raises(BadSource, match=r"^unsupported file type '\.md': .*notes\.md \(expected one of"):
        read_sources([tmp_path, notes], print)


# --- Dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-03-01", "2018-03-01"),
        ("01/03/2018", "2018-01-03"),
        ("13/03/2018", "2018-03-13"),
        ("March 1, 2018", "2018-03-01"),
        ("1 Mar 2018", "2018-03-01"),
        ("Thu, 01 Mar 2018 10:00:00 GMT", "2018-03-01T10:00:00+00:00"),
        ("20180301", "2018-03-01"),
        ("2018-06-30T20:38:45+04:00", "2018-06-30T20:38:45+04:00"),
        ("2018-03-01T10:00:00.123Z", "2018-03-01T10:00:00+00:00"),
        ("1987-04-02 14:00", "1987-04-02T14:00:00"),
        ("٢٠١٨-٠٣-٠١", "2018-03-01"),
        (None, None),
        ("", None),
        ("yesterday", None),
        ("Monday", None),
        ("March 2018", None),
        ("2018", None),
        ("2018-13-45", None),
        ("not a date 12", None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


@given(st.text(max_size=40))
def test_parse_date_gives_iso_or_none(value):
    parsed = parse_date(value)
    assert parsed is None or datetime.fromisoformat(parsed).isoformat().startswith(parsed[:10])


def test_unparseable_date_is_kept_with_a_warning(tmp_path):
    records = [{"text": "a", "date": "2018-03-01"}, {"text": "b", "date": "xyz "}]
    path = write_jsonl(tmp_path / "d.jsonl", *records)
    articles, bad, warnings = read(path)
    assert bad == []
    assert [a.date for a in articles] == ["2018-03-01", None]
    assert warnings == [f"{path}:2: unparseable date 'xyz'; date left empty"]


# --- Real articles -------------------------------------------------------------------------------------


def test_news_dev_articles_read_as_given():
    with NEWS_DEV.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    articles, bad, warnings = read(NEWS_DEV)
    assert (bad, warnings) == ([], [])
    assert len(articles) == len(records) == 1000
    for record, article in zip(records, articles, strict=True):
        assert (article.id, article.title) == (record["id"], record["title"])
        assert article.text == record["text"].strip()
        assert (article.lang, article.date) == (record["lang"], record["date"])
        assert (article.source, article.url) == (record["source"], record["url"])
    assert {a.lang for a in articles} == {"ar", "en"}


def test_news_dev_is_read_lazily():
    first = next(read_sources([NEWS_DEV], print))
    assert (first.id, first.origin) == ("antm-AL-culture-109-20180301", f"{NEWS_DEV}:1")
