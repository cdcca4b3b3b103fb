"""Coverage over time: every matching article (not only the top k) counted per period, outlet and language, the
same from the library, the CLI and the API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bench.xquad import doc_id, paragraphs
from indexer.errors import BadQuery
from indexer.normalize import stemmed
from indexer.passages import sentences
from search_app.api import create_app
from search_app.cli import cli
from search_app.coverage import FLOOR, coverage, coverage_json, facet_names, period_end, period_label, period_start
from search_app.query import parse_query
from search_app.search import Searcher
from tests.index_checks import write_jsonl

ARABIC = range(0, 12)
ENGLISH = range(0, 4)  # the twins of the first four Arabic paragraphs


def dated(lang: str, i: int) -> str:
    """Arabic paragraphs a month apart through 2024 (two outlets); English ones in the same months."""
    return dt.date(2024, 1 + i, 3 + 7 * (i % 3)).isoformat()


@pytest.fixture(scope="module")
def index(tmp_path_factory, encoder) -> Path:
    from indexer.build import index_sources

    rows = [{"id": doc_id("ar", i), "text": paragraphs("ar")[i], "lang": "ar", "date": dated("ar", i),
             "source": "Outlet A" if i % 2 else "Outlet B"} for i in ARABIC]  # fmt: skip
    rows += [{"id": doc_id("en", i), "text": paragraphs("en")[i], "lang": "en", "date": dated("en", i),
              "source": "Wire"} for i in ENGLISH]  # fmt: skip
    rows.append({"id": "undated", "text": paragraphs("en")[5], "lang": "en", "source": "Wire"})
    folder = tmp_path_factory.mktemp("coverage")
    index_sources([write_jsonl(folder / "c.jsonl", rows)], folder / "index", progress=False, loaded_encoder=encoder)
    return folder / "index"


@pytest.fixture(scope="module")
def searcher(index: Path, encoder):
    opened = Searcher.open(index, encoder=encoder)
    yield opened
    opened.close()


def holding_every_word(searcher: Searcher, query: str) -> set[str]:
    """Articles one of whose passages holds every stem of ``query``, found by reading every passage here."""
    stems = set(parse_query(query).stems)
    retrieval = searcher.retrieval
    ids = [doc_id("ar", i) for i in ARABIC] + [doc_id("en", i) for i in ENGLISH] + ["undated"]
    articles = retrieval.articles(ids)
    return {
        p.article_id
        for p in retrieval.passages_of_articles(ids)
        if stems <= set(stemmed(articles[p.article_id].text[p.start : p.end]).split())
    }


def test_periods() -> None:
    day = dt.date(2024, 2, 29)  # a Thursday
    assert period_start(day, "week") == dt.date(2024, 2, 26)
    assert period_start(day, "month") == dt.date(2024, 2, 1)
    assert period_end(dt.date(2024, 2, 1), "month") == dt.date(2024, 2, 29)
    assert period_end(dt.date(2024, 12, 1), "month") == dt.date(2024, 12, 31)
    assert period_end(dt.date(2024, 2, 26), "week") == dt.date(2024, 3, 3)
    assert period_end(dt.date(2024, 1, 1), "year") == dt.date(2024, 12, 31)
    assert period_label(dt.date(2024, 2, 26), "week") == "2024-W09"
    assert period_label(dt.date(2024, 2, 1), "month") == "2024-02"
    assert facet_names("date, lang,date") == ("date", "lang")
    with pytest.raises(BadQuery, match="unknown facet 'outlet': use any of date, source, lang"):
        facet_names("date,outlet")


def test_lexical_coverage_is_every_article_holding_every_word(searcher: Searcher) -> None:
    for query in ("كرة القدم", "Super Bowl", "البرونكوس", "عام"):
        expected = holding_every_word(searcher, query)
        found = coverage(searcher, query, mode="lexical")
        assert found.articles == len(expected), query
        assert sum(b.count for b in found.buckets) + found.undated == found.articles
    many = coverage(searcher, "البرونكوس", mode="lexical")
    assert many.articles > 1  # more than a top-1 search shows: counts are not over the top k
    assert len(searcher.search("البرونكوس", k=1, mode="lexical")) == 1


def test_a_translation_counts_in_hybrid_mode_only(searcher: Searcher) -> None:
    text = paragraphs("en")[2]
    a, b = sentences(text)[2]  # "The past record was held by John Elway, …": its twin's USE cosine is 0.72
    sentence = text[a:b]
    lexical = coverage(searcher, sentence, mode="lexical", period="year")
    hybrid = coverage(searcher, sentence, mode="hybrid", period="year")
    assert dict(lexical.langs) == {"en": 1}  # only its own article holds every word
    assert dict(hybrid.langs)["ar"] >= 1  # the Arabic twin says the same (USE cosine over the floor)
    use = searcher.sentence_query_vector(sentence)
    arabic = {s.article_id for s, cos in searcher.retrieval.nearest_sentences(use, 50, searcher_filters("ar"))
              if cos >= FLOOR}  # fmt: skip
    assert doc_id("ar", 2) in arabic
    assert hybrid.articles == 1 + len(arabic)


def searcher_filters(lang: str):
    from indexer.filters import Filters

    return Filters.make(lang)


def test_buckets_fill_the_gaps_and_filters_narrow_them(searcher: Searcher) -> None:
    found = coverage(searcher, "عام", mode="lexical", period="month")
    labels = [b.label for b in found.buckets]
    assert labels == sorted(labels) and len(set(labels)) == len(labels)
    first, last = dt.date.fromisoformat(found.buckets[0].start), dt.date.fromisoformat(found.buckets[-1].start)
    assert len(labels) == (last.year - first.year) * 12 + last.month - first.month + 1  # empty months listed
    for bucket in found.buckets:
        assert bucket.count == sum(n for _, n in bucket.langs) == sum(n for _, n in bucket.sources)
    narrowed = coverage(searcher, "عام", mode="lexical", sources=["Outlet A"], date_from="2024-03-01")
    assert set(dict(narrowed.sources)) <= {"Outlet A"}
    assert all(b.start >= "2024-03-01" for b in narrowed.buckets if b.count)
    assert narrowed.articles <= found.articles


def test_undated_articles_are_counted_apart(searcher: Searcher) -> None:
    text = paragraphs("en")[5]
    sentence = next(text[a:b] for a, b in sentences(text) if len(text[a:b].split()) >= 8)
    found = coverage(searcher, sentence, mode="lexical")
    assert found.undated == 1 and found.articles == 1 and not any(b.count for b in found.buckets)


def test_cli_and_api_return_the_same_facets(index: Path, searcher: Searcher) -> None:
    query = "البرونكوس"
    found = coverage(searcher, query, mode="hybrid", period="week")
    expected = coverage_json(found, ("date", "source", "lang"))
    run = CliRunner().invoke(cli, ["search", query, "--index", str(index), "--json", "--facets", "date,source,lang",
                                   "--period", "week"])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["facets"] == expected
    client = TestClient(create_app(lambda: searcher))
    answer = client.get("/search", params={"q": query, "facets": "date,source,lang", "period": "week"})
    assert answer.status_code == 200
    assert answer.json()["facets"] == expected
    assert "facets" not in client.get("/search", params={"q": query}).json()
    lang_only = client.get("/search", params={"q": query, "facets": "lang"}).json()["facets"]
    assert set(lang_only) == {"floor", "articles", "capped", "lang"}
    bad = client.get("/search", params={"q": query, "facets": "when"})
    assert bad.status_code == 400 and "unknown facet 'when'" in bad.json()["error"]
    text = CliRunner().invoke(cli, ["search", query, "--index", str(index), "--facets", "lang,date"])
    assert text.exit_code == 0 and f"coverage: {found.articles} matching article(s)" in text.output
    wrong = CliRunner().invoke(cli, ["search", query, "--index", str(index), "--facets", "outlet"])
    assert wrong.exit_code == 2 and "unknown facet 'outlet'" in wrong.output
