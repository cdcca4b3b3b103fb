"""Checks shared by the index tests: SQLite, its full-text table and FAISS describe the same passages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from indexer.config import DATABASE_FILE, VECTORS_STAMP
from indexer.index import IndexDir
from indexer.sentences import SENTENCE_VERSION, split_sentences


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def committed(index_dir: Path) -> tuple[int, int]:
    """(articles, passages) committed so far, read without writing anything (safe while a writer runs)."""
    try:
        db = sqlite3.connect(f"file:{index_dir / DATABASE_FILE}?mode=ro", uri=True, timeout=1)
        try:
            return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("articles", "passages"))
        finally:
            db.close()
    except sqlite3.Error:  # not created or not migrated yet
        return (0, 0)


def store_generation(index_dir: Path) -> int:
    """The generation committed in SQLite, read without opening (and so without repairing) the index."""
    db = sqlite3.connect(f"file:{index_dir / DATABASE_FILE}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        db.close()


def stamp_generation(index_dir: Path) -> int | None:
    path = index_dir / VECTORS_STAMP
    return json.loads(path.read_text())["generation"] if path.is_file() else None


def faiss_ids(index: IndexDir) -> list[int]:
    return index.vectors.ids().tolist()


def faiss_sentence_ids(index: IndexDir) -> list[int]:
    return index.sentences.ids().tolist()


def assert_sentences_agree(index: IndexDir) -> int:
    """Every article has the sentences its text splits into, each once, and FAISS holds exactly their codes."""
    db = index.store.db
    sentence_ids = [r[0] for r in db.execute("SELECT id FROM sentences ORDER BY id")]
    assert faiss_sentence_ids(index) == sentence_ids
    for article_id, text, version in db.execute("SELECT id, text, sentence_version FROM articles"):
        stored = [tuple(r) for r in db.execute(
            'SELECT start, "end" FROM sentences WHERE article_id = ? ORDER BY start', (article_id,))]  # fmt: skip
        assert (version, stored) == (SENTENCE_VERSION, split_sentences(text)), article_id
    if index.sentences.approximate:  # an IVF keeps compressed codes: it re-ranks with the stored ones
        return len(sentence_ids)
    ids, codes = index.store.all_sentence_vectors(512)
    for sentence_id, code in zip(ids, codes, strict=True):
        np.testing.assert_array_equal(index.sentences.index.reconstruct(int(sentence_id)), code.astype(np.float32))
    return len(sentence_ids)


def assert_agrees(index_dir: Path) -> dict[str, int]:
    """Open the index, check that passages, full-text rows and FAISS vectors match one to one; return counts."""
    index = IndexDir.open(index_dir)
    try:
        db = index.store.db
        passage_ids = [r[0] for r in db.execute("SELECT id FROM passages ORDER BY id")]
        fts_ids = [r[0] for r in db.execute("SELECT rowid FROM passages_fts ORDER BY rowid")]
        assert passage_ids == fts_ids
        assert faiss_ids(index) == passage_ids
        assert index.lexical is not None and index.lexical.ids() == passage_ids
        assert index.lexical.generation == index.store.generation and index.lexical.high == index.store.high("passages")
        assert index.vectors.size == len(passage_ids)
        orphans = db.execute(
            "SELECT count(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)"
        ).fetchone()[0]
        assert orphans == 0
        ids, matrix = index.store.all_vectors(index.config.dim)
        for passage_id, vector in zip(ids, matrix, strict=True):
            if not index.vectors.approximate:  # an IVF keeps 8-bit codes: it re-ranks with the stored vectors
                np.testing.assert_array_equal(index.vectors.index.reconstruct(int(passage_id)), vector)
        for row in db.execute('SELECT p.start, p."end", a.text FROM passages p JOIN articles a ON a.id = p.article_id'):
            assert 0 <= row[0] < row[1] <= len(row[2])
        sentences = assert_sentences_agree(index)
        return {
            "articles": index.store.count("articles"),
            "passages": len(passage_ids),
            "sentences": sentences,
            "generation": index.store.generation,
        }
    finally:
        index.close()
