"""Incremental, crash-safe indexing: sources → passages → vectors → one SQLite transaction per batch.

An unchanged article (same id, same text and metadata) costs a hash; a changed one replaces its
passages (reusing the stored vector of any passage whose text did not change); a new one is added.
Every batch commits articles, passages, full-text rows and vectors together and bumps the store's
generation; the FAISS file is saved with that generation at the end and at most every
``SAVE_EVERY_S`` seconds, and rebuilt from SQLite on open if a crash left it behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from indexer.config import DATABASE_FILE, DEFAULT_ENCODER, IndexConfig, RuntimeChoice
from indexer.errors import BadRecord
from indexer.index import IndexDir
from indexer.ingest import read_sources
from indexer.normalize import normalize_text, tokens
from indexer.passages import PassageSettings, split_passages
from indexer.records import Article, Passage
from indexer.store import NewPassage, Store

if TYPE_CHECKING:  # sentence-transformers takes seconds to import: only when something needs embedding
    from indexer.encoders import Encoder

BATCH_PASSAGES = 64
LAST_BUILD = "last_build"  # meta key: what the last run that embedded ran on, and how fast
SAVE_EVERY_S = 60.0


@dataclass
class BuildReport:
    """What one ``sahafa index`` run did."""

    read: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    passages_embedded: int = 0
    passages_reused: int = 0
    embed_seconds: float = 0.0
    runtime: str = ""  # the device and precision the encoder ran on, when it ran
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def last_build(self) -> dict[str, object]:
        rate = self.passages_embedded / self.embed_seconds if self.embed_seconds else None
        return {
            "runtime": self.runtime,
            "passages_embedded": self.passages_embedded,
            "embed_seconds": round(self.embed_seconds, 2),
            "encoder_passages_per_second": round(rate, 1) if rate else None,
        }

    def summary(self) -> str:
        return (
            f"read {self.read}, indexed {self.indexed}, unchanged {self.unchanged}, skipped {self.skipped} "
            f"({self.passages_embedded} passages embedded, {self.passages_reused} reused, {self.seconds:.1f}s)"
        )


@dataclass(frozen=True)
class _Pending:
    article: Article
    text_hash: str
    record_hash: str
    passages: list[Passage]


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def record_hash(article: Article) -> str:
    fields = asdict(article)
    fields.pop("origin")
    return sha1(json.dumps(fields, ensure_ascii=False, sort_keys=True))


def lexical_forms(text: str) -> tuple[str, str]:
    """(stemmed, normalised) word sequences of ``text`` for the full-text index."""
    words = tokens(normalize_text(text))
    return " ".join(t.stem for t in words), " ".join(t.text for t in words)


def index_sources(
    sources: Sequence[str | Path],
    index_dir: str | Path,
    *,
    encoder: str | None = None,
    device: str | None = None,
    precision: str | None = None,
    passages: PassageSettings | None = None,
    progress: bool = True,
    on_problem: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    loaded_encoder: Encoder | None = None,
) -> BuildReport:
    """Index ``sources`` into ``index_dir``, creating it with ``encoder`` if it does not exist; the encoder runs
    on ``device`` in ``precision`` (default: what the machine does fastest, ``indexer.encoders.resolve_runtime``)."""
    started = time.perf_counter()
    report = BuildReport()

    def bad(record: BadRecord) -> None:
        report.read += 1  # a skipped record was read too: read == indexed + unchanged + skipped
        report.skipped += 1
        report.problems.append(str(record))
        if on_problem:
            on_problem(str(record))

    def warn(message: str) -> None:
        report.warnings.append(message)
        if on_warning:
            on_warning(message)

    # read_sources checks every path at once: a missing source fails before an index is created.
    articles = read_sources(sources, on_bad=bad, on_warning=warn)
    if loaded_encoder is None and (device or precision):
        from indexer.runtime import resolve_runtime

        resolve_runtime(device, precision)  # an unavailable runtime fails before anything is written
    runtime = RuntimeChoice(device, precision)
    index, loaded_encoder = _open_for_writing(Path(index_dir), encoder, passages, loaded_encoder, runtime)
    try:
        settings = index.config.passages
        known = index.store.article_hashes()
        seen: dict[str, str] = {}
        todo: list[_Pending] = []
        for article in articles:
            if article.id in seen:
                bad(
                    BadRecord(
                        article.origin, f"duplicate id {article.id!r} (first at {seen[article.id]}); skipped"
                    )
                )
                continue
            report.read += 1
            seen[article.id] = article.origin
            hashes = (sha1(article.text), record_hash(article))
            if known.get(article.id) == hashes:
                report.unchanged += 1
                continue
            todo.append(_Pending(article, *hashes, split_passages(article, settings)))
        _write(index, todo, report, progress, loaded_encoder, runtime)
        if report.runtime:
            with index.store.transaction():
                index.store.set_meta(LAST_BUILD, json.dumps(report.last_build(), ensure_ascii=False))
    finally:
        index.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_for_writing(
    path: Path, encoder: str | None, passages: PassageSettings | None, loaded: Encoder | None, runtime: RuntimeChoice
) -> tuple[IndexDir, Encoder | None]:
    if (path / "config.json").is_file():
        return IndexDir.open(path, encoder=encoder), loaded
    name = encoder or DEFAULT_ENCODER
    if loaded is None or loaded.name != name:
        from indexer.encoders import load_encoder

        loaded = load_encoder(name, device=runtime.device, precision=runtime.precision)
    config = IndexConfig(encoder=name, dim=loaded.dim, passages=passages or PassageSettings())
    return IndexDir.create(path, config), loaded


def _write(
    index: IndexDir,
    todo: list[_Pending],
    report: BuildReport,
    progress: bool,
    loaded: Encoder | None,
    runtime: RuntimeChoice,
) -> None:
    """Embed and commit ``todo`` in batches of about ``BATCH_PASSAGES`` passages.

    The encoder works in this thread while the previous batch is written to SQLite and FAISS in another
    (torch and SQLite both release the GIL), so writing never holds up embedding; at most one batch is
    waiting to be written. Stored vectors are looked up through a second, read-only connection.
    """
    if not todo:
        return
    total = sum(len(p.passages) for p in todo)
    bar = tqdm(total=total, unit="passage", disable=not progress, desc="indexing", dynamic_ncols=True)
    usable = loaded if loaded is not None and loaded.name == index.config.encoder else None
    embedder = _Embedder(index, report, usable, runtime)
    writer = _Writer(index, report)
    batch: list[_Pending] = []
    try:
        for pending in todo:
            batch.append(pending)
            if sum(len(p.passages) for p in batch) >= BATCH_PASSAGES:
                _embed_and_write(embedder, writer, batch, bar)
                batch = []
        if batch:
            _embed_and_write(embedder, writer, batch, bar)
    finally:
        try:
            writer.close()
        finally:
            embedder.close()
            bar.close()
            index.save_vectors()
    if embedder.encoder is not None:
        report.runtime = str(embedder.encoder.runtime)


def _embed_and_write(embedder: _Embedder, writer: _Writer, batch: list[_Pending], bar: tqdm) -> None:
    hashes, vectors = embedder.embed(batch)
    if embedder.encoder is not None and not bar.disable and not bar.postfix:
        bar.set_postfix_str(f"{embedder.encoder.name} on {embedder.encoder.runtime}", refresh=False)
    writer.submit(batch, hashes, vectors)
    bar.update(sum(len(p.passages) for p in batch))


class _Embedder:
    """Vectors for a batch: reused by text hash where SQLite (or this run) has one, embedded otherwise."""

    RECENT = 20_000  # vectors embedded by this run, kept for repeated passages (wire copy run by many outlets)

    def __init__(self, index: IndexDir, report: BuildReport, encoder: Encoder | None, runtime: RuntimeChoice) -> None:
        self.index, self.report, self.encoder, self.runtime = index, report, encoder, runtime
        self.reader = Store(index.path / DATABASE_FILE, readonly=True)
        self.recent: dict[str, np.ndarray] = {}

    def embed(self, batch: list[_Pending]) -> tuple[list[str], np.ndarray]:
        texts = [p.text for pending in batch for p in pending.passages]
        hashes = [sha1(t) for t in texts]
        known = self.reader.vectors_by_hash(h for h in hashes if h not in self.recent)
        known.update((h, self.recent[h]) for h in hashes if h in self.recent)
        todo = list(dict.fromkeys(h for h in hashes if h not in known))
        if todo:
            first = {h: i for i, h in reversed(list(enumerate(hashes)))}
            if self.encoder is None:
                from indexer.encoders import load_encoder

                self.encoder = load_encoder(
                    self.index.config.encoder, device=self.runtime.device, precision=self.runtime.precision
                )
            started = time.perf_counter()
            fresh = self.encoder.encode_passages([texts[first[h]] for h in todo])
            self.report.embed_seconds += time.perf_counter() - started
            if len(self.recent) + len(todo) > self.RECENT:
                self.recent.clear()
            self.recent.update(zip(todo, fresh, strict=True))
            known.update(zip(todo, fresh, strict=True))
        self.report.passages_embedded += len(todo)
        self.report.passages_reused += len(texts) - len(todo)
        vectors = np.empty((len(texts), self.index.config.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            vectors[i] = known[h]
        return hashes, vectors

    def close(self) -> None:
        self.reader.close()


class _Writer:
    """Commits batches in one background thread, in order; an error there is raised at the next call."""

    def __init__(self, index: IndexDir, report: BuildReport) -> None:
        self.index, self.report = index, report
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sahafa-writer")
        self.pending: Future[None] | None = None
        self.last_save = time.perf_counter()

    def submit(self, batch: list[_Pending], hashes: list[str], vectors: np.ndarray) -> None:
        self.wait()
        self.pending = self.pool.submit(self._write, batch, hashes, vectors)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)

    def _write(self, batch: list[_Pending], hashes: list[str], vectors: np.ndarray) -> None:
        _commit(self.index, batch, hashes, vectors)
        self.report.indexed += len(batch)
        if time.perf_counter() - self.last_save > SAVE_EVERY_S:
            self.index.save_vectors()
            self.last_save = time.perf_counter()


def _commit(index: IndexDir, batch: list[_Pending], hashes: list[str], vectors: np.ndarray) -> None:
    """Write ``batch`` with its vectors in one transaction, then bring FAISS up to that generation."""
    rows: list[list[NewPassage]] = []
    row = 0
    for pending in batch:  # normalising and stemming happen before the write lock is taken
        rows.append([])
        for passage in pending.passages:
            stemmed, norm = lexical_forms(passage.text)
            rows[-1].append(NewPassage(passage, pending.article.lang, hashes[row], stemmed, norm, vectors[row]))
            row += 1
    removed: list[int] = []
    added_ids: list[int] = []
    with index.store.transaction():
        for pending, new in zip(batch, rows, strict=True):
            removed += index.store.delete_article(pending.article.id)
            index.store.put_article(pending.article, pending.text_hash, pending.record_hash)
            added_ids += index.store.add_passages(new)
        generation = index.store.bump_generation()
    index.vectors.remove(removed)
    index.vectors.add(np.asarray(added_ids, dtype=np.int64), vectors)
    index.vectors.generation = generation  # only now does FAISS hold what was committed


def delete_articles(index_dir: str | Path, ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Remove articles with their passages and vectors; return (deleted ids, unknown ids)."""
    index = IndexDir.open(index_dir)
    deleted, unknown, removed = [], [], []
    try:
        with index.store.transaction():
            for article_id in ids:
                if index.store.article(article_id) is None:
                    unknown.append(article_id)
                    continue
                removed += index.store.delete_article(article_id)
                deleted.append(article_id)
            if deleted:
                generation = index.store.bump_generation()
        index.vectors.remove(removed)
        if deleted:
            index.vectors.generation = generation
            index.save_vectors()
    finally:
        index.close()
    return deleted, unknown
