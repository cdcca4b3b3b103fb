"""A Sahafa index in Milvus: the ``milvus://HOST:PORT/COLLECTION`` address, the collections and their schema, the
meta rows that say what was synced, and one connection whose every failure is a one-line ``SahafaError``.

``COLLECTION`` names five collections: ``<name>_passages`` (float vectors under HNSW, the stemmed words under a BM25
function, the padded normalised words for phrases, offsets and the article's language, outlet and day),
``<name>_sentences`` (int8 USE codes held as floats, so inner products are exact integers), ``<name>_articles``
(metadata, hashes), ``<name>_texts`` (article text in ordered chunks: a VARCHAR holds at most 65,535 bytes) and
``<name>_meta`` (key/value: encoder, dimension, normaliser, synced generation, the filters' value lists). Milvus
needs a vector field in every collection: the last three carry a 2-d zero vector that nothing searches.

``indexer.milvus_sync`` writes them from an index directory; ``indexer.milvus_retrieval`` searches them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from indexer.bm25 import K1, B
from indexer.errors import BackendUnavailable, BadBackend, IndexMismatch, IndexNotFound, MissingDependency
from indexer.normalize import NORMALIZER_VERSION
from indexer.sentences import SENTENCE_DIM

LAYOUT_VERSION = 4  # bump when the collections' fields change: an older layout is synced again into a new name
SCHEMES = {"milvus": "http", "milvus+https": "https"}
TOKEN_ENV = "SAHAFA_MILVUS_TOKEN"  # "user:password" or an API key, for a server with authentication
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
PARTS = ("meta", "articles", "texts", "passages", "sentences")
VARCHAR_BYTES = 65_535
TEXT_CHUNK_CHARS = 16_000  # at most 4 UTF-8 bytes a character: a chunk always fits a VARCHAR
STATS_CHUNK_CHARS = 16_000
CONNECT_TIMEOUT_S = 10.0
# HNSW over the passage and sentence vectors; ef (search) is raised to the number of hits asked for when higher.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF = 128
# Milvus's BM25 only picks lexical candidates (indexer.milvus_retrieval ranks them as FTS5 does): with FTS5's k1, b.
BM25_PARAMS = {"bm25_k1": K1, "bm25_b": B}
ANALYZER = {"tokenizer": "standard"}  # the text is our own normalised, stemmed words joined by spaces already
PLACEHOLDER = [0.0, 0.0]  # the vector of collections that nothing searches


@dataclass(frozen=True)
class MilvusBackend:
    """Where a synced index lives: a Milvus server and the name its collections start with."""

    host: str
    port: int
    collection: str
    scheme: str = "http"

    @property
    def uri(self) -> str:
        """The address pymilvus connects to."""
        return f"{self.scheme}://{_host(self.host)}:{self.port}"

    @property
    def address(self) -> str:
        """The address as a user writes it (``--backend``)."""
        prefix = next(name for name, scheme in SCHEMES.items() if scheme == self.scheme)
        return f"{prefix}://{_host(self.host)}:{self.port}/{self.collection}"

    def name(self, part: str) -> str:
        return f"{self.collection}_{part}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def parse_backend(uri: str) -> MilvusBackend:
    """``milvus://HOST:PORT/COLLECTION`` (``milvus+https://`` for TLS) as a ``MilvusBackend``; ``BadBackend`` says
    what is wrong with anything else."""
    usage = "use milvus://HOST:PORT/COLLECTION"
    try:
        parts = urlsplit(str(uri).strip())
        port = parts.port
    except ValueError as exc:
        raise BadBackend(f"not a Milvus address: {uri!r} ({exc}; {usage})") from exc
    if parts.scheme not in SCHEMES:
        raise BadBackend(f"not a Milvus address: {uri!r} ({usage})")
    if parts.username or parts.password:
        raise BadBackend(f"{uri!r}: put credentials in ${TOKEN_ENV}, not in the address")
    if not parts.hostname:
        raise BadBackend(f"{uri!r} names no host ({usage})")
    if port is None:
        raise BadBackend(f"{uri!r} names no port ({usage}; Milvus listens on 19530 by default)")
    if parts.query or parts.fragment:
        raise BadBackend(f"{uri!r}: a Milvus address takes no '?' or '#' part ({usage})")
    collection = parts.path.strip("/")
    if not NAME.fullmatch(collection):
        raise BadBackend(
            f"{uri!r}: the collection must be a name of letters, digits and underscores, not starting with a digit "
            f"({usage})"
        )
    return MilvusBackend(parts.hostname, port, collection, SCHEMES[parts.scheme])


# --- expressions ---------------------------------------------------------------------------------


def literal(text: str) -> str:
    """``text`` as one Milvus string literal: whatever it holds is data, never expression syntax."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def one_of(field: str, values: Iterable[str | int]) -> str:
    """``field in [...]`` (strings quoted as literals)."""
    items = [literal(v) if isinstance(v, str) else str(int(v)) for v in values]
    return f"{field} in [{', '.join(items)}]"


