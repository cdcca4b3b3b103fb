"""indexer.build on real articles: config.json, SQLite/FTS/FAISS agreement, incremental updates, deletion,
vector reuse and the mismatch messages. The FAISS wrapper alone is tested on fixed vectors at the end."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from index_checks import assert_agrees, faiss_ids, write_jsonl

from indexer.build import delete_articles, index_sources, lexical_forms, sha1
from indexer.config import CONFIG_FILE, DEFAULT_ENCODER, VECTORS_FILE, VECTORS_STAMP
from indexer.errors import BadSource, IndexMismatch, IndexNotFound
from indexer.index import IndexDir
from indexer.normalize import stemmed
from indexer.passages import split_passages
from indexer.records import Article
from indexer.sentences import SCALE
from indexer.vectors import VectorIndex

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SMALL = ("antm-FR-culture-106-20180630", "antm-SK-economy-1061-20180731", "reuters-00219", "reuters-00633")


@pytest.fixture
def rows(news_jsonl: Path) -> dict[str, dict]:
    """The news sample by id (fresh copies: tests may edit them)."""
    return {r["id"]: r for r in map(json.loads, news_jsonl.read_text(encoding="utf-8").splitlines())}


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory, news_jsonl: Path, encoder) -> Path:
    """A real index of four articles, two Arabic and two English, built once per module."""
    rows = {r["id"]: r for r in map(json.loads, news_jsonl.read_text(encoding="utf-8").splitlines())}
    folder = tmp_path_factory.mktemp("small")
    source = write_jsonl(folder / "small.jsonl", [rows[i] for i in SMALL])
    report = index_sources([source], folder / "index", progress=False, loaded_encoder=encoder)
    assert (report.read, report.indexed, report.skipped) == (4, 4, 0)
    assert report.passages_embedded == 6 and report.passages_reused == 0
    return folder


@pytest.fixture
def small(small_template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(index, source): a private copy of the four-article index and the JSONL it was built from."""
    shutil.copytree(small_template, tmp_path, dirs_exist_ok=True)
    return tmp_path / "index", tmp_path / "small.jsonl"


def as_article(row: dict) -> Article:
    return Article(id=row["id"], text=row["text"], lang=row["lang"])


def passage_ids(index_dir: Path, article_id: str) -> list[int]:
    index = IndexDir.open(index_dir)
    try:
        return [p.id for p in index.store.passages_of(article_id)]
    finally:
        index.close()


# --- the shared real index -------------------------------------------------------------------------------


def test_config_json_records_how_the_index_was_built(built_index: Path, encoder) -> None:
    assert json.loads((built_index / CONFIG_FILE).read_text(encoding="utf-8")) == {
        "encoder": DEFAULT_ENCODER,
        "dim": encoder.dim,
        "format_version": 1,
        "normalizer_version": 1,
        "passages": {"min_words": 60, "max_words": 160, "overlap_sentences": 1},
    }
    names = {p.name for p in built_index.iterdir()}
    fixed = {"config.json", "vectors.faiss", "vectors.json", "sentences.faiss", "sentences.json", "write.lock",
             "lexical", "lexical.json"}  # fmt: skip
    assert fixed | {"sahafa.sqlite"} <= names
    assert all(n.startswith("sahafa.sqlite") for n in names - fixed)


def test_sqlite_fts_and_faiss_agree_on_the_real_index(built_index: Path, news_jsonl: Path) -> None:
    counts = assert_agrees(built_index)
    news = [json.loads(line) for line in news_jsonl.read_text(encoding="utf-8").splitlines()]
    assert counts["articles"] == len(news) + 2
    index = IndexDir.open(built_index)
    try:
        db = index.store.db
        expected = 0
        for row in news:
            passages = split_passages(as_article(row))
            expected += len(passages)
            stored = index.store.passages_of(row["id"])
            assert [(p.ordinal, p.start, p.end, p.lang) for p in stored] == [
                (p.ordinal, p.start, p.end, row["lang"]) for p in passages
            ]
            for passage, kept in zip(passages, stored, strict=True):
                fts = db.execute("SELECT stemmed, norm FROM passages_fts WHERE rowid = ?", (kept.id,)).fetchone()
                assert tuple(fts) == lexical_forms(passage.text)
                hash_ = db.execute("SELECT text_hash FROM passages WHERE id = ?", (kept.id,)).fetchone()[0]
                assert hash_ == sha1(passage.text)
        assert counts["passages"] == expected + len(index.store.passages_of("000_9ff4965ff1aa788a")) + len(
            index.store.passages_of("003_4b7db5c7572d20fb")
        )
        # The stemmed column answers a query for another inflection of a word in the seeds.
        hits = db.execute(
            "SELECT DISTINCT p.article_id FROM passages_fts f JOIN passages p ON p.id = f.rowid "
            "WHERE passages_fts MATCH ? ORDER BY p.article_id",
            (f'stemmed:"{stemmed("المهاجرون")}"',),
        ).fetchall()
        assert [h[0] for h in hits] == ["000_9ff4965ff1aa788a", "003_4b7db5c7572d20fb"]
    finally:
        index.close()


