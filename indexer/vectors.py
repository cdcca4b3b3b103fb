"""The FAISS indexes: ids are store row ids, scores are inner products of L2-normalised vectors.

Passages (``VectorIndex``): exact search (``IndexIDMap2`` over ``IndexFlatIP``) below ``EXACT_BELOW`` vectors;
from there an inverted file of 8-bit scalar-quantised vectors (``IndexIVFScalarQuantizer``, about
``2·√n`` lists, ``NPROBE`` of them probed), whose best ``RERANK`` are re-scored exactly with the float
vectors read from SQLite by id (``exact_rows``). ``make bench-ann`` and ``make bench-scale`` measured the
choice (README): at 100,000 vectors the flat scan already costs 28 ms a query; IVF + re-rank finds the exact
top 10 in about a millisecond, to within a fraction of a point of recall.

Sentences (``SentenceVectors``): int8 codes (``indexer.sentences``) in an ``IndexScalarQuantizer``
(``QT_8bit_direct_signed``, exact inner products of the codes, rescaled to cosines) below
``EXACT_BELOW``; from there an IVF of product-quantised codes (64 bytes a sentence instead of 512), its
candidates re-scored exactly from the int8 codes in SQLite: the same scores the exact index gives.

Filtered search stays exact on the flat indexes (FAISS skips every id outside the filter). On an IVF it probes
lists in proportion to how much the filter removes (``NPROBE · size / allowed``, at most ``MAX_NPROBE``), and
a filter that leaves at most ``EXACT_FILTERED`` ids is searched exactly over their stored vectors.

Each file is written atomically next to a stamp naming the store generation it reflects; an index whose stamp
disagrees with the store is rebuilt from the vectors kept in SQLite (``build_from``: in chunks, trained on a
sample, so a rebuild never holds every vector as floats at once).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from indexer.config import unique_temporary
from indexer.sentences import SCALE, quantize

EXACT_BELOW = 50_000
NPROBE = 64  # bench-scale, 1M passages, real queries: R@10 73.2 at 16, 93.2 at 64, 98.3 at 128 (of exact)
MAX_NPROBE = 256  # however narrow the filter
RERANK = 100
EXACT_FILTERED = 2_000
TRAIN_PER_LIST = 40  # training vectors per IVF list (FAISS warns below 39)

Rows = Callable[[np.ndarray], np.ndarray]  # ids -> their stored vectors, one row each
Chunks = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]  # every (ids, vectors), a chunk at a time


def list_count(n: int) -> int:
    """IVF lists for ``n`` vectors: about 2·√n, a multiple of 16 (never more lists than vectors)."""
    return max(1, min(n, max(16, int(round(2 * math.sqrt(n) / 16)) * 16)))


class VectorIndex:
    """A FAISS index over row ids, with add, remove, search and stamped save."""

    KINDS = ("flat", "ivf")
    DTYPE: type = np.float32  # what the store keeps for each row

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else self._exact_index(dim)
        # The stored vectors by id, for re-ranking an IVF's candidates exactly (``IndexDir`` sets it).
        self.exact_rows: Rows | None = None
        # The store generation whose rows this index holds; what its saved stamp names. It lags the
        # store when a commit was interrupted before FAISS was updated, and the next open then rebuilds.
        self.generation = 0
        # The largest row id added: rows above it were committed after (store ids are never reused).
        self.high = 0
        self._last_selector: tuple[np.ndarray, faiss.IDSelector] | None = None  # (allowed, its FAISS filter)

    @staticmethod
    def _exact_index(dim: int) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def _ivf_index(cls, dim: int, lists: int, count: int) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dim)
        sq = faiss.ScalarQuantizer.QT_8bit
        return faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, sq, faiss.METRIC_INNER_PRODUCT)

    def _as_added(self, vectors: np.ndarray) -> np.ndarray:
        """Stored rows as this index takes them."""
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> Self:
        """An index of the right kind for ``len(ids)`` vectors, from vectors in memory."""
        ids, vectors = np.asarray(ids, dtype=np.int64), np.asarray(vectors)
        return cls.build_from(dim, len(ids), lambda: [(ids, vectors)] if len(ids) else [])

    @classmethod
    def build_from(cls, dim: int, count: int, chunks: Chunks) -> Self:
        """An index of the right kind for ``count`` vectors, read by ``chunks`` (called once for a flat index,
        twice for an IVF: a strided training sample first, then every vector)."""
        if count < EXACT_BELOW:
            built = cls(dim)
        else:
            lists = list_count(count)
            built = cls(dim, cls._ivf_index(dim, lists, count))
            stride = max(1, count // (lists * TRAIN_PER_LIST))
            sample = np.vstack([built._as_added(v[::stride]) for _, v in chunks()])
            built.index.train(sample)
            del sample
        for ids, vectors in chunks():
            built.add(ids, vectors)
        return built

    @property
    def kind(self) -> str:
        index = faiss.downcast_index(self.index)
        if isinstance(index, faiss.IndexIVF):
            return "ivf"
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
        if isinstance(inner, faiss.IndexScalarQuantizer):
            return "sq8"
        return "flat" if isinstance(inner, faiss.IndexFlat) else type(inner).__name__

    @property
    def approximate(self) -> bool:
        return self.kind == "ivf"

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def fits(self) -> bool:
        """Whether this kind of index still suits its size: an exact one below ``EXACT_BELOW``; an IVF from half
        of it, while its lists are within a factor of 2 of what its size asks (so it is retrained each time it grows
        fourfold)."""
        if not self.approximate:
            return self.size < EXACT_BELOW
        lists = faiss.extract_index_ivf(self.index).nlist
        return self.size >= EXACT_BELOW // 2 and list_count(self.size) / 2 <= lists <= list_count(self.size) * 2

    def ids(self) -> np.ndarray:
        """Every id the index holds, sorted."""
        if not self.approximate:
            return np.sort(faiss.vector_to_array(self.index.id_map))
        lists = faiss.extract_index_ivf(self.index).invlists
        held = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            ids = np.asarray(ids, dtype=np.int64)
            self.index.add_with_ids(self._as_added(vectors), ids)
            self.high = max(self.high, int(ids.max()))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest rows to one query vector, among ``allowed`` ids if given, best
        first (see the module's docstring for what is exact)."""
        k = min(k, self.size if allowed is None else len(allowed))
        if self.size == 0 or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if not self.approximate:
            return self._search(query, k, allowed, None)
        if allowed is not None and len(allowed) <= EXACT_FILTERED and self.exact_rows is not None:
            return self._rerank(query, np.asarray(allowed, dtype=np.int64), k)
        share = 1.0 if allowed is None else len(allowed) / self.size
        lists = faiss.extract_index_ivf(self.index).nlist
        nprobe = min(lists, MAX_NPROBE, math.ceil(NPROBE / max(share, 1e-9)))
        scores, ids = self._search(query, max(k, RERANK) if self.exact_rows else k, allowed, nprobe)
        return self._rerank(query, ids, k) if self.exact_rows is not None else (scores, ids)

    def _search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, nprobe: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        selector = self._selector_for(allowed) if allowed is not None else None  # kept: params do not own it
        if nprobe is None:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        else:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe) if selector else None
            if params is None:
                params = faiss.SearchParametersIVF(nprobe=nprobe)
        scores, ids = self.index.search(self._as_query(query).reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return self._scaled(scores[0][keep]), ids[0][keep]

    def _selector_for(self, allowed: np.ndarray) -> faiss.IDSelector:
        """FAISS's filter for ``allowed``: the last one again when asked for the same read-only array (filters
        answer the same array for the same filters, ``indexer.columns``)."""
        last = self._last_selector
        if last is not None and last[0] is allowed and not allowed.flags.writeable:
            return last[1]
        selector = _selector(allowed)
        self._last_selector = (allowed, selector)
        return selector

    def _rerank(self, query: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of ``ids`` by exact inner product with their stored vectors."""
        if not len(ids):
            return np.zeros(0, dtype=np.float32), ids
        assert self.exact_rows is not None
        scores = self._exact_scores(query, self.exact_rows(ids))
        order = np.argsort(-scores, kind="stable")[:k]
        return scores[order], ids[order]

    def _as_query(self, query: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(query, dtype=np.float32)

    def _scaled(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def _exact_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return rows.astype(np.float32) @ np.asarray(query, dtype=np.float32)

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of ``ids`` (one row each)."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.approximate:
            if self.exact_rows is None:
                raise RuntimeError("an IVF index reads vectors from the store: set exact_rows")
            return self.exact_rows(np.asarray(ids, dtype=np.int64)).astype(np.float32)
        return self.index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def save(self, directory: Path, name: str, stamp_name: str, generation: int, high: int) -> None:
        """Write the index, then its stamp; each by write-to-temporary and rename."""
        path = Path(directory) / name
        tmp = unique_temporary(path)
        faiss.write_index(self.index, str(tmp))
        _fsync_replace(tmp, path)
        stamp = Path(directory) / stamp_name
        tmp_stamp = unique_temporary(stamp)
        meta = {"generation": generation, "count": self.size, "kind": self.kind, "high": high}
        tmp_stamp.write_text(json.dumps(meta))
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

    KINDS = ("sq8", "ivf")
    DTYPE = np.int8
    PQ_BYTES = 64

    @staticmethod
    def _exact_index(dim: int) -> faiss.Index:
        quantizer = faiss.ScalarQuantizer.QT_8bit_direct_signed
        return faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, quantizer, faiss.METRIC_INNER_PRODUCT))

    @classmethod
    def _ivf_index(cls, dim: int, lists: int, count: int) -> faiss.Index:
        quantizer = faiss.IndexFlatIP(dim)
        bits = min(8, max(1, int(math.log2(max(count, 2)))))  # 256 centroids a sub-vector, fewer for tiny counts
        return faiss.IndexIVFPQ(quantizer, dim, lists, cls.PQ_BYTES, bits, faiss.METRIC_INNER_PRODUCT)

    def _as_query(self, query: np.ndarray) -> np.ndarray:
        # FAISS's SIMD path for direct 8-bit codes takes the query as codes too (it rounds it to integers), so
        # the exact index gets the query quantized like the sentences, its inner product rescaled by SCALE².
        if self.approximate:
            return np.ascontiguousarray(query, dtype=np.float32)
        return quantize(query).astype(np.float32)

    def _scaled(self, scores: np.ndarray) -> np.ndarray:
        return scores if self.approximate else scores / (SCALE * SCALE)

    def _exact_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return (rows.astype(np.float32) @ quantize(query).astype(np.float32)) / (SCALE * SCALE)

    def _as_added(self, vectors: np.ndarray) -> np.ndarray:
        # The exact index holds the codes as they are; the IVF holds them as vectors on the cosine scale.
        codes = np.ascontiguousarray(vectors, dtype=np.float32)
        return codes / SCALE if self.approximate else codes

    def vectors(self, ids: list[int]) -> np.ndarray:
        return super().vectors(ids) / SCALE


def _selector(allowed: np.ndarray) -> faiss.IDSelector:
    """FAISS's filter for ``allowed`` ids: a bitmap (one bit per id up to the largest) while that takes no more
    memory than a hash set of them would, else the hash set."""
    allowed = np.asarray(allowed, dtype=np.int64)
    top = int(allowed.max()) + 1 if len(allowed) else 1
    if top <= 64 * len(allowed):
        bits = np.zeros(top, dtype=bool)
        bits[allowed] = True
        bitmap = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))  # its size in bytes
        selector.keep = bitmap  # the bitmap must outlive the selector
        return selector
    return faiss.IDSelectorBatch(allowed)


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
