"""The lexical index: BM25 candidates from tantivy over the stemmed words FTS5 holds too.

FTS5's ``bm25()`` scores every row that holds any of the query's stems, and first counts each stem's rows by
reading its whole doclist: at 1,000,000 passages a query of common Arabic stems reads hundreds of thousands of
rows (``make bench-scale``). tantivy (Rust) keeps each term's document count in its dictionary and finds the
best ``n`` with block-max WAND, reading a small part of the doclists. It only picks candidates:
``indexer.retrieval`` scores them as FTS5's ``bm25()`` does (``indexer.bm25``), so the fusion calibrated on FTS5
holds, and phrases, containment and the rows since the last commit stay with FTS5, inside the query's SQLite
snapshot.

``lexical/`` is derived from SQLite, like the FAISS files: one document per passage (its id, its stemmed words
with their counts, and the article's language, outlet and day for filters), committed by the one writer when it
saves the FAISS files, with ``lexical.json`` naming the store generation and the largest passage id it holds
(``high``). Ids are never reused (``indexer.store.m003_row_high_water``), so the passages added since are exactly
those above ``high``. A writer that finds it behind adds those; one that finds it holding deleted passages, or
missing or unreadable, rebuilds it from SQLite into a new directory and swaps it in. Readers never write it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy

from indexer.config import unique_temporary
from indexer.filters import Filters
from indexer.store import LexicalRow, Store

LEXICAL_DIR = "lexical"
LEXICAL_STAMP = "lexical.json"
WRITER_HEAP = 128_000_000  # bytes tantivy buffers before it writes a segment


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=False, indexed=True, fast=True)
    # Words are normalised and stemmed before they get here: split at spaces, nothing else.
    builder.add_text_field("stemmed", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("lang", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("source", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", stored=False, indexed=True, fast=True)  # YYYYMMDD
    return builder.build()


SCHEMA = _schema()


def day_number(date: str | None) -> int | None:
    """``2018-03-01…`` as 20180301 (what the ``day`` field holds); None without a usable date."""
    day = (date or "")[:10].replace("-", "")
    return int(day) if len(day) == 8 and day.isdigit() else None


class LexicalIndex:
    """One ``lexical/`` directory: searched by readers, written by the index's one writer."""

    def __init__(self, directory: Path, index: tantivy.Index, stamp: dict) -> None:
        self.directory = Path(directory)
        self.index = index
        self.stamp = stamp
        self._writer: tantivy.IndexWriter | None = None
        self.pending = False  # adds or deletes not committed yet

    @property
    def generation(self) -> int:
        return int(self.stamp.get("generation", -1))

    @property
    def high(self) -> int:
        """The largest passage id this index was committed with: passages above it came later."""
        return int(self.stamp.get("high", 0))

    @property
    def count(self) -> int:
        return int(self.stamp.get("count", 0))

    # --- opening -----------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path) -> LexicalIndex | None:
        """The committed index in ``directory`` with its stamp, or None when either is missing or unreadable."""
        stamp = _read_stamp(Path(directory))
        path = Path(directory) / LEXICAL_DIR
        if stamp is None or not (path / "meta.json").is_file():
            return None
        try:
            index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
        except (OSError, ValueError):
            return None
        return cls(Path(directory), index, stamp)

    @classmethod
    def rebuild(cls, directory: Path, store: Store) -> LexicalIndex:
        """A new index of every passage ``store`` holds (read in its current snapshot), swapped in for the old."""
        directory = Path(directory)
        build = uuid.uuid4().hex
        fresh = directory / f"{LEXICAL_DIR}.{build}.tmp"
        fresh.mkdir()
        built = cls(directory, tantivy.Index(SCHEMA, path=str(fresh), reuse=False), {"build": build})
        for rows in store.lexical_rows():
            built.add(rows)
        built._commit()
        built.close()
        old = directory / f"{LEXICAL_DIR}.{build}.old"
        current = directory / LEXICAL_DIR
        if current.exists():
            os.replace(current, old)
        os.replace(fresh, current)
        shutil.rmtree(old, ignore_errors=True)
        index = tantivy.Index(SCHEMA, path=str(current), reuse=True)
        stamp = {"generation": store.generation, "high": store.high("passages"), "count": store.count("passages"),
                 "build": build}  # fmt: skip
        _write_stamp(directory, stamp)
        return cls(directory, index, stamp)

    def reload(self) -> bool:
        """Follow what the writer committed since (a reader calls it before a query); True when anything changed."""
        stamp = _read_stamp(self.directory)
        if stamp is None or stamp == self.stamp:
            return False
        if stamp.get("build") != self.stamp.get("build"):  # rebuilt: a new directory stands there
            reopened = LexicalIndex.open(self.directory)
            if reopened is None:
                return False
            self.index, stamp = reopened.index, reopened.stamp
        self.index.reload()
        self.stamp = stamp
        return True

    # --- writing -----------------------------------------------------------------------------------

    def _writing(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        return self._writer

    def add(self, rows: Iterable[LexicalRow]) -> None:
        writer = self._writing()
        for row in rows:
            document = tantivy.Document(id=row.id, stemmed=row.stemmed, lang=row.lang)
            if row.source:
                document.add_text("source", row.source)
            day = day_number(row.date)
            if day is not None:
                document.add_integer("day", day)
            writer.add_document(document)
            self.pending = True

    def remove(self, ids: Iterable[int]) -> None:
        for passage_id in ids:
            self._writing().delete_documents_by_term("id", int(passage_id))
            self.pending = True

    def commit(self, store: Store, generation: int) -> None:
        """Make the adds and deletes durable and stamp them with the generation of the last commit they follow."""
        if self.pending or self.generation != generation:
            self._commit()
            stamp = {"generation": generation, "high": store.high("passages"), "count": store.count("passages"),
                     "build": self.stamp.get("build")}  # fmt: skip
            _write_stamp(self.directory, stamp)
            self.stamp = stamp

    def _commit(self) -> None:
        writer = self._writing()
        writer.commit()
        writer.wait_merging_threads()  # the writer is done with: its merges end with it
        self._writer = None
        self.pending = False
        self.index.reload()

    def catch_up(self, store: Store) -> bool:
        """Add the passages committed after this index (above ``high``); True when the index then holds exactly
        the store's passages, False when some of its passages were deleted since (it must be rebuilt)."""
        added = 0
        for rows in store.lexical_rows(after=self.high):
            self.add(rows)
            added += len(rows)
        return self.count + added == store.count("passages")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None

    # --- searching ---------------------------------------------------------------------------------

    def search(self, stems: Sequence[str], filters: Filters, n: int, within: Sequence[int] | None = None) -> list[int]:
        """Ids of the ``n`` passages tantivy's BM25 ranks best among those holding any of ``stems``, within the
        filters (and the ``within`` ids when given)."""
        if not stems or n <= 0:
            return []
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "stemmed", stem)) for stem in stems]
        )
        clauses = [(tantivy.Occur.Must, words)]
        for condition in _conditions(filters, within):
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(condition, 0.0)))
        searcher = self.index.searcher()
        found = searcher.search(tantivy.Query.boolean_query(clauses), n, count=False)
        return [int(i) for i in searcher.fast_field_values("id", [address for _, address in found.hits])]

    def ids(self) -> list[int]:
        """Every passage id the committed index holds, sorted (checks and tests)."""
        searcher = self.index.searcher()
        if not searcher.num_docs:
            return []
        found = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False)
        return sorted(int(i) for i in searcher.fast_field_values("id", [address for _, address in found.hits]))

    def doc_freq(self, stem: str) -> int:
        """How many passages hold ``stem`` (as of the last commit)."""
        return int(self.index.searcher().doc_freq("stemmed", stem))


def _conditions(filters: Filters, within: Sequence[int] | None) -> list[tantivy.Query]:
    conditions = []
    if filters.lang:
        conditions.append(tantivy.Query.term_query(SCHEMA, "lang", filters.lang))
    if filters.sources:
        conditions.append(tantivy.Query.term_set_query(SCHEMA, "source", list(filters.sources)))
    low, high = day_number(filters.date_from), day_number(filters.date_to)
    if low is not None or high is not None:
        conditions.append(tantivy.Query.range_query(SCHEMA, "day", tantivy.FieldType.Integer, low, high))
    if within is not None:
        conditions.append(tantivy.Query.term_set_query(SCHEMA, "id", [int(i) for i in within]))
    return conditions


def _read_stamp(directory: Path) -> dict | None:
    try:
        stamp = json.loads((directory / LEXICAL_STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _write_stamp(directory: Path, stamp: dict) -> None:
    path = directory / LEXICAL_STAMP
    tmp = unique_temporary(path)
    tmp.write_text(json.dumps(stamp))
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
