"""An index directory opened as one object: config, SQLite store and a FAISS index that agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from indexer.config import (
    CONFIG_FILE,
    DATABASE_FILE,
    SENTENCES_FILE,
    SENTENCES_STAMP,
    VECTORS_FILE,
    VECTORS_STAMP,
    IndexConfig,
    check_compatible,
    read_config,
    rebuild_hint,
    write_config,
)
from indexer.errors import IndexMismatch, IndexNotFound
from indexer.lexical import LexicalIndex
from indexer.sentences import SENTENCE_DIM
from indexer.store import Snapshot, Store
from indexer.vectors import SentenceVectors, VectorIndex

V = TypeVar("V", bound=VectorIndex)


@dataclass
class IndexDir:
    """``config.json`` + ``sahafa.sqlite`` + ``vectors.faiss`` (passages) + ``sentences.faiss`` (sentences), each
    FAISS file with its stamp (``vectors.json``, ``sentences.json``), + ``lexical/`` (``indexer.lexical``) with
    ``lexical.json``. SQLite is the source of truth; the others are derived from it and follow it."""

    path: Path
    config: IndexConfig
    store: Store
    vectors: VectorIndex
    sentences: SentenceVectors = field(default_factory=lambda: SentenceVectors(SENTENCE_DIM))
    reader: bool = False  # a reader never writes the FAISS files: it rebuilds what is stale in memory
    lexical: LexicalIndex | None = None  # None: a reader found none (FTS5 answers alone)

    @classmethod
    def open_reader(cls, path: Path | str) -> IndexDir:
        """Open for searching while other processes may write: ``refresh`` before each query, inside ``snapshot``."""
        return cls.open(path, reader=True)

    @classmethod
    def open(cls, path: Path | str, *, encoder: str | None = None, reader: bool = False) -> IndexDir:
        """Open an existing index; fail if it is missing or built with another encoder or normaliser."""
        path = Path(path)
        if not (path / DATABASE_FILE).is_file():
            raise IndexNotFound(f"no Sahafa index at {path}: build one with: sahafa index SOURCE... --index {path}")
        config = read_config(path)
        check_compatible(path, config, encoder)
        store = Store(path / DATABASE_FILE)
        stored = store.vector_dimension()
        if stored is not None and stored != config.dim:
            store.close()
            raise IndexMismatch(
                f"{path / CONFIG_FILE} says {config.dim}-d vectors, the database holds {stored}-d ones; "
                f"{rebuild_hint(path, config.encoder)}"
            )
        index = cls(path, config, store, VectorIndex(config.dim), reader=reader)
        with index.snapshot():
            index.vectors = index._load_vectors()
            index.sentences = index._load_sentences()
            index.lexical = index._load_lexical()
        return index

    def snapshot(self) -> Snapshot:
        """A read transaction: everything read inside it sees one committed generation, whatever writers do."""
        return self.store.snapshot()

    def refresh(self) -> bool:
        """Bring both FAISS indexes to the store's committed generation (call inside ``snapshot``): the rows added
        since when none was deleted, else the saved files when their stamps name it (plus what was added after
        them), else rebuilt from SQLite; and the lexical index to the writer's last commit. True when anything
        changed."""
        generation = self.store.generation
        changed = False
        if self.vectors.generation != generation:
            self.vectors, changed = self._caught_up(self.vectors, "passages") or self._load_vectors(), True
        if self.sentences.generation != generation:
            self.sentences, changed = self._caught_up(self.sentences, "sentences") or self._load_sentences(), True
        if self.lexical is None:
            self.lexical = LexicalIndex.open(self.path)
            changed = changed or self.lexical is not None
        else:
            changed = self.lexical.reload() or changed
        return changed

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
        index.lexical = LexicalIndex.rebuild(path, store)
        index.save_derived()
        return index

    def _load_vectors(self) -> VectorIndex:
        """The saved passage index if it reflects the store; otherwise one rebuilt from SQLite (and saved, unless
        this is a reader)."""
        saved = self._saved(VectorIndex, VECTORS_FILE, VECTORS_STAMP, self.config.dim, "passages")
        if saved is not None:
            return saved
        self._rebuild_vectors()
        if not self.reader:
            self._save_passages()
        return self.vectors

    def _load_sentences(self) -> SentenceVectors:
        """The same for the sentence index."""
        saved = self._saved(SentenceVectors, SENTENCES_FILE, SENTENCES_STAMP, SENTENCE_DIM, "sentences")
        if saved is not None:
            return saved
        self._rebuild_sentences()
        if not self.reader:
            self._save_sentences()
        return self.sentences

    def _saved(self, kind: type[V], name: str, stamp_name: str, dim: int, table: str) -> V | None:
        """The saved FAISS file, brought up to the store when it can be: as saved when its stamp names the store's
        generation and it holds one vector per row, else with the rows added after it (``_caught_up``); None when
        it is missing, holds rows deleted since, or its kind no longer suits its size."""
        loaded = kind.load(self.path, name, stamp_name, dim)
        if loaded is None:
            return None
        vectors, stamp = loaded
        if not vectors.fits():
            return None
        generation = self.store.generation
        if stamp.get("generation") == generation and vectors.size == self.store.count(table):
            vectors.generation = generation
            vectors.high = int(stamp.get("high", self.store.high(table)))
            return self._attached(vectors, table)
        if "high" not in stamp:  # saved before stamps said which rows they hold
            return None
        vectors.high = int(stamp["high"])
        return self._caught_up(self._attached(vectors, table), table)

    def _caught_up(self, vectors: V, table: str) -> V | None:
        """``vectors`` with the rows committed after the last one it holds (ids are never reused: those are the ids
        above ``vectors.high``), at the store's generation; None when it also holds rows deleted since."""
        for ids, rows in self.store.iter_row_vectors(table, vectors.DTYPE, vectors.dim, after=vectors.high):
            vectors.add(ids, rows)
        if vectors.size != self.store.count(table) or not vectors.fits():
            return None
        vectors.generation = self.store.generation
        return vectors

    def _attached(self, vectors: V, table: str) -> V:
        """``vectors`` reading its rows' stored vectors from this index's store (to re-rank an IVF exactly)."""
        store, dtype, dim = self.store, vectors.DTYPE, vectors.dim
        vectors.exact_rows = lambda ids: store.row_vectors(table, ids, dtype, dim)
        return vectors

    def _rebuilt(self, kind: type[V], dim: int, table: str) -> V:
        """An index of every vector ``table`` holds, read from SQLite in chunks."""
        built = kind.build_from(
            dim, self.store.count(table), lambda: self.store.iter_row_vectors(table, kind.DTYPE, dim)
        )
        built.generation = self.store.generation
        built.high = self.store.high(table)
        return self._attached(built, table)

    def _rebuild_sentences(self) -> None:
        self.sentences = self._rebuilt(SentenceVectors, SENTENCE_DIM, "sentences")

    def _rebuild_vectors(self) -> None:
        self.vectors = self._rebuilt(VectorIndex, self.config.dim, "passages")

    def _load_lexical(self) -> LexicalIndex | None:
        """The lexical index as committed (a reader); for the writer, brought up to the store: the passages added
        since its last commit added, or rebuilt from SQLite when it is missing or holds passages deleted since."""
        opened = LexicalIndex.open(self.path)
        if self.reader:
            return opened
        if opened is not None and opened.catch_up(self.store):
            opened.commit(self.store, self.store.generation)
            return opened
        if opened is not None:
            opened.close()
        return LexicalIndex.rebuild(self.path, self.store)

    def save_derived(self) -> None:
        """Save both FAISS files, each stamped with the generation it holds (not the store's, which may be ahead),
        and commit the lexical index with the generation the passage index holds (both follow every commit)."""
        self._save_passages()
        self._save_sentences()
        if self.lexical is not None:
            self.lexical.commit(self.store, self.vectors.generation)

    def _save_passages(self) -> None:
        if not self.vectors.fits():  # grown past (or shrunk below) what its kind suits: rebuilt as the right kind
            self._rebuild_vectors()
        self.vectors.save(self.path, VECTORS_FILE, VECTORS_STAMP, self.vectors.generation, self.vectors.high)

    def _save_sentences(self) -> None:
        if not self.sentences.fits():
            self._rebuild_sentences()
        self.sentences.save(self.path, SENTENCES_FILE, SENTENCES_STAMP, self.sentences.generation, self.sentences.high)

    def disk_bytes(self) -> int:
        """Bytes on disk as after closing: the WAL checkpointed, SQLite's transient ``-shm`` file not counted."""
        self.store.checkpoint()
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file() and not f.name.endswith("-shm"))

    def close(self) -> None:
        if self.lexical is not None:
            self.lexical.close()
        self.store.close()