def test_indexing_the_same_sources_again_embeds_nothing(built_index: Path, news_jsonl: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built_index, copy)
    before = assert_agrees(copy)
    stamp = (copy / VECTORS_STAMP).read_text()
    report = index_sources([SEEDS, news_jsonl], copy, progress=False)  # no encoder is even loaded
    assert (report.read, report.indexed, report.unchanged, report.skipped) == (27, 0, 27, 0)
    assert (report.passages_embedded, report.passages_reused) == (0, 0)
    assert re.fullmatch(
        r"read 27, indexed 0, unchanged 27, skipped 0 \(0 passages embedded, 0 reused; 0 sentences embedded, 0 reused; "
        r"\d+\.\ds\)",
        report.summary(),
    )
    assert assert_agrees(copy) == before
    assert (copy / VECTORS_STAMP).read_text() == stamp


# --- incremental updates on a fresh index ----------------------------------------------------------------


def test_changed_article_replaces_its_passages_and_reuses_unchanged_vectors(
    small: tuple[Path, Path], rows: dict[str, dict], encoder
) -> None:
    index, source = small
    before = assert_agrees(index)
    article_id = "antm-FR-culture-106-20180630"
    old_ids = passage_ids(index, article_id)
    old = split_passages(as_article(rows[article_id]))
    text = rows[article_id]["text"]
    last = re.search(r"\S+\s*$", text)
    assert last is not None
    rows[article_id]["text"] = text[: last.start()] + "اليوم."
    new = split_passages(as_article(rows[article_id]))
    changed = len({p.text for p in new} - {p.text for p in old})
    assert len(new) == len(old) == 2 and changed == 1
    write_jsonl(source, [rows[i] for i in SMALL])

    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.read, report.indexed, report.unchanged, report.skipped) == (4, 1, 3, 0)
    assert (report.passages_embedded, report.passages_reused) == (changed, len(new) - changed)
    after = assert_agrees(index)
    assert after["passages"] == before["passages"] and after["generation"] > before["generation"]
    new_ids = passage_ids(index, article_id)
    assert not set(new_ids) & set(old_ids)
    stored = IndexDir.open(index)
    try:
        assert stored.store.article(article_id).text == rows[article_id]["text"]
        assert [(p.start, p.end) for p in stored.store.passages_of(article_id)] == [(p.start, p.end) for p in new]
    finally:
        stored.close()


def test_new_article_is_added_and_metadata_change_reembeds_nothing(
    small: tuple[Path, Path], rows: dict[str, dict], encoder
) -> None:
    index, source = small
    before = assert_agrees(index)
    added = rows["reuters-00393"]
    write_jsonl(source, [rows[i] for i in SMALL] + [added])
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.read, report.indexed, report.unchanged) == (5, 1, 4)
    assert (report.passages_embedded, report.passages_reused) == (len(split_passages(as_article(added))), 0)
    assert assert_agrees(index)["articles"] == before["articles"] + 1

    rows["reuters-00219"]["title"] = "A NEW HEADLINE"
    write_jsonl(source, [rows[i] for i in SMALL] + [added])
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.unchanged, report.passages_embedded, report.passages_reused) == (1, 4, 0, 2)
    opened = IndexDir.open(index)
    try:
        assert opened.store.article("reuters-00219").title == "A NEW HEADLINE"
    finally:
        opened.close()
    assert_agrees(index)


