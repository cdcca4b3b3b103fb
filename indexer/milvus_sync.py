"""Copy an index directory into Milvus (``indexer.milvus``), incrementally.

Each article has a fingerprint: its text and record hashes and the ids and offsets of its passages and sentences,
in SQLite. A sync compares the fingerprints in the index with those Milvus holds and only deletes and writes the
articles whose fingerprint differs (new, changed, re-split) or that the index no longer has. It reads SQLite
inside one read snapshot, so what it copies is one committed generation, which it records in the meta rows with
the encoder, dimension and normaliser, and the languages, outlets and dates the filters offer.

Milvus has no transaction across collections: an article's rows are deleted with its ``articles`` row first and
written back with it last, and the meta rows say ``state: syncing`` until the end. A sync that was interrupted
leaves that state behind; the next one then also deletes rows whose article it does not hold (written for an
article that was deleted from the index since), and writes every article whose fingerprint is missing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from indexer.config import DATABASE_FILE, IndexConfig, check_compatible, read_config
from indexer.errors import IndexMismatch, IndexNotFound
from indexer.milvus import (
    LAYOUT_VERSION,
    PLACEHOLDER,
    TEXT_CHUNK_CHARS,
    VARCHAR_BYTES,
    Connection,
    MilvusBackend,
    json_rows,
    one_of,
    padded,
)
from indexer.normalize import NORMALIZER_VERSION
from indexer.records import Article
from indexer.store import Store

BATCH_ARTICLES = 64
ROWS_PER_CALL = 256
PLACED = {"placeholder": PLACEHOLDER}
ROWS = ("texts", "passages", "sentences")  # the collections whose rows belong to an article


@dataclass
class SyncReport:
    """What one sync did."""

    backend: str
    generation: int = 0
    written: int = 0  # articles added or rewritten
    removed: int = 0
    unchanged: int = 0
    passages: int = 0
    sentences: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"synced generation {self.generation} to {self.backend}: {self.written} article(s) written, "
            f"{self.removed} removed, {self.unchanged} unchanged ({self.passages} passages, {self.sentences} "
            f"sentences; {self.seconds:.1f}s)"
        )


def sync_index(index_dir: str | Path, backend: MilvusBackend | str, *, progress: bool = False) -> SyncReport:
    """Bring the Milvus collections of ``backend`` to what the index at ``index_dir`` holds now."""
    started = time.perf_counter()
    path = Path(index_dir)
    config = read_config(path)  # IndexNotFound when there is no index there
    check_compatible(path, config)
    if not (path / DATABASE_FILE).is_file():
        raise IndexNotFound(f"no Sahafa index at {path}: build one with: sahafa index SOURCE... --index {path}")
    connection = Connection.open(backend)
    store = Store(path / DATABASE_FILE, readonly=True)
    report = SyncReport(connection.backend.address)
    try:
        with store.snapshot():
            _sync(store, config, path, connection, report, progress)
    finally:
        store.close()
        connection.close()
    report.seconds = time.perf_counter() - started
    return report


def _sync(
    store: Store, config: IndexConfig, path: Path, connection: Connection, report: SyncReport, progress: bool
) -> None:
    meta = connection.meta() if connection.exists() else {}
    if meta.get("encoder", config.encoder) != config.encoder or int(meta.get("dim", config.dim)) != config.dim:
        raise IndexMismatch(
            f"Milvus at {connection.backend.address} holds an index built with encoder {meta['encoder']!r} "
            f"({meta['dim']}-d), the index at {path} uses {config.encoder!r} ({config.dim}-d); sync it to another "
            "collection name"
        )
    connection.create(config.dim)
    connection.load()
    hashes = store.article_hashes()
    local = fingerprints(store, hashes)
    remote = {r["id"]: r["fingerprint"] for r in connection.scan("articles", 'id != ""', ["id", "fingerprint"])}
    interrupted = meta.get("state") == "syncing"
    connection.put_meta(
        {"state": "syncing", "layout": str(LAYOUT_VERSION), "encoder": config.encoder, "dim": str(config.dim),
         "normalizer_version": str(NORMALIZER_VERSION)}
    )  # fmt: skip
    gone = sorted(set(remote) - set(local))
    todo = sorted(a for a, fingerprint in local.items() if remote.get(a) != fingerprint)
    report.removed, report.unchanged = len(gone), len(local) - len(todo)
    for batch in _chunks(gone, 500):
        _delete(connection, batch)
    if interrupted:
        _sweep(connection, set(local))
    bar = tqdm(total=len(todo), unit="article", disable=not progress, desc="syncing", dynamic_ncols=True)
    try:
        for batch in _chunks(todo, BATCH_ARTICLES):
            _write(store, connection, batch, local, hashes, report)
            bar.update(len(batch))
    finally:
        bar.close()
    report.generation = store.generation
    first, last = store.date_range()
    stats = {
        "languages": store.languages(), "sources": store.sources(), "dates": [first, last],
        "articles": store.count("articles"), "passages": store.count("passages"), "tokens": fts_tokens(store),
    }  # fmt: skip
    connection.put_meta({"generation": str(report.generation), "state": "complete"} | json_rows("stats", stats))


def fingerprints(store: Store, hashes: dict[str, tuple[str, str]]) -> dict[str, str]:
    """``{article_id: fingerprint}``: the article's hashes (``Store.article_hashes``) and its passages' and
    sentences' ids and offsets, who its sentences quote, and the name of its syndication cluster."""
    clusters = store.clusters_of(list(hashes))
    digests = {a: hashlib.sha1(f"{t} {r} {clusters.get(a)}".encode()) for a, (t, r) in hashes.items()}
    for table, said in (("passages", "''"), ("sentences", "coalesce(speaker_key, '')")):
        for article_id, row_id, start, end, speaker in store.db.execute(
            f'SELECT article_id, id, start, "end", {said} FROM {table} ORDER BY id'
        ):
            digests[article_id].update(f" {table[0]}{row_id}:{start}:{end}:{speaker}".encode())
    return {a: d.hexdigest() for a, d in digests.items()}


