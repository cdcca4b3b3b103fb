"""A description of an index directory, for ``sahafa info`` and the app's sidebar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexer.build import LAST_BUILD
from indexer.config import SENTENCES_FILE
from indexer.index import IndexDir
from indexer.lexical import LEXICAL_DIR


def describe(index_dir: str | Path) -> dict[str, Any]:
    index = IndexDir.open(index_dir)
    try:
        store = index.store
        passages = store.count("passages")
        size = index.disk_bytes()
        first, last = store.date_range()
        return {
            "index": str(index.path),
            "encoder": index.config.encoder,
            "dimension": index.config.dim,
            "format_version": index.config.format_version,
            "normalizer_version": index.config.normalizer_version,
            "articles": store.count("articles"),
            "passages": passages,
            "languages": dict(store.languages()),
            "sources": dict(store.sources()),
            "dates": f"{first or '-'} .. {last or '-'}",
            "last_build": json.loads(store.meta(LAST_BUILD) or "{}"),
            "vector_index": f"{index.vectors.kind}, {index.vectors.size} vectors",
            "sentences": store.count("sentences"),
            "sentence_index": f"{index.sentences.kind}, {index.sentences.size} vectors, "
            f"{_faiss_bytes(index.path / SENTENCES_FILE):,} bytes",
            "lexical_index": f"tantivy, {index.lexical.count if index.lexical else 0} passages, "
            f"{_bytes(index.path / LEXICAL_DIR):,} bytes",
            "disk_bytes": size,
            "bytes_per_passage": round(size / passages) if passages else 0,
        }
    finally:
        index.close()


def _faiss_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
