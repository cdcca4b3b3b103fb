"""Incremental, crash-safe indexing: sources → passages → vectors → one SQLite transaction per batch.

An unchanged article (same id, same text and metadata) costs a hash; a changed one replaces its
passages and sentences (reusing the stored vector of any passage or sentence whose text did not
change); a new one is added. A stored article whose sentences follow older rules (or an index built
before the sentence index) gets its sentences again. Every batch commits articles, passages, full-text
rows, sentences and vectors together and bumps the store's generation; the FAISS files are saved, and the
lexical index committed, with that generation at the end and at most every ``SAVE_EVERY_S`` seconds, and
brought up to SQLite on open if a crash left them behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from indexer.config import CONFIG_FILE, DATABASE_FILE, DEFAULT_ENCODER, IndexConfig, RuntimeChoice, check_dimension
from indexer.errors import BadRecord
from indexer.index import IndexDir
from indexer.ingest import read_sources
from indexer.lock import write_lock
from indexer.normalize import normalize_text, tokens
from indexer.passages import PassageSettings, split_passages
from indexer.records import Article, Passage
from indexer.sentences import SENTENCE_DIM, SENTENCE_VERSION, quantize, split_sentences
from indexer.speakers import settle_speakers
from indexer.store import LexicalRow, NewPassage, NewSentence, Store
from indexer.syndication import settle

if TYPE_CHECKING:  # sentence-transformers takes seconds to import: only when something needs embedding
    from indexer.encoders import Encoder, SentenceEncoder

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
    sentences_embedded: int = 0
    sentences_reused: int = 0
    sentence_seconds: float = 0.0
    clustered: int = 0  # articles given their syndication cluster (``indexer.syndication.settle``)
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
            "sentences_embedded": self.sentences_embedded,
            "sentence_seconds": round(self.sentence_seconds, 2),
        }

    def summary(self) -> str:
        return (
            f"read {self.read}, indexed {self.indexed}, unchanged {self.unchanged}, skipped {self.skipped} "
            f"({self.passages_embedded} passages embedded, {self.passages_reused} reused; "
            f"{self.sentences_embedded} sentences embedded, {self.sentences_reused} reused; {self.seconds:.1f}s)"
        )


@dataclass(frozen=True)
class _Pending:
    article: Article
    text_hash: str
    record_hash: str
    passages: list[Passage]
    sentences: list[tuple[int, int]]
    sentences_only: bool = False  # a stored article that only needs its sentences (again)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def record_hash(article: Article) -> str:
    fields = asdict(article)
    fields.pop("origin")
    for name in ("author", "dateline"):  # added later: an article without them keeps the hash it had
        if fields[name] is None:
            fields.pop(name)
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
    sentence_encoder: SentenceEncoder | None = None,
    ray: bool = False,
) -> BuildReport:
    """Index ``sources`` into ``index_dir``, creating it with ``encoder`` if it does not exist; the encoder runs
    on ``device`` in ``precision`` (default: what the machine does fastest, ``indexer.encoders.resolve_runtime``).
    ``ray``: embed with a pool of Ray Data actors (``indexer.distributed``), to the same vectors.
    ``sentence_encoder``: what embeds sentences (default: USE, sharing the passage encoder's when it has one)."""
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
    runtime = RuntimeChoice(device, precision, ray)
    if not (Path(index_dir) / CONFIG_FILE).is_file():  # an unknown encoder fails before the directory exists
        loaded_encoder = _encoder_for_new_index(encoder, loaded_encoder, runtime)
    with write_lock(Path(index_dir)):
        _index_locked(
            articles, Path(index_dir), report, bad, encoder, passages, progress, loaded_encoder, runtime,
            sentence_encoder,
        )  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def _index_locked(
    articles: Iterable[Article],
    index_dir: Path,
    report: BuildReport,
    bad: Callable[[BadRecord], None],
    encoder: str | None,
    passages: PassageSettings | None,
    progress: bool,
    loaded_encoder: Encoder | None,
    runtime: RuntimeChoice,
    sentence_encoder: SentenceEncoder | None = None,
) -> None:
    index, loaded_encoder = _open_for_writing(index_dir, encoder, passages, loaded_encoder, runtime)
    try:
        settings = index.config.passages
        known = index.store.article_hashes()
        seen: dict[str, str] = {}
        todo: list[_Pending] = []
        for article in articles:
            if article.id in seen:
                bad(BadRecord(article.origin, f"duplicate id {article.id!r} (first at {seen[article.id]}); skipped"))
                continue
            report.read += 1
            seen[article.id] = article.origin
            hashes = (sha1(article.text), record_hash(article))
            if known.get(article.id) == hashes:
                report.unchanged += 1
                continue
            todo.append(_Pending(article, *hashes, split_passages(article, settings), split_sentences(article.text)))
        todo += _sentences_due(index.store, {p.article.id for p in todo})
        _write(index, todo, report, progress, loaded_encoder, runtime, sentence_encoder)
        report.clustered = _settle(index)
        if report.runtime:
            with index.store.transaction():
                index.store.set_meta(LAST_BUILD, json.dumps(report.last_build(), ensure_ascii=False))
    finally:
        index.close()


def _settle(index: IndexDir) -> int:
    """Syndication clusters for the articles written, or left by a deleted member, since the last run, and the
    speakers of the articles whose sentences were written (``indexer.speakers``); the derived files are saved
    again with the generation that made them visible. Returns how many articles got their cluster."""
    settled = settle(index.store)
    if settle_speakers(index.store) or settled:
        index.vectors.generation = index.sentences.generation = index.store.generation
        index.save_derived()
    return settled


def _sentences_due(store: Store, skip: set[str]) -> list[_Pending]:
    """Stored articles (not re-indexed by this run) whose sentences are missing or follow older rules."""
    due = [a for a in store.articles_without_sentences(SENTENCE_VERSION) if a not in skip]
    found = store.articles(due)
    return [_Pending(found[a], "", "", [], split_sentences(found[a].text), True) for a in due if a in found]


def _open_for_writing(
    path: Path, encoder: str | None, passages: PassageSettings | None, loaded: Encoder | None, runtime: RuntimeChoice
) -> tuple[IndexDir, Encoder | None]:
    if (path / CONFIG_FILE).is_file():
        return IndexDir.open(path, encoder=encoder), loaded
    loaded = _encoder_for_new_index(encoder, loaded, runtime)
    config = IndexConfig(encoder=loaded.name, dim=loaded.dim, passages=passages or PassageSettings())
    return IndexDir.create(path, config), loaded


def _encoder_for_new_index(encoder: str | None, loaded: Encoder | None, runtime: RuntimeChoice) -> Encoder:
    name = encoder or DEFAULT_ENCODER
    if loaded is None or loaded.name != name:
        from indexer.encoders import load_encoder

        loaded = load_encoder(name, device=runtime.device, precision=runtime.precision)
    return loaded


def _write(
    index: IndexDir,
    todo: list[_Pending],
    report: BuildReport,
    progress: bool,
    loaded: Encoder | None,
    runtime: RuntimeChoice,
    sentence_encoder: SentenceEncoder | None = None,
) -> None:
    """Embed and commit ``todo`` in batches of about ``BATCH_PASSAGES`` passages.

    The encoder works in this thread while the previous batch is written to SQLite and FAISS in another
    (torch and SQLite both release the GIL), so writing never holds up embedding; at most one batch is
    waiting to be written. Stored vectors are looked up through a second, read-only connection.
    """
    if not todo:
        return
    total = sum(_units(p) for p in todo)
    usable = loaded if loaded is not None and loaded.name == index.config.encoder else None
    embedder = _Embedder(index, report, usable, runtime, sentence_encoder)
    if runtime.ray:
        embedder.planned = _embed_with_ray(embedder, todo, report)
    bar = tqdm(total=total, unit="passage", disable=not progress, desc="indexing", dynamic_ncols=True)
    writer = _Writer(index, report)
    try:
        for batch in _batches(todo):
            _embed_and_write(embedder, writer, batch, bar)
    finally:
        try:
            writer.close()
        finally:
            embedder.close()
            bar.close()
            index.save_derived()
    if embedder.encoder is not None and not report.runtime:  # with --ray, what the actors ran on is said already
        report.runtime = str(embedder.encoder.runtime)


def _batches(todo: list[_Pending]) -> Iterator[list[_Pending]]:
    """``todo`` in batches of about BATCH_PASSAGES passages, in order."""
    batch: list[_Pending] = []
    for pending in todo:
        batch.append(pending)
        if sum(_units(p) for p in batch) >= BATCH_PASSAGES:
            yield batch
            batch = []
    if batch:
        yield batch


def _embed_with_ray(embedder: _Embedder, todo: list[_Pending], report: BuildReport) -> dict[str, np.ndarray]:
    """Plan the run's encoder calls as the single-process path would make them, batch by batch (what neither
    SQLite nor an earlier batch holds), run them on Ray Data actors, and return every vector by text hash."""
    from indexer.distributed import Group, embed_groups
    from indexer.runtime import resolve_runtime

    groups: list[Group] = []
    seen: dict[str, set[str]] = {"passage": set(), "sentence": set()}
    stored = {"passage": embedder.reader.vectors_by_hash, "sentence": embedder.reader.sentence_vectors_by_hash}
    for batch in _batches(todo):
        texts = {
            "passage": [p.text for pending in batch for p in pending.passages],
            "sentence": [pending.article.text[a:b] for pending in batch for a, b in pending.sentences],
        }
        for kind, kind_texts in texts.items():
            hashes = [sha1(t) for t in kind_texts]
            known = stored[kind]([h for h in hashes if h not in seen[kind]])
            fresh = list(dict.fromkeys(h for h in hashes if h not in seen[kind] and h not in known))
            first = {h: i for i, h in reversed(list(enumerate(hashes)))}
            if fresh:
                groups.append(Group(kind, [kind_texts[first[h]] for h in fresh]))
                seen[kind].update(fresh)
    if not groups:
        return {}
    runtime = embedder.runtime
    started = time.perf_counter()
    vectors = embed_groups(
        groups, embedder.index.config.encoder, device=runtime.device, precision=runtime.precision,
        work_dir=embedder.index.path,
    )  # fmt: skip
    report.embed_seconds += time.perf_counter() - started
    report.runtime = f"{resolve_runtime(runtime.device, runtime.precision)} on Ray Data actors"
    return {
        sha1(t): v for group, rows in zip(groups, vectors, strict=True) for t, v in zip(group.texts, rows, strict=True)
    }


def _units(pending: _Pending) -> int:
    """Progress and batching units: passages; an article that only needs sentences counts a quarter of them."""
    return max(1, len(pending.sentences) // 4) if pending.sentences_only else len(pending.passages)


def _embed_and_write(embedder: _Embedder, writer: _Writer, batch: list[_Pending], bar: tqdm) -> None:
    embedded = embedder.embed(batch)
    if embedder.encoder is not None and not bar.disable and not bar.postfix:
        bar.set_postfix_str(f"{embedder.encoder.name} on {embedder.encoder.runtime}", refresh=False)
    writer.submit(batch, embedded)
    bar.update(sum(_units(p) for p in batch))


@dataclass(frozen=True)
class _Embedded:
    """A batch's vectors: passages (float32) and sentences (int8 codes), in the batch's order, with text hashes."""

    passage_hashes: list[str]
    passages: np.ndarray
    sentence_hashes: list[str]
    sentences: np.ndarray


class _Embedder:
    """Vectors for a batch: reused by text hash where SQLite (or this run) has one, embedded otherwise."""

    RECENT = 20_000  # vectors embedded by this run, kept for repeated passages (wire copy run by many outlets)

    def __init__(
        self,
        index: IndexDir,
        report: BuildReport,
        encoder: Encoder | None,
        runtime: RuntimeChoice,
        sentence_encoder: SentenceEncoder | None = None,
    ) -> None:
        self.index, self.report, self.encoder, self.runtime = index, report, encoder, runtime
        self.sentence_encoder = sentence_encoder
        self.reader = Store(index.path / DATABASE_FILE, readonly=True)
        self.recent: dict[str, np.ndarray] = {}
        self.recent_sentences: dict[str, np.ndarray] = {}
        self.planned: dict[str, np.ndarray] = {}  # vectors embedded ahead of the batches (``--ray``), by text hash

    def embed(self, batch: list[_Pending]) -> _Embedded:
        texts = [p.text for pending in batch for p in pending.passages]
        hashes = [sha1(t) for t in texts]
        vectors, fresh = self._reuse_or_embed(hashes, texts, self.recent, self.reader.vectors_by_hash, self._passages)
        self.report.passages_embedded += fresh
        self.report.passages_reused += len(texts) - fresh
        sentences = [p.article.text[a:b] for p in batch for a, b in p.sentences]
        sentence_hashes = [sha1(t) for t in sentences]
        codes, fresh = self._reuse_or_embed(
            sentence_hashes, sentences, self.recent_sentences, self.reader.sentence_vectors_by_hash, self._sentences
        )
        self.report.sentences_embedded += fresh
        self.report.sentences_reused += len(sentences) - fresh
        passages = vectors.astype(np.float32) if len(vectors) else np.zeros((0, self.index.config.dim), np.float32)
        codes = codes.astype(np.int8) if len(codes) else np.zeros((0, SENTENCE_DIM), np.int8)
        return _Embedded(hashes, passages, sentence_hashes, codes)

    def _reuse_or_embed(
        self,
        hashes: list[str],
        texts: list[str],
        recent: dict[str, np.ndarray],
        stored: Callable[[list[str]], dict[str, np.ndarray]],
        embed: Callable[[list[str]], np.ndarray],
    ) -> tuple[np.ndarray, int]:
        """Rows for ``hashes`` (stored, remembered from this run, or embedded now) and how many were embedded."""
        known = stored([h for h in hashes if h not in recent])
        known.update((h, recent[h]) for h in hashes if h in recent)
        todo = list(dict.fromkeys(h for h in hashes if h not in known))
        if todo:
            first = {h: i for i, h in reversed(list(enumerate(hashes)))}
            fresh = embed([texts[first[h]] for h in todo])
            if len(recent) + len(todo) > self.RECENT:
                recent.clear()
            recent.update(zip(todo, fresh, strict=True))
            known.update(zip(todo, fresh, strict=True))
        return (np.vstack([known[h] for h in hashes]) if hashes else np.zeros((0, 0))), len(todo)

    def _passages(self, texts: list[str]) -> np.ndarray:
        planned = self._planned(texts)
        if planned is not None:
            return planned
        if self.encoder is None:
            from indexer.encoders import load_encoder

            self.encoder = load_encoder(
                self.index.config.encoder, device=self.runtime.device, precision=self.runtime.precision
            )
            check_dimension(self.index.path, self.index.config, self.encoder.name, self.encoder.dim)
        started = time.perf_counter()
        vectors = self.encoder.encode_passages(texts)
        self.report.embed_seconds += time.perf_counter() - started
        return vectors

    def _sentences(self, texts: list[str]) -> np.ndarray:
        planned = self._planned(texts)
        if planned is not None:
            return planned
        if self.sentence_encoder is None:
            from indexer.encoders import SentenceEncoder

            # The passage encoder's own USE when it is loaded (e5-use): one model in memory, not two.
            self.sentence_encoder = SentenceEncoder(
                self.encoder, device=self.runtime.device, precision=self.runtime.precision
            )
        started = time.perf_counter()
        codes = quantize(self.sentence_encoder.encode(texts))
        self.report.sentence_seconds += time.perf_counter() - started
        return codes

    def _planned(self, texts: list[str]) -> np.ndarray | None:
        """The vectors embedded ahead for ``texts``, when every one of them was (else None: embed here)."""
        found = [self.planned.get(sha1(t)) for t in texts] if self.planned else []
        return np.vstack(found) if found and all(v is not None for v in found) else None

    def close(self) -> None:
        self.reader.close()


class _Writer:
    """Commits batches in one background thread, in order; an error there is raised at the next call."""

    def __init__(self, index: IndexDir, report: BuildReport) -> None:
        self.index, self.report = index, report
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sahafa-writer")
        self.pending: Future[None] | None = None
        self.last_save = time.perf_counter()

    def submit(self, batch: list[_Pending], embedded: _Embedded) -> None:
        self.wait()
        self.pending = self.pool.submit(self._write, batch, embedded)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)

    def _write(self, batch: list[_Pending], embedded: _Embedded) -> None:
        _commit(self.index, batch, embedded)
        self.report.indexed += sum(not p.sentences_only for p in batch)
        if time.perf_counter() - self.last_save > SAVE_EVERY_S:
            self.index.save_derived()
            self.last_save = time.perf_counter()


def _commit(index: IndexDir, batch: list[_Pending], embedded: _Embedded) -> None:
    """Write ``batch`` with its vectors in one transaction, then bring FAISS up to that generation."""
    passages: list[list[NewPassage]] = []
    sentences: list[list[NewSentence]] = []
    row = sentence_row = 0
    for pending in batch:  # normalising and stemming happen before the write lock is taken
        lang = pending.article.lang
        passages.append([])
        for passage in pending.passages:
            stemmed, norm = lexical_forms(passage.text)
            vector = embedded.passages[row]
            passages[-1].append(NewPassage(passage, lang, embedded.passage_hashes[row], stemmed, norm, vector))
            row += 1
        sentences.append([])
        for a, b in pending.sentences:
            code, text_hash = embedded.sentences[sentence_row], embedded.sentence_hashes[sentence_row]
            sentences[-1].append(NewSentence(pending.article.id, a, b, lang, text_hash, code))
            sentence_row += 1
    removed: list[int] = []
    removed_sentences: list[int] = []
    added_ids: list[int] = []
    added_sentences: list[int] = []
    with index.store.transaction():
        for pending, new, new_sentences in zip(batch, passages, sentences, strict=True):
            if pending.sentences_only:
                removed_sentences += index.store.delete_sentences(pending.article.id)
            else:
                gone = index.store.delete_article(pending.article.id)
                removed += gone.passages
                removed_sentences += gone.sentences
                index.store.put_article(pending.article, pending.text_hash, pending.record_hash)
                added_ids += index.store.add_passages(new)
            added_sentences += index.store.add_sentences(pending.article.id, new_sentences, SENTENCE_VERSION)
        generation = index.store.bump_generation()
    index.vectors.remove(removed)
    index.vectors.add(np.asarray(added_ids, dtype=np.int64), embedded.passages)
    index.sentences.remove(removed_sentences)
    index.sentences.add(np.asarray(added_sentences, dtype=np.int64), embedded.sentences)
    if index.lexical is not None:  # made durable with the FAISS files (``IndexDir.save_derived``)
        index.lexical.remove(removed)
        written = [(p.article, row) for p, rows in zip(batch, passages, strict=True) if not p.sentences_only
                   for row in rows]  # fmt: skip
        index.lexical.add(
            LexicalRow(i, row.stemmed, a.lang, a.source, a.date) for i, (a, row) in zip(added_ids, written, strict=True)
        )
    # Only now do both FAISS indexes hold what was committed.
    index.vectors.generation = index.sentences.generation = generation


def delete_articles(index_dir: str | Path, ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Remove articles with their passages and vectors; return (deleted ids, unknown ids)."""
    index = IndexDir.open(index_dir)
    try:
        with write_lock(index.path):
            return _delete_locked(index, ids)
    finally:
        index.close()


def _delete_locked(index: IndexDir, ids: Sequence[str]) -> tuple[list[str], list[str]]:
    deleted: list[str] = []
    unknown: list[str] = []
    removed: list[int] = []
    removed_sentences: list[int] = []
    with index.store.transaction():
        for article_id in ids:
            if index.store.article(article_id) is None:
                unknown.append(article_id)
                continue
            gone = index.store.delete_article(article_id)
            removed += gone.passages
            removed_sentences += gone.sentences
            deleted.append(article_id)
        if deleted:
            index.store.bump_generation()
    index.vectors.remove(removed)
    index.sentences.remove(removed_sentences)
    if index.lexical is not None:
        index.lexical.remove(removed)
    if deleted:
        settle(index.store)  # the rest of each deleted article's cluster settles again
        index.vectors.generation = index.sentences.generation = index.store.generation
        index.save_derived()
    return deleted, unknown
