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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from indexer.config import DEFAULT_ENCODER, IndexConfig
from indexer.errors import BadRecord
from indexer.index import IndexDir
from indexer.ingest import read_sources
from indexer.normalize import normalize_text, tokens
from indexer.passages import PassageSettings, split_passages
from indexer.records import Article, Passage
from indexer.store import NewPassage

if TYPE_CHECKING:  # sentence-transformers takes seconds to import: only when something needs embedding
    from indexer.encoders import Encoder

BATCH_PASSAGES = 64
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
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
    passages: PassageSettings | None = None,
    progress: bool = True,
    on_problem: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    loaded_encoder: Encoder | None = None,
) -> BuildReport:
    """Index ``sources`` into ``index_dir``, creating it with ``encoder`` if it does not exist."""
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
    index, loaded_encoder = _open_for_writing(Path(index_dir), encoder, passages, loaded_encoder)
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
        _write(index, todo, report, progress, loaded_encoder)
    finally:
        index.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_for_writing(
    path: Path, encoder: str | None, passages: PassageSettings | None, loaded: Encoder | None
) -> tuple[IndexDir, Encoder | None]:
    if (path / "config.json").is_file():
        return IndexDir.open(path, encoder=encoder), loaded
    name = encoder or DEFAULT_ENCODER
    if loaded is None or loaded.name != name:
        from indexer.encoders import load_encoder

        loaded = load_encoder(name)
    config = IndexConfig(encoder=name, dim=loaded.dim, passages=passages or PassageSettings())
    return IndexDir.create(path, config), loaded


def _write(
    index: IndexDir, todo: list[_Pending], report: BuildReport, progress: bool, loaded: Encoder | None
) -> None:
    """Embed and commit ``todo`` in batches of about ``BATCH_PASSAGES`` passages."""
    if not todo:
        return
    encoder = loaded if loaded is not None and loaded.name == index.config.encoder else None
    total = sum(len(p.passages) for p in todo)
    bar = tqdm(total=total, unit="passage", disable=not progress, desc="indexing", dynamic_ncols=True)
    last_save = time.perf_counter()
    batch: list[_Pending] = []
    try:
        for pending in todo:
            batch.append(pending)
            if sum(len(p.passages) for p in batch) >= BATCH_PASSAGES:
                encoder = _commit(index, batch, report, encoder)
                bar.update(sum(len(p.passages) for p in batch))
                batch = []
                if time.perf_counter() - last_save > SAVE_EVERY_S:
                    index.save_vectors()
                    last_save = time.perf_counter()
        if batch:
            _commit(index, batch, report, encoder)
            bar.update(sum(len(p.passages) for p in batch))
    finally:
        bar.close()
        index.save_vectors()


def _commit(
    index: IndexDir, batch: list[_Pending], report: BuildReport, encoder: Encoder | None
) -> Encoder | None:
    """Embed what is new in ``batch`` and write it in one transaction; return the (lazily loaded) encoder."""
    texts = [p.text for pending in batch for p in pending.passages]
    hashes = [sha1(t) for t in texts]
    known = index.store.vectors_by_hash(hashes)
    missing = [i for i, h in enumerate(hashes) if h not in known]
    vectors = np.empty((len(texts), index.config.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        if h in known:
            vectors[i] = known[h]
    if missing:
        if encoder is None:
            from indexer.encoders import load_encoder

            encoder = load_encoder(index.config.encoder)
        started = time.perf_counter()
        vectors[missing] = encoder.encode_passages([texts[i] for i in missing])
        report.embed_seconds += time.perf_counter() - started
    report.passages_embedded += len(missing)
    report.passages_reused += len(texts) - len(missing)

    removed: list[int] = []
    added_ids: list[int] = []
    row = 0
    with index.store.transaction():
        for pending in batch:
            removed += index.store.delete_article(pending.article.id)
            index.store.put_article(pending.article, pending.text_hash, pending.record_hash)
            new = []
            for passage in pending.passages:
                stemmed, norm = lexical_forms(passage.text)
                new.append(
                    NewPassage(passage, pending.article.lang, hashes[row], stemmed, norm, vectors[row])
                )
                row += 1
            added_ids += index.store.add_passages(new)
        generation = index.store.bump_generation()
    index.vectors.remove(removed)
    index.vectors.add(np.asarray(added_ids, dtype=np.int64), vectors)
    index.vectors.generation = generation  # only now does FAISS hold what was committed
    report.indexed += len(batch)
    return encoder


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