def test_identical_passage_text_reuses_the_stored_vector(small: tuple[Path, Path], rows: dict[str, dict]) -> None:
    index, _ = small
    copy = dict(rows["antm-FR-culture-106-20180630"], id="copy-of-fr", title="نسخة")
    report = index_sources([write_jsonl(index.parent / "copy.jsonl", [copy])], index, progress=False)
    assert (report.indexed, report.passages_embedded, report.passages_reused) == (1, 0, 2)
    opened = IndexDir.open(index)
    try:
        vectors = opened.vectors.index
        first = [vectors.reconstruct(p.id) for p in opened.store.passages_of("antm-FR-culture-106-20180630")]
        second = [vectors.reconstruct(p.id) for p in opened.store.passages_of("copy-of-fr")]
        np.testing.assert_array_equal(first, second)
    finally:
        opened.close()
    assert_agrees(index)


def test_delete_removes_articles_passages_fts_rows_and_vectors(small: tuple[Path, Path]) -> None:
    index, _ = small
    before = assert_agrees(index)
    gone = passage_ids(index, "reuters-00219") + passage_ids(index, "antm-SK-economy-1061-20180731")
    assert len(gone) == 3
    deleted, unknown = delete_articles(index, ["reuters-00219", "no-such-id", "antm-SK-economy-1061-20180731"])
    assert (deleted, unknown) == (["reuters-00219", "antm-SK-economy-1061-20180731"], ["no-such-id"])
    after = assert_agrees(index)
    assert (after["articles"], after["passages"]) == (before["articles"] - 2, before["passages"] - 3)
    assert after["generation"] == before["generation"] + 1
    opened = IndexDir.open(index)
    try:
        assert not set(gone) & set(faiss_ids(opened))
        assert opened.store.article("reuters-00219") is None
    finally:
        opened.close()
    assert delete_articles(index, ["no-such-id"]) == ([], ["no-such-id"])
    assert assert_agrees(index)["generation"] == after["generation"]


def test_duplicate_ids_are_skipped_and_counted(tmp_path: Path, rows: dict[str, dict], encoder) -> None:
    row = rows["reuters-00633"]
    source = write_jsonl(tmp_path / "dup.jsonl", [row, rows["antm-SK-economy-1061-20180731"], dict(row, title="x")])
    problems: list[str] = []
    report = index_sources(
        [source], tmp_path / "index", progress=False, loaded_encoder=encoder, on_problem=problems.append
    )
    assert problems == [f"{source}:3: duplicate id 'reuters-00633' (first at {source}:1); skipped"]
    assert (report.read, report.indexed, report.unchanged, report.skipped) == (3, 2, 0, 1)
    assert report.problems == problems


def test_missing_source_fails_before_creating_an_index(tmp_path: Path) -> None:
    with pytest.raises(BadSource) as error:
        index_sources([tmp_path / "missing.jsonl"], tmp_path / "index", progress=False)
    assert str(error.value) == f"no such file or directory: {tmp_path / 'missing.jsonl'}"
    assert not (tmp_path / "index").exists()


# --- mismatches ------------------------------------------------------------------------------------------


def test_opening_with_another_encoder_says_how_to_rebuild(small: tuple[Path, Path], encoder) -> None:
    index, source = small
    expected = (
        f"index at {index} was built with encoder '{DEFAULT_ENCODER}' ({encoder.dim}-d), not 'use'; "
        f"use --encoder {DEFAULT_ENCODER}, or rebuild it: rm -r {index} && "
        f"sahafa index SOURCE... --index {index} --encoder use"
    )
    with pytest.raises(IndexMismatch) as opening:
        IndexDir.open(index, encoder="use")
    assert str(opening.value) == expected
    with pytest.raises(IndexMismatch) as indexing:
        index_sources([source], index, encoder="use", progress=False)
    assert str(indexing.value) == expected


