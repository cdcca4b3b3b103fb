"""The indexes derived from SQLite (the FAISS files, the lexical index): behind it for a moment, never wrong about
it, and brought up to it by adding what came after them instead of rebuilding."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer.build import delete_articles, index_sources
from indexer.columns import Columns
from indexer.config import DATABASE_FILE, SENTENCES_FILE, SENTENCES_STAMP, VECTORS_FILE, VECTORS_STAMP
from indexer.filters import Filters
from indexer.index import IndexDir
from indexer.lexical import LEXICAL_DIR, LEXICAL_STAMP, LexicalIndex, day_number
from indexer.normalize import normalize_text, tokens
from indexer.retrieval import IndexRetrieval
from indexer.store import Store
from tests.conftest import SEEDS
from tests.index_checks import assert_agrees


def stems(text: str) -> list[str]:
    return list(dict.fromkeys(t.stem for t in tokens(normalize_text(text))))


def test_day_numbers() -> None:
    assert day_number("2018-03-01T21:09:02+04:00") == 20180301
    assert [day_number(d) for d in (None, "", "2018", "someday x")] == [None, None, None, None]


DERIVED = (LEXICAL_DIR, LEXICAL_STAMP, VECTORS_FILE, VECTORS_STAMP, SENTENCES_FILE, SENTENCES_STAMP)


@pytest.fixture
def behind(tmp_path: Path, encoder, news_jsonl: Path) -> Path:
    """An index whose derived files were saved before the news articles were committed: what a reader sees
    between a writer's SQLite commits and its next save (or after a writer was killed)."""
    path = tmp_path / "index"
    index_sources([SEEDS], path, progress=False, loaded_encoder=encoder)
    saved = tmp_path / "saved"
    _copy(path, saved)
    index_sources([news_jsonl], path, progress=False, loaded_encoder=encoder)
    _copy(saved, path)
    return path


def _copy(source: Path, target: Path) -> None:
    target.mkdir(exist_ok=True)
    for name in DERIVED:
        if (target / name).is_dir():
            shutil.rmtree(target / name)
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            shutil.copy(source / name, target / name)


def test_faiss_files_behind_the_store_are_caught_up_not_rebuilt(behind: Path, monkeypatch) -> None:
    def rebuilt(*args: object) -> None:
        raise AssertionError("rebuilt from SQLite")

    monkeypatch.setattr(IndexDir, "_rebuilt", rebuilt)
    reader = IndexDir.open_reader(behind)
    assert reader.vectors.generation == reader.sentences.generation == reader.store.generation
    assert reader.vectors.size == reader.store.count("passages")
    assert reader.sentences.size == reader.store.count("sentences")
    reader.close()
    monkeypatch.undo()
    assert_agrees(behind)


def test_faiss_files_holding_deleted_rows_are_rebuilt(behind: Path) -> None:
    IndexDir.open(behind).close()  # caught up and saved
    saved = behind.parent / "after"
    _copy(behind, saved)
    assert delete_articles(behind, ["reuters-00219"]) == (["reuters-00219"], [])
    _copy(saved, behind)  # as if the delete was killed before it saved
    reader = IndexDir.open_reader(behind)
    assert reader.vectors.size == reader.store.count("passages")  # rebuilt in memory: the reader writes nothing
    reader.close()
    assert_agrees(behind)


def test_a_reader_finds_what_was_committed_after_the_lexical_index(behind: Path) -> None:
    retrieval = IndexRetrieval.open(behind)
    try:
        lexical = retrieval.index.lexical
        assert lexical is not None and lexical.high < retrieval.store.high("passages")
        news = stems("merger offers Viacom")
        expected = retrieval._fts_lexical(news, [], Filters(), 10)  # noqa: SLF001 - FTS5 alone, the reference
        assert expected and min(expected) > lexical.high  # only the rows after the commit hold these words
        assert retrieval.lexical(news, [], Filters(), 10) == pytest.approx(expected)
        seeds = stems("الاتجار بالأشخاص الاستراتيجية")
        assert list(retrieval.lexical(seeds, [], Filters(), 10)) == list(
            retrieval._fts_lexical(seeds, [], Filters(), 10)  # noqa: SLF001
        )
    finally:
        retrieval.close()


def test_a_writer_adds_what_its_lexical_index_missed(behind: Path) -> None:
    build = json.loads((behind / LEXICAL_STAMP).read_text())["build"]
    IndexDir.open(behind).close()  # as the next sahafa index or delete opens it
    stamp = json.loads((behind / LEXICAL_STAMP).read_text())
    assert stamp["build"] == build  # caught up, not rebuilt
    assert_agrees(behind)


