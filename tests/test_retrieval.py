"""The retrieval interface: the search side asks it and nothing else, and its SQLite + FAISS implementation
answers as a plain Python scan of the same index would."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from indexer.build import lexical_forms
from indexer.filters import Filters
from indexer.normalize import normalize_text, tokens
from indexer.retrieval import IndexRetrieval, Retrieval

SEARCH_APP = Path(__file__).resolve().parents[1] / "search_app"
ENGINE_WORDS = re.compile(r"\bSELECT\b|\bMATCH\b|\.execute\(|\bimport (faiss|sqlite3)\b|\.store\b|\bIndexDir\b")


def test_the_search_side_holds_no_sql_fts_or_faiss() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(SEARCH_APP.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ENGINE_WORDS.search(line)
    ]
    assert found == []


@pytest.fixture(scope="module")
def retrieval(built_index):
    opened = IndexRetrieval.open(built_index)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def scanned(retrieval):
    """Every passage's (article, language, source, normalised words, stems), read the slow way."""
    rows = {}
    for article_id in _all_articles(retrieval):
        article = retrieval.article(article_id)
        for passage in retrieval.passages_of_articles([article_id]):
            stemmed, norm = lexical_forms(article.text[passage.start : passage.end])
            rows[passage.id] = (article, passage.lang, norm.split(), set(stemmed.split()))
    return rows


def _all_articles(retrieval: IndexRetrieval) -> list[str]:
    ids = retrieval.allowed(Filters.make(lang="ar")).tolist() + retrieval.allowed(Filters.make(lang="en")).tolist()
    return sorted({p.article_id for p in retrieval.passages(ids).values()})


def test_index_retrieval_is_a_retrieval(retrieval) -> None:
    def takes(r: Retrieval) -> int:
        return r.article_count()

    assert takes(retrieval) == len(_all_articles(retrieval)) > 0


def _holds(words: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(words[i : i + n] == run for i in range(len(words) - n + 1))


@pytest.mark.parametrize("run", [["الاتجار", "بالاشخاص"], ["the", "company"], ["said", "on"], ["في", "الكويت"]])
def test_allowed_and_containing_agree_with_a_scan(retrieval, scanned, run) -> None:
    expected = {pid for pid, (_, _, words, _) in scanned.items() if _holds(words, run)}
    assert set(retrieval.allowed(Filters(), [run]).tolist()) == expected
    assert retrieval.containing(run, Filters(), 10_000) == expected
    arabic = {pid for pid in expected if scanned[pid][1] == "ar"}
    assert retrieval.containing(run, Filters.make(lang="ar"), 10_000) == arabic
    others = {pid for pid, row in scanned.items() if row[1] != "en"}
    assert set(retrieval.allowed(Filters(), [run], other_than="en").tolist()) == expected | others


def test_filters_agree_with_a_scan(retrieval, scanned) -> None:
    source = next(row[0].source for row in scanned.values() if row[0].source)
    filters = Filters.make(sources=[source], date_from="2000-01-01")
    expected = {pid for pid, row in scanned.items() if row[0].source == source and (row[0].date or "") >= "2000"}
    assert set(retrieval.allowed(filters).tolist()) == expected
    assert retrieval.allowed(Filters()) is None


def test_lexical_finds_every_passage_with_a_stem_and_quotes_hostile_words(retrieval, scanned) -> None:
    stems = [t.stem for t in tokens(normalize_text("الاتجار trade"))]
    found = retrieval.lexical(stems, [], Filters(), 10_000)
    assert set(found) == {pid for pid, row in scanned.items() if row[3] & set(stems)}
    assert all(score > 0 for score in found.values())
    assert retrieval.lexical(['"', "NEAR(", "*", "a:b"], [['"', "OR"]], Filters(), 10) == {}
    assert retrieval.lexical([], [], Filters(), 10) == {}


def test_dense_and_cosines_agree(retrieval) -> None:
    ids = sorted(retrieval.passages(retrieval.allowed(Filters.make(lang="ar")).tolist()))
    vector = retrieval.index.vectors.vectors(ids[:1])[0]
    top = retrieval.dense(vector, 5, None)
    assert next(iter(top)) == ids[0]
    exact = retrieval.cosines(vector, list(top))
    for pid, score in top.items():
        assert exact[pid] == pytest.approx(score, abs=1e-4)
    inside = retrieval.dense(vector, 5, np.array(ids[1:], dtype=np.int64))
    assert ids[0] not in inside and set(inside) <= set(ids)


def test_nearest_sentences_respect_filters(retrieval) -> None:
    ids, codes = retrieval.index.store.all_sentence_vectors(512)
    vector = codes[0].astype(np.float32) / np.linalg.norm(codes[0].astype(np.float32))
    nearest = retrieval.nearest_sentences(vector, 5, Filters())
    assert nearest[0][0].id == ids[0]
    english = retrieval.nearest_sentences(vector, 5, Filters.make(lang="en"))
    assert english and all(retrieval.article(s.article_id).lang == "en" for s, _ in english)


LEXICAL_QUERIES = [
    ("الاتجار بالأشخاص", [], Filters()),
    ("trade oil prices company", [], Filters()),
    ("الاقتصاد النمو الحكومة", [], Filters(lang="ar")),
    ("merger offers shares", [], Filters(sources=("Reuters",), date_from="1987-03-01", date_to="1987-03-31")),
    ("الهلال المملكة", [], Filters(sources=("Al-Yaum", "Okaz", "Sabq"))),
    ("cominco beryllium mining", [["joint", "venture"]], Filters()),
    ("الجهود", [["الاتجار", "بالاشخاص"]], Filters()),
]


@pytest.mark.parametrize(("text", "phrases", "filters"), LEXICAL_QUERIES)
def test_lexical_ranks_as_fts5_does(retrieval, text, phrases, filters) -> None:
    """tantivy picks the candidates; they are scored to FTS5's own bm25() values, in its order."""
    stems = list(dict.fromkeys(t.stem for t in tokens(normalize_text(text))))
    expected = retrieval._fts_lexical(stems, phrases, filters, 20)  # noqa: SLF001 - FTS5 alone, the reference
    found = retrieval.lexical(stems, phrases, filters, 20)
    assert expected, text
    assert list(found) == list(expected)
    for passage_id, score in found.items():
        assert score == pytest.approx(expected[passage_id], rel=1e-9)
