"""An index directory opened as one object: config, SQLite store and a FAISS index that agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indexer.config import (
    CONFIG_FILE,
    DATABASE_FILE,
    VECTORS_FILE,
    VECTORS_STAMP,
    IndexConfig,
    check_compatible,
    read_config,
    rebuild_hint,
    write_config,
)
from indexer.errors import IndexMismatch, IndexNotFound
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
            raise IndexNotFound(
                f"no Sahafa index at {path}: build one with: sahafa index SOURCE... --index {path}"
            )
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
        if (path / DATABASE_FILE).is_file() and (path / CONFIG_FILE).is_file():
            return cls.open(path, encoder=config.encoder)
        path.mkdir(parents=True, exist_ok=True)
        # A database without config.json is a creation interrupted before config.json was written.
        store = Store(path / DATABASE_FILE)
        if store.count("articles"):
            store.close()
            raise IndexMismatch(f"{path} holds articles but no {CONFIG_FILE}; {rebuild_hint(path)}")
        write_config(path, config)
        index = cls(path, config, store, VectorIndex(config.dim))
        index.save_vectors()
        return index

    def _load_vectors(self) -> VectorIndex:
        """The saved FAISS index if its stamp matches the store; otherwise one rebuilt from SQLite."""
        loaded = VectorIndex.load(self.path, VECTORS_FILE, VECTORS_STAMP, self.config.dim)
        if loaded is not None:
            vectors, stamp = loaded
            if stamp.get("generation") == self.store.generation and vectors.size == self.store.count(
                "passages"
            ):
                vectors.generation = self.store.generation
                return vectors
        self._rebuild_vectors()
        self.save_vectors()
        return self.vectors

    def _rebuild_vectors(self) -> None:
        ids, matrix = self.store.all_vectors(self.config.dim)
        self.vectors = VectorIndex.build(self.config.dim, ids, matrix)
        self.vectors.generation = self.store.generation

    def save_vectors(self) -> None:
        """Save FAISS stamped with the generation it holds (not the store's, which may be ahead of it)."""
        if self.vectors.needs_rebuild:
            self._rebuild_vectors()
        self.vectors.save(self.path, VECTORS_FILE, VECTORS_STAMP, self.vectors.generation)

    def disk_bytes(self) -> int:
        """Bytes on disk as after closing: the WAL checkpointed, SQLite's transient ``-shm`` file not counted."""
        self.store.checkpoint()
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file() and not f.name.endswith("-shm"))

    def close(self) -> None:
        self.store.close()
