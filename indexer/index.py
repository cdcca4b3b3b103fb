"""An index directory opened as one object: config, SQLite store and a FAISS index that agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indexer.config import (
    DATABASE_FILE,
    VECTORS_FILE,
    VECTORS_STAMP,
    IndexConfig,
    check_compatible,
    read_config,
    write_config,
)
from indexer.errors import IndexNotFound
from indexer.store import Store
from indexer.vectors import VectorIndex


@dataclass
class IndexDir:
    """``config.json`` + ``sahafa.sqlite`` + ``vectors.faiss`` (+ ``vectors.json``, its stamp)."""

    path: Path
    config: IndexConfig
    store: Store
    vectors: VectorIndex

    @classmethod
    def open(cls, path: Path | str, *, encoder: str | None = None) -> IndexDir:
        """Open an existing index; fail if it is missing or built with another encoder or normaliser."""
        path = Path(path)
        if not (path / DATABASE_FILE).is_file():
            raise IndexNotFound(f"no Sahafa index at {path}: build one with: sahafa index SOURCE... --index {path}")
        config = read_config(path)
        check_compatible(path, config, encoder)
        store = Store(path / DATABASE_FILE)
        index = cls(path, config, store, VectorIndex(config.dim))
        index.vectors = index._load_vectors()
        return index

    @classmethod
    def create(cls, path: Path | str, config: IndexConfig) -> IndexDir:
        """Create a new, empty index directory (or open it if it already holds an index)."""
        path = Path(path)
        if (path / DATABASE_FILE).is_file():
            return cls.open(path, encoder=config.encoder)
        path.mkdir(parents=True, exist_ok=True)
        store = Store(path / DATABASE_FILE)
        write_config(path, config)
        index = cls(path, config, store, VectorIndex(config.dim))
        index.save_vectors()
        return index

    def _load_vectors(self) -> VectorIndex:
        """The saved FAISS index if its stamp matches the store; otherwise one rebuilt from SQLite."""
        loaded = VectorIndex.load(self.path, VECTORS_FILE, VECTORS_STAMP, self.config.dim)
        if loaded is not None:
            vectors, stamp = loaded
            if stamp.get("generation") == self.store.generation and vectors.size == self.store.count("passages"):
                return vectors
        ids, matrix = self.store.all_vectors(self.config.dim)
        self.vectors = VectorIndex.build(self.config.dim, ids, matrix)
        self.save_vectors()
        return self.vectors

    def save_vectors(self) -> None:
        if self.vectors.needs_rebuild:
            ids, matrix = self.store.all_vectors(self.config.dim)
            self.vectors = VectorIndex.build(self.config.dim, ids, matrix)
        self.vectors.save(self.path, VECTORS_FILE, VECTORS_STAMP, self.store.generation)

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def close(self) -> None:
        self.store.close()
