"""Bilingual search on a mixed-language index: a translated sentence finds its source, a pasted quote ranks first,
every hit's best sentence comes from the sentence index, and both languages stay in view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.xquad import doc_id, paragraphs
from indexer.passages import sentences
from search_app.cli import cli
from search_app.quotes import check_quote
from search_app.search import Searcher
from tests.index_checks import write_jsonl

ARABIC = range(0, 20)  # paragraphs indexed in Arabic only
ENGLISH = range(20, 40)  # and these in English only: neighbours on the same topics, never the twin


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, encoder) -> Path:
    from indexer.build import index_sources

    rows = [{"id": doc_id("ar", i), "text": paragraphs("ar")[i], "lang": "ar", "source": "XQuAD ar"} for i in ARABIC]
    rows += [{"id": doc_id("en", i), "text": paragraphs("en")[i], "lang": "en", "source": "XQuAD en"} for i in ENGLISH]
    folder = tmp_path_factory.mktemp("mixed")
    index_sources([write_jsonl(folder / "mixed.jsonl", rows)], folder / "index", progress=False, loaded_encoder=encoder)
    return folder / "index"


@pytest.fixture(scope="module")
def searcher(mixed: Path, encoder):
    opened = Searcher.open(mixed, encoder=encoder)
    yield opened
    opened.close()


def first_sentences(lang: str, paragraph: int, n: int = 2) -> list[str]:
    text = paragraphs(lang)[paragraph]
    return [text[a:b] for a, b in sentences(text) if len(text[a:b].split()) >= 8][:n]


@pytest.mark.parametrize("paragraph", [0, 3, 6, 9, 12])
def test_an_english_sentence_finds_the_arabic_article_that_translates_it(searcher, paragraph: int) -> None:
    for sentence in first_sentences("en", paragraph):
        hits = searcher.search(sentence, k=5)
        assert hits[0].article_id == doc_id("ar", paragraph), sentence
        marked = [s for s in hits[0].best.spans if s.kind == "sentence"]
        assert len(marked) == 1  # the Arabic sentence that says it, from the sentence index


@pytest.mark.parametrize("paragraph", [21, 24, 27, 30, 33])
def test_an_arabic_sentence_finds_the_english_article_that_translates_it(searcher, paragraph: int) -> None:
    for sentence in first_sentences("ar", paragraph):
        assert searcher.search(sentence, k=5)[0].article_id == doc_id("en", paragraph), sentence


def test_containment_beats_cosine(tmp_path: Path, encoder) -> None:
    """A pasted quote ranks its source first even where another article is nearer in meaning."""
    from indexer.build import index_sources

    quote = "the ministry will review every fuel subsidy before the budget is approved"
    rows = [
        {"id": "source", "lang": "en", "text": "Weather and sport. On Monday, as the football season opened with "
         "twelve teams and heavy rain fell across the north, officials told reporters that " + quote + ", a step the "
         "transport unions welcomed while farmers asked for more time."},
        {"id": "nearer", "lang": "en", "text": "Fuel subsidies under review. The ministry will review each subsidy on "
         "fuel before the budget gets approved. Every fuel subsidy is to be reviewed by the ministry before approval "
         "of the budget."},
    ]  # fmt: skip
    index_sources([write_jsonl(tmp_path / "q.jsonl", rows)], tmp_path / "index", progress=False, loaded_encoder=encoder)
    searcher = Searcher.open(tmp_path / "index", encoder=encoder)
    try:
        semantic = searcher.search(quote, mode="semantic")
        assert semantic[0].article_id == "nearer"  # the case this rule exists for
        for mode in ("hybrid", "lexical"):
            hits = searcher.search(quote, mode=mode)
            assert hits[0].article_id == "source", mode
            phrase = [s for s in hits[0].best.spans if s.kind == "phrase"]
            assert [hits[0].text[s.start : s.end] for s in phrase] == [quote]
        respelled = searcher.search("The Ministry will review every fuel-subsidy, before the budget is approved!")
        assert respelled[0].article_id == "source"
    finally:
        searcher.close()


def test_every_hit_gets_its_best_sentence_from_the_sentence_index(searcher, monkeypatch) -> None:
    searcher.search("Who ruled the Normans?", k=10)  # query vectors cached: what follows encodes nothing
    monkeypatch.setattr(searcher.encoder, "encode_passages", pytest.fail)
    hits = searcher.search("Who ruled the Normans?", k=10)
    assert len(hits) == 10
    for hit in hits:
        marked = [s for s in hit.best.spans if s.kind == "sentence"]
        assert len(marked) == 1 and hit.best.start <= marked[0].start < marked[0].end <= hit.best.end


def test_both_languages_are_counted(searcher) -> None:
    results = searcher.results("Normans", k=3, lang="en")
    assert set(results.languages) == {"ar", "en"}
    assert results.languages["ar"].hits == 0 and results.languages["en"].hits == 3
    both = searcher.results("the history of the Normans in France", k=10)
    assert all(count.candidates > 0 for count in both.languages.values())
    assert sum(count.hits for count in both.languages.values()) == len(both.hits) == 10


def test_cli_json_reports_languages(mixed: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "Normans", "--index", str(mixed), "--json", "-k", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["languages"]) == {"ar", "en"}
    assert sum(v["hits"] for v in data["languages"].values()) == len(data["results"]) == 4
    assert all(r["lang"] in ("ar", "en") for r in data["results"])
    text = CliRunner().invoke(cli, ["search", "Normans", "--index", str(mixed), "-k", "4"]).output
    assert "Arabic" in text.splitlines()[0] and "English" in text.splitlines()[0]


def test_translation_verdict_shows_the_original_sentence(searcher) -> None:
    english = first_sentences("en", 3, 1)[0]
    check = check_quote(searcher, english)
    assert check.verdict == "translation"
    match = check.matches[0]
    assert (match.article_id, match.lang) == (doc_id("ar", 3), "ar")
    assert match.text in paragraphs("ar")[3] and match.similarity >= 0.7


def test_an_unrelated_quote_is_not_a_translation(searcher) -> None:
    assert check_quote(searcher, "The central bank raised interest rates by half a point on Tuesday").verdict == (
        "not found"
    )