def every(*conditions: str) -> str:
    """The conditions that are not empty, joined by ``and`` (empty when none is)."""
    kept = [c for c in conditions if c]
    return kept[0] if len(kept) == 1 else " and ".join(f"({c})" for c in kept)


def either(*conditions: str) -> str:
    """The conditions joined by ``or``; an empty one is true, so it makes the whole true (empty)."""
    if not conditions or any(not c for c in conditions):
        return ""
    return conditions[0] if len(conditions) == 1 else " or ".join(f"({c})" for c in conditions)


def phrase_like(words: Sequence[str]) -> str:
    """A ``like`` on the padded normalised text that holds exactly where ``words`` follow one another; empty when a
    word holds a character that ``like`` reads as a wildcard (the caller's own check then decides alone)."""
    if not words or any(set(w) & set('%_\\"') or not w or " " in w for w in words):
        return ""
    return f"norm like {literal('% ' + ' '.join(words) + ' %')}"


def padded(norm: str) -> str:
    """Normalised words as stored: a space on both sides, so a phrase is a substring only at word bounds."""
    return f" {norm} "


def holds(norm: str, phrases: Iterable[Sequence[str]]) -> bool:
    """Whether the padded normalised text ``norm`` holds every phrase word after word."""
    return all(f" {' '.join(p)} " in norm for p in phrases)


# --- the connection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synced:
    """What the meta rows say: the index a sync copied and the store generation it copied."""

    generation: int
    encoder: str
    dim: int
    normalizer_version: int
    layout: int
    stats: dict[str, Any]


class Connection:
    """One pymilvus client for one backend; every call that fails raises ``BackendUnavailable``."""

    def __init__(self, backend: MilvusBackend, client: Any) -> None:
        self.backend = backend
        self.client = client

    @classmethod
    def open(cls, backend: MilvusBackend | str, *, timeout: float = CONNECT_TIMEOUT_S) -> Connection:
        backend = parse_backend(backend) if isinstance(backend, str) else backend
        try:
            from pymilvus import MilvusClient, MilvusException
        except ImportError as exc:
            raise MissingDependency(
                "the Milvus backend needs pymilvus: pip install 'sahafa[milvus]' (or: pip install pymilvus)"
            ) from exc
        # pymilvus logs every failed call with its traceback; Sahafa reports failures itself, in one line.
        for name in ("pymilvus", "pymilvus.milvus_client"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        try:
            client = MilvusClient(uri=backend.uri, token=os.environ.get(TOKEN_ENV, ""), timeout=timeout)
        except MilvusException as exc:
            raise BackendUnavailable(f"cannot reach Milvus at {backend.address}: {_reason(exc)}") from exc
        return cls(backend, client)

    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.method(*args, **kwargs)``; a failure says what was asked of which server."""
        from pymilvus import MilvusException

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except MilvusException as exc:
            raise BackendUnavailable(f"Milvus at {self.backend.address} failed to {what}: {_reason(exc)}") from exc

    def query(self, part: str, expr: str, fields: list[str], *, limit: int | None = None) -> list[dict]:
        """Rows of ``part`` matching ``expr`` (at most ``limit``; without one, ``expr`` must bound the rows, as
        ``id in [...]`` does)."""
        extra = {"limit": limit} if limit is not None else {}
        name = self.backend.name(part)
        return list(self.call(f"read {name}", "query", name, filter=expr, output_fields=fields, **extra))

    def scan(self, part: str, expr: str, fields: list[str], *, batch: int = 1000) -> Iterator[dict]:
        """Every row of ``part`` matching ``expr``, in pages (no result window limits how many)."""
        name = self.backend.name(part)
        pages = self.call(f"read {name}", "query_iterator", name, batch_size=batch, filter=expr, output_fields=fields)
        try:
            while rows := _next(self, name, pages):
                yield from rows
        finally:
            pages.close()

    def search(
        self, part: str, data: list, field: str, limit: int, expr: str, fields: list[str], params: dict
    ) -> list[dict]:
        """The ``limit`` rows of ``part`` nearest ``data`` (one query) in ``field``, within ``expr``."""
        name = self.backend.name(part)
        found = self.call(
            f"search {name}", "search", name, data=data, anns_field=field, limit=limit, filter=expr,
            output_fields=fields, search_params=params,
        )  # fmt: skip
        return list(found[0]) if found else []

    def exists(self) -> bool:
        return bool(self.call("list collections", "has_collection", self.backend.name("meta")))

    # --- meta --------------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        rows = self.query("meta", 'key != ""', ["key", "value"], limit=16_384)
        return {r["key"]: r["value"] for r in rows}

    def put_meta(self, values: dict[str, str]) -> None:
        rows = [{"key": k, "value": v, "placeholder": PLACEHOLDER} for k, v in values.items()]
        self.call(f"write {self.backend.name('meta')}", "upsert", self.backend.name("meta"), rows)

    def synced(self) -> Synced:
        """The meta rows of a completed sync; ``IndexNotFound`` when there is none, ``IndexMismatch`` when this
        Sahafa cannot search what is there."""
        address = self.backend.address
        hint = f"sync one with: sahafa sync --index DIR --backend {address}"
        if not self.exists():
            raise IndexNotFound(f"no Sahafa index in Milvus at {address}: {hint}")
        meta = self.meta()
        if "generation" not in meta:
            raise IndexNotFound(f"the Sahafa index in Milvus at {address} was never synced to the end: {hint}")
        again = f"sync the index again into a new collection: sahafa sync --index DIR --backend {address}_v2"
        if int(meta.get("layout", 0)) != LAYOUT_VERSION:
            raise IndexMismatch(
                f"the Sahafa index in Milvus at {address} has layout {meta.get('layout')}, this Sahafa reads "
                f"{LAYOUT_VERSION}; {again}"
            )
        if int(meta["normalizer_version"]) != NORMALIZER_VERSION:
            raise IndexMismatch(
                f"the Sahafa index in Milvus at {address} was normalised with normaliser version "
                f"{meta['normalizer_version']}, this Sahafa uses {NORMALIZER_VERSION}; {again}"
            )
        count = int(meta.get("stats:count", "0"))
        stats = json.loads("".join(meta.get(f"stats:{i}", "") for i in range(count)) or "{}")
        return Synced(
            int(meta["generation"]), meta["encoder"], int(meta["dim"]), int(meta["normalizer_version"]),
            int(meta["layout"]), stats,
        )  # fmt: skip

    # --- collections -------------------------------------------------------------------------------

    def create(self, dim: int) -> None:
        """Create whichever of the five collections is missing (with its indexes, loaded)."""
        for part in PARTS:
            name = self.backend.name(part)
            if not self.call("list collections", "has_collection", name):
                schema, indexes = _layout(self.client, part, dim)
                self.call(
                    f"create {name}", "create_collection", name, schema=schema, index_params=indexes,
                    consistency_level="Strong",
                )  # fmt: skip

    def load(self) -> None:
        for part in PARTS:
            self.call(f"load {self.backend.name(part)}", "load_collection", self.backend.name(part))

    def drop(self) -> None:
        """Drop every collection of this backend's name (tests; starting over)."""
        for part in PARTS:
            name = self.backend.name(part)
            if self.call("list collections", "has_collection", name):
                self.call(f"drop {name}", "drop_collection", name)

    def close(self) -> None:
        self.call("close the connection", "close")


def json_rows(key: str, value: object) -> dict[str, str]:
    """``value`` as JSON in meta rows ``key:0``, ``key:1``… (each within a VARCHAR), and ``key:count``."""
    text = json.dumps(value, ensure_ascii=False)
    pieces = [text[i : i + STATS_CHUNK_CHARS] for i in range(0, len(text), STATS_CHUNK_CHARS)] or [""]
    return {f"{key}:{i}": piece for i, piece in enumerate(pieces)} | {f"{key}:count": str(len(pieces))}


def _next(connection: Connection, name: str, pages: Any) -> list[dict]:
    from pymilvus import MilvusException

    try:
        return list(pages.next())
    except MilvusException as exc:
        raise BackendUnavailable(
            f"Milvus at {connection.backend.address} failed to read {name}: {_reason(exc)}"
        ) from exc


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).split("\n")[0][:300]


