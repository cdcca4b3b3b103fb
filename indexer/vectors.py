"""The FAISS index: ids are passage row ids, scores are inner products of L2-normalised vectors.

Exact search (``IndexIDMap2`` over ``IndexFlatIP``) while the index holds fewer than
``HNSW_THRESHOLD`` vectors, HNSW past it (see README for the measurement behind the threshold).
The file is written atomically next to a stamp naming the store generation it reflects; an index
whose stamp disagrees with the store is rebuilt from the vectors kept in SQLite.

``SentenceVectors`` is the same over sentence ids, holding int8 codes (``indexer.sentences``) in an
``IndexScalarQuantizer`` (``QT_8bit_direct_signed``): a quarter of float32's memory, exact inner products
of the int8 codes of query and sentences, rescaled to cosines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from indexer.config import unique_temporary
from indexer.sentences import SCALE, quantize

HNSW_THRESHOLD = 250_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


class VectorIndex:
    """A FAISS index over passage ids, with add, remove, search and stamped save."""

    KINDS = ("flat", "hnsw")

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else _flat(dim)
        self.needs_rebuild = False  # set when an HNSW index lost vectors it cannot remove
        # The store generation whose passages this index holds; what its saved stamp names. It lags the
        # store when a commit was interrupted before FAISS was updated, and the next open then rebuilds.
        self.generation = 0

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """An index of the right kind for ``len(ids)`` vectors."""
        if len(ids) >= HNSW_THRESHOLD:
            hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
            index = faiss.IndexIDMap2(hnsw)
        else:
            index = _flat(dim)
        built = cls(dim, index)
        built.add(ids, vectors)
        return built

    @property
    def kind(self) -> str:
        inner = faiss.downcast_index(self.index.index)
        if isinstance(inner, faiss.IndexScalarQuantizer):
            return "sq8"
        return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        if self.kind != "hnsw":
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        else:
            self.needs_rebuild = True

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest passages to one query vector, among ``allowed`` ids if given (exact
        filtering: FAISS skips every other id, so a filter never returns fewer hits than exist)."""
        k = min(k, self.size if allowed is None else len(allowed))
        if self.size == 0 or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        params = selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))  # params does not own it
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
        del selector
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of ``ids`` (one row each)."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def save(self, directory: Path, name: str, stamp_name: str, generation: int) -> None:
        """Write the index, then its stamp; each by write-to-temporary and rename."""
        path = Path(directory) / name
        tmp = unique_temporary(path)
        faiss.write_index(self.index, str(tmp))
        _fsync_replace(tmp, path)
        stamp = Path(directory) / stamp_name
        tmp_stamp = unique_temporary(stamp)
        tmp_stamp.write_text(json.dumps({"generation": generation, "count": self.size, "kind": self.kind}))
        _fsync_replace(tmp_stamp, stamp)

    @classmethod
    def load(cls, directory: Path, name: str, stamp_name: str, dim: int) -> tuple[Self, dict] | None:
        """The saved index and its stamp, or None when either is missing or unreadable."""
        path, stamp = Path(directory) / name, Path(directory) / stamp_name
        if not path.is_file() or not stamp.is_file():
            return None
        try:
            meta = json.loads(stamp.read_text())
            index = faiss.read_index(str(path))
            # A writer saves the file, then its stamp: a stamp that changed meanwhile may not describe this file.
            if json.loads(stamp.read_text()) != meta:
                return None
        except (ValueError, RuntimeError, OSError):
            return None
        loaded = cls(dim, index)
        if index.d != dim or loaded.kind not in cls.KINDS:
            return None
        return loaded, meta


class SentenceVectors(VectorIndex):
    """Sentence vectors as int8 codes: ``add`` takes codes, ``search`` takes a unit float query and returns
    cosines, ``vectors`` returns float vectors on the cosine scale."""

    KINDS = ("sq8",)

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        super().__init__(dim, index if index is not None else _sq8(dim))

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> SentenceVectors:
        built = cls(dim)
        built.add(ids, vectors)
        return built

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        # FAISS's SIMD path for direct 8-bit codes takes the query as codes too (it rounds it to integers), so
        # the query is quantized like the sentences and the integer inner product rescaled by SCALE².
        scores, ids = super().search(quantize(query).astype(np.float32), k, allowed)
        return scores / (SCALE * SCALE), ids

    def vectors(self, ids: list[int]) -> np.ndarray:
        return super().vectors(ids) / SCALE


def _sq8(dim: int) -> faiss.Index:
    quantizer = faiss.ScalarQuantizer.QT_8bit_direct_signed
    return faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, quantizer, faiss.METRIC_INNER_PRODUCT))


def _flat(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