def test_other_normaliser_or_format_version_says_how_to_rebuild(small: tuple[Path, Path]) -> None:
    index, _ = small
    config = json.loads((index / CONFIG_FILE).read_text())
    rebuild = f"rebuild it: rm -r {index} && sahafa index SOURCE... --index {index} --encoder {DEFAULT_ENCODER}"
    (index / CONFIG_FILE).write_text(json.dumps(dict(config, normalizer_version=0)))
    with pytest.raises(IndexMismatch) as normaliser:
        IndexDir.open(index)
    assert str(normaliser.value) == (
        f"index at {index} was normalised with normaliser version 0, this Sahafa uses 1; {rebuild}"
    )
    (index / CONFIG_FILE).write_text(json.dumps(dict(config, format_version=2)))
    with pytest.raises(IndexMismatch) as version:
        IndexDir.open(index)
    assert str(version.value) == f"index at {index} has format version 2, this Sahafa reads 1; {rebuild}"
    (index / CONFIG_FILE).write_text("")
    with pytest.raises(IndexMismatch) as unreadable:
        IndexDir.open(index)
    assert str(unreadable.value) == (
        f"{index / CONFIG_FILE} is unreadable (Expecting value: line 1 column 1 (char 0)); "
        f"rebuild it: rm -r {index} && sahafa index SOURCE... --index {index}"
    )


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound) as error:
        IndexDir.open(tmp_path / "nothing")
    nothing = tmp_path / "nothing"
    assert str(error.value) == f"no Sahafa index at {nothing}: build one with: sahafa index SOURCE... --index {nothing}"


def test_index_with_a_sentence_transformers_model(tmp_path: Path, rows: dict[str, dict]) -> None:
    source = write_jsonl(tmp_path / "en.jsonl", [rows["reuters-00633"]])
    index = tmp_path / "index"
    report = index_sources([source], index, encoder="st:all-MiniLM-L6-v2", progress=False)
    assert (report.indexed, report.passages_embedded) == (1, 1)
    assert json.loads((index / CONFIG_FILE).read_text())["encoder"] == "st:all-MiniLM-L6-v2"
    with pytest.raises(IndexMismatch) as error:
        IndexDir.open(index, encoder="e5-small")
    assert str(error.value) == (
        f"index at {index} was built with encoder 'st:all-MiniLM-L6-v2' (384-d), not 'e5-small'; "
        f"use --encoder st:all-MiniLM-L6-v2, or rebuild it: rm -r {index} && sahafa index SOURCE... "
        f"--index {index} --encoder e5-small"
    )
    # Without --encoder, indexing more uses the index's own encoder.
    write_jsonl(source, [rows["reuters-00633"], rows["reuters-01048"]])
    report = index_sources([source], index, progress=False)
    assert (report.indexed, report.unchanged, report.passages_embedded) == (1, 1, 1)
    assert assert_agrees(index)["passages"] == 2


# --- the FAISS wrapper on fixed vectors ------------------------------------------------------------------


def unit_vectors(count: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_vector_index_add_remove_search_save_load(tmp_path: Path) -> None:
    vectors = unit_vectors(20)
    ids = np.arange(100, 120, dtype=np.int64)
    index = VectorIndex.build(8, ids, vectors)
    assert (index.kind, index.size) == ("flat", 20)
    scores, found = index.search(vectors[3], 5)
    assert found[0] == 103 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)
    index.remove([103, 104])
    assert index.size == 18 and 103 not in index.search(vectors[3], 20)[1]
    assert len(index.search(vectors[0], 100)[1]) == 18
    index.save(tmp_path, VECTORS_FILE, VECTORS_STAMP, 7, 119)
    loaded, stamp = VectorIndex.load(tmp_path, VECTORS_FILE, VECTORS_STAMP, 8)
    assert stamp == {"generation": 7, "count": 18, "kind": "flat", "high": 119}
    np.testing.assert_array_equal(loaded.search(vectors[5], 3)[1], index.search(vectors[5], 3)[1])
    assert VectorIndex.load(tmp_path, VECTORS_FILE, VECTORS_STAMP, 16) is None  # another dimension
    (tmp_path / VECTORS_FILE).write_bytes(b"not faiss")
    assert VectorIndex.load(tmp_path, VECTORS_FILE, VECTORS_STAMP, 8) is None
    empty = VectorIndex(8)
    assert [len(a) for a in empty.search(vectors[0], 3)] == [0, 0]