def fts_tokens(store: Store) -> int:
    """The tokens of every full-text row over all its columns, as FTS5 counts them for bm25()'s mean length."""
    store.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.sahafa_vocab USING fts5vocab(main, passages_fts, 'row')")
    return int(store.db.execute("SELECT coalesce(sum(cnt), 0) FROM temp.sahafa_vocab").fetchone()[0])


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _delete(connection: Connection, article_ids: list[str]) -> None:
    """Remove articles from Milvus: the ``articles`` row first, so that an interrupted sync writes them again."""
    connection.call("delete articles", "delete", connection.backend.name("articles"), filter=one_of("id", article_ids))
    for part in ROWS:
        name = connection.backend.name(part)
        connection.call(f"delete from {name}", "delete", name, filter=one_of("article_id", article_ids))


def _sweep(connection: Connection, keep: set[str]) -> None:
    """Delete rows whose article the index does not hold (left by an interrupted sync)."""
    for part in ROWS:
        stray = {r["article_id"] for r in connection.scan(part, "", ["article_id"])} - keep
        for batch in _chunks(sorted(stray), 500):
            name = connection.backend.name(part)
            connection.call(f"delete from {name}", "delete", name, filter=one_of("article_id", batch))


def _write(
    store: Store, connection: Connection, ids: list[str], local: dict[str, str], hashes: dict, report: SyncReport
) -> None:
    """Replace the rows of ``ids`` in Milvus with the index's (an article that does not fit is left out, and said)."""
    _delete(connection, ids)
    articles = store.articles(ids)
    passages = _passage_rows(store, articles)
    sentences = _sentence_rows(store, articles)
    problems = {a: problem for a, article in articles.items() if (problem := _too_long(article))}
    for row in passages:
        if _bytes(row["stemmed"]) > VARCHAR_BYTES or _bytes(row["norm"]) > VARCHAR_BYTES:
            problems.setdefault(row["article_id"], f"its passage {row['ordinal']} is too long for a Milvus VARCHAR")
    report.problems += [f"article {a!r} not synced: {problem}" for a, problem in sorted(problems.items())]
    keep = sorted(set(articles) - set(problems))
    texts = {a: _text_rows(articles[a]) for a in keep}
    passages = [r for r in passages if r["article_id"] not in problems]
    sentences = [r for r in sentences if r["article_id"] not in problems]
    _put(connection, "texts", [row for a in keep for row in texts[a]], "insert", 64)
    _put(connection, "passages", passages, "upsert", ROWS_PER_CALL)
    _put(connection, "sentences", sentences, "upsert", ROWS_PER_CALL)
    clusters = store.clusters_of(keep)
    rows = [_article_row(articles[a], hashes[a], local[a], len(texts[a]), clusters.get(a)) for a in keep]
    _put(connection, "articles", rows, "upsert", ROWS_PER_CALL)
    report.written += len(keep)
    report.passages += len(passages)
    report.sentences += len(sentences)


