"""A Searcher keeps answering while another process indexes or deletes, and sees what was committed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from indexer.build import index_sources
from search_app.search import Searcher
from tests.conftest import ROOT, SEEDS
from tests.index_checks import write_jsonl

NEW = {
    "id": "orchids",
    "lang": "en",
    "source": "Gulf Garden Weekly",
    "date": "2024-03-01",
    "text": "Zygomorphic orchids filled the spring festival hall in Kuwait City. Growers said the rare orchids "
    "drew record crowds, and the festival will return next year with more zygomorphic varieties.",
}


def sahafa(*args: str) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "search_app.cli", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def query_while(process: subprocess.Popen, searcher: Searcher, query: str) -> int:
    """Query until the process ends; any exception fails the test. Returns how many queries ran."""
    ran = 0
    while process.poll() is None or ran == 0:
        searcher.search(query, k=3)
        searcher.search(query, k=3, mode="lexical")
        ran += 1
    assert process.returncode == 0, process.communicate()
    return ran


def test_new_and_deleted_articles_while_a_searcher_queries(tmp_path: Path, encoder) -> None:
    index = tmp_path / "index"
    index_sources([SEEDS], index, progress=False, loaded_encoder=encoder)
    searcher = Searcher.open(index, encoder=encoder)
    try:
        assert "orchids" not in [h.article_id for h in searcher.search("zygomorphic orchids festival", k=3)]

        source = write_jsonl(tmp_path / "new.jsonl", [NEW])
        assert query_while(sahafa("index", str(source), "--index", str(index), "--quiet"), searcher, "orchids") > 0
        hits = searcher.search("zygomorphic orchids festival", k=3)
        assert hits[0].article_id == "orchids"
        assert [h.article_id for h in searcher.search('"zygomorphic orchids"', mode="lexical")] == ["orchids"]
        assert searcher.results("orchids festival", k=5).languages["en"].hits == 1

        assert query_while(sahafa("delete", "orchids", "--index", str(index)), searcher, "orchids festival") > 0
        assert "orchids" not in [h.article_id for h in searcher.search("zygomorphic orchids festival", k=3)]
    finally:
        searcher.close()
