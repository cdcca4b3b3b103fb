"""The sentence index: splitting, int8 codes, the FAISS SQ8 index, and how indexing keeps it in step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.build import delete_articles, index_sources
from indexer.config import SENTENCES_FILE, SENTENCES_STAMP
from indexer.index import IndexDir
from indexer.sentences import MAX_SENTENCE_WORDS, SCALE, dequantize, quantize, split_sentences
from indexer.vectors import SentenceVectors
from tests.conftest import news_sample
from tests.index_checks import assert_agrees, write_jsonl


def test_split_sentences_cuts_long_ones_and_leaves_out_fragments() -> None:
    long = " ".join(f"word{i}" for i in range(150)) + "."
    text = f"Dateline AP\n{long} وقال الوزير إن المحادثات مستمرة. OK."
    units = split_sentences(text)
    words = [len(text[a:b].split()) for a, b in units]
    assert words == [MAX_SENTENCE_WORDS, MAX_SENTENCE_WORDS, 150 - 2 * MAX_SENTENCE_WORDS, 5]
    assert text[units[-1][0] : units[-1][1]] == "وقال الوزير إن المحادثات مستمرة."
    assert all(text[a:b] == text[a:b].strip() and a < b for a, b in units)


def test_int8_codes_keep_cosines_within_a_few_thousandths() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((200, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = quantize(vectors)
    assert codes.dtype == np.int8 and codes.shape == (200, 512)
    exact = vectors @ vectors[0]
    approx = dequantize(codes) @ dequantize(quantize(vectors[0]))
    assert np.abs(exact - approx).max() < 0.005
    assert quantize(np.full((1, 512), 0.9, dtype=np.float32)).max() == 127  # clipped, never wrapped


def test_sentence_vectors_search_equals_int8_inner_products(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((300, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = quantize(vectors)
    ids = np.arange(10, 310, dtype=np.int64)
    index = SentenceVectors.build(512, ids, codes)
    query = vectors[7]
    scores, found = index.search(query, 5)
    reference = codes.astype(np.float32) @ quantize(query).astype(np.float32) / SCALE**2
    order = np.argsort(-reference)[:5]
    assert found.tolist() == ids[order].tolist() and found[0] == 17
    np.testing.assert_allclose(scores, reference[order], rtol=1e-5)
    _, within = index.search(query, 5, np.array([11, 12, 13], dtype=np.int64))
    assert sorted(within.tolist()) == [11, 12, 13]
    index.remove([17])
    assert 17 not in index.search(query, 5)[1].tolist() and index.size == 299
    index.save(tmp_path, "s.faiss", "s.json", 4, int(ids.max()))
    loaded, stamp = SentenceVectors.load(tmp_path, "s.faiss", "s.json", 512)
    assert (loaded.kind, loaded.size, stamp["generation"]) == ("sq8", 299, 4)


@pytest.fixture()
def small(tmp_path: Path, encoder) -> tuple[Path, Path, list[dict]]:
    rows = news_sample(per_outlet=1, english=3)[:8]
    source = write_jsonl(tmp_path / "news.jsonl", rows)
    index = tmp_path / "index"
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    expected = sum(len(split_sentences(r["text"])) for r in rows)
    assert report.sentences_embedded + report.sentences_reused == expected
    return source, index, rows


def test_every_sentence_is_stored_with_its_offsets_and_faiss_agrees(small) -> None:
    _, index, rows = small
    counts = assert_agrees(index)
    assert counts["sentences"] == sum(len(split_sentences(r["text"])) for r in rows)
    opened = IndexDir.open(index)
    try:
        assert opened.sentences.kind == "sq8"
        text = rows[0]["text"]
        a, b = split_sentences(text)[1]
        vector = opened.sentences.vectors([opened.store.sentences_between(rows[0]["id"], a, b)[0].id])[0]
        assert 0.98 < float(np.linalg.norm(vector)) < 1.02
    finally:
        opened.close()


def test_changed_article_reembeds_only_its_changed_sentences(small, encoder, tmp_path: Path) -> None:
    source, index, rows = small
    first = rows[0]["text"]
    a, b = split_sentences(first)[0]
    rows[0] = dict(rows[0], text=first[:a] + "A sentence that was never there before today. " + first[a:])
    report = index_sources([write_jsonl(source, rows)], index, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.sentences_embedded) == (1, 1)
    assert report.sentences_reused == len(split_sentences(rows[0]["text"])) - 1
    assert_agrees(index)


def test_deleting_an_article_removes_its_sentences_everywhere(small) -> None:
    _, index, rows = small
    before = assert_agrees(index)["sentences"]
    assert delete_articles(index, [rows[0]["id"]]) == ([rows[0]["id"]], [])
    after = assert_agrees(index)
    assert after["sentences"] == before - len(split_sentences(rows[0]["text"]))


def test_an_index_without_sentences_gets_them_on_the_next_run(small, encoder) -> None:
    """An index built before the sentence index (or by older sentence rules): the next run adds only sentences."""
    source, index, rows = small
    opened = IndexDir.open(index)
    with opened.store.transaction():
        opened.store.db.execute("DELETE FROM sentences")
        opened.store.db.execute("UPDATE articles SET sentence_version = 0")
    opened.close()
    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.unchanged, report.passages_embedded) == (0, len(rows), 0)
    assert report.sentences_embedded + report.sentences_reused == sum(len(split_sentences(r["text"])) for r in rows)
    assert assert_agrees(index)["sentences"] > 0


@pytest.mark.parametrize("damage", ["delete", "garbage", "stale"])
def test_missing_damaged_or_stale_sentence_faiss_is_rebuilt_from_sqlite(small, damage: str) -> None:
    _, index, _ = small
    if damage == "delete":
        (index / SENTENCES_FILE).unlink()
    elif damage == "garbage":
        (index / SENTENCES_FILE).write_bytes(b"not a faiss file")
    else:
        stamp = json.loads((index / SENTENCES_STAMP).read_text())
        (index / SENTENCES_STAMP).write_text(json.dumps(dict(stamp, generation=stamp["generation"] - 1)))
    assert assert_agrees(index)["sentences"] > 0