def test_a_lexical_index_that_holds_deleted_passages_is_rebuilt(behind: Path) -> None:
    IndexDir.open(behind).close()
    saved = json.loads((behind / LEXICAL_STAMP).read_text())
    shutil.copytree(behind / LEXICAL_DIR, behind.parent / "kept")
    assert delete_articles(behind, ["reuters-00219"]) == (["reuters-00219"], [])
    shutil.rmtree(behind / LEXICAL_DIR)  # as if the delete was killed before it committed the lexical index
    shutil.copytree(behind.parent / "kept", behind / LEXICAL_DIR)
    (behind / LEXICAL_STAMP).write_text(json.dumps(saved))
    reader = IndexRetrieval.open(behind)  # a reader meanwhile: the deleted article's passages drop out
    assert all(reader.passages([i]) for i in reader.lexical(stems("Italian coalition government"), [], Filters(), 50))
    reader.close()
    assert_agrees(behind)  # the writer's open rebuilt it
    assert json.loads((behind / LEXICAL_STAMP).read_text())["build"] != saved["build"]


def test_a_missing_or_damaged_lexical_index_is_rebuilt_and_readers_fall_back_to_fts5(
    built_index: Path, tmp_path: Path
) -> None:
    path = tmp_path / "index"
    shutil.copytree(built_index, path)
    (path / LEXICAL_STAMP).write_text("{not json")
    reader = IndexRetrieval.open(path)
    assert reader.index.lexical is None
    assert reader.lexical(stems("الاتجار"), [], Filters(), 5)  # FTS5 alone
    reader.close()
    assert_agrees(path)
    shutil.rmtree(path / LEXICAL_DIR)
    assert_agrees(path)
    assert LexicalIndex.open(path) is not None


def test_row_ids_are_never_reused(tmp_path: Path, encoder) -> None:
    path = tmp_path / "index"
    index_sources([SEEDS], path, progress=False, loaded_encoder=encoder)
    store = Store(path / DATABASE_FILE)
    high = store.high("passages")
    last = store.db.execute("SELECT article_id FROM passages WHERE id = ?", (high,)).fetchone()[0]
    store.close()
    delete_articles(path, [last])  # the article holding the largest id
    index_sources([SEEDS], path, progress=False, loaded_encoder=encoder)  # and the same article again
    store = Store(path / DATABASE_FILE)
    again = [r[0] for r in store.db.execute("SELECT id FROM passages WHERE article_id = ?", (last,))]
    assert min(again) > high
    store.close()


FILTERS = [
    Filters(lang="ar"),
    Filters(lang="en", date_from="1987-03-01"),
    Filters(sources=("Okaz", "Reuters", "no such outlet")),
    Filters(date_from="2015-07-21", date_to="2015-07-22"),
    Filters(date_to="2015-12-31"),
]


def _sql(store: Store, table: str, filters: Filters) -> list[int]:
    """The filter as SQL over the articles' fields: the reference."""
    sql = f"SELECT x.id, a.lang, a.source, a.date FROM {table} x JOIN articles a ON a.id = x.article_id"
    rows = store.db.execute(sql)
    return sorted(
        i for i, lang, source, date in rows
        if (not filters.lang or lang == filters.lang) and (not filters.sources or source in filters.sources)
        and (not filters.date_from or (date and date[:10] >= filters.date_from))
        and (not filters.date_to or (date and date[:10] <= filters.date_to))
    )  # fmt: skip


def test_filter_columns_follow_the_store(tmp_path: Path, encoder, news_jsonl: Path) -> None:
    path = tmp_path / "index"
    index_sources([SEEDS], path, progress=False, loaded_encoder=encoder)
    store = Store(path / DATABASE_FILE, readonly=True)
    columns = {table: Columns.read(store, table) for table in ("passages", "sentences")}
    index_sources([news_jsonl], path, progress=False, loaded_encoder=encoder)
    for table, held in columns.items():
        followed = held.follow(store)
        assert followed is held and len(held.ids) == store.count(table)  # extended, not read again
        for filters in FILTERS:
            assert held.select(filters).tolist() == _sql(store, table, filters), (table, filters)
    delete_articles(path, ["reuters-00219"])
    for table, held in columns.items():
        followed = held.follow(store)
        assert followed is not held and len(followed.ids) == store.count(table)
        assert followed.select(Filters(lang="en")).tolist() == _sql(store, table, Filters(lang="en"))
    store.close()
