"""Quote checking on a real index: each verdict, the evidence, and the earliest source first."""

from __future__ import annotations

import json

import pytest

from search_app.quotes import check_quote
from search_app.search import Searcher

SEED = "000_9ff4965ff1aa788a"
SENTENCE = "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"


@pytest.fixture(scope="module")
def searcher(built_index, encoder):
    s = Searcher.open(built_index, encoder=encoder)
    yield s
    s.close()


def test_verbatim(searcher):
    check = check_quote(searcher, SENTENCE)
    assert check.verdict == "verbatim"
    match = check.matches[0]
    assert (match.article_id, match.text) == (SEED, SENTENCE)
    article = searcher.index.store.article(SEED)
    assert article.text[match.start : match.end] == SENTENCE


def test_respelled_arabic_is_normalised_and_the_span_is_the_original_wording(searcher):
    respelled = (
        "«وَقَالَ القلاف خلال مشاركتة فى ندوة فى الرياض ان الإتجار بالاشخاص يُعد من اخطر الموضوعات التى تمس الانسانية»"
    )
    check = check_quote(searcher, respelled)
    assert check.verdict == "normalised"
    assert check.matches[0].article_id == SEED
    assert check.matches[0].text == SENTENCE


def test_close_lists_the_changed_words(searcher):
    changed = "وقال القلاف أثناء مشاركته في مؤتمر في الرياض، أن الاتجار بالأشخاص يعد من أخطر القضايا التي تمس الإنسانية"
    check = check_quote(searcher, changed)
    assert check.verdict == "close"
    match = check.matches[0]
    assert match.article_id == SEED and 0.6 <= match.similarity < 1
    replaced = [(d.quote, d.source) for d in match.diff if d.op == "replace"]
    assert replaced == [("أثناء", "خلال"), ("مؤتمر", "ندوة"), ("القضايا", "الموضوعات")]


def test_english_rendering_is_a_translation_of_part_of_an_arabic_sentence(searcher):
    check = check_quote(
        searcher,
        "Al-Qallaf said during a seminar in Riyadh that human trafficking is one of the most dangerous "
        "issues affecting humanity",
    )
    assert check.verdict == "translation"
    match = check.matches[0]
    assert (match.article_id, match.lang) == (SEED, "ar")
    # the clauses that say it, not the whole sentence (which goes on about what states do)
    assert match.text == "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"  # noqa: E501


def test_not_found(searcher):
    assert check_quote(searcher, "the moon is made of green cheese, said nobody ever").verdict == "not found"
    assert check_quote(searcher, "").verdict == "not found"
    assert check_quote(searcher, '"" ... ؟').verdict == "not found"


def test_earliest_dated_source_comes_first(tmp_path, encoder):
    from indexer.build import index_sources

    quote = "the committee will publish its findings before the end of the year"
    rows = [
        {"id": "late", "date": "2021-03-04", "source": "Later Times", "text": f"Officials said {quote}. More text."},
        {"id": "undated", "source": "No Date Daily", "text": f"He said {quote}."},
        {"id": "early", "date": "2019-11-02", "source": "Early Post", "text": f"The minister said {quote}."},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    index_sources([path], tmp_path / "index", progress=False, loaded_encoder=encoder)
    searcher = Searcher.open(tmp_path / "index", encoder=encoder)
    check = check_quote(searcher, quote)
    assert check.verdict == "verbatim"
    assert [(m.article_id, m.source, m.date) for m in check.matches] == [
        ("early", "Early Post", "2019-11-02"),
        ("late", "Later Times", "2021-03-04"),
        ("undated", "No Date Daily", None),
    ]
