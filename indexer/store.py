"""The SQLite store: articles with their original text, passages with offsets, hashes and vectors,
an FTS5 full-text index over the stemmed and the plain normalised text of every passage, and the
sentences of every article with their offsets, hashes and int8 vectors (``indexer.sentences``).

SQLite is the source of truth. Vectors live here too (float32 blobs), so the FAISS index is a
derived file that can always be rebuilt to agree with the last committed state.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.records import COPIES_LISTED, Article, Copy, Passage


def m001_create_tables(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('generation', '0');
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            date TEXT,
            source TEXT,
            lang TEXT NOT NULL,
            url TEXT,
            origin TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            record_hash TEXT NOT NULL
        );
        CREATE INDEX articles_date ON articles (date);
        CREATE INDEX articles_source ON articles (source);
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            lang TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX passages_article ON passages (article_id, ordinal);
        CREATE INDEX passages_hash ON passages (text_hash);
        CREATE VIRTUAL TABLE passages_fts USING fts5 (
            stemmed, norm, tokenize = 'unicode61 remove_diacritics 0'
        );
        """
    )


def m002_sentences(db: sqlite3.Connection) -> None:
    """The sentence index; ``articles.sentence_version`` says which rules an article's sentences follow
    (0: none yet, so an index built before this migration gets its sentences on the next ``sahafa index``)."""
    _run(
        db,
        """
        CREATE TABLE sentences (
            id INTEGER PRIMARY KEY,
            article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            lang TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX sentences_article ON sentences (article_id, start);
        CREATE INDEX sentences_hash ON sentences (text_hash);
        ALTER TABLE articles ADD COLUMN sentence_version INTEGER NOT NULL DEFAULT 0;
        """
    )


def m003_row_high_water(db: sqlite3.Connection) -> None:
    """The largest passage and sentence ids ever given out: new rows get ids above them, so an id is never reused
    and the rows added since an index derived from the store (FAISS, the lexical index) were built are exactly
    those with a larger id."""
    _run(
        db,
        """
        INSERT OR REPLACE INTO meta (key, value) VALUES ('passages_high', (SELECT coalesce(max(id), 0) FROM passages));
        INSERT OR REPLACE INTO meta (key, value) VALUES ('sentences_high', (SELECT coalesce(max(id), 0) FROM sentences))
        """,
    )


def m004_bylines(db: sqlite3.Connection) -> None:
    """The byline and dateline of each article (NULL where the source had none)."""
    _run(db, "ALTER TABLE articles ADD COLUMN author TEXT; ALTER TABLE articles ADD COLUMN dateline TEXT")


def m005_clusters(db: sqlite3.Connection) -> None:
    """Syndication clusters (``indexer.syndication``): the LSH band keys of each article's shingles, and the name
    of its cluster (NULL until ``settle`` gives it one: an index built before this migration gets its clusters on
    the next ``sahafa index``)."""
    _run(
        db,
        """
        ALTER TABLE articles ADD COLUMN cluster TEXT;
        CREATE INDEX articles_cluster ON articles (cluster);
        CREATE TABLE article_bands (
            article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            band INTEGER NOT NULL,
            key INTEGER NOT NULL,
            PRIMARY KEY (article_id, band)
        ) WITHOUT ROWID;
        CREATE INDEX article_bands_key ON article_bands (band, key)
        """,
    )


def m006_speakers(db: sqlite3.Connection) -> None:
    """Who said it (``indexer.speakers``): each sentence's speaker as the article writes it, the title beside it,
    and the folded key that filters and facets match; ``articles.speaker_version`` says which rules found them
    (0: not yet, so an index built before this migration gets its speakers on the next ``sahafa index``)."""
    _run(
        db,
        """
        ALTER TABLE sentences ADD COLUMN speaker TEXT;
        ALTER TABLE sentences ADD COLUMN speaker_title TEXT;
        ALTER TABLE sentences ADD COLUMN speaker_key TEXT;
        CREATE INDEX sentences_speaker ON sentences (speaker_key);
        ALTER TABLE articles ADD COLUMN speaker_version INTEGER NOT NULL DEFAULT 0
        """,
    )


def m007_cluster_listing(db: sqlite3.Connection) -> None:
    """A cluster's copies listed earliest first and its outlets read from indexes alone (``Store.copies``): a story
    re-run by thousands of articles costs a search what a few dozen do."""
    _run(
        db,
        """
        CREATE INDEX articles_cluster_date ON articles (cluster, date);
        CREATE INDEX articles_cluster_source ON articles (cluster, source, date);
        DROP INDEX articles_cluster
        """,
    )


