"""``sahafa index --ray``: Ray Data actors embed the run, and the index holds the very vectors one process makes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from indexer.build import LAST_BUILD, index_sources

pytest.importorskip("ray", reason="needs Ray Data: pip install 'ray[data]'")
pytestmark = pytest.mark.slow


def stored(index: Path) -> tuple[dict, dict, dict]:
    db = sqlite3.connect(index / "sahafa.sqlite")
    try:
        passages = {(a, o): v for a, o, v in db.execute("SELECT article_id, ordinal, vector FROM passages")}
        sentences = {(a, s): v for a, s, v in db.execute("SELECT article_id, start, vector FROM sentences")}
        meta = json.loads(db.execute("SELECT value FROM meta WHERE key = ?", (LAST_BUILD,)).fetchone()[0])
    finally:
        db.close()
    return passages, sentences, meta


def test_ray_run_gives_the_vectors_of_one_process(tmp_path: Path, news_jsonl: Path, encoder) -> None:
    one = index_sources([news_jsonl], tmp_path / "one", progress=False, loaded_encoder=encoder)
    many = index_sources([news_jsonl], tmp_path / "ray", progress=False, ray=True)
    assert (many.indexed, many.passages_embedded, many.sentences_embedded) == (
        one.indexed, one.passages_embedded, one.sentences_embedded
    )  # fmt: skip
    passages, sentences, meta = stored(tmp_path / "ray")
    expected_passages, expected_sentences, _ = stored(tmp_path / "one")
    assert passages == expected_passages  # byte for byte: the same texts in the same encoder calls
    assert sentences == expected_sentences
    assert meta["runtime"].endswith("on Ray Data actors")
    assert not list((tmp_path / "ray").glob(".ray-*"))  # Ray's temporary files are gone

    again = index_sources([news_jsonl], tmp_path / "ray", progress=False, ray=True)
    assert (again.unchanged, again.passages_embedded) == (one.indexed, 0)  # nothing to embed: Ray is not started
