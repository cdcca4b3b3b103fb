"""The Milvus backend against the SQLite + FAISS one: a real ``milvus-lite server`` on a free port of 127.0.0.1, the
real test index synced into it, and the same queries asked of both through ``Searcher``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.build import delete_articles, index_sources
from indexer.errors import BackendUnavailable, BadBackend, IndexNotFound
from indexer.filters import Filters
from indexer.milvus import Connection, parse_backend
from indexer.milvus_retrieval import MilvusRetrieval
from indexer.milvus_sync import sync_index
from indexer.retrieval import IndexRetrieval
from search_app.cli import cli
from search_app.coverage import coverage
from search_app.query import parse_query
from search_app.quotes import check_quote
from search_app.search import Searcher
from tests.processes import stop

SEED = "000_9ff4965ff1aa788a"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """``HOST:PORT`` of a real milvus-lite server, running until the module's tests are done."""
    folder = tmp_path_factory.mktemp("milvus")
    port = free_port()
    log = (folder / "server.log").open("w")
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(folder / "data"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "milvus-lite server did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process, timeout=10)
        log.close()


@pytest.fixture(scope="module")
def backend(server, built_index) -> str:
    uri = f"milvus://{server}/news"
    report = sync_index(built_index, uri)
    assert report.problems == [] and report.removed == 0 and report.written > 0
    return uri


@pytest.fixture(scope="module")
def local(built_index, encoder):
    searcher = Searcher.open(built_index, encoder=encoder)
    yield searcher
    searcher.close()


@pytest.fixture(scope="module")
def remote(backend, encoder):
    searcher = Searcher.open(backend=backend, encoder=encoder)
    yield searcher
    searcher.close()


QUERIES = [
    ("الاتجار بالأشخاص", {}),
    ("human trafficking in Kuwait", {}),
    ("oil prices fell", {"mode": "semantic"}),
    ("مكافحة الاتجار", {"mode": "semantic"}),
    ("economy", {"lang": "en"}),
    ("الاقتصاد السعودي", {"lang": "ar"}),
    ("trade", {"sources": ["Reuters"]}),
    ("النمو", {"sources": ["Al Arabiya", "Okaz", "Sabq"]}),
    ("prices", {"date_from": "1987-03-01", "date_to": "1987-03-31"}),
    ("الرياض", {"date_from": "2018-01-01"}),
    ('"الاتجار بالأشخاص"', {}),
    ('"the company" profit', {}),
    ("وقال القلاف خلال مشاركتة فى ندوة فى الرياض", {}),
    ("trafficking", {"sort": "date"}),
    ("الاتجار بالأشخاص", {"speaker": "القلاف"}),
    ("company profit", {"speaker": "the company"}),
]
LEXICAL = [
    ("merger offers", {}),
    ("الفساد المالي", {}),
    ("car exports", {"lang": "en"}),
    ('"الاتجار بالأشخاص"', {}),
    ('"joint venture"', {}),
    ("الهلال", {"sources": ["Al-Yaum", "Sabq"]}),
    ("الحج", {"date_from": "2015-07-22", "date_to": "2015-07-31"}),
]
QUOTES = [
    "أكد أن هذه الاستراتيجية تمثل نقطة انطلاق نحو مرحلة جديدة من الجدية والشفافية",
    "اكد ان هذه الاستراتيجيه تمثل نقطه انطلاق نحو مرحله جديده من الجديه والشفافيه",
    "Viacom received two revised offers",
    "this strategy marks a starting point towards a new phase of seriousness and transparency",
]


def _ids(hits) -> list[str]:
    return [h.article_id for h in hits]


@pytest.mark.parametrize(("query", "options"), QUERIES)
def test_same_articles_in_the_same_order(local, remote, query, options) -> None:
    expected = local.search(query, k=10, **options)
    found = remote.search(query, k=10, **options)
    assert expected, query
    assert _ids(found) == _ids(expected)
    for a, b in zip(found, expected, strict=True):
        assert [p.passage_id for p in a.passages] == [p.passage_id for p in b.passages]
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert a.best.spans == b.best.spans


@pytest.mark.parametrize(("query", "options"), LEXICAL)
def test_lexical_finds_the_same_articles(local, remote, query, options) -> None:
    expected = local.search(query, k=50, mode="lexical", **options)
    found = remote.search(query, k=50, mode="lexical", **options)
    assert expected, query
    # Milvus's BM25 picks the candidates; they are scored as FTS5's bm25() scores them (indexer.bm25), so the
    # order is the same too.
    assert _ids(found) == _ids(expected)
    for a, b in zip(found, expected, strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-6)


@pytest.mark.parametrize("quote", QUOTES)
def test_quote_checks_agree(local, remote, quote) -> None:
    expected, found = check_quote(local, quote), check_quote(remote, quote)
    assert expected.verdict != "not found", quote
    assert found.verdict == expected.verdict
    assert [(m.article_id, m.start, m.end, m.verdict) for m in found.matches] == [
        (m.article_id, m.start, m.end, m.verdict) for m in expected.matches
    ]


def same_ids(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """The same set of ids (``allowed`` promises no order), and not an empty one."""
    return a is not None and b is not None and len(a) > 0 and np.array_equal(np.sort(a), np.sort(b))


def test_the_interface_answers_alike(backend, built_index, encoder) -> None:
    sqlite, milvus = IndexRetrieval.open(built_index), MilvusRetrieval.open(backend)
    try:
        assert milvus.generation == sqlite.generation and milvus.encoder == sqlite.encoder
        assert milvus.languages() == sqlite.languages() and milvus.sources() == sqlite.sources()
        assert milvus.date_range() == sqlite.date_range()
        assert milvus.article_count() == sqlite.article_count()
        for filters in (Filters(lang="en"), Filters(sources=("Okaz", "Reuters")), Filters(date_to="2015-12-31")):
            assert same_ids(milvus.allowed(filters), sqlite.allowed(filters))
        phrases = [["الاتجار", "بالاشخاص"]]
        assert same_ids(milvus.allowed(Filters(), phrases), sqlite.allowed(Filters(), phrases))
        both = milvus.allowed(Filters(), phrases, other_than="ar")
        assert same_ids(both, sqlite.allowed(Filters(), phrases, other_than="ar"))
        assert milvus.containing(["joint", "venture"], Filters(), 10) == sqlite.containing(
            ["joint", "venture"], Filters(), 10
        )
        articles = sorted(sqlite.store.iter_article_ids())
        assert milvus.articles(articles) == sqlite.articles(articles)
        assert milvus.article("no such article") is None
        vector = encoder.encode_queries(["oil and the economy"])[0]
        assert milvus.dense(vector, 5, None).keys() == sqlite.dense(vector, 5, None).keys()
        ids = sorted(sqlite.dense(vector, 8, None))
        assert milvus.passages(ids) == sqlite.passages(ids)
        for key, value in milvus.cosines(vector, ids).items():
            assert value == pytest.approx(sqlite.cosines(vector, ids)[key], abs=1e-6)
        passage = sqlite.passages(ids[:1])[ids[0]]
        found = milvus.sentences_between(passage.article_id, passage.start, passage.end)
        expected = sqlite.sentences_between(passage.article_id, passage.start, passage.end)
        assert [(s.id, s.start, s.end, s.lang, s.vector.tolist()) for s in found] == [
            (s.id, s.start, s.end, s.lang, s.vector.tolist()) for s in expected
        ] and found
    finally:
        sqlite.close()
        milvus.close()


COVERAGE = [
    ("الاتجار بالأشخاص", {}),
    ("company shares", {"mode": "lexical"}),
    ('"joint venture"', {}),
    ("الرياض", {"lang": "ar", "date_from": "2018-01-01"}),
    ("this strategy marks a starting point towards a new phase of seriousness and transparency", {}),
]


@pytest.mark.parametrize(("query", "options"), COVERAGE)
def test_coverage_counts_agree(local, remote, query, options) -> None:
    expected = coverage(local, query, period="week", **options)
    assert expected.articles, query
    assert coverage(remote, query, period="week", **options) == expected


def test_matching_and_facts_answer_alike(backend, built_index) -> None:
    sqlite, milvus = IndexRetrieval.open(built_index), MilvusRetrieval.open(backend)
    try:
        for query, filters in (
            ("الاتجار بالأشخاص", Filters()),
            ("company", Filters(lang="en")),
            ('"joint venture"', Filters(date_to="1987-12-31")),
            ('venture "joint venture"', Filters()),
            ('"الاتجار بالأشخاص"', Filters(lang="ar")),
        ):
            parsed = parse_query(query)
            expected = sqlite.matching(parsed.stems, parsed.phrases, filters, 1000)
            assert expected, query
            assert milvus.matching(parsed.stems, parsed.phrases, filters, 1000) == expected
        stems = parse_query("company").stems
        found = sqlite.matching(stems, [], Filters(), 1000)
        assert len(found) > 2 and milvus.matching(stems, [], Filters(), 2) == dict(list(found.items())[:2])
        articles = sorted(sqlite.store.iter_article_ids())
        assert milvus.article_facts(articles) == sqlite.article_facts(articles)
        passages = [p.id for p in sqlite.passages_of_articles(articles)]
        quoted = sqlite.passage_speakers(passages)
        assert quoted and milvus.passage_speakers(passages) == quoted
        sentences = [i for (i,) in sqlite.store.db.execute("SELECT id FROM sentences ORDER BY id")]
        assert milvus.sentence_speakers(sentences) == sqlite.sentence_speakers(sentences)
        assert milvus.speakers_between(SEED, 0, 10_000) == sqlite.speakers_between(SEED, 0, 10_000) != []
        for name in ("القلاف", "the company"):
            wanted = Filters.make(speaker=name)
            assert same_ids(milvus.allowed(wanted), sqlite.allowed(wanted))
        nobody = Filters.make(speaker="nobody of that name")
        assert len(milvus.allowed(nobody)) == len(sqlite.allowed(nobody)) == 0
    finally:
        sqlite.close()
        milvus.close()


def test_a_sync_writes_only_what_changed(server, built_index, encoder, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    uri = f"milvus://{server}/changes"
    first = sync_index(copy, uri)
    assert (first.written, first.removed) == (first.unchanged + first.written, 0)
    again = sync_index(copy, uri)
    assert (again.written, again.removed, again.unchanged) == (0, 0, first.written)
    assert delete_articles(copy, [SEED]) == ([SEED], [])
    after = sync_index(copy, uri)
    assert (after.written, after.removed, after.unchanged) == (0, 1, first.written - 1)
    searcher = Searcher.open(backend=uri, encoder=encoder)
    try:
        assert searcher.retrieval.article(SEED) is None
        assert SEED not in _ids(searcher.search("الاتجار بالأشخاص", k=20))
        assert searcher.retrieval.generation == IndexRetrieval.open(copy).generation
    finally:
        searcher.close()
        Connection.open(uri).drop()


def test_clusters_and_copies_answer_alike(server, built_index, encoder, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    opened = IndexRetrieval.open(copy)
    try:
        english = [a for a in opened.store.iter_article_ids() if a.startswith("reuters-")]
        original = max(opened.articles(english).values(), key=lambda a: len(a.text))
    finally:
        opened.close()
    rerun = {"id": "rerun", "title": "", "source": "Outlet Rerun", "date": "2020-01-01", "lang": original.lang,
             "text": original.text[: int(len(original.text) * 0.8)]}  # fmt: skip
    path = tmp_path / "rerun.jsonl"
    path.write_text(json.dumps(rerun, ensure_ascii=False) + "\n", encoding="utf-8")
    index_sources([path], copy, progress=False, loaded_encoder=encoder)
    uri = f"milvus://{server}/clusters"
    sync_index(copy, uri)
    sqlite, milvus = IndexRetrieval.open(copy), MilvusRetrieval.open(uri)
    local, remote = Searcher(sqlite, encoder), Searcher(milvus, encoder)
    try:
        articles = sorted(sqlite.store.iter_article_ids())
        assert milvus.clusters(articles) == sqlite.clusters(articles)
        assert sqlite.clusters([original.id, "rerun"]) == {original.id: min(original.id, "rerun"),
                                                            "rerun": min(original.id, "rerun")}  # fmt: skip
        assert milvus.copies(articles) == sqlite.copies(articles) and len(sqlite.copies(articles)) == 2
        hits = local.search(original.text[:150], k=5)
        found = remote.search(original.text[:150], k=5)
        assert [(h.article_id, h.copies) for h in found] == [(h.article_id, h.copies) for h in hits]
        assert [h.score for h in found] == pytest.approx([h.score for h in hits], abs=1e-4)
        story = {original.id, "rerun"}
        shown = [h for h in hits if h.article_id in story]
        assert len(shown) == 1 and [c.article_id for c in shown[0].copies] == sorted(story - {shown[0].article_id})
    finally:
        local.close()
        remote.close()
        Connection.open(uri).drop()


def test_the_cli_searches_milvus(backend, built_index) -> None:
    runner = CliRunner()
    args = ["search", "human trafficking in Kuwait", "--json", "-k", "5"]
    local = runner.invoke(cli, [*args, "--index", str(built_index)])
    remote = runner.invoke(cli, [*args, "--backend", backend])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    ids = [[h["article_id"] for h in json.loads(out.output)["results"]] for out in (local, remote)]
    assert ids[0] == ids[1] and ids[0]
    quote = runner.invoke(cli, ["quote", QUOTES[0], "--json", "--backend", backend])
    assert quote.exit_code == 0 and json.loads(quote.output)["verdict"] == "verbatim"


def test_sync_from_the_cli_says_what_it_wrote(server, built_index) -> None:
    uri = f"milvus://{server}/from_cli"
    result = CliRunner().invoke(cli, ["sync", "--index", str(built_index), "--backend", uri, "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"synced generation {IndexRetrieval.open(built_index).generation} to {uri}: ")
    Connection.open(uri).drop()


USAGE = "use milvus://HOST:PORT/COLLECTION"
BAD_ADDRESSES = [
    ("http://127.0.0.1:19530/news", f"not a Milvus address: 'http://127.0.0.1:19530/news' ({USAGE})"),
    (
        "milvus://127.0.0.1/news",
        f"'milvus://127.0.0.1/news' names no port ({USAGE}; Milvus listens on 19530 by default)",
    ),
    (
        "milvus://u:p@127.0.0.1:19530/news",
        "'milvus://u:p@127.0.0.1:19530/news': put credentials in $SAHAFA_MILVUS_TOKEN, not in the address",
    ),
    (
        "milvus://127.0.0.1:19530/9news",
        "'milvus://127.0.0.1:19530/9news': the collection must be a name of letters, digits and underscores, "
        f"not starting with a digit ({USAGE})",
    ),
]


@pytest.mark.parametrize(("address", "message"), BAD_ADDRESSES)
def test_a_bad_address_says_what_is_wrong(address, message) -> None:
    with pytest.raises(BadBackend) as caught:
        parse_backend(address)
    assert str(caught.value) == message
    result = CliRunner().invoke(cli, ["search", "x", "--backend", address])
    assert result.exit_code != 0 and message in result.output


def test_an_unreachable_or_empty_backend_fails_in_one_line(server) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        Connection.open(f"milvus://127.0.0.1:{free_port()}/news", timeout=2)
    assert str(caught.value).startswith("cannot reach Milvus at milvus://127.0.0.1:")
    assert "\n" not in str(caught.value)
    with pytest.raises(IndexNotFound) as missing:
        MilvusRetrieval.open(f"milvus://{server}/never_synced")
    assert str(missing.value) == (
        f"no Sahafa index in Milvus at milvus://{server}/never_synced: sync one with: sahafa sync --index DIR "
        f"--backend milvus://{server}/never_synced"
    )