MIGRATIONS = (
    m001_create_tables, m002_sentences, m003_row_high_water, m004_bylines, m005_clusters, m006_speakers,
    m007_cluster_listing,
)  # fmt: skip


def migrate(db: sqlite3.Connection) -> None:
    """Apply the numbered migrations that this database has not seen yet, each in one transaction with its
    version number: a process killed half-way leaves the schema as it was before that migration, and two
    processes opening the same new index apply each migration once."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            done = db.execute("PRAGMA user_version").fetchone()[0]
            if done >= len(MIGRATIONS):
                db.execute("COMMIT")
                return
            MIGRATIONS[done](db)
            db.execute(f"PRAGMA user_version = {done + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _run(db: sqlite3.Connection, script: str) -> None:
    """The statements of ``script`` one by one, inside the caller's transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@dataclass(frozen=True)
class StoredPassage:
    """A passage row as the search side needs it."""

    id: int
    article_id: str
    ordinal: int
    start: int
    end: int
    lang: str


@dataclass(frozen=True)
class StoredSentence:
    """A sentence row: offsets into its article's text and its int8 vector."""

    id: int
    article_id: str
    start: int
    end: int
    lang: str
    vector: np.ndarray


@dataclass(frozen=True)
class Attributed:
    """A sentence attributed to a speaker: its offsets in the article text, the speaker and the title given."""

    start: int
    end: int
    speaker: str
    title: str | None


@dataclass(frozen=True)
class NewSentence:
    """A sentence ready to be written."""

    article_id: str
    start: int
    end: int
    lang: str
    text_hash: str
    vector: np.ndarray  # int8 codes


@dataclass(frozen=True)
class Removed:
    """Row ids that deleting an article removed (their vectors leave FAISS too)."""

    passages: list[int]
    sentences: list[int]


@dataclass(frozen=True)
class NewPassage:
    """A passage ready to be written: offsets, lexical forms and its vector."""

    passage: Passage
    lang: str
    text_hash: str
    stemmed: str
    norm: str
    vector: np.ndarray


@dataclass(frozen=True)
class LexicalRow:
    """A passage as the lexical index holds it: its stemmed words and what filters read."""

    id: int
    stemmed: str
    lang: str
    source: str | None
    date: str | None


