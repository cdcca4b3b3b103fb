"""The sentence index: every sentence of every article, with its offsets and a compressed USE vector.

A sentence that translates or quotes a query is diluted inside a 60–160-word passage vector; its own
vector is not. Sentences are cut by the passage splitter's rules (``passages.sentences``), sentences
longer than ``MAX_SENTENCE_WORDS`` words cut at word bounds, and units of fewer than ``MIN_SENTENCE_WORDS``
words (datelines, bylines, stray numbers) left out. Vectors come from USE-multilingual v3, whatever
the passage encoder, and are stored as int8 (``quantize``): 512 bytes a sentence in SQLite and in FAISS
(``IndexScalarQuantizer`` with ``QT_8bit_direct_signed``, exact inner products over the int8 codes).
Cosines of unit USE vectors never have a component above 0.18 on news-dev, so ``SCALE`` maps ±0.25
onto ±127: the int8 inner product is within about 0.002 of the float cosine.
"""

from __future__ import annotations

import numpy as np

from indexer.passages import WORD, sentences

SENTENCE_VERSION = 1  # bump when the rules below change: stored articles get their sentences again
MAX_SENTENCE_WORDS = 64
MIN_SENTENCE_WORDS = 3
SENTENCE_DIM = 512
SCALE = 127 / 0.25


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each indexed sentence of ``text``: long sentences cut, very short ones left out."""
    units: list[tuple[int, int]] = []
    for start, end in sentences(text):
        words = [m.span() for m in WORD.finditer(text, start, end)]
        for i in range(0, len(words), MAX_SENTENCE_WORDS):
            chunk = words[i : i + MAX_SENTENCE_WORDS]
            if len(chunk) >= MIN_SENTENCE_WORDS:
                units.append((chunk[0][0], chunk[-1][1]))
    return units


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Unit float vectors → int8 codes (rows of ``SENTENCE_DIM`` bytes)."""
    return np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * SCALE), -127, 127).astype(np.int8)


def dequantize(codes: np.ndarray) -> np.ndarray:
    """int8 codes → float32 vectors on the cosine scale (inner products ≈ cosines)."""
    return np.asarray(codes, dtype=np.float32) / SCALE


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.int8)