def _put(connection: Connection, part: str, rows: list[dict], method: str, per_call: int) -> None:
    name = connection.backend.name(part)
    for i in range(0, len(rows), per_call):
        connection.call(f"write {name}", method, name, rows[i : i + per_call])


def _placeholders(articles: dict[str, Article]) -> str:
    return ",".join("?" * len(articles))


def _denormalised(article: Article) -> dict:
    """The article's fields that filters read, repeated on each of its passages and sentences."""
    return {"lang": article.lang, "source": article.source, "day": article.date[:10] if article.date else None}


def _passage_rows(store: Store, articles: dict[str, Article]) -> list[dict]:
    if not articles:
        return []
    sql = (
        'SELECT p.id, p.article_id, p.ordinal, p.start, p."end", p.vector, f.stemmed, f.norm FROM passages p '
        f"JOIN passages_fts f ON f.rowid = p.id WHERE p.article_id IN ({_placeholders(articles)}) ORDER BY p.id"
    )
    return [
        {
            "id": row[0], "article_id": row[1], "ordinal": row[2], "start_char": row[3], "end_char": row[4],
            **_denormalised(articles[row[1]]), "vector": np.frombuffer(row[5], dtype=np.float32).tolist(),
            "stemmed": row[6], "norm": padded(row[7]),
        }  # fmt: skip
        for row in store.db.execute(sql, list(articles))
    ]


def _sentence_rows(store: Store, articles: dict[str, Article]) -> list[dict]:
    if not articles:
        return []
    sql = (
        'SELECT id, article_id, start, "end", vector, speaker, speaker_title, speaker_key FROM sentences '
        f"WHERE article_id IN ({_placeholders(articles)}) ORDER BY id"
    )
    return [
        {
            "id": row[0], "article_id": row[1], "start_char": row[2], "end_char": row[3],
            **_denormalised(articles[row[1]]), "vector": np.frombuffer(row[4], np.int8).astype(np.float32).tolist(),
            "speaker": row[5] or "", "speaker_title": row[6] or "", "speaker_key": row[7] or "",
        }  # fmt: skip
        for row in store.db.execute(sql, list(articles))
    ]


def _text_rows(article: Article) -> list[dict]:
    """The article's text in ordered chunks of ``TEXT_CHUNK_CHARS`` characters (one, maybe empty, at least)."""
    starts = range(0, max(len(article.text), 1), TEXT_CHUNK_CHARS)
    return [
        {"article_id": article.id, "ordinal": i, "text": article.text[a : a + TEXT_CHUNK_CHARS]} | PLACED
        for i, a in enumerate(starts)
    ]


def _article_row(
    article: Article, hashes: tuple[str, str], fingerprint: str, chunks: int, cluster: str | None
) -> dict:
    return {
        "id": article.id, "title": article.title, "date": article.date, "source": article.source,
        "lang": article.lang, "url": article.url, "origin": article.origin, "author": article.author,
        "dateline": article.dateline, "text_hash": hashes[0],
        "record_hash": hashes[1], "fingerprint": fingerprint,
        "chunks": chunks, "cluster": cluster, "placeholder": PLACEHOLDER,
    }  # fmt: skip


def _too_long(article: Article) -> str | None:
    """Why the article does not fit Milvus's VARCHAR fields, or None."""
    for name in ("id", "title", "source", "url", "origin", "author", "dateline"):
        size = _bytes(getattr(article, name) or "")
        if size > VARCHAR_BYTES:
            return f"its {name} is {size:,} bytes, a Milvus VARCHAR holds at most {VARCHAR_BYTES:,}"
    return None


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))