class Store:
    """One SQLite file. Writes happen in explicit transactions (``with store.transaction():``)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        # A percent-encoded URI: a path holding '#', '?' or '%' names this file and no other.
        uri = self.path.absolute().as_uri() + ("?mode=ro" if readonly else "")
        self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and truncate it."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def transaction(self) -> sqlite3.Connection:
        """A context manager: BEGIN … COMMIT, or ROLLBACK on error."""
        return _Transaction(self.db)

    def snapshot(self) -> Snapshot:
        """A context manager: a read transaction, so that every read inside it sees the same committed state (WAL
        lets writers go on meanwhile). Inside another transaction it adds nothing."""
        return Snapshot(self.db)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def article_hashes(self) -> dict[str, tuple[str, str]]:
        """``{article_id: (text_hash, record_hash)}`` for every stored article."""
        rows = self.db.execute("SELECT id, text_hash, record_hash FROM articles")
        return {r["id"]: (r["text_hash"], r["record_hash"]) for r in rows}

    def vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of passages whose text hash is in ``hashes`` (reused instead of re-embedding)."""
        found: dict[str, np.ndarray] = {}
        wanted = list(set(hashes))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT text_hash, vector FROM passages WHERE text_hash IN ({marks})"
            for row in self.db.execute(sql, chunk):
                found[row["text_hash"]] = np.frombuffer(row["vector"], dtype=np.float32)
        return found

    def vector_dimension(self) -> int | None:
        """How many float32 values the stored passage vectors hold (None for an empty index)."""
        row = self.db.execute("SELECT length(vector) FROM passages LIMIT 1").fetchone()
        return None if row is None else row[0] // 4

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every passage, in id order."""
        count = self.count("passages")
        ids = np.empty(count, dtype=np.int64)
        vectors = np.empty((count, dim), dtype=np.float32)
        for i, row in enumerate(self.db.execute("SELECT id, vector FROM passages ORDER BY id")):
            ids[i] = row["id"]
            vectors[i] = np.frombuffer(row["vector"], dtype=np.float32)
        return ids, vectors

    def row_vectors(self, table: str, ids: Sequence[int], dtype: type, dim: int) -> np.ndarray:
        """The stored vectors (``passages``: float32, ``sentences``: int8 codes) of ``ids``, one row each in the
        order given; a missing id is an error (the caller's ids come from an index of this generation)."""
        rows = np.empty((len(ids), dim), dtype=dtype)
        position = {int(i): k for k, i in enumerate(ids)}
        wanted = list(position)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            sql = f"SELECT id, vector FROM {_table(table)} WHERE id IN ({','.join('?' * len(chunk))})"
            for row in self.db.execute(sql, chunk):
                rows[position[row[0]]] = np.frombuffer(row[1], dtype=dtype)
                del position[row[0]]
        if position:
            raise KeyError(f"{table} rows missing: {sorted(position)[:5]}")
        return rows

    def iter_row_vectors(
        self, table: str, dtype: type, dim: int, chunk: int = 50_000, after: int = -1
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of every row of ``table`` with an id above ``after``, in id order, ``chunk`` rows at a
        time (bounded memory)."""
        sql = f"SELECT id, vector FROM {_table(table)} WHERE id > ? ORDER BY id LIMIT ?"
        last = after
        while True:
            rows = self.db.execute(sql, (last, chunk)).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=dtype).reshape(len(rows), dim)
            yield ids, vectors
            last = int(ids[-1])

    def sentence_vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored int8 vectors of sentences whose text hash is in ``hashes``."""
        found: dict[str, np.ndarray] = {}
        wanted = list(set(hashes))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            sql = f"SELECT text_hash, vector FROM sentences WHERE text_hash IN ({','.join('?' * len(chunk))})"
            found.update((row[0], np.frombuffer(row[1], dtype=np.int8)) for row in self.db.execute(sql, chunk))
        return found

    def all_sentence_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, int8 vectors) of every sentence, in id order."""
        count = self.count("sentences")
        ids = np.empty(count, dtype=np.int64)
        codes = np.empty((count, dim), dtype=np.int8)
        for i, row in enumerate(self.db.execute("SELECT id, vector FROM sentences ORDER BY id")):
            ids[i] = row[0]
            codes[i] = np.frombuffer(row[1], dtype=np.int8)
        return ids, codes

    def sentences(self, ids: Sequence[int]) -> dict[int, StoredSentence]:
        found: dict[int, StoredSentence] = {}
        for i in range(0, len(ids), 500):
            chunk = [int(x) for x in ids[i : i + 500]]
            sql = (
                'SELECT id, article_id, start, "end", lang, vector FROM sentences '
                f"WHERE id IN ({','.join('?' * len(chunk))})"
            )
            found.update((row[0], _sentence(row)) for row in self.db.execute(sql, chunk))
        return found

    def sentences_between(self, article_id: str, start: int, end: int) -> list[StoredSentence]:
        """The sentences of an article that lie within ``[start, end)``, in text order."""
        sql = (
            'SELECT id, article_id, start, "end", lang, vector FROM sentences '
            'WHERE article_id = ? AND start >= ? AND "end" <= ? ORDER BY start'
        )
        return [_sentence(row) for row in self.db.execute(sql, (article_id, start, end))]

    def articles_without_sentences(self, version: int) -> list[str]:
        """Ids of articles whose sentences were made by other rules than ``version`` (or not at all)."""
        sql = "SELECT id FROM articles WHERE sentence_version != ? ORDER BY id"
        return [row[0] for row in self.db.execute(sql, (version,))]

    def unclustered(self, limit: int) -> list[str]:
        """Ids of up to ``limit`` articles that have no cluster yet, in id order."""
        return [r[0] for r in self.db.execute("SELECT id FROM articles WHERE cluster IS NULL ORDER BY id LIMIT ?",
                                              (limit,))]  # fmt: skip

    def band_mates(self, bands: Sequence[int]) -> list[str]:
        """Ids of the articles that share at least one LSH band key with ``bands`` (the i-th key is band i)."""
        if not bands:
            return []
        terms = " OR ".join(["(band = ? AND key = ?)"] * len(bands))
        values = [v for band in enumerate(bands) for v in band]
        return [r[0] for r in self.db.execute(f"SELECT DISTINCT article_id FROM article_bands WHERE {terms}", values)]

    def clusters_of(self, ids: Sequence[str]) -> dict[str, str | None]:
        """``{article id: its cluster's name, or None while unsettled}`` for the stored articles among ``ids``."""
        found: dict[str, str | None] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            sql = f"SELECT id, cluster FROM articles WHERE id IN ({','.join('?' * len(chunk))})"
            found.update((r[0], r[1]) for r in self.db.execute(sql, chunk))
        return found

    def cluster_members(self, names: Sequence[str]) -> dict[str, list[str]]:
        """``{cluster name: member ids in id order}``."""
        found: dict[str, list[str]] = {}
        wanted = list(dict.fromkeys(names))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            sql = f"SELECT cluster, id FROM articles WHERE cluster IN ({','.join('?' * len(chunk))}) ORDER BY id"
            for row in self.db.execute(sql, chunk):
                found.setdefault(row[0], []).append(row[1])
        return found

    def copies(self, ids: Sequence[str], limit: int = COPIES_LISTED) -> dict[str, list[Copy]]:
        """``{article id: other members of its cluster, earliest dated first}`` for each of ``ids`` that has any:
        the ``limit`` earliest, and the earliest of every other outlet (``records.shortlist``), each read through
        the cluster indexes of m007, so a cluster of thousands costs a few lookups."""
        found: dict[str, list[Copy]] = {}
        listing = "SELECT id, title, source, date, url, lang FROM articles WHERE cluster = ? AND id != ?"
        for article_id, cluster in self.clusters_of(ids).items():
            if cluster is None:
                continue
            sql = f"{listing} AND date IS NOT NULL ORDER BY date, id LIMIT ?"
            rows = self.db.execute(sql, (cluster, article_id, limit)).fetchall()
            if len(rows) < limit:
                sql = f"{listing} AND date IS NULL ORDER BY id LIMIT ?"
                rows += self.db.execute(sql, (cluster, article_id, limit - len(rows))).fetchall()
            else:
                outlets = {r[2] for r in rows}
                for source in self._cluster_outlets(cluster):
                    if source not in outlets:
                        first = f"{listing} AND source = ? ORDER BY id LIMIT 1"  # an outlet with undated copies only
                        dated = f"{listing} AND source = ? AND date IS NOT NULL ORDER BY date, id LIMIT 1"
                        rows += (self.db.execute(dated, (cluster, article_id, source)).fetchall()
                                 or self.db.execute(first, (cluster, article_id, source)).fetchall())  # fmt: skip
                rows.sort(key=lambda r: (r[3] is None, r[3] or "", r[0]))
            if rows:
                found[article_id] = [Copy(*r) for r in rows]
        return found

    def _cluster_outlets(self, cluster: str) -> list[str]:
        """The outlets of a cluster, one index seek each (a skip-scan: the next source after the last one found)
        rather than a scan of every member."""
        sql = (
            "WITH RECURSIVE outlet(name) AS ("
            " SELECT MIN(source) FROM articles WHERE cluster = :c AND source IS NOT NULL"
            " UNION ALL SELECT (SELECT MIN(source) FROM articles WHERE cluster = :c AND source > outlet.name)"
            " FROM outlet WHERE outlet.name IS NOT NULL"
            ") SELECT name FROM outlet WHERE name IS NOT NULL"
        )
        return [row[0] for row in self.db.execute(sql, {"c": cluster})]

    def copy_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """``{article id: how many other articles its cluster holds}`` for each of ``ids`` that is clustered."""
        counts: dict[str, int] = {}
        for article_id, cluster in self.clusters_of(ids).items():
            if cluster is not None:
                counts[article_id] = self.db.execute("SELECT COUNT(*) FROM articles WHERE cluster = ?",
                                                     (cluster,)).fetchone()[0] - 1  # fmt: skip
        return counts

    def articles_without_speakers(self, version: int, limit: int) -> list[str]:
        """Ids of up to ``limit`` articles whose speakers were found by other rules than ``version`` (or not yet)."""
        sql = "SELECT id FROM articles WHERE speaker_version != ? ORDER BY id LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (version, limit))]

    def sentence_spans(self, article_id: str) -> list[tuple[int, int, int]]:
        """(id, start, end) of an article's sentences, in text order."""
        sql = 'SELECT id, start, "end" FROM sentences WHERE article_id = ? ORDER BY start'
        return [(r[0], r[1], r[2]) for r in self.db.execute(sql, (article_id,))]

    def speakers_between(self, article_id: str, start: int, end: int) -> list[Attributed]:
        """The attributed sentences of an article that overlap ``[start, end)``, in text order."""
        sql = (
            'SELECT start, "end", speaker, speaker_title FROM sentences WHERE article_id = ? AND start < ? '
            'AND "end" > ? AND speaker IS NOT NULL ORDER BY start'
        )
        return [Attributed(*row) for row in self.db.execute(sql, (article_id, end, start))]

    def quoting(self, key: str) -> tuple[list[int], list[int]]:
        """(passage ids, sentence ids), ascending, of what ``key`` (a folded speaker name) is quoted in: sentences
        whose speaker is it or ends with it (a surname names the person), and the passages holding them."""
        like = "% " + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = (  # one scan of the sentences: each quoting sentence with the passage that holds it
            "SELECT s.id, p.id FROM sentences s LEFT JOIN passages p ON p.article_id = s.article_id "
            'AND p.start <= s.start AND s."end" <= p."end" '
            "WHERE s.speaker_key = ? OR s.speaker_key LIKE ? ESCAPE '\\'"
        )
        rows = self.db.execute(sql, (key, like)).fetchall()
        return sorted({p for _, p in rows if p is not None}), sorted({s for s, _ in rows})

    def passage_speakers(self, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """``{passage id: [(speaker key, speaker), …]}``: who the attributed sentences of each passage quote."""
        found: dict[int, list[tuple[str, str]]] = {}
        for i in range(0, len(ids), 500):
            chunk = [int(x) for x in ids[i : i + 500]]
            sql = (
                "SELECT p.id, s.speaker_key, s.speaker FROM passages p JOIN sentences s ON s.article_id = p.article_id "
                f'AND s.start >= p.start AND s."end" <= p."end" WHERE p.id IN ({",".join("?" * len(chunk))}) '
                "AND s.speaker IS NOT NULL"
            )
            for row in self.db.execute(sql, chunk):
                found.setdefault(row[0], []).append((row[1], row[2]))
        return found

    def sentence_speakers(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``{sentence id: (speaker key, speaker)}`` for those of ``ids`` that are attributed."""
        found: dict[int, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = [int(x) for x in ids[i : i + 500]]
            sql = (f"SELECT id, speaker_key, speaker FROM sentences WHERE id IN ({','.join('?' * len(chunk))}) "
                   "AND speaker IS NOT NULL")  # fmt: skip
            found.update((r[0], (r[1], r[2])) for r in self.db.execute(sql, chunk))
        return found

    def count(self, table: str) -> int:
        assert table in ("articles", "passages", "sentences")
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        found: dict[str, Article] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            sql = f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(chunk))})"
            found.update((row["id"], _article(row)) for row in self.db.execute(sql, chunk))
        return found

    def article_facts(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None, str]]:
        """``{id: (date, source, lang)}`` of the articles ``ids`` that are stored: what coverage counts."""
        found: dict[str, tuple[str | None, str | None, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            sql = f"SELECT id, date, source, lang FROM articles WHERE id IN ({','.join('?' * len(chunk))})"
            found.update((row[0], (row[1], row[2], row[3])) for row in self.db.execute(sql, chunk))
        return found

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        found: dict[int, StoredPassage] = {}
        for i in range(0, len(ids), 500):
            chunk = [int(x) for x in ids[i : i + 500]]
            sql = (
                'SELECT id, article_id, ordinal, start, "end", lang FROM passages '
                f"WHERE id IN ({','.join('?' * len(chunk))})"
            )
            found.update((row["id"], StoredPassage(*row)) for row in self.db.execute(sql, chunk))
        return found

    def passages_of_articles(self, article_ids: Sequence[str]) -> list[StoredPassage]:
        found: list[StoredPassage] = []
        for i in range(0, len(article_ids), 500):
            chunk = list(article_ids[i : i + 500])
            sql = (
                'SELECT id, article_id, ordinal, start, "end", lang FROM passages '
                f"WHERE article_id IN ({','.join('?' * len(chunk))}) ORDER BY article_id, ordinal"
            )
            found += [StoredPassage(*row) for row in self.db.execute(sql, chunk)]
        return found

    def passages_of(self, article_id: str) -> list[StoredPassage]:
        sql = 'SELECT id, article_id, ordinal, start, "end", lang FROM passages WHERE article_id = ? ORDER BY ordinal'
        return [StoredPassage(*row) for row in self.db.execute(sql, (article_id,))]

    def iter_article_ids(self) -> Iterator[str]:
        for row in self.db.execute("SELECT id FROM articles ORDER BY id"):
            yield row["id"]

    def sources(self) -> list[tuple[str, int]]:
        sql = "SELECT source, count(*) FROM articles WHERE source IS NOT NULL GROUP BY source ORDER BY source"
        return [(row[0], row[1]) for row in self.db.execute(sql)]

    def languages(self) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT lang, count(*) FROM articles GROUP BY lang")]

    def date_range(self) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT min(date), max(date) FROM articles").fetchone()
        return row[0], row[1]

    # --- writing (call inside a transaction) -----------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def bump_generation(self) -> int:
        self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        return self.generation

    def delete_article(self, article_id: str) -> Removed:
        """Remove an article, its passages with their full-text rows, and its sentences."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM passages WHERE article_id = ?", (article_id,))]
        self.db.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
        self.db.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))
        sentences = self.delete_sentences(article_id)
        # The rest of its cluster may have been held together by this article alone: each settles again.
        self.db.execute(
            "UPDATE articles SET cluster = NULL WHERE cluster = (SELECT cluster FROM articles WHERE id = ?)",
            (article_id,),
        )
        self.db.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return Removed(ids, sentences)

    def put_bands(self, article_id: str, bands: Sequence[int]) -> None:
        """Replace the LSH band keys of an article (``indexer.syndication.fingerprint``)."""
        self.db.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
        self.db.executemany("INSERT INTO article_bands (article_id, band, key) VALUES (?, ?, ?)",
                            [(article_id, band, key) for band, key in enumerate(bands)])  # fmt: skip

    def set_speakers(self, article_id: str, rows: Sequence[tuple[int, str | None, str | None, str | None]],
                     version: int) -> None:  # fmt: skip
        """Write (sentence id, speaker, title, key) for an article's sentences and the rules that found them."""
        self.db.executemany("UPDATE sentences SET speaker = ?, speaker_title = ?, speaker_key = ? WHERE id = ?",
                            [(speaker, title, key, i) for i, speaker, title, key in rows])  # fmt: skip
        self.db.execute("UPDATE articles SET speaker_version = ? WHERE id = ?", (version, article_id))

    def set_cluster(self, ids: Iterable[str], name: str) -> None:
        self.db.executemany("UPDATE articles SET cluster = ? WHERE id = ?", [(name, i) for i in ids])

    def delete_sentences(self, article_id: str) -> list[int]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM sentences WHERE article_id = ?", (article_id,))]
        self.db.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
        return ids

    def add_sentences(self, article_id: str, rows: Sequence[NewSentence], version: int) -> list[int]:
        """Insert an article's sentences and record the rules they follow; return the new ids in order."""
        ids = self._new_ids("sentences", len(rows))
        for sentence_id, row in zip(ids, rows, strict=True):
            self.db.execute(
                'INSERT INTO sentences (id, article_id, start, "end", lang, text_hash, vector) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sentence_id, row.article_id, row.start, row.end, row.lang, row.text_hash, row.vector.tobytes()),
            )
        # New sentences have no speakers yet: the article's are found again (``indexer.speakers.settle_speakers``).
        self.db.execute("UPDATE articles SET sentence_version = ?, speaker_version = 0 WHERE id = ?",
                        (version, article_id))  # fmt: skip
        return ids

    def put_article(self, article: Article, text_hash: str, record_hash: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles (id, title, text, date, source, lang, url, origin, text_hash, "
            "record_hash, author, dateline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.text,
                article.date,
                article.source,
                article.lang,
                article.url,
                article.origin,
                text_hash,
                record_hash,
                article.author,
                article.dateline,
            ),
        )

    def add_passages(self, rows: Sequence[NewPassage]) -> list[int]:
        """Insert passages and their full-text rows; return the new passage ids in order (never used before)."""
        ids = self._new_ids("passages", len(rows))
        for passage_id, row in zip(ids, rows, strict=True):
            p = row.passage
            self.db.execute(
                'INSERT INTO passages (id, article_id, ordinal, start, "end", lang, text_hash, vector) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (passage_id, p.article_id, p.ordinal, p.start, p.end, row.lang, row.text_hash, row.vector.tobytes()),
            )
            self.db.execute(
                "INSERT INTO passages_fts (rowid, stemmed, norm) VALUES (?, ?, ?)",
                (passage_id, row.stemmed, row.norm),
            )
        return ids

    def _new_ids(self, table: str, count: int) -> list[int]:
        """``count`` ids for new rows of ``table``, above every id it ever held (``m003_row_high_water``)."""
        high = self.high(table)
        if count:
            self.set_meta(f"{_table(table)}_high", str(high + count))
        return list(range(high + 1, high + count + 1))

    def high(self, table: str) -> int:
        """The largest id ``table`` (passages or sentences) ever gave out."""
        return int(self.meta(f"{_table(table)}_high") or 0)

    def lexical_rows(self, after: int = 0, chunk: int = 20_000) -> Iterator[list[LexicalRow]]:
        """Every passage with an id above ``after`` as the lexical index takes it, in id order, ``chunk`` at a
        time."""
        sql = (
            "SELECT f.rowid, f.stemmed, a.lang, a.source, a.date FROM passages_fts f "
            "JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id "
            "WHERE f.rowid > ? ORDER BY f.rowid LIMIT ?"
        )
        while rows := self.db.execute(sql, (after, chunk)).fetchall():
            yield [LexicalRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]
            after = rows[-1][0]

    def filter_rows(self, table: str, after: int = 0, chunk: int = 200_000) -> Iterator[list[tuple]]:
        """(id, language, outlet, date, article id) of every row of ``table`` (passages or sentences) above
        ``after``, from its article, in id order, ``chunk`` at a time."""
        sql = (
            f"SELECT x.id, a.lang, a.source, a.date, x.article_id FROM {_table(table)} x "
            "JOIN articles a ON a.id = x.article_id "
            "WHERE x.id > ? ORDER BY x.id LIMIT ?"
        )
        while rows := self.db.execute(sql, (after, chunk)).fetchall():
            yield [tuple(r) for r in rows]
            after = rows[-1][0]

    def lexical_texts(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``{passage id: (stemmed, norm)}``: the full-text row of each passage that exists."""
        found: dict[int, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = [int(x) for x in ids[i : i + 500]]
            sql = f"SELECT rowid, stemmed, norm FROM passages_fts WHERE rowid IN ({','.join('?' * len(chunk))})"
            found.update((r[0], (r[1], r[2])) for r in self.db.execute(sql, chunk))
        return found

    def fts_totals(self) -> tuple[int, int]:
        """(rows, tokens over every column) of the full-text index: what FTS5's ``bm25()`` takes N and the mean
        row length from. Read from FTS5's averages record (row 1 of ``passages_fts_data``: a varint of the row
        count, then one of the tokens of each column), which FTS5 keeps up to date on every write."""
        row = self.db.execute("SELECT block FROM passages_fts_data WHERE id = 1").fetchone()
        if row is None or not row[0]:
            return 0, 0
        values, block, at = [], bytes(row[0]), 0
        while at < len(block):
            value, at = _varint(block, at)
            values.append(value)
        return values[0], sum(values[1:])


def _varint(block: bytes, at: int) -> tuple[int, int]:
    """SQLite's varint (big-endian groups of 7 bits, the ninth byte whole) at ``at``: (value, next offset)."""
    value = 0
    for i in range(9):
        byte = block[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def _table(name: str) -> str:
    if name not in ("passages", "sentences"):
        raise ValueError(f"no vectors in table {name!r}")
    return name


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        text=row["text"],
        title=row["title"],
        date=row["date"],
        source=row["source"],
        lang=row["lang"],
        url=row["url"],
        origin=row["origin"],
        author=row["author"],
        dateline=row["dateline"],
    )


def _sentence(row: sqlite3.Row) -> StoredSentence:
    return StoredSentence(row[0], row[1], row[2], row[3], row[4], np.frombuffer(row[5], dtype=np.int8))


class Snapshot:
    """``BEGIN`` (deferred: the snapshot is taken at the first read) … ``COMMIT``; nothing when already inside one."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.owner = False

    def __enter__(self) -> Snapshot:
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self.owner = True
        return self

    def __exit__(self, *args: object) -> None:
        if self.owner:
            self.db.execute("COMMIT")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *args: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
