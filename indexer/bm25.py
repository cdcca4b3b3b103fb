"""SQLite FTS5's ``bm25()`` as pure functions, for a backend that finds candidates with another engine's BM25 but
must rank them as the SQLite index does (``indexer.milvus_retrieval``): the fusion weights in
``search_app.fusion`` were calibrated on FTS5's scores.

FTS5 scores a row for each phrase of the query (a stem is a phrase of one word) as
``idf · f·(k1 + 1) / (f + k1·(1 − b + b·D/avgdl))``, where ``f`` is the phrase's count in its column times that
column's weight, ``D`` the row's tokens over all columns, ``avgdl`` the mean of that over the table, and
``idf = log((N − n + 0.5) / (n + 0.5))`` over the ``N`` rows of which ``n`` hold the phrase, 1e-6 when that is
not above 0. (Milvus's own BM25 takes ``log(1 + …)``, so that common words weigh far more there.)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

K1 = 1.2
B = 0.75
STEMMED_WEIGHT = 1.0  # the column weights indexer.retrieval gives bm25(): stemmed words, then the plain ones
NORM_WEIGHT = 0.5


def idf(rows: int, hits: int) -> float:
    value = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows else 0.0
    return value if value > 0.0 else 1e-6


def bm25(frequencies: Sequence[float], idfs: Sequence[float], tokens: int, average: float) -> float:
    """One row's score: ``frequencies`` (weighted counts) and ``idfs`` per phrase, in the query's order."""
    norm = K1 * (1 - B + B * tokens / average) if average else K1
    score = 0.0
    for f, weight in zip(frequencies, idfs, strict=True):  # the operations in FTS5's order, to the same bits
        score += weight * ((f * (K1 + 1.0)) / (f + norm))
    return score


def occurrences(words: Sequence[str], phrase: Sequence[str]) -> int:
    """How many times ``phrase`` occurs in ``words``, word after word (overlapping occurrences count, as FTS5's
    instances do)."""
    n = len(phrase)
    if n == 0:
        return 0
    first = phrase[0]
    return sum(1 for i, w in enumerate(words) if w == first and list(words[i : i + n]) == list(phrase))


def ranked(
    rows: Iterable[tuple[int, str, str]],
    terms: Sequence[str],
    phrases: Sequence[Sequence[str]],
    idfs: Sequence[float],
    average: float,
    n: int,
) -> dict[int, float]:
    """The ``n`` best of ``rows`` (id, stemmed words, normalised words; space-separated) as FTS5 ranks a query of
    ``terms`` (any of them, in the stemmed column) and ``phrases`` (each, in the normalised column): ``{id: bm25}``,
    best first. ``idfs``: one per term, then one per phrase."""
    scored = []
    for row_id, stemmed_words, norm_words in rows:
        stemmed, norm = stemmed_words.split(), norm_words.split()
        counts = Counter(stemmed)
        frequencies = [counts[t] * STEMMED_WEIGHT for t in terms]
        frequencies += [occurrences(norm, p) * NORM_WEIGHT for p in phrases]
        scored.append((-bm25(frequencies, idfs, len(stemmed) + len(norm), average), int(row_id)))
    return {i: -score for score, i in sorted(scored)[:n]}