def clustered_vectors(count: int, dim: int = 8, seed: int = 1) -> np.ndarray:
    """Unit vectors around 20 centres: the shape real passage vectors have, which an IVF relies on."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    vectors = centres[rng.integers(0, 20, count)] + 0.3 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_past_the_threshold_reranks_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import indexer.vectors

    monkeypatch.setattr(indexer.vectors, "EXACT_BELOW", 500)
    vectors = clustered_vectors(2000)
    ids = np.arange(2000, dtype=np.int64) * 3 + 1  # row ids are not positions
    index = VectorIndex.build(8, ids, vectors)
    assert index.kind == "ivf" and index.approximate and index.fits()
    index.exact_rows = lambda wanted: vectors[(np.asarray(wanted) - 1) // 3]
    query = vectors[7]
    scores, found = index.search(query, 10)
    truth = np.argsort(-(vectors @ query))[:10] * 3 + 1
    assert found[0] == 22 and scores[0] == pytest.approx(1.0, abs=1e-5)  # exact scores, not quantised ones
    assert len(set(found) & set(truth)) >= 9
    np.testing.assert_allclose(scores, vectors[(found - 1) // 3] @ query, rtol=1e-6)
    small = ids[::200]  # a filter this narrow is searched exactly over the stored vectors
    _, found = index.search(query, 5, small)
    np.testing.assert_array_equal(found, small[np.argsort(-(vectors[::200] @ query))[:5]])
    wide = ids[::2]  # a wide one probes more lists and never returns an id outside it
    _, found = index.search(query, 10, wide)
    assert set(found) <= set(wide) and len(found) == 10
    np.testing.assert_allclose(index.vectors([22, 1]), vectors[[7, 0]])
    index.remove([22])
    assert index.size == 1999 and 22 not in index.search(query, 10)[1]
    index.save(tmp_path, VECTORS_FILE, VECTORS_STAMP, 3, 5998)
    loaded, stamp = VectorIndex.load(tmp_path, VECTORS_FILE, VECTORS_STAMP, 8)
    assert stamp["kind"] == "ivf" and loaded.kind == "ivf" and loaded.size == 1999
    monkeypatch.setattr(indexer.vectors, "EXACT_BELOW", 10_000)
    assert not loaded.fits()  # shrunk (here: the threshold grew) below half the threshold: rebuilt as flat


def test_ivf_indexes_are_built_read_and_kept_in_step(
    small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexer.vectors

    index, _ = small
    monkeypatch.setattr(indexer.vectors, "EXACT_BELOW", 2)
    (index / VECTORS_FILE).unlink()  # the next open rebuilds both FAISS indexes from SQLite, now as IVFs
    opened = IndexDir.open(index)
    assert (opened.vectors.kind, opened.sentences.kind) == ("ivf", "ivf")
    assert_agrees(index)
    opened.close()
    assert delete_articles(index, ["reuters-00219"]) == (["reuters-00219"], [])
    assert assert_agrees(index)["passages"] == 4
    reader = IndexDir.open_reader(index)
    sentence = reader.store.sentences(list(range(1, 400)))
    some = next(iter(sentence.values()))
    code = reader.store.row_vectors("sentences", [some.id], np.int8, 512)[0]
    scores, found = reader.sentences.search(code / np.linalg.norm(code), 3)
    assert found[0] == some.id and scores[0] == pytest.approx(np.linalg.norm(code) / SCALE, rel=1e-3)
    reader.close()


def test_one_writer_at_a_time(small: tuple[Path, Path], encoder) -> None:
    """A second writer fails at once, naming the first; nothing it would have written is written."""
    import os

    from indexer.errors import IndexLocked
    from indexer.lock import write_lock

    index, source = small
    before = assert_agrees(index)
    message = (
        f"{index} is being written by another sahafa process (pid {os.getpid()}); wait for it to finish, then run "
        "this again"
    )
    with write_lock(index):
        with pytest.raises(IndexLocked) as error:
            index_sources([source], index, progress=False, loaded_encoder=encoder)
        assert str(error.value) == message
        with pytest.raises(IndexLocked):
            delete_articles(index, ["anything"])
    assert assert_agrees(index) == before
    assert delete_articles(index, ["nothing-of-that-id"]) == ([], ["nothing-of-that-id"])  # released
