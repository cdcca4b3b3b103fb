"""Shared fixtures: the real bundled encoder, the seed articles and a few dozen real news articles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
NEWS = SHARED / "data" / "news-dev" / "articles.jsonl"
XQUAD = SHARED / "data" / "xquad"


def news_sample(per_outlet: int = 1, english: int = 8) -> list[dict]:
    """A deterministic handful of real articles: ``per_outlet`` from each Arabic outlet, ``english`` from
    Reuters, each 600–2,500 characters so that most make two or three passages."""
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    picked: list[dict] = []
    counts: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        quota = english if row["lang"] == "en" else per_outlet
        if 600 <= len(row["text"]) <= 2500 and counts.get(row["source"], 0) < quota:
            counts[row["source"]] = counts.get(row["source"], 0) + 1
            row.pop("collection", None)
            picked.append(row)
    return picked


@pytest.fixture(scope="session")
def encoder():
    """The default bundled encoder (e5-use: e5-small and USE blended), loaded once."""
    from indexer.config import DEFAULT_ENCODER
    from indexer.encoders import load_encoder

    return load_encoder(DEFAULT_ENCODER)


@pytest.fixture(scope="session")
def news_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("news") / "news.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in news_sample()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, encoder, news_jsonl) -> Path:
    """A real index (SQLite + FAISS, the default encoder) of the seeds and the news sample. Treat it as read-only."""
    from indexer.build import index_sources

    path = tmp_path_factory.mktemp("index") / "index"
    report = index_sources([SEEDS, news_jsonl], path, progress=False, loaded_encoder=encoder)
    assert report.skipped == 0, report.problems
    return path