def _layout(client: Any, part: str, dim: int) -> tuple[Any, Any]:
    """(schema, index params) of one collection."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=part == "texts", enable_dynamic_field=False)
    indexes = client.prepare_index_params()
    text = {"datatype": DataType.VARCHAR, "max_length": VARCHAR_BYTES}
    short = {"datatype": DataType.VARCHAR, "max_length": 64}
    if part == "meta":
        schema.add_field("key", is_primary=True, **text)
        schema.add_field("value", **text)
    elif part == "articles":
        schema.add_field("id", is_primary=True, **text)
        for name in ("title", "lang", "origin", "text_hash", "record_hash", "fingerprint"):
            schema.add_field(name, **text)
        for name in ("date", "source", "url", "author", "dateline", "cluster"):
            schema.add_field(name, nullable=True, **text)
        schema.add_field("chunks", DataType.INT64)
    elif part == "texts":
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article_id", **text)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("text", **text)
    else:
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article_id", **text)
        if part == "passages":
            schema.add_field("ordinal", DataType.INT64)
        schema.add_field("start_char", DataType.INT64)
        schema.add_field("end_char", DataType.INT64)
        schema.add_field("lang", **short)
        schema.add_field("source", nullable=True, **text)
        schema.add_field("day", nullable=True, **short)
    if part == "sentences":  # who it quotes (indexer.speakers); "" when nobody
        for name in ("speaker", "speaker_title", "speaker_key"):
            schema.add_field(name, **text)
    if part == "passages":
        schema.add_field("stemmed", enable_analyzer=True, enable_match=True, analyzer_params=ANALYZER, **text)
        schema.add_field("norm", **text)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["stemmed"],
                     output_field_names=["sparse"])
        )  # fmt: skip
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
    if part in ("passages", "sentences"):
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim if part == "passages" else SENTENCE_DIM)
        hnsw = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        indexes.add_index("vector", index_type="HNSW", metric_type="IP", params=hnsw)
    else:
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        indexes.add_index("placeholder", index_type="FLAT", metric_type="L2")
    return schema, indexes
